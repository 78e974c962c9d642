// SPDX-License-Identifier: MIT
// Cursor channels. The viewer draws the cursor itself, so pointer motion never waits for a frame:
//   cursor shape     a versioned blob (colour, monochrome, masked colour) that a consumer copies
//                    out whole and validates; a torn copy is detected and retried (bounded).
//   cursor position  a latest-value register (x, y, visible, shape serial, serial) updated at
//                    mouse rate; readers get a consistent snapshot within bounded retries and may
//                    sleep on a futex until it changes.
// Both are seqlocks: seq = 2n+1 while update n+1 is written, 2n+2 once complete. Writer: store
// odd seq, fence release, relaxed word stores, store_release(even seq) (C1). Reader:
// load_acquire(seq) (C1), relaxed word copy, fence acquire, reload seq; equal and even = consistent.
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "detail/atomic.hpp"
#include "detail/bounds.hpp"
#include "detail/channel_context.hpp"
#include "detail/display_geometry.hpp"
#include "detail/epoch_base.hpp"
#include "detail/word_copy.hpp"
#include "display_layout.hpp"
#include "wait.hpp"

namespace pane {

enum class CursorStatus {
    ok,            // a new value was copied out
    unchanged,     // nothing newer than the last value read
    none,          // the producer has not published anything yet
    contended,     // the producer kept writing during the copy; try again
    invalid,       // producer: rejected input; consumer: the published value breaks a rule (counted)
    timed_out,     // blocking wait: nothing new before the deadline
    epoch_changed, // consumer: the producer re-initialised the region: attach again
    slot_lost,     // consumer: our slot was reaped (or detached): attach again
};

namespace detail {

inline constexpr int kSeqlockAttempts = 64;

[[nodiscard]] constexpr CursorStatus cursor_status(Standing s) noexcept {
    return s == Standing::epoch_changed ? CursorStatus::epoch_changed : CursorStatus::slot_lost;
}

// The cursor position register as it sits at CursorPositionControl::x: copied in and out as
// whole 8-byte words on both sides.
struct PositionRegister {
    std::int32_t x, y;
    std::uint32_t visible, reserved;
    std::uint64_t shape_serial, serial;
};
static_assert(sizeof(PositionRegister) ==
              offsetof(CursorPositionControl, reserved1) - offsetof(CursorPositionControl, x));

// The rules a shape must satisfy, on either side (64-bit arithmetic).
[[nodiscard]] inline bool shape_valid(const CursorShapeHeader& h, const CursorShapeGeometry& g) noexcept {
    if (h.type == 0 || h.type > kMaxCursorType) return false;
    if (h.width == 0 || h.height == 0 || h.width > g.max_dimension || h.height > g.max_dimension) return false;
    if (h.hotspot_x >= h.width || h.hotspot_y >= h.height) return false;
    const auto type = static_cast<CursorType>(h.type);
    const std::uint64_t min_pitch = type == CursorType::monochrome ? (std::uint64_t{h.width} + 7) / 8 : std::uint64_t{h.width} * 4;
    if (h.pitch < min_pitch) return false;
    const std::uint64_t planes = type == CursorType::monochrome ? 2 : 1;
    const std::uint64_t size = std::uint64_t{h.pitch} * h.height * planes;
    return size == h.data_size && size <= g.capacity;
}

inline void init_cursor_shape(std::byte* channel, const CursorShapeGeometry& g) noexcept {
    CursorShapeControl fresh{};
    fresh.capacity = g.capacity;
    fresh.max_dimension = g.max_dimension;
    fresh.data_offset = g.data_offset;
    copy_to_shared(channel, reinterpret_cast<const std::byte*>(&fresh), sizeof(fresh));  // seq 0: none yet
}

inline void init_cursor_position(std::byte* channel) noexcept {
    // seq 0: nothing published. Line 1 (sleepers) is the consumers', cleared like init_ring's.
    CursorPositionControl fresh{};
    copy_to_shared(channel, reinterpret_cast<const std::byte*>(&fresh), sizeof(fresh));
}

// Seqlock read of `bytes` bytes at `src` into `dst`; returns the even seq read, or 0 if none
// was ever published, or 1 if every attempt was torn.
[[nodiscard]] inline std::uint64_t seqlock_read(const std::uint64_t& seq, std::byte* dst, const std::byte* src,
                                                std::size_t bytes) noexcept {
    for (int attempt = 0; attempt < kSeqlockAttempts; ++attempt) {
        const std::uint64_t before = load_acquire(seq);  // C1
        if (before == 0) return 0;
        if ((before & 1u) != 0) {
            cpu_relax();
            continue;
        }
        copy_from_shared(dst, src, bytes);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (load_relaxed(seq) == before) return before;
    }
    return 1;
}

struct SeqlockWriter {
    std::uint64_t* seq;
    bool write_combining;
    std::uint64_t next = 0;  // last even value written

