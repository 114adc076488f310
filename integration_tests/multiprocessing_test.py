"""`patch()` is per process: a worker started with multiprocessing's
`spawn` (the default of `torch.multiprocessing.spawn`, hence of DDP, and of
macOS and Windows) is a fresh interpreter that never ran the parent's
`patch()`; it must patch itself, in the worker function or at the top of
the module that defines it (which each worker imports)."""

import math
import multiprocessing
import subprocess
import sys
from pathlib import Path

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


# The parent of the forks: a fresh interpreter that runs no torch op before
# forking. A child forked after the parent's OpenMP threads started can hang
# in its first parallel op (libgomp is not fork-safe), as one did in a test
# process that had run other tests. Prints the patched, then the stock bias.
FORKING_PARENT = """
import multiprocessing, sys
sys.path.insert(0, sys.argv[1])
import keras_fans
from multiprocessing_test import largest_bias
def forked_largest_bias():
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(largest_bias, (False,))
keras_fans.patch()
print(forked_largest_bias())
keras_fans.unpatch()
print(forked_largest_bias())
"""


@pytest.mark.skipif(
    keras.backend.backend() != "torch" or "fork" not in START_METHODS,
    reason="fork: torch backend on a POSIX system only (JAX and TensorFlow "
    "start threads at import, and forking after that can deadlock)",
)
def test_a_forked_worker_inherits_the_patch_in_effect_when_forked():
    result = subprocess.run(
        [sys.executable, "-c", FORKING_PARENT, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    patched, unpatched = map(float, result.stdout.split()[-2:])
    assert STOCK_LIMIT < patched <= math.sqrt(6 / 16)
    assert unpatched <= STOCK_LIMIT
