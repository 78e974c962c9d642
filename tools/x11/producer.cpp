// SPDX-License-Identifier: MIT
// `pane-produce --source x11`: publishes an X display into a Pane display region. The main
// thread waits on the X connection and publishes a frame only when the screen changed (DAMAGE),
// at most --fps a second, with the damage rectangles since the previous frame (at most 64), or
// a whole frame without damage for the first frame, after a screen-size change and on a
// consumer's full_frame_request. A frame dropped for want of a free buffer keeps its damage for
// the next one (damage is always relative to the previous *published* frame). It also serves the
// control channel: set_cursor_position warps the X pointer (XTest), window_size is logged. The
// cursor thread publishes the cursor shape on every XFixes cursor change and the pointer
// position, polled at --pointer-hz, whenever it moved.
//
// One copy: the X server writes the screen into a private MIT-SHM (SysV) segment, which
// FrameWriter::copy_rows copies into the frame buffer with streaming stores, publishing rows as
// it goes. (GetImage straight into the frame buffer would need the region's memory attached to
// the X server as a segment, which a SysV segment cannot be; see docs/performance.md.)
#include "producer.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/core.h>

#include <pane/pane.hpp>

#include "../display_producer.hpp"
#include "../display_spec.hpp"
#include "../region_source.hpp"
#include "capture.hpp"

using namespace std::chrono_literals;
using pane::Clock;

