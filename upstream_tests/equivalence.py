"""Proof that the pull request behaves as the runtime patch does.

For each Keras source (the pinned release's sdist; the newest keras-nightly
sdist, our stand-in for Keras main):

1. generate the diff (`keras_fans.upstream`) and `git apply` it to a fresh
   copy of the tree;
2. install the stock tree and the patched tree, each into its own virtual
   environment under `.cache/equivalence/` (they reuse the pinned backends
   of `.venv`, so only Keras differs);
3. run Keras's own tests of every directory the diff touches, plus the
   tests it adds, on each backend against the patched Keras. A failure is
   explained only if the same test fails against the stock Keras too;
4. compare the initial weights of one layer of each kind the fix covers,
   bit for bit, with the runtime patch's (`fingerprint.py`);
5. run our own suite against the patched Keras in native mode
   (`KERAS_FANS_NATIVE=1`: `keras_fans.patch()` is never called) and
   compare every test's outcome with the runtime-patched run of the suite
   on the pinned Keras in `.venv`. Tests of the runtime machinery are
   skipped in native mode, with their reason.

keras-nightly ships no tests in its sdist or wheel, so its Keras tests are
those of the pinned release, run against the stock and the patched nightly
alike.

Usage: python -m upstream_tests.equivalence [--keras REQ ...]
           [--backend B ...] [-n N]
Exit code 0 only if every check passes on every backend and source.
"""

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import keras

from keras_fans.upstream import diff
from keras_fans.upstream import sources
from upstream_tests import run

ROOT = Path(__file__).parents[1]
WORK = sources.CACHE / "equivalence"
OUR_SUITE = ("keras_fans", "integration_tests")


def _git_apply(patch, tree, *options):
    """`git apply` in `tree`, as outside any repository: inside one (as
    `.cache/` is), git would skip the paths above the current folder."""
    return subprocess.run(
        ["git", "apply", *options, "-"],
        input=patch,
        text=True,
        cwd=tree,
        check=True,
        capture_output=True,
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(tree.parent)},
    ).stdout


