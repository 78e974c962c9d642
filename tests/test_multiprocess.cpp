// SPDX-License-Identifier: MIT
// Producer and consumer in separate processes over a real POSIX shm region: the test binary
// re-runs itself as a child (--child ROLE). Covers bulk lossless transfer, exact overwrite loss
// accounting, a SIGKILLed and restarted producer, and a SIGKILLed consumer.
#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include <pane/map/shm.hpp>

#include "catch.hpp"
#include "support.hpp"

using namespace pane;
using namespace std::chrono_literals;

namespace {

struct Msg {
    std::uint64_t seq;
    std::uint64_t check;
};
constexpr std::uint64_t check_of(std::uint64_t s) { return ~s * 0x9E3779B97F4A7C15ULL; }

// The consumer timeout is short where a test waits for a reap; where a test asserts that nobody
// is reaped it is long, so a loaded machine descheduling a live process cannot fail the test.
constexpr auto kReapTimeout = 300ms;
constexpr auto kNoReapTimeout = 1000ms;

RegionSpec spec_for(RingPolicy policy, std::uint32_t capacity = 1024,
                    std::chrono::milliseconds consumer_timeout = kReapTimeout) {
    RegionSpec spec;
    spec.max_consumers = 4;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.consumer_timeout = consumer_timeout;
    spec.add(ring_of<Msg>("msgs", capacity, policy));
    return spec;
}

// Waits (bounded) until a producer has the region ready, then attaches.
std::optional<ConsumerSession> attach_when_ready(std::span<std::byte> region, std::chrono::milliseconds timeout) {
    std::optional<ConsumerSession> session;
    pane_test::eventually([&] {
        auto s = ConsumerSession::attach(region);
        if (s) session.emplace(std::move(s.value()));
        return session.has_value();
    }, timeout);
    return session;
}

// Child: lossless producer of `count` messages into a region the parent created. Starts once a
// consumer has subscribed; exit 0 once every message is published.
const pane_test::RegisterChild lossless_producer("lossless-producer", [](const std::vector<std::string>& args) {
    const std::uint64_t count = std::stoull(args.at(1));
    const auto spec = spec_for(RingPolicy::lossless, 1024, kNoReapTimeout);
    auto mapping = map::shm(args.at(0), 0, map::OpenMode::open_only);
    if (!mapping) return 10;
    auto producer = ProducerSession::create(mapping->bytes(), spec);
    if (!producer) return 11;
    auto tx = producer->ring<Msg>("msgs").value();
    if (!pane_test::eventually([&] { producer->tick(); return tx.bytes().subscribers_approx() == 1; }, 30s)) return 12;
    // Stretches of 2^16 messages alternate single pushes and batches of 1..64, so a soak covers
    // both paths (and batches keep a 1e9-message soak within an hour).
    std::array<Msg, 64> batch{};
    for (std::uint64_t sent = 0; sent < count;) {
        if (((sent >> 16) & 1) == 0) {
            if (tx.push(Msg{sent, check_of(sent)}, FutexWait{}, Deadline::after(60s)) != PushStatus::ok) return 13;
            ++sent;
        } else {
            const std::size_t n = std::min<std::uint64_t>(1 + (sent * 7) % 64, count - sent);
            for (std::size_t i = 0; i < n; ++i) batch[i] = Msg{sent + i, check_of(sent + i)};
            const auto r = tx.push_batch(std::span<const Msg>(batch.data(), n), FutexWait{}, Deadline::after(60s));
            if (r.status != PushStatus::ok || r.count != n) return 13;
            sent += n;
        }
        if ((sent & 0xfff) < 64) producer->tick();
    }
    return 0;
});

// Child: lossless consumer of messages 0..count-1 that survives being reaped: each stream it
// reads (one per attachment) must be gap-free and in order; a gap between streams is allowed
// only across a reported slot_lost. Exit 0 only if it was reaped at least once and re-attached.
const pane_test::RegisterChild reattaching_consumer("reattaching-consumer", [](const std::vector<std::string>& args) {
    const std::uint64_t count = std::stoull(args.at(1));
    auto mapping = map::shm(args.at(0), 0, map::OpenMode::open_only);
    if (!mapping) return 10;
    auto session = attach_when_ready(mapping->bytes(), 10s);
    if (!session) return 11;
    std::optional<RingConsumer<Msg>> rx(session->ring<Msg>("msgs").value());
    std::uint64_t expect = 0, slot_losses = 0, gap = 0;
    bool stream_start = false;
    Msg out{};
    while (expect < count) {
        const auto r = rx->pop(out, FutexWait{}, Deadline::after(30s));
        if (r.status == PopStatus::slot_lost) {  // reaped while stopped: attach again
            ++slot_losses;
            rx.reset();
            session.reset();
            session = attach_when_ready(mapping->bytes(), 10s);
            if (!session) return 12;
            rx.emplace(session->ring<Msg>("msgs").value());
            stream_start = true;
            continue;
        }
        if (r.status != PopStatus::ok) return 13;
        if (r.lost != 0 || out.check != check_of(out.seq)) return 14;
        if (stream_start && out.seq >= expect) {
            gap += out.seq - expect;  // reported: it lies across the slot_lost
        } else if (out.seq != expect) {
            std::fprintf(stderr, "expected %llu got %llu\n", (unsigned long long)expect, (unsigned long long)out.seq);
            return 15;
        }
        stream_start = false;
        expect = out.seq + 1;
    }
    std::printf("slot_lost %llu, gap %llu\n", (unsigned long long)slot_losses, (unsigned long long)gap);
    return slot_losses >= 1 ? 0 : 16;
});

// Child: overwrite consumer that reads slowly now and then. Exit 0 only if every delivered
// message is intact, the reported losses equal the sequence gaps exactly, losses happened, and
// it ended on the last message.
const pane_test::RegisterChild overwrite_consumer("overwrite-consumer", [](const std::vector<std::string>& args) {
    const std::uint64_t count = std::stoull(args.at(1));
    auto mapping = map::shm(args.at(0), 0, map::OpenMode::open_only);
    if (!mapping) return 10;
    auto session = attach_when_ready(mapping->bytes(), 10s);
    if (!session) return 11;
    auto rx = session->ring<Msg>("msgs");
    if (!rx) return 12;
    std::uint64_t delivered = 0, lost = 0, unaccounted = 0, next = 0;
    Msg out{};
    while (next < count) {
        auto r = rx->pop(out, SpinThenYield{}, Deadline::after(10s));
        lost += r.lost;
        unaccounted += r.lost;
        if (r.status != PopStatus::ok) return 13;
        if (out.seq != next + unaccounted || out.check != check_of(out.seq)) {
            std::fprintf(stderr, "gap mismatch: expected %llu + %llu, got %llu\n", (unsigned long long)next,
                         (unsigned long long)unaccounted, (unsigned long long)out.seq);
            return 14;
        }
        unaccounted = 0;
        next = out.seq + 1;
        if ((++delivered & 0x3ff) == 0) {
            (void)session->tick();
            std::this_thread::sleep_for(200us);  // be slow now and then
        }
    }
    if (delivered + lost != count || lost == 0 || rx->bytes().lost_total() != lost) return 15;
    std::printf("delivered %llu lost %llu\n", (unsigned long long)delivered, (unsigned long long)lost);
    return 0;
});

// Child: producer publishing forever (until killed) at a modest pace.
const pane_test::RegisterChild forever_producer("forever-producer", [](const std::vector<std::string>& args) {
    const auto spec = spec_for(RingPolicy::overwrite);
    auto mapping = map::shm(args.at(0), plan_region(spec)->region_size, map::OpenMode::open_or_create);
    if (!mapping) return 10;
    auto producer = ProducerSession::create(mapping->bytes(), spec);
    if (!producer) return 11;
    auto tx = producer->ring<Msg>("msgs").value();
    for (std::uint64_t i = 0;; ++i) {
        (void)tx.try_push(Msg{i, check_of(i)});
        producer->tick();
        std::this_thread::sleep_for(100us);
    }
});

// Child: attaches, reads `stop_after` messages, then stops reading but keeps heartbeating.
const pane_test::RegisterChild stalling_consumer("stalling-consumer", [](const std::vector<std::string>& args) {
    auto mapping = map::shm(args.at(0), 0, map::OpenMode::open_only);
    if (!mapping) return 10;
    auto session = attach_when_ready(mapping->bytes(), 10s);
    if (!session) return 11;
    auto rx = session->ring<Msg>("msgs");
    if (!rx) return 12;
    Msg out{};
    for (int i = 0; i < 10; ++i) {
        if (rx->pop(out, FutexWait{}, Deadline::after(10s)).status != PopStatus::ok) return 13;
    }
    for (;;) {  // holds the lossless ring back while alive
        (void)session->tick();
        std::this_thread::sleep_for(1ms);
    }
});

}  // namespace

