/* common.c - names and small helpers shared by every thread: error strings,
 * signal and component-kind names. Pure functions, no state. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "common.h"
#include "otc/otc_component.h"

const char *otc_strerror(int rc)
{
    switch (rc) {
    case OTC_OK:        return "ok";
    case OTC_EAGAIN:    return "queue full, try again";
    case OTC_EINVAL:    return "invalid argument";
    case OTC_ENOMEM:    return "out of memory";
    case OTC_EIO:       return "transport failure";
    case OTC_ESHUTDOWN: return "shutting down";
    case OTC_EUNSUPP:   return "not supported";
    case OTC_EPERM:     return "permanent failure";
    case OTC_ELIMIT:    return "limit exceeded";
    case OTC_ETHROTTLED: return "rate limited, retry later";
    case OTC_EFULL:     return "queue at its byte budget, waiting";
    default:            return rc > 0 ? "count" : "unknown error";
    }
}

static const char *const signal_names[OTC_SIGNAL_COUNT] = {"traces", "metrics", "logs"};
static const char *const item_names[OTC_SIGNAL_COUNT] = {"spans", "metric_points", "log_records"};

const char *otc_signal_name(enum otc_signal s)
{
    return (unsigned)s < OTC_SIGNAL_COUNT ? signal_names[s] : "?";
}

const char *otc_signal_item_name(enum otc_signal s)
{
    return (unsigned)s < OTC_SIGNAL_COUNT ? item_names[s] : "?";
}

const char *otc_signal_item_words(enum otc_signal s)
{
    static const char *const words[OTC_SIGNAL_COUNT] = {"spans", "data points", "log records"};

    return (unsigned)s < OTC_SIGNAL_COUNT ? words[s] : "items";
}

int otc_signal_parse(const char *s, size_t n, enum otc_signal *out)
{
    for (int i = 0; i < OTC_SIGNAL_COUNT; i++) {
        if (strlen(signal_names[i]) == n && memcmp(s, signal_names[i], n) == 0) {
            *out = (enum otc_signal)i;
            return OTC_OK;
        }
    }
    return OTC_EINVAL;
}

const char *otc_kind_name(enum otc_kind k)
{
    switch (k) {
    case OTC_RECEIVER:  return "receiver";
    case OTC_PROCESSOR: return "processor";
    case OTC_EXPORTER:  return "exporter";
    case OTC_EXTENSION: return "extension";
    case OTC_CONNECTOR: return "connector";
    }
    return "?";
}
