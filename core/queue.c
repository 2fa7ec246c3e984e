/* queue.c - bounded MPMC queue of pointers (Concurrency Kit ck_ring) with a
 * mutex/condvar used only when a consumer goes to sleep on an empty queue.
 * Producers: receiver or pipeline threads. Consumers: pipeline or exporter threads. */
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
    unsigned size = 2;
    pthread_condattr_t ca;

    if (capacity == 0 || capacity > OTC_QUEUE_MAX_CAPACITY) {
        return OTC_EINVAL;
    }
    while (size - 1 < capacity) {
        size <<= 1;
    }
    q->slots = calloc(size, sizeof(*q->slots));
    if (!q->slots) {
        return OTC_ENOMEM;
    }
    ck_ring_init(&q->ring, size);
    q->capacity = capacity;
    q->single_consumer = false;
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
    if (!q->slots) {
        return;
    }
    free(q->slots);
    q->slots = NULL;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->wake);
}

void otc_queue_kick(struct otc_queue *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_cond_broadcast(&q->wake);
    pthread_mutex_unlock(&q->lock);
}

int otc_queue_push(struct otc_queue *q, void *p)
{
    /* The ring is a power of two; the size check keeps the configured bound
     * (concurrent producers may overshoot it by at most their number). */
    if (ck_ring_size(&q->ring) >= q->capacity || !ck_ring_enqueue_mpmc(&q->ring, q->slots, p)) {
        return OTC_EAGAIN;
    }
    /* The ring publishes the item with a release store, which may pass a later
     * load; the full fence orders it before the sleepers load. Paired with the
     * consumer's seq_cst increment before its re-check, either it sees our item
     * or we see it asleep and wake it. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&q->sleepers, memory_order_relaxed)) {
        pthread_mutex_lock(&q->lock);
        pthread_cond_signal(&q->wake);
        pthread_mutex_unlock(&q->lock);
    }
    return OTC_OK;
}

/* With one consumer thread, dequeue is a plain load and store; with several it
 * needs a compare-and-swap on the consumer index. */
static inline bool ring_dequeue(struct otc_queue *q, void **p)
{
    return q->single_consumer ? ck_ring_dequeue_mpsc(&q->ring, q->slots, p)
                              : ck_ring_dequeue_mpmc(&q->ring, q->slots, p);
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
    return ck_ring_size(&q->ring);
}
