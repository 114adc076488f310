"""Runs a benchmark's worker once per Keras backend, each in its own process
(KERAS_BACKEND is read when Keras is imported)."""

import argparse
import json
import os
import subprocess
import sys

KERAS_BACKENDS = ("tensorflow", "jax", "torch")


def run_workers(module, arguments, backends):
    """Runs `python -m module --worker --backend=B *arguments` for each
    backend `B`; returns the rows each worker printed as JSON on its last
    line of output, concatenated."""
    rows = []
    for backend in backends:
        # A worker that is no Keras backend (native PyTorch) still imports
        # keras_fans: give it Keras's torch backend, whose torch it loads.
        keras_backend = backend if backend in KERAS_BACKENDS else "torch"
        result = subprocess.run(
            [sys.executable, "-m", module, "--worker", f"--backend={backend}"]
            + arguments,
            env={**os.environ, "KERAS_BACKEND": keras_backend},
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        rows += json.loads(result.stdout.strip().splitlines()[-1])
    return rows


def add_arguments(parser, extra_backends=()):
    """`--backend` (a name, or "all") and the hidden `--worker` flag."""
    parser.add_argument(
        "--backend",
        default="all",
        choices=("all", *extra_backends, *KERAS_BACKENDS),
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)


def selected(backend):
    """The backends `--backend` names."""
    return list(KERAS_BACKENDS) if backend == "all" else [backend]
