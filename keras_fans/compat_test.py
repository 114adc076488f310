import pytest
from keras.src.initializers import random_initializers
from keras.src.layers.core import einsum_dense

from keras_fans import compat

# The adapters for releases before 3.15 must agree with what 3.15 added.
needs_keras_axes = pytest.mark.skipif(
    not compat.HAS_FAN_AXES,
    reason="compares with Keras's own kernel axes, new in Keras 3.15",
)

EINSUMS = [
    # equation, output shape, input shape
    ("ab,bc->ac", 8, (None, 16)),
    ("...b,bc->...c", 8, (None, 3, 16)),
    ("abc,cde->abde", (None, 4, 6), (2, 5, 16)),
    ("abcd,cde->abe", (None, 16), (2, 5, 4, 6)),
    # A kernel letter in the input and the output is an output axis.
    ("abc,bcd->abd", (3, 8), (None, 3, 16)),
    ("bc...,cd->bd...", (8, None), (None, 16, 3)),
]


@needs_keras_axes
@pytest.mark.parametrize("equation, output_shape, input_shape", EINSUMS)
def test_einsum_kernel_axes_agree_with_keras(
    equation, output_shape, input_shape
):
    analysis = einsum_dense._analyze_einsum_string(
        equation, None, input_shape, output_shape
    )
    assert compat._einsum_kernel_axes(equation) == tuple(analysis[3:])


@needs_keras_axes
@pytest.mark.parametrize(
    "shape, input_axes, output_axes",
    [
        ((16, 4, 6), [0], [1, 2]),
        ((4, 6, 16), [0, 1], [2]),
        ((3, 16, 8), [1], [0, 2]),
        ((7,), None, None),
        ((2, 3, 5), [0], None),
    ],
)
def test_compute_fans_with_axes_agrees_with_keras(
    shape, input_axes, output_axes
):
    assert compat._compute_fans_with_axes(
        shape, input_axes, output_axes
    ) == random_initializers.compute_fans(shape, input_axes, output_axes)
