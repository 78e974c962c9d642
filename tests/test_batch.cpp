// SPDX-License-Identifier: MIT
// Batch push/pop, timeouts that start when a call first waits, and the asymmetric wake-up fences'
// bookkeeping (protocol 1.3: kRegionFlagAsymmetricWake, kConsumerFeatureHeavyFence).
#include <array>
#include <chrono>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "ring_fixture.hpp"

using namespace pane;
using namespace std::chrono_literals;

using pane_test::Fixture;
using pane_test::intact;
using pane_test::make;
using pane_test::Msg;

namespace {

std::vector<Msg> messages(std::uint64_t first, std::size_t n) {
    std::vector<Msg> v;
    for (std::size_t i = 0; i < n; ++i) v.push_back(make(first + i));
    return v;
}

}  // namespace

TEST_CASE("lossless batch push publishes what fits; batch pop returns it in order", "[ring][batch]") {
    Fixture f(ring_of<Msg>("r", 8, RingPolicy::lossless));
    auto session = f.attach();
    auto rx = session.ring<Msg>("r").value();
    auto tx = f.producer->ring<Msg>("r").value();
    f.producer->tick();

    const auto first = messages(0, 5);
    CHECK(tx.try_push_batch(first) == 5);
    const auto second = messages(5, 6);
    CHECK(tx.try_push_batch(second) == 3);  // room for 8 in all
    CHECK(tx.try_push_batch(messages(8, 1)) == 0);

    std::array<Msg, 6> out{};
    auto r = rx.try_pop_batch(out);
    REQUIRE(r.status == PopStatus::ok);
    REQUIRE(r.count == 6);
    CHECK(r.lost == 0);
    for (std::size_t i = 0; i < r.count; ++i) CHECK(intact(out[i], i));
    r = rx.try_pop_batch(out);
    REQUIRE(r.status == PopStatus::ok);
    REQUIRE(r.count == 2);
    CHECK(intact(out[0], 6));
    CHECK(intact(out[1], 7));
    CHECK(rx.try_pop_batch(out).status == PopStatus::empty);
    CHECK(rx.bytes().delivered_total() == 8);

    // Room came back with the one read_pos store of each batch pop.
    CHECK(tx.try_push_batch(messages(8, 8)) == 8);
    Msg one{};
    REQUIRE(rx.try_pop(one).status == PopStatus::ok);  // single and batch pops mix
    CHECK(intact(one, 8));
    r = rx.try_pop_batch(std::span<Msg>(out).first(1));
    REQUIRE(r.count == 1);
    CHECK(intact(out[0], 9));
}

TEST_CASE("overwrite batch push never waits; a lapped batch reader is told exactly what it lost", "[ring][batch]") {
    Fixture f(ring_of<Msg>("r", 8, RingPolicy::overwrite));
    auto session = f.attach();
    auto rx = session.ring<Msg>("r").value();
    auto tx = f.producer->ring<Msg>("r").value();
    CHECK(tx.try_push_batch(messages(0, 20)) == 20);  // more than a ring in one batch
    std::array<Msg, 16> out{};
    std::uint64_t lost = 0, next = 0, delivered = 0;
    for (;;) {
        const auto r = rx.try_pop_batch(out);
        lost += r.lost;
        if (r.status == PopStatus::empty) break;
        REQUIRE(r.status == PopStatus::ok);
        for (std::size_t i = 0; i < r.count; ++i) {
            if (i == 0) next += r.lost;  // the loss lies before the batch's first message
            CHECK(intact(out[i], next));
            ++next;
            ++delivered;
        }
    }
    CHECK(delivered + lost == 20);
    CHECK(lost == 12);
    CHECK(next == 20);
}

TEST_CASE("batch pop of a ring whose message has another length reports broken", "[ring][batch][hostile]") {
    Fixture f(ring_of<Msg>("r", 8, RingPolicy::overwrite));
    auto session = f.attach();
    auto rx = session.ring<Msg>("r").value();
    auto tx = f.producer->ring<Msg>("r").value();
    REQUIRE(tx.try_push(make(0)) == PushStatus::ok);
    // Forge the second message's length, as a hostile producer could.
    const std::byte shorter[8]{};
    REQUIRE(tx.bytes().try_push(std::span<const std::byte>(shorter)) == PushStatus::ok);
    std::array<Msg, 4> out{};
    auto r = rx.try_pop_batch(out);
    REQUIRE(r.status == PopStatus::ok);  // the run of good messages before it
    CHECK(r.count == 1);
    r = rx.try_pop_batch(out);
    CHECK(r.status == PopStatus::broken);
    CHECK(r.count == 0);
    CHECK(rx.try_pop_batch(out).status == PopStatus::broken);
}

