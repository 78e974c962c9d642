#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: installs what is missing, builds, and runs a producer process and a consumer
# process over a POSIX shm region, ending with the report. Extra arguments go to pane-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release >/dev/null
ninja -C build tools/pane-bench >/dev/null
exec build/tools/pane-bench ring "$@"
