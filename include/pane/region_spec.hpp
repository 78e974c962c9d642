// SPDX-License-Identifier: MIT
// What a producer asks the region to hold (RegionSpec: consumer slots, timeouts, channels) and
// where each piece lands (plan_region). The same plan tells a caller how large a mapping to
// create before any memory exists: plan_region(spec)->region_size.
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include "detail/bounds.hpp"
#include "detail/display_geometry.hpp"
#include "detail/ring_geometry.hpp"
#include "error.hpp"
#include "layout.hpp"
#include "result.hpp"

namespace pane {

// A ring channel: `capacity` messages (a power of two) of at most `element_size` bytes.
struct RingSpec {
    std::string name;
    std::uint32_t element_size = 0;
    std::uint32_t capacity = 0;
    RingPolicy policy = RingPolicy::lossless;
    std::uint32_t id = 0;           // free for the application
    bool wakeups = true;            // maintain futex wake-ups (costs a fence per message)
    std::uint64_t initial_position = 0;  // tests start near 2^64 to exercise wrap-around
};

template <class T>
[[nodiscard]] RingSpec ring_of(std::string name, std::uint32_t capacity, RingPolicy policy) {
    static_assert(std::is_trivially_copyable_v<T>, "ring messages are copied as bytes");
    return RingSpec{std::move(name), static_cast<std::uint32_t>(sizeof(T)), capacity, policy};
}

// A frame channel: `buffer_count` buffers each large enough for max_width x max_height pixels
// of the widest format allowed (bytes_per_pixel), and a ring of `descriptors` frame descriptors.
struct FrameSpec {
    std::string name;
    std::uint32_t max_width = 1920;
    std::uint32_t max_height = 1080;
    std::uint32_t max_bytes_per_pixel = 4;
    std::uint32_t buffer_count = 3;
    std::uint32_t descriptors = 16;
    std::uint32_t id = 0;
    // Consumers that may each hold a frame at the same time (protocol 1.4, 10.3): the producer
    // always finds a free buffer only while buffer_count >= viewers + 2 (one lease each, the
    // latest frame, the frame being started), so plan_region refuses fewer
    // (InitError::too_few_buffers). 1 to max_consumers. More viewers than declared still work:
    // frames are then dropped while every buffer is held, and leases held past
    // ProducerOptions::frame_lease_limit are revoked.
    std::uint32_t viewers = 1;
};

// The buffers a frame channel needs so that `viewers` consumers, each holding one frame, never
// make the producer drop one: their leases, the latest frame, and the frame being started.
[[nodiscard]] constexpr std::uint32_t frame_buffers_needed(std::uint32_t viewers) noexcept { return viewers + 2; }

// A cursor shape channel for shapes up to max_dimension x max_dimension.
struct CursorShapeSpec {
    std::string name;
    std::uint32_t max_dimension = 256;
    std::uint32_t id = 0;
};

// A cursor position register.
struct CursorPositionSpec {
    std::string name;
    std::uint32_t id = 0;
};

// Control rings, one per consumer slot, each `capacity` messages of at most `element_size` bytes.
struct ControlSpec {
    std::string name;
    std::uint32_t capacity = 64;
    std::uint32_t element_size = 256;
    std::uint32_t id = 0;
};

// One alternative per channel kind.
using ChannelSpec = std::variant<RingSpec, FrameSpec, CursorShapeSpec, CursorPositionSpec, ControlSpec>;

// RegionSpec::remote_consumer_slots: half of the slots (rounded down) for other kernels.
inline constexpr std::uint32_t kRemoteSlotsHalf = 0xFFFF'FFFFu;

struct RegionSpec {
    std::uint32_t max_consumers = kDefaultConsumers;
    // Consumer slots kept for consumers on another kernel than the producer's: a host viewer of
    // a guest's producer, or a guest's consumer of a host producer. The others are for consumers
    // on the producer's kernel. Slot claims are atomic only within one side (layout.hpp,
    // kRegionFlagSlotSides), so sides never share a slot. 0: no split, every slot open to every
    // consumer, safe only while all consumers run on one kernel (or every vCPU's atomics are the
    // host's: KVM, multi-threaded TCG). Also no split where the producer cannot tell its kernel.
    std::uint32_t remote_consumer_slots = kRemoteSlotsHalf;
    std::uint32_t channel_table_capacity = 16;
    std::chrono::milliseconds consumer_timeout{1000};
    std::chrono::milliseconds heartbeat_period{10};
    std::vector<ChannelSpec> channels;

