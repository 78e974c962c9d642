// SPDX-License-Identifier: MIT
// Where everything of a ring channel lives, computed from its three parameters. The producer
// uses it to lay a ring out; a consumer recomputes it and requires the producer's numbers to
// match exactly, so a hostile or corrupt RingControl cannot point anywhere the formula does not.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <cstdint>
#include <optional>

#include "../layout.hpp"
#include "bounds.hpp"
#include "word_copy.hpp"

namespace pane::detail {

inline constexpr std::uint32_t kMinRingCapacity = 2;
inline constexpr std::uint32_t kMaxRingCapacity = 1u << 24;
inline constexpr std::uint32_t kMaxRingElement = 16u << 20;  // 16 MiB per message

struct RingGeometry {
    std::uint32_t capacity;
    std::uint32_t element_size;
    std::uint32_t slot_stride;
    std::uint32_t cursor_count;
    std::uint64_t cursors_offset;  // from channel start
    std::uint64_t slots_offset;    // from channel start
    std::uint64_t total_size;      // bytes, a multiple of kChannelAlignment
};

[[nodiscard]] constexpr std::optional<RingGeometry> ring_geometry(std::uint32_t capacity, std::uint32_t element_size,
                                                                  std::uint32_t cursor_count) noexcept {
    if (!is_power_of_two(capacity) || capacity < kMinRingCapacity || capacity > kMaxRingCapacity) return std::nullopt;
    if (element_size == 0 || element_size > kMaxRingElement) return std::nullopt;
    if (cursor_count == 0 || cursor_count > kMaxConsumers) return std::nullopt;
    RingGeometry g{};
    g.capacity = capacity;
    g.element_size = element_size;
    g.slot_stride = static_cast<std::uint32_t>(round_up(sizeof(RingSlotHeader) + std::uint64_t{element_size}, 8));
    g.cursor_count = cursor_count;
    g.cursors_offset = round_up(sizeof(RingControl), kCacheLine);
    g.slots_offset = round_up(g.cursors_offset + std::uint64_t{cursor_count} * sizeof(RingCursor), kCacheLine);
    // capacity <= 2^24 and stride < 2^25, so this cannot overflow 64 bits.
    g.total_size = round_up(g.slots_offset + std::uint64_t{capacity} * g.slot_stride, kChannelAlignment);
    return g;
}

}  // namespace pane::detail
