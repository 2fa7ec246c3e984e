/* tail_sampling.c - the `tail_sampling` processor: holds the spans of each trace
 * for decision_wait, then decides the whole trace with otelcol-contrib's policies
 * (tail_sampling_policy.c) and forwards sampled traces as new requests grouped by
 * resource and scope. Runs on the pipeline worker thread (consume, timer, flush);
 * admit() alone runs on receiver threads. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_otlp.h"
#include "tail_sampling.h"
#include "tail_sampling_policy.h"

#define NONE UINT32_MAX
#define EVICT_LOG_NS 10000000000ull /* at most one eviction summary per 10 s */

/* ------------------------------------------------------------ id tables */

/* Open addressing with linear probing, keyed by 16-byte trace ids; deletion
 * shifts followers back so lookups never need tombstones. */
struct ts_idmap {
    uint8_t  (*keys)[16];
    uint32_t  *vals; /* NONE = empty */
    size_t     mask;
};

static uint64_t id_hash(const uint8_t *id)
{
    uint64_t a, b;

    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    a ^= b * 0x9e3779b97f4a7c15ull;
    a ^= a >> 31;
    a *= 0xbf58476d1ce4e5b9ull;
    return a ^ (a >> 29);
}

static int idmap_init(struct ts_idmap *m, size_t entries)
{
    size_t cap = 16;

    while (cap < entries * 2) {
        cap <<= 1;
    }
    m->keys = malloc(cap * 16);
    m->vals = malloc(cap * sizeof(*m->vals));
    if (!m->keys || !m->vals) {
        return OTC_ENOMEM;
    }
    memset(m->vals, 0xff, cap * sizeof(*m->vals));
    m->mask = cap - 1;
    return OTC_OK;
}

static void idmap_free(struct ts_idmap *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
}

static size_t idmap_find(const struct ts_idmap *m, const uint8_t *id)
{
    size_t i = id_hash(id) & m->mask;

    while (m->vals[i] != NONE && memcmp(m->keys[i], id, 16)) {
        i = (i + 1) & m->mask;
    }
    return i;
}

static uint32_t idmap_get(const struct ts_idmap *m, const uint8_t *id)
{
    return m->vals ? m->vals[idmap_find(m, id)] : NONE;
}

static void idmap_put(struct ts_idmap *m, const uint8_t *id, uint32_t v)
{
    size_t i = idmap_find(m, id);

    memcpy(m->keys[i], id, 16);
    m->vals[i] = v;
}

static void idmap_del(struct ts_idmap *m, const uint8_t *id)
{
    size_t i = idmap_find(m, id), j = i;

    if (m->vals[i] == NONE) {
        return;
    }
    for (;;) {
        size_t home;
        m->vals[i] = NONE;
        do {
            j = (j + 1) & m->mask;
            if (m->vals[j] == NONE) {
                return;
            }
            home = id_hash(m->keys[j]) & m->mask;
        } while (i <= j ? (i < home && home <= j) : (i < home || home <= j));
        memcpy(m->keys[i], m->keys[j], 16);
        m->vals[i] = m->vals[j];
        i = j;
    }
}

/* A decision cache: the last `size` trace ids decided one way (oldest out first). */
struct ts_cache {
    struct ts_idmap map;
    uint8_t       (*ring)[16];
    size_t          size, head, n;
};

static int cache_init(struct ts_cache *c, size_t size)
{
    c->size = size;
    if (size == 0) {
        return OTC_OK;
    }
    c->ring = malloc(size * 16);
    return c->ring && idmap_init(&c->map, size) == OTC_OK ? OTC_OK : OTC_ENOMEM;
}

static void cache_free(struct ts_cache *c)
{
    idmap_free(&c->map);
    free(c->ring);
    c->ring = NULL;
}

static bool cache_has(const struct ts_cache *c, const uint8_t *id)
{
    return c->size && idmap_get(&c->map, id) != NONE;
}

static void cache_put(struct ts_cache *c, const uint8_t *id)
{
    size_t pos;

    if (!c->size || cache_has(c, id)) {
        return;
    }
    if (c->n == c->size) {
        idmap_del(&c->map, c->ring[c->head]);
        pos = c->head;
        c->head = (c->head + 1) % c->size;
    } else {
        pos = (c->head + c->n++) % c->size;
    }
    memcpy(c->ring[pos], id, 16);
    idmap_put(&c->map, id, (uint32_t)pos);
}

/* ------------------------------------------------------------ state */

struct ts_trace {
    uint8_t             id[16];
    uint32_t            gen;     /* bumped when the slot is freed (stale queue entries) */
    bool                live;
    bool                root_seen;
    uint64_t            first_ns;
    uint64_t            bytes;   /* packed size of its spans */
    struct ts_span_ref *spans;
    size_t              n, cap;
    uint32_t            next_free;
};

