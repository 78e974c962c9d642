#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The fuzz pass of scripts/test.sh (run_script_pass): builds the libFuzzer targets of tests/fuzz
# with clang++ (-Dfuzz=enabled, AddressSanitizer + UndefinedBehaviorSanitizer) in build-fuzz and
# runs each for PANE_FUZZ_SECONDS (default 10) over its committed corpus, tests/fuzz/corpus/<target>.
# Each target is one case: it fails on a crash, an invariant the harness checks, a leak or a hang
# (-timeout). New inputs go to a scratch directory, never into the committed corpus. Last line:
# "N passed, N failed". A failing input is kept as build-fuzz/artifacts/<target>-crash-*; rerun it
# with build-fuzz/tests/fuzz/pane-fuzz-<target> FILE.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${PANE_FUZZ_SECONDS:-10}
targets=(attach ring frames cursor producer control)
passed=0
failed=0
if [ ! -f build-fuzz/build.ninja ]; then
  mkdir -p build-fuzz  # the setup log goes inside it, as scripts/test.sh does
  if ! CXX=clang++ meson setup build-fuzz -Dfuzz=enabled -Dwerror=true --buildtype=debugoptimized \
      -Dtools=disabled -Dexamples=disabled >build-fuzz/setup.log 2>&1; then
    cat build-fuzz/setup.log; echo "pass fuzz: meson setup failed"; echo "0 passed, ${#targets[@]} failed"; exit 1
  fi
fi
if ! ninja -C build-fuzz "${targets[@]/#/tests/fuzz/pane-fuzz-}"; then
  echo "pass fuzz: build failed"; echo "0 passed, ${#targets[@]} failed"; exit 1
fi
mkdir -p build-fuzz/artifacts
for t in "${targets[@]}"; do
  scratch=$(mktemp -d)
  log=build-fuzz/fuzz-$t.log
  # quarantine_size_mb: the harness allocates per input; a small quarantine keeps page faults down.
  if ASAN_OPTIONS=quarantine_size_mb=16 build-fuzz/tests/fuzz/pane-fuzz-"$t" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/"$t"- \
      "$scratch" tests/fuzz/corpus/"$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
    echo "fuzz $t: ok, ${runs:-?} executions in ${seconds} s, $cov"
    passed=$((passed + 1))
  else
    tail -n 60 "$log"
    echo "fuzz $t: FAILED (input kept under build-fuzz/artifacts/)"
    failed=$((failed + 1))
  fi
  rm -rf "$scratch"
done
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
