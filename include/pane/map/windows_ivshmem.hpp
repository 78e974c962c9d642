// SPDX-License-Identifier: MIT
// The region inside a Windows guest: BAR2 of an IVSHMEM PCI device, mapped into this process by
// the virtio-win IVSHMEM driver (kvm-guest-drivers-windows, ivshmem/). We find the device through
// the driver's device-interface GUID, open it, ask the driver for the BAR size and for a user
// mapping of it in the cache mode we want, and give the mapping back on destruction. The BAR size
// is a hard limit: unlike a file, a device cannot grow. The driver allows one mapping per device
// at a time (across all processes). Link with setupapi (-lsetupapi; MSVC picks it up below).
//
// On anything but Windows this header declares nothing, so a portable program may include it
// unconditionally and test `#if defined(_WIN32)` where it calls windows_ivshmem().
#pragma once

#include "../version.hpp"  // first: the C++20 check

#if defined(_WIN32)

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../layout.hpp"
#include "../result.hpp"
#include "mapping.hpp"

// <windows.h> defines min and max as macros, which would break std::min and
// std::numeric_limits<T>::max in any header included after this one; keep them out, and leave
// the includer's own setting as we found it.
#if !defined(NOMINMAX)
#define NOMINMAX
#define PANE_UNDEF_NOMINMAX
#endif
#if !defined(WIN32_LEAN_AND_MEAN)
#define WIN32_LEAN_AND_MEAN
#define PANE_UNDEF_WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
// After <windows.h>, whose types they use.
#include <setupapi.h>
#include <winioctl.h>
#if defined(PANE_UNDEF_NOMINMAX)
#undef NOMINMAX
#undef PANE_UNDEF_NOMINMAX
#endif
#if defined(PANE_UNDEF_WIN32_LEAN_AND_MEAN)
#undef WIN32_LEAN_AND_MEAN
#undef PANE_UNDEF_WIN32_LEAN_AND_MEAN
#endif

#if defined(_MSC_VER)
#pragma comment(lib, "setupapi.lib")  // MinGW ignores this; its builds pass -lsetupapi
#endif

namespace pane::map {

// The caching type the driver gives the user mapping of the BAR.
enum class WindowsIvshmemCache {
    write_combining,  // fast streaming stores for frames; publication then needs an sfence
    cached,           // ordinary write-back memory semantics
};

struct WindowsIvshmemOptions {
    std::uint32_t device = 0;  // which IVSHMEM device, in SetupAPI's enumeration order
    WindowsIvshmemCache cache = WindowsIvshmemCache::write_combining;
};

namespace detail::win_ivshmem {

// The driver's ABI, from its public header ivshmem/Public.h (virtio-win/kvm-guest-drivers-windows).
// Restated here rather than included because virtio-win does not install that header anywhere.
inline constexpr GUID kInterfaceGuid{0xdf576976, 0x569d, 0x4672, {0x95, 0xa0, 0xf5, 0x7e, 0x4e, 0xa0, 0xb2, 0x10}};

inline constexpr DWORD kRequestSize = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS);
inline constexpr DWORD kRequestMmap = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS);
inline constexpr DWORD kReleaseMmap = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x803, METHOD_BUFFERED, FILE_ANY_ACCESS);
// The numbers the driver switches on; a wrong CTL_CODE expansion would miss them silently.
static_assert(kRequestSize == 0x222004 && kRequestMmap == 0x222008 && kReleaseMmap == 0x22200C);

// IVSHMEM_CACHE_* values for MmapConfig::cache_mode.
inline constexpr std::uint8_t kCacheNonCached = 0;
inline constexpr std::uint8_t kCacheCached = 1;
inline constexpr std::uint8_t kCacheWriteCombined = 2;

// IVSHMEM_MMAP_CONFIG, the input of REQUEST_MMAP (drivers since December 2017 require it).
struct MmapConfig {
    std::uint8_t cache_mode;
};
static_assert(sizeof(MmapConfig) == 1);

