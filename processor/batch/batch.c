/* batch.c - the `batch` processor (otelcol-compatible): holds incoming batches until
 * send_batch_size items are pending or `timeout` has passed since the oldest arrived,
 * then sends them, in order, in requests of at most send_batch_max_size items.
 * Undecoded inputs stay undecoded: consecutive ones leave as the concatenation of their
 * bytes (a request is one repeated resource field, so that is the request with all
 * their resources; as in otelcol, equal resources are not merged); only one above
 * send_batch_max_size is decoded, to be split. Decoded inputs become one request in
 * which items of equal resource and scope share one ResourceX/ScopeX, pointing at the
 * items inside the inputs, which it adopts: no item is copied. Runs on the pipeline's
 * workers, several at once: one lock keeps the pending data, and what it sends goes
 * on in order, while it is held. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "otc/otc_otlp.h"
#include "otc/otc_pb_walk.h"
#include "batch.h"

/* ------------------------------------------------------------ layouts */

/* The three requests share one shape: request -> resources[] -> scopes[] ->
 * items[]; the traversal layer's layout (otc_msg_layout) lets one walker and
 * one builder serve all of them. */

#define BT_N(p, off)   (*(size_t *)((char *)(p) + (off)))
#define BT_V(p, off)   (*(void ***)((char *)(p) + (off)))
#define BT_MSG(p, off) (*(ProtobufCMessage **)((char *)(p) + (off)))
#define BT_STR(p, off) (*(char **)((char *)(p) + (off)))

/* Every metric data type starts with base, n_data_points, data_points (the
 * traversal layer checks it): any member of a Metric's data is read as this. */
typedef Opentelemetry__Proto__Metrics__V1__Gauge bt_points;

/* ---------------------------------------------------------------- state */

/* One pending input batch and how far its items have been sent. */
struct bt_bin {
    struct otc_batch *b;
    uint64_t          arrival_ns;
    size_t            n;          /* its items, counted when it arrived */
    bool              raw;        /* undecoded and untouched: sent as its bytes */
    size_t            ri, si, ii; /* next resource, scope, item */
    size_t            off;        /* metrics: points of item ii already sent */
};

struct bt_pending {
    struct bt_bin *bins;  /* [head, n) pending, oldest first */
    size_t         head, n, cap;
    size_t         items; /* spans, data points or log records not yet sent */
};

/* Output groups of the request being built: one per resource, one per
 * (resource, scope), in order of first appearance. */
struct bt_rgroup {
    const void *rs;   /* first input container: copied for the output */
    size_t      n_sg;
    void       *out;
};

struct bt_sgroup {
    const void *ss;
    size_t      rg;
    size_t      n;
    void       *out;
};

struct bt_item {
    void  *p;
    size_t g;
};

struct bt_map_slot {
    uint64_t lo, hi;
    uint32_t gen;     /* slot in use when equal to the map user's generation */
    uint32_t idx;
};

struct bt_map {
    struct bt_map_slot *s;
    size_t              mask;
    size_t              used;
};

struct batch_ctx {
    int64_t           send_batch_size;
    int64_t           send_batch_max_size;
    int64_t           timeout_ns;
    struct otc_strlist metadata_keys;        /* accepted; see the table */
    int64_t           metadata_cardinality_limit;
    bool              downstream_mutates; /* a later stage writes into requests */
    struct bt_pending pend[OTC_SIGNAL_COUNT];
    /* scratch of the request being built, reused from send to send */
    struct bt_rgroup *rg;
    size_t            n_rg, cap_rg;
    struct bt_sgroup *sg;
    size_t            n_sg, cap_sg;
    struct bt_item   *it;
    size_t            n_it, cap_it;
    struct bt_map     rmap, smap;
    uint32_t          gen;
    uint8_t          *pk;     /* packed resource or scope */
    size_t            pk_cap;
    struct otc_arena  out;    /* arena of the request being built */
    bool              out_live;
    const void       *last_rs;
    XXH128_hash_t     last_rkey;
    size_t            last_rg;
    size_t            pairs;    /* (resource, scope) containers that gave items */
    size_t            res_seen; /* resource containers that gave items */
    size_t            taken;    /* items taken into the request */
    bool              failed;   /* out of memory while building */
    uint64_t          last_err_s;
    /* self-telemetry, as otelcol's batch processor names it */
    struct otc_metric m_send_size, m_size_trigger, m_timeout_trigger, m_cardinality;
    pthread_mutex_t   lock;     /* everything above, between the pipeline's workers */
    bool              lock_ready;
};

