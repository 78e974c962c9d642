// SPDX-License-Identifier: MIT
// Small command-line helpers shared by the tools: option parsing, usage errors, --version, percentiles, a status line
// that rewrites itself on a terminal, and fmt output (fmt 9 has no fmt::println).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <fmt/core.h>

#include <pane/layout.hpp>
#include <pane/version.hpp>

namespace pane_tools {

// A mistake in the command line: main prints it as one line, "pane-TOOL: WHAT (see pane-TOOL
// --help)", and exits with status 2.
class UsageError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// "pane-TOOL: WHAT (see pane-TOOL --help)": the one line a usage error prints.
inline void print_usage_error(std::string_view tool, std::string_view what) {
    fmt::print(stderr, "{}: {} (see {} --help)\n", tool, what, tool);
}

// --version: the library's release and the wire protocol version this build speaks.
inline void print_version(std::string_view tool) {
    fmt::print("{}: Pane {}, protocol {}.{}\n", tool, PANE_VERSION_STRING, pane::kVersionMajor, pane::kVersionMinor);
}

// --name value and --flag options; everything is a string until asked for. An option in
// `optional_value` takes the next argument only if it does not start with "--" (else ""). Any
// other option takes the next argument as its value, which must not start with "--". Mistakes are reported by require_known
// (call it before reading any value), unknown options first: "--bogus" given last is an unknown
// option, not one missing its value.
class Options {
public:
    Options(int argc, char** argv, std::vector<std::string> flags, std::vector<std::string> optional_value = {}) {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (a.rfind("--", 0) != 0 || a.size() == 2) {
                positional_.push_back(a);
                continue;
            }
            a = a.substr(2);
            order_.push_back(a);
            const bool next_is_value = i + 1 < argc && std::string_view(argv[i + 1]).rfind("--", 0) != 0;
            if (std::find(flags.begin(), flags.end(), a) != flags.end()) {
                values_[a] = "1";
            } else if (std::find(optional_value.begin(), optional_value.end(), a) != optional_value.end()) {
                values_[a] = next_is_value ? argv[++i] : "";
            } else if (next_is_value) {
                values_[a] = argv[++i];
            } else {  // last, or followed by another option: "--shm --json" names no shm object
                values_[a] = "";
                if (missing_value_.empty()) missing_value_ = a;
            }
        }
    }
    [[nodiscard]] bool has(const std::string& k) const { return values_.count(k) != 0; }
    [[nodiscard]] std::string str(const std::string& k, const std::string& def) const {
        auto it = values_.find(k);
        return it == values_.end() ? def : it->second;
    }
    // A non-negative decimal number; anything else (including "-1", which stoull would wrap)
    // is a usage error naming the option.
    [[nodiscard]] std::uint64_t num(const std::string& k, std::uint64_t def) const {
        auto it = values_.find(k);
        if (it == values_.end()) return def;
        const std::string& text = it->second;
        const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
        try {
            if (digits) return std::stoull(text);
        } catch (const std::out_of_range&) {
        }
        throw UsageError("--" + k + " wants a non-negative number, not '" + text + "'");
    }
    // A whole number from lo to hi; anything else is a usage error naming the option and the range.
    [[nodiscard]] std::uint64_t num_in(const std::string& k, std::uint64_t def, std::uint64_t lo, std::uint64_t hi) const {
        const auto range = [&] { return "--" + k + " wants a whole number from " + std::to_string(lo) + " to " + std::to_string(hi); };
        std::uint64_t v = def;
        try {
            v = num(k, def);
        } catch (const UsageError&) {
            throw UsageError(range() + ", not '" + str(k, "") + "'");
        }
        if (v < lo || v > hi) throw UsageError(range() + ", not " + std::to_string(v));
        return v;
    }
    // Throws UsageError for the first option (in command-line order) not in `known`, flags
    // included, so a typo is not silently taken as another option's value; then for an option
    // given without its value.
    void require_known(const std::vector<std::string>& known) const {
        for (const auto& k : order_) {
            if (std::find(known.begin(), known.end(), k) == known.end()) throw UsageError("unknown option --" + k);
        }
        if (!missing_value_.empty()) throw UsageError("option --" + missing_value_ + " needs a value");
    }
    [[nodiscard]] const std::vector<std::string>& positional() const { return positional_; }

private:
    std::map<std::string, std::string> values_;
    std::vector<std::string> order_;  // option names as given
    std::vector<std::string> positional_;
    std::string missing_value_;  // the first option given without its value
};

// A non-negative decimal number (fractions allowed) of at most `max`; else a usage error naming the option.
inline double real_option(const Options& opt, const std::string& key, double def, double max) {
    if (!opt.has(key)) return def;
    const std::string v = opt.str(key, "");
    double x = 0;
    std::size_t used = 0;
    try {
        x = std::stod(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != v.size() || !std::isfinite(x) || x < 0 || x > max) {
        throw UsageError(fmt::format("--{} wants a number from 0 to {}", key, max));
    }
    return x;
}

// A JSON string literal for any bytes: quotes and backslashes escaped, control and non-ASCII
// bytes as \u00XX (names read from a hostile region must not break the output or a terminal).
inline std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u >= 0x7f) {
            out += fmt::format("\\u{:04x}", u);
        } else {
            out += c;
        }
    }
    return out + "\"";
}

struct Percentiles {
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};

// Sorts `samples` in place.
inline Percentiles percentiles(std::vector<std::uint64_t>& samples) {
    Percentiles p;
    if (samples.empty()) return p;
    std::sort(samples.begin(), samples.end());
    auto at = [&](double q) {
        const auto i = static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1));
        return static_cast<double>(samples[i]);
    };
    p.p50 = at(0.50);
    p.p90 = at(0.90);
    p.p99 = at(0.99);
    p.p999 = at(0.999);
    p.max = static_cast<double>(samples.back());
    return p;
}

// One line of live progress on stderr, rewritten in place when stderr is a terminal.
class StatusLine {
public:
    StatusLine() : tty_(::isatty(STDERR_FILENO) == 1) {}
    void show(const std::string& text) {
        if (tty_) fmt::print(stderr, "\r\033[K{}", text);
    }
    void done() {
        if (tty_) fmt::print(stderr, "\r\033[K");
    }

private:
    bool tty_;
};

}  // namespace pane_tools
