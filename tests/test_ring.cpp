// SPDX-License-Identifier: MIT
// Ring semantics on an in-process region: both policies, wrap-around of free-running positions
// near 2^64, variable-size byte messages, 32 consumers, and hostile slot contents.
#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "catch.hpp"
#include "ring_fixture.hpp"

using namespace pane;

using pane_test::Fixture;
using pane_test::make;
using pane_test::Msg;

TEST_CASE("lossless ring: order, full, and room after reading", "[ring]") {
    Fixture f(ring_of<Msg>("r", 8, RingPolicy::lossless));
    auto consumer_session = f.attach();
    auto tx = f.producer->ring<Msg>("r").value();
    auto rx = consumer_session.ring<Msg>("r").value();
    f.producer->tick();  // the roster learns about the consumer

    Msg out{};
    CHECK(rx.try_pop(out).status == PopStatus::empty);
    for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(tx.try_push(make(i)) == PushStatus::ok);
    CHECK(tx.try_push(make(8)) == PushStatus::full);
    for (std::uint64_t i = 0; i < 8; ++i) {
        auto r = rx.try_pop(out);
        REQUIRE(r.status == PopStatus::ok);
        CHECK(r.lost == 0);
        CHECK(out.seq == i);
        CHECK(out.check == make(i).check);
    }
    CHECK(rx.try_pop(out).status == PopStatus::empty);
    CHECK(tx.try_push(make(8)) == PushStatus::ok);
    REQUIRE(rx.try_pop(out).status == PopStatus::ok);
    CHECK(out.seq == 8);
}

TEST_CASE("lossless ring without subscribers never blocks the producer", "[ring]") {
    Fixture f(ring_of<Msg>("r", 4, RingPolicy::lossless));
    auto consumer_session = f.attach();  // attached but not subscribed to the ring
    f.producer->tick();
    auto tx = f.producer->ring<Msg>("r").value();
    for (std::uint64_t i = 0; i < 100; ++i) REQUIRE(tx.try_push(make(i)) == PushStatus::ok);
}

TEST_CASE("positions wrap around 2^64 without loss or reordering", "[ring]") {
    for (auto policy : {RingPolicy::lossless, RingPolicy::overwrite}) {
        RingSpec spec = ring_of<Msg>("r", 16, policy);
        spec.initial_position = ~std::uint64_t{0} - 40;  // crosses zero after 41 messages
        Fixture f(spec);
        auto cs = f.attach();
        auto tx = f.producer->ring<Msg>("r").value();
        auto rx = cs.ring<Msg>("r").value();
        f.producer->tick();
        std::uint64_t next = 0;
        Msg out{};
        for (std::uint64_t i = 0; i < 200; ++i) {
            REQUIRE(tx.try_push(make(i)) == PushStatus::ok);
            if (i % 3 == 2) {
                while (rx.try_pop(out).status == PopStatus::ok) {
                    REQUIRE(out.seq == next);
                    ++next;
                }
            }
        }
        while (rx.try_pop(out).status == PopStatus::ok) REQUIRE(out.seq == next++);
        CHECK(next == 200);
        CHECK(rx.bytes().position() == spec.initial_position + 200);  // wrapped
        CHECK(rx.bytes().lost_total() == 0);
    }
}

TEST_CASE("overwrite ring reports exactly how many messages were lost", "[ring]") {
    RingSpec spec = ring_of<Msg>("r", 8, RingPolicy::overwrite);
    spec.initial_position = ~std::uint64_t{0} - 5;
    Fixture f(spec);
    auto cs = f.attach();
    auto tx = f.producer->ring<Msg>("r").value();
    auto rx = cs.ring<Msg>("r").value();
    for (std::uint64_t i = 0; i < 30; ++i) REQUIRE(tx.try_push(make(i)) == PushStatus::ok);  // never full
    Msg out{};
    auto r = rx.try_pop(out);
    REQUIRE(r.status == PopStatus::ok);
    CHECK(r.lost == 22);  // 30 written, the last 8 remain
    CHECK(out.seq == 22);
    std::uint64_t expect = 23;
    while ((r = rx.try_pop(out)).status == PopStatus::ok) {
        CHECK(r.lost == 0);
        CHECK(out.seq == expect++);
    }
    CHECK(expect == 30);
    CHECK(rx.bytes().lost_total() == 22);
}

