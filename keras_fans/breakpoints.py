"""`spread_breakpoints` and `box_init`: place a first Dense layer's ReLU
breakpoints in the input region.

Upstream file: none; a keras_fans utility (opt-in, it needs the kernel's
values, so it acts on a built layer, not on a shape).

Unit i of a Dense layer is zero on one side of the hyperplane
w_i . x + b_i = 0 (for a ReLU, its breakpoint). A unit whose hyperplane
misses the inputs' region is linear or dead on all of it. Keeping the
kernel and setting

    b_i = -w_i . t_i,   t_i ~ U(low, high) in each input dimension,

puts unit i's hyperplane through the point t_i of the box [low, high]:
every unit bends somewhere in the data's range, and in one dimension the
breakpoints -b_i / w_i = t_i are uniform on [low, high].

Why: fan-based initializers preserve the variance of activations and
gradients through depth (Glorot & Bengio 2010, He et al. 2015) and assume
zero biases; for deep ReLU nets the edge of chaos puts the bias variance at
or near zero (Schoenholz et al. 2017; Hayou et al. 2019). None of them asks
where the first layer's breakpoints fall in the input space. Nguyen &
Widrow (1990) spread each unit's active region over the input range "so
that few neurons are wasted"; Steinwart (2019) argues the same for ReLU
networks. PyTorch's default (w, b ~ U(+-1/sqrt(fan_in))) puts about half
of the breakpoints of a 1-input layer in [-1, 1] and a quarter in [0, 1].

`box_init` (Cyr et al. 2020, "box initialization") also draws the kernel:
unit i's hyperplane passes through a point p_i of the box with a direction
n_i uniform on the sphere, scaled so that its ReLU rises from 0 to exactly
1 across the box. Every unit bends in the box and no unit is tiny or huge
there, in any input dimension.

References:
- E. C. Cyr, M. A. Gulian, R. G. Patel, M. Perego, N. A. Trask (2020).
  Robust training and initialization of deep neural networks: an adaptive
  basis viewpoint. MSML 2020, PMLR 107:512-536, arXiv:1912.04862.
- D. Nguyen, B. Widrow (1990). Improving the learning speed of 2-layer
  neural networks by choosing initial values of the adaptive weights.
  IJCNN 1990, vol. 3, 21-26.
- I. Steinwart (2019). A sober look at neural network initializations.
  arXiv:1903.11482.
- X. Glorot, Y. Bengio (2010). Understanding the difficulty of training
  deep feedforward neural networks. AISTATS 2010, PMLR 9:249-256.
- K. He, X. Zhang, S. Ren, J. Sun (2015). Delving deep into rectifiers.
  ICCV 2015, arXiv:1502.01852.
- S. S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein (2017). Deep
  information propagation. ICLR 2017, arXiv:1611.01232.
- S. Hayou, A. Doucet, J. Rousseau (2019). On the impact of the activation
  function on deep neural networks training. ICML 2019, arXiv:1902.06853.
"""

from collections.abc import Sequence

import keras
import numpy as np

from keras_fans import auditing

Dense = keras.layers.Dense
# A corner of the input box: a scalar, or one value per input dimension.
Point = float | Sequence[float]
Seed = int | keras.random.SeedGenerator | None


def input_box(inputs):
    """The smallest box holding a sample of inputs: `(low, high)`, the
    per-dimension minimum and maximum of `inputs`, shape `(n, d)`."""
    inputs = np.asarray(keras.ops.convert_to_numpy(inputs), dtype=np.float64)
    if inputs.ndim != 2 or inputs.shape[0] == 0:
        raise ValueError(
            "`inputs` must be a non-empty sample of shape (n, d); "
            f"received shape {inputs.shape}"
        )
    return inputs.min(axis=0), inputs.max(axis=0)


