/* memory_limiter.c - the `memory_limiter` processor (otelcol-compatible).
 * Memory in use = bytes held by live batch arenas (exact, read at every call)
 * + the rest of the process (RSS minus arena bytes, sampled every
 * check_interval). admit() runs on receiver threads and refuses while that is
 * above the soft limit (limit - spike); the timer runs on the pipeline worker.
 * RSS can pass limit_mib by what grows outside batches between two checks:
 * gRPC's buffers of requests being received (refused ones too) and of exports
 * in flight, and heap pages freed but not yet returned (tests/integration/
 * test_memory_limiter_e2e.py allows 16 MiB with 0.8 MB requests). The limit
 * includes otelc's idle RSS (about 15 MiB: gRPC's threads and buffers, thread
 * stacks), so limit_mib must be well above that. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otc/otc_arena.h"
#include "otc/otc_sysinfo.h"
#include "memory_limiter.h"

#define MIB (1024u * 1024u)

struct memlim_ctx {
    int64_t              check_interval_ns;
    int64_t              limit_mib;
    int64_t              spike_limit_mib;
    int64_t              limit_percentage;
    int64_t              spike_limit_percentage;
    int64_t              min_trim_soft_ns; /* min_gc_interval_when_soft_limited */
    int64_t              min_trim_hard_ns; /* min_gc_interval_when_hard_limited */
    uint64_t             limit;        /* hard limit, bytes */
    uint64_t             soft;         /* limit - spike, bytes */
    uint64_t             page_size;
    /* shared between receiver threads (admit) and the worker (timer) */
    atomic_uint_fast64_t next_check_ns;
    atomic_uint_fast64_t other_bytes;  /* RSS not held by batch arenas, at the last check */
    atomic_uint_fast64_t rss_bytes;    /* at the last check */
    atomic_uint_fast64_t last_trim_ns; /* CLOCK_MONOTONIC of the last malloc_trim */
    atomic_bool          refusing;
    atomic_bool          logged_refusing; /* the state the log last reported */
    atomic_uint_fast64_t last_log_s;
};

#define OFF(f) offsetof(struct memlim_ctx, f)

static const struct otc_config_entry memlim_config[] = {
    {OTC_CFG_DURATION, "check_interval", "0s", OFF(check_interval_ns), OTC_CFG_F_MIN, 0, 0, NULL,
     "time between measurements of the process RSS (required, > 0; otelcol recommends 1s)"},
    {OTC_CFG_INT, "limit_mib", "0", OFF(limit_mib), OTC_CFG_F_MIN, 0, 0, NULL,
     "hard limit of memory use in MiB (RSS, with the bytes of held batches counted exactly); "
     "takes precedence over limit_percentage. It includes otelc's idle RSS (about 15 MiB: gRPC, "
     "thread stacks); RSS may pass it by about 16 MiB with 1 MB requests (gRPC's buffers of "
     "requests being received and of exports in flight grow between two checks)"},
    {OTC_CFG_INT, "spike_limit_mib", "0", OFF(spike_limit_mib), OTC_CFG_F_MIN, 0, 0, NULL,
     "expected growth between checks in MiB; soft limit = limit - spike (default 20% of limit)"},
    {OTC_CFG_INT, "limit_percentage", "0", OFF(limit_percentage), OTC_CFG_F_MIN, 0, 0, NULL,
     "hard limit as a percentage of total memory (cgroup memory.max or MemTotal)"},
    {OTC_CFG_INT, "spike_limit_percentage", "0", OFF(spike_limit_percentage), OTC_CFG_F_MIN, 0, 0,
     NULL, "spike limit as a percentage of total memory (default 20% of the limit)"},
    {OTC_CFG_DURATION, "min_gc_interval_when_soft_limited", "10s", OFF(min_trim_soft_ns),
     OTC_CFG_F_MIN, 0, 0, NULL,
     "above the soft limit, least time between two returns of free heap pages to the system "
     "(malloc_trim, otelcol's forced GC); at once when batches hold less than half of the RSS "
     "(the rest is then mostly free heap, which otelcol would not count)"},
    {OTC_CFG_DURATION, "min_gc_interval_when_hard_limited", "0s", OFF(min_trim_hard_ns),
     OTC_CFG_F_MIN, 0, 0, NULL, "the same above the hard limit (0 = at every check)"},
    OTC_CFG_END,
};

