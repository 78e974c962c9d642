// SPDX-License-Identifier: MIT
// Display channels on an in-process region: frames (latest-frame semantics, progressive read,
// leases and reuse with a dead consumer, generation check, validation on both sides), cursor
// shape and position (round trips, validation), control (each message type, flow control,
// rejection of invalid messages); FrameWriter::copy_rows (strides, progress, refusals, a
// progressive reader thread).
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support.hpp"

using namespace pane;
using namespace std::chrono_literals;

namespace {

// Serials of the first epoch of a region: they never repeat across epochs (detail/epoch_base.hpp).
constexpr std::uint64_t kFirstSerial = detail::first_serial(1);

struct Display {
    explicit Display(std::uint32_t consumers = 4, std::uint32_t buffers = 3, ProducerOptions options = {}) {
        spec.max_consumers = consumers;
        spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
        spec.add(FrameSpec{"frames", 64, 32, 8, buffers, 8});
        spec.add(CursorShapeSpec{"shape", 64});
        spec.add(CursorPositionSpec{"pos"});
        spec.add(ControlSpec{"control", 4, 64});
        region = pane_test::memory_region(spec);
        producer.emplace(std::move(ProducerSession::create(region.bytes(), spec, options).value()));
        frames = producer->frames("frames").value();
    }
    ConsumerSession attach() { return std::move(ConsumerSession::attach(region.bytes()).value()); }
    std::byte* channel(std::size_t i) { return region.bytes().data() + producer->plan().channels[i].entry.offset; }

    // Publishes a complete 16x8 BGRA frame whose bytes are all `fill`.
    FrameStatus publish(std::uint8_t fill) { return pane_test::publish_frame(frames, fill); }

    RegionSpec spec;
    map::Mapping region;
    std::optional<ProducerSession> producer;
    FrameProducer frames;
};

}  // namespace

TEST_CASE("frames: the consumer gets the latest frame and counts the skipped ones", "[display][frames]") {
    Display d;
    auto cs = d.attach();
    auto fc = cs.frames("frames").value();
    FrameView view;
    CHECK(fc.acquire_latest(view) == FrameStatus::no_frame);
    for (std::uint8_t i = 1; i <= 5; ++i) REQUIRE(d.publish(i) == FrameStatus::ok);
    REQUIRE(fc.acquire_latest(view) == FrameStatus::ok);
    CHECK(view.descriptor().serial == kFirstSerial + 5);
    CHECK(fc.frames_skipped() == 4);
    CHECK(view.rows_ready() == 8);
    CHECK(view.bytes()[0] == std::byte{5});
    CHECK(view.verify() == FrameStatus::ok);
    CHECK(view.same_host());
    CHECK(fc.acquire_latest(view) == FrameStatus::no_frame);  // nothing newer
    REQUIRE(d.publish(6) == FrameStatus::ok);
    REQUIRE(fc.wait_latest(view, FutexWait{}, Deadline::after(1s)) == FrameStatus::ok);
    CHECK(view.descriptor().serial == kFirstSerial + 6);
    CHECK(fc.wait_latest(view, FutexWait{}, Deadline::after(20ms)) == FrameStatus::timed_out);
}

TEST_CASE("frames: rows become readable as the producer publishes progress", "[display][frames]") {
    Display d;
    auto cs = d.attach();
    auto fc = cs.frames("frames").value();
    FrameWriter w;
    FrameInfo info;
    info.width = 16;
    info.height = 8;
    REQUIRE(d.frames.begin(info, w) == FrameStatus::ok);
    FrameView view;
    REQUIRE(fc.acquire_latest(view) == FrameStatus::ok);  // before a single row is written
    CHECK(view.rows_ready() == 0);
    std::memset(w.row(0), 0xAB, 3 * std::size_t{w.descriptor().stride});
    w.rows_ready(3);
    CHECK(view.rows_ready() == 3);
    CHECK(view.row(2)[0] == std::byte{0xAB});
    CHECK(view.wait_rows(8, SpinThenYield{}, Deadline::after(10ms)) == FrameStatus::timed_out);
    w.rows_ready(2);  // progress never goes back
    CHECK(view.rows_ready() == 3);
    w.finish();
    CHECK(view.wait_rows(8, SpinThenYield{}, Deadline::after(1s)) == FrameStatus::ok);
    CHECK(view.verify() == FrameStatus::ok);
}

