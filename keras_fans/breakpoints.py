"""`spread_breakpoints`: place a first Dense layer's ReLU breakpoints in the
input region.

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

References:
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

import keras
import numpy as np


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
    if not np.all(np.isfinite(bounds["high"] - bounds["low"])):
        raise ValueError(
            "The region [low, high] is too wide: `high - low` overflows. "
            f"Received: low={low!r}, high={high!r}"
        )
    empty = np.flatnonzero(bounds["high"] <= bounds["low"])
    if empty.size:
        i = empty[0]
        raise ValueError(
            "The region [low, high] is empty or inverted: `high` must "
            f"exceed `low` in every dimension; in dimension {i}, "
            f"low={float(bounds['low'][i])} and high={float(bounds['high'][i])}"
        )
    return bounds["low"], bounds["high"]


def spread_breakpoints(layer, low, high, seed=None):
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

    Returns:
        The layer.
    """
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
    zero = np.flatnonzero(np.all(kernel == 0, axis=0))
    if zero.size:
        raise ValueError(
            f"`layer` {layer.name!r} has units whose kernel column is all "
            f"zero, so their hyperplane is undefined: units {zero.tolist()}"
        )
    region = _region(low, high, kernel.shape[0])
    uniforms = keras.random.uniform(kernel.shape, dtype="float32", seed=seed)
    bias = breakpoint_bias(
        kernel, *region, keras.ops.convert_to_numpy(uniforms)
    )
    bias = keras.ops.convert_to_numpy(
        keras.ops.convert_to_tensor(bias, layer.bias.dtype)
    )
    if not np.all(np.isfinite(bias)):
        raise ValueError(
            f"The region [low, high] is too far out: the bias of "
            f"{layer.name!r} overflows its dtype ({layer.bias.dtype}). "
            f"Received: low={low!r}, high={high!r}"
        )
    layer.bias.assign(bias)
    return layer
