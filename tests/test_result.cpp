// SPDX-License-Identifier: MIT
// pane::Result: asking for the side that is not there throws bad_result_access carrying the
// error (never undefined behaviour, whatever NDEBUG says); the -fno-exceptions build, which
// prints and aborts instead, is checked by scripts/pass-headers.sh.
#include <memory>
#include <string>
#include <system_error>

#include <pane/map/memory.hpp>
#include <pane/pane.hpp>

#include "catch.hpp"

using pane::ChannelError;

namespace {
pane::Result<std::string, ChannelError> found() { return std::string("frames"); }
pane::Result<std::string, ChannelError> missing() { return ChannelError::not_found; }
}  // namespace

TEST_CASE("Result: a value reads through value(), ->, * and refuses error()", "[result]") {
    auto r = found();
    REQUIRE(r.has_value());
    CHECK(r.value() == "frames");
    CHECK(r->size() == 6);
    CHECK(*r == "frames");
    const auto& c = r;
    CHECK(c.value() == "frames");
    CHECK(c->size() == 6);
    CHECK(*c == "frames");
    CHECK(std::move(r).value() == "frames");
    CHECK_THROWS_AS(found().error(), pane::bad_result_access<void>);
    try {
        (void)found().error();
        FAIL("error() on a value returned");
    } catch (const std::exception& e) {
        CHECK(std::string(e.what()) == "pane::Result::error() on a value");
    }
}

TEST_CASE("Result: value(), -> and * on an error throw bad_result_access with the error", "[result]") {
    auto r = missing();
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == ChannelError::not_found);
    CHECK_THROWS_AS(r.value(), pane::bad_result_access<ChannelError>);
    CHECK_THROWS_AS(r->size(), pane::bad_result_access<ChannelError>);
    CHECK_THROWS_AS(*r, pane::bad_result_access<ChannelError>);
    const auto& c = r;
    CHECK_THROWS_AS(c.value(), pane::bad_result_access<ChannelError>);
    CHECK_THROWS_AS(c->size(), pane::bad_result_access<ChannelError>);
    CHECK_THROWS_AS(*c, pane::bad_result_access<ChannelError>);
    CHECK_THROWS_AS(missing().value(), pane::bad_result_access<ChannelError>);
    try {
        (void)r.value();
        FAIL("value() on an error returned");
    } catch (const pane::bad_result_access<ChannelError>& e) {
        CHECK(e.error() == ChannelError::not_found);
        const std::string what = e.what();
        CHECK(what.rfind("pane::Result::value() on an error: ", 0) == 0);
        // The error's own message and category, so an uncaught one says what went wrong.
        CHECK(what.find(std::error_code(ChannelError::not_found).message()) != std::string::npos);
        CHECK(what.find(std::error_code(ChannelError::not_found).category().name()) != std::string::npos);
    }
    // One handler for every error type, and the standard hierarchy for generic code.
    CHECK_THROWS_AS(r.value(), pane::bad_result_access<void>);
    CHECK_THROWS_AS(r.value(), std::logic_error);
}

TEST_CASE("Result: a misspelled channel name throws instead of crashing", "[result]") {
    // The reported case: a ring opened by a misspelled name, then used through the Result, which
    // was a null dereference under -DNDEBUG.
    pane::RegionSpec spec;
    spec.add(pane::ring_of<std::uint32_t>("events", 16, pane::RingPolicy::lossless));
    auto region = pane::map::in_process(pane::plan_region(spec).value().region_size);
    auto producer = pane::ProducerSession::create(region.value().bytes(), spec);
    auto consumer = pane::ConsumerSession::attach(region.value().bytes());
    REQUIRE(consumer.has_value());
    auto rx = consumer->ring<std::uint32_t>("evnets");
    REQUIRE_FALSE(rx.has_value());
    CHECK(rx.error() == ChannelError::not_found);
    std::uint32_t v = 0;
    CHECK_THROWS_AS(rx->try_pop(v), pane::bad_result_access<ChannelError>);
    CHECK(consumer->ring<std::uint32_t>("events").has_value());
}
