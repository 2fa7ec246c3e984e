/* filter.c - the `filter` processor: otelcol-contrib's filter processor with
 * OTTL conditions (otc_ottl.h). An item matching any condition is dropped:
 * spans, span events, metrics, data points and log records (traces.span,
 * traces.spanevent, metrics.metric, metrics.datapoint, logs.log_record), or,
 * in the newer trace_conditions / metric_conditions / log_conditions, the
 * item of the context each condition's paths name (a resource or scope
 * condition drops the whole container). Scope and resource containers left
 * empty are removed; a batch left empty is not passed on. Conditions are
 * compiled on the main thread; batches are matched on the pipeline's workers,
 * several at once (what a call needs is its own; the error count is atomic):
 * traces and logs that arrive undecoded item by item from their bytes, the
 * others on their decoded form. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_attr_match.h"
#include "otc/otc_buf.h"
#include "otc/otc_ottl.h"
#include "otc/otc_pb_walk.h"
#include "filter.h"

#define ERR_LOG_NS 1000000000ull /* at most one evaluation-error line a second */
#define MAX_PASSES 8

/* The legacy per-context lists, by signal. */
enum { L_SPAN, L_SPANEVENT, L_METRIC, L_DATAPOINT, L_LOG, L_TRES, L_MRES, L_LRES, L_COUNT };

static const struct {
    const char       *key;
    enum otc_signal   sig;
    enum otc_ottl_ctx ctx;
} legacy[L_COUNT] = {
    {"traces.span", OTC_TRACES, OTC_OTTL_SPAN},
    {"traces.spanevent", OTC_TRACES, OTC_OTTL_SPANEVENT},
    {"metrics.metric", OTC_METRICS, OTC_OTTL_METRIC},
    {"metrics.datapoint", OTC_METRICS, OTC_OTTL_DATAPOINT},
    {"logs.log_record", OTC_LOGS, OTC_OTTL_LOG},
    {"traces.resource", OTC_TRACES, OTC_OTTL_RESOURCE},
    {"metrics.resource", OTC_METRICS, OTC_OTTL_RESOURCE},
    {"logs.resource", OTC_LOGS, OTC_OTTL_RESOURCE},
};

static const char *const flat_names[OTC_SIGNAL_COUNT] = {
    "trace_conditions", "metric_conditions", "log_conditions",
};

/* The older match-properties form (filterconfig): what a pass matches with. */
enum filter_match { FM_OTTL, FM_SPAN, FM_LOG, FM_METRIC, FM_RESOURCE };

/* Conditions walked together over one context; any true drops the item. Or,
 * for the older form, an include / exclude pair: an item that include does
 * not match or exclude matches is dropped. */
struct filter_pass {
    enum otc_ottl_ctx           ctx;
    const struct otc_ottl_list *list;
    size_t                      first, n;
    enum filter_match           match;
    const struct otc_matcher   *inc, *exc;
};

enum { P_INCLUDE, P_EXCLUDE, P_COUNT };
static const char *const span_keys[P_COUNT] = {"spans.include", "spans.exclude"};
static const char *const log_keys[P_COUNT] = {"logs.include", "logs.exclude"};
static const char *const metric_keys[P_COUNT] = {"metrics.include", "metrics.exclude"};

struct filter_ctx {
    int                  error_mode;
    struct otc_match_props spans[P_COUNT];   /* spans.include / spans.exclude */
    struct otc_match_props logs[P_COUNT];    /* logs.include / logs.exclude */
    struct otc_match_props metrics[P_COUNT]; /* metrics.include / metrics.exclude */
    struct otc_strlist   metric_expr[P_COUNT];
    bool                 metrics_regexp, metrics_cache;
    int64_t              metrics_cache_max;
    struct otc_strlist   profile_src[3];     /* accepted: otelc has no profiles */
    struct otc_strlist   legacy_src[L_COUNT];
    struct otc_strlist   flat_src[OTC_SIGNAL_COUNT];
    struct otc_ottl_list legacy_list[L_COUNT];
    struct otc_ottl_list flat_list[OTC_SIGNAL_COUNT];
    struct otc_matcher  *span_m[P_COUNT], *log_m[P_COUNT], *metric_m[P_COUNT], *res_m[P_COUNT];
    struct filter_pass   passes[OTC_SIGNAL_COUNT][MAX_PASSES];
    size_t               n_passes[OTC_SIGNAL_COUNT];
    atomic_uint_fast64_t last_err_ns;
    atomic_uint_fast64_t errors;
    struct otc_ottl_keyset keys[OTC_SIGNAL_COUNT][OTC_OTTL_CTX_COUNT]; /* wire path: the
                                        attributes the conditions read, per context */
};

#define OFF(f) offsetof(struct filter_ctx, f)
#define PM(i, w, f) OTC_MATCH_OFF(OFF(w[i]), f)

