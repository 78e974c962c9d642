#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The 32-bit pass (run by scripts/test.sh from the source root): Pane built for i686 Linux with
# the host's multilib g++ (cross/i686-linux-gnu.txt, -march=i686: no SSE), tools off (Debian's
# libfmt is 64-bit only). Cases:
#   no-sse        an i386 producer (examples/produce_frames.cpp: frames, cursor, the
#                 write-combining fence) compiles and links with -mno-sse, and its code holds no
#                 SSE instruction (no sfence, no xmm register): the fence falls back to a locked
#                 instruction, which also drains the write-combining buffers
#   unit, multiprocess   the Catch2 cases of pane-test-unit and pane-test-multiprocess, built
#                 with -Werror (the suites of the same name, less the tools' end-to-end tests,
#                 which need the tools)
# Where this kernel cannot execute i386 programs itself (some VMs run without IA32 emulation),
# the pass runs them under qemu-i386 (Debian's qemu-user), registered through binfmt_misc for the
# pass's duration (root only), so that the multiprocess tests' children, which re-execute
# /proc/self/exe, run under it too. Two unit cases need the kernel's [vvar] mapping, which
# qemu-user does not show; where it is missing they are left out (and named). Without a way to run i386
# programs, the test cases are skipped and say so. Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/pane-m32.XXXXXX)
binfmt=/proc/sys/fs/binfmt_misc
handler=""
cleanup() {
  [ -n "$handler" ] && [ -e "$binfmt/$handler" ] && echo -1 >"$binfmt/$handler"
  rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0
pass() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAILED: $1${2:+: $2}"; failed=$((failed + 1)); }
dir=build-m32

echo "=== m32: build ($dir)"
if [ ! -f "$dir/build.ninja" ]; then
  mkdir -p "$dir"
  if ! meson setup "$dir" --cross-file cross/i686-linux-gnu.txt -Dtools=disabled -Dwerror=true \
       --buildtype=debugoptimized --wrap-mode=nodownload >"$dir/setup.log" 2>&1; then
    cat "$dir/setup.log"; fail build "meson setup failed (gcc-multilib g++-multilib installed?)"
    echo "${passed} passed, ${failed} failed"; exit 1
  fi
fi
if ! ninja -C "$dir" tests/pane-test-unit tests/pane-test-multiprocess; then
  fail build "ninja failed"; echo "${passed} passed, ${failed} failed"; exit 1
fi

echo "=== m32: a producer without SSE"
exe=$work/produce_frames_nosse
if g++ -m32 -march=i686 -mno-sse -mno-sse2 -std=c++20 -O2 -Wall -Wextra -Werror -Iinclude \
     -o "$exe" examples/produce_frames.cpp -pthread -lrt 2>"$work/nosse.log"; then
  sse=$(objdump -d --no-show-raw-insn "$exe" | grep -E -c '\b(sfence|lfence|mfence|movnt[a-z]*)\b|%xmm')
  if [ "$sse" -eq 0 ]; then pass "no-sse (examples/produce_frames.cpp, -march=i686 -mno-sse: no SSE instruction)"
  else fail no-sse "$sse SSE instructions in the code"; fi
else
  cat "$work/nosse.log"; fail no-sse "did not compile"
fi

# Can this kernel run an i386 program? If not, qemu-i386 through binfmt_misc.
echo 'int main(void) { return 0; }' >"$work/probe.c"
gcc -m32 -o "$work/probe" "$work/probe.c" 2>/dev/null
runner="natively"
if ! "$work/probe" 2>/dev/null; then
  runner=""
  if command -v qemu-i386 >/dev/null && [ "$(id -u)" -eq 0 ]; then
    mountpoint -q "$binfmt" || mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null
    if [ -w "$binfmt/register" ]; then
      handler=pane-m32-$$
      magic='\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00'
      mask='\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
      printf '%s' ":$handler:M::$magic:$mask:$(command -v qemu-i386):" >"$binfmt/register" 2>/dev/null || handler=""
      if [ -n "$handler" ] && "$work/probe"; then runner="under qemu-i386 (binfmt_misc)"; fi
    fi
  fi
fi
if [ -z "$runner" ]; then
  echo "skip: unit, multiprocess (this kernel runs no i386 program, and qemu-i386 could not be registered: needs root and qemu-user)"
  echo "${passed} passed, ${failed} failed"
  [ "$failed" -eq 0 ]; exit $?
fi
echo "=== m32: running the tests $runner"

# run_cases NAME BINARY [CATCH2 ARGS...]: one case per Catch2 test case.
run_cases() {
  local name=$1 bin=$2; shift 2
  local log=$work/$name.log rc=0 line p=0 f=0
  "$bin" "$@" >"$log" 2>&1 || rc=$?
  line=$(grep -E '^(All tests passed|test cases:)' "$log" | tail -n 1)
  if [[ $line =~ All\ tests\ passed\ \(.*in\ ([0-9]+)\ test\ case ]]; then p=${BASH_REMATCH[1]}
  elif [[ $line =~ ^test\ cases:\ +([0-9]+)\ \|\ +([0-9]+)\ passed\ \|\ +([0-9]+)\ failed ]]; then p=${BASH_REMATCH[2]}; f=${BASH_REMATCH[3]}
  elif [[ $line =~ ^test\ cases:\ +([0-9]+)\ \|\ +([0-9]+)\ failed ]]; then f=${BASH_REMATCH[2]}; fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # crashed before its summary
  [ "$f" -eq 0 ] || tail -n 60 "$log"
  echo "$name: $p passed, $f failed ($line)"
  passed=$((passed + p)); failed=$((failed + f))
}

unit_args=()
# Two unit cases futex the kernel's [vvar] page; qemu-user (ours, or one some binfmt handler
# already runs i386 programs under) shows no [vvar] in /proc/self/maps. Asked of an i386 program.
cat >"$work/vvar.c" <<'EOF'
#include <stdio.h>
#include <string.h>
int main(void) {
    char line[512];
    FILE* maps = fopen("/proc/self/maps", "r");
    while (maps != NULL && fgets(line, sizeof line, maps) != NULL) {
        if (strstr(line, "[vvar]") != NULL) return 0;
    }
    return 1;
}
EOF
if gcc -m32 -o "$work/vvar" "$work/vvar.c" && ! "$work/vvar"; then
  unit_args=("~*a futex the kernel refuses makes the wait sleep*" "~AutoWait: growing sleeps where no futex can wake it*")
  echo "no [vvar] mapping for i386 programs here; left out: ${unit_args[*]}"
fi
run_cases unit "$dir/tests/pane-test-unit" "${unit_args[@]}"
# Emulated (qemu-i386), the cross-process message counts are scaled down as for TSan: the layout
# and the handshakes are what differ at 32 bits, not the volume.
PANE_TEST_SCALE=${PANE_M32_SCALE:-0.1} run_cases multiprocess "$dir/tests/pane-test-multiprocess"

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
