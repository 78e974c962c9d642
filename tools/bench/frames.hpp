// SPDX-License-Identifier: MIT
// Frames: what one BGRA frame costs to move through a frame channel, against the physical limits
// measured in the same run on the same CPU. The child is the producer: it writes each frame from
// a private source buffer (a capture buffer) with FrameWriter::copy_rows, which streams the rows
// and publishes progress every kCopyPublishBytes. The parent is the consumer: it reads every row
// of the frame as the producer publishes it (progressive) or after the last row is published
// (whole frame), summing every word. A sample is begin() (the descriptor's producer_time_ns) to
// the consumer having read the last row. Frames go one at a time: the producer waits for the
// consumer's acknowledgement, so a sample has no queueing in it.
//
// Each iteration, the child times one memcpy, one stream_copy (the NT copy) and one read pass of
// a frame between private buffers, then the progressive frame, then the whole frame, so that the
// machine's noise hits all five alike; the ratios are taken per round. Three things keep the
// references honest (docs/performance.md, "Frames"):
//   - caches: a scrub read (larger than the last-level cache) before every timed piece, so each
//     starts with the source out of cache, as a capture buffer is;
//   - rotation: the copies write three targets in turn, each as often as a frame buffer is
//     written; on the development VM streaming into memory not written recently is up to 1.7x
//     slower, and one reused target flatters the reference;
//   - preemption: a sample during which the child was preempted (involuntary context switches),
//     or the parent once it had the frame, is left out of the p50s (p99 keeps every sample).
//
// Every frame is checked after its clock stops: its sum (every word, as read), verify() (the
// buffer was not reused while we read), and every row in place: its first 8 bytes carry the
// frame's index, the next 8 the row number, the rest is the pattern.
#pragma once

#include <array>
#include <cstdlib>
#include <memory>

#include <pane/stream_copy.hpp>

#include "job.hpp"

namespace bench {

inline constexpr unsigned kWarmupIterations = 3;  // two frames each: two per buffer (page faults, first touches)
inline constexpr std::size_t kTargets = 3;        // copy targets, as many as the channel has frame buffers
inline constexpr std::size_t kScrubBytes = std::size_t{96} << 20;  // more than any last-level cache here
inline volatile std::uint64_t g_frames_sink = 0;  // keeps the scrubs and read passes from being optimised away

struct FreeDeleter {
    void operator()(std::byte* p) const noexcept { std::free(p); }
};
using Buffer = std::unique_ptr<std::byte[], FreeDeleter>;

inline Buffer make_buffer(std::size_t bytes, std::byte fill = std::byte{0}) {
    auto* p = static_cast<std::byte*>(std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096));
    if (p == nullptr) throw BenchError("out of memory");
    std::memset(p, static_cast<int>(fill), bytes);  // fault every page in now, not during a measurement
    return Buffer(p);
}

// The pattern: every row is the same run of bytes (x * 7), but for two words: the first 8
// bytes carry the frame's index (stamp_rows), the next 8 the row number, so a row from another
// frame or from another row of this one never passes for the right one.
inline void make_pattern(std::byte* frame, std::uint32_t width, std::uint32_t height) {
    const std::size_t stride = std::size_t{width} * 4;
    for (std::size_t x = 0; x < stride; ++x) frame[x] = std::byte(static_cast<std::uint8_t>(x * 7));
    for (std::uint32_t y = 0; y < height; ++y) {
        if (y > 0) std::memcpy(frame + y * stride, frame, stride);
        const std::uint64_t row = y;
        std::memcpy(frame + y * stride + 8, &row, sizeof row);
    }
}

inline void stamp_rows(std::byte* frame, std::uint32_t height, std::size_t stride, std::uint64_t index) {
    for (std::uint32_t y = 0; y < height; ++y) std::memcpy(frame + y * stride, &index, sizeof index);
}

inline bool frame_ok(const std::byte* got, const std::byte* pattern, std::uint32_t height, std::size_t stride,
                     std::uint64_t index) {
    for (std::uint32_t y = 0; y < height; ++y) {
        std::uint64_t stamp = 0;
        std::memcpy(&stamp, got + y * stride, sizeof stamp);
        if (stamp != index || std::memcmp(got + y * stride + 8, pattern + y * stride + 8, stride - 8) != 0) return false;
    }
    return true;
}

// Sum of the 64-bit words of `bytes` (a multiple of 8): touches every byte once, as a reader that
// checks or converts a frame does. Order-independent, so rows summed as they arrive add up to the
// whole frame's sum; a frame stamped with index i sums to (its sum stamped 0) + height * i.
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

