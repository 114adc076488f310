import keras
import numpy as np
import pytest

from keras_fans import testing


def test_dense_bias_fans():
    def make_layer():
        return keras.layers.Dense(8, bias_initializer=testing.FanRecorder())

    assert testing.recorded_fans(make_layer, (None, 16)) == [((8,), 16, 8)]


@pytest.mark.parametrize(
    "equation, output_shape, bias_axes, input_shape, expected",
    [
        ("ab,bc->ac", 8, "c", (None, 16), [((8,), 16, 8)]),
        ("...b,bc->...c", 8, "c", (None, 3, 16), [((8,), 16, 8)]),
        # MultiHeadAttention's query projection: a 2-D bias (heads, key_dim).
        ("abc,cde->abde", (None, 4, 6), "de", (2, 5, 16), [((4, 6), 16, 24)]),
        # Its output projection: two input axes summed into each unit.
        ("abcd,cde->abe", (None, 16), "e", (2, 5, 4, 6), [((16,), 24, 16)]),
        # A kernel letter in the input and the output is an output axis.
        ("abc,bcd->abd", (3, 8), "d", (None, 3, 16), [((8,), 16, 24)]),
    ],
)
def test_einsum_dense_bias_fans(
    equation, output_shape, bias_axes, input_shape, expected
):
    def make_layer():
        return keras.layers.EinsumDense(
            equation,
            output_shape,
            bias_axes=bias_axes,
            bias_initializer=testing.FanRecorder(),
        )

    assert testing.recorded_fans(make_layer, input_shape) == expected


@pytest.mark.skipif(
    keras.version().startswith(("3.5.", "3.6.")),
    reason="Keras 3.5 and 3.6 refuse a query and a value of different "
    "widths (a Keras bug of those releases)",
)
def test_multi_head_attention_bias_fans():
    def make_layer():
        return keras.layers.MultiHeadAttention(
            num_heads=2, key_dim=3, bias_initializer=testing.FanRecorder()
        )

    # query, key and value projections, then the output projection.
    assert testing.recorded_fans(make_layer, (1, 4, 5), (1, 6, 7)) == [
        ((2, 3), 5, 6),
        ((2, 3), 7, 6),
        ((5,), 6, 5),
    ]


def test_grouped_query_attention_bias_fans():
    def make_layer():
        return keras.layers.GroupQueryAttention(
            head_dim=3,
            num_query_heads=4,
            num_key_value_heads=2,
            bias_initializer=testing.FanRecorder(),
        )

    # key and value (2 heads), query (4 heads), then the output projection.
    assert testing.recorded_fans(make_layer, (1, 4, 5), (1, 6, 5)) == [
        ((2, 3), 5, 6),
        ((4, 3), 5, 12),
        ((5,), 12, 5),
    ]


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda **kwargs: keras.layers.MultiHeadAttention(2, 8, **kwargs),
        lambda **kwargs: keras.layers.GroupQueryAttention(8, 4, 2, **kwargs),
    ],
    ids=["MultiHeadAttention", "GroupedQueryAttention"],
)
def test_attention_clones_keep_their_seeds(make_layer):
    """The sublayers' initializers are clones that keep the seed: a seeded
    attention layer draws the same weights twice, and its kernels are
    stock. (Whether the biases get their fans is for the wide attention
    test below: 16 query bias entries cannot tell fan_in 16 from 32.)"""

    def weights(wrap=lambda initializer: initializer):
        layer = make_layer(
            kernel_initializer=wrap(keras.initializers.GlorotUniform(seed=1)),
            bias_initializer=wrap(keras.initializers.HeUniform(seed=2)),
        )
        layer.build((1, 4, 16), (1, 4, 16))
        return {
            w.path.split("/", 1)[1]: testing.numpy(w) for w in layer.weights
        }

    stock = weights(testing.hide_fans)
    with testing.fans_on():
        first, second = weights(), weights()
    assert first.keys() == stock.keys()
    for path in first:
        np.testing.assert_array_equal(first[path], second[path])
        if path.endswith("kernel"):
            np.testing.assert_array_equal(first[path], stock[path])


DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")


def wide_dense(bias_initializer):
    return keras.layers.Dense(4096, bias_initializer=bias_initializer)


def wide_einsum_dense(bias_initializer):
    return keras.layers.EinsumDense(
        "abc,cde->abde",
        (None, 64, 64),
        bias_axes="de",
        bias_initializer=bias_initializer,
    )


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
# Stock Keras already uses fan_out = units for a Dense bias.
@pytest.mark.parametrize("mode", ["fan_in", "fan_avg"])
def test_wide_dense_bias_is_drawn_with_layer_fans(mode, distribution):
    testing.check_bias_fans(
        wide_dense, [(None, 16)], (16, 4096), mode, distribution
    )


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_wide_einsum_dense_bias_is_drawn_with_layer_fans(mode, distribution):
    testing.check_bias_fans(
        wide_einsum_dense, [(1, 2, 16)], (16, 4096), mode, distribution
    )


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda init: keras.layers.MultiHeadAttention(
            64, 64, bias_initializer=init
        ),
        lambda init: keras.layers.GroupQueryAttention(
            64, 64, 8, bias_initializer=init
        ),
    ],
    ids=["MultiHeadAttention", "GroupQueryAttention"],
)
def test_wide_attention_query_bias_bound_is_one_over_sqrt_fan_in(make_layer):
    # The query projection's bias (64 heads, 64) is fed by the 16 features.
    testing.check_bias_fans(
        make_layer,
        [(1, 2, 16), (1, 2, 16)],
        (16, 64 * 64),
        scale=1 / 3,
        get_bias=lambda layer: layer._query_dense.bias,
    )
