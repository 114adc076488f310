#!/usr/bin/env bash
# Applies the generated diff to the pinned Keras and to the newest
# keras-nightly, installs each into its own venv, and runs Keras's tests
# and our suite in native mode on all three backends. Exit 0 only if the
# patched Keras behaves as the runtime patch does. 23 minutes on 2 cores.
# See upstream_tests/equivalence.py.
# Usage: shell/upstream_equivalence.sh [--keras REQ ...] [--backend B ...]
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash shell/setup.sh)
"$python" -m upstream_tests.equivalence "$@"
