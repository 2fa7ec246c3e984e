/* heap.c - glibc heap settings for otelc's allocation pattern, and handing
 * free heap memory back to the kernel once the process is idle. Main thread.
 *
 * Why: a request's arena (tens of KB to MBs) is allocated on a receiver
 * thread and freed on a pipeline or exporter thread. With glibc's defaults,
 * each free that leaves a large free top shrinks the heap (brk, or
 * madvise(MADV_DONTNEED) in the per-thread heaps) and the next request faults
 * the pages in again: at 1,500 requests/s of 60 KB, 50-70k page faults in 6 s
 * and about a third of otelc's CPU in the kernel (bench/RESULTS.md, "Heap").
 * Keeping freed memory in the heaps while data flows, and trimming once the
 * process is idle, saves that; memory_limiter still trims at its soft limit. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>

#include "clock.h"
#include "heap.h"
#include "otc/otc_arena.h"

#define HEAP_MMAP_THRESHOLD (32 << 20)  /* requests' arenas come from the heaps, not mmap */
#define HEAP_TRIM_THRESHOLD (256 << 20) /* free top kept while busy (idle trim gives it back) */
#define HEAP_TOP_PAD        (64 << 20)  /* heap growth step (address space, not RSS) */
#define IDLE_TICKS          2           /* quiet seconds before the trim */

void otc_heap_tune(void)
{
    /* MALLOC_*_ environment variables set by the user win */
    if (getenv("MALLOC_MMAP_THRESHOLD_") || getenv("MALLOC_TRIM_THRESHOLD_") ||
        getenv("MALLOC_TOP_PAD_")) {
        return;
    }
    mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, HEAP_TRIM_THRESHOLD);
    mallopt(M_TOP_PAD, HEAP_TOP_PAD);
}

void otc_heap_idle_tick(void)
{
    static uint64_t last_ns;
    static size_t last_live;
    static unsigned quiet;
    static bool trimmed;
    uint64_t now = otc_now_ns();
    size_t live = atomic_load_explicit(&otc_arena_live_bytes, memory_order_relaxed);

    if (now - last_ns < 1000000000ull) {
        return;
    }
    last_ns = now;
    if (live != last_live) {
        last_live = live;
        quiet = 0;
        trimmed = false;
        return;
    }
    if (++quiet >= IDLE_TICKS && !trimmed) {
        malloc_trim(0);
        trimmed = true;
    }
}
