// SPDX-License-Identifier: MIT
// What a channel handle needs from its session: where the channel is, who is live (producer),
// and which slot and claim it acts for (consumer). Sessions build these after validating the
// channel table; channel headers validate their own control lines against their geometry.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <cstddef>
#include <cstdint>
#include <span>

#include "../layout.hpp"
#include "../wait.hpp"
#include "asymmetric_fence.hpp"
#include "atomic.hpp"
#include "futex.hpp"
#include "roster.hpp"
#include "schedule_point.hpp"

namespace pane::detail {

struct ProducerContext {
    std::byte* channel;  // channel start (trusted: the producer laid it out)
    ChannelEntry entry;
    ConsumerRoster* roster;
    std::uint32_t max_consumers;
    bool write_combining;
    std::uint64_t init_count;  // the header's: where generations and serials start (epoch_base.hpp)
    // Frames: how long a lease may keep a buffer from reuse when no other is free (ProducerOptions).
    std::chrono::milliseconds frame_lease_limit = std::chrono::milliseconds::max();
};

// Where a consumer handle stands: still in the epoch and slot it was opened under, or not.
enum class Standing {
    current,        // the producer is in our epoch and we hold our slot
    epoch_changed,  // the producer re-initialised (or is doing so): nothing here is ours any more
    slot_lost,      // the producer reaped us (or we detached): our slot's words belong to others
};

// A consumer's proof of its slot and epoch. Every channel handle checks it on every data-path
// call, after copying anything out and before writing any of its own words, so a handle that
// outlived its epoch or slot says so instead of returning another epoch's data or scribbling on
// words a successor owns. The checks are loads of rarely-written lines: cheap when nothing changed.
struct SlotHolder {
    ConsumerSlot* slot = nullptr;
    const RegionHeader* header = nullptr;
    std::uint32_t index = 0;
    std::uint64_t claim = 0;
    std::uint64_t epoch = 0;
    // The producer runs on our kernel (its header's producer_host_id is ours): its futex wakes
    // reach us. Across a VM boundary they do not, and waits must not rely on them.
    bool producer_shares_kernel = false;
    // Wake-up handshakes with the producer use asymmetric fences (kRegionFlagAsymmetricWake, and
    // this process registered): announce, then heavy_fence(), before a futex sleep; a compiler
    // barrier between storing our read position and checking producer_sleeping.
    bool asymmetric_wakes = false;
    std::uint16_t producer_minor = 0;  // the producer's protocol minor version (validated header)

    // The epoch first: the header sits at a fixed offset, so this load is sound even when a new
    // layout has moved the slot table. A copy-out followed by an acquire fence and this check
    // proves the copy came from our epoch: the producer stores epoch 0 and fences before it
    // rewrites anything (docs/protocol.md, "Re-initialisation").
    [[nodiscard]] Standing standing() const noexcept {
        if (slot == nullptr) return Standing::slot_lost;
        PANE_SCHEDULE_POINT("holder.epoch");
        if (load_acquire(header->epoch) != epoch) return Standing::epoch_changed;  // pairs with init's release stores
        PANE_SCHEDULE_POINT("holder.claim");
        if (!claim_holds_slot(*slot, claim)) return Standing::slot_lost;
        return Standing::current;
    }
    [[nodiscard]] bool holds() const noexcept { return standing() == Standing::current; }
    [[nodiscard]] std::uint64_t bit() const noexcept { return std::uint64_t{1} << index; }

    // Liveness: a consumer is alive while its heartbeat moves, and every data-path call and
    // every round of a blocking wait moves it, so a reader that reads or waits is never reaped
    // however rarely it calls tick(). Our own word (C); the roster only compares it for change.
    // A plain load and store, not an increment: handles on several threads may race here, and
    // any of their stores still moves the word. \pre standing() == current, just checked.
    void keep_alive() const noexcept {
        PANE_SCHEDULE_POINT("holder.heartbeat");
        store_relaxed(slot->heartbeat, load_relaxed(slot->heartbeat) + 1);  // roster: load_acquire(heartbeat)
    }
    // Both in one: the standing, and a heartbeat when it is current.
    [[nodiscard]] Standing check_in() const noexcept {
        const Standing s = standing();
        if (s == Standing::current) keep_alive();
        return s;
    }
};

struct ConsumerContext {
    std::byte* channel;  // channel start; entry.size bytes validated to lie inside the region
    ChannelEntry entry;  // validated copy
    SlotHolder holder;
    std::uint32_t max_consumers;
    std::uint8_t* open_flag;  // the session's "this channel is open" byte, cleared on close
};

// Futex sleeper for a consumer waiting on a producer-written position or sequence word. It
// offers no word when the producer is on another kernel (no wake could reach us), so the wait
// strategy sleeps on its own schedule instead and nobody announces in vain. The
// sleepers word is consumer-only shared state: consumers set and clear their own bit with
// fetch_or / fetch_and among themselves; the producer only reads it. See wait.hpp for the
// announce / fence / re-check handshake. Both RMWs are gated on the holder test, so a consumer
// that lost its slot or epoch never modifies a word of a successor or of a new layout.
struct ConsumerSleeper {
    std::uint64_t* sleepers;
    const SlotHolder* holder;
    const std::uint32_t* waited;
    const ArrivalEstimate* arrival_estimate = nullptr;  // the handle's, for AutoWait across kernels
    // The word is a ring's write_pos, whose publish may use a light fence (7.6): only then does
    // announcing need the heavy one. Row progress and cursor positions are published with full
    // fences, and a membarrier there would cost a system call and IPIs for nothing.
    bool publisher_may_fence_lightly = false;

    [[nodiscard]] const ArrivalEstimate* arrivals() const noexcept { return arrival_estimate; }

    [[nodiscard]] const std::uint32_t* word() const noexcept {
        return holder->producer_shares_kernel ? waited : nullptr;
    }
    void announce() const noexcept {
        if (!holder->producer_shares_kernel || !holder->holds()) return;
        std::atomic_ref<std::uint64_t>(*sleepers).fetch_or(holder->bit(), std::memory_order_relaxed);  // consumer-only word
        // Pairs with the producer's light fence between its publish and its check of the
        // sleepers word (wake_sleepers); the wait's own fence follows (wait.hpp).
        if (publisher_may_fence_lightly && holder->asymmetric_wakes) heavy_fence();
    }
    // Never on another kernel than the producer's: such a consumer never announces, and an RMW
    // from there could race with this side's (layout.hpp). With slot sides its slot's bit is
    // never set by a 1.2 consumer. Without sides a dead local consumer's bit can outlive it in a
    // slot a remote consumer takes next: that costs the producer a needless wake system call
    // per publish until a local consumer holds the slot again, never a lost wake.
    void withdraw() const noexcept {
        if (!holder->producer_shares_kernel || !holder->holds()) return;
        std::atomic_ref<std::uint64_t>(*sleepers).fetch_and(~holder->bit(), std::memory_order_relaxed);  // consumer-only word
    }
};

// Producer side of the same handshake, after publishing a change to `word`. `light`: every
// consumer that may sleep on it issues a heavy fence after announcing (the roster's
// light_wakes()); otherwise a full fence, which pairs with FutexWait's fence after announce.
inline void wake_sleepers(const std::uint64_t& sleepers, const std::uint32_t* word, bool light) noexcept {
    light_or_full_fence(light);
    if (load_relaxed(sleepers) != 0) futex_wake_all(word);
}

}  // namespace pane::detail
