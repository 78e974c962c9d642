// SPDX-License-Identifier: MIT
// The ring channel: one producer, up to max_consumers consumers, each with its own read position.
// Messages are copied in and out (a ring slot is never handed out by reference), so a consumer
// never sees a message change under it and never returns a torn one.
//
// Each slot carries a sequence word: 2p+1 while position p is being written, 2p+2 once complete
// (mod 2^64; positions are free-running 64-bit counters and may start anywhere). A consumer
// expecting position p compares the slot's sequence with 2p+2: equal means ready, behind means
// not yet written, ahead means the producer has lapped it (the messages in between are lost).
// The copy-out is a seqlock read: sequence (acquire), payload, fence (acquire), sequence again.
//
// Policies:
//   lossless   the producer does not write position p while a live, subscribed consumer has not
//              read p - capacity. Live is the producer's roster's view (detail/roster.hpp): a
//              dead, detached or timed-out consumer never holds it back.
//   overwrite  the producer never waits. A consumer that was lapped skips to the oldest message
//              still in the ring and is told exactly how many it lost.
//
// Memory ordering (SYNC POINTs, each names its partner):
//   S1 producer store_release(slot.seq, 2p+2)  <->  consumer load_acquire(slot.seq)
//   S2 producer store_release(write_pos)       <->  consumer load_acquire(write_pos)
//   S3 consumer store_release(cursor.read_pos) <->  producer load_acquire(cursor.read_pos):
//      the consumer's copy-out happens before the producer reuses the slot (lossless)
//   S4 consumer store_release(cursor.claim)    <->  producer load_acquire(cursor.claim)
//   S5 futex wake-ups: Dekker fences, see wait.hpp.
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <utility>

#include "detail/atomic.hpp"
#include "detail/bounds.hpp"
#include "detail/channel_context.hpp"
#include "detail/futex.hpp"
#include "detail/ring_geometry.hpp"
#include "detail/roster.hpp"
#include "detail/schedule_point.hpp"
#include "detail/word_copy.hpp"
#include "layout.hpp"
#include "wait.hpp"

namespace pane {

enum class PushStatus {
    ok,         // the message is published
    full,       // lossless ring: a live consumer has not made room (try_push only)
    too_large,  // the payload is larger than the ring's element size
    timed_out,  // blocking push: no room before the deadline
};

enum class PopStatus {
    ok,                // a message was copied out
    empty,             // nothing new (try_pop only)
    timed_out,         // blocking pop: nothing before the deadline
    buffer_too_small,  // the caller's buffer is smaller than the message; nothing consumed
    contended,         // the producer kept lapping the read; call again
    broken,            // the producer wrote something invalid; the channel is unusable this epoch
    epoch_changed,     // the producer re-initialised the region: drop the handle, attach again
    slot_lost,         // our consumer slot was reaped (or detached): drop the handle, attach again
};

struct [[nodiscard]] PopResult {
    PopStatus status;
    std::uint32_t length = 0;  // payload bytes, when status == ok
    std::uint64_t lost = 0;    // messages skipped (overwritten unread) during this call; valid for
                               // every status, so callers must add it up whatever the status
};

// Batches: several fixed-size messages per call, with one write_pos (or read_pos) store and one
// wake-up check for the lot. `count` messages were published (or copied out) whatever the status.
struct [[nodiscard]] PushBatchResult {
    PushStatus status;  // ok: all of them; full / timed_out: a lossless ring had room for `count`
    std::size_t count = 0;
};
struct [[nodiscard]] PopBatchResult {
    PopStatus status;       // ok when count > 0; otherwise what a single pop would have said
    std::size_t count = 0;  // messages copied out, in order
    std::uint64_t lost = 0;  // as PopResult::lost
};

namespace detail {

// Pointers into one ring channel, formed only from validated geometry.
struct RingView {
    RingControl* control = nullptr;
    RingCursor* cursors = nullptr;
    std::byte* slots = nullptr;
    RingGeometry geometry{};
    RingPolicy policy = RingPolicy::lossless;
    bool wakeups = false;

