// SPDX-License-Identifier: MIT
// pane-bench: Pane's performance instrument. Every measurement runs between this process and a
// child (this program run again), pinned to two different CPUs, over POSIX shm; every message is
// checked (order and content) on every transport, Pane and baselines alike. Each measurement is
// bracketed by a floor probe (a one-cache-line ping-pong between the same two processes) and by
// CPU accounting that flags rounds in which other processes used our CPUs. The whole plan runs
// in rounds; the report gives medians over rounds. See docs/performance.md.
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <set>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/utsname.h>

#include "bench/common.hpp"
#include "bench/control.hpp"
#include "bench/frames.hpp"
#include "bench/job.hpp"
#include "bench/report.hpp"
#include "bench/streams.hpp"
#include "bench/transports.hpp"
#include "bench/wake.hpp"
#include "cli.hpp"

using namespace bench;

namespace {

constexpr const char* kHelp = R"(usage: pane-bench [SECTION...] [options]

Measures Pane between two pinned processes over POSIX shm against baselines measured in the same
run (pipe, eventfd, Unix socket, Boost.Interprocess message_queue, Boost.Lockfree spsc_queue in
shared memory, a one-cache-line ping-pong as the floor). Every message is verified.

Sections (default: all of them, in this order):
  ring        throughput, 1 consumer: 16/64/256/4096 B, lossless and overwrite, vs baselines;
              the batch API vs spsc_queue (16 B)
  fanout      throughput with 1/2/8/32 consumers; producer cost per push with 1 vs 32 consumers
  roundtrip   round trip over two lossless rings vs the floor and the baselines (p50/p99/p99.9)
  wait        wake latency and CPU of the waiting side per wait strategy, at 1 kHz and 60 Hz
  frames      1920x1080 and 3840x2160 BGRA: the child writes each frame with copy_rows, the
              parent reads every row (progressive on/off); vs a streaming (NT) copy, memcpy
              and a read pass timed by the child in the same iterations

Options:
  --quick         short rounds, 3 of them (under a minute); the default is the full run
  --rounds N      rounds, 1..1000 (default 5, or 3 with --quick)
  --json          print one JSON document (every round of every measurement) instead of tables
  --markdown      print the tables as markdown (for docs/performance.md)
  --plot DIR      also write DIR/bench.json and PNG charts into DIR (scripts/plot-bench.py)
  --no-pin        do not pin the two processes to CPUs
  --help          this text
  --version       the Pane library and protocol versions
Exit status: 0 if every message of every measurement arrived intact (targets never fail the
run), 1 if a message failed verification or a measurement failed, 2 on usage errors.
)";

const std::vector<std::string> kSections = {"ring", "fanout", "roundtrip", "wait", "frames"};
const std::vector<std::size_t> kSizes = {16, 64, 256, 4096};

struct Settings {
    bool quick = false;
    unsigned rounds = 5;
    double body_s = 0.25;       // stream/roundtrip/publish body
    double fanout_s = 0.15;     // fan-out bodies (many threads on one CPU: kept short)
    double wake_fast_s = 1.0;   // 1 kHz
    double wake_slow_s = 2.0;   // 60 Hz
    unsigned frames = 30;       // frames: iterations per round (the references and two frames each)
    std::chrono::milliseconds probe{30};
    std::vector<std::size_t> fanout_sizes = kSizes;
};

Settings settings_for(bool quick) {
    Settings s;
    if (quick) {
        s.quick = true;
        s.rounds = 3;
        s.body_s = 0.04;
        s.fanout_s = 0.04;
        s.wake_fast_s = 0.2;
        s.wake_slow_s = 0.3;
        s.frames = 5;
        s.probe = std::chrono::milliseconds(10);
        s.fanout_sizes = {16};
    }
    return s;
}

// ---------------------------------------------------------------------------------------------
// The plan: every cell of every selected section.

Runner stream_runner() {
    return [](ControlMap& c, Job j, const std::vector<int>& cpus, Metrics& m) {
        return with_size(j.size, [&](auto s) { return parent_stream<decltype(s)::value>(c, j, cpus, m); });
    };
}
Runner roundtrip_runner() {
    return [](ControlMap& c, Job j, const std::vector<int>& cpus, Metrics& m) {
        return with_size(j.size, [&](auto s) { return parent_roundtrip<decltype(s)::value>(c, j, cpus, m); });
    };
}

