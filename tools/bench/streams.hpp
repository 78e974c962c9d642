// SPDX-License-Identifier: MIT
// The message measurements, parent and child side:
//   stream     throughput: the parent sends Msg<S> for a fixed time, then an end marker; the
//              child's consumer(s) check every message; the parent's clock stops when the child
//              says it has seen the end (so messages still queued are counted as not yet done).
//   roundtrip  the parent sends one message, the child checks it and sends it back through the
//              return channel, the parent checks the echo: one sample per message.
//   publish    the producer's own cost per push (Pane lossless ring, 16 B): the parent's clock
//              runs only while pushes succeed, stopped while the ring is full, so what remains is
//              the producer's work per message with the given number of consumers attached.
#pragma once

#include <atomic>
#include <thread>

#include "job.hpp"

namespace bench {

// ---------------------------------------------------------------------------------------------
// Links

inline void make_pipe(Fd (&p)[2]) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw BenchError("pipe failed");
    p[0] = fds[0];
    p[1] = fds[1];
}

// The parent's objects for `job` (sets the child's descriptor numbers in it). `back`: the child
// answers (round trip), so the return direction is created too.
template <std::size_t S>
void make_parent_links(Job& job, ParentLinks& l, bool back) {
    const std::string& t = job.transport;
    const std::uint32_t cap = capacity_for(S);
    if (t == "pane" || t == "pane-batch") {
        l.pane_a.emplace(job.base + "-a", ring_region_spec("bench", S, cap, job.ring_policy()));
    } else if (t == "pipe") {
        make_pipe(l.pipe_a);
        job.fd_a = l.pipe_a[0].get();
        l.child_ends.push_back(&l.pipe_a[0]);
        if (back) {
            make_pipe(l.pipe_b);
            job.fd_b = l.pipe_b[1].get();
            l.child_ends.push_back(&l.pipe_b[1]);
        }
    } else if (t == "uds") {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw BenchError("socketpair failed");
        l.sock[0] = sv[0];
        l.sock[1] = sv[1];
        job.fd_a = sv[1];
        l.child_ends.push_back(&l.sock[1]);
    } else if (t == "eventfd") {
        if (!back) throw BenchError("the eventfd baseline measures round trips only");
        l.efd_a = ::eventfd(0, EFD_CLOEXEC);
        l.efd_b = ::eventfd(0, EFD_CLOEXEC);
        if (l.efd_a.get() < 0 || l.efd_b.get() < 0) throw BenchError("eventfd failed");
        job.fd_a = l.efd_a.get();
        job.fd_b = l.efd_b.get();
        // The child inherits both; the parent keeps its own copies (an eventfd is one object).
        l.shared_fds = {l.efd_a.get(), l.efd_b.get()};
    } else if (t == "mq") {
        try {
            for (const char* dir : {"a", "b"}) {
                const std::string name = job.base + "-mq-" + dir;
                bi::message_queue::remove(name.c_str());
                auto q = std::make_unique<bi::message_queue>(bi::create_only, name.c_str(), cap, S);
                l.mq_names.push_back(name);
                (dir[0] == 'a' ? l.mq_a : l.mq_b) = std::move(q);
            }
        } catch (const bi::interprocess_exception& e) {
            throw BenchError(std::string("message_queue: ") + e.what());
        }
    } else if (t == "spsc" || t == "spsc-batch") {
        l.spsc.emplace(job.base + "-spsc", 2 * sizeof(SpscQueue<S>) + (1 << 20), true);
        (void)l.spsc->template queue<S>("a");
        (void)l.spsc->template queue<S>("b");
    } else {
        throw BenchError("unknown transport " + t);
    }
}

// Calls f(tx) with the parent's sending end of `job`'s transport.
template <std::size_t S, class F>
void with_parent_tx(const Job& job, ParentLinks& l, Control& ctl, F&& f) {
    const std::string& t = job.transport;
    if (t == "pane") {
        PaneTx<S> tx(l.pane_a->session(), "bench", job.wait_strategy());
        f(tx);
    } else if (t == "pane-batch") {
        PaneBatchTx<S> tx(l.pane_a->session(), "bench", job.wait_strategy());
        f(tx);
    } else if (t == "pipe") {
        PipeTx<S> tx{l.pipe_a[1].get()};
        f(tx);
    } else if (t == "uds") {
        UdsTx<S> tx{l.sock[0].get()};
        f(tx);
    } else if (t == "eventfd") {
        EventfdTx<S> tx{l.efd_a.get(), ctl.payload[0]};
        f(tx);
    } else if (t == "mq") {
        MqTx<S> tx{l.mq_a.get()};
        f(tx);
    } else if (t == "spsc") {
        SpscTx<S> tx{l.spsc->template queue<S>("a")};
        f(tx);
    } else if (t == "spsc-batch") {
        SpscBatchTx<S> tx(l.spsc->template queue<S>("a"));
        f(tx);
    }
}

