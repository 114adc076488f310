"""The before/after table of a PR description: the largest |value| of the
weight a PR changes, by layer width, on stock Keras and on Keras with PRs
1..N applied.

Each side runs in its own process with that Keras first on `PYTHONPATH`
(made as `upstream_tests.equivalence` makes them: not while it runs).
Weights are drawn with `HeUniform(seed=1)` (`GlorotUniform` for the
depthwise kernel) from inputs 16 wide, so the bound by the right fan-in
is the same at every width.

Usage: python -m upstream_tests.bias_table --pr N [--keras REQ]
"""

import argparse
import json
import os
import subprocess
import sys

from keras_fans.upstream import series
from keras_fans.upstream import sources
from upstream_tests import equivalence

WIDTHS = (16, 256, 4096)

# Per PR: the layer (`{w}`: the width), its input shape, the weight.
LAYERS = {
    1: ("layers.Dense({w}, bias_initializer=he)", (2, 16), "bias"),
    2: (
        "layers.SeparableConv1D({w}, 3, bias_initializer=he)",
        (1, 8, 16),
        "bias",
    ),
    3: (
        "layers.DepthwiseConv1D(3, depth_multiplier=1, "
        "depthwise_initializer=glorot)",
        (1, 8, "{w}"),
        "kernel",
    ),
}

_MEASURE = """
import json, sys
import numpy as np
from keras import initializers, layers, ops
he = initializers.HeUniform(seed=1)
glorot = initializers.GlorotUniform(seed=1)
make, shape, weight = json.loads(sys.argv[1])
out = {}
for w in json.loads(sys.argv[2]):
    layer = eval(make.format(w=w))
    layer.build(tuple(int(str(d).format(w=w)) for d in shape))
    value = layer
    for part in weight.split("."):
        value = getattr(value, part)
    out[w] = float(np.abs(ops.convert_to_numpy(value)).max())
print(json.dumps(out))
"""


def _measure(src, pr):
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, json.dumps(LAYERS[pr])]
        + [json.dumps(WIDTHS)],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax"),
            "PYTHONPATH": str(equivalence.site(src)),
        },
    )
    if result.returncode != 0:
        error = (result.stderr.strip().splitlines() or ["no output"])[-1]
        sys.exit(f"bias_table: measuring with the Keras in {src}: {error}")
    return json.loads(result.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pr", type=int, required=True, choices=sorted(LAYERS))
    parser.add_argument("--keras", default=sources.pinned())
    args = parser.parse_args(argv)
    tree = sources.with_tests(sources.sdist(args.keras))
    patched, _ = equivalence._patched(tree, args.pr)
    before, after = _measure(tree, args.pr), _measure(patched, args.pr)
    make, shape, weight = LAYERS[args.pr]
    backend = os.environ.get("KERAS_BACKEND", "jax")
    print(f"PR {args.pr}: {series.SERIES[args.pr - 1].title}")
    print(f"`{make}` built on {shape}, `{weight}`; {tree.name}, {backend}")
    print("\n| width | max abs before | max abs after |\n|---|---|---|")
    for width in WIDTHS:
        key = str(width)
        print(f"| {width} | {before[key]:.3f} | {after[key]:.3f} |")


if __name__ == "__main__":
    main()
