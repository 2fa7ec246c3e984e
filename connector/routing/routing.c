/* routing.c - the `routing` connector (otelcol-contrib's routingconnector):
 * a table of routes, each an OTTL condition in the resource, span, log,
 * metric or datapoint context and the pipelines it sends to; what matches no
 * route goes to default_pipelines. Each item (span, log record or data point)
 * goes to the first route it matches (match_once, current otelcol), or to
 * every route it matches (match_once: false, older otelcol). Spans, log
 * records and resource conditions on metrics are read from the wire; each
 * output pipeline gets the received bytes of its items (otc_batch_keep_items).
 * Conditions are compiled at start-up; consume() runs on the exporting
 * pipeline's workers, several at once (it keeps no state per call). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_ottl.h"
#include "otc/otc_pb_walk.h"
#include "routing.h"

#define ERR_LOG_NS 1000000000ull /* at most one evaluation-error line a second */
#define MAX_OUTPUTS 64           /* output pipelines of one signal (a bit mask) */

/* table[i] as written */
struct route_cfg {
    int                context; /* index into route_contexts */
    char              *statement;
    char              *condition;
    struct otc_strlist pipelines;
};

static const char *const route_contexts[] = {"resource", "span", "metric", "datapoint", "log",
                                             "request", NULL};
static const enum otc_ottl_ctx route_ctx_of[] = {OTC_OTTL_RESOURCE, OTC_OTTL_SPAN, OTC_OTTL_METRIC,
                                                 OTC_OTTL_DATAPOINT, OTC_OTTL_LOG};
enum { RC_REQUEST = 5 };

/* One compiled route. */
struct route {
    enum otc_ottl_ctx ctx;
    const char       *text;                  /* the condition (route() where ... stripped) */
    size_t            text_off;              /* where it starts in what was written */
    struct otc_ottl  *cond[OTC_SIGNAL_COUNT]; /* per signal the connector serves */
    uint64_t          outs[OTC_SIGNAL_COUNT]; /* output pipelines (bits) */
};

struct routing_ctx {
    struct otc_cfg_list    table;
    struct otc_strlist     default_pipelines;
    int                    error_mode;
    bool                   match_once;
    /* compiled (main thread, read-only afterwards) */
    struct route          *routes;
    size_t                 n_routes;
    uint64_t               default_outs[OTC_SIGNAL_COUNT];
    bool                   decoded[OTC_SIGNAL_COUNT]; /* a metric or datapoint route */
    bool                   per_item[OTC_SIGNAL_COUNT]; /* a route below the resource */
    struct otc_ottl_keyset keys[OTC_OTTL_CTX_COUNT];  /* wire path: attributes read */
    /* evaluation errors (error_mode ignore), logged at most once a second */
    atomic_uint_fast64_t   errors;
    atomic_uint_fast64_t   last_err_ns;
};

#define OFF(f) offsetof(struct routing_ctx, f)
#define ROFF(f) offsetof(struct route_cfg, f)

static const struct otc_config_entry route_config[] = {
    {OTC_CFG_ENUM, "context", "resource", ROFF(context), 0, 0, 0, route_contexts,
     "the OTTL context the condition runs in: resource, span, metric, datapoint or log (request, "
     "which reads the client's request metadata, is not available)"},
    {OTC_CFG_STR, "condition", NULL, ROFF(condition), 0, 0, 0, NULL,
     "the OTTL condition an item must match to take this route (this or statement)"},
    {OTC_CFG_STR, "statement", NULL, ROFF(statement), 0, 0, 0, NULL,
     "the older form: `route() where <condition>`"},
    {OTC_CFG_STRLIST, "pipelines", NULL, ROFF(pipelines), 0, 0, 0, NULL,
     "the pipelines (of the same signal, listing this connector as a receiver) the route sends "
     "to"},
    OTC_CFG_END,
};

static const struct otc_cfg_sub route_sub = {route_config, sizeof(struct route_cfg)};

