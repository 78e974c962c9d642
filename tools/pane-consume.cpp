// SPDX-License-Identifier: MIT
// pane-consume: the reference consumer. It attaches to a display region made by pane-produce and
// verifies everything that arrives: each frame read progressively (rows checked as the producer
// publishes them) against the synthetic pattern and its checksum trailer, frame order, every
// cursor position against its Lissajous path and every cursor shape against its pattern. A frame
// thread and a cursor thread each own their channel handle; the main thread owns the session
// (heartbeat), the control channel and the report. When the producer restarts, re-initialises
// the region or reaps us, the threads stop, the handles are dropped and it attaches again.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/core.h>

#include <pane/inspect.hpp>
#include <pane/pane.hpp>

#include "cli.hpp"
#include "consume_check.hpp"
#include "inspect_report.hpp"
#include "display_spec.hpp"
#include "image_write.hpp"
#include "pattern.hpp"
#include "region_source.hpp"

using namespace std::chrono_literals;
namespace pt = pane_tools;
using pane::Clock;
using pane::Deadline;
using namespace pane_tools::consume;

namespace {

constexpr const char* kHelp = R"(usage: pane-consume [--shm NAME | --file PATH [--size BYTES] | --ivshmem [ADDR]] [options]

Attaches to a display region made by pane-produce and verifies what arrives: every frame's
pattern and checksum (read row by row as the producer finishes them), frame order, cursor
positions and cursor shapes. Re-attaches when the producer restarts; ends with a report.
  --shm NAME                POSIX shm object NAME                           (default pane)
  --file PATH               a file, hugetlbfs file or device (/dev/kvmfr0) holding the region
  --size BYTES              bytes to map from PATH (devices; default: the file's size)
  --ivshmem [ADDR]          inside a Linux guest: the IVSHMEM device's BAR 2 (first
                            device, or PCI ADDR, or index N)
  --duration SECONDS        stop after this long; 0: until Ctrl-C or the producer closes
                                                                            (default 0)
  --attach-timeout SECONDS  how long to wait for a ready producer, at start and after a
                            producer restart                                (default 10)
  --wait NAME               auto | spin | yield | sleep | futex             (default auto)
  --save FILE               at exit, write the last verified frame (.png or .ppm)
  --expect-fps N            fail if the average frame rate is below 0.9 * N
  --min-cursor-hz N         fail if cursor position updates per second are below N
  --json                    print the report as one JSON object
  --help                    this text
  --version                 the Pane library and protocol versions
Latency runs from the producer publishing a frame to this consumer verifying its last row, on
one monotonic clock; it is measured only when the producer runs on this host.
Exit status: 0 if everything verified and the expectations hold, 1 otherwise (also when no
producer could be attached, or --save failed), 2 on usage errors.
)";

constexpr auto kTickPeriod = 10ms;         // session heartbeat, from the main thread only
constexpr auto kStatusPeriod = 250ms;      // live status line
constexpr auto kControlPeriod = 1s;        // one set_cursor_position per second

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// ---- options ----------------------------------------------------------------------------------

Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}


struct Config {
    pt::RegionSource source;
    std::optional<Deadline> until;  // --duration, from the first attach
    Clock::duration duration{};
    Clock::duration attach_timeout{};
    pane::AnyWait wait;
    std::string wait_name;
    std::optional<std::string> save;
    std::optional<double> expect_fps;
    std::optional<double> min_cursor_hz;
    bool json = false;
};

// ---- attaching --------------------------------------------------------------------------------

// Mapping first, so the session (and before it, every channel handle) goes first.
struct Attachment {
    pane::map::Mapping mapping;
    std::optional<pane::ConsumerSession> session;
};

enum class AttachOutcome { attached, timed_out, stopped, fatal };

bool stop_requested(const Config& cfg) { return g_stop != 0 || (cfg.until && cfg.until->passed(Clock::now())); }

