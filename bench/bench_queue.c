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
    static const char *const kind[2] = {"any consumers (mpmc)", "one consumer (mpsc)"};
    double ns[2][2];

    per_producer = argc > 1 ? atol(argv[1]) : 2000000;
    /* Interleaved, so both kinds see the same machine load. */
    for (int k = 0; k < 2; k++) {
        if ((k ? otc_queue_init_sc(&q, 1023) : otc_queue_init(&q, 1023)) != OTC_OK) {
            return 1;
        }
        ns[k][0] = run(1);
        ns[k][1] = run(2);
        otc_queue_destroy(&q);
    }
    for (int k = 0; k < 2; k++) {
        printf("queue hop, %-20s 1 producer : %6.1f ns per batch pointer\n", kind[k], ns[k][0]);
        printf("queue hop, %-20s 2 producers: %6.1f ns per batch pointer\n", kind[k], ns[k][1]);
    }
    printf("one-consumer / any-consumers: %.2f (1 producer), %.2f (2 producers)\n",
           ns[1][0] / ns[0][0], ns[1][1] / ns[0][1]);
    return 0;
}
