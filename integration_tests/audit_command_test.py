"""`python -m keras_fans audit PATH` in its own process, on the backend
under test: the exit status, the table and verdict, no traceback."""

import os
import subprocess
import sys

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
