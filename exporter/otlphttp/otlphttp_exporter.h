/* otlphttp_exporter.h - the `otlphttp` exporter (OTLP/HTTP client on libevent's
 * evhttp), plus the rules it shares with its unit tests: per-signal URLs,
 * compression levels and the request body codecs. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXPORTER_OTLPHTTP_H
#define OTC_EXPORTER_OTLPHTTP_H

#include <stddef.h>
#include <stdint.h>

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_exporter_otlphttp_ops;

/* The URL signal s is sent to, as otelcol composes it: signal_endpoint when
 * set (used as is), otherwise endpoint + "/v1/<signal>" (no doubled slash).
 * Writes it to out; OTC_EINVAL when neither is set, OTC_ELIMIT when it does
 * not fit in n bytes. */
int otc_otlphttp_signal_url(const char *endpoint, const char *signal_endpoint, enum otc_signal s,
                            char *out, size_t n);

/* Whether compression_params.level suits compression (an index into the
 * compression choices, as the config map sets it), as otelcol's
 * configcompression checks it; OTC_EINVAL with the reason otherwise. */
int otc_otlphttp_compression_check(int compression, int64_t level, char *err, size_t errlen);

/* in compressed with compression (gzip, zstd, snappy, zlib, deflate,
 * x-snappy-framed or lz4) at level (0: the fast default) into a malloc'd *out of
 * *outlen bytes. */
int otc_otlphttp_compress(int compression, int level, const uint8_t *in, size_t len,
                          uint8_t **out, size_t *outlen);

#endif
