// SPDX-License-Identifier: MIT
// Concurrent corruption in one process: a hostile thread overwrites words and bytes of a live
// region (indices, offsets, sizes, enums, sequence numbers, the epoch, heartbeats, claims) while
// a consumer, and in a second test the producer, runs its normal loop. Both sides live in this
// process, so ASan, UBSan and TSan see every access of both. Asserted after the threads are
// joined (Catch2 is not thread-safe; the threads only count): no fault, no call that outlives
// its bound by more than 10 s, errors counted, and once the hostile thread stops and a new
// producer initialises the same memory, a consumer attaches again and reads correct data.
//
// The hostile thread writes only through std::atomic_ref relaxed stores of aligned 32- and
// 64-bit words (a byte is changed by rewriting its word), so the test is free of data races by
// construction: a TSan report here means the library read or wrote shared memory without an
// atomic. Frame pixels are written and read with the library's word copies for the same reason.
//
// PANE_HOSTILE_ITERATIONS (hostile writes per test; default 200,000, scaled by PANE_TEST_SCALE)
// selects a long run.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support.hpp"

using namespace pane;
using namespace std::chrono_literals;

namespace {

struct Msg {
    std::uint64_t seq;
    std::uint64_t check;  // derived from seq: a forged or torn message shows
    std::uint64_t pad[2];
};
Msg make_msg(std::uint64_t s) { return Msg{s, s * 0x9E3779B97F4A7C15ull, {s, ~s}}; }
bool intact(const Msg& m) { return m.check == m.seq * 0x9E3779B97F4A7C15ull && m.pad[0] == m.seq && m.pad[1] == ~m.seq; }

constexpr std::uint32_t kWidth = 64, kHeight = 32;

RegionSpec hostile_spec() {
    RegionSpec spec;
    spec.max_consumers = 4;
    spec.remote_consumer_slots = 0;  // one kernel: no sides
    spec.consumer_timeout = 200ms;   // reaping happens within a run
    spec.heartbeat_period = 10ms;
    spec.add(ring_of<Msg>("events", 16, RingPolicy::lossless));
    spec.add(RingSpec{"log", 48, 8, RingPolicy::overwrite});
    spec.add(FrameSpec{"frames", kWidth, kHeight, 4, 3, 8});
    spec.add(CursorShapeSpec{"shape", 16});
    spec.add(CursorPositionSpec{"pos"});
    spec.add(ControlSpec{"control", 8, 64});
    return spec;
}

std::uint64_t hostile_iterations() {
    if (const char* env = std::getenv("PANE_HOSTILE_ITERATIONS"); env != nullptr && *env != '\0') {
        return static_cast<std::uint64_t>(std::strtod(env, nullptr));
    }
    return pane_test::scaled(200'000);
}

// Counts calls that returned later than their own bound plus 10 s: a hang, whatever the load.
struct Bounds {
    std::atomic<std::uint64_t> calls{0}, overruns{0};
    template <class Fn>
    auto operator()(Clock::duration bound, Fn&& fn) {
        const auto start = Clock::now();
        auto guard = [&] {
            calls.fetch_add(1, std::memory_order_relaxed);
            if (Clock::now() - start > bound + 10s) overruns.fetch_add(1, std::memory_order_relaxed);
        };
        if constexpr (std::is_void_v<decltype(fn())>) {
            fn();
            guard();
        } else {
            auto r = fn();
            guard();
            return r;
        }
    }
};

// An aligned word of the region the hostile thread may write, 4 or 8 bytes wide.
struct Word {
    std::size_t offset;
    unsigned width;
};

// The structures of each side, as words: what the hostile thread aims at.
struct Targets {
    std::vector<Word> producer_words;  // written by the producer, read by consumers
    std::vector<Word> consumer_words;  // written by consumers, read by the producer (slots 1.., shared)
    std::vector<Word> slot0_words;     // the structures of the consumer in slot 0
    std::size_t tables_end;            // header, channel table, slot table: [0, tables_end)
};

Targets targets_of(const RegionPlan& plan, std::uint32_t consumers) {
    Targets t;
    const auto add_struct = [](std::vector<Word>& v, std::size_t at, std::size_t bytes) {
        for (std::size_t o = 0; o + 8 <= bytes; o += 8) {
            v.push_back({at + o, 8});
            v.push_back({at + o, 4});
            v.push_back({at + o + 4, 4});
        }
    };
    add_struct(t.producer_words, 0, 192);  // header lines 0-2: identity, geometry, epoch, state, heartbeat
    add_struct(t.producer_words, plan.channel_table_offset, plan.channels.size() * sizeof(ChannelEntry));
    // The consumer words of slot i: slot 0's go to their own list, so that the producer's victim
    // test can leave one legitimate consumer working beside the hostile ones.
    const auto mine = [&t](std::uint32_t i) -> std::vector<Word>& { return i == 0 ? t.slot0_words : t.consumer_words; };
    for (std::uint32_t i = 0; i < consumers; ++i) {
        const std::size_t slot = plan.slot_table_offset + i * sizeof(ConsumerSlot);
        add_struct(mine(i), slot, 64);
        add_struct(t.producer_words, slot + 64, 16);  // reaped_claim, reap_count
    }
    t.tables_end = plan.slot_table_offset + consumers * sizeof(ConsumerSlot);
    for (const auto& c : plan.channels) {
        const std::size_t at = c.entry.offset;
        if (const auto* r = std::get_if<RingSpec>(&c.spec)) {
            const auto g = *detail::ring_geometry(r->capacity, r->element_size, consumers);
            add_struct(t.producer_words, at, 128);  // control lines 0-1
            add_struct(t.consumer_words, at + 128, 8);  // sleepers
            for (std::uint32_t i = 0; i < consumers; ++i) add_struct(mine(i), at + g.cursors_offset + i * sizeof(RingCursor), sizeof(RingCursor));
            add_struct(t.producer_words, at + g.slots_offset, std::uint64_t{g.capacity} * g.slot_stride);
        } else if (const auto* f = std::get_if<FrameSpec>(&c.spec)) {
            const auto g = *detail::frame_geometry(f->buffer_count, f->max_width, f->max_height, f->max_bytes_per_pixel,
                                                   f->descriptors, consumers);
            add_struct(t.producer_words, at, sizeof(FrameControl));
            add_struct(t.producer_words, at + g.states_offset, std::uint64_t{g.buffer_count} * sizeof(FrameBufferState));
            for (std::uint32_t i = 0; i < consumers; ++i) add_struct(mine(i), at + g.leases_offset + i * sizeof(FrameLease), sizeof(FrameLease));
            const std::size_t ring = at + g.ring_offset;
            add_struct(t.producer_words, ring, 128);
            add_struct(t.consumer_words, ring + 128, 8);
            for (std::uint32_t i = 0; i < consumers; ++i) add_struct(mine(i), ring + g.ring.cursors_offset + i * sizeof(RingCursor), sizeof(RingCursor));
            // Descriptor headers and their first 64 bytes (serial .. damage_count).
            for (std::uint32_t s = 0; s < g.ring.capacity; ++s) {
                add_struct(t.producer_words, ring + g.ring.slots_offset + std::uint64_t{s} * g.ring.slot_stride, 16 + 64);
            }
        } else if (std::holds_alternative<CursorShapeSpec>(c.spec)) {
            add_struct(t.producer_words, at, sizeof(CursorShapeControl));
        } else if (std::holds_alternative<CursorPositionSpec>(c.spec)) {
            add_struct(t.producer_words, at, 64);
            add_struct(t.consumer_words, at + 64, 8);
        } else if (const auto* k = std::get_if<ControlSpec>(&c.spec)) {
            const auto g = *detail::control_geometry(k->capacity, k->element_size, consumers);
            add_struct(t.producer_words, at, sizeof(ControlChannelControl));
            for (std::uint32_t i = 0; i < consumers; ++i) {
                const std::size_t ring = at + g.rings_offset + i * g.ring_size;
                add_struct(mine(i), ring, 16);                      // claim, write_pos
                add_struct(t.producer_words, ring + 64, 24);        // read_pos, accepted, rejected
                add_struct(mine(i), ring + 128, g.ring_size - 128);  // its slots
            }
        }
    }
    return t;
}

// The hostile thread: `iterations` writes, each into a word of `aimed` (three in four) or into
// any aligned word of the tables and channel heads, of a value chosen to be plausible (the
// current value off by a little, a neighbouring sequence number) or extreme.
void corrupt(std::byte* region, std::size_t region_size, const Targets& t, const std::vector<Word>& aimed,
             std::uint64_t iterations, std::uint64_t seed, std::atomic<bool>& stop, std::atomic<std::uint64_t>& done) {
    std::mt19937_64 rng(seed);
    const std::size_t anywhere_end = std::min(region_size, t.tables_end + 16384);
    for (std::uint64_t i = 0; i < iterations && !stop.load(std::memory_order_relaxed); ++i) {
        const std::uint64_t r = rng();
        Word w = aimed[(r >> 8) % aimed.size()];
        if ((r & 3) == 0) w = Word{((r >> 8) % (anywhere_end / 4)) * 4, 4};
        std::uint64_t current = 0;
        if (w.width == 8 && w.offset % 8 == 0) {
            current = std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(region + w.offset)).load(std::memory_order_relaxed);
        } else {
            w.width = 4;
            current = std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(region + w.offset)).load(std::memory_order_relaxed);
        }
        std::uint64_t value = 0;
        const std::uint64_t v = rng();
        switch ((r >> 2) % 10) {
            case 0: value = 0; break;
            case 1: value = ~std::uint64_t{0}; break;
            case 2: value = std::uint64_t{1} << (v % 64); break;
            case 3: value = v % 70; break;                        // small: indices, counts, enums
            case 4: value = current + 1 + v % 4; break;           // a little ahead: positions, seqs
            case 5: value = current - 1 - v % 4; break;           // a little behind
            case 6: value = current + 2; break;                   // the next complete sequence
            case 7: value = current ^ (std::uint64_t{0xFF} << (8 * (v % w.width))); break;  // one byte
            case 8: value = current ^ (std::uint64_t{1} << (v % (8 * w.width))); break;     // one bit
            default: value = v; break;
        }
        if (w.width == 8) {
            std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(region + w.offset)).store(value, std::memory_order_relaxed);
        } else {
            std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(region + w.offset))
                .store(static_cast<std::uint32_t>(value), std::memory_order_relaxed);
        }
        done.store(i + 1, std::memory_order_relaxed);
        // A few microseconds between writes, so the victims get calls done in between (no sleep:
        // under load a timer sleep per write would stretch a long run to hours).
        for (std::uint64_t spin = v % 256; spin > 0; --spin) detail::cpu_relax();
    }
}

