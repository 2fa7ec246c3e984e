/* otc_arena.h - bump allocator that owns all memory of one batch.
 * Single-owner: only the thread holding the batch allocates from it. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_ARENA_H
#define OTC_INCLUDE_ARENA_H

#include <stdatomic.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

struct otc_arena_chunk;

struct otc_arena {
    struct otc_arena_chunk *head;   /* current chunk; older chunks linked behind */
    char                   *cur;    /* next free byte in head */
    char                   *end;    /* end of head */
    size_t                  bytes;  /* total bytes reserved from malloc */
    ProtobufCAllocator      pb;     /* protobuf-c allocator that bumps into this arena */
};

/* Bytes held by every live arena in the process (batches in flight); the
 * memory limiter reads it. Updated once per chunk, not per allocation. */
extern atomic_size_t otc_arena_live_bytes;

void  otc_arena_init(struct otc_arena *a, size_t first_chunk);
void  otc_arena_release(struct otc_arena *a);  /* frees every chunk; arena reusable after init */
void *otc_arena_alloc(struct otc_arena *a, size_t n);  /* 16-byte aligned; NULL on ENOMEM */
/* Make sure the next n bytes of allocations fit in the current chunk, starting
 * a chunk of n bytes when they do not: sizes the memory a decode will take in
 * one step. 0, or -1 on ENOMEM. */
int   otc_arena_reserve(struct otc_arena *a, size_t n);
void *otc_arena_memdup(struct otc_arena *a, const void *p, size_t n);

#endif
