"""The initialization study: its seeds, schedule and decision logic, and a
quick run end to end (native PyTorch, then Keras on this backend)."""

import csv
import importlib.util
import math

import keras
import numpy as np
import pytest

from benchmarks import box_study
from benchmarks import native


def test_tuning_seeds_are_not_evaluation_seeds():
    assert set(box_study.TUNING_SEEDS).isdisjoint(box_study.EVALUATION_SEEDS)
    quick = box_study.QUICK
    assert set(quick["tuning_seeds"]).isdisjoint(quick["evaluation_seeds"])
    for quick_form in ([], ["--quick"]):
        box_study.plan(box_study.parse(quick_form))
    with pytest.raises(ValueError, match=r"disjoint.*both hold \[100\]"):
        box_study.check_disjoint((0, 100), (100, 101))


def test_schedule_is_constant_then_linear_to_zero():
    factors = [native.lr_factor(step, 100, 0.2) for step in range(101)]
    assert factors[:81] == [1.0] * 81
    np.testing.assert_allclose(factors[80:], np.linspace(1, 0, 21))
    assert {native.lr_factor(step, 100, 0.0) for step in range(101)} == {1.0}
    # Keras's form of it, for the Keras check.
    schedule = box_study.keras_schedule(0.5, 100)
    np.testing.assert_allclose(
        [float(keras.ops.convert_to_numpy(schedule(s))) for s in range(101)],
        0.5 * np.array(factors),
        rtol=1e-6,
    )


def test_holm_adjustment():
    # Sorted p-values times (m, m-1, ...), kept monotone, capped at 1.
    adjusted = box_study.holm([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(adjusted, [0.04, 0.09, 0.09, 0.5])


def claims(box_shift, widths=(16, 32, 64)):
    """The goal's claims for seeds whose log MSE is pytorch's minus
    `box_shift`, on `sine` at `widths` (below 256: one claim each)."""
    pytorch = np.exp(np.linspace(0.0, 3.0, 10))
    mses = {}
    for width in widths:
        mses["sine", width, "pytorch"] = pytorch
        mses["sine", width, "box"] = pytorch * math.exp(-box_shift)
    return box_study.goal_claims(mses, {"sine": widths})


def test_goal_claims_are_adjusted_by_holm():
    # Each of the 3 claims has p = 0.0068 < 0.01 alone: not after Holm
    # (3 x 0.0068 > 0.01).
    held = claims(1.5)
    assert [c["p_value"] < box_study.ALPHA for c in held] == [True] * 3
    assert [c["holds"] for c in held] == [False] * 3
    # Apart by the whole spread: p = 1.1e-5 each, holds after Holm.
    assert [c["holds"] for c in claims(3.5)] == [True] * 3
    # Significant the wrong way: box worse, the claim does not hold.
    assert [c["holds"] for c in claims(-3.5)] == [False] * 3


def test_ratio_and_margin_claims_are_shifted_tests():
    pytorch = np.exp(np.linspace(0.0, 0.2, 10))
    mses = {
        ("sine", 256, "pytorch"): pytorch,
        ("franke", 256, "pytorch"): pytorch,
    }

    def decide(box_ratio):
        mses["sine", 256, "box"] = pytorch / box_ratio
        mses["franke", 256, "box"] = pytorch / box_ratio
        return {
            c["claim"]: c["holds"]
            for c in box_study.goal_claims(
                mses, {"sine": (256,), "franke": (256,)}
            )
        }

    # 3x lower: better, 2x lower and within the margin.
    assert decide(3.0) == {
        "box better": True,
        "box 2x lower": True,
        "box within 1.5x": True,
    }
    # 1.6x lower: better, within the margin, but not 2x lower.
    assert decide(1.6) == {
        "box better": True,
        "box 2x lower": False,
        "box within 1.5x": True,
    }
    # 1.6x higher: beyond the margin.
    assert decide(1 / 1.6)["box within 1.5x"] is False


def available_tasks():
    """Every task whose data package is installed (camera and co2 need
    requirements-study.txt, which `shell/main.sh --study` installs)."""
    needs = {"camera": "skimage", "co2": "statsmodels"}
    return [
        task
        for task in box_study.TASKS
        if task not in needs or importlib.util.find_spec(needs[task])
    ]


def test_quick_study_end_to_end(tmp_path, capsys):
    backend = keras.backend.backend()
    tasks = available_tasks()
    box_study.main(
        ["--quick", "--tasks", *tasks, "--keras-backends", backend]
        + [f"--out={tmp_path}"]
    )
    with open(tmp_path / "box_study.csv") as file:
        rows = list(csv.DictReader(file))
    tuned = [r for r in rows if r["arm"] == "tuned"]
    assert {r["task"] for r in tuned} == set(tasks)
    assert {r["init"] for r in rows} == {"pytorch", "spread", "box"}
    assert {r["task"] for r in rows if r["arm"] == "fixed"} == {"sine"}
    # Every box and spread hyperplane meets the box; PyTorch's miss some.
    for r in rows:
        assert (float(r["in_box"]) == 1.0) == (r["init"] != "pytorch")
    assert all(r["verdict"] for r in rows if r["init"] != "pytorch")
    with open(tmp_path / "box_study_goal.csv") as file:
        goal = list(csv.DictReader(file))
    assert [g["backend"] for g in goal if g["backend"]] == [backend]
    assert len([g for g in goal if g["claim"]]) == len(tuned) // 3
    assert (tmp_path / "box_study.png").stat().st_size > 0
    out = capsys.readouterr().out
    assert "protocol (fixed before the run)" in out
    assert "goal NOT MET" in out  # 4 seeds a side: p >= 2/70 > alpha.