TEST_CASE("frames: a leased buffer is never reused while its consumer lives; a dead one's is", "[display][frames]") {
    ProducerOptions never_revoke;  // leases held past a limit are revoked from protocol 1.4: test_liveness.cpp
    never_revoke.frame_lease_limit = kNeverRevoke;
    Display d(4, 3, never_revoke);
    auto slow = d.attach();
    auto fc = slow.frames("frames").value();
    REQUIRE(d.publish(1) == FrameStatus::ok);
    FrameView held;
    REQUIRE(fc.acquire_latest(held) == FrameStatus::ok);
    const auto leased = held.descriptor().buffer_index;
    // Many frames later the leased buffer still holds frame 1.
    for (std::uint8_t i = 2; i < 40; ++i) REQUIRE(d.publish(i) == FrameStatus::ok);
    CHECK(held.verify() == FrameStatus::ok);
    CHECK(held.bytes()[0] == std::byte{1});
    // A second consumer leases the latest frame's buffer; once a newer frame takes the third
    // buffer, two are leased and one is the latest: nothing is left for another frame.
    auto other = d.attach();
    auto fc2 = other.frames("frames").value();
    FrameView second;
    REQUIRE(fc2.acquire_latest(second) == FrameStatus::ok);
    REQUIRE(second.descriptor().buffer_index != leased);
    REQUIRE(d.publish(98) == FrameStatus::ok);
    CHECK(d.publish(99) == FrameStatus::no_free_buffer);
    CHECK(d.frames.frames_dropped() == 1);
    CHECK(second.verify() == FrameStatus::ok);
    // The consumers stop heartbeating: once reaped, their buffers are reused, and the slow
    // one's view learns the frame was replaced under it.
    const auto t0 = Clock::now();
    d.producer->tick(t0);
    d.producer->tick(t0 + 1500ms);
    CHECK(d.producer->reaped_total() == 2);
    REQUIRE(d.publish(100) == FrameStatus::ok);
    REQUIRE(d.publish(101) == FrameStatus::ok);  // with the latest excluded, both others are taken
    CHECK(held.verify() == FrameStatus::reused);
    CHECK(held.bytes()[0] != std::byte{1});
}

TEST_CASE("frames: the producer rejects frames that break the rules", "[display][frames][hostile]") {
    Display d;
    FrameWriter w;
    auto bad = [&](auto change) {
        FrameInfo info;
        info.width = 16;
        info.height = 8;
        change(info);
        return d.frames.begin(info, w);
    };
    CHECK(bad([](FrameInfo& i) { i.width = 65; }) == FrameStatus::invalid_frame);   // wider than the pool
    CHECK(bad([](FrameInfo& i) { i.height = 0; }) == FrameStatus::invalid_frame);
    CHECK(bad([](FrameInfo& i) { i.stride = 10; }) == FrameStatus::invalid_frame);  // < width * 4
    CHECK(bad([](FrameInfo& i) { i.stride = 64 * 32 * 8; }) == FrameStatus::invalid_frame);  // past the buffer
    CHECK(bad([](FrameInfo& i) { i.rotation = 4; }) == FrameStatus::invalid_frame);
    CHECK(bad([](FrameInfo& i) { i.format = static_cast<FrameFormat>(9); }) == FrameStatus::invalid_frame);
    CHECK(bad([](FrameInfo& i) { i.flags = 1u << 7; }) == FrameStatus::invalid_frame);
    static const DamageRect outside[] = {{10, 0, 7, 1}};
    CHECK(bad([](FrameInfo& i) { i.damage = outside; }) == FrameStatus::invalid_frame);
    static const std::vector<DamageRect> too_many(kMaxDamageRects + 1, DamageRect{0, 0, 1, 1});
    CHECK(bad([](FrameInfo& i) { i.damage = too_many; }) == FrameStatus::invalid_frame);
    static const DamageRect inside[] = {{0, 0, 16, 4}, {0, 4, 16, 4}};
    CHECK(bad([](FrameInfo& i) { i.damage = inside; i.flags = kFrameDamageValid; }) == FrameStatus::ok);
    CHECK(bad([](FrameInfo& i) { i.format = FrameFormat::rgba16f; }) == FrameStatus::ok);
}

