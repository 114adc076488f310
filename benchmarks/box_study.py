"""The initialization study: box vs spread vs PyTorch's default, native.

All three are plain PyTorch MLPs (benchmarks/native.py), drawn by
torch.nn.Linear and trained with the same data, batches and Adam; they
differ only in the first layer: `pytorch` keeps its defaults, `spread`
sets its bias by `keras_fans.spread_breakpoints`'s rule, `box` its kernel
and bias by `keras_fans.box_init`'s (Cyr et al. 2020), both from the
training inputs' box.

The protocol is fixed here, before a run, and printed with its results:
- per task: the hidden layers, widths, epochs, batch size; the learning
  rate constant, then falling linearly to 0 over the last DECAY of the
  steps;
- per task, width and init, the learning rate with the lowest median MSE
  over TUNING_SEEDS, from LEARNING_RATES (on held-out tasks measured on
  the validation split);
- then EVALUATION_SEEDS, disjoint from the tuning seeds (checked), at that
  learning rate: the final MSE on the training points (fits) or on the
  test split (held-out tasks);
- the goal's claims, all in one family adjusted by Holm's method, each
  holding where the adjusted p is below ALPHA: on `sine` at every width,
  box's MSE differs from pytorch's (two-sided exact Mann-Whitney U) and is
  lower; at widths 256 and up, box's log MSE plus log 2 is below
  pytorch's log MSE (one-sided exact Mann-Whitney U: at least 2x lower);
  on every other task, box's log MSE minus log MARGIN is below pytorch's
  (one-sided: non-inferior, at most MARGIN times pytorch's MSE);
- side by side (a second Holm family): box vs pytorch and spread vs
  pytorch, two-sided, at every cell; and the fixed-lr arm, all three inits
  on `sine` at the old study's constant lr 1e-3;
- through Keras on each backend (Dense layers, model.fit, same schedule),
  the goal task's winning init at KERAS_WIDTHS, compared with the native
  runs (two-sided exact Mann-Whitney U, agreeing where p >= ALPHA).

Usage: python -m benchmarks.box_study [--quick] [--out results]
"""

import argparse
import csv
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import backends
from benchmarks import native

INITS = native.VARIANTS
TUNING_SEEDS = (0, 1, 2)
EVALUATION_SEEDS = tuple(range(100, 110))
LEARNING_RATES = (1e-3, 3e-3, 1e-2, 3e-2)
DECAY = 0.2
FIXED_LR = 1e-3
EPSILON = 1e-7
ALPHA = 0.01
GOAL_RATIO = 2.0
GOAL_RATIO_FROM = 256
MARGIN = 1.5
KERAS_WIDTHS = (64, 256)
DATA_SEED = 1234
STUDY_PACKAGES = "requirements-study.txt"


@dataclasses.dataclass(frozen=True)
class Task:
    """A task's protocol: `role` is "goal" (the sine claims) or "margin"
    (non-inferiority)."""

    description: str
    widths: tuple
    epochs: int
    batch_size: int
    hidden_layers: int = 1
    role: str = "margin"


TASKS = {
    "sine": Task(
        "sin(2 pi x), 256 points of [-1, 1]",
        (64, 256, 1024, 4096),
        300,
        32,
        role="goal",
    ),
    "sawtooth": Task(
        "2 frac(2 (x + 1)) - 1, 256 points of [-1, 1]", (256, 1024), 300, 32
    ),
    "franke": Task(
        "Franke's function, 16 x 16 grid of [-1, 1]^2", (256, 1024), 300, 32
    ),
    "deep": Task(
        "sine, 6 hidden ReLU layers (first-layer init only)",
        (64,),
        300,
        32,
        hidden_layers=6,
    ),
    "camera": Task(
        "skimage camera at 64 x 64, pixel from (row, col); "
        "20% of pixels held out",
        (256,),
        60,
        64,
    ),
    "co2": Task(
        "statsmodels co2, monthly means from time; 20% held out",
        (256,),
        300,
        32,
    ),
    "vanderpol": Task(
        "Van der Pol (mu = 5) x(t), t in [0, 20] by scipy; 20% held out",
        (256,),
        300,
        32,
    ),
}
QUICK = {
    "widths": (16, 64),
    "epochs": 3,
    "tuning_seeds": (0, 1),
    "evaluation_seeds": (100, 101, 102, 103),
    "learning_rates": (1e-3, 1e-2),
    "keras_widths": (16,),
}


