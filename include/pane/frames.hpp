// SPDX-License-Identifier: MIT
// The frame channel: a pool of page-aligned frame buffers, a descriptor ring (overwrite policy),
// per-buffer progress and generation, and one lease per consumer.
//
// Producer: begin() takes a free buffer (never the latest frame's, never one a live consumer
// has leased), bumps its generation and publishes the frame's descriptor at once; then it writes
// rows straight into the buffer and advances rows_ready, so a consumer can read rows before the
// frame is complete (progressive read: hides one whole copy of latency).
// Consumer: acquire_latest() skips to the newest descriptor (counting what it skipped), leases
// the buffer, and reads rows as rows_ready covers them; verify() tells whether the buffer was
// reused under it (a torn frame is never shown without the consumer knowing).
//
// Buffer reuse handshake (Dekker; both sides store, fence seq_cst, then load):
//   producer: reuse_intent[b] = g; fence; if any holder's lease == (g, b): intent = 0, try next
//             else generation[b] = g + 1 (the buffer is taken)
//   consumer: lease = (g, b); fence; if generation[b] != g or reuse_intent[b] == g: drop the
//             lease (superseded) else the buffer is ours until we change the lease
// Either the producer sees the lease, or the consumer sees the intent or the new generation.
//
// Lease revocation (protocol 1.4): when no buffer but the latest is free, the producer may take a
// leased buffer anyway, once it has found that buffer's frame leased for longer than its limit
// (ProducerOptions::frame_lease_limit, on its own clock, from the first begin() that found it
// leased). It does so through the same steps as an ordinary reuse (intent, generation bump with
// release, intent cleared, release fence before any pixel), so the holder's verify() answers
// `reused`: verify's guarantee rests on the generation seqlock (F2 and the fence pairing), never
// on the lease, which only keeps a buffer from being reused in the first place. A lease stored
// in the very instant of the revocation, after the holder read the intent still clear, is thus
// "successful" and dies at once; its verify says so. The clock is per buffer, not per slot: a
// consumer with several slots moving one lease from slot to slot cannot restart it.
//
// Memory ordering: F1 producer store_release(rows_ready) after the rows' bytes <-> consumer
// load_acquire(rows_ready) before reading those rows. F2 producer store_release(generation)
// <-> consumer load_acquire(generation) in the lease check and in verify().
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "detail/atomic.hpp"
#include "detail/channel_context.hpp"
#include "detail/display_geometry.hpp"
#include "detail/epoch_base.hpp"
#include "detail/host_id.hpp"
#include "detail/schedule_point.hpp"
#include "detail/word_copy.hpp"
#include "display_layout.hpp"
#include "ring.hpp"
#include "stream_copy.hpp"
#include "wait.hpp"