    void begin() noexcept {
        store_relaxed(*seq, next + 1);
        std::atomic_thread_fence(std::memory_order_release);
        if (write_combining) write_combining_fence();
    }
    void end() noexcept {
        if (write_combining) write_combining_fence();
        next += 2;
        store_release(*seq, next);  // C1
    }
};

}  // namespace detail

// An owned copy of a cursor shape.
struct CursorShape {
    CursorShapeHeader header{};
    std::vector<std::byte> data;  // header.data_size bytes
};

// \pre only the region's producer, one thread at a time.
class CursorShapeProducer {
public:
    CursorShapeProducer() = default;
    // Our state is private, starting from what init laid out (seq 0); never read back.
    CursorShapeProducer(const detail::ProducerContext& ctx, const detail::CursorShapeGeometry& g) noexcept
        : control_(reinterpret_cast<CursorShapeControl*>(ctx.channel)),
          data_(ctx.channel + g.data_offset),
          geometry_(g),
          writer_{&control_->seq, ctx.write_combining, 0},
          serial_(detail::first_serial(ctx.init_count)) {}

    // Validates and publishes a shape; its serial is returned through `serial`.
    [[nodiscard]] CursorStatus publish(CursorType type, std::uint32_t width, std::uint32_t height, std::uint32_t pitch,
                                       std::uint32_t hotspot_x, std::uint32_t hotspot_y,
                                       std::span<const std::byte> data, std::uint64_t* serial = nullptr) noexcept {
        CursorShapeHeader h{};
        h.serial = serial_ + 1;
        h.type = static_cast<std::uint32_t>(type);
        h.width = width;
        h.height = height;
        h.pitch = pitch;
        h.hotspot_x = hotspot_x;
        h.hotspot_y = hotspot_y;
        h.data_size = static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), UINT32_MAX));
        if (data.size() > UINT32_MAX || !detail::shape_valid(h, geometry_)) return CursorStatus::invalid;
        writer_.begin();
        detail::copy_to_shared(reinterpret_cast<std::byte*>(&control_->header), reinterpret_cast<const std::byte*>(&h),
                               sizeof(h));
        detail::copy_to_shared(data_, data.data(), data.size());
        writer_.end();
        serial_ = h.serial;
        if (serial != nullptr) *serial = serial_;
        return CursorStatus::ok;
    }
    [[nodiscard]] std::uint64_t serial() const noexcept { return serial_; }

private:
    CursorShapeControl* control_ = nullptr;
    std::byte* data_ = nullptr;
    detail::CursorShapeGeometry geometry_{};
    detail::SeqlockWriter writer_{};
    std::uint64_t serial_ = 0;
};

class CursorShapeConsumer {
public:
    CursorShapeConsumer() = default;
    CursorShapeConsumer(const detail::ConsumerContext& ctx, const detail::CursorShapeGeometry& g)
        : control_(reinterpret_cast<const CursorShapeControl*>(ctx.channel)),
          data_(ctx.channel + g.data_offset),
          geometry_(g),
          holder_(ctx.holder),
          scratch_(g.capacity) {}

