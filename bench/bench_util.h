/* bench_util.h - timing helpers shared by the micro-benchmarks (one thread each
 * unless a benchmark says otherwise). Figures are relative: compare within a run. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_BENCH_UTIL_H
#define OTC_BENCH_UTIL_H

#include <stdint.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t bench_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