/* filterprocessor's LogMatchProperties, read into otc_match_props. */
#define LOG_ROWS(w, i, what)                                                                      \
    {OTC_CFG_SECTION, w, NULL, PM(i, logs, present), 0, 0, 0, NULL, what},                        \
    {OTC_CFG_STR, w ".match_type", NULL, PM(i, logs, match_type), 0, 0, 0, NULL,                  \
     "strict or regexp (required where a text or value is matched)"},                             \
    {OTC_CFG_LIST, w ".resource_attributes", NULL, PM(i, logs, resources), 0, 0, 0,               \
     OTC_CFG_SUB(&otc_match_attr_sub), "every one of these resource attributes matches"},         \
    {OTC_CFG_LIST, w ".record_attributes", NULL, PM(i, logs, attributes), 0, 0, 0,                \
     OTC_CFG_SUB(&otc_match_attr_sub), "every one of these log record attributes matches"},       \
    {OTC_CFG_STRLIST, w ".severity_texts", NULL, PM(i, logs, log_severity_texts), 0, 0, 0, NULL,  \
     "the severity text matches one of these"},                                                   \
    {OTC_CFG_SECTION, w ".severity_number", NULL, PM(i, logs, sev_present), 0, 0, 0, NULL,        \
     "match on the severity number"},                                                             \
    {OTC_CFG_STR, w ".severity_number.min", NULL, PM(i, logs, sev_min), 0, 0, 0, NULL,            \
     "lowest severity matched: 1-24 or a name (INFO, warn2, ...; any case); empty: any"},         \
    {OTC_CFG_BOOL, w ".severity_number.match_undefined", "false", PM(i, logs, sev_undefined), 0,  \
     0, 0, NULL, "records without a severity number match"},                                      \
    {OTC_CFG_STRLIST, w ".bodies", NULL, PM(i, logs, log_bodies), 0, 0, 0, NULL,                  \
     "the body (as text) matches one of these"}

/* filterconfig.MetricMatchProperties. */
#define METRIC_ROWS(w, i, what)                                                                   \
    {OTC_CFG_SECTION, w, NULL, PM(i, metrics, present), 0, 0, 0, NULL, what},                     \
    {OTC_CFG_STR, w ".match_type", NULL, PM(i, metrics, match_type), 0, 0, 0, NULL,               \
     "strict (equal) or regexp (the pattern found in the name); expr is refused (see the "        \
     "Compatibility section)"},                                                                   \
    {OTC_CFG_SECTION, w ".regexp", NULL, PM(i, metrics, regexp), 0, 0, 0, NULL,                   \
     "options of match_type regexp"},                                                             \
    {OTC_CFG_BOOL, w ".regexp.cacheenabled", "false", PM(i, metrics, cache_enabled), 0, 0, 0,     \
     NULL, "accepted, no effect: otelc does not cache match results"},                            \
    {OTC_CFG_INT, w ".regexp.cachemaxnumentries", "0", PM(i, metrics, cache_max), 0, 0, 0, NULL,  \
     "accepted, no effect (see cacheenabled)"},                                                   \
    {OTC_CFG_STRLIST, w ".metric_names", NULL, PM(i, metrics, metric_names), 0, 0, 0, NULL,       \
     "names or patterns of the metrics; none: the names do not filter"},                          \
    {OTC_CFG_STRLIST, w ".expressions", NULL, OFF(metric_expr[i]), 0, 0, 0, NULL,                 \
     "expressions of match_type expr (the expr language): refused, otelc does not have it"},      \
    {OTC_CFG_LIST, w ".resource_attributes", NULL, PM(i, metrics, resources), 0, 0, 0,            \
     OTC_CFG_SUB(&otc_match_attr_sub), "every one of these resource attributes matches (a "       \
     "resource that fails include or matches exclude is dropped with its metrics)"}

