#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs Pane's build and test dependencies from Debian packages when any is missing.
# Runs apt-get as root (or through sudo). Safe to run repeatedly.
set -euo pipefail
packages=(meson ninja-build g++ clang pkg-config libboost-dev libfmt-dev catch2 libclang-rt-14-dev)
missing=()
# The qemu pass of scripts/test.sh: QEMU, a static busybox for the guest, cpio, and what unpacks
# and checks a Debian kernel (xz, zstd, readelf).
packages+=(qemu-system-x86 busybox-static cpio xz-utils zstd binutils python3)
# The mingw pass of scripts/test.sh: the Windows cross compiler, and wine to run what it builds.
packages+=(g++-mingw-w64-x86-64-posix wine wine64)
# scripts/pass-capi32.sh: the C ABI and its C test built -m32, run under qemu-user's qemu-i386.
# The X11 capture source (pane-produce --source x11), pane-view (SDL2) and the x11 pass of
# scripts/test.sh (scripts/pass-x11.sh: two Xvfb displays).
packages+=(libxcb1-dev libxcb-shm0-dev libxcb-damage0-dev libxcb-xfixes0-dev libxcb-randr0-dev libxcb-xtest0-dev)
packages+=(libsdl2-dev xvfb)
# scripts/pass-embed.sh: an application finds the installed Pane through its CMake package.
packages+=(cmake)
# scripts/pass-m32.sh: the i686 build (multilib g++, objdump), and qemu-i386 to run it where the
# kernel runs no i386 program itself.
packages+=(gcc-multilib g++-multilib binutils qemu-user)
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
