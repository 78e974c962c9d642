// SPDX-License-Identifier: MIT
// The read-only inspection API (pane/inspect.hpp): a snapshot of a region with a live producer
// and consumer decodes every part with the values they published; each forged field gets its
// own verdict naming the field, without hiding the parts that are still valid, and without a
// read out of bounds (the asan pass runs this file); the snapshot never writes (a read-only
// mapping, and a byte-for-byte comparison).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <sys/mman.h>

#include <pane/inspect.hpp>

#include "catch.hpp"
#include "support.hpp"

using namespace pane;
using namespace std::chrono_literals;
namespace pi = pane::inspect;

namespace {

struct Msg {
    std::uint64_t a, b;
};

// A producer and one attached consumer on an in-process region with every channel kind, each
// with something published (a frame, a shape, a position, a control message, ring messages).
struct Live {
    Live() {
        spec.max_consumers = 4;
        spec.remote_consumer_slots = 0;
        spec.add(FrameSpec{"frames", 64, 32, 8, 3, 8});
        spec.add(CursorShapeSpec{"shape", 64});
        spec.add(CursorPositionSpec{"pos"});
        spec.add(ControlSpec{"control", 4, 64});
        spec.add(ring_of<Msg>("ring", 8, RingPolicy::lossless));
        region = pane_test::memory_region(spec);
        producer.emplace(std::move(ProducerSession::create(region.bytes(), spec).value()));
        consumer.emplace(std::move(ConsumerSession::attach(region.bytes()).value()));
        frames_tx = producer->frames("frames").value();
        frames_rx = consumer->frames("frames").value();
        shape_tx = producer->cursor_shape("shape").value();
        position_tx = producer->cursor_position("pos").value();
        control_rx = producer->control("control").value();
        control_tx = consumer->control("control").value();
        ring_tx = producer->ring<Msg>("ring").value();
        ring_rx = consumer->ring<Msg>("ring").value();
        producer->tick();  // the roster learns about the consumer

        REQUIRE(pane_test::publish_frame(frames_tx, 7) == FrameStatus::ok);
        const std::vector<std::byte> color(16 * 16 * 4, std::byte{0x55});
        REQUIRE(shape_tx.publish(CursorType::color, 16, 16, 64, 3, 4, color) == CursorStatus::ok);
        position_tx.publish(10, -20, true, 1);
        REQUIRE(control_tx.send_window_size(1280, 720) == ControlStatus::ok);
        for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(ring_tx.try_push(Msg{i, i}) == PushStatus::ok);
        Msg m{};
        REQUIRE(ring_rx.try_pop(m).status == PopStatus::ok);
    }
    [[nodiscard]] std::span<const std::byte> bytes() const { return region.bytes(); }
    [[nodiscard]] std::uint64_t offset(std::size_t channel) const { return producer->plan().channels[channel].entry.offset; }

    RegionSpec spec;
    map::Mapping region;
    std::optional<ProducerSession> producer;
    std::optional<ConsumerSession> consumer;
    FrameProducer frames_tx;
    FrameConsumer frames_rx;
    CursorShapeProducer shape_tx;
    CursorPositionProducer position_tx;
    ControlReceiver control_rx;
    ControlSender control_tx;
    RingProducer<Msg> ring_tx;
    RingConsumer<Msg> ring_rx;
};

// A private, 64-aligned copy of a region to forge fields in.
struct Copy {
    explicit Copy(std::span<const std::byte> from) : storage(from.size() + 64), size(from.size()) {
        auto at = reinterpret_cast<std::uintptr_t>(storage.data());
        base = storage.data() + (64 - at % 64) % 64;
        std::memcpy(base, from.data(), from.size());
    }
    std::byte* data() { return base; }
    [[nodiscard]] std::span<const std::byte> bytes() { return {base, size}; }
    RegionHeader& header() { return *reinterpret_cast<RegionHeader*>(base); }
    ChannelEntry& entry(std::size_t i) {
        return reinterpret_cast<ChannelEntry*>(base + header().channel_table_offset)[i];
    }
    template <class T>
    T& at(std::uint64_t offset) {
        return *reinterpret_cast<T*>(base + offset);
    }
    std::vector<std::byte> storage;
    std::size_t size;
    std::byte* base = nullptr;
};

template <class T>
const T& details(const pi::Snapshot& s, std::size_t channel) {
    REQUIRE(channel < s.channels.size());
    const auto* d = std::get_if<T>(&s.channels[channel].details);
    REQUIRE(d != nullptr);
    return *d;
}

}  // namespace

