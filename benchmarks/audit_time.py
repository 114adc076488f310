"""How long `python -m keras_fans audit` takes on a deep Dense stack.

Saves a stack of `--depth` Dense layers (widths alternating 64 and 32,
`he_uniform` biases: every bias affected) as `.keras`, then per backend
runs the command `--runs` times, each in a fresh process, and reports the
median wall time of the command, of `import keras_fans` alone (the same
process start), and of `keras_fans.auditing.audit_file` in process.

Usage: python -m benchmarks.audit_time [--depth 200] [--runs 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BACKENDS = ("jax", "torch", "tensorflow")

_SAVE = """
import sys, keras
layers = [keras.Input((32,))] + [
    keras.layers.Dense(64 if i % 2 == 0 else 32, bias_initializer="he_uniform")
    for i in range({depth})
]
keras.Sequential(layers).save(sys.argv[1])
"""

_AUDIT_IN_PROCESS = """
import sys, time
from keras_fans.auditing import audit_file
start = time.perf_counter()
findings, _, _ = audit_file(sys.argv[1])
print(time.perf_counter() - start, len(findings))
"""


def _run(args, backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(
        f"Dense stack of {args.depth} layers; {args.runs} runs per backend; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        "medians in seconds"
    )
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "stack.keras"
        _run(
            [sys.executable, "-c", _SAVE.format(depth=args.depth), path],
            "jax",
        )
        print("| backend | command | import keras_fans | audit_file | exit |")
        print("|---|---:|---:|---:|---:|")
        for backend in BACKENDS:
            command, imports, audits = [], [], []
            for _ in range(args.runs):
                seconds, result = _run(
                    [sys.executable, "-m", "keras_fans", "audit", path],
                    backend,
                )
                command.append(seconds)
                imports.append(
                    _run([sys.executable, "-c", "import keras_fans"], backend)[
                        0
                    ]
                )
                _, timed = _run(
                    [sys.executable, "-c", _AUDIT_IN_PROCESS, path], backend
                )
                audits.append(float(timed.stdout.split()[0]))
            print(
                f"| {backend} | {statistics.median(command):.2f} "
                f"| {statistics.median(imports):.2f} "
                f"| {statistics.median(audits):.2f} | {result.returncode} |"
            )
        print(f"verdict: {result.stdout.splitlines()[-1]}")


if __name__ == "__main__":
    main()