namespace pane {

enum class FrameStatus {
    ok,
    invalid_frame,   // producer: the FrameInfo breaks a rule (format, size, stride, damage, ...)
    no_free_buffer,  // producer: every buffer is the latest or leased; the frame is dropped
    no_frame,        // consumer: no frame newer than the last one acquired
    superseded,      // consumer: the producer was already reusing that buffer; try again
    reused,          // consumer: the buffer was reused while we read it: the frame is torn
    timed_out,       // consumer: nothing new before the deadline
    broken,          // consumer: the producer published an invalid descriptor (counted)
    epoch_changed,   // consumer: the producer re-initialised the region: attach again
    slot_lost,       // consumer: our slot was reaped (or detached): attach again
};

// What FrameWriter::copy_rows did. Every refusal writes nothing.
enum class RowCopyStatus {
    ok,                 // the rows were copied; progress published as far as it is contiguous (see copy_rows)
    no_frame,           // the writer holds no frame (default-constructed, or its begin() failed)
    out_of_range,       // first_row + rows > height, a source stride below the row's bytes, or no source
    already_published,  // first_row is below the published progress: those rows are promised complete
};

namespace detail {
[[nodiscard]] constexpr FrameStatus frame_status(Standing s) noexcept {
    return s == Standing::epoch_changed ? FrameStatus::epoch_changed : FrameStatus::slot_lost;
}

}  // namespace detail

// What a producer says about the frame it is about to write.
struct FrameInfo {
    FrameFormat format = FrameFormat::bgra8;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::uint32_t stride = 0;  // 0: width * bytes_per_pixel
    std::uint32_t rotation = 0;
    std::uint32_t flags = 0;
    std::span<const DamageRect> damage{};
    HdrMetadata hdr{};
    std::uint64_t capture_duration_ns = 0;
};

namespace detail {

struct FrameView0 {
    FrameControl* control;
    FrameBufferState* states;
    FrameLease* leases;
    std::byte* buffers;
    FrameGeometry geometry;
    RingView ring;
};

[[nodiscard]] inline FrameView0 frame_view(std::byte* channel, const FrameGeometry& g, std::uint32_t flags) noexcept {
    FrameView0 v{};
    v.control = reinterpret_cast<FrameControl*>(channel);
    v.states = reinterpret_cast<FrameBufferState*>(channel + g.states_offset);
    v.leases = reinterpret_cast<FrameLease*>(channel + g.leases_offset);
    v.buffers = channel + g.buffers_offset;
    v.geometry = g;
    v.ring = ring_view_at(channel + g.ring_offset, g.ring, RingPolicy::overwrite, flags);
    return v;
}

// The checks a frame must pass, on either side: geometry inside the buffer (64-bit arithmetic),
// enums in range, damage inside the frame.
[[nodiscard]] inline bool frame_fits(const FrameDescriptor& d, const FrameGeometry& g) noexcept {
    if (d.format == 0 || d.format > kMaxFrameFormat) return false;
    const std::uint64_t bpp = bytes_per_pixel(static_cast<FrameFormat>(d.format));
    if (bpp > g.max_bytes_per_pixel) return false;
    if (d.width == 0 || d.height == 0 || d.width > g.max_width || d.height > g.max_height) return false;
    if (std::uint64_t{d.stride} < std::uint64_t{d.width} * bpp) return false;
    if (std::uint64_t{d.stride} * d.height > g.buffer_size) return false;
    if (d.rotation > 3 || (d.flags & ~kFrameFlagsKnown) != 0 || d.damage_count > kMaxDamageRects) return false;
    for (std::uint32_t i = 0; i < d.damage_count; ++i) {
        const DamageRect& r = d.damage[i];
        if (std::uint64_t{r.x} + r.width > d.width || std::uint64_t{r.y} + r.height > d.height) return false;
    }
    return true;
}

inline void init_frames(std::byte* channel, const FrameGeometry& g, std::uint32_t flags, std::uint64_t init_count) noexcept {
    FrameControl fresh{};
    fresh.buffer_count = g.buffer_count;
    fresh.max_width = g.max_width;
    fresh.max_height = g.max_height;
    fresh.max_bytes_per_pixel = g.max_bytes_per_pixel;
    fresh.buffer_size = g.buffer_size;
    fresh.buffers_offset = g.buffers_offset;
    fresh.states_offset = g.states_offset;
    fresh.leases_offset = g.leases_offset;
    fresh.ring_offset = g.ring_offset;
    fresh.ring_size = g.ring_size;
    fresh.cursor_count = g.cursor_count;
    fresh.ring_capacity = g.ring_capacity;
    fresh.host_id = host_id();
    copy_to_shared(channel, reinterpret_cast<const std::byte*>(&fresh), sizeof(fresh));
    const FrameView0 v = frame_view(channel, g, flags);
    for (std::uint32_t b = 0; b < g.buffer_count; ++b) {
        FrameBufferState state{};
        state.generation = first_generation(init_count);  // nonzero: a lease of 0 means "none"
        copy_to_shared(reinterpret_cast<std::byte*>(&v.states[b]), reinterpret_cast<const std::byte*>(&state),
                       sizeof(state));
    }
    zero_shared(reinterpret_cast<std::byte*>(v.leases), std::uint64_t{g.cursor_count} * sizeof(FrameLease));  // see init_ring
    init_ring(v.ring, 0, flags);
}

}  // namespace detail

// The frame being written. Rows may be written in any order, but rows_ready(n) promises rows
// [0, n) are complete. \pre the producer's thread.
class FrameWriter {
public:
    FrameWriter() = default;

    [[nodiscard]] const FrameDescriptor& descriptor() const noexcept { return descriptor_; }
    [[nodiscard]] std::span<std::byte> bytes() const noexcept { return bytes_; }
    [[nodiscard]] std::byte* row(std::uint32_t y) const noexcept { return bytes_.data() + std::size_t{y} * descriptor_.stride; }

    // Publishes progress: rows [0, n) are written. n is clamped to the height; never decreases.
    void rows_ready(std::uint32_t n) noexcept {
        n = std::min(n, descriptor_.height);
        if (state_ == nullptr || n <= published_rows_) return;
        if (write_combining_) detail::write_combining_fence();
        published_rows_ = n;
        detail::store_release(state_->rows_ready, n);  // F1
        // Readers waiting for rows announce themselves in the descriptor ring's sleepers word.
        detail::wake_sleepers(*sleepers_, &state_->rows_ready, false);  // a few per frame: a full fence is free
    }
    void finish() noexcept { rows_ready(descriptor_.height); }