namespace pane_tools::x11 {
namespace {

std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);
void on_signal(int sig) { g_signal.store(sig, std::memory_order_relaxed); }

std::uint64_t ns(Clock::duration d) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

struct CursorCounts {
    std::atomic<std::uint64_t> positions{0};
    std::atomic<std::uint64_t> shapes{0};
    std::atomic<bool> failed{false};
    std::string error;  // read after join
};

// The cursor thread: shape on every XFixes cursor change, position whenever it moved (or its
// shape changed), polled at `hz`, or at kIdlePoll once the pointer rested for kIdleAfter.
constexpr auto kIdleAfter = std::chrono::milliseconds(250);
constexpr auto kIdlePoll = std::chrono::milliseconds(8);
void run_cursor(PointerWatcher& watcher, pane::CursorShapeProducer& shapes, pane::CursorPositionProducer& positions,
                std::uint32_t max_dimension, std::uint64_t hz, const std::atomic<bool>& stop, CursorCounts& counts) {
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(1'000'000'000ULL / hz));
    std::uint64_t shape_serial = 0;
    Pointer last{};
    bool published = false;
    auto next = Clock::now();
    auto moved_at = next;
    std::string why;
    while (!stop.load(std::memory_order_relaxed) && g_signal.load(std::memory_order_relaxed) == 0) {
        bool shape_changed = false;
        if (watcher.cursor_changed(why)) {
            if (auto img = watcher.cursor(max_dimension, why)) {
                std::uint64_t serial = 0;
                const auto s = shapes.publish(pane::CursorType::color, img->width, img->height, img->width * 4,
                                              img->hotspot_x, img->hotspot_y, img->bgra, &serial);
                if (s == pane::CursorStatus::ok) {
                    shape_serial = serial;
                    shape_changed = true;
                    counts.shapes.fetch_add(1, std::memory_order_relaxed);
                }
            }
        }
        const auto p = watcher.pointer(why);
        if (!p) {
            counts.error = why;
            counts.failed.store(true, std::memory_order_relaxed);
            return;
        }
        const auto now = Clock::now();
        if (!published || shape_changed || p->x != last.x || p->y != last.y || p->on_screen != last.on_screen) {
            positions.publish(p->x, p->y, p->on_screen, shape_serial);
            counts.positions.fetch_add(1, std::memory_order_relaxed);
            last = *p;
            published = true;
            moved_at = now;
        }
        // Each poll is a round trip that wakes the X server too: a pointer still for a while is
        // polled at kIdlePoll, which delays the first movement after a rest by at most that.
        next += now - moved_at > kIdleAfter ? std::max<Clock::duration>(period, kIdlePoll) : period;
        if (next < now) next = now;  // late: no burst of polls to catch up
        std::this_thread::sleep_until(next);
    }
}

}  // namespace

int run_x11_producer(const Options& opt) {
    const RegionSource source = parse_region_source(opt);
    const std::string display = opt.str("display", "");
    const auto bounded = [&](const std::string& key, std::uint64_t def, std::uint64_t lo, std::uint64_t hi) {
        const auto v = opt.num(key, def);
        if (v < lo || v > hi) throw std::invalid_argument(fmt::format("--{} must be {}..{}", key, lo, hi));
        return v;
    };
    const auto fps = bounded("fps", 60, 1, 1000);
    const auto duration_s = bounded("duration", 0, 0, 100'000'000);
    const auto buffers = static_cast<std::uint32_t>(bounded("buffers", 3, pane::kMinFrameBuffers, pane::kMaxFrameBuffers));
    const auto pointer_hz = bounded("pointer-hz", 1000, 1, 10'000);
    const bool json = opt.has("json");

    std::string why;
    auto grabber = ScreenGrabber::open(display, why);
    if (!grabber) {
        fmt::print(stderr, "pane-produce: {}\n", why);
        return 1;
    }
    auto watcher = PointerWatcher::open(display, why);
    if (!watcher) {
        fmt::print(stderr, "pane-produce: {}\n", why);
        return 1;
    }
    DisplayLayout layout;
    layout.max_width = grabber->size().width;
    layout.max_height = grabber->size().height;
    if (opt.has("size")) std::tie(layout.max_width, layout.max_height) = parse_frame_size(opt.str("size", ""));
    layout.max_bytes_per_pixel = 4;
    layout.buffers = buffers;
    auto running = start_display_producer(source, layout, 0, opt.has("force"), why);
    if (!running) {
        fmt::print(stderr, "pane-produce: {}\n", why);
        return 1;
    }
    const pane::map::Mapping& mapping = running->mapping;
    pane::ProducerSession& producer = running->session;
    DisplayProducers& channels = running->channels;
    pane::FrameProducer& frames = channels.frames;
    pane::ControlReceiver& control = channels.control;
    fmt::print(stderr, "pane-produce: X display '{}' {}x{} into {} (frames up to {}x{}, {} buffers)\n", display,
               grabber->size().width, grabber->size().height, mapping.description(), layout.max_width,
               layout.max_height, buffers);

    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    std::atomic<bool> stop{false};
    CursorCounts cursor;
    std::thread cursor_thread(run_cursor, std::ref(*watcher), std::ref(channels.shapes), std::ref(channels.positions),
                              128u, pointer_hz, std::cref(stop), std::ref(cursor));
    struct Join {
        std::atomic<bool>& stop;
        std::thread& t;
        void operator()() {
            stop.store(true, std::memory_order_relaxed);
            if (t.joinable()) t.join();
        }
        ~Join() { (*this)(); }
    } join{stop, cursor_thread};

    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(1'000'000'000ULL / fps));
    const auto t0 = Clock::now();
    const auto end = duration_s == 0 ? Clock::time_point::max() : t0 + std::chrono::seconds(duration_s);
    auto next_frame = t0;
    DamageList pending;   // changed since the last published frame
    bool full = true;     // the next frame goes out whole, without damage
    std::uint64_t full_frames = 0, damage_frames = 0, rects = 0, grab_failures = 0, warps = 0, window_sizes = 0;
    std::vector<std::uint64_t> grab_ns, copy_ns;
    std::string failure;
    std::array<std::uint64_t, 4> control_by_type{};

    StatusLine status;
    auto next_status = t0;
    while (g_signal.load(std::memory_order_relaxed) == 0) {
        auto now = Clock::now();
        if (now >= end) break;
        if (now >= next_status) {
            next_status = now + 250ms;
            status.show(fmt::format("pane-produce x11: {} frames ({} whole), {} dropped | cursor {} positions, {} shapes | "
                                    "{} warps | consumers {}",
                                    frames.frames_published(), full_frames, frames.frames_dropped(),
                                    cursor.positions.load(std::memory_order_relaxed),
                                    cursor.shapes.load(std::memory_order_relaxed), warps,
                                    std::popcount(producer.live_consumers())));
        }
        if (cursor.failed.load(std::memory_order_relaxed)) {
            failure = cursor.error;
            break;
        }
        if (!producer.owns_region()) {
            failure = "another producer re-initialised the region";
            break;
        }
        producer.tick(now);
        bool resized = false;
        if (!grabber->drain(pending, resized, why)) {
            failure = why;
            break;
        }
        if (resized) {
            fmt::print(stderr, "pane-produce: the X screen is now {}x{}\n", grabber->size().width, grabber->size().height);
            full = true;
        }
        pane::ControlMessage msg;
        for (int n = 0; n < 256 && control.try_receive(msg) == pane::ControlStatus::ok; ++n) {
            ++control_by_type[static_cast<std::size_t>(msg.type) - 1];
            if (msg.type == pane::ControlType::set_cursor_position) {
                grabber->warp(msg.cursor.x, msg.cursor.y);  // frame pixels are root pixels here
                ++warps;
            } else if (msg.type == pane::ControlType::window_size) {
                ++window_sizes;
                if (!json) {
                    fmt::print(stderr, "pane-produce: consumer {} shows the display in a {}x{} window\n", msg.consumer,
                               msg.window.width, msg.window.height);
                }
            } else if (msg.type == pane::ControlType::full_frame_request) {
                full = true;
            }
        }

        if ((full || !pending.empty()) && now >= next_frame) {
            const Size area{std::min(grabber->size().width, layout.max_width),
                            std::min(grabber->size().height, layout.max_height)};
            DamageList after;
            const std::byte* pixels = nullptr;
            std::uint32_t stride = 0;
            const auto g0 = Clock::now();
            if (!grabber->grab(area, pixels, stride, pending, after, why)) {
                ++grab_failures;  // the screen changed size under us: the next round follows it
                pending.add_all(after);
                full = true;
                next_frame = Clock::now() + period;  // and a grab that keeps failing does not spin
                continue;
            }
            const auto g1 = Clock::now();
            DamageList damage;  // pending, clipped to the captured area
            for (const auto& r : pending.rects()) {
                damage.add(r.x, r.y, r.width, r.height, area.width, area.height);
            }
            pane::FrameInfo info;
            info.format = pane::FrameFormat::bgr_32;
            info.width = area.width;
            info.height = area.height;
            info.stride = area.width * 4;
            info.capture_duration_ns = ns(g1 - g0);
            if (!full) {
                info.flags = pane::kFrameDamageValid;
                info.damage = damage.rects();
            }
            pane::FrameWriter writer;
            const auto begun = frames.begin(info, writer);
            if (begun == pane::FrameStatus::ok) {
                (void)writer.copy_rows(0, area.height, pixels, stride);
                writer.finish();
                copy_ns.push_back(ns(Clock::now() - g1));
                grab_ns.push_back(ns(g1 - g0));
                if (full) {
                    ++full_frames;
                } else {
                    ++damage_frames;
                    rects += damage.rects().size();
                }
                full = false;
                pending = std::move(after);
            } else if (begun == pane::FrameStatus::no_free_buffer) {
                pending.add_all(after);  // the next frame's damage is still since the last published one
            } else {
                failure = fmt::format("frame refused (status {})", static_cast<int>(begun));
                break;
            }
            next_frame = std::max(next_frame + period, Clock::now() - period);
            continue;  // events may have piled up during the grab
        }
        // Sleep on the X socket until an event, the next frame slot, or 2 ms (tick, control).
        now = Clock::now();
        auto until = now + 2ms;
        if (!pending.empty() || full) until = std::min(until, next_frame);
        until = std::min(until, end);
        pollfd pfd{grabber->fd(), POLLIN, 0};
        const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
        if (wait_ms > 0) ::poll(&pfd, 1, static_cast<int>(wait_ms));
    }
    const auto t1 = Clock::now();
    join();
    producer.close();
    status.done();

    const int sig = g_signal.load(std::memory_order_relaxed);
    const bool ok = failure.empty();
    const std::string stopped_by = !ok ? "error" : sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "duration";
    const double seconds = std::max(std::chrono::duration<double>(t1 - t0).count(), 1e-9);
    const Percentiles gp = percentiles(grab_ns), cp = percentiles(copy_ns);
    const std::uint64_t published = frames.frames_published();
    if (json) {
        fmt::print("{{\"source\":\"x11\",\"display\":{},\"width\":{},\"height\":{},\"frames\":{{\"published\":{},"
                   "\"full\":{},\"damaged\":{},\"damage_rects\":{},\"dropped\":{},\"grab_ms_p50\":{:.3f},"
                   "\"copy_ms_p50\":{:.3f}}},\"cursor\":{{\"positions\":{},\"shapes\":{}}},\"control\":{{\"accepted\":{},"
                   "\"rejected\":{},\"warps\":{},\"window_sizes\":{}}},\"duration_s\":{:.3f},\"stopped_by\":\"{}\","
                   "\"error\":{},\"ok\":{}}}\n",
                   json_string(display), grabber->size().width, grabber->size().height, published, full_frames,
                   damage_frames, rects, frames.frames_dropped(), gp.p50 / 1e6, cp.p50 / 1e6,
                   cursor.positions.load(), cursor.shapes.load(), control.accepted(), control.rejected(), warps,
                   window_sizes, seconds, stopped_by, ok ? std::string("null") : json_string(failure), ok);
        return ok ? 0 : 1;
    }
    const auto row = [](std::string_view label, const std::string& value, const std::string& note = {}) {
        fmt::print("  {:<30} {:>14}  {}\n", label, value, note);
    };
    fmt::print("Pane X11 producer (pid {}) on {}: display '{}' {}x{}\n\n", ::getpid(), mapping.description(), display,
               grabber->size().width, grabber->size().height);
    row("frames published", fmt::format("{}", published),
        fmt::format("{} whole, {} with damage ({:.1f} rects each)", full_frames, damage_frames,
                    damage_frames == 0 ? 0.0 : static_cast<double>(rects) / static_cast<double>(damage_frames)));
    row("frames dropped (no buffer)", fmt::format("{}", frames.frames_dropped()));
    row("grab p50 / max", fmt::format("{:.2f} / {:.2f}", gp.p50 / 1e6, gp.max / 1e6), "ms (MIT-SHM GetImage)");
    row("copy p50 / max", fmt::format("{:.2f} / {:.2f}", cp.p50 / 1e6, cp.max / 1e6), "ms (into the frame buffer)");
    row("grabs retried (resize)", fmt::format("{}", grab_failures));
    row("cursor positions / shapes", fmt::format("{} / {}", cursor.positions.load(), cursor.shapes.load()));
    row("control accepted / rejected", fmt::format("{} / {}", control.accepted(), control.rejected()),
        fmt::format("{} warps, {} window sizes, {} full-frame requests", warps, window_sizes, control_by_type[2]));
    row("duration", fmt::format("{:.2f} s", seconds), fmt::format("stopped by {}", stopped_by));
    fmt::print("  result: {}\n", ok ? "OK" : "FAILED: " + failure);
    return ok ? 0 : 1;
}

}  // namespace pane_tools::x11
