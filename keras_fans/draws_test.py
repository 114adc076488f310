"""The value verdict: stock, fixed, neither or undecided, with its power."""

import keras
import numpy as np
import pytest

import keras_fans
from keras_fans import draws
from keras_fans import testing

DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")

# (stock variance, fixed variance): He (scale 2) on a bias of 128 whose
# layer has 5408 inputs, and on a bias of 4096 after 16 inputs.
NARROWER = (2 / 128, 2 / 5408)
WIDER = (2 / 4096, 2 / 16)


def sample(distribution, variance, n, seed):
    return draws.reference(distribution, variance).rvs(
        size=n, random_state=np.random.default_rng(seed)
    )


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("variances", [NARROWER, WIDER])
def test_each_draw_is_judged_as_itself_and_not_as_the_other(
    distribution, variances
):
    stock_variance, fixed_variance = variances
    n = 512

    def verdict(values):
        return draws.judge(
            values, distribution, stock_variance, fixed_variance
        ).draw

    for seed in range(20):
        stock = sample(distribution, stock_variance, n, seed)
        fixed = sample(distribution, fixed_variance, n, seed)
        assert verdict(stock) == draws.STOCK
        assert verdict(fixed) == draws.FIXED
        # Trained away from both: shifted, or three times as wide as the
        # wider of the two.
        assert verdict(stock + 3 * np.sqrt(stock_variance)) == draws.NEITHER
        wide = sample(distribution, 9 * max(variances), n, seed)
        assert verdict(wide) == draws.NEITHER
        stock[0] = np.nan
        assert verdict(stock) == draws.NEITHER


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("variances", [NARROWER, WIDER])
def test_power_is_decided_by_the_sample_size(distribution, variances):
    """Below the smallest decidable size both draws are undecided; from it
    on, each of 100 seeded samples of either draw gets its own verdict
    (each misjudged with probability at most ALPHA)."""
    stock_variance, fixed_variance = variances
    smallest = draws.smallest_decidable(
        distribution, stock_variance, fixed_variance
    )
    d = draws.separation(distribution, stock_variance, fixed_variance)
    assert 2 * draws.critical(smallest) < d <= 2 * draws.critical(smallest - 1)

    def verdicts(n, seeds):
        return {
            (
                variance,
                draws.judge(
                    sample(distribution, variance, n, seed),
                    distribution,
                    stock_variance,
                    fixed_variance,
                ).draw,
            )
            for seed in seeds
            for variance in variances
        }

    assert verdicts(smallest, range(100)) == {
        (stock_variance, draws.STOCK),
        (fixed_variance, draws.FIXED),
    }
    below = verdicts(smallest - 1, range(20))
    assert {draw for _, draw in below} <= {draws.UNDECIDED, draws.NEITHER}
    assert (stock_variance, draws.UNDECIDED) in below


def test_the_separation_of_two_uniform_draws_is_exact():
    # U(-a, a) against U(-b, b), a < b: the CDFs differ most at +-a, by
    # 1/2 - a / (2b).
    a, b = np.sqrt(3 * 2 / 5408), np.sqrt(3 * 2 / 128)
    d = draws.separation("uniform", *NARROWER)
    assert d == pytest.approx(0.5 - a / (2 * b), abs=1e-3)
    assert draws.smallest_decidable("uniform", 1.0, 1.0) is None


@pytest.mark.parametrize(
    "initializer",
    [
        keras.initializers.HeUniform(seed=3),
        keras.initializers.LecunNormal(seed=3),
        keras.initializers.GlorotNormal(seed=3),
        keras.initializers.VarianceScaling(
            2.0, "fan_out", "untruncated_normal", seed=3
        ),
    ],
)
def test_a_seeded_redraw_decides_by_bit_identity(initializer):
    """Four values cannot tell the draws apart, but a seeded initializer's
    redraw can: equal bit for bit, or not at all."""
    stock_fans, true_fans = (4, 4), (300, 300)
    stock, fixed = draws.redraws(initializer, (4,), "float32", true_fans)

    def verdict(values):
        return draws.judge_draw(values, initializer, stock_fans, true_fans)

    assert verdict(stock).draw == draws.STOCK
    assert "bit-identical to a stock redraw (seed 3)" in verdict(stock).reason
    assert verdict(fixed).draw == draws.FIXED
    # One value one step off: no longer the redraw, and too few to judge.
    nudged = stock.copy()
    nudged[0] = np.nextafter(nudged[0], np.float32(1))
    assert verdict(nudged).draw == draws.UNDECIDED


