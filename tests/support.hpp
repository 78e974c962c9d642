// SPDX-License-Identifier: MIT
// Test support: in-process regions, child processes (the test binary re-running itself with
// --child ROLE ...), unique shm names, and the scale factor that sanitizer passes turn down.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <pane/map/memory.hpp>
#include <pane/pane.hpp>

namespace pane_test {

// PANE_TEST_SCALE (default 1.0) shrinks message counts for slow passes (TSan, valgrind).
inline std::uint64_t scaled(std::uint64_t n) {
    const char* env = std::getenv("PANE_TEST_SCALE");
    const double scale = env != nullptr ? std::atof(env) : 1.0;
    const auto v = static_cast<std::uint64_t>(static_cast<double>(n) * (scale > 0 ? scale : 1.0));
    return v > 0 ? v : 1;
}

// A region in process memory holding `spec`.
inline pane::map::Mapping memory_region(const pane::RegionSpec& spec) {
    auto plan = pane::plan_region(spec);
    auto mapping = pane::map::in_process(plan->region_size);
    return std::move(mapping.value());
}

// Child roles: registered by name in each test file, run by main() for "--child ROLE args...".
using ChildMain = std::function<int(const std::vector<std::string>& args)>;
std::map<std::string, ChildMain>& child_roles();
struct RegisterChild {
    RegisterChild(const std::string& name, ChildMain fn) { child_roles()[name] = std::move(fn); }
};

class ChildProcess {
public:
    // Starts this test binary as `--child role args...`.
    static ChildProcess spawn(const std::string& role, const std::vector<std::string>& args);
    ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
    ChildProcess(const ChildProcess&) = delete;
    ~ChildProcess();
    void kill_hard();  // SIGKILL, then reap
    // Exit status, or nullopt if it did not exit within `timeout` (it is then killed).
    std::optional<int> wait(std::chrono::milliseconds timeout);
    [[nodiscard]] int pid() const { return pid_; }

private:
    explicit ChildProcess(int pid) : pid_(pid) {}
    int pid_;
};

// A shm name unique to this process and call, removed on destruction.
class ShmName {
public:
    explicit ShmName(const std::string& tag);
    ~ShmName();
    [[nodiscard]] const std::string& str() const { return name_; }

private:
    std::string name_;
};

// Publishes a complete 16x8 BGRA frame whose bytes are all `fill`. The schedule point between
// the pixels and the progress lets an interleaving test stop a producer mid-frame.
inline pane::FrameStatus publish_frame(pane::FrameProducer& frames, std::uint8_t fill) {
    pane::FrameWriter w;
    pane::FrameInfo info;
    info.width = 16;
    info.height = 8;
    const auto s = frames.begin(info, w);
    if (s != pane::FrameStatus::ok) return s;
    std::memset(w.bytes().data(), fill, w.bytes().size());
    PANE_SCHEDULE_POINT("test.pixels_written");
    w.finish();
    return s;
}

// A word of a mapping the kernel cannot futex: the vDSO's data page ([vvar]) is mapped VM_PFNMAP,
// like a guest's PCI BAR, so FUTEX_WAIT on it fails with EFAULT while reading it works.
const std::uint32_t* unfutexable_word();

// Polls `condition` until true or `timeout`; tests use it instead of fixed sleeps.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace pane_test