    [[nodiscard]] RingSlotHeader& slot_at(std::uint64_t position) const noexcept {
        const std::uint64_t index = position & (geometry.capacity - 1);
        return *reinterpret_cast<RingSlotHeader*>(slots + index * geometry.slot_stride);
    }
    [[nodiscard]] static std::byte* payload_of(RingSlotHeader& slot) noexcept {
        return reinterpret_cast<std::byte*>(&slot) + sizeof(RingSlotHeader);
    }
};

// The view of a ring whose RingControl starts at `ring` (a ring channel, or a ring embedded in
// another channel), from geometry the caller has validated.
[[nodiscard]] inline RingView ring_view_at(std::byte* ring, const RingGeometry& g, RingPolicy policy,
                                           std::uint32_t flags) noexcept {
    RingView v;
    v.control = reinterpret_cast<RingControl*>(ring);
    v.cursors = reinterpret_cast<RingCursor*>(ring + g.cursors_offset);
    v.slots = ring + g.slots_offset;
    v.geometry = g;
    v.policy = policy;
    v.wakeups = (flags & kRingFlagWakeups) != 0;
    return v;
}

[[nodiscard]] constexpr std::uint64_t seq_writing(std::uint64_t p) noexcept { return 2 * p + 1; }
[[nodiscard]] constexpr std::uint64_t seq_complete(std::uint64_t p) noexcept { return 2 * p + 2; }

// Writes message `msg` into `slot` as position p (seqlock writer). The caller has checked
// msg.size() <= element size and, for lossless rings, that p's slot is free.
inline void write_slot(RingSlotHeader& slot, std::uint64_t p, std::span<const std::byte> msg,
                       bool write_combining) noexcept {
    PANE_SCHEDULE_POINT("ring.write.mark");
    store_relaxed(slot.seq, seq_writing(p));
    // Orders the "writing" mark before the payload stores. On a write-combining mapping the
    // stores themselves may reorder: sfence as well.
    std::atomic_thread_fence(std::memory_order_release);
    if (write_combining) write_combining_fence();
    PANE_SCHEDULE_POINT("ring.write.payload");
    store_relaxed(slot.length, static_cast<std::uint32_t>(msg.size()));
    copy_to_shared(RingView::payload_of(slot), msg.data(), msg.size());
    if (write_combining) write_combining_fence();
    PANE_SCHEDULE_POINT("ring.write.complete");
    store_release(slot.seq, seq_complete(p));  // S1
}

enum class SlotRead { ready, empty, lapped, torn, too_long, too_small };

// Seqlock read of position p from `slot` into `out`. On `ready` and `too_small`, `length` is
// the message length; `too_long` means a stable length beyond element_size (hostile).
[[nodiscard]] inline SlotRead read_slot(RingSlotHeader& slot, std::uint64_t p, std::span<std::byte> out,
                                        std::uint32_t element_size, std::uint32_t& length) noexcept {
    PANE_SCHEDULE_POINT("ring.read.seq");
    const std::uint64_t seq = load_acquire(slot.seq);  // S1
    const std::int64_t ahead = position_diff(seq, seq_complete(p));
    if (ahead < 0) return SlotRead::empty;
    if (ahead > 0) return SlotRead::lapped;
    length = load_relaxed(slot.length);
    const bool fits = length <= out.size() && length <= element_size;
    PANE_SCHEDULE_POINT("ring.read.copy");
    if (fits) copy_from_shared(out.data(), RingView::payload_of(slot), length);
    std::atomic_thread_fence(std::memory_order_acquire);  // seqlock reader: copy before re-check
    PANE_SCHEDULE_POINT("ring.read.recheck");
    if (load_relaxed(slot.seq) != seq) return SlotRead::torn;  // overwritten while we copied
    if (length > element_size) return SlotRead::too_long;
    return fits ? SlotRead::ready : SlotRead::too_small;
}

// Producer-side initialisation of a ring channel's producer-owned words.
inline void init_ring(const RingView& view, std::uint64_t initial_position, std::uint32_t flags) noexcept {
    RingControl fresh{};
    fresh.policy = static_cast<std::uint32_t>(view.policy);
    fresh.capacity = view.geometry.capacity;
    fresh.element_size = view.geometry.element_size;
    fresh.slot_stride = view.geometry.slot_stride;
    fresh.cursor_count = view.geometry.cursor_count;
    fresh.flags = flags;
    fresh.cursors_offset = view.geometry.cursors_offset;
    fresh.slots_offset = view.geometry.slots_offset;
    fresh.initial_position = initial_position;
    fresh.write_pos = initial_position;
    // The consumers' words (sleepers, cursors) are laid out too: while the producer initialises
    // nobody holds a slot (the previous epoch's holders were reaped first), so nobody owns them,
    // and stale bytes must not pass for a live subscriber's claim.
    copy_to_shared(reinterpret_cast<std::byte*>(view.control), reinterpret_cast<const std::byte*>(&fresh),
                   sizeof(fresh));
    zero_shared(reinterpret_cast<std::byte*>(view.cursors), std::uint64_t{view.geometry.cursor_count} * sizeof(RingCursor));
    // Each slot looks complete for the lap before initial_position, so nobody reads it as new.
    for (std::uint32_t i = 0; i < view.geometry.capacity; ++i) {
        const std::uint64_t previous_lap = initial_position + i - view.geometry.capacity;
        RingSlotHeader& slot = view.slot_at(previous_lap);
        store_relaxed(slot.length, std::uint32_t{0});
        store_release(slot.seq, seq_complete(previous_lap));
    }
}

}  // namespace detail

// Producer end of a ring, for variable-size byte messages up to element_size().
// \pre only the region's producer, from one thread at a time.
class ByteRingProducer {
public:
    ByteRingProducer() = default;
    ByteRingProducer(ByteRingProducer&&) noexcept = default;
    ByteRingProducer& operator=(ByteRingProducer&&) noexcept = default;
    ByteRingProducer(const ByteRingProducer&) = delete;  // one writer per ring
    ByteRingProducer& operator=(const ByteRingProducer&) = delete;
    // `position` is the write position init_ring laid out: the producer keeps its state privately
    // and never reads it back from the region, where any process that maps it could change it.
    ByteRingProducer(detail::RingView view, detail::ConsumerRoster* roster, bool write_combining,
                     std::uint64_t position) noexcept
        : view_(view), roster_(roster), write_combining_(write_combining), position_(position),
          room_until_(position) {}  // room_until_ == position_ forces a scan before the first lossless write

    [[nodiscard]] std::uint32_t element_size() const noexcept { return view_.geometry.element_size; }
    [[nodiscard]] std::uint32_t capacity() const noexcept { return view_.geometry.capacity; }
    [[nodiscard]] std::uint64_t position() const noexcept { return position_; }

