// SPDX-License-Identifier: MIT
// The smallest embedding: one region in this process's memory, a producer and a consumer
// thread, a typed lossless ring. Swap pane::map::in_process for pane::map::shm or
// pane::map::file to cross processes or a VM boundary; nothing else changes.
#include <cstdio>
#include <system_error>
#include <thread>

#include <pane/map/memory.hpp>
#include <pane/pane.hpp>

struct Point {
    std::int32_t x, y;
};

int main() {
    pane::RegionSpec spec;
    spec.add(pane::ring_of<Point>("points", 256, pane::RingPolicy::lossless));
    auto region = pane::map::in_process(pane::plan_region(spec)->region_size);
    auto producer = pane::ProducerSession::create(region->bytes(), spec);
    if (!producer) {
        std::fprintf(stderr, "create: %s\n", std::error_code(producer.error()).message().c_str());
        return 1;
    }
    auto consumer = pane::ConsumerSession::attach(region->bytes());
    if (!consumer) {
        std::fprintf(stderr, "attach: %s\n", std::error_code(consumer.error()).message().c_str());
        return 1;
    }
    auto rx = consumer->ring<Point>("points").value();
    auto tx = producer->ring<Point>("points").value();

    std::thread reader([&] {
        Point p{};
        for (int i = 0; i < 1000; ++i) {
            auto r = rx.pop(p, pane::FutexWait{}, pane::Deadline::after(std::chrono::seconds(5)));
            if (r.status != pane::PopStatus::ok || p.x != i) std::abort();
        }
        std::printf("last point: %d,%d\n", p.x, p.y);
    });
    for (int i = 0; i < 1000; ++i) {
        if (tx.push(Point{i, -i}, pane::FutexWait{}, pane::Deadline::after(std::chrono::seconds(5))) !=
            pane::PushStatus::ok) {
            return 1;
        }
    }
    reader.join();
    return 0;
}