namespace {
// SIGSTOP / SIGCONT of a child, so a test can pause either side for longer than its timeouts.
void pause_process(const pane_test::ChildProcess& child) { ::kill(child.pid(), SIGSTOP); }
void resume_process(const pane_test::ChildProcess& child) { ::kill(child.pid(), SIGCONT); }
}  // namespace

namespace {
// The soak: PANE_SOAK_MESSAGES=N runs the lossless and overwrite cross-process tests below with
// N messages instead of their CI counts (docs/reliability.md, "Soak").
std::uint64_t soak_or(std::uint64_t ci_count) {
    const char* env = std::getenv("PANE_SOAK_MESSAGES");
    if (env == nullptr || *env == '\0') return pane_test::scaled(ci_count);
    return static_cast<std::uint64_t>(std::strtod(env, nullptr));
}
}  // namespace

TEST_CASE("lossless: 10 million messages across processes, none lost or repeated, the producer paused twice",
          "[multiprocess]") {
    // The producer (a child) is stopped twice for three consumer timeouts while the consumer
    // (this process) waits on it: the consumer must not be reaped, and must get every message.
    // Stretches of 2^16 messages alternate single pops and batch pops on this side (and single
    // and batch pushes on the producer's, offset so that every pairing occurs).
    pane_test::ShmName name("lossless");
    const auto spec = spec_for(RingPolicy::lossless, 1024, kNoReapTimeout);  // as the child's
    auto mapping = map::shm(name.str(), plan_region(spec)->region_size, map::OpenMode::create_only);
    REQUIRE(mapping.has_value());
    const std::uint64_t count = soak_or(10'000'000);
    const auto started = std::chrono::steady_clock::now();
    auto child = pane_test::ChildProcess::spawn("lossless-producer", {name.str(), std::to_string(count)});
    auto session = attach_when_ready(mapping->bytes(), 10s);
    REQUIRE(session.has_value());
    auto rx = session->ring<Msg>("msgs").value();

    std::atomic<std::uint64_t> received{0};
    std::atomic<bool> finished{false};
    std::thread pauser([&] {
        for (const std::uint64_t at : {count / 3, 2 * count / 3}) {
            while (received.load() < at && !finished.load()) std::this_thread::sleep_for(1ms);
            if (finished.load()) return;
            pause_process(child);
            std::this_thread::sleep_for(3 * spec.consumer_timeout);
            resume_process(child);
        }
    });
    std::uint64_t errors = 0, not_ok = 0, batches = 0;
    std::array<Msg, 48> batch{};
    for (std::uint64_t expect = 0; expect < count && not_ok == 0;) {
        // Offset by 2^15 from the producer's stretches: single against batch and both alike.
        const bool use_batch = (((expect + 0x8000) >> 16) & 1) != 0;
        const auto r = use_batch ? rx.pop_batch(batch, FutexWait{}, Deadline::after(60s))
                                 : [&] {
                                       const auto p = rx.pop(batch[0], FutexWait{}, Deadline::after(60s));
                                       return PopBatchResult{p.status, p.status == PopStatus::ok ? 1u : 0u, p.lost};
                                   }();
        if (r.status != PopStatus::ok || r.count == 0) {
            ++not_ok;
            UNSCOPED_INFO("pop status " << static_cast<int>(r.status) << " at " << expect);
            break;
        }
        batches += use_batch ? 1 : 0;
        if (r.lost != 0) ++errors;
        for (std::size_t i = 0; i < r.count; ++i, ++expect) {
            const Msg& out = batch[i];
            if (out.seq != expect || out.check != check_of(expect)) {  // lost, repeated or torn
                if (errors++ == 0) UNSCOPED_INFO("at " << expect << " got seq " << out.seq << " lost " << r.lost);
            }
        }
        received.store(expect, std::memory_order_relaxed);
    }
    finished = true;
    pauser.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("lossless soak: %llu messages in %.1f s (%.2f M/s, two 3 s pauses included), %llu batch pops, "
                "%llu errors, %llu failed pops\n",
                (unsigned long long)count, seconds, static_cast<double>(count) / seconds / 1e6,
                (unsigned long long)batches, (unsigned long long)errors, (unsigned long long)not_ok);
    CHECK(not_ok == 0);
    CHECK(errors == 0);
    CHECK(batches > 0);
    // Never reaped: the slot still ours (the producer may have closed the region by now), and
    // no reap in the slot table.
    const auto status = session->tick();
    CHECK((status == SessionStatus::ok || status == SessionStatus::producer_closed));
    const auto* slots = reinterpret_cast<const ConsumerSlot*>(mapping->bytes().data() + session->header_copy().slot_table_offset);
    CHECK(detail::load_relaxed(slots[session->slot_index()].reap_count) == 0);
    const auto exit = child.wait(120s);
    REQUIRE(exit.has_value());
    CHECK(*exit == 0);
}

