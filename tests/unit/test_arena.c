/* test_arena.c - unit tests for the batch arena (core/arena.c): alignment,
 * growth across chunks, oversized blocks, memdup, release and the protobuf-c allocator. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch_builder.h"
#include "otc/otc_arena.h"
#include "otc/otc_otlp.h"

/* Under AddressSanitizer a failing malloc must return NULL instead of aborting,
 * so the "too big" tests can check the arena's own answer. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

#define ALIGNED16(p) ((((uintptr_t)(p)) & 15u) == 0)

/* Every allocation, whatever its size, starts on a 16-byte boundary. */
static void test_alignment(void **state)
{
    struct otc_arena a;
    char *prev = NULL;

    (void)state;
    otc_arena_init(&a, 0);
    for (size_t n = 0; n < 200; n++) {
        char *p = otc_arena_alloc(&a, n);
        assert_non_null(p);
        assert_true(ALIGNED16(p));
        if (prev && n > 0) {
            /* consecutive blocks in one chunk never overlap */
            assert_true(p != prev);
        }
        memset(p, 0xab, n);
        prev = p;
    }
    /* a zero-byte request still returns a distinct, usable block */
    {
        char *z1 = otc_arena_alloc(&a, 0);
        char *z2 = otc_arena_alloc(&a, 0);
        assert_non_null(z1);
        assert_non_null(z2);
        assert_ptr_not_equal(z1, z2);
        assert_true(ALIGNED16(z1));
        assert_true(ALIGNED16(z2));
    }
    otc_arena_release(&a);
}

/* Small requests fill the current chunk and then spill into new, bigger chunks;
 * the earlier blocks keep their contents. */
static void test_growth_across_chunks(void **state)
{
    enum { N = 400, SZ = 100 };
    struct otc_arena a;
    unsigned char *blocks[N];
    size_t after_first;

    (void)state;
    otc_arena_init(&a, 0);
    assert_null(a.head);
    blocks[0] = otc_arena_alloc(&a, SZ);
    assert_non_null(blocks[0]);
    assert_non_null(a.head);
    after_first = a.bytes;
    assert_true(after_first >= 4096);
    memset(blocks[0], 0, SZ);
    for (size_t i = 1; i < N; i++) {
        blocks[i] = otc_arena_alloc(&a, SZ);
        assert_non_null(blocks[i]);
        assert_true(ALIGNED16(blocks[i]));
        memset(blocks[i], (int)(i & 0xff), SZ);
    }
    /* 400 * 112 bytes do not fit in the first 4 KiB chunk */
    assert_true(a.bytes > after_first);
    assert_true(a.bytes >= (size_t)N * SZ);
    for (size_t i = 1; i < N; i++) {
        for (size_t k = 0; k < SZ; k++) {
            assert_int_equal(blocks[i][k], i & 0xff);
        }
    }
    /* no two blocks overlap */
    for (size_t i = 0; i < N; i++) {
        for (size_t j = i + 1; j < N; j++) {
            assert_true(blocks[i] + SZ <= blocks[j] || blocks[j] + SZ <= blocks[i]);
        }
    }
    otc_arena_release(&a);
}

/* The size hint given to init is honoured by the first chunk. */
static void test_first_chunk_hint(void **state)
{
    struct otc_arena a;
    char *p;

    (void)state;
    otc_arena_init(&a, 100000);
    p = otc_arena_alloc(&a, 1);
    assert_non_null(p);
    assert_true((size_t)(a.end - p) >= 100000);
    /* a second small allocation comes from the same chunk */
    assert_true(otc_arena_alloc(&a, 5000) == p + 16);
    assert_true(a.bytes >= 100000 && a.bytes < 100000 + 4096);
    otc_arena_release(&a);
}

/* A request bigger than any chunk gets a chunk of its own, and allocation
 * continues normally afterwards. */
/* reserve starts one chunk of exactly the asked size when the current one is
 * short, and nothing when it has room; the reserved bytes then need no chunk. */
