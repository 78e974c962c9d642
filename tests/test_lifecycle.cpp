// SPDX-License-Identifier: MIT
// Lifecycle on an in-process region: what every channel handle does when the producer
// re-initialises (same layout or another), when its consumer is reaped, when it reads or waits
// without ever calling tick(); that generations and serials never repeat across epochs; that a
// failing futex falls back to sleeping; that a half-written slot is slept on; that a producer
// never trusts a word a consumer can write. Each case names the defect it pins down.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support.hpp"

using namespace pane;
using namespace std::chrono_literals;

namespace {

struct Msg {
    std::uint64_t seq;
    std::uint64_t epoch_tag;
};

constexpr auto kTimeout = 300ms;

// One region with every channel kind; `wide` changes the layout (more consumer slots and larger
// channels), so the slot table and every channel move.
RegionSpec full_spec(bool wide = false) {
    RegionSpec spec;
    spec.max_consumers = wide ? 8 : 4;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.channel_table_capacity = wide ? 32 : 16;  // moves the slot table
    spec.consumer_timeout = kTimeout;
    spec.add(ring_of<Msg>("lossless", wide ? 16 : 8, RingPolicy::lossless));
    spec.add(ring_of<Msg>("overwrite", 8, RingPolicy::overwrite));
    spec.add(FrameSpec{"frames", wide ? 128u : 64u, 32, 8, 3, 8});
    spec.add(CursorShapeSpec{"shape", 64});
    spec.add(CursorPositionSpec{"pos"});
    spec.add(ControlSpec{"control", 4, 64});
    return spec;
}

std::uint64_t size_for(const RegionSpec& a, const RegionSpec& b) {
    return std::max(plan_region(a)->region_size, plan_region(b)->region_size);
}

ProducerOptions restart_now() {
    ProducerOptions o;
    o.take_over = true;
    o.reinit_grace = 0ms;  // the old consumers stay attached: the worst case for them
    return o;
}


// Every handle a consumer can hold, opened on one session.
struct ConsumerHandles {
    explicit ConsumerHandles(ConsumerSession& s)
        : lossless(s.ring<Msg>("lossless").value()),
          overwrite(s.ring<Msg>("overwrite").value()),
          frames(s.frames("frames").value()),
          shape(s.cursor_shape("shape").value()),
          pos(s.cursor_position("pos").value()),
          control(s.control("control").value()) {}
    RingConsumer<Msg> lossless;
    RingConsumer<Msg> overwrite;
    FrameConsumer frames;
    CursorShapeConsumer shape;
    CursorPositionConsumer pos;
    ControlSender control;
};

// A producer with every channel open and something published on each.
struct LiveProducer {
    LiveProducer(std::span<std::byte> region, const RegionSpec& spec, ProducerOptions options, std::uint64_t tag)
        : session(std::move(ProducerSession::create(region, spec, options).value())),
          lossless(session.ring<Msg>("lossless").value()),
          overwrite(session.ring<Msg>("overwrite").value()),
          frames(session.frames("frames").value()),
          shape(session.cursor_shape("shape").value()),
          pos(session.cursor_position("pos").value()),
          control(session.control("control").value()),
          tag(tag) {}
    void publish_all(std::uint64_t n) {
        for (std::uint64_t i = 0; i < n; ++i) {
            (void)lossless.try_push(Msg{i, tag});
            (void)overwrite.try_push(Msg{i, tag});
        }
        REQUIRE(pane_test::publish_frame(frames, static_cast<std::uint8_t>(tag)) == FrameStatus::ok);
        const std::vector<std::byte> color(16 * 16 * 4, std::byte{0x7f});
        REQUIRE(shape.publish(CursorType::color, 16, 16, 64, 1, 1, color) == CursorStatus::ok);
        pos.publish(static_cast<std::int32_t>(tag), 2, true, shape.serial());
    }
    ProducerSession session;
    RingProducer<Msg> lossless;
    RingProducer<Msg> overwrite;
    FrameProducer frames;
    CursorShapeProducer shape;
    CursorPositionProducer pos;
    ControlReceiver control;
    std::uint64_t tag;
};

// Calls every data-path operation of `h` once and requires each to report `lost` (the handle's
// epoch or slot is gone), never ok.
void require_every_call_reports(ConsumerHandles& h, PopStatus pop, FrameStatus frame, CursorStatus cursor,
                                ControlStatus control, FrameView* held = nullptr) {
    Msg m{};
    CHECK(h.lossless.try_pop(m).status == pop);
    CHECK(h.overwrite.try_pop(m).status == pop);
    CHECK(h.lossless.pop(m, FutexWait{}, Deadline::after(10ms)).status == pop);
    FrameView view;
    CHECK(h.frames.acquire_latest(view) == frame);
    CHECK(h.frames.wait_latest(view, FutexWait{}, Deadline::after(10ms)) == frame);
    if (held != nullptr) {
        CHECK(held->verify() == frame);
        CHECK(held->wait_rows(1000, FutexWait{}, Deadline::after(10ms)) == frame);
    }
    CursorShape shape;
    CHECK(h.shape.try_read(shape) == cursor);
    CursorPosition p;
    CHECK(h.pos.try_read(p) == cursor);
    CHECK(h.pos.wait_read(p, FutexWait{}, Deadline::after(10ms)) == cursor);
    CHECK(h.control.request_full_frame() == control);
}

std::vector<std::byte> snapshot(std::span<const std::byte> region) { return {region.begin(), region.end()}; }

// A strategy that counts how often a blocking call had to start waiting again: sleeping through
// the deadline is one wait; spinning on a ready() that lies is thousands.
struct CountingWait {
    int* waits;
    FutexWait inner{0, 5ms};
    template <class Ready, Sleeper S>
    WaitStatus wait(Ready&& ready, const S& sleeper, Deadline deadline) const {
        ++*waits;
        return inner.wait(ready, sleeper, deadline);
    }
};

}  // namespace

