// SPDX-License-Identifier: MIT
// Any file path as a region: /dev/shm/NAME as QEMU's memory-backend-file creates it, a file on
// hugetlbfs, or a kvmfr-style character device (/dev/kvmfr0). Mapped with Boost.Interprocess.
// The size is read before mapping, so a short file is an error, never a SIGBUS:
//  - a regular file: stat. Growing it is checked afterwards, because some files accept a
//    resize and keep their size (a PCI BAR's sysfs resource2: use map/ivshmem.hpp there);
//    the size is rounded up to the file system's block, which hugetlbfs requires (huge page);
//  - a kvmfr device (Looking Glass's host module): its KVMFR_DMABUF_GETSIZE ioctl;
//  - any other device reports no size: the caller passes the size it expects, and we trust the
//    driver to refuse a mapping larger than the device.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#if defined(__linux__)
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <unistd.h>
#endif

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
// The kvmfr module's size request, _IO('u', 0x44). The kernel returns a long: the raw syscall
// keeps sizes of 2 GiB and more that ioctl()'s int would truncate.
inline constexpr unsigned long kKvmfrGetSize = 0x7544;

[[nodiscard]] inline bool is_kvmfr(const std::filesystem::path& path) {
    return path.filename().string().rfind("kvmfr", 0) == 0;
}

// Bytes a kvmfr device holds, or 0 if it cannot say.
[[nodiscard]] inline std::uint64_t kvmfr_size(const std::filesystem::path& path) noexcept {
#if defined(__linux__)
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return 0;
    const long size = ::syscall(SYS_ioctl, fd, kKvmfrGetSize, 0);
    ::close(fd);
    return size > 0 ? static_cast<std::uint64_t>(size) : 0;
#else
    (void)path;
    return 0;
#endif
}

// The file system's block size for `path`'s directory (the huge page size on hugetlbfs), or 1.
[[nodiscard]] inline std::uint64_t block_size(const std::filesystem::path& path) noexcept {
#if defined(__linux__)
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && st.st_blksize > 0) return static_cast<std::uint64_t>(st.st_blksize);
#else
    (void)path;
#endif
    return 1;
}
}  // namespace detail

// How many bytes `path` can map: a regular file's size, a kvmfr device's size. invalid_argument
// for a device that does not tell (pass the size explicitly to file()).
[[nodiscard]] inline Result<std::uint64_t, MapError> mappable_size(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec) return detail::from_errc(ec);
    if (fs::is_regular_file(status)) {
        const auto size = fs::file_size(path, ec);
        if (ec) return detail::from_errc(ec);
        return std::uint64_t{size};
    }
    if (fs::is_character_file(status) && detail::is_kvmfr(path)) {
        if (const auto size = detail::kvmfr_size(path); size != 0) return size;
    }
    return MapError::invalid_argument;
}

// Maps `path`. For the producer (create_only / open_or_create) a regular file is created if
// needed and grown to `size` (too_small if it would not grow). size == 0 maps what the file or
// kvmfr device holds (open_only); any other device needs an explicit size.
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
    std::uint64_t mapped = size;  // bytes to map: actual, in whole file-system blocks for a file
    if (regular) {
        if (!exists) {
            // A missing directory is not_found, not a permission problem.
            const auto parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
            if (!fs::is_directory(parent, ec)) return MapError::not_found;
            std::ofstream create(path, std::ios::out | std::ios::app | std::ios::binary);
            if (!create) return MapError::permission_denied;
        }
        // hugetlbfs sizes, maps and unmaps in whole huge pages: grow to whole blocks, and map
        // whole blocks where the file holds them, or munmap would fail and leak the mapping.
        const std::uint64_t block = detail::block_size(path);
        std::uint64_t current = fs::file_size(path, ec);
        if (ec) return detail::from_errc(ec);
        if (mode != OpenMode::open_only && current < size) {
            fs::resize_file(path, (size + block - 1) / block * block, ec);
            if (ec) return detail::from_errc(ec);
            current = fs::file_size(path, ec);  // a resize may "succeed" and change nothing
            if (ec) return detail::from_errc(ec);
        }
        if (size == 0) actual = current;
        if (current < actual) return MapError::too_small;
        const std::uint64_t whole_blocks = (actual + block - 1) / block * block;
        mapped = whole_blocks <= current ? whole_blocks : actual;
    } else {
        const std::uint64_t device = detail::is_kvmfr(path) ? detail::kvmfr_size(path) : 0;
        if (size == 0) {
            if (device == 0) return MapError::invalid_argument;  // size unknown: the caller must say
            actual = device;
        } else if (device != 0 && device < size) {
            return MapError::too_small;
        }
        mapped = actual;
    }
    if (actual < sizeof(RegionHeader)) return MapError::too_small;
    if (mapped > SIZE_MAX) return MapError::invalid_argument;  // more than a 32-bit process can map
    try {
        auto backing = std::make_unique<detail::FileBacking>();
        backing->file = bi::file_mapping(path.c_str(), bi::read_write);
        backing->region = bi::mapped_region(backing->file, bi::read_write, 0, static_cast<std::size_t>(mapped));
        auto* data = static_cast<std::byte*>(backing->region.get_address());
        return Mapping(std::move(backing), data, static_cast<std::size_t>(actual), "file:" + path.string());
    } catch (const bi::interprocess_exception& e) {
        return detail::from_boost(e);
    } catch (const std::bad_alloc&) {
        return MapError::system_error;
    }
}

}  // namespace pane::map
