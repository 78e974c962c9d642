// SPDX-License-Identifier: MIT
// Wake latency per wait strategy. The child publishes one message every 1/rate seconds into a
// Pane lossless ring (16 slots of WakeMsg), stamping it just before the push; the parent waits
// for each with the strategy under test and takes the time the moment pop returns. Between
// messages the parent is idle, so this is the cost of waking up: the latency of the strategy,
// and (from getrusage over the body) the CPU the waiting side burns meanwhile.
//
// "poll1ms" is no Pane strategy: try_pop, and if nothing is there sleep 1 ms, which is how a
// Looking Glass client waits for frames and cursor updates.
#pragma once

#include <thread>

#include <time.h>

#include "job.hpp"

namespace bench {

struct WakeMsg {
    std::uint64_t seq;
    std::uint64_t sent_ns;
    std::uint64_t check;  // filler(seq, sent_ns): ties the stamp to its message
};

inline pane::RegionSpec wake_region_spec() {
    auto spec = ring_region_spec("wake", sizeof(WakeMsg), 16, pane::RingPolicy::lossless);
    spec.max_consumers = 4;
    return spec;
}

inline void sleep_until_ns(std::uint64_t t) {
    timespec ts{static_cast<time_t>(t / 1'000'000'000ull), static_cast<long>(t % 1'000'000'000ull)};
    while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

// The parent: consumer with the strategy under test. Metrics: wake latency percentiles and the
// waiting side's CPU share during the body.
inline Window parent_wake(ControlMap& ctl, Job job, const std::vector<int>& cpus, Metrics& out) {
    ParentLinks links;
    std::vector<std::uint64_t> samples;
    std::uint64_t errors = 0, cpu_used = 0;
    double body_s = 0;
    const bool poll = job.wait == "poll1ms";
    std::optional<pane::RingConsumer<WakeMsg>> rx;
    const auto attach = [&] {
        links.pane_b.emplace(job.base + "-b");
        rx.emplace(links.pane_b->session().ring<WakeMsg>("wake").value());  // subscribed before the window
    };
    Window w = run_window(ctl, job, links, cpus, attach, [&] {
        const pane::AnyWait strategy = poll ? pane::AnyWait{pane::BusySpin{}} : job.wait_strategy();
        const std::uint64_t cpu0 = cpu_ns(RUSAGE_THREAD);
        const std::uint64_t t0 = now_ns();
        WakeMsg m{};
        for (std::uint64_t expect = 0;; ++expect) {
            pane::PopResult r{pane::PopStatus::empty};
            for (;;) {
                r = poll ? rx->try_pop(m) : rx->pop(m, strategy, pane::Deadline::after(200ms));
                if (r.status == pane::PopStatus::ok) break;
                if (r.status != pane::PopStatus::empty && r.status != pane::PopStatus::timed_out) {
                    throw BenchError(std::string("wake ring pop: ") + pop_status_name(r.status));
                }
                if (poll) {
                    std::this_thread::sleep_for(1ms);
                } else {
                    check_peer("a wake-up wait");
                }
            }
            const std::uint64_t t = now_ns();
            if (m.check != filler(m.seq, m.sent_ns)) ++errors;
            if ((m.seq & kEndBit) != 0) {
                if ((m.seq & ~kEndBit) != expect) ++errors;
                break;
            }
            if (m.seq != expect || r.lost != 0) ++errors;
            samples.push_back(t - m.sent_ns);
        }
        body_s = static_cast<double>(now_ns() - t0) / 1e9;
        cpu_used = cpu_ns(RUSAGE_THREAD) - cpu0;
    });
    put_latency(out, samples);
    out["cpu_pct"] = body_s > 0 ? 100.0 * static_cast<double>(cpu_used) / 1e9 / body_s : 0;
    out["errors"] = static_cast<double>(errors);
    return w;
}

// The child: publishes at job.rate for job.seconds, then the end marker.
inline void child_wake(ControlMap& ctl, const Job& job) {
    PaneRegion region(job.base + "-b", wake_region_spec());
    auto tx = region.session().ring<WakeMsg>("wake").value();
    child_window(ctl, [&] {
        spin([&] { return tx.bytes().subscribers_approx() > 0; }, "the waiting side to subscribe");
        const std::uint64_t period = 1'000'000'000ull / std::max(1u, job.rate);
        const std::uint64_t count = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(job.seconds * job.rate));
        std::uint64_t next = now_ns();
        for (std::uint64_t seq = 0; seq <= count; ++seq) {
            next += period;
            sleep_until_ns(next);
            WakeMsg m{seq == count ? (kEndBit | count) : seq, now_ns(), 0};
            m.check = filler(m.seq, m.sent_ns);
            const auto st = tx.push(m, pane::BusySpin{}, pane::Deadline::after(5s));
            if (st != pane::PushStatus::ok) throw BenchError(std::string("wake ring push: ") + push_status_name(st));
        }
    });
}

}  // namespace bench
