// SPDX-License-Identifier: MIT
// Threads on one in-process region: a producer hammering while consumers read. These are the
// tests the TSan pass runs; each checks content so a torn or reordered message fails it.
#include <atomic>
#include <cstdio>
#include <algorithm>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support.hpp"

using namespace pane;

namespace {

// A message whose every word derives from its sequence number: any tear shows.
struct Wide {
    std::uint64_t seq;
    std::uint64_t words[15];
};
Wide make_wide(std::uint64_t s) {
    Wide w{};
    w.seq = s;
    for (std::uint64_t i = 0; i < 15; ++i) w.words[i] = s * 31 + i;
    return w;
}
bool intact(const Wide& w) {
    for (std::uint64_t i = 0; i < 15; ++i) {
        if (w.words[i] != w.seq * 31 + i) return false;
    }
    return true;
}

template <class Wait>
void lossless_transfer(const Wait& wait, std::uint64_t count, int consumers) {
    RegionSpec spec;
    spec.max_consumers = 4;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    // Reaping is not under test here: on a loaded machine (or a VM losing its vCPU) a runnable
    // consumer thread can go unscheduled for a second, and must not be reaped for it.
    spec.consumer_timeout = std::chrono::seconds(30);
    spec.add(ring_of<Wide>("r", 64, RingPolicy::lossless));
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    std::vector<ConsumerSession> sessions;
    std::vector<RingConsumer<Wide>> readers;
    for (int c = 0; c < consumers; ++c) {
        sessions.push_back(ConsumerSession::attach(region.bytes()).value());
        readers.push_back(sessions.back().ring<Wide>("r").value());
    }
    producer.tick();
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < consumers; ++c) {
        threads.emplace_back([&, c] {
            Wide out{};
            for (std::uint64_t expect = 0; expect < count; ++expect) {
                if ((expect & 0xfff) == 0) (void)sessions[c].tick();  // as a live consumer does
                auto r = readers[c].pop(out, wait, Deadline::after(std::chrono::seconds(20)));
                if (r.status != PopStatus::ok || r.lost != 0 || out.seq != expect || !intact(out)) {
                    std::fprintf(stderr, "consumer %d at %llu: status %d lost %llu seq %llu\n", c,
                                 (unsigned long long)expect, static_cast<int>(r.status),
                                 (unsigned long long)r.lost, (unsigned long long)out.seq);
                    ++failures;
                    return;
                }
            }
        });
    }
    auto tx = producer.ring<Wide>("r").value();
    for (std::uint64_t i = 0; i < count; ++i) {
        if (tx.push(make_wide(i), wait, Deadline::after(std::chrono::seconds(20))) != PushStatus::ok) {
            ++failures;
            break;
        }
    }
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
}

}  // namespace

