// SPDX-License-Identifier: MIT
// pane-consume's checking threads: the frame reader (each frame read progressively, rows checked
// as the producer publishes them, against the synthetic pattern and its checksum trailer, frame
// order, reuse under our lease) and the cursor reader (every position against its Lissajous path
// for the frame sizes seen, every shape against its pattern), with the error kinds and counters
// they share with the main thread's report. What they check is the pattern's contract
// (pattern.hpp); how they read is the library's consumer API.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <pane/pane.hpp>

#include "pattern.hpp"

namespace pane_tools::consume {

using namespace std::chrono_literals;
namespace pt = pane_tools;
using pane::Clock;
using pane::Deadline;

constexpr auto kChannelWait = 20ms;        // threads look at their stop flag at least this often
constexpr auto kStallAfter = 1s;           // no new row for this long: the frame stalled
constexpr auto kSaveEvery = 500ms;         // --save: copy a verified frame at most this often
constexpr auto kGeometryGrace = 500ms;     // a cursor position may precede its frame geometry
constexpr std::size_t kMaxPending = 4096;  // unexplained positions held for kGeometryGrace

// ---- error kinds ------------------------------------------------------------------------------

enum class Err : std::size_t {
    checksum,         // frame rows differ from what the trailer's checksum covers
    magic,            // the trailer is missing
    serial,           // the trailer names another frame than the descriptor
    geometry,         // the trailer's size differs from the descriptor, or no room for a trailer
    frame_order,      // a frame serial not above the previous one
    reused,           // FrameView::verify: the buffer was reused while we read it
    stalled,          // no new row for kStallAfter
    broken,           // FrameStatus::broken: the producer published an invalid descriptor
    cursor_position,  // a position off the pattern's path (for every frame geometry seen)
    cursor_hidden,    // the pattern's cursor is always visible
    cursor_order,     // a position or shape serial not above the previous one
    shape_mismatch,   // a shape differs from pattern_shape(serial)
    invalid,          // CursorStatus::invalid: the producer published an invalid value
    reattach,         // the producer went away and no producer came back in time
    count
};
constexpr std::size_t kErrCount = static_cast<std::size_t>(Err::count);
constexpr std::array<const char*, kErrCount> kErrNames = {
    "checksum", "magic",           "serial",        "geometry",     "frame order",    "reused",  "stalled",
    "broken",   "cursor position", "cursor hidden", "cursor order", "shape mismatch", "invalid", "re-attach"};
constexpr std::array<const char*, kErrCount> kErrKeys = {
    "checksum", "magic",           "serial",        "geometry",     "frame_order",    "reused",  "stalled",
    "broken",   "cursor_position", "cursor_hidden", "cursor_order", "shape_mismatch", "invalid", "reattach"};

constexpr std::array<const char*, 3> kShapeTypeNames = {"colour", "monochrome", "masked"};

inline std::string_view format_name(std::uint32_t f) {
    static constexpr std::array<std::string_view, 7> names = {"?",       "bgra8", "rgba8", "rgba10",
                                                              "rgba16f", "bgr32", "rgb24"};
    return f < names.size() ? names[f] : "?";
}

// ---- shared state -----------------------------------------------------------------------------

struct SavedFrame {
    bool valid = false;
    pane::FrameDescriptor descriptor{};
    std::vector<std::byte> bytes;  // stride * height from row 0
};

// Counters survive re-attaches. Written by the frame and cursor threads (relaxed: they are
// tallies, read for display), read by the main thread.
struct Stats {
    std::atomic<std::uint64_t> frames{0};  // verified
    std::atomic<std::uint64_t> skipped{0};
    std::atomic<std::uint64_t> cursor_updates{0};
    std::atomic<std::uint64_t> shapes{0};
    std::atomic<std::uint64_t> discarded{0};  // failures seen after the region changed or we were reaped
    std::array<std::atomic<std::uint64_t>, 3> shape_types{};
    std::array<std::atomic<std::uint64_t>, kErrCount> errors{};
    std::atomic<bool> remote_producer{false};  // a frame came from another host: no latency
    std::atomic<bool> frames_broken{false};    // the frame thread stopped until re-attach
    // Width << 32 | height of the latest verified frame of this attachment; 0 before the first.
    std::atomic<std::uint64_t> geometry{0};

    // Latency samples: the frame thread appends under the lock, the main thread moves them out.
    std::mutex latency_lock;
    std::vector<std::uint64_t> latency_pending;

    // --save: written by the frame thread only, read by the main thread after joining it.
    SavedFrame saved;

