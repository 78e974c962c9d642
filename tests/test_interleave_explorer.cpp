// SPDX-License-Identifier: MIT
// Tests of the interleaving explorer itself, on toy bodies whose every interleaving can be
// counted by hand: exact schedule counts with and without a preemption bound, that the runs are
// all different, that a lost update is found and replays, that a correct counter passes, and
// that throws, livelocks, impossible schedules and stalls are reported rather than hung on.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "catch.hpp"
#include "interleave.hpp"
#include "support.hpp"

using pane_test::explore_interleavings;
using pane_test::InterleaveOptions;
using pane_test::InterleaveReport;
using pane_test::InterleaveRun;

namespace {

const char* const point_names[] = {"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"};

// Thread i passes points[i] schedule points. Every stretch of code between two stops logs an
// event (thread, stretch), so a run's event log is exactly the order in which steps ran; every
// finished run's log goes into `logs`.
std::function<InterleaveRun()> counting_runs(std::vector<int> points,
                                             std::set<std::vector<int>>& logs) {
    return [points, &logs] {
        auto log = std::make_shared<std::vector<int>>();
        InterleaveRun run;
        for (std::size_t t = 0; t < points.size(); ++t) {
            run.threads.push_back([log, t, n = points[t]] {
                for (int j = 0; j <= n; ++j) {
                    // Plain vector, no lock: the explorer's hand-off orders the steps.
                    log->push_back(static_cast<int>(t) * 100 + j);
                    if (j < n) PANE_SCHEDULE_POINT(point_names[j]);
                }
            });
        }
        run.check = [log, &logs, points] {
            std::size_t steps = 0;
            for (const int n : points) steps += static_cast<std::size_t>(n) + 1;
            if (log->size() != steps) return std::string("wrong number of steps logged");
            logs.insert(*log);
            return std::string();
        };
        return run;
    };
}

// Independent count of the schedules the explorer should run: sequences in which thread i takes
// left[i] steps, where switching away from a thread that still has steps is a preemption and at
// most `bound` of them are allowed (bound < 0: any number).
std::uint64_t expected_schedules(std::vector<int> left, int last, int bound) {
    std::uint64_t total = 0;
    bool any = false;
    for (std::size_t t = 0; t < left.size(); ++t) {
        if (left[t] == 0) continue;
        any = true;
        const bool preempts = last >= 0 && static_cast<std::size_t>(last) != t &&
                              left[static_cast<std::size_t>(last)] > 0;
        if (preempts && bound == 0) continue;
        --left[t];
        total += expected_schedules(left, static_cast<int>(t), preempts && bound > 0 ? bound - 1 : bound);
        ++left[t];
    }
    return any ? total : 1;
}

std::uint64_t expected_for_points(const std::vector<int>& points, int bound) {
    std::vector<int> steps;
    for (const int n : points) steps.push_back(n + 1);  // "start" to first point ... last point to end
    return expected_schedules(steps, -1, bound);
}

// Two threads each read x, stop, and write back x + 1: the textbook lost update when both reads
// come before both writes. `atomic_increment` makes it a single fetch_add instead (correct).
std::function<InterleaveRun()> counter_runs(bool atomic_increment) {
    return [atomic_increment] {
        auto x = std::make_shared<std::atomic<int>>(0);
        InterleaveRun run;
        for (int t = 0; t < 2; ++t) {
            run.threads.push_back([x, atomic_increment] {
                if (atomic_increment) {
                    PANE_SCHEDULE_POINT("between");
                    x->fetch_add(1, std::memory_order_relaxed);
                } else {
                    const int v = x->load(std::memory_order_relaxed);
                    PANE_SCHEDULE_POINT("between");
                    x->store(v + 1, std::memory_order_relaxed);
                }
            });
        }
        run.check = [x] {
            const int v = x->load(std::memory_order_relaxed);
            return v == 2 ? std::string() : "x == " + std::to_string(v) + ", expected 2";
        };
        return run;
    };
}

// The stall test's child: T0 waits (futex) for T1 outside any schedule point, which can never
// happen while T0 holds the token. The explorer must abort the process, not hang.
const pane_test::RegisterChild stall_child("interleave-stall", [](const std::vector<std::string>&) {
    std::fprintf(stderr, "interleave-stall child: an abort after a stall report is the expected outcome\n");
    InterleaveOptions options;
    options.stall_timeout = std::chrono::seconds(1);
    (void)explore_interleavings(
        [] {
            auto flag = std::make_shared<std::atomic<int>>(0);
            InterleaveRun run;
            run.threads.push_back([flag] { flag->wait(0); });
            run.threads.push_back([flag] {
                flag->store(1);
                flag->notify_all();
            });
            run.check = [] { return std::string(); };
            return run;
        },
        options);
    return 0;  // not reached when the explorer works
});

}  // namespace

