// SPDX-License-Identifier: MIT
// Writes the committed seed corpus, tests/fuzz/corpus/<target>/<name>: for each target an empty
// input (the valid region, every operation once) and a few inputs that forge one field the target
// reads, so the fuzzer starts next to the checks that matter. Field offsets come from the
// harness's own layout, so the seeds follow the layout when it changes. Usage:
//   pane-fuzz-seeds DIR     (DIR is usually tests/fuzz/corpus; existing files are overwritten)
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_harness.hpp"

namespace {

using pane_fuzz::Target;
using Input = std::vector<std::uint8_t>;

// A patch of `value`'s low `n` bytes at `field`, inside the target's window.
void forge(Input& in, Target t, const char* field, std::uint64_t value, std::size_t n = 8) {
    const long at = pane_fuzz::window_offset(t, field);
    if (at < 0) {
        std::fprintf(stderr, "make_seeds: %s is not in %s's window\n", field, std::string(pane_fuzz::target_name(t)).c_str());
        std::exit(1);
    }
    pane_fuzz::add_patch(in, static_cast<std::uint32_t>(at), &value, n);
}

struct Seed {
    Target target;
    const char* name;
    Input input;
};

std::vector<Seed> seeds() {
    std::vector<Seed> out;
    for (const Target t : pane_fuzz::kTargets) out.push_back({t, "valid", {}});
    const auto add = [&](Target t, const char* name, auto&& build) {
        Input in;
        build(in);
        out.push_back({t, name, std::move(in)});
    };
    add(Target::attach, "version", [](Input& in) { forge(in, Target::attach, "header.version_major", 2, 2); });
    add(Target::attach, "region-size", [](Input& in) { forge(in, Target::attach, "header.region_size", 1ull << 40); });
    add(Target::attach, "consumers", [](Input& in) { forge(in, Target::attach, "header.max_consumers", 65, 4); });
    add(Target::attach, "table-offset", [](Input& in) { forge(in, Target::attach, "header.channel_table_offset", 64); });
    add(Target::attach, "slot-offset", [](Input& in) { forge(in, Target::attach, "header.slot_table_offset", 0xFFFFFFFFFFFFFFC0ull); });
    add(Target::attach, "local-slots", [](Input& in) {
        forge(in, Target::attach, "header.flags", 1, 4);
        forge(in, Target::attach, "header.local_slots", 9, 4);
    });
    add(Target::attach, "entry-offset", [](Input& in) { forge(in, Target::attach, "entry0.offset", 0xFFFFFFFFFFFFF000ull); });
    add(Target::attach, "entry-size", [](Input& in) { forge(in, Target::attach, "entry0.size", 1ull << 33); });
    add(Target::attach, "frames-capacity", [](Input& in) { forge(in, Target::attach, "entry2.capacity", 64, 4); });
    add(Target::attach, "name-unterminated", [](Input& in) {
        const char name[24] = {'s', 'h', 'a', 'p', 'e', 'x', 'x', 'x', 'x', 'x', 'x', 'x',
                               'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'};
        pane_fuzz::add_patch(in, static_cast<std::uint32_t>(pane_fuzz::window_offset(Target::attach, "entry3.name")), name, 24);
    });
    add(Target::attach, "stride", [](Input& in) { forge(in, Target::attach, "events.slot_stride", 4096, 4); });
    add(Target::attach, "frames-buffer-size", [](Input& in) { forge(in, Target::attach, "frames.buffer_size", 1ull << 32); });
    add(Target::attach, "shape-capacity", [](Input& in) { forge(in, Target::attach, "shape.capacity", 0xFFFFFFF8u, 4); });
    add(Target::attach, "control-capacity", [](Input& in) { forge(in, Target::attach, "control.capacity", 3, 4); });
    add(Target::attach, "claims-held", [](Input& in) {
        for (const char* f : {"slot0.claim", "slot1.claim"}) forge(in, Target::attach, f, 0x7FFFFFFFFFFFFFFFull);
    });

    add(Target::ring, "length", [](Input& in) { forge(in, Target::ring, "log.slot1.length", 0xFFFFFFFFu, 4); });
    add(Target::ring, "events-length", [](Input& in) { forge(in, Target::ring, "events.slot0.length", 25, 4); });
    add(Target::ring, "write-pos-behind", [](Input& in) { forge(in, Target::ring, "log.write_pos", 3); });
    add(Target::ring, "write-pos-ahead", [](Input& in) { forge(in, Target::ring, "events.write_pos", 1ull << 63); });
    add(Target::ring, "seq-ahead", [](Input& in) { forge(in, Target::ring, "log.slot1.seq", 0x100000000ull); });
    add(Target::ring, "initial-position", [](Input& in) { forge(in, Target::ring, "log.initial_position", 0); });
    add(Target::ring, "epoch", [](Input& in) {
        forge(in, Target::ring, "header.epoch", 1);
        pane_fuzz::add_step(in, 0);
    });
    add(Target::ring, "slot-reaped", [](Input& in) {
        pane_fuzz::add_step(in, 0);
        forge(in, Target::ring, "slot0.reaped_claim", 1);
        pane_fuzz::add_step(in, 1);
    });

    add(Target::frames, "buffer-index", [](Input& in) {
        pane_fuzz::add_step(in, 5);
        forge(in, Target::frames, "frames.desc1", 0, 8);
    });
    add(Target::frames, "generation", [](Input& in) { forge(in, Target::frames, "frames.state0.generation", 0); });
    add(Target::frames, "rows-ready", [](Input& in) { forge(in, Target::frames, "frames.state1.rows_ready", 0xFFFFFFFFu, 4); });
    add(Target::frames, "desc-write-pos", [](Input& in) { forge(in, Target::frames, "frames.desc.write_pos", 1000); });
    add(Target::frames, "lease-other", [](Input& in) {
        forge(in, Target::frames, "frames.state1.rows_ready", 3, 4);
        pane_fuzz::add_step(in, 0);
        pane_fuzz::add_step(in, 2);
    });

    add(Target::cursor, "shape-header", [](Input& in) {
        const std::uint32_t h[8] = {0, 0, 1, 2000, 2000, 8000, 0, 0};
        pane_fuzz::add_patch(in, static_cast<std::uint32_t>(pane_fuzz::window_offset(Target::cursor, "shape.header")), h, sizeof(h));
    });
    add(Target::cursor, "shape-seq-odd", [](Input& in) { forge(in, Target::cursor, "shape.seq", 7); });
    add(Target::cursor, "visible", [](Input& in) { forge(in, Target::cursor, "pos.visible", 2, 4); });
    add(Target::cursor, "pos-seq", [](Input& in) { forge(in, Target::cursor, "pos.seq", 0xFFFFFFFFFFFFFFFEull); });

    add(Target::producer, "heartbeat-stuck", [](Input& in) {
        pane_fuzz::add_step(in, 0);
        forge(in, Target::producer, "slot1.heartbeat", 0);
        pane_fuzz::add_step(in, 1);
    });
    add(Target::producer, "cursor-behind", [](Input& in) { forge(in, Target::producer, "events.cursor1.read_pos", 1ull << 62); });
    add(Target::producer, "cursor-claim", [](Input& in) { forge(in, Target::producer, "events.cursor1.claim", 3); });
    add(Target::producer, "lease-all", [](Input& in) { forge(in, Target::producer, "frames.lease1.lease", (1ull << 6) | 1); });
    add(Target::producer, "slot-state", [](Input& in) { forge(in, Target::producer, "slot1.state", 7, 4); });
    add(Target::producer, "host-id", [](Input& in) { forge(in, Target::producer, "slot1.host_id", 1); });
    add(Target::producer, "reinit-header", [](Input& in) {
        forge(in, Target::producer, "header.slot_table_offset", 0x1000);
        forge(in, Target::producer, "header.max_consumers", 64, 4);
        pane_fuzz::add_step(in, 8);
    });

    add(Target::control, "write-pos-far", [](Input& in) { forge(in, Target::control, "control.ring0.write_pos", 1000); });
    add(Target::control, "write-pos-back", [](Input& in) {
        pane_fuzz::add_step(in, 0);
        forge(in, Target::control, "control.ring0.write_pos", 0);
    });
    add(Target::control, "read-pos-back", [](Input& in) {
        pane_fuzz::add_step(in, 0);
        forge(in, Target::control, "control.ring0.read_pos", 0);
        pane_fuzz::add_step(in, 3);
    });
    add(Target::control, "body-size", [](Input& in) {
        const std::uint64_t slot[3] = {2, 60, (std::uint64_t{0} << 32) | 1};  // seq complete(0), length 60, type 1
        pane_fuzz::add_patch(in, static_cast<std::uint32_t>(pane_fuzz::window_offset(Target::control, "control.ring0.slot0")), slot, sizeof(slot));
    });
    add(Target::control, "claim", [](Input& in) { forge(in, Target::control, "control.ring1.claim", 5); });
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const std::filesystem::path root = argv[1];
    int written = 0;
    for (const Seed& s : seeds()) {
        const auto dir = root / std::string(pane_fuzz::target_name(s.target));
        std::filesystem::create_directories(dir);
        std::ofstream out(dir / s.name, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(s.input.data()), static_cast<std::streamsize>(s.input.size()));
        if (!out) {
            std::fprintf(stderr, "make_seeds: cannot write %s\n", (dir / s.name).c_str());
            return 1;
        }
        ++written;
    }
    std::printf("%d seeds written under %s\n", written, root.c_str());
    return 0;
}