static const struct otc_config_entry filter_config[] = {
    {OTC_CFG_ENUM, "error_mode", "propagate", OFF(error_mode), 0, 0, 0, otc_ottl_error_modes,
     "what a condition that fails to evaluate does: propagate (the batch is dropped and the error "
     "returned), ignore (logged, the condition counts as false) or silent"},
    {OTC_CFG_STRLIST, "traces.span", NULL, OFF(legacy_src[L_SPAN]), 0, 0, 0, NULL,
     "OTTL conditions in the span context: a span matching any is dropped"},
    {OTC_CFG_STRLIST, "traces.spanevent", NULL, OFF(legacy_src[L_SPANEVENT]), 0, 0, 0, NULL,
     "OTTL conditions in the spanevent context: a span event matching any is dropped"},
    {OTC_CFG_STRLIST, "metrics.metric", NULL, OFF(legacy_src[L_METRIC]), 0, 0, 0, NULL,
     "OTTL conditions in the metric context: a metric matching any is dropped"},
    {OTC_CFG_STRLIST, "metrics.datapoint", NULL, OFF(legacy_src[L_DATAPOINT]), 0, 0, 0, NULL,
     "OTTL conditions in the datapoint context: a data point matching any is dropped (a metric "
     "left without points goes too)"},
    {OTC_CFG_STRLIST, "logs.log_record", NULL, OFF(legacy_src[L_LOG]), 0, 0, 0, NULL,
     "OTTL conditions in the log context: a log record matching any is dropped"},
    {OTC_CFG_STRLIST, "traces.resource", NULL, OFF(legacy_src[L_TRES]), 0, 0, 0, NULL,
     "OTTL conditions in the resource context: a resource matching any is dropped with its spans"},
    {OTC_CFG_STRLIST, "metrics.resource", NULL, OFF(legacy_src[L_MRES]), 0, 0, 0, NULL,
     "OTTL conditions in the resource context: a resource matching any is dropped with its "
     "metrics"},
    {OTC_CFG_STRLIST, "logs.resource", NULL, OFF(legacy_src[L_LRES]), 0, 0, 0, NULL,
     "OTTL conditions in the resource context: a resource matching any is dropped with its logs"},
    OTC_MATCH_PROPS_ROWS("spans.include", OFF(spans[P_INCLUDE]),
                         "the older span filter: only spans matching every property given are "
                         "kept (checked before spans.exclude)"),
    OTC_MATCH_PROPS_ROWS("spans.exclude", OFF(spans[P_EXCLUDE]),
                         "the older span filter: spans matching every property given are dropped"),
    LOG_ROWS("logs.include", P_INCLUDE, "the older log filter: only log records matching every "
             "property given are kept (checked before logs.exclude)"),
    LOG_ROWS("logs.exclude", P_EXCLUDE, "the older log filter: log records matching every "
             "property given are dropped"),
    METRIC_ROWS("metrics.include", P_INCLUDE, "the older metric filter: only metrics matching are "
                "kept (checked before metrics.exclude)"),
    METRIC_ROWS("metrics.exclude", P_EXCLUDE, "the older metric filter: metrics matching are "
                "dropped"),
    {OTC_CFG_SECTION, "metrics.regexp", NULL, OFF(metrics_regexp), 0, 0, 0, NULL,
     "options of match_type regexp for the older metric filter"},
    {OTC_CFG_BOOL, "metrics.regexp.cacheenabled", "false", OFF(metrics_cache), 0, 0, 0, NULL,
     "accepted, no effect: otelc does not cache match results (PCRE2 patterns are JIT-compiled)"},
    {OTC_CFG_INT, "metrics.regexp.cachemaxnumentries", "0", OFF(metrics_cache_max), 0, 0, 0, NULL,
     "accepted, no effect (see cacheenabled)"},
    {OTC_CFG_STRLIST, "profiles.resource", NULL, OFF(profile_src[0]), 0, 0, 0, NULL,
     "accepted, no effect: otelc has no profiles signal"},
    {OTC_CFG_STRLIST, "profiles.profile", NULL, OFF(profile_src[1]), 0, 0, 0, NULL,
     "accepted, no effect: otelc has no profiles signal"},
    {OTC_CFG_STRLIST, "profile_conditions", NULL, OFF(profile_src[2]), OTC_CFG_F_OTTL, 0, 0, NULL,
     "accepted, no effect: otelc has no profiles signal"},
    {OTC_CFG_STRLIST, "trace_conditions", NULL, OFF(flat_src[OTC_TRACES]), OTC_CFG_F_OTTL, 0, 0,
     NULL,
     "OTTL conditions on traces whose paths name their context (resource, scope, span, "
     "spanevent): the item of that context is dropped when one matches; or groups {context, "
     "conditions, error_mode}"},
    {OTC_CFG_STRLIST, "metric_conditions", NULL, OFF(flat_src[OTC_METRICS]), OTC_CFG_F_OTTL, 0, 0,
     NULL, "as trace_conditions, with contexts resource, scope, metric and datapoint"},
    {OTC_CFG_STRLIST, "log_conditions", NULL, OFF(flat_src[OTC_LOGS]), OTC_CFG_F_OTTL, 0, 0, NULL,
     "as trace_conditions, with contexts resource, scope and log"},
    OTC_CFG_END,
};

static void filter_destroy(void *vctx)
{
    struct filter_ctx *f = vctx;

    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        otc_ottl_keysets_free(f->keys[s]);
    }
    for (int i = 0; i < L_COUNT; i++) {
        otc_ottl_list_free(&f->legacy_list[i]);
    }
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        otc_ottl_list_free(&f->flat_list[s]);
        f->n_passes[s] = 0;
    }
    for (int i = 0; i < P_COUNT; i++) {
        otc_matcher_free(f->span_m[i]);
        otc_matcher_free(f->log_m[i]);
        otc_matcher_free(f->metric_m[i]);
        otc_matcher_free(f->res_m[i]);
        f->span_m[i] = f->log_m[i] = f->metric_m[i] = f->res_m[i] = NULL;
    }
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return OTC_EINVAL; } while (0)

static bool any_src(const struct filter_ctx *f, int first, int last)
{
    for (int i = first; i <= last; i++) {
        if (f->legacy_src[i].n) {
            return true;
        }
    }
    return false;
}

