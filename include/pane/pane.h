/* SPDX-License-Identifier: MIT */
/*
 * pane.h: Pane's C ABI, for VMM plugins and other programs written in C (C11; also valid C++).
 * It has two parts:
 *
 *  1. The wire structures of a Pane region as C structs (pane_region_header, pane_channel_entry,
 *     pane_consumer_slot, ... pane_control_message_header) with the same sizes and offsets as the
 *     C++ ones in pane/layout.hpp and pane/display_layout.hpp, checked below by _Static_assert on
 *     every size and offset (and, in tests/c/test_capi_wire.cpp, against the C++ structs). They
 *     describe bytes; nothing here makes it safe to write them: use the functions.
 *
 *  2. Functions over the C++ library (libpane-capi, `pkg-config pane-capi`): map a region
 *     (POSIX shm, a file or device such as /dev/kvmfr0, the IVSHMEM BAR in a Linux or Windows
 *     guest, or memory the caller mapped itself), be its producer (frames, cursor shape and
 *     position out, control messages in) or one of its consumers (frames, cursor in, control
 *     out), with heartbeats and epoch reporting. The region is a display region laid out as
 *     Pane's tools lay it out (channels "frames", "cursor-shape", "cursor-position", "control"),
 *     so a C producer works with pane-consume and pane-inspect, and a C consumer with
 *     pane-produce.
 *
 * Every function returns a pane_status (or a plain value where it cannot fail) and never lets an
 * exception, a crash or an out-of-bounds access through for anything the other side of the
 * region wrote. Handles are opaque. Threads: a handle is used by one thread at a time, except
 * as the reference tools do: a consumer's frame calls, its cursor calls, and its tick and control
 * calls may run on three threads (pane-consume); a producer's cursor calls on one thread while
 * its frame, control and tick calls run on another (pane-produce). The *_stats_get calls read
 * counters of every channel: call them while no other call on that handle runs. Waits take a timeout in nanoseconds: 0 only looks, PANE_WAIT_FOREVER never
 * gives up.
 */
#ifndef PANE_PANE_H
#define PANE_PANE_H

#include <stddef.h>
#include <stdint.h>

/* The C API's version: major changes break source or binary compatibility (the shared
 * library's soversion follows it), minor ones add. pane_c_api_version() says what the library
 * linked at run time implements. */
#define PANE_C_API_VERSION_MAJOR 1
#define PANE_C_API_VERSION_MINOR 0
#define PANE_C_API_VERSION (PANE_C_API_VERSION_MAJOR * 10000 + PANE_C_API_VERSION_MINOR * 100)

/* Export macros. Linking the static library on Windows: define PANE_C_STATIC (pkg-config's
 * --static flags and Meson's dependency do). PANE_C_BUILDING is the library's own. */
#if defined(_WIN32) || defined(__CYGWIN__)
#if defined(PANE_C_STATIC)
#define PANE_API
#elif defined(PANE_C_BUILDING)
#define PANE_API __declspec(dllexport)
#else
#define PANE_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define PANE_API __attribute__((visibility("default")))
#else
#define PANE_API
#endif

/* 8-byte alignment of the wire structs' 64-bit fields, which i386 would align to 4. */
/* Every function is noexcept for C++ callers: nothing is thrown through the C ABI. */
#if defined(__cplusplus)
#define PANE_NOEXCEPT noexcept
#define PANE_ALIGN8 alignas(8)
#define PANE_ALIGN4 alignas(4)
#define PANE_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define PANE_NOEXCEPT
#define PANE_ALIGN8 _Alignas(8)
#define PANE_ALIGN4 _Alignas(4)
#define PANE_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

#if defined(__cplusplus)
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Wire constants (docs/protocol.md).                                                          */

#define PANE_REGION_MAGIC UINT64_C(0x4E47522D454E4150) /* bytes "PANE-RGN" */
#define PANE_PROTOCOL_VERSION_MAJOR 1
#define PANE_PROTOCOL_VERSION_MINOR 4
#define PANE_MAX_CONSUMERS 64
#define PANE_DEFAULT_CONSUMERS 32
#define PANE_CHANNEL_NAME_BYTES 24
#define PANE_MAX_FRAME_BUFFERS 64
#define PANE_MIN_FRAME_BUFFERS 3
#define PANE_MAX_DAMAGE_RECTS 64
#define PANE_MAX_FRAME_DIMENSION 16384

/* pane_region_header.producer_state */
#define PANE_PRODUCER_STATE_UNINITIALISED 0
#define PANE_PRODUCER_STATE_INITIALISING 1
#define PANE_PRODUCER_STATE_READY 2
#define PANE_PRODUCER_STATE_CLOSED 3
/* pane_consumer_slot.state */
#define PANE_CONSUMER_STATE_FREE 0
#define PANE_CONSUMER_STATE_ATTACHED 1
#define PANE_CONSUMER_STATE_DETACHED 2
/* pane_channel_entry.kind */
#define PANE_CHANNEL_RING 1
#define PANE_CHANNEL_FRAMES 2
#define PANE_CHANNEL_CURSOR_SHAPE 3
#define PANE_CHANNEL_CURSOR_POSITION 4
#define PANE_CHANNEL_CONTROL 5
/* ring policies (pane_channel_entry.policy, pane_ring_control.policy) */
#define PANE_RING_LOSSLESS 1
#define PANE_RING_OVERWRITE 2
/* flag bits */
#define PANE_REGION_FLAG_SLOT_SIDES (1u << 0)
#define PANE_REGION_FLAG_ASYMMETRIC_WAKE (1u << 1)
#define PANE_CONSUMER_FEATURE_HEAVY_FENCE UINT64_C(1)
#define PANE_RING_FLAG_WAKEUPS (1u << 0)
#define PANE_FRAME_DAMAGE_VALID (1u << 0)
#define PANE_FRAME_HDR (1u << 1)
#define PANE_FRAME_HDR_PQ (1u << 2)

/* Pixel formats (pane_frame_descriptor.format). */
typedef enum pane_frame_format {
    PANE_FORMAT_BGRA8 = 1,   /* bytes B, G, R, A */
    PANE_FORMAT_RGBA8 = 2,   /* bytes R, G, B, A */
    PANE_FORMAT_RGBA10 = 3,  /* u32 LE: R bits 0-9, G 10-19, B 20-29, A 30-31 */
    PANE_FORMAT_RGBA16F = 4, /* 4 x IEEE 754 half, R, G, B, A */
    PANE_FORMAT_BGR_32 = 5,  /* bytes B, G, R, unused */
    PANE_FORMAT_RGB_24 = 6   /* bytes R, G, B */
} pane_frame_format;

/* Cursor shape types (pane_cursor_shape_header.type). */
typedef enum pane_cursor_type {
    PANE_CURSOR_COLOR = 1,       /* BGRA8, straight alpha */
    PANE_CURSOR_MONOCHROME = 2,  /* 1 bpp AND mask rows, then 1 bpp XOR mask rows */
    PANE_CURSOR_MASKED_COLOR = 3 /* BGRA8, A 0x00 opaque colour or 0xFF XOR with the screen */
} pane_cursor_type;

