// SPDX-License-Identifier: MIT
// Threads waiting on each other through futex wake-ups: blocking batch calls, and the liveness of
// the asymmetric fence handshake (protocol 1.3) in both directions. In the concurrency suite, so
// the TSan pass runs them.
#include <array>
#include <atomic>
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

TEST_CASE("blocking batch calls wait for room and for messages, bounded by their limit", "[ring][batch]") {
    Fixture f(ring_of<Msg>("r", 8, RingPolicy::lossless), 4, 60s);
    auto session = f.attach();
    auto rx = session.ring<Msg>("r").value();
    auto tx = f.producer->ring<Msg>("r").value();
    f.producer->tick();
    std::array<Msg, 4> out{};
    CHECK(rx.pop_batch(out, FutexWait{}, 20ms).status == PopStatus::timed_out);
    std::vector<Msg> all;
    for (std::uint64_t i = 0; i < 20; ++i) all.push_back(make(i));
    auto partial = tx.push_batch(all, FutexWait{}, 20ms);  // nobody reads: 8 fit, then the limit
    CHECK(partial.status == PushStatus::timed_out);
    CHECK(partial.count == 8);

    // Catch2's assertions are not thread-safe: the reader counts, the main thread checks.
    std::uint64_t next = 0, damaged = 0;
    std::thread reader([&] {
        std::array<Msg, 3> in{};
        while (next < 20) {
            const auto r = rx.pop_batch(in, FutexWait{}, 30s);
            if (r.status != PopStatus::ok) break;
            for (std::size_t i = 0; i < r.count; ++i, ++next) damaged += intact(in[i], next) ? 0 : 1;
        }
    });
    const auto rest = tx.push_batch(std::span<const Msg>(all).subspan(8), FutexWait{}, 30s);
    reader.join();
    CHECK(rest.status == PushStatus::ok);
    CHECK(rest.count == 12);
    CHECK(next == 20);
    CHECK(damaged == 0);
}

// Liveness of the asymmetric handshake in both directions. Each hop is driven so that the
// waiting side has announced its futex sleep (with no spin) before the other side acts, so every
// hop needs a wake through the light/heavy fence pair. The sleeper's slice and limit are a
// minute: a lost wake shows as one call that took that long, which the test counts (10 s is the
// threshold: no loaded machine takes that long to deliver a wake). This checks which side
// fences when, on every path; the memory-model argument for the pair is protocol 7.6's, and the
// instant in which a missing fence would lose a wake is too short for a test to aim at.
TEST_CASE("futex waits over light fences never lose a wake, in either direction", "[concurrency][wait]") {
    Fixture f(ring_of<Msg>("r", 4, RingPolicy::lossless), 4, 60s);
    auto session = f.attach();
    auto rx = session.ring<Msg>("r").value();
    f.producer->tick();
    auto tx = f.producer->ring<Msg>("r").value();
    const RingControl& control = f.first_ring_control();
    const FutexWait sleep_only{0, std::chrono::milliseconds(60'000)};
    const std::uint64_t hops = pane_test::scaled(1000);
    const auto eventually = [](auto&& condition) { return pane_test::eventually(condition, 60s); };
    constexpr auto kLostWake = 10s;

    SECTION("the consumer sleeps, the producer wakes it") {
        std::atomic<std::uint64_t> received{0};
        std::atomic<bool> failed{false};
        std::atomic<int> lost_wakes{0};
        std::thread reader([&] {
            Msg m{};
            for (std::uint64_t i = 0; i < hops; ++i) {
                const auto t0 = Clock::now();
                if (rx.pop(m, sleep_only, 60s).status != PopStatus::ok || !intact(m, i)) {
                    failed = true;
                    return;
                }
                if (Clock::now() - t0 > kLostWake) ++lost_wakes;
                received.store(i + 1);
            }
        });
        std::uint64_t sent = 0;
        for (; sent < hops && !failed; ++sent) {
            // The reader has announced itself: it is asleep, or about to be.
            if (!eventually([&] { return detail::load_relaxed(control.sleepers) != 0 || failed; })) break;
            if (tx.try_push(make(sent)) != PushStatus::ok) break;
            if (!eventually([&] { return received.load() == sent + 1 || failed; })) break;
        }
        reader.join();
        CHECK_FALSE(failed.load());
        CHECK(received.load() == hops);
        CHECK(lost_wakes.load() == 0);
    }
    SECTION("the producer sleeps for room, the consumer wakes it") {
        for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(tx.try_push(make(i)) == PushStatus::ok);
        std::atomic<bool> stop{false};
        std::uint64_t read = 0;
        std::thread reader([&] {
            Msg m{};
            while (read < hops && !stop) {
                // One message a time, and only while the producer has announced its sleep.
                if (!eventually([&] { return detail::load_relaxed(control.producer_sleeping) != 0 || stop; })) return;
                if (stop) return;
                if (rx.try_pop(m).status != PopStatus::ok || !intact(m, read)) return;
                ++read;
                // Wait for the producer to fill the slot again before looking for its next sleep.
                if (!eventually([&] { return detail::load_relaxed(control.write_pos) == read + 4 || stop; })) return;
            }
        });
        std::uint64_t pushed = 4;
        int lost_wakes = 0;
        for (; pushed < hops + 4; ++pushed) {
            const auto t0 = Clock::now();
            if (tx.push(make(pushed), sleep_only, 60s) != PushStatus::ok) break;
            if (Clock::now() - t0 > kLostWake) ++lost_wakes;
        }
        stop = true;
        reader.join();
        CHECK(pushed == hops + 4);
        CHECK(read >= hops);
        CHECK(lost_wakes == 0);
    }
}
