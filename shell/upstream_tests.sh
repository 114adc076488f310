#!/usr/bin/env bash
# Keras's own tests (from the source distribution of the installed Keras)
# with keras_fans.patch() active, once per backend. See upstream_tests/run.py.
# Usage: shell/upstream_tests.sh [--backend B ...] [--stock] [-n N]
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash shell/setup.sh)
"$python" -m upstream_tests.run "$@"
