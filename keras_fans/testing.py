"""Helpers shared by the tests: a fan-recording initializer and statistical
checks whose tolerances come from the sample size."""

import math

import keras
import numpy as np
import pytest
from scipy import stats

import keras_fans

# Significance of each statistical check: a correct draw fails with at most
# this probability (the seeds are fixed, so a pass is reproducible).
ALPHA = 1e-4


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
    """Creates and builds `make_layer()` patched; the fans of every
    `FanRecorder` call, as a sorted list of `(shape, fan_in, fan_out)`."""
    FanRecorder.recorded()
    with keras_fans.patched():
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


def check_bias_fans(
    make_layer,
    shapes,
    fans,
    mode="fan_in",
    distribution="uniform",
    scale=2.0,
    get_bias=lambda layer: layer.bias,
):
    """Asserts a patched build draws the bias with the layer's `fans`.

    `make_layer(bias_initializer)` makes the layer; `shapes` build it;
    `get_bias(layer)` is the part of the bias to check. The bias initializer
    is `VarianceScaling(scale, mode, distribution)`, so the bias must have
    variance `scale / fan`, `fan` chosen from `fans` by `mode`. The same
    check must fail on the stock build.
    """
    fan_in, fan_out = fans
    if mode == "fan_in":
        fan = fan_in
    elif mode == "fan_out":
        fan = fan_out
    else:
        fan = (fan_in + fan_out) / 2
    variance = scale / fan

    def build_bias():
        layer = make_layer(
            keras.initializers.VarianceScaling(
                scale=scale, mode=mode, distribution=distribution, seed=7
            )
        )
        layer.build(*shapes)
        return get_bias(layer)

    stock = build_bias()
    with pytest.raises(AssertionError):
        check_variance_scaling_draw(stock, distribution, variance)
    with keras_fans.patched():
        patched = build_bias()
    check_variance_scaling_draw(patched, distribution, variance)
