// SPDX-License-Identifier: MIT
// pane-view: the SDL2 viewer. It attaches to a Pane display region (pane-produce's, from the
// test pattern or an X display), shows the latest verified frame scaled to its window through a
// streaming texture (only the damaged rectangles are uploaded when a frame follows the one shown),
// draws the cursor itself from the cursor channels so pointer motion never waits for a frame,
// and sends its window size and, when the mouse moves over the picture, the pointer position
// back through the control channel. A producer that stops or restarts shows "waiting for
// producer" until one is back. Keys: Esc/Q quit, F1/Tab status overlay, F5 full-frame request.
// For tests: --screenshot FILE --after-frames N writes what it rendered (cursor included).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <SDL.h>
#include <fmt/core.h>

#include <pane/pane.hpp>

#include "cli.hpp"
#include "display_spec.hpp"
#include "image_write.hpp"
#include "region_source.hpp"
#include "view/cursor.hpp"
#include "view/font.hpp"
#include "view/receiver.hpp"

using namespace std::chrono_literals;
namespace pt = pane_tools;
namespace pv = pane_tools::view;
using pane::Clock;

namespace {

constexpr const char* kHelp = R"(usage: pane-view [options]

Shows a Pane display region (made by pane-produce) in a window: the latest frame scaled to the
window, the cursor drawn from the cursor channels, a status overlay on demand. Sends the window
size and the pointer position (when the mouse moves over the picture) to the producer. Waits for
a producer, and for the next one when it stops or restarts.
  --shm NAME            POSIX shm object NAME                             (default pane)
  --file PATH           a file or device holding the region, instead of --shm
  --ivshmem [ADDR]      inside a Linux guest: the IVSHMEM device's BAR 2
  --size BYTES          with --file/--ivshmem: bytes to map if the object cannot say
  --window WxH          initial window size                             (default 1280x720)
  --view-only           send no pointer positions
  --overlay             start with the status overlay shown
  --duration SECONDS    quit after this long; 0 runs until closed         (default 0)
  --screenshot FILE     write what was rendered (.png or .ppm), then quit, once
                        --after-frames frames were shown (default 1) in the
                        --after-attaches-th attachment (default 1) and a cursor
                        position and shape are known
  --json                print the summary as one JSON object
  --help                this text
Keys: Esc or Q quit, F1 or Tab status overlay, F5 ask the producer for a whole frame.
Environment: SDL_VIDEODRIVER, SDL_RENDER_DRIVER (e.g. x11 and software under Xvfb).
Exit status: 0 after a clean run, 1 on an error (no window, screenshot not written), 2 on usage.
)";

std::uint32_t g_wake_event = 0;
std::atomic<bool> g_wake_pending{false};

// Any thread: wakes the render thread, at most one wake-up queued.
void wake() {
    if (g_wake_pending.exchange(true, std::memory_order_acq_rel)) return;
    SDL_Event e{};
    e.type = g_wake_event;
    SDL_PushEvent(&e);
}

double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// One attachment: the mapping, the session, the four channels and the two reader threads.
// Destroyed in the reverse order: threads joined first, then handles, session, mapping.
struct Link {
    pane::map::Mapping mapping;
    std::optional<pane::ConsumerSession> session;
    pane::FrameConsumer frames;
    pane::CursorShapeConsumer shapes;
    pane::CursorPositionConsumer positions;
    std::optional<pane::ControlSender> control;
    std::atomic<bool> stop{false};
    std::unique_ptr<pv::FrameWorker> frame_worker;
    std::unique_ptr<pv::CursorWorker> cursor_worker;
    std::thread frame_thread, cursor_thread;

    explicit Link(pane::map::Mapping m) : mapping(std::move(m)) {}
    ~Link() {
        stop.store(true, std::memory_order_relaxed);
        if (frame_thread.joinable()) frame_thread.join();
        if (cursor_thread.joinable()) cursor_thread.join();
    }
};