/* A received request some held span points into. */
struct ts_held {
    struct otc_batch *b;
    size_t            bytes;    /* its arena's size when taken */
    uint32_t          spans;    /* held spans in it */
    uint32_t          out_gen;  /* output being built that already refers to it */
    bool              pinned;   /* the request being consumed right now */
    uint32_t          next_free;
};

/* A trace due for a decision at due_ns (entries of freed slots are stale). */
struct ts_due {
    uint64_t due_ns;
    uint32_t slot, gen;
};

struct ts_fifo {
    struct ts_due *v;
    size_t         head, n, cap;
};

/* Spans of sampled traces collected for one outgoing request. */
struct ts_out {
    struct ts_span_ref *spans;
    size_t              n, cap;
    struct otc_batch  **adopt;
    size_t              n_adopt, cap_adopt;
    uint32_t            gen;
};

struct ts_ctx {
    /* options */
    int64_t              decision_wait_ns;
    int64_t              num_traces;
    int64_t              expected_new_traces_per_sec;
    int64_t              sampled_cache_size;
    int64_t              non_sampled_cache_size;
    bool                 sample_on_first_match;
    bool                 block_on_overflow;
    bool                 drop_pending_on_shutdown;
    int64_t              wait_after_root_ns;
    uint64_t             max_trace_bytes;
    uint64_t             max_memory_bytes;
    struct otc_cfg_tree *policies_cfg;
    /* runtime */
    struct otc_instance *ins;
    struct ts_policies   pol;
    bool                 downstream_mutates;
    struct ts_idmap      map;
    struct ts_trace     *tr;
    size_t               n_tr;
    uint32_t             free_tr;
    atomic_size_t        live;      /* traces held (read by admit) */
    struct ts_held      *held;
    size_t               n_held, cap_held;
    uint32_t             free_held;
    atomic_size_t        held_bytes; /* arena bytes of the held requests */
    struct ts_fifo       wait_q;     /* by first arrival + decision_wait */
    struct ts_fifo       root_q;     /* by root arrival + decision_wait_after_root_received */
    struct ts_cache      sampled, not_sampled;
    struct ts_out        out;
    struct ts_due       *oversize;   /* traces over maximum_trace_size_bytes in this request */
    size_t               n_oversize, cap_oversize;
    uint64_t             evicted_since_log, last_evict_log_ns;
    /* self-metrics */
    struct otc_metric    m_new_traces, m_on_memory, m_sampled, m_early, m_not_sampled, m_dropped,
                         m_evicted, m_bytes, m_oversize;
};

#define OFF(f) offsetof(struct ts_ctx, f)

static const struct otc_config_entry ts_config[] = {
    {OTC_CFG_DURATION, "decision_wait", "30s", OFF(decision_wait_ns), OTC_CFG_F_MIN, 0, 0, NULL,
     "how long the spans of a trace are held, from its first span, before it is decided"},
    {OTC_CFG_INT, "num_traces", "50000", OFF(num_traces), OTC_CFG_F_MIN | OTC_CFG_F_MAX, 1, 100000000, NULL,
     "traces held at most; a new trace beyond it makes the oldest be decided early (counted in "
     "otelc_processor_tail_sampling_traces_evicted)"},
    {OTC_CFG_INT, "expected_new_traces_per_sec", "0", OFF(expected_new_traces_per_sec), OTC_CFG_F_MIN, 0, 0,
     NULL, "sizes the trace table up front (it grows as needed)"},
    {OTC_CFG_INT, "decision_cache.sampled_cache_size", "0", OFF(sampled_cache_size),
     OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0, 100000000, NULL,
     "ids of sampled traces remembered after the decision: their late spans are passed on (0: none)"},
    {OTC_CFG_INT, "decision_cache.non_sampled_cache_size", "0", OFF(non_sampled_cache_size),
     OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0, 100000000, NULL,
     "ids of traces not sampled remembered after the decision: their late spans are dropped (0: none)"},
    {OTC_CFG_BOOL, "sample_on_first_match", "false", OFF(sample_on_first_match), 0, 0, 0, NULL,
     "stop evaluating policies at the first one that samples (drop policies still come first)"},
    {OTC_CFG_BOOL, "block_on_overflow", "false", OFF(block_on_overflow), 0, 0, 0, NULL,
     "when num_traces are held, refuse new requests (the receiver answers UNAVAILABLE, clients "
     "retry) instead of deciding the oldest traces early"},
    {OTC_CFG_BOOL, "drop_pending_traces_on_shutdown", "false", OFF(drop_pending_on_shutdown), 0, 0, 0, NULL,
     "at shutdown drop undecided traces (counted) instead of deciding them at once"},
    {OTC_CFG_DURATION, "decision_wait_after_root_received", "0s", OFF(wait_after_root_ns), OTC_CFG_F_MIN, 0, 0,
     NULL, "decide a trace this long after its root span arrives, if sooner than decision_wait (0: off)"},
    {OTC_CFG_SIZE, "maximum_trace_size_bytes", "0", OFF(max_trace_bytes), 0, 0, 0, NULL,
     "a trace whose spans exceed this many bytes (packed size) is not sampled and its id goes to "
     "the non-sampled cache (0: no limit)"},
    {OTC_CFG_SIZE, "maximum_memory_bytes", "0", OFF(max_memory_bytes), 0, 0, 0, NULL,
     "otelc: bytes of held requests at most; beyond it the oldest traces are decided early, "
     "counted and logged (0: no limit)"},
    {OTC_CFG_TREE, "policies", NULL, OFF(policies_cfg), 0, 0, 0, NULL,
     "the sampling policies, as otelcol-contrib writes them: always_sample, latency, "
     "numeric_attribute, string_attribute, boolean_attribute, probabilistic, status_code, "
     "rate_limiting, bytes_limiting, span_count, trace_state, trace_flags, and, composite, not, drop "
     "(ottl_condition is not supported)"},
    OTC_CFG_END,
};

