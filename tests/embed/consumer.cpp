// SPDX-License-Identifier: MIT
// The embedding check's program (scripts/pass-embed.sh): built against an installed Pane through
// pkg-config, through CMake, and with Pane as a Meson subproject. It uses pane-map for real (a
// POSIX shm region: Boost.Interprocess, rt, threads), sends messages from a producer thread to a
// consumer, and prints the language standard it was compiled under, so the pass can tell that
// nothing in Pane's build files forced a -std flag. Usage: pane-embed-consumer [LABEL]; the shm
// object is pane-embed-LABEL-PID, removed as soon as it is mapped.
#include <cstdint>
#include <cstdio>
#include <string>
#include <system_error>
#include <thread>

#include <unistd.h>

#include <pane/map/shm.hpp>
#include <pane/pane.hpp>

namespace {

int fail(const char* what, std::error_code code) {
    std::fprintf(stderr, "pane-embed-consumer: %s: %s\n", what, code.message().c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 2) {
        std::fprintf(stderr, "usage: pane-embed-consumer [LABEL]\n");
        return 2;
    }
    const std::string name = std::string("pane-embed-") + (argc == 2 ? argv[1] : "run") + "-" + std::to_string(::getpid());
    pane::RegionSpec spec;
    spec.add(pane::ring_of<std::uint64_t>("numbers", 64, pane::RingPolicy::lossless));
    const auto plan = pane::plan_region(spec);
    if (!plan) return fail("plan", plan.error());
    auto region = pane::map::shm(name, plan->region_size, pane::map::OpenMode::create_only);
    if (!region) return fail("shm", region.error());
    pane::map::remove_shm(name);  // the mapping stays valid; nothing is left behind on any exit
    auto producer = pane::ProducerSession::create(region->bytes(), spec);
    if (!producer) return fail("create", producer.error());
    auto consumer = pane::ConsumerSession::attach(region->bytes());
    if (!consumer) return fail("attach", consumer.error());
    auto rx = consumer->ring<std::uint64_t>("numbers").value();  // subscribed before any push
    auto tx = producer->ring<std::uint64_t>("numbers").value();

    constexpr std::uint64_t kCount = 1000;
    std::thread sender([&] {
        for (std::uint64_t i = 0; i < kCount; ++i) {
            if (tx.push(i, pane::FutexWait{}, pane::Deadline::after(std::chrono::seconds(30))) !=
                pane::PushStatus::ok) {
                return;  // the receiver then times out and reports it
            }
        }
    });
    std::uint64_t sum = 0;
    std::uint64_t received = 0;
    for (; received < kCount; ++received) {
        std::uint64_t v = 0;
        const auto r = rx.pop(v, pane::FutexWait{}, pane::Deadline::after(std::chrono::seconds(30)));
        if (r.status != pane::PopStatus::ok || v != received) break;
        sum += v;
    }
    sender.join();
    if (received != kCount || sum != kCount * (kCount - 1) / 2) {
        std::fprintf(stderr, "pane-embed-consumer: received %llu of %llu messages in order\n",
                     static_cast<unsigned long long>(received), static_cast<unsigned long long>(kCount));
        return 1;
    }
    std::printf("pane %s: %llu messages over shm:%s; __cplusplus=%ld\n", PANE_VERSION_STRING,
                static_cast<unsigned long long>(received), name.c_str(), static_cast<long>(__cplusplus));
    return 0;
}
