// SPDX-License-Identifier: MIT
// Session handshakes on an in-process region: attach and detach, slot exhaustion and reuse,
// producer heartbeat staleness on the consumer's clock, close, re-initialisation with a new
// epoch, and attach-time validation of a corrupted header or channel table.
#include <cstring>

#include "catch.hpp"
#include "support.hpp"

using namespace pane;

namespace {
RegionSpec small_spec(std::uint32_t consumers = 2) {
    RegionSpec spec;
    spec.max_consumers = consumers;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.add(RingSpec{"r", 16, 8, RingPolicy::lossless});
    return spec;
}
}  // namespace

TEST_CASE("attach before any producer reports a clear error", "[session]") {
    auto region = pane_test::memory_region(small_spec());
    CHECK(ConsumerSession::attach(region.bytes()).error() == AttachError::bad_magic);
    std::array<std::byte, 16> tiny{};
    CHECK(ConsumerSession::attach(tiny).error() == AttachError::region_too_small);
}

TEST_CASE("slots are claimed, exhausted, released on detach and reused", "[session]") {
    const auto spec = small_spec(2);
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto a = ConsumerSession::attach(region.bytes()).value();
    auto b = ConsumerSession::attach(region.bytes()).value();
    CHECK(a.slot_index() != b.slot_index());
    CHECK(a.epoch() == producer.epoch());
    CHECK(ConsumerSession::attach(region.bytes()).error() == AttachError::no_free_slot);
    producer.tick();
    CHECK(producer.live_consumers() == 0b11);
    const auto freed = b.slot_index();
    b.detach();
    producer.tick();
    CHECK(producer.live_consumers() == (std::uint64_t{1} << a.slot_index()));
    auto c = ConsumerSession::attach(region.bytes()).value();
    CHECK(c.slot_index() == freed);
    CHECK(a.tick() == SessionStatus::ok);
}

TEST_CASE("channel lookup errors", "[session]") {
    const auto spec = small_spec();
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto consumer = ConsumerSession::attach(region.bytes()).value();
    CHECK(consumer.byte_ring("nope").error() == ChannelError::not_found);
    CHECK(consumer.ring<std::uint32_t>("r").error() == ChannelError::wrong_element);
    {
        auto first = consumer.byte_ring("r");
        REQUIRE(first.has_value());
        CHECK(consumer.byte_ring("r").error() == ChannelError::already_open);
    }
    CHECK(consumer.byte_ring("r").has_value());  // released with the handle
    auto tx = producer.byte_ring("r");
    REQUIRE(tx.has_value());
    CHECK(producer.byte_ring("r").error() == ChannelError::already_open);
}

TEST_CASE("a silent producer is reported stale on the consumer's clock", "[session]") {
    const auto spec = small_spec();
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto consumer = ConsumerSession::attach(region.bytes()).value();
    const auto t0 = Clock::now();
    CHECK(consumer.tick(t0) == SessionStatus::ok);
    CHECK(consumer.tick(t0 + std::chrono::milliseconds(900)) == SessionStatus::ok);
    CHECK(consumer.tick(t0 + std::chrono::milliseconds(1100)) == SessionStatus::producer_stale);
    producer.tick(Clock::now() + std::chrono::seconds(1));  // the heartbeat moves again
    CHECK(consumer.tick(t0 + std::chrono::milliseconds(1200)) == SessionStatus::ok);
}

