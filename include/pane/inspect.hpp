// SPDX-License-Identifier: MIT
// Read-only inspection of a mapped region: a validated snapshot of its header, channel table,
// consumer slots and every channel's state, for a monitoring plugin, a viewer's status overlay,
// pane-inspect and tests. The snapshot never claims a slot and never stores to the region. Like
// a consumer it treats the region as hostile and concurrently written: every byte is copied out
// with copy_from_shared (or a seqlock read), each copy is validated (check_header, check_entry,
// check_ring and the display channels' geometry checks, in the order ConsumerSession applies
// them) before any offset it holds is used to read further, and no pointer into the region is
// kept. Each part carries its own verdict: the header the AttachError attach would return plus
// which check failed, each channel entry and channel its own Verdict, so one bad channel does
// not hide the rest.
//
// Memory ordering: the header is copied between two acquire loads of epoch and producer_state
// (as in ConsumerSession::attach); Snapshot::settled says whether they were unchanged, i.e.
// whether no re-initialisation overlapped the copy. Within a channel, lines the consumers write
// are copied before the producer's line that bounds them (see each reader).
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "control.hpp"
#include "cursor.hpp"
#include "detail/atomic.hpp"
#include "detail/bounds.hpp"
#include "detail/display_geometry.hpp"
#include "detail/host_id.hpp"
#include "detail/region_check.hpp"
#include "detail/ring_geometry.hpp"
#include "detail/roster.hpp"
#include "detail/word_copy.hpp"
#include "display_layout.hpp"
#include "error.hpp"
#include "frames.hpp"
#include "layout.hpp"
#include "ring.hpp"
#include "wait.hpp"

namespace pane {

// What a check of the snapshot found. Each names a field (Verdict::field) and the value seen
// (Verdict::got); `want` is what the check expected, as each value says.
enum class InspectError {
    ok = 0,
    bad_magic,            // not a Pane region (or never initialised); got = magic
    unsupported_version,  // major version differs from ours; got = major, want = ours
    region_too_small,     // region_size (got) exceeds the mapping (want), or the mapping holds no header
    too_small,            // field is got, below the minimum want
    too_large,            // field is got, above the maximum want
    mismatch,             // field is got, the formula or the channel entry says want
    misaligned,           // field (an offset) is got, not a multiple of want
    past_region,          // the range starting at field = got runs past region_size (want)
    overlaps,             // the channel's range overlaps another channel (got = its index) or a table
    bad_name,             // channel name empty or not NUL-terminated within its 24 bytes
    no_geometry,          // field's parameters admit no layout (capacity, sizes, counts out of range)
    unknown_value,        // field is got, not a value of its enum (want = the largest known)
    unknown_bits,         // field is got, with bits outside the known mask want
    outside_frame,        // damage rectangle got lies outside the frame
    wrong_side,           // a held slot's kernel is not the side its index belongs to (got = slot)
};

[[nodiscard]] constexpr std::string_view describe(InspectError e) noexcept {
    switch (e) {
        case InspectError::ok: return "valid";
        case InspectError::bad_magic: return "not a Pane region (bad magic)";
        case InspectError::unsupported_version: return "unsupported protocol major version";
        case InspectError::region_too_small: return "region is larger than the mapping";
        case InspectError::too_small: return "value below its minimum";
        case InspectError::too_large: return "value above its maximum";
        case InspectError::mismatch: return "value differs from the layout formula";
        case InspectError::misaligned: return "offset is misaligned";
        case InspectError::past_region: return "range runs past region_size";
        case InspectError::overlaps: return "range overlaps another part of the region";
        case InspectError::bad_name: return "channel name is empty or not NUL-terminated";
        case InspectError::no_geometry: return "parameters admit no valid layout";
        case InspectError::unknown_value: return "not a known enum value";
        case InspectError::unknown_bits: return "unknown flag bits";
        case InspectError::outside_frame: return "damage rectangle outside the frame";
        case InspectError::wrong_side: return "consumer slot held from the wrong side";
    }
    return "unknown inspection error";
}

inline std::error_code make_error_code(InspectError e) noexcept {
    return {static_cast<int>(e), detail::category_for<InspectError>("pane.inspect")};
}

// One check's outcome: which field failed and with what. `field` points to static storage.
struct Verdict {
    InspectError error = InspectError::ok;
    std::string_view field{};
    std::uint64_t got = 0;
    std::uint64_t want = 0;
    [[nodiscard]] constexpr bool ok() const noexcept { return error == InspectError::ok; }
};

namespace inspect {

// Whether a per-slot claim word (ring cursor, frame lease, control ring) is the slot holder's.
enum class ClaimStatus {
    unused,       // claim 0: never opened from this slot
    current,      // the slot's holder opened it under its current claim
    other_claim,  // left by an earlier holder of the slot (or the slot moved on)
    released,     // an even claim: the holder closed it
    reaped,       // the producer reaped the holder
};

[[nodiscard]] constexpr std::string_view describe(ClaimStatus s) noexcept {
    switch (s) {
        case ClaimStatus::unused: return "unused";
        case ClaimStatus::current: return "current";
        case ClaimStatus::other_claim: return "stale (other claim)";
        case ClaimStatus::released: return "stale (even claim)";
        case ClaimStatus::reaped: return "stale (reaped)";
    }
    return "unknown";
}

[[nodiscard]] constexpr ClaimStatus claim_status(std::uint64_t claim, const ConsumerSlot& slot) noexcept {
    if (claim == 0) return ClaimStatus::unused;
    if (slot.claim != claim) return ClaimStatus::other_claim;
    if (!detail::claim_held(claim)) return ClaimStatus::released;
    if (slot.reaped_claim == claim) return ClaimStatus::reaped;
    return ClaimStatus::current;
}

// What a seqlock read returned.
enum class SeqlockState {
    none,       // nothing published yet (seq 0)
    contended,  // torn on every attempt: the producer kept writing, or died mid-write (seq odd)
    ok,         // a stable copy
};

[[nodiscard]] constexpr SeqlockState seqlock_state(std::uint64_t seq) noexcept {
    return seq == 0 ? SeqlockState::none : seq == 1 ? SeqlockState::contended : SeqlockState::ok;
}

// Which side of the boundary a slot index is for (protocol 1.2 slot sides).
enum class Side { any, producer_kernel, other_kernel };

struct SlotState {
    ConsumerSlot slot{};  // the copy
    bool held = false;    // odd claim, not reaped
    bool reaped = false;  // odd claim the producer reaped
    bool live = false;    // what the producer's roster counts as live (protocol 6.6), as of the copy
    bool attached_this_epoch = false;
    Side side = Side::any;             // the side this index is reserved for
    std::optional<bool> same_kernel_as_producer;  // nullopt: the holder or the producer gave no host id
    Verdict verdict;  // a held slot: unknown state value, or a holder on the wrong side (advisory)
};

struct RingState {
    Verdict verdict;  // the ring's geometry and RingControl line 0 (as ConsumerSession::open_ring)
    RingControl control{};
    std::vector<RingCursor> cursors;  // cursor_count (== max_consumers), by slot
};

// The newest frame descriptor, as FrameConsumer::acquire_latest would pop it.
enum class NewestFrame {
    none_published,  // write_pos is still the initial position
    incomplete,      // the slot of write_pos - 1 is not complete yet
    contended,       // the producer kept overwriting it while we copied
    ok,              // `newest` holds a stable copy (its verdict is `descriptor`)
};

struct FramesState {
    Verdict verdict;  // as ConsumerSession::frames: the geometry, FrameControl and the descriptor ring line 0
    FrameControl control{};
    std::vector<FrameBufferState> buffers;  // buffer_count
    std::vector<FrameLease> leases;         // cursor_count (== max_consumers), by slot
    RingControl ring{};                     // the descriptor ring's control block
    bool same_host = false;                 // FrameControl.host_id is ours: producer_time_ns is on our clock
    NewestFrame newest_state = NewestFrame::none_published;
    std::uint64_t newest_position = 0;
    FrameDescriptor newest{};
    std::optional<std::chrono::nanoseconds> newest_age;  // now - producer_time_ns, only on the same host
    Verdict descriptor;  // the newest descriptor is one a consumer refuses (it stops: broken)
};

struct CursorShapeState {
    Verdict verdict;  // as ConsumerSession::cursor_shape
    CursorShapeControl control{};  // line 0 only (the immutable geometry)
    std::uint64_t seq_now = 0;     // seq, one load before the seqlock copy
    std::uint64_t seq = 0;         // the seqlock copy's (see seqlock_state)
    CursorShapeHeader header{};    // meaningful when seqlock_state(seq) == ok
    Verdict shape;                 // the current shape breaks shape_valid (a consumer counts a violation)
};

struct CursorPositionState {
    Verdict verdict;  // as ConsumerSession::cursor_position (its size)
    std::uint64_t seq_now = 0;
    std::uint64_t seq = 0;
    std::int32_t x = 0, y = 0;
    std::uint32_t visible = 0;  // 0 or 1; anything else is the `position` violation
    std::uint64_t shape_serial = 0, serial = 0;
    std::uint64_t sleepers = 0;
    Verdict position;
};

struct ControlState {
    Verdict verdict;  // as ConsumerSession::control
    ControlChannelControl control{};
    std::vector<ControlRingControl> rings;  // cursor_count (== max_consumers), by slot
};

// monostate: a kind this library does not know (protocol section 10: ignored).
using ChannelDetails =
    std::variant<std::monostate, RingState, FramesState, CursorShapeState, CursorPositionState, ControlState>;

struct ChannelState {
    ChannelEntry entry{};
    Verdict verdict;         // the entry (check_entry, and overlap with other parts); details only if ok
    ChannelDetails details;  // decoded only when `verdict` is ok