    void error(Err e) { errors[static_cast<std::size_t>(e)].fetch_add(1, std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t error_total() const {
        std::uint64_t n = 0;
        for (const auto& e : errors) n += e.load(std::memory_order_relaxed);
        return n;
    }
};

inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
inline std::uint64_t get(const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); }

inline std::uint64_t now_ns(Clock::time_point t) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

// Whether this attachment still stands: the region holds the layout we validated and we hold
// our consumer slot. A producer that re-initialises the region rewrites it under our handles
// (and does not always wait for us to leave first), and a producer that reaped us may reuse the
// buffer we lease: what a thread reads then is not a protocol error, and the main thread's next
// tick() restarts us. A thread asks this before it counts an error, and stops once it fails.
class RegionGuard {
public:
    RegionGuard(std::span<const std::byte>, const pane::ConsumerSession& session) : session_(&session) {}
    [[nodiscard]] bool current() const noexcept { return session_->still_current(); }
    // The producer's heartbeat counter (any thread): it does not move while the producer is
    // paused or dead, which is not a protocol error of its frames.
    [[nodiscard]] std::uint64_t producer_heartbeat() const noexcept { return session_->producer_heartbeat(); }

private:
    const pane::ConsumerSession* session_;
};

// Counts an error unless the region changed under the reader; then the failure only counts as
// discarded and the reader should stop (returns false).
inline bool count_error(Stats& stats, const RegionGuard& guard, Err e) {
    if (guard.current()) {
        stats.error(e);
        return true;
    }
    bump(stats.discarded);
    return false;
}

// ---- frame thread -----------------------------------------------------------------------------

class FrameReader {
public:
    FrameReader(pane::FrameConsumer& frames, const pane::AnyWait& wait, const std::atomic<bool>& stop, Stats& stats,
                const RegionGuard& guard, bool save)
        : frames_(frames), wait_(wait), stop_(stop), stats_(stats), guard_(guard), save_(save) {}

    void run() {
        while (!stopping() && guard_.current()) {
            const auto s = frames_.wait_latest(view_, wait_, Deadline::after(kChannelWait));
            const std::uint64_t skipped = frames_.frames_skipped();
            bump(stats_.skipped, skipped - skipped_seen_);
            skipped_seen_ = skipped;
            if (s == pane::FrameStatus::epoch_changed || s == pane::FrameStatus::slot_lost) {
                gone_ = true;  // the main thread's tick() says why and restarts us
                break;
            }
            if (s == pane::FrameStatus::broken) {
                // The descriptor ring stays broken for this epoch: only a re-attach helps.
                if (error(Err::broken)) {
                    stats_.frames_broken.store(true, std::memory_order_relaxed);
                    const pane::FrameDescriptor& d = frames_.broken_descriptor();
                    fmt::print(stderr,
                               "pane-consume: frames channel broken: {} (descriptor: serial {}, buffer {} generation {}, "
                               "{}x{} stride {} format {} rotation {} flags {:#x} damage {})\n",
                               frames_.broken_reason(), d.serial, d.buffer_index, d.buffer_generation, d.width,
                               d.height, d.stride, d.format, d.rotation, d.flags, d.damage_count);
                }
                break;
            }
            if (s == pane::FrameStatus::ok) check();
        }
        if (guard_.current()) frames_.release();  // else the lease word may be another layout's
    }

private:
    [[nodiscard]] bool stopping() const { return stop_.load(std::memory_order_relaxed) || gone_; }
    // Counts `e`, or notes that the attachment no longer stands, which stops the thread.
    bool error(Err e) {
        if (count_error(stats_, guard_, e)) return true;
        gone_ = true;
        return false;
    }

