// SPDX-License-Identifier: MIT
// The X client of the two-display end-to-end test (scripts/pass-x11.sh): on display A it draws
// known content on the root window (a grey background and three coloured rectangles), gives the
// root a known cursor (16x16, magenta, hotspot 2,3), and then obeys commands read from stdin,
// one per line, answering "ok" (or the pointer position) on stdout:
//   warp X Y        move the pointer (WarpPointer)
//   anim N          move a 40x40 yellow square N steps along a line (small damage each step)
//   full SECONDS    repaint the whole screen with a new colour at ~60 Hz (a full-screen animation)
//   pointer         print "X Y", where the pointer is
//   quit
// `pane-x11-client --display :B warp X Y` only moves display B's pointer (into the viewer's
// window, to test the pointer path back through the control channel) and exits.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <xcb/xcb.h>

namespace {

// The content the checks expect (pass-x11.sh repeats these numbers).
constexpr std::uint32_t kBackground = 0x404040;
struct Box {
    std::int16_t x, y;
    std::uint16_t w, h;
    std::uint32_t rgb;
};
constexpr Box kBoxes[] = {{40, 40, 160, 120, 0xff0000}, {240, 60, 120, 160, 0x00ff00}, {400, 260, 200, 160, 0x0000ff}};
constexpr std::uint32_t kYellow = 0xffff00;

struct X {
    xcb_connection_t* c = nullptr;
    xcb_screen_t* screen = nullptr;
    xcb_gcontext_t gc = 0;
};

void fill(X& x, std::uint32_t rgb, std::int16_t rx, std::int16_t ry, std::uint16_t w, std::uint16_t h) {
    xcb_change_gc(x.c, x.gc, XCB_GC_FOREGROUND, &rgb);  // a TrueColor BGRX root: the pixel is 0xRRGGBB
    const xcb_rectangle_t r{rx, ry, w, h};
    xcb_poly_fill_rectangle(x.c, x.screen->root, x.gc, 1, &r);
}

void draw_scene(X& x) {
    fill(x, kBackground, 0, 0, x.screen->width_in_pixels, x.screen->height_in_pixels);
    for (const Box& b : kBoxes) fill(x, b.rgb, b.x, b.y, b.w, b.h);
}

// A 16x16 solid magenta cursor with its hotspot at (2, 3): a core cursor from two bitmaps,
// which the server hands to XFixes as ARGB.
void set_cursor(X& x) {
    const xcb_pixmap_t source = xcb_generate_id(x.c), mask = xcb_generate_id(x.c);
    xcb_create_pixmap(x.c, 1, source, x.screen->root, 16, 16);
    xcb_create_pixmap(x.c, 1, mask, x.screen->root, 16, 16);
    const xcb_gcontext_t gc1 = xcb_generate_id(x.c);
    const std::uint32_t one = 1;
    xcb_create_gc(x.c, gc1, source, XCB_GC_FOREGROUND, &one);
    const xcb_rectangle_t all{0, 0, 16, 16};
    xcb_poly_fill_rectangle(x.c, source, gc1, 1, &all);
    xcb_poly_fill_rectangle(x.c, mask, gc1, 1, &all);
    const xcb_cursor_t cursor = xcb_generate_id(x.c);
    xcb_create_cursor(x.c, cursor, source, mask, 0xffff, 0, 0xffff, 0, 0, 0, 2, 3);
    xcb_change_window_attributes(x.c, x.screen->root, XCB_CW_CURSOR, &cursor);
    xcb_free_gc(x.c, gc1);
    xcb_free_pixmap(x.c, source);
    xcb_free_pixmap(x.c, mask);
}

void warp(X& x, int px, int py) {
    xcb_warp_pointer(x.c, XCB_NONE, x.screen->root, 0, 0, 0, 0, static_cast<std::int16_t>(px), static_cast<std::int16_t>(py));
}

void sync(X& x) { std::free(xcb_get_input_focus_reply(x.c, xcb_get_input_focus(x.c), nullptr)); }

}  // namespace

int main(int argc, char** argv) {
    std::string display;
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--display") == 0 && i + 1 < argc) {
            display = argv[++i];
        } else {
            args.emplace_back(argv[i]);
        }
    }
    X x;
    int number = 0;
    x.c = xcb_connect(display.empty() ? nullptr : display.c_str(), &number);
    if (xcb_connection_has_error(x.c) != 0) {
        std::fprintf(stderr, "pane-x11-client: cannot connect to '%s'\n", display.c_str());
        return 1;
    }
    auto it = xcb_setup_roots_iterator(xcb_get_setup(x.c));
    for (int i = 0; i < number; ++i) xcb_screen_next(&it);
    x.screen = it.data;
    if (args.size() == 3 && args[0] == "warp") {
        warp(x, std::atoi(args[1].c_str()), std::atoi(args[2].c_str()));
        sync(x);
        xcb_disconnect(x.c);
        return 0;
    }
    if (args.size() != 1 || args[0] != "draw") {
        std::fprintf(stderr, "usage: pane-x11-client [--display D] draw | warp X Y\n");
        return 2;
    }
    x.gc = xcb_generate_id(x.c);
    const std::uint32_t no_exposures = 0;
    xcb_create_gc(x.c, x.gc, x.screen->root, XCB_GC_GRAPHICS_EXPOSURES, &no_exposures);
    draw_scene(x);
    set_cursor(x);
    sync(x);
    std::cout << "ready" << std::endl;

    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream in(line);
        std::string cmd;
        in >> cmd;
        if (cmd == "warp") {
            int px = 0, py = 0;
            in >> px >> py;
            warp(x, px, py);
        } else if (cmd == "anim") {
            int steps = 0;
            in >> steps;
            // Along the bottom-left, over the background only: each step erases the old square.
            for (int i = 0; i < steps; ++i) {
                const auto sx = static_cast<std::int16_t>(20 + (i % 30) * 10), sy = static_cast<std::int16_t>(300);
                if (i > 0) {
                    const auto ox = static_cast<std::int16_t>(20 + ((i - 1) % 30) * 10);
                    fill(x, kBackground, ox, sy, 40, 40);
                }
                fill(x, kYellow, sx, sy, 40, 40);
                sync(x);
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            const auto lx = static_cast<std::int16_t>(20 + ((steps - 1) % 30) * 10);
            fill(x, kBackground, lx, 300, 40, 40);
        } else if (cmd == "full") {
            double seconds = 0;
            in >> seconds;
            const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
            auto next = std::chrono::steady_clock::now();
            for (std::uint32_t i = 0; std::chrono::steady_clock::now() < end; ++i) {
                fill(x, (i * 0x050301u) & 0xffffffu, 0, 0, x.screen->width_in_pixels, x.screen->height_in_pixels);
                sync(x);
                next += std::chrono::microseconds(16667);
                std::this_thread::sleep_until(next);
            }
            draw_scene(x);
        } else if (cmd == "pointer") {
            auto* r = xcb_query_pointer_reply(x.c, xcb_query_pointer(x.c, x.screen->root), nullptr);
            std::cout << (r ? r->root_x : -1) << " " << (r ? r->root_y : -1) << std::endl;
            std::free(r);
            continue;
        } else if (cmd == "quit") {
            break;
        } else if (cmd.empty()) {
            continue;
        }
        sync(x);
        std::cout << "ok" << std::endl;
    }
    xcb_disconnect(x.c);
    return 0;
}
