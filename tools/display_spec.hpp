// SPDX-License-Identifier: MIT
// The region the reference tools share: channel names and how the display region is laid out
// for a given maximum resolution. pane-produce creates it; pane-consume finds the channels by
// these names (pane-inspect decodes every channel by its kind).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <pane/session.hpp>

namespace pane_tools {

inline constexpr const char* kFramesChannel = "frames";
inline constexpr const char* kCursorShapeChannel = "cursor-shape";
inline constexpr const char* kCursorPositionChannel = "cursor-position";
inline constexpr const char* kControlChannel = "control";

struct DisplayLayout {
    std::uint32_t max_width = 1920;
    std::uint32_t max_height = 1080;
    std::uint32_t max_bytes_per_pixel = 4;
    std::uint32_t buffers = 3;
    std::uint32_t max_consumers = pane::kDefaultConsumers;
};

[[nodiscard]] inline pane::RegionSpec display_spec(const DisplayLayout& l) {
    pane::RegionSpec spec;
    spec.max_consumers = l.max_consumers;
    spec.add(pane::FrameSpec{kFramesChannel, l.max_width, l.max_height, l.max_bytes_per_pixel, l.buffers, 16});
    spec.add(pane::CursorShapeSpec{kCursorShapeChannel, 128});
    spec.add(pane::CursorPositionSpec{kCursorPositionChannel});
    spec.add(pane::ControlSpec{kControlChannel, 64, 256});
    return spec;
}

// The producer ends of the four display channels of a region laid out by display_spec.
struct DisplayProducers {
    pane::FrameProducer frames;
    pane::CursorShapeProducer shapes;
    pane::CursorPositionProducer positions;
    pane::ControlReceiver control;
};

// Opens them all; on failure nullopt, and `why` names the channel and the error.
[[nodiscard]] inline std::optional<DisplayProducers> open_display_producers(pane::ProducerSession& producer,
                                                                            std::string& why) {
    auto frames = producer.frames(kFramesChannel);
    auto shapes = producer.cursor_shape(kCursorShapeChannel);
    auto positions = producer.cursor_position(kCursorPositionChannel);
    auto control = producer.control(kControlChannel);
    const auto failed = [&why](const char* name, const auto& result) {
        if (result) return false;
        why = std::string("cannot open channel '") + name + "': " + std::string(pane::describe(result.error()));
        return true;
    };
    if (failed(kFramesChannel, frames) || failed(kCursorShapeChannel, shapes) ||
        failed(kCursorPositionChannel, positions) || failed(kControlChannel, control)) {
        return std::nullopt;
    }
    return DisplayProducers{std::move(frames.value()), std::move(shapes.value()), std::move(positions.value()),
                            std::move(control.value())};
}

}  // namespace pane_tools
