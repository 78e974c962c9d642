// SPDX-License-Identifier: MIT
// pane-produce: the synthetic producer. It lays out the display region of display_spec.hpp in a
// POSIX shm object or a file, then publishes content a consumer can verify (pattern.hpp): frames
// at a steady rate, written row by row with progress published every 64 rows; cursor positions
// along a known path and a cycle of cursor shapes, from a second thread; and it receives and
// counts the consumers' control messages. It runs for a set duration or until SIGINT/SIGTERM,
// then closes the session (the region stays in place) and prints a summary table or JSON.
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include <fmt/core.h>

#include <pane/detail/atomic.hpp>
#include <pane/pane.hpp>

#include "cli.hpp"
#include "display_producer.hpp"
#include "display_spec.hpp"
#include "pattern.hpp"
#include "region_source.hpp"
#ifdef PANE_HAVE_X11
#include "x11/producer.hpp"
#endif

using namespace std::chrono_literals;
namespace pt = pane_tools;
using pane::Clock;

namespace {

constexpr const char* kHelp = R"(usage: pane-produce [options]

Creates (or reuses, growing it if needed) a Pane display region and publishes synthetic content
into it until --duration ends or SIGINT/SIGTERM arrives: frames of a verifiable pattern, cursor
positions along a known path and a cycle of cursor shapes. Control messages from consumers are
received and counted. Prints a summary at the end; the region is left in place.
  --shm NAME            POSIX shm object NAME (/dev/shm/NAME)             (default pane)
  --file PATH           a file or device holding the region, instead of --shm
                        (QEMU memory-backend-file, hugetlbfs file, /dev/kvmfr0)
  --ivshmem [ADDR]      inside a Linux guest: the IVSHMEM device's BAR 2, the
                        first device or the one at PCI ADDR (or index N)
  --wc                  with --ivshmem: map the BAR write-combining
  --size WxH            frame size in pixels, up to 16384x16384          (default 1920x1080)
  --format NAME         bgra8 | rgba8 | rgba10 | rgba16f | bgr_32 | rgb_24 (default bgra8)
  --fps N               frames per second, 1..1000                       (default 60)
  --duration SECONDS    run time; 0 runs until SIGINT/SIGTERM             (default 0)
  --buffers N           frame buffers, 3..64                             (default 3)
  --damage N            damage rectangles per frame, tiling the frame top
                        to bottom; 0 publishes full frames, max 64       (default 0)
  --cursor-hz N         cursor position updates per second, 1..100000    (default 1000)
  --shape-period-ms N   publish the next cursor shape every N ms         (default 500)
  --region-size BYTES   bytes to map, at least what the layout needs (the default)
  --force               with --file or --shm: overwrite an existing object that is not a
                        Pane region (refused otherwise; an empty or new one is always fine)
  --source NAME         pattern | x11: what to publish (x11: an X display,
                        see --source x11 --help)                         (default pattern)
  --json                print the summary as one JSON object
  --help                this text
  --version             the Pane library and protocol versions
Exit status: 0 after a clean run, 1 on a setup or publish error (a shm object or file this run
created is removed again), 2 on usage errors.
)";

// Lock-free atomics are async-signal-safe, and the cursor thread reads the flag too.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);
void on_signal(int sig) { g_signal.store(sig, std::memory_order_relaxed); }

struct FormatName {
    std::string_view name;
    pane::FrameFormat format;
};
constexpr std::array<FormatName, 6> kFormats{{{"bgra8", pane::FrameFormat::bgra8},
                                              {"rgba8", pane::FrameFormat::rgba8},
                                              {"rgba10", pane::FrameFormat::rgba10},
                                              {"rgba16f", pane::FrameFormat::rgba16f},
                                              {"bgr_32", pane::FrameFormat::bgr_32},
                                              {"rgb_24", pane::FrameFormat::rgb_24}}};

constexpr std::array<std::string_view, 4> kControlNames{"set_cursor_position", "window_size", "full_frame_request",
                                                        "application"};
constexpr std::array<std::string_view, 3> kShapeNames{"color", "monochrome", "masked_color"};

// A number option within [lo, hi].
std::uint64_t bounded(const pt::Options& opt, const std::string& key, std::uint64_t def, std::uint64_t lo,
                      std::uint64_t hi) {
    return opt.num_in(key, def, lo, hi);
}

