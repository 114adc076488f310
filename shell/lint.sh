#!/usr/bin/env bash
# Fails on lint errors or unformatted code.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash shell/setup.sh)
"$python" -m ruff check .
"$python" -m ruff format --check .
