// SPDX-License-Identifier: MIT
// Liveness and structural attacks by a hostile peer (protocol 1.4; docs/reliability.md,
// "Hostile consumer: liveness" and "Structural attacks"). A consumer that leases frames and
// never lets go, that hogs consumer slots, that rewinds the producer's control read position;
// channel entries that overlap; and, for each side, a peer that forges every word it can reach
// while the other side runs its normal calls: each call answers with its documented value, and
// no byte outside the caller's own structures (or outside the region: guard bytes around it)
// changes. The ASan pass runs these too (area unit).
#include <algorithm>
#include <cstring>
#include <functional>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "support.hpp"

using namespace pane;
using namespace std::chrono_literals;

namespace {

struct Msg {
    std::uint64_t seq;
    std::uint64_t tag;
};

// A region with guard bytes on both sides, in one allocation: a write past either end changes
// a guard (ASan sees nothing there, the allocation is larger than the region).
class GuardedRegion {
public:
    static constexpr std::size_t kGuard = 4096;
    static constexpr std::byte kFill{0xA5};
    explicit GuardedRegion(std::size_t size)
        : size_(size), data_(static_cast<std::byte*>(::operator new(size + 2 * kGuard, std::align_val_t{4096}))) {
        std::memset(data_, static_cast<int>(kFill), kGuard);
        std::memset(data_ + kGuard, 0, size_);
        std::memset(data_ + kGuard + size_, static_cast<int>(kFill), kGuard);
    }
    ~GuardedRegion() { ::operator delete(data_, std::align_val_t{4096}); }
    GuardedRegion(const GuardedRegion&) = delete;
    GuardedRegion& operator=(const GuardedRegion&) = delete;
    [[nodiscard]] std::span<std::byte> bytes() const { return {data_ + kGuard, size_}; }
    [[nodiscard]] bool guards_intact() const {
        const auto intact = [](const std::byte* p) { return std::all_of(p, p + kGuard, [](std::byte b) { return b == kFill; }); };
        return intact(data_) && intact(data_ + kGuard + size_);
    }

private:
    std::size_t size_;
    std::byte* data_;
};

// Byte ranges [begin, end) of the region, from the region's start.
struct Ranges {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> list;
    void add(std::uint64_t begin, std::uint64_t length) { list.emplace_back(begin, begin + length); }
    [[nodiscard]] bool contains(std::uint64_t offset) const {
        return std::any_of(list.begin(), list.end(), [&](const auto& r) { return offset >= r.first && offset < r.second; });
    }
};

// The first byte that changed between `before` and the region now outside `allowed`, or "" if
// none: what the side under test wrote outside its own structures.
std::string changed_outside(const std::vector<std::byte>& before, std::span<const std::byte> now, const Ranges& allowed) {
    for (std::size_t i = 0; i < before.size(); ++i) {
        if (before[i] != now[i] && !allowed.contains(i)) return "byte " + std::to_string(i) + " changed";
    }
    return {};
}

std::vector<std::byte> snapshot(std::span<const std::byte> region) { return {region.begin(), region.end()}; }

constexpr auto kTimeout = 300ms;

// Every channel kind: a lossless and an overwrite ring, frames (3 buffers), cursor shape and
// position, control.
RegionSpec full_spec(std::uint32_t consumers = 4) {
    RegionSpec spec;
    spec.max_consumers = consumers;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.consumer_timeout = kTimeout;
    spec.add(ring_of<Msg>("lossless", 4, RingPolicy::lossless));
    spec.add(ring_of<Msg>("overwrite", 4, RingPolicy::overwrite));
    spec.add(FrameSpec{"frames", 16, 8, 4, 3, 4});
    spec.add(CursorShapeSpec{"shape", 16});
    spec.add(CursorPositionSpec{"pos"});
    spec.add(ControlSpec{"control", 4, 64});
    return spec;
}

enum Channel : std::size_t { kLossless, kOverwrite, kFrames, kShape, kPos, kControl };

// Where every structure of full_spec() lies (the producer's plan: the truth, whatever the region says).
struct Layout {
    explicit Layout(const RegionSpec& s) : spec(s), plan(plan_region(s).value()) {}
    [[nodiscard]] std::uint64_t at(Channel c) const { return plan.channels[c].entry.offset; }
    [[nodiscard]] detail::RingGeometry ring(Channel c) const {
        const auto& e = plan.channels[c].entry;
        return *detail::ring_geometry(e.capacity, e.element_size, spec.max_consumers);
    }
    [[nodiscard]] detail::FrameGeometry frames() const {
        const auto& f = std::get<FrameSpec>(spec.channels[kFrames]);
        return *detail::frame_geometry(f.buffer_count, f.max_width, f.max_height, f.max_bytes_per_pixel, f.descriptors,
                                       spec.max_consumers);
    }
    [[nodiscard]] detail::ControlGeometry control() const {
        const auto& k = std::get<ControlSpec>(spec.channels[kControl]);
        return *detail::control_geometry(k.capacity, k.element_size, spec.max_consumers);
    }

    // What the producer may write while running: header (heartbeat, state), the producer line
    // of each slot, ring control lines 0-1 and slots, frame control, states, descriptor ring
    // (but its cursors and sleepers) and buffers, cursor shape, cursor position line 0, control
    // rings' producer lines.
    [[nodiscard]] Ranges producer_owned() const {
        Ranges r;
        r.add(0, sizeof(RegionHeader));
        for (std::uint32_t i = 0; i < spec.max_consumers; ++i) r.add(plan.slot_table_offset + 128 * i + 64, 64);
        for (Channel c : {kLossless, kOverwrite}) add_ring_producer(r, at(c), ring(c));
        const auto f = frames();
        r.add(at(kFrames), f.leases_offset);
        add_ring_producer(r, at(kFrames) + f.ring_offset, f.ring);
        r.add(at(kFrames) + f.buffers_offset, f.total_size - f.buffers_offset);
        r.add(at(kShape), plan.channels[kShape].entry.size);
        r.add(at(kPos), 64);
        const auto k = control();
        for (std::uint32_t i = 0; i < spec.max_consumers; ++i) r.add(at(kControl) + k.rings_offset + i * k.ring_size + 64, 64);
        return r;
    }
    // What the holder of slot `i` may write: its slot's line 0, its cursor in every ring, the
    // sleeper words (read-modify-writes of its own bit), its frame lease, its control ring's
    // line 0 and slots.
    [[nodiscard]] Ranges consumer_owned(std::uint32_t i) const {
        Ranges r;
        r.add(plan.slot_table_offset + 128 * i, 64);
        for (Channel c : {kLossless, kOverwrite}) add_ring_consumer(r, at(c), ring(c), i);
        const auto f = frames();
        r.add(at(kFrames) + f.leases_offset + 64 * i, 64);
        add_ring_consumer(r, at(kFrames) + f.ring_offset, f.ring, i);
        r.add(at(kPos) + 64, 8);
        const auto k = control();
        const std::uint64_t ring_at = at(kControl) + k.rings_offset + i * k.ring_size;
        r.add(ring_at, 64);
        r.add(ring_at + 128, k.ring_size - 128);
        return r;
    }