/* Control message types (pane_control_message_header.type). */
typedef enum pane_control_type {
    PANE_CONTROL_SET_CURSOR_POSITION = 1, /* body: pane_control_cursor_position */
    PANE_CONTROL_WINDOW_SIZE = 2,         /* body: pane_control_window_size */
    PANE_CONTROL_FULL_FRAME_REQUEST = 3,  /* no body */
    PANE_CONTROL_APPLICATION = 4          /* application bytes */
} pane_control_type;

/* ------------------------------------------------------------------------------------------ */
/* Wire structures. Writers: P = producer, C = the consumer holding that slot. */

typedef struct pane_region_header {
    PANE_ALIGN8 uint64_t magic;
    uint16_t version_major;
    uint16_t version_minor;
    uint32_t header_size;
    uint64_t region_size;
    uint64_t epoch;
    uint32_t producer_state;
    uint32_t producer_pid;
    uint32_t max_consumers;
    uint32_t channel_count;
    uint64_t channel_table_offset;
    uint64_t slot_table_offset;
    uint32_t channel_table_capacity;
    uint32_t channel_entry_size;
    uint32_t slot_size;
    uint32_t consumer_timeout_ms;
    uint32_t heartbeat_period_ms;
    uint32_t flags;
    uint64_t init_count;
    uint64_t producer_host_id;
    uint32_t local_slots;
    uint32_t reserved1a;
    uint64_t reserved1[2];
    uint64_t producer_heartbeat;
    uint64_t reserved2[7];
    uint64_t reserved3[8];
} pane_region_header;

typedef struct pane_channel_entry {
    PANE_ALIGN8 uint32_t kind;
    uint32_t flags;
    uint64_t offset;
    uint64_t size;
    uint32_t element_size;
    uint32_t capacity;
    uint32_t policy;
    uint32_t id;
    char name[PANE_CHANNEL_NAME_BYTES];
} pane_channel_entry;

typedef struct pane_consumer_slot {
    PANE_ALIGN8 uint64_t claim;
    uint64_t heartbeat;
    uint64_t attach_epoch;
    uint32_t state;
    uint32_t pid;
    uint64_t host_id;
    uint64_t features;
    uint64_t features_claim;
    uint64_t reserved_c[1];
    uint64_t reaped_claim;
    uint64_t reap_count;
    uint64_t reserved_p[6];
} pane_consumer_slot;

typedef struct pane_ring_control {
    PANE_ALIGN8 uint32_t policy;
    uint32_t capacity;
    uint32_t element_size;
    uint32_t slot_stride;
    uint32_t cursor_count;
    uint32_t flags;
    uint64_t cursors_offset;
    uint64_t slots_offset;
    uint64_t initial_position;
    uint32_t producer_sleeping;
    uint32_t reserved0a;
    uint64_t reserved0;
    uint64_t write_pos;
    uint32_t producer_waiting;
    uint32_t reserved1;
    uint64_t reserved2[6];
    uint64_t sleepers;
    uint64_t reserved3[7];
} pane_ring_control;

typedef struct pane_ring_cursor {
    PANE_ALIGN8 uint64_t read_pos;
    uint64_t claim;
    uint64_t lost;
    uint64_t delivered;
    uint64_t reserved[4];
} pane_ring_cursor;

typedef struct pane_ring_slot_header {
    PANE_ALIGN8 uint64_t seq;
    uint32_t length;
    uint32_t reserved;
} pane_ring_slot_header;

typedef struct pane_damage_rect {
    PANE_ALIGN8 uint32_t x;
    uint32_t y;
    uint32_t width;
    uint32_t height;
} pane_damage_rect;

typedef struct pane_hdr_metadata {
    PANE_ALIGN8 uint16_t display_primaries[6];
    uint16_t white_point[2];
    uint32_t max_mastering_luminance;
    uint32_t min_mastering_luminance;
    uint16_t max_cll;
    uint16_t max_fall;
    uint32_t reserved;
} pane_hdr_metadata;

typedef struct pane_frame_descriptor {
    PANE_ALIGN8 uint64_t serial;
    uint64_t buffer_generation;
    uint32_t buffer_index;
    uint32_t format;
    uint32_t width;
    uint32_t height;
    uint32_t stride;
    uint32_t rotation;
    uint32_t flags;
    uint32_t damage_count;
    uint64_t producer_time_ns;
    uint64_t capture_duration_ns;
    uint64_t frame_interval_ns;
    uint64_t frames_dropped;
    pane_hdr_metadata hdr;
    uint64_t reserved[2];
    pane_damage_rect damage[PANE_MAX_DAMAGE_RECTS];
} pane_frame_descriptor;

typedef struct pane_frame_control {
    PANE_ALIGN8 uint32_t buffer_count;
    uint32_t max_width;
    uint32_t max_height;
    uint32_t max_bytes_per_pixel;
    uint64_t buffer_size;
    uint64_t buffers_offset;
    uint64_t states_offset;
    uint64_t leases_offset;
    uint64_t ring_offset;
    uint64_t ring_size;
    uint32_t cursor_count;
    uint32_t ring_capacity;
    uint64_t host_id;
    uint64_t reserved1[6];
    uint64_t reserved2[16];
} pane_frame_control;

typedef struct pane_frame_buffer_state {
    PANE_ALIGN8 uint64_t generation;
    uint64_t reuse_intent;
    uint64_t serial;
    uint32_t rows_ready;
    uint32_t rows_total;
    uint64_t reserved[4];
} pane_frame_buffer_state;

typedef struct pane_frame_lease {
    PANE_ALIGN8 uint64_t claim;
    uint64_t lease;
    uint64_t frames_read;
    uint64_t frames_skipped;
    uint64_t reserved[4];
} pane_frame_lease;

typedef struct pane_cursor_shape_header {
    PANE_ALIGN8 uint64_t serial;
    uint32_t type;
    uint32_t width;
    uint32_t height;
    uint32_t pitch;
    uint32_t hotspot_x;
    uint32_t hotspot_y;
    uint32_t data_size;
    uint32_t reserved;
} pane_cursor_shape_header;

typedef struct pane_cursor_shape_control {
    PANE_ALIGN8 uint32_t capacity;
    uint32_t max_dimension;
    uint64_t data_offset;
    uint64_t reserved0[6];
    uint64_t seq;
    pane_cursor_shape_header header;
    uint64_t reserved1[2];
} pane_cursor_shape_control;

typedef struct pane_cursor_position_control {
    PANE_ALIGN8 uint64_t seq;
    int32_t x;
    int32_t y;
    uint32_t visible;
    uint32_t reserved0;
    uint64_t shape_serial;
    uint64_t serial;
    uint64_t reserved1[3];
    uint64_t sleepers;
    uint64_t reserved2[7];
} pane_cursor_position_control;

typedef struct pane_control_channel_control {
    PANE_ALIGN8 uint32_t cursor_count;
    uint32_t capacity;
    uint32_t element_size;
    uint32_t slot_stride;
    uint64_t rings_offset;
    uint64_t ring_size;
    uint64_t reserved[4];
} pane_control_channel_control;

typedef struct pane_control_ring_control {
    PANE_ALIGN8 uint64_t claim;
    uint64_t write_pos;
    uint64_t reserved_c[6];
    uint64_t read_pos;
    uint64_t accepted;
    uint64_t rejected;
    uint64_t reserved_p[5];
} pane_control_ring_control;

typedef struct pane_control_message_header {
    PANE_ALIGN4 uint32_t type;
    uint32_t app_type;
} pane_control_message_header;