// Calls f(rx) with the parent's receiving end of the return direction (round trip).
template <std::size_t S, class F>
void with_parent_rx(const Job& job, ParentLinks& l, Control& ctl, F&& f) {
    const std::string& t = job.transport;
    if (t == "pane") {
        PaneRx<S> rx(l.pane_b->session(), "bench", job.wait_strategy());
        f(rx);
    } else if (t == "pipe") {
        PipeRx<S> rx{l.pipe_b[0].get()};
        f(rx);
    } else if (t == "uds") {
        UdsRx<S> rx{l.sock[0].get()};
        f(rx);
    } else if (t == "eventfd") {
        EventfdRx<S> rx{l.efd_b.get(), ctl.payload[1]};
        f(rx);
    } else if (t == "mq") {
        MqRx<S> rx{l.mq_b.get()};
        f(rx);
    } else if (t == "spsc") {
        SpscRx<S> rx{l.spsc->template queue<S>("b")};
        f(rx);
    } else {
        throw BenchError("no round trip for transport " + t);
    }
}

// The child's objects: what it opens of the parent's, and what it creates (the return ring).
struct ChildLinks {
    std::vector<std::unique_ptr<PaneAttachment>> attachments;  // one per consumer
    std::optional<PaneRegion> pane_b;
    std::unique_ptr<bi::message_queue> mq_a, mq_b;
    std::optional<SpscSegment> spsc;
};

template <std::size_t S>
void open_child_links(const Job& job, ChildLinks& l, bool back) {
    const std::string& t = job.transport;
    if (t == "pane" || t == "pane-batch") {
        for (unsigned i = 0; i < job.consumers; ++i) l.attachments.push_back(std::make_unique<PaneAttachment>(job.base + "-a"));
        if (back) l.pane_b.emplace(job.base + "-b", ring_region_spec("bench", S, capacity_for(S), pane::RingPolicy::lossless));
    } else if (t == "mq") {
        try {
            l.mq_a = std::make_unique<bi::message_queue>(bi::open_only, (job.base + "-mq-a").c_str());
            l.mq_b = std::make_unique<bi::message_queue>(bi::open_only, (job.base + "-mq-b").c_str());
        } catch (const bi::interprocess_exception& e) {
            throw BenchError(std::string("message_queue: ") + e.what());
        }
    } else if (t == "spsc" || t == "spsc-batch") {
        l.spsc.emplace(job.base + "-spsc", 0, false);
    }
}

// Calls f(rx) with consumer `i`'s receiving end (only Pane rings have more than one).
template <std::size_t S, class F>
void with_child_rx(const Job& job, ChildLinks& l, Control& ctl, unsigned i, F&& f) {
    const std::string& t = job.transport;
    if (t == "pane") {
        PaneRx<S> rx(l.attachments[i]->session(), "bench", job.wait_strategy());
        f(rx);
    } else if (t == "pane-batch") {
        PaneBatchRx<S> rx(l.attachments[i]->session(), "bench", job.wait_strategy());
        f(rx);
    } else if (t == "pipe") {
        PipeRx<S> rx{job.fd_a};
        f(rx);
    } else if (t == "uds") {
        UdsRx<S> rx{job.fd_a};
        f(rx);
    } else if (t == "eventfd") {
        EventfdRx<S> rx{job.fd_a, ctl.payload[0]};
        f(rx);
    } else if (t == "mq") {
        MqRx<S> rx{l.mq_a.get()};
        f(rx);
    } else if (t == "spsc") {
        SpscRx<S> rx{l.spsc->template queue<S>("a")};
        f(rx);
    } else if (t == "spsc-batch") {
        SpscBatchRx<S> rx(l.spsc->template queue<S>("a"));
        f(rx);
    } else {
        throw BenchError("unknown transport " + t);
    }
}

template <std::size_t S, class F>
void with_child_tx(const Job& job, ChildLinks& l, Control& ctl, F&& f) {
    const std::string& t = job.transport;
    if (t == "pane") {
        PaneTx<S> tx(l.pane_b->session(), "bench", job.wait_strategy());
        f(tx);
    } else if (t == "pipe") {
        PipeTx<S> tx{job.fd_b};
        f(tx);
    } else if (t == "uds") {
        UdsTx<S> tx{job.fd_a};
        f(tx);
    } else if (t == "eventfd") {
        EventfdTx<S> tx{job.fd_b, ctl.payload[1]};
        f(tx);
    } else if (t == "mq") {
        MqTx<S> tx{l.mq_b.get()};
        f(tx);
    } else if (t == "spsc") {
        SpscTx<S> tx{l.spsc->template queue<S>("b")};
        f(tx);
    } else {
        throw BenchError("no round trip for transport " + t);
    }
}