/* ------------------------------------------------------------ helpers */

static bool grow(void **v, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 8;
    void *n;

    if (need <= *cap) {
        return true;
    }
    while (c < need) {
        c *= 2;
    }
    if (!(n = realloc(*v, c * elem))) {
        return false;
    }
    *v = n;
    *cap = c;
    return true;
}

static bool fifo_push(struct ts_fifo *f, uint64_t due, uint32_t slot, uint32_t gen)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 1024;
        struct ts_due *v = malloc(cap * sizeof(*v));
        if (!v) {
            return false;
        }
        for (size_t i = 0; i < f->n; i++) {
            v[i] = f->v[(f->head + i) % f->cap];
        }
        free(f->v);
        f->v = v;
        f->cap = cap;
        f->head = 0;
    }
    f->v[(f->head + f->n++) % f->cap] = (struct ts_due){.due_ns = due, .slot = slot, .gen = gen};
    return true;
}

/* The head entry that still names a held trace (stale ones are popped), or NULL. */
static struct ts_due *fifo_head(struct ts_ctx *x, struct ts_fifo *f)
{
    while (f->n) {
        struct ts_due *d = &f->v[f->head];
        if (x->tr[d->slot].live && x->tr[d->slot].gen == d->gen) {
            return d;
        }
        f->head = (f->head + 1) % f->cap;
        f->n--;
    }
    return NULL;
}

static void fifo_pop(struct ts_fifo *f)
{
    f->head = (f->head + 1) % f->cap;
    f->n--;
}

static void held_release(struct ts_ctx *x, uint32_t h)
{
    struct ts_held *hd = &x->held[h];

    if (hd->spans || hd->pinned || !hd->b) {
        return;
    }
    atomic_fetch_sub(&x->held_bytes, hd->bytes);
    otc_batch_unref(hd->b);
    hd->b = NULL;
    hd->next_free = x->free_held;
    x->free_held = h;
}

static uint32_t held_new(struct ts_ctx *x, struct otc_batch *b)
{
    uint32_t h = x->free_held;

    if (h == NONE) {
        if (!grow((void **)&x->held, &x->cap_held, x->n_held + 1, sizeof(*x->held))) {
            return NONE;
        }
        h = (uint32_t)x->n_held++;
    } else {
        x->free_held = x->held[h].next_free;
    }
    x->held[h] = (struct ts_held){.b = b, .bytes = b->arena.bytes, .pinned = true, .next_free = NONE,
                                  .out_gen = x->out.gen - 1};
    atomic_fetch_add(&x->held_bytes, b->arena.bytes);
    return h;
}

/* Add the spans of a sampled trace (or of a cached decision) to the output. */
static bool out_add(struct ts_ctx *x, const struct ts_span_ref *s, size_t n)
{
    struct ts_out *o = &x->out;

    if (!grow((void **)&o->spans, &o->cap, o->n + n, sizeof(*o->spans))) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        struct ts_held *hd = &x->held[s[i].slot];
        if (hd->out_gen != o->gen) {
            if (!grow((void **)&o->adopt, &o->cap_adopt, o->n_adopt + 1, sizeof(*o->adopt))) {
                return false;
            }
            hd->out_gen = o->gen;
            o->adopt[o->n_adopt++] = otc_batch_ref(hd->b);
        }
        o->spans[o->n++] = s[i];
    }
    return true;
}

