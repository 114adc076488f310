import keras
import pytest

import keras_fans


@pytest.fixture(autouse=True)
def _stock_keras_after_each_test():
    """Each test starts and ends with stock Keras, with fixed seeds (an
    unseeded initializer draws its seed from Python's `random`)."""
    keras_fans.unpatch()
    keras.utils.set_random_seed(1337)
    yield
    keras_fans.unpatch()


def pytest_report_header():
    return f"keras {keras.version()}, backend {keras.backend.backend()}"
