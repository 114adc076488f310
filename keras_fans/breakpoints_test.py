import itertools

import keras
import numpy as np
import pytest
from scipy import stats

import keras_fans
from keras_fans import breakpoints
from keras_fans import testing


def dense(inputs, units, seed=0):
    """A built Dense layer with PyTorch's default kernel and bias."""
    init = keras.initializers.VarianceScaling(
        1 / 3, "fan_in", "uniform", seed=seed
    )
    layer = keras.layers.Dense(
        units,
        kernel_initializer=init,
        bias_initializer=keras.initializers.RandomUniform(
            -(inputs**-0.5), inputs**-0.5, seed=seed + 1
        ),
    )
    layer.build((None, inputs))
    return layer


def crossing(layer, low, high):
    """Per unit: whether w . x + b takes the value 0 somewhere in the box,
    i.e. its minimum over the box is <= 0 <= its maximum (up to float32
    rounding of the bias)."""
    kernel, bias = testing.numpy(layer.kernel), testing.numpy(layer.bias)
    low = np.broadcast_to(low, kernel.shape[:1])[:, None]
    high = np.broadcast_to(high, kernel.shape[:1])[:, None]
    lowest = np.sum(np.minimum(kernel * low, kernel * high), axis=0) + bias
    highest = np.sum(np.maximum(kernel * low, kernel * high), axis=0) + bias
    slack = 1e-6 * (1 + np.abs(bias))
    return (lowest <= slack) & (highest >= -slack)


@pytest.mark.parametrize(
    "inputs, low, high",
    [
        (1, -1.0, 1.0),
        (1, 0.0, 1.0),
        (1, 3.0, 3.5),
        (3, [-2.0, 0.0, 3.0], [-1.0, 5.0, 4.0]),
        (16, 0.0, 0.1),
    ],
)
def test_every_hyperplane_meets_the_region(inputs, low, high):
    layer = dense(inputs, 512)
    # PyTorch's default bias leaves hyperplanes outside these regions.
    assert not np.all(crossing(layer, low, high))
    keras_fans.spread_breakpoints(layer, low, high, seed=5)
    assert np.all(crossing(layer, low, high))


def check_breakpoints_uniform(layer, low, high):
    """The breakpoints -b/w of a one-input layer are uniform in [low, high]
    (KS test at testing.ALPHA)."""
    points = -testing.numpy(layer.bias) / testing.numpy(layer.kernel)[0]
    region = stats.uniform(loc=low, scale=high - low)
    p_value = stats.kstest(points, region.cdf).pvalue
    assert p_value > testing.ALPHA, f"KS p={p_value:.2g}"


@pytest.mark.parametrize("low, high", [(-1.0, 1.0), (0.0, 1.0)])
def test_one_dimensional_breakpoints_are_uniform_in_the_region(low, high):
    layer = dense(1, 4096)
    # PyTorch's default breakpoints are not uniform in the region.
    with pytest.raises(AssertionError):
        check_breakpoints_uniform(layer, low, high)
    keras_fans.spread_breakpoints(layer, low, high, seed=5)
    check_breakpoints_uniform(layer, low, high)


def test_reproducible_with_a_seed():
    def spread(seed):
        # Not kernel seed 0: Keras 3.0 and 3.1 take an initializer's seed 0
        # for no seed.
        layer = dense(2, 64, seed=1)
        keras_fans.spread_breakpoints(layer, [-1.0, 0.0], 1.0, seed=seed)
        return testing.numpy(layer.bias)

    np.testing.assert_array_equal(spread(3), spread(3))
    assert not np.any(spread(3) == spread(4))


def test_other_weights_untouched():
    inputs = keras.Input((2,))
    first, second = dense(2, 32, seed=0), dense(32, 1, seed=2)
    model = keras.Model(inputs, second(first(inputs)))
    before = [testing.numpy(w) for w in model.weights]
    keras_fans.spread_breakpoints(first, -1.0, 1.0, seed=1)
    after = [testing.numpy(w) for w in model.weights]
    assert [w.path for w in model.weights][1] == first.bias.path
    assert len(after) == 4
    for i in (0, 2, 3):
        np.testing.assert_array_equal(after[i], before[i])
    assert not np.any(after[1] == before[1])