static ProtobufCMessage *copy_msg(struct otc_arena *a, const ProtobufCMessage *m)
{
    size_t n;
    uint8_t *buf;
    ProtobufCMessage *c;

    if (!m) {
        return NULL;
    }
    n = protobuf_c_message_get_packed_size(m);
    if (!(buf = malloc(n ? n : 1))) {
        return NULL;
    }
    protobuf_c_message_pack(m, buf);
    c = protobuf_c_message_unpack(m->descriptor, &a->pb, n, buf);
    free(buf);
    return c;
}

/* Pointer -> index map for grouping the output by resource and scope. */
struct ts_group {
    const void *key;
    size_t      idx;
};

static size_t group_find(struct ts_group *g, size_t mask, const void *key)
{
    size_t i = (size_t)(((uintptr_t)key >> 4) * 0x9e3779b97f4a7c15ull) & mask;

    while (g[i].key && g[i].key != key) {
        i = (i + 1) & mask;
    }
    return i;
}

/* Build one request from the collected spans and pass it on. */
static void out_send(struct ts_ctx *x)
{
    struct ts_out *o = &x->out;
    struct otc_instance *ins = x->ins;
    struct otc_arena a;
    otc_traces_req *req;
    struct ts_group *g = NULL;
    size_t mask = 15, n_rs = 0, n_ss = 0;
    otc_resource_spans **rsv;
    otc_scope_spans **ssv;
    size_t *ss_rs, *ss_cnt, *span_ss;
    struct otc_batch *b = NULL;
    bool ok = false;

    if (o->n == 0) {
        goto done;
    }
    while (mask + 1 < o->n * 4) {
        mask = mask * 2 + 1;
    }
    otc_arena_init(&a, 4096 + o->n * 64);
    g = calloc(mask + 1, sizeof(*g));
    rsv = otc_arena_alloc(&a, o->n * sizeof(*rsv));
    ssv = otc_arena_alloc(&a, o->n * sizeof(*ssv));
    ss_rs = malloc(o->n * sizeof(*ss_rs));
    ss_cnt = calloc(o->n, sizeof(*ss_cnt));
    span_ss = malloc(o->n * sizeof(*span_ss));
    req = otc_arena_alloc(&a, sizeof(*req));
    if (!g || !rsv || !ssv || !ss_rs || !ss_cnt || !span_ss || !req) {
        goto fail;
    }
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
    /* pass 1: distinct resources and scopes, in first-seen order */
    for (size_t i = 0; i < o->n; i++) {
        size_t r, s;
        size_t k = group_find(g, mask, o->spans[i].rs);
        if (!g[k].key) {
            otc_resource_spans *c = otc_arena_memdup(&a, o->spans[i].rs, sizeof(*c));
            if (!c) {
                goto fail;
            }
            c->n_scope_spans = 0;
            if (x->downstream_mutates && c->resource &&
                !(c->resource = (void *)copy_msg(&a, &o->spans[i].rs->resource->base))) {
                goto fail;
            }
            g[k] = (struct ts_group){.key = o->spans[i].rs, .idx = n_rs};
            rsv[n_rs++] = c;
        }
        r = g[k].idx;
        k = group_find(g, mask, o->spans[i].ss);
        if (!g[k].key) {
            otc_scope_spans *c = otc_arena_memdup(&a, o->spans[i].ss, sizeof(*c));
            if (!c) {
                goto fail;
            }
            c->n_spans = 0;
            if (x->downstream_mutates && c->scope &&
                !(c->scope = (void *)copy_msg(&a, &o->spans[i].ss->scope->base))) {
                goto fail;
            }
            g[k] = (struct ts_group){.key = o->spans[i].ss, .idx = n_ss};
            ss_rs[n_ss] = r;
            ssv[n_ss++] = c;
            rsv[r]->n_scope_spans++;
        }
        s = g[k].idx;
        span_ss[i] = s;
        ss_cnt[s]++;
    }
    /* pass 2: arrays, then fill */
    for (size_t r = 0; r < n_rs; r++) {
        if (!(rsv[r]->scope_spans = otc_arena_alloc(&a, rsv[r]->n_scope_spans * sizeof(void *)))) {
            goto fail;
        }
        rsv[r]->n_scope_spans = 0;
    }
    for (size_t s = 0; s < n_ss; s++) {
        otc_resource_spans *rs = rsv[ss_rs[s]];
        if (!(ssv[s]->spans = otc_arena_alloc(&a, ss_cnt[s] * sizeof(void *)))) {
            goto fail;
        }
        rs->scope_spans[rs->n_scope_spans++] = ssv[s];
    }
    for (size_t i = 0; i < o->n; i++) {
        otc_scope_spans *ss = ssv[span_ss[i]];
        ss->spans[ss->n_spans++] = (otc_span *)o->spans[i].sp;
    }
    req->resource_spans = rsv;
    req->n_resource_spans = n_rs;
    ok = true;
fail:
    free(g);
    free(ss_rs);
    free(ss_cnt);
    free(span_ss);
    if (ok && (b = otc_batch_from_msg(OTC_TRACES, &a, &req->base))) {
        b->items = o->n;
        for (size_t i = 0; i < o->n_adopt; i++) {
            (void)otc_batch_adopt(b, o->adopt[i]); /* takes the reference, even on failure */
        }
        o->n_adopt = 0;
        (void)otc_next(ins, b);
    } else {
        if (!ok) {
            otc_arena_release(&a);
        }
        otc_log_err(ins, "out of memory: %zu sampled spans lost", o->n);
        atomic_fetch_add(&ins->counters.dropped[OTC_TRACES], o->n);
    }
done:
    for (size_t i = 0; i < o->n_adopt; i++) {
        otc_batch_unref(o->adopt[i]);
    }
    o->n_adopt = 0;
    o->n = 0;
    o->gen++;
}