static const struct otc_config_entry routing_config[] = {
    {OTC_CFG_LIST, "table", NULL, OFF(table), 0, 0, 0, OTC_CFG_SUB(&route_sub),
     "the routes, in order: context, condition or statement, pipelines"},
    {OTC_CFG_STRLIST, "default_pipelines", NULL, OFF(default_pipelines), 0, 0, 0, NULL,
     "where items that match no route go (none: they are dropped, and counted)"},
    {OTC_CFG_ENUM, "error_mode", "propagate", OFF(error_mode), 0, 0, 0, otc_ottl_error_modes,
     "a condition that fails to evaluate: propagate (the batch is dropped and counted, the error "
     "logged), ignore (the item goes to default_pipelines, the error logged at most once a "
     "second) or silent (the same, not logged)"},
    {OTC_CFG_BOOL, "match_once", "true", OFF(match_once), 0, 0, 0, NULL,
     "true: an item takes the first route it matches (otelcol since v0.120, which removed the "
     "option); false: every route it matches (otelcol's earlier default)"},
    OTC_CFG_END,
};

static void routing_destroy(void *vctx)
{
    struct routing_ctx *r = vctx;

    for (size_t i = 0; i < r->n_routes; i++) {
        for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
            otc_ottl_free(r->routes[i].cond[s]);
        }
    }
    free(r->routes);
    r->routes = NULL;
    r->n_routes = 0;
    otc_ottl_keysets_free(r->keys);
}

/* The condition of route i: its condition, or its statement's where clause. */
static int route_text(const struct route_cfg *c, size_t i, const char **text, size_t *off, char *err,
                      size_t errlen)
{
    const char *st = c->statement;

    if ((c->condition != NULL) == (st != NULL)) {
        snprintf(err, errlen, "table[%zu]: give either condition or statement%s", i,
                 c->condition ? ", not both" : "");
        return OTC_EINVAL;
    }
    if (c->condition) {
        *text = c->condition;
        *off = 0;
        return OTC_OK;
    }
    *off = strspn(st, " \t");
    if (strncmp(st + *off, "route()", 7) != 0) {
        snprintf(err, errlen, "table[%zu].statement: \"%s\": expected route() where <condition>", i,
                 st);
        return OTC_EINVAL;
    }
    *off += 7 + strspn(st + *off + 7, " \t");
    if (st[*off] == '\0') {
        *text = "true";
        *off = 0;
        return OTC_OK;
    }
    if (strncmp(st + *off, "where", 5) != 0 || !strchr(" \t", st[*off + 5]) || st[*off + 5] == '\0') {
        snprintf(err, errlen, "table[%zu].statement: \"%s\": expected `where` at character %zu", i,
                 st, *off + 1);
        return OTC_EINVAL;
    }
    *off += 5 + strspn(st + *off + 5, " \t");
    *text = st + *off;
    return OTC_OK;
}

/* Compile every route for the signals in sigs, except for a signal that
 * lacks the route's context (its cond stays NULL: link() checks that the
 * route sends no pipeline of that signal). */
static int routing_compile(struct routing_ctx *r, unsigned sigs, char *err, size_t errlen)
{
    const struct route_cfg *cfg = r->table.v;

    if (r->table.n == 0) {
        snprintf(err, errlen, "table: the routing table is empty");
        return OTC_EINVAL;
    }
    if (!(r->routes = calloc(r->table.n, sizeof(*r->routes)))) {
        return OTC_ENOMEM;
    }
    r->n_routes = r->table.n;
    for (size_t i = 0; i < r->table.n; i++) {
        struct route *rt = &r->routes[i];
        const struct route_cfg *c = &cfg[i];
        int rc;

        if (c->context == RC_REQUEST) {
            snprintf(err, errlen, "table[%zu].context: request: otelc's receivers do not pass the "
                     "client's request metadata on; route on resource attributes instead", i);
            return OTC_EINVAL;
        }
        if (c->pipelines.n == 0) {
            snprintf(err, errlen, "table[%zu].pipelines: invalid route: no pipelines defined", i);
            return OTC_EINVAL;
        }
        if ((rc = route_text(c, i, &rt->text, &rt->text_off, err, errlen)) != OTC_OK) {
            return rc;
        }
        rt->ctx = route_ctx_of[c->context];
        for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
            struct otc_ottl_error oe = {0};
            enum otc_ottl_ctx probe;

            if (!(sigs & OTC_SIG_BIT(s))) {
                continue;
            }
            if (otc_ottl_ctx_parse(route_contexts[c->context], (enum otc_signal)s, &probe) != OTC_OK) {
                continue;
            }
            if (!(rt->cond[s] = otc_ottl_parse_condition(rt->text, (enum otc_signal)s, rt->ctx, &oe))) {
                snprintf(err, errlen, "table[%zu].%s: \"%s\": %s at character %zu of the %s", i,
                         c->condition ? "condition" : "statement",
                         c->condition ? c->condition : c->statement, oe.msg,
                         oe.pos + rt->text_off + 1, c->condition ? "condition" : "statement");
                return OTC_EINVAL;
            }
        }
    }
    return OTC_OK;
}

