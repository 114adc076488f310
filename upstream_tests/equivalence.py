"""Proof, per prefix of the series, that Keras with PRs 1..N applied behaves
as the runtime patch with the rules of PRs 1..N.

For each Keras source (the pinned release's sdist; the newest keras-nightly
sdist, our stand-in for Keras main, with the pinned release's tests) and
each prefix N:

1. `git apply` the diffs of PRs 1..N, one after the other, to a fresh copy
   of the tree, which is then imported from `PYTHONPATH` (`site`; the
   pinned backends of `.venv` are reused, only Keras differs; OpenVINO,
   which nothing else needs, is installed once into `.cache/`); for N = 1,
   PR 1 must keep within `diff.PR_1_LIMITS` on this tree;
2. run, on each backend (TensorFlow, JAX, PyTorch, numpy, OpenVINO),
   Keras's test files of the modules PR N touches (with the methods it
   adds; earlier PRs' ran at their prefix), counting lost files as
   `run.run` does. A failure counts only if `expected_failures.txt` lists
   it for that Keras version and backend (a reviewed list, each group with
   its reason);
3. compare the initial weights of one layer of each kind
   (`fingerprint.py`) with the runtime patch's restricted to the rules of
   PRs 1..N (`fingerprint.py --prs N`), bit for bit: layers the prefix does
   not cover must draw stock values on both sides;
4. for the whole series (N = last), on TensorFlow, JAX and PyTorch, run
   our own suite in native mode (`KERAS_FANS_NATIVE=1`) against the
   patched Keras; after all trees, once per backend, with the runtime
   patch on `.venv`'s Keras. Every test must pass (or be skipped with its
   reason, e.g. runtime-only in native mode).

Usage: python -m upstream_tests.equivalence [--keras REQ ...]
           [--pr N ...] [--backend B ...] [--no-suite]
Exit code 0 only if every check passes.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from keras_fans.upstream import diff
from keras_fans.upstream import series
from keras_fans.upstream import sources
from upstream_tests import run

ROOT = Path(__file__).parents[1]
HERE = Path(__file__).parent
WORK = sources.CACHE / "equivalence"
BACKENDS = ("tensorflow", "jax", "torch", "numpy", "openvino")
OUR_SUITE = ("keras_fans", "integration_tests")


def expected_failures(version, backend):
    """Test ids `expected_failures.txt` lists for Keras `version` on
    `backend`: lines `<version> <test id>` (every backend) or
    `<version>/<backend> <test id>`; `#` lines give each group's reason."""
    lines = (HERE / "expected_failures.txt").read_text().splitlines()
    return {
        line.split()[1]
        for line in lines
        if line.strip()
        and not line.startswith("#")
        and line.split()[0] in (version, f"{version}/{backend}")
    }


def _git_apply(patch, tree):
    """`git apply` in `tree`, as outside any repository."""
    subprocess.run(
        ["git", "apply", "-"],
        input=patch,
        text=True,
        cwd=tree,
        check=True,
        capture_output=True,
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(tree.parent)},
    )


def _patched(tree, count):
    """A copy of `tree` with PRs 1..`count` applied, and the test files of
    the modules PR `count` touches."""
    WORK.mkdir(parents=True, exist_ok=True)
    copy = WORK / f"{tree.name}-pr{count}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.rmtree(f"{copy}-site", ignore_errors=True)
    shutil.copytree(tree, copy)
    for number in range(1, count + 1):
        patch = diff.generate(tree, number)
        _git_apply(patch, copy)
    # PR `count` changes only these files: the tests of earlier PRs' files
    # ran at their own prefix.
    touched = {
        line.removeprefix("+++ b/")
        for line in patch.splitlines()
        if line.startswith("+++ b/")
    }
    tests = {
        path.removesuffix(".py").removesuffix("_test") + "_test.py"
        for path in touched
    }
    return copy, sorted(t for t in tests if (copy / t).is_file())


def site(tree):
    """A folder to put first on `PYTHONPATH` to import the Keras of
    `tree`: `keras` is its `keras/api` (as Keras's build maps it), with
    `keras/src` linked to the tree's."""
    folder = Path(f"{tree}-site")
    if not folder.exists():
        staging = Path(tempfile.mkdtemp(dir=WORK))
        shutil.copytree(Path(tree) / "keras/api", staging / "keras")
        (staging / "keras/src").symlink_to(Path(tree).resolve() / "keras/src")
        staging.rename(folder)
    return folder


def _path(tree, backend):
    """What goes first on `PYTHONPATH`: the Keras of `tree` (without: that
    of `.venv`) and, for OpenVINO, its folder in `.cache/`."""
    path = [site(tree)] if tree else []
    if backend == "openvino":
        path.append(sources.installed(*sources.OPENVINO))
    return path


def _env(tree, backend, **extra):
    path = [*_path(tree, backend), HERE]
    return {
        **os.environ,
        "KERAS_BACKEND": backend,
        "PYTHONPATH": os.pathsep.join(map(str, path)),
        **extra,
    }


def _keras_tests(src, backend, tests):
    """Keras's `tests` (paths in `src`) against the Keras in `src`, with
    `run.run`'s accounting of lost files: {test id: outcome}."""
    return run.run(backend, src, tests, False, 2, path=_path(src, backend))