    // Wait-free in overwrite mode; in lossless mode returns `full` instead of waiting.
    [[nodiscard]] PushStatus try_push(std::span<const std::byte> message) noexcept {
        if (message.size() > view_.geometry.element_size) return PushStatus::too_large;
        if (view_.policy == RingPolicy::lossless && !has_room()) return PushStatus::full;
        publish(message);
        return PushStatus::ok;
    }

    // Lossless: waits with `strategy` for room, refreshing the roster so a consumer that dies
    // while holding the ring back is reaped within the consumer timeout. Bounded by `limit`.
    template <class Strategy>
    [[nodiscard]] PushStatus push(std::span<const std::byte> message, const Strategy& strategy, WaitLimit limit) {
        if (message.size() > view_.geometry.element_size) return PushStatus::too_large;
        if (view_.policy == RingPolicy::lossless && !has_room() &&
            !wait_for_room(strategy, limit.start(Clock::now()))) {
            return PushStatus::timed_out;
        }
        publish(message);
        return PushStatus::ok;
    }

    // Publishes the messages packed back to back in `packed`, each `message_size` bytes (a
    // trailing partial message is ignored): all of them in overwrite mode, as many as there is
    // room for in lossless mode, with one write_pos store and one wake-up check for the lot.
    [[nodiscard]] PushBatchResult try_push_batch(std::span<const std::byte> packed, std::size_t message_size) noexcept {
        if (message_size == 0 || message_size > view_.geometry.element_size) return {PushStatus::too_large, 0};
        const std::size_t count = packed.size() / message_size;
        std::size_t n = count;
        if (view_.policy == RingPolicy::lossless) n = static_cast<std::size_t>(std::min<std::uint64_t>(count, room_for(count)));
        // Overwrite: of more than a ring only the last ring's worth can be read; the messages
        // before it are published as lost (their positions pass, their slots are never written).
        const std::size_t skipped = n > view_.geometry.capacity ? n - view_.geometry.capacity : 0;
        for (std::size_t i = skipped; i < n; ++i) {
            const std::uint64_t p = position_ + i;
            detail::write_slot(view_.slot_at(p), p, packed.subspan(i * message_size, message_size), write_combining_);
        }
        if (n != 0) publish_position(position_ + n);
        return {n == count ? PushStatus::ok : PushStatus::full, n};
    }

    // As try_push_batch, waiting with `strategy` for room until every message is published or
    // `limit` passes (then timed_out, with the count published).
    template <class Strategy>
    [[nodiscard]] PushBatchResult push_batch(std::span<const std::byte> packed, std::size_t message_size,
                                             const Strategy& strategy, WaitLimit limit) {
        PushBatchResult total = try_push_batch(packed, message_size);
        if (total.status != PushStatus::full) return total;
        const Deadline deadline = limit.start(Clock::now());
        while (total.status == PushStatus::full) {
            if (!wait_for_room(strategy, deadline)) return {PushStatus::timed_out, total.count};
            const PushBatchResult more = try_push_batch(packed.subspan(total.count * message_size), message_size);
            total.count += more.count;
            total.status = more.status;
        }
        return total;
    }

    // Racy by nature: live consumers currently subscribed to this ring.
    [[nodiscard]] std::uint32_t subscribers_approx() const noexcept {
        std::uint32_t n = 0;
        for_each_subscriber([&](RingCursor&, std::uint64_t) { ++n; });
        return n;
    }

    // Lossless: the consumer slot whose subscriber was furthest behind at the last room scan
    // (the one a full ring waits for), -1 if none. What an embedder needs to evict a subscriber
    // that holds the ring for good (ProducerSession::evict): a lossless ring is held by design
    // while a live subscriber does not read, and a hostile one heartbeats.
    [[nodiscard]] int held_back_by() const noexcept {
        if (blocker_ == nullptr || detail::position_diff(room_until_, position_) > 0) return -1;  // room left
        return static_cast<int>(blocker_ - view_.cursors);
    }

    // Racy by nature: how far the slowest live subscriber is behind, as of the last scan.
    [[nodiscard]] std::uint64_t backlog_approx() noexcept {
        scan_room();
        return position_ + view_.geometry.capacity - room_until_;
    }

private:
    // Futex sleeper for a lossless producer: waits on the low word of the read position of the
    // consumer that holds it back, which that consumer changes when it reads (S5). No word when
    // that consumer is on another kernel: its wake could not reach us.
    struct ProducerSleeper {
        ByteRingProducer* ring;
        [[nodiscard]] const std::uint32_t* word() const noexcept {
            const RingCursor* blocker = ring->blocker_;
            if (blocker == nullptr) return nullptr;
            const auto index = static_cast<std::uint32_t>(blocker - ring->view_.cursors);
            return ring->roster_->shares_kernel(index) ? detail::low_word(blocker->read_pos) : nullptr;
        }
        void announce() const noexcept {
            detail::store_relaxed(ring->view_.control->producer_waiting, 1u);  // for 1.2 consumers
            detail::store_relaxed(ring->view_.control->producer_sleeping, 1u);
            // Pairs with a registered consumer's light fence between storing read_pos and
            // checking producer_sleeping (notify_producer); the wait's own fence follows.
            if (ring->roster_->asymmetric_wakes()) detail::heavy_fence();
        }
        void withdraw() const noexcept {
            detail::store_relaxed(ring->view_.control->producer_waiting, 0u);
            detail::store_relaxed(ring->view_.control->producer_sleeping, 0u);
        }
    };

    [[nodiscard]] bool has_room() noexcept { return room_for(1) != 0; }