    // Copies rows [first_row, first_row + rows) of the frame from a private buffer (row y of the
    // copy at src + (y - first_row) * src_stride; src_stride 0 means packed, width * bpp) with
    // streaming stores (stream_copy.hpp), width * bpp bytes per row; the frame's row padding is
    // left alone. Nothing is written unless the whole range fits the frame (out_of_range) and
    // starts at or after the published progress (already_published: consumers may be reading
    // those rows as complete). rows == 0 is ok and writes nothing.
    //
    // Progress: when first_row equals the published progress (the rows above are complete),
    // rows_ready advances after every kCopyPublishBytes copied, so a consumer reading
    // progressively trails the copy by one chunk; the last chunk is published before returning.
    // When first_row is beyond the published progress, nothing is published: copy_rows cannot
    // know that the rows in between were written; the caller publishes with rows_ready(n) once
    // they are. (Rows [0, n) complete is the only progress the protocol can express, 10.8 step 6.)
    [[nodiscard]] RowCopyStatus copy_rows(std::uint32_t first_row, std::uint32_t rows, const std::byte* src,
                                          std::size_t src_stride) noexcept {
        if (state_ == nullptr) return RowCopyStatus::no_frame;
        if (rows == 0) return RowCopyStatus::ok;
        const std::size_t row_bytes = std::size_t{descriptor_.width} * bytes_per_pixel(static_cast<FrameFormat>(descriptor_.format));
        if (src_stride == 0) src_stride = row_bytes;
        if (src == nullptr || src_stride < row_bytes || std::uint64_t{first_row} + rows > descriptor_.height) {
            return RowCopyStatus::out_of_range;
        }
        if (first_row < published_rows_) return RowCopyStatus::already_published;
        const bool publish = first_row == published_rows_;
        const std::uint32_t chunk = static_cast<std::uint32_t>(std::max<std::size_t>(1, kCopyPublishBytes / row_bytes));
        for (std::uint32_t done = 0; done < rows;) {
            const std::uint32_t n = std::min(chunk, rows - done);
            // Ends with a store fence when it streamed: the rows are ordered before F1 in rows_ready.
            stream_copy_rows(row(first_row + done), descriptor_.stride, src + std::size_t{done} * src_stride, src_stride,
                             row_bytes, n);
            done += n;
            if (publish) rows_ready(first_row + done);
        }
        return RowCopyStatus::ok;
    }
    // How much copy_rows copies between two publishes of progress. Each publish costs a seq_cst
    // fence and a load (plus a futex wake when a reader sleeps); a reader trails by one chunk.
    // On the development VM 64 KiB to 1 MiB made no difference the machine's noise did not
    // swamp (docs/performance.md, "Frames: method and what was measured along the way"); 128 KiB
    // is 8 rows of a 4K frame, ~270 publishes per frame.
    static constexpr std::size_t kCopyPublishBytes = 128 * 1024;
    [[nodiscard]] bool finished() const noexcept { return published_rows_ == descriptor_.height; }

private:
    friend class FrameProducer;
    FrameDescriptor descriptor_{};
    std::span<std::byte> bytes_{};
    FrameBufferState* state_ = nullptr;
    const std::uint64_t* sleepers_ = nullptr;
    std::uint32_t published_rows_ = 0;
    bool write_combining_ = false;
};

// A consumer lease that kept a buffer from reuse (FrameProducer::stats()).
struct LeaseHold {
    std::uint32_t slot = 0;    // a consumer slot holding it (the lowest, when several do): evict() it
    std::uint32_t buffer = 0;  // the buffer
    Clock::duration held{};    // since the producer first found this frame's buffer leased
};

// What the producer knows about its frames and the consumers holding buffers back.
struct FrameProducerStats {
    std::uint64_t frames_published = 0;
    std::uint64_t frames_dropped = 0;   // no_free_buffer
    std::uint64_t leases_revoked = 0;   // buffers reused while leased, held past the lease limit
    std::uint32_t buffers_held = 0;     // buffers the last begin() found leased (skipped or revoked)
    std::optional<LeaseHold> held_back_by;  // the longest held of those, if any
};

// \pre only the region's producer, one thread at a time; the session outlives it.
class FrameProducer {
public:
    FrameProducer() = default;
    FrameProducer(const detail::ProducerContext& ctx, const detail::FrameGeometry& g) noexcept
        : view_(detail::frame_view(ctx.channel, g, ctx.entry.flags)),
          roster_(ctx.roster),
          write_combining_(ctx.write_combining),
          ring_(view_.ring, ctx.roster, ctx.write_combining, 0),
          first_serial_(detail::first_serial(ctx.init_count)),
          serial_(first_serial_),
          lease_limit_(ctx.frame_lease_limit) {
        // Our own record of each buffer's generation, as init_frames laid it out. We publish it
        // and never read it back: any process that maps the region can write there.
        generations_.fill(detail::first_generation(ctx.init_count));
    }
    FrameProducer(FrameProducer&&) noexcept = default;
    FrameProducer& operator=(FrameProducer&&) noexcept = default;

