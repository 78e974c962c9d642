// SPDX-License-Identifier: MIT
// tools/image_write.hpp: every wire pixel format converted to exact RGB8 values, the bounds checks
// on stride and span size, the checksums against published check values, and a written PNG
// taken apart by hand (chunks, CRCs, stored deflate blocks, Adler-32) without zlib.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <unistd.h>

#include "catch.hpp"
#include "image_write.hpp"

using namespace pane_tools;

namespace {

std::vector<std::byte> bytes(std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int x : v) out.push_back(static_cast<std::byte>(x));
    return out;
}

std::vector<std::uint8_t> u8s(std::initializer_list<int> v) {
    std::vector<std::uint8_t> out;
    for (int x : v) out.push_back(static_cast<std::uint8_t>(x));
    return out;
}

std::span<const std::uint8_t> ascii(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

void put_le32(std::vector<std::byte>& v, std::uint32_t x) {
    for (int i = 0; i < 4; ++i) v.push_back(static_cast<std::byte>(x >> (8 * i)));
}
void put_le16(std::vector<std::byte>& v, std::uint16_t x) {
    v.push_back(static_cast<std::byte>(x));
    v.push_back(static_cast<std::byte>(x >> 8));
}
void pad(std::vector<std::byte>& v, int n) {
    for (int i = 0; i < n; ++i) v.push_back(std::byte{0xEE});  // junk that must never be read as a pixel
}

std::uint32_t be32(const std::vector<std::uint8_t>& v, std::size_t at) {
    return std::uint32_t{v[at]} << 24 | std::uint32_t{v[at + 1]} << 16 | std::uint32_t{v[at + 2]} << 8 | v[at + 3];
}

// A unique file in the temp directory, removed when the test ends.
struct TempFile {
    std::filesystem::path path;
    explicit TempFile(const std::string& name)
        : path(std::filesystem::temp_directory_path() / ("pane-test-" + std::to_string(::getpid()) + "-" + name)) {}
    ~TempFile() {
        std::error_code ec;
        std::filesystem::remove(path, ec);
    }
    std::vector<std::uint8_t> read() const {
        std::ifstream in(path, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
};

RgbImage gradient(std::uint32_t w, std::uint32_t h) {
    RgbImage img{w, h, {}};
    for (std::uint32_t y = 0; y < h; ++y) {
        for (std::uint32_t x = 0; x < w; ++x) {
            img.rgb.push_back(static_cast<std::uint8_t>(x));
            img.rgb.push_back(static_cast<std::uint8_t>(y));
            img.rgb.push_back(static_cast<std::uint8_t>(x * 7 + y * 13));
        }
    }
    return img;
}

// Adler-32 straight from RFC 1950, reducing every byte: checks the batched reduction.
std::uint32_t adler32_naive(std::span<const std::uint8_t> d) {
    std::uint32_t a = 1, b = 0;
    for (auto x : d) {
        a = (a + x) % 65521;
        b = (b + a) % 65521;
    }
    return b << 16 | a;
}

}  // namespace

// The 2x2 images below pad each row with 4 junk bytes so the stride is honoured, not assumed.
// Formats without their own values expect these.
const std::vector<std::uint8_t> expect_2x2 = u8s({10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120});

TEST_CASE("to_rgb: BGRA8", "[image]") {
    auto d = bytes({30, 20, 10, 255, 60, 50, 40, 0});
    pad(d, 4);
    for (auto b : bytes({90, 80, 70, 1, 120, 110, 100, 2})) d.push_back(b);
    pad(d, 4);
    auto img = to_rgb(d, 1, 2, 2, 12);
    REQUIRE(img);
    CHECK(img->width == 2);
    CHECK(img->height == 2);
    CHECK(img->rgb == expect_2x2);
}

TEST_CASE("to_rgb: RGBA8", "[image]") {
    auto d = bytes({10, 20, 30, 255, 40, 50, 60, 0});
    pad(d, 4);
    for (auto b : bytes({70, 80, 90, 1, 100, 110, 120, 2})) d.push_back(b);
    pad(d, 4);
    auto img = to_rgb(d, 2, 2, 2, 12);
    REQUIRE(img);
    CHECK(img->rgb == expect_2x2);
}

TEST_CASE("to_rgb: BGR_32", "[image]") {
    auto d = bytes({30, 20, 10, 0xAA, 60, 50, 40, 0xBB});
    pad(d, 4);
    for (auto b : bytes({90, 80, 70, 0xCC, 120, 110, 100, 0xDD})) d.push_back(b);
    pad(d, 4);
    auto img = to_rgb(d, 5, 2, 2, 12);
    REQUIRE(img);
    CHECK(img->rgb == expect_2x2);
}

TEST_CASE("to_rgb: RGB_24", "[image]") {
    auto d = bytes({10, 20, 30, 40, 50, 60});
    pad(d, 4);
    for (auto b : bytes({70, 80, 90, 100, 110, 120})) d.push_back(b);
    pad(d, 4);
    auto img = to_rgb(d, 6, 2, 2, 10);
    REQUIRE(img);
    CHECK(img->rgb == expect_2x2);
}

TEST_CASE("to_rgb: RGBA10 keeps the top 8 of each 10-bit channel", "[image]") {
    auto px = [](std::uint32_t r, std::uint32_t g, std::uint32_t b, std::uint32_t a) {
        return r | g << 10 | b << 20 | a << 30;
    };
    std::vector<std::byte> d;
    put_le32(d, px(0x3FF, 0x200, 0x003, 3));  // -> 255, 128, 0
    put_le32(d, px(0x004, 0x1FF, 0x2A8, 0));  // -> 1, 127, 170
    pad(d, 4);
    put_le32(d, px(0x000, 0x3FC, 0x155, 1));  // -> 0, 255, 85
    put_le32(d, px(0x0FF, 0x100, 0x3FB, 2));  // -> 63, 64, 254
    pad(d, 4);
    auto img = to_rgb(d, 3, 2, 2, 12);
    REQUIRE(img);
    CHECK(img->rgb == u8s({255, 128, 0, 1, 127, 170, 0, 255, 85, 63, 64, 254}));
}

TEST_CASE("to_rgb: RGBA16F clamps, rounds and maps NaN to 0", "[image]") {
    std::vector<std::byte> d;
    // 1.0, 0.5 (127.5 rounds up), 0.25 (63.75); alpha 1.0
    for (std::uint16_t h : {0x3C00, 0x3800, 0x3400, 0x3C00}) put_le16(d, h);
    // 2.0 (clamped), -1.0 (clamped), NaN; alpha NaN
    for (std::uint16_t h : {0x4000, 0xBC00, 0x7E00, 0x7E00}) put_le16(d, h);
    pad(d, 4);
    // +inf, -inf, largest denormal (6.1e-5, rounds to 0); alpha 0
    for (std::uint16_t h : {0x7C00, 0xFC00, 0x03FF, 0x0000}) put_le16(d, h);
    // 0.0625 (15.94), just under 1 (254.88), -0.0
    for (std::uint16_t h : {0x2C00, 0x3BFF, 0x8000, 0x3C00}) put_le16(d, h);
    pad(d, 4);
    auto img = to_rgb(d, 4, 2, 2, 20);
    REQUIRE(img);
    CHECK(img->rgb == u8s({255, 128, 64, 255, 0, 0, 255, 0, 0, 16, 255, 0}));
}

TEST_CASE("to_rgb rejects bad geometry and unknown formats", "[image]") {
    const std::vector<std::byte> d(64);
    CHECK(!to_rgb(d, 0, 2, 2, 8));
    CHECK(!to_rgb(d, 7, 2, 2, 8));
    CHECK(to_rgb(d, 2, 2, 2, 8));
    CHECK(!to_rgb(d, 2, 2, 2, 7));   // stride below 2 * 4
    CHECK(!to_rgb(d, 4, 2, 2, 15));  // stride below 2 * 8
    CHECK(!to_rgb(d, 6, 3, 1, 8));   // stride below 3 * 3
    CHECK(to_rgb(d, 6, 3, 1, 9));

    // The last row needs only width * bpp bytes, not a full stride; one byte fewer is too few.
    const std::vector<std::byte> exact(100 * 3 + 8);  // rows at 0, 100, 200, 300; 4 * 2 bytes each
    CHECK(to_rgb(exact, 1, 2, 4, 100));
    CHECK(!to_rgb(std::span(exact).first(exact.size() - 1), 1, 2, 4, 100));

    // Products that wrap 32 bits (and sums near 2^64) must not sneak past the size check.
    CHECK(!to_rgb(d, 4, 0x20000000, 1, 0xFFFFFFFF));
    CHECK(!to_rgb(d, 2, 0x40000000, 2, 0));  // width * 4 wraps to 0 in 32 bits
    CHECK(!to_rgb(d, 2, 1, 0xFFFFFFFF, 0xFFFFFFFF));
    CHECK(!to_rgb(d, 4, 0x1FFFFFFF, 0xFFFFFFFF, 0xFFFFFFF8));

    // Nothing to read: an empty image, which the writers then refuse.
    auto empty = to_rgb({}, 2, 0, 5, 0);
    REQUIRE(empty);
    CHECK(empty->rgb.empty());
    TempFile f("empty.png");
    CHECK(!write_png(f.path.string(), *empty));
    CHECK(!std::filesystem::exists(f.path));
}

TEST_CASE("CRC-32 and Adler-32 match their check values", "[image]") {
    CHECK(crc32(ascii("123456789")) == 0xCBF43926U);
    CHECK(crc32(ascii("")) == 0U);
    CHECK(crc32(ascii("IEND")) == 0xAE426082U);  // the constant trailer of every PNG
    CHECK(adler32(ascii("Wikipedia")) == 0x11E60398U);
    CHECK(adler32(ascii("")) == 1U);

    // Long runs of 0xFF push the sums hardest between reductions.
    std::vector<std::uint8_t> big(100000, 0xFF);
    CHECK(adler32(big) == adler32_naive(big));
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 131 + 7);
    CHECK(adler32(big) == adler32_naive(big));
}

TEST_CASE("write_png writes chunks, stored deflate blocks and checksums a decoder accepts", "[image]") {
    // 200 * 3 + 1 = 601 bytes a row, 120 rows: 72120 bytes, so two stored blocks, split mid-row.
    const auto img = gradient(200, 120);
    TempFile f("gradient.png");
    REQUIRE(write_png(f.path.string(), img));
    const auto file = f.read();

    REQUIRE(file.size() > 8);
    CHECK(std::vector<std::uint8_t>(file.begin(), file.begin() + 8) ==
          u8s({0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}));

    // Walk the chunks, checking each CRC over type + data.
    struct Chunk {
        std::string type;
        std::vector<std::uint8_t> data;
    };
    std::vector<Chunk> chunks;
    std::size_t at = 8;
    while (at < file.size()) {
        REQUIRE(at + 12 <= file.size());
        const std::uint32_t len = be32(file, at);
        REQUIRE(at + 12 + len <= file.size());
        const std::span<const std::uint8_t> typed(file.data() + at + 4, len + 4);
        CHECK(crc32(typed) == be32(file, at + 8 + len));
        chunks.push_back({std::string(file.begin() + at + 4, file.begin() + at + 8),
                          std::vector<std::uint8_t>(typed.begin() + 4, typed.end())});
        at += 12 + len;
    }
    CHECK(at == file.size());
    REQUIRE(chunks.size() >= 3);

    CHECK(chunks.front().type == "IHDR");
    REQUIRE(chunks.front().data.size() == 13);
    CHECK(be32(chunks.front().data, 0) == 200);
    CHECK(be32(chunks.front().data, 4) == 120);
    CHECK(std::vector<std::uint8_t>(chunks.front().data.begin() + 8, chunks.front().data.end()) ==
          u8s({8, 2, 0, 0, 0}));  // 8-bit, RGB, deflate, filter method 0, no interlace
    CHECK(chunks.back().type == "IEND");
    CHECK(chunks.back().data.empty());

    std::vector<std::uint8_t> z;
    for (std::size_t i = 1; i + 1 < chunks.size(); ++i) {
        CHECK(chunks[i].type == "IDAT");
        z.insert(z.end(), chunks[i].data.begin(), chunks[i].data.end());
    }

    // zlib header: deflate with a window of at most 32 KiB, no preset dictionary, FCHECK valid.
    REQUIRE(z.size() >= 6);
    CHECK((z[0] & 0x0F) == 8);
    CHECK((z[0] >> 4) <= 7);
    CHECK((z[1] & 0x20) == 0);
    CHECK((z[0] * 256 + z[1]) % 31 == 0);

    // A stored-only inflater: each block is a header byte (BTYPE 00), LEN, NLEN, then LEN bytes.
    std::vector<std::uint8_t> raw;
    std::size_t p = 2;
    int blocks = 0;
    bool final_block = false;
    while (!final_block) {
        REQUIRE(p + 5 <= z.size());
        final_block = (z[p] & 1) != 0;
        CHECK(((z[p] >> 1) & 3) == 0);
        const unsigned len = z[p + 1] | z[p + 2] << 8;
        const unsigned nlen = z[p + 3] | z[p + 4] << 8;
        CHECK((len ^ nlen) == 0xFFFFU);
        REQUIRE(p + 5 + len <= z.size());
        raw.insert(raw.end(), z.begin() + static_cast<std::ptrdiff_t>(p + 5),
                   z.begin() + static_cast<std::ptrdiff_t>(p + 5 + len));
        p += 5 + len;
        ++blocks;
    }
    CHECK(blocks == 2);
    REQUIRE(p + 4 == z.size());
    CHECK(be32(z, p) == adler32(raw));

    std::vector<std::uint8_t> expected;
    for (std::uint32_t y = 0; y < img.height; ++y) {
        expected.push_back(0);  // filter type None
        const auto row = img.rgb.begin() + static_cast<std::ptrdiff_t>(y) * 600;
        expected.insert(expected.end(), row, row + 600);
    }
    CHECK(raw == expected);
}

TEST_CASE("write_image picks the format by extension; write failures return false", "[image]") {
    const auto img = gradient(3, 2);

    TempFile ppm("frame.PPM");
    REQUIRE(write_image(ppm.path.string(), img));
    const auto file = ppm.read();
    const std::string header = "P6\n3 2\n255\n";
    REQUIRE(file.size() == header.size() + 18);
    CHECK(std::string(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(header.size())) == header);
    CHECK(std::vector<std::uint8_t>(file.begin() + static_cast<std::ptrdiff_t>(header.size()), file.end()) == img.rgb);

    TempFile png("frame.png");
    REQUIRE(write_image(png.path.string(), img));
    CHECK(png.read().at(1) == 'P');

    TempFile jpg("frame.jpg");
    CHECK(!write_image(jpg.path.string(), img));
    CHECK(!std::filesystem::exists(jpg.path));
    TempFile bare("frame");
    CHECK(!write_image(bare.path.string(), img));

    const std::string missing_dir = (std::filesystem::temp_directory_path() / "pane-no-such-dir/x.png").string();
    CHECK(!write_png(missing_dir, img));
    CHECK(!write_ppm(missing_dir, img));

    RgbImage inconsistent = img;
    inconsistent.rgb.pop_back();
    TempFile bad("bad.png");
    CHECK(!write_png(bad.path.string(), inconsistent));
    CHECK(!write_ppm(bad.path.string(), inconsistent));

    // /dev/full accepts the open and fails the write: the error must surface, not be lost in a buffer.
    if (std::filesystem::exists("/dev/full")) {
        CHECK(!write_png("/dev/full", img));
        CHECK(!write_ppm("/dev/full", img));
    }
}