/* ------------------------------------------------------------ decisions */

static void trace_free(struct ts_ctx *x, uint32_t slot)
{
    struct ts_trace *t = &x->tr[slot];

    for (size_t i = 0; i < t->n; i++) {
        uint32_t h = t->spans[i].slot;
        x->held[h].spans--;
        held_release(x, h);
    }
    idmap_del(&x->map, t->id);
    t->n = 0;
    t->live = false;
    t->gen++;
    t->next_free = x->free_tr;
    x->free_tr = slot;
    if (t->cap > 64) { /* a big trace gives its memory back */
        free(t->spans);
        t->spans = NULL;
        t->cap = 0;
    }
    atomic_fetch_sub(&x->live, 1);
    otc_metric_set(&x->m_on_memory, (int64_t)atomic_load(&x->live));
}

enum ts_why { TS_DUE, TS_EVICT, TS_OVERSIZE, TS_SHUTDOWN_DROP };

static void decide(struct ts_ctx *x, uint32_t slot, uint64_t now, enum ts_why why)
{
    struct ts_trace *t = &x->tr[slot];
    enum ts_decision d;

    if (why == TS_OVERSIZE || why == TS_SHUTDOWN_DROP) {
        d = TS_NOT_SAMPLED;
        if (why == TS_OVERSIZE) {
            otc_metric_add(&x->m_oversize, 1);
        }
    } else {
        struct ts_trace_view v = {.id = t->id, .spans = t->spans, .n = t->n, .bytes = t->bytes, .now_ns = now};
        d = ts_policies_decide(&x->pol, &v, x->sample_on_first_match);
    }
    if (why == TS_EVICT) {
        otc_metric_add(&x->m_evicted, 1);
        x->evicted_since_log++;
    }
    if (d == TS_SAMPLED) {
        if (!out_add(x, t->spans, t->n)) {
            otc_log_err(x->ins, "out of memory: a sampled trace of %zu spans lost", t->n);
            atomic_fetch_add(&x->ins->counters.dropped[OTC_TRACES], t->n);
        }
        cache_put(&x->sampled, t->id);
        otc_metric_add(&x->m_sampled, 1);
    } else {
        atomic_fetch_add(&x->ins->counters.dropped[OTC_TRACES], t->n);
        cache_put(&x->not_sampled, t->id);
        otc_metric_add(d == TS_DROPPED ? &x->m_dropped : &x->m_not_sampled, 1);
    }
    trace_free(x, slot);
}

/* The oldest held trace, decided now (num_traces or maximum_memory_bytes reached). */
static bool evict_oldest(struct ts_ctx *x, uint64_t now)
{
    struct ts_due *d = fifo_head(x, &x->wait_q);

    if (!d) {
        return false;
    }
    uint32_t slot = d->slot;
    fifo_pop(&x->wait_q);
    decide(x, slot, now, TS_EVICT);
    return true;
}

static void log_evictions(struct ts_ctx *x, uint64_t now)
{
    if (x->evicted_since_log && now - x->last_evict_log_ns >= EVICT_LOG_NS) {
        otc_log_warn(x->ins,
                     "%llu traces decided before decision_wait because num_traces (%lld) or "
                     "maximum_memory_bytes (%llu) was reached; %zu traces and %zu bytes held",
                     (unsigned long long)x->evicted_since_log, (long long)x->num_traces,
                     (unsigned long long)x->max_memory_bytes, atomic_load(&x->live),
                     atomic_load(&x->held_bytes));
        x->evicted_since_log = 0;
        x->last_evict_log_ns = now;
    }
}

static void rearm(struct otc_instance *ins, struct ts_ctx *x)
{
    struct ts_due *a = fifo_head(x, &x->wait_q), *b = fifo_head(x, &x->root_q);
    uint64_t due = 0;

    if (a) {
        due = a->due_ns;
    }
    if (b && (due == 0 || b->due_ns < due)) {
        due = b->due_ns;
    }
    ins->timer_due_ns = due ? due : 0;
}

