// SPDX-License-Identifier: MIT
// The layout plan and error plumbing. Field offsets are static_asserts in layout.hpp; here we
// check what the plan computes from a spec, against the formulas in docs/protocol.md.
#include <cstring>

#include "catch.hpp"
#include "support.hpp"

using namespace pane;

TEST_CASE("plan_region places tables and channels as the protocol specifies", "[layout]") {
    RegionSpec spec;
    spec.max_consumers = 32;
    spec.channel_table_capacity = 16;
    spec.add(ring_of<std::uint64_t>("a", 1024, RingPolicy::lossless));
    spec.add(RingSpec{"b", 100, 8, RingPolicy::overwrite});
    auto plan = plan_region(spec);
    REQUIRE(plan.has_value());
    CHECK(plan->channel_table_offset == 256);
    CHECK(plan->slot_table_offset == 256 + 16 * 64);
    const std::uint64_t first = 256 + 16 * 64 + 32 * 128;
    REQUIRE(plan->channels.size() == 2);
    const auto& a = plan->channels[0].entry;
    CHECK(a.offset == first);
    // RingControl 192 + 32 cursors * 64, then 1024 slots of 16 + 8 bytes.
    CHECK(a.size == 192 + 32 * 64 + 1024 * 24);
    CHECK(a.kind == static_cast<std::uint32_t>(ChannelKind::ring));
    CHECK(a.flags == kRingFlagWakeups);
    CHECK(std::strcmp(a.name, "a") == 0);
    const auto& b = plan->channels[1].entry;
    CHECK(b.offset == detail::round_up(a.offset + a.size, 64));
    CHECK(b.size == detail::round_up(192 + 32 * 64 + 8 * detail::round_up(16 + 100, 8), 64));
    CHECK(plan->region_size == b.offset + b.size);
}

TEST_CASE("plan_region rejects invalid specs with the documented error", "[layout]") {
    RegionSpec spec;
    spec.max_consumers = 0;
    CHECK(plan_region(spec).error() == InitError::too_many_consumers);
    spec.max_consumers = kMaxConsumers + 1;
    CHECK(plan_region(spec).error() == InitError::too_many_consumers);
    spec.max_consumers = 4;
    spec.add(RingSpec{"bad", 8, 1000, RingPolicy::lossless});  // not a power of two
    CHECK(plan_region(spec).error() == InitError::invalid_layout);
    spec.channels.clear();
    spec.add(RingSpec{"dup", 8, 8, RingPolicy::lossless}).add(RingSpec{"dup", 8, 8, RingPolicy::lossless});
    CHECK(plan_region(spec).error() == InitError::invalid_layout);
    spec.channels.clear();
    spec.add(RingSpec{"has space", 8, 8, RingPolicy::lossless});
    CHECK(plan_region(spec).error() == InitError::invalid_layout);
    spec.channels.clear();
    spec.add(RingSpec{"zero", 0, 8, RingPolicy::lossless});
    CHECK(plan_region(spec).error() == InitError::invalid_layout);
    spec.channels.clear();
    spec.channel_table_capacity = 1;
    spec.add(RingSpec{"x", 8, 8, RingPolicy::lossless}).add(RingSpec{"y", 8, 8, RingPolicy::lossless});
    CHECK(plan_region(spec).error() == InitError::too_many_channels);
}

TEST_CASE("error enums convert to std::error_code with messages", "[layout]") {
    std::error_code ec = AttachError::no_free_slot;
    CHECK(ec.category().name() == std::string("pane.attach"));
    CHECK(ec.message() == "all consumer slots are in use");
    std::error_code map = MapError::not_found;
    CHECK(map.category().name() == std::string("pane.map"));
    CHECK(map != std::error_code(AttachError::region_too_small));
}
