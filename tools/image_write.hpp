// SPDX-License-Identifier: MIT
// Saving a captured frame for `pane-consume --save`: converts one frame in any of the wire pixel
// formats to packed RGB8, then writes it as binary PPM or as PNG. The PNG holds *stored*
// (uncompressed) deflate blocks, so the tools need neither zlib nor a codec; files are large but
// every viewer opens them, and the CRC-32/Adler-32 they need are implemented here.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace pane_tools {

// Pixel format numbers as they travel on the wire; the `format` argument of to_rgb.
namespace pixel_format {
inline constexpr std::uint32_t bgra8 = 1;    // bytes B,G,R,A
inline constexpr std::uint32_t rgba8 = 2;    // bytes R,G,B,A
inline constexpr std::uint32_t rgba10 = 3;   // LE u32: R 0-9, G 10-19, B 20-29, A 30-31
inline constexpr std::uint32_t rgba16f = 4;  // 4 x LE IEEE half: R,G,B,A
inline constexpr std::uint32_t bgr32 = 5;    // bytes B,G,R,X
inline constexpr std::uint32_t rgb24 = 6;    // bytes R,G,B
}  // namespace pixel_format

// Tightly packed 8-bit R,G,B rows (no padding): rgb.size() == width * height * 3.
struct RgbImage {
    std::uint32_t width = 0, height = 0;
    std::vector<std::uint8_t> rgb;
};

namespace detail {

// Reflected CRC-32 (polynomial 0xEDB88320) as PNG and zlib define it, built at compile time.
inline constexpr std::array<std::uint32_t, 256> crc32_table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
        std::uint32_t c = n;
        for (int k = 0; k < 8; ++k) c = (c & 1U) ? 0xEDB88320U ^ (c >> 1) : c >> 1;
        t[n] = c;
    }
    return t;
}();

// Running form: start from 0xFFFFFFFF, finish with ~, so a chunk's type and data can be fed apart.
inline std::uint32_t crc32_update(std::uint32_t c, std::span<const std::uint8_t> bytes) noexcept {
    for (const std::uint8_t b : bytes) c = crc32_table[(c ^ b) & 0xFFU] ^ (c >> 8);
    return c;
}

inline constexpr std::uint32_t adler_mod = 65521;
// Largest n with 255*n*(n+1)/2 + (n+1)*(adler_mod-1) < 2^32: sums may go that long unreduced.
inline constexpr std::size_t adler_nmax = 5552;

inline std::uint32_t adler32_update(std::uint32_t adler, std::span<const std::uint8_t> bytes) noexcept {
    std::uint32_t a = adler & 0xFFFFU, b = adler >> 16;
    while (!bytes.empty()) {
        const auto n = std::min(bytes.size(), adler_nmax);
        for (const std::uint8_t x : bytes.first(n)) {
            a += x;
            b += a;
        }
        a %= adler_mod;
        b %= adler_mod;
        bytes = bytes.subspan(n);
    }
    return (b << 16) | a;
}

inline std::uint32_t load_le32(const std::byte* p) noexcept {
    return std::to_integer<std::uint32_t>(p[0]) | std::to_integer<std::uint32_t>(p[1]) << 8 |
           std::to_integer<std::uint32_t>(p[2]) << 16 | std::to_integer<std::uint32_t>(p[3]) << 24;
}
inline std::uint16_t load_le16(const std::byte* p) noexcept {
    return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) | std::to_integer<unsigned>(p[1]) << 8);
}
inline std::uint8_t u8(std::byte b) noexcept { return std::to_integer<std::uint8_t>(b); }

// One half float to 8 bits: clamp to [0,1], scale by 255, round half up. NaN and -inf give 0,
// +inf gives 255, denormals are decoded exactly (they all round to 0).
inline std::uint8_t half_to_unorm8(std::uint16_t h) noexcept {
    const unsigned exp = (h >> 10) & 0x1FU, mant = h & 0x3FFU;
    const bool negative = (h & 0x8000U) != 0;
    if (exp == 0x1F) return (mant == 0 && !negative) ? 255 : 0;
    if (negative) return 0;
    const double v = exp == 0 ? std::ldexp(static_cast<double>(mant), -24)
                              : std::ldexp(static_cast<double>(mant | 0x400U), static_cast<int>(exp) - 25);
    if (v >= 1.0) return 255;
    return static_cast<std::uint8_t>(v * 255.0 + 0.5);
}

