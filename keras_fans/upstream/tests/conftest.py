"""These tests are copied into Keras by the generator, which has the fan
context built in; here each runs with it switched on (in native mode,
Keras has it already)."""

import pytest

from keras_fans import testing


@pytest.fixture(autouse=True)
def _fans_on():
    with testing.fans_on():
        yield
