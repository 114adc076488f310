"""The house rule, enforced by reading the tests: every test that runs a
statistical check also runs a counterpart that must fail (stock Keras's
values or a mutant's), so the check is shown to have the power it needs.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
# Calls that run a statistical check.
STATISTICAL = {
    "check_variance_scaling_draw",
    "kstest",
    "ks_2samp",
    "as_initialized",
}
# Helpers of `keras_fans.testing` that run a check and its counterpart.
WITH_COUNTERPART = {"check_draw_against", "check_bias_fans"}


def called_name(call):
    function = call.func
    if isinstance(function, ast.Attribute):
        return function.attr
    return getattr(function, "id", None)


def calls(node):
    return {
        called_name(call)
        for call in ast.walk(node)
        if isinstance(call, ast.Call)
    }


def expects_failure(node, statistical):
    """`pytest.raises(AssertionError)`, or `assert not <statistical call>`."""
    if isinstance(node, ast.Call) and called_name(node) == "raises":
        return any(
            getattr(arg, "id", None) == "AssertionError" for arg in node.args
        )
    return (
        isinstance(node, ast.Assert)
        and isinstance(node.test, ast.UnaryOp)
        and isinstance(node.test.op, ast.Not)
        and isinstance(node.test.operand, ast.Call)
        and called_name(node.test.operand) in statistical
    )


def offenders(source):
    """The test functions in `source` that run a statistical check (directly
    or through the module's own functions) and no counterpart."""
    functions = {
        node.name: node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef)
    }
    statistical, counterparted = set(STATISTICAL), set(WITH_COUNTERPART)
    changed = True
    while changed:  # Through helpers, to a fixed point.
        changed = False
        for name, function in functions.items():
            called = calls(function)
            if name not in statistical and called & statistical:
                statistical.add(name)
                changed = True
            if name not in counterparted and (
                called & counterparted
                or any(
                    expects_failure(node, statistical)
                    for node in ast.walk(function)
                )
            ):
                counterparted.add(name)
                changed = True
    return sorted(
        name
        for name in functions
        if name.startswith("test_")
        and name in statistical
        and name not in counterparted
    )


def test_every_statistical_check_has_a_counterpart_that_must_fail():
    test_files = sorted(ROOT.glob("keras_fans/**/*_test.py"))
    test_files += sorted(ROOT.glob("integration_tests/*_test.py"))
    test_files += sorted(ROOT.glob("upstream_tests/*_test.py"))
    assert Path(__file__) in test_files
    found = [
        f"{path.relative_to(ROOT)}::{name}"
        for path in test_files
        for name in offenders(path.read_text())
    ]
    assert found == []


PLANTED = """
import pytest
from keras_fans import testing

def check_wide(values):
    testing.check_variance_scaling_draw(values, "uniform", 1.0)

def test_offender(values):
    check_wide(values)

def test_with_raises(values, stock):
    check_wide(values)
    with pytest.raises(AssertionError):
        check_wide(stock)

def test_with_helper(values, stock):
    testing.check_draw_against(values, stock, "uniform", 1.0)

def test_with_assert_not(x, y):
    assert not stats.ks_2samp(x, y)
"""


def test_a_planted_offender_is_named():
    assert offenders(PLANTED) == ["test_offender"]
