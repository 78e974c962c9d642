// SPDX-License-Identifier: MIT
// Schedule points: named places just before a shared access where a test can stop a thread and
// decide which thread runs next, so a handshake's dangerous interleavings are driven on purpose
// and reproducibly instead of hoped for. Compiled in only when PANE_SCHEDULE_POINTS is defined
// (the interleaving test binary); otherwise PANE_SCHEDULE_POINT expands to nothing and costs
// nothing. Only threads that installed a hook stop; every other thread runs through.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#if defined(PANE_SCHEDULE_POINTS)
namespace pane::detail {
using ScheduleHook = void (*)(const char* point);
// Per thread: the scheduler installs it in the threads it drives.
inline thread_local ScheduleHook schedule_hook = nullptr;
}  // namespace pane::detail
#define PANE_SCHEDULE_POINT(name)                                                   \
    do {                                                                            \
        if (::pane::detail::ScheduleHook pane_hook_ = ::pane::detail::schedule_hook) \
            pane_hook_(name);                                                       \
    } while (0)
#else
#define PANE_SCHEDULE_POINT(name) \
    do {                          \
    } while (0)
#endif
