#!/usr/bin/env bash
# Creates .venv (ignored by git) with the pinned CPU stack and keras-fans in
# editable mode. Re-installs only when requirements.txt or pyproject.toml
# changed since the last install. Prints the venv's python path.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
stamp="$venv/.installed"
wanted=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing the pinned CPU stack into $venv (about a minute)..." >&2
  log=$(mktemp)
  if ! { python3 -m venv "$venv" &&
         "$venv/bin/python" -m pip install -r requirements.txt &&
         "$venv/bin/python" -m pip install --no-deps -e .; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "Installing into $venv failed; the log is above." >&2
    exit 1
  fi
  rm -f "$log"
  echo "$wanted" > "$stamp"
fi
echo "$PWD/$venv/bin/python"
