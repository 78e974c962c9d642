// SPDX-License-Identifier: MIT
// The interleaving explorer (see interleave.hpp): a driver that hands a single "you may run"
// token to one worker thread at a time through a mutex and condition variables, records which
// threads could have run at each step, and walks the resulting schedule tree depth first.
#include "interleave.hpp"

#include <condition_variable>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

namespace pane_test {
namespace {

// What the driver knows about one worker. Written by the worker only while it holds the token
// (or after the driver released everyone), read by the driver only while it holds the token;
// always under Hub::mutex.
struct WorkerState {
    std::string point = "start";  // where it is parked now
    bool finished = false;
    bool threw = false;
    std::string error;  // what() of the exception its body threw
    std::condition_variable wake;  // the driver granted it the token, or released everyone
};

// The hand-off. `granted` is the token: the index of the one worker allowed to run, or -1 when
// it is the driver's turn. Each party sleeps on its own condition variable, so a hand-off wakes
// exactly the thread that may run next: with one shared cv and notify_all, every step also woke
// every parked worker for nothing. Notifying after unlocking spares the woken thread an
// immediate block on the mutex.
struct Hub {
    explicit Hub(std::size_t n) : workers(std::make_unique<WorkerState[]>(n)), count(n) {}
    std::mutex mutex;
    std::condition_variable driver_wake;  // the granted worker parked or finished, or one ended
    int granted = -1;
    bool free_run = false;  // after a failure: points stop parking so the bodies can end
    std::unique_ptr<WorkerState[]> workers;  // not a vector: condition variables cannot move
    std::size_t count;
    bool (*stops_at)(std::string_view) = nullptr;  // InterleaveOptions::stops_at; immutable during a run
};

// The hook is a plain function pointer, so the worker finds its hub through thread_locals.
thread_local Hub* t_hub = nullptr;
thread_local int t_index = -1;

WorkerState& worker(Hub& hub, int i) { return hub.workers[static_cast<std::size_t>(i)]; }

void park(std::unique_lock<std::mutex>& lock, Hub& hub, int me) {
    worker(hub, me).wake.wait(lock, [&] { return hub.granted == me || hub.free_run; });
}

void schedule_point_hook(const char* point) {
    Hub& hub = *t_hub;
    if (hub.stops_at != nullptr && point != nullptr && !hub.stops_at(point)) return;  // runs through
    const int me = t_index;
    std::unique_lock<std::mutex> lock(hub.mutex);
    if (hub.free_run) return;
    worker(hub, me).point = point != nullptr ? point : "(null)";
    hub.granted = -1;  // give the token back: this step is over
    lock.unlock();
    hub.driver_wake.notify_one();
    lock.lock();
    park(lock, hub, me);
}

// Thread entry. Nothing may escape a std::thread (that is std::terminate), so the body's
// exceptions become a "threw" state the driver reports as the run's failure.
void worker_main(Hub& hub, int me, const std::function<void()>& body) noexcept {
    t_hub = &hub;
    t_index = me;
    pane::detail::schedule_hook = &schedule_point_hook;
    {
        std::unique_lock<std::mutex> lock(hub.mutex);
        park(lock, hub, me);  // the implicit "start" point
    }
    bool threw = false;
    std::string error;
    try {
        body();
    } catch (const std::exception& e) {
        threw = true;
        error = e.what();  // only bad_alloc could escape here, and noexcept makes that terminate
    } catch (...) {
        threw = true;
        error = "an exception not derived from std::exception";
    }
    pane::detail::schedule_hook = nullptr;
    t_hub = nullptr;
    {
        std::lock_guard<std::mutex> lock(hub.mutex);
        WorkerState& state = worker(hub, me);
        state.finished = true;
        state.threw = threw;
        state.error = std::move(error);
        if (hub.granted == me) hub.granted = -1;
    }
    // Outside the lock but still safe: the driver joins this thread before the hub goes away.
    hub.driver_wake.notify_one();
}

using Mask = std::uint64_t;  // runnable threads at one step, bit i = thread i
constexpr std::size_t max_threads = 64;

bool has(Mask mask, int thread) {
    return thread >= 0 && thread < static_cast<int>(max_threads) &&
           ((mask >> static_cast<unsigned>(thread)) & 1U) != 0;
}

std::string join_schedule(const std::vector<int>& schedule) {
    std::string out;
    for (const int t : schedule) {
        if (!out.empty()) out += ' ';
        out += std::to_string(t);
    }
    return out;
}

void append_trace(std::string& out, const std::vector<std::string>& trace) {
    // A livelock trace has max_steps entries; its head and tail say everything.
    constexpr std::size_t keep = 100;
    for (std::size_t i = 0; i < trace.size(); ++i) {
        if (trace.size() > 2 * keep && i == keep) {
            out += "  ... " + std::to_string(trace.size() - 2 * keep) + " steps ...\n";
            i = trace.size() - keep;
        }
        out += "  " + std::to_string(i) + ": " + trace[i] + "\n";
    }
}

// A std::thread cannot be cancelled, so a worker that never comes back leaves two choices:
// hang the test run or end the process. End it, loudly, with everything known so far.
[[noreturn]] void abort_stalled(const std::string& what, const std::vector<int>& schedule,
                                const std::vector<std::string>& trace) {
    std::string text = "pane interleave explorer: " + what +
                       "\n(bodies must not block outside schedule points; a running std::thread "
                       "cannot be stopped, so the process aborts)\nschedule so far: " +
                       join_schedule(schedule) + "\ntrace:\n";
    append_trace(text, trace);
    std::fprintf(stderr, "%s", text.c_str());
    std::fflush(stderr);
    std::abort();
}

struct RunResult {
    std::vector<int> schedule;  // chosen thread per step
    std::vector<Mask> runnable;  // runnable set per step
    std::vector<std::string> trace;
    std::string failure;
};

// Owns the worker threads of one run; whatever way the driver leaves (normally, on a failure,
// or by an exception), the workers are released and joined, never detached.
class Workers {
public:
    Workers(Hub& hub, std::chrono::seconds stall_timeout, const RunResult& result)
        : hub_(hub), stall_timeout_(stall_timeout), result_(result) {}
    Workers(const Workers&) = delete;
    Workers& operator=(const Workers&) = delete;
    ~Workers() { release_and_join(); }