TEST_CASE("inspect: a live region decodes with the values its producer and consumer published", "[inspect]") {
    Live l;
    const auto s = pi::snapshot(l.bytes());
    REQUIRE(s.valid());
    CHECK(s.settled);
    CHECK_FALSE(s.header_error);
    CHECK(s.header_verdict.ok());
    CHECK(s.header.magic == kRegionMagic);
    CHECK(s.header.epoch == l.consumer->epoch());
    CHECK(s.mapped == l.bytes().size());
    REQUIRE(s.channels.size() == 5);
    CHECK(s.channels[0].name() == "frames");
    for (const auto& c : s.channels) CHECK(c.first_problem().ok());

    // The consumer's slot: held, live, on this kernel.
    REQUIRE(s.slots.size() == 4);
    const auto& slot = s.slots[l.consumer->slot_index()];
    CHECK(slot.held);
    CHECK(slot.live);
    CHECK_FALSE(slot.reaped);
    CHECK(slot.verdict.ok());
    for (std::size_t i = 0; i < s.slots.size(); ++i) {
        if (i != l.consumer->slot_index()) CHECK_FALSE(s.slots[i].held);
    }

    const auto& f = details<pi::FramesState>(s, 0);
    CHECK(f.verdict.ok());
    CHECK(f.buffers.size() == 3);
    REQUIRE(f.newest_state == pi::NewestFrame::ok);
    CHECK(f.descriptor.ok());
    CHECK(f.newest.serial == detail::first_serial(1) + 1);
    CHECK(f.newest.width == 16);
    CHECK(f.same_host);
    CHECK(f.newest_age.has_value());
    CHECK(pi::claim_status(f.leases[l.consumer->slot_index()].claim, slot.slot) == pi::ClaimStatus::current);

    const auto& shape = details<pi::CursorShapeState>(s, 1);
    REQUIRE(pi::seqlock_state(shape.seq) == pi::SeqlockState::ok);
    CHECK(shape.header.width == 16);
    CHECK(shape.header.hotspot_x == 3);
    CHECK(shape.shape.ok());

    const auto& pos = details<pi::CursorPositionState>(s, 2);
    REQUIRE(pi::seqlock_state(pos.seq) == pi::SeqlockState::ok);
    CHECK(pos.x == 10);
    CHECK(pos.y == -20);
    CHECK(pos.visible == 1);
    CHECK(pos.position.ok());

    const auto& control = details<pi::ControlState>(s, 3);
    const auto& mine = control.rings[l.consumer->slot_index()];
    CHECK(mine.write_pos - mine.read_pos == 1);  // one message sent, none received yet

    const auto& ring = details<pi::RingState>(s, 4);
    CHECK(ring.control.write_pos - ring.control.initial_position == 3);
    const auto& cursor = ring.cursors[l.consumer->slot_index()];
    CHECK(ring.control.write_pos - cursor.read_pos == 2);  // three pushed, one popped
    CHECK(pi::claim_status(cursor.claim, slot.slot) == pi::ClaimStatus::current);
}

TEST_CASE("inspect: the liveness tracker measures heartbeats on our clock, across snapshots", "[inspect]") {
    Live l;
    pi::LivenessTracker tracker;
    const auto t0 = Clock::now();
    const auto first = tracker.update(pi::snapshot(l.bytes()), t0);
    CHECK_FALSE(first.producer_rate);  // one snapshot: nothing to compare
    CHECK_FALSE(first.producer_moved);
    const auto slot = l.consumer->slot_index();
    // Move both heartbeats: each tick beats when its period has passed on its clock (the
    // consumer's first, so the producer's roster sees it alive).
    const auto later = Clock::now() + 500ms;
    REQUIRE(l.consumer->tick(later) == SessionStatus::ok);
    l.producer->tick(later);
    const auto second = tracker.update(pi::snapshot(l.bytes()), t0 + 1s);
    REQUIRE(second.producer_rate);
    CHECK(*second.producer_rate > 0);
    CHECK(second.producer_moved);
    CHECK(second.producer_age == Clock::duration::zero());
    CHECK(second.slots[slot].moved);
    // Nothing moves: the ages grow with our clock.
    const auto third = tracker.update(pi::snapshot(l.bytes()), t0 + 3s);
    CHECK(third.producer_age == 2s);
    CHECK(third.slots[slot].age == 2s);
}

