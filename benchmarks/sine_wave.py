"""The sine-wave experiment: stock Keras vs keras_fans vs native PyTorch.

A shallow MLP (one hidden ReLU layer of width w, one linear output) learns
y = sin(2 pi x) on 256 evenly spaced points of [-1, 1]. Every variant draws
its kernels from VarianceScaling(1/3, "fan_in", "uniform") (PyTorch's
nn.Linear weight default), so only the bias differs:

- zeros: Keras's default bias;
- stock: the bias initializer (by default that same VarianceScaling) in
  stock Keras, which scales it by the bias vector's length;
- patched: the same initializer under keras_fans.patch();
- spread: patched, then keras_fans.spread_breakpoints(hidden, -1, 1) sets
  each hidden unit's bias to -w * t, t ~ U(-1, 1): every ReLU breakpoint
  lies in the data's range;
- pytorch: torch.nn.Linear's own defaults, trained in a plain PyTorch loop
  (benchmarks/native.py), seeded from a range no Keras cell uses.

All variants see the same batches in the same order (one data seed); the
seeds vary the initialization. The seeds of one cell train side by side as
independent branches of one Keras model, whose loss is the sum of the
branches' losses: each parameter's gradient is its own branch's, and Adam
is per parameter, so this is training each network on its own, batched.

Writes out/sine_wave.csv and out/sine_wave.png (`--out`), then compares
them with the committed reference, results/sine_wave.csv (`--reference`).

Usage: python -m benchmarks.sine_wave [--backend all|tensorflow|jax|torch]
       python -m benchmarks.sine_wave --plot-only results/sine_wave.csv
"""

import argparse
import csv
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from benchmarks import backends as backends_lib
from benchmarks import native

KERAS_VARIANTS = ("zeros", "stock", "patched", "spread")
VARIANTS = KERAS_VARIANTS + ("pytorch",)
BIAS_INITIALIZERS = (
    "pytorch_uniform",
    "he_uniform",
    "he_normal",
    "glorot_uniform",
    "glorot_normal",
    "lecun_uniform",
    "lecun_normal",
)
COLUMNS = (
    "backend",
    "width",
    "variant",
    "median_mse",
    "iqr_mse",
    "breakpoints_in_range",
    "rank",
    "seconds",
)
DEFAULT = {"widths": [16, 64, 256, 1024], "seeds": 5}
FULL = {"widths": [4, 16, 64, 256, 1024, 4096], "seeds": 10}
POINTS = 256
DATA_SEED = 1234


def data():
    x = np.linspace(-1.0, 1.0, POINTS, dtype="float32")[:, None]
    return x, np.sin(2 * np.pi * x).astype("float32")


def batch_order(args):
    """The sample order of all epochs, one shuffle per epoch."""
    rng = np.random.default_rng(DATA_SEED)
    return np.concatenate([rng.permutation(POINTS) for _ in range(args.epochs)])


def diagnose(kernel, bias, x):
    """Hidden units whose ReLU breakpoint -b/w lies in [-1, 1], and the
    numerical rank of the hidden activations over the points."""
    kernel, bias = np.reshape(kernel, (1, -1)), np.ravel(bias)
    in_range = int(np.sum(native.crosses_box(kernel, bias, [-1.0], [1.0])))
    activations = np.maximum(x @ kernel + bias, 0.0)
    return in_range, int(np.linalg.matrix_rank(activations))


def summarize(backend, width, variant, mses, diagnostics, seconds):
    q1, median, q3 = np.percentile(mses, [25, 50, 75])
    in_range, rank = np.median(np.array(diagnostics), axis=0)
    return {
        "backend": backend,
        "width": width,
        "variant": variant,
        "median_mse": float(median),
        "iqr_mse": float(q3 - q1),
        "breakpoints_in_range": float(in_range),
        "rank": float(rank),
        "seconds": round(seconds, 2),
    }


def pytorch_uniform(seed):
    """U(+-1/sqrt(fan_in)): PyTorch's nn.Linear default."""
    import keras

    return keras.initializers.VarianceScaling(
        scale=1 / 3, mode="fan_in", distribution="uniform", seed=seed
    )


