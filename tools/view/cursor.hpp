// SPDX-License-Identifier: MIT
// How pane-view draws a cursor shape (protocol 11.7) without a GPU blend mode for XOR: the shape
// is composed on the CPU, against the frame pixels under it, into a straight-alpha BGRA image of
// the shape's size that the renderer then blends over the frame ("over": C·α + S·(1 − α)).
//   colour        the shape's own BGRA (straight alpha)
//   monochrome    AND/XOR masks, MSB first: 0/0 black, 0/1 white, 1/0 transparent, 1/1 inverted
//   masked colour A = 0: opaque (B, G, R); any other A: S XOR (B, G, R)
// Pixels that depend on the screen (inversion, XOR) are recomputed whenever the cursor moves or
// the frame under it changes. No SDL here: the unit test and the end-to-end checker use it too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <pane/display_layout.hpp>

namespace pane_tools::view {

struct Bgr {
    std::uint8_t b = 0, g = 0, r = 0;
};

// Composes `h`/`data` (already validated by the library: shape_valid) into out (width * height
// * 4 bytes, B, G, R, A). `screen(x, y)` answers the frame pixel under shape pixel (x, y).
template <class Screen>
void compose_cursor(const pane::CursorShapeHeader& h, std::span<const std::byte> data, Screen&& screen,
                    std::vector<std::uint8_t>& out) {
    out.assign(std::size_t{h.width} * h.height * 4, 0);
    const auto byte_at = [&](std::size_t i) { return i < data.size() ? std::to_integer<std::uint8_t>(data[i]) : 0; };
    for (std::uint32_t y = 0; y < h.height; ++y) {
        for (std::uint32_t x = 0; x < h.width; ++x) {
            std::uint8_t* o = out.data() + (std::size_t{y} * h.width + x) * 4;
            if (h.type == static_cast<std::uint32_t>(pane::CursorType::monochrome)) {
                const std::size_t i = std::size_t{y} * h.pitch + x / 8;
                const std::uint8_t bit = static_cast<std::uint8_t>(0x80u >> (x % 8));
                const bool a = (byte_at(i) & bit) != 0;
                const bool xr = (byte_at(std::size_t{h.pitch} * h.height + i) & bit) != 0;
                if (a && !xr) continue;  // transparent: alpha 0
                const Bgr s = a ? screen(x, y) : Bgr{};
                const std::uint8_t m = xr ? 0xff : 0x00;
                o[0] = static_cast<std::uint8_t>(s.b ^ m);
                o[1] = static_cast<std::uint8_t>(s.g ^ m);
                o[2] = static_cast<std::uint8_t>(s.r ^ m);
                o[3] = 0xff;
                continue;
            }
            const std::size_t i = std::size_t{y} * h.pitch + std::size_t{x} * 4;
            const std::uint8_t b = byte_at(i), g = byte_at(i + 1), r = byte_at(i + 2), alpha = byte_at(i + 3);
            if (h.type == static_cast<std::uint32_t>(pane::CursorType::masked_color)) {
                if (alpha == 0) {
                    o[0] = b, o[1] = g, o[2] = r, o[3] = 0xff;
                } else if ((b | g | r) != 0) {  // XOR with 0 leaves the screen as it is: transparent
                    const Bgr s = screen(x, y);
                    o[0] = static_cast<std::uint8_t>(s.b ^ b);
                    o[1] = static_cast<std::uint8_t>(s.g ^ g);
                    o[2] = static_cast<std::uint8_t>(s.r ^ r);
                    o[3] = 0xff;
                }
                continue;
            }
            o[0] = b, o[1] = g, o[2] = r, o[3] = alpha;  // colour: straight alpha, blended by the renderer
        }
    }
}

// Whether the composed image depends on the screen under it (then it is recomputed as it moves).
[[nodiscard]] inline bool cursor_reads_screen(const pane::CursorShapeHeader& h) {
    return h.type != static_cast<std::uint32_t>(pane::CursorType::color);
}

// "Over" with straight alpha, as the renderer blends (rounded): the reference for tests.
[[nodiscard]] inline std::uint8_t blend_over(std::uint8_t c, std::uint8_t s, std::uint8_t alpha) {
    return static_cast<std::uint8_t>((c * alpha + s * (255 - alpha) + 127) / 255);
}

}  // namespace pane_tools::view