    // Free slots for up to `wanted` messages: the cached room, re-scanned only when it is short.
    [[nodiscard]] std::uint64_t room_for(std::uint64_t wanted) noexcept {
        std::int64_t room = detail::position_diff(room_until_, position_);
        if (room < 0 || static_cast<std::uint64_t>(room) < wanted) {
            scan_room();
            room = detail::position_diff(room_until_, position_);
        }
        return room > 0 ? static_cast<std::uint64_t>(room) : 0;
    }

    // Lossless: waits for room for one message; false if the deadline passed first.
    template <class Strategy>
    [[nodiscard]] bool wait_for_room(const Strategy& strategy, Deadline deadline) {
        const ProducerSleeper sleeper{this};
        return wait_for(strategy, [this] {
            roster_->refresh_if_due(Clock::now());
            return has_room();
        }, sleeper, deadline) == WaitStatus::ready;
    }

    // Calls fn(cursor, behind) for each subscriber that still holds its slot, with how far its
    // read position is behind ours. A holder that died counts until the roster reaps it.
    template <class Fn>
    void for_each_subscriber(Fn&& fn) const noexcept {
        for (std::uint32_t i = 0; i < view_.geometry.cursor_count; ++i) {
            RingCursor& cursor = view_.cursors[i];
            PANE_SCHEDULE_POINT("ring.scan.claim");
            // S4: a cursor counts only while its subscriber is the slot's current holder.
            const std::uint64_t claim = detail::load_acquire(cursor.claim);
            if (claim == 0 || !roster_->holds(i, claim)) continue;
            PANE_SCHEDULE_POINT("ring.scan.read_pos");
            // S3: pairs with the consumer's store_release(read_pos) after its copy-out.
            const std::uint64_t read = detail::load_acquire(cursor.read_pos);
            fn(cursor, position_ - read);
        }
    }

    // Finds the slowest live subscriber; room_until_ becomes its read position + capacity.
    // A read position more than a ring behind (or ahead of us) gives no room at all: that is
    // what a subscriber's first, stale position looks like until it re-reads write_pos (see the
    // consumer's constructor), and skipping it would let us overwrite where it then starts.
    // A hostile cursor gains nothing new from it: it could hold the ring exactly a ring behind.
    void scan_room() noexcept {
        // Pairs with the subscriber's fence between publishing its claim and re-reading
        // write_pos: either this scan sees the claim, or the subscriber starts at or after our
        // last write_pos, which the cached room below can never overwrite.
        PANE_SCHEDULE_POINT("ring.scan.fence");
        detail::fence_seq_cst();
        const std::uint64_t capacity = view_.geometry.capacity;
        std::uint64_t most_behind = 0;
        blocker_ = nullptr;
        for_each_subscriber([&](RingCursor& cursor, std::uint64_t behind) {
            behind = std::min(behind, capacity);  // out of the window: no room
            if (behind >= most_behind) {
                most_behind = behind;
                blocker_ = &cursor;
            }
        });
        room_until_ = position_ - most_behind + capacity;
    }

    void publish(std::span<const std::byte> message) noexcept {
        const std::uint64_t p = position_;
        detail::write_slot(view_.slot_at(p), p, message, write_combining_);
        publish_position(p + 1);
    }

    // Every slot before `next` is complete: tell the consumers, and wake any that sleep.
    void publish_position(std::uint64_t next) noexcept {
        position_ = next;
        PANE_SCHEDULE_POINT("ring.publish.write_pos");
        detail::store_release(view_.control->write_pos, position_);  // S2
        // S5. Any announced sleeper, live or not yet seen by the roster. A consumer killed in its
        // sleep leaves its bit until the next holder of its slot clears it; meanwhile each
        // publish costs one needless wake syscall, never a missed wake.
        if (view_.wakeups) {
            detail::wake_sleepers(view_.control->sleepers, detail::low_word(view_.control->write_pos), roster_->light_wakes());
        }
    }

