import keras
import pytest

from keras_fans import testing


@pytest.mark.parametrize(
    "layer_class, kwargs, input_shape, expected",
    [
        (
            keras.layers.Conv1D,
            {"filters": 8, "kernel_size": 3},
            (1, 9, 4),
            [((8,), 12, 24)],
        ),
        (
            keras.layers.Conv2D,
            {"filters": 6, "kernel_size": (3, 2), "groups": 2},
            (1, 9, 9, 4),
            [((6,), 12, 36)],
        ),
        (
            keras.layers.Conv3D,
            {"filters": 4, "kernel_size": 2, "data_format": "channels_first"},
            (1, 3, 5, 5, 5),
            [((4,), 24, 32)],
        ),
    ],
    ids=["Conv1D", "Conv2D-groups", "Conv3D-channels_first"],
)
def test_conv_bias_fans(layer_class, kwargs, input_shape, expected):
    def make_layer():
        return layer_class(bias_initializer=testing.FanRecorder(), **kwargs)

    assert testing.recorded_fans(make_layer, input_shape) == expected


def wide_conv2d(bias_initializer):
    return keras.layers.Conv2D(
        2048, 3, groups=2, bias_initializer=bias_initializer
    )


@pytest.mark.parametrize(
    "distribution", ["uniform", "truncated_normal", "untruncated_normal"]
)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_wide_conv_bias_is_drawn_with_layer_fans(mode, distribution):
    # fan_in = 3 * 3 * 16 / 2 inputs per filter; fan_out = 3 * 3 * 2048.
    testing.check_bias_fans(
        wide_conv2d, [(1, 5, 5, 16)], (72, 18432), mode, distribution
    )
