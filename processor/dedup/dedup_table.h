/* dedup_table.h - the dedup processor's memory-bounded set of recently seen
 * 128-bit keys: a FIFO ring of (key, insertion time) indexed by an open-addressing
 * table, both allocated once. Owned by one thread (the pipeline worker). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_DEDUP_TABLE_H
#define OTC_PROCESSOR_DEDUP_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OTC_DEDUP_MAX_ENTRIES (1u << 28)

struct otc_dedup_key {
    uint64_t lo, hi;
};

struct otc_dedup_entry {
    uint64_t lo, hi; /* the key */
    uint64_t ts;     /* insertion time (ns, caller's clock) */
};

struct otc_dedup_table {
    struct otc_dedup_entry *ring;  /* cap entries; the oldest at head */
    uint64_t               *index; /* (key.lo low 32 bits << 32) | (ring position + 1); 0 = empty */
    size_t                  cap;   /* max_entries */
    size_t                  mask;  /* index slots - 1 (slots = power of two >= 2 * cap) */
    size_t                  head;
    size_t                  count;
    int64_t                 window_ns;
    size_t                  bytes; /* memory held; fixed from init to release */
};

/* Allocate the table for max_entries keys (1 .. OTC_DEDUP_MAX_ENTRIES).
 * OTC_OK, OTC_EINVAL or OTC_ENOMEM. */
int  otc_dedup_table_init(struct otc_dedup_table *t, size_t max_entries, int64_t window_ns);
void otc_dedup_table_release(struct otc_dedup_table *t);
/* Forget keys inserted window_ns or longer before now. */
void otc_dedup_table_expire(struct otc_dedup_table *t, uint64_t now);
/* True when k was inserted less than window_ns before now (a duplicate);
 * otherwise remembers k (evicting the oldest key when full) and returns false. */
bool otc_dedup_table_check(struct otc_dedup_table *t, const struct otc_dedup_key *k, uint64_t now);
/* otc_dedup_table_check for n keys in order, prefetching ahead; dup[i] is set
 * to 1 for duplicates and 0 otherwise. Returns the number of duplicates. */
size_t otc_dedup_table_check_many(struct otc_dedup_table *t, const struct otc_dedup_key *keys,
                                  size_t n, uint64_t now, uint8_t *dup);

#endif
