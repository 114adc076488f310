from keras.src import initializers
from keras.src import layers
from keras.src import testing


class DepthwiseConvBasicTest(testing.TestCase):
    def test_kernel_and_bias_get_one_channel_fans(self):
        layer = layers.DepthwiseConv2D(
            3,
            depth_multiplier=2,
            depthwise_initializer=initializers.GlorotUniform(seed=1),
            bias_initializer=initializers.HeUniform(seed=2),
        )
        layer.build((1, 9, 9, 4))
        # Each output channel sums one input channel's 3 * 3 window.
        self.assertAllClose(
            layer.kernel,
            initializers.GlorotUniform(seed=1)(
                (3, 3, 4, 2), fan_in=9, fan_out=18
            ),
        )
        self.assertAllClose(
            layer.bias,
            initializers.HeUniform(seed=2)((8,), fan_in=9, fan_out=18),
        )
