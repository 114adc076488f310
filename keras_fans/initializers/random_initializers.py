"""Fan context for the random initializers.

Upstream file: `keras/src/initializers/random_initializers.py`
(`VarianceScaling.__call__` only).

- `compute_fans` gains keyword-only `fan_in` / `fan_out`: an explicit fan
  wins over the one the shape implies. The shape-only computation stays
  stock Keras's (`_shape_fans`, the original `compute_fans`). This is
  keras_fans's API; the series leaves Keras's `compute_fans` as it is.
- `VarianceScaling.__call__` (inherited by the Glorot, He and LeCun
  initializers) gains the same keywords and scales by them.
- The other random initializers do not declare the keywords, so `with_fans`
  never hands them fans.
"""

import math
import numbers
from collections.abc import Sequence

from keras.src.backend import random
from keras.src.initializers import random_initializers

from keras_fans import compat

# Stock Keras's shape-only fan computation, captured before any patching.
_shape_fans = compat.shape_fans

# `std(truncated_normal(0, 1))` when truncated at two standard deviations.
_TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


def _check_fan(name, value):
    """Returns `value` as a positive `int`, or `None` if it is `None`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be a positive integer or None. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if not (value >= 1 and value % 1 == 0):  # Also rejects nan and inf.
        raise ValueError(
            f"`{name}` must be a positive integer or None. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def compute_fans(
    shape: Sequence[int],
    input_axes: Sequence[int] | None = None,
    output_axes: Sequence[int] | None = None,
    *,
    fan_in: int | None = None,
    fan_out: int | None = None,
) -> tuple[int, int]:
    """Computes the number of input and output units for a weight shape.

    An explicit `fan_in` or `fan_out` is the fan of the unit the weight feeds,
    which the weight's own shape cannot show (a bias of shape `(units,)` is
    fed by the layer's inputs, not by `units` of them). A fan that is not
    given comes from the shape, exactly as without the keywords.

    Args:
        shape: Integer shape tuple.
        input_axes: Optional list of integers, axes representing input units.
        output_axes: Optional list of integers, axes representing output units.
        fan_in: Optional positive integer, overrides the computed fan-in.
        fan_out: Optional positive integer, overrides the computed fan-out.

    Returns:
        A tuple of integer scalars: `(fan_in, fan_out)`.
    """
    fan_in = _check_fan("fan_in", fan_in)
    fan_out = _check_fan("fan_out", fan_out)
    shape_fan_in, shape_fan_out = _shape_fans(
        shape, input_axes=input_axes, output_axes=output_axes
    )
    if fan_in is None:
        fan_in = shape_fan_in
    if fan_out is None:
        fan_out = shape_fan_out
    return fan_in, fan_out


def _variance_scaling_call(
    self, shape, dtype=None, *, fan_in=None, fan_out=None
):
    """Draws `shape` values with variance `scale / n`.

    `n` is `fan_in`, `fan_out` or their mean, by `mode`. The fans come
    from `compute_fans`: an explicit `fan_in` / `fan_out` (the fans of
    the unit the weight feeds) replaces the one the shape implies.
    """
    fan_in, fan_out = compute_fans(
        shape,
        input_axes=self.input_axes,
        output_axes=self.output_axes,
        fan_in=fan_in,
        fan_out=fan_out,
    )
    fans = {
        "fan_in": fan_in,
        "fan_out": fan_out,
        "fan_avg": (fan_in + fan_out) / 2.0,
    }
    variance = self.scale / max(1.0, fans[self.mode])
    if self.distribution == "uniform":
        limit = math.sqrt(3.0 * variance)
        return random.uniform(
            shape, minval=-limit, maxval=limit, dtype=dtype, seed=self.seed
        )
    if self.distribution == "untruncated_normal":
        return random.normal(
            shape,
            mean=0.0,
            stddev=math.sqrt(variance),
            dtype=dtype,
            seed=self.seed,
        )
    return random.truncated_normal(
        shape,
        mean=0.0,
        stddev=math.sqrt(variance) / _TRUNCATED_NORMAL_STDDEV,
        dtype=dtype,
        seed=self.seed,
    )


# What `keras_fans.patch()` replaces: (owner, attribute, replacement).
REPLACEMENTS = (
    (random_initializers, "compute_fans", compute_fans),
    (random_initializers.VarianceScaling, "__call__", _variance_scaling_call),
)
