// SPDX-License-Identifier: MIT
// The X11 capture source of `pane-produce --source x11`: an X display's root window through xcb.
// Two connections, so that a slow screen grab never delays the pointer:
//   ScreenGrabber  (the frame thread): DAMAGE with raw rectangles says what changed; MIT-SHM
//                  GetImage copies the root into a private SysV segment (the X server copies
//                  the screen there; the producer then copies it once into a frame buffer);
//                  RandR screen-change events give the new size; XTest warps the pointer.
//   PointerWatcher (the cursor thread): XFixes cursor-change events and GetCursorImage give
//                  the shape (ARGB, hotspot, serial); QueryPointer, polled, the position.
// Errors are reported as text (`why`): this is tool code, used by one program.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "damage.hpp"

struct xcb_connection_t;

namespace pane_tools::x11 {

struct Size {
    std::uint32_t width = 0, height = 0;
};

class ScreenGrabber {
public:
    // Connects to `display` ("" = $DISPLAY) and checks for MIT-SHM, DAMAGE, XFixes, RandR and
    // XTest and a 32-bit little-endian BGRX root visual. nullptr and `why` on failure.
    [[nodiscard]] static std::unique_ptr<ScreenGrabber> open(const std::string& display, std::string& why);
    ~ScreenGrabber();
    ScreenGrabber(const ScreenGrabber&) = delete;
    ScreenGrabber& operator=(const ScreenGrabber&) = delete;

    [[nodiscard]] Size size() const { return size_; }
    [[nodiscard]] int fd() const;  // the connection's socket, to poll() on

    // Reads every event waiting (without blocking): damage goes into `damage`, clipped to the
    // screen; a screen-size change updates size() and returns true. False with `why` once the
    // connection broke.
    [[nodiscard]] bool drain(DamageList& damage, bool& resized, std::string& why);

    // Copies the screen's top-left `area` (at most size()) into the private segment. On
    // success `pixels` is the first row (BGRX, 4 bytes per pixel) and `stride` the bytes per row.
    // Damage events the server sent before it took the image go into `before` (they are in
    // this image); later ones into `after` (the next image's).
    [[nodiscard]] bool grab(Size area, const std::byte*& pixels, std::uint32_t& stride, DamageList& before,
                            DamageList& after, std::string& why);

    // Moves the pointer (XTest fake motion), clamped to the screen.
    void warp(std::int32_t x, std::int32_t y);

private:
    ScreenGrabber() = default;
    bool attach_segment(std::string& why);
    void detach_segment();
    void handle(const void* event, DamageList& before, DamageList& after, bool split, std::uint32_t grab_sequence,
                bool& resized);

    xcb_connection_t* conn_ = nullptr;
    std::uint32_t root_ = 0;
    std::uint32_t damage_ = 0;
    std::uint8_t damage_event_ = 0;
    std::uint8_t randr_event_ = 0;
    Size size_{};
    std::uint32_t segment_ = 0;
    int shmid_ = -1;
    std::byte* shm_ = nullptr;
    std::size_t shm_bytes_ = 0;
};

// A cursor image as XFixes hands it out, converted to straight-alpha BGRA (protocol 11.3: the
// colour cursor type is not premultiplied; X cursor images are).
struct CursorImage {
    std::uint32_t width = 0, height = 0, hotspot_x = 0, hotspot_y = 0;
    std::uint32_t x_serial = 0;       // XFixes' cursor serial
    std::vector<std::byte> bgra;      // width * height * 4 bytes
};

struct Pointer {
    std::int32_t x = 0, y = 0;
    bool on_screen = true;
};

class PointerWatcher {
public:
    [[nodiscard]] static std::unique_ptr<PointerWatcher> open(const std::string& display, std::string& why);
    ~PointerWatcher();
    PointerWatcher(const PointerWatcher&) = delete;
    PointerWatcher& operator=(const PointerWatcher&) = delete;

    // True if a cursor-change event arrived since the last call (the first call: true).
    [[nodiscard]] bool cursor_changed(std::string& why);
    // The current cursor image, clipped to max_dimension (the hotspot kept inside).
    [[nodiscard]] std::optional<CursorImage> cursor(std::uint32_t max_dimension, std::string& why);
    [[nodiscard]] std::optional<Pointer> pointer(std::string& why);

private:
    PointerWatcher() = default;
    xcb_connection_t* conn_ = nullptr;
    std::uint32_t root_ = 0;
    std::uint8_t xfixes_event_ = 0;
    bool first_ = true;
};

// Premultiplied ARGB (X's cursor pixels, one u32 each) to straight BGRA bytes.
void unpremultiply_argb(const std::uint32_t* argb, std::size_t count, std::byte* bgra);

}  // namespace pane_tools::x11