// ---------------------------------------------------------------------------------------------
// Loops shared by every transport

struct StreamOut {
    std::uint64_t sent = 0;
    double seconds = 0;
};

// Sends for `seconds`, then the end marker; returns when the child has seen the end.
template <std::size_t S, class Tx>
StreamOut stream_out(Tx& tx, double seconds, Control& ctl) {
    Msg<S> m;
    std::uint64_t seq = 0;
    const std::uint64_t t0 = now_ns();
    const std::uint64_t stop = t0 + static_cast<std::uint64_t>(seconds * 1e9);
    do {
        for (int i = 0; i < 64; ++i) {  // one clock read per 64 messages
            fill(m, seq);
            tx.send(m);
            ++seq;
        }
    } while (now_ns() < stop);
    fill(m, kEndBit | seq);
    tx.send(m);
    tx.flush();
    spin([&] { return ctl.done.load() != 0; }, "the consumer to finish");
    return {seq, static_cast<double>(now_ns() - t0) / 1e9};
}

template <std::size_t S, class Rx>
Tally stream_in(Rx& rx) {
    Tally t;
    Msg<S> m;
    while (!t.ended) {
        const std::uint64_t lost = rx.recv(m);
        t.take(m, lost);
    }
    return t;
}

// ---------------------------------------------------------------------------------------------
// Parent bodies

template <std::size_t S>
Window parent_stream(ControlMap& ctl, Job job, const std::vector<int>& cpus, Metrics& out) {
    ParentLinks links;
    make_parent_links<S>(job, links, false);
    StreamOut r;
    Window w = run_window(ctl, job, links, cpus, [] {}, [&] {
        with_parent_tx<S>(job, links, ctl.get(), [&](auto& tx) { r = stream_out<S>(tx, job.seconds, ctl.get()); });
    });
    const double expected = static_cast<double>(r.sent) * job.consumers;
    out["messages"] = static_cast<double>(r.sent);
    out["msgs_per_s"] = static_cast<double>(r.sent) / r.seconds;
    out["mib_per_s"] = out["msgs_per_s"] * static_cast<double>(S) / (1 << 20);
    out["delivered_share"] = expected > 0 ? static_cast<double>(w.child.received) / expected : 0;
    out["lost"] = static_cast<double>(w.child.lost);
    out["ns_per_msg"] = r.seconds * 1e9 / static_cast<double>(r.sent);
    out["errors"] = static_cast<double>(w.child.errors);
    return w;
}

template <std::size_t S>
Window parent_roundtrip(ControlMap& ctl, Job job, const std::vector<int>& cpus, Metrics& out) {
    ParentLinks links;
    make_parent_links<S>(job, links, true);
    std::vector<std::uint64_t> samples;
    std::uint64_t errors = 0;
    const auto attach_back = [&] {
        if (job.transport == "pane") links.pane_b.emplace(job.base + "-b");
    };
    Window w = run_window(ctl, job, links, cpus, attach_back, [&] {
        with_parent_tx<S>(job, links, ctl.get(), [&](auto& tx) {
            with_parent_rx<S>(job, links, ctl.get(), [&](auto& rx) {
                samples.reserve(static_cast<std::size_t>(job.seconds * 2e6));
                Msg<S> m, echo;
                std::uint64_t seq = 0;
                const std::uint64_t stop = now_ns() + static_cast<std::uint64_t>(job.seconds * 1e9);
                for (std::uint64_t t = now_ns(); t < stop; ++seq) {
                    fill(m, seq);
                    t = now_ns();
                    tx.send(m);
                    (void)rx.recv(echo);
                    const std::uint64_t t2 = now_ns();
                    samples.push_back(t2 - t);
                    if (echo.seq != seq || !content_ok(echo)) ++errors;
                    t = t2;
                }
                fill(m, kEndBit | seq);
                tx.send(m);
                (void)rx.recv(echo);
                if (echo.seq != (kEndBit | seq)) ++errors;
            });
        });
    });
    put_latency(out, samples);
    out["errors"] = static_cast<double>(errors + w.child.errors);
    return w;
}

