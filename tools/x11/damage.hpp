// SPDX-License-Identifier: MIT
// Damage accumulation for the X11 capture source: the rectangles the X server reports (one per
// drawing operation with the raw-rectangles damage level, any number per frame) are clipped to
// the frame and kept as at most 64 (kMaxDamageRects, what one frame descriptor holds). A new
// rectangle that another contains is dropped; one that contains others replaces them; when the
// list is full, the new rectangle is merged into the one whose union grows the covered area the
// least. Merging only ever grows rectangles, so the list always covers every reported pixel
// (over-reporting is harmless to a viewer; under-reporting would leave stale pixels). No X
// dependency: the unit test drives it directly.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include <pane/display_layout.hpp>

namespace pane_tools::x11 {

class DamageList {
public:
    // Adds x, y, w, h (any values: clipped to the frame of width x height; empty after clipping
    // is ignored).
    void add(std::int64_t x, std::int64_t y, std::int64_t w, std::int64_t h, std::uint32_t width,
             std::uint32_t height) {
        const std::int64_t x0 = std::clamp<std::int64_t>(x, 0, width), y0 = std::clamp<std::int64_t>(y, 0, height);
        const std::int64_t x1 = std::clamp<std::int64_t>(x + w, 0, width), y1 = std::clamp<std::int64_t>(y + h, 0, height);
        if (x1 <= x0 || y1 <= y0) return;
        add({static_cast<std::uint32_t>(x0), static_cast<std::uint32_t>(y0), static_cast<std::uint32_t>(x1 - x0),
             static_cast<std::uint32_t>(y1 - y0)});
    }
    // Adds an already clipped rectangle.
    void add(pane::DamageRect r) {
        if (r.width == 0 || r.height == 0) return;
        for (const auto& e : rects_) {
            if (contains(e, r)) return;
        }
        std::erase_if(rects_, [&](const pane::DamageRect& e) { return contains(r, e); });
        if (rects_.size() < pane::kMaxDamageRects) {
            rects_.push_back(r);
            return;
        }
        std::size_t best = 0;
        std::uint64_t best_growth = UINT64_MAX;
        for (std::size_t i = 0; i < rects_.size(); ++i) {
            const std::uint64_t growth = area(unite(rects_[i], r)) - area(rects_[i]);
            if (growth < best_growth) {
                best_growth = growth;
                best = i;
            }
        }
        const pane::DamageRect merged = unite(rects_[best], r);
        rects_.erase(rects_.begin() + static_cast<std::ptrdiff_t>(best));
        add(merged);  // it may now contain others (the recursion ends: the list only shrinks)
    }
    void add_all(const DamageList& other) {
        for (const auto& r : other.rects_) add(r);
    }
    void clear() { rects_.clear(); }
    [[nodiscard]] bool empty() const { return rects_.empty(); }
    [[nodiscard]] const std::vector<pane::DamageRect>& rects() const { return rects_; }

    [[nodiscard]] static pane::DamageRect unite(const pane::DamageRect& a, const pane::DamageRect& b) {
        const std::uint32_t x0 = std::min(a.x, b.x), y0 = std::min(a.y, b.y);
        const std::uint32_t x1 = std::max(a.x + a.width, b.x + b.width), y1 = std::max(a.y + a.height, b.y + b.height);
        return {x0, y0, x1 - x0, y1 - y0};
    }
    [[nodiscard]] static bool contains(const pane::DamageRect& outer, const pane::DamageRect& inner) {
        return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width &&
               inner.y + inner.height <= outer.y + outer.height;
    }
    [[nodiscard]] static std::uint64_t area(const pane::DamageRect& r) { return std::uint64_t{r.width} * r.height; }

private:
    std::vector<pane::DamageRect> rects_;
};

}  // namespace pane_tools::x11