#define OFF(f) offsetof(struct batch_ctx, f)

static const struct otc_config_entry batch_config[] = {
    {OTC_CFG_INT, "send_batch_size", "8192", OFF(send_batch_size), OTC_CFG_F_MIN, 0, 0, NULL,
     "items (spans, data points, log records) pending that trigger a send; not a size cap"},
    {OTC_CFG_INT, "send_batch_max_size", "0", OFF(send_batch_max_size), OTC_CFG_F_MIN, 0, 0, NULL,
     "upper bound of items in one sent request, larger ones are split (0 = no bound)"},
    {OTC_CFG_DURATION, "timeout", "200ms", OFF(timeout_ns), OTC_CFG_F_MIN, 0, 0, NULL,
     "pending items are sent at most this long after the oldest arrived (0 = at once)"},
    {OTC_CFG_STRLIST, "metadata_keys", NULL, OFF(metadata_keys), 0, 0, 0, NULL,
     "accepted, no effect: otelcol batches separately per value of these client metadata "
     "keys; otelc's receivers keep no client metadata (include_metadata), so all data is "
     "one group, as otelcol's is when the keys are absent"},
    {OTC_CFG_INT, "metadata_cardinality_limit", "1000", OFF(metadata_cardinality_limit),
     OTC_CFG_F_MIN, 0, 0, NULL,
     "accepted, no effect: the most metadata_keys value combinations otelcol batches apart"},
    OTC_CFG_END,
};

/* ------------------------------------------------------------ config */

static int batch_validate(const void *vctx, char *err, size_t errlen)
{
    const struct batch_ctx *x = vctx;

    if (x->send_batch_max_size > 0 && x->send_batch_max_size < x->send_batch_size) {
        snprintf(err, errlen, "\"send_batch_max_size\" must be greater or equal to \"send_batch_size\"");
        return OTC_EINVAL;
    }
    return OTC_OK;
}

/* ------------------------------------------------------- self-telemetry */

static const double send_size_bounds[] = {10, 25, 50, 75, 100, 250, 500, 750, 1000, 2000, 3000,
                                          4000, 5000, 6000, 7000, 8000, 9000, 10000, 20000,
                                          30000, 50000, 100000};

static int batch_metrics_register(struct otc_instance *ins, struct batch_ctx *x)
{
    static const char scope[] = "go.opentelemetry.io/collector/processor/batchprocessor";

    x->m_send_size = (struct otc_metric){
        .name = "otelcol_processor_batch_batch_send_size", .unit = "{units}", .scope = scope,
        .help = "Number of units in the batch", .kind = OTC_METRIC_HISTOGRAM,
        .bounds = send_size_bounds, .n_bounds = sizeof(send_size_bounds) / sizeof(send_size_bounds[0])};
    x->m_size_trigger = (struct otc_metric){
        .name = "otelcol_processor_batch_batch_size_trigger_send", .unit = "{times}", .scope = scope,
        .help = "Number of times the batch was sent due to a size trigger", .kind = OTC_METRIC_COUNTER};
    x->m_timeout_trigger = (struct otc_metric){
        .name = "otelcol_processor_batch_timeout_trigger_send", .unit = "{times}", .scope = scope,
        .help = "Number of times the batch was sent due to a timeout trigger", .kind = OTC_METRIC_COUNTER};
    x->m_cardinality = (struct otc_metric){
        .name = "otelcol_processor_batch_metadata_cardinality", .unit = "{combinations}", .scope = scope,
        .help = "Number of distinct metadata value combinations being processed", .kind = OTC_METRIC_GAUGE};
    otc_metric_set(&x->m_cardinality, 1); /* one batcher: no metadata_keys */
    if (otc_metric_register(ins, &x->m_send_size) != OTC_OK ||
        otc_metric_register(ins, &x->m_size_trigger) != OTC_OK ||
        otc_metric_register(ins, &x->m_timeout_trigger) != OTC_OK ||
        otc_metric_register(ins, &x->m_cardinality) != OTC_OK) {
        return OTC_EINVAL;
    }
    return OTC_OK;
}