static void test_reserve(void **state)
{
    struct otc_arena a;
    size_t before;
    char *first;

    (void)state;
    otc_arena_init(&a, 4096);
    first = otc_arena_alloc(&a, 100);
    assert_non_null(first);
    before = a.bytes;
    assert_int_equal(otc_arena_reserve(&a, 64), 0);
    assert_int_equal(a.bytes, before); /* fits: no new chunk */
    assert_int_equal(otc_arena_reserve(&a, 1 << 20), 0);
    assert_true(a.bytes >= before + (1 << 20));
    assert_true(a.bytes < before + (1 << 20) + 256); /* that size, not doubled */
    before = a.bytes;
    for (int i = 0; i < 1000; i++) {
        assert_non_null(otc_arena_alloc(&a, 1000));
    }
    assert_int_equal(a.bytes, before); /* 1,000,000 bytes fitted in the reserve */
    assert_int_equal(otc_arena_reserve(&a, SIZE_MAX - 8), -1);
    otc_arena_release(&a);
}

static void test_large_allocation(void **state)
{
    const size_t big = 3u << 20; /* 3 MiB, far above the 4 KiB minimum chunk */
    struct otc_arena a;
    unsigned char *small, *large, *after;

    (void)state;
    otc_arena_init(&a, 0);
    small = otc_arena_alloc(&a, 10);
    assert_non_null(small);
    memset(small, 0x11, 10);
    large = otc_arena_alloc(&a, big);
    assert_non_null(large);
    assert_true(ALIGNED16(large));
    memset(large, 0x5a, big); /* ASan: the whole block is addressable */
    assert_int_equal(large[0], 0x5a);
    assert_int_equal(large[big - 1], 0x5a);
    assert_true(a.bytes >= big + 4096);
    after = otc_arena_alloc(&a, 64);
    assert_non_null(after);
    memset(after, 0x22, 64);
    assert_true(after + 64 <= large || after >= large + big);
    assert_int_equal(small[9], 0x11);
    assert_int_equal(large[big / 2], 0x5a);
    otc_arena_release(&a);
}

/* Requests whose size cannot be represented must fail, not wrap around to a tiny block. */
static void test_impossible_size_fails(void **state)
{
    struct otc_arena a;
    void *before, *huge, *almost, *after;

    (void)state;
    otc_arena_init(&a, 0);
    before = otc_arena_alloc(&a, 8);
    huge = otc_arena_alloc(&a, SIZE_MAX);
    almost = otc_arena_alloc(&a, SIZE_MAX - 8);
    after = otc_arena_alloc(&a, 8); /* the arena is still usable */
    otc_arena_release(&a);
    assert_non_null(before);
    assert_null(huge);
    assert_null(almost);
    assert_non_null(after);
}

static void test_memdup(void **state)
{
    static const char text[] = "hello, arena";
    unsigned char bin[300];
    struct otc_arena a;
    char *s;
    unsigned char *b;

    (void)state;
    for (size_t i = 0; i < sizeof(bin); i++) {
        bin[i] = (unsigned char)(i * 7);
    }
    otc_arena_init(&a, 0);
    s = otc_arena_memdup(&a, text, sizeof(text));
    assert_non_null(s);
    assert_ptr_not_equal(s, text);
    assert_string_equal(s, text);
    assert_true(ALIGNED16(s));
    b = otc_arena_memdup(&a, bin, sizeof(bin));
    assert_non_null(b);
    assert_memory_equal(b, bin, sizeof(bin));
    /* the copy is independent of the source */
    bin[0] = 0xff;
    assert_int_equal(b[0], 0);
    /* zero bytes: a valid pointer, nothing copied */
    assert_non_null(otc_arena_memdup(&a, bin, 0));
    otc_arena_release(&a);
}

/* release frees every chunk (ASan reports a leak otherwise) and resets the
 * arena; after init it can be used again. */
static void test_release_and_reuse(void **state)
{
    struct otc_arena a;

    (void)state;
    otc_arena_init(&a, 0);
    for (int i = 0; i < 100; i++) {
        assert_non_null(otc_arena_alloc(&a, 1000));
    }
    assert_true(a.bytes >= 100000);
    otc_arena_release(&a);
    assert_null(a.head);
    assert_null(a.cur);
    assert_null(a.end);
    assert_int_equal(a.bytes, 0);
    /* releasing twice is harmless */
    otc_arena_release(&a);
    assert_null(a.head);

    otc_arena_init(&a, 0);
    assert_non_null(otc_arena_alloc(&a, 32));
    otc_arena_release(&a);
    /* releasing a never-used arena is harmless too */
    otc_arena_init(&a, 1 << 20);
    otc_arena_release(&a);
    assert_null(a.head);
}

