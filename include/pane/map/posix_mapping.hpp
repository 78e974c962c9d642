// SPDX-License-Identifier: MIT
// open + mmap of a path that cannot grow (a PCI BAR's sysfs resource file, a device node), for
// the backends that must not go through Boost.Interprocess: Boost sizes and grows files, which
// means nothing for a BAR. POSIX only; the caller has checked the length against the real size.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../error.hpp"
#include "../result.hpp"
#include "mapping.hpp"

namespace pane::map::detail {

struct PosixBacking final : Mapping::Backing {
    PosixBacking(void* a, std::size_t n) noexcept : address(a), length(n) {}
    ~PosixBacking() override { ::munmap(address, length); }
    PosixBacking(const PosixBacking&) = delete;
    PosixBacking& operator=(const PosixBacking&) = delete;
    void* address;
    std::size_t length;
};

[[nodiscard]] inline MapError from_errno(int e) noexcept {
    switch (e) {
        case ENOENT: return MapError::not_found;
        case EACCES:
        case EPERM: return MapError::permission_denied;
        case EINVAL:
        case ENXIO: return MapError::invalid_argument;
        default: return MapError::system_error;
    }
}

// Maps `length` bytes from offset 0 of `path`, shared and read/write. The descriptor is closed
// at once: the mapping keeps the object alive.
[[nodiscard]] inline Result<Mapping, MapError> map_posix_file(const std::filesystem::path& path, std::uint64_t length,
                                                              std::string description, bool write_combining) {
    if (length == 0 || length > SIZE_MAX) return MapError::invalid_argument;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return from_errno(errno);
    void* address = ::mmap(nullptr, static_cast<std::size_t>(length), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int mmap_errno = errno;
    ::close(fd);
    if (address == MAP_FAILED) return from_errno(mmap_errno);
    try {
        auto backing = std::make_unique<PosixBacking>(address, static_cast<std::size_t>(length));
        return Mapping(std::move(backing), static_cast<std::byte*>(address), static_cast<std::size_t>(length),
                       std::move(description), write_combining);
    } catch (const std::bad_alloc&) {
        ::munmap(address, static_cast<std::size_t>(length));
        return MapError::system_error;
    }
}

}  // namespace pane::map::detail