/* A send caused by trigger took pending items from before to after. */
static void batch_metrics_sent(struct otc_metric *trigger, struct batch_ctx *x, size_t before,
                               size_t after)
{
    if (before > after) {
        otc_metric_add(trigger, 1);
        otc_metric_record(&x->m_send_size, before - after);
    }
}

static int batch_init(struct otc_instance *ins, void *vctx)
{
    struct batch_ctx *x = vctx;

    /* Outputs point into the input batches: when a later stage writes into
     * requests, inputs shared with other pipelines must be private copies. */
    x->downstream_mutates = otc_next_mutates(ins);
    pthread_mutex_init(&x->lock, NULL);
    x->lock_ready = true;
    return batch_metrics_register(ins, x);
}

/* --------------------------------------------------------------- helpers */

static bool grow(void **v, size_t *cap, size_t need, size_t size)
{
    size_t c = *cap ? *cap : 16;
    void *p;

    if (need <= *cap) {
        return true;
    }
    while (c < need) {
        c *= 2;
    }
    p = realloc(*v, c * size);
    if (!p) {
        return false;
    }
    *v = p;
    *cap = c;
    return true;
}

static void log_failure(struct otc_instance *ins, struct batch_ctx *x, size_t items,
                        enum otc_signal s)
{
    uint64_t now_s = otc_now_ns() / 1000000000u;

    atomic_fetch_add_explicit(&ins->counters.dropped[s], items, memory_order_relaxed);
    if (now_s != x->last_err_s) {
        x->last_err_s = now_s;
        otc_log_err(ins, "out of memory: dropped %zu %s", items, otc_signal_item_name(s));
    }
}

/* Find key in m (generation gen) or add it with idx; *found tells which. */
static bool map_get(struct bt_map *m, uint32_t gen, XXH128_hash_t k, uint32_t idx,
                    uint32_t *out, bool *found)
{
    size_t i;

    if ((m->used + 1) * 2 > m->mask + 1 || !m->s) {
        size_t n = m->s ? (m->mask + 1) * 2 : 64;
        struct bt_map_slot *s = calloc(n, sizeof(*s));
        if (!s) {
            return false;
        }
        for (size_t j = 0; m->s && j <= m->mask; j++) {
            if (m->s[j].gen == gen) {
                size_t h = m->s[j].lo & (n - 1);
                while (s[h].gen == gen) {
                    h = (h + 1) & (n - 1);
                }
                s[h] = m->s[j];
            }
        }
        free(m->s);
        m->s = s;
        m->mask = n - 1;
    }
    for (i = k.low64 & m->mask;; i = (i + 1) & m->mask) {
        struct bt_map_slot *s = &m->s[i];
        if (s->gen != gen) {
            s->lo = k.low64;
            s->hi = k.high64;
            s->gen = gen;
            s->idx = idx;
            m->used++;
            *out = idx;
            *found = false;
            return true;
        }
        if (s->lo == k.low64 && s->hi == k.high64) {
            *out = s->idx;
            *found = true;
            return true;
        }
    }
}

/* Hash of salt, the serialized message and a schema url. */
static bool group_key(struct batch_ctx *x, XXH128_hash_t salt, const ProtobufCMessage *m,
                      const char *schema, XXH128_hash_t *out)
{
    size_t mlen = m ? protobuf_c_message_get_packed_size(m) : 0;
    size_t slen = schema ? strlen(schema) : 0;
    size_t need = 16 + mlen + slen + sizeof(uint64_t);
    uint64_t sl = slen;

    if (!grow((void **)&x->pk, &x->pk_cap, need, 1)) {
        return false;
    }
    memcpy(x->pk, &salt.low64, 8);
    memcpy(x->pk + 8, &salt.high64, 8);
    if (m) {
        protobuf_c_message_pack(m, x->pk + 16);
    }
    if (slen) {
        memcpy(x->pk + 16 + mlen, schema, slen);
    }
    memcpy(x->pk + 16 + mlen + slen, &sl, sizeof(sl));
    *out = XXH3_128bits(x->pk, need);
    return true;
}

