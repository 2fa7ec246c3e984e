/* deflate.c - whole-message gzip and zlib compression for the exporters
 * (otc/otc_deflate.h): libdeflate, one compressor per thread and level, kept
 * until the thread ends; zlib only for Huffman-only coding, which libdeflate
 * lacks. Runs on whichever thread sends the message. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "otc/otc_deflate.h"
#include "otc/otc_rc.h"

/* This thread's compressor (libdeflate's are not thread-safe) and its level. */
struct deflate_tls {
    struct libdeflate_compressor *c;
    int                           level;
};

static pthread_key_t  tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
    struct deflate_tls *t = p;

    libdeflate_free_compressor(t->c);
    free(t);
}

static void tls_init(void)
{
    (void)pthread_key_create(&tls_key, tls_free);
}

static struct libdeflate_compressor *compressor(int level)
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