    [[nodiscard]] std::uint32_t max_width() const noexcept { return view_.geometry.max_width; }
    [[nodiscard]] std::uint32_t max_height() const noexcept { return view_.geometry.max_height; }
    [[nodiscard]] std::uint32_t buffer_count() const noexcept { return view_.geometry.buffer_count; }
    [[nodiscard]] std::uint64_t buffer_size() const noexcept { return view_.geometry.buffer_size; }
    [[nodiscard]] std::uint64_t frames_dropped() const noexcept { return dropped_; }
    [[nodiscard]] std::uint64_t frames_published() const noexcept { return serial_ - first_serial_; }
    [[nodiscard]] std::uint64_t leases_revoked() const noexcept { return revoked_; }
    // Counters, and which consumer slot held buffers back at the last begin() and for how long
    // (as of that call): what an embedder needs to evict a stuck or hostile viewer.
    [[nodiscard]] FrameProducerStats stats() const noexcept {
        FrameProducerStats s;
        s.frames_published = frames_published();
        s.frames_dropped = dropped_;
        s.leases_revoked = revoked_;
        s.buffers_held = buffers_held_;
        s.held_back_by = held_back_by_;
        return s;
    }

    // Takes a free buffer and publishes the frame's descriptor; write rows through `out` and
    // advance its rows_ready. The previous frame must be finished first.
    [[nodiscard]] FrameStatus begin(const FrameInfo& info, FrameWriter& out) noexcept {
        return begin(info, out, Clock::now());
    }
    // As above, with the producer's clock read by the caller (tests drive the lease limit with
    // it, as ProducerSession::tick(now) drives the roster). It also stamps producer_time_ns.
    [[nodiscard]] FrameStatus begin(const FrameInfo& info, FrameWriter& out, Clock::time_point now) noexcept {
        FrameDescriptor d{};
        d.format = static_cast<std::uint32_t>(info.format);
        d.width = info.width;
        d.height = info.height;
        const auto bpp = static_cast<std::uint32_t>(info.format) <= kMaxFrameFormat ? bytes_per_pixel(info.format) : 0;
        d.stride = info.stride != 0 ? info.stride : info.width * bpp;
        d.rotation = info.rotation;
        d.flags = info.flags;
        if (info.damage.size() > kMaxDamageRects) return FrameStatus::invalid_frame;
        d.damage_count = static_cast<std::uint32_t>(info.damage.size());
        std::copy(info.damage.begin(), info.damage.end(), d.damage);
        d.hdr = info.hdr;
        if (!detail::frame_fits(d, view_.geometry)) return FrameStatus::invalid_frame;

        const auto buffer = take_free_buffer(now);
        if (buffer < 0) {
            ++dropped_;
            return FrameStatus::no_free_buffer;
        }
        const auto b = static_cast<std::uint32_t>(buffer);
        FrameBufferState& state = view_.states[b];
        d.serial = ++serial_;
        d.buffer_index = b;
        d.buffer_generation = generations_[b];
        d.producer_time_ns = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
        d.capture_duration_ns = info.capture_duration_ns;
        d.frame_interval_ns = last_publish_ == Clock::time_point{} ? 0 :
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_publish_).count());
        d.frames_dropped = dropped_;
        last_publish_ = now;
        detail::store_relaxed(state.serial, d.serial);
        detail::store_relaxed(state.rows_total, d.height);
        latest_ = buffer;
        (void)ring_.try_push({reinterpret_cast<const std::byte*>(&d), sizeof(d)});  // overwrite: never waits

        out.descriptor_ = d;
        out.bytes_ = {view_.buffers + std::uint64_t{b} * view_.geometry.buffer_size,
                      static_cast<std::size_t>(std::uint64_t{d.stride} * d.height)};
        out.state_ = &state;
        out.sleepers_ = &view_.ring.control->sleepers;
        out.published_rows_ = 0;
        out.write_combining_ = write_combining_;
        return FrameStatus::ok;
    }

