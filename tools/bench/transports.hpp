// SPDX-License-Identifier: MIT
// The transports pane-bench compares, each as a sending end (send one message, blocking until
// it is accepted) and a receiving end (receive one message, blocking; returns how many the
// transport says it skipped). Every end carries the same Msg<S>, and every receiver's messages
// go through the same Tally, so Pane and the baselines are measured and checked alike.
//
//   pane          a Pane typed ring (RingProducer<Msg<S>> / RingConsumer), wake-ups on
//   pane-batch    the same ring through try_push_batch / pop_batch, 256 messages at a time
//   pipe          one write() / read() of S bytes per message
//   uds           a Unix domain socket pair, SOCK_SEQPACKET: one send() / recv() per message
//   eventfd       one shared slot per direction, signalled with an eventfd write / blocking read
//                 (round trip only: a one-slot mailbox has no throughput worth the name)
//   mq            Boost.Interprocess message_queue (a process-shared mutex and condition variables)
//   spsc          Boost.Lockfree spsc_queue<Msg<S>, capacity<N>> constructed in a Boost.Interprocess
//                 managed_shared_memory segment; both ends spin (it has no blocking wait)
//   spsc-batch    the same queue through its push(const T*, n) / pop(T*, n) range calls
#pragma once

#include <cerrno>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <sys/eventfd.h>
#include <sys/socket.h>

#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/lockfree/spsc_queue.hpp>

#include <pane/map/shm.hpp>
#include <pane/pane.hpp>

#include "common.hpp"

