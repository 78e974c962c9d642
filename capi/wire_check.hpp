// SPDX-License-Identifier: MIT
// The C wire structs of pane.h against the C++ ones of layout.hpp and display_layout.hpp: the
// same size, alignment, and offset and size of every field, and the same constants. Compiled
// into the C library (so every build of it checks: -m32, MinGW) and by the C++ test
// tests/c/test_capi_wire.cpp. The field list is pane.h's; a field C++ lacks fails to compile.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include <pane/display_layout.hpp>
#include <pane/error.hpp>
#include <pane/layout.hpp>

#include "pane/pane.h"

namespace pane::capi_check {

#define PANE_WIRE_SAME(C, Cpp)                                                                         \
    static_assert(sizeof(C) == sizeof(pane::Cpp) && alignof(C) == alignof(pane::Cpp), #C " vs " #Cpp); \
    static_assert(std::is_standard_layout_v<C> && std::is_trivially_copyable_v<C>, #C " is a wire struct")
#define PANE_WIRE_FIELD(C, Cpp, f)                                                                          \
    static_assert(offsetof(C, f) == offsetof(pane::Cpp, f) &&                                               \
                      sizeof(std::declval<C&>().f) == sizeof(std::declval<pane::Cpp&>().f),                \
                  #C "." #f " vs " #Cpp "::" #f)

PANE_WIRE_SAME(pane_region_header, RegionHeader);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, magic);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, version_major);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, version_minor);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, header_size);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, region_size);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, epoch);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, producer_state);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, producer_pid);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, max_consumers);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, channel_count);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, channel_table_offset);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, slot_table_offset);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, channel_table_capacity);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, channel_entry_size);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, slot_size);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, consumer_timeout_ms);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, heartbeat_period_ms);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, flags);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, init_count);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, producer_host_id);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, local_slots);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, reserved1a);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, reserved1);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, producer_heartbeat);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, reserved2);
PANE_WIRE_FIELD(pane_region_header, RegionHeader, reserved3);

PANE_WIRE_SAME(pane_channel_entry, ChannelEntry);
PANE_WIRE_FIELD(pane_channel_entry, ChannelEntry, kind);
PANE_WIRE_FIELD(pane_channel_entry, ChannelEntry, flags);
PANE_WIRE_FIELD(pane_channel_entry, ChannelEntry, offset);
PANE_WIRE_FIELD(pane_channel_entry, ChannelEntry, size);
PANE_WIRE_FIELD(pane_channel_entry, ChannelEntry, element_size);
PANE_WIRE_FIELD(pane_channel_entry, ChannelEntry, capacity);
PANE_WIRE_FIELD(pane_channel_entry, ChannelEntry, policy);
PANE_WIRE_FIELD(pane_channel_entry, ChannelEntry, id);
PANE_WIRE_FIELD(pane_channel_entry, ChannelEntry, name);

PANE_WIRE_SAME(pane_consumer_slot, ConsumerSlot);
PANE_WIRE_FIELD(pane_consumer_slot, ConsumerSlot, claim);
PANE_WIRE_FIELD(pane_consumer_slot, ConsumerSlot, heartbeat);
PANE_WIRE_FIELD(pane_consumer_slot, ConsumerSlot, attach_epoch);
PANE_WIRE_FIELD(pane_consumer_slot, ConsumerSlot, state);
PANE_WIRE_FIELD(pane_consumer_slot, ConsumerSlot, pid);
PANE_WIRE_FIELD(pane_consumer_slot, ConsumerSlot, host_id);
PANE_WIRE_FIELD(pane_consumer_slot, ConsumerSlot, features);
PANE_WIRE_FIELD(pane_consumer_slot, ConsumerSlot, features_claim);
PANE_WIRE_FIELD(pane_consumer_slot, ConsumerSlot, reserved_c);
PANE_WIRE_FIELD(pane_consumer_slot, ConsumerSlot, reaped_claim);
PANE_WIRE_FIELD(pane_consumer_slot, ConsumerSlot, reap_count);
PANE_WIRE_FIELD(pane_consumer_slot, ConsumerSlot, reserved_p);

