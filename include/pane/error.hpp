// SPDX-License-Identifier: MIT
// Error values for Pane's setup calls, one enum class per operation, each usable as a
// std::error_code with a human message. Data-path calls return their own status enums (ring.hpp)
// and never throw.
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace pane {

// Mapping a region (map/*.hpp). Boost.Interprocess exceptions are translated to these.
enum class MapError {
    not_found = 1,       // no shm object or file by that name
    already_exists,      // create was asked for and the object exists
    permission_denied,   // the OS refused access
    too_small,           // the object is smaller than the caller or the header requires
    invalid_argument,    // bad name, path or size (zero, not page-sized for a device, ...)
    system_error,        // any other OS failure
};

// Laying out a region as its producer (ProducerSession::create).
enum class InitError {
    region_too_small = 1,  // the mapping cannot hold the requested layout
    invalid_layout,        // a channel spec is invalid (capacity, sizes, duplicate name, ...)
    too_many_channels,     // more channels than the table holds
    too_many_consumers,    // max_consumers is 0 or larger than kMaxConsumers
    producer_active,       // another producer's heartbeat is moving (ProducerOptions::take_over)
    too_few_buffers,       // a frame channel has fewer buffers than its viewers need (FrameSpec::viewers + 2)
};

// Attaching as a consumer (ConsumerSession::attach).
enum class AttachError {
    region_too_small = 1,  // the mapping is smaller than a header or than region_size
    bad_magic,             // not a Pane region (or never initialised)
    unsupported_version,   // major version differs from ours
    not_ready,             // no producer has finished initialising (or it closed)
    invalid_layout,        // the header or channel table fails validation (hostile or corrupt)
    no_free_slot,          // every consumer slot is held by a live consumer
    epoch_changed,         // the producer re-initialised repeatedly while we attached
};

// Opening a channel by name on a session.
enum class ChannelError {
    not_found = 1,     // no channel of that name
    wrong_kind,        // the channel exists but is not of the requested kind
    wrong_element,     // the ring's element size does not match the requested type
    invalid_layout,    // the channel's geometry fails validation
    already_open,      // this session already holds a handle on that channel's cursor
    not_attached,      // the session detached or lost its slot: attach again
};

[[nodiscard]] constexpr std::string_view describe(MapError e) noexcept {
    switch (e) {
        case MapError::not_found: return "shared memory object or file not found";
        case MapError::already_exists: return "shared memory object or file already exists";
        case MapError::permission_denied: return "permission denied";
        case MapError::too_small: return "mapping is smaller than required";
        case MapError::invalid_argument: return "invalid name, path or size";
        case MapError::system_error: return "operating system error while mapping";
    }
    return "unknown mapping error";
}

[[nodiscard]] constexpr std::string_view describe(InitError e) noexcept {
    switch (e) {
        case InitError::region_too_small: return "region is too small for the requested layout";
        case InitError::invalid_layout: return "invalid channel specification";
        case InitError::too_many_channels: return "more channels than the channel table holds";
        case InitError::too_many_consumers: return "consumer slot count out of range";
        case InitError::producer_active: return "another producer is publishing on this region";
        case InitError::too_few_buffers: return "a frame channel has fewer buffers than its viewers need";
    }
    return "unknown initialisation error";
}

[[nodiscard]] constexpr std::string_view describe(AttachError e) noexcept {
    switch (e) {
        case AttachError::region_too_small: return "mapping is smaller than the region it holds";
        case AttachError::bad_magic: return "not a Pane region (bad magic)";
        case AttachError::unsupported_version: return "unsupported protocol major version";
        case AttachError::not_ready: return "no producer has the region ready";
        case AttachError::invalid_layout: return "region header or channel table is invalid";
        case AttachError::no_free_slot: return "all consumer slots are in use";
        case AttachError::epoch_changed: return "producer kept re-initialising during attach";
    }
    return "unknown attach error";
}

[[nodiscard]] constexpr std::string_view describe(ChannelError e) noexcept {
    switch (e) {
        case ChannelError::not_found: return "no channel of that name";
        case ChannelError::wrong_kind: return "channel is of another kind";
        case ChannelError::wrong_element: return "channel element size does not match the type";
        case ChannelError::invalid_layout: return "channel geometry is invalid";
        case ChannelError::already_open: return "channel is already open on this session";
        case ChannelError::not_attached: return "session no longer holds its consumer slot";
    }
    return "unknown channel error";
}

namespace detail {

template <class E>
class ErrorCategory final : public std::error_category {
public:
    explicit ErrorCategory(const char* name) noexcept : name_(name) {}
    const char* name() const noexcept override { return name_; }
    std::string message(int value) const override { return std::string(describe(static_cast<E>(value))); }

private:
    const char* name_;
};

template <class E>
const std::error_category& category_for(const char* name) noexcept {
    static const ErrorCategory<E> category(name);
    return category;
}

}  // namespace detail

inline std::error_code make_error_code(MapError e) noexcept {
    return {static_cast<int>(e), detail::category_for<MapError>("pane.map")};
}
inline std::error_code make_error_code(InitError e) noexcept {
    return {static_cast<int>(e), detail::category_for<InitError>("pane.init")};
}
inline std::error_code make_error_code(AttachError e) noexcept {
    return {static_cast<int>(e), detail::category_for<AttachError>("pane.attach")};
}
inline std::error_code make_error_code(ChannelError e) noexcept {
    return {static_cast<int>(e), detail::category_for<ChannelError>("pane.channel")};
}

}  // namespace pane

template <> struct std::is_error_code_enum<pane::MapError> : std::true_type {};
template <> struct std::is_error_code_enum<pane::InitError> : std::true_type {};
template <> struct std::is_error_code_enum<pane::AttachError> : std::true_type {};
template <> struct std::is_error_code_enum<pane::ChannelError> : std::true_type {};
