from keras.src import initializers
from keras.src import layers
from keras.src import testing


class ConvBasicTest(testing.TestCase):
    def test_bias_initializer_gets_the_kernel_fans(self):
        layer = layers.Conv2D(
            8, 3, groups=2, bias_initializer=initializers.HeUniform(seed=1)
        )
        layer.build((1, 9, 9, 4))
        # The kernel (3, 3, 2, 8): a filter sums 3 * 3 * 2 inputs.
        self.assertAllClose(
            layer.bias,
            initializers.HeUniform(seed=1)((8,), fan_in=18, fan_out=72),
        )
