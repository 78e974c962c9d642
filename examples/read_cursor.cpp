// SPDX-License-Identifier: MIT
// Reading the cursor, as a viewer that draws it itself does: the position is a latest-value
// register (wait for a change, or poll it once per displayed frame), the shape a separate
// channel read again only when the position names a shape we do not have yet.
// Usage: read_cursor SHM-NAME [MOVES]; waits up to 20 s for the region (produce_frames) and
// exits 0 once MOVES positions (default 100) and the shape they name were received and checked.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

#include <pane/map/shm.hpp>
#include <pane/pane.hpp>

using namespace std::chrono_literals;

namespace {

// The producer may not have created or initialised the region yet: try again for a while.
std::optional<pane::ConsumerSession> attach(const char* name, pane::map::Mapping& region) {
    for (int attempt = 0; attempt < 400; ++attempt) {
        if (auto mapped = pane::map::shm(name, 0, pane::map::OpenMode::open_only)) {
            region = std::move(*mapped);
            if (auto session = pane::ConsumerSession::attach(region.bytes())) return std::move(*session);
        }
        std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: read_cursor SHM-NAME [MOVES]\n");
        return 2;
    }
    const int wanted = argc > 2 ? std::atoi(argv[2]) : 100;
    pane::map::Mapping region;
    auto session = attach(argv[1], region);
    if (!session) {
        std::fprintf(stderr, "read_cursor: no Pane region %s to attach to\n", argv[1]);
        return 1;
    }
    auto position = session->cursor_position("cursor-position").value();
    auto shapes = session->cursor_shape("cursor-shape").value();

    pane::CursorPosition at;
    pane::CursorShape shape;  // shape.header.serial 0: none yet
    int moves = 0;
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while ((moves < wanted || shape.header.serial == 0) && std::chrono::steady_clock::now() < give_up) {
        const pane::CursorStatus s = position.wait_read(at, pane::AutoWait{}, 100ms);
        if (s == pane::CursorStatus::timed_out) continue;
        if (s != pane::CursorStatus::ok) {  // invalid, epoch_changed, slot_lost
            std::fprintf(stderr, "read_cursor: wait_read: status %d\n", static_cast<int>(s));
            return 1;
        }
        if (at.y != at.x / 2) {  // produce_frames moves the cursor along y = x / 2
            std::fprintf(stderr, "read_cursor: position %d,%d is off the producer's line\n", at.x, at.y);
            return 1;
        }
        ++moves;
        // A new shape is named: fetch it (the producer may publish it just after the position,
        // so 'none' or 'unchanged' here only means "not yet": the next position asks again).
        if (at.shape_serial != shape.header.serial && shapes.try_read(shape) == pane::CursorStatus::ok) {
            const pane::CursorShapeHeader& h = shape.header;
            std::printf("read_cursor: shape %llu: %ux%u, type %u, hotspot %u,%u, %zu bytes\n",
                        static_cast<unsigned long long>(h.serial), h.width, h.height, h.type, h.hotspot_x,
                        h.hotspot_y, shape.data.size());
            if (h.width != 16 || h.height != 16 || h.type != static_cast<std::uint32_t>(pane::CursorType::color) ||
                shape.data.size() != 16 * 16 * 4) {
                return 1;
            }
        }
    }
    std::printf("read_cursor: %d positions read, the last %d,%d %s\n", moves, at.x, at.y,
                at.visible ? "visible" : "hidden");
    return moves >= wanted && shape.header.serial != 0 ? 0 : 1;
}