static int routing_validate(const void *vctx, char *err, size_t errlen)
{
    struct routing_ctx tmp = *(const struct routing_ctx *)vctx;
    int rc;

    tmp.routes = NULL;
    tmp.n_routes = 0;
    memset(tmp.keys, 0, sizeof(tmp.keys));
    rc = routing_compile(&tmp, OTC_SIG_ALL, err, errlen);
    routing_destroy(&tmp);
    return rc;
}

/* The pipelines of names as output bits of signal s. */
static int outputs_of(const struct otc_instance *ins, enum otc_signal s, const struct otc_strlist *names,
                      const char *key, uint64_t *out, char *err, size_t errlen)
{
    *out = 0;
    for (size_t k = 0; k < names->n; k++) {
        int o = otc_connector_output(ins, s, names->v[k]);
        if (o >= MAX_OUTPUTS) {
            snprintf(err, errlen, "%s: more than %d pipelines", key, MAX_OUTPUTS);
            return OTC_EINVAL;
        }
        if (o < 0) {
            /* a pipeline of another signal is that signal's */
            bool other = false;
            for (int t = 0; t < OTC_SIGNAL_COUNT; t++) {
                other |= t != (int)s && otc_connector_output(ins, (enum otc_signal)t, names->v[k]) >= 0;
            }
            if (other) {
                continue;
            }
            snprintf(err, errlen, "%s: pipeline \"%s\" does not list %s as a receiver", key,
                     names->v[k], ins->id);
            return OTC_EINVAL;
        }
        *out |= 1ull << o;
    }
    return OTC_OK;
}

/* Once the graph is built: compile for the signals served, resolve pipelines. */
static int routing_link(struct otc_instance *ins, void *vctx, char *err, size_t errlen)
{
    struct routing_ctx *r = vctx;
    const struct route_cfg *cfg = r->table.v;
    int rc;

    routing_destroy(r);
    if ((rc = routing_compile(r, ins->signals, err, errlen)) != OTC_OK) {
        return rc;
    }
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        if (!(ins->signals & OTC_SIG_BIT(s))) {
            continue;
        }
        if (outputs_of(ins, (enum otc_signal)s, &r->default_pipelines, "default_pipelines",
                       &r->default_outs[s], err, errlen) != OTC_OK) {
            return OTC_EINVAL;
        }
        for (size_t i = 0; i < r->n_routes; i++) {
            char key[64];
            snprintf(key, sizeof(key), "table[%zu].pipelines", i);
            if (outputs_of(ins, (enum otc_signal)s, &cfg[i].pipelines, key, &r->routes[i].outs[s], err,
                           errlen) != OTC_OK) {
                return OTC_EINVAL;
            }
            if (!r->routes[i].cond[s] && r->routes[i].outs[s]) {
                snprintf(err, errlen, "table[%zu].context: %s has no %s context, and the route "
                         "sends to a %s pipeline", i, otc_signal_name((enum otc_signal)s),
                         route_contexts[cfg[i].context], otc_signal_name((enum otc_signal)s));
                return OTC_EINVAL;
            }
        }
    }
    for (size_t i = 0; i < r->n_routes; i++) {
        struct route *rt = &r->routes[i];
        for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
            if (!rt->cond[s]) {
                continue;
            }
            if (otc_ottl_keysets_add(r->keys, rt->cond[s]) != OTC_OK) {
                snprintf(err, errlen, "out of memory");
                return OTC_ENOMEM;
            }
            r->per_item[s] |= rt->ctx != OTC_OTTL_RESOURCE;
            r->decoded[s] |= rt->ctx == OTC_OTTL_METRIC || rt->ctx == OTC_OTTL_DATAPOINT;
        }
    }
    return OTC_OK;
}

