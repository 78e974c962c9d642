// SPDX-License-Identifier: MIT
// Sessions: the producer lays out a region and keeps it alive; consumers attach to it.
//
//   ProducerSession::create   (re)initialises the region with a fresh epoch. If a previous
//                             producer left consumers attached, it first marks the region
//                             `initialising` and gives them a grace period to leave.
//   ProducerSession::tick     bumps the producer heartbeat and reaps silent consumers.
//   ConsumerSession::attach   validates the region, claims a consumer slot.
//   ConsumerSession::tick     bumps the consumer heartbeat; reports a stale or restarted
//                             producer, or a lost slot. Call it at least every heartbeat period.
//
// Heartbeats are counters; each side judges staleness with its own clock, because a guest's
// and a host's clocks share no epoch. The region must stay mapped, and a session must outlive
// every channel handle opened from it.
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#if defined(__unix__)
#include <unistd.h>
#elif defined(_WIN32)
#include <process.h>  // _getpid, without <windows.h>
#endif

#include "control.hpp"
#include "cursor.hpp"
#include "detail/asymmetric_fence.hpp"
#include "detail/atomic.hpp"
#include "detail/channel_context.hpp"
#include "detail/region_check.hpp"
#include "frames.hpp"
#include "detail/roster.hpp"
#include "detail/schedule_point.hpp"
#include "error.hpp"
#include "layout.hpp"
#include "region_spec.hpp"
#include "result.hpp"
#include "ring.hpp"
#include "wait.hpp"

namespace pane {

namespace detail {

[[nodiscard]] inline std::uint32_t current_pid() noexcept {
#if defined(__unix__)
    return static_cast<std::uint32_t>(::getpid());
#elif defined(_WIN32)
    return static_cast<std::uint32_t>(::_getpid());
#else
    return 0;
#endif
}

// A nonzero epoch different from `previous`. Random, so a restarted producer (same pid, same
// counter) is still told apart; consumers only ever compare epochs for equality.
[[nodiscard]] inline std::uint64_t fresh_epoch(std::uint64_t previous) {
    std::random_device device;
    std::uint64_t e = 0;
    while (e == 0 || e == previous) {
        e = (std::uint64_t{device()} << 32) ^ device() ^
            static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
    }
    return e;
}

[[nodiscard]] inline const ChannelEntry* find_entry(const std::vector<ChannelEntry>& table, std::string_view name) {
    for (const auto& e : table) {
        if (entry_name(e) == name) return &e;
    }
    return nullptr;
}

// A ring channel's view; `e` and `g` validated (or planned by us).
[[nodiscard]] inline RingView ring_view(std::byte* base, const ChannelEntry& e, const RingGeometry& g) noexcept {
    return ring_view_at(base + e.offset, g, static_cast<RingPolicy>(e.policy), e.flags);
}

[[nodiscard]] inline bool region_pointer_ok(std::span<std::byte> region) noexcept {
    return reinterpret_cast<std::uintptr_t>(region.data()) % kCacheLine == 0;
}

}  // namespace detail

// ProducerOptions::frame_lease_limit: never reuse a leased buffer (protocol 1.3 and older).
inline constexpr std::chrono::milliseconds kNeverRevoke = std::chrono::milliseconds::max();

// One consumer slot as the producer's roster sees it (ProducerSession::slots()).
struct SlotUsage {
    std::uint32_t slot = 0;
    bool held = false;     // a claim the roster follows (not reaped, not blocked)
    bool live = false;     // held, attached under this epoch
    bool blocked = false;  // evicted with block: nothing of this slot counts
    std::uint64_t claim = 0;
    std::uint32_t pid = 0;       // as the holder wrote it (informational, forgeable)
    std::uint64_t host_id = 0;   // as the holder wrote it (forgeable)
    Clock::duration silent_for{};  // since its heartbeat last moved, on the producer's clock
};

struct ProducerOptions {
    // How long a re-initialising producer waits for consumers of the previous epoch to leave.
    std::chrono::milliseconds reinit_grace{250};
    // The mapping is write-combining (a guest's resource2_wc): publish with an sfence.
    bool write_combining = false;
    // A ready region whose producer heartbeat moves is refused (InitError::producer_active): a
    // second producer would re-initialise it under the first. Set to replace it regardless.
    bool take_over = false;
    // Frame leases (protocol 1.4, 10.11): when every buffer but the latest is leased, a buffer
    // whose lease the producer has seen held for longer than this (on its own clock, from the
    // first begin() that found it leased) is reused anyway, and the holder's verify() says
    // `reused`. A stuck or hostile viewer then slows the frame rate to about (buffers - 1)
    // frames per limit instead of stopping it. kNeverRevoke keeps 1.3's behaviour.
    std::chrono::milliseconds frame_lease_limit{1000};
};

class ProducerSession {
public:
    [[nodiscard]] static Result<ProducerSession, InitError> create(std::span<std::byte> region, const RegionSpec& spec,
                                                                   ProducerOptions options = {}) {
        auto plan = plan_region(spec);
        if (!plan) return plan.error();
        if (!detail::region_pointer_ok(region) || region.size() < plan->region_size) return InitError::region_too_small;
        auto state = std::make_unique<State>(region, std::move(plan.value()), spec, options);
        if (!options.take_over && state->another_producer_is_live()) return InitError::producer_active;
        state->initialise();
        return ProducerSession(std::move(state));
    }