TEST_CASE("lossless: a consumer paused past the timeout is reaped, learns it, re-attaches; nothing lost uncounted",
          "[multiprocess]") {
    pane_test::ShmName name("reattach");
    const auto spec = spec_for(RingPolicy::lossless, 256);
    auto mapping = map::shm(name.str(), plan_region(spec)->region_size, map::OpenMode::create_only);
    REQUIRE(mapping.has_value());
    auto producer = ProducerSession::create(mapping->bytes(), spec).value();
    auto tx = producer.ring<Msg>("msgs").value();
    const std::uint64_t count = pane_test::scaled(1'000'000);
    auto child = pane_test::ChildProcess::spawn("reattaching-consumer", {name.str(), std::to_string(count)});
    REQUIRE(pane_test::eventually([&] { producer.tick(); return tx.bytes().subscribers_approx() == 1; }, 10s));

    // The pauser stops the consumer a third of the way in and resumes it only once the producer
    // has reaped it (seen in the slot table), however long that takes on a loaded machine.
    const auto* slots = reinterpret_cast<const ConsumerSlot*>(mapping->bytes().data() + producer.plan().slot_table_offset);
    const auto reaps = [&] {
        std::uint64_t n = 0;
        for (std::uint32_t i = 0; i < spec.max_consumers; ++i) n += detail::load_relaxed(slots[i].reap_count);
        return n;
    };
    std::atomic<std::uint64_t> sent{0};
    std::atomic<bool> resumed{false};
    std::thread pauser([&] {
        while (sent.load() < count / 3) std::this_thread::sleep_for(1ms);
        pause_process(child);
        const bool reaped = pane_test::eventually([&] { return reaps() >= 1; }, 60s);
        resume_process(child);
        resumed = reaped;
    });
    bool waited_for_return = false;
    for (std::uint64_t i = 0; i < count; ++i) {
        REQUIRE(tx.push(Msg{i, check_of(i)}, FutexWait{}, Deadline::after(60s)) == PushStatus::ok);
        sent.store(i + 1, std::memory_order_relaxed);
        if ((i & 0xfff) == 0) producer.tick();
        if (!waited_for_return && producer.reaped_total() > 0) {
            // Nobody holds the ring now; wait for the consumer to come back before going on,
            // so it has something to read after re-attaching.
            waited_for_return = true;
            REQUIRE(pane_test::eventually([&] { producer.tick(); return tx.bytes().subscribers_approx() == 1; }, 60s));
        }
    }
    pauser.join();
    CHECK(resumed.load());
    CHECK(producer.reaped_total() == 1);
    const auto exit = child.wait(120s);
    REQUIRE(exit.has_value());
    CHECK(*exit == 0);  // 0: every stream gap-free, the gap only across a reported slot_lost
}

