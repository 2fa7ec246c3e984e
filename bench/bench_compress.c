/* bench_compress.c - cost per span of gzip-compressing a 100-span OTLP request
 * (10 attributes per span) as the exporters send it: zlib as gRPC core does
 * (level 6, one deflate call) against libdeflate (otc_deflate) at levels 1
 * and 6, with the compressed sizes. Single thread.
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
    free(out);
    free(bytes);
    return 0;
}