// The producer's normal loop, one round: a few ring messages, a frame written with word copies,
// the cursor, control messages drained, a tick. Returns how many calls reported an error.
struct ProducerLoop {
    std::optional<ProducerSession> session;
    RingProducer<Msg> events;
    ByteRingProducer log;
    FrameProducer frames;
    CursorShapeProducer shape;
    CursorPositionProducer pos;
    ControlReceiver control;
    std::uint64_t next = 0;
    std::uint8_t fill = 1;
    std::vector<std::byte> pixels = std::vector<std::byte>(std::size_t{kWidth} * 4 * kHeight);

    // Creates (or re-creates, replacing ours) the producer on `region`.
    bool start(std::span<std::byte> region, const RegionSpec& spec, std::chrono::milliseconds grace) {
        stop();
        ProducerOptions options;
        options.reinit_grace = grace;
        options.take_over = true;  // whatever the hostile thread made of the previous state
        auto created = ProducerSession::create(region, spec, options);
        if (!created) return false;
        session.emplace(std::move(created.value()));
        events = session->ring<Msg>("events").value();
        log = session->byte_ring("log").value();
        frames = session->frames("frames").value();
        shape = session->cursor_shape("shape").value();
        pos = session->cursor_position("pos").value();
        control = session->control("control").value();
        next = 0;
        return true;
    }
    void stop() {
        events = {};
        log = {};
        frames = {};
        shape = {};
        pos = {};
        control = {};
        session.reset();  // marks the region closed (if no other producer took it over)
    }