// Maps and attaches once; nullptr and `why` if no producer is ready. A producer found stale
// (same epoch, heartbeat not moving) is skipped until its heartbeat moves or a new one starts.
std::unique_ptr<Link> try_attach(const pt::RegionSource& source, std::uint64_t stale_epoch, std::uint64_t stale_beat,
                                 pv::Picture& picture, pv::CursorState& cursor, std::string& why) {
    auto mapping = source.map_existing();
    if (!mapping) {
        why = fmt::format("{}: {}", source.label(), pane::describe(mapping.error()));
        return nullptr;
    }
    auto link = std::make_unique<Link>(std::move(*mapping));
    auto session = pane::ConsumerSession::attach(link->mapping.bytes());
    if (!session) {
        why = fmt::format("{}: {}", source.label(), pane::describe(session.error()));
        return nullptr;
    }
    if (stale_epoch != 0 && session->epoch() == stale_epoch && session->producer_heartbeat() == stale_beat) {
        why = "the producer's heartbeat is still stopped";
        return nullptr;
    }
    link->session.emplace(std::move(session.value()));
    auto frames = link->session->frames(pt::kFramesChannel);
    auto shapes = link->session->cursor_shape(pt::kCursorShapeChannel);
    auto positions = link->session->cursor_position(pt::kCursorPositionChannel);
    auto control = link->session->control(pt::kControlChannel);
    if (!frames || !shapes || !positions) {
        why = "the region has no pane-produce display channels";
        return nullptr;
    }
    link->frames = std::move(frames.value());
    link->shapes = std::move(shapes.value());
    link->positions = std::move(positions.value());
    if (control) link->control.emplace(std::move(control.value()));  // optional (protocol 3.5)
    link->frame_worker = std::make_unique<pv::FrameWorker>(link->frames, picture, wake, link->stop);
    link->cursor_worker = std::make_unique<pv::CursorWorker>(link->positions, link->shapes, cursor, wake, link->stop);
    link->frame_thread = std::thread([w = link->frame_worker.get()] { w->run(); });
    link->cursor_thread = std::thread([w = link->cursor_worker.get()] { w->run(); });
    return link;
}

struct ViewRect {
    float x = 0, y = 0, scale = 1;
    std::uint32_t width = 0, height = 0;  // the frame's
};

// The frame scaled to fit the window, aspect kept, centred.
ViewRect fit(int win_w, int win_h, std::uint32_t w, std::uint32_t h) {
    ViewRect v;
    v.width = w;
    v.height = h;
    if (w == 0 || h == 0) return v;
    v.scale = std::min(static_cast<float>(win_w) / static_cast<float>(w), static_cast<float>(win_h) / static_cast<float>(h));
    v.x = (static_cast<float>(win_w) - static_cast<float>(w) * v.scale) / 2;
    v.y = (static_cast<float>(win_h) - static_cast<float>(h) * v.scale) / 2;
    return v;
}

std::pair<int, int> parse_size(const std::string& s) {
    const auto x = s.find('x');
    if (x == std::string::npos) throw std::invalid_argument("--window wants WxH");
    const int w = std::stoi(s.substr(0, x)), h = std::stoi(s.substr(x + 1));
    if (w < 1 || h < 1 || w > 16384 || h > 16384) throw std::invalid_argument("--window wants WxH, each 1..16384");
    return {w, h};
}