    // Copies the current shape into `out` if it is newer than the last one read. Every answer
    // is checked against the handle's epoch and slot after the copy (epoch_changed, slot_lost).
    [[nodiscard]] CursorStatus try_read(CursorShape& out) {
        const CursorStatus s = read_once(out);
        if (const auto standing = holder_.check_in(); standing != detail::Standing::current) {
            return detail::cursor_status(standing);
        }
        if (s == CursorStatus::invalid) ++violations_;
        return s;
    }
    [[nodiscard]] std::uint64_t violations() const noexcept { return violations_; }

private:
    // One seqlock read; `out` changes only on ok, which the caller still has to confirm.
    [[nodiscard]] CursorStatus read_once(CursorShape& out) {
        // The header and the data are one seqlock section: copy both, then check.
        CursorShapeHeader staged{};
        for (int attempt = 0; attempt < detail::kSeqlockAttempts; ++attempt) {
            const std::uint64_t before = detail::load_acquire(control_->seq);  // C1
            if (before == 0) return CursorStatus::none;
            if ((before & 1u) != 0) {
                detail::cpu_relax();
                continue;
            }
            if (before == last_seq_) return CursorStatus::unchanged;
            detail::copy_from_shared(reinterpret_cast<std::byte*>(&staged),
                                     reinterpret_cast<const std::byte*>(&control_->header), sizeof(CursorShapeHeader));
            // Copy no more than the capacity whatever the (possibly torn) header says.
            const std::size_t bytes = std::min<std::size_t>(staged.data_size, geometry_.capacity);
            detail::copy_from_shared(scratch_.data(), data_, bytes);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (detail::load_relaxed(control_->seq) != before) continue;  // torn: retry
            last_seq_ = before;
            if (!detail::shape_valid(staged, geometry_)) return CursorStatus::invalid;
            // Staged, not yet handed out: the caller checks our standing first.
            std::atomic_thread_fence(std::memory_order_acquire);
            if (holder_.standing() != detail::Standing::current) return CursorStatus::unchanged;
            out.header = staged;
            out.data.assign(scratch_.begin(), scratch_.begin() + static_cast<std::ptrdiff_t>(bytes));
            return CursorStatus::ok;
        }
        return CursorStatus::contended;
    }

    const CursorShapeControl* control_ = nullptr;
    const std::byte* data_ = nullptr;
    detail::CursorShapeGeometry geometry_{};
    detail::SlotHolder holder_{};
    std::vector<std::byte> scratch_;
    std::uint64_t last_seq_ = 0;
    std::uint64_t violations_ = 0;
};

struct CursorPosition {
    std::int32_t x = 0;
    std::int32_t y = 0;
    bool visible = false;
    std::uint64_t shape_serial = 0;
    std::uint64_t serial = 0;
};

// \pre only the region's producer, one thread at a time.
class CursorPositionProducer {
public:
    CursorPositionProducer() = default;
    // Our state is private, starting from what init laid out (seq 0); never read back.
    explicit CursorPositionProducer(const detail::ProducerContext& ctx) noexcept
        : control_(reinterpret_cast<CursorPositionControl*>(ctx.channel)),
          writer_{&control_->seq, ctx.write_combining, 0},
          serial_(detail::first_serial(ctx.init_count)) {}

    // Wait-free: a seqlock write and, if a consumer sleeps, one wake syscall.
    void publish(std::int32_t x, std::int32_t y, bool visible, std::uint64_t shape_serial) noexcept {
        const detail::PositionRegister r{x, y, visible ? 1u : 0u, 0, shape_serial, ++serial_};
        writer_.begin();
        detail::copy_to_shared(reinterpret_cast<std::byte*>(&control_->x), reinterpret_cast<const std::byte*>(&r),
                               sizeof(r));
        writer_.end();
        detail::wake_sleepers(control_->sleepers, detail::low_word(control_->seq), false);  // ~1 kHz: a full fence is free
    }
    [[nodiscard]] std::uint64_t serial() const noexcept { return serial_; }

private:
    CursorPositionControl* control_ = nullptr;
    detail::SeqlockWriter writer_{};
    std::uint64_t serial_ = 0;
};