inline pane::RegionSpec frame_region_spec(std::uint32_t width, std::uint32_t height) {
    pane::RegionSpec spec;
    spec.max_consumers = 4;
    spec.remote_consumer_slots = 0;
    spec.consumer_timeout = 10s;
    spec.add(pane::FrameSpec{"frames", width, height, 4, 3, 16});
    return spec;
}

// ---------------------------------------------------------------------------------------------
// Producer (child)

inline void child_frames(ControlMap& ctl, const Job& job) {
    PaneRegion region(job.base + "-b", frame_region_spec(job.width, job.height));
    auto frames = region.session().frames("frames").value();
    const std::size_t stride = std::size_t{job.width} * 4, bytes = stride * job.height;
    Buffer src = make_buffer(bytes);
    make_pattern(src.get(), job.width, job.height);
    std::array<Buffer, kTargets> targets{make_buffer(bytes, std::byte{1}), make_buffer(bytes, std::byte{1}),
                                         make_buffer(bytes, std::byte{1})};
    Buffer scrub = make_buffer(std::max(2 * bytes, kScrubBytes), std::byte{3});
    std::uint64_t sink = 0;
    child_window(ctl, [&] {
        const unsigned iterations = kWarmupIterations + job.frames;
        for (unsigned it = 0; it < iterations; ++it) {
            FrameRecord& rec = ctl->frames[it];
            std::byte* target = targets[it % kTargets].get();
            const auto timed = [&](FramePiece piece, auto&& body) {
                sink += sum_words(scrub.get(), std::max(2 * bytes, kScrubBytes));
                const long switches = preemptions();
                const std::uint64_t t = now_ns();
                body();
                rec.ns[piece] = now_ns() - t;
                rec.preempted[piece] = preemptions() != switches;
            };
            // One frame at a time: the parent acknowledges each after checking it.
            spin([&] { return ctl->ack.load() == 2 * it; }, "the consumer's acknowledgement");
            timed(kMemcpy, [&] { std::memcpy(target, src.get(), bytes); });
            timed(kNtCopy, [&] { pane::stream_copy(target, src.get(), bytes); });
            timed(kReadPass, [&] { sink += sum_words(target, bytes); });  // memory just written by streaming stores
            for (const FramePiece piece : {kWriteProgressive, kWriteWhole}) {
                const std::uint64_t index = 2 * it + (piece == kWriteWhole ? 1 : 0);
                spin([&] { return ctl->ack.load() == index; }, "the consumer's acknowledgement");
                stamp_rows(src.get(), job.height, stride, index);
                timed(piece, [&] {
                    pane::FrameWriter w;
                    if (frames.begin({pane::FrameFormat::bgra8, job.width, job.height}, w) != pane::FrameStatus::ok ||
                        w.copy_rows(0, job.height, src.get(), stride) != pane::RowCopyStatus::ok) {
                        throw BenchError("frame begin or copy_rows failed");
                    }
                    w.finish();
                });
                ++ctl->report.value;
            }
        }
        spin([&] { return ctl->ack.load() == 2 * iterations; }, "the last acknowledgement");
    });
    g_frames_sink = sink;
}

// ---------------------------------------------------------------------------------------------
// Consumer (parent)

// Reads the frame's rows as the producer publishes them (progressive) or all at once after it
// published the last one; returns the sum of every word read.
inline std::uint64_t read_frame(const pane::FrameView& view, const pane::AnyWait& wait, bool progressive) {
    const std::uint32_t height = view.descriptor().height;
    const std::size_t stride = view.descriptor().stride;
    std::uint64_t sum = 0;
    for (std::uint32_t done = 0; done < height;) {
        const auto st = view.wait_rows(progressive ? done + 1 : height, wait, 200ms);
        if (st == pane::FrameStatus::timed_out) {
            check_peer("a frame's rows");
            continue;
        }
        if (st != pane::FrameStatus::ok) throw BenchError("frame rows wait failed");
        const std::uint32_t ready = view.rows_ready();
        sum += sum_words(view.row(done), std::size_t{ready - done} * stride);
        done = ready;
    }
    return sum;
}

// Timed samples of one figure: p50 over those not preempted (over all, if every one was), p99
// over all of them.
struct Samples {
    std::vector<std::uint64_t> clean, all;
    unsigned preempted = 0;
    void add(std::uint64_t ns, bool was_preempted) {
        all.push_back(ns);
        if (was_preempted) ++preempted;
        else clean.push_back(ns);
    }
    double p50() { return pt::percentiles(clean.empty() ? all : clean).p50; }
    double p99() { return pt::percentiles(all).p99; }
};

