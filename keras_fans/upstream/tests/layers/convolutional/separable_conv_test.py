import numpy as np

from keras.src import initializers
from keras.src import layers
from keras.src import ops
from keras.src import testing


class SeparableConvBasicTest(testing.TestCase):
    def test_bias_initializer_gets_the_pointwise_kernel_fans(self):
        layer = layers.SeparableConv2D(
            4096,
            3,
            depth_multiplier=2,
            bias_initializer=initializers.HeUniform(seed=1),
        )
        layer.build((1, 9, 9, 4))
        # The pointwise kernel (1, 1, 8, 4096) sums 4 * 2 channels.
        bias = np.abs(ops.convert_to_numpy(layer.bias))
        self.assertBetween(bias.max(), 0.8, np.sqrt(6 / 8))

    def test_depthwise_kernel_gets_one_channel_fans(self):
        layer = layers.SeparableConv2D(
            8, 3, depthwise_initializer=initializers.GlorotUniform(seed=1)
        )
        layer.build((1, 9, 9, 64))
        # Each depthwise output sums one channel's 3 * 3 window:
        # U(+-sqrt(6 / (9 + 9))), not U(+-sqrt(6 / (9 * 64 + 9))).
        kernel = np.abs(ops.convert_to_numpy(layer.depthwise_kernel))
        self.assertBetween(kernel.max(), 0.55, np.sqrt(6 / 18))
