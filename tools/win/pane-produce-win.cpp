// SPDX-License-Identifier: MIT
// pane-produce-win: pane-produce's core for a Windows guest. It maps the IVSHMEM BAR through the
// virtio-win driver (or, with --memory, an in-process region, so it also runs under wine and in
// CI), lays out the display region, and publishes test-pattern frames, cursor shapes and cursor
// positions for a given time; pane-consume on the host verifies them as it does pane-produce's.
// With --memory an in-process consumer checks everything too (self_check.hpp). Standard library
// and Pane headers only: Boost and fmt are not available to Debian's MinGW.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <pane/map/memory.hpp>
#include <pane/map/windows_ivshmem.hpp>
#include <pane/pane.hpp>

// After Pane's headers, whose windows_ivshmem.hpp includes <windows.h> without min/max macros.
#include <timeapi.h>

#include "../display_spec.hpp"
#include "../pattern.hpp"
#include "self_check.hpp"

namespace {

namespace pt = pane_tools;
using Clock = pane::Clock;
using namespace std::chrono_literals;

constexpr const char* kHelp =
    "usage: pane-produce-win [--device N | --memory] [options]\n"
    "  --device N        IVSHMEM device index (default 0); the region is the whole BAR\n"
    "  --memory          an in-process region with an in-process consumer checking everything\n"
    "  --cache MODE      wc (write-combining, default) or cached: how the driver maps the BAR\n"
    "  --size WxH        frame size (default 1280x720), BGRA8\n"
    "  --fps N           frames per second (default 60)\n"
    "  --cursor-hz N     cursor position updates per second (default 1000)\n"
    "  --duration S      seconds to run (default 5)\n"
    "  --list            print how many IVSHMEM devices the driver presents, and exit\n";

struct Config {
    bool memory = false;
    bool list = false;
    pane::map::WindowsIvshmemOptions device;
    std::uint32_t width = 1280, height = 720;
    std::uint64_t fps = 60, cursor_hz = 1000, duration_s = 5;
};

// A whole-string decimal in [lo, hi], or nullopt.
std::optional<std::uint64_t> number(std::string_view s, std::uint64_t lo, std::uint64_t hi) {
    if (s.empty() || s.size() > 12) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v < lo || v > hi) return std::nullopt;
    return v;
}

// Returns false (after saying why) on any argument it does not understand.
bool parse(int argc, char** argv, Config& cfg) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--memory") {
            cfg.memory = true;
            continue;
        }
        if (arg == "--list") {
            cfg.list = true;
            continue;
        }
        if (arg == "--help") {
            std::fputs(kHelp, stdout);
            std::exit(0);
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "pane-produce-win: %s needs a value\n", argv[i]);
            return false;
        }
        const std::string_view value = argv[++i];
        std::optional<std::uint64_t> n;
        if (arg == "--device" && (n = number(value, 0, 255))) {
            cfg.device.device = static_cast<std::uint32_t>(*n);
        } else if (arg == "--cache" && (value == "wc" || value == "cached")) {
            cfg.device.cache = value == "wc" ? pane::map::WindowsIvshmemCache::write_combining
                                             : pane::map::WindowsIvshmemCache::cached;
        } else if (arg == "--size" && value.find('x') != std::string_view::npos) {
            const auto x = value.find('x');
            const auto w = number(value.substr(0, x), 8, 16384), h = number(value.substr(x + 1), 2, 16384);
            if (!w || !h) {
                std::fprintf(stderr, "pane-produce-win: bad --size\n");
                return false;
            }
            cfg.width = static_cast<std::uint32_t>(*w);
            cfg.height = static_cast<std::uint32_t>(*h);
        } else if (arg == "--fps" && (n = number(value, 1, 1000))) {
            cfg.fps = *n;
        } else if (arg == "--cursor-hz" && (n = number(value, 1, 10000))) {
            cfg.cursor_hz = *n;
        } else if (arg == "--duration" && (n = number(value, 1, 86400))) {
            cfg.duration_s = *n;
        } else {
            std::fprintf(stderr, "pane-produce-win: bad option %s %s\n%s", argv[i - 1], argv[i], kHelp);
            return false;
        }
    }
    return true;
}