def test_input_box_from_a_sample():
    sample = np.array([[0.5, -2.0], [1.5, 3.0], [1.0, 0.0]])
    low, high = breakpoints.input_box(sample)
    np.testing.assert_array_equal(low, [0.5, -2.0])
    np.testing.assert_array_equal(high, [1.5, 3.0])
    layer = dense(2, 256)
    keras_fans.spread_breakpoints(layer, low, high, seed=1)
    assert np.all(crossing(layer, low, high))


def test_input_box_rejects_a_bad_sample():
    with pytest.raises(ValueError, match=r"`inputs`.*shape \(0, 2\)"):
        breakpoints.input_box(np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"`inputs`.*shape \(3,\)"):
        breakpoints.input_box(np.zeros(3))


def zero_column_layer():
    layer = dense(3, 4)
    kernel = testing.numpy(layer.kernel)
    kernel[:, 2] = 0.0
    layer.kernel.assign(kernel)
    return layer


def unbuilt_layer():
    return keras.layers.Dense(4, name="unbuilt")


def biasless_layer():
    layer = keras.layers.Dense(4, use_bias=False, name="biasless")
    layer.build((None, 3))
    return layer


# Bad input that both functions refuse alike: (make_layer, low, high,
# error, message).
BAD_INPUT = [
    (lambda: dense(3, 4), 1.0, 1.0, ValueError, r"`high`.*low=1.0"),
    (lambda: dense(3, 4), 1.0, 0.0, ValueError, r"`high`.*high=0.0"),
    (lambda: dense(3, 4), [0.0, 0.0], 1.0, ValueError, r"`low`.*\(3\)"),
    (unbuilt_layer, 0.0, 1.0, ValueError, r"`layer`.*'unbuilt'"),
    (biasless_layer, 0.0, 1.0, ValueError, r"`layer`.*'biasless'"),
    (
        lambda: keras.layers.Conv1D(2, 3),
        0.0,
        1.0,
        TypeError,
        r"`layer`.*Conv1D",
    ),
]
SPREAD_BAD_INPUT = [
    (zero_column_layer, 0.0, 1.0, ValueError, r"`layer`.*units \[2\]"),
    (
        lambda: dense(3, 4),
        [0.0, 0.0, 2.0],
        [1.0, 1.0, 1.5],
        ValueError,
        r"dimension 2, low=2.0 and high=1.5",
    ),
    (lambda: dense(3, 4), 0.0, [[1.0]], ValueError, r"`high`.*\[\[1.0\]"),
    (lambda: dense(3, 4), 0.0, np.inf, ValueError, r"`high`.*finite"),
    (lambda: dense(3, 4), -1e308, 1e308, ValueError, r"too wide"),
    (lambda: dense(3, 4), 1e300, 2e300, ValueError, r"bias.*float32"),
]
BOX_BAD_INPUT = [
    (lambda: dense(3, 4), -np.inf, 0.0, ValueError, r"`low`.*finite"),
    (lambda: dense(3, 4), 0.0, np.nan, ValueError, r"`high`.*finite"),
    (
        lambda: dense(3, 4),
        -1e308,
        1e308,
        ValueError,
        r"too wide.*low=-1e\+308 and high=1e\+308",
    ),
    (
        lambda: dense(3, 4),
        0.0,
        1e-300,
        ValueError,
        r"kernel.*overflows float32.*high=1e-300",
    ),
]


@pytest.mark.parametrize(
    "rewrite, make_layer, low, high, error, message",
    [
        (keras_fans.spread_breakpoints, *case)
        for case in BAD_INPUT + SPREAD_BAD_INPUT
    ]
    + [(keras_fans.box_init, *case) for case in BAD_INPUT + BOX_BAD_INPUT],
)
def test_bad_input_names_the_argument(
    rewrite, make_layer, low, high, error, message
):
    layer = make_layer()
    before = [testing.numpy(w) for w in layer.weights]
    with pytest.raises(error, match=message):
        rewrite(layer, low, high, seed=1)
    for weight, value in zip(layer.weights, before, strict=True):
        np.testing.assert_array_equal(testing.numpy(weight), value)


