// SPDX-License-Identifier: MIT
// Process faults with real processes over POSIX shm (issue 12, item 3): producers SIGKILLed at
// random moments and restarted, SIGSTOPped producers, consumers SIGKILLed or SIGSTOPped while
// leasing, the region wiped under both sides, and a region file of the wrong size at attach.
//
// "Mid-publish" is hit on purpose: this binary is built with PANE_SCHEDULE_POINTS, and a child
// that is told to stop installs a schedule hook that raises SIGSTOP on itself at the n-th pass
// through a chosen schedule point inside the library; the parent sees it stopped (waitpid
// WUNTRACED) and SIGKILLs it there, or resumes it. Points, counts and timings come from a
// seeded generator; the seed is printed (and PANE_FAULT_SEED=N replays it). PANE_FAULT_CYCLES=N
// sets the producer kill/restart cycles (CI: 50, scaled by PANE_TEST_SCALE).
//
// Children report through a "board": a second small shm object of std::atomic counters (every
// process here shares one kernel, so they are plain lock-free atomics). Times are
// std::chrono::steady_clock (CLOCK_MONOTONIC), one clock for every process on the machine.
// Nothing asserts a duration: a bound is only waited for, generously, and figures are printed.
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <new>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pane/map/file.hpp>
#include <pane/map/shm.hpp>

#include "catch.hpp"
#include "support.hpp"

#if !defined(PANE_SCHEDULE_POINTS)
#error "test_faults.cpp needs PANE_SCHEDULE_POINTS (see tests/meson.build)"
#endif

using namespace pane;
using namespace std::chrono_literals;

namespace {

// ---------------------------------------------------------------------------------------------
// Shared pieces

struct FMsg {
    std::uint64_t seq;
    std::uint64_t cycle;  // which producer run wrote it (the kill/restart cycle, or re-init count)
    std::uint64_t check;
};
constexpr std::uint64_t check_of(std::uint64_t seq, std::uint64_t cycle) {
    return ~seq * 0x9E3779B97F4A7C15ULL ^ (cycle * 0xC2B2AE3D27D4EB4FULL);
}

constexpr std::uint32_t kFrameW = 16, kFrameH = 8;
// A consumer is never reaped while alive in these tests, unless a test waits for that reap.
constexpr auto kConsumerTimeoutLong = 2000ms;
constexpr auto kConsumerTimeoutReap = 500ms;
constexpr auto kProducerTimeout = 300ms;  // ConsumerOptions::producer_timeout of the consumers
constexpr auto kWaitLimit = 20ms;         // every blocking call of a consumer child
constexpr auto kWaitSlack = 5s;           // a wait past limit + slack is counted as an overrun
constexpr auto kBound = 60s;              // the parent's patience for anything to happen

RegionSpec fault_spec(std::chrono::milliseconds consumer_timeout, std::uint32_t buffers) {
    RegionSpec spec;
    spec.max_consumers = 6;
    spec.remote_consumer_slots = 0;  // one kernel: no sides
    spec.consumer_timeout = consumer_timeout;
    spec.add(ring_of<FMsg>("msgs", 64, RingPolicy::lossless));
    spec.add(FrameSpec{"frames", kFrameW, kFrameH, 4, buffers, 8});
    return spec;
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

constexpr std::size_t kMaxCycles = 4096;
constexpr std::size_t kMaxBoardConsumers = 8;
constexpr std::size_t kStatuses = 16;

// One consumer child's report.
struct ConsumerBoard {
    std::atomic<std::uint64_t> pid, slot, attached_epoch, verified_epoch, messages, frames;
    std::atomic<std::uint64_t> errors;       // wrong, repeated, lost or torn data; unexpected statuses
    std::atomic<std::uint64_t> torn_frames;  // verify() ok on a frame that is not uniform
    std::atomic<std::uint64_t> stale_reports, resumed, reattached, attach_failures;
    std::atomic<std::uint64_t> waits, wait_overruns;
    std::atomic<std::int64_t> max_wait_ns;
    std::atomic<std::uint64_t> learned_slot_lost, reused_views;
    std::atomic<std::uint64_t> frames_broken;  // sessions whose frame channel said broken
    char broken_reason[64];
    std::atomic<std::uint64_t> arm_requests, arm_after;  // the parent asks for a self-stop
    char arm_point[64];
    std::atomic<std::uint64_t> pop_status[kStatuses], frame_status[kStatuses], attach_error[kStatuses];
    std::atomic<std::int64_t> detect_ns[kMaxCycles];  // steady clock when tick() said producer_stale
};

struct Board {
    std::atomic<std::uint64_t> stop;
    std::atomic<std::uint64_t> cycle;           // the parent's current cycle
    std::atomic<std::uint64_t> producer_epoch;  // written by a producer child once ready
    std::atomic<std::uint64_t> producer_inits, producer_errors;
    std::atomic<std::uint64_t> arm_requests, arm_after;  // the parent asks the producer to stop
    char arm_point[64];
    std::atomic<std::int64_t> death_ns[kMaxCycles];  // when the producer of cycle c stopped or was killed
    ConsumerBoard consumers[kMaxBoardConsumers];
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::int64_t>::is_always_lock_free);

// The board in a shm object: the parent creates it zeroed, children open it.
class BoardMap {
public:
    static BoardMap create(const std::string& name) {
        auto m = map::shm(name, sizeof(Board), map::OpenMode::create_only);
        REQUIRE(m.has_value());
        BoardMap b(std::move(m.value()));
        std::memset(static_cast<void*>(b.board_), 0, sizeof(Board));
        return b;
    }
    static std::optional<BoardMap> open(const std::string& name) {
        auto m = map::shm(name, sizeof(Board), map::OpenMode::open_only);
        if (!m) return std::nullopt;
        return BoardMap(std::move(m.value()));
    }
    Board* operator->() const { return board_; }
    Board& operator*() const { return *board_; }

private:
    explicit BoardMap(map::Mapping m) : mapping_(std::move(m)), board_(reinterpret_cast<Board*>(mapping_.bytes().data())) {}
    map::Mapping mapping_;
    Board* board_;
};

std::size_t status_index(auto s) { return std::min<std::size_t>(static_cast<std::size_t>(s), kStatuses - 1); }

void atomic_max(std::atomic<std::int64_t>& a, std::int64_t v) {
    std::int64_t cur = a.load();
    while (v > cur && !a.compare_exchange_weak(cur, v)) {
    }
}

// A child process of this test binary (--child ROLE ...) that the parent may stop, resume, kill
// and reap, knowing at each moment whether the pid is still its own child (never signals a
// reaped pid).
class Child {
public:
    Child(const std::string& role, const std::vector<std::string>& args) {
        std::vector<std::string> argv_store{"/proc/self/exe", "--child", role};
        argv_store.insert(argv_store.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_store) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::execv("/proc/self/exe", argv.data());
            ::_exit(127);
        }
    }
    Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)), status_(o.status_) {}
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() { kill(); }
    [[nodiscard]] int pid() const { return pid_; }
    [[nodiscard]] bool running() const { return pid_ > 0; }
    // Exit code (or 128 + signal) once reaped.
    [[nodiscard]] int status() const { return status_; }

    // Waits (bounded) until the child stops itself; false if it exited or did not stop.
    bool wait_stopped(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (pid_ > 0) {
            int st = 0;
            const pid_t r = ::waitpid(pid_, &st, WNOHANG | WUNTRACED);
            if (r == pid_ && WIFSTOPPED(st)) return true;
            if (r == pid_) {
                reaped(st);
                return false;
            }
            if (Clock::now() >= deadline) return false;
            std::this_thread::sleep_for(500us);
        }
        return false;
    }
    void signal(int sig) const {
        if (pid_ > 0) ::kill(pid_, sig);
    }
    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        int st = 0;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
        reaped(st);
    }
    // Reaps the child if it has exited; true if it has (never blocks, never kills).
    bool poll() {
        int st = 0;
        if (pid_ > 0 && ::waitpid(pid_, &st, WNOHANG) == pid_) reaped(st);
        return pid_ <= 0;
    }
    // Exit status, or nullopt if it did not exit within `timeout` (it is then killed).
    std::optional<int> wait(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (pid_ > 0) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                reaped(st);
                return status_;
            }
            if (Clock::now() >= deadline) {
                kill();
                return std::nullopt;
            }
            std::this_thread::sleep_for(2ms);
        }
        return status_;
    }

