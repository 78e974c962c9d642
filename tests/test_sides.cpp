// SPDX-License-Identifier: MIT
// Consumer placement across a VM boundary (protocol 1.2): the header says which kernel the
// producer runs on, consumer slots are split into a side for consumers on that kernel and a side
// for everyone else, each side claims only in its own range, and waits use the futex only where
// the waker shares the waiter's kernel. "Another kernel" is simulated by rewriting the header's
// producer_host_id, which is exactly what a consumer on another kernel would see.
#include <thread>

#include <pane/detail/host_id.hpp>

#include "catch.hpp"
#include "support.hpp"

using namespace pane;
using namespace std::chrono_literals;

namespace {
struct Msg {
    std::uint64_t seq;
    std::uint64_t check;
};

RegionSpec sided_spec(std::uint32_t consumers) {
    RegionSpec spec;  // remote_consumer_slots left at its default: half the slots
    spec.max_consumers = consumers;
    spec.add(ring_of<Msg>("r", 8, RingPolicy::lossless));
    return spec;
}

RegionHeader* header_of(map::Mapping& region) { return reinterpret_cast<RegionHeader*>(region.bytes().data()); }

// What a consumer on another kernel sees: a producer whose kernel is not ours.
void pretend_producer_elsewhere(map::Mapping& region) {
    header_of(region)->producer_host_id = detail::host_id() ^ 0x5A5A'5A5A'5A5A'5A5AULL;
}
}  // namespace

TEST_CASE("the producer writes its kernel and the slot sides into the header", "[sides]") {
    REQUIRE(detail::host_id() != 0);  // Linux with /proc: every CI machine
    const auto spec = sided_spec(8);
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    const RegionHeader& h = *header_of(region);
    CHECK(h.version_minor == kVersionMinor);
    CHECK(h.producer_host_id == detail::host_id());
    CHECK((h.flags & kRegionFlagSlotSides) != 0);
    CHECK(h.local_slots == 4);

    RegionSpec unsplit = sided_spec(8);
    unsplit.remote_consumer_slots = 0;
    auto region2 = pane_test::memory_region(unsplit);
    auto producer2 = ProducerSession::create(region2.bytes(), unsplit).value();
    CHECK((header_of(region2)->flags & kRegionFlagSlotSides) == 0);
    CHECK(header_of(region2)->local_slots == 8);

    RegionSpec too_many = sided_spec(4);
    too_many.remote_consumer_slots = 5;
    CHECK(plan_region(too_many).error() == InitError::too_many_consumers);
}

TEST_CASE("consumers claim only their side's slots", "[sides]") {
    const auto spec = sided_spec(4);  // slots 0-1 for this kernel, 2-3 for others
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();

    auto local_a = ConsumerSession::attach(region.bytes()).value();
    auto local_b = ConsumerSession::attach(region.bytes()).value();
    CHECK(local_a.slot_index() < 2);
    CHECK(local_b.slot_index() < 2);
    CHECK(ConsumerSession::attach(region.bytes()).error() == AttachError::no_free_slot);  // our side is full

    pretend_producer_elsewhere(region);
    auto remote_a = ConsumerSession::attach(region.bytes()).value();
    auto remote_b = ConsumerSession::attach(region.bytes()).value();
    CHECK(remote_a.slot_index() >= 2);
    CHECK(remote_b.slot_index() >= 2);
    CHECK(ConsumerSession::attach(region.bytes()).error() == AttachError::no_free_slot);

    // Each holder says where it runs, for the producer's waits and for pane-inspect.
    const auto* slots = reinterpret_cast<const ConsumerSlot*>(region.bytes().data() + header_of(region)->slot_table_offset);
    CHECK(slots[remote_a.slot_index()].host_id == detail::host_id());
}

TEST_CASE("a header whose local slot count exceeds the slot table is refused", "[sides][hostile]") {
    const auto spec = sided_spec(4);
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    header_of(region)->local_slots = 5;
    CHECK(ConsumerSession::attach(region.bytes()).error() == AttachError::invalid_layout);
    header_of(region)->flags = 0;  // without the flag the field means nothing
    CHECK(ConsumerSession::attach(region.bytes()).has_value());
}

TEST_CASE("claimable_slots: the ranges of both sides, and no sides without the flag", "[sides]") {
    RegionHeader h{};
    h.max_consumers = 6;
    h.producer_host_id = 42;
    h.local_slots = 2;
    h.flags = kRegionFlagSlotSides;
    CHECK(detail::claimable_slots(h, 42).first == 0);
    CHECK(detail::claimable_slots(h, 42).end == 2);
    CHECK(detail::claimable_slots(h, 7).first == 2);
    CHECK(detail::claimable_slots(h, 7).end == 6);
    CHECK(detail::claimable_slots(h, 0).first == 2);  // a consumer that cannot tell its kernel is "elsewhere"
    h.flags = 0;
    CHECK(detail::claimable_slots(h, 7).first == 0);
    CHECK(detail::claimable_slots(h, 7).end == 6);
}

