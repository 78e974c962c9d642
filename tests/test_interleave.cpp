// SPDX-License-Identifier: MIT
// Deterministic interleaving tests of Pane's handshakes: the producer and a consumer run in two
// threads that stop at the library's schedule points, and the explorer (interleave.hpp) drives
// them through every order of those stops (or every order with at most k preemptions, where the
// full tree is too large), each from a fresh region. What each test asserts holds for every
// order it ran; a failure comes back with its exact, replayable schedule. The handshakes:
//   subscribe during publish (lossless), reap during read, epoch change during read and during
//   verify(), lease against buffer reuse, consumer detach during a lossless push.
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "catch.hpp"
#include "interleave.hpp"
#include "interleave_checks.hpp"
#include "support.hpp"

using namespace pane;
using namespace std::chrono_literals;
using namespace pane_test;  // the explorer and the checks in interleave_checks.hpp

namespace {

struct Msg {
    std::uint64_t seq;
    std::uint64_t tag;  // which producer epoch published it
};

constexpr auto kTimeout = 300ms;

// What a consumer saw, call by call, for the checks (plain data: the explorer's hand-off orders
// every step after the one before).
struct Pop {
    PopStatus status;
    std::uint64_t lost;
    Msg msg;
};

std::string describe_pops(const std::vector<Pop>& pops) {
    std::ostringstream out;
    for (const Pop& p : pops) {
        out << "[status " << static_cast<int>(p.status) << " lost " << p.lost;
        if (p.status == PopStatus::ok) out << " seq " << p.msg.seq << " tag " << p.msg.tag;
        out << "] ";
    }
    return out.str();
}

// Everything a consumer reads from a lossless ring in one attachment: in order from where it
// started, nothing lost, and, once it lost its standing, nothing but that status.
std::string check_lossless_stream(const std::vector<Pop>& pops, std::uint64_t tag) {
    std::optional<std::uint64_t> next;
    std::optional<PopStatus> ended;
    for (const Pop& p : pops) {
        if (ended && p.status != *ended) return "status after losing standing: " + describe_pops(pops);
        if (p.lost != 0) return "lossless ring reported a loss: " + describe_pops(pops);
        switch (p.status) {
            case PopStatus::ok:
                if (p.msg.tag != tag) return "a message of another epoch returned as ok: " + describe_pops(pops);
                if (next && p.msg.seq != *next) return "out of order or a gap: " + describe_pops(pops);
                next = p.msg.seq + 1;
                break;
            case PopStatus::empty: break;
            case PopStatus::epoch_changed:
            case PopStatus::slot_lost: ended = p.status; break;
            default: return "unexpected status: " + describe_pops(pops);
        }
    }
    return {};
}

RegionSpec ring_spec(std::uint32_t capacity, std::uint32_t consumers = 1) {
    RegionSpec spec;
    spec.max_consumers = consumers;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.consumer_timeout = kTimeout;
    spec.add(ring_of<Msg>("r", capacity, RingPolicy::lossless));
    return spec;
}

// A fresh region with a producer and one attached consumer session: every run starts here.
struct Attached {
    map::Mapping region;
    std::optional<ProducerSession> producer;
    std::optional<ConsumerSession> session;
    void open(const RegionSpec& spec) {
        region = pane_test::memory_region(spec);
        producer.emplace(std::move(ProducerSession::create(region.bytes(), spec).value()));
        session.emplace(std::move(ConsumerSession::attach(region.bytes()).value()));
    }
};

ProducerOptions restart_now() {
    ProducerOptions o;
    o.take_over = true;
    o.reinit_grace = 0ms;
    return o;
}

}  // namespace

