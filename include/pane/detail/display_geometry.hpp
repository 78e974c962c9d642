// SPDX-License-Identifier: MIT
// Where everything of each display channel lives, computed from its parameters. As with rings,
// the producer lays the channel out with these formulas and a consumer recomputes them and
// requires an exact match, so forged offsets cannot point anywhere the formulas do not.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <cstdint>
#include <optional>

#include "../display_layout.hpp"
#include "bounds.hpp"
#include "ring_geometry.hpp"
#include "word_copy.hpp"

namespace pane::detail {

inline constexpr std::uint32_t kMinDescriptorRing = 4;
inline constexpr std::uint32_t kMaxDescriptorRing = 256;
inline constexpr std::uint32_t kMaxCursorDimension = 512;
inline constexpr std::uint32_t kMinControlMessage = sizeof(ControlMessageHeader);
inline constexpr std::uint32_t kMaxControlMessage = 64 * 1024;

struct FrameGeometry {
    std::uint32_t buffer_count, max_width, max_height, max_bytes_per_pixel, ring_capacity, cursor_count;
    std::uint64_t buffer_size, states_offset, leases_offset, ring_offset, ring_size, buffers_offset, total_size;
    RingGeometry ring;
};

[[nodiscard]] constexpr std::optional<FrameGeometry> frame_geometry(std::uint32_t buffer_count, std::uint32_t max_width,
                                                                    std::uint32_t max_height, std::uint32_t max_bpp,
                                                                    std::uint32_t ring_capacity,
                                                                    std::uint32_t cursor_count) noexcept {
    if (buffer_count < kMinFrameBuffers || buffer_count > kMaxFrameBuffers) return std::nullopt;
    if (max_width == 0 || max_height == 0 || max_width > kMaxFrameDimension || max_height > kMaxFrameDimension) {
        return std::nullopt;
    }
    if (max_bpp == 0 || max_bpp > 8) return std::nullopt;
    if (ring_capacity < kMinDescriptorRing || ring_capacity > kMaxDescriptorRing) return std::nullopt;
    const auto ring = ring_geometry(ring_capacity, sizeof(FrameDescriptor), cursor_count);
    if (!ring) return std::nullopt;
    FrameGeometry g{};
    g.buffer_count = buffer_count;
    g.max_width = max_width;
    g.max_height = max_height;
    g.max_bytes_per_pixel = max_bpp;
    g.ring_capacity = ring_capacity;
    g.cursor_count = cursor_count;
    g.ring = *ring;
    // 16384^2 * 8 * 64 < 2^43: no overflow.
    g.buffer_size = round_up(std::uint64_t{max_width} * max_height * max_bpp, kPageAlignment);
    g.states_offset = sizeof(FrameControl);
    g.leases_offset = round_up(g.states_offset + std::uint64_t{buffer_count} * sizeof(FrameBufferState), kCacheLine);
    g.ring_offset = round_up(g.leases_offset + std::uint64_t{cursor_count} * sizeof(FrameLease), kCacheLine);
    g.ring_size = ring->total_size;
    g.buffers_offset = round_up(g.ring_offset + g.ring_size, kPageAlignment);
    g.total_size = g.buffers_offset + std::uint64_t{buffer_count} * g.buffer_size;
    return g;
}

struct CursorShapeGeometry {
    std::uint32_t max_dimension, capacity;
    std::uint64_t data_offset, total_size;
};

[[nodiscard]] constexpr std::optional<CursorShapeGeometry> cursor_shape_geometry(std::uint32_t max_dimension) noexcept {
    if (max_dimension == 0 || max_dimension > kMaxCursorDimension) return std::nullopt;
    CursorShapeGeometry g{};
    g.max_dimension = max_dimension;
    // The largest shape is colour: 4 bytes per pixel (monochrome needs two 1 bpp planes).
    g.capacity = static_cast<std::uint32_t>(round_up(std::uint64_t{max_dimension} * max_dimension * 4, 8));
    g.data_offset = sizeof(CursorShapeControl);
    g.total_size = round_up(g.data_offset + g.capacity, kChannelAlignment);
    return g;
}

inline constexpr std::uint64_t kCursorPositionSize = sizeof(CursorPositionControl);

struct ControlGeometry {
    std::uint32_t cursor_count, capacity, element_size, slot_stride;
    std::uint64_t rings_offset, ring_size, total_size;
};

[[nodiscard]] constexpr std::optional<ControlGeometry> control_geometry(std::uint32_t capacity,
                                                                        std::uint32_t element_size,
                                                                        std::uint32_t cursor_count) noexcept {
    if (!is_power_of_two(capacity) || capacity < kMinRingCapacity || capacity > 4096) return std::nullopt;
    if (element_size < kMinControlMessage || element_size > kMaxControlMessage) return std::nullopt;
    if (cursor_count == 0 || cursor_count > kMaxConsumers) return std::nullopt;
    ControlGeometry g{};
    g.cursor_count = cursor_count;
    g.capacity = capacity;
    g.element_size = element_size;
    g.slot_stride = static_cast<std::uint32_t>(round_up(sizeof(RingSlotHeader) + std::uint64_t{element_size}, 8));
    g.rings_offset = sizeof(ControlChannelControl);
    g.ring_size = round_up(sizeof(ControlRingControl) + std::uint64_t{capacity} * g.slot_stride, kCacheLine);
    g.total_size = round_up(g.rings_offset + std::uint64_t{cursor_count} * g.ring_size, kChannelAlignment);
    return g;
}

}  // namespace pane::detail
