#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI pass "capi32" (scripts/test.sh runs every scripts/pass-NAME.sh): the C ABI and its C test
# built for i386 (gcc -m32, capi/i386-linux.txt) in build-capi32, and only those targets. The
# tests run under qemu-i386 (qemu-user), since a 64-bit kernel may lack IA-32 emulation. The C
# test's struct table (and the C++ comparison compiled beside it) then holds for i386, and a
# 32-bit producer and consumer exchange frames, cursor and control in one process, on threads and across a
# fork. Then, when the main pass has a 64-bit build (build-test), a 64-bit producer feeds a 32-bit
# consumer over POSIX shm and the other way round (one case each). Last line: "N passed, N
# failed" (test cases, from the tests' Catch2-style summaries).
set -uo pipefail
cd "$(dirname "$0")/.."
dir=build-capi32
fail() { echo "pass capi32: $1"; echo "0 passed, 1 failed"; exit 1; }
command -v qemu-i386 >/dev/null || fail "qemu-i386 missing (package qemu-user, scripts/deps.sh)"
if [ ! -f "$dir/build.ninja" ]; then
  log=$(mktemp)
  # No wrap downloads: Catch2 and fmt are not needed for these targets.
  meson setup "$dir" --cross-file capi/i386-linux.txt --wrap-mode=nodownload -Dwerror=true \
      --buildtype=debugoptimized -Dtools=disabled -Dexamples=disabled >"$log" 2>&1 || { cat "$log"; rm -f "$log"; fail "meson setup failed"; }
  rm -f "$log"
fi
ninja -C "$dir" capi/pane-capi-test capi/pane-capi-test-static || fail "build failed"
rc=0
meson test -C "$dir" --print-errorlogs --num-processes 1 capi capi-static capi-fork capi-threads || rc=$?
p=0 f=0
while IFS= read -r line; do
  if [[ $line =~ All\ tests\ passed\ \(.*in\ ([0-9]+)\ test\ case ]]; then
    p=$((p + BASH_REMATCH[1]))
  elif [[ $line =~ ^test\ cases:\ +([0-9]+)\ \|\ +([0-9]+)\ passed\ \|\ +([0-9]+)\ failed ]]; then
    p=$((p + BASH_REMATCH[2])); f=$((f + BASH_REMATCH[3]))
  fi
done < "$dir/meson-logs/testlog.txt"
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi

# 64-bit against 32-bit, as two processes: each side's exit status is its verdict.
b64=${PANE_CAPI64_BUILD:-build-test}  # the main pass's build directory
t64=$b64/capi/pane-capi-test t32=$dir/capi/pane-capi-test
if [ -f "$b64/build.ninja" ] && ninja -C "$b64" capi/pane-capi-test >/dev/null && [ -x "$t64" ]; then
  for producer in 64 32; do
    name="pane-capi32-cross-$$-$producer"
    if [ "$producer" = 64 ]; then prod=("$t64"); cons=(qemu-i386 "$t32"); else prod=(qemu-i386 "$t32"); cons=("$t64"); fi
    "${prod[@]}" --produce "$name" & pid=$!
    crc=0; "${cons[@]}" --consume "$name" || crc=$?
    prc=0; wait "$pid" || prc=$?
    if [ "$crc" -eq 0 ] && [ "$prc" -eq 0 ]; then
      echo "cross-arch: $producer-bit producer, $((96 - producer))-bit consumer: ok"; p=$((p + 1))
    else
      echo "cross-arch: $producer-bit producer (exit $prc), $((96 - producer))-bit consumer (exit $crc): FAILED"; f=$((f + 1))
    fi
  done
else
  echo "cross-arch: skipped (no 64-bit build-test: the main pass builds it)"
fi
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