PANE_WIRE_SAME(pane_ring_control, RingControl);
PANE_WIRE_FIELD(pane_ring_control, RingControl, policy);
PANE_WIRE_FIELD(pane_ring_control, RingControl, capacity);
PANE_WIRE_FIELD(pane_ring_control, RingControl, element_size);
PANE_WIRE_FIELD(pane_ring_control, RingControl, slot_stride);
PANE_WIRE_FIELD(pane_ring_control, RingControl, cursor_count);
PANE_WIRE_FIELD(pane_ring_control, RingControl, flags);
PANE_WIRE_FIELD(pane_ring_control, RingControl, cursors_offset);
PANE_WIRE_FIELD(pane_ring_control, RingControl, slots_offset);
PANE_WIRE_FIELD(pane_ring_control, RingControl, initial_position);
PANE_WIRE_FIELD(pane_ring_control, RingControl, producer_sleeping);
PANE_WIRE_FIELD(pane_ring_control, RingControl, reserved0a);
PANE_WIRE_FIELD(pane_ring_control, RingControl, reserved0);
PANE_WIRE_FIELD(pane_ring_control, RingControl, write_pos);
PANE_WIRE_FIELD(pane_ring_control, RingControl, producer_waiting);
PANE_WIRE_FIELD(pane_ring_control, RingControl, reserved1);
PANE_WIRE_FIELD(pane_ring_control, RingControl, reserved2);
PANE_WIRE_FIELD(pane_ring_control, RingControl, sleepers);
PANE_WIRE_FIELD(pane_ring_control, RingControl, reserved3);

PANE_WIRE_SAME(pane_ring_cursor, RingCursor);
PANE_WIRE_FIELD(pane_ring_cursor, RingCursor, read_pos);
PANE_WIRE_FIELD(pane_ring_cursor, RingCursor, claim);
PANE_WIRE_FIELD(pane_ring_cursor, RingCursor, lost);
PANE_WIRE_FIELD(pane_ring_cursor, RingCursor, delivered);
PANE_WIRE_FIELD(pane_ring_cursor, RingCursor, reserved);

PANE_WIRE_SAME(pane_ring_slot_header, RingSlotHeader);
PANE_WIRE_FIELD(pane_ring_slot_header, RingSlotHeader, seq);
PANE_WIRE_FIELD(pane_ring_slot_header, RingSlotHeader, length);
PANE_WIRE_FIELD(pane_ring_slot_header, RingSlotHeader, reserved);

PANE_WIRE_SAME(pane_damage_rect, DamageRect);
PANE_WIRE_FIELD(pane_damage_rect, DamageRect, x);
PANE_WIRE_FIELD(pane_damage_rect, DamageRect, y);
PANE_WIRE_FIELD(pane_damage_rect, DamageRect, width);
PANE_WIRE_FIELD(pane_damage_rect, DamageRect, height);

PANE_WIRE_SAME(pane_hdr_metadata, HdrMetadata);
PANE_WIRE_FIELD(pane_hdr_metadata, HdrMetadata, display_primaries);
PANE_WIRE_FIELD(pane_hdr_metadata, HdrMetadata, white_point);
PANE_WIRE_FIELD(pane_hdr_metadata, HdrMetadata, max_mastering_luminance);
PANE_WIRE_FIELD(pane_hdr_metadata, HdrMetadata, min_mastering_luminance);
PANE_WIRE_FIELD(pane_hdr_metadata, HdrMetadata, max_cll);
PANE_WIRE_FIELD(pane_hdr_metadata, HdrMetadata, max_fall);
PANE_WIRE_FIELD(pane_hdr_metadata, HdrMetadata, reserved);

PANE_WIRE_SAME(pane_frame_descriptor, FrameDescriptor);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, serial);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, buffer_generation);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, buffer_index);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, format);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, width);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, height);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, stride);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, rotation);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, flags);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, damage_count);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, producer_time_ns);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, capture_duration_ns);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, frame_interval_ns);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, frames_dropped);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, hdr);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, reserved);
PANE_WIRE_FIELD(pane_frame_descriptor, FrameDescriptor, damage);

PANE_WIRE_SAME(pane_frame_control, FrameControl);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, buffer_count);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, max_width);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, max_height);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, max_bytes_per_pixel);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, buffer_size);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, buffers_offset);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, states_offset);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, leases_offset);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, ring_offset);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, ring_size);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, cursor_count);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, ring_capacity);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, host_id);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, reserved1);
PANE_WIRE_FIELD(pane_frame_control, FrameControl, reserved2);

