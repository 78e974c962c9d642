// SPDX-License-Identifier: MIT
// An identifier of this kernel boot, so a consumer can tell whether the producer's monotonic
// clock is its own (same host, not a guest): a hash of Linux's boot_id, on Windows of the boot
// time, or 0 where unknown (0 never matches, so clock values are then never compared).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

#if defined(_WIN32)
#include <chrono>

// Declared rather than taken from <windows.h>, whose min/max macros a core header must not
// bring in; the signature is the one <sysinfoapi.h> declares, so both may be seen together.
extern "C" __declspec(dllimport) unsigned long long __stdcall GetTickCount64();

namespace pane::detail {

// Windows has no boot_id. The boot time (wall clock now minus milliseconds since boot) stands
// in: it is the same for every process of one boot, and rounding to 10 s absorbs the tick
// counter's 16 ms granularity. Two processes can still disagree (a read straddling a rounding
// edge, a clock step between their reads); then latency goes unmeasured, which is harmless.
// Two boots of different machines that began in the same 10 s would agree: the 10 s keeps that
// rare, and the hash domain ("windows boot") keeps it from matching a Linux boot_id.
[[nodiscard]] inline std::uint64_t host_id() {
    static const std::uint64_t id = [] {
        // Read the tick count on both sides of the wall clock, so both come from one tick.
        std::uint64_t before = 0, after = 0;
        std::chrono::system_clock::time_point now;
        do {
            before = GetTickCount64();
            now = std::chrono::system_clock::now();
            after = GetTickCount64();
        } while (before != after);
        const auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
        const std::uint64_t boot_10s = (static_cast<std::uint64_t>(wall_ms) - after + 5000) / 10000;
        std::uint64_t h = 14695981039346656037ULL;  // FNV-1a 64-bit offset basis
        for (unsigned char c : std::string("windows boot ") + std::to_string(boot_10s)) h = (h ^ c) * 1099511628211ULL;
        return h == 0 ? 1 : h;
    }();
    return id;
}

}  // namespace pane::detail

#else

namespace pane::detail {

[[nodiscard]] inline std::uint64_t host_id() {
    static const std::uint64_t id = [] {
        std::ifstream in("/proc/sys/kernel/random/boot_id");
        std::string text;
        if (!in || !std::getline(in, text) || text.empty()) return std::uint64_t{0};
        std::uint64_t h = 14695981039346656037ULL;  // FNV-1a 64-bit offset basis
        for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
        return h == 0 ? 1 : h;
    }();
    return id;
}

}  // namespace pane::detail

#endif  // _WIN32
