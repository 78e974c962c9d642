#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds and runs every test pass and prints one closing line "N passed, N failed" (Catch2 test
# cases, summed over passes). Passes:
#   main      g++, -Werror, all suites; then `pane-bench --quick` once through `meson test
#             --benchmark` (its tables printed; fails only on a verification error or a crash)
#   asan      g++, AddressSanitizer + UndefinedBehaviorSanitizer, all suites
#   mingw     the Windows cross build (MinGW-w64, cross/mingw-w64-x86_64.txt) with -Werror, its
#             programs run under wine: one case, passed if everything built and ran
# No pass checks rates (the tools end-to-end tests check content): speed is measured by the
# benchmarks, and every pass must hold on a machine whose CPUs other processes keep busy.
#   tsan      clang++, ThreadSanitizer, the concurrency and multiprocess suites (scaled down; only
#             their binaries are built); not the interleaving suite, whose explorer runs one thread
#             at a time under a mutex, so TSan would see nothing concurrent there and only slow it
#   qemu      g++, -Dstatic_tools=true: pane-produce in a QEMU guest (TCG, -smp 1 and -smp 2) on an
#             IVSHMEM device, pane-consume on the host (tests/qemu/qemu_e2e.sh). Each test prints
#             one Catch2-style summary line, so it counts as one case; it is skipped (0 cases)
#             when QEMU or a Debian kernel package cannot be had. Its only rate check is relative:
#             the host must receive frames at the rate the guest published them. It builds the
#             four tools (static) and nothing else.
#   other     each scripts/pass-NAME.sh is a pass of its own (run_script_pass below)
# PANE_PASSES="main asan qemu tsan" selects passes. Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }

passes=${PANE_PASSES:-"main asan qemu tsan"}
total_passed=0
total_failed=0
status=0
# One line per failure, printed again just before the closing lines: a CI log shown only by its
# end still says what failed.
failure_notes=()

