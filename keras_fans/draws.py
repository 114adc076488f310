"""Whether a weight's values still hold a stock draw of its initializer.

Upstream file: none; a keras_fans utility for `audit` and
`reset_parameters(style="fans")`, which must never re-draw trained weights.

A `VarianceScaling` draw of variance `v = scale / max(1, fan)` (`fan` by
its `mode`) is exactly distributed as Keras draws it: `"uniform"`
U(-sqrt(3v), sqrt(3v)); `"untruncated_normal"` N(0, v); `"truncated_normal"`
a normal cut at two of its standard deviations, scaled so that the cut
distribution has variance `v`. A weight is judged against two candidates,
the stock draw (the fan stock Keras takes from the weight's shape) and the
fixed one (the layer's true fan), by a Kolmogorov-Smirnov test of each at
level `ALPHA`:

- `"stock"` / `"fixed"`: consistent with that draw and not the other;
- `"neither"`: both rejected (trained, loaded, set by hand);
- `"undecided"`: too few values to tell the two apart.

Power: with `c` the KS critical value for `n` values at `ALPHA`, and `d`
the largest distance between the two candidate CDFs, a sample within `c`
of one CDF is farther than `d - c` from the other. If `d > 2c` a draw of
either candidate gets its own verdict with probability at least
`1 - ALPHA`; otherwise the two cannot be told apart at this level and a
sample consistent with either is `"undecided"`.

Where the initializer is Keras's own with an integer seed, a redraw is
reproducible: values bit-identical to a stock (or fixed) redraw are the
strongest evidence, and decide whatever `n` is.
"""

import math
from typing import NamedTuple

import keras
import numpy as np
from keras.src.initializers.random_initializers import VarianceScaling
from scipy import stats

from keras_fans import patching
from keras_fans.initializers.fan_context import _declares_fans
from keras_fans.initializers.fan_context import with_fans
from keras_fans.initializers.random_initializers import compute_fans

# Level of each KS test: a stock (or fixed) draw is called otherwise with
# at most this probability.
ALPHA = 1e-4

STOCK = "stock"
FIXED = "fixed"
NEITHER = "neither"
UNDECIDED = "undecided"

# Where the two candidate CDFs are compared: in standard deviations of the
# wider one. Both are zero outside +-2 of them (uniform: +-sqrt(3); the
# truncated normal: +-2.27) or below 1e-15 (normal).
_GRID = np.linspace(-8.0, 8.0, 16001)


class Verdict(NamedTuple):
    """What a weight's values say about how they were drawn.

    `draw` is `"stock"`, `"fixed"`, `"neither"` or `"undecided"`; `reason`
    says why, in words. `n` values; `p_stock`, `p_fixed` the KS p-values
    (None when bit-identity decided); `separation` the largest distance of
    the two candidate CDFs, `critical` the KS critical value for `n` at
    `ALPHA`: decidable when `separation > 2 * critical`.
    """

    draw: str
    reason: str
    n: int
    p_stock: float | None
    p_fixed: float | None
    separation: float
    critical: float


def mode_fan(mode, fan_in, fan_out):
    """The fan `VarianceScaling` divides by for `mode`."""
    return {
        "fan_in": fan_in,
        "fan_out": fan_out,
        "fan_avg": (fan_in + fan_out) / 2,
    }[mode]


def axes(initializer):
    """`(input_axes, output_axes)` of `initializer`, for `compute_fans`:
    `(None, None)` before Keras 3.15, whose `VarianceScaling` has none."""
    return (
        getattr(initializer, "input_axes", None),
        getattr(initializer, "output_axes", None),
    )


def draw_variance(initializer, fan_in, fan_out):
    """`scale / max(1, fan)`: the variance `initializer` draws with."""
    fan = mode_fan(initializer.mode, fan_in, fan_out)
    return initializer.scale / max(1.0, fan)


def reference(distribution, variance):
    """The exact distribution `VarianceScaling` draws: a frozen scipy one."""
    if distribution == "uniform":
        bound = math.sqrt(3.0 * variance)
        return stats.uniform(loc=-bound, scale=2 * bound)
    if distribution == "untruncated_normal":
        return stats.norm(scale=math.sqrt(variance))
    # The normal cut at +-2 of its standard deviations `s`, `s` chosen so
    # that the cut distribution's standard deviation is sqrt(variance).
    s = math.sqrt(variance) / stats.truncnorm(-2, 2).std()
    return stats.truncnorm(-2, 2, scale=s)


