/* truncate.c - the `truncate` processor: cuts string attribute values (also
 * inside arrays and kvlists, and optionally string log bodies) to
 * max_value_length bytes without splitting a UTF-8 sequence, and keeps the
 * first max_attributes attributes of each set, counting the others in
 * dropped_attributes_count. A read-only scan comes first, so a batch within the
 * limits keeps its received bytes. Runs on the pipeline worker thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "processor/truncate/attr_limits.h"
#include "processor/truncate/truncate.h"

struct truncate_ctx {
    int64_t max_value_length; /* bytes; 0 = no limit */
    int64_t max_attributes;   /* per attribute set; 0 = no limit */
    bool    log_body;
    size_t  max_len;          /* the two limits as the helpers take them */
    size_t  max_attrs;
};

#define OFF(f) offsetof(struct truncate_ctx, f)

static const struct otc_config_entry truncate_config[] = {
    {OTC_CFG_INT, "max_value_length", "4096", OFF(max_value_length), OTC_CFG_F_MIN, 0, 0, NULL,
     "longest string attribute value in bytes, also inside arrays and kvlists; cut at a UTF-8 "
     "character boundary (0 = no limit)"},
    {OTC_CFG_INT, "max_attributes", "0", OFF(max_attributes), OTC_CFG_F_MIN, 0, 0, NULL,
     "attributes kept per attribute set (the first ones); the others are dropped and counted in "
     "dropped_attributes_count (0 = no limit)"},
    {OTC_CFG_BOOL, "log_body", "false", OFF(log_body), 0, 0, 0, NULL,
     "also cut string log bodies (and strings nested in array or kvlist bodies)"},
    OTC_CFG_END,
};

static int truncate_init(struct otc_instance *ins, void *vctx)
{
    struct truncate_ctx *t = vctx;

    t->max_len = t->max_value_length > 0 ? (size_t)t->max_value_length : OTC_ATTR_NO_LIMIT;
    t->max_attrs = t->max_attributes > 0 ? (size_t)t->max_attributes : OTC_ATTR_NO_LIMIT;
    return OTC_OK;
}

/* Read-only: stops the walk at the first set over a limit. */
static bool truncate_over(void *arg, const struct otc_attr_set *set)
{
    const struct truncate_ctx *t = arg;

    if (set->ctx == OTC_ACTX_LOG_BODY) {
        return otc_value_over(set->body, t->max_len, true);
    }
    return otc_attrs_over(*set->kvs, *set->n, t->max_len, t->max_attrs, true);
}

static bool truncate_apply(void *arg, const struct otc_attr_set *set)
{
    const struct truncate_ctx *t = arg;

    if (set->ctx == OTC_ACTX_LOG_BODY) {
        otc_value_cut(set->body, t->max_len, true);
    } else {
        otc_attrs_apply(*set->kvs, set->n, set->dropped, t->max_len, t->max_attrs, true);
    }
    return false;
}

static int truncate_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct truncate_ctx *t = vctx;
    enum otc_signal s = b->signal;
    size_t items = b->items;
    const ProtobufCMessage *msg = otc_batch_msg(b);
    ProtobufCMessage *mut;

    /* The walk hands out writable pointers; the scan callback only reads. */
    if (!msg || !otc_attr_walk(s, (ProtobufCMessage *)msg, t->log_body, truncate_over, t)) {
        return otc_next(ins, b);
    }
    b = otc_batch_writable(b);
    if (!b || !(mut = otc_batch_msg_mut(b))) {
        otc_batch_unref(b);
        atomic_fetch_add(&ins->counters.dropped[s], items);
        return OTC_ENOMEM;
    }
    otc_attr_walk(s, mut, t->log_body, truncate_apply, t);
    return otc_next(ins, b);
}

const struct otc_component_ops otc_processor_truncate_ops = {
    .type = "truncate",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = true,
    .concurrent = false,
    .ctx_size = sizeof(struct truncate_ctx),
    .config_map = truncate_config,
    .validate = NULL,
    .init = truncate_init,
    .start = NULL,
    .consume = truncate_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = NULL,
};
