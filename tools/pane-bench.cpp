// SPDX-License-Identifier: MIT
// pane-bench: a producer process and a consumer process over a POSIX shm region. The consumer
// is this program re-run as a child. Phase 1 pushes messages through a lossless ring as fast as
// possible (throughput, with order and content checked); phase 2 sends them at a fixed rate and
// measures one-way latency (both processes read one host's monotonic clock). Ends with a report.
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <fmt/core.h>

#include <pane/map/shm.hpp>
#include <pane/pane.hpp>

#include "cli.hpp"

using namespace std::chrono_literals;
namespace pt = pane_tools;

namespace {

constexpr const char* kHelp = R"(usage: pane-bench ring [options]

Runs a producer (this process) and a consumer (a child process) over a POSIX shm region, then
sends the same messages through a pipe between the same processes as a baseline.
  --messages N    throughput phase: messages through a lossless ring   (default 5000000)
  --size BYTES    message size, 24..65536                              (default 64)
  --capacity N    ring capacity, a power of two                        (default 4096)
  --wait NAME     auto | spin | yield | sleep | futex                  (default auto)
  --rate HZ       latency phase: messages per second                   (default 20000)
  --latency N     latency phase: message count                         (default 20000)
  --shm NAME      shm object name                                      (default pane-bench-PID)
  --json          print the report as one JSON object
  --help          this text
Exit status: 0 if every message arrived in order and intact, 1 otherwise, 2 on usage errors.
)";

// Message header; the rest of the message is filler derived from seq, verified by the consumer.
struct Stamp {
    std::uint64_t seq;
    std::uint64_t sent_ns;  // producer's steady clock; compared only on the same host
    std::uint64_t phase;
};
static_assert(sizeof(Stamp) == 24);

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(pane::Clock::now().time_since_epoch()).count());
}

void fill(std::vector<std::byte>& m, std::uint64_t seq) {
    for (std::size_t i = sizeof(Stamp); i < m.size(); ++i) m[i] = std::byte(static_cast<std::uint8_t>(seq + i));
}
bool filler_ok(const std::vector<std::byte>& m, std::size_t len, std::uint64_t seq) {
    for (std::size_t i = sizeof(Stamp); i < len; ++i) {
        if (m[i] != std::byte(static_cast<std::uint8_t>(seq + i))) return false;
    }
    return true;
}

constexpr int kBaselineFd = 3;  // the consumer child's end of the baseline pipe