def keras_branches(args, width, variant, seeds):
    """One network per seed, side by side in one model: returns the model
    and each seed's hidden layer."""
    import keras

    import keras_fans

    def bias(seed):
        if variant == "zeros":
            return "zeros"
        if args.bias_initializer == "pytorch_uniform":
            return pytorch_uniform(seed)
        return keras.initializers.get(
            {"class_name": args.bias_initializer, "config": {"seed": seed}}
        )

    def branch(inputs, seed):
        """Distinct seeds for each weight: equal seeds draw equal values."""
        hidden = keras.layers.Dense(
            width,
            activation="relu",
            kernel_initializer=pytorch_uniform(4 * seed),
            bias_initializer=bias(4 * seed + 1),
        )
        output = keras.layers.Dense(
            1,
            kernel_initializer=pytorch_uniform(4 * seed + 2),
            bias_initializer=bias(4 * seed + 3),
        )
        return hidden, output(hidden(inputs))

    patching = (
        keras_fans.patched if variant in ("patched", "spread") else nullcontext
    )
    with patching():
        inputs = keras.Input((1,))
        branches = [branch(inputs, seed) for seed in seeds]
    model = keras.Model(
        inputs, keras.layers.Concatenate()([out for _, out in branches])
    )
    if variant == "spread":
        for seed, (hidden, _) in zip(seeds, branches):
            keras_fans.spread_breakpoints(hidden, -1.0, 1.0, seed=4 * seed + 1)
    return model, [hidden for hidden, _ in branches]