TEST_CASE("defect 1: every handle reports epoch_changed after a re-initialisation, never the new epoch's data",
          "[lifecycle][epoch]") {
    const RegionSpec spec = full_spec();
    auto region = map::in_process(plan_region(spec)->region_size).value();
    std::optional<LiveProducer> first(std::in_place, region.bytes(), spec, ProducerOptions{}, 1);
    auto session = ConsumerSession::attach(region.bytes()).value();
    ConsumerHandles h(session);
    first->publish_all(3);
    Msg m{};
    REQUIRE(h.lossless.try_pop(m).status == PopStatus::ok);
    CHECK(m.epoch_tag == 1);
    FrameView held;
    REQUIRE(h.frames.acquire_latest(held) == FrameStatus::ok);

    // The producer restarts (the same layout) and publishes the new epoch's messages, whose
    // positions restart where the old handle's are: before the fix, try_pop returned them as ok.
    first.reset();
    LiveProducer second(region.bytes(), spec, restart_now(), 2);
    second.publish_all(3);
    require_every_call_reports(h, PopStatus::epoch_changed, FrameStatus::epoch_changed, CursorStatus::epoch_changed,
                               ControlStatus::epoch_changed, &held);
    CHECK(session.tick() == SessionStatus::epoch_changed);

    // A new attachment gets the new epoch from its start.
    session.detach();
    auto fresh = ConsumerSession::attach(region.bytes()).value();
    auto rx = fresh.ring<Msg>("overwrite").value();
    rx.bytes().include_latest();
    REQUIRE(rx.try_pop(m).status == PopStatus::ok);
    CHECK(m.epoch_tag == 2);
}

