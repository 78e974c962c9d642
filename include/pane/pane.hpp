// SPDX-License-Identifier: MIT
// Everything of Pane's core protocol in one include: layout, rings, sessions, waiting. Mapping
// backends (which need Boost.Interprocess) are included separately from pane/map/.
#pragma once

#include "version.hpp"  // first: the C++20 check

#include "error.hpp"
#include "layout.hpp"
#include "region_spec.hpp"
#include "result.hpp"
#include "ring.hpp"
#include "session.hpp"
#include "version.hpp"
#include "frames.hpp"
#include "cursor.hpp"
#include "control.hpp"
#include "display_layout.hpp"
#include "wait.hpp"
