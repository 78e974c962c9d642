#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Puts a Debian amd64 kernel in CACHE_DIR, once: downloads the linux-image package that
# linux-image-amd64 depends on (apt-get download: no installation, no root needed), takes
# /boot/vmlinuz-* out of it and extracts the uncompressed vmlinux (extract-vmlinux.sh).
# Later runs reuse CACHE_DIR/bzImage and CACHE_DIR/vmlinux without asking apt anything.
# Exits 77 (skip) when no kernel package can be had, 1 when one was had but is unusable.
# usage: fetch-kernel.sh CACHE_DIR
set -euo pipefail
cache=$1
here=$(cd "$(dirname "$0")" && pwd)
if [ -s "$cache/bzImage" ] && [ -s "$cache/kernel.version" ]; then
  [ -s "$cache/vmlinux" ] || "$here/extract-vmlinux.sh" "$cache/bzImage" "$cache/vmlinux" || true
  exit 0
fi
mkdir -p "$cache"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || { echo "fetch-kernel: no apt-get/dpkg-deb" >&2; exit 77; }
kernel_package() {
  echo "${PANE_QEMU_KERNEL_PACKAGE:-$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" { print $2; exit }')}"
}
pkg=$(kernel_package)
if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then  # no package lists yet
  apt-get update -q >/dev/null 2>&1 || true
  pkg=$(kernel_package)
fi
if [ -z "$pkg" ]; then
  echo "fetch-kernel: apt knows no linux-image-amd64 (run apt-get update?)" >&2
  exit 77
fi
work=$(mktemp -d "$cache/download.XXXXXX")
trap 'rm -rf "$work"' EXIT
# apt-get download writes into the current directory; as root it warns that _apt cannot write
# there, which is harmless.
if ! (cd "$work" && apt-get download -q "$pkg" >/dev/null 2>"$work/apt.err"); then
  cat "$work/apt.err" >&2
  echo "fetch-kernel: cannot download $pkg" >&2
  exit 77
fi
dpkg-deb --fsys-tarfile "$work"/*.deb | tar -x -C "$work" --wildcards './boot/vmlinuz-*'
vmlinuz=$(ls "$work"/boot/vmlinuz-* | head -n 1)
mv "$vmlinuz" "$cache/bzImage"
"$here/extract-vmlinux.sh" "$cache/bzImage" "$cache/vmlinux" ||
  echo "fetch-kernel: no vmlinux extracted; the test will boot the bzImage" >&2
echo "$pkg $(dpkg-deb -f "$work"/*.deb Version)" >"$cache/kernel.version"