    static void add_ring_producer(Ranges& r, std::uint64_t ring_at, const detail::RingGeometry& g) {
        r.add(ring_at, 128);
        r.add(ring_at + g.slots_offset, g.total_size - g.slots_offset);
    }
    static void add_ring_consumer(Ranges& r, std::uint64_t ring_at, const detail::RingGeometry& g, std::uint32_t i) {
        r.add(ring_at + 128, 8);  // sleepers
        r.add(ring_at + g.cursors_offset + 64 * i, 64);
    }

    RegionSpec spec;
    RegionPlan plan;
};

template <class T>
T* at(std::span<std::byte> region, std::uint64_t offset) {
    return reinterpret_cast<T*>(region.data() + offset);
}

FrameStatus publish_at(FrameProducer& frames, std::uint8_t fill, Clock::time_point now) {
    FrameWriter w;
    FrameInfo info;
    info.width = 16;
    info.height = 8;
    const auto s = frames.begin(info, w, now);
    if (s != FrameStatus::ok) return s;
    std::memset(w.bytes().data(), fill, w.bytes().size());
    w.finish();
    return s;
}

RegionSpec frames_spec(std::uint32_t consumers, std::uint32_t buffers) {
    RegionSpec spec;
    spec.max_consumers = consumers;
    spec.remote_consumer_slots = 0;
    spec.consumer_timeout = kTimeout;
    spec.add(FrameSpec{"frames", 16, 8, 4, buffers, 4});
    return spec;
}

ProducerOptions lease_limit(std::chrono::milliseconds limit) {
    ProducerOptions o;
    o.frame_lease_limit = limit;
    return o;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Hostile consumer: liveness

TEST_CASE("liveness: leases held past the limit are revoked; the holder's verify says reused", "[liveness][frames]") {
    const RegionSpec spec = frames_spec(4, 3);
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec, lease_limit(100ms)).value();
    auto frames = producer.frames("frames").value();
    auto a = ConsumerSession::attach(region.bytes()).value();
    auto b = ConsumerSession::attach(region.bytes()).value();
    auto fa = a.frames("frames").value();
    auto fb = b.frames("frames").value();
    const auto t0 = Clock::now();
    // a holds frame 1, b frame 2: with frame 3 the latest, no buffer is free.
    FrameView va, vb;
    REQUIRE(publish_at(frames, 1, t0) == FrameStatus::ok);
    REQUIRE(fa.acquire_latest(va) == FrameStatus::ok);
    REQUIRE(publish_at(frames, 2, t0) == FrameStatus::ok);
    REQUIRE(fb.acquire_latest(vb) == FrameStatus::ok);
    REQUIRE(publish_at(frames, 3, t0) == FrameStatus::ok);
    CHECK(publish_at(frames, 4, t0) == FrameStatus::no_free_buffer);
    auto stats = frames.stats();
    CHECK(stats.buffers_held == 2);
    REQUIRE(stats.held_back_by.has_value());
    CHECK((stats.held_back_by->slot == a.slot_index() || stats.held_back_by->slot == b.slot_index()));
    CHECK(stats.held_back_by->held == Clock::duration::zero());
    // Within the limit nothing is revoked: the frames stay intact.
    CHECK(publish_at(frames, 4, t0 + 100ms) == FrameStatus::no_free_buffer);
    stats = frames.stats();
    CHECK(stats.held_back_by->held == 100ms);
    CHECK(stats.leases_revoked == 0);
    CHECK(stats.frames_dropped == 2);
    CHECK(va.verify() == FrameStatus::ok);
    CHECK(vb.verify() == FrameStatus::ok);
    // Past it, the longest held buffer is taken (both were first seen at t0: the first in round
    // robin order, a's); the holder learns it from verify().
    REQUIRE(publish_at(frames, 5, t0 + 101ms) == FrameStatus::ok);
    CHECK(frames.stats().leases_revoked == 1);
    CHECK(va.verify() == FrameStatus::reused);
    CHECK(va.bytes()[0] == std::byte{5});
    CHECK(vb.verify() == FrameStatus::ok);
    // The other buffer (frame 3, now not the latest) is free: no revocation needed.
    REQUIRE(publish_at(frames, 6, t0 + 101ms) == FrameStatus::ok);
    CHECK(frames.stats().leases_revoked == 1);
    CHECK(vb.verify() == FrameStatus::ok);
    // A revoked consumer recovers by acquiring the latest frame.
    REQUIRE(fa.acquire_latest(va) == FrameStatus::ok);
    CHECK(va.bytes()[0] == std::byte{6});
    CHECK(va.verify() == FrameStatus::ok);
}

TEST_CASE("liveness: a consumer forging leases on every buffer slows the producer to about a frame per limit, never stops it",
          "[liveness][frames][hostile]") {
    const RegionSpec spec = frames_spec(4, 3);
    const RegionPlan plan = plan_region(spec).value();
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec, lease_limit(100ms)).value();
    auto frames = producer.frames("frames").value();
    // The attacker holds two slots and opens the frame channel in each (its lease claims), then
    // writes a lease on every buffer but the latest, with the buffer's current generation read
    // from the region, after every publish.
    auto h1 = ConsumerSession::attach(region.bytes()).value();
    auto h2 = ConsumerSession::attach(region.bytes()).value();
    auto f1 = h1.frames("frames").value();
    auto f2 = h2.frames("frames").value();
    const auto g = *detail::frame_geometry(3, 16, 8, 4, 4, spec.max_consumers);
    auto* leases = at<FrameLease>(region.bytes(), plan.channels[0].entry.offset + g.leases_offset);
    auto* states = at<FrameBufferState>(region.bytes(), plan.channels[0].entry.offset + g.states_offset);
    const auto forge = [&](std::uint32_t latest) {
        std::uint32_t slot = 0;
        for (std::uint32_t b = 0; b < g.buffer_count; ++b) {
            if (b == latest) continue;
            const std::uint32_t holder = slot++ == 0 ? h1.slot_index() : h2.slot_index();
            detail::store_relaxed(leases[holder].lease, make_lease(detail::load_relaxed(states[b].generation), b));
        }
    };
    const auto t0 = Clock::now();
    std::uint64_t published = 0, dropped = 0;
    std::uint32_t latest = 0;
    {
        FrameWriter w;
        FrameInfo info;
        info.width = 16;
        info.height = 8;
        REQUIRE(frames.begin(info, w, t0) == FrameStatus::ok);
        w.finish();
        latest = w.descriptor().buffer_index;
    }
    // One simulated second in 5 ms steps: a producer that wants 200 frames per second.
    for (auto t = t0; t < t0 + 1s; t += 5ms) {
        forge(latest);
        producer.tick(t);  // the attacker's slots heartbeat (their handles did): never reaped
        detail::store_relaxed(at<ConsumerSlot>(region.bytes(), plan.slot_table_offset)[h1.slot_index()].heartbeat,
                              static_cast<std::uint64_t>((t - t0).count()));
        detail::store_relaxed(at<ConsumerSlot>(region.bytes(), plan.slot_table_offset)[h2.slot_index()].heartbeat,
                              static_cast<std::uint64_t>((t - t0).count()));
        FrameWriter w;
        FrameInfo info;
        info.width = 16;
        info.height = 8;
        const FrameStatus s = frames.begin(info, w, t);
        if (s == FrameStatus::ok) {
            w.finish();
            latest = w.descriptor().buffer_index;
            ++published;
        } else {
            REQUIRE(s == FrameStatus::no_free_buffer);
            ++dropped;
        }
    }
    const auto stats = frames.stats();
    INFO("published " << published << ", dropped " << dropped << ", revoked " << stats.leases_revoked);
    CHECK(producer.reaped_total() == 0);  // the attack heartbeats: only the lease limit helps
    CHECK(dropped > 0);                   // it was under attack
    // Each buffer is taken once its forged lease has been seen for the limit: at least one
    // frame per limit (the first at t0 was before the attack).
    CHECK(published >= 9);
    CHECK(stats.leases_revoked == published);
    REQUIRE(stats.held_back_by.has_value());
    CHECK((stats.held_back_by->slot == h1.slot_index() || stats.held_back_by->slot == h2.slot_index()));
}