TEST_CASE("byte ring carries variable-size messages and rejects oversize ones", "[ring]") {
    Fixture f(RingSpec{"bytes", 100, 8, RingPolicy::lossless});
    auto cs = f.attach();
    auto tx = f.producer->byte_ring("bytes").value();
    auto rx = cs.byte_ring("bytes").value();
    f.producer->tick();
    std::array<std::byte, 101> big{};
    CHECK(tx.try_push(big) == PushStatus::too_large);
    for (std::size_t len : {0u, 1u, 7u, 8u, 9u, 100u}) {
        std::vector<std::byte> m(len);
        for (std::size_t i = 0; i < len; ++i) m[i] = std::byte(len + i);
        REQUIRE(tx.try_push(m) == PushStatus::ok);
    }
    std::array<std::byte, 4> small{};
    std::array<std::byte, 100> buf{};
    for (std::size_t len : {0u, 1u, 7u, 8u, 9u, 100u}) {
        if (len > small.size()) {
            auto r = rx.try_pop(small);
            CHECK(r.status == PopStatus::buffer_too_small);  // not consumed
            CHECK(r.length == len);
        }
        auto r = rx.try_pop(buf);
        REQUIRE(r.status == PopStatus::ok);
        REQUIRE(r.length == len);
        for (std::size_t i = 0; i < len; ++i) CHECK(buf[i] == std::byte(len + i));
    }
}

TEST_CASE("32 consumers each receive every message; the slowest holds a lossless ring", "[ring]") {
    Fixture f(ring_of<Msg>("r", 64, RingPolicy::lossless), 32);
    std::vector<ConsumerSession> sessions;
    std::vector<RingConsumer<Msg>> readers;
    for (int i = 0; i < 32; ++i) {
        sessions.push_back(f.attach());
        readers.push_back(sessions.back().ring<Msg>("r").value());
    }
    CHECK(ConsumerSession::attach(f.region.bytes()).error() == AttachError::no_free_slot);
    f.producer->tick();
    CHECK(std::popcount(f.producer->live_consumers()) == 32);
    auto tx = f.producer->ring<Msg>("r").value();
    std::vector<std::uint64_t> next(32, 0);
    std::uint64_t sent = 0;
    Msg out{};
    for (int round = 0; round < 40; ++round) {
        while (tx.try_push(make(sent)) == PushStatus::ok) ++sent;
        // Everyone but consumer 31 drains; the ring stays full until 31 reads too.
        for (int c = 0; c < 31; ++c) {
            while (readers[c].try_pop(out).status == PopStatus::ok) REQUIRE(out.seq == next[c]++);
        }
        CHECK(tx.try_push(make(sent)) == PushStatus::full);
        while (readers[31].try_pop(out).status == PopStatus::ok) REQUIRE(out.seq == next[31]++);
    }
    for (int c = 0; c < 32; ++c) CHECK(next[c] == sent);
    CHECK(sent == 40 * 64);
}

TEST_CASE("a consumer that stops heartbeating is reaped and stops holding the ring", "[ring][session]") {
    Fixture f(ring_of<Msg>("r", 4, RingPolicy::lossless));
    auto zombie = f.attach();
    auto zombie_rx = zombie.ring<Msg>("r").value();
    auto tx = f.producer->ring<Msg>("r").value();
    const auto t0 = Clock::now();
    f.producer->tick(t0);
    for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(tx.try_push(make(i)) == PushStatus::ok);
    CHECK(tx.try_push(make(4)) == PushStatus::full);
    f.producer->tick(t0 + std::chrono::milliseconds(500));  // within the 1 s timeout
    CHECK(tx.try_push(make(4)) == PushStatus::full);
    f.producer->tick(t0 + std::chrono::milliseconds(1200));  // silent for longer than the timeout
    CHECK(f.producer->reaped_total() == 1);
    CHECK(f.producer->live_consumers() == 0);
    CHECK(tx.try_push(make(4)) == PushStatus::ok);
    CHECK(zombie.tick() == SessionStatus::slot_lost);
    // Its slot is free again for a new consumer.
    auto fresh = f.attach();
    CHECK(fresh.slot_index() == zombie.slot_index());
}