TEST_CASE("across kernels a waiting consumer never announces itself for a futex wake", "[sides][wait]") {
    const auto spec = sided_spec(4);
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto tx = producer.ring<Msg>("r").value();
    pretend_producer_elsewhere(region);
    auto session = ConsumerSession::attach(region.bytes()).value();
    auto rx = session.ring<Msg>("r").value();
    producer.tick();

    auto* ring = reinterpret_cast<RingControl*>(region.bytes().data() + producer.plan().channels[0].entry.offset);
    std::atomic<bool> stop{false};
    std::uint64_t announced = 0;
    std::thread watcher([&] {  // the sleeper bitmask must stay empty for the whole wait
        while (!stop.load()) announced |= detail::load_relaxed(ring->sleepers);
    });
    std::thread sender([&] {
        std::this_thread::sleep_for(30ms);
        (void)tx.try_push(Msg{1, 2});
    });
    Msg m{};
    const auto r = rx.pop(m, AutoWait{}, Deadline::after(60s));
    sender.join();
    stop = true;
    watcher.join();
    CHECK(r.status == PopStatus::ok);
    CHECK(m.seq == 1);
    CHECK(announced == 0);

    // The same wait on our own kernel does announce (and is woken through the futex).
    auto local_region = pane_test::memory_region(spec);
    auto local_producer = ProducerSession::create(local_region.bytes(), spec).value();
    auto local_tx = local_producer.ring<Msg>("r").value();
    auto local_session = ConsumerSession::attach(local_region.bytes()).value();
    auto local_rx = local_session.ring<Msg>("r").value();
    auto* local_ring =
        reinterpret_cast<RingControl*>(local_region.bytes().data() + local_producer.plan().channels[0].entry.offset);
    std::thread local_sender([&] {
        while (detail::load_relaxed(local_ring->sleepers) == 0) std::this_thread::sleep_for(1ms);
        (void)local_tx.try_push(Msg{3, 4});
    });
    CHECK(local_rx.pop(m, AutoWait{}, Deadline::after(60s)).status == PopStatus::ok);
    local_sender.join();
    CHECK(m.seq == 3);
}

TEST_CASE("AutoWait: growing sleeps where no futex can wake it, not a busy retry", "[sides][wait]") {
    struct UnfutexableSleeper {  // a word that reads but that the kernel refuses (EFAULT), like a guest's BAR
        const std::uint32_t* w;
        [[nodiscard]] const std::uint32_t* word() const noexcept { return w; }
        void announce() const noexcept {}
        void withdraw() const noexcept {}
    };
    const std::uint32_t* vvar = pane_test::unfutexable_word();
    REQUIRE(vvar != nullptr);
    AutoWait strategy;
    strategy.spins = 0;
    // Sleeps of 50, 100, 200, 400, then 500 us: about 400 rounds in 200 ms, one or two polls each
    // (fewer on a loaded machine, whose sleeps run long). A busy retry would poll millions of times.
    constexpr std::uint64_t kMaxPolls = 2 * (200'000 / 500) + 40;
    std::uint64_t polls = 0;
    const auto never = [&] {
        ++polls;
        return false;
    };
    CHECK(strategy.wait(never, NoSleeper{}, Deadline::after(200ms)) == WaitStatus::timed_out);
    CHECK(polls <= kMaxPolls);
    CHECK(polls >= 3);
    polls = 0;
    CHECK(strategy.wait(never, UnfutexableSleeper{vvar}, Deadline::after(200ms)) == WaitStatus::timed_out);
    CHECK(polls <= kMaxPolls);
    CHECK(polls >= 3);
}

TEST_CASE("ArrivalEstimate predicts only a confirmed rate, and not from an idle pause", "[sides][wait]") {
    ArrivalEstimate e;
    const auto t0 = Clock::now();
    CHECK_FALSE(e.poll_from());
    e.arrived(t0, false);
    e.arrived(t0 + 2s, true);  // the first gap is an idle pause before a 1 kHz burst
    CHECK_FALSE(e.poll_from());  // one gap proves no rate
    auto t = t0 + 2s;
    for (int i = 0; i < 150; ++i) {  // the burst's regular gaps: the pause fades out of the average
        t += 1ms;
        e.arrived(t, true);
    }
    REQUIRE(e.poll_from());
    CHECK(*e.poll_from() > t);
    CHECK(*e.poll_from() < t + 1ms);  // polling starts before the next event is due
    ArrivalEstimate slow;
    slow.arrived(t0, false);
    for (int i = 1; i <= 10; ++i) slow.arrived(t0 + i * 2s, true);  // regular, but 2 s apart
    CHECK_FALSE(slow.poll_from());  // not worth predicting: the backoff serves it
}
