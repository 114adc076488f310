import gc
import math
import re
import subprocess
import sys
import threading
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
        # Layers of earlier tests built unpatched may warn: not this one.
        warnings.filterwarnings("error", message="keras_fans was tested")
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


# The figures: `Dense(4096, bias_initializer="he_uniform")` on 16
# inputs draws its bias within sqrt(6 / 4096) = 0.0383 stock, within
# sqrt(6 / 16) = 0.612 with the layer's fans.
# sqrt(6 / 4096) rounded to float32, as the draw's bound is: a float32
# draw can equal it, and exceed the float64 value.
STOCK_LIMIT = float(np.float32(math.sqrt(6 / 4096)))


def he_dense(units=4096, **kwargs):
    return keras.layers.Dense(units, bias_initializer="he_uniform", **kwargs)


def built_bias(layer):
    layer.build((None, 16))
    return testing.numpy(layer.bias)


def warnings_naming(records, layer):
    return [str(r.message) for r in records if repr(layer.name) in str(r)]


def test_a_layer_created_before_patch_gets_its_fans_when_built_patched():
    created_before = [he_dense(), keras.Sequential([he_dense()])]
    # Counterpart: created before, built after unpatch(): stock.
    stock_before = he_dense()
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        with keras_fans.patched():
            bias = built_bias(created_before[0])
            created_before[1].build((None, 16))
    model_bias = testing.numpy(created_before[1].layers[0].bias)
    stock = built_bias(stock_before)
    assert np.abs(stock).max() <= STOCK_LIMIT
    for values in (bias, model_bias):
        assert np.abs(values).max() > STOCK_LIMIT
        testing.check_draw_against(values, stock, "uniform", 2.0 / 16)
    assert warnings_naming(records, created_before[0]) == []


def test_a_layer_built_before_patch_warns_once_naming_it():
    built = he_dense()
    built_bias(built)
    zeros_bias = keras.layers.Dense(8)  # A zeros bias needs no fans.
    built_bias(zeros_bias)
    with pytest.warns(UserWarning, match="built before patch") as records:
        keras_fans.patch()
    (message,) = warnings_naming(records, built)
    assert "reset_parameters(model_or_layer, style='fans')" in message
    assert warnings_naming(records, zeros_bias) == []
    keras_fans.unpatch()
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        keras_fans.patch()
    assert warnings_naming(records, built) == []


def test_a_layer_created_patched_and_built_after_unpatch_warns():
    with keras_fans.patched():
        layer = he_dense()
        zeros_bias = keras.layers.Dense(8)
    with pytest.warns(UserWarning, match="created while patched") as records:
        bias = built_bias(layer)
    (message,) = warnings_naming(records, layer)
    assert "stock fans for its bias" in message
    assert np.abs(bias).max() <= STOCK_LIMIT
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        built_bias(zeros_bias)
    assert warnings_naming(records, zeros_bias) == []


def test_pytorch_uniform_as_a_bias_without_the_patch_warns():
    def bias(units=4096):
        return built_bias(
            keras.layers.Dense(
                units, bias_initializer=keras_fans.initializers.PyTorchUniform()
            )
        )

    with pytest.warns(UserWarning, match=r"PyTorchUniform drew shape \(4096,"):
        stock = bias()
    # U(+-1/sqrt(4096)) = U(+-0.0156), where PyTorch draws U(+-0.25).
    assert np.abs(stock).max() <= 1 / 64
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        with keras_fans.patched():
            patched = bias()
        kernel = keras_fans.initializers.PyTorchUniform()((16, 4))
    assert [r for r in records if "PyTorchUniform" in str(r.message)] == []
    assert kernel.shape == (16, 4)
    testing.check_draw_against(patched, stock, "uniform", 1 / (3 * 16))


@pytest.mark.parametrize("value", ["False", "no", None, 0, 1, 1.0])
def test_patch_options_are_booleans_only(value):
    message = re.escape(f"Received: depthwise_kernels={value!r}")
    with pytest.raises(TypeError, match=message):
        keras_fans.patch(depthwise_kernels=value)
    assert not keras_fans.is_patched()
    with pytest.raises(TypeError, match=message):
        keras_fans.patched(value)
    assert not keras_fans.is_patched()


def depthwise():
    """A depthwise layer, which draws its kernel (3, 16, 1), then its bias
    (16,): He uniform, fan_in 3 while patched, 16 stock."""
    return keras.layers.DepthwiseConv1D(
        3,
        depthwise_initializer=keras.initializers.GlorotUniform(seed=4),
        bias_initializer=keras.initializers.HeUniform(seed=3),
    )


def build_with_hook(layer, hook):
    """Builds `layer` on 16 channels, running `hook()` inside the uniform
    draw of its kernel, the first of shape (3, 16, 1)."""
    uniform = keras.src.backend.random.uniform
    hooks = [hook]

    def hooked(shape, *args, **kwargs):
        if tuple(shape) == (3, 16, 1) and hooks:
            hooks.pop()()
        return uniform(shape, *args, **kwargs)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(keras.src.backend.random, "uniform", hooked)
        layer.build((None, 5, 16))
    assert not hooks, "the hook did not run"
    return testing.numpy(layer.bias)


def test_a_flip_from_another_thread_waits_for_the_build_to_end():
    # The interleaving forced: unpatch() runs in another thread while the
    # kernel is drawn. It must wait, so the bias gets the fans too.
    with keras_fans.patched():
        expected = build_with_hook(depthwise(), lambda: None)
    keras_fans.patch()
    flipper = threading.Thread(target=keras_fans.unpatch)

    def flip():
        flipper.start()
        flipper.join(timeout=1.0)  # Ample for an unpatch() not held back.

    bias = build_with_hook(depthwise(), flip)
    flipper.join()
    assert not keras_fans.is_patched()
    np.testing.assert_array_equal(bias, expected)
    # Counterpart: an unpatched build's bias differs.
    stock = build_with_hook(depthwise(), lambda: None)
    assert not np.array_equal(stock, expected)


def test_a_flip_inside_a_build_of_the_same_thread_is_refused():
    keras_fans.patch()
    with pytest.raises(RuntimeError, match="while this thread builds"):
        build_with_hook(depthwise(), keras_fans.unpatch)
    assert keras_fans.is_patched()
    keras_fans.unpatch()
    assert not keras_fans.is_patched()


def test_an_unreachable_layer_built_before_patch_is_not_named():
    gc.disable()  # Keep the unreachable layer (Keras's cycles) uncollected.
    try:
        layer = he_dense()
        built_bias(layer)
        name = repr(layer.name)
        del layer
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            keras_fans.patch()
    finally:
        gc.enable()
    assert [r for r in records if name in str(r.message)] == []