private:
    void reaped(int st) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        pid_ = -1;
    }
    pid_t pid_ = -1;
    int status_ = -1;
};

// The seed for this run: PANE_FAULT_SEED, else random; printed so that a failure replays.
std::uint64_t fault_seed(const char* test) {
    std::uint64_t seed = 0;
    if (const char* env = std::getenv("PANE_FAULT_SEED"); env != nullptr && *env != '\0') {
        seed = std::strtoull(env, nullptr, 0);
    } else {
        seed = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
    }
    std::printf("%s: seed %llu (replay with PANE_FAULT_SEED=%llu)\n", test, (unsigned long long)seed,
                (unsigned long long)seed);
    std::fflush(stdout);
    return seed;
}

// ---------------------------------------------------------------------------------------------
// The self-stop hook: SIGSTOP at the n-th pass through `point` once armed (per thread).

struct StopPlan {
    std::string point;
    std::uint64_t after = 0;  // passes once armed
    std::uint64_t passes = 0;
    bool armed = false;
    std::atomic<std::int64_t>* death_ns = nullptr;  // where to record the moment, if anywhere
};
thread_local StopPlan* stop_plan = nullptr;

void stop_hook(const char* point) {
    StopPlan* p = stop_plan;
    if (p == nullptr || !p->armed || p->point != point) return;
    if (++p->passes < p->after) return;
    p->armed = false;  // once: after SIGCONT the run goes on
    if (p->death_ns != nullptr) p->death_ns->store(now_ns());
    ::raise(SIGSTOP);
}

void install_stop_plan(StopPlan& plan) {
    stop_plan = &plan;
    detail::schedule_hook = &stop_hook;
}

// The parent's side of a request: point and count first, then the request number.
template <class Side>
void request_stop(Side& side, const std::string& point, std::uint64_t after) {
    std::snprintf(side.arm_point, sizeof side.arm_point, "%s", point.c_str());
    side.arm_after = after;
    ++side.arm_requests;  // seq_cst: orders the point's bytes before it
}
// The child's side: arms `plan` once per new request.
template <class Side>
bool take_stop_request(Side& side, StopPlan& plan, std::uint64_t& taken) {
    const auto requests = side.arm_requests.load();
    if (requests == taken) return false;
    taken = requests;
    plan.point = side.arm_point;
    plan.after = side.arm_after.load();
    plan.passes = 0;
    plan.armed = true;
    return true;
}

bool uniform(std::span<const std::byte> bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [&](std::byte b) { return b == bytes.front(); });
}

std::optional<map::Mapping> open_region(const std::string& name) {
    std::optional<map::Mapping> mapping;
    pane_test::eventually([&] {
        auto m = map::shm(name, 0, map::OpenMode::open_only);
        if (m) mapping.emplace(std::move(m.value()));
        return mapping.has_value();
    }, 10s);
    return mapping;
}

// ---------------------------------------------------------------------------------------------
// Child: a long-lived consumer. Attaches (again and again), reads the ring (lossless: every
// stream must be gap-free and every message intact) and the frames (verify() ok only on an
// intact frame), and reports: detection of a stale producer (the time, per cycle), resumption,
// re-attachment, wait overruns, errors by kind. Runs until board.stop. Args: region board index.
const pane_test::RegisterChild fault_consumer("fault-consumer", [](const std::vector<std::string>& args) {
    auto board = BoardMap::open(args.at(1));
    if (!board) return 10;
    auto region = open_region(args.at(0));
    if (!region) return 11;
    ConsumerBoard& me = (*board)->consumers[std::stoul(args.at(2))];
    me.pid = static_cast<std::uint64_t>(::getpid());
    ConsumerOptions options;
    options.producer_timeout = kProducerTimeout;
    std::uint64_t last_cycle_seen = 0;
    bool any_cycle_seen = false;
    const auto timed = [&](auto&& call) {
        const auto t0 = Clock::now();
        auto r = call();
        const auto waited = Clock::now() - t0;
        ++me.waits;
        atomic_max(me.max_wait_ns, std::chrono::duration_cast<std::chrono::nanoseconds>(waited).count());
        if (waited > kWaitLimit + kWaitSlack) ++me.wait_overruns;
        return r;
    };
    while ((*board)->stop.load() == 0) {
        auto attached = ConsumerSession::attach(region->bytes(), options);
        if (!attached) {
            ++me.attach_failures;
            ++me.attach_error[status_index(attached.error())];
            std::this_thread::sleep_for(1ms);
            continue;
        }
        ConsumerSession session = std::move(attached.value());
        auto rx = session.ring<FMsg>("msgs");
        auto fc = session.frames("frames");
        if (!rx || !fc) {
            ++me.attach_failures;  // a layout torn by a wipe that validated: attach again
            continue;
        }
        me.slot = session.slot_index();
        me.attached_epoch = session.epoch();
        bool have_prev = false, stale = false, epoch_verified = false, frames_usable = true;
        std::uint64_t prev = 0, epoch_cycle = 0, epoch_frames = 0;
        FrameView view;
        FMsg m{};
        while ((*board)->stop.load() == 0) {
            const auto r = timed([&] { return rx->pop(m, FutexWait{}, kWaitLimit); });
            ++me.pop_status[status_index(r.status)];
            if (r.status == PopStatus::ok) {
                bool good = r.lost == 0 && m.check == check_of(m.seq, m.cycle) && (!have_prev || m.seq == prev + 1);
                if (!have_prev) {
                    // The first message of an epoch: a later producer's than any seen before.
                    good = good && (!any_cycle_seen || m.cycle > last_cycle_seen);
                    epoch_cycle = m.cycle;
                } else {
                    good = good && m.cycle == epoch_cycle;
                }
                if (!good) {
                    ++me.errors;
                    std::fprintf(stderr, "consumer %s: bad message seq %llu cycle %llu (prev %llu, epoch cycle %llu)\n",
                                 args.at(2).c_str(), (unsigned long long)m.seq, (unsigned long long)m.cycle,
                                 (unsigned long long)prev, (unsigned long long)epoch_cycle);
                }
                have_prev = true;
                prev = m.seq;
                if (good) {
                    last_cycle_seen = std::max(last_cycle_seen, m.cycle);
                    any_cycle_seen = true;
                }
                ++me.messages;
            } else if (r.status == PopStatus::epoch_changed || r.status == PopStatus::slot_lost) {
                break;
            } else if (r.status != PopStatus::timed_out) {
                ++me.errors;  // broken etc.: only a wiped region may do that (the test says)
                break;
            }
            const auto f = frames_usable ? fc->acquire_latest(view) : FrameStatus::no_frame;
            ++me.frame_status[status_index(f)];
            if (f == FrameStatus::broken) {
                // Sticky for this epoch: counted (the kill test requires none: an honest producer
                // never breaks the channel), reported; the ring and tick() go on.
                frames_usable = false;
                ++me.frames_broken;
                std::snprintf(me.broken_reason, sizeof me.broken_reason, "%.*s",
                              static_cast<int>(fc->broken_reason().size()), fc->broken_reason().data());
                if (!epoch_verified && have_prev) epoch_frames = 1;  // nothing more to verify here
            } else if (f == FrameStatus::ok) {
                const auto w = timed([&] { return view.wait_rows(kFrameH, FutexWait{}, kWaitLimit); });
                if (w == FrameStatus::ok) {
                    const auto v = view.verify();
                    if (v == FrameStatus::ok) {
                        if (!uniform(view.bytes())) {
                            ++me.torn_frames;
                        } else {
                            ++me.frames;
                            ++epoch_frames;
                        }
                    }
                }
            } else if (f == FrameStatus::epoch_changed || f == FrameStatus::slot_lost) {
                break;
            } else if (f != FrameStatus::no_frame && f != FrameStatus::superseded) {
                ++me.errors;
                break;
            }
            if (!epoch_verified && have_prev && epoch_frames > 0) {
                epoch_verified = true;
                me.verified_epoch = session.epoch();
            }
            const auto st = session.tick();
            if (st == SessionStatus::ok) {
                if (stale) ++me.resumed;
                stale = false;
            } else if (st == SessionStatus::producer_stale) {
                if (!stale) {
                    stale = true;
                    ++me.stale_reports;
                    const auto c = (*board)->cycle.load();
                    if (c < kMaxCycles) me.detect_ns[c] = now_ns();
                }
            } else {
                break;  // epoch_changed, slot_lost, producer_closed: attach again
            }
        }
        if ((*board)->stop.load() == 0) ++me.reattached;
    }
    return 0;
});

