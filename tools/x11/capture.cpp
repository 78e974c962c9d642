// SPDX-License-Identifier: MIT
// The xcb side of the X11 capture source (capture.hpp): connecting, checking the extensions and
// the root visual, MIT-SHM screen grabs, damage and RandR events, XFixes cursor images, the
// pointer position and XTest warps.
#include "capture.hpp"

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <utility>

#include <sys/ipc.h>
#include <sys/shm.h>

#include <xcb/damage.h>
#include <xcb/randr.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>
#include <xcb/xfixes.h>
#include <xcb/xtest.h>

namespace pane_tools::x11 {
namespace {

// A reply or error that frees itself.
template <class T>
struct Owned {
    T* p = nullptr;
    explicit Owned(T* q) : p(q) {}
    ~Owned() { std::free(p); }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    T* operator->() const { return p; }
    explicit operator bool() const { return p != nullptr; }
};

xcb_connection_t* connect(const std::string& display, xcb_screen_t*& screen, std::string& why) {
    int number = 0;
    xcb_connection_t* c = xcb_connect(display.empty() ? nullptr : display.c_str(), &number);
    if (xcb_connection_has_error(c) != 0) {
        why = "cannot connect to X display '" + (display.empty() ? std::string(std::getenv("DISPLAY") ? std::getenv("DISPLAY") : "")
                                                                 : display) + "'";
        xcb_disconnect(c);
        return nullptr;
    }
    xcb_screen_iterator_t it = xcb_setup_roots_iterator(xcb_get_setup(c));
    for (int i = 0; i < number && it.rem > 0; ++i) xcb_screen_next(&it);
    if (it.rem == 0) {
        why = "the X display has no screen " + std::to_string(number);
        xcb_disconnect(c);
        return nullptr;
    }
    screen = it.data;
    return c;
}

// The extension's first event code, after checking it is there (its version is negotiated by
// the caller, as each extension requires before use).
bool extension(xcb_connection_t* c, xcb_extension_t* ext, const char* name, std::uint8_t& first_event, std::string& why) {
    const xcb_query_extension_reply_t* r = xcb_get_extension_data(c, ext);
    if (r == nullptr || r->present == 0) {
        why = std::string("the X server lacks the ") + name + " extension";
        return false;
    }
    first_event = r->first_event;
    return true;
}

// Pointer events carry the last request the server processed when it sent them: before the
// grab's GetImage (so the drawing is in the image) iff its low 16 bits precede the request's.
bool sent_before(std::uint16_t event_sequence, std::uint32_t request_sequence) {
    return static_cast<std::int16_t>(static_cast<std::uint16_t>(event_sequence - static_cast<std::uint16_t>(request_sequence))) < 0;
}

}  // namespace

// ---- ScreenGrabber ------------------------------------------------------------------------

std::unique_ptr<ScreenGrabber> ScreenGrabber::open(const std::string& display, std::string& why) {
    std::unique_ptr<ScreenGrabber> g(new ScreenGrabber());
    xcb_screen_t* screen = nullptr;
    g->conn_ = connect(display, screen, why);
    if (g->conn_ == nullptr) return nullptr;
    xcb_connection_t* c = g->conn_;
    g->root_ = screen->root;
    g->size_ = {screen->width_in_pixels, screen->height_in_pixels};

    // The root's pixels must be 32-bit BGRX (depth 24 or 32, red in bits 16..23) on a
    // little-endian server: frame format bgr_32 as the server hands them out.
    const xcb_setup_t* setup = xcb_get_setup(c);
    bool bpp32 = false;
    for (auto it = xcb_setup_pixmap_formats_iterator(setup); it.rem > 0; xcb_format_next(&it)) {
        if (it.data->depth == screen->root_depth) bpp32 = it.data->bits_per_pixel == 32;
    }
    bool masks = false;
    for (auto d = xcb_screen_allowed_depths_iterator(screen); d.rem > 0; xcb_depth_next(&d)) {
        for (auto v = xcb_depth_visuals_iterator(d.data); v.rem > 0; xcb_visualtype_next(&v)) {
            if (v.data->visual_id == screen->root_visual) {
                masks = v.data->red_mask == 0xff0000 && v.data->green_mask == 0xff00 && v.data->blue_mask == 0xff;
            }
        }
    }
    if (!bpp32 || !masks || setup->image_byte_order != XCB_IMAGE_ORDER_LSB_FIRST) {
        why = "the root window's visual is not 32-bit little-endian BGRX (depth 24 or 32); only that is supported";
        return nullptr;
    }

    std::uint8_t unused = 0;
    if (!extension(c, &xcb_shm_id, "MIT-SHM", unused, why) ||
        !extension(c, &xcb_damage_id, "DAMAGE", g->damage_event_, why) ||
        !extension(c, &xcb_xfixes_id, "XFIXES", unused, why) ||
        !extension(c, &xcb_randr_id, "RANDR", g->randr_event_, why) ||
        !extension(c, &xcb_test_id, "XTEST", unused, why)) {
        return nullptr;
    }
    // DAMAGE needs XFixes' version negotiated first (its regions), and both their own.
    Owned xf(xcb_xfixes_query_version_reply(c, xcb_xfixes_query_version(c, 4, 0), nullptr));
    Owned dm(xcb_damage_query_version_reply(c, xcb_damage_query_version(c, 1, 1), nullptr));
    Owned rr(xcb_randr_query_version_reply(c, xcb_randr_query_version(c, 1, 2), nullptr));
    Owned sh(xcb_shm_query_version_reply(c, xcb_shm_query_version(c), nullptr));
    if (!xf || !dm || !rr || !sh) {
        why = "the X server refused an extension version query";
        return nullptr;
    }
    // Raw rectangles: one event per drawing operation, no DamageSubtract round trips.
    g->damage_ = xcb_generate_id(c);
    xcb_damage_create(c, g->damage_, g->root_, XCB_DAMAGE_REPORT_LEVEL_RAW_RECTANGLES);
    xcb_randr_select_input(c, g->root_, XCB_RANDR_NOTIFY_MASK_SCREEN_CHANGE);
    if (!g->attach_segment(why)) return nullptr;
    xcb_flush(c);
    return g;
}

ScreenGrabber::~ScreenGrabber() {
    if (conn_ == nullptr) return;
    detach_segment();
    xcb_disconnect(conn_);
}

int ScreenGrabber::fd() const { return xcb_get_file_descriptor(conn_); }

// A private SysV segment of the screen's size, attached by the server. It is marked for removal
// at once, so it goes away with the last process that has it attached (even if we crash).
bool ScreenGrabber::attach_segment(std::string& why) {
    detach_segment();
    shm_bytes_ = std::size_t{size_.width} * size_.height * 4;
    shmid_ = ::shmget(IPC_PRIVATE, shm_bytes_, IPC_CREAT | 0600);
    if (shmid_ < 0) {
        why = "shmget failed: " + std::string(std::strerror(errno));
        return false;
    }
    void* p = ::shmat(shmid_, nullptr, 0);
    if (p == reinterpret_cast<void*>(-1)) {
        why = "shmat failed: " + std::string(std::strerror(errno));
        ::shmctl(shmid_, IPC_RMID, nullptr);
        shmid_ = -1;
        return false;
    }
    shm_ = static_cast<std::byte*>(p);
    segment_ = xcb_generate_id(conn_);
    Owned err(xcb_request_check(conn_, xcb_shm_attach_checked(conn_, segment_, static_cast<std::uint32_t>(shmid_), 0)));
    ::shmctl(shmid_, IPC_RMID, nullptr);
    if (err) {
        why = "the X server could not attach the MIT-SHM segment (is it on another machine or IPC namespace?)";
        segment_ = 0;
        return false;
    }
    return true;
}

void ScreenGrabber::detach_segment() {
    if (segment_ != 0) xcb_shm_detach(conn_, segment_);
    segment_ = 0;
    if (shm_ != nullptr) ::shmdt(shm_);
    shm_ = nullptr;
    shmid_ = -1;
}

void ScreenGrabber::handle(const void* event, DamageList& before, DamageList& after, bool split,
                           std::uint32_t grab_sequence, bool& resized) {
    const auto* e = static_cast<const xcb_generic_event_t*>(event);
    const std::uint8_t type = e->response_type & 0x7f;
    if (type == damage_event_ + XCB_DAMAGE_NOTIFY) {
        const auto* d = static_cast<const xcb_damage_notify_event_t*>(event);
        DamageList& into = !split || sent_before(d->sequence, grab_sequence) ? before : after;
        into.add(d->area.x, d->area.y, d->area.width, d->area.height, size_.width, size_.height);
    } else if (type == randr_event_ + XCB_RANDR_SCREEN_CHANGE_NOTIFY) {
        const auto* r = static_cast<const xcb_randr_screen_change_notify_event_t*>(event);
        // The event's size is the one before rotation; the root's geometry is what GetImage sees.
        Owned geo(xcb_get_geometry_reply(conn_, xcb_get_geometry(conn_, root_), nullptr));
        const Size now = geo ? Size{geo->width, geo->height} : Size{r->width, r->height};
        if (now.width != size_.width || now.height != size_.height) {
            size_ = now;
            resized = true;
        }
    }
}

bool ScreenGrabber::drain(DamageList& damage, bool& resized, std::string& why) {
    DamageList unused;
    while (xcb_generic_event_t* e = xcb_poll_for_event(conn_)) {
        handle(e, damage, unused, false, 0, resized);
        std::free(e);
    }
    if (xcb_connection_has_error(conn_) != 0) {
        why = "the X connection broke";
        return false;
    }
    if (resized) {
        std::string err;
        if (!attach_segment(err)) {
            why = err;
            return false;
        }
    }
    return true;
}

bool ScreenGrabber::grab(Size area, const std::byte*& pixels, std::uint32_t& stride, DamageList& before,
                         DamageList& after, std::string& why) {
    area.width = std::min(area.width, size_.width);
    area.height = std::min(area.height, size_.height);
    const auto cookie = xcb_shm_get_image(conn_, root_, 0, 0, static_cast<std::uint16_t>(area.width),
                                          static_cast<std::uint16_t>(area.height), ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP,
                                          segment_, 0);
    xcb_generic_error_t* error = nullptr;
    Owned reply(xcb_shm_get_image_reply(conn_, cookie, &error));
    Owned err(error);
    // Events that arrived with the reply: split them by when the server sent them.
    bool resized = false;
    while (xcb_generic_event_t* e = xcb_poll_for_queued_event(conn_)) {
        handle(e, before, after, true, cookie.sequence, resized);
        std::free(e);
    }
    if (!reply || err) {
        // A screen that shrank under the request makes it fail: the caller sees the new size
        // (resized) and tries again.
        why = err ? "GetImage failed (X error " + std::to_string(err->error_code) + ")" : "the X connection broke";
        if (resized) attach_segment(why);
        return false;
    }
    if (resized) {  // this image is still the old size; the next grab will follow
        why = "the screen size changed during the grab";
        std::string e2;
        if (!attach_segment(e2)) why = e2;
        return false;
    }
    pixels = shm_;
    stride = area.width * 4;  // ZPixmap at 32 bits per pixel: scanlines are never padded further
    return true;
}

void ScreenGrabber::warp(std::int32_t x, std::int32_t y) {
    x = std::clamp<std::int32_t>(x, 0, static_cast<std::int32_t>(size_.width) - 1);
    y = std::clamp<std::int32_t>(y, 0, static_cast<std::int32_t>(size_.height) - 1);
    xcb_test_fake_input(conn_, XCB_MOTION_NOTIFY, 0, XCB_CURRENT_TIME, root_, static_cast<std::int16_t>(x),
                        static_cast<std::int16_t>(y), 0);
    xcb_flush(conn_);
}

// ---- PointerWatcher -----------------------------------------------------------------------

std::unique_ptr<PointerWatcher> PointerWatcher::open(const std::string& display, std::string& why) {
    std::unique_ptr<PointerWatcher> w(new PointerWatcher());
    xcb_screen_t* screen = nullptr;
    w->conn_ = connect(display, screen, why);
    if (w->conn_ == nullptr) return nullptr;
    w->root_ = screen->root;
    if (!extension(w->conn_, &xcb_xfixes_id, "XFIXES", w->xfixes_event_, why)) return nullptr;
    Owned xf(xcb_xfixes_query_version_reply(w->conn_, xcb_xfixes_query_version(w->conn_, 4, 0), nullptr));
    if (!xf) {
        why = "the X server refused the XFixes version query";
        return nullptr;
    }
    xcb_xfixes_select_cursor_input(w->conn_, w->root_, XCB_XFIXES_CURSOR_NOTIFY_MASK_DISPLAY_CURSOR);
    xcb_flush(w->conn_);
    return w;
}

PointerWatcher::~PointerWatcher() {
    if (conn_ != nullptr) xcb_disconnect(conn_);
}

bool PointerWatcher::cursor_changed(std::string& why) {
    bool changed = std::exchange(first_, false);
    while (xcb_generic_event_t* e = xcb_poll_for_event(conn_)) {
        if ((e->response_type & 0x7f) == xfixes_event_ + XCB_XFIXES_CURSOR_NOTIFY) changed = true;
        std::free(e);
    }
    if (xcb_connection_has_error(conn_) != 0) why = "the X connection broke";
    return changed;
}

std::optional<CursorImage> PointerWatcher::cursor(std::uint32_t max_dimension, std::string& why) {
    Owned r(xcb_xfixes_get_cursor_image_reply(conn_, xcb_xfixes_get_cursor_image(conn_), nullptr));
    if (!r || r->width == 0 || r->height == 0) {
        why = "GetCursorImage failed";
        return std::nullopt;
    }
    const std::uint32_t* argb = xcb_xfixes_get_cursor_image_cursor_image(r.p);
    CursorImage img;
    img.width = std::min<std::uint32_t>(r->width, max_dimension);
    img.height = std::min<std::uint32_t>(r->height, max_dimension);
    img.hotspot_x = std::min<std::uint32_t>(r->xhot, img.width - 1);
    img.hotspot_y = std::min<std::uint32_t>(r->yhot, img.height - 1);
    img.x_serial = r->cursor_serial;
    img.bgra.resize(std::size_t{img.width} * img.height * 4);
    for (std::uint32_t y = 0; y < img.height; ++y) {
        unpremultiply_argb(argb + std::size_t{y} * r->width, img.width, img.bgra.data() + std::size_t{y} * img.width * 4);
    }
    return img;
}

std::optional<Pointer> PointerWatcher::pointer(std::string& why) {
    Owned r(xcb_query_pointer_reply(conn_, xcb_query_pointer(conn_, root_), nullptr));
    if (!r) {
        why = "QueryPointer failed (the X connection broke?)";
        return std::nullopt;
    }
    return Pointer{r->root_x, r->root_y, r->same_screen != 0};
}

void unpremultiply_argb(const std::uint32_t* argb, std::size_t count, std::byte* bgra) {
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint32_t p = argb[i];
        const std::uint32_t a = p >> 24;
        const auto un = [a](std::uint32_t c) -> std::byte {
            if (a == 0) return std::byte{0};
            return static_cast<std::byte>(std::min<std::uint32_t>(255, (c * 255 + a / 2) / a));
        };
        bgra[i * 4 + 0] = un(p & 0xff);
        bgra[i * 4 + 1] = un((p >> 8) & 0xff);
        bgra[i * 4 + 2] = un((p >> 16) & 0xff);
        bgra[i * 4 + 3] = static_cast<std::byte>(a);
    }
}

}  // namespace pane_tools::x11
