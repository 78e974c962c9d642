// SPDX-License-Identifier: MIT
// Mapping backends and producer exclusion over real POSIX shm and files: sizes checked before
// mapping, errors as values, and a second producer refused while the first is alive.
#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include <fstream>

#include <pane/map/file.hpp>
#include <pane/map/ivshmem.hpp>
#include <pane/map/shm.hpp>
// Declares nothing off Windows; included so this build proves it stays harmless here.
#include <pane/map/windows_ivshmem.hpp>

#include "catch.hpp"
#include "support.hpp"

using namespace pane;
using namespace std::chrono_literals;

TEST_CASE("shm mapping: create, open, sizes and errors", "[map]") {
    pane_test::ShmName name("map");
    CHECK(map::shm(name.str(), 0, map::OpenMode::open_only).error() == MapError::not_found);
    CHECK(map::shm("has/slash", 4096, map::OpenMode::open_or_create).error() == MapError::invalid_argument);
    auto created = map::shm(name.str(), 8192, map::OpenMode::create_only);
    REQUIRE(created.has_value());
    CHECK(created->size() == 8192);
    CHECK(map::shm(name.str(), 8192, map::OpenMode::create_only).error() == MapError::already_exists);
    auto opened = map::shm(name.str(), 0, map::OpenMode::open_only);
    REQUIRE(opened.has_value());
    CHECK(opened->size() == 8192);
    CHECK(map::shm(name.str(), 1 << 20, map::OpenMode::open_only).error() == MapError::too_small);
    created->bytes()[100] = std::byte{42};
    CHECK(opened->bytes()[100] == std::byte{42});  // one object, two mappings
}

