#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The embedding pass (run by scripts/test.sh from the source root): installs Pane with `meson
# install` into a temporary prefix, then builds and runs the small application in tests/embed/
# the three ways an embedder would. Cases:
#   install          -Dtools=disabled -Dtests=disabled configures; headers, pane.pc, pane-map.pc
#                    and the CMake package are installed, and no .pc file carries a -std flag
#   pkg-config       g++ -std=c++20 $(pkg-config --cflags --libs pane-map), run
#   pkg-config-c++23 the same with -std=c++23 (when g++ accepts it): the program must report the
#                    standard it asked for, so nothing in Pane's flags overrode it
#   cmake            find_package(Pane CONFIG) with Debian's cmake, Pane::map, run
#   meson-subproject Pane's source tree as the application's subprojects/pane (with the wrap in
#                    tests/embed/pane.wrap): plain `ninja` builds no target of Pane's, `meson test`
#                    runs only the application's test, `meson install` installs only its program
# Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
src=$PWD
work=$(mktemp -d /tmp/pane-embed.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
pass() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAILED: $1${2:+: $2}"; failed=$((failed + 1)); }
finish() { echo "${passed} passed, ${failed} failed"; [ "$failed" -eq 0 ]; exit $?; }
# The compiler's own value of __cplusplus for a -std flag, e.g. 202100 for g++ 12's c++23.
cplusplus_of() { echo __cplusplus | g++ "$1" -E -x c++ - 2>/dev/null | tail -n 1 | tr -d L; }
# Runs "$@" with its output in $work/NAME.log, printed only when it fails.
quiet() {
  local log=$work/$1.log; shift
  if "$@" >"$log" 2>&1; then return 0; fi
  cat "$log"; return 1
}

# --- install: a release-type build of nothing but the install files.
prefix=$work/prefix
echo "=== embed: meson install into $prefix"
if quiet setup meson setup "$work/pane-build" -Dtools=disabled -Dtests=disabled -Dexamples=disabled \
      --buildtype=release --prefix="$prefix" &&
   quiet install meson install -C "$work/pane-build"; then
  pcdir=$(dirname "$(find "$prefix" -name pane.pc | head -n 1)")
  cmakedir=$(dirname "$(find "$prefix" -name PaneConfig.cmake | head -n 1)")
  export PKG_CONFIG_PATH=$pcdir
  missing=""
  for f in "$prefix/include/pane/pane.hpp" "$prefix/include/pane/map/shm.hpp" "$pcdir/pane.pc" "$pcdir/pane-map.pc" \
           "$cmakedir/PaneConfig.cmake" "$cmakedir/PaneConfigVersion.cmake"; do
    [ -f "$f" ] || missing="$missing $f"
  done
  flags=$(pkg-config --cflags --libs pane pane-map 2>&1)
  if [ -n "$missing" ]; then fail install "not installed:$missing"
  elif [[ $flags == *-std=* ]]; then fail install "a .pc file forces a standard: $flags"
  elif ! pkg-config --exists pane-map; then fail install "pkg-config cannot resolve pane-map: $flags"
  else pass "install (pkg-config --cflags --libs pane-map: $(pkg-config --cflags --libs pane-map))"; fi
else
  fail install "meson setup or install failed"
  fail pkg-config "nothing installed"; fail cmake "nothing installed"
  finish
fi

# --- pkg-config: plain g++, the flags from pane-map.pc and nothing else but -std and warnings.
for std in c++20 c++23; do
  name=pkg-config; [ "$std" = c++20 ] || name=pkg-config-$std
  if ! g++ -std="$std" -x c++ -fsyntax-only /dev/null 2>/dev/null; then echo "skip: $name (g++ has no -std=$std)"; continue; fi
  echo "=== embed: $name"
  exe=$work/consumer-$std
  # shellcheck disable=SC2046
  if ! quiet "$name-build" g++ -std="$std" -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror \
        -o "$exe" tests/embed/consumer.cpp $(pkg-config --cflags --libs pane-map); then
    fail "$name" "build failed"; continue
  fi
  out=$("$exe" "$name" 2>&1) || { fail "$name" "run failed: $out"; continue; }
  echo "$out"
  want=$(cplusplus_of -std="$std")
  if [[ $out == *"__cplusplus=$want" ]]; then pass "$name"; else fail "$name" "compiled as ${out##*=}, not $want (-std=$std)"; fi
done

# --- cmake: find_package(Pane CONFIG) from the prefix; no CMAKE_CXX_STANDARD in the project.
echo "=== embed: cmake"
if ! command -v cmake >/dev/null; then
  fail cmake "no cmake (scripts/deps.sh installs it)"
elif quiet cmake-configure cmake -S tests/embed -B "$work/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" &&
     quiet cmake-build cmake --build "$work/cmake-build"; then
  if out=$("$work/cmake-build/pane-embed-consumer" cmake 2>&1); then echo "$out"; pass cmake
  else fail cmake "run failed: $out"; fi
else
  fail cmake "configure or build failed"
fi

# --- meson-subproject: the application in its own folder, this tree as subprojects/pane.
echo "=== embed: meson subproject"
app=$work/app
mkdir -p "$app/subprojects"
cp tests/embed/meson.build tests/embed/consumer.cpp "$app/"
cp tests/embed/pane.wrap "$app/subprojects/"
ln -s "$src" "$app/subprojects/pane"
# The subproject, not an installed Pane: nothing installed may be found instead.
if ! PKG_CONFIG_PATH='' quiet app-setup meson setup "$app/build" "$app" --force-fallback-for=pane,pane-map; then
  fail meson-subproject "meson setup failed"
elif ! quiet app-ninja ninja -C "$app/build"; then
  fail meson-subproject "ninja failed"
else
  # Targets of Pane's (subproject "pane") that plain ninja builds, tests, and what an install
  # would put down. libpane-capi is defined but built only if the parent links it.
  pane_targets=$(meson introspect --targets "$app/build" |
    python3 -c 'import json,sys; print(" ".join(t["name"] for t in json.load(sys.stdin) if t.get("subproject") == "pane" and t.get("build_by_default", True)))')
  tests=$(meson test -C "$app/build" --list --no-rebuild 2>/dev/null | tr '\n' ' ')
  if [ -n "$pane_targets" ]; then fail meson-subproject "Pane built its own targets: $pane_targets"
  elif [ "$tests" != "embed-consumer " ]; then fail meson-subproject "meson test would run: $tests"
  elif ! quiet app-test meson test -C "$app/build" --print-errorlogs; then fail meson-subproject "meson test failed"
  elif ! quiet app-install meson install -C "$app/build" --destdir "$app/dest"; then fail meson-subproject "meson install failed"
  else
    installed=$(cd "$app/dest" && find . -type f -o -type l | sort | tr '\n' ' ')
    if [[ $installed =~ ^\./[^\ ]*/bin/pane-embed-consumer\ $ ]]; then
      grep -h 'messages over' "$app/build/meson-logs/testlog.txt" | head -n 1
      pass "meson-subproject (no Pane target built, 1 test run, installed: $installed)"
    else
      fail meson-subproject "meson install put down more than the application: $installed"
    fi
  fi
fi
finish
