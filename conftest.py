import inspect

import keras
import pytest

import keras_fans
from keras_fans import patching
from keras_fans import testing


def _missing_fan_context():
    """What the installed Keras lacks of the fan context, or None."""
    keras_initializers = keras.src.initializers
    call = keras_initializers.VarianceScaling.__call__
    if "fan_in" not in inspect.signature(call).parameters:
        return "its VarianceScaling.__call__ takes no fan_in"
    if not hasattr(keras_initializers, "with_fans"):
        return "keras.src.initializers has no with_fans"
    return None


def _patch_in_native_mode(*args, **kwargs):
    raise AssertionError(
        "Native mode (KERAS_FANS_NATIVE=1) tests Keras's own fan context and "
        "must not patch: use keras_fans.testing.fans_on(), or mark the test "
        "keras_fans.testing.runtime_only(reason)."
    )


def pytest_configure(config):
    if not testing.NATIVE:
        return
    missing = _missing_fan_context()
    if missing is not None:
        pytest.exit(
            f"KERAS_FANS_NATIVE=1, but the installed Keras {keras.version()} "
            f"({keras.__path__[0]}) has no fan context: {missing}. Install a "
            "natively fixed Keras, or unset KERAS_FANS_NATIVE to test the "
            "runtime patch.",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    for module in (keras_fans, patching):
        module.patch = _patch_in_native_mode
        module.patched = _patch_in_native_mode


@pytest.fixture(autouse=True)
def _stock_keras_after_each_test():
    """Each test starts and ends unpatched (nothing to undo in native mode),
    with fixed seeds (an unseeded initializer draws its seed from Python's
    `random`)."""
    keras_fans.unpatch()
    keras.utils.set_random_seed(1337)
    yield
    keras_fans.unpatch()


def pytest_report_header():
    if testing.NATIVE:
        mode = f"native Keras at {keras.__path__[0]} (KERAS_FANS_NATIVE=1)"
    else:
        mode = "keras_fans.patch()"
    return (
        f"keras {keras.version()}, backend {keras.backend.backend()}, "
        f"fan context: {mode}"
    )
