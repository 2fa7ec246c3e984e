/* bench_queue.c - cost of one queue hop (push + pop of a batch pointer) with 1
 * and 2 producer threads feeding one consumer thread, next to a bare
 * Concurrency Kit ck_ring (multi-producer enqueue, single-consumer dequeue,
 * no sleep/wake path) measured in the same run as the reference.
 * Usage: bench_queue [items per producer] */
/* SPDX-License-Identifier: Apache-2.0 */
#include <ck_ring.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "otc/otc_queue.h"
#include "otc/otc_rc.h"

enum kind { ANY_CONSUMERS, ONE_CONSUMER, CK_RING, N_KINDS };

static struct otc_queue q;
static struct ck_ring ring;
static struct ck_ring_buffer *ring_slots;
static enum kind kind;
static long per_producer;

static void *producer(void *arg)
{
    for (long i = 1; i <= per_producer; i++) {
        if (kind == CK_RING) {
            while (!ck_ring_enqueue_mpmc(&ring, ring_slots, (void *)i)) {
            }
        } else {
            while (otc_queue_push(&q, (void *)i) != OTC_OK) {
            }
        }
    }
    return arg;
}

static double run(int producers)
{
    pthread_t t[2];
    long want = per_producer * producers, got = 0;
    uint64_t t0 = bench_now_ns();
    void *p;

    for (int i = 0; i < producers; i++) {
        pthread_create(&t[i], NULL, producer, NULL);
    }
    while (got < want) {
        if (kind == CK_RING ? ck_ring_dequeue_mpsc(&ring, ring_slots, &p)
                            : otc_queue_pop_wait(&q, &p, 10)) {
            got++;
        }
    }
    for (int i = 0; i < producers; i++) {
        pthread_join(t[i], NULL);
    }
    return (double)(bench_now_ns() - t0) / (double)want;
}

int main(int argc, char **argv)
{
    static const char *const name[N_KINDS] = {"any consumers (mpmc)", "one consumer (mpsc)",
                                              "bare ck_ring (mpsc)"};
    double ns[N_KINDS][2];

    per_producer = argc > 1 ? atol(argv[1]) : 2000000;
    /* Interleaved, so every kind sees the same machine load. */
    for (kind = 0; kind < N_KINDS; kind++) {
        int rc = OTC_OK;
        if (kind == CK_RING) {
            ring_slots = calloc(1024, sizeof(*ring_slots));
            ck_ring_init(&ring, 1024);
        } else {
            rc = kind == ONE_CONSUMER ? otc_queue_init_sc(&q, 1023) : otc_queue_init(&q, 1023);
        }
        if (rc != OTC_OK || (kind == CK_RING && !ring_slots)) {
            return 1;
        }
        ns[kind][0] = run(1);
        ns[kind][1] = run(2);
        if (kind == CK_RING) {
            free(ring_slots);
        } else {
            otc_queue_destroy(&q);
        }
    }
    for (int k = 0; k < N_KINDS; k++) {
        printf("queue hop, %-20s 1 producer : %6.1f ns per batch pointer\n", name[k], ns[k][0]);
        printf("queue hop, %-20s 2 producers: %6.1f ns per batch pointer\n", name[k], ns[k][1]);
    }
    printf("one-consumer / any-consumers: %.2f (1 producer), %.2f (2 producers)\n",
           ns[ONE_CONSUMER][0] / ns[ANY_CONSUMERS][0], ns[ONE_CONSUMER][1] / ns[ANY_CONSUMERS][1]);
    printf("one-consumer / bare ck_ring : %.2f (1 producer), %.2f (2 producers)\n",
           ns[ONE_CONSUMER][0] / ns[CK_RING][0], ns[ONE_CONSUMER][1] / ns[CK_RING][1]);
    return 0;
}
