/* resource.c - the `resource` processor: otelcol-contrib's attribute actions
 * (insert, update, upsert, delete, hash, extract, convert) on the resource
 * attributes of every resource of a request, for traces, metrics and logs.
 * Config is checked and compiled on the main thread; batches are processed on
 * the pipeline worker thread, a read-only pass first, so a request whose
 * resources would not change goes on with its received bytes. An undecoded
 * request is not decoded: only its Resource messages are, and the request's
 * bytes are rewritten with the changed ones, everything else copied as it
 * arrived. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

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

/* ------------------------------------------------ undecoded requests */

/* Every Export*ServiceRequest holds its Resource* containers in field 1, and
 * every container its Resource in field 1. */
#define RP_FIELD 1
#define RP_TAG   0x0a /* field 1, length-delimited */

struct rp_new {          /* a container whose Resource changes */
    size_t   index;      /* among the request's containers */
    uint8_t *res;        /* the new Resource, serialized */
    size_t   res_len;
    size_t   len;        /* the new container's length */
};

struct rp_wire {
    struct rp_new *v;
    size_t         n, cap;
};

static size_t rp_varint_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *rp_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* The container's Resource bytes (*res NULL when it has none); false when the
 * container is malformed or holds field 1 twice (unpack would merge them). */
static bool rp_find_resource(const uint8_t *p, size_t len, const uint8_t **res, size_t *res_len,
                             size_t *field_len)
{
    const uint8_t *end = p + len, *at;
    struct otc_pb_field f;
    int r;

    *res = NULL;
    *res_len = *field_len = 0;
    for (at = p; (r = otc_pb_next_field(&p, end, &f)) > 0; at = p) {
        if (f.num == RP_FIELD) {
            if (*res || f.wt != 2) {
                return false;
            }
            *res = f.p;
            *res_len = f.len;
            *field_len = (size_t)(p - at);
        }
    }
    return r == 0;
}

/* Decide, container by container, which Resources change (in tmp). 1: some
 * do, 0: none, -1: read the request decoded instead (malformed or unusual). */
static int rp_wire_plan(struct otc_attr_actions *a, const struct otc_batch *b,
                        struct otc_arena *tmp, struct rp_wire *w, size_t *out_len)
{
    const uint8_t *p = b->raw, *end = b->raw + b->raw_len, *at;
    struct otc_pb_field f;
    size_t index = 0, total = b->raw_len;
    int r;

    for (at = p; (r = otc_pb_next_field(&p, end, &f)) > 0; at = p) {
        const uint8_t *res;
        size_t res_len, field_len;
        rp_resource *rr = NULL;
        otc_key_value **kvs = NULL;
        size_t nk = 0;
        struct rp_new *x;

        if (f.num != RP_FIELD) {
            continue;
        }
        if (f.wt != 2 || !rp_find_resource(f.p, f.len, &res, &res_len, &field_len)) {
            return -1;
        }
        if (res && !(rr = opentelemetry__proto__resource__v1__resource__unpack(&tmp->pb, res_len,
                                                                              res))) {
            return -1;
        }
        if (rr) {
            kvs = rr->attributes;
            nk = rr->n_attributes;
        }
        if (!otc_attr_actions_would_change(a, kvs, nk)) {
            index++;
            continue;
        }
        if (!rr) {
            if (!(rr = otc_arena_alloc(tmp, sizeof(*rr)))) {
                return -1;
            }
            opentelemetry__proto__resource__v1__resource__init(rr);
        }
        if (otc_attr_actions_apply(a, tmp, &rr->attributes, &rr->n_attributes) != OTC_OK) {
            return -1;
        }
        if (w->n == w->cap) {
            size_t cap = w->cap ? 2 * w->cap : 8;
            struct rp_new *v = otc_arena_alloc(tmp, cap * sizeof(*v));
            if (!v) {
                return -1;
            }
            if (w->n) {
                memcpy(v, w->v, w->n * sizeof(*v));
            }
            w->v = v;
            w->cap = cap;
        }
        x = &w->v[w->n++];
        x->index = index++;
        x->res_len = protobuf_c_message_get_packed_size(&rr->base);
        if (!(x->res = otc_arena_alloc(tmp, x->res_len ? x->res_len : 1))) {
            return -1;
        }
        protobuf_c_message_pack(&rr->base, x->res);
        x->len = f.len - field_len + 1 + rp_varint_len(x->res_len) + x->res_len;
        total = total - (size_t)(p - at) + 1 + rp_varint_len(x->len) + x->len;
    }
    if (r < 0) {
        return -1;
    }
    *out_len = total;
    return w->n ? 1 : 0;
}

/* otc_batch_rewrite's writer: the request with the planned containers
 * rewritten, every other byte as it was. */
static size_t rp_wire_write(void *arg, const struct otc_batch *b, uint8_t *dst)
{
    const struct rp_wire *w = arg;
    const uint8_t *p = b->raw, *end = b->raw + b->raw_len, *at;
    uint8_t *o = dst;
    struct otc_pb_field f;
    size_t index = 0, next = 0;
    int r;

    for (at = p; (r = otc_pb_next_field(&p, end, &f)) > 0; at = p) {
        const struct rp_new *x = next < w->n ? &w->v[next] : NULL;
        const uint8_t *q, *qend, *qat;
        struct otc_pb_field g;

        if (f.num != RP_FIELD || !x || x->index != index++) {
            memcpy(o, at, (size_t)(p - at));
            o += p - at;
            continue;
        }
        next++;
        *o++ = RP_TAG;
        o = rp_varint(o, x->len);
        *o++ = RP_TAG;
        o = rp_varint(o, x->res_len);
        memcpy(o, x->res, x->res_len);
        o += x->res_len;
        q = f.p;
        qend = f.p + f.len;
        for (qat = q; otc_pb_next_field(&q, qend, &g) > 0; qat = q) {
            if (g.num != RP_FIELD) {
                memcpy(o, qat, (size_t)(q - qat));
                o += q - qat;
            }
        }
    }
    return r < 0 ? SIZE_MAX : (size_t)(o - dst);
}

/* 1: b was handled on the wire (passed on, or dropped: *rc says), 0: read it
 * decoded instead. */
static int rp_consume_wire(struct otc_instance *ins, struct resource_ctx *c, struct otc_batch *b,
                           int *rc)
{
    struct otc_arena tmp;
    struct rp_wire w = {0};
    enum otc_signal s = b->signal;
    size_t items = b->items, len = 0;
    int plan;

    otc_arena_init(&tmp, 4096);
    plan = rp_wire_plan(c->compiled, b, &tmp, &w, &len);
    if (plan < 0) {
        otc_arena_release(&tmp);
        return 0;
    }
    if (plan > 0 && !(b = otc_batch_rewrite(b, len, rp_wire_write, &w))) {
        otc_arena_release(&tmp);
        atomic_fetch_add(&ins->counters.dropped[s], items);
        *rc = OTC_ENOMEM;
        return 1;
    }
    otc_arena_release(&tmp);
    *rc = otc_next(ins, b);
    return 1;
}

/* ------------------------------------------------------------- consume */

static int resource_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct resource_ctx *c = vctx;
    enum otc_signal s = b->signal;
    size_t items = b->items;
    const ProtobufCMessage *msg;
    ProtobufCMessage *mut;
    int rc = OTC_OK;

    if (c->compiled && !otc_batch_is_decoded(b) && rp_consume_wire(ins, c, b, &rc)) {
        return rc;
    }
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
    .concurrent = true, /* compiled once, read-only; match data is per thread */
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