def _venv(path, tree):
    """A virtual environment at `path` with the Keras `tree` installed
    (again each time) and `.venv`'s packages (the pinned backends,
    keras_fans) behind it."""
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
        purelib = subprocess.run(
            [
                python,
                "-c",
                "import sysconfig as s; print(s.get_path('purelib'))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        ours = sysconfig.get_path("purelib")
        # Appended after the venv's own site-packages, so its Keras wins.
        (Path(purelib) / "pinned_stack.pth").write_text(
            f"import site; site.addsitedir({ours!r})\n"
        )
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps"]
        + ["--force-reinstall", tree],
        check=True,
    )
    return python


def _keras_version(python):
    return subprocess.run(
        [python, "-c", "import keras; print(keras.version())"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    ).stdout.strip()


def _our_suite(python, backend, native, workers):
    """Our suite's outcomes, {test id: (outcome, skip reason)}."""
    with tempfile.NamedTemporaryFile(suffix=".xml") as report:
        env = {**os.environ, "KERAS_BACKEND": backend}
        env.pop("KERAS_FANS_NATIVE", None)
        if native:
            env["KERAS_FANS_NATIVE"] = "1"
        command = [python, "-m", "pytest", "-q", *OUR_SUITE]
        command += [f"--junitxml={report.name}", "-n", str(workers)]
        subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        outcomes = {}
        for case in ElementTree.parse(report.name).iter("testcase"):
            test = f"{case.get('classname')}::{case.get('name')}"
            outcome, reason = "passed", ""
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome = "failed"
                elif child.tag == "skipped":
                    outcome, reason = "skipped", child.get("message", "")
            outcomes[test] = (outcome, reason)
        return outcomes


def _check_keras_tests(python, stock_python, backend, tests, added, workers):
    """Keras's tests against the patched Keras; returns the unexplained
    failures."""
    outcomes = run.run(
        backend, tests, ["keras/src"], False, workers, python=python
    )
    failed = {t for t, outcome in outcomes.items() if outcome == "failed"}
    stock = {}
    if failed - added:
        stock = run.run(
            backend,
            tests,
            sorted(failed - added),
            False,
            workers,
            python=stock_python,
        )
    explained = {t for t in failed - added if stock.get(t) == "failed"}
    ran_added = {t for t in outcomes if t.split("::")[0] in added}
    print(
        f"  {backend}: Keras's tests: {run.count(outcomes, 'passed')} "
        f"passed ({len(ran_added)} added by the diff), {len(failed)} "
        f"failed ({len(explained)} fail on stock Keras too), "
        f"{run.count(outcomes, 'skipped')} skipped",
        flush=True,
    )
    unexplained = failed - explained
    if not outcomes:
        unexplained.add("<no test ran>")
    for test in sorted(unexplained):
        print(f"  {backend}: unexplained failure: {test}")
    return unexplained


def _fingerprint(python, backend, *options):
    return subprocess.run(
        [python, "-m", "upstream_tests.fingerprint", *options],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": backend},
    ).stdout.strip()


def _check_weights(python, stock_python, backend, runtime):
    """The patched Keras's initial weights against the runtime patch's,
    bit for bit (`fingerprint.py`); stock Keras's must differ."""
    native = _fingerprint(python, backend)
    stock = _fingerprint(stock_python, backend)
    same = native == runtime
    print(
        f"  {backend}: initial weights (fingerprint.py): "
        f"{'bit-identical to' if same else 'DIFFERENT from'} the runtime "
        f"patch's; stock Keras's {'differ' if stock != runtime else 'SAME'}",
        flush=True,
    )
    return [] if same and stock != runtime else [f"{backend}: weights"]


def _check_native_suite(python, backend, runtime, workers):
    """Our suite in native mode against the patched Keras, compared with
    the runtime-patched `runtime` outcomes; returns the differences."""
    native = _our_suite(python, backend, True, workers)
    differences = []
    runtime_only = 0
    for test, (outcome, reason) in sorted(native.items()):
        if outcome == "skipped" and "runtime patch only" in reason:
            runtime_only += 1
        elif runtime.get(test, ("missing", ""))[0] != outcome:
            was = runtime.get(test, ("missing", ""))[0]
            differences.append(f"{test}: {outcome} native, {was} runtime")
    differences += [
        f"{test}: missing in native mode" for test in runtime.keys() - native
    ]
    passed = sum(outcome == "passed" for outcome, _ in native.values())
    print(
        f"  {backend}: our suite, native: {passed} passed, "
        f"{runtime_only} runtime-only skipped, {len(differences)} differ "
        f"from the runtime patch",
        flush=True,
    )
    for difference in differences:
        print(f"  {backend}: {difference}")
    if not native:
        differences.append("<no test ran>")
    return differences


def _prepare(requirement):
    """The source tree, its patched copy, the diff and the two venvs."""
    tree = sources.sdist(requirement)
    patch = diff.generate(tree)
    work = WORK / tree.name
    patched = work / "patched-src"
    shutil.rmtree(patched, ignore_errors=True)
    shutil.copytree(tree, patched)
    _git_apply(patch, patched)
    stat = _git_apply(patch, patched, "--stat")
    for line in patch.splitlines():
        relative = line.removeprefix("+++ b/")
        if line.startswith("+++ ") and not (tree / relative).exists():
            continue
        if line.startswith("+++ ") and (
            (tree / relative).read_text() == (patched / relative).read_text()
        ):
            sys.exit(f"git apply left {relative} unchanged")
    stock_python = _venv(work / "stock-venv", tree)
    patched_python = _venv(work / "patched-venv", patched)
    return tree, patched, patch, stat, stock_python, patched_python


def check(requirement, backends, runtime, workers):
    """Runs every check for one Keras source; returns the problems."""
    tree, patched, patch, stat, stock_python, python = _prepare(requirement)
    print(
        f"== {tree.name}: the diff applies ({stat.strip().splitlines()[-1]});"
        f" installed: stock {_keras_version(stock_python)}, patched "
        f"{_keras_version(python)}",
        flush=True,
    )
    lines = patch.splitlines()
    added = {
        line.removeprefix("+++ b/")
        for line, previous in zip(lines[1:], lines)
        if previous == "--- /dev/null"
    }
    changed = {
        line.removeprefix("+++ b/") for line in lines if line[:6] == "+++ b/"
    }
    touched = sorted(
        {
            str(Path(relative).parent.relative_to("keras/src"))
            for relative in changed - added
            if relative.startswith("keras/src/")
        }
    )
    has_tests = any(tree.rglob("*_test.py"))
    test_source = tree if has_tests else sources.sdist(sources.pinned())
    tests = WORK / tree.name / "tests"
    shutil.rmtree(tests, ignore_errors=True)
    run.copy_tests(test_source, touched, tests)
    for test in added:
        (tests / test).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(patched / test, tests / test)
    print(
        f"  Keras's tests of {', '.join(touched)} from {test_source.name}",
        flush=True,
    )
    problems = []
    for backend in backends:
        start = time.perf_counter()
        problems += _check_keras_tests(
            python, stock_python, backend, tests, added, workers
        )
        problems += _check_weights(
            python, stock_python, backend, runtime[backend]["weights"]
        )
        problems += _check_native_suite(
            python, backend, runtime[backend]["suite"], workers
        )
        print(f"  {backend}: {time.perf_counter() - start:.0f} s", flush=True)
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
    parser.add_argument("--backend", nargs="+", default=list(run.BACKENDS))
    parser.add_argument("-n", "--workers", type=int, default=2)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    runtime = {}
    for backend in args.backend:
        suite = _our_suite(sys.executable, backend, False, args.workers)
        runtime[backend] = {
            "suite": suite,
            "weights": _fingerprint(sys.executable, backend, "--patch"),
        }
        passed = sum(outcome == "passed" for outcome, _ in suite.values())
        print(
            f"runtime patch, keras {keras.version()}, {backend}: our suite "
            f"{passed} passed of {len(suite)}",
            flush=True,
        )
    problems = []
    for requirement in args.keras:
        problems += check(requirement, args.backend, runtime, args.workers)
    verdict = "EQUIVALENT" if not problems else f"{len(problems)} PROBLEMS"
    print(
        f"== {verdict}: {', '.join(args.keras)} on {', '.join(args.backend)}"
        f" in {time.perf_counter() - start:.0f} s"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