/* ------------------------------------------------------------ config */

static int memlim_validate(const void *vctx, char *err, size_t errlen)
{
    const struct memlim_ctx *x = vctx;

    /* otelcol's checks and messages, in its order */
    if (x->check_interval_ns <= 0) {
        snprintf(err, errlen, "'check_interval' must be greater than zero");
        return OTC_EINVAL;
    }
    if (x->min_trim_soft_ns < x->min_trim_hard_ns) {
        snprintf(err, errlen, "'min_gc_interval_when_soft_limited' should be larger than "
                              "'min_gc_interval_when_hard_limited'");
        return OTC_EINVAL;
    }
    if (x->limit_mib == 0 && x->limit_percentage == 0) {
        snprintf(err, errlen, "'limit_mib' or 'limit_percentage' must be greater than zero");
        return OTC_EINVAL;
    }
    if (x->limit_percentage > 100 || x->spike_limit_percentage > 100) {
        snprintf(err, errlen, "'limit_percentage' and 'spike_limit_percentage' must be greater "
                              "than zero and less than or equal to hundred");
        return OTC_EINVAL;
    }
    if (x->limit_mib > 0 && x->limit_mib <= x->spike_limit_mib) {
        snprintf(err, errlen, "'spike_limit_mib' must be smaller than 'limit_mib'");
        return OTC_EINVAL;
    }
    if (x->limit_percentage > 0 && x->limit_percentage <= x->spike_limit_percentage) {
        snprintf(err, errlen, "'spike_limit_percentage' must be smaller than 'limit_percentage'");
        return OTC_EINVAL;
    }
    return OTC_OK;
}

/* ------------------------------------------------------- measurement */

static uint64_t read_rss(const struct memlim_ctx *x)
{
    char buf[128];
    unsigned long long size, resident;

    if (!otc_read_small_file("/proc/self/statm", buf, sizeof(buf)) ||
        sscanf(buf, "%llu %llu", &size, &resident) != 2) {
        return 0;
    }
    return (uint64_t)resident * x->page_size;
}

/* Sample RSS. Above the soft limit, hand free heap pages back to the kernel
 * first (the counterpart of otelcol's forced GC), so that memory the
 * allocator merely keeps cached does not hold the gate shut; at most once per
 * min_gc_interval_when_{soft,hard}_limited, or at once when batches hold less
 * than half of the RSS: the rest is then mostly free heap that otelc keeps
 * while data flows (core/heap.c), and otelcol's limiter, which counts the
 * heap in use rather than RSS, would not count it. Only the caller that won
 * the check (maybe_measure's CAS, or init) runs this. */
static void measure(struct memlim_ctx *x, uint64_t now)
{
    uint64_t live = atomic_load_explicit(&otc_arena_live_bytes, memory_order_relaxed);
    uint64_t rss = read_rss(x);
    uint64_t min = rss > x->limit ? (uint64_t)x->min_trim_hard_ns : (uint64_t)x->min_trim_soft_ns;
    uint64_t last = atomic_load_explicit(&x->last_trim_ns, memory_order_relaxed);

    if (rss > x->soft && (last == 0 || now - last >= min || live < rss / 2)) {
        atomic_store_explicit(&x->last_trim_ns, now, memory_order_relaxed);
        malloc_trim(0);
        live = atomic_load_explicit(&otc_arena_live_bytes, memory_order_relaxed);
        rss = read_rss(x);
    }
    atomic_store_explicit(&x->rss_bytes, rss, memory_order_relaxed);
    atomic_store_explicit(&x->other_bytes, rss > live ? rss - live : 0, memory_order_relaxed);
}

/* Measure when check_interval has passed; one caller wins the CAS and measures. */
static void maybe_measure(struct memlim_ctx *x, uint64_t now)
{
    uint_fast64_t due = atomic_load_explicit(&x->next_check_ns, memory_order_relaxed);

    if (now >= due && atomic_compare_exchange_strong(&x->next_check_ns, &due,
                                                     now + (uint64_t)x->check_interval_ns)) {
        measure(x, now);
    }
}

static uint64_t usage(const struct memlim_ctx *x)
{
    return atomic_load_explicit(&x->other_bytes, memory_order_relaxed) +
           atomic_load_explicit(&otc_arena_live_bytes, memory_order_relaxed);
}

