"""Keras's own tests, run against the installed Keras with the patch on.

Downloads the source distribution of exactly the installed Keras version
(`pip download`, into the ignored `.cache/`), copies its `*_test.py` files,
and runs those of the modules the patch touches once per backend with
`keras_fans.patch()` active (`conftest.py` here, loaded as a plugin). A test
file that fails to import or yields no test, and a pytest exit code other
than 0 and 1, count as failures too (see `run`). A test that fails patched is
run again with the patch off: failing both ways, it is the environment's and
must be listed in `excluded.txt`; failing only patched, it is ours and must
be listed in `known_differences.txt`. Anything else is an unexplained
failure, and the exit code is 1.

`--stock` runs everything with the patch off instead, to find what fails
on stock Keras here.

Usage: python -m upstream_tests.run [--backend B ...] [--stock] [-n N]
"""

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras

from keras_fans.upstream import sources

HERE = Path(__file__).parent
CACHE = sources.CACHE
# Folders, files and classes under keras/src/; `{backend}` is the backend's.
MODULES = (
    "initializers",
    "layers/core",
    "layers/convolutional",
    "layers/rnn",
    "layers/attention",
    "models",
    "saving",
    # `Layer.add_weight` itself and a layer without a fan rule.
    "layers/layer_test.py",
    "layers/activations/prelu_test.py",
    # The variables an initializer fills, eager and deferred.
    "backend/common/variables_test.py::VariableInitializationTest",
    "backend/common/variables_test.py::VariablePropertiesTest",
    "backend/common/stateless_scope_test.py",
    "backend/{backend}",
    "distribution",
    "ops/core_test.py",
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


def copy_tests(source, directories, destination):
    """Copies the `*_test.py` files under `keras/src/<directory>/` of the
    Keras tree `source` to `destination`, keeping the `keras/src/` layout:
    a test's own classes serialize as `keras.src.<module>`, the only module
    paths Keras re-imports."""
    for directory in directories:
        for path in (Path(source) / "keras/src" / directory).rglob("*_test.py"):
            copy = Path(destination) / path.relative_to(source)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)


def test_tree(version):
    """Every test of Keras's sdist, copied once to `.cache/`."""
    tree = CACHE / f"keras-{version}-src-tests"
    if not tree.exists():
        staging = Path(tempfile.mkdtemp(dir=CACHE))
        copy_tests(sources.sdist(f"keras=={version}"), [""], staging)
        staging.rename(tree)
    return tree


def exit_code_id(code):
    """The failed id standing for pytest's exit code `code`."""
    return f"<pytest exit code {code}>"


def named_files(tree, tests):
    """The test files that `tests` (as passed to `run`) selects whole:
    those of each folder and each file named; not single ids or options."""
    files = set()
    for test in tests:
        if test.startswith("-") or "::" in test:
            continue
        path = Path(tree) / test
        found = sorted(path.rglob("*_test.py")) if path.is_dir() else [path]
        files.update(file.relative_to(tree).as_posix() for file in found)
    return files


def silent_files(files, collected, outcomes):
    """The test files of `files` that yielded no test id in `collected`,
    and that no collect report in `outcomes` failed or skipped."""
    counts = collections.Counter(test.split("::")[0] for test in collected)
    return sorted(
        file for file in files if not counts[file] and file not in outcomes
    )


def run(backend, tree, tests, patched, workers, python=sys.executable, path=()):
    """Runs `tests` (paths, ids or options, in `tree`) with the interpreter
    `python`, with the folders `path` first on `PYTHONPATH`; returns
    {id: outcome}.

    Beyond each test's outcome, every way a run can lose tests is a failed
    id: a module that failed to collect (its path), a test file named in
    `tests` that yielded no test (its path), and a pytest exit code other
    than 0 (all passed) or 1 (some failed) (`exit_code_id`).
    """
    with tempfile.NamedTemporaryFile(suffix=".json") as record_file:
        env = {
            **os.environ,
            "KERAS_BACKEND": backend,
            "KERAS_FANS_PATCH": "1" if patched else "0",
            "KERAS_FANS_OUTCOMES": record_file.name,
            "PYTHONPATH": os.pathsep.join([*map(str, path), str(HERE)]),
        }
        command = [python, "-m", "pytest", "-p", "conftest"]
        command += ["-c", str(HERE / "pytest.ini"), f"--rootdir={tree}"]
        command += ["--import-mode=importlib", "-q", "-p", "no:cacheprovider"]
        # A module that fails to import must not stop the others.
        command += ["--continue-on-collection-errors"]
        if workers > 1:
            command += ["-n", str(workers)]
        completed = subprocess.run(
            command + sorted(tests),
            cwd=tree,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        text = Path(record_file.name).read_text()
    outcomes = {}
    if text:  # pytest's session finished.
        record = json.loads(text)
        outcomes = record["outcomes"]
        files = named_files(tree, tests)
        for file in silent_files(files, record["collected"], outcomes):
            outcomes[file] = "failed"
    if completed.returncode not in (0, 1):
        outcomes[exit_code_id(completed.returncode)] = "failed"
    return outcomes


def count(outcomes, outcome):
    return sum(value == outcome for value in outcomes.values())


def check_backend(backend, tree, args):
    """Runs one backend; prints its line; returns the unexplained ids."""
    excluded = listed(HERE / "excluded.txt")
    known = listed(HERE / "known_differences.txt")
    start = time.perf_counter()
    tests = [
        f"keras/src/{module}".format(backend=backend) for module in MODULES
    ]
    tests += [f"--deselect={test}" for test in excluded]
    outcomes = run(backend, tree, tests, not args.stock, args.workers)
    failed = {test for test, value in outcomes.items() if value == "failed"}
    # Every failure not listed is unexplained; the ones that fail with the
    # patch off too belong in excluded.txt, and are named so.
    unexplained = failed - known
    # Only tests and modules can be re-run, not an exit code.
    rerun = {test for test in unexplained if not test.startswith("<")}
    if rerun and not args.stock:
        stock = run(backend, tree, rerun, False, args.workers)
        for test in sorted(rerun):
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
