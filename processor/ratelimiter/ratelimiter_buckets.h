/* ratelimiter_buckets.h - the `ratelimiter` processor's token buckets: one per key, in a
 * hash table bounded in size (the least recently used bucket is evicted), and
 * the all-or-nothing take of one request's tokens from several buckets. The
 * clock is the caller's (tests pass a fake one). Thread-safe: one mutex. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_RATELIMITER_BUCKETS_H
#define OTC_PROCESSOR_RATELIMITER_BUCKETS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A bucket's limit: refill rate (tokens per second) and capacity. */
struct rl_limit {
    double rate;
    double burst;
};

/* A limit for one key (`overrides`), chosen when its bucket is created. */
struct rl_override {
    char           *key;
    struct rl_limit limit;
};

struct rl_bucket;

struct rl_table {
    pthread_mutex_t           lock;
    struct rl_limit           def;        /* the top-level rate and burst */
    const struct rl_override *overrides;  /* the caller's, n_overrides of them */
    size_t                    n_overrides;
    struct rl_bucket        **slots;      /* hash chains */
    size_t                    mask;
    struct rl_bucket         *lru_head;   /* most recently used */
    struct rl_bucket         *lru_tail;
    size_t                    n, max;
    atomic_uint_fast64_t      evicted;    /* buckets dropped to make room */
};

/* What one key of a request wants: its tokens. */
struct rl_want {
    const char *key;
    size_t      key_len;
    uint64_t    hash;   /* rl_hash(key, key_len) */
    double      tokens;
};

/* The outcome of rl_table_take. */
enum rl_verdict {
    RL_ADMIT = 0,  /* taken from every bucket */
    RL_WAIT,       /* a bucket lacks tokens: nothing taken, *wait_ns until it has them */
    RL_TOO_BIG,    /* a key wants more than its burst: can never pass (*which says which) */
    RL_NOMEM,
};

int  rl_table_init(struct rl_table *t, struct rl_limit def, const struct rl_override *ov,
                   size_t n_ov, size_t max_keys);
void rl_table_destroy(struct rl_table *t);
uint64_t rl_hash(const char *s, size_t n);
/* Take each want's tokens from its key's bucket (created full when new), all
 * or none, at time now_ns (CLOCK_MONOTONIC). *wait_ns (RL_WAIT): how long until
 * every bucket would have enough; *which (RL_WAIT, RL_TOO_BIG): the index of a
 * want that failed. n must not exceed the table's max_keys. */
enum rl_verdict rl_table_take(struct rl_table *t, const struct rl_want *w, size_t n,
                              uint64_t now_ns, int64_t *wait_ns, size_t *which);
/* Buckets held now. */
size_t rl_table_size(struct rl_table *t);
/* The limit a key gets (its override, or the default). */
struct rl_limit rl_table_limit(const struct rl_table *t, const char *key, size_t len);

#endif