pane::FrameFormat parse_format(std::string_view s) {
    for (const auto& f : kFormats) {
        if (f.name == s) return f.format;
    }
    throw pt::UsageError("unknown --format '" + std::string(s) + "'");
}

std::string_view format_name(pane::FrameFormat f) {
    for (const auto& n : kFormats) {
        if (n.format == f) return n.name;
    }
    return "?";
}

using pane_tools::json_string;

std::string mib(std::uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// Moves a steady schedule to its next tick. Up to `backlog` ticks already due are kept (the
// caller runs them back to back); when more are due they are all skipped, not run in a burst,
// keeping the schedule's phase. Returns how many were skipped.
std::uint64_t advance(Clock::time_point& next, Clock::duration period, Clock::time_point now,
                      std::uint64_t backlog = 0) {
    next += period;
    if (next > now) return 0;
    const auto due = static_cast<std::uint64_t>((now - next) / period) + 1;
    if (due <= backlog) return 0;
    next += period * static_cast<Clock::rep>(due);
    return due;
}

// The cursor thread catches up this many missed position ticks: the path's points are a function
// of the serial, so a short scheduling delay should not slow the path down.
constexpr std::uint64_t kCursorBacklog = 8;

// What the cursor thread reports. The atomics are read live by the main thread's status line;
// the rest only after join().
struct CursorStats {
    std::atomic<std::uint64_t> positions{0};
    std::atomic<std::uint64_t> latest_shape{0};  // the serial positions refer to
    std::array<std::uint64_t, 3> shapes_by_type{};
    std::uint64_t skipped_ticks = 0;
    std::atomic<bool> failed{false};  // a shape was refused and the thread stopped
    std::string error;                // why; read after join()
};

// The cursor thread: shape k = b+1, b+2, ... every shape_period, and position serial s =
// b+1, b+2, ... at `hz` (b: the epoch's first serial, detail/epoch_base.hpp), each the pattern
// of its serial, so a consumer can regenerate both.
// \pre the only user of both producers.
void run_cursor(pane::CursorShapeProducer& shapes, pane::CursorPositionProducer& positions, std::uint32_t width,
                std::uint32_t height, std::uint64_t hz, std::chrono::milliseconds shape_period,
                const std::atomic<bool>& stop, CursorStats& stats) {
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(1'000'000'000ULL / hz));
    auto next_position = Clock::now();
    auto next_shape = next_position;
    const std::uint64_t first_position = positions.serial();  // the epoch's base: counts start there
    while (!stop.load(std::memory_order_relaxed) && g_signal.load(std::memory_order_relaxed) == 0) {
        const auto now = Clock::now();
        // Shape first: the first position already names shape 1.
        if (now >= next_shape) {
            const std::uint64_t k = shapes.serial() + 1;
            const pt::PatternShape s = pt::pattern_shape(k);
            std::uint64_t serial = 0;
            const auto status =
                shapes.publish(s.type, s.width, s.height, s.pitch, s.hotspot_x, s.hotspot_y, s.data, &serial);
            if (status != pane::CursorStatus::ok || serial != k) {
                stats.error = fmt::format("cursor shape {} was not published (status {}, serial {})", k,
                                          static_cast<int>(status), serial);
                stats.failed.store(true, std::memory_order_relaxed);
                return;
            }
            ++stats.shapes_by_type[static_cast<std::size_t>(s.type) - 1];
            stats.latest_shape.store(serial, std::memory_order_relaxed);
            (void)advance(next_shape, shape_period, now);
        }
        if (now >= next_position) {
            // publish() numbers the update serial() + 1: the path point must be that serial's.
            const std::uint64_t s = positions.serial() + 1;
            const pt::PatternPoint p = pt::pattern_position(s, width, height);
            positions.publish(p.x, p.y, true, stats.latest_shape.load(std::memory_order_relaxed));
            stats.positions.store(s - first_position, std::memory_order_relaxed);
            stats.skipped_ticks += advance(next_position, period, Clock::now(), kCursorBacklog);
        }
        // Bounded so a slow schedule still notices `stop` promptly.
        std::this_thread::sleep_until(std::min({next_position, next_shape, Clock::now() + 20ms}));
    }
}

// A bounded uniform sample of frame write times, for percentiles over runs of any length.
class Reservoir {
public:
    void add(std::uint64_t v) {
        ++seen_;
        if (samples_.size() < kMax) {
            samples_.push_back(v);
        } else {
            const auto j = std::uniform_int_distribution<std::uint64_t>(0, seen_ - 1)(rng_);
            if (j < kMax) samples_[static_cast<std::size_t>(j)] = v;
        }
    }
    std::vector<std::uint64_t>& samples() { return samples_; }

private:
    static constexpr std::size_t kMax = 1 << 16;
    std::vector<std::uint64_t> samples_;
    std::uint64_t seen_ = 0;
    std::minstd_rand rng_{12345};
};

int run(int argc, char** argv) {
    pt::Options opt(argc, argv, {"json", "help", "wc", "force", "version"}, {"ivshmem"});
    // --source x11: an X display instead of the pattern (tools/x11/, built with -Dx11).
    if (const auto src = opt.str("source", "pattern"); src == "x11") {
#ifdef PANE_HAVE_X11
        std::vector<std::string> known{"source", "fps", "duration", "buffers", "size", "json", "help", "version"};
        known.insert(known.end(), pt::kRegionOptions.begin(), pt::kRegionOptions.end());
        known.insert(known.end(), pt::x11::kX11Options.begin(), pt::x11::kX11Options.end());
        opt.require_known(known);
        if (opt.has("help")) {
            fmt::print("{}", pt::x11::kX11Help);
            return 0;
        }
        if (opt.has("version")) {
            pt::print_version("pane-produce");
            return 0;
        }
        return pt::x11::run_x11_producer(opt);
#else
        throw pt::UsageError("this pane-produce was built without the X11 source (meson option -Dx11)");
#endif
    } else if (src != "pattern") {
        throw pt::UsageError("--source wants pattern or x11, not '" + src + "'");
    }
    opt.require_known({"shm", "file", "ivshmem", "wc", "size", "format", "fps", "duration", "buffers", "damage", "cursor-hz",
                       "shape-period-ms", "region-size", "force", "json", "help", "version", "source"});
    if (!opt.positional().empty()) throw pt::UsageError("unexpected argument '" + opt.positional()[0] + "'");
    if (opt.has("help")) {
        fmt::print("{}", kHelp);
        return 0;
    }
    if (opt.has("version")) {
        pt::print_version("pane-produce");
        return 0;
    }
    const pt::RegionSource source = pt::parse_region_source(opt);
    const auto frame_size = pt::parse_frame_size(opt.str("size", "1920x1080"));
    const std::uint32_t width = frame_size.first;
    const std::uint32_t height = frame_size.second;
    const pane::FrameFormat format = parse_format(opt.str("format", "bgra8"));
    const std::uint32_t bpp = pane::bytes_per_pixel(format);
    const auto fps = bounded(opt, "fps", 60, 1, 1000);
    const auto duration_s = bounded(opt, "duration", 0, 0, 100'000'000);
    const auto buffers =
        static_cast<std::uint32_t>(bounded(opt, "buffers", 3, pane::kMinFrameBuffers, pane::kMaxFrameBuffers));
    const auto damage_count = static_cast<std::uint32_t>(bounded(opt, "damage", 0, 0, pane::kMaxDamageRects));
    const auto cursor_hz = bounded(opt, "cursor-hz", 1000, 1, 100'000);
    const auto shape_period = std::chrono::milliseconds(bounded(opt, "shape-period-ms", 500, 1, 3'600'000));
    const bool json = opt.has("json");
    if (!pt::pattern_fits(width, height, bpp)) {
        throw pt::UsageError(fmt::format(
            "a {}x{} {} frame cannot hold the pattern trailer (height >= 2 and width * {} >= {} bytes needed)", width,
            height, format_name(format), bpp, sizeof(pt::FrameTrailer)));
    }
    if (damage_count > height) throw pt::UsageError("--damage cannot exceed the frame height");

    // The layout: max_bytes_per_pixel is the chosen format's, so buffers hold exactly this size.
    pt::DisplayLayout layout;
    layout.max_width = width;
    layout.max_height = height;
    layout.max_bytes_per_pixel = bpp;
    layout.buffers = buffers;
    const std::uint64_t region_size = opt.num("region-size", 0);  // 0: what the layout needs
    if (const auto plan = pane::plan_region(pt::display_spec(layout)); plan && opt.has("region-size") &&
                                                                       region_size < plan->region_size) {
        throw pt::UsageError(fmt::format("--region-size {} is below the {} bytes this layout needs", region_size,
                                         plan->region_size));
    }
    std::string why;
    auto display = pt::start_display_producer(source, layout, region_size, opt.has("force"), why);
    if (!display) {
        fmt::print(stderr, "pane-produce: {}\n", why);
        return 1;
    }
    fmt::print(stderr, "pane-produce: {}: {} bytes mapped, the layout needs {} bytes ({}); {}x{} {}, {} buffers\n",
               display->mapping.description(), display->mapping.size(), display->layout_bytes,
               mib(display->layout_bytes), width, height, format_name(format), buffers);
    const pane::map::Mapping& mapping = display->mapping;
    pane::ProducerSession& producer = display->session;
    pane::FrameProducer& frames = display->channels.frames;
    pane::ControlReceiver& control = display->channels.control;

    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    // Damage: N horizontal bands covering the frame, top to bottom.
    std::vector<pane::DamageRect> damage(damage_count);
    for (std::uint32_t i = 0; i < damage_count; ++i) {
        const auto y0 = static_cast<std::uint32_t>(std::uint64_t{i} * height / damage_count);
        const auto y1 = static_cast<std::uint32_t>(std::uint64_t{i + 1} * height / damage_count);
        damage[i] = pane::DamageRect{0, y0, width, y1 - y0};
    }

    const pt::PatternWriter pattern(std::size_t{width} * bpp);
    std::atomic<bool> stop_cursor{false};
    CursorStats cursor;
    std::thread cursor_thread(run_cursor, std::ref(display->channels.shapes), std::ref(display->channels.positions),
                              width, height, cursor_hz, shape_period, std::cref(stop_cursor), std::ref(cursor));
    // Stops and joins the cursor thread on every way out of this scope, exceptions included.
    struct CursorJoin {
        std::atomic<bool>& stop;
        std::thread& thread;
        void operator()() {
            stop.store(true, std::memory_order_relaxed);
            if (thread.joinable()) thread.join();
        }
        ~CursorJoin() { (*this)(); }
    } cursor_join{stop_cursor, cursor_thread};

    pt::StatusLine status;
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(1'000'000'000ULL / fps));
    const auto t0 = Clock::now();
    const auto end = duration_s == 0 ? Clock::time_point::max() : t0 + std::chrono::seconds(duration_s);
    auto next_frame = t0;
    auto next_status = t0;
    std::uint64_t late_skipped = 0;
    std::uint64_t last_write_ns = 0;
    Reservoir write_ns;
    bool full_frame_pending = false;  // a consumer asked for one: the next frame carries no damage
    std::string failure;

    std::array<std::uint64_t, 4> control_by_type{};
    pane::ControlWindowSize last_window{};
    pane::ControlCursorPosition last_cursor{};
    bool got_window = false, got_cursor = false;
    std::uint64_t last_live = 0, consumers_seen = 0;
    int peak_live = 0;

    struct Sample {
        Clock::time_point t;
        std::uint64_t frames, positions;
    };
    std::deque<Sample> window{{t0, 0, 0}};

    while (g_signal.load(std::memory_order_relaxed) == 0) {
        auto now = Clock::now();
        if (now >= end || cursor.failed.load(std::memory_order_relaxed)) break;
        // A second producer started with take_over (or racing our start) re-initialised the region.
        if (!producer.owns_region()) {
            failure = "another producer re-initialised the region";
            break;
        }
        producer.tick(now);

        // Bounded per iteration, so a flooding consumer cannot stall the frame schedule.
        pane::ControlMessage msg;
        for (int n = 0; n < 1024 && control.try_receive(msg) == pane::ControlStatus::ok; ++n) {
            ++control_by_type[static_cast<std::size_t>(msg.type) - 1];  // try_receive validated the type
            if (msg.type == pane::ControlType::window_size) {
                last_window = msg.window;
                got_window = true;
            } else if (msg.type == pane::ControlType::set_cursor_position) {
                last_cursor = msg.cursor;
                got_cursor = true;
            } else if (msg.type == pane::ControlType::full_frame_request) {
                full_frame_pending = true;
            }
        }
        const std::uint64_t live = producer.live_consumers();
        consumers_seen += static_cast<std::uint64_t>(std::popcount(live & ~last_live));
        peak_live = std::max(peak_live, std::popcount(live));
        last_live = live;

        if (now >= next_frame) {
            pane::FrameInfo info;
            info.format = format;
            info.width = width;
            info.height = height;
            info.capture_duration_ns = last_write_ns;
            if (damage_count != 0 && !full_frame_pending) {
                info.flags = pane::kFrameDamageValid;
                info.damage = damage;
            }
            pane::FrameWriter writer;
            const auto begun = frames.begin(info, writer);
            if (begun == pane::FrameStatus::ok) {
                full_frame_pending = false;
                const auto w0 = Clock::now();
                pattern.write(
                    writer.descriptor().serial, width, height, [&](std::uint32_t y) { return writer.row(y); },
                    [&](std::uint32_t rows) {
                        if (rows % 64 == 0 || rows == height) writer.rows_ready(rows);
                    });
                writer.finish();
                last_write_ns = static_cast<std::uint64_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - w0).count());
                write_ns.add(last_write_ns);
            } else if (begun != pane::FrameStatus::no_free_buffer) {  // drops are counted by the producer
                failure = fmt::format("frame {} was refused (status {})", frames.frames_published() + 1,
                                      static_cast<int>(begun));
                break;
            }
            late_skipped += advance(next_frame, period, Clock::now());
        }

        now = Clock::now();
        if (now >= next_status) {
            (void)advance(next_status, 250ms, now);
            const std::uint64_t positions = cursor.positions.load(std::memory_order_relaxed);
            window.push_back({now, frames.frames_published(), positions});
            while (window.size() > 2 && now - window[1].t >= 1s) window.pop_front();
            const double span = std::max(seconds_between(window.front().t, now), 1e-9);
            std::string ctl = fmt::format("control {}", control.accepted() + control.rejected());
            if (got_window) ctl += fmt::format(", window {}x{}", last_window.width, last_window.height);
            if (got_cursor) ctl += fmt::format(", pointer {},{}", last_cursor.x, last_cursor.y);
            status.show(
                fmt::format("frames {} | {:.1f} fps | dropped {} | cursor {:.0f}/s | shapes {} | consumers {} | {}",
                            frames.frames_published(),
                            static_cast<double>(frames.frames_published() - window.front().frames) / span,
                            frames.frames_dropped(), static_cast<double>(positions - window.front().positions) / span,
                            cursor.latest_shape.load(std::memory_order_relaxed), std::popcount(live), ctl));
        }
        // Short naps between frames: tick() wants calling several times per heartbeat period.
        std::this_thread::sleep_until(std::min({next_frame, now + 2ms, end}));
    }
    const auto t1 = Clock::now();
    cursor_join();
    producer.close();
    status.done();

    if (failure.empty() && !cursor.error.empty()) failure = cursor.error;
    const int sig = g_signal.load(std::memory_order_relaxed);
    const std::string stopped_by = !failure.empty() ? "error"
                                   : sig == SIGINT  ? "SIGINT"
                                   : sig == SIGTERM ? "SIGTERM"
                                                    : "duration";
    const double seconds = std::max(seconds_between(t0, t1), 1e-9);
    const std::uint64_t published = frames.frames_published();
    const std::uint64_t positions = cursor.positions.load(std::memory_order_relaxed);
    std::uint64_t shapes_total = 0;
    for (auto n : cursor.shapes_by_type) shapes_total += n;
    const pt::Percentiles wp = pt::percentiles(write_ns.samples());
    const auto ms = [](double ns) { return ns / 1e6; };
    const bool ok = failure.empty();

    if (json) {
        fmt::print(
            "{{\"region\":{{\"description\":{},\"mapped_bytes\":{},\"layout_bytes\":{}}},"
            "\"width\":{},\"height\":{},\"format\":\"{}\",\"bytes_per_pixel\":{},\"buffers\":{},\"damage_rects\":{},"
            "\"frames\":{{\"target_fps\":{},\"published\":{},\"average_fps\":{:.2f},\"dropped\":{},\"late_skipped\":{},"
            "\"write_ms\":{{\"p50\":{:.3f},\"p99\":{:.3f},\"max\":{:.3f}}}}},"
            "\"cursor\":{{\"target_hz\":{},\"updates\":{},\"rate_hz\":{:.1f},\"late_skipped\":{},"
            "\"shapes\":{{\"published\":{},\"{}\":{},\"{}\":{},\"{}\":{}}}}},"
            "\"control\":{{\"accepted\":{},\"rejected\":{},\"by_type\":{{\"{}\":{},\"{}\":{},\"{}\":{},\"{}\":{}}}}},"
            "\"consumers\":{{\"seen\":{},\"peak_live\":{},\"reaped\":{}}},"
            "\"duration_s\":{:.3f},\"stopped_by\":\"{}\",\"error\":{},\"ok\":{}}}\n",
            json_string(mapping.description()), mapping.size(), display->layout_bytes, width, height,
            format_name(format),
            bpp, buffers, damage_count, fps, published, static_cast<double>(published) / seconds,
            frames.frames_dropped(), late_skipped, ms(wp.p50), ms(wp.p99), ms(wp.max), cursor_hz, positions,
            static_cast<double>(positions) / seconds, cursor.skipped_ticks, shapes_total, kShapeNames[0],
            cursor.shapes_by_type[0], kShapeNames[1], cursor.shapes_by_type[1], kShapeNames[2],
            cursor.shapes_by_type[2], control.accepted(), control.rejected(), kControlNames[0], control_by_type[0],
            kControlNames[1], control_by_type[1], kControlNames[2], control_by_type[2], kControlNames[3],
            control_by_type[3], consumers_seen, peak_live, producer.reaped_total(), seconds, stopped_by,
            ok ? std::string("null") : json_string(failure), ok);
        return ok ? 0 : 1;
    }
    const auto row = [](std::string_view label, const std::string& value, const std::string& note = {}) {
        fmt::print("  {:<30} {:>14}  {}\n", label, value, note);
    };
    fmt::print("Pane producer (pid {}) on {}: {} mapped, layout {} bytes\n", ::getpid(), mapping.description(),
               mib(mapping.size()), display->layout_bytes);
    fmt::print("  {}x{} {} ({} B/pixel), {} buffers of {}, {}\n\n", width, height, format_name(format), bpp, buffers,
               mib(frames.buffer_size()),
               damage_count == 0 ? std::string("full frames") : fmt::format("{} damage rects per frame", damage_count));
    row("frames published", fmt::format("{}", published), fmt::format("target {} fps", fps));
    row("average fps", fmt::format("{:.2f}", static_cast<double>(published) / seconds));
    row("frames dropped (no buffer)", fmt::format("{}", frames.frames_dropped()));
    row("frame ticks skipped (late)", fmt::format("{}", late_skipped));
    row("frame write p50 / p99 / max", fmt::format("{:.2f} / {:.2f} / {:.2f}", ms(wp.p50), ms(wp.p99), ms(wp.max)),
        "ms");
    row("cursor updates", fmt::format("{}", positions),
        fmt::format("{:.1f} /s (target {} Hz, {} ticks skipped)", static_cast<double>(positions) / seconds, cursor_hz,
                    cursor.skipped_ticks));
    row("cursor shapes", fmt::format("{}", shapes_total),
        fmt::format("{} {}, {} {}, {} {}", kShapeNames[0], cursor.shapes_by_type[0], kShapeNames[1],
                    cursor.shapes_by_type[1], kShapeNames[2], cursor.shapes_by_type[2]));
    row("control accepted", fmt::format("{}", control.accepted()),
        fmt::format("{} {}, {} {}, {} {}, {} {}", kControlNames[0], control_by_type[0], kControlNames[1],
                    control_by_type[1], kControlNames[2], control_by_type[2], kControlNames[3], control_by_type[3]));
    row("control rejected", fmt::format("{}", control.rejected()), "(the receiver counts rejects without a type)");
    if (got_window) row("last window size", fmt::format("{}x{}", last_window.width, last_window.height));
    if (got_cursor) row("last pointer request", fmt::format("{},{}", last_cursor.x, last_cursor.y));
    row("consumers seen", fmt::format("{}", consumers_seen),
        fmt::format("peak {} live, {} reaped", peak_live, producer.reaped_total()));
    row("duration", fmt::format("{:.2f} s", seconds), fmt::format("stopped by {}", stopped_by));
    fmt::print("  result: {}\n", ok ? "OK" : "FAILED: " + failure);
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::invalid_argument& e) {  // pt::UsageError and the option parsers'
        pt::print_usage_error("pane-produce", e.what());
        return 2;
    } catch (const std::exception& e) {
        fmt::print(stderr, "pane-produce: {}\n", e.what());
        return 1;
    }
}
