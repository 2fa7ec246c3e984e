/* bench_queue.c - cost of one queue hop (push + pop of a batch pointer) with 1
 * and 2 producer threads feeding one consumer thread.
 * Usage: bench_queue [items per producer] */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "otc/otc_queue.h"
#include "otc/otc_rc.h"

static struct otc_queue q;
static long per_producer;

static void *producer(void *arg)
{
    for (long i = 1; i <= per_producer; i++) {
        while (otc_queue_push(&q, (void *)i) != OTC_OK) {
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
        if (otc_queue_pop_wait(&q, &p, 10)) {
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
    per_producer = argc > 1 ? atol(argv[1]) : 2000000;
    if (otc_queue_init(&q, 1023) != OTC_OK) {
        return 1;
    }
    printf("queue hop, 1 producer  -> 1 consumer: %6.1f ns per batch pointer\n", run(1));
    printf("queue hop, 2 producers -> 1 consumer: %6.1f ns per batch pointer\n", run(2));
    otc_queue_destroy(&q);
    return 0;
}
