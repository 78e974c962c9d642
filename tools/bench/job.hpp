// SPDX-License-Identifier: MIT
// One measurement as a job: what the parent passes to the child it re-runs (as command-line
// arguments), and the window both processes run it in:
//
//   child: set up (attach, create, open)   -> ready, CPU accounting starts
//   parent: set up its side, start CPU accounting (/proc/stat, getrusage)
//   both:  floor probe (before) -> the measurement's body -> floor probe (after)
//   child: report (counts, errors, its CPU time) -> reported; exit
//   parent: stop CPU accounting; judge whether other processes used our CPUs meanwhile
#pragma once

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../cli.hpp"
#include "common.hpp"
#include "control.hpp"
#include "transports.hpp"

namespace bench {

struct Job {
    std::string kind = "stream";  // stream | roundtrip | publish | wake | frames
    std::string transport = "pane";
    std::size_t size = 16;
    std::string policy = "lossless";
    unsigned consumers = 1;
    std::string wait = "spin";  // Pane's wait strategy on the ring ends (wake: the parent's)
    unsigned rate = 0;          // wake: messages per second
    unsigned width = 0, height = 0, frames = 0;  // frames: iterations (each: the references, then two frames)
    double seconds = 0.1;    // how long the body runs (stream, roundtrip, publish, wake)
    std::string base{};      // prefix of every shm name of this run
    int cpu = -1;            // the child's CPU (-1: not pinned)
    int fd_a = -1, fd_b = -1;  // inherited descriptors (pipe, socket, eventfd)
    std::chrono::milliseconds probe{30};

    [[nodiscard]] std::vector<std::string> to_args() const {
        return {"--child",  kind,  "--transport", transport, "--size", std::to_string(size), "--policy", policy,
                "--consumers", std::to_string(consumers), "--wait", wait, "--rate", std::to_string(rate),
                "--width", std::to_string(width), "--height", std::to_string(height), "--frames", std::to_string(frames),
                "--seconds", fmt::format("{}", seconds), "--base", base,
                "--cpu", std::to_string(cpu), "--fd-a", std::to_string(fd_a), "--fd-b", std::to_string(fd_b)};
    }
    [[nodiscard]] static Job from(const pt::Options& o) {
        Job j;
        j.kind = o.str("child", "");
        j.transport = o.str("transport", "pane");
        j.size = o.num("size", 16);
        j.policy = o.str("policy", "lossless");
        j.consumers = static_cast<unsigned>(o.num("consumers", 1));
        j.wait = o.str("wait", "spin");
        j.rate = static_cast<unsigned>(o.num("rate", 0));
        j.width = static_cast<unsigned>(o.num("width", 0));
        j.height = static_cast<unsigned>(o.num("height", 0));
        j.frames = static_cast<unsigned>(o.num("frames", 0));
        j.seconds = std::stod(o.str("seconds", "0.1"));
        j.base = o.str("base", "");
        j.cpu = std::stoi(o.str("cpu", "-1"));
        j.fd_a = std::stoi(o.str("fd-a", "-1"));
        j.fd_b = std::stoi(o.str("fd-b", "-1"));
        return j;
    }
    [[nodiscard]] pane::RingPolicy ring_policy() const {
        return policy == "overwrite" ? pane::RingPolicy::overwrite : pane::RingPolicy::lossless;
    }
    [[nodiscard]] pane::AnyWait wait_strategy() const {
        auto w = pane::parse_wait(wait);
        if (!w) throw BenchError("unknown wait strategy " + wait);
        return *w;
    }
};

inline const std::vector<std::string> kChildOptions = {
    "child", "transport", "size", "policy", "consumers", "wait", "rate", "width", "height",
    "frames", "seconds", "base", "cpu", "fd-a", "fd-b"};

// The measurement window as the parent saw it.
struct Window {
    ProbeResult before, after;
    double wall_s = 0;
    double others_cpu = 0;  // CPU used by other processes on our CPUs, in CPUs (1.0 = one CPU)
    double steal_cpu = 0;   // time the hypervisor took, in CPUs
    bool noisy = false;     // others or steal above kNoisyShare of one CPU
    ChildReport child;
    std::uint64_t parent_cpu_ns = 0;

    [[nodiscard]] double floor_ns() const { return (before.ns.p50 + after.ns.p50) / 2; }
};

inline constexpr double kNoisyShare = 0.10;

// A file descriptor we own.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd& operator=(int fd) {
        reset();
        fd_ = fd;
        return *this;
    }
    ~Fd() { reset(); }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    [[nodiscard]] int get() const { return fd_; }

private:
    int fd_ = -1;
};

// What the parent creates for a measurement, before the child starts: the transport's objects,
// and the descriptors the child inherits (closed here once it runs, so a dead child's pipe
// reads as closed). `a` carries parent -> child, `b` child -> parent.
struct ParentLinks {
    std::optional<PaneRegion> pane_a;      // the parent produces
    std::optional<PaneAttachment> pane_b;  // the child produces (round trip, wake, frames)
    Fd pipe_a[2], pipe_b[2], sock[2], efd_a, efd_b;
    std::vector<Fd*> child_ends;  // the child's ends: inherited, then closed here
    std::vector<int> shared_fds;  // inherited, and used here too (eventfd)
    std::unique_ptr<bi::message_queue> mq_a, mq_b;
    std::vector<std::string> mq_names;
    std::optional<SpscSegment> spsc;