TEST_CASE("hostile slot contents mark the channel broken instead of overreading", "[ring][hostile]") {
    Fixture f(RingSpec{"r", 32, 8, RingPolicy::overwrite});
    auto cs = f.attach();
    auto tx = f.producer->byte_ring("r").value();
    auto rx = cs.byte_ring("r").value();
    std::array<std::byte, 32> msg{};
    REQUIRE(tx.try_push(msg) == PushStatus::ok);
    // Forge the slot's length beyond the element size, as a hostile producer could.
    const auto& entry = f.producer->plan().channels[0].entry;
    auto* base = f.region.bytes().data() + entry.offset;
    const auto* control = reinterpret_cast<RingControl*>(base);
    auto* slot = reinterpret_cast<RingSlotHeader*>(base + control->slots_offset);
    slot->length = 1u << 30;
    std::array<std::byte, 64> out{};
    CHECK(rx.try_pop(out).status == PopStatus::broken);
    CHECK(rx.try_pop(out).status == PopStatus::broken);  // stays broken
    CHECK(rx.broken());
}

TEST_CASE("a forged write position cannot send a consumer far out of range", "[ring][hostile]") {
    Fixture f(ring_of<Msg>("r", 8, RingPolicy::overwrite));
    auto cs = f.attach();
    auto tx = f.producer->ring<Msg>("r").value();
    auto rx = cs.ring<Msg>("r").value();
    for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(tx.try_push(make(i)) == PushStatus::ok);
    auto* control = reinterpret_cast<RingControl*>(f.region.bytes().data() + f.producer->plan().channels[0].entry.offset);
    // A slot that claims to be from a later lap while write_pos says we are far ahead of it.
    auto* slot = reinterpret_cast<RingSlotHeader*>(reinterpret_cast<std::byte*>(control) + control->slots_offset);
    slot->seq = detail::seq_complete(control->write_pos + 1000);
    control->write_pos = control->write_pos - (std::uint64_t{1} << 63);
    Msg out{};
    CHECK(rx.try_pop(out).status == PopStatus::broken);
}

TEST_CASE("a ring entry whose size does not match its geometry is rejected before any read", "[ring][hostile]") {
    Fixture f(ring_of<Msg>("r", 8, RingPolicy::lossless));
    auto* header = reinterpret_cast<RegionHeader*>(f.region.bytes().data());
    auto* table = reinterpret_cast<ChannelEntry*>(f.region.bytes().data() + header->channel_table_offset);
    // An empty channel at the very end of the region: passes the table checks, but reading its
    // control line would run past the mapping.
    header->region_size = f.region.size();
    table[0].offset = f.region.size();
    table[0].size = 0;
    auto cs = f.attach();
    CHECK(cs.ring<Msg>("r").error() == ChannelError::invalid_layout);
}

TEST_CASE("a blocking pop honours its deadline when a slot stays half-written", "[ring][hostile]") {
    Fixture f(ring_of<Msg>("r", 8, RingPolicy::overwrite));
    auto cs = f.attach();
    auto rx = cs.ring<Msg>("r").value();
    auto* control = reinterpret_cast<RingControl*>(f.region.bytes().data() + f.producer->plan().channels[0].entry.offset);
    auto* slot = reinterpret_cast<RingSlotHeader*>(reinterpret_cast<std::byte*>(control) + control->slots_offset);
    // write_pos says one message is there, but its slot says "being written" forever.
    slot->seq = detail::seq_writing(control->write_pos);
    control->write_pos += 1;
    Msg out{};
    const auto start = Clock::now();
    CHECK(rx.pop(out, BusySpin{}, Deadline::after(std::chrono::milliseconds(50))).status == PopStatus::timed_out);
    CHECK(Clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("a consumer that detached cannot reopen a ring and unprotect the slot's next holder", "[ring][session]") {
    Fixture f(ring_of<Msg>("r", 4, RingPolicy::lossless), 1);
    auto a = f.attach();
    a.detach();
    auto b = f.attach();  // takes the same slot
    REQUIRE(b.slot_index() == a.slot_index());
    auto rx = b.ring<Msg>("r").value();
    CHECK(a.ring<Msg>("r").error() == ChannelError::not_attached);
    auto tx = f.producer->ring<Msg>("r").value();
    CHECK(tx.bytes().subscribers_approx() == 1);
    for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(tx.try_push(make(i)) == PushStatus::ok);
    CHECK(tx.try_push(make(4)) == PushStatus::full);  // b still holds the ring
}