TEST_CASE("defect 1: every handle reports slot_lost once its consumer was reaped, and writes nothing after",
          "[lifecycle][reap]") {
    const RegionSpec spec = full_spec();
    auto region = pane_test::memory_region(spec);
    LiveProducer p(region.bytes(), spec, ProducerOptions{}, 1);
    auto session = ConsumerSession::attach(region.bytes()).value();
    ConsumerHandles h(session);
    p.publish_all(2);
    FrameView held;
    REQUIRE(h.frames.acquire_latest(held) == FrameStatus::ok);
    const auto t0 = Clock::now();
    p.session.tick(t0);
    p.session.tick(t0 + 2 * kTimeout);  // silent for longer than the timeout
    REQUIRE(p.session.reaped_total() == 1);
    const auto before = snapshot(region.bytes());
    // The frame is intact (nothing reused it) but the attachment is gone: verify says slot_lost.
    require_every_call_reports(h, PopStatus::slot_lost, FrameStatus::slot_lost, CursorStatus::slot_lost,
                               ControlStatus::slot_lost, &held);
    CHECK(snapshot(region.bytes()) == before);  // no heartbeat, cursor, lease or sleeper write
    CHECK(session.tick() == SessionStatus::slot_lost);
}

TEST_CASE("defect 5: after a re-initialisation with another layout, stale handles write nothing into it",
          "[lifecycle][epoch][layout]") {
    const RegionSpec narrow = full_spec(false);
    const RegionSpec wide = full_spec(true);
    auto region = map::in_process(size_for(narrow, wide)).value();
    std::optional<LiveProducer> first(std::in_place, region.bytes(), narrow, ProducerOptions{}, 1);
    auto session = ConsumerSession::attach(region.bytes()).value();
    std::optional<ConsumerHandles> h(std::in_place, session);
    first->publish_all(2);
    FrameView held;
    REQUIRE(h->frames.acquire_latest(held) == FrameStatus::ok);
    first.reset();

    LiveProducer second(region.bytes(), wide, restart_now(), 2);
    REQUIRE(plan_region(wide)->slot_table_offset != plan_region(narrow)->slot_table_offset);
    second.publish_all(2);
    const auto before = snapshot(region.bytes());
    require_every_call_reports(*h, PopStatus::epoch_changed, FrameStatus::epoch_changed, CursorStatus::epoch_changed,
                               ControlStatus::epoch_changed, &held);
    h.reset();          // every handle's destructor (unsubscribe, lease release, sleeper bits)
    session.detach();   // and the session's slot release
    CHECK(snapshot(region.bytes()) == before);

    // The old holder was reaped in the old slot table before the new layout was written, and the
    // new layout's slot table starts free: all eight slots can be claimed.
    std::vector<ConsumerSession> all;
    for (int i = 0; i < 8; ++i) all.push_back(std::move(ConsumerSession::attach(region.bytes()).value()));
    CHECK(ConsumerSession::attach(region.bytes()).error() == AttachError::no_free_slot);
}

