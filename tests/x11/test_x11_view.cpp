// SPDX-License-Identifier: MIT
// The X-free parts of the X11 source and of pane-view: damage coalescing (never more than 64
// rectangles, always covering every reported pixel) and the cursor composition of protocol 11.7
// (monochrome AND/XOR table, masked colour, straight-alpha colour).
#include <cstdint>
#include <random>
#include <vector>

#include "../catch.hpp"
#include "view/cursor.hpp"
#include "x11/damage.hpp"

using pane_tools::view::Bgr;
using pane_tools::view::compose_cursor;
using pane_tools::x11::DamageList;

namespace {

bool covered(const DamageList& d, std::uint32_t x, std::uint32_t y) {
    for (const auto& r : d.rects()) {
        if (x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("damage: many rectangles coalesce to at most 64 that cover every reported pixel", "[x11]") {
    constexpr std::uint32_t W = 200, H = 150;
    std::minstd_rand rng(7);
    DamageList d;
    std::vector<std::uint8_t> reported(W * H, 0);
    for (int i = 0; i < 500; ++i) {
        const int x = static_cast<int>(rng() % 230) - 15, y = static_cast<int>(rng() % 170) - 10;
        const int w = static_cast<int>(rng() % 20), h = static_cast<int>(rng() % 20);
        d.add(x, y, w, h, W, H);
        for (int yy = std::max(0, y); yy < std::min<int>(H, y + h); ++yy) {
            for (int xx = std::max(0, x); xx < std::min<int>(W, x + w); ++xx) reported[static_cast<std::size_t>(yy) * W + static_cast<std::size_t>(xx)] = 1;
        }
        REQUIRE(d.rects().size() <= pane::kMaxDamageRects);
    }
    std::uint64_t missing = 0;
    for (std::uint32_t y = 0; y < H; ++y) {
        for (std::uint32_t x = 0; x < W; ++x) missing += reported[y * W + x] != 0 && !covered(d, x, y);
    }
    CHECK(missing == 0);
    for (const auto& r : d.rects()) {  // clipped to the frame, never empty
        CHECK(r.width > 0);
        CHECK(r.height > 0);
        CHECK(r.x + r.width <= W);
        CHECK(r.y + r.height <= H);
    }
}

TEST_CASE("damage: contained rectangles are dropped, containing ones replace", "[x11]") {
    DamageList d;
    d.add(10, 10, 5, 5, 100, 100);
    d.add(0, 0, 50, 50, 100, 100);  // contains the first
    d.add(20, 20, 3, 3, 100, 100);  // contained
    d.add(-5, -5, 3, 3, 100, 100);  // clipped away
    REQUIRE(d.rects().size() == 1);
    CHECK(d.rects()[0].width == 50);
}

TEST_CASE("cursor: monochrome AND/XOR table and MSB-first bit order (11.7)", "[x11]") {
    // 4x1, pitch 1: AND 0,0,1,1 XOR 0,1,0,1 in columns 0..3 (MSB first).
    pane::CursorShapeHeader h{};
    h.type = static_cast<std::uint32_t>(pane::CursorType::monochrome);
    h.width = 4;
    h.height = 1;
    h.pitch = 1;
    const std::vector<std::byte> data{std::byte{0x30}, std::byte{0x50}};
    std::vector<std::uint8_t> out;
    compose_cursor(h, data, [](std::uint32_t, std::uint32_t) { return Bgr{0x10, 0x20, 0x30}; }, out);
    REQUIRE(out.size() == 16);
    // black, white, transparent, inverted screen
    CHECK((out[0] == 0 && out[1] == 0 && out[2] == 0 && out[3] == 255));
    CHECK((out[4] == 255 && out[5] == 255 && out[6] == 255 && out[7] == 255));
    CHECK(out[11] == 0);
    CHECK((out[12] == 0xef && out[13] == 0xdf && out[14] == 0xcf && out[15] == 255));
}

TEST_CASE("cursor: masked colour is opaque at A=0 and XORs the screen otherwise; colour keeps straight alpha", "[x11]") {
    pane::CursorShapeHeader h{};
    h.type = static_cast<std::uint32_t>(pane::CursorType::masked_color);
    h.width = 3;
    h.height = 1;
    h.pitch = 12;
    const std::vector<std::byte> data{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{0},           // opaque
                                      std::byte{0xff}, std::byte{0}, std::byte{0x0f}, std::byte{0x80},  // XOR (any A != 0)
                                      std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0xff}};       // XOR 0: transparent
    std::vector<std::uint8_t> out;
    compose_cursor(h, data, [](std::uint32_t, std::uint32_t) { return Bgr{0x10, 0x20, 0x30}; }, out);
    CHECK((out[0] == 1 && out[1] == 2 && out[2] == 3 && out[3] == 255));
    CHECK((out[4] == (0x10 ^ 0xff) && out[5] == 0x20 && out[6] == (0x30 ^ 0x0f) && out[7] == 255));
    CHECK(out[11] == 0);

    h.type = static_cast<std::uint32_t>(pane::CursorType::color);
    compose_cursor(h, data, [](std::uint32_t, std::uint32_t) { return Bgr{}; }, out);
    CHECK((out[4] == 0xff && out[6] == 0x0f && out[7] == 0x80));  // passed through for the renderer to blend
    CHECK(pane_tools::view::blend_over(200, 100, 0x80) == 150);
}
