import pytest

import keras_fans


@pytest.fixture(autouse=True)
def _stock_keras_after_each_test():
    """Each test starts and ends with stock Keras."""
    keras_fans.unpatch()
    yield
    keras_fans.unpatch()


def pytest_report_header():
    import keras

    return f"keras {keras.version()}, backend {keras.backend.backend()}"