private:
    // Round-robin from the buffer after the latest; -1 if every buffer is busy. A buffer whose
    // frame has been leased for longer than the lease limit is taken only when no other is free
    // (the longest held first), and counted as revoked.
    [[nodiscard]] int take_free_buffer(Clock::time_point now) noexcept {
        const std::uint32_t count = view_.geometry.buffer_count;
        buffers_held_ = 0;
        held_back_by_.reset();
        int revocable = -1;
        for (std::uint32_t step = 1; step <= count; ++step) {
            const std::uint32_t b = (static_cast<std::uint32_t>(latest_ < 0 ? 0 : latest_) + step) % count;
            if (static_cast<int>(b) == latest_) continue;  // consumers still want the latest frame
            FrameBufferState& state = view_.states[b];
            const std::uint64_t g = generations_[b];
            PANE_SCHEDULE_POINT("frames.reuse.intent");
            detail::store_relaxed(state.reuse_intent, g);
            detail::fence_seq_cst();  // pairs with the consumer's fence after storing its lease
            const std::uint64_t holders = holders_of(make_lease(g, b));
            if (holders == 0) return take(b);
            PANE_SCHEDULE_POINT("frames.reuse.back_off");
            detail::store_relaxed(state.reuse_intent, std::uint64_t{0});
            // Producer-private "first seen" bookkeeping, per buffer (see the file comment).
            const std::uint64_t bit = std::uint64_t{1} << b;
            if ((leased_seen_ & bit) == 0) {
                leased_seen_ |= bit;
                leased_since_[b] = now;
            }
            ++buffers_held_;
            const Clock::duration held = now - leased_since_[b];
            if (!held_back_by_ || held > held_back_by_->held) {
                held_back_by_ = LeaseHold{static_cast<std::uint32_t>(std::countr_zero(holders)), b, held};
            }
            if (lease_limit_ != kNeverRevokeLimit && held > lease_limit_ &&
                (revocable < 0 || leased_since_[b] < leased_since_[static_cast<std::uint32_t>(revocable)])) {
                revocable = static_cast<int>(b);
            }
        }
        if (revocable < 0) return -1;
        // Revoke: the ordinary reuse steps without the leased test. Whoever leases this frame
        // now, or leased it before, finds the intent, the new generation, or (verify) `reused`.
        const auto b = static_cast<std::uint32_t>(revocable);
        PANE_SCHEDULE_POINT("frames.revoke.intent");
        detail::store_relaxed(view_.states[b].reuse_intent, generations_[b]);
        detail::fence_seq_cst();
        ++revoked_;
        return take(b);
    }

    // Takes buffer b for a new frame (its reuse_intent holds generations_[b]): bumps the
    // generation, clears the intent, orders both before any pixel.
    [[nodiscard]] int take(std::uint32_t b) noexcept {
        FrameBufferState& state = view_.states[b];
        const std::uint64_t g = generations_[b];
        leased_seen_ &= ~(std::uint64_t{1} << b);  // a new frame: its lease clock starts afresh
        detail::store_relaxed(state.rows_ready, std::uint32_t{0});
        generations_[b] = g + 1;
        PANE_SCHEDULE_POINT("frames.reuse.generation");
        detail::store_release(state.generation, g + 1);  // F2
        // On write-combining memory the bump must not pass the intent store above (a
        // consumer that sees the cleared intent below must see the new generation).
        if (write_combining_) detail::write_combining_fence();
        // Cleared with release after the bump: a consumer that reads the cleared intent
        // (acquire) then also sees the new generation, and backs off.
        PANE_SCHEDULE_POINT("frames.reuse.clear_intent");
        detail::store_release(state.reuse_intent, std::uint64_t{0});
        // The new generation must be visible before any pixel of the new frame, so a reader
        // of the old frame that re-checks the generation (verify) notices the overwrite.
        std::atomic_thread_fence(std::memory_order_release);
        if (write_combining_) detail::write_combining_fence();
        return static_cast<int>(b);
    }

    // The current holders of consumer slots that lease `lease` (bit i = slot i). Dead holders
    // count until reaped; the roster's holder test also drops slots it evicted. Every slot is
    // read (no early exit), so stats() can name one.
    [[nodiscard]] std::uint64_t holders_of(std::uint64_t lease) const noexcept {
        std::uint64_t holders = 0;
        for (std::uint32_t i = 0; i < view_.geometry.cursor_count; ++i) {
            const FrameLease& l = view_.leases[i];
            PANE_SCHEDULE_POINT("frames.reuse.lease");
            const std::uint64_t claim = detail::load_acquire(l.claim);  // F4
            if (claim != 0 && roster_->holds(i, claim) && detail::load_acquire(l.lease) == lease) {
                holders |= std::uint64_t{1} << i;
            }
        }
        return holders;
    }

    static constexpr std::chrono::milliseconds kNeverRevokeLimit = std::chrono::milliseconds::max();

    detail::FrameView0 view_{};
    detail::ConsumerRoster* roster_ = nullptr;
    bool write_combining_ = false;
    ByteRingProducer ring_;
    std::array<std::uint64_t, kMaxFrameBuffers> generations_{};
    std::uint64_t first_serial_ = 0;
    std::uint64_t serial_ = 0;
    std::uint64_t dropped_ = 0;
    int latest_ = -1;
    Clock::time_point last_publish_{};
    std::chrono::milliseconds lease_limit_ = kNeverRevokeLimit;
    std::uint64_t leased_seen_ = 0;  // bit b: leased_since_[b] holds when buffer b's frame was first found leased
    std::array<Clock::time_point, kMaxFrameBuffers> leased_since_{};
    std::uint64_t revoked_ = 0;
    std::uint32_t buffers_held_ = 0;
    std::optional<LeaseHold> held_back_by_;
};

class FrameConsumer;

