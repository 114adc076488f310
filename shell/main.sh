#!/usr/bin/env bash
# The main job: the sine-wave experiment (stock Keras vs keras_fans vs native
# PyTorch) on TensorFlow, JAX and PyTorch, then the overhead benchmark.
# Writes out/sine_wave.csv, out/sine_wave.png and out/sine_wave_summary.txt
# (out/ is ignored by git); the committed results/ stay the reference they are
# compared with (refresh it: cp out/sine_wave.* results/, then commit).
# --study also installs requirements-study.txt (the data packages) into .venv
# and runs the initialization study (benchmarks/box_study.py): box vs spread vs
# PyTorch's default, about 20 minutes on 2 cores; writes results/box_study.csv,
# results/box_study_goal.csv and results/box_study.png.
# Other arguments go to the experiment, e.g. --full or --bias-initializer
# he_uniform.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash shell/setup.sh)
study=false
arguments=()
for argument in "$@"; do
  if [ "$argument" = --study ]; then
    study=true
  else
    arguments+=("$argument")
  fi
done
"$python" -m benchmarks.sine_wave "${arguments[@]}"
"$python" -m benchmarks.overhead
if [ "$study" = true ]; then
  "$python" -m pip install --quiet -r requirements-study.txt
  KERAS_BACKEND=torch "$python" -m benchmarks.box_study
fi
echo
echo "=== Summary"
cat out/sine_wave_summary.txt