class CursorPositionConsumer {
public:
    CursorPositionConsumer() = default;
    explicit CursorPositionConsumer(const detail::ConsumerContext& ctx) noexcept
        : control_(reinterpret_cast<CursorPositionControl*>(ctx.channel)), holder_(ctx.holder), open_flag_(ctx.open_flag) {
        // Clear a bit an earlier holder of our slot may have left announced.
        detail::ConsumerSleeper{&control_->sleepers, &holder_, nullptr}.withdraw();
    }
    // One handle per session (it owns the slot's sleeper bit): move-only; closing it lets the
    // session open the channel again.
    CursorPositionConsumer(CursorPositionConsumer&& o) noexcept { *this = std::move(o); }
    CursorPositionConsumer& operator=(CursorPositionConsumer&& o) noexcept {
        if (this != &o) {
            close();
            control_ = o.control_;
            holder_ = o.holder_;
            open_flag_ = std::exchange(o.open_flag_, nullptr);
            last_seq_ = o.last_seq_;
            violations_ = o.violations_;
            arrivals_ = o.arrivals_;
        }
        return *this;
    }
    CursorPositionConsumer(const CursorPositionConsumer&) = delete;
    CursorPositionConsumer& operator=(const CursorPositionConsumer&) = delete;
    ~CursorPositionConsumer() { close(); }

    // The current position if it changed since the last read. Checked against the handle's
    // epoch and slot after the copy (epoch_changed, slot_lost).
    [[nodiscard]] CursorStatus try_read(CursorPosition& out) noexcept {
        detail::PositionRegister r{};
        const std::uint64_t got = detail::seqlock_read(control_->seq, reinterpret_cast<std::byte*>(&r),
                                                       reinterpret_cast<const std::byte*>(&control_->x), sizeof(r));
        if (const auto s = holder_.check_in(); s != detail::Standing::current) return detail::cursor_status(s);
        if (got == 0) return CursorStatus::none;
        if (got == 1) return CursorStatus::contended;
        if (got == last_seq_) return CursorStatus::unchanged;
        last_seq_ = got;
        if (r.visible > 1) {
            ++violations_;
            return CursorStatus::invalid;
        }
        out = CursorPosition{r.x, r.y, r.visible == 1, r.shape_serial, r.serial};
        return CursorStatus::ok;
    }

    // Waits (futex on the low word of seq, or the strategy's polling) for a change.
    template <class Strategy>
    [[nodiscard]] CursorStatus wait_read(CursorPosition& out, const Strategy& strategy, WaitLimit limit) {
        const Deadline deadline = limit.start(Clock::now());
        for (bool waited = false;; waited = true) {
            const CursorStatus s = try_read(out);
            if (s == CursorStatus::ok) arrivals_.arrived(Clock::now(), waited);
            if (s != CursorStatus::unchanged && s != CursorStatus::none && s != CursorStatus::contended) return s;
            if (deadline.passed(Clock::now())) return CursorStatus::timed_out;
            const detail::ConsumerSleeper sleeper{&control_->sleepers, &holder_, detail::low_word(control_->seq),
                                                  &arrivals_};
            // A complete, new value; a seq stuck odd (a producer that died mid-update) is not
            // ready, so the wait sleeps instead of spinning until the deadline. Each round
            // moves our heartbeat.
            const auto ready = [this] {
                const std::uint64_t seq = detail::load_acquire(control_->seq);
                if ((seq != last_seq_ && (seq & 1u) == 0) || !holder_.holds()) return true;
                holder_.keep_alive();
                return false;
            };
            const WaitStatus w = wait_for(strategy, ready, sleeper, deadline);
            if (w == WaitStatus::timed_out) return CursorStatus::timed_out;
        }
    }
    [[nodiscard]] std::uint64_t violations() const noexcept { return violations_; }

private:
    void close() noexcept {
        if (open_flag_ != nullptr) *std::exchange(open_flag_, nullptr) = 0;
    }

    CursorPositionControl* control_ = nullptr;
    detail::SlotHolder holder_{};
    std::uint8_t* open_flag_ = nullptr;
    std::uint64_t last_seq_ = 0;
    std::uint64_t violations_ = 0;
    ArrivalEstimate arrivals_;  // update rate, for AutoWait when the producer is on another kernel
};

}  // namespace pane
