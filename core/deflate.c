/* deflate.c - whole-message gzip and zlib compression for the exporters and
 * decompression for the receivers (otc/otc_deflate.h): libdeflate, one
 * compressor per thread and level and one decompressor per thread, kept until
 * the thread ends; zlib only for Huffman-only coding, which libdeflate lacks.
 * Runs on whichever thread sends or receives the message. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "otc/otc_deflate.h"
#include "otc/otc_rc.h"

/* This thread's compressor (libdeflate's are not thread-safe) and its level,
 * its decompressor, and the last zlib stream's inflated/compressed ratio. */
struct deflate_tls {
    struct libdeflate_compressor   *c;
    int                             level;
    struct libdeflate_decompressor *d;
    size_t                          zlib_ratio;
};

static pthread_key_t  tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
    struct deflate_tls *t = p;

    libdeflate_free_compressor(t->c);
    libdeflate_free_decompressor(t->d);
    free(t);
}

static void tls_init(void)
{
    (void)pthread_key_create(&tls_key, tls_free);
}

static struct deflate_tls *tls_get(void)
{
    struct deflate_tls *t;

    pthread_once(&tls_once, tls_init);
    t = pthread_getspecific(tls_key);
    if (!t) {
        if (!(t = calloc(1, sizeof(*t)))) {
            return NULL;
        }
        if (pthread_setspecific(tls_key, t) != 0) {
            free(t);
            return NULL;
        }
    }
    return t;
}

static struct libdeflate_compressor *compressor(int level)
{
    struct deflate_tls *t = tls_get();

    if (!t) {
        return NULL;
    }
    if (t->c && t->level != level) {
        libdeflate_free_compressor(t->c);
        t->c = NULL;
    }
    if (!t->c) {
        t->c = libdeflate_alloc_compressor(level);
        t->level = level;
    }
    return t->c;
}

/* Huffman coding only (Go's HuffmanOnly): zlib's strategy, one call. */
static int deflate_huffman(enum otc_deflate_format f, const uint8_t *in, size_t len, uint8_t **out,
                           size_t *outlen)
{
    z_stream z;
    size_t bound;
    int zrc;

    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, f == OTC_DEFLATE_GZIP ? 31 : 15, 8,
                     Z_HUFFMAN_ONLY) != Z_OK) {
        return OTC_ENOMEM;
    }
    bound = deflateBound(&z, (uLong)len);
    if (!(*out = malloc(bound))) {
        deflateEnd(&z);
        return OTC_ENOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = *out;
    z.avail_out = (uInt)bound;
    zrc = deflate(&z, Z_FINISH);
    *outlen = bound - z.avail_out;
    deflateEnd(&z);
    if (zrc != Z_STREAM_END) {
        free(*out);
        *out = NULL;
        return OTC_EINVAL;
    }
    return OTC_OK;
}

int otc_deflate(enum otc_deflate_format f, int level, const uint8_t *in, size_t len,
                uint8_t **out, size_t *outlen)
{
    struct libdeflate_compressor *c;
    size_t bound, n;

    *out = NULL;
    *outlen = 0;
    if (level < -2 || level > 9) {
        return OTC_EINVAL;
    }
    if (level == -2) {
        return deflate_huffman(f, in, len, out, outlen);
    }
    if (!(c = compressor(level == -1 ? OTC_DEFLATE_DEFAULT_LEVEL : level))) {
        return OTC_ENOMEM;
    }
    bound = f == OTC_DEFLATE_GZIP ? libdeflate_gzip_compress_bound(c, len)
                                  : libdeflate_zlib_compress_bound(c, len);
    if (!(*out = malloc(bound ? bound : 1))) {
        return OTC_ENOMEM;
    }
    n = f == OTC_DEFLATE_GZIP ? libdeflate_gzip_compress(c, in, len, *out, bound)
                              : libdeflate_zlib_compress(c, in, len, *out, bound);
    if (n == 0) { /* cannot happen with the bound's room */
        free(*out);
        *out = NULL;
        return OTC_ENOMEM;
    }
    *outlen = n;
    return OTC_OK;
}