    [[nodiscard]] FrameStatus publish_frame(std::uint8_t value) {
        FrameWriter w;
        FrameInfo info;
        info.width = kWidth;
        info.height = kHeight;
        const FrameStatus s = frames.begin(info, w);
        if (s != FrameStatus::ok) return s;
        std::memset(pixels.data(), value, pixels.size());
        detail::copy_to_shared(w.bytes().data(), pixels.data(), pixels.size());  // atomic words: race-free
        w.finish();
        return s;
    }

    std::uint64_t round(Bounds& bounds, std::uint64_t& received) {
        std::uint64_t errors = 0;
        bounds(0s, [&] { session->tick(); });
        for (int i = 0; i < 4; ++i) {
            const Msg m = make_msg(next);
            const auto s = bounds(2ms, [&] { return events.push(m, FutexWait{}, 2ms); });
            if (s == PushStatus::ok) ++next; else ++errors;
        }
        std::array<std::byte, 48> line{};
        if (bounds(0s, [&] { return log.try_push(line); }) != PushStatus::ok) ++errors;
        if (bounds(0s, [&] { return publish_frame(fill++); }) != FrameStatus::ok) ++errors;
        std::array<std::byte, 4 * 4 * 4> cursor{};
        if (bounds(0s, [&] { return shape.publish(CursorType::color, 4, 4, 16, 0, 0, cursor); }) != CursorStatus::ok) ++errors;
        bounds(0s, [&] { pos.publish(static_cast<std::int32_t>(next), 2, true, shape.serial()); });
        for (int i = 0; i < 8; ++i) {
            ControlMessage m;
            if (bounds(0s, [&] { return control.try_receive(m); }) != ControlStatus::ok) break;
            ++received;
        }
        return errors;
    }
};