TEST_CASE("interleaving: a lossless subscriber never loses its first messages, in any order of subscribe and publish",
          "[concurrency][interleave]") {
    // The race (defect 3): the subscriber publishes its claim with a stale read position, the
    // producer's room scan sees the claim with that position more than a ring behind and, if it
    // ignored it, takes room that overwrites where the subscriber then starts. Finding it takes
    // four preemptions: load write_pos | publish a ring | claim, re-read | publish, scan, lap | read.
    struct State : Attached {
        std::optional<RingProducer<Msg>> tx;
        std::optional<RingConsumer<Msg>> rx;
        std::vector<Pop> pops;
        std::uint64_t pushed = 0;
    };
    const RegionSpec spec = ring_spec(2);
    const auto make_run = [&] {
        auto s = std::make_shared<State>();
        s->open(spec);
        s->tx.emplace(s->producer->ring<Msg>("r").value());
        InterleaveRun run;
        run.threads.push_back([s] {  // producer: a bounded number of attempts
            for (int attempt = 0; attempt < 6; ++attempt) {
                if (s->tx->try_push(Msg{s->pushed, 1}) == PushStatus::ok) ++s->pushed;
            }
        });
        run.threads.push_back([s] {  // consumer: subscribe, then read what is there
            s->rx.emplace(s->session->ring<Msg>("r").value());
            for (int i = 0; i < 2; ++i) {
                Msg m{};
                const auto r = s->rx->try_pop(m);
                s->pops.push_back({r.status, r.lost, m});
            }
        });
        run.check = [s] {
            // Drain what is left (no schedule points on this thread): the whole stream from the
            // subscriber's start must be there, through the last message pushed.
            for (;;) {
                Msg m{};
                const auto r = s->rx->try_pop(m);
                s->pops.push_back({r.status, r.lost, m});
                if (r.status != PopStatus::ok) break;
            }
            if (auto e = check_lossless_stream(s->pops, 1); !e.empty()) return e;
            std::uint64_t last = 0;
            bool any = false;
            for (const Pop& p : s->pops) {
                if (p.status == PopStatus::ok) last = p.msg.seq, any = true;
            }
            if (any && last + 1 != s->pushed) return "did not end on the last message pushed: " + describe_pops(s->pops);
            return std::string();
        };
        return run;
    };
    check_every_order(explore_interleavings(make_run, bounded(4)));
}

TEST_CASE("interleaving: a reap during a read never yields a gap or another holder's data", "[concurrency][interleave]") {
    // Defect 4's race: the producer judges the consumer silent on its clock while the consumer
    // is reading. Either the consumer's read moved its heartbeat before the judgement (it stays),
    // or it is reaped and its next call says slot_lost; a lossless stream never has a hole.
    struct State : Attached {
        std::optional<RingProducer<Msg>> tx;
        std::optional<RingConsumer<Msg>> rx;
        std::vector<Pop> pops;
        Clock::time_point t0;
        std::uint64_t pushed = 2;
    };
    const RegionSpec spec = ring_spec(2);
    auto outcomes = std::make_shared<Outcomes>();
    const auto make_run = [&] {
        auto s = std::make_shared<State>();
        s->open(spec);
        s->tx.emplace(s->producer->ring<Msg>("r").value());
        s->rx.emplace(s->session->ring<Msg>("r").value());
        s->t0 = Clock::now();
        s->producer->tick(s->t0);  // the roster starts the consumer's clock
        for (std::uint64_t i = 0; i < 2; ++i) REQUIRE(s->tx->try_push(Msg{i, 1}) == PushStatus::ok);
        InterleaveRun run;
        run.threads.push_back([s] {
            s->producer->tick(s->t0 + 2 * kTimeout);  // reaps unless the consumer moved meanwhile
            for (int attempt = 0; attempt < 2; ++attempt) {
                if (s->tx->try_push(Msg{s->pushed, 1}) == PushStatus::ok) ++s->pushed;
            }
        });
        run.threads.push_back([s] {
            for (int i = 0; i < 3; ++i) {
                Msg m{};
                const auto r = s->rx->try_pop(m);
                s->pops.push_back({r.status, r.lost, m});
            }
        });
        run.check = [s, outcomes] {
            if (auto e = check_lossless_stream(s->pops, 1); !e.empty()) return e;
            if (!s->pops.empty() && s->pops.front().status == PopStatus::ok && s->pops.front().msg.seq != 0) {
                return "the first message is not 0: " + describe_pops(s->pops);
            }
            // Reaped: every later call says so. Not reaped: the ring held, nothing overwritten.
            const bool reaped = s->producer->reaped_total() == 1;
            ++(*outcomes)[reaped ? "reaped" : "kept alive by its reads"];
            Msg m{};
            const auto after = s->rx->try_pop(m).status;
            if (reaped && after != PopStatus::slot_lost) return std::string("reaped, yet the handle does not say so");
            if (!reaped && after == PopStatus::slot_lost) return std::string("slot_lost without a reap");
            for (const Pop& p : s->pops) {
                if (p.status == PopStatus::ok && reaped) ++(*outcomes)["read, then reaped"];
            }
            return std::string();
        };
        return run;
    };
    check_every_order(explore_interleavings(make_run, bounded(3)), *outcomes,
                      {"reaped", "kept alive by its reads", "read, then reaped"});
}

