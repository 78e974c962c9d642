// SPDX-License-Identifier: MIT
// Frames: the time from the producer's begin() to the consumer having read every row of the
// frame into its own memory (what a viewer does before it uploads), BGRA, with progressive read
// on (the producer publishes every kRowsPerStep rows, the consumer copies rows as they arrive)
// and off (one publish when the frame is complete, the consumer copies it after). The child
// produces, the parent consumes; frames go one at a time (the producer waits for the parent's
// acknowledgement), so each sample is one frame's latency without queueing.
//
// Every frame is checked after the timing stops: verify() (the buffer was not reused while we
// read), then every row of our copy: its first 8 bytes carry the frame's index, the rest is the
// test pattern.
//
// The references, measured in the same run (the child idle but for the floor probes): memcpy
// and a non-temporal copy of a frame between two private buffers, and reading a frame.
#pragma once

#include <cstdlib>
#include <memory>

#include "job.hpp"

namespace bench {

inline constexpr std::uint32_t kRowsPerStep = 32;
inline constexpr unsigned kWarmupFrames = 6;  // two per buffer: page faults, first touches

struct FreeDeleter {
    void operator()(std::byte* p) const noexcept { std::free(p); }
};
using Buffer = std::unique_ptr<std::byte[], FreeDeleter>;

inline Buffer make_buffer(std::size_t bytes) {
    auto* p = static_cast<std::byte*>(std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096));
    if (p == nullptr) throw BenchError("out of memory");
    std::memset(p, 0, bytes);  // fault every page in now, not during a measurement
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

inline pane::RegionSpec frame_region_spec(std::uint32_t width, std::uint32_t height) {
    pane::RegionSpec spec;
    spec.max_consumers = 4;
    spec.remote_consumer_slots = 0;
    spec.consumer_timeout = 10s;
    spec.add(pane::FrameSpec{"frames", width, height, 4, 3, 16});
    return spec;
}

// ---------------------------------------------------------------------------------------------
// Copy references

// Non-temporal copy: 16-byte streaming stores that bypass the cache, then a store fence. Our own
// plain loop, the reference a streaming row copy has to meet. Needs 16-byte aligned buffers.
inline void nt_copy(std::byte* dst, const std::byte* src, std::size_t n) {
#if defined(__SSE2__)
    auto* d = reinterpret_cast<__m128i*>(dst);
    const auto* s = reinterpret_cast<const __m128i*>(src);
    std::size_t i = 0;
    for (; i + 4 <= n / 16; i += 4) {
        const __m128i a = _mm_load_si128(s + i), b = _mm_load_si128(s + i + 1);
        const __m128i c = _mm_load_si128(s + i + 2), e = _mm_load_si128(s + i + 3);
        _mm_stream_si128(d + i, a);
        _mm_stream_si128(d + i + 1, b);
        _mm_stream_si128(d + i + 2, c);
        _mm_stream_si128(d + i + 3, e);
    }
    _mm_sfence();
    std::memcpy(dst + i * 16, src + i * 16, n - i * 16);
#else
    std::memcpy(dst, src, n);
#endif
}

// Reads every byte (8 at a time); the result is used so the compiler keeps the loads.
inline std::uint64_t read_all_bytes(const std::byte* p, std::size_t n) {
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
        std::uint64_t v;
        std::memcpy(&v, p + i, 8);
        acc ^= v;
    }
    return acc;
}

// Parent, with an idle child: p50 times of memcpy, nt_copy and read_all_bytes over one frame.
inline Window parent_copy(ControlMap& ctl, Job job, const std::vector<int>& cpus, Metrics& out) {
    ParentLinks links;
    const std::size_t bytes = std::size_t{job.width} * job.height * 4;
    Buffer src = make_buffer(bytes), dst = make_buffer(bytes);
    make_pattern(src.get(), job.width, job.height);
    std::vector<std::uint64_t> t_memcpy, t_nt, t_read;
    volatile std::uint64_t sink = 0;
    Window w = run_window(ctl, job, links, cpus, [] {}, [&] {
        for (unsigned i = 0; i < job.frames; ++i) {
            std::uint64_t t = now_ns();
            std::memcpy(dst.get(), src.get(), bytes);
            t_memcpy.push_back(now_ns() - t);
            t = now_ns();
            nt_copy(dst.get(), src.get(), bytes);
            t_nt.push_back(now_ns() - t);
            t = now_ns();
            sink = sink + read_all_bytes(src.get(), bytes);
            t_read.push_back(now_ns() - t);
        }
    });
    const double gb = static_cast<double>(bytes) / 1e9;
    const double m = pt::percentiles(t_memcpy).p50, n = pt::percentiles(t_nt).p50, r = pt::percentiles(t_read).p50;
    out["memcpy_ns"] = m;
    out["nt_copy_ns"] = n;
    out["read_ns"] = r;
    out["memcpy_gbps"] = gb / (m / 1e9);
    out["nt_copy_gbps"] = gb / (n / 1e9);
    out["read_gbps"] = gb / (r / 1e9);
    out["errors"] = 0;
    return w;
}