TEST_CASE("file mapping: short files are errors, missing directories are not_found", "[map]") {
    const auto dir = std::filesystem::temp_directory_path() / ("pane-map-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = dir / "region";
    CHECK(map::file(path, 0, map::OpenMode::open_only).error() == MapError::not_found);
    CHECK(map::file(dir / "missing" / "region", 4096, map::OpenMode::open_or_create).error() == MapError::not_found);
    {
        auto m = map::file(path, 16384, map::OpenMode::open_or_create);
        REQUIRE(m.has_value());
        CHECK(m->size() == 16384);
    }
    CHECK(map::file(path, 1 << 20, map::OpenMode::open_only).error() == MapError::too_small);  // no SIGBUS
    auto whole = map::file(path, 0, map::OpenMode::open_only);
    REQUIRE(whole.has_value());
    CHECK(whole->size() == 16384);
    std::filesystem::resize_file(path, 100);  // shorter than a header
    CHECK(map::file(path, 0, map::OpenMode::open_only).error() == MapError::too_small);
    std::filesystem::remove_all(dir);
}

TEST_CASE("a second producer is refused while the first heartbeats; take_over replaces it", "[map][session]") {
    RegionSpec spec;
    spec.max_consumers = 2;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.add(RingSpec{"r", 16, 8, RingPolicy::overwrite});
    auto region = pane_test::memory_region(spec);
    auto first = ProducerSession::create(region.bytes(), spec).value();
    std::atomic<bool> stop{false};
    std::thread beating([&] {
        while (!stop) {
            first.tick();
            std::this_thread::sleep_for(2ms);
        }
    });
    CHECK(ProducerSession::create(region.bytes(), spec).error() == InitError::producer_active);
    CHECK(first.owns_region());
    stop = true;
    beating.join();
    ProducerOptions take_over;
    take_over.take_over = true;
    take_over.reinit_grace = 10ms;
    auto second = ProducerSession::create(region.bytes(), spec, take_over);
    REQUIRE(second.has_value());
    CHECK_FALSE(first.owns_region());
    CHECK(second->owns_region());
    {
        // The replaced session writes nothing into its successor's region: no heartbeat (which
        // would hide the successor's death), no reap or eviction of the successor's consumers,
        // and its close (its destructor) does not mark the region closed under them.
        auto consumer = ConsumerSession::attach(region.bytes()).value();
        const auto& header = *reinterpret_cast<const RegionHeader*>(region.bytes().data());
        const std::uint64_t beat = header.producer_heartbeat;
        const auto* slots = reinterpret_cast<const ConsumerSlot*>(region.bytes().data() + header.slot_table_offset);
        std::vector<std::uint64_t> reap_counts;
        for (std::uint32_t i = 0; i < spec.max_consumers; ++i) reap_counts.push_back(slots[i].reap_count);
        // Two ticks an hour apart: the first would note the consumer's claim, the second reap it.
        first.tick(Clock::now() + std::chrono::hours(1));
        first.tick(Clock::now() + std::chrono::hours(2));
        CHECK(header.producer_heartbeat == beat);
        CHECK(consumer.tick() == SessionStatus::ok);
        for (std::uint32_t i = 0; i < spec.max_consumers; ++i) CHECK(slots[i].reap_count == reap_counts[i]);
        for (std::uint32_t slot = 0; slot < spec.max_consumers; ++slot) CHECK_FALSE(first.evict(slot));
        CHECK(consumer.tick() == SessionStatus::ok);
        first.close();
        CHECK(header.producer_state == static_cast<std::uint32_t>(ProducerState::ready));
        CHECK(consumer.tick() == SessionStatus::ok);
        second->tick(Clock::now() + std::chrono::hours(1));
        CHECK(header.producer_heartbeat != beat);
    }
    // A region whose producer stopped heartbeating (dead) is taken without take_over.
    auto third = ProducerSession::create(region.bytes(), spec, ProducerOptions{10ms});
    REQUIRE(third.has_value());
    CHECK_FALSE(second->owns_region());
}

namespace {
// A fake /sys/bus/pci/devices: one IVSHMEM device whose BAR 2 is a 1 MiB file (with a _wc
// twin, as a prefetchable BAR has), one other device, and the "enable" attribute off.
struct FakeSysfs {
    FakeSysfs() {
        namespace fs = std::filesystem;
        fs::create_directories(root / "0000:00:04.0");
        fs::create_directories(root / "0000:00:03.0");
        write(root / "0000:00:04.0" / "vendor", "0x1af4\n");
        write(root / "0000:00:04.0" / "device", "0x1110\n");
        write(root / "0000:00:04.0" / "enable", "0\n");
        write(root / "0000:00:03.0" / "vendor", "0x8086\n");
        write(root / "0000:00:03.0" / "device", "0x100e\n");
        write(root / "0000:00:03.0" / "resource2", "");
        // One file behind both names, as one BAR is behind both sysfs files.
        write(root / "0000:00:04.0" / "resource2", "");
        fs::resize_file(root / "0000:00:04.0" / "resource2", 1 << 20);
        fs::create_hard_link(root / "0000:00:04.0" / "resource2", root / "0000:00:04.0" / "resource2_wc");
    }
    ~FakeSysfs() { std::filesystem::remove_all(root); }
    static void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }
    [[nodiscard]] map::IvshmemOptions options(bool wc = false) const {
        map::IvshmemOptions o;
        o.sysfs_root = root;
        o.write_combining = wc;
        return o;
    }
    std::filesystem::path root = std::filesystem::temp_directory_path() / ("pane-sysfs-" + std::to_string(::getpid()));
};
}  // namespace

TEST_CASE("ivshmem: devices found by vendor and device id, selected by index or PCI address", "[map][ivshmem]") {
    FakeSysfs sysfs;
    const auto devices = map::ivshmem_devices(sysfs.options());
    REQUIRE(devices.size() == 1);
    CHECK(devices[0].address == "0000:00:04.0");
    CHECK(devices[0].bar_size == (1u << 20));
    CHECK(devices[0].write_combining_available);
    for (const char* selector : {"", "0", "00:04.0", "0000:00:04.0"}) {
        INFO(selector);
        CHECK(map::find_ivshmem(selector, sysfs.options()).has_value());
    }
    for (const char* selector : {"1", "00:03.0", "0000:00:05.0", "99999"}) {
        INFO(selector);
        CHECK(map::find_ivshmem(selector, sysfs.options()).error() == MapError::not_found);
    }
    map::IvshmemOptions nowhere;
    nowhere.sysfs_root = sysfs.root / "missing";
    CHECK(map::ivshmem_devices(nowhere).empty());
    CHECK(map::ivshmem("", 0, nowhere).error() == MapError::not_found);
}