PANE_WIRE_SAME(pane_frame_buffer_state, FrameBufferState);
PANE_WIRE_FIELD(pane_frame_buffer_state, FrameBufferState, generation);
PANE_WIRE_FIELD(pane_frame_buffer_state, FrameBufferState, reuse_intent);
PANE_WIRE_FIELD(pane_frame_buffer_state, FrameBufferState, serial);
PANE_WIRE_FIELD(pane_frame_buffer_state, FrameBufferState, rows_ready);
PANE_WIRE_FIELD(pane_frame_buffer_state, FrameBufferState, rows_total);
PANE_WIRE_FIELD(pane_frame_buffer_state, FrameBufferState, reserved);

PANE_WIRE_SAME(pane_frame_lease, FrameLease);
PANE_WIRE_FIELD(pane_frame_lease, FrameLease, claim);
PANE_WIRE_FIELD(pane_frame_lease, FrameLease, lease);
PANE_WIRE_FIELD(pane_frame_lease, FrameLease, frames_read);
PANE_WIRE_FIELD(pane_frame_lease, FrameLease, frames_skipped);
PANE_WIRE_FIELD(pane_frame_lease, FrameLease, reserved);

PANE_WIRE_SAME(pane_cursor_shape_header, CursorShapeHeader);
PANE_WIRE_FIELD(pane_cursor_shape_header, CursorShapeHeader, serial);
PANE_WIRE_FIELD(pane_cursor_shape_header, CursorShapeHeader, type);
PANE_WIRE_FIELD(pane_cursor_shape_header, CursorShapeHeader, width);
PANE_WIRE_FIELD(pane_cursor_shape_header, CursorShapeHeader, height);
PANE_WIRE_FIELD(pane_cursor_shape_header, CursorShapeHeader, pitch);
PANE_WIRE_FIELD(pane_cursor_shape_header, CursorShapeHeader, hotspot_x);
PANE_WIRE_FIELD(pane_cursor_shape_header, CursorShapeHeader, hotspot_y);
PANE_WIRE_FIELD(pane_cursor_shape_header, CursorShapeHeader, data_size);
PANE_WIRE_FIELD(pane_cursor_shape_header, CursorShapeHeader, reserved);

PANE_WIRE_SAME(pane_cursor_shape_control, CursorShapeControl);
PANE_WIRE_FIELD(pane_cursor_shape_control, CursorShapeControl, capacity);
PANE_WIRE_FIELD(pane_cursor_shape_control, CursorShapeControl, max_dimension);
PANE_WIRE_FIELD(pane_cursor_shape_control, CursorShapeControl, data_offset);
PANE_WIRE_FIELD(pane_cursor_shape_control, CursorShapeControl, reserved0);
PANE_WIRE_FIELD(pane_cursor_shape_control, CursorShapeControl, seq);
PANE_WIRE_FIELD(pane_cursor_shape_control, CursorShapeControl, header);
PANE_WIRE_FIELD(pane_cursor_shape_control, CursorShapeControl, reserved1);

PANE_WIRE_SAME(pane_cursor_position_control, CursorPositionControl);
PANE_WIRE_FIELD(pane_cursor_position_control, CursorPositionControl, seq);
PANE_WIRE_FIELD(pane_cursor_position_control, CursorPositionControl, x);
PANE_WIRE_FIELD(pane_cursor_position_control, CursorPositionControl, y);
PANE_WIRE_FIELD(pane_cursor_position_control, CursorPositionControl, visible);
PANE_WIRE_FIELD(pane_cursor_position_control, CursorPositionControl, reserved0);
PANE_WIRE_FIELD(pane_cursor_position_control, CursorPositionControl, shape_serial);
PANE_WIRE_FIELD(pane_cursor_position_control, CursorPositionControl, serial);
PANE_WIRE_FIELD(pane_cursor_position_control, CursorPositionControl, reserved1);
PANE_WIRE_FIELD(pane_cursor_position_control, CursorPositionControl, sleepers);
PANE_WIRE_FIELD(pane_cursor_position_control, CursorPositionControl, reserved2);

