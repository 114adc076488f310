#!/usr/bin/env bash
# For each prefix PRs 1..N of the upstream series, on the pinned Keras and the newest
# keras-nightly: applies it, runs Keras's tests of the touched modules,
# compares the initial weights with the runtime patch's (same rules), and runs
# our suite natively for the whole series. Exit 0 only if all pass.
# See upstream_tests/equivalence.py.
# Usage: shell/upstream_equivalence.sh [--keras REQ ...] [--pr N ...]
#            [--backend B ...] [--no-suite]
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash shell/setup.sh)
"$python" -m upstream_tests.equivalence "$@"