    [[nodiscard]] std::string_view name() const noexcept { return detail::entry_name(entry); }
    // The first failed verdict of the entry or its details (the channel-level one first).
    [[nodiscard]] Verdict first_problem() const noexcept {
        if (!verdict.ok()) return verdict;
        return std::visit(
            [](const auto& d) -> Verdict {
                using T = std::decay_t<decltype(d)>;
                if constexpr (std::is_same_v<T, std::monostate>) {
                    return {};
                } else {
                    if (!d.verdict.ok()) return d.verdict;
                    if constexpr (std::is_same_v<T, FramesState>) return d.descriptor;
                    if constexpr (std::is_same_v<T, CursorShapeState>) return d.shape;
                    if constexpr (std::is_same_v<T, CursorPositionState>) return d.position;
                    return {};
                }
            },
            details);
    }
};

struct Snapshot {
    std::uint64_t mapped = 0;  // bytes of the mapping
    RegionHeader header{};     // the copy; meaningful field by field only when header_error is empty
    std::optional<AttachError> header_error;  // what ConsumerSession::attach's check would say
    Verdict header_verdict;                   // which check failed
    std::vector<ChannelState> channels;       // channel_count, decoded only when the header is valid
    std::vector<SlotState> slots;             // max_consumers, only when the header is valid
    bool settled = false;  // epoch and producer state did not change while we copied, and not initialising

