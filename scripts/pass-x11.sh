#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The two-display end-to-end test of the X11 capture source and pane-view (a pass of
# scripts/test.sh, run from the source root). Xvfb display A runs tests/x11/pane-x11-client,
# which draws known rectangles, gives the root a known cursor and moves the pointer;
# `pane-produce --source x11` captures A; pane-x11-check, a consumer of the same region, checks
# that damage rectangles cover every changed pixel, that the cursor position and shape follow,
# and that set_cursor_position warps A's pointer; pane-view runs on Xvfb display B and its
# screenshots must show the rectangles and the cursor at their scaled places; moving B's
# pointer over pane-view must move A's pointer. Then pane-produce's test pattern goes into
# pane-view, checked pixel for pixel with the cursor composed over it, also across a producer
# restart. Every check prints "PASS name" or "FAIL name" and counts as one case; the last line
# is "N passed, N failed". Builds only the four programs it runs: in build-test when the main
# pass configured it with them, else in its own build-x11.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=build-x11
passed=0
failed=0
pids=()
work=$(mktemp -d)
shm="pane-x11-$$"

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work" "/dev/shm/$shm-a" "/dev/shm/$shm-b"
}
trap cleanup EXIT

# count PREFIX: reads checker output, prints it with PREFIX and counts PASS/FAIL lines.
count() {
  local prefix=$1 line
  while IFS= read -r line; do
    echo "$prefix$line"
    case $line in
      PASS*) passed=$((passed + 1)) ;;
      FAIL*) failed=$((failed + 1)) ;;
    esac
  done
}
verdict() {  # verdict NAME OK DETAIL
  if [ "$2" = 1 ]; then echo "PASS $1: $3"; passed=$((passed + 1)); else echo "FAIL $1: $3"; failed=$((failed + 1)); fi
}
finish() {
  echo "${passed} passed, ${failed} failed"
  [ "$failed" -eq 0 ]
  exit $?
}

if ! command -v Xvfb >/dev/null; then
  verdict setup 0 "no Xvfb (scripts/deps.sh installs xvfb)"
  finish
fi
targets=(tools/pane-produce tools/pane-view tests/x11/pane-x11-client tests/x11/pane-x11-check)
# After the main pass (scripts/test.sh runs it first), build-test already has these targets,
# built with -Dwerror=true: bringing them up to date there costs nothing; otherwise build-x11.
if [ -f build-test/build.ninja ] && ninja -C build-test -t targets all 2>/dev/null | grep -q '^tests/x11/pane-x11-check:'; then
  dir=build-test
fi
echo "building in $dir"
if [ ! -f "$dir/build.ninja" ]; then
  mkdir -p "$dir"  # the setup log goes inside it, as scripts/test.sh does
  if ! meson setup "$dir" -Dwerror=true --buildtype=debugoptimized -Dx11=enabled -Dviewer=enabled -Dtests=enabled \
       -Dexamples=disabled >"$dir/setup.log" 2>&1; then
    cat "$dir/setup.log"; verdict build 0 "meson setup failed (the X11 and SDL2 development packages?)"; finish
  fi
fi
if ninja -C "$dir" "${targets[@]}"; then
  verdict build 1 "pane-produce (with the X11 source), pane-view, pane-x11-client, pane-x11-check"
else
  verdict build 0 "ninja failed"; finish
fi
produce=$dir/tools/pane-produce
view=$dir/tools/pane-view
client=$dir/tests/x11/pane-x11-client
check=$dir/tests/x11/pane-x11-check
export SDL_VIDEODRIVER=x11 SDL_RENDER_DRIVER=software SDL_AUDIODRIVER=dummy

# start_xvfb SIZE: a new Xvfb on a free display number; sets REPLY to ":N".
start_xvfb() {
  local f="$work/displayfd.$RANDOM"
  Xvfb -displayfd 3 -screen 0 "$1" -nolisten tcp 3>"$f" >"$work/xvfb.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$f" ] && break; sleep 0.1; done
  REPLY=":$(head -n 1 "$f")"
}
start_xvfb 640x480x24; A=$REPLY
start_xvfb 800x600x24; B=$REPLY
if [ "$A" = ":" ] || [ "$B" = ":" ]; then verdict xvfb 0 "Xvfb did not start"; cat "$work/xvfb.log"; finish; fi
echo "display A $A (640x480, captured), display B $B (800x600, pane-view)"

# The content (tests/x11/pane-x11-client.cpp draws it).
rects=(--rect 40,40,160,120,ff0000 --rect 240,60,120,160,00ff00 --rect 400,260,200,160,0000ff --rect 0,440,640,40,404040)
shape=16,16,2,3,ff00ff

# ---- X11 source: display A into region a ------------------------------------------------------
coproc CLIENT { exec "$client" --display "$A" draw; }
pids+=($CLIENT_PID)
say() {  # say COMMAND: one command to the client, waits for its answer line (into REPLY)
  echo "$1" >&"${CLIENT[1]}"
  read -r -t 60 REPLY <&"${CLIENT[0]}"
}
read -r -t 30 REPLY <&"${CLIENT[0]}"
[ "$REPLY" = ready ] || { verdict client 0 "pane-x11-client did not start on $A"; finish; }
say "warp 500 100"

"$produce" --source x11 --display "$A" --shm "$shm-a" --fps 60 >"$work/produce-x11.out" 2>"$work/produce-x11.err" &
producer=$!
pids+=($producer)