// After "producer_stale", the same epoch is accepted again only if its heartbeat moves (the
// producer was paused, not dead); otherwise attach would succeed and go stale once a second.
bool heartbeat_moves(pane::ConsumerSession& session, std::span<const std::byte> region, const Deadline& give_up,
                     const Config& cfg) {
    (void)region;
    const std::uint64_t before = session.producer_heartbeat();
    const auto period =
        std::chrono::milliseconds(std::clamp<std::uint32_t>(session.header_copy().heartbeat_period_ms, 1, 1000));
    const auto until = Deadline::after(3 * period + 50ms);
    while (!until.passed(Clock::now()) && !give_up.passed(Clock::now()) && !stop_requested(cfg)) {
        const auto s = session.tick();
        if (s != pane::SessionStatus::ok && s != pane::SessionStatus::producer_stale) {
            return false;  // closed, re-initialised or reaped: attach again from scratch
        }
        if (session.producer_heartbeat() != before) return true;
        std::this_thread::sleep_for(5ms);
    }
    return false;
}

// Maps and attaches, retrying until a producer has the region ready (bounded by `timeout`).
AttachOutcome attach(const Config& cfg, Clock::duration timeout, std::uint64_t stale_epoch, Attachment& out,
                     std::string& why, pt::StatusLine& status) {
    const auto give_up = Deadline::after(timeout);
    const auto start = Clock::now();
    for (;;) {
        if (stop_requested(cfg)) return AttachOutcome::stopped;
        auto mapping = cfg.source.map_existing();
        if (!mapping) {
            why = fmt::format("cannot map {}: {}", cfg.source.label(), pane::describe(mapping.error()));
        } else {
            auto session = pane::ConsumerSession::attach(mapping->bytes());
            if (!session) {
                why = fmt::format("cannot attach to {}: {}", mapping->description(), pane::describe(session.error()));
                // Which check failed, from the read-only snapshot (the header, or the first bad channel).
                const auto snap = pane::inspect::snapshot(mapping->bytes(), 1);
                if (snap.header_error) why += " (" + pt::inspect_report::verdict_text(snap.header_verdict) + ")";
                if (session.error() == pane::AttachError::unsupported_version) return AttachOutcome::fatal;
            } else if (stale_epoch == 0 || session->epoch() != stale_epoch ||
                       heartbeat_moves(*session, mapping->bytes(), give_up, cfg)) {
                out.mapping = std::move(*mapping);  // moving a Mapping keeps the bytes where they are
                out.session.emplace(std::move(session.value()));
                return AttachOutcome::attached;
            } else {
                why = "the producer's heartbeat is still stopped and no new producer has appeared";
            }
        }
        const auto now = Clock::now();
        if (give_up.passed(now)) return AttachOutcome::timed_out;
        status.show(fmt::format("pane-consume: waiting for a producer on {} ({:.0f} s)", cfg.source.label(),
                                std::chrono::duration<double>(now - start).count()));
        std::this_thread::sleep_for(std::min<Clock::duration>(20ms, give_up.remaining(now)));
    }
}

// ---- the main thread's loop -------------------------------------------------------------------

// Rates over the last second, and latency samples gathered from the frame thread.
class Live {
public:
    explicit Live(Stats& stats) : stats_(stats) {}

    void gather_latency() {
        const std::lock_guard lock(stats_.latency_lock);
        latency_.insert(latency_.end(), stats_.latency_pending.begin(), stats_.latency_pending.end());
        stats_.latency_pending.clear();
    }
    [[nodiscard]] std::vector<std::uint64_t>& latency() { return latency_; }

