// SPDX-License-Identifier: MIT
// The checks of the two-display end-to-end test (scripts/pass-x11.sh), as a consumer of the
// region built on the library, and as a reader of pane-view's screenshots. Each check prints one
// line "PASS name: detail" or "FAIL name: detail" (the pass counts them); exit status 1 if any
// failed.
//   frames  --shm N --seconds S [--rect x,y,w,h,RRGGBB]...
//           reads every frame whole, and for each frame that follows the previous one read and
//           carries damage, checks that every pixel that changed lies in a damage rectangle;
//           then checks the rectangles' colours in the last frame
//   cursor  --shm N --expect X,Y --shape W,H,HX,HY,RRGGBB [--seconds S]
//           waits until the position channel says X,Y and the shape channel holds that shape
//   control --shm N --send X,Y [--seconds S]
//           sends set_cursor_position and waits until the position channel reports X,Y
//   image   --ppm F --info LINE [--rect x,y,w,h,RRGGBB]... [--cursor X,Y,RRGGBB]
//           the rectangles at their scaled places in pane-view's screenshot, and the cursor
//           (its shape pixel at the centre) where the info line says it was drawn
//   pattern --ppm F --info LINE
//           a screenshot (scale 1) of pane-produce's test pattern: every pixel of the frame the
//           info line names, regenerated, and the cursor composed over it as protocol 11.7 says
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include <pane/map/shm.hpp>
#include <pane/pane.hpp>

#include "cli.hpp"
#include "display_spec.hpp"
#include "image_write.hpp"
#include "pattern.hpp"
#include "view/cursor.hpp"

using namespace std::chrono_literals;
namespace pt = pane_tools;
using pane::Clock;

