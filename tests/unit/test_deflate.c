/* test_deflate.c - unit tests for otc_deflate (core/deflate.c): gzip members
 * and zlib streams at every level Go numbers inflate back, with zlib, to the
 * input; levels out of range are refused; each thread keeps its own
 * compressor, and a level change on one thread does not disturb another. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "otc/otc_deflate.h"
#include "otc/otc_rc.h"

/* Test input: text-like and repetitive, with a stretch of noise. */
static uint8_t *sample(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len);
    static const char words[] = "span.name http.method GET /api/v1/orders service.name checkout ";

    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (i % 4096) < 3500 ? (uint8_t)words[i % (sizeof(words) - 1)] : (uint8_t)(seed >> 16);
    }
    return p;
}

/* Inflate z (gzip when gzip, else zlib) with zlib; true when it gives back want. */
static bool inflates_to(const uint8_t *z, size_t zlen, bool gzip, const uint8_t *want, size_t len)
{
    z_stream s;
    uint8_t *out = malloc(len + 16);
    int rc;
    bool same;

    memset(&s, 0, sizeof(s));
    assert_int_equal(inflateInit2(&s, gzip ? 31 : 15), Z_OK);
    s.next_in = (Bytef *)(uintptr_t)z;
    s.avail_in = (uInt)zlen;
    s.next_out = out;
    s.avail_out = (uInt)(len + 16);
    rc = inflate(&s, Z_FINISH);
    same = rc == Z_STREAM_END && s.total_out == len && memcmp(out, want, len) == 0 && s.avail_in == 0;
    inflateEnd(&s);
    free(out);
    return same;
}

static void test_every_level_round_trips(void **state)
{
    size_t len = 200000;
    uint8_t *in = sample(len, 7);

    (void)state;
    for (int f = 0; f < 2; f++) {
        for (int level = -2; level <= 9; level++) {
            uint8_t *z;
            size_t zlen;

            assert_int_equal(otc_deflate(f ? OTC_DEFLATE_ZLIB : OTC_DEFLATE_GZIP, level, in, len, &z, &zlen),
                             OTC_OK);
            assert_true(inflates_to(z, zlen, f == 0, in, len));
            if (level >= 1) { /* compressing levels shrink this input well */
                assert_true(zlen < len / 3);
            }
            free(z);
        }
    }
    free(in);
}

static void test_empty_and_tiny_inputs(void **state)
{
    uint8_t one = 'x', *z;
    size_t zlen;

    (void)state;
    assert_int_equal(otc_deflate(OTC_DEFLATE_GZIP, -1, &one, 0, &z, &zlen), OTC_OK);
    assert_true(inflates_to(z, zlen, true, &one, 0));
    free(z);
    assert_int_equal(otc_deflate(OTC_DEFLATE_ZLIB, 1, &one, 1, &z, &zlen), OTC_OK);
    assert_true(inflates_to(z, zlen, false, &one, 1));
    free(z);
}

static void test_levels_out_of_range(void **state)
{
    uint8_t in[16] = {0}, *z = (uint8_t *)1;
    size_t zlen = 1;

    (void)state;
    assert_int_equal(otc_deflate(OTC_DEFLATE_GZIP, 10, in, sizeof(in), &z, &zlen), OTC_EINVAL);
    assert_null(z);
    assert_int_equal(otc_deflate(OTC_DEFLATE_GZIP, -3, in, sizeof(in), &z, &zlen), OTC_EINVAL);
    assert_int_equal(zlen, 0);
}

struct worker {
    int      level;
    unsigned seed;
    bool     ok;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    size_t len = 50000;
    uint8_t *in = sample(len, w->seed);

    w->ok = true;
    for (int i = 0; i < 40; i++) {
        uint8_t *z;
        size_t zlen;
        int level = (i % 3 == 2) ? 9 : w->level; /* switch levels now and then */

        w->ok &= otc_deflate(OTC_DEFLATE_GZIP, level, in, len, &z, &zlen) == OTC_OK &&
                 inflates_to(z, zlen, true, in, len);
        free(z);
    }
    free(in);
    return NULL;
}

static void test_threads_have_their_own_compressor(void **state)
{
    struct worker w[4] = {{1, 1, false}, {6, 2, false}, {1, 3, false}, {6, 4, false}};
    pthread_t t[4];

    (void)state;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(w[i].ok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_level_round_trips),
        cmocka_unit_test(test_empty_and_tiny_inputs),
        cmocka_unit_test(test_levels_out_of_range),
        cmocka_unit_test(test_threads_have_their_own_compressor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
