#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Pane across a real VM boundary: a Debian kernel boots under QEMU (TCG, so no KVM is needed)
# with an IVSHMEM device (ivshmem-plain) whose memory is a /dev/shm file on the host. In the
# guest, the static pane-produce publishes frames, cursor positions and shapes into BAR2; on the
# host, pane-consume maps the same file, verifies everything and sends control messages, which
# the guest producer counts. The guest prints its JSON report on the serial console and powers
# off; this script reads the console log and compares both sides.
# Passes when: the consumer verified frames and cursor updates with 0 errors; it received frames
# at the rate the guest published them (it skipped at most 20 % of the frames published while it
# was attached); and the guest received every control message the consumer sent. Rates and CPU
# use are printed; the cursor rate and the consumer's CPU are checked only when
# PANE_QEMU_EXPECT_CURSOR_HZ=N is set (with PANE_QEMU_MAX_CPU_PERCENT, default 10). Exits 77
# (skip) when QEMU, a static busybox or a kernel package cannot be had, or pane-produce is not
# static (configure with -Dstatic_tools=true).
# usage: qemu_e2e.sh PANE_PRODUCE PANE_CONSUME SMP CACHE_DIR [LOG_DIR]
# LOG_DIR (default /tmp/pane-qemu-logs) keeps each run's console log and both reports in smpN/.
# Environment: PANE_QEMU_CACHE (kernel cache; overrides CACHE_DIR), PANE_QEMU_SECONDS (consumer
# run, default 8), PANE_QEMU_SIZE (1280x720), PANE_QEMU_FPS (60), PANE_QEMU_CURSOR_HZ (1000),
# PANE_QEMU_WAIT (consumer wait strategy; default auto if pane-consume has it, else sleep),
# PANE_QEMU_BACKEND (ivshmem or resource2; default ivshmem if pane-produce has --ivshmem).
set -uo pipefail
t0=${EPOCHREALTIME/./}
produce=$1 consume=$2 smp=$3 cache=${PANE_QEMU_CACHE:-$4} logs=${5:-${TMPDIR:-/tmp}/pane-qemu-logs}/smp$3
here=$(cd "$(dirname "$0")" && pwd)
seconds=${PANE_QEMU_SECONDS:-8}
size=${PANE_QEMU_SIZE:-1280x720}
fps=${PANE_QEMU_FPS:-60}
cursor_hz=${PANE_QEMU_CURSOR_HZ:-1000}
expect_cursor_hz=${PANE_QEMU_EXPECT_CURSOR_HZ:-}
max_cpu=${PANE_QEMU_MAX_CPU_PERCENT:-10}
boot_timeout=120   # seconds from QEMU's start to the producer's start (TCG on a loaded host)
skip() { echo "SKIP: $*"; exit 77; }

qemu=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
busybox=
for b in /bin/busybox /usr/bin/busybox; do
  if [ -x "$b" ] && ! readelf -d "$b" 2>/dev/null | grep -q NEEDED; then busybox=$b; break; fi
done
[ -n "$busybox" ] || skip "no static busybox (apt-get install busybox-static)"
command -v cpio >/dev/null || skip "cpio not found"
readelf -d "$produce" 2>/dev/null | grep -q NEEDED && skip "$produce is dynamically linked: configure with -Dstatic_tools=true"
"$here/fetch-kernel.sh" "$cache"
rc=$?
[ $rc -eq 77 ] && skip "no Debian kernel package could be downloaded"
[ $rc -ne 0 ] && { echo "fetch-kernel.sh failed ($rc)"; echo "test cases: 1 | 0 passed | 1 failed"; exit 1; }

# PVH entry (an uncompressed ELF with the Xen PVH note) when the kernel has it, else the bzImage.
kernel=$cache/bzImage boot_path="bzImage (no PVH entry found)"
if [ -s "$cache/vmlinux" ] && readelf -n "$cache/vmlinux" 2>/dev/null | grep -q 'note type: (0x00000012)'; then
  kernel=$cache/vmlinux boot_path="vmlinux via PVH entry"
