/* SPDX-License-Identifier: MIT */
/*
 * The C ABI's test, in C11 (-std=c11 -Wall -Wextra -Wpedantic -Werror), built 64-bit, -m32
 * (scripts/pass-capi32.sh) and with MinGW (run under wine). It checks the wire table, then runs
 * a producer and a consumer over one region: on POSIX each maps the same shm object on its own
 * (two mappings, as two processes would have), elsewhere the consumer wraps the producer's
 * memory. Frames (whole, progressive, skipped, leased while the producer moves on), cursor shape
 * and position, control messages, bad arguments and hostile bytes, and a producer restart (new
 * epoch) are checked for content and status. `--fork` (POSIX) runs the consumer in a child
 * process instead. Ends with a Catch2-style summary line, which scripts/test.sh counts.
 */
#if defined(__unix__) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* fork, waitpid, nanosleep under -std=c11 */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pane/pane.h>

#if defined(__unix__)
#define PANE_TEST_POSIX 1
#include <pthread.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#else
#define PANE_TEST_POSIX 0
#endif

#if PANE_TEST_POSIX
static void sleep_us(long us) {
    struct timespec t;
    t.tv_sec = us / 1000000;
    t.tv_nsec = (us % 1000000) * 1000;
    nanosleep(&t, NULL);
}
#endif

/* From test_capi_wire.cpp: the C++ comparison of the C structs was compiled and linked. */
int pane_test_wire_checked(void);

static int g_checks, g_failures, g_cases, g_failed_cases;
static const char* g_case = "";