def _fingerprint(backend, *options, src=None):
    """`fingerprint.py`'s output, or None (with its error printed)."""
    result = subprocess.run(
        [sys.executable, "-m", "upstream_tests.fingerprint", *options],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(src, backend),
    )
    if result.returncode != 0:
        error = (result.stderr.strip().splitlines() or ["no output"])[-1]
        command = " ".join(["fingerprint", *options])
        print(f"  {backend}: {command} failed: {error}")
        return None
    return result.stdout.strip()


def _our_suite(backend, src=None):
    """Our suite in native mode against the Keras in `src` (without `src`:
    with the runtime patch on `.venv`'s Keras); the problems."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    env.pop("KERAS_FANS_NATIVE", None)
    if src is not None:
        env = _env(src, backend, KERAS_FANS_NATIVE="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", *OUR_SUITE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    output = (result.stdout.strip() or result.stderr.strip()).splitlines()
    mode = "runtime patch" if src is None else "native"
    print(f"  {backend}: our suite, {mode}: {(output or ['no output'])[-1]}")
    return [] if result.returncode == 0 else [f"{backend}: our suite, {mode}"]


def check(requirement, count, backends, suite):
    """Every check of prefix `count` on one Keras source; the problems."""
    tree = sources.with_tests(sources.sdist(requirement))
    try:
        src, tests = _patched(tree, count)
    except (subprocess.CalledProcessError, diff.UpstreamShapeError) as error:
        reason = getattr(error, "stderr", None) or str(error)
        print(f"== {tree.name}: PRs 1..{count} do not apply: {reason.strip()}")
        return [f"{tree.name}: PRs 1..{count} do not apply"]
    (version,) = [
        line.removeprefix("Version: ")
        for line in (tree / "PKG-INFO").read_text().splitlines()
        if line.startswith("Version: ")
    ]
    print(f"== {tree.name}, PRs 1..{count}: applied; tests: {len(tests)} files")
    problems = []
    if count == 1:
        files, added = diff.size(diff.generate(tree, 1))
        print(
            f"  PR 1: {files} files, {added} added lines (at most "
            f"{diff.PR_1_LIMITS[0]}, {diff.PR_1_LIMITS[1]})"
        )
        if files > diff.PR_1_LIMITS[0] or added > diff.PR_1_LIMITS[1]:
            problems.append("PR 1 is too large")
    for backend in backends:
        start = time.perf_counter()
        outcomes = _keras_tests(src, backend, tests)
        expected = expected_failures(version, backend)
        failed = {t for t, outcome in outcomes.items() if outcome == "failed"}
        new = failed - expected
        passed = sum(outcome == "passed" for outcome in outcomes.values())
        print(
            f"  {backend}: Keras's tests: {passed} passed, {len(failed)} "
            f"failed ({len(failed & expected)} listed as expected), "
            f"{len(new)} new"
        )
        problems += [f"{backend}: {test}" for test in sorted(new)]
        if not outcomes:
            problems.append(f"{backend}: no test ran")
        native = _fingerprint(backend, src=src)
        runtime = _fingerprint(backend, "--prs", str(count))
        stock = _fingerprint(backend, src=tree)
        print(
            f"  {backend}: initial weights "
            f"{'bit-identical to' if native == runtime else 'DIFFER from'}"
            f" the runtime patch's with PRs 1..{count}'s rules; stock "
            f"{'differs' if stock != native else 'SAME'}"
        )
        if None in (native, stock) or native != runtime or stock == native:
            problems.append(f"{backend}: weights")
        # Our suite needs TensorFlow, JAX or PyTorch.
        if suite and count == len(series.SERIES) and backend in run.BACKENDS:
            problems += _our_suite(backend, src)
        print(f"  {backend}: {time.perf_counter() - start:.0f} s", flush=True)
    for problem in problems:
        print(f"  PROBLEM {problem}")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--keras",
        nargs="+",
        default=[sources.pinned(), "keras-nightly"],
        help="pip requirements of the Keras sources (default: the pinned "
        "release and the newest keras-nightly)",
    )
    parser.add_argument(
        "--pr",
        nargs="+",
        type=int,
        default=list(range(1, len(series.SERIES) + 1)),
        choices=range(1, len(series.SERIES) + 1),
        help="the prefixes 1..N to prove (default: every one)",
    )
    parser.add_argument(
        "--backend", nargs="+", default=list(BACKENDS), choices=BACKENDS
    )
    parser.add_argument(
        "--no-suite", action="store_true", help="skip our suite"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    problems = []
    for requirement in args.keras:
        for count in args.pr:
            problems += check(
                requirement, count, args.backend, not args.no_suite
            )
    if not args.no_suite:
        print("== our suite with the runtime patch on .venv's Keras")
        for backend in [b for b in args.backend if b in run.BACKENDS]:
            problems += _our_suite(backend)
    verdict = "EQUIVALENT" if not problems else f"{len(problems)} PROBLEMS"
    print(
        f"== {verdict}: {', '.join(args.keras)}, PRs 1..{args.pr} on "
        f"{', '.join(args.backend)} in {time.perf_counter() - start:.0f} s"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
