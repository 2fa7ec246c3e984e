/* fuzz_inflate.c - libFuzzer target: a compressed request body as the OTLP
 * receivers inflate it (otc_inflate; the first byte's low bit picks gzip or
 * zlib), within a 1 MiB limit. Whatever zlib reads as one complete stream of
 * at most the limit, otc_inflate must read to the same bytes; what it accepts
 * fits the limit and the buffer it asked for. Single-threaded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "otc/otc_deflate.h"
#include "otc/otc_rc.h"

#define LIMIT (1u << 20)

struct out {
    uint8_t *buf;
    size_t   cap;
};

static uint8_t *get(void *arg, size_t n)
{
    struct out *o = arg;

    free(o->buf);
    o->cap = n;
    o->buf = malloc(n ? n : 1);
    return o->buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ref[LIMIT + 1];
    enum otc_deflate_format f;
    struct out o = {NULL, 0};
    z_stream z;
    size_t n = 0;
    int rc, zr;

    if (size < 1) {
        return 0;
    }
    f = data[0] & 1 ? OTC_DEFLATE_ZLIB : OTC_DEFLATE_GZIP;
    rc = otc_inflate(f, data + 1, size - 1, LIMIT, get, &o, &n);
    if (rc != OTC_OK && rc != OTC_EINVAL && rc != OTC_ELIMIT) {
        abort();
    }
    if (rc == OTC_OK && (n > LIMIT || n > o.cap)) {
        abort();
    }
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, f == OTC_DEFLATE_GZIP ? 31 : 15) != Z_OK) {
        abort();
    }
    z.next_in = (Bytef *)(uintptr_t)(data + 1);
    z.avail_in = (uInt)(size - 1);
    z.next_out = ref;
    z.avail_out = sizeof(ref);
    zr = inflate(&z, Z_FINISH);
    if (zr == Z_STREAM_END && z.avail_in == 0 && z.total_out <= LIMIT &&
        (rc != OTC_OK || n != z.total_out || (n && memcmp(o.buf, ref, n) != 0))) {
        abort(); /* one complete stream zlib reads, read otherwise */
    }
    inflateEnd(&z);
    free(o.buf);
    return 0;
}