TEST_CASE("frames: a forged descriptor marks the channel broken; forged geometry fails to open", "[display][frames][hostile]") {
    Display d;
    auto cs = d.attach();
    auto fc = cs.frames("frames").value();
    REQUIRE(d.publish(1) == FrameStatus::ok);
    // Overwrite the published descriptor's buffer index in the descriptor ring slot.
    auto* control = reinterpret_cast<FrameControl*>(d.channel(0));
    auto* ring = reinterpret_cast<RingControl*>(d.channel(0) + control->ring_offset);
    auto* slot = reinterpret_cast<RingSlotHeader*>(reinterpret_cast<std::byte*>(ring) + ring->slots_offset);
    auto* desc = reinterpret_cast<FrameDescriptor*>(reinterpret_cast<std::byte*>(slot) + sizeof(RingSlotHeader));
    desc->buffer_index = 99;
    FrameView view;
    CHECK(fc.acquire_latest(view) == FrameStatus::broken);
    CHECK(fc.violations() == 1);
    CHECK(fc.acquire_latest(view) == FrameStatus::broken);  // until the next epoch

    auto cs2 = d.attach();
    control->buffers_offset += 4096;  // points past what the formula allows
    CHECK(cs2.frames("frames").error() == ChannelError::invalid_layout);
    control->buffers_offset -= 4096;
    control->max_width = 1u << 20;
    CHECK(cs2.frames("frames").error() == ChannelError::invalid_layout);
}

TEST_CASE("cursor shape: every type round-trips; invalid shapes are refused", "[display][cursor]") {
    Display d;
    auto cs = d.attach();
    auto tx = d.producer->cursor_shape("shape").value();
    auto rx = cs.cursor_shape("shape").value();
    CursorShape got;
    CHECK(rx.try_read(got) == CursorStatus::none);
    std::vector<std::byte> color(16 * 4 * 16, std::byte{7});
    REQUIRE(tx.publish(CursorType::color, 16, 16, 64, 3, 4, color) == CursorStatus::ok);
    REQUIRE(rx.try_read(got) == CursorStatus::ok);
    CHECK(got.header.type == static_cast<std::uint32_t>(CursorType::color));
    CHECK(got.header.hotspot_x == 3);
    CHECK(got.data == color);
    CHECK(rx.try_read(got) == CursorStatus::unchanged);
    std::vector<std::byte> mono(2 * 16 * 2, std::byte{0x55});  // AND and XOR planes, pitch 2
    REQUIRE(tx.publish(CursorType::monochrome, 16, 16, 2, 0, 0, mono) == CursorStatus::ok);
    REQUIRE(rx.try_read(got) == CursorStatus::ok);
    CHECK(got.header.serial == kFirstSerial + 2);
    CHECK(got.data.size() == mono.size());
    REQUIRE(tx.publish(CursorType::masked_color, 16, 16, 64, 0, 0, color) == CursorStatus::ok);
    REQUIRE(rx.try_read(got) == CursorStatus::ok);

    CHECK(tx.publish(CursorType::color, 16, 16, 64, 16, 0, color) == CursorStatus::invalid);  // hotspot outside
    CHECK(tx.publish(CursorType::color, 16, 16, 32, 0, 0, color) == CursorStatus::invalid);   // pitch < width * 4
    CHECK(tx.publish(CursorType::color, 65, 16, 260, 0, 0, color) == CursorStatus::invalid);  // larger than max
    CHECK(tx.publish(CursorType::monochrome, 16, 16, 2, 0, 0, color) == CursorStatus::invalid);  // size mismatch
    CHECK(tx.publish(static_cast<CursorType>(4), 16, 16, 64, 0, 0, color) == CursorStatus::invalid);

    // A forged header (data size past the capacity) is caught by the consumer and counted.
    auto* control = reinterpret_cast<CursorShapeControl*>(d.channel(1));
    control->header.data_size = 1u << 30;
    control->seq += 2;
    CHECK(rx.try_read(got) == CursorStatus::invalid);
    CHECK(rx.violations() == 1);
}

