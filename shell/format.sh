#!/usr/bin/env bash
# Formats the code and sorts imports (ruff, 80 columns, as Keras does).
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash shell/setup.sh)
"$python" -m ruff check --fix --select I .
"$python" -m ruff format .
