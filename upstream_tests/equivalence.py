"""Proof, per prefix of the series, that Keras with PRs 1..N applied behaves
as the runtime patch with the rules of PRs 1..N.

For each Keras source (the pinned release's sdist; the newest keras-nightly
sdist, our stand-in for Keras main, with the pinned release's tests) and
each prefix N:

1. `git apply` the diffs of PRs 1..N, one after the other, to a fresh copy
   of the tree, which is then imported from `PYTHONPATH` (`site`; the
   pinned backends of `.venv` are reused, only Keras differs);
2. run, on each backend, Keras's test files of the modules PR N touches
   (with the methods it adds; earlier PRs' ran at their prefix). A
   failure counts only if `expected_failures.txt` does not list it for
   that Keras version (a reviewed list, each group with its reason);
3. compare the initial weights of one layer of each kind
   (`fingerprint.py`) with the runtime patch's restricted to the rules of
   PRs 1..N (`fingerprint.py --prs N`), bit for bit: layers the prefix does
   not cover must draw stock values on both sides;
4. for the whole series (N = last), run our own suite in native mode
   (`KERAS_FANS_NATIVE=1`) against the patched Keras and with the runtime
   patch on `.venv`'s Keras: in both, every test must pass (or be skipped
   with its reason, e.g. runtime-only).

Usage: python -m upstream_tests.equivalence [--keras REQ ...]
           [--pr N ...] [--backend B ...] [--no-suite]
Exit code 0 only if every check passes.
"""

import argparse
import json
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

ROOT = Path(__file__).parents[1]
HERE = Path(__file__).parent
WORK = sources.CACHE / "equivalence"
BACKENDS = ("tensorflow", "jax", "torch", "numpy")
OUR_SUITE = ("keras_fans", "integration_tests")


def expected_failures(version):
    """Test ids `expected_failures.txt` lists for Keras `version`: lines
    `<version> <test id>`; `#` lines give each group's reason."""
    lines = (HERE / "expected_failures.txt").read_text().splitlines()
    return {
        line.split()[1]
        for line in lines
        if line.strip()
        and not line.startswith("#")
        and line.split()[0] == version
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


def _env(tree, backend, **extra):
    return {
        **os.environ,
        "KERAS_BACKEND": backend,
        "PYTHONPATH": os.pathsep.join([str(site(tree)), str(HERE)]),
        **extra,
    }


def _keras_tests(src, backend, tests):
    """Keras's `tests` (paths in `src`) against the Keras in `src`:
    {test id: outcome}."""
    with tempfile.NamedTemporaryFile(suffix=".json") as outcomes:
        env = _env(
            src,
            backend,
            KERAS_FANS_PATCH="0",
            KERAS_FANS_OUTCOMES=outcomes.name,
        )
        command = [sys.executable, "-m", "pytest", "-p", "conftest"]
        command += ["-c", str(HERE / "pytest.ini"), f"--rootdir={src}"]
        command += ["--import-mode=importlib", "-q", "-p", "no:cacheprovider"]
        subprocess.run(
            command + ["-n", "2", *tests],
            cwd=src,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        return json.loads(Path(outcomes.name).read_text() or "{}")


def _fingerprint(backend, *options, src=None):
    env = (
        _env(src, backend) if src else {**os.environ, "KERAS_BACKEND": backend}
    )
    return subprocess.run(
        [sys.executable, "-m", "upstream_tests.fingerprint", *options],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    ).stdout.strip()


def _our_suite(src, backend):
    """Our suite in native mode against the Keras in `src` (without `src`:
    with the runtime patch on `.venv`'s Keras): the summary line and
    whether it passed."""
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
    return result.stdout.strip().splitlines()[-1], result.returncode == 0


def check(requirement, count, backends, suite):
    """Every check of prefix `count` on one Keras source; the problems."""
    tree = sources.with_tests(sources.sdist(requirement))
    src, tests = _patched(tree, count)
    (version,) = [
        line.removeprefix("Version: ")
        for line in (tree / "PKG-INFO").read_text().splitlines()
        if line.startswith("Version: ")
    ]
    expected = expected_failures(version)
    print(f"== {tree.name}, PRs 1..{count}: applied; tests: {len(tests)} files")
    problems = []
    for backend in backends:
        start = time.perf_counter()
        outcomes = _keras_tests(src, backend, tests)
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
        if native != runtime or stock == native:
            problems.append(f"{backend}: weights")
        # Our suite needs TensorFlow, JAX or PyTorch.
        if suite and count == len(series.SERIES) and backend != "numpy":
            for mode, keras_src in (("native", src), ("runtime", None)):
                line, passed_all = _our_suite(keras_src, backend)
                print(f"  {backend}: our suite, {mode}: {line}")
                if not passed_all:
                    problems.append(f"{backend}: our suite, {mode}")
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
        help="the prefixes 1..N to prove (default: every one)",
    )
    parser.add_argument("--backend", nargs="+", default=list(BACKENDS))
    parser.add_argument(
        "--no-suite", action="store_true", help="skip our suite, native"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    problems = []
    for requirement in args.keras:
        for count in args.pr:
            problems += check(
                requirement, count, args.backend, not args.no_suite
            )
    verdict = "EQUIVALENT" if not problems else f"{len(problems)} PROBLEMS"
    print(
        f"== {verdict}: {', '.join(args.keras)}, PRs 1..{args.pr} on "
        f"{', '.join(args.backend)} in {time.perf_counter() - start:.0f} s"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