/* otelcol's checks of which forms may be used together. */
static int filter_forms(const struct filter_ctx *f, char *err, size_t errlen)
{
    bool spans = f->spans[P_INCLUDE].present || f->spans[P_EXCLUDE].present;
    bool logs = f->logs[P_INCLUDE].present || f->logs[P_EXCLUDE].present;
    bool metrics = f->metrics[P_INCLUDE].present || f->metrics[P_EXCLUDE].present;

    if (spans && (any_src(f, L_SPAN, L_SPANEVENT) || f->legacy_src[L_TRES].n)) {
        FAIL("spans: cannot use \"traces.resource\", \"traces.span\", \"traces.spanevent\" and "
             "the span settings \"spans.include\", \"spans.exclude\" at the same time");
    }
    if (metrics && (any_src(f, L_METRIC, L_DATAPOINT) || f->legacy_src[L_MRES].n)) {
        FAIL("metrics: cannot use \"metrics.resource\", \"metrics.metric\", \"metrics.datapoint\" "
             "and the settings \"metrics.include\", \"metrics.exclude\" at the same time");
    }
    if (logs && (f->legacy_src[L_LOG].n || f->legacy_src[L_LRES].n)) {
        FAIL("logs: cannot use \"logs.resource\", \"logs.log_record\" and the settings "
             "\"logs.include\", \"logs.exclude\" at the same time");
    }
    if (f->flat_src[OTC_METRICS].n && metrics) {
        FAIL("metric_conditions: cannot be used with \"metrics.include\", \"metrics.exclude\"");
    }
    if (f->flat_src[OTC_LOGS].n && logs) {
        FAIL("log_conditions: cannot be used with \"logs.include\", \"logs.exclude\"");
    }
    for (int i = 0; i < P_COUNT; i++) {
        const char *m = f->metrics[i].match_type;
        if (f->metrics[i].present && m && !strcmp(m, "expr") && f->metric_expr[i].n) {
            FAIL("%s.expressions: match_type expr (the expr language) is not supported by otelc; "
                 "write the conditions in OTTL (metrics.metric)", metric_keys[i]);
        }
        if (f->logs[i].present && f->logs[i].sev_min && *f->logs[i].sev_min) {
            int64_t n;
            if (!strcmp(f->logs[i].sev_min, "0") ||
                otc_match_severity(f->logs[i].sev_min, &n) != OTC_OK) {
                FAIL("%s.severity_number.min: '%s' is not a valid severity", log_keys[i],
                     f->logs[i].sev_min);
            }
        }
    }
    return OTC_OK;
}

/* A message about a logs section names the key as written there
 * (record_attributes, not the match properties' attributes). */
static void log_key_names(const char *w, char *err, size_t errlen)
{
    static const char *const map[][2] = {
        {"attributes", "record_attributes"}, {"resources", "resource_attributes"},
        {"log_severity_texts", "severity_texts"}, {"log_bodies", "bodies"},
        {"log_severity_number", "severity_number"},
    };
    size_t wl = strlen(w);
    char tmp[512];

    if (strncmp(err, w, wl) || err[wl] != '.') {
        return;
    }
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        size_t kl = strlen(map[i][0]);
        const char *rest = err + wl + 1 + kl;
        if (!strncmp(err + wl + 1, map[i][0], kl) && (*rest == '.' || *rest == '[' || *rest == ':')) {
            snprintf(tmp, sizeof(tmp), "%s.%s%s", w, map[i][1], rest);
            snprintf(err, errlen, "%s", tmp);
            return;
        }
    }
}

static void add_pass(struct filter_ctx *f, enum otc_signal s, enum otc_ottl_ctx c,
                     enum filter_match m, const struct otc_matcher *inc,
                     const struct otc_matcher *exc)
{
    if (inc || exc) {
        f->passes[s][f->n_passes[s]++] = (struct filter_pass){
            .ctx = c, .match = m, .inc = inc, .exc = exc,
        };
    }
}

/* The older form for signal s: spans.*, logs.* or metrics.* include /
 * exclude, as matchers and passes (none where the newer flat conditions
 * are given, which otelcol then uses alone). */
