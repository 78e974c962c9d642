#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The X11 figures of docs/performance.md ("A desktop through Pane"): an X desktop of WxH
# (default 1920x1080) on Xvfb display A, captured by `pane-produce --source x11`, shown by
# pane-view (software renderer) on Xvfb display B, in three scenes of SECONDS each (default 10):
# idle (nothing changes), a small animation (a 40x40 square moving at 50 Hz) and a full-screen
# animation (every pixel changes at 60 Hz, tests/x11/pane-x11-client "full"). For each it prints
# the frames pane-view showed, its latency percentiles (capture start to the frame verified in
# the viewer's own copy, same host, one clock) and the CPU time of the producer, the viewer and
# the captured X server, as a Markdown table, then the producer's grab and copy times. Builds
# what it needs in build-x11.
#   scripts/x11-figures.sh [WxH] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1920x1080}
seconds=${2:-10}
dir=build-x11
[ -f "$dir/build.ninja" ] || meson setup "$dir" -Dwerror=true --buildtype=debugoptimized -Dx11=enabled -Dviewer=enabled \
  -Dtests=enabled -Dexamples=disabled >/dev/null
ninja -C "$dir" tools/pane-produce tools/pane-view tests/x11/pane-x11-client >/dev/null
work=$(mktemp -d)
shm="pane-x11-figures-$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work" "/dev/shm/$shm"
}
trap cleanup EXIT
export SDL_VIDEODRIVER=x11 SDL_RENDER_DRIVER=software SDL_AUDIODRIVER=dummy

start_xvfb() {
  local f="$work/displayfd.$RANDOM"
  Xvfb -displayfd 3 -screen 0 "$1" -nolisten tcp 3>"$f" >/dev/null 2>&1 &
  pids+=($!)
  XPID=$!
  for _ in $(seq 100); do [ -s "$f" ] && break; sleep 0.1; done
  REPLY=":$(head -n 1 "$f")"
}
start_xvfb "${size}x24"; A=$REPLY; xa=$XPID
start_xvfb "${size}x24"; B=$REPLY
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

coproc CLIENT { exec "$dir/tests/x11/pane-x11-client" --display "$A" draw; }
pids+=($CLIENT_PID)
read -r REPLY <&"${CLIENT[0]}"
"$dir/tools/pane-produce" --source x11 --display "$A" --shm "$shm" --fps 60 >"$work/produce.out" 2>/dev/null &
producer=$!
pids+=($producer)
sleep 1

echo "| scene | frames shown | fps | latency p50 | p90 | p99 | producer CPU | viewer CPU | X server (A) CPU |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
scene() {  # scene NAME CLIENT-COMMAND
  local p0 x0 p1 x1 json
  DISPLAY=$B "$dir/tools/pane-view" --shm "$shm" --window "$size" --view-only --duration "$seconds" --json \
    >"$work/view.json" 2>/dev/null &
  local viewer=$!
  sleep 1  # attached, first frame shown
  p0=$(ticks "$producer"); x0=$(ticks "$xa")
  [ -z "$2" ] || { echo "$2" >&"${CLIENT[1]}"; }
  wait "$viewer"
  p1=$(ticks "$producer"); x1=$(ticks "$xa")
  [ -z "$2" ] || read -r REPLY <&"${CLIENT[0]}"
  json=$(cat "$work/view.json")
  local span=$((seconds - 1))
  python3 - "$1" "$json" "$(( (p1 - p0) ))" "$(( (x1 - x0) ))" "$hz" "$span" <<'EOF'
import json, sys
name, j, p, x, hz, span = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
l = j["latency_ms"]
lat = lambda v: f"{v:.2f} ms" if l["samples"] else "n/a"
print(f"| {name} | {j['frames']} | {j['fps']:.1f} | {lat(l['p50'])} | {lat(l['p90'])} | {lat(l['p99'])} | "
      f"{100.0 * p / hz / span:.0f}% | {j['cpu_percent']:.0f}% | {100.0 * x / hz / span:.0f}% |")
EOF
}
scene "idle desktop" ""
scene "small animation (40x40 at 50 Hz)" "anim $(( (seconds - 1) * 50 ))"
scene "full-screen animation (60 Hz)" "full $((seconds - 1))"
kill -INT "$producer"; wait "$producer" || true
echo
echo "The producer over all three scenes (grab: the X server copies the screen into our MIT-SHM"
echo "segment; copy: that segment into the frame buffer):"
echo '```'
grep -E 'frames published|grab p50|copy p50|cursor positions' "$work/produce.out"
echo '```'
echo "Desktop $size on Xvfb, pane-view window $size (software renderer), ${seconds} s per scene; CPU as a"
echo "share of one core over the scene. $(nproc) CPUs, $(uname -r)."