TEST_CASE("liveness: with revocation off, a forged lease on every buffer stops the frames; stats name the slot",
          "[liveness][frames][hostile]") {
    const RegionSpec spec = frames_spec(2, 3);
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec, lease_limit(kNeverRevoke)).value();
    auto frames = producer.frames("frames").value();
    auto h = ConsumerSession::attach(region.bytes()).value();
    auto f = h.frames("frames").value();
    FrameView v1;
    const auto t0 = Clock::now();
    REQUIRE(publish_at(frames, 1, t0) == FrameStatus::ok);
    REQUIRE(f.acquire_latest(v1) == FrameStatus::ok);
    auto h2 = ConsumerSession::attach(region.bytes()).value();
    auto f2 = h2.frames("frames").value();
    FrameView v2;
    REQUIRE(publish_at(frames, 2, t0) == FrameStatus::ok);
    REQUIRE(f2.acquire_latest(v2) == FrameStatus::ok);
    REQUIRE(publish_at(frames, 3, t0) == FrameStatus::ok);
    CHECK(publish_at(frames, 4, t0) == FrameStatus::no_free_buffer);
    CHECK(publish_at(frames, 4, t0 + 1h) == FrameStatus::no_free_buffer);
    const auto stats = frames.stats();
    CHECK(stats.leases_revoked == 0);
    REQUIRE(stats.held_back_by.has_value());
    CHECK(stats.held_back_by->held == 1h);
    CHECK(v1.verify() == FrameStatus::ok);
    // The embedder's remedy: evict the slot the stats name; its lease stops counting at once.
    CHECK(producer.evict(stats.held_back_by->slot));
    CHECK(publish_at(frames, 4, t0 + 1h) == FrameStatus::ok);
}

TEST_CASE("liveness: plan_region refuses fewer frame buffers than its viewers need", "[liveness][layout]") {
    RegionSpec spec;
    spec.max_consumers = 64;
    spec.add(FrameSpec{"frames", 16, 8, 4, 3, 4});
    auto& f = std::get<FrameSpec>(spec.channels[0]);
    CHECK(frame_buffers_needed(1) == 3);
    CHECK(plan_region(spec).has_value());  // the default: one viewer, three buffers
    f.viewers = 2;
    CHECK(plan_region(spec).error() == InitError::too_few_buffers);
    f.buffer_count = 4;
    CHECK(plan_region(spec).has_value());
    f.viewers = 62;
    f.buffer_count = 63;
    CHECK(plan_region(spec).error() == InitError::too_few_buffers);
    f.buffer_count = 64;
    CHECK(plan_region(spec).has_value());
    f.viewers = 0;
    CHECK(plan_region(spec).error() == InitError::invalid_layout);
    spec.max_consumers = 4;
    f.viewers = 5;
    CHECK(plan_region(spec).error() == InitError::invalid_layout);
    CHECK(make_error_code(InitError::too_few_buffers).message() == "a frame channel has fewer buffers than its viewers need");
}

