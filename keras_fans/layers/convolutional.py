"""Bias fans of the convolutional layers.

Upstream file: `keras/src/layers/convolutional/base_conv.py` (the bias
`add_weight` in `build`).
"""

from keras.src.layers.convolutional.base_conv import BaseConv

from keras_fans.initializers.random_initializers import compute_fans


def _conv_bias_fans(layer, input_shape):
    """The fans of one filter of the kernel `(*kernel_size, in / groups, out)`.

    fan_in = prod(kernel_size) * in_channels / groups,
    fan_out = prod(kernel_size) * filters.
    """
    channel_axis = -1 if layer.data_format == "channels_last" else 1
    in_channels = input_shape[channel_axis] // layer.groups
    return compute_fans((*layer.kernel_size, in_channels, layer.filters))


RULES = ((BaseConv, "bias", _conv_bias_fans),)
