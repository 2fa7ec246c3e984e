/* test_deflate.c - unit tests for otc_deflate and otc_inflate (core/deflate.c):
 * gzip members and zlib streams at every level Go numbers inflate back, with
 * zlib and with otc_inflate, to the input; levels out of range are refused;
 * each thread keeps its own compressor and decompressor. otc_inflate reads
 * vectors Python's gzip and zlib made (a file name in the header, two members),
 * refuses corrupt, truncated and trailing input, and stops at its size limit. */
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

/* ------------------------------------------------------------ inflate */

/* Made by Python 3.11: text = b"service.name=checkout span=GET /api/v1/orders " * 8;
 * gzip.compress(text, mtime=0), zlib.compress(text, 9), a GzipFile with
 * filename "spans.pb", and text[:100] and text[100:] as two gzip members. */
static const uint8_t py_gzip[71] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x2b, 0x4e, 0x2d, 0x2a, 0xcb, 0x4c, 0x4e, 0xd5, 0xcb, 0x4b, 0xcc, 0x4d, 0xb5, 0x4d, 0xce, 0x48, 0x4d, 0xce, 0xce, 0x2f, 0x2d, 0x51, 0x28, 0x2e, 0x48, 0xcc, 0xb3, 0x75, 0x77, 0x0d, 0x51, 0xd0, 0x4f, 0x2c, 0xc8, 0xd4, 0x2f, 0x33, 0xd4, 0xcf, 0x2f, 0x4a, 0x49, 0x2d, 0x2a, 0x56, 0x28, 0x1e, 0x55, 0x4d, 0xa1, 0x6a, 0x00, 0xdb, 0xfb, 0x40, 0x6a, 0x70, 0x01, 0x00, 0x00};
static const uint8_t py_zlib[59] = {0x78, 0xda, 0x2b, 0x4e, 0x2d, 0x2a, 0xcb, 0x4c, 0x4e, 0xd5, 0xcb, 0x4b, 0xcc, 0x4d, 0xb5, 0x4d, 0xce, 0x48, 0x4d, 0xce, 0xce, 0x2f, 0x2d, 0x51, 0x28, 0x2e, 0x48, 0xcc, 0xb3, 0x75, 0x77, 0x0d, 0x51, 0xd0, 0x4f, 0x2c, 0xc8, 0xd4, 0x2f, 0x33, 0xd4, 0xcf, 0x2f, 0x4a, 0x49, 0x2d, 0x2a, 0x56, 0x28, 0x1e, 0x55, 0x4d, 0xa1, 0x6a, 0x00, 0x9f, 0x21, 0x83, 0xf9};
static const uint8_t py_gzip_fname[80] = {0x1f, 0x8b, 0x08, 0x08, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0x73, 0x70, 0x61, 0x6e, 0x73, 0x2e, 0x70, 0x62, 0x00, 0x2b, 0x4e, 0x2d, 0x2a, 0xcb, 0x4c, 0x4e, 0xd5, 0xcb, 0x4b, 0xcc, 0x4d, 0xb5, 0x4d, 0xce, 0x48, 0x4d, 0xce, 0xce, 0x2f, 0x2d, 0x51, 0x28, 0x2e, 0x48, 0xcc, 0xb3, 0x75, 0x77, 0x0d, 0x51, 0xd0, 0x4f, 0x2c, 0xc8, 0xd4, 0x2f, 0x33, 0xd4, 0xcf, 0x2f, 0x4a, 0x49, 0x2d, 0x2a, 0x56, 0x28, 0x1e, 0x55, 0x4d, 0xa1, 0x6a, 0x00, 0xdb, 0xfb, 0x40, 0x6a, 0x70, 0x01, 0x00, 0x00};
static const uint8_t py_gzip_2members[138] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x2b, 0x4e, 0x2d, 0x2a, 0xcb, 0x4c, 0x4e, 0xd5, 0xcb, 0x4b, 0xcc, 0x4d, 0xb5, 0x4d, 0xce, 0x48, 0x4d, 0xce, 0xce, 0x2f, 0x2d, 0x51, 0x28, 0x2e, 0x48, 0xcc, 0xb3, 0x75, 0x77, 0x0d, 0x51, 0xd0, 0x4f, 0x2c, 0xc8, 0xd4, 0x2f, 0x33, 0xd4, 0xcf, 0x2f, 0x4a, 0x49, 0x2d, 0x2a, 0x56, 0x28, 0x26, 0x4b, 0x35, 0x00, 0xaa, 0xb5, 0x53, 0x5d, 0x64, 0x00, 0x00, 0x00, 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x4b, 0xcc, 0x4d, 0xb5, 0x4d, 0xce, 0x48, 0x4d, 0xce, 0xce, 0x2f, 0x2d, 0x51, 0x28, 0x2e, 0x48, 0xcc, 0xb3, 0x75, 0x77, 0x0d, 0x51, 0xd0, 0x4f, 0x2c, 0xc8, 0xd4, 0x2f, 0x33, 0xd4, 0xcf, 0x2f, 0x4a, 0x49, 0x2d, 0x2a, 0x56, 0x28, 0x4e, 0x2d, 0x2a, 0xcb, 0x4c, 0x4e, 0xd5, 0xcb, 0x1b, 0xd6, 0xaa, 0x01, 0x22, 0x1b, 0x86, 0x9d, 0x0c, 0x01, 0x00, 0x00};
static const char py_text_unit[] = "service.name=checkout span=GET /api/v1/orders ";

