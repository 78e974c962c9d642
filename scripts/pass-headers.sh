#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The header pass (run by scripts/test.sh from the source root). Cases:
#   headers-COMPILER   every public header (include/pane/**/*.hpp) compiles alone, with g++ and
#                      with clang++, under -std=c++20 and the strict warning set below as errors
#   usage-COMPILER     the programs that instantiate the templates (examples/, tests/embed/)
#                      under the same flags: a header alone instantiates none of them
#   headers-mingw      the headers a Windows program may include (core, map/mapping.hpp,
#                      map/memory.hpp, map/windows_ivshmem.hpp), alone, with MinGW-w64's g++
#                      (skipped, 0 cases, when the cross compiler is not installed)
#   below-c++20        a header compiled as C++17, and as C, stops at pane/version.hpp's one-line
#                      #error (no -std flag comes from pane.pc or the CMake package)
#   no-exceptions      Result::value() on an error under -fno-exceptions prints what happened
#                      and aborts (with exceptions it throws: tests/test_result.cpp)
# Ends with "N passed, N failed". Compiles run $(nproc) at a time.
set -uo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/pane-headers.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
pass() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAILED: $1${2:+: $2}"; failed=$((failed + 1)); }
jobs=$(nproc 2>/dev/null || echo 2)

# -Wsign-conversion too (clang's -Wconversion implies it; g++'s does not): the headers are clean
# under it, so it costs nothing to keep them so.
strict=(-std=c++20 -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow -Werror)

# check_alone CASE COMPILER HEADER...: each header in a translation unit of its own.
check_alone() {
  local name=$1 cxx=$2; shift 2
  local dir=$work/$name
  mkdir -p "$dir"
  for h in "$@"; do
    local tu=$dir/${h//\//_}.cpp
    printf '#include <%s>\n' "$h" >"$tu"
  done
  # Each failing compile leaves its output in a .err file beside its translation unit.
  find "$dir" -name '*.cpp' -print0 |
    xargs -0 -P "$jobs" -I{} sh -c '"$0" "$@" -Iinclude -fsyntax-only "{}" >"{}.err" 2>&1 || touch "{}.failed"' \
      "$cxx" "${strict[@]}"
  local bad
  bad=$(find "$dir" -name '*.failed' | sort)
  if [ -z "$bad" ]; then
    pass "$name ($# headers)"
  else
    for f in $bad; do head -n 20 "${f%.failed}.err"; done
    fail "$name" "$(echo "$bad" | wc -l) of $# headers: $(for f in $bad; do basename "${f%.cpp.failed}" | tr _ /; done | tr '\n' ' ')"
  fi
}

mapfile -t all_headers < <(cd include && find pane -name '*.hpp' | sort)
for cxx in g++ clang++; do
  echo "=== headers: $cxx"
  if ! command -v "$cxx" >/dev/null; then fail "headers-$cxx" "no $cxx"; continue; fi
  check_alone "headers-$cxx" "$cxx" "${all_headers[@]}"
  # The template-heavy users, compiled (syntax and instantiation) with the same flags.
  echo "=== usage: $cxx"
  out=""
  for f in examples/*.cpp tests/embed/consumer.cpp; do
    out+=$("$cxx" "${strict[@]}" -Iinclude -fsyntax-only "$f" 2>&1) || out+=$'\n'"($f failed)"
  done
  if [[ $out == *failed\)* ]]; then echo "$out" | head -n 40; fail "usage-$cxx" "$(echo "$out" | grep -o '([^ ]* failed)' | tr '\n' ' ')"
  else pass "usage-$cxx (examples/*.cpp, tests/embed/consumer.cpp)"; fi
done

mingw=x86_64-w64-mingw32-g++-posix
if command -v "$mingw" >/dev/null; then
  echo "=== headers: $mingw"
  windows_headers=()
  for h in "${all_headers[@]}"; do
    case $h in
      # Linux mappings, and the Boost ones (Debian has no Boost for MinGW).
      pane/map/posix_mapping.hpp|pane/map/ivshmem.hpp|pane/map/file.hpp|pane/map/shm.hpp|pane/map/boost_errors.hpp) ;;
      *) windows_headers+=("$h") ;;
    esac
  done
  check_alone headers-mingw "$mingw" "${windows_headers[@]}"
else
  echo "skip: headers-mingw (no $mingw)"
fi

echo "=== below C++20"
echo '#include <pane/pane.hpp>' >"$work/old.cpp"
cxx17=$(g++ -std=c++17 -Iinclude -fsyntax-only "$work/old.cpp" 2>&1 | grep -m 1 'error')
as_c=$(gcc -x c -Iinclude -fsyntax-only "$work/old.cpp" 2>&1 | grep -m 1 'error')
if [[ $cxx17 == *"#error \"Pane needs C++20 or newer"* ]] && [[ $as_c == *"#error \"Pane's headers are C++20"* ]]; then
  pass "below-c++20 (first error as C++17 and as C is pane/version.hpp's)"
else
  fail below-c++20 "first errors: C++17: ${cxx17:-none}; C: ${as_c:-none}"
fi

echo "=== Result without exceptions"
cat >"$work/noexcept.cpp" <<'EOF'
#include <cstdio>
#include <pane/error.hpp>
#include <pane/result.hpp>
int main(int argc, char**) {
    pane::Result<int, pane::ChannelError> r = pane::ChannelError::not_found;
    if (argc > 1) r = 7;
    std::printf("before\n");
    std::fflush(stdout);
    return r.value();  // on the error: message and abort, never a garbage int
}
EOF
if g++ -std=c++20 -O2 -DNDEBUG -fno-exceptions -Wall -Wextra -Werror -Iinclude -o "$work/noexcept" "$work/noexcept.cpp" 2>"$work/noexcept.err"; then
  # In a command substitution, so the shell does not report the abort as if the pass had failed.
  rc=$("$work/noexcept" >"$work/noexcept.out" 2>"$work/noexcept.stderr"; echo $?)
  "$work/noexcept" with-value >/dev/null 2>&1; rc_value=$?
  msg=$(cat "$work/noexcept.stderr")
  # 134: killed by SIGABRT (128 + 6).
  if [ "$rc" -eq 134 ] && [[ $msg == "pane::Result::value() on an error: no channel of that name"* ]] && [ "$rc_value" -eq 7 ]; then
    pass "no-exceptions (aborted with: $msg)"
  else
    fail no-exceptions "exit $rc (want 134), stderr \"$msg\", with a value exit $rc_value (want 7)"
  fi
else
  cat "$work/noexcept.err"; fail no-exceptions "did not compile"
fi

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