PANE_WIRE_SAME(pane_control_channel_control, ControlChannelControl);
PANE_WIRE_FIELD(pane_control_channel_control, ControlChannelControl, cursor_count);
PANE_WIRE_FIELD(pane_control_channel_control, ControlChannelControl, capacity);
PANE_WIRE_FIELD(pane_control_channel_control, ControlChannelControl, element_size);
PANE_WIRE_FIELD(pane_control_channel_control, ControlChannelControl, slot_stride);
PANE_WIRE_FIELD(pane_control_channel_control, ControlChannelControl, rings_offset);
PANE_WIRE_FIELD(pane_control_channel_control, ControlChannelControl, ring_size);
PANE_WIRE_FIELD(pane_control_channel_control, ControlChannelControl, reserved);

PANE_WIRE_SAME(pane_control_ring_control, ControlRingControl);
PANE_WIRE_FIELD(pane_control_ring_control, ControlRingControl, claim);
PANE_WIRE_FIELD(pane_control_ring_control, ControlRingControl, write_pos);
PANE_WIRE_FIELD(pane_control_ring_control, ControlRingControl, reserved_c);
PANE_WIRE_FIELD(pane_control_ring_control, ControlRingControl, read_pos);
PANE_WIRE_FIELD(pane_control_ring_control, ControlRingControl, accepted);
PANE_WIRE_FIELD(pane_control_ring_control, ControlRingControl, rejected);
PANE_WIRE_FIELD(pane_control_ring_control, ControlRingControl, reserved_p);

PANE_WIRE_SAME(pane_control_message_header, ControlMessageHeader);
PANE_WIRE_FIELD(pane_control_message_header, ControlMessageHeader, type);
PANE_WIRE_FIELD(pane_control_message_header, ControlMessageHeader, app_type);

PANE_WIRE_SAME(pane_control_cursor_position, ControlCursorPosition);
PANE_WIRE_FIELD(pane_control_cursor_position, ControlCursorPosition, x);
PANE_WIRE_FIELD(pane_control_cursor_position, ControlCursorPosition, y);

PANE_WIRE_SAME(pane_control_window_size, ControlWindowSize);
PANE_WIRE_FIELD(pane_control_window_size, ControlWindowSize, width);
PANE_WIRE_FIELD(pane_control_window_size, ControlWindowSize, height);
#undef PANE_WIRE_SAME
#undef PANE_WIRE_FIELD

// Constants and enum values.
static_assert(PANE_REGION_MAGIC == kRegionMagic);
static_assert(PANE_PROTOCOL_VERSION_MAJOR == kVersionMajor && PANE_PROTOCOL_VERSION_MINOR == kVersionMinor);
static_assert(PANE_MAX_CONSUMERS == kMaxConsumers && PANE_DEFAULT_CONSUMERS == kDefaultConsumers);
static_assert(PANE_CHANNEL_NAME_BYTES == kChannelNameBytes);
static_assert(PANE_MAX_FRAME_BUFFERS == kMaxFrameBuffers && PANE_MIN_FRAME_BUFFERS == kMinFrameBuffers);
static_assert(PANE_MAX_DAMAGE_RECTS == kMaxDamageRects && PANE_MAX_FRAME_DIMENSION == kMaxFrameDimension);
static_assert(PANE_PRODUCER_STATE_UNINITIALISED == static_cast<int>(ProducerState::uninitialised) &&
              PANE_PRODUCER_STATE_INITIALISING == static_cast<int>(ProducerState::initialising) &&
              PANE_PRODUCER_STATE_READY == static_cast<int>(ProducerState::ready) &&
              PANE_PRODUCER_STATE_CLOSED == static_cast<int>(ProducerState::closed));
static_assert(PANE_CONSUMER_STATE_FREE == static_cast<int>(ConsumerState::free) &&
              PANE_CONSUMER_STATE_ATTACHED == static_cast<int>(ConsumerState::attached) &&
              PANE_CONSUMER_STATE_DETACHED == static_cast<int>(ConsumerState::detached));
