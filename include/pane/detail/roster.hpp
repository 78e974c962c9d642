// SPDX-License-Identifier: MIT
// The producer's private view of the consumer slot table: which slots hold a live consumer,
// under which claim value, and when each heartbeat last moved (on the producer's own clock).
// It reaps a consumer whose heartbeat has not moved for the region's consumer timeout by writing
// the producer-owned `reaped_claim`; it never writes a consumer's word. Rings consult it so a
// dead or detached consumer never holds a lossless producer back.
//
// Its verdicts are private (protocol 1.4): the claim it last reaped or released in each slot,
// its reap counts, and the slots the embedder evicted and blocked are kept here and only
// published. Any process that maps the region can write `reaped_claim`; if the holder test read
// the verdict back, a reaped consumer could un-reap itself by writing it, and evict() would not
// stick.
//
// Slot handshake (docs/protocol.md, "Consumer slots"):
//   claim       consumers only, compare-exchange: even -> even+1 (free slot), or odd c -> c+2
//               when reaped_claim == c (slot reaped from a dead holder). Detach: c -> c+1.
//   reaped_claim  producer only: "the holder with claim c is gone"; the slot is free again.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <array>
#include <bit>
#include <cstdint>

#include "../layout.hpp"
#include "../wait.hpp"
#include "atomic.hpp"
#include "host_id.hpp"
#include "schedule_point.hpp"

namespace pane::detail {

[[nodiscard]] constexpr bool claim_held(std::uint64_t claim) noexcept { return (claim & 1u) != 0; }

// The holder test: `claim` is the slot's current claim and the producer has not reaped it. Read
// from the slot table itself. Pairs with consumers' claim compare-exchange (acq_rel) and the
// roster's store_release of reaped_claim.
[[nodiscard]] inline bool claim_holds_slot(const ConsumerSlot& slot, std::uint64_t claim) noexcept {
    return claim_held(claim) && load_acquire(slot.claim) == claim && load_acquire(slot.reaped_claim) != claim;
}

// The consumer slots a consumer on the kernel `own_host` may claim (layout.hpp,
// kRegionFlagSlotSides): its side's range, or every slot where the region has no sides.
struct SlotRange {
    std::uint32_t first;
    std::uint32_t end;
};
[[nodiscard]] inline SlotRange claimable_slots(const RegionHeader& validated, std::uint64_t own_host) noexcept {
    if ((validated.flags & kRegionFlagSlotSides) == 0) return {0, validated.max_consumers};
    const bool local = own_host != 0 && own_host == validated.producer_host_id;
    return local ? SlotRange{0, validated.local_slots} : SlotRange{validated.local_slots, validated.max_consumers};
}

class ConsumerRoster {
public:
    // `asymmetric_wakes`: this epoch's kRegionFlagAsymmetricWake (the producer's process is
    // registered for membarrier barriers). `region_epoch`, when given, is the header's epoch word:
    // once it no longer says `epoch`, another producer has taken the region over and the roster
    // reaps nothing more (protocol 6.8, "A replaced producer").
    ConsumerRoster(ConsumerSlot* slots, std::uint32_t count, std::uint64_t epoch, Clock::duration timeout,
                   bool asymmetric_wakes, const std::uint64_t* region_epoch = nullptr) noexcept
        : slots_(slots), count_(count), epoch_(epoch), timeout_(timeout), asymmetric_wakes_(asymmetric_wakes),
          region_epoch_(region_epoch) {}

    // At (re)initialisation, after the slot's reaped_claim was laid out as `released`: the
    // roster's own record of that verdict (never read back from the region).
    void note_released(std::uint32_t index, std::uint64_t released) noexcept { reaped_[index] = released; }

    // At (re)initialisation: every slot still held belongs to the previous epoch. Mark each
    // released so a consumer can claim it again; the holders noticed the epoch change (or are dead).
    void release_all_held() noexcept {
        for (std::uint32_t i = 0; i < count_; ++i) {
            ConsumerSlot& slot = slots_[i];
            const std::uint64_t claim = load_acquire(slot.claim);  // pairs with consumers' claim CAS
            if (claim_held(claim) && claim != load_relaxed(slot.reaped_claim)) reap(i, claim);
        }
    }