TEST_CASE("interleaving: a re-initialisation during a read never passes the new epoch's data as the old one's",
          "[concurrency][interleave]") {
    // Defect 1's race: positions restart at a re-initialisation, so the new epoch's messages sit
    // exactly where the old handle reads next.
    struct State : Attached {
        std::optional<RingConsumer<Msg>> rx;
        std::vector<Pop> pops;
    };
    const RegionSpec spec = ring_spec(4);
    auto outcomes = std::make_shared<Outcomes>();
    const auto make_run = [&] {
        auto s = std::make_shared<State>();
        s->open(spec);
        s->rx.emplace(s->session->ring<Msg>("r").value());
        {
            auto tx = s->producer->ring<Msg>("r").value();
            REQUIRE(tx.try_push(Msg{0, 1}) == PushStatus::ok);
        }
        InterleaveRun run;
        run.threads.push_back([s, &spec] {
            s->producer.reset();
            s->producer.emplace(std::move(ProducerSession::create(s->region.bytes(), spec, restart_now()).value()));
            auto tx = s->producer->ring<Msg>("r").value();
            for (std::uint64_t i = 0; i < 3; ++i) (void)tx.try_push(Msg{i, 2});
        });
        run.threads.push_back([s] {
            for (int i = 0; i < 3; ++i) {
                Msg m{};
                const auto r = s->rx->try_pop(m);
                s->pops.push_back({r.status, r.lost, m});
            }
        });
        run.check = [s, outcomes] {
            if (auto e = check_lossless_stream(s->pops, 1); !e.empty()) return e;
            Msg m{};
            if (s->rx->try_pop(m).status != PopStatus::epoch_changed) return std::string("the old handle did not notice");
            ++(*outcomes)[!s->pops.empty() && s->pops.front().status == PopStatus::ok ? "old message, then epoch_changed"
                                                                                       : "epoch_changed first"];
            return std::string();
        };
        return run;
    };
    check_every_order(explore_interleavings(make_run, bounded(3)), *outcomes,
                      {"old message, then epoch_changed", "epoch_changed first"});
}

namespace {

// A display region: one frame channel of three buffers.
RegionSpec frame_spec() {
    RegionSpec spec;
    spec.max_consumers = 1;
    spec.remote_consumer_slots = 0;  // all consumers here share one kernel: no sides
    spec.consumer_timeout = kTimeout;
    spec.add(FrameSpec{"frames", 16, 8, 4, 3, 4});
    return spec;
}


}  // namespace

TEST_CASE("interleaving: a frame read across a re-initialisation never verifies ok with the new epoch's pixels",
          "[concurrency][interleave]") {
    // Defect 2's race: the new producer writes its first frame into the very buffer the old view
    // reads, with a generation that (before the fix) restarted at the same value.
    struct State : Attached {
        std::optional<FrameConsumer> frames;
        FrameView view;
        Copied copy;
    };
    const RegionSpec spec = frame_spec();
    auto outcomes = std::make_shared<Outcomes>();
    const auto make_run = [&] {
        auto s = std::make_shared<State>();
        s->open(spec);
        s->frames.emplace(s->session->frames("frames").value());
        {
            auto fp = s->producer->frames("frames").value();
            REQUIRE(pane_test::publish_frame(fp, 1) == FrameStatus::ok);
        }
        REQUIRE(s->frames->acquire_latest(s->view) == FrameStatus::ok);
        s->copy.fill = 1;
        InterleaveRun run;
        run.threads.push_back([s, &spec] {
            s->producer.reset();
            s->producer.emplace(std::move(ProducerSession::create(s->region.bytes(), spec, restart_now()).value()));
            auto fp = s->producer->frames("frames").value();
            (void)pane_test::publish_frame(fp, 2);  // the same buffer index as the old frame
        });
        run.threads.push_back([s] { copy_and_verify(s->view, s->copy); });
        run.check = [s, outcomes] {
            bool foreign = false;
            for (const std::byte b : s->copy.bytes) foreign |= b != std::byte{1};
            ++(*outcomes)["verify " + std::to_string(static_cast<int>(s->copy.verified)) +
                          (foreign ? ", new pixels read" : ", old pixels read")];
            return check_copy(s->copy);
        };
        return run;
    };
    // Both: reads that finished before the restart verify ok; reads that took the new epoch's
    // pixels verify epoch_changed.
    const auto verified = [](FrameStatus s, const char* pixels) {
        return "verify " + std::to_string(static_cast<int>(s)) + ", " + pixels + " pixels read";
    };
    check_every_order(explore_interleavings(make_run, bounded(-1)), *outcomes,
                      {verified(FrameStatus::ok, "old"), verified(FrameStatus::epoch_changed, "new")});
}