// A 4K frame has ~25 million half channels but only 65536 distinct halves: look them up.
// Function-local static, so it is built once, thread-safely, and only if RGBA16F is ever used.
inline const std::array<std::uint8_t, 65536>& half_table() {
    static const auto table = [] {
        std::array<std::uint8_t, 65536> t{};
        for (std::uint32_t i = 0; i < t.size(); ++i) t[i] = half_to_unorm8(static_cast<std::uint16_t>(i));
        return t;
    }();
    return table;
}

inline std::uint32_t bytes_per_pixel(std::uint32_t format) noexcept {
    switch (format) {
        case pixel_format::bgra8:
        case pixel_format::rgba8:
        case pixel_format::rgba10:
        case pixel_format::bgr32:
            return 4;
        case pixel_format::rgba16f:
            return 8;
        case pixel_format::rgb24:
            return 3;
        default:
            return 0;
    }
}

// The per-pixel work is a template argument so each format's loop inlines it.
template <std::size_t Bpp, class Pixel>
void convert_rows(std::span<const std::byte> data, std::uint32_t stride, RgbImage& out, Pixel pixel) {
    std::uint8_t* dst = out.rgb.data();
    for (std::uint32_t y = 0; y < out.height; ++y) {
        const std::byte* src = data.data() + static_cast<std::size_t>(y) * stride;
        for (std::uint32_t x = 0; x < out.width; ++x, src += Bpp, dst += 3) pixel(src, dst);
    }
}

inline bool valid_image(const RgbImage& image) noexcept {
    return image.width != 0 && image.height != 0 &&
           static_cast<std::uint64_t>(image.width) * image.height * 3 == image.rgb.size();
}

// fopen/fclose; on failure a half-written regular file is removed, so a failed save does not leave
// something that looks like a truncated image. Only a regular file: the path may be a device
// such as /dev/full, which must never be unlinked.
class OutFile {
public:
    explicit OutFile(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "wb")) {}
    OutFile(const OutFile&) = delete;
    OutFile& operator=(const OutFile&) = delete;
    ~OutFile() {
        if (f_ != nullptr) {
            std::fclose(f_);
            discard();
        }
    }
    [[nodiscard]] bool ok() const noexcept { return f_ != nullptr && ok_; }
    void write(std::span<const std::uint8_t> bytes) noexcept {
        if (ok() && !bytes.empty()) ok_ = std::fwrite(bytes.data(), 1, bytes.size(), f_) == bytes.size();
    }
    // fclose reports the errors buffering deferred (e.g. a full disk).
    [[nodiscard]] bool close() noexcept {
        if (f_ == nullptr) return false;
        const bool closed = std::fclose(f_) == 0;
        f_ = nullptr;
        if (!(ok_ && closed)) discard();
        return ok_ && closed;
    }

private:
    void discard() noexcept {
        std::error_code ec;
        if (std::filesystem::is_regular_file(path_, ec)) std::filesystem::remove(path_, ec);
    }

    std::string path_;
    std::FILE* f_;
    bool ok_ = true;
};

inline void put_be32(std::vector<std::uint8_t>& v, std::uint32_t x) {
    v.push_back(static_cast<std::uint8_t>(x >> 24));
    v.push_back(static_cast<std::uint8_t>(x >> 16));
    v.push_back(static_cast<std::uint8_t>(x >> 8));
    v.push_back(static_cast<std::uint8_t>(x));
}

inline void write_chunk(OutFile& out, const char (&type)[5], std::span<const std::uint8_t> data) {
    std::vector<std::uint8_t> head;
    put_be32(head, static_cast<std::uint32_t>(data.size()));
    for (int i = 0; i < 4; ++i) head.push_back(static_cast<std::uint8_t>(type[i]));
    std::uint32_t crc = crc32_update(0xFFFFFFFFU, std::span(head).subspan(4));
    crc = ~crc32_update(crc, data);
    std::vector<std::uint8_t> tail;
    put_be32(tail, crc);
    out.write(head);
    out.write(data);
    out.write(tail);
}

}  // namespace detail