    RegionSpec& add(ChannelSpec spec) {
        channels.push_back(std::move(spec));
        return *this;
    }
};

struct PlannedChannel {
    ChannelEntry entry;  // as it will be written into the channel table
    ChannelSpec spec;
};

struct RegionPlan {
    std::uint64_t channel_table_offset = 0;
    std::uint64_t slot_table_offset = 0;
    std::uint64_t region_size = 0;  // bytes from offset 0 the layout uses
    std::uint32_t local_slots = 0;  // slots for consumers on the producer's kernel; == max_consumers: no split
    std::vector<PlannedChannel> channels;
};

namespace detail {

[[nodiscard]] inline bool valid_channel_name(const std::string& name) noexcept {
    if (name.empty() || name.size() >= kChannelNameBytes) return false;
    for (char c : name) {
        if (c < 0x21 || c > 0x7e) return false;  // printable ASCII, no spaces
    }
    return true;
}

[[nodiscard]] inline std::optional<ChannelEntry> plan_channel(const RingSpec& s, std::uint32_t max_consumers) {
    const auto geometry = ring_geometry(s.capacity, s.element_size, max_consumers);
    if (!geometry || (s.policy != RingPolicy::lossless && s.policy != RingPolicy::overwrite)) return std::nullopt;
    ChannelEntry e{};
    e.kind = static_cast<std::uint32_t>(ChannelKind::ring);
    e.flags = s.wakeups ? kRingFlagWakeups : 0;
    e.size = geometry->total_size;
    e.element_size = s.element_size;
    e.capacity = s.capacity;
    e.policy = static_cast<std::uint32_t>(s.policy);
    e.id = s.id;
    return e;
}

[[nodiscard]] inline std::optional<ChannelEntry> plan_channel(const FrameSpec& s, std::uint32_t max_consumers) {
    const auto g = frame_geometry(s.buffer_count, s.max_width, s.max_height, s.max_bytes_per_pixel, s.descriptors,
                                  max_consumers);
    if (!g) return std::nullopt;
    ChannelEntry e{};
    e.kind = static_cast<std::uint32_t>(ChannelKind::frames);
    e.flags = kRingFlagWakeups;  // for the embedded descriptor ring
    e.size = g->total_size;
    e.element_size = static_cast<std::uint32_t>(sizeof(FrameDescriptor));
    e.capacity = s.buffer_count;
    e.id = s.id;
    return e;
}

[[nodiscard]] inline std::optional<ChannelEntry> plan_channel(const CursorShapeSpec& s, std::uint32_t) {
    const auto g = cursor_shape_geometry(s.max_dimension);
    if (!g) return std::nullopt;
    ChannelEntry e{};
    e.kind = static_cast<std::uint32_t>(ChannelKind::cursor_shape);
    e.size = g->total_size;
    e.element_size = g->capacity;
    e.capacity = 1;
    e.id = s.id;
    return e;
}

[[nodiscard]] inline std::optional<ChannelEntry> plan_channel(const CursorPositionSpec& s, std::uint32_t) {
    ChannelEntry e{};
    e.kind = static_cast<std::uint32_t>(ChannelKind::cursor_position);
    e.size = kCursorPositionSize;
    e.element_size = 0;
    e.capacity = 1;
    e.id = s.id;
    return e;
}

[[nodiscard]] inline std::optional<ChannelEntry> plan_channel(const ControlSpec& s, std::uint32_t max_consumers) {
    const auto g = control_geometry(s.capacity, s.element_size, max_consumers);
    if (!g) return std::nullopt;
    ChannelEntry e{};
    e.kind = static_cast<std::uint32_t>(ChannelKind::control);
    e.size = g->total_size;
    e.element_size = s.element_size;
    e.capacity = s.capacity;
    e.id = s.id;
    return e;
}

// Frame channels start on a page so that every frame buffer is page-aligned in the region.
[[nodiscard]] inline std::uint64_t channel_alignment(const ChannelSpec& spec) noexcept {
    return std::holds_alternative<FrameSpec>(spec) ? kPageAlignment : kChannelAlignment;
}

[[nodiscard]] inline const std::string& spec_name(const ChannelSpec& spec) {
    return std::visit([](const auto& s) -> const std::string& { return s.name; }, spec);
}

}  // namespace detail

[[nodiscard]] inline Result<RegionPlan, InitError> plan_region(const RegionSpec& spec) {
    if (spec.max_consumers == 0 || spec.max_consumers > kMaxConsumers) return InitError::too_many_consumers;
    const std::uint32_t remote =
        spec.remote_consumer_slots == kRemoteSlotsHalf ? spec.max_consumers / 2 : spec.remote_consumer_slots;
    if (remote > spec.max_consumers) return InitError::too_many_consumers;
    if (spec.channels.size() > spec.channel_table_capacity || spec.channel_table_capacity > 4096) {
        return InitError::too_many_channels;
    }
    if (spec.consumer_timeout.count() <= 0 || spec.heartbeat_period.count() <= 0 ||
        spec.heartbeat_period >= spec.consumer_timeout) {
        return InitError::invalid_layout;
    }
    RegionPlan plan;
    plan.local_slots = spec.max_consumers - remote;
    plan.channel_table_offset = detail::round_up(sizeof(RegionHeader), kCacheLine);
    plan.slot_table_offset = detail::round_up(
        plan.channel_table_offset + std::uint64_t{spec.channel_table_capacity} * sizeof(ChannelEntry), kCacheLine);
    std::uint64_t cursor = detail::round_up(
        plan.slot_table_offset + std::uint64_t{spec.max_consumers} * sizeof(ConsumerSlot), kChannelAlignment);
    for (const auto& channel : spec.channels) {
        const std::string& name = detail::spec_name(channel);
        if (!detail::valid_channel_name(name)) return InitError::invalid_layout;
        for (const auto& earlier : plan.channels) {
            if (detail::spec_name(earlier.spec) == name) return InitError::invalid_layout;
        }
        auto entry = std::visit([&](const auto& s) { return detail::plan_channel(s, spec.max_consumers); }, channel);
        if (!entry) return InitError::invalid_layout;
        if (const auto* f = std::get_if<FrameSpec>(&channel)) {
            if (f->viewers == 0 || f->viewers > spec.max_consumers) return InitError::invalid_layout;
            if (f->buffer_count < frame_buffers_needed(f->viewers)) return InitError::too_few_buffers;
        }
        std::memcpy(entry->name, name.data(), name.size());
        cursor = detail::round_up(cursor, detail::channel_alignment(channel));
        entry->offset = cursor;
        if (!detail::checked_add(cursor, entry->size, cursor)) return InitError::invalid_layout;
        cursor = detail::round_up(cursor, kChannelAlignment);
        plan.channels.push_back(PlannedChannel{*entry, channel});
    }
    plan.region_size = cursor;
    return plan;
}

}  // namespace pane