def separation(distribution, variance_a, variance_b):
    """The largest distance between the CDFs of the two draws."""
    wider = math.sqrt(max(variance_a, variance_b))
    x = _GRID * wider
    a = reference(distribution, variance_a).cdf(x)
    b = reference(distribution, variance_b).cdf(x)
    return float(np.abs(a - b).max())


def critical(n):
    """The KS statistic a sample of `n` exceeds with probability ALPHA."""
    return float(stats.kstwo.isf(ALPHA, n))


def smallest_decidable(distribution, variance_a, variance_b):
    """The fewest values whose verdict `judge` can decide (`d > 2c`);
    None if no sample size can (the two draws are the same)."""
    d = separation(distribution, variance_a, variance_b)
    if d <= 0:
        return None
    n = 1
    while 2 * critical(n) >= d:
        n *= 2
    low, high = n // 2, n
    while high - low > 1:
        middle = (low + high) // 2
        if 2 * critical(middle) < d:
            high = middle
        else:
            low = middle
    return high


def judge(values, distribution, stock_variance, fixed_variance):
    """The `Verdict` of `values` against the stock and the fixed draw."""
    x = np.asarray(values, dtype=np.float64).ravel()
    n = x.size
    d = separation(distribution, stock_variance, fixed_variance)
    c = critical(n)
    p_stock = float(
        stats.kstest(x, reference(distribution, stock_variance).cdf).pvalue
    )
    p_fixed = float(
        stats.kstest(x, reference(distribution, fixed_variance).cdf).pvalue
    )
    stock_fits, fixed_fits = p_stock > ALPHA, p_fixed > ALPHA
    power = f"{n} values, CDFs {d:.3f} apart, KS critical {c:.3f}"
    if not np.isfinite(x).all():
        draw = NEITHER
        reason = "not finite: trained (diverged), loaded or set by hand"
    elif not (stock_fits or fixed_fits):
        draw = NEITHER
        reason = (
            f"not a draw of its initializer, stock or fixed (KS p = "
            f"{p_stock:.2g} and {p_fixed:.2g} < {ALPHA:g}): trained, "
            "loaded or set by hand"
        )
    elif d <= 2 * c:
        draw = UNDECIDED
        reason = (
            f"too few values to tell the stock draw from the fixed one at "
            f"level {ALPHA:g} ({power}; needs CDFs more than 2 x critical "
            "apart)"
        )
    elif stock_fits:
        draw = STOCK
        reason = f"consistent with the stock draw only (KS p = {p_stock:.2g})"
    else:
        draw = FIXED
        reason = f"consistent with the fixed draw only (KS p = {p_fixed:.2g})"
    return Verdict(draw, reason, n, p_stock, p_fixed, d, c)


def reproducible(initializer):
    """Whether a redraw of `initializer` gives its draws again: Keras's own
    `VarianceScaling.__call__` with an integer seed (the one given, or, for
    an instance made unseeded, the one Keras picked for it). A
    `SeedGenerator` would advance; a user's `__call__` is not run."""
    return (
        isinstance(initializer, VarianceScaling)
        and type(initializer).__call__ is VarianceScaling.__call__
        and isinstance(initializer.seed, int)
    )


def redraws(initializer, shape, dtype, fans):
    """`(stock, fixed)`: the values `initializer` draws for `shape` without
    and with `fans`, as numpy arrays; patched for the duration if not."""
    stock = keras.ops.convert_to_numpy(initializer(shape, dtype=dtype))
    with patching.patched_for_a_draw():
        fixed = with_fans(initializer, *fans)(shape, dtype=dtype)
    return stock, keras.ops.convert_to_numpy(fixed)


def judge_draw(values, initializer, stock_fans, true_fans):
    """The `Verdict` of `values`, one draw of `initializer` (a
    `VarianceScaling`) whose stock and true `(fan_in, fan_out)` are given.

    Bit-identity with a redraw decides first, where `reproducible`.
    """
    values = np.asarray(values)
    stock_variance = draw_variance(initializer, *stock_fans)
    fixed_variance = draw_variance(initializer, *true_fans)
    verdict = judge(
        values, initializer.distribution, stock_variance, fixed_variance
    )
    if not reproducible(initializer):
        return verdict
    stock, fixed = redraws(
        initializer, values.shape, values.dtype.name, true_fans
    )
    seed = initializer.seed
    for draw, redraw in ((STOCK, stock), (FIXED, fixed)):
        if np.array_equal(values, redraw):
            return verdict._replace(
                draw=draw,
                reason=f"bit-identical to a {draw} redraw (seed {seed})",
                p_stock=None,
                p_fixed=None,
            )
    return verdict


