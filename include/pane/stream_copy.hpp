// SPDX-License-Identifier: MIT
// Copies with non-temporal (streaming) stores, for writing a frame into shared memory. A frame is
// far larger than the caches and the producer never reads it back, so ordinary stores would
// first read every destination line (read-for-ownership) and then evict the consumer's and our
// own working set; streaming stores go to memory through write-combining buffers instead
// (docs/performance.md, "Frames: method and what was measured along the way", has the measured
// difference). x86 with SSE2 (AVX when compiled with it)
// streams; everywhere else (i386 without SSE2, aarch64, ...) these are plain memcpy.
//
// Memory ordering: streaming stores are weakly ordered: on x86 they may become visible after a
// later ordinary store, and a release store is an ordinary MOV. So every call here ends with an
// SFENCE once it has streamed anything: the copied bytes are then ordered before any later store,
// in particular the store_release that publishes them (FrameWriter::rows_ready, F1). Code that
// issues its own streaming stores must fence the same way before publishing.
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define PANE_DETAIL_STREAM_SSE2 1
#endif
#if defined(PANE_DETAIL_STREAM_SSE2) && defined(__AVX__)
#include <immintrin.h>
#define PANE_DETAIL_STREAM_AVX 1
#endif

namespace pane {

namespace detail {

// Below this a copy is a plain memcpy: a few partial lines gain nothing from streaming (a
// partially filled write-combining buffer is flushed in pieces), and no fence is needed.
inline constexpr std::size_t kStreamMinBytes = 128;

// True when stream_copy really streams on this build.
inline constexpr bool kStreamingStores =
#if defined(PANE_DETAIL_STREAM_SSE2)
    true;
#else
    false;
#endif

#if defined(PANE_DETAIL_STREAM_SSE2)
// Streams `bytes` (>= kStreamMinBytes) without the closing fence: the unaligned head and tail
// with memcpy, the aligned middle with streaming stores (unaligned loads: the source may sit
// anywhere).
inline void stream_copy_unfenced(unsigned char* d, const unsigned char* s, std::size_t bytes) noexcept {
#if defined(PANE_DETAIL_STREAM_AVX)
    constexpr std::size_t kVector = 32;
#else
    constexpr std::size_t kVector = 16;
#endif
    const std::size_t head = (kVector - (reinterpret_cast<std::uintptr_t>(d) & (kVector - 1))) & (kVector - 1);
    std::memcpy(d, s, head);
    d += head;
    s += head;
    bytes -= head;
#if defined(PANE_DETAIL_STREAM_AVX)
    for (; bytes >= 4 * kVector; bytes -= 4 * kVector, d += 4 * kVector, s += 4 * kVector) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + kVector));
        const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 2 * kVector));
        const __m256i e = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 3 * kVector));
        _mm256_stream_si256(reinterpret_cast<__m256i*>(d), a);
        _mm256_stream_si256(reinterpret_cast<__m256i*>(d + kVector), b);
        _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 2 * kVector), c);
        _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 3 * kVector), e);
    }
    for (; bytes >= kVector; bytes -= kVector, d += kVector, s += kVector) {
        _mm256_stream_si256(reinterpret_cast<__m256i*>(d), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)));
    }
#else
    for (; bytes >= 4 * kVector; bytes -= 4 * kVector, d += 4 * kVector, s += 4 * kVector) {
        const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + kVector));
        const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 2 * kVector));
        const __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 3 * kVector));
        _mm_stream_si128(reinterpret_cast<__m128i*>(d), a);
        _mm_stream_si128(reinterpret_cast<__m128i*>(d + kVector), b);
        _mm_stream_si128(reinterpret_cast<__m128i*>(d + 2 * kVector), c);
        _mm_stream_si128(reinterpret_cast<__m128i*>(d + 3 * kVector), e);
    }
    for (; bytes >= kVector; bytes -= kVector, d += kVector, s += kVector) {
        _mm_stream_si128(reinterpret_cast<__m128i*>(d), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
    }
#endif
    std::memcpy(d, s, bytes);
}
#endif

}  // namespace detail

// Copies `bytes` from src to dst (which must not overlap) with streaming stores where the build
// has them, then fences (see the file comment): the bytes are ordered before any later store.
inline void stream_copy(void* dst, const void* src, std::size_t bytes) noexcept {
#if defined(PANE_DETAIL_STREAM_SSE2)
    if (bytes >= detail::kStreamMinBytes) {
        detail::stream_copy_unfenced(static_cast<unsigned char*>(dst), static_cast<const unsigned char*>(src), bytes);
        _mm_sfence();
        return;
    }
#endif
    if (bytes != 0) std::memcpy(dst, src, bytes);
}

// Copies `rows` rows of `row_bytes` each, row y from src + y * src_stride to dst + y * dst_stride
// (no overlap), with one fence at the end. Only the row_bytes of each row are written: the bytes
// between rows are left alone, so a sub-rectangle of a larger image may be copied.
inline void stream_copy_rows(void* dst, std::size_t dst_stride, const void* src, std::size_t src_stride,
                             std::size_t row_bytes, std::size_t rows) noexcept {
    if (rows == 0 || row_bytes == 0) return;
    if (dst_stride == row_bytes && src_stride == row_bytes) {  // both packed: one run
        stream_copy(dst, src, row_bytes * rows);
        return;
    }
    auto* d = static_cast<unsigned char*>(dst);
    const auto* s = static_cast<const unsigned char*>(src);
#if defined(PANE_DETAIL_STREAM_SSE2)
    if (row_bytes >= detail::kStreamMinBytes) {
        for (std::size_t y = 0; y < rows; ++y) detail::stream_copy_unfenced(d + y * dst_stride, s + y * src_stride, row_bytes);
        _mm_sfence();
        return;
    }
#endif
    for (std::size_t y = 0; y < rows; ++y) std::memcpy(d + y * dst_stride, s + y * src_stride, row_bytes);
}

}  // namespace pane
