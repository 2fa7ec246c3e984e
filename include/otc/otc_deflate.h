/* otc_deflate.h - DEFLATE compression of whole messages (gzip members and zlib
 * streams) for the exporters and their decompression for the receivers, with
 * libdeflate: about twice to three times zlib's speed at the same level. Any
 * thread (one compressor and one decompressor per thread). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_DEFLATE_H
#define OTC_INCLUDE_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

enum otc_deflate_format {
    OTC_DEFLATE_GZIP, /* RFC 1952, one member: gRPC's and HTTP's "gzip" */
    OTC_DEFLATE_ZLIB, /* RFC 1950: HTTP's "deflate" as otelcol sends it, gRPC's "deflate" */
};

#define OTC_DEFLATE_DEFAULT_LEVEL 6 /* zlib's and Go's DefaultCompression (-1) */

/* Compress len bytes at in into a malloc'd *out of *outlen bytes, at level as
 * Go's compress/flate numbers it: -1 the default (6), -2 Huffman coding only,
 * 0 stored, 1 (fastest) to 9 (smallest). OTC_ENOMEM, or OTC_EINVAL for a
 * level out of range. */
int otc_deflate(enum otc_deflate_format f, int level, const uint8_t *in, size_t len,
                uint8_t **out, size_t *outlen);

/* Where otc_inflate writes: a buffer of at least n bytes (n may be 0), or
 * NULL when out of memory. A later call means the size was too small and the
 * buffer given before is no longer needed. */
typedef uint8_t *(*otc_inflate_get_fn)(void *arg, size_t n);

/* Decompress len bytes at in, gzip members back to back (f GZIP; gRPC's and
 * HTTP's "gzip") or one zlib stream (f ZLIB; gRPC's "deflate"), into the
 * buffer get(arg, n) gives: *outlen bytes of it. A gzip input is inflated
 * once into a buffer of the size its trailer gives; a zlib one into a buffer
 * sized from this thread's last ratio, again into a larger one when short.
 * OTC_OK; OTC_ELIMIT when it inflates past max bytes (*outlen: the size the
 * gzip trailer claims, else 0); OTC_EINVAL when corrupt, truncated or
 * followed by other bytes; OTC_ENOMEM when get or the decompressor fails. */
int otc_inflate(enum otc_deflate_format f, const uint8_t *in, size_t len, size_t max,
                otc_inflate_get_fn get, void *arg, size_t *outlen);

#endif
