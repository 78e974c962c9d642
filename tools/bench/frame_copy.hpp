// SPDX-License-Identifier: MIT
// Measures what one frame costs to move through a frame channel, against the physical limits
// measured in the same run: one streaming copy of the frame (stream_copy), memcpy, and a read
// pass; then a producer writing the frame with FrameWriter::copy_rows from a private capture
// buffer while a consumer reads its rows as they become ready (progressive), and the same with a
// consumer that waits for the whole frame first. Each figure is the median over the rounds of the
// samples no thread was preempted in (see samples_preempted); the rounds interleave the five
// measurements so machine noise hits them alike. For pane-bench.
//
// The region is in-process memory and the consumer is a thread of this process (pinned to
// consumer_cpu): the frame path is the same as between processes (shared bytes, the rows_ready
// word, its futex), without a second process to start.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#endif

#include <pane/map/memory.hpp>
#include <pane/pane.hpp>
#include <pane/stream_copy.hpp>

namespace pane_bench {

struct FrameCopyFigures {
    // Medians over the rounds, milliseconds per frame.
    double nt_copy_ms = 0;      // stream_copy of the frame, private buffer -> private buffer
    double memcpy_ms = 0;       // std::memcpy of the same
    double read_ms = 0;         // one read pass (64-bit sums) over a frame just written by stream_copy
    double progressive_ms = 0;  // begin() -> the consumer has read every row, reading as rows arrive
    double whole_frame_ms = 0;  // the same, the consumer waiting for the complete frame before reading
    double progressive_write_ms = 0;  // of progressive_ms: begin() -> copy_rows returned (the producer's part)
    // Context, for the report.
    std::uint32_t width = 0, height = 0;
    std::uint64_t frame_bytes = 0;
    int rounds = 0;
    bool streaming_stores = pane::detail::kStreamingStores;  // false: stream_copy is memcpy here
    bool pinned = false;            // both threads got the CPUs asked for
    std::uint64_t publish_bytes = 0;  // progress published every this many bytes
    double progressive_ratio() const { return nt_copy_ms > 0 ? progressive_ms / nt_copy_ms : 0; }
    // Every frame the consumer read summed to its source's sum, and verified ok.
    bool verified = false;
    // Samples during which the measuring thread (or, for the frame path, the consumer) was
    // preempted are left out of the medians (a shared machine's other load would otherwise
    // decide them); how many were, of how many.
    int samples_preempted = 0;
    int samples_total = 0;
    std::string error;  // set when the measurement could not run (verified is then false)
};

struct FrameCopyOptions {
    pane::AnyWait wait = pane::AutoWait{};  // the consumer's wait strategy
    // 0: FrameWriter::copy_rows (publishes every kCopyPublishBytes). Otherwise the producer
    // copies and publishes every this many bytes itself, with stream_copy_rows and rows_ready.
    std::size_t publish_bytes = 0;
    int warmup_rounds = 4;  // untimed; the first frame into each buffer pays its page faults
};

namespace detail {

// Pins the calling thread to `cpu` (-1: leave it). False if that failed or is not supported.
inline bool pin_to(int cpu) {
    if (cpu < 0) return false;
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
#else
    return false;
#endif
}

// Sum of the 64-bit words of `bytes` (a multiple of 8): touches every byte once, as a reader
// that checks or converts a frame would; order-independent, so rows summed in chunks add up to
// the whole frame's sum.
inline std::uint64_t sum_words(const std::byte* p, std::size_t bytes) {
    std::uint64_t a = 0, b = 0, c = 0, d = 0;
    std::size_t i = 0;
    for (; i + 32 <= bytes; i += 32) {
        std::uint64_t w[4];
        std::memcpy(w, p + i, 32);
        a += w[0];
        b += w[1];
        c += w[2];
        d += w[3];
    }
    for (; i + 8 <= bytes; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        a += w;
    }
    return a + b + c + d;
}

// Involuntary context switches of the calling thread so far (0 where unknown).
inline long preemptions() {
#if defined(__linux__)
    rusage u{};
    return getrusage(RUSAGE_THREAD, &u) == 0 ? u.ru_nivcsw : 0;
#else
    return 0;
#endif
}

// Timed samples of one figure: the median of those not preempted (of all, if every one was).
struct Samples {
    std::vector<double> clean, all;
    void add(double ms, bool preempted) {
        all.push_back(ms);
        if (!preempted) clean.push_back(ms);
    }
};

inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 != 0 ? v[m] : (v[m - 1] + v[m]) / 2;
}

inline double ms_between(pane::Clock::time_point a, pane::Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace detail

// Both threads pinned where asked (-1: not pinned); the measuring thread is the producer and is
// pinned only for the call (its previous affinity is restored).
inline FrameCopyFigures measure_frame_copy(std::uint32_t width, std::uint32_t height, int rounds, int producer_cpu,
                                           int consumer_cpu, const FrameCopyOptions& options = {}) {
    using namespace pane;
    FrameCopyFigures f;
    f.width = width;
    f.height = height;
    f.rounds = rounds;
    const std::size_t row_bytes = std::size_t{width} * 4;
    const std::size_t bytes = row_bytes * height;
    f.frame_bytes = bytes;
    f.publish_bytes = options.publish_bytes != 0 ? options.publish_bytes : FrameWriter::kCopyPublishBytes;
    if (width == 0 || height == 0 || rounds <= 0) {
        f.error = "width, height and rounds must be positive";
        return f;
    }

    RegionSpec spec;
    spec.max_consumers = 2;
    spec.remote_consumer_slots = 0;
    spec.add(FrameSpec{"frames", width, height, 4, 3, 16});
    const auto plan = plan_region(spec);
    if (!plan) {
        f.error = "frame size not plannable";
        return f;
    }
    auto region = map::in_process(static_cast<std::size_t>(plan->region_size));
    if (!region) {
        f.error = "out of memory";
        return f;
    }
    auto producer = ProducerSession::create(region->bytes(), spec);
    if (!producer) {
        f.error = "producer session failed";
        return f;
    }
    auto frames = producer->frames("frames");
    if (!frames) {
        f.error = "frame channel failed";
        return f;
    }

    // Two capture buffers with different contents, alternating, so a stale frame buffer (its
    // content from three frames back) never sums right. Packed rows, like a capture API's.
    std::vector<std::vector<std::byte>> sources(2, std::vector<std::byte>(bytes));
    std::vector<std::uint64_t> sums(2);
    for (std::size_t k = 0; k < 2; ++k) {
        for (std::size_t i = 0; i < bytes; ++i) sources[k][i] = static_cast<std::byte>((i * 7 + k * 13 + (i >> 12)) & 0xff);
        sums[k] = detail::sum_words(sources[k].data(), bytes);
    }
    // As many targets as the channel has buffers, written in turn: each is then written as often
    // as a frame buffer is (memcpy and stream_copy each round, two frames each round). On the
    // development VM a destination last written milliseconds ago takes up to 1.7x longer to
    // stream to than one written just before (docs/perf-frames.md): one reused target would
    // flatter the baseline.
    std::vector<std::vector<std::byte>> targets(3, std::vector<std::byte>(bytes, std::byte{1}));
    // Read before every timed piece, so that each starts with the source (and everything else
    // it touches) out of the caches: otherwise a frame that fits the last-level cache would be
    // copied from cache in one measurement and from memory in the next.
    std::vector<std::byte> scrub(std::max<std::size_t>(2 * bytes, std::size_t{96} << 20), std::byte{3});

#if defined(__linux__)
    cpu_set_t previous;
    const bool restore = pthread_getaffinity_np(pthread_self(), sizeof(previous), &previous) == 0;
#endif
    const bool producer_pinned = detail::pin_to(producer_cpu);

    // The consumer thread: one frame per round, progressive or whole as the round says.
    const int total = options.warmup_rounds + rounds;
    std::atomic<int> consumer_ready{0};  // 1: attached, -1: failed
    std::atomic<int> frames_done{0};
    std::atomic<bool> progressive_round{true};
    std::atomic<std::int64_t> done_at{0};  // steady_clock ticks when the last row was read
    std::atomic<bool> consumer_pinned{false};
    std::atomic<bool> all_ok{true};
    std::atomic<bool> consumer_preempted{false};
    std::atomic<int> go{0};       // producer -> consumer: start waiting for frame `go`
    std::atomic<int> waiting{0};  // consumer -> producer: waiting for frame `waiting`
    std::thread consumer([&] {
        consumer_pinned = detail::pin_to(consumer_cpu);
        auto session = ConsumerSession::attach(region->bytes());
        if (!session) {
            consumer_ready = -1;
            return;
        }
        auto fc = session->frames("frames");
        if (!fc) {
            consumer_ready = -1;
            return;
        }
        consumer_ready = 1;
        FrameView view;
        for (int frame = 0; frame < 2 * total; ++frame) {
            // Parked off the CPU while the producer measures the baselines; then waiting for the
            // frame with the strategy, as a viewer between two frames does.
            go.wait(frame);
            const long switches = detail::preemptions();
            waiting.store(frame + 1);
            if (fc->wait_latest(view, options.wait, Deadline::after(std::chrono::seconds(10))) != FrameStatus::ok) {
                all_ok = false;
                frames_done = 2 * total;  // let the producer stop waiting
                waiting = 2 * total;
                return;
            }
            // The producer waits for each frame to be read before the next: none is skipped, and
            // frame k was copied from sources[k % 2].
            const std::uint64_t expected = sums[static_cast<std::size_t>(frame) % 2];
            const std::size_t stride = view.descriptor().stride;
            std::uint64_t sum = 0;
            bool ok = true;
            if (progressive_round.load(std::memory_order_relaxed)) {
                for (std::uint32_t read = 0; read < height;) {
                    if (view.wait_rows(read + 1, options.wait, Deadline::after(std::chrono::seconds(10))) != FrameStatus::ok) {
                        ok = false;
                        break;
                    }
                    const std::uint32_t ready = view.rows_ready();
                    sum += detail::sum_words(view.row(read), std::size_t{ready - read} * stride);
                    read = ready;
                }
            } else {
                ok = view.wait_rows(height, options.wait, Deadline::after(std::chrono::seconds(10))) == FrameStatus::ok;
                if (ok) sum = detail::sum_words(view.row(0), std::size_t{height} * stride);
            }
            done_at = Clock::now().time_since_epoch().count();
            consumer_preempted = detail::preemptions() != switches;
            if (!ok || sum != expected || view.verify() != FrameStatus::ok || fc->frames_skipped() != 0) all_ok = false;
            frames_done.fetch_add(1, std::memory_order_release);
        }
    });
    while (consumer_ready.load() == 0) std::this_thread::yield();
    if (consumer_ready.load() < 0) all_ok = false;

    detail::Samples nt, mc, rd, prog, whole, write;
    bool timed_round = false;
    std::uint64_t sink = 0;
    int frame = 0;
    const auto copy_frame = [&](bool progressive) {
        progressive_round.store(progressive, std::memory_order_relaxed);
        const auto& src = sources[static_cast<std::size_t>(frame) % 2];
        FrameInfo info;
        info.width = width;
        info.height = height;
        FrameWriter w;
        sink += detail::sum_words(scrub.data(), scrub.size());
        go.store(frame + 1);
        go.notify_one();
        while (waiting.load() < frame + 1 && all_ok) std::this_thread::yield();
        // Long enough for a futex-type strategy to be asleep when the frame begins, as between
        // frames at any display rate.
        // Waited out on the CPU: a sleeping vCPU comes back slow (measured: docs/perf-frames.md).
        for (const auto until = Clock::now() + std::chrono::microseconds(300); Clock::now() < until;) {
            pane::detail::cpu_relax();
        }
        const long switches = detail::preemptions();
        const auto t0 = Clock::now();
        if (frames->begin(info, w) != FrameStatus::ok) {
            all_ok = false;
            return std::pair{0.0, true};
        }
        if (options.publish_bytes == 0) {
            if (w.copy_rows(0, height, src.data(), row_bytes) != RowCopyStatus::ok) all_ok = false;
        } else {
            const auto chunk = static_cast<std::uint32_t>(std::max<std::size_t>(1, options.publish_bytes / row_bytes));
            for (std::uint32_t y = 0; y < height; y += chunk) {
                const std::uint32_t n = std::min(chunk, height - y);
                stream_copy_rows(w.row(y), w.descriptor().stride, src.data() + std::size_t{y} * row_bytes, row_bytes,
                                 row_bytes, n);
                w.rows_ready(y + n);
            }
        }
        const auto written = Clock::now();
        ++frame;
        for (unsigned spins = 0; frames_done.load(std::memory_order_acquire) < frame; ++spins) {
            if (spins > 1000) std::this_thread::yield();
            else pane::detail::cpu_relax();
        }
        const bool preempted = consumer_preempted.load() || detail::preemptions() != switches;
        if (progressive && timed_round) write.add(detail::ms_between(t0, written), preempted);
        return std::pair{detail::ms_between(t0, Clock::time_point(Clock::duration(done_at.load()))), preempted};
    };

    for (int r = 0; r < total && all_ok; ++r) {
        const bool timed = r >= options.warmup_rounds;
        timed_round = timed;
        const auto& src = sources[static_cast<std::size_t>(r) % 2];
        auto& target = targets[static_cast<std::size_t>(r) % targets.size()];
        const auto measure = [&](detail::Samples& into, auto&& job) {
            sink += detail::sum_words(scrub.data(), scrub.size());
            const long switches = detail::preemptions();
            const auto t0 = Clock::now();
            job();
            const auto t1 = Clock::now();
            if (timed) into.add(detail::ms_between(t0, t1), detail::preemptions() != switches);
        };
        measure(mc, [&] { std::memcpy(target.data(), src.data(), bytes); });
        measure(nt, [&] { stream_copy(target.data(), src.data(), bytes); });
        // What a consumer reads: memory just written with streaming stores.
        measure(rd, [&] { sink += detail::sum_words(target.data(), bytes); });
        const auto [p, p_preempted] = copy_frame(true);
        const auto [w, w_preempted] = copy_frame(false);
        if (timed) {
            prog.add(p, p_preempted);
            whole.add(w, w_preempted);
        }
    }
    if (!all_ok) {
        frames_done = 2 * total;
        go.store(2 * total);
        go.notify_one();
    }
    consumer.join();
#if defined(__linux__)
    if (restore && producer_cpu >= 0) pthread_setaffinity_np(pthread_self(), sizeof(previous), &previous);
#endif
    if (consumer_ready.load() < 0) {
        f.error = "consumer could not attach";
        return f;
    }
    f.pinned = producer_pinned && consumer_pinned.load();
    const auto figure = [&f](const detail::Samples& s) {
        f.samples_total += static_cast<int>(s.all.size());
        f.samples_preempted += static_cast<int>(s.all.size() - s.clean.size());
        return detail::median(s.clean.empty() ? s.all : s.clean);
    };
    f.nt_copy_ms = figure(nt);
    f.memcpy_ms = figure(mc);
    f.read_ms = figure(rd);
    f.progressive_ms = figure(prog);
    f.whole_frame_ms = figure(whole);
    f.progressive_write_ms = detail::median(write.clean.empty() ? write.all : write.clean);
    f.verified = all_ok.load() && sink != 1;  // sink: keeps the read pass from being optimised away
    if (!all_ok.load()) f.error = "a frame was not read intact";
    return f;
}

}  // namespace pane_bench