int run(int argc, char** argv) {
    pt::Options opt(argc, argv, {"json", "help", "wc", "view-only", "overlay"}, {"ivshmem"});
    opt.require_known({"shm", "file", "size", "ivshmem", "wc", "window", "view-only", "overlay", "duration",
                       "screenshot", "after-frames", "after-attaches", "json", "help"});
    if (!opt.positional().empty()) throw std::invalid_argument("unexpected argument '" + opt.positional()[0] + "'");
    if (opt.has("help")) {
        fmt::print("{}", kHelp);
        return 0;
    }
    pt::RegionSource source = pt::parse_region_source(opt);
    source.size = opt.num("size", 0);
    const auto [win_w0, win_h0] = parse_size(opt.str("window", "1280x720"));
    const bool view_only = opt.has("view-only");
    bool overlay = opt.has("overlay");
    const auto duration_s = opt.num("duration", 0);
    const std::string screenshot = opt.str("screenshot", "");
    const auto after_frames = std::max<std::uint64_t>(1, opt.num("after-frames", 1));
    const auto after_attaches = std::max<std::uint64_t>(1, opt.num("after-attaches", 1));
    const bool json = opt.has("json");

    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fmt::print(stderr, "pane-view: SDL_Init: {}\n", SDL_GetError());
        return 1;
    }
    struct Quit {
        ~Quit() { SDL_Quit(); }
    } quit_sdl;
    g_wake_event = SDL_RegisterEvents(1);
    SDL_Window* window = SDL_CreateWindow(("pane-view: " + source.label()).c_str(), SDL_WINDOWPOS_UNDEFINED,
                                          SDL_WINDOWPOS_UNDEFINED, win_w0, win_h0, SDL_WINDOW_RESIZABLE);
    if (window == nullptr) {
        fmt::print(stderr, "pane-view: cannot open a window: {}\n", SDL_GetError());
        return 1;
    }
    SDL_Renderer* renderer = SDL_CreateRenderer(window, -1, 0);
    if (renderer == nullptr) {
        fmt::print(stderr, "pane-view: cannot create a renderer: {}\n", SDL_GetError());
        return 1;
    }
    SDL_RendererInfo rinfo{};
    SDL_GetRendererInfo(renderer, &rinfo);
    SDL_Texture* frame_tex = nullptr;
    SDL_Texture* cursor_tex = nullptr;
    int cursor_tex_w = 0, cursor_tex_h = 0;

    pv::Picture picture;
    pv::CursorState cursor;
    std::unique_ptr<Link> link;
    std::uint64_t attaches = 0, stale_epoch = 0, stale_beat = 0;
    std::uint64_t frames_before_attach = 0;  // picture.frames when this attachment began
    std::string waiting_why = "not attached yet";
    auto next_attach = Clock::now();
    auto next_tick = Clock::now();
    const auto t0 = Clock::now();
    const double cpu0 = cpu_seconds();
    const auto end = duration_s == 0 ? Clock::time_point::max() : t0 + std::chrono::seconds(duration_s);
    bool running = true, need_render = true, want_full = false;
    bool pointer_pending = false;  // (a plain pair: GCC 12 misreads an optional one as uninitialised)
    std::int32_t pointer_x = 0, pointer_y = 0;
    std::uint64_t pointer_sent = 0, presents = 0;
    int win_w = win_w0, win_h = win_h0;
    bool send_window = true;
    std::string failure;
    // Overlay figures, refreshed four times a second.
    struct Sample {
        Clock::time_point t;
        std::uint64_t frames, cursor;
        double cpu;
    };
    std::deque<Sample> history;
    std::string overlay_text;
    auto next_overlay = Clock::now();
    // The cursor texture and what it was composed for.
    pane::CursorPosition drawn_pos{};
    std::uint64_t drawn_shape = 0, drawn_frames = 0;
    bool cursor_visible = false;
    ViewRect view;
    pane::FrameDescriptor uploaded{};  // the frame the texture shows
    std::uint64_t uploaded_frames = 0;  // picture.frames when it was uploaded
    pane::CursorShapeHeader drawn_header{};  // the shape the cursor texture shows

    while (running) {
        // Sleep until something happens: SDL input, a reader's wake-up, or 10 ms (tick, attach).
        SDL_Event e;
        if (SDL_WaitEventTimeout(&e, need_render ? 1 : 10) != 0) {
            do {
                if (e.type == g_wake_event) {
                    g_wake_pending.store(false, std::memory_order_release);
                    need_render = true;
                } else if (e.type == SDL_QUIT) {
                    running = false;
                } else if (e.type == SDL_KEYDOWN) {
                    const auto k = e.key.keysym.sym;
                    if (k == SDLK_ESCAPE || k == SDLK_q) running = false;
                    if (k == SDLK_F1 || k == SDLK_TAB) overlay = !overlay;
                    if (k == SDLK_F5) want_full = true;
                    need_render = true;
                } else if (e.type == SDL_WINDOWEVENT) {
                    if (e.window.event == SDL_WINDOWEVENT_SIZE_CHANGED) {
                        win_w = e.window.data1;
                        win_h = e.window.data2;
                        send_window = true;
                    }
                    need_render = true;
                } else if (e.type == SDL_MOUSEMOTION && !view_only && view.width != 0) {
                    const float fx = (static_cast<float>(e.motion.x) - view.x) / view.scale;
                    const float fy = (static_cast<float>(e.motion.y) - view.y) / view.scale;
                    if (fx >= 0 && fy >= 0 && fx < static_cast<float>(view.width) && fy < static_cast<float>(view.height)) {
                        pointer_x = static_cast<std::int32_t>(fx);
                        pointer_y = static_cast<std::int32_t>(fy);
                        pointer_pending = true;
                    }
                }
            } while (SDL_PollEvent(&e) != 0);
        }
        auto now = Clock::now();
        if (now >= end) break;

        // Attach, tick, and notice the end of an attachment.
        if (link) {
            bool over = link->frame_worker->gone() || link->cursor_worker->gone();
            if (now >= next_tick) {
                next_tick = now + 10ms;
                const auto s = link->session->tick(now);
                if (s != pane::SessionStatus::ok) {
                    over = true;
                    waiting_why = std::string(pane::describe(s));
                    if (s == pane::SessionStatus::producer_stale) {
                        stale_epoch = link->session->epoch();
                        stale_beat = link->session->producer_heartbeat();
                    }
                }
            }
            if (over) {
                if (waiting_why.empty()) waiting_why = "the attachment ended";
                fmt::print(stderr, "pane-view: {}; waiting for a producer\n", waiting_why);
                link.reset();
                next_attach = now + 100ms;
                need_render = true;
                SDL_ShowCursor(SDL_ENABLE);
            }
        }
        if (!link && now >= next_attach) {
            std::string why;
            link = try_attach(source, stale_epoch, stale_beat, picture, cursor, why);
            if (link) {
                ++attaches;
                {
                    std::lock_guard g(picture.lock);
                    frames_before_attach = picture.frames;
                }
                fmt::print(stderr, "pane-view: attached to {} (epoch {}, slot {})\n", source.label(),
                           link->session->epoch(), link->session->slot_index());
                waiting_why.clear();
                send_window = true;
                {
                    std::lock_guard g(cursor.lock);
                    cursor.have_position = cursor.have_shape = false;
                }
                if (!view_only) SDL_ShowCursor(SDL_DISABLE);  // the producer's cursor is drawn instead
            } else {
                waiting_why = why;
                next_attach = now + 100ms;
            }
            need_render = true;
        }
        // Control: the latest pointer position wins; `full` keeps it for the next round.
        if (link && link->control) {
            if (send_window && link->control->send_window_size(static_cast<std::uint32_t>(win_w),
                                                                static_cast<std::uint32_t>(win_h)) != pane::ControlStatus::full) {
                send_window = false;
            }
            if (pointer_pending && link->control->send_cursor_position(pointer_x, pointer_y) != pane::ControlStatus::full) {
                pointer_pending = false;
                ++pointer_sent;
            }
            if (want_full && link->control->request_full_frame() != pane::ControlStatus::full) want_full = false;
        }
        if (overlay && now >= next_overlay) need_render = true;
        if (!need_render) continue;
        need_render = false;

        // Upload what changed in verified frames, and compose the cursor against the same frame
        // (one lock: the Picture cannot move on in between).
        {
            std::lock_guard g(picture.lock);
            uploaded = picture.shown;
            uploaded_frames = picture.frames;
            if (picture.resized || (frame_tex == nullptr && picture.width != 0)) {
                if (frame_tex != nullptr) SDL_DestroyTexture(frame_tex);
                frame_tex = SDL_CreateTexture(renderer, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING,
                                              static_cast<int>(picture.width), static_cast<int>(picture.height));
                picture.resized = false;
                picture.dirty_all = true;
            }
            if (frame_tex != nullptr && picture.dirty_all) {
                SDL_UpdateTexture(frame_tex, nullptr, picture.pixels.data(), static_cast<int>(picture.width * 4));
            } else if (frame_tex != nullptr) {
                for (const auto& r : picture.dirty.rects()) {
                    const SDL_Rect rect{static_cast<int>(r.x), static_cast<int>(r.y), static_cast<int>(r.width),
                                        static_cast<int>(r.height)};
                    SDL_UpdateTexture(frame_tex, &rect, picture.pixels.data() + std::size_t{r.y} * picture.width + r.x,
                                      static_cast<int>(picture.width * 4));
                }
            }
            picture.dirty_all = false;
            picture.dirty.clear();
            view = fit(win_w, win_h, picture.width, picture.height);
            // The cursor: recomposed when its shape changes, and for shapes that read the screen,
            // when it moves or a frame arrives.
            std::lock_guard cg(cursor.lock);
            cursor_visible = link && cursor.have_position && cursor.have_shape && cursor.position.visible;
            if (cursor.have_shape && cursor.have_position) {
                const auto& h = cursor.shape.header;
                const bool moved = cursor.position.x != drawn_pos.x || cursor.position.y != drawn_pos.y;
                if (h.serial != drawn_shape || (pv::cursor_reads_screen(h) && (moved || picture.frames != drawn_frames))) {
                    std::vector<std::uint8_t> img;
                    const std::int64_t ox = std::int64_t{cursor.position.x} - h.hotspot_x;
                    const std::int64_t oy = std::int64_t{cursor.position.y} - h.hotspot_y;
                    pv::compose_cursor(h, cursor.shape.data, [&](std::uint32_t x, std::uint32_t y) {
                        const std::int64_t fx = ox + x, fy = oy + y;
                        if (fx < 0 || fy < 0 || fx >= picture.width || fy >= picture.height) return pv::Bgr{};
                        const std::uint32_t p = picture.pixels[static_cast<std::size_t>(fy) * picture.width + static_cast<std::size_t>(fx)];
                        return pv::Bgr{static_cast<std::uint8_t>(p), static_cast<std::uint8_t>(p >> 8),
                                       static_cast<std::uint8_t>(p >> 16)};
                    }, img);
                    if (cursor_tex == nullptr || cursor_tex_w != static_cast<int>(h.width) || cursor_tex_h != static_cast<int>(h.height)) {
                        if (cursor_tex != nullptr) SDL_DestroyTexture(cursor_tex);
                        cursor_tex_w = static_cast<int>(h.width);
                        cursor_tex_h = static_cast<int>(h.height);
                        cursor_tex = SDL_CreateTexture(renderer, SDL_PIXELFORMAT_ARGB8888, SDL_TEXTUREACCESS_STREAMING,
                                                       cursor_tex_w, cursor_tex_h);
                        SDL_SetTextureBlendMode(cursor_tex, SDL_BLENDMODE_BLEND);
                    }
                    SDL_UpdateTexture(cursor_tex, nullptr, img.data(), cursor_tex_w * 4);
                    drawn_shape = h.serial;
                    drawn_header = h;
                    drawn_frames = picture.frames;
                }
                drawn_pos = cursor.position;
                cursor.changed = false;
            }
        }

        SDL_SetRenderDrawColor(renderer, 0, 0, 0, 255);
        SDL_RenderClear(renderer);
        if (frame_tex != nullptr && link) {
            const SDL_FRect dst{view.x, view.y, static_cast<float>(view.width) * view.scale,
                                static_cast<float>(view.height) * view.scale};
            SDL_RenderCopyF(renderer, frame_tex, nullptr, &dst);
            if (cursor_visible && cursor_tex != nullptr) {
                // One shape pixel is one frame pixel (protocol 12.7): scaled with the frame about the hotspot.
                const auto& h = drawn_header;
                const SDL_FRect c{view.x + (static_cast<float>(drawn_pos.x) - static_cast<float>(h.hotspot_x)) * view.scale,
                                  view.y + (static_cast<float>(drawn_pos.y) - static_cast<float>(h.hotspot_y)) * view.scale,
                                  static_cast<float>(cursor_tex_w) * view.scale, static_cast<float>(cursor_tex_h) * view.scale};
                SDL_RenderCopyF(renderer, cursor_tex, nullptr, &c);
            }
        }
        const auto fill = [&](int x, int y, int w, int h) {
            const SDL_Rect r{x, y, w, h};
            SDL_RenderFillRect(renderer, &r);
        };
        if (!link || frame_tex == nullptr) {
            const std::string text = "WAITING FOR PRODUCER\n" + source.label() + "\n" + waiting_why;
            const auto [tw, th] = pv::text_size(text, 2);
            SDL_SetRenderDrawColor(renderer, 220, 220, 220, 255);
            pv::draw_text(text, (win_w - tw) / 2, (win_h - th) / 2, 2, fill);
        }
        if (overlay) {
            if (now >= next_overlay) {
                next_overlay = now + 250ms;
                std::uint64_t frames = 0, updates = 0, dropped = 0, skipped = 0, torn = 0, stalled = 0;
                double lat = 0;
                std::uint32_t fw = 0, fh = 0;
                {
                    std::lock_guard g(picture.lock);
                    frames = picture.frames;
                    dropped = picture.shown.frames_dropped;
                    skipped = picture.skipped;
                    torn = picture.torn;
                    stalled = picture.stalled;
                    fw = picture.width;
                    fh = picture.height;
                    if (!picture.latency_ms.empty()) {
                        std::vector<double> l(picture.latency_ms.begin(), picture.latency_ms.end());
                        std::nth_element(l.begin(), l.begin() + static_cast<std::ptrdiff_t>(l.size() / 2), l.end());
                        lat = l[l.size() / 2];
                    }
                }
                {
                    std::lock_guard g(cursor.lock);
                    updates = cursor.updates;
                }
                history.push_back({now, frames, updates, cpu_seconds()});
                while (history.size() > 5) history.pop_front();
                const double dt = std::max(1e-9, std::chrono::duration<double>(history.back().t - history.front().t).count());
                overlay_text = fmt::format(
                    "FPS {:.1f}  LATENCY P50 {:.2f} MS\nDROPPED {}  SKIPPED {}  TORN {}  STALLED {}\nFRAME {}X{}  CURSOR {:.0f}/S  CPU {:.0f}%\n{}  ATTACHES {}",
                    static_cast<double>(history.back().frames - history.front().frames) / dt, lat, dropped, skipped,
                    torn, stalled, fw, fh, static_cast<double>(history.back().cursor - history.front().cursor) / dt,
                    100.0 * (history.back().cpu - history.front().cpu) / dt, source.label(), attaches);
            }
            const auto [tw, th] = pv::text_size(overlay_text, 2);
            SDL_SetRenderDrawBlendMode(renderer, SDL_BLENDMODE_BLEND);
            SDL_SetRenderDrawColor(renderer, 0, 0, 0, 170);
            const SDL_Rect bg{4, 4, tw + 12, th + 10};
            SDL_RenderFillRect(renderer, &bg);
            SDL_SetRenderDrawColor(renderer, 255, 255, 80, 255);
            pv::draw_text(overlay_text, 10, 10, 2, fill);
            SDL_SetRenderDrawBlendMode(renderer, SDL_BLENDMODE_NONE);
        }

        // The screenshot: what this render drew, before it is presented.
        if (!screenshot.empty() && link && attaches >= after_attaches && cursor_visible) {
            const std::uint64_t frames = uploaded_frames;
            const pane::FrameDescriptor& shown = uploaded;
            if (frames - frames_before_attach >= after_frames) {
                pt::RgbImage img;
                img.width = static_cast<std::uint32_t>(win_w);
                img.height = static_cast<std::uint32_t>(win_h);
                img.rgb.resize(std::size_t{img.width} * img.height * 3);
                if (SDL_RenderReadPixels(renderer, nullptr, SDL_PIXELFORMAT_RGB24, img.rgb.data(), win_w * 3) != 0 ||
                    !pt::write_image(screenshot, img)) {
                    failure = fmt::format("cannot write the screenshot {}: {}", screenshot, SDL_GetError());
                } else {
                    const auto& h = drawn_header;
                    fmt::print("pane-view screenshot: file={} window={}x{} view={:.3f},{:.3f} scale={:.6f} "
                               "frame={}x{} format={} serial={} frames={} attaches={} epoch={} cursor={},{} visible={} "
                               "shape={} type={} shape_size={}x{} hotspot={},{}\n",
                               screenshot, win_w, win_h, view.x, view.y, view.scale, shown.width, shown.height,
                               shown.format, shown.serial, frames - frames_before_attach, attaches,
                               link->session->epoch(), drawn_pos.x, drawn_pos.y,
                               drawn_pos.visible ? 1 : 0, h.serial, h.type, h.width, h.height, h.hotspot_x, h.hotspot_y);
                    std::fflush(stdout);
                }
                running = false;
            }
        }
        SDL_RenderPresent(renderer);
        ++presents;
    }

    const auto t1 = Clock::now();
    const double cpu = cpu_seconds() - cpu0;
    link.reset();
    if (cursor_tex != nullptr) SDL_DestroyTexture(cursor_tex);
    if (frame_tex != nullptr) SDL_DestroyTexture(frame_tex);
    SDL_DestroyRenderer(renderer);
    SDL_DestroyWindow(window);

    const double seconds = std::max(1e-9, std::chrono::duration<double>(t1 - t0).count());
    std::vector<std::uint64_t> lat;
    std::uint64_t frames = 0, skipped = 0, torn = 0, stalled = 0, updates = 0, shapes = 0;
    {
        std::lock_guard g(picture.lock);
        for (const double l : picture.latency_ms) lat.push_back(static_cast<std::uint64_t>(l * 1e6));
        frames = picture.frames;
        skipped = picture.skipped;
        torn = picture.torn;
        stalled = picture.stalled;
    }
    {
        std::lock_guard g(cursor.lock);
        updates = cursor.updates;
        shapes = cursor.shape_changes;
    }
    const pt::Percentiles p = pt::percentiles(lat);
    const bool ok = failure.empty();
    if (json) {
        fmt::print("{{\"renderer\":\"{}\",\"frames\":{},\"fps\":{:.2f},\"latency_ms\":{{\"samples\":{},\"p50\":{:.3f},"
                   "\"p90\":{:.3f},\"p99\":{:.3f}}},\"skipped\":{},\"torn\":{},\"stalled\":{},\"presents\":{},"
                   "\"cursor_updates\":{},\"shapes\":{},\"pointer_sent\":{},\"attaches\":{},\"cpu_percent\":{:.1f},"
                   "\"duration_s\":{:.3f},\"error\":{},\"ok\":{}}}\n",
                   rinfo.name, frames, static_cast<double>(frames) / seconds, lat.size(), p.p50 / 1e6, p.p90 / 1e6,
                   p.p99 / 1e6, skipped, torn, stalled, presents, updates, shapes, pointer_sent, attaches,
                   100.0 * cpu / seconds, seconds, ok ? std::string("null") : pt::json_string(failure), ok);
    } else if (screenshot.empty() || !ok) {
        fmt::print("Pane viewer on {} ({} renderer): {} frames in {:.1f} s ({:.1f} fps), latency p50 {:.2f} ms p99 {:.2f} ms "
                   "({} samples, capture start to verified copy), {} skipped, {} torn, {} stalled, {} presents, "
                   "{} cursor updates, {} shapes, {} pointer positions sent, {} attaches, CPU {:.1f}%{}\n",
                   source.label(), rinfo.name, frames, seconds, static_cast<double>(frames) / seconds, p.p50 / 1e6,
                   p.p99 / 1e6, lat.size(), skipped, torn, stalled, presents, updates, shapes, pointer_sent, attaches,
                   100.0 * cpu / seconds, ok ? "" : "; FAILED: " + failure);
    }
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        fmt::print(stderr, "pane-view: {}\n{}", e.what(), kHelp);
        return 2;
    }
}