    detail::RingView view_{};
    detail::ConsumerRoster* roster_ = nullptr;
    bool write_combining_ = false;
    std::uint64_t position_ = 0;
    std::uint64_t room_until_ = 0;
    RingCursor* blocker_ = nullptr;
};

// Consumer end of a ring. Subscribes on construction (starts at the producer's current
// position) and unsubscribes on destruction. \pre one thread at a time; the session outlives it.
//
// Every call checks, after copying anything out and before writing any of its own words, that
// the producer is still in the epoch the handle was opened under and that the consumer still
// holds its slot (detail::SlotHolder). A handle that lost either returns `epoch_changed` or
// `slot_lost` from then on and never writes again: drop it and attach again.
class ByteRingConsumer {
public:
    ByteRingConsumer() = default;
    // `open_flag`, if given, is the session's record that this cursor is in use; cleared on
    // unsubscribe so the channel can be opened again.
    ByteRingConsumer(detail::RingView view, detail::SlotHolder holder, std::uint8_t* open_flag = nullptr) noexcept
        : view_(view), holder_(holder), cursor_(&view.cursors[holder.index]), open_flag_(open_flag) {
        if (const auto s = holder_.check_in(); s != detail::Standing::current) {  // an inert handle
            cursor_ = nullptr;
            lost_standing_ = s;
            return;
        }
        clear_sleeper_bit();
        // Subscribe handshake (docs/protocol.md, "Subscribing"). Start at the producer's current
        // position. S2: pairs with the producer's release.
        PANE_SCHEDULE_POINT("ring.subscribe.write_pos");
        position_ = detail::load_acquire(view_.control->write_pos);
        PANE_SCHEDULE_POINT("ring.subscribe.read_pos");
        detail::store_relaxed(cursor_->read_pos, position_);
        detail::store_relaxed(cursor_->lost, std::uint64_t{0});
        detail::store_relaxed(cursor_->delivered, std::uint64_t{0});
        PANE_SCHEDULE_POINT("ring.subscribe.claim");
        detail::store_release(cursor_->claim, holder_.claim);  // S4
        // Pairs with the fence at the start of the producer's scan_room: if that scan missed our
        // claim, this re-read sees at least the position it scanned at, and we start there. If
        // it saw the claim with the position above, that position either lies within a ring of
        // the producer's (it then protects us from there) or not (it then gives no room at all
        // until the producer reads the one we store below).
        detail::fence_seq_cst();
        PANE_SCHEDULE_POINT("ring.subscribe.reread");
        const std::uint64_t now_written = detail::load_acquire(view_.control->write_pos);
        if (now_written != position_) {
            position_ = now_written;
            PANE_SCHEDULE_POINT("ring.subscribe.restart");
            detail::store_release(cursor_->read_pos, position_);  // S3
            // A lossless producer that found our first, stale position out of its window may
            // be asleep on it: this store is the progress it waits for.
            notify_producer();
        }
    }
    ByteRingConsumer(ByteRingConsumer&& other) noexcept { *this = std::move(other); }
    ByteRingConsumer& operator=(ByteRingConsumer&& other) noexcept {
        if (this != &other) {
            unsubscribe();
            view_ = other.view_;
            holder_ = other.holder_;
            cursor_ = std::exchange(other.cursor_, nullptr);
            open_flag_ = std::exchange(other.open_flag_, nullptr);
            position_ = other.position_;
            lost_total_ = other.lost_total_;
            delivered_total_ = other.delivered_total_;
            bonus_ = other.bonus_;
            has_bonus_ = other.has_bonus_;
            broken_ = other.broken_;
            lost_standing_ = other.lost_standing_;
            arrivals_ = other.arrivals_;
        }
        return *this;
    }
    ByteRingConsumer(const ByteRingConsumer&) = delete;
    ByteRingConsumer& operator=(const ByteRingConsumer&) = delete;
    ~ByteRingConsumer() { unsubscribe(); }

    [[nodiscard]] std::uint32_t element_size() const noexcept { return view_.geometry.element_size; }
    [[nodiscard]] std::uint32_t capacity() const noexcept { return view_.geometry.capacity; }
    [[nodiscard]] RingPolicy policy() const noexcept { return view_.policy; }
    [[nodiscard]] std::uint64_t position() const noexcept { return position_; }
    [[nodiscard]] std::uint64_t lost_total() const noexcept { return lost_total_; }
    [[nodiscard]] std::uint64_t delivered_total() const noexcept { return delivered_total_; }
    [[nodiscard]] bool broken() const noexcept { return broken_; }
    // For typed wrappers that find a violation the byte layer cannot see (a wrong length).
    void mark_broken() noexcept { broken_ = true; }
    // False once our slot was reaped or released, or the producer re-initialised: stop using
    // this handle and re-attach. try_pop and pop report the same as a status.
    [[nodiscard]] bool still_holds_slot() const noexcept { return cursor_ != nullptr && holder_.holds(); }

    // Steps back to the newest message published before we subscribed, if any, so a
    // latest-value reader that subscribes now still gets it (a frame channel's viewer attaching
    // to a still desktop). That message is a bonus: it was published before we subscribed, so
    // if the producer reused its slot before it saw our step back (a lossless producer may,
    // within the room it had cached), it is skipped, not counted as lost.
    void include_latest() noexcept {
        if (cursor_ == nullptr || holder_.check_in() != detail::Standing::current) return;
        const std::uint64_t initial = detail::load_relaxed(view_.control->initial_position);  // immutable
        if (position_ == initial) return;
        --position_;
        bonus_ = position_;
        has_bonus_ = true;
        detail::store_release(cursor_->read_pos, position_);  // S3
    }

    // Moves to the newest published message, so the next read returns it. The messages passed
    // over are returned, not counted as lost: they were there, the caller chose the latest.
    std::uint64_t skip_to_latest() noexcept {
        if (cursor_ == nullptr) return 0;
        const std::uint64_t written = detail::load_acquire(view_.control->write_pos);  // S2
        const std::int64_t ahead = detail::position_diff(written, position_);
        // A producer completes a slot before it moves write_pos past it, so a reader may already
        // have taken the slots write_pos does not yet announce: at most a ring's worth (a batch
        // publishes once for up to `capacity` slots). Only a write_pos further behind is hostile
        // (or a new epoch, which the standing check tells apart).
        if (ahead < -static_cast<std::int64_t>(view_.geometry.capacity)) {
            if (holder_.standing() == detail::Standing::current) broken_ = true;
            return 0;
        }
        if (ahead <= 1) return 0;
        if (holder_.standing() != detail::Standing::current) return 0;  // try_pop says why
        position_ = written - 1;
        has_bonus_ = false;
        detail::store_release(cursor_->read_pos, position_);  // S3
        return static_cast<std::uint64_t>(ahead) - 1;
    }
    // Racy: messages published and not yet read, as of now. 0 while we have read slots that
    // write_pos does not announce yet (see skip_to_latest).
    [[nodiscard]] std::uint64_t available_approx() const noexcept {
        const std::int64_t ahead = detail::position_diff(detail::load_acquire(view_.control->write_pos), position_);
        return ahead > 0 ? static_cast<std::uint64_t>(ahead) : 0;
    }
    // Racy: whether the next try_pop would find something to consume (a complete message, or a
    // lap to skip), or the handle's standing changed. An honest producer completes a slot before
    // it moves write_pos, so for it this is "write_pos moved past us"; a slot that write_pos
    // announces but that never completes (a hostile or broken producer) is not ready, so
    // blocking waits sleep on it instead of spinning.
    [[nodiscard]] bool ready_approx() const noexcept {
        if (cursor_ == nullptr) return true;
        const std::uint64_t seq = detail::load_acquire(view_.slot_at(position_).seq);  // S1
        return detail::position_diff(seq, detail::seq_complete(position_)) >= 0 || !holder_.holds();
    }
    // Racy: whether the newest published message is complete (latest-value readers wait on it).
    [[nodiscard]] bool latest_ready_approx() const noexcept {
        if (cursor_ == nullptr) return true;
        const std::uint64_t written = detail::load_acquire(view_.control->write_pos);  // S2
        if (written == position_) return ready_approx();
        const std::uint64_t seq = detail::load_acquire(view_.slot_at(written - 1).seq);  // S1
        return detail::position_diff(seq, detail::seq_complete(written - 1)) >= 0 || !holder_.holds();
    }

