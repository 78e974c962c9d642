// SPDX-License-Identifier: MIT
// Asymmetric fences for the futex wake-up handshakes (S5 in ring.hpp, wait.hpp). A waker checks
// for sleepers after every publish; a waiter announces itself only before it sleeps, which is
// rare. A symmetric Dekker handshake makes both pay a full fence, so every message paid one.
// Here the frequent side (the "light" side) pays only a compiler barrier and the rare side (the
// "heavy" side, about to sleep anyway) pays a membarrier(2) system call: MEMBARRIER_CMD_GLOBAL_
// EXPEDITED makes every running thread of every process registered for it pass a full memory
// barrier before the call returns. So either the light side's check comes after that barrier
// and sees the announcement, or its publish came before it and is visible to the waiter's
// re-check: the same guarantee as two fences.
//
// It holds only if the light side's process has registered (MEMBARRIER_CMD_REGISTER_GLOBAL_
// EXPEDITED) and the heavy side's call succeeds. Both are known before use: a process registers
// once (register_for_light_fences), and says so in the region (the producer in the header flag
// kRegionFlagAsymmetricWake, a consumer in its slot's kConsumerFeatureHeavyFence); every side
// that cannot falls back to full fences, which stay correct against either kind of peer.
// Linux only; elsewhere nobody registers and every fence is full.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <atomic>

#include "atomic.hpp"

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace pane::detail {

#if defined(__linux__) && defined(SYS_membarrier)
// Registers this process, once, to receive global expedited barriers; true if it is registered
// (then its light fences are valid against peers that issue heavy ones). Also true only where
// this process can issue them itself. Thread-safe (a function-local static).
[[nodiscard]] inline bool register_for_light_fences() noexcept {
    static const bool registered = [] {
        const long supported = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
        if (supported < 0 || (supported & MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0 ||
            (supported & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0) {
            return false;
        }
        return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
    }();
    return registered;
}

// The heavy side: a full barrier here and in every running thread of every registered process.
// Falls back to a full fence of our own if the call fails (a seccomp filter appearing after
// registration, say): the peer's light fence is then not covered, which costs at most one
// missed wake, bounded by the waiter's futex slice.
inline void heavy_fence() noexcept {
    fence_seq_cst();
    if (::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) != 0) fence_seq_cst();
}
#else
[[nodiscard]] inline bool register_for_light_fences() noexcept { return false; }
inline void heavy_fence() noexcept { fence_seq_cst(); }
#endif

// The light side: only the compiler may not reorder across it. Valid only when the peer that
// pairs with it issues heavy_fence() (see above); otherwise use fence_seq_cst().
inline void light_fence() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

// One side of a handshake whose peer may or may not pair with a heavy fence.
inline void light_or_full_fence(bool light) noexcept {
    if (light) {
        light_fence();
    } else {
        fence_seq_cst();
    }
}

}  // namespace pane::detail
