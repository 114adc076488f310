"""Keras source distributions, downloaded once into the ignored `.cache/`.

Upstream files: none.
"""

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
