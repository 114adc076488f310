"""The breakpoint-spreading study: `spread` vs PyTorch's default, native.

Both variants are plain PyTorch MLPs (benchmarks/native.py) with
torch.nn.Linear's default weights and biases, trained on the same data,
batches and Adam; `spread` then sets the first layer's bias to
-w_i . t_i, t_i uniform in the inputs' box (keras_fans.breakpoints), so
every first-layer hyperplane meets the data. Same seed, same kernels: the
variants differ only in the first layer's bias.

Tasks (256 training points each, the final MSE measured on them):
- sine: sin(2 pi x), x evenly spaced on [-1, 1];
- sine01: the same function on inputs moved to [0, 1] (sin(4 pi x));
- sawtooth: 2 frac(2 (x + 1)) - 1 on [-1, 1] (jumps at -1/2, 0, 1/2);
- franke: Franke's function on a 16 x 16 grid of [-1, 1]^2 (mapped onto
  its domain [0, 1]^2);
- deep: sine with 6 hidden ReLU layers (spread on the first only).

Per task and width: median and IQR of the final MSE over the seeds, the
share of first-layer hyperplanes meeting the data's box at initialization,
and a two-sided Mann-Whitney U test (exact) of spread vs pytorch. The
p-values of all cells of a run are adjusted by Holm's method; a variant is
called better only where the adjusted p is below ALPHA.

Usage: python -m benchmarks.spread_study [--seeds 10] [--tasks ...]
"""

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import native

ALPHA = 0.05
POINTS = 256
DATA_SEED = 1234
HIDDEN_LAYERS = {"sine": 1, "sine01": 1, "sawtooth": 1, "franke": 1, "deep": 6}
WIDTHS = [16, 64, 256, 1024, 4096]
# Six hidden layers of width w hold 5 w^2 weights per seed, three times
# over with Adam's moments: 4096 would need 10 GB for 10 seeds.
DEEP_WIDTHS = [16, 64, 256]
COLUMNS = (
    "task",
    "width",
    "variant",
    "median_mse",
    "q1_mse",
    "q3_mse",
    "in_box",
    "p_value",
    "holm_p",
    "verdict",
    "seconds",
)


def franke(x, y):
    """Franke's (1979) test function on [0, 1]^2."""
    return (
        0.75 * np.exp(-((9 * x - 2) ** 2) / 4 - (9 * y - 2) ** 2 / 4)
        + 0.75 * np.exp(-((9 * x + 1) ** 2) / 49 - (9 * y + 1) / 10)
        + 0.5 * np.exp(-((9 * x - 7) ** 2) / 4 - (9 * y - 3) ** 2 / 4)
        - 0.2 * np.exp(-((9 * x - 4) ** 2) - (9 * y - 7) ** 2)
    )


def task_data(task):
    """Inputs `(POINTS, d)` and targets `(POINTS, 1)`, float32."""
    line = np.linspace(-1.0, 1.0, POINTS)[:, None]
    if task in ("sine", "deep"):
        x, y = line, np.sin(2 * np.pi * line)
    elif task == "sine01":
        x = (line + 1) / 2
        y = np.sin(2 * np.pi * (2 * x - 1))
    elif task == "sawtooth":
        x, y = line, 2 * np.mod(2 * (line + 1), 1.0) - 1
    else:
        side = np.linspace(-1.0, 1.0, round(POINTS**0.5))
        x = np.stack(np.meshgrid(side, side), axis=-1).reshape(-1, 2)
        y = franke(*((x.T + 1) / 2))[:, None]
    return x.astype("float32"), y.astype("float32")


def cell(args, task, width, variant):
    """Trains the seeds of one cell side by side: their final MSEs and the
    median share of first-layer hyperplanes meeting the data's box."""
    x, y = task_data(task)
    low, high = x.min(axis=0), x.max(axis=0)
    sizes = (x.shape[1],) + (width,) * HIDDEN_LAYERS[task] + (1,)
    seeds = range(args.seeds)
    parameters = native.initial_parameters(sizes, seeds, variant, low, high)
    kernels, biases = parameters[0]
    in_box = np.median(
        [
            np.mean(native.crosses_box(kernel, bias[0], low, high))
            for kernel, bias in zip(kernels, biases)
        ]
    )
    rng = np.random.default_rng(DATA_SEED)
    order = np.concatenate(
        [rng.permutation(POINTS) for _ in range(args.epochs)]
    )
    mses = native.train(
        parameters,
        x,
        y,
        order,
        args.batch_size,
        args.learning_rate,
        args.epsilon,
    )
    return mses, in_box