// ---------------------------------------------------------------------------------------------
// Producer (child) and consumer (parent)

// Writes rows [first, last) of `src` into the frame. The memcpy path publishes progress itself;
// a library row copy (FrameWriter::copy_rows, when this Pane has it) is used by the caller.
inline void write_rows(pane::FrameWriter& w, const std::byte* src, std::size_t stride, std::uint32_t first,
                       std::uint32_t last) {
    std::memcpy(w.row(first), src + first * stride, (last - first) * stride);
}

inline void child_frames(ControlMap& ctl, const Job& job) {
    PaneRegion region(job.base + "-b", frame_region_spec(job.width, job.height));
    auto frames = region.session().frames("frames").value();
    const std::size_t stride = std::size_t{job.width} * 4;
    Buffer src = make_buffer(stride * job.height);
    make_pattern(src.get(), job.width, job.height);
    child_window(ctl, [&] {
        const unsigned total = job.frames + kWarmupFrames;
        for (std::uint64_t index = 0; index < total; ++index) {
            // One frame at a time: the parent acknowledges each after checking it.
            spin([&] { return ctl->ack.load() == index; }, "the consumer's acknowledgement");
            stamp_rows(src.get(), job.height, stride, index);
            pane::FrameWriter w;
            const auto st = frames.begin({pane::FrameFormat::bgra8, job.width, job.height}, w);
            if (st != pane::FrameStatus::ok) throw BenchError("frame begin failed");
            if (job.progressive) {
                for (std::uint32_t y = 0; y < job.height; y += kRowsPerStep) {
                    const std::uint32_t end = std::min(job.height, y + kRowsPerStep);
                    write_rows(w, src.get(), stride, y, end);
                    w.rows_ready(end);
                }
            } else {
                write_rows(w, src.get(), stride, 0, job.height);
            }
            w.finish();
            ++ctl->report.value;
        }
        spin([&] { return ctl->ack.load() == total; }, "the last acknowledgement");
    });
}

// Reads the frame's rows into `dst` as the producer publishes them (progressive) or all at once
// after it finished; returns when every row is copied.
inline void read_frame(const pane::FrameView& view, std::byte* dst, bool progressive) {
    const std::uint32_t height = view.descriptor().height;
    const std::size_t stride = view.descriptor().stride;
    std::uint32_t done = 0;
    while (done < height) {
        const std::uint32_t ready = view.rows_ready();
        const bool take = progressive ? ready > done : ready == height;
        if (!take) {
            const auto st = view.wait_rows(progressive ? done + 1 : height, pane::BusySpin{}, pane::Deadline::after(200ms));
            if (st != pane::FrameStatus::ok && st != pane::FrameStatus::timed_out) throw BenchError("frame rows wait failed");
            if (st == pane::FrameStatus::timed_out) check_peer("a frame");
            continue;
        }
        std::memcpy(dst + done * stride, view.row(done), (ready - done) * stride);
        done = ready;
    }
}

inline Window parent_frames(ControlMap& ctl, Job job, const std::vector<int>& cpus, Metrics& out) {
    ParentLinks links;
    const std::size_t stride = std::size_t{job.width} * 4;
    Buffer pattern = make_buffer(stride * job.height), dst = make_buffer(stride * job.height);
    make_pattern(pattern.get(), job.width, job.height);
    std::optional<pane::FrameConsumer> frames;
    std::vector<std::uint64_t> samples;
    std::uint64_t errors = 0;
    const auto attach = [&] {
        links.pane_b.emplace(job.base + "-b");
        frames.emplace(links.pane_b->session().frames("frames").value());
    };
    Window w = run_window(ctl, job, links, cpus, attach, [&] {
        const unsigned total = job.frames + kWarmupFrames;
        pane::FrameView view;
        for (std::uint64_t index = 0; index < total; ++index) {
            for (;;) {
                const auto st = frames->wait_latest(view, pane::BusySpin{}, pane::Deadline::after(200ms));
                if (st == pane::FrameStatus::ok) break;
                if (st != pane::FrameStatus::timed_out) throw BenchError("frame wait failed");
                check_peer("a frame");
            }
            read_frame(view, dst.get(), job.progressive);
            const std::uint64_t t = now_ns();
            if (index >= kWarmupFrames) samples.push_back(t - view.descriptor().producer_time_ns);
            if (view.verify() != pane::FrameStatus::ok ||
                !frame_ok(dst.get(), pattern.get(), job.height, stride, index)) {
                ++errors;
            }
            frames->release();
            ctl->ack.store(index + 1);
        }
    });
    const auto p = pt::percentiles(samples);
    out["samples"] = static_cast<double>(samples.size());
    out["p50_ns"] = p.p50;
    out["p99_ns"] = p.p99;
    out["max_ns"] = p.max;
    out["errors"] = static_cast<double>(errors + (w.child.value == job.frames + kWarmupFrames ? 0 : 1));
    return w;
}

}  // namespace bench