// Pane only (16 B, lossless): the producer's time per successful push, the clock stopped while
// the ring is full. Includes filling the message (a few ns) and every room scan that found room.
inline Window parent_publish(ControlMap& ctl, Job job, const std::vector<int>& cpus, Metrics& out) {
    constexpr std::size_t S = 16;
    ParentLinks links;
    make_parent_links<S>(job, links, false);
    std::uint64_t pushed = 0, busy_ns = 0;
    Window w = run_window(ctl, job, links, cpus, [] {}, [&] {
        auto tx = links.pane_a->session().ring<Msg<S>>("bench").value();
        Msg<S> m;
        const std::uint64_t stop = now_ns() + static_cast<std::uint64_t>(job.seconds * 1e9);
        std::uint64_t t = now_ns();
        for (;;) {
            for (int i = 0; i < 64; ++i, ++pushed) {
                fill(m, pushed);
                if (tx.try_push(m) == pane::PushStatus::ok) continue;
                busy_ns += now_ns() - t;  // full: stop the clock until a push succeeds
                spin([&] { return tx.try_push(m) == pane::PushStatus::ok; }, "room in the ring");
                t = now_ns();
            }
            if (now_ns() >= stop) break;
        }
        busy_ns += now_ns() - t;
        fill(m, kEndBit | pushed);
        spin([&] { return tx.try_push(m) == pane::PushStatus::ok; }, "room for the end marker");
        spin([&] { return ctl->done.load() != 0; }, "the consumers to finish");
    });
    out["messages"] = static_cast<double>(pushed);
    out["ns_per_push"] = static_cast<double>(busy_ns) / static_cast<double>(pushed);
    out["errors"] = static_cast<double>(w.child.errors);
    return w;
}

// ---------------------------------------------------------------------------------------------
// Child bodies

// Receives the stream on job.consumers consumers (threads beyond the first), checks every
// message, and sets `done` once every consumer has seen the end. Every consumer subscribes
// before the window opens: a Pane consumer starts at the producer's position when it subscribes.
template <std::size_t S>
void child_stream(ControlMap& ctl, const Job& job) {
    ChildLinks links;
    open_child_links<S>(job, links, false);
    const unsigned n = job.consumers;
    std::vector<Tally> tallies(n);
    std::vector<std::string> failures(n);
    std::atomic<unsigned> settled{0};  // consumers subscribed (or failed)
    std::atomic<int> go{0};
    // Extra consumers are threads held at a futex until the window opens, so they neither spin
    // through the floor probe nor start late.
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < n; ++i) {
        threads.emplace_back([&, i] {
            bool subscribed = false;
            try {
                with_child_rx<S>(job, links, ctl.get(), i, [&](auto& rx) {
                    subscribed = true;
                    settled.fetch_add(1);
                    go.wait(0);
                    tallies[i] = stream_in<S>(rx);
                });
            } catch (const std::exception& e) {  // BenchError, or a Result misused (bad_result_access)
                failures[i] = e.what();
                if (!subscribed) settled.fetch_add(1);
            }
        });
    }
    try {
        with_child_rx<S>(job, links, ctl.get(), 0, [&](auto& rx) {
            spin([&] { return settled.load() == n - 1; }, "the consumer threads to subscribe");
            child_window(ctl, [&] {
                go.store(1);
                go.notify_all();
                tallies[0] = stream_in<S>(rx);
                for (auto& th : threads) th.join();
                threads.clear();
                for (const auto& f : failures) {
                    if (!f.empty()) throw BenchError(f);
                }
                // The report is complete before `done` (and long before `reported`).
                ChildReport& r = ctl->report;
                for (const Tally& t : tallies) {
                    r.received += t.received;
                    r.lost += t.lost;
                    r.errors += t.errors + (t.ended ? 0 : 1);
                }
                ctl->done.store(1);
            });
        });
    } catch (const std::exception& e) {
        // Here, before unwinding: the consumer threads may still be reading the region that
        // `links` maps, and would fault once its destructor unmapped it.
        child_fail(ctl, e.what());
    }
}

// Echoes every message back after checking it. Both ends exist before the window opens.
template <std::size_t S>
void child_echo(ControlMap& ctl, const Job& job) {
    ChildLinks links;
    open_child_links<S>(job, links, true);
    Tally tally;
    with_child_rx<S>(job, links, ctl.get(), 0, [&](auto& rx) {
        with_child_tx<S>(job, links, ctl.get(), [&](auto& tx) {
            child_window(ctl, [&] {
                Msg<S> m;
                while (!tally.ended) {
                    const std::uint64_t lost = rx.recv(m);
                    tally.take(m, lost);
                    tx.send(m);
                }
                ctl->report.received = tally.received;
                ctl->report.errors = tally.errors;
            });
        });
    });
}

}  // namespace bench
