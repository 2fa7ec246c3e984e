/* transform.c - the `transform` processor: otelcol's transform processor on
 * the OTTL core (otc_ottl.h). trace_statements, metric_statements and
 * log_statements in the flat form (paths with their context prefix, the
 * statement runs in the narrowest context they name) or grouped under a
 * `context` with `conditions`, each statement run over every item of its
 * context in order, with error_mode. Statements are compiled on the main
 * thread; batches are processed on the pipeline's workers, several at once
 * (a compiled statement is read-only; the error count is atomic). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_ottl.h"
#include "transform.h"

#define ERR_LOG_NS 1000000000ull /* at most one run-time error line a second */

struct transform_ctx {
    int                  error_mode;
    struct otc_strlist   statements[OTC_SIGNAL_COUNT]; /* trace_, metric_, log_statements */
    struct otc_ottl_list compiled[OTC_SIGNAL_COUNT];
    atomic_uint_fast64_t last_err_ns;
    atomic_uint_fast64_t errors; /* since the last error line */
};

static const char *const list_names[OTC_SIGNAL_COUNT] = {
    "trace_statements", "metric_statements", "log_statements",
};

#define OFF(f) offsetof(struct transform_ctx, f)

static const struct otc_config_entry transform_config[] = {
    {OTC_CFG_ENUM, "error_mode", "propagate", OFF(error_mode), 0, 0, 0, otc_ottl_error_modes,
     "what a statement that fails at run time does: propagate (the batch is dropped and the "
     "error returned), ignore (logged, the next statement runs) or silent"},
    {OTC_CFG_STRLIST, "trace_statements", NULL, OFF(statements[OTC_TRACES]), OTC_CFG_F_OTTL, 0, 0,
     NULL,
     "OTTL statements on traces: flat strings whose paths name their context (resource, scope, "
     "span, spanevent), or groups {context, conditions, statements, error_mode} whose paths may "
     "omit it. Editors: set, delete_key, delete_matching_keys, keep_keys, keep_matching_keys, "
     "replace_pattern, replace_all_patterns, replace_match, truncate_all, limit, merge_maps; "
     "converters: IsMatch, Concat, Int, String, SHA256, Len"},
    {OTC_CFG_STRLIST, "metric_statements", NULL, OFF(statements[OTC_METRICS]), OTC_CFG_F_OTTL, 0,
     0, NULL, "OTTL statements on metrics, as trace_statements, with contexts resource, scope, "
     "metric and datapoint"},
    {OTC_CFG_STRLIST, "log_statements", NULL, OFF(statements[OTC_LOGS]), OTC_CFG_F_OTTL, 0, 0,
     NULL, "OTTL statements on logs, as trace_statements, with contexts resource, scope and log"},
    OTC_CFG_END,
};

static int transform_validate(const void *vctx, char *err, size_t errlen)
{
    const struct transform_ctx *t = vctx;

    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        struct otc_ottl_list l;
        int rc = otc_ottl_list_compile(&t->statements[s], list_names[s], (enum otc_signal)s, false,
                                       OTC_OTTL_CTX_INFER, &l, err, errlen);
        if (rc != OTC_OK) {
            return rc;
        }
        otc_ottl_list_free(&l);
    }
    return OTC_OK;
}

static void transform_destroy(void *vctx)
{
    struct transform_ctx *t = vctx;

    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        otc_ottl_list_free(&t->compiled[s]);
    }
}

static int transform_init(struct otc_instance *ins, void *vctx)
{
    struct transform_ctx *t = vctx;
    char err[512];

    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        int rc = otc_ottl_list_compile(&t->statements[s], list_names[s], (enum otc_signal)s, false,
                                       OTC_OTTL_CTX_INFER, &t->compiled[s], err, sizeof(err));
        if (rc != OTC_OK) {
            otc_log_err(ins, "%s", err);
            transform_destroy(t);
            return rc;
        }
    }
    return OTC_OK;
}

/* One statement over every item of its context. */
struct tf_run {
    struct otc_instance         *ins;
    struct transform_ctx        *t;
    const struct otc_ottl_list  *l;
    const struct otc_ottl_entry *e;
    bool                         changed;
    bool                         failed; /* propagate: the batch fails */
    char                         why[256];
};

static int tf_visit(void *arg, struct otc_ottl_env *env)
{
    struct tf_run *r = arg;
    int mode = r->e->error_mode >= 0 ? r->e->error_mode : r->t->error_mode;
    bool yes;
    int rc = otc_ottl_entry_applies(r->l, r->e, env, &yes, r->why, sizeof(r->why));

    if (rc == OTC_OK && yes) {
        rc = otc_ottl_exec(r->e->o, env, &r->changed, r->why, sizeof(r->why));
    }
    if (rc == OTC_ENOMEM) {
        return rc;
    }
    if (rc != OTC_OK) {
        if (mode == OTC_OTTL_PROPAGATE) {
            r->failed = true;
            return rc;
        }
        if (mode == OTC_OTTL_IGNORE) {
            atomic_fetch_add_explicit(&r->t->errors, 1, memory_order_relaxed);
        }
    }
    return OTC_OTTL_KEEP;
}

static void tf_log_errors(struct otc_instance *ins, struct transform_ctx *t, const char *why)
{
    uint64_t now = otc_now_ns(), last = atomic_load(&t->last_err_ns);

    if (atomic_load_explicit(&t->errors, memory_order_relaxed) && now - last >= ERR_LOG_NS &&
        atomic_compare_exchange_strong(&t->last_err_ns, &last, now)) {
        otc_log_warn(ins, "%llu statement evaluation(s) failed (error_mode ignore), last: %s",
                     (unsigned long long)atomic_exchange(&t->errors, 0), why);
    }
}

static int transform_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct transform_ctx *t = vctx;
    enum otc_signal s = b->signal;
    const struct otc_ottl_list *l = &t->compiled[s];
    struct tf_run r = {.ins = ins, .t = t, .l = l};
    size_t items = b->items;
    ProtobufCMessage *msg;

    if (l->n == 0 || !otc_batch_msg(b)) {
        return otc_next(ins, b);
    }
    /* Statements write in place: a shared batch is copied first. The bytes are
     * marked stale only when a statement changed something. */
    if (atomic_load(&b->refs) > 1 && !(b = otc_batch_writable(b))) {
        atomic_fetch_add(&ins->counters.dropped[s], items);
        return OTC_ENOMEM;
    }
    msg = (ProtobufCMessage *)otc_batch_msg(b);
    for (size_t i = 0; i < l->n; i++) {
        struct otc_ottl_walk w = {
            .ctx = otc_ottl_context(l->v[i].o), .arena = &b->arena, .make_heads = true,
            .fn = tf_visit, .arg = &r,
        };
        int rc;

        r.e = &l->v[i];
        if ((rc = otc_ottl_walk(s, msg, &w)) != OTC_OK) {
            otc_log_err(ins, "%s[%zu]: %s", list_names[s], i,
                        rc == OTC_ENOMEM ? "out of memory" : r.why);
            otc_batch_unref(b);
            atomic_fetch_add(&ins->counters.dropped[s], items);
            return rc;
        }
    }
    tf_log_errors(ins, t, r.why);
    if (r.changed) {
        otc_batch_msg_mut(b);
    }
    return otc_next(ins, b);
}

const struct otc_component_ops otc_processor_transform_ops = {
    .type = "transform",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = true,
    .concurrent = true,
    .ctx_size = sizeof(struct transform_ctx),
    .config_map = transform_config,
    .validate = transform_validate,
    .init = transform_init,
    .start = NULL,
    .consume = transform_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = transform_destroy,
};
