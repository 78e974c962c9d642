#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Charts from `pane-bench --json`: usage: plot-bench.py BENCH.json OUTDIR
# Writes (for the sections the run measured):
#   throughput.png  messages/s per message size, Pane against every baseline (1 consumer)
#   roundtrip.png   round-trip p50 and p99.9 per size and transport, with the floor
#   wait.png        wake latency (p50, p99, p99.9) and CPU of the waiting side per strategy
#   fanout.png      throughput against the number of consumers
#   frames.png      frame write -> read-all against the copy references (one cell per frame size)
# Needs matplotlib (Debian: apt-get install python3-matplotlib).
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def cells(doc, section):
    return [m for m in doc["measurements"] if m["section"] == section and m["failed_rounds"] < len(m["rounds"])]


def name_of(m):
    if m["transport"].startswith("pane"):
        return f'{m["label"]} {m["policy"]} ({m["wait"]})'
    return m["label"]


def subtitle(doc):
    mach = doc["machine"]
    pin = f'pinned CPUs {mach["parent_cpu"]}/{mach["child_cpu"]}' if mach["pinned"] else "not pinned"
    mode = "quick" if doc["flags"]["quick"] else "full"
    return f'{doc["date"]}, {mach["cpu_model"]}, {mach["online_cpus"]} CPUs, {pin}, {mode}, median of {doc["flags"]["rounds"]} rounds'


def grouped_bars(ax, groups, series, values, log=False):
    """values[series][group] -> number (None: missing)."""
    width = 0.8 / max(1, len(series))
    for i, s in enumerate(series):
        xs = [g + i * width for g in range(len(groups))]
        ys = [values[s].get(grp) or 0 for grp in groups]
        ax.bar(xs, ys, width, label=s)
    ax.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))])
    ax.set_xticklabels(groups)
    if log:
        ax.set_yscale("log")


def plot_throughput(doc, out):
    cs = [m for m in cells(doc, "ring") if m["size"] in (16, 64, 256, 4096) and "batch" not in m["label"]]
    if not cs:
        return
    sizes = sorted({m["size"] for m in cs})
    series = []
    values = {}
    for m in cs:
        n = name_of(m)
        if n not in values:
            series.append(n)
            values[n] = {}
        values[n][f'{m["size"]} B'] = m["median"].get("msgs_per_s", 0) / 1e6
    fig, ax = plt.subplots(figsize=(11, 5))
    grouped_bars(ax, [f"{s} B" for s in sizes], series, values, log=True)
    ax.set_ylabel("million messages/s (log)")
    ax.set_title("Throughput, one consumer, every message checked\n" + subtitle(doc), fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "throughput.png"), dpi=110)
    plt.close(fig)


def plot_roundtrip(doc, out):
    cs = cells(doc, "roundtrip")
    if not cs:
        return
    sizes = sorted({m["size"] for m in cs})
    series = []
    p50 = {}
    p999 = {}
    floor = {}
    for m in cs:
        n = m["label"]
        if n not in p50:
            series.append(n)
            p50[n], p999[n] = {}, {}
        g = f'{m["size"]} B'
        p50[n][g] = m["median"].get("p50_ns", 0) / 1e3
        p999[n][g] = m["median"].get("p999_ns", 0) / 1e3
        floor.setdefault(g, []).append(m["floor_p50_ns"] / 1e3)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    groups = [f"{s} B" for s in sizes]
    for ax, vals, what in ((axes[0], p50, "p50"), (axes[1], p999, "p99.9")):
        grouped_bars(ax, groups, series, vals, log=True)
        fl = [sorted(floor[g])[len(floor[g]) // 2] for g in groups]
        ax.plot([g + 0.4 for g in range(len(groups))], fl, "k_", markersize=40, label="floor (cache-line ping-pong) p50")
        ax.set_ylabel(f"round trip {what}, us (log)")
        ax.set_title(f"Round trip {what}", fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle("Round trip between two pinned processes vs the floor\n" + subtitle(doc), fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "roundtrip.png"), dpi=110)
    plt.close(fig)


def plot_wait(doc, out):
    cs = cells(doc, "wait")
    if not cs:
        return
    rates = sorted({m["rate_hz"] for m in cs}, reverse=True)
    fig, axes = plt.subplots(len(rates), 2, figsize=(12, 4 * len(rates)), squeeze=False)
    for row, rate in enumerate(rates):
        rc = [m for m in cs if m["rate_hz"] == rate]
        names = [m["label"] for m in rc]
        ax = axes[row][0]
        for i, (key, what) in enumerate((("p50_ns", "p50"), ("p99_ns", "p99"), ("p999_ns", "p99.9"))):
            ax.bar([x + i * 0.27 for x in range(len(rc))], [m["median"].get(key, 0) / 1e3 for m in rc], 0.27, label=what)
        ax.set_xticks([x + 0.27 for x in range(len(rc))])
        ax.set_xticklabels(names)
        ax.set_yscale("log")
        ax.set_ylabel("wake latency, us (log)")
        ax.set_title(f"Wake latency at {rate} Hz", fontsize=10)
        ax.legend(fontsize=7)
        ax = axes[row][1]
        ax.bar(names, [m["median"].get("cpu_pct", 0) for m in rc], color="tab:red")
        ax.set_ylabel("waiting side CPU %")
        ax.set_title(f"CPU of the waiting side at {rate} Hz", fontsize=10)
    fig.suptitle("Wait strategies\n" + subtitle(doc), fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "wait.png"), dpi=110)
    plt.close(fig)


def plot_fanout(doc, out):
    cs = [m for m in cells(doc, "fanout") if m["kind"] == "stream"]
    if not cs:
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    for key in sorted({(m["size"], m["policy"]) for m in cs}):
        pts = sorted((m["consumers"], m["median"].get("msgs_per_s", 0) / 1e6) for m in cs if (m["size"], m["policy"]) == key)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{key[0]} B {key[1]}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("consumers (threads on the child's one CPU)")
    ax.set_ylabel("million messages/s published (log)")
    ax.set_title("Fan-out\n" + subtitle(doc), fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "fanout.png"), dpi=110)
    plt.close(fig)


def plot_frames(doc, out):
    cs = cells(doc, "frames")
    if not cs:
        return
    frames = sorted({(m["width"], m["height"]) for m in cs})
    fig, axes = plt.subplots(1, len(frames), figsize=(6 * len(frames), 4.5), squeeze=False)
    for ax, (w, h) in zip(axes[0], frames):
        names, vals = [], []
        for m in cs:
            if (m["width"], m["height"]) != (w, h):
                continue
            for key, what in (("progressive_p50_ns", "pane\nprogressive"), ("whole_p50_ns", "pane\nwhole frame"),
                              ("nt_copy_ns", "NT copy"), ("memcpy_ns", "memcpy"), ("read_ns", "read")):
                names.append(what)
                vals.append(m["median"].get(key, 0) / 1e6)
        ax.bar(names, vals, color=["tab:blue" if n.startswith("pane") else "tab:gray" for n in names])
        ax.set_ylabel("ms per frame (p50)")
        ax.set_title(f"{w}x{h} BGRA: begin() -> every row read", fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle("Frames vs copy references\n" + subtitle(doc), fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "frames.png"), dpi=110)
    plt.close(fig)


def main():
    if len(sys.argv) != 3:
        print("usage: plot-bench.py BENCH.json OUTDIR", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    os.makedirs(sys.argv[2], exist_ok=True)
    for plot in (plot_throughput, plot_roundtrip, plot_wait, plot_fanout, plot_frames):
        plot(doc, sys.argv[2])
    print(f"charts written to {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