// Child: a producer of one cycle. Publishes messages (cycle in each) and uniform frames; once
// every consumer named has verified its epoch, it arms the stop plan (if any). Runs until
// killed or board.stop. Args: region board cycle consumers point after.
const pane_test::RegisterChild fault_producer("fault-producer", [](const std::vector<std::string>& args) {
    auto board = BoardMap::open(args.at(1));
    if (!board) return 10;
    auto region = open_region(args.at(0));
    if (!region) return 11;
    const std::uint64_t cycle = std::stoull(args.at(2));
    const std::size_t consumers = std::stoul(args.at(3));
    StopPlan plan;
    plan.point = args.at(4);
    plan.after = std::stoull(args.at(5));
    plan.death_ns = cycle < kMaxCycles ? &(*board)->death_ns[cycle] : nullptr;
    const bool init_stop = plan.point.rfind("init.", 0) == 0;
    plan.armed = init_stop;  // a stop in initialisation is armed from the start
    install_stop_plan(plan);
    const auto spec = fault_spec(kConsumerTimeoutLong, 6);
    auto producer = ProducerSession::create(region->bytes(), spec);
    if (!producer) return 12;
    (*board)->producer_epoch = producer->epoch();
    ++(*board)->producer_inits;
    auto tx = producer->ring<FMsg>("msgs").value();
    auto frames = producer->frames("frames").value();
    std::uint64_t seq = 0, n = 0, taken = (*board)->arm_requests.load();
    bool armed_once = init_stop;
    while ((*board)->stop.load() == 0) {
        producer->tick();
        if (take_stop_request(**board, plan, taken)) {
            plan.death_ns = &(*board)->death_ns[std::min<std::uint64_t>((*board)->cycle.load(), kMaxCycles - 1)];
        }
        if (!armed_once && !plan.point.empty()) {
            bool all = true;
            for (std::size_t i = 0; i < consumers; ++i) all &= (*board)->consumers[i].verified_epoch.load() == producer->epoch();
            plan.armed = armed_once = all;
        }
        if (tx.push(FMsg{seq, cycle, check_of(seq, cycle)}, FutexWait{}, 20ms) == PushStatus::ok) ++seq;
        if ((++n & 3) == 0) (void)pane_test::publish_frame(frames, static_cast<std::uint8_t>(cycle * 16 + n));
        if ((n & 15) == 0) std::this_thread::sleep_for(200us);  // keep a shared machine usable
    }
    return 0;
});

std::string describe_consumer(const ConsumerBoard& c) {
    char buf[600];
    std::snprintf(buf, sizeof buf,
                  "messages %llu, frames %llu, errors %llu, torn %llu, stale %llu, resumed %llu, re-attached %llu, "
                  "attach failures %llu, waits %llu, overruns %llu, longest wait %lld ms, frame channel broken %llu (%s)",
                  (unsigned long long)c.messages.load(), (unsigned long long)c.frames.load(),
                  (unsigned long long)c.errors.load(), (unsigned long long)c.torn_frames.load(),
                  (unsigned long long)c.stale_reports.load(), (unsigned long long)c.resumed.load(),
                  (unsigned long long)c.reattached.load(), (unsigned long long)c.attach_failures.load(),
                  (unsigned long long)c.waits.load(), (unsigned long long)c.wait_overruns.load(),
                  (long long)(c.max_wait_ns.load() / 1000000), (unsigned long long)c.frames_broken.load(),
                  c.broken_reason[0] != '\0' ? c.broken_reason : "-");
    return buf;
}

// " name=count" for each entry.
std::string counts_text(const std::map<std::string, std::uint64_t>& counts) {
    std::string out;
    for (const auto& [name, n] : counts) out.append(" ").append(name).append("=").append(std::to_string(n));
    return out;
}

std::string percentiles_ms(std::vector<double> v) {
    if (v.empty()) return "none";
    std::sort(v.begin(), v.end());
    const auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]; };
    char buf[200];
    std::snprintf(buf, sizeof buf, "n %zu, min %.1f, p50 %.1f, p90 %.1f, p99 %.1f, max %.1f ms", v.size(), v.front(),
                  at(0.5), at(0.9), at(0.99), v.back());
    return buf;
}

// The mid-publish points a producer stops at: inside a ring write (between its stores), in the
// lossless room scan, in a frame's buffer reuse handshake, between a frame's pixels and its
// publication, and (other cycles) inside the initialisation.
const std::vector<std::string> kPublishPoints = {"ring.write.mark",      "ring.write.payload", "ring.write.complete",
                                                 "ring.publish.write_pos", "ring.scan.read_pos", "frames.reuse.intent",
                                                 "frames.reuse.generation", "frames.reuse.clear_intent",
                                                 "test.pixels_written"};
const std::vector<std::string> kInitPoints = {"init.mark", "init.channels", "init.publish"};

