"""These tests are copied into Keras by the generator, which has the fan
context built in; here each runs with it switched on (in native mode,
Keras has it already)."""

import pytest

from keras_fans import testing


@pytest.fixture(autouse=True)
def _fans_on(request):
    if testing.keras_before("3.6"):
        pytest.skip(
            "written for Keras's test base class, absl's "
            "parameterized.TestCase (assertBetween, parameters) since 3.6"
        )
    if request.node.name.startswith(
        "test_other_random_initializers_ignore_fans"
    ) and testing.keras_before("3.7"):
        pytest.skip(
            "one of its cases is `initializers.Orthogonal`, which Keras "
            "before 3.7 calls `OrthogonalInitializer`"
        )
    with testing.fans_on():
        yield
