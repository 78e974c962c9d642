// SPDX-License-Identifier: MIT
// Wait strategies: how a blocking call waits for the other side. Polling is fastest and burns a
// core; sleeping saves the core and costs latency. Pane makes that choice an explicit policy type
// and measures each (pane-bench). Every wait is bounded by a Deadline.
//
// Strategies:
//   BusySpin       spin with a pause instruction; lowest latency, one core at 100%.
//   SpinThenYield  spin, then sched_yield between polls.
//   SpinThenSleep  spin, then sleep in short slices; works across a VM boundary, because it
//                  needs nothing from the other side but the data itself.
//   FutexWait      spin, then sleep on a futex on a 32-bit word of the region (Linux, waiter and
//                  waker on one kernel). The waiter announces itself first, so the waker makes
//                  the wake syscall only when somebody may be asleep.
//   AutoWait       the default: FutexWait where the waker shares our kernel, else a short spin
//                  and growing sleeps (SleepSchedule); right on both sides of a VM boundary.
//
// Memory ordering of the futex handshake (a Dekker pattern; both fences are seq_cst):
//   waiter: announce(); fence; v = load(word); if ready() -> done; futex_wait(word, v)
//   waker:  publish (the change that makes ready() true, and changes word); fence;
//           if announced -> futex_wake(word)
// Either the waker sees the announcement and wakes, or the waiter's load of `word` sees the new
// value and futex_wait returns at once because *word != v.
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
#include <string_view>
#include <thread>
#include <variant>

#include "detail/atomic.hpp"
#include "detail/futex.hpp"