    // Scans every slot: notes new holders, records heartbeat movement, reaps the silent.
    void refresh(Clock::time_point now) noexcept {
        if (!owns_slots()) return;
        last_refresh_ = now;
        refreshed_ = true;
        for (std::uint32_t i = 0; i < count_; ++i) refresh_slot(i, now);
    }

    // refresh(), at most once a millisecond: cheap enough to call from a producer's wait loop.
    void refresh_if_due(Clock::time_point now) noexcept {
        if (now - last_refresh_ >= std::chrono::milliseconds(1)) refresh(now);
    }

    // The holder test for slot `index`, on the slot table rather than the last refresh, so a
    // consumer that attached a moment ago already counts; with our own verdicts: a claim we
    // reaped (whatever reaped_claim says now) and every claim in a blocked slot never count.
    [[nodiscard]] bool holds(std::uint32_t index, std::uint64_t claim) const noexcept {
        if (index >= count_ || (blocked_ & (std::uint64_t{1} << index)) != 0 || claim == reaped_[index]) return false;
        return claim_holds_slot(slots_[index], claim);
    }

    // Reaps the current holder of slot `index` now, whatever its heartbeat (the embedder's
    // policy: a slot hog, a consumer holding frames back). With `block`, every later holder of
    // the slot is ignored too (no cursor, lease or control ring of that slot counts, and it is
    // never live) until unblock() or the next initialisation. Returns whether a holder was reaped.
    bool evict(std::uint32_t index, bool block) noexcept {
        if (index >= count_ || !owns_slots()) return false;
        if (block) blocked_ |= std::uint64_t{1} << index;
        const std::uint64_t claim = load_acquire(slots_[index].claim);  // pairs with consumers' claim CAS
        const bool held = claim_held(claim) && claim != reaped_[index];
        if (held) reap(index, claim);
        forget(index);
        return held;
    }
    void unblock(std::uint32_t index) noexcept {
        if (index < count_) blocked_ &= ~(std::uint64_t{1} << index);
    }
    [[nodiscard]] std::uint64_t blocked_mask() const noexcept { return blocked_; }

    // What the roster knows of slot `index` as of its last refresh: the claim it follows (0 =
    // none) and how long its heartbeat has been still on the producer's clock.
    [[nodiscard]] Clock::duration silent_for(std::uint32_t index, Clock::time_point now) const noexcept {
        return claims_[index] == 0 ? Clock::duration::zero() : now - moved_at_[index];
    }

    // Whether the holder of slot `index` said it runs on our kernel, so that a futex wake from
    // it can reach us. A lie costs the liar only its own latency (waits stay bounded).
    [[nodiscard]] bool shares_kernel(std::uint32_t index) const noexcept {
        return same_kernel(load_relaxed(slots_[index].host_id));  // the holder's word, written once at claim
    }

    // Whether a publish may check for sleepers after a compiler barrier alone (wake_sleepers):
    // the region says so, the slots have been scanned at least once, and no holder that may
    // sleep on our futex (on our kernel, or naming none: 1.0 and 1.1) lacked
    // kConsumerFeatureHeavyFence under its own claim at the last refresh. A holder that claimed
    // its slot since then is not known yet: if it is an older consumer, each of its sleeps until
    // the next refresh can miss a wake (in the instant a publish's stores are not yet visible),
    // which its futex slice bounds. Holders that name another kernel never sleep on our futex.
    [[nodiscard]] bool light_wakes() const noexcept {
        return asymmetric_wakes_ && refreshed_ && heavy_fence_missing_ == 0;
    }
    // Whether the producer issues a heavy fence before sleeping for room (kRegionFlagAsymmetricWake).
    [[nodiscard]] bool asymmetric_wakes() const noexcept { return asymmetric_wakes_; }

    [[nodiscard]] std::uint64_t live_mask() const noexcept { return live_mask_; }
    [[nodiscard]] std::uint64_t claim_of(std::uint32_t index) const noexcept { return claims_[index]; }
    [[nodiscard]] std::uint32_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t reaped_total() const noexcept { return reaped_total_; }

private:
    // Pairs with the store_release of `epoch` by whichever producer initialised the region last.
    [[nodiscard]] bool owns_slots() const noexcept {
        return region_epoch_ == nullptr || load_acquire(*region_epoch_) == epoch_;
    }

