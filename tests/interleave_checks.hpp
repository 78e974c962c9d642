// SPDX-License-Identifier: MIT
// What the interleaving tests (test_interleave*.cpp) share on top of the explorer
// (interleave.hpp): the schedule points they stop at, the bound they search within, the check
// that every explored order passed and reached the outcomes that matter, and a frame reader that
// is preempted mid-copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "catch.hpp"
#include "interleave.hpp"
#include "pane/frames.hpp"

namespace pane_test {

// Stops only at the points of the handshakes under test: the library's and the test bodies'
// (test.*). A holder's own loads (holder.*) run through: their order against the producer is
// covered where it matters by the copy-then-check points.
inline bool handshake_point(std::string_view point) { return point.substr(0, 7) != "holder."; }

inline InterleaveOptions bounded(int preemptions) {
    InterleaveOptions o;
    o.preemption_bound = preemptions;
    o.stops_at = handshake_point;
    o.max_schedules = 400'000;
    return o;
}

// How often each outcome occurred over all schedules: a test asserts that the orders it explored
// reached every outcome that matters (a search that never reached the race proves nothing).
using Outcomes = std::map<std::string, std::uint64_t>;

inline std::string describe_outcomes(const Outcomes& outcomes) {
    std::ostringstream out;
    for (const auto& [what, n] : outcomes) out << what << ": " << n << "; ";
    return out.str();
}

// Every explored order passed, the search was exhausted within its bound, and the orders reached
// each outcome in `reached` at least once.
inline void check_every_order(const InterleaveReport& report, const Outcomes& outcomes = {},
                              const std::vector<std::string>& reached = {}) {
    INFO(describe(report) << "\n" << describe_outcomes(outcomes));
    CHECK(report.failure.empty());
    CHECK(report.exhausted);
    for (const auto& outcome : reached) {
        INFO("outcome never reached: " << outcome);
        CHECK(outcomes.count(outcome) == 1);
    }
}

// A consumer's copy of a frame, taken in two halves with a stop between (a reader that is
// preempted mid-copy), then verified.
struct Copied {
    std::vector<std::byte> bytes;
    pane::FrameStatus verified = pane::FrameStatus::no_frame;
    std::uint8_t fill = 0;  // what the frame should hold
};

inline void copy_and_verify(const pane::FrameView& view, Copied& out) {
    const auto bytes = view.bytes();
    const std::size_t half = bytes.size() / 2;
    out.bytes.assign(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(half));
    PANE_SCHEDULE_POINT("test.half_copied");
    out.bytes.insert(out.bytes.end(), bytes.begin() + static_cast<std::ptrdiff_t>(half), bytes.end());
    out.verified = view.verify();
}

// Empty unless verify() said ok on a copy that is not uniformly `fill`: a torn or foreign frame.
inline std::string check_copy(const Copied& c) {
    if (c.verified != pane::FrameStatus::ok) return {};
    for (const std::byte b : c.bytes) {
        if (b != static_cast<std::byte>(c.fill)) {
            return "verify() said ok on a torn or foreign frame (expected fill " + std::to_string(c.fill) + ")";
        }
    }
    return {};
}

}  // namespace pane_test