/* otc_inflate's output buffer: malloc'd anew for each size asked. */
struct sink {
    uint8_t *buf;
    size_t   cap;   /* last size asked */
    int      calls;
    bool     fail;  /* answer NULL */
};

static uint8_t *sink_get(void *arg, size_t n)
{
    struct sink *k = arg;

    free(k->buf);
    k->buf = NULL;
    k->calls++;
    k->cap = n;
    if (k->fail) {
        return NULL;
    }
    k->buf = malloc(n ? n : 1);
    return k->buf;
}

static int inflate_to(struct sink *k, enum otc_deflate_format f, const uint8_t *in, size_t len,
                      size_t max, size_t *n)
{
    memset(k, 0, sizeof(*k));
    return otc_inflate(f, in, len, max, sink_get, k, n);
}

static void test_inflate_round_trips(void **state)
{
    static const size_t lens[] = {0, 1, 1000, 300000};

    (void)state;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint8_t *in = sample(lens[i], 11);

        for (int f = 0; f < 2; f++) {
            for (int level = -2; level <= 9; level++) {
                enum otc_deflate_format fmt = f ? OTC_DEFLATE_ZLIB : OTC_DEFLATE_GZIP;
                struct sink k;
                uint8_t *z;
                size_t zlen, n = 12345;

                assert_int_equal(otc_deflate(fmt, level, in, lens[i], &z, &zlen), OTC_OK);
                assert_int_equal(inflate_to(&k, fmt, z, zlen, 1 << 20, &n), OTC_OK);
                assert_int_equal(n, lens[i]);
                assert_true(n == 0 || memcmp(k.buf, in, n) == 0);
                if (fmt == OTC_DEFLATE_GZIP) { /* sized once, exactly, from the trailer */
                    assert_int_equal(k.calls, 1);
                    assert_int_equal(k.cap, lens[i]);
                }
                free(k.buf);
                free(z);
            }
        }
        free(in);
    }
}

static void test_inflate_python_vectors(void **state)
{
    struct {
        const uint8_t *z;
        size_t len;
        enum otc_deflate_format f;
    } v[] = {
        {py_gzip, sizeof(py_gzip), OTC_DEFLATE_GZIP},
        {py_zlib, sizeof(py_zlib), OTC_DEFLATE_ZLIB},
        {py_gzip_fname, sizeof(py_gzip_fname), OTC_DEFLATE_GZIP},
        {py_gzip_2members, sizeof(py_gzip_2members), OTC_DEFLATE_GZIP},
    };
    char want[8 * sizeof(py_text_unit)] = "";

    (void)state;
    for (int i = 0; i < 8; i++) {
        strcat(want, py_text_unit);
    }
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct sink k;
        size_t n;

        assert_int_equal(inflate_to(&k, v[i].f, v[i].z, v[i].len, 4096, &n), OTC_OK);
        assert_int_equal(n, strlen(want));
        assert_memory_equal(k.buf, want, n);
        free(k.buf);
    }
}