def holm(p_values):
    """Holm's step-down adjustment of a family of p-values."""
    p = np.asarray(p_values, dtype=float)
    ranked = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(ranked):
        running = max(running, (len(p) - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


def compare(rows, mses):
    """Adds each spread row's Mann-Whitney p-value against the pytorch row
    of its cell, Holm-adjusted over the run, and the verdict."""
    from scipy import stats

    spread = [r for r in rows if r["variant"] == "spread"]
    p_values = [
        stats.mannwhitneyu(
            mses[(r["task"], r["width"], "spread")],
            mses[(r["task"], r["width"], "pytorch")],
            alternative="two-sided",
            method="exact",
        ).pvalue
        for r in spread
    ]
    for row, p, adjusted in zip(spread, p_values, holm(p_values)):
        row["p_value"], row["holm_p"] = float(p), float(adjusted)
        if adjusted >= ALPHA:
            row["verdict"] = "no difference shown"
        else:
            reference = next(
                r
                for r in rows
                if r["variant"] == "pytorch"
                and (r["task"], r["width"]) == (row["task"], row["width"])
            )
            better = row["median_mse"] < reference["median_mse"]
            row["verdict"] = "spread better" if better else "pytorch better"


def grid(args):
    """The `(task, width, variant)` cells of a run."""
    return [
        (task, width, variant)
        for task in args.tasks
        for width in (DEEP_WIDTHS if task == "deep" else args.widths)
        for variant in native.VARIANTS
    ]


def run(args):
    import torch

    # One thread: the cells are small batched ops, and the machine's other
    # core is left to whatever else runs.
    torch.set_num_threads(1)
    cells = grid(args)
    rows, mses = [], {}
    for done, (task, width, variant) in enumerate(cells):
        print(
            f"[{done}/{len(cells)}] {task} width={width} {variant}",
            file=sys.stderr,
            flush=True,
        )
        start = time.perf_counter()
        values, in_box = cell(args, task, width, variant)
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        mses[(task, width, variant)] = values
        rows.append(
            {
                "task": task,
                "width": width,
                "variant": variant,
                "median_mse": float(median),
                "q1_mse": float(q1),
                "q3_mse": float(q3),
                "in_box": float(in_box),
                "p_value": "",
                "holm_p": "",
                "verdict": "",
                "seconds": round(time.perf_counter() - start, 2),
            }
        )
    compare(rows, mses)
    return rows


def print_table(rows):
    print(
        f"{'task':<9}{'width':>6}  {'variant':<8}{'median MSE':>11}"
        f"{'IQR':>17}{'in box':>8}{'p':>9}{'Holm p':>9}  verdict"
    )
    for r in rows:
        iqr = f"{r['q1_mse']:.1e}..{r['q3_mse']:.1e}"
        p = "" if r["p_value"] == "" else f"{r['p_value']:.1e}"
        holm_p = "" if r["holm_p"] == "" else f"{r['holm_p']:.1e}"
        print(
            f"{r['task']:<9}{r['width']:>6}  {r['variant']:<8}"
            f"{r['median_mse']:>11.2e}{iqr:>17}{r['in_box']:>8.2f}"
            f"{p:>9}{holm_p:>9}  {r['verdict']}"
        )


def plot(rows, tasks, path, title):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(
        1, len(tasks), figsize=(4 * len(tasks), 3.8), squeeze=False
    )
    for axis, task in zip(axes[0], tasks):
        for variant in native.VARIANTS:
            cells = [
                r for r in rows if r["task"] == task and r["variant"] == variant
            ]
            widths = [r["width"] for r in cells]
            medians = np.array([r["median_mse"] for r in cells])
            spread = [
                medians - [r["q1_mse"] for r in cells],
                [r["q3_mse"] for r in cells] - medians,
            ]
            axis.errorbar(
                widths,
                medians,
                yerr=spread,
                marker="o",
                capsize=3,
                label=variant,
            )
        for r in rows:
            if r["task"] == task and r["verdict"] not in (
                "",
                "no difference shown",
            ):
                axis.annotate("*", (r["width"], r["median_mse"]), fontsize=14)
        axis.set(xscale="log", yscale="log", title=task, xlabel="hidden width")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("final MSE (median, IQR bars)")
    axes[0][0].legend()
    figure.suptitle(title, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(HIDDEN_LAYERS))
    parser.add_argument("--widths", type=int, nargs="+", default=WIDTHS)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--epsilon", type=float, default=1e-7)
    parser.add_argument("--out", default="results", help="folder for CSV, PNG")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.tasks) - set(HIDDEN_LAYERS))
    if unknown:
        parser.error(f"--tasks: unknown {unknown}; known {list(HIDDEN_LAYERS)}")
    if args.seeds < 2:
        parser.error(f"--seeds must be at least 2; received {args.seeds}")
    return args


def main(argv=None):
    args = parse(argv)
    configuration = (
        f"tasks={args.tasks} widths={args.widths} (deep: {DEEP_WIDTHS}) "
        f"seeds={args.seeds} epochs={args.epochs} batch={args.batch_size} "
        f"Adam(lr={args.learning_rate}, epsilon={args.epsilon}) "
        f"points={POINTS} data_seed={DATA_SEED}; Mann-Whitney U two-sided, "
        f"Holm over {len(grid(args)) // 2} tests, alpha={ALPHA}"
    )
    print(f"breakpoint-spreading study: {configuration}", flush=True)
    start = time.perf_counter()
    rows = run(args)
    print_table(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "spread_study.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.tasks, out / "spread_study.png", configuration)
    print(
        f"wrote {out / 'spread_study.csv'} and {out / 'spread_study.png'} "
        f"in {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