TEST_CASE("defect 5: a re-initialisation reaps in the previous slot table and lays a moved one out from zero",
          "[lifecycle][epoch][layout]") {
    // Layout A keeps its slot table far out (a large channel table); layout B puts a frame
    // buffer there, which initialisation does not write. A consumer that checks only its slot
    // (a 1.0 consumer: no epoch in its check) must find itself reaped in A's table, or it would
    // go on writing into B's pixels; and B's slot table, which lies over A's channel table, must
    // start from zero whatever bytes were there.
    RegionSpec a;
    a.max_consumers = 4;
    a.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    a.channel_table_capacity = 300;  // slot table at 256 + 300 * 64 = 19456
    a.consumer_timeout = kTimeout;
    a.add(ring_of<Msg>("r", 8, RingPolicy::lossless));
    RegionSpec b;
    b.max_consumers = 4;
    b.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    b.consumer_timeout = kTimeout;
    b.add(FrameSpec{"frames", 64, 32, 8, 3, 8});
    auto region = map::in_process(size_for(a, b)).value();
    std::optional<ProducerSession> first(ProducerSession::create(region.bytes(), a).value());
    auto session = ConsumerSession::attach(region.bytes()).value();
    const auto plan_a = plan_region(a).value();
    const auto plan_b = plan_region(b).value();
    auto* old_slot = reinterpret_cast<ConsumerSlot*>(region.bytes().data() + plan_a.slot_table_offset) +
                     session.slot_index();
    const std::uint64_t claim = detail::load_relaxed(old_slot->claim);
    REQUIRE(detail::claim_holds_slot(*old_slot, claim));
    // Bytes of A's (unused) channel-table entries where B's slot table will be.
    std::memset(region.bytes().data() + plan_b.slot_table_offset, 0xAB, std::size_t{b.max_consumers} * sizeof(ConsumerSlot));
    first.reset();

    ProducerSession second = ProducerSession::create(region.bytes(), b, restart_now()).value();
    FrameControl fc{};
    const std::uint64_t frames_at = plan_b.channels[0].entry.offset;
    std::memcpy(&fc, region.bytes().data() + frames_at, sizeof(fc));
    const std::uint64_t buffers_begin = frames_at + fc.buffers_offset;
    const std::uint64_t buffers_end = buffers_begin + fc.buffer_size * fc.buffer_count;
    REQUIRE(plan_a.slot_table_offset >= buffers_begin);  // the premise: A's slots lie in B's pixels
    REQUIRE(plan_a.slot_table_offset + a.max_consumers * sizeof(ConsumerSlot) <= buffers_end);
    CHECK_FALSE(detail::claim_holds_slot(*old_slot, claim));  // reaped where its holder looks
    const auto* new_slots = reinterpret_cast<const ConsumerSlot*>(region.bytes().data() + plan_b.slot_table_offset);
    for (std::uint32_t i = 0; i < b.max_consumers; ++i) {
        CHECK(detail::load_relaxed(new_slots[i].claim) == 0);
        CHECK(detail::load_relaxed(new_slots[i].heartbeat) == 0);
        CHECK(detail::load_relaxed(new_slots[i].state) == 0u);
    }
}

TEST_CASE("defect 2: generations and serials never repeat across epochs; a view held across a restart fails verify",
          "[lifecycle][epoch][frames]") {
    const RegionSpec spec = full_spec();
    auto region = pane_test::memory_region(spec);
    std::optional<LiveProducer> first(std::in_place, region.bytes(), spec, ProducerOptions{}, 1);
    auto session = ConsumerSession::attach(region.bytes()).value();
    auto frames = session.frames("frames").value();
    REQUIRE(pane_test::publish_frame(first->frames, 1) == FrameStatus::ok);
    FrameView old_view;
    REQUIRE(frames.acquire_latest(old_view) == FrameStatus::ok);
    const FrameDescriptor old_d = old_view.descriptor();
    first.reset();

    // The new producer's first frame goes into the same buffer index with fresh content.
    LiveProducer second(region.bytes(), spec, restart_now(), 2);
    auto fresh_session = ConsumerSession::attach(region.bytes()).value();
    auto fresh_frames = fresh_session.frames("frames").value();
    FrameView new_view;
    for (int i = 0; i < 3; ++i) {
        REQUIRE(pane_test::publish_frame(second.frames, 2) == FrameStatus::ok);
        REQUIRE(fresh_frames.acquire_latest(new_view) == FrameStatus::ok);
        const FrameDescriptor& d = new_view.descriptor();
        CHECK(d.buffer_generation != old_d.buffer_generation);
        CHECK(d.serial > old_d.serial);  // serials keep rising across epochs
        if (d.buffer_index == old_d.buffer_index) CHECK(old_view.bytes()[0] == std::byte{2});  // rewritten
    }
    CHECK(detail::first_generation(2) > detail::first_generation(1));
    CHECK(old_view.verify() == FrameStatus::epoch_changed);
    CHECK(new_view.verify() == FrameStatus::ok);
}

