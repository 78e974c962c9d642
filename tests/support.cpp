// SPDX-License-Identifier: MIT
#include "support.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include <pane/map/shm.hpp>

namespace pane_test {

std::map<std::string, ChildMain>& child_roles() {
    static std::map<std::string, ChildMain> roles;
    return roles;
}

ChildProcess ChildProcess::spawn(const std::string& role, const std::vector<std::string>& args) {
    std::vector<std::string> argv_store{"/proc/self/exe", "--child", role};
    argv_store.insert(argv_store.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_store) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::execv("/proc/self/exe", argv.data());
        ::_exit(127);
    }
    return ChildProcess(pid);
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0) kill_hard();
}

void ChildProcess::kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            if (WIFEXITED(status)) return WEXITSTATUS(status);
            return 128 + WTERMSIG(status);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            kill_hard();
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return std::nullopt;
}

ShmName::ShmName(const std::string& tag) {
    static std::atomic<int> counter{0};
    name_ = "pane-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    pane::map::remove_shm(name_);
}

ShmName::~ShmName() { pane::map::remove_shm(name_); }

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return condition();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

const std::uint32_t* unfutexable_word() {
    std::FILE* maps = std::fopen("/proc/self/maps", "r");
    if (maps == nullptr) return nullptr;
    char line[512];
    unsigned long start = 0;
    while (start == 0 && std::fgets(line, sizeof line, maps) != nullptr) {
        if (std::strstr(line, "[vvar]") != nullptr) std::sscanf(line, "%lx", &start);
    }
    std::fclose(maps);
    return reinterpret_cast<const std::uint32_t*>(start);
}

}  // namespace pane_test
