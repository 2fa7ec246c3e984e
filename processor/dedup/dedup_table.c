/* dedup_table.c - bounded set of recently seen 128-bit keys for the dedup
 * processor. Keys live in a FIFO ring in insertion order (so the oldest leave
 * first and expiry is a walk from the head); a linear-probing index of 8-byte
 * slots finds them. Used by one thread at a time: the dedup processor holds
 * the lock of the shard the table is. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "otc/otc_rc.h"
#include "dedup_table.h"

/* Keys checked ahead of the current one whose index slots are prefetched. */
#define DEDUP_PREFETCH 8

static inline uint32_t key_fp(uint64_t lo)
{
    return (uint32_t)lo;
}

static inline uint64_t slot_make(uint32_t fp, size_t pos)
{
    return ((uint64_t)fp << 32) | (uint64_t)(pos + 1);
}

static void *table_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

int otc_dedup_table_init(struct otc_dedup_table *t, size_t max_entries, int64_t window_ns)
{
    size_t slots = 2;

    memset(t, 0, sizeof(*t));
    if (max_entries == 0 || max_entries > OTC_DEDUP_MAX_ENTRIES || window_ns < 0) {
        return OTC_EINVAL;
    }
    while (slots < 2 * max_entries) {
        slots <<= 1;
    }
    /* Anonymous mappings: zeroed pages that cost no resident memory until a
     * key lands in them (calloc may take a chunk from the heap and clear it). */
    t->cap = max_entries;
    t->mask = slots - 1;
    t->ring = table_alloc(max_entries * sizeof(*t->ring));
    t->index = table_alloc(slots * sizeof(*t->index));
    if (!t->ring || !t->index) {
        otc_dedup_table_release(t);
        return OTC_ENOMEM;
    }
    t->window_ns = window_ns;
    t->bytes = max_entries * sizeof(*t->ring) + slots * sizeof(*t->index);
    return OTC_OK;
}

void otc_dedup_table_release(struct otc_dedup_table *t)
{
    if (t->ring) {
        munmap(t->ring, t->cap * sizeof(*t->ring));
    }
    if (t->index) {
        munmap(t->index, (t->mask + 1) * sizeof(*t->index));
    }
    memset(t, 0, sizeof(*t));
}

/* Remove the oldest key: find its index slot, then close the gap by moving
 * later members of the probe cluster back (backward-shift deletion, so the
 * index never holds tombstones). */
static void evict_head(struct otc_dedup_table *t)
{
    const struct otc_dedup_entry *r = &t->ring[t->head];
    uint32_t fp = key_fp(r->lo);
    uint64_t want = slot_make(fp, t->head);
    size_t mask = t->mask;
    size_t i = fp & mask;
    size_t j;

    while (t->index[i] != want) {
        i = (i + 1) & mask;
    }
    j = i;
    for (;;) {
        uint64_t e;
        size_t home;

        j = (j + 1) & mask;
        e = t->index[j];
        if (e == 0) {
            break;
        }
        home = (uint32_t)(e >> 32) & mask;
        /* e may fill the hole at i unless its home lies cyclically in (i, j] */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t->index[i] = e;
            i = j;
        }
    }
    t->index[i] = 0;
    t->head = t->head + 1 == t->cap ? 0 : t->head + 1;
    t->count--;
}

void otc_dedup_table_expire(struct otc_dedup_table *t, uint64_t now)
{
    /* ring order is insertion order, so the expired keys form a prefix */
    while (t->count > 0 && now >= t->ring[t->head].ts &&
           now - t->ring[t->head].ts >= (uint64_t)t->window_ns) {
        evict_head(t);
    }
}

bool otc_dedup_table_check(struct otc_dedup_table *t, const struct otc_dedup_key *k, uint64_t now)
{
    uint32_t fp = key_fp(k->lo);
    size_t mask = t->mask;
    size_t i = fp & mask;
    size_t pos;
    uint64_t e;

    while ((e = t->index[i]) != 0) {
        if ((uint32_t)(e >> 32) == fp) {
            struct otc_dedup_entry *r = &t->ring[(uint32_t)e - 1];
            if (r->lo == k->lo && r->hi == k->hi) {
                if (now < r->ts || now - r->ts < (uint64_t)t->window_ns) {
                    return true;
                }
                /* expired but not yet removed by otc_dedup_table_expire: it
                 * counts as new; keep its ring position (FIFO eviction order)
                 * and restart its window */
                r->ts = now;
                return false;
            }
        }
        i = (i + 1) & mask;
    }
    if (t->count == t->cap) {
        evict_head(t);
        /* the shift may have moved slots: probe again for the first free one */
        i = fp & mask;
        while (t->index[i] != 0) {
            i = (i + 1) & mask;
        }
    }
    pos = t->head + t->count;
    if (pos >= t->cap) {
        pos -= t->cap;
    }
    t->ring[pos].lo = k->lo;
    t->ring[pos].hi = k->hi;
    t->ring[pos].ts = now;
    t->count++;
    t->index[i] = slot_make(fp, pos);
    return false;
}

size_t otc_dedup_table_check_many(struct otc_dedup_table *t, const struct otc_dedup_key *keys,
                                  size_t n, uint64_t now, uint8_t *dup)
{
    size_t dups = 0;
    size_t ahead = n < DEDUP_PREFETCH ? n : DEDUP_PREFETCH;

    for (size_t i = 0; i < ahead; i++) {
        __builtin_prefetch(&t->index[key_fp(keys[i].lo) & t->mask]);
    }
    for (size_t i = 0; i < n; i++) {
        if (i + DEDUP_PREFETCH < n) {
            __builtin_prefetch(&t->index[key_fp(keys[i + DEDUP_PREFETCH].lo) & t->mask]);
        }
        if (t->count + DEDUP_PREFETCH >= t->cap) {
            /* full: the key evicted DEDUP_PREFETCH inserts from now */
            size_t h = t->head + DEDUP_PREFETCH;
            if (h >= t->cap) {
                h %= t->cap;
            }
            __builtin_prefetch(&t->index[key_fp(t->ring[h].lo) & t->mask]);
        }
        dup[i] = otc_dedup_table_check(t, &keys[i], now) ? 1 : 0;
        dups += dup[i];
    }
    return dups;
}
