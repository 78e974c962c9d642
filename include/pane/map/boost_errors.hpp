// SPDX-License-Identifier: MIT
// Translates Boost.Interprocess and std::filesystem failures into MapError, so no exception
// leaves the mapping edge.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <filesystem>
#include <system_error>

#include <boost/interprocess/exceptions.hpp>

#include "../error.hpp"

namespace pane::map::detail {

[[nodiscard]] inline MapError from_boost(const boost::interprocess::interprocess_exception& e) noexcept {
    namespace bi = boost::interprocess;
    switch (e.get_error_code()) {
        case bi::not_found_error:
        case bi::not_such_file_or_directory: return MapError::not_found;
        case bi::already_exists_error: return MapError::already_exists;
        case bi::security_error: return MapError::permission_denied;
        case bi::invalid_argument:
        case bi::path_error:
        case bi::size_error: return MapError::invalid_argument;
        default: return MapError::system_error;
    }
}

[[nodiscard]] inline MapError from_errc(const std::error_code& ec) noexcept {
    if (ec == std::errc::no_such_file_or_directory) return MapError::not_found;
    if (ec == std::errc::file_exists) return MapError::already_exists;
    if (ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted) {
        return MapError::permission_denied;
    }
    if (ec == std::errc::invalid_argument) return MapError::invalid_argument;
    return MapError::system_error;
}

}  // namespace pane::map::detail
