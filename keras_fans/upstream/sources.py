"""Keras source distributions, downloaded once into the ignored `.cache/`.

Upstream files: none.
"""

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[2]
CACHE = ROOT / ".cache"


def pinned():
    """The requirement `keras==X` that `requirements.txt` pins."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith("keras=="):
            return line.split()[0]
    raise ValueError("requirements.txt pins no `keras==` version")


def sdist(requirement):
    """The unpacked source distribution of `requirement` (e.g.
    `keras==3.15.1`, or `keras-nightly` for the newest nightly)."""
    # A pinned version already unpacked is not downloaded again.
    name, _, version = requirement.partition("==")
    unpacked = CACHE / f"{name.replace('-', '_')}-{version}"
    if version and unpacked.exists():
        return unpacked
    CACHE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
            + ["--no-binary", ":all:", "--pre", requirement, "-d", download],
            check=True,
        )
        (archive,) = Path(download).glob("*.tar.gz")
        tree = CACHE / archive.name.removesuffix(".tar.gz")
        if not tree.exists():
            with tarfile.open(archive) as opened:
                opened.extractall(download, filter="data")
            try:
                (Path(download) / tree.name).rename(tree)
            except OSError:  # Another process (a test worker) was first.
                if not tree.exists():
                    raise
    return tree


# The ruff that Keras's `.pre-commit-config.yaml` pins.
RUFF = "ruff==0.9.2"
# Keras's fifth backend, for the equivalence proof only (nothing else here
# needs it); its numpy is `.venv`'s. Keras main moved the backend's code out
# into `keras-openvino` (keras-nightly imports `keras_openvino`); Keras 3.15.1
# has its own and ignores it.
OPENVINO = (
    "keras-openvino==0.0.1",
    "openvino==2026.4.1",
    "openvino-telemetry==2025.2.0",
)


def installed(*requirements):
    """A folder in `.cache/` with `requirements` installed (without their
    dependencies), once; put it on `PYTHONPATH` to import them."""
    target = CACHE / requirements[0].replace("==", "-")
    if not target.exists():
        CACHE.mkdir(exist_ok=True)
        staging = tempfile.mkdtemp(dir=CACHE)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
            + ["--target", staging, *requirements],
            check=True,
        )
        try:
            Path(staging).rename(target)
        except OSError:  # Another process (a test worker) was first.
            shutil.rmtree(staging)
    return target


def ruff():
    """The pinned ruff's executable."""
    return installed(RUFF) / "bin" / "ruff"


def with_tests(tree):
    """`tree`, or for a tree without Keras's tests (keras-nightly ships
    none) a copy of it in `.cache/` with the pinned release's test files."""
    tree = Path(tree)
    if not (tree / "keras/src").is_dir():
        raise ValueError(
            f"Expected a Keras source tree (with `keras/src/`). Received: "
            f"{tree}"
        )
    if any((tree / "keras/src").rglob("*_test.py")):
        return tree
    copy = CACHE / f"{tree.name}-with-tests"
    if not copy.exists():
        staging = Path(tempfile.mkdtemp(dir=CACHE))
        shutil.copytree(tree, staging, dirs_exist_ok=True)
        pinned_tree = sdist(pinned())
        for test in (pinned_tree / "keras/src").rglob("*_test.py"):
            target = staging / test.relative_to(pinned_tree)
            if target.parent.is_dir():
                shutil.copyfile(test, target)
        staging.rename(copy)
    return copy
