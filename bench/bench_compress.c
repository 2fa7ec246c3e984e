/* bench_compress.c - cost per span of gzip-compressing a 100-span OTLP request
 * (10 attributes per span) as the exporters send it: zlib as gRPC core does
 * (level 6, one deflate call) against libdeflate (otc_deflate) at levels 1
 * and 6, with the compressed sizes; and of inflating it as the receiver
 * does: zlib as gRPC core 1.51 does (1 KiB output slices, each malloc'd, then
 * copied into one buffer) against otc_inflate into one buffer. Single thread.
 * Usage: bench_compress [iterations] */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "batch_builder.h"
#include "bench_util.h"
#include "otc/otc_deflate.h"
#include "otc/otc_rc.h"

#define SPANS 100
#define ATTRS 10

/* One gzip member with zlib at level, as gRPC core's message compression makes it. */
static size_t zlib_gzip(const uint8_t *in, size_t len, int level, uint8_t *out, size_t cap)
{
    z_stream z;
    size_t n;

    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return 0;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    n = deflate(&z, Z_FINISH) == Z_STREAM_END ? cap - z.avail_out : 0;
    deflateEnd(&z);
    return n;
}

/* Inflate a gzip member as gRPC core 1.51 does (message_compress.cc: 1 KiB
 * output blocks, each malloc'd), then copy the blocks into out as the
 * receiver read them. The bytes inflated, 0 on error. */
static size_t zlib_gunzip_core(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    enum { BLOCK = 1024 };
    uint8_t *blocks[4096];
    size_t nb = 0, n = 0;
    z_stream z;
    int rc = Z_OK;

    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 31) != Z_OK) {
        return 0;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    while (rc == Z_OK && nb < 4096) {
        blocks[nb] = malloc(BLOCK);
        z.next_out = blocks[nb++];
        z.avail_out = BLOCK;
        rc = inflate(&z, Z_FINISH);
        if (rc == Z_BUF_ERROR && z.avail_out == 0) {
            rc = Z_OK;
        }
    }
    for (size_t i = 0; i < nb; i++) {
        size_t k = i + 1 < nb ? BLOCK : BLOCK - z.avail_out;
        if (rc == Z_STREAM_END && n + k <= cap) {
            memcpy(out + n, blocks[i], k);
            n += k;
        }
        free(blocks[i]);
    }
    inflateEnd(&z);
    return rc == Z_STREAM_END ? n : 0;
}

static uint8_t *fixed_get(void *arg, size_t n)
{
    (void)n;
    return arg;
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 500;
    size_t len, zsize[2] = {0, 0}, dsize[2] = {0, 0};
    uint8_t *bytes = otc_test_traces_bytes(SPANS, ATTRS, 7, &len);
    size_t cap = len * 2 + 1024;
    uint8_t *out = malloc(cap);
    static const int levels[2] = {1, 6};
    double zns[2], dns[2];

    if (!bytes || !out) {
        return 1;
    }
    for (int l = 0; l < 2; l++) {
        uint64_t t0 = bench_cpu_ns();
        for (int i = 0; i < iters; i++) {
            zsize[l] = zlib_gzip(bytes, len, levels[l], out, cap);
        }
        zns[l] = (double)(bench_cpu_ns() - t0) / iters / SPANS;
        t0 = bench_cpu_ns();
        for (int i = 0; i < iters; i++) {
            uint8_t *d;
            if (otc_deflate(OTC_DEFLATE_GZIP, levels[l], bytes, len, &d, &dsize[l]) != OTC_OK) {
                return 1;
            }
            free(d);
        }
        dns[l] = (double)(bench_cpu_ns() - t0) / iters / SPANS;
    }
    printf("request: %d spans x %d attributes, %zu bytes, %d iterations\n", SPANS, ATTRS, len, iters);
    for (int l = 0; l < 2; l++) {
        printf("gzip level %d: zlib %7.1f ns/span (%zu bytes) | libdeflate %7.1f ns/span (%zu bytes) | %.2fx faster\n",
               levels[l], zns[l], zsize[l], dns[l], dsize[l], zns[l] / dns[l]);
    }
    printf("libdeflate level 1 against zlib level 6 (gRPC core's): %.2fx faster, %.2fx the size\n",
           zns[1] / dns[0], (double)dsize[0] / (double)zsize[1]);
    {
        uint8_t *z, *plain = malloc(len);
        size_t zlen, n = 0;
        double zi, di;
        uint64_t t0;

        if (!plain || otc_deflate(OTC_DEFLATE_GZIP, 6, bytes, len, &z, &zlen) != OTC_OK) {
            return 1;
        }
        t0 = bench_cpu_ns();
        for (int i = 0; i < iters; i++) {
            n = zlib_gunzip_core(z, zlen, plain, len);
        }
        zi = (double)(bench_cpu_ns() - t0) / iters / SPANS;
        if (n != len || memcmp(plain, bytes, len) != 0) {
            return 1;
        }
        t0 = bench_cpu_ns();
        for (int i = 0; i < iters; i++) {
            if (otc_inflate(OTC_DEFLATE_GZIP, z, zlen, len, fixed_get, plain, &n) != OTC_OK) {
                return 1;
            }
        }
        di = (double)(bench_cpu_ns() - t0) / iters / SPANS;
        if (n != len || memcmp(plain, bytes, len) != 0) {
            return 1;
        }
        printf("inflate (%zu -> %zu bytes): zlib as gRPC core 1.51 %7.1f ns/span | otc_inflate "
               "%7.1f ns/span | %.2fx faster\n", zlen, len, zi, di, zi / di);
        free(z);
        free(plain);
    }
    free(out);
    free(bytes);
    return 0;
}
