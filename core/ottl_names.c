/* ottl_names.c - the names OTTL text uses that otelc resolves at parse time:
 * the enum literals (SPAN_KIND_SERVER, STATUS_CODE_ERROR, SEVERITY_NUMBER_WARN,
 * ...) and the grouped-form items the config loader stores. Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "ottl_internal.h"

/* Enum literals: the proto enum names as OTTL spells them. */
static const struct { const char *name; int64_t v; } enums[] = {
    {"SPAN_KIND_UNSPECIFIED", 0}, {"SPAN_KIND_INTERNAL", 1}, {"SPAN_KIND_SERVER", 2},
    {"SPAN_KIND_CLIENT", 3}, {"SPAN_KIND_PRODUCER", 4}, {"SPAN_KIND_CONSUMER", 5},
    {"STATUS_CODE_UNSET", 0}, {"STATUS_CODE_OK", 1}, {"STATUS_CODE_ERROR", 2},
    {"SEVERITY_NUMBER_UNSPECIFIED", 0}, {"SEVERITY_NUMBER_TRACE", 1}, {"SEVERITY_NUMBER_TRACE2", 2},
    {"SEVERITY_NUMBER_TRACE3", 3}, {"SEVERITY_NUMBER_TRACE4", 4}, {"SEVERITY_NUMBER_DEBUG", 5},
    {"SEVERITY_NUMBER_DEBUG2", 6}, {"SEVERITY_NUMBER_DEBUG3", 7}, {"SEVERITY_NUMBER_DEBUG4", 8},
    {"SEVERITY_NUMBER_INFO", 9}, {"SEVERITY_NUMBER_INFO2", 10}, {"SEVERITY_NUMBER_INFO3", 11},
    {"SEVERITY_NUMBER_INFO4", 12}, {"SEVERITY_NUMBER_WARN", 13}, {"SEVERITY_NUMBER_WARN2", 14},
    {"SEVERITY_NUMBER_WARN3", 15}, {"SEVERITY_NUMBER_WARN4", 16}, {"SEVERITY_NUMBER_ERROR", 17},
    {"SEVERITY_NUMBER_ERROR2", 18}, {"SEVERITY_NUMBER_ERROR3", 19}, {"SEVERITY_NUMBER_ERROR4", 20},
    {"SEVERITY_NUMBER_FATAL", 21}, {"SEVERITY_NUMBER_FATAL2", 22}, {"SEVERITY_NUMBER_FATAL3", 23},
    {"SEVERITY_NUMBER_FATAL4", 24},
    {"METRIC_DATA_TYPE_NONE", 0}, {"METRIC_DATA_TYPE_GAUGE", 1}, {"METRIC_DATA_TYPE_SUM", 2},
    {"METRIC_DATA_TYPE_HISTOGRAM", 3}, {"METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM", 4},
    {"METRIC_DATA_TYPE_SUMMARY", 5},
    {"AGGREGATION_TEMPORALITY_UNSPECIFIED", 0}, {"AGGREGATION_TEMPORALITY_DELTA", 1},
    {"AGGREGATION_TEMPORALITY_CUMULATIVE", 2},
    {"FLAG_NONE", 0}, {"FLAG_NO_RECORDED_VALUE", 1},
};

bool ottl_enum_find(const char *name, int64_t *v)
{
    for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
        if (!strcmp(enums[i].name, name)) {
            *v = enums[i].v;
            return true;
        }
    }
    return false;
}

void otc_ottl_item_split(const char *item, struct otc_ottl_item *out)
{
    const char *p = item, *q;

    memset(out, 0, sizeof(*out));
    out->group = -1;
    out->text = item;
    if (*p != OTC_OTTL_SEP) {
        return;
    }
    out->group = strtol(p + 1, NULL, 10);
    if (!(p = strchr(p + 1, OTC_OTTL_SEP)) || !(q = strchr(p + 1, OTC_OTTL_SEP))) {
        out->text = "";
        return;
    }
    out->context = p + 1;
    out->context_len = (size_t)(q - p - 1);
    p = q + 1;
    q = strpbrk(p, "\x1e\x1c");
    if (!q) {
        out->text = "";
        return;
    }
    out->error_mode = q > p ? p : NULL;
    out->error_mode_len = (size_t)(q - p);
    out->condition = *q == OTC_OTTL_COND;
    out->text = q + 1;
}