    // Copies the next message into `out`. Wait-free apart from a bounded number of retries when
    // the producer overwrites the slot being read.
    [[nodiscard]] PopResult try_pop(std::span<std::byte> out) noexcept {
        PopResult result{PopStatus::contended};
        if (cursor_ == nullptr) return {standing_status(lost_standing_)};
        if (broken_) {  // until the next epoch, which the standing check reports first
            const auto s = holder_.check_in();
            if (s == detail::Standing::current) return {PopStatus::broken};
            lose_standing(s);
            return {standing_status(s)};
        }
        for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
            std::uint32_t length = 0;
            const auto read = detail::read_slot(view_.slot_at(position_), position_, out, view_.geometry.element_size, length);
            // What the slot said counts only if it came from our epoch and we still hold our
            // slot: checked after the copy (read_slot's acquire fence orders it before this) and
            // before any write of ours.
            if (const auto s = holder_.check_in(); s != detail::Standing::current) {
                lose_standing(s);
                result.status = standing_status(s);
                return result;
            }
            switch (read) {
                case detail::SlotRead::empty:
                    repair_cursor();
                    result.status = PopStatus::empty;
                    return result;
                case detail::SlotRead::lapped:  // skip to the oldest message still in the ring
                    if (!skip_lapped(result)) return result;
                    continue;
                case detail::SlotRead::torn: continue;
                case detail::SlotRead::too_long:  // a stable, impossible length: hostile
                    broken_ = true;
                    result.status = PopStatus::broken;
                    return result;
                case detail::SlotRead::too_small:
                    result.status = PopStatus::buffer_too_small;
                    result.length = length;
                    return result;
                case detail::SlotRead::ready:
                    advance();
                    result.status = PopStatus::ok;
                    result.length = length;
                    return result;
            }
        }
        return result;
    }

    // Copies out a run of ready messages into consecutive `message_size`-byte cells of `out` (as
    // many as fit), with one standing check, one read_pos store and one wake-up check for the
    // lot. For rings of fixed-size messages only: `message_size` must be the ring's element
    // size (else buffer_too_small, nothing consumed), and a message of any other length is a
    // protocol violation (broken). Anything but a ready message first (empty, a lap, a lost
    // standing) is reported as try_pop reports it.
    [[nodiscard]] PopBatchResult try_pop_batch(std::span<std::byte> out, std::size_t message_size) noexcept {
        if (message_size != view_.geometry.element_size || out.size() < message_size) return {PopStatus::buffer_too_small};
        const std::size_t max = out.size() / message_size;
        std::size_t n = 0;
        if (cursor_ != nullptr && !broken_) {
            for (; n < max; ++n) {
                std::uint32_t length = 0;
                const std::uint64_t p = position_ + n;
                const auto read = detail::read_slot(view_.slot_at(p), p, out.subspan(n * message_size, message_size),
                                                    view_.geometry.element_size, length);
                if (read != detail::SlotRead::ready || length != message_size) break;
            }
        }
        if (n == 0) {  // the single-message path says what is there
            const PopResult one = try_pop(out.first(message_size));
            if ((one.status == PopStatus::ok || one.status == PopStatus::buffer_too_small) && one.length != message_size) {
                broken_ = true;
                return {PopStatus::broken, 0, one.lost};
            }
            return {one.status, one.status == PopStatus::ok ? std::size_t{1} : std::size_t{0}, one.lost};
        }
        // The copies count only if they came from our epoch and we still hold our slot: checked
        // after them (read_slot's acquire fences order it) and before any write of ours.
        if (const auto s = holder_.check_in(); s != detail::Standing::current) {
            lose_standing(s);
            return {standing_status(s)};
        }
        advance(n);
        return {PopStatus::ok, n, 0};
    }

    // Waits with `strategy` until a message arrives or the deadline passes. Each round of the
    // wait moves our heartbeat, so a consumer blocked here is never reaped as silent. With a
    // timeout rather than a Deadline, a message that is already there costs no clock read.
    template <class Strategy>
    [[nodiscard]] PopResult pop(std::span<std::byte> out, const Strategy& strategy, WaitLimit limit) {
        return wait_then<PopResult>([&] { return try_pop(out); }, strategy, limit);
    }
    // try_pop_batch, waiting as pop does for at least one message.
    template <class Strategy>
    [[nodiscard]] PopBatchResult pop_batch(std::span<std::byte> out, std::size_t message_size, const Strategy& strategy,
                                           WaitLimit limit) {
        return wait_then<PopBatchResult>([&] { return try_pop_batch(out, message_size); }, strategy, limit);
    }

private:
    static constexpr int kMaxAttempts = 16;