    [[nodiscard]] bool initialising() const noexcept {
        return header.producer_state == static_cast<std::uint32_t>(ProducerState::initialising);
    }
    // Valid: the header passes and, in a settled copy, every channel does. While the producer
    // (re)initialises, the table is rewritten under us and its failures are expected.
    [[nodiscard]] bool valid() const noexcept {
        if (header_error) return false;
        if (!settled) return true;
        for (const auto& c : channels) {
            if (!c.first_problem().ok()) return false;
        }
        return true;
    }
};

namespace detail_inspect {

template <class T>
std::byte* bytes_of(T& object) noexcept {
    return reinterpret_cast<std::byte*>(&object);
}

constexpr Verdict fail(InspectError e, std::string_view field, std::uint64_t got = 0, std::uint64_t want = 0) noexcept {
    return Verdict{e, field, got, want};
}

// Which check of check_header failed (the verdict itself is check_header's).
[[nodiscard]] inline Verdict header_verdict(const RegionHeader& h, std::uint64_t mapped) noexcept {
    using E = InspectError;
    if (h.magic != kRegionMagic) return fail(E::bad_magic, "magic", h.magic, kRegionMagic);
    if (h.version_major != kVersionMajor) {
        return fail(E::unsupported_version, "version_major", h.version_major, kVersionMajor);
    }
    if (h.region_size > mapped) return fail(E::region_too_small, "region_size", h.region_size, mapped);
    if (h.header_size < sizeof(RegionHeader)) return fail(E::too_small, "header_size", h.header_size, sizeof(RegionHeader));
    if (h.header_size > h.region_size) return fail(E::too_large, "header_size", h.header_size, h.region_size);
    if (h.max_consumers == 0) return fail(E::too_small, "max_consumers", 0, 1);
    if (h.max_consumers > kMaxConsumers) return fail(E::too_large, "max_consumers", h.max_consumers, kMaxConsumers);
    if (h.slot_size != sizeof(ConsumerSlot)) return fail(E::mismatch, "slot_size", h.slot_size, sizeof(ConsumerSlot));
    if (h.channel_entry_size != sizeof(ChannelEntry)) {
        return fail(E::mismatch, "channel_entry_size", h.channel_entry_size, sizeof(ChannelEntry));
    }
    if (h.channel_table_capacity > 4096) return fail(E::too_large, "channel_table_capacity", h.channel_table_capacity, 4096);
    if (h.channel_count > h.channel_table_capacity) {
        return fail(E::too_large, "channel_count", h.channel_count, h.channel_table_capacity);
    }
    if (!detail::is_aligned(h.channel_table_offset, kCacheLine)) {
        return fail(E::misaligned, "channel_table_offset", h.channel_table_offset, kCacheLine);
    }
    if (!detail::is_aligned(h.slot_table_offset, kCacheLine)) {
        return fail(E::misaligned, "slot_table_offset", h.slot_table_offset, kCacheLine);
    }
    if (h.channel_table_offset < sizeof(RegionHeader)) {
        return fail(E::too_small, "channel_table_offset", h.channel_table_offset, sizeof(RegionHeader));
    }
    if (h.slot_table_offset < sizeof(RegionHeader)) {
        return fail(E::too_small, "slot_table_offset", h.slot_table_offset, sizeof(RegionHeader));
    }
    if (!detail::range_fits(h.channel_table_offset, std::uint64_t{h.channel_table_capacity} * sizeof(ChannelEntry),
                            h.region_size)) {
        return fail(E::past_region, "channel_table_offset", h.channel_table_offset, h.region_size);
    }
    if (!detail::range_fits(h.slot_table_offset, std::uint64_t{h.max_consumers} * sizeof(ConsumerSlot), h.region_size)) {
        return fail(E::past_region, "slot_table_offset", h.slot_table_offset, h.region_size);
    }
    if (h.consumer_timeout_ms == 0) return fail(E::too_small, "consumer_timeout_ms", 0, 1);
    if (h.heartbeat_period_ms == 0) return fail(E::too_small, "heartbeat_period_ms", 0, 1);
    if ((h.flags & kRegionFlagSlotSides) != 0 && h.local_slots > h.max_consumers) {
        return fail(E::too_large, "local_slots", h.local_slots, h.max_consumers);
    }
    return {};
}

// Which check of check_entry failed, then overlap with the header, the tables and earlier
// entries: attach's structures_disjoint, entry by entry, so the verdict can name what overlaps.
// Precondition: `h` passed check_header.
[[nodiscard]] inline Verdict entry_verdict(const ChannelEntry& e, const RegionHeader& h,
                                           std::span<const ChannelEntry> earlier) noexcept {
    using E = InspectError;
    if (!detail::is_aligned(e.offset, kChannelAlignment)) return fail(E::misaligned, "offset", e.offset, kChannelAlignment);
    if (e.offset < sizeof(RegionHeader)) return fail(E::too_small, "offset", e.offset, sizeof(RegionHeader));
    if (!detail::range_fits(e.offset, e.size, h.region_size)) return fail(E::past_region, "offset", e.offset, h.region_size);
    const auto name = detail::entry_name(e);
    if (name.empty() || name.size() >= kChannelNameBytes) return fail(E::bad_name, "name", name.size());
    using detail::ranges_overlap;
    if (ranges_overlap(e.offset, e.size, 0, h.header_size)) return fail(E::overlaps, "header", h.header_size);
    if (ranges_overlap(e.offset, e.size, h.channel_table_offset,
                       std::uint64_t{h.channel_table_capacity} * sizeof(ChannelEntry))) {
        return fail(E::overlaps, "channel table", h.channel_table_offset);
    }
    if (ranges_overlap(e.offset, e.size, h.slot_table_offset, std::uint64_t{h.max_consumers} * sizeof(ConsumerSlot))) {
        return fail(E::overlaps, "slot table", h.slot_table_offset);
    }
    for (std::size_t i = 0; i < earlier.size(); ++i) {
        const auto& o = earlier[i];
        if (detail::check_entry(o, h) && ranges_overlap(e.offset, e.size, o.offset, o.size)) {
            return fail(E::overlaps, "channel", i);
        }
    }
    return {};
}

// ----- Ring ----------------------------------------------------------------------------------
// Each reader applies the checks of the matching ConsumerSession call to a private copy of the
// channel's immutable control structure, in the same order, and reads nothing else of the channel
// unless they all pass. Precondition of each: `e` passed check_entry against `h`, and `h` passed
// check_header against `region`, so [e.offset, e.offset + e.size) lies inside the mapping.

// Which check of check_ring failed for line 0 `c` against the entry `e` and geometry `g`.
[[nodiscard]] inline Verdict ring_line0_verdict(const RingControl& c, const ChannelEntry& e,
                                                const detail::RingGeometry& g) noexcept {
    using E = InspectError;
    if (c.policy != e.policy) return fail(E::mismatch, "RingControl.policy", c.policy, e.policy);
    if (c.policy != static_cast<std::uint32_t>(RingPolicy::lossless) &&
        c.policy != static_cast<std::uint32_t>(RingPolicy::overwrite)) {
        return fail(E::unknown_value, "RingControl.policy", c.policy, static_cast<std::uint32_t>(RingPolicy::overwrite));
    }
    struct Field {
        std::string_view name;
        std::uint64_t got, want;
    };
    for (const Field& f : {Field{"RingControl.capacity", c.capacity, g.capacity},
                           Field{"RingControl.element_size", c.element_size, g.element_size},
                           Field{"RingControl.slot_stride", c.slot_stride, g.slot_stride},
                           Field{"RingControl.cursor_count", c.cursor_count, g.cursor_count},
                           Field{"RingControl.cursors_offset", c.cursors_offset, g.cursors_offset},
                           Field{"RingControl.slots_offset", c.slots_offset, g.slots_offset},
                           Field{"RingControl.flags", c.flags, e.flags}}) {
        if (f.got != f.want) return fail(E::mismatch, f.name, f.got, f.want);
    }
    if ((c.flags & ~kRingFlagsKnown) != 0) return fail(E::unknown_bits, "RingControl.flags", c.flags, kRingFlagsKnown);
    return {};
}

[[nodiscard]] inline RingState read_ring(std::span<const std::byte> region, const ChannelEntry& e,
                                         const RegionHeader& h) noexcept {
    RingState r;
    // The entry's size must match the formula before a single byte of the channel is read.
    const auto g = detail::ring_geometry(e.capacity, e.element_size, h.max_consumers);
    if (!g) {
        r.verdict = fail(InspectError::no_geometry, "ring capacity / element_size", e.capacity, e.element_size);
        return r;
    }
    if (g->total_size != e.size) {
        r.verdict = fail(InspectError::mismatch, "size", e.size, g->total_size);
        return r;
    }
    const std::byte* channel = region.data() + e.offset;
    constexpr std::size_t kLine1 = offsetof(RingControl, write_pos);
    detail::copy_from_shared(bytes_of(r.control), channel, kLine1);
    r.verdict = ring_line0_verdict(r.control, e, *g);
    if (!r.verdict.ok()) return r;
    r.cursors.resize(g->cursor_count);
    detail::copy_from_shared(reinterpret_cast<std::byte*>(r.cursors.data()), channel + g->cursors_offset,
                             r.cursors.size() * sizeof(RingCursor));
    // SYNC POINT: cursors before write_pos. With this fence (pairs with each subscriber's
    // store_release of read_pos, S3) a read position we copied was reached no later than the
    // write_pos we read next, so backlogs are not negative (but for the instant between a slot's
    // seq and write_pos stores, S1 then S2).
    std::atomic_thread_fence(std::memory_order_acquire);
    detail::copy_from_shared(bytes_of(r.control) + kLine1, channel + kLine1, sizeof(RingControl) - kLine1);
    return r;
}

// ----- Frames --------------------------------------------------------------------------------

// Why FrameConsumer::acquire_latest refuses a stable descriptor (protocol 10.7, 10.9 step 3.4),
// or ok. The verdict is frame_fits'; this names the field.
[[nodiscard]] inline Verdict descriptor_verdict(const FrameDescriptor& d, const detail::FrameGeometry& g) noexcept {
    using E = InspectError;
    if (d.buffer_index >= g.buffer_count) return fail(E::too_large, "buffer_index", d.buffer_index, g.buffer_count - 1);
    if (d.buffer_generation == 0) return fail(E::too_small, "buffer_generation", 0, 1);
    if (d.buffer_generation >= (std::uint64_t{1} << 58)) {
        return fail(E::too_large, "buffer_generation", d.buffer_generation, (std::uint64_t{1} << 58) - 1);
    }
    if (detail::frame_fits(d, g)) return {};
    if (d.format == 0 || d.format > kMaxFrameFormat) return fail(E::unknown_value, "format", d.format, kMaxFrameFormat);
    const std::uint64_t bpp = bytes_per_pixel(static_cast<FrameFormat>(d.format));
    if (bpp > g.max_bytes_per_pixel) return fail(E::too_large, "bytes per pixel of format", bpp, g.max_bytes_per_pixel);
    if (d.width == 0) return fail(E::too_small, "width", 0, 1);
    if (d.height == 0) return fail(E::too_small, "height", 0, 1);
    if (d.width > g.max_width) return fail(E::too_large, "width", d.width, g.max_width);
    if (d.height > g.max_height) return fail(E::too_large, "height", d.height, g.max_height);
    if (std::uint64_t{d.stride} < std::uint64_t{d.width} * bpp) {
        return fail(E::too_small, "stride", d.stride, std::uint64_t{d.width} * bpp);
    }
    if (std::uint64_t{d.stride} * d.height > g.buffer_size) {
        return fail(E::too_large, "stride x height", std::uint64_t{d.stride} * d.height, g.buffer_size);
    }
    if (d.rotation > 3) return fail(E::unknown_value, "rotation", d.rotation, 3);
    if ((d.flags & ~kFrameFlagsKnown) != 0) return fail(E::unknown_bits, "flags", d.flags, kFrameFlagsKnown);
    if (d.damage_count > kMaxDamageRects) return fail(E::too_large, "damage_count", d.damage_count, kMaxDamageRects);
    for (std::uint32_t i = 0; i < d.damage_count; ++i) {
        const auto& r = d.damage[i];
        if (std::uint64_t{r.x} + r.width > d.width || std::uint64_t{r.y} + r.height > d.height) {
            return fail(E::outside_frame, "damage", i);
        }
    }
    return fail(E::mismatch, "descriptor");  // frame_fits refused it for a reason not named above
}

// Copies the newest descriptor (position write_pos - 1) with the ring's seqlock read, as
// FrameConsumer::acquire_latest would pop it after skip_to_latest, and checks it like that pop.
inline void read_newest_descriptor(FramesState& f, const detail::FrameGeometry& geometry, const std::byte* ring) noexcept {
    constexpr int kAttempts = 8;  // as acquire_latest: the producer may lap us meanwhile
    const auto& g = geometry.ring;
    const auto* control = reinterpret_cast<const RingControl*>(ring);
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        const std::uint64_t written = detail::load_acquire(control->write_pos);  // S2
        if (written == f.ring.initial_position) {
            f.newest_state = NewestFrame::none_published;
            return;
        }
        const std::uint64_t p = written - 1;
        // Within the ring's validated slot area: the index is reduced by the checked capacity.
        // read_slot only loads (a seqlock read into our copy); its parameter is just not const.
        auto& slot = *reinterpret_cast<RingSlotHeader*>(
            const_cast<std::byte*>(ring + g.slots_offset + (p & (g.capacity - 1)) * g.slot_stride));
        f.newest = FrameDescriptor{};
        std::uint32_t length = 0;
        switch (detail::read_slot(slot, p, {bytes_of(f.newest), sizeof(FrameDescriptor)}, g.element_size, length)) {
            case detail::SlotRead::ready:
                f.newest_state = NewestFrame::ok;
                f.newest_position = p;
                f.descriptor = length != sizeof(FrameDescriptor)
                                   ? fail(InspectError::mismatch, "descriptor length", length, sizeof(FrameDescriptor))
                                   : descriptor_verdict(f.newest, geometry);
                return;
            case detail::SlotRead::lapped:
            case detail::SlotRead::torn: continue;  // the producer moved on while we copied: take the newer one
            case detail::SlotRead::empty: f.newest_state = NewestFrame::incomplete; return;
            case detail::SlotRead::too_long:
            case detail::SlotRead::too_small:
                f.newest_state = NewestFrame::ok;
                f.newest_position = p;
                f.descriptor = fail(InspectError::too_large, "descriptor length", length, g.element_size);
                return;
        }
    }
    f.newest_state = NewestFrame::contended;
}

[[nodiscard]] inline FramesState read_frames(std::span<const std::byte> region, const ChannelEntry& e,
                                             const RegionHeader& h) noexcept {
    using E = InspectError;
    FramesState f;
    if (e.size < sizeof(FrameControl)) {
        f.verdict = fail(E::too_small, "size", e.size, sizeof(FrameControl));
        return f;
    }
    const std::byte* channel = region.data() + e.offset;
    detail::copy_from_shared(bytes_of(f.control), channel, sizeof(FrameControl));
    const auto& c = f.control;
    const auto g = detail::frame_geometry(c.buffer_count, c.max_width, c.max_height, c.max_bytes_per_pixel,
                                          c.ring_capacity, h.max_consumers);
    if (!g) {
        f.verdict = fail(E::no_geometry, "FrameControl buffer_count / max size / ring_capacity", c.buffer_count);
        return f;
    }
    if (g->total_size != e.size) {
        f.verdict = fail(E::mismatch, "size", e.size, g->total_size);
        return f;
    }
    struct Field {
        std::string_view name;
        std::uint64_t got, want;
    };
    for (const Field& x : {Field{"FrameControl.buffer_count", c.buffer_count, e.capacity},
                           Field{"FrameControl.buffer_size", c.buffer_size, g->buffer_size},
                           Field{"FrameControl.buffers_offset", c.buffers_offset, g->buffers_offset},
                           Field{"FrameControl.states_offset", c.states_offset, g->states_offset},
                           Field{"FrameControl.leases_offset", c.leases_offset, g->leases_offset},
                           Field{"FrameControl.ring_offset", c.ring_offset, g->ring_offset},
                           Field{"FrameControl.ring_size", c.ring_size, g->ring_size},
                           Field{"FrameControl.cursor_count", c.cursor_count, g->cursor_count}}) {
        if (x.got != x.want) {
            f.verdict = fail(E::mismatch, x.name, x.got, x.want);
            return f;
        }
    }
    // The embedded descriptor ring, checked like any ring (line 0 only, as the consumer does).
    const std::byte* ring = channel + g->ring_offset;
    detail::copy_from_shared(bytes_of(f.ring), ring, offsetof(RingControl, write_pos));
    ChannelEntry as_ring{};
    as_ring.flags = e.flags;
    as_ring.size = g->ring_size;
    as_ring.element_size = sizeof(FrameDescriptor);
    as_ring.capacity = g->ring_capacity;
    as_ring.policy = static_cast<std::uint32_t>(RingPolicy::overwrite);
    if (!detail::check_ring(as_ring, f.ring, g->cursor_count)) {
        f.verdict = ring_line0_verdict(f.ring, as_ring, g->ring);
        if (f.verdict.ok()) f.verdict = fail(E::mismatch, "descriptor RingControl");
        return f;
    }
    f.buffers.resize(g->buffer_count);
    detail::copy_from_shared(reinterpret_cast<std::byte*>(f.buffers.data()), channel + g->states_offset,
                             f.buffers.size() * sizeof(FrameBufferState));
    f.leases.resize(g->cursor_count);
    detail::copy_from_shared(reinterpret_cast<std::byte*>(f.leases.data()), channel + g->leases_offset,
                             f.leases.size() * sizeof(FrameLease));
    constexpr std::size_t kLine1 = offsetof(RingControl, write_pos);
    detail::copy_from_shared(bytes_of(f.ring) + kLine1, ring + kLine1, sizeof(RingControl) - kLine1);
    f.same_host = c.host_id != 0 && c.host_id == detail::host_id();
    read_newest_descriptor(f, *g, ring);
    if (f.newest_state == NewestFrame::ok && f.descriptor.ok() && f.same_host) {
        const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch());
        f.newest_age = now - std::chrono::nanoseconds(static_cast<std::int64_t>(f.newest.producer_time_ns));
    }
    return f;
}

// ----- Cursor shape, cursor position, control ------------------------------------------------

// Which rule of shape_valid a shape header breaks (the verdict is shape_valid's).
[[nodiscard]] inline Verdict shape_verdict(const CursorShapeHeader& s, const detail::CursorShapeGeometry& g) noexcept {
    using E = InspectError;
    if (detail::shape_valid(s, g)) return {};
    if (s.type == 0 || s.type > kMaxCursorType) return fail(E::unknown_value, "type", s.type, kMaxCursorType);
    if (s.width == 0) return fail(E::too_small, "width", 0, 1);
    if (s.height == 0) return fail(E::too_small, "height", 0, 1);
    if (s.width > g.max_dimension) return fail(E::too_large, "width", s.width, g.max_dimension);
    if (s.height > g.max_dimension) return fail(E::too_large, "height", s.height, g.max_dimension);
    if (s.hotspot_x >= s.width) return fail(E::too_large, "hotspot_x", s.hotspot_x, s.width - 1);
    if (s.hotspot_y >= s.height) return fail(E::too_large, "hotspot_y", s.hotspot_y, s.height - 1);
    const bool mono = s.type == static_cast<std::uint32_t>(CursorType::monochrome);
    const std::uint64_t min_pitch = mono ? (std::uint64_t{s.width} + 7) / 8 : std::uint64_t{s.width} * 4;
    if (s.pitch < min_pitch) return fail(E::too_small, "pitch", s.pitch, min_pitch);
    const std::uint64_t size = std::uint64_t{s.pitch} * s.height * (mono ? 2 : 1);
    if (size != s.data_size) return fail(E::mismatch, "data_size", s.data_size, size);
    return fail(E::too_large, "data_size", s.data_size, g.capacity);
}

[[nodiscard]] inline CursorShapeState read_cursor_shape(std::span<const std::byte> region,
                                                        const ChannelEntry& e) noexcept {
    using E = InspectError;
    CursorShapeState s;
    if (e.size < sizeof(CursorShapeControl)) {
        s.verdict = fail(E::too_small, "size", e.size, sizeof(CursorShapeControl));
        return s;
    }
    const std::byte* channel = region.data() + e.offset;
    detail::copy_from_shared(bytes_of(s.control), channel, offsetof(CursorShapeControl, seq));
    const auto g = detail::cursor_shape_geometry(s.control.max_dimension);
    if (!g) {
        s.verdict = fail(E::no_geometry, "CursorShapeControl.max_dimension", s.control.max_dimension,
                         detail::kMaxCursorDimension);
        return s;
    }
    if (g->total_size != e.size) {
        s.verdict = fail(E::mismatch, "size", e.size, g->total_size);
        return s;
    }
    if (s.control.capacity != g->capacity) {
        s.verdict = fail(E::mismatch, "CursorShapeControl.capacity", s.control.capacity, g->capacity);
        return s;
    }
    if (s.control.data_offset != g->data_offset) {
        s.verdict = fail(E::mismatch, "CursorShapeControl.data_offset", s.control.data_offset, g->data_offset);
        return s;
    }
    const auto* live = reinterpret_cast<const CursorShapeControl*>(channel);
    s.seq_now = detail::load_acquire(live->seq);  // C1
    s.seq = detail::seqlock_read(live->seq, bytes_of(s.header), reinterpret_cast<const std::byte*>(&live->header),
                                 sizeof(CursorShapeHeader));
    if (seqlock_state(s.seq) == SeqlockState::ok) s.shape = shape_verdict(s.header, *g);
    return s;
}

// As ConsumerSession::cursor_position (the size is all it checks), then the register under its
// seqlock and the sleepers word.
[[nodiscard]] inline CursorPositionState read_cursor_position(std::span<const std::byte> region,
                                                              const ChannelEntry& e) noexcept {
    CursorPositionState s;
    if (e.size != detail::kCursorPositionSize) {
        s.verdict = fail(InspectError::mismatch, "size", e.size, detail::kCursorPositionSize);
        return s;
    }
    const auto* live = reinterpret_cast<const CursorPositionControl*>(region.data() + e.offset);
    detail::PositionRegister reg{};
    s.seq_now = detail::load_acquire(live->seq);  // C1
    s.seq = detail::seqlock_read(live->seq, bytes_of(reg), reinterpret_cast<const std::byte*>(&live->x),
                                 sizeof(detail::PositionRegister));
    s.sleepers = detail::load_relaxed(live->sleepers);
    if (seqlock_state(s.seq) == SeqlockState::ok) {
        s.x = reg.x;
        s.y = reg.y;
        s.visible = reg.visible;
        s.shape_serial = reg.shape_serial;
        s.serial = reg.serial;
        if (reg.visible > 1) s.position = fail(InspectError::unknown_value, "visible", reg.visible, 1);
    }
    return s;
}

[[nodiscard]] inline ControlState read_control(std::span<const std::byte> region, const ChannelEntry& e,
                                               const RegionHeader& h) noexcept {
    using E = InspectError;
    ControlState k;
    if (e.size < sizeof(ControlChannelControl)) {
        k.verdict = fail(E::too_small, "size", e.size, sizeof(ControlChannelControl));
        return k;
    }
    const std::byte* channel = region.data() + e.offset;
    detail::copy_from_shared(bytes_of(k.control), channel, sizeof(ControlChannelControl));
    const auto& c = k.control;
    const auto g = detail::control_geometry(c.capacity, c.element_size, h.max_consumers);
    if (!g) {
        k.verdict = fail(E::no_geometry, "ControlChannelControl capacity / element_size", c.capacity, c.element_size);
        return k;
    }
    if (g->total_size != e.size) {
        k.verdict = fail(E::mismatch, "size", e.size, g->total_size);
        return k;
    }
    struct Field {
        std::string_view name;
        std::uint64_t got, want;
    };
    for (const Field& x : {Field{"ControlChannelControl.cursor_count", c.cursor_count, g->cursor_count},
                           Field{"ControlChannelControl.slot_stride", c.slot_stride, g->slot_stride},
                           Field{"ControlChannelControl.rings_offset", c.rings_offset, g->rings_offset},
                           Field{"ControlChannelControl.ring_size", c.ring_size, g->ring_size},
                           Field{"ControlChannelControl.capacity", c.capacity, e.capacity},
                           Field{"ControlChannelControl.element_size", c.element_size, e.element_size}}) {
        if (x.got != x.want) {
            k.verdict = fail(E::mismatch, x.name, x.got, x.want);
            return k;
        }
    }
    k.rings.resize(g->cursor_count);
    constexpr std::size_t kProducerLine = offsetof(ControlRingControl, read_pos);
    for (std::uint32_t i = 0; i < g->cursor_count; ++i) {
        const std::byte* base = channel + g->rings_offset + std::uint64_t{i} * g->ring_size;
        auto* copy = bytes_of(k.rings[i]);
        // SYNC POINT: the producer's line first. With this fence (pairs with its store_release of
        // read_pos, K3, made after it read write_pos) the write_pos we copy next is not behind
        // read_pos.
        detail::copy_from_shared(copy + kProducerLine, base + kProducerLine, sizeof(ControlRingControl) - kProducerLine);
        std::atomic_thread_fence(std::memory_order_acquire);
        detail::copy_from_shared(copy, base, kProducerLine);
    }
    return k;
}

// The switch has no default so that a new ChannelKind value is a compiler warning here.
[[nodiscard]] inline ChannelDetails decode(std::span<const std::byte> region, const ChannelEntry& e,
                                           const RegionHeader& h) noexcept {
    switch (static_cast<ChannelKind>(e.kind)) {
        case ChannelKind::ring: return read_ring(region, e, h);
        case ChannelKind::frames: return read_frames(region, e, h);
        case ChannelKind::cursor_shape: return read_cursor_shape(region, e);
        case ChannelKind::cursor_position: return read_cursor_position(region, e);
        case ChannelKind::control: return read_control(region, e, h);
    }
    return std::monostate{};  // unknown kinds are ignored (protocol section 10)
}

[[nodiscard]] inline SlotState slot_state(const ConsumerSlot& slot, std::size_t index, const RegionHeader& h) noexcept {
    SlotState s;
    s.slot = slot;
    s.held = detail::claim_held(slot.claim) && slot.reaped_claim != slot.claim;
    s.reaped = detail::claim_held(slot.claim) && slot.reaped_claim == slot.claim;
    s.attached_this_epoch = slot.attach_epoch == h.epoch;
    s.live = s.held && slot.state == static_cast<std::uint32_t>(ConsumerState::attached) && s.attached_this_epoch;
    const bool sides = (h.flags & kRegionFlagSlotSides) != 0;
    if (sides) s.side = index < h.local_slots ? Side::producer_kernel : Side::other_kernel;
    if (slot.host_id != 0 && h.producer_host_id != 0) s.same_kernel_as_producer = slot.host_id == h.producer_host_id;
    if (!s.held) return s;
    if (slot.state > static_cast<std::uint32_t>(ConsumerState::detached)) {
        s.verdict = fail(InspectError::unknown_value, "state", slot.state, static_cast<std::uint32_t>(ConsumerState::detached));
    } else if (sides && s.same_kernel_as_producer && *s.same_kernel_as_producer != (s.side == Side::producer_kernel)) {
        s.verdict = fail(InspectError::wrong_side, "host_id", index);
    }
    return s;
}

}  // namespace detail_inspect