// A consumer's normal loop: attach, open everything, read everything, tick; on any sign that the
// session is gone, drop the handles and attach again. Counts what it sees.
struct ConsumerLoop {
    explicit ConsumerLoop(std::span<std::byte> r) : region(r) {}
    std::span<std::byte> region;
    std::optional<ConsumerSession> session;
    RingConsumer<Msg> events;
    ByteRingConsumer log;
    FrameConsumer frames;
    FrameView view;
    std::optional<CursorShapeConsumer> shape;
    CursorPositionConsumer pos;
    ControlSender control;
    std::vector<std::byte> row = std::vector<std::byte>(std::size_t{kWidth} * 4);
    std::uint64_t messages = 0, sent = 0, attaches = 0, errors = 0, broken = 0, invalid = 0;
    std::uint64_t forged = 0;         // a well-formed message the hostile thread wrote: data, as far as Pane can tell
    std::uint64_t out_of_bounds = 0;  // an answer outside what Pane promises: must stay 0

    void drop() {
        events = {};
        log = {};
        view = {};
        frames = {};
        shape.reset();
        pos = {};
        control = {};
        session.reset();
    }
    bool attach(Bounds& bounds) {
        drop();
        auto s = bounds(0s, [&] { return ConsumerSession::attach(region); });
        if (!s) {
            ++errors;
            return false;
        }
        ++attaches;
        session.emplace(std::move(s.value()));
        auto e = bounds(0s, [&] { return session->ring<Msg>("events"); });
        auto l = bounds(0s, [&] { return session->byte_ring("log"); });
        auto f = bounds(0s, [&] { return session->frames("frames"); });
        auto c = bounds(0s, [&] { return session->cursor_shape("shape"); });
        auto p = bounds(0s, [&] { return session->cursor_position("pos"); });
        auto k = bounds(0s, [&] { return session->control("control"); });
        if (!e || !l || !f || !c || !p || !k) {  // a forged control line
            ++errors;
            return false;
        }
        events = std::move(e.value());
        log = std::move(l.value());
        frames = std::move(f.value());
        shape.emplace(std::move(c.value()));
        pos = std::move(p.value());
        control = std::move(k.value());
        return true;
    }