// A leased frame. The bytes stay valid (not reused by a live producer) until the consumer
// acquires another frame or releases this one; verify() proves it after reading.
class FrameView {
public:
    [[nodiscard]] const FrameDescriptor& descriptor() const noexcept { return descriptor_; }
    // stride * height bytes from row 0. Read only rows below rows_ready().
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }
    [[nodiscard]] const std::byte* row(std::uint32_t y) const noexcept {
        return bytes_.data() + std::size_t{y} * descriptor_.stride;
    }
    // Rows [0, n) the producer has finished (F1), clamped to the frame's height.
    [[nodiscard]] std::uint32_t rows_ready() const noexcept {
        if (state_ == nullptr) return 0;
        return std::min(detail::load_acquire(state_->rows_ready), descriptor_.height);
    }
    // Waits until at least `n` rows are ready: ok, timed_out, or (promptly) epoch_changed /
    // slot_lost. Each round of the wait moves our heartbeat.
    //
    // While the producer is visibly writing the frame (rows_ready moved within the last
    // kProgressPoll) this polls, whatever the strategy: the next publish is microseconds away,
    // and sleeping on the futex would cost the producer a wake system call per publish and us a
    // context switch each (at 4K, a few hundred per frame: docs/performance.md, "Frames: method
    // and what was measured along the way"). Once progress
    // stalls for kProgressPoll, the strategy waits: a futex sleeper on rows_ready itself, woken
    // by the producer when it publishes progress.
    template <class Strategy>
    [[nodiscard]] FrameStatus wait_rows(std::uint32_t n, const Strategy& strategy, WaitLimit limit) const {
        const Deadline deadline = limit.start(Clock::now());
        if (state_ == nullptr) return FrameStatus::no_frame;
        n = std::min(n, descriptor_.height);
        const auto ready = [&] {
            if (rows_ready() >= n || !holder_.holds()) return true;
            holder_.keep_alive();
            return false;
        };
        WaitStatus w = poll_progress(ready, deadline);
        if (w == WaitStatus::timed_out && !deadline.passed(Clock::now())) {
            const detail::ConsumerSleeper sleeper{sleepers_, &holder_, &state_->rows_ready};
            w = wait_for(strategy, ready, sleeper, deadline);
        }
        if (const auto s = holder_.check_in(); s != detail::Standing::current) return detail::frame_status(s);
        return w == WaitStatus::ready ? FrameStatus::ok : FrameStatus::timed_out;
    }
    // After reading: ok if the buffer still held this frame all along (F2) in our epoch;
    // epoch_changed if the producer re-initialised (whatever was read may be the new epoch's);
    // reused if the buffer was taken for another frame meanwhile (only possible if we were
    // reaped, or the producer is hostile): the rows read are torn, do not show them;
    // slot_lost if the frame is intact but we were reaped: attach again.
    [[nodiscard]] FrameStatus verify() const noexcept {
        if (state_ == nullptr) return FrameStatus::no_frame;
        std::atomic_thread_fence(std::memory_order_acquire);  // our reads happen before the checks
        PANE_SCHEDULE_POINT("frames.verify.generation");
        const bool same = detail::load_acquire(state_->generation) == descriptor_.buffer_generation;  // F2
        const detail::Standing s = holder_.check_in();
        if (s == detail::Standing::epoch_changed) return FrameStatus::epoch_changed;
        if (!same) return FrameStatus::reused;
        return s == detail::Standing::current ? FrameStatus::ok : FrameStatus::slot_lost;
    }
    // True when the producer runs on this kernel, so descriptor().producer_time_ns is on our clock.
    [[nodiscard]] bool same_host() const noexcept { return same_host_; }

    // How long wait_rows keeps polling after the last change of progress it saw.
    static constexpr std::chrono::microseconds kProgressPoll{100};

private:
    friend class FrameConsumer;

    // Polls `ready` while progress keeps moving: ready, or timed_out once it has not moved for
    // kProgressPoll (the first window counts from the call) or the deadline passed.
    template <class Ready>
    [[nodiscard]] WaitStatus poll_progress(Ready& ready, Deadline deadline) const {
        std::uint32_t seen = detail::load_relaxed(state_->rows_ready);
        auto moved = Clock::now();
        for (unsigned polls = 1;; ++polls) {
            if (ready()) return WaitStatus::ready;
            detail::cpu_relax();
            if (const std::uint32_t now_seen = detail::load_relaxed(state_->rows_ready); now_seen != seen) {
                seen = now_seen;  // at most once per publish: the clock read is cheap beside it
                moved = Clock::now();
                // A hostile producer may move the word forever without reaching n.
                if (deadline.passed(moved)) return WaitStatus::timed_out;
            } else if (polls % detail::kPollsPerClockRead == 0) {
                const auto now = Clock::now();
                if (now - moved > kProgressPoll || deadline.passed(now)) return WaitStatus::timed_out;
            }
        }
    }

    FrameDescriptor descriptor_{};
    std::span<const std::byte> bytes_{};
    const FrameBufferState* state_ = nullptr;
    std::uint64_t* sleepers_ = nullptr;  // the descriptor ring's (consumer-only RMW word)
    detail::SlotHolder holder_{};
    bool same_host_ = false;
};