TEST_CASE("liveness: a slot hog is reported and evicted; an evicted consumer cannot un-reap itself", "[liveness][session][hostile]") {
    RegionSpec spec = full_spec(3);
    const Layout layout(spec);
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto tx = producer.ring<Msg>("lossless").value();
    // A hog takes every slot and keeps heartbeating: nobody else can attach.
    std::vector<ConsumerSession> hog;
    for (int i = 0; i < 3; ++i) hog.push_back(ConsumerSession::attach(region.bytes()).value());
    CHECK(ConsumerSession::attach(region.bytes()).error() == AttachError::no_free_slot);
    auto rx = hog[1].ring<Msg>("lossless").value();  // and holds the lossless ring without reading
    producer.tick();
    const auto usage = producer.slots();
    REQUIRE(usage.size() == 3);
    for (const auto& u : usage) {
        CHECK(u.held);
        CHECK(u.live);
        CHECK(u.pid == detail::current_pid());
    }
    for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(tx.try_push(Msg{i, 0}) == PushStatus::ok);
    CHECK(tx.try_push(Msg{4, 0}) == PushStatus::full);
    CHECK(tx.bytes().held_back_by() == static_cast<int>(hog[1].slot_index()));

    // Evict slot 0: its holder learns slot_lost, and a newcomer attaches there.
    CHECK(producer.evict(hog[0].slot_index()));
    CHECK_FALSE(producer.evict(hog[0].slot_index()));  // nobody holds it now
    CHECK(hog[0].tick() == SessionStatus::slot_lost);
    auto newcomer = ConsumerSession::attach(region.bytes());
    REQUIRE(newcomer.has_value());
    CHECK(newcomer->slot_index() == hog[0].slot_index());
    CHECK(producer.reaped_total() == 1);

    // Evict the ring holder, which then writes reaped_claim back (any mapper can): the
    // producer keeps its verdict privately, so the ring stays free.
    auto* slots = at<ConsumerSlot>(region.bytes(), layout.plan.slot_table_offset);
    const std::uint32_t s1 = hog[1].slot_index();
    const std::uint64_t claim1 = detail::load_relaxed(slots[s1].claim);
    CHECK(producer.evict(s1));
    detail::store_relaxed(slots[s1].reaped_claim, claim1 - 1);  // "un-reap"
    CHECK(tx.try_push(Msg{4, 0}) == PushStatus::ok);
    producer.tick();
    CHECK((producer.live_consumers() >> s1 & 1u) == 0);
    CHECK_FALSE(producer.slots()[s1].held);

    // Block slot 2: whoever holds it from now on counts for nothing, until unblocked.
    const std::uint32_t s2 = hog[2].slot_index();
    CHECK(producer.evict(s2, /*block=*/true));
    hog[2].detach();
    auto again = ConsumerSession::attach(region.bytes());  // a consumer cannot be kept from claiming
    REQUIRE(again.has_value());
    REQUIRE(again->slot_index() == s2);
    auto rx2 = again->ring<Msg>("lossless").value();
    for (std::uint64_t i = 5; i < 20; ++i) CHECK(tx.try_push(Msg{i, 0}) == PushStatus::ok);  // not held by it
    producer.tick();
    CHECK(producer.slots()[s2].blocked);
    CHECK_FALSE(producer.slots()[s2].live);
    producer.unblock(s2);
    producer.tick();
    CHECK(producer.slots()[s2].live);
    // Its cursor counts again: within a ring's worth of pushes (the room cached before) it is full.
    PushStatus last = PushStatus::ok;
    for (std::uint64_t i = 20; i < 25 && last == PushStatus::ok; ++i) last = tx.try_push(Msg{i, 0});
    CHECK(last == PushStatus::full);
    CHECK(tx.bytes().held_back_by() == static_cast<int>(s2));
    // Out of range: nothing happens.
    CHECK_FALSE(producer.evict(99));
}

TEST_CASE("liveness: attach rejects channel entries that overlap each other, the header or the tables",
          "[liveness][session][hostile]") {
    const RegionSpec spec = full_spec(2);
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto* header = reinterpret_cast<RegionHeader*>(region.bytes().data());
    auto* table = reinterpret_cast<ChannelEntry*>(region.bytes().data() + header->channel_table_offset);
    REQUIRE(detail::structures_disjoint(*header, std::span<const ChannelEntry>(table, header->channel_count)));
    const auto expect = [&](const char* what, auto corrupt) {
        INFO(what);
        const RegionHeader saved_header = *header;
        std::vector<ChannelEntry> saved(table, table + header->channel_count);
        corrupt();
        CHECK(ConsumerSession::attach(region.bytes()).error() == AttachError::invalid_layout);
        *header = saved_header;
        std::copy(saved.begin(), saved.end(), table);
        REQUIRE(ConsumerSession::attach(region.bytes()).has_value());
    };
    const std::uint64_t cto = header->channel_table_offset, sto = header->slot_table_offset;
    expect("two channels at the same offset", [&] { table[1].offset = table[0].offset; });
    expect("a channel reaching into the next", [&] { table[0].size += 64; });
    expect("a channel inside another", [&] { table[3].offset = table[2].offset + 4096; table[3].size = 64; });
    expect("a channel over the channel table", [&] { table[4].offset = cto; });
    expect("a channel over the slot table", [&] { table[4].offset = sto + 64; });
    expect("a channel over the header (header_size grown over it)", [&] {
        header->header_size = static_cast<std::uint32_t>(table[0].offset + 64);
    });
    expect("the header over the channel table", [&] { header->header_size = static_cast<std::uint32_t>(cto + 64); });
    expect("the channel table over the slot table", [&] { header->slot_table_offset = cto + 64; });
    expect("the slot table over a channel", [&] { header->slot_table_offset = table[1].offset; });
    // Empty channels overlap nothing; adjacent ones are fine.
    RegionHeader h = *header;
    std::vector<ChannelEntry> entries(table, table + h.channel_count);
    entries[5].size = 0;
    entries[5].offset = entries[0].offset;
    CHECK(detail::structures_disjoint(h, entries));
}

