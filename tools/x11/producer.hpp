// SPDX-License-Identifier: MIT
// `pane-produce --source x11`: the entry point pane-produce calls (producer.cpp), and the options
// it adds to pane-produce's list.
#pragma once

#include <string>
#include <vector>

#include "../cli.hpp"

namespace pane_tools::x11 {

// Options only the X11 source reads (pane-produce also accepts its region options, --fps,
// --duration, --buffers, --size, --json).
inline const std::vector<std::string> kX11Options{"display", "pointer-hz", "force"};

inline constexpr const char* kX11Help = R"(X11 source (--source x11):
  --display :N          the X display to capture (default $DISPLAY)
  --size WxH            the largest frame the region holds (default: the
                        screen's size); a larger screen is captured top-left
  --fps N               at most N frames per second; frames are published
                        only when the screen changed (damage)            (default 60)
  --pointer-hz N        pointer position polls per second while it moves,
                        1..10000 (at rest: every 8 ms)                   (default 1000)
  --force               with --file or --shm: overwrite an existing object
                        that is not a Pane region (refused otherwise)
)";

// Runs the X11 producer until --duration or SIGINT/SIGTERM; returns the exit status.
int run_x11_producer(const Options& opt);

}  // namespace pane_tools::x11