namespace {

int g_failed = 0;

void report(bool ok, const std::string& name, const std::string& detail) {
    fmt::print("{} {}: {}\n", ok ? "PASS" : "FAIL", name, detail);
    std::fflush(stdout);
    if (!ok) ++g_failed;
}

struct Rect {
    std::int64_t x, y, w, h;
    std::uint32_t rgb;
};

Rect parse_rect(const std::string& s) {
    Rect r{};
    unsigned rgb = 0;
    long long x, y, w, h;
    if (std::sscanf(s.c_str(), "%lld,%lld,%lld,%lld,%x", &x, &y, &w, &h, &rgb) != 5) {
        throw std::invalid_argument("a rectangle is x,y,w,h,RRGGBB: " + s);
    }
    r = {x, y, w, h, rgb};
    return r;
}

std::map<std::string, std::string> parse_info(const std::string& line) {
    std::map<std::string, std::string> kv;
    std::istringstream in(line);
    std::string tok;
    while (in >> tok) {
        const auto eq = tok.find('=');
        if (eq != std::string::npos) kv[tok.substr(0, eq)] = tok.substr(eq + 1);
    }
    return kv;
}

std::pair<std::int64_t, std::int64_t> pair_of(const std::string& s, char sep) {
    const auto at = s.find(sep);
    if (at == std::string::npos) throw std::invalid_argument("expected A" + std::string(1, sep) + "B: " + s);
    return {std::stoll(s.substr(0, at)), std::stoll(s.substr(at + 1))};
}

struct Ppm {
    int width = 0, height = 0;
    std::vector<std::uint8_t> rgb;
    [[nodiscard]] std::uint32_t at(std::int64_t x, std::int64_t y) const {
        if (x < 0 || y < 0 || x >= width || y >= height) return 0xffffffffu;
        const std::uint8_t* p = rgb.data() + (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * 3;
        return (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
    }
};

Ppm read_ppm(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::string magic;
    int maxval = 0;
    Ppm p;
    f >> magic >> p.width >> p.height >> maxval;
    f.get();
    if (magic != "P6" || maxval != 255 || p.width <= 0 || p.height <= 0) throw std::runtime_error("not a P6 PPM: " + path);
    p.rgb.resize(static_cast<std::size_t>(p.width) * static_cast<std::size_t>(p.height) * 3);
    f.read(reinterpret_cast<char*>(p.rgb.data()), static_cast<std::streamsize>(p.rgb.size()));
    if (!f) throw std::runtime_error("short PPM: " + path);
    return p;
}

bool close_to(std::uint32_t a, std::uint32_t b, int tolerance) {
    for (int shift = 0; shift < 24; shift += 8) {
        const int ca = static_cast<int>((a >> shift) & 0xff), cb = static_cast<int>((b >> shift) & 0xff);
        if (std::abs(ca - cb) > tolerance) return false;
    }
    return true;
}

// The region, attached as a consumer (retrying while no producer is ready).
struct Attached {
    pane::map::Mapping mapping;
    std::optional<pane::ConsumerSession> session;
};

std::optional<Attached> attach(const std::string& shm, Clock::duration timeout) {
    const auto until = Clock::now() + timeout;
    for (;;) {
        auto m = pane::map::shm(shm, 0, pane::map::OpenMode::open_only);
        if (m) {
            Attached a{std::move(*m), std::nullopt};
            auto s = pane::ConsumerSession::attach(a.mapping.bytes());
            if (s) {
                a.session.emplace(std::move(s.value()));
                return a;
            }
        }
        if (Clock::now() > until) return std::nullopt;
        std::this_thread::sleep_for(20ms);
    }
}

int check_frames(const pt::Options& opt, const std::vector<Rect>& rects) {
    auto a = attach(opt.str("shm", ""), 10s);
    if (!a) {
        report(false, "damage-cover", "no producer to attach to");
        return 1;
    }
    auto frames = a->session->frames(pt::kFramesChannel);
    if (!frames) {
        report(false, "damage-cover", "no frames channel");
        return 1;
    }
    const auto until = Clock::now() + std::chrono::seconds(opt.num("seconds", 5));
    std::vector<std::uint32_t> prev, cur;
    std::uint64_t prev_serial = 0, checked = 0, changed_pixels = 0, uncovered = 0, whole = 0, read = 0, rect_total = 0;
    std::uint32_t width = 0, height = 0;
    std::string first_uncovered;
    pane::FrameView view;
    while (Clock::now() < until) {
        (void)a->session->tick();
        const auto s = frames->wait_latest(view, pane::AutoWait{}, 100ms);
        if (s != pane::FrameStatus::ok) continue;
        const pane::FrameDescriptor d = view.descriptor();
        if (view.wait_rows(d.height, pane::AutoWait{}, 2s) != pane::FrameStatus::ok) continue;
        if (d.format != static_cast<std::uint32_t>(pane::FrameFormat::bgr_32)) {
            report(false, "damage-cover", fmt::format("frame format {} is not bgr_32", d.format));
            return 1;
        }
        cur.resize(std::size_t{d.width} * d.height);
        for (std::uint32_t y = 0; y < d.height; ++y) {
            std::memcpy(cur.data() + std::size_t{y} * d.width, view.row(y), std::size_t{d.width} * 4);
        }
        if (view.verify() != pane::FrameStatus::ok) {
            prev_serial = 0;
            continue;
        }
        ++read;
        const bool damage = (d.flags & pane::kFrameDamageValid) != 0;
        if (!damage) ++whole;
        if (damage && prev_serial != 0 && d.serial == prev_serial + 1 && d.width == width && d.height == height) {
            ++checked;
            rect_total += d.damage_count;
            for (std::uint32_t y = 0; y < d.height; ++y) {
                for (std::uint32_t x = 0; x < d.width; ++x) {
                    const std::size_t i = std::size_t{y} * d.width + x;
                    if (((cur[i] ^ prev[i]) & 0xffffff) == 0) continue;
                    ++changed_pixels;
                    bool covered = false;
                    for (std::uint32_t k = 0; k < d.damage_count && !covered; ++k) {
                        const auto& r = d.damage[k];
                        covered = x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
                    }
                    if (!covered && uncovered++ == 0) first_uncovered = fmt::format("({}, {}) in frame {}", x, y, d.serial);
                }
            }
        }
        std::swap(prev, cur);
        prev_serial = d.serial;
        width = d.width;
        height = d.height;
    }
    report(checked >= 5 && changed_pixels > 0 && uncovered == 0, "damage-cover",
           fmt::format("{} frames read ({} whole), {} damage frames checked against their predecessor "
                       "({:.1f} rects each), {} changed pixels, {} not covered{}",
                       read, whole, checked, checked ? static_cast<double>(rect_total) / static_cast<double>(checked) : 0.0,
                       changed_pixels, uncovered, uncovered ? ", first " + first_uncovered : std::string()));
    if (!rects.empty()) {
        int bad = 0;
        std::string detail;
        for (const Rect& r : rects) {
            // The centre and four points inside each corner.
            for (const auto& [px, py] : {std::pair{r.x + r.w / 2, r.y + r.h / 2}, std::pair{r.x + 2, r.y + 2},
                                         std::pair{r.x + r.w - 3, r.y + 2}, std::pair{r.x + 2, r.y + r.h - 3},
                                         std::pair{r.x + r.w - 3, r.y + r.h - 3}}) {
                const std::uint32_t got = px < width && py < height ? prev[static_cast<std::size_t>(py) * width + static_cast<std::size_t>(px)] & 0xffffff : 0xffffffff;
                if (got != r.rgb) {
                    ++bad;
                    detail = fmt::format("; at ({}, {}) {:06x}, expected {:06x}", px, py, got, r.rgb);
                }
            }
        }
        report(bad == 0 && read > 0, "frame-content",
               fmt::format("{}x{} last frame, {} rectangles at 5 points each, {} wrong{}", width, height, rects.size(), bad, detail));
    }
    return g_failed != 0 ? 1 : 0;
}

int check_cursor(const pt::Options& opt) {
    auto a = attach(opt.str("shm", ""), 10s);
    if (!a) {
        report(false, "cursor-position", "no producer to attach to");
        return 1;
    }
    auto positions = a->session->cursor_position(pt::kCursorPositionChannel);
    auto shapes = a->session->cursor_shape(pt::kCursorShapeChannel);
    const auto [ex, ey] = pair_of(opt.str("expect", "0,0"), ',');
    unsigned sw = 0, sh = 0, hx = 0, hy = 0, rgb = 0;
    std::sscanf(opt.str("shape", "").c_str(), "%u,%u,%u,%u,%x", &sw, &sh, &hx, &hy, &rgb);
    const auto until = Clock::now() + std::chrono::seconds(opt.num("seconds", 5));
    pane::CursorPosition p;
    pane::CursorShape shape;
    bool have_p = false, have_s = false, pos_ok = false, shape_ok = false;
    std::uint64_t updates = 0;
    while (Clock::now() < until && !(pos_ok && shape_ok)) {
        (void)a->session->tick();
        if (positions->wait_read(p, pane::AutoWait{}, 50ms) == pane::CursorStatus::ok) {
            have_p = true;
            ++updates;
        }
        if (shapes->try_read(shape) == pane::CursorStatus::ok) have_s = true;
        pos_ok = have_p && p.x == ex && p.y == ey && p.visible;
        if (have_s) {
            const auto& h = shape.header;
            bool pixels = h.type == static_cast<std::uint32_t>(pane::CursorType::color) && h.width == sw &&
                          h.height == sh && h.hotspot_x == hx && h.hotspot_y == hy;
            for (std::uint32_t i = 0; pixels && i < h.width * h.height; ++i) {
                const auto* q = reinterpret_cast<const std::uint8_t*>(shape.data.data()) + std::size_t{i} * 4;
                pixels = ((std::uint32_t{q[2]} << 16) | (std::uint32_t{q[1]} << 8) | q[0]) == rgb && q[3] == 255;
            }
            shape_ok = pixels && p.shape_serial == h.serial;
        }
    }
    report(pos_ok, "cursor-position",
           have_p ? fmt::format("last {},{} visible {} (expected {},{}), {} updates read", p.x, p.y, p.visible, ex, ey, updates)
                  : std::string("no position published"));
    report(shape_ok, "cursor-shape",
           have_s ? fmt::format("type {} {}x{} hotspot {},{} serial {} (position names {}); expected colour {}x{} hotspot {},{} all {:06x}",
                                shape.header.type, shape.header.width, shape.header.height, shape.header.hotspot_x,
                                shape.header.hotspot_y, shape.header.serial, p.shape_serial, sw, sh, hx, hy, rgb)
                  : std::string("no shape published"));
    return g_failed != 0 ? 1 : 0;
}

int check_control(const pt::Options& opt) {
    auto a = attach(opt.str("shm", ""), 10s);
    if (!a) {
        report(false, "control-warp", "no producer to attach to");
        return 1;
    }
    auto positions = a->session->cursor_position(pt::kCursorPositionChannel);
    auto control = a->session->control(pt::kControlChannel);
    const auto [x, y] = pair_of(opt.str("send", "0,0"), ',');
    const auto sent = control->send_cursor_position(static_cast<std::int32_t>(x), static_cast<std::int32_t>(y));
    const auto until = Clock::now() + std::chrono::seconds(opt.num("seconds", 5));
    pane::CursorPosition p;
    bool seen = false, have = false;
    while (Clock::now() < until && !seen) {
        (void)a->session->tick();
        if (positions->wait_read(p, pane::AutoWait{}, 50ms) == pane::CursorStatus::ok) have = true;
        seen = have && p.x == x && p.y == y;
    }
    report(sent == pane::ControlStatus::ok && seen, "control-warp",
           fmt::format("sent set_cursor_position {},{} (status {}); position channel {}", x, y, static_cast<int>(sent),
                       have ? fmt::format("last {},{}", p.x, p.y) : std::string("silent")));
    return g_failed != 0 ? 1 : 0;
}

struct Info {
    double vx = 0, vy = 0, scale = 1;
    std::int64_t fw = 0, fh = 0, cx = 0, cy = 0, sw = 0, sh = 0, hx = 0, hy = 0;
    std::uint64_t serial = 0, shape = 0, format = 0;
    std::uint32_t type = 0;
};

Info parse_screenshot_info(const std::string& line) {
    auto kv = parse_info(line);
    Info i;
    std::tie(i.vx, i.vy) = [&] {
        const auto s = kv.at("view");
        const auto c = s.find(',');
        return std::pair{std::stod(s.substr(0, c)), std::stod(s.substr(c + 1))};
    }();
    i.scale = std::stod(kv.at("scale"));
    std::tie(i.fw, i.fh) = pair_of(kv.at("frame"), 'x');
    std::tie(i.cx, i.cy) = pair_of(kv.at("cursor"), ',');
    std::tie(i.sw, i.sh) = pair_of(kv.at("shape_size"), 'x');
    std::tie(i.hx, i.hy) = pair_of(kv.at("hotspot"), ',');
    i.serial = std::stoull(kv.at("serial"));
    i.shape = std::stoull(kv.at("shape"));
    i.format = std::stoull(kv.at("format"));
    i.type = static_cast<std::uint32_t>(std::stoul(kv.at("type")));
    return i;
}

// The window pixel showing the centre of frame pixel (x, y).
std::pair<std::int64_t, std::int64_t> to_window(const Info& i, double x, double y) {
    return {static_cast<std::int64_t>(i.vx + (x + 0.5) * i.scale), static_cast<std::int64_t>(i.vy + (y + 0.5) * i.scale)};
}

int check_image(const pt::Options& opt, const std::vector<Rect>& rects) {
    const Ppm img = read_ppm(opt.str("ppm", ""));
    const Info info = parse_screenshot_info(opt.str("info", ""));
    int bad = 0;
    std::string detail;
    for (const Rect& r : rects) {
        for (const auto& [fx, fy] : {std::pair{r.x + r.w / 2, r.y + r.h / 2}, std::pair{r.x + 3, r.y + 3},
                                     std::pair{r.x + r.w - 4, r.y + r.h - 4}}) {
            const auto [wx, wy] = to_window(info, static_cast<double>(fx), static_cast<double>(fy));
            const std::uint32_t got = img.at(wx, wy);
            if (!close_to(got, r.rgb, 8)) {
                ++bad;
                detail = fmt::format("; frame ({}, {}) = window ({}, {}) is {:06x}, expected {:06x}", fx, fy, wx, wy, got, r.rgb);
            }
        }
    }
    report(bad == 0, "viewer-content",
           fmt::format("{}x{} screenshot of a {}x{} frame at scale {:.3f}: {} rectangles, 3 points each, {} wrong{}",
                       img.width, img.height, info.fw, info.fh, info.scale, rects.size(), bad, detail));
    if (opt.has("cursor")) {
        unsigned rgb = 0;
        long long ex = 0, ey = 0;
        std::sscanf(opt.str("cursor", "").c_str(), "%lld,%lld,%x", &ex, &ey, &rgb);
        // Every shape pixel's centre (the shape is solid): at (x - hotspot) scaled, in the window.
        int wrong = 0;
        std::string where;
        for (std::int64_t sy = 0; sy < info.sh; ++sy) {
            for (std::int64_t sx = 0; sx < info.sw; ++sx) {
                const auto [wx, wy] = to_window(info, static_cast<double>(info.cx - info.hx + sx), static_cast<double>(info.cy - info.hy + sy));
                if (!close_to(img.at(wx, wy), rgb, 8)) {
                    ++wrong;
                    where = fmt::format("; shape pixel ({}, {}) at window ({}, {}) is {:06x}", sx, sy, wx, wy, img.at(wx, wy));
                }
            }
        }
        // Just outside the shape, on the side away from the hotspot, the cursor must not be drawn.
        const auto [ox, oy] = to_window(info, static_cast<double>(info.cx - info.hx + info.sw + 2), static_cast<double>(info.cy - info.hy + info.sh + 2));
        const bool outside_clear = !close_to(img.at(ox, oy), rgb, 8);
        report(info.cx == ex && info.cy == ey && wrong == 0 && outside_clear && info.sw > 0, "viewer-cursor",
               fmt::format("drawn at {},{} (expected {},{}), {}x{} hotspot {},{}: {} of its pixels wrong, outside {}{}",
                           info.cx, info.cy, ex, ey, info.sw, info.sh, info.hx, info.hy, wrong,
                           outside_clear ? "clear" : "NOT clear", where));
    }
    return g_failed != 0 ? 1 : 0;
}

int check_pattern(const pt::Options& opt) {
    const Ppm img = read_ppm(opt.str("ppm", ""));
    const Info info = parse_screenshot_info(opt.str("info", ""));
    if (info.scale != 1.0 || info.vx != 0 || info.vy != 0 || info.fw != img.width || info.fh != img.height) {
        report(false, "pattern-content", "the test wants the window the frame's size (scale 1)");
        return 1;
    }
    const auto w = static_cast<std::uint32_t>(info.fw), h = static_cast<std::uint32_t>(info.fh);
    const std::uint32_t bpp = pane::bytes_per_pixel(static_cast<pane::FrameFormat>(info.format));
    std::vector<std::byte> frame(std::size_t{w} * h * bpp);
    pt::PatternWriter(std::size_t{w} * bpp).write(
        info.serial, w, h, [&](std::uint32_t y) { return frame.data() + std::size_t{y} * w * bpp; }, [](std::uint32_t) {});
    const auto rgb = pt::to_rgb(frame, static_cast<std::uint32_t>(info.format), w, h, w * bpp);
    const auto expected = [&](std::int64_t x, std::int64_t y) {
        const std::uint8_t* p = rgb->rgb.data() + (static_cast<std::size_t>(y) * w + static_cast<std::size_t>(x)) * 3;
        return (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
    };
    const std::int64_t x0 = info.cx - info.hx, y0 = info.cy - info.hy;
    const auto in_cursor = [&](std::int64_t x, std::int64_t y) {
        return x >= x0 && y >= y0 && x < x0 + info.sw && y < y0 + info.sh;
    };
    std::uint64_t wrong = 0, compared = 0;
    std::string detail;
    for (std::int64_t y = 0; y < info.fh; ++y) {
        for (std::int64_t x = 0; x < info.fw; ++x) {
            if (in_cursor(x, y)) continue;
            ++compared;
            if (img.at(x, y) != expected(x, y) && wrong++ == 0) {
                detail = fmt::format("; first at ({}, {}): {:06x}, expected {:06x}", x, y, img.at(x, y), expected(x, y));
            }
        }
    }
    report(wrong == 0 && compared > 0, "pattern-content",
           fmt::format("frame serial {} {}x{} format {}: {} pixels compared, {} wrong{}", info.serial, w, h, info.format,
                       compared, wrong, detail));
    // The cursor: pattern_shape(serial), composed over the frame (11.7), blended "over".
    const pt::PatternShape s = pt::pattern_shape(info.shape);
    pane::CursorShapeHeader hdr{};
    hdr.serial = info.shape;
    hdr.type = static_cast<std::uint32_t>(s.type);
    hdr.width = s.width;
    hdr.height = s.height;
    hdr.pitch = s.pitch;
    hdr.hotspot_x = s.hotspot_x;
    hdr.hotspot_y = s.hotspot_y;
    hdr.data_size = static_cast<std::uint32_t>(s.data.size());
    std::vector<std::uint8_t> composed;
    pane_tools::view::compose_cursor(hdr, s.data, [&](std::uint32_t x, std::uint32_t y) {
        const std::int64_t fx = x0 + x, fy = y0 + y;
        if (fx < 0 || fy < 0 || fx >= info.fw || fy >= info.fh) return pane_tools::view::Bgr{};
        const std::uint32_t e = expected(fx, fy);
        return pane_tools::view::Bgr{static_cast<std::uint8_t>(e), static_cast<std::uint8_t>(e >> 8), static_cast<std::uint8_t>(e >> 16)};
    }, composed);
    std::uint64_t cursor_wrong = 0, cursor_compared = 0, opaque = 0;
    std::string cdetail;
    for (std::int64_t y = 0; y < info.sh; ++y) {
        for (std::int64_t x = 0; x < info.sw; ++x) {
            const std::int64_t fx = x0 + x, fy = y0 + y;
            if (fx < 0 || fy < 0 || fx >= info.fw || fy >= info.fh) continue;
            const std::uint8_t* c = composed.data() + (static_cast<std::size_t>(y) * s.width + static_cast<std::size_t>(x)) * 4;
            const std::uint32_t under = expected(fx, fy);
            const auto ch = [&](int i, int shift) {
                return pane_tools::view::blend_over(c[i], static_cast<std::uint8_t>(under >> shift), c[3]);
            };
            const std::uint32_t want = (std::uint32_t{ch(2, 16)} << 16) | (std::uint32_t{ch(1, 8)} << 8) | ch(0, 0);
            ++cursor_compared;
            if (c[3] == 255) ++opaque;
            if (!close_to(img.at(fx, fy), want, 3) && cursor_wrong++ == 0) {
                cdetail = fmt::format("; first at shape ({}, {}): {:06x}, expected {:06x}", x, y, img.at(fx, fy), want);
            }
        }
    }
    const bool matches_serial = info.type == hdr.type && info.sw == s.width && info.sh == s.height &&
                                info.hx == s.hotspot_x && info.hy == s.hotspot_y;
    report(matches_serial && cursor_wrong == 0 && cursor_compared > 0, "pattern-cursor",
           fmt::format("shape serial {} type {} {}x{} hotspot {},{} at {},{}: {} pixels compared ({} drawn opaque), {} wrong{}",
                       info.shape, info.type, info.sw, info.sh, info.hx, info.hy, info.cx, info.cy, cursor_compared,
                       opaque, cursor_wrong, cdetail));
    return g_failed != 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc < 2) throw std::invalid_argument("usage: pane-x11-check frames|cursor|control|image|pattern [options]");
        const std::string mode = argv[1];
        // Options parses from argv[1]; the mode is its first positional. --rect may repeat.
        std::vector<Rect> rects;
        std::vector<char*> rest{argv[0]};
        for (int i = 2; i < argc; ++i) {
            if (std::string(argv[i]) == "--rect" && i + 1 < argc) {
                rects.push_back(parse_rect(argv[++i]));
            } else {
                rest.push_back(argv[i]);
            }
        }
        const pt::Options opt(static_cast<int>(rest.size()), rest.data(), {});
        if (mode == "frames") return check_frames(opt, rects);
        if (mode == "cursor") return check_cursor(opt);
        if (mode == "control") return check_control(opt);
        if (mode == "image") return check_image(opt, rects);
        if (mode == "pattern") return check_pattern(opt);
        throw std::invalid_argument("unknown mode " + mode);
    } catch (const std::exception& e) {
        fmt::print("FAIL checker: {}\n", e.what());
        return 1;
    }
}