// Moves a schedule to its next tick. Up to `backlog` ticks already due are kept (the caller
// runs them back to back, so a late wake-up does not slow the cursor path down); beyond that
// they are skipped, not run in a burst.
void advance(Clock::time_point& next, Clock::duration period, Clock::time_point now, std::int64_t backlog = 0) {
    next += period;
    if (now - next > period * backlog) next = now + period;
}

// The cursor catches up this many missed ticks, as pane-produce's does.
constexpr std::int64_t kCursorBacklog = 8;

// Windows sleeps in timer ticks of 15.6 ms by default, which would cap the cursor far below
// 1 kHz: ask for 1 ms while we run (the setting is per process since Windows 10 2004).
struct TimerResolution {
    TimerResolution() { ok = timeBeginPeriod(1) == TIMERR_NOERROR; }
    ~TimerResolution() {
        if (ok) timeEndPeriod(1);
    }
    TimerResolution(const TimerResolution&) = delete;
    TimerResolution& operator=(const TimerResolution&) = delete;
    bool ok = false;
};

struct Counts {
    std::uint64_t positions = 0, shapes = 0, control = 0;
};

int run(const Config& cfg) {
    if (cfg.list) {
        std::printf("%u IVSHMEM device(s)\n", static_cast<unsigned>(pane::map::windows_ivshmem_devices()));
        return 0;
    }
    constexpr pane::FrameFormat format = pane::FrameFormat::bgra8;
    const std::uint32_t bpp = pane::bytes_per_pixel(format);
    if (!pt::pattern_fits(cfg.width, cfg.height, bpp)) {
        std::fprintf(stderr, "pane-produce-win: the frame is too small for the pattern trailer\n");
        return 2;
    }
    pt::DisplayLayout layout;
    layout.max_width = cfg.width;
    layout.max_height = cfg.height;
    layout.max_bytes_per_pixel = bpp;
    const pane::RegionSpec spec = pt::display_spec(layout);
    const auto plan = pane::plan_region(spec);
    if (!plan) {
        std::fprintf(stderr, "pane-produce-win: cannot lay out the region: %s\n", pane::describe(plan.error()).data());
        return 1;
    }

    auto mapping = cfg.memory ? pane::map::in_process(static_cast<std::size_t>(plan->region_size))
                              : pane::map::windows_ivshmem(0, cfg.device);
    if (!mapping) {
        std::fprintf(stderr, "pane-produce-win: cannot map %s: %s (Windows error %lu)\n",
                     cfg.memory ? "memory" : ("IVSHMEM device " + std::to_string(cfg.device.device)).c_str(),
                     pane::describe(mapping.error()).data(), static_cast<unsigned long>(GetLastError()));
        return 1;
    }
    if (mapping->size() < plan->region_size) {
        std::fprintf(stderr, "pane-produce-win: %s holds %llu bytes, the layout needs %llu: a larger BAR or --size\n",
                     mapping->description().c_str(), static_cast<unsigned long long>(mapping->size()),
                     static_cast<unsigned long long>(plan->region_size));
        return 1;
    }
    std::printf("pane-produce-win: %s, %llu bytes mapped (%s), layout %llu bytes; %ux%u bgra8\n",
                mapping->description().c_str(), static_cast<unsigned long long>(mapping->size()),
                mapping->write_combining() ? "write-combining" : "cached",
                static_cast<unsigned long long>(plan->region_size), cfg.width, cfg.height);

    pane::ProducerOptions popts;
    popts.write_combining = mapping->write_combining();
    auto session = pane::ProducerSession::create(mapping->bytes(), spec, popts);
    if (!session) {
        std::fprintf(stderr, "pane-produce-win: cannot initialise the region: %s\n",
                     pane::describe(session.error()).data());
        return 1;
    }
    pane::ProducerSession& producer = session.value();
    std::string why;
    auto display = pt::open_display_producers(producer, why);
    if (!display) {
        std::fprintf(stderr, "pane-produce-win: %s\n", why.c_str());
        return 1;
    }

    // The in-process consumer starts after the region is laid out, and stops before it closes.
    std::atomic<bool> stop{false};
    pane_win::SelfCheckResult check;
    std::thread checker;
    if (cfg.memory) {
        checker = std::thread(pane_win::run_self_check, mapping->bytes(), cfg.width, cfg.height, bpp, std::cref(stop),
                              std::ref(check));
    }

    // One thread publishes everything: frames at --fps, positions at --cursor-hz, a new shape
    // every half second. Position serial s shows the pattern's point s (publish numbers it
    // serial() + 1), so any consumer can regenerate it.
    const pt::PatternWriter pattern(std::size_t{cfg.width} * bpp);
    const auto frame_period = std::chrono::duration_cast<Clock::duration>(1s) / static_cast<Clock::rep>(cfg.fps);
    const auto cursor_period = std::chrono::duration_cast<Clock::duration>(1s) / static_cast<Clock::rep>(cfg.cursor_hz);
    const TimerResolution timer;
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::seconds(cfg.duration_s);
    auto next_frame = t0, next_position = t0, next_shape = t0;
    Counts counts;
    std::string failure;
    while (failure.empty()) {
        auto now = Clock::now();
        if (now >= end) break;
        producer.tick(now);
        pane::ControlMessage msg;
        while (display->control.try_receive(msg) == pane::ControlStatus::ok) ++counts.control;
        if (now >= next_shape) {
            const pt::PatternShape s = pt::pattern_shape(display->shapes.serial() + 1);
            if (display->shapes.publish(s.type, s.width, s.height, s.pitch, s.hotspot_x, s.hotspot_y, s.data) !=
                pane::CursorStatus::ok) {
                failure = "a cursor shape was refused";
            }
            ++counts.shapes;
            advance(next_shape, 500ms, now);
        }
        while (now >= next_position) {
            const pt::PatternPoint p = pt::pattern_position(display->positions.serial() + 1, cfg.width, cfg.height);
            display->positions.publish(p.x, p.y, true, display->shapes.serial());
            ++counts.positions;
            advance(next_position, cursor_period, now, kCursorBacklog);
        }
        if (now >= next_frame) {
            pane::FrameInfo info;
            info.format = format;
            info.width = cfg.width;
            info.height = cfg.height;
            pane::FrameWriter writer;
            const auto begun = display->frames.begin(info, writer);
            if (begun == pane::FrameStatus::ok) {
                pattern.write(
                    writer.descriptor().serial, cfg.width, cfg.height, [&](std::uint32_t y) { return writer.row(y); },
                    [&](std::uint32_t rows) {
                        if (rows % 64 == 0 || rows == cfg.height) writer.rows_ready(rows);
                    });
                writer.finish();
            } else if (begun != pane::FrameStatus::no_free_buffer) {  // a drop is counted by the producer
                failure = "a frame was refused (status " + std::to_string(static_cast<int>(begun)) + ")";
            }
            advance(next_frame, frame_period, Clock::now());
        }
        now = Clock::now();
        // Short naps: tick() wants calling several times per heartbeat period (10 ms).
        std::this_thread::sleep_until(std::min({next_frame, next_position, next_shape, now + 2ms, end}));
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    stop.store(true, std::memory_order_relaxed);
    if (checker.joinable()) checker.join();
    producer.close();

    std::printf("  frames published     %llu (%.1f /s), dropped %llu\n",
                static_cast<unsigned long long>(display->frames.frames_published()),
                static_cast<double>(display->frames.frames_published()) / seconds,
                static_cast<unsigned long long>(display->frames.frames_dropped()));
    std::printf("  cursor positions     %llu (%.1f /s), shapes %llu\n",
                static_cast<unsigned long long>(counts.positions), static_cast<double>(counts.positions) / seconds,
                static_cast<unsigned long long>(counts.shapes));
    std::printf("  control messages     %llu\n", static_cast<unsigned long long>(counts.control));
    if (cfg.memory) {
        std::printf(
            "  self-check           %llu frames verified, %llu torn, %llu positions verified, %llu errors\n",
            static_cast<unsigned long long>(check.frames_verified), static_cast<unsigned long long>(check.frames_torn),
            static_cast<unsigned long long>(check.positions_verified), static_cast<unsigned long long>(check.errors));
        if (failure.empty() && check.errors != 0) failure = "self-check: " + check.first_error;
        // A consumer that verified nothing checked nothing: the run proves no more than a build.
        if (failure.empty() && (check.frames_verified == 0 || check.positions_verified == 0)) {
            failure = "self-check verified no frame or no cursor position";
        }
    }
    std::printf("  result: %s\n", failure.empty() ? "OK" : ("FAILED: " + failure).c_str());
    return failure.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    Config cfg;
    if (!parse(argc, argv, cfg)) return 2;
    return run(cfg);
}