// CRC-32 as used by PNG chunks, zlib and gzip ("123456789" -> 0xCBF43926).
inline std::uint32_t crc32(std::span<const std::uint8_t> bytes) noexcept {
    return ~detail::crc32_update(0xFFFFFFFFU, bytes);
}

// Adler-32 as used by the zlib stream trailer ("Wikipedia" -> 0x11E60398).
inline std::uint32_t adler32(std::span<const std::uint8_t> bytes) noexcept { return detail::adler32_update(1, bytes); }

// Converts one frame into RGB8; alpha and X bytes are dropped. `data` starts at row 0 and rows
// are `stride` bytes apart; the last row needs only width * bytes_per_pixel bytes. Returns
// nullopt for an unknown format, stride < width * bytes_per_pixel, or `data` too small, all
// checked in 64-bit arithmetic. A zero width or height gives an image with no pixels (which the
// writers refuse). Throws std::bad_alloc only if the output does not fit in memory.
inline std::optional<RgbImage> to_rgb(std::span<const std::byte> data, std::uint32_t format, std::uint32_t width,
                                      std::uint32_t height, std::uint32_t stride) {
    const std::uint32_t bpp = detail::bytes_per_pixel(format);
    if (bpp == 0) return std::nullopt;
    const std::uint64_t row_bytes = static_cast<std::uint64_t>(width) * bpp;  // < 2^35
    if (stride < row_bytes) return std::nullopt;
    RgbImage out;
    out.width = width;
    out.height = height;
    if (width == 0 || height == 0) return out;
    // (height-1)*stride < 2^64 and row_bytes < 2^35, but their sum may wrap: compare by parts.
    const std::uint64_t size = data.size();
    if (size < row_bytes || (size - row_bytes) / stride < height - 1U) return std::nullopt;
    // Each source pixel is >= 3 bytes and rows never overlap, so width*height*3 <= size: no overflow.
    out.rgb.resize(static_cast<std::size_t>(width) * height * 3);

    using detail::u8;
    switch (format) {
        case pixel_format::bgra8:
        case pixel_format::bgr32:
            detail::convert_rows<4>(data, stride, out, [](const std::byte* s, std::uint8_t* d) {
                d[0] = u8(s[2]);
                d[1] = u8(s[1]);
                d[2] = u8(s[0]);
            });
            break;
        case pixel_format::rgba8:
            detail::convert_rows<4>(data, stride, out, [](const std::byte* s, std::uint8_t* d) {
                d[0] = u8(s[0]);
                d[1] = u8(s[1]);
                d[2] = u8(s[2]);
            });
            break;
        case pixel_format::rgb24:
            detail::convert_rows<3>(data, stride, out, [](const std::byte* s, std::uint8_t* d) {
                d[0] = u8(s[0]);
                d[1] = u8(s[1]);
                d[2] = u8(s[2]);
            });
            break;
        case pixel_format::rgba10:
            // Top 8 of each 10-bit channel: bits 2-9, 12-19, 22-29.
            detail::convert_rows<4>(data, stride, out, [](const std::byte* s, std::uint8_t* d) {
                const std::uint32_t v = detail::load_le32(s);
                d[0] = static_cast<std::uint8_t>(v >> 2);
                d[1] = static_cast<std::uint8_t>(v >> 12);
                d[2] = static_cast<std::uint8_t>(v >> 22);
            });
            break;
        case pixel_format::rgba16f: {
            const auto& table = detail::half_table();
            detail::convert_rows<8>(data, stride, out, [&table](const std::byte* s, std::uint8_t* d) {
                d[0] = table[detail::load_le16(s)];
                d[1] = table[detail::load_le16(s + 2)];
                d[2] = table[detail::load_le16(s + 4)];
            });
            break;
        }
    }
    return out;
}

// Writes binary PPM (P6, maxval 255). Returns false on I/O failure or an image that is empty or
// whose rgb size does not match its dimensions; a failed write removes the partial file.
inline bool write_ppm(const std::string& path, const RgbImage& image) {
    if (!detail::valid_image(image)) return false;
    detail::OutFile out(path);
    const std::string header = "P6\n" + std::to_string(image.width) + " " + std::to_string(image.height) + "\n255\n";
    out.write(std::span(reinterpret_cast<const std::uint8_t*>(header.data()), header.size()));
    out.write(image.rgb);
    return out.close();
}

