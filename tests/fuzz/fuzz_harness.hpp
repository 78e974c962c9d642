// SPDX-License-Identifier: MIT
// The libFuzzer harness shared by every target (docs/reliability.md, "Fuzzing"): it lays out a valid
// region with a live producer and two attached consumers, applies the input's patches to it and
// drives one side through the public API, checking that every answer is an error value or data
// within bounds, and that each side wrote only words it owns.
//
// Input format: a sequence of records.
//   patch  header byte h < 0xC0: (h & 0x1F) + 1 data bytes follow a 3-byte little-endian offset.
//          The offset is taken modulo the target's window (the structures that target reads), or
//          modulo the whole region when h & 0x20. h & 0x40: the bytes are XORed in, else stored.
//   step   header byte h >= 0xC0: run operation (h & 0x3F) modulo the target's operation count now.
// After the last record every operation of the target runs once, in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace pane_fuzz {

enum class Target { attach, ring, frames, cursor, producer, control };

inline constexpr Target kTargets[] = {Target::attach, Target::ring,     Target::frames,
                                      Target::cursor, Target::producer, Target::control};

[[nodiscard]] std::string_view target_name(Target t);

// Runs one input; aborts (a crash libFuzzer reports) if an invariant breaks.
void run(Target target, const std::uint8_t* data, std::size_t size);

// For the seed generator (make_seeds.cpp): where a named field lies in the fixture's region, as
// an offset into the target's window (patch records without the absolute bit), or -1.
[[nodiscard]] long window_offset(Target target, std::string_view field);
// Absolute region offset of a named field, or -1.
[[nodiscard]] long region_offset(std::string_view field);

// Record builders for seeds and tests.
void add_patch(std::vector<std::uint8_t>& input, std::uint32_t offset, const void* bytes, std::size_t n,
               bool absolute = false, bool xor_in = false);
void add_step(std::vector<std::uint8_t>& input, unsigned op);

}  // namespace pane_fuzz