typedef struct pane_control_cursor_position {
    PANE_ALIGN4 int32_t x;
    int32_t y;
} pane_control_cursor_position;

typedef struct pane_control_window_size {
    PANE_ALIGN4 uint32_t width;
    uint32_t height;
} pane_control_window_size;

/* The layout table: the same numbers as layout.hpp / display_layout.hpp, on every target. */
#define PANE_CHECK_SIZE(T, n) PANE_STATIC_ASSERT(sizeof(T) == (n), "sizeof(" #T ")")
#define PANE_CHECK_OFFSET(T, f, n) PANE_STATIC_ASSERT(offsetof(T, f) == (n), "offsetof(" #T ", " #f ")")
PANE_CHECK_SIZE(pane_region_header, 256);
PANE_CHECK_OFFSET(pane_region_header, magic, 0);
PANE_CHECK_OFFSET(pane_region_header, version_major, 8);
PANE_CHECK_OFFSET(pane_region_header, version_minor, 10);
PANE_CHECK_OFFSET(pane_region_header, header_size, 12);
PANE_CHECK_OFFSET(pane_region_header, region_size, 16);
PANE_CHECK_OFFSET(pane_region_header, epoch, 24);
PANE_CHECK_OFFSET(pane_region_header, producer_state, 32);
PANE_CHECK_OFFSET(pane_region_header, producer_pid, 36);
PANE_CHECK_OFFSET(pane_region_header, max_consumers, 40);
PANE_CHECK_OFFSET(pane_region_header, channel_count, 44);
PANE_CHECK_OFFSET(pane_region_header, channel_table_offset, 48);
PANE_CHECK_OFFSET(pane_region_header, slot_table_offset, 56);
PANE_CHECK_OFFSET(pane_region_header, channel_table_capacity, 64);
PANE_CHECK_OFFSET(pane_region_header, channel_entry_size, 68);
PANE_CHECK_OFFSET(pane_region_header, slot_size, 72);
PANE_CHECK_OFFSET(pane_region_header, consumer_timeout_ms, 76);
PANE_CHECK_OFFSET(pane_region_header, heartbeat_period_ms, 80);
PANE_CHECK_OFFSET(pane_region_header, flags, 84);
PANE_CHECK_OFFSET(pane_region_header, init_count, 88);
PANE_CHECK_OFFSET(pane_region_header, producer_host_id, 96);
PANE_CHECK_OFFSET(pane_region_header, local_slots, 104);
PANE_CHECK_OFFSET(pane_region_header, reserved1a, 108);
PANE_CHECK_OFFSET(pane_region_header, reserved1, 112);
PANE_CHECK_OFFSET(pane_region_header, producer_heartbeat, 128);
PANE_CHECK_OFFSET(pane_region_header, reserved2, 136);
PANE_CHECK_OFFSET(pane_region_header, reserved3, 192);

PANE_CHECK_SIZE(pane_channel_entry, 64);
PANE_CHECK_OFFSET(pane_channel_entry, kind, 0);
PANE_CHECK_OFFSET(pane_channel_entry, flags, 4);
PANE_CHECK_OFFSET(pane_channel_entry, offset, 8);
PANE_CHECK_OFFSET(pane_channel_entry, size, 16);
PANE_CHECK_OFFSET(pane_channel_entry, element_size, 24);
PANE_CHECK_OFFSET(pane_channel_entry, capacity, 28);
PANE_CHECK_OFFSET(pane_channel_entry, policy, 32);
PANE_CHECK_OFFSET(pane_channel_entry, id, 36);
PANE_CHECK_OFFSET(pane_channel_entry, name, 40);

PANE_CHECK_SIZE(pane_consumer_slot, 128);
PANE_CHECK_OFFSET(pane_consumer_slot, claim, 0);
PANE_CHECK_OFFSET(pane_consumer_slot, heartbeat, 8);
PANE_CHECK_OFFSET(pane_consumer_slot, attach_epoch, 16);
PANE_CHECK_OFFSET(pane_consumer_slot, state, 24);
PANE_CHECK_OFFSET(pane_consumer_slot, pid, 28);
PANE_CHECK_OFFSET(pane_consumer_slot, host_id, 32);
PANE_CHECK_OFFSET(pane_consumer_slot, features, 40);
PANE_CHECK_OFFSET(pane_consumer_slot, features_claim, 48);
PANE_CHECK_OFFSET(pane_consumer_slot, reserved_c, 56);
PANE_CHECK_OFFSET(pane_consumer_slot, reaped_claim, 64);
PANE_CHECK_OFFSET(pane_consumer_slot, reap_count, 72);
PANE_CHECK_OFFSET(pane_consumer_slot, reserved_p, 80);

PANE_CHECK_SIZE(pane_ring_control, 192);
PANE_CHECK_OFFSET(pane_ring_control, policy, 0);
PANE_CHECK_OFFSET(pane_ring_control, capacity, 4);
PANE_CHECK_OFFSET(pane_ring_control, element_size, 8);
PANE_CHECK_OFFSET(pane_ring_control, slot_stride, 12);
PANE_CHECK_OFFSET(pane_ring_control, cursor_count, 16);
PANE_CHECK_OFFSET(pane_ring_control, flags, 20);
PANE_CHECK_OFFSET(pane_ring_control, cursors_offset, 24);
PANE_CHECK_OFFSET(pane_ring_control, slots_offset, 32);
PANE_CHECK_OFFSET(pane_ring_control, initial_position, 40);
PANE_CHECK_OFFSET(pane_ring_control, producer_sleeping, 48);
PANE_CHECK_OFFSET(pane_ring_control, reserved0a, 52);
PANE_CHECK_OFFSET(pane_ring_control, reserved0, 56);
PANE_CHECK_OFFSET(pane_ring_control, write_pos, 64);
PANE_CHECK_OFFSET(pane_ring_control, producer_waiting, 72);
PANE_CHECK_OFFSET(pane_ring_control, reserved1, 76);
PANE_CHECK_OFFSET(pane_ring_control, reserved2, 80);
PANE_CHECK_OFFSET(pane_ring_control, sleepers, 128);
PANE_CHECK_OFFSET(pane_ring_control, reserved3, 136);

PANE_CHECK_SIZE(pane_ring_cursor, 64);
PANE_CHECK_OFFSET(pane_ring_cursor, read_pos, 0);
PANE_CHECK_OFFSET(pane_ring_cursor, claim, 8);
PANE_CHECK_OFFSET(pane_ring_cursor, lost, 16);
PANE_CHECK_OFFSET(pane_ring_cursor, delivered, 24);
PANE_CHECK_OFFSET(pane_ring_cursor, reserved, 32);

PANE_CHECK_SIZE(pane_ring_slot_header, 16);
PANE_CHECK_OFFSET(pane_ring_slot_header, seq, 0);
PANE_CHECK_OFFSET(pane_ring_slot_header, length, 8);
PANE_CHECK_OFFSET(pane_ring_slot_header, reserved, 12);

PANE_CHECK_SIZE(pane_damage_rect, 16);
PANE_CHECK_OFFSET(pane_damage_rect, x, 0);
PANE_CHECK_OFFSET(pane_damage_rect, y, 4);
PANE_CHECK_OFFSET(pane_damage_rect, width, 8);
PANE_CHECK_OFFSET(pane_damage_rect, height, 12);