/* Make room for want trace slots; the new ones go on the free list. */
static bool tr_reserve(struct ts_ctx *x, size_t want)
{
    size_t cap = x->n_tr;

    if (want <= x->n_tr) {
        return true;
    }
    if (!grow((void **)&x->tr, &cap, want, sizeof(*x->tr))) {
        return false;
    }
    for (size_t i = cap; i-- > x->n_tr;) {
        memset(&x->tr[i], 0, sizeof(x->tr[i]));
        x->tr[i].next_free = x->free_tr;
        x->free_tr = (uint32_t)i;
    }
    x->n_tr = cap;
    return true;
}

static uint32_t trace_new(struct ts_ctx *x, const uint8_t *id, uint64_t now)
{
    uint32_t slot;
    struct ts_trace *t;

    if (x->free_tr == NONE && !tr_reserve(x, x->n_tr + 1)) {
        return NONE;
    }
    slot = x->free_tr;
    x->free_tr = x->tr[slot].next_free;
    t = &x->tr[slot];
    memcpy(t->id, id, 16);
    t->live = true;
    t->root_seen = false;
    t->first_ns = now;
    t->bytes = 0;
    t->n = 0;
    if (!fifo_push(&x->wait_q, now + (uint64_t)x->decision_wait_ns, slot, t->gen)) {
        t->live = false;
        t->next_free = x->free_tr;
        x->free_tr = slot;
        return NONE;
    }
    idmap_put(&x->map, id, slot);
    atomic_fetch_add(&x->live, 1);
    otc_metric_add(&x->m_new_traces, 1);
    otc_metric_set(&x->m_on_memory, (int64_t)atomic_load(&x->live));
    return slot;
}

/* ------------------------------------------------------------ callbacks */

static int ts_validate(const void *vctx, char *err, size_t errlen)
{
    const struct ts_ctx *x = vctx;
    struct ts_policies p;
    int rc = ts_policies_parse(x->policies_cfg, &p, err, errlen);

    ts_policies_free(&p);
    return rc == OTC_OK ? OTC_OK : OTC_EINVAL;
}

static int ts_metrics_register(struct otc_instance *ins, struct ts_ctx *x)
{
    static const char scope[] =
        "github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor";
    struct {
        struct otc_metric   *m;
        const char          *name, *unit, *help;
        enum otc_metric_kind kind;
    } defs[] = {
        {&x->m_new_traces, "otelcol_processor_tail_sampling_new_trace_id_received", "{traces}",
         "Counts the arrival of new traces", OTC_METRIC_COUNTER},
        {&x->m_on_memory, "otelcol_processor_tail_sampling_sampling_traces_on_memory", "{traces}",
         "Tracks the number of traces current on memory", OTC_METRIC_GAUGE},
        {&x->m_sampled, "otelcol_processor_tail_sampling_global_count_traces_sampled", "{traces}",
         "Traces decided sampled (otelcol adds a sampled attribute; otelc counts the others in "
         "otelc_processor_tail_sampling_traces_not_sampled and _traces_dropped)", OTC_METRIC_COUNTER},
        {&x->m_early, "otelcol_processor_tail_sampling_early_releases_from_cache_decision", "{spans}",
         "Spans released or dropped at once because their trace's decision was cached", OTC_METRIC_COUNTER},
        {&x->m_not_sampled, "otelc_processor_tail_sampling_traces_not_sampled", "{traces}",
         "Traces decided not sampled (their spans are counted as dropped)", OTC_METRIC_COUNTER},
        {&x->m_dropped, "otelc_processor_tail_sampling_traces_dropped", "{traces}",
         "Traces a drop policy dropped", OTC_METRIC_COUNTER},
        {&x->m_evicted, "otelc_processor_tail_sampling_traces_evicted", "{traces}",
         "Traces decided before decision_wait because num_traces or maximum_memory_bytes was reached",
         OTC_METRIC_COUNTER},
        {&x->m_bytes, "otelc_processor_tail_sampling_memory_bytes", "By",
         "Bytes of received requests held for undecided traces", OTC_METRIC_GAUGE},
        {&x->m_oversize, "otelc_processor_tail_sampling_traces_oversize", "{traces}",
         "Traces not sampled because they exceeded maximum_trace_size_bytes", OTC_METRIC_COUNTER},
    };

    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        *defs[i].m = (struct otc_metric){.name = defs[i].name, .unit = defs[i].unit, .help = defs[i].help,
                                         .scope = scope, .kind = defs[i].kind};
        if (otc_metric_register(ins, defs[i].m) != OTC_OK) {
            return OTC_EINVAL;
        }
    }
    return OTC_OK;
}