# Damage covers what changed, while the client animates; the content is there.
"$check" frames --shm "$shm-a" --seconds 5 "${rects[@]}" >"$work/frames.out" &
checker=$!
sleep 1  # let the checker attach and read the first frame before the animation starts
say "anim 80"
wait $checker
count "x11: " <"$work/frames.out"

# The cursor: where the client put it, with the shape it gave the root; then moved.
count "x11: " < <("$check" cursor --shm "$shm-a" --expect 500,100 --shape "$shape")
say "warp 520 400"
count "x11 after a warp: " < <("$check" cursor --shm "$shm-a" --expect 520,400 --shape "$shape")
# set_cursor_position from a consumer warps A's pointer (XTest).
count "x11: " < <("$check" control --shm "$shm-a" --send 123,234)
say pointer
verdict "x11: x-pointer" "$([ "$REPLY" = "123 234" ] && echo 1 || echo 0)" "display A's pointer is at $REPLY (expected 123 234)"
say "warp 500 100"

# pane-view on display B: the rectangles and the cursor at their scaled places (scale 1.25).
# The screen is still: the one frame is the latest, which a consumer gets when it attaches.
if DISPLAY=$B timeout 60 "$view" --shm "$shm-a" --window 800x600 --view-only --screenshot "$work/x11.ppm" --after-frames 1 \
     >"$work/view-x11.out" 2>"$work/view-x11.err"; then
  cat "$work/view-x11.out"
  count "x11: " < <("$check" image --ppm "$work/x11.ppm" --info "$(tail -n 1 "$work/view-x11.out")" "${rects[@]}" --cursor 500,100,ff00ff)
else
  cat "$work/view-x11.err"; verdict "x11: viewer-screenshot" 0 "pane-view failed"
fi

# Pointer motion over pane-view goes back through the control channel: B's pointer at window
# (400 + 5k, 300) is frame pixel (320 + 4k, 240) at scale 1.25; A's pointer must follow.
DISPLAY=$B "$view" --shm "$shm-a" --window 800x600 --duration 60 >"$work/view-pointer.out" 2>&1 &
viewer=$!
pids+=($viewer)
ok=0
for k in $(seq 0 15); do
  "$client" --display "$B" warp $((400 + 5 * k)) 300
  if "$check" cursor --shm "$shm-a" --expect $((320 + 4 * k)),240 --shape "$shape" --seconds 2 >"$work/pointer.out"; then
    ok=1; break
  fi
done
verdict "x11: viewer-pointer" $ok "B's pointer over pane-view moved A's pointer to $(grep -o 'last [0-9-]*,[0-9-]*' "$work/pointer.out" | head -n 1) (attempt $((k + 1)))"
kill "$viewer" 2>/dev/null; wait "$viewer" 2>/dev/null

kill -INT "$producer"
wait "$producer"; rc=$?
verdict "x11: producer-exit" "$([ $rc -eq 0 ] && grep -q 'result: OK' "$work/produce-x11.out" && echo 1 || echo 0)" \
  "pane-produce --source x11 exit status $rc; $(grep -E 'frames published|control accepted' "$work/produce-x11.out" | tr -s ' ' | tr '\n' ';')"
say quit

# ---- the test pattern into pane-view (scale 1: every pixel checked) ---------------------------
"$produce" --shm "$shm-b" --size 640x480 --fps 30 --shape-period-ms 300 >"$work/produce-p1.out" 2>&1 &
p1=$!
pids+=($p1)
if DISPLAY=$B timeout 60 "$view" --shm "$shm-b" --window 640x480 --view-only --screenshot "$work/pattern.ppm" \
     --after-frames 3 >"$work/view-p.out" 2>"$work/view-p.err"; then
  cat "$work/view-p.out"
  count "pattern: " < <("$check" pattern --ppm "$work/pattern.ppm" --info "$(tail -n 1 "$work/view-p.out")")
else
  cat "$work/view-p.err"; verdict "pattern: viewer-screenshot" 0 "pane-view failed"
fi

# A producer restart: the viewer shows the new producer's frames (its second attachment). The
# new producer sends 8 damage rectangles per frame (bands covering it), so the viewer's
# rectangle-by-rectangle copy and upload is what the pixel check sees.
DISPLAY=$B timeout 90 "$view" --shm "$shm-b" --window 640x480 --view-only --screenshot "$work/restart.ppm" \
  --after-frames 3 --after-attaches 2 >"$work/view-r.out" 2>"$work/view-r.err" &
viewer=$!
pids+=($viewer)
for _ in $(seq 300); do grep -q 'attached' "$work/view-r.err" 2>/dev/null && break; sleep 0.1; done  # to the first producer
kill -TERM "$p1"; wait "$p1"
"$produce" --shm "$shm-b" --size 640x480 --fps 30 --shape-period-ms 300 --damage 8 >"$work/produce-p2.out" 2>&1 &
p2=$!
pids+=($p2)
if wait "$viewer"; then
  cat "$work/view-r.out"
  info=$(tail -n 1 "$work/view-r.out")
  verdict "restart: viewer-reattach" "$([[ $info == *attaches=2* ]] && echo 1 || echo 0)" "pane-view: ${info#*frames=}"
  count "restart: " < <("$check" pattern --ppm "$work/restart.ppm" --info "$info")
else
  cat "$work/view-r.err"; verdict "restart: viewer-reattach" 0 "pane-view did not take the screenshot"
fi
kill -TERM "$p2"; wait "$p2"
finish
