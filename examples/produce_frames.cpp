// SPDX-License-Identifier: MIT
// The producer side of an embedding: your own capture loop hands each frame to Pane, and the
// cursor travels on its own channels. The "capture" here is synthetic (a gradient whose every
// pixel carries the frame's number, so the consumer examples can check what they receive); a
// real producer copies from its capture API's buffer the same way.
// Usage: produce_frames SHM-NAME [SECONDS]. Creates the POSIX shm object and removes it when it
// stops (after SECONDS, default 30, or on SIGINT/SIGTERM).
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <thread>
#include <vector>

#include <pane/map/shm.hpp>
#include <pane/pane.hpp>

namespace {

volatile std::sig_atomic_t stop = 0;
constexpr std::uint32_t kWidth = 640;
constexpr std::uint32_t kHeight = 480;

// Your capture API: fills a BGRA image in your own memory. Blue and green say where the pixel
// is, red which frame it belongs to.
void capture(std::vector<std::byte>& image, std::uint32_t frame) {
    for (std::uint32_t y = 0; y < kHeight; ++y) {
        for (std::uint32_t x = 0; x < kWidth; ++x) {
            std::byte* px = &image[(std::size_t{y} * kWidth + x) * 4];
            px[0] = std::byte(x & 0xff);
            px[1] = std::byte(y & 0xff);
            px[2] = std::byte(frame & 0xff);
            px[3] = std::byte{0xff};
        }
    }
}

int fail(const char* what, std::error_code code) {
    std::fprintf(stderr, "produce_frames: %s: %s\n", what, code.message().c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: produce_frames SHM-NAME [SECONDS]\n");
        return 2;
    }
    const char* name = argv[1];
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(argc > 2 ? std::atoi(argv[2]) : 30);
    std::signal(SIGINT, [](int) { stop = 1; });
    std::signal(SIGTERM, [](int) { stop = 1; });

    // The region: one frame channel (3 buffers of up to 640x480 BGRA), a cursor shape channel
    // and a cursor position register. Consumers find the channels by these names.
    pane::RegionSpec spec;
    spec.add(pane::FrameSpec{"frames", kWidth, kHeight, 4, /*buffers*/ 3, /*descriptors*/ 8});
    spec.add(pane::CursorShapeSpec{"cursor-shape", 64});
    spec.add(pane::CursorPositionSpec{"cursor-position"});
    const auto plan = pane::plan_region(spec);
    if (!plan) return fail("plan", plan.error());
    auto region = pane::map::shm(name, plan->region_size, pane::map::OpenMode::create_only);
    if (!region) return fail("shm", region.error());
    auto producer = pane::ProducerSession::create(region->bytes(), spec);
    if (!producer) {
        pane::map::remove_shm(name);
        return fail("create", producer.error());
    }
    auto frames = producer->frames("frames").value();
    auto shape = producer->cursor_shape("cursor-shape").value();
    auto cursor = producer->cursor_position("cursor-position").value();

    // A 16x16 opaque white square cursor, hotspot at its top left; published once.
    const std::vector<std::byte> square(16 * 16 * 4, std::byte{0xff});
    std::uint64_t shape_serial = 0;
    if (shape.publish(pane::CursorType::color, 16, 16, 16 * 4, 0, 0, square, &shape_serial) != pane::CursorStatus::ok) {
        std::fprintf(stderr, "produce_frames: the cursor shape was refused\n");
    }

    std::vector<std::byte> image(std::size_t{kWidth} * kHeight * 4);
    std::uint32_t published = 0;
    for (std::uint32_t tick = 0; stop == 0 && std::chrono::steady_clock::now() < end; ++tick) {
        if (tick % 4 == 0) {  // a frame every 4th round (~50 frames/s), the cursor every round
            capture(image, published + 1);
            pane::FrameWriter writer;
            // no_free_buffer means every buffer is the latest or leased: drop this frame.
            if (frames.begin({pane::FrameFormat::bgra8, kWidth, kHeight}, writer) == pane::FrameStatus::ok) {
                // Streaming copy; consumers can read each row as soon as its chunk is published.
                if (writer.copy_rows(0, kHeight, image.data(), 0) != pane::RowCopyStatus::ok) return 1;
                writer.finish();
                ++published;
            }
        }
        const auto x = static_cast<std::int32_t>((tick * 7) % kWidth);
        cursor.publish(x, x / 2, /*visible*/ true, shape_serial);  // on the line y = x / 2
        producer->tick();  // heartbeat and reaping: more often than every 10 ms
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::printf("produce_frames: %u frames published\n", published);
    pane::map::remove_shm(name);
    return 0;
}
