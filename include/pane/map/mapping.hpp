// SPDX-License-Identifier: MIT
// A mapped region of shared memory, whatever its backend (POSIX shm object, file or device,
// in-process buffer). Move-only; unmaps on destruction. The core headers only ever see the
// std::span<std::byte> it hands out, so they depend on no mapping library.
#pragma once

#include "../version.hpp"  // first: the C++20 check

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>

namespace pane::map {

// How to treat an existing object when opening for the producer.
enum class OpenMode {
    create_only,     // fail with already_exists if it exists
    open_or_create,  // reuse it (grown to the requested size if smaller), or create it
    open_only,       // fail with not_found if it does not exist
};

class Mapping {
public:
    // The backend keeps whatever must stay alive while the bytes are mapped.
    struct Backing {
        virtual ~Backing() = default;
    };

    Mapping() = default;
    Mapping(std::unique_ptr<Backing> backing, std::byte* data, std::size_t size, std::string description,
            bool write_combining = false) noexcept
        : backing_(std::move(backing)),
          data_(data),
          size_(size),
          description_(std::move(description)),
          write_combining_(write_combining) {}

    [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {data_, size_}; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    // Human-readable origin, e.g. "shm:pane-demo" or "file:/dev/shm/vm", for tools' reports.
    [[nodiscard]] const std::string& description() const noexcept { return description_; }
    // True for write-combining device memory; pass on as ProducerOptions::write_combining.
    [[nodiscard]] bool write_combining() const noexcept { return write_combining_; }

private:
    std::unique_ptr<Backing> backing_;
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    std::string description_;
    bool write_combining_ = false;
};

}  // namespace pane::map