def _keras_own(initializer, cls):
    """Whether `initializer` is `cls` with Keras's own `__call__`."""
    return (
        isinstance(initializer, cls)
        and type(initializer).__call__ is cls.__call__
    )


def _exact(initializer):
    """The exact distribution a Keras random initializer draws, or None."""
    initializers = keras.initializers
    if _keras_own(initializer, initializers.RandomUniform):
        low, high = initializer.minval, initializer.maxval
        return stats.uniform(loc=low, scale=high - low)
    if _keras_own(initializer, initializers.RandomNormal):
        return stats.norm(loc=initializer.mean, scale=initializer.stddev)
    if _keras_own(initializer, initializers.TruncatedNormal):
        return stats.truncnorm(
            -2, 2, loc=initializer.mean, scale=initializer.stddev
        )
    return None


def _orthogonal(values, gain):
    """Whether `values`, flattened to `(rows, columns)` as `Orthogonal`
    draws them, have orthonormal columns (or rows, if fewer) times `gain`,
    to float32 rounding."""
    matrix = values.astype(np.float64).reshape(-1, values.shape[-1])
    if matrix.shape[0] < matrix.shape[1]:
        matrix = matrix.T
    gram = matrix.T @ matrix / gain**2
    error = float(np.abs(gram - np.eye(gram.shape[0])).max())
    # float32 rounding of each entry, summed over a column.
    tolerance = 1e-5 * math.sqrt(matrix.shape[0])
    if error <= tolerance:
        return True, f"orthogonal times {gain:g} (off by {error:.2g})"
    return False, (
        f"not orthogonal times {gain:g} (off by {error:.2g} > {tolerance:.2g})"
    )


def as_initialized(values, initializer, fans=None):
    """`(fits, reason)`: whether `values` are consistent with a fresh draw
    of `initializer`, the weight's own: exact equality for Keras's
    `Zeros`, `Ones`, `Constant`; a KS test at `ALPHA` for Keras's random
    initializers (a `VarianceScaling`, or one whose `__call__` declares
    the fans as keras_fans's own do, with the stock fans of the shape or
    with `fans`, the `(fan_in, fan_out)` a rule hands it while patched:
    either may fit). Anything else cannot tell: not a fit."""
    values = np.asarray(values)
    if not np.isfinite(values).all():
        return False, "not finite"
    constants = (
        keras.initializers.Zeros,
        keras.initializers.Ones,
        keras.initializers.Constant,
    )
    if any(_keras_own(initializer, cls) for cls in constants):
        fresh = initializer(values.shape, dtype=values.dtype.name)
        if np.array_equal(values, keras.ops.convert_to_numpy(fresh)):
            return True, f"equal to {type(initializer).__name__}"
        return False, f"not equal to {type(initializer).__name__}"
    x = values.astype(np.float64).ravel()
    if _keras_own(initializer, keras.initializers.Orthogonal):
        return _orthogonal(values, initializer.gain)
    if _keras_own(initializer, VarianceScaling) or (
        isinstance(initializer, VarianceScaling)
        and _declares_fans(type(initializer).__call__)
    ):
        shape_axes = axes(initializer)
        candidates = [compute_fans(values.shape, *shape_axes)]
        if fans is not None:
            fan_in, fan_out = fans
            candidates.append(
                compute_fans(
                    values.shape, *shape_axes, fan_in=fan_in, fan_out=fan_out
                )
            )
        distributions = [
            reference(
                initializer.distribution,
                draw_variance(initializer, *fan_pair),
            )
            for fan_pair in candidates
        ]
    else:
        exact = _exact(initializer)
        if exact is None:
            return False, f"cannot tell a draw of {initializer!r}"
        distributions = [exact]
    p = max(stats.kstest(x, d.cdf).pvalue for d in distributions)
    name = type(initializer).__name__
    if p > ALPHA:
        return True, f"a draw of {name} (KS p = {p:.2g})"
    return False, f"not a draw of {name} (KS p = {p:.2g} < {ALPHA:g})"