bool read_full(int fd, std::byte* p, std::size_t n) {
    while (n > 0) {
        const ssize_t r = ::read(fd, p, n);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

bool write_full(int fd, const std::byte* p, std::size_t n) {
    while (n > 0) {
        const ssize_t r = ::write(fd, p, n);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

struct PhaseResult {
    std::uint64_t received = 0, lost = 0, errors = 0;
    double seconds = 0;
    pt::Percentiles latency_ns;
};

pane::RegionSpec make_spec(std::uint32_t size, std::uint32_t capacity) {
    pane::RegionSpec spec;
    spec.max_consumers = 4;
    spec.add(pane::RingSpec{"bench", size, capacity, pane::RingPolicy::lossless});
    return spec;
}

// Child: consume both phases, print "phase received lost errors seconds p50 p90 p99 p999 max".
int run_consumer(const std::string& shm, std::uint64_t messages, std::uint64_t latency_messages,
                 const pane::AnyWait& wait) {
    auto mapping = pane::map::shm(shm, 0, pane::map::OpenMode::open_only);
    if (!mapping) return 3;
    auto session = pane::ConsumerSession::attach(mapping->bytes());
    if (!session) return 3;
    auto rx = session->byte_ring("bench");
    if (!rx) return 3;
    std::vector<std::byte> buf(rx->element_size());
    // Percentiles are computed after both phases: sorting between them would delay the
    // latency phase's first messages and show up as its tail.
    std::vector<std::uint64_t> latencies[2];
    PhaseResult results[2];
    std::uint64_t expect = 0;
    for (std::uint64_t phase = 0; phase < 2; ++phase) {
        PhaseResult& r = results[phase];
        const std::uint64_t count = phase == 0 ? messages : latency_messages;
        latencies[phase].reserve(count);
        auto start = pane::Clock::now();
        const auto give_up = pane::Deadline::after(120s);
        while (r.received < count) {
            if ((r.received & 0x3ff) == 0) (void)session->tick();
            auto p = rx->pop(buf, wait, pane::Deadline::after(100ms));
            r.lost += p.lost;
            if (p.status == pane::PopStatus::timed_out) {
                if (give_up.passed(pane::Clock::now())) return 4;
                continue;  // heartbeat and keep waiting
            }
            if (p.status != pane::PopStatus::ok) return 4;
            const auto received_ns = now_ns();
            Stamp s{};
            std::memcpy(&s, buf.data(), sizeof(s));
            if (r.received == 0) start = pane::Clock::now();
            if (s.seq != expect || s.phase != phase || !filler_ok(buf, p.length, s.seq)) ++r.errors;
            expect = s.seq + 1;
            ++r.received;
            latencies[phase].push_back(received_ns - s.sent_ns);
        }
        r.seconds = std::chrono::duration<double>(pane::Clock::now() - start).count();
    }
    // Baseline: the same messages through a pipe (fd 3) between the same two processes.
    PhaseResult pipe_result;
    {
        auto start = pane::Clock::now();
        for (std::uint64_t i = 0; i < messages; ++i) {
            if (!read_full(kBaselineFd, buf.data(), buf.size())) return 5;
            if (i == 0) start = pane::Clock::now();
            Stamp s{};
            std::memcpy(&s, buf.data(), sizeof(s));
            if (s.seq != i || s.phase != 2 || !filler_ok(buf, buf.size(), s.seq)) ++pipe_result.errors;
            ++pipe_result.received;
        }
        pipe_result.seconds = std::chrono::duration<double>(pane::Clock::now() - start).count();
    }
    for (std::uint64_t phase = 0; phase < 2; ++phase) {
        PhaseResult& r = results[phase];
        r.latency_ns = pt::percentiles(latencies[phase]);
        fmt::print("{} {} {} {} {:.9f} {} {} {} {} {}\n", phase, r.received, r.lost, r.errors, r.seconds,
                   r.latency_ns.p50, r.latency_ns.p90, r.latency_ns.p99, r.latency_ns.p999, r.latency_ns.max);
    }
    fmt::print("2 {} 0 {} {:.9f} 0 0 0 0 0\n", pipe_result.received, pipe_result.errors, pipe_result.seconds);
    std::fflush(stdout);
    return 0;
}

struct Child {
    pid_t pid = -1;
    int out = -1;       // its report
    int baseline = -1;  // our end of the baseline pipe
};

Child spawn_consumer(char* self, const std::vector<std::string>& args) {
    int fds[2];
    int data[2];
    if (::pipe(fds) != 0 || ::pipe(data) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> store{self, "--consumer-child"};
    store.insert(store.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : store) argv.push_back(s.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fds[1], STDOUT_FILENO);
        ::dup2(data[0], kBaselineFd);
        for (int fd : {fds[0], fds[1], data[0], data[1]}) ::close(fd);
        ::execv("/proc/self/exe", argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    ::close(data[0]);
    return {pid, fds[0], data[1]};
}

std::string read_all(int fd) {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return s;
}

bool parse_phase(const std::string& line, PhaseResult& r) {
    unsigned long long phase, received, lost, errors;
    double seconds, p50, p90, p99, p999, max;
    if (std::sscanf(line.c_str(), "%llu %llu %llu %llu %lf %lf %lf %lf %lf %lf", &phase, &received, &lost, &errors,
                    &seconds, &p50, &p90, &p99, &p999, &max) != 10) {
        return false;
    }
    r = PhaseResult{received, lost, errors, seconds, {p50, p90, p99, p999, max}};
    return true;
}

int run(int argc, char** argv) {
    pt::Options opt(argc, argv, {"json", "help", "consumer-child"});
    opt.require_known({"json", "help", "consumer-child", "messages", "size", "capacity", "rate", "latency", "wait", "shm"});
    if (opt.has("help") || opt.positional().empty() || opt.positional()[0] != "ring") {
        fmt::print(opt.has("help") ? stdout : stderr, "{}", kHelp);
        return opt.has("help") ? 0 : 2;
    }
    const auto messages = opt.num("messages", 5'000'000);
    const auto size = opt.num("size", 64);
    const auto capacity = opt.num("capacity", 4096);
    const auto rate = opt.num("rate", 20'000);
    const auto latency_messages = opt.num("latency", 20'000);
    const auto wait_name = opt.str("wait", "auto");
    const auto wait = pane::parse_wait(wait_name);
    if (!wait || size < sizeof(Stamp) || size > 65536 || rate == 0 || messages == 0 || latency_messages == 0) {
        fmt::print(stderr, "pane-bench: invalid option value\n{}", kHelp);
        return 2;
    }
    const std::string shm = opt.str("shm", "pane-bench-" + std::to_string(::getpid()));
    const std::vector<std::string> child_args{"ring", "--shm", shm, "--messages", std::to_string(messages),
                                              "--latency", std::to_string(latency_messages), "--wait", wait_name};
    if (opt.has("consumer-child")) return run_consumer(shm, messages, latency_messages, *wait);

    const auto spec = make_spec(static_cast<std::uint32_t>(size), static_cast<std::uint32_t>(capacity));
    const auto plan = pane::plan_region(spec);
    if (!plan) {
        fmt::print(stderr, "pane-bench: {}\n", pane::describe(plan.error()));
        return 2;
    }
    pane::map::remove_shm(shm);
    auto mapping = pane::map::shm(shm, plan->region_size, pane::map::OpenMode::create_only);
    if (!mapping) {
        fmt::print(stderr, "pane-bench: cannot create shm {}: {}\n", shm, pane::describe(mapping.error()));
        return 1;
    }
    struct Cleanup {
        std::string name;
        ~Cleanup() { pane::map::remove_shm(name); }
    } cleanup{shm};
    auto producer = pane::ProducerSession::create(mapping->bytes(), spec).value();
    auto tx = producer.byte_ring("bench").value();
    Child child = spawn_consumer(argv[0], child_args);

    pt::StatusLine status;
    const auto attach_deadline = pane::Deadline::after(10s);
    while (tx.subscribers_approx() == 0) {
        producer.tick();
        if (attach_deadline.passed(pane::Clock::now())) {
            fmt::print(stderr, "pane-bench: the consumer did not attach within 10 s\n");
            ::kill(child.pid, SIGKILL);
            return 1;
        }
        std::this_thread::sleep_for(1ms);
    }
    std::vector<std::byte> msg(size);
    std::uint64_t seq = 0;
    bool failed = false;
    auto send = [&](std::uint64_t phase) {
        fill(msg, seq);
        Stamp s{seq, now_ns(), phase};
        std::memcpy(msg.data(), &s, sizeof(s));
        if (tx.push(msg, *wait, pane::Deadline::after(10s)) != pane::PushStatus::ok) failed = true;
        ++seq;
    };
    const auto t0 = pane::Clock::now();
    auto last_status = t0;
    for (std::uint64_t i = 0; i < messages && !failed; ++i) {
        send(0);
        if ((i & 0xfff) == 0) {
            const auto now = pane::Clock::now();
            producer.tick(now);
            if (now - last_status > 250ms) {
                last_status = now;
                const double secs = std::chrono::duration<double>(now - t0).count();
                status.show(fmt::format("throughput: {}/{} messages, {:.2f} M/s", i, messages, i / secs / 1e6));
            }
        }
    }
    const double send_seconds = std::chrono::duration<double>(pane::Clock::now() - t0).count();
    const auto period = std::chrono::nanoseconds(1'000'000'000ULL / rate);
    auto next = pane::Clock::now();
    for (std::uint64_t i = 0; i < latency_messages && !failed; ++i) {
        next += period;
        // Sleep, not spin: on a 2-core machine a spinning pacer would preempt the consumer.
        // The send stamp is taken after waking, so pacing jitter does not bias the latency.
        std::this_thread::sleep_until(next);
        send(1);
        if ((i & 0xff) == 0) {
            producer.tick();
            status.show(fmt::format("latency: {}/{} messages at {} Hz", i, latency_messages, rate));
        }
    }
    status.show("baseline: the same messages through a pipe");
    for (std::uint64_t i = 0; i < messages && !failed; ++i) {
        fill(msg, i);
        Stamp s{i, now_ns(), 2};
        std::memcpy(msg.data(), &s, sizeof(s));
        if (!write_full(child.baseline, msg.data(), msg.size())) failed = true;
    }
    ::close(child.baseline);
    status.done();
    const std::string report = read_all(child.out);
    int child_status = 0;
    ::waitpid(child.pid, &child_status, 0);
    PhaseResult phases[3];
    std::size_t line_start = 0;
    int parsed = 0;
    while (parsed < 3 && line_start < report.size()) {
        const auto end = report.find('\n', line_start);
        if (parse_phase(report.substr(line_start, end - line_start), phases[parsed])) ++parsed;
        line_start = end == std::string::npos ? report.size() : end + 1;
    }
    if (failed || parsed != 3 || !WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) {
        fmt::print(stderr, "pane-bench: run failed (producer {}, consumer exit {}, report lines {})\n",
                   failed ? "timed out" : "ok", WIFEXITED(child_status) ? WEXITSTATUS(child_status) : -1, parsed);
        return 1;
    }
    const PhaseResult& tp = phases[0];
    const PhaseResult& lat = phases[1];
    const PhaseResult& pipe = phases[2];
    const double rate_mps = static_cast<double>(tp.received) / tp.seconds;
    const double pipe_mps = static_cast<double>(pipe.received) / pipe.seconds;
    const bool ok = tp.errors == 0 && lat.errors == 0 && pipe.errors == 0 && tp.lost == 0 && lat.lost == 0 &&
                    tp.received == messages && lat.received == latency_messages && pipe.received == messages;
    if (opt.has("json")) {
        fmt::print(
            "{{\"backend\":\"shm\",\"ring\":{{\"size\":{},\"capacity\":{},\"policy\":\"lossless\",\"wait\":\"{}\"}},"
            "\"throughput\":{{\"messages\":{},\"seconds\":{:.6f},\"messages_per_s\":{:.0f},\"mib_per_s\":{:.1f},"
            "\"lost\":{},\"errors\":{},\"latency_ns\":{{\"p50\":{},\"p99\":{},\"max\":{}}}}},"
            "\"latency\":{{\"messages\":{},\"rate_hz\":{},\"lost\":{},\"errors\":{},"
            "\"latency_ns\":{{\"p50\":{},\"p90\":{},\"p99\":{},\"p999\":{},\"max\":{}}}}},"
            "\"pipe_baseline\":{{\"messages_per_s\":{:.0f},\"errors\":{}}},\"ratio_vs_pipe\":{:.2f},\"ok\":{}}}\n",
            size, capacity, wait_name, tp.received, tp.seconds, rate_mps,
            rate_mps * static_cast<double>(size) / (1 << 20), tp.lost, tp.errors, tp.latency_ns.p50,
            tp.latency_ns.p99, tp.latency_ns.max, lat.received, rate, lat.lost, lat.errors, lat.latency_ns.p50,
            lat.latency_ns.p90, lat.latency_ns.p99, lat.latency_ns.p999, lat.latency_ns.max, pipe_mps, pipe.errors,
            rate_mps / pipe_mps, ok);
        return ok ? 0 : 1;
    }
    auto us = [](double ns) { return fmt::format("{:.1f} us", ns / 1000.0); };
    fmt::print("Pane ring: producer pid {} -> consumer pid {} over {} ({} bytes)\n", ::getpid(), child.pid,
               mapping->description(), mapping->size());
    fmt::print("  ring: lossless, {} x {} B messages, wait strategy {}\n\n", capacity, size, wait_name);
    fmt::print("  {:<28} {:>14} {:>12}\n", "", "throughput", "latency");
    fmt::print("  {:<28} {:>14} {:>12}\n", "messages received", tp.received, lat.received);
    fmt::print("  {:<28} {:>14.2f} {:>12}\n", "seconds", tp.seconds, fmt::format("{:.2f}", lat.seconds));
    fmt::print("  {:<28} {:>14} {:>12}\n", "messages/s", fmt::format("{:.2f} M", rate_mps / 1e6),
               fmt::format("{} /s", rate));
    fmt::print("  {:<28} {:>14} {:>12}\n", "MiB/s", fmt::format("{:.0f}", rate_mps * size / (1 << 20)), "-");
    fmt::print("  {:<28} {:>14} {:>12}\n", "latency p50", us(tp.latency_ns.p50), us(lat.latency_ns.p50));
    fmt::print("  {:<28} {:>14} {:>12}\n", "latency p90", us(tp.latency_ns.p90), us(lat.latency_ns.p90));
    fmt::print("  {:<28} {:>14} {:>12}\n", "latency p99", us(tp.latency_ns.p99), us(lat.latency_ns.p99));
    fmt::print("  {:<28} {:>14} {:>12}\n", "latency p99.9", us(tp.latency_ns.p999), us(lat.latency_ns.p999));
    fmt::print("  {:<28} {:>14} {:>12}\n", "latency max", us(tp.latency_ns.max), us(lat.latency_ns.max));
    fmt::print("  {:<28} {:>14} {:>12}\n", "lost", tp.lost, lat.lost);
    fmt::print("  {:<28} {:>14} {:>12}\n", "order/content errors", tp.errors, lat.errors);
    fmt::print("\n  baseline, same messages through a pipe: {:.2f} M messages/s ({} errors)\n", pipe_mps / 1e6,
               pipe.errors);
    fmt::print("  Pane ring vs pipe, measured in this run: {:.2f}x the throughput\n", rate_mps / pipe_mps);
    fmt::print("  producer send time {:.2f} s; throughput latency includes queueing in a full ring.\n",
               send_seconds);
    fmt::print("  result: {}\n", ok ? "OK, every message arrived in order and intact" : "FAILED");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        fmt::print(stderr, "pane-bench: {}\n{}", e.what(), kHelp);
        return 2;
    }
}
