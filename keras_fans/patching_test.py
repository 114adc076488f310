import re
import tomllib
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_fans
from keras_fans import patching
from keras_fans import testing
from keras_fans.initializers import random_initializers

pytestmark = testing.runtime_only(
    "tests patch(), unpatch(), patched() and the Keras version check"
)

VS = keras.src.initializers.random_initializers


def stock_objects():
    return {
        (owner, name): vars(owner)[name]
        for owner, name, _ in patching._replacements()
    }


def test_patch_is_idempotent_and_unpatch_restores_the_same_objects():
    stock = stock_objects()
    assert not keras_fans.is_patched()
    keras_fans.patch()
    keras_fans.patch()
    assert keras_fans.is_patched()
    assert VS.compute_fans is random_initializers.compute_fans
    assert all(vars(o)[n] is not f for (o, n), f in stock.items())
    keras_fans.unpatch()
    keras_fans.unpatch()
    assert not keras_fans.is_patched()
    assert stock_objects() == stock
    for (owner, name), original in stock.items():
        assert vars(owner)[name] is original


def test_patched_context_restores_the_state_it_found():
    with keras_fans.patched():
        assert keras_fans.is_patched()
        with keras_fans.patched():
            assert keras_fans.is_patched()
        assert keras_fans.is_patched()
    assert not keras_fans.is_patched()
    with pytest.raises(KeyError):
        with keras_fans.patched():
            raise KeyError
    assert not keras_fans.is_patched()


def test_unpatch_restores_stock_draws():
    def he_bias():
        layer = keras.layers.Dense(
            64, bias_initializer=keras.initializers.HeUniform(seed=1)
        )
        layer.build((None, 2))
        return testing.numpy(layer.bias)

    initializer = keras.initializers.HeUniform(seed=1)
    stock = he_bias()
    with keras_fans.patched():
        initializer((4,), fan_in=2, fan_out=3)
        patched = he_bias()
    # The patch changed the draw (fan_in 2, not 64), and unpatch undoes it.
    assert not np.array_equal(patched, stock)
    np.testing.assert_array_equal(he_bias(), stock)
    with pytest.raises(TypeError):
        initializer((4,), fan_in=2, fan_out=3)


@pytest.mark.parametrize("version", ["3.14.1", "3.16.0", "4.0.0", "2.15.0"])
def test_unsupported_keras_version_is_refused(monkeypatch, version):
    monkeypatch.setattr(keras, "version", lambda: version)
    with pytest.raises(RuntimeError, match=re.escape(version)) as error:
        keras_fans.patch()
    assert "keras>=3.15.0,<3.16" in str(error.value)
    assert not keras_fans.is_patched()


@pytest.mark.parametrize("version", ["3.15.0", "3.15.1", "3.15.2.dev0"])
def test_supported_keras_versions_are_accepted(monkeypatch, version):
    monkeypatch.setattr(keras, "version", lambda: version)
    keras_fans.patch()
    assert keras_fans.is_patched()


def test_pyproject_declares_the_supported_range():
    pyproject = Path(__file__).parents[1] / "pyproject.toml"
    dependencies = tomllib.loads(pyproject.read_text())["project"][
        "dependencies"
    ]
    assert f"keras{patching.SUPPORTED_KERAS}" in dependencies


def test_patching_again_with_other_options_is_refused():
    keras_fans.patch(depthwise_kernels=False)
    keras_fans.patch(depthwise_kernels=False)
    with pytest.raises(RuntimeError, match="depthwise_kernels"):
        keras_fans.patch()
    with pytest.raises(RuntimeError, match="unpatch"):
        with keras_fans.patched():
            pass
    assert keras_fans.is_patched()
    keras_fans.unpatch()
    with keras_fans.patched():
        assert keras_fans.is_patched()
