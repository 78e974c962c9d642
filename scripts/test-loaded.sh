#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the whole test script RUNS times in a row (default 3) while stress-ng keeps every CPU busy
# with WORKERS_PER_CPU CPU hogs per core (default 4), and prints one line per run plus the
# closing "N passed, N failed" summed over runs. A test that passes only on a quiet machine is a
# wrong test: this is how docs/reliability.md's loaded-machine figures are measured.
# usage: scripts/test-loaded.sh [RUNS]   (PANE_PASSES selects passes, as for scripts/test.sh)
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
per_cpu=${WORKERS_PER_CPU:-4}
if ! command -v stress-ng >/dev/null; then
  as_root=(); [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q stress-ng >/dev/null || { echo "stress-ng unavailable"; exit 1; }
fi
workers=$(( $(nproc) * per_cpu ))
stress-ng --cpu "$workers" --cpu-method matrixprod --timeout 0 --quiet &
hog=$!
trap 'kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null' EXIT
echo "load: stress-ng --cpu $workers ($(nproc) CPUs)"
total_p=0 total_f=0 status=0
for run in $(seq 1 "$runs"); do
  start=$(date +%s)
  log=$(mktemp)
  bash scripts/test.sh >"$log" 2>&1
  rc=$?
  line=$(tail -n 1 "$log")
  read -r p _ f _ <<<"$line"
  echo "run $run: $line in $(( $(date +%s) - start )) s (exit $rc; log $log)"
  total_p=$((total_p + ${p:-0})); total_f=$((total_f + ${f:-1}))
  [ "$rc" -eq 0 ] || status=1
done
echo "${total_p} passed, ${total_f} failed"
exit $status