std::vector<Cell> plan(const std::vector<std::string>& sections, const Settings& st, const std::string& base, int child_cpu) {
    std::vector<Cell> cells;
    const auto add = [&](std::string section, std::string label, Job j, Runner run) {
        j.base = base;
        j.cpu = child_cpu;
        j.probe = st.probe;
        cells.push_back(Cell{std::move(section), std::move(label), std::move(j), std::move(run), {}});
    };
    const auto want = [&](const char* s) { return std::find(sections.begin(), sections.end(), s) != sections.end(); };
    if (want("ring")) {
        for (std::size_t size : kSizes) {
            for (const char* policy : {"lossless", "overwrite"}) {
                add("ring", "pane", Job{.transport = "pane", .size = size, .policy = policy, .seconds = st.body_s}, stream_runner());
            }
            add("ring", "pane", Job{.transport = "pane", .size = size, .wait = "auto", .seconds = st.body_s}, stream_runner());
            for (const auto& [t, label] : std::vector<std::pair<const char*, const char*>>{
                     {"spsc", "boost spsc_queue"}, {"mq", "boost message_queue"}, {"pipe", "pipe"}, {"uds", "unix socket"}}) {
                add("ring", label, Job{.transport = t, .size = size, .wait = "-", .seconds = st.body_s}, stream_runner());
            }
        }
        if constexpr (kHaveBatchApi) {
            add("ring", "pane batch", Job{.transport = "pane-batch", .size = 16, .seconds = st.body_s}, stream_runner());
        }
        add("ring", "boost spsc_queue batch", Job{.transport = "spsc-batch", .size = 16, .wait = "-", .seconds = st.body_s},
            stream_runner());
    }
    if (want("fanout")) {
        for (std::size_t size : st.fanout_sizes) {
            for (const char* policy : {"lossless", "overwrite"}) {
                for (unsigned n : {1u, 2u, 8u, 32u}) {
                    add("fanout", "pane",
                        Job{.transport = "pane", .size = size, .policy = policy, .consumers = n, .wait = "auto", .seconds = st.fanout_s},
                        stream_runner());
                }
            }
        }
        // The consumers poll (yield) rather than sleep: with 32 threads sharing one CPU they are
        // asleep most of the time under auto, and then every publish pays the wake system call
        // (one, whoever sleeps), which would measure the scheduler, not the publish path.
        for (unsigned n : {1u, 32u}) {
            add("fanout", "publish cost",
                Job{.kind = "publish", .transport = "pane", .size = 16, .consumers = n, .wait = "yield", .seconds = st.fanout_s},
                parent_publish);
        }
    }
    if (want("roundtrip")) {
        for (std::size_t size : kSizes) {
            for (const auto& [t, label] : std::vector<std::pair<const char*, const char*>>{
                     {"pane", "pane"}, {"spsc", "boost spsc_queue"}, {"eventfd", "eventfd"}, {"pipe", "pipe"},
                     {"uds", "unix socket"}, {"mq", "boost message_queue"}}) {
                add("roundtrip", label, Job{.kind = "roundtrip", .transport = t, .size = size, .wait = t == std::string("pane") ? "spin" : "-",
                                            .seconds = st.body_s}, roundtrip_runner());
            }
        }
    }
    if (want("wait")) {
        for (unsigned rate : {1000u, 60u}) {
            for (const char* w : {"spin", "yield", "sleep", "futex", "auto", "poll1ms"}) {
                add("wait", w, Job{.kind = "wake", .wait = w, .rate = rate, .seconds = rate >= 1000 ? st.wake_fast_s : st.wake_slow_s},
                    parent_wake);
            }
        }
    }
    if (want("frames")) {
        // The consumer waits with auto, as a viewer does; wait_rows polls while rows arrive.
        for (const auto& [w, h] : std::vector<std::pair<unsigned, unsigned>>{{1920, 1080}, {3840, 2160}}) {
            add("frames", "pane", Job{.kind = "frames", .wait = "auto", .width = w, .height = h, .frames = st.frames},
                parent_frames);
        }
    }
    return cells;
}