/* ------------------------------------------------------------ inflate */

#define INFLATE_MAX_RATIO 1032 /* 258 bytes from 2 bits at best */

/* One pass over in into out (cap bytes): gzip members back to back, or one
 * zlib stream with nothing after it. *n: the bytes written. */
static enum libdeflate_result inflate_pass(struct libdeflate_decompressor *d,
                                           enum otc_deflate_format f, const uint8_t *in,
                                           size_t len, uint8_t *out, size_t cap, size_t *n)
{
    enum libdeflate_result r;
    size_t used = 0, in_n, out_n;

    *n = 0;
    if (f == OTC_DEFLATE_ZLIB) {
        r = libdeflate_zlib_decompress_ex(d, in, len, out, cap, &in_n, n);
        return r == LIBDEFLATE_SUCCESS && in_n != len ? LIBDEFLATE_BAD_DATA : r;
    }
    do {
        r = libdeflate_gzip_decompress_ex(d, in + used, len - used, out + *n, cap - *n, &in_n,
                                          &out_n);
        if (r != LIBDEFLATE_SUCCESS) {
            return r;
        }
        used += in_n;
        *n += out_n;
    } while (used < len);
    return LIBDEFLATE_SUCCESS;
}

int otc_inflate(enum otc_deflate_format f, const uint8_t *in, size_t len, size_t max,
                otc_inflate_get_fn get, void *arg, size_t *outlen)
{
    struct deflate_tls *t = tls_get();
    enum libdeflate_result r;
    size_t cap, n;
    uint8_t *out;

    *outlen = 0;
    if (!t || (!t->d && !(t->d = libdeflate_alloc_decompressor()))) {
        return OTC_ENOMEM;
    }
    if (f == OTC_DEFLATE_GZIP) {
        /* a gzip member: 10-byte header (magic, method 8), 8-byte trailer */
        if (len < 18 || in[0] != 0x1f || in[1] != 0x8b || in[2] != 8) {
            return OTC_EINVAL;
        }
        /* ISIZE, the last member's size mod 2^32: exact for the usual single
         * member, a lower bound of the whole in any case; more than DEFLATE's
         * greatest ratio (1032:1) allows is no trailer (a truncated input) */
        cap = (size_t)in[len - 4] | (size_t)in[len - 3] << 8 | (size_t)in[len - 2] << 16 |
              (size_t)in[len - 1] << 24;
        if (cap / INFLATE_MAX_RATIO > len) {
            return OTC_EINVAL;
        }
        if (cap > max) {
            *outlen = cap;
            return OTC_ELIMIT;
        }
    } else {
        /* zlib says nothing of the size: guess from the last stream's ratio */
        size_t ratio = t->zlib_ratio ? t->zlib_ratio : 8;

        cap = len >= max / (ratio + 1) ? max : len * (ratio + 1) + 4096;
        if (cap > max) {
            cap = max;
        }
    }
    for (;;) {
        if (!(out = get(arg, cap))) {
            return OTC_ENOMEM;
        }
        r = inflate_pass(t->d, f, in, len, out, cap, &n);
        if (r == LIBDEFLATE_SUCCESS) {
            if (f == OTC_DEFLATE_ZLIB && len) {
                t->zlib_ratio = n / len + 1;
            }
            *outlen = n;
            return OTC_OK;
        }
        if (r != LIBDEFLATE_INSUFFICIENT_SPACE) {
            return OTC_EINVAL;
        }
        if (cap >= max) {
            return OTC_ELIMIT;
        }
        cap = cap > max / 2 ? max : (cap * 2 > len * 4 + 4096 ? cap * 2 : len * 4 + 4096);
        if (cap > max) {
            cap = max;
        }
    }
}