PANE_CHECK_SIZE(pane_hdr_metadata, 32);
PANE_CHECK_OFFSET(pane_hdr_metadata, display_primaries, 0);
PANE_CHECK_OFFSET(pane_hdr_metadata, white_point, 12);
PANE_CHECK_OFFSET(pane_hdr_metadata, max_mastering_luminance, 16);
PANE_CHECK_OFFSET(pane_hdr_metadata, min_mastering_luminance, 20);
PANE_CHECK_OFFSET(pane_hdr_metadata, max_cll, 24);
PANE_CHECK_OFFSET(pane_hdr_metadata, max_fall, 26);
PANE_CHECK_OFFSET(pane_hdr_metadata, reserved, 28);

PANE_CHECK_SIZE(pane_frame_descriptor, 128 + 64 * 16);
PANE_CHECK_OFFSET(pane_frame_descriptor, serial, 0);
PANE_CHECK_OFFSET(pane_frame_descriptor, buffer_generation, 8);
PANE_CHECK_OFFSET(pane_frame_descriptor, buffer_index, 16);
PANE_CHECK_OFFSET(pane_frame_descriptor, format, 20);
PANE_CHECK_OFFSET(pane_frame_descriptor, width, 24);
PANE_CHECK_OFFSET(pane_frame_descriptor, height, 28);
PANE_CHECK_OFFSET(pane_frame_descriptor, stride, 32);
PANE_CHECK_OFFSET(pane_frame_descriptor, rotation, 36);
PANE_CHECK_OFFSET(pane_frame_descriptor, flags, 40);
PANE_CHECK_OFFSET(pane_frame_descriptor, damage_count, 44);
PANE_CHECK_OFFSET(pane_frame_descriptor, producer_time_ns, 48);
PANE_CHECK_OFFSET(pane_frame_descriptor, capture_duration_ns, 56);
PANE_CHECK_OFFSET(pane_frame_descriptor, frame_interval_ns, 64);
PANE_CHECK_OFFSET(pane_frame_descriptor, frames_dropped, 72);
PANE_CHECK_OFFSET(pane_frame_descriptor, hdr, 80);
PANE_CHECK_OFFSET(pane_frame_descriptor, reserved, 112);
PANE_CHECK_OFFSET(pane_frame_descriptor, damage, 128);

PANE_CHECK_SIZE(pane_frame_control, 256);
PANE_CHECK_OFFSET(pane_frame_control, buffer_count, 0);
PANE_CHECK_OFFSET(pane_frame_control, max_width, 4);
PANE_CHECK_OFFSET(pane_frame_control, max_height, 8);
PANE_CHECK_OFFSET(pane_frame_control, max_bytes_per_pixel, 12);
PANE_CHECK_OFFSET(pane_frame_control, buffer_size, 16);
PANE_CHECK_OFFSET(pane_frame_control, buffers_offset, 24);
PANE_CHECK_OFFSET(pane_frame_control, states_offset, 32);
PANE_CHECK_OFFSET(pane_frame_control, leases_offset, 40);
PANE_CHECK_OFFSET(pane_frame_control, ring_offset, 48);
PANE_CHECK_OFFSET(pane_frame_control, ring_size, 56);
PANE_CHECK_OFFSET(pane_frame_control, cursor_count, 64);
PANE_CHECK_OFFSET(pane_frame_control, ring_capacity, 68);
PANE_CHECK_OFFSET(pane_frame_control, host_id, 72);
PANE_CHECK_OFFSET(pane_frame_control, reserved1, 80);
PANE_CHECK_OFFSET(pane_frame_control, reserved2, 128);

PANE_CHECK_SIZE(pane_frame_buffer_state, 64);
PANE_CHECK_OFFSET(pane_frame_buffer_state, generation, 0);
PANE_CHECK_OFFSET(pane_frame_buffer_state, reuse_intent, 8);
PANE_CHECK_OFFSET(pane_frame_buffer_state, serial, 16);
PANE_CHECK_OFFSET(pane_frame_buffer_state, rows_ready, 24);
PANE_CHECK_OFFSET(pane_frame_buffer_state, rows_total, 28);
PANE_CHECK_OFFSET(pane_frame_buffer_state, reserved, 32);

PANE_CHECK_SIZE(pane_frame_lease, 64);
PANE_CHECK_OFFSET(pane_frame_lease, claim, 0);
PANE_CHECK_OFFSET(pane_frame_lease, lease, 8);
PANE_CHECK_OFFSET(pane_frame_lease, frames_read, 16);
PANE_CHECK_OFFSET(pane_frame_lease, frames_skipped, 24);
PANE_CHECK_OFFSET(pane_frame_lease, reserved, 32);

PANE_CHECK_SIZE(pane_cursor_shape_header, 40);
PANE_CHECK_OFFSET(pane_cursor_shape_header, serial, 0);
PANE_CHECK_OFFSET(pane_cursor_shape_header, type, 8);
PANE_CHECK_OFFSET(pane_cursor_shape_header, width, 12);
PANE_CHECK_OFFSET(pane_cursor_shape_header, height, 16);
PANE_CHECK_OFFSET(pane_cursor_shape_header, pitch, 20);
PANE_CHECK_OFFSET(pane_cursor_shape_header, hotspot_x, 24);
PANE_CHECK_OFFSET(pane_cursor_shape_header, hotspot_y, 28);
PANE_CHECK_OFFSET(pane_cursor_shape_header, data_size, 32);
PANE_CHECK_OFFSET(pane_cursor_shape_header, reserved, 36);

PANE_CHECK_SIZE(pane_cursor_shape_control, 128);
PANE_CHECK_OFFSET(pane_cursor_shape_control, capacity, 0);
PANE_CHECK_OFFSET(pane_cursor_shape_control, max_dimension, 4);
PANE_CHECK_OFFSET(pane_cursor_shape_control, data_offset, 8);
PANE_CHECK_OFFSET(pane_cursor_shape_control, reserved0, 16);
PANE_CHECK_OFFSET(pane_cursor_shape_control, seq, 64);
PANE_CHECK_OFFSET(pane_cursor_shape_control, header, 72);
PANE_CHECK_OFFSET(pane_cursor_shape_control, reserved1, 112);

PANE_CHECK_SIZE(pane_cursor_position_control, 128);
PANE_CHECK_OFFSET(pane_cursor_position_control, seq, 0);
PANE_CHECK_OFFSET(pane_cursor_position_control, x, 8);
PANE_CHECK_OFFSET(pane_cursor_position_control, y, 12);
PANE_CHECK_OFFSET(pane_cursor_position_control, visible, 16);
PANE_CHECK_OFFSET(pane_cursor_position_control, reserved0, 20);
PANE_CHECK_OFFSET(pane_cursor_position_control, shape_serial, 24);
PANE_CHECK_OFFSET(pane_cursor_position_control, serial, 32);
PANE_CHECK_OFFSET(pane_cursor_position_control, reserved1, 40);
PANE_CHECK_OFFSET(pane_cursor_position_control, sleepers, 64);
PANE_CHECK_OFFSET(pane_cursor_position_control, reserved2, 72);

