// SPDX-License-Identifier: MIT
// pane-bench building blocks shared by every section: the clock, verifiable messages of a fixed
// size, CPU pinning, CPU accounting (getrusage and /proc/stat) and small statistics helpers.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace bench {

using Clock = std::chrono::steady_clock;

// CLOCK_MONOTONIC in ns: the same clock in every process of this host, so a timestamp taken by
// one process can be subtracted from one taken by the other (pane::Clock is the same clock).
inline std::uint64_t now_ns() noexcept {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// A failure the measurement cannot recover from (peer died, timed out, setup failed). Not a
// verification error: those are counted, and the run carries on so the report can show them.
struct BenchError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------------------------
// Messages. Every transport carries Msg<S>: a sequence word and filler words derived from it, so
// the receiver checks order (seq) and content (every filler word) of every message. The last
// message of a timed run carries kEndBit | count: the receiver learns the count from it and
// checks it received (or was told it lost) exactly that many.

inline constexpr std::uint64_t kEndBit = std::uint64_t{1} << 63;

template <std::size_t S>
struct Msg {
    static_assert(S % 8 == 0 && S >= 16);
    std::uint64_t seq;
    std::uint64_t fill[(S - 8) / 8];
};

// A different word for every (seq, index): a stale or shifted word never passes for the right one.
inline std::uint64_t filler(std::uint64_t seq, std::size_t k) noexcept {
    return (seq ^ (std::uint64_t{k} * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull + k;
}

template <std::size_t S>
inline void fill(Msg<S>& m, std::uint64_t seq) noexcept {
    m.seq = seq;
    for (std::size_t k = 0; k < std::size(m.fill); ++k) m.fill[k] = filler(seq, k);
}

template <std::size_t S>
[[nodiscard]] inline bool content_ok(const Msg<S>& m) noexcept {
    std::uint64_t bad = 0;  // no early exit: the check costs the same for good and bad messages
    for (std::size_t k = 0; k < std::size(m.fill); ++k) bad |= m.fill[k] ^ filler(m.seq, k);
    return bad == 0;
}

// What a receiver saw, checked message by message.
struct Tally {
    std::uint64_t received = 0;  // data messages (the end marker not counted)
    std::uint64_t lost = 0;      // reported lost by the transport (overwrite rings only)
    std::uint64_t errors = 0;    // out of order, gaps not reported as lost, bad content, bad count
    std::uint64_t expect = 0;    // next sequence number
    bool ended = false;

    // `reported_lost`: what the transport says it skipped before this message. A lossless
    // transport reports 0, so any gap is an error; an overwrite ring must report each gap exactly.
    template <std::size_t S>
    void take(const Msg<S>& m, std::uint64_t reported_lost = 0) noexcept {
        lost += reported_lost;
        if (!content_ok(m)) {
            ++errors;
            ++expect;
            return;
        }
        if ((m.seq & kEndBit) != 0) {
            ended = true;
            const std::uint64_t count = m.seq & ~kEndBit;
            if (count != expect + reported_lost || count != received + lost) ++errors;
            return;
        }
        if (m.seq != expect + reported_lost) ++errors;
        expect = m.seq + 1;
        ++received;
    }
};

// ---------------------------------------------------------------------------------------------
// CPUs.

inline std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (::sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
    return cpus;
}

inline bool pin_to(int cpu) {
    if (cpu < 0) return false;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return ::sched_setaffinity(0, sizeof(set), &set) == 0;
}

// Set once at start-up: with one CPU, a spinning wait must give the CPU away or it spins through
// the peer's whole time slice.
inline bool g_single_cpu = false;

// Spins until pred() or the deadline; throws BenchError naming `what` on the deadline. `alive`
// is asked now and then, so a dead peer ends the wait at once.
template <class Pred, class Alive>
void spin_until(Pred&& pred, Clock::time_point deadline, const char* what, Alive&& alive) {
    for (std::uint64_t i = 1;; ++i) {
        if (pred()) return;
        if (g_single_cpu) {
            ::sched_yield();
        } else {
            cpu_relax();
        }
        if ((i & 0xffff) == 0) {
            if (!alive()) throw BenchError(std::string("peer process died while waiting for ") + what);
            if (Clock::now() > deadline) throw BenchError(std::string("timed out waiting for ") + what);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting.

inline std::uint64_t tv_ns(const timeval& tv) noexcept {
    return static_cast<std::uint64_t>(tv.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(tv.tv_usec) * 1000ull;
}

// User + system time of this process (all threads) or of the calling thread, in ns.
inline std::uint64_t cpu_ns(int who = RUSAGE_SELF) noexcept {
    rusage ru{};
    if (::getrusage(who, &ru) != 0) return 0;
    return tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime);
}

// Involuntary context switches of the calling thread so far: a timed piece during which this
// moved was preempted, and a shared machine's other load decided its time.
inline long preemptions() noexcept {
    rusage ru{};
    return ::getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : 0;
}

// Busy and stolen time of a set of CPUs from /proc/stat, in ns. Busy is user + nice + system +
// irq + softirq: what processes (ours and others) and interrupts used; steal is what the
// hypervisor gave to other guests while we wanted to run.
struct CpuTimes {
    std::uint64_t busy_ns = 0;
    std::uint64_t steal_ns = 0;
    bool valid = false;
};

inline CpuTimes read_cpu_times(const std::vector<int>& cpus) {
    CpuTimes t;
    std::ifstream in("/proc/stat");
    if (!in) return t;
    const double ns_per_tick = 1e9 / static_cast<double>(::sysconf(_SC_CLK_TCK));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("cpu", 0) != 0) break;
        std::istringstream fields(line);
        std::string name;
        std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
        fields >> name >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
        // The aggregate "cpu" line when we are not pinned; the pinned CPUs' own lines otherwise.
        const bool wanted = cpus.empty() ? name == "cpu"
                                         : std::any_of(cpus.begin(), cpus.end(),
                                                       [&](int c) { return name == "cpu" + std::to_string(c); });
        if (!wanted) continue;
        t.busy_ns += static_cast<std::uint64_t>(static_cast<double>(user + nice + system + irq + softirq) * ns_per_tick);
        t.steal_ns += static_cast<std::uint64_t>(static_cast<double>(steal) * ns_per_tick);
        t.valid = true;
    }
    return t;
}

// ---------------------------------------------------------------------------------------------
// Statistics.

inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace bench
