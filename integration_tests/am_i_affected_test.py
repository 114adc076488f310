""" "Am I affected?" answered as users ask it (issue 24): trained, saved and
loaded models, models that compile in `__init__`, KerasHub tasks, and the
command without a working default backend."""

import json
import os
import subprocess
import sys
import types

import keras
import numpy as np
import pytest

import keras_fans
from keras_fans import testing
from keras_fans.__main__ import main
from keras_fans.__main__ import next_step
from keras_fans.auditing import audit_file

pytestmark = testing.runtime_only(
    "the audit compares with what patch() draws; a natively fixed Keras "
    "draws it itself"
)

L = keras.layers


def wide_model():
    """A bias of 4096 after 16 inputs: its stock draw (fan 4096) and its
    fixed one (fan 16) are told apart by a wide margin (`draws` needs 88
    values)."""
    return keras.Sequential(
        [
            keras.Input((16,)),
            L.Dense(4096, bias_initializer="he_uniform", name="wide"),
            L.Dense(1, name="head"),
        ]
    )


def train(model, steps, learning_rate=1e-3):
    model.compile(keras.optimizers.SGD(learning_rate), "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8 * steps, 16)).astype("float32")
    y = rng.normal(size=(8 * steps, 1)).astype("float32")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return model


def values(model):
    return [testing.numpy(v) for v in model.weights]


def draws_of(findings):
    return {(f.path, f.weight): f.draw for f in findings}


def test_a_model_trained_under_the_patch_and_loaded_is_left_alone(tmp_path):
    """Issue 24, 1: a false alarm, then the trained bias re-drawn."""
    with keras_fans.patched():
        model = train(wide_model(), steps=4)
    path = tmp_path / "trained.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    before = values(loaded)
    with pytest.raises(ValueError) as refused:
        keras_fans.reset_parameters(loaded, style="fans")
    for value, kept in zip(values(loaded), before):
        np.testing.assert_array_equal(value, kept)
    assert "optimizer has taken 4 steps" in str(refused.value)
    assert "wide/bias (4096,): " in str(refused.value)
    # Four small steps keep the values a draw with the true fans.
    assert draws_of(keras_fans.audit(loaded)) == {("wide", "bias"): "fixed"}


def test_a_model_trained_without_the_patch_is_refused(tmp_path):
    """Issue 24, 1: trained without the patch, then silently re-drawn.
    Thirty steps leave the bias a plausible stock draw: the optimizer's
    steps refuse it."""
    model = train(wide_model(), steps=30, learning_rate=0.05)
    before = values(model)
    with pytest.raises(ValueError) as refused:
        keras_fans.reset_parameters(model, style="fans")
    for value, kept in zip(values(model), before):
        np.testing.assert_array_equal(value, kept)
    [finding] = keras_fans.audit(model)
    assert finding.draw == "stock", finding.evidence
    message = str(refused.value)
    assert "optimizer has taken 30 steps" in message
    assert "wide/bias (4096,): stock, consistent with the stock draw" in (
        message
    )
    # Asked for, it re-draws.
    redrawn = keras_fans.reset_parameters(model, style="fans", force=True)
    assert redrawn == [model.get_layer("wide").bias.path]
    assert draws_of(keras_fans.audit(model)) == {("wide", "bias"): "fixed"}


def test_a_loaded_bias_of_other_values_is_refused():
    """Set by hand (or loaded), untrained: refused, named, nothing
    changed, although another weight would have been re-drawn."""
    model = keras.Sequential(
        [
            keras.Input((16,)),
            L.Dense(4096, bias_initializer="he_uniform", name="wide"),
            L.Dense(256, bias_initializer="he_uniform", name="set"),
        ]
    )
    model.get_layer("set").bias.assign(np.full(256, 0.01, "float32"))
    before = values(model)
    with pytest.raises(ValueError, match=r"set/bias \(256,\): neither"):
        keras_fans.reset_parameters(model, style="fans")
    for value, kept in zip(values(model), before):
        np.testing.assert_array_equal(value, kept)


def test_a_stock_file_loaded_under_the_patch_is_found(tmp_path):
    """Issue 24, 2: loaded under `patch()`, the stock values were missed."""
    path = tmp_path / "stock.keras"
    wide_model().save(path)
    with keras_fans.patched():
        loaded = keras.saving.load_model(path)
    findings = keras_fans.audit(loaded)
    assert [f.path for f in findings] == ["wide"]
    assert findings[0].draw == "stock", findings[0].evidence
    # A new seed on load: judged by the KS test, not by a redraw.
    assert findings[0].evidence.startswith(
        "consistent with the stock draw only"
    )
    keras_fans.reset_parameters(loaded, style="fans")
    assert draws_of(keras_fans.audit(loaded)) == {("wide", "bias"): "fixed"}


def test_a_file_is_judged_by_the_values_it_stores(tmp_path):
    """Issue 24, 3: a file saved from a patched build exited 1 ("2.83×
    too narrow"): the command audited what a stock build of its config
    would draw. Its values are read now; a config JSON has none."""
    wide_model().save(tmp_path / "stock.keras")
    with keras_fans.patched():
        wide_model().save(tmp_path / "patched.keras")
    train(wide_model(), steps=50, learning_rate=0.1).save(
        tmp_path / "trained.keras"
    )
    (tmp_path / "config.json").write_text(wide_model().to_json())
    expected = {
        "stock": ("stock", "consistent with the stock draw only"),
        "patched": ("fixed", "consistent with the fixed draw only"),
        "trained": ("neither", "not a draw of its initializer"),
        "config": ("no values", "a model-config JSON file"),
    }
    for name, (draw, evidence) in expected.items():
        suffix = ".json" if name == "config" else ".keras"
        [finding] = audit_file(tmp_path / f"{name}{suffix}").findings
        assert (finding.path, finding.draw) == ("wide", draw), name
        assert finding.evidence.startswith(evidence), finding.evidence
    assert main(["audit", str(tmp_path / "patched.keras")]) == 0
    assert main(["audit", str(tmp_path / "trained.keras")]) == 0
    assert main(["audit", str(tmp_path / "stock.keras")]) == 1
    assert main(["audit", str(tmp_path / "config.json")]) == 1


def test_the_next_step_follows_the_values():
    """Undecided values (too few) are neither called stock nor left as
    nothing to repair."""

    steps = {
        draws: next_step([types.SimpleNamespace(draw=draw) for draw in draws])
        for draws in [
            ("fixed", "neither"),
            ("fixed", "undecided"),
            ("stock", "undecided"),
            ("no values",),
        ]
    }
    assert steps[("fixed", "neither")].startswith("Their values are not a")
    assert steps[("fixed", "undecided")].startswith("Some have too few")
    assert steps[("stock", "undecided")].startswith("Next: call")
    assert steps[("no values",)] == steps[("stock", "undecided")]


@keras.saving.register_keras_serializable("keras_fans_test")
class CompilesInInit(keras.Model):
    """Compiles in `__init__`, as every KerasHub task does."""

    def __init__(self, units=64, **kwargs):
        inputs = keras.Input((16,))
        outputs = L.Dense(units, bias_initializer="he_uniform", name="d")(
            inputs
        )
        super().__init__(inputs, outputs, **kwargs)
        self.units = units
        self.compile(optimizer="adam", loss="mse")

    def get_config(self):
        return {"units": self.units, "name": self.name}


@keras.saving.register_keras_serializable("keras_fans_test")
class MakesAnOptimizerInCompile(CompilesInInit):
    """Makes its optimizer in its own `compile`, before `Model.compile`
    (KerasHub's `Task.compile` does)."""

    def compile(self, **kwargs):
        super().compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")


@pytest.mark.parametrize("cls", [CompilesInInit, MakesAnOptimizerInCompile])
def test_a_model_that_compiles_in_init_is_named_not_audited(cls, tmp_path):
    """Issue 24, 4: exit 2, "attempting to create a variable while in a
    stateless scope". The file audit runs no class the file names (issue
    23): the model is named as not audited; loaded in Python (the user's
    trust), `audit` reads it."""
    model = cls()
    path = tmp_path / "compiles.keras"
    model.save(path)
    result = audit_file(path)
    assert (result.findings, result.not_keras) == ([], [model.name])
    # It may be affected (it is): exit 1, not 0.
    assert main(["audit", str(path)]) == 1
    loaded = keras.saving.load_model(path)
    assert [
        (f.path, f.stock_fan, f.true_fan) for f in keras_fans.audit(loaded)
    ] == [("d", 64, 16)]


def test_a_keras_hub_task_is_named_not_audited(tmp_path):
    """Issue 24, 4, on a KerasHub task (a GPT-2 of one tiny layer)."""
    hub = pytest.importorskip(
        "keras_hub",
        reason="keras-hub is not installed: its wheel requires "
        "tensorflow-text, which would replace the pinned TensorFlow; `pip "
        "install --no-deps --target .cache/keras-hub keras-hub regex "
        "tokenizers sentencepiece` and put .cache/keras-hub on PYTHONPATH",
    )
    backbone = hub.models.GPT2Backbone(
        vocabulary_size=50,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
    )
    model = hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    path = tmp_path / "gpt2.keras"
    model.save(path)
    assert audit_file(path).not_keras == [model.name]
    loaded = keras.saving.load_model(path)
    assert keras_fans.audit(loaded) == keras_fans.audit(model)


# A TensorFlow that cannot be imported, as in a JAX-only environment.
NO_TENSORFLOW = "raise ModuleNotFoundError(\"No module named 'tensorflow'\")\n"


def run_without_tensorflow(tmp_path, *args):
    stub = tmp_path / "stub" / "tensorflow"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(NO_TENSORFLOW)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("KERAS_BACKEND", "PYTHONPATH")
    }
    env["PYTHONPATH"] = str(tmp_path / "stub")
    # Keras reads ~/.keras/keras.json for the backend: an empty home.
    env["HOME"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "keras_fans", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_help_needs_no_backend(tmp_path):
    """Issue 24, 5: `--help` printed a 48-line traceback and exited 1."""
    result = run_without_tensorflow(tmp_path, "audit", "--help")
    assert result.returncode == 0, result.stderr
    assert "exit status:" in result.stdout
    assert result.stderr == ""


def test_a_backend_that_cannot_be_imported_is_one_line(tmp_path):
    """Issue 24, 5: the audit itself, exit 1 ("affected") on a traceback."""
    path = tmp_path / "model.keras"
    path.write_bytes(b"")
    result = run_without_tensorflow(tmp_path, "audit", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "keras_fans audit: cannot import Keras or its backend (No module "
        "named 'tensorflow'): set KERAS_BACKEND to an installed one (jax, "
        "torch, tensorflow)\n"
    )


def test_force_is_checked():
    model = wide_model()
    with pytest.raises(TypeError, match="force='yes'"):
        keras_fans.reset_parameters(model, style="fans", force="yes")
    with pytest.raises(TypeError, match="force='yes'"):
        keras_fans.reset_parameters(model, force="yes")


def test_several_paths_and_json(tmp_path, capsys):
    wide_model().save(tmp_path / "wide.keras")
    (tmp_path / "old.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(8))
    paths = [str(tmp_path / "wide.keras"), str(tmp_path / "old.h5")]
    assert main(["audit", "--json", *paths]) == 2
    out, err = capsys.readouterr()
    wide, old = (json.loads(line) for line in out.splitlines())
    assert [f["path"] for f in wide["findings"]] == ["wide"]
    assert wide["findings"][0]["draw"] == "stock"
    assert old == {
        "path": paths[1],
        "error": "HDF5 files are not supported: re-save as .keras",
    }
    assert err.count("\n") == 1
    assert main(["audit", paths[0]]) == 1
