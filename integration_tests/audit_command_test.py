"""`python -m keras_fans audit PATH` in its own process, on the backend
under test: the exit status, the table and verdict, no traceback."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras

import keras_fans
from keras_fans import testing

pytestmark = testing.runtime_only(
    "the audit knows the draws of patch(); a natively fixed Keras has none"
)


def run_audit(path):
    return subprocess.run(
        [sys.executable, "-m", "keras_fans", "audit", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": keras.backend.backend()},
        timeout=300,
    )


def test_a_saved_model(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, bias_initializer="he_uniform"),
            keras.layers.DepthwiseConv2D(3),
            keras.layers.Flatten(),
            keras.layers.Dense(32, bias_initializer="he_uniform"),
            keras.layers.Dense(1),
        ]
    )
    path = tmp_path / "model.keras"
    model.save(path)
    result = run_audit(path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    paths = [f.path for f in keras_fans.audit(model)]
    assert [line.split()[0] for line in lines[1:-2]] == paths
    assert lines[-2].startswith(
        "3 weights in 3 layers are drawn with the wrong fans (1 depthwise "
        "kernel, keras-team/keras#11773); worst: "
    )


def test_a_bad_file(tmp_path):
    path = tmp_path / "empty.keras"
    path.write_bytes(b"")
    result = run_audit(path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    # TensorFlow may log to stderr on import; our message is one line.
    [message] = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("keras_fans audit:")
    ]
    assert message == f"keras_fans audit: {path}: empty file"


# Attacks (issue 23), with harmless local payloads: each must leave its
# marker file absent or unchanged, whatever the Keras release.


PYTHON_M = [sys.executable, "-m", "keras_fans"]
# The console script `pip install` puts beside the interpreter.
SCRIPT = [str(Path(sys.executable).with_name("keras-fans"))]


def run_audit_in(cwd, command=PYTHON_M, timeout=300):
    """`command audit model` run in `cwd`; `python -m` puts the current
    directory first on `sys.path`."""
    return subprocess.run(
        [*command, "audit", "model"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "KERAS_BACKEND": keras.backend.backend()},
        timeout=timeout,
    )


def lambda_in_a_nested_model(function, inputs, arguments=None):
    """A Sequential holding a `keras.Model` config whose Lambda Keras calls
    on `inputs` when it rebuilds the graph (CVE-2025-1550's technique)."""
    lam = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {
            "name": "lam",
            "function": {
                "module": function[0],
                "class_name": "function",
                "config": function[1],
                "registered_name": "function",
            },
            "arguments": arguments or {},
        },
        "name": "lam",
        "inbound_nodes": [{"args": [], "kwargs": {"inputs": inputs}}],
    }
    inner = {
        "module": "keras",
        "class_name": "Model",
        "config": {
            "name": "inner",
            "layers": [lam],
            "input_layers": [],
            "output_layers": [["lam", 0, 0]],
        },
    }
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "outer", "layers": [inner]},
    }


def image(value):
    """A 1x1 RGB image as Keras serializes a NumPy array."""
    return {
        "class_name": "__numpy__",
        "config": {"value": [[[[value] * 3]]], "dtype": "float32"},
    }


def write_model(directory, config):
    (directory / "model").write_text(json.dumps(config))


def test_a_nested_model_s_lambda_runs_no_command(tmp_path):
    """`os.system` ran on Keras 3.0.5 and 3.8.0 before."""
    marker = tmp_path / "marker"
    write_model(
        tmp_path,
        lambda_in_a_nested_model(("os", "system"), f"touch {marker}"),
    )
    result = run_audit_in(tmp_path)
    assert not marker.exists()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "No weight is drawn with the wrong fans.\n"


def test_a_nested_model_s_lambda_writes_no_file(tmp_path):
    """`plot_image_gallery(path=...)` overwrote any file on 3.15.1 before."""
    marker = tmp_path / "marker.png"
    marker.write_bytes(b"the user's file")
    write_model(
        tmp_path,
        lambda_in_a_nested_model(
            ("keras.visualization", "plot_image_gallery"),
            image(0.5),
            {"path": str(marker)},
        ),
    )
    result = run_audit_in(tmp_path)
    assert marker.read_bytes() == b"the user's file"
    assert result.returncode == 0, result.stderr


