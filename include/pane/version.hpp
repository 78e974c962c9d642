// SPDX-License-Identifier: MIT
// The library's release version (distinct from the wire protocol version in layout.hpp).
#pragma once

#define PANE_VERSION_MAJOR 0
#define PANE_VERSION_MINOR 1
#define PANE_VERSION_PATCH 0
#define PANE_VERSION_STRING "0.1.0"
