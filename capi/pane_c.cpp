// SPDX-License-Identifier: MIT
// The C ABI (include/pane/pane.h) over the C++ headers: each opaque handle holds the C++ session
// and the display channel ends a C producer or consumer needs, and each function translates its
// arguments, calls the C++ API and maps the answer to a pane_status. Nothing thrown inside
// crosses the boundary: every entry point runs its body through guard(), which turns
// std::bad_alloc into PANE_E_NO_MEMORY and anything else into PANE_E_INTERNAL.
#define PANE_C_BUILDING 1
#include "pane/pane.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <utility>

#include <pane/map/mapping.hpp>
#include <pane/map/memory.hpp>
#include <pane/pane.hpp>

#if PANE_CAPI_HAVE_BOOST
#include <pane/map/file.hpp>
#include <pane/map/shm.hpp>
#endif
#if defined(__linux__)
#include <pane/map/ivshmem.hpp>
#endif
#if defined(_WIN32)
#include <pane/map/windows_ivshmem.hpp>
#endif

#include "wire_check.hpp"

namespace {

using pane::Clock;

constexpr const char* kFrames = PANE_CHANNEL_NAME_FRAMES;
constexpr const char* kCursorShape = PANE_CHANNEL_NAME_CURSOR_SHAPE;
constexpr const char* kCursorPosition = PANE_CHANNEL_NAME_CURSOR_POSITION;
constexpr const char* kControl = PANE_CHANNEL_NAME_CONTROL;

// Runs `body` (returning pane_status); no exception leaves.
template <class Body>
pane_status guard(Body&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return PANE_E_NO_MEMORY;
    } catch (...) {
        return PANE_E_INTERNAL;
    }
}

// The C++ error enums, each in its range (pane.h).
pane_status from(pane::MapError e) noexcept { return static_cast<pane_status>(200 + static_cast<int>(e)); }
pane_status from(pane::InitError e) noexcept { return static_cast<pane_status>(300 + static_cast<int>(e)); }
pane_status from(pane::AttachError e) noexcept { return static_cast<pane_status>(400 + static_cast<int>(e)); }
pane_status from(pane::ChannelError e) noexcept { return static_cast<pane_status>(500 + static_cast<int>(e)); }

pane_status from(pane::FrameStatus s) noexcept {
    switch (s) {
        case pane::FrameStatus::ok: return PANE_OK;
        case pane::FrameStatus::invalid_frame: return PANE_INVALID_FRAME;
        case pane::FrameStatus::no_free_buffer: return PANE_NO_FREE_BUFFER;
        case pane::FrameStatus::no_frame: return PANE_NO_FRAME;
        case pane::FrameStatus::superseded: return PANE_SUPERSEDED;
        case pane::FrameStatus::reused: return PANE_REUSED;
        case pane::FrameStatus::timed_out: return PANE_TIMED_OUT;
        case pane::FrameStatus::broken: return PANE_BROKEN;
        case pane::FrameStatus::epoch_changed: return PANE_EPOCH_CHANGED;
        case pane::FrameStatus::slot_lost: return PANE_SLOT_LOST;
    }
    return PANE_E_INTERNAL;
}

pane_status from(pane::RowCopyStatus s) noexcept {
    switch (s) {
        case pane::RowCopyStatus::ok: return PANE_OK;
        case pane::RowCopyStatus::no_frame: return PANE_E_BAD_STATE;
        case pane::RowCopyStatus::out_of_range: return PANE_ROWS_OUT_OF_RANGE;
        case pane::RowCopyStatus::already_published: return PANE_ROWS_ALREADY_PUBLISHED;
    }
    return PANE_E_INTERNAL;
}

pane_status from(pane::CursorStatus s) noexcept {
    switch (s) {
        case pane::CursorStatus::ok: return PANE_OK;
        case pane::CursorStatus::unchanged: return PANE_UNCHANGED;
        case pane::CursorStatus::none: return PANE_NONE_YET;
        case pane::CursorStatus::contended: return PANE_CONTENDED;
        case pane::CursorStatus::invalid: return PANE_INVALID_CURSOR;
        case pane::CursorStatus::timed_out: return PANE_TIMED_OUT;
        case pane::CursorStatus::epoch_changed: return PANE_EPOCH_CHANGED;
        case pane::CursorStatus::slot_lost: return PANE_SLOT_LOST;
    }
    return PANE_E_INTERNAL;
}

pane_status from(pane::ControlStatus s) noexcept {
    switch (s) {
        case pane::ControlStatus::ok: return PANE_OK;
        case pane::ControlStatus::full: return PANE_FULL;
        case pane::ControlStatus::too_large: return PANE_TOO_LARGE;
        case pane::ControlStatus::not_attached: return PANE_E_CHANNEL_NOT_ATTACHED;
        case pane::ControlStatus::empty: return PANE_EMPTY;
        case pane::ControlStatus::epoch_changed: return PANE_EPOCH_CHANGED;
        case pane::ControlStatus::slot_lost: return PANE_SLOT_LOST;
    }
    return PANE_E_INTERNAL;
}

pane_status from(pane::SessionStatus s) noexcept {
    switch (s) {
        case pane::SessionStatus::ok: return PANE_OK;
        case pane::SessionStatus::producer_stale: return PANE_PRODUCER_STALE;
        case pane::SessionStatus::producer_closed: return PANE_PRODUCER_CLOSED;
        case pane::SessionStatus::epoch_changed: return PANE_EPOCH_CHANGED;
        case pane::SessionStatus::slot_lost: return PANE_SLOT_LOST;
    }
    return PANE_E_INTERNAL;
}

// A timeout in nanoseconds as the C++ wait limit; UINT64_MAX (and anything beyond the clock's
// range) saturates to "no limit" inside WaitLimit.
pane::WaitLimit limit(std::uint64_t timeout_ns) noexcept {
    return pane::WaitLimit(std::chrono::duration<std::uint64_t, std::nano>(timeout_ns));
}

