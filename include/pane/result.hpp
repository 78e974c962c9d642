// SPDX-License-Identifier: MIT
// A small value-or-error type for setup calls. C++20 has no std::expected, and Pane must build
// with g++ 12 and clang 14; this is the subset Pane needs, with the same spelling (has_value,
// value, error) so moving to std::expected later is mechanical. Like std::expected, asking for
// the side that is not there fails loudly in every build mode (never undefined behaviour, which
// under -DNDEBUG turned a misspelled channel name into a segfault): it throws
// pane::bad_result_access where exceptions are enabled, and prints a line to stderr and aborts
// where they are not (-fno-exceptions).
#pragma once

#include "version.hpp"  // first: the C++20 check

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define PANE_HAS_EXCEPTIONS 1
#else
#define PANE_HAS_EXCEPTIONS 0
#endif

namespace pane {

template <class E>
class bad_result_access;

// What Result throws for error() on a value (and the base of every bad_result_access<E>, so one
// handler catches them all). A std::logic_error: the caller could have checked has_value().
template <>
class bad_result_access<void> : public std::logic_error {
public:
    explicit bad_result_access(const std::string& what) : std::logic_error(what) {}
};

// What Result<T, E> throws for value(), operator-> or operator* on an error; carries the error.
template <class E>
class bad_result_access : public bad_result_access<void> {
public:
    bad_result_access(const std::string& what, E error) : bad_result_access<void>(what), error_(error) {}
    [[nodiscard]] E error() const noexcept { return error_; }

private:
    E error_;
};

namespace detail {

template <class E>
[[nodiscard]] std::string describe_error(E error) {
    if constexpr (std::is_error_code_enum_v<E>) {
        const std::error_code code(error);
        return code.message() + " (" + code.category().name() + " " + std::to_string(code.value()) + ")";
    } else if constexpr (std::is_enum_v<E>) {
        return "error " + std::to_string(static_cast<long long>(error));
    } else {
        return "an error";
    }
}

// Out of line and cold, so the checks in value() stay one compare and a branch.
template <class E>
[[noreturn]] void result_holds_error(const char* call, E error) {
    const std::string what = std::string("pane::Result::") + call + " on an error: " + describe_error(error);
#if PANE_HAS_EXCEPTIONS
    throw bad_result_access<E>(what, error);
#else
    std::fprintf(stderr, "%s\n", what.c_str());
    std::abort();
#endif
}

[[noreturn]] inline void result_holds_value() {
    const char* what = "pane::Result::error() on a value";
#if PANE_HAS_EXCEPTIONS
    throw bad_result_access<void>(what);
#else
    std::fprintf(stderr, "%s\n", what);
    std::abort();
#endif
}

}  // namespace detail

template <class T, class E>
class [[nodiscard]] Result {
    static_assert(!std::is_same_v<T, E>, "value and error types must differ");

public:
    Result(T value) noexcept(std::is_nothrow_move_constructible_v<T>) : state_(std::move(value)) {}
    Result(E error) noexcept : state_(error) {}

    [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    // On an error: throws bad_result_access<E> (without exceptions: message and abort).
    [[nodiscard]] T& value() & { return checked("value()"); }
    [[nodiscard]] const T& value() const& { return checked("value()"); }
    [[nodiscard]] T&& value() && { return std::move(checked("value()")); }
    T* operator->() { return &checked("operator->"); }
    const T* operator->() const { return &checked("operator->"); }
    T& operator*() & { return checked("operator*"); }
    const T& operator*() const& { return checked("operator*"); }

    // On a value: throws bad_result_access<void> (without exceptions: message and abort).
    [[nodiscard]] E error() const {
        if (has_value()) detail::result_holds_value();
        return *std::get_if<1>(&state_);
    }

private:
    T& checked(const char* call) {
        if (!has_value()) detail::result_holds_error(call, *std::get_if<1>(&state_));
        return *std::get_if<0>(&state_);
    }
    const T& checked(const char* call) const {
        if (!has_value()) detail::result_holds_error(call, *std::get_if<1>(&state_));
        return *std::get_if<0>(&state_);
    }

    std::variant<T, E> state_;
};

}  // namespace pane