    void check() {
        const pane::FrameDescriptor& d = view_.descriptor();
        if (d.serial <= last_serial_) (void)error(Err::frame_order);
        last_serial_ = d.serial;
        // frame_fits() already checked the format, so this is 3, 4 or 8.
        const std::uint32_t bpp = pane::bytes_per_pixel(static_cast<pane::FrameFormat>(d.format));
        if (!pt::pattern_fits(d.width, d.height, bpp)) {  // no room for a trailer: not our pattern
            (void)error(Err::geometry);
            return;
        }
        const auto row = [this](std::uint32_t y) { return view_.row(y); };
        checker_.begin(d.serial, d.width, d.height, std::size_t{d.width} * bpp);

        // Progressive read: check whatever rows are ready, then wait for the next one.
        std::uint32_t rows = 0;
        auto stall = Deadline::after(kStallAfter);
        std::uint64_t beat_at_progress = guard_.producer_heartbeat();
        while (rows < d.height) {
            const std::uint32_t ready = view_.rows_ready();
            if (ready > rows) {
                checker_.feed(ready, row);
                rows = ready;
                stall = Deadline::after(kStallAfter);
                beat_at_progress = guard_.producer_heartbeat();
                continue;
            }
            if (stopping()) return;  // shutting down mid-frame: neither verified nor an error
            const auto waited = view_.wait_rows(rows + 1, wait_, Deadline::after(kChannelWait));
            if (waited == pane::FrameStatus::epoch_changed || waited == pane::FrameStatus::slot_lost) {
                bump(stats_.discarded);  // the frame ended with the attachment: not verified, not an error
                gone_ = true;
                return;
            }
            if (waited == pane::FrameStatus::timed_out && stall.passed(Clock::now())) {
                // A producer that stopped heartbeating too was paused or died mid-frame: the
                // main thread's tick() deals with that; only a live producer's stall is an error.
                if (guard_.producer_heartbeat() == beat_at_progress) {
                    bump(stats_.discarded);
                    return;
                }
                (void)error(Err::stalled);
                return;
            }
        }
        const pt::FrameCheck result = checker_.finish(row);

        // A copy for --save is taken before verify(), so one verify covers the copy too.
        const auto copy_due = [&] { return !stats_.saved.valid || Clock::now() - last_copy_ >= kSaveEvery; };
        const bool copied = save_ && result == pt::FrameCheck::ok && copy_due();
        if (copied) staging_.assign(view_.bytes().begin(), view_.bytes().end());

        const pane::FrameStatus verified = view_.verify();
        const auto now = Clock::now();
        if (verified == pane::FrameStatus::epoch_changed || verified == pane::FrameStatus::slot_lost) {
            bump(stats_.discarded);  // read under an attachment that no longer stands
            gone_ = true;
            return;
        }
        if (verified != pane::FrameStatus::ok) {  // torn: whatever the checker said is about a mix of two frames
            (void)error(Err::reused);
            return;
        }
        switch (result) {
            case pt::FrameCheck::ok:
                break;
            case pt::FrameCheck::bad_magic:
                (void)error(Err::magic);
                return;
            case pt::FrameCheck::wrong_serial:
                (void)error(Err::serial);
                return;
            case pt::FrameCheck::wrong_geometry:
                (void)error(Err::geometry);
                return;
            case pt::FrameCheck::bad_checksum:
                (void)error(Err::checksum);
                return;
        }
        bump(stats_.frames);
        stats_.geometry.store(std::uint64_t{d.width} << 32 | d.height, std::memory_order_relaxed);
        if (view_.same_host()) {
            const std::uint64_t t = now_ns(now);
            const std::uint64_t latency = t > d.producer_time_ns ? t - d.producer_time_ns : 0;
            const std::lock_guard lock(stats_.latency_lock);
            stats_.latency_pending.push_back(latency);
        } else {
            stats_.remote_producer.store(true, std::memory_order_relaxed);
        }
        if (copied) {
            std::swap(stats_.saved.bytes, staging_);
            stats_.saved.descriptor = d;
            stats_.saved.valid = true;
            last_copy_ = now;
        }
    }

    pane::FrameConsumer& frames_;
    const pane::AnyWait& wait_;
    const std::atomic<bool>& stop_;
    Stats& stats_;
    const RegionGuard& guard_;
    bool save_;
    bool gone_ = false;  // the attachment no longer stands (see RegionGuard): stop
    pane::FrameView view_;
    pt::PatternChecker checker_;
    std::uint64_t last_serial_ = 0;  // serials restart with the producer: per attachment
    std::uint64_t skipped_seen_ = 0;
    std::vector<std::byte> staging_;
    Clock::time_point last_copy_{};
};

// ---- cursor thread ----------------------------------------------------------------------------

// The cursor path depends on the frame size, which the cursor thread learns from the frame
// thread. Across a resize (our window_size message may cause one) positions can arrive for a
// geometry the frame thread has not verified yet, or still for the previous one: a position is
// accepted if it fits any of the last few geometries, and one that fits none is held for
// kGeometryGrace in case a new geometry explains it.
class CursorReader {
public:
    CursorReader(pane::CursorPositionConsumer& positions, pane::CursorShapeConsumer& shapes, const pane::AnyWait& wait,
                 const std::atomic<bool>& stop, Stats& stats, const RegionGuard& guard)
        : positions_(positions), shapes_(shapes), wait_(wait), stop_(stop), stats_(stats), guard_(guard) {}