fi

accel=tcg
[ "$smp" -gt 1 ] && accel=tcg,thread=multi
# Whatever the built tools offer (help texts read whole: with pipefail, `tool | grep -q` can fail
# when grep stops reading early).
consume_help=$("$consume" --help) produce_help=$("$produce" --help)
wait_strategy=${PANE_QEMU_WAIT:-$(grep -q '\bauto\b' <<<"$consume_help" && echo auto || echo sleep)}
backend=${PANE_QEMU_BACKEND:-$(grep -q -- '--ivshmem' <<<"$produce_help" && echo ivshmem || echo resource2)}
guest_seconds=$((seconds + 4))   # the producer outlives the consumer, which attaches after it starts

# The region: the layout for $size with 3 BGRA buffers, rounded up to a power of two (an
# IVSHMEM BAR is one). 1280x720 needs 11.2 MiB: 16 MiB.
w=${size%x*} h=${size#*x}
need_mb=$(( (w * h * 4 * 3) / 1048576 + 2 ))
region_mb=1
while [ $region_mb -lt $need_mb ]; do region_mb=$((region_mb * 2)); done

mkdir -p "$logs"
rm -f "$logs"/*
shm=/dev/shm/pane-qemu-$$
qemu_pid= consumer_pid=
cleanup() {
  [ -n "$consumer_pid" ] && kill "$consumer_pid" 2>/dev/null && wait "$consumer_pid" 2>/dev/null
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
  rm -f "$shm" "$logs/initramfs.cpio"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$here/make-initramfs.sh" "$busybox" "$produce" "$logs/initramfs.cpio" || { echo "initramfs failed"; exit 1; }
serial=$logs/console.log
# Times in microseconds from bash itself: no process per poll (python3 can take a second to
# start on a loaded host).
now() { echo "${EPOCHREALTIME/./}"; }
elapsed() { local us=$(($2 - $1)); printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000)); }

rm -f "$shm"  # never a stale region from an earlier run with this PID
# Kernel arguments: no_timer_check skips the boot-time IO-APIC timer test, which panics the guest
# ("IO-APIC + timer doesn't work!") when a loaded host delays TCG's timer interrupt; tsc=reliable
# keeps the TSC as the clock source for the same reason.
t_start=$(now)
"$qemu" -accel "$accel" -smp "$smp" -m 256M -nodefaults -display none -no-reboot \
  -serial "file:$serial" -monitor none \
  -kernel "$kernel" -initrd "$logs/initramfs.cpio" \
  -append "console=ttyS0 tsc=reliable no_timer_check quiet panic=-1 pane.seconds=$guest_seconds pane.size=$size pane.fps=$fps pane.cursor_hz=$cursor_hz pane.backend=$backend" \
  -object "memory-backend-file,id=pane,share=on,mem-path=$shm,size=${region_mb}M" \
  -device ivshmem-plain,memdev=pane >"$logs/qemu.log" 2>&1 &
qemu_pid=$!

# Wait for the guest to start the producer.
t_up= t_ready=
while :; do
  if [ -z "$t_up" ] && grep -q PANE-GUEST-UP "$serial" 2>/dev/null; then t_up=$(now); fi
  if grep -q -e PANE-PRODUCER-START -e PANE-GUEST-ERROR "$serial" 2>/dev/null; then t_ready=$(now); break; fi
  if ! kill -0 "$qemu_pid" 2>/dev/null; then break; fi
  if [ $(($(now) - t_start)) -ge $((boot_timeout * 1000000)) ]; then break; fi
  sleep 0.05
done
fail() {
  echo "FAILED: $*"
  echo "--- qemu: $(cat "$logs/qemu.log" 2>/dev/null)"
  echo "--- guest console"; tr -d '\r' <"$serial" 2>/dev/null | tail -n 60
  [ -f "$logs/consume.log" ] && { echo "--- consumer"; cat "$logs/consume.log" "$logs/consume.json" 2>/dev/null; }
  echo "test cases: 1 | 0 passed | 1 failed"
  exit 1
}
if [ -z "$t_ready" ] || grep -q PANE-GUEST-ERROR "$serial"; then
  if grep -q PANE-GUEST-ERROR "$serial"; then fail "the guest reported an error"
  elif kill -0 "$qemu_pid" 2>/dev/null; then fail "the guest did not start the producer within ${boot_timeout} s"
  else fail "QEMU exited before the guest started the producer"; fi
fi
[ -n "$t_up" ] || t_up=$t_ready

# The consumer. Its CPU time is what `times` adds to this shell's reaped children's user and
# system time while we wait for it: nothing else is reaped meanwhile.
times >"$logs/consume.times"
c_start=$(now)
"$consume" --file "$shm" --duration "$seconds" --attach-timeout 60 --wait "$wait_strategy" --json \
  >"$logs/consume.json" 2>"$logs/consume.log" &
consumer_pid=$!
wait "$consumer_pid"
echo $? >"$logs/consume.rc"
times >>"$logs/consume.times"
consumer_pid=
c_end=$(now)

# The guest powers off after its report; give it time (TCG on a loaded host).
for _ in $(seq 1 1200); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$qemu_pid" 2>/dev/null; then fail "the guest did not power off"; fi
wait "$qemu_pid"
qemu_rc=$?
qemu_pid=
t_end=$(now)

tr -d '\r' <"$serial" | sed -n '/^PANE-REPORT-BEGIN/,/^PANE-REPORT-END/p' | sed '1d;$d' >"$logs/produce.json"
[ -s "$logs/produce.json" ] || fail "no producer report on the guest console (qemu exit $qemu_rc)"

python3 - "$logs" "$smp" "$accel" "$boot_path" "$wait_strategy" "$backend" "$region_mb" \
  "$(elapsed "$t_start" "$t_up")" "$(elapsed "$t_start" "$t_ready")" "$(elapsed "$c_start" "$c_end")" \
  "$(elapsed "$t0" "$t_end")" "$expect_cursor_hz" "$max_cpu" <<'PY'
import json, re, sys
(logs, smp, accel, boot_path, wait, backend, region_mb, t_up, t_ready, c_wall, t_total,
 expect_hz, max_cpu) = sys.argv[1:]
prod = json.load(open(f"{logs}/produce.json"))
cons = json.load(open(f"{logs}/consume.json"))
crc = int(open(f"{logs}/consume.rc").read())
console = open(f"{logs}/console.log", errors="replace").read().replace("\r", "")
up = re.search(r"PANE-GUEST-UP uptime=([\d.]+)", console)
start = re.search(r"PANE-PRODUCER-START uptime=([\d.]+)", console)
# `times` before and after: the second line of each is the children's user and system time,
# as XmY.YYYs each.
def secs(t):
    m, s = re.fullmatch(r"(\d+)m([\d.]+)s", t).groups()
    return int(m) * 60 + float(s)
t = open(f"{logs}/consume.times").read().split("\n")
(u0, s0), (u1, s1) = (map(secs, t[1].split()), map(secs, t[3].split()))
user, system = u1 - u0, s1 - s0
cpu = 100.0 * (user + system) / float(c_wall)

pf, cf, pc, cc = prod["frames"], cons["frames"], prod["cursor"], cons["cursor"]
lat = cf["latency_ms"]
latency = (f"p50 {lat['p50']:.2f} / p90 {lat['p90']:.2f} / p99 {lat['p99']:.2f} ms" if lat["available"]
           else lat['reason'])
checks = []
def check(ok, what):
    checks.append((bool(ok), what))
check(prod["ok"], "guest producer ran cleanly")
check(crc == 0 and cons["ok"], f"consumer exit status 0 (was {crc})")
check(cons["error_total"] == 0, f"0 verification errors (were {cons['error_total']})")
check(cf["verified"] > 0 and cc["updates"] > 0, "frames and cursor updates verified")
# The producer's rate varies with the host's load, so the two averages (over different spans) are
# not compared: the consumer must have had at least 80 % of the frames published while it was
# attached, i.e. skipped (never saw) at most 20 % of them.
received = cf["verified"] / max(1, cf["verified"] + cf["skipped"])
check(received >= 0.8, f"frames at the producer's rate: {cf['verified']} verified, {cf['skipped']} skipped "
                       f"({100 * received:.0f} % >= 80 % received)")
sent, got = cons["control"]["sent"], prod["control"]["accepted"]
if cons["restarts"] == 0:
    check(sent > 0 and got == sent and prod["control"]["rejected"] == 0,
          f"guest counted every control message: {got} of {sent}")
    types = cc["shape_types"]
    check(all(n > 0 for n in types.values()), f"every cursor shape type verified ({types})")
else:
    check(got > 0, f"guest counted control messages: {got} (consumer sent {sent}, {cons['restarts']} restarts)")
if expect_hz:
    check(cc["updates_per_s"] >= float(expect_hz), f"cursor updates/s {cc['updates_per_s']:.0f} >= {expect_hz}")
    check(cpu < float(max_cpu), f"consumer CPU {cpu:.1f} % < {max_cpu} %")

print(f"Pane across QEMU: -smp {smp}, -accel {accel}, {boot_path}, {region_mb} MiB ivshmem-plain")
print(f"  guest backend {backend}, consumer wait {wait}")
rows = [
    ("boot: QEMU start to /init", f"{t_up} s" + (f" (guest uptime {up.group(1)} s)" if up else "")),
    ("boot: QEMU start to producer", f"{t_ready} s" + (f" (guest uptime {start.group(1)} s)" if start else "")),
    ("frames published (guest)", f"{pf['published']} at {pf['average_fps']:.1f} fps (target {pf['target_fps']}), "
                                 f"dropped {pf['dropped']}, late {pf['late_skipped']}, write p50 {pf['write_ms']['p50']:.1f} ms"),
    ("frames verified (host)", f"{cf['verified']} at {cf['fps']:.1f} fps, skipped {cf['skipped']}"),
    ("frame latency", latency),
    ("cursor updates (guest)", f"{pc['updates']} at {pc['rate_hz']:.0f}/s (target {pc['target_hz']})"),
    ("cursor updates (host)", f"{cc['updates']} at {cc['updates_per_s']:.0f}/s, {cc['shape_changes']} shapes"),
    ("control messages", f"{sent} sent by the host, {got} counted by the guest {prod['control']['by_type']}"),
    ("consumer CPU", f"{cpu:.1f} % of a core ({user + system:.2f} s over {c_wall} s)"),
    ("consumer restarts", f"{cons['restarts']}"),
    ("test wall time", f"{t_total} s (to the guest's power-off)"),
]
for label, value in rows:
    print(f"  {label:<30} {value}")
for ok, what in checks:
    print(f"  [{'ok' if ok else 'FAIL'}] {what}")
failed = [w for ok, w in checks if not ok]
print(f"QEMU-SUMMARY smp={smp} boot_s={t_ready} fps_guest={pf['average_fps']:.1f} fps_host={cf['fps']:.1f} skipped={cf['skipped']} "
      f"cursor_hz={cc['updates_per_s']:.0f} cpu_pct={cpu:.1f} control={got}/{sent} errors={cons['error_total']} "
      f"wall_s={t_total}")
sys.exit(1 if failed else 0)
PY
rc=$?
[ $rc -eq 0 ] || fail "checks failed (see above)"
echo "test cases: 1 | 1 passed | 0 failed"
