/* ratelimiter_buckets.c - token buckets per key for the `ratelimiter`
 * processor: a chained hash table with an LRU list, bounded by max_keys.
 * Called on receiver threads (admission), under the table's one mutex. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "ratelimiter_buckets.h"

struct rl_bucket {
    struct rl_bucket *chain;            /* next in its hash slot */
    struct rl_bucket *prev, *next;      /* LRU list */
    uint64_t          hash;
    struct rl_limit   limit;
    double            tokens;
    uint64_t          last_ns;          /* when tokens was last brought up to date */
    size_t            key_len;
    char              key[];
};

uint64_t rl_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */

    for (size_t i = 0; i < n; i++) {
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3u;
    }
    return h;
}

int rl_table_init(struct rl_table *t, struct rl_limit def, const struct rl_override *ov,
                  size_t n_ov, size_t max_keys)
{
    size_t slots = 16;

    memset(t, 0, sizeof(*t));
    while (slots < 2 * max_keys && slots < ((size_t)1 << 30)) {
        slots <<= 1;
    }
    t->slots = calloc(slots, sizeof(*t->slots));
    if (!t->slots) {
        return -1;
    }
    t->mask = slots - 1;
    t->def = def;
    t->overrides = ov;
    t->n_overrides = n_ov;
    t->max = max_keys ? max_keys : 1;
    pthread_mutex_init(&t->lock, NULL);
    return 0;
}

void rl_table_destroy(struct rl_table *t)
{
    struct rl_bucket *b = t->lru_head;

    if (!t->slots) {
        return;
    }
    while (b) {
        struct rl_bucket *next = b->next;
        free(b);
        b = next;
    }
    free(t->slots);
    t->slots = NULL;
    pthread_mutex_destroy(&t->lock);
}

struct rl_limit rl_table_limit(const struct rl_table *t, const char *key, size_t len)
{
    for (size_t i = 0; i < t->n_overrides; i++) {
        const char *k = t->overrides[i].key;
        if (strlen(k) == len && !memcmp(k, key, len)) {
            return t->overrides[i].limit;
        }
    }
    return t->def;
}

static void lru_unlink(struct rl_table *t, struct rl_bucket *b)
{
    if (b->prev) {
        b->prev->next = b->next;
    } else {
        t->lru_head = b->next;
    }
    if (b->next) {
        b->next->prev = b->prev;
    } else {
        t->lru_tail = b->prev;
    }
    b->prev = b->next = NULL;
}

static void lru_push_front(struct rl_table *t, struct rl_bucket *b)
{
    b->prev = NULL;
    b->next = t->lru_head;
    if (t->lru_head) {
        t->lru_head->prev = b;
    }
    t->lru_head = b;
    if (!t->lru_tail) {
        t->lru_tail = b;
    }
}

static void evict_oldest(struct rl_table *t)
{
    struct rl_bucket *b = t->lru_tail;
    struct rl_bucket **pp;

    if (!b) {
        return;
    }
    lru_unlink(t, b);
    for (pp = &t->slots[b->hash & t->mask]; *pp; pp = &(*pp)->chain) {
        if (*pp == b) {
            *pp = b->chain;
            break;
        }
    }
    free(b);
    t->n--;
    atomic_fetch_add_explicit(&t->evicted, 1, memory_order_relaxed);
}

/* The bucket of w's key, made most recently used; created full when new. */
static struct rl_bucket *bucket_get(struct rl_table *t, const struct rl_want *w, uint64_t now)
{
    struct rl_bucket *b;

    for (b = t->slots[w->hash & t->mask]; b; b = b->chain) {
        if (b->hash == w->hash && b->key_len == w->key_len && !memcmp(b->key, w->key, w->key_len)) {
            if (t->lru_head != b) {
                lru_unlink(t, b);
                lru_push_front(t, b);
            }
            return b;
        }
    }
    if (t->n >= t->max) {
        evict_oldest(t);
    }
    b = malloc(sizeof(*b) + w->key_len + 1);
    if (!b) {
        return NULL;
    }
    memcpy(b->key, w->key, w->key_len);
    b->key[w->key_len] = '\0';
    b->key_len = w->key_len;
    b->hash = w->hash;
    b->limit = rl_table_limit(t, w->key, w->key_len);
    b->tokens = b->limit.burst;
    b->last_ns = now;
    b->chain = t->slots[w->hash & t->mask];
    t->slots[w->hash & t->mask] = b;
    lru_push_front(t, b);
    t->n++;
    return b;
}

static void refill(struct rl_bucket *b, uint64_t now)
{
    if (now > b->last_ns) {
        b->tokens += b->limit.rate * (double)(now - b->last_ns) / 1e9;
        if (b->tokens > b->limit.burst) {
            b->tokens = b->limit.burst;
        }
        b->last_ns = now;
    }
}

enum rl_verdict rl_table_take(struct rl_table *t, const struct rl_want *w, size_t n,
                              uint64_t now_ns, int64_t *wait_ns, size_t *which)
{
    struct rl_bucket *stack[16];
    struct rl_bucket **bs = n <= 16 ? stack : malloc(n * sizeof(*bs));
    enum rl_verdict v = RL_ADMIT;
    double worst = 0;

    if (!bs) {
        return RL_NOMEM;
    }
    *wait_ns = 0;
    pthread_mutex_lock(&t->lock);
    /* n <= max: the buckets looked up here are the n most recent, and none of
     * them is evicted by a later lookup of the same request */
    for (size_t i = 0; i < n; i++) {
        if (!(bs[i] = bucket_get(t, &w[i], now_ns))) {
            v = RL_NOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct rl_bucket *b = bs[i];

        refill(b, now_ns);
        if (w[i].tokens > b->limit.burst) {
            *which = i;
            v = RL_TOO_BIG;
            goto out;
        }
        if (b->tokens < w[i].tokens) {
            double s = b->limit.rate > 0 ? (w[i].tokens - b->tokens) / b->limit.rate : 1e9;
            if (v != RL_WAIT || s > worst) {
                worst = s;
                *which = i;
            }
            v = RL_WAIT;
        }
    }
    if (v == RL_ADMIT) {
        for (size_t i = 0; i < n; i++) {
            bs[i]->tokens -= w[i].tokens;
        }
    } else {
        double ns = worst * 1e9;
        *wait_ns = ns < 1e6 ? 1000000 : ns > 3.6e12 ? 3600000000000LL : (int64_t)ns;
    }
out:
    pthread_mutex_unlock(&t->lock);
    if (bs != stack) {
        free(bs);
    }
    return v;
}

size_t rl_table_size(struct rl_table *t)
{
    size_t n;

    pthread_mutex_lock(&t->lock);
    n = t->n;
    pthread_mutex_unlock(&t->lock);
    return n;
}