    void run() {
        pane::CursorPosition pos;
        while (!stop_.load(std::memory_order_relaxed) && !gone_ && guard_.current()) {
            const auto s = positions_.wait_read(pos, wait_, Deadline::after(kChannelWait));
            const auto now = Clock::now();
            observe_geometry(stats_.geometry.load(std::memory_order_relaxed));
            resolve_pending(now);
            if (s == pane::CursorStatus::epoch_changed || s == pane::CursorStatus::slot_lost) {
                gone_ = true;  // the main thread's tick() says why and restarts us
                break;
            }
            if (s == pane::CursorStatus::invalid) error(Err::invalid);
            if (s != pane::CursorStatus::ok) continue;
            bump(stats_.cursor_updates);
            if (pos.serial <= last_serial_) error(Err::cursor_order);
            last_serial_ = pos.serial;
            if (!pos.visible) error(Err::cursor_hidden);
            if (geometry_count_ > 0 && !explained(pos)) {
                if (pending_.size() < kMaxPending) {
                    pending_.push_back({pos, now});
                } else {
                    error(Err::cursor_position);
                }
            }
            if (pos.shape_serial != 0 && pos.shape_serial != shape_serial_) read_shape();
        }
        // Positions past their grace period count; younger ones are not proven wrong.
        if (!gone_) resolve_pending(Clock::now());
    }

private:
    void error(Err e) {
        if (!count_error(stats_, guard_, e)) gone_ = true;
    }

    struct Pending {
        pane::CursorPosition pos;
        Clock::time_point seen;
    };

    void observe_geometry(std::uint64_t g) {
        if (g == 0 || (geometry_count_ > 0 && geometries_[(geometry_count_ - 1) % geometries_.size()] == g)) return;
        geometries_[geometry_count_ % geometries_.size()] = g;
        ++geometry_count_;
    }

    [[nodiscard]] bool explained(const pane::CursorPosition& p) const {
        const std::size_t n = std::min(geometry_count_, geometries_.size());
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint64_t g = geometries_[i];
            const auto want = pt::pattern_position(p.serial, static_cast<std::uint32_t>(g >> 32),
                                                   static_cast<std::uint32_t>(g & 0xffffffffU));
            if (want.x == p.x && want.y == p.y) return true;
        }
        return false;
    }

    void resolve_pending(Clock::time_point now) {
        std::erase_if(pending_, [&](const Pending& p) {
            if (explained(p.pos)) return true;
            if (now - p.seen < kGeometryGrace) return false;
            error(Err::cursor_position);
            return true;
        });
    }

    void read_shape() {
        const auto s = shapes_.try_read(shape_);
        if (s == pane::CursorStatus::epoch_changed || s == pane::CursorStatus::slot_lost) {
            gone_ = true;
            return;
        }
        if (s == pane::CursorStatus::invalid) error(Err::invalid);
        if (s != pane::CursorStatus::ok) return;  // none/unchanged/contended: the next update retries
        const pane::CursorShapeHeader& h = shape_.header;
        if (h.serial <= shape_serial_) error(Err::cursor_order);
        shape_serial_ = h.serial;
        bump(stats_.shapes);
        bump(stats_.shape_types[h.type - 1]);  // try_read validated the type: 1..3
        const pt::PatternShape want = pt::pattern_shape(h.serial);
        const bool same = h.type == static_cast<std::uint32_t>(want.type) && h.width == want.width &&
                          h.height == want.height && h.pitch == want.pitch && h.hotspot_x == want.hotspot_x &&
                          h.hotspot_y == want.hotspot_y && h.data_size == want.data.size() && shape_.data == want.data;
        if (!same) error(Err::shape_mismatch);
    }

    pane::CursorPositionConsumer& positions_;
    pane::CursorShapeConsumer& shapes_;
    const pane::AnyWait& wait_;
    const std::atomic<bool>& stop_;
    Stats& stats_;
    const RegionGuard& guard_;
    bool gone_ = false;  // the attachment no longer stands (see RegionGuard): stop
    pane::CursorShape shape_;
    std::uint64_t last_serial_ = 0;
    std::uint64_t shape_serial_ = 0;
    std::array<std::uint64_t, 4> geometries_{};
    std::size_t geometry_count_ = 0;
    std::deque<Pending> pending_;
};

}  // namespace pane_tools::consume
