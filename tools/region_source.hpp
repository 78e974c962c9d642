// SPDX-License-Identifier: MIT
// Where the tools find their region, from the command line: --shm NAME (POSIX shm, the
// default), --file PATH (a QEMU memory-backend-file, hugetlbfs file or kvmfr device) or
// --ivshmem [ADDR] (inside a Linux guest: the IVSHMEM device's BAR 2), with --wc for a
// write-combining BAR mapping. One parser and one mapper for pane-produce, pane-consume and
// pane-inspect, and one explanation when the region is too small for the layout.
#pragma once

#include <array>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include <pane/layout.hpp>

#include <pane/map/file.hpp>
#include <pane/map/ivshmem.hpp>
#include <pane/map/shm.hpp>

#include "cli.hpp"
#include "display_spec.hpp"

namespace pane_tools {

// The options every region-opening tool accepts; add them to require_known. "ivshmem" takes an
// optional value (pass it in Options' optional-value list).
inline const std::vector<std::string> kRegionOptions{"shm", "file", "size", "ivshmem", "wc"};

struct RegionSource {
    enum class Kind { shm, file, ivshmem };
    Kind kind = Kind::shm;
    std::string name;        // shm name, file path, or IVSHMEM selector ("" = first device)
    std::uint64_t size = 0;  // consumers: bytes to map from a device that cannot say (--size)
    bool write_combining = false;

    [[nodiscard]] std::string shm_path() const { return name.rfind('/', 0) == 0 ? name : "/" + name; }

    [[nodiscard]] std::string label() const {
        switch (kind) {
            case Kind::shm: return "shm " + name;
            case Kind::file: return "file " + name;
            case Kind::ivshmem: return name.empty() ? std::string("ivshmem (first device)") : "ivshmem " + name;
        }
        return name;
    }

    // For a consumer or an inspector: the whole object as it is.
    [[nodiscard]] pane::Result<pane::map::Mapping, pane::MapError> map_existing() const {
        switch (kind) {
            case Kind::shm: return pane::map::shm(name, 0, pane::map::OpenMode::open_only);
            case Kind::file: return pane::map::file(name, size, pane::map::OpenMode::open_only);
            case Kind::ivshmem: return pane::map::ivshmem(name, size, ivshmem_options());
        }
        return pane::MapError::invalid_argument;
    }

    // For the producer: at least `bytes`, creating or growing what can grow.
    [[nodiscard]] pane::Result<pane::map::Mapping, pane::MapError> map_for_producer(std::uint64_t bytes) const {
        switch (kind) {
            case Kind::shm: return pane::map::shm(name, bytes, pane::map::OpenMode::open_or_create);
            case Kind::file: return pane::map::file(name, bytes, pane::map::OpenMode::open_or_create);
            case Kind::ivshmem: return pane::map::ivshmem(name, bytes, ivshmem_options());
        }
        return pane::MapError::invalid_argument;
    }

    // Bytes the object can hold where that is fixed (a device, a BAR, an existing file), to
    // explain a too_small failure.
    [[nodiscard]] std::optional<std::uint64_t> capacity() const {
        if (kind == Kind::ivshmem) {
            auto device = pane::map::find_ivshmem(name, ivshmem_options());
            if (device) return device->bar_size;
            return std::nullopt;
        }
        if (kind == Kind::file) {
            auto size = pane::map::mappable_size(name);
            if (size) return size.value();
        }
        return std::nullopt;
    }

    // The object as the producer finds it before mapping: whether it exists, and whether it is a
    // regular file or shm object holding bytes that are not a Pane region. A device, a BAR or a
    // missing object is never "foreign".
    struct Existing {
        bool exists = false;
        bool foreign = false;  // non-empty, and its first 8 bytes are neither the Pane magic nor 0
        std::uint64_t size = 0;
    };
    [[nodiscard]] Existing existing() const {
        Existing e;
        if (kind == Kind::ivshmem) return e;
        const int fd = kind == Kind::shm ? ::shm_open(shm_path().c_str(), O_RDONLY, 0) : ::open(name.c_str(), O_RDONLY);
        if (fd < 0) {
            e.exists = errno != ENOENT;  // e.g. EACCES: there, but not ours to judge
            return e;
        }
        e.exists = true;
        struct stat st {};
        if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
            e.size = static_cast<std::uint64_t>(st.st_size);
            std::uint64_t magic = 0;
            const auto got = ::pread(fd, &magic, sizeof magic, 0);
            // A QEMU memory-backend-file or a fresh object is all zeros until a producer writes it.
            e.foreign = got != static_cast<ssize_t>(sizeof magic) ? true : magic != 0 && magic != pane::kRegionMagic;
        }
        ::close(fd);
        return e;
    }

