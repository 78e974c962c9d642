// SPDX-License-Identifier: MIT
// tools/bench/frame_copy.hpp runs to the end on a small frame, with each wait strategy and with
// its own publish interval, and every frame it moved verified. No timing is asserted: the figures
// are pane-bench's to report.
#include "bench/frame_copy.hpp"
#include "catch.hpp"

TEST_CASE("measure_frame_copy: a small frame moves intact, progressive and whole", "[bench][frames]") {
    for (const char* wait : {"auto", "spin", "futex"}) {
        for (const std::size_t publish : {std::size_t{0}, std::size_t{4096}}) {
            INFO(wait << " publish every " << publish);
            pane_bench::FrameCopyOptions options;
            options.wait = *pane::parse_wait(wait);
            options.publish_bytes = publish;
            options.warmup_rounds = 1;
            const auto f = pane_bench::measure_frame_copy(256, 64, 3, -1, -1, options);
            CHECK(f.error.empty());
            CHECK(f.verified);
            CHECK(f.frame_bytes == 256u * 64 * 4);
            CHECK(f.nt_copy_ms > 0);
            CHECK(f.progressive_ms > 0);
            CHECK(f.whole_frame_ms > 0);
        }
    }
    CHECK_FALSE(pane_bench::measure_frame_copy(0, 64, 3, -1, -1).verified);
}