// One copy of the region, each part validated before it is used to read further. Never stores
// to the region. Allocates (channel and slot tables, bounded by the header's validated counts);
// running out of memory terminates. `region` may be any span: one smaller than a header, or not
// 64-byte aligned, gives header_error region_too_small / invalid_layout (as attach) and reads
// nothing.
[[nodiscard]] inline Snapshot snapshot_once(std::span<const std::byte> region) noexcept {
    namespace di = detail_inspect;
    Snapshot s;
    s.mapped = region.size();
    if (region.size() < sizeof(RegionHeader)) {
        s.header_error = AttachError::region_too_small;
        s.header_verdict = di::fail(InspectError::region_too_small, "mapping", region.size(), sizeof(RegionHeader));
        return s;
    }
    // As attach: the layout's alignments are relative to the region's start (copy_from_shared
    // needs 8-aligned words; every mapping backend gives page-aligned memory).
    if (reinterpret_cast<std::uintptr_t>(region.data()) % kCacheLine != 0) {
        s.header_error = AttachError::invalid_layout;
        s.header_verdict =
            di::fail(InspectError::misaligned, "mapping", reinterpret_cast<std::uintptr_t>(region.data()), kCacheLine);
        return s;
    }
    const auto* live = reinterpret_cast<const RegionHeader*>(region.data());
    // SYNC POINT: pairs with the producer's store_release of epoch / producer_state (H1, H5), as
    // attach does.
    const std::uint64_t epoch_before = detail::load_acquire(live->epoch);
    const std::uint32_t state_before = detail::load_acquire(live->producer_state);
    detail::copy_from_shared(di::bytes_of(s.header), region.data(), sizeof(RegionHeader));
    s.header_error = detail::check_header(s.header, region.size());
    if (s.header_error) {
        s.header_verdict = di::header_verdict(s.header, region.size());
    } else {
        const auto& h = s.header;
        std::vector<ChannelEntry> table(h.channel_count);
        detail::copy_from_shared(reinterpret_cast<std::byte*>(table.data()), region.data() + h.channel_table_offset,
                                 table.size() * sizeof(ChannelEntry));
        std::vector<ConsumerSlot> slots(h.max_consumers);
        detail::copy_from_shared(reinterpret_cast<std::byte*>(slots.data()), region.data() + h.slot_table_offset,
                                 slots.size() * sizeof(ConsumerSlot));
        s.slots.reserve(slots.size());
        for (std::size_t i = 0; i < slots.size(); ++i) s.slots.push_back(di::slot_state(slots[i], i, h));
        s.channels.reserve(table.size());
        for (std::size_t i = 0; i < table.size(); ++i) {
            ChannelState c;
            c.entry = table[i];
            c.verdict = di::entry_verdict(c.entry, h, std::span<const ChannelEntry>(table.data(), i));
            if (c.verdict.ok()) c.details = di::decode(region, c.entry, h);
            s.channels.push_back(std::move(c));
        }
    }
    // SYNC POINT: seqlock-style reader, as in ConsumerSession::attach: the copies above happen
    // before the re-loads below, so an unchanged epoch and state mean no re-initialisation
    // overlapped them. Epoch stays 0 for a whole initialisation, so that is never settled.
    std::atomic_thread_fence(std::memory_order_acquire);
    s.settled = detail::load_acquire(live->epoch) == epoch_before &&
                detail::load_acquire(live->producer_state) == state_before && s.header.epoch == epoch_before &&
                state_before != static_cast<std::uint32_t>(ProducerState::initialising);
    return s;
}