    [[nodiscard]] std::string line(std::uint64_t restarts) {
        const auto now = Clock::now();
        history_.push_back({now, get(stats_.frames), get(stats_.cursor_updates)});
        while (history_.size() > 5) history_.pop_front();  // 4 steps of kStatusPeriod: about 1 s
        const Sample& a = history_.front();
        const Sample& b = history_.back();
        const double dt = std::chrono::duration<double>(b.at - a.at).count();
        const double fps = dt > 0 ? static_cast<double>(b.frames - a.frames) / dt : 0.0;
        const double hz = dt > 0 ? static_cast<double>(b.cursor - a.cursor) / dt : 0.0;
        gather_latency();
        std::string latency = "n/a";
        if (!latency_.empty()) {
            const auto mid = latency_.begin() + static_cast<std::ptrdiff_t>((latency_.size() - 1) / 2);
            std::nth_element(latency_.begin(), mid, latency_.end());
            latency = fmt::format("{:.2f} ms", static_cast<double>(*mid) / 1e6);
        }
        return fmt::format(
            "pane-consume: {:.1f} fps{}, {} skipped, latency p50 {}, cursor {:.0f}/s, {} shapes, "
            "{} restarts, {} errors",
            fps, stats_.frames_broken.load(std::memory_order_relaxed) ? " (frames BROKEN)" : "", get(stats_.skipped),
            latency, hz, get(stats_.shapes), restarts, stats_.error_total());
    }

private:
    struct Sample {
        Clock::time_point at;
        std::uint64_t frames, cursor;
    };
    Stats& stats_;
    std::deque<Sample> history_;
    std::vector<std::uint64_t> latency_;
};

struct ControlCounts {
    std::uint64_t sent = 0, full = 0, not_attached = 0;
    void count(pane::ControlStatus s) {
        if (s == pane::ControlStatus::ok) ++sent;
        if (s == pane::ControlStatus::full) ++full;  // the producer is behind: not an error
        // The attachment ended under the sender: the main thread re-attaches.
        if (s == pane::ControlStatus::not_attached || s == pane::ControlStatus::epoch_changed ||
            s == pane::ControlStatus::slot_lost) {
            ++not_attached;
        }
    }
};

enum class End { duration, signal, closed, restart, gone, fatal };

std::string_view end_name(End e) {
    switch (e) {
        case End::duration:
            return "duration reached";
        case End::signal:
            return "interrupted";
        case End::closed:
            return "producer closed the region";
        case End::restart:
            return "restarting";
        case End::gone:
            return "producer gone (no producer came back)";
        case End::fatal:
            return "region unusable";
    }
    return "?";
}

// Runs one attachment until it ends. The channel handles live in this scope and the threads
// are joined before they are destroyed, so they go before the caller's session.
End run_attached(Attachment& a, const Config& cfg, Stats& stats, Live& live, ControlCounts& control,
                 std::uint64_t restarts, pt::StatusLine& status, pane::SessionStatus& why, std::string& fatal) {
    pane::ConsumerSession& session = *a.session;
    auto frames = session.frames(pt::kFramesChannel);
    auto shapes = session.cursor_shape(pt::kCursorShapeChannel);
    auto positions = session.cursor_position(pt::kCursorPositionChannel);
    auto tx = session.control(pt::kControlChannel);
    for (const auto& [name, error] :
         {std::pair{pt::kFramesChannel, frames ? std::optional<pane::ChannelError>{} : frames.error()},
          std::pair{pt::kCursorShapeChannel, shapes ? std::optional<pane::ChannelError>{} : shapes.error()},
          std::pair{pt::kCursorPositionChannel, positions ? std::optional<pane::ChannelError>{} : positions.error()},
          std::pair{pt::kControlChannel, tx ? std::optional<pane::ChannelError>{} : tx.error()}}) {
        if (!error) continue;
        if (*error == pane::ChannelError::not_attached) {  // reaped between attach and open
            why = pane::SessionStatus::slot_lost;
            return End::restart;
        }
        fatal = fmt::format("channel \"{}\": {} (is this a pane-produce region?)", name, pane::describe(*error));
        // The snapshot names the failing field of an invalid channel.
        const auto snap = pane::inspect::snapshot(a.mapping.bytes(), 1);
        for (const auto& c : snap.channels) {
            const auto why = c.first_problem();
            if (c.name() == name && !why.ok()) fatal += ": " + pt::inspect_report::verdict_text(why);
        }
        return End::fatal;
    }

    stats.geometry.store(0, std::memory_order_relaxed);  // the new producer's frames tell the size
    stats.frames_broken.store(false, std::memory_order_relaxed);
    std::atomic<bool> stop{false};
    const RegionGuard guard(a.mapping.bytes(), session);
    FrameReader frame_reader(frames.value(), cfg.wait, stop, stats, guard, cfg.save.has_value());
    CursorReader cursor_reader(positions.value(), shapes.value(), cfg.wait, stop, stats, guard);
    std::thread frame_thread;
    std::thread cursor_thread;
    struct Join {
        std::atomic<bool>& stop;
        std::thread& a;
        std::thread& b;
        ~Join() {
            stop.store(true, std::memory_order_relaxed);
            if (a.joinable()) a.join();
            if (b.joinable()) b.join();
        }
    } join{stop, frame_thread, cursor_thread};  // also if starting the second thread throws
    frame_thread = std::thread([&] { frame_reader.run(); });
    cursor_thread = std::thread([&] { cursor_reader.run(); });

    control.count(tx->send_window_size(1280, 720));
    auto next_control = Clock::now() + kControlPeriod;
    auto next_status = Clock::now();
    std::int32_t step = 0;
    for (;;) {
        const auto now = Clock::now();
        if (g_stop != 0) return End::signal;
        if (cfg.until && cfg.until->passed(now)) return End::duration;
        const auto s = session.tick(now);
        if (s != pane::SessionStatus::ok) {
            why = s;
            return s == pane::SessionStatus::producer_closed ? End::closed : End::restart;
        }
        if (now >= next_control) {
            next_control += kControlPeriod;
            ++step;
            control.count(tx->send_cursor_position(100 + (step * 37) % 1080, 100 + (step * 23) % 520));
        }
        if (now >= next_status) {
            next_status = now + kStatusPeriod;
            status.show(live.line(restarts));
        }
        std::this_thread::sleep_for(kTickPeriod);
    }
}