TEST_CASE("close and re-initialisation are seen by consumers", "[session]") {
    const auto spec = small_spec();
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    const auto first_epoch = producer.epoch();
    {
        auto consumer = ConsumerSession::attach(region.bytes()).value();
        producer.close();
        CHECK(consumer.tick() == SessionStatus::producer_closed);
    }
    CHECK(ConsumerSession::attach(region.bytes()).error() == AttachError::not_ready);

    auto stale = ConsumerSession::attach(region.bytes());  // not_ready: no session
    CHECK(!stale.has_value());
    auto second = ProducerSession::create(region.bytes(), spec).value();
    CHECK(second.epoch() != first_epoch);
    CHECK(second.epoch() != 0);
    auto consumer = ConsumerSession::attach(region.bytes()).value();
    CHECK(consumer.epoch() == second.epoch());
    auto third = ProducerSession::create(region.bytes(), spec, ProducerOptions{std::chrono::milliseconds(20)});
    REQUIRE(third.has_value());
    CHECK(consumer.tick() == SessionStatus::epoch_changed);
    consumer.detach();
    auto again = ConsumerSession::attach(region.bytes()).value();
    CHECK(again.epoch() == third->epoch());
    CHECK(reinterpret_cast<const RegionHeader*>(region.bytes().data())->init_count == 3);
}

TEST_CASE("a re-initialising producer releases slots held from the previous epoch", "[session]") {
    const auto spec = small_spec(1);
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto held = ConsumerSession::attach(region.bytes()).value();  // never ticks again: as if dead
    CHECK(ConsumerSession::attach(region.bytes()).error() == AttachError::no_free_slot);
    auto restarted = ProducerSession::create(region.bytes(), spec, ProducerOptions{std::chrono::milliseconds(10)});
    REQUIRE(restarted.has_value());
    auto fresh = ConsumerSession::attach(region.bytes());
    REQUIRE(fresh.has_value());
    CHECK(held.tick() == SessionStatus::epoch_changed);  // reported before the lost slot
}

TEST_CASE("attach rejects a corrupted header or channel table", "[session][hostile]") {
    const auto spec = small_spec();
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto* header = reinterpret_cast<RegionHeader*>(region.bytes().data());
    auto* table = reinterpret_cast<ChannelEntry*>(region.bytes().data() + header->channel_table_offset);

    auto expect = [&](auto corrupt, AttachError error) {
        const RegionHeader saved_header = *header;
        const ChannelEntry saved_entry = table[0];
        corrupt();
        CHECK(ConsumerSession::attach(region.bytes()).error() == error);
        *header = saved_header;
        table[0] = saved_entry;
        REQUIRE(ConsumerSession::attach(region.bytes()).has_value());
    };
    expect([&] { header->version_major = 2; }, AttachError::unsupported_version);
    expect([&] { header->region_size = region.size() + 1; }, AttachError::region_too_small);
    expect([&] { header->max_consumers = 0; }, AttachError::invalid_layout);
    expect([&] { header->max_consumers = 65; }, AttachError::invalid_layout);
    expect([&] { header->slot_table_offset = header->region_size - 64; }, AttachError::invalid_layout);
    expect([&] { header->channel_table_offset = 3; }, AttachError::invalid_layout);
    expect([&] { header->channel_count = header->channel_table_capacity + 1; }, AttachError::invalid_layout);
    expect([&] { table[0].offset = header->region_size; }, AttachError::invalid_layout);
    expect([&] { table[0].size = ~std::uint64_t{0}; }, AttachError::invalid_layout);
    expect([&] { std::memset(table[0].name, 'x', sizeof(table[0].name)); }, AttachError::invalid_layout);
}

TEST_CASE("opening a ring with forged geometry fails validation", "[session][hostile]") {
    const auto spec = small_spec();
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto* header = reinterpret_cast<RegionHeader*>(region.bytes().data());
    auto* table = reinterpret_cast<ChannelEntry*>(region.bytes().data() + header->channel_table_offset);
    auto* control = reinterpret_cast<RingControl*>(region.bytes().data() + table[0].offset);
    control->slot_stride = 1u << 20;  // would index far outside the channel
    auto consumer = ConsumerSession::attach(region.bytes()).value();
    CHECK(consumer.byte_ring("r").error() == ChannelError::invalid_layout);
    control->slot_stride = static_cast<std::uint32_t>(detail::round_up(16 + 16, 8));
    control->policy = 7;
    CHECK(consumer.byte_ring("r").error() == ChannelError::invalid_layout);
}
