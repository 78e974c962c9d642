#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: pane-produce and pane-consume as separate processes over a POSIX shm region at
# the given resolution. Passes when the consumer verified every frame, cursor update and shape
# with zero errors, and saw every shape type (unless it had to re-attach, which a loaded machine
# may cause: a consumer starved past the timeout is reaped and comes back, and that is correct).
# Rates are checked only when asked (PANE_E2E_EXPECT_FPS=N, PANE_E2E_MIN_CURSOR_HZ=N): speed is
# the benchmarks' business, and the suite must pass while other processes keep every CPU busy.
# With PAUSE=producer or PAUSE=consumer, that process is stopped (SIGSTOP) for longer than every
# timeout (2.5 s against 1 s) a second into the run: rates are not checked then, but every frame
# must still verify, and a paused consumer must have been reaped and re-attached (restarts >= 1).
# With PANE_E2E_CONSUMER_HOST_ID=HEX the consumer acts as if it ran on another kernel
# (PANE_HOST_ID, as a host viewer of a guest's producer): it must take a slot on the other side's
# range, report the producer on another kernel, and still verify everything with its waits
# polling on a schedule instead of futex wake-ups.
# usage: tools_e2e.sh PANE_PRODUCE PANE_CONSUME WIDTHxHEIGHT [SECONDS [PAUSE]]
set -uo pipefail
produce=$1 consume=$2 size=$3 seconds=${4:-4} pause=${5:-none}
# A PAUSE other than producer or consumer means none.
case $pause in producer | consumer) ;; *) pause=none ;; esac
fps=${PANE_E2E_EXPECT_FPS:-0}
cursor_hz=${PANE_E2E_MIN_CURSOR_HZ:-0}
[ "$pause" != none ] && fps=0 && cursor_hz=0
name="pane-e2e-$$-${size}"
expect=()
[ "$fps" != 0 ] && expect+=(--expect-fps "$fps")
[ "$cursor_hz" != 0 ] && expect+=(--min-cursor-hz "$cursor_hz")

"$produce" --shm "$name" --size "$size" --duration $((seconds + 3)) >/tmp/"$name".produce.log 2>&1 &
producer=$!
other_kernel=${PANE_E2E_CONSUMER_HOST_ID:-}
consumer_env=()
[ -n "$other_kernel" ] && consumer_env=(env PANE_HOST_ID="$other_kernel")
"${consumer_env[@]}" "$consume" --shm "$name" --duration "$seconds" --json "${expect[@]}" >/tmp/"$name".consume.json 2>/tmp/"$name".consume.log &
consumer=$!
if [ "$pause" != none ]; then
  sleep 1
  if [ "$pause" = producer ]; then target=$producer; else target=$consumer; fi
  kill -STOP "$target"; sleep 2.5; kill -CONT "$target"
fi
wait "$consumer"
rc=$?
wait "$producer"
prc=$?
rm -f /dev/shm/"$name"
echo "consumer report:"; cat /tmp/"$name".consume.json
types_ok=1
python3 - /tmp/"$name".consume.json "$pause" "$other_kernel" <<'PY' || types_ok=0
import json, sys
d = json.load(open(sys.argv[1]))
if sys.argv[3]:
    # The tools' region has 32 slots, 16 per side: a consumer on another kernel takes 16..31.
    assert not d["producer_same_kernel"] and d["slot"] >= 16, "the consumer did not take the other side's slots"
if sys.argv[2] == "consumer":
    assert d["restarts"] >= 1, "a consumer paused past the timeout was not reaped and re-attached"
types = d["cursor"]["shape_types"]
assert d["error_total"] == 0 and d["frames"]["verified"] > 0, "errors or no frames"
assert d["cursor"]["updates"] > 0 and sum(types.values()) > 0, "no cursor update or shape verified"
if d["restarts"] == 0:
    assert set(types) == {"colour", "monochrome", "masked"} and all(n > 0 for n in types.values()), types
PY
if [ "$rc" -eq 0 ] && [ "$prc" -eq 0 ] && [ "$types_ok" -eq 1 ]; then
  echo "test cases: 1 | 1 passed | 0 failed"
  exit 0
fi
echo "producer exit $prc, consumer exit $rc, shape types seen: $types_ok"
echo "--- producer log"; cat /tmp/"$name".produce.log
echo "--- consumer log"; cat /tmp/"$name".consume.log
echo "test cases: 1 | 0 passed | 1 failed"
exit 1
