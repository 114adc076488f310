import numpy as np

from keras.src import initializers
from keras.src import layers
from keras.src import ops
from keras.src import testing


class ConvBasicTest(testing.TestCase):
    def test_bias_initializer_gets_the_kernel_fans(self):
        layer = layers.Conv2D(
            4096, 3, groups=2, bias_initializer=initializers.HeUniform(seed=1)
        )
        layer.build((1, 9, 9, 4))
        # The kernel (3, 3, 2, 4096): a filter sums 3 * 3 * 2 inputs.
        bias = np.abs(ops.convert_to_numpy(layer.bias))
        self.assertBetween(bias.max(), 0.55, np.sqrt(6 / 18))
