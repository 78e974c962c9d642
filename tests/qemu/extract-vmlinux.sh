#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Extracts the uncompressed ELF vmlinux from an x86 bzImage (e.g. Debian's /boot/vmlinuz-*), so
# QEMU can boot it through the kernel's PVH entry point (-kernel vmlinux), which skips the
# real-mode setup and the decompressor: under TCG that is most of the boot time. The bzImage
# holds the compressed kernel after its setup code; this looks for each compressor's magic,
# tries to decompress from every match and keeps the first output that is an ELF file.
# usage: extract-vmlinux.sh BZIMAGE OUTPUT
set -euo pipefail
in=$1 out=$2
tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT

# magic (as printf escapes), decompressor
try() {
  local magic=$1 cmd=$2 offset
  command -v "${cmd%% *}" >/dev/null || return 1
  # grep -b on binary input prints the byte offset of each match.
  for offset in $(LC_ALL=C grep -abo -P "$magic" "$in" 2>/dev/null | cut -d: -f1); do
    # The payload ends before the bzImage does: decompressors complain about trailing data.
    tail -c +$((offset + 1)) "$in" | $cmd >"$tmp" 2>/dev/null || true
    if [ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
      chmod 644 "$tmp"
      mv "$tmp" "$out"
      return 0
    fi
  done
  return 1
}

try '\xFD7zXZ\x00' 'xz -dc' ||
  try '\x28\xB5\x2F\xFD' 'zstd -dcq' ||
  try '\x1F\x8B\x08' 'gzip -dc' ||
  try '\x5D\x00\x00' 'xz -dc --format=lzma' ||
  try '\x02\x21\x4C\x18' 'lz4 -dc' ||
  try 'BZh' 'bzip2 -dc' || {
  echo "extract-vmlinux: no compressed ELF kernel found in $in" >&2
  exit 1
}