static_assert(PANE_CHANNEL_RING == static_cast<int>(ChannelKind::ring) &&
              PANE_CHANNEL_FRAMES == static_cast<int>(ChannelKind::frames) &&
              PANE_CHANNEL_CURSOR_SHAPE == static_cast<int>(ChannelKind::cursor_shape) &&
              PANE_CHANNEL_CURSOR_POSITION == static_cast<int>(ChannelKind::cursor_position) &&
              PANE_CHANNEL_CONTROL == static_cast<int>(ChannelKind::control) && kMaxKnownChannelKind == 5);
static_assert(PANE_RING_LOSSLESS == static_cast<int>(RingPolicy::lossless) &&
              PANE_RING_OVERWRITE == static_cast<int>(RingPolicy::overwrite));
static_assert(PANE_REGION_FLAG_SLOT_SIDES == kRegionFlagSlotSides &&
              PANE_REGION_FLAG_ASYMMETRIC_WAKE == kRegionFlagAsymmetricWake &&
              kRegionFlagsKnown == (PANE_REGION_FLAG_SLOT_SIDES | PANE_REGION_FLAG_ASYMMETRIC_WAKE));
static_assert(PANE_CONSUMER_FEATURE_HEAVY_FENCE == kConsumerFeatureHeavyFence);
static_assert(PANE_RING_FLAG_WAKEUPS == kRingFlagWakeups && kRingFlagsKnown == PANE_RING_FLAG_WAKEUPS);
static_assert(PANE_FRAME_DAMAGE_VALID == kFrameDamageValid && PANE_FRAME_HDR == kFrameHdr &&
              PANE_FRAME_HDR_PQ == kFrameHdrPq &&
              kFrameFlagsKnown == (PANE_FRAME_DAMAGE_VALID | PANE_FRAME_HDR | PANE_FRAME_HDR_PQ));
static_assert(PANE_FORMAT_BGRA8 == static_cast<int>(FrameFormat::bgra8) &&
              PANE_FORMAT_RGBA8 == static_cast<int>(FrameFormat::rgba8) &&
              PANE_FORMAT_RGBA10 == static_cast<int>(FrameFormat::rgba10) &&
              PANE_FORMAT_RGBA16F == static_cast<int>(FrameFormat::rgba16f) &&
              PANE_FORMAT_BGR_32 == static_cast<int>(FrameFormat::bgr_32) &&
              PANE_FORMAT_RGB_24 == static_cast<int>(FrameFormat::rgb_24) && kMaxFrameFormat == 6);
static_assert(PANE_CURSOR_COLOR == static_cast<int>(CursorType::color) &&
              PANE_CURSOR_MONOCHROME == static_cast<int>(CursorType::monochrome) &&
              PANE_CURSOR_MASKED_COLOR == static_cast<int>(CursorType::masked_color) && kMaxCursorType == 3);
static_assert(PANE_CONTROL_SET_CURSOR_POSITION == static_cast<int>(ControlType::set_cursor_position) &&
              PANE_CONTROL_WINDOW_SIZE == static_cast<int>(ControlType::window_size) &&
              PANE_CONTROL_FULL_FRAME_REQUEST == static_cast<int>(ControlType::full_frame_request) &&
              PANE_CONTROL_APPLICATION == static_cast<int>(ControlType::application) && kMaxControlType == 4);

// The status ranges of the C++ setup errors (pane_c.cpp adds the enum value to the base).
static_assert(PANE_E_MAP_NOT_FOUND == 200 + static_cast<int>(MapError::not_found) &&
              PANE_E_MAP_SYSTEM_ERROR == 200 + static_cast<int>(MapError::system_error));
static_assert(PANE_E_INIT_REGION_TOO_SMALL == 300 + static_cast<int>(InitError::region_too_small) &&
              PANE_E_INIT_PRODUCER_ACTIVE == 300 + static_cast<int>(InitError::producer_active));
static_assert(PANE_E_ATTACH_REGION_TOO_SMALL == 400 + static_cast<int>(AttachError::region_too_small) &&
              PANE_E_ATTACH_EPOCH_CHANGED == 400 + static_cast<int>(AttachError::epoch_changed));
static_assert(PANE_E_CHANNEL_NOT_FOUND == 500 + static_cast<int>(ChannelError::not_found) &&
              PANE_E_CHANNEL_NOT_ATTACHED == 500 + static_cast<int>(ChannelError::not_attached));

}  // namespace pane::capi_check