// What every multi-process fault test starts from: a fresh shm object of `spec`'s size for the
// region (initialised by whichever process produces) and a fresh board, both removed at the end.
struct FaultStage {
    pane_test::ShmName region_name, board_name;
    BoardMap board;
    map::Mapping mapping;

    FaultStage(const std::string& tag, const RegionSpec& spec)
        : region_name("faults-" + tag), board_name("faults-" + tag + "-board"),
          board(BoardMap::create(board_name.str())), mapping(created(region_name, spec)) {}
    // The arguments every child process starts with: the region's and the board's names.
    [[nodiscard]] std::vector<std::string> child_args(std::vector<std::string> more = {}) const {
        more.insert(more.begin(), {region_name.str(), board_name.str()});
        return more;
    }

private:
    static map::Mapping created(const pane_test::ShmName& name, const RegionSpec& spec) {
        auto m = map::shm(name.str(), plan_region(spec)->region_size, map::OpenMode::create_only);
        REQUIRE(m.has_value());
        return std::move(m.value());
    }
};

// Long-lived consumer processes 0..n-1 on a stage.
struct Consumers {
    std::vector<Child> children;
    Consumers(const FaultStage& stage, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) children.emplace_back("fault-consumer", stage.child_args({std::to_string(i)}));
    }
};

bool all_verified(Board& b, std::size_t n, std::uint64_t epoch) {
    for (std::size_t i = 0; i < n; ++i) {
        if (b.consumers[i].verified_epoch.load() != epoch) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("faults: a producer SIGKILLed at random moments, mid-publish included, is detected by every consumer; "
          "each restart is re-attached and its data verified", "[multiprocess][faults]") {
    const std::uint64_t seed = fault_seed("producer kill/restart");
    std::mt19937_64 rng(seed);
    std::uint64_t cycles = std::max<std::uint64_t>(3, pane_test::scaled(50));
    if (const char* env = std::getenv("PANE_FAULT_CYCLES"); env != nullptr && *env != '\0') cycles = std::stoull(env);
    cycles = std::min<std::uint64_t>(cycles, kMaxCycles - 1);
    constexpr std::size_t kConsumers = 2;

    FaultStage stage("kill", fault_spec(kConsumerTimeoutLong, 6));
    BoardMap& board = stage.board;
    Consumers consumers(stage, kConsumers);

    std::vector<double> latency_ms;
    std::uint64_t mid_publish = 0, timed = 0, in_init = 0, detections = 0, early = 0;
    std::map<std::string, std::uint64_t> by_point;
    std::uint64_t previous_epoch = 0;
    for (std::uint64_t cycle = 1; cycle <= cycles; ++cycle) {
        board->cycle = cycle;
        // The kind of death: mid-publish (a schedule point), a random time, or in the init.
        const auto kind = rng() % 10;
        std::string point;
        std::uint64_t after = 0;
        if (kind < 6) {
            point = kPublishPoints[rng() % kPublishPoints.size()];
            after = 1 + rng() % 200;
        } else if (kind < 9) {
            after = rng() % 100;  // ms after the consumers verified its data
        } else {
            point = kInitPoints[rng() % kInitPoints.size()];
            after = 1;
        }
        INFO("cycle " << cycle << " point '" << point << "' after " << after << " (seed " << seed << ")");
        Child producer("fault-producer", stage.child_args({std::to_string(cycle), std::to_string(kConsumers), point,
                                                           std::to_string(after)}));
        if (kind == 9) {
            // Stops inside initialisation: nobody attaches to it; kill it there.
            REQUIRE(producer.wait_stopped(kBound));
            producer.kill();
            ++in_init;
            ++by_point[point];
            continue;
        }
        // Every consumer re-attaches to the new epoch and verifies the new producer's data.
        REQUIRE(pane_test::eventually([&] {
            const auto e = board->producer_epoch.load();
            return e != previous_epoch && e != 0 && all_verified(*board, kConsumers, e) && producer.running();
        }, kBound));
        previous_epoch = board->producer_epoch.load();
        if (kind < 6) {
            REQUIRE(producer.wait_stopped(kBound));  // stopped itself inside the publish
            producer.kill();
            ++mid_publish;
            ++by_point[point];
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(after));
            board->death_ns[cycle] = now_ns();
            producer.kill();
            ++timed;
        }
        // Every consumer reports it stale, never before it died.
        const bool detected = pane_test::eventually([&] {
            for (std::size_t i = 0; i < kConsumers; ++i) {
                if (board->consumers[i].detect_ns[cycle].load() == 0) return false;
            }
            return true;
        }, kBound);
        if (!detected) {
            for (std::size_t i = 0; i < kConsumers; ++i) {
                const auto& c = board->consumers[i];
                std::printf("  consumer %zu (%s, epoch %llu of %llu): %s; pops:", i,
                            consumers.children[i].poll() ? "exited" : "running",
                            (unsigned long long)c.attached_epoch.load(), (unsigned long long)previous_epoch,
                            describe_consumer(c).c_str());
                for (std::size_t k = 0; k < kStatuses; ++k) std::printf(" %llu", (unsigned long long)c.pop_status[k].load());
                std::printf("; frames:");
                for (std::size_t k = 0; k < kStatuses; ++k) std::printf(" %llu", (unsigned long long)c.frame_status[k].load());
                std::printf("\n");
            }
            std::fflush(stdout);
        }
        REQUIRE(detected);
        for (std::size_t i = 0; i < kConsumers; ++i) {
            const auto d = board->consumers[i].detect_ns[cycle].load() - board->death_ns[cycle].load();
            if (d < 0) ++early;
            latency_ms.push_back(static_cast<double>(d) / 1e6);
            ++detections;
        }
    }
    board->stop = 1;
    for (auto& c : consumers.children) {
        const auto exit = c.wait(kBound);
        CHECK(exit == std::optional<int>(0));
    }
    std::printf("producer kill/restart: %llu cycles (%llu mid-publish, %llu at a random time, %llu inside "
                "initialisation), %llu detections by %zu consumers; detection after death (consumer's clock, "
                "producer_timeout %lld ms): %s\n",
                (unsigned long long)cycles, (unsigned long long)mid_publish, (unsigned long long)timed,
                (unsigned long long)in_init, (unsigned long long)detections, kConsumers,
                (long long)kProducerTimeout.count(), percentiles_ms(latency_ms).c_str());
    std::printf("  stop points:%s\n", counts_text(by_point).c_str());
    for (std::size_t i = 0; i < kConsumers; ++i) {
        const auto& c = board->consumers[i];
        std::printf("  consumer %zu: %s\n", i, describe_consumer(c).c_str());
        CHECK(c.errors.load() == 0);
        CHECK(c.torn_frames.load() == 0);
        CHECK(c.wait_overruns.load() == 0);
        // A producer killed between a descriptor's slot and its write_pos store left readers
        // one position ahead of write_pos, which 1.3 readers called broken (protocol 1.4 item 6).
        CHECK(c.frames_broken.load() == 0);
        CHECK(c.stale_reports.load() >= mid_publish + timed);
    }
    std::fflush(stdout);
    CHECK(early == 0);  // a detection before the producer died would be a false alarm
    CHECK(detections == kConsumers * (mid_publish + timed));
}

TEST_CASE("faults: a SIGSTOPped producer, mid-publish included, is reported stale by every consumer, whose waits "
          "all end by their bounds; resumed, it is followed without a gap", "[multiprocess][faults]") {
    const std::uint64_t seed = fault_seed("producer SIGSTOP");
    std::mt19937_64 rng(seed);
    const std::uint64_t rounds = std::max<std::uint64_t>(2, pane_test::scaled(6));
    constexpr std::size_t kConsumers = 2;
    FaultStage stage("stop", fault_spec(kConsumerTimeoutLong, 6));
    BoardMap& board = stage.board;
    Consumers consumers(stage, kConsumers);
    board->cycle = 1;
    Child producer("fault-producer", stage.child_args({"1", std::to_string(kConsumers), "", "0"}));
    REQUIRE(pane_test::eventually([&] {
        const auto e = board->producer_epoch.load();
        return e != 0 && all_verified(*board, kConsumers, e);
    }, kBound));
    const auto epoch = board->producer_epoch.load();

    std::vector<double> latency_ms;
    std::uint64_t mid_publish = 0;
    for (std::uint64_t round = 1; round <= rounds; ++round) {
        board->cycle = round;
        std::array<std::uint64_t, kConsumers> messages{}, resumed{};
        for (std::size_t i = 0; i < kConsumers; ++i) {
            messages[i] = board->consumers[i].messages.load();
            resumed[i] = board->consumers[i].resumed.load();
        }
        const bool self = rng() % 2 == 0;
        const std::string point = kPublishPoints[rng() % kPublishPoints.size()];
        INFO("round " << round << (self ? " self-stop at " + point : std::string(" SIGSTOP at a random time")) << " (seed " << seed << ")");
        if (self) {
            request_stop(*board, point, 1 + rng() % 100);
            ++mid_publish;
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 50));
            board->death_ns[round] = now_ns();
            producer.signal(SIGSTOP);
        }
        REQUIRE(producer.wait_stopped(kBound));
        // Reported stale by every consumer, while each keeps calling its 20 ms waits.
        REQUIRE(pane_test::eventually([&] {
            for (std::size_t i = 0; i < kConsumers; ++i) {
                if (board->consumers[i].detect_ns[round].load() == 0) return false;
            }
            return true;
        }, kBound));
        for (std::size_t i = 0; i < kConsumers; ++i) {
            const auto d = board->consumers[i].detect_ns[round].load() - board->death_ns[round].load();
            CHECK(d >= 0);
            latency_ms.push_back(static_cast<double>(d) / 1e6);
        }
        std::this_thread::sleep_for(200ms);  // more bounded waits against a stopped producer
        producer.signal(SIGCONT);
        // Resumed: the stale report clears and the stream goes on where it stopped.
        REQUIRE(pane_test::eventually([&] {
            for (std::size_t i = 0; i < kConsumers; ++i) {
                const auto& c = board->consumers[i];
                if (c.resumed.load() <= resumed[i] || c.messages.load() < messages[i] + 100) return false;
            }
            return true;
        }, kBound));
    }
    board->stop = 1;
    CHECK(producer.wait(kBound) == std::optional<int>(0));
    for (auto& c : consumers.children) CHECK(c.wait(kBound) == std::optional<int>(0));
    std::printf("producer SIGSTOP: %llu stops (%llu mid-publish), stale reported after (ms, consumer's clock): %s\n",
                (unsigned long long)rounds, (unsigned long long)mid_publish, percentiles_ms(latency_ms).c_str());
    for (std::size_t i = 0; i < kConsumers; ++i) {
        const auto& c = board->consumers[i];
        std::printf("  consumer %zu: %s\n", i, describe_consumer(c).c_str());
        CHECK(c.errors.load() == 0);
        CHECK(c.torn_frames.load() == 0);
        CHECK(c.wait_overruns.load() == 0);
        CHECK(c.stale_reports.load() == rounds);
        CHECK(c.reattached.load() == 0);  // never reaped, never a new epoch: the same session throughout
        CHECK(c.attached_epoch.load() == epoch);
    }
    std::fflush(stdout);
}