// ---- report -----------------------------------------------------------------------------------

struct Report {
    std::string source;
    double seconds = 0;
    End end = End::duration;
    std::uint64_t restarts = 0;
    ControlCounts control;
    pt::Percentiles latency;
    bool latency_available = false;
    std::string latency_note;
    bool fps_ok = true, cursor_ok = true;
    std::uint32_t slot = 0;                 // of the last attachment
    bool producer_same_kernel = false;      // ditto: futex wake-ups, or the wait's own schedule
    double cpu_percent = 0;                 // of one core, user + system, over the run
    std::string saved_note;  // empty: no --save
    bool save_ok = true;
    bool ok = false;
};

std::string ms(double ns) { return fmt::format("{:.3f} ms", ns / 1e6); }

// User + system CPU time of this process so far (all threads).
double cpu_seconds() {
    rusage usage{};
    if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
    const auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return secs(usage.ru_utime) + secs(usage.ru_stime);
}

std::string placement_text(const Report& r) {
    return fmt::format("slot {}; producer on {}", r.slot,
                       r.producer_same_kernel ? "this kernel (futex wake-ups)" : "another kernel (waits poll on a schedule)");
}

void print_text(const Report& r, const Stats& st, const Config& cfg) {
    const std::uint64_t frames = get(st.frames);
    const std::uint64_t cursor = get(st.cursor_updates);
    const double fps = r.seconds > 0 ? static_cast<double>(frames) / r.seconds : 0.0;
    const double hz = r.seconds > 0 ? static_cast<double>(cursor) / r.seconds : 0.0;
    fmt::print("Pane consumer: {} (pid {}), wait strategy {}\n", r.source, ::getpid(), cfg.wait_name);
    fmt::print("  ran {:.2f} s; ended: {}; {:.1f} % of a core\n", r.seconds, end_name(r.end), r.cpu_percent);
    fmt::print("  {}\n\n", placement_text(r));
    const auto row = [](std::string_view k, const std::string& v) { fmt::print("  {:<30} {}\n", k, v); };
    row("frames verified", fmt::format("{}", frames));
    row("frames per second",
        fmt::format("{:.1f}", fps) +
            (cfg.expect_fps ? fmt::format("  (expected {:g}: {})", *cfg.expect_fps, r.fps_ok ? "ok" : "TOO LOW") : ""));
    row("frames skipped", fmt::format("{}", get(st.skipped)));
    if (r.latency_available) {
        row("latency p50", ms(r.latency.p50));
        row("latency p90", ms(r.latency.p90));
        row("latency p99", ms(r.latency.p99));
        row("latency max", ms(r.latency.max));
    } else {
        row("latency", r.latency_note);
    }
    row("cursor updates", fmt::format("{}", cursor));
    row("cursor updates per second",
        fmt::format("{:.1f}", hz) +
            (cfg.min_cursor_hz ? fmt::format("  (minimum {:g}: {})", *cfg.min_cursor_hz, r.cursor_ok ? "ok" : "TOO LOW")
                               : ""));
    row("cursor shape changes",
        fmt::format("{} ({} {}, {} {}, {} {})", get(st.shapes), kShapeTypeNames[0], get(st.shape_types[0]),
                    kShapeTypeNames[1], get(st.shape_types[1]), kShapeTypeNames[2], get(st.shape_types[2])));
    row("restarts",
        fmt::format("{}", r.restarts) +
            (get(st.discarded) != 0
                 ? fmt::format("  ({} failures discarded: region re-initialised or slot reaped)", get(st.discarded))
                 : ""));
    row("control messages sent",
        fmt::format("{} ({} refused: ring full{})", r.control.sent, r.control.full,
                    r.control.not_attached != 0 ? fmt::format(", {} not attached", r.control.not_attached) : ""));
    if (!r.saved_note.empty()) row("saved frame", r.saved_note);
    fmt::print("\n  {:<30} {}\n", "errors", st.error_total());
    for (std::size_t i = 0; i < kErrCount; ++i) {
        fmt::print("    {:<28} {}\n", kErrNames[i], st.errors[i].load(std::memory_order_relaxed));
    }
    fmt::print("\n  result: {}\n", r.ok ? "OK, everything received verified" : "FAILED");
}

