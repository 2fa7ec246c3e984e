/* attributes.c - the `attributes` processor: otelcol-contrib's attribute
 * actions on span attributes (traces), log record attributes (logs) and data
 * point attributes (metrics), for the items its include / exclude properties
 * select (strict or regexp matching, as otelcol's filterspan, filterlog and
 * filtermetric do for each signal). Config is checked and compiled on the
 * main thread; batches are processed on the pipeline worker thread: a
 * read-only pass over the decoded request first, so a request none of whose
 * items would change goes on with its received bytes. An undecoded request
 * that include / exclude leave nothing of (by metric names, or by the
 * resource and scope properties of spans and log records) is not decoded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "otc/otc_attr_actions.h"
#include "otc/otc_attr_match.h"
#include "otc/otc_pb_walk.h"
#include "attributes.h"

/* ------------------------------------------------------------ config */

enum { AT_INCLUDE, AT_EXCLUDE, AT_PROPS };

struct attributes_ctx {
    struct otc_cfg_list      actions;
    struct otc_match_props   props[AT_PROPS];
    struct otc_attr_actions *compiled;
    struct otc_matcher      *match[OTC_SIGNAL_COUNT][AT_PROPS]; /* NULL: none */
};

#define OFF(f) offsetof(struct attributes_ctx, f)
#define AT_SECTION_HELP "the items the actions apply to (include) or not (exclude; checked after include)"
#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return OTC_EINVAL; } while (0)

static const struct otc_config_entry attributes_config[] = {
    {OTC_CFG_LIST, "actions", NULL, OFF(actions), 0, 0, 0, OTC_CFG_SUB(&otc_attr_action_sub),
     "the actions, applied in order to each selected item's attributes (required)"},
    OTC_MATCH_PROPS_ROWS("include", OFF(props[AT_INCLUDE]), AT_SECTION_HELP),
    OTC_MATCH_PROPS_ROWS("exclude", OFF(props[AT_EXCLUDE]), AT_SECTION_HELP),
    OTC_CFG_END,
};

static const char *const props_names[AT_PROPS] = {"include", "exclude"};

/* ------------------------------------------------------------ component */

static void at_matchers_free(struct attributes_ctx *c)
{
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        for (int p = 0; p < AT_PROPS; p++) {
            otc_matcher_free(c->match[s][p]);
            c->match[s][p] = NULL;
        }
    }
}

static void attributes_destroy(void *vctx)
{
    struct attributes_ctx *c = vctx;

    otc_attr_actions_free(c->compiled);
    c->compiled = NULL;
    at_matchers_free(c);
}

static int attributes_validate(const void *vctx, char *err, size_t errlen)
{
    const struct attributes_ctx *c = vctx;
    struct otc_attr_actions *a;
    int rc;

    if (!c->actions.n) {
        FAIL("actions: missing required field \"actions\"");
    }
    rc = otc_attr_actions_compile(&c->actions, "actions", &a, err, errlen);
    otc_attr_actions_free(a);
    return rc;
}

/* Both sections for signal s into out[]. */
static int at_compile_signal(const struct attributes_ctx *c, enum otc_signal s,
                             struct otc_matcher **out, char *err, size_t errlen)
{
    for (int p = 0; p < AT_PROPS; p++) {
        int rc;
        out[p] = NULL;
        if (!c->props[p].present) {
            continue;
        }
        if ((rc = otc_matcher_make(&c->props[p], props_names[p], s, &out[p], err, errlen))) {
            if (rc == OTC_ENOMEM) {
                snprintf(err, errlen, "out of memory");
            }
            for (int q = 0; q <= p; q++) {
                otc_matcher_free(out[q]);
                out[q] = NULL;
            }
            return rc;
        }
    }
    return OTC_OK;
}

static int attributes_validate_signal(const void *vctx, enum otc_signal s, char *err,
                                      size_t errlen)
{
    struct otc_matcher *m[AT_PROPS];
    int rc = at_compile_signal(vctx, s, m, err, errlen);

    if (rc == OTC_OK) {
        for (int p = 0; p < AT_PROPS; p++) {
            otc_matcher_free(m[p]);
        }
    }
    return rc;
}

/* Options a signal does not read (otelcol accepts and ignores them), logged once. */
static void at_warn_unused(struct otc_instance *ins, const struct attributes_ctx *c,
                           enum otc_signal s)
{
    for (int p = 0; p < AT_PROPS; p++) {
        const struct otc_match_props *pc = &c->props[p];
        const char *unused = NULL;
        if (!pc->present) {
            continue;
        }
        if (s == OTC_METRICS) {
            unused = pc->services.n ? "services" : pc->span_names.n ? "span_names"
                     : pc->span_kinds.n ? "span_kinds" : pc->attributes.n ? "attributes"
                     : pc->resources.n ? "resources" : pc->libraries.n ? "libraries"
                     : pc->log_bodies.n ? "log_bodies" : pc->log_severity_texts.n
                     ? "log_severity_texts" : pc->sev_present ? "log_severity_number" : NULL;
            if (!pc->metric_names.n) {
                otc_log_warn(ins, "%s: no metric_names: as in otelcol, the section selects every "
                             "metric", props_names[p]);
            }
        } else if (pc->metric_names.n) {
            unused = "metric_names";
        }
        if (unused) {
            otc_log_warn(ins, "%s.%s has no effect on %s (as in otelcol)", props_names[p], unused,
                         otc_signal_name(s));
        }
    }
}

