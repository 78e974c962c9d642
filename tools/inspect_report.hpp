// SPDX-License-Identifier: MIT
// pane-inspect's report: a pane::inspect::Snapshot (and, with --watch, its Liveness) as text for
// people or one JSON object for machines. Only formatting lives here: the decoding and every
// verdict come from the library (include/pane/inspect.hpp). Values read from the region are
// printed escaped (printable, json_string): a hostile name must not drive the terminal.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/core.h>
#include <fmt/format.h>

#include <pane/inspect.hpp>

#include "cli.hpp"

namespace pane_tools::inspect_report {

namespace pd = pane::detail;
namespace pi = pane::inspect;
using pane::Clock;

inline constexpr auto kStaleAfter = std::chrono::seconds(1);  // --watch: a producer heartbeat unchanged this long is "stale"

template <class... Args>
inline void put(std::string& out, fmt::format_string<Args...> f, Args&&... args) {
    fmt::format_to(std::back_inserter(out), f, std::forward<Args>(args)...);
}

// ----- Names ---------------------------------------------------------------------------------

inline std::string producer_state_name(std::uint32_t v) {
    switch (static_cast<pane::ProducerState>(v)) {
        case pane::ProducerState::uninitialised: return "uninitialised";
        case pane::ProducerState::initialising: return "initialising";
        case pane::ProducerState::ready: return "ready";
        case pane::ProducerState::closed: return "closed";
    }
    return fmt::format("unknown({})", v);
}

inline std::string consumer_state_name(std::uint32_t v) {
    switch (static_cast<pane::ConsumerState>(v)) {
        case pane::ConsumerState::free: return "free";
        case pane::ConsumerState::attached: return "attached";
        case pane::ConsumerState::detached: return "detached";
    }
    return fmt::format("unknown({})", v);
}

inline std::string kind_name(std::uint32_t v) {
    switch (static_cast<pane::ChannelKind>(v)) {
        case pane::ChannelKind::ring: return "ring";
        case pane::ChannelKind::frames: return "frames";
        case pane::ChannelKind::cursor_shape: return "cursor_shape";
        case pane::ChannelKind::cursor_position: return "cursor_position";
        case pane::ChannelKind::control: return "control";
    }
    return fmt::format("unknown({})", v);
}

inline bool is_ring(const pane::ChannelEntry& e) { return e.kind == static_cast<std::uint32_t>(pane::ChannelKind::ring); }

// Kind-specific fields mean nothing outside rings in 1.0 (protocol section 10): shown raw.
inline std::string policy_name(const pane::ChannelEntry& e) {
    if (!is_ring(e)) return fmt::format("{}", e.policy);
    switch (static_cast<pane::RingPolicy>(e.policy)) {
        case pane::RingPolicy::lossless: return "lossless";
        case pane::RingPolicy::overwrite: return "overwrite";
    }
    return fmt::format("unknown({})", e.policy);
}

inline std::string flags_text(const pane::ChannelEntry& e) {
    std::string s = fmt::format("{:#x}", e.flags);
    if (is_ring(e) && (e.flags & pane::kRingFlagWakeups) != 0) s += " wakeups";
    if (is_ring(e) && (e.flags & ~pane::kRingFlagsKnown) != 0) s += " +unknown";
    return s;
}

std::string hex64(std::uint64_t v) { return fmt::format("{:#018x}", v); }

// Names come from the region: a hostile one must not drive the terminal (escape sequences).
inline std::string printable(std::string_view s) {
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

inline std::string sleeper_list(std::uint64_t mask) {
    std::string s;
    for (std::uint32_t i = 0; i < 64; ++i) {
        if ((mask >> i) & 1u) s += fmt::format("{}{}", s.empty() ? "" : ",", i);
    }
    return s;
}

inline std::string frame_format_name(std::uint32_t v) {
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

inline std::string frame_flags_text(std::uint32_t flags) {
    std::string s = fmt::format("{:#x}", flags);
    if ((flags & pane::kFrameDamageValid) != 0) s += " damage";
    if ((flags & pane::kFrameHdr) != 0) s += " hdr";
    if ((flags & pane::kFrameHdrPq) != 0) s += " pq";
    if ((flags & ~pane::kFrameFlagsKnown) != 0) s += " +unknown";
    return s;
}

inline std::string rotation_text(std::uint32_t r) {
    return r <= 3 ? fmt::format("{} deg", r * 90) : fmt::format("invalid({})", r);
}

inline std::string cursor_type_name(std::uint32_t v) {
    switch (static_cast<pane::CursorType>(v)) {
        case pane::CursorType::color: return "color";
        case pane::CursorType::monochrome: return "monochrome";
        case pane::CursorType::masked_color: return "masked_color";
    }
    return fmt::format("unknown({})", v);
}

inline std::string seqlock_state(std::uint64_t seq) {
    switch (pi::seqlock_state(seq)) {
        case pi::SeqlockState::none: return "none";
        case pi::SeqlockState::contended: return "contended";
        case pi::SeqlockState::ok: return "ok";
    }
    return "?";
}

// ----- Verdicts --------------------------------------------------------------------------------

// One line for a failed check: the library's verdict names the field and the values.
inline std::string verdict_text(const pane::Verdict& v) {
    using E = pane::InspectError;
    const std::string field = printable(v.field);
    switch (v.error) {
        case E::ok: return "valid";
        case E::bad_magic: return fmt::format("magic is {:#018x}", v.got);
        case E::unsupported_version: return fmt::format("protocol major version {}, this build reads {}", v.got, v.want);
        case E::region_too_small: return fmt::format("{} {} exceeds the {} bytes mapped", field, v.got, v.want);
        case E::too_small: return fmt::format("{} {} is below the minimum {}", field, v.got, v.want);
        case E::too_large: return fmt::format("{} {} exceeds the maximum {}", field, v.got, v.want);
        case E::mismatch: return fmt::format("{} is {}, the layout says {}", field, v.got, v.want);
        case E::misaligned: return fmt::format("{} {} is not a multiple of {}", field, v.got, v.want);
        case E::past_region: return fmt::format("{} {}: the range runs past region_size {}", field, v.got, v.want);
        case E::overlaps:
            return v.field == "channel" ? fmt::format("overlaps channel #{}", v.got)
                                        : fmt::format("overlaps the {} at {}", field, v.got);
        case E::bad_name: return "name is empty or not NUL-terminated within 24 bytes";
        case E::no_geometry: return fmt::format("no valid layout for {} ({}, {})", field, v.got, v.want);
        case E::unknown_value: return fmt::format("{} {} is not a known value (at most {})", field, v.got, v.want);
        case E::unknown_bits: return fmt::format("{} {:#x} has bits outside {:#x}", field, v.got, v.want);
        case E::outside_frame: return fmt::format("damage[{}] lies outside the frame", v.got);
        case E::wrong_side: return fmt::format("slot {} is held from the other side of the boundary", v.got);
    }
    return std::string(pane::describe(v.error));
}

inline std::string header_problem(const pi::Snapshot& s) {
    return fmt::format("{}: {}", pane::describe(*s.header_error), verdict_text(s.header_verdict));
}

inline std::string newest_note(const pi::FramesState& f) {
    switch (f.newest_state) {
        case pi::NewestFrame::none_published: return "no frame published yet";
        case pi::NewestFrame::incomplete: return "the slot of write_pos - 1 is not complete";
        case pi::NewestFrame::contended: return "the producer kept overwriting the newest descriptor while we copied it";
        case pi::NewestFrame::ok: break;
    }
    return {};
}

// The data-path violations (a channel whose layout is fine but whose current value a consumer
// refuses), with what a consumer does about it; "" if none.
inline std::string frame_violation(const pi::FramesState& f) {
    if (f.descriptor.ok()) return {};
    return fmt::format("newest descriptor (position {}, serial {}): {} (a consumer stops: broken)", f.newest_position,
                       f.newest.serial, verdict_text(f.descriptor));
}
inline std::string shape_violation(const pi::CursorShapeState& s) {
    if (s.shape.ok()) return {};
    return fmt::format("current shape (serial {}): {} (a consumer counts a violation)", s.header.serial,
                       verdict_text(s.shape));
}
inline std::string position_violation(const pi::CursorPositionState& s) {
    if (s.position.ok()) return {};
    return fmt::format("position (serial {}): {} (a consumer counts a violation)", s.serial, verdict_text(s.position));
}

inline std::string details_problem(const pi::ChannelDetails& details) {
    return std::visit(
        [](const auto& d) -> std::string {
            using T = std::decay_t<decltype(d)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
                return {};
            } else {
                if (!d.verdict.ok()) return verdict_text(d.verdict);
                if constexpr (std::is_same_v<T, pi::FramesState>) return frame_violation(d);
                if constexpr (std::is_same_v<T, pi::CursorShapeState>) return shape_violation(d);
                if constexpr (std::is_same_v<T, pi::CursorPositionState>) return position_violation(d);
                return {};
            }
        },
        details);
}

inline void append_layout_problems(const pi::Snapshot& s, std::vector<std::string>& p) {
    for (std::size_t i = 0; i < s.channels.size(); ++i) {
        const auto& c = s.channels[i];
        const auto name = printable(c.name());
        if (!c.verdict.ok()) {
            p.push_back(fmt::format("channel #{} '{}': {}", i, name, verdict_text(c.verdict)));
            continue;
        }
        const std::string why = details_problem(c.details);
        if (!why.empty()) p.push_back(fmt::format("{} #{} '{}': {}", kind_name(c.entry.kind), i, name, why));
    }
}

// Validation problems (each makes the exit status 1), as Snapshot::valid() counts them.
inline std::vector<std::string> problems(const pi::Snapshot& s) {
    std::vector<std::string> p;
    if (s.header_error) p.push_back("region header: " + header_problem(s));
    if (s.settled) append_layout_problems(s, p);
    return p;
}

// Advisory notes: the copy may mix states, or the region is not (yet) in use.
inline std::vector<std::string> notes(const pi::Snapshot& s) {
    std::vector<std::string> n;
    if (s.header.magic == 0 && s.mapped >= sizeof(pane::RegionHeader)) {
        n.push_back("magic is 0: no producer has finished initialising this region");
    }
    if (!s.header_error && !s.settled) {
        n.push_back(s.initialising() ? "the producer is initialising: the layout may be rewritten while we read it"
                                     : "the producer re-initialised or changed state while we read: values may mix epochs");
        std::vector<std::string> torn;
        append_layout_problems(s, torn);
        for (const auto& t : torn) n.push_back("in this unsettled copy: " + t);
    }
    if (!s.header_error && s.header.version_minor > pane::kVersionMinor) {
        n.push_back(fmt::format("minor version {} is newer than ours ({}): new fields are not shown",
                                s.header.version_minor, pane::kVersionMinor));
    }
    for (std::size_t i = 0; i < s.slots.size(); ++i) {
        if (!s.slots[i].verdict.ok()) n.push_back(fmt::format("slot {}: {}", i, verdict_text(s.slots[i].verdict)));
    }
    return n;
}

enum class Format { text, json };

// --watch: cursor position updates per second, by channel index (nullopt: not measured yet).
using ChannelRates = std::vector<std::optional<double>>;

// Whether a per-slot claim (ring cursor, frame lease, control ring) belongs to the slot's holder.
inline std::string claim_status(std::uint64_t claim, const pane::ConsumerSlot& slot) {
    const auto status = pi::claim_status(claim, slot);
    if (status == pi::ClaimStatus::other_claim) return fmt::format("stale (slot claim {})", slot.claim);
    return std::string(pi::describe(status));
}

inline std::string cursor_claim_status(const pane::RingCursor& c, const pane::ConsumerSlot& slot) {
    return claim_status(c.claim, slot);
}

inline std::string json_or_null(const std::string& s) { return s.empty() ? std::string("null") : json_string(s); }

inline std::string json_number(const std::optional<double>& v) {
    return v ? fmt::format("{:.3f}", *v) : std::string("null");
}

inline void print_ring(const pi::RingState& r, const pane::ChannelEntry& e, std::size_t index, const pi::Snapshot& snap,
                Format format, std::string& out) {
    const auto& c = r.control;
    if (format == Format::json) {
        if (!r.verdict.ok()) {
            put(out, "{{\"decoded\":false,\"error\":{}}}", json_string(verdict_text(r.verdict)));
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
            const auto status = cursor_claim_status(cur, snap.slots[i].slot);
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
    if (!r.verdict.ok()) {
        put(out, "  INVALID: {}\n", verdict_text(r.verdict));
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
            cursor_claim_status(cur, snap.slots[i].slot), ((c.sleepers >> i) & 1u) != 0 ? ", sleeping" : "");
    }
}

// The lease word of a FrameLease: (generation << 6) | buffer_index, 0 = none.
inline std::optional<double> age_ms(const pi::FramesState& f) {
    if (!f.newest_age) return std::nullopt;
    return std::chrono::duration<double, std::milli>(*f.newest_age).count();
}

inline std::string lease_text(std::uint64_t lease, const pi::FramesState& f) {
    if (lease == 0) return "none";
    const auto index = static_cast<std::uint32_t>(lease & 63u);
    const std::uint64_t generation = lease >> 6;
    std::string s = fmt::format("buffer {} gen {}", index, generation);
    if (index >= f.buffers.size()) return s + " (index out of range)";
    if (f.buffers[index].generation != generation) s += fmt::format(" (buffer now gen {})", f.buffers[index].generation);
    return s;
}

inline std::string host_text(const pi::FramesState& f) {
    const std::uint64_t ours = pd::host_id();
    if (f.control.host_id == 0) return fmt::format("{} (unknown: producer_time_ns is never compared)", hex64(0));
    if (f.same_host) return fmt::format("{} (this machine: producer_time_ns is on our clock)", hex64(f.control.host_id));
    return fmt::format("{} (another host or guest; ours is {})", hex64(f.control.host_id), hex64(ours));
}

inline void print_frames(const pi::FramesState& f, const pane::ChannelEntry& e, std::size_t index, const pi::Snapshot& snap,
                  Format format, std::string& out) {
    const auto& c = f.control;
    if (format == Format::json) {
        if (!f.verdict.ok()) {
            put(out, "{{\"decoded\":false,\"error\":{}}}", json_string(verdict_text(f.verdict)));
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
        if (f.newest_state == pi::NewestFrame::ok) {
            const auto& d = f.newest;
            put(out,
                "{{\"position\":{},\"serial\":{},\"buffer_index\":{},\"buffer_generation\":{},\"format\":{},"
                "\"format_value\":{},\"width\":{},\"height\":{},\"stride\":{},\"rotation\":{},\"flags\":{},"
                "\"damage_count\":{},\"frames_dropped\":{},\"frame_interval_ms\":{:.3f},"
                "\"capture_duration_ms\":{:.3f},\"producer_time_ns\":{},\"age_ms\":{},\"valid\":{},\"error\":{}}}",
                f.newest_position, d.serial, d.buffer_index, d.buffer_generation,
                json_string(frame_format_name(d.format)), d.format, d.width, d.height, d.stride, d.rotation, d.flags,
                d.damage_count, d.frames_dropped, static_cast<double>(d.frame_interval_ns) / 1e6,
                static_cast<double>(d.capture_duration_ns) / 1e6, d.producer_time_ns, json_number(age_ms(f)),
                f.descriptor.ok(), json_or_null(frame_violation(f)));
        } else {
            put(out, "null");
        }
        put(out, ",\"newest_note\":{},\"violation\":{},\"leases\":[", json_or_null(newest_note(f)),
            json_or_null(frame_violation(f)));
        bool first = true;
        for (std::size_t i = 0; i < f.leases.size(); ++i) {
            const auto& l = f.leases[i];
            if (l.claim == 0) continue;
            const auto status = claim_status(l.claim, snap.slots[i].slot);
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
    if (!f.verdict.ok()) {
        put(out, "\n  INVALID: {}\n", verdict_text(f.verdict));
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
    if (f.newest_state == pi::NewestFrame::ok) {
        const auto& d = f.newest;
        put(out, "  newest (position {}): serial {}, buffer {} gen {}, {} {}x{}, stride {}, rotation {}, flags {}\n",
            f.newest_position, d.serial, d.buffer_index, d.buffer_generation, frame_format_name(d.format), d.width,
            d.height, d.stride, rotation_text(d.rotation), frame_flags_text(d.flags));
        put(out, "    damage {}, frames_dropped {}, interval {:.2f} ms, capture {:.2f} ms, age {}\n", d.damage_count,
            d.frames_dropped, static_cast<double>(d.frame_interval_ns) / 1e6,
            static_cast<double>(d.capture_duration_ns) / 1e6,
            age_ms(f) ? fmt::format("{:.2f} ms", *age_ms(f))
                            : std::string(f.same_host ? "-" : "- (not on our clock)"));
    } else {
        put(out, "  newest: none ({})\n", newest_note(f));
    }
    if (!f.descriptor.ok()) put(out, "  INVALID: {}\n", frame_violation(f));
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
        put(out, "  {:>4}  {:>8}  {:<24}  {:<28}  {:>11}  {:>14}\n", i, l.claim, claim_status(l.claim, snap.slots[i].slot),
            lease_text(l.lease, f), l.frames_read, l.frames_skipped);
    }
}

inline void print_cursor_shape(const pi::CursorShapeState& s, const pane::ChannelEntry& e, std::size_t index, Format format,
                        std::string& out) {
    const auto& h = s.header;
    if (format == Format::json) {
        if (!s.verdict.ok()) {
            put(out, "{{\"decoded\":false,\"error\":{}}}", json_string(verdict_text(s.verdict)));
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
                h.hotspot_x, h.hotspot_y, h.data_size, s.shape.ok(), json_or_null(shape_violation(s)));
        } else {
            put(out, "null");
        }
        put(out, "}}");
        return;
    }
    put(out, "\nCursor shape #{} '{}'", index, printable(pd::entry_name(e)));
    if (!s.verdict.ok()) {
        put(out, "\n  INVALID: {}\n", verdict_text(s.verdict));
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
            s.shape.ok() ? "valid" : "INVALID");
    }
    if (!s.shape.ok()) put(out, "  INVALID: {}\n", shape_violation(s));
}

inline void print_cursor_position(const pi::CursorPositionState& s, const pane::ChannelEntry& e, std::size_t index,
                           const ChannelRates* rates, Format format, std::string& out) {
    const auto& r = s;
    // A plain flag and value rather than std::optional<double>: GCC 12 at -O2 warns (falsely)
    // that the optional's value may be used uninitialised inside fmt.
    const bool has_rate = rates != nullptr && index < rates->size() && (*rates)[index].has_value();
    const double rate_value = has_rate ? *(*rates)[index] : 0.0;
    if (format == Format::json) {
        if (!s.verdict.ok()) {
            put(out, "{{\"decoded\":false,\"error\":{}}}", json_string(verdict_text(s.verdict)));
            return;
        }
        put(out, "{{\"decoded\":true,\"error\":null,\"seq\":{},\"updates_published\":{},\"state\":{},\"position\":",
            s.seq_now, s.seq_now / 2, json_string(seqlock_state(s.seq)));
        if (s.seq >= 2) {
            put(out,
                "{{\"seq\":{},\"x\":{},\"y\":{},\"visible\":{},\"visible_value\":{},\"shape_serial\":{},"
                "\"serial\":{},\"valid\":{},\"error\":{}}}",
                s.seq, r.x, r.y, r.visible == 1, r.visible, r.shape_serial, r.serial, s.position.ok(),
                json_or_null(position_violation(s)));
        } else {
            put(out, "null");
        }
        put(out, ",\"sleepers\":\"{}\",\"sleeper_slots\":[{}]", hex64(s.sleepers), sleeper_list(s.sleepers));
        if (rates != nullptr) put(out, ",\"updates_per_s\":{}", has_rate ? fmt::format("{}", rate_value) : std::string("null"));
        put(out, "}}");
        return;
    }
    put(out, "\nCursor position #{} '{}'\n", index, printable(pd::entry_name(e)));
    if (!s.verdict.ok()) {
        put(out, "  INVALID: {}\n", verdict_text(s.verdict));
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
    if (!s.position.ok()) put(out, "  INVALID: {}\n", position_violation(s));
}

inline void print_control(const pi::ControlState& k, const pane::ChannelEntry& e, std::size_t index, const pi::Snapshot& snap,
                   Format format, std::string& out) {
    const auto& c = k.control;
    if (format == Format::json) {
        if (!k.verdict.ok()) {
            put(out, "{{\"decoded\":false,\"error\":{}}}", json_string(verdict_text(k.verdict)));
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
            const auto status = claim_status(r.claim, snap.slots[i].slot);
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
    if (!k.verdict.ok()) {
        put(out, "\n  INVALID: {}\n", verdict_text(k.verdict));
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
            claim_status(r.claim, snap.slots[i].slot), r.write_pos, r.read_pos, pd::position_diff(r.write_pos, r.read_pos),
            r.accepted, r.rejected);
    }
}

inline void print_not_decoded(const pane::ChannelEntry& e, std::size_t index, std::string_view what, Format format,
                       std::string& out) {
    if (format == Format::json) {
        put(out, "{{\"decoded\":false,\"error\":null,\"note\":{}}}", json_string(what));
    } else {
        put(out, "\nChannel #{} '{}' ({}): {}\n", index, printable(pd::entry_name(e)), kind_name(e.kind), what);
    }
}

// Text: a section per channel. JSON: the value of the channel's "details" member.
// `rates` is null outside --watch.
inline void print_channel_details(pane::ChannelKind kind, const pi::ChannelState& channel, std::size_t index,
                           const pi::Snapshot& snap, const ChannelRates* rates, Format format, std::string& out) {
    const auto& d = channel.details;
    switch (kind) {
        case pane::ChannelKind::ring:
            if (const auto* ring = std::get_if<pi::RingState>(&d)) {
                print_ring(*ring, channel.entry, index, snap, format, out);
                return;
            }
            break;
        case pane::ChannelKind::frames:
            if (const auto* frames = std::get_if<pi::FramesState>(&d)) {
                print_frames(*frames, channel.entry, index, snap, format, out);
                return;
            }
            break;
        case pane::ChannelKind::cursor_shape:
            if (const auto* shape = std::get_if<pi::CursorShapeState>(&d)) {
                print_cursor_shape(*shape, channel.entry, index, format, out);
                return;
            }
            break;
        case pane::ChannelKind::cursor_position:
            if (const auto* position = std::get_if<pi::CursorPositionState>(&d)) {
                print_cursor_position(*position, channel.entry, index, rates, format, out);
                return;
            }
            break;
        case pane::ChannelKind::control:
            if (const auto* control = std::get_if<pi::ControlState>(&d)) {
                print_control(*control, channel.entry, index, snap, format, out);
                return;
            }
            break;
    }
    print_not_decoded(channel.entry, index, "unknown kind, ignored", format, out);
}

// ===============================================================================================

// Copies header, channel table and slot table, validating each before it is used to go further.
// Ages we only know a lower bound of (no change seen yet) print as ">=".
inline std::string age_text(Clock::duration d, bool moved) {
    return fmt::format("{}{:.2f} s", moved ? "" : ">=", std::chrono::duration<double>(d).count());
}

// ----- Rendering -------------------------------------------------------------------------------

struct Source {
    std::string description;
    std::uint64_t mapped = 0;
};

inline bool producer_stale(const pi::Liveness& l) { return l.producer_age > kStaleAfter; }

inline double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Where the producer runs, as seen from here (protocol 1.2 producer_host_id).
inline std::string kernel_text(std::uint64_t host) {
    if (host == 0) return "unknown (a 1.1 producer, or one that cannot tell)";
    if (pd::same_kernel(host)) return fmt::format("{} (this kernel: futex wake-ups reach us)", hex64(host));
    return fmt::format("{} (another kernel: a guest or the host; ours is {})", hex64(host), hex64(pd::host_id()));
}

inline std::string sides_text(const pane::RegionHeader& h) {
    if ((h.flags & pane::kRegionFlagSlotSides) == 0) return "no sides (all consumers must share one kernel)";
    return fmt::format("slots 0-{} for the producer's kernel, {}-{} for others", static_cast<int>(h.local_slots) - 1,
                       h.local_slots, h.max_consumers - 1);
}

// A held slot's kernel relative to the producer's, and a warning for a holder on the wrong side
// (a 1.1 consumer, or a hostile one).
inline std::string slot_kernel_text(const pane::ConsumerSlot& slot, const pane::RegionHeader& h, std::size_t index) {
    if (slot.host_id == 0) return "unknown";
    const bool local = slot.host_id == h.producer_host_id;
    std::string text = local ? "producer's" : "other";
    if ((h.flags & pane::kRegionFlagSlotSides) != 0 && local != (index < h.local_slots)) text += " (WRONG SIDE)";
    if ((slot.features & pane::kConsumerFeatureHeavyFence) != 0) text += ", heavy fence";
    return text;
}

inline void render_header(const pi::Snapshot& s, const pi::Liveness* live, std::string& out) {
    const auto& h = s.header;
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
                            age_text(live->producer_age, live->producer_moved), producer_stale(*live) ? "  STALE" : "");
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
}

// The verdict comes first. A header that fails validation is shown only as raw fields under a
// heading that says so, and not at all when the magic is wrong (then it is not a Pane region and
// its bytes mean nothing).
inline void render_text(const pi::Snapshot& s, const Source& src, const pi::Liveness* live, std::string& out) {
    const auto& h = s.header;
    put(out, "Pane region {} ({} bytes mapped)\n", printable(src.description), src.mapped);
    const auto problem_list = problems(s);
    put(out, "{}\n", problem_list.empty() ? "region: valid" : "region: INVALID");
    for (const auto& p : problem_list) put(out, "  {}\n", p);
    const auto note_list = notes(s);
    for (const auto& n : note_list) put(out, "note: {}\n", n);
    if (s.header_error) {
        const bool not_pane = *s.header_error == pane::AttachError::bad_magic ||
                              s.mapped < sizeof(pane::RegionHeader) ||
                              s.header_verdict.error == pane::InspectError::misaligned;
        if (!not_pane) {
            put(out, "\nHeader as found (INVALID: raw values, for diagnosis only)\n");
            render_header(s, nullptr, out);
        }
        return;
    }
    put(out, "\nHeader\n");
    render_header(s, live, out);

    {
        put(out, "\nChannels\n");
        put(out, "  {:>3}  {:<23}  {:<15}  {:>10}  {:>10}  {:>8}  {:>8}  {:<9}  {:>3}  {}\n", "#", "name", "kind",
            "offset", "size", "elem", "capacity", "policy", "id", "flags");
        for (std::size_t i = 0; i < s.channels.size(); ++i) {
            const auto& e = s.channels[i].entry;
            put(out, "  {:>3}  {:<23}  {:<15}  {:>10}  {:>10}  {:>8}  {:>8}  {:<9}  {:>3}  {}{}\n", i,
                printable(pd::entry_name(e)), kind_name(e.kind), e.offset, e.size, e.element_size, e.capacity,
                policy_name(e), e.id, flags_text(e), s.channels[i].verdict.ok() ? "" : "  INVALID");
        }
        if (s.channels.empty()) put(out, "  (none)\n");

        std::size_t held = 0, never = 0;
        for (const auto& slot : s.slots) {
            held += slot.held ? 1 : 0;
            never += slot.slot.claim == 0 ? 1 : 0;
        }
        put(out, "\nConsumer slots ({} held of {}; {} never claimed, not shown)\n", held, s.slots.size(), never);
        if (never != s.slots.size()) {
            put(out, "  {:>3}  {:<22}  {:<6}  {:<12}  {:<4}  {:>8}  {:<18}  {:>10}  {:>10}  {:>5}  {}\n", "#", "claim",
                "reaped", "state", "live", "pid", "attach epoch", "heartbeat", "hb age", "reaps", "kernel");
        }
        bool leftover_state = false;
        for (std::size_t i = 0; i < s.slots.size(); ++i) {
            const auto& st = s.slots[i];
            const auto& slot = st.slot;
            if (slot.claim == 0) continue;
            // state/pid/attach_epoch are never reset: meaningful only while the claim is held.
            std::string state = consumer_state_name(slot.state);
            if (!st.held) {
                state = "(" + state + ")";
                leftover_state = true;
            }
            const std::string epoch = slot.attach_epoch == h.epoch ? "current" : hex64(slot.attach_epoch);
            const std::string age =
                live != nullptr && i < live->slots.size() ? age_text(live->slots[i].age, live->slots[i].moved) : "-";
            put(out, "  {:>3}  {:<22}  {:<6}  {:<12}  {:<4}  {:>8}  {:<18}  {:>10}  {:>10}  {:>5}  {}\n", i,
                fmt::format("{} {}", st.held ? "held" : "free", slot.claim), st.reaped ? "yes" : "no", state,
                st.live ? "yes" : "no", slot.pid, epoch,
                slot.heartbeat, age, slot.reap_count, slot_kernel_text(slot, h, i));
        }
        if (leftover_state) put(out, "  (state): claim free or reaped, so state is stale (it is never reset)\n");

        for (std::size_t i = 0; i < s.channels.size(); ++i) {
            const auto& c = s.channels[i];
            if (!c.verdict.ok()) continue;  // never decoded: its offset is not trusted
            print_channel_details(static_cast<pane::ChannelKind>(c.entry.kind), c, i, s,
                                  live != nullptr ? &live->position_rates : nullptr, Format::text, out);
        }
    }
}

inline void render_json(const pi::Snapshot& s, const Source& src, const pi::Liveness* live, std::uint64_t refresh,
                 std::string& out) {
    const auto& h = s.header;
    const auto problem_list = problems(s);
    const auto note_list = notes(s);
    auto list = [](const std::vector<std::string>& v) {
        std::string r;
        for (const auto& x : v) r += (r.empty() ? "" : ",") + json_string(x);
        return r;
    };
    put(out, "{{\"source\":{},\"mapped_size\":{},\"valid\":{},\"settled\":{},\"problems\":[{}],\"notes\":[{}],",
        json_string(src.description), s.mapped, problem_list.empty(), s.settled, list(problem_list), list(note_list));
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
        s.header_error ? json_string(header_problem(s)) : std::string("null"));
    if (live != nullptr && !s.header_error) {
        put(out, ",\"heartbeat_rate_per_s\":{},\"heartbeat_unchanged_ms\":{:.1f},\"heartbeat_seen_change\":{},"
                 "\"heartbeat_stale\":{}",
            live->producer_rate ? fmt::format("{:.2f}", *live->producer_rate) : std::string("null"),
            ms(live->producer_age), live->producer_moved, producer_stale(*live));
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
            c.verdict.ok(), c.verdict.ok() ? std::string("null") : json_string(verdict_text(c.verdict)));
        if (c.verdict.ok()) {
            print_channel_details(static_cast<pane::ChannelKind>(e.kind), c, i, s,
                                  live != nullptr ? &live->position_rates : nullptr, Format::json, out);
        } else {
            put(out, "null");
        }
        put(out, "}}");
    }
    put(out, "],\"slots\":[");
    for (std::size_t i = 0; i < s.slots.size(); ++i) {
        const auto& st = s.slots[i];
        const auto& slot = st.slot;
        put(out,
            "{}{{\"index\":{},\"claim\":{},\"held\":{},\"reaped\":{},\"reaped_claim\":{},\"state\":{},"
            "\"state_value\":{},\"live\":{},\"pid\":{},\"attach_epoch\":\"{}\",\"attach_epoch_current\":{},"
            "\"heartbeat\":{},\"reap_count\":{},\"host_id\":\"{}\",\"same_kernel_as_producer\":{},\"features\":{}",
            i == 0 ? "" : ",", i, slot.claim, st.held, st.reaped, slot.reaped_claim,
            json_string(consumer_state_name(slot.state)), slot.state, st.live, slot.pid,
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


}  // namespace pane_tools::inspect_report