TEST_CASE("defect 4: a reader that never calls tick() is alive while it reads or waits", "[lifecycle][liveness]") {
    const RegionSpec spec = full_spec();
    auto region = pane_test::memory_region(spec);
    LiveProducer p(region.bytes(), spec, ProducerOptions{}, 1);
    auto session = ConsumerSession::attach(region.bytes()).value();
    auto rx = session.ring<Msg>("lossless").value();
    auto t = Clock::now();
    p.session.tick(t);

    SECTION("reading fast, ticking never") {
        // Each round: the producer's clock moves past the timeout, but the consumer read meanwhile.
        for (std::uint64_t round = 0; round < 5; ++round) {
            REQUIRE(p.lossless.try_push(Msg{round, 1}) == PushStatus::ok);
            Msg m{};
            REQUIRE(rx.try_pop(m).status == PopStatus::ok);
            t += 2 * kTimeout;
            p.session.tick(t);
            CHECK(p.session.reaped_total() == 0);
        }
    }
    SECTION("blocked in every kind of wait") {
        // The consumer waits in a thread; the producer's roster judges it on a clock the test
        // moves past the timeout, each time only after the consumer's heartbeat has moved since
        // the last look (bounded by a generous real-time limit, never decided by it).
        auto frames = session.frames("frames").value();
        auto pos = session.cursor_position("pos").value();
        const auto& slot = reinterpret_cast<const ConsumerSlot*>(region.bytes().data() +
                                                                  session.header_copy().slot_table_offset)[session.slot_index()];
        std::atomic<int> phase{0};
        // Whatever happens below, the waiter is released and joined (a failed REQUIRE unwinds
        // through here): publish what each of its waits is waiting for.
        const auto release_waiter = [&] {
            (void)p.lossless.try_push(Msg{0, 1});
            (void)pane_test::publish_frame(p.frames, 1);
            p.pos.publish(1, 1, true, 0);
        };
        std::thread waiter([&] {
            Msg m{};
            (void)rx.pop(m, FutexWait{}, Deadline::after(60s));  // returns when the test pushes
            phase = 1;
            FrameView v;
            (void)frames.wait_latest(v, FutexWait{}, Deadline::after(60s));
            phase = 2;
            CursorPosition c;
            (void)pos.wait_read(c, SpinThenSleep{}, Deadline::after(60s));
            phase = 3;
        });
        struct JoinOnExit {
            std::thread& t;
            const decltype(release_waiter)& release;
            ~JoinOnExit() {
                if (t.joinable()) {
                    release();
                    t.join();
                }
            }
        } join_on_exit{waiter, release_waiter};
        const auto heartbeat = [&] { return detail::load_acquire(slot.heartbeat); };
        const auto judge_while_blocked = [&](int in_phase) {
            for (int look = 0; look < 3; ++look) {
                const std::uint64_t seen = heartbeat();
                REQUIRE(pane_test::eventually([&] { return heartbeat() != seen; }, 30s));
                REQUIRE(phase.load() == in_phase);
                t += 2 * kTimeout;
                p.session.tick(t);
                CHECK(p.session.reaped_total() == 0);
            }
        };
        judge_while_blocked(0);
        REQUIRE(p.lossless.try_push(Msg{0, 1}) == PushStatus::ok);
        REQUIRE(pane_test::eventually([&] { return phase.load() == 1; }, 30s));
        judge_while_blocked(1);
        REQUIRE(pane_test::publish_frame(p.frames, 1) == FrameStatus::ok);
        REQUIRE(pane_test::eventually([&] { return phase.load() == 2; }, 30s));
        judge_while_blocked(2);
        p.pos.publish(1, 1, true, 0);
        waiter.join();
        CHECK(phase.load() == 3);
    }
    SECTION("silent for the timeout: reaped, and told so on its next call") {
        t += 2 * kTimeout;
        p.session.tick(t);
        CHECK(p.session.reaped_total() == 1);
        Msg m{};
        CHECK(rx.try_pop(m).status == PopStatus::slot_lost);
        // A lossless producer is no longer held back by it.
        for (std::uint64_t i = 0; i < 20; ++i) CHECK(p.lossless.try_push(Msg{i, 1}) == PushStatus::ok);
    }
}