namespace {

// Child: a consumer that leases frames and reads the lossless ring until the parent kills or
// stops it (or asks it to stop itself at a schedule point), or until board.stop. If it learns
// it was reaped (slot_lost) it reports that and exits 0. Args: region board index.
const pane_test::RegisterChild lease_consumer("lease-consumer", [](const std::vector<std::string>& args) {
    auto board = BoardMap::open(args.at(1));
    if (!board) return 10;
    auto region = open_region(args.at(0));
    if (!region) return 11;
    ConsumerBoard& me = (*board)->consumers[std::stoul(args.at(2))];
    me.pid = static_cast<std::uint64_t>(::getpid());
    std::optional<ConsumerSession> session;
    pane_test::eventually([&] {
        auto s = ConsumerSession::attach(region->bytes());
        if (s) session.emplace(std::move(s.value()));
        return session.has_value();
    }, 10s);
    if (!session) return 12;
    auto rx = session->ring<FMsg>("msgs");
    auto fc = session->frames("frames");
    if (!rx || !fc) return 13;
    me.slot = session->slot_index();
    me.attached_epoch = session->epoch();
    StopPlan plan;
    install_stop_plan(plan);
    std::uint64_t taken = me.arm_requests.load();
    bool have_prev = false;
    std::uint64_t prev = 0;
    FrameView view;
    FMsg m{};
    const auto lost = [&] {
        ++me.learned_slot_lost;
        return 0;
    };
    while ((*board)->stop.load() == 0) {
        (void)take_stop_request(me, plan, taken);
        const auto r = rx->pop(m, FutexWait{}, kWaitLimit);
        ++me.pop_status[status_index(r.status)];
        if (r.status == PopStatus::ok) {
            if (r.lost != 0 || m.check != check_of(m.seq, m.cycle) || (have_prev && m.seq != prev + 1)) ++me.errors;
            have_prev = true;
            prev = m.seq;
            ++me.messages;
        } else if (r.status == PopStatus::slot_lost) {
            return lost();
        } else if (r.status != PopStatus::timed_out) {
            ++me.errors;
        }
        const auto f = fc->acquire_latest(view);
        ++me.frame_status[status_index(f)];
        if (f == FrameStatus::ok && view.wait_rows(kFrameH, FutexWait{}, kWaitLimit) == FrameStatus::ok) {
            const auto v = view.verify();
            if (v == FrameStatus::ok) {
                if (uniform(view.bytes())) ++me.frames;
                else ++me.torn_frames;
            } else if (v == FrameStatus::reused) {
                ++me.reused_views;  // only after a reap: torn, and reported so
            } else if (v == FrameStatus::slot_lost) {
                return lost();
            }
        } else if (f == FrameStatus::slot_lost) {
            return lost();
        }
        const auto st = session->tick();
        if (st == SessionStatus::slot_lost) return lost();
        if (st != SessionStatus::ok) ++me.errors;
    }
    return 0;
});

// The consumer-side points a consumer stops itself at: inside the lease handshake, inside a
// pop (between its copy and its read position), and in its heartbeat.
const std::vector<std::string> kConsumerPoints = {"frames.lease.store", "frames.lease.intent", "frames.lease.generation",
                                                  "ring.read.copy",     "ring.advance.read_pos", "holder.heartbeat"};

}  // namespace