// IVSHMEM_MMAP, the output of REQUEST_MMAP. A 32-bit process on 64-bit Windows gets the driver's
// 32-bit variant, whose pointer is 4 bytes: the same member order, so this definition matches
// both as the compiler lays it out for the process's own pointer size.
struct MmapResult {
    std::uint16_t peer_id;  // our IVSHMEM peer number
    std::uint64_t size;     // the BAR size, which is the size mapped
    void* ptr;              // the mapping in this process
    std::uint16_t vectors;  // MSI-X vectors available for doorbell events (unused by Pane)
};
static_assert(offsetof(MmapResult, size) == 8 && offsetof(MmapResult, ptr) == 16);
static_assert(sizeof(void*) != 8 || (offsetof(MmapResult, vectors) == 24 && sizeof(MmapResult) == 32));
static_assert(sizeof(void*) != 4 || (offsetof(MmapResult, vectors) == 20 && sizeof(MmapResult) == 24));

// What the driver's STATUS_DEVICE_ALREADY_ATTACHED (the device is mapped through another
// handle) becomes in user mode; MinGW's <winerror.h> lacks the name.
inline constexpr DWORD kErrorDeviceAlreadyAttached = 548;

[[nodiscard]] inline MapError from_win32(DWORD error) noexcept {
    switch (error) {
        case ERROR_FILE_NOT_FOUND:
        case ERROR_PATH_NOT_FOUND:
        case ERROR_NO_MORE_ITEMS:
        case ERROR_DEV_NOT_EXIST:
            return MapError::not_found;
        case ERROR_ACCESS_DENIED:
        case ERROR_SHARING_VIOLATION:
        case kErrorDeviceAlreadyAttached:
            return MapError::permission_denied;
        case ERROR_INVALID_PARAMETER:
            return MapError::invalid_argument;
        default:
            return MapError::system_error;
    }
}

// Owns the device handle and the driver's mapping. The mapping is released explicitly before
// the handle is closed: closing alone releases it too, but only once the driver's file cleanup
// runs, which another open handle to the same file object would postpone.
struct DeviceBacking final : Mapping::Backing {
    explicit DeviceBacking(HANDLE h) noexcept : handle(h) {}
    ~DeviceBacking() override {
        if (mapped) (void)DeviceIoControl(handle, kReleaseMmap, nullptr, 0, nullptr, 0, nullptr, nullptr);
        CloseHandle(handle);
    }
    DeviceBacking(const DeviceBacking&) = delete;
    DeviceBacking& operator=(const DeviceBacking&) = delete;
    HANDLE handle;
    bool mapped = false;
};

struct DeviceList {
    HDEVINFO set = SetupDiGetClassDevsW(&kInterfaceGuid, nullptr, nullptr, DIGCF_PRESENT | DIGCF_DEVICEINTERFACE);
    DeviceList() = default;
    ~DeviceList() {
        if (set != INVALID_HANDLE_VALUE) SetupDiDestroyDeviceInfoList(set);
    }
    DeviceList(const DeviceList&) = delete;
    DeviceList& operator=(const DeviceList&) = delete;
};

// The interface path of device `index` (for CreateFileW), or the Win32 error in `error`.
[[nodiscard]] inline std::wstring device_path(const DeviceList& list, std::uint32_t index, DWORD& error) {
    SP_DEVICE_INTERFACE_DATA iface{};
    iface.cbSize = sizeof(iface);
    if (!SetupDiEnumDeviceInterfaces(list.set, nullptr, &kInterfaceGuid, index, &iface)) {
        error = GetLastError();
        return {};
    }
    DWORD needed = 0;
    // Asks for the size only, so it "fails" with ERROR_INSUFFICIENT_BUFFER by design.
    (void)SetupDiGetDeviceInterfaceDetailW(list.set, &iface, nullptr, 0, &needed, nullptr);
    if (needed < sizeof(SP_DEVICE_INTERFACE_DETAIL_DATA_W)) {
        error = GetLastError();
        return {};
    }
    // DWORD elements, so the detail struct (which starts with a DWORD) is suitably aligned.
    std::vector<DWORD> storage((needed + sizeof(DWORD) - 1) / sizeof(DWORD));
    auto* detail = reinterpret_cast<SP_DEVICE_INTERFACE_DETAIL_DATA_W*>(storage.data());
    detail->cbSize = sizeof(SP_DEVICE_INTERFACE_DETAIL_DATA_W);  // the fixed part, not `needed`
    if (!SetupDiGetDeviceInterfaceDetailW(list.set, &iface, detail, needed, nullptr, nullptr)) {
        error = GetLastError();
        return {};
    }
    return std::wstring(detail->DevicePath);
}

// Restores a Win32 error code on return, so the caller's GetLastError() names the failure that
// decided the result rather than whatever the cleanup did last.
struct KeepLastError {
    DWORD& error;
    ~KeepLastError() { SetLastError(error); }
};

}  // namespace detail::win_ivshmem