std::optional<pane::FrameFormat> format_of(std::uint32_t f) noexcept {
    if (f == 0 || f > pane::kMaxFrameFormat) return std::nullopt;
    return static_cast<pane::FrameFormat>(f);
}

pane::RegionSpec spec_of(const pane_display_layout& l) {
    pane::RegionSpec spec;
    spec.max_consumers = l.max_consumers;
    spec.consumer_timeout = std::chrono::milliseconds(l.consumer_timeout_ms);
    spec.heartbeat_period = std::chrono::milliseconds(l.heartbeat_period_ms);
    spec.add(pane::FrameSpec{kFrames, l.max_width, l.max_height, l.max_bytes_per_pixel, l.buffers, l.descriptors});
    spec.add(pane::CursorShapeSpec{kCursorShape, l.cursor_max_dimension});
    spec.add(pane::CursorPositionSpec{kCursorPosition});
    spec.add(pane::ControlSpec{kControl, l.control_capacity, l.control_element_size});
    return spec;
}

}  // namespace

struct pane_region {
    pane::map::Mapping mapping;  // no backing for wrapped memory: the caller's to unmap
};

struct pane_frame_writer {
    pane::FrameWriter writer;
    bool active = false;
};

struct pane_producer {
    pane::ProducerSession session;  // declared first: destroyed after the channel ends
    pane::FrameProducer frames;
    pane::CursorShapeProducer shapes;
    pane::CursorPositionProducer positions;
    pane::ControlReceiver control;
    pane_frame_writer writer{};
    std::uint64_t shapes_published = 0;
    std::uint64_t positions_published = 0;
};

struct pane_frame_reader {
    pane::FrameView view;
    pane_consumer* owner = nullptr;
    bool held = false;
};

struct pane_consumer {
    explicit pane_consumer(pane::ConsumerSession s) : session(std::move(s)) {}
    pane::ConsumerSession session;  // declared first: destroyed after the channel ends
    pane::AnyWait wait{pane::AutoWait{}};
    pane::FrameConsumer frames;
    pane::CursorShapeConsumer shapes;
    pane::CursorPositionConsumer positions;
    pane::ControlSender control;
    pane_status frames_status = PANE_E_BAD_STATE;
    pane_status shapes_status = PANE_E_BAD_STATE;
    pane_status positions_status = PANE_E_BAD_STATE;
    pane_status control_status = PANE_E_BAD_STATE;
    pane_frame_reader reader{};
    pane::CursorShape last_shape;
    bool have_shape = false;
    std::size_t shape_capacity = 0;
};

// Every function below was declared extern "C" in pane.h, which gives each its C linkage.

const char* pane_status_str(int status) PANE_NOEXCEPT {
    switch (status) {
        case PANE_OK: return "ok";
        case PANE_TIMED_OUT: return "timed out";
        case PANE_NO_FRAME: return "no frame newer than the last one acquired";
        case PANE_SUPERSEDED: return "the producer was reusing that frame's buffer; try again";
        case PANE_NO_FREE_BUFFER: return "no free frame buffer; the frame was dropped";
        case PANE_UNCHANGED: return "nothing newer than the last value read";
        case PANE_NONE_YET: return "the producer has published nothing yet";
        case PANE_CONTENDED: return "the producer kept writing during the copy; try again";
        case PANE_EMPTY: return "no control message waiting";
        case PANE_FULL: return "the control ring is full";
        case PANE_EPOCH_CHANGED: return "the producer re-initialised the region: attach again";
        case PANE_SLOT_LOST: return "the consumer slot was reaped: attach again";
        case PANE_PRODUCER_STALE: return "the producer heartbeat stopped";
        case PANE_PRODUCER_CLOSED: return "the producer closed the region";
        case PANE_NOT_OWNER: return "another producer re-initialised the region";
        case PANE_INVALID_FRAME: return "the frame breaks a rule (format, size, stride, damage)";
        case PANE_REUSED: return "the frame buffer was reused while it was read: torn frame";
        case PANE_BROKEN: return "the producer published an invalid frame descriptor";
        case PANE_INVALID_CURSOR: return "the cursor shape or position breaks a rule";
        case PANE_TOO_LARGE: return "the control message is larger than the channel allows";
        case PANE_ROWS_OUT_OF_RANGE: return "rows beyond the frame, a short stride or no source";
        case PANE_ROWS_ALREADY_PUBLISHED: return "those rows were already published as complete";
        case PANE_E_INVALID_ARGUMENT: return "invalid argument";
        case PANE_E_NO_MEMORY: return "out of memory";
        case PANE_E_INTERNAL: return "internal error in the Pane library";
        case PANE_E_UNSUPPORTED: return "not supported by this build or platform";
        case PANE_E_BAD_STATE: return "no frame in hand, or the channel is not open";
        case PANE_E_BUFFER_TOO_SMALL: return "the buffer is too small for the data";
        case PANE_E_MAP_NOT_FOUND:
        case PANE_E_MAP_ALREADY_EXISTS:
        case PANE_E_MAP_PERMISSION_DENIED:
        case PANE_E_MAP_TOO_SMALL:
        case PANE_E_MAP_INVALID_ARGUMENT:
        case PANE_E_MAP_SYSTEM_ERROR: return pane::describe(static_cast<pane::MapError>(status - 200)).data();
        case PANE_E_INIT_REGION_TOO_SMALL:
        case PANE_E_INIT_INVALID_LAYOUT:
        case PANE_E_INIT_TOO_MANY_CHANNELS:
        case PANE_E_INIT_TOO_MANY_CONSUMERS:
        case PANE_E_INIT_PRODUCER_ACTIVE: return pane::describe(static_cast<pane::InitError>(status - 300)).data();
        case PANE_E_ATTACH_REGION_TOO_SMALL:
        case PANE_E_ATTACH_BAD_MAGIC:
        case PANE_E_ATTACH_UNSUPPORTED_VERSION:
        case PANE_E_ATTACH_NOT_READY:
        case PANE_E_ATTACH_INVALID_LAYOUT:
        case PANE_E_ATTACH_NO_FREE_SLOT:
        case PANE_E_ATTACH_EPOCH_CHANGED: return pane::describe(static_cast<pane::AttachError>(status - 400)).data();
        case PANE_E_CHANNEL_NOT_FOUND:
        case PANE_E_CHANNEL_WRONG_KIND:
        case PANE_E_CHANNEL_WRONG_ELEMENT:
        case PANE_E_CHANNEL_INVALID_LAYOUT:
        case PANE_E_CHANNEL_ALREADY_OPEN:
        case PANE_E_CHANNEL_NOT_ATTACHED: return pane::describe(static_cast<pane::ChannelError>(status - 500)).data();
    }
    return "unknown status";
}

