from keras.src import initializers
from keras.src import layers
from keras.src import testing


class ConvTransposeBasicTest(testing.TestCase):
    def test_bias_initializer_gets_the_kernel_fans(self):
        layer = layers.Conv2DTranspose(
            8, 3, bias_initializer=initializers.HeUniform(seed=1)
        )
        layer.build((1, 9, 9, 4))
        # The fans of the kernel (3, 3, 8, 4), as for the kernel itself.
        self.assertAllClose(
            layer.bias,
            initializers.HeUniform(seed=1)((8,), fan_in=72, fan_out=36),
        )