PANE_CHECK_SIZE(pane_control_channel_control, 64);
PANE_CHECK_OFFSET(pane_control_channel_control, cursor_count, 0);
PANE_CHECK_OFFSET(pane_control_channel_control, capacity, 4);
PANE_CHECK_OFFSET(pane_control_channel_control, element_size, 8);
PANE_CHECK_OFFSET(pane_control_channel_control, slot_stride, 12);
PANE_CHECK_OFFSET(pane_control_channel_control, rings_offset, 16);
PANE_CHECK_OFFSET(pane_control_channel_control, ring_size, 24);
PANE_CHECK_OFFSET(pane_control_channel_control, reserved, 32);

PANE_CHECK_SIZE(pane_control_ring_control, 128);
PANE_CHECK_OFFSET(pane_control_ring_control, claim, 0);
PANE_CHECK_OFFSET(pane_control_ring_control, write_pos, 8);
PANE_CHECK_OFFSET(pane_control_ring_control, reserved_c, 16);
PANE_CHECK_OFFSET(pane_control_ring_control, read_pos, 64);
PANE_CHECK_OFFSET(pane_control_ring_control, accepted, 72);
PANE_CHECK_OFFSET(pane_control_ring_control, rejected, 80);
PANE_CHECK_OFFSET(pane_control_ring_control, reserved_p, 88);

PANE_CHECK_SIZE(pane_control_message_header, 8);
PANE_CHECK_OFFSET(pane_control_message_header, type, 0);
PANE_CHECK_OFFSET(pane_control_message_header, app_type, 4);
PANE_CHECK_SIZE(pane_control_cursor_position, 8);
PANE_CHECK_OFFSET(pane_control_cursor_position, x, 0);
PANE_CHECK_OFFSET(pane_control_cursor_position, y, 4);
PANE_CHECK_SIZE(pane_control_window_size, 8);
PANE_CHECK_OFFSET(pane_control_window_size, width, 0);
PANE_CHECK_OFFSET(pane_control_window_size, height, 4);

/* ------------------------------------------------------------------------------------------ */
/* Status codes. 0 is success; 1-99 are outcomes of a data-path call (nothing new, try again,
 * attach again, the other side broke a rule); 100-199 misuse of the API; 200 and up the C++
 * setup errors, one range per error enum (MapError, InitError, AttachError, ChannelError) with
 * the C++ value added to the range's base. */
typedef enum pane_status {
    PANE_OK = 0,

    /* Nothing to do yet: call again later. */
    PANE_TIMED_OUT = 1,      /* a wait ended at its timeout */
    PANE_NO_FRAME = 2,       /* consumer: no frame newer than the last one acquired */
    PANE_SUPERSEDED = 3,     /* consumer: the producer was reusing that frame's buffer */
    PANE_NO_FREE_BUFFER = 4, /* producer: every buffer is the latest or leased; frame dropped */
    PANE_UNCHANGED = 5,      /* cursor: nothing newer than the last value read */
    PANE_NONE_YET = 6,       /* cursor: the producer has published nothing yet */
    PANE_CONTENDED = 7,      /* cursor: the producer kept writing during the copy */
    PANE_EMPTY = 8,          /* producer: no valid control message waiting */
    PANE_FULL = 9,           /* consumer: the control ring is full */

    /* The session is over: close the handle, map/attach again (consumer) or stop (producer). */
    PANE_EPOCH_CHANGED = 20,   /* the producer re-initialised the region */
    PANE_SLOT_LOST = 21,       /* our consumer slot was reaped (we were silent too long) */
    PANE_PRODUCER_STALE = 22,  /* the producer's heartbeat stopped */
    PANE_PRODUCER_CLOSED = 23, /* the producer closed the region */
    PANE_NOT_OWNER = 24,       /* producer: another producer re-initialised our region */

    /* The data broke a rule. */
    PANE_INVALID_FRAME = 30,         /* producer: the frame info breaks a rule */
    PANE_REUSED = 31,                /* consumer: the buffer was reused while read: torn */
    PANE_BROKEN = 32,                /* consumer: the producer published an invalid descriptor;
                                        the frame channel stays broken until the next epoch */
    PANE_INVALID_CURSOR = 33,        /* cursor: rejected input, or an invalid published value */
    PANE_TOO_LARGE = 34,             /* control: the message exceeds the channel's element size */
    PANE_ROWS_OUT_OF_RANGE = 35,     /* frame writer: rows beyond the frame, or a short stride */
    PANE_ROWS_ALREADY_PUBLISHED = 36, /* frame writer: those rows were promised complete */

    /* Misuse of the API. */
    PANE_E_INVALID_ARGUMENT = 100, /* a null pointer, an out-of-range value, a misaligned region */
    PANE_E_NO_MEMORY = 101,
    PANE_E_INTERNAL = 102,         /* an unexpected exception inside the library (a bug) */
    PANE_E_UNSUPPORTED = 103,      /* not available in this build or on this platform */
    PANE_E_BAD_STATE = 104,        /* no frame in hand, or the channel is not open */
    PANE_E_BUFFER_TOO_SMALL = 105, /* the caller's buffer cannot hold the data; see the call */

    /* MapError: mapping a region. */
    PANE_E_MAP_NOT_FOUND = 201,
    PANE_E_MAP_ALREADY_EXISTS = 202,
    PANE_E_MAP_PERMISSION_DENIED = 203,
    PANE_E_MAP_TOO_SMALL = 204,
    PANE_E_MAP_INVALID_ARGUMENT = 205,
    PANE_E_MAP_SYSTEM_ERROR = 206,

    /* InitError: creating a producer session. */
    PANE_E_INIT_REGION_TOO_SMALL = 301,
    PANE_E_INIT_INVALID_LAYOUT = 302,
    PANE_E_INIT_TOO_MANY_CHANNELS = 303,
    PANE_E_INIT_TOO_MANY_CONSUMERS = 304,
    PANE_E_INIT_PRODUCER_ACTIVE = 305,

    /* AttachError: attaching a consumer. */
    PANE_E_ATTACH_REGION_TOO_SMALL = 401,
    PANE_E_ATTACH_BAD_MAGIC = 402,
    PANE_E_ATTACH_UNSUPPORTED_VERSION = 403,
    PANE_E_ATTACH_NOT_READY = 404,
    PANE_E_ATTACH_INVALID_LAYOUT = 405,
    PANE_E_ATTACH_NO_FREE_SLOT = 406,
    PANE_E_ATTACH_EPOCH_CHANGED = 407,

    /* ChannelError: opening one of the display channels. */
    PANE_E_CHANNEL_NOT_FOUND = 501,
    PANE_E_CHANNEL_WRONG_KIND = 502,
    PANE_E_CHANNEL_WRONG_ELEMENT = 503,
    PANE_E_CHANNEL_INVALID_LAYOUT = 504,
    PANE_E_CHANNEL_ALREADY_OPEN = 505,
    PANE_E_CHANNEL_NOT_ATTACHED = 506
} pane_status;

/* A constant English sentence for any value (unknown values included; an int, so that any
 * value is defined behaviour on both sides). */
PANE_API const char* pane_status_str(int status) PANE_NOEXCEPT;
/* PANE_C_API_VERSION of the library in use. */
PANE_API int pane_c_api_version(void) PANE_NOEXCEPT;

/* Waits: a timeout in nanoseconds; 0 only looks, PANE_WAIT_FOREVER never gives up. */
#define PANE_WAIT_FOREVER UINT64_MAX

/* Bytes per pixel of a format; 0 for an unknown one. */
PANE_API uint32_t pane_bytes_per_pixel(uint32_t format) PANE_NOEXCEPT;

