// SPDX-License-Identifier: MIT
// pane-inspect: prints the live state of a Pane region for debugging: header, channel table,
// consumer slots, for each ring its write position and subscribed cursors, and for the display
// channels their state (frame buffers, leases and newest descriptor; cursor shape and position;
// control rings); once, or refreshed in place with heartbeat and cursor update rates measured on
// our own clock. It is an observer, not a consumer: it never claims a slot and never stores to
// the region. The decoding and every verdict are the library's read-only snapshot
// (pane/inspect.hpp); the report is inspect_report.hpp; this file is the arguments and the loop.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include <fmt/core.h>

#include <pane/inspect.hpp>

#include "cli.hpp"
#include "inspect_report.hpp"
#include "region_source.hpp"

using namespace std::chrono_literals;
namespace pt = pane_tools;
namespace report = pane_tools::inspect_report;
using pane::Clock;

namespace {

constexpr const char* kHelp = R"(usage: pane-inspect (--shm NAME | --file PATH [--size BYTES] | --ivshmem [ADDR]) [options]

Prints the live state of a Pane region: header, channel table, consumer slots, ring cursors and
the display channels (frame buffers, leases and newest descriptor; cursor shape and position;
control rings). It maps the region but never claims a consumer slot and never writes to it.
  --shm NAME       POSIX shm object NAME (/dev/shm/NAME on Linux)
  --file PATH      a file, hugetlbfs file or device (e.g. /dev/kvmfr0) holding the region
  --size BYTES     bytes to map from PATH (needed for devices; default: the file's size)
  --ivshmem [ADDR] inside a Linux guest: the IVSHMEM device's BAR 2 (first device,
                   PCI ADDR or index N)
  --watch          refresh until Ctrl-C, adding heartbeat and cursor update rates and ages
                   (on our clock)
  --interval MS    refresh period with --watch                            (default 500)
  --json           one JSON object; with --watch one object per refresh, one per line
  --help           this text
  --version        the Pane library and protocol versions
Exit status: 0 if the region is valid, 1 if it cannot be mapped or fails validation (with
--watch: as of the last refresh), 2 on usage errors.
)";


volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// Sleeps until `until` or a stop signal, in short steps (sleep_for resumes after EINTR).
void sleep_until_or_stopped(Clock::time_point until) {
    while (g_stop == 0) {
        const auto now = Clock::now();
        if (now >= until) return;
        std::this_thread::sleep_for(std::min<Clock::duration>(until - now, 50ms));
    }
}

void render(const pane::inspect::Snapshot& snap, const report::Source& src, const pane::inspect::Liveness* live,
            std::uint64_t refresh, bool json, std::string& out) {
    if (json) {
        report::render_json(snap, src, live, refresh, out);
    } else {
        report::render_text(snap, src, live, out);
    }
}

int run(int argc, char** argv) {
    pt::Options opt(argc, argv, {"watch", "json", "help", "wc", "version"}, {"ivshmem"});
    opt.require_known({"shm", "file", "size", "ivshmem", "wc", "watch", "interval", "json", "help", "version"});
    if (!opt.positional().empty()) throw pt::UsageError("unexpected argument '" + opt.positional()[0] + "'");
    if (opt.has("help")) {
        fmt::print("{}", kHelp);
        return 0;
    }
    if (opt.has("version")) {
        pt::print_version("pane-inspect");
        return 0;
    }
    if (int{opt.has("shm")} + int{opt.has("file")} + int{opt.has("ivshmem")} != 1) {
        throw pt::UsageError("give one of --shm NAME, --file PATH or --ivshmem [ADDR]");
    }
    if (opt.has("size") && opt.has("shm")) throw pt::UsageError("--size goes with --file or --ivshmem");
    pt::RegionSource source = pt::parse_region_source(opt);
    source.size = opt.num("size", 0);
    const bool json = opt.has("json");
    const bool watch = opt.has("watch");
    const std::uint64_t interval_ms = opt.num("interval", 500);
    if (interval_ms == 0 || interval_ms > 3'600'000) throw pt::UsageError("--interval wants 1 to 3600000 (ms)");
    const auto interval = std::chrono::milliseconds(static_cast<std::int64_t>(interval_ms));

    auto mapping = source.map_existing();
    if (!mapping) {
        fmt::print(stderr, "pane-inspect: cannot map {}: {}\n", source.label(), pane::describe(mapping.error()));
        return 1;
    }
    // The snapshot copies, validates and never writes; a mapping too small for a header, or not
    // 8-aligned, is its verdict too.
    const std::span<const std::byte> region = mapping->bytes();
    const report::Source src{mapping->description(), region.size()};

    if (!watch) {
        const auto snap = pane::inspect::snapshot(region);
        std::string out;
        render(snap, src, nullptr, 0, json, out);
        fmt::print("{}", out);
        return snap.valid() ? 0 : 1;
    }

    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    const bool tty = ::isatty(STDOUT_FILENO) == 1;
    pt::StatusLine status;
    pane::inspect::LivenessTracker tracker;
    bool valid = true;
    auto next = Clock::now();
    for (std::uint64_t refresh = 1; g_stop == 0; ++refresh) {
        const auto snap = pane::inspect::snapshot(region);
        const auto now = Clock::now();
        const auto live = tracker.update(snap, now);
        valid = snap.valid();
        std::string out;
        if (!json && tty) out += "\033[H\033[2J";  // home, clear screen: the refresh replaces the last
        else if (!json && refresh > 1) out += "\n";
        render(snap, src, &live, refresh, json, out);
        status.done();
        fmt::print("{}", out);
        std::fflush(stdout);
        status.show(fmt::format("pane-inspect: refresh {} every {} ms, region {}; Ctrl-C to stop", refresh,
                                interval.count(), valid ? "valid" : "INVALID"));
        next += interval;
        if (next < now) next = now + interval;  // fell behind (slow terminal): do not burst
        sleep_until_or_stopped(next);
    }
    status.done();
    return valid ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::invalid_argument& e) {  // pt::UsageError and parse_region_source's
        pt::print_usage_error("pane-inspect", e.what());
        return 2;
    } catch (const std::exception& e) {
        fmt::print(stderr, "pane-inspect: {}\n", e.what());
        return 1;
    }
}
