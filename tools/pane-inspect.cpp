// SPDX-License-Identifier: MIT
// pane-inspect: prints the live state of a Pane region for debugging: header, channel table,
// consumer slots, for each ring its write position and subscribed cursors, and for the display
// channels their state (frame buffers, leases and newest descriptor; cursor shape and position;
// control rings); once, or refreshed in place with heartbeat and cursor update rates measured on
// our own clock. It is an observer, not a consumer: it never claims a slot and never stores to
// the region. Like a consumer it treats the region as hostile: everything is copied out with
// copy_from_shared (or a seqlock read) and validated (check_header, check_entry, check_ring, the
// display channels' geometry checks of ConsumerSession) before any offset read from the region
// is used to read further, and validation failures are reported as text (exit status 1), never
// trusted.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include <fmt/core.h>
#include <fmt/format.h>

#include <pane/cursor.hpp>
#include <pane/detail/atomic.hpp>
#include <pane/detail/display_geometry.hpp>
#include <pane/detail/host_id.hpp>
#include <pane/detail/region_check.hpp>
#include <pane/detail/ring_geometry.hpp>
#include <pane/detail/roster.hpp>
#include <pane/detail/word_copy.hpp>
#include <pane/display_layout.hpp>
#include <pane/error.hpp>
#include <pane/frames.hpp>
#include <pane/layout.hpp>
#include <pane/ring.hpp>
#include <pane/wait.hpp>

#include "cli.hpp"
#include "region_source.hpp"

using namespace std::chrono_literals;
namespace pt = pane_tools;
namespace pd = pane::detail;
using pane::Clock;

namespace {

constexpr const char* kHelp = R"(usage: pane-inspect (--shm NAME | --file PATH [--size BYTES] | --ivshmem [ADDR]) [options]

Prints the live state of a Pane region: header, channel table, consumer slots, ring cursors and
the display channels (frame buffers, leases and newest descriptor; cursor shape and position;
control rings). It maps the region but never claims a consumer slot and never writes to it.
  --shm NAME       POSIX shm object NAME (/dev/shm/NAME on Linux)
  --file PATH      a file, hugetlbfs file or device (e.g. /dev/kvmfr0) holding the region
  --size BYTES     bytes to map from PATH (needed for devices; default: the file's size)
  --ivshmem [ADDR] inside a Linux guest: the IVSHMEM device's BAR 2 (first device,
                   PCI ADDR or index N)
  --watch          refresh until Ctrl-C, adding heartbeat and cursor update rates and ages
                   (on our clock)
  --interval MS    refresh period with --watch                            (default 500)
  --json           one JSON object; with --watch one object per refresh, one per line
  --help           this text
Exit status: 0 if the region is valid, 1 if it cannot be mapped or fails validation (with
--watch: as of the last refresh), 2 on usage errors.
)";

constexpr auto kStaleAfter = 1s;  // --watch: a producer heartbeat unchanged this long is "stale"

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

template <class... Args>
void put(std::string& out, fmt::format_string<Args...> f, Args&&... args) {
    fmt::format_to(std::back_inserter(out), f, std::forward<Args>(args)...);
}

template <class T>
std::byte* bytes_of(T& object) {
    return reinterpret_cast<std::byte*>(&object);
}

// ----- Names ---------------------------------------------------------------------------------

std::string producer_state_name(std::uint32_t v) {
    switch (static_cast<pane::ProducerState>(v)) {
        case pane::ProducerState::uninitialised: return "uninitialised";
        case pane::ProducerState::initialising: return "initialising";
        case pane::ProducerState::ready: return "ready";
        case pane::ProducerState::closed: return "closed";
    }
    return fmt::format("unknown({})", v);
}

std::string consumer_state_name(std::uint32_t v) {
    switch (static_cast<pane::ConsumerState>(v)) {
        case pane::ConsumerState::free: return "free";
        case pane::ConsumerState::attached: return "attached";
        case pane::ConsumerState::detached: return "detached";
    }
    return fmt::format("unknown({})", v);
}

std::string kind_name(std::uint32_t v) {
    switch (static_cast<pane::ChannelKind>(v)) {
        case pane::ChannelKind::ring: return "ring";
        case pane::ChannelKind::frames: return "frames";
        case pane::ChannelKind::cursor_shape: return "cursor_shape";
        case pane::ChannelKind::cursor_position: return "cursor_position";
        case pane::ChannelKind::control: return "control";
    }
    return fmt::format("unknown({})", v);
}

bool is_ring(const pane::ChannelEntry& e) { return e.kind == static_cast<std::uint32_t>(pane::ChannelKind::ring); }

// Kind-specific fields mean nothing outside rings in 1.0 (protocol section 10): shown raw.
std::string policy_name(const pane::ChannelEntry& e) {
    if (!is_ring(e)) return fmt::format("{}", e.policy);
    switch (static_cast<pane::RingPolicy>(e.policy)) {
        case pane::RingPolicy::lossless: return "lossless";
        case pane::RingPolicy::overwrite: return "overwrite";
    }
    return fmt::format("unknown({})", e.policy);
}

std::string flags_text(const pane::ChannelEntry& e) {
    std::string s = fmt::format("{:#x}", e.flags);
    if (is_ring(e) && (e.flags & pane::kRingFlagWakeups) != 0) s += " wakeups";
    if (is_ring(e) && (e.flags & ~pane::kRingFlagsKnown) != 0) s += " +unknown";
    return s;
}

std::string hex64(std::uint64_t v) { return fmt::format("{:#018x}", v); }

// Names come from the region: a hostile one must not drive the terminal (escape sequences).
std::string printable(std::string_view s) {
    std::string out;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f && c != '\\') {
            out += c;
        } else {
            out += fmt::format("\\x{:02x}", u);
        }
    }
    return out;
}

// A JSON string literal; bytes outside printable ASCII become \u00XX (names are ASCII by spec).
using pane_tools::json_string;

std::string sleeper_list(std::uint64_t mask) {
    std::string s;
    for (std::uint32_t i = 0; i < 64; ++i) {
        if ((mask >> i) & 1u) s += fmt::format("{}{}", s.empty() ? "" : ",", i);
    }
    return s;
}

std::string frame_format_name(std::uint32_t v) {
    switch (static_cast<pane::FrameFormat>(v)) {
        case pane::FrameFormat::bgra8: return "bgra8";
        case pane::FrameFormat::rgba8: return "rgba8";
        case pane::FrameFormat::rgba10: return "rgba10";
        case pane::FrameFormat::rgba16f: return "rgba16f";
        case pane::FrameFormat::bgr_32: return "bgr_32";
        case pane::FrameFormat::rgb_24: return "rgb_24";
    }
    return fmt::format("unknown({})", v);
}

std::string frame_flags_text(std::uint32_t flags) {
    std::string s = fmt::format("{:#x}", flags);
    if ((flags & pane::kFrameDamageValid) != 0) s += " damage";
    if ((flags & pane::kFrameHdr) != 0) s += " hdr";
    if ((flags & pane::kFrameHdrPq) != 0) s += " pq";
    if ((flags & ~pane::kFrameFlagsKnown) != 0) s += " +unknown";
    return s;
}

std::string rotation_text(std::uint32_t r) {
    return r <= 3 ? fmt::format("{} deg", r * 90) : fmt::format("invalid({})", r);
}

std::string cursor_type_name(std::uint32_t v) {
    switch (static_cast<pane::CursorType>(v)) {
        case pane::CursorType::color: return "color";
        case pane::CursorType::monochrome: return "monochrome";
        case pane::CursorType::masked_color: return "masked_color";
    }
    return fmt::format("unknown({})", v);
}

// What pane::detail::seqlock_read returned: 0 = nothing published yet, 1 = torn on every attempt
// (the producer kept writing, or died mid-write with seq odd), else the even seq copied under.
std::string seqlock_state(std::uint64_t seq) {
    if (seq == 0) return "none";
    if (seq == 1) return "contended";
    return "ok";
}

// ----- Snapshot: private copies of everything, validated ---------------------------------------

// Which check of protocol 8.2 failed, for the report: AttachError::invalid_layout covers eight of
// them. The verdict itself is check_header's; this only explains it.
std::string header_problem(pane::AttachError error, const pane::RegionHeader& h) {
    std::string why(pane::describe(error));
    if (error != pane::AttachError::invalid_layout) return why;
    const auto limit = h.region_size;
    if (h.header_size < sizeof(pane::RegionHeader) || h.header_size > limit) {
        return why + fmt::format(": header_size {} outside 256..region_size", h.header_size);
    }
    if (h.max_consumers == 0 || h.max_consumers > pane::kMaxConsumers) {
        return why + fmt::format(": max_consumers {} outside 1..{}", h.max_consumers, pane::kMaxConsumers);
    }
    if (h.slot_size != sizeof(pane::ConsumerSlot) || h.channel_entry_size != sizeof(pane::ChannelEntry)) {
        return why + fmt::format(": slot_size {} / channel_entry_size {}, expected 128 / 64", h.slot_size,
                                 h.channel_entry_size);
    }
    if (h.channel_count > h.channel_table_capacity || h.channel_table_capacity > 4096) {
        return why + fmt::format(": channel_count {} / channel_table_capacity {}", h.channel_count,
                                 h.channel_table_capacity);
    }
    if (!pd::is_aligned(h.channel_table_offset, pane::kCacheLine) ||
        !pd::is_aligned(h.slot_table_offset, pane::kCacheLine) || h.channel_table_offset < sizeof(pane::RegionHeader) ||
        h.slot_table_offset < sizeof(pane::RegionHeader)) {
        return why + fmt::format(": table offsets {} / {} not 64-aligned or inside the header", h.channel_table_offset,
                                 h.slot_table_offset);
    }
    if (!pd::range_fits(h.channel_table_offset, std::uint64_t{h.channel_table_capacity} * sizeof(pane::ChannelEntry),
                        limit) ||
        !pd::range_fits(h.slot_table_offset, std::uint64_t{h.max_consumers} * sizeof(pane::ConsumerSlot), limit)) {
        return why + ": a table runs past region_size";
    }
    if (h.consumer_timeout_ms == 0 || h.heartbeat_period_ms == 0) return why + ": a timeout or period is 0";
    return why;
}

struct RingDetails {
    std::string error;  // non-empty: the ring failed validation and nothing below is meaningful
    pane::RingControl control{};
    std::vector<pane::RingCursor> cursors;
};

