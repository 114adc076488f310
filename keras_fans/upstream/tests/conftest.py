"""These test methods are added to Keras's own test files by the series
(`series.py`); here each runs with the fan context switched on (in native
mode, Keras has it already; with the runtime patch, our `with_fans` stands
in for Keras's). With `KERAS_FANS_UPSTREAM_STOCK=1` they run on stock Keras:
`stock_counterpart_test.py` checks that they then fail on the values."""

import os

import pytest
from keras.src import initializers

from keras_fans import testing
from keras_fans.initializers import fan_context


@pytest.fixture(autouse=True)
def _fans_on(monkeypatch):
    if testing.keras_before("3.6"):
        pytest.skip(
            "written for Keras's test base class, absl's "
            "parameterized.TestCase (assertBetween, parameters) since 3.6"
        )
    if os.environ.get("KERAS_FANS_UPSTREAM_STOCK") == "1":
        yield
        return
    if not testing.NATIVE:
        monkeypatch.setattr(
            initializers, "with_fans", fan_context.with_fans, raising=False
        )
    with testing.fans_on():
        yield