    // One round; false when the session is gone (the caller attaches again).
    bool round(Bounds& bounds) {
        bool current = true;
        const auto lost = [&](auto status, auto epoch_changed, auto slot_lost) {
            if (status == epoch_changed || status == slot_lost) current = false;
        };
        Msg m{};
        for (int i = 0; i < 4; ++i) {
            const PopResult r = bounds(2ms, [&] { return events.pop(m, FutexWait{}, 2ms); });
            lost(r.status, PopStatus::epoch_changed, PopStatus::slot_lost);
            if (r.status == PopStatus::ok) {
                ++messages;
                if (!intact(m)) ++forged;  // possible only when the hostile thread forged it
            } else if (r.status == PopStatus::broken) {
                ++broken;
            } else if (r.status != PopStatus::timed_out) {
                ++errors;
            }
            if (r.status != PopStatus::ok) break;
        }
        std::array<std::byte, 64> line{};
        const PopResult l = bounds(0s, [&] { return log.try_pop(line); });
        lost(l.status, PopStatus::epoch_changed, PopStatus::slot_lost);
        if (l.status == PopStatus::ok && l.length > 48) ++out_of_bounds;  // never: the element size bounds it
        if (l.status == PopStatus::broken) ++broken;

        const FrameStatus fs = bounds(1ms, [&] { return frames.wait_latest(view, FutexWait{}, 1ms); });
        lost(fs, FrameStatus::epoch_changed, FrameStatus::slot_lost);
        if (fs == FrameStatus::ok) {
            const std::uint32_t rows = view.rows_ready();
            const auto& d = view.descriptor();
            const std::size_t row_bytes = std::size_t{d.width} * bytes_per_pixel(static_cast<FrameFormat>(d.format));
            if (rows > d.height || row_bytes > row.size() || view.bytes().size() > frames_buffer_size) {
                ++out_of_bounds;  // never: acquire_latest validated the descriptor
            } else {
                for (std::uint32_t y = 0; y < rows; ++y) detail::copy_from_shared(row.data(), view.row(y), row_bytes);
            }
            const FrameStatus v = bounds(0s, [&] { return view.verify(); });
            lost(v, FrameStatus::epoch_changed, FrameStatus::slot_lost);
        } else if (fs == FrameStatus::broken) {
            ++broken;
        }
        CursorShape cs;
        const CursorStatus sh = bounds(0s, [&] { return shape->try_read(cs); });
        lost(sh, CursorStatus::epoch_changed, CursorStatus::slot_lost);
        if (sh == CursorStatus::invalid) ++invalid;
        if (sh == CursorStatus::ok && cs.data.size() != cs.header.data_size) ++out_of_bounds;
        CursorPosition cp;
        const CursorStatus ps = bounds(0s, [&] { return pos.try_read(cp); });
        lost(ps, CursorStatus::epoch_changed, CursorStatus::slot_lost);
        if (ps == CursorStatus::invalid) ++invalid;
        const ControlStatus k = bounds(0s, [&] { return control.send_cursor_position(1, 2); });
        lost(k, ControlStatus::epoch_changed, ControlStatus::slot_lost);
        if (k == ControlStatus::ok) ++sent;
        const SessionStatus t = bounds(0s, [&] { return session->tick(); });
        if (t != SessionStatus::ok) current = false;
        if (!current) ++errors;
        return current;
    }
    std::uint64_t frames_buffer_size = 0;
};