/* The output group of the items of scope container ss inside rs; -1 on ENOMEM. */
static long group_for(struct batch_ctx *x, const struct otc_msg_layout *L, const void *rs,
                      const void *ss)
{
    XXH128_hash_t zero = {0, 0}, skey;
    uint32_t idx;
    bool found;

    if (rs != x->last_rs) {
        XXH128_hash_t rkey;
        if (!group_key(x, zero, BT_MSG(rs, L->res_msg), BT_STR(rs, L->res_schema), &rkey) ||
            !grow((void **)&x->rg, &x->cap_rg, x->n_rg + 1, sizeof(*x->rg)) ||
            !map_get(&x->rmap, x->gen, rkey, (uint32_t)x->n_rg, &idx, &found)) {
            return -1;
        }
        if (!found) {
            x->rg[x->n_rg++] = (struct bt_rgroup){.rs = rs, .n_sg = 0, .out = NULL};
        }
        x->last_rs = rs;
        x->last_rkey = rkey;
        x->last_rg = idx;
        x->res_seen++;
    }
    x->pairs++;
    if (!group_key(x, x->last_rkey, BT_MSG(ss, L->scope_msg), BT_STR(ss, L->scope_schema), &skey) ||
        !grow((void **)&x->sg, &x->cap_sg, x->n_sg + 1, sizeof(*x->sg)) ||
        !map_get(&x->smap, x->gen, skey, (uint32_t)x->n_sg, &idx, &found)) {
        return -1;
    }
    if (!found) {
        x->sg[x->n_sg++] = (struct bt_sgroup){.ss = ss, .rg = x->last_rg, .n = 0, .out = NULL};
        x->rg[x->last_rg].n_sg++;
    }
    return idx;
}

static void out_arena(struct batch_ctx *x, size_t hint)
{
    if (!x->out_live) {
        otc_arena_init(&x->out, hint);
        x->out_live = true;
    }
}

/* A copy of metric m carrying only its points [off, off + k), in the output arena. */
static otc_metric *metric_slice(struct batch_ctx *x, const otc_metric *m, size_t off, size_t k)
{
    const ProtobufCMessage *data = (const ProtobufCMessage *)m->gauge; /* any member */
    otc_metric *c;
    bt_points *d;

    out_arena(x, 4096);
    c = otc_arena_memdup(&x->out, m, sizeof(*m));
    d = c ? otc_arena_memdup(&x->out, data, data->descriptor->sizeof_message) : NULL;
    if (!d) {
        return NULL;
    }
    d->data_points += off;
    d->n_data_points = k;
    c->gauge = d;
    return c;
}

/* --------------------------------------------------------------- sending */

/* Take items of bin into the request until budget is spent. True when the bin
 * has nothing left; false when the budget (or memory) ran out inside it. */
static bool walk_bin(struct batch_ctx *x, enum otc_signal s, struct bt_bin *bin, size_t *budget)
{
    const struct otc_msg_layout *L = otc_msg_layout(s);
    const ProtobufCMessage *msg = bin->b->msg;
    size_t n_res = BT_N(msg, L->req_n);
    void **res_v = BT_V(msg, L->req_v);

    for (; bin->ri < n_res; bin->ri++, bin->si = 0) {
        void *rs = res_v[bin->ri];
        size_t n_sc = BT_N(rs, L->res_n);
        void **sc_v = BT_V(rs, L->res_v);

        for (; bin->si < n_sc; bin->si++, bin->ii = 0) {
            void *ss = sc_v[bin->si];
            size_t n_it = BT_N(ss, L->scope_n);
            void **it_v = BT_V(ss, L->scope_v);
            long g = -1;

            while (bin->ii < n_it) {
                void *item = it_v[bin->ii];
                size_t w = (s == OTC_METRICS ? otc_metric_point_count(item) : 1) - bin->off;
                size_t k = w <= *budget ? w : *budget;

                if (w > 0 && k == 0) {
                    return false;
                }
                if (g < 0 && (g = group_for(x, L, rs, ss)) < 0) {
                    x->failed = true;
                    return false;
                }
                if (s == OTC_METRICS && (bin->off > 0 || k < w) &&
                    !(item = metric_slice(x, item, bin->off, k))) {
                    x->failed = true;
                    return false;
                }
                if (!grow((void **)&x->it, &x->cap_it, x->n_it + 1, sizeof(*x->it))) {
                    x->failed = true;
                    return false;
                }
                x->it[x->n_it++] = (struct bt_item){.p = item, .g = (size_t)g};
                x->sg[g].n++;
                *budget -= k;
                x->taken += k;
                if (k < w) {
                    bin->off += k;
                    return false;
                }
                bin->off = 0;
                bin->ii++;
            }
        }
    }
    return true;
}