static int attributes_init(struct otc_instance *ins, void *vctx)
{
    struct attributes_ctx *c = vctx;
    char err[256];
    int rc = otc_attr_actions_compile(&c->actions, "actions", &c->compiled, err, sizeof(err));

    for (int s = 0; rc == OTC_OK && s < OTC_SIGNAL_COUNT; s++) {
        if (ins->signals && !(ins->signals & OTC_SIG_BIT(s))) {
            continue;
        }
        rc = at_compile_signal(c, (enum otc_signal)s, c->match[s], err, sizeof(err));
        if (rc == OTC_OK) {
            at_warn_unused(ins, c, (enum otc_signal)s);
        }
    }
    if (rc != OTC_OK) {
        otc_log_err(ins, "%s", err);
        attributes_destroy(c);
    }
    return rc;
}

/* One pass over a decoded request. arena NULL: read-only, stops at the first
 * item the actions would change (the walk returns 1). */
struct at_pass {
    struct attributes_ctx *c;
    struct otc_matcher     *inc, *exc;
    struct otc_arena      *arena;
    const otc_match_resource     *res;
    const otc_match_scope        *scope;
    const otc_metric      *metric; /* the metric whose points are selected, or NULL */
    int                    rc;
};

static int at_resource_cb(void *arg, const struct otc_msg_head *h)
{
    ((struct at_pass *)arg)->res = (const otc_match_resource *)h->msg;
    return 0;
}

static int at_scope_cb(void *arg, const struct otc_msg_head *h)
{
    ((struct at_pass *)arg)->scope = (const otc_match_scope *)h->msg;
    return 0;
}

/* Run the actions on one attribute set: 1 stops the walk. */
static int at_act(struct at_pass *p, otc_key_value ***kvs, size_t *n)
{
    if (!p->arena) {
        return otc_attr_actions_would_change(p->c->compiled, *kvs, *n) ? 1 : 0;
    }
    if (otc_attr_actions_apply(p->c->compiled, p->arena, kvs, n) != OTC_OK) {
        p->rc = OTC_ENOMEM;
        return 1;
    }
    return 0;
}

static int at_span_cb(void *arg, ProtobufCMessage *item)
{
    struct at_pass *p = arg;
    otc_span *sp = (otc_span *)item;

    if ((p->inc && !otc_match_span(p->inc, sp, p->res, p->scope)) ||
        (p->exc && otc_match_span(p->exc, sp, p->res, p->scope))) {
        return 0;
    }
    return at_act(p, &sp->attributes, &sp->n_attributes);
}

static int at_log_cb(void *arg, ProtobufCMessage *item)
{
    struct at_pass *p = arg;
    otc_log_record *lr = (otc_log_record *)item;

    if ((p->inc && !otc_match_log(p->inc, lr, p->res, p->scope)) ||
        (p->exc && otc_match_log(p->exc, lr, p->res, p->scope))) {
        return 0;
    }
    return at_act(p, &lr->attributes, &lr->n_attributes);
}

static int at_metric_cb(void *arg, ProtobufCMessage *item)
{
    struct at_pass *p = arg;
    const otc_metric *m = (const otc_metric *)item;
    size_t len = strlen(m->name);
    bool skip = (p->inc && !otc_match_metric_name(p->inc, m->name, len)) ||
                (p->exc && otc_match_metric_name(p->exc, m->name, len));

    p->metric = skip ? NULL : m;
    return 0;
}

