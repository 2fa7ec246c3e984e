/* arena.c - bump allocator owning all memory of one batch; protobuf-c unpacks
 * into it through a custom ProtobufCAllocator whose free is a no-op.
 * Used by the one thread that holds the batch at a time. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_arena.h"

#define ARENA_ALIGN 16u
#define ARENA_MIN_CHUNK 4096u

struct otc_arena_chunk {
    struct otc_arena_chunk *prev;
    size_t                  size;
    /* payload follows, ARENA_ALIGN aligned */
};

atomic_size_t otc_arena_live_bytes;

#define CHUNK_HDR ((sizeof(struct otc_arena_chunk) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

static void *arena_pb_alloc(void *data, size_t size)
{
    return otc_arena_alloc(data, size);
}

static void arena_pb_free(void *data, void *p)
{
    (void)data;
    (void)p; /* freed with the whole arena */
}

void otc_arena_init(struct otc_arena *a, size_t first_chunk)
{
    memset(a, 0, sizeof(*a));
    a->pb.alloc = arena_pb_alloc;
    a->pb.free = arena_pb_free;
    a->pb.allocator_data = a;
    a->bytes = first_chunk; /* remembered as the size hint for the first chunk */
}

/* Start a new chunk with room for n bytes: size bytes when given, otherwise
 * twice the current chunk (or the first-chunk hint). */
static int arena_grow_to(struct otc_arena *a, size_t n, size_t size)
{
    struct otc_arena_chunk *c;

    if (size == 0) {
        size = a->head ? a->head->size * 2 : (a->bytes ? a->bytes : ARENA_MIN_CHUNK);
    }
    if (!a->head) {
        a->bytes = 0;
    }
    if (size < ARENA_MIN_CHUNK) {
        size = ARENA_MIN_CHUNK;
    }
    if (size < n + ARENA_ALIGN) {
        size = n + ARENA_ALIGN;
    }
    c = malloc(CHUNK_HDR + size);
    if (!c) {
        return -1;
    }
    c->prev = a->head;
    c->size = size;
    a->head = c;
    a->cur = (char *)c + CHUNK_HDR;
    a->end = a->cur + size;
    a->bytes += CHUNK_HDR + size;
    atomic_fetch_add_explicit(&otc_arena_live_bytes, CHUNK_HDR + size, memory_order_relaxed);
    return 0;
}

static int arena_grow(struct otc_arena *a, size_t n)
{
    return arena_grow_to(a, n, 0);
}

int otc_arena_reserve(struct otc_arena *a, size_t n)
{
    if (n > SIZE_MAX / 2) {
        return -1;
    }
    if (a->head && (size_t)(a->end - a->cur) >= n) {
        return 0;
    }
    return arena_grow_to(a, n, n);
}

void *otc_arena_alloc(struct otc_arena *a, size_t n)
{
    char *p;

    /* A size that cannot be rounded up, or could not fit in a chunk with its
     * header, fails instead of wrapping round to a small block. */
    if (n > SIZE_MAX / 2) {
        return NULL;
    }
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n == 0) {
        n = ARENA_ALIGN;
    }
    if (!a->head || (size_t)(a->end - a->cur) < n) {
        if (arena_grow(a, n) != 0) {
            return NULL;
        }
    }
    p = a->cur;
    a->cur += n;
    return p;
}

void *otc_arena_memdup(struct otc_arena *a, const void *src, size_t n)
{
    void *p = otc_arena_alloc(a, n);

    if (p && n) {
        memcpy(p, src, n);
    }
    return p;
}

void otc_arena_release(struct otc_arena *a)
{
    struct otc_arena_chunk *c = a->head;

    while (c) {
        struct otc_arena_chunk *prev = c->prev;
        atomic_fetch_sub_explicit(&otc_arena_live_bytes, CHUNK_HDR + c->size, memory_order_relaxed);
        free(c);
        c = prev;
    }
    a->head = NULL;
    a->cur = a->end = NULL;
    a->bytes = 0;
}
