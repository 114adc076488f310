#!/usr/bin/env bash
# Prints the series of pull requests as diffs that `git apply` takes, generated from
# our modules. Against the pinned Keras's sdist (downloaded into .cache/),
# or the tree given with --keras-src PATH. See keras_fans/upstream/diff.py.
# Usage: shell/upstream_diff.sh [--pr N] [--list] [--keras-src PATH] > keras-fans.diff
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash shell/setup.sh)
KERAS_BACKEND=${KERAS_BACKEND:-jax} "$python" -m keras_fans.upstream "$@"
