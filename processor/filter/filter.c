/* filter.c - the `filter` processor: otelcol-contrib's filter processor with
 * OTTL conditions (otc_ottl.h). An item matching any condition is dropped:
 * spans, span events, metrics, data points and log records (traces.span,
 * traces.spanevent, metrics.metric, metrics.datapoint, logs.log_record), or,
 * in the newer trace_conditions / metric_conditions / log_conditions, the
 * item of the context each condition's paths name (a resource or scope
 * condition drops the whole container). Scope and resource containers left
 * empty are removed; a batch left empty is not passed on. Conditions are
 * compiled on the main thread; batches are matched on the pipeline worker
 * thread: traces and logs that arrive undecoded item by item from their bytes,
 * the others on their decoded form. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_buf.h"
#include "otc/otc_ottl.h"
#include "otc/otc_pb_walk.h"
#include "filter.h"

#define ERR_LOG_NS 1000000000ull /* at most one evaluation-error line a second */
#define MAX_PASSES 8

/* The legacy per-context lists, by signal. */
enum { L_SPAN, L_SPANEVENT, L_METRIC, L_DATAPOINT, L_LOG, L_COUNT };

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
};

static const char *const flat_names[OTC_SIGNAL_COUNT] = {
    "trace_conditions", "metric_conditions", "log_conditions",
};

/* Conditions walked together over one context; any true drops the item. */
struct filter_pass {
    enum otc_ottl_ctx           ctx;
    const struct otc_ottl_list *list;
    size_t                      first, n;
};

/* The older metric name matching: metrics.include / metrics.exclude. */
enum { N_INCLUDE, N_EXCLUDE, N_COUNT };
static const char *const name_keys[N_COUNT] = {"metrics.include", "metrics.exclude"};
static const char *const match_types[] = {"", "strict", "regexp", NULL};

struct filter_ctx {
    int                  error_mode;
    int                  name_match[N_COUNT];            /* index into match_types */
    struct otc_strlist   name_src[N_COUNT];              /* metric_names */
    struct otc_strlist   name_conds;                     /* as OTTL conditions */
    struct otc_ottl_list name_list;
    struct otc_strlist   legacy_src[L_COUNT];
    struct otc_strlist   flat_src[OTC_SIGNAL_COUNT];
    struct otc_ottl_list legacy_list[L_COUNT];
    struct otc_ottl_list flat_list[OTC_SIGNAL_COUNT];
    struct filter_pass   passes[OTC_SIGNAL_COUNT][MAX_PASSES];
    size_t               n_passes[OTC_SIGNAL_COUNT];
    uint64_t             last_err_ns;
    uint64_t             errors;
    struct otc_ottl_keyset keys[OTC_SIGNAL_COUNT][OTC_OTTL_CTX_COUNT]; /* wire path: the
                                        attributes the conditions read, per context */
    uint8_t             *keep;     /* wire path: one entry per item */
    size_t               keep_cap;
};

#define OFF(f) offsetof(struct filter_ctx, f)

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
    {OTC_CFG_ENUM, "metrics.include.match_type", "", OFF(name_match[N_INCLUDE]), 0, 0, 0,
     match_types, "the older metric filter: how metrics.include.metric_names match (strict: "
     "equal; regexp: the pattern found in the name); only metrics that match are kept"},
    {OTC_CFG_STRLIST, "metrics.include.metric_names", NULL, OFF(name_src[N_INCLUDE]), 0, 0, 0,
     NULL, "the older metric filter: names or patterns of the metrics to keep"},
    {OTC_CFG_ENUM, "metrics.exclude.match_type", "", OFF(name_match[N_EXCLUDE]), 0, 0, 0,
     match_types, "the older metric filter: how metrics.exclude.metric_names match; metrics "
     "that match are dropped"},
    {OTC_CFG_STRLIST, "metrics.exclude.metric_names", NULL, OFF(name_src[N_EXCLUDE]), 0, 0, 0,
     NULL, "the older metric filter: names or patterns of the metrics to drop"},
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

    free(f->keep);
    f->keep = NULL;
    f->keep_cap = 0;
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        for (int c = 0; c < OTC_OTTL_CTX_COUNT; c++) {
            free(f->keys[s][c].v);
            free(f->keys[s][c].len);
            memset(&f->keys[s][c], 0, sizeof(f->keys[s][c]));
        }
    }
    for (int i = 0; i < L_COUNT; i++) {
        otc_ottl_list_free(&f->legacy_list[i]);
    }
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        otc_ottl_list_free(&f->flat_list[s]);
        f->n_passes[s] = 0;
    }
    otc_ottl_list_free(&f->name_list);
    for (size_t i = 0; i < f->name_conds.n; i++) {
        free(f->name_conds.v[i]);
    }
    free(f->name_conds.v);
    memset(&f->name_conds, 0, sizeof(f->name_conds));
}

