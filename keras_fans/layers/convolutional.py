"""Bias fans of the convolutional layers, and the depthwise kernels' fans.

Upstream files: `keras/src/layers/convolutional/base_conv.py`,
`base_depthwise_conv.py` and `base_separable_conv.py` (the `add_weight`
calls in `build`). Transposed convolutions keep stock fans, as the series
leaves them (`keras_fans.upstream.series.LEFT_OUT`).
"""

import math

from keras.src.layers.convolutional.base_conv import BaseConv
from keras.src.layers.convolutional.base_depthwise_conv import BaseDepthwiseConv
from keras.src.layers.convolutional.base_separable_conv import BaseSeparableConv

from keras_fans.initializers.random_initializers import compute_fans
from keras_fans.layers.weight_fans import FanRule


def _in_channels(layer, input_shape):
    channel_axis = -1 if layer.data_format == "channels_last" else 1
    return input_shape[channel_axis]


def _conv_bias_fans(layer, input_shape):
    """The fans of one filter of the kernel `(*kernel_size, in / groups, out)`.

    fan_in = prod(kernel_size) * in_channels / groups,
    fan_out = prod(kernel_size) * filters.
    """
    in_channels = _in_channels(layer, input_shape) // layer.groups
    return compute_fans((*layer.kernel_size, in_channels, layer.filters))


def _depthwise_fans(layer, input_shape):
    """The fans of one channel's filter, for its kernel and its bias.

    fan_in = prod(kernel_size): each output channel sums one input
    channel's window; fan_out = prod(kernel_size) * depth_multiplier.
    Stock Keras reads the kernel `(*kernel_size, in, multiplier)` as a conv
    kernel and takes fan_in = prod(kernel_size) * in (keras-team/keras#11773).
    """
    window = math.prod(layer.kernel_size)
    return window, window * layer.depth_multiplier


def _separable_bias_fans(layer, input_shape):
    """The fans of the pointwise kernel `(1, ..., in * multiplier, filters)`."""
    depthwise_channels = (
        _in_channels(layer, input_shape) * layer.depth_multiplier
    )
    return depthwise_channels, layer.filters


RULES = (
    FanRule(BaseConv, "bias", _conv_bias_fans),
    FanRule(BaseDepthwiseConv, "bias", _depthwise_fans),
    FanRule(BaseSeparableConv, "bias", _separable_bias_fans),
)

# On by default; `patch(depthwise_kernels=False)` leaves them stock.
DEPTHWISE_KERNEL_RULES = (
    FanRule(
        BaseDepthwiseConv,
        "kernel",
        _depthwise_fans,
        initializer_attribute="depthwise_initializer",
    ),
    FanRule(
        BaseSeparableConv,
        "depthwise_kernel",
        _depthwise_fans,
        initializer_attribute="depthwise_initializer",
    ),
)