    // Removes the shm object or file (after a failed start that created it).
    void remove() const {
        if (kind == Kind::shm) (void)pane::map::remove_shm(name);
        if (kind == Kind::file) (void)::unlink(name.c_str());
    }

    [[nodiscard]] pane::map::IvshmemOptions ivshmem_options() const {
        pane::map::IvshmemOptions o;
        o.write_combining = write_combining;
        return o;
    }
};

[[nodiscard]] inline RegionSource parse_region_source(const Options& opt) {
    const int given = int{opt.has("shm")} + int{opt.has("file")} + int{opt.has("ivshmem")};
    if (given > 1) throw std::invalid_argument("give one of --shm NAME, --file PATH, --ivshmem [ADDR]");
    RegionSource s;
    if (opt.has("file")) {
        s.kind = RegionSource::Kind::file;
        s.name = opt.str("file", "");
        if (s.name.empty()) throw std::invalid_argument("--file wants a path");
    } else if (opt.has("ivshmem")) {
        s.kind = RegionSource::Kind::ivshmem;
        s.name = opt.str("ivshmem", "");
    } else {
        s.name = opt.str("shm", "pane");
        if (s.name.empty()) throw std::invalid_argument("--shm wants a name");
    }
    if (opt.has("wc") && s.kind != RegionSource::Kind::ivshmem) throw std::invalid_argument("--wc goes with --ivshmem");
    s.write_combining = opt.has("wc");
    return s;
}

[[nodiscard]] inline std::string mib_text(std::uint64_t bytes) {
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

// The largest common resolution whose display layout (bytes per pixel, buffers) fits `bytes`.
[[nodiscard]] inline std::optional<std::string> largest_fitting_resolution(std::uint64_t bytes, DisplayLayout layout) {
    static constexpr std::array<std::array<std::uint32_t, 2>, 14> kCommon{{{7680, 4320}, {5120, 2880}, {3840, 2160},
        {3440, 1440}, {2560, 1600}, {2560, 1440}, {1920, 1200}, {1920, 1080}, {1680, 1050}, {1600, 900},
        {1280, 1024}, {1280, 720}, {1024, 768}, {640, 480}}};
    for (const auto& [w, h] : kCommon) {
        layout.max_width = w;
        layout.max_height = h;
        const auto plan = pane::plan_region(display_spec(layout));
        if (plan && plan->region_size <= bytes) return fmt::format("{}x{}", w, h);
    }
    return std::nullopt;
}

// One line for a failed producer mapping; for too_small it says what the object holds, what the
// layout needs and what would fit.
[[nodiscard]] inline std::string map_failure(const RegionSource& source, std::uint64_t needed, pane::MapError error,
                                             const DisplayLayout& layout) {
    const auto capacity = source.capacity();
    if (error != pane::MapError::too_small || !capacity) {
        return fmt::format("cannot map {} ({} bytes): {}", source.label(), needed, pane::describe(error));
    }
    const char* what = source.kind == RegionSource::Kind::ivshmem ? "the BAR" : "it";
    std::string text = fmt::format("cannot map {}: {} holds {}, this layout needs {}; use --size/--buffers or a larger {}",
                                   source.label(), what, mib_text(*capacity), mib_text(needed),
                                   source.kind == RegionSource::Kind::ivshmem ? "BAR" : "region");
    if (const auto fits = largest_fitting_resolution(*capacity, layout)) {
        text += fmt::format(" (the largest that fits with {} buffers: {})", layout.buffers, *fits);
    } else {
        text += " (no common resolution fits)";
    }
    return text;
}

}  // namespace pane_tools
