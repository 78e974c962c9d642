// SPDX-License-Identifier: MIT
// pane-inspect: prints the live state of a Pane region for debugging: header, channel table,
// consumer slots and, for each ring, its write position and subscribed cursors; once, or
// refreshed in place with heartbeat rates and ages measured on our own clock. It is an observer,
// not a consumer: it never claims a slot and never stores to the region. Like a consumer it
// treats the region as hostile: everything is copied out with copy_from_shared and validated
// (check_header, check_entry, check_ring) before any offset read from the region is used to read
// further, and validation failures are reported as text (exit status 1), never trusted.
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
#include <utility>
#include <variant>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include <fmt/core.h>
#include <fmt/format.h>

#include <pane/detail/atomic.hpp>
#include <pane/detail/region_check.hpp>
#include <pane/detail/ring_geometry.hpp>
#include <pane/detail/roster.hpp>
#include <pane/detail/word_copy.hpp>
#include <pane/error.hpp>
#include <pane/layout.hpp>
#include <pane/map/file.hpp>
#include <pane/map/shm.hpp>
#include <pane/wait.hpp>

#include "cli.hpp"

using namespace std::chrono_literals;
namespace pt = pane_tools;
namespace pd = pane::detail;
using pane::Clock;

namespace {

constexpr const char* kHelp = R"(usage: pane-inspect (--shm NAME | --file PATH [--size BYTES]) [options]

Prints the live state of a Pane region: header, channel table, consumer slots and ring cursors.
It maps the region but never claims a consumer slot and never writes to it.
  --shm NAME       POSIX shm object NAME (/dev/shm/NAME on Linux)
  --file PATH      a file, hugetlbfs file or device (e.g. /dev/kvmfr0) holding the region
  --size BYTES     bytes to map from PATH (needed for devices; default: the file's size)
  --watch          refresh until Ctrl-C, adding heartbeat rates and ages (on our clock)
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
std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u >= 0x7f) {
            out += fmt::format("\\u{:04x}", u);
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string sleeper_list(std::uint64_t mask) {
    std::string s;
    for (std::uint32_t i = 0; i < 64; ++i) {
        if ((mask >> i) & 1u) s += fmt::format("{}{}", s.empty() ? "" : ",", i);
    }
    return s;
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

// One alternative per decoded channel kind; monostate = not decoded (see the extension point).
using ChannelDetails = std::variant<std::monostate, RingDetails>;

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
            if (const auto* ring = std::get_if<RingDetails>(&c.details); ring && !ring->error.empty()) {
                p.push_back(fmt::format("ring #{} '{}': {}", i, name, ring->error));
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

// ===============================================================================================
// EXTENSION POINT: per-kind channel details.
//
// Only rings are decoded so far. To decode frames, cursor_shape, cursor_position or control:
//   1. add a details struct to ChannelDetails;
//   2. write a reader like read_ring: recompute the channel's geometry from the entry's validated
//      fields and require it to equal entry.size BEFORE reading one byte of channel memory; copy
//      with copy_from_shared; keep no pointer into the region;
//   3. call it from decode_channel_details and print it from print_channel_details (text and
//      JSON), and report its validation failures in Snapshot::problems().
// The switches have no default so that a new ChannelKind value is a compiler warning here.
// ===============================================================================================

ChannelDetails decode_channel_details(pane::ChannelKind kind, std::span<const std::byte> region,
                                      const pane::ChannelEntry& e, const pane::RegionHeader& h) {
    switch (kind) {
        case pane::ChannelKind::ring: return read_ring(region, e, h);
        case pane::ChannelKind::frames:
        case pane::ChannelKind::cursor_shape:
        case pane::ChannelKind::cursor_position:
        case pane::ChannelKind::control: return std::monostate{};  // not decoded yet
    }
    return std::monostate{};  // unknown kinds are ignored (protocol section 10)
}

enum class Format { text, json };

std::string cursor_claim_status(const pane::RingCursor& c, const pane::ConsumerSlot& slot) {
    if (slot.claim != c.claim) return fmt::format("stale (slot claim {})", slot.claim);
    if (!pd::claim_held(c.claim)) return "stale (even claim)";
    if (slot.reaped_claim == c.claim) return "stale (reaped)";
    return "current";
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
            "\"producer_waiting\":{},\"sleepers\":\"{}\",\"sleeper_slots\":[{}],\"slot_stride\":{},\"cursors\":[",
            c.write_pos, c.initial_position, c.write_pos - c.initial_position, c.producer_waiting, hex64(c.sleepers),
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
    put(out, "  producer_waiting {}  sleepers {}{}\n", c.producer_waiting, hex64(c.sleepers),
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

void print_not_decoded(const pane::ChannelEntry& e, std::size_t index, std::string_view what, Format format,
                       std::string& out) {
    if (format == Format::json) {
        put(out, "{{\"decoded\":false,\"error\":null,\"note\":{}}}", json_string(what));
    } else {
        put(out, "\nChannel #{} '{}' ({}): {}\n", index, printable(pd::entry_name(e)), kind_name(e.kind), what);
    }
}

// Text: a section per channel. JSON: the value of the channel's "details" member.
void print_channel_details(pane::ChannelKind kind, const ChannelReport& channel, std::size_t index,
                           const Snapshot& snap, Format format, std::string& out) {
    switch (kind) {
        case pane::ChannelKind::ring:
            if (const auto* ring = std::get_if<RingDetails>(&channel.details)) {
                print_ring(*ring, channel.entry, index, snap, format, out);
                return;
            }
            break;
        case pane::ChannelKind::frames:
        case pane::ChannelKind::cursor_shape:
        case pane::ChannelKind::cursor_position:
        case pane::ChannelKind::control:
            print_not_decoded(channel.entry, index, "details not yet decoded", format, out);
            return;
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
    bool have_ = false;
    std::uint64_t epoch_ = 0;
    std::uint64_t beat_ = 0;
    Clock::time_point at_{};
    Clock::time_point beat_moved_at_{};
    bool beat_moved_ = false;
    std::vector<SlotSeen> slots_;
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
    put(out, "  {:<16} {} slots at {}, timeout {} ms\n", "consumers", h.max_consumers, h.slot_table_offset,
        h.consumer_timeout_ms);
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
            put(out, "  {:>3}  {:<22}  {:<6}  {:<12}  {:<4}  {:>8}  {:<18}  {:>10}  {:>10}  {:>5}\n", "#", "claim",
                "reaped", "state", "live", "pid", "attach epoch", "heartbeat", "hb age", "reaps");
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
            put(out, "  {:>3}  {:<22}  {:<6}  {:<12}  {:<4}  {:>8}  {:<18}  {:>10}  {:>10}  {:>5}\n", i,
                fmt::format("{} {}", slot_held(slot) ? "held" : "free", slot.claim),
                slot_reaped(slot) ? "yes" : "no", state, slot_live(slot, h.epoch) ? "yes" : "no", slot.pid, epoch,
                slot.heartbeat, age, slot.reap_count);
        }
        if (leftover_state) put(out, "  (state): claim free or reaped, so state is stale (it is never reset)\n");

        for (std::size_t i = 0; i < s.channels.size(); ++i) {
            const auto& c = s.channels[i];
            if (!c.error.empty()) continue;  // never decoded: its offset is not trusted
            print_channel_details(static_cast<pane::ChannelKind>(c.entry.kind), c, i, s, Format::text, out);
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
        "\"channel_table_offset\":{},\"slot_table_offset\":{},\"flags\":{},\"error\":{}",
        h.magic == pane::kRegionMagic, hex64(h.magic), h.version_major, h.version_minor, h.header_size,
        h.region_size, s.mapped, hex64(h.epoch), json_string(producer_state_name(h.producer_state)),
        h.producer_state, h.producer_pid, h.init_count, h.producer_heartbeat, h.heartbeat_period_ms,
        h.consumer_timeout_ms, h.max_consumers, h.channel_count, h.channel_table_capacity, h.channel_table_offset,
        h.slot_table_offset, h.flags,
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
            print_channel_details(static_cast<pane::ChannelKind>(e.kind), c, i, s, Format::json, out);
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
            "\"heartbeat\":{},\"reap_count\":{}",
            i == 0 ? "" : ",", i, slot.claim, slot_held(slot), slot_reaped(slot), slot.reaped_claim,
            json_string(consumer_state_name(slot.state)), slot.state, slot_live(slot, h.epoch), slot.pid,
            hex64(slot.attach_epoch), slot.attach_epoch == h.epoch, slot.heartbeat, slot.reap_count);
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
    static const std::vector<std::string> known{"shm", "file", "size", "watch", "interval", "json", "help"};
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + a + "'");
        if (std::find(known.begin(), known.end(), a.substr(2)) == known.end()) {
            throw std::invalid_argument("unknown option " + a);
        }
        if (a != "--watch" && a != "--json" && a != "--help") ++i;  // skip the option's value
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
    pt::Options opt(argc, argv, {"watch", "json", "help"});
    if (opt.has("help")) {
        fmt::print("{}", kHelp);
        return 0;
    }
    if (opt.has("shm") == opt.has("file") || (opt.has("size") && !opt.has("file"))) {
        fmt::print(stderr, "pane-inspect: give either --shm NAME or --file PATH (--size only with --file)\n{}", kHelp);
        return 2;
    }
    const bool json = opt.has("json");
    const bool watch = opt.has("watch");
    // Options::num takes "-1" (stoull wraps it), so bound the value before it becomes a duration.
    const std::uint64_t interval_ms = number(opt, "interval", 500);
    if (interval_ms == 0 || interval_ms > 3'600'000) {
        fmt::print(stderr, "pane-inspect: --interval must be 1..3600000 ms\n{}", kHelp);
        return 2;
    }
    const auto interval = std::chrono::milliseconds(static_cast<std::int64_t>(interval_ms));

    auto mapping = opt.has("shm")
                       ? pane::map::shm(opt.str("shm", ""), 0, pane::map::OpenMode::open_only)
                       : pane::map::file(opt.str("file", ""), number(opt, "size", 0), pane::map::OpenMode::open_only);
    if (!mapping) {
        fmt::print(stderr, "pane-inspect: cannot map {}: {}\n",
                   opt.has("shm") ? "shm " + opt.str("shm", "") : opt.str("file", ""),
                   pane::describe(mapping.error()));
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
