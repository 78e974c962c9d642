// SPDX-License-Identifier: MIT
// Test entry point. "--child ROLE args..." runs a registered child role instead of the tests:
// multi-process tests re-run this binary so parent and child share one build.
#if !__has_include(<catch2/catch_test_macros.hpp>)
#define CATCH_CONFIG_RUNNER
#endif
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
    return Catch::Session().run(argc, argv);
}
