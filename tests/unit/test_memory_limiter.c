/* test_memory_limiter.c - unit tests for the memory_limiter processor
 * (processor/memory_limiter): otelcol's config validation, the admit gate
 * following the bytes held by live batches, and the periodic RSS check. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "otc/otc_arena.h"
#include "proc_fixtures.h"
#include "processor/memory_limiter/memory_limiter.h"

#define MIB (1024ull * 1024ull)

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, res = 0;

    assert_non_null(f);
    assert_int_equal(fscanf(f, "%llu %llu", &size, &res), 2);
    fclose(f);
    return res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static bool admit(struct otc_instance *ins)
{
    return ins->ops->admit(ins, ins->ctx, 0);
}

static int validate_rc(const char *const *opts)
{
    int vrc = OTC_OK;
    struct otc_instance *ins = fx_instance(&otc_processor_memory_limiter_ops, opts, &vrc);

    fx_instance_free(ins);
    return ins ? OTC_OK : (vrc != OTC_OK ? vrc : OTC_EIO);
}

/* The limiter gets limit_mib = current RSS + 64 MiB, spike 16 MiB: 48 MiB headroom. */
static struct otc_instance *limiter(const char *interval)
{
    char limit[64], check[64];
    const char *opts[] = {limit, "spike_limit_mib=16", check, NULL};

    snprintf(limit, sizeof(limit), "limit_mib=%llu", (unsigned long long)(rss_bytes() / MIB + 64));
    snprintf(check, sizeof(check), "check_interval=%s", interval);
    return fx_instance(&otc_processor_memory_limiter_ops, opts, NULL);
}

static void test_config(void **state)
{
    const char *no_interval[] = {"limit_mib=100", NULL};
    const char *zero_interval[] = {"limit_mib=100", "check_interval=0s", NULL};
    const char *no_limit[] = {"check_interval=1s", NULL};
    const char *spike_too_big[] = {"check_interval=1s", "limit_mib=100", "spike_limit_mib=100", NULL};
    const char *pct_over[] = {"check_interval=1s", "limit_percentage=101", NULL};
    const char *spike_pct_over[] = {"check_interval=1s", "limit_percentage=50",
                                    "spike_limit_percentage=101", NULL};
    const char *spike_pct_big[] = {"check_interval=1s", "limit_percentage=50",
                                   "spike_limit_percentage=50", NULL};
    const char *negative[] = {"check_interval=1s", "limit_mib=-5", NULL};
    const char *fixed[] = {"check_interval=1s", "limit_mib=4000", "spike_limit_mib=800", NULL};
    const char *fixed_default_spike[] = {"check_interval=250ms", "limit_mib=4000", NULL};
    const char *pct[] = {"check_interval=1s", "limit_percentage=80", "spike_limit_percentage=15", NULL};
    const char *gc_ok[] = {"check_interval=1s", "limit_mib=100",
                           "min_gc_interval_when_soft_limited=5s",
                           "min_gc_interval_when_hard_limited=1s", NULL};
    const char *gc_bad[] = {"check_interval=1s", "limit_mib=100",
                            "min_gc_interval_when_soft_limited=1s",
                            "min_gc_interval_when_hard_limited=5s", NULL};

    (void)state;
    assert_int_equal(validate_rc(no_interval), OTC_EINVAL);
    assert_int_equal(validate_rc(zero_interval), OTC_EINVAL);
    assert_int_equal(validate_rc(no_limit), OTC_EINVAL);
    assert_int_equal(validate_rc(spike_too_big), OTC_EINVAL);
    assert_int_equal(validate_rc(pct_over), OTC_EINVAL);
    assert_int_equal(validate_rc(spike_pct_over), OTC_EINVAL);
    assert_int_equal(validate_rc(spike_pct_big), OTC_EINVAL);
    assert_int_equal(validate_rc(negative), OTC_EINVAL);
    assert_int_equal(validate_rc(fixed), OTC_OK);
    assert_int_equal(validate_rc(fixed_default_spike), OTC_OK);
    assert_int_equal(validate_rc(pct), OTC_OK);
    /* otelcol's forced-GC intervals: accepted, soft must not be below hard */
    assert_int_equal(validate_rc(gc_ok), OTC_OK);
    assert_int_equal(validate_rc(gc_bad), OTC_EINVAL);
}

/* 80% of total memory is far above what this test uses: data is admitted. */
static void test_percentage_admits(void **state)
{
    const char *pct[] = {"check_interval=1s", "limit_percentage=80", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_memory_limiter_ops, pct, NULL);

    (void)state;
    assert_non_null(ins);
    assert_true(admit(ins));
    fx_instance_free(ins);
}

/* The gate follows the bytes of live batches at once, without waiting for a check. */
static void test_admit_follows_batches(void **state)
{
    struct otc_instance *ins = limiter("1h");
    struct otc_batch *held[64];
    size_t n = 0;
    size_t start = atomic_load(&otc_arena_live_bytes);

    (void)state;
    assert_non_null(ins);
    assert_true(admit(ins));
    /* hold batches until 40 MiB more are live: still below the soft limit */
    while (atomic_load(&otc_arena_live_bytes) < start + 40 * MIB) {
        uint8_t *dst;
        held[n] = otc_batch_alloc_raw(OTC_TRACES, 1 * MIB, &dst);
        assert_non_null(held[n]);
        n++;
    }
    assert_true(admit(ins));
    /* past 48 MiB: refused */
    while (atomic_load(&otc_arena_live_bytes) < start + 56 * MIB) {
        uint8_t *dst;
        held[n] = otc_batch_alloc_raw(OTC_TRACES, 1 * MIB, &dst);
        assert_non_null(held[n]);
        n++;
    }
    assert_false(admit(ins));
    assert_false(admit(ins));
    /* release them: accepted again */
    while (n > 0) {
        otc_batch_unref(held[--n]);
    }
    assert_true(admit(ins));
    fx_instance_free(ins);
}

/* Memory outside batches is seen through RSS at the next check_interval. */
static void test_rss_check(void **state)
{
    struct otc_instance *ins = limiter("200ms");
    size_t len = 80 * MIB;
    char *p;
    uint64_t due;

    (void)state;
    assert_non_null(ins);
    assert_true(admit(ins));
    due = ins->timer_due_ns;
    assert_true(due > 0);
    /* anonymous pages the allocator does not know about, all touched */
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    memset(p, 1, len);
    sleep_ms(300);
    assert_false(admit(ins)); /* admit measured (the interval had passed) */
    munmap(p, len);
    assert_false(admit(ins)); /* not measured again before the interval */
    sleep_ms(300);
    /* the worker's timer measures too and moves its due time on */
    assert_int_equal(ins->ops->timer(ins, ins->ctx, otc_now_ns()), OTC_OK);
    assert_true(ins->timer_due_ns > due);
    assert_true(admit(ins));
    fx_instance_free(ins);
}

/* consume passes batches on untouched. */
static void test_consume_passes(void **state)
{
    struct otc_instance *ins = limiter("1s");
    struct otc_batch *b = fx_simple(OTC_TRACES, 3, 0);

    (void)state;
    assert_int_equal(fx_consume(ins, b), OTC_OK);
    assert_int_equal(fx_captured.n, 1);
    assert_ptr_equal(fx_captured.b[0], b);
    fx_capture_clear();
    fx_instance_free(ins);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_percentage_admits),
        cmocka_unit_test(test_admit_follows_batches),
        cmocka_unit_test(test_rss_check),
        cmocka_unit_test(test_consume_passes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
