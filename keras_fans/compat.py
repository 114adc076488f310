"""Adapters that let the runtime patch run on every Keras 3 release.

Upstream file: none. The pull request targets Keras's newest source, which
has what these adapters supply on older releases. Each adapter names the
releases that need it; on the others it is Keras's own object.
"""

import inspect
import math

from keras.src.initializers import random_initializers
from keras.src.layers.core import einsum_dense

# The releases the suite runs against (`bash shell/keras_releases.sh`): the
# newest patch release of every minor from 3.0, and the newest keras-nightly.
# `patch()` warns on a Keras newer than the last one (older than 3.0 is
# refused by `keras_fans._keras_3`).
TESTED_RELEASES = (
    "3.0.5",
    "3.1.1",
    "3.2.1",
    "3.3.3",
    "3.4.1",
    "3.5.0",
    "3.6.0",
    "3.7.0",
    "3.8.0",
    "3.9.2",
    "3.10.0",
    "3.11.3",
    "3.12.4",
    "3.13.2",
    "3.14.1",
    "3.15.1",
    "3.16.0.dev2026102704",
)
_stock_compute_fans = random_initializers.compute_fans
# Keras 3.15 added `input_axes` / `output_axes` to `compute_fans` and
# `VarianceScaling`.
HAS_FAN_AXES = "input_axes" in inspect.signature(_stock_compute_fans).parameters


def _compute_fans_with_axes(shape, input_axes=None, output_axes=None):
    """Keras before 3.15: `compute_fans(shape)` takes no axes.

    With both axis lists given, fan_in and fan_out are the products of the
    shape along them, as in 3.15; otherwise stock `compute_fans(shape)`.
    """
    if input_axes is None or output_axes is None:
        return _stock_compute_fans(shape)
    fan_in = math.prod(int(shape[axis]) for axis in input_axes)
    fan_out = math.prod(int(shape[axis]) for axis in output_axes)
    return fan_in, fan_out


# Stock `compute_fans`, taking axes on every release.
shape_fans = _stock_compute_fans if HAS_FAN_AXES else _compute_fans_with_axes


def _einsum_kernel_axes(equation):
    """The kernel's input and output axes in `equation` ("x,w->y").

    A kernel letter that appears in the output is an output axis; one that
    appears only in the input is summed over: an input axis.
    """
    operands, output = equation.replace("...", "").split("->")
    inputs, kernel = operands.split(",")
    input_axes = []
    output_axes = []
    for axis, letter in enumerate(kernel):
        if letter in output:
            output_axes.append(axis)
        elif letter in inputs:
            input_axes.append(axis)
    return input_axes, output_axes


def _analyze_einsum_string_with_axes(
    equation, bias_axes, input_shape, output_shape
):
    """Keras before 3.15: `_analyze_einsum_string` returns `(kernel_shape,
    bias_shape, full_output_shape)`; this appends the kernel's input and
    output axes, as 3.15 does."""
    analysis = einsum_dense._analyze_einsum_string(
        equation, bias_axes, input_shape, output_shape
    )
    return (*analysis, *_einsum_kernel_axes(equation))


# `einsum_dense._analyze_einsum_string`, returning the kernel axes too on
# every release.
analyze_einsum_string = (
    einsum_dense._analyze_einsum_string
    if HAS_FAN_AXES
    else _analyze_einsum_string_with_axes
)

# Keras before 3.15: `VarianceScaling` has no `input_axes` / `output_axes`.
# While patched, the class gets them as `None` (3.15's defaults), which the
# replaced `__call__` reads: `(owner, attribute, value)`.
REPLACEMENTS = (
    ()
    if HAS_FAN_AXES
    else tuple(
        (random_initializers.VarianceScaling, name, None)
        for name in ("input_axes", "output_axes")
    )
)
