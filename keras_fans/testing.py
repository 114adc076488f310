"""Helpers shared by the tests: the mode under test, a fan-recording
initializer and statistical checks whose tolerances come from the sample
size.

Two modes: by default the tests run stock Keras with `keras_fans.patch()`;
with `KERAS_FANS_NATIVE=1` they run a Keras whose source has the fan
context (the pull request's), and never patch.
"""

import contextlib
import copy
import functools
import math
import os

import keras
import numpy as np
import pytest
from packaging.version import Version
from scipy import stats

import keras_fans
from keras_fans.initializers import fan_context
from keras_fans.initializers import random_initializers

# Whether the installed Keras has the fan context in its own source.
NATIVE = os.environ.get("KERAS_FANS_NATIVE") == "1"

# Significance of each statistical check: a correct draw fails with at most
# this probability (the seeds are fixed, so a pass is reproducible).
ALPHA = 1e-4


def runtime_only(reason):
    """Marks a test of the runtime patch itself: skipped in native mode."""
    return pytest.mark.skipif(NATIVE, reason=f"runtime patch only: {reason}")


def keras_before(release):
    """Whether the installed Keras is older than `release` (e.g. "3.7"); a
    nightly of 3.16 counts as 3.16. For skipping a test where a Keras
    feature it needs is missing."""
    return Version(keras.version()).release < Version(release).release


def fans_on():
    """Context manager: Keras with the fan context inside.

    `keras_fans.patched()`, or nothing in native mode.
    """
    if NATIVE:
        return contextlib.nullcontext()
    return keras_fans.patched()


def compute_fans(*args, **kwargs):
    """keras_fans's `compute_fans` in both modes: the series leaves Keras's
    as it is (the fans given go to `VarianceScaling.__call__`)."""
    return random_initializers.compute_fans(*args, **kwargs)


def with_fans(*args, **kwargs):
    """The `with_fans` under test: Keras's own in native mode, else
    keras_fans's. Looked up at call time, so that on a Keras without it
    conftest.py can stop the run first."""
    if NATIVE:
        return keras.src.initializers.with_fans(*args, **kwargs)
    return fan_context.with_fans(*args, **kwargs)


@functools.cache
def _fans_hidden(cls):
    """A subclass of `cls` whose `__call__` declares no fan context."""

    def __call__(self, shape, dtype=None):
        return cls.__call__(self, shape, dtype=dtype)

    return type(f"{cls.__name__}FansHidden", (cls,), {"__call__": __call__})


def hide_fans(initializer):
    """`initializer`, drawing stock Keras's values in either mode.

    A copy whose `__call__` does not declare `fan_in` and `fan_out`: Keras
    calls it exactly as stock Keras does, so it draws, patched or natively
    fixed, what stock Keras draws. Still an instance of its class, so
    Keras's own checks and clones treat it as stock Keras treats
    `initializer` (EinsumDense gives a VarianceScaling kernel its axes;
    attention layers clone theirs with `from_config`).
    """
    initializer = keras.initializers.get(initializer)
    hidden = copy.copy(initializer)
    hidden.__class__ = _fans_hidden(type(initializer))
    return hidden


# Registered, so wrappers that clone their layer by its config (as
# Bidirectional does) can clone it.
@keras.saving.register_keras_serializable("keras_fans.testing")
class FanRecorder(keras.initializers.Initializer):
    """Opts into the fan context and records it; fills zeros.

    Records in a class-level list, so clones made with `from_config` (as
    MultiHeadAttention makes) record too.
    """

    calls = []

    def __call__(self, shape, dtype=None, *, fan_in=None, fan_out=None):
        FanRecorder.calls.append((tuple(shape), fan_in, fan_out))
        return keras.ops.zeros(shape, dtype=dtype)

    @classmethod
    def recorded(cls):
        """The distinct `(shape, fan_in, fan_out)` calls, then clears them."""
        calls = sorted(set(cls.calls))
        cls.calls.clear()
        return calls


def recorded_fans(make_layer, *shapes):
    """Creates and builds `make_layer()` with the fan context; the fans of
    every `FanRecorder` call, as a sorted list of `(shape, fan_in,
    fan_out)`."""
    FanRecorder.recorded()
    with fans_on():
        make_layer().build(*shapes)
    return FanRecorder.recorded()