std::string cell_title(const Cell& c) {
    const Job& j = c.job;
    if (c.section == "wait") return fmt::format("wait {} at {} Hz", c.label, j.rate);
    if (c.section == "frames") return fmt::format("frames {}x{}", j.width, j.height);
    return fmt::format("{} {} {} B {} {}x", c.section, c.label, j.size, j.policy, j.consumers);
}

// ---------------------------------------------------------------------------------------------
// Running

int run_child(const pt::Options& opt) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent (a child may block in read)
    const Job job = Job::from(opt);
    ControlMap ctl(job.base + "-ctl", false);
    pin_to(job.cpu);
    const pid_t parent = ::getppid();
    g_peer_alive = [parent] { return ::getppid() == parent; };
    g_deadline = Clock::now() + std::chrono::seconds(static_cast<long>(job.seconds * 2) + 120);
    try {
        if (job.kind == "stream" || job.kind == "publish") {
            with_size(job.size, [&](auto s) { child_stream<decltype(s)::value>(ctl, job); });
        } else if (job.kind == "roundtrip") {
            with_size(job.size, [&](auto s) { child_echo<decltype(s)::value>(ctl, job); });
        } else if (job.kind == "wake") {
            child_wake(ctl, job);
        } else if (job.kind == "frames") {
            child_frames(ctl, job);
        } else {
            throw BenchError("unknown child job " + job.kind);
        }
    } catch (const std::exception& e) {
        child_fail(ctl, e.what());
    }
    return 0;
}

void run_rounds(std::vector<Cell>& cells, const Settings& st, ControlMap& ctl, const std::vector<int>& cpus, bool quiet) {
    pt::StatusLine status;
    for (unsigned round = 0; round < st.rounds; ++round) {
        for (std::size_t i = 0; i < cells.size(); ++i) {
            Cell& c = cells[i];
            if (!quiet) status.show(fmt::format("round {}/{}  [{}/{}] {}", round + 1, st.rounds, i + 1, cells.size(), cell_title(c)));
            RoundResult r;
            try {
                r.window = c.run(ctl, c.job, cpus, r.metrics);
            } catch (const std::exception& e) {
                r.failure = e.what();
                r.metrics.clear();
                status.done();
                fmt::print(stderr, "pane-bench: {}: {}\n", cell_title(c), r.failure);
            }
            c.rounds.push_back(std::move(r));
        }
    }
    status.done();
}

// ---------------------------------------------------------------------------------------------
// Report

struct Machine {
    std::string cpu_model, kernel, date;
    unsigned online_cpus = 0;
    std::vector<int> allowed;
    int parent_cpu = -1, child_cpu = -1;
    bool pinned = false;
};

Machine describe_machine(int parent_cpu, int child_cpu, bool pinned) {
    Machine m;
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("model name", 0) == 0) {
            m.cpu_model = line.substr(line.find(':') + 2);
            break;
        }
    }
    utsname u{};
    if (::uname(&u) == 0) m.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
    const std::time_t now = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    m.date = buf;
    m.online_cpus = static_cast<unsigned>(::sysconf(_SC_NPROCESSORS_ONLN));
    m.allowed = allowed_cpus();
    m.parent_cpu = parent_cpu;
    m.child_cpu = child_cpu;
    m.pinned = pinned;
    return m;
}

const Cell* find(const std::vector<Cell>& cells, const std::string& section, const std::string& label, std::size_t size,
                 const std::string& policy = "lossless", const std::string& wait = "", unsigned consumers = 1) {
    for (const auto& c : cells) {
        if (c.section == section && c.label == label && c.job.size == size && c.job.policy == policy &&
            c.job.consumers == consumers && (wait.empty() || c.job.wait == wait)) {
            return &c;
        }
    }
    return nullptr;
}

std::string noise_note(const Cell& c) {
    const unsigned n = c.noisy_rounds();
    return n == 0 ? "" : fmt::format(" ({}/{} noisy)", n, c.rounds.size());
}