    void start(const std::vector<std::function<void()>>& bodies) {
        threads_.reserve(bodies.size());
        for (std::size_t i = 0; i < bodies.size(); ++i)
            threads_.emplace_back(worker_main, std::ref(hub_), static_cast<int>(i), std::cref(bodies[i]));
    }

    // Let `thread` run one step; returns when it parked at its next point or finished.
    void step(int thread) {
        std::unique_lock<std::mutex> lock(hub_.mutex);
        hub_.granted = thread;
        lock.unlock();
        worker(hub_, thread).wake.notify_one();
        lock.lock();
        if (!hub_.driver_wake.wait_for(lock, stall_timeout_, [&] { return hub_.granted == -1; })) {
            const auto& state = worker(hub_, thread);
            abort_stalled("stalled: T" + std::to_string(thread) + ", resumed at point \"" +
                              state.point + "\", neither reached a schedule point nor finished within " +
                              std::to_string(stall_timeout_.count()) + " s",
                          result_.schedule, result_.trace);
        }
    }

    // Lets every worker run unscheduled to its end, then joins. On the normal path they have all
    // finished already and this only joins.
    void release_and_join() {
        if (threads_.empty()) return;
        {
            std::unique_lock<std::mutex> lock(hub_.mutex);
            hub_.free_run = true;
            for (std::size_t i = 0; i < hub_.count; ++i) hub_.workers[i].wake.notify_one();
            const bool ended = hub_.driver_wake.wait_for(lock, stall_timeout_, [&] {
                for (std::size_t i = 0; i < threads_.size(); ++i) {
                    if (!hub_.workers[i].finished) return false;
                }
                return true;
            });
            if (!ended) {
                abort_stalled("stalled: after the run stopped (" +
                                  (result_.failure.empty() ? std::string("abandoned") : result_.failure) +
                                  "), the released threads did not finish within " +
                                  std::to_string(stall_timeout_.count()) + " s",
                              result_.schedule, result_.trace);
            }
        }
        for (auto& t : threads_) t.join();
        threads_.clear();
    }

private:
    Hub& hub_;
    std::chrono::seconds stall_timeout_;
    const RunResult& result_;  // for the stall message
    std::vector<std::thread> threads_;
};

RunResult run_once(const std::function<InterleaveRun()>& make_run, const std::vector<int>& prefix,
                   const InterleaveOptions& options) {
    InterleaveRun run = make_run();
    const std::size_t count = run.threads.size();
    if (count > max_threads) throw std::invalid_argument("interleave explorer: more than 64 threads");

    RunResult result;
    Hub hub(count);
    hub.stops_at = options.stops_at;
    Workers workers(hub, options.stall_timeout, result);
    workers.start(run.threads);

    int previous = -1;
    for (std::uint64_t step = 0;; ++step) {
        Mask runnable = 0;
        {
            std::lock_guard<std::mutex> lock(hub.mutex);
            for (std::size_t i = 0; i < count; ++i) {
                if (!hub.workers[i].finished) runnable |= Mask{1} << i;
            }
        }
        if (runnable == 0) {
            if (step < prefix.size()) {
                result.failure = "nondeterministic: the run ended after " + std::to_string(step) +
                                 " steps but the schedule has " + std::to_string(prefix.size());
            }
            break;
        }
        if (step >= options.max_steps) {
            result.failure = "livelock: the run did not finish within max_steps = " +
                             std::to_string(options.max_steps) + " steps";
            break;
        }
        int choice = -1;
        if (step < prefix.size()) {
            choice = prefix[step];
            if (!has(runnable, choice)) {
                result.failure = "nondeterministic: step " + std::to_string(step) + " chooses T" +
                                 std::to_string(choice) + ", which is not runnable (finished or no such thread)";
                break;
            }
        } else if (has(runnable, previous)) {
            choice = previous;  // the default continuation never preempts
        } else {
            for (choice = 0; !has(runnable, choice); ++choice) {
            }
        }
        result.schedule.push_back(choice);
        result.runnable.push_back(runnable);
        workers.step(choice);
        previous = choice;

        std::lock_guard<std::mutex> lock(hub.mutex);
        const WorkerState& state = worker(hub, choice);
        const std::string who = "T" + std::to_string(choice);
        if (state.threw) {
            result.trace.push_back(who + " threw: " + state.error);
            result.failure = who + " threw: " + state.error;
            break;
        }
        result.trace.push_back(who + " " + (state.finished ? std::string("finished") : state.point));
    }
    workers.release_and_join();

    if (result.failure.empty() && run.check) {
        try {
            result.failure = run.check();
        } catch (const std::exception& e) {
            result.failure = std::string("check() threw: ") + e.what();
        }
    }
    return result;
}

}  // namespace

InterleaveReport explore_interleavings(const std::function<InterleaveRun()>& make_run,
                                       InterleaveOptions options) {
    InterleaveReport report;
    // Each entry is a schedule prefix not yet run; every prefix is a distinct node of the tree,
    // because a run only branches at steps at or beyond the prefix it was given.
    std::vector<std::vector<int>> pending{{}};
    while (!pending.empty()) {
        if (report.schedules >= options.max_schedules) return report;  // exhausted stays false
        const std::vector<int> prefix = std::move(pending.back());
        pending.pop_back();
        RunResult run = run_once(make_run, prefix, options);
        ++report.schedules;
        if (!run.failure.empty()) {
            report.failure = std::move(run.failure);
            report.failing_trace = std::move(run.trace);
            report.failing_schedule = std::move(run.schedule);
            return report;
        }
        // preemptions[i] = preemptions among steps [0, i) of this run.
        const std::size_t steps = run.schedule.size();
        std::vector<int> preemptions(steps + 1, 0);
        for (std::size_t i = 1; i < steps; ++i) {
            const bool preempted = run.schedule[i] != run.schedule[i - 1] &&
                                   has(run.runnable[i], run.schedule[i - 1]);
            preemptions[i + 1] = preemptions[i] + (preempted ? 1 : 0);
        }
        for (std::size_t i = prefix.size(); i < steps; ++i) {
            for (int alt = 0; alt < static_cast<int>(max_threads); ++alt) {
                if (alt == run.schedule[i] || !has(run.runnable[i], alt)) continue;
                const bool preempts = i > 0 && has(run.runnable[i], run.schedule[i - 1]) &&
                                      alt != run.schedule[i - 1];
                const int total = preemptions[i] + (preempts ? 1 : 0);
                if (options.preemption_bound >= 0 && total > options.preemption_bound) continue;
                std::vector<int> next(run.schedule.begin(), run.schedule.begin() + static_cast<std::ptrdiff_t>(i));
                next.push_back(alt);
                pending.push_back(std::move(next));
            }
        }
    }
    report.exhausted = true;
    return report;
}

std::string replay_interleaving(const std::function<InterleaveRun()>& make_run,
                                const std::vector<int>& schedule, InterleaveOptions options) {
    return run_once(make_run, schedule, options).failure;
}

std::string describe(const InterleaveReport& report) {
    std::string out = std::to_string(report.schedules) + " schedules run";
    if (!report.failure.empty()) {
        out += "; failed: " + report.failure + "\nfailing schedule: " +
               join_schedule(report.failing_schedule) + "\ntrace:\n";
        append_trace(out, report.failing_trace);
    } else {
        out += report.exhausted ? ", all passed, exhausted\n"
                                : ", all passed, stopped at max_schedules (not exhausted)\n";
    }
    return out;
}

}  // namespace pane_test