TEST_CASE("inspect: the snapshot never writes (read-only mapping, unchanged bytes)", "[inspect]") {
    Live l;
    const std::size_t page = 4096;
    const std::size_t size = (l.bytes().size() + page - 1) / page * page;
    void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mem != MAP_FAILED);
    std::memcpy(mem, l.bytes().data(), l.bytes().size());
    const std::vector<std::byte> before(static_cast<std::byte*>(mem), static_cast<std::byte*>(mem) + size);
    REQUIRE(::mprotect(mem, size, PROT_READ) == 0);  // a store would now be SIGSEGV
    const auto s = pi::snapshot({static_cast<const std::byte*>(mem), l.bytes().size()});
    CHECK(s.valid());
    CHECK(s.channels.size() == 5);
    CHECK(std::memcmp(before.data(), mem, size) == 0);
    ::munmap(mem, size);

    // And on the live region: the snapshot leaves every byte as it was.
    const std::vector<std::byte> live_before(l.bytes().begin(), l.bytes().end());
    (void)pi::snapshot(l.bytes());
    CHECK(std::equal(live_before.begin(), live_before.end(), l.bytes().begin()));
}

TEST_CASE("inspect: forged header fields get attach's verdict and name the field", "[inspect]") {
    Live l;
    struct Case {
        const char* what;
        void (*forge)(RegionHeader&, std::uint64_t size);
        AttachError attach;
        InspectError error;
        std::string_view field;
    };
    const Case cases[] = {
        {"bad magic", [](RegionHeader& h, std::uint64_t) { h.magic = 0x1234; }, AttachError::bad_magic,
         InspectError::bad_magic, "magic"},
        {"major version", [](RegionHeader& h, std::uint64_t) { h.version_major = kVersionMajor + 1; },
         AttachError::unsupported_version, InspectError::unsupported_version, "version_major"},
        {"region larger than the mapping", [](RegionHeader& h, std::uint64_t size) { h.region_size = size + 64; },
         AttachError::region_too_small, InspectError::region_too_small, "region_size"},
        {"no consumer slots", [](RegionHeader& h, std::uint64_t) { h.max_consumers = 0; }, AttachError::invalid_layout,
         InspectError::too_small, "max_consumers"},
        {"too many consumer slots", [](RegionHeader& h, std::uint64_t) { h.max_consumers = kMaxConsumers + 1; },
         AttachError::invalid_layout, InspectError::too_large, "max_consumers"},
        {"slot table out of range", [](RegionHeader& h, std::uint64_t) { h.slot_table_offset = h.region_size - 64; },
         AttachError::invalid_layout, InspectError::past_region, "slot_table_offset"},
        {"misaligned channel table", [](RegionHeader& h, std::uint64_t) { h.channel_table_offset += 8; },
         AttachError::invalid_layout, InspectError::misaligned, "channel_table_offset"},
        {"channel count above capacity", [](RegionHeader& h, std::uint64_t) { h.channel_count = h.channel_table_capacity + 1; },
         AttachError::invalid_layout, InspectError::too_large, "channel_count"},
        {"slot size", [](RegionHeader& h, std::uint64_t) { h.slot_size = 64; }, AttachError::invalid_layout,
         InspectError::mismatch, "slot_size"},
        {"zero heartbeat period", [](RegionHeader& h, std::uint64_t) { h.heartbeat_period_ms = 0; },
         AttachError::invalid_layout, InspectError::too_small, "heartbeat_period_ms"},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        Copy copy(l.bytes());
        c.forge(copy.header(), copy.size);
        const auto s = pi::snapshot(copy.bytes());
        REQUIRE(s.header_error);
        CHECK(*s.header_error == c.attach);
        CHECK(s.header_verdict.error == c.error);
        CHECK(s.header_verdict.field == c.field);
        CHECK_FALSE(s.valid());
        CHECK(s.channels.empty());  // nothing read beyond a header that failed
        CHECK(s.slots.empty());
        // The verdict is the one attach gives.
        CHECK(ConsumerSession::attach({copy.data(), copy.size}).error() == c.attach);
    }
}

