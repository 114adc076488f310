import math
import re

import keras
import numpy as np
import pytest

import keras_fans
from keras_fans import testing

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")
FANS = {"fan_in": 16, "fan_out": 64, "fan_avg": 40}


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((), (1, 1)),
        ((7,), (7, 7)),
        ((3, 5), (3, 5)),
        ((2, 3, 4, 5), (24, 30)),
    ],
)
def test_compute_fans_without_context_is_stock(shape, expected):
    assert testing.compute_fans(shape) == expected
    with testing.fans_on():
        in_keras = keras.src.initializers.random_initializers.compute_fans
        assert in_keras(shape) == expected


def test_compute_fans_explicit_axes_unchanged():
    assert testing.compute_fans((2, 3, 4), [0], [1, 2]) == (2, 12)
    assert testing.compute_fans((2, 3, 4), [0, 1], [2]) == (6, 4)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"fan_in": 16}, (16, 7)),
        ({"fan_out": 9}, (7, 9)),
        ({"fan_in": 16, "fan_out": 9}, (16, 9)),
        ({"fan_in": np.int64(16)}, (16, 7)),
        ({"fan_in": 16.0}, (16, 7)),
    ],
)
def test_compute_fans_explicit_fan_wins(kwargs, expected):
    fans = testing.compute_fans((7,), **kwargs)
    assert fans == expected
    assert all(type(fan) is int for fan in fans)


def test_compute_fans_explicit_fan_wins_over_axes():
    assert testing.compute_fans((2, 3), [0], [1], fan_in=5) == (5, 3)


@pytest.mark.parametrize(
    "value, error",
    [
        (0, ValueError),
        (-3, ValueError),
        (2.5, ValueError),
        (math.inf, ValueError),
        (math.nan, ValueError),
        (True, TypeError),
        ("16", TypeError),
        ([16], TypeError),
    ],
)
@pytest.mark.parametrize("name", ["fan_in", "fan_out"])
@testing.runtime_only(
    "keras_fans.compute_fans validates; Keras's trusts layers"
)
def test_compute_fans_rejects_bad_fans(name, value, error):
    with pytest.raises(error, match=re.escape(f"{name}={value!r}")):
        testing.compute_fans((7,), **{name: value})


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("mode", MODES)
def test_variance_scaling_scales_by_given_fans(mode, distribution):
    initializer = keras.initializers.VarianceScaling(
        scale=2.0, mode=mode, distribution=distribution, seed=1
    )
    variance = 2.0 / FANS[mode]
    shape = (4096,)
    stock = initializer(shape)
    with pytest.raises(AssertionError):
        testing.check_variance_scaling_draw(stock, distribution, variance)
    with testing.fans_on():
        drawn = initializer(shape, fan_in=16, fan_out=64)
    testing.check_variance_scaling_draw(drawn, distribution, variance)


@testing.runtime_only("compares patched with unpatched Keras")
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(), (5,), (4, 6), (3, 3, 2, 8)])
def test_variance_scaling_without_context_is_bit_identical(
    shape, mode, distribution
):
    initializer = keras.initializers.VarianceScaling(
        scale=0.7, mode=mode, distribution=distribution, seed=3
    )
    stock = testing.numpy(initializer(shape))
    with keras_fans.patched():
        patched = testing.numpy(initializer(shape))
    np.testing.assert_array_equal(patched, stock)


@pytest.mark.parametrize(
    "name, variance",
    [
        ("glorot_uniform", 2.0 / (16 + 64)),
        ("glorot_normal", 2.0 / (16 + 64)),
        ("he_uniform", 2.0 / 16),
        ("he_normal", 2.0 / 16),
        ("lecun_uniform", 1.0 / 16),
        ("lecun_normal", 1.0 / 16),
    ],
)
def test_subclasses_take_the_fan_context(name, variance):
    initializer = keras.initializers.get(
        {"class_name": name, "config": {"seed": 1}}
    )
    with testing.fans_on():
        drawn = initializer((4096,), fan_in=16, fan_out=64)
    # Stock Keras's draw: fan_in = fan_out = 4096.
    stock = initializer((4096,))
    distribution = initializer.distribution
    testing.check_draw_against(drawn, stock, distribution, variance)


OTHER_RANDOM_INITIALIZERS = pytest.mark.parametrize(
    "initializer, shape",
    [
        (keras.initializers.RandomNormal(seed=1), (6, 5)),
        (keras.initializers.TruncatedNormal(seed=1), (6, 5)),
        (keras.initializers.RandomUniform(seed=1), (6, 5)),
        (keras.initializers.Orthogonal(seed=1), (6, 5)),
    ],
    ids=lambda value: type(value).__name__,
)


@OTHER_RANDOM_INITIALIZERS
def test_other_random_initializers_are_not_handed_fans(initializer, shape):
    # They declare no fan context: called exactly as before.
    with testing.fans_on():
        assert testing.with_fans(initializer, 3, 4) is initializer
        with pytest.raises(TypeError):
            initializer(shape, fan_in=3, fan_out=4)