    ParentLinks() = default;
    ParentLinks(const ParentLinks&) = delete;
    ParentLinks& operator=(const ParentLinks&) = delete;
    ~ParentLinks() {
        mq_a.reset();
        mq_b.reset();
        for (const auto& n : mq_names) bi::message_queue::remove(n.c_str());
    }
    [[nodiscard]] std::vector<int> child_fds() const {
        std::vector<int> fds;
        for (const Fd* f : child_ends) fds.push_back(f->get());
        fds.insert(fds.end(), shared_fds.begin(), shared_fds.end());
        return fds;
    }
    void close_child_ends() {
        for (Fd* f : child_ends) f->reset();
    }
};

// The parent's side of a measurement. `after_ready` runs once the child is set up (attach to
// what it created); `body` is the measurement itself. Throws BenchError if either side fails.
template <class AfterReady, class Body>
Window run_window(ControlMap& ctl, const Job& job, ParentLinks& links, const std::vector<int>& cpus,
                  AfterReady&& after_ready, Body&& body) {
    ctl.reset();
    Child child(job.to_args(), links.child_fds());
    links.close_child_ends();
    g_peer_alive = [&child] { return child.alive(); };
    const auto budget = std::chrono::duration<double>(job.seconds * 2 + 60);
    g_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(budget);
    Window w;
    auto fail = [&](const std::string& what) {
        const std::string told(ctl->report.error);
        throw BenchError(told.empty() ? what : told);
    };
    try {
        spin([&] { return ctl->ready.load() != 0; }, "the child to set up");
        after_ready();
        const CpuTimes t0 = read_cpu_times(cpus);
        const std::uint64_t ru0 = cpu_ns();
        const auto wall0 = Clock::now();
        w.before = probe_parent(ctl.get(), job.probe, g_peer_alive);
        body();
        w.after = probe_parent(ctl.get(), job.probe, g_peer_alive);
        spin([&] { return ctl->reported.load() != 0; }, "the child's report");
        const auto wall1 = Clock::now();
        w.parent_cpu_ns = cpu_ns() - ru0;
        const CpuTimes t1 = read_cpu_times(cpus);
        w.child = ctl->report;
        w.wall_s = std::chrono::duration<double>(wall1 - wall0).count();
        if (t0.valid && t1.valid && w.wall_s > 0) {
            const double busy = static_cast<double>(t1.busy_ns - t0.busy_ns);
            const double ours = static_cast<double>(w.parent_cpu_ns + w.child.cpu_ns);
            w.others_cpu = std::max(0.0, busy - ours) / 1e9 / w.wall_s;
            w.steal_cpu = static_cast<double>(t1.steal_ns - t0.steal_ns) / 1e9 / w.wall_s;
            w.noisy = w.others_cpu > kNoisyShare || w.steal_cpu > kNoisyShare;
        }
    } catch (const BenchError& e) {
        fail(e.what());
    }
    const int code = child.wait();
    g_peer_alive = [] { return true; };
    if (code != 0) fail(fmt::format("the child exited with status {}", code));
    return w;
}

// Ends a child that failed: the error goes into its report, then the process exits at once. No
// destructor runs (no unwinding either): a consumer thread may still be reading a region that a
// destructor would unmap under it, and a crash there would lose the message.
[[noreturn]] inline void child_fail(ControlMap& ctl, const char* what) noexcept {
    std::snprintf(ctl->report.error, sizeof ctl->report.error, "child: %s", what);
    ctl->reported.store(1);
    std::_Exit(1);
}

// The child's side of the window around `body`, after its own set-up.
template <class Body>
void child_window(ControlMap& ctl, Body&& body) {
    const std::uint64_t cpu0 = cpu_ns();
    ctl->ready.store(1);
    probe_child(ctl.get(), g_peer_alive);
    body();
    probe_child(ctl.get(), g_peer_alive);
    ctl->report.cpu_ns = cpu_ns() - cpu0;
    ctl->reported.store(1);
}

// Runs f with std::integral_constant<std::size_t, S> for the message sizes the bench knows.
template <class F>
decltype(auto) with_size(std::size_t size, F&& f) {
    switch (size) {
        case 16: return f(std::integral_constant<std::size_t, 16>{});
        case 64: return f(std::integral_constant<std::size_t, 64>{});
        case 256: return f(std::integral_constant<std::size_t, 256>{});
        case 4096: return f(std::integral_constant<std::size_t, 4096>{});
        default: throw BenchError(fmt::format("message size {} is not one of 16, 64, 256, 4096", size));
    }
}

// Metrics of one measurement (one round of one cell), by name.
using Metrics = std::map<std::string, double>;

// A latency measurement's sample count and percentiles, in the metric names the report reads.
inline void put_latency(Metrics& out, std::vector<std::uint64_t>& samples) {
    const auto p = pt::percentiles(samples);
    out["samples"] = static_cast<double>(samples.size());
    out["p50_ns"] = p.p50;
    out["p99_ns"] = p.p99;
    out["p999_ns"] = p.p999;
    out["max_ns"] = p.max;
}

}  // namespace bench
