/* test_ratelimiter.c - unit tests for the ratelimiter processor
 * (processor/ratelimiter): the token buckets with a fake clock (refill, burst
 * cap, all or nothing over several keys, the wait until tokens are back, a
 * request larger than burst, overrides, LRU eviction), and the option checks
 * that name the key. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "otc/otc_component.h"
#include "processor/ratelimiter/ratelimiter.h"
#include "processor/ratelimiter/ratelimiter_buckets.h"

#define S 1000000000ull /* one second in ns */

static struct rl_want want(const char *key, double tokens)
{
    return (struct rl_want){key, strlen(key), rl_hash(key, strlen(key)), tokens};
}

static enum rl_verdict take1(struct rl_table *t, const char *key, double tokens, uint64_t now,
                             int64_t *wait)
{
    struct rl_want w = want(key, tokens);
    size_t which = 99;

    return rl_table_take(t, &w, 1, now, wait, &which);
}

static void test_burst_then_rate(void **state)
{
    struct rl_table t;
    int64_t wait;
    uint64_t now = 1000 * S;

    (void)state;
    assert_int_equal(rl_table_init(&t, (struct rl_limit){500, 1000}, NULL, 0, 16), 0);
    /* a new bucket is full: the burst passes at once, then nothing */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(take1(&t, "a", 100, now, &wait), RL_ADMIT);
    }
    assert_int_equal(take1(&t, "a", 100, now, &wait), RL_WAIT);
    /* 100 tokens at 500/s: back in 200 ms */
    assert_int_equal(wait, 200000000);
    assert_int_equal(take1(&t, "a", 100, now + 199000000, &wait), RL_WAIT);
    assert_int_equal(wait, 1000000); /* half a token at 500/s */
    assert_int_equal(take1(&t, "a", 100, now + 200000000, &wait), RL_ADMIT);
    /* an hour idle: refilled to burst, not beyond */
    now += 3600 * S;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(take1(&t, "a", 100, now, &wait), RL_ADMIT);
    }
    assert_int_equal(take1(&t, "a", 1, now, &wait), RL_WAIT);
    /* over 10 s at most burst + rate x 10 s pass, whatever the request size */
    {
        double passed = 0;
        uint64_t t0 = now + 5 * S; /* a full bucket again */
        for (uint64_t ms = 0; ms <= 10000; ms++) {
            if (take1(&t, "b", 7, t0 + ms * 1000000, &wait) == RL_ADMIT) {
                passed += 7;
            }
        }
        assert_true(passed <= 1000 + 500 * 10);
        assert_true(passed >= 1000 + 500 * 10 - 7);
    }
    rl_table_destroy(&t);
}

static void test_all_or_nothing(void **state)
{
    struct rl_table t;
    struct rl_want w[2];
    int64_t wait;
    size_t which = 99;
    uint64_t now = 5 * S;

    (void)state;
    assert_int_equal(rl_table_init(&t, (struct rl_limit){10, 100}, NULL, 0, 16), 0);
    assert_int_equal(take1(&t, "svc:b", 95, now, &wait), RL_ADMIT); /* b has 5 left */
    w[0] = want("svc:a", 50);
    w[1] = want("svc:b", 20);
    assert_int_equal(rl_table_take(&t, w, 2, now, &wait, &which), RL_WAIT);
    assert_int_equal(which, 1);
    assert_int_equal(wait, 1500000000); /* 15 tokens at 10/s */
    /* nothing was taken from a: its 100 tokens are all there */
    assert_int_equal(take1(&t, "svc:a", 100, now, &wait), RL_ADMIT);
    assert_int_equal(take1(&t, "svc:a", 1, now, &wait), RL_WAIT);
    /* and b still has its 5 */
    assert_int_equal(take1(&t, "svc:b", 5, now, &wait), RL_ADMIT);
    /* once both have enough, both pay */
    now += 10 * S;
    w[0] = want("svc:a", 60);
    w[1] = want("svc:b", 60);
    assert_int_equal(rl_table_take(&t, w, 2, now, &wait, &which), RL_ADMIT);
    assert_int_equal(take1(&t, "svc:a", 41, now, &wait), RL_WAIT);
    assert_int_equal(take1(&t, "svc:b", 40, now, &wait), RL_ADMIT);
    rl_table_destroy(&t);
}

