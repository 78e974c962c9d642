// SPDX-License-Identifier: MIT
// Any file path as a region: /dev/shm/NAME as QEMU's memory-backend-file creates it, a file on
// hugetlbfs, or a kvmfr-style character device (/dev/kvmfr0). Mapped with Boost.Interprocess.
// The size is read with stat before mapping, so a short file is an error, never a SIGBUS. A
// device reports no size through stat: the caller passes the size it expects (the device's
// configured size), and we trust the driver to refuse a mapping larger than the device.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>

#include "../error.hpp"
#include "../layout.hpp"
#include "../result.hpp"
#include "boost_errors.hpp"
#include "mapping.hpp"

namespace pane::map {

namespace detail {
struct FileBacking final : Mapping::Backing {
    boost::interprocess::file_mapping file;
    boost::interprocess::mapped_region region;
};
}  // namespace detail

// Maps `path`. For the producer (create_only / open_or_create) a regular file is created if
// needed and grown to `size`. For open_only, size == 0 maps the whole regular file; a device
// needs an explicit size.
[[nodiscard]] inline Result<Mapping, MapError> file(const std::filesystem::path& path, std::uint64_t size,
                                                    OpenMode mode) {
    namespace bi = boost::interprocess;
    namespace fs = std::filesystem;
    if (path.empty()) return MapError::invalid_argument;
    if (mode != OpenMode::open_only && size == 0) return MapError::invalid_argument;
    std::error_code ec;
    const auto status = fs::status(path, ec);
    const bool exists = fs::exists(status);
    if (ec && ec != std::errc::no_such_file_or_directory) return detail::from_errc(ec);
    if (exists && mode == OpenMode::create_only) return MapError::already_exists;
    if (!exists && mode == OpenMode::open_only) return MapError::not_found;
    const bool regular = !exists || fs::is_regular_file(status);
    if (!regular && !fs::is_character_file(status) && !fs::is_block_file(status)) return MapError::invalid_argument;

    std::uint64_t actual = size;
    if (regular) {
        if (!exists) {
            // A missing directory is not_found, not a permission problem.
            const auto parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
            if (!fs::is_directory(parent, ec)) return MapError::not_found;
            std::ofstream create(path, std::ios::out | std::ios::app | std::ios::binary);
            if (!create) return MapError::permission_denied;
        }
        std::uint64_t current = fs::file_size(path, ec);
        if (ec) return detail::from_errc(ec);
        if (mode != OpenMode::open_only && current < size) {
            fs::resize_file(path, size, ec);
            if (ec) return detail::from_errc(ec);
            current = size;
        }
        if (size == 0) actual = current;
        if (current < actual) return MapError::too_small;
    } else if (size == 0) {
        return MapError::invalid_argument;  // a device does not tell its size through stat
    }
    if (actual < sizeof(RegionHeader)) return MapError::too_small;
    try {
        auto backing = std::make_unique<detail::FileBacking>();
        backing->file = bi::file_mapping(path.c_str(), bi::read_write);
        backing->region = bi::mapped_region(backing->file, bi::read_write, 0, static_cast<std::size_t>(actual));
        auto* data = static_cast<std::byte*>(backing->region.get_address());
        return Mapping(std::move(backing), data, static_cast<std::size_t>(actual), "file:" + path.string());
    } catch (const bi::interprocess_exception& e) {
        return detail::from_boost(e);
    } catch (const std::bad_alloc&) {
        return MapError::system_error;
    }
}

}  // namespace pane::map