/* protobuf-c unpacks straight into the arena: with a first chunk big enough,
 * every part of the decoded tree lies inside that chunk (no malloc involved),
 * and free_unpacked through the arena allocator is a harmless no-op. */
static void test_protobuf_allocator(void **state)
{
    const ProtobufCMessageDescriptor *desc =
        &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor;
    struct otc_arena a;
    size_t len;
    uint8_t *bytes = otc_test_traces_bytes(20, 3, 42, &len);
    otc_traces_req *req;
    struct otc_arena_chunk *head;
    char *lo, *hi;

    (void)state;
    assert_non_null(bytes);
    otc_arena_init(&a, 1 << 20);
    lo = otc_arena_alloc(&a, 1); /* start of the first chunk */
    assert_non_null(lo);
    head = a.head;
    hi = a.end;
    req = (otc_traces_req *)protobuf_c_message_unpack(desc, &a.pb, len, bytes);
    assert_non_null(req);
    assert_ptr_equal(a.head, head); /* no new chunk was needed */
#define IN_ARENA(p) assert_true((char *)(p) >= lo && (char *)(p) < hi)
    IN_ARENA(req);
    assert_int_equal(req->n_resource_spans, 1);
    IN_ARENA(req->resource_spans);
    IN_ARENA(req->resource_spans[0]);
    assert_int_equal(req->resource_spans[0]->n_scope_spans, 1);
    {
        otc_scope_spans *ss = req->resource_spans[0]->scope_spans[0];
        IN_ARENA(ss);
        assert_int_equal(ss->n_spans, 20);
        for (size_t i = 0; i < ss->n_spans; i++) {
            char name[32];
            IN_ARENA(ss->spans[i]);
            IN_ARENA(ss->spans[i]->name);
            IN_ARENA(ss->spans[i]->attributes);
            assert_int_equal(ss->spans[i]->n_attributes, 3);
            IN_ARENA(ss->spans[i]->attributes[2]->value->string_value);
            snprintf(name, sizeof(name), "span-%zu-42", i);
            assert_string_equal(ss->spans[i]->name, name);
        }
    }
#undef IN_ARENA
    /* the arena's free is a no-op: the tree stays readable until release */
    protobuf_c_message_free_unpacked(&req->base, &a.pb);
    assert_string_equal(req->resource_spans[0]->scope_spans[0]->spans[0]->name, "span-0-42");
    otc_arena_release(&a);
    free(bytes);
}

/* Unpacking into a small arena spreads the tree over many chunks; release
 * frees them all (checked by LeakSanitizer). */
static void test_protobuf_allocator_many_chunks(void **state)
{
    const ProtobufCMessageDescriptor *desc =
        &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor;
    struct otc_arena a;
    size_t len;
    uint8_t *bytes = otc_test_traces_bytes(500, 4, 7, &len);
    otc_traces_req *req;
    uint8_t *again;

    (void)state;
    assert_non_null(bytes);
    otc_arena_init(&a, 0);
    req = (otc_traces_req *)protobuf_c_message_unpack(desc, &a.pb, len, bytes);
    assert_non_null(req);
    assert_true(a.bytes > len);          /* the tree is bigger than the wire form */
    assert_true(a.bytes > 4 * 4096);     /* grew well past the first 4 KiB chunk */
    assert_int_equal(req->resource_spans[0]->scope_spans[0]->n_spans, 500);
    assert_string_equal(req->resource_spans[0]->scope_spans[0]->spans[499]->name, "span-499-7");
    /* the decoded tree re-encodes to the same bytes */
    assert_int_equal(protobuf_c_message_get_packed_size(&req->base), len);
    again = otc_arena_alloc(&a, len);
    assert_non_null(again);
    assert_int_equal(protobuf_c_message_pack(&req->base, again), len);
    assert_memory_equal(again, bytes, len);
    otc_arena_release(&a);
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_growth_across_chunks),
        cmocka_unit_test(test_first_chunk_hint),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_large_allocation),
        cmocka_unit_test(test_impossible_size_fails),
        cmocka_unit_test(test_memdup),
        cmocka_unit_test(test_release_and_reuse),
        cmocka_unit_test(test_protobuf_allocator),
        cmocka_unit_test(test_protobuf_allocator_many_chunks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