static int ts_init(struct otc_instance *ins, void *vctx)
{
    struct ts_ctx *x = vctx;
    char err[256];
    size_t hint = (size_t)x->num_traces;
    int rc;

    x->ins = ins;
    x->free_tr = x->free_held = NONE;
    if ((rc = ts_policies_parse(x->policies_cfg, &x->pol, err, sizeof(err))) != OTC_OK) {
        otc_log_err(ins, "%s", err);
        return rc;
    }
    x->downstream_mutates = otc_next_mutates(ins);
    if (x->expected_new_traces_per_sec > 0) {
        int64_t want = x->expected_new_traces_per_sec * (x->decision_wait_ns / 1000000000 + 1);
        hint = (size_t)(want < x->num_traces ? want : x->num_traces);
    }
    if (idmap_init(&x->map, (size_t)x->num_traces) != OTC_OK ||
        cache_init(&x->sampled, (size_t)x->sampled_cache_size) != OTC_OK ||
        cache_init(&x->not_sampled, (size_t)x->non_sampled_cache_size) != OTC_OK ||
        !tr_reserve(x, hint ? hint : 16)) {
        return OTC_ENOMEM;
    }
    return ts_metrics_register(ins, x);
}

static bool ts_admit(struct otc_instance *ins, void *vctx, size_t bytes)
{
    struct ts_ctx *x = vctx;

    (void)ins;
    (void)bytes;
    return !x->block_on_overflow || atomic_load(&x->live) < (size_t)x->num_traces;
}

static void note_oversize(struct ts_ctx *x, uint32_t slot)
{
    for (size_t i = 0; i < x->n_oversize; i++) {
        if (x->oversize[i].slot == slot && x->oversize[i].gen == x->tr[slot].gen) {
            return;
        }
    }
    if (grow((void **)&x->oversize, &x->cap_oversize, x->n_oversize + 1, sizeof(*x->oversize))) {
        x->oversize[x->n_oversize++] = (struct ts_due){.slot = slot, .gen = x->tr[slot].gen};
    }
}

static int ts_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct ts_ctx *x = vctx;
    const otc_traces_req *req;
    uint64_t now = otc_now_ns();
    uint32_t h;
    size_t early = 0;

    if (b->signal != OTC_TRACES) {
        return otc_next(ins, b);
    }
    if (x->downstream_mutates && !(b = otc_batch_writable(b))) {
        return OTC_ENOMEM;
    }
    if (!(req = (const otc_traces_req *)otc_batch_msg(b))) {
        return otc_next(ins, b); /* undecodable: the engine's checks report it */
    }
    if ((h = held_new(x, b)) == NONE) {
        otc_log_err(ins, "out of memory: a request of %zu spans passed on undecided", b->items);
        return otc_next(ins, b);
    }
    for (size_t r = 0; r < req->n_resource_spans; r++) {
        const otc_resource_spans *rs = req->resource_spans[r];
        for (size_t s = 0; s < rs->n_scope_spans; s++) {
            const otc_scope_spans *ss = rs->scope_spans[s];
            for (size_t k = 0; k < ss->n_spans; k++) {
                const otc_span *sp = ss->spans[k];
                struct ts_span_ref ref = {.sp = sp, .ss = ss, .rs = rs, .slot = h};
                uint32_t slot;
                struct ts_trace *t;

                if (sp->trace_id.len != 16) { /* no trace to wait for: pass it on */
                    if (!out_add(x, &ref, 1)) {
                        atomic_fetch_add(&ins->counters.dropped[OTC_TRACES], 1);
                    }
                    continue;
                }
                if (cache_has(&x->sampled, sp->trace_id.data)) {
                    early++;
                    if (!out_add(x, &ref, 1)) {
                        atomic_fetch_add(&ins->counters.dropped[OTC_TRACES], 1);
                    }
                    continue;
                }
                if (cache_has(&x->not_sampled, sp->trace_id.data)) {
                    early++;
                    atomic_fetch_add(&ins->counters.dropped[OTC_TRACES], 1);
                    continue;
                }
                slot = idmap_get(&x->map, sp->trace_id.data);
                if (slot == NONE) {
                    while (atomic_load(&x->live) >= (size_t)x->num_traces && evict_oldest(x, now)) {
                    }
                    if ((slot = trace_new(x, sp->trace_id.data, now)) == NONE) {
                        atomic_fetch_add(&ins->counters.dropped[OTC_TRACES], 1);
                        otc_log_err(ins, "out of memory: a span lost");
                        continue;
                    }
                }
                t = &x->tr[slot];
                if (!grow((void **)&t->spans, &t->cap, t->n + 1, sizeof(*t->spans))) {
                    atomic_fetch_add(&ins->counters.dropped[OTC_TRACES], 1);
                    continue;
                }
                ref.size = (uint32_t)protobuf_c_message_get_packed_size(&sp->base);
                t->spans[t->n++] = ref;
                t->bytes += ref.size;
                x->held[h].spans++;
                if (x->wait_after_root_ns > 0 && !t->root_seen && sp->parent_span_id.len == 0) {
                    t->root_seen = true;
                    (void)fifo_push(&x->root_q, now + (uint64_t)x->wait_after_root_ns, slot, t->gen);
                }
                if (x->max_trace_bytes && t->bytes > x->max_trace_bytes) {
                    note_oversize(x, slot);
                }
            }
        }
    }
    if (early) {
        otc_metric_add(&x->m_early, (int64_t)early);
    }
    for (size_t i = 0; i < x->n_oversize; i++) {
        const struct ts_trace *t = &x->tr[x->oversize[i].slot];
        if (t->live && t->gen == x->oversize[i].gen) {
            decide(x, x->oversize[i].slot, now, TS_OVERSIZE);
        }
    }
    x->n_oversize = 0;
    x->held[h].pinned = false;
    held_release(x, h);
    while (x->max_memory_bytes && atomic_load(&x->held_bytes) > x->max_memory_bytes && evict_oldest(x, now)) {
    }
    out_send(x);
    otc_metric_set(&x->m_bytes, (int64_t)atomic_load(&x->held_bytes));
    log_evictions(x, now);
    rearm(ins, x);
    return OTC_OK;
}