TEST_CASE("interleaving: the lease handshake never lets a leased buffer be reused under its reader",
          "[concurrency][interleave]") {
    // The Dekker handshake between the consumer's lease and the producer's reuse intent, with
    // the producer publishing three frames so that every buffer comes up for reuse.
    struct State : Attached {
        std::optional<FrameProducer> fp;
        std::optional<FrameConsumer> frames;
        FrameView view;
        FrameStatus acquired = FrameStatus::no_frame;
        Copied copy;
    };
    const RegionSpec spec = frame_spec();
    auto outcomes = std::make_shared<Outcomes>();
    const auto make_run = [&] {
        auto s = std::make_shared<State>();
        s->open(spec);
        s->fp.emplace(s->producer->frames("frames").value());
        s->frames.emplace(s->session->frames("frames").value());
        s->producer->tick();
        REQUIRE(pane_test::publish_frame(*s->fp, 1) == FrameStatus::ok);
        InterleaveRun run;
        run.threads.push_back([s] {
            for (std::uint8_t fill = 2; fill <= 4; ++fill) (void)pane_test::publish_frame(*s->fp, fill);
        });
        run.threads.push_back([s] {
            s->acquired = s->frames->acquire_latest(s->view);
            if (s->acquired != FrameStatus::ok) return;
            s->copy.fill = static_cast<std::uint8_t>(s->view.descriptor().serial - detail::first_serial(1));
            copy_and_verify(s->view, s->copy);
        });
        run.check = [s, outcomes] {
            ++(*outcomes)["acquire " + std::to_string(static_cast<int>(s->acquired))];
            // A lease attempt that lost to the producer's reuse (superseded) or to a newer frame
            // is retried inside acquire_latest and counted as skipped.
            if (s->acquired == FrameStatus::ok && s->frames->frames_skipped() > 0) ++(*outcomes)["retried, then leased"];
            if (s->fp->frames_dropped() > 0) ++(*outcomes)["producer dropped a frame (all buffers busy)"];
            if (s->acquired != FrameStatus::ok && s->acquired != FrameStatus::superseded &&
                s->acquired != FrameStatus::no_frame) {
                return "acquire_latest: status " + std::to_string(static_cast<int>(s->acquired));
            }
            // Only a reaped consumer may see its buffer reused; this one is alive.
            if (s->acquired == FrameStatus::ok && s->copy.verified != FrameStatus::ok) {
                return "a live consumer's leased buffer was reused: verify " +
                       std::to_string(static_cast<int>(s->copy.verified));
            }
            return check_copy(s->copy);
        };
        return run;
    };
    check_every_order(explore_interleavings(make_run, bounded(3)), *outcomes,
                      {"acquire " + std::to_string(static_cast<int>(FrameStatus::ok)), "retried, then leased"});
}