def test_a_module_the_file_names_is_not_imported(tmp_path):
    """`python -m` puts the current directory first on `sys.path`; a
    `keras_hub.py` there was imported for a config naming keras_hub."""
    (tmp_path / "keras_hub.py").write_text(
        "open(__file__ + '.imported', 'w').close()\n"
    )
    write_model(
        tmp_path,
        {
            "module": "keras_hub.src.models.backbone",
            "class_name": "Backbone",
            "registered_name": "keras_hub>Backbone",
            "config": {"name": "backbone"},
        },
    )
    python_p = [sys.executable, "-P", "-m", "keras_fans"]
    for command in (PYTHON_M, python_p, SCRIPT):
        result = run_audit_in(tmp_path, command)
        assert not (tmp_path / "keras_hub.py.imported").exists()
        # Not audited: it may be affected.
        assert result.returncode == 1, result.stderr
        assert result.stdout.splitlines() == [
            "Not audited, not a layer class of Keras, so not rebuilt (load "
            "the model in Python and call keras_fans.audit(model)): backbone",
            "No weight audited is drawn with the wrong fans; 1 layer not "
            "audited.",
        ]


def test_a_fifo_is_refused_unopened(tmp_path):
    """A FIFO hung the command (zipfile opened it); one named inside the
    file (a StringLookup vocabulary) hung it on 3.0.5."""
    fifo = tmp_path / "model"
    os.mkfifo(fifo)
    result = run_audit_in(tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "keras_fans audit: model: not a regular file (a FIFO or a device?)"
    )
    inside = tmp_path / "inside"
    inside.mkdir()
    model = keras.Sequential(
        [
            keras.Input((1,), dtype="string"),
            keras.layers.StringLookup(vocabulary=["a"], name="lookup"),
            keras.layers.Dense(64, bias_initializer="he_uniform"),
        ]
    )
    config = json.loads(model.to_json())
    config["config"]["layers"][1]["config"]["vocabulary"] = str(fifo)
    write_model(inside, config)
    result = run_audit_in(inside, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[-2].startswith(
        "1 weight in 1 layer is drawn with the wrong fans"
    )


# Runs the command and, at exit, writes the process's peak resident memory
# (VmHWM: of this program alone, unlike `ru_maxrss`, which keeps the peak of
# the forking parent, a pytest process of a GB or more).
_REPORTS_PEAK = (
    "import atexit, runpy, sys\n"
    "def report():\n"
    "    with open('/proc/self/status') as status:\n"
    "        line = [l for l in status if l.startswith('VmHWM:')][0]\n"
    "    sys.stderr.write('\\n' + line)\n"
    "atexit.register(report)\n"
    "sys.argv = ['keras_fans', *sys.argv[1:]]\n"
    "runpy.run_module('keras_fans', run_name='__main__', alter_sys=True)\n"
)


def peak_memory_of(arguments, cwd):
    """The exit status and peak resident memory (bytes) of
    `python -m keras_fans ARGUMENTS` in `cwd`."""
    process = subprocess.run(
        [sys.executable, "-c", _REPORTS_PEAK, *arguments],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KERAS_BACKEND": keras.backend.backend()},
    )
    kib = int(process.stderr.rsplit("VmHWM:", 1)[1].split()[0])
    return process.returncode, kib * 1024


def test_a_config_s_sizes_allocate_nothing(tmp_path):
    """A small config with a huge layer (an LSTM's, once) took 2.65 GB: the
    audit drew its bias. Now no weight is allocated; a bias too large to
    re-draw is refused. The bound, 1.5 GiB, is well above Keras's import
    and far below the 4 * 10**8 float32 values (1.6 GB) of one bias."""
    for bias, status in (("zeros", 0), ("he_uniform", 2)):
        dense = {
            "module": "keras.layers",
            "class_name": "Dense",
            "config": {
                "name": "dense",
                "units": 4 * 10**8,
                "bias_initializer": bias,
            },
            "build_config": {"input_shape": [None, 2]},
        }
        write_model(
            tmp_path,
            {"class_name": "Sequential", "config": {"layers": [dense]}},
        )
        returncode, peak = peak_memory_of(["audit", "model"], tmp_path)
        assert peak < 1.5 * 2**30, f"{bias}: {peak} bytes"
        assert (returncode, bias) == (status, bias)
