// SPDX-License-Identifier: MIT
// An identifier of this kernel boot, so a consumer can tell whether the producer's monotonic
// clock is its own (same host, not a guest): a hash of Linux's boot_id, or 0 where unknown
// (0 never matches, so clock values are then never compared).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

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