static int at_point_cb(void *arg, const otc_metric *m, ProtobufCMessage *pt)
{
    struct at_pass *p = arg;

    if (p->metric != m) {
        return 0;
    }
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: {
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint *d = (void *)pt;
        return at_act(p, &d->attributes, &d->n_attributes);
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: {
        Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *d = (void *)pt;
        return at_act(p, &d->attributes, &d->n_attributes);
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM: {
        Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *d = (void *)pt;
        return at_act(p, &d->attributes, &d->n_attributes);
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY: {
        Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *d = (void *)pt;
        return at_act(p, &d->attributes, &d->n_attributes);
    }
    default:
        return 0;
    }
}

static int at_walk(struct at_pass *p, enum otc_signal s, const ProtobufCMessage *req)
{
    struct otc_msg_visitor v = {.resource = at_resource_cb, .scope = at_scope_cb, .arg = p};

    if (s == OTC_TRACES) {
        v.item = at_span_cb;
    } else if (s == OTC_LOGS) {
        v.item = at_log_cb;
    } else {
        v.item = at_metric_cb;
        v.point = at_point_cb;
    }
    return otc_msg_walk(s, req, &v, NULL);
}


struct at_wire {
    const struct otc_matcher *inc, *exc;
    struct otc_arena        *tmp;
    otc_match_resource             *res;
    otc_match_scope                *scope;
    bool                     selected; /* the current scope's items may be selected */
};

#define AT_WIRE_SELECTED 1
#define AT_WIRE_UNKNOWN  2

static int at_wire_resource(void *arg, const struct otc_pb_head *h)
{
    struct at_wire *w = arg;

    w->res = NULL;
    if (h->msg && !(w->res = opentelemetry__proto__resource__v1__resource__unpack(
                        &w->tmp->pb, h->msg_len, h->msg))) {
        return AT_WIRE_UNKNOWN;
    }
    return 0;
}

static int at_wire_scope(void *arg, const struct otc_pb_head *h)
{
    struct at_wire *w = arg;

    w->scope = NULL;
    if (h->msg && !(w->scope = opentelemetry__proto__common__v1__instrumentation_scope__unpack(
                        &w->tmp->pb, h->msg_len, h->msg))) {
        return AT_WIRE_UNKNOWN;
    }
    w->selected = otc_match_head(w->inc, w->res, w->scope);
    return 0;
}

static int at_wire_item(void *arg, const uint8_t *p, size_t len)
{
    (void)p;
    (void)len;
    return ((struct at_wire *)arg)->selected ? AT_WIRE_SELECTED : 0;
}

static int at_wire_point(void *arg, const struct otc_pb_metric *m, const uint8_t *p, size_t len)
{
    const struct at_wire *w = arg;
    const char *name = m->name ? (const char *)m->name : "";
    size_t n = m->name ? m->name_len : 0;

    (void)p;
    (void)len;
    if ((w->inc && !otc_match_metric_name(w->inc, name, n)) ||
        (w->exc && otc_match_metric_name(w->exc, name, n))) {
        return 0;
    }
    return AT_WIRE_SELECTED;
}

/* True when include / exclude surely select no item of the undecoded b. */
static bool at_wire_none(const struct attributes_ctx *c, const struct otc_batch *b)
{
    enum otc_signal s = b->signal;
    struct at_wire w = {.inc = c->match[s][AT_INCLUDE], .exc = c->match[s][AT_EXCLUDE]};
    struct otc_pb_visitor v = {.arg = &w, .heads = true};
    struct otc_arena tmp;
    int r;

    if (s == OTC_METRICS) {
        if (!w.inc && !w.exc) {
            return false;
        }
        v.point = at_wire_point;
    } else {
        if (!otc_matcher_has_head_props(w.inc)) {
            return false;
        }
        v.resource = at_wire_resource;
        v.scope = at_wire_scope;
        v.item = at_wire_item;
    }
    otc_arena_init(&tmp, 4096);
    w.tmp = &tmp;
    r = otc_pb_walk(b->raw, b->raw_len, &v, NULL);
    otc_arena_release(&tmp);
    return r == OTC_OK;
}

/* ------------------------------------------------------------- consume */

static int attributes_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct attributes_ctx *c = vctx;
    enum otc_signal s = b->signal;
    struct at_pass p = {.c = c, .inc = c->match[s][AT_INCLUDE], .exc = c->match[s][AT_EXCLUDE]};
    size_t items = b->items;
    const ProtobufCMessage *msg;
    ProtobufCMessage *mut;

    if (c->compiled && !otc_batch_is_decoded(b) && at_wire_none(c, b)) {
        return otc_next(ins, b); /* nothing selected: not even decoded */
    }
    if (!c->compiled || !(msg = otc_batch_msg(b)) || at_walk(&p, s, msg) != 1) {
        return otc_next(ins, b); /* nothing would change (or undecodable: as it came) */
    }
    b = otc_batch_writable(b);
    if (!b || !(mut = otc_batch_msg_mut(b))) {
        otc_batch_unref(b);
        atomic_fetch_add(&ins->counters.dropped[s], items);
        return OTC_ENOMEM;
    }
    p.arena = &b->arena;
    at_walk(&p, s, mut);
    if (p.rc != OTC_OK) {
        otc_batch_unref(b);
        atomic_fetch_add(&ins->counters.dropped[s], items);
        return p.rc;
    }
    return otc_next(ins, b);
}

const struct otc_component_ops otc_processor_attributes_ops = {
    .type = "attributes",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = true,
    .concurrent = true, /* compiled once, read-only; match data is per thread */
    .ctx_size = sizeof(struct attributes_ctx),
    .config_map = attributes_config,
    .validate = attributes_validate,
    .init = attributes_init,
    .start = NULL,
    .consume = attributes_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = attributes_destroy,
    .validate_signal = attributes_validate_signal,
};