/* ------------------------------------------------------------ one batch */

/* One call's state: the current resource's route results and the output
 * pipelines of each item, in walk order. */
struct run {
    struct routing_ctx *r;
    enum otc_signal     s;
    struct otc_arena    scratch;
    struct otc_ottl_env env;
    Opentelemetry__Proto__Resource__V1__Resource           res;
    Opentelemetry__Proto__Common__V1__InstrumentationScope scope;
    int8_t             *res_match; /* per route: -1 not a resource route, 0/1, 2 error */
    uint64_t           *outs;      /* per item */
    size_t              n, cap;
    uint64_t            errors;
    char                why[256];
};

/* Evaluate one condition; 2 when it failed (error_mode propagate stops the walk). */
static int eval(struct run *w, const struct otc_ottl *o, int *stop)
{
    bool yes = false;

    if (otc_ottl_eval(o, &w->env, &yes, w->why, sizeof(w->why)) != OTC_OK) {
        w->errors++;
        if (w->r->error_mode == OTC_OTTL_PROPAGATE) {
            *stop = OTC_EINVAL;
        }
        return 2;
    }
    return yes;
}

/* The resource routes, once per resource. */
static int on_resource(struct run *w)
{
    int stop = 0;

    for (size_t i = 0; i < w->r->n_routes; i++) {
        const struct route *rt = &w->r->routes[i];
        w->res_match[i] = !rt->cond[w->s]               ? 0
                          : rt->ctx == OTC_OTTL_RESOURCE ? (int8_t)eval(w, rt->cond[w->s], &stop)
                                                         : -1;
        if (stop) {
            return stop;
        }
    }
    return 0;
}

/* The outputs of the item in env (routes below the resource read it). */
static int on_item(struct run *w)
{
    const struct routing_ctx *r = w->r;
    uint64_t outs = 0;
    bool matched = false;
    int stop = 0;

    if (w->n == w->cap) {
        return OTC_ENOMEM; /* more items than counted */
    }
    for (size_t i = 0; i < r->n_routes; i++) {
        const struct route *rt = &r->routes[i];
        int m = w->res_match[i] >= 0 ? w->res_match[i] : eval(w, rt->cond[w->s], &stop);
        if (stop) {
            return stop;
        }
        if (m == 2) { /* error_mode ignore / silent: to the default pipelines */
            outs = 0;
            matched = false;
            break;
        }
        if (m == 1) {
            outs |= rt->outs[w->s];
            matched = true;
            if (r->match_once) {
                break;
            }
        }
    }
    w->outs[w->n++] = matched ? outs : r->default_outs[w->s];
    return 0;
}

static int wire_resource(void *arg, const struct otc_pb_head *h)
{
    struct run *w = arg;

    if (h->msg ? !otc_ottl_wire_resource(h->msg, h->msg_len, &w->scratch,
                                         &w->r->keys[OTC_OTTL_RESOURCE], &w->res)
               : (opentelemetry__proto__resource__v1__resource__init(&w->res), false)) {
        return OTC_EINVAL;
    }
    w->env.resource = &w->res;
    return on_resource(w);
}

static int wire_scope(void *arg, const struct otc_pb_head *h)
{
    struct run *w = arg;

    if (h->msg ? !otc_ottl_wire_scope(h->msg, h->msg_len, &w->scratch, &w->r->keys[OTC_OTTL_SCOPE],
                                      &w->scope)
               : (opentelemetry__proto__common__v1__instrumentation_scope__init(&w->scope), false)) {
        return OTC_EINVAL;
    }
    w->env.scope = &w->scope;
    return 0;
}

