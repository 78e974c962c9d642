// SPDX-License-Identifier: MIT
// A small value-or-error type for setup calls. C++20 has no std::expected, and Pane must build
// with g++ 12 and clang 14; this is the subset Pane needs, with the same spelling (has_value,
// value, error) so moving to std::expected later is mechanical.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace pane {

template <class T, class E>
class [[nodiscard]] Result {
    static_assert(!std::is_same_v<T, E>, "value and error types must differ");

public:
    Result(T value) noexcept(std::is_nothrow_move_constructible_v<T>) : state_(std::move(value)) {}
    Result(E error) noexcept : state_(error) {}

    [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    // Precondition: has_value(). Checked in debug builds.
    [[nodiscard]] T& value() & noexcept { assert(has_value()); return *std::get_if<0>(&state_); }
    [[nodiscard]] const T& value() const& noexcept { assert(has_value()); return *std::get_if<0>(&state_); }
    [[nodiscard]] T&& value() && noexcept { assert(has_value()); return std::move(*std::get_if<0>(&state_)); }
    T* operator->() noexcept { return &value(); }
    const T* operator->() const noexcept { return &value(); }
    T& operator*() & noexcept { return value(); }

    // Precondition: !has_value(). Checked in debug builds.
    [[nodiscard]] E error() const noexcept { assert(!has_value()); return *std::get_if<1>(&state_); }

private:
    std::variant<T, E> state_;
};

}  // namespace pane