// Up to `attempts` copies, `pause` apart, until one is settled (an initialisation usually takes
// well under a millisecond); returns the last. Blocks for at most (attempts - 1) * pause.
[[nodiscard]] inline Snapshot snapshot(std::span<const std::byte> region, int attempts = 4,
                                       std::chrono::milliseconds pause = std::chrono::milliseconds(1)) noexcept {
    Snapshot s = snapshot_once(region);
    for (int attempt = 1; attempt < attempts && !s.settled; ++attempt) {
        std::this_thread::sleep_for(pause);
        s = snapshot_once(region);
    }
    return s;
}

// What changes between snapshots, measured on the caller's clock: heartbeats are counters (the
// other side's clock is not comparable to ours), so an age is "unchanged since we first saw the
// value" until it moves once. Feed it every snapshot of one region, in order.
struct Liveness {
    std::optional<double> producer_rate;  // beats/s since the previous snapshot (same epoch)
    Clock::duration producer_age{};       // since producer_heartbeat last changed
    bool producer_moved = false;          // false: the age is a lower bound (no change seen yet)
    struct Slot {
        Clock::duration age{};  // since the holder's heartbeat last changed (a new holder restarts it)
        bool moved = false;
    };
    std::vector<Slot> slots;                          // by slot index
    std::vector<std::optional<double>> position_rates;  // by channel index: cursor position updates/s
};