int pane_c_api_version(void) PANE_NOEXCEPT { return PANE_C_API_VERSION; }

uint32_t pane_bytes_per_pixel(uint32_t format) PANE_NOEXCEPT {
    const auto f = format_of(format);
    return f ? pane::bytes_per_pixel(*f) : 0;
}

// ---------------------------------------------------------------------------------------------
// Regions.

namespace {
pane_status give_region(pane::Result<pane::map::Mapping, pane::MapError> mapping, pane_region** out) {
    if (!mapping) return from(mapping.error());
    *out = new pane_region{std::move(mapping.value())};
    return PANE_OK;
}

std::optional<pane::map::OpenMode> mode_of(std::uint32_t mode) noexcept {
    switch (mode) {
        case PANE_OPEN_CREATE_ONLY: return pane::map::OpenMode::create_only;
        case PANE_OPEN_OR_CREATE: return pane::map::OpenMode::open_or_create;
        case PANE_OPEN_ONLY: return pane::map::OpenMode::open_only;
    }
    return std::nullopt;
}
}  // namespace

uint32_t pane_region_backends(void) PANE_NOEXCEPT {
    std::uint32_t b = PANE_BACKEND_MEMORY;
#if PANE_CAPI_HAVE_BOOST
    b |= PANE_BACKEND_SHM | PANE_BACKEND_FILE;
#endif
#if defined(__linux__)
    b |= PANE_BACKEND_IVSHMEM;
#endif
#if defined(_WIN32)
    b |= PANE_BACKEND_WINDOWS_IVSHMEM;
#endif
    return b;
}

pane_status pane_region_open_shm(const char* name, uint64_t size, uint32_t mode, pane_region** out) PANE_NOEXCEPT {
    return guard([&] {
        if (out == nullptr) return PANE_E_INVALID_ARGUMENT;
        *out = nullptr;
        const auto m = mode_of(mode);
        if (name == nullptr || !m) return PANE_E_INVALID_ARGUMENT;
#if PANE_CAPI_HAVE_BOOST
        return give_region(pane::map::shm(name, size, *m), out);
#else
        (void)size;
        return PANE_E_UNSUPPORTED;
#endif
    });
}

pane_status pane_region_remove_shm(const char* name) PANE_NOEXCEPT {
    return guard([&] {
        if (name == nullptr) return PANE_E_INVALID_ARGUMENT;
#if PANE_CAPI_HAVE_BOOST
        return pane::map::remove_shm(name) ? PANE_OK : PANE_E_MAP_NOT_FOUND;
#else
        return PANE_E_UNSUPPORTED;
#endif
    });
}

pane_status pane_region_open_file(const char* path, uint64_t size, uint32_t mode, pane_region** out) PANE_NOEXCEPT {
    return guard([&] {
        if (out == nullptr) return PANE_E_INVALID_ARGUMENT;
        *out = nullptr;
        const auto m = mode_of(mode);
        if (path == nullptr || !m) return PANE_E_INVALID_ARGUMENT;
#if PANE_CAPI_HAVE_BOOST
        return give_region(pane::map::file(path, size, *m), out);
#else
        (void)size;
        return PANE_E_UNSUPPORTED;
#endif
    });
}

pane_status pane_region_open_ivshmem(const char* address, uint64_t size, int write_combining, pane_region** out) PANE_NOEXCEPT {
    return guard([&] {
        if (out == nullptr) return PANE_E_INVALID_ARGUMENT;
        *out = nullptr;
#if defined(__linux__)
        pane::map::IvshmemOptions options;
        options.write_combining = write_combining != 0;
        return give_region(pane::map::ivshmem(address != nullptr ? address : "", size, options), out);
#else
        (void)address;
        (void)size;
        (void)write_combining;
        return PANE_E_UNSUPPORTED;
#endif
    });
}

pane_status pane_region_open_windows_ivshmem(uint32_t device, uint64_t size, int write_combining, pane_region** out) PANE_NOEXCEPT {
    return guard([&] {
        if (out == nullptr) return PANE_E_INVALID_ARGUMENT;
        *out = nullptr;
#if defined(_WIN32)
        pane::map::WindowsIvshmemOptions options;
        options.device = device;
        options.cache = write_combining != 0 ? pane::map::WindowsIvshmemCache::write_combining
                                             : pane::map::WindowsIvshmemCache::cached;
        return give_region(pane::map::windows_ivshmem(size, options), out);
#else
        (void)device;
        (void)size;
        (void)write_combining;
        return PANE_E_UNSUPPORTED;
#endif
    });
}