TEST_CASE("faults: consumers SIGKILLed or SIGSTOPped at random moments, leasing included, hold a lossless producer "
          "back only until the reap; their slots and leased buffers are reclaimed", "[multiprocess][faults]") {
    const std::uint64_t seed = fault_seed("consumer kill/stop");
    std::mt19937_64 rng(seed);
    const std::uint64_t rounds = std::max<std::uint64_t>(2, pane_test::scaled(8));
    constexpr std::size_t kConsumers = 3;
    const auto spec = fault_spec(kConsumerTimeoutReap, kConsumers + 3);
    FaultStage stage("reap", spec);
    BoardMap& board = stage.board;
    map::Mapping& mapping = stage.mapping;
    auto producer = ProducerSession::create(mapping.bytes(), spec).value();
    auto tx = producer.ring<FMsg>("msgs").value();
    auto frames = producer.frames("frames").value();
    std::byte* channel = mapping.bytes().data() + producer.plan().channels[1].entry.offset;
    const auto* control = reinterpret_cast<const FrameControl*>(channel);
    const auto* states = reinterpret_cast<const FrameBufferState*>(channel + control->states_offset);
    const auto* leases = reinterpret_cast<const FrameLease*>(channel + control->leases_offset);

    // The producer's loop, run until `until` holds (false if not within kBound). Records which
    // buffer each frame took, and every push the lossless ring held back past its 20 ms.
    std::uint64_t seq = 0, held_pushes = 0, frames_published = 0;
    std::vector<std::uint64_t> protected_leases;  // the victims' live leases, by slot bit
    std::uint64_t protected_slots = 0, lease_violations = 0;
    std::vector<bool> reused(64, false);
    const auto pump = [&](const std::function<bool()>& until) {
        const auto deadline = Clock::now() + kBound;
        while (!until()) {
            if (Clock::now() > deadline) return false;
            producer.tick();
            const auto p = tx.push(FMsg{seq, 7, check_of(seq, 7)}, FutexWait{}, 20ms);
            if (p == PushStatus::ok) ++seq;
            else ++held_pushes;
            const auto live_before = producer.live_consumers();
            FrameWriter w;
            FrameInfo info;
            info.width = kFrameW;
            info.height = kFrameH;
            if (frames.begin(info, w) == FrameStatus::ok) {
                const auto b = w.descriptor().buffer_index;
                const auto live_after = producer.live_consumers();
                for (std::uint32_t s = 0; s < spec.max_consumers; ++s) {
                    const std::uint64_t bit = std::uint64_t{1} << s;
                    if ((protected_slots & bit) == 0 || (protected_leases[s] & 63u) != b) continue;
                    if ((live_before & live_after & bit) != 0) ++lease_violations;  // reused while still held
                    else reused[b] = true;
                }
                std::memset(w.bytes().data(), static_cast<int>(++frames_published & 0xff), w.bytes().size());
                w.finish();
            }
            std::this_thread::sleep_for(300us);
        }
        return true;
    };

    std::vector<std::optional<Child>> children(kConsumers);
    const auto spawn = [&](std::size_t i) {
        auto& c = board->consumers[i];
        std::memset(static_cast<void*>(&c), 0, sizeof c);  // nobody uses this entry now
        children[i].emplace("lease-consumer", stage.child_args({std::to_string(i)}));
    };
    for (std::size_t i = 0; i < kConsumers; ++i) spawn(i);

    std::vector<double> reap_ms;
    std::uint64_t victims_total = 0, killed = 0, stopped = 0, self_stopped = 0, leases_reclaimed = 0, holds = 0;
    std::map<std::string, std::uint64_t> by_point;
    for (std::uint64_t round = 1; round <= rounds; ++round) {
        REQUIRE(pump([&] {
            for (std::size_t i = 0; i < kConsumers; ++i) {
                if (board->consumers[i].messages.load() < 50 || board->consumers[i].frames.load() < 2) return false;
            }
            return true;
        }));
        // Victims: 1..all, each SIGKILLed or SIGSTOPped, at a random time or stopped by itself
        // at a point inside a lease, a pop or a heartbeat.
        std::vector<std::size_t> order(kConsumers);
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
        const std::size_t v = 1 + rng() % kConsumers;
        const std::uint64_t reaped_before = producer.reaped_total();
        std::vector<bool> stays_stopped(kConsumers, false);
        std::string plan_text;
        for (std::size_t k = 0; k < v; ++k) {
            const std::size_t i = order[k];
            const auto fate = rng() % 4;
            const bool self = fate >= 2;
            stays_stopped[i] = fate % 2 == 1;
            if (self) {
                const auto point = kConsumerPoints[rng() % kConsumerPoints.size()];
                request_stop(board->consumers[i], point, 1 + rng() % 20);
                plan_text.append(" ").append(std::to_string(i)).append(":").append(point);
                REQUIRE(pump([&] { return !children[i]->running() || children[i]->wait_stopped(0ms); }));
                REQUIRE(children[i]->running());
                ++self_stopped;
                ++by_point[point];
            } else {
                const auto at = Clock::now() + std::chrono::milliseconds(rng() % 40);
                REQUIRE(pump([&] { return Clock::now() >= at; }));
                children[i]->signal(SIGSTOP);
                REQUIRE(children[i]->wait_stopped(kBound));
                plan_text.append(" ").append(std::to_string(i)).append(":random");
            }
            if (!stays_stopped[i]) children[i]->kill();
            (stays_stopped[i] ? stopped : killed) += 1;
        }
        INFO("round " << round << " victims" << plan_text << " (seed " << seed << ")");
        victims_total += v;
        // Their live leases, read from the region: each must not be reused until its holder is
        // reaped, and must be reusable after.
        protected_leases.assign(spec.max_consumers, 0);
        protected_slots = 0;
        for (std::size_t k = 0; k < v; ++k) {
            const auto slot = board->consumers[order[k]].slot.load();
            const std::uint64_t lease = detail::load_acquire(leases[slot].lease);
            const std::uint32_t b = lease & 63u;
            if (lease != 0 && b < control->buffer_count && (lease >> 6) == detail::load_acquire(states[b].generation)) {
                protected_leases[slot] = lease;
                protected_slots |= std::uint64_t{1} << slot;
                reused[b] = false;
            }
        }
        const auto down = Clock::now();
        const auto held_before = held_pushes;
        REQUIRE(pump([&] { return producer.reaped_total() == reaped_before + v; }));
        reap_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - down).count());
        if (held_pushes > held_before) ++holds;
        // After the reap: pushes complete again (the survivors read), every leased buffer is reused.
        const auto seq_after_reap = seq;
        REQUIRE(pump([&] {
            for (std::uint32_t s = 0; s < spec.max_consumers; ++s) {
                if ((protected_slots >> s & 1) != 0 && !reused[protected_leases[s] & 63u]) return false;
            }
            return seq >= seq_after_reap + 200;
        }));
        leases_reclaimed += static_cast<std::uint64_t>(std::popcount(protected_slots));
        protected_slots = 0;
        CHECK(producer.reaped_total() == reaped_before + v);
        // The stopped ones resume, learn slot_lost, and leave.
        for (std::size_t k = 0; k < v; ++k) {
            const std::size_t i = order[k];
            if (stays_stopped[i]) {
                children[i]->signal(SIGCONT);
                REQUIRE(pump([&] { return children[i]->poll(); }));
                CHECK(children[i]->status() == 0);
                CHECK(board->consumers[i].learned_slot_lost.load() == 1);
            }
            CHECK(board->consumers[i].errors.load() == 0);
            CHECK(board->consumers[i].torn_frames.load() == 0);
            spawn(i);
        }
    }
    board->stop = 1;
    for (std::size_t i = 0; i < kConsumers; ++i) {
        REQUIRE(pump([&] { return children[i]->poll(); }));
        CHECK(children[i]->status() == 0);
        CHECK(board->consumers[i].errors.load() == 0);
        CHECK(board->consumers[i].torn_frames.load() == 0);
    }
    const std::string points = counts_text(by_point);
    std::printf("consumer kill/stop: %llu rounds, %llu victims (%llu SIGKILLed, %llu left stopped; %llu stopped "
                "themselves at a point:%s), %llu reaped, %llu rounds held the lossless producer (%llu pushes timed "
                "out at 20 ms), %llu leased buffers reclaimed, %llu lease violations; victims down to reaped "
                "(producer's clock, consumer_timeout %lld ms): %s\n",
                (unsigned long long)rounds, (unsigned long long)victims_total, (unsigned long long)killed,
                (unsigned long long)stopped, (unsigned long long)self_stopped, points.c_str(),
                (unsigned long long)producer.reaped_total(), (unsigned long long)holds, (unsigned long long)held_pushes,
                (unsigned long long)leases_reclaimed, (unsigned long long)lease_violations,
                (long long)kConsumerTimeoutReap.count(), percentiles_ms(reap_ms).c_str());
    std::fflush(stdout);
    CHECK(lease_violations == 0);
    CHECK(producer.reaped_total() == victims_total);
}