static int wire_item(void *arg, const uint8_t *p, size_t len)
{
    struct run *w = arg;
    otc_span sp;
    otc_log_record lr;
    int rc;

    if (w->r->per_item[w->s]) {
        if (w->s == OTC_TRACES) {
            if (!otc_ottl_wire_span(p, len, &w->scratch, &w->r->keys[OTC_OTTL_SPAN], &sp)) {
                return OTC_EINVAL;
            }
            w->env.span = &sp;
        } else {
            if (!otc_ottl_wire_log(p, len, &w->scratch, &w->r->keys[OTC_OTTL_LOG], &lr)) {
                return OTC_EINVAL;
            }
            w->env.log = &lr;
        }
    }
    rc = on_item(w);
    w->env.span = NULL;
    w->env.log = NULL;
    return rc;
}

static int wire_point(void *arg, const struct otc_pb_metric *m, const uint8_t *p, size_t len)
{
    (void)m;
    (void)p;
    (void)len;
    return on_item(arg);
}

static int msg_resource(void *arg, const struct otc_msg_head *h)
{
    struct run *w = arg;

    if (h->msg) {
        w->env.resource = (Opentelemetry__Proto__Resource__V1__Resource *)h->msg;
    } else {
        opentelemetry__proto__resource__v1__resource__init(&w->res);
        w->env.resource = &w->res;
    }
    return on_resource(w);
}

static int msg_scope(void *arg, const struct otc_msg_head *h)
{
    struct run *w = arg;

    if (h->msg) {
        w->env.scope = (Opentelemetry__Proto__Common__V1__InstrumentationScope *)h->msg;
    } else {
        opentelemetry__proto__common__v1__instrumentation_scope__init(&w->scope);
        w->env.scope = &w->scope;
    }
    return 0;
}

static int msg_item(void *arg, ProtobufCMessage *item)
{
    struct run *w = arg;
    int rc;

    if (w->s == OTC_TRACES) {
        w->env.span = (otc_span *)item;
    } else {
        w->env.log = (otc_log_record *)item;
    }
    rc = on_item(w);
    w->env.span = NULL;
    w->env.log = NULL;
    return rc;
}

static int msg_point(void *arg, const otc_metric *m, ProtobufCMessage *point)
{
    struct run *w = arg;
    int rc;

    w->env.metric = (otc_metric *)m;
    w->env.point = point;
    rc = on_item(w);
    w->env.metric = NULL;
    w->env.point = NULL;
    return rc;
}

static void log_errors(struct otc_instance *ins, struct routing_ctx *r, const char *why)
{
    uint64_t now = otc_now_ns(), last = atomic_load(&r->last_err_ns);

    if (r->error_mode != OTC_OTTL_SILENT && atomic_load(&r->errors) && now - last >= ERR_LOG_NS &&
        atomic_compare_exchange_strong(&r->last_err_ns, &last, now)) {
        otc_log_warn(ins, "%llu condition evaluation(s) failed (error_mode %s): the items went to "
                     "default_pipelines; last: %s",
                     (unsigned long long)atomic_exchange(&r->errors, 0),
                     otc_ottl_error_modes[r->error_mode], why);
    }
}

/* Each item's outputs into w->outs: from the wire, or from the decoded request. */
static int route_items(struct run *w, struct otc_batch *b)
{
    bool empty_groups = false;
    int rc;

    if (w->r->decoded[w->s] || otc_batch_is_decoded(b)) {
        struct otc_msg_visitor v = {.resource = msg_resource, .scope = msg_scope, .arg = w};
        const ProtobufCMessage *msg = otc_batch_msg(b);
        if (!msg) {
            return OTC_EINVAL;
        }
        if (w->s == OTC_METRICS) {
            v.point = msg_point;
        } else {
            v.item = msg_item;
        }
        return otc_msg_walk(w->s, msg, &v, &empty_groups);
    }
    {
        struct otc_pb_visitor v = {.resource = wire_resource, .scope = wire_scope, .arg = w,
                                   .heads = true};
        if (w->s == OTC_METRICS) {
            v.point = wire_point;
        } else {
            v.item = wire_item;
        }
        rc = otc_pb_walk(b->raw, b->raw_len, &v, &empty_groups);
    }
    return rc;
}

