// SPDX-License-Identifier: MIT
// The consumer side of an embedding: frames copied into your own buffer (a texture's staging
// memory, an encoder's input) row by row as the producer publishes them, then verified: a frame
// whose buffer was reused while we read it is dropped, never shown torn.
// Usage: consume_frames SHM-NAME [FRAMES]; waits up to 20 s for the region (produce_frames)
// and exits 0 once FRAMES frames (default 30) were received and checked.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

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

// produce_frames' pattern: every pixel says where it is and carries the same frame byte.
bool pattern_ok(const std::vector<std::byte>& image, std::uint32_t width, std::uint32_t height) {
    const std::byte frame = image[2];
    for (std::uint32_t y = 0; y < height; ++y) {
        for (std::uint32_t x = 0; x < width; ++x) {
            const std::byte* px = &image[(std::size_t{y} * width + x) * 4];
            if (px[0] != std::byte(x & 0xff) || px[1] != std::byte(y & 0xff) || px[2] != frame) return false;
        }
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: consume_frames SHM-NAME [FRAMES]\n");
        return 2;
    }
    const int wanted = argc > 2 ? std::atoi(argv[2]) : 30;
    pane::map::Mapping region;
    auto session = attach(argv[1], region);
    if (!session) {
        std::fprintf(stderr, "consume_frames: no Pane region %s to attach to\n", argv[1]);
        return 1;
    }
    auto frames = session->frames("frames").value();  // throws bad_result_access if there is none

    std::vector<std::byte> mine;  // your own buffer
    int good = 0;
    int dropped = 0;
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (good < wanted && std::chrono::steady_clock::now() < give_up) {
        pane::FrameView view;
        const pane::FrameStatus s = frames.wait_latest(view, pane::AutoWait{}, 100ms);
        if (s == pane::FrameStatus::timed_out) continue;
        if (s != pane::FrameStatus::ok) {  // epoch_changed, slot_lost: a real viewer attaches again
            std::fprintf(stderr, "consume_frames: wait_latest: status %d\n", static_cast<int>(s));
            return 1;
        }
        const pane::FrameDescriptor& d = view.descriptor();
        if (d.format != static_cast<std::uint32_t>(pane::FrameFormat::bgra8)) return 1;
        const std::size_t row_bytes = std::size_t{d.width} * 4;
        mine.resize(row_bytes * d.height);
        // Progressive read: copy the rows the producer has finished while it writes the rest.
        std::uint32_t copied = 0;
        while (copied < d.height && view.wait_rows(copied + 1, pane::AutoWait{}, 1s) == pane::FrameStatus::ok) {
            for (const std::uint32_t ready = view.rows_ready(); copied < ready; ++copied) {
                std::memcpy(mine.data() + copied * row_bytes, view.row(copied), row_bytes);
            }
        }
        // After the copy: did the frame stay ours throughout? If not, drop it (keep showing the last).
        if (copied < d.height || view.verify() != pane::FrameStatus::ok) {
            ++dropped;
            continue;
        }
        if (!pattern_ok(mine, d.width, d.height)) {
            std::fprintf(stderr, "consume_frames: frame %llu verified but its pixels are wrong\n",
                         static_cast<unsigned long long>(d.serial));
            return 1;
        }
        ++good;
        frames.release();  // done with it: the producer may reuse the buffer
    }
    std::printf("consume_frames: %d frames copied and checked, %d dropped, %llu skipped\n", good, dropped,
                static_cast<unsigned long long>(frames.frames_skipped()));
    return good == wanted ? 0 : 1;
}
