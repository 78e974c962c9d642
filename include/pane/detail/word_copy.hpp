// SPDX-License-Identifier: MIT
// Copies between private memory and a shared payload that the other side may be writing at the
// same time (seqlock-protected ring slots, cursor shape, cursor position). Each 8-byte word moves
// with a relaxed atomic access, so a concurrent overwrite is a detectable torn read (caught by the
// caller's sequence re-check) and never a C++ data race: TSan stays quiet and the compiler cannot
// assume the source is stable. The caller orders the copy with the seqlock fences.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pane::detail {

inline constexpr std::size_t kWordBytes = 8;

[[nodiscard]] constexpr std::uint64_t round_up(std::uint64_t value, std::uint64_t multiple) noexcept {
    return (value + multiple - 1) / multiple * multiple;
}

// dst_shared must be 8-byte aligned; its capacity is at least round_up(bytes, 8).
inline void copy_to_shared(std::byte* dst_shared, const std::byte* src, std::size_t bytes) noexcept {
    auto* words = reinterpret_cast<std::uint64_t*>(dst_shared);
    std::size_t i = 0;
    for (; i + kWordBytes <= bytes; i += kWordBytes) {
        std::uint64_t w;
        std::memcpy(&w, src + i, kWordBytes);
        std::atomic_ref<std::uint64_t>(words[i / kWordBytes]).store(w, std::memory_order_relaxed);
    }
    if (i < bytes) {
        std::uint64_t w = 0;
        std::memcpy(&w, src + i, bytes - i);
        std::atomic_ref<std::uint64_t>(words[i / kWordBytes]).store(w, std::memory_order_relaxed);
    }
}

// src_shared must be 8-byte aligned and hold at least round_up(bytes, 8) readable bytes.
inline void copy_from_shared(std::byte* dst, const std::byte* src_shared, std::size_t bytes) noexcept {
    auto* words = reinterpret_cast<std::uint64_t*>(const_cast<std::byte*>(src_shared));
    std::size_t i = 0;
    for (; i + kWordBytes <= bytes; i += kWordBytes) {
        const std::uint64_t w =
            std::atomic_ref<std::uint64_t>(words[i / kWordBytes]).load(std::memory_order_relaxed);
        std::memcpy(dst + i, &w, kWordBytes);
    }
    if (i < bytes) {
        const std::uint64_t w =
            std::atomic_ref<std::uint64_t>(words[i / kWordBytes]).load(std::memory_order_relaxed);
        std::memcpy(dst + i, &w, bytes - i);
    }
}

// dst_shared must be 8-byte aligned; bytes a multiple of 8.
inline void zero_shared(std::byte* dst_shared, std::uint64_t bytes) noexcept {
    auto* words = reinterpret_cast<std::uint64_t*>(dst_shared);
    for (std::uint64_t i = 0; i < bytes / kWordBytes; ++i) {
        std::atomic_ref<std::uint64_t>(words[i]).store(0, std::memory_order_relaxed);
    }
}

}  // namespace pane::detail
