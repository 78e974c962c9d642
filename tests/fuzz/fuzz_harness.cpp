// SPDX-License-Identifier: MIT
// The fuzzing harness (see fuzz_harness.hpp for the input format). Every input starts from the
// same valid region: a producer with two rings (lossless and overwrite, the latter with positions
// about to wrap past 2^64), a frame channel with a complete and a half-written frame, a cursor
// shape and position, and a control channel; two consumers attached, every channel open, control
// messages sent, the first consumer holding a frame lease. The patches then make it hostile and
// the target's operations run through the public API only. Invariants (FUZZ_CHECK aborts):
//   - every answer is a documented status; data returned lies within its bounds (a message no
//     longer than the element size, a frame view inside its buffer, rows within the geometry, a
//     shape no larger than the channel's capacity, a control body matching its type);
//   - a consumer operation writes only words its slot owns (or consumer-shared words), a producer
//     operation only producer-owned words: compared byte by byte before and after each operation.
// AddressSanitizer and UndefinedBehaviorSanitizer catch reads and writes out of the region and
// undefined behaviour; libFuzzer's -timeout catches hangs.
#include "fuzz_harness.hpp"

#include <pane/pane.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>

namespace pane_fuzz {
namespace {

using namespace pane;
using namespace std::chrono_literals;

[[noreturn]] void fail(const char* what, int line) {
    std::fprintf(stderr, "pane-fuzz: invariant broken at fuzz_harness.cpp:%d: %s\n", line, what);
    std::abort();
}
#define FUZZ_CHECK(c)                    \
    do {                                 \
        if (!(c)) fail(#c, __LINE__);    \
    } while (0)

struct Event {
    std::uint64_t seq, a, b;
};
constexpr std::uint32_t kConsumers = 4;
constexpr std::uint32_t kLogElement = 40;
constexpr std::uint64_t kLogStart = ~std::uint64_t{0} - 5;  // wraps past 2^64 during setup

RegionSpec make_spec() {
    RegionSpec spec;
    spec.max_consumers = kConsumers;
    spec.remote_consumer_slots = 0;
    spec.channel_table_capacity = 8;
    spec.consumer_timeout = 1000ms;
    spec.heartbeat_period = 10ms;
    spec.add(RingSpec{"events", sizeof(Event), 8, RingPolicy::lossless});
    spec.add(RingSpec{"log", kLogElement, 4, RingPolicy::overwrite, 0, true, kLogStart});
    spec.add(FrameSpec{"frames", 32, 16, 8, 3, 4});
    spec.add(CursorShapeSpec{"shape", 8});
    spec.add(CursorPositionSpec{"pos"});
    spec.add(ControlSpec{"control", 4, 64});
    return spec;
}

using Range = std::pair<std::uint64_t, std::uint64_t>;  // [offset, offset + length)

// Where everything is, computed once from the plan.
struct Layout {
    RegionSpec spec = make_spec();
    RegionPlan plan = plan_region(spec).value();
    std::uint64_t size = plan.region_size;
    std::uint64_t events = plan.channels[0].entry.offset, log = plan.channels[1].entry.offset,
                  frames = plan.channels[2].entry.offset, shape = plan.channels[3].entry.offset,
                  pos = plan.channels[4].entry.offset, control = plan.channels[5].entry.offset;
    detail::RingGeometry ring_events = *detail::ring_geometry(8, sizeof(Event), kConsumers);
    detail::RingGeometry ring_log = *detail::ring_geometry(4, kLogElement, kConsumers);
    detail::FrameGeometry fg = *detail::frame_geometry(3, 32, 16, 8, 4, kConsumers);
    detail::CursorShapeGeometry sg = *detail::cursor_shape_geometry(8);
    detail::ControlGeometry cg = *detail::control_geometry(4, 64, kConsumers);
    // Per byte: bit i set when consumer slot i's holder may write it; 0 = the producer's.
    std::vector<std::uint8_t> owner = std::vector<std::uint8_t>(size, 0);
    std::array<std::vector<Range>, std::size(kTargets)> windows;
    std::array<std::uint64_t, std::size(kTargets)> window_total{};

    Layout() {
        const std::uint64_t slots = plan.slot_table_offset;
        constexpr std::uint8_t all = (1u << kConsumers) - 1;
        const auto own = [&](std::uint64_t at, std::uint64_t n, std::uint8_t who) {
            for (std::uint64_t b = at; b < at + n; ++b) owner[b] |= who;
        };
        for (std::uint32_t i = 0; i < kConsumers; ++i) {
            const auto me = static_cast<std::uint8_t>(1u << i);
            own(slots + i * sizeof(ConsumerSlot), 64, me);  // the consumer's line of its slot
            for (const auto& [at, g] : {std::pair{events, ring_events}, std::pair{log, ring_log},
                                        std::pair{frames + fg.ring_offset, fg.ring}}) {
                own(at + g.cursors_offset + i * sizeof(RingCursor), sizeof(RingCursor), me);
            }
            own(frames + fg.leases_offset + i * sizeof(FrameLease), sizeof(FrameLease), me);
            const std::uint64_t ring = control + cg.rings_offset + i * cg.ring_size;
            own(ring, 64, me);                                     // claim, write_pos
            own(ring + sizeof(ControlRingControl), cg.ring_size - sizeof(ControlRingControl), me);  // its slots
        }
        for (const std::uint64_t ring : {events, log, frames + fg.ring_offset}) own(ring + 128, 64, all);  // sleepers
        own(pos + 64, 64, all);  // cursor position sleepers

        const Range header{0, sizeof(RegionHeader)}, header_hot{0, 64}, header_beat{128, 64};
        const Range table{plan.channel_table_offset, std::uint64_t{spec.channel_table_capacity} * sizeof(ChannelEntry)};
        const Range slot_table{slots, std::uint64_t{kConsumers} * sizeof(ConsumerSlot)};
        const Range slot0{slots, sizeof(ConsumerSlot)};
        set(Target::attach, {header, table, slot_table, {events, 192}, {log, 192}, {frames, sizeof(FrameControl)},
                             {frames + fg.ring_offset, 192}, {shape, sizeof(CursorShapeControl)},
                             {pos, sizeof(CursorPositionControl)}, {control, sizeof(ControlChannelControl)}});
        set(Target::ring, {{events, ring_events.total_size}, {log, ring_log.total_size}, header_hot, header_beat, slot0});
        set(Target::frames, {{frames, fg.buffers_offset}, header_hot, slot0});
        set(Target::cursor, {{shape, sg.total_size}, {pos, sizeof(CursorPositionControl)}, header_hot, slot0});
        set(Target::producer,
            {slot_table, {events + ring_events.cursors_offset, kConsumers * sizeof(RingCursor)}, {events + 128, 64},
             {log + 128, 64}, {frames + fg.leases_offset, kConsumers * sizeof(FrameLease)},
             {frames + fg.ring_offset + fg.ring.cursors_offset, kConsumers * sizeof(RingCursor)},
             {frames + fg.ring_offset + 128, 64}, {pos + 64, 64}, header});
        set(Target::control, {{control, cg.total_size}, slot_table});
    }
    void set(Target t, std::vector<Range> ranges) {
        const auto i = static_cast<std::size_t>(t);
        for (const auto& r : ranges) window_total[i] += r.second;
        windows[i] = std::move(ranges);
    }
    // Maps a window offset (already reduced modulo the window's size) to a region offset.
    [[nodiscard]] std::uint64_t in_window(Target t, std::uint64_t at) const {
        for (const auto& [start, length] : windows[static_cast<std::size_t>(t)]) {
            if (at < length) return start + at;
            at -= length;
        }
        return 0;
    }
};

const Layout& layout() {
    static const Layout l;
    return l;
}

// The region: exactly the plan's size, page-aligned, so AddressSanitizer sees any access past it.
// Allocated once per size and zeroed for each input: a fresh allocation per input cost most of
// the run in page faults.
struct RegionMemory {
    std::byte* data;
    std::size_t size;
    explicit RegionMemory(std::size_t n)
        : data(static_cast<std::byte*>(::operator new(n, std::align_val_t{4096}))), size(n) {
        std::memset(data, 0, n);
    }
    ~RegionMemory() { ::operator delete(data, std::align_val_t{4096}); }
    RegionMemory(const RegionMemory&) = delete;
    RegionMemory& operator=(const RegionMemory&) = delete;
    [[nodiscard]] std::span<std::byte> span() const { return {data, size}; }

    [[nodiscard]] static RegionMemory& of_size(std::size_t n) {
        static std::vector<std::unique_ptr<RegionMemory>> pool;
        for (auto& m : pool) {
            if (m->size == n) return *m;
        }
        return *pool.emplace_back(std::make_unique<RegionMemory>(n));
    }
};

// ---- reads with their invariants -------------------------------------------------------

void read_events(RingConsumer<Event>& c) {
    Event e{};
    const PopResult r = c.try_pop(e);
    if (r.status == PopStatus::ok) FUZZ_CHECK(r.length == sizeof(Event));
    Event batch[3]{};
    const PopBatchResult b = c.try_pop_batch(batch);
    FUZZ_CHECK(b.count <= 3);
    FUZZ_CHECK(b.status == PopStatus::ok || b.count == 0);
}

void read_log(ByteRingConsumer& c) {
    std::array<std::byte, 64> big{};
    PopResult r = c.try_pop(big);
    if (r.status == PopStatus::ok) FUZZ_CHECK(r.length <= kLogElement);
    std::array<std::byte, 8> small{};
    r = c.try_pop(small);
    if (r.status == PopStatus::ok) FUZZ_CHECK(r.length <= small.size());
    if (r.status == PopStatus::buffer_too_small) FUZZ_CHECK(r.length > small.size() && r.length <= kLogElement);
    std::array<std::byte, 3 * kLogElement> cells{};
    const PopBatchResult b = c.try_pop_batch(cells, kLogElement);
    FUZZ_CHECK(b.count <= 3);
}

void check_view(const FrameView& v, const std::byte* region) {
    const Layout& l = layout();
    const FrameDescriptor& d = v.descriptor();
    FUZZ_CHECK(d.buffer_index < l.fg.buffer_count);
    const std::byte* buffer = region + l.frames + l.fg.buffers_offset + std::uint64_t{d.buffer_index} * l.fg.buffer_size;
    FUZZ_CHECK(v.bytes().data() == buffer);
    FUZZ_CHECK(v.bytes().size() <= l.fg.buffer_size);
    FUZZ_CHECK(d.format >= 1 && d.format <= kMaxFrameFormat);
    const std::uint64_t row_bytes = std::uint64_t{d.width} * bytes_per_pixel(static_cast<FrameFormat>(d.format));
    FUZZ_CHECK(d.width <= l.fg.max_width && d.height <= l.fg.max_height && d.stride >= row_bytes);
    const std::uint32_t rows = v.rows_ready();
    FUZZ_CHECK(rows <= d.height);
    // Read every ready row as a viewer would; each must lie inside the view's bytes.
    std::array<std::byte, 32 * 8> row{};
    for (std::uint32_t y = 0; y < rows; ++y) {
        FUZZ_CHECK(v.row(y) + row_bytes <= v.bytes().data() + v.bytes().size());
        FUZZ_CHECK(row_bytes <= row.size());
        std::memcpy(row.data(), v.row(y), row_bytes);
    }
    (void)v.verify();
}

void read_frame(FrameConsumer& c, FrameView& view, const std::byte* region) {
    if (c.acquire_latest(view) == FrameStatus::ok) check_view(view, region);
    if (c.broken()) FUZZ_CHECK(c.violations() > 0 && !c.broken_reason().empty());
}

void read_shape(CursorShapeConsumer& c) {
    CursorShape s;
    if (c.try_read(s) == CursorStatus::ok) {
        FUZZ_CHECK(s.data.size() == s.header.data_size);
        FUZZ_CHECK(s.data.size() <= layout().sg.capacity);
        FUZZ_CHECK(detail::shape_valid(s.header, layout().sg));
    }
}

void read_position(CursorPositionConsumer& c) {
    CursorPosition p;
    const CursorStatus s = c.try_read(p);
    FUZZ_CHECK(s != CursorStatus::timed_out);
}

void receive_control(ControlReceiver& r) {
    const Layout& l = layout();
    for (int i = 0; i < 24; ++i) {
        ControlMessage m;
        if (r.try_receive(m) != ControlStatus::ok) return;
        FUZZ_CHECK(m.consumer < kConsumers);
        FUZZ_CHECK(m.body.size() + sizeof(ControlMessageHeader) <= l.cg.element_size);
        switch (m.type) {
            case ControlType::set_cursor_position:
            case ControlType::window_size: FUZZ_CHECK(m.body.size() == 8 && m.app_type == 0); break;
            case ControlType::full_frame_request: FUZZ_CHECK(m.body.empty() && m.app_type == 0); break;
            case ControlType::application: break;
            default: fail("control message of an unknown type handed out", __LINE__);
        }
    }
}

// ---- the world one input runs in ---------------------------------------------------------

struct World {
    RegionMemory& memory = RegionMemory::of_size(layout().size);
    std::optional<ProducerSession> producer;
    std::optional<ConsumerSession> c0, c1;
    // Producer ends.
    RingProducer<Event> events_p;
    ByteRingProducer log_p;
    FrameProducer frames_p;
    CursorShapeProducer shape_p;
    CursorPositionProducer pos_p;
    ControlReceiver control_p;
    // Consumer ends (declared after the sessions: destroyed first).
    RingConsumer<Event> events_c;
    ByteRingConsumer log_c;
    FrameConsumer frames_c;
    FrameView view;
    std::optional<CursorShapeConsumer> shape_c;
    CursorPositionConsumer pos_c;
    ControlSender control_c;
    RingConsumer<Event> events_c1;
    FrameConsumer frames_c1;
    ControlSender control_c1;
    bool log_opened = true;  // log_c is an opened handle (not default-constructed)
    std::uint64_t next_event = 0;
    std::uint8_t next_fill = 0x10;
    Clock::time_point now = Clock::now();

    World() {
        std::memset(memory.data, 0, memory.size);
        ProducerOptions options;
        options.reinit_grace = 0ms;
        auto p = ProducerSession::create(memory.span(), layout().spec, options);
        FUZZ_CHECK(p.has_value());
        producer.emplace(std::move(p.value()));
        open_producer();
        auto a = ConsumerSession::attach(memory.span());
        auto b = ConsumerSession::attach(memory.span());
        FUZZ_CHECK(a.has_value() && b.has_value());
        c0.emplace(std::move(a.value()));
        c1.emplace(std::move(b.value()));
        events_c = c0->ring<Event>("events").value();
        log_c = c0->byte_ring("log").value();
        frames_c = c0->frames("frames").value();
        shape_c.emplace(c0->cursor_shape("shape").value());
        pos_c = c0->cursor_position("pos").value();
        control_c = c0->control("control").value();
        events_c1 = c1->ring<Event>("events").value();
        frames_c1 = c1->frames("frames").value();
        control_c1 = c1->control("control").value();
        producer->tick(now);

        for (int i = 0; i < 3; ++i) FUZZ_CHECK(push_event() == PushStatus::ok);
        for (std::uint32_t i = 0; i < 6; ++i) push_log(8 + 6 * i);
        FUZZ_CHECK(publish_frame(true) == FrameStatus::ok);
        FUZZ_CHECK(publish_frame(false) == FrameStatus::ok);  // rows 0..4 of 16 ready
        FUZZ_CHECK(publish_shape() == CursorStatus::ok);
        pos_p.publish(5, 7, true, shape_p.serial());
        FUZZ_CHECK(control_c.send_cursor_position(3, 4) == ControlStatus::ok);
        FUZZ_CHECK(control_c.send_window_size(800, 600) == ControlStatus::ok);
        FUZZ_CHECK(control_c.request_full_frame() == ControlStatus::ok);
        const std::uint8_t body[5] = {1, 2, 3, 4, 5};
        FUZZ_CHECK(control_c1.send_application(7, std::as_bytes(std::span(body))) == ControlStatus::ok);
        FUZZ_CHECK(frames_c.acquire_latest(view) == FrameStatus::ok);  // c0 holds a lease
    }

    void open_producer() {
        events_p = producer->ring<Event>("events").value();
        log_p = producer->byte_ring("log").value();
        frames_p = producer->frames("frames").value();
        shape_p = producer->cursor_shape("shape").value();
        pos_p = producer->cursor_position("pos").value();
        control_p = producer->control("control").value();
    }

    [[nodiscard]] PushStatus push_event() {
        const Event e{next_event, next_event * 3, ~next_event};
        ++next_event;
        return events_p.try_push(e);
    }
    void push_log(std::uint32_t length) {
        std::array<std::byte, kLogElement> m{};
        m.fill(std::byte{0x5A});
        FUZZ_CHECK(log_p.try_push(std::span(m).first(std::min(length, kLogElement))) == PushStatus::ok);
    }
    [[nodiscard]] FrameStatus publish_frame(bool complete) {
        FrameWriter w;
        FrameInfo info;
        info.width = 16;
        info.height = 16;
        const DamageRect damage{1, 2, 3, 4};
        info.flags = kFrameDamageValid;
        info.damage = std::span(&damage, 1);
        const FrameStatus s = frames_p.begin(info, w);
        if (s != FrameStatus::ok) return s;
        FUZZ_CHECK(w.bytes().size() <= layout().fg.buffer_size);
        std::memset(w.bytes().data(), next_fill++, w.bytes().size());
        w.rows_ready(complete ? 16 : 5);
        return s;
    }
    [[nodiscard]] CursorStatus publish_shape() {
        std::array<std::byte, 4 * 4 * 4> pixels{};
        pixels.fill(std::byte{next_fill});
        return shape_p.publish(CursorType::color, 4, 4, 16, 1, 2, pixels);
    }
    [[nodiscard]] const std::byte* region() const { return memory.data; }

    void apply(const std::uint8_t* p, std::size_t n, Target t, bool absolute, bool xor_in, std::uint32_t offset) {
        const Layout& l = layout();
        std::uint64_t at = absolute ? offset % l.size : l.in_window(t, offset % l.window_total[static_cast<std::size_t>(t)]);
        for (std::size_t i = 0; i < n && at + i < l.size; ++i) {
            auto& b = reinterpret_cast<std::uint8_t&>(memory.data[at + i]);
            b = xor_in ? static_cast<std::uint8_t>(b ^ p[i]) : p[i];
        }
    }
};

// ---- write ownership -------------------------------------------------------------------------

// The first byte that differs between `before` and `after` (n bytes, a multiple of 64) and that
// `who` may not write (a mask of consumer slots; 0: the producer, which owns the bytes whose
// owner mask is 0), or -1. Left out of coverage and sanitizer instrumentation: it runs around
// every operation, and instrumented it took a third of the run; it finds nothing for the
// fuzzer to learn from.
__attribute__((no_sanitize("address", "undefined", "coverage"))) long foreign_write(
    const std::byte* before, const std::byte* after, const std::uint8_t* owner, std::uint64_t n, std::uint8_t who) {
    const auto* x = reinterpret_cast<const std::uint64_t*>(before);  // both 8-byte aligned
    const auto* y = reinterpret_cast<const std::uint64_t*>(after);
    for (std::uint64_t at = 0; at < n; at += 64) {
        std::uint64_t diff = 0;  // a plain loop: memcmp would go through the sanitizers' interceptors
        for (std::uint64_t i = at / 8; i < at / 8 + 8; ++i) diff |= x[i] ^ y[i];
        if (diff == 0) continue;
        for (std::uint64_t b = at; b < at + 64; ++b) {
            if (before[b] == after[b]) continue;
            if (who == 0 ? owner[b] != 0 : (owner[b] & who) == 0) return static_cast<long>(b);
        }
    }
    return -1;
}

// Runs `op` and checks every byte it changed: `who` is a mask of the consumer slots it acts for,
// or 0 for the producer.
// `owner` (default: the planned layout's) says who may write each byte.
template <class Op>
void owned_writes(World& w, std::uint8_t who, Op&& op, const std::vector<std::uint8_t>* owner = nullptr) {
    static std::vector<std::byte> before;
    const Layout& l = layout();
    if (owner == nullptr) owner = &l.owner;
    before.resize(l.size);
    std::memcpy(before.data(), w.memory.data, l.size);
    op();
    if (const long b = foreign_write(before.data(), w.memory.data, owner->data(), l.size, who); b >= 0) {
        std::fprintf(stderr, "pane-fuzz: %s wrote byte %ld (owner mask 0x%x)\n", who == 0 ? "the producer" : "a consumer", b,
                     (*owner)[static_cast<std::size_t>(b)]);
        fail("a side wrote a word it does not own", __LINE__);
    }
}

constexpr std::uint8_t kC0 = 1, kC1 = 2, kAnyConsumer = 0x0F;

// The bytes a consumer may write in the region as its header and channel table now describe it,
// for a consumer that attaches to a region whose geometry the fuzzer rewrote: a hostile producer
// may lay the region out anew (move the slot table, drop channels), and a consumer can only go by
// what it validated. Computed independently of the library from the header, the first
// channel_count entries and each channel's control block, through the geometry formulas only;
// any slot's holder may write what any slot may (mask kAnyConsumer). A structure whose geometry
// does not compute adds nothing: the library refuses it. Out-of-range values are clamped to the
// region, so the map never claims bytes past it.
std::vector<std::uint8_t> consumer_bytes_as_described(const std::byte* region, std::uint64_t size) {
    std::vector<std::uint8_t> owner(size, 0);
    const auto own = [&](std::uint64_t at, std::uint64_t n) {
        // memset, not a byte loop: the harness is instrumented for coverage, and a byte loop here
        // cost as much as the attach it judges.
        if (at < size) std::memset(owner.data() + at, kAnyConsumer, std::min<std::uint64_t>(n, size - at));
    };
    const auto copy = [&](auto& out, std::uint64_t at) {
        std::memset(&out, 0, sizeof(out));
        if (at <= size && sizeof(out) <= size - at) std::memcpy(&out, region + at, sizeof(out));
    };
    RegionHeader h;
    copy(h, 0);
    const std::uint32_t n = std::min<std::uint32_t>(h.max_consumers, kMaxConsumers);
    for (std::uint32_t i = 0; i < n; ++i) own(h.slot_table_offset + std::uint64_t{i} * sizeof(ConsumerSlot), 64);
    const auto ring_parts = [&](std::uint64_t at, const detail::RingGeometry& g) {
        own(at + g.cursors_offset, std::uint64_t{g.cursor_count} * sizeof(RingCursor));
        own(at + offsetof(RingControl, sleepers), 64);
    };
    const std::uint32_t entries = std::min<std::uint32_t>(h.channel_count, h.channel_table_capacity);
    for (std::uint32_t i = 0; i < entries && i < 64; ++i) {
        ChannelEntry e;
        copy(e, h.channel_table_offset + std::uint64_t{i} * sizeof(ChannelEntry));
        switch (static_cast<ChannelKind>(e.kind)) {
            case ChannelKind::ring:
                if (const auto g = detail::ring_geometry(e.capacity, e.element_size, n)) ring_parts(e.offset, *g);
                break;
            case ChannelKind::frames: {
                FrameControl c;
                copy(c, e.offset);
                if (const auto g = detail::frame_geometry(c.buffer_count, c.max_width, c.max_height,
                                                          c.max_bytes_per_pixel, c.ring_capacity, n)) {
                    ring_parts(e.offset + g->ring_offset, g->ring);
                    own(e.offset + g->leases_offset, std::uint64_t{n} * sizeof(FrameLease));
                }
                break;
            }
            case ChannelKind::cursor_position: own(e.offset + offsetof(CursorPositionControl, sleepers), 64); break;
            case ChannelKind::control: {
                ControlChannelControl c;
                copy(c, e.offset);
                if (const auto g = detail::control_geometry(c.capacity, c.element_size, n)) {
                    for (std::uint32_t k = 0; k < n; ++k) {
                        const std::uint64_t ring = e.offset + g->rings_offset + k * g->ring_size;
                        own(ring, 64);  // claim, write_pos
                        own(ring + sizeof(ControlRingControl), g->ring_size - sizeof(ControlRingControl));
                    }
                }
                break;
            }
            default: break;  // cursor shape: consumers only read it
        }
    }
    return owner;
}

// ---- operations per target ------------------------------------------------------------------

using Op = void (*)(World&);

// A second consumer attaching to the hostile region, on `region` (the world's, or a shorter copy
// whose end AddressSanitizer guards), opening every channel and reading each once.
void late_consumer(std::span<std::byte> region) {
    auto attached = ConsumerSession::attach(region);
    if (!attached) return;
    ConsumerSession& s = attached.value();
    (void)s.tick();
    FUZZ_CHECK(s.slot_index() < kConsumers);
    FUZZ_CHECK(s.header_copy().region_size <= region.size());
    (void)s.ring<std::uint32_t>("events");  // wrong element size, or whatever the table says
    (void)s.frames("events");
    (void)s.byte_ring("no-such-channel");
    if (auto r = s.ring<Event>("events")) read_events(r.value());
    if (auto r = s.byte_ring("log")) read_log(r.value());
    if (auto f = s.frames("frames")) {
        FrameView v;
        if (f->acquire_latest(v) == FrameStatus::ok) {
            const FrameDescriptor& d = v.descriptor();
            FUZZ_CHECK(v.bytes().data() >= region.data() &&
                       v.bytes().data() + v.bytes().size() <= region.data() + region.size());
            FUZZ_CHECK(v.rows_ready() <= d.height);
            (void)v.verify();
        }
    }
    if (auto c = s.cursor_shape("shape")) read_shape(c.value());
    if (auto c = s.cursor_position("pos")) read_position(c.value());
    if (auto c = s.control("control")) (void)c->send_window_size(1, 2);
    // Every channel by every kind: each answer is an error value or a handle.
    for (const auto& e : s.channels()) {
        const std::string name(detail::entry_name(e));
        (void)s.byte_ring(name);
        (void)s.frames(name);
        (void)s.cursor_shape(name);
        (void)s.cursor_position(name);
        (void)s.control(name);
    }
}

// owner[b] |= also[b] for n bytes. Left out of instrumentation for the reason foreign_write is:
// instrumented, this loop took about half of the attach target's time.
__attribute__((no_sanitize("address", "undefined", "coverage"))) void add_owners(std::uint8_t* owner,
                                                                                const std::uint8_t* also,
                                                                                std::size_t n) {
    for (std::size_t b = 0; b < n; ++b) owner[b] |= also[b];
}

// A late consumer may write what the planned layout gives consumers, and what the region's own
// (possibly rewritten) header and table give them.
void late_consumer_writes(World& w) {
    std::vector<std::uint8_t> owner = consumer_bytes_as_described(w.memory.data, layout().size);
    add_owners(owner.data(), layout().owner.data(), owner.size());
    owned_writes(w, kAnyConsumer, [&] { late_consumer(w.memory.span()); }, &owner);
}

void truncated_attach(World& w, std::size_t size) {
    const std::size_t n = std::min<std::size_t>(size, w.memory.size);
    RegionMemory& copy = RegionMemory::of_size(n);
    std::memcpy(copy.data, w.memory.data, n);
    late_consumer(copy.span());
}

void consumer_session_checks(World& w, ConsumerSession& c, std::uint8_t who) {
    owned_writes(w, who, [&] {
        (void)c.tick(w.now);
        (void)c.tick(w.now + 5s);  // the producer's heartbeat looks stale
        (void)c.still_current();
        (void)c.producer_heartbeat();
    });
}

const std::vector<Op>& ops(Target t) {
    static const std::vector<Op> attach{
        // A forged table whose entries overlap (corpus/attach/overlap-sleepers: a cursor-position
        // entry laid over another channel's control line) made the consumer's sleeper-bit RMW land
        // on producer-owned bytes; attach now refuses overlapping structures (protocol 1.4 item 3).
        [](World& w) { late_consumer_writes(w); },
        [](World& w) { truncated_attach(w, w.memory.size - 4096); },
        [](World& w) { truncated_attach(w, 4096); },
        [](World& w) { truncated_attach(w, sizeof(RegionHeader) + 8); },
        [](World& w) { consumer_session_checks(w, *w.c0, kC0); },
        [](World& w) {  // c0 re-opens channels: their control lines are validated again
            owned_writes(w, kC0, [&] {
                w.log_c = ByteRingConsumer{};
                if (auto r = w.c0->byte_ring("log")) w.log_c = std::move(r.value());
                w.shape_c.reset();
                if (auto r = w.c0->cursor_shape("shape")) w.shape_c.emplace(std::move(r.value()));
                w.control_c = ControlSender{};
                if (auto r = w.c0->control("control")) w.control_c = std::move(r.value());
                w.view = FrameView{};
                w.frames_c = FrameConsumer{};
                if (auto r = w.c0->frames("frames")) w.frames_c = std::move(r.value());
            });
        },
    };
    static const std::vector<Op> ring{
        [](World& w) { owned_writes(w, kC0, [&] { read_events(w.events_c); }); },
        [](World& w) { owned_writes(w, kC0, [&] { read_log(w.log_c); }); },
        [](World& w) {
            owned_writes(w, kC0, [&] {
                (void)w.log_c.skip_to_latest();
                if (w.log_opened) (void)w.log_c.available_approx();  // needs an opened handle
                (void)w.log_c.ready_approx();
                (void)w.log_c.latest_ready_approx();
                w.log_c.include_latest();
                (void)w.log_c.still_holds_slot();
            });
        },
        [](World& w) {
            owned_writes(w, kC0, [&] {
                Event e{};
                const PopResult r = w.events_c.pop(e, FutexWait{}, 0ms);
                if (r.status == PopStatus::ok) FUZZ_CHECK(r.length == sizeof(Event));
                std::array<std::byte, 64> m{};
                const PopResult s = w.log_c.pop(m, AutoWait{}, 0ms);
                if (s.status == PopStatus::ok) FUZZ_CHECK(s.length <= kLogElement);
            });
        },
        [](World& w) { owned_writes(w, kC1, [&] { read_events(w.events_c1); }); },
        [](World& w) { consumer_session_checks(w, *w.c0, kC0); },
        [](World& w) {  // the producer goes on writing over what the patches left
            owned_writes(w, 0, [&] {
                (void)w.push_event();
                w.push_log(kLogElement);
            });
        },
        [](World& w) {  // c0 re-subscribes: reads write_pos and initial_position afresh
            owned_writes(w, kC0, [&] {
                w.log_c = ByteRingConsumer{};
                w.log_opened = false;
                if (auto r = w.c0->byte_ring("log")) {
                    w.log_c = std::move(r.value());
                    w.log_opened = true;
                }
                w.events_c = RingConsumer<Event>{};
                if (auto r = w.c0->ring<Event>("events")) w.events_c = std::move(r.value());
            });
        },
        [](World& w) {  // a wait that sleeps a little (only when an input asks for it)
            owned_writes(w, kC0, [&] {
                Event e{};
                (void)w.events_c.pop(e, FutexWait{0}, 20us);
            });
        },
    };
    static const std::vector<Op> frames{
        [](World& w) { owned_writes(w, kC0, [&] { read_frame(w.frames_c, w.view, w.region()); }); },
        [](World& w) {
            owned_writes(w, kC0, [&] {
                if (w.frames_c.wait_latest(w.view, FutexWait{}, 0ms) == FrameStatus::ok) check_view(w.view, w.region());
            });
        },
        [](World& w) {
            owned_writes(w, kC0, [&] {
                (void)w.view.wait_rows(w.view.descriptor().height, BusySpin{}, 0ms);
                (void)w.view.verify();
                FUZZ_CHECK(w.view.rows_ready() <= w.view.descriptor().height);
            });
        },
        [](World& w) { owned_writes(w, kC0, [&] { w.frames_c.release(); }); },
        [](World& w) { owned_writes(w, kC1, [&] { FrameView v; read_frame(w.frames_c1, v, w.region()); }); },
        [](World& w) {  // the producer publishes over it: reads leases, writes states and the ring
            owned_writes(w, 0, [&] { (void)w.publish_frame(true); });
        },
        [](World& w) { consumer_session_checks(w, *w.c0, kC0); },
        [](World& w) {  // c0 re-opens the channel: FrameControl and the descriptor ring validated again
            owned_writes(w, kC0, [&] {
                w.view = FrameView{};
                w.frames_c = FrameConsumer{};
                if (auto r = w.c0->frames("frames")) w.frames_c = std::move(r.value());
            });
        },
        [](World& w) {  // waits that sleep a little (only when an input asks for it)
            owned_writes(w, kC0, [&] {
                (void)w.view.wait_rows(w.view.descriptor().height, FutexWait{0}, 20us);
                FrameView v;
                if (w.frames_c.wait_latest(v, AutoWait{0}, 20us) == FrameStatus::ok) check_view(v, w.region());
            });
        },
    };
    static const std::vector<Op> cursor{
        [](World& w) { owned_writes(w, kC0, [&] { if (w.shape_c) read_shape(*w.shape_c); }); },
        [](World& w) { owned_writes(w, kC0, [&] { read_position(w.pos_c); }); },
        [](World& w) {
            owned_writes(w, kC0, [&] {
                CursorPosition p;
                (void)w.pos_c.wait_read(p, FutexWait{}, 0ms);
            });
        },
        [](World& w) { owned_writes(w, 0, [&] { (void)w.publish_shape(); }); },
        [](World& w) { owned_writes(w, 0, [&] { w.pos_p.publish(-1, 1 << 30, false, 9); }); },
        [](World& w) {  // re-open: CursorShapeControl validated again
            owned_writes(w, kC0, [&] {
                w.shape_c.reset();
                if (auto r = w.c0->cursor_shape("shape")) w.shape_c.emplace(std::move(r.value()));
                if (w.shape_c) read_shape(*w.shape_c);
            });
        },
        [](World& w) { consumer_session_checks(w, *w.c0, kC0); },
        [](World& w) {  // a wait that sleeps a little (only when an input asks for it)
            owned_writes(w, kC0, [&] {
                CursorPosition p;
                (void)w.pos_c.wait_read(p, FutexWait{0}, 20us);
            });
        },
    };
    static const std::vector<Op> producer{
        [](World& w) { owned_writes(w, 0, [&] { w.producer->tick(w.now); }); },
        [](World& w) {  // late enough that every silent holder is reaped
            owned_writes(w, 0, [&] {
                w.producer->tick(w.now + 2s);
                (void)w.producer->live_consumers();
                (void)w.producer->reaped_total();
                (void)w.producer->light_wakes();
            });
        },
        [](World& w) {
            owned_writes(w, 0, [&] {
                (void)w.push_event();
                (void)w.events_p.bytes().subscribers_approx();
                (void)w.events_p.bytes().backlog_approx();
            });
        },
        [](World& w) {
            owned_writes(w, 0, [&] {
                const Event e{1, 2, 3};
                (void)w.events_p.push(e, FutexWait{}, 0ms);
                const Event batch[4]{};
                (void)w.events_p.try_push_batch(batch);
            });
        },
        [](World& w) { owned_writes(w, 0, [&] { (void)w.publish_frame(true); (void)w.publish_frame(false); }); },
        [](World& w) {
            owned_writes(w, 0, [&] {
                (void)w.publish_shape();
                w.pos_p.publish(1, 2, true, 3);
                w.push_log(3);
            });
        },
        [](World& w) { owned_writes(w, 0, [&] { receive_control(w.control_p); }); },
        [](World& w) { (void)w.producer->owns_region(); },
        [](World& w) {  // a new producer re-initialises the region from the hostile header and slots
            w.events_p = {};
            w.log_p = {};
            w.frames_p = {};
            w.shape_p = {};
            w.pos_p = {};
            w.control_p = {};
            w.producer.reset();
            ProducerOptions options;
            options.reinit_grace = 0ms;
            options.take_over = true;
            auto p = ProducerSession::create(w.memory.span(), layout().spec, options);
            FUZZ_CHECK(p.has_value());
            w.producer.emplace(std::move(p.value()));
            w.open_producer();
            // Every consumer handle of the previous epoch now says so and writes nothing.
            owned_writes(w, 0, [&] {
                Event e{};
                const PopStatus s = w.events_c.try_pop(e).status;
                FUZZ_CHECK(s == PopStatus::epoch_changed || s == PopStatus::slot_lost);
                FUZZ_CHECK(w.c0->tick() == SessionStatus::epoch_changed);
            });
        },
        [](World& w) {  // a lossless push that waits a little (only when an input asks for it)
            owned_writes(w, 0, [&] {
                const Event e{1, 2, 3};
                (void)w.events_p.push(e, FutexWait{0}, 20us);
            });
        },
    };
    static const std::vector<Op> control{
        [](World& w) { owned_writes(w, 0, [&] { receive_control(w.control_p); }); },
        [](World& w) { owned_writes(w, 0, [&] { w.producer->tick(w.now); }); },
        [](World& w) { owned_writes(w, 0, [&] { w.producer->tick(w.now + 2s); }); },
        [](World& w) {  // the sender reads the producer's read position before each write
            owned_writes(w, kC0, [&] {
                (void)w.control_c.send_cursor_position(-5, 5);
                const std::byte body[40]{};
                (void)w.control_c.send_application(1, body);
            });
        },
        [](World& w) {  // c1 re-opens its sender: continues from the producer's read position
            owned_writes(w, kC1, [&] {
                w.control_c1 = ControlSender{};
                if (auto r = w.c1->control("control")) w.control_c1 = std::move(r.value());
                (void)w.control_c1.request_full_frame();
            });
        },
        [](World& w) { consumer_session_checks(w, *w.c1, kC1); },
    };
    switch (t) {
        case Target::attach: return attach;
        case Target::ring: return ring;
        case Target::frames: return frames;
        case Target::cursor: return cursor;
        case Target::producer: return producer;
        case Target::control: return control;
    }
    return attach;
}

}  // namespace

std::string_view target_name(Target t) {
    switch (t) {
        case Target::attach: return "attach";
        case Target::ring: return "ring";
        case Target::frames: return "frames";
        case Target::cursor: return "cursor";
        case Target::producer: return "producer";
        case Target::control: return "control";
    }
    return "?";
}

void run(Target target, const std::uint8_t* data, std::size_t size) {
    World w;
    const auto& table = ops(target);
    // The run's operations at the end skip those that sleep (the last of some tables): inputs
    // reach them through step records only, so most executions stay fast.
    const std::size_t final_ops = target == Target::attach || target == Target::control ? table.size() : table.size() - 1;
    std::size_t i = 0;
    while (i < size) {
        const std::uint8_t h = data[i++];
        if (h >= 0xC0) {
            table[(h & 0x3F) % table.size()](w);
            continue;
        }
        if (i + 3 > size) break;
        const std::uint32_t offset = data[i] | (std::uint32_t{data[i + 1]} << 8) | (std::uint32_t{data[i + 2]} << 16);
        i += 3;
        const std::size_t n = std::min<std::size_t>((h & 0x1Fu) + 1, size - i);
        w.apply(data + i, n, target, (h & 0x20) != 0, (h & 0x40) != 0, offset);
        i += n;
    }
    for (std::size_t op = 0; op < final_ops; ++op) table[op](w);
}

long window_offset(Target target, std::string_view field) {
    const long at = region_offset(field);
    if (at < 0) return -1;
    long base = 0;
    for (const auto& [start, length] : layout().windows[static_cast<std::size_t>(target)]) {
        if (static_cast<std::uint64_t>(at) >= start && static_cast<std::uint64_t>(at) < start + length) {
            return base + static_cast<long>(static_cast<std::uint64_t>(at) - start);
        }
        base += static_cast<long>(length);
    }
    return -1;
}

long region_offset(std::string_view field) {
    const Layout& l = layout();
    const std::uint64_t slot0 = l.plan.slot_table_offset;
    const std::uint64_t desc = l.frames + l.fg.ring_offset;
    const std::uint64_t ctl0 = l.control + l.cg.rings_offset;
    const std::pair<std::string_view, std::uint64_t> fields[] = {
        {"header.version_major", offsetof(RegionHeader, version_major)},
        {"header.region_size", offsetof(RegionHeader, region_size)},
        {"header.epoch", offsetof(RegionHeader, epoch)},
        {"header.producer_state", offsetof(RegionHeader, producer_state)},
        {"header.max_consumers", offsetof(RegionHeader, max_consumers)},
        {"header.channel_count", offsetof(RegionHeader, channel_count)},
        {"header.channel_table_offset", offsetof(RegionHeader, channel_table_offset)},
        {"header.slot_table_offset", offsetof(RegionHeader, slot_table_offset)},
        {"header.flags", offsetof(RegionHeader, flags)},
        {"header.local_slots", offsetof(RegionHeader, local_slots)},
        {"header.producer_heartbeat", offsetof(RegionHeader, producer_heartbeat)},
        {"entry0.offset", l.plan.channel_table_offset + offsetof(ChannelEntry, offset)},
        {"entry0.size", l.plan.channel_table_offset + offsetof(ChannelEntry, size)},
        {"entry2.capacity", l.plan.channel_table_offset + 2 * sizeof(ChannelEntry) + offsetof(ChannelEntry, capacity)},
        {"entry3.name", l.plan.channel_table_offset + 3 * sizeof(ChannelEntry) + offsetof(ChannelEntry, name)},
        {"slot0.claim", slot0 + offsetof(ConsumerSlot, claim)},
        {"slot0.reaped_claim", slot0 + offsetof(ConsumerSlot, reaped_claim)},
        {"slot1.claim", slot0 + sizeof(ConsumerSlot) + offsetof(ConsumerSlot, claim)},
        {"slot1.heartbeat", slot0 + sizeof(ConsumerSlot) + offsetof(ConsumerSlot, heartbeat)},
        {"slot1.state", slot0 + sizeof(ConsumerSlot) + offsetof(ConsumerSlot, state)},
        {"slot1.host_id", slot0 + sizeof(ConsumerSlot) + offsetof(ConsumerSlot, host_id)},
        {"events.slot_stride", l.events + offsetof(RingControl, slot_stride)},
        {"events.write_pos", l.events + offsetof(RingControl, write_pos)},
        {"events.cursor1.read_pos", l.events + l.ring_events.cursors_offset + sizeof(RingCursor)},
        {"events.cursor1.claim", l.events + l.ring_events.cursors_offset + sizeof(RingCursor) + 8},
        {"events.slot0.length", l.events + l.ring_events.slots_offset + offsetof(RingSlotHeader, length)},
        {"log.write_pos", l.log + offsetof(RingControl, write_pos)},
        {"log.initial_position", l.log + offsetof(RingControl, initial_position)},
        {"log.slot1.seq", l.log + l.ring_log.slots_offset + l.ring_log.slot_stride},
        {"log.slot1.length", l.log + l.ring_log.slots_offset + l.ring_log.slot_stride + 8},
        {"frames.buffer_size", l.frames + offsetof(FrameControl, buffer_size)},
        {"frames.state0.generation", l.frames + l.fg.states_offset},
        {"frames.state1.rows_ready", l.frames + l.fg.states_offset + sizeof(FrameBufferState) + 24},
        {"frames.lease1.lease", l.frames + l.fg.leases_offset + sizeof(FrameLease) + 8},
        {"frames.desc.write_pos", desc + offsetof(RingControl, write_pos)},
        {"frames.desc1", desc + l.fg.ring.slots_offset + l.fg.ring.slot_stride + sizeof(RingSlotHeader)},
        {"shape.capacity", l.shape + offsetof(CursorShapeControl, capacity)},
        {"shape.seq", l.shape + offsetof(CursorShapeControl, seq)},
        {"shape.header", l.shape + offsetof(CursorShapeControl, header)},
        {"pos.seq", l.pos + offsetof(CursorPositionControl, seq)},
        {"pos.visible", l.pos + offsetof(CursorPositionControl, visible)},
        {"control.capacity", l.control + offsetof(ControlChannelControl, capacity)},
        {"control.ring0.write_pos", ctl0 + offsetof(ControlRingControl, write_pos)},
        {"control.ring0.read_pos", ctl0 + offsetof(ControlRingControl, read_pos)},
        {"control.ring0.slot0", ctl0 + sizeof(ControlRingControl)},
        {"control.ring1.claim", ctl0 + l.cg.ring_size},
    };
    for (const auto& [name, at] : fields) {
        if (name == field) return static_cast<long>(at);
    }
    return -1;
}

void add_patch(std::vector<std::uint8_t>& input, std::uint32_t offset, const void* bytes, std::size_t n, bool absolute,
               bool xor_in) {
    const auto* p = static_cast<const std::uint8_t*>(bytes);
    while (n > 0) {
        const std::size_t chunk = std::min<std::size_t>(n, 32);
        input.push_back(static_cast<std::uint8_t>((chunk - 1) | (absolute ? 0x20 : 0) | (xor_in ? 0x40 : 0)));
        input.push_back(static_cast<std::uint8_t>(offset));
        input.push_back(static_cast<std::uint8_t>(offset >> 8));
        input.push_back(static_cast<std::uint8_t>(offset >> 16));
        input.insert(input.end(), p, p + chunk);
        p += chunk;
        n -= chunk;
        offset += static_cast<std::uint32_t>(chunk);
    }
}

void add_step(std::vector<std::uint8_t>& input, unsigned op) { input.push_back(static_cast<std::uint8_t>(0xC0 | (op & 0x3F))); }

}  // namespace pane_fuzz