    ProducerSession(ProducerSession&&) noexcept = default;
    ProducerSession& operator=(ProducerSession&& other) noexcept {
        if (this != &other) {
            close();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    ~ProducerSession() { close(); }

    // Heartbeat (at most once per heartbeat period) and consumer liveness. Call it regularly,
    // at least a few times per heartbeat period; it is cheap when nothing is due.
    void tick() noexcept { tick(Clock::now()); }
    // Once another producer has taken the region over (owns_region() false), it writes nothing:
    // its heartbeat would hide the new producer's death, and its reaps (the roster checks too,
    // for the reaps of a lossless push's wait and evict) would judge slots no longer its own.
    void tick(Clock::time_point now) noexcept {
        State& s = *state_;
        if (!owns_region()) return;
        if (now - s.last_beat >= s.heartbeat_period) {
            s.last_beat = now;
            ++s.heartbeat;
            detail::store_release(s.header->producer_heartbeat, s.heartbeat);  // consumers: load_acquire in tick
        }
        s.roster.refresh(now);
    }

    // Marks the region closed: consumers see it on their next tick. Idempotent. A session whose
    // region another producer has taken over leaves it alone: the region is the successor's,
    // whose consumers would otherwise see it closed. Not excluded: a successor whose whole
    // initialisation ends between this check and the store below (two instructions apart, against
    // an initialisation that includes its grace wait); its region then reads closed until it
    // initialises again.
    void close() noexcept {
        if (!state_ || state_->closed) return;
        state_->closed = true;
        if (!owns_region()) return;
        // Pairs with ConsumerSession::tick's load_acquire(producer_state).
        detail::store_release(state_->header->producer_state, static_cast<std::uint32_t>(ProducerState::closed));
    }

    [[nodiscard]] Result<ByteRingProducer, ChannelError> byte_ring(std::string_view name) {
        return open_ring(name, 0);
    }

    template <class T>
    [[nodiscard]] Result<RingProducer<T>, ChannelError> ring(std::string_view name) {
        auto bytes = open_ring(name, sizeof(T));
        if (!bytes) return bytes.error();
        return RingProducer<T>(std::move(bytes.value()));
    }

    [[nodiscard]] Result<FrameProducer, ChannelError> frames(std::string_view name) {
        auto ctx = open_context(name, ChannelKind::frames);
        if (!ctx) return ctx.error();
        const auto& f = std::get<FrameSpec>(state_->plan.channels[ctx->second].spec);
        const auto g = detail::frame_geometry(f.buffer_count, f.max_width, f.max_height, f.max_bytes_per_pixel,
                                              f.descriptors, state_->max_consumers);
        return FrameProducer(ctx->first, *g);
    }
    [[nodiscard]] Result<CursorShapeProducer, ChannelError> cursor_shape(std::string_view name) {
        auto ctx = open_context(name, ChannelKind::cursor_shape);
        if (!ctx) return ctx.error();
        const auto& c = std::get<CursorShapeSpec>(state_->plan.channels[ctx->second].spec);
        return CursorShapeProducer(ctx->first, *detail::cursor_shape_geometry(c.max_dimension));
    }
    [[nodiscard]] Result<CursorPositionProducer, ChannelError> cursor_position(std::string_view name) {
        auto ctx = open_context(name, ChannelKind::cursor_position);
        if (!ctx) return ctx.error();
        return CursorPositionProducer(ctx->first);
    }
    [[nodiscard]] Result<ControlReceiver, ChannelError> control(std::string_view name) {
        auto ctx = open_context(name, ChannelKind::control);
        if (!ctx) return ctx.error();
        const auto& k = std::get<ControlSpec>(state_->plan.channels[ctx->second].spec);
        return ControlReceiver(ctx->first, *detail::control_geometry(k.capacity, k.element_size, state_->max_consumers));
    }

    [[nodiscard]] std::uint64_t epoch() const noexcept { return state_->epoch; }
    // False once another producer has re-initialised the region (it was started with take_over,
    // or raced our start): stop publishing, this session's channels are no longer ours.
    [[nodiscard]] bool owns_region() const noexcept {
        return detail::load_acquire(state_->header->epoch) == state_->epoch;  // pairs with init's release
    }
    [[nodiscard]] const RegionPlan& plan() const noexcept { return state_->plan; }
    [[nodiscard]] std::uint64_t live_consumers() const noexcept { return state_->roster.live_mask(); }
    [[nodiscard]] std::uint64_t reaped_total() const noexcept { return state_->roster.reaped_total(); }

    // Slot usage, as of the roster's last refresh (tick()), for the embedder's policy: who holds
    // each slot and how long its heartbeat has been still. `pid` and `host_id` are what the
    // holder wrote: a hostile one can write anything there (and heartbeat forever), so they
    // identify honest consumers only. \pre the producer's thread.
    [[nodiscard]] std::vector<SlotUsage> slots(Clock::time_point now = Clock::now()) const {
        const State& s = *state_;
        std::vector<SlotUsage> out;
        for (std::uint32_t i = 0; i < s.max_consumers; ++i) {
            SlotUsage u;
            u.slot = i;
            u.claim = s.roster.claim_of(i);
            u.held = u.claim != 0;
            u.live = (s.roster.live_mask() >> i & 1u) != 0;
            u.blocked = (s.roster.blocked_mask() >> i & 1u) != 0;
            if (u.held) {
                u.pid = detail::load_relaxed(s.slots[i].pid);
                u.host_id = detail::load_relaxed(s.slots[i].host_id);
                u.silent_for = s.roster.silent_for(i, now);
            }
            out.push_back(u);
        }
        return out;
    }
    // Reaps the holder of `slot` now, whatever its heartbeat (protocol 1.4, 6.6): its next call
    // says slot_lost, and its ring cursors, frame lease and control ring stop counting at once,
    // even if it writes reaped_claim back (the producer keeps its verdicts privately). With
    // `block`, later holders of the slot are ignored too (never live, nothing of theirs counts)
    // until unblock(slot) or the next initialisation: a consumer cannot be kept from claiming a
    // slot (claims are consumer-only words), only from mattering. Returns whether a holder was
    // reaped; counted in reaped_total(). \pre the producer's thread.
    bool evict(std::uint32_t slot, bool block = false) noexcept { return state_->roster.evict(slot, block); }
    void unblock(std::uint32_t slot) noexcept { state_->roster.unblock(slot); }
    // Whether publishes currently check for sleepers after a compiler barrier alone (protocol
    // 1.3, kRegionFlagAsymmetricWake), as of the roster's last refresh (tick()).
    [[nodiscard]] bool light_wakes() const noexcept { return state_->roster.light_wakes(); }

private:
    struct State {
        State(std::span<std::byte> r, RegionPlan p, const RegionSpec& spec, ProducerOptions o)
            : region(r),
              header(reinterpret_cast<RegionHeader*>(r.data())),
              slots(reinterpret_cast<ConsumerSlot*>(r.data() + p.slot_table_offset)),
              plan(std::move(p)),
              options(o),
              max_consumers(spec.max_consumers),
              table_capacity(spec.channel_table_capacity),
              consumer_timeout(spec.consumer_timeout),
              heartbeat_period(spec.heartbeat_period),
              roster(slots, spec.max_consumers, 0, spec.consumer_timeout, false),
              opened(plan.channels.size(), false) {}

        // Watches a ready region's heartbeat for a few of its periods (at most ~1 s). There is no
        // producer lock in the protocol (it would be a word two producers write), so this check
        // and the initialisation that follows are not atomic: two producers started within the
        // same few milliseconds can still both initialise; owns_region() then tells the loser.
        [[nodiscard]] bool another_producer_is_live() const {
            if (detail::load_acquire(header->magic) != kRegionMagic ||
                detail::load_acquire(header->producer_state) != static_cast<std::uint32_t>(ProducerState::ready)) {
                return false;
            }
            const std::uint64_t beat = detail::load_acquire(header->producer_heartbeat);
            const auto period = std::chrono::milliseconds(
                std::clamp<std::uint32_t>(detail::load_relaxed(header->heartbeat_period_ms), 1, 300));
            const auto deadline = Deadline::after(3 * period + std::chrono::milliseconds(20));
            while (!deadline.passed(Clock::now())) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                if (detail::load_acquire(header->producer_heartbeat) != beat) return true;
            }
            return false;
        }

        void initialise() {
            const bool had_region = detail::load_acquire(header->magic) == kRegionMagic;
            const std::uint64_t previous_epoch = had_region ? detail::load_acquire(header->epoch) : 0;
            const std::uint64_t previous_inits = had_region ? detail::load_relaxed(header->init_count) : 0;
            const RegionHeader old = copy_header();
            // Consumers check producer_state (acquire) before and after they attach; every
            // consumer handle checks epoch (acquire) after each copy-out and before each write.
            PANE_SCHEDULE_POINT("init.mark");
            detail::store_release(header->producer_state, static_cast<std::uint32_t>(ProducerState::initialising));
            detail::store_release(header->epoch, std::uint64_t{0});
            // A release store orders what precedes it, not what follows: fence so that no layout
            // store below becomes visible before `initialising` and epoch 0 (also on WC memory).
            std::atomic_thread_fence(std::memory_order_release);
            detail::write_combining_fence();
            // The previous epoch's consumers leave (bounded by reinit_grace); whoever is still
            // there is reaped in the previous layout's slot table, before a byte of the new
            // layout is written. Their handles stop writing once they see epoch 0 or the reap.
            if (had_region) {
                if (const auto old_slots = slot_table_of(old)) {
                    wait_for_previous_consumers(*old_slots, old.max_consumers);
                    detail::ConsumerRoster(*old_slots, old.max_consumers, 0, consumer_timeout, false).release_all_held();
                }
            }
            // A layout that moves or resizes the slot table starts it from zero: the bytes there
            // belonged to other structures. Otherwise claims keep counting across epochs, so no
            // claim of an earlier epoch can match a later holder's.
            const bool same_slots = had_region && old.slot_table_offset == plan.slot_table_offset &&
                                    old.max_consumers == max_consumers;
            if (!same_slots) {
                PANE_SCHEDULE_POINT("init.slots");
                detail::zero_shared(region.data() + plan.slot_table_offset,
                                    std::uint64_t{max_consumers} * sizeof(ConsumerSlot));
            }

            RegionHeader fresh{};
            fresh.magic = had_region ? kRegionMagic : 0;  // on a new region, magic goes in last
            fresh.version_major = kVersionMajor;
            fresh.version_minor = kVersionMinor;
            fresh.header_size = sizeof(RegionHeader);
            fresh.region_size = plan.region_size;
            fresh.producer_state = static_cast<std::uint32_t>(ProducerState::initialising);
            fresh.producer_pid = detail::current_pid();
            fresh.max_consumers = max_consumers;
            fresh.channel_count = static_cast<std::uint32_t>(plan.channels.size());
            fresh.channel_table_offset = plan.channel_table_offset;
            fresh.slot_table_offset = plan.slot_table_offset;
            fresh.channel_table_capacity = table_capacity;
            fresh.channel_entry_size = sizeof(ChannelEntry);
            fresh.slot_size = sizeof(ConsumerSlot);
            fresh.consumer_timeout_ms = static_cast<std::uint32_t>(consumer_timeout.count());
            fresh.heartbeat_period_ms = static_cast<std::uint32_t>(heartbeat_period.count());
            fresh.init_count = previous_inits + 1;
            fresh.producer_host_id = detail::host_id();
            // Sides only where consumers can tell which side they are on.
            const bool sides = fresh.producer_host_id != 0 && plan.local_slots < max_consumers;
            // Asymmetric wake-up fences only where this process receives membarrier barriers.
            asymmetric_wakes = detail::register_for_light_fences();
            fresh.flags = (sides ? kRegionFlagSlotSides : 0u) | (asymmetric_wakes ? kRegionFlagAsymmetricWake : 0u);
            fresh.local_slots = sides ? plan.local_slots : max_consumers;
            detail::copy_to_shared(region.data(), reinterpret_cast<const std::byte*>(&fresh), sizeof(fresh));

            std::vector<ChannelEntry> table(table_capacity, ChannelEntry{});
            for (std::size_t i = 0; i < plan.channels.size(); ++i) table[i] = plan.channels[i].entry;
            detail::copy_to_shared(region.data() + plan.channel_table_offset,
                                   reinterpret_cast<const std::byte*>(table.data()), table.size() * sizeof(ChannelEntry));

            // Producer-owned line of each slot: every slot still held is released (its holder was
            // reaped above); a free slot's leftover reaped_claim must not equal its next claim.
            std::array<std::uint64_t, kMaxConsumers> released{};
            for (std::uint32_t i = 0; i < max_consumers; ++i) {
                detail::store_relaxed(slots[i].reap_count, std::uint64_t{0});
                const std::uint64_t claim = detail::load_acquire(slots[i].claim);
                released[i] = detail::claim_held(claim) ? claim : claim - 1;
                detail::store_relaxed(slots[i].reaped_claim, released[i]);
            }

            PANE_SCHEDULE_POINT("init.channels");
            for (const auto& channel : plan.channels) init_channel(channel, previous_inits + 1);

            // On a write-combining mapping the layout stores above may still sit in WC buffers.
            detail::write_combining_fence();
            epoch = detail::fresh_epoch(previous_epoch);
            init_count = previous_inits + 1;
            roster = detail::ConsumerRoster(slots, max_consumers, epoch, consumer_timeout, asymmetric_wakes, &header->epoch);
            for (std::uint32_t i = 0; i < max_consumers; ++i) roster.note_released(i, released[i]);
            // Everything above happens-before a consumer's load_acquire of epoch/state/magic.
            PANE_SCHEDULE_POINT("init.publish");
            detail::store_release(header->epoch, epoch);
            detail::store_release(header->producer_state, static_cast<std::uint32_t>(ProducerState::ready));
            if (!had_region) detail::store_release(header->magic, kRegionMagic);
            last_beat = Clock::now();
        }

        [[nodiscard]] RegionHeader copy_header() const noexcept {
            RegionHeader h{};
            detail::copy_from_shared(reinterpret_cast<std::byte*>(&h), region.data(), sizeof(h));
            return h;
        }

        // The previous layout's slot table, if its header is sane enough to find it inside our
        // mapping (a new layout may be smaller than the old one: its consumers still count).
        [[nodiscard]] std::optional<ConsumerSlot*> slot_table_of(const RegionHeader& old) const noexcept {
            if (old.max_consumers == 0 || old.max_consumers > kMaxConsumers ||
                !detail::is_aligned(old.slot_table_offset, kCacheLine) || old.slot_table_offset < sizeof(RegionHeader) ||
                !detail::range_fits(old.slot_table_offset, std::uint64_t{old.max_consumers} * sizeof(ConsumerSlot),
                                    region.size())) {
                return std::nullopt;
            }
            return reinterpret_cast<ConsumerSlot*>(region.data() + old.slot_table_offset);
        }

        // Gives the previous epoch's attached consumers reinit_grace to see `initialising` and
        // leave, so that a handle in the middle of a call finishes it before the layout changes.
        void wait_for_previous_consumers(const ConsumerSlot* old_slots, std::uint32_t count) const {
            const auto deadline = Deadline::after(options.reinit_grace);
            for (;;) {
                bool any_attached = false;
                for (std::uint32_t i = 0; i < count; ++i) {
                    const std::uint64_t claim = detail::load_acquire(old_slots[i].claim);
                    any_attached |= detail::claim_held(claim) && claim != detail::load_relaxed(old_slots[i].reaped_claim) &&
                                    detail::load_acquire(old_slots[i].state) ==
                                        static_cast<std::uint32_t>(ConsumerState::attached);
                }
                if (!any_attached || deadline.passed(Clock::now())) return;
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }

        void init_channel(const PlannedChannel& channel, std::uint64_t new_init_count) {
            std::byte* base = region.data() + channel.entry.offset;
            const std::uint32_t n = max_consumers;
            // plan_region already checked every spec, so each geometry exists.
            if (const auto* ring = std::get_if<RingSpec>(&channel.spec)) {
                const auto g = detail::ring_geometry(ring->capacity, ring->element_size, n);
                detail::init_ring(detail::ring_view(region.data(), channel.entry, *g), ring->initial_position,
                                  channel.entry.flags);
            } else if (const auto* f = std::get_if<FrameSpec>(&channel.spec)) {
                const auto g = detail::frame_geometry(f->buffer_count, f->max_width, f->max_height,
                                                      f->max_bytes_per_pixel, f->descriptors, n);
                detail::init_frames(base, *g, channel.entry.flags, new_init_count);
            } else if (const auto* c = std::get_if<CursorShapeSpec>(&channel.spec)) {
                detail::init_cursor_shape(base, *detail::cursor_shape_geometry(c->max_dimension));
            } else if (std::holds_alternative<CursorPositionSpec>(channel.spec)) {
                detail::init_cursor_position(base);
            } else if (const auto* k = std::get_if<ControlSpec>(&channel.spec)) {
                detail::init_control(base, *detail::control_geometry(k->capacity, k->element_size, n));
            }
        }

        std::span<std::byte> region;
        RegionHeader* header;
        ConsumerSlot* slots;
        RegionPlan plan;
        ProducerOptions options;
        std::uint32_t max_consumers;
        std::uint32_t table_capacity;
        std::chrono::milliseconds consumer_timeout;
        std::chrono::milliseconds heartbeat_period;
        detail::ConsumerRoster roster;
        std::vector<bool> opened;
        std::uint64_t epoch = 0;
        std::uint64_t init_count = 0;
        std::uint64_t heartbeat = 0;
        Clock::time_point last_beat{};
        bool asymmetric_wakes = false;  // this epoch's kRegionFlagAsymmetricWake
        bool closed = false;
    };

    explicit ProducerSession(std::unique_ptr<State> s) noexcept : state_(std::move(s)) {}

    // The context for a channel of `kind`, and its plan index. Each opens once: one writer.
    [[nodiscard]] Result<std::pair<detail::ProducerContext, std::size_t>, ChannelError> open_context(
        std::string_view name, ChannelKind kind) {
        State& s = *state_;
        for (std::size_t i = 0; i < s.plan.channels.size(); ++i) {
            const ChannelEntry& e = s.plan.channels[i].entry;
            if (detail::entry_name(e) != name) continue;
            if (e.kind != static_cast<std::uint32_t>(kind)) return ChannelError::wrong_kind;
            if (s.opened[i]) return ChannelError::already_open;  // one writer per channel
            s.opened[i] = true;
            return std::pair{detail::ProducerContext{s.region.data() + e.offset, e, &s.roster, s.max_consumers,
                                                     s.options.write_combining, s.init_count,
                                                     s.options.frame_lease_limit},
                             i};
        }
        return ChannelError::not_found;
    }

    [[nodiscard]] Result<ByteRingProducer, ChannelError> open_ring(std::string_view name, std::size_t typed_size) {
        auto ctx = open_context(name, ChannelKind::ring);
        if (!ctx) return ctx.error();
        const ChannelEntry& e = ctx->first.entry;
        if (typed_size != 0 && e.element_size != typed_size) {
            state_->opened[ctx->second] = false;
            return ChannelError::wrong_element;
        }
        const auto g = detail::ring_geometry(e.capacity, e.element_size, state_->max_consumers);
        const auto& spec = std::get<RingSpec>(state_->plan.channels[ctx->second].spec);
        return ByteRingProducer(detail::ring_view(state_->region.data(), e, *g), &state_->roster,
                                state_->options.write_combining, spec.initial_position);
    }

    std::unique_ptr<State> state_;
};

struct ConsumerOptions {
    // A producer whose heartbeat has not moved this long (on our clock) is reported stale.
    std::chrono::milliseconds producer_timeout{1000};
    // How often tick() bumps our heartbeat. Must be well under the region's consumer timeout.
    std::chrono::milliseconds heartbeat_period{10};
};

enum class SessionStatus {
    ok,
    producer_stale,    // the producer heartbeat stopped: it is hung or dead
    producer_closed,   // the producer shut down cleanly
    epoch_changed,     // the producer re-initialised the region: attach again
    slot_lost,         // the producer reaped us (we were silent too long): attach again
};

[[nodiscard]] constexpr std::string_view describe(SessionStatus s) noexcept {
    switch (s) {
        case SessionStatus::ok: return "ok";
        case SessionStatus::producer_stale: return "producer heartbeat stopped";
        case SessionStatus::producer_closed: return "producer closed the region";
        case SessionStatus::epoch_changed: return "producer re-initialised the region";
        case SessionStatus::slot_lost: return "consumer slot was reaped";
    }
    return "unknown";
}

class ConsumerSession {
public:
    [[nodiscard]] static Result<ConsumerSession, AttachError> attach(std::span<std::byte> region,
                                                                     ConsumerOptions options = {}) {
        if (region.size() < sizeof(RegionHeader)) return AttachError::region_too_small;
        if (!detail::region_pointer_ok(region)) return AttachError::invalid_layout;
        const auto* header = reinterpret_cast<const RegionHeader*>(region.data());
        constexpr int kAttempts = 4;
        for (int attempt = 0; attempt < kAttempts; ++attempt) {
            // Pairs with the producer's release stores at the end of initialisation.
            if (detail::load_acquire(header->magic) != kRegionMagic) return AttachError::bad_magic;
            if (detail::load_acquire(header->producer_state) != static_cast<std::uint32_t>(ProducerState::ready)) {
                return AttachError::not_ready;
            }
            const std::uint64_t epoch = detail::load_acquire(header->epoch);
            if (epoch == 0) return AttachError::not_ready;
            auto checked = detail::check_region(region);
            // Orders the relaxed copy before the epoch re-loads below (seqlock-style reader).
            std::atomic_thread_fence(std::memory_order_acquire);
            if (!checked) {
                if (detail::load_acquire(header->epoch) != epoch) continue;  // torn by a re-init
                return checked.error();
            }
            if (checked->header.epoch != epoch) continue;
            auto state = std::make_unique<State>(region, std::move(checked.value()), options);
            if (!state->claim_slot()) return AttachError::no_free_slot;
            // Re-check: a producer that re-initialised while we claimed has released our slot.
            if (detail::load_acquire(header->epoch) == epoch &&
                detail::load_acquire(header->producer_state) == static_cast<std::uint32_t>(ProducerState::ready)) {
                return ConsumerSession(std::move(state));
            }
            state->release_slot();
        }
        return AttachError::epoch_changed;
    }

    ConsumerSession(ConsumerSession&&) noexcept = default;
    ConsumerSession& operator=(ConsumerSession&& other) noexcept {
        if (this != &other) {
            detach();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    ~ConsumerSession() { detach(); }

    // Heartbeat and health check. Anything but `ok` means: drop the channel handles, detach,
    // and attach again (the ok path costs a few loads of rarely-written lines).
    [[nodiscard]] SessionStatus tick() noexcept { return tick(Clock::now()); }
    [[nodiscard]] SessionStatus tick(Clock::time_point now) noexcept {
        State& s = *state_;
        ConsumerSlot& slot = s.slot();
        // The producer's state first: a re-initialisation also releases our slot, and
        // "epoch changed" is the more useful answer then.
        const auto* header = s.header();
        const auto state = detail::load_acquire(header->producer_state);  // pairs with producer's release
        if (state == static_cast<std::uint32_t>(ProducerState::closed)) return SessionStatus::producer_closed;
        if (state != static_cast<std::uint32_t>(ProducerState::ready) ||
            detail::load_acquire(header->epoch) != s.checked.header.epoch) {
            return SessionStatus::epoch_changed;
        }
        if (!detail::claim_holds_slot(slot, s.claim)) return SessionStatus::slot_lost;
        if (now - s.last_beat >= s.options.heartbeat_period) {
            s.last_beat = now;
            s.holder().keep_alive();  // the same word channel handles move on every call
        }
        const std::uint64_t beat = detail::load_acquire(header->producer_heartbeat);  // pairs with tick's release
        if (beat != s.producer_beat) {
            s.producer_beat = beat;
            s.producer_moved_at = now;
        } else if (now - s.producer_moved_at > s.options.producer_timeout) {
            return SessionStatus::producer_stale;
        }
        return SessionStatus::ok;
    }

    // True while the producer is ready under the epoch we attached to and we still hold our
    // slot. Only atomic loads: safe to call from any thread holding a channel handle, which
    // should stop using it once this turns false (tick() then says why).
    [[nodiscard]] bool still_current() const noexcept {
        // If what the caller just read came from a new layout (or a reused buffer), this fence
        // makes the producer's earlier `initialising`/epoch stores (or the reap) visible below.
        std::atomic_thread_fence(std::memory_order_acquire);
        const State& s = *state_;
        const auto* header = s.header();
        return detail::load_acquire(header->producer_state) == static_cast<std::uint32_t>(ProducerState::ready) &&
               detail::load_acquire(header->epoch) == s.checked.header.epoch && s.holds_slot();
    }

    // The producer's heartbeat counter as it is now (pairs with the producer tick's release).
    // Only its changes mean anything; tick() judges staleness.
    [[nodiscard]] std::uint64_t producer_heartbeat() const noexcept {
        return detail::load_acquire(state_->header()->producer_heartbeat);
    }

    // Releases the slot. Idempotent; also done by the destructor.
    void detach() noexcept {
        if (state_ && !state_->released) state_->release_slot();
    }

    [[nodiscard]] Result<ByteRingConsumer, ChannelError> byte_ring(std::string_view name) { return open_ring(name, 0); }

    template <class T>
    [[nodiscard]] Result<RingConsumer<T>, ChannelError> ring(std::string_view name) {
        auto bytes = open_ring(name, sizeof(T));
        if (!bytes) return bytes.error();
        return RingConsumer<T>(std::move(bytes.value()));
    }

    [[nodiscard]] Result<FrameConsumer, ChannelError> frames(std::string_view name) {
        auto ctx = open_context(name, ChannelKind::frames, sizeof(FrameControl));
        if (!ctx) return ctx.error();
        FrameControl c{};
        detail::copy_from_shared(reinterpret_cast<std::byte*>(&c), ctx->channel, sizeof(c));
        const auto g = detail::frame_geometry(c.buffer_count, c.max_width, c.max_height, c.max_bytes_per_pixel,
                                              c.ring_capacity, state_->checked.header.max_consumers);
        bool ok = g && g->total_size == ctx->entry.size && c.buffer_count == ctx->entry.capacity &&
                  c.buffer_size == g->buffer_size && c.buffers_offset == g->buffers_offset &&
                  c.states_offset == g->states_offset && c.leases_offset == g->leases_offset &&
                  c.ring_offset == g->ring_offset && c.ring_size == g->ring_size && c.cursor_count == g->cursor_count;
        if (ok) {  // the embedded descriptor ring, checked like any ring
            RingControl ring{};
            detail::copy_from_shared(reinterpret_cast<std::byte*>(&ring), ctx->channel + g->ring_offset,
                                     offsetof(RingControl, write_pos));
            ChannelEntry as_ring{};
            as_ring.flags = ctx->entry.flags;
            as_ring.size = g->ring_size;
            as_ring.element_size = sizeof(FrameDescriptor);
            as_ring.capacity = g->ring_capacity;
            as_ring.policy = static_cast<std::uint32_t>(RingPolicy::overwrite);
            ok = detail::check_ring(as_ring, ring, g->cursor_count).has_value();
        }
        if (!ok) return close_context(*ctx, ChannelError::invalid_layout);
        return FrameConsumer(*ctx, *g, c.host_id);
    }
    [[nodiscard]] Result<CursorShapeConsumer, ChannelError> cursor_shape(std::string_view name) {
        auto ctx = open_context(name, ChannelKind::cursor_shape, sizeof(CursorShapeControl));
        if (!ctx) return ctx.error();
        CursorShapeControl c{};
        detail::copy_from_shared(reinterpret_cast<std::byte*>(&c), ctx->channel, offsetof(CursorShapeControl, seq));
        const auto g = detail::cursor_shape_geometry(c.max_dimension);
        if (!g || g->total_size != ctx->entry.size || c.capacity != g->capacity || c.data_offset != g->data_offset) {
            return close_context(*ctx, ChannelError::invalid_layout);
        }
        ctx->open_flag = nullptr;  // a reader writes nothing shared: it may be opened again
        state_->opened[ctx->index] = 0;
        return CursorShapeConsumer(*ctx, *g);
    }
    [[nodiscard]] Result<CursorPositionConsumer, ChannelError> cursor_position(std::string_view name) {
        auto ctx = open_context(name, ChannelKind::cursor_position, sizeof(CursorPositionControl));
        if (!ctx) return ctx.error();
        if (ctx->entry.size != detail::kCursorPositionSize) return close_context(*ctx, ChannelError::invalid_layout);
        // Opened once per session, like a ring: its waits announce the slot's one sleeper bit,
        // which a second handle would clear under the first.
        return CursorPositionConsumer(*ctx);
    }
    [[nodiscard]] Result<ControlSender, ChannelError> control(std::string_view name) {
        auto ctx = open_context(name, ChannelKind::control, sizeof(ControlChannelControl));
        if (!ctx) return ctx.error();
        ControlChannelControl c{};
        detail::copy_from_shared(reinterpret_cast<std::byte*>(&c), ctx->channel, sizeof(c));
        const auto g = detail::control_geometry(c.capacity, c.element_size, state_->checked.header.max_consumers);
        if (!g || g->total_size != ctx->entry.size || c.cursor_count != g->cursor_count ||
            c.slot_stride != g->slot_stride || c.rings_offset != g->rings_offset || c.ring_size != g->ring_size ||
            c.capacity != ctx->entry.capacity || c.element_size != ctx->entry.element_size) {
            return close_context(*ctx, ChannelError::invalid_layout);
        }
        return ControlSender(*ctx, *g);
    }

    [[nodiscard]] std::uint32_t slot_index() const noexcept { return state_->index; }
    // The producer runs on our kernel: futex wake-ups reach us and its clock is ours. False
    // across a VM boundary, and where either side cannot tell (protocol 1.2, producer_host_id).
    [[nodiscard]] bool producer_shares_kernel() const { return detail::same_kernel(state_->checked.header.producer_host_id); }
    [[nodiscard]] std::uint64_t epoch() const noexcept { return state_->checked.header.epoch; }
    [[nodiscard]] const RegionHeader& header_copy() const noexcept { return state_->checked.header; }
    [[nodiscard]] const std::vector<ChannelEntry>& channels() const noexcept { return state_->checked.channels; }

private:
    struct State {
        State(std::span<std::byte> r, detail::CheckedRegion c, ConsumerOptions o)
            : region(r), checked(std::move(c)), options(o), last_beat(Clock::now()), producer_moved_at(last_beat) {}

        [[nodiscard]] const RegionHeader* header() const noexcept {
            return reinterpret_cast<const RegionHeader*>(region.data());
        }
        [[nodiscard]] ConsumerSlot& slot() const noexcept { return slot_at(index); }
        [[nodiscard]] ConsumerSlot& slot_at(std::uint32_t i) const noexcept {
            return reinterpret_cast<ConsumerSlot*>(region.data() + checked.header.slot_table_offset)[i];
        }

        // Consumers compare-exchange `claim` among themselves; the producer never writes it
        // (it answers through reaped_claim). Only within our side's range (claimable_slots),
        // so the RMW never races with a CPU on the other side of a VM boundary.
        [[nodiscard]] bool claim_slot() noexcept {
            const auto range = detail::claimable_slots(checked.header, detail::host_id());
            for (std::uint32_t i = range.first; i < range.end; ++i) {
                ConsumerSlot& s = slot_at(i);
                std::uint64_t seen = detail::load_acquire(s.claim);
                std::uint64_t next;
                if (!detail::claim_held(seen)) {
                    next = seen + 1;
                } else if (detail::load_acquire(s.reaped_claim) == seen) {  // pairs with the roster's reap
                    next = seen + 2;
                } else {
                    continue;
                }
                if (!std::atomic_ref<std::uint64_t>(s.claim).compare_exchange_strong(seen, next,
                                                                                      std::memory_order_acq_rel)) {
                    continue;
                }
                index = i;
                claim = next;
                producer_beat = detail::load_acquire(header()->producer_heartbeat);
                detail::store_relaxed(s.pid, detail::current_pid());
                detail::store_relaxed(s.host_id, detail::host_id());
                detail::store_relaxed(s.features, detail::register_for_light_fences() ? kConsumerFeatureHeavyFence : 0u);
                detail::store_relaxed(s.features_claim, next);
                detail::store_relaxed(s.attach_epoch, checked.header.epoch);
                detail::store_relaxed(s.heartbeat, detail::load_relaxed(s.heartbeat) + 1);  // a new holder: the roster restarts its clock anyway
                // The roster reads state (acquire), then attach_epoch.
                detail::store_release(s.state, static_cast<std::uint32_t>(ConsumerState::attached));
                return true;
            }
            return false;
        }

        [[nodiscard]] bool holds_slot() const noexcept { return detail::claim_holds_slot(slot(), claim); }
        [[nodiscard]] detail::SlotHolder holder() const noexcept {
            const bool shares_kernel = detail::same_kernel(checked.header.producer_host_id);
            return detail::SlotHolder{&slot(), header(), index, claim, checked.header.epoch, shares_kernel,
                                      shares_kernel && (checked.header.flags & kRegionFlagAsymmetricWake) != 0 &&
                                          detail::register_for_light_fences(),
                                      checked.header.version_minor};
        }

        void release_slot() noexcept {
            released = true;
            // After a re-initialisation the producer has reaped us, and our slot's address may
            // lie in another structure of a new layout: write nothing there.
            if (detail::load_acquire(header()->epoch) != checked.header.epoch) return;  // pairs with init's release
            // Consumer-only word (see claim_slot). Fails harmlessly if the slot was reaped and
            // claimed again by another consumer.
            std::uint64_t expected = claim;
            (void)std::atomic_ref<std::uint64_t>(slot().claim).compare_exchange_strong(expected, claim + 1,
                                                                                       std::memory_order_acq_rel);
        }

        std::span<std::byte> region;
        detail::CheckedRegion checked;
        ConsumerOptions options;
        std::uint32_t index = 0;
        std::uint64_t claim = 0;
        std::uint64_t producer_beat = 0;
        Clock::time_point last_beat;
        Clock::time_point producer_moved_at;
        bool released = false;
        std::vector<std::uint8_t> opened = std::vector<std::uint8_t>(checked.channels.size(), 0);  // fixed size
    };

    explicit ConsumerSession(std::unique_ptr<State> s) noexcept : state_(std::move(s)) {}

    struct OpenContext : detail::ConsumerContext {
        std::size_t index;  // in the channel table
    };

    // Finds a channel of `kind` at least `min_size` bytes long (its range inside the region was
    // validated at attach) and marks it open on this session.
    [[nodiscard]] Result<OpenContext, ChannelError> open_context(std::string_view name, ChannelKind kind,
                                                                 std::uint64_t min_size) {
        State& s = *state_;
        const ChannelEntry* e = detail::find_entry(s.checked.channels, name);
        if (e == nullptr) return ChannelError::not_found;
        if (e->kind != static_cast<std::uint32_t>(kind)) return ChannelError::wrong_kind;
        if (s.released || !s.holds_slot()) return ChannelError::not_attached;
        if (e->size < min_size) return ChannelError::invalid_layout;
        const auto index = static_cast<std::size_t>(e - s.checked.channels.data());
        if (s.opened[index]) return ChannelError::already_open;
        s.opened[index] = 1;
        OpenContext ctx{};
        ctx.channel = s.region.data() + e->offset;
        ctx.entry = *e;
        ctx.holder = s.holder();
        ctx.max_consumers = s.checked.header.max_consumers;
        ctx.open_flag = &s.opened[index];
        ctx.index = index;
        return ctx;
    }

    [[nodiscard]] ChannelError close_context(const OpenContext& ctx, ChannelError error) noexcept {
        state_->opened[ctx.index] = 0;
        return error;
    }

    [[nodiscard]] Result<ByteRingConsumer, ChannelError> open_ring(std::string_view name, std::size_t typed_size) {
        auto ctx = open_context(name, ChannelKind::ring, sizeof(RingControl));
        if (!ctx) return ctx.error();
        const ChannelEntry& e = ctx->entry;
        const std::uint32_t n = state_->checked.header.max_consumers;
        // The entry's size must match the formula before a single byte of the channel is read.
        const auto expected = detail::ring_geometry(e.capacity, e.element_size, n);
        if (!expected || expected->total_size != e.size) return close_context(*ctx, ChannelError::invalid_layout);
        RingControl control{};
        detail::copy_from_shared(reinterpret_cast<std::byte*>(&control), ctx->channel, offsetof(RingControl, write_pos));
        const auto g = detail::check_ring(e, control, n);
        if (!g) return close_context(*ctx, ChannelError::invalid_layout);
        if (typed_size != 0 && e.element_size != typed_size) return close_context(*ctx, ChannelError::wrong_element);
        return ByteRingConsumer(detail::ring_view(state_->region.data(), e, *g), ctx->holder, ctx->open_flag);
    }

    std::unique_ptr<State> state_;
};

}  // namespace pane