static void test_too_big_and_overrides(void **state)
{
    struct rl_override ov[] = {{(char *)"tenant:big", {1000, 5000}}};
    struct rl_table t;
    int64_t wait;
    uint64_t now = S;

    (void)state;
    assert_int_equal(rl_table_init(&t, (struct rl_limit){10, 100}, ov, 1, 16), 0);
    assert_int_equal(take1(&t, "tenant:small", 101, now, &wait), RL_TOO_BIG);
    assert_int_equal(take1(&t, "tenant:big", 101, now, &wait), RL_ADMIT);
    assert_int_equal(take1(&t, "tenant:big", 4899, now, &wait), RL_ADMIT);
    assert_int_equal(take1(&t, "tenant:big", 100, now, &wait), RL_WAIT);
    assert_int_equal(wait, 100000000); /* at the override's rate: 100 at 1000/s */
    assert_true(rl_table_limit(&t, "tenant:big", 10).burst == 5000);
    assert_true(rl_table_limit(&t, "other", 5).burst == 100);
    rl_table_destroy(&t);
}

static void test_lru_eviction(void **state)
{
    struct rl_table t;
    int64_t wait;
    char key[32];

    (void)state;
    assert_int_equal(rl_table_init(&t, (struct rl_limit){1, 10}, NULL, 0, 3), 0);
    assert_int_equal(take1(&t, "k0", 10, S, &wait), RL_ADMIT);
    assert_int_equal(take1(&t, "k1", 10, S, &wait), RL_ADMIT);
    assert_int_equal(take1(&t, "k2", 10, S, &wait), RL_ADMIT);
    assert_int_equal(take1(&t, "k0", 1, S, &wait), RL_WAIT); /* k0 used again: most recent */
    assert_int_equal(take1(&t, "k3", 10, S, &wait), RL_ADMIT); /* evicts k1, the oldest */
    assert_int_equal(rl_table_size(&t), 3);
    assert_int_equal(atomic_load(&t.evicted), 1);
    assert_int_equal(take1(&t, "k0", 1, S, &wait), RL_WAIT); /* k0 kept its empty bucket */
    assert_int_equal(take1(&t, "k1", 10, S, &wait), RL_ADMIT); /* k1 starts again, full */
    assert_int_equal(atomic_load(&t.evicted), 2);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "many-%d", i);
        assert_int_equal(take1(&t, key, 1, S, &wait), RL_ADMIT);
    }
    assert_int_equal(rl_table_size(&t), 3);
    assert_int_equal(atomic_load(&t.evicted), 1002);
    rl_table_destroy(&t);
}

/* validate() of the options (key=value pairs) after the defaults: its rc,
 * with the message in err. */
static int check(const char *const *opts, char *err, size_t errlen)
{
    const struct otc_component_ops *ops = &otc_processor_ratelimiter_ops;
    void *ctx = calloc(1, ops->ctx_size);
    int rc;

    err[0] = '\0';
    assert_int_equal(otc_config_map_defaults(ops->config_map, ctx), OTC_OK);
    rc = OTC_OK;
    for (size_t i = 0; opts[i] && rc == OTC_OK; i++) {
        const char *eq = strchr(opts[i], '=');
        char key[64];

        snprintf(key, sizeof(key), "%.*s", (int)(eq - opts[i]), opts[i]);
        rc = otc_config_map_set(otc_config_map_find(ops->config_map, key), ctx, eq + 1, err,
                                errlen);
    }
    if (rc == OTC_OK) {
        rc = ops->validate(ctx, err, errlen);
    }
    otc_config_map_free(ops->config_map, ctx);
    free(ctx);
    return rc;
}

static void test_bad_input_names_the_key(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(check((const char *[]){"rate=500", "burst=1000", NULL}, err, sizeof(err)),
                     OTC_OK);
    assert_int_not_equal(check((const char *[]){"rate=-5", "burst=10", NULL}, err, sizeof(err)),
                         OTC_OK);
    assert_non_null(strstr(err, "rate: must be greater than zero"));
    assert_int_not_equal(check((const char *[]){"rate=5", NULL}, err, sizeof(err)), OTC_OK);
    assert_non_null(strstr(err, "burst: must be at least 1"));
    assert_int_not_equal(check((const char *[]){"rate=5", "burst=0", "strategy=records", NULL},
                               err, sizeof(err)), OTC_OK);
    assert_non_null(strstr(err, "one record"));
    assert_int_not_equal(check((const char *[]){"rate=5", "burst=5", "strategy=spans", NULL},
                               err, sizeof(err)), OTC_OK);
    assert_non_null(strstr(err, "requests"));
    assert_int_not_equal(check((const char *[]){"rate=5", "burst=5", "type=gubernator", NULL},
                               err, sizeof(err)), OTC_OK);
    assert_non_null(strstr(err, "type: \"gubernator\" is not supported"));
    assert_int_not_equal(check((const char *[]){"rate=5", "burst=5", "throttle_behavior=wait",
                                                NULL}, err, sizeof(err)), OTC_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_rate),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_too_big_and_overrides),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_bad_input_names_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
