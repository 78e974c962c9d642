#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# /init of the QEMU test's initramfs (busybox sh, PID 1). Finds the IVSHMEM device (vendor
# 0x1af4, device 0x1110), runs the static pane-produce on its BAR2 for pane.seconds, prints the
# producer's JSON report between markers on the console (ttyS0) and powers off. qemu_e2e.sh
# reads the console log. Settings come from the kernel command line: pane.seconds=N
# pane.size=WxH pane.fps=N pane.cursor_hz=N pane.backend=ivshmem|resource2.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp

arg() {  # arg NAME DEFAULT: the value of pane.NAME= on the kernel command line
  for word in $(cat /proc/cmdline); do
    case $word in "pane.$1="*) echo "${word#*=}"; return ;; esac
  done
  echo "$2"
}
seconds=$(arg seconds 10)
size=$(arg size 1280x720)
fps=$(arg fps 60)
cursor_hz=$(arg cursor_hz 1000)
backend=$(arg backend resource2)

echo "PANE-GUEST-UP uptime=$(cut -d' ' -f1 /proc/uptime) cpus=$(grep -c ^processor /proc/cpuinfo)"
dev=
for d in /sys/bus/pci/devices/*; do
  if [ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ]; then dev=$d; break; fi
done
if [ -z "$dev" ]; then
  echo "PANE-GUEST-ERROR no IVSHMEM device (1af4:1110) on the PCI bus"
  poweroff -f
fi
addr=${dev##*/}
bar=$(stat -c %s "$dev/resource2")
echo "PANE-GUEST-DEVICE $addr bar2=$bar"

if [ "$backend" = ivshmem ]; then
  target="--ivshmem $addr"
else
  # Until pane-produce maps the device itself: enable it and map BAR2 through sysfs.
  echo 1 >"$dev/enable"
  target="--file $dev/resource2 --region-size $bar"
fi
echo "PANE-PRODUCER-START uptime=$(cut -d' ' -f1 /proc/uptime)"
# shellcheck disable=SC2086
/bin/pane-produce $target --size "$size" --fps "$fps" --cursor-hz "$cursor_hz" --duration "$seconds" \
  --json >/tmp/report.json 2>/tmp/produce.log
rc=$?
echo "PANE-PRODUCER-EXIT $rc"
echo "PANE-PRODUCER-LOG-BEGIN"
cat /tmp/produce.log
echo "PANE-PRODUCER-LOG-END"
echo "PANE-REPORT-BEGIN"
cat /tmp/report.json
echo "PANE-REPORT-END"
poweroff -f