pane_status pane_region_open_memory(uint64_t size, pane_region** out) PANE_NOEXCEPT {
    return guard([&] {
        if (out == nullptr) return PANE_E_INVALID_ARGUMENT;
        *out = nullptr;
        if (size < sizeof(pane::RegionHeader) || size > SIZE_MAX) return PANE_E_INVALID_ARGUMENT;
        return give_region(pane::map::in_process(static_cast<std::size_t>(size)), out);
    });
}

pane_status pane_region_wrap(void* base, uint64_t size, int write_combining, pane_region** out) PANE_NOEXCEPT {
    return guard([&] {
        if (out == nullptr) return PANE_E_INVALID_ARGUMENT;
        *out = nullptr;
        // The sessions want a cache-line aligned region at least a header long.
        if (base == nullptr || reinterpret_cast<std::uintptr_t>(base) % pane::kCacheLine != 0 ||
            size < sizeof(pane::RegionHeader) || size > SIZE_MAX) {
            return PANE_E_INVALID_ARGUMENT;
        }
        *out = new pane_region{pane::map::Mapping(nullptr, static_cast<std::byte*>(base), static_cast<std::size_t>(size),
                                                  "memory (the caller's)", write_combining != 0)};
        return PANE_OK;
    });
}

void pane_region_close(pane_region* region) PANE_NOEXCEPT { delete region; }

