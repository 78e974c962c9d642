// SPDX-License-Identifier: MIT
// The bench's own shared page between the parent (this process) and the child it re-runs: the
// floor probe's ping-pong words, the start/finish handshake, the child's report, the frames
// measurement's per-iteration records, and a small payload area for the eventfd baseline. It
// lives in its own POSIX shm object, apart from the Pane regions under test, so nothing the
// bench does to coordinate touches the lines being measured.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cli.hpp"
#include "common.hpp"

namespace bench {

namespace pt = pane_tools;

inline constexpr std::size_t kLine = 64;  // our cache line: each word the two sides spin on has its own

struct alignas(kLine) Word {
    std::atomic<std::uint64_t> v{0};
    std::uint64_t load() const noexcept { return v.load(std::memory_order_acquire); }
    void store(std::uint64_t x) noexcept { v.store(x, std::memory_order_release); }
};
static_assert(sizeof(Word) == kLine && std::atomic<std::uint64_t>::is_always_lock_free);

// What the child reports when it has finished a measurement.
struct ChildReport {
    std::uint64_t received = 0;
    std::uint64_t lost = 0;
    std::uint64_t errors = 0;
    std::uint64_t cpu_ns = 0;  // the child's user + sys over the measurement window (getrusage)
    std::uint64_t value = 0;   // role-specific (frames: frames published)
    char error[256] = {};      // a BenchError's text, if the child failed
};

// Frames: the pieces the child (the producer) times in every iteration, in this order.
enum FramePiece : unsigned { kMemcpy, kNtCopy, kReadPass, kWriteProgressive, kWriteWhole, kFramePieces };

// One iteration of the frames measurement as the child saw it: the copy references, and its
// part of the two frames (begin() to copy_rows returning), each with whether the child was
// preempted meanwhile. Read by the parent once the child has reported.
struct FrameRecord {
    std::uint64_t ns[kFramePieces] = {};
    bool preempted[kFramePieces] = {};
};
inline constexpr std::size_t kMaxFrameIterations = 128;

struct Control {
    Word ping;      // floor probe: parent -> child
    Word pong;      // floor probe: child -> parent
    Word ready;     // child: set up, CPU accounting started (1)
    Word done;      // child: its receiving side saw the end of the stream (throughput runs)
    Word reported;  // child: report written (1)
    Word ack;       // frames: serial of the last frame the parent has read and checked
    ChildReport report;
    FrameRecord frames[kMaxFrameIterations];
    alignas(kLine) std::byte payload[2][4096];  // eventfd baseline: one message each way
};

// The Control block in its own shm object, created by the parent and opened by the child.
class ControlMap {
public:
    ControlMap() = default;
    ControlMap(const std::string& name, bool create) : name_(name), owner_(create) {
        const int fd = ::shm_open(("/" + name).c_str(), create ? O_RDWR | O_CREAT | O_EXCL : O_RDWR, 0600);
        if (fd < 0) throw BenchError("cannot open control shm " + name + ": " + std::strerror(errno));
        if (create && ::ftruncate(fd, sizeof(Control)) != 0) {
            ::close(fd);
            throw BenchError("cannot size control shm: " + std::string(std::strerror(errno)));
        }
        void* p = ::mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ::close(fd);
        if (p == MAP_FAILED) throw BenchError("cannot map control shm: " + std::string(std::strerror(errno)));
        ctl_ = create ? new (p) Control() : static_cast<Control*>(p);
    }
    ControlMap(const ControlMap&) = delete;
    ControlMap& operator=(const ControlMap&) = delete;
    ~ControlMap() {
        if (ctl_ != nullptr) ::munmap(ctl_, sizeof(Control));
        if (owner_) ::shm_unlink(("/" + name_).c_str());
    }
    Control* operator->() const noexcept { return ctl_; }
    Control& get() const noexcept { return *ctl_; }
    // A fresh block for the next measurement (the parent, while no child runs). The probe's
    // sequence continues, so a value from an earlier measurement never passes for an answer.
    void reset() noexcept {
        const std::uint64_t seq = ctl_->ping.load();
        ctl_->~Control();
        new (ctl_) Control();
        ctl_->ping.store(seq);
        ctl_->pong.store(seq);
    }

private:
    std::string name_;
    bool owner_ = false;
    Control* ctl_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Floor probe: the cheapest possible round trip between the two pinned processes. The parent
// stores a new value into `ping`; the child spins until it sees it and stores it into `pong`;
// the parent spins until it sees the answer. Each side waits only for one cache line written by
// the other, so this is the hardware's (and hypervisor's) floor for any shared-memory round
// trip. A value with kEndBit set ends the probe.

inline constexpr std::size_t kMinProbeSamples = 2000;

struct ProbeResult {
    pt::Percentiles ns;  // round trip percentiles
    std::uint64_t samples = 0;
};

template <class Alive>
ProbeResult probe_parent(Control& ctl, std::chrono::milliseconds duration, Alive&& alive) {
    std::vector<std::uint64_t> samples;
    samples.reserve(1 << 16);
    std::uint64_t seq = ctl.ping.load() & ~kEndBit;
    const auto deadline = Clock::now() + duration + std::chrono::seconds(30);
    const std::uint64_t start = now_ns();
    const std::uint64_t stop = start + static_cast<std::uint64_t>(duration.count()) * 1'000'000ull;
    std::uint64_t t = start;
    // At least kMinSamples: a probe descheduled for one whole slice must still have a median.
    while (t < stop || samples.size() < kMinProbeSamples) {
        ++seq;
        ctl.ping.store(seq);
        spin_until([&] { return ctl.pong.load() == seq; }, deadline, "the floor probe's answer", alive);
        const std::uint64_t t2 = now_ns();
        samples.push_back(t2 - t);
        t = t2;
    }
    ++seq;
    ctl.ping.store(seq | kEndBit);
    spin_until([&] { return ctl.pong.load() == (seq | kEndBit); }, deadline, "the floor probe's end", alive);
    ctl.ping.store(seq);  // the next probe continues from here
    ctl.pong.store(seq);
    ProbeResult r;
    r.samples = samples.size();
    r.ns = pt::percentiles(samples);
    return r;
}

// The child's side: answers until the end marker. `alive` says whether the parent still runs.
template <class Alive>
void probe_child(Control& ctl, Alive&& alive) {
    std::uint64_t answered = ctl.pong.load();
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    for (;;) {
        std::uint64_t v = 0;
        spin_until([&] { return (v = ctl.ping.load()) != answered; }, deadline, "the floor probe", alive);
        ctl.pong.store(v);
        answered = v;
        if ((v & kEndBit) != 0) {
            // The parent resets ping/pong to the plain sequence; wait for that so our next probe
            // starts from the same value it does.
            spin_until([&] { return ctl.pong.load() != v; }, deadline, "the floor probe's reset", alive);
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The child process: this program run again with --child and the job's arguments.

class Child {
public:
    Child() = default;
    // `keep_fds`: descriptors the child inherits (their numbers are in `args`); every other
    // descriptor of ours is close-on-exec or closed by the caller.
    Child(const std::vector<std::string>& args, const std::vector<int>& keep_fds) {
        std::vector<std::string> store{"pane-bench"};
        store.insert(store.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& s : store) argv.push_back(s.data());
        argv.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ < 0) throw BenchError("fork failed");
        if (pid_ == 0) {
            for (int fd : keep_fds) ::fcntl(fd, F_SETFD, 0);
            ::execv("/proc/self/exe", argv.data());
            ::_exit(127);
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)), status_(o.status_) {}
    ~Child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            (void)wait();
        }
    }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    // False once the child has exited (reaped here, its status kept).
    [[nodiscard]] bool alive() noexcept {
        if (pid_ <= 0) return false;
        int st = 0;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            status_ = st;
            pid_ = -1;
            return false;
        }
        return true;
    }
    // Waits for the exit; returns the exit code (128 + signal for a signal, -1 if unknown).
    int wait() noexcept {
        if (pid_ > 0) {
            int st = 0;
            while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
            }
            status_ = st;
            pid_ = -1;
        }
        if (WIFEXITED(status_)) return WEXITSTATUS(status_);
        if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
        return -1;
    }

private:
    pid_t pid_ = -1;
    int status_ = 0;
};

}  // namespace bench