    void refresh_slot(std::uint32_t i, Clock::time_point now) noexcept {
        ConsumerSlot& slot = slots_[i];
        const std::uint64_t bit = std::uint64_t{1} << i;
        // Pairs with the consumer's claim compare-exchange (acq_rel) and its release of `state`.
        const std::uint64_t claim = load_acquire(slot.claim);
        // Our own verdict, not reaped_claim read back: a holder could write that word.
        if (!claim_held(claim) || claim == reaped_[i] || (blocked_ & bit) != 0) {
            forget(i);
            return;
        }
        const std::uint64_t heartbeat = load_acquire(slot.heartbeat);
        if (claim != claims_[i]) {  // a new holder: start its clock now
            claims_[i] = claim;
            heartbeats_[i] = heartbeat;
            moved_at_[i] = now;
        } else if (heartbeat != heartbeats_[i]) {
            heartbeats_[i] = heartbeat;
            moved_at_[i] = now;
        } else if (now - moved_at_[i] > timeout_) {
            reap(i, claim);
            forget(i);
            return;
        }
        // Pairs with the consumer's store_release(state) after it wrote attach_epoch.
        const auto state = static_cast<ConsumerState>(load_acquire(slot.state));
        const bool live = state == ConsumerState::attached && load_relaxed(slot.attach_epoch) == epoch_;
        live_mask_ = live ? (live_mask_ | bit) : (live_mask_ & ~bit);
        // Until its state says attached, a holder may not have written its features yet; and a
        // holder that writes none (1.2 and older) leaves its predecessor's, under another claim.
        const bool heavy_fence = live && load_relaxed(slot.features_claim) == claim &&
                                 (load_relaxed(slot.features) & kConsumerFeatureHeavyFence) != 0;
        // A holder that names no kernel (1.0 and 1.1 write no host_id) may sleep on our futex.
        const std::uint64_t holder_host = load_relaxed(slot.host_id);
        const bool may_sleep_here = holder_host == 0 || same_kernel(holder_host);
        heavy_fence_missing_ = (may_sleep_here && !heavy_fence) ? (heavy_fence_missing_ | bit) : (heavy_fence_missing_ & ~bit);
    }

    void forget(std::uint32_t i) noexcept {
        claims_[i] = 0;
        live_mask_ &= ~(std::uint64_t{1} << i);
        heavy_fence_missing_ &= ~(std::uint64_t{1} << i);
    }

    void reap(std::uint32_t i, std::uint64_t claim) noexcept {
        ConsumerSlot& slot = slots_[i];
        PANE_SCHEDULE_POINT("roster.reap");
        // Again here, not only per scan: a producer stopped in the middle of a scan and taken
        // over meanwhile must not write into its successor's slots (which may now be other bytes).
        if (!owns_slots()) return;
        reaped_[i] = claim;
        store_relaxed(slot.reap_count, ++reap_counts_[i]);  // published, never read back
        // Pairs with a claiming consumer's load_acquire(reaped_claim) before its compare-exchange,
        // and with the reaped holder's check in ConsumerSession::tick.
        store_release(slot.reaped_claim, claim);
        ++reaped_total_;
    }

    ConsumerSlot* slots_;
    std::uint32_t count_;
    std::uint64_t epoch_;
    Clock::duration timeout_;
    Clock::time_point last_refresh_{};
    std::uint64_t live_mask_ = 0;
    std::uint64_t heavy_fence_missing_ = 0;  // holders that may sleep on our futex, without the feature
    bool asymmetric_wakes_ = false;
    const std::uint64_t* region_epoch_ = nullptr;  // the header's epoch word (owns_slots)
    bool refreshed_ = false;  // light_wakes() needs one scan of the slots first
    std::uint64_t reaped_total_ = 0;
    std::array<std::uint64_t, kMaxConsumers> claims_{};
    std::array<std::uint64_t, kMaxConsumers> heartbeats_{};
    std::array<Clock::time_point, kMaxConsumers> moved_at_{};
    std::array<std::uint64_t, kMaxConsumers> reaped_{};       // the claim last reaped or released, per slot
    std::array<std::uint64_t, kMaxConsumers> reap_counts_{};  // since this roster began (published in reap_count)
    std::uint64_t blocked_ = 0;                               // slots evicted with block
};

}  // namespace pane::detail