def check_disjoint(tuning_seeds, evaluation_seeds):
    """Refuses tuning seeds that are also evaluation seeds: a learning rate
    picked on the seeds it is then judged on is judged on its own
    luck."""
    shared = sorted(set(tuning_seeds) & set(evaluation_seeds))
    if shared:
        raise ValueError(
            "`tuning_seeds` must be disjoint from `evaluation_seeds`; "
            f"both hold {shared}. Received: tuning_seeds="
            f"{list(tuning_seeds)}, evaluation_seeds={list(evaluation_seeds)}"
        )


# Data.


def franke(x, y):
    """Franke's (1979) test function on [0, 1]^2."""
    return (
        0.75 * np.exp(-((9 * x - 2) ** 2) / 4 - (9 * y - 2) ** 2 / 4)
        + 0.75 * np.exp(-((9 * x + 1) ** 2) / 49 - (9 * y + 1) / 10)
        + 0.5 * np.exp(-((9 * x - 7) ** 2) / 4 - (9 * y - 3) ** 2 / 4)
        - 0.2 * np.exp(-((9 * x - 4) ** 2) - (9 * y - 7) ** 2)
    )


def _optional(module):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise SystemExit(
            f"error: the task needs {module.split('.')[0]}: "
            f"pip install -r {STUDY_PACKAGES}"
        ) from None


def _samples(task):
    """Inputs `(n, d)` and targets `(n, 1)` of a task, float64."""
    line = np.linspace(-1.0, 1.0, 256)[:, None]
    if task in ("sine", "deep"):
        return line, np.sin(2 * np.pi * line)
    if task == "sawtooth":
        return line, 2 * np.mod(2 * (line + 1), 1.0) - 1
    if task == "franke":
        side = np.linspace(-1.0, 1.0, 16)
        x = np.stack(np.meshgrid(side, side), axis=-1).reshape(-1, 2)
        return x, franke(*((x.T + 1) / 2))[:, None]
    if task == "camera":
        image = _optional("skimage.data").camera().astype(np.float64) / 255
        blocks = image.shape[0] // 64
        small = image.reshape(64, blocks, 64, blocks).mean(axis=(1, 3))
        side = np.linspace(-1.0, 1.0, 64)
        x = np.stack(np.meshgrid(side, side, indexing="ij"), axis=-1)
        return x.reshape(-1, 2), small.reshape(-1, 1)
    if task == "co2":
        data = _optional("statsmodels.datasets.co2").load_pandas().data
        monthly = data["co2"].resample("MS").mean().dropna()
        t = np.arange(len(monthly), dtype=np.float64)
        y = monthly.to_numpy()
        return (2 * t / t[-1] - 1)[:, None], ((y - y.mean()) / y.std())[:, None]
    from scipy import integrate

    t = np.linspace(0.0, 20.0, 512)
    solution = integrate.solve_ivp(
        lambda _, s: [s[1], 5.0 * (1 - s[0] ** 2) * s[1] - s[0]],
        (0.0, 20.0),
        [2.0, 0.0],
        t_eval=t,
        rtol=1e-9,
        atol=1e-9,
    )
    return (t / 10 - 1)[:, None], solution.y[0][:, None] / 2


def task_data(task):
    """`{"train", "validation", "test"}` -> `(inputs, targets)`, float32.

    Fits (sine, sawtooth, franke, deep) are measured on their training
    points; the rest hold out a random 20% for validation (tuning) and 20%
    for test (evaluation)."""
    x, y = _samples(task)
    x, y = x.astype("float32"), y.astype("float32")
    if task in ("sine", "sawtooth", "franke", "deep"):
        return {"train": (x, y), "validation": (x, y), "test": (x, y)}
    order = np.random.default_rng(DATA_SEED).permutation(len(x))
    fifth = len(x) // 5
    parts = {
        "validation": order[:fifth],
        "test": order[fifth : 2 * fifth],
        "train": np.sort(order[2 * fifth :]),
    }
    return {name: (x[i], y[i]) for name, i in parts.items()}


