import keras
import numpy as np
import pytest

from keras_fans import testing


@pytest.mark.parametrize(
    "layer_class, kwargs, input_shape, expected",
    [
        # fan_in = input width + units; fan_out = gates * units.
        (keras.layers.SimpleRNN, {"units": 5}, (1, 3, 4), [((5,), 9, 5)]),
        (keras.layers.GRU, {"units": 5}, (1, 3, 4), [((2, 15), 9, 15)]),
        (
            keras.layers.GRU,
            {"units": 5, "reset_after": False},
            (1, 3, 4),
            [((15,), 9, 15)],
        ),
        # unit_forget_bias (the default): the user's initializer fills the
        # input gate (5,) and the cell and output gates (10,).
        (
            keras.layers.LSTM,
            {"units": 5},
            (1, 3, 4),
            [((5,), 9, 20), ((10,), 9, 20)],
        ),
        (
            keras.layers.LSTM,
            {"units": 5, "unit_forget_bias": False},
            (1, 3, 4),
            [((20,), 9, 20)],
        ),
        # prod(kernel_size) * (in + filters), prod(kernel_size) * 4 * filters.
        (
            keras.layers.ConvLSTM2D,
            {"filters": 5, "kernel_size": 3},
            (1, 2, 6, 6, 4),
            [((5,), 81, 180), ((10,), 81, 180)],
        ),
        (
            keras.layers.ConvLSTM1D,
            {
                "filters": 2,
                "kernel_size": 3,
                "data_format": "channels_first",
                "unit_forget_bias": False,
            },
            (1, 2, 4, 6),
            [((8,), 18, 24)],
        ),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_recurrent_bias_fans(layer_class, kwargs, input_shape, expected):
    def make_layer():
        return layer_class(bias_initializer=testing.FanRecorder(), **kwargs)

    testing.FanRecorder.recorded()
    with testing.fans_on():
        make_layer()(keras.Input(batch_shape=input_shape))
    assert testing.FanRecorder.recorded() == expected


def cell_bias(layer):
    return layer.cell.bias


def lstm_gates_but_forget(layer):
    bias = testing.numpy(layer.cell.bias)
    units = len(bias) // 4
    np.testing.assert_array_equal(bias[units : 2 * units], 1.0)
    return np.concatenate([bias[:units], bias[2 * units :]])


# Wide recurrent layers whose input is much wider than their units, so
# that fan_in = input + units differs from the stock bias length.
WIDE = {
    "SimpleRNN": (keras.layers.SimpleRNN, {"units": 256}, 4096, cell_bias),
    "GRU": (keras.layers.GRU, {"units": 256}, 4096, cell_bias),
    "GRU-reset_after=False": (
        keras.layers.GRU,
        {"units": 256, "reset_after": False},
        4096,
        cell_bias,
    ),
    "LSTM": (
        keras.layers.LSTM,
        {"units": 256},
        4096,
        lstm_gates_but_forget,
    ),
    "LSTM-unit_forget_bias=False": (
        keras.layers.LSTM,
        {"units": 256, "unit_forget_bias": False},
        4096,
        cell_bias,
    ),
}


@pytest.mark.parametrize("name", WIDE)
def test_wide_bias_bound_is_one_over_sqrt_fan_in(name):
    layer_class, kwargs, input_width, get_bias = WIDE[name]

    def make_layer(bias_initializer):
        return layer_class(bias_initializer=bias_initializer, **kwargs)

    testing.check_bias_fans(
        make_layer,
        [(1, 2, input_width)],
        (input_width + 256, None),
        scale=1 / 3,
        get_bias=get_bias,
    )


def test_wide_conv_lstm_bias_bound_is_one_over_sqrt_fan_in():
    def make_layer(bias_initializer):
        return keras.layers.ConvLSTM2D(64, 3, bias_initializer=bias_initializer)

    testing.check_bias_fans(
        make_layer,
        [(1, 2, 4, 4, 512)],
        (9 * (512 + 64), None),
        scale=1 / 3,
        get_bias=lstm_gates_but_forget,
    )


def test_forget_bias_closure_is_kept_for_plain_initializers():
    def plain(shape, dtype=None):
        return keras.ops.zeros(shape, dtype=dtype)

    with testing.fans_on():
        layer = keras.layers.LSTM(3, bias_initializer=plain)
        layer.build((1, 2, 4))
    bias = testing.numpy(layer.cell.bias)
    np.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1] + [0] * 6)
