/* otc_queue.h - bounded queue of batch pointers: a lock-free ring plus a
 * sleep/wake path, so idle consumer threads cost no CPU.
 * Any number of producer and consumer threads. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_QUEUE_H
#define OTC_INCLUDE_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* One ring slot: seq says whose turn it is (see queue.c). */
struct otc_queue_cell {
    _Atomic uint64_t seq;
    void            *item;
};

/* The producers' and the consumers' positions live on cache lines of their
 * own (the pads keep them 64 bytes apart wherever the struct lands), so a
 * push does not touch the line a pop writes, and the other way round. */
struct otc_queue {
    struct otc_queue_cell *cells;
    uint64_t               mask;       /* ring size - 1; the size is a power of two */
    unsigned               capacity;   /* items accepted: exactly what init was asked for */
    bool                   single_consumer; /* set by otc_queue_init_sc */
    char                   pad0[64];
    _Atomic uint64_t       tail;       /* next position to fill (producers) */
    _Atomic uint64_t       head_seen;  /* a recent head, never ahead of it (producers) */
    char                   pad1[64];
    _Atomic uint64_t       head;       /* next position to take (consumers) */
    char                   pad2[64];
    atomic_int             sleepers;   /* consumers (about to be) blocked in wait */
    pthread_mutex_t        lock;       /* guards only the sleep/wake hand-off */
    pthread_cond_t         wake;
};

#define OTC_QUEUE_MAX_CAPACITY (1u << 30)

/* Holds up to capacity items (the ring itself is the power of two at or above
 * it, at least 2). OTC_EINVAL for 0 or more than OTC_QUEUE_MAX_CAPACITY. */
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