#define CHECK(cond)                                                                                 \
    do {                                                                                            \
        ++g_checks;                                                                                 \
        if (!(cond)) {                                                                              \
            ++g_failures;                                                                           \
            fprintf(stderr, "%s:%d: [%s] CHECK(%s) failed\n", __FILE__, __LINE__, g_case, #cond); \
        }                                                                                           \
    } while (0)

#define CHECK_STATUS(expr, want)                                                                             \
    do {                                                                                                     \
        const pane_status got_ = (expr);                                                                     \
        ++g_checks;                                                                                          \
        if (got_ != (want)) {                                                                                \
            ++g_failures;                                                                                    \
            fprintf(stderr, "%s:%d: [%s] %s gave %d (%s), wanted %s\n", __FILE__, __LINE__, g_case, #expr, \
                    (int)got_, pane_status_str(got_), #want);                                               \
        }                                                                                                    \
    } while (0)

/* A precondition of the rest of a case, which then cleans up at its label `out`. */
#define REQUIRE_STATUS(expr, want)             \
    do {                                       \
        const int before_ = g_failures;        \
        CHECK_STATUS(expr, want);              \
        if (g_failures != before_) goto out;   \
    } while (0)

static void run_case(const char* name, void (*fn)(void)) {
    const int before = g_failures;
    g_case = name;
    ++g_cases;
    fn();
    if (g_failures != before) {
        ++g_failed_cases;
        fprintf(stderr, "case %s: FAILED\n", name);
    }
}

/* ---------------------------------------------------------------------------------------- */

#define W 320
#define H 180
#define BPP 4
#define ROW (W * BPP)

/* The test pattern: every byte depends on its position and the frame's tag. */
static uint8_t pattern_byte(uint32_t x, uint32_t y, uint32_t tag) {
    return (uint8_t)(x * 7u + y * 13u + tag * 31u + (x >> 8) * 3u);
}

static void fill_frame(uint8_t* dst, size_t stride, uint32_t tag) {
    for (uint32_t y = 0; y < H; ++y)
        for (uint32_t x = 0; x < (uint32_t)ROW; ++x) dst[(size_t)y * stride + x] = pattern_byte(x, y, tag);
}

/* Rows [first, end) of `src` (stride apart) match the tag's pattern. */
static int rows_match(const uint8_t* src, size_t stride, uint32_t first, uint32_t end, uint32_t tag) {
    for (uint32_t y = first; y < end; ++y)
        for (uint32_t x = 0; x < (uint32_t)ROW; ++x)
            if (src[(size_t)y * stride + x] != pattern_byte(x, y, tag)) return 0;
    return 1;
}

static pane_frame_info frame_info_for(void) {
    pane_frame_info info;
    memset(&info, 0, sizeof info);
    info.format = PANE_FORMAT_BGRA8;
    info.width = W;
    info.height = H;
    return info;
}

static pane_display_layout small_layout(void) {
    pane_display_layout l;
    pane_display_layout_default(&l);
    l.max_width = W;
    l.max_height = H;
    l.max_consumers = 4;
    return l;
}

static char g_shm_name[64];

/* The build has the shm backend (Boost found): meson says so, and so must the library. */
#if !defined(PANE_TEST_EXPECT_SHM)
#define PANE_TEST_EXPECT_SHM 0
#endif
static int have_shm(void) { return (pane_region_backends() & PANE_BACKEND_SHM) != 0; }

/* Two views of one region: on POSIX the same shm object mapped twice, else memory and a wrap. */
static void open_pair(pane_region** producer_side, pane_region** consumer_side) {
    pane_display_layout l = small_layout();
    uint64_t size = 0;
    *producer_side = *consumer_side = NULL;
    CHECK_STATUS(pane_display_region_size(&l, &size), PANE_OK);
    if (have_shm()) {
        CHECK_STATUS(pane_region_open_shm(g_shm_name, size, PANE_OPEN_OR_CREATE, producer_side), PANE_OK);
        CHECK_STATUS(pane_region_open_shm(g_shm_name, 0, PANE_OPEN_ONLY, consumer_side), PANE_OK);
        CHECK(*consumer_side == NULL || (pane_region_size(*consumer_side) >= size &&
                                         strncmp(pane_region_description(*consumer_side), "shm:", 4) == 0));
        return;
    }
    CHECK_STATUS(pane_region_open_memory(size, producer_side), PANE_OK);
    if (*producer_side != NULL)
        CHECK_STATUS(pane_region_wrap(pane_region_data(*producer_side), pane_region_size(*producer_side), 0,
                                      consumer_side),
                     PANE_OK);
}

static void close_pair(pane_region* a, pane_region* b) {
    pane_region_close(b);
    pane_region_close(a);
    if (have_shm()) (void)pane_region_remove_shm(g_shm_name);
}

/* ---------------------------------------------------------------------------------------- */

static void test_wire_table(void) {
    /* The same table as pane.h's _Static_asserts, at run time, to print what this target has. */
    static const struct {
        const char* name;
        size_t size, expected;
    } table[] = {
        {"pane_region_header", sizeof(pane_region_header), 256},
        {"pane_channel_entry", sizeof(pane_channel_entry), 64},
        {"pane_consumer_slot", sizeof(pane_consumer_slot), 128},
        {"pane_ring_control", sizeof(pane_ring_control), 192},
        {"pane_ring_cursor", sizeof(pane_ring_cursor), 64},
        {"pane_ring_slot_header", sizeof(pane_ring_slot_header), 16},
        {"pane_damage_rect", sizeof(pane_damage_rect), 16},
        {"pane_hdr_metadata", sizeof(pane_hdr_metadata), 32},
        {"pane_frame_descriptor", sizeof(pane_frame_descriptor), 1152},
        {"pane_frame_control", sizeof(pane_frame_control), 256},
        {"pane_frame_buffer_state", sizeof(pane_frame_buffer_state), 64},
        {"pane_frame_lease", sizeof(pane_frame_lease), 64},
        {"pane_cursor_shape_header", sizeof(pane_cursor_shape_header), 40},
        {"pane_cursor_shape_control", sizeof(pane_cursor_shape_control), 128},
        {"pane_cursor_position_control", sizeof(pane_cursor_position_control), 128},
        {"pane_control_channel_control", sizeof(pane_control_channel_control), 64},
        {"pane_control_ring_control", sizeof(pane_control_ring_control), 128},
        {"pane_control_message_header", sizeof(pane_control_message_header), 8},
        {"pane_control_cursor_position", sizeof(pane_control_cursor_position), 8},
        {"pane_control_window_size", sizeof(pane_control_window_size), 8},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i) {
        CHECK(table[i].size == table[i].expected);
        if (table[i].size != table[i].expected) fprintf(stderr, "  %s is %u bytes\n", table[i].name, (unsigned)table[i].size);
    }
    CHECK(pane_test_wire_checked() == (int)(sizeof table / sizeof table[0]));
    /* The 64-bit fields that i386 would place at 4 mod 8 without the alignment. */
    CHECK(offsetof(pane_region_header, region_size) == 16);
    CHECK(offsetof(pane_frame_descriptor, producer_time_ns) == 48);
    CHECK(offsetof(pane_frame_control, host_id) == 72);
    CHECK(_Alignof(pane_region_header) == 8 && _Alignof(pane_damage_rect) == 8);
    printf("wire table: %u structs, pointer size %u\n", (unsigned)(sizeof table / sizeof table[0]),
           (unsigned)sizeof(void*));
}

static void test_status_strings(void) {
    static const pane_status all[] = {
        PANE_OK, PANE_TIMED_OUT, PANE_NO_FRAME, PANE_SUPERSEDED, PANE_NO_FREE_BUFFER, PANE_UNCHANGED,
        PANE_NONE_YET, PANE_CONTENDED, PANE_EMPTY, PANE_FULL, PANE_EPOCH_CHANGED, PANE_SLOT_LOST,
        PANE_PRODUCER_STALE, PANE_PRODUCER_CLOSED, PANE_NOT_OWNER, PANE_INVALID_FRAME, PANE_REUSED, PANE_BROKEN,
        PANE_INVALID_CURSOR, PANE_TOO_LARGE, PANE_ROWS_OUT_OF_RANGE, PANE_ROWS_ALREADY_PUBLISHED,
        PANE_E_INVALID_ARGUMENT, PANE_E_NO_MEMORY, PANE_E_INTERNAL, PANE_E_UNSUPPORTED, PANE_E_BAD_STATE,
        PANE_E_BUFFER_TOO_SMALL, PANE_E_MAP_NOT_FOUND, PANE_E_MAP_ALREADY_EXISTS, PANE_E_MAP_PERMISSION_DENIED,
        PANE_E_MAP_TOO_SMALL, PANE_E_MAP_INVALID_ARGUMENT, PANE_E_MAP_SYSTEM_ERROR, PANE_E_INIT_REGION_TOO_SMALL,
        PANE_E_INIT_INVALID_LAYOUT, PANE_E_INIT_TOO_MANY_CHANNELS, PANE_E_INIT_TOO_MANY_CONSUMERS,
        PANE_E_INIT_PRODUCER_ACTIVE, PANE_E_ATTACH_REGION_TOO_SMALL, PANE_E_ATTACH_BAD_MAGIC,
        PANE_E_ATTACH_UNSUPPORTED_VERSION, PANE_E_ATTACH_NOT_READY, PANE_E_ATTACH_INVALID_LAYOUT,
        PANE_E_ATTACH_NO_FREE_SLOT, PANE_E_ATTACH_EPOCH_CHANGED, PANE_E_CHANNEL_NOT_FOUND,
        PANE_E_CHANNEL_WRONG_KIND, PANE_E_CHANNEL_WRONG_ELEMENT, PANE_E_CHANNEL_INVALID_LAYOUT,
        PANE_E_CHANNEL_ALREADY_OPEN, PANE_E_CHANNEL_NOT_ATTACHED,
    };
    const size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; ++i) {
        const char* s = pane_status_str(all[i]);
        CHECK(s != NULL && s[0] != '\0' && strcmp(s, "unknown status") != 0);
        for (size_t j = 0; j < i; ++j) CHECK(strcmp(s, pane_status_str(all[j])) != 0); /* each says something else */
    }
    CHECK(strcmp(pane_status_str(9999), "unknown status") == 0);
    CHECK(strcmp(pane_status_str(PANE_E_ATTACH_BAD_MAGIC), "not a Pane region (bad magic)") == 0);
    CHECK(pane_c_api_version() == PANE_C_API_VERSION);
    CHECK(pane_bytes_per_pixel(PANE_FORMAT_BGRA8) == 4 && pane_bytes_per_pixel(PANE_FORMAT_RGBA16F) == 8 &&
          pane_bytes_per_pixel(PANE_FORMAT_RGB_24) == 3 && pane_bytes_per_pixel(0) == 0 && pane_bytes_per_pixel(7) == 0);
}

static void test_bad_arguments(void) {
    pane_region* r = NULL;
    pane_producer* p = NULL;
    pane_consumer* c = NULL;
    pane_display_layout l = small_layout();
    uint64_t size = 0;
    CHECK_STATUS(pane_region_open_memory(0, &r), PANE_E_INVALID_ARGUMENT);
    CHECK_STATUS(pane_region_open_memory(4096, NULL), PANE_E_INVALID_ARGUMENT);
    CHECK_STATUS(pane_region_open_shm(NULL, 4096, PANE_OPEN_OR_CREATE, &r), PANE_E_INVALID_ARGUMENT);
    CHECK_STATUS(pane_region_open_shm("x", 4096, 7, &r), PANE_E_INVALID_ARGUMENT);
    CHECK(r == NULL);
    CHECK_STATUS(pane_producer_create(NULL, &l, NULL, &p), PANE_E_INVALID_ARGUMENT);
    CHECK_STATUS(pane_consumer_attach(NULL, NULL, &c), PANE_E_INVALID_ARGUMENT);
    CHECK_STATUS(pane_producer_tick(NULL), PANE_E_INVALID_ARGUMENT);
    CHECK_STATUS(pane_consumer_tick(NULL), PANE_E_INVALID_ARGUMENT);
    CHECK_STATUS(pane_consumer_read_frame(NULL, &size, sizeof size, 0, 0, NULL), PANE_E_INVALID_ARGUMENT);
    CHECK_STATUS(pane_frame_writer_finish(NULL), PANE_E_INVALID_ARGUMENT);
    CHECK_STATUS(pane_frame_reader_verify(NULL), PANE_E_INVALID_ARGUMENT);
    pane_region_close(NULL);
    pane_producer_destroy(NULL);
    pane_consumer_destroy(NULL);
    pane_frame_reader_release(NULL);

    /* A misaligned wrap is refused before any session sees it. */
    {
        static _Alignas(64) unsigned char block[8192];
        CHECK_STATUS(pane_region_wrap(block + 8, 4096, 0, &r), PANE_E_INVALID_ARGUMENT);
        CHECK_STATUS(pane_region_wrap(block, 64, 0, &r), PANE_E_INVALID_ARGUMENT);
        REQUIRE_STATUS(pane_region_wrap(block, sizeof block, 0, &r), PANE_OK);
        /* Zeroed memory is no region; a layout that does not fit is refused. */
        CHECK_STATUS(pane_consumer_attach(r, NULL, &c), PANE_E_ATTACH_BAD_MAGIC);
        CHECK(c == NULL);
        CHECK_STATUS(pane_producer_create(r, &l, NULL, &p), PANE_E_INIT_REGION_TOO_SMALL);
        CHECK(p == NULL);
        pane_region_close(r); /* the block stays ours */
        CHECK(block[0] == 0);
    }

    /* Layouts the C++ planner refuses. */
    l.buffers = 2;
    CHECK_STATUS(pane_display_region_size(&l, &size), PANE_E_INIT_INVALID_LAYOUT);
    l = small_layout();
    l.max_consumers = 65;
    CHECK_STATUS(pane_display_region_size(&l, &size), PANE_E_INIT_TOO_MANY_CONSUMERS);
    l = small_layout();
    l.control_capacity = 63; /* not a power of two */
    CHECK_STATUS(pane_display_region_size(&l, &size), PANE_E_INIT_INVALID_LAYOUT);

    CHECK(have_shm() == PANE_TEST_EXPECT_SHM);
    if (have_shm()) {
        CHECK_STATUS(pane_region_open_shm("pane-capi-test-no-such-object", 0, PANE_OPEN_ONLY, &r), PANE_E_MAP_NOT_FOUND);
        CHECK_STATUS(pane_region_open_file("/nonexistent-dir/pane-capi", 4096, PANE_OPEN_OR_CREATE, &r),
                     PANE_E_MAP_NOT_FOUND);
    } else {
        CHECK_STATUS(pane_region_open_shm("x", 4096, PANE_OPEN_OR_CREATE, &r), PANE_E_UNSUPPORTED);
        CHECK_STATUS(pane_region_open_file("x", 4096, PANE_OPEN_OR_CREATE, &r), PANE_E_UNSUPPORTED);
    }
#if defined(_WIN32)
    /* No IVSHMEM device under wine or in CI. */
    CHECK((pane_region_backends() & PANE_BACKEND_WINDOWS_IVSHMEM) != 0);
    CHECK_STATUS(pane_region_open_windows_ivshmem(7, 0, 1, &r), PANE_E_MAP_NOT_FOUND);
#else
    CHECK_STATUS(pane_region_open_windows_ivshmem(0, 0, 1, &r), PANE_E_UNSUPPORTED);
#endif
    CHECK(r == NULL);
out:
    return;
}

/* A hostile region: a valid header whose channel table points outside the mapping. */
static void test_hostile_region(void) {
    pane_region *a = NULL, *b = NULL;
    pane_producer* p = NULL;
    pane_consumer* c = NULL;
    pane_display_layout l = small_layout();
    open_pair(&a, &b);
    if (a == NULL || b == NULL) return;
    REQUIRE_STATUS(pane_producer_create(a, &l, NULL, &p), PANE_OK);
    {
        pane_region_header* h = (pane_region_header*)pane_region_data(b);
        pane_channel_entry* table = (pane_channel_entry*)((unsigned char*)pane_region_data(b) + h->channel_table_offset);
        CHECK(h->magic == PANE_REGION_MAGIC && h->producer_state == PANE_PRODUCER_STATE_READY);
        CHECK(h->channel_count == 4 && table[0].kind == PANE_CHANNEL_FRAMES && strcmp(table[0].name, "frames") == 0);
        table[0].offset = pane_region_size(b) + 4096; /* beyond the mapping */
        CHECK_STATUS(pane_consumer_attach(b, NULL, &c), PANE_E_ATTACH_INVALID_LAYOUT);
        CHECK(c == NULL);
        h->version_major = 2;
        CHECK_STATUS(pane_consumer_attach(b, NULL, &c), PANE_E_ATTACH_UNSUPPORTED_VERSION);
    }
out:
    pane_producer_destroy(p);
    close_pair(a, b);
}

/* A hostile producer side: the latest frame descriptor is rewritten in shared memory (found
 * through the C wire structs) to a frame wider than the channel allows. The consumer must say
 * PANE_BROKEN, count it, and read nothing until the next epoch. */
static void test_hostile_descriptor(void) {
    pane_region *a = NULL, *b = NULL;
    pane_producer* p = NULL;
    pane_consumer* c = NULL;
    pane_display_layout l = small_layout();
    pane_frame_info info = frame_info_for();
    pane_frame_descriptor d;
    pane_consumer_stats cs;
    uint8_t* src = (uint8_t*)calloc((size_t)H, ROW);
    open_pair(&a, &b);
    if (a == NULL || b == NULL || src == NULL) goto out;
    REQUIRE_STATUS(pane_producer_create(a, &l, NULL, &p), PANE_OK);
    REQUIRE_STATUS(pane_consumer_attach(b, NULL, &c), PANE_OK);
    REQUIRE_STATUS(pane_producer_frame_publish(p, &info, src, 0), PANE_OK);
    {
        unsigned char* base = (unsigned char*)pane_region_data(b);
        const pane_region_header* h = (const pane_region_header*)base;
        const pane_channel_entry* e = (const pane_channel_entry*)(base + h->channel_table_offset);
        const pane_frame_control* fc;
        const pane_ring_control* ring;
        pane_frame_descriptor* slot;
        CHECK(e[0].kind == PANE_CHANNEL_FRAMES);
        fc = (const pane_frame_control*)(base + e[0].offset);
        CHECK(fc->max_width == W && fc->max_height == H && fc->buffer_count == 3);
        ring = (const pane_ring_control*)(base + e[0].offset + fc->ring_offset);
        CHECK(ring->policy == PANE_RING_OVERWRITE && ring->element_size == sizeof(pane_frame_descriptor));
        CHECK(ring->write_pos == ring->initial_position + 1);
        slot = (pane_frame_descriptor*)((unsigned char*)ring + ring->slots_offset +
                                        ((ring->write_pos - 1) & (ring->capacity - 1)) * ring->slot_stride +
                                        sizeof(pane_ring_slot_header));
        CHECK(slot->width == W && slot->height == H && slot->format == PANE_FORMAT_BGRA8);
        slot->width = W * 1000;
    }
    CHECK_STATUS(pane_consumer_read_frame(c, src, (size_t)H * ROW, 0, 0, &d), PANE_BROKEN);
    CHECK_STATUS(pane_consumer_stats_get(c, &cs), PANE_OK);
    CHECK(cs.frame_violations == 1 && cs.frames_read == 0);
    CHECK(pane_consumer_frame_reader(c) == NULL);
    /* Stays broken for the epoch, whatever the producer publishes next; the session is fine. */
    CHECK_STATUS(pane_producer_frame_publish(p, &info, src, 0), PANE_OK);
    CHECK_STATUS(pane_consumer_read_frame(c, src, (size_t)H * ROW, 0, 0, &d), PANE_BROKEN);
    CHECK_STATUS(pane_consumer_tick(c), PANE_OK);
out:
    pane_consumer_destroy(c);
    pane_producer_destroy(p);
    close_pair(a, b);
    free(src);
}

static void test_exchange(void) {
    pane_region *a = NULL, *b = NULL;
    pane_producer* p = NULL;
    pane_consumer *c = NULL, *c2 = NULL;
    pane_display_layout l = small_layout();
    pane_frame_info info = frame_info_for();
    pane_frame_descriptor d;
    pane_frame_writer* w = NULL;
    pane_frame_reader* rd = NULL;
    const size_t dst_stride = ROW + 64; /* the caller's own row padding */
    uint8_t* src = (uint8_t*)malloc((size_t)H * ROW);
    uint8_t* dst = (uint8_t*)malloc((size_t)H * dst_stride);
    pane_damage_rect damage[2] = {{1, 2, 30, 40}, {100, 100, 20, 10}};
    if (src == NULL || dst == NULL) {
        CHECK(!"malloc");
        free(src);
        free(dst);
        return;
    }

    open_pair(&a, &b);
    if (a == NULL || b == NULL) goto out;
    CHECK_STATUS(pane_producer_create(a, &l, NULL, &p), PANE_OK);
    if (p == NULL) goto out;
    CHECK_STATUS(pane_consumer_attach(b, NULL, &c), PANE_OK);
    if (c == NULL) goto out;
    CHECK(pane_consumer_epoch(c) == pane_producer_epoch(p) && pane_producer_epoch(p) != 0);
    CHECK_STATUS(pane_producer_tick(p), PANE_OK);
    CHECK_STATUS(pane_consumer_tick(c), PANE_OK);
#if defined(__linux__)
    CHECK(pane_consumer_producer_shares_kernel(c) == 1); /* both read this kernel's boot id */
#endif
    {
        pane_region_header h;
        CHECK_STATUS(pane_consumer_header(c, &h), PANE_OK);
        CHECK(h.magic == PANE_REGION_MAGIC && h.version_major == PANE_PROTOCOL_VERSION_MAJOR && h.max_consumers == 4);
        CHECK(h.epoch == pane_producer_epoch(p));
    }

    /* Nothing yet. */
    CHECK_STATUS(pane_consumer_read_frame(c, dst, (size_t)H * dst_stride, dst_stride, 0, &d), PANE_NO_FRAME);
    CHECK_STATUS(pane_consumer_frame_acquire(c, 1000000, &rd), PANE_TIMED_OUT); /* 1 ms */
    CHECK(rd == NULL && pane_consumer_frame_reader(c) == NULL);

    /* A whole frame with damage, read into a padded buffer. */
    fill_frame(src, ROW, 1);
    info.damage = damage;
    info.damage_count = 2;
    info.capture_duration_ns = 1234;
    CHECK_STATUS(pane_producer_frame_publish(p, &info, src, 0), PANE_OK);
    memset(dst, 0xEE, (size_t)H * dst_stride);
    CHECK_STATUS(pane_consumer_read_frame(c, dst, (size_t)H * dst_stride, dst_stride, PANE_WAIT_FOREVER, &d), PANE_OK);
    CHECK(rows_match(dst, dst_stride, 0, H, 1));
    CHECK(dst[ROW] == 0xEE && dst[dst_stride - 1] == 0xEE); /* padding untouched */
    CHECK(d.width == W && d.height == H && d.format == PANE_FORMAT_BGRA8 && d.stride == ROW);
    CHECK(d.damage_count == 2 && (d.flags & PANE_FRAME_DAMAGE_VALID) != 0);
    CHECK(d.damage[1].x == 100 && d.damage[1].y == 100 && d.damage[1].width == 20 && d.damage[1].height == 10);
    CHECK(d.capture_duration_ns == 1234);
    CHECK_STATUS(pane_consumer_read_frame(c, dst, (size_t)H * dst_stride, dst_stride, 0, &d), PANE_NO_FRAME);
    info.damage = NULL;
    info.damage_count = 0;

    /* Progressive: half the rows, read, the rest through the buffer pointer. */
    fill_frame(src, ROW, 2);
    REQUIRE_STATUS(pane_producer_frame_begin(p, &info, &w), PANE_OK);
    CHECK_STATUS(pane_frame_writer_copy_rows(w, 0, H / 2, src, ROW), PANE_OK);
    /* A read that does not wait copies the rows that are there and leaves the frame in hand. */
    memset(&d, 0, sizeof d);
    memset(dst, 0, (size_t)H * dst_stride);
    CHECK_STATUS(pane_consumer_read_frame(c, dst, (size_t)H * dst_stride, dst_stride, 0, &d), PANE_TIMED_OUT);
    CHECK(d.height == H && d.serial != 0);
    CHECK(rows_match(dst, dst_stride, 0, H / 2, 2) && !rows_match(dst, dst_stride, H / 2, H / 2 + 1, 2));
    rd = pane_consumer_frame_reader(c);
    CHECK(rd != NULL);
    if (rd == NULL) goto out;
    CHECK(pane_frame_reader_rows_ready(rd) == H / 2);
    CHECK_STATUS(pane_frame_reader_wait_rows(rd, H / 2, 0), PANE_OK);
    CHECK_STATUS(pane_frame_reader_wait_rows(rd, H, 1000000), PANE_TIMED_OUT);
    {
        const void* data = NULL;
        uint64_t size = 0;
        void* wdata = NULL;
        uint32_t wstride = 0;
        uint64_t wsize = 0;
        CHECK_STATUS(pane_frame_reader_buffer(rd, &data, &size), PANE_OK);
        CHECK(size == (uint64_t)H * ROW && rows_match((const uint8_t*)data, ROW, 0, H / 2, 2));
        /* Rows published already cannot be copied again; rows beyond the frame never. */
        CHECK_STATUS(pane_frame_writer_copy_rows(w, 0, 1, src, ROW), PANE_ROWS_ALREADY_PUBLISHED);
        CHECK_STATUS(pane_frame_writer_copy_rows(w, H - 1, 2, src, ROW), PANE_ROWS_OUT_OF_RANGE);
        CHECK_STATUS(pane_frame_writer_buffer(w, &wdata, &wstride, &wsize), PANE_OK);
        CHECK(wstride == ROW && wsize == (uint64_t)H * ROW);
        memcpy((uint8_t*)wdata + (size_t)(H / 2) * ROW, src + (size_t)(H / 2) * ROW, (size_t)(H - H / 2) * ROW);
        CHECK_STATUS(pane_frame_writer_rows_ready(w, H), PANE_OK);
        CHECK_STATUS(pane_frame_reader_wait_rows(rd, H, PANE_WAIT_FOREVER), PANE_OK);
        CHECK(rows_match((const uint8_t*)data, ROW, 0, H, 2));
        CHECK_STATUS(pane_frame_reader_verify(rd), PANE_OK);
        CHECK_STATUS(pane_frame_reader_descriptor(rd, &d), PANE_OK);
        CHECK(d.serial != 0);
    }

    /* Leased: the producer moves on through the other buffers and never touches ours. */
    for (uint32_t i = 0; i < 10; ++i) {
        fill_frame(src, ROW, 10 + i);
        CHECK_STATUS(pane_producer_frame_publish(p, &info, src, 0), PANE_OK);
    }
    CHECK_STATUS(pane_frame_reader_verify(rd), PANE_OK);
    {
        const void* data = NULL;
        CHECK_STATUS(pane_frame_reader_buffer(rd, &data, NULL), PANE_OK);
        CHECK(rows_match((const uint8_t*)data, ROW, 0, H, 2));
    }
    /* Latest-frame semantics: the next read is the last of the ten, the others skipped. */
    CHECK_STATUS(pane_consumer_read_frame(c, dst, (size_t)H * dst_stride, dst_stride, 0, &d), PANE_OK);
    CHECK(rows_match(dst, dst_stride, 0, H, 19));
    {
        pane_consumer_stats cs;
        pane_producer_stats ps;
        CHECK_STATUS(pane_consumer_stats_get(c, &cs), PANE_OK);
        CHECK_STATUS(pane_producer_stats_get(p, &ps), PANE_OK);
        CHECK(cs.frames_read == 3 && cs.frames_skipped == 9 && cs.frame_violations == 0);
        CHECK(ps.frames_published == 12 && ps.frames_dropped == 0);
    }
    /* Too small a buffer: the descriptor says what it needs, the frame stays in hand. */
    fill_frame(src, ROW, 30);
    CHECK_STATUS(pane_producer_frame_publish(p, &info, src, 0), PANE_OK);
    memset(&d, 0, sizeof d);
    CHECK_STATUS(pane_consumer_read_frame(c, dst, (size_t)ROW * 2, 0, 0, &d), PANE_E_BUFFER_TOO_SMALL);
    CHECK(d.width == W && d.height == H);
    rd = pane_consumer_frame_reader(c);
    CHECK(rd != NULL);
    CHECK_STATUS(pane_frame_reader_copy(rd, dst, (size_t)H * ROW, 0, 0), PANE_OK);
    CHECK(rows_match(dst, ROW, 0, H, 30));
    pane_frame_reader_release(rd);
    CHECK(pane_consumer_frame_reader(c) == NULL);

    /* Frames the producer must refuse. */
    info.format = 9;
    CHECK_STATUS(pane_producer_frame_begin(p, &info, &w), PANE_INVALID_FRAME);
    CHECK(w == NULL);
    info = frame_info_for();
    info.width = W + 1;
    CHECK_STATUS(pane_producer_frame_publish(p, &info, src, 0), PANE_INVALID_FRAME);
    info = frame_info_for();
    info.damage = damage;
    info.damage_count = 1;
    damage[0].width = W; /* x 1 + width W: outside the frame */
    CHECK_STATUS(pane_producer_frame_publish(p, &info, src, 0), PANE_INVALID_FRAME);
    info = frame_info_for();
    CHECK_STATUS(pane_producer_frame_publish(p, &info, src, ROW - 1), PANE_E_INVALID_ARGUMENT);
    CHECK_STATUS(pane_consumer_read_frame(c, dst, (size_t)H * ROW, 0, 0, NULL), PANE_NO_FRAME);

    /* Cursor position. */
    {
        pane_cursor_position pos;
        CHECK_STATUS(pane_consumer_cursor_position(c, 0, &pos), PANE_NONE_YET);
        CHECK_STATUS(pane_producer_cursor_position(p, -5, 20, 1, 0), PANE_OK);
        CHECK_STATUS(pane_consumer_cursor_position(c, PANE_WAIT_FOREVER, &pos), PANE_OK);
        CHECK(pos.x == -5 && pos.y == 20 && pos.visible == 1);
        CHECK_STATUS(pane_consumer_cursor_position(c, 0, &pos), PANE_UNCHANGED);
        CHECK_STATUS(pane_consumer_cursor_position(c, 1000000, &pos), PANE_TIMED_OUT);
        CHECK_STATUS(pane_producer_cursor_position(p, 7, 8, 0, 77), PANE_OK);
        CHECK_STATUS(pane_producer_cursor_position(p, 9, 10, 1, 78), PANE_OK);
        CHECK_STATUS(pane_consumer_cursor_position(c, 0, &pos), PANE_OK); /* the latest value only */
        CHECK(pos.x == 9 && pos.y == 10 && pos.visible == 1 && pos.shape_serial == 78);
    }

    /* Cursor shape: colour, then monochrome; a short buffer; an invalid one. */
    {
        enum { SW = 32, SH = 24 };
        static uint8_t shape[SW * SH * 4], got[128 * 128 * 4];
        pane_cursor_shape_header sh;
        uint64_t serial = 0, serial2 = 0;
        for (size_t i = 0; i < sizeof shape; ++i) shape[i] = (uint8_t)(i * 5 + 1);
        CHECK(pane_consumer_cursor_shape_capacity(c) == 128 * 128 * 4);
        CHECK_STATUS(pane_consumer_cursor_shape(c, &sh, got, sizeof got), PANE_NONE_YET);
        CHECK_STATUS(pane_consumer_cursor_shape_last(c, &sh, got, sizeof got), PANE_NONE_YET);
        CHECK_STATUS(pane_producer_cursor_shape(p, PANE_CURSOR_COLOR, SW, SH, SW * 4, 3, 4, shape, sizeof shape, &serial),
                     PANE_OK);
        CHECK_STATUS(pane_consumer_cursor_shape(c, &sh, got, sizeof got), PANE_OK);
        CHECK(sh.serial == serial && sh.type == PANE_CURSOR_COLOR && sh.width == SW && sh.height == SH &&
              sh.hotspot_x == 3 && sh.hotspot_y == 4 && sh.data_size == sizeof shape);
        CHECK(memcmp(got, shape, sizeof shape) == 0);
        CHECK_STATUS(pane_consumer_cursor_shape(c, &sh, got, sizeof got), PANE_UNCHANGED);
        /* Monochrome: AND rows then XOR rows, pitch 4 bytes. */
        CHECK_STATUS(pane_producer_cursor_shape(p, PANE_CURSOR_MONOCHROME, SW, SH, SW / 8, 0, 0, shape,
                                                2 * (SW / 8) * SH, &serial2),
                     PANE_OK);
        CHECK(serial2 == serial + 1);
        CHECK_STATUS(pane_consumer_cursor_shape(c, &sh, got, 16), PANE_E_BUFFER_TOO_SMALL);
        CHECK(sh.serial == serial2 && sh.data_size == 2 * (SW / 8) * SH);
        memset(got, 0, sizeof got);
        CHECK_STATUS(pane_consumer_cursor_shape_last(c, &sh, got, sizeof got), PANE_OK);
        CHECK(memcmp(got, shape, 2 * (SW / 8) * SH) == 0);
        /* Rejected by the producer: hotspot outside, a size that is not pitch * height, too big. */
        CHECK_STATUS(pane_producer_cursor_shape(p, PANE_CURSOR_COLOR, SW, SH, SW * 4, SW, 0, shape, sizeof shape, NULL),
                     PANE_INVALID_CURSOR);
        CHECK_STATUS(pane_producer_cursor_shape(p, PANE_CURSOR_COLOR, SW, SH, SW * 4, 0, 0, shape, sizeof shape - 4, NULL),
                     PANE_INVALID_CURSOR);
        CHECK_STATUS(pane_producer_cursor_shape(p, 4, SW, SH, SW * 4, 0, 0, shape, sizeof shape, NULL),
                     PANE_INVALID_CURSOR);
        CHECK_STATUS(pane_consumer_cursor_shape(c, &sh, got, sizeof got), PANE_UNCHANGED);
    }

    /* Control: each kind, in order, with content; then a full ring. */
    {
        pane_control_message m;
        static const char hello[] = "hello, producer";
        static uint8_t big[300];
        int sent = 0, received = 0;
        CHECK_STATUS(pane_producer_control_receive(p, &m), PANE_EMPTY);
        CHECK_STATUS(pane_consumer_send_window_size(c, 2560, 1440), PANE_OK);
        CHECK_STATUS(pane_consumer_send_cursor_position(c, -1, 99), PANE_OK);
        CHECK_STATUS(pane_consumer_request_full_frame(c), PANE_OK);
        CHECK_STATUS(pane_consumer_send_application(c, 42, hello, sizeof hello), PANE_OK);
        CHECK_STATUS(pane_consumer_send_application(c, 43, big, sizeof big), PANE_TOO_LARGE);
        CHECK_STATUS(pane_producer_control_receive(p, &m), PANE_OK);
        CHECK(m.type == PANE_CONTROL_WINDOW_SIZE && m.width == 2560 && m.height == 1440 &&
              m.consumer == pane_consumer_slot_index(c));
        CHECK_STATUS(pane_producer_control_receive(p, &m), PANE_OK);
        CHECK(m.type == PANE_CONTROL_SET_CURSOR_POSITION && m.x == -1 && m.y == 99);
        CHECK_STATUS(pane_producer_control_receive(p, &m), PANE_OK);
        CHECK(m.type == PANE_CONTROL_FULL_FRAME_REQUEST && m.body_size == 0);
        CHECK_STATUS(pane_producer_control_receive(p, &m), PANE_OK);
        CHECK(m.type == PANE_CONTROL_APPLICATION && m.app_type == 42 && m.body_size == sizeof hello &&
              memcmp(m.body, hello, sizeof hello) == 0);
        CHECK_STATUS(pane_producer_control_receive(p, &m), PANE_EMPTY);
        while (sent < 1000 && pane_consumer_request_full_frame(c) == PANE_OK) ++sent;
        CHECK(sent == (int)l.control_capacity);
        CHECK_STATUS(pane_consumer_request_full_frame(c), PANE_FULL);
        while (received < 1000 && pane_producer_control_receive(p, &m) == PANE_OK) ++received;
        CHECK(received == sent);
        CHECK_STATUS(pane_consumer_request_full_frame(c), PANE_OK);
        CHECK_STATUS(pane_producer_control_receive(p, &m), PANE_OK);
        {
            pane_producer_stats ps;
            CHECK_STATUS(pane_producer_stats_get(p, &ps), PANE_OK);
            CHECK(ps.control_accepted == (uint64_t)(4 + received + 1) && ps.control_rejected == 0);
            CHECK(ps.cursor_shapes == 2 && ps.cursor_positions == 3);
        }
    }

    /* A second consumer gets a slot of its own; both are live after a tick. */
    CHECK_STATUS(pane_consumer_attach(b, NULL, &c2), PANE_OK);
    if (c2 != NULL) {
        CHECK(pane_consumer_slot_index(c2) != pane_consumer_slot_index(c));
        CHECK_STATUS(pane_producer_tick(p), PANE_OK);
        CHECK(pane_producer_live_consumers(p) ==
              (((uint64_t)1 << pane_consumer_slot_index(c)) | ((uint64_t)1 << pane_consumer_slot_index(c2))));
        CHECK_STATUS(pane_consumer_read_frame(c2, dst, (size_t)H * ROW, 0, 0, &d), PANE_OK); /* the current frame */
        CHECK(rows_match(dst, ROW, 0, H, 30));
        pane_consumer_destroy(c2);
        c2 = NULL;
    }

    /* The producer closes, and a new one starts a new epoch: every call says so. */
    {
        const uint64_t old_epoch = pane_producer_epoch(p);
        pane_producer_options po;
        pane_producer_options_default(&po);
        po.reinit_grace_ms = 1; /* our consumer is this thread: it cannot leave meanwhile */
        pane_producer_destroy(p);
        p = NULL;
        CHECK_STATUS(pane_consumer_tick(c), PANE_PRODUCER_CLOSED);
        CHECK_STATUS(pane_producer_create(a, &l, &po, &p), PANE_OK);
        if (p == NULL) goto out;
        CHECK(pane_producer_epoch(p) != old_epoch);
        CHECK_STATUS(pane_consumer_tick(c), PANE_EPOCH_CHANGED);
        CHECK_STATUS(pane_consumer_read_frame(c, dst, (size_t)H * ROW, 0, 0, &d), PANE_EPOCH_CHANGED);
        CHECK_STATUS(pane_consumer_send_window_size(c, 1, 1), PANE_EPOCH_CHANGED);
        pane_consumer_destroy(c);
        c = NULL;
        CHECK_STATUS(pane_consumer_attach(b, NULL, &c), PANE_OK);
        if (c == NULL) goto out;
        CHECK(pane_consumer_epoch(c) == pane_producer_epoch(p));
        fill_frame(src, ROW, 40);
        CHECK_STATUS(pane_producer_frame_publish(p, &info, src, 0), PANE_OK);
        CHECK_STATUS(pane_consumer_read_frame(c, dst, (size_t)H * ROW, 0, PANE_WAIT_FOREVER, &d), PANE_OK);
        CHECK(rows_match(dst, ROW, 0, H, 40));
        /* A second producer: ours did not heartbeat while it watched (this thread was inside
           its create), so it counts as gone and is replaced; ours then learns it. */
        {
            pane_producer* other = NULL;
            CHECK_STATUS(pane_producer_create(a, &l, &po, &other), PANE_OK);
            CHECK_STATUS(pane_producer_tick(p), PANE_NOT_OWNER);
            CHECK_STATUS(pane_consumer_tick(c), PANE_EPOCH_CHANGED);
            pane_producer_destroy(other);
        }
    }

out:
    pane_consumer_destroy(c2);
    pane_consumer_destroy(c);
    pane_producer_destroy(p);
    close_pair(a, b);
    free(src);
    free(dst);
}

/* ---------------------------------------------------------------------------------------- */
#if PANE_TEST_POSIX
/* The consumer in a child process: it reads frames until it has verified `want` of them (or
 * times out), then reports the count through a control message. */
static int child_consumer(uint32_t want) {
    pane_region* r = NULL;
    pane_consumer* c = NULL;
    uint8_t* dst = (uint8_t*)malloc((size_t)H * ROW);
    uint32_t verified = 0, bad = 0;
    int rounds = 0;
    if (dst == NULL) return 3;
    for (int i = 0; i < 2000 && pane_region_open_shm(g_shm_name, 0, PANE_OPEN_ONLY, &r) != PANE_OK; ++i) sleep_us(5000);
    for (int i = 0; r != NULL && i < 2000 && pane_consumer_attach(r, NULL, &c) != PANE_OK; ++i) sleep_us(5000);
    if (c == NULL) return 4;
    while (verified < want && rounds++ < 2000) {
        pane_frame_descriptor d;
        const pane_status s = pane_consumer_read_frame(c, dst, (size_t)H * ROW, 0, 10000000, &d); /* 10 ms */
        if (pane_consumer_tick(c) != PANE_OK) break;
        if (s == PANE_OK) {
            /* The producer tags frame k with k: the tag travels in capture_duration_ns. */
            if (rows_match(dst, ROW, 0, H, (uint32_t)d.capture_duration_ns)) ++verified;
            else ++bad;
        }
    }
    {
        uint32_t report[2] = {verified, bad};
        while (pane_consumer_send_application(c, 7, report, sizeof report) == PANE_FULL) sleep_us(1000);
    }
    /* Stay attached until the producer has the report (it closes the region then). */
    for (int i = 0; i < 2000 && pane_consumer_tick(c) == PANE_OK; ++i) sleep_us(2000);
    pane_consumer_destroy(c);
    pane_region_close(r);
    free(dst);
    return bad == 0 && verified >= want ? 0 : 1;
}

/* The producer side of the two-process tests: publishes tagged frames (the tag also travels in
 * capture_duration_ns) until the consumer's report arrives or ~20 s pass. */
static void produce_until_report(uint32_t want) {
    pane_region* a = NULL;
    pane_producer* p = NULL;
    pane_display_layout l = small_layout();
    pane_frame_info info = frame_info_for();
    uint8_t* src = (uint8_t*)malloc((size_t)H * ROW);
    uint64_t size = 0;
    uint32_t report[2] = {0, 0};
    int got_report = 0;
    CHECK(src != NULL);
    CHECK(have_shm()); /* two processes meet by name */
    CHECK_STATUS(pane_display_region_size(&l, &size), PANE_OK);
    CHECK_STATUS(pane_region_open_shm(g_shm_name, size, PANE_OPEN_OR_CREATE, &a), PANE_OK);
    if (a != NULL) CHECK_STATUS(pane_producer_create(a, &l, NULL, &p), PANE_OK);
    for (uint32_t k = 1; src != NULL && p != NULL && k < 10000 && !got_report; ++k) {
        pane_control_message m;
        fill_frame(src, ROW, k);
        info.capture_duration_ns = k;
        (void)pane_producer_frame_publish(p, &info, src, 0);
        (void)pane_producer_tick(p);
        while (pane_producer_control_receive(p, &m) == PANE_OK) {
            if (m.type == PANE_CONTROL_APPLICATION && m.app_type == 7 && m.body_size == sizeof report) {
                memcpy(report, m.body, sizeof report);
                got_report = 1;
            }
        }
        sleep_us(2000);
    }
    pane_producer_destroy(p);
    CHECK(got_report && report[0] >= want && report[1] == 0);
    printf("the consumer verified %u frames, %u bad (producer: %u-bit)\n", report[0], report[1],
           (unsigned)(8 * sizeof(void*)));
    pane_region_close(a);
    free(src);
}

enum { FORK_WANT = 20 };

static void test_fork(void) {
    int status = 0;
    pid_t child;
    (void)pane_region_remove_shm(g_shm_name);
    child = fork();
    if (child == 0) _exit(child_consumer(FORK_WANT));
    CHECK(child > 0);
    if (child > 0) {
        produce_until_report(FORK_WANT);
        CHECK(waitpid(child, &status, 0) == child);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    (void)pane_region_remove_shm(g_shm_name);
}

/* --produce NAME / --consume NAME: the two sides as separate programs (scripts/pass-capi32.sh
 * runs a 64-bit one against a 32-bit one). The producer removes the name when done. */
static void test_produce(void) {
    produce_until_report(FORK_WANT);
    (void)pane_region_remove_shm(g_shm_name);
}
static void test_consume(void) {
    const int rc = child_consumer(FORK_WANT);
    CHECK(rc == 0);
    printf("consumer (%u-bit): exit %d\n", (unsigned)(8 * sizeof(void*)), rc);
}
#endif

#if PANE_TEST_POSIX
/* --threads: the thread layout pane.h allows, as the tools use it. Producer: frames, control
 * and tick on one thread, cursor positions on another. Consumer: frames on one thread, cursor
 * on another, tick and control on the main thread. Every frame and position read is checked;
 * TSan (the tsan pass runs this) checks the rest. Bounded: every loop has a fixed number of
 * rounds, each wait a timeout. */
enum { THREAD_FRAMES = 60, THREAD_POSITIONS = 400 };

typedef struct {
    pane_producer* p;
    pane_consumer* c;
    int frames_ok, frames_bad, positions_ok, positions_bad;
    int control_received;
} thread_state;

static void* producer_cursor_thread(void* arg) {
    thread_state* t = (thread_state*)arg;
    for (int32_t i = 1; i <= THREAD_POSITIONS; ++i) {
        (void)pane_producer_cursor_position(t->p, i, 2 * i, 1, 0);
        sleep_us(200);
    }
    return NULL;
}

static void* producer_frames_thread(void* arg) {
    thread_state* t = (thread_state*)arg;
    pane_frame_info info = frame_info_for();
    uint8_t* src = (uint8_t*)malloc((size_t)H * ROW);
    if (src == NULL) return NULL;
    for (uint32_t k = 1; k <= THREAD_FRAMES; ++k) {
        pane_control_message m;
        fill_frame(src, ROW, k);
        info.capture_duration_ns = k;
        (void)pane_producer_frame_publish(t->p, &info, src, 0);
        (void)pane_producer_tick(t->p);
        while (pane_producer_control_receive(t->p, &m) == PANE_OK) ++t->control_received;
        sleep_us(2000);
    }
    free(src);
    return NULL;
}

static void* consumer_frames_thread(void* arg) {
    thread_state* t = (thread_state*)arg;
    uint8_t* dst = (uint8_t*)malloc((size_t)H * ROW);
    uint64_t last = 0;
    if (dst == NULL) return NULL;
    for (int round = 0; round < 4000 && last < THREAD_FRAMES; ++round) {
        pane_frame_descriptor d;
        if (pane_consumer_read_frame(t->c, dst, (size_t)H * ROW, 0, 5000000, &d) != PANE_OK) continue;
        if (d.capture_duration_ns > last && rows_match(dst, ROW, 0, H, (uint32_t)d.capture_duration_ns)) ++t->frames_ok;
        else ++t->frames_bad;
        last = d.capture_duration_ns;
    }
    free(dst);
    return NULL;
}

static void* consumer_cursor_thread(void* arg) {
    thread_state* t = (thread_state*)arg;
    int32_t last = 0;
    for (int round = 0; round < 20000 && last < THREAD_POSITIONS; ++round) {
        pane_cursor_position pos;
        if (pane_consumer_cursor_position(t->c, 5000000, &pos) != PANE_OK) continue;
        if (pos.x > last && pos.y == 2 * pos.x && pos.visible == 1) ++t->positions_ok;
        else ++t->positions_bad;
        last = pos.x;
    }
    return NULL;
}

static void test_threads(void) {
    pane_region *a = NULL, *b = NULL;
    thread_state t;
    pthread_t pf, pc, cf, cc;
    int sent = 0;
    pane_display_layout l = small_layout();
    memset(&t, 0, sizeof t);
    open_pair(&a, &b);
    if (a == NULL || b == NULL) goto out;
    REQUIRE_STATUS(pane_producer_create(a, &l, NULL, &t.p), PANE_OK);
    REQUIRE_STATUS(pane_consumer_attach(b, NULL, &t.c), PANE_OK);
    CHECK(pthread_create(&cf, NULL, consumer_frames_thread, &t) == 0);
    CHECK(pthread_create(&cc, NULL, consumer_cursor_thread, &t) == 0);
    CHECK(pthread_create(&pf, NULL, producer_frames_thread, &t) == 0);
    CHECK(pthread_create(&pc, NULL, producer_cursor_thread, &t) == 0);
    /* The main thread: the consumer's tick and control while the others run. */
    for (int i = 0; i < 100; ++i) {
        CHECK_STATUS(pane_consumer_tick(t.c), PANE_OK);
        if (pane_consumer_send_window_size(t.c, 100 + (uint32_t)i, 50) == PANE_OK) ++sent;
        sleep_us(1000);
    }
    pthread_join(pf, NULL);
    pthread_join(pc, NULL);
    pthread_join(cf, NULL);
    pthread_join(cc, NULL);
    CHECK(t.frames_bad == 0 && t.positions_bad == 0);
    CHECK(t.frames_ok > 0 && t.positions_ok > 0);
    /* The last frame and position always arrive (latest-value semantics). */
    {
        pane_control_message m;
        while (pane_producer_control_receive(t.p, &m) == PANE_OK) ++t.control_received;
        CHECK(t.control_received == sent);
    }
    printf("threads: %d frames, %d positions verified, %d control messages\n", t.frames_ok, t.positions_ok,
           t.control_received);
out:
    pane_consumer_destroy(t.c);
    pane_producer_destroy(t.p);
    close_pair(a, b);
}
#endif

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "";
#if PANE_TEST_POSIX
    snprintf(g_shm_name, sizeof g_shm_name, "pane-capi-test-%ld%s", (long)getpid(), mode[0] != '\0' ? "-fork" : "");
    if (argc > 2) snprintf(g_shm_name, sizeof g_shm_name, "%s", argv[2]);
#else
    snprintf(g_shm_name, sizeof g_shm_name, "pane-capi-test");
#endif
    if (mode[0] != '\0') {
#if PANE_TEST_POSIX
        if (strcmp(mode, "--fork") == 0) run_case("fork", test_fork);
        else if (strcmp(mode, "--threads") == 0) run_case("threads", test_threads);
        else if (strcmp(mode, "--produce") == 0 && argc > 2) run_case("produce", test_produce);
        else if (strcmp(mode, "--consume") == 0 && argc > 2) run_case("consume", test_consume);
        else {
            fprintf(stderr, "usage: pane-capi-test [--fork | --threads | --produce SHM-NAME | --consume SHM-NAME]\n");
            return 2;
        }
#else
        fprintf(stderr, "%s needs POSIX\n", mode);
        return 2;
#endif
    } else {
        run_case("wire table", test_wire_table);
        run_case("status strings", test_status_strings);
        run_case("bad arguments", test_bad_arguments);
        run_case("hostile region", test_hostile_region);
        run_case("hostile descriptor", test_hostile_descriptor);
        run_case("exchange", test_exchange);
    }
    /* Catch2's summary format, which scripts/test.sh adds up. */
    if (g_failures == 0) {
        printf("All tests passed (%d assertions in %d test cases)\n", g_checks, g_cases);
        return 0;
    }
    printf("test cases: %d | %d passed | %d failed\n", g_cases, g_cases - g_failed_cases, g_failed_cases);
    return 1;
}
