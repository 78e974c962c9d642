// SPDX-License-Identifier: MIT
// A producer session over an in-process region with one channel, and a 16-byte message whose
// every word derives from its sequence number: what the ring tests share.
#pragma once

#include <chrono>
#include <optional>
#include <utility>

#include "support.hpp"

namespace pane_test {

struct Msg {
    std::uint64_t seq;
    std::uint64_t check;
};
inline Msg make(std::uint64_t s) { return {s, s * 0x9E3779B97F4A7C15ULL}; }
inline bool intact(const Msg& m, std::uint64_t expect) { return m.seq == expect && m.check == make(expect).check; }

struct Fixture {
    // The default consumer timeout (1 s) is what the reaping tests step the producer's clock
    // past; tests with threads waiting on each other pass a long one (see test_concurrency.cpp).
    explicit Fixture(pane::RingSpec ring, std::uint32_t consumers = 4,
                     std::chrono::milliseconds consumer_timeout = std::chrono::milliseconds(1000)) {
        spec.max_consumers = consumers;
        spec.consumer_timeout = consumer_timeout;
        spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
        spec.add(std::move(ring));
        region = memory_region(spec);
        producer.emplace(std::move(pane::ProducerSession::create(region.bytes(), spec).value()));
    }
    pane::ConsumerSession attach() { return std::move(pane::ConsumerSession::attach(region.bytes()).value()); }
    [[nodiscard]] const pane::RegionHeader& header() const {
        return *reinterpret_cast<const pane::RegionHeader*>(region.bytes().data());
    }
    pane::ConsumerSlot& slot(std::uint32_t i) {
        return reinterpret_cast<pane::ConsumerSlot*>(region.bytes().data() + header().slot_table_offset)[i];
    }
    // The RingControl of the first channel (the fixture's only one).
    [[nodiscard]] const pane::RingControl& first_ring_control() const {
        const auto& entry = *reinterpret_cast<const pane::ChannelEntry*>(region.bytes().data() + header().channel_table_offset);
        return *reinterpret_cast<const pane::RingControl*>(region.bytes().data() + entry.offset);
    }
    pane::RegionSpec spec;
    pane::map::Mapping region;
    std::optional<pane::ProducerSession> producer;
};

}  // namespace pane_test
