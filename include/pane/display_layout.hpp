// SPDX-License-Identifier: MIT
// Wire layout of the display channels: frames (a pool of frame buffers, their progress and
// generations, consumers' leases, and a ring of frame descriptors), cursor shape (a versioned
// blob), cursor position (a latest-value register) and control (one ring per consumer, consumer
// to producer). Same rules as layout.hpp: fixed-width little-endian fields, offsets relative to
// the channel start, static_asserts on every size and offset; writer of each field noted as
// P (producer), C (the consumer holding that slot) or C* (consumers only, by atomic RMW).
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <cstddef>
#include <cstdint>

#include "layout.hpp"

namespace pane {

inline constexpr std::uint64_t kPageAlignment = 4096;  // frame buffers and frame channels
inline constexpr std::uint32_t kMaxFrameBuffers = 64;   // a lease packs the index in 6 bits
inline constexpr std::uint32_t kMinFrameBuffers = 3;
inline constexpr std::uint32_t kMaxDamageRects = 64;
inline constexpr std::uint32_t kMaxFrameDimension = 16384;

// Pixel formats. Wire constants; never renumber.
enum class FrameFormat : std::uint32_t {
    bgra8 = 1,    // bytes B, G, R, A
    rgba8 = 2,    // bytes R, G, B, A
    rgba10 = 3,   // u32 LE: R bits 0-9, G 10-19, B 20-29, A 30-31
    rgba16f = 4,  // 4 x IEEE 754 half, R, G, B, A
    bgr_32 = 5,   // bytes B, G, R, unused
    rgb_24 = 6,   // bytes R, G, B
};
inline constexpr std::uint32_t kMaxFrameFormat = 6;

[[nodiscard]] constexpr std::uint32_t bytes_per_pixel(FrameFormat f) noexcept {
    switch (f) {
        case FrameFormat::bgra8:
        case FrameFormat::rgba8:
        case FrameFormat::rgba10:
        case FrameFormat::bgr_32: return 4;
        case FrameFormat::rgba16f: return 8;
        case FrameFormat::rgb_24: return 3;
    }
    return 0;
}

// FrameDescriptor::flags bits.
inline constexpr std::uint32_t kFrameDamageValid = 1u << 0;  // damage[] lists what changed
inline constexpr std::uint32_t kFrameHdr = 1u << 1;          // hdr metadata block is valid
inline constexpr std::uint32_t kFrameHdrPq = 1u << 2;        // SMPTE ST 2084 (PQ) transfer
inline constexpr std::uint32_t kFrameFlagsKnown = kFrameDamageValid | kFrameHdr | kFrameHdrPq;

struct alignas(8) DamageRect {
    std::uint32_t x, y, width, height;
};

// HDR10 static metadata (CTA-861.3 units).
struct alignas(8) HdrMetadata {
    std::uint16_t display_primaries[6];       // R, G, B chromaticity x, y in 0.00002 units
    std::uint16_t white_point[2];             // x, y in 0.00002 units
    std::uint32_t max_mastering_luminance;    // 0.0001 cd/m^2 units
    std::uint32_t min_mastering_luminance;    // 0.0001 cd/m^2 units
    std::uint16_t max_cll;                    // cd/m^2
    std::uint16_t max_fall;                   // cd/m^2
    std::uint32_t reserved;
};

// One frame, as published through the frame channel's descriptor ring (an overwrite ring).
struct alignas(8) FrameDescriptor {
    std::uint64_t serial;             // P: frame counter, +1 per frame
    std::uint64_t buffer_generation;  // P: generation of the buffer this frame was written into
    std::uint32_t buffer_index;       // P: < buffer_count
    std::uint32_t format;             // P: FrameFormat
    std::uint32_t width;              // P: pixels
    std::uint32_t height;             // P: rows
    std::uint32_t stride;             // P: bytes between rows, >= width * bytes_per_pixel
    std::uint32_t rotation;           // P: 0, 1, 2, 3 = 0, 90, 180, 270 degrees clockwise
    std::uint32_t flags;              // P: kFrame* bits
    std::uint32_t damage_count;       // P: <= kMaxDamageRects, used if kFrameDamageValid
    std::uint64_t producer_time_ns;   // P: producer's monotonic clock at publish; meaningful to a
                                      //    consumer only when FrameControl::host_id matches its own
    std::uint64_t capture_duration_ns;  // P: duration: capture of this frame took this long
    std::uint64_t frame_interval_ns;    // P: duration since the previous frame's publish
    std::uint64_t frames_dropped;       // P: counter: frames the producer dropped so far
    HdrMetadata hdr;                    // P: valid if kFrameHdr
    std::uint64_t reserved[2];
    DamageRect damage[kMaxDamageRects];  // P
};

// At the frame channel's start (the channel is page-aligned).
struct alignas(8) FrameControl {
    // Line 0: immutable after init (P).
    std::uint32_t buffer_count;         // P: kMinFrameBuffers..kMaxFrameBuffers
    std::uint32_t max_width;            // P
    std::uint32_t max_height;           // P
    std::uint32_t max_bytes_per_pixel;  // P
    std::uint64_t buffer_size;          // P: bytes per buffer, a multiple of kPageAlignment
    std::uint64_t buffers_offset;       // P: from channel start, a multiple of kPageAlignment
    std::uint64_t states_offset;        // P: FrameBufferState[buffer_count]
    std::uint64_t leases_offset;        // P: FrameLease[cursor_count]
    std::uint64_t ring_offset;          // P: the descriptor ring (RingControl, cursors, slots)
    std::uint64_t ring_size;            // P
    // Line 1: immutable after init (P).
    std::uint32_t cursor_count;   // P: == header max_consumers
    std::uint32_t ring_capacity;  // P: descriptor ring slots, a power of two
    std::uint64_t host_id;        // P: identifies the producer's kernel boot (same host, same clock)
    std::uint64_t reserved1[6];
    std::uint64_t reserved2[16];  // lines 2-3
};

// One per buffer, written by the producer only.
struct alignas(8) FrameBufferState {
    std::uint64_t generation;    // P: +1 each time the buffer is taken for a new frame (starts at 1)
    std::uint64_t reuse_intent;  // P: the generation P intends to retire (0 = none); lease handshake
    std::uint64_t serial;        // P: serial of the frame in the buffer
    std::uint32_t rows_ready;    // P: rows fully written; release after the rows' bytes
    std::uint32_t rows_total;    // P: rows of the frame in the buffer
    std::uint64_t reserved[4];
};

// One per consumer slot, written by that consumer only.
struct alignas(8) FrameLease {
    std::uint64_t claim;           // C: slot claim of the holder, 0 = unused
    std::uint64_t lease;           // C: (generation << 6) | buffer_index of the leased buffer, 0 = none
    std::uint64_t frames_read;     // C: informational
    std::uint64_t frames_skipped;  // C: informational
    std::uint64_t reserved[4];
};

[[nodiscard]] constexpr std::uint64_t make_lease(std::uint64_t generation, std::uint32_t index) noexcept {
    return (generation << 6) | index;
}

// Cursor shape types. Wire constants.
enum class CursorType : std::uint32_t {
    color = 1,         // BGRA8, straight alpha
    monochrome = 2,    // 1 bpp AND mask rows, then 1 bpp XOR mask rows (height rows each)
    masked_color = 3,  // BGRA8 where A is 0x00 (opaque colour) or 0xFF (XOR with screen)
};
inline constexpr std::uint32_t kMaxCursorType = 3;

// Copied out whole, under the shape channel's seqlock.
struct alignas(8) CursorShapeHeader {
    std::uint64_t serial;    // P: shape counter, +1 per shape
    std::uint32_t type;      // P: CursorType
    std::uint32_t width;     // P: pixels
    std::uint32_t height;    // P: rows
    std::uint32_t pitch;     // P: bytes per row (per plane for monochrome)
    std::uint32_t hotspot_x;  // P: < width
    std::uint32_t hotspot_y;  // P: < height
    std::uint32_t data_size;  // P: bytes of pixel data that follow (pitch * height, x2 for mono)
    std::uint32_t reserved;
};

struct alignas(8) CursorShapeControl {
    // Line 0: immutable after init (P).
    std::uint32_t capacity;       // P: max data_size, a multiple of 8
    std::uint32_t max_dimension;  // P: max width and height
    std::uint64_t data_offset;    // P: from channel start
    std::uint64_t reserved0[6];
    // Line 1: the seqlock and the header it protects (P).
    std::uint64_t seq;  // P: 2n+1 while shape n+1 is being written, 2n+2 once complete; 0 = none yet
    CursorShapeHeader header;  // P
    std::uint64_t reserved1[2];
};

struct alignas(8) CursorPositionControl {
    // Line 0: the register (P), under its seqlock.
    std::uint64_t seq;           // P: 2n+1 while update n+1 is written, 2n+2 once complete
    std::int32_t x;              // P: hotspot position in frame pixels (may be off-screen)
    std::int32_t y;              // P
    std::uint32_t visible;       // P: 0 or 1
    std::uint32_t reserved0;
    std::uint64_t shape_serial;  // P: the CursorShapeHeader::serial this position belongs to
    std::uint64_t serial;        // P: update counter (== (seq - 2) / 2 + 1 when stable)
    std::uint64_t reserved1[3];
    // Line 1: consumer-only.
    std::uint64_t sleepers;  // C*: bit i set while consumer i may sleep on seq (futex on its low word)
    std::uint64_t reserved2[7];
};

// Control channel: ControlChannelControl, then cursor_count rings of ring_size bytes each.
struct alignas(8) ControlChannelControl {
    std::uint32_t cursor_count;  // P: == header max_consumers
    std::uint32_t capacity;      // P: slots per ring, a power of two
    std::uint32_t element_size;  // P: max message bytes (ControlMessageHeader included)
    std::uint32_t slot_stride;   // P: sizeof(RingSlotHeader) + element_size rounded up to 8
    std::uint64_t rings_offset;  // P: from channel start
    std::uint64_t ring_size;     // P: bytes per consumer ring
    std::uint64_t reserved[4];
};

// Head of consumer i's control ring; its slots (RingSlotHeader + payload) follow at +128.
struct alignas(8) ControlRingControl {
    // Line 0: the consumer's.
    std::uint64_t claim;      // C: slot claim of the sender, 0 = not open
    std::uint64_t write_pos;  // C: next position to write; release after the slot is complete
    std::uint64_t reserved_c[6];
    // Line 1: the producer's.
    std::uint64_t read_pos;  // P: next position to read; release after the copy-out
    std::uint64_t accepted;  // P: messages that passed validation (informational)
    std::uint64_t rejected;  // P: messages that failed validation (informational)
    std::uint64_t reserved_p[5];
};

// Control message types. Wire constants.
enum class ControlType : std::uint32_t {
    set_cursor_position = 1,  // body: ControlCursorPosition
    window_size = 2,          // body: ControlWindowSize
    full_frame_request = 3,   // body: none
    application = 4,          // body: application bytes, up to element_size - 8
};
inline constexpr std::uint32_t kMaxControlType = 4;

struct alignas(4) ControlMessageHeader {
    std::uint32_t type;      // ControlType
    std::uint32_t app_type;  // for application messages; 0 otherwise
};
struct alignas(4) ControlCursorPosition {
    std::int32_t x, y;
};
struct alignas(4) ControlWindowSize {
    std::uint32_t width, height;
};

static_assert(detail::kWireStruct<DamageRect> && sizeof(DamageRect) == 16);
static_assert(detail::kWireStruct<HdrMetadata> && sizeof(HdrMetadata) == 32);
static_assert(offsetof(HdrMetadata, white_point) == 12);
static_assert(offsetof(HdrMetadata, max_mastering_luminance) == 16);
static_assert(offsetof(HdrMetadata, min_mastering_luminance) == 20);
static_assert(offsetof(HdrMetadata, max_cll) == 24);
static_assert(offsetof(HdrMetadata, max_fall) == 26);

static_assert(detail::kWireStruct<FrameDescriptor>);
static_assert(sizeof(FrameDescriptor) == 128 + 64 * 16);
static_assert(offsetof(FrameDescriptor, serial) == 0);
static_assert(offsetof(FrameDescriptor, buffer_generation) == 8);
static_assert(offsetof(FrameDescriptor, buffer_index) == 16);
static_assert(offsetof(FrameDescriptor, format) == 20);
static_assert(offsetof(FrameDescriptor, width) == 24);
static_assert(offsetof(FrameDescriptor, height) == 28);
static_assert(offsetof(FrameDescriptor, stride) == 32);
static_assert(offsetof(FrameDescriptor, rotation) == 36);
static_assert(offsetof(FrameDescriptor, flags) == 40);
static_assert(offsetof(FrameDescriptor, damage_count) == 44);
static_assert(offsetof(FrameDescriptor, producer_time_ns) == 48);
static_assert(offsetof(FrameDescriptor, capture_duration_ns) == 56);
static_assert(offsetof(FrameDescriptor, frame_interval_ns) == 64);
static_assert(offsetof(FrameDescriptor, frames_dropped) == 72);
static_assert(offsetof(FrameDescriptor, hdr) == 80);
static_assert(offsetof(FrameDescriptor, reserved) == 112);
static_assert(offsetof(FrameDescriptor, damage) == 128);

static_assert(detail::kWireStruct<FrameControl> && sizeof(FrameControl) == 256);
static_assert(offsetof(FrameControl, buffer_count) == 0);
static_assert(offsetof(FrameControl, max_width) == 4);
static_assert(offsetof(FrameControl, max_height) == 8);
static_assert(offsetof(FrameControl, max_bytes_per_pixel) == 12);
static_assert(offsetof(FrameControl, buffer_size) == 16);
static_assert(offsetof(FrameControl, buffers_offset) == 24);
static_assert(offsetof(FrameControl, states_offset) == 32);
static_assert(offsetof(FrameControl, leases_offset) == 40);
static_assert(offsetof(FrameControl, ring_offset) == 48);
static_assert(offsetof(FrameControl, ring_size) == 56);
static_assert(offsetof(FrameControl, cursor_count) == 64);
static_assert(offsetof(FrameControl, ring_capacity) == 68);
static_assert(offsetof(FrameControl, host_id) == 72);
static_assert(offsetof(FrameControl, reserved2) == 128);

static_assert(detail::kWireStruct<FrameBufferState> && sizeof(FrameBufferState) == 64);
static_assert(offsetof(FrameBufferState, generation) == 0);
static_assert(offsetof(FrameBufferState, reuse_intent) == 8);
static_assert(offsetof(FrameBufferState, serial) == 16);
static_assert(offsetof(FrameBufferState, rows_ready) == 24);
static_assert(offsetof(FrameBufferState, rows_total) == 28);

static_assert(detail::kWireStruct<FrameLease> && sizeof(FrameLease) == 64);
static_assert(offsetof(FrameLease, claim) == 0);
static_assert(offsetof(FrameLease, lease) == 8);
static_assert(offsetof(FrameLease, frames_read) == 16);
static_assert(offsetof(FrameLease, frames_skipped) == 24);

static_assert(detail::kWireStruct<CursorShapeHeader> && sizeof(CursorShapeHeader) == 40);
static_assert(offsetof(CursorShapeHeader, serial) == 0);
static_assert(offsetof(CursorShapeHeader, type) == 8);
static_assert(offsetof(CursorShapeHeader, width) == 12);
static_assert(offsetof(CursorShapeHeader, height) == 16);
static_assert(offsetof(CursorShapeHeader, pitch) == 20);
static_assert(offsetof(CursorShapeHeader, hotspot_x) == 24);
static_assert(offsetof(CursorShapeHeader, hotspot_y) == 28);
static_assert(offsetof(CursorShapeHeader, data_size) == 32);

static_assert(detail::kWireStruct<CursorShapeControl> && sizeof(CursorShapeControl) == 128);
static_assert(offsetof(CursorShapeControl, capacity) == 0);
static_assert(offsetof(CursorShapeControl, max_dimension) == 4);
static_assert(offsetof(CursorShapeControl, data_offset) == 8);
static_assert(offsetof(CursorShapeControl, seq) == 64);
static_assert(offsetof(CursorShapeControl, header) == 72);

static_assert(detail::kWireStruct<CursorPositionControl> && sizeof(CursorPositionControl) == 128);
static_assert(offsetof(CursorPositionControl, seq) == 0);
static_assert(offsetof(CursorPositionControl, x) == 8);
static_assert(offsetof(CursorPositionControl, y) == 12);
static_assert(offsetof(CursorPositionControl, visible) == 16);
static_assert(offsetof(CursorPositionControl, shape_serial) == 24);
static_assert(offsetof(CursorPositionControl, serial) == 32);
static_assert(offsetof(CursorPositionControl, sleepers) == 64);

static_assert(detail::kWireStruct<ControlChannelControl> && sizeof(ControlChannelControl) == 64);
static_assert(offsetof(ControlChannelControl, cursor_count) == 0);
static_assert(offsetof(ControlChannelControl, capacity) == 4);
static_assert(offsetof(ControlChannelControl, element_size) == 8);
static_assert(offsetof(ControlChannelControl, slot_stride) == 12);
static_assert(offsetof(ControlChannelControl, rings_offset) == 16);
static_assert(offsetof(ControlChannelControl, ring_size) == 24);

static_assert(detail::kWireStruct<ControlRingControl> && sizeof(ControlRingControl) == 128);
static_assert(offsetof(ControlRingControl, claim) == 0);
static_assert(offsetof(ControlRingControl, write_pos) == 8);
static_assert(offsetof(ControlRingControl, read_pos) == 64);
static_assert(offsetof(ControlRingControl, accepted) == 72);
static_assert(offsetof(ControlRingControl, rejected) == 80);

static_assert(detail::kWireStruct<ControlMessageHeader> && sizeof(ControlMessageHeader) == 8);
static_assert(sizeof(ControlCursorPosition) == 8 && sizeof(ControlWindowSize) == 8);

}  // namespace pane
