// SPDX-License-Identifier: MIT
// The library's release version (distinct from the wire protocol version in layout.hpp), and the
// language check every Pane header makes first: the headers need C++20, and neither pane.pc nor
// the CMake package forces a -std flag (it would override a user's newer one), so a build below
// C++20 stops here with one clear line instead of a page of errors from deeper in the headers.
#pragma once

#if !defined(__cplusplus)
#error "Pane's headers are C++20; a C program uses the C ABI instead, <pane/pane.h>"
#endif
#if defined(_MSVC_LANG)
#define PANE_CPLUSPLUS _MSVC_LANG
#else
#define PANE_CPLUSPLUS __cplusplus
#endif
#if PANE_CPLUSPLUS < 202002L
#error "Pane needs C++20 or newer: compile with -std=c++20 (or later; MSVC: /std:c++20)"
#endif

#define PANE_VERSION_MAJOR 0
#define PANE_VERSION_MINOR 1
#define PANE_VERSION_PATCH 0
#define PANE_VERSION_STRING "0.1.0"