/* ------------------------------------------------------------------------------------------ */
/* Regions: a mapping, whatever its backend. The session (producer or consumer) must be
 * destroyed before its region is closed. */
typedef struct pane_region pane_region;

/* How to treat an existing object (the `mode` of the open calls; a uint32_t there, so that an
 * out-of-range value is refused rather than undefined). */
typedef enum pane_open_mode {
    PANE_OPEN_CREATE_ONLY = 0,   /* fail with PANE_E_MAP_ALREADY_EXISTS if it exists */
    PANE_OPEN_OR_CREATE = 1,     /* reuse (grown to `size` if smaller) or create */
    PANE_OPEN_ONLY = 2           /* fail with PANE_E_MAP_NOT_FOUND if it does not exist */
} pane_open_mode;

/* A POSIX shm object (/dev/shm/NAME on Linux). size 0 with PANE_OPEN_ONLY maps what exists.
 * PANE_E_UNSUPPORTED where the library was built without this backend (Windows). */
PANE_API pane_status pane_region_open_shm(const char* name, uint64_t size, uint32_t mode, pane_region** out) PANE_NOEXCEPT;
/* Removes a shm name (mappings stay valid). PANE_E_MAP_NOT_FOUND if there was none. */
PANE_API pane_status pane_region_remove_shm(const char* name) PANE_NOEXCEPT;
/* A file or device: /dev/shm/NAME from QEMU's memory-backend-file, a hugetlbfs file, a kvmfr
 * device (/dev/kvmfr0, whose size it asks the driver). size 0 with PANE_OPEN_ONLY maps what the
 * file or kvmfr device holds; any other device needs the size. */
PANE_API pane_status pane_region_open_file(const char* path, uint64_t size, uint32_t mode, pane_region** out) PANE_NOEXCEPT;
/* Inside a Linux guest: BAR 2 of the IVSHMEM device at PCI `address` ("0000:00:05.0"), or the
 * first one for NULL or ""; size 0 maps the whole BAR. write_combining: map resource2_wc. */
PANE_API pane_status pane_region_open_ivshmem(const char* address, uint64_t size, int write_combining,
                                              pane_region** out) PANE_NOEXCEPT;
/* Inside a Windows guest: BAR 2 of IVSHMEM device number `device` through the virtio-win
 * driver; size 0 maps the whole BAR. write_combining 0 asks the driver for a cached mapping. */
PANE_API pane_status pane_region_open_windows_ivshmem(uint32_t device, uint64_t size, int write_combining,
                                                      pane_region** out) PANE_NOEXCEPT;
/* Zeroed, page-aligned memory of this process (tests, producer and consumer threads of one
 * process). */
PANE_API pane_status pane_region_open_memory(uint64_t size, pane_region** out) PANE_NOEXCEPT;
/* Memory the caller mapped itself (a VMM's own view of the shared memory): `base` must be
 * 64-byte aligned and stay mapped until pane_region_close. write_combining: the mapping is
 * write-combining, publish with a store fence. */
PANE_API pane_status pane_region_wrap(void* base, uint64_t size, int write_combining, pane_region** out) PANE_NOEXCEPT;
/* Which of the backends above this build has: PANE_BACKEND_* bits. */
#define PANE_BACKEND_SHM (1u << 0)             /* pane_region_open_shm, pane_region_remove_shm */
#define PANE_BACKEND_FILE (1u << 1)            /* pane_region_open_file */
#define PANE_BACKEND_IVSHMEM (1u << 2)         /* pane_region_open_ivshmem (Linux guest) */
#define PANE_BACKEND_WINDOWS_IVSHMEM (1u << 3) /* pane_region_open_windows_ivshmem */
#define PANE_BACKEND_MEMORY (1u << 4)          /* pane_region_open_memory, pane_region_wrap */
PANE_API uint32_t pane_region_backends(void) PANE_NOEXCEPT;
/* Unmaps (not for wrapped memory, which stays the caller's). NULL is ignored. */
PANE_API void pane_region_close(pane_region* region) PANE_NOEXCEPT;
PANE_API void* pane_region_data(const pane_region* region) PANE_NOEXCEPT;
/* Where it came from, for logs ("shm:NAME", "file:PATH", "ivshmem:...", "memory (...)"); valid
 * until the region is closed. */
PANE_API const char* pane_region_description(const pane_region* region) PANE_NOEXCEPT;
PANE_API uint64_t pane_region_size(const pane_region* region) PANE_NOEXCEPT;
PANE_API int pane_region_write_combining(const pane_region* region) PANE_NOEXCEPT;

/* ------------------------------------------------------------------------------------------ */
/* The display layout a producer creates (what pane-produce creates by default). */
typedef struct pane_display_layout {
    uint32_t max_width;            /* frames: largest frame, pixels (default 1920) */
    uint32_t max_height;           /* (default 1080) */
    uint32_t max_bytes_per_pixel;  /* widest format allowed (default 4; 8 for RGBA16F) */
    uint32_t buffers;              /* frame buffers, 3..64 (default 3) */
    uint32_t descriptors;          /* frame descriptor ring slots, a power of two (default 16) */
    uint32_t max_consumers;        /* consumer slots, 1..64 (default 32) */
    uint32_t cursor_max_dimension; /* largest cursor shape side (default 128) */
    uint32_t control_capacity;     /* control messages per consumer ring, a power of two (64) */
    uint32_t control_element_size; /* largest control message, header included (256) */
    uint32_t consumer_timeout_ms;  /* a consumer silent this long is reaped (1000) */
    uint32_t heartbeat_period_ms;  /* producer heartbeat period (10) */
    uint32_t reserved[5];          /* zero */
} pane_display_layout;

/* The channel names of a display region. */
#define PANE_CHANNEL_NAME_FRAMES "frames"
#define PANE_CHANNEL_NAME_CURSOR_SHAPE "cursor-shape"
#define PANE_CHANNEL_NAME_CURSOR_POSITION "cursor-position"
#define PANE_CHANNEL_NAME_CONTROL "control"

/* Fills in the defaults. */
PANE_API void pane_display_layout_default(pane_display_layout* layout) PANE_NOEXCEPT;
/* The bytes a region laid out so needs (map at least that much). */
PANE_API pane_status pane_display_region_size(const pane_display_layout* layout, uint64_t* size) PANE_NOEXCEPT;

/* ------------------------------------------------------------------------------------------ */
/* Producer. */
typedef struct pane_producer pane_producer;
typedef struct pane_frame_writer pane_frame_writer;

typedef struct pane_producer_options {
    uint32_t reinit_grace_ms; /* how long a re-initialisation waits for old consumers (250) */
    int take_over;            /* replace a producer whose heartbeat still moves (0) */
    uint32_t reserved[6];     /* zero */
} pane_producer_options;

PANE_API void pane_producer_options_default(pane_producer_options* options) PANE_NOEXCEPT;

/* Lays out `region` (new epoch) and opens the four display channels. options may be NULL. The
 * region's write-combining setting is passed on. */
PANE_API pane_status pane_producer_create(pane_region* region, const pane_display_layout* layout,
                                          const pane_producer_options* options, pane_producer** out) PANE_NOEXCEPT;