def numpy(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype=np.float64)


def check_variance_scaling_draw(values, distribution, variance):
    """Asserts `values` are drawn as `VarianceScaling` draws `variance`.

    A Kolmogorov-Smirnov test against the exact distribution, the sample
    variance within six standard errors, and for the uniform distribution
    the largest magnitude: below the bound, and above the level that all of
    `n` draws stay under only with probability `ALPHA`.
    """
    x = numpy(values).ravel()
    n = x.size
    stddev = math.sqrt(variance)
    bound = None
    if distribution == "uniform":
        bound = math.sqrt(3.0 * variance)
        reference = stats.uniform(loc=-bound, scale=2 * bound)
        kurtosis = 1.8
    elif distribution == "untruncated_normal":
        reference = stats.norm(scale=stddev)
        kurtosis = 3.0
    else:
        # Truncated at two standard deviations of the normal. No bound
        # check: Keras's torch backend re-draws at most 3 times and keeps a
        # value beyond the truncation with probability 4e-6 per entry.
        truncation = 2 * stddev / stats.truncnorm(-2, 2).std()
        reference = stats.truncnorm(-2, 2, scale=truncation / 2)
        kurtosis = 2.4
    p_value = stats.kstest(x, reference.cdf).pvalue
    assert p_value > ALPHA, (
        f"{n} values do not look like {distribution} with variance "
        f"{variance:.4g}: KS p={p_value:.2g}, sample variance {x.var():.4g}"
    )
    # Standard error of a sample variance: variance * sqrt((kurtosis-1)/n).
    tolerance = 6 * math.sqrt((kurtosis - 1) / n)
    assert abs(x.var() / variance - 1) < tolerance, (
        f"sample variance {x.var():.4g} is not {variance:.4g} within "
        f"{tolerance:.1%}"
    )
    if bound is not None:
        largest = np.abs(x).max()
        # P(all n draws below q * bound) = P(|x| < q * bound) ** n = ALPHA.
        floor = reference.ppf(0.5 + 0.5 * ALPHA ** (1 / n))
        assert floor <= largest <= bound * (1 + 1e-6), (
            f"largest magnitude {largest:.4g} is outside "
            f"[{floor:.4g}, {bound:.4g}]"
        )


def check_draw_against(values, counterpart, distribution, variance):
    """Asserts `values` pass `check_variance_scaling_draw` and `counterpart`
    (stock Keras's values, or a mutant's) fails it: the check has the power
    to tell the draw under test from the one it replaces."""
    with pytest.raises(AssertionError):
        check_variance_scaling_draw(counterpart, distribution, variance)
    check_variance_scaling_draw(values, distribution, variance)


def check_bias_fans(
    make_layer,
    shapes,
    fans,
    mode="fan_in",
    distribution="uniform",
    scale=2.0,
    get_bias=lambda layer: layer.bias,
):
    """Asserts a build with the fan context draws the bias with `fans`.

    `make_layer(bias_initializer)` makes the layer; `shapes` build it;
    `get_bias(layer)` is the part of the bias to check. The bias initializer
    is `VarianceScaling(scale, mode, distribution)`, so the bias must have
    variance `scale / fan`, `fan` chosen from `fans` by `mode`. The same
    check must fail on stock Keras's values, drawn through `hide_fans`.
    """
    fan_in, fan_out = fans
    if mode == "fan_in":
        fan = fan_in
    elif mode == "fan_out":
        fan = fan_out
    else:
        fan = (fan_in + fan_out) / 2
    variance = scale / fan

    def build_bias(wrap=lambda initializer: initializer):
        layer = make_layer(
            wrap(
                keras.initializers.VarianceScaling(
                    scale=scale, mode=mode, distribution=distribution, seed=7
                )
            )
        )
        layer.build(*shapes)
        return numpy(get_bias(layer))

    stock = build_bias(hide_fans)
    with fans_on():
        # The premise of `hide_fans`, proven at run time: patched, it draws
        # the unpatched values.
        np.testing.assert_array_equal(build_bias(hide_fans), stock)
        fixed = build_bias()
    check_draw_against(fixed, stock, distribution, variance)