static int filter_older(struct filter_ctx *f, enum otc_signal s, char *err, size_t errlen)
{
    int rc = OTC_OK;

    if (f->flat_src[s].n) {
        return OTC_OK;
    }
    for (int i = 0; i < P_COUNT && rc == OTC_OK; i++) {
        if (s == OTC_TRACES && f->spans[i].present) {
            rc = otc_matcher_make(&f->spans[i], span_keys[i], s, &f->span_m[i], err, errlen);
        } else if (s == OTC_LOGS && f->logs[i].present) {
            struct otc_match_props p = f->logs[i];
            if (!p.resources.n && !p.attributes.n && !p.log_severity_texts.n &&
                !p.log_bodies.n && !p.sev_present) {
                continue; /* an empty section is ignored */
            }
            if (p.sev_min && !*p.sev_min) {
                p.sev_min = NULL;
            }
            if ((rc = otc_matcher_make(&p, log_keys[i], s, &f->log_m[i], err, errlen))) {
                log_key_names(log_keys[i], err, errlen);
            }
        } else if (s == OTC_METRICS && f->metrics[i].present) {
            const struct otc_match_props *p = &f->metrics[i];
            if (!p->match_type || strcmp(p->match_type, "expr")) {
                rc = otc_matcher_make(p, metric_keys[i], s, &f->metric_m[i], err, errlen);
            }
            if (rc == OTC_OK) {
                rc = otc_matcher_make_resource(p, metric_keys[i], &p->resources, &f->res_m[i],
                                               err, errlen);
            }
        }
    }
    if (rc != OTC_OK) {
        return rc;
    }
    add_pass(f, s, OTC_OTTL_RESOURCE, FM_RESOURCE, f->res_m[P_INCLUDE], f->res_m[P_EXCLUDE]);
    add_pass(f, s, OTC_OTTL_METRIC, FM_METRIC, f->metric_m[P_INCLUDE], f->metric_m[P_EXCLUDE]);
    add_pass(f, s, OTC_OTTL_SPAN, FM_SPAN, f->span_m[P_INCLUDE], f->span_m[P_EXCLUDE]);
    add_pass(f, s, OTC_OTTL_LOG, FM_LOG, f->log_m[P_INCLUDE], f->log_m[P_EXCLUDE]);
    return OTC_OK;
}

/* Compile the conditions, and the older form for the signals in mask. */
static int filter_compile(struct filter_ctx *f, unsigned mask, char *err, size_t errlen)
{
    int rc;

    if ((rc = filter_forms(f, err, errlen)) != OTC_OK) {
        return rc;
    }
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        if ((mask & OTC_SIG_BIT(s)) &&
            (rc = filter_older(f, (enum otc_signal)s, err, errlen)) != OTC_OK) {
            return rc;
        }
    }

    for (int i = 0; i < L_COUNT; i++) {
        enum otc_signal s = legacy[i].sig;
        if (f->legacy_src[i].n && f->flat_src[s].n) {
            snprintf(err, errlen, "%s: cannot be used with %s; write the conditions in one of them",
                     flat_names[s], legacy[i].key);
            return OTC_EINVAL;
        }
        if ((rc = otc_ottl_list_compile(&f->legacy_src[i], legacy[i].key, s, true, legacy[i].ctx,
                                        &f->legacy_list[i], err, errlen)) != OTC_OK) {
            return rc;
        }
        if (f->legacy_list[i].n) {
            f->passes[s][f->n_passes[s]++] = (struct filter_pass){
                .ctx = legacy[i].ctx, .list = &f->legacy_list[i], .first = 0,
                .n = f->legacy_list[i].n,
            };
        }
    }
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        struct otc_ottl_list *l = &f->flat_list[s];
        if ((rc = otc_ottl_list_compile(&f->flat_src[s], flat_names[s], (enum otc_signal)s, true,
                                        OTC_OTTL_CTX_INFER, l, err, errlen)) != OTC_OK) {
            return rc;
        }
        /* consecutive conditions of one context are walked together */
        for (size_t i = 0; i < l->n; i++) {
            enum otc_ottl_ctx c = otc_ottl_context(l->v[i].o);
            struct filter_pass *p = f->n_passes[s] ? &f->passes[s][f->n_passes[s] - 1] : NULL;
            if (p && p->list == l && p->ctx == c) {
                p->n++;
                continue;
            }
            if (f->n_passes[s] == MAX_PASSES) {
                snprintf(err, errlen, "%s: more than %d changes of context in one list; group the "
                         "conditions of each context together", flat_names[s], MAX_PASSES);
                return OTC_EINVAL;
            }
            f->passes[s][f->n_passes[s]++] = (struct filter_pass){.ctx = c, .list = l, .first = i, .n = 1};
        }
    }
    return OTC_OK;
}

/* The attribute keys each context's conditions read, for the wire path. */
static int filter_keysets(struct filter_ctx *f)
{
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        for (size_t i = 0; i < f->n_passes[s]; i++) {
            const struct filter_pass *p = &f->passes[s][i];
            if (p->match != FM_OTTL) { /* match properties read any attribute */
                for (int c = 0; c < OTC_OTTL_CTX_COUNT; c++) {
                    f->keys[s][c].all = true;
                }
                continue;
            }
            for (size_t e = p->first; e < p->first + p->n; e++) {
                if (otc_ottl_keysets_add(f->keys[s], p->list->v[e].o) != OTC_OK) {
                    return OTC_ENOMEM;
                }
            }
        }
    }
    return OTC_OK;
}