def preactivation_range(layer, low, high):
    """Per unit: the least and the greatest of w . x + b over the box's
    corners (a linear function's extremes over a box are at corners)."""
    kernel, bias = testing.numpy(layer.kernel), testing.numpy(layer.bias)
    low = np.broadcast_to(low, kernel.shape[:1])
    high = np.broadcast_to(high, kernel.shape[:1])
    corners = np.array(list(itertools.product(*zip(low, high))))
    values = corners @ kernel + bias
    return values.min(axis=0), values.max(axis=0)


BOXES = [
    (1, -1.0, 1.0),
    (1, 0.0, 1.0),
    (1, 3.0, 3.5),
    (2, [0.0, -1.0], [1.0, 1.0]),
    (3, [-2.0, 0.0, 3.0], [-1.0, 5.0, 4.0]),
    (5, 0.0, 0.1),
]


@pytest.mark.parametrize("inputs, low, high", BOXES)
def test_box_init_every_hyperplane_meets_the_box(inputs, low, high):
    layer = dense(inputs, 512)
    # PyTorch's default leaves hyperplanes outside these boxes.
    assert not np.all(crossing(layer, low, high))
    keras_fans.box_init(layer, low, high, seed=5)
    assert np.all(crossing(layer, low, high))


@pytest.mark.parametrize("inputs, low, high", BOXES)
def test_box_init_activations_span_zero_to_one(inputs, low, high):
    layer = dense(inputs, 512)

    def check_span():
        lowest, highest = preactivation_range(layer, low, high)
        # relu's largest value on the box is 1, its least 0, up to the
        # float32 rounding of w . x + b: a few ulps of its terms' size.
        kernel, bias = testing.numpy(layer.kernel), testing.numpy(layer.bias)
        corner = np.maximum(np.abs(low), np.abs(high))
        terms = np.broadcast_to(corner, kernel.shape[:1]) @ np.abs(kernel)
        rounding = 8 * np.finfo(np.float32).eps * (terms + np.abs(bias))
        assert np.all(np.abs(np.maximum(highest, 0) - 1) <= rounding)
        assert np.all(lowest <= rounding)

    # PyTorch's default does not.
    with pytest.raises(AssertionError):
        check_span()
    keras_fans.box_init(layer, low, high, seed=5)
    check_span()


@pytest.mark.parametrize("low, high", [(-1.0, 1.0), (0.0, 1.0), (2.0, 6.0)])
def test_box_init_one_dimensional_breakpoints_are_uniform(low, high):
    layer = dense(1, 4096)
    with pytest.raises(AssertionError):
        check_breakpoints_uniform(layer, low, high)
    keras_fans.box_init(layer, low, high, seed=5)
    check_breakpoints_uniform(layer, low, high)
    # Directions: as many rising units as falling ones (a binomial check).
    rising = np.sum(testing.numpy(layer.kernel) > 0)
    assert stats.binomtest(rising, 4096).pvalue > testing.ALPHA


def test_box_init_directions_are_uniform_on_the_circle():
    low, high = np.array([0.0, -1.0]), np.array([1.0, 3.0])
    layer = dense(2, 4096)
    circle = stats.uniform(loc=-np.pi, scale=2 * np.pi)

    def check_directions():
        # Back in the unit square, w_i (high - low) is along n_i.
        n = testing.numpy(layer.kernel) * (high - low)[:, None]
        p_value = stats.kstest(np.arctan2(n[1], n[0]), circle.cdf).pvalue
        assert p_value > testing.ALPHA, f"KS p={p_value:.2g}"

    # PyTorch's kernel is uniform in a square: its angles are not uniform.
    with pytest.raises(AssertionError):
        check_directions()
    keras_fans.box_init(layer, low, high, seed=5)
    check_directions()