TEST_CASE("lossless transfer between threads with each wait strategy", "[concurrency]") {
    const auto n = pane_test::scaled(200'000);
    // Busy-spinning needs a core per spinner: one consumer, so the 2-core CI is not oversubscribed.
    SECTION("spin") { lossless_transfer(BusySpin{}, n, 1); }
    SECTION("yield") { lossless_transfer(SpinThenYield{}, n, 2); }
    SECTION("sleep") { lossless_transfer(SpinThenSleep{}, n / 4, 2); }
    SECTION("futex") { lossless_transfer(FutexWait{}, n, 2); }
    SECTION("futex, no spinning") { lossless_transfer(FutexWait{0}, n / 4, 1); }
}

TEST_CASE("overwrite ring under a hammering producer: never torn, losses add up", "[concurrency]") {
    RegionSpec spec;
    spec.max_consumers = 4;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.add(ring_of<Wide>("r", 16, RingPolicy::overwrite));
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto session = ConsumerSession::attach(region.bytes()).value();
    auto rx = session.ring<Wide>("r").value();
    const std::uint64_t count = pane_test::scaled(300'000);
    std::atomic<bool> done{false};
    std::thread writer([&] {
        auto tx = producer.ring<Wide>("r").value();
        for (std::uint64_t i = 0; i < count; ++i) (void)tx.try_push(make_wide(i));
        done = true;
    });
    std::uint64_t delivered = 0, lost = 0, torn = 0, gaps_mismatch = 0, unaccounted = 0;
    std::uint64_t next = 0;
    Wide out{};
    for (;;) {
        const bool finished = done.load();
        auto r = rx.try_pop(out);
        lost += r.lost;  // reported with every status
        unaccounted += r.lost;
        if (r.status == PopStatus::ok) {
            ++delivered;
            if (!intact(out)) ++torn;
            if (out.seq != next + unaccounted) ++gaps_mismatch;  // the gap equals the reported loss
            unaccounted = 0;
            next = out.seq + 1;
        } else if (r.status == PopStatus::empty && finished) {
            break;
        }
    }
    writer.join();
    CHECK(torn == 0);
    CHECK(gaps_mismatch == 0);
    CHECK(delivered + lost == count);
    CHECK(next == count);
}

TEST_CASE("cursor shape and position readers never see a torn value under a hammering writer", "[concurrency]") {
    RegionSpec spec;
    spec.max_consumers = 2;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.add(CursorShapeSpec{"shape", 32});
    spec.add(CursorPositionSpec{"pos"});
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto session = ConsumerSession::attach(region.bytes()).value();
    auto shape_rx = session.cursor_shape("shape").value();
    auto pos_rx = session.cursor_position("pos").value();
    // The writer runs until the reader has checked enough values, so a reader scheduled late on
    // a loaded machine still reads while the writer hammers. How many it checks in the time
    // bound depends on the machine (an ASan build on busy CPUs reads a few hundred a second), so
    // what the test requires is overlap, not throughput: at least kMinReads values and
    // kMinShapes shapes read while the writer ran, none torn.
    const std::uint64_t wanted_reads = pane_test::scaled(20'000);
    const std::uint64_t wanted_shapes = pane_test::scaled(200);
    constexpr std::uint64_t kMinReads = 100, kMinShapes = 5;
    const auto give_up = Deadline::after(std::chrono::seconds(60));
    std::atomic<bool> enough{false};
    std::atomic<bool> done{false};
    std::thread writer([&] {
        auto shape_tx = producer.cursor_shape("shape").value();
        auto pos_tx = producer.cursor_position("pos").value();
        std::vector<std::byte> data(32 * 4 * 32);
        for (std::uint64_t i = 1; !enough.load(std::memory_order_relaxed) && !give_up.passed(Clock::now()); ++i) {
            const auto v = static_cast<std::int32_t>(i);
            pos_tx.publish(v, -v, (i & 1) != 0, i * 3);  // every field derives from i
            if (i % 16 == 0) {
                std::fill(data.begin(), data.end(), static_cast<std::byte>(i & 0xff));
                (void)shape_tx.publish(CursorType::color, 32, 32, 128, static_cast<std::uint32_t>(i % 32), 0, data);
            }
        }
        done = true;
    });
    std::uint64_t torn = 0, reads = 0, shapes = 0;
    CursorPosition p;
    CursorShape s;
    while (!done.load()) {
        if (pos_rx.try_read(p) == CursorStatus::ok) {
            ++reads;
            if (p.y != -p.x || p.visible != ((p.x & 1) != 0) || p.shape_serial != static_cast<std::uint64_t>(p.x) * 3 ||
                p.serial != detail::first_serial(1) + static_cast<std::uint64_t>(p.x)) {
                ++torn;
            }
        }
        if (shape_rx.try_read(s) == CursorStatus::ok) {
            ++shapes;
            const auto first = s.data.front();
            for (auto b : s.data) torn += b != first;
            torn += s.header.hotspot_x != ((s.header.serial * 16) % 32);
        }
        if (reads >= wanted_reads && shapes >= wanted_shapes) enough = true;
    }
    writer.join();
    CHECK(torn == 0);
    CHECK(reads >= std::min(wanted_reads, kMinReads));
    CHECK(shapes >= std::min(wanted_shapes, kMinShapes));
}
