// SPDX-License-Identifier: MIT
// The control channel: one ring per consumer slot, from that consumer to the producer (set
// cursor position, window size, full-frame request, application messages). Each ring has one
// writer (its consumer: claim, write_pos, slots) and one reader (the producer: read_pos and
// counters), so no lock or read-modify-write is shared between consumers or across the VM
// boundary. A consumer never overwrites what the producer has not read (it gets `full`). The
// producer validates every message (type, size) before handing it out, and counts rejects.
//
// Memory ordering: K1 consumer store_release(slot.seq) / producer load_acquire (the ring's S1);
// K2 consumer store_release(write_pos) <-> producer load_acquire(write_pos); K3 producer
// store_release(read_pos) after its copy-out <-> consumer load_acquire(read_pos) before reusing
// a slot; K4 consumer store_release(claim) after initialising its slots <-> producer load_acquire.
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "detail/atomic.hpp"
#include "detail/bounds.hpp"
#include "detail/channel_context.hpp"
#include "detail/display_geometry.hpp"
#include "detail/schedule_point.hpp"
#include "display_layout.hpp"
#include "ring.hpp"

namespace pane {

enum class ControlStatus {
    ok,
    full,           // sender: the producer has not read enough yet
    too_large,      // sender: the message does not fit the channel's element size
    not_attached,   // sender: the handle is not open (moved from, or opened on a lost slot)
    empty,          // receiver: no valid message waiting
    epoch_changed,  // sender: the producer re-initialised the region (perhaps with another
                    // layout: this ring may no longer exist): drop the handle, attach again
    slot_lost,      // sender: our slot was reaped (or detached): drop the handle, attach again
};

struct ControlMessage {
    std::uint32_t consumer = 0;  // slot index of the sender
    ControlType type = ControlType::full_frame_request;
    std::uint32_t app_type = 0;
    ControlCursorPosition cursor{};  // for set_cursor_position
    ControlWindowSize window{};      // for window_size
    std::span<const std::byte> body{};  // application bytes; valid until the next try_receive
};

namespace detail {

struct ControlView {
    ControlChannelControl* control;
    std::byte* rings;
    ControlGeometry geometry;

    [[nodiscard]] ControlRingControl& ring(std::uint32_t i) const noexcept {
        return *reinterpret_cast<ControlRingControl*>(rings + std::uint64_t{i} * geometry.ring_size);
    }
    [[nodiscard]] RingSlotHeader& slot(std::uint32_t i, std::uint64_t position) const noexcept {
        auto* base = reinterpret_cast<std::byte*>(&ring(i)) + sizeof(ControlRingControl);
        return *reinterpret_cast<RingSlotHeader*>(base + (position & (geometry.capacity - 1)) * geometry.slot_stride);
    }
};

[[nodiscard]] inline ControlView control_view(std::byte* channel, const ControlGeometry& g) noexcept {
    return {reinterpret_cast<ControlChannelControl*>(channel), channel + g.rings_offset, g};
}

inline void init_control(std::byte* channel, const ControlGeometry& g) noexcept {
    ControlChannelControl fresh{};
    fresh.cursor_count = g.cursor_count;
    fresh.capacity = g.capacity;
    fresh.element_size = g.element_size;
    fresh.slot_stride = g.slot_stride;
    fresh.rings_offset = g.rings_offset;
    fresh.ring_size = g.ring_size;
    copy_to_shared(channel, reinterpret_cast<const std::byte*>(&fresh), sizeof(fresh));
    const ControlView v = control_view(channel, g);
    for (std::uint32_t i = 0; i < g.cursor_count; ++i) {
        ControlRingControl& r = v.ring(i);
        // The sender's line too, like init_ring's cursors: no claim survives a re-initialisation.
        store_relaxed(r.claim, std::uint64_t{0});
        store_relaxed(r.write_pos, std::uint64_t{0});
        store_relaxed(r.read_pos, std::uint64_t{0});
        store_relaxed(r.accepted, std::uint64_t{0});
        store_relaxed(r.rejected, std::uint64_t{0});
    }
}

// The size rule per message type (the 8-byte ControlMessageHeader included in `length`).
[[nodiscard]] inline bool control_message_valid(const ControlMessageHeader& h, std::uint32_t length) noexcept {
    const std::uint32_t body = length - static_cast<std::uint32_t>(sizeof(ControlMessageHeader));
    switch (static_cast<ControlType>(h.type)) {
        case ControlType::set_cursor_position: return body == sizeof(ControlCursorPosition) && h.app_type == 0;
        case ControlType::window_size: return body == sizeof(ControlWindowSize) && h.app_type == 0;
        case ControlType::full_frame_request: return body == 0 && h.app_type == 0;
        case ControlType::application: return true;  // any body up to the element size
    }
    return false;
}

}  // namespace detail

// Consumer end: sends control messages to the producer. \pre one thread at a time.
class ControlSender {
public:
    ControlSender() = default;
    ControlSender(const detail::ConsumerContext& ctx, const detail::ControlGeometry& g) noexcept
        : view_(detail::control_view(ctx.channel, g)), holder_(ctx.holder), open_flag_(ctx.open_flag) {
        if (!holder_.holds()) return;
        ControlRingControl& r = view_.ring(holder_.index);
        // Continue where the producer reads; make every slot look complete for the lap before.
        PANE_SCHEDULE_POINT("control.open.read_pos");
        position_ = detail::load_acquire(r.read_pos);  // K3
        for (std::uint64_t p = position_; p != position_ + g.capacity; ++p) {
            RingSlotHeader& slot = view_.slot(holder_.index, p);
            detail::store_relaxed(slot.length, std::uint32_t{0});
            detail::store_relaxed(slot.seq, detail::seq_complete(p - g.capacity));
        }
        detail::store_relaxed(r.write_pos, position_);
        PANE_SCHEDULE_POINT("control.open.claim");
        detail::store_release(r.claim, holder_.claim);  // K4
        open_ = true;
    }
    ControlSender(ControlSender&& o) noexcept { *this = std::move(o); }
    ControlSender& operator=(ControlSender&& o) noexcept {
        if (this != &o) {
            close();
            view_ = o.view_;
            holder_ = o.holder_;
            open_flag_ = std::exchange(o.open_flag_, nullptr);
            position_ = o.position_;
            open_ = std::exchange(o.open_, false);
            lost_ = o.lost_;
        }
        return *this;
    }
    ControlSender(const ControlSender&) = delete;
    ControlSender& operator=(const ControlSender&) = delete;
    ~ControlSender() { close(); }