static void test_inflate_corrupt(void **state)
{
    uint8_t buf[200], garbage[64];
    struct sink k;
    size_t n;

    (void)state;
    memset(garbage, 0xff, sizeof(garbage));
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_GZIP, garbage, sizeof(garbage), 1 << 20, &n), OTC_EINVAL);
    assert_int_equal(k.calls, 0); /* no gzip magic: nothing allocated */
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_ZLIB, garbage, sizeof(garbage), 1 << 20, &n), OTC_EINVAL);
    free(k.buf);
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_GZIP, garbage, 0, 1 << 20, &n), OTC_EINVAL);
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_ZLIB, garbage, 0, 1 << 20, &n), OTC_EINVAL);
    free(k.buf);
    /* the other format's stream */
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_GZIP, py_zlib, sizeof(py_zlib), 1 << 20, &n), OTC_EINVAL);
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_ZLIB, py_gzip, sizeof(py_gzip), 1 << 20, &n), OTC_EINVAL);
    free(k.buf);
    /* every truncation, of a single member, of two members and of a zlib stream */
    for (size_t cut = 0; cut < sizeof(py_gzip); cut++) {
        assert_int_equal(inflate_to(&k, OTC_DEFLATE_GZIP, py_gzip, cut, 1 << 20, &n), OTC_EINVAL);
        free(k.buf);
    }
    for (size_t cut = sizeof(py_gzip) + 1; cut < sizeof(py_gzip_2members); cut++) {
        assert_int_equal(inflate_to(&k, OTC_DEFLATE_GZIP, py_gzip_2members, cut, 1 << 20, &n),
                         OTC_EINVAL);
        free(k.buf);
    }
    for (size_t cut = 0; cut < sizeof(py_zlib); cut++) {
        assert_int_equal(inflate_to(&k, OTC_DEFLATE_ZLIB, py_zlib, cut, 1 << 20, &n), OTC_EINVAL);
        free(k.buf);
    }
    /* a flipped bit of the CRC-32, of ISIZE, of the Adler-32 */
    memcpy(buf, py_gzip, sizeof(py_gzip));
    buf[sizeof(py_gzip) - 6] ^= 1;
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_GZIP, buf, sizeof(py_gzip), 1 << 20, &n), OTC_EINVAL);
    free(k.buf);
    memcpy(buf, py_gzip, sizeof(py_gzip));
    buf[sizeof(py_gzip) - 4] ^= 1;
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_GZIP, buf, sizeof(py_gzip), 1 << 20, &n), OTC_EINVAL);
    free(k.buf);
    memcpy(buf, py_zlib, sizeof(py_zlib));
    buf[sizeof(py_zlib) - 1] ^= 1;
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_ZLIB, buf, sizeof(py_zlib), 1 << 20, &n), OTC_EINVAL);
    free(k.buf);
    /* other bytes after the stream */
    memcpy(buf, py_zlib, sizeof(py_zlib));
    memcpy(buf + sizeof(py_zlib), "junk", 4);
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_ZLIB, buf, sizeof(py_zlib) + 4, 1 << 20, &n), OTC_EINVAL);
    free(k.buf);
    memcpy(buf, py_gzip, sizeof(py_gzip));
    memcpy(buf + sizeof(py_gzip), "junk", 4);
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_GZIP, buf, sizeof(py_gzip) + 4, 1 << 20, &n), OTC_EINVAL);
    free(k.buf);
    /* a trailer claiming more than DEFLATE can give: corrupt, not too large */
    memcpy(buf, py_gzip, sizeof(py_gzip));
    buf[sizeof(py_gzip) - 1] = 0x7f;
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_GZIP, buf, sizeof(py_gzip), 1 << 20, &n), OTC_EINVAL);
    assert_int_equal(k.calls, 0);
}