// The display kinds. `error` is set when the channel fails the checks ConsumerSession applies
// when it opens that kind (nothing else was read then); `violation` when what we copied under the
// channel's own synchronisation breaks a rule a consumer checks on its data path (it would count
// a violation, or stop reading): both make the region INVALID.

struct FrameDetails {
    std::string error;
    pane::FrameControl control{};
    pd::FrameGeometry geometry{};
    std::vector<pane::FrameBufferState> buffers;  // buffer_count
    std::vector<pane::FrameLease> leases;         // cursor_count (== max_consumers)
    pane::RingControl ring{};                     // the descriptor ring's control block
    bool same_host = false;                       // host_id != 0 and equal to ours
    bool have_newest = false;                     // `newest` holds a stable copy
    std::uint64_t newest_position = 0;
    pane::FrameDescriptor newest{};
    std::optional<double> newest_age_ms;  // now - producer_time_ns, only on the same host
    std::string newest_note;              // why there is no newest descriptor
    std::string violation;                // the newest descriptor is one a consumer refuses
};

struct CursorShapeDetails {
    std::string error;
    pane::CursorShapeControl control{};  // line 0 only (the immutable geometry)
    pd::CursorShapeGeometry geometry{};
    std::uint64_t seq_now = 0;  // seq, one load_acquire before the seqlock copy
    std::uint64_t seq = 0;      // seqlock_read's result (see seqlock_state)
    pane::CursorShapeHeader header{};  // meaningful when seq >= 2
    bool valid = false;                // shape_valid(header, geometry)
    std::string violation;
};

struct CursorPositionDetails {
    std::string error;
    std::uint64_t seq_now = 0;
    std::uint64_t seq = 0;  // seqlock_read's result (see seqlock_state)
    pd::PositionRegister reg{};  // meaningful when seq >= 2
    std::uint64_t sleepers = 0;
    std::string violation;
};

struct ControlDetails {
    std::string error;
    pane::ControlChannelControl control{};
    std::vector<pane::ControlRingControl> rings;  // cursor_count (== max_consumers)
};

// One alternative per decoded channel kind; monostate = not decoded (see the extension point).
using ChannelDetails = std::variant<std::monostate, RingDetails, FrameDetails, CursorShapeDetails,
                                    CursorPositionDetails, ControlDetails>;

// The validation failures recorded in a channel's details, for Snapshot::problems().
std::vector<std::string> detail_problems(const ChannelDetails& details) {
    std::vector<std::string> p;
    std::visit(
        [&](const auto& d) {
            using T = std::decay_t<decltype(d)>;
            if constexpr (!std::is_same_v<T, std::monostate>) {
                if (!d.error.empty()) p.push_back(d.error);
                if constexpr (requires { d.violation; }) {
                    if (!d.violation.empty()) p.push_back(d.violation);
                }
            }
        },
        details);
    return p;
}

struct ChannelReport {
    pane::ChannelEntry entry{};
    std::string error;  // non-empty: the entry fails check_entry
    ChannelDetails details;
};

struct Snapshot {
    std::uint64_t mapped = 0;
    pane::RegionHeader header{};
    std::optional<pane::AttachError> header_error;
    std::vector<ChannelReport> channels;
    std::vector<pane::ConsumerSlot> slots;
    bool settled = true;  // epoch and producer state did not change while we copied

    [[nodiscard]] bool initialising() const {
        return header.producer_state == static_cast<std::uint32_t>(pane::ProducerState::initialising);
    }
    // Validation problems (each makes the exit status 1). A header that fails is always one. The
    // table and channels count only in a settled copy: while the producer (re)initialises they
    // are rewritten under us, their failures are expected and only noted (see notes()), and a
    // consumer would not look at them then (not_ready, or a retried attach).
    [[nodiscard]] std::vector<std::string> problems() const {
        std::vector<std::string> p;
        if (header_error) p.push_back("region header: " + header_problem(*header_error, header));
        if (settled) append_layout_problems(p);
        return p;
    }
    void append_layout_problems(std::vector<std::string>& p) const {
        for (std::size_t i = 0; i < channels.size(); ++i) {
            const auto& c = channels[i];
            const auto name = printable(pd::entry_name(c.entry));
            if (!c.error.empty()) p.push_back(fmt::format("channel #{} '{}': {}", i, name, c.error));
            for (const auto& problem : detail_problems(c.details)) {
                p.push_back(fmt::format("{} #{} '{}': {}", kind_name(c.entry.kind), i, name, problem));
            }
        }
    }
    // Advisory notes: the copy may mix states, or the region is not (yet) in use.
    [[nodiscard]] std::vector<std::string> notes() const {
        std::vector<std::string> n;
        if (header.magic == 0) n.push_back("magic is 0: no producer has finished initialising this region");
        if (!settled) {
            n.push_back(initialising()
                            ? "the producer is initialising: the layout may be rewritten while we read it"
                            : "the producer re-initialised or changed state while we read: values may mix epochs");
            std::vector<std::string> torn;
            append_layout_problems(torn);
            for (const auto& t : torn) n.push_back("in this unsettled copy: " + t);
        }
        if (!header_error && header.version_minor > pane::kVersionMinor) {
            n.push_back(fmt::format("minor version {} is newer than ours ({}): new fields are not shown",
                                    header.version_minor, pane::kVersionMinor));
        }
        return n;
    }
};

// Why check_entry refused an entry, for the report. The verdict itself is check_entry's.
std::string entry_problem(const pane::ChannelEntry& e, const pane::RegionHeader& h) {
    if (!pd::is_aligned(e.offset, pane::kChannelAlignment)) return fmt::format("offset {} is not 64-aligned", e.offset);
    if (e.offset < sizeof(pane::RegionHeader)) return fmt::format("offset {} lies inside the header", e.offset);
    if (!pd::range_fits(e.offset, e.size, h.region_size)) {
        return fmt::format("[{}, +{}) runs past region_size {}", e.offset, e.size, h.region_size);
    }
    return "name is empty or not NUL-terminated within 24 bytes";
}

// Validates a ring like ConsumerSession::open_ring, then copies its control block and cursors.
// Precondition: `e` passed check_entry against `h`, and `h` passed check_header against `region`.
RingDetails read_ring(std::span<const std::byte> region, const pane::ChannelEntry& e, const pane::RegionHeader& h) {
    RingDetails r;
    // The entry's size must match the formula before a single byte of the channel is read.
    const auto expected = pd::ring_geometry(e.capacity, e.element_size, h.max_consumers);
    if (!expected) {
        r.error = fmt::format("no valid ring geometry for capacity {}, element size {}, {} cursors", e.capacity,
                              e.element_size, h.max_consumers);
        return r;
    }
    if (expected->total_size != e.size) {
        r.error = fmt::format("entry size {} differs from the ring geometry's {}", e.size, expected->total_size);
        return r;
    }
    // [offset, offset + size) lies within region_size <= mapped size (check_entry, check_header).
    const std::byte* channel = region.data() + e.offset;
    pd::copy_from_shared(bytes_of(r.control), channel, offsetof(pane::RingControl, write_pos));
    const auto g = pd::check_ring(e, r.control, h.max_consumers);
    if (!g) {
        r.error = "RingControl line 0 does not match its channel entry (check_ring)";
        return r;
    }
    r.cursors.resize(g->cursor_count);
    pd::copy_from_shared(reinterpret_cast<std::byte*>(r.cursors.data()), channel + g->cursors_offset,
                         r.cursors.size() * sizeof(pane::RingCursor));
    // Cursors before write_pos: with this fence (pairs with each subscriber's store_release of
    // read_pos, S3) a read position we copied was reached no later than the write_pos we read
    // next, so backlogs are not negative except for the instant between a slot's seq and
    // write_pos stores (S1 then S2).
    std::atomic_thread_fence(std::memory_order_acquire);
    constexpr std::size_t kLine1 = offsetof(pane::RingControl, write_pos);
    pd::copy_from_shared(bytes_of(r.control) + kLine1, channel + kLine1, sizeof(pane::RingControl) - kLine1);
    return r;
}

// ----- Display channels: readers -------------------------------------------------------------
// Each applies the checks of the matching ConsumerSession::frames / cursor_shape /
// cursor_position / control (protocol 8.5) to a private copy of the channel's immutable control
// structure, in the same order, and reads nothing else of the channel unless they all pass.
// Where a check fails, the reader names the failing field; the verdict is the checks'.
// Precondition of each: `e` passed check_entry against `h`, and `h` passed check_header against
// `region`, so [e.offset, e.offset + e.size) lies inside the mapping.

struct Expected {
    std::string_view field;
    std::uint64_t got;
    std::uint64_t want;
};

// The first field whose copied value differs from the geometry's, or "" if all match.
std::string first_mismatch(std::string_view structure, std::initializer_list<Expected> checks) {
    for (const auto& c : checks) {
        if (c.got != c.want) {
            return fmt::format("{}.{} is {}, the geometry says {}", structure, c.field, c.got, c.want);
        }
    }
    return {};
}

// Why check_ring refused the descriptor ring's line 0 (the verdict is check_ring's).
std::string descriptor_ring_problem(const pane::RingControl& c, const pane::ChannelEntry& as_ring,
                                    const pd::RingGeometry& g) {
    if (c.policy != as_ring.policy) {
        return fmt::format("descriptor ring policy is {}, expected {} (overwrite)", c.policy, as_ring.policy);
    }
    auto m = first_mismatch("descriptor ring RingControl",
                            {{"capacity", c.capacity, g.capacity},
                             {"element_size", c.element_size, g.element_size},
                             {"slot_stride", c.slot_stride, g.slot_stride},
                             {"cursor_count", c.cursor_count, g.cursor_count},
                             {"cursors_offset", c.cursors_offset, g.cursors_offset},
                             {"slots_offset", c.slots_offset, g.slots_offset}});
    if (!m.empty()) return m;
    if (c.flags != as_ring.flags) {
        return fmt::format("descriptor ring flags {:#x} differ from the entry's {:#x}", c.flags, as_ring.flags);
    }
    if ((c.flags & ~pane::kRingFlagsKnown) != 0) return fmt::format("descriptor ring flags {:#x} has unknown bits", c.flags);
    return "descriptor ring RingControl line 0 does not match (check_ring)";
}