static ProtobufCMessage *copy_msg(struct batch_ctx *x, const ProtobufCMessage *m)
{
    size_t n;

    if (!m) {
        return NULL;
    }
    n = protobuf_c_message_get_packed_size(m);
    if (!grow((void **)&x->pk, &x->pk_cap, n ? n : 1, 1)) {
        return NULL;
    }
    protobuf_c_message_pack(m, x->pk);
    return protobuf_c_message_unpack(m->descriptor, &x->out.pb, n, x->pk);
}

/* Build the request from the groups and items collected by walk_bin. */
static struct otc_batch *build(struct batch_ctx *x, enum otc_signal s)
{
    const struct otc_msg_layout *L = otc_msg_layout(s);
    const ProtobufCMessageDescriptor *rd = otc_request_descriptor(s);
    struct otc_arena *a = &x->out;
    struct otc_batch *b;
    void *req;
    void **rv;

    out_arena(x, 512 + rd->sizeof_message + x->n_rg * (L->res_size + 48) +
                 x->n_sg * (L->scope_size + 48) + x->n_it * sizeof(void *));
    req = otc_arena_alloc(a, rd->sizeof_message);
    rv = otc_arena_alloc(a, x->n_rg * sizeof(void *));
    if (!req || !rv) {
        return NULL;
    }
    protobuf_c_message_init(rd, req);
    for (size_t r = 0; r < x->n_rg; r++) {
        void *c = otc_arena_memdup(a, x->rg[r].rs, L->res_size);
        void **v = otc_arena_alloc(a, x->rg[r].n_sg * sizeof(void *));
        if (!c || !v) {
            return NULL;
        }
        BT_N(c, L->res_n) = 0;
        BT_V(c, L->res_v) = v;
        if (x->downstream_mutates && BT_MSG(c, L->res_msg) &&
            !(BT_MSG(c, L->res_msg) = copy_msg(x, BT_MSG(c, L->res_msg)))) {
            return NULL;
        }
        x->rg[r].out = c;
        rv[r] = c;
    }
    for (size_t g = 0; g < x->n_sg; g++) {
        void *c = otc_arena_memdup(a, x->sg[g].ss, L->scope_size);
        void **v = otc_arena_alloc(a, x->sg[g].n * sizeof(void *));
        void *parent = x->rg[x->sg[g].rg].out;
        if (!c || !v) {
            return NULL;
        }
        BT_N(c, L->scope_n) = 0;
        BT_V(c, L->scope_v) = v;
        if (x->downstream_mutates && BT_MSG(c, L->scope_msg) &&
            !(BT_MSG(c, L->scope_msg) = copy_msg(x, BT_MSG(c, L->scope_msg)))) {
            return NULL;
        }
        BT_V(parent, L->res_v)[BT_N(parent, L->res_n)++] = c;
        x->sg[g].out = c;
    }
    for (size_t i = 0; i < x->n_it; i++) {
        void *c = x->sg[x->it[i].g].out;
        BT_V(c, L->scope_v)[BT_N(c, L->scope_n)++] = x->it[i].p;
    }
    BT_N(req, L->req_n) = x->n_rg;
    BT_V(req, L->req_v) = rv;
    b = otc_batch_from_msg(s, a, req); /* moves the arena into b */
    if (b) {
        x->out_live = false;
    }
    return b;
}

static void drop_all(struct otc_instance *ins, struct batch_ctx *x, enum otc_signal s)
{
    struct bt_pending *p = &x->pend[s];

    if (ins) {
        log_failure(ins, x, p->items, s);
    }
    for (size_t i = p->head; i < p->n; i++) {
        otc_batch_unref(p->bins[i].b);
    }
    p->head = p->n = p->items = 0;
}