/* A copy of the options alone (nothing compiled), checked for the signals in mask. */
static int filter_check(const void *vctx, unsigned mask, char *err, size_t errlen)
{
    const struct filter_ctx *src = vctx;
    struct filter_ctx *f = calloc(1, sizeof(*f));
    int rc;

    if (!f) {
        return OTC_ENOMEM;
    }
    f->error_mode = src->error_mode;
    memcpy(f->spans, src->spans, sizeof(f->spans));
    memcpy(f->logs, src->logs, sizeof(f->logs));
    memcpy(f->metrics, src->metrics, sizeof(f->metrics));
    memcpy(f->metric_expr, src->metric_expr, sizeof(f->metric_expr));
    memcpy(f->legacy_src, src->legacy_src, sizeof(f->legacy_src));
    memcpy(f->flat_src, src->flat_src, sizeof(f->flat_src));
    rc = filter_compile(f, mask, err, errlen);
    filter_destroy(f);
    free(f);
    return rc;
}

static int filter_validate(const void *vctx, char *err, size_t errlen)
{
    return filter_check(vctx, 0, err, errlen);
}

/* The older form is checked for the signals of the pipelines the processor
 * is in, as otelcol creates (and checks) it per signal. */
static int filter_validate_signal(const void *vctx, enum otc_signal s, char *err, size_t errlen)
{
    return filter_check(vctx, OTC_SIG_BIT(s), err, errlen);
}

static int filter_init(struct otc_instance *ins, void *vctx)
{
    struct filter_ctx *f = vctx;
    char err[512];
    int rc = filter_compile(f, ins->signals ? ins->signals : OTC_SIG_ALL, err, sizeof(err));

    if (rc == OTC_OK && (rc = filter_keysets(f)) != OTC_OK) {
        snprintf(err, sizeof(err), "out of memory");
    }
    if (rc != OTC_OK) {
        otc_log_err(ins, "%s", err);
        filter_destroy(f);
    }
    return rc;
}

struct filter_run {
    struct filter_ctx        *f;
    const struct filter_pass *p;
    char                      why[256];
};

/* Whether the older form's matcher m matches the item of env. */
static bool older_match(enum filter_match k, const struct otc_matcher *m,
                        const struct otc_ottl_env *env)
{
    switch (k) {
    case FM_SPAN:
        return otc_match_span(m, env->span, env->resource, env->scope);
    case FM_LOG:
        return otc_match_log(m, env->log, env->resource, env->scope);
    case FM_METRIC:
        return otc_match_metric_name(m, env->metric->name, strlen(env->metric->name));
    case FM_RESOURCE:
        return otc_match_resource_attrs(m, env->resource);
    default:
        return false;
    }
}

static int filter_visit(void *arg, struct otc_ottl_env *env)
{
    struct filter_run *r = arg;
    const struct filter_pass *p = r->p;

    if (p->match != FM_OTTL) { /* include first, then exclude */
        return (p->inc && !older_match(p->match, p->inc, env)) ||
                       (p->exc && older_match(p->match, p->exc, env))
                   ? OTC_OTTL_DROP
                   : OTC_OTTL_KEEP;
    }

    for (size_t i = p->first; i < p->first + p->n; i++) {
        const struct otc_ottl_entry *e = &p->list->v[i];
        int mode = e->error_mode >= 0 ? e->error_mode : r->f->error_mode;
        bool yes = false;
        int rc = otc_ottl_eval(e->o, env, &yes, r->why, sizeof(r->why));

        if (rc != OTC_OK) {
            if (mode == OTC_OTTL_PROPAGATE) {
                return rc;
            }
            if (mode == OTC_OTTL_IGNORE) {
                atomic_fetch_add_explicit(&r->f->errors, 1, memory_order_relaxed);
            }
            continue;
        }
        if (yes) {
            return OTC_OTTL_DROP;
        }
    }
    return OTC_OTTL_KEEP;
}

/* Every pass over msg; apply: remove what matches. */
static int filter_passes(struct filter_run *r, enum otc_signal s, ProtobufCMessage *msg,
                         struct otc_arena *arena, bool apply, size_t *removed, size_t *items)
{
    *removed = *items = 0;
    for (size_t i = 0; i < r->f->n_passes[s]; i++) {
        struct otc_ottl_walk w = {
            .ctx = r->f->passes[s][i].ctx, .arena = arena, .apply = apply, .prune = true,
            .fn = filter_visit, .arg = r,
        };
        int rc;

        r->p = &r->f->passes[s][i];
        if ((rc = otc_ottl_walk(s, msg, &w)) != OTC_OK) {
            return rc;
        }
        *removed += w.removed;
        *items += w.items;
    }
    return OTC_OK;
}

/* ------------------------------------------------------------ wire form */

/* An undecoded request of traces or logs is matched item by item from its
 * bytes: each resource and scope head and each span or log record is read
 * into a scratch struct (otc_ottl_wire_*), the conditions run on it, and the
 * kept items go on as the bytes that arrived (otc_batch_keep_items). */
struct wire_run {
    struct filter_run *r;
    enum otc_signal    s;
    struct otc_arena   scratch;
    Opentelemetry__Proto__Resource__V1__Resource           res;
    Opentelemetry__Proto__Common__V1__InstrumentationScope scope;
    struct otc_ottl_env env;
    bool               drop_res, drop_scope;
    uint8_t           *keep;
    size_t             n, cap, kept;
    int                rc;
};

