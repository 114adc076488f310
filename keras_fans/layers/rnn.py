"""Bias fans of the recurrent cells.

Upstream files: none. The series leaves recurrent cells out
(`keras_fans.upstream.series.LEFT_OUT`): this rule is the runtime patch's.

A gate unit sums the step's inputs and the previous state, so
fan_in = input width + units (for ConvLSTM, times the kernel window);
fan_out follows the cell's input kernel `(in, gates * units)`.
"""

import math

from keras.src import initializers
from keras.src import ops
from keras.src.layers.rnn.conv_lstm import ConvLSTMCell
from keras.src.layers.rnn.gru import GRUCell
from keras.src.layers.rnn.lstm import LSTMCell
from keras.src.layers.rnn.simple_rnn import SimpleRNNCell

from keras_fans.initializers.fan_context import with_fans
from keras_fans.layers.convolutional import _in_channels
from keras_fans.layers.weight_fans import FanRule


def _cell_fans(layer, input_shape, gates):
    return input_shape[-1] + layer.units, gates * layer.units


def _simple_rnn_bias_fans(layer, input_shape):
    return _cell_fans(layer, input_shape, gates=1)


def _gru_bias_fans(layer, input_shape):
    """Both rows of a `reset_after` bias `(2, 3 * units)` feed the gates."""
    return _cell_fans(layer, input_shape, gates=3)


def _lstm_bias_fans(layer, input_shape):
    return _cell_fans(layer, input_shape, gates=4)


def _conv_lstm_bias_fans(layer, input_shape):
    """fan_in = prod(kernel_size) * (in + filters),
    fan_out = prod(kernel_size) * 4 * filters."""
    window = math.prod(layer.kernel_size)
    fan_in = window * (_in_channels(layer, input_shape) + layer.filters)
    return fan_in, window * 4 * layer.filters


def _forget_bias_with_fans(units_attribute):
    """`FanRule.apply` for the LSTM cells' `unit_forget_bias`.

    With it, Keras's `build` passes a closure that fills the bias with the
    user's initializer for the input gate, ones for the forget gate and the
    user's initializer for the cell and output gates. Ours fills the same,
    handing the fans to the user's initializer only; if that one does not
    accept them, Keras's closure is used unchanged.
    """

    def apply(layer, initializer, fans):
        if not layer.unit_forget_bias:
            return with_fans(initializer, *fans)
        user = with_fans(layer.bias_initializer, *fans)
        if user is layer.bias_initializer:
            return initializer
        n = getattr(layer, units_attribute)

        def bias_initializer(shape, dtype=None):
            ones = initializers.get("ones")
            return ops.concatenate(
                [
                    user((n,), dtype=dtype),
                    ones((n,), dtype=dtype),
                    user((2 * n,), dtype=dtype),
                ]
            )

        return bias_initializer

    return apply


RULES = (
    FanRule(SimpleRNNCell, "bias", _simple_rnn_bias_fans),
    FanRule(GRUCell, "bias", _gru_bias_fans),
    FanRule(LSTMCell, "bias", _lstm_bias_fans, _forget_bias_with_fans("units")),
    FanRule(
        ConvLSTMCell,
        "bias",
        _conv_lstm_bias_fans,
        _forget_bias_with_fans("filters"),
    ),
)
