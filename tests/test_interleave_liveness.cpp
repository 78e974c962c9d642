// SPDX-License-Identifier: MIT
// Interleaving tests of the protocol 1.4 liveness rules (see interleave.hpp for the explorer):
// a lease revoked while its holder reads, verifies or re-leases the frame; and a control sender
// that opens while the producer consumes its predecessor's last message (the step back that the
// producer allows once per sender claim), in every order of their schedule points.
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

constexpr auto kLimit = 100ms;

// A complete 16x8 frame of `fill`, begun at the producer time `now`; a stop between the pixels
// and the progress.
FrameStatus publish_at(FrameProducer& frames, std::uint8_t fill, Clock::time_point now) {
    FrameWriter w;
    FrameInfo info;
    info.width = 16;
    info.height = 8;
    const auto s = frames.begin(info, w, now);
    if (s != FrameStatus::ok) return s;
    std::memset(w.bytes().data(), fill, w.bytes().size());
    PANE_SCHEDULE_POINT("test.pixels_written");
    w.finish();
    return s;
}

}  // namespace

TEST_CASE("interleaving: a lease revoked while its holder reads, verifies and re-leases never verifies a torn frame",
          "[concurrency][interleave][liveness]") {
    // Two consumers hold the two buffers that are not the latest; the producer found them leased
    // at t0. Past the lease limit it revokes the holder of frame 1 while that holder finishes
    // reading it and acquires again (its acquire re-leases through the same handshake).
    struct State {
        map::Mapping region;
        std::optional<ProducerSession> producer;
        std::optional<ConsumerSession> a_session, b_session;
        std::optional<FrameProducer> fp;
        std::optional<FrameConsumer> a, b;
        FrameView view, again;
        Copied first, second;
        FrameStatus published = FrameStatus::no_frame;
        FrameStatus acquired = FrameStatus::no_frame;
    };
    RegionSpec spec;
    spec.max_consumers = 2;
    spec.remote_consumer_slots = 0;
    spec.consumer_timeout = 300ms;
    spec.add(FrameSpec{"frames", 16, 8, 4, 3, 4});
    ProducerOptions options;
    options.frame_lease_limit = kLimit;
    const auto t0 = Clock::now();
    auto outcomes = std::make_shared<Outcomes>();
    for (const bool past_limit : {true, false}) {
        INFO((past_limit ? "past the limit" : "at the limit"));
        const auto make_run = [&] {
            auto s = std::make_shared<State>();
            s->region = pane_test::memory_region(spec);
            s->producer.emplace(std::move(ProducerSession::create(s->region.bytes(), spec, options).value()));
            s->fp.emplace(s->producer->frames("frames").value());
            s->a_session.emplace(std::move(ConsumerSession::attach(s->region.bytes()).value()));
            s->b_session.emplace(std::move(ConsumerSession::attach(s->region.bytes()).value()));
            s->a.emplace(s->a_session->frames("frames").value());
            s->b.emplace(s->b_session->frames("frames").value());
            FrameView b_view;
            REQUIRE(publish_at(*s->fp, 1, t0) == FrameStatus::ok);
            REQUIRE(s->a->acquire_latest(s->view) == FrameStatus::ok);
            REQUIRE(publish_at(*s->fp, 2, t0) == FrameStatus::ok);
            REQUIRE(s->b->acquire_latest(b_view) == FrameStatus::ok);
            REQUIRE(publish_at(*s->fp, 3, t0) == FrameStatus::ok);
            REQUIRE(publish_at(*s->fp, 4, t0) == FrameStatus::no_free_buffer);  // both first seen at t0
            s->first.fill = 1;
            InterleaveRun run;
            const auto when = past_limit ? t0 + kLimit + 1ms : t0 + kLimit;
            run.threads.push_back([s, when] { s->published = publish_at(*s->fp, 4, when); });
            run.threads.push_back([s] {
                copy_and_verify(s->view, s->first);
                s->acquired = s->a->acquire_latest(s->again);
                if (s->acquired != FrameStatus::ok) return;
                s->second.fill = static_cast<std::uint8_t>(s->again.descriptor().serial - detail::first_serial(1));
                copy_and_verify(s->again, s->second);
            });
            run.check = [s, outcomes, past_limit] {
                const std::string key = std::string(past_limit ? "past" : "at") + " limit: publish " +
                                        std::to_string(static_cast<int>(s->published)) + ", revoked " +
                                        std::to_string(s->fp->leases_revoked()) + ", verify " +
                                        std::to_string(static_cast<int>(s->first.verified));
                ++(*outcomes)[key];
                if (auto e = check_copy(s->first); !e.empty()) return e;
                if (auto e = check_copy(s->second); !e.empty()) return "after re-acquiring: " + e;
                if (!past_limit) {
                    // Within the limit a lease is never revoked: a frame is published only if its
                    // holder moved its lease to the latest frame first, and nothing is torn.
                    if (s->fp->leases_revoked() != 0) return std::string("revoked within the limit");
                    if (s->published == FrameStatus::ok && s->acquired != FrameStatus::ok) {
                        return std::string("a leased buffer taken within the limit");
                    }
                    if (s->first.verified != FrameStatus::ok) return std::string("a lease within the limit lost its frame");
                    return std::string();
                }
                if (s->published != FrameStatus::ok) return "no frame past the limit: " + std::to_string(static_cast<int>(s->published));
                // Revoked, unless the holder moved its lease to the latest frame first (its
                // re-acquire), which freed the buffer: then nothing needed revoking.
                if (s->fp->leases_revoked() == 0 && s->acquired != FrameStatus::ok) {
                    return std::string("the buffer was taken without a revocation while still leased");
                }
                if (s->fp->leases_revoked() > 1) return std::string("revoked twice");
                return std::string();
            };
            return run;
        };
        check_every_order(explore_interleavings(make_run, bounded(3)), *outcomes, {});
    }
    // The orders reached both sides of the race: the holder verified its frame before the
    // revocation touched it, and after (reused).
    const auto key = [](const char* limit, FrameStatus p, int revoked, FrameStatus v) {
        return std::string(limit) + " limit: publish " + std::to_string(static_cast<int>(p)) + ", revoked " +
               std::to_string(revoked) + ", verify " + std::to_string(static_cast<int>(v));
    };
    check_every_order(pane_test::InterleaveReport{0, true, {}, {}, {}}, *outcomes,
                      {key("past", FrameStatus::ok, 1, FrameStatus::ok), key("past", FrameStatus::ok, 1, FrameStatus::reused),
                       key("past", FrameStatus::ok, 0, FrameStatus::ok),
                       key("at", FrameStatus::no_free_buffer, 0, FrameStatus::ok),
                       key("at", FrameStatus::ok, 0, FrameStatus::ok)});
}