TEST_CASE("inspect: a mapping too small or misaligned for a header reads nothing", "[inspect]") {
    Live l;
    const auto small = pi::snapshot(l.bytes().first(100));
    CHECK(small.header_error == AttachError::region_too_small);
    CHECK(small.header_verdict.field == "mapping");
    const auto shifted = pi::snapshot(l.bytes().subspan(4));
    CHECK(shifted.header_error == AttachError::invalid_layout);
    CHECK(shifted.header_verdict.error == InspectError::misaligned);
    // The region's own size runs past a truncated mapping.
    const auto cut = pi::snapshot(l.bytes().first(l.bytes().size() - 4096));
    CHECK(cut.header_error == AttachError::region_too_small);
}

TEST_CASE("inspect: forged channel entries fail alone; the other channels still decode", "[inspect]") {
    Live l;
    SECTION("an entry past the region") {
        Copy copy(l.bytes());
        copy.entry(1).offset = copy.header().region_size;  // aligned, but runs past the end
        const auto s = pi::snapshot(copy.bytes());
        CHECK_FALSE(s.header_error);
        CHECK(s.channels[1].verdict.error == InspectError::past_region);
        CHECK(std::holds_alternative<std::monostate>(s.channels[1].details));  // never read
        CHECK(s.channels[0].first_problem().ok());
        CHECK(std::holds_alternative<pi::FramesState>(s.channels[0].details));
        CHECK(s.channels[2].first_problem().ok());
        CHECK_FALSE(s.valid());
    }
    SECTION("an entry overlapping another channel") {
        Copy copy(l.bytes());
        copy.entry(2).offset = copy.entry(1).offset;  // the position register inside the shape channel
        const auto s = pi::snapshot(copy.bytes());
        CHECK(s.channels[2].verdict.error == InspectError::overlaps);
        CHECK(s.channels[2].verdict.field == "channel");
        CHECK(s.channels[2].verdict.got == 1);
        CHECK(s.channels[1].first_problem().ok());
        CHECK_FALSE(s.valid());
    }
    SECTION("an entry overlapping the slot table") {
        Copy copy(l.bytes());
        copy.entry(2).offset = copy.header().slot_table_offset;
        const auto s = pi::snapshot(copy.bytes());
        CHECK(s.channels[2].verdict.error == InspectError::overlaps);
        CHECK(s.channels[2].verdict.field == "slot table");
    }
    SECTION("an entry inside a header that says it is larger (header_size), as attach judges it") {
        Copy copy(l.bytes());
        copy.header().header_size = static_cast<std::uint32_t>(copy.entry(0).offset + 64);
        const auto s = pi::snapshot(copy.bytes());
        CHECK(s.channels[0].verdict.error == InspectError::overlaps);
        CHECK(s.channels[0].verdict.field == "header");
        CHECK(detail::check_region(copy.bytes()).error() == AttachError::invalid_layout);
    }
    SECTION("a misaligned entry and a name without its NUL") {
        Copy copy(l.bytes());
        copy.entry(3).offset += 8;
        std::memset(copy.entry(4).name, 'x', kChannelNameBytes);
        const auto s = pi::snapshot(copy.bytes());
        CHECK(s.channels[3].verdict.error == InspectError::misaligned);
        CHECK(s.channels[4].verdict.error == InspectError::bad_name);
        CHECK(s.channels[0].first_problem().ok());
    }
}

