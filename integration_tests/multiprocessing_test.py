"""`patch()` is per process: a worker started with multiprocessing's
`spawn` (the default of `torch.multiprocessing.spawn`, hence of DDP, and of
macOS and Windows) is a fresh interpreter that never ran the parent's
`patch()`; it must patch itself, in the worker function or at the top of
the module that defines it (which each worker imports)."""

import math
import multiprocessing

import keras
import numpy as np
import pytest

import keras_fans
from keras_fans import testing

pytestmark = testing.runtime_only("tests where patch() must be called")

# Dense(4096, bias_initializer="he_uniform") on 16 inputs: stock biases lie
# within sqrt(6 / 4096); with the layer's fans, within sqrt(6 / 16).
# sqrt(6 / 4096) rounded to float32, as the draw's bound is: a float32
# draw can equal it, and exceed the float64 value.
STOCK_LIMIT = float(np.float32(math.sqrt(6 / 4096)))
START_METHODS = multiprocessing.get_all_start_methods()


def largest_bias(patch_here):
    """The worker: builds the README's layer, patching first if asked."""
    if patch_here:
        keras_fans.patch()
    layer = keras.layers.Dense(4096, bias_initializer="he_uniform")
    layer.build((None, 16))
    return float(np.abs(testing.numpy(layer.bias)).max())


def test_a_spawned_worker_patches_itself():
    keras_fans.patch()  # The parent's patch does not reach the worker.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        unpatched = pool.apply(largest_bias, (False,))
        patched = pool.apply(largest_bias, (True,))
    assert unpatched <= STOCK_LIMIT
    # All 4096 within sqrt(6 / 4096) of U(+-sqrt(6 / 16)): p = 0.0625**4096.
    assert STOCK_LIMIT < patched <= math.sqrt(6 / 16)


@pytest.mark.skipif(
    keras.backend.backend() != "torch" or "fork" not in START_METHODS,
    reason="fork: torch backend on a POSIX system only (forking a process "
    "in which JAX or TensorFlow started threads can deadlock)",
)
def test_a_forked_worker_inherits_the_patch_in_effect_when_forked():
    keras_fans.patch()
    with multiprocessing.get_context("fork").Pool(1) as pool:
        patched = pool.apply(largest_bias, (False,))
    keras_fans.unpatch()
    with multiprocessing.get_context("fork").Pool(1) as pool:
        unpatched = pool.apply(largest_bias, (False,))
    assert STOCK_LIMIT < patched <= math.sqrt(6 / 16)
    assert unpatched <= STOCK_LIMIT
