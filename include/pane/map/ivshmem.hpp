// SPDX-License-Identifier: MIT
// The guest side of IVSHMEM on Linux: QEMU's ivshmem-plain/ivshmem-doorbell PCI device (vendor
// 0x1af4, device 0x1110) exposes the shared region as BAR 2. Linux lets a process map a BAR
// through sysfs (/sys/bus/pci/devices/ADDR/resource2, or resource2_wc for write-combining) with
// no driver bound, so no kernel module is needed. This backend finds the devices, enables the
// one asked for (memory decoding must be on, or the guest reads all-ones), and maps BAR 2. The
// BAR's size is a hard limit: it cannot grow, so a larger request is MapError::too_small and the
// caller reports what fits (ivshmem_devices() gives every BAR's size).
//
// Needs only POSIX and Linux sysfs, no Boost. Enabling a device needs root (CAP_SYS_ADMIN); a
// device already enabled (by an earlier run or a driver) maps with just read/write access to
// resource2. On other systems ivshmem_devices() finds nothing (see windows_ivshmem.hpp).
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../error.hpp"
#include "../layout.hpp"
#include "../result.hpp"
#include "mapping.hpp"
#include "posix_mapping.hpp"

namespace pane::map {

inline constexpr std::uint16_t kIvshmemVendor = 0x1af4;  // Red Hat, Inc. (virtio/QEMU devices)
inline constexpr std::uint16_t kIvshmemDevice = 0x1110;  // Inter-VM shared memory
inline constexpr std::string_view kSysfsPciDevices = "/sys/bus/pci/devices";

struct IvshmemDevice {
    std::string address;        // PCI address as sysfs names it, e.g. "0000:00:04.0"
    std::uint64_t bar_size = 0;  // bytes of BAR 2: the whole shared region
    bool write_combining_available = false;  // resource2_wc exists (BAR 2 is prefetchable)
};

struct IvshmemOptions {
    // Map resource2_wc: stores are combined and reach the host in bursts, which makes frame
    // writes much faster from a guest. The producer must then fence before each publishing
    // store; the Mapping reports write_combining() so ProducerOptions can say so.
    bool write_combining = false;
    // Where PCI devices are listed; tests point it at a fake tree.
    std::filesystem::path sysfs_root = std::filesystem::path(kSysfsPciDevices);
};

namespace detail {

// A sysfs attribute such as "0x1af4\n" or "1\n" as a number; false if unreadable.
[[nodiscard]] inline bool read_hex_attribute(const std::filesystem::path& path, std::uint64_t& value) {
    std::ifstream in(path);
    std::string text;
    if (!in || !std::getline(in, text)) return false;
    try {
        std::size_t used = 0;
        value = std::stoull(text, &used, 16);
        return used > 0;
    } catch (const std::exception&) {
        return false;
    }
}

[[nodiscard]] inline bool is_ivshmem(const std::filesystem::path& device_dir) {
    std::uint64_t vendor = 0;
    std::uint64_t device = 0;
    return read_hex_attribute(device_dir / "vendor", vendor) && read_hex_attribute(device_dir / "device", device) &&
           vendor == kIvshmemVendor && device == kIvshmemDevice;
}

// Memory decoding on. sysfs "enable" reads as the enable count ("0" = off); writing "1" calls
// pci_enable_device. Already on: nothing to do, and no root needed.
[[nodiscard]] inline std::optional<MapError> enable_device(const std::filesystem::path& device_dir) {
    std::uint64_t enabled = 0;
    if (read_hex_attribute(device_dir / "enable", enabled) && enabled != 0) return std::nullopt;
    std::ofstream out(device_dir / "enable");
    if (!out) return MapError::permission_denied;
    out << "1";
    out.flush();
    if (!out) return MapError::permission_denied;
    return std::nullopt;
}

}  // namespace detail

// Every IVSHMEM device, ordered by PCI address (so an index is stable across boots of the same
// VM configuration). An unreadable or missing sysfs tree gives an empty list.
[[nodiscard]] inline std::vector<IvshmemDevice> ivshmem_devices(const IvshmemOptions& options = {}) {
    namespace fs = std::filesystem;
    std::vector<IvshmemDevice> found;
    std::error_code ec;
    for (fs::directory_iterator it(options.sysfs_root, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path dir = it->path();
        if (!detail::is_ivshmem(dir)) continue;
        std::error_code size_ec;
        const auto bar = fs::file_size(dir / "resource2", size_ec);  // sysfs reports the BAR size
        if (size_ec) continue;                                        // no BAR 2: not usable
        found.push_back(IvshmemDevice{dir.filename().string(), bar, fs::exists(dir / "resource2_wc", size_ec)});
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.address < b.address; });
    return found;
}

// Picks a device: "" = the first, a decimal index into ivshmem_devices(), or a PCI address
// ("0000:00:04.0", or "00:04.0" for domain 0). not_found if nothing matches.
[[nodiscard]] inline Result<IvshmemDevice, MapError> find_ivshmem(std::string_view selector,
                                                                  const IvshmemOptions& options = {}) {
    const auto devices = ivshmem_devices(options);
    if (devices.empty()) return MapError::not_found;
    if (selector.empty()) return devices.front();
    const bool index = std::all_of(selector.begin(), selector.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (index) {
        if (selector.size() > 3) return MapError::not_found;
        const auto i = std::stoul(std::string(selector));
        if (i >= devices.size()) return MapError::not_found;
        return devices[i];
    }
    for (const auto& d : devices) {
        if (d.address == selector || (d.address.size() > 5 && d.address.substr(0, 5) == "0000:" &&
                                      std::string_view(d.address).substr(5) == selector)) {
            return d;
        }
    }
    return MapError::not_found;
}

// Enables `device` and maps `size` bytes of its BAR 2 (0 = all of it). too_small if the BAR is
// smaller than `size` or than a region header; permission_denied if the device is off and we
// may not enable it, or resource2 is not writable to us.
[[nodiscard]] inline Result<Mapping, MapError> ivshmem(const IvshmemDevice& device, std::uint64_t size,
                                                       const IvshmemOptions& options = {}) {
    const std::uint64_t length = size == 0 ? device.bar_size : size;
    if (length > device.bar_size || length < sizeof(RegionHeader)) return MapError::too_small;
    const auto dir = options.sysfs_root / device.address;
    if (const auto refused = detail::enable_device(dir)) return *refused;
    const bool wc = options.write_combining && device.write_combining_available;
    const char* resource = wc ? "resource2_wc" : "resource2";
    return detail::map_posix_file(dir / resource, length, "ivshmem:" + device.address + " (" + resource + ")", wc);
}

// find_ivshmem + ivshmem in one call.
[[nodiscard]] inline Result<Mapping, MapError> ivshmem(std::string_view selector, std::uint64_t size,
                                                       const IvshmemOptions& options = {}) {
    auto device = find_ivshmem(selector, options);
    if (!device) return device.error();
    return ivshmem(device.value(), size, options);
}

}  // namespace pane::map
