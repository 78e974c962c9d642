// SPDX-License-Identifier: MIT
// An identifier of this kernel boot, so a consumer can tell whether the producer's monotonic
// clock is its own (same host, not a guest): a hash of Linux's boot_id, on Windows of the boot
// time, or 0 where unknown (0 never matches, so clock values are then never compared). The
// environment variable PANE_HOST_ID (hex) overrides it: two processes on one machine can then act
// as if a VM boundary lay between them (slot sides, no futex wake-ups, clocks not compared), for
// tests and benchmarks.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#if defined(_WIN32)
#include <chrono>

// Declared rather than taken from <windows.h>, whose min/max macros a core header must not
// bring in; the signature is the one <sysinfoapi.h> declares, so both may be seen together.
extern "C" __declspec(dllimport) unsigned long long __stdcall GetTickCount64();
#endif

namespace pane::detail {

#if defined(_WIN32)
// Windows has no boot_id. The boot time (wall clock now minus milliseconds since boot) stands
// in: the same for every process of one boot, and rounded to 10 s to absorb the tick counter's
// 16 ms granularity. It is weaker than boot_id: two processes of one boot disagree if the wall
// clock was stepped between their first calls (or, about once in 600 boots, when the boot time
// sits within a tick of a 10 s edge), and two machines booted within the same 10 s agree.
[[nodiscard]] inline std::string windows_boot_text() {
    // The tick count read on both sides of the wall clock, so both come from one tick.
    std::uint64_t before = 0, after = 0;
    std::chrono::system_clock::time_point now;
    do {
        before = GetTickCount64();
        now = std::chrono::system_clock::now();
        after = GetTickCount64();
    } while (before != after);
    const auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    // The text cannot be a Linux boot_id (a UUID), so neither can its hash, short of a collision.
    return "windows boot " + std::to_string((static_cast<std::uint64_t>(wall_ms) - after + 5000) / 10000);
}
#endif

[[nodiscard]] inline std::uint64_t host_id() {
    static const std::uint64_t id = [] {
        if (const char* forced = std::getenv("PANE_HOST_ID"); forced != nullptr && *forced != '\0') {
            return static_cast<std::uint64_t>(std::strtoull(forced, nullptr, 16));
        }
#if defined(_WIN32)
        const std::string text = windows_boot_text();
#else
        std::ifstream in("/proc/sys/kernel/random/boot_id");
        std::string text;
        if (!in || !std::getline(in, text) || text.empty()) return std::uint64_t{0};
#endif
        std::uint64_t h = 14695981039346656037ULL;  // FNV-1a 64-bit offset basis
        for (const char c : text) h = (h ^ std::uint64_t{static_cast<unsigned char>(c)}) * 1099511628211ULL;
        return h == 0 ? 1 : h;
    }();
    return id;
}

// Whether a peer that reported `peer_host` runs on our kernel: then a futex wake from it reaches
// us, and its monotonic clock is ours. Unknown (0) on either side is never "same".
[[nodiscard]] inline bool same_kernel(std::uint64_t peer_host) {
    return peer_host != 0 && peer_host == host_id();
}

}  // namespace pane::detail