TEST_CASE("inspect: forged channel state gets the channel's own verdict", "[inspect]") {
    Live l;
    SECTION("frames: FrameControl disagrees with the geometry") {
        Copy copy(l.bytes());
        copy.at<FrameControl>(l.offset(0)).buffer_size += 4096;
        const auto s = pi::snapshot(copy.bytes());
        const auto& f = details<pi::FramesState>(s, 0);
        CHECK(f.verdict.error == InspectError::mismatch);
        CHECK(f.verdict.field == "FrameControl.buffer_size");
        CHECK(f.buffers.empty());  // nothing read past the failed check
        CHECK_FALSE(s.valid());
        CHECK(s.channels[1].first_problem().ok());
    }
    SECTION("frames: the newest descriptor names a buffer that does not exist") {
        Copy copy(l.bytes());
        const auto& control = copy.at<FrameControl>(l.offset(0));
        const auto g = detail::frame_geometry(control.buffer_count, control.max_width, control.max_height,
                                              control.max_bytes_per_pixel, control.ring_capacity, control.cursor_count);
        REQUIRE(g);
        const auto ring_at = l.offset(0) + g->ring_offset;
        const auto newest = copy.at<RingControl>(ring_at).write_pos - 1;
        auto& descriptor = copy.at<FrameDescriptor>(ring_at + g->ring.slots_offset +
                                                    (newest & (g->ring.capacity - 1)) * g->ring.slot_stride +
                                                    sizeof(RingSlotHeader));
        descriptor.buffer_index = 9;
        const auto s = pi::snapshot(copy.bytes());
        const auto& f = details<pi::FramesState>(s, 0);
        CHECK(f.verdict.ok());
        REQUIRE(f.newest_state == pi::NewestFrame::ok);
        CHECK(f.descriptor.error == InspectError::too_large);
        CHECK(f.descriptor.field == "buffer_index");
        CHECK(s.channels[0].first_problem().error == InspectError::too_large);
        CHECK_FALSE(s.valid());
    }
    SECTION("cursor shape: a geometry out of range, and a forged shape") {
        Copy copy(l.bytes());
        copy.at<CursorShapeControl>(l.offset(1)).header.data_size = 1u << 30;
        auto s = pi::snapshot(copy.bytes());
        CHECK(details<pi::CursorShapeState>(s, 1).shape.field == "data_size");
        CHECK_FALSE(s.valid());
        copy.at<CursorShapeControl>(l.offset(1)).max_dimension = 100000;
        s = pi::snapshot(copy.bytes());
        CHECK(details<pi::CursorShapeState>(s, 1).verdict.error == InspectError::no_geometry);
    }
    SECTION("cursor position: a visibility that is not 0 or 1") {
        Copy copy(l.bytes());
        copy.at<CursorPositionControl>(l.offset(2)).visible = 7;
        const auto s = pi::snapshot(copy.bytes());
        const auto& p = details<pi::CursorPositionState>(s, 2);
        CHECK(p.position.error == InspectError::unknown_value);
        CHECK(p.position.got == 7);
    }
    SECTION("control and ring: control blocks that disagree with their entries") {
        Copy copy(l.bytes());
        copy.at<ControlChannelControl>(l.offset(3)).ring_size += 64;
        copy.at<RingControl>(l.offset(4)).slot_stride += 8;
        const auto s = pi::snapshot(copy.bytes());
        CHECK(details<pi::ControlState>(s, 3).verdict.field == "ControlChannelControl.ring_size");
        CHECK(details<pi::RingState>(s, 4).verdict.field == "RingControl.slot_stride");
        CHECK(details<pi::RingState>(s, 4).cursors.empty());
    }
    SECTION("a consumer slot with an unknown state") {
        Copy copy(l.bytes());
        const auto index = l.consumer->slot_index();
        reinterpret_cast<ConsumerSlot*>(copy.data() + copy.header().slot_table_offset)[index].state = 9;
        const auto s = pi::snapshot(copy.bytes());
        CHECK(s.slots[index].verdict.error == InspectError::unknown_value);
        CHECK(s.valid());  // a slot's verdict is advisory: the consumer writes it, the layout is fine
    }
}

TEST_CASE("inspect: random corruption of header, table and channel controls never reads out of bounds", "[inspect]") {
    Live l;
    const auto& plan = l.producer->plan();
    std::vector<std::uint64_t> targets{0, plan.channel_table_offset};
    for (const auto& c : plan.channels) targets.push_back(c.entry.offset);
    std::mt19937_64 rng(42);
    const auto rounds = pane_test::scaled(1500);
    std::uint64_t invalid = 0;
    for (std::uint64_t round = 0; round < rounds; ++round) {
        Copy copy(l.bytes());
        for (int k = 0; k < 4; ++k) {
            const auto base = targets[rng() % targets.size()];
            const auto at = std::min<std::uint64_t>(base + rng() % 256, copy.size - 8) & ~std::uint64_t{7};
            std::uint64_t word = 0;
            std::memcpy(&word, copy.data() + at, 8);
            switch (rng() % 3) {
                case 0: word ^= std::uint64_t{1} << (rng() % 64); break;
                case 1: word = rng(); break;
                default: word = rng() % 4096; break;
            }
            std::memcpy(copy.data() + at, &word, 8);
        }
        const auto s = pi::snapshot(copy.bytes());
        invalid += s.valid() ? 0 : 1;
    }
    CHECK(invalid > rounds / 4);  // the corruption is seen, not only survived
}
