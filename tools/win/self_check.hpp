// SPDX-License-Identifier: MIT
// The in-process consumer pane-produce-win runs with --memory: it attaches to the region the
// producer made, reads frames (progressively, as rows are published) and checks each against the
// test pattern, and checks every cursor position it sees against the pattern's path. It gives the
// Windows build (and a run under wine, where no IVSHMEM device exists) an end-to-end check of
// both sides of the protocol without Boost, fmt or a second process.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include <pane/pane.hpp>

#include "../display_spec.hpp"
#include "../pattern.hpp"

namespace pane_win {

struct SelfCheckResult {
    std::uint64_t frames_verified = 0;
    std::uint64_t frames_torn = 0;  // reused while we read: normal under pressure, not an error
    std::uint64_t positions_verified = 0;
    std::uint64_t errors = 0;
    std::string first_error;  // empty when errors == 0
};

// \pre `region` holds a display region whose producer is live; runs until `stop`.
inline void run_self_check(std::span<std::byte> region, std::uint32_t width, std::uint32_t height,
                           std::uint32_t bytes_per_pixel, const std::atomic<bool>& stop, SelfCheckResult& out) {
    namespace pt = pane_tools;
    const auto fail = [&out](std::string what) {
        if (out.errors++ == 0) out.first_error = std::move(what);
    };
    auto session = pane::ConsumerSession::attach(region);
    if (!session) return fail("attach: " + std::string(pane::describe(session.error())));
    auto frames = session->frames(pt::kFramesChannel);
    auto positions = session->cursor_position(pt::kCursorPositionChannel);
    if (!frames || !positions) return fail("cannot open the frames or cursor-position channel");

    // Polling with short sleeps: the only strategy that needs nothing from the OS but a clock,
    // which is what a Windows guest (no futex) gets anyway.
    const pane::SpinThenSleep wait{};
    const std::size_t row_bytes = std::size_t{width} * bytes_per_pixel;
    pt::PatternChecker checker;
    pane::FrameView view;
    std::uint64_t last_serial = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        if (session->tick() != pane::SessionStatus::ok) return fail("the consumer session stopped being ok");
        pane::CursorPosition p;
        if (positions->try_read(p) == pane::CursorStatus::ok) {
            const pt::PatternPoint want = pt::pattern_position(p.serial, width, height);
            if (p.x != want.x || p.y != want.y)
                fail("cursor position " + std::to_string(p.serial) + " is off the path");
            ++out.positions_verified;
        }
        const auto s = frames->wait_latest(view, wait, pane::Deadline::after(std::chrono::milliseconds(20)));
        if (s == pane::FrameStatus::timed_out) continue;
        if (s != pane::FrameStatus::ok) return fail("wait_latest status " + std::to_string(static_cast<int>(s)));
        const pane::FrameDescriptor& d = view.descriptor();
        if (d.serial <= last_serial || d.width != width || d.height != height) fail("frame order or geometry");
        last_serial = d.serial;
        // Rows as they arrive, the way a viewer uploads them.
        checker.begin(d.serial, d.width, d.height, row_bytes);
        const auto row = [&view](std::uint32_t y) { return view.row(y); };
        std::uint32_t rows = 0;
        while (rows < d.height && !stop.load(std::memory_order_relaxed)) {
            (void)view.wait_rows(rows + 1, wait, pane::Deadline::after(std::chrono::milliseconds(20)));
            const std::uint32_t ready = view.rows_ready();
            if (ready > rows) checker.feed(ready, row);
            rows = ready > rows ? ready : rows;
        }
        if (rows < d.height) break;  // stopping mid-frame: neither verified nor an error
        const pt::FrameCheck check = checker.finish(row);
        if (view.verify() != pane::FrameStatus::ok) {
            ++out.frames_torn;  // the producer lapped us: what the checker saw is a mix of two frames
        } else if (check != pt::FrameCheck::ok) {
            fail("frame " + std::to_string(d.serial) + " failed the pattern check (" +
                 std::to_string(static_cast<int>(check)) + ")");
        } else {
            ++out.frames_verified;
        }
        frames->release();
    }
}

}  // namespace pane_win
