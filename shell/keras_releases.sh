#!/usr/bin/env bash
# Runs the whole suite against other Keras releases, reusing the pinned
# backends of .venv: each release is installed without dependencies into
# the ignored .cache/keras-X (dm-tree too for 3.0, which needs it) and put
# first on PYTHONPATH.
# The releases: keras_fans.compat.TESTED_RELEASES (or those given). Each runs
# on torch; 3.10, 3.13 (Colab's), 3.15 and the nightly on all three backends.
# The pinned release runs from .venv itself.
# Usage: shell/keras_releases.sh [--not-pinned] [--torch-only] [release ...]
#   --not-pinned  leaves out the pinned release (shell/test.sh has run it).
#   --torch-only  runs every release on torch alone.
# Prints a Markdown table of passed / skipped / failed counts (the README's);
# fails if any run fails or runs no test.
set -uo pipefail
cd "$(dirname "$0")/.."
python=$(bash shell/setup.sh) || exit 1

not_pinned=0
torch_only=0
if [ "${1:-}" = "--not-pinned" ]; then not_pinned=1; shift; fi
if [ "${1:-}" = "--torch-only" ]; then torch_only=1; shift; fi
mapfile -t tested < <("$python" -c \
  'from keras_fans import compat; print(*compat.TESTED_RELEASES, sep="\n")')
releases=("$@")
[ ${#releases[@]} -gt 0 ] || releases=("${tested[@]}")
pinned=$(sed -n 's/^keras==//p' requirements.txt)
newest=${tested[${#tested[@]}-1]}

backends_of() {  # The backends release $1 runs on.
  [ $torch_only = 1 ] && { echo torch; return; }
  case "$1" in
    3.10.* | 3.13.* | 3.15.* | "$newest") echo tensorflow jax torch ;;
    *) echo torch ;;
  esac
}

install() {  # Installs release $1 into .cache/keras-$1 unless it is there.
  local dir=".cache/keras-$1" dist=keras extra=()
  [ -d "$dir/keras" ] && return 0
  case "$1" in *.dev*) dist=keras-nightly ;; esac
  case "$1" in 3.0.*) extra=(dm-tree) ;; esac
  "$python" -m pip install --quiet --no-deps --target "$dir" \
    "$dist==$1" "${extra[@]}" 2>&1 | grep -v "^WARNING: Location"
  [ -d "$dir/keras" ]
}

number() {  # The count of $1 ("passed", ...) in pytest's last line $2.
  local n
  n=$(grep -oE "[0-9]+ $1" <<<"$2" | cut -d' ' -f1)
  echo "${n:-0}"
}

counts() {  # "P passed, S skipped, F failed" (errors count as failed).
  echo "$(number passed "$1") passed, $(number skipped "$1") skipped," \
    "$(($(number failed "$1") + $(number error "$1"))) failed"
}

echo "=== Keras releases: ${releases[*]} (pinned $pinned)"
"$python" -c 'import sys, jax, tensorflow, torch
print(f"python {sys.version.split()[0]}, tensorflow {tensorflow.__version__}, "
      f"jax {jax.__version__}, torch {torch.__version__}")' 2>/dev/null
status=0
declare -A result
start=$SECONDS
for release in "${releases[@]}"; do
  path=""
  if [ "$release" = "$pinned" ]; then
    [ $not_pinned = 1 ] && continue
  else
    if ! install "$release"; then
      echo "installing Keras $release failed"
      status=1
      continue
    fi
    path="$PWD/.cache/keras-$release"
  fi
  for backend in $(backends_of "$release"); do
    began=$SECONDS
    log=$(PYTHONPATH="$path${PYTHONPATH:+:$PYTHONPATH}" \
      KERAS_BACKEND=$backend "$python" -m pytest -q -n 2 \
      keras_fans integration_tests 2>&1)
    code=$?
    last=$(grep -E '^(=+ )?[0-9]+ (passed|failed|skipped|error)' <<<"$log" |
      tail -n 1)
    if [ $code -ne 0 ]; then
      grep -E '^(FAILED|ERROR) ' <<<"$log"
      status=1
    fi
    [ $code -eq 5 ] && last="no tests ran"
    result[$release,$backend]="$(counts "$last")"
    echo "Keras $release, $backend: exit $code, ${result[$release,$backend]}" \
      "($((SECONDS - began)) s)"
  done
done

echo "=== $((SECONDS - start)) s in all"
echo "| Keras | tensorflow | jax | torch |"
echo "|---|---|---|---|"
for release in "${releases[@]}"; do
  [ "$release" = "$pinned" ] && [ $not_pinned = 1 ] && continue
  row="| $release"
  for backend in tensorflow jax torch; do
    row+=" | ${result[$release,$backend]:-}"
  done
  echo "$row |"
done
exit $status
