"""`reset_parameters`: re-draw a Keras model's weights as PyTorch would, or
as a build under `keras_fans.patch()` would.

Upstream file: none; a keras_fans utility. It reuses the bias fan rules
(`keras_fans/layers/`), whose fan-in is the one PyTorch uses for `Linear`,
`Conv*d` and depthwise convolutions; `ConvTranspose*d`'s is its own.
"""

import math
import warnings
from typing import Literal

import keras
from keras.src.layers.convolutional.base_conv_transpose import BaseConvTranspose

from keras_fans import patching
from keras_fans.auditing import check_untrained
from keras_fans.auditing import redraw_with_fans
from keras_fans.layers import convolutional
from keras_fans.layers import core


def _conv_transpose_fans(layer, input_shape):
    """PyTorch's, of a ConvTranspose weight `(in, out, *kernel_size)`:
    fan_in = prod(kernel_size) * filters (`patch()` leaves these stock)."""
    return math.prod(layer.kernel_size) * layer.filters, None


# The fan-in of a linear or convolutional layer: its bias fan rule (of
# `patch()`), or PyTorch's for a transposed convolution.
_FAN_IN = {
    rule.installed_class(): rule.fans
    for rule in core.RULES + convolutional.RULES
} | {BaseConvTranspose: _conv_transpose_fans}


def _uniform(variable, bound, seed):
    variable.assign(
        keras.random.uniform(
            variable.shape, -bound, bound, dtype=variable.dtype, seed=seed
        )
    )


def _fill(variable, value):
    variable.assign(keras.ops.full(variable.shape, value, variable.dtype))


def _fan_in(layer, rule_class):
    input_shape = next(iter(layer._build_shapes_dict.values()))
    return _FAN_IN[rule_class](layer, input_shape)[0]


def _linear(rule_class):
    """`nn.Linear` / `nn.Conv*d` / `nn.ConvTranspose*d`: the kernel by
    `kaiming_uniform_(a=sqrt(5))`, the bias likewise: both
    U(+-1/sqrt(fan_in))."""

    def reset(layer, seed):
        bound = 1 / math.sqrt(_fan_in(layer, rule_class))
        # Dense, EinsumDense and Conv keep the variable as `_kernel`.
        kernel = layer._kernel if hasattr(layer, "_kernel") else layer.kernel
        for variable in (kernel, layer.bias):
            if variable is not None:
                _uniform(variable, bound, seed)

    return reset


def _depthwise(layer, seed):
    """`nn.Conv*d(groups=in_channels)`: kernel and bias U(+-1/sqrt(k))."""
    bound = 1 / math.sqrt(math.prod(layer.kernel_size))
    for variable in (layer.kernel, layer.bias):
        if variable is not None:
            _uniform(variable, bound, seed)


def _separable(layer, seed):
    """A depthwise `nn.Conv*d` then a 1x1 `nn.Conv*d`."""
    _uniform(
        layer.depthwise_kernel,
        1 / math.sqrt(math.prod(layer.kernel_size)),
        seed,
    )
    bound = 1 / math.sqrt(_fan_in(layer, convolutional.BaseSeparableConv))
    for variable in (layer.pointwise_kernel, layer.bias):
        if variable is not None:
            _uniform(variable, bound, seed)


def _recurrent(layer, seed):
    """`nn.RNN` / `nn.LSTM` / `nn.GRU`: every weight U(+-1/sqrt(hidden)).

    PyTorch has an input and a recurrent bias. Keras's GRU with
    `reset_after=True` has both, drawn alike; LSTM and SimpleRNN add them
    into one bias, drawn as the sum of two uniform draws.
    """
    bound = 1 / math.sqrt(layer.units)
    _uniform(layer.kernel, bound, seed)
    _uniform(layer.recurrent_kernel, bound, seed)
    if layer.bias is None:
        return
    if isinstance(layer, keras.layers.GRUCell):
        _uniform(layer.bias, bound, seed)
    else:
        layer.bias.assign(
            sum(
                keras.random.uniform(layer.bias.shape, -bound, bound, seed=seed)
                for _ in range(2)
            )
        )