// \pre one thread at a time; the session outlives it. Every call checks the handle's epoch and
// slot (see ByteRingConsumer) and reports epoch_changed or slot_lost once either is gone.
class FrameConsumer {
public:
    FrameConsumer() = default;
    FrameConsumer(const detail::ConsumerContext& ctx, const detail::FrameGeometry& g, std::uint64_t producer_host)
        : view_(detail::frame_view(ctx.channel, g, ctx.entry.flags)),
          holder_(ctx.holder),
          open_flag_(ctx.open_flag),
          same_host_(detail::same_kernel(producer_host)),
          ring_(view_.ring, ctx.holder) {
        lease_ = &view_.leases[holder_.index];
        if (!holder_.holds()) {
            lease_ = nullptr;
            return;
        }
        detail::store_relaxed(lease_->lease, std::uint64_t{0});
        detail::store_relaxed(lease_->frames_read, std::uint64_t{0});
        detail::store_relaxed(lease_->frames_skipped, std::uint64_t{0});
        detail::store_release(lease_->claim, holder_.claim);  // producer: load_acquire(claim) in leased()
        ring_.include_latest();  // a viewer that attaches now gets the current frame at once
    }
    FrameConsumer(FrameConsumer&& o) noexcept { *this = std::move(o); }
    FrameConsumer& operator=(FrameConsumer&& o) noexcept {
        if (this != &o) {
            close();
            view_ = o.view_;
            holder_ = o.holder_;
            open_flag_ = std::exchange(o.open_flag_, nullptr);
            same_host_ = o.same_host_;
            ring_ = std::move(o.ring_);
            lease_ = std::exchange(o.lease_, nullptr);
            held_ = o.held_;
            read_ = o.read_;
            skipped_ = o.skipped_;
            violations_ = o.violations_;
            broken_ = o.broken_;
            broken_reason_ = o.broken_reason_;
            broken_descriptor_ = o.broken_descriptor_;
            arrivals_ = o.arrivals_;
        }
        return *this;
    }
    FrameConsumer(const FrameConsumer&) = delete;
    FrameConsumer& operator=(const FrameConsumer&) = delete;
    ~FrameConsumer() { close(); }

    [[nodiscard]] std::uint64_t frames_read() const noexcept { return read_; }
    [[nodiscard]] std::uint64_t frames_skipped() const noexcept { return skipped_; }
    [[nodiscard]] std::uint64_t violations() const noexcept { return violations_; }
    [[nodiscard]] bool broken() const noexcept { return broken_; }
    // Why the channel broke, and the descriptor that broke it (as read; all zero when the slot
    // could not be read at all), for reports.
    [[nodiscard]] std::string_view broken_reason() const noexcept { return broken_reason_; }
    [[nodiscard]] const FrameDescriptor& broken_descriptor() const noexcept { return broken_descriptor_; }
    [[nodiscard]] bool same_host() const noexcept { return same_host_; }

    // The newest published frame, if newer than the last one acquired. On ok the lease moves to
    // the new frame; on no_frame (or any failure) the previous frame stays leased, so a viewer
    // can keep showing it.
    [[nodiscard]] FrameStatus acquire_latest(FrameView& out) noexcept {
        if (broken_) {  // until the next epoch, which the standing check reports first
            const auto s = holder_.standing();
            return s == detail::Standing::current ? FrameStatus::broken : detail::frame_status(s);
        }
        for (int attempt = 0; attempt < kAttempts; ++attempt) {
            skipped_ += ring_.skip_to_latest();
            FrameDescriptor d;
            const auto r = ring_.try_pop({reinterpret_cast<std::byte*>(&d), sizeof(d)});
            skipped_ += r.lost;
            if (r.status == PopStatus::epoch_changed || r.status == PopStatus::slot_lost) {
                return r.status == PopStatus::epoch_changed ? FrameStatus::epoch_changed : FrameStatus::slot_lost;
            }
            if (r.status == PopStatus::empty) return FrameStatus::no_frame;
            if (r.status == PopStatus::contended) continue;
            const char* invalid = r.status == PopStatus::broken  ? "descriptor slot with an impossible length"
                                  : r.status != PopStatus::ok      ? "descriptor longer than a descriptor"
                                  : r.length != sizeof(d)         ? "descriptor of the wrong size"
                                  : d.buffer_index >= view_.geometry.buffer_count ? "buffer index out of range"
                                  : d.buffer_generation == 0 || d.buffer_generation >= (std::uint64_t{1} << 58)
                                      ? "buffer generation out of range"  // lease encoding
                                  : !detail::frame_fits(d, view_.geometry) ? "frame does not fit its buffer"
                                                                           : nullptr;
            if (invalid != nullptr) {
                broken_reason_ = invalid;
                broken_descriptor_ = r.status == PopStatus::ok ? d : FrameDescriptor{};  // d holds nothing otherwise
                ++violations_;
                broken_ = true;  // until the next epoch: the session re-attaches
                release();
                return FrameStatus::broken;
            }
            if (ring_.available_approx() > 0) {  // a newer one arrived meanwhile: take that instead
                ++skipped_;
                continue;
            }
            const FrameStatus leased = lease(d);
            if (leased != FrameStatus::ok) {
                if (leased != FrameStatus::superseded) return leased;
                ++skipped_;
                continue;
            }
            out.descriptor_ = d;
            out.bytes_ = {view_.buffers + std::uint64_t{d.buffer_index} * view_.geometry.buffer_size,
                          static_cast<std::size_t>(std::uint64_t{d.stride} * d.height)};
            out.state_ = &view_.states[d.buffer_index];
            out.sleepers_ = &view_.ring.control->sleepers;
            out.holder_ = holder_;
            out.same_host_ = same_host_;
            ++read_;
            detail::store_relaxed(lease_->frames_read, read_);
            detail::store_relaxed(lease_->frames_skipped, skipped_);
            return FrameStatus::ok;
        }
        return FrameStatus::superseded;
    }