namespace {
}  // namespace

TEST_CASE("a stale read position left in a subscriber's cursor is repaired, never holds a lossless ring for good",
          "[lifecycle][ring]") {
    // A predecessor in the slot, reaped between its standing check and its store, writes an old
    // read position into the cursor after the new holder caught up. That position is more than a
    // ring behind, so it gives no room; the new holder, caught up, would never store again.
    RegionSpec spec;
    spec.max_consumers = 2;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.add(ring_of<Msg>("r", 8, RingPolicy::lossless));
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto tx = producer.ring<Msg>("r").value();
    auto session = ConsumerSession::attach(region.bytes()).value();
    auto rx = session.ring<Msg>("r").value();
    Msg m{};
    for (std::uint64_t i = 0; i < 20; ++i) {
        REQUIRE(tx.try_push(Msg{i, 1}) == PushStatus::ok);
        REQUIRE(rx.try_pop(m).status == PopStatus::ok);
    }
    auto* ring = reinterpret_cast<RingControl*>(region.bytes().data() + producer.plan().channels[0].entry.offset);
    auto* cursor = reinterpret_cast<RingCursor*>(reinterpret_cast<std::byte*>(ring) + ring->cursors_offset) +
                   session.slot_index();
    for (std::uint64_t i = 20; i < 28; ++i) REQUIRE(tx.try_push(Msg{i, 1}) == PushStatus::ok);
    for (std::uint64_t i = 20; i < 28; ++i) REQUIRE(rx.try_pop(m).status == PopStatus::ok);
    detail::store_release(cursor->read_pos, std::uint64_t{28 - 8 - 4});  // the zombie's store
    for (std::uint64_t i = 28; i < 36; ++i) (void)tx.try_push(Msg{i, 1});
    CHECK(tx.try_push(Msg{36, 1}) == PushStatus::full);  // held: the stale position gives no room
    SECTION("a polling reader repairs it") {
        CHECK(rx.try_pop(m).status == PopStatus::empty);  // caught up: nothing to read, but it looked
        CHECK(tx.try_push(Msg{28, 1}) == PushStatus::ok);
    }
    SECTION("a reader blocked in pop repairs it") {
        // Catch the reader up first, so that it blocks, then stale the cursor again.
        while (rx.try_pop(m).status == PopStatus::ok) {
        }
        const std::uint64_t caught_up = rx.bytes().position();
        detail::store_release(cursor->read_pos, caught_up - 12);
        REQUIRE(tx.try_push(Msg{0, 1}) != PushStatus::ok);  // full again
        std::thread reader([&] { (void)rx.pop(m, FutexWait{}, Deadline::after(30s)); });
        // The blocked reader's wait rounds put the position back; the producer then has room.
        CHECK(tx.push(Msg{caught_up, 1}, FutexWait{}, Deadline::after(30s)) == PushStatus::ok);
        reader.join();
    }
    CHECK(detail::load_acquire(cursor->read_pos) == rx.bytes().position());
}

TEST_CASE("defect 6: a futex the kernel refuses makes the wait sleep, not spin", "[lifecycle][wait]") {
    const std::uint32_t* word = pane_test::unfutexable_word();
    REQUIRE(word != nullptr);  // Linux maps [vvar] into every process
    struct PfnSleeper {
        const std::uint32_t* w;
        [[nodiscard]] const std::uint32_t* word() const noexcept { return w; }
        void announce() const noexcept {}
        void withdraw() const noexcept {}
    };
    std::uint64_t polls = 0;
    const auto never = [&] {
        ++polls;
        return false;
    };
    const FutexWait strategy{0, 5ms};  // no spin phase: every poll is a round
    CHECK(strategy.wait(never, PfnSleeper{word}, Deadline::after(200ms)) == WaitStatus::timed_out);
    // Sleeping 5 ms per round gives at most ~40 rounds (3 polls each) in 200 ms; retrying the
    // failing syscall at full speed gives tens of thousands even on a loaded machine.
    CHECK(polls <= 3 * (200 / 5) + 10);
}

