"""What the patch costs: build and training-step times, patched / stock.

In one process per backend, builds the same models with and without
`keras_fans.patch()`, alternating which goes first, and reports the ratio
of the median times; then trains each built model for the same steps and
reports the ratio of the median step times. Ratios taken in one run cancel
most of a shared machine's noise; the absolute times are printed too.

Models: a stack of 200 Dense layers, and a convolutional net of Conv2D and
DepthwiseConv2D layers (at least 20), all with `he_uniform` biases.

Usage: python -m benchmarks.overhead [--backend all|tensorflow|jax|torch]
"""

import argparse
import json
import statistics
import time
from contextlib import nullcontext

import numpy as np

from benchmarks import backends as backends_lib


def dense_stack(depth):
    import keras

    layers = [keras.Input((64,))]
    layers += [
        keras.layers.Dense(64, "relu", bias_initializer="he_uniform")
        for _ in range(depth)
    ]
    return keras.Sequential(layers), (64,)


def conv_net(depth):
    import keras

    layers = [keras.Input((16, 16, 16))]
    for index in range(depth):
        if index % 2:
            layer = keras.layers.DepthwiseConv2D(
                3, padding="same", bias_initializer="he_uniform"
            )
        else:
            layer = keras.layers.Conv2D(
                16, 3, padding="same", bias_initializer="he_uniform"
            )
        layers.append(layer)
    layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)]
    return keras.Sequential(layers), (16, 16, 16)


MODELS = {"dense_stack": dense_stack, "conv_net": conv_net}


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def measure(make_model, depth, repeats, steps):
    """Build times and step times, stock and patched, interleaved so that a
    change in the machine's load falls on both alike."""
    import keras

    import keras_fans

    builds = {"stock": [], "patched": []}
    models = {}
    for repeat in range(repeats):
        order = ("stock", "patched") if repeat % 2 else ("patched", "stock")
        for variant in order:
            patching = (
                keras_fans.patched if variant == "patched" else nullcontext
            )
            with patching():
                seconds, models[variant] = timed(lambda: make_model(depth))
            builds[variant].append(seconds)
    batches = {}
    for variant, (model, input_shape) in models.items():
        model.compile(keras.optimizers.SGD(1e-4), "mse")
        x = np.random.default_rng(0).normal(size=(32, *input_shape))
        y = np.zeros((32, model.output_shape[-1]), "float32")
        batches[variant] = (model, x.astype("float32"), y)
        model.train_on_batch(*batches[variant][1:])  # Compile the step.
    step_times = {"stock": [], "patched": []}
    for _ in range(steps):
        for variant, (model, x, y) in batches.items():
            step_times[variant].append(
                timed(lambda: model.train_on_batch(x, y))[0]
            )
    return builds, step_times


def run_worker(args):
    rows = []
    for name, make_model in MODELS.items():
        depth = args.dense_depth if name == "dense_stack" else args.conv_depth
        builds, steps = measure(make_model, depth, args.repeats, args.steps)
        row = {"backend": args.backend, "model": name, "depth": depth}
        for kind, times in (("build", builds), ("step", steps)):
            stock = statistics.median(times["stock"])
            patched = statistics.median(times["patched"])
            row[f"{kind}_stock_ms"] = round(1000 * stock, 3)
            row[f"{kind}_patched_ms"] = round(1000 * patched, 3)
            row[f"{kind}_ratio"] = round(patched / stock, 3)
        rows.append(row)
    print(json.dumps(rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    backends_lib.add_arguments(parser)
    parser.add_argument("--dense-depth", type=int, default=200)
    parser.add_argument("--conv-depth", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)
    if args.worker:
        return run_worker(args)
    backends = backends_lib.selected(args.backend)
    print(
        f"overhead benchmark: dense_depth={args.dense_depth} "
        f"conv_depth={args.conv_depth} repeats={args.repeats} "
        f"steps={args.steps} (medians; ratio = patched / stock)",
        flush=True,
    )
    arguments = [
        f"--dense-depth={args.dense_depth}",
        f"--conv-depth={args.conv_depth}",
        f"--repeats={args.repeats}",
        f"--steps={args.steps}",
    ]
    rows = backends_lib.run_workers("benchmarks.overhead", arguments, backends)
    print(
        f"{'backend':<11}{'model':<13}{'build stock':>12}{'patched':>9}"
        f"{'ratio':>7}{'step stock':>12}{'patched':>9}{'ratio':>7}"
    )
    for row in rows:
        print(
            f"{row['backend']:<11}{row['model']:<13}"
            f"{row['build_stock_ms']:>10.0f}ms{row['build_patched_ms']:>7.0f}ms"
            f"{row['build_ratio']:>7.3f}"
            f"{row['step_stock_ms']:>10.2f}ms{row['step_patched_ms']:>7.2f}ms"
            f"{row['step_ratio']:>7.3f}"
        )


if __name__ == "__main__":
    main()