std::vector<Table> tables(const std::vector<Cell>& cells) {
    std::vector<Table> out;
    Table ring{"Throughput, one consumer (median over rounds; each transport checks every message)",
               {"size", "transport", "policy", "wait", "M msg/s", "MiB/s", "vs spsc_queue", "ns/msg / floor", "delivered", "result"}, {},
               "vs spsc_queue: this row's messages/s over Boost spsc_queue's at the same size, same run. "
               "ns/msg / floor: time per message over the floor round trip measured around it."};
    Table fan{"Fan-out: one producer, N consumers (threads of the child, all on the child's CPU; consumers wait with auto)",
              {"size", "policy", "consumers", "M msg/s", "delivered", "ns/msg / floor", "result"}, {},
              "M msg/s: messages published per second with every consumer checking every message it got; "
              "delivered: share of (messages x consumers) received (overwrite consumers lose what they fall behind on)."};
    Table pub{"Publish cost: producer time per push, 16 B lossless, the clock stopped while the ring is full",
              {"consumers attached", "ns/push", "vs 1 consumer", "result"}, {}, ""};
    Table rt{"Round trip (parent -> child -> parent, every message checked on both sides; median over rounds of each round's percentile)",
             {"size", "transport", "p50", "p99", "p99.9", "p50 / floor", "floor p50", "result"}, {},
             "floor: a one-cache-line ping-pong between the same two pinned processes, measured right before and after each row."};
    Table wt{"Wake latency per wait strategy (publish -> pop returns) and the waiting side's CPU",
             {"rate", "strategy", "p50", "p99", "p99.9", "CPU %", "samples/round", "result"}, {},
             "poll1ms: try_pop, else sleep 1 ms (how Looking Glass waits); not a Pane strategy."};
    Table fr{"Frames, BGRA: producer begin() -> consumer has read every row (median over rounds of each round's p50/p99)",
             {"frame", "what", "p50", "p99", "vs NT copy", "preempted", "result"}, {},
             "pane: the child writes each frame from a private buffer with copy_rows (progress every 128 KiB); the parent "
             "reads rows as they are published (progressive) or after the last (whole frame), waiting with auto. "
             "References, timed by the child in the same iterations from a scrubbed cache: stream_copy into 3 rotating "
             "targets (NT copy), memcpy, a read pass. p50 leaves out samples in which the child, or the parent once it had "
             "the frame, was preempted; p99 keeps them. vs NT copy: the median of each round's ratio. preempted: samples "
             "left out of a round, of all its samples."};
    for (const auto& c : cells) {
        const Job& j = c.job;
        if (c.section == "ring") {
            const Cell* spsc = find(cells, "ring", "boost spsc_queue", j.size, "lossless", "-");
            const double rate = c.median_of("msgs_per_s");
            const double vs = spsc != nullptr && spsc->has("msgs_per_s") ? rate / spsc->median_of("msgs_per_s") : 0;
            ring.rows.push_back({fmt::format("{} B", j.size), c.label, j.transport.rfind("pane", 0) == 0 ? j.policy : "-", j.wait,
                                 fmt::format("{:.2f}", rate / 1e6), fmt::format("{:.0f}", c.median_of("mib_per_s")), fmt_ratio(vs),
                                 fmt_ratio(c.median_of("ns_per_msg") / c.median_floor()),
                                 fmt::format("{:.1f}%", 100 * c.median_of("delivered_share")), c.verdict() + noise_note(c)});
        } else if (c.section == "fanout" && j.kind == "publish") {
            const Cell* one = nullptr;
            for (const auto& o : cells) {
                if (o.job.kind == "publish" && o.job.consumers == 1) one = &o;
            }
            const double ns = c.median_of("ns_per_push");
            pub.rows.push_back({std::to_string(j.consumers), fmt::format("{:.1f}", ns),
                                one != nullptr ? fmt_ratio(ns / one->median_of("ns_per_push")) : "-", c.verdict() + noise_note(c)});
        } else if (c.section == "fanout") {
            fan.rows.push_back({fmt::format("{} B", j.size), j.policy, std::to_string(j.consumers),
                                fmt::format("{:.2f}", c.median_of("msgs_per_s") / 1e6),
                                fmt::format("{:.1f}%", 100 * c.median_of("delivered_share")),
                                fmt_ratio(c.median_of("ns_per_msg") / c.median_floor()), c.verdict() + noise_note(c)});
        } else if (c.section == "roundtrip") {
            rt.rows.push_back({fmt::format("{} B", j.size), c.label, fmt_ns(c.median_of("p50_ns")), fmt_ns(c.median_of("p99_ns")),
                               fmt_ns(c.median_of("p999_ns")), fmt_ratio(c.median_of("p50_ns") / c.median_floor()),
                               fmt_ns(c.median_floor()), c.verdict() + noise_note(c)});
        } else if (c.section == "wait") {
            wt.rows.push_back({fmt::format("{} Hz", j.rate), c.label, fmt_ns(c.median_of("p50_ns")), fmt_ns(c.median_of("p99_ns")),
                               fmt_ns(c.median_of("p999_ns")), fmt::format("{:.1f}", c.median_of("cpu_pct")),
                               fmt::format("{:.0f}", c.median_of("samples")), c.verdict() + noise_note(c)});
        } else if (c.section == "frames") {
            const std::string frame = fmt::format("{}x{}", j.width, j.height);
            const std::string preempted = fmt::format("{:.0f}/{:.0f}", c.median_of("preempted"), c.median_of("samples"));
            const std::string result = c.verdict() + noise_note(c);
            const auto row = [&](std::string what, const std::string& key, std::string p99, std::string left_out) {
                fr.rows.push_back({frame, std::move(what), fmt_ns(c.median_of(key + "_ns")), std::move(p99),
                                   fmt_ratio(c.median_of(key + "_vs_nt")), std::move(left_out), result});
            };
            row("pane, progressive (wait " + j.wait + ")", "progressive_p50", fmt_ns(c.median_of("progressive_p99_ns")), preempted);
            row("pane, whole frame", "whole_p50", fmt_ns(c.median_of("whole_p99_ns")), preempted);
            row("  of which copy_rows (producer)", "progressive_write", "-", "");
            for (const auto& [what, key] : std::vector<std::pair<const char*, std::string>>{
                     {"NT copy (stream_copy)", "nt_copy"}, {"memcpy", "memcpy"}, {"read pass", "read"}}) {
                row(fmt::format("{} ({:.1f} GB/s)", what, c.median_of(key + "_gbps")), key, "-", "");
            }
        }
    }
    for (Table* t : {&ring, &fan, &pub, &rt, &wt, &fr}) {
        if (!t->rows.empty()) out.push_back(std::move(*t));
    }
    return out;
}

