"""Bias fans of the core layers.

Upstream files: `keras/src/layers/core/dense.py`,
`keras/src/layers/core/einsum_dense.py` and, in Keras main,
`keras/src/layers/core/ternary_dense.py` (the bias `add_weight` in
`build`).
"""

from keras.src.layers.core import einsum_dense
from keras.src.layers.core.dense import Dense

from keras_fans import compat
from keras_fans.initializers.random_initializers import compute_fans
from keras_fans.layers.weight_fans import FanRule

# Keras's `_analyze_einsum_string`, with the kernel axes on every release.
_analyze_einsum_string = compat.analyze_einsum_string


def _dense_bias_fans(layer, input_shape):
    """Each output unit sums the `input_shape[-1]` inputs."""
    return input_shape[-1], layer.units


def _einsum_dense_bias_fans(layer, input_shape):
    """The fans of the kernel along its input and output axes."""
    kernel_shape, _, _, input_axes, output_axes = _analyze_einsum_string(
        layer.equation,
        layer.bias_axes,
        input_shape,
        layer.partial_output_shape,
    )
    return compute_fans(kernel_shape, input_axes, output_axes)


RULES = (
    FanRule(Dense, "bias", _dense_bias_fans),
    FanRule(einsum_dense.EinsumDense, "bias", _einsum_dense_bias_fans),
    # In Keras main (keras-nightly 3.16), not in 3.15.
    FanRule(
        "keras.src.layers.core.ternary_dense.TernaryDense",
        "bias",
        _dense_bias_fans,
    ),
)
