// SPDX-License-Identifier: MIT
// The synthetic content pane-produce writes and pane-consume verifies. Frames: every row is a
// byte ramp shifted by the row index and the frame serial (so every frame differs), and the last
// row starts with a trailer {magic, serial, checksum of all earlier rows, width, height}. The
// consumer recomputes the checksum over what it read. Cursor shapes and positions are pure
// functions of their serials, so the consumer can regenerate and compare them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include <pane/display_layout.hpp>

namespace pane_tools {

inline constexpr std::uint64_t kTrailerMagic = 0x314D52464E415050ULL;  // "PPANFRM1"

struct FrameTrailer {
    std::uint64_t magic;
    std::uint64_t serial;
    std::uint64_t checksum;
    std::uint32_t width;
    std::uint32_t height;
};
static_assert(sizeof(FrameTrailer) == 32);

// Word-at-a-time hash over `bytes`; chained across rows by passing the previous value.
[[nodiscard]] inline std::uint64_t checksum(const std::byte* data, std::size_t bytes, std::uint64_t h = 0x243F6A8885A308D3ULL) {
    std::size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, data + i, 8);
        h = ((h << 5) | (h >> 59)) ^ (w * 0x9E3779B97F4A7C15ULL);
    }
    if (i < bytes) {
        std::uint64_t w = 0;
        std::memcpy(&w, data + i, bytes - i);
        h = ((h << 5) | (h >> 59)) ^ (w * 0x9E3779B97F4A7C15ULL);
    }
    return h;
}

// A frame needs room for the trailer in its last row.
[[nodiscard]] inline bool pattern_fits(std::uint32_t width, std::uint32_t height, std::uint32_t bytes_per_pixel) {
    return height >= 2 && std::uint64_t{width} * bytes_per_pixel >= sizeof(FrameTrailer);
}

// Writes frame `serial` row by row into `row(y)` (row_bytes = width * bytes_per_pixel); calls
// progress(y + 1) after each row so the producer can publish rows as they are done.
class PatternWriter {
public:
    explicit PatternWriter(std::size_t row_bytes) : row_bytes_(row_bytes), ramp_(row_bytes * 2) {
        for (std::size_t i = 0; i < ramp_.size(); ++i) ramp_[i] = static_cast<std::byte>((i * 7 + (i >> 8)) & 0xff);
    }

    template <class RowPtr, class Progress>
    void write(std::uint64_t serial, std::uint32_t width, std::uint32_t height, RowPtr&& row, Progress&& progress) const {
        std::uint64_t h = 0x243F6A8885A308D3ULL;
        for (std::uint32_t y = 0; y + 1 < height; ++y) {
            const std::size_t shift = static_cast<std::size_t>((serial * 13 + y * 3) % row_bytes_);
            std::byte* dst = row(y);
            std::memcpy(dst, ramp_.data() + shift, row_bytes_);
            h = checksum(dst, row_bytes_, h);
            progress(y + 1);
        }
        std::byte* last = row(height - 1);
        const std::size_t shift = static_cast<std::size_t>(serial % row_bytes_);
        std::memcpy(last, ramp_.data() + shift, row_bytes_);
        const FrameTrailer t{kTrailerMagic, serial, h, width, height};
        std::memcpy(last, &t, sizeof(t));
        progress(height);
    }

private:
    std::size_t row_bytes_;
    std::vector<std::byte> ramp_;
};

enum class FrameCheck { ok, bad_magic, wrong_serial, wrong_geometry, bad_checksum };

// Incremental verification, fed rows in order as they become readable.
class PatternChecker {
public:
    void begin(std::uint64_t serial, std::uint32_t width, std::uint32_t height, std::size_t row_bytes) {
        serial_ = serial;
        width_ = width;
        height_ = height;
        row_bytes_ = row_bytes;
        h_ = 0x243F6A8885A308D3ULL;
        next_row_ = 0;
    }
    // Rows [next_row, end) are readable at row(y).
    template <class RowPtr>
    void feed(std::uint32_t end, RowPtr&& row) {
        const std::uint32_t body_end = std::min(end, height_ - 1);
        for (; next_row_ < body_end; ++next_row_) h_ = checksum(row(next_row_), row_bytes_, h_);
    }
    template <class RowPtr>
    [[nodiscard]] FrameCheck finish(RowPtr&& row) {
        feed(height_, row);
        FrameTrailer t{};
        std::memcpy(&t, row(height_ - 1), sizeof(t));
        if (t.magic != kTrailerMagic) return FrameCheck::bad_magic;
        if (t.serial != serial_) return FrameCheck::wrong_serial;
        if (t.width != width_ || t.height != height_) return FrameCheck::wrong_geometry;
        return t.checksum == h_ ? FrameCheck::ok : FrameCheck::bad_checksum;
    }

private:
    std::uint64_t serial_ = 0, h_ = 0;
    std::uint32_t width_ = 0, height_ = 0, next_row_ = 0;
    std::size_t row_bytes_ = 0;
};

// Cursor shape number `serial` (1, 2, 3, ...): types cycle colour, monochrome, masked colour;
// the size and pixels follow from the serial.
struct PatternShape {
    pane::CursorType type;
    std::uint32_t width, height, pitch, hotspot_x, hotspot_y;
    std::vector<std::byte> data;
};

[[nodiscard]] inline PatternShape pattern_shape(std::uint64_t serial) {
    PatternShape s{};
    s.type = static_cast<pane::CursorType>(1 + (serial - 1) % 3);
    s.width = 16 + static_cast<std::uint32_t>(serial % 4) * 16;  // 16..64
    s.height = s.width;
    s.hotspot_x = static_cast<std::uint32_t>(serial % s.width);
    s.hotspot_y = static_cast<std::uint32_t>((serial / 2) % s.height);
    const bool mono = s.type == pane::CursorType::monochrome;
    s.pitch = mono ? (s.width + 7) / 8 : s.width * 4;
    s.data.resize(std::size_t{s.pitch} * s.height * (mono ? 2 : 1));
    for (std::size_t i = 0; i < s.data.size(); ++i) s.data[i] = static_cast<std::byte>((i * 31 + serial * 17) & 0xff);
    return s;
}

// The cursor's path: a Lissajous figure inside width x height, one step per position serial.
struct PatternPoint {
    std::int32_t x, y;
};
[[nodiscard]] inline PatternPoint pattern_position(std::uint64_t serial, std::uint32_t width, std::uint32_t height) {
    const double t = static_cast<double>(serial) * 0.001;
    return {static_cast<std::int32_t>((std::sin(t * 3.0) * 0.5 + 0.5) * (width - 1)),
            static_cast<std::int32_t>((std::sin(t * 2.0) * 0.5 + 0.5) * (height - 1))};
}

}  // namespace pane_tools
