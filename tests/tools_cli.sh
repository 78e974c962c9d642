#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The tools' command-line contract (issue 10): a usage error is one line on stderr naming the
# problem, ending "(see TOOL --help)", with exit status 2; an unknown option is reported as
# unknown even when given last; pane-bench names the option and its range and reports an unknown
# section; --version prints the library and protocol versions; pane-produce never overwrites a
# file that is not a Pane region (without --force) and leaves no shm object or file behind when
# it fails; pane-inspect on a non-Pane file gives its verdict first and prints no header fields.
# Usage: tools_cli.sh PANE_PRODUCE PANE_CONSUME PANE_INSPECT PANE_BENCH
set -u
produce=$1 consume=$2 inspect=$3 bench=$4
tag=pane-cli-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/$tag.XXXXXX")
trap 'rm -rf "$work"; rm -f /dev/shm/$tag-*' EXIT
passed=0 failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
pass() { passed=$((passed + 1)); }

# run TOOL ARGS...: sets rc, out, err (stderr as text) and err_lines.
run() {
  "$@" >"$work/out" 2>"$work/err"
  rc=$?
  out=$(cat "$work/out") err=$(cat "$work/err")
  err_lines=$(grep -c '' "$work/err")
}

# usage_error WANT TOOL ARGS...: exit 2, one stderr line containing WANT and "(see NAME --help)".
usage_error() {
  local want=$1 tool=$2 name
  shift 2
  name=$(basename "$tool")
  run "$tool" "$@"
  if [ "$rc" = 2 ] && [ "$err_lines" = 1 ] && grep -qF -- "$want" <<<"$err" &&
     grep -qF "(see $name --help)" <<<"$err" && [ -z "$out" ]; then
    pass
  else
    fail "$name $*: want exit 2 and one line with '$want', got exit $rc, $err_lines lines: $err"
  fi
}

for tool in "$produce" "$consume" "$inspect" "$bench"; do
  name=$(basename "$tool")
  # An unknown option is unknown wherever it stands, with or without a following word.
  usage_error "unknown option --bogus" "$tool" --bogus
  usage_error "unknown option --bogus" "$tool" --bogus 3
  usage_error "unknown option --bogus" "$tool" --json --bogus
  run "$tool" --bogus
  grep -q "needs a value" <<<"$err" && fail "$name --bogus still says 'needs a value'" || pass
  # --version: library and protocol versions, exit 0.
  run "$tool" --version
  if [ "$rc" = 0 ] && grep -Eq "^$name: Pane [0-9]+\.[0-9]+\.[0-9]+, protocol [0-9]+\.[0-9]+$" <<<"$out"; then
    pass
  else
    fail "$name --version: exit $rc, '$out'"
  fi
done

# A known option given last without its value.
usage_error "option --fps needs a value" "$produce" --fps
usage_error "option --duration needs a value" "$consume" --duration
usage_error "option --interval needs a value" "$inspect" --shm "$tag-x" --interval
usage_error "option --rounds needs a value" "$bench" --rounds
usage_error "option --shm needs a value" "$inspect" --shm --json
# Bad values name the option and its range.
usage_error "--fps wants a whole number from 1 to 1000, not 0" "$produce" --fps 0
usage_error "--rounds wants a whole number from 1 to 1000, not 0" "$bench" --rounds 0
usage_error "--rounds wants a whole number from 1 to 1000, not 'many'" "$bench" --rounds many
usage_error "--interval wants 1 to 3600000" "$inspect" --shm "$tag-x" --interval 0
usage_error "--duration wants a number from 0 to" "$consume" --duration -1
usage_error "unknown section 'bogus'" "$bench" bogus
usage_error "unknown section ''" "$bench" ""
usage_error "give one of --shm NAME, --file PATH or --ivshmem" "$inspect"
usage_error "unexpected argument 'stray'" "$consume" stray

# pane-produce --region-size below the layout: a usage error, and no shm object left behind.
usage_error "--region-size 10 is below the" "$produce" --shm "$tag-small" --region-size 10
[ -e "/dev/shm/$tag-small" ] && fail "--region-size 10 left /dev/shm/$tag-small behind" || pass
# A mapping that fails after the object was created: removed again.
run "$produce" --shm "$tag-huge" --region-size 1000000000000000000 --duration 1
[ "$rc" = 1 ] && pass || fail "a failing --region-size: exit $rc (want 1): $err"
[ -e "/dev/shm/$tag-huge" ] && fail "a failed mapping left /dev/shm/$tag-huge behind" || pass
run "$produce" --file "$work/huge.bin" --region-size 1000000000000000000 --duration 1
[ -e "$work/huge.bin" ] && fail "a failed mapping left $work/huge.bin behind" || pass

# pane-produce --file over a file that is not a Pane region: refused, the file untouched.
printf 'precious data, not a region\n' >"$work/foreign.txt"
cp "$work/foreign.txt" "$work/foreign.orig"
run "$produce" --file "$work/foreign.txt" --size 64x64 --duration 1
if [ "$rc" = 1 ] && grep -q "is not a Pane region" <<<"$err" && grep -q -- "--force" <<<"$err" &&
   cmp -s "$work/foreign.txt" "$work/foreign.orig"; then
  pass
else
  fail "produce --file over a foreign file: exit $rc, $err"
fi
# A new file is fine, and a Pane region may be taken over again; --force overwrites a foreign one.
run "$produce" --file "$work/region.bin" --size 64x64 --fps 10 --duration 1
[ "$rc" = 0 ] && pass || fail "produce --file on a new file: exit $rc: $err"
run "$produce" --file "$work/region.bin" --size 64x64 --fps 10 --duration 1
[ "$rc" = 0 ] && pass || fail "produce --file over its own region: exit $rc: $err"
run "$produce" --file "$work/foreign.txt" --size 64x64 --fps 10 --duration 1 --force
[ "$rc" = 0 ] && pass || fail "produce --file --force: exit $rc: $err"

# pane-inspect: the region it left is valid; a non-Pane file gets its verdict first, no fields.
run "$inspect" --file "$work/region.bin"
[ "$rc" = 0 ] && [ "$(sed -n 2p "$work/out")" = "region: valid" ] && pass || fail "inspect of a valid region: exit $rc: $out"
head -c 65536 /dev/urandom >"$work/random.bin"
run "$inspect" --file "$work/random.bin"
if [ "$rc" = 1 ] && [ "$(sed -n 2p "$work/out")" = "region: INVALID" ] && grep -q "bad magic" <<<"$out" &&
   ! grep -Eq "^ +(epoch|heartbeat|consumers|channel table) " <<<"$out"; then
  pass
else
  fail "inspect of a random file: exit $rc: $out"
fi
run "$inspect" --file "$work/random.bin" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert not d["valid"] and "bad magic" in d["problems"][0]' \
  "$work/out" && pass || fail "inspect --json of a random file: $out"
# pane-consume on it: the attach failure names the failing check.
run "$consume" --file "$work/random.bin" --attach-timeout 0.1
[ "$rc" = 1 ] && grep -q "not a Pane region (bad magic) (magic is 0x" <<<"$err" && pass ||
  fail "consume of a random file: exit $rc: $err"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