def fit_side_by_side(model, x, y, order, learning_rate, epsilon, batch_size):
    """Trains `model`, whose outputs are one network per seed, on the
    batches of `x[order]` (one pass: `order` holds every epoch) with Adam
    and the per-network MSEs summed; returns each network's final MSE on
    `x`. `learning_rate` may be a Keras schedule."""
    import keras

    def summed_mse(y_true, y_pred):
        return keras.ops.sum(keras.ops.square(y_true - y_pred), axis=-1)

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, epsilon=epsilon),
        loss=summed_mse,
    )
    targets = np.repeat(y, model.output_shape[-1], axis=1)
    model.fit(
        x[order],
        targets[order],
        batch_size=batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    predictions = keras.ops.convert_to_numpy(model(x))
    return np.mean((predictions - y) ** 2, axis=0)


def keras_cell(args, width, variant, seeds):
    """Trains one network per seed, side by side; returns per-seed MSEs and
    initial diagnostics."""
    import keras

    x, y = data()
    order = batch_order(args)
    model, hidden_layers = keras_branches(args, width, variant, seeds)
    diagnostics = [
        diagnose(
            keras.ops.convert_to_numpy(hidden.kernel),
            keras.ops.convert_to_numpy(hidden.bias),
            x,
        )
        for hidden in hidden_layers
    ]

    mses = fit_side_by_side(
        model, x, y, order, args.learning_rate, args.epsilon, args.batch_size
    )
    return mses, diagnostics


def pytorch_cell(args, width, seeds):
    """Native torch.nn.Linear defaults and torch.optim.Adam, no Keras."""
    import torch

    torch.set_num_threads(1)
    x, y = data()
    parameters = native.initial_parameters(
        (1, width, 1), seeds, "pytorch", -1.0, 1.0
    )
    kernels, biases = parameters[0]
    diagnostics = [
        diagnose(kernel, bias, x) for kernel, bias in zip(kernels, biases)
    ]
    mses = native.train(
        parameters,
        x,
        y,
        batch_order(args),
        args.batch_size,
        args.learning_rate,
        args.epsilon,
    )
    return mses, diagnostics


def run_worker(args):
    """Runs every cell of one backend (or native PyTorch) in this process."""
    seeds = list(range(args.seeds))
    variants = ("pytorch",) if args.backend == "native" else KERAS_VARIANTS
    cells = [(w, v) for w in args.widths for v in variants]
    rows = []
    for done, (width, variant) in enumerate(cells):
        progress(args.backend, done, len(cells), f"width={width} {variant}")
        start = time.perf_counter()
        if variant == "pytorch":
            mses, diagnostics = pytorch_cell(args, width, seeds)
        else:
            mses, diagnostics = keras_cell(args, width, variant, seeds)
        seconds = time.perf_counter() - start
        rows.append(
            summarize(args.backend, width, variant, mses, diagnostics, seconds)
        )
    progress(args.backend, len(cells), len(cells), "done")
    print(json.dumps(rows))


def progress(name, done, total, what):
    bar = "#" * round(20 * done / total)
    print(
        f"\r{name:>10} [{bar:<20}] {done}/{total} {what:<24}",
        end="\n" if done == total else "",
        file=sys.stderr,
        flush=True,
    )


def run_all(args, backends):
    return backends_lib.run_workers(
        "benchmarks.sine_wave", worker_arguments(args), backends + ["native"]
    )


def worker_arguments(args):
    return [
        f"--epochs={args.epochs}",
        f"--batch-size={args.batch_size}",
        f"--learning-rate={args.learning_rate}",
        f"--epsilon={args.epsilon}",
        f"--seeds={args.seeds}",
        f"--bias-initializer={args.bias_initializer}",
        "--widths",
        *map(str, args.widths),
    ]


def print_table(rows):
    header = (
        f"{'backend':<11}{'width':>6}  {'variant':<8}{'median MSE':>11}"
        f"{'IQR':>10}{'breakpts':>10}{'rank':>6}{'seconds':>9}"
    )
    print(header)
    for row in rows:
        print(
            f"{row['backend']:<11}{row['width']:>6}  {row['variant']:<8}"
            f"{row['median_mse']:>11.2e}{row['iqr_mse']:>10.1e}"
            f"{row['breakpoints_in_range']:>10.0f}{row['rank']:>6.0f}"
            f"{row['seconds']:>9.1f}"
        )


def write_csv(rows, path):
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


# Legend names: which code trained each curve.
LABELS = {
    "zeros": "Keras, zeros bias",
    "stock": "Keras, stock bias",
    "patched": "Keras + keras_fans.patch()",
    "spread": "Keras + patch + spread_breakpoints",
    "pytorch": "native PyTorch (torch.nn, no Keras)",
}


def plot(rows, backends, path, seeds):
    """Median final MSE against width, one panel per Keras backend; a bar
    spans each cell's interquartile range over seeds (its length, centred
    on the median on a log axis: the CSV keeps the IQR, not the
    quartiles)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(
        1, len(backends), figsize=(5 * len(backends), 4.4), sharey=True
    )
    widths = sorted({int(r["width"]) for r in rows})
    for axis, backend in zip(np.atleast_1d(axes), backends):
        for variant in VARIANTS:
            source = "native" if variant == "pytorch" else backend
            cells = [
                r
                for r in rows
                if r["backend"] == source and r["variant"] == variant
            ]
            median = np.array([float(r["median_mse"]) for r in cells])
            half = np.array([float(r["iqr_mse"]) for r in cells]) / 2
            axis.errorbar(
                [int(r["width"]) for r in cells],
                median,
                yerr=[np.minimum(half, median * 0.99), half],
                marker="o",
                capsize=3,
                label=LABELS[variant],
            )
        axis.set(xscale="log", yscale="log", title=f"Keras on {backend}")
        axis.set_xticks(widths, [str(w) for w in widths])
        axis.minorticks_off()
        axis.set_xlabel("hidden width")
        axis.grid(True, which="major", alpha=0.3)
    first = np.atleast_1d(axes)[0]
    first.set_ylabel("final MSE: median, bar = IQR over seeds")
    first.legend(fontsize=8)
    figure.suptitle(
        "Learning sin(2\u03c0x) with one hidden ReLU layer: final MSE by "
        f"width ({seeds} seeds per point)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def compare(rows, reference):
    """Lines comparing `rows` with the `reference` rows, cell by cell: how
    many median MSEs are bit-identical, and the largest relative
    difference."""
    key = ("backend", "width", "variant")
    ours = {tuple(str(r[k]) for k in key): r for r in rows}
    theirs = {tuple(str(r[k]) for k in key): r for r in reference}
    common = sorted(set(ours) & set(theirs))
    lines = []
    if len(common) < len(ours):
        lines.append(
            f"{len(ours) - len(common)} of {len(ours)} cells are not in the "
            "reference (another configuration)"
        )
    for backend in sorted({cell[0] for cell in common}):
        cells = [cell for cell in common if cell[0] == backend]
        pairs = [
            (float(ours[c]["median_mse"]), float(theirs[c]["median_mse"]))
            for c in cells
        ]
        same = sum(a == b for a, b in pairs)
        largest = max(abs(a - b) / b for a, b in pairs)
        lines.append(
            f"{backend:<11}{same:>3} of {len(cells)} cells bit-identical, "
            f"largest relative difference {largest:.1e}"
        )
    return lines


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    backends_lib.add_arguments(parser, extra_backends=("native",))
    parser.add_argument("--full", action="store_true", help=f"{FULL}")
    parser.add_argument("--widths", type=int, nargs="+")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument(
        "--epsilon",
        type=float,
        default=1e-7,
        help="Adam's epsilon, set in both Keras and PyTorch",
    )
    parser.add_argument(
        "--bias-initializer",
        default="pytorch_uniform",
        choices=BIAS_INITIALIZERS,
    )
    parser.add_argument(
        "--out", default="out", help="folder for the CSV and PNG written"
    )
    parser.add_argument(
        "--reference",
        default="results/sine_wave.csv",
        help="committed results to compare with (none: 'none')",
    )
    parser.add_argument(
        "--plot-only",
        metavar="CSV",
        help="draw the figure of an existing CSV (run with --seeds) beside "
        "it; runs nothing",
    )
    args = parser.parse_args(argv)
    size = FULL if args.full else DEFAULT
    args.widths = args.widths or size["widths"]
    args.seeds = args.seeds or size["seeds"]
    return args


def describe(args):
    """The configuration, as printed with the results."""
    return (
        f"widths={args.widths} seeds={args.seeds} epochs={args.epochs} "
        f"batch={args.batch_size} Adam(lr={args.learning_rate}, "
        f"epsilon={args.epsilon}) bias={args.bias_initializer} "
        f"points={POINTS} data_seed={DATA_SEED}"
    )


def main(argv=None):
    args = parse(argv)
    if args.worker:
        return run_worker(args)
    if args.plot_only:
        rows = read_csv(args.plot_only)
        backends = [
            b
            for b in backends_lib.selected("all")
            if b in {r["backend"] for r in rows}
        ]
        figure = Path(args.plot_only).with_suffix(".png")
        plot(rows, backends, figure, args.seeds)
        print(f"wrote {figure}")
        return None
    backends = backends_lib.selected(args.backend)
    configuration = describe(args)
    print(f"sine-wave experiment: {configuration}", flush=True)
    start = time.perf_counter()
    rows = run_all(args, backends)
    print_table(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "sine_wave.csv")
    plot(rows, backends, out / "sine_wave.png", args.seeds)
    summary = [
        f"sine-wave experiment: {configuration}",
        f"wrote {out / 'sine_wave.csv'} and {out / 'sine_wave.png'} "
        f"in {time.perf_counter() - start:.0f} s",
    ]
    default = parse([])
    if args.reference == "none" or not Path(args.reference).exists():
        summary.append("no reference to compare with")
    elif args.reference == default.reference and configuration != describe(
        default
    ):
        # results/ holds the default configuration's run.
        summary.append(
            f"not compared with {args.reference}: it is the default "
            f"configuration's run ({describe(default)})"
        )
    else:
        summary.append(f"against the reference {args.reference}:")
        summary += compare(rows, read_csv(args.reference))
    (out / "sine_wave_summary.txt").write_text("\n".join(summary) + "\n")
    print("\n".join(summary[1:]))


if __name__ == "__main__":
    main()