// Why a stable descriptor is one FrameConsumer::acquire_latest refuses (protocol 10.7, 10.9
// step 3.4), or "" if it would take it. The frame_fits verdict is frame_fits'.
std::string descriptor_problem(const pane::FrameDescriptor& d, const pd::FrameGeometry& g) {
    if (d.buffer_index >= g.buffer_count) {
        return fmt::format("buffer_index {} >= buffer_count {}", d.buffer_index, g.buffer_count);
    }
    if (d.buffer_generation == 0 || d.buffer_generation >= (std::uint64_t{1} << 58)) {
        return fmt::format("buffer_generation {} outside 1..2^58-1", d.buffer_generation);
    }
    if (pd::frame_fits(d, g)) return {};
    if (d.format == 0 || d.format > pane::kMaxFrameFormat) return fmt::format("format {} is not a FrameFormat", d.format);
    const std::uint64_t bpp = pane::bytes_per_pixel(static_cast<pane::FrameFormat>(d.format));
    if (bpp > g.max_bytes_per_pixel) {
        return fmt::format("format {} needs {} B/px, buffers are sized for {}", frame_format_name(d.format), bpp,
                           g.max_bytes_per_pixel);
    }
    if (d.width == 0 || d.height == 0 || d.width > g.max_width || d.height > g.max_height) {
        return fmt::format("size {}x{} outside 1x1..{}x{}", d.width, d.height, g.max_width, g.max_height);
    }
    if (std::uint64_t{d.stride} < std::uint64_t{d.width} * bpp) {
        return fmt::format("stride {} < width x bpp {}", d.stride, std::uint64_t{d.width} * bpp);
    }
    if (std::uint64_t{d.stride} * d.height > g.buffer_size) {
        return fmt::format("stride x height {} exceeds buffer_size {}", std::uint64_t{d.stride} * d.height,
                           g.buffer_size);
    }
    if (d.rotation > 3) return fmt::format("rotation {} > 3", d.rotation);
    if ((d.flags & ~pane::kFrameFlagsKnown) != 0) return fmt::format("flags {:#x} has unknown bits", d.flags);
    if (d.damage_count > pane::kMaxDamageRects) return fmt::format("damage_count {} > 64", d.damage_count);
    for (std::uint32_t i = 0; i < d.damage_count; ++i) {
        const auto& r = d.damage[i];
        if (std::uint64_t{r.x} + r.width <= d.width && std::uint64_t{r.y} + r.height <= d.height) continue;
        return fmt::format("damage[{}] ({},{} {}x{}) outside the {}x{} frame", i, r.x, r.y, r.width, r.height,
                           d.width, d.height);
    }
    return "breaks frame_fits";
}

// Why shape_valid refused a shape header (the verdict is shape_valid's).
std::string shape_problem(const pane::CursorShapeHeader& h, const pd::CursorShapeGeometry& g) {
    if (h.type == 0 || h.type > pane::kMaxCursorType) return fmt::format("type {} is not a CursorType", h.type);
    if (h.width == 0 || h.height == 0 || h.width > g.max_dimension || h.height > g.max_dimension) {
        return fmt::format("size {}x{} outside 1x1..{}x{}", h.width, h.height, g.max_dimension, g.max_dimension);
    }
    if (h.hotspot_x >= h.width || h.hotspot_y >= h.height) {
        return fmt::format("hotspot {},{} outside the {}x{} shape", h.hotspot_x, h.hotspot_y, h.width, h.height);
    }
    const bool mono = h.type == static_cast<std::uint32_t>(pane::CursorType::monochrome);
    const std::uint64_t min_pitch = mono ? (std::uint64_t{h.width} + 7) / 8 : std::uint64_t{h.width} * 4;
    if (h.pitch < min_pitch) return fmt::format("pitch {} < {}", h.pitch, min_pitch);
    const std::uint64_t size = std::uint64_t{h.pitch} * h.height * (mono ? 2 : 1);
    if (size != h.data_size) return fmt::format("data_size {} differs from pitch x height{} = {}", h.data_size,
                                                mono ? " x 2" : "", size);
    return fmt::format("data_size {} exceeds the capacity {}", h.data_size, g.capacity);
}

// Copies the newest descriptor (position write_pos - 1) with the ring's seqlock read, as
// FrameConsumer::acquire_latest would pop it after skip_to_latest, and checks it like that pop.
void read_newest_descriptor(FrameDetails& f, const std::byte* ring) {
    constexpr int kAttempts = 8;  // as acquire_latest: the producer may lap us meanwhile
    const auto& g = f.geometry.ring;
    const auto* control = reinterpret_cast<const pane::RingControl*>(ring);
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        const std::uint64_t written = pd::load_acquire(control->write_pos);  // S2
        if (written == f.ring.initial_position) {
            f.newest_note = "no frame published yet";
            return;
        }
        const std::uint64_t p = written - 1;
        // Within the ring's validated slot area: the index is reduced by the checked capacity.
        // read_slot only loads (a seqlock read into our copy); its parameter is just not const.
        auto& slot = *reinterpret_cast<pane::RingSlotHeader*>(
            const_cast<std::byte*>(ring + g.slots_offset + (p & (g.capacity - 1)) * g.slot_stride));
        f.newest = pane::FrameDescriptor{};
        std::uint32_t length = 0;
        switch (pd::read_slot(slot, p, {bytes_of(f.newest), sizeof(pane::FrameDescriptor)}, g.element_size, length)) {
            case pd::SlotRead::ready: {
                f.have_newest = true;
                f.newest_position = p;
                std::string why = length != sizeof(pane::FrameDescriptor)
                                      ? fmt::format("length {} is not {}", length, sizeof(pane::FrameDescriptor))
                                      : descriptor_problem(f.newest, f.geometry);
                if (!why.empty()) {
                    f.violation = fmt::format("newest descriptor (position {}, serial {}): {} (a consumer stops: broken)",
                                              p, f.newest.serial, why);
                } else if (f.same_host) {
                    const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            Clock::now().time_since_epoch()).count();
                    f.newest_age_ms = static_cast<double>(now_ns - static_cast<std::int64_t>(f.newest.producer_time_ns)) / 1e6;
                }
                return;
            }
            case pd::SlotRead::lapped:
            case pd::SlotRead::torn: continue;  // the producer moved on while we copied: take the newer one
            case pd::SlotRead::empty:
                f.newest_note = fmt::format("the slot of position {} (write_pos - 1) is not complete", p);
                return;
            case pd::SlotRead::too_long:
            case pd::SlotRead::too_small:
                f.violation = fmt::format("newest descriptor (position {}): length {} exceeds the element size {} "
                                          "(a consumer stops: broken)", p, length, g.element_size);
                return;
        }
    }
    f.newest_note = "the producer kept overwriting the newest descriptor while we copied it";
}

// As ConsumerSession::frames, then the buffer states, leases, descriptor ring and newest descriptor.
FrameDetails read_frames(std::span<const std::byte> region, const pane::ChannelEntry& e, const pane::RegionHeader& h) {
    FrameDetails f;
    if (e.size < sizeof(pane::FrameControl)) {
        f.error = fmt::format("entry size {} is smaller than FrameControl ({} B)", e.size, sizeof(pane::FrameControl));
        return f;
    }
    const std::byte* channel = region.data() + e.offset;
    pd::copy_from_shared(bytes_of(f.control), channel, sizeof(pane::FrameControl));
    const auto& c = f.control;
    const auto g = pd::frame_geometry(c.buffer_count, c.max_width, c.max_height, c.max_bytes_per_pixel,
                                      c.ring_capacity, h.max_consumers);
    if (!g) {
        f.error = fmt::format("no valid frame geometry for {} buffers of {}x{} x {} B/px, descriptor ring {}, {} cursors",
                              c.buffer_count, c.max_width, c.max_height, c.max_bytes_per_pixel, c.ring_capacity,
                              h.max_consumers);
        return f;
    }
    if (g->total_size != e.size) {
        f.error = fmt::format("entry size {} differs from the frame geometry's {}", e.size, g->total_size);
        return f;
    }
    if (c.buffer_count != e.capacity) {
        f.error = fmt::format("FrameControl.buffer_count {} differs from the entry's capacity {}", c.buffer_count,
                              e.capacity);
        return f;
    }
    f.error = first_mismatch("FrameControl", {{"buffer_size", c.buffer_size, g->buffer_size},
                                              {"buffers_offset", c.buffers_offset, g->buffers_offset},
                                              {"states_offset", c.states_offset, g->states_offset},
                                              {"leases_offset", c.leases_offset, g->leases_offset},
                                              {"ring_offset", c.ring_offset, g->ring_offset},
                                              {"ring_size", c.ring_size, g->ring_size},
                                              {"cursor_count", c.cursor_count, g->cursor_count}});
    if (!f.error.empty()) return f;
    // The embedded descriptor ring, checked like any ring (line 0 only, as the consumer does).
    const std::byte* ring = channel + g->ring_offset;
    pd::copy_from_shared(bytes_of(f.ring), ring, offsetof(pane::RingControl, write_pos));
    pane::ChannelEntry as_ring{};
    as_ring.flags = e.flags;
    as_ring.size = g->ring_size;
    as_ring.element_size = sizeof(pane::FrameDescriptor);
    as_ring.capacity = g->ring_capacity;
    as_ring.policy = static_cast<std::uint32_t>(pane::RingPolicy::overwrite);
    if (!pd::check_ring(as_ring, f.ring, g->cursor_count)) {
        f.error = descriptor_ring_problem(f.ring, as_ring, g->ring);
        return f;
    }
    f.geometry = *g;
    f.buffers.resize(g->buffer_count);
    pd::copy_from_shared(reinterpret_cast<std::byte*>(f.buffers.data()), channel + g->states_offset,
                         f.buffers.size() * sizeof(pane::FrameBufferState));
    f.leases.resize(g->cursor_count);
    pd::copy_from_shared(reinterpret_cast<std::byte*>(f.leases.data()), channel + g->leases_offset,
                         f.leases.size() * sizeof(pane::FrameLease));
    constexpr std::size_t kLine1 = offsetof(pane::RingControl, write_pos);
    pd::copy_from_shared(bytes_of(f.ring) + kLine1, ring + kLine1, sizeof(pane::RingControl) - kLine1);
    f.same_host = c.host_id != 0 && c.host_id == pd::host_id();
    read_newest_descriptor(f, ring);
    return f;
}