    [[nodiscard]] ControlStatus send_cursor_position(std::int32_t x, std::int32_t y) noexcept {
        const ControlCursorPosition body{x, y};
        return send(ControlType::set_cursor_position, 0, {reinterpret_cast<const std::byte*>(&body), sizeof(body)});
    }
    [[nodiscard]] ControlStatus send_window_size(std::uint32_t width, std::uint32_t height) noexcept {
        const ControlWindowSize body{width, height};
        return send(ControlType::window_size, 0, {reinterpret_cast<const std::byte*>(&body), sizeof(body)});
    }
    [[nodiscard]] ControlStatus request_full_frame() noexcept { return send(ControlType::full_frame_request, 0, {}); }
    [[nodiscard]] ControlStatus send_application(std::uint32_t app_type, std::span<const std::byte> body) noexcept {
        return send(ControlType::application, app_type, body);
    }

    // The raw form: any type (the producer rejects what breaks the rules). Wait-free.
    [[nodiscard]] ControlStatus send(ControlType type, std::uint32_t app_type, std::span<const std::byte> body) noexcept {
        if (lost_ != ControlStatus::ok) return lost_;  // inert: says the same from then on
        if (!open_) return ControlStatus::not_attached;
        // Before any write: our ring is ours only while we hold the slot in this epoch.
        if (const auto s = holder_.check_in(); s != detail::Standing::current) {
            open_ = false;
            if (open_flag_ != nullptr) *std::exchange(open_flag_, nullptr) = 0;
            lost_ = s == detail::Standing::epoch_changed ? ControlStatus::epoch_changed : ControlStatus::slot_lost;
            return lost_;
        }
        const std::uint64_t length = sizeof(ControlMessageHeader) + std::uint64_t{body.size()};
        if (length > view_.geometry.element_size) return ControlStatus::too_large;
        ControlRingControl& r = view_.ring(holder_.index);
        if (position_ - detail::load_acquire(r.read_pos) >= view_.geometry.capacity) return ControlStatus::full;  // K3
        scratch_.resize(static_cast<std::size_t>(length));
        const ControlMessageHeader h{static_cast<std::uint32_t>(type), app_type};
        std::memcpy(scratch_.data(), &h, sizeof(h));
        if (!body.empty()) std::memcpy(scratch_.data() + sizeof(h), body.data(), body.size());
        detail::write_slot(view_.slot(holder_.index, position_), position_, scratch_, false);  // K1
        ++position_;
        detail::store_release(r.write_pos, position_);  // K2
        return ControlStatus::ok;
    }

private:
    void close() noexcept {
        PANE_SCHEDULE_POINT("control.close.claim");
        if (open_ && holder_.holds()) detail::store_release(view_.ring(holder_.index).claim, std::uint64_t{0});
        open_ = false;
        if (open_flag_ != nullptr) *std::exchange(open_flag_, nullptr) = 0;
    }