struct Outcome {
    std::uint64_t hostile_writes = 0, producer_rounds = 0, consumer_rounds = 0;
};

// Runs the hostile thread against `aimed` with a producer thread and a consumer thread in their
// normal loops; the producer re-initialises every `reinit_every` rounds (0: never), as a
// restarted producer would, so the consumer keeps finding valid regions to go deep into.
Outcome run_hostile(pane::map::Mapping& region, const RegionSpec& spec, bool aim_at_producer_words,
                    ProducerLoop& producer, ConsumerLoop& consumer, Bounds& bounds, std::uint64_t& producer_errors,
                    std::uint64_t& control_received, unsigned reinit_every,
                    const std::function<void()>& after_hostile = {}) {
    const auto plan = plan_region(spec).value();
    const Targets targets = targets_of(plan, spec.max_consumers);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> writes{0}, producer_rounds{0}, consumer_rounds{0};
    std::thread producer_thread([&] {
        for (unsigned n = 1; !stop.load(std::memory_order_relaxed); ++n) {
            producer_errors += producer.round(bounds, control_received);
            producer_rounds.fetch_add(1, std::memory_order_relaxed);
            if (reinit_every != 0 && n % reinit_every == 0) {
                if (!bounds(5ms, [&] { return producer.start(region.bytes(), spec, 5ms); })) ++producer_errors;
            }
        }
    });
    std::thread consumer_thread([&] {
        bool attached = consumer.session.has_value();
        while (!stop.load(std::memory_order_relaxed)) {
            if (!attached) attached = consumer.attach(bounds);
            if (attached) attached = consumer.round(bounds);
            consumer_rounds.fetch_add(1, std::memory_order_relaxed);
            if (!attached) std::this_thread::sleep_for(100us);
        }
    });
    std::thread hostile([&] {
        corrupt(region.bytes().data(), region.size(), targets,
                aim_at_producer_words ? targets.producer_words : targets.consumer_words, hostile_iterations(),
                aim_at_producer_words ? 1 : 2, stop, writes);
    });
    hostile.join();
    if (after_hostile) {
        // One last, coherent forgery; the producer loop must get to it (two rounds) before it stops.
        after_hostile();
        const std::uint64_t seen = producer_rounds.load();
        const auto deadline = Clock::now() + 30s;
        while (producer_rounds.load() < seen + 2 && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
    }
    stop = true;
    producer_thread.join();
    consumer_thread.join();
    return {writes.load(), producer_rounds.load(), consumer_rounds.load()};
}

// After the hostile thread: a new producer on the same memory, and a consumer that attaches
// again and reads exactly what is published.
void check_recovery(pane::map::Mapping& region, const RegionSpec& spec, ProducerLoop& producer, ConsumerLoop& consumer) {
    Bounds bounds;
    REQUIRE(producer.start(region.bytes(), spec, 100ms));
    // The victim's old session notices (or had noticed) that its region is gone.
    if (consumer.session) CHECK(consumer.session->tick() != SessionStatus::ok);
    REQUIRE(consumer.attach(bounds));
    producer.session->tick();
    for (std::uint64_t i = 0; i < 10; ++i) REQUIRE(producer.events.try_push(make_msg(i)) == PushStatus::ok);
    for (std::uint64_t i = 0; i < 10; ++i) {
        Msg m{};
        REQUIRE(consumer.events.try_pop(m).status == PopStatus::ok);
        CHECK(m.seq == i);
        CHECK(intact(m));
    }
    REQUIRE(producer.publish_frame(0x5C) == FrameStatus::ok);
    REQUIRE(consumer.frames.acquire_latest(consumer.view) == FrameStatus::ok);
    REQUIRE(consumer.view.rows_ready() == kHeight);
    detail::copy_from_shared(consumer.row.data(), consumer.view.row(kHeight - 1), consumer.row.size());
    CHECK(std::all_of(consumer.row.begin(), consumer.row.end(), [](std::byte b) { return b == std::byte{0x5C}; }));
    CHECK(consumer.view.verify() == FrameStatus::ok);
    std::array<std::byte, 4 * 4 * 4> cursor{};
    cursor.fill(std::byte{0x77});
    REQUIRE(producer.shape.publish(CursorType::color, 4, 4, 16, 1, 1, cursor) == CursorStatus::ok);
    CursorShape shape;
    REQUIRE(consumer.shape->try_read(shape) == CursorStatus::ok);
    CHECK(shape.header.width == 4);
    CHECK(shape.data.size() == cursor.size());
    CHECK(shape.data[7] == std::byte{0x77});
    producer.pos.publish(321, -7, true, shape.header.serial);
    CursorPosition p;
    REQUIRE(consumer.pos.try_read(p) == CursorStatus::ok);
    CHECK((p.x == 321 && p.y == -7 && p.visible && p.shape_serial == shape.header.serial));
    REQUIRE(consumer.control.send_window_size(1280, 720) == ControlStatus::ok);
    ControlMessage m;
    REQUIRE(producer.control.try_receive(m) == ControlStatus::ok);
    CHECK(m.type == ControlType::window_size);
    CHECK((m.window.width == 1280 && m.window.height == 720));
    CHECK(consumer.session->tick() == SessionStatus::ok);
    CHECK(bounds.overruns.load() == 0);
    consumer.drop();
}

}  // namespace