static int routing_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct routing_ctx *r = vctx;
    enum otc_signal s = b->signal;
    unsigned n_out = otc_connector_outputs(ins, s);
    size_t items = b->items;
    int8_t res_match[64];
    uint64_t outs_small[256];
    uint8_t keep_small[256];
    struct run w = {.r = r, .s = s, .cap = items};
    uint64_t all = 0, every = ~0ull;
    const uint8_t *raw;
    size_t raw_len;
    uint8_t *keep = keep_small;
    int rc = OTC_OK;

    if (n_out == 0 || items == 0) {
        otc_batch_unref(b);
        return OTC_OK;
    }
    /* the outputs get the request's bytes: make sure they say what it is */
    if ((rc = otc_batch_bytes(b, &raw, &raw_len)) != OTC_OK) {
        atomic_fetch_add(&ins->counters.dropped[s], items);
        otc_batch_unref(b);
        return rc;
    }
    w.res_match = r->n_routes <= 64 ? res_match : malloc(r->n_routes);
    w.outs = items <= 256 ? outs_small : malloc(items * sizeof(*w.outs));
    if (items > 256) {
        keep = malloc(items);
    }
    if (!w.res_match || !w.outs || !keep) {
        rc = OTC_ENOMEM;
        goto out;
    }
    otc_arena_init(&w.scratch, 4096);
    w.env.arena = &w.scratch;
    rc = route_items(&w, b);
    otc_arena_release(&w.scratch);
    if (w.errors) {
        atomic_fetch_add(&r->errors, w.errors);
        if (rc == OTC_OK) {
            log_errors(ins, r, w.why);
        }
    }
    if (rc == OTC_OK && w.n != items) {
        rc = OTC_EINVAL;
        snprintf(w.why, sizeof(w.why), "the request holds %zu items, %zu were counted", w.n, items);
    }
    if (rc != OTC_OK) {
        if (rc == OTC_EINVAL && r->error_mode == OTC_OTTL_PROPAGATE && w.errors) {
            otc_log_err(ins, "condition evaluation failed (error_mode propagate): the batch is "
                        "dropped: %s", w.why);
        } else {
            otc_log_err(ins, "cannot route a batch of %zu %s: %s", items, otc_signal_item_name(s),
                        rc == OTC_ENOMEM ? "out of memory" : w.why[0] ? w.why : "malformed");
        }
        goto out;
    }
    for (size_t i = 0; i < items; i++) {
        all |= w.outs[i];
        every &= w.outs[i];
    }
    if (all == 0) {
        atomic_fetch_add(&ins->counters.dropped[s], items); /* no route, no default */
    }
    for (unsigned o = 0; o < n_out && o < MAX_OUTPUTS; o++) {
        uint64_t bit = 1ull << o;
        size_t kept = 0;
        struct otc_batch *x;

        if (!(all & bit)) {
            continue;
        }
        all &= ~bit;
        if (every & bit) { /* the whole request */
            otc_connector_emit(ins, o, all ? otc_batch_ref(b) : b);
            if (!all) {
                b = NULL;
                break;
            }
            continue;
        }
        for (size_t i = 0; i < items; i++) {
            keep[i] = (w.outs[i] & bit) != 0;
            kept += keep[i];
        }
        if (!(x = otc_batch_keep_items(otc_batch_ref(b), keep, kept))) {
            atomic_fetch_add(&ins->counters.dropped[s], kept);
            continue;
        }
        otc_connector_emit(ins, o, x);
    }
out:
    if (rc != OTC_OK) {
        atomic_fetch_add(&ins->counters.dropped[s], items);
    }
    if (w.res_match != res_match) {
        free(w.res_match);
    }
    if (w.outs != outs_small) {
        free(w.outs);
    }
    if (keep != keep_small) {
        free(keep);
    }
    if (b) {
        otc_batch_unref(b);
    }
    return rc;
}

const struct otc_component_ops otc_connector_routing_ops = {
    .type = "routing",
    .kind = OTC_CONNECTOR,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = true,
    .ctx_size = sizeof(struct routing_ctx),
    .config_map = routing_config,
    .validate = routing_validate,
    .init = NULL,
    .start = NULL,
    .consume = routing_consume,
    .send = NULL,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = routing_destroy,
    .link = routing_link,
};