/* Marks the region closed (consumers see PANE_PRODUCER_CLOSED) and frees the handle. */
PANE_API void pane_producer_destroy(pane_producer* producer) PANE_NOEXCEPT;
/* Heartbeat and reaping of dead consumers: call it several times per heartbeat period. Returns
 * PANE_NOT_OWNER once another producer re-initialised the region (stop publishing). */
PANE_API pane_status pane_producer_tick(pane_producer* producer) PANE_NOEXCEPT;
PANE_API uint64_t pane_producer_epoch(const pane_producer* producer) PANE_NOEXCEPT;
/* Bit i set: consumer slot i is held by a live consumer (as of the last tick). */
PANE_API uint64_t pane_producer_live_consumers(const pane_producer* producer) PANE_NOEXCEPT;

typedef struct pane_producer_stats {
    uint64_t frames_published;
    uint64_t frames_dropped;     /* no free buffer */
    uint64_t cursor_shapes;      /* serial of the last shape published */
    uint64_t cursor_positions;   /* serial of the last position published */
    uint64_t control_accepted;
    uint64_t control_rejected;   /* invalid control messages, consumed and counted */
    uint64_t consumers_reaped;
    uint64_t reserved[5];
} pane_producer_stats;
PANE_API pane_status pane_producer_stats_get(const pane_producer* producer, pane_producer_stats* out) PANE_NOEXCEPT;

/* What the producer says about a frame. */
typedef struct pane_frame_info {
    uint32_t format;   /* pane_frame_format */
    uint32_t width;
    uint32_t height;
    uint32_t stride;   /* bytes between rows in the shared buffer; 0: width * bytes per pixel */
    uint32_t rotation; /* 0-3: 0, 90, 180, 270 degrees clockwise */
    uint32_t flags;    /* PANE_FRAME_HDR, PANE_FRAME_HDR_PQ; PANE_FRAME_DAMAGE_VALID is set when
                          damage_count > 0 */
    const pane_damage_rect* damage; /* damage_count rectangles (or NULL) */
    uint32_t damage_count;          /* <= PANE_MAX_DAMAGE_RECTS */
    uint32_t reserved0;
    uint64_t capture_duration_ns;
    pane_hdr_metadata hdr;          /* with PANE_FRAME_HDR */
    uint64_t reserved[4];
} pane_frame_info;

/* Takes a free buffer and publishes the frame's descriptor at once; then write the rows (in any
 * order) and publish progress (rows [0, n) complete) so consumers may read them as they come.
 * The writer belongs to the producer and stays valid until the next begin or destroy. Finish
 * the previous frame first: a begin abandons an unfinished one (its descriptor is out, so a
 * consumer reading it waits for rows that never come, until its timeout). PANE_NO_FREE_BUFFER
 * drops the frame (counted). */
PANE_API pane_status pane_producer_frame_begin(pane_producer* producer, const pane_frame_info* info,
                                               pane_frame_writer** out) PANE_NOEXCEPT;
/* The frame's bytes in shared memory: stride * height bytes from row 0. */
PANE_API pane_status pane_frame_writer_buffer(pane_frame_writer* writer, void** data, uint32_t* stride,
                                              uint64_t* size) PANE_NOEXCEPT;
/* Copies rows [first_row, first_row + rows) from src (row y at src + (y - first_row) *
 * src_stride; 0 = packed) with streaming stores, publishing progress as it goes when first_row
 * is where progress stands. */
PANE_API pane_status pane_frame_writer_copy_rows(pane_frame_writer* writer, uint32_t first_row, uint32_t rows,
                                                 const void* src, size_t src_stride) PANE_NOEXCEPT;
/* Publishes rows [0, n) as complete (clamped to the height; never goes back). */
PANE_API pane_status pane_frame_writer_rows_ready(pane_frame_writer* writer, uint32_t n) PANE_NOEXCEPT;
/* All rows complete. */
PANE_API pane_status pane_frame_writer_finish(pane_frame_writer* writer) PANE_NOEXCEPT;
/* begin + copy of the whole frame + finish. */
PANE_API pane_status pane_producer_frame_publish(pane_producer* producer, const pane_frame_info* info,
                                                 const void* src, size_t src_stride) PANE_NOEXCEPT;

/* Publishes a cursor shape (data: data_size bytes, pitch * height, twice for monochrome); its
 * serial is stored in *serial (may be NULL). PANE_INVALID_CURSOR if it breaks a rule. */
PANE_API pane_status pane_producer_cursor_shape(pane_producer* producer, uint32_t type, uint32_t width,
                                                uint32_t height, uint32_t pitch, uint32_t hotspot_x,
                                                uint32_t hotspot_y, const void* data, size_t data_size,
                                                uint64_t* serial) PANE_NOEXCEPT;
/* Publishes the cursor position (hotspot in frame pixels), wait-free, at any rate. */
PANE_API pane_status pane_producer_cursor_position(pane_producer* producer, int32_t x, int32_t y, int visible,
                                                   uint64_t shape_serial) PANE_NOEXCEPT;

/* A control message, as received by the producer. */
typedef struct pane_control_message {
    uint32_t consumer; /* slot index of the sender */
    uint32_t type;     /* pane_control_type */
    uint32_t app_type; /* application messages */
    int32_t x, y;      /* PANE_CONTROL_SET_CURSOR_POSITION */
    uint32_t width, height; /* PANE_CONTROL_WINDOW_SIZE */
    uint32_t body_size;
    const void* body;  /* the body bytes; valid until the next receive on this producer */
    uint64_t reserved[2];
} pane_control_message;

/* The next valid control message from any consumer (round-robin), or PANE_EMPTY. */
PANE_API pane_status pane_producer_control_receive(pane_producer* producer, pane_control_message* out) PANE_NOEXCEPT;

/* ------------------------------------------------------------------------------------------ */
/* Consumer. */
typedef struct pane_consumer pane_consumer;
typedef struct pane_frame_reader pane_frame_reader;

typedef enum pane_wait_strategy {
    PANE_WAIT_AUTO = 0,          /* futex on the producer's kernel, learned sleeps across a VM */
    PANE_WAIT_BUSY_SPIN = 1,
    PANE_WAIT_SPIN_THEN_YIELD = 2,
    PANE_WAIT_SPIN_THEN_SLEEP = 3,
    PANE_WAIT_FUTEX = 4
} pane_wait_strategy;

typedef struct pane_consumer_options {
    uint32_t producer_timeout_ms; /* producer heartbeat silence reported as stale (1000) */
    uint32_t heartbeat_period_ms; /* our heartbeat period, well under the region's timeout (10) */
    uint32_t wait;                /* pane_wait_strategy (PANE_WAIT_AUTO) */
    uint32_t reserved[5];         /* zero */
} pane_consumer_options;

PANE_API void pane_consumer_options_default(pane_consumer_options* options) PANE_NOEXCEPT;

/* Validates the region, claims a consumer slot, and opens the display channels that exist
 * (calls on a missing one return its PANE_E_CHANNEL_* error). options may be NULL. */
PANE_API pane_status pane_consumer_attach(pane_region* region, const pane_consumer_options* options,
                                          pane_consumer** out) PANE_NOEXCEPT;
/* Releases the slot and frees the handle. */
PANE_API void pane_consumer_destroy(pane_consumer* consumer) PANE_NOEXCEPT;
/* Heartbeat and health: PANE_OK, PANE_PRODUCER_STALE, PANE_PRODUCER_CLOSED, PANE_EPOCH_CHANGED,
 * PANE_SLOT_LOST. Call it at least every heartbeat period; anything but PANE_OK: destroy and
 * attach again (stale: when the producer's heartbeat moves again). */