class LivenessTracker {
public:
    [[nodiscard]] Liveness update(const Snapshot& s, Clock::time_point now) {
        Liveness l;
        if (s.header_error) {
            have_ = false;
            return l;
        }
        const auto& h = s.header;
        const bool same_epoch = have_ && h.epoch == epoch_;
        // A new epoch restarts the producer's counter at 0: start measuring again.
        if (!same_epoch || h.producer_heartbeat < beat_) {
            beat_moved_at_ = now;
            beat_moved_ = false;
        } else {
            const double dt = std::chrono::duration<double>(now - at_).count();
            if (dt > 0) l.producer_rate = static_cast<double>(h.producer_heartbeat - beat_) / dt;
            if (h.producer_heartbeat != beat_) {
                beat_moved_at_ = now;
                beat_moved_ = true;
            }
        }
        have_ = true;
        epoch_ = h.epoch;
        beat_ = h.producer_heartbeat;
        at_ = now;
        l.producer_age = now - beat_moved_at_;
        l.producer_moved = beat_moved_;

        if (slots_.size() != s.slots.size()) slots_.assign(s.slots.size(), SlotSeen{});
        for (std::size_t i = 0; i < s.slots.size(); ++i) {
            SlotSeen& seen = slots_[i];
            const auto& slot = s.slots[i].slot;
            if (!seen.seen || slot.claim != seen.claim) {  // a new holder: its clock starts now
                seen = SlotSeen{slot.claim, slot.heartbeat, now, false, true};
            } else if (slot.heartbeat != seen.heartbeat) {
                seen.heartbeat = slot.heartbeat;
                seen.moved_at = now;
                seen.moved = true;
            }
            l.slots.push_back({now - seen.moved_at, seen.moved});
        }

        // Cursor position update rate: completed updates (seq / 2) per second of our clock.
        l.position_rates.assign(s.channels.size(), std::nullopt);
        if (positions_.size() != s.channels.size()) positions_.assign(s.channels.size(), PositionSeen{});
        for (std::size_t i = 0; i < s.channels.size(); ++i) {
            PositionSeen& seen = positions_[i];
            const auto* p = std::get_if<CursorPositionState>(&s.channels[i].details);
            if (p == nullptr || !p->verdict.ok()) {
                seen = PositionSeen{};
                continue;
            }
            const std::uint64_t updates = p->seq_now / 2;
            const auto offset = s.channels[i].entry.offset;
            if (seen.seen && same_epoch && seen.offset == offset && updates >= seen.updates) {
                const double dt = std::chrono::duration<double>(now - seen.at).count();
                if (dt > 0) l.position_rates[i] = static_cast<double>(updates - seen.updates) / dt;
            }
            seen = PositionSeen{true, offset, updates, now};
        }
        return l;
    }

private:
    struct SlotSeen {
        std::uint64_t claim = 0;
        std::uint64_t heartbeat = 0;
        Clock::time_point moved_at{};
        bool moved = false;
        bool seen = false;
    };
    struct PositionSeen {
        bool seen = false;
        std::uint64_t offset = 0;   // the channel's, so a changed table restarts the measurement
        std::uint64_t updates = 0;  // seq / 2
        Clock::time_point at{};
    };
    bool have_ = false;
    std::uint64_t epoch_ = 0;
    std::uint64_t beat_ = 0;
    Clock::time_point at_{};
    Clock::time_point beat_moved_at_{};
    bool beat_moved_ = false;
    std::vector<SlotSeen> slots_;
    std::vector<PositionSeen> positions_;
};

}  // namespace inspect
}  // namespace pane

template <> struct std::is_error_code_enum<pane::InspectError> : std::true_type {};