def _multi_head_attention(layer, seed):
    """`nn.MultiheadAttention`: the packed query/key/value projection
    `(3E, E)` by `xavier_uniform_`, U(+-sqrt(6 / 4E)); the output
    projection as `nn.Linear`, U(+-1/sqrt(E)); every bias zero."""
    embed_dim = layer._query_dense.kernel.shape[0]
    projections = (layer._query_dense, layer._key_dense, layer._value_dense)
    for dense in projections:
        _uniform(dense.kernel, math.sqrt(6 / (4 * embed_dim)), seed)
    output = layer._output_dense
    _uniform(
        output.kernel, 1 / math.sqrt(math.prod(output.kernel.shape[:-1])), seed
    )
    for dense in projections + (output,):
        if dense.bias is not None:
            _fill(dense.bias, 0.0)


def _embedding(layer, seed):
    """`nn.Embedding`: N(0, 1)."""
    layer.embeddings.assign(
        keras.random.normal(
            layer.embeddings.shape, dtype=layer.embeddings.dtype, seed=seed
        )
    )


def _normalization(layer, seed):
    """`nn.LayerNorm` / `nn.BatchNorm*d`: scale 1, shift 0, fresh stats."""
    for name, value in (
        ("gamma", 1.0),
        ("beta", 0.0),
        ("moving_mean", 0.0),
        ("moving_variance", 1.0),
    ):
        variable = getattr(layer, name, None)
        if variable is not None:
            variable.assign(
                keras.ops.full(variable.shape, value, variable.dtype)
            )


def _supports_multi_head_attention(layer):
    """The layout `nn.MultiheadAttention` has: key, value and the heads
    all as wide as the query."""
    widths = {
        dense.kernel.shape[0]
        for dense in (layer._query_dense, layer._key_dense, layer._value_dense)
    }
    return widths == {layer._num_heads * layer._key_dim}


_RESETS = (
    (keras.layers.Dense, _linear(keras.layers.Dense)),
    (keras.layers.EinsumDense, _linear(keras.layers.EinsumDense)),
    (convolutional.BaseConv, _linear(convolutional.BaseConv)),
    (BaseConvTranspose, _linear(BaseConvTranspose)),
    (convolutional.BaseDepthwiseConv, _depthwise),
    (convolutional.BaseSeparableConv, _separable),
    (keras.layers.SimpleRNNCell, _recurrent),
    (keras.layers.LSTMCell, _recurrent),
    (keras.layers.Embedding, _embedding),
    (keras.layers.LayerNormalization, _normalization),
    (keras.layers.BatchNormalization, _normalization),
)


def _reset_for(layer):
    """The reset function for `layer`, or None if PyTorch has no match."""
    # PyTorch's modules have no quantized or LoRA weights.
    if getattr(layer, "quantization_mode", None) is not None or getattr(
        layer, "lora_enabled", False
    ):
        return None
    if isinstance(layer, keras.layers.GRUCell):
        # PyTorch's GRU applies the reset gate after the recurrent product.
        return _recurrent if layer.reset_after else None
    if isinstance(layer, keras.layers.MultiHeadAttention):
        supported = type(layer) is keras.layers.MultiHeadAttention
        if supported and _supports_multi_head_attention(layer):
            return _multi_head_attention
        return None
    for layer_class, reset in _RESETS:
        if isinstance(layer, layer_class):
            return reset
    return None


def _own_weights(layer):
    """`(sublayer, its own weights)` for `layer` and each layer in it."""
    for sublayer in layer._flatten_layers(include_self=True, recursive=True):
        inner = {
            id(w)
            for child in sublayer._flatten_layers(
                include_self=False, recursive=False
            )
            for w in child.weights
        }
        yield sublayer, [w for w in sublayer.weights if id(w) not in inner]


