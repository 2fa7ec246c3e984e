/* otlphttp_exporter.h - the `otlphttp` exporter (OTLP/HTTP client on libevent's
 * evhttp), plus the per-signal URL rule it shares with its unit tests. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXPORTER_OTLPHTTP_H
#define OTC_EXPORTER_OTLPHTTP_H

#include <stddef.h>

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_exporter_otlphttp_ops;

/* The URL signal s is sent to, as otelcol composes it: signal_endpoint when
 * set (used as is), otherwise endpoint + "/v1/<signal>" (no doubled slash).
 * Writes it to out; OTC_EINVAL when neither is set, OTC_ELIMIT when it does
 * not fit in n bytes. */
int otc_otlphttp_signal_url(const char *endpoint, const char *signal_endpoint, enum otc_signal s,
                            char *out, size_t n);

#endif
