// SPDX-License-Identifier: MIT
// An in-process region: zeroed, page-aligned heap memory. For tests and for producer and
// consumer threads of one process.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <cstring>
#include <new>

#include "../error.hpp"
#include "../result.hpp"
#include "mapping.hpp"

namespace pane::map {

namespace detail {
inline constexpr std::size_t kPageAlignment = 4096;

struct HeapBacking final : Mapping::Backing {
    explicit HeapBacking(std::size_t size)
        : data(static_cast<std::byte*>(::operator new(size, std::align_val_t{kPageAlignment}))) {
        std::memset(data, 0, size);
    }
    ~HeapBacking() override { ::operator delete(data, std::align_val_t{kPageAlignment}); }
    HeapBacking(const HeapBacking&) = delete;
    HeapBacking& operator=(const HeapBacking&) = delete;
    std::byte* data;
};
}  // namespace detail

[[nodiscard]] inline Result<Mapping, MapError> in_process(std::size_t size) {
    if (size == 0) return MapError::invalid_argument;
    try {
        auto backing = std::make_unique<detail::HeapBacking>(size);
        std::byte* data = backing->data;
        return Mapping(std::move(backing), data, size, "memory (" + std::to_string(size) + " bytes)");
    } catch (const std::bad_alloc&) {
        return MapError::system_error;
    }
}

}  // namespace pane::map