// Writes an 8-bit RGB PNG (colour type 2, no interlace). The zlib stream in IDAT is a sequence of
// stored deflate blocks (at most 65535 bytes each) over the scanlines, each scanline prefixed
// with filter type 0. The stream is cut into IDAT chunks of about 1 MiB so neither a whole
// second copy of the image nor a chunk over PNG's 2^31-1 length limit is ever needed. Returns
// false on I/O failure, an empty or inconsistent image, or a dimension above PNG's 2^31-1.
inline bool write_png(const std::string& path, const RgbImage& image) {
    constexpr std::uint32_t png_max_dim = 0x7FFFFFFFU;
    if (!detail::valid_image(image) || image.width > png_max_dim || image.height > png_max_dim) return false;
    detail::OutFile out(path);

    static constexpr std::uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    out.write(signature);

    std::vector<std::uint8_t> ihdr;
    detail::put_be32(ihdr, image.width);
    detail::put_be32(ihdr, image.height);
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // bit depth, colour type RGB, deflate, adaptive filters, no interlace
    detail::write_chunk(out, "IHDR", ihdr);

    constexpr std::size_t stored_max = 65535;      // LEN is 16 bits
    constexpr std::size_t idat_target = 1U << 20;  // flush an IDAT chunk once this full
    const std::size_t row_len = static_cast<std::size_t>(image.width) * 3;
    const std::uint64_t total = (static_cast<std::uint64_t>(row_len) + 1) * image.height;

    std::vector<std::uint8_t> idat;
    idat.reserve(idat_target + stored_max + 16);
    // CMF 0x78: deflate, 32 KiB window. FLG 0x01: no dictionary, level "fastest", and
    // (0x78 * 256 + 0x01) % 31 == 0 as FCHECK requires.
    idat.push_back(0x78);
    idat.push_back(0x01);

    std::uint32_t adler = 1;
    std::uint64_t done = 0;  // bytes of the filtered scanline stream emitted so far
    while (done < total && out.ok()) {
        const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(stored_max, total - done));
        const bool final_block = done + len == total;
        idat.push_back(final_block ? 0x01 : 0x00);  // BFINAL, BTYPE 00 (stored); byte-aligned after it
        idat.push_back(static_cast<std::uint8_t>(len));
        idat.push_back(static_cast<std::uint8_t>(len >> 8));
        idat.push_back(static_cast<std::uint8_t>(~len));
        idat.push_back(static_cast<std::uint8_t>(~len >> 8));
        // Copy `len` bytes of "0, row 0, 0, row 1, ...", which blocks cut at arbitrary places.
        const std::size_t block_start = idat.size();
        std::size_t left = len;
        while (left > 0) {
            const std::uint64_t row = done / (row_len + 1);
            const std::size_t col = static_cast<std::size_t>(done % (row_len + 1));
            if (col == 0) {
                idat.push_back(0);  // filter type None
                ++done;
                --left;
                continue;
            }
            const std::size_t n = std::min(left, row_len + 1 - col);
            const auto* src = image.rgb.data() + static_cast<std::size_t>(row) * row_len + (col - 1);
            idat.insert(idat.end(), src, src + n);
            done += n;
            left -= n;
        }
        adler = detail::adler32_update(adler, std::span(idat).subspan(block_start));
        if (final_block) detail::put_be32(idat, adler);
        if (idat.size() >= idat_target || final_block) {
            detail::write_chunk(out, "IDAT", idat);
            idat.clear();
        }
    }
    detail::write_chunk(out, "IEND", {});
    return out.close();
}

// Picks the writer by extension, ignoring case: ".png" -> PNG, ".ppm" -> PPM, anything else
// (including no extension) -> false without touching the file system.
inline bool write_image(const std::string& path, const RgbImage& image) {
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
    if (ext == ".png") return write_png(path, image);
    if (ext == ".ppm") return write_ppm(path, image);
    return false;
}

}  // namespace pane_tools