TEST_CASE("ivshmem: the BAR size is a hard limit, mapping enables the device", "[map][ivshmem]") {
    FakeSysfs sysfs;
    CHECK(map::ivshmem("", 2 << 20, sysfs.options()).error() == MapError::too_small);  // a BAR cannot grow
    CHECK(map::ivshmem("", 100, sysfs.options()).error() == MapError::too_small);      // not even a header
    auto whole = map::ivshmem("", 0, sysfs.options());
    REQUIRE(whole.has_value());
    CHECK(whole->size() == (1u << 20));
    CHECK_FALSE(whole->write_combining());
    std::ifstream enable(sysfs.root / "0000:00:04.0" / "enable");
    std::string value;
    enable >> value;
    CHECK(value == "1");
    auto wc = map::ivshmem("0", 1 << 19, sysfs.options(true));
    REQUIRE(wc.has_value());
    CHECK(wc->size() == (1u << 19));
    CHECK(wc->write_combining());
    CHECK(wc->description().find("resource2_wc") != std::string::npos);
    wc->bytes()[4096] = std::byte{7};
    CHECK(whole->bytes()[4096] == std::byte{7});  // one BAR behind both mappings
}

TEST_CASE("a write-combining producer publishes frames, cursor and ring messages intact", "[map][ivshmem][wc]") {
    // The fences that WC memory needs are no-ops for correctness on ordinary memory, but this
    // runs every WC code path (init, ring publish, frame begin/progress/reuse, cursor seqlock)
    // through the public API, as a guest producer on resource2_wc does.
    FakeSysfs sysfs;
    RegionSpec spec;
    spec.max_consumers = 2;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.add(FrameSpec{"frames", 64, 32, 4, 3, 8});
    spec.add(CursorPositionSpec{"pos"});
    spec.add(RingSpec{"r", 16, 16, RingPolicy::lossless});
    auto guest = map::ivshmem("", 0, sysfs.options(true));
    REQUIRE(guest.has_value());
    REQUIRE(guest->write_combining());
    ProducerOptions options;
    options.write_combining = guest->write_combining();
    auto producer = ProducerSession::create(guest->bytes(), spec, options).value();
    auto host = map::ivshmem("", 0, sysfs.options(false));
    auto session = ConsumerSession::attach(host->bytes()).value();
    auto frames = producer.frames("frames").value();
    auto frames_rx = session.frames("frames").value();
    auto pos = producer.cursor_position("pos").value();
    auto pos_rx = session.cursor_position("pos").value();
    auto tx = producer.byte_ring("r").value();
    auto rx = session.byte_ring("r").value();
    producer.tick();
    for (std::uint8_t i = 1; i <= 20; ++i) {  // 20 frames through 3 buffers: every reuse path
        REQUIRE(pane_test::publish_frame(frames, i) == FrameStatus::ok);
        FrameView view;
        REQUIRE(frames_rx.acquire_latest(view) == FrameStatus::ok);
        CHECK(view.bytes()[0] == std::byte{i});
        CHECK(view.bytes()[view.bytes().size() - 1] == std::byte{i});
        CHECK(view.verify() == FrameStatus::ok);
        pos.publish(i, -i, true, 0);
        CursorPosition got{};
        REQUIRE(pos_rx.try_read(got) == CursorStatus::ok);
        CHECK(got.x == i);
        const std::array<std::byte, 3> message{std::byte{i}, std::byte{1}, std::byte{2}};
        REQUIRE(tx.try_push(message) == PushStatus::ok);
        std::array<std::byte, 16> out{};
        const auto r = rx.try_pop(out);
        REQUIRE(r.status == PopStatus::ok);
        CHECK(r.length == 3);
        CHECK(out[0] == std::byte{i});
    }
}