/* Decide every trace due by now (or all of them, when all is set). */
static void decide_due(struct ts_ctx *x, uint64_t now, bool all, enum ts_why why)
{
    for (;;) {
        struct ts_due *a = fifo_head(x, &x->wait_q), *r = fifo_head(x, &x->root_q), *d;
        struct ts_fifo *q;
        uint32_t slot;

        if (r && (!a || r->due_ns <= a->due_ns)) {
            d = r;
            q = &x->root_q;
        } else {
            d = a;
            q = &x->wait_q;
        }
        if (!d || (!all && d->due_ns > now)) {
            break;
        }
        slot = d->slot;
        fifo_pop(q);
        decide(x, slot, now, why);
    }
}

static int ts_timer(struct otc_instance *ins, void *vctx, uint64_t now_ns)
{
    struct ts_ctx *x = vctx;

    decide_due(x, now_ns, false, TS_DUE);
    out_send(x);
    otc_metric_set(&x->m_bytes, (int64_t)atomic_load(&x->held_bytes));
    log_evictions(x, now_ns);
    rearm(ins, x);
    return OTC_OK;
}

static int ts_flush(struct otc_instance *ins, void *vctx)
{
    struct ts_ctx *x = vctx;
    size_t pending = atomic_load(&x->live);

    if (pending) {
        otc_log_info(ins, "shutdown: %s %zu undecided traces", x->drop_pending_on_shutdown ? "dropping" : "deciding",
                     pending);
    }
    decide_due(x, otc_now_ns(), true, x->drop_pending_on_shutdown ? TS_SHUTDOWN_DROP : TS_DUE);
    out_send(x);
    otc_metric_set(&x->m_bytes, (int64_t)atomic_load(&x->held_bytes));
    rearm(ins, x);
    return OTC_OK;
}

static void ts_destroy(void *vctx)
{
    struct ts_ctx *x = vctx;

    for (size_t i = 0; i < x->n_tr; i++) {
        free(x->tr[i].spans);
    }
    free(x->tr);
    for (size_t i = 0; i < x->n_held; i++) {
        if (x->held[i].b) {
            otc_batch_unref(x->held[i].b);
        }
    }
    free(x->held);
    for (size_t i = 0; i < x->out.n_adopt; i++) {
        otc_batch_unref(x->out.adopt[i]);
    }
    free(x->out.spans);
    free(x->out.adopt);
    free(x->wait_q.v);
    free(x->root_q.v);
    free(x->oversize);
    idmap_free(&x->map);
    cache_free(&x->sampled);
    cache_free(&x->not_sampled);
    ts_policies_free(&x->pol);
    x->tr = NULL;
    x->held = NULL;
    x->n_tr = x->n_held = 0;
}

const struct otc_component_ops otc_processor_tail_sampling_ops = {
    .type = "tail_sampling",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_TRACES,
    .mutates = false,
    .concurrent = false,
    .ctx_size = sizeof(struct ts_ctx),
    .config_map = ts_config,
    .validate = ts_validate,
    .init = ts_init,
    .start = NULL,
    .consume = ts_consume,
    .flush = ts_flush,
    .timer = ts_timer,
    .admit = ts_admit,
    .shutdown = NULL,
    .destroy = ts_destroy,
};
