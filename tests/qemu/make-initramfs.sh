#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Packs the QEMU test's initramfs: a static busybox, a static pane-produce (stripped) and
# init.sh as /init, as an uncompressed newc cpio (the kernel then has nothing to decompress,
# which under TCG saves a second per boot).
# usage: make-initramfs.sh BUSYBOX PANE_PRODUCE OUTPUT
set -euo pipefail
busybox=$1 produce=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp}
cp "$busybox" "$root/bin/busybox"
if command -v strip >/dev/null; then
  strip -o "$root/bin/pane-produce" "$produce"
else
  cp "$produce" "$root/bin/pane-produce"
fi
cp "$here/init.sh" "$root/init"
chmod 755 "$root/init" "$root/bin/busybox" "$root/bin/pane-produce"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$out"