TEST_CASE("cursor position: latest value, futex wake-up, forged visibility", "[display][cursor]") {
    Display d;
    auto cs = d.attach();
    auto tx = d.producer->cursor_position("pos").value();
    auto rx = cs.cursor_position("pos").value();
    CursorPosition p;
    CHECK(rx.try_read(p) == CursorStatus::none);
    tx.publish(10, -20, true, 1);
    tx.publish(11, -21, false, 2);
    REQUIRE(rx.try_read(p) == CursorStatus::ok);
    CHECK(p.x == 11);
    CHECK(p.y == -21);
    CHECK_FALSE(p.visible);
    CHECK(p.shape_serial == 2);
    CHECK(p.serial == kFirstSerial + 2);
    CHECK(rx.try_read(p) == CursorStatus::unchanged);
    std::thread later([&] {
        std::this_thread::sleep_for(20ms);
        tx.publish(12, 13, true, 2);
    });
    CHECK(rx.wait_read(p, FutexWait{0}, Deadline::after(5s)) == CursorStatus::ok);
    later.join();
    CHECK(p.x == 12);
    CHECK(rx.wait_read(p, FutexWait{}, Deadline::after(10ms)) == CursorStatus::timed_out);
    auto* control = reinterpret_cast<CursorPositionControl*>(d.channel(2));
    control->visible = 2;
    control->seq += 2;
    CHECK(rx.try_read(p) == CursorStatus::invalid);
}

TEST_CASE("control: each message type arrives validated; flow control; bad messages are rejected", "[display][control]") {
    Display d;
    auto cs = d.attach();
    auto rx = d.producer->control("control").value();
    auto tx = cs.control("control").value();
    ControlMessage m;
    CHECK(rx.try_receive(m) == ControlStatus::empty);
    REQUIRE(tx.send_window_size(1280, 720) == ControlStatus::ok);
    REQUIRE(tx.send_cursor_position(-5, 7) == ControlStatus::ok);
    REQUIRE(tx.request_full_frame() == ControlStatus::ok);
    const std::byte app[] = {std::byte{1}, std::byte{2}, std::byte{3}};
    REQUIRE(tx.send_application(42, app) == ControlStatus::ok);
    CHECK(tx.request_full_frame() == ControlStatus::full);  // 4 slots, none read yet
    REQUIRE(rx.try_receive(m) == ControlStatus::ok);
    CHECK(m.consumer == cs.slot_index());
    CHECK(m.type == ControlType::window_size);
    CHECK(m.window.width == 1280);
    REQUIRE(rx.try_receive(m) == ControlStatus::ok);
    CHECK(m.type == ControlType::set_cursor_position);
    CHECK(m.cursor.x == -5);
    REQUIRE(rx.try_receive(m) == ControlStatus::ok);
    CHECK(m.type == ControlType::full_frame_request);
    REQUIRE(rx.try_receive(m) == ControlStatus::ok);
    CHECK(m.type == ControlType::application);
    CHECK(m.app_type == 42);
    REQUIRE(m.body.size() == 3);
    CHECK(m.body[2] == std::byte{3});
    std::vector<std::byte> big(64);
    CHECK(tx.send_application(1, big) == ControlStatus::too_large);

    // Messages that break the rules are consumed and counted, never handed out.
    const ControlWindowSize short_body{1, 2};
    REQUIRE(tx.send(ControlType::full_frame_request, 0, {reinterpret_cast<const std::byte*>(&short_body), 4}) ==
            ControlStatus::ok);
    REQUIRE(tx.send(static_cast<ControlType>(9), 0, {}) == ControlStatus::ok);
    REQUIRE(tx.send(ControlType::window_size, 0, {}) == ControlStatus::ok);
    REQUIRE(tx.send_window_size(1, 1) == ControlStatus::ok);
    REQUIRE(rx.try_receive(m) == ControlStatus::ok);
    CHECK(m.type == ControlType::window_size);
    CHECK(m.window.width == 1);
    CHECK(rx.rejected() == 3);
    CHECK(rx.accepted() == 5);

    cs.detach();
    CHECK(tx.request_full_frame() == ControlStatus::slot_lost);
    CHECK(tx.request_full_frame() == ControlStatus::slot_lost);  // inert: the same answer from then on
}

