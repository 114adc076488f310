"""The breakpoint-spreading study runs end to end (tiny grid), and its
multiple-test adjustment is Holm's."""

import csv

import numpy as np

from benchmarks import spread_study


def test_holm_adjustment():
    # Sorted p-values times (m, m-1, ...), kept monotone, capped at 1.
    adjusted = spread_study.holm([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(adjusted, [0.04, 0.09, 0.09, 0.5])


def test_study_end_to_end(tmp_path, capsys):
    spread_study.main(
        [
            "--tasks",
            "sine01",
            "franke",
            "--widths",
            "8",
            "--seeds=4",
            "--epochs=2",
            f"--out={tmp_path}",
        ]
    )
    with open(tmp_path / "spread_study.csv") as file:
        rows = list(csv.DictReader(file))
    assert [(r["task"], r["variant"]) for r in rows] == [
        ("sine01", "pytorch"),
        ("sine01", "spread"),
        ("franke", "pytorch"),
        ("franke", "spread"),
    ]
    # Every spread hyperplane meets the data's box; on [0, 1] PyTorch's
    # default misses some of the 8.
    in_box = {(r["task"], r["variant"]): float(r["in_box"]) for r in rows}
    assert in_box["sine01", "spread"] == in_box["franke", "spread"] == 1.0
    assert in_box["sine01", "pytorch"] < 1.0
    assert all(r["verdict"] for r in rows if r["variant"] == "spread")
    assert (tmp_path / "spread_study.png").stat().st_size > 0
    assert "Holm over 2 tests" in capsys.readouterr().out