def breakpoint_bias(kernel, low, high, uniforms):
    """The bias b_i = -w_i . t_i, t_i = low + (high - low) * u_i.

    `kernel` is `(d, units)`, `uniforms` U(0, 1) draws of the same shape,
    `low` and `high` broadcast to `(d,)`. Pure NumPy: the study's native
    PyTorch loop uses it too.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    low = np.asarray(low, dtype=np.float64)[..., None]
    high = np.asarray(high, dtype=np.float64)[..., None]
    points = low + (high - low) * np.asarray(uniforms, dtype=np.float64)
    return -np.sum(kernel * points, axis=0)


def _region(low, high, dimension):
    """`low` and `high` as arrays of shape `(dimension,)`, or a clear
    error."""
    bounds = {}
    for name, value in (("low", low), ("high", high)):
        array = np.asarray(value, dtype=np.float64)
        if array.ndim > 1 or array.size not in (1, dimension):
            raise ValueError(
                f"`{name}` must be a scalar or have one entry per input "
                f"dimension ({dimension}); received {value!r}"
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"`{name}` must be finite; received {value!r}")
        bounds[name] = np.broadcast_to(array, (dimension,))
    empty = np.flatnonzero(bounds["high"] <= bounds["low"])
    if empty.size:
        i = empty[0]
        raise ValueError(
            "The region [low, high] is empty or inverted: `high` must "
            f"exceed `low` in every dimension; in dimension {i}, "
            f"low={float(bounds['low'][i])} and high={float(bounds['high'][i])}"
        )
    width = bounds["high"] - bounds["low"]
    wide = np.flatnonzero(~np.isfinite(width))
    if wide.size:
        i = wide[0]
        raise ValueError(
            "The region [low, high] is too wide: `high - low` overflows in "
            f"dimension {i}, low={float(bounds['low'][i])} and "
            f"high={float(bounds['high'][i])}"
        )
    return bounds["low"], bounds["high"]


def box_weights(low, high, points, directions):
    """Cyr et al.'s box initialization: kernel `(d, units)` and bias
    `(units,)`.

    In the unit cube u = (x - low) / (high - low), unit i is
    k_i n_i . (u - p_i) with k_i = 1 / (n_i . (1[n_i > 0] - p_i)), the
    inverse of its largest value on the cube (reached at the corner
    1[n_i > 0]): so w_i = k_i n_i / (high - low) and b_i = -w_i . t_i,
    t_i = low + (high - low) p_i. `points` are the p_i (in (0, 1)),
    `directions` the n_i (nonzero columns), both `(d, units)`. Pure NumPy:
    the study's native PyTorch loop uses it too.
    """
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    directions = directions / np.linalg.norm(directions, axis=0)
    scale = 1 / np.sum(directions * ((directions > 0) - points), axis=0)
    kernel = scale * directions / (high - low)[..., None]
    return kernel, breakpoint_bias(kernel, low, high, points)


def _dense(layer):
    """The kernel of a built Dense layer with a bias, or a clear error."""
    if not isinstance(layer, keras.layers.Dense):
        raise TypeError(
            f"`layer` must be a keras.layers.Dense; received {layer!r}"
        )
    if not layer.built:
        raise ValueError(
            f"`layer` must be built (its kernel drawn); {layer.name!r} is "
            "not: call it on inputs or `layer.build(input_shape)` first"
        )
    if layer.bias is None:
        raise ValueError(
            f"`layer` must have a bias; {layer.name!r} has use_bias=False"
        )
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    if kernel.ndim != 2:
        raise ValueError(
            f"`layer` must have a 2-D kernel; {layer.name!r} has shape "
            f"{kernel.shape}"
        )
    return kernel


def _finite(layer, name, value, box):
    """`value` cast to `layer`'s weight dtype, or a clear error if it does
    not fit (a box so narrow or so far out that a weight overflows);
    `box` is the `(low, high)` the caller passed."""
    dtype = keras.backend.standardize_dtype(getattr(layer, name).dtype)
    with np.errstate(over="ignore"):
        cast = np.asarray(value).astype(dtype)
    if not np.all(np.isfinite(cast)):
        raise ValueError(
            f"The {name} for the box [low, high] overflows "
            f"{cast.dtype}: low={box[0]!r}, high={box[1]!r}"
        )
    return cast


def box_init(
    layer: Dense,
    low: Point,
    high: Point,
    seed: Seed = None,
    force: bool = False,
) -> Dense:
    """Sets a built Dense layer's kernel and bias by Cyr et al.'s (2020)
    box initialization for the input box [low, high].

    Unit i gets a point p_i uniform in the box and a direction n_i uniform
    on the sphere; in the unit cube u = (x - low) / (high - low) its
    pre-activation is k_i n_i . (u - p_i), k_i = 1 / (n_i . (1[n_i > 0] -
    p_i)): w_i = k_i n_i / (high - low) and b_i = -w_i . (low + (high -
    low) p_i). Every unit's hyperplane passes through the box and its ReLU
    ranges over exactly [0, 1] on it (0 at p_i, 1 at the corner
    1[n_i > 0]). Drawn with `keras.random` (reproducible with `seed` on
    every backend); every other weight is left as it is. Meant for the
    first layer of a ReLU network on low-dimensional inputs.

    Args and return value: as `spread_breakpoints`.
    """
    kernel = _dense(layer)
    box = low, high
    low, high = _region(low, high, kernel.shape[0])
    auditing.check_untrained(
        layer,
        [(layer, [layer.kernel, layer.bias])],
        force,
        "setting the kernel and bias",
    )
    if not isinstance(seed, keras.random.SeedGenerator):
        # One generator for both draws: one integer seed would give the
        # points and the directions the same stream.
        seed = keras.random.SeedGenerator(seed)
    # Open interval: p_i on the cube's face would make k_i infinite.
    tiny = 2.0**-24
    points = keras.random.uniform(
        kernel.shape, tiny, 1 - tiny, dtype="float32", seed=seed
    )
    directions = keras.random.normal(kernel.shape, dtype="float32", seed=seed)
    new_kernel, bias = box_weights(
        low,
        high,
        keras.ops.convert_to_numpy(points),
        keras.ops.convert_to_numpy(directions),
    )
    new_kernel = _finite(layer, "kernel", new_kernel, box)
    bias = _finite(layer, "bias", bias, box)
    layer.kernel.assign(keras.ops.convert_to_tensor(new_kernel))
    layer.bias.assign(keras.ops.convert_to_tensor(bias))
    return layer


def spread_breakpoints(
    layer: Dense,
    low: Point,
    high: Point,
    seed: Seed = None,
    force: bool = False,
) -> Dense:
    """Sets a built Dense layer's bias so that every unit's hyperplane
    w_i . x + b_i = 0 passes through a point of the box [low, high].

    b_i = -w_i . t_i with t_i uniform in the box, drawn with
    `keras.random.uniform` (reproducible with `seed` on every backend). The
    kernel and every other weight are left as they are. Meant for the first
    layer of a ReLU network on low-dimensional inputs.

    Args:
        layer: A built `keras.layers.Dense` with a bias and a 2-D input.
        low: Lower corner of the input region: a scalar or one value per
            input dimension.
        high: Upper corner, likewise; above `low` in every dimension.
            `input_box(inputs)` gives both from a sample of inputs.
        seed: Integer seed, `keras.random.SeedGenerator`, or None.
        force: Rewrite even weights that are not a fresh draw of their
            own initializer (trained, loaded, set by hand); without it
            that raises a ValueError naming them and changes nothing.

    Returns:
        The layer.
    """
    kernel = _dense(layer)
    zero = np.flatnonzero(np.all(kernel == 0, axis=0))
    if zero.size:
        raise ValueError(
            f"`layer` {layer.name!r} has units whose kernel column is all "
            f"zero, so their hyperplane is undefined: units {zero.tolist()}"
        )
    box = low, high
    low, high = _region(low, high, kernel.shape[0])
    auditing.check_untrained(
        layer, [(layer, [layer.bias])], force, "setting the bias"
    )
    uniforms = keras.random.uniform(kernel.shape, dtype="float32", seed=seed)
    bias = breakpoint_bias(
        kernel, low, high, keras.ops.convert_to_numpy(uniforms)
    )
    bias = _finite(layer, "bias", bias, box)
    layer.bias.assign(keras.ops.convert_to_tensor(bias))
    return layer