    [[nodiscard]] static PopStatus standing_status(detail::Standing s) noexcept {
        return s == detail::Standing::epoch_changed ? PopStatus::epoch_changed : PopStatus::slot_lost;
    }
    // From now on the handle is inert: it reports `s` and never writes again.
    void lose_standing(detail::Standing s) noexcept {
        lost_standing_ = s;
        cursor_ = nullptr;
        if (open_flag_ != nullptr) *std::exchange(open_flag_, nullptr) = 0;
    }

    // Futex wake-ups wait on the low word of write_pos (S5); see detail::ConsumerSleeper.
    void clear_sleeper_bit() noexcept {
        detail::ConsumerSleeper{&view_.control->sleepers, &holder_, nullptr}.withdraw();
    }

    // The slot at position_ holds a newer lap. Moves position_ to the oldest message the
    // producer may still hold and accounts the skipped positions as lost (but for the bonus
    // message of include_latest, which was never ours). \pre standing checked.
    [[nodiscard]] bool skip_lapped(PopResult& result) noexcept {
        const std::uint64_t written = detail::load_acquire(view_.control->write_pos);  // S2
        // A re-initialisation since our standing check restarts the positions: whatever
        // write_pos says now is counted only if it is still our epoch's.
        if (const auto s = holder_.standing(); s != detail::Standing::current) {
            lose_standing(s);
            result.status = standing_status(s);
            return false;
        }
        const std::uint64_t capacity = view_.geometry.capacity;
        const std::int64_t behind = detail::position_diff(written, position_);
        // write_pos may trail the slots a batch has completed by up to a ring (skip_to_latest);
        // further behind is hostile.
        if (behind < -static_cast<std::int64_t>(capacity)) {
            broken_ = true;
            result.status = PopStatus::broken;
            return false;
        }
        // Jump to the oldest position the ring can still hold. If the producer is overwriting
        // that one right now, the next attempt sees it lapped too and skips one more.
        const std::uint64_t skip = behind > static_cast<std::int64_t>(capacity) ? static_cast<std::uint64_t>(behind) - capacity : 1;
        const std::uint64_t lost = has_bonus_ && position_ == bonus_ ? skip - 1 : skip;
        has_bonus_ = false;
        position_ += skip;
        result.lost += lost;
        lost_total_ += lost;
        detail::store_relaxed(cursor_->lost, lost_total_);
        detail::store_release(cursor_->read_pos, position_);  // S3
        return true;
    }

    // `attempt` (a try_pop) until it finds something or the limit passes, waiting in between.
    template <class Result, class Attempt, class Strategy>
    [[nodiscard]] Result wait_then(Attempt&& attempt, const Strategy& strategy, WaitLimit limit) {
        Result result = attempt();
        if (result.status == PopStatus::ok) {  // the fast path reads no clock
            arrivals_.arrived_without_waiting();
            return result;
        }
        std::uint64_t lost = 0;
        Clock::time_point now = Clock::now();
        const Deadline deadline = limit.start(now);
        for (bool first = true; result.status == PopStatus::empty || result.status == PopStatus::contended; first = false) {
            lost += result.lost;
            // Checked here too: a producer that keeps lapping us makes ready() true while
            // attempt() finds nothing, and must not spin forever.
            Result timed_out{PopStatus::timed_out};
            timed_out.lost = lost;
            if (!first) now = Clock::now();
            if (deadline.passed(now)) return timed_out;
            const detail::ConsumerSleeper sleeper{&view_.control->sleepers, &holder_,
                                                  detail::low_word(view_.control->write_pos), &arrivals_,
                                                  /*publisher_may_fence_lightly=*/true};
            const auto ready = [this] {
                if (ready_approx()) return true;
                holder_.keep_alive();  // ready_approx checked the standing
                repair_cursor();
                return false;
            };
            if (wait_for(strategy, ready, sleeper, deadline) == WaitStatus::timed_out) return timed_out;
            result = attempt();
        }
        result.lost += lost;
        if (result.status == PopStatus::ok && learns_arrivals(strategy)) arrivals_.arrived(Clock::now(), true);
        return result;
    }

    // Consumes `n` messages copied out. \pre standing checked.
    void advance(std::uint64_t n = 1) noexcept {
        position_ += n;
        delivered_total_ += n;
        has_bonus_ = false;
        repair_claim();
        detail::store_relaxed(cursor_->delivered, delivered_total_);
        PANE_SCHEDULE_POINT("ring.advance.read_pos");
        detail::store_release(cursor_->read_pos, position_);  // S3
        notify_producer();
    }

    // Our cursor's words are ours, but a predecessor in our slot that was reaped between its
    // standing check and a store (docs/protocol.md 6.9) may have left a stale claim or read
    // position there: a stale position a ring behind would hold a lossless producer forever
    // (it gives no room, and we, caught up, would never store again). Put both back; cheap
    // loads of our own line when nothing is wrong. \pre standing checked.
    void repair_claim() noexcept {
        if (detail::load_relaxed(cursor_->claim) != holder_.claim) detail::store_release(cursor_->claim, holder_.claim);  // S4
    }
    void repair_cursor() noexcept {
        repair_claim();
        if (detail::load_relaxed(cursor_->read_pos) != position_) {
            detail::store_release(cursor_->read_pos, position_);  // S3
            notify_producer();
        }
    }