TEST_CASE("batch calls check their arguments", "[ring][batch]") {
    Fixture f(ring_of<Msg>("r", 8, RingPolicy::lossless));
    auto session = f.attach();
    auto rx = session.ring<Msg>("r").value();
    auto tx = f.producer->ring<Msg>("r").value();
    CHECK(tx.try_push_batch(std::span<const Msg>{}) == 0);
    const std::array<std::byte, 64> big{};
    CHECK(tx.bytes().try_push_batch(big, 64).status == PushStatus::too_large);  // beyond element_size
    CHECK(tx.bytes().try_push_batch(big, 0).status == PushStatus::too_large);
    std::array<std::byte, 8> small{};
    CHECK(rx.bytes().try_pop_batch(small, sizeof(Msg)).status == PopStatus::buffer_too_small);
    CHECK(rx.try_pop_batch(std::span<Msg>{}).status == PopStatus::buffer_too_small);
}

TEST_CASE("a timeout starts when the call first waits; a Deadline is absolute", "[ring][wait]") {
    const auto before = Clock::now();
    const WaitLimit timeout(50ms);
    const auto later = before + 10s;
    CHECK(timeout.start(later).time() == later + 50ms);
    const WaitLimit absolute(Deadline::at(before + 1s));
    CHECK(absolute.start(later).time() == before + 1s);
    CHECK(WaitLimit(-5ms).start(later).time() == later);  // never before the call

    Fixture f(ring_of<Msg>("r", 8, RingPolicy::lossless));
    auto session = f.attach();
    auto rx = session.ring<Msg>("r").value();
    Msg out{};
    const auto t0 = Clock::now();
    CHECK(rx.pop(out, SpinThenSleep{}, 30ms).status == PopStatus::timed_out);
    CHECK(Clock::now() - t0 >= 30ms);
    CHECK(rx.pop(out, SpinThenSleep{}, Deadline::at(Clock::now() - 1s)).status == PopStatus::timed_out);
}

// A zero or past limit ("one more look") must not cost the spin a long wait starts with: every
// strategy reads the clock after each kPollsPerClockRead polls and stops there. Counted, not
// timed, so a loaded machine cannot make it pass or fail.
TEST_CASE("a wait whose deadline has passed polls at most one clock read's worth", "[wait]") {
    const AnyWait strategies[] = {AutoWait{}, BusySpin{}, SpinThenYield{}, SpinThenSleep{}, FutexWait{}};
    for (const AnyWait& strategy : strategies) {
        INFO(wait_name(strategy));
        unsigned polls = 0;
        const auto never = [&polls] { return ++polls == 0; };
        CHECK(wait_for(strategy, never, NoSleeper{}, Deadline::at(Clock::now() - 1ms)) == WaitStatus::timed_out);
        CHECK(polls >= 1);
        // The burst, the look after it, and the last look before a strategy reports timed_out.
        CHECK(polls <= detail::kPollsPerClockRead + 3);
    }
}

TEST_CASE("a producer publishes with light fences only while every local holder issues heavy ones", "[session][wait]") {
    Fixture f(ring_of<Msg>("r", 8, RingPolicy::lossless));
    const bool registered = detail::register_for_light_fences();
    CHECK(((f.header().flags & kRegionFlagAsymmetricWake) != 0) == registered);
    if (!registered) {
        WARN("membarrier global expedited is not available here: every fence is full, nothing more to check");
        return;
    }
    if (detail::host_id() == 0) {
        WARN("this machine has no kernel identity (no boot_id, no PANE_HOST_ID): holders count as naming none");
        return;
    }
    CHECK_FALSE(f.producer->light_wakes());  // not before the roster has seen the slots once
    auto session = f.attach();
    const auto index = session.slot_index();
    CHECK((detail::load_relaxed(f.slot(index).features) & kConsumerFeatureHeavyFence) != 0);
    f.producer->tick();
    CHECK(f.producer->light_wakes());

    // A consumer of protocol 1.2 writes no features, and may inherit its predecessor's: only
    // features written under the holder's own claim count.
    detail::store_relaxed(f.slot(index).features_claim, std::uint64_t{0});
    f.producer->tick();
    CHECK_FALSE(f.producer->light_wakes());
    detail::store_relaxed(f.slot(index).features_claim, detail::load_relaxed(f.slot(index).claim));
    detail::store_relaxed(f.slot(index).features, std::uint64_t{0});
    f.producer->tick();
    CHECK_FALSE(f.producer->light_wakes());
    // A 1.0 or 1.1 holder names no kernel: it may sleep on our futex, so it counts.
    detail::store_relaxed(f.slot(index).host_id, std::uint64_t{0});
    f.producer->tick();
    CHECK_FALSE(f.producer->light_wakes());
    // A holder on another kernel never sleeps on our futex: it does not count.
    detail::store_relaxed(f.slot(index).host_id, detail::host_id() ^ 0x5a5a);
    f.producer->tick();
    CHECK(f.producer->light_wakes());
    detail::store_relaxed(f.slot(index).host_id, detail::host_id());
    detail::store_relaxed(f.slot(index).features, kConsumerFeatureHeavyFence);
    f.producer->tick();
    CHECK(f.producer->light_wakes());
}
