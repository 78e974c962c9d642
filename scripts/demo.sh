#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: installs what is missing, builds, then streams a synthetic display through a
# POSIX shm region: pane-produce (1080p60 test pattern, 1 kHz cursor, cursor shapes of every
# type) and pane-consume (verifies every frame, cursor update and shape) as two processes. Ends
# with the producer's summary and then the consumer's report. Exit status is the consumer's.
#   PANE_DEMO_SIZE=3840x2160 PANE_DEMO_SECONDS=10 scripts/demo.sh
#   scripts/demo.sh bench [pane-bench options]     (the benchmark instead, e.g. --quick)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release >/dev/null
ninja -C build >/dev/null
if [ "${1:-}" = bench ]; then
  shift
  exec build/tools/pane-bench "$@"
fi
size=${PANE_DEMO_SIZE:-1920x1080}
seconds=${PANE_DEMO_SECONDS:-5}
name="pane-demo-$$"
work=$(mktemp -d)
trap 'rm -rf "$work"; rm -f /dev/shm/"$name"' EXIT
build/tools/pane-produce --shm "$name" --size "$size" --fps 60 --cursor-hz 1000 \
  >"$work/produce.txt" 2>"$work/produce.err" &
producer=$!
rc=0
build/tools/pane-consume --shm "$name" --duration "$seconds" --expect-fps 55 --min-cursor-hz 900 \
  >"$work/consume.txt" || rc=$?
kill -INT "$producer" 2>/dev/null || true
wait "$producer" || true
cat "$work/produce.txt"
[ "$rc" -eq 0 ] || { echo "--- producer stderr"; tail -n 5 "$work/produce.err"; } >&2
echo
cat "$work/consume.txt"
exit $rc
