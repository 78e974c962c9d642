// SPDX-License-Identifier: MIT
// POSIX shared memory objects by name (shm_open; /dev/shm/NAME on Linux), mapped with
// Boost.Interprocess. The object's size is read (fstat) before mapping and only what exists is
// mapped, so a short object is an error value, never a SIGBUS.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include "../error.hpp"
#include "../layout.hpp"
#include "../result.hpp"
#include "boost_errors.hpp"
#include "mapping.hpp"

namespace pane::map {

namespace detail {
struct ShmBacking final : Mapping::Backing {
    boost::interprocess::shared_memory_object object;
    boost::interprocess::mapped_region region;
};

[[nodiscard]] inline bool valid_shm_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 200) return false;
    for (char c : name) {
        if (c == '/' || c == '\0') return false;
    }
    return true;
}
}  // namespace detail

// Opens (and for the producer, creates or grows to `size` bytes) the shm object `name` and maps
// all of it. With OpenMode::open_only and size == 0, maps whatever size the object has.
[[nodiscard]] inline Result<Mapping, MapError> shm(std::string_view name, std::uint64_t size, OpenMode mode) {
    namespace bi = boost::interprocess;
    if (!detail::valid_shm_name(name)) return MapError::invalid_argument;
    if (mode != OpenMode::open_only && size == 0) return MapError::invalid_argument;
    const std::string n(name);
    try {
        auto backing = std::make_unique<detail::ShmBacking>();
        switch (mode) {
            case OpenMode::create_only: backing->object = bi::shared_memory_object(bi::create_only, n.c_str(), bi::read_write); break;
            case OpenMode::open_or_create: backing->object = bi::shared_memory_object(bi::open_or_create, n.c_str(), bi::read_write); break;
            case OpenMode::open_only: backing->object = bi::shared_memory_object(bi::open_only, n.c_str(), bi::read_write); break;
        }
        bi::offset_t existing = 0;
        if (!backing->object.get_size(existing) || existing < 0) return MapError::system_error;
        if (mode != OpenMode::open_only && static_cast<std::uint64_t>(existing) < size) {
            backing->object.truncate(static_cast<bi::offset_t>(size));
            existing = static_cast<bi::offset_t>(size);
        }
        const auto actual = static_cast<std::uint64_t>(existing);
        if (actual < sizeof(RegionHeader) || actual < size) return MapError::too_small;
        if (actual > SIZE_MAX) return MapError::invalid_argument;  // more than a 32-bit process can map
        backing->region = bi::mapped_region(backing->object, bi::read_write, 0, static_cast<std::size_t>(actual));
        auto* data = static_cast<std::byte*>(backing->region.get_address());
        return Mapping(std::move(backing), data, static_cast<std::size_t>(actual), "shm:" + n);
    } catch (const bi::interprocess_exception& e) {
        return detail::from_boost(e);
    } catch (const std::bad_alloc&) {
        return MapError::system_error;
    }
}

// Removes the name; existing mappings stay valid. Returns false if there was nothing to remove.
inline bool remove_shm(std::string_view name) noexcept {
    try {
        return boost::interprocess::shared_memory_object::remove(std::string(name).c_str());
    } catch (...) {
        return false;
    }
}

}  // namespace pane::map