namespace bench {

namespace bi = boost::interprocess;
using namespace std::chrono_literals;

// Whether the other process is still there, and until when we may wait for it at all: set by the
// parent (its child) and by the child (its parent) before any transport is used.
inline std::function<bool()> g_peer_alive = [] { return true; };
inline Clock::time_point g_deadline = Clock::time_point::max();

inline void check_peer(const char* what) {
    if (!g_peer_alive()) throw BenchError(std::string("peer process died during ") + what);
    if (Clock::now() > g_deadline) throw BenchError(std::string("timed out during ") + what);
}

template <class Pred>
void spin(Pred&& pred, const char* what) {
    spin_until(pred, g_deadline, what, g_peer_alive);
}

// Slots per ring, queue or message queue: the same for every transport of a size.
constexpr std::uint32_t capacity_for(std::size_t size) noexcept { return size >= 4096 ? 1024 : 4096; }
inline constexpr std::size_t kBatch = 256;  // messages per batch call

// Does this Pane have the batch API? (It arrives in include/pane/ring.hpp; until then the
// batch measurements report "not available" and everything else builds and runs.)
template <class T>
concept HasBatchApi = requires(pane::RingProducer<T>& tx, pane::RingConsumer<T>& rx, std::span<const T> in,
                               std::span<T> out) {
    { tx.try_push_batch(in) } -> std::convertible_to<std::size_t>;
    rx.pop_batch(out, pane::BusySpin{}, pane::Deadline::after(1s));
};
inline constexpr bool kHaveBatchApi = HasBatchApi<Msg<16>>;

// ---------------------------------------------------------------------------------------------
// Pane

inline pane::RegionSpec ring_region_spec(const std::string& channel, std::size_t element_size, std::uint32_t capacity,
                                         pane::RingPolicy policy) {
    pane::RegionSpec spec;
    // The library default: fan-out runs attach up to 32 consumers to the same layout a single
    // consumer sees, so 1 vs 32 compares attached consumers, not layouts.
    spec.max_consumers = 32;
    spec.remote_consumer_slots = 0;  // every consumer runs on this kernel
    // Generous: a consumer thread descheduled on a busy 2-CPU machine must not be reaped.
    spec.consumer_timeout = 10s;
    spec.add(pane::RingSpec{channel, static_cast<std::uint32_t>(element_size), capacity, policy});
    return spec;
}

// A Pane region this process creates and produces into; the shm name is removed on destruction.
class PaneRegion {
public:
    PaneRegion(const std::string& shm, const pane::RegionSpec& spec) : name_(shm) {
        const auto plan = pane::plan_region(spec);
        if (!plan) throw BenchError("region plan: " + std::string(pane::describe(plan.error())));
        pane::map::remove_shm(shm);
        auto m = pane::map::shm(shm, plan->region_size, pane::map::OpenMode::create_only);
        if (!m) throw BenchError("shm " + shm + ": " + std::string(pane::describe(m.error())));
        mapping_.emplace(std::move(m.value()));
        auto s = pane::ProducerSession::create(mapping_->bytes(), spec);
        if (!s) throw BenchError("producer session: " + std::string(pane::describe(s.error())));
        session_.emplace(std::move(s.value()));
    }
    PaneRegion(const PaneRegion&) = delete;
    PaneRegion& operator=(const PaneRegion&) = delete;
    ~PaneRegion() {
        session_.reset();
        mapping_.reset();
        pane::map::remove_shm(name_);
    }
    pane::ProducerSession& session() { return *session_; }

private:
    std::string name_;
    std::optional<pane::map::Mapping> mapping_;
    std::optional<pane::ProducerSession> session_;
};

// A consumer's attachment to a region another process created.
class PaneAttachment {
public:
    explicit PaneAttachment(const std::string& shm) {
        auto m = pane::map::shm(shm, 0, pane::map::OpenMode::open_only);
        if (!m) throw BenchError("open shm " + shm + ": " + std::string(pane::describe(m.error())));
        mapping_.emplace(std::move(m.value()));
        auto s = pane::ConsumerSession::attach(mapping_->bytes());
        if (!s) throw BenchError("attach " + shm + ": " + std::string(pane::describe(s.error())));
        session_.emplace(std::move(s.value()));
    }
    pane::ConsumerSession& session() { return *session_; }

private:
    std::optional<pane::map::Mapping> mapping_;
    std::optional<pane::ConsumerSession> session_;
};

inline const char* push_status_name(pane::PushStatus s) {
    switch (s) {
        case pane::PushStatus::ok: return "ok";
        case pane::PushStatus::full: return "full";
        case pane::PushStatus::too_large: return "too_large";
        case pane::PushStatus::timed_out: return "timed_out";
    }
    return "?";
}

inline const char* pop_status_name(pane::PopStatus s) {
    switch (s) {
        case pane::PopStatus::ok: return "ok";
        case pane::PopStatus::empty: return "empty";
        case pane::PopStatus::timed_out: return "timed_out";
        case pane::PopStatus::buffer_too_small: return "buffer_too_small";
        case pane::PopStatus::contended: return "contended";
        case pane::PopStatus::broken: return "broken";
        case pane::PopStatus::epoch_changed: return "epoch_changed";
        case pane::PopStatus::slot_lost: return "slot_lost";
    }
    return "?";
}

template <std::size_t S>
class PaneTx {
public:
    PaneTx(pane::ProducerSession& s, const std::string& channel, pane::AnyWait wait)
        : ring_(s.ring<Msg<S>>(channel).value()), wait_(wait) {}
    // try_push first: a Deadline costs a clock read, which the fast path should not pay.
    void send(const Msg<S>& m) {
        if (ring_.try_push(m) == pane::PushStatus::ok) return;
        for (;;) {
            const auto st = ring_.push(m, wait_, 200ms);
            if (st == pane::PushStatus::ok) return;
            if (st != pane::PushStatus::timed_out) throw BenchError(std::string("ring push: ") + push_status_name(st));
            check_peer("a ring push");
        }
    }
    void flush() {}
    pane::RingProducer<Msg<S>>& ring() { return ring_; }

private:
    pane::RingProducer<Msg<S>> ring_;
    pane::AnyWait wait_;
};

template <std::size_t S>
class PaneRx {
public:
    PaneRx(pane::ConsumerSession& s, const std::string& channel, pane::AnyWait wait)
        : ring_(s.ring<Msg<S>>(channel).value()), wait_(wait) {}
    std::uint64_t recv(Msg<S>& m) {
        const auto first = ring_.try_pop(m);  // as in send(): no clock read on the fast path
        if (first.status == pane::PopStatus::ok) return first.lost;
        std::uint64_t lost = first.lost;
        for (;;) {
            const auto r = ring_.pop(m, wait_, 200ms);
            lost += r.lost;
            if (r.status == pane::PopStatus::ok) return lost;
            if (r.status != pane::PopStatus::timed_out) throw BenchError(std::string("ring pop: ") + pop_status_name(r.status));
            check_peer("a ring pop");
        }
    }

private:
    pane::RingConsumer<Msg<S>> ring_;
    pane::AnyWait wait_;
};

// Batches of kBatch: send() collects, a full batch (or flush) is published with one
// try_push_batch per published prefix; recv() hands out what one pop_batch returned.
template <std::size_t S>
class PaneBatchTx {
public:
    PaneBatchTx(pane::ProducerSession& s, const std::string& channel, pane::AnyWait wait)
        : ring_(s.ring<Msg<S>>(channel).value()), wait_(wait) {}
    void send(const Msg<S>& m) {
        buf_[n_++] = m;
        if (n_ == kBatch) flush();
    }
    void flush() {
        if constexpr (HasBatchApi<Msg<S>>) {
            std::span<const Msg<S>> rest(buf_.data(), n_);
            while (!rest.empty()) {
                const auto r = ring_.push_batch(rest, wait_, 200ms);
                rest = rest.subspan(r.count);
                if (r.status == pane::PushStatus::ok && rest.empty()) break;
                if (r.status != pane::PushStatus::ok && r.status != pane::PushStatus::timed_out) {
                    throw BenchError(std::string("ring push_batch: ") + push_status_name(r.status));
                }
                if (r.status == pane::PushStatus::timed_out) check_peer("a ring push_batch");
            }
        } else {
            throw BenchError("this Pane has no batch API");
        }
        n_ = 0;
    }

private:
    pane::RingProducer<Msg<S>> ring_;
    pane::AnyWait wait_;
    std::array<Msg<S>, kBatch> buf_{};
    std::size_t n_ = 0;
};

template <std::size_t S>
class PaneBatchRx {
public:
    PaneBatchRx(pane::ConsumerSession& s, const std::string& channel, pane::AnyWait wait)
        : ring_(s.ring<Msg<S>>(channel).value()), wait_(wait) {}
    std::uint64_t recv(Msg<S>& m) {
        std::uint64_t lost = 0;
        if constexpr (HasBatchApi<Msg<S>>) {
            while (next_ == have_) {
                const auto r = ring_.pop_batch(std::span<Msg<S>>(buf_), wait_, 200ms);
                lost += r.lost;  // skipped before the first message of this batch
                if (r.status == pane::PopStatus::ok) {
                    next_ = 0;
                    have_ = r.count;
                    break;
                }
                if (r.status != pane::PopStatus::timed_out) throw BenchError(std::string("ring pop_batch: ") + pop_status_name(r.status));
                check_peer("a ring pop_batch");
            }
        } else {
            throw BenchError("this Pane has no batch API");
        }
        m = buf_[next_++];
        return lost;
    }

private:
    pane::RingConsumer<Msg<S>> ring_;
    pane::AnyWait wait_;
    std::array<Msg<S>, kBatch> buf_{};
    std::size_t next_ = 0, have_ = 0;
};

// ---------------------------------------------------------------------------------------------
// File-descriptor baselines

inline void write_all(int fd, const void* p, std::size_t n, const char* what) {
    auto* b = static_cast<const std::byte*>(p);
    while (n > 0) {
        const ssize_t r = ::write(fd, b, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) throw BenchError(std::string(what) + ": write failed: " + std::strerror(errno));
        b += r;
        n -= static_cast<std::size_t>(r);
    }
}

inline void read_all(int fd, void* p, std::size_t n, const char* what) {
    auto* b = static_cast<std::byte*>(p);
    while (n > 0) {
        const ssize_t r = ::read(fd, b, n);
        if (r < 0 && errno == EINTR) {  // SIGCHLD interrupts a parent blocked on a dead child
            check_peer(what);
            continue;
        }
        if (r == 0) throw BenchError(std::string(what) + ": the peer closed it");
        if (r < 0) throw BenchError(std::string(what) + ": read failed: " + std::strerror(errno));
        b += r;
        n -= static_cast<std::size_t>(r);
    }
}

template <std::size_t S>
struct PipeTx {
    int fd;
    void send(const Msg<S>& m) { write_all(fd, &m, S, "pipe"); }
    void flush() {}
};
template <std::size_t S>
struct PipeRx {
    int fd;
    std::uint64_t recv(Msg<S>& m) {
        read_all(fd, &m, S, "pipe");
        return 0;
    }
};

// SOCK_SEQPACKET keeps message boundaries: one send is one recv of exactly S bytes.
template <std::size_t S>
struct UdsTx {
    int fd;
    void send(const Msg<S>& m) {
        for (;;) {
            const ssize_t r = ::send(fd, &m, S, MSG_NOSIGNAL);
            if (r == static_cast<ssize_t>(S)) return;
            if (r < 0 && errno == EINTR) continue;
            throw BenchError(std::string("unix socket send: ") + std::strerror(errno));
        }
    }
    void flush() {}
};
template <std::size_t S>
struct UdsRx {
    int fd;
    std::uint64_t recv(Msg<S>& m) {
        for (;;) {
            const ssize_t r = ::recv(fd, &m, S, 0);
            if (r == static_cast<ssize_t>(S)) return 0;
            if (r < 0 && errno == EINTR) {
                check_peer("a unix socket");
                continue;
            }
            if (r == 0) throw BenchError("unix socket: the peer closed it");
            throw BenchError("unix socket recv: " + std::string(r < 0 ? std::strerror(errno) : "short message"));
        }
    }
};

// One slot per direction in the bench's control page; the eventfd carries "the slot is full".
// The write() and read() syscalls order the slot's bytes (a syscall is a full barrier); the
// fences say so to the compiler. Only for strictly alternating round trips.
template <std::size_t S>
struct EventfdTx {
    int fd;
    std::byte* slot;
    void send(const Msg<S>& m) {
        std::memcpy(slot, &m, S);
        std::atomic_thread_fence(std::memory_order_release);
        const std::uint64_t one = 1;
        write_all(fd, &one, sizeof one, "eventfd");
    }
    void flush() {}
};
template <std::size_t S>
struct EventfdRx {
    int fd;
    const std::byte* slot;
    std::uint64_t recv(Msg<S>& m) {
        std::uint64_t count = 0;
        read_all(fd, &count, sizeof count, "eventfd");
        std::atomic_thread_fence(std::memory_order_acquire);
        std::memcpy(&m, slot, S);
        return 0;
    }
};

// ---------------------------------------------------------------------------------------------
// Boost baselines

// Timed calls in a loop, so a dead peer is noticed instead of blocking forever.
template <std::size_t S>
struct MqTx {
    bi::message_queue* q;
    void send(const Msg<S>& m) {
        for (;;) {
            const auto until = boost::posix_time::microsec_clock::universal_time() + boost::posix_time::milliseconds(200);
            if (q->timed_send(&m, S, 0, until)) return;
            check_peer("a message_queue send");
        }
    }
    void flush() {}
};
template <std::size_t S>
struct MqRx {
    bi::message_queue* q;
    std::uint64_t recv(Msg<S>& m) {
        for (;;) {
            const auto until = boost::posix_time::microsec_clock::universal_time() + boost::posix_time::milliseconds(200);
            bi::message_queue::size_type got = 0;
            unsigned prio = 0;
            if (q->timed_receive(&m, S, got, prio, until)) {
                if (got != S) throw BenchError("message_queue: short message");
                return 0;
            }
            check_peer("a message_queue receive");
        }
    }
};

template <std::size_t S>
using SpscQueue = boost::lockfree::spsc_queue<Msg<S>, boost::lockfree::capacity<capacity_for(S)>>;

// A Boost.Interprocess managed_shared_memory segment holding the queues, each constructed
// (parent) or found (child) by name with find_or_construct.
class SpscSegment {
public:
    SpscSegment(const std::string& name, std::size_t bytes, bool create) : name_(name), owner_(create) {
        try {
            if (create) {
                bi::shared_memory_object::remove(name.c_str());
                segment_ = bi::managed_shared_memory(bi::create_only, name.c_str(), bytes);
            } else {
                segment_ = bi::managed_shared_memory(bi::open_only, name.c_str());
            }
        } catch (const bi::interprocess_exception& e) {
            throw BenchError("spsc_queue segment " + name + ": " + e.what());
        }
    }
    SpscSegment(const SpscSegment&) = delete;
    SpscSegment& operator=(const SpscSegment&) = delete;
    ~SpscSegment() {
        if (owner_) bi::shared_memory_object::remove(name_.c_str());
    }
    template <std::size_t S>
    SpscQueue<S>* queue(const char* name) {
        try {
            return segment_.find_or_construct<SpscQueue<S>>(name)();
        } catch (const bi::interprocess_exception& e) {
            throw BenchError(std::string("spsc_queue ") + name + ": " + e.what());
        }
    }

private:
    std::string name_;
    bool owner_;
    bi::managed_shared_memory segment_;
};

template <std::size_t S>
struct SpscTx {
    SpscQueue<S>* q;
    void send(const Msg<S>& m) {
        spin([&] { return q->push(m); }, "a spsc_queue push");
    }
    void flush() {}
};
template <std::size_t S>
struct SpscRx {
    SpscQueue<S>* q;
    std::uint64_t recv(Msg<S>& m) {
        spin([&] { return q->pop(m); }, "a spsc_queue pop");
        return 0;
    }
};

template <std::size_t S>
class SpscBatchTx {
public:
    explicit SpscBatchTx(SpscQueue<S>* q) : q_(q) {}
    void send(const Msg<S>& m) {
        buf_[n_++] = m;
        if (n_ == kBatch) flush();
    }
    void flush() {
        std::size_t done = 0;
        spin([&] {
            done += q_->push(buf_.data() + done, n_ - done);
            return done == n_;
        }, "a spsc_queue batch push");
        n_ = 0;
    }

private:
    SpscQueue<S>* q_;
    std::array<Msg<S>, kBatch> buf_{};
    std::size_t n_ = 0;
};

template <std::size_t S>
class SpscBatchRx {
public:
    explicit SpscBatchRx(SpscQueue<S>* q) : q_(q) {}
    std::uint64_t recv(Msg<S>& m) {
        if (next_ == have_) {
            spin([&] { return (have_ = q_->pop(buf_.data(), kBatch)) > 0; }, "a spsc_queue batch pop");
            next_ = 0;
        }
        m = buf_[next_++];
        return 0;
    }

private:
    SpscQueue<S>* q_;
    std::array<Msg<S>, kBatch> buf_{};
    std::size_t next_ = 0, have_ = 0;
};

}  // namespace bench
