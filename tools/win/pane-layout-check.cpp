// SPDX-License-Identifier: MIT
// The wire layout as this compiler sees it. Every struct of the shared region must have the size
// and alignment it has on x86-64 Linux (the numbers below), or a Windows guest and a Linux host
// would read each other's fields at different offsets. The headers themselves assert every
// offsetof; this adds each struct's total size and alignment, the byte order and the plain-data
// properties, so that compiling this file with a new compiler (MinGW, MSVC, i386) is the check.
// Running it prints the table, for a human comparing two platforms by eye.
#include <bit>
#include <cstddef>
#include <cstdio>
#include <type_traits>

#include <pane/control.hpp>
#include <pane/cursor.hpp>
#include <pane/display_layout.hpp>
#include <pane/layout.hpp>

namespace {

// The protocol is little-endian (detail/futex.hpp's low_word and every peer rely on it).
static_assert(std::endian::native == std::endian::little);

template <class T, std::size_t Size, std::size_t Align>
constexpr bool wire() {
    static_assert(sizeof(T) == Size, "wire struct size differs from x86-64 Linux");
    static_assert(alignof(T) == Align, "wire struct alignment differs from x86-64 Linux");
    static_assert(std::is_standard_layout_v<T> && std::is_trivially_copyable_v<T>);
    return true;
}

struct Row {
    const char* name;
    std::size_t size, align;
};

#define PANE_WIRE(T, SIZE, ALIGN)                \
    static_assert(wire<pane::T, SIZE, ALIGN>()); \
    constexpr Row row_##T{#T, sizeof(pane::T), alignof(pane::T)};

PANE_WIRE(RegionHeader, 256, 8)
PANE_WIRE(ChannelEntry, 64, 8)
PANE_WIRE(ConsumerSlot, 128, 8)
PANE_WIRE(RingControl, 192, 8)
PANE_WIRE(RingCursor, 64, 8)
PANE_WIRE(RingSlotHeader, 16, 8)
PANE_WIRE(DamageRect, 16, 8)
PANE_WIRE(HdrMetadata, 32, 8)
PANE_WIRE(FrameDescriptor, 1152, 8)
PANE_WIRE(FrameControl, 256, 8)
PANE_WIRE(FrameBufferState, 64, 8)
PANE_WIRE(FrameLease, 64, 8)
PANE_WIRE(CursorShapeHeader, 40, 8)
PANE_WIRE(CursorShapeControl, 128, 8)
PANE_WIRE(CursorPositionControl, 128, 8)
PANE_WIRE(ControlChannelControl, 64, 8)
PANE_WIRE(ControlRingControl, 128, 8)
PANE_WIRE(ControlMessageHeader, 8, 4)
PANE_WIRE(ControlCursorPosition, 8, 4)
PANE_WIRE(ControlWindowSize, 8, 4)
#undef PANE_WIRE

constexpr Row kRows[] = {row_RegionHeader,
                         row_ChannelEntry,
                         row_ConsumerSlot,
                         row_RingControl,
                         row_RingCursor,
                         row_RingSlotHeader,
                         row_DamageRect,
                         row_HdrMetadata,
                         row_FrameDescriptor,
                         row_FrameControl,
                         row_FrameBufferState,
                         row_FrameLease,
                         row_CursorShapeHeader,
                         row_CursorShapeControl,
                         row_CursorPositionControl,
                         row_ControlChannelControl,
                         row_ControlRingControl,
                         row_ControlMessageHeader,
                         row_ControlCursorPosition,
                         row_ControlWindowSize};

}  // namespace

int main() {
    for (const Row& r : kRows) std::printf("  %-24s %5zu bytes, align %zu\n", r.name, r.size, r.align);
    std::printf("layout: %zu wire structs as on x86-64 Linux: OK\n", std::size(kRows));
    return 0;
}