struct Target {
    std::string name;
    std::string measured;
    std::string goal;
    double ratio = 0;  // measured / goal reference, in the target's direction
    bool available = false;
    bool pass = false;
};

std::vector<Target> targets(const std::vector<Cell>& cells) {
    std::vector<Target> out;
    // `measured` is shown even when the target cannot be judged (available == false) if it says why.
    const auto add = [&](std::string name, bool available, double ratio, bool pass, std::string measured, std::string goal) {
        if (!available && (measured.empty() || measured.find("no round") != 0)) measured = "not measured";
        out.push_back({std::move(name), std::move(measured), std::move(goal), ratio, available, pass});
    };
    const Cell* spsc = find(cells, "ring", "boost spsc_queue", 16, "lossless", "-");
    const double spsc_rate = spsc != nullptr ? spsc->median_of("msgs_per_s") : 0;
    for (const char* wait : {"spin", "auto"}) {
        const Cell* c = find(cells, "ring", "pane", 16, "lossless", wait);
        const double r = c != nullptr && spsc_rate > 0 ? c->median_of("msgs_per_s") / spsc_rate : 0;
        add(fmt::format("lossless ring (wake-ups on, wait {}) throughput, 16 B", wait), r > 0, r, r >= 1.0,
            fmt::format("{:.2f}x spsc_queue", r), ">= 1.0x spsc_queue");
    }
    {
        const Cell* c = find(cells, "ring", "pane batch", 16, "lossless", "spin");
        const double r = c != nullptr && spsc_rate > 0 ? c->median_of("msgs_per_s") / spsc_rate : 0;
        add("batch API throughput, 16 B", r > 0, r, r >= 3.0,
            kHaveBatchApi ? fmt::format("{:.2f}x spsc_queue", r) : "no batch API in this Pane", ">= 3x spsc_queue");
    }
    for (std::size_t size : kSizes) {
        const Cell* c = find(cells, "roundtrip", "pane", size);
        if (c == nullptr) continue;
        const double p50 = c->median_of("p50_ns"), floor = c->median_floor();
        const double r = floor > 0 ? p50 / floor : 0;
        add(fmt::format("round trip p50, {} B", size), r > 0, r, r <= 1.1, fmt::format("{} = {:.2f}x floor", fmt_ns(p50), r),
            "<= 1.1x floor");
        // Judged on the rounds in which the floor probes met the same bound: elsewhere the
        // machine, not the transport, made the tail (docs/performance.md, "Round trip").
        std::size_t quiet = 0;
        const double tail = c->median_tail_in_quiet_rounds(5.0, quiet);
        const double all_tail = p50 > 0 ? c->median_of("p999_ns") / p50 : 0;
        add(fmt::format("round trip p99.9, {} B", size), quiet > 0, tail, tail <= 5.0,
            quiet > 0 ? fmt::format("{:.2f}x p50 in {} of {} rounds with a quiet floor (all: {:.1f}x)", tail, quiet,
                                    c->rounds.size(), all_tail)
                      : fmt::format("no round with a quiet floor (all: {:.1f}x)", all_tail),
            "<= 5x p50");
    }
    for (const auto& c : cells) {
        if (c.section != "frames" || c.job.width != 3840) continue;
        const double r = c.median_of("progressive_p50_vs_nt");
        add("4K frame write -> read all (progressive)", r > 0, r, r <= 1.2,
            fmt::format("{:.2f}x NT copy ({} vs {})", r, fmt_ns(c.median_of("progressive_p50_ns")), fmt_ns(c.median_of("nt_copy_ns"))),
            "<= 1.2x NT copy");
    }
    {
        const Cell* one = nullptr;
        const Cell* many = nullptr;
        for (const auto& c : cells) {
            if (c.job.kind == "publish") (c.job.consumers == 1 ? one : many) = &c;
        }
        const double r = one != nullptr && many != nullptr && one->median_of("ns_per_push") > 0
                             ? many->median_of("ns_per_push") / one->median_of("ns_per_push") : 0;
        add("publish cost, 32 consumers vs 1", r > 0, r, r <= 1.2, fmt::format("{:.2f}x", r), "<= 1.2x");
    }
    for (const char* wait : {"futex", "auto"}) {
        const Cell* c = nullptr;
        for (const auto& o : cells) {
            if (o.section == "wait" && o.label == wait && o.job.rate == 1000) c = &o;
        }
        const bool have = c != nullptr && c->has("cpu_pct");
        const double cpu = have ? c->median_of("cpu_pct") : 0, p50 = have ? c->median_of("p50_ns") : 0;
        add(fmt::format("{} waiting at 1 kHz: CPU", wait), have, cpu / 2.0, have && cpu < 2.0, fmt::format("{:.2f}%", cpu), "< 2%");
        add(fmt::format("{} waiting at 1 kHz: wake p50", wait), have, p50 / 100e3, have && p50 <= 100e3, fmt_ns(p50), "<= 100 us");
    }
    return out;
}

