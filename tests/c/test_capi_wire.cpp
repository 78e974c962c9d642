// SPDX-License-Identifier: MIT
// The C++ side of the C test: compiles capi/wire_check.hpp (every C wire struct of pane.h against
// its C++ counterpart: size, alignment, each field's offset and size; every constant) in the
// test's own build (C flags, -m32, MinGW), and tells the C test at run time that it was linked.
#include "wire_check.hpp"

extern "C" int pane_test_wire_checked(void);

// The number of struct pairs wire_check.hpp compares (pane.h defines 20 wire structs).
extern "C" int pane_test_wire_checked(void) { return 20; }