TEST_CASE("liveness: a consumer that rewinds the producer's control read position gets nothing delivered twice",
          "[liveness][control][hostile]") {
    const RegionSpec spec = full_spec(2);
    const Layout layout(spec);
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto rx = producer.control("control").value();
    const auto k = layout.control();
    const auto ring_of_slot = [&](std::uint32_t i) {
        return at<ControlRingControl>(region.bytes(), layout.at(kControl) + k.rings_offset + i * k.ring_size);
    };
    const auto slot_of = [&](std::uint32_t i, std::uint64_t p) {
        return at<RingSlotHeader>(region.bytes(), layout.at(kControl) + k.rings_offset + i * k.ring_size + 128 +
                                                      (p & (k.capacity - 1)) * k.slot_stride);
    };
    const auto receive_all = [&] {
        std::vector<std::pair<ControlType, std::uint32_t>> got;
        ControlMessage m;
        while (rx.try_receive(m) == ControlStatus::ok) got.emplace_back(m.type, m.window.width);
        return got;
    };

    SECTION("read_pos written back: the producer's own read position stands") {
        auto s = ConsumerSession::attach(region.bytes()).value();
        auto tx = s.control("control").value();
        REQUIRE(tx.send_window_size(640, 480) == ControlStatus::ok);
        REQUIRE(tx.send_window_size(800, 600) == ControlStatus::ok);
        CHECK(receive_all().size() == 2);
        detail::store_relaxed(ring_of_slot(s.slot_index())->read_pos, std::uint64_t{0});  // rewind
        CHECK(receive_all().empty());
        CHECK(rx.accepted() == 2);
        // The sender sees its ring as full (the forged read_pos is its own undoing) or not: no
        // message is ever repeated.
        REQUIRE(tx.send_window_size(1024, 768) == ControlStatus::ok);  // at its own position 2
        const auto more = receive_all();
        REQUIRE(more.size() == 1);
        CHECK(more[0].second == 1024);
        CHECK(rx.accepted() == 3);
    }
    SECTION("write_pos stepped back after messages were read: a violation, nothing re-read") {
        auto s = ConsumerSession::attach(region.bytes()).value();
        auto tx = s.control("control").value();
        for (std::uint32_t w = 1; w <= 3; ++w) REQUIRE(tx.send_window_size(w, w) == ControlStatus::ok);
        CHECK(receive_all().size() == 3);
        auto* ring = ring_of_slot(s.slot_index());
        for (std::uint64_t back = 2; back > 0; --back) {  // one step back at a time, then forward
            detail::store_relaxed(ring->write_pos, back);
            CHECK(receive_all().empty());
        }
        detail::store_relaxed(ring->write_pos, std::uint64_t{3});
        CHECK(receive_all().empty());
        CHECK(rx.accepted() == 3);
        CHECK(rx.rejected() == 1);  // the violation; the ring is ignored until a new sender claim
    }
    SECTION("a new sender steps one back and leaves the old message in place: not delivered again") {
        auto first = ConsumerSession::attach(region.bytes()).value();
        const std::uint32_t slot = first.slot_index();
        {
            auto tx = first.control("control").value();
            REQUIRE(tx.send_window_size(7, 7) == ControlStatus::ok);
            CHECK(receive_all().size() == 1);  // while its ring is open: a closed ring is not read
        }
        first.detach();
        auto second = ConsumerSession::attach(region.bytes()).value();  // a new claim in the same slot
        REQUIRE(second.slot_index() == slot);
        auto tx = second.control("control").value();
        // Hostile: restore position 0's slot as it was (open laid it out for the lap before)
        // and claim to have started one behind the producer.
        auto* ring = ring_of_slot(slot);
        detail::store_relaxed(slot_of(slot, 0)->length, std::uint32_t{16});
        detail::store_relaxed(slot_of(slot, 0)->seq, detail::seq_complete(0));
        detail::store_relaxed(ring->write_pos, std::uint64_t{0});
        CHECK(receive_all().empty());  // followed one back
        detail::store_relaxed(ring->write_pos, std::uint64_t{1});
        CHECK(receive_all().empty());  // the same message: consumed, not delivered
        CHECK(rx.accepted() == 1);
        CHECK(rx.replays_rejected() == 1);
        // It cannot step back a second time under the same claim.
        detail::store_relaxed(ring->write_pos, std::uint64_t{0});
        CHECK(receive_all().empty());
        detail::store_relaxed(ring->write_pos, std::uint64_t{1});
        CHECK(receive_all().empty());
        CHECK(rx.accepted() == 1);
    }
    SECTION("an honest sender that starts one behind is followed and its message delivered") {
        auto first = ConsumerSession::attach(region.bytes()).value();
        const std::uint32_t slot = first.slot_index();
        {
            auto tx = first.control("control").value();
            REQUIRE(tx.send_window_size(7, 7) == ControlStatus::ok);
            CHECK(receive_all().size() == 1);  // while its ring is open: a closed ring is not read
        }
        first.detach();
        auto second = ConsumerSession::attach(region.bytes()).value();
        REQUIRE(second.slot_index() == slot);
        // The race of 13.7 step 4.3, staged: the new sender loaded read_pos 0 before the
        // producer consumed its predecessor's message, so it writes from position 0.
        auto* ring = ring_of_slot(slot);
        detail::store_relaxed(ring->read_pos, std::uint64_t{0});
        auto tx = second.control("control").value();
        detail::store_relaxed(ring->read_pos, std::uint64_t{1});  // the producer's real value
        CHECK(tx.send_window_size(9, 9) == ControlStatus::full);  // until the producer follows it back
        CHECK(receive_all().empty());
        CHECK(detail::load_relaxed(ring->read_pos) == 0);
        REQUIRE(tx.send_window_size(9, 9) == ControlStatus::ok);
        const auto got = receive_all();
        REQUIRE(got.size() == 1);
        CHECK(got[0].second == 9);
        CHECK(rx.replays_rejected() == 0);
    }
}

// ---------------------------------------------------------------------------------------------
// Structural attacks

namespace {

// A producer and two consumers on a guarded region, every channel open on each consumer.
struct Attackable {
    explicit Attackable(const RegionSpec& s) : layout(s), region(layout.plan.region_size) {
        producer.emplace(ProducerSession::create(region.bytes(), s).value());
        lossless_tx.emplace(producer->ring<Msg>("lossless").value());
        overwrite_tx.emplace(producer->ring<Msg>("overwrite").value());
        frames.emplace(producer->frames("frames").value());
        shape_tx.emplace(producer->cursor_shape("shape").value());
        pos_tx.emplace(producer->cursor_position("pos").value());
        control_rx.emplace(producer->control("control").value());
        for (auto& c : consumers) c.emplace(region.bytes());
    }
    struct Consumer {
        explicit Consumer(std::span<std::byte> region)
            : session(ConsumerSession::attach(region).value()),
              lossless(session.ring<Msg>("lossless").value()),
              overwrite(session.ring<Msg>("overwrite").value()),
              frames(session.frames("frames").value()),
              shape(session.cursor_shape("shape").value()),
              pos(session.cursor_position("pos").value()),
              control(session.control("control").value()) {}
        ConsumerSession session;
        RingConsumer<Msg> lossless, overwrite;
        FrameConsumer frames;
        CursorShapeConsumer shape;
        CursorPositionConsumer pos;
        ControlSender control;
        FrameView view;
    };