namespace pane {

using Clock = std::chrono::steady_clock;

// An absolute time limit on the caller's own clock.
class Deadline {
public:
    [[nodiscard]] static Deadline after(Clock::duration d) noexcept { return Deadline(Clock::now() + d); }
    [[nodiscard]] static Deadline at(Clock::time_point t) noexcept { return Deadline(t); }
    [[nodiscard]] bool passed(Clock::time_point now) const noexcept { return now >= at_; }
    [[nodiscard]] Clock::duration remaining(Clock::time_point now) const noexcept {
        return now >= at_ ? Clock::duration::zero() : at_ - now;
    }
    [[nodiscard]] Clock::time_point time() const noexcept { return at_; }

private:
    explicit Deadline(Clock::time_point t) noexcept : at_(t) {}
    Clock::time_point at_;
};

// How long a blocking call may wait: an absolute Deadline, or a timeout (any std::chrono
// duration) that starts when the call first has to wait. A call given a timeout that finds its
// message ready at once reads no clock, which matters at millions of messages a second.
class WaitLimit {
public:
    WaitLimit(Deadline deadline) noexcept : deadline_(deadline) {}  // NOLINT: implicit by design
    // Saturating: a timeout beyond what the clock can count (nanoseconds::max(), hours::max())
    // means "no limit" rather than an overflow.
    template <class Rep, class Period>
    WaitLimit(std::chrono::duration<Rep, Period> timeout) noexcept  // NOLINT: implicit by design
        : timeout_(saturated(timeout)), relative_(true) {}
    [[nodiscard]] static WaitLimit forever() noexcept { return WaitLimit(Clock::duration::max()); }
    // The deadline of a call that starts waiting at `now`; taken once per call, so that every
    // round of its wait shares one limit.
    [[nodiscard]] Deadline start(Clock::time_point now) const noexcept {
        if (!relative_) return deadline_;
        if (timeout_ <= Clock::duration::zero()) return Deadline::at(now);
        if (now.time_since_epoch() > Clock::duration::max() - timeout_) return Deadline::at(Clock::time_point::max());
        return Deadline::at(now + timeout_);
    }

private:
    template <class Rep, class Period>
    [[nodiscard]] static Clock::duration saturated(std::chrono::duration<Rep, Period> timeout) noexcept {
        using Wide = std::chrono::duration<long double, std::nano>;
        const Wide wide = std::chrono::duration_cast<Wide>(timeout);
        if (wide >= std::chrono::duration_cast<Wide>(Clock::duration::max())) return Clock::duration::max();
        if (wide <= Wide::zero()) return Clock::duration::zero();
        return std::chrono::duration_cast<Clock::duration>(timeout);
    }
    Deadline deadline_ = Deadline::at(Clock::time_point{});
    Clock::duration timeout_{};
    bool relative_ = false;
};

enum class WaitStatus { ready, timed_out };

// What a futex sleeper needs from the caller: the word that changes when the condition may have
// become true, and how to announce/withdraw itself so the waker knows to make the syscall.
template <class S>
concept Sleeper = requires(const S& s) {
    { s.word() } -> std::same_as<const std::uint32_t*>;
    s.announce();
    s.withdraw();
};

// A Sleeper for callers that have no futex word (pure polling); FutexWait then sleeps in slices.
struct NoSleeper {
    [[nodiscard]] const std::uint32_t* word() const noexcept { return nullptr; }
    void announce() const noexcept {}
    void withdraw() const noexcept {}
};

namespace detail {
// Clock reads cost tens of nanoseconds; spinners look at the clock once per this many polls.
inline constexpr unsigned kPollsPerClockRead = 64;

// Polls ready() up to `spins` times, and stops early once the deadline has passed: the clock is
// read after every kPollsPerClockRead polls, so a wait with a short or zero limit (a "try once
// more" with 0 ms) spins at most that many polls, not the whole spin a long wait begins with.
// True when ready() was.
template <class Ready>
[[nodiscard]] bool spin_phase(Ready& ready, unsigned spins, Deadline deadline) {
    for (unsigned polls = 1; polls <= spins; ++polls) {
        if (ready()) return true;
        cpu_relax();
        if (polls % kPollsPerClockRead == 0 && deadline.passed(Clock::now())) break;
    }
    return ready();
}
}  // namespace detail

struct BusySpin {
    static constexpr std::string_view name = "spin";
    template <class Ready, Sleeper S>
    WaitStatus wait(Ready&& ready, const S&, Deadline deadline) const {
        // spin_phase ends only when ready() is true or the deadline has passed (or after 2^32
        // polls, when it goes round again).
        while (!detail::spin_phase(ready, std::numeric_limits<unsigned>::max(), deadline)) {
            if (deadline.passed(Clock::now())) return WaitStatus::timed_out;
        }
        return WaitStatus::ready;
    }
};

struct SpinThenYield {
    static constexpr std::string_view name = "yield";
    unsigned spins = 2000;
    template <class Ready, Sleeper S>
    WaitStatus wait(Ready&& ready, const S&, Deadline deadline) const {
        if (detail::spin_phase(ready, spins, deadline)) return WaitStatus::ready;
        for (;;) {
            if (ready()) return WaitStatus::ready;
            if (deadline.passed(Clock::now())) return WaitStatus::timed_out;
            std::this_thread::yield();
        }
    }
};

struct SpinThenSleep {
    static constexpr std::string_view name = "sleep";
    unsigned spins = 2000;
    std::chrono::microseconds slice{50};
    template <class Ready, Sleeper S>
    WaitStatus wait(Ready&& ready, const S&, Deadline deadline) const {
        if (detail::spin_phase(ready, spins, deadline)) return WaitStatus::ready;
        for (;;) {
            if (ready()) return WaitStatus::ready;
            const auto now = Clock::now();
            if (deadline.passed(now)) return WaitStatus::timed_out;
            std::this_thread::sleep_for(std::min<Clock::duration>(slice, deadline.remaining(now)));
        }
    }
};

namespace detail {

enum class FutexRound { ready, slept, restart, refused };

// One announced futex sleep of at most `nap` on `word` (see the handshake above). `restart`:
// ready() moved the wake-up to another word; `refused`: the kernel cannot futex this word.
template <class Ready, Sleeper S>
[[nodiscard]] FutexRound futex_round(Ready& ready, const S& sleeper, const std::uint32_t* word,
                                     Clock::duration nap) {
    sleeper.announce();
    fence_seq_cst();  // pairs with the waker's fence between publish and its check
    const std::uint32_t seen = load_acquire(*word);
    if (ready()) {
        sleeper.withdraw();
        return FutexRound::ready;
    }
    // ready() may have changed which word the change will come through (a lossless producer's
    // rescan finds another blocker): sleeping on the old one would miss the wake.
    if (sleeper.word() != word) {
        sleeper.withdraw();  // the next round announces again, or returns un-announced
        return FutexRound::restart;
    }
    const bool usable = futex_wait(word, seen, nap);
    sleeper.withdraw();
    if (ready()) return FutexRound::ready;
    return usable ? FutexRound::slept : FutexRound::refused;
}

// The loop FutexWait and AutoWait share: a spin, then futex rounds of at most `slice` while the
// sleeper offers a word the kernel accepts; otherwise (no word, not Linux, or a refused word:
// then for the rest of this wait) sleep_without_futex(now, deadline) between polls.
template <class Ready, Sleeper S, class SleepWithoutFutex>
[[nodiscard]] WaitStatus spin_then_futex(Ready& ready, const S& sleeper, Deadline deadline, unsigned spins,
                                         Clock::duration slice, SleepWithoutFutex&& sleep_without_futex) {
    if (spin_phase(ready, spins, deadline)) return WaitStatus::ready;
    bool futex_usable = kHaveFutex;
    for (;;) {
        const auto now = Clock::now();
        if (deadline.passed(now)) return ready() ? WaitStatus::ready : WaitStatus::timed_out;
        const std::uint32_t* word = sleeper.word();  // may change between rounds
        if (!futex_usable || word == nullptr) {
            if (ready()) return WaitStatus::ready;
            sleep_without_futex(now, deadline);
            continue;
        }
        const auto round = futex_round(ready, sleeper, word, std::min<Clock::duration>(slice, deadline.remaining(now)));
        if (round == FutexRound::ready) return WaitStatus::ready;
        futex_usable = round != FutexRound::refused;
    }
}

}  // namespace detail

// Sleeps that start short and double up to a ceiling: a change is seen at most `longest` after
// it happens, and a long wait costs few wake-ups. What a waiter uses when nobody can wake it:
// the producer on another kernel (a VM boundary), or a word the kernel cannot futex (a PCI BAR).
struct SleepSchedule {
    std::chrono::microseconds first{50};
    std::chrono::microseconds longest{500};
};

// How often a waited-for event has been coming, learned by one consumer handle from its own
// reads, so that a wait nobody can wake sleeps through most of a regular gap (a guest's 60 Hz
// frames, its 1 kHz cursor) in one sleep, and polls only around the time the event is due.
// A plain value of the handle: one thread at a time, like the handle.
class ArrivalEstimate {
public:
    // The handle got an event it did not wait for, and read no clock for it (a ring reader that
    // is behind, at full speed): the next waited event starts a gap, closing none.
    void arrived_without_waiting() noexcept { have_last_ = false; }
    // The handle got an event. `waited`: it had to wait for it (it was caught up), so the time
    // since the previous event is a gap of the source; otherwise the event was already there.
    void arrived(Clock::time_point now, bool waited) noexcept {
        if (waited && have_last_) {
            const Clock::duration gap = now - last_;
            if (interval_ == Clock::duration::zero()) {
                // One gap proves no rate (it may be an idle pause): as uncertain as it is long, so
                // no sleep is predicted until a few regular gaps have brought the deviation down.
                interval_ = gap;
                jitter_ = gap;
            } else {
                const Clock::duration error = gap > interval_ ? gap - interval_ : interval_ - gap;
                jitter_ = (jitter_ * 7 + error) / 8;
                interval_ = (interval_ * 7 + gap) / 8;
            }
        }
        last_ = now;
        have_last_ = true;
    }
    // When to start polling for the next event: a margin before it is due (an eighth of the gap
    // up to 1 ms, plus twice the gaps' mean deviation, plus 50 us of timer slack). nullopt until a
    // gap has been seen, or when the source is too irregular for the margin to leave a sleep.
    [[nodiscard]] std::optional<Clock::time_point> poll_from() const noexcept {
        // Beyond a second apart events are not a rate worth predicting (and a wrong prediction
        // would cost that much latency): the schedule's backoff serves them.
        if (!have_last_ || interval_ == Clock::duration::zero() || interval_ > std::chrono::seconds(1)) {
            return std::nullopt;
        }
        const Clock::duration margin = std::min<Clock::duration>(interval_ / 8, std::chrono::milliseconds(1)) +
                                       2 * jitter_ + std::chrono::microseconds(50);
        if (interval_ <= margin) return std::nullopt;
        return last_ + interval_ - margin;
    }
    // Until when to keep polling finely once poll_from() has passed: the gap's second half, and
    // its deviation, after the event was due.
    [[nodiscard]] Clock::time_point poll_until() const noexcept { return last_ + interval_ + interval_ / 2 + 2 * jitter_; }
    [[nodiscard]] Clock::duration interval() const noexcept { return interval_; }
    [[nodiscard]] Clock::duration jitter() const noexcept { return jitter_; }

private:
    Clock::time_point last_{};
    Clock::duration interval_{};
    Clock::duration jitter_{};
    bool have_last_ = false;
};

namespace detail {
// A sleeper that knows its handle's ArrivalEstimate.
template <class S>
concept HasArrivals = requires(const S& s) {
    { s.arrivals() } -> std::same_as<const ArrivalEstimate*>;
};

// The spin a futex wait starts with, or none when the handle's learned rate says the next event
// is not due for a while (a 1 kHz cursor, 60 Hz frames): a spin then only burns CPU before the
// same sleep. Measured: 2000 polls per event were 5.5 % of a core at 1 kHz (pane-bench wait).
inline constexpr Clock::duration kSpinHorizon = std::chrono::microseconds(50);
template <class S>
[[nodiscard]] unsigned spins_worth_it(const S& sleeper, unsigned spins) {
    if constexpr (HasArrivals<S>) {
        const ArrivalEstimate* arrivals = sleeper.arrivals();
        if (arrivals == nullptr) return spins;
        const auto due = arrivals->poll_from();
        if (due && *due > Clock::now() + kSpinHorizon) return 0;
    }
    return spins;
}

class Backoff {
public:
    explicit Backoff(SleepSchedule s) noexcept : next_(s.first), longest_(s.longest) {}
    void sleep(Clock::duration remaining) {
        std::this_thread::sleep_for(std::min<Clock::duration>(next_, remaining));
        next_ = std::min(next_ * 2, longest_);
    }

private:
    std::chrono::microseconds next_;
    std::chrono::microseconds longest_;
};
}  // namespace detail

struct FutexWait {
    static constexpr std::string_view name = "futex";
    unsigned spins = 2000;
    // Upper bound of one kernel sleep: a safety net against a waker that died between its
    // publish and its wake, and what a FutexWait sleeps per round where it cannot futex (no
    // futex word, not Linux, or the kernel refused the word: then for the rest of this wait).
    std::chrono::milliseconds slice{5};
    template <class Ready, Sleeper S>
    WaitStatus wait(Ready&& ready, const S& sleeper, Deadline deadline) const {
        return detail::spin_then_futex(ready, sleeper, deadline, detail::spins_worth_it(sleeper, spins), slice,
                                       [this](Clock::time_point now, Deadline d) {
            std::this_thread::sleep_for(std::min<Clock::duration>(slice, d.remaining(now)));
        });
    }
};

// The default: a futex where the waker shares our kernel (the sleeper offers a word), else a
// short spin, one sleep until the event is due (where the handle has learned its rate, see
// ArrivalEstimate) and then a SleepSchedule. Consumers' sleepers offer no word when the producer is on
// another kernel, and a lossless producer's none when its blocking consumer is; a word the
// kernel refuses (a guest's BAR) switches to the schedule for the rest of the wait. The spin is
// short because across a VM boundary it rarely succeeds: events come from a guest's frame or
// cursor clock, milliseconds apart, and a long spin per event would be most of the CPU spent.
// Measured across QEMU in docs/qemu.md and in pane-bench's wait matrix.
struct AutoWait {
    static constexpr std::string_view name = "auto";
    unsigned spins = 200;
    std::chrono::milliseconds futex_slice{5};  // as FutexWait::slice
    SleepSchedule schedule{};
    template <class Ready, Sleeper S>
    WaitStatus wait(Ready&& ready, const S& sleeper, Deadline deadline) const {
        bool predicted = false;  // slept once until the event was due
        detail::Backoff backoff(schedule);
        const auto sleep_on_schedule = [&](Clock::time_point now, Deadline d) {
            if constexpr (detail::HasArrivals<S>) {
                const ArrivalEstimate* arrivals = sleeper.arrivals();
                const auto due = arrivals != nullptr ? arrivals->poll_from() : std::nullopt;
                if (due && !predicted && *due > now) {  // most of the gap in one sleep
                    predicted = true;
                    std::this_thread::sleep_until(std::min(*due, d.time()));
                    return;
                }
                if (due && now < arrivals->poll_until()) {  // around when it is due: poll finely
                    std::this_thread::sleep_for(std::min<Clock::duration>(schedule.first, d.remaining(now)));
                    return;
                }
            }
            backoff.sleep(d.remaining(now));
        };
        return detail::spin_then_futex(ready, sleeper, deadline, detail::spins_worth_it(sleeper, spins), futex_slice,
                                       sleep_on_schedule);
    }
};

// Runtime choice of strategy, for tools and benchmarks that take it from the command line.
using AnyWait = std::variant<AutoWait, BusySpin, SpinThenYield, SpinThenSleep, FutexWait>;

// Whether a wait with `strategy` uses the handle's ArrivalEstimate, so that a handle reads the
// clock to feed it only where that is of use (a clock read is tens of nanoseconds in a VM).
// AutoWait and FutexWait use it (both skip their spin when the next event is not due soon);
// the polling strategies do not, and a spinner's clock read would sit on its critical path.
template <class S>
[[nodiscard]] constexpr bool learns_arrivals(const S& strategy) noexcept {
    if constexpr (std::is_same_v<S, AnyWait>) {
        return std::holds_alternative<AutoWait>(strategy) || std::holds_alternative<FutexWait>(strategy);
    } else {
        (void)strategy;
        return std::is_same_v<S, AutoWait> || std::is_same_v<S, FutexWait>;
    }
}

[[nodiscard]] inline std::optional<AnyWait> parse_wait(std::string_view name) noexcept {
    if (name == BusySpin::name) return AnyWait{BusySpin{}};
    if (name == SpinThenYield::name) return AnyWait{SpinThenYield{}};
    if (name == SpinThenSleep::name) return AnyWait{SpinThenSleep{}};
    if (name == FutexWait::name) return AnyWait{FutexWait{}};
    if (name == AutoWait::name) return AnyWait{AutoWait{}};
    return std::nullopt;
}

[[nodiscard]] inline std::string_view wait_name(const AnyWait& w) noexcept {
    return std::visit([](const auto& s) { return std::remove_cvref_t<decltype(s)>::name; }, w);
}

template <class Ready, Sleeper S>
WaitStatus wait_with(const AnyWait& strategy, Ready&& ready, const S& sleeper, Deadline deadline) {
    return std::visit([&](const auto& s) { return s.wait(ready, sleeper, deadline); }, strategy);
}

// Waits with a policy type or a runtime AnyWait alike: what every blocking call uses.
template <class Strategy, class Ready, Sleeper S>
WaitStatus wait_for(const Strategy& strategy, Ready&& ready, const S& sleeper, Deadline deadline) {
    if constexpr (std::is_same_v<Strategy, AnyWait>) {
        return wait_with(strategy, ready, sleeper, deadline);
    } else {
        return strategy.wait(ready, sleeper, deadline);
    }
}

}  // namespace pane
