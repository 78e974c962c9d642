// SPDX-License-Identifier: MIT
// Test entry point. "--child ROLE args..." runs a registered child role instead of the tests:
// multi-process tests re-run this binary so parent and child share one build.
#if !__has_include(<catch2/catch_test_macros.hpp>)
#define CATCH_CONFIG_RUNNER
#endif
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "catch.hpp"
#include "support.hpp"

int main(int argc, char** argv) {
    if (argc >= 3 && std::string_view(argv[1]) == "--child") {
        auto& roles = pane_test::child_roles();
        const auto it = roles.find(argv[2]);
        if (it == roles.end()) {
            std::cerr << "unknown child role " << argv[2] << "\n";
            return 2;
        }
        return it->second(std::vector<std::string>(argv + 3, argv + argc));
    }
    // PANE_TEST_DURATIONS=1 (scripts/test.sh) prints each test case's time, as --durations=yes
    // would; an environment variable rather than an argument, because meson's --test-args would
    // hand the argument to every test of the pass, the tools and pane-bench included.
    Catch::Session session;
    const int status = session.applyCommandLine(argc, argv);
    if (status != 0) return status;
    if (const char* d = std::getenv("PANE_TEST_DURATIONS"); d != nullptr && std::string_view(d) == "1") {
        session.configData().showDurations = Catch::ShowDurations::Always;
    }
    return session.run();
}
