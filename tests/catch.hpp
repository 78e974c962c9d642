// SPDX-License-Identifier: MIT
// Catch2 v2 (Debian bookworm ships 2.13, single header) or v3 (split headers, compiled library).
#pragma once
#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_test_macros.hpp>
#include <catch2/catch_session.hpp>
#else
#include <catch2/catch.hpp>
#endif