using pane_tools::json_string;

void print_json(const Report& r, const Stats& st, const Config& cfg) {
    const std::uint64_t frames = get(st.frames);
    const std::uint64_t cursor = get(st.cursor_updates);
    const double fps = r.seconds > 0 ? static_cast<double>(frames) / r.seconds : 0.0;
    const double hz = r.seconds > 0 ? static_cast<double>(cursor) / r.seconds : 0.0;
    const std::string latency =
        r.latency_available
            ? fmt::format("{{\"available\":true,\"p50\":{:.6f},\"p90\":{:.6f},\"p99\":{:.6f},\"max\":{:.6f}}}",
                          r.latency.p50 / 1e6, r.latency.p90 / 1e6, r.latency.p99 / 1e6, r.latency.max / 1e6)
            : fmt::format("{{\"available\":false,\"reason\":{}}}", json_string(r.latency_note));
    std::string errors;
    for (std::size_t i = 0; i < kErrCount; ++i) {
        errors +=
            fmt::format("{}\"{}\":{}", i == 0 ? "" : ",", kErrKeys[i], st.errors[i].load(std::memory_order_relaxed));
    }
    const auto opt_num = [](const std::optional<double>& v) {
        return v ? fmt::format("{:g}", *v) : std::string("null");
    };
    fmt::print(
        "{{\"source\":{},\"wait\":{},\"seconds\":{:.3f},\"end\":{},\"cpu_percent\":{:.2f},\"slot\":{},"
        "\"producer_same_kernel\":{},"
        "\"frames\":{{\"verified\":{},\"fps\":{:.2f},\"skipped\":{},\"latency_ms\":{}}},"
        "\"cursor\":{{\"updates\":{},\"updates_per_s\":{:.1f},\"shape_changes\":{},"
        "\"shape_types\":{{\"colour\":{},\"monochrome\":{},\"masked\":{}}}}},"
        "\"restarts\":{},\"discarded_after_restart\":{},\"control\":{{\"sent\":{},\"full\":{},\"not_attached\":{}}},"
        "\"errors\":{{{}}},\"error_total\":{},"
        "\"expectations\":{{\"fps\":{},\"fps_ok\":{},\"min_cursor_hz\":{},\"cursor_ok\":{}}},"
        "\"save\":{},\"ok\":{}}}\n",
        json_string(r.source), json_string(cfg.wait_name), r.seconds, json_string(end_name(r.end)), r.cpu_percent,
        r.slot, r.producer_same_kernel, frames, fps,
        get(st.skipped), latency, cursor, hz, get(st.shapes), get(st.shape_types[0]), get(st.shape_types[1]),
        get(st.shape_types[2]), r.restarts, get(st.discarded), r.control.sent, r.control.full, r.control.not_attached,
        errors, st.error_total(), opt_num(cfg.expect_fps), r.fps_ok, opt_num(cfg.min_cursor_hz), r.cursor_ok,
        r.saved_note.empty() ? std::string("null")
                             : fmt::format("{{\"path\":{},\"ok\":{},\"note\":{}}}", json_string(*cfg.save), r.save_ok,
                                           json_string(r.saved_note)),
        r.ok);
}