// As ConsumerSession::cursor_shape, then the header under the shape's seqlock.
CursorShapeDetails read_cursor_shape(std::span<const std::byte> region, const pane::ChannelEntry& e) {
    CursorShapeDetails s;
    if (e.size < sizeof(pane::CursorShapeControl)) {
        s.error = fmt::format("entry size {} is smaller than CursorShapeControl ({} B)", e.size,
                              sizeof(pane::CursorShapeControl));
        return s;
    }
    const std::byte* channel = region.data() + e.offset;
    pd::copy_from_shared(bytes_of(s.control), channel, offsetof(pane::CursorShapeControl, seq));
    const auto g = pd::cursor_shape_geometry(s.control.max_dimension);
    if (!g) {
        s.error = fmt::format("no valid cursor shape geometry for max_dimension {} (1..{})", s.control.max_dimension,
                              pd::kMaxCursorDimension);
        return s;
    }
    if (g->total_size != e.size) {
        s.error = fmt::format("entry size {} differs from the cursor shape geometry's {}", e.size, g->total_size);
        return s;
    }
    s.error = first_mismatch("CursorShapeControl", {{"capacity", s.control.capacity, g->capacity},
                                                    {"data_offset", s.control.data_offset, g->data_offset}});
    if (!s.error.empty()) return s;
    s.geometry = *g;
    const auto* live = reinterpret_cast<const pane::CursorShapeControl*>(channel);
    s.seq_now = pd::load_acquire(live->seq);  // C1
    s.seq = pd::seqlock_read(live->seq, bytes_of(s.header), reinterpret_cast<const std::byte*>(&live->header),
                             sizeof(pane::CursorShapeHeader));
    if (s.seq >= 2) {
        s.valid = pd::shape_valid(s.header, s.geometry);
        if (!s.valid) {
            s.violation = fmt::format("current shape (serial {}): {} (a consumer counts a violation)", s.header.serial,
                                      shape_problem(s.header, s.geometry));
        }
    }
    return s;
}

// As ConsumerSession::cursor_position (the size is all it checks), then the register under its
// seqlock and the sleepers word.
CursorPositionDetails read_cursor_position(std::span<const std::byte> region, const pane::ChannelEntry& e) {
    CursorPositionDetails s;
    if (e.size != pd::kCursorPositionSize) {
        s.error = fmt::format("entry size {} is not {} (sizeof CursorPositionControl)", e.size, pd::kCursorPositionSize);
        return s;
    }
    const auto* live = reinterpret_cast<const pane::CursorPositionControl*>(region.data() + e.offset);
    s.seq_now = pd::load_acquire(live->seq);  // C1
    s.seq = pd::seqlock_read(live->seq, bytes_of(s.reg), reinterpret_cast<const std::byte*>(&live->x),
                             sizeof(pd::PositionRegister));
    s.sleepers = pd::load_relaxed(live->sleepers);
    if (s.seq >= 2 && s.reg.visible > 1) {
        s.violation = fmt::format("position (serial {}): visible is {}, not 0 or 1 (a consumer counts a violation)",
                                  s.reg.serial, s.reg.visible);
    }
    return s;
}

// As ConsumerSession::control, then each ring's control block.
ControlDetails read_control(std::span<const std::byte> region, const pane::ChannelEntry& e, const pane::RegionHeader& h) {
    ControlDetails k;
    if (e.size < sizeof(pane::ControlChannelControl)) {
        k.error = fmt::format("entry size {} is smaller than ControlChannelControl ({} B)", e.size,
                              sizeof(pane::ControlChannelControl));
        return k;
    }
    const std::byte* channel = region.data() + e.offset;
    pd::copy_from_shared(bytes_of(k.control), channel, sizeof(pane::ControlChannelControl));
    const auto& c = k.control;
    const auto g = pd::control_geometry(c.capacity, c.element_size, h.max_consumers);
    if (!g) {
        k.error = fmt::format("no valid control geometry for capacity {}, element size {}, {} rings", c.capacity,
                              c.element_size, h.max_consumers);
        return k;
    }
    if (g->total_size != e.size) {
        k.error = fmt::format("entry size {} differs from the control geometry's {}", e.size, g->total_size);
        return k;
    }
    k.error = first_mismatch("ControlChannelControl", {{"cursor_count", c.cursor_count, g->cursor_count},
                                                       {"slot_stride", c.slot_stride, g->slot_stride},
                                                       {"rings_offset", c.rings_offset, g->rings_offset},
                                                       {"ring_size", c.ring_size, g->ring_size}});
    if (!k.error.empty()) return k;
    if (c.capacity != e.capacity || c.element_size != e.element_size) {
        k.error = fmt::format("ControlChannelControl capacity {} / element_size {} differ from the entry's {} / {}",
                              c.capacity, c.element_size, e.capacity, e.element_size);
        return k;
    }
    k.rings.resize(g->cursor_count);
    constexpr std::size_t kProducerLine = offsetof(pane::ControlRingControl, read_pos);
    for (std::uint32_t i = 0; i < g->cursor_count; ++i) {
        const std::byte* base = channel + g->rings_offset + std::uint64_t{i} * g->ring_size;
        auto* copy = bytes_of(k.rings[i]);
        // The producer's line first: with this fence (pairs with its store_release of read_pos,
        // K3, made after it read write_pos) the write_pos we copy next is not behind read_pos.
        pd::copy_from_shared(copy + kProducerLine, base + kProducerLine,
                             sizeof(pane::ControlRingControl) - kProducerLine);
        std::atomic_thread_fence(std::memory_order_acquire);
        pd::copy_from_shared(copy, base, kProducerLine);
    }
    return k;
}

// ===============================================================================================
// EXTENSION POINT: per-kind channel details.
//
// Every 1.0 kind is decoded. To decode a new kind:
//   1. add a details struct to ChannelDetails (with `error`, and `violation` if it has one);
//   2. write a reader like read_ring: recompute the channel's geometry from the entry's validated
//      fields and require it to equal entry.size BEFORE reading one byte of channel memory; copy
//      with copy_from_shared (or a seqlock read); keep no pointer into the region;
//   3. call it from decode_channel_details and print it from print_channel_details (text and
//      JSON); detail_problems() reports its `error` and `violation` in Snapshot::problems().
// The switches have no default so that a new ChannelKind value is a compiler warning here.
// ===============================================================================================

ChannelDetails decode_channel_details(pane::ChannelKind kind, std::span<const std::byte> region,
                                      const pane::ChannelEntry& e, const pane::RegionHeader& h) {
    switch (kind) {
        case pane::ChannelKind::ring: return read_ring(region, e, h);
        case pane::ChannelKind::frames: return read_frames(region, e, h);
        case pane::ChannelKind::cursor_shape: return read_cursor_shape(region, e);
        case pane::ChannelKind::cursor_position: return read_cursor_position(region, e);
        case pane::ChannelKind::control: return read_control(region, e, h);
    }
    return std::monostate{};  // unknown kinds are ignored (protocol section 10)
}

enum class Format { text, json };

// --watch: cursor position updates per second, by channel index (nullopt: not measured yet).
using ChannelRates = std::vector<std::optional<double>>;

// Whether a per-slot claim (ring cursor, frame lease, control ring) belongs to the slot's holder.
std::string claim_status(std::uint64_t claim, const pane::ConsumerSlot& slot) {
    if (slot.claim != claim) return fmt::format("stale (slot claim {})", slot.claim);
    if (!pd::claim_held(claim)) return "stale (even claim)";
    if (slot.reaped_claim == claim) return "stale (reaped)";
    return "current";
}

std::string cursor_claim_status(const pane::RingCursor& c, const pane::ConsumerSlot& slot) {
    return claim_status(c.claim, slot);
}

std::string json_or_null(const std::string& s) { return s.empty() ? std::string("null") : json_string(s); }

std::string json_number(const std::optional<double>& v) {
    return v ? fmt::format("{:.3f}", *v) : std::string("null");
}

void print_ring(const RingDetails& r, const pane::ChannelEntry& e, std::size_t index, const Snapshot& snap,
                Format format, std::string& out) {
    const auto& c = r.control;
    if (format == Format::json) {
        if (!r.error.empty()) {
            put(out, "{{\"decoded\":false,\"error\":{}}}", json_string(r.error));
            return;
        }
        put(out,
            "{{\"decoded\":true,\"error\":null,\"write_pos\":{},\"initial_position\":{},\"published\":{},"
            "\"producer_waiting\":{},\"producer_sleeping\":{},\"sleepers\":\"{}\",\"sleeper_slots\":[{}],"
            "\"slot_stride\":{},\"cursors\":[",
            c.write_pos, c.initial_position, c.write_pos - c.initial_position, c.producer_waiting, c.producer_sleeping,
            hex64(c.sleepers),
            sleeper_list(c.sleepers), c.slot_stride);
        bool first = true;
        for (std::size_t i = 0; i < r.cursors.size(); ++i) {
            const auto& cur = r.cursors[i];
            if (cur.claim == 0) continue;
            const auto status = cursor_claim_status(cur, snap.slots[i]);
            put(out,
                "{}{{\"slot\":{},\"claim\":{},\"read_pos\":{},\"backlog\":{},\"lost\":{},\"delivered\":{},"
                "\"claim_current\":{},\"claim_status\":{},\"sleeping\":{}}}",
                first ? "" : ",", i, cur.claim, cur.read_pos, pd::position_diff(c.write_pos, cur.read_pos), cur.lost,
                cur.delivered, status == "current", json_string(status), ((c.sleepers >> i) & 1u) != 0);
            first = false;
        }
        put(out, "]}}");
        return;
    }
    put(out, "\nRing #{} '{}': {}, {} x {} B\n", index, printable(pd::entry_name(e)), policy_name(e), e.capacity,
        e.element_size);
    if (!r.error.empty()) {
        put(out, "  INVALID: {}\n", r.error);
        return;
    }
    put(out, "  write_pos {}  ({} published since initial position {})\n", c.write_pos,
        c.write_pos - c.initial_position, c.initial_position);
    put(out, "  producer_waiting {} (sleeping {})  sleepers {}{}\n", c.producer_waiting, c.producer_sleeping, hex64(c.sleepers),
        c.sleepers != 0 ? fmt::format(" (slots {})", sleeper_list(c.sleepers)) : std::string());
    std::size_t subscribed = 0;
    for (const auto& cur : r.cursors) subscribed += cur.claim != 0 ? 1 : 0;
    if (subscribed == 0) {
        put(out, "  no subscribed cursors\n");
        return;
    }
    put(out, "  {:>4}  {:>8}  {:>20}  {:>8}  {:>8}  {:>10}  {}\n", "slot", "claim", "read_pos", "backlog", "lost",
        "delivered", "claim is");
    for (std::size_t i = 0; i < r.cursors.size(); ++i) {
        const auto& cur = r.cursors[i];
        if (cur.claim == 0) continue;
        put(out, "  {:>4}  {:>8}  {:>20}  {:>8}  {:>8}  {:>10}  {}{}\n", i, cur.claim, cur.read_pos,
            pd::position_diff(c.write_pos, cur.read_pos), cur.lost, cur.delivered,
            cursor_claim_status(cur, snap.slots[i]), ((c.sleepers >> i) & 1u) != 0 ? ", sleeping" : "");
    }
}

