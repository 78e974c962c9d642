// SPDX-License-Identifier: MIT
// Bounds checks for offsets and sizes read from the region. Everything the other side wrote is
// hostile: ranges are checked in 64-bit arithmetic that cannot overflow, against the mapped size
// fixed at attach time, before any pointer is formed.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <cstddef>
#include <cstdint>

namespace pane::detail {

// True when [offset, offset + length) lies inside [0, limit).
[[nodiscard]] constexpr bool range_fits(std::uint64_t offset, std::uint64_t length, std::uint64_t limit) noexcept {
    return offset <= limit && length <= limit - offset;
}

[[nodiscard]] constexpr bool is_aligned(std::uint64_t value, std::uint64_t alignment) noexcept {
    return alignment != 0 && value % alignment == 0;
}

[[nodiscard]] constexpr bool is_power_of_two(std::uint64_t v) noexcept { return v != 0 && (v & (v - 1)) == 0; }

// a * b, or false on 64-bit overflow.
[[nodiscard]] constexpr bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
    if (a != 0 && b > UINT64_MAX / a) return false;
    out = a * b;
    return true;
}

[[nodiscard]] constexpr bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
    if (b > UINT64_MAX - a) return false;
    out = a + b;
    return true;
}

// Signed distance a - b of free-running positions (mod 2^64). Well defined in C++20.
[[nodiscard]] constexpr std::int64_t position_diff(std::uint64_t a, std::uint64_t b) noexcept {
    return static_cast<std::int64_t>(a - b);
}

}  // namespace pane::detail