/* Do bins i and k go to the same exporters? Replayed requests that some
 * exporters have already are not merged with others: a merged request goes
 * to every exporter one of its inputs needs (otc_batch_merge_skip), so
 * merging them would send those exporters duplicates. */
static bool same_exporters(const struct bt_pending *p, size_t i, size_t k)
{
    return p->bins[i].b->skip_exporters == p->bins[k].b->skip_exporters;
}

/* Send the undecoded bins at the head whose items fit in budget (the head's
 * do) as one request: the first alone unchanged, several as one new batch of
 * their bytes one after the other. Durable inputs are adopted by it, so their
 * log records stay held until it is delivered; the others are freed. */
static void send_raw(struct otc_instance *ins, struct batch_ctx *x, enum otc_signal s, size_t budget)
{
    struct bt_pending *p = &x->pend[s];
    size_t first = p->head, end = first + 1, items = p->bins[first].n;
    size_t len = p->bins[first].b->raw_len;
    struct otc_batch *out = NULL;
    uint8_t *dst;
    bool ok = true;

    while (end < p->n && p->bins[end].raw && p->bins[end].n <= budget - items &&
           same_exporters(p, first, end)) {
        items += p->bins[end].n;
        len += p->bins[end].b->raw_len;
        end++;
    }
    if (end > first + 1 && (out = otc_batch_alloc_raw(s, len, &dst)) != NULL) {
        out->items = items;
        out->received_ns = p->bins[first].b->received_ns;
        for (size_t i = first; i < end; i++) {
            struct otc_batch *in = p->bins[i].b;

            memcpy(dst, in->raw, in->raw_len);
            dst += in->raw_len;
            otc_batch_merge_skip(out, in, i == first);
            p->bins[i].b = NULL;
            if (in->durable && ok) {
                ok = otc_batch_adopt(out, in) == OTC_OK;
            } else {
                otc_batch_unref(in);
            }
        }
    } else {
        /* one input, or no memory for the concatenation: the head leaves as it is */
        end = first + 1;
        items = p->bins[first].n;
        out = p->bins[first].b;
        p->bins[first].b = NULL;
    }
    p->head = end;
    p->items -= items;
    if (p->head == p->n) {
        p->head = p->n = 0;
    }
    if (!ok) {
        log_failure(ins, x, items, s);
        otc_batch_unref(out);
        return;
    }
    otc_next(ins, out);
}

/* The head bin is undecoded but holds more than one request may: decode it, so
 * that the item walk can split it. False when it is gone instead (no memory:
 * dropped; undecodable: passed on as it is, there is nothing to split). */
static bool decode_head(struct otc_instance *ins, struct batch_ctx *x, enum otc_signal s)
{
    struct bt_pending *p = &x->pend[s];
    struct bt_bin *h = &p->bins[p->head];
    struct otc_batch *b = h->b;
    int rc = OTC_ENOMEM;

    /* the request built next points into the input: make it private first when
     * a later stage writes into requests */
    if (!x->downstream_mutates || (b = otc_batch_writable(b)) != NULL) {
        rc = otc_batch_decode(b);
    }
    h->b = NULL;
    if (rc == OTC_OK) {
        size_t n = otc_request_count_items(s, b->msg);

        h->b = b;
        p->items = p->items - h->n + n;
        h->n = n;
        h->raw = false;
        return true;
    }
    p->head++;
    p->items -= h->n;
    if (p->head == p->n) {
        p->head = p->n = 0;
    }
    if (rc == OTC_ENOMEM) {
        log_failure(ins, x, h->n, s);
        otc_batch_unref(b);
    } else {
        otc_next(ins, b);
    }
    return false;
}

/* Send one request of at most budget items (plus any point-less metrics met)
 * from decoded bins at the head, merging equal resources and scopes. */