TEST_CASE("overwrite: a slow consumer's reported losses equal the sequence gaps exactly", "[multiprocess]") {
    pane_test::ShmName name("overwrite");
    const auto spec = spec_for(RingPolicy::overwrite, 64);
    auto mapping = map::shm(name.str(), plan_region(spec)->region_size, map::OpenMode::create_only);
    REQUIRE(mapping.has_value());
    auto producer = ProducerSession::create(mapping->bytes(), spec).value();
    const std::uint64_t count = soak_or(2'000'000);
    auto child = pane_test::ChildProcess::spawn("overwrite-consumer", {name.str(), std::to_string(count)});
    auto tx = producer.ring<Msg>("msgs").value();
    // Publish only once the child's cursor is subscribed, so message 0 is within its view.
    REQUIRE(pane_test::eventually([&] { producer.tick(); return tx.bytes().subscribers_approx() == 1; }, 10s));
    for (std::uint64_t i = 0; i < count; ++i) {
        (void)tx.try_push(Msg{i, check_of(i)});  // never waits
        if ((i & 0xffff) == 0) producer.tick();
    }
    // A soak's consumer may still be catching up: a second per million messages besides.
    const auto exit = child.wait(60s + std::chrono::seconds(count / 1'000'000));
    REQUIRE(exit.has_value());
    CHECK(*exit == 0);
}