namespace {

// Child: a producer that notices when the region is no longer its own (owns_region(): the epoch
// word changed, as a wipe changes it), closes, and initialises the region again with a higher
// cycle number in its messages. Until board.stop. Args: region board.
const pane_test::RegisterChild wipe_producer("wipe-producer", [](const std::vector<std::string>& args) {
    auto board = BoardMap::open(args.at(1));
    if (!board) return 10;
    auto region = open_region(args.at(0));
    if (!region) return 11;
    const auto spec = fault_spec(kConsumerTimeoutLong, 6);
    ProducerOptions options;
    options.take_over = true;  // whatever the wipe left in the heartbeat word
    std::uint64_t cycle = 0;
    while ((*board)->stop.load() == 0) {
        auto producer = ProducerSession::create(region->bytes(), spec, options);
        if (!producer) return 12;
        ++cycle;
        auto tx = producer->ring<FMsg>("msgs").value();
        auto frames = producer->frames("frames").value();
        (*board)->producer_epoch = producer->epoch();
        ++(*board)->producer_inits;
        std::uint64_t seq = 0, n = 0;
        while ((*board)->stop.load() == 0 && producer->owns_region()) {
            producer->tick();
            const auto p = tx.push(FMsg{seq, cycle, check_of(seq, cycle)}, FutexWait{}, 20ms);
            if (p == PushStatus::ok) ++seq;
            else if (p != PushStatus::timed_out) ++(*board)->producer_errors;
            if ((++n & 3) == 0) (void)pane_test::publish_frame(frames, static_cast<std::uint8_t>(cycle * 16 + n));
            if ((n & 15) == 0) std::this_thread::sleep_for(200us);
        }
    }
    return 0;
});

}  // namespace

TEST_CASE("faults: the region wiped with zeros or random bytes mid-stream: both sides report errors, nothing "
          "crashes or hangs, and they recover once the producer re-initialises", "[multiprocess][faults]") {
    const std::uint64_t seed = fault_seed("region wipe");
    std::mt19937_64 rng(seed);
    const std::uint64_t rounds = std::max<std::uint64_t>(2, pane_test::scaled(8));
    constexpr std::size_t kConsumers = 2;
    const auto spec = fault_spec(kConsumerTimeoutLong, 6);
    FaultStage stage("wipe", spec);
    BoardMap& board = stage.board;
    map::Mapping& mapping = stage.mapping;
    Consumers consumers(stage, kConsumers);
    Child producer("wipe-producer", stage.child_args());
    const auto bytes = mapping.bytes();
    std::uint64_t zeros = 0, random = 0, clean_errors = 0;
    std::uint64_t epoch = 0;
    for (std::uint64_t round = 0; round <= rounds; ++round) {
        // Recovered: a new epoch, every consumer attached to it and verified its data.
        REQUIRE(pane_test::eventually([&] {
            const auto e = board->producer_epoch.load();
            return e != 0 && e != epoch && all_verified(*board, kConsumers, e);
        }, kBound));
        epoch = board->producer_epoch.load();
        std::array<std::uint64_t, kConsumers> errors{};
        for (std::size_t i = 0; i < kConsumers; ++i) {
            errors[i] = board->consumers[i].errors.load() + board->consumers[i].torn_frames.load();
        }
        // A stretch of clean traffic: no error may be counted in it.
        const auto messages = board->consumers[0].messages.load();
        REQUIRE(pane_test::eventually([&] { return board->consumers[0].messages.load() >= messages + 200; }, kBound));
        for (std::size_t i = 0; i < kConsumers; ++i) {
            clean_errors += board->consumers[i].errors.load() + board->consumers[i].torn_frames.load() - errors[i];
        }
        if (round == rounds) break;
        // The wipe, by this process, while both children run: the whole region, word by word, the
        // header's epoch word last. The producer re-initialises once it sees its epoch gone; with
        // the epoch first (where a plain sweep would put it), a producer that re-initialised while
        // a descheduled sweep had not finished would have the rest of its new layout wiped under
        // it, unseen, and nobody could recover: a loaded machine made that happen.
        INFO("round " << round << " (seed " << seed << ")");
        const bool with_zeros = rng() % 2 == 0;
        auto* words = reinterpret_cast<std::uint64_t*>(bytes.data());
        constexpr std::size_t kEpochWord = offsetof(RegionHeader, epoch) / 8;
        static_assert(offsetof(RegionHeader, epoch) % 8 == 0);
        for (std::size_t i = 0; i < bytes.size() / 8; ++i) {
            if (i != kEpochWord) {
                std::atomic_ref<std::uint64_t>(words[i]).store(with_zeros ? 0 : rng(), std::memory_order_relaxed);
            }
        }
        // Pairs with the producer's load_acquire in owns_region(): the wipe is visible before it.
        std::atomic_ref<std::uint64_t>(words[kEpochWord]).store(with_zeros ? 0 : rng(), std::memory_order_release);
        (with_zeros ? zeros : random) += 1;
    }
    board->stop = 1;
    CHECK(producer.wait(kBound) == std::optional<int>(0));  // neither crashed nor hung
    for (auto& c : consumers.children) CHECK(c.wait(kBound) == std::optional<int>(0));
    std::printf("region wipe: %llu wipes (%llu zeros, %llu random), producer initialised %llu times, producer "
                "errors %llu\n",
                (unsigned long long)rounds, (unsigned long long)zeros, (unsigned long long)random,
                (unsigned long long)board->producer_inits.load(), (unsigned long long)board->producer_errors.load());
    for (std::size_t i = 0; i < kConsumers; ++i) {
        const auto& c = board->consumers[i];
        std::map<std::string, std::uint64_t> attach_errors;
        for (std::size_t k = 1; k < kStatuses; ++k) {
            if (const auto n = c.attach_error[k].load(); n != 0) attach_errors[std::string(describe(static_cast<AttachError>(k)))] = n;
        }
        const std::string attach = counts_text(attach_errors);
        std::printf("  consumer %zu: %s; errors counted during wipes %llu; attach errors:%s; pop broken %llu\n", i,
                    describe_consumer(c).c_str(), (unsigned long long)(c.errors.load() + c.torn_frames.load()),
                    attach.c_str(), (unsigned long long)c.pop_status[status_index(PopStatus::broken)].load());
        CHECK(c.wait_overruns.load() == 0);
        CHECK(c.reattached.load() >= rounds);
    }
    std::fflush(stdout);
    CHECK(clean_errors == 0);
    CHECK(board->producer_inits.load() == rounds + 1);
}