TEST_CASE("every interleaving of two threads is run exactly once", "[concurrency][interleave]") {
    // T0 passes 3 points (4 steps), T1 passes 2 (3 steps): the runs are the orderings of 4 + 3
    // steps, C(7, 4) = 35.
    std::set<std::vector<int>> logs;
    const InterleaveReport report = explore_interleavings(counting_runs({3, 2}, logs));
    INFO(pane_test::describe(report));
    CHECK(report.failure.empty());
    CHECK(report.exhausted);
    CHECK(report.schedules == 35);
    CHECK(expected_for_points({3, 2}, -1) == 35);
    CHECK(logs.size() == 35);  // all different, so none was run twice
}

TEST_CASE("preemption bounds give the exact number of schedules", "[concurrency][interleave]") {
    // Two threads with a = 4 and b = 3 steps. A schedule of r blocks (maximal runs of one thread)
    // has r - 2 preemptions: the last switch always leaves a thread that has finished.
    //  bound 0: r = 2, AB or BA                                  -> 2
    //  bound 1: + r = 3, ABA (a-1 splits) or BAB (b-1)           -> 2 + 3 + 2 = 7
    //  bound 2: + r = 4, ABAB or BABA, (a-1)(b-1) each           -> 7 + 6 + 6 = 19
    const std::vector<std::pair<int, std::uint64_t>> cases{{0, 2}, {1, 7}, {2, 19}, {5, 35}};
    for (const auto& [bound, expected] : cases) {
        std::set<std::vector<int>> logs;
        InterleaveOptions options;
        options.preemption_bound = bound;
        const InterleaveReport report = explore_interleavings(counting_runs({3, 2}, logs), options);
        INFO("bound " << bound << ": " << pane_test::describe(report));
        CHECK(report.failure.empty());
        CHECK(report.exhausted);
        CHECK(report.schedules == expected);
        CHECK(expected_for_points({3, 2}, bound) == expected);
        CHECK(logs.size() == expected);
    }
}

TEST_CASE("schedule counts match an independent count for more shapes", "[concurrency][interleave]") {
    // Three threads of one point each: 6! / (2! 2! 2!) = 90 orderings; with bound 0 only the
    // order of the three whole threads is free, 3! = 6 (choosing the next thread after one
    // finished is not a preemption).
    const std::vector<std::pair<std::vector<int>, std::vector<std::pair<int, std::uint64_t>>>> shapes{
        {{1, 1, 1}, {{-1, 90}, {0, 6}}},
        {{0, 0}, {{-1, 2}, {0, 2}}},
        {{2}, {{-1, 1}, {0, 1}}},
        {{2, 2, 1}, {{-1, 0}, {0, 0}, {1, 0}}},  // 0: take the independent count
        {{4, 3}, {{-1, 0}, {1, 0}, {2, 0}}},
    };
    for (const auto& [points, bounds] : shapes) {
        for (auto [bound, expected] : bounds) {
            if (expected == 0) expected = expected_for_points(points, bound);
            std::set<std::vector<int>> logs;
            InterleaveOptions options;
            options.preemption_bound = bound;
            const InterleaveReport report = explore_interleavings(counting_runs(points, logs), options);
            INFO("threads " << points.size() << ", bound " << bound << ": " << pane_test::describe(report));
            CHECK(report.exhausted);
            CHECK(report.schedules == expected);
            CHECK(logs.size() == expected);
        }
    }
    CHECK(expected_for_points({2, 2, 1}, -1) == 560);  // 3 + 3 + 2 steps: 8! / (3! 3! 2!)
    CHECK(expected_for_points({4, 3}, -1) == 126);     // C(9, 4)
}

TEST_CASE("a lost update is found and its schedule replays", "[concurrency][interleave]") {
    const auto runs = counter_runs(false);
    const InterleaveReport report = explore_interleavings(runs);
    INFO(pane_test::describe(report));
    REQUIRE(report.failure == "x == 1, expected 2");
    CHECK_FALSE(report.exhausted);
    REQUIRE(report.failing_schedule.size() == 4);  // 2 steps per thread
    CHECK(report.failing_trace.size() == 4);
    // It is only lost when both reads (the first step of each thread) come before any write.
    CHECK(report.failing_schedule[0] != report.failing_schedule[1]);
    CHECK(report.failing_trace[0].find("between") != std::string::npos);
    CHECK(report.failing_trace[1].find("between") != std::string::npos);
    CHECK(pane_test::replay_interleaving(runs, report.failing_schedule) == report.failure);
    // The default schedule (no prefix) runs one thread after the other and passes.
    CHECK(pane_test::replay_interleaving(runs, {}).empty());

    // Losing the update needs one preemption: bound 0 cannot see it, bound 1 can.
    InterleaveOptions options;
    options.preemption_bound = 0;
    const InterleaveReport bounded0 = explore_interleavings(runs, options);
    CHECK(bounded0.failure.empty());
    CHECK(bounded0.exhausted);
    CHECK(bounded0.schedules == 2);
    options.preemption_bound = 1;
    CHECK(explore_interleavings(runs, options).failure == "x == 1, expected 2");
}

