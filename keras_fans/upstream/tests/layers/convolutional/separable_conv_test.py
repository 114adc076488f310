from keras.src import initializers
from keras.src import layers
from keras.src import testing


class SeparableConvBasicTest(testing.TestCase):
    def test_bias_initializer_gets_the_pointwise_kernel_fans(self):
        layer = layers.SeparableConv2D(
            8,
            3,
            depth_multiplier=2,
            bias_initializer=initializers.HeUniform(seed=1),
        )
        layer.build((1, 9, 9, 4))
        # The pointwise kernel (1, 1, 8, 8) sums 4 * 2 channels.
        self.assertAllClose(
            layer.bias,
            initializers.HeUniform(seed=1)((8,), fan_in=8, fan_out=8),
        )

    def test_depthwise_kernel_gets_one_channel_fans(self):
        layer = layers.SeparableConv2D(
            8,
            3,
            depth_multiplier=2,
            depthwise_initializer=initializers.GlorotUniform(seed=1),
        )
        layer.build((1, 9, 9, 4))
        # Each depthwise output sums one channel's 3 * 3 window.
        self.assertAllClose(
            layer.depthwise_kernel,
            initializers.GlorotUniform(seed=1)(
                (3, 3, 4, 2), fan_in=9, fan_out=18
            ),
        )
