import numpy as np

from keras.src import initializers
from keras.src import layers
from keras.src import ops
from keras.src import testing


class EinsumDenseTest(testing.TestCase):
    def test_bias_initializer_gets_the_kernel_fans(self):
        layer = layers.EinsumDense(
            "abc,cde->abde",
            (3, 64, 64),
            bias_axes="de",
            bias_initializer=initializers.HeUniform(seed=1),
        )
        layer.build((2, 3, 16))
        # The kernel (16, 64, 64) sums c = 16 inputs into each (d, e) unit.
        bias = np.abs(ops.convert_to_numpy(layer.bias))
        self.assertBetween(bias.max(), 0.6, np.sqrt(6 / 16))
