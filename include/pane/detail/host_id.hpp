// SPDX-License-Identifier: MIT
// An identifier of this kernel boot, so a consumer can tell whether the producer's monotonic
// clock is its own (same host, not a guest): a hash of Linux's boot_id, or 0 where unknown
// (0 never matches, so clock values are then never compared). The environment variable
// PANE_HOST_ID (hex) overrides it: two processes on one machine can then act as if a VM boundary
// lay between them (slot sides, no futex wake-ups, clocks not compared), for tests and benchmarks.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

namespace pane::detail {

[[nodiscard]] inline std::uint64_t host_id() {
    static const std::uint64_t id = [] {
        if (const char* forced = std::getenv("PANE_HOST_ID"); forced != nullptr && *forced != '\0') {
            return static_cast<std::uint64_t>(std::strtoull(forced, nullptr, 16));
        }
        std::ifstream in("/proc/sys/kernel/random/boot_id");
        std::string text;
        if (!in || !std::getline(in, text) || text.empty()) return std::uint64_t{0};
        std::uint64_t h = 14695981039346656037ULL;  // FNV-1a 64-bit offset basis
        for (const unsigned char c : text) h = (h ^ std::uint64_t{c}) * 1099511628211ULL;
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