// The lease word of a FrameLease: (generation << 6) | buffer_index, 0 = none.
std::string lease_text(std::uint64_t lease, const FrameDetails& f) {
    if (lease == 0) return "none";
    const auto index = static_cast<std::uint32_t>(lease & 63u);
    const std::uint64_t generation = lease >> 6;
    std::string s = fmt::format("buffer {} gen {}", index, generation);
    if (index >= f.buffers.size()) return s + " (index out of range)";
    if (f.buffers[index].generation != generation) s += fmt::format(" (buffer now gen {})", f.buffers[index].generation);
    return s;
}

std::string host_text(const FrameDetails& f) {
    const std::uint64_t ours = pd::host_id();
    if (f.control.host_id == 0) return fmt::format("{} (unknown: producer_time_ns is never compared)", hex64(0));
    if (f.same_host) return fmt::format("{} (this machine: producer_time_ns is on our clock)", hex64(f.control.host_id));
    return fmt::format("{} (another host or guest; ours is {})", hex64(f.control.host_id), hex64(ours));
}

void print_frames(const FrameDetails& f, const pane::ChannelEntry& e, std::size_t index, const Snapshot& snap,
                  Format format, std::string& out) {
    const auto& c = f.control;
    if (format == Format::json) {
        if (!f.error.empty()) {
            put(out, "{{\"decoded\":false,\"error\":{}}}", json_string(f.error));
            return;
        }
        const auto& r = f.ring;
        put(out,
            "{{\"decoded\":true,\"error\":null,\"buffer_count\":{},\"buffer_size\":{},\"max_width\":{},"
            "\"max_height\":{},\"max_bytes_per_pixel\":{},\"buffers_offset\":{},\"ring_capacity\":{},"
            "\"descriptor_size\":{},\"host_id\":\"{}\",\"our_host_id\":\"{}\",\"same_host\":{},\"buffers\":[",
            c.buffer_count, c.buffer_size, c.max_width, c.max_height, c.max_bytes_per_pixel, c.buffers_offset,
            c.ring_capacity, sizeof(pane::FrameDescriptor), hex64(c.host_id), hex64(pd::host_id()), f.same_host);
        for (std::size_t b = 0; b < f.buffers.size(); ++b) {
            const auto& st = f.buffers[b];
            put(out,
                "{}{{\"index\":{},\"generation\":{},\"reuse_intent\":{},\"serial\":{},\"rows_ready\":{},"
                "\"rows_total\":{}}}",
                b == 0 ? "" : ",", b, st.generation, st.reuse_intent, st.serial, st.rows_ready, st.rows_total);
        }
        put(out,
            "],\"descriptor_ring\":{{\"write_pos\":{},\"initial_position\":{},\"published\":{},\"sleepers\":\"{}\","
            "\"sleeper_slots\":[{}]}},\"newest\":",
            r.write_pos, r.initial_position, r.write_pos - r.initial_position, hex64(r.sleepers),
            sleeper_list(r.sleepers));
        if (f.have_newest) {
            const auto& d = f.newest;
            put(out,
                "{{\"position\":{},\"serial\":{},\"buffer_index\":{},\"buffer_generation\":{},\"format\":{},"
                "\"format_value\":{},\"width\":{},\"height\":{},\"stride\":{},\"rotation\":{},\"flags\":{},"
                "\"damage_count\":{},\"frames_dropped\":{},\"frame_interval_ms\":{:.3f},"
                "\"capture_duration_ms\":{:.3f},\"producer_time_ns\":{},\"age_ms\":{},\"valid\":{},\"error\":{}}}",
                f.newest_position, d.serial, d.buffer_index, d.buffer_generation,
                json_string(frame_format_name(d.format)), d.format, d.width, d.height, d.stride, d.rotation, d.flags,
                d.damage_count, d.frames_dropped, static_cast<double>(d.frame_interval_ns) / 1e6,
                static_cast<double>(d.capture_duration_ns) / 1e6, d.producer_time_ns, json_number(f.newest_age_ms),
                f.violation.empty(), json_or_null(f.violation));
        } else {
            put(out, "null");
        }
        put(out, ",\"newest_note\":{},\"violation\":{},\"leases\":[", json_or_null(f.newest_note),
            json_or_null(f.violation));
        bool first = true;
        for (std::size_t i = 0; i < f.leases.size(); ++i) {
            const auto& l = f.leases[i];
            if (l.claim == 0) continue;
            const auto status = claim_status(l.claim, snap.slots[i]);
            const auto leased_index = static_cast<std::uint32_t>(l.lease & 63u);
            put(out,
                "{}{{\"slot\":{},\"claim\":{},\"claim_current\":{},\"claim_status\":{},\"lease\":{},"
                "\"leased_buffer\":{},\"leased_generation\":{},\"leased_generation_current\":{},\"frames_read\":{},"
                "\"frames_skipped\":{}}}",
                first ? "" : ",", i, l.claim, status == "current", json_string(status), l.lease,
                l.lease == 0 ? std::string("null") : fmt::format("{}", leased_index),
                l.lease == 0 ? std::string("null") : fmt::format("{}", l.lease >> 6),
                l.lease != 0 && leased_index < f.buffers.size() &&
                    f.buffers[leased_index].generation == (l.lease >> 6),
                l.frames_read, l.frames_skipped);
            first = false;
        }
        put(out, "]}}");
        return;
    }
    put(out, "\nFrames #{} '{}'", index, printable(pd::entry_name(e)));
    if (!f.error.empty()) {
        put(out, "\n  INVALID: {}\n", f.error);
        return;
    }
    put(out, ": {} buffers x {} B, max {}x{} x {} B/px, descriptor ring {} x {} B\n", c.buffer_count, c.buffer_size,
        c.max_width, c.max_height, c.max_bytes_per_pixel, c.ring_capacity, sizeof(pane::FrameDescriptor));
    put(out, "  host_id {}\n", host_text(f));
    put(out, "  {:>6}  {:>12}  {:>12}  {:>12}  {}\n", "buffer", "generation", "reuse_intent", "serial", "rows ready");
    for (std::size_t b = 0; b < f.buffers.size(); ++b) {
        const auto& st = f.buffers[b];
        put(out, "  {:>6}  {:>12}  {:>12}  {:>12}  {}/{}\n", b, st.generation, st.reuse_intent, st.serial,
            st.rows_ready, st.rows_total);
    }
    const auto& r = f.ring;
    put(out, "  descriptors: write_pos {} ({} published since initial position {}), sleepers {}{}\n", r.write_pos,
        r.write_pos - r.initial_position, r.initial_position, hex64(r.sleepers),
        r.sleepers != 0 ? fmt::format(" (slots {})", sleeper_list(r.sleepers)) : std::string());
    if (f.have_newest) {
        const auto& d = f.newest;
        put(out, "  newest (position {}): serial {}, buffer {} gen {}, {} {}x{}, stride {}, rotation {}, flags {}\n",
            f.newest_position, d.serial, d.buffer_index, d.buffer_generation, frame_format_name(d.format), d.width,
            d.height, d.stride, rotation_text(d.rotation), frame_flags_text(d.flags));
        put(out, "    damage {}, frames_dropped {}, interval {:.2f} ms, capture {:.2f} ms, age {}\n", d.damage_count,
            d.frames_dropped, static_cast<double>(d.frame_interval_ns) / 1e6,
            static_cast<double>(d.capture_duration_ns) / 1e6,
            f.newest_age_ms ? fmt::format("{:.2f} ms", *f.newest_age_ms)
                            : std::string(f.same_host ? "-" : "- (not on our clock)"));
    } else {
        put(out, "  newest: none ({})\n", f.newest_note);
    }
    if (!f.violation.empty()) put(out, "  INVALID: {}\n", f.violation);
    std::size_t open = 0;
    for (const auto& l : f.leases) open += l.claim != 0 ? 1 : 0;
    if (open == 0) {
        put(out, "  no consumer has the channel open\n");
        return;
    }
    put(out, "  {:>4}  {:>8}  {:<24}  {:<28}  {:>11}  {:>14}\n", "slot", "claim", "claim is", "lease", "frames_read",
        "frames_skipped");
    for (std::size_t i = 0; i < f.leases.size(); ++i) {
        const auto& l = f.leases[i];
        if (l.claim == 0) continue;
        put(out, "  {:>4}  {:>8}  {:<24}  {:<28}  {:>11}  {:>14}\n", i, l.claim, claim_status(l.claim, snap.slots[i]),
            lease_text(l.lease, f), l.frames_read, l.frames_skipped);
    }
}

void print_cursor_shape(const CursorShapeDetails& s, const pane::ChannelEntry& e, std::size_t index, Format format,
                        std::string& out) {
    const auto& h = s.header;
    if (format == Format::json) {
        if (!s.error.empty()) {
            put(out, "{{\"decoded\":false,\"error\":{}}}", json_string(s.error));
            return;
        }
        put(out,
            "{{\"decoded\":true,\"error\":null,\"capacity\":{},\"max_dimension\":{},\"data_offset\":{},\"seq\":{},"
            "\"shapes_published\":{},\"state\":{},\"shape\":",
            s.control.capacity, s.control.max_dimension, s.control.data_offset, s.seq_now, s.seq_now / 2,
            json_string(seqlock_state(s.seq)));
        if (s.seq >= 2) {
            put(out,
                "{{\"seq\":{},\"serial\":{},\"type\":{},\"type_value\":{},\"width\":{},\"height\":{},\"pitch\":{},"
                "\"hotspot_x\":{},\"hotspot_y\":{},\"data_size\":{},\"valid\":{},\"error\":{}}}",
                s.seq, h.serial, json_string(cursor_type_name(h.type)), h.type, h.width, h.height, h.pitch,
                h.hotspot_x, h.hotspot_y, h.data_size, s.valid, json_or_null(s.violation));
        } else {
            put(out, "null");
        }
        put(out, "}}");
        return;
    }
    put(out, "\nCursor shape #{} '{}'", index, printable(pd::entry_name(e)));
    if (!s.error.empty()) {
        put(out, "\n  INVALID: {}\n", s.error);
        return;
    }
    put(out, ": max {}x{}, capacity {} B\n", s.control.max_dimension, s.control.max_dimension, s.control.capacity);
    put(out, "  seq {} ({} shapes complete{})\n", s.seq_now, s.seq_now / 2,
        (s.seq_now & 1u) != 0 ? ", the next one being written" : "");
    if (s.seq == 0) {
        put(out, "  no shape published yet\n");
    } else if (s.seq == 1) {
        put(out, "  shape: contended (seq stayed odd or changed during every copy attempt)\n");
    } else {
        put(out, "  shape serial {}: {} {}x{}, pitch {}, hotspot {},{}, data {} B, {}\n", h.serial,
            cursor_type_name(h.type), h.width, h.height, h.pitch, h.hotspot_x, h.hotspot_y, h.data_size,
            s.valid ? "valid" : "INVALID");
    }
    if (!s.violation.empty()) put(out, "  INVALID: {}\n", s.violation);
}