    // Everything the producer does while running, once.
    void producer_round(std::uint8_t n) {
        producer->tick();
        (void)lossless_tx->try_push(Msg{n, 1});
        (void)overwrite_tx->try_push(Msg{n, 1});
        (void)pane_test::publish_frame(*frames, n);
        std::vector<std::byte> pixels(4 * 4 * 4, std::byte{n});
        (void)shape_tx->publish(CursorType::color, 4, 4, 16, 0, 0, pixels);
        pos_tx->publish(n, n, true, 1);
        ControlMessage m;
        for (int i = 0; i < 8; ++i) (void)control_rx->try_receive(m);
    }
    // Everything a consumer does while running, once; the statuses for the caller to check.
    struct Seen {
        PopStatus lossless, overwrite;
        FrameStatus acquired, verified, rows;
        CursorStatus shape, pos;
        ControlStatus sent;
        SessionStatus tick;
    };
    Seen consumer_round(Consumer& c) {
        Seen s{};
        Msg m{};
        s.lossless = c.lossless.try_pop(m).status;
        s.overwrite = c.overwrite.try_pop(m).status;
        s.acquired = c.frames.acquire_latest(c.view);
        s.rows = c.view.wait_rows(1000, SpinThenYield{}, 1ms);
        std::uint64_t sum = 0;
        for (std::uint32_t y = 0; y < c.view.rows_ready(); ++y) sum += static_cast<std::uint64_t>(c.view.row(y)[0]);
        (void)sum;
        s.verified = c.view.verify();
        CursorShape shape;
        s.shape = c.shape.try_read(shape);
        CursorPosition pos;
        s.pos = c.pos.try_read(pos);
        s.sent = c.control.send_window_size(1, 2);
        s.tick = c.session.tick();
        return s;
    }

    Layout layout;
    GuardedRegion region;
    std::optional<ProducerSession> producer;
    std::optional<RingProducer<Msg>> lossless_tx, overwrite_tx;
    std::optional<FrameProducer> frames;
    std::optional<CursorShapeProducer> shape_tx;
    std::optional<CursorPositionProducer> pos_tx;
    std::optional<ControlReceiver> control_rx;
    std::array<std::optional<Consumer>, 2> consumers;
};

}  // namespace

TEST_CASE("structural attacks: a malicious consumer cannot make the producer write outside its own structures",
          "[liveness][hostile][structural]") {
    // Each attack forges the words a consumer can reach (its own, and any other: it maps the whole
    // region), then the producer runs every call it makes; after it, every byte outside the
    // producer's own structures is as the attacker left it, and the guards are intact.
    struct Attack {
        const char* name;
        std::function<void(Attackable&, std::span<std::byte>)> forge;
        std::function<void(Attackable&)> expect;
    };
    const RegionSpec spec = full_spec(4);
    const Layout L(spec);
    const auto slot = [&](std::span<std::byte> r, std::uint32_t i) {
        return at<ConsumerSlot>(r, L.plan.slot_table_offset + 128 * i);
    };
    const auto cursor = [&](std::span<std::byte> r, Channel c, std::uint32_t i) {
        return at<RingCursor>(r, L.at(c) + L.ring(c).cursors_offset + 64 * i);
    };
    const auto lease = [&](std::span<std::byte> r, std::uint32_t i) {
        return at<FrameLease>(r, L.at(kFrames) + L.frames().leases_offset + 64 * i);
    };
    const auto control_ring = [&](std::span<std::byte> r, std::uint32_t i) {
        const auto k = L.control();
        return at<ControlRingControl>(r, L.at(kControl) + k.rings_offset + i * k.ring_size);
    };
    const auto control_slot = [&](std::span<std::byte> r, std::uint32_t i, std::uint64_t p) {
        const auto k = L.control();
        return at<RingSlotHeader>(r, L.at(kControl) + k.rings_offset + i * k.ring_size + 128 + (p & (k.capacity - 1)) * k.slot_stride);
    };
    const std::vector<Attack> attacks = {
        {"slot fields: state, epoch, host id, features, pid, heartbeat",
         [&](Attackable&, std::span<std::byte> r) {
             for (std::uint32_t i = 0; i < 4; ++i) {
                 slot(r, i)->state = 0xFFFFFFFF;
                 slot(r, i)->attach_epoch = ~0ull;
                 slot(r, i)->host_id = 0x1234;
                 slot(r, i)->features = ~0ull;
                 slot(r, i)->features_claim = slot(r, i)->claim;
                 slot(r, i)->pid = 0xFFFFFFFF;
                 slot(r, i)->heartbeat = ~0ull;
                 slot(r, i)->reserved_c[0] = ~0ull;
             }
         },
         [](Attackable&) {}},
        {"forged claims: odd claims in free slots and a claim of another slot in a cursor, lease and control ring",
         [&](Attackable& a, std::span<std::byte> r) {
             slot(r, 2)->claim = 0xFFFFFFFFFFFFFFFFull;
             slot(r, 3)->claim = 12345;
             const std::uint64_t other = slot(r, a.consumers[1]->session.slot_index())->claim;
             cursor(r, kLossless, 3)->claim = other;
             lease(r, 3)->claim = other;
             control_ring(r, 3)->claim = other;
             control_ring(r, 3)->write_pos = 2;
         },
         [](Attackable&) {}},
        {"ring cursors: read positions ahead, far behind, at 2^64 - 1",
         [&](Attackable& a, std::span<std::byte> r) {
             const std::uint32_t i = a.consumers[0]->session.slot_index();
             cursor(r, kLossless, i)->read_pos = ~0ull;
             cursor(r, kOverwrite, i)->read_pos = 1ull << 63;
             cursor(r, kLossless, a.consumers[1]->session.slot_index())->read_pos = 1000;
         },
         [](Attackable& a) { CHECK(a.lossless_tx->bytes().held_back_by() >= 0); }},
        {"frame leases: index 63, generation 2^58 - 1, every bit set, a real buffer's generation",
         [&](Attackable& a, std::span<std::byte> r) {
             lease(r, a.consumers[0]->session.slot_index())->lease = make_lease((1ull << 58) - 1, 63);
             lease(r, a.consumers[1]->session.slot_index())->lease = ~0ull;
             lease(r, 2)->lease = make_lease(detail::first_generation(1), 1);
             lease(r, 2)->claim = ~0ull;
         },
         [](Attackable& a) { CHECK(a.frames->frames_published() > 0); }},
        {"control ring: write position far ahead, lengths beyond the element size",
         [&](Attackable& a, std::span<std::byte> r) {
             const std::uint32_t i = a.consumers[0]->session.slot_index();
             control_ring(r, i)->write_pos = ~0ull - 5;
             const std::uint32_t j = a.consumers[1]->session.slot_index();
             for (std::uint64_t p = 0; p < 4; ++p) {
                 control_slot(r, j, p)->length = 0xFFFFFFFF;
                 control_slot(r, j, p)->seq = detail::seq_complete(p);
             }
             control_ring(r, j)->write_pos = 4;
         },
         [](Attackable& a) { CHECK(a.control_rx->rejected() >= 2); }},
        {"control messages: type and size rules broken, length 0..7",
         [&](Attackable& a, std::span<std::byte> r) {
             const std::uint32_t j = a.consumers[1]->session.slot_index();
             const std::uint64_t base = detail::load_relaxed(control_ring(r, j)->write_pos);
             for (std::uint64_t p = base; p < base + 3; ++p) {  // one unread message before them: 4 in all
                 auto* s = control_slot(r, j, p);
                 s->length = static_cast<std::uint32_t>(p % 8);
                 auto* payload = reinterpret_cast<std::uint32_t*>(reinterpret_cast<std::byte*>(s) + 16);
                 payload[0] = 99;
                 s->seq = detail::seq_complete(p);
             }
             control_ring(r, j)->write_pos = base + 3;
         },
         [](Attackable& a) { CHECK(a.control_rx->rejected() == 3); }},
        {"sleeper words and reserved consumer bytes all ones",
         [&](Attackable&, std::span<std::byte> r) {
             for (Channel c : {kLossless, kOverwrite}) at<RingControl>(r, L.at(c))->sleepers = ~0ull;
             at<RingControl>(r, L.at(kFrames) + L.frames().ring_offset)->sleepers = ~0ull;
             at<CursorPositionControl>(r, L.at(kPos))->sleepers = ~0ull;
             for (std::uint32_t i = 0; i < 4; ++i) {
                 for (auto& w : cursor(r, kLossless, i)->reserved) w = ~0ull;
                 for (auto& w : lease(r, i)->reserved) w = ~0ull;
                 for (auto& w : control_ring(r, i)->reserved_c) w = ~0ull;
             }
         },
         [](Attackable&) {}},
        {"producer words overwritten: generations, reuse intents, write positions, seqs, reaped claims",
         [&](Attackable&, std::span<std::byte> r) {
             auto* states = at<FrameBufferState>(r, L.at(kFrames) + L.frames().states_offset);
             for (std::uint32_t b = 0; b < 3; ++b) {
                 states[b].generation = ~0ull;
                 states[b].reuse_intent = 7;
                 states[b].rows_ready = 0xFFFFFFFF;
             }
             for (Channel c : {kLossless, kOverwrite}) at<RingControl>(r, L.at(c))->write_pos = 77;
             at<CursorShapeControl>(r, L.at(kShape))->seq = 1;
             at<CursorPositionControl>(r, L.at(kPos))->seq = 3;
             for (std::uint32_t i = 0; i < 4; ++i) {
                 slot(r, i)->reaped_claim = 0;
                 slot(r, i)->reap_count = ~0ull;
                 control_ring(r, i)->read_pos = 1ull << 40;
             }
         },
         [](Attackable&) {}},
    };
    for (const auto& attack : attacks) {
        INFO("attack: " << attack.name);
        Attackable a(spec);
        const auto region = a.region.bytes();
        for (std::uint8_t n = 1; n <= 2; ++n) {  // some history first
            a.producer_round(n);
            for (auto& c : a.consumers) (void)a.consumer_round(*c);
        }
        attack.forge(a, region);
        const auto before = snapshot(region);
        for (std::uint8_t n = 3; n <= 8; ++n) a.producer_round(n);
        CHECK(changed_outside(before, region, a.layout.producer_owned()).empty());
        CHECK(a.region.guards_intact());
        attack.expect(a);
    }
}

