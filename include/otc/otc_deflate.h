/* otc_deflate.h - DEFLATE compression of whole messages (gzip members and zlib
 * streams) for the exporters, with libdeflate: about twice to three times
 * zlib's speed at the same level. Any thread (one compressor per thread). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_DEFLATE_H
#define OTC_INCLUDE_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

enum otc_deflate_format {
    OTC_DEFLATE_GZIP, /* RFC 1952, one member: gRPC's and HTTP's "gzip" */
    OTC_DEFLATE_ZLIB, /* RFC 1950: HTTP's "deflate" as otelcol sends it */
};

#define OTC_DEFLATE_DEFAULT_LEVEL 6 /* zlib's and Go's DefaultCompression (-1) */

/* Compress len bytes at in into a malloc'd *out of *outlen bytes, at level as
 * Go's compress/flate numbers it: -1 the default (6), -2 Huffman coding only,
 * 0 stored, 1 (fastest) to 9 (smallest). OTC_ENOMEM, or OTC_EINVAL for a
 * level out of range. */
int otc_deflate(enum otc_deflate_format f, int level, const uint8_t *in, size_t len,
                uint8_t **out, size_t *outlen);

#endif