inline Window parent_frames(ControlMap& ctl, Job job, const std::vector<int>& cpus, Metrics& out) {
    const unsigned iterations = kWarmupIterations + job.frames;
    if (iterations > kMaxFrameIterations) throw BenchError(fmt::format("at most {} frames", kMaxFrameIterations - kWarmupIterations));
    ParentLinks links;
    const std::size_t stride = std::size_t{job.width} * 4, bytes = stride * job.height;
    Buffer pattern = make_buffer(bytes);
    make_pattern(pattern.get(), job.width, job.height);
    stamp_rows(pattern.get(), job.height, stride, 0);
    const std::uint64_t sum0 = sum_words(pattern.get(), bytes);
    const pane::AnyWait wait = job.wait_strategy();
    std::optional<pane::FrameConsumer> frames;
    std::vector<std::pair<std::uint64_t, bool>> seen;  // per frame: latency, the parent preempted
    std::uint64_t errors = 0;
    const auto attach = [&] {
        links.pane_b.emplace(job.base + "-b");
        frames.emplace(links.pane_b->session().frames("frames").value());
    };
    Window w = run_window(ctl, job, links, cpus, attach, [&] {
        pane::FrameView view;
        for (std::uint64_t index = 0; index < 2 * iterations; ++index) {
            for (;;) {
                const auto st = frames->wait_latest(view, wait, 200ms);
                if (st == pane::FrameStatus::ok) break;
                if (st != pane::FrameStatus::timed_out) throw BenchError("frame wait failed");
                check_peer("a frame");
            }
            // From here: a preemption while we waited came before the frame began (the child
            // scrubs and times its references first), and would leave out a clean sample.
            const long switches = preemptions();
            if (view.descriptor().stride != stride) throw BenchError("frame stride is not width * 4");
            const std::uint64_t sum = read_frame(view, wait, index % 2 == 0);
            const std::uint64_t t = now_ns();
            seen.emplace_back(t - view.descriptor().producer_time_ns, preemptions() != switches);
            if (sum != sum0 + job.height * index || view.verify() != pane::FrameStatus::ok ||
                !frame_ok(view.row(0), pattern.get(), job.height, stride, index) || frames->frames_skipped() != 0) {
                ++errors;
            }
            frames->release();
            ctl->ack.store(index + 1);
        }
    });
    // The child has reported (acquire in run_window): its records are complete.
    std::array<Samples, kFramePieces> child;
    Samples progressive, whole;
    for (unsigned it = kWarmupIterations; it < iterations; ++it) {
        const FrameRecord& rec = ctl->frames[it];
        for (unsigned p = 0; p < kFramePieces; ++p) child[p].add(rec.ns[p], rec.preempted[p]);
        progressive.add(seen[2 * it].first, seen[2 * it].second || rec.preempted[kWriteProgressive]);
        whole.add(seen[2 * it + 1].first, seen[2 * it + 1].second || rec.preempted[kWriteWhole]);
    }
    // Every figure also as a ratio to this round's NT copy: the table takes the median of those.
    const double gb = static_cast<double>(bytes) / 1e9;
    const double nt = child[kNtCopy].p50();
    const auto figure = [&](const std::string& key, double ns) {
        out[key + "_ns"] = ns;
        out[key + "_vs_nt"] = ns / nt;
    };
    for (const auto& [key, piece] : std::vector<std::pair<std::string, FramePiece>>{
             {"memcpy", kMemcpy}, {"nt_copy", kNtCopy}, {"read", kReadPass}}) {
        figure(key, child[piece].p50());
        out[key + "_gbps"] = gb / (out[key + "_ns"] / 1e9);
    }
    figure("progressive_p50", progressive.p50());
    figure("progressive_write", child[kWriteProgressive].p50());
    figure("whole_p50", whole.p50());
    out["progressive_p99_ns"] = progressive.p99();
    out["whole_p99_ns"] = whole.p99();
    out["samples"] = static_cast<double>(5 * job.frames);
    out["preempted"] = static_cast<double>(progressive.preempted + whole.preempted + child[kMemcpy].preempted +
                                           child[kNtCopy].preempted + child[kReadPass].preempted);
    out["errors"] = static_cast<double>(errors + (w.child.value == 2 * iterations ? 0 : 1));
    return w;
}

}  // namespace bench