// How many IVSHMEM devices the driver presents (0 without the driver or the device).
[[nodiscard]] inline std::uint32_t windows_ivshmem_devices() {
    const detail::win_ivshmem::DeviceList list;
    if (list.set == INVALID_HANDLE_VALUE) return 0;
    SP_DEVICE_INTERFACE_DATA iface{};
    iface.cbSize = sizeof(iface);
    std::uint32_t n = 0;
    while (SetupDiEnumDeviceInterfaces(list.set, nullptr, &detail::win_ivshmem::kInterfaceGuid, n, &iface)) ++n;
    return n;
}

// Maps the BAR of IVSHMEM device `options.device`. size == 0 maps the whole BAR; a size larger
// than the BAR is too_small (the region cannot grow), as is one smaller than a region header.
// Errors: not_found (no such device: driver not installed or no device at that index),
// permission_denied (another handle or process holds the device's mapping: the driver allows
// one), system_error (any other failure). On failure GetLastError() holds the Windows error
// that decided it (0 when none did, as for a size check).
// The Mapping's write_combining() is true when the mapping is write-combining, which is what
// the producer must pass on as ProducerOptions::write_combining.
[[nodiscard]] inline Result<Mapping, MapError> windows_ivshmem(std::uint64_t size,
                                                               const WindowsIvshmemOptions& options = {}) {
    namespace iv = detail::win_ivshmem;
    DWORD error = ERROR_SUCCESS;
    const iv::KeepLastError keep{error};

    std::wstring path;
    {
        const iv::DeviceList list;
        if (list.set == INVALID_HANDLE_VALUE) {
            error = GetLastError();
            return MapError::system_error;
        }
        path = iv::device_path(list, options.device, error);
        if (path.empty()) return iv::from_win32(error);
    }
    // No access rights asked for: the driver's IOCTLs are FILE_ANY_ACCESS. Shared opens, so a
    // second opener gets the driver's own "already mapped" answer rather than a sharing error.
    const HANDLE h =
        CreateFileW(path.c_str(), 0, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_EXISTING, 0, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
        error = GetLastError();
        return iv::from_win32(error);
    }
    std::unique_ptr<iv::DeviceBacking> backing;
    try {
        backing = std::make_unique<iv::DeviceBacking>(h);
    } catch (const std::bad_alloc&) {
        CloseHandle(h);
        return MapError::system_error;
    }

    std::uint64_t bar = 0;
    if (!DeviceIoControl(h, iv::kRequestSize, nullptr, 0, &bar, sizeof(bar), nullptr, nullptr)) {
        error = GetLastError();
        return iv::from_win32(error);
    }
    const std::uint64_t actual = size == 0 ? bar : size;
    if (actual > bar || actual < sizeof(RegionHeader)) return MapError::too_small;
    if (actual > SIZE_MAX) return MapError::invalid_argument;  // a 32-bit process cannot address it

    // Drivers before the cache-mode option (December 2017) ignore the input and always map
    // write-combining; current ones refuse a request without the config before touching
    // anything. So a request with no input succeeds only on an old driver, and then tells us
    // the mapping is write-combining whatever we would have asked for.
    iv::MmapResult out{};
    bool write_combining = true;
    if (!DeviceIoControl(h, iv::kRequestMmap, nullptr, 0, &out, sizeof(out), nullptr, nullptr)) {
        iv::MmapConfig config{options.cache == WindowsIvshmemCache::write_combining ? iv::kCacheWriteCombined
                                                                                    : iv::kCacheCached};
        out = {};
        if (!DeviceIoControl(h, iv::kRequestMmap, &config, sizeof(config), &out, sizeof(out), nullptr, nullptr)) {
            error = GetLastError();
            return iv::from_win32(error);
        }
        write_combining = options.cache == WindowsIvshmemCache::write_combining;
    }
    backing->mapped = true;
    if (out.ptr == nullptr || out.size < actual) return MapError::system_error;  // the driver broke its contract

    auto* data = static_cast<std::byte*>(out.ptr);
    try {
        std::string description = "ivshmem:" + std::to_string(options.device);
        return Mapping(std::move(backing), data, static_cast<std::size_t>(actual), std::move(description),
                       write_combining);
    } catch (const std::bad_alloc&) {
        return MapError::system_error;
    }
}

}  // namespace pane::map

#endif  // _WIN32