TEST_CASE("hostile writes to producer words while a consumer runs: no fault, bounded calls, errors counted, recovery",
          "[hostile][concurrency]") {
    const RegionSpec spec = hostile_spec();
    auto region = pane_test::memory_region(spec);
    ProducerLoop producer;
    REQUIRE(producer.start(region.bytes(), spec, 5ms));
    ConsumerLoop consumer(region.bytes());
    consumer.frames_buffer_size = producer.frames.buffer_size();
    Bounds bounds;
    std::uint64_t producer_errors = 0, received = 0;
    const Outcome o = run_hostile(region, spec, true, producer, consumer, bounds, producer_errors, received, 25);
    INFO("hostile writes " << o.hostile_writes << ", producer rounds " << o.producer_rounds << ", consumer rounds "
                           << o.consumer_rounds << ", calls " << bounds.calls.load() << ", consumer: attaches "
                           << consumer.attaches << ", messages " << consumer.messages << ", errors " << consumer.errors
                           << ", broken " << consumer.broken << ", invalid " << consumer.invalid << ", out of bounds "
                           << consumer.out_of_bounds);
    std::printf("hostile/consumer: %llu hostile writes, %llu producer rounds, %llu consumer rounds, %llu calls, "
                "%llu attaches, %llu messages, %llu errors, %llu broken, %llu invalid, %llu forged messages, "
                "%llu out of bounds, %llu overruns\n",
                static_cast<unsigned long long>(o.hostile_writes), static_cast<unsigned long long>(o.producer_rounds),
                static_cast<unsigned long long>(o.consumer_rounds), static_cast<unsigned long long>(bounds.calls.load()),
                static_cast<unsigned long long>(consumer.attaches), static_cast<unsigned long long>(consumer.messages),
                static_cast<unsigned long long>(consumer.errors), static_cast<unsigned long long>(consumer.broken),
                static_cast<unsigned long long>(consumer.invalid), static_cast<unsigned long long>(consumer.forged),
                static_cast<unsigned long long>(consumer.out_of_bounds),
                static_cast<unsigned long long>(bounds.overruns.load()));
    CHECK(o.hostile_writes == hostile_iterations());
    CHECK(bounds.overruns.load() == 0);
    CHECK(consumer.attaches > 0);  // the victim ran
    CHECK(consumer.errors + consumer.broken + consumer.invalid > 0);  // and saw the damage
    CHECK(consumer.out_of_bounds == 0);
    check_recovery(region, spec, producer, consumer);
}