static void send_decoded(struct otc_instance *ins, struct batch_ctx *x, enum otc_signal s,
                         size_t budget)
{
    struct bt_pending *p = &x->pend[s];
    size_t first = p->head, bi = p->head, touched_end = p->head;
    const struct bt_bin *f = &p->bins[first];
    bool whole = f->ri == 0 && f->si == 0 && f->ii == 0 && f->off == 0;
    struct otc_batch *out = NULL;

    x->n_rg = x->n_sg = x->n_it = 0;
    x->pairs = x->res_seen = x->taken = 0;
    x->last_rs = NULL;
    x->failed = false;
    x->rmap.used = x->smap.used = 0;
    if (++x->gen == 0) { /* generations wrapped: clear the maps once */
        if (x->rmap.s) {
            memset(x->rmap.s, 0, (x->rmap.mask + 1) * sizeof(*x->rmap.s));
        }
        if (x->smap.s) {
            memset(x->smap.s, 0, (x->smap.mask + 1) * sizeof(*x->smap.s));
        }
        x->gen = 1;
    }
    for (;;) {
        size_t before = x->n_it;
        if (bi == p->n || p->bins[bi].raw || !same_exporters(p, first, bi)) {
            /* undecoded bins go in a request of their own, as do inputs bound
             * for other exporters */
            touched_end = bi;
            break;
        }
        if (!walk_bin(x, s, &p->bins[bi], &budget)) {
            touched_end = x->n_it > before ? bi + 1 : bi; /* bin bi gave items, or not */
            break;
        }
        bi++;
    }
    if (!x->failed && x->n_it > 0) {
        if (whole && bi == first + 1 && touched_end == bi && !x->out_live &&
            x->n_sg == x->pairs && x->n_rg == x->res_seen) {
            /* one whole input, already one container per resource and scope:
             * send it as it is (it keeps its received bytes) */
            out = p->bins[first].b;
            p->bins[first].b = NULL;
        } else if ((out = build(x, s)) != NULL) {
            out->received_ns = f->b->received_ns;
            for (size_t i = first; i < touched_end && out; i++) {
                otc_batch_merge_skip(out, p->bins[i].b, i == first);
                if (otc_batch_adopt(out, otc_batch_ref(p->bins[i].b)) != OTC_OK) {
                    otc_batch_unref(out);
                    out = NULL;
                }
            }
        }
        x->failed = out == NULL;
    }
    if (x->out_live) {
        otc_arena_release(&x->out);
        x->out_live = false;
    }
    if (x->failed) {
        drop_all(ins, x, s);
        return;
    }
    for (size_t i = first; i < bi; i++) {
        otc_batch_unref(p->bins[i].b);
    }
    p->head = bi;
    p->items -= x->taken;
    if (p->head == p->n) {
        p->head = p->n = 0;
    }
    if (out) {
        otc_next(ins, out);
    }
}

/* Send one request of at most budget items from the head of the pending bins. */
static void send_one(struct otc_instance *ins, struct batch_ctx *x, enum otc_signal s, size_t budget)
{
    const struct bt_bin *h = &x->pend[s].bins[x->pend[s].head];

    if (h->raw && h->n <= budget) {
        send_raw(ins, x, s, budget);
    } else if (!h->raw || decode_head(ins, x, s)) {
        send_decoded(ins, x, s, budget);
    }
}

static void send_all(struct otc_instance *ins, struct batch_ctx *x, enum otc_signal s)
{
    size_t max = x->send_batch_max_size > 0 ? (size_t)x->send_batch_max_size : SIZE_MAX;

    while (x->pend[s].head < x->pend[s].n) {
        send_one(ins, x, s, max);
    }
}

/* Due time of the timer: the oldest pending arrival plus timeout. */
static void rearm(struct otc_instance *ins, struct batch_ctx *x)
{
    uint64_t due = 0;

    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        const struct bt_pending *p = &x->pend[s];
        if (p->head < p->n) {
            uint64_t d = p->bins[p->head].arrival_ns + (uint64_t)x->timeout_ns;
            if (due == 0 || d < due) {
                due = d;
            }
        }
    }
    ins->timer_due_ns = due;
}

/* ------------------------------------------------------------- callbacks */