TEST_CASE("interleaving: a consumer detaching during a lossless push frees the ring and costs the others nothing",
          "[concurrency][interleave]") {
    struct State {
        map::Mapping region;
        std::optional<ProducerSession> producer;
        std::optional<ConsumerSession> leaving_session;
        std::optional<ConsumerSession> staying_session;
        std::optional<RingProducer<Msg>> tx;
        std::optional<RingConsumer<Msg>> leaving;
        std::optional<RingConsumer<Msg>> staying;
        std::uint64_t pushed = 0;
    };
    const RegionSpec spec = ring_spec(2, 2);
    const auto make_run = [&] {
        auto s = std::make_shared<State>();
        s->region = pane_test::memory_region(spec);
        s->producer.emplace(std::move(ProducerSession::create(s->region.bytes(), spec).value()));
        s->leaving_session.emplace(std::move(ConsumerSession::attach(s->region.bytes()).value()));
        s->staying_session.emplace(std::move(ConsumerSession::attach(s->region.bytes()).value()));
        s->tx.emplace(s->producer->ring<Msg>("r").value());
        s->leaving.emplace(s->leaving_session->ring<Msg>("r").value());
        s->staying.emplace(s->staying_session->ring<Msg>("r").value());
        for (std::uint64_t i = 0; i < 2; ++i) REQUIRE(s->tx->try_push(Msg{i, 1}) == PushStatus::ok);
        Msg m{};
        for (int i = 0; i < 2; ++i) REQUIRE(s->staying->try_pop(m).status == PopStatus::ok);  // only "leaving" holds it
        InterleaveRun run;
        run.threads.push_back([s] {
            for (int attempt = 0; attempt < 4; ++attempt) {
                if (s->tx->try_push(Msg{2 + s->pushed, 1}) == PushStatus::ok) ++s->pushed;
            }
        });
        run.threads.push_back([s] {
            s->leaving.reset();  // unsubscribe
            s->leaving_session->detach();
        });
        run.check = [s] {
            // Once it left, the ring is free: one more attempt must succeed.
            if (s->pushed < 2 && s->tx->try_push(Msg{2 + s->pushed, 1}) == PushStatus::ok) ++s->pushed;
            if (s->pushed == 0) return std::string("the ring stayed held after the holder detached");
            std::vector<Pop> pops;
            for (;;) {
                Msg m{};
                const auto r = s->staying->try_pop(m);
                if (r.status != PopStatus::ok) break;
                pops.push_back({r.status, r.lost, m});
            }
            if (auto e = check_lossless_stream(pops, 1); !e.empty()) return e;
            if (pops.size() != s->pushed || (!pops.empty() && pops.front().msg.seq != 2)) {
                return "the staying consumer did not get every message: " + describe_pops(pops);
            }
            return std::string();
        };
        return run;
    };
    check_every_order(explore_interleavings(make_run, bounded(-1)));
}

TEST_CASE("interleaving: a frame descriptor read before write_pos announces it never breaks the channel",
          "[concurrency][interleave]") {
    // The producer completes a descriptor slot, then moves write_pos. A consumer polling the
    // slot (latest_ready_approx does) can take it in between, and so stand one position past
    // write_pos. Before the fix acquire_latest read that as "write_pos behind us: hostile" and
    // marked the channel broken for the epoch (seen once in a loaded QEMU run, where the guest's
    // vCPU was descheduled between the two stores).
    struct State : Attached {
        std::optional<FrameProducer> fp;
        std::optional<FrameConsumer> frames;
        FrameView view;
        std::vector<FrameStatus> acquired;
    };
    const RegionSpec spec = frame_spec();
    auto outcomes = std::make_shared<Outcomes>();
    const auto make_run = [&] {
        auto s = std::make_shared<State>();
        s->open(spec);
        s->fp.emplace(s->producer->frames("frames").value());
        s->frames.emplace(s->session->frames("frames").value());
        s->producer->tick();
        REQUIRE(pane_test::publish_frame(*s->fp, 1) == FrameStatus::ok);
        InterleaveRun run;
        run.threads.push_back([s] {
            for (std::uint8_t fill = 2; fill <= 3; ++fill) (void)pane_test::publish_frame(*s->fp, fill);
        });
        run.threads.push_back([s] {
            for (int i = 0; i < 3; ++i) s->acquired.push_back(s->frames->acquire_latest(s->view));
        });
        run.check = [s, outcomes] {
            std::string statuses;
            for (const FrameStatus a : s->acquired) {
                statuses += std::to_string(static_cast<int>(a)) + " ";
                if (a != FrameStatus::ok && a != FrameStatus::no_frame && a != FrameStatus::superseded) {
                    return "acquire_latest: status " + statuses + "(" + std::string(s->frames->broken_reason()) + ")";
                }
            }
            ++(*outcomes)["acquired " + statuses];
            if (s->frames->frames_read() == 3) ++(*outcomes)["read all three frames"];
            return std::string{};
        };
        return run;
    };
    check_every_order(explore_interleavings(make_run, bounded(2)), *outcomes, {"read all three frames"});
}
