// SPDX-License-Identifier: MIT
// A consumer's validated private copy of the region header and channel table. The copy is taken
// once, validated, and used from then on: the producer may rewrite the shared originals at any
// time, and a consumer must never form a pointer from a value it has not checked.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "../layout.hpp"
#include "../result.hpp"
#include "bounds.hpp"
#include "ring_geometry.hpp"
#include "word_copy.hpp"

namespace pane::detail {

struct CheckedRegion {
    RegionHeader header{};
    std::vector<ChannelEntry> channels;
};

[[nodiscard]] inline std::string_view entry_name(const ChannelEntry& e) noexcept {
    return {e.name, strnlen(e.name, kChannelNameBytes)};
}

// Validates a header copy against the size actually mapped.
[[nodiscard]] inline std::optional<AttachError> check_header(const RegionHeader& h, std::uint64_t mapped) noexcept {
    if (h.magic != kRegionMagic) return AttachError::bad_magic;
    if (h.version_major != kVersionMajor) return AttachError::unsupported_version;
    if (h.region_size > mapped) return AttachError::region_too_small;
    if (h.header_size < sizeof(RegionHeader) || h.header_size > h.region_size) return AttachError::invalid_layout;
    if (h.max_consumers == 0 || h.max_consumers > kMaxConsumers) return AttachError::invalid_layout;
    if (h.slot_size != sizeof(ConsumerSlot) || h.channel_entry_size != sizeof(ChannelEntry)) {
        return AttachError::invalid_layout;
    }
    if (h.channel_count > h.channel_table_capacity || h.channel_table_capacity > 4096) return AttachError::invalid_layout;
    if (!is_aligned(h.channel_table_offset, kCacheLine) || !is_aligned(h.slot_table_offset, kCacheLine)) {
        return AttachError::invalid_layout;
    }
    if (h.channel_table_offset < sizeof(RegionHeader) || h.slot_table_offset < sizeof(RegionHeader)) {
        return AttachError::invalid_layout;
    }
    if (!range_fits(h.channel_table_offset, std::uint64_t{h.channel_table_capacity} * sizeof(ChannelEntry),
                    h.region_size) ||
        !range_fits(h.slot_table_offset, std::uint64_t{h.max_consumers} * sizeof(ConsumerSlot), h.region_size)) {
        return AttachError::invalid_layout;
    }
    if (h.consumer_timeout_ms == 0 || h.heartbeat_period_ms == 0) return AttachError::invalid_layout;
    if ((h.flags & kRegionFlagSlotSides) != 0 && h.local_slots > h.max_consumers) return AttachError::invalid_layout;
    return std::nullopt;
}

[[nodiscard]] inline bool check_entry(const ChannelEntry& e, const RegionHeader& h) noexcept {
    if (!is_aligned(e.offset, kChannelAlignment) || e.offset < sizeof(RegionHeader)) return false;
    if (!range_fits(e.offset, e.size, h.region_size)) return false;
    const auto name = entry_name(e);
    return !name.empty() && name.size() < kChannelNameBytes;  // NUL-terminated inside the field
}

// Whether [a, a + a_size) and [b, b + b_size) share a byte; an empty range overlaps nothing.
// \pre both lie inside the region (checked first), so the sums cannot overflow.
[[nodiscard]] constexpr bool ranges_overlap(std::uint64_t a, std::uint64_t a_size, std::uint64_t b,
                                            std::uint64_t b_size) noexcept {
    return a_size != 0 && b_size != 0 && a < b + b_size && b < a + a_size;
}

// Protocol 1.4 (8.3): the header, the channel table, the consumer slot table and every channel
// occupy disjoint byte ranges. Otherwise a consumer's own words (its slot, cursors, lease, control
// ring) would lie inside another structure, and its writes would land in words the producer, or
// another consumer, owns. \pre check_header passed and every entry passed check_entry (all
// ranges lie inside region_size). At most 3 + 64 ranges: pairwise is cheap, and attach-time only.
[[nodiscard]] inline bool structures_disjoint(const RegionHeader& h, std::span<const ChannelEntry> channels) {
    struct Range {
        std::uint64_t offset, size;
    };
    std::vector<Range> ranges{{0, h.header_size},
                              {h.channel_table_offset, std::uint64_t{h.channel_table_capacity} * sizeof(ChannelEntry)},
                              {h.slot_table_offset, std::uint64_t{h.max_consumers} * sizeof(ConsumerSlot)}};
    for (const auto& e : channels) ranges.push_back({e.offset, e.size});
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        for (std::size_t j = i + 1; j < ranges.size(); ++j) {
            if (ranges_overlap(ranges[i].offset, ranges[i].size, ranges[j].offset, ranges[j].size)) return false;
        }
    }
    return true;
}

// Copies and validates header and channel table. Precondition: `region` is 8-byte aligned.
[[nodiscard]] inline Result<CheckedRegion, AttachError> check_region(std::span<const std::byte> region) {
    if (region.size() < sizeof(RegionHeader)) return AttachError::region_too_small;
    CheckedRegion out;
    copy_from_shared(reinterpret_cast<std::byte*>(&out.header), region.data(), sizeof(RegionHeader));
    if (auto error = check_header(out.header, region.size())) return *error;
    out.channels.resize(out.header.channel_count);
    copy_from_shared(reinterpret_cast<std::byte*>(out.channels.data()), region.data() + out.header.channel_table_offset,
                     out.channels.size() * sizeof(ChannelEntry));
    for (const auto& entry : out.channels) {
        if (!check_entry(entry, out.header)) return AttachError::invalid_layout;
    }
    if (!structures_disjoint(out.header, out.channels)) return AttachError::invalid_layout;
    return out;
}

// Checks a ring channel's immutable control line against the formula and the channel entry.
[[nodiscard]] inline std::optional<RingGeometry> check_ring(const ChannelEntry& e, const RingControl& c,
                                                            std::uint32_t max_consumers) noexcept {
    const auto g = ring_geometry(e.capacity, e.element_size, max_consumers);
    if (!g || g->total_size != e.size) return std::nullopt;
    if (c.policy != e.policy || (c.policy != static_cast<std::uint32_t>(RingPolicy::lossless) &&
                                 c.policy != static_cast<std::uint32_t>(RingPolicy::overwrite))) {
        return std::nullopt;
    }
    if (c.capacity != g->capacity || c.element_size != g->element_size || c.slot_stride != g->slot_stride ||
        c.cursor_count != g->cursor_count || c.cursors_offset != g->cursors_offset ||
        c.slots_offset != g->slots_offset || c.flags != e.flags || (c.flags & ~kRingFlagsKnown) != 0) {
        return std::nullopt;
    }
    return g;
}

}  // namespace pane::detail
