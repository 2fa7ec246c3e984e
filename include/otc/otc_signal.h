/* otc_signal.h - the three OTLP signals and helpers to name them. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_SIGNAL_H
#define OTC_INCLUDE_SIGNAL_H

enum otc_signal {
    OTC_TRACES  = 0,
    OTC_METRICS = 1,
    OTC_LOGS    = 2,
    OTC_SIGNAL_COUNT
};

#define OTC_SIG_BIT(s)  (1u << (s))
#define OTC_SIG_TRACES  OTC_SIG_BIT(OTC_TRACES)
#define OTC_SIG_METRICS OTC_SIG_BIT(OTC_METRICS)
#define OTC_SIG_LOGS    OTC_SIG_BIT(OTC_LOGS)
#define OTC_SIG_ALL     (OTC_SIG_TRACES | OTC_SIG_METRICS | OTC_SIG_LOGS)

const char *otc_signal_name(enum otc_signal s);      /* "traces" */
const char *otc_signal_item_name(enum otc_signal s); /* "spans", "metric_points", "log_records" */
int         otc_signal_parse(const char *s, size_t n, enum otc_signal *out);

#endif