static void test_inflate_size_limit(void **state)
{
    size_t len = 100000, n;
    uint8_t *in = sample(len, 3), *z, *two;
    size_t zlen;
    struct sink k;

    (void)state;
    for (int f = 0; f < 2; f++) {
        enum otc_deflate_format fmt = f ? OTC_DEFLATE_ZLIB : OTC_DEFLATE_GZIP;

        assert_int_equal(otc_deflate(fmt, 6, in, len, &z, &zlen), OTC_OK);
        assert_int_equal(inflate_to(&k, fmt, z, zlen, len, &n), OTC_OK);
        assert_int_equal(n, len);
        free(k.buf);
        assert_int_equal(inflate_to(&k, fmt, z, zlen, len - 1, &n), OTC_ELIMIT);
        if (fmt == OTC_DEFLATE_GZIP) { /* known from the trailer: nothing allocated */
            assert_int_equal(n, len);
            assert_int_equal(k.calls, 0);
        } else {
            assert_true(k.cap <= len - 1);
        }
        free(k.buf);
        free(z);
    }
    /* two members of 60000 bytes each: each trailer is under the limit, the whole is not */
    assert_int_equal(otc_deflate(OTC_DEFLATE_GZIP, 1, in, 60000, &z, &zlen), OTC_OK);
    two = malloc(2 * zlen);
    memcpy(two, z, zlen);
    memcpy(two + zlen, z, zlen);
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_GZIP, two, 2 * zlen, 100000, &n), OTC_ELIMIT);
    assert_true(k.cap <= 100000);
    free(k.buf);
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_GZIP, two, 2 * zlen, 120000, &n), OTC_OK);
    assert_int_equal(n, 120000);
    assert_memory_equal(k.buf + 60000, in, 60000);
    free(k.buf);
    free(two);
    free(z);
    free(in);
}

static void test_inflate_zlib_grows_its_guess(void **state)
{
    size_t len = 4 << 20, n;
    uint8_t *zeros = calloc(1, len), *z;
    size_t zlen;
    struct sink k;

    (void)state;
    /* about 1000:1, far beyond the first guess: the buffer grows until it fits */
    assert_int_equal(otc_deflate(OTC_DEFLATE_ZLIB, 9, zeros, len, &z, &zlen), OTC_OK);
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_ZLIB, z, zlen, 64 << 20, &n), OTC_OK);
    assert_int_equal(n, len);
    assert_true(k.calls > 1);
    assert_memory_equal(k.buf, zeros, len);
    free(k.buf);
    /* the thread remembers the ratio: the same stream again fits at once */
    assert_int_equal(inflate_to(&k, OTC_DEFLATE_ZLIB, z, zlen, 64 << 20, &n), OTC_OK);
    assert_int_equal(k.calls, 1);
    free(k.buf);
    free(z);
    free(zeros);
}

static void test_inflate_out_of_memory(void **state)
{
    struct sink k;
    size_t n;

    (void)state;
    memset(&k, 0, sizeof(k));
    k.fail = true;
    assert_int_equal(otc_inflate(OTC_DEFLATE_GZIP, py_gzip, sizeof(py_gzip), 4096, sink_get, &k, &n),
                     OTC_ENOMEM);
    assert_int_equal(otc_inflate(OTC_DEFLATE_ZLIB, py_zlib, sizeof(py_zlib), 4096, sink_get, &k, &n),
                     OTC_ENOMEM);
}

static void *inflate_worker(void *arg)
{
    struct worker *w = arg;
    size_t len = 50000;
    uint8_t *in = sample(len, w->seed), *z;
    size_t zlen;

    w->ok = otc_deflate(w->level ? OTC_DEFLATE_ZLIB : OTC_DEFLATE_GZIP, 6, in, len, &z, &zlen) == OTC_OK;
    for (int i = 0; w->ok && i < 200; i++) {
        struct sink k;
        size_t n;

        w->ok = inflate_to(&k, w->level ? OTC_DEFLATE_ZLIB : OTC_DEFLATE_GZIP, z, zlen, len, &n) ==
                    OTC_OK && n == len && memcmp(k.buf, in, len) == 0;
        free(k.buf);
    }
    free(z);
    free(in);
    return NULL;
}

static void test_threads_have_their_own_decompressor(void **state)
{
    struct worker w[4] = {{0, 5, false}, {1, 6, false}, {0, 7, false}, {1, 8, false}};
    pthread_t t[4];

    (void)state;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, inflate_worker, &w[i]), 0);
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
        cmocka_unit_test(test_inflate_round_trips),
        cmocka_unit_test(test_inflate_python_vectors),
        cmocka_unit_test(test_inflate_corrupt),
        cmocka_unit_test(test_inflate_size_limit),
        cmocka_unit_test(test_inflate_zlib_grows_its_guess),
        cmocka_unit_test(test_inflate_out_of_memory),
        cmocka_unit_test(test_threads_have_their_own_decompressor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