    // S5: a lossless producer waiting for room sleeps on our read position; wake it if it
    // announced itself (the fence pairs with the producer's fence after announcing).
    void notify_producer() noexcept {
        if (view_.wakeups && view_.policy == RingPolicy::lossless) {
            // Full, or (when the producer issues a heavy fence after announcing) light.
            detail::light_or_full_fence(holder_.asymmetric_wakes);
            // A 1.3 producer announces on the quiet line 0 too; an older one only next to write_pos.
            const std::uint32_t& waiting = holder_.producer_minor >= 3 ? view_.control->producer_sleeping
                                                                       : view_.control->producer_waiting;
            if (detail::load_relaxed(waiting) != 0) {
                detail::futex_wake_all(detail::low_word(cursor_->read_pos));
            }
        }
    }

    void unsubscribe() noexcept {
        if (cursor_ != nullptr && holder_.holds()) {
            clear_sleeper_bit();
            PANE_SCHEDULE_POINT("ring.unsubscribe.claim");
            detail::store_release(cursor_->claim, std::uint64_t{0});  // S4
        }
        cursor_ = nullptr;
        if (open_flag_ != nullptr) *std::exchange(open_flag_, nullptr) = 0;
    }

    detail::RingView view_{};
    detail::SlotHolder holder_{};
    RingCursor* cursor_ = nullptr;  // null once the handle is inert (closed, or lost its standing)
    std::uint8_t* open_flag_ = nullptr;
    std::uint64_t position_ = 0;
    std::uint64_t lost_total_ = 0;
    std::uint64_t delivered_total_ = 0;
    std::uint64_t bonus_ = 0;  // include_latest's position, while has_bonus_
    bool has_bonus_ = false;
    bool broken_ = false;
    detail::Standing lost_standing_ = detail::Standing::slot_lost;  // what an inert handle reports
    ArrivalEstimate arrivals_;  // message rate, for AutoWait when the producer is on another kernel
};

// Typed ends: T is copied as bytes, so it must be trivially copyable; the ring's element size
// must equal sizeof(T) (checked when the channel is opened), and every message's length too.
template <class T>
class RingProducer {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    RingProducer() = default;
    explicit RingProducer(ByteRingProducer bytes) noexcept : bytes_(std::move(bytes)) {}
    [[nodiscard]] PushStatus try_push(const T& value) noexcept { return bytes_.try_push(as_bytes(value)); }
    template <class Strategy>
    [[nodiscard]] PushStatus push(const T& value, const Strategy& strategy, WaitLimit limit) {
        return bytes_.push(as_bytes(value), strategy, limit);
    }
    // Publishes a prefix of `values` (all of them in overwrite mode; as many as there is room
    // for in lossless mode) with one publish and one wake-up check; returns how many.
    [[nodiscard]] std::size_t try_push_batch(std::span<const T> values) noexcept {
        return bytes_.try_push_batch(std::as_bytes(values), sizeof(T)).count;
    }
    // Publishes all of `values`, waiting for room; `count` says how many made it if it timed out.
    template <class Strategy>
    [[nodiscard]] PushBatchResult push_batch(std::span<const T> values, const Strategy& strategy, WaitLimit limit) {
        return bytes_.push_batch(std::as_bytes(values), sizeof(T), strategy, limit);
    }
    [[nodiscard]] ByteRingProducer& bytes() noexcept { return bytes_; }

private:
    static std::span<const std::byte> as_bytes(const T& value) noexcept {
        return {reinterpret_cast<const std::byte*>(&value), sizeof(T)};
    }
    ByteRingProducer bytes_;
};

template <class T>
class RingConsumer {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    RingConsumer() = default;
    explicit RingConsumer(ByteRingConsumer bytes) noexcept : bytes_(std::move(bytes)) {}
    [[nodiscard]] PopResult try_pop(T& out) noexcept { return checked(bytes_.try_pop(as_bytes(out))); }
    template <class Strategy>
    [[nodiscard]] PopResult pop(T& out, const Strategy& strategy, WaitLimit limit) {
        return checked(bytes_.pop(as_bytes(out), strategy, limit));
    }
    // Copies the messages that are ready into `out`, in order, as many as fit, with one
    // read_pos store and one wake-up check; status ok when count > 0.
    [[nodiscard]] PopBatchResult try_pop_batch(std::span<T> out) noexcept {
        return bytes_.try_pop_batch(std::as_writable_bytes(out), sizeof(T));
    }
    // As try_pop_batch, waiting for at least one message.
    template <class Strategy>
    [[nodiscard]] PopBatchResult pop_batch(std::span<T> out, const Strategy& strategy, WaitLimit limit) {
        return bytes_.pop_batch(std::as_writable_bytes(out), sizeof(T), strategy, limit);
    }
    [[nodiscard]] ByteRingConsumer& bytes() noexcept { return bytes_; }

private:
    static std::span<std::byte> as_bytes(T& value) noexcept { return {reinterpret_cast<std::byte*>(&value), sizeof(T)}; }
    // A message of another length in a typed ring is a protocol violation, not a short read.
    PopResult checked(PopResult r) noexcept {
        if ((r.status == PopStatus::ok || r.status == PopStatus::buffer_too_small) && r.length != sizeof(T)) {
            bytes_.mark_broken();
            r.status = PopStatus::broken;
        }
        return r;
    }
    ByteRingConsumer bytes_;
};

}  // namespace pane