    detail::ControlView view_{};
    detail::SlotHolder holder_{};
    std::uint8_t* open_flag_ = nullptr;
    std::uint64_t position_ = 0;
    bool open_ = false;
    ControlStatus lost_ = ControlStatus::ok;  // epoch_changed or slot_lost once the standing is gone
    std::vector<std::byte> scratch_;
};

// Producer end: receives and validates every consumer's control messages, round-robin so one
// busy consumer cannot starve the others. \pre only the region's producer, one thread at a time.
class ControlReceiver {
public:
    ControlReceiver() = default;
    ControlReceiver(const detail::ProducerContext& ctx, const detail::ControlGeometry& g)
        : view_(detail::control_view(ctx.channel, g)),
          roster_(ctx.roster),
          buffer_(g.element_size),
          rings_(g.cursor_count) {}  // read positions start where init_control laid them out: 0

    // The next valid message from any live consumer. Invalid messages are consumed and counted.
    [[nodiscard]] ControlStatus try_receive(ControlMessage& out) noexcept {
        const std::uint32_t count = view_.geometry.cursor_count;
        for (std::uint32_t step = 0; step < count; ++step) {
            const std::uint32_t i = (next_ + step) % count;
            if (receive_from(i, out)) {
                next_ = (i + 1) % count;
                return ControlStatus::ok;
            }
        }
        return ControlStatus::empty;
    }

    [[nodiscard]] std::uint64_t accepted() const noexcept { return accepted_; }
    [[nodiscard]] std::uint64_t rejected() const noexcept { return rejected_; }
    // Of the rejected: messages consumed a second time after a sender's step back, not delivered.
    [[nodiscard]] std::uint64_t replays_rejected() const noexcept { return replays_; }

private:
    struct PerRing {
        std::uint64_t read_pos = 0;
        std::uint64_t claim = 0;
        std::uint64_t accepted = 0;  // this ring's counts, mirrored into its shared words
        std::uint64_t rejected = 0;
        std::uint64_t last_digest = 0;  // of the last message consumed here (length and bytes)
        bool broken = false;
        bool received = false;  // a message was consumed under `claim`
        bool stepped_back = false;  // under `claim`: read_pos followed the sender one back
        std::uint64_t replay_guard = 0;  // after the step back: the position whose message we consumed
        std::uint64_t replay_digest = 0;  // ... and its digest: the same again is not delivered twice
    };

    // FNV-1a over the length and the bytes: tells a rewritten message from the one consumed.
    [[nodiscard]] static std::uint64_t digest(std::span<const std::byte> message) noexcept {
        std::uint64_t h = 14695981039346656037ull ^ message.size();
        h *= 1099511628211ull;
        for (const std::byte b : message) {
            h ^= static_cast<std::uint64_t>(b);
            h *= 1099511628211ull;
        }
        return h;
    }
    static constexpr int kMessagesPerVisit = 16;  // bounded work per ring per call