/* s as an OTTL string literal into b. */
static void quote(struct otc_buf *b, const char *s)
{
    otc_buf_add(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            otc_buf_add(b, "\\", 1);
        }
        if (*s == '\n') {
            otc_buf_add(b, "\\n", 2);
            continue;
        }
        otc_buf_add(b, s, 1);
    }
    otc_buf_add(b, "\"", 1);
}

/* metrics.include / metrics.exclude as one metric-context drop condition
 * each: not (any name matches) / any name matches. */
static int filter_names(struct filter_ctx *f, char *err, size_t errlen)
{
    for (int k = 0; k < N_COUNT; k++) {
        struct otc_buf b;
        char **grown;

        if (!f->name_src[k].n && !f->name_match[k]) {
            continue;
        }
        if (!f->name_match[k] || !f->name_src[k].n) {
            snprintf(err, errlen, "%s: needs match_type (strict or regexp) and metric_names",
                     name_keys[k]);
            return OTC_EINVAL;
        }
        if (f->legacy_src[L_METRIC].n || f->legacy_src[L_DATAPOINT].n || f->flat_src[OTC_METRICS].n) {
            snprintf(err, errlen, "%s: cannot be used with OTTL metric conditions", name_keys[k]);
            return OTC_EINVAL;
        }
        otc_buf_init(&b);
        otc_buf_addf(&b, "%s(", k == N_INCLUDE ? "not " : "");
        for (size_t i = 0; i < f->name_src[k].n; i++) {
            if (i) {
                otc_buf_add(&b, " or ", 4);
            }
            if (f->name_match[k] == 1) {
                otc_buf_add(&b, "name == ", 8);
                quote(&b, f->name_src[k].v[i]);
            } else {
                otc_buf_add(&b, "IsMatch(name, ", 14);
                quote(&b, f->name_src[k].v[i]);
                otc_buf_add(&b, ")", 1);
            }
        }
        otc_buf_add(&b, ")", 1);
        if (b.oom || !(grown = realloc(f->name_conds.v, (f->name_conds.n + 1) * sizeof(*grown)))) {
            otc_buf_free(&b);
            return OTC_ENOMEM;
        }
        f->name_conds.v = grown;
        f->name_conds.v[f->name_conds.n++] = b.data; /* the buffer's text, now owned here */
    }
    return OTC_OK;
}

static int filter_compile(struct filter_ctx *f, char *err, size_t errlen)
{
    int rc;

    if ((rc = filter_names(f, err, errlen)) != OTC_OK) {
        return rc;
    }
    if (f->name_conds.n) {
        if ((rc = otc_ottl_list_compile(&f->name_conds, "metrics.include/exclude", OTC_METRICS,
                                        true, OTC_OTTL_METRIC, &f->name_list, err, errlen)) != OTC_OK) {
            return rc;
        }
        f->passes[OTC_METRICS][f->n_passes[OTC_METRICS]++] = (struct filter_pass){
            .ctx = OTC_OTTL_METRIC, .list = &f->name_list, .first = 0, .n = f->name_list.n,
        };
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
            for (size_t e = p->first; e < p->first + p->n; e++) {
                for (int c = 0; c < OTC_OTTL_CTX_COUNT; c++) {
                    struct otc_ottl_keyset *ks = &f->keys[s][c];
                    const char *const *k;
                    size_t n;
                    if (!otc_ottl_attr_keys(p->list->v[e].o, (enum otc_ottl_ctx)c, &k, &n)) {
                        ks->all = true;
                        continue;
                    }
                    for (size_t j = 0; j < n; j++) {
                        const char **v = realloc(ks->v, (ks->n + 1) * sizeof(*v));
                        size_t *len;
                        if (!v) {
                            return OTC_ENOMEM;
                        }
                        ks->v = v;
                        if (!(len = realloc(ks->len, (ks->n + 1) * sizeof(*len)))) {
                            return OTC_ENOMEM;
                        }
                        ks->len = len;
                        ks->v[ks->n] = k[j];
                        ks->len[ks->n++] = strlen(k[j]);
                    }
                }
            }
        }
    }
    return OTC_OK;
}

