// SPDX-License-Identifier: MIT
// The wire layout of a Pane region: region header, channel table, consumer slots, and the ring
// channel. These structs ARE the protocol (docs/protocol.md describes the same bytes): plain
// little-endian fixed-width integers with named padding, byte offsets from the region's start
// instead of pointers, and 64-bit fields 8-byte aligned (alignas, since i386 aligns them to 4).
// Nothing here depends on more than the standard library, so a C or Windows peer can mirror it.
//
// Ownership ("one writer per word"): every field below says who writes it. P = the producer,
// C = the consumer holding that slot, C* = any consumer (consumer-only read-modify-write among
// host processes; the producer never writes those words). Everything else only reads.
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace pane {

static_assert(std::endian::native == std::endian::little, "the Pane wire format is little-endian");

inline constexpr std::uint64_t kRegionMagic = 0x4E47522D454E4150ULL;  // bytes "PANE-RGN"
inline constexpr std::uint16_t kVersionMajor = 1;  // bumped for incompatible layout changes
inline constexpr std::uint16_t kVersionMinor = 4;  // bumped for compatible additions (1.1: lifecycle rules;
                                                   // 1.2: kernel identities, consumer slot sides;
                                                   // 1.3: asymmetric wake-up fences;
                                                   // 1.4: hostile-peer rules: lease revocation,
                                                   // disjoint structures, private verdicts)
inline constexpr std::size_t kCacheLine = 64;      // our own constant; see docs/style.md, convention 3
inline constexpr std::uint32_t kMaxConsumers = 64;  // sleeper bitmasks are 64-bit
inline constexpr std::uint32_t kDefaultConsumers = 32;
inline constexpr std::size_t kChannelNameBytes = 24;
inline constexpr std::uint64_t kChannelAlignment = 64;  // every channel starts on a cache line

enum class ProducerState : std::uint32_t {
    uninitialised = 0,  // zero-filled memory: no producer has laid the region out yet
    initialising = 1,   // a producer is (re)writing the layout; consumers must stay away
    ready = 2,          // layout valid for `epoch`
    closed = 3,         // the producer shut down cleanly
};

enum class ConsumerState : std::uint32_t {
    free = 0,
    attached = 1,  // the holder of `claim` is attached under `attach_epoch`
    detached = 2,  // reserved: 1.0 never writes it. `state` is meaningful only while `claim` is
                   // held; a released or reaped slot keeps its last holder's value.
};

// What a channel-table entry describes. Values are wire constants; never renumber.
enum class ChannelKind : std::uint32_t {
    ring = 1,             // RingControl + cursors + slots (also for application channels)
    frames = 2,           // FrameControl + buffer states + leases + descriptor ring + buffers
    cursor_shape = 3,     // CursorShapeControl + shape data (display_layout.hpp)
    cursor_position = 4,  // CursorPositionControl
    control = 5,          // ControlChannelControl + one ControlRingControl ring per consumer
};
inline constexpr std::uint32_t kMaxKnownChannelKind = 5;

enum class RingPolicy : std::uint32_t {
    lossless = 1,   // the producer never overwrites what a live subscribed consumer has not read
    overwrite = 2,  // the producer never waits; slow consumers are told how much they lost
};

// RegionHeader::flags bits.
// Consumer slots are split by side: [0, local_slots) for consumers on the producer's kernel
// (ConsumerSlot::host_id == RegionHeader::producer_host_id), the rest for consumers anywhere
// else. Claims are compare-exchanges, which are atomic only among CPUs of one machine's memory
// system as the emulator presents it: a guest vCPU under QEMU's single-threaded TCG and a host
// process are not. Each side claims only in its own range, so no two sides ever race on a word.
inline constexpr std::uint32_t kRegionFlagSlotSides = 1u << 0;
// (1.3) The producer's process receives membarrier(2) global expedited barriers, and it checks
// for sleepers after a publish with only a compiler barrier, as long as every consumer holding a
// slot on its kernel declares kConsumerFeatureHeavyFence (detail/asymmetric_fence.hpp). A
// consumer that declares it must, before sleeping on a futex, announce, then issue
// MEMBARRIER_CMD_GLOBAL_EXPEDITED, then re-check. The producer, when it sleeps for room in a
// lossless ring, issues one after storing producer_waiting and producer_sleeping, so a registered
// consumer's check of producer_sleeping after it stores read_pos needs only a compiler barrier.
inline constexpr std::uint32_t kRegionFlagAsymmetricWake = 1u << 1;
inline constexpr std::uint32_t kRegionFlagsKnown = kRegionFlagSlotSides | kRegionFlagAsymmetricWake;

// ConsumerSlot::features bits (1.3), written by the holder before it publishes `state`.
// The holder issues a membarrier global expedited barrier between announcing itself as a sleeper
// and re-checking, whenever the region has kRegionFlagAsymmetricWake; and its process is
// registered to receive such barriers.
inline constexpr std::uint64_t kConsumerFeatureHeavyFence = 1u << 0;

// RingControl::flags / ChannelEntry::flags bits for rings.
inline constexpr std::uint32_t kRingFlagWakeups = 1u << 0;  // futex wake-ups are maintained
inline constexpr std::uint32_t kRingFlagsKnown = kRingFlagWakeups;

// 256 bytes at offset 0 of the region.
struct alignas(8) RegionHeader {
    // Line 0: identity and geometry, written by P only during (re)initialisation.
    std::uint64_t magic;                 // P: kRegionMagic, written last on first init
    std::uint16_t version_major;         // P
    std::uint16_t version_minor;         // P
    std::uint32_t header_size;           // P: sizeof(RegionHeader) of the writer
    std::uint64_t region_size;           // P: bytes the layout uses from offset 0
    std::uint64_t epoch;                 // P: nonzero while ready; new value at every init
    std::uint32_t producer_state;        // P: ProducerState
    std::uint32_t producer_pid;          // P: informational only (guest pid when in a VM)
    std::uint32_t max_consumers;         // P: consumer slot count, 1..kMaxConsumers
    std::uint32_t channel_count;         // P: used entries in the channel table
    std::uint64_t channel_table_offset;  // P
    std::uint64_t slot_table_offset;     // P
    // Line 1: more geometry and timing hints, P only during (re)initialisation.
    std::uint32_t channel_table_capacity;  // P: entries reserved (>= channel_count)
    std::uint32_t channel_entry_size;      // P: sizeof(ChannelEntry)
    std::uint32_t slot_size;               // P: sizeof(ConsumerSlot)
    std::uint32_t consumer_timeout_ms;     // P: a consumer silent this long is reaped
    std::uint32_t heartbeat_period_ms;     // P: how often P bumps producer_heartbeat
    std::uint32_t flags;                   // P: kRegionFlag* (1.1 and older: zero)
    std::uint64_t init_count;              // P: times this region has been initialised
    std::uint64_t producer_host_id;        // P (1.2): the producer's kernel boot identity, 0 = unknown
    std::uint32_t local_slots;             // P (1.2): with kRegionFlagSlotSides, slots [0, local_slots)
                                           //    are for consumers on the producer's kernel
    std::uint32_t reserved1a;
    std::uint64_t reserved1[2];
    // Line 2: written by P while running.
    std::uint64_t producer_heartbeat;  // P: counter, never a clock value
    std::uint64_t reserved2[7];
    // Line 3: reserved for future header fields (minor versions).
    std::uint64_t reserved3[8];
};

// 64 bytes per channel, channel_table_capacity entries at channel_table_offset.
struct alignas(8) ChannelEntry {
    std::uint32_t kind;          // P: ChannelKind
    std::uint32_t flags;         // P: kind-specific (rings: kRingFlag*)
    std::uint64_t offset;        // P: channel start, from region start, kChannelAlignment-aligned
    std::uint64_t size;          // P: bytes the channel occupies
    std::uint32_t element_size;  // P: kind-specific (rings: max payload bytes per message)
    std::uint32_t capacity;      // P: kind-specific (rings: slot count, a power of two)
    std::uint32_t policy;        // P: kind-specific (rings: RingPolicy)
    std::uint32_t id;            // P: application-chosen channel id
    char name[kChannelNameBytes];  // P: ASCII, NUL-padded, unique within the region
};

// 128 bytes per consumer, max_consumers entries at slot_table_offset. The first line is written
// by consumers, the second by the producer, so the two never share a cache line.
struct alignas(8) ConsumerSlot {
    std::uint64_t claim;         // C*: odd = held, even = free; changed only by compare-exchange
    std::uint64_t heartbeat;     // C: counter bumped by the holder
    std::uint64_t attach_epoch;  // C: header epoch the holder attached under
    std::uint32_t state;         // C: ConsumerState
    std::uint32_t pid;           // C: informational only
    std::uint64_t host_id;       // C (1.2): the holder's kernel boot identity, 0 = unknown
    std::uint64_t features;        // C (1.3): kConsumerFeature* of the holder
    std::uint64_t features_claim;  // C (1.3): the claim `features` was written under; any other
                                   // value means a holder that wrote none (1.2 and older)
    std::uint64_t reserved_c[1];
    std::uint64_t reaped_claim;  // P: the claim value P reaped (or released at init)
    std::uint64_t reap_count;    // P: how many holders of this slot P has reaped
    std::uint64_t reserved_p[6];
};

// The ring channel: RingControl at the channel offset, then cursor_count RingCursors at
// cursors_offset, then capacity slots of slot_stride bytes at slots_offset (both offsets
// relative to the channel start).
struct alignas(8) RingControl {
    // Line 0: immutable after init (P).
    std::uint32_t policy;        // P: RingPolicy
    std::uint32_t capacity;      // P: power of two
    std::uint32_t element_size;  // P: max payload bytes
    std::uint32_t slot_stride;   // P: sizeof(RingSlotHeader) + element_size rounded up to 8
    std::uint32_t cursor_count;  // P: == header max_consumers
    std::uint32_t flags;         // P: kRingFlag*
    std::uint64_t cursors_offset;    // P: from channel start
    std::uint64_t slots_offset;      // P: from channel start
    std::uint64_t initial_position;  // P: write_pos at init (free-running, may be near 2^64)
    // (1.3) The same as producer_waiting, on this line, which nobody writes per message: a
    // consumer checks it after every read without taking write_pos's line from the producer.
    std::uint32_t producer_sleeping;  // P (1.3): nonzero while P may sleep waiting for space
    std::uint32_t reserved0a;
    std::uint64_t reserved0;
    // Line 1: producer's running state.
    std::uint64_t write_pos;         // P: next position to write; release after the slot is complete
    std::uint32_t producer_waiting;  // P: nonzero while P may sleep waiting for space (lossless)
    std::uint32_t reserved1;
    std::uint64_t reserved2[6];
    // Line 2: consumer-only shared word.
    std::uint64_t sleepers;  // C*: bit i set while the consumer in slot i may sleep on write_pos
    std::uint64_t reserved3[7];
};

// One per consumer slot; the consumer in slot i is the only writer of cursor i.
struct alignas(8) RingCursor {
    std::uint64_t read_pos;   // C: next position to read; release after the copy-out
    std::uint64_t claim;      // C: slot claim value of the subscriber, 0 = not subscribed
    std::uint64_t lost;       // C: messages this subscriber lost (informational)
    std::uint64_t delivered;  // C: messages this subscriber read (informational)
    std::uint64_t reserved[4];
};

// Each ring slot: this header, then the payload (element_size bytes, padded to 8).
struct alignas(8) RingSlotHeader {
    std::uint64_t seq;     // P: 2p+1 while position p is being written, 2p+2 once complete (mod 2^64)
    std::uint32_t length;  // P: payload bytes of the message at this slot
    std::uint32_t reserved;
};

namespace detail {
template <class T>
inline constexpr bool kWireStruct = std::is_standard_layout_v<T> && std::is_trivially_copyable_v<T> &&
                                    std::is_trivially_default_constructible_v<T>;
}

static_assert(detail::kWireStruct<RegionHeader>);
static_assert(sizeof(RegionHeader) == 256);
static_assert(offsetof(RegionHeader, magic) == 0);
static_assert(offsetof(RegionHeader, version_major) == 8);
static_assert(offsetof(RegionHeader, version_minor) == 10);
static_assert(offsetof(RegionHeader, header_size) == 12);
static_assert(offsetof(RegionHeader, region_size) == 16);
static_assert(offsetof(RegionHeader, epoch) == 24);
static_assert(offsetof(RegionHeader, producer_state) == 32);
static_assert(offsetof(RegionHeader, producer_pid) == 36);
static_assert(offsetof(RegionHeader, max_consumers) == 40);
static_assert(offsetof(RegionHeader, channel_count) == 44);
static_assert(offsetof(RegionHeader, channel_table_offset) == 48);
static_assert(offsetof(RegionHeader, slot_table_offset) == 56);
static_assert(offsetof(RegionHeader, channel_table_capacity) == 64);
static_assert(offsetof(RegionHeader, channel_entry_size) == 68);
static_assert(offsetof(RegionHeader, slot_size) == 72);
static_assert(offsetof(RegionHeader, consumer_timeout_ms) == 76);
static_assert(offsetof(RegionHeader, heartbeat_period_ms) == 80);
static_assert(offsetof(RegionHeader, flags) == 84);
static_assert(offsetof(RegionHeader, init_count) == 88);
static_assert(offsetof(RegionHeader, producer_host_id) == 96);
static_assert(offsetof(RegionHeader, local_slots) == 104);
static_assert(offsetof(RegionHeader, reserved1a) == 108);
static_assert(offsetof(RegionHeader, reserved1) == 112);
static_assert(offsetof(RegionHeader, producer_heartbeat) == 128);
static_assert(offsetof(RegionHeader, reserved2) == 136);
static_assert(offsetof(RegionHeader, reserved3) == 192);

static_assert(detail::kWireStruct<ChannelEntry>);
static_assert(sizeof(ChannelEntry) == 64);
static_assert(offsetof(ChannelEntry, kind) == 0);
static_assert(offsetof(ChannelEntry, flags) == 4);
static_assert(offsetof(ChannelEntry, offset) == 8);
static_assert(offsetof(ChannelEntry, size) == 16);
static_assert(offsetof(ChannelEntry, element_size) == 24);
static_assert(offsetof(ChannelEntry, capacity) == 28);
static_assert(offsetof(ChannelEntry, policy) == 32);
static_assert(offsetof(ChannelEntry, id) == 36);
static_assert(offsetof(ChannelEntry, name) == 40);

static_assert(detail::kWireStruct<ConsumerSlot>);
static_assert(sizeof(ConsumerSlot) == 128);
static_assert(offsetof(ConsumerSlot, claim) == 0);
static_assert(offsetof(ConsumerSlot, heartbeat) == 8);
static_assert(offsetof(ConsumerSlot, attach_epoch) == 16);
static_assert(offsetof(ConsumerSlot, state) == 24);
static_assert(offsetof(ConsumerSlot, pid) == 28);
static_assert(offsetof(ConsumerSlot, host_id) == 32);
static_assert(offsetof(ConsumerSlot, features) == 40);
static_assert(offsetof(ConsumerSlot, features_claim) == 48);
static_assert(offsetof(ConsumerSlot, reserved_c) == 56);
static_assert(offsetof(ConsumerSlot, reaped_claim) == 64);
static_assert(offsetof(ConsumerSlot, reap_count) == 72);
static_assert(offsetof(ConsumerSlot, reserved_p) == 80);

static_assert(detail::kWireStruct<RingControl>);
static_assert(sizeof(RingControl) == 192);
static_assert(offsetof(RingControl, policy) == 0);
static_assert(offsetof(RingControl, capacity) == 4);
static_assert(offsetof(RingControl, element_size) == 8);
static_assert(offsetof(RingControl, slot_stride) == 12);
static_assert(offsetof(RingControl, cursor_count) == 16);
static_assert(offsetof(RingControl, flags) == 20);
static_assert(offsetof(RingControl, cursors_offset) == 24);
static_assert(offsetof(RingControl, slots_offset) == 32);
static_assert(offsetof(RingControl, initial_position) == 40);
static_assert(offsetof(RingControl, producer_sleeping) == 48);
static_assert(offsetof(RingControl, reserved0a) == 52);
static_assert(offsetof(RingControl, reserved0) == 56);
static_assert(offsetof(RingControl, write_pos) == 64);
static_assert(offsetof(RingControl, producer_waiting) == 72);
static_assert(offsetof(RingControl, sleepers) == 128);

static_assert(detail::kWireStruct<RingCursor>);
static_assert(sizeof(RingCursor) == 64);
static_assert(offsetof(RingCursor, read_pos) == 0);
static_assert(offsetof(RingCursor, claim) == 8);
static_assert(offsetof(RingCursor, lost) == 16);
static_assert(offsetof(RingCursor, delivered) == 24);

static_assert(detail::kWireStruct<RingSlotHeader>);
static_assert(sizeof(RingSlotHeader) == 16);
static_assert(offsetof(RingSlotHeader, seq) == 0);
static_assert(offsetof(RingSlotHeader, length) == 8);

}  // namespace pane
