import keras
import numpy as np
import pytest

import keras_fans
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
        # No fan context: the series leaves transposed convolutions out
        # (`keras_fans.upstream.series.LEFT_OUT`), and so does `patch()`.
        (
            keras.layers.Conv1DTranspose,
            {"filters": 6, "kernel_size": 3},
            (1, 9, 4),
            [((6,), None, None)],
        ),
        (
            keras.layers.Conv2DTranspose,
            {
                "filters": 4,
                "kernel_size": (2, 3),
                "data_format": "channels_first",
            },
            (1, 5, 6, 6),
            [((4,), None, None)],
        ),
        (
            keras.layers.Conv3DTranspose,
            {"filters": 2, "kernel_size": 2, "strides": 2},
            (1, 3, 3, 3, 3),
            [((2,), None, None)],
        ),
        # One channel's filter: (prod(k), prod(k) * depth_multiplier), for
        # the depthwise kernel and the bias alike.
        (
            keras.layers.DepthwiseConv2D,
            {
                "kernel_size": 3,
                "depth_multiplier": 2,
                "depthwise_initializer": testing.FanRecorder(),
            },
            (1, 5, 5, 4),
            [((3, 3, 4, 2), 9, 18), ((8,), 9, 18)],
        ),
        (
            keras.layers.DepthwiseConv1D,
            {"kernel_size": 5},
            (1, 9, 3),
            [((3,), 5, 5)],
        ),
        # The bias follows the pointwise kernel (in * multiplier, filters);
        # the pointwise kernel's own shape already gives its fans.
        (
            keras.layers.SeparableConv2D,
            {
                "filters": 6,
                "kernel_size": 3,
                "depth_multiplier": 2,
                "depthwise_initializer": testing.FanRecorder(),
            },
            (1, 5, 5, 4),
            [((3, 3, 4, 2), 9, 18), ((6,), 8, 6)],
        ),
        (
            keras.layers.SeparableConv1D,
            {
                "filters": 6,
                "kernel_size": 3,
                "pointwise_initializer": testing.FanRecorder(),
            },
            (1, 9, 4),
            [((1, 4, 6), None, None), ((6,), 4, 6)],
        ),
    ],
    ids=lambda value: getattr(value, "__name__", None),
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


def wide_depthwise_kernel(wrap=lambda initializer: initializer):
    layer = keras.layers.DepthwiseConv2D(
        3, depthwise_initializer=wrap(keras.initializers.GlorotUniform(seed=5))
    )
    layer.build((1, 5, 5, 4096))
    return testing.numpy(layer.kernel)


@testing.runtime_only("depthwise_kernels=False is an option of patch()")
def test_depthwise_kernels_can_stay_stock():
    def make_layer():
        return keras.layers.DepthwiseConv2D(
            3,
            depthwise_initializer=testing.FanRecorder(),
            bias_initializer=testing.FanRecorder(),
        )

    testing.FanRecorder.recorded()
    stock = wide_depthwise_kernel()
    with keras_fans.patched(depthwise_kernels=False):
        make_layer().build((1, 5, 5, 4))
        np.testing.assert_array_equal(wide_depthwise_kernel(), stock)
    assert testing.FanRecorder.recorded() == [
        ((3, 3, 4, 1), None, None),
        ((4,), 9, 9),
    ]


def test_depthwise_kernel_is_drawn_with_one_channels_fans():
    # Glorot: variance 2 / (fan_in + fan_out) = 2 / (9 + 9), not the stock
    # 2 / (9 * 4096 + 9).
    variance = 2 / 18
    stock = wide_depthwise_kernel(testing.hide_fans)
    with pytest.raises(AssertionError):
        testing.check_variance_scaling_draw(stock, "uniform", variance)
    with testing.fans_on():
        fixed = wide_depthwise_kernel()
    testing.check_variance_scaling_draw(fixed, "uniform", variance)


# Wide layers whose bias size differs from their fan_in: the bias must be
# U(+-1/sqrt(fan_in)) under VarianceScaling(1/3, "fan_in", "uniform");
# stock Keras draws U(+-1/sqrt(bias size)).
WIDE = {
    "DepthwiseConv2D": (
        lambda init: keras.layers.DepthwiseConv2D(
            3, depth_multiplier=64, bias_initializer=init
        ),
        (1, 4, 4, 32),
        (9, 9 * 64),
    ),
    "SeparableConv2D": (
        lambda init: keras.layers.SeparableConv2D(
            2048, 3, depth_multiplier=2, bias_initializer=init
        ),
        (1, 4, 4, 8),
        (16, 2048),
    ),
}


@pytest.mark.parametrize("name", WIDE)
def test_wide_bias_bound_is_one_over_sqrt_fan_in(name):
    make_layer, input_shape, fans = WIDE[name]
    testing.check_bias_fans(make_layer, [input_shape], fans, scale=1 / 3)
