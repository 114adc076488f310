"""The wheel, as a user installs it into an environment that has its own
Keras: Colab's Keras 3.13.2 with JAX (issue 22).

The environment is a fresh virtual environment with Keras 3.13.2 in its own
site-packages, on top of this checkout's pinned stack (a `.pth` file adds
`.venv`'s site-packages after its own): installing JAX, TensorFlow and
torch again would take minutes and gigabytes. `pip install --no-index` of
the wheel must succeed (every requirement met, nothing fetched) and change
nothing but add keras-fans; then the README's first example runs verbatim.
"""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import keras
import pytest

import keras_fans

ROOT = Path(__file__).parents[1]
USERS_KERAS = "keras==3.13.2"

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="the wheel is pure Python: one backend, the issue's JAX, shows it",
)


def run(*command, **kwargs):
    return subprocess.run(
        command,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    ).stdout


def build_wheel(tmp_path):
    """The wheel of a clean copy of the checkout (a `build/` folder left by
    an earlier build would add its files)."""
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            ".cache",
            "build",
            "*.egg-info",
            "out",
            "__pycache__",
        ),
    )
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(tmp_path / "dist"),
        str(source),
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    return wheel


def installed(python, path):
    """`name==version` of each distribution pip sees in `path`."""
    listing = run(
        python, "-m", "pip", "list", "--format=freeze", "--path", path
    )
    return set(listing.splitlines())


def readme_example():
    """The first Python block of README.md."""
    text = (ROOT / "README.md").read_text()
    return re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1)


def test_the_wheel_installs_beside_the_users_keras_and_runs_the_readme(
    tmp_path,
):
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "keras_fans/py.typed" in names
    assert any(name.endswith("licenses/LICENSE") for name in names)
    left_out = [
        name
        for name in names
        if name.endswith("_test.py")
        or "/upstream/" in name
        or name == "keras_fans/testing.py"
    ]
    assert left_out == []

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    purelib = run(
        python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"
    ).strip()
    pinned = sysconfig.get_path("purelib")
    Path(purelib, "pinned_stack.pth").write_text(pinned + "\n")
    try:
        run(python, "-m", "pip", "install", "-q", "--no-deps", USERS_KERAS)
    except subprocess.CalledProcessError as error:
        pytest.skip(f"cannot fetch {USERS_KERAS}: {error.stderr[-200:]}")
    before = [installed(python, path) for path in (purelib, pinned)]
    assert "keras==3.13.2" in before[0]

    # Without --no-deps, offline: installs only if every requirement is met.
    run(python, "-m", "pip", "install", "-q", "--no-index", str(wheel))
    after = [installed(python, path) for path in (purelib, pinned)]
    assert after[0] - before[0] == {f"keras-fans=={keras_fans.__version__}"}
    assert before[0] - after[0] == set()
    assert after[1] == before[1]

    script = readme_example() + (
        "\nimport numpy\n"
        "print(keras.version(), keras_fans.__version__, keras_fans.__file__)\n"
        "print(numpy.abs(keras.ops.convert_to_numpy(layer.bias)).max())\n"
    )
    output = run(
        python,
        "-c",
        script,
        cwd=tmp_path,
        env={**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": ""},
    ).splitlines()
    version, ours, path = output[-2].split()
    assert (version, ours) == ("3.13.2", keras_fans.__version__)
    assert Path(path).is_relative_to(purelib)
    # U(+-sqrt(6 / 16)) = U(+-0.61), as the README says; stock: 0.038.
    assert 0.5 < float(output[-1]) <= 0.6124
