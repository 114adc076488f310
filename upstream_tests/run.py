"""Keras's own tests, run against the installed Keras with the patch on.

Downloads the source distribution of exactly the installed Keras version
(`pip download`, into the ignored `.cache/`), copies the `*_test.py` files
of the modules the patch touches, and runs them once per backend with
`keras_fans.patch()` active (`conftest.py` here, loaded as a plugin). A test
that fails patched is run again with the patch off: failing both ways, it
is the environment's and must be listed in `excluded.txt`; failing only
patched, it is ours and must be listed in `known_differences.txt`. Anything
else is an unexplained failure, and the exit code is 1.

`--stock` runs everything with the patch off instead, to find what fails
on stock Keras here.

Usage: python -m upstream_tests.run [--backend B ...] [--stock] [-n N]
"""

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import keras

HERE = Path(__file__).parent
CACHE = HERE.parent / ".cache"
MODULES = (
    "initializers",
    "layers/core",
    "layers/convolutional",
    "layers/rnn",
    "layers/attention",
    "models",
    "saving",
)
BACKENDS = ("tensorflow", "jax", "torch")


def listed(path):
    """Test ids in a list file: the first word of each line not starting
    with `#`; the rest of the line is the reason."""
    lines = path.read_text().splitlines()
    return {
        line.split()[0]
        for line in lines
        if line.strip() and not line.startswith("#")
    }


def test_tree(version):
    """The tests of `MODULES` from Keras's sdist, copied once to `.cache/`."""
    tree = CACHE / f"keras-{version}-tests"
    if tree.exists():
        return tree
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
            + ["--no-binary", ":all:", f"keras=={version}", "-d", download],
            check=True,
        )
        (sdist,) = Path(download).glob("keras-*.tar.gz")
        staging = Path(tempfile.mkdtemp(dir=CACHE))
        # Keep the `keras/src/` layout: a test's own classes serialize as
        # `keras.src.<module>`, the only module paths Keras re-imports.
        top = f"keras-{version}/"
        modules = tuple(f"{top}keras/src/{module}/" for module in MODULES)
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                if member.name.startswith(modules) and member.name.endswith(
                    "_test.py"
                ):
                    member.name = member.name.removeprefix(top)
                    archive.extract(member, staging, filter="data")
        staging.rename(tree)
    return tree


def run(backend, tree, tests, patched, workers):
    """Runs `tests` (paths or ids in `tree`); returns {id: outcome}."""
    with tempfile.NamedTemporaryFile(suffix=".json") as outcomes:
        env = {
            **os.environ,
            "KERAS_BACKEND": backend,
            "KERAS_FANS_PATCH": "1" if patched else "0",
            "KERAS_FANS_OUTCOMES": outcomes.name,
            "PYTHONPATH": str(HERE),
        }
        command = [sys.executable, "-m", "pytest", "-p", "conftest"]
        command += ["-c", str(HERE / "pytest.ini"), f"--rootdir={tree}"]
        command += ["--import-mode=importlib", "-q", "-p", "no:cacheprovider"]
        if workers > 1:
            command += ["-n", str(workers)]
        subprocess.run(
            command + sorted(tests),
            cwd=tree,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        return json.loads(Path(outcomes.name).read_text() or "{}")


def count(outcomes, outcome):
    return sum(value == outcome for value in outcomes.values())


def check_backend(backend, tree, args):
    """Runs one backend; prints its line; returns the unexplained ids."""
    excluded = listed(HERE / "excluded.txt")
    known = listed(HERE / "known_differences.txt")
    start = time.perf_counter()
    tests = [f"keras/src/{module}" for module in MODULES]
    tests += [f"--deselect={test}" for test in excluded]
    outcomes = run(backend, tree, tests, not args.stock, args.workers)
    failed = {test for test, value in outcomes.items() if value == "failed"}
    # Every failure not listed is unexplained; the ones that fail with the
    # patch off too belong in excluded.txt, and are named so.
    unexplained = failed - known
    if unexplained and not args.stock:
        stock = run(backend, tree, unexplained, False, args.workers)
        for test in sorted(unexplained):
            if stock.get(test) == "failed":
                print(f"  {backend}: fails on stock Keras too: {test}")
    mode = "stock" if args.stock else "patched"
    print(
        f"{backend} ({mode}): {count(outcomes, 'passed')} passed, "
        f"{len(failed)} failed, {count(outcomes, 'skipped')} skipped, "
        f"{len(excluded)} excluded, {len(failed & known)} known differences,"
        f" {len(unexplained)} unexplained in "
        f"{time.perf_counter() - start:.0f} s",
        flush=True,
    )
    for test in sorted(unexplained):
        print(f"  {backend}: unexplained failure: {test}")
    if not outcomes:
        print(f"  {backend}: no test ran")
        unexplained.add("<no test ran>")
    return unexplained


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", nargs="+", default=list(BACKENDS))
    parser.add_argument("--stock", action="store_true")
    parser.add_argument("-n", "--workers", type=int, default=2)
    args = parser.parse_args(argv)
    CACHE.mkdir(exist_ok=True)
    tree = test_tree(keras.version())
    print(f"Keras {keras.version()}'s tests of {', '.join(MODULES)}")
    unexplained = set()
    for backend in args.backend:
        unexplained |= check_backend(backend, tree, args)
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