TEST_CASE("a SIGKILLed producer is detected; its restart is picked up with a new epoch", "[multiprocess]") {
    pane_test::ShmName name("restart");
    auto first = pane_test::ChildProcess::spawn("forever-producer", {name.str()});
    std::optional<map::Mapping> mapping;
    REQUIRE(pane_test::eventually([&] {
        auto m = map::shm(name.str(), 0, map::OpenMode::open_only);
        if (m) mapping.emplace(std::move(m.value()));
        return mapping.has_value();
    }, 10s));
    ConsumerOptions options;
    options.producer_timeout = 300ms;
    auto session = attach_when_ready(mapping->bytes(), 10s);
    REQUIRE(session.has_value());
    const auto first_epoch = session->epoch();
    {
        auto rx = session->ring<Msg>("msgs").value();
        Msg out{};
        REQUIRE(rx.pop(out, FutexWait{}, Deadline::after(5s)).status == PopStatus::ok);
    }
    session = ConsumerSession::attach(mapping->bytes(), options).value();  // now with the short timeout
    first.kill_hard();
    SessionStatus status = SessionStatus::ok;
    REQUIRE(pane_test::eventually([&] { return (status = session->tick()) != SessionStatus::ok; }, 5s));
    CHECK(status == SessionStatus::producer_stale);

    auto second = pane_test::ChildProcess::spawn("forever-producer", {name.str()});
    // The restarted producer marks the region initialising; we leave, then attach again.
    REQUIRE(pane_test::eventually([&] { return session->tick() == SessionStatus::epoch_changed; }, 10s));
    session.reset();
    session = attach_when_ready(mapping->bytes(), 10s);
    REQUIRE(session.has_value());
    CHECK(session->epoch() != first_epoch);
    auto rx = session->ring<Msg>("msgs").value();
    Msg out{};
    auto r = rx.pop(out, FutexWait{}, Deadline::after(5s));
    REQUIRE(r.status == PopStatus::ok);
    CHECK(out.check == check_of(out.seq));
    CHECK(session->tick() == SessionStatus::ok);
}

TEST_CASE("a SIGKILLed consumer is reaped and no longer holds a lossless producer back", "[multiprocess]") {
    pane_test::ShmName name("reap");
    const auto spec = spec_for(RingPolicy::lossless, 16);
    auto mapping = map::shm(name.str(), plan_region(spec)->region_size, map::OpenMode::create_only);
    REQUIRE(mapping.has_value());
    auto producer = ProducerSession::create(mapping->bytes(), spec).value();
    auto tx = producer.ring<Msg>("msgs").value();
    auto child = pane_test::ChildProcess::spawn("stalling-consumer", {name.str()});
    REQUIRE(pane_test::eventually([&] { producer.tick(); return tx.bytes().subscribers_approx() == 1; }, 10s));
    // Publish until the stalled child holds the ring (it reads 10, then stops).
    std::uint64_t sent = 0;
    REQUIRE(pane_test::eventually([&] {
        producer.tick();
        while (tx.try_push(Msg{sent, check_of(sent)}) == PushStatus::ok) ++sent;
        return sent >= 10 + 16;
    }, 10s));
    CHECK(tx.try_push(Msg{sent, check_of(sent)}) == PushStatus::full);
    producer.tick();
    CHECK(producer.live_consumers() != 0);  // alive and heartbeating: it may hold the ring
    child.kill_hard();
    // A blocking push refreshes the roster; the dead consumer is reaped after the 300 ms timeout.
    const auto status = tx.push(Msg{sent, check_of(sent)}, FutexWait{}, Deadline::after(10s));
    CHECK(status == PushStatus::ok);
    CHECK(producer.reaped_total() == 1);
    CHECK(producer.live_consumers() == 0);
}
