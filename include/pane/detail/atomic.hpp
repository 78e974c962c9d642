// SPDX-License-Identifier: MIT
// Atomic access to plain fields of the shared region. The region holds no std::atomic (its
// layout must be identical for C, Windows and i386 peers), so every shared access goes through
// std::atomic_ref on a plain fixed-width integer. These helpers keep each call site to one line
// and make the ordering visible in its name; the caller's comment names the partner operation.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <atomic>
#include <cstdint>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#include <immintrin.h>
#define PANE_X86 1
#endif

namespace pane::detail {

template <class T>
concept SharedWord = std::is_same_v<T, std::uint32_t> || std::is_same_v<T, std::uint64_t>;

// Lock-freedom is a correctness requirement here, not a speed hint: a lock inside atomic_ref
// would be process-local and would not protect the other side of the region.
static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::required_alignment <= 8);

template <SharedWord T>
[[nodiscard]] inline T load_acquire(const T& word) noexcept {
    return std::atomic_ref<T>(const_cast<T&>(word)).load(std::memory_order_acquire);
}

template <SharedWord T>
[[nodiscard]] inline T load_relaxed(const T& word) noexcept {
    return std::atomic_ref<T>(const_cast<T&>(word)).load(std::memory_order_relaxed);
}

template <SharedWord T>
inline void store_release(T& word, T value) noexcept {
    std::atomic_ref<T>(word).store(value, std::memory_order_release);
}

template <SharedWord T>
inline void store_relaxed(T& word, T value) noexcept {
    std::atomic_ref<T>(word).store(value, std::memory_order_relaxed);
}

// A full fence for the Dekker-style "announce, then re-check" handshakes (futex sleepers, the
// lossless producer). Both sides of such a handshake use it; see wait.hpp.
inline void fence_seq_cst() noexcept { std::atomic_thread_fence(std::memory_order_seq_cst); }

// On a write-combining mapping (the guest's IVSHMEM resource2_wc) x86 stores may be reordered
// with each other and a release store is a plain mov, so publication needs an sfence before the
// store that publishes. On cached memory the release fence alone is enough; callers ask for the
// WC fence only when the mapping is write-combining (ProducerOptions::write_combining).
// SFENCE needs SSE, which an i386 target does not assume: there the full fence (a locked
// instruction) also drains the write-combining buffers.
inline void write_combining_fence() noexcept {
#if defined(__x86_64__) || defined(_M_X64) || defined(__SSE__)
    _mm_sfence();
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

inline void cpu_relax() noexcept {
#if defined(PANE_X86)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

}  // namespace pane::detail
