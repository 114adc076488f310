import os

import numpy as np

from keras.src import initializers
from keras.src import layers
from keras.src import models
from keras.src import saving
from keras.src import ops
from keras.src import testing


class DenseTest(testing.TestCase):
    def test_bias_initializer_gets_the_kernel_fans(self):
        layer = layers.Dense(
            4096, bias_initializer=initializers.HeUniform(seed=1)
        )
        layer.build((2, 16))
        # U(+-sqrt(6 / 16)) by the kernel's fan_in, not U(+-sqrt(6 / 4096)).
        bias = np.abs(ops.convert_to_numpy(layer.bias))
        self.assertBetween(bias.max(), 0.6, np.sqrt(6 / 16))

    def test_bias_initializer_forms(self):
        # `None` falls back to `add_weight`'s default; an initializer that
        # does not declare `fan_in` and `fan_out` is called as before.
        layers.Dense(8, bias_initializer=None).build((2, 4))
        calls = []

        def plain(shape, dtype=None):
            calls.append(shape)
            return np.ones(shape)

        layer = layers.Dense(8, bias_initializer=plain)
        layer.build((2, 4))
        self.assertEqual(calls, [(8,)])
        self.assertAllClose(layer.bias, np.ones(8))

    def test_bias_values_survive_saving(self):
        model = models.Sequential(
            [
                layers.Input((16,)),
                layers.Dense(64, bias_initializer="he_uniform"),
            ]
        )
        path = os.path.join(self.get_temp_dir(), "model.keras")
        model.save(path)
        loaded = saving.load_model(path)
        self.assertEqual(
            loaded.layers[0].get_config(), model.layers[0].get_config()
        )
        self.assertAllClose(loaded.layers[0].bias, model.layers[0].bias)
