#!/usr/bin/env bash
# Runs the whole suite once per Keras backend, each in its own process
# (KERAS_BACKEND is read when Keras is imported) with two pytest workers
# (CI has two cores), then Keras's own tests with the patch active
# (shell/upstream_tests.sh; KERAS_FANS_UPSTREAM=0 skips them). With no
# backend named, it then runs the suite on torch against the releases in
# `ci_releases` below (shell/keras_releases.sh; KERAS_FANS_RELEASES=0 skips
# them, =1 runs them with a backend named).
# Usage: shell/test.sh [backend ...] [-- pytest args]
# Fails if any backend fails or runs no test (pytest exit code 5), or if
# Keras's tests show an unexplained failure.
set -uo pipefail
cd "$(dirname "$0")/.."
python=$(bash shell/setup.sh) || exit 1

backends=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do backends+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
releases=${KERAS_FANS_RELEASES:-0}
if [ ${#backends[@]} -eq 0 ]; then
  backends=(tensorflow jax torch)
  releases=${KERAS_FANS_RELEASES:-1}
fi

# The releases the release stage runs (on torch; the whole matrix, every
# tested release and TensorFlow and JAX for some, is
# `bash shell/keras_releases.sh`, about 2 hours): the oldest, the ones the
# hostile-file tests of the audit command must hold on (3.0.5, 3.8.0 and
# 3.10.0 ran code from crafted files), Colab's, and the newest nightly.
newest=$("$python" -c \
  'from keras_fans import compat; print(compat.TESTED_RELEASES[-1])')
ci_releases=(3.0.5 3.8.0 3.10.0 3.13.2 "$newest")

status=0
summary=()
for backend in "${backends[@]}"; do
  echo "=== KERAS_BACKEND=$backend"
  log=$(mktemp)
  KERAS_BACKEND=$backend "$python" -m pytest -q -n 2 keras_fans \
    integration_tests upstream_tests \
    "$@" 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  result=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error)' "$log" | tail -n 1 | tr -d '=')
  rm -f "$log"
  if [ "$code" -eq 5 ]; then
    result="no tests ran"
  fi
  summary+=("$backend: exit $code, $result")
  [ "$code" -eq 0 ] || status=1
done

if [ "${KERAS_FANS_UPSTREAM:-1}" != 0 ]; then
  echo "=== Keras's own tests, patched"
  log=$(mktemp)
  "$python" -m upstream_tests.run --backend "${backends[@]}" | tee "$log" ||
    status=1
  summary+=("$(cat "$log")")
  rm -f "$log"
fi

if [ "$releases" != 0 ]; then
  echo "=== the suite on other Keras releases"
  log=$(mktemp)
  bash shell/keras_releases.sh --not-pinned --torch-only "${ci_releases[@]}" |
    tee "$log" || status=1
  summary+=("other Keras releases: $(grep -E '^=== [0-9]+ s' "$log" |
    tr -d '=')")
  summary+=("$(grep -E '^\|' "$log")")
  rm -f "$log"
fi

echo "=== summary"
printf '%s\n' "${summary[@]}"
exit $status