TEST_CASE("structural attacks: a malicious producer cannot make a consumer write outside its own structures",
          "[liveness][hostile][structural]") {
    struct Attack {
        const char* name;
        std::function<void(std::span<std::byte>)> forge;
        std::function<void(const Attackable::Seen&, Attackable::Consumer&)> expect;
    };
    const RegionSpec spec = full_spec(4);
    const Layout L(spec);
    const auto g = L.frames();
    const auto descriptor_slot = [&](std::span<std::byte> r, std::uint64_t p) {
        return at<RingSlotHeader>(r, L.at(kFrames) + g.ring_offset + g.ring.slots_offset + (p & (g.ring.capacity - 1)) * g.ring.slot_stride);
    };
    const auto descriptor_ring = [&](std::span<std::byte> r) { return at<RingControl>(r, L.at(kFrames) + g.ring_offset); };
    // Publishes a descriptor at the next position of the descriptor ring, as the producer would,
    // after `edit` changed it.
    const auto forge_descriptor = [&](std::span<std::byte> r, const std::function<void(FrameDescriptor&)>& edit) {
        auto* ring = descriptor_ring(r);
        const std::uint64_t p = ring->write_pos;
        auto* s = descriptor_slot(r, p - 1);
        FrameDescriptor d;
        std::memcpy(&d, reinterpret_cast<std::byte*>(s) + 16, sizeof(d));
        d.serial += 1;
        edit(d);
        auto* next = descriptor_slot(r, p);
        std::memcpy(reinterpret_cast<std::byte*>(next) + 16, &d, sizeof(d));
        next->length = sizeof(d);
        next->seq = detail::seq_complete(p);
        ring->write_pos = p + 1;
    };
    const auto channel_table = [&](std::span<std::byte> r) { return at<ChannelEntry>(r, L.plan.channel_table_offset); };
    const std::vector<Attack> attacks = {
        {"channel offsets and sizes rewritten after attach; header tables moved",
         [&](std::span<std::byte> r) {
             for (std::uint32_t c = 0; c < 6; ++c) {
                 channel_table(r)[c].offset = ~0ull - 63;
                 channel_table(r)[c].size = ~0ull;
             }
             auto* h = at<RegionHeader>(r, 0);
             h->slot_table_offset = h->region_size + 4096;
             h->channel_table_offset = 64;
             h->max_consumers = 64;
             h->region_size = ~0ull;
         },
         [](const Attackable::Seen& s, Attackable::Consumer&) { CHECK(s.tick == SessionStatus::ok); }},
        {"channel control structures rewritten after open (geometry, offsets, strides)",
         [&](std::span<std::byte> r) {
             for (Channel c : {kLossless, kOverwrite}) {
                 auto* rc = at<RingControl>(r, L.at(c));
                 rc->capacity = 1u << 24;
                 rc->slot_stride = 1u << 24;
                 rc->slots_offset = ~0ull;
                 rc->cursors_offset = ~0ull;
             }
             auto* fc = at<FrameControl>(r, L.at(kFrames));
             fc->buffer_count = 64;
             fc->leases_offset = ~0ull;
             fc->buffers_offset = ~0ull;
             fc->buffer_size = ~0ull;
             auto* sc = at<CursorShapeControl>(r, L.at(kShape));
             sc->capacity = ~0u;
             sc->data_offset = ~0ull;
             auto* cc = at<ControlChannelControl>(r, L.at(kControl));
             cc->ring_size = ~0ull;
             cc->rings_offset = ~0ull;
             cc->slot_stride = ~0u;
         },
         [](const Attackable::Seen&, Attackable::Consumer&) {}},
        {"a descriptor naming buffer 200",
         [&](std::span<std::byte> r) { forge_descriptor(r, [](FrameDescriptor& d) { d.buffer_index = 200; }); },
         [](const Attackable::Seen& s, Attackable::Consumer&) { CHECK(s.acquired == FrameStatus::broken); }},
        {"a descriptor with 65 damage rectangles",
         [&](std::span<std::byte> r) { forge_descriptor(r, [](FrameDescriptor& d) { d.damage_count = 65; }); },
         [](const Attackable::Seen& s, Attackable::Consumer&) { CHECK(s.acquired == FrameStatus::broken); }},
        {"a descriptor whose frame overruns its buffer (stride times height)",
         [&](std::span<std::byte> r) {
             forge_descriptor(r, [](FrameDescriptor& d) {
                 d.stride = 0xFFFFFFFF;
                 d.height = 8;
             });
         },
         [](const Attackable::Seen& s, Attackable::Consumer&) { CHECK(s.acquired == FrameStatus::broken); }},
        {"a descriptor with a generation of 0 and one of 2^58",
         [&](std::span<std::byte> r) { forge_descriptor(r, [](FrameDescriptor& d) { d.buffer_generation = 1ull << 58; }); },
         [](const Attackable::Seen& s, Attackable::Consumer&) { CHECK(s.acquired == FrameStatus::broken); }},
        {"rows_ready beyond the frame's height; the buffer's generation moving",
         [&](std::span<std::byte> r) {
             auto* states = at<FrameBufferState>(r, L.at(kFrames) + g.states_offset);
             for (std::uint32_t b = 0; b < g.buffer_count; ++b) states[b].rows_ready = 0xFFFFFFFF;
         },
         [](const Attackable::Seen& s, Attackable::Consumer& c) {
             if (s.acquired == FrameStatus::ok) CHECK(c.view.rows_ready() <= c.view.descriptor().height);
         }},
        {"descriptor ring and rings: write positions far behind and far ahead, slot lengths beyond the element",
         [&](std::span<std::byte> r) {
             for (Channel c : {kLossless, kOverwrite}) {
                 auto* rc = at<RingControl>(r, L.at(c));
                 const auto rg = L.ring(c);
                 for (std::uint32_t j = 0; j < rg.capacity; ++j) {
                     auto* s = at<RingSlotHeader>(r, L.at(c) + rg.slots_offset + j * rg.slot_stride);
                     s->length = 0xFFFFFFFF;
                 }
                 rc->write_pos = ~0ull;
             }
             descriptor_ring(r)->write_pos = 1ull << 63;
         },
         [](const Attackable::Seen& s, Attackable::Consumer&) {
             CHECK(s.acquired == FrameStatus::broken);
             CHECK((s.lossless == PopStatus::broken || s.lossless == PopStatus::empty));
         }},
        {"cursor shape: data size and dimensions beyond the channel, a stable even seq",
         [&](std::span<std::byte> r) {
             auto* sc = at<CursorShapeControl>(r, L.at(kShape));
             sc->header.data_size = 0xFFFFFFFF;
             sc->header.width = 0xFFFF;
             sc->header.height = 0xFFFF;
             sc->header.pitch = 0xFFFFFFFF;
             sc->seq += 2;
         },
         [](const Attackable::Seen& s, Attackable::Consumer&) { CHECK(s.shape == CursorStatus::invalid); }},
        {"cursor position: visibility 7",
         [&](std::span<std::byte> r) {
             auto* pc = at<CursorPositionControl>(r, L.at(kPos));
             pc->visible = 7;
             pc->seq += 2;
         },
         [](const Attackable::Seen& s, Attackable::Consumer&) { CHECK(s.pos == CursorStatus::invalid); }},
        {"control rings: the producer's read position ahead of every sender, and far behind",
         [&](std::span<std::byte> r) {
             const auto k = L.control();
             for (std::uint32_t i = 0; i < 4; ++i) {
                 auto* rc = at<ControlRingControl>(r, L.at(kControl) + k.rings_offset + i * k.ring_size);
                 rc->read_pos = i % 2 == 0 ? ~0ull - 3 : 1ull << 62;
             }
         },
         [](const Attackable::Seen& s, Attackable::Consumer&) { CHECK(s.sent == ControlStatus::full); }},
    };
    for (const auto& attack : attacks) {
        INFO("attack: " << attack.name);
        Attackable a(spec);
        const auto region = a.region.bytes();
        for (std::uint8_t n = 1; n <= 2; ++n) {
            a.producer_round(n);
            for (auto& c : a.consumers) (void)a.consumer_round(*c);
        }
        attack.forge(region);
        for (auto& c : a.consumers) {
            const auto before = snapshot(region);
            const auto seen = a.consumer_round(*c);
            const auto again = a.consumer_round(*c);  // broken stays broken; nothing more is written
            (void)again;
            CHECK(changed_outside(before, region, a.layout.consumer_owned(c->session.slot_index())).empty());
            attack.expect(seen, *c);
        }
        CHECK(a.region.guards_intact());
    }
}
