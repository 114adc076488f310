"""The main job runs end to end on this backend: tiny widths, 2 epochs;
its variants differ as it says, and native PyTorch draws none of Keras's
values."""

import csv

import keras
import numpy as np

from benchmarks import native
from benchmarks import sine_wave
from keras_fans import testing


@testing.runtime_only("the experiment runs stock Keras, then patched()")
def test_sine_wave_experiment_end_to_end(tmp_path, capsys):
    backend = keras.backend.backend()
    sine_wave.main(
        [
            f"--backend={backend}",
            "--widths",
            "4",
            "8",
            "--seeds=2",
            "--epochs=2",
            f"--out={tmp_path}",
        ]
    )
    with open(tmp_path / "sine_wave.csv") as file:
        rows = list(csv.DictReader(file))
    cells = {(row["backend"], row["width"], row["variant"]) for row in rows}
    assert cells == {
        (backend if variant != "pytorch" else "native", width, variant)
        for width in ("4", "8")
        for variant in sine_wave.VARIANTS
    }
    assert all(float(row["median_mse"]) > 0 for row in rows)
    spread = [row for row in rows if row["variant"] == "spread"]
    assert [float(row["breakpoints_in_range"]) for row in spread] == [4, 8]
    assert (tmp_path / "sine_wave.png").stat().st_size > 0
    # results/ holds the default configuration's run: not compared.
    summary = (tmp_path / "sine_wave_summary.txt").read_text()
    assert "not compared with results/sine_wave.csv" in summary
    assert "median MSE" in capsys.readouterr().out


def hidden_biases(variant, width, seeds):
    args = sine_wave.parse([])
    _, hidden_layers = sine_wave.keras_branches(args, width, variant, seeds)
    return np.concatenate([testing.numpy(h.bias) for h in hidden_layers])


@testing.runtime_only("the experiment runs stock Keras, then patched()")
def test_patched_hidden_bias_is_not_stock():
    """Stock draws the hidden bias from U(+-sqrt(1/width)); patched from
    U(+-1/sqrt(fan_in)) = U(+-1), where all 512 draws stay below 0.5 with
    probability 2**-512."""
    width = 256
    stock = hidden_biases("stock", width, [0, 1])
    patched = hidden_biases("patched", width, [0, 1])
    assert np.abs(stock).max() <= width**-0.5
    assert np.abs(patched).max() > 0.5


@testing.runtime_only("the experiment runs stock Keras, then patched()")
def test_native_reference_draws_none_of_the_keras_values():
    """On the torch backend a Keras integer seed s draws from a generator
    seeded with s: native seeds must come from another range."""
    seeds, width = [0, 1, 2], 8
    keras_values = []
    for variant in ("stock", "patched", "spread"):
        args = sine_wave.parse([])
        model, _ = sine_wave.keras_branches(args, width, variant, seeds)
        keras_values += [testing.numpy(w).ravel() for w in model.weights]
    native_values = [
        array.ravel()
        for layer in native.initial_parameters(
            (1, width, 1), seeds, "pytorch", -1.0, 1.0
        )
        for array in layer
    ]
    shared = np.intersect1d(
        np.concatenate(keras_values).astype("float32"),
        np.concatenate(native_values).astype("float32"),
    )
    assert shared.size == 0, f"{shared.size} values drawn by both"


def test_the_summary_compares_cell_by_cell_with_the_reference():
    rows = [
        {"backend": "jax", "width": 16, "variant": v, "median_mse": m}
        for v, m in (("stock", 0.5), ("patched", 0.25))
    ]
    reference = [dict(row, width="16") for row in rows]
    assert sine_wave.compare(rows, reference) == [
        "jax          2 of 2 cells bit-identical, largest relative "
        "difference 0.0e+00"
    ]
    reference[1]["median_mse"] = "0.2"
    rows.append(dict(rows[0], width=64))
    assert sine_wave.compare(rows, reference) == [
        "1 of 3 cells are not in the reference (another configuration)",
        "jax          1 of 2 cells bit-identical, largest relative "
        "difference 2.5e-01",
    ]
