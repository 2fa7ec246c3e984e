/* ottl_names.c - the names OTTL text uses that otelc resolves at parse time:
 * the enum literals (SPAN_KIND_SERVER, STATUS_CODE_ERROR, SEVERITY_NUMBER_WARN,
 * ...), the fields each context's paths name, and the grouped-form items the
 * config loader stores. Main thread. */
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

/* The fields a path can name, by context. */
#define C(x) (1u << OTC_OTTL_##x)
static const struct ottl_field_def fields[] = {
    {"attributes", NULL, F_ATTRIBUTES, C(RESOURCE) | C(SCOPE) | C(SPAN) | C(SPANEVENT) |
                                       C(DATAPOINT) | C(LOG), true},
    {"dropped_attributes_count", NULL, F_DROPPED_ATTRS, C(RESOURCE) | C(SCOPE) | C(SPAN) |
                                                        C(SPANEVENT) | C(LOG), false},
    {"name", NULL, F_NAME, C(SCOPE) | C(SPAN) | C(SPANEVENT) | C(METRIC), false},
    {"version", NULL, F_VERSION, C(SCOPE), false},
    {"kind", NULL, F_KIND, C(SPAN), false},
    {"status", "code", F_STATUS_CODE, C(SPAN), false},
    {"status", "message", F_STATUS_MSG, C(SPAN), false},
    {"trace_id", "string", F_TRACE_ID_STR, C(SPAN) | C(LOG), false},
    {"trace_id", NULL, F_TRACE_ID, C(SPAN) | C(LOG), false},
    {"span_id", "string", F_SPAN_ID_STR, C(SPAN) | C(LOG), false},
    {"span_id", NULL, F_SPAN_ID, C(SPAN) | C(LOG), false},
    {"parent_span_id", "string", F_PARENT_SPAN_ID_STR, C(SPAN), false},
    {"parent_span_id", NULL, F_PARENT_SPAN_ID, C(SPAN), false},
    {"trace_state", NULL, F_TRACE_STATE, C(SPAN), false},
    {"start_time_unix_nano", NULL, F_START_TIME, C(SPAN) | C(DATAPOINT), false},
    {"end_time_unix_nano", NULL, F_END_TIME, C(SPAN), false},
    {"time_unix_nano", NULL, F_TIME, C(SPANEVENT) | C(DATAPOINT) | C(LOG), false},
    {"observed_time_unix_nano", NULL, F_OBSERVED_TIME, C(LOG), false},
    {"flags", NULL, F_FLAGS, C(SPAN) | C(DATAPOINT) | C(LOG), false},
    {"body", NULL, F_BODY, C(LOG), true},
    {"severity_number", NULL, F_SEVERITY_NUMBER, C(LOG), false},
    {"severity_text", NULL, F_SEVERITY_TEXT, C(LOG), false},
    {"event_name", NULL, F_EVENT_NAME, C(LOG), false},
    {"description", NULL, F_DESCRIPTION, C(METRIC), false},
    {"unit", NULL, F_UNIT, C(METRIC), false},
    {"type", NULL, F_METRIC_TYPE, C(METRIC), false},
    {"aggregation_temporality", NULL, F_AGG_TEMPORALITY, C(METRIC), false},
    {"is_monotonic", NULL, F_IS_MONOTONIC, C(METRIC), false},
    {"value_double", NULL, F_VALUE_DOUBLE, C(DATAPOINT), false},
    {"value_int", NULL, F_VALUE_INT, C(DATAPOINT), false},
    {"count", NULL, F_COUNT, C(DATAPOINT), false},
    {"sum", NULL, F_SUM, C(DATAPOINT), false},
    {"dropped_events_count", NULL, F_DROPPED_EVENTS, C(SPAN), false},
    {"dropped_links_count", NULL, F_DROPPED_LINKS, C(SPAN), false},
};
#undef C

const struct ottl_field_def *ottl_field_find(const char *name, const char *sub, enum otc_ottl_ctx c)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (!strcmp(fields[i].name, name) && (fields[i].ctxs & (1u << c)) &&
            (fields[i].sub ? !strcmp(fields[i].sub, sub) : !*sub)) {
            return &fields[i];
        }
    }
    return NULL;
}
