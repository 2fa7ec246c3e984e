/* queue.c - bounded MPMC queue of pointers: a ring of cells with per-cell
 * sequence numbers (D. Vyukov's bounded MPMC queue), plus a mutex/condvar used
 * only when a consumer goes to sleep on an empty queue.
 * Producers: receiver or pipeline threads. Consumers: pipeline or exporter threads.
 *
 * Why not Concurrency Kit's ck_ring: its enqueue reads the consumers' index and
 * its dequeue the producers' on every call, so with a producer and a consumer
 * on two cores each hop missed the cache on both lines (bench_queue: 165-180
 * ns per hop, 60% of it on that load). Here a producer and a consumer share
 * only the cell they hand over; the producers read the consumers' index only
 * when the queue looks full. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "otc/otc_queue.h"
#include "otc/otc_rc.h"

#define QUEUE_SPINS 64 /* empty polls before the consumer sleeps */

int otc_queue_init_sc(struct otc_queue *q, unsigned capacity)
{
    int rc = otc_queue_init(q, capacity);

    q->single_consumer = true;
    return rc;
}

int otc_queue_init(struct otc_queue *q, unsigned capacity)
{
    uint64_t size = 2;
    pthread_condattr_t ca;

    if (capacity == 0 || capacity > OTC_QUEUE_MAX_CAPACITY) {
        return OTC_EINVAL;
    }
    while (size < capacity) {
        size <<= 1;
    }
    q->cells = calloc(size, sizeof(*q->cells));
    if (!q->cells) {
        return OTC_ENOMEM;
    }
    /* A cell is free for position pos when its seq is pos, and holds the item
     * of position pos when its seq is pos + 1. */
    for (uint64_t i = 0; i < size; i++) {
        atomic_init(&q->cells[i].seq, i);
    }
    q->mask = size - 1;
    q->capacity = capacity;
    q->single_consumer = false;
    atomic_init(&q->tail, 0);
    atomic_init(&q->head_seen, 0);
    atomic_init(&q->head, 0);
    atomic_init(&q->sleepers, 0);
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->wake, &ca);
    pthread_condattr_destroy(&ca);
    return OTC_OK;
}

void otc_queue_destroy(struct otc_queue *q)
{
    if (!q->cells) {
        return;
    }
    free(q->cells);
    q->cells = NULL;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->wake);
}

void otc_queue_kick(struct otc_queue *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_cond_broadcast(&q->wake);
    pthread_mutex_unlock(&q->lock);
}

/* Whether position pos would take the queue over its capacity. head_seen is
 * only refreshed from head (the consumers' line) when it says so. A stale pos
 * may be behind head: the signed difference is then negative, and the
 * caller's compare-and-swap fails and retries with a fresh one. */
static bool over_capacity(struct otc_queue *q, uint64_t pos)
{
    uint64_t head = atomic_load_explicit(&q->head_seen, memory_order_relaxed);

    if ((int64_t)(pos - head) < (int64_t)q->capacity) {
        return false;
    }
    head = atomic_load_explicit(&q->head, memory_order_acquire);
    atomic_store_explicit(&q->head_seen, head, memory_order_relaxed);
    return (int64_t)(pos - head) >= (int64_t)q->capacity;
}

int otc_queue_push(struct otc_queue *q, void *p)
{
    uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    struct otc_queue_cell *c;

    for (;;) {
        int64_t turn;

        if (over_capacity(q, pos)) {
            return OTC_EAGAIN;
        }
        c = &q->cells[pos & q->mask];
        turn = (int64_t)(atomic_load_explicit(&c->seq, memory_order_acquire) - pos);
        if (turn == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed)) {
                break;
            }
        } else if (turn < 0) {
            return OTC_EAGAIN; /* a consumer is still taking the previous lap's item */
        } else {
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
    c->item = p;
    /* Publish, then look for sleepers, both seq_cst so that they stay in this
     * order. Paired with the consumer's seq_cst increment before its re-check,
     * either it sees our item or we see it asleep and wake it. */
    atomic_store_explicit(&c->seq, pos + 1, memory_order_seq_cst);
    if (atomic_load_explicit(&q->sleepers, memory_order_seq_cst)) {
        pthread_mutex_lock(&q->lock);
        pthread_cond_signal(&q->wake);
        pthread_mutex_unlock(&q->lock);
    }
    return OTC_OK;
}

/* With one consumer thread, taking a position is a plain store; with several
 * it needs a compare-and-swap on head. */
static inline bool ring_dequeue(struct otc_queue *q, void **p)
{
    uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    struct otc_queue_cell *c;

    for (;;) {
        int64_t turn;

        c = &q->cells[pos & q->mask];
        turn = (int64_t)(atomic_load_explicit(&c->seq, memory_order_acquire) - (pos + 1));
        if (turn == 0) {
            if (q->single_consumer) {
                atomic_store_explicit(&q->head, pos + 1, memory_order_relaxed);
                break;
            }
            if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed)) {
                break;
            }
        } else if (turn < 0) {
            return false; /* empty */
        } else {
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
        }
    }
    *p = c->item;
    /* free for the producer of the next lap */
    atomic_store_explicit(&c->seq, pos + q->mask + 1, memory_order_release);
    return true;
}

bool otc_queue_pop(struct otc_queue *q, void **p)
{
    return ring_dequeue(q, p);
}

bool otc_queue_pop_wait(struct otc_queue *q, void **p, int timeout_ms)
{
    struct timespec ts;
    bool got;

    for (int i = 0; i < QUEUE_SPINS; i++) {
        if (ring_dequeue(q, p)) {
            return true;
        }
    }
    if (timeout_ms <= 0) {
        return false;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->lock);
    atomic_fetch_add(&q->sleepers, 1);
    atomic_thread_fence(memory_order_seq_cst); /* the re-check below reads after it */
    got = ring_dequeue(q, p);
    if (!got) {
        pthread_cond_timedwait(&q->wake, &q->lock, &ts);
        got = ring_dequeue(q, p);
    }
    atomic_fetch_sub(&q->sleepers, 1);
    pthread_mutex_unlock(&q->lock);
    return got;
}

unsigned otc_queue_len(struct otc_queue *q)
{
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    int64_t n = (int64_t)(atomic_load_explicit(&q->tail, memory_order_acquire) - head);

    return n <= 0 ? 0 : n >= (int64_t)q->capacity ? q->capacity : (unsigned)n;
}