TEST_CASE("interleaving: a control sender opening while the producer reads its predecessor's last message: each message once",
          "[concurrency][interleave][liveness]") {
    // The race the producer's one step back exists for (protocol 13.7 step 4.3): sender A leaves
    // a message; while the producer reads it, A leaves and B opens the ring in the same slot and
    // sends its own. In every order: A's message at most once, B's exactly once (B may have to
    // retry once while the producer has not followed it back), nothing twice.
    struct State {
        map::Mapping region;
        std::optional<ProducerSession> producer;
        std::optional<ControlReceiver> rx;
        std::optional<ConsumerSession> a_session, b_session;
        std::optional<ControlSender> a, b;
        std::vector<std::pair<std::uint32_t, std::uint32_t>> received;  // window sizes, in order
        ControlStatus b_sent = ControlStatus::not_attached;
    };
    RegionSpec spec;
    spec.max_consumers = 1;
    spec.remote_consumer_slots = 0;
    spec.consumer_timeout = 300ms;
    spec.add(ControlSpec{"control", 4, 64});
    auto outcomes = std::make_shared<Outcomes>();
    const auto make_run = [&] {
        auto s = std::make_shared<State>();
        s->region = pane_test::memory_region(spec);
        s->producer.emplace(std::move(ProducerSession::create(s->region.bytes(), spec).value()));
        s->rx.emplace(s->producer->control("control").value());
        s->a_session.emplace(std::move(ConsumerSession::attach(s->region.bytes()).value()));
        s->a.emplace(s->a_session->control("control").value());
        REQUIRE(s->a->send_window_size(1, 1) == ControlStatus::ok);
        const auto drain = [s] {
            ControlMessage m;
            while (s->rx->try_receive(m) == ControlStatus::ok) s->received.emplace_back(m.window.width, m.window.height);
        };
        InterleaveRun run;
        run.threads.push_back([s] {
            ControlMessage m;
            for (int i = 0; i < 2; ++i) {
                if (s->rx->try_receive(m) == ControlStatus::ok) s->received.emplace_back(m.window.width, m.window.height);
            }
        });
        run.threads.push_back([s] {
            s->a.reset();
            s->a_session->detach();
            s->b_session.emplace(std::move(ConsumerSession::attach(s->region.bytes()).value()));
            s->b.emplace(s->b_session->control("control").value());
            s->b_sent = s->b->send_window_size(2, 2);
        });
        run.check = [s, outcomes, drain] {
            drain();
            if (s->b_sent == ControlStatus::full) {  // B started one behind: the producer follows it back first
                ++(*outcomes)["B started one behind"];
                s->b_sent = s->b->send_window_size(2, 2);
                drain();
            }
            if (s->b_sent != ControlStatus::ok) return "B's send: " + std::to_string(static_cast<int>(s->b_sent));
            std::map<std::uint32_t, int> count;
            for (const auto& [w, h] : s->received) {
                if (w != h) return "a message mixing both senders' bytes: " + std::to_string(w) + "x" + std::to_string(h);
                ++count[w];
            }
            ++(*outcomes)[count[1] == 1 ? "A's message delivered" : "A's message discarded"];
            if (count[1] > 1) return std::string("A's message delivered twice");
            if (count[2] != 1) return "B's message delivered " + std::to_string(count[2]) + " times";
            if (s->rx->replays_rejected() != 0) return std::string("an honest message taken for a replay");
            return std::string();
        };
        return run;
    };
    check_every_order(explore_interleavings(make_run, bounded(3)), *outcomes,
                      {"A's message delivered", "A's message discarded", "B started one behind"});
}