def test_an_unseeded_instance_redraws_what_it_drew():
    """Keras picks the seed of an unseeded initializer once, when it is
    made: the same instance redraws its values; a new one does not."""
    initializer = keras.initializers.HeUniform()
    values = keras.ops.convert_to_numpy(initializer((4,)))
    verdict = draws.judge_draw(values, initializer, (4, 4), (300, 4))
    assert verdict.draw == draws.STOCK
    fresh = keras.initializers.HeUniform()
    assert draws.judge_draw(values, fresh, (4, 4), (300, 4)).draw == (
        draws.UNDECIDED
    )


def test_a_seed_generator_is_not_advanced():
    generator = keras.random.SeedGenerator(5)
    initializer = keras.initializers.HeUniform(seed=generator)
    state = keras.ops.convert_to_numpy(generator.state)
    values = keras.ops.convert_to_numpy(initializer((512,)))
    state = keras.ops.convert_to_numpy(generator.state)
    verdict = draws.judge_draw(values, initializer, (512, 512), (8, 512))
    assert verdict.draw == draws.STOCK
    assert verdict.p_stock is not None
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(generator.state), state
    )


def fits(values, initializer, fans=None):
    """Whether `draws.as_initialized` takes `values` for a fresh draw."""
    return draws.as_initialized(values, initializer, fans)[0]


def fresh(initializer, shape):
    return keras.ops.convert_to_numpy(initializer(shape, dtype="float32"))


@pytest.mark.parametrize(
    "initializer",
    [
        keras.initializers.GlorotUniform(seed=1),
        keras.initializers.HeNormal(seed=1),
        keras.initializers.LecunNormal(seed=1),
        keras.initializers.RandomUniform(-0.2, 0.5, seed=1),
        keras.initializers.RandomNormal(0.1, 0.3, seed=1),
        keras.initializers.TruncatedNormal(0.0, 0.3, seed=1),
        keras.initializers.Orthogonal(gain=2.0, seed=1),
        keras_fans.initializers.PyTorchUniform(seed=1),
    ],
)
def test_a_fresh_draw_is_as_initialized_and_a_scaled_one_is_not(
    initializer,
):
    # 4096 values: a draw 1.2 times as wide is rejected at ALPHA with
    # probability ~1 (KS critical ~0.035; the CDFs are >0.05 apart).
    values = fresh(initializer, (64, 64))
    assert fits(values, initializer)
    assert not fits(1.2 * values, initializer)


def test_a_bias_drawn_with_its_rule_fans_fits_only_with_them():
    initializer = keras.initializers.HeUniform(seed=3)
    # A (4096,) bias of a layer with 4 inputs, drawn with fan_in 4.
    bias = draws.reference("uniform", 2.0 / 4).rvs(4096, random_state=3)
    assert fits(bias, initializer, fans=(4, 4096))
    assert not fits(bias, initializer)


@pytest.mark.skipif(
    testing.keras_before("3.15"),
    reason="VarianceScaling has no input_axes or output_axes before 3.15",
)
def test_a_draw_is_judged_with_the_initializer_s_axes():
    # Its axes make fan_in 256, where the shape alone says 16: judged by the
    # shape's fans, the 4096 values have 1/16 of the variance, far outside
    # the KS test's critical distance (as above).
    initializer = keras.initializers.HeUniform(
        seed=1, input_axes=(1,), output_axes=(0,)
    )
    values = fresh(initializer, (16, 256))
    assert fits(values, initializer)
    assert not fits(values, keras.initializers.HeUniform(seed=1))


@pytest.mark.parametrize(
    "initializer",
    [
        keras.initializers.Zeros(),
        keras.initializers.Ones(),
        keras.initializers.Constant(0.7),
    ],
)
def test_a_constant_is_as_initialized_only_if_equal(initializer):
    values = fresh(initializer, (5,))
    assert fits(values, initializer)
    values[2] += 0.3
    assert not fits(values, initializer)
    assert "not equal" in draws.as_initialized(values, initializer)[1]


class MyUniform(keras.initializers.RandomUniform):
    def __call__(self, shape, dtype=None):
        return super().__call__(shape, dtype)


@pytest.mark.parametrize(
    "initializer",
    [MyUniform(seed=1), lambda shape, dtype=None: np.zeros(shape), None],
)
def test_an_initializer_it_cannot_read_is_not_as_initialized(initializer):
    assert not fits(np.zeros((8,)), initializer)
    reason = draws.as_initialized(np.zeros((8,)), initializer)[1]
    assert "cannot tell" in reason


def test_non_finite_values_are_not_as_initialized():
    values = fresh(keras.initializers.Zeros(), (4,))
    assert fits(values, keras.initializers.Zeros())
    values[0] = np.nan
    assert not fits(values, keras.initializers.Zeros())