TEST_CASE("a correct increment passes every schedule", "[concurrency][interleave]") {
    const InterleaveReport report = explore_interleavings(counter_runs(true));
    INFO(pane_test::describe(report));
    CHECK(report.failure.empty());
    CHECK(report.exhausted);
    CHECK(report.schedules == 6);  // C(4, 2)
}

TEST_CASE("throws, livelocks, limits and impossible schedules are reported", "[concurrency][interleave]") {
    SECTION("a body that throws fails the run at that step") {
        const auto runs = [] {
            InterleaveRun run;
            run.threads.push_back([] { PANE_SCHEDULE_POINT("a"); });
            run.threads.push_back([] {
                PANE_SCHEDULE_POINT("b");
                throw std::runtime_error("boom");
            });
            run.check = [] { return std::string(); };
            return run;
        };
        const InterleaveReport report = explore_interleavings(runs);
        INFO(pane_test::describe(report));
        CHECK(report.failure == "T1 threw: boom");
        REQUIRE_FALSE(report.failing_trace.empty());
        CHECK(report.failing_trace.back() == "T1 threw: boom");
        CHECK(report.failing_schedule.back() == 1);
        CHECK(pane_test::replay_interleaving(runs, report.failing_schedule) == "T1 threw: boom");
    }
    SECTION("a spin that never lets the other thread in hits max_steps, and the run still ends") {
        InterleaveOptions options;
        options.max_steps = 50;
        const InterleaveReport report = explore_interleavings(
            [] {
                auto flag = std::make_shared<std::atomic<bool>>(false);
                InterleaveRun run;
                run.threads.push_back([flag] {
                    while (!flag->load()) PANE_SCHEDULE_POINT("spin");
                });
                run.threads.push_back([flag] { flag->store(true); });
                run.check = [] { return std::string(); };
                return run;
            },
            options);
        INFO(pane_test::describe(report));
        CHECK(report.failure.rfind("livelock", 0) == 0);
        CHECK(report.failing_schedule.size() == 50);
        CHECK(report.schedules == 1);
    }
    SECTION("max_schedules stops the search without claiming exhaustion") {
        std::set<std::vector<int>> logs;
        InterleaveOptions options;
        options.max_schedules = 10;
        const InterleaveReport report = explore_interleavings(counting_runs({3, 2}, logs), options);
        CHECK(report.failure.empty());
        CHECK_FALSE(report.exhausted);
        CHECK(report.schedules == 10);
        CHECK(logs.size() == 10);
    }
    SECTION("a schedule the bodies cannot follow is called nondeterministic") {
        std::set<std::vector<int>> logs;
        // T0 has 2 steps; a third step for it does not exist.
        CHECK(pane_test::replay_interleaving(counting_runs({1, 1}, logs), {0, 0, 0})
                  .rfind("nondeterministic", 0) == 0);
        CHECK(pane_test::replay_interleaving(counting_runs({1, 1}, logs), {0, 1, 0, 1, 1})
                  .rfind("nondeterministic", 0) == 0);
        CHECK(pane_test::replay_interleaving(counting_runs({1, 1}, logs), {0, 1, 0, 1}).empty());
    }
    SECTION("a check() that throws is a failure") {
        const InterleaveReport report = explore_interleavings([] {
            InterleaveRun run;
            run.threads.push_back([] {});
            run.check = []() -> std::string { throw std::runtime_error("bad check"); };
            return run;
        });
        CHECK(report.failure == "check() threw: bad check");
    }
}

TEST_CASE("a thread blocked outside schedule points aborts the process", "[concurrency][interleave]") {
    // In a child process, because aborting is the documented behaviour.
    auto child = pane_test::ChildProcess::spawn("interleave-stall", {});
    const auto status = child.wait(std::chrono::seconds(60));
    REQUIRE(status.has_value());
    CHECK(*status == 128 + SIGABRT);
}