static int filter_validate(const void *vctx, char *err, size_t errlen)
{
    struct filter_ctx *f = calloc(1, sizeof(*f));
    int rc;

    if (!f) {
        return OTC_ENOMEM;
    }
    memcpy(f->legacy_src, ((const struct filter_ctx *)vctx)->legacy_src, sizeof(f->legacy_src));
    memcpy(f->flat_src, ((const struct filter_ctx *)vctx)->flat_src, sizeof(f->flat_src));
    memcpy(f->name_src, ((const struct filter_ctx *)vctx)->name_src, sizeof(f->name_src));
    memcpy(f->name_match, ((const struct filter_ctx *)vctx)->name_match, sizeof(f->name_match));
    rc = filter_compile(f, err, errlen);
    filter_destroy(f);
    free(f);
    return rc;
}

static int filter_init(struct otc_instance *ins, void *vctx)
{
    struct filter_ctx *f = vctx;
    char err[512];
    int rc = filter_compile(f, err, sizeof(err));

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

static int filter_visit(void *arg, struct otc_ottl_env *env)
{
    struct filter_run *r = arg;
    const struct filter_pass *p = r->p;

    for (size_t i = p->first; i < p->first + p->n; i++) {
        const struct otc_ottl_entry *e = &p->list->v[i];
        int mode = e->error_mode >= 0 ? e->error_mode : r->f->error_mode;
        bool yes = false;
        int rc = otc_ottl_eval(e->o, env, &yes, r->why, sizeof(r->why));

        if (rc != OTC_OK) {
            if (mode == OTC_OTTL_PROPAGATE) {
                return rc;
            }
            r->f->errors += mode == OTC_OTTL_IGNORE;
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

    if (f->keep_cap < items + 1) {
        uint8_t *k = realloc(f->keep, items + 1);
        if (!k) {
            return 0;
        }
        f->keep = k;
        f->keep_cap = items + 1;
    }
    w.keep = f->keep;
    w.cap = items;
    w.env.arena = &w.scratch;
    otc_arena_init(&w.scratch, b->raw_len / 2 + 256);
    *rc = otc_pb_walk(b->raw, b->raw_len, &v, &empty_groups);
    otc_arena_release(&w.scratch);
    if (*rc == OTC_EINVAL || *rc == OTC_ENOMEM || (*rc == OTC_OK && w.n != items)) {
        return 0; /* malformed for this reader, or miscounted: decode */
    }
    *out = b;
    if (*rc != OTC_OK) { /* error_mode propagate */
        return 1;
    }
    if (w.kept == items && !empty_groups) {
        return 1; /* untouched */
    }
    atomic_fetch_add(&ins->counters.dropped[b->signal], items - w.kept);
    if (w.kept == 0) {
        otc_batch_unref(b);
        *out = NULL;
        return 1;
    }
    if (!(*out = otc_batch_keep_items(b, w.keep, w.kept))) {
        atomic_fetch_add(&ins->counters.dropped[b->signal], w.kept);
        *rc = OTC_ENOMEM;
    }
    return 1;
}

static void filter_log_errors(struct otc_instance *ins, struct filter_ctx *f, const char *why)
{
    uint64_t now = otc_now_ns();

    if (f->errors && now - f->last_err_ns >= ERR_LOG_NS) {
        otc_log_warn(ins, "%llu condition evaluation(s) failed (error_mode ignore), last: %s",
                     (unsigned long long)f->errors, why);
        f->errors = 0;
        f->last_err_ns = now;
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
    .concurrent = false,
    .ctx_size = sizeof(struct filter_ctx),
    .config_map = filter_config,
    .validate = filter_validate,
    .init = filter_init,
    .start = NULL,
    .consume = filter_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = filter_destroy,
};
