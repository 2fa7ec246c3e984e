/* otc_attr_match.h - otelcol-contrib's match properties (internal/filter:
 * filterconfig.MatchProperties, filterspan, filterlog, filtermetric): the
 * include / exclude sections of the attributes processor and the older form
 * of the filter processor. A section is read by the option rows below into
 * struct otc_match_props, checked for one signal and compiled (strict strings
 * or PCRE2 patterns) on the main thread; a compiled matcher is read-only and
 * may be used by several workers at once. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_ATTR_MATCH_H
#define OTC_INCLUDE_ATTR_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otc_config_map.h"
#include "otc_otlp.h"
#include "otc_signal.h"

/* attributes[] and resources[]: a key and, optionally, the value it must have. */
struct otc_match_attr_cfg {
    char                *key;
    struct otc_cfg_value value;
};

/* libraries[]: an instrumentation scope name and, optionally, its version. */
struct otc_match_lib_cfg {
    char                *name;
    struct otc_cfg_value version; /* absent or null: any version */
};

extern const struct otc_cfg_sub otc_match_attr_sub;
extern const struct otc_cfg_sub otc_match_lib_sub;

/* One include or exclude section as the option rows read it. */
struct otc_match_props {
    bool               present;
    char              *match_type;
    bool               regexp;
    bool               cache_enabled;
    int64_t            cache_max;
    struct otc_strlist services, span_names, span_kinds, log_bodies, log_severity_texts,
                       metric_names;
    bool               sev_present;
    char              *sev_min;
    bool               sev_undefined;
    struct otc_cfg_list attributes, resources, libraries;
};

/* The option rows of filterconfig.MatchProperties under key w, for a struct
 * otc_match_props at byte offset off of the component's context; what is the
 * section's help text. */
#define OTC_MATCH_OFF(off, f) ((off) + offsetof(struct otc_match_props, f))
#define OTC_MATCH_PROPS_ROWS(w, off, what)                                                        \
    {OTC_CFG_SECTION, w, NULL, OTC_MATCH_OFF(off, present), 0, 0, 0, NULL, what},                 \
    {OTC_CFG_STR, w ".match_type", NULL, OTC_MATCH_OFF(off, match_type), 0, 0, 0, NULL,           \
     "strict or regexp (required where a name or value is matched)"},                             \
    {OTC_CFG_SECTION, w ".regexp", NULL, OTC_MATCH_OFF(off, regexp), 0, 0, 0, NULL,               \
     "options of match_type regexp"},                                                             \
    {OTC_CFG_BOOL, w ".regexp.cacheenabled", "false", OTC_MATCH_OFF(off, cache_enabled), 0, 0, 0, \
     NULL, "accepted, no effect: otelc does not cache match results (PCRE2 patterns are "         \
     "JIT-compiled)"},                                                                            \
    {OTC_CFG_INT, w ".regexp.cachemaxnumentries", "0", OTC_MATCH_OFF(off, cache_max), 0, 0, 0,    \
     NULL, "accepted, no effect (see cacheenabled)"},                                             \
    {OTC_CFG_STRLIST, w ".services", NULL, OTC_MATCH_OFF(off, services), 0, 0, 0, NULL,           \
     "traces: the resource's service.name matches one of these"},                                 \
    {OTC_CFG_STRLIST, w ".span_names", NULL, OTC_MATCH_OFF(off, span_names), 0, 0, 0, NULL,       \
     "traces: the span name matches one of these"},                                               \
    {OTC_CFG_STRLIST, w ".span_kinds", NULL, OTC_MATCH_OFF(off, span_kinds), 0, 0, 0, NULL,       \
     "traces: the span kind (SPAN_KIND_SERVER, ...) matches one of these"},                       \
    {OTC_CFG_STRLIST, w ".log_bodies", NULL, OTC_MATCH_OFF(off, log_bodies), 0, 0, 0, NULL,       \
     "logs: the body (as text) matches one of these"},                                            \
    {OTC_CFG_STRLIST, w ".log_severity_texts", NULL, OTC_MATCH_OFF(off, log_severity_texts), 0,   \
     0, 0, NULL, "logs: the severity text matches one of these"},                                 \
    {OTC_CFG_SECTION, w ".log_severity_number", NULL, OTC_MATCH_OFF(off, sev_present), 0, 0, 0,   \
     NULL, "logs: match on the severity number"},                                                 \
    {OTC_CFG_STR, w ".log_severity_number.min", NULL, OTC_MATCH_OFF(off, sev_min), 0, 0, 0, NULL, \
     "lowest severity matched: a number (9) or a name (INFO, WARN2, ...)"},                       \
    {OTC_CFG_BOOL, w ".log_severity_number.match_undefined", "false",                             \
     OTC_MATCH_OFF(off, sev_undefined), 0, 0, 0, NULL, "records without a severity number match"},\
    {OTC_CFG_STRLIST, w ".metric_names", NULL, OTC_MATCH_OFF(off, metric_names), 0, 0, 0, NULL,   \
     "metrics: the metric name matches one of these (the only property otelcol matches "          \
     "metrics on; without it the section selects every metric)"},                                 \
    {OTC_CFG_LIST, w ".attributes", NULL, OTC_MATCH_OFF(off, attributes), 0, 0, 0,                \
     OTC_CFG_SUB(&otc_match_attr_sub), "traces, logs: every one of these attributes matches"},    \
    {OTC_CFG_LIST, w ".resources", NULL, OTC_MATCH_OFF(off, resources), 0, 0, 0,                  \
     OTC_CFG_SUB(&otc_match_attr_sub),                                                            \
     "traces, logs: every one of these resource attributes matches"},                             \
    {OTC_CFG_LIST, w ".libraries", NULL, OTC_MATCH_OFF(off, libraries), 0, 0, 0,                  \
     OTC_CFG_SUB(&otc_match_lib_sub), "traces, logs: the instrumentation scope matches every "    \
     "entry"}