PANE_API pane_status pane_consumer_tick(pane_consumer* consumer) PANE_NOEXCEPT;
PANE_API uint64_t pane_consumer_epoch(const pane_consumer* consumer) PANE_NOEXCEPT;
PANE_API uint32_t pane_consumer_slot_index(const pane_consumer* consumer) PANE_NOEXCEPT;
PANE_API uint64_t pane_consumer_producer_heartbeat(const pane_consumer* consumer) PANE_NOEXCEPT;
/* 1 when the producer runs on this kernel (futex wake-ups reach us, its clock is ours). */
PANE_API int pane_consumer_producer_shares_kernel(const pane_consumer* consumer) PANE_NOEXCEPT;
/* A copy of the region header as validated at attach. */
PANE_API pane_status pane_consumer_header(const pane_consumer* consumer, pane_region_header* out) PANE_NOEXCEPT;

typedef struct pane_consumer_stats {
    uint64_t frames_read;
    uint64_t frames_skipped;     /* frames published that we never acquired (latest-frame semantics) */
    uint64_t frame_violations;   /* invalid descriptors seen */
    uint64_t cursor_violations;  /* invalid shapes and positions seen */
    uint64_t reserved[4];
} pane_consumer_stats;
PANE_API pane_status pane_consumer_stats_get(const pane_consumer* consumer, pane_consumer_stats* out) PANE_NOEXCEPT;

/* Waits up to timeout_ns for a frame newer than the last one acquired and leases it (the
 * producer will not reuse its buffer). The reader belongs to the consumer, valid until the next
 * acquire, release or destroy; the previous frame's lease moves to the new one. PANE_NO_FRAME
 * with timeout 0 when there is nothing new; PANE_TIMED_OUT after a wait. */
PANE_API pane_status pane_consumer_frame_acquire(pane_consumer* consumer, uint64_t timeout_ns,
                                                 pane_frame_reader** out) PANE_NOEXCEPT;
/* The frame's descriptor (a validated copy). */
PANE_API pane_status pane_frame_reader_descriptor(const pane_frame_reader* reader, pane_frame_descriptor* out) PANE_NOEXCEPT;
/* The frame's bytes in shared memory (stride * height from row 0): read only rows below
 * pane_frame_reader_rows_ready, and pane_frame_reader_verify after reading. */
PANE_API pane_status pane_frame_reader_buffer(const pane_frame_reader* reader, const void** data, uint64_t* size) PANE_NOEXCEPT;
PANE_API uint32_t pane_frame_reader_rows_ready(const pane_frame_reader* reader) PANE_NOEXCEPT;
/* Waits until rows [0, n) are complete (n is clamped to the height). */
PANE_API pane_status pane_frame_reader_wait_rows(pane_frame_reader* reader, uint32_t n, uint64_t timeout_ns) PANE_NOEXCEPT;
/* Waits for the whole frame (up to timeout_ns) while copying its rows into dst as they arrive
 * (dst_stride bytes apart; 0 = width * bytes per pixel), then verifies. PANE_E_BUFFER_TOO_SMALL
 * (nothing copied) when dst_size cannot hold height rows. */
PANE_API pane_status pane_frame_reader_copy(pane_frame_reader* reader, void* dst, size_t dst_size, size_t dst_stride,
                                            uint64_t timeout_ns) PANE_NOEXCEPT;
/* After reading: PANE_OK if the buffer held this frame all along; PANE_REUSED (torn: do not show
 * it), PANE_EPOCH_CHANGED, PANE_SLOT_LOST. */
PANE_API pane_status pane_frame_reader_verify(const pane_frame_reader* reader) PANE_NOEXCEPT;
/* Gives the buffer back to the producer; the reader is gone. */
PANE_API void pane_frame_reader_release(pane_frame_reader* reader) PANE_NOEXCEPT;
/* acquire + copy (+ verify): the latest frame into the caller's buffer, the whole call within
 * timeout_ns. `desc` (may be NULL) receives its descriptor, also on PANE_E_BUFFER_TOO_SMALL and
 * on PANE_TIMED_OUT while its rows are still being written (timeout 0 does not wait for rows):
 * the frame stays acquired, so pane_consumer_frame_reader + pane_frame_reader_copy can finish
 * the job, or the next read skips it. */
PANE_API pane_status pane_consumer_read_frame(pane_consumer* consumer, void* dst, size_t dst_size, size_t dst_stride,
                                              uint64_t timeout_ns, pane_frame_descriptor* desc) PANE_NOEXCEPT;
/* The frame acquired last and not released, or NULL. */
PANE_API pane_frame_reader* pane_consumer_frame_reader(pane_consumer* consumer) PANE_NOEXCEPT;

typedef struct pane_cursor_position {
    int32_t x, y;          /* hotspot in frame pixels (may be off-screen) */
    uint32_t visible;      /* 0 or 1 */
    uint32_t reserved0;
    uint64_t shape_serial; /* the shape this position belongs to */
    uint64_t serial;       /* update counter */
} pane_cursor_position;

/* The cursor position if it changed since the last read; waits up to timeout_ns for a change.
 * PANE_UNCHANGED / PANE_NONE_YET / PANE_CONTENDED with timeout 0, PANE_TIMED_OUT after a wait. */
PANE_API pane_status pane_consumer_cursor_position(pane_consumer* consumer, uint64_t timeout_ns,
                                                   pane_cursor_position* out) PANE_NOEXCEPT;
/* The cursor shape if it changed since the last read: header into *header, data_size bytes
 * into data. PANE_E_BUFFER_TOO_SMALL (header filled, nothing copied) when data_capacity is
 * short: get it again with pane_consumer_cursor_shape_last. pane_consumer_cursor_shape_capacity
 * is enough for any shape of the channel. */
PANE_API pane_status pane_consumer_cursor_shape(pane_consumer* consumer, pane_cursor_shape_header* header, void* data,
                                                size_t data_capacity) PANE_NOEXCEPT;
/* The last shape read (PANE_NONE_YET if none). */
PANE_API pane_status pane_consumer_cursor_shape_last(pane_consumer* consumer, pane_cursor_shape_header* header,
                                                     void* data, size_t data_capacity) PANE_NOEXCEPT;
PANE_API size_t pane_consumer_cursor_shape_capacity(const pane_consumer* consumer) PANE_NOEXCEPT;

/* Control messages to the producer (wait-free; PANE_FULL when its ring is full). */
PANE_API pane_status pane_consumer_send_cursor_position(pane_consumer* consumer, int32_t x, int32_t y) PANE_NOEXCEPT;
PANE_API pane_status pane_consumer_send_window_size(pane_consumer* consumer, uint32_t width, uint32_t height) PANE_NOEXCEPT;
PANE_API pane_status pane_consumer_request_full_frame(pane_consumer* consumer) PANE_NOEXCEPT;
PANE_API pane_status pane_consumer_send_application(pane_consumer* consumer, uint32_t app_type, const void* body,
                                                    size_t body_size) PANE_NOEXCEPT;

#if defined(__cplusplus)
} /* extern "C" */
#endif

#endif /* PANE_PANE_H */
