// SPDX-License-Identifier: MIT
// pane-view's two reader threads, without SDL: the frame thread copies each new frame into the
// viewer's own image (32-bit BGRX at frame resolution) as its rows arrive, only the damaged
// rectangles when the frame follows the one shown last (protocol 10.9, "Torn frames"), verifies
// it and then hands the changed rectangles to the render thread; the cursor thread waits on the
// position channel and fetches a new shape when the position names one. Both wait with AutoWait,
// so they sleep on a futex next to the producer and on learned schedules across a VM boundary,
// and each wakes the render thread through `wake` (at most one wake-up pending at a time).
//
// Torn frames (protocol 10.9): rows are copied into the thread's own staging image as they
// arrive; only after verify() says ok are the frame's changed rectangles copied into the
// Picture the render thread shows. A torn frame (reused) never reaches the Picture, and the next
// frame is copied whole. So the Picture always holds exactly the newest verified frame, which is
// what the cursor's XOR pixels and the screenshot are checked against.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include <pane/pane.hpp>

#include "../image_write.hpp"
#include "../x11/damage.hpp"

namespace pane_tools::view {

using pane::Clock;

// What the frame thread gives the render thread. Guarded by `lock`.
struct Picture {
    std::mutex lock;
    std::vector<std::uint32_t> pixels;  // BGRX (0xXXRRGGBB as u32), width * height
    std::uint32_t width = 0, height = 0;
    x11::DamageList dirty;  // to upload: changed in verified frames since the last upload
    bool dirty_all = false;
    bool resized = false;  // the render thread recreates its texture
    pane::FrameDescriptor shown{};  // the newest verified frame
    std::uint64_t frames = 0;       // verified frames, over all attachments
    std::uint64_t torn = 0, stalled = 0, skipped = 0;
    std::deque<double> latency_ms;  // the last samples: capture start to verified copy (same host)
};

// Converts one row of `format` to BGRX.
inline void convert_row(std::uint32_t format, const std::byte* src, std::uint32_t first, std::uint32_t count,
                        std::uint32_t* dst) {
    switch (format) {
        case static_cast<std::uint32_t>(pane::FrameFormat::bgra8):
        case static_cast<std::uint32_t>(pane::FrameFormat::bgr_32):
            std::memcpy(dst + first, src + std::size_t{first} * 4, std::size_t{count} * 4);
            return;
        case static_cast<std::uint32_t>(pane::FrameFormat::rgba8):
            for (std::uint32_t x = first; x < first + count; ++x) {
                const auto* p = reinterpret_cast<const std::uint8_t*>(src) + std::size_t{x} * 4;
                dst[x] = (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
            }
            return;
        default: {
            const std::uint32_t bpp = pane::bytes_per_pixel(static_cast<pane::FrameFormat>(format));
            const auto rgb = to_rgb({src + std::size_t{first} * bpp, std::size_t{count} * bpp}, format, count, 1,
                                    count * bpp);
            if (!rgb) return;
            for (std::uint32_t i = 0; i < count; ++i) {
                const std::uint8_t* p = rgb->rgb.data() + std::size_t{i} * 3;
                dst[first + i] = (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
            }
        }
    }
}

class FrameWorker {
public:
    FrameWorker(pane::FrameConsumer& frames, Picture& picture, std::function<void()> wake,
                const std::atomic<bool>& stop)
        : frames_(frames), picture_(picture), wake_(std::move(wake)), stop_(stop) {}

    // Until stop, or the attachment ends (gone(): the render thread re-attaches).
    void run() {
        pane::FrameView view;
        while (!stop_.load(std::memory_order_relaxed)) {
            const auto s = frames_.wait_latest(view, pane::AutoWait{}, std::chrono::milliseconds(50));
            if (s == pane::FrameStatus::ok) {
                if (!copy(view)) break;
            } else if (s != pane::FrameStatus::timed_out && s != pane::FrameStatus::no_frame &&
                       s != pane::FrameStatus::superseded) {
                break;  // epoch_changed, slot_lost, broken: only a new attachment helps
            }
        }
        gone_.store(true, std::memory_order_relaxed);
        wake_();
    }
    [[nodiscard]] bool gone() const { return gone_.load(std::memory_order_relaxed); }

private:
    // False when the attachment ended.
    bool copy(const pane::FrameView& view) {
        const pane::FrameDescriptor& d = view.descriptor();
        if (d.width != width_ || d.height != height_) {
            width_ = d.width;
            height_ = d.height;
            staging_.assign(std::size_t{d.width} * d.height, 0);
            whole_next_ = true;
        }
        // Damage says what changed since serial - 1: usable only if that is what we hold intact.
        x11::DamageList rects;
        const bool damage = (d.flags & pane::kFrameDamageValid) != 0 && !whole_next_ && d.serial == last_serial_ + 1;
        if (damage) {
            for (std::uint32_t i = 0; i < d.damage_count; ++i) rects.add(d.damage[i]);
        } else {
            rects.add({0, 0, d.width, d.height});
        }
        std::uint32_t done = 0;
        while (done < d.height) {
            std::uint32_t ready = view.rows_ready();
            if (ready <= done) {
                const auto w = view.wait_rows(done + 1, pane::AutoWait{}, std::chrono::seconds(1));
                if (w == pane::FrameStatus::epoch_changed || w == pane::FrameStatus::slot_lost) return false;
                if (w != pane::FrameStatus::ok) {  // no progress for a second: keep showing the last frame
                    const std::lock_guard g(picture_.lock);
                    ++picture_.stalled;
                    whole_next_ = true;
                    return true;
                }
                ready = view.rows_ready();
            }
            for (const auto& r : rects.rects()) {
                const std::uint32_t y0 = std::max(r.y, done), y1 = std::min(r.y + r.height, ready);
                for (std::uint32_t y = y0; y < y1; ++y) {
                    convert_row(d.format, view.row(y), r.x, r.width, staging_.data() + std::size_t{y} * d.width);
                }
            }
            done = ready;
            if (stop_.load(std::memory_order_relaxed)) return true;
        }
        const auto v = view.verify();
        if (v == pane::FrameStatus::epoch_changed || v == pane::FrameStatus::slot_lost) return false;
        std::lock_guard g(picture_.lock);
        if (v != pane::FrameStatus::ok) {  // reused: torn; never announced, the next one goes whole
            ++picture_.torn;
            whole_next_ = true;
            return true;
        }
        whole_next_ = false;
        last_serial_ = d.serial;
        picture_.skipped = frames_.frames_skipped();
        if (picture_.width != d.width || picture_.height != d.height) {
            picture_.width = d.width;
            picture_.height = d.height;
            picture_.pixels.assign(staging_.size(), 0);
            picture_.resized = true;
        }
        for (const auto& r : rects.rects()) {
            for (std::uint32_t y = r.y; y < r.y + r.height; ++y) {
                const std::size_t at = std::size_t{y} * d.width + r.x;
                std::memcpy(picture_.pixels.data() + at, staging_.data() + at, std::size_t{r.width} * 4);
            }
        }
        if (damage) {
            picture_.dirty.add_all(rects);
        } else {
            picture_.dirty_all = true;
        }
        picture_.shown = d;
        ++picture_.frames;
        // The first frame of an attachment may have been captured long before we attached (a
        // still screen's latest frame): no latency sample for it.
        if (view.same_host() && !std::exchange(first_, false)) {
            const auto now = static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
            const std::uint64_t captured = d.producer_time_ns - std::min(d.producer_time_ns, d.capture_duration_ns);
            picture_.latency_ms.push_back(static_cast<double>(now - std::min(now, captured)) / 1e6);
            if (picture_.latency_ms.size() > 600) picture_.latency_ms.pop_front();
        }
        wake_();
        return true;
    }

    pane::FrameConsumer& frames_;
    Picture& picture_;
    std::function<void()> wake_;
    const std::atomic<bool>& stop_;
    std::atomic<bool> gone_{false};
    std::uint64_t last_serial_ = 0;
    bool whole_next_ = true;
    bool first_ = true;
    std::vector<std::uint32_t> staging_;  // the frame being received, BGRX
    std::uint32_t width_ = 0, height_ = 0;
};

// The cursor as the render thread draws it. Guarded by `lock`.
struct CursorState {
    std::mutex lock;
    pane::CursorPosition position{};
    bool have_position = false;
    pane::CursorShape shape{};
    bool have_shape = false;
    std::uint64_t shape_changes = 0, updates = 0;
    bool changed = false;  // since the render thread last looked
};

class CursorWorker {
public:
    CursorWorker(pane::CursorPositionConsumer& positions, pane::CursorShapeConsumer& shapes, CursorState& state,
                 std::function<void()> wake, const std::atomic<bool>& stop)
        : positions_(positions), shapes_(shapes), state_(state), wake_(std::move(wake)), stop_(stop) {}

    void run() {
        pane::CursorPosition p;
        std::uint64_t shape_serial = 0;
        while (!stop_.load(std::memory_order_relaxed)) {
            const auto s = positions_.wait_read(p, pane::AutoWait{}, std::chrono::milliseconds(50));
            if (s == pane::CursorStatus::epoch_changed || s == pane::CursorStatus::slot_lost) break;
            // A shape is read when a position names a newer one, and polled when nothing moves.
            bool new_shape = false;
            pane::CursorShape shape;
            if (s == pane::CursorStatus::timed_out || (s == pane::CursorStatus::ok && p.shape_serial != shape_serial)) {
                const auto r = shapes_.try_read(shape);
                if (r == pane::CursorStatus::epoch_changed || r == pane::CursorStatus::slot_lost) break;
                new_shape = r == pane::CursorStatus::ok;
                if (new_shape) shape_serial = shape.header.serial;
            }
            if (s != pane::CursorStatus::ok && !new_shape) continue;
            {
                std::lock_guard g(state_.lock);
                if (s == pane::CursorStatus::ok) {
                    state_.position = p;
                    state_.have_position = true;
                    ++state_.updates;
                }
                if (new_shape) {
                    state_.shape = std::move(shape);
                    state_.have_shape = true;
                    ++state_.shape_changes;
                }
                state_.changed = true;
            }
            wake_();
        }
        gone_.store(true, std::memory_order_relaxed);
        wake_();
    }
    [[nodiscard]] bool gone() const { return gone_.load(std::memory_order_relaxed); }

private:
    pane::CursorPositionConsumer& positions_;
    pane::CursorShapeConsumer& shapes_;
    CursorState& state_;
    std::function<void()> wake_;
    const std::atomic<bool>& stop_;
    std::atomic<bool> gone_{false};
};

}  // namespace pane_tools::view
