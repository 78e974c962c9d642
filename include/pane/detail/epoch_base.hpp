// SPDX-License-Identifier: MIT
// Where a producer's generations and serials start in each epoch. They must never repeat across
// the epochs of one region, so that nothing a consumer kept from an earlier epoch (a frame view,
// a shape serial) can match this one's. The region header's init_count, which the producer
// carries over at every re-initialisation, goes into their high bits.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <cstdint>

namespace pane::detail {

// Buffer generations: a lease packs a generation below 2^58 (make_lease), so the init count
// modulo 2^22 sits above 36 bits of per-epoch count (2^36 reuses of one buffer: two years at
// 1000 frames/s). Never 0: a lease of 0 means "none".
[[nodiscard]] constexpr std::uint64_t first_generation(std::uint64_t init_count) noexcept {
    return ((init_count & ((std::uint64_t{1} << 22) - 1)) << 36) | 1u;
}

// Frame, cursor shape and cursor position serials: the init count modulo 2^24 above 40 bits of
// per-epoch count. The first item published in an epoch gets first_serial + 1.
[[nodiscard]] constexpr std::uint64_t first_serial(std::uint64_t init_count) noexcept {
    return (init_count & ((std::uint64_t{1} << 24) - 1)) << 40;
}

}  // namespace pane::detail