/* Record the state; log a change at most once a second. A change not logged
 * because of that is logged by a later call (the timer makes one every
 * check_interval), so the log always ends with the state in force. */
static void note_state(struct otc_instance *ins, struct memlim_ctx *x, bool refuse, uint64_t used)
{
    uint_fast64_t now_s, last;

    if (atomic_load_explicit(&x->refusing, memory_order_relaxed) != refuse) {
        atomic_store(&x->refusing, refuse);
    }
    if (atomic_load_explicit(&x->logged_refusing, memory_order_relaxed) == refuse) {
        return;
    }
    now_s = otc_now_ns() / 1000000000u;
    last = atomic_load(&x->last_log_s);
    if (now_s == last || !atomic_compare_exchange_strong(&x->last_log_s, &last, now_s)) {
        return;
    }
    atomic_store(&x->logged_refusing, refuse);
    if (refuse) {
        otc_log_warn(ins, "memory use %.1f MiB is above the soft limit %.1f MiB: refusing data",
                     (double)used / MIB, (double)x->soft / MIB);
    } else {
        otc_log_info(ins, "memory use %.1f MiB is below the soft limit %.1f MiB: accepting data",
                     (double)used / MIB, (double)x->soft / MIB);
    }
}

/* ------------------------------------------------------------- callbacks */

static int memlim_init(struct otc_instance *ins, void *vctx)
{
    struct memlim_ctx *x = vctx;
    long ps = sysconf(_SC_PAGESIZE);
    uint64_t spike;

    x->page_size = ps > 0 ? (uint64_t)ps : 4096u;
    if (x->limit_mib > 0) {
        x->limit = (uint64_t)x->limit_mib * MIB;
        spike = (uint64_t)x->spike_limit_mib * MIB;
    } else {
        uint64_t total = otc_memory_total();
        if (total == 0) {
            otc_log_err(ins, "cannot read the total memory for limit_percentage");
            return OTC_EINVAL;
        }
        x->limit = total / 100u * (uint64_t)x->limit_percentage;
        spike = total / 100u * (uint64_t)x->spike_limit_percentage;
    }
    if (spike == 0) {
        spike = x->limit / 5u;
    }
    x->soft = x->limit - spike;
    atomic_store(&x->refusing, false);
    atomic_store(&x->logged_refusing, false);
    atomic_store(&x->next_check_ns, otc_now_ns() + (uint64_t)x->check_interval_ns);
    measure(x, otc_now_ns());
    ins->timer_due_ns = atomic_load(&x->next_check_ns);
    otc_log_info(ins, "limit %.1f MiB, soft limit %.1f MiB, now %.1f MiB (RSS %.1f MiB)",
                 (double)x->limit / MIB, (double)x->soft / MIB, (double)usage(x) / MIB,
                 (double)atomic_load(&x->rss_bytes) / MIB);
    return OTC_OK;
}

/* Receiver threads: b's arena is already counted in otc_arena_live_bytes. */
static bool memlim_admit(struct otc_instance *ins, void *vctx, size_t bytes)
{
    struct memlim_ctx *x = vctx;
    uint64_t used;
    bool refuse;

    (void)bytes;
    maybe_measure(x, otc_now_ns());
    used = usage(x);
    refuse = used > x->soft;
    note_state(ins, x, refuse, used);
    return !refuse;
}

static int memlim_timer(struct otc_instance *ins, void *vctx, uint64_t now_ns)
{
    struct memlim_ctx *x = vctx;
    uint64_t used;

    maybe_measure(x, now_ns);
    used = usage(x);
    note_state(ins, x, used > x->soft, used);
    ins->timer_due_ns = atomic_load_explicit(&x->next_check_ns, memory_order_relaxed);
    return OTC_OK;
}

static int memlim_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    (void)vctx;
    return otc_next(ins, b);
}

const struct otc_component_ops otc_processor_memory_limiter_ops = {
    .type = "memory_limiter",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = true,
    .ctx_size = sizeof(struct memlim_ctx),
    .config_map = memlim_config,
    .validate = memlim_validate,
    .init = memlim_init,
    .start = NULL,
    .consume = memlim_consume,
    .flush = NULL,
    .timer = memlim_timer,
    .admit = memlim_admit,
    .shutdown = NULL,
    .destroy = NULL,
};
