// SPDX-License-Identifier: MIT
// Interleaving explorer: a small stateless model checker for the schedule points that library
// code marks with PANE_SCHEDULE_POINT (pane/detail/schedule_point.hpp). A test hands it a factory
// for a run (2 or 3 thread bodies over fresh shared state, plus a check of the end state); the
// explorer executes the run once per schedule, letting exactly one thread at a time advance from
// one schedule point to the next in an order it chooses, and walks the tree of such orders depth
// first without revisiting, optionally only the orders with at most k preemptions. The first run
// whose check fails (or whose body throws, or that exceeds max_steps) stops the search and comes
// back with the exact schedule, which replay_interleaving re-executes. Because the explorer only
// ever lets one thread run, what it finds does not depend on timing: a failure is a failure on
// every machine, and a pass means every explored order passed.
//
// Model and definitions.
//  - Thread i runs threads[i]. It first stops at an implicit "start" point, then at every
//    PANE_SCHEDULE_POINT it reaches. A step is the driver letting exactly one stopped thread run
//    until its next point or until its body returns. A thread that reaches p points therefore
//    takes p + 1 steps, and two threads with p and q points have C(p+q+2, p+1) interleavings.
//  - At each step the runnable threads are the unfinished ones. A preemption is choosing another
//    thread while the one chosen at the previous step is still runnable; the first step and a
//    switch after a thread finished are not preemptions.
//  - Beyond a given prefix the default choice is "the thread of the previous step if still
//    runnable, else the lowest-index runnable thread", so a continuation never adds preemptions.
//
// What a caller must know.
//  - Bodies must be deterministic given the schedule: the same choices must produce the same
//    points. A replay that finds a chosen thread already finished reports "nondeterministic".
//  - Bodies must not block or wait on another thread except at schedule points. While one thread
//    runs, all others are parked, so a thread that sleeps on a futex, a condition variable or a
//    join waiting for another thread never reaches its next point; after stall_timeout the
//    explorer prints the trace to stderr and calls std::abort() (a std::thread cannot be killed,
//    and hanging the test run forever helps nobody). Use the try_ / non-blocking forms.
//  - A spin loop must contain a schedule point, or it stalls the same way. Even with one, the
//    default continuation keeps running the spinning thread, so that schedule ends at max_steps
//    and is reported as a livelock: write bodies that make bounded progress (try once, or a
//    bounded number of times), not "spin until the other thread acts".
//  - After a failure in the middle of a run (a throw, max_steps) the other threads are released
//    to run unscheduled to the end of their bodies, so the std::threads can be joined; if they
//    do not finish within stall_timeout the process aborts as above.
//  - Only the threads the explorer starts stop at points; make_run() and check() run on the
//    calling thread, which has no hook installed. The hand-off between threads is a mutex, so
//    everything one step writes happens-before the next step: bodies may share plain variables
//    without data races as far as the memory model (and ThreadSanitizer) is concerned.
//  - One exploration at a time per thread; explorations on different threads are independent.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <pane/detail/schedule_point.hpp>

#if !defined(PANE_SCHEDULE_POINTS)
#error "interleave.hpp needs PANE_SCHEDULE_POINTS defined for the whole binary (see tests/meson.build)"
#endif

namespace pane_test {

// One execution's ingredients; make_run() builds a fresh one for every schedule.
struct InterleaveRun {
    std::vector<std::function<void()>> threads;  // one body per thread (2 or 3 typical)
    std::function<std::string()> check;          // after all bodies returned: "" = ok, else why not
};

struct InterleaveOptions {
    int preemption_bound = -1;             // -1: every interleaving; k >= 0: at most k preemptions
    std::uint64_t max_schedules = 200000;  // stop after this many runs (report.exhausted = false)
    // Hang detection only, never an outcome: a thread that neither reaches a point nor finishes
    // in this long makes the explorer print the trace and abort the process (see above).
    std::chrono::seconds stall_timeout{60};
    std::uint64_t max_steps = 100000;  // per schedule; more is reported as a livelock failure
    // Which points stop a thread (null: all). A point it rejects runs through like an
    // uninstrumented line: a test narrows the search to the shared accesses of the handshake it
    // is about, which keeps the tree small enough to explore with more preemptions.
    bool (*stops_at)(std::string_view point) = nullptr;
};

struct InterleaveReport {
    std::uint64_t schedules = 0;  // runs executed
    bool exhausted = false;       // every schedule within the bound ran, and none failed
    std::string failure;          // the first failure's message, "" if none
    // The failing run, one entry per step: "T1 between" = thread 1 ran and stopped at point
    // "between"; "T1 finished" = its body returned; "T1 threw: what()" = its body threw.
    std::vector<std::string> failing_trace;
    std::vector<int> failing_schedule;  // thread index per step; give it to replay_interleaving
};

// Runs make_run() once per schedule as described above, until a failure, the bound's tree is
// exhausted, or max_schedules. Exceptions from make_run() propagate (no thread is running then);
// an exception from check() or a body is a failure.
InterleaveReport explore_interleavings(const std::function<InterleaveRun()>& make_run,
                                       InterleaveOptions options = {});

// Runs once, following `schedule` and then the default continuation; returns the failure message
// exploration would have reported for that run (check()'s message, a throw, a livelock, or a
// "nondeterministic" complaint if the schedule cannot be followed), "" if the run passed.
std::string replay_interleaving(const std::function<InterleaveRun()>& make_run,
                                const std::vector<int>& schedule, InterleaveOptions options = {});

// Multi-line summary for INFO(): counts, the failure, the schedule and the step trace.
std::string describe(const InterleaveReport& report);

}  // namespace pane_test
