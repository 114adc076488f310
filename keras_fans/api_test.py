"""The public API's type hints (issue 22, 6): every function of
`keras_fans.__all__`, and `audit_file`, annotates each parameter and its
return value, and the hints resolve (`py.typed` ships them, see
`integration_tests/wheel_install_test.py`)."""

import inspect
import typing

import pytest

import keras_fans
from keras_fans import auditing
from keras_fans import testing

FUNCTIONS = {
    name: getattr(keras_fans, name)
    for name in keras_fans.__all__
    if inspect.isfunction(getattr(keras_fans, name))
}


def test_every_public_function_is_listed():
    assert sorted(FUNCTIONS) == [
        "audit",
        "box_init",
        "compute_fans",
        "is_patched",
        "patch",
        "patched",
        "reset_parameters",
        "spread_breakpoints",
        "unpatch",
    ]


@testing.runtime_only(
    "native mode stubs patch() and patched() (the root conftest.py); the "
    "hints do not depend on Keras"
)
@pytest.mark.parametrize(
    "function",
    [*FUNCTIONS.values(), auditing.audit_file],
    ids=lambda function: function.__name__,
)
def test_a_public_function_is_annotated(function):
    hints = typing.get_type_hints(function)
    parameters = inspect.signature(function).parameters
    assert set(hints) == {*parameters, "return"}


def test_the_initializer_s_fan_keywords_are_annotated():
    hints = typing.get_type_hints(
        keras_fans.initializers.PyTorchUniform.__call__
    )
    assert {"shape", "dtype", "fan_in", "fan_out"} <= set(hints)
