// SPDX-License-Identifier: MIT
// What a channel handle needs from its session: where the channel is, who is live (producer),
// and which slot and claim it acts for (consumer). Sessions build these after validating the
// channel table; channel headers validate their own control lines against their geometry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "../layout.hpp"
#include "atomic.hpp"
#include "futex.hpp"
#include "roster.hpp"

namespace pane::detail {

struct ProducerContext {
    std::byte* channel;  // channel start (trusted: the producer laid it out)
    ChannelEntry entry;
    ConsumerRoster* roster;
    std::uint32_t max_consumers;
    bool write_combining;
};

// A consumer's proof of its slot: a claim value it checks before writing its own words, so a
// consumer that was reaped (or released at re-initialisation) stops writing words a successor owns.
struct SlotHolder {
    const ConsumerSlot* slot = nullptr;
    std::uint32_t index = 0;
    std::uint64_t claim = 0;

    [[nodiscard]] bool holds() const noexcept { return slot != nullptr && claim_holds_slot(*slot, claim); }
    [[nodiscard]] std::uint64_t bit() const noexcept { return std::uint64_t{1} << index; }
};

struct ConsumerContext {
    std::byte* channel;  // channel start; entry.size bytes validated to lie inside the region
    ChannelEntry entry;  // validated copy
    SlotHolder holder;
    std::uint32_t max_consumers;
    std::uint8_t* open_flag;  // the session's "this channel is open" byte, cleared on close
};

// Futex sleeper for a consumer waiting on a producer-written position or sequence word. The
// sleepers word is consumer-only shared state: consumers set and clear their own bit with
// fetch_or / fetch_and among themselves; the producer only reads it. See wait.hpp for the
// announce / fence / re-check handshake.
struct ConsumerSleeper {
    std::uint64_t* sleepers;
    std::uint64_t bit;
    const std::uint32_t* waited;

    [[nodiscard]] const std::uint32_t* word() const noexcept { return waited; }
    void announce() const noexcept {
        std::atomic_ref<std::uint64_t>(*sleepers).fetch_or(bit, std::memory_order_relaxed);  // consumer-only word
    }
    void withdraw() const noexcept {
        std::atomic_ref<std::uint64_t>(*sleepers).fetch_and(~bit, std::memory_order_relaxed);  // consumer-only word
    }
};

// Producer side of the same handshake, after publishing a change to `word`.
inline void wake_sleepers(const std::uint64_t& sleepers, const std::uint32_t* word) noexcept {
    fence_seq_cst();  // pairs with FutexWait's fence after announce
    if (load_relaxed(sleepers) != 0) futex_wake_all(word);
}

}  // namespace pane::detail