void print_cursor_position(const CursorPositionDetails& s, const pane::ChannelEntry& e, std::size_t index,
                           const ChannelRates* rates, Format format, std::string& out) {
    const auto& r = s.reg;
    // A plain flag and value rather than std::optional<double>: GCC 12 at -O2 warns (falsely)
    // that the optional's value may be used uninitialised inside fmt.
    const bool has_rate = rates != nullptr && index < rates->size() && (*rates)[index].has_value();
    const double rate_value = has_rate ? *(*rates)[index] : 0.0;
    if (format == Format::json) {
        if (!s.error.empty()) {
            put(out, "{{\"decoded\":false,\"error\":{}}}", json_string(s.error));
            return;
        }
        put(out, "{{\"decoded\":true,\"error\":null,\"seq\":{},\"updates_published\":{},\"state\":{},\"position\":",
            s.seq_now, s.seq_now / 2, json_string(seqlock_state(s.seq)));
        if (s.seq >= 2) {
            put(out,
                "{{\"seq\":{},\"x\":{},\"y\":{},\"visible\":{},\"visible_value\":{},\"shape_serial\":{},"
                "\"serial\":{},\"valid\":{},\"error\":{}}}",
                s.seq, r.x, r.y, r.visible == 1, r.visible, r.shape_serial, r.serial, s.violation.empty(),
                json_or_null(s.violation));
        } else {
            put(out, "null");
        }
        put(out, ",\"sleepers\":\"{}\",\"sleeper_slots\":[{}]", hex64(s.sleepers), sleeper_list(s.sleepers));
        if (rates != nullptr) put(out, ",\"updates_per_s\":{}", has_rate ? fmt::format("{}", rate_value) : std::string("null"));
        put(out, "}}");
        return;
    }
    put(out, "\nCursor position #{} '{}'\n", index, printable(pd::entry_name(e)));
    if (!s.error.empty()) {
        put(out, "  INVALID: {}\n", s.error);
        return;
    }
    put(out, "  seq {} ({} updates complete{})\n", s.seq_now, s.seq_now / 2,
        (s.seq_now & 1u) != 0 ? ", the next one being written" : "");
    if (s.seq == 0) {
        put(out, "  no position published yet\n");
    } else if (s.seq == 1) {
        put(out, "  position: contended (seq stayed odd or changed during every copy attempt)\n");
    } else {
        put(out, "  serial {}: x {}, y {}, {}, shape_serial {}\n", r.serial, r.x, r.y,
            r.visible == 0 ? "hidden" : r.visible == 1 ? "visible" : fmt::format("visible={}", r.visible),
            r.shape_serial);
    }
    put(out, "  sleepers {}{}\n", hex64(s.sleepers),
        s.sleepers != 0 ? fmt::format(" (slots {})", sleeper_list(s.sleepers)) : std::string());
    if (rates != nullptr) put(out, "  rate {} updates/s\n", has_rate ? fmt::format("{:.1f}", rate_value) : std::string("-"));
    if (!s.violation.empty()) put(out, "  INVALID: {}\n", s.violation);
}

void print_control(const ControlDetails& k, const pane::ChannelEntry& e, std::size_t index, const Snapshot& snap,
                   Format format, std::string& out) {
    const auto& c = k.control;
    if (format == Format::json) {
        if (!k.error.empty()) {
            put(out, "{{\"decoded\":false,\"error\":{}}}", json_string(k.error));
            return;
        }
        put(out,
            "{{\"decoded\":true,\"error\":null,\"capacity\":{},\"element_size\":{},\"slot_stride\":{},"
            "\"ring_size\":{},\"ring_count\":{},\"rings\":[",
            c.capacity, c.element_size, c.slot_stride, c.ring_size, c.cursor_count);
        bool first = true;
        for (std::size_t i = 0; i < k.rings.size(); ++i) {
            const auto& r = k.rings[i];
            if (r.claim == 0) continue;
            const auto status = claim_status(r.claim, snap.slots[i]);
            put(out,
                "{}{{\"slot\":{},\"claim\":{},\"claim_current\":{},\"claim_status\":{},\"write_pos\":{},"
                "\"read_pos\":{},\"pending\":{},\"accepted\":{},\"rejected\":{}}}",
                first ? "" : ",", i, r.claim, status == "current", json_string(status), r.write_pos, r.read_pos,
                pd::position_diff(r.write_pos, r.read_pos), r.accepted, r.rejected);
            first = false;
        }
        put(out, "]}}");
        return;
    }
    put(out, "\nControl #{} '{}'", index, printable(pd::entry_name(e)));
    if (!k.error.empty()) {
        put(out, "\n  INVALID: {}\n", k.error);
        return;
    }
    put(out, ": {} rings of {} x {} B (slot stride {})\n", c.cursor_count, c.capacity, c.element_size, c.slot_stride);
    std::size_t open = 0;
    for (const auto& r : k.rings) open += r.claim != 0 ? 1 : 0;
    if (open == 0) {
        put(out, "  no consumer has its ring open\n");
        return;
    }
    put(out, "  {:>4}  {:>8}  {:<24}  {:>12}  {:>12}  {:>8}  {:>10}  {:>10}\n", "slot", "claim", "claim is",
        "write_pos", "read_pos", "pending", "accepted", "rejected");
    for (std::size_t i = 0; i < k.rings.size(); ++i) {
        const auto& r = k.rings[i];
        if (r.claim == 0) continue;
        put(out, "  {:>4}  {:>8}  {:<24}  {:>12}  {:>12}  {:>8}  {:>10}  {:>10}\n", i, r.claim,
            claim_status(r.claim, snap.slots[i]), r.write_pos, r.read_pos, pd::position_diff(r.write_pos, r.read_pos),
            r.accepted, r.rejected);
    }
}

void print_not_decoded(const pane::ChannelEntry& e, std::size_t index, std::string_view what, Format format,
                       std::string& out) {
    if (format == Format::json) {
        put(out, "{{\"decoded\":false,\"error\":null,\"note\":{}}}", json_string(what));
    } else {
        put(out, "\nChannel #{} '{}' ({}): {}\n", index, printable(pd::entry_name(e)), kind_name(e.kind), what);
    }
}

// Text: a section per channel. JSON: the value of the channel's "details" member.
// `rates` is null outside --watch.
void print_channel_details(pane::ChannelKind kind, const ChannelReport& channel, std::size_t index,
                           const Snapshot& snap, const ChannelRates* rates, Format format, std::string& out) {
    const auto& d = channel.details;
    switch (kind) {
        case pane::ChannelKind::ring:
            if (const auto* ring = std::get_if<RingDetails>(&d)) {
                print_ring(*ring, channel.entry, index, snap, format, out);
                return;
            }
            break;
        case pane::ChannelKind::frames:
            if (const auto* frames = std::get_if<FrameDetails>(&d)) {
                print_frames(*frames, channel.entry, index, snap, format, out);
                return;
            }
            break;
        case pane::ChannelKind::cursor_shape:
            if (const auto* shape = std::get_if<CursorShapeDetails>(&d)) {
                print_cursor_shape(*shape, channel.entry, index, format, out);
                return;
            }
            break;
        case pane::ChannelKind::cursor_position:
            if (const auto* position = std::get_if<CursorPositionDetails>(&d)) {
                print_cursor_position(*position, channel.entry, index, rates, format, out);
                return;
            }
            break;
        case pane::ChannelKind::control:
            if (const auto* control = std::get_if<ControlDetails>(&d)) {
                print_control(*control, channel.entry, index, snap, format, out);
                return;
            }
            break;
    }
    print_not_decoded(channel.entry, index, "unknown kind, ignored", format, out);
}

// ===============================================================================================

// Copies header, channel table and slot table, validating each before it is used to go further.
// Never stores to the region. Precondition: region is >= sizeof(RegionHeader) and 8-aligned.
Snapshot read_once(std::span<const std::byte> region) {
    Snapshot s;
    s.mapped = region.size();
    const auto* live = reinterpret_cast<const pane::RegionHeader*>(region.data());  // offset 0
    // Pair with the producer's store_release of epoch / producer_state (H1, H5), as attach does.
    const std::uint64_t epoch_before = pd::load_acquire(live->epoch);
    const std::uint32_t state_before = pd::load_acquire(live->producer_state);
    pd::copy_from_shared(bytes_of(s.header), region.data(), sizeof(pane::RegionHeader));
    s.header_error = pd::check_header(s.header, region.size());
    if (!s.header_error) {
        const auto& h = s.header;
        std::vector<pane::ChannelEntry> table(h.channel_count);
        pd::copy_from_shared(reinterpret_cast<std::byte*>(table.data()), region.data() + h.channel_table_offset,
                             table.size() * sizeof(pane::ChannelEntry));
        s.slots.resize(h.max_consumers);
        pd::copy_from_shared(reinterpret_cast<std::byte*>(s.slots.data()), region.data() + h.slot_table_offset,
                             s.slots.size() * sizeof(pane::ConsumerSlot));
        for (const auto& e : table) {
            ChannelReport c;
            c.entry = e;
            if (!pd::check_entry(e, h)) {
                c.error = entry_problem(e, h);
            } else {
                c.details = decode_channel_details(static_cast<pane::ChannelKind>(e.kind), region, e, h);
            }
            s.channels.push_back(std::move(c));
        }
    }
    // Seqlock-style reader, as in ConsumerSession::attach: the copies above happen before the
    // re-loads below, so an unchanged epoch and state mean no re-initialisation overlapped them.
    std::atomic_thread_fence(std::memory_order_acquire);
    // Epoch stays 0 for the whole of an initialisation, so "initialising" is never settled.
    s.settled = pd::load_acquire(live->epoch) == epoch_before &&
                pd::load_acquire(live->producer_state) == state_before && s.header.epoch == epoch_before &&
                state_before != static_cast<std::uint32_t>(pane::ProducerState::initialising);
    return s;
}

