// SPDX-License-Identifier: MIT
// One libFuzzer target: built once per target with PANE_FUZZ_TARGET set to its name
// (tests/fuzz/meson.build); all the work is in fuzz_harness.cpp.
#include <cstddef>
#include <cstdint>

#include "fuzz_harness.hpp"

#ifndef PANE_FUZZ_TARGET
#error "PANE_FUZZ_TARGET names the target (attach, ring, frames, cursor, producer, control)"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    pane_fuzz::run(pane_fuzz::Target::PANE_FUZZ_TARGET, data, size);
    return 0;
}