TEST_CASE("hostile writes to consumer words while the producer runs: no fault, bounded calls, errors counted, recovery",
          "[hostile][concurrency]") {
    const RegionSpec spec = hostile_spec();
    auto region = pane_test::memory_region(spec);
    ProducerLoop producer;
    REQUIRE(producer.start(region.bytes(), spec, 5ms));
    ConsumerLoop consumer(region.bytes());
    consumer.frames_buffer_size = producer.frames.buffer_size();
    Bounds bounds;
    std::uint64_t producer_errors = 0, received = 0;
    // The legitimate consumer takes slot 0 first; the hostile thread plays the consumers of the
    // other slots (and every word consumers share), so the producer serves one honest reader
    // among hostile ones.
    REQUIRE(consumer.attach(bounds));
    REQUIRE(consumer.session->slot_index() == 0);
    // After the random writes, a hostile consumer in slot 1 forges a coherent control message of 3
    // bytes (shorter than its header): the producer must consume it and count it as rejected.
    const auto forge_control = [&] {
        const auto plan = plan_region(spec).value();
        const auto& entry = plan.channels[5].entry;
        const auto g = *detail::control_geometry(8, 64, spec.max_consumers);
        std::byte* base = region.bytes().data();
        auto* slot1 = reinterpret_cast<ConsumerSlot*>(base + plan.slot_table_offset) + 1;
        auto* ring1 = reinterpret_cast<ControlRingControl*>(base + entry.offset + g.rings_offset + g.ring_size);
        const std::uint64_t claim = (detail::load_relaxed(slot1->reaped_claim) + 2) | 1u;  // held, not reaped
        const std::uint64_t p = detail::load_acquire(ring1->read_pos);
        auto* msg = reinterpret_cast<RingSlotHeader*>(reinterpret_cast<std::byte*>(ring1) + sizeof(ControlRingControl) +
                                                      (p & (g.capacity - 1)) * g.slot_stride);
        detail::store_relaxed(msg->length, 3u);
        detail::store_release(msg->seq, detail::seq_complete(p));
        detail::store_release(ring1->write_pos, p + 1);
        detail::store_release(ring1->claim, claim);
        detail::store_release(slot1->claim, claim);
    };
    const Outcome o =
        run_hostile(region, spec, false, producer, consumer, bounds, producer_errors, received, 0, forge_control);
    const std::uint64_t rejected = producer.control.rejected();
    std::printf("hostile/producer: %llu hostile writes, %llu producer rounds, %llu consumer rounds, %llu calls, "
                "%llu consumer attaches, %llu control messages sent, %llu producer errors, %llu control messages received, "
                "%llu rejected, %llu reaped, %llu overruns\n",
                static_cast<unsigned long long>(o.hostile_writes), static_cast<unsigned long long>(o.producer_rounds),
                static_cast<unsigned long long>(o.consumer_rounds), static_cast<unsigned long long>(bounds.calls.load()),
                static_cast<unsigned long long>(consumer.attaches), static_cast<unsigned long long>(consumer.sent),
                static_cast<unsigned long long>(producer_errors), static_cast<unsigned long long>(received),
                static_cast<unsigned long long>(rejected),
                static_cast<unsigned long long>(producer.session->reaped_total()),
                static_cast<unsigned long long>(bounds.overruns.load()));
    CHECK(o.hostile_writes == hostile_iterations());
    CHECK(bounds.overruns.load() == 0);
    CHECK(o.producer_rounds > 0);
    CHECK(rejected > 0);  // the producer counted the forged message at least
    CHECK(consumer.out_of_bounds == 0);
    check_recovery(region, spec, producer, consumer);
}