TEST_CASE("defect 8: a futex wait follows the word a rescan moves it to", "[lifecycle][wait]") {
    // ready() changes the sleeper's word (a lossless producer's rescan found another blocker).
    // The wait must sleep on the new word: a change of it wakes the waiter at once, although
    // the old word never changes and a slice is 10 s.
    alignas(8) std::uint32_t old_word = 0;
    alignas(8) std::uint32_t new_word = 0;
    std::atomic<const std::uint32_t*> current{&old_word};
    std::atomic<int> polls{0};
    struct MovingSleeper {
        std::atomic<const std::uint32_t*>* current;
        [[nodiscard]] const std::uint32_t* word() const noexcept { return current->load(); }
        void announce() const noexcept {}
        void withdraw() const noexcept {}
    };
    const auto ready = [&] {
        const int n = ++polls;
        if (n == 2) current = &new_word;  // the rescan
        return detail::load_acquire(new_word) != 0;
    };
    std::thread waker([&] {
        pane_test::eventually([&] { return polls.load() >= 3; }, 30s);
        detail::store_release(new_word, 1u);
        detail::futex_wake_all(&new_word);
    });
    const auto start = Clock::now();
    const FutexWait strategy{0, std::chrono::milliseconds(10'000)};
    CHECK(strategy.wait(ready, MovingSleeper{&current}, Deadline::after(20s)) == WaitStatus::ready);
    waker.join();
    CHECK(Clock::now() - start < 5s);  // the old word would have slept the whole 10 s slice
}

TEST_CASE("defect 7: a slot announced by write_pos but never completed is slept on", "[lifecycle][wait][hostile]") {
    RegionSpec spec;
    spec.max_consumers = 2;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.add(ring_of<Msg>("r", 8, RingPolicy::overwrite));
    spec.add(FrameSpec{"frames", 64, 32, 8, 3, 8});
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto session = ConsumerSession::attach(region.bytes()).value();
    auto rx = session.ring<Msg>("r").value();
    auto frames = session.frames("frames").value();
    // A hostile (or preempted) producer: write_pos moves on, the slot stays "being written".
    const auto forge = [&](std::size_t channel, std::uint64_t ring_offset) {
        auto* ring = reinterpret_cast<RingControl*>(region.bytes().data() +
                                                    producer.plan().channels[channel].entry.offset + ring_offset);
        const std::uint64_t p = detail::load_relaxed(ring->write_pos);
        auto* slot = reinterpret_cast<RingSlotHeader*>(reinterpret_cast<std::byte*>(ring) + ring->slots_offset +
                                                       (p & (ring->capacity - 1)) * ring->slot_stride);
        detail::store_release(slot->seq, detail::seq_writing(p));
        detail::store_release(ring->write_pos, p + 1);
    };
    forge(0, 0);
    FrameControl fc{};
    std::memcpy(&fc, region.bytes().data() + producer.plan().channels[1].entry.offset, sizeof(fc));
    forge(1, fc.ring_offset);

    int waits = 0;
    Msg m{};
    CHECK(rx.pop(m, CountingWait{&waits}, Deadline::after(100ms)).status == PopStatus::timed_out);
    CHECK(waits <= 2);
    waits = 0;
    FrameView view;
    CHECK(frames.wait_latest(view, CountingWait{&waits}, Deadline::after(100ms)) == FrameStatus::timed_out);
    CHECK(waits <= 2);
}

TEST_CASE("defect 8: acquire_latest keeps the previous lease when there is no new frame", "[lifecycle][frames]") {
    const RegionSpec spec = full_spec();
    auto region = pane_test::memory_region(spec);
    LiveProducer p(region.bytes(), spec, ProducerOptions{}, 1);
    auto session = ConsumerSession::attach(region.bytes()).value();
    auto frames = session.frames("frames").value();
    REQUIRE(pane_test::publish_frame(p.frames, 1) == FrameStatus::ok);
    FrameView shown;
    REQUIRE(frames.acquire_latest(shown) == FrameStatus::ok);
    FrameView probe;
    CHECK(frames.acquire_latest(probe) == FrameStatus::no_frame);
    // The producer publishes on; the frame still shown must not be reused under the viewer. With
    // three buffers, the latest and the leased one excluded, it cycles through the third.
    for (int i = 0; i < 10; ++i) REQUIRE(pane_test::publish_frame(p.frames, 2) == FrameStatus::ok);
    CHECK(shown.verify() == FrameStatus::ok);
    CHECK(shown.bytes()[0] == std::byte{1});
}

TEST_CASE("defect 8: the message include_latest steps back to is a bonus, never a loss", "[lifecycle][ring]") {
    RegionSpec spec;
    spec.max_consumers = 2;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.add(ring_of<Msg>("r", 4, RingPolicy::lossless));
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto tx = producer.ring<Msg>("r").value();
    for (std::uint64_t i = 0; i < 10; ++i) REQUIRE(tx.try_push(Msg{i, 0}) == PushStatus::ok);  // nobody subscribed
    (void)tx.bytes().backlog_approx();  // a room scan at position 10, with nobody subscribed: room up to 13
    auto session = ConsumerSession::attach(region.bytes()).value();
    auto rx = session.ring<Msg>("r").value();
    rx.bytes().include_latest();  // position 9, which the cached room lets 13 overwrite
    for (std::uint64_t i = 10; i < 14; ++i) REQUIRE(tx.try_push(Msg{i, 0}) == PushStatus::ok);
    Msg m{};
    auto r = rx.try_pop(m);
    REQUIRE(r.status == PopStatus::ok);
    CHECK(r.lost == 0);  // slot 9 was reused for 13: skipped, not lost
    CHECK(m.seq == 10);
    for (std::uint64_t i = 11; i < 14; ++i) {
        r = rx.try_pop(m);
        REQUIRE(r.status == PopStatus::ok);
        CHECK(m.seq == i);
    }
    CHECK(rx.bytes().lost_total() == 0);
}

TEST_CASE("defect 9: a consumer's write to a buffer generation cannot break the producer", "[lifecycle][frames][hostile]") {
    const RegionSpec spec = full_spec();
    auto region = pane_test::memory_region(spec);
    LiveProducer p(region.bytes(), spec, ProducerOptions{}, 1);
    auto session = ConsumerSession::attach(region.bytes()).value();
    auto frames = session.frames("frames").value();
    FrameControl fc{};
    std::byte* channel = region.bytes().data() + p.session.plan().channels[2].entry.offset;
    std::memcpy(&fc, channel, sizeof(fc));
    auto* states = reinterpret_cast<FrameBufferState*>(channel + fc.states_offset);
    for (std::uint32_t b = 0; b < fc.buffer_count; ++b) {
        detail::store_relaxed(states[b].generation, (std::uint64_t{1} << 58) - 1);  // any mapper can
    }
    FrameView view;
    for (int i = 0; i < 6; ++i) {
        REQUIRE(pane_test::publish_frame(p.frames, static_cast<std::uint8_t>(i)) == FrameStatus::ok);
        REQUIRE(frames.acquire_latest(view) == FrameStatus::ok);  // never "broken"
        CHECK(view.descriptor().buffer_generation < (std::uint64_t{1} << 58) - 1);
    }
    CHECK(frames.violations() == 0);
}
