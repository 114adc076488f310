"""A stand-in for Keras's repository-root `conftest.py`, written here.

Keras's source distribution ships its tests but not the root conftest they
import (`from conftest import skip_if_backend`) and whose markers they use.
Loaded with `-p conftest`; with `KERAS_FANS_PATCH=1` it also calls
`keras_fans.patch()` before any test module is collected.
"""

import json
import os

# Imported before collection on purpose: the copied tests live under
# `keras/src/`, and with Keras already imported pytest registers them as
# `keras.src.<module>` inside the installed package instead of making a
# `keras` package of the copied tree.
import keras
import pytest


def skip_if_backend(*backends_then_reason):
    """`@skip_if_backend("openvino", ..., "reason")`: skip on those backends."""
    *backends, reason = backends_then_reason
    return pytest.mark.skipif(
        keras.backend.backend() in backends, reason=reason
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "requires_trainable_backend: needs a backend that trains"
    )
    config.addinivalue_line("markers", "multi_device: needs several devices")
    if os.environ.get("KERAS_FANS_PATCH") == "1":
        import keras_fans

        keras_fans.patch()


def pytest_report_header():
    import keras_fans

    return f"keras_fans patched: {keras_fans.is_patched()}"


def pytest_collection_modifyitems(config, items):
    backend = keras.backend.backend()
    # The torch backend has no distribution support: one device.
    has_distribution = keras.src.backend.distribution_lib is not None
    devices = len(keras.distribution.list_devices()) if has_distribution else 1
    for item in items:
        if "requires_trainable_backend" in item.keywords and backend in (
            "numpy",
            "openvino",
        ):
            item.add_marker(pytest.mark.skip(reason="backend cannot train"))
        if "multi_device" in item.keywords and devices < 2:
            item.add_marker(pytest.mark.skip(reason="needs several devices"))


_outcomes = {}
_collected = set()


def pytest_runtest_logreport(report):
    """Each test's outcome: failed if any phase failed, else its call's."""
    if report.failed or report.when == "call" or report.skipped:
        if _outcomes.get(report.nodeid) != "failed":
            _outcomes[report.nodeid] = report.outcome


def pytest_collectreport(report):
    """A module (or class) that failed to collect is a failed id of its
    own; a module skipped as a whole is a skipped one. Under xdist the
    workers send the controller only these two kinds of collect report."""
    if report.failed or report.skipped:
        _outcomes[report.nodeid] = report.outcome


def pytest_collection_finish(session):
    _collected.update(item.nodeid for item in session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """Under xdist the controller collects nothing: the workers' ids."""
    _collected.update(ids)


def pytest_sessionfinish(session):
    path = os.environ.get("KERAS_FANS_OUTCOMES")
    if path and not hasattr(session.config, "workerinput"):
        with open(path, "w") as file:
            record = {"outcomes": _outcomes, "collected": sorted(_collected)}
            json.dump(record, file, indent=0, sort_keys=True)
