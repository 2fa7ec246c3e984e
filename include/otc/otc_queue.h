/* otc_queue.h - bounded queue of batch pointers: a Concurrency Kit MPMC ring
 * plus a sleep/wake path, so idle consumer threads cost no CPU.
 * Any number of producer and consumer threads. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_QUEUE_H
#define OTC_INCLUDE_QUEUE_H

#include <ck_ring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct otc_queue {
    struct ck_ring         ring;
    struct ck_ring_buffer *slots;
    unsigned               capacity;   /* items accepted: exactly what init was asked for */
    bool                   single_consumer; /* set by otc_queue_init_sc */
    atomic_int             sleepers;   /* consumers (about to be) blocked in wait */
    pthread_mutex_t        lock;       /* guards only the sleep/wake hand-off */
    pthread_cond_t         wake;
};

#define OTC_QUEUE_MAX_CAPACITY (1u << 30)

/* Holds up to capacity items (the ring itself is the next power of two above).
 * OTC_EINVAL for 0 or more than OTC_QUEUE_MAX_CAPACITY. */
int  otc_queue_init(struct otc_queue *q, unsigned capacity);
/* The same for a queue that only one thread ever pops (cheaper pops). */
int  otc_queue_init_sc(struct otc_queue *q, unsigned capacity);
void otc_queue_destroy(struct otc_queue *q);
/* OTC_OK, or OTC_EAGAIN when full: then nothing was enqueued and the caller keeps p. */
int  otc_queue_push(struct otc_queue *q, void *p);
/* Returns true with *p set, or false after timeout_ms without an item. */
bool otc_queue_pop_wait(struct otc_queue *q, void **p, int timeout_ms);
/* Never blocks. */
bool otc_queue_pop(struct otc_queue *q, void **p);
unsigned otc_queue_len(struct otc_queue *q);
/* Wake every sleeping consumer (used at shutdown). */
void otc_queue_kick(struct otc_queue *q);

#endif
