"""The main job runs end to end on this backend: tiny widths, 2 epochs."""

import csv

import keras

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
    assert (tmp_path / "sine_wave.png").stat().st_size > 0
    assert "median MSE" in capsys.readouterr().out