def test_box_init_reproducible_with_a_seed():
    def box(seed):
        layer = dense(2, 64, seed=1)
        keras_fans.box_init(layer, [-1.0, 0.0], 1.0, seed=seed)
        return testing.numpy(layer.kernel), testing.numpy(layer.bias)

    for same, other in zip(box(3), box(3), strict=True):
        np.testing.assert_array_equal(same, other)
    for one, other in zip(box(3), box(4), strict=True):
        assert not np.any(one == other)
    # A SeedGenerator seeded with 3 draws what seed=3 draws; None draws
    # fresh values each call.
    for same, other in zip(box(3), box(keras.random.SeedGenerator(3))):
        np.testing.assert_array_equal(same, other)
    for one, other in zip(box(None), box(None), strict=True):
        assert not np.any(one == other)


def test_box_init_other_weights_untouched():
    inputs = keras.Input((2,))
    first, second = dense(2, 32, seed=0), dense(32, 1, seed=2)
    model = keras.Model(inputs, second(first(inputs)))
    before = [testing.numpy(w) for w in model.weights]
    keras_fans.box_init(first, -1.0, 1.0, seed=1)
    after = [testing.numpy(w) for w in model.weights]
    assert [w.path for w in model.weights][:2] == [
        first.kernel.path,
        first.bias.path,
    ]
    for i in (2, 3):
        np.testing.assert_array_equal(after[i], before[i])
    for i in (0, 1):
        assert not np.any(after[i] == before[i])


def test_box_init_from_input_box():
    sample = np.array([[0.5, -2.0], [1.5, 3.0], [1.0, 0.0]])
    layer = dense(2, 256)
    keras_fans.box_init(layer, *breakpoints.input_box(sample), seed=1)
    lowest, highest = preactivation_range(layer, [0.5, -2.0], [1.5, 3.0])
    np.testing.assert_allclose(highest, 1.0, rtol=1e-3)
    assert np.all(lowest <= 1e-3)


def trained(layer):
    """`layer` after a few steps of SGD with a large learning rate (the
    mean squared error divides each weight's gradient by `units`)."""
    model = keras.Sequential([keras.Input(layer.kernel.shape[:1]), layer])
    model.compile(keras.optimizers.SGD(30.0), "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, layer.kernel.shape[0])).astype("float32")
    y = rng.normal(size=(64, layer.units)).astype("float32")
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    return layer


def set_by_hand(layer, name):
    weight = getattr(layer, name)
    weight.assign(np.full(weight.shape, 0.3, "float32"))
    return layer


@pytest.mark.parametrize(
    "rewrite, names",
    [
        (keras_fans.spread_breakpoints, ["bias"]),
        (keras_fans.box_init, ["kernel", "bias"]),
    ],
)
@pytest.mark.parametrize(
    "change, changed",
    [
        (trained, ["kernel", "bias"]),
        (lambda layer: set_by_hand(layer, "bias"), ["bias"]),
        (lambda layer: set_by_hand(layer, "kernel"), ["kernel"]),
    ],
)
def test_trained_or_set_weights_are_refused_unless_forced(
    rewrite, names, change, changed
):
    fresh = dense(2, 256, seed=1)
    rewrite(fresh, -1.0, 1.0, seed=1)  # A fresh layer is rewritten.
    layer = change(dense(2, 256, seed=1))
    before = [testing.numpy(w) for w in layer.weights]
    refused = [name for name in names if name in changed]
    if refused:
        with pytest.raises(ValueError, match="force=True") as error:
            rewrite(layer, -1.0, 1.0, seed=1)
        for name in names:
            named = f"{layer.name}/{name}:" in str(error.value)
            assert named == (name in refused), (name, str(error.value))
        for weight, value in zip(layer.weights, before, strict=True):
            np.testing.assert_array_equal(testing.numpy(weight), value)
    rewrite(layer, -1.0, 1.0, seed=1, force=True)
    assert not np.array_equal(testing.numpy(layer.bias), before[1])


@pytest.mark.parametrize(
    "rewrite", [keras_fans.spread_breakpoints, keras_fans.box_init]
)
def test_force_must_be_a_boolean(rewrite):
    layer = dense(2, 8)
    for force in ("no", 1, None):
        with pytest.raises(TypeError, match=rf"force={force!r}"):
            rewrite(layer, -1.0, 1.0, force=force)
