import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_fans
from keras_fans import _keras_3
from keras_fans import compat
from keras_fans import patching
from keras_fans import testing
from keras_fans.initializers import random_initializers
from keras_fans.layers import weight_fans

pytestmark = testing.runtime_only(
    "tests patch(), unpatch(), patched() and the Keras version check"
)

VS = keras.src.initializers.random_initializers


def stock_objects():
    """Each replaced attribute's object; `_ABSENT` for one Keras lacks."""
    return {
        (owner, name): vars(owner).get(name, patching._ABSENT)
        for owner, name, _ in patching._replacements()
    }


def test_patch_is_idempotent_and_unpatch_restores_the_same_objects():
    stock = stock_objects()
    assert not keras_fans.is_patched()
    keras_fans.patch()
    keras_fans.patch()
    assert keras_fans.is_patched()
    assert VS.compute_fans is random_initializers.compute_fans
    assert all(
        vars(o).get(n, patching._ABSENT) is not f for (o, n), f in stock.items()
    )
    keras_fans.unpatch()
    keras_fans.unpatch()
    assert not keras_fans.is_patched()
    assert stock_objects() == stock
    for (owner, name), original in stock.items():
        assert vars(owner).get(name, patching._ABSENT) is original


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


@pytest.mark.parametrize("version", ["2.15.0", "2.4.3", "3.0.0rc1"])
def test_keras_2_and_before_3_are_refused(monkeypatch, version):
    monkeypatch.setattr(keras, "version", lambda: version)
    with pytest.raises(RuntimeError, match=re.escape(version)) as error:
        keras_fans.patch()
    assert "Keras 2 and tf-keras are not supported" in str(error.value)
    assert not keras_fans.is_patched()


def test_importing_under_keras_2_is_refused_naming_the_version(tmp_path):
    # A stand-in Keras 2: a package with only a version, first on the path.
    (tmp_path / "keras").mkdir()
    (tmp_path / "keras" / "__init__.py").write_text('__version__ = "2.15.0"')
    result = subprocess.run(
        # `import keras_fans` imports no Keras; its first name used does.
        [sys.executable, "-c", "import keras_fans; keras_fans.patch"],
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "ImportError: keras_fans needs Keras 3 (>=3.0); the installed Keras "
        "is 2.15.0. Keras 2 and tf-keras are not supported."
    )


@pytest.mark.parametrize(
    "version",
    ["3.0.0", compat.TESTED_RELEASES[0], compat.TESTED_RELEASES[-1]],
)
def test_tested_releases_are_patched_without_a_warning(monkeypatch, version):
    monkeypatch.setattr(keras, "version", lambda: version)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        keras_fans.patch()
    assert keras_fans.is_patched()


@pytest.mark.parametrize("version", ["3.16.0", "3.17.0.dev2027010104", "4.0"])
def test_a_newer_release_that_matches_is_patched_with_a_warning(
    monkeypatch, version
):
    monkeypatch.setattr(keras, "version", lambda: version)
    tested = (
        f"tested with Keras {compat.TESTED_RELEASES[0]} to "
        f"{compat.TESTED_RELEASES[-1]}; the installed Keras is {version}"
    )
    with pytest.warns(UserWarning, match=re.escape(tested)):
        keras_fans.patch()
    assert keras_fans.is_patched()


def test_a_build_without_the_input_shape_is_refused_naming_the_layer(
    monkeypatch,
):
    monkeypatch.setattr(keras.src.layers.Dense, "build", lambda self: None)
    with pytest.raises(
        RuntimeError,
        match=re.escape(
            "keras_fans cannot patch keras.src.layers.core.dense.Dense: its "
            "`build` takes ['self'], expected `self` and the input shape"
        ),
    ):
        keras_fans.patch()
    assert not keras_fans.is_patched()


def test_an_add_weight_without_initializer_is_refused(monkeypatch):
    def add_weight(self, shape=None, name=None):
        pass

    monkeypatch.setattr(weight_fans, "_stock_add_weight", add_weight)
    with pytest.raises(RuntimeError, match="add_weight: it takes no `init"):
        keras_fans.patch()
    assert not keras_fans.is_patched()


def test_a_missing_replaced_attribute_is_refused_naming_it(monkeypatch):
    monkeypatch.delattr(VS, "compute_fans")
    with pytest.raises(
        RuntimeError,
        match=re.escape(
            "keras.src.initializers.random_initializers has no `compute_fans`"
        ),
    ):
        keras_fans.patch()
    assert not keras_fans.is_patched()


def test_pyproject_declares_keras_3_without_an_upper_pin():
    pyproject = Path(__file__).parents[1] / "pyproject.toml"
    dependencies = tomllib.loads(pyproject.read_text())["project"][
        "dependencies"
    ]
    assert f"keras>={_keras_3.OLDEST_SUPPORTED}" in dependencies


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
