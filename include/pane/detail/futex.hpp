// SPDX-License-Identifier: MIT
// Linux futex on a 32-bit word of the shared region. Shared (not FUTEX_PRIVATE) futexes, because
// waiter and waker are different processes mapping the same file; the kernel keys the word by
// its backing page, so the two mappings may sit at different addresses. On other systems the
// functions are absent and FutexWait falls back to timed sleeps (see wait.hpp).
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <chrono>
#include <cstdint>

#if defined(__linux__)
#include <cerrno>
#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#define PANE_HAVE_FUTEX 1
#endif

namespace pane::detail {

#if defined(PANE_HAVE_FUTEX)
inline constexpr bool kHaveFutex = true;

// Sleeps while *word == expected, at most `timeout`. Spurious returns are allowed; callers
// re-check their condition. The kernel reads *word atomically with queueing the waiter, which
// is what closes the lost-wake-up window. Returns false when the kernel cannot futex this word
// at all (EFAULT on a mapping it cannot key, such as a PCI BAR mapped VM_PFNMAP; EINVAL, ENOSYS;
// a seccomp filter's EPERM): the caller must then sleep instead of retrying at full speed.
// Woken, timed out, interrupted and "the value already changed" are all normal returns.
[[nodiscard]] inline bool futex_wait(const std::uint32_t* word, std::uint32_t expected,
                                     std::chrono::nanoseconds timeout) noexcept {
    if (timeout <= std::chrono::nanoseconds::zero()) return true;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(secs.count());
    ts.tv_nsec = static_cast<long>((timeout - secs).count());
    if (::syscall(SYS_futex, const_cast<std::uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr, 0) == 0) return true;
    const int e = errno;
    return e == EAGAIN || e == ETIMEDOUT || e == EINTR;
}

inline void futex_wake_all(const std::uint32_t* word) noexcept {
    (void)::syscall(SYS_futex, const_cast<std::uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}
#else
inline constexpr bool kHaveFutex = false;
[[nodiscard]] inline bool futex_wait(const std::uint32_t*, std::uint32_t, std::chrono::nanoseconds) noexcept { return false; }
inline void futex_wake_all(const std::uint32_t*) noexcept {}
#endif

// The futex word for a 64-bit position: its low 32 bits, which change on every advance. The
// protocol is little-endian, so the low half is the first four bytes of the field.
[[nodiscard]] inline const std::uint32_t* low_word(const std::uint64_t& position) noexcept {
    return reinterpret_cast<const std::uint32_t*>(&position);
}

}  // namespace pane::detail
