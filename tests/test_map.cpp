// SPDX-License-Identifier: MIT
// Mapping backends and producer exclusion over real POSIX shm and files: sizes checked before
// mapping, errors as values, and a second producer refused while the first is alive.
#include <atomic>
#include <filesystem>
#include <thread>

#include <pane/map/file.hpp>
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
    // A region whose producer stopped heartbeating (dead) is taken without take_over.
    auto third = ProducerSession::create(region.bytes(), spec, ProducerOptions{10ms});
    REQUIRE(third.has_value());
    CHECK_FALSE(second->owns_region());
}