namespace {
void truncate_shm(const std::string& name, off_t size) {
    const int fd = ::shm_open(("/" + name).c_str(), O_RDWR, 0);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, size) == 0);
    ::close(fd);
}
}  // namespace

TEST_CASE("faults: a region object or file truncated, or of the wrong size, at attach is a clear error, never a SIGBUS",
          "[multiprocess][faults]") {
    RegionSpec spec = fault_spec(kConsumerTimeoutLong, 3);
    const std::uint64_t full = plan_region(spec)->region_size;
    // The producer stays live (ready) while the object shrinks under it; it touches nothing
    // until the object is its full size again, then closes.
    const auto initialise = [&](map::Mapping m) {
        auto producer = ProducerSession::create(m.bytes(), spec);
        REQUIRE(producer.has_value());
        return std::make_pair(std::move(m), std::move(producer.value()));
    };
    SECTION("POSIX shm object") {
        pane_test::ShmName name("faults-trunc");
        auto live = initialise(map::shm(name.str(), full, map::OpenMode::create_only).value());
        for (const std::uint64_t size : {full - 1, full / 2, std::uint64_t{10}, std::uint64_t{0}}) {  // shrinking keeps the header
            INFO("truncated to " << size << " of " << full);
            truncate_shm(name.str(), static_cast<off_t>(size));
            // Asked for the size the producer made: too_small before anything is mapped.
            auto sized = map::shm(name.str(), full, map::OpenMode::open_only);
            REQUIRE_FALSE(sized.has_value());
            CHECK(sized.error() == MapError::too_small);
            // Asked for whatever it holds: too_small below a header; above, the mapping is what the
            // object holds and attach refuses it (the header's region_size is larger).
            auto any = map::shm(name.str(), 0, map::OpenMode::open_only);
            if (size < sizeof(RegionHeader)) {
                REQUIRE_FALSE(any.has_value());
                CHECK(any.error() == MapError::too_small);
            } else {
                REQUIRE(any.has_value());
                CHECK(any->size() == size);
                auto attached = ConsumerSession::attach(any->bytes());
                REQUIRE_FALSE(attached.has_value());
                CHECK(attached.error() == AttachError::region_too_small);
            }
        }
        // Larger than the layout: attaching works (region_size is what counts).
        truncate_shm(name.str(), static_cast<off_t>(full));
        live.second.close();
        {
            [[maybe_unused]] auto gone = std::move(live);  // closed and unmapped (session first)
        }
        auto again = initialise(map::shm(name.str(), full, map::OpenMode::open_only).value());
        truncate_shm(name.str(), static_cast<off_t>(2 * full));
        auto bigger = map::shm(name.str(), 0, map::OpenMode::open_only);
        REQUIRE(bigger.has_value());
        CHECK(bigger->size() == 2 * full);
        CHECK(ConsumerSession::attach(bigger->bytes()).has_value());
    }
    SECTION("regular file") {
        const auto path = std::filesystem::temp_directory_path() /
                          ("pane-test-faults-trunc-" + std::to_string(::getpid()));
        std::filesystem::remove(path);
        auto live = initialise(map::file(path, full, map::OpenMode::create_only).value());
        for (const std::uint64_t size : {full - 1, full / 2, std::uint64_t{10}, std::uint64_t{0}}) {  // shrinking keeps the header
            INFO("truncated to " << size << " of " << full);
            std::filesystem::resize_file(path, size);
            auto sized = map::file(path, full, map::OpenMode::open_only);
            REQUIRE_FALSE(sized.has_value());
            CHECK(sized.error() == MapError::too_small);
            auto any = map::file(path, 0, map::OpenMode::open_only);
            if (size < sizeof(RegionHeader)) {
                REQUIRE_FALSE(any.has_value());
                CHECK(any.error() == MapError::too_small);
            } else {
                REQUIRE(any.has_value());
                CHECK(any->size() == size);
                auto attached = ConsumerSession::attach(any->bytes());
                REQUIRE_FALSE(attached.has_value());
                CHECK(attached.error() == AttachError::region_too_small);
            }
        }
        std::filesystem::resize_file(path, full);  // before the producer's close touches it
        std::filesystem::remove(path);
    }
}

namespace {
// Child: attaches, says so on the board, waits until the parent has shrunk the object, then
// reads the last byte of its mapping. Exit 0 means it survived (it does not: SIGBUS).
const pane_test::RegisterChild truncated_reader("truncated-reader", [](const std::vector<std::string>& args) {
    auto board = BoardMap::open(args.at(1));
    if (!board) return 10;
    auto region = map::shm(args.at(0), 0, map::OpenMode::open_only);
    if (!region) return 11;
    auto session = ConsumerSession::attach(region->bytes());
    if (!session) return 12;
    (*board)->consumers[0].attached_epoch = session->epoch();
    while ((*board)->stop.load() == 0) std::this_thread::sleep_for(1ms);
    [[maybe_unused]] const auto last = std::atomic_ref<std::byte>(region->bytes().back()).load(std::memory_order_relaxed);
    return 0;
});
}  // namespace

TEST_CASE("faults: an object truncated after attach raises SIGBUS in whoever touches the lost pages (documented, "
          "not handled)", "[multiprocess][faults]") {
    const RegionSpec spec = fault_spec(kConsumerTimeoutLong, 3);
    const std::uint64_t full = plan_region(spec)->region_size;
    FaultStage stage("trunc-live", spec);
    BoardMap& board = stage.board;
    auto producer = ProducerSession::create(stage.mapping.bytes(), spec);
    REQUIRE(producer.has_value());
    Child reader("truncated-reader", stage.child_args());
    REQUIRE(pane_test::eventually([&] { return board->consumers[0].attached_epoch.load() == producer->epoch(); }, kBound));
    truncate_shm(stage.region_name.str(), static_cast<off_t>(full / 2));
    board->stop = 1;
    const auto exit = reader.wait(kBound);
    REQUIRE(exit.has_value());
    std::printf("truncated after attach: the reader ended with status %d (%d = SIGBUS; under ASan its report)\n", *exit,
                128 + SIGBUS);
    CHECK(*exit != 0);
    truncate_shm(stage.region_name.str(), static_cast<off_t>(full));  // before the producer's close writes the header
}