    // Waits with `strategy` for a frame newer than the last one acquired. Each round of the
    // wait moves our heartbeat; a descriptor announced but never completed is slept on.
    template <class Strategy>
    [[nodiscard]] FrameStatus wait_latest(FrameView& out, const Strategy& strategy, WaitLimit limit) {
        const Deadline deadline = limit.start(Clock::now());
        for (bool waited = false;; waited = true) {
            const FrameStatus s = acquire_latest(out);
            if (s == FrameStatus::ok) arrivals_.arrived(Clock::now(), waited);
            if (s != FrameStatus::no_frame && s != FrameStatus::superseded) return s;
            if (deadline.passed(Clock::now())) return FrameStatus::timed_out;
            const detail::ConsumerSleeper sleeper{&view_.ring.control->sleepers, &holder_,
                                                  detail::low_word(view_.ring.control->write_pos), &arrivals_,
                                                  /*publisher_may_fence_lightly=*/true};
            const auto ready = [this] {
                if (ring_.latest_ready_approx()) return true;
                holder_.keep_alive();  // latest_ready_approx checked the standing
                return false;
            };
            const WaitStatus w = wait_for(strategy, ready, sleeper, deadline);
            if (w == WaitStatus::timed_out) return FrameStatus::timed_out;
        }
    }

    // Gives the leased buffer back to the producer.
    void release() noexcept {
        held_ = 0;
        if (lease_ != nullptr && holder_.holds()) detail::store_release(lease_->lease, std::uint64_t{0});
    }

private:
    static constexpr int kAttempts = 8;

    // Moves our lease to d's buffer (the Dekker handshake in the file comment). If the producer
    // was already reusing that buffer, the lease goes back to the frame held before (through
    // the same handshake: if that one is being reused too, it is gone, and its view's verify()
    // says so) and the answer is superseded.
    [[nodiscard]] FrameStatus lease(const FrameDescriptor& d) noexcept {
        if (lease_ == nullptr) return FrameStatus::slot_lost;
        const std::uint64_t wanted = make_lease(d.buffer_generation, d.buffer_index);
        if (try_lease(wanted)) {
            held_ = wanted;
            return FrameStatus::ok;
        }
        if (const auto s = holder_.standing(); s != detail::Standing::current) return detail::frame_status(s);
        if (held_ == 0 || !try_lease(held_)) {
            held_ = 0;
            if (holder_.holds()) detail::store_relaxed(lease_->lease, std::uint64_t{0});
        }
        return FrameStatus::superseded;
    }

    [[nodiscard]] bool try_lease(std::uint64_t lease) noexcept {
        const std::uint64_t generation = lease >> 6;
        const FrameBufferState& state = view_.states[lease & 63u];
        if (!holder_.holds()) return false;  // gate our write on still holding the slot
        PANE_SCHEDULE_POINT("frames.lease.store");
        detail::store_relaxed(lease_->lease, lease);
        detail::fence_seq_cst();  // pairs with the producer's fence after storing reuse_intent
        // Intent first: if it is already cleared, its release makes the bumped generation visible.
        PANE_SCHEDULE_POINT("frames.lease.intent");
        const std::uint64_t intent = detail::load_acquire(state.reuse_intent);
        PANE_SCHEDULE_POINT("frames.lease.generation");
        return intent != generation && detail::load_acquire(state.generation) == generation;  // F2
    }

    void close() noexcept {
        if (lease_ != nullptr && holder_.holds()) {
            // Release: the producer's reuse scan must see our reads of the buffer as done.
            detail::store_release(lease_->lease, std::uint64_t{0});
            detail::store_release(lease_->claim, std::uint64_t{0});
        }
        lease_ = nullptr;
        if (open_flag_ != nullptr) *std::exchange(open_flag_, nullptr) = 0;
    }

    detail::FrameView0 view_{};
    detail::SlotHolder holder_{};
    std::uint8_t* open_flag_ = nullptr;
    bool same_host_ = false;
    ByteRingConsumer ring_;
    FrameLease* lease_ = nullptr;
    std::uint64_t held_ = 0;  // the lease we hold (make_lease), 0 = none
    std::uint64_t read_ = 0;
    std::uint64_t skipped_ = 0;
    std::uint64_t violations_ = 0;
    bool broken_ = false;
    const char* broken_reason_ = "";
    FrameDescriptor broken_descriptor_{};
    ArrivalEstimate arrivals_;  // frame rate, for AutoWait when the producer is on another kernel
};

}  // namespace pane
