// SPDX-License-Identifier: MIT
// Results and their presentation: cells (one measurement repeated over rounds), medians, text
// and markdown tables, and a small JSON writer.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "job.hpp"

namespace bench {

struct RoundResult {
    Metrics metrics;
    Window window;
    std::string failure;  // the measurement failed (crash, timeout); no metrics
};

using Runner = std::function<Window(ControlMap&, Job, const std::vector<int>&, Metrics&)>;

// One measurement, repeated once per round.
struct Cell {
    std::string section;  // ring | fanout | roundtrip | wait | frames
    std::string label;    // what is measured, e.g. "pane" or "boost spsc_queue"
    Job job;
    Runner run;
    std::vector<RoundResult> rounds;

    [[nodiscard]] bool has(const std::string& metric) const {
        for (const auto& r : rounds) {
            if (r.failure.empty() && r.metrics.count(metric) != 0) return true;
        }
        return false;
    }
    // Median over the rounds that produced the metric.
    [[nodiscard]] double median_of(const std::string& metric) const {
        std::vector<double> v;
        for (const auto& r : rounds) {
            auto it = r.metrics.find(metric);
            if (r.failure.empty() && it != r.metrics.end()) v.push_back(it->second);
        }
        return median(v);
    }
    // The median over rounds of p99.9 / p50, counting only rounds in which the floor probes
    // themselves kept p99.9 within `limit` times their p50: in the others the machine (timer
    // interrupts, the hypervisor taking the vCPU) put a tail on any shared-memory round trip, which
    // says nothing about the transport. `quiet` gets how many rounds counted.
    [[nodiscard]] double median_tail_in_quiet_rounds(double limit, std::size_t& quiet) const {
        std::vector<double> v;
        for (const auto& r : rounds) {
            const auto p50 = r.metrics.find("p50_ns"), p999 = r.metrics.find("p999_ns");
            if (!r.failure.empty() || p50 == r.metrics.end() || p999 == r.metrics.end() || p50->second <= 0) continue;
            const auto floor_tail = [](const ProbeResult& probe) {
                return probe.ns.p50 > 0 ? probe.ns.p999 / probe.ns.p50 : 0.0;
            };
            if (std::max(floor_tail(r.window.before), floor_tail(r.window.after)) > limit) continue;
            v.push_back(p999->second / p50->second);
        }
        quiet = v.size();
        return median(v);
    }
    [[nodiscard]] double median_floor() const {
        std::vector<double> v;
        for (const auto& r : rounds) {
            if (r.failure.empty()) v.push_back(r.window.floor_ns());
        }
        return median(v);
    }
    [[nodiscard]] std::uint64_t errors() const {
        std::uint64_t e = 0;
        for (const auto& r : rounds) e += static_cast<std::uint64_t>(r.metrics.count("errors") ? r.metrics.at("errors") : 0);
        return e;
    }
    [[nodiscard]] unsigned failures() const {
        unsigned n = 0;
        for (const auto& r : rounds) n += r.failure.empty() ? 0 : 1;
        return n;
    }
    [[nodiscard]] unsigned noisy_rounds() const {
        unsigned n = 0;
        for (const auto& r : rounds) n += r.failure.empty() && r.window.noisy ? 1 : 0;
        return n;
    }
    // "ok", "3 errors", "failed: ..." for the table's last column.
    [[nodiscard]] std::string verdict() const {
        if (failures() > 0) {
            for (const auto& r : rounds) {
                if (!r.failure.empty()) return "FAILED: " + r.failure;
            }
        }
        if (errors() > 0) return fmt::format("{} ERRORS", errors());
        return "ok";
    }
};

// ---------------------------------------------------------------------------------------------
// Tables

struct Table {
    std::string title;
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
    std::string note;

    void print(bool markdown) const {
        if (markdown) {
            fmt::print("\n#### {}\n\n|", title);
            for (const auto& h : header) fmt::print(" {} |", h);
            fmt::print("\n|");
            for (std::size_t i = 0; i < header.size(); ++i) fmt::print("{}|", i == 0 ? "---" : "---:");
            fmt::print("\n");
            for (const auto& r : rows) {
                fmt::print("|");
                for (const auto& c : r) fmt::print(" {} |", c);
                fmt::print("\n");
            }
            if (!note.empty()) fmt::print("\n{}\n", note);
            return;
        }
        std::vector<std::size_t> width(header.size());
        for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
        for (const auto& r : rows) {
            for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
        }
        fmt::print("\n{}\n", title);
        const auto line = [&](const std::vector<std::string>& cells) {
            fmt::print(" ");
            for (std::size_t i = 0; i < cells.size(); ++i) {
                if (i == 0) {
                    fmt::print(" {:<{}}", cells[i], width[i]);
                } else {
                    fmt::print("  {:>{}}", cells[i], width[i]);
                }
            }
            fmt::print("\n");
        };
        line(header);
        for (const auto& r : rows) line(r);
        if (!note.empty()) fmt::print("  {}\n", note);
    }
};

inline std::string fmt_ns(double ns) {
    if (ns <= 0) return "-";
    if (ns < 1e3) return fmt::format("{:.0f} ns", ns);
    if (ns < 1e6) return fmt::format("{:.1f} us", ns / 1e3);
    return fmt::format("{:.2f} ms", ns / 1e6);
}
inline std::string fmt_ratio(double r) { return r > 0 ? fmt::format("{:.2f}x", r) : "-"; }

// ---------------------------------------------------------------------------------------------
// JSON

// Writes one JSON document to stdout; commas are placed by the writer.
class Json {
public:
    void open(char c) {
        comma();
        out_ += c;
        first_ = true;
    }
    void close(char c) {
        out_ += c;
        first_ = false;
    }
    void key(const std::string& k) {
        comma();
        out_ += pt::json_string(k) + ":";
        first_ = true;
    }
    void str(const std::string& v) {
        comma();
        out_ += pt::json_string(v);
    }
    void num(double v) {
        comma();
        out_ += std::isfinite(v) ? fmt::format("{}", v) : "null";
    }
    void boolean(bool v) {
        comma();
        out_ += v ? "true" : "false";
    }
    void kv(const std::string& k, const std::string& v) {
        key(k);
        str(v);
    }
    void kv(const std::string& k, double v) {
        key(k);
        num(v);
    }
    void kv_bool(const std::string& k, bool v) {
        key(k);
        boolean(v);
    }
    [[nodiscard]] const std::string& text() const { return out_; }

private:
    void comma() {
        if (!first_) out_ += ',';
        first_ = false;
    }
    std::string out_;
    bool first_ = true;
};

}  // namespace bench