Table targets_table(const std::vector<Target>& ts) {
    Table t{"Targets (reported, never a failure of the run)", {"target", "measured", "goal", "result"}, {}, ""};
    for (const auto& x : ts) t.rows.push_back({x.name, x.measured, x.goal, !x.available ? "n/a" : x.pass ? "PASS" : "FAIL"});
    return t;
}

void write_json(Json& j, const Machine& m, const Settings& st, const std::vector<std::string>& sections,
                const std::vector<Cell>& cells, const std::vector<Target>& ts, bool ok) {
    j.open('{');
    j.kv("tool", "pane-bench");
    j.kv("date", m.date);
    j.key("machine");
    j.open('{');
    j.kv("cpu_model", m.cpu_model);
    j.kv("kernel", m.kernel);
    j.kv("online_cpus", m.online_cpus);
    j.kv_bool("pinned", m.pinned);
    j.kv("parent_cpu", m.parent_cpu);
    j.kv("child_cpu", m.child_cpu);
    j.close('}');
    j.key("flags");
    j.open('{');
    j.kv_bool("quick", st.quick);
    j.kv("rounds", st.rounds);
    j.kv("body_s", st.body_s);
    j.kv("probe_ms", static_cast<double>(st.probe.count()));
    j.kv("noisy_threshold_cpu", kNoisyShare);
    j.kv_bool("batch_api", kHaveBatchApi);
    j.key("sections");
    j.open('[');
    for (const auto& s : sections) j.str(s);
    j.close(']');
    j.close('}');
    j.key("measurements");
    j.open('[');
    for (const auto& c : cells) {
        j.open('{');
        j.kv("section", c.section);
        j.kv("label", c.label);
        j.kv("kind", c.job.kind);
        j.kv("transport", c.job.transport);
        j.kv("size", static_cast<double>(c.job.size));
        j.kv("policy", c.job.policy);
        j.kv("consumers", c.job.consumers);
        j.kv("wait", c.job.wait);
        if (c.job.rate != 0) j.kv("rate_hz", c.job.rate);
        if (c.job.width != 0) {
            j.kv("width", c.job.width);
            j.kv("height", c.job.height);
        }
        j.kv("floor_p50_ns", c.median_floor());
        j.kv("errors", static_cast<double>(c.errors()));
        j.kv("failed_rounds", c.failures());
        j.kv("noisy_rounds", c.noisy_rounds());
        j.key("median");
        j.open('{');
        std::set<std::string> names;
        for (const auto& r : c.rounds) {
            for (const auto& [k, v] : r.metrics) names.insert(k);
        }
        for (const auto& k : names) j.kv(k, c.median_of(k));
        j.close('}');
        j.key("rounds");
        j.open('[');
        for (const auto& r : c.rounds) {
            j.open('{');
            if (!r.failure.empty()) j.kv("failure", r.failure);
            for (const auto& [k, v] : r.metrics) j.kv(k, v);
            const Window& w = r.window;
            j.key("floor");
            j.open('{');
            j.kv("before_p50_ns", w.before.ns.p50);
            j.kv("before_p99_ns", w.before.ns.p99);
            j.kv("before_p999_ns", w.before.ns.p999);
            j.kv("after_p50_ns", w.after.ns.p50);
            j.kv("after_p99_ns", w.after.ns.p99);
            j.kv("after_p999_ns", w.after.ns.p999);
            j.kv("samples", static_cast<double>(w.before.samples + w.after.samples));
            j.close('}');
            j.kv("window_s", w.wall_s);
            j.kv("others_cpu", w.others_cpu);
            j.kv("steal_cpu", w.steal_cpu);
            j.kv_bool("noisy", w.noisy);
            j.kv("parent_cpu_s", static_cast<double>(w.parent_cpu_ns) / 1e9);
            j.kv("child_cpu_s", static_cast<double>(w.child.cpu_ns) / 1e9);
            j.close('}');
        }
        j.close(']');
        j.close('}');
    }
    j.close(']');
    j.key("targets");
    j.open('[');
    for (const auto& t : ts) {
        j.open('{');
        j.kv("name", t.name);
        j.kv("measured", t.measured);
        j.kv("goal", t.goal);
        j.kv("ratio", t.ratio);
        j.kv_bool("available", t.available);
        j.kv_bool("pass", t.pass);
        j.close('}');
    }
    j.close(']');
    j.kv_bool("ok", ok);
    j.close('}');
}