def reset_parameters(
    model_or_layer: keras.layers.Layer,
    style: Literal["pytorch", "fans"] = "pytorch",
    seed: int | None = None,
    depthwise_kernels: bool | None = None,
    force: bool = False,
) -> list[str]:
    """Re-draws, in place, weights of `model_or_layer`.

    - `style="pytorch"`: every weight as PyTorch's `reset_parameters()`
      draws those of the matching `torch.nn` module, seeded by `seed`.
    - `style="fans"`: each weight that `keras_fans.audit` finds, exactly as
      a build under `keras_fans.patch()` draws it (the layer's own
      initializer and seed, handed its true fans); other weights untouched.
      Only weights whose values still hold a stock draw (`audit`'s
      `draw == "stock"`), of a model whose optimizer has taken no step:
      otherwise it raises, naming each weight and why, and changes nothing.

    Args:
        model_or_layer: A built Keras layer or model.
        style: `"pytorch"` or `"fans"`.
        seed: Integer seed for Keras's seed machinery, 0 to 2**31 - 1
            (what every backend's seed state holds), or None
            (`"pytorch"` only).
        depthwise_kernels: As in `patch()`, whether depthwise kernels are
            re-drawn with the fans of one channel's filter (`"fans"` only).
            None: the option of the `patch()` in effect, else `True`.
        force: Re-draw even weights that may be trained or loaded:
            `"fans"`: every weight `audit` finds, even trained, loaded or
            undecided ones; `"pytorch"`: weights that are not a fresh draw
            of their own initializer.

    Raises:
        ValueError: without `force=True`, when the optimizer has taken
            steps or (`"fans"`) a weight is not a stock draw, (`"pytorch"`)
            not a fresh draw of its initializer; naming each weight and
            why, changing nothing.

    Warns:
        UserWarning: `"pytorch"`, naming each layer with weights of its own
            left alone (PyTorch has no counterpart).

    Returns:
        The paths (`variable.path`) of the weights re-drawn, in the order
        of `model_or_layer.weights`, for either style.
    """
    if not isinstance(model_or_layer, keras.layers.Layer):
        raise TypeError(
            "`model_or_layer` must be a Keras model or layer. Received: "
            f"model_or_layer={model_or_layer!r}"
        )
    if style not in ("pytorch", "fans"):
        raise ValueError(
            f'`style` must be "pytorch" or "fans". Received: style={style!r}'
        )
    if style == "fans" and seed is not None:
        raise ValueError(
            'style="fans" draws with each layer\'s own initializer and its '
            f"seed; `seed` must be None. Received: seed={seed!r}"
        )
    if not isinstance(force, bool):
        raise TypeError(
            f"`force` must be True or False. Received: force={force!r}"
        )
    if depthwise_kernels is not None and not isinstance(
        depthwise_kernels, bool
    ):
        raise TypeError(
            "`depthwise_kernels` must be True, False or None. Received: "
            f"depthwise_kernels={depthwise_kernels!r}"
        )
    if seed is not None and (
        not isinstance(seed, int)
        or isinstance(seed, bool)
        or not 0 <= seed < 2**31
    ):
        raise ValueError(
            "`seed` must be None or an integer from 0 to 2**31 - 1. "
            f"Received: seed={seed!r}"
        )
    if style == "pytorch" and depthwise_kernels is not None:
        raise ValueError(
            '`depthwise_kernels` applies to style="fans" only. Received: '
            f"depthwise_kernels={depthwise_kernels!r}"
        )
    if not model_or_layer.built:
        raise ValueError(
            f"Build {model_or_layer.name!r} before resetting its parameters."
        )
    if style == "fans":
        if depthwise_kernels is None:
            depthwise_kernels = patching._options.get("depthwise_kernels", True)
        return redraw_with_fans(model_or_layer, depthwise_kernels, force)
    resets, unsupported = [], []

    def visit(layer):
        reset = _reset_for(layer)
        if reset is not None:
            resets.append((layer, reset))
            return
        sublayers = layer._flatten_layers(include_self=False, recursive=False)
        inner = {id(w) for sublayer in sublayers for w in sublayer.weights}
        if any(id(w) not in inner for w in layer.weights):
            unsupported.append(layer)
        for sublayer in sublayers:
            visit(sublayer)

    visit(model_or_layer)
    check_untrained(
        model_or_layer,
        [owner for layer, _ in resets for owner in _own_weights(layer)],
        force,
        "resetting the weights",
    )
    if unsupported:
        names = ", ".join(f"{type(x).__name__} {x.name!r}" for x in unsupported)
        warnings.warn(
            "keras_fans.reset_parameters(): left alone, as PyTorch has no "
            f"counterpart: {names}.",
            stacklevel=2,
        )
    seed = keras.random.SeedGenerator(seed)
    for layer, reset in resets:
        reset(layer, seed)
    redrawn = {id(w) for layer, _ in resets for w in layer.weights}
    return [w.path for w in model_or_layer.weights if id(w) in redrawn]