# Training.


def train_cell(
    task, width, init, seeds, learning_rate, epochs, split, decay=DECAY
):
    """Trains one network per seed; their final MSEs on `split`, and the
    median share of first-layer hyperplanes meeting the training box."""
    data = task_data(task)
    x, y = data["train"]
    low, high = x.min(axis=0), x.max(axis=0)
    spec = TASKS[task]
    sizes = (x.shape[1],) + (width,) * spec.hidden_layers + (1,)
    parameters = native.initial_parameters(sizes, seeds, init, low, high)
    kernels, biases = parameters[0]
    in_box = np.median(
        [
            np.mean(native.crosses_box(kernel, bias[0], low, high))
            for kernel, bias in zip(kernels, biases)
        ]
    )
    rng = np.random.default_rng(DATA_SEED)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(epochs)])
    mses = native.train(
        parameters,
        x,
        y,
        order,
        spec.batch_size,
        learning_rate,
        EPSILON,
        decay=decay,
        evaluate=data[split],
    )
    return mses, float(in_box)


def summary(values):
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {
        "median_mse": float(median),
        "q1_mse": float(q1),
        "q3_mse": float(q3),
    }


# Decisions.


def holm(p_values):
    """Holm's step-down adjustment of a family of p-values."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(np.argsort(p)):
        running = max(running, (len(p) - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


def mann_whitney(first, second, alternative):
    from scipy import stats

    return float(
        stats.mannwhitneyu(
            first, second, alternative=alternative, method="exact"
        ).pvalue
    )


def goal_claims(mses, widths):
    """The goal's claims, one per row: `mses[(task, width, init)]` are the
    evaluation seeds' final MSEs, `widths[task]` the widths run. Each row:
    task, width, claim, p, holm_p (over all rows) and whether it holds."""
    claims = []
    for task, task_widths in widths.items():
        for width in task_widths:
            box = np.log(mses[(task, width, "box")])
            pytorch = np.log(mses[(task, width, "pytorch")])
            if TASKS[task].role == "goal":
                lower = np.median(box) < np.median(pytorch)
                p = mann_whitney(box, pytorch, "two-sided")
                claims.append((task, width, "box better", p, lower))
                if width >= GOAL_RATIO_FROM:
                    p = mann_whitney(
                        box + math.log(GOAL_RATIO), pytorch, "less"
                    )
                    claims.append(
                        (task, width, f"box {GOAL_RATIO:g}x lower", p, True)
                    )
            else:
                p = mann_whitney(box - math.log(MARGIN), pytorch, "less")
                claims.append((task, width, f"box within {MARGIN:g}x", p, True))
    adjusted = holm([p for *_, p, _ in claims]) if claims else []
    return [
        {
            "task": task,
            "width": width,
            "claim": claim,
            "p_value": p,
            "holm_p": float(q),
            "holds": bool(q < ALPHA and direction),
        }
        for (task, width, claim, p, direction), q in zip(claims, adjusted)
    ]


def side_by_side(rows, mses):
    """Adds to each box and spread row its ratio to pytorch's median, the
    two-sided p against pytorch, Holm-adjusted over these rows, and the
    verdict."""
    compared = [r for r in rows if r["init"] != "pytorch"]
    p_values = []
    for row in compared:
        key = (row["arm"], row["task"], row["width"])
        reference = next(
            r
            for r in rows
            if r["init"] == "pytorch"
            and (r["arm"], r["task"], r["width"]) == key
        )
        row["ratio"] = reference["median_mse"] / row["median_mse"]
        p_values.append(
            mann_whitney(
                mses[key + (row["init"],)],
                mses[key + ("pytorch",)],
                "two-sided",
            )
        )
    for row, p, q in zip(compared, p_values, holm(p_values)):
        row["p_value"], row["holm_p"] = p, float(q)
        if q >= ALPHA:
            row["verdict"] = "no difference shown"
        else:
            better = row["ratio"] > 1
            row["verdict"] = (
                f"{row['init']} better" if better else ("pytorch better")
            )


# Keras.


def keras_schedule(learning_rate, steps):
    """`native.lr_factor`'s schedule (decay DECAY) as a Keras schedule."""
    import keras

    class Schedule(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            left = steps - keras.ops.cast(step, "float32")
            factor = keras.ops.clip(left / (steps * DECAY), 0.0, 1.0)
            return learning_rate * factor

    return Schedule()


def keras_worker(args):
    """In a Keras backend's process: the winning init through Keras on
    `sine` at each --keras-widths, one Dense network per evaluation seed
    side by side (benchmarks/sine_wave.py's branches), model.fit with the
    tuned lr and the study's schedule. Prints JSON rows."""
    import keras

    import keras_fans
    from benchmarks import sine_wave

    x, y = task_data("sine")["train"]
    spec = TASKS["sine"]
    rows = []
    for width, learning_rate in zip(args.keras_widths, args.keras_lrs):
        start = time.perf_counter()
        branch_args = argparse.Namespace(bias_initializer="pytorch_uniform")
        model, hidden = sine_wave.keras_branches(
            branch_args, width, "patched", args.evaluation_seeds
        )
        for seed, layer in zip(args.evaluation_seeds, hidden):
            if args.init == "box":
                keras_fans.box_init(layer, -1.0, 1.0, seed=4 * seed + 1)
            elif args.init == "spread":
                keras_fans.spread_breakpoints(
                    layer, -1.0, 1.0, seed=4 * seed + 1
                )
        rng = np.random.default_rng(DATA_SEED)
        order = np.concatenate(
            [rng.permutation(len(x)) for _ in range(args.epochs)]
        )
        steps = -(-len(order) // spec.batch_size)

        mses = sine_wave.fit_side_by_side(
            model,
            x,
            y,
            order,
            keras_schedule(learning_rate, steps),
            EPSILON,
            spec.batch_size,
        )
        rows.append(
            {
                "backend": keras.backend.backend(),
                "width": width,
                "mses": mses.tolist(),
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
    print(json.dumps(rows))


def keras_check(init, widths, lrs, seeds, epochs, keras_backends):
    """Runs `keras_worker` once per backend; its rows."""
    arguments = [
        f"--init={init}",
        f"--epochs={epochs}",
        "--keras-widths",
        *map(str, widths),
        "--keras-lrs",
        *map(str, lrs),
        "--evaluation-seeds",
        *map(str, seeds),
    ]
    return backends.run_workers(
        "benchmarks.box_study", arguments, keras_backends
    )


# The run.


def protocol_text(p):
    lines = [
        "protocol (fixed before the run):",
        f"  inits {list(INITS)}; Adam(epsilon={EPSILON}); lr constant, then "
        f"linear to 0 over the last {DECAY:.0%} of the steps",
        f"  lr per task, width, init: lowest median MSE over tuning seeds "
        f"{list(p.tuning_seeds)} from {list(p.learning_rates)} "
        "(held-out tasks: on the validation split)",
        f"  evaluation seeds {list(p.evaluation_seeds)} (disjoint, checked); "
        "held-out tasks scored on the test split",
        f"  goal (one Holm family, alpha={ALPHA}): sine, every width: box vs "
        f"pytorch two-sided exact Mann-Whitney U, box lower; widths >= "
        f"{GOAL_RATIO_FROM}: one-sided on log MSE shifted by "
        f"log {GOAL_RATIO:g}; other tasks: non-inferiority, one-sided on log "
        f"MSE shifted by log {MARGIN:g} (box at most {MARGIN:g}x pytorch)",
        f"  fixed-lr arm: sine, constant lr {FIXED_LR:g}, no decay",
        "  tasks:",
    ]
    for name in p.tasks:
        task = TASKS[name]
        lines.append(
            f"    {name}: {task.description}; widths {list(p.widths[name])}, "
            f"{p.epochs[name]} epochs, batch {task.batch_size}, "
            f"{task.hidden_layers} hidden layer(s)"
        )
    lines.append(
        f"  Keras check: the winning init on sine at widths "
        f"{list(p.keras_widths)} on {list(p.keras_backends)}, model.fit, "
        f"evaluation seeds; agrees where two-sided p >= {ALPHA}"
    )
    return "\n".join(lines)


def plan(args):
    """The run's protocol: the defaults, or the quick form."""
    quick = args.quick
    p = argparse.Namespace(
        tasks=args.tasks,
        tuning_seeds=QUICK["tuning_seeds"] if quick else TUNING_SEEDS,
        evaluation_seeds=(
            QUICK["evaluation_seeds"] if quick else EVALUATION_SEEDS
        ),
        learning_rates=QUICK["learning_rates"] if quick else LEARNING_RATES,
        keras_widths=QUICK["keras_widths"] if quick else KERAS_WIDTHS,
        keras_backends=args.keras_backends,
        widths={
            t: QUICK["widths"][: len(TASKS[t].widths)]
            if quick
            else TASKS[t].widths
            for t in args.tasks
        },
        epochs={
            t: QUICK["epochs"] if quick else TASKS[t].epochs for t in args.tasks
        },
    )
    check_disjoint(p.tuning_seeds, p.evaluation_seeds)
    return p


def progress(message):
    print(message, file=sys.stderr, flush=True)


def run(p):
    import torch

    # One thread: small batched ops; the machine's other core is left to
    # whatever else runs.
    torch.set_num_threads(1)
    rows, mses = [], {}
    for task in p.tasks:
        for width in p.widths[task]:
            for init in INITS:
                start = time.perf_counter()
                tuning = {
                    lr: float(
                        np.median(
                            train_cell(
                                task,
                                width,
                                init,
                                p.tuning_seeds,
                                lr,
                                p.epochs[task],
                                "validation",
                            )[0]
                        )
                    )
                    for lr in p.learning_rates
                }
                lr = min(tuning, key=tuning.get)
                values, in_box = train_cell(
                    task,
                    width,
                    init,
                    p.evaluation_seeds,
                    lr,
                    p.epochs[task],
                    "test",
                )
                mses[("tuned", task, width, init)] = values
                rows.append(
                    {
                        "arm": "tuned",
                        "task": task,
                        "width": width,
                        "init": init,
                        "lr": lr,
                        **summary(values),
                        "in_box": in_box,
                        "seconds": round(time.perf_counter() - start, 1),
                    }
                )
                progress(
                    f"tuned {task} {width} {init}: lr {lr:g}, "
                    f"median {rows[-1]['median_mse']:.2e} "
                    f"({rows[-1]['seconds']} s)"
                )
    if "sine" in p.tasks:
        for width in p.widths["sine"]:
            for init in INITS:
                start = time.perf_counter()
                values, in_box = train_cell(
                    "sine",
                    width,
                    init,
                    p.evaluation_seeds,
                    FIXED_LR,
                    p.epochs["sine"],
                    "test",
                    decay=0.0,
                )
                mses[("fixed", "sine", width, init)] = values
                rows.append(
                    {
                        "arm": "fixed",
                        "task": "sine",
                        "width": width,
                        "init": init,
                        "lr": FIXED_LR,
                        **summary(values),
                        "in_box": in_box,
                        "seconds": round(time.perf_counter() - start, 1),
                    }
                )
                progress(f"fixed sine {width} {init} ({rows[-1]['seconds']} s)")
    side_by_side(rows, mses)
    claims = goal_claims(
        {k[1:]: v for k, v in mses.items() if k[0] == "tuned"}, p.widths
    )
    return rows, mses, claims


def keras_rows(p, rows, mses):
    """The Keras check's rows: the winning init on sine (the lowest median
    at most sine widths), each backend against the native runs."""
    sine = [r for r in rows if r["arm"] == "tuned" and r["task"] == "sine"]
    wins = {init: 0 for init in INITS}
    for width in p.widths["sine"]:
        cell = [r for r in sine if r["width"] == width]
        wins[min(cell, key=lambda r: r["median_mse"])["init"]] += 1
    init = max(wins, key=wins.get)
    lrs = [
        next(r["lr"] for r in sine if r["width"] == w and r["init"] == init)
        for w in p.keras_widths
    ]
    start = time.perf_counter()
    results = keras_check(
        init,
        p.keras_widths,
        lrs,
        p.evaluation_seeds,
        p.epochs["sine"],
        p.keras_backends,
    )
    progress(f"Keras check {time.perf_counter() - start:.0f} s")
    checked = []
    for result in results:
        reference = mses[("tuned", "sine", result["width"], init)]
        p_value = mann_whitney(result["mses"], reference, "two-sided")
        checked.append(
            {
                "backend": result["backend"],
                "width": result["width"],
                "init": init,
                "keras_median": float(np.median(result["mses"])),
                "native_median": float(np.median(reference)),
                "p_value": p_value,
                "agrees": p_value >= ALPHA,
                "seconds": result["seconds"],
            }
        )
    return checked


def print_results(rows, claims, checked):
    print(
        "\ncells (median final MSE over the evaluation seeds, IQR; ratio = "
        "pytorch median / this median; Holm over these comparisons)"
    )
    print(
        f"{'arm':<6}{'task':<10}{'width':>6} {'init':<8}{'lr':>7}"
        f"{'median':>10}{'IQR':>19}{'in box':>7}{'ratio':>7}"
        f"{'Holm p':>9}  verdict"
    )
    for r in rows:
        iqr = f"{r['q1_mse']:.1e}..{r['q3_mse']:.1e}"
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else ""
        holm_p = f"{r['holm_p']:.1e}" if "holm_p" in r else ""
        print(
            f"{r['arm']:<6}{r['task']:<10}{r['width']:>6} {r['init']:<8}"
            f"{r['lr']:>7g}{r['median_mse']:>10.2e}{iqr:>19}"
            f"{r['in_box']:>7.2f}{ratio:>7}{holm_p:>9}  "
            f"{r.get('verdict', '')}"
        )
    print(
        f"\ngoal (box vs pytorch, tuned lr; Holm over {len(claims)} "
        f"claims, alpha={ALPHA})"
    )
    print(
        f"{'task':<10}{'width':>6}  {'claim':<18}{'p':>9}{'Holm p':>9}  holds"
    )
    for c in claims:
        print(
            f"{c['task']:<10}{c['width']:>6}  {c['claim']:<18}"
            f"{c['p_value']:>9.1e}{c['holm_p']:>9.1e}  "
            f"{'yes' if c['holds'] else 'NO'}"
        )
    print(
        "goal "
        + ("MET" if claims and all(c["holds"] for c in claims) else "NOT MET")
        + " on the native runs"
    )
    if checked:
        print(
            "\nKeras check (sine, tuned lr, model.fit; native = the "
            "study's PyTorch runs)"
        )
        for c in checked:
            print(
                f"{c['backend']:<11}{c['width']:>6} {c['init']:<7}"
                f"keras {c['keras_median']:.2e}  native "
                f"{c['native_median']:.2e}  p {c['p_value']:.2f}  "
                f"{'agrees' if c['agrees'] else 'DIFFERS'}  "
                f"({c['seconds']} s)"
            )


def write_csv(path, rows):
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def plot(mses, claims, p, path):
    """One panel per task (and the fixed-lr arm): every seed's final MSE,
    the medians, and above each width whether box's goal claims hold."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib import ticker

    colors = {"pytorch": "tab:gray", "spread": "tab:blue", "box": "tab:red"}
    panels = [("tuned", t) for t in p.tasks] + (
        [("fixed", "sine")] if "sine" in p.tasks else []
    )
    columns = min(4, len(panels))
    lines = -(-len(panels) // columns)
    figure, axes = pyplot.subplots(
        lines, columns, figsize=(4.2 * columns, 3.8 * lines), squeeze=False
    )
    for axis, (arm, task) in zip(axes.flat, panels):
        widths = p.widths[task]
        for offset, init in zip((-0.22, 0, 0.22), INITS):
            for i, width in enumerate(widths):
                values = mses[(arm, task, width, init)]
                axis.scatter(
                    np.full(len(values), i + offset),
                    values,
                    s=9,
                    color=colors[init],
                    alpha=0.5,
                )
                axis.scatter(
                    i + offset,
                    np.median(values),
                    marker="_",
                    s=250,
                    linewidths=2,
                    color=colors[init],
                    label=init if i == 0 else None,
                )
            if arm == "tuned":
                for i, width in enumerate(widths):
                    held = [
                        c["holds"]
                        for c in claims
                        if (c["task"], c["width"]) == (task, width)
                    ]
                    axis.annotate(
                        "goal holds" if all(held) else "goal fails",
                        (i, 1.0),
                        xycoords=("data", "axes fraction"),
                        xytext=(0, -12),
                        textcoords="offset points",
                        ha="center",
                        fontsize=8,
                        color="tab:green" if all(held) else "tab:red",
                    )
        axis.set_xticks(range(len(widths)), [str(w) for w in widths])
        axis.set_xlim(-0.6, len(widths) - 0.4)
        axis.set_yscale("log")
        axis.yaxis.set_minor_locator(ticker.LogLocator(subs=(2, 5)))
        label = ticker.FuncFormatter(lambda value, _: f"{value:.2g}")
        axis.yaxis.set_major_formatter(label)
        axis.yaxis.set_minor_formatter(label)
        axis.margins(y=0.15)
        lr = "tuned lr" if arm == "tuned" else f"fixed lr {FIXED_LR:g}"
        axis.set_title(f"{task} ({lr})", fontsize=10)
        axis.set_xlabel("hidden width")
        axis.grid(True, which="both", axis="y", alpha=0.3)
    for axis in axes.flat[len(panels) :]:
        axis.set_visible(False)
    for axis in axes[:, 0]:
        axis.set_ylabel("final MSE (lower is better)")
    axes[0][0].legend(fontsize=8, loc="lower left")
    figure.suptitle(
        "First-layer init: box vs spread vs PyTorch's default. Dots: "
        f"{len(p.evaluation_seeds)} evaluation seeds per cell; bars: "
        f"medians; goal: box vs pytorch, Holm, alpha {ALPHA}",
        fontsize=11,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny widths, epochs and seeds, for CI",
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=list(TASKS),
        choices=list(TASKS),
        metavar="TASK",
    )
    parser.add_argument(
        "--keras-backends",
        nargs="*",
        default=list(backends.KERAS_BACKENDS),
        choices=backends.KERAS_BACKENDS,
        metavar="BACKEND",
    )
    parser.add_argument("--out", default="results", help="folder for CSV, PNG")
    # The Keras worker's arguments, set by `keras_check`.
    hidden = argparse.SUPPRESS
    parser.add_argument("--worker", action="store_true", help=hidden)
    parser.add_argument("--backend", help=hidden)
    parser.add_argument("--init", help=hidden)
    parser.add_argument("--epochs", type=int, help=hidden)
    parser.add_argument("--keras-widths", type=int, nargs="+", help=hidden)
    parser.add_argument("--keras-lrs", type=float, nargs="+", help=hidden)
    parser.add_argument("--evaluation-seeds", type=int, nargs="+", help=hidden)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    if args.worker:
        keras_worker(args)
        return
    p = plan(args)
    text = protocol_text(p)
    print(text, flush=True)
    start = time.perf_counter()
    rows, mses, claims = run(p)
    checked = (
        keras_rows(p, rows, mses)
        if ("sine" in p.tasks and p.keras_backends)
        else []
    )
    print_results(rows, claims, checked)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "box_study.csv", rows)
    write_csv(out / "box_study_goal.csv", claims + checked)
    plot(mses, claims, p, out / "box_study.png")
    print(
        f"\nwrote {out}/box_study.csv, box_study_goal.csv, box_study.png "
        f"in {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