// A few attempts at a settled copy; an initialisation usually takes well under a millisecond
// (longer only during its grace wait for the previous epoch's consumers).
Snapshot take_snapshot(std::span<const std::byte> region) {
    Snapshot s = read_once(region);
    for (int attempt = 1; attempt < 4 && !s.settled; ++attempt) {
        std::this_thread::sleep_for(1ms);
        s = read_once(region);
    }
    return s;
}

// ----- --watch: what changes between refreshes, measured on our clock -------------------------

struct Liveness {
    std::optional<double> producer_rate;  // beats/s since the previous refresh (same epoch)
    Clock::duration producer_age{};       // since producer_heartbeat last changed
    bool producer_moved = false;          // false: age counts from when we first saw the value
    struct Slot {
        Clock::duration age{};
        bool moved = false;
    };
    std::vector<Slot> slots;
    ChannelRates channel_rates;  // by channel index: cursor position updates/s since the last refresh
    [[nodiscard]] bool producer_stale() const { return producer_age > kStaleAfter; }
};

class Tracker {
public:
    Liveness update(const Snapshot& s, Clock::time_point now) {
        Liveness l;
        if (s.header_error) {
            have_ = false;
            return l;
        }
        const auto& h = s.header;
        const bool same_epoch = have_ && h.epoch == epoch_;
        // A new epoch restarts the producer's counter at 0: start measuring again.
        if (!have_ || h.epoch != epoch_ || h.producer_heartbeat < beat_) {
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
            const auto& slot = s.slots[i];
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
        l.channel_rates.assign(s.channels.size(), std::nullopt);
        if (positions_.size() != s.channels.size()) positions_.assign(s.channels.size(), PositionSeen{});
        for (std::size_t i = 0; i < s.channels.size(); ++i) {
            PositionSeen& seen = positions_[i];
            const auto* p = std::get_if<CursorPositionDetails>(&s.channels[i].details);
            if (p == nullptr || !p->error.empty()) {
                seen = PositionSeen{};
                continue;
            }
            const std::uint64_t updates = p->seq_now / 2;
            const auto offset = s.channels[i].entry.offset;
            if (seen.seen && same_epoch && seen.offset == offset && updates >= seen.updates) {
                const double dt = std::chrono::duration<double>(now - seen.at).count();
                if (dt > 0) l.channel_rates[i] = static_cast<double>(updates - seen.updates) / dt;
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

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Ages we only know a lower bound of (no change seen yet) print as ">=".
std::string age_text(Clock::duration d, bool moved) {
    return fmt::format("{}{:.2f} s", moved ? "" : ">=", std::chrono::duration<double>(d).count());
}

// ----- Rendering -------------------------------------------------------------------------------

struct Source {
    std::string description;
    std::uint64_t mapped = 0;
};

bool slot_held(const pane::ConsumerSlot& s) { return pd::claim_held(s.claim) && s.reaped_claim != s.claim; }
bool slot_reaped(const pane::ConsumerSlot& s) { return pd::claim_held(s.claim) && s.reaped_claim == s.claim; }
// What the producer's roster counts as live (protocol 6.6), as of our copy.
bool slot_live(const pane::ConsumerSlot& s, std::uint64_t epoch) {
    return slot_held(s) && s.state == static_cast<std::uint32_t>(pane::ConsumerState::attached) &&
           s.attach_epoch == epoch;
}

// Where the producer runs, as seen from here (protocol 1.2 producer_host_id).
std::string kernel_text(std::uint64_t host) {
    if (host == 0) return "unknown (a 1.1 producer, or one that cannot tell)";
    if (pd::same_kernel(host)) return fmt::format("{} (this kernel: futex wake-ups reach us)", hex64(host));
    return fmt::format("{} (another kernel: a guest or the host; ours is {})", hex64(host), hex64(pd::host_id()));
}

std::string sides_text(const pane::RegionHeader& h) {
    if ((h.flags & pane::kRegionFlagSlotSides) == 0) return "no sides (all consumers must share one kernel)";
    return fmt::format("slots 0-{} for the producer's kernel, {}-{} for others", static_cast<int>(h.local_slots) - 1,
                       h.local_slots, h.max_consumers - 1);
}

// A held slot's kernel relative to the producer's, and a warning for a holder on the wrong side
// (a 1.1 consumer, or a hostile one).
std::string slot_kernel_text(const pane::ConsumerSlot& slot, const pane::RegionHeader& h, std::size_t index) {
    if (slot.host_id == 0) return "unknown";
    const bool local = slot.host_id == h.producer_host_id;
    std::string text = local ? "producer's" : "other";
    if ((h.flags & pane::kRegionFlagSlotSides) != 0 && local != (index < h.local_slots)) text += " (WRONG SIDE)";
    if ((slot.features & pane::kConsumerFeatureHeavyFence) != 0) text += ", heavy fence";
    return text;
}

void render_text(const Snapshot& s, const Source& src, const Liveness* live, std::string& out) {
    const auto& h = s.header;
    put(out, "Pane region {} ({} bytes mapped)\n", printable(src.description), src.mapped);
    put(out, "  {:<16} {}\n", "magic", h.magic == pane::kRegionMagic ? "ok" : fmt::format("BAD ({})", hex64(h.magic)));
    put(out, "  {:<16} {}.{} (header {} B)\n", "version", h.version_major, h.version_minor, h.header_size);
    put(out, "  {:<16} {} B of {} B mapped{}\n", "region size", h.region_size, s.mapped,
        h.region_size > s.mapped ? "  (LARGER than the mapping)" : "");
    put(out, "  {:<16} {}\n", "epoch", hex64(h.epoch));
    put(out, "  {:<16} {}, pid {}, init_count {}\n", "producer", producer_state_name(h.producer_state), h.producer_pid,
        h.init_count);
    std::string beat = fmt::format("{}", h.producer_heartbeat);
    if (live != nullptr && !s.header_error) {
        beat += fmt::format(", {} beats/s, unchanged for {}{}",
                            live->producer_rate ? fmt::format("{:.1f}", *live->producer_rate) : std::string("-"),
                            age_text(live->producer_age, live->producer_moved),
                            live->producer_stale() ? "  STALE" : "");
    }
    put(out, "  {:<16} {} (producer period {} ms)\n", "heartbeat", beat, h.heartbeat_period_ms);
    put(out, "  {:<16} {} slots at {}, timeout {} ms; {}\n", "consumers", h.max_consumers, h.slot_table_offset,
        h.consumer_timeout_ms, sides_text(h));
    put(out, "  {:<16} {}\n", "producer kernel", kernel_text(h.producer_host_id));
    put(out, "  {:<16} {}\n", "wake fences",
        (h.flags & pane::kRegionFlagAsymmetricWake) != 0
            ? "asymmetric (the producer receives membarrier barriers; protocol 7.6)"
            : "full on both sides");
    put(out, "  {:<16} {} of {} entries at {}\n", "channel table", h.channel_count, h.channel_table_capacity,
        h.channel_table_offset);

    if (!s.header_error) {
        put(out, "\nChannels\n");
        put(out, "  {:>3}  {:<23}  {:<15}  {:>10}  {:>10}  {:>8}  {:>8}  {:<9}  {:>3}  {}\n", "#", "name", "kind",
            "offset", "size", "elem", "capacity", "policy", "id", "flags");
        for (std::size_t i = 0; i < s.channels.size(); ++i) {
            const auto& e = s.channels[i].entry;
            put(out, "  {:>3}  {:<23}  {:<15}  {:>10}  {:>10}  {:>8}  {:>8}  {:<9}  {:>3}  {}{}\n", i,
                printable(pd::entry_name(e)), kind_name(e.kind), e.offset, e.size, e.element_size, e.capacity,
                policy_name(e), e.id, flags_text(e), s.channels[i].error.empty() ? "" : "  INVALID");
        }
        if (s.channels.empty()) put(out, "  (none)\n");

        std::size_t held = 0, never = 0;
        for (const auto& slot : s.slots) {
            held += slot_held(slot) ? 1 : 0;
            never += slot.claim == 0 ? 1 : 0;
        }
        put(out, "\nConsumer slots ({} held of {}; {} never claimed, not shown)\n", held, s.slots.size(), never);
        if (never != s.slots.size()) {
            put(out, "  {:>3}  {:<22}  {:<6}  {:<12}  {:<4}  {:>8}  {:<18}  {:>10}  {:>10}  {:>5}  {}\n", "#", "claim",
                "reaped", "state", "live", "pid", "attach epoch", "heartbeat", "hb age", "reaps", "kernel");
        }
        bool leftover_state = false;
        for (std::size_t i = 0; i < s.slots.size(); ++i) {
            const auto& slot = s.slots[i];
            if (slot.claim == 0) continue;
            // state/pid/attach_epoch are never reset: meaningful only while the claim is held.
            std::string state = consumer_state_name(slot.state);
            if (!slot_held(slot)) {
                state = "(" + state + ")";
                leftover_state = true;
            }
            const std::string epoch = slot.attach_epoch == h.epoch ? "current" : hex64(slot.attach_epoch);
            const std::string age =
                live != nullptr && i < live->slots.size() ? age_text(live->slots[i].age, live->slots[i].moved) : "-";
            put(out, "  {:>3}  {:<22}  {:<6}  {:<12}  {:<4}  {:>8}  {:<18}  {:>10}  {:>10}  {:>5}  {}\n", i,
                fmt::format("{} {}", slot_held(slot) ? "held" : "free", slot.claim),
                slot_reaped(slot) ? "yes" : "no", state, slot_live(slot, h.epoch) ? "yes" : "no", slot.pid, epoch,
                slot.heartbeat, age, slot.reap_count, slot_kernel_text(slot, h, i));
        }
        if (leftover_state) put(out, "  (state): claim free or reaped, so state is stale (it is never reset)\n");

        for (std::size_t i = 0; i < s.channels.size(); ++i) {
            const auto& c = s.channels[i];
            if (!c.error.empty()) continue;  // never decoded: its offset is not trusted
            print_channel_details(static_cast<pane::ChannelKind>(c.entry.kind), c, i, s,
                                  live != nullptr ? &live->channel_rates : nullptr, Format::text, out);
        }
    }

    const auto notes = s.notes();
    const auto problems = s.problems();
    if (!notes.empty()) put(out, "\n");
    for (const auto& n : notes) put(out, "note: {}\n", n);
    put(out, "\n{}\n", problems.empty() ? "region: valid" : "region: INVALID");
    for (const auto& p : problems) put(out, "  {}\n", p);
}

void render_json(const Snapshot& s, const Source& src, const Liveness* live, std::uint64_t refresh,
                 std::string& out) {
    const auto& h = s.header;
    const auto problems = s.problems();
    const auto notes = s.notes();
    auto list = [](const std::vector<std::string>& v) {
        std::string r;
        for (const auto& x : v) r += (r.empty() ? "" : ",") + json_string(x);
        return r;
    };
    put(out, "{{\"source\":{},\"mapped_size\":{},\"valid\":{},\"settled\":{},\"problems\":[{}],\"notes\":[{}],",
        json_string(src.description), s.mapped, problems.empty(), s.settled, list(problems), list(notes));
    if (live != nullptr) put(out, "\"refresh\":{},", refresh);
    put(out,
        "\"header\":{{\"magic_ok\":{},\"magic\":\"{}\",\"version_major\":{},\"version_minor\":{},\"header_size\":{},"
        "\"region_size\":{},\"mapped_size\":{},\"epoch\":\"{}\",\"producer_state\":{},\"producer_state_value\":{},"
        "\"producer_pid\":{},\"init_count\":{},\"producer_heartbeat\":{},\"heartbeat_period_ms\":{},"
        "\"consumer_timeout_ms\":{},\"max_consumers\":{},\"channel_count\":{},\"channel_table_capacity\":{},"
        "\"channel_table_offset\":{},\"slot_table_offset\":{},\"flags\":{},\"producer_host_id\":\"{}\","
        "\"producer_same_kernel\":{},\"slot_sides\":{},\"local_slots\":{},\"error\":{}",
        h.magic == pane::kRegionMagic, hex64(h.magic), h.version_major, h.version_minor, h.header_size,
        h.region_size, s.mapped, hex64(h.epoch), json_string(producer_state_name(h.producer_state)),
        h.producer_state, h.producer_pid, h.init_count, h.producer_heartbeat, h.heartbeat_period_ms,
        h.consumer_timeout_ms, h.max_consumers, h.channel_count, h.channel_table_capacity, h.channel_table_offset,
        h.slot_table_offset, h.flags, hex64(h.producer_host_id), pd::same_kernel(h.producer_host_id),
        (h.flags & pane::kRegionFlagSlotSides) != 0, h.local_slots,
        s.header_error ? json_string(header_problem(*s.header_error, h)) : std::string("null"));
    if (live != nullptr && !s.header_error) {
        put(out, ",\"heartbeat_rate_per_s\":{},\"heartbeat_unchanged_ms\":{:.1f},\"heartbeat_seen_change\":{},"
                 "\"heartbeat_stale\":{}",
            live->producer_rate ? fmt::format("{:.2f}", *live->producer_rate) : std::string("null"),
            ms(live->producer_age), live->producer_moved, live->producer_stale());
    }
    put(out, "}},\"channels\":[");
    for (std::size_t i = 0; i < s.channels.size(); ++i) {
        const auto& c = s.channels[i];
        const auto& e = c.entry;
        put(out,
            "{}{{\"index\":{},\"name\":{},\"kind\":{},\"kind_value\":{},\"id\":{},\"offset\":{},\"size\":{},"
            "\"element_size\":{},\"capacity\":{},\"policy\":{},\"policy_value\":{},\"flags\":{},\"valid\":{},"
            "\"error\":{},\"details\":",
            i == 0 ? "" : ",", i, json_string(pd::entry_name(e)), json_string(kind_name(e.kind)), e.kind, e.id,
            e.offset, e.size, e.element_size, e.capacity, json_string(policy_name(e)), e.policy, e.flags,
            c.error.empty(), c.error.empty() ? std::string("null") : json_string(c.error));
        if (c.error.empty()) {
            print_channel_details(static_cast<pane::ChannelKind>(e.kind), c, i, s,
                                  live != nullptr ? &live->channel_rates : nullptr, Format::json, out);
        } else {
            put(out, "null");
        }
        put(out, "}}");
    }
    put(out, "],\"slots\":[");
    for (std::size_t i = 0; i < s.slots.size(); ++i) {
        const auto& slot = s.slots[i];
        put(out,
            "{}{{\"index\":{},\"claim\":{},\"held\":{},\"reaped\":{},\"reaped_claim\":{},\"state\":{},"
            "\"state_value\":{},\"live\":{},\"pid\":{},\"attach_epoch\":\"{}\",\"attach_epoch_current\":{},"
            "\"heartbeat\":{},\"reap_count\":{},\"host_id\":\"{}\",\"same_kernel_as_producer\":{},\"features\":{}",
            i == 0 ? "" : ",", i, slot.claim, slot_held(slot), slot_reaped(slot), slot.reaped_claim,
            json_string(consumer_state_name(slot.state)), slot.state, slot_live(slot, h.epoch), slot.pid,
            hex64(slot.attach_epoch), slot.attach_epoch == h.epoch, slot.heartbeat, slot.reap_count, hex64(slot.host_id),
            slot.host_id != 0 && slot.host_id == h.producer_host_id, slot.features);
        if (live != nullptr && i < live->slots.size()) {
            put(out, ",\"heartbeat_unchanged_ms\":{:.1f},\"heartbeat_seen_change\":{}", ms(live->slots[i].age),
                live->slots[i].moved);
        }
        put(out, "}}");
    }
    put(out, "]}}\n");
}

// ----- Main ------------------------------------------------------------------------------------

void check_options(int argc, char** argv) {
    static const std::vector<std::string> known{"shm", "file", "size", "ivshmem", "wc", "watch", "interval", "json", "help"};
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + a + "'");
        if (std::find(known.begin(), known.end(), a.substr(2)) == known.end()) {
            throw std::invalid_argument("unknown option " + a);
        }
        const bool flag = a == "--watch" || a == "--json" || a == "--help" || a == "--wc";
        const bool optional_value = a == "--ivshmem" && (i + 1 >= argc || std::string_view(argv[i + 1]).rfind("--", 0) == 0);
        if (!flag && !optional_value) ++i;  // skip the option's value
    }
}

// Options::num, with a message that names the option (std::stoull's own says only "stoull").
std::uint64_t number(const pt::Options& opt, const std::string& key, std::uint64_t fallback) {
    try {
        return opt.num(key, fallback);
    } catch (const std::logic_error&) {  // invalid_argument, out_of_range
        throw std::invalid_argument("--" + key + " wants a number");
    }
}

// Sleeps until `until` or a stop signal, in short steps (sleep_for resumes after EINTR).
void sleep_until_or_stopped(Clock::time_point until) {
    while (g_stop == 0) {
        const auto now = Clock::now();
        if (now >= until) return;
        std::this_thread::sleep_for(std::min<Clock::duration>(until - now, 50ms));
    }
}

int run(int argc, char** argv) {
    check_options(argc, argv);
    pt::Options opt(argc, argv, {"watch", "json", "help", "wc"}, {"ivshmem"});
    if (opt.has("help")) {
        fmt::print("{}", kHelp);
        return 0;
    }
    if (int{opt.has("shm")} + int{opt.has("file")} + int{opt.has("ivshmem")} != 1 || (opt.has("size") && opt.has("shm"))) {
        fmt::print(stderr, "pane-inspect: give one of --shm NAME, --file PATH or --ivshmem [ADDR] (--size not with --shm)\n{}", kHelp);
        return 2;
    }
    pt::RegionSource source = pt::parse_region_source(opt);
    source.size = number(opt, "size", 0);
    const bool json = opt.has("json");
    const bool watch = opt.has("watch");
    // Options::num takes "-1" (stoull wraps it), so bound the value before it becomes a duration.
    const std::uint64_t interval_ms = number(opt, "interval", 500);
    if (interval_ms == 0 || interval_ms > 3'600'000) {
        fmt::print(stderr, "pane-inspect: --interval must be 1..3600000 ms\n{}", kHelp);
        return 2;
    }
    const auto interval = std::chrono::milliseconds(static_cast<std::int64_t>(interval_ms));

    auto mapping = source.map_existing();
    if (!mapping) {
        fmt::print(stderr, "pane-inspect: cannot map {}: {}\n", source.label(), pane::describe(mapping.error()));
        return 1;
    }
    const std::span<const std::byte> region = mapping->bytes();
    // copy_from_shared needs 8-aligned words; the map backends return page-aligned memory.
    if (region.size() < sizeof(pane::RegionHeader) ||
        reinterpret_cast<std::uintptr_t>(region.data()) % pane::kCacheLine != 0) {
        fmt::print(stderr, "pane-inspect: {}: mapping is too small or misaligned\n", mapping->description());
        return 1;
    }
    const Source src{mapping->description(), region.size()};

    if (!watch) {
        const Snapshot snap = take_snapshot(region);
        std::string out;
        if (json) {
            render_json(snap, src, nullptr, 0, out);
        } else {
            render_text(snap, src, nullptr, out);
        }
        fmt::print("{}", out);
        return snap.problems().empty() ? 0 : 1;
    }

    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    const bool tty = ::isatty(STDOUT_FILENO) == 1;
    pt::StatusLine status;
    Tracker tracker;
    bool valid = true;
    auto next = Clock::now();
    for (std::uint64_t refresh = 1; g_stop == 0; ++refresh) {
        const Snapshot snap = take_snapshot(region);
        const auto now = Clock::now();
        const Liveness live = tracker.update(snap, now);
        valid = snap.problems().empty();
        std::string out;
        if (json) {
            render_json(snap, src, &live, refresh, out);
        } else {
            if (tty) out += "\033[H\033[2J";  // home, clear screen: the refresh replaces the last
            else if (refresh > 1) out += "\n";
            render_text(snap, src, &live, out);
        }
        status.done();
        fmt::print("{}", out);
        std::fflush(stdout);
        status.show(fmt::format("pane-inspect: refresh {} every {} ms, region {}; Ctrl-C to stop", refresh,
                                interval.count(), valid ? "valid" : "INVALID"));
        next += interval;
        if (next < now) next = now + interval;  // fell behind (slow terminal): do not burst
        sleep_until_or_stopped(next);
    }
    status.done();
    return valid ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        fmt::print(stderr, "pane-inspect: {}\n{}", e.what(), kHelp);
        return 2;
    }
}
