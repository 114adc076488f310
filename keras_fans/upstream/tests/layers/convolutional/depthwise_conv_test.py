import numpy as np

from keras.src import initializers
from keras.src import layers
from keras.src import ops
from keras.src import testing


class DepthwiseConvBasicTest(testing.TestCase):
    def test_kernel_and_bias_get_one_channel_fans(self):
        layer = layers.DepthwiseConv2D(
            3,
            depthwise_initializer=initializers.GlorotUniform(seed=1),
            bias_initializer=initializers.HeUniform(seed=2),
        )
        layer.build((1, 9, 9, 64))
        # Each output channel sums one input channel's 3 * 3 window: the
        # kernel U(+-sqrt(6 / (9 + 9))), the bias U(+-sqrt(6 / 9)); stock
        # takes 9 * 64 inputs.
        kernel = np.abs(ops.convert_to_numpy(layer.kernel))
        self.assertBetween(kernel.max(), 0.55, np.sqrt(6 / 18))
        bias = np.abs(ops.convert_to_numpy(layer.bias))
        self.assertBetween(bias.max(), 0.6, np.sqrt(6 / 9))
