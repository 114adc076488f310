#!/usr/bin/env bash
# The main job: the sine-wave experiment (stock Keras vs keras_fans vs native
# PyTorch) on TensorFlow, JAX and PyTorch, then the overhead benchmark.
# Writes results/sine_wave.csv and results/sine_wave.png.
# Arguments go to the experiment, e.g. --full or --bias-initializer he_uniform.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash shell/setup.sh)
"$python" -m benchmarks.sine_wave "$@"
"$python" -m benchmarks.overhead
