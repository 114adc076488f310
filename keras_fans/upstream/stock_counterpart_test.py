"""The layer tests the series adds fail on stock Keras, on the values they
check (an `AssertionError`, not a `TypeError` from a new keyword), so
they can fail for the right reason in Keras's own suite."""

import ast
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from keras_fans import testing
from keras_fans.upstream import series

# Regression tests of forms stock Keras already builds: `None`, a plain
# function, a save and load. They pass on stock by design.
PASS_ON_STOCK = {
    "test_bias_initializer_forms",
    "test_bias_values_survive_saving",
}


def _layer_tests():
    ids = set()
    for path in sorted((series.TESTS / "layers").rglob("*_test.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                module = ".".join(
                    path.relative_to(series.TESTS.parents[2])
                    .with_suffix("")
                    .parts
                )
                ids |= {
                    f"{module}.{node.name}.{m.name}"
                    for m in node.body
                    if getattr(m, "name", "").startswith("test_")
                    and m.name not in PASS_ON_STOCK
                }
    return ids


@testing.runtime_only("a natively fixed Keras is not stock")
@pytest.mark.skipif(
    testing.keras_before("3.6"),
    reason="the tests are written for Keras's test base class since 3.6",
)
def test_the_layer_tests_fail_on_stock_values(tmp_path):
    report = tmp_path / "report.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + ["-p", "no:randomly", f"--junitxml={report}", "layers"],
        cwd=series.TESTS,
        env={**os.environ, "KERAS_FANS_UPSTREAM_STOCK": "1"},
        capture_output=True,
    )
    failed_on_values = {
        f"{case.get('classname')}.{case.get('name')}"
        for case in ElementTree.parse(report).iter("testcase")
        for failure in case.iter("failure")
        if failure.get("message", "").startswith("AssertionError")
    }
    assert failed_on_values == _layer_tests()
