// SPDX-License-Identifier: MIT
// A display region brought up for a producer, from a RegionSource and a DisplayLayout: what every
// pane-produce source (the test pattern, X11) does before its first frame. It never lays a region
// over someone else's file (only a Pane region, an empty or all-zero object, or a new one, unless
// `force`), and it removes an object it created when the start fails.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/core.h>

#include <pane/session.hpp>

#include "cli.hpp"
#include "display_spec.hpp"
#include "region_source.hpp"

namespace pane_tools {

// Members in this order so the channels go first, then the session (which marks the region
// closed through the mapping), then the mapping.
struct RunningDisplay {
    pane::map::Mapping mapping;
    pane::ProducerSession session;
    DisplayProducers channels;
    std::uint64_t layout_bytes = 0;  // what the layout uses of the mapping
};

// Lays out `layout` on `source`, mapping `region_size` bytes (0: what the layout needs), and
// opens the producer session and its four display channels. On failure nullopt, with `why` saying
// what failed in a sentence for the tool's error line.
[[nodiscard]] inline std::optional<RunningDisplay> start_display_producer(const RegionSource& source,
                                                                          const DisplayLayout& layout,
                                                                          std::uint64_t region_size, bool force,
                                                                          std::string& why) {
    const pane::RegionSpec spec = display_spec(layout);
    const auto plan = pane::plan_region(spec);
    if (!plan) {
        why = fmt::format("cannot lay out the region: {}", pane::describe(plan.error()));
        return std::nullopt;
    }
    if (region_size == 0) region_size = plan->region_size;
    const auto before = source.existing();
    if (before.foreign && !force) {
        why = fmt::format("{} exists and is not a Pane region ({} bytes); refusing to overwrite it (--force to "
                          "overwrite)", source.label(), before.size);
        return std::nullopt;
    }
    struct RemoveIfCreated {
        const RegionSource& source;
        bool armed;
        ~RemoveIfCreated() {
            if (armed) source.remove();
        }
    } cleanup{source, !before.exists && source.kind != RegionSource::Kind::ivshmem};

    auto mapping = source.map_for_producer(region_size);
    if (!mapping) {
        why = map_failure(source, region_size, mapping.error(), layout);
        return std::nullopt;
    }
    pane::ProducerOptions options;
    options.write_combining = mapping->write_combining();
    auto session = pane::ProducerSession::create(mapping->bytes(), spec, options);
    if (!session) {
        why = fmt::format("cannot initialise {}: {}", mapping->description(), pane::describe(session.error()));
        return std::nullopt;
    }
    auto channels = open_display_producers(session.value(), why);
    if (!channels) return std::nullopt;
    cleanup.armed = false;  // the region is up: it stays in place from here on, as documented
    return RunningDisplay{std::move(mapping.value()), std::move(session.value()), std::move(*channels),
                          plan->region_size};
}

// "WxH", each side 1..kMaxFrameDimension, for --size.
[[nodiscard]] inline std::pair<std::uint32_t, std::uint32_t> parse_frame_size(std::string_view arg) {
    const auto side = [](std::string_view s) {
        std::uint32_t v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc{} || end != s.data() + s.size() || v == 0 || v > pane::kMaxFrameDimension) {
            throw UsageError(fmt::format("--size wants WxH, each 1..{}", pane::kMaxFrameDimension));
        }
        return v;
    };
    const auto x = arg.find('x');
    if (x == std::string_view::npos) throw UsageError("--size wants WxH");
    return {side(arg.substr(0, x)), side(arg.substr(x + 1))};
}

}  // namespace pane_tools