struct otc_matcher;

/* The matcher of section p (named w in messages) for signal s, with otelcol's
 * checks for that signal (ValidateForSpans, ValidateForLogs, filtermetric).
 * *out stays NULL where the section selects everything (metrics without
 * metric_names). OTC_OK, or OTC_EINVAL / OTC_ENOMEM with the reason in err
 * (starting with the key path: "include.span_kinds[0]: ..."). */
int  otc_matcher_make(const struct otc_match_props *p, const char *w, enum otc_signal s,
                      struct otc_matcher **out, char *err, size_t errlen);
void otc_matcher_free(struct otc_matcher *m);

/* A resource attribute matcher alone (filtermetric's resource_attributes):
 * NULL in *out when the list is empty. */
int  otc_matcher_make_resource(const struct otc_match_props *p, const char *w,
                               const struct otc_cfg_list *attrs, struct otc_matcher **out,
                               char *err, size_t errlen);

typedef Opentelemetry__Proto__Resource__V1__Resource           otc_match_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope otc_match_scope;

/* Whether an item matches every property of m (resource r and scope sc may be NULL). */
bool otc_match_span(const struct otc_matcher *m, const otc_span *sp, const otc_match_resource *r,
                    const otc_match_scope *sc);
bool otc_match_log(const struct otc_matcher *m, const otc_log_record *lr,
                   const otc_match_resource *r, const otc_match_scope *sc);
/* metric_names only (NULL m: no names, nothing matches). */
bool otc_match_metric_name(const struct otc_matcher *m, const char *name, size_t len);
/* The resource attributes only. */
bool otc_match_resource_attrs(const struct otc_matcher *m, const otc_match_resource *r);

/* Whether m has properties of the resource or scope alone (services,
 * resources, libraries), and whether a resource and scope pass them (the
 * item's own properties taken as matching). */
bool otc_matcher_has_head_props(const struct otc_matcher *m);
bool otc_match_head(const struct otc_matcher *m, const otc_match_resource *r,
                    const otc_match_scope *sc);

/* A severity as otelcol writes one: 0-24 or TRACE ... FATAL4 (any case). */
int  otc_match_severity(const char *s, int64_t *out);

#endif