TEST_CASE("display channels refuse a session that lost its slot", "[display][session]") {
    Display d;
    auto cs = d.attach();
    cs.detach();
    CHECK(cs.frames("frames").error() == ChannelError::not_attached);
    CHECK(cs.control("control").error() == ChannelError::not_attached);
    auto fresh = d.attach();
    CHECK(fresh.frames("frames").has_value());
    CHECK(fresh.cursor_shape("pos").error() == ChannelError::wrong_kind);
}

TEST_CASE("frames: every descriptor rule, forged in shared memory, is caught by the consumer", "[display][frames][hostile]") {
    struct Case {
        const char* what;
        void (*forge)(FrameDescriptor&);
    };
    const Case cases[] = {
        {"format 0", [](FrameDescriptor& d) { d.format = 0; }},
        {"format beyond the last", [](FrameDescriptor& d) { d.format = kMaxFrameFormat + 1; }},
        {"width 0", [](FrameDescriptor& d) { d.width = 0; }},
        {"wider than the pool", [](FrameDescriptor& d) { d.width = 65; d.stride = 65 * 4; }},
        {"taller than the pool", [](FrameDescriptor& d) { d.height = 33; }},
        {"stride below width * bpp", [](FrameDescriptor& d) { d.stride = 63; }},
        {"stride * height past the buffer", [](FrameDescriptor& d) { d.stride = 1u << 20; }},
        {"rotation 4", [](FrameDescriptor& d) { d.rotation = 4; }},
        {"unknown flag", [](FrameDescriptor& d) { d.flags = 1u << 9; }},
        {"too many damage rectangles", [](FrameDescriptor& d) { d.damage_count = kMaxDamageRects + 1; }},
        {"damage outside the frame", [](FrameDescriptor& d) { d.damage_count = 1; d.damage[0] = {15, 0, 2, 1}; }},
        {"damage overflowing 32 bits", [](FrameDescriptor& d) { d.damage_count = 1; d.damage[0] = {1, 0, 0xffffffffu, 1}; }},
        {"buffer index out of range", [](FrameDescriptor& d) { d.buffer_index = 3; }},
        {"generation 0", [](FrameDescriptor& d) { d.buffer_generation = 0; }},
        {"generation beyond the lease encoding", [](FrameDescriptor& d) { d.buffer_generation = std::uint64_t{1} << 58; }},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        Display d;
        REQUIRE(d.publish(1) == FrameStatus::ok);
        auto* control = reinterpret_cast<FrameControl*>(d.channel(0));
        auto* ring = reinterpret_cast<RingControl*>(d.channel(0) + control->ring_offset);
        auto* slot = reinterpret_cast<RingSlotHeader*>(reinterpret_cast<std::byte*>(ring) + ring->slots_offset);
        auto* desc = reinterpret_cast<FrameDescriptor*>(reinterpret_cast<std::byte*>(slot) + sizeof(RingSlotHeader));
        c.forge(*desc);
        auto cs = d.attach();  // starts at the current frame
        auto fc = cs.frames("frames").value();
        FrameView view;
        CHECK(fc.acquire_latest(view) == FrameStatus::broken);
        CHECK(fc.violations() == 1);
    }
}

