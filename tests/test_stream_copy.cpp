// SPDX-License-Identifier: MIT
// stream_copy.hpp: every size 0..300 at every destination alignment within a cache line and
// several source alignments, large copies, and row copies with different strides; the bytes
// around the destination (and between its rows) must stay untouched. Streaming and plain builds
// alike must pass: on x86-64 the streaming path runs from kStreamMinBytes up.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <pane/stream_copy.hpp>

#include "catch.hpp"

namespace {

constexpr std::byte kGuard{0xEE};

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 31 + seed * 7 + (i >> 8)) & 0xff);
    return v;
}

// A 64-byte aligned buffer of `n` bytes, all kGuard.
struct Aligned {
    explicit Aligned(std::size_t n) : storage(n + 64, kGuard) {
        const auto addr = reinterpret_cast<std::uintptr_t>(storage.data());
        base = storage.data() + ((64 - addr % 64) % 64);
    }
    std::vector<std::byte> storage;
    std::byte* base;
};

// The first index where `got` differs from `expected`, or -1.
long first_difference(const std::byte* got, const std::byte* expected, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        if (got[i] != expected[i]) return static_cast<long>(i);
    }
    return -1;
}

bool all_guard(const std::byte* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        if (p[i] != kGuard) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("stream_copy: sizes 0..300 at every destination alignment, guards untouched", "[stream_copy]") {
    const auto src_bytes = pattern(300 + 64, 1);
    Aligned dst(64 + 300 + 64 + 64);
    int failures = 0;
    for (std::size_t size = 0; size <= 300; ++size) {
        for (std::size_t dst_offset = 0; dst_offset < 64; ++dst_offset) {
            for (const std::size_t src_offset : {std::size_t{0}, std::size_t{1}, std::size_t{8}, std::size_t{15},
                                                 std::size_t{16}, std::size_t{33}, dst_offset}) {
                std::byte* d = dst.base + 64 + dst_offset;
                pane::stream_copy(d, src_bytes.data() + src_offset, size);
                const bool ok = first_difference(d, src_bytes.data() + src_offset, size) < 0 &&
                                all_guard(dst.base, 64 + dst_offset) && all_guard(d + size, 64);
                if (!ok && ++failures <= 5) {
                    INFO("size " << size << " dst offset " << dst_offset << " src offset " << src_offset);
                    CHECK(ok);
                }
                std::fill(d, d + size, kGuard);
            }
        }
    }
    CHECK(failures == 0);
}

TEST_CASE("stream_copy: large copies at odd alignments", "[stream_copy]") {
    for (const std::size_t size : {std::size_t{1} << 20, (std::size_t{4} << 20) + 37, std::size_t{65536} - 1}) {
        for (const std::size_t dst_offset : {std::size_t{0}, std::size_t{3}, std::size_t{48}}) {
            INFO("size " << size << " dst offset " << dst_offset);
            const auto src = pattern(size + 5, static_cast<unsigned>(size));
            Aligned dst(size + 128);
            std::byte* d = dst.base + 64 + dst_offset;
            pane::stream_copy(d, src.data() + 5, size);
            CHECK(first_difference(d, src.data() + 5, size) == -1);
            CHECK(all_guard(dst.base, 64 + dst_offset));
            CHECK(all_guard(d + size, 64 - dst_offset));
        }
    }
}

TEST_CASE("stream_copy_rows: strides, packed rows, and the bytes between rows", "[stream_copy]") {
    struct Case {
        std::size_t row_bytes, rows, dst_stride, src_stride;
    };
    const Case cases[] = {
        {1024, 16, 1024, 1024},  // both packed: one run
        {1024, 16, 1088, 1024},  // destination padding
        {1024, 16, 1024, 1500},  // source padding
        {300, 7, 333, 301},      // odd everything
        {100, 9, 128, 100},      // rows below the streaming minimum
        {4, 3, 8, 4},
        {0, 5, 8, 8},            // nothing to copy
        {64, 0, 64, 64},
    };
    for (const auto& c : cases) {
        INFO("row bytes " << c.row_bytes << " rows " << c.rows << " strides " << c.dst_stride << "/" << c.src_stride);
        const auto src = pattern(c.src_stride * c.rows + 1, static_cast<unsigned>(c.row_bytes));
        const std::size_t span = c.dst_stride * c.rows;
        Aligned dst(span + 128);
        std::byte* d = dst.base + 64;
        pane::stream_copy_rows(d, c.dst_stride, src.data() + 1, c.src_stride, c.row_bytes, c.rows);
        for (std::size_t y = 0; y < c.rows; ++y) {
            CHECK(first_difference(d + y * c.dst_stride, src.data() + 1 + y * c.src_stride, c.row_bytes) == -1);
            CHECK(all_guard(d + y * c.dst_stride + c.row_bytes, c.dst_stride - c.row_bytes));
        }
        CHECK(all_guard(dst.base, 64));
        CHECK(all_guard(d + span, 64));
    }
}