static int batch_consume_locked(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct batch_ctx *x = vctx;
    enum otc_signal s = b->signal;
    struct bt_pending *p = &x->pend[s];
    /* an undecoded input stays so: its items were counted by the receiver's scan */
    bool raw = !otc_batch_is_decoded(b) && otc_batch_bytes_fresh(b);
    size_t n = raw ? b->items : otc_request_count_items(s, otc_batch_msg(b));
    size_t max = x->send_batch_max_size > 0 ? (size_t)x->send_batch_max_size : SIZE_MAX;

    if (n == 0) {
        return otc_next(ins, b); /* undecodable or only empty containers: nothing to batch */
    }
    /* a request of undecoded inputs is a copy of their bytes (or one of them,
     * which a writing stage copies on write itself): only the merged requests
     * point into their inputs */
    if (!raw && x->downstream_mutates && !(b = otc_batch_writable(b))) {
        log_failure(ins, x, n, s);
        return OTC_ENOMEM;
    }
    if (p->n == p->cap && p->head > 0) {
        memmove(p->bins, p->bins + p->head, (p->n - p->head) * sizeof(*p->bins));
        p->n -= p->head;
        p->head = 0;
    }
    if (!grow((void **)&p->bins, &p->cap, p->n + 1, sizeof(*p->bins))) {
        return otc_next(ins, b); /* cannot hold it: pass it on unbatched */
    }
    p->bins[p->n++] = (struct bt_bin){.b = b, .arrival_ns = b->received_ns, .n = n, .raw = raw};
    p->items += n;
    while (p->items > 0 && p->items >= (size_t)x->send_batch_size) {
        size_t before = p->items;
        send_one(ins, x, s, p->items < max ? p->items : max);
        batch_metrics_sent(&x->m_size_trigger, x, before, p->items);
    }
    if (x->timeout_ns == 0) {
        size_t before = p->items;
        send_all(ins, x, s);
        batch_metrics_sent(&x->m_timeout_trigger, x, before, p->items);
    }
    rearm(ins, x);
    return OTC_OK;
}

static int batch_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct batch_ctx *x = vctx;
    int rc;

    pthread_mutex_lock(&x->lock);
    rc = batch_consume_locked(ins, x, b);
    pthread_mutex_unlock(&x->lock);
    return rc;
}

static int batch_timer(struct otc_instance *ins, void *vctx, uint64_t now_ns)
{
    struct batch_ctx *x = vctx;

    pthread_mutex_lock(&x->lock);
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        const struct bt_pending *p = &x->pend[s];
        if (p->head < p->n && p->bins[p->head].arrival_ns + (uint64_t)x->timeout_ns <= now_ns) {
            size_t before = p->items;
            send_all(ins, x, (enum otc_signal)s);
            batch_metrics_sent(&x->m_timeout_trigger, x, before, p->items);
        }
    }
    rearm(ins, x);
    pthread_mutex_unlock(&x->lock);
    return OTC_OK;
}

static int batch_flush(struct otc_instance *ins, void *vctx)
{
    struct batch_ctx *x = vctx;

    pthread_mutex_lock(&x->lock);
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        send_all(ins, x, (enum otc_signal)s);
    }
    rearm(ins, x);
    pthread_mutex_unlock(&x->lock);
    return OTC_OK;
}

static void batch_destroy(void *vctx)
{
    struct batch_ctx *x = vctx;

    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        drop_all(NULL, x, (enum otc_signal)s);
        free(x->pend[s].bins);
        x->pend[s].bins = NULL;
        x->pend[s].cap = 0;
    }
    if (x->out_live) {
        otc_arena_release(&x->out);
        x->out_live = false;
    }
    free(x->rg);
    free(x->sg);
    free(x->it);
    free(x->rmap.s);
    free(x->smap.s);
    free(x->pk);
    x->rg = NULL;
    x->sg = NULL;
    x->it = NULL;
    x->rmap.s = x->smap.s = NULL;
    x->pk = NULL;
    if (x->lock_ready) {
        pthread_mutex_destroy(&x->lock);
        x->lock_ready = false;
    }
}

const struct otc_component_ops otc_processor_batch_ops = {
    .type = "batch",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = true,
    .ctx_size = sizeof(struct batch_ctx),
    .config_map = batch_config,
    .validate = batch_validate,
    .init = batch_init,
    .start = NULL,
    .consume = batch_consume,
    .flush = batch_flush,
    .timer = batch_timer,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = batch_destroy,
};