namespace {

// Row y of a source image with `stride` bytes per row: a ramp that differs per row and per seed.
std::vector<std::byte> source_rows(std::uint32_t rows, std::size_t stride, unsigned seed) {
    std::vector<std::byte> v(std::size_t{rows} * stride);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::byte>((i / stride * 5 + i % stride + seed) & 0xff);
    return v;
}

bool rows_equal(const FrameWriter& w, std::uint32_t first, std::uint32_t rows, const std::byte* src, std::size_t src_stride) {
    const std::size_t row_bytes = std::size_t{w.descriptor().width} * 4;
    for (std::uint32_t y = 0; y < rows; ++y) {
        if (std::memcmp(w.row(first + y), src + std::size_t{y} * src_stride, row_bytes) != 0) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("frames: copy_rows copies with any source stride and leaves the frame's padding alone", "[display][frames]") {
    Display d;
    for (const std::uint32_t frame_stride : {0u, 64u * 4 + 24}) {
        for (const std::size_t src_stride : {std::size_t{0}, std::size_t{64 * 4}, std::size_t{64 * 4 + 13}}) {
            INFO("frame stride " << frame_stride << " source stride " << src_stride);
            FrameWriter w;
            FrameInfo info;
            info.width = 64;
            info.height = 32;
            info.stride = frame_stride;
            REQUIRE(d.frames.begin(info, w) == FrameStatus::ok);
            std::memset(w.bytes().data(), 0xEE, w.bytes().size());
            const std::size_t step = src_stride != 0 ? src_stride : 64 * 4;
            const auto src = source_rows(32, step, static_cast<unsigned>(src_stride + frame_stride));
            REQUIRE(w.copy_rows(0, 32, src.data(), src_stride) == RowCopyStatus::ok);
            CHECK(rows_equal(w, 0, 32, src.data(), step));
            CHECK(w.finished());
            const std::uint32_t stride = w.descriptor().stride;
            bool padding_untouched = true;
            for (std::uint32_t y = 0; y < 32; ++y) {
                for (std::uint32_t x = 64 * 4; x < stride; ++x) padding_untouched &= w.row(y)[x] == std::byte{0xEE};
            }
            CHECK(padding_untouched);
        }
    }
}

TEST_CASE("frames: copy_rows publishes only progress contiguous from the top", "[display][frames]") {
    Display d;
    auto cs = d.attach();
    auto fc = cs.frames("frames").value();
    FrameWriter w;
    FrameInfo info;
    info.width = 64;
    info.height = 32;
    REQUIRE(d.frames.begin(info, w) == FrameStatus::ok);
    FrameView view;
    REQUIRE(fc.acquire_latest(view) == FrameStatus::ok);
    const auto src = source_rows(32, 64 * 4, 9);
    const auto at = [&](std::uint32_t y) { return src.data() + std::size_t{y} * 64 * 4; };
    REQUIRE(w.copy_rows(0, 10, at(0), 0) == RowCopyStatus::ok);
    CHECK(view.rows_ready() == 10);
    REQUIRE(w.copy_rows(20, 5, at(20), 0) == RowCopyStatus::ok);  // a gap: rows 10..19 unwritten
    CHECK(view.rows_ready() == 10);
    REQUIRE(w.copy_rows(10, 10, at(10), 0) == RowCopyStatus::ok);  // fills the gap up to 20 only
    CHECK(view.rows_ready() == 20);
    w.rows_ready(25);  // the caller knows rows 20..24 are there
    CHECK(view.rows_ready() == 25);
    CHECK(w.copy_rows(25, 0, nullptr, 0) == RowCopyStatus::ok);  // nothing to do
    REQUIRE(w.copy_rows(25, 7, at(25), 0) == RowCopyStatus::ok);
    CHECK(view.rows_ready() == 32);
    CHECK(w.finished());
    CHECK(std::memcmp(view.bytes().data(), src.data(), src.size()) == 0);
    CHECK(view.verify() == FrameStatus::ok);
}

TEST_CASE("frames: copy_rows refuses bad arguments and writes nothing", "[display][frames][hostile]") {
    Display d;
    const auto src = source_rows(32, 64 * 4, 3);
    FrameWriter none;
    CHECK(none.copy_rows(0, 1, src.data(), 0) == RowCopyStatus::no_frame);
    FrameWriter w;
    FrameInfo info;
    info.width = 64;
    info.height = 32;
    REQUIRE(d.frames.begin(info, w) == FrameStatus::ok);
    std::memset(w.bytes().data(), 0xEE, w.bytes().size());
    const std::vector<std::byte> untouched(w.bytes().begin(), w.bytes().end());
    CHECK(w.copy_rows(30, 3, src.data(), 0) == RowCopyStatus::out_of_range);  // past the last row
    CHECK(w.copy_rows(32, 1, src.data(), 0) == RowCopyStatus::out_of_range);
    CHECK(w.copy_rows(0xffffffffu, 2, src.data(), 0) == RowCopyStatus::out_of_range);  // wraps in 32 bits
    CHECK(w.copy_rows(0, 0xffffffffu, src.data(), 0) == RowCopyStatus::out_of_range);
    CHECK(w.copy_rows(0, 2, src.data(), 64 * 4 - 1) == RowCopyStatus::out_of_range);  // rows would overlap
    CHECK(w.copy_rows(0, 2, nullptr, 0) == RowCopyStatus::out_of_range);
    CHECK(std::memcmp(w.bytes().data(), untouched.data(), untouched.size()) == 0);
    CHECK_FALSE(w.finished());
    REQUIRE(w.copy_rows(0, 8, src.data(), 0) == RowCopyStatus::ok);
    // Rows a consumer may already be reading as complete are never rewritten.
    CHECK(w.copy_rows(7, 2, src.data(), 0) == RowCopyStatus::already_published);
    REQUIRE(w.copy_rows(8, 24, src.data() + 8 * 64 * 4, 0) == RowCopyStatus::ok);
    CHECK(w.copy_rows(0, 1, src.data(), 0) == RowCopyStatus::already_published);
    CHECK(rows_equal(w, 0, 32, src.data(), 64 * 4));
}

TEST_CASE("frames: a consumer thread reading rows as copy_rows publishes them sees every row right", "[display][frames]") {
    // Frames of 2 MiB: copy_rows publishes progress several times per frame.
    constexpr std::uint32_t kWidth = 1024, kHeight = 512, kFrames = 6;
    constexpr std::size_t kRow = std::size_t{kWidth} * 4;
    static_assert(kRow * kHeight > 4 * FrameWriter::kCopyPublishBytes);
    RegionSpec spec;
    spec.max_consumers = 2;
    spec.remote_consumer_slots = 0;
    spec.add(FrameSpec{"frames", kWidth, kHeight, 4, 3, 8});
    auto region = pane_test::memory_region(spec);
    auto producer = ProducerSession::create(region.bytes(), spec).value();
    auto frames = producer.frames("frames").value();
    auto cs = ConsumerSession::attach(region.bytes()).value();
    auto fc = cs.frames("frames").value();

    std::vector<std::vector<std::byte>> sources;
    for (unsigned k = 0; k < kFrames; ++k) sources.push_back(source_rows(kHeight, kRow, k * 17));
    std::atomic<std::uint32_t> frames_read{0};
    std::atomic<int> bad_rows{0};
    std::atomic<int> bad_status{0};
    std::uint32_t partial_observations = 0;  // how often the reader found a frame part-written
    std::thread reader([&] {
        FrameView view;
        for (std::uint32_t k = 0; k < kFrames; ++k) {
            if (fc.wait_latest(view, AutoWait{}, Deadline::after(10s)) != FrameStatus::ok) {
                ++bad_status;
                return;
            }
            const auto frame = static_cast<std::size_t>(view.descriptor().serial - kFirstSerial - 1);
            if (frame >= kFrames) {
                ++bad_status;
                return;
            }
            for (std::uint32_t read = 0; read < kHeight;) {
                if (view.wait_rows(read + 1, AutoWait{}, Deadline::after(10s)) != FrameStatus::ok) {
                    ++bad_status;
                    return;
                }
                const std::uint32_t ready = view.rows_ready();
                if (ready < kHeight) ++partial_observations;
                for (; read < ready; ++read) {
                    if (std::memcmp(view.row(read), sources[frame].data() + read * kRow, kRow) != 0) ++bad_rows;
                }
            }
            if (view.verify() != FrameStatus::ok) ++bad_status;
            frames_read.store(k + 1);
        }
    });
    for (std::uint32_t k = 0; k < kFrames; ++k) {
        FrameWriter w;
        FrameInfo info;
        info.width = kWidth;
        info.height = kHeight;
        REQUIRE(frames.begin(info, w) == FrameStatus::ok);
        REQUIRE(w.copy_rows(0, kHeight, sources[k].data(), kRow) == RowCopyStatus::ok);
        CHECK(w.finished());
        // One frame at a time, so the reader reads every frame (this test is about rows).
        CHECK(pane_test::eventually([&] { return frames_read.load() > k || bad_status.load() != 0; }, 10s));
    }
    reader.join();
    INFO("the reader found a frame part-written " << partial_observations << " times");
    CHECK(bad_status.load() == 0);
    CHECK(bad_rows.load() == 0);
    CHECK(frames_read.load() == kFrames);
}