/* The passes of context c on env: OTC_OTTL_DROP, OTC_OTTL_KEEP or an error. */
static int wire_eval(struct wire_run *w, enum otc_ottl_ctx c)
{
    struct filter_ctx *f = w->r->f;

    for (size_t i = 0; i < f->n_passes[w->s]; i++) {
        int rc;
        if (f->passes[w->s][i].ctx != c) {
            continue;
        }
        w->r->p = &f->passes[w->s][i];
        if ((rc = filter_visit(w->r, &w->env)) != OTC_OTTL_KEEP) {
            return rc;
        }
    }
    return OTC_OTTL_KEEP;
}

static int wire_resource(void *arg, const struct otc_pb_head *h)
{
    struct wire_run *w = arg;
    int rc;

    if (h->msg ? !otc_ottl_wire_resource(h->msg, h->msg_len, &w->scratch,
                                                &w->r->f->keys[w->s][OTC_OTTL_RESOURCE], &w->res)
               : (opentelemetry__proto__resource__v1__resource__init(&w->res), false)) {
        return OTC_EINVAL;
    }
    w->env.resource = &w->res;
    rc = wire_eval(w, OTC_OTTL_RESOURCE);
    w->drop_res = rc == OTC_OTTL_DROP;
    return rc < 0 ? rc : 0;
}

static int wire_scope(void *arg, const struct otc_pb_head *h)
{
    struct wire_run *w = arg;
    int rc;

    if (h->msg ? !otc_ottl_wire_scope(h->msg, h->msg_len, &w->scratch,
                                             &w->r->f->keys[w->s][OTC_OTTL_SCOPE], &w->scope)
               : (opentelemetry__proto__common__v1__instrumentation_scope__init(&w->scope), false)) {
        return OTC_EINVAL;
    }
    w->env.scope = &w->scope;
    w->drop_scope = false;
    if (w->drop_res) {
        return 0;
    }
    rc = wire_eval(w, OTC_OTTL_SCOPE);
    w->drop_scope = rc == OTC_OTTL_DROP;
    return rc < 0 ? rc : 0;
}

static int wire_item(void *arg, const uint8_t *p, size_t len)
{
    struct wire_run *w = arg;
    otc_span sp;
    otc_log_record lr;
    int rc = OTC_OTTL_DROP;

    if (w->n == w->cap) {
        return OTC_ENOMEM; /* more items than counted: the decoded path decides */
    }
    if (!w->drop_res && !w->drop_scope) {
        if (w->s == OTC_TRACES) {
            if (!otc_ottl_wire_span(p, len, &w->scratch, &w->r->f->keys[w->s][OTC_OTTL_SPAN], &sp)) {
                return OTC_EINVAL;
            }
            w->env.span = &sp;
            rc = wire_eval(w, OTC_OTTL_SPAN);
            w->env.span = NULL;
        } else {
            if (!otc_ottl_wire_log(p, len, &w->scratch, &w->r->f->keys[w->s][OTC_OTTL_LOG], &lr)) {
                return OTC_EINVAL;
            }
            w->env.log = &lr;
            rc = wire_eval(w, OTC_OTTL_LOG);
            w->env.log = NULL;
        }
        if (rc < 0) {
            return rc;
        }
    }
    w->keep[w->n++] = rc != OTC_OTTL_DROP;
    w->kept += rc != OTC_OTTL_DROP;
    return 0;
}

/* Whether the wire path can take b: traces or logs, undecoded, no span event pass. */
static bool wire_fits(const struct filter_ctx *f, const struct otc_batch *b)
{
    if (otc_batch_is_decoded(b) || (b->signal != OTC_TRACES && b->signal != OTC_LOGS)) {
        return false;
    }
    for (size_t i = 0; i < f->n_passes[b->signal]; i++) {
        if (f->passes[b->signal][i].ctx == OTC_OTTL_SPANEVENT) {
            return false;
        }
    }
    return true;
}

/* 1: handled (*out is what goes on, NULL for nothing; *rc the result), 0: use
 * the decoded path. */
static int filter_wire(struct otc_instance *ins, struct filter_ctx *f, struct filter_run *r,
                       struct otc_batch *b, struct otc_batch **out, int *rc)
{
    struct wire_run w = {.r = r, .s = b->signal};
    struct otc_pb_visitor v = {
        .resource = wire_resource, .scope = wire_scope, .item = wire_item, .arg = &w, .heads = true,
    };
    bool empty_groups = false;
    size_t items = b->items;
    uint8_t keep_small[1024]; /* per call: several workers run this at once */
    int handled = 1;