// Writes the kept frame; returns a note for the report.
std::pair<bool, std::string> save_frame(const Stats& st, const std::string& path) {
    if (!st.saved.valid) return {false, "nothing saved: no frame was verified"};
    const pane::FrameDescriptor& d = st.saved.descriptor;
    const auto image = pt::to_rgb(st.saved.bytes, d.format, d.width, d.height, d.stride);
    if (!image) return {false, fmt::format("cannot convert the {} frame", format_name(d.format))};
    if (!pt::write_image(path, *image)) return {false, fmt::format("cannot write {}", path)};
    return {true, fmt::format("{} ({}x{} {}, frame {})", path, d.width, d.height, format_name(d.format), d.serial)};
}

int run(int argc, char** argv) {
    pt::Options opt(argc, argv, {"json", "help", "wc", "version"}, {"ivshmem"});
    opt.require_known({"shm", "file", "size", "ivshmem", "wc", "duration", "attach-timeout", "wait", "save", "expect-fps",
                       "min-cursor-hz", "json", "help", "version"});
    if (!opt.positional().empty()) throw pt::UsageError("unexpected argument '" + opt.positional()[0] + "'");
    if (opt.has("help")) {
        fmt::print("{}", kHelp);
        return 0;
    }
    if (opt.has("version")) {
        pt::print_version("pane-consume");
        return 0;
    }
    Config cfg;
    if (opt.has("size") && opt.has("shm")) throw pt::UsageError("--size goes with --file or --ivshmem");
    cfg.source = pt::parse_region_source(opt);
    cfg.source.size = opt.num("size", 0);
    constexpr double kMaxSeconds = 1e8;  // about three years: fits Clock::duration with room
    cfg.duration = seconds(pt::real_option(opt, "duration", 0, kMaxSeconds));
    cfg.attach_timeout = seconds(pt::real_option(opt, "attach-timeout", 10, kMaxSeconds));
    cfg.wait_name = opt.str("wait", "auto");
    const auto wait = pane::parse_wait(cfg.wait_name);
    if (!wait) throw pt::UsageError("--wait wants auto, spin, yield, sleep or futex");
    cfg.wait = *wait;
    if (opt.has("save")) {
        cfg.save = opt.str("save", "");
        std::string ext = cfg.save->size() >= 4 ? cfg.save->substr(cfg.save->size() - 4) : "";
        std::transform(ext.begin(), ext.end(), ext.begin(),
                       [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
        if (ext != ".png" && ext != ".ppm") throw pt::UsageError("--save wants a .png or .ppm file name");
    }
    if (opt.has("expect-fps")) cfg.expect_fps = pt::real_option(opt, "expect-fps", 0, 1e6);
    if (opt.has("min-cursor-hz")) cfg.min_cursor_hz = pt::real_option(opt, "min-cursor-hz", 0, 1e9);
    cfg.json = opt.has("json");

    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    pt::StatusLine status;
    Stats stats;
    Live live(stats);
    Report report;

    std::string why_not;
    {
        Attachment first;
        const auto outcome = attach(cfg, cfg.attach_timeout, 0, first, why_not, status);
        status.done();
        if (outcome == AttachOutcome::stopped) {
            fmt::print(stderr, "pane-consume: interrupted before a producer was attached\n");
            return 1;
        }
        if (outcome != AttachOutcome::attached) {
            fmt::print(stderr, "pane-consume: no ready producer: {}\n", why_not);
            return 1;
        }
        // The duration counts from the first attach, so waiting for a producer does not eat it.
        const auto started = Clock::now();
        if (cfg.duration > Clock::duration::zero()) cfg.until = Deadline::at(started + cfg.duration);
        Attachment current = std::move(first);
        std::string fatal;
        for (;;) {
            report.source = current.mapping.description();
            report.slot = current.session->slot_index();
            report.producer_same_kernel = current.session->producer_shares_kernel();
            pane::SessionStatus why = pane::SessionStatus::ok;
            const End end =
                run_attached(current, cfg, stats, live, report.control, report.restarts, status, why, fatal);
            const std::uint64_t stale_epoch = why == pane::SessionStatus::producer_stale ? current.session->epoch() : 0;
            current.session.reset();  // the handles are gone already; now detach, then unmap
            current.mapping = pane::map::Mapping{};
            status.done();
            if (end != End::restart) {
                report.end = end;
                if (end == End::fatal) fmt::print(stderr, "pane-consume: {}\n", fatal);
                break;
            }
            ++report.restarts;
            fmt::print(stderr, "pane-consume: {}; attaching again\n", pane::describe(why));
            const auto outcome = attach(cfg, cfg.attach_timeout, stale_epoch, current, why_not, status);
            status.done();
            if (outcome == AttachOutcome::attached) continue;
            if (outcome == AttachOutcome::stopped) {
                report.end = g_stop != 0 ? End::signal : End::duration;
            } else {
                stats.error(Err::reattach);
                report.end = outcome == AttachOutcome::fatal ? End::fatal : End::gone;
                fmt::print(stderr, "pane-consume: {}\n", why_not);
            }
            break;
        }
        report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    }
    report.cpu_percent = cpu_seconds() / std::max(report.seconds, 1e-9) * 100.0;

    // Every thread is joined: the counters and the saved frame are final.
    live.gather_latency();
    // Samples come only from frames whose producer shares our clock (FrameView::same_host).
    report.latency_available = !live.latency().empty();
    if (!report.latency_available) {
        report.latency_note = stats.remote_producer.load() ? "n/a (producer on another host)" : "n/a (no frames)";
    } else {
        report.latency = pt::percentiles(live.latency());
    }
    const double fps = report.seconds > 0 ? static_cast<double>(get(stats.frames)) / report.seconds : 0.0;
    const double hz = report.seconds > 0 ? static_cast<double>(get(stats.cursor_updates)) / report.seconds : 0.0;
    report.fps_ok = !cfg.expect_fps || fps >= 0.9 * *cfg.expect_fps;
    report.cursor_ok = !cfg.min_cursor_hz || hz >= *cfg.min_cursor_hz;
    if (cfg.save) std::tie(report.save_ok, report.saved_note) = save_frame(stats, *cfg.save);
    report.ok =
        stats.error_total() == 0 && report.fps_ok && report.cursor_ok && report.save_ok && report.end != End::fatal;
    if (cfg.json) {
        print_json(report, stats, cfg);
    } else {
        print_text(report, stats, cfg);
    }
    return report.ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::invalid_argument& e) {  // pt::UsageError and parse_region_source's
        pt::print_usage_error("pane-consume", e.what());
        return 2;
    } catch (const std::exception& e) {
        fmt::print(stderr, "pane-consume: {}\n", e.what());
        return 1;
    }
}