void print_header(const Machine& m, const Settings& st, std::size_t cells, double seconds) {
    fmt::print("pane-bench, {}: {} round{} of {} measurements in {:.0f} s ({})\n", m.date, st.rounds, st.rounds == 1 ? "" : "s",
               cells, seconds, st.quick ? "quick" : "full");
    fmt::print("machine: {}, {} online CPUs, {}\n", m.cpu_model, m.online_cpus, m.kernel);
    if (m.pinned) {
        fmt::print("processes pinned: parent (producer / initiator) on CPU {}, child on CPU {}\n", m.parent_cpu, m.child_cpu);
    } else {
        fmt::print("processes NOT pinned (fewer than 2 usable CPUs, or --no-pin)\n");
    }
    fmt::print("a round is noisy when other processes (or the hypervisor) took more than {:.0f}% of one CPU during it\n",
               kNoisyShare * 100);
}

#ifndef PANE_BENCH_PLOT_SCRIPT
#define PANE_BENCH_PLOT_SCRIPT "scripts/plot-bench.py"
#endif

int run(int argc, char** argv) {
    const pt::Options opt(argc, argv, {"json", "markdown", "quick", "help", "no-pin", "version"});
    if (opt.has("child")) {
        opt.require_known(kChildOptions);
        return run_child(opt);
    }
    opt.require_known({"json", "markdown", "quick", "help", "no-pin", "rounds", "plot", "version"});
    if (opt.has("help")) {
        fmt::print("{}", kHelp);
        return 0;
    }
    if (opt.has("version")) {
        pt::print_version("pane-bench");
        return 0;
    }
    std::vector<std::string> sections;
    for (const auto& p : opt.positional()) {
        if (std::find(kSections.begin(), kSections.end(), p) == kSections.end()) {
            throw pt::UsageError("unknown section '" + p + "' (sections: ring, fanout, roundtrip, wait, frames)");
        }
        sections.push_back(p);
    }
    if (sections.empty()) sections = kSections;
    Settings st = settings_for(opt.has("quick"));
    st.rounds = static_cast<unsigned>(opt.num_in("rounds", st.rounds, 1, 1000));
    if (opt.has("plot") && opt.str("plot", "").empty()) throw pt::UsageError("--plot wants a directory");
    const bool json = opt.has("json");

    const auto cpus = allowed_cpus();
    const bool pin = !opt.has("no-pin") && cpus.size() >= 2;
    g_single_cpu = cpus.size() < 2;
    const int parent_cpu = pin ? cpus[0] : -1, child_cpu = pin ? cpus[1] : -1;
    if (pin && !pin_to(parent_cpu)) throw BenchError("sched_setaffinity failed");
    const std::vector<int> accounted = pin ? std::vector<int>{parent_cpu, child_cpu} : std::vector<int>{};

    // A child that dies must interrupt a blocking read of ours on a descriptor we also hold
    // (an eventfd never reads as closed): SIGCHLD without SA_RESTART makes it return EINTR, and
    // the reader then asks whether the child is still alive.
    struct sigaction sa{};
    sa.sa_handler = [](int) {};
    ::sigaction(SIGCHLD, &sa, nullptr);

    const std::string base = "pane-bench-" + std::to_string(::getpid());
    ControlMap ctl(base + "-ctl", true);
    auto cells = plan(sections, st, base, child_cpu);
    const auto t0 = Clock::now();
    run_rounds(cells, st, ctl, accounted, json);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

    bool ok = true;
    for (const auto& c : cells) ok = ok && c.errors() == 0 && c.failures() == 0;
    const Machine m = describe_machine(parent_cpu, child_cpu, pin);
    const auto ts = targets(cells);
    Json j;
    write_json(j, m, st, sections, cells, ts, ok);
    if (json) {
        fmt::print("{}\n", j.text());
    } else {
        print_header(m, st, cells.size(), seconds);
        for (const auto& t : tables(cells)) t.print(opt.has("markdown"));
        targets_table(ts).print(opt.has("markdown"));
        fmt::print("\nresult: {}\n", ok ? "OK, every message of every measurement arrived in order and intact"
                                         : "FAILED: a message failed verification or a measurement failed (see above)");
    }
    if (opt.has("plot")) {
        const std::string dir = opt.str("plot", ".");
        const std::string path = dir + "/bench.json";
        std::ofstream(path) << j.text() << "\n";
        // Debian's python3 has python3-matplotlib; a python3 earlier on PATH (pyenv) may not.
        const char* python = ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
        const std::string cmd = fmt::format("{} '{}' '{}' '{}'", python, PANE_BENCH_PLOT_SCRIPT, path, dir);
        std::fflush(stdout);  // our tables first, then the script's line
        if (std::system(cmd.c_str()) != 0) fmt::print(stderr, "pane-bench: plotting failed: {}\n", cmd);
    }
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::invalid_argument& e) {  // pt::UsageError
        pt::print_usage_error("pane-bench", e.what());
        return 2;
    } catch (const std::exception& e) {
        fmt::print(stderr, "pane-bench: {}\n", e.what());
        return 1;
    }
}
