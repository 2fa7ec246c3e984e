/* resource.c - the `resource` processor: otelcol-contrib's attribute actions
 * (insert, update, upsert, delete, hash, extract, convert) on the resource
 * attributes of every resource of a request, for traces, metrics and logs.
 * Config is checked and compiled on the main thread; batches are processed on
 * the pipeline worker thread, a read-only pass first, so a request whose
 * resources would not change goes on with its received bytes. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "otc/otc_attr_actions.h"
#include "otc/otc_pb_walk.h"
#include "resource.h"

typedef Opentelemetry__Proto__Resource__V1__Resource rp_resource;

struct resource_ctx {
    struct otc_cfg_list      attributes;
    struct otc_attr_actions *compiled;
};

static const struct otc_config_entry resource_config[] = {
    {OTC_CFG_LIST, "attributes", NULL, offsetof(struct resource_ctx, attributes), 0, 0, 0,
     OTC_CFG_SUB(&otc_attr_action_sub),
     "the actions, applied in order to each resource's attributes (required); the options of "
     "an action are the attributes processor's"},
    OTC_CFG_END,
};

static int resource_validate(const void *vctx, char *err, size_t errlen)
{
    const struct resource_ctx *c = vctx;
    struct otc_attr_actions *a;
    int rc;

    if (!c->attributes.n) {
        snprintf(err, errlen, "attributes: missing required field \"attributes\"");
        return OTC_EINVAL;
    }
    rc = otc_attr_actions_compile(&c->attributes, "attributes", &a, err, errlen);
    otc_attr_actions_free(a);
    return rc;
}

static void resource_destroy(void *vctx)
{
    struct resource_ctx *c = vctx;

    otc_attr_actions_free(c->compiled);
    c->compiled = NULL;
}

static int resource_init(struct otc_instance *ins, void *vctx)
{
    struct resource_ctx *c = vctx;
    char err[256];
    int rc = otc_attr_actions_compile(&c->attributes, "attributes", &c->compiled, err, sizeof(err));

    if (rc != OTC_OK) {
        otc_log_err(ins, "%s", err);
    }
    return rc;
}

#define RP_SLOT(p, off) ((rp_resource **)((char *)(p) + (off)))

/* Every resource container of the request; arena NULL: read-only, true at
 * the first resource the actions would change. A container without a
 * Resource gets one when the actions add to it (otelcol's pdata has an
 * empty resource there). */
static bool rp_pass(struct otc_attr_actions *a, enum otc_signal s, ProtobufCMessage *req,
                    struct otc_arena *arena, int *rc)
{
    const struct otc_msg_layout *L = otc_msg_layout(s);
    size_t n = *(size_t *)((char *)req + L->req_n);
    void **v = *(void ***)((char *)req + L->req_v);

    for (size_t i = 0; i < n; i++) {
        rp_resource **slot = RP_SLOT(v[i], L->res_msg), *r = *slot;
        otc_key_value **kvs = r ? r->attributes : NULL;
        size_t nk = r ? r->n_attributes : 0;

        if (!arena) {
            if (otc_attr_actions_would_change(a, kvs, nk)) {
                return true;
            }
            continue;
        }
        if (!otc_attr_actions_would_change(a, kvs, nk)) {
            continue;
        }
        if (!r) {
            if (!(r = otc_arena_alloc(arena, sizeof(*r)))) {
                *rc = OTC_ENOMEM;
                return true;
            }
            opentelemetry__proto__resource__v1__resource__init(r);
            *slot = r;
        }
        if ((*rc = otc_attr_actions_apply(a, arena, &r->attributes, &r->n_attributes)) != OTC_OK) {
            return true;
        }
    }
    return false;
}

static int resource_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct resource_ctx *c = vctx;
    enum otc_signal s = b->signal;
    size_t items = b->items;
    const ProtobufCMessage *msg;
    ProtobufCMessage *mut;
    int rc = OTC_OK;

    /* The read-only pass only reads through the pointers it is given. */
    if (!c->compiled || !(msg = otc_batch_msg(b)) ||
        !rp_pass(c->compiled, s, (ProtobufCMessage *)msg, NULL, &rc)) {
        return otc_next(ins, b);
    }
    b = otc_batch_writable(b);
    if (!b || !(mut = otc_batch_msg_mut(b))) {
        otc_batch_unref(b);
        atomic_fetch_add(&ins->counters.dropped[s], items);
        return OTC_ENOMEM;
    }
    rp_pass(c->compiled, s, mut, &b->arena, &rc);
    if (rc != OTC_OK) {
        otc_batch_unref(b);
        atomic_fetch_add(&ins->counters.dropped[s], items);
        return rc;
    }
    return otc_next(ins, b);
}

const struct otc_component_ops otc_processor_resource_ops = {
    .type = "resource",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = true,
    .concurrent = false,
    .ctx_size = sizeof(struct resource_ctx),
    .config_map = resource_config,
    .validate = resource_validate,
    .init = resource_init,
    .start = NULL,
    .consume = resource_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = resource_destroy,
    .validate_signal = NULL,
};