    (void)f;
    w.keep = items + 1 <= sizeof(keep_small) ? keep_small : malloc(items + 1);
    if (!w.keep) {
        return 0;
    }
    w.cap = items;
    w.env.arena = &w.scratch;
    otc_arena_init(&w.scratch, b->raw_len / 2 + 256);
    *rc = otc_pb_walk(b->raw, b->raw_len, &v, &empty_groups);
    otc_arena_release(&w.scratch);
    if (*rc == OTC_EINVAL || *rc == OTC_ENOMEM || (*rc == OTC_OK && w.n != items)) {
        handled = 0; /* malformed for this reader, or miscounted: decode */
        goto out;
    }
    *out = b;
    if (*rc != OTC_OK || (w.kept == items && !empty_groups)) {
        goto out; /* error_mode propagate, or untouched */
    }
    atomic_fetch_add(&ins->counters.dropped[b->signal], items - w.kept);
    if (w.kept == 0) {
        otc_batch_unref(b);
        *out = NULL;
        goto out;
    }
    if (!(*out = otc_batch_keep_items(b, w.keep, w.kept))) {
        atomic_fetch_add(&ins->counters.dropped[b->signal], w.kept);
        *rc = OTC_ENOMEM;
    }
out:
    if (w.keep != keep_small) {
        free(w.keep);
    }
    return handled;
}

static void filter_log_errors(struct otc_instance *ins, struct filter_ctx *f, const char *why)
{
    uint64_t now = otc_now_ns(), last = atomic_load(&f->last_err_ns);

    if (atomic_load_explicit(&f->errors, memory_order_relaxed) && now - last >= ERR_LOG_NS &&
        atomic_compare_exchange_strong(&f->last_err_ns, &last, now)) {
        otc_log_warn(ins, "%llu condition evaluation(s) failed (error_mode ignore), last: %s",
                     (unsigned long long)atomic_exchange(&f->errors, 0), why);
    }
}

static int filter_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct filter_ctx *f = vctx;
    enum otc_signal s = b->signal;
    struct filter_run r = {.f = f};
    size_t items = b->items, removed = 0, dropped = 0;
    struct otc_arena scratch;
    ProtobufCMessage *msg;
    int rc;

    if (f->n_passes[s] == 0) {
        return otc_next(ins, b);
    }
    if (wire_fits(f, b)) {
        struct otc_batch *out = NULL;
        if (filter_wire(ins, f, &r, b, &out, &rc)) {
            filter_log_errors(ins, f, r.why);
            if (rc != OTC_OK) {
                if (rc != OTC_ENOMEM) {
                    otc_log_err(ins, "condition evaluation failed (error_mode propagate): %s", r.why);
                    atomic_fetch_add(&ins->counters.dropped[s], items);
                }
                otc_batch_unref(out);
                return rc;
            }
            return out ? otc_next(ins, out) : OTC_OK;
        }
    }
    if (!otc_batch_msg(b)) {
        return otc_next(ins, b);
    }
    /* what conditions compute (Concat, String, ...) is scratch: never the batch's
     * arena, which other pipelines' threads may share */
    otc_arena_init(&scratch, 4096);
    if (atomic_load(&b->refs) > 1) {
        /* shared: look first, and copy only when something goes */
        rc = filter_passes(&r, s, (ProtobufCMessage *)otc_batch_msg(b), &scratch, false, &removed,
                           &dropped);
        if (rc != OTC_OK || removed == 0) {
            goto done;
        }
        if (!(b = otc_batch_writable(b))) {
            otc_arena_release(&scratch);
            atomic_fetch_add(&ins->counters.dropped[s], items);
            return OTC_ENOMEM;
        }
    }
    msg = (ProtobufCMessage *)otc_batch_msg(b);
    rc = filter_passes(&r, s, msg, &scratch, true, &removed, &dropped);
    if (rc == OTC_OK && removed) {
        otc_batch_msg_mut(b); /* the received bytes no longer say what the request is */
        otc_batch_recount(b);
    }
done:
    otc_arena_release(&scratch);
    filter_log_errors(ins, f, r.why);
    if (rc != OTC_OK) {
        otc_log_err(ins, "condition evaluation failed (error_mode propagate): %s",
                    rc == OTC_ENOMEM ? "out of memory" : r.why);
        otc_batch_unref(b);
        atomic_fetch_add(&ins->counters.dropped[s], items);
        return rc;
    }
    if (dropped) {
        atomic_fetch_add(&ins->counters.dropped[s], dropped);
    }
    if (removed && b->items == 0 &&
        *(const size_t *)((const char *)otc_batch_msg(b) + otc_msg_layout(s)->req_n) == 0) {
        otc_batch_unref(b); /* nothing left: otelcol skips the rest of the pipeline */
        return OTC_OK;
    }
    return otc_next(ins, b);
}

const struct otc_component_ops otc_processor_filter_ops = {
    .type = "filter",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = true,
    .concurrent = true,
    .ctx_size = sizeof(struct filter_ctx),
    .config_map = filter_config,
    .validate = filter_validate,
    .validate_signal = filter_validate_signal,
    .init = filter_init,
    .start = NULL,
    .consume = filter_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = filter_destroy,
};