void* pane_region_data(const pane_region* region) PANE_NOEXCEPT {
    return region != nullptr ? static_cast<void*>(region->mapping.bytes().data()) : nullptr;
}
const char* pane_region_description(const pane_region* region) PANE_NOEXCEPT {
    return region != nullptr ? region->mapping.description().c_str() : "";
}
uint64_t pane_region_size(const pane_region* region) PANE_NOEXCEPT { return region != nullptr ? region->mapping.size() : 0; }
int pane_region_write_combining(const pane_region* region) PANE_NOEXCEPT {
    return region != nullptr && region->mapping.write_combining() ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Layout.

void pane_display_layout_default(pane_display_layout* layout) PANE_NOEXCEPT {
    if (layout == nullptr) return;
    *layout = pane_display_layout{};
    const pane::FrameSpec frames;
    layout->max_width = frames.max_width;
    layout->max_height = frames.max_height;
    layout->max_bytes_per_pixel = frames.max_bytes_per_pixel;
    layout->buffers = frames.buffer_count;
    layout->descriptors = frames.descriptors;
    layout->max_consumers = pane::kDefaultConsumers;
    layout->cursor_max_dimension = 128;  // as pane-produce (tools/display_spec.hpp)
    const pane::ControlSpec control;
    layout->control_capacity = control.capacity;
    layout->control_element_size = control.element_size;
    const pane::RegionSpec region;
    layout->consumer_timeout_ms = static_cast<uint32_t>(region.consumer_timeout.count());
    layout->heartbeat_period_ms = static_cast<uint32_t>(region.heartbeat_period.count());
}

pane_status pane_display_region_size(const pane_display_layout* layout, uint64_t* size) PANE_NOEXCEPT {
    return guard([&] {
        if (layout == nullptr || size == nullptr) return PANE_E_INVALID_ARGUMENT;
        const auto plan = pane::plan_region(spec_of(*layout));
        if (!plan) return from(plan.error());
        *size = plan->region_size;
        return PANE_OK;
    });
}

// ---------------------------------------------------------------------------------------------
// Producer.

void pane_producer_options_default(pane_producer_options* options) PANE_NOEXCEPT {
    if (options == nullptr) return;
    *options = pane_producer_options{};
    options->reinit_grace_ms = static_cast<uint32_t>(pane::ProducerOptions{}.reinit_grace.count());
}

pane_status pane_producer_create(pane_region* region, const pane_display_layout* layout,
                                 const pane_producer_options* options, pane_producer** out) PANE_NOEXCEPT {
    return guard([&] {
        if (out == nullptr) return PANE_E_INVALID_ARGUMENT;
        *out = nullptr;
        if (region == nullptr || layout == nullptr) return PANE_E_INVALID_ARGUMENT;
        pane_producer_options o;
        pane_producer_options_default(&o);
        if (options != nullptr) o = *options;
        pane::ProducerOptions po;
        po.reinit_grace = std::chrono::milliseconds(o.reinit_grace_ms);
        po.take_over = o.take_over != 0;
        po.write_combining = region->mapping.write_combining();
        auto session = pane::ProducerSession::create(region->mapping.bytes(), spec_of(*layout), po);
        if (!session) return from(session.error());
        auto frames = session->frames(kFrames);
        auto shapes = session->cursor_shape(kCursorShape);
        auto positions = session->cursor_position(kCursorPosition);
        auto control = session->control(kControl);
        // We laid the channels out ourselves: failing to open one is a library bug.
        if (!frames || !shapes || !positions || !control) return PANE_E_INTERNAL;
        *out = new pane_producer{std::move(session.value()), std::move(frames.value()), std::move(shapes.value()),
                                 std::move(positions.value()), std::move(control.value())};
        return PANE_OK;
    });
}

void pane_producer_destroy(pane_producer* producer) PANE_NOEXCEPT { delete producer; }  // ~ProducerSession closes

pane_status pane_producer_tick(pane_producer* producer) PANE_NOEXCEPT {
    return guard([&] {
        if (producer == nullptr) return PANE_E_INVALID_ARGUMENT;
        if (!producer->session.owns_region()) return PANE_NOT_OWNER;
        producer->session.tick();
        return PANE_OK;
    });
}

uint64_t pane_producer_epoch(const pane_producer* producer) PANE_NOEXCEPT {
    return producer != nullptr ? producer->session.epoch() : 0;
}

uint64_t pane_producer_live_consumers(const pane_producer* producer) PANE_NOEXCEPT {
    return producer != nullptr ? producer->session.live_consumers() : 0;
}

pane_status pane_producer_stats_get(const pane_producer* producer, pane_producer_stats* out) PANE_NOEXCEPT {
    if (producer == nullptr || out == nullptr) return PANE_E_INVALID_ARGUMENT;
    *out = pane_producer_stats{};
    out->frames_published = producer->frames.frames_published();
    out->frames_dropped = producer->frames.frames_dropped();
    out->cursor_shapes = producer->shapes_published;
    out->cursor_positions = producer->positions_published;
    out->control_accepted = producer->control.accepted();
    out->control_rejected = producer->control.rejected();
    out->consumers_reaped = producer->session.reaped_total();
    return PANE_OK;
}

namespace {
// FrameInfo from the C struct; nullopt if it cannot even be expressed (the C++ side checks the
// rest: sizes against the channel, damage inside the frame, flags).
std::optional<pane::FrameInfo> frame_info(const pane_frame_info& in) noexcept {
    const auto format = format_of(in.format);
    if (!format || in.damage_count > PANE_MAX_DAMAGE_RECTS || (in.damage_count > 0 && in.damage == nullptr)) {
        return std::nullopt;
    }
    pane::FrameInfo info;
    info.format = *format;
    info.width = in.width;
    info.height = in.height;
    info.stride = in.stride;
    info.rotation = in.rotation;
    info.flags = in.flags | (in.damage_count > 0 ? pane::kFrameDamageValid : 0u);
    if (in.damage_count > 0) {
        // Same layout (wire_check.hpp), so the caller's array is the C++ one.
        info.damage = {reinterpret_cast<const pane::DamageRect*>(in.damage), in.damage_count};
    }
    std::memcpy(&info.hdr, &in.hdr, sizeof(info.hdr));
    info.capture_duration_ns = in.capture_duration_ns;
    return info;
}
}  // namespace

pane_status pane_producer_frame_begin(pane_producer* producer, const pane_frame_info* info, pane_frame_writer** out) PANE_NOEXCEPT {
    return guard([&] {
        if (out != nullptr) *out = nullptr;
        if (producer == nullptr || info == nullptr || out == nullptr) return PANE_E_INVALID_ARGUMENT;
        const auto i = frame_info(*info);
        if (!i) return PANE_INVALID_FRAME;
        pane_frame_writer& w = producer->writer;
        w.writer = pane::FrameWriter{};
        w.active = false;
        const pane_status s = from(producer->frames.begin(*i, w.writer));
        if (s != PANE_OK) return s;
        w.active = true;
        *out = &w;
        return PANE_OK;
    });
}

pane_status pane_frame_writer_buffer(pane_frame_writer* writer, void** data, uint32_t* stride, uint64_t* size) PANE_NOEXCEPT {
    if (writer == nullptr) return PANE_E_INVALID_ARGUMENT;
    if (!writer->active) return PANE_E_BAD_STATE;
    const auto bytes = writer->writer.bytes();
    if (data != nullptr) *data = bytes.data();
    if (stride != nullptr) *stride = writer->writer.descriptor().stride;
    if (size != nullptr) *size = bytes.size();
    return PANE_OK;
}

pane_status pane_frame_writer_copy_rows(pane_frame_writer* writer, uint32_t first_row, uint32_t rows, const void* src,
                                        size_t src_stride) PANE_NOEXCEPT {
    if (writer == nullptr) return PANE_E_INVALID_ARGUMENT;
    if (!writer->active) return PANE_E_BAD_STATE;
    return from(writer->writer.copy_rows(first_row, rows, static_cast<const std::byte*>(src), src_stride));
}

pane_status pane_frame_writer_rows_ready(pane_frame_writer* writer, uint32_t n) PANE_NOEXCEPT {
    if (writer == nullptr) return PANE_E_INVALID_ARGUMENT;
    if (!writer->active) return PANE_E_BAD_STATE;
    writer->writer.rows_ready(n);
    return PANE_OK;
}

pane_status pane_frame_writer_finish(pane_frame_writer* writer) PANE_NOEXCEPT {
    if (writer == nullptr) return PANE_E_INVALID_ARGUMENT;
    if (!writer->active) return PANE_E_BAD_STATE;
    writer->writer.finish();
    return PANE_OK;
}

pane_status pane_producer_frame_publish(pane_producer* producer, const pane_frame_info* info, const void* src,
                                        size_t src_stride) PANE_NOEXCEPT {
    return guard([&] {
        if (producer == nullptr || info == nullptr || src == nullptr) return PANE_E_INVALID_ARGUMENT;
        // Refuse a short source stride before a descriptor goes out.
        const std::uint64_t row_bytes = std::uint64_t{info->width} * pane_bytes_per_pixel(info->format);
        if (src_stride != 0 && src_stride < row_bytes) return PANE_E_INVALID_ARGUMENT;
        pane_frame_writer* w = nullptr;
        const pane_status begun = pane_producer_frame_begin(producer, info, &w);
        if (begun != PANE_OK) return begun;
        const pane_status copied = pane_frame_writer_copy_rows(w, 0, info->height, src, src_stride);
        (void)pane_frame_writer_finish(w);
        return copied;
    });
}

pane_status pane_producer_cursor_shape(pane_producer* producer, uint32_t type, uint32_t width, uint32_t height,
                                       uint32_t pitch, uint32_t hotspot_x, uint32_t hotspot_y, const void* data,
                                       size_t data_size, uint64_t* serial) PANE_NOEXCEPT {
    return guard([&] {
        if (producer == nullptr || (data == nullptr && data_size != 0)) return PANE_E_INVALID_ARGUMENT;
        if (type == 0 || type > pane::kMaxCursorType) return PANE_INVALID_CURSOR;
        const pane_status s = from(producer->shapes.publish(static_cast<pane::CursorType>(type), width, height, pitch,
                                                            hotspot_x, hotspot_y,
                                                            {static_cast<const std::byte*>(data), data_size}, serial));
        if (s == PANE_OK) ++producer->shapes_published;
        return s;
    });
}

pane_status pane_producer_cursor_position(pane_producer* producer, int32_t x, int32_t y, int visible,
                                          uint64_t shape_serial) PANE_NOEXCEPT {
    if (producer == nullptr) return PANE_E_INVALID_ARGUMENT;
    producer->positions.publish(x, y, visible != 0, shape_serial);
    ++producer->positions_published;
    return PANE_OK;
}

pane_status pane_producer_control_receive(pane_producer* producer, pane_control_message* out) PANE_NOEXCEPT {
    return guard([&] {
        if (producer == nullptr || out == nullptr) return PANE_E_INVALID_ARGUMENT;
        pane::ControlMessage m;
        const pane_status s = from(producer->control.try_receive(m));
        if (s != PANE_OK) return s;
        *out = pane_control_message{};
        out->consumer = m.consumer;
        out->type = static_cast<uint32_t>(m.type);
        out->app_type = m.app_type;
        out->x = m.cursor.x;
        out->y = m.cursor.y;
        out->width = m.window.width;
        out->height = m.window.height;
        out->body_size = static_cast<uint32_t>(m.body.size());
        out->body = m.body.data();
        return PANE_OK;
    });
}

// ---------------------------------------------------------------------------------------------
// Consumer.

void pane_consumer_options_default(pane_consumer_options* options) PANE_NOEXCEPT {
    if (options == nullptr) return;
    *options = pane_consumer_options{};
    const pane::ConsumerOptions o;
    options->producer_timeout_ms = static_cast<uint32_t>(o.producer_timeout.count());
    options->heartbeat_period_ms = static_cast<uint32_t>(o.heartbeat_period.count());
    options->wait = PANE_WAIT_AUTO;
}

namespace {
std::optional<pane::AnyWait> wait_of(std::uint32_t w) noexcept {
    switch (w) {
        case PANE_WAIT_AUTO: return pane::AnyWait{pane::AutoWait{}};
        case PANE_WAIT_BUSY_SPIN: return pane::AnyWait{pane::BusySpin{}};
        case PANE_WAIT_SPIN_THEN_YIELD: return pane::AnyWait{pane::SpinThenYield{}};
        case PANE_WAIT_SPIN_THEN_SLEEP: return pane::AnyWait{pane::SpinThenSleep{}};
        case PANE_WAIT_FUTEX: return pane::AnyWait{pane::FutexWait{}};
        default: return std::nullopt;
    }
}

// Opens one channel end into `slot`, recording why not.
template <class Handle, class Open>
void open_channel(Handle& slot, pane_status& status, Open&& open) {
    auto r = open();
    if (r) {
        slot = std::move(r.value());
        status = PANE_OK;
    } else {
        status = from(r.error());
    }
}
}  // namespace

pane_status pane_consumer_attach(pane_region* region, const pane_consumer_options* options, pane_consumer** out) PANE_NOEXCEPT {
    return guard([&] {
        if (out == nullptr) return PANE_E_INVALID_ARGUMENT;
        *out = nullptr;
        if (region == nullptr) return PANE_E_INVALID_ARGUMENT;
        pane_consumer_options o;
        pane_consumer_options_default(&o);
        if (options != nullptr) o = *options;
        const auto wait = wait_of(o.wait);
        if (!wait || o.heartbeat_period_ms == 0 || o.producer_timeout_ms == 0) return PANE_E_INVALID_ARGUMENT;
        pane::ConsumerOptions co;
        co.producer_timeout = std::chrono::milliseconds(o.producer_timeout_ms);
        co.heartbeat_period = std::chrono::milliseconds(o.heartbeat_period_ms);
        auto session = pane::ConsumerSession::attach(region->mapping.bytes(), co);
        if (!session) return from(session.error());
        auto c = std::make_unique<pane_consumer>(std::move(session.value()));
        c->wait = *wait;
        c->reader.owner = c.get();
        open_channel(c->frames, c->frames_status, [&] { return c->session.frames(kFrames); });
        open_channel(c->shapes, c->shapes_status, [&] { return c->session.cursor_shape(kCursorShape); });
        open_channel(c->positions, c->positions_status, [&] { return c->session.cursor_position(kCursorPosition); });
        open_channel(c->control, c->control_status, [&] { return c->session.control(kControl); });
        if (c->shapes_status == PANE_OK) {
            for (const auto& e : c->session.channels()) {
                if (pane::detail::entry_name(e) == kCursorShape) c->shape_capacity = e.element_size;
            }
        }
        *out = c.release();
        return PANE_OK;
    });
}

void pane_consumer_destroy(pane_consumer* consumer) PANE_NOEXCEPT { delete consumer; }  // ~ConsumerSession detaches

pane_status pane_consumer_tick(pane_consumer* consumer) PANE_NOEXCEPT {
    if (consumer == nullptr) return PANE_E_INVALID_ARGUMENT;
    return from(consumer->session.tick());
}

uint64_t pane_consumer_epoch(const pane_consumer* consumer) PANE_NOEXCEPT {
    return consumer != nullptr ? consumer->session.epoch() : 0;
}
uint32_t pane_consumer_slot_index(const pane_consumer* consumer) PANE_NOEXCEPT {
    return consumer != nullptr ? consumer->session.slot_index() : 0;
}
uint64_t pane_consumer_producer_heartbeat(const pane_consumer* consumer) PANE_NOEXCEPT {
    return consumer != nullptr ? consumer->session.producer_heartbeat() : 0;
}
int pane_consumer_producer_shares_kernel(const pane_consumer* consumer) PANE_NOEXCEPT {
    if (consumer == nullptr) return 0;
    try {
        return consumer->session.producer_shares_kernel() ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

pane_status pane_consumer_header(const pane_consumer* consumer, pane_region_header* out) PANE_NOEXCEPT {
    if (consumer == nullptr || out == nullptr) return PANE_E_INVALID_ARGUMENT;
    std::memcpy(out, &consumer->session.header_copy(), sizeof(*out));
    return PANE_OK;
}

pane_status pane_consumer_stats_get(const pane_consumer* consumer, pane_consumer_stats* out) PANE_NOEXCEPT {
    if (consumer == nullptr || out == nullptr) return PANE_E_INVALID_ARGUMENT;
    *out = pane_consumer_stats{};
    if (consumer->frames_status == PANE_OK) {
        out->frames_read = consumer->frames.frames_read();
        out->frames_skipped = consumer->frames.frames_skipped();
        out->frame_violations = consumer->frames.violations();
    }
    if (consumer->shapes_status == PANE_OK) out->cursor_violations += consumer->shapes.violations();
    if (consumer->positions_status == PANE_OK) out->cursor_violations += consumer->positions.violations();
    return PANE_OK;
}

pane_status pane_consumer_frame_acquire(pane_consumer* consumer, uint64_t timeout_ns, pane_frame_reader** out) PANE_NOEXCEPT {
    return guard([&] {
        if (out != nullptr) *out = nullptr;
        if (consumer == nullptr || out == nullptr) return PANE_E_INVALID_ARGUMENT;
        if (consumer->frames_status != PANE_OK) return consumer->frames_status;
        // The view changes only on ok: on anything else the frame held before stays held.
        pane_frame_reader& r = consumer->reader;
        const pane::FrameStatus s = timeout_ns == 0 ? consumer->frames.acquire_latest(r.view)
                                                    : consumer->frames.wait_latest(r.view, consumer->wait, limit(timeout_ns));
        if (s != pane::FrameStatus::ok) return from(s);
        r.held = true;
        *out = &r;
        return PANE_OK;
    });
}

pane_frame_reader* pane_consumer_frame_reader(pane_consumer* consumer) PANE_NOEXCEPT {
    return consumer != nullptr && consumer->reader.held ? &consumer->reader : nullptr;
}

pane_status pane_frame_reader_descriptor(const pane_frame_reader* reader, pane_frame_descriptor* out) PANE_NOEXCEPT {
    if (reader == nullptr || out == nullptr) return PANE_E_INVALID_ARGUMENT;
    if (!reader->held) return PANE_E_BAD_STATE;
    std::memcpy(out, &reader->view.descriptor(), sizeof(*out));
    return PANE_OK;
}

pane_status pane_frame_reader_buffer(const pane_frame_reader* reader, const void** data, uint64_t* size) PANE_NOEXCEPT {
    if (reader == nullptr) return PANE_E_INVALID_ARGUMENT;
    if (!reader->held) return PANE_E_BAD_STATE;
    const auto bytes = reader->view.bytes();
    if (data != nullptr) *data = bytes.data();
    if (size != nullptr) *size = bytes.size();
    return PANE_OK;
}

uint32_t pane_frame_reader_rows_ready(const pane_frame_reader* reader) PANE_NOEXCEPT {
    return reader != nullptr && reader->held ? reader->view.rows_ready() : 0;
}

pane_status pane_frame_reader_wait_rows(pane_frame_reader* reader, uint32_t n, uint64_t timeout_ns) PANE_NOEXCEPT {
    return guard([&] {
        if (reader == nullptr) return PANE_E_INVALID_ARGUMENT;
        if (!reader->held) return PANE_E_BAD_STATE;
        return from(reader->view.wait_rows(n, reader->owner->wait, limit(timeout_ns)));
    });
}

pane_status pane_frame_reader_copy(pane_frame_reader* reader, void* dst, size_t dst_size, size_t dst_stride,
                                   uint64_t timeout_ns) PANE_NOEXCEPT {
    return guard([&] {
        if (reader == nullptr || dst == nullptr) return PANE_E_INVALID_ARGUMENT;
        if (!reader->held) return PANE_E_BAD_STATE;
        const pane::FrameView& view = reader->view;
        const pane::FrameDescriptor& d = view.descriptor();
        // The descriptor passed frame_fits on acquire: format known, stride * height in the buffer.
        const std::size_t row_bytes =
            std::size_t{d.width} * pane::bytes_per_pixel(static_cast<pane::FrameFormat>(d.format));
        if (dst_stride == 0) dst_stride = row_bytes;
        if (dst_stride < row_bytes) return PANE_E_INVALID_ARGUMENT;
        // (height - 1) full strides and one row, in 64-bit arithmetic.
        const std::uint64_t needed = std::uint64_t{dst_stride} * (d.height - 1) + row_bytes;
        if (needed > dst_size) return PANE_E_BUFFER_TOO_SMALL;
        const pane::Deadline deadline = limit(timeout_ns).start(Clock::now());
        auto* out = static_cast<unsigned char*>(dst);
        std::uint32_t copied = 0;
        // Progressive: copy what is ready, then wait for the next row, so the copy trails the
        // producer instead of starting after it.
        while (copied < d.height) {
            const std::uint32_t ready = view.rows_ready();
            for (; copied < ready; ++copied) {
                std::memcpy(out + std::size_t{copied} * dst_stride, view.row(copied), row_bytes);
            }
            if (copied == d.height) break;
            const pane::FrameStatus w = view.wait_rows(copied + 1, reader->owner->wait, deadline);
            if (w != pane::FrameStatus::ok) return from(w);
        }
        return from(view.verify());
    });
}

pane_status pane_frame_reader_verify(const pane_frame_reader* reader) PANE_NOEXCEPT {
    if (reader == nullptr) return PANE_E_INVALID_ARGUMENT;
    if (!reader->held) return PANE_E_BAD_STATE;
    return from(reader->view.verify());
}

void pane_frame_reader_release(pane_frame_reader* reader) PANE_NOEXCEPT {
    if (reader == nullptr || !reader->held) return;
    reader->held = false;
    reader->view = pane::FrameView{};
    reader->owner->frames.release();
}

pane_status pane_consumer_read_frame(pane_consumer* consumer, void* dst, size_t dst_size, size_t dst_stride,
                                     uint64_t timeout_ns, pane_frame_descriptor* desc) PANE_NOEXCEPT {
    return guard([&] {
        if (consumer == nullptr || dst == nullptr) return PANE_E_INVALID_ARGUMENT;
        const pane::Deadline deadline = limit(timeout_ns).start(Clock::now());
        pane_frame_reader* reader = nullptr;
        const pane_status s = pane_consumer_frame_acquire(consumer, timeout_ns, &reader);
        if (s != PANE_OK) return s;
        if (desc != nullptr) (void)pane_frame_reader_descriptor(reader, desc);
        // The rest of the same deadline for the rows.
        const auto left = deadline.remaining(Clock::now());
        const std::uint64_t left_ns = timeout_ns == PANE_WAIT_FOREVER
                                          ? PANE_WAIT_FOREVER
                                          : static_cast<std::uint64_t>(
                                                std::chrono::duration_cast<std::chrono::nanoseconds>(left).count());
        return pane_frame_reader_copy(reader, dst, dst_size, dst_stride, left_ns);
    });
}

pane_status pane_consumer_cursor_position(pane_consumer* consumer, uint64_t timeout_ns, pane_cursor_position* out) PANE_NOEXCEPT {
    return guard([&] {
        if (consumer == nullptr || out == nullptr) return PANE_E_INVALID_ARGUMENT;
        if (consumer->positions_status != PANE_OK) return consumer->positions_status;
        pane::CursorPosition p;
        const pane::CursorStatus s = timeout_ns == 0 ? consumer->positions.try_read(p)
                                                     : consumer->positions.wait_read(p, consumer->wait, limit(timeout_ns));
        if (s != pane::CursorStatus::ok) return from(s);
        *out = pane_cursor_position{};
        out->x = p.x;
        out->y = p.y;
        out->visible = p.visible ? 1u : 0u;
        out->shape_serial = p.shape_serial;
        out->serial = p.serial;
        return PANE_OK;
    });
}

namespace {
pane_status copy_shape(const pane::CursorShape& shape, pane_cursor_shape_header* header, void* data,
                       std::size_t capacity) noexcept {
    if (header != nullptr) std::memcpy(header, &shape.header, sizeof(*header));
    if (shape.data.size() > capacity) return PANE_E_BUFFER_TOO_SMALL;
    if (!shape.data.empty()) std::memcpy(data, shape.data.data(), shape.data.size());
    return PANE_OK;
}
}  // namespace

pane_status pane_consumer_cursor_shape(pane_consumer* consumer, pane_cursor_shape_header* header, void* data,
                                       size_t data_capacity) PANE_NOEXCEPT {
    return guard([&] {
        if (consumer == nullptr || (data == nullptr && data_capacity != 0)) return PANE_E_INVALID_ARGUMENT;
        if (consumer->shapes_status != PANE_OK) return consumer->shapes_status;
        pane::CursorShape shape;
        const pane::CursorStatus s = consumer->shapes.try_read(shape);
        if (s != pane::CursorStatus::ok) return from(s);
        consumer->last_shape = std::move(shape);
        consumer->have_shape = true;
        return copy_shape(consumer->last_shape, header, data, data_capacity);
    });
}

pane_status pane_consumer_cursor_shape_last(pane_consumer* consumer, pane_cursor_shape_header* header, void* data,
                                            size_t data_capacity) PANE_NOEXCEPT {
    if (consumer == nullptr || (data == nullptr && data_capacity != 0)) return PANE_E_INVALID_ARGUMENT;
    if (!consumer->have_shape) return PANE_NONE_YET;
    return copy_shape(consumer->last_shape, header, data, data_capacity);
}

size_t pane_consumer_cursor_shape_capacity(const pane_consumer* consumer) PANE_NOEXCEPT {
    return consumer != nullptr ? consumer->shape_capacity : 0;
}

namespace {
template <class Send>
pane_status send_control(pane_consumer* consumer, Send&& send) {
    return guard([&] {
        if (consumer == nullptr) return PANE_E_INVALID_ARGUMENT;
        if (consumer->control_status != PANE_OK) return consumer->control_status;
        return from(send(consumer->control));
    });
}
}  // namespace

pane_status pane_consumer_send_cursor_position(pane_consumer* consumer, int32_t x, int32_t y) PANE_NOEXCEPT {
    return send_control(consumer, [&](pane::ControlSender& c) { return c.send_cursor_position(x, y); });
}
pane_status pane_consumer_send_window_size(pane_consumer* consumer, uint32_t width, uint32_t height) PANE_NOEXCEPT {
    return send_control(consumer, [&](pane::ControlSender& c) { return c.send_window_size(width, height); });
}
pane_status pane_consumer_request_full_frame(pane_consumer* consumer) PANE_NOEXCEPT {
    return send_control(consumer, [&](pane::ControlSender& c) { return c.request_full_frame(); });
}
pane_status pane_consumer_send_application(pane_consumer* consumer, uint32_t app_type, const void* body,
                                           size_t body_size) PANE_NOEXCEPT {
    if (body == nullptr && body_size != 0) return PANE_E_INVALID_ARGUMENT;
    return send_control(consumer, [&](pane::ControlSender& c) {
        return c.send_application(app_type, {static_cast<const std::byte*>(body), body_size});
    });
}