    bool receive_from(std::uint32_t i, ControlMessage& out) noexcept {
        ControlRingControl& r = view_.ring(i);
        PerRing& state = rings_[i];
        PANE_SCHEDULE_POINT("control.receive.claim");
        const std::uint64_t claim = detail::load_acquire(r.claim);  // K4
        if (claim == 0 || !roster_->holds(i, claim)) return false;
        if (claim != state.claim) {  // a new sender: it continues from our read position
            state.claim = claim;
            state.broken = false;
            state.received = false;
            state.stepped_back = false;
        }
        if (state.broken) return false;
        if (!state.received && !state.stepped_back && started_one_behind(i, state)) {
            // A new sender that opened at read_pos - 1 (it loaded our read position while we
            // consumed its predecessor's last message) and has already written its first
            // message there: write_pos alone no longer shows it (13.7 step 4.3 catches only a
            // sender that has not written yet). Follow it back once, as step 4.3 does.
            state.stepped_back = true;
            state.replay_guard = state.read_pos - 1;
            state.replay_digest = state.last_digest;
            state.read_pos -= 1;
            detail::store_release(r.read_pos, state.read_pos);  // K3
        }
        for (int visit = 0; visit < kMessagesPerVisit; ++visit) {
            PANE_SCHEDULE_POINT("control.receive.write_pos");
            const std::uint64_t written = detail::load_acquire(r.write_pos);  // K2
            const std::uint64_t pending = written - state.read_pos;
            if (pending == 0) return false;
            if (detail::position_diff(written, state.read_pos) < 0 &&
                detail::position_diff(state.read_pos, written) == 1) {
                // A sender that opened while we were consuming its predecessor's last message
                // started one behind us: follow it rather than call it a violation. Only once
                // per sender, before its first message (protocol 1.4, 13.7): a sender that could
                // move us back again and again would make us read old messages a second time.
                if (state.stepped_back || state.received) return violation(i);
                state.stepped_back = true;
                state.replay_guard = written;
                state.replay_digest = state.last_digest;
                state.read_pos = written;
                detail::store_release(r.read_pos, state.read_pos);  // K3
                return false;
            }
            if (pending > view_.geometry.capacity) return violation(i);  // more than it may have written
            std::uint32_t length = 0;
            const auto read = detail::read_slot(view_.slot(i, state.read_pos), state.read_pos, buffer_,
                                                view_.geometry.element_size, length);  // K1
            if (read == detail::SlotRead::empty || read == detail::SlotRead::torn) return false;  // not yet
            // The sender may have changed during the copy: a new sender's open lays out this
            // slot again and its first message takes the same sequence value, so the seqlock
            // alone cannot tell a copy mixing both senders' bytes. read_slot's acquire fence
            // orders the copy before this load; a copy that saw any byte the new sender wrote
            // (after its claim store, behind write_slot's release fence) sees its claim here.
            PANE_SCHEDULE_POINT("control.receive.recheck");
            if (detail::load_acquire(r.claim) != claim) return false;  // K4; its message is read under its claim
            if (read != detail::SlotRead::ready) return violation(i);  // lapped or impossible length
            const std::uint64_t position = state.read_pos;
            PANE_SCHEDULE_POINT("control.receive.advance");
            ++state.read_pos;
            detail::store_release(r.read_pos, state.read_pos);  // K3
            const auto message = std::span<const std::byte>(buffer_).first(length);
            const std::uint64_t d = digest(message);
            state.last_digest = d;
            state.received = true;
            if (state.stepped_back && position == state.replay_guard && d == state.replay_digest) {
                // The message we consumed at this position before the step back, left in place
                // rather than rewritten: consumed, counted as rejected, never delivered twice.
                // (An honest new sender's identical first message is dropped with it: it would
                // have repeated exactly what was delivered.)
                ++rejected_;
                ++replays_;
                detail::store_relaxed(r.rejected, ++state.rejected);
                continue;
            }
            ControlMessageHeader h{};
            if (length >= sizeof(h)) std::memcpy(&h, buffer_.data(), sizeof(h));
            if (length < sizeof(h) || !detail::control_message_valid(h, length)) {
                ++rejected_;
                detail::store_relaxed(r.rejected, ++state.rejected);
                continue;  // consumed and counted; look at the next one
            }
            ++accepted_;
            detail::store_relaxed(r.accepted, ++state.accepted);
            out = ControlMessage{};
            out.consumer = i;
            out.type = static_cast<ControlType>(h.type);
            out.app_type = h.app_type;
            out.body = std::span<const std::byte>(buffer_).subspan(sizeof(h), length - sizeof(h));
            if (out.type == ControlType::set_cursor_position) std::memcpy(&out.cursor, out.body.data(), sizeof(out.cursor));
            if (out.type == ControlType::window_size) std::memcpy(&out.window, out.body.data(), sizeof(out.window));
            return true;
        }
        return false;
    }

    // Whether ring i's slot at read_pos - 1 holds a complete message for that position that is
    // not the one we consumed there: a new sender's first message, written from one behind us.
    // A sender that opened at read_pos laid that slot out as complete with length 0 (the lap
    // before), and one that has not written yet left it incomplete: neither counts.
    [[nodiscard]] bool started_one_behind(std::uint32_t i, const PerRing& state) noexcept {
        const std::uint64_t p = state.read_pos - 1;
        std::uint32_t length = 0;
        PANE_SCHEDULE_POINT("control.receive.peek");
        if (detail::read_slot(view_.slot(i, p), p, buffer_, view_.geometry.element_size, length) != detail::SlotRead::ready) {
            return false;
        }
        return length != 0 && digest(std::span<const std::byte>(buffer_).first(length)) != state.last_digest;
    }

    // A sender that breaks the ring's rules is ignored until a new holder opens its ring.
    bool violation(std::uint32_t i) noexcept {
        rings_[i].broken = true;
        ++rejected_;
        detail::store_relaxed(view_.ring(i).rejected, ++rings_[i].rejected);
        return false;
    }

    detail::ControlView view_{};
    detail::ConsumerRoster* roster_ = nullptr;
    std::vector<std::byte> buffer_;
    std::vector<PerRing> rings_;
    std::uint32_t next_ = 0;
    std::uint64_t accepted_ = 0;
    std::uint64_t rejected_ = 0;
    std::uint64_t replays_ = 0;
};

}  // namespace pane