# Adds up Catch2's per-binary summaries from a meson test log.
count_cases() {
  local log=$1 p=0 f=0 line n
  while IFS= read -r line; do
    if [[ $line =~ All\ tests\ passed\ \(.*in\ ([0-9]+)\ test\ case ]]; then
      p=$((p + BASH_REMATCH[1]))
    elif [[ $line =~ ^test\ cases:\ +([0-9]+)\ \|\ +([0-9]+)\ passed\ \|\ +([0-9]+)\ failed ]]; then
      p=$((p + BASH_REMATCH[2])); f=$((f + BASH_REMATCH[3]))
    elif [[ $line =~ ^test\ cases:\ +([0-9]+)\ \|\ +([0-9]+)\ failed ]]; then
      f=$((f + BASH_REMATCH[2]))
    fi
  done < "$log"
  echo "$p $f"
}

# run_pass NAME DIR SETUP SUITES [TARGETS]: TARGETS (default: everything) are what ninja builds.
run_pass() {
  local name=$1 dir=$2 setup=$3 suites=$4 targets=${5:-}
  echo "=== pass: $name"
  if [ ! -f "$dir/build.ninja" ]; then
    # The log goes inside the build directory (meson setup accepts a directory holding only it),
    # not beside it at the source root.
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    if ! meson setup "$dir" $setup >"$dir/setup.log" 2>&1; then
      cat "$dir/setup.log"; echo "pass $name: meson setup failed"; total_failed=$((total_failed + 1)); status=1; return
    fi
  fi
  # shellcheck disable=SC2086
  if ! ninja -C "$dir" $targets; then
    echo "pass $name: build failed"; total_failed=$((total_failed + 1)); status=1; return
  fi
  local suite_args=()
  for s in $suites; do suite_args+=(--suite "$s"); done
  local rc=0
  PANE_TEST_DURATIONS=1 meson test -C "$dir" --print-errorlogs --num-processes 1 "${suite_args[@]}" || rc=$?
  read -r p f < <(count_cases "$dir/meson-logs/testlog.txt")
  # A binary that crashed prints no Catch2 summary: count the meson failure itself.
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  echo "pass $name: $p passed, $f failed"
  total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
  [ "$rc" -eq 0 ] || status=1
  if [ "$f" -ne 0 ]; then
    local t
    while IFS= read -r t; do failure_notes+=("$name: $t"); done < <(grep -E '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT) ' "$dir/meson-logs/testlog.txt" | awk '!seen[$0]++' | head -n 5)
  fi
}

# The Windows pass has no Catch2 binaries: it is one case, passed when the cross build succeeds
# and its test programs (tools/win/meson.build) pass under wine. Without wine it only builds, and
# says so.
run_mingw() {
  echo "=== pass: mingw"
  local cross=(--cross-file cross/mingw-w64-x86_64.txt) ok=1 ran="built; not run (no wine)"
  if command -v wine >/dev/null; then cross+=(--cross-file cross/wine.txt); fi
  if [ ! -f build-mingw/build.ninja ]; then
    mkdir -p build-mingw
    meson setup build-mingw "${cross[@]}" -Dwerror=true >build-mingw/setup.log 2>&1 || { cat build-mingw/setup.log; ok=0; }
  fi
  if [ "$ok" -eq 1 ] && ! ninja -C build-mingw; then ok=0; fi
  if [ "$ok" -eq 1 ] && command -v wine >/dev/null; then
    # A private wine prefix, created on first use, so the pass leaves ~/.wine alone.
    WINEPREFIX="$PWD/build-mingw/wineprefix" WINEDEBUG=-all \
      meson test -C build-mingw --print-errorlogs --num-processes 1 --suite windows || ok=0
    ran="built and ran under wine"
  fi
  if [ "$ok" -eq 1 ]; then
    echo "pass mingw: 1 passed, 0 failed ($ran)"; total_passed=$((total_passed + 1))
  else
    echo "pass mingw: 0 passed, 1 failed"; total_failed=$((total_failed + 1)); status=1
    failure_notes+=("mingw: the cross build or a test under wine failed (its log above)")
  fi
}

# After the main pass: `meson test --benchmark` in its build directory runs `pane-bench --quick`
# once (about a minute) and prints its tables. Targets never fail it; a message that fails
# verification, or a measurement that crashes, does (one failed case). PANE_BENCH=0 skips it.
run_bench() {
  echo "=== bench (pane-bench --quick, after the main pass)"
  if [ ! -x build-test/tools/pane-bench ]; then
    echo "bench: no build-test/tools/pane-bench (the main pass did not build it); skipped"; return
  fi
  if meson test -C build-test --benchmark --print-errorlogs --num-processes 1; then
    sed -n '/^pane-bench, /,/^result: /p' build-test/meson-logs/testlog.txt  # meson 1.0 logs benchmarks there
    echo "bench: 1 passed, 0 failed"; total_passed=$((total_passed + 1))
  else
    echo "bench: 0 passed, 1 failed (a message failed verification or a measurement crashed)"
    total_failed=$((total_failed + 1)); status=1
    local e
    while IFS= read -r e; do failure_notes+=("bench: $e"); done < <(grep -E '^pane-bench: |^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT) ' build-test/meson-logs/testlog.txt | awk '!seen[$0]++' | head -n 5)
  fi
}

# run_script_pass NAME: a pass kept in its own script, scripts/pass-NAME.sh, run from the source
# root. Its last output line is "N passed, N failed"; a script that prints no such line, or exits
# non-zero with no failure counted, counts as one failure.
run_script_pass() {
  local name=$1 log rc=0 p=0 f=0
  echo "=== pass: $name"
  log=$(mktemp)
  bash "scripts/pass-$name.sh" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if [[ $(tail -n 1 "$log") =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    p=${BASH_REMATCH[1]}; f=${BASH_REMATCH[2]}
  else
    echo "pass $name: its script printed no closing \"N passed, N failed\" line"; f=1
  fi
  local line
  while IFS= read -r line; do failure_notes+=("$name: $line"); done < <(grep -E '(^|: )FAIL' "$log" | head -n 5)
  rm -f "$log"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  echo "pass $name: $p passed, $f failed"
  total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
  [ "$rc" -eq 0 ] || status=1
}

# By default the Windows pass and every scripts/pass-*.sh run too, in name order (PANE_PASSES
# overrides).
if [ -z "${PANE_PASSES:-}" ]; then
  passes="$passes mingw"
  for script in scripts/pass-*.sh; do
    [ -e "$script" ] || continue
    name=${script#scripts/pass-}; passes="$passes ${name%.sh}"
  done
fi

# Each pass's wall time, printed as a table at the end, so a slow CI run says where its time went.
timings=()
for pass in $passes; do
  pass_start=$SECONDS
  case $pass in
    main) run_pass main build-test "-Dwerror=true --buildtype=debugoptimized" "unit concurrency interleave multiprocess examples"
          [ "${PANE_BENCH:-1}" = 0 ] || run_bench ;;
    asan) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
          run_pass asan build-asan "-Dwerror=true --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false" \
          "unit concurrency interleave multiprocess" ;;
    qemu) run_pass qemu build-qemu "-Dwerror=true -Dstatic_tools=true --buildtype=debugoptimized" "qemu" \
            "tools/pane-produce tools/pane-consume tools/pane-inspect tools/pane-bench" ;;
    tsan) CXX=clang++ PANE_TEST_SCALE=${PANE_TSAN_SCALE:-0.05} TSAN_OPTIONS=halt_on_error=1 \
          run_pass tsan build-tsan "-Dwerror=true --buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false -Dtools=disabled" \
          "concurrency multiprocess" \
          "tests/pane-test-concurrency tests/pane-test-multiprocess tests/pane-test-faults capi/pane-capi-test" ;;
    mingw) run_mingw ;;
    *) if [ -f "scripts/pass-$pass.sh" ]; then run_script_pass "$pass"; else echo "unknown pass $pass"; status=1; fi ;;
  esac
  timings+=("$(printf '%-8s %5d s' "$pass" $((SECONDS - pass_start)))")
done
echo "=== wall time per pass (setup, build and tests; $SECONDS s in all)"
printf '%s\n' "${timings[@]}"
if [ "${#failure_notes[@]}" -gt 0 ]; then
  echo "=== what failed (the first lines of each)"
  printf '%s\n' "${failure_notes[@]}"
fi
echo "${total_passed} passed, ${total_failed} failed"
[ "$total_failed" -eq 0 ] || status=1
exit $status
