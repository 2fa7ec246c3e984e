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
#include "otc/otc_pb_walk.h"
#include "tail_sampling.h"
#include "tail_sampling_policy.h"

#define NONE UINT32_MAX
#define EVICT_LOG_NS 10000000000ull /* at most one eviction summary per 10 s */
/* An outgoing request is sent once it holds this many span bytes (receivers'
 * default limit is 4 MiB; otelcol sends each sampled trace as its own request). */
#define OUT_MAX_BYTES (512u * 1024u)
/* What a held trace costs besides its spans: its slot and its id table entries. */
#define TRACE_OVERHEAD (sizeof(struct ts_trace) + 2 * (16 + sizeof(uint32_t)))

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

/* A held span is kept as its serialized bytes, in its trace's buffer, after a
 * record header naming the resource and scope it came with. */
struct ts_rec {
    uint32_t head;
    uint32_t len;
};

struct ts_trace {
    uint8_t   id[16];
    uint32_t  gen;       /* bumped when the slot is freed (stale queue entries) */
    bool      live;
    bool      root_seen;
    uint32_t  n;         /* spans */
    uint64_t  bytes;     /* their serialized size */
    uint64_t  facts;     /* what the policies found in them (tail_sampling_policy.h) */
    uint64_t  min_start, max_end;
    uint8_t  *buf;       /* ts_rec + span bytes, one after another */
    size_t    len, cap;
    uint32_t  next_free;
};

/* The resource and scope containers of one request a span came in: the
 * serialized Resource and InstrumentationScope and their schema URLs, copied
 * once per request and shared by its spans. */
struct ts_head {
    uint8_t  *blob;      /* res | res_schema | scope | scope_schema */
    uint32_t  res_len, res_schema_len, scope_len, scope_schema_len;
    bool      has_res, has_scope;
    uint32_t  refs;      /* held or outgoing spans naming it */
    uint32_t  out_gen, out_idx, out_n; /* grouping of the request being built */
    uint32_t  next_free;
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

/* Spans of sampled traces (and late spans of sampled ones) collected for one
 * outgoing request: records as in a trace's buffer. */
struct ts_out {
    uint8_t  *buf;
    size_t    len, cap, n;
    uint32_t *heads;     /* distinct heads, in first-seen order */
    size_t    n_heads, cap_heads;
    uint32_t  gen;
};

/* One span of the request being consumed, read before anything changes. */
struct ts_in_span {
    const uint8_t *p;
    uint32_t       len;
    uint32_t       head; /* index into the request's heads */
    const uint8_t *tid;  /* NULL unless 16 bytes */
    uint64_t       facts, start, end;
    bool           root;
};

struct ts_in_head {
    const uint8_t *res, *res_schema, *scope, *scope_schema;
    size_t         res_len, res_schema_len, scope_len, scope_schema_len;
    bool           has_res, has_scope, scope_seen;
    uint64_t       facts;  /* of the resource */
    uint32_t       slot;   /* its ts_head once made, NONE before */
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
    struct ts_idmap      map;
    struct ts_trace     *tr;
    size_t               n_tr;
    uint32_t             free_tr;
    atomic_size_t        live;       /* traces held (read by admit) */
    struct ts_head      *hd;
    size_t               n_hd, cap_hd;
    uint32_t             free_hd;
    size_t               mem;        /* bytes held: span buffers, heads, trace slots */
    struct ts_fifo       wait_q;     /* by first arrival + decision_wait */
    struct ts_fifo       root_q;     /* by root arrival + decision_wait_after_root_received */
    struct ts_cache      sampled, not_sampled;
    struct ts_out        out;
    struct ts_in_span   *in;         /* the request being consumed */
    size_t               n_in, cap_in;
    struct ts_in_head   *in_hd;
    size_t               n_in_hd, cap_in_hd;
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
     "otelc: bytes the held traces may take (their spans' serialized bytes and the processor's "
     "tables); beyond it the oldest traces are decided early, counted and logged (0: no limit)"},
    {OTC_CFG_TREE, "policies", NULL, OFF(policies_cfg), 0, 0, 0, NULL,
     "the sampling policies, as otelcol-contrib writes them: always_sample, latency, "
     "numeric_attribute, string_attribute, boolean_attribute, probabilistic, status_code, "
     "rate_limiting, bytes_limiting, span_count, trace_state, trace_flags, and, composite, not, drop "
     "(ottl_condition is not supported)"},
    OTC_CFG_END,
};

/* ------------------------------------------------------------ helpers */


/* ------------------------------------------------------------ helpers */

static bool grow(void **v, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 8;
    void *n;

    if (need <= *cap) {
        return true;
    }
    while (c < need) {
        c = c + c / 2 + 8;
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

static size_t head_bytes(const struct ts_head *h)
{
    return sizeof(*h) + h->res_len + h->res_schema_len + h->scope_len + h->scope_schema_len;
}

static void head_unref(struct ts_ctx *x, uint32_t i)
{
    struct ts_head *h = &x->hd[i];

    if (--h->refs) {
        return;
    }
    x->mem -= head_bytes(h);
    free(h->blob);
    h->blob = NULL;
    h->next_free = x->free_hd;
    x->free_hd = i;
}

static uint8_t *put_bytes(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n) {
        memcpy(dst, src, n);
    }
    return dst + n;
}

/* A shared copy of the request's head ih (made on first use). */
static uint32_t head_get(struct ts_ctx *x, struct ts_in_head *ih)
{
    size_t n = ih->res_len + ih->res_schema_len + ih->scope_len + ih->scope_schema_len;
    struct ts_head *h;
    uint8_t *blob;
    uint32_t i;

    if (ih->slot != NONE) {
        return ih->slot;
    }
    if (x->free_hd == NONE) {
        if (!grow((void **)&x->hd, &x->cap_hd, x->n_hd + 1, sizeof(*x->hd))) {
            return NONE;
        }
        x->hd[x->n_hd] = (struct ts_head){.next_free = NONE};
        x->free_hd = (uint32_t)x->n_hd++;
    }
    if (!(blob = malloc(n ? n : 1))) {
        return NONE;
    }
    i = x->free_hd;
    h = &x->hd[i];
    x->free_hd = h->next_free;
    *h = (struct ts_head){.blob = blob, .res_len = (uint32_t)ih->res_len,
                          .res_schema_len = (uint32_t)ih->res_schema_len, .scope_len = (uint32_t)ih->scope_len,
                          .scope_schema_len = (uint32_t)ih->scope_schema_len, .has_res = ih->has_res,
                          .has_scope = ih->has_scope,
                          .refs = 1, /* the request's, until consume ends */
                          .out_gen = x->out.gen - 1, .next_free = NONE};
    blob = put_bytes(blob, ih->res, ih->res_len);
    blob = put_bytes(blob, ih->res_schema, ih->res_schema_len);
    blob = put_bytes(blob, ih->scope, ih->scope_len);
    (void)put_bytes(blob, ih->scope_schema, ih->scope_schema_len);
    x->mem += head_bytes(h);
    ih->slot = i;
    return i;
}

/* Append one span record to a buffer. */
static bool rec_put(uint8_t **buf, size_t *len, size_t *cap, uint32_t head, const uint8_t *p, uint32_t n)
{
    struct ts_rec r = {.head = head, .len = n};

    if (!grow((void **)buf, cap, *len + sizeof(r) + n, 1)) {
        return false;
    }
    memcpy(*buf + *len, &r, sizeof(r));
    memcpy(*buf + *len + sizeof(r), p, n);
    *len += sizeof(r) + n;
    return true;
}

/* Add spans (records of buf) to the outgoing request; they keep their heads. */
static bool out_add(struct ts_ctx *x, const uint8_t *buf, size_t len, size_t n)
{
    struct ts_out *o = &x->out;

    if (!grow((void **)&o->buf, &o->cap, o->len + len, 1)) {
        return false;
    }
    memcpy(o->buf + o->len, buf, len);
    o->len += len;
    o->n += n;
    for (size_t off = 0; off < len;) {
        struct ts_rec r;
        memcpy(&r, buf + off, sizeof(r));
        x->hd[r.head].refs++;
        off += sizeof(r) + r.len;
    }
    return true;
}

/* Protobuf encoding helpers for the outgoing request. */
static size_t varint_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* A length-delimited field (one-byte tag) of n bytes: its whole size. */
static size_t ld_len(size_t n)
{
    return 1 + varint_len(n) + n;
}

static uint8_t *put_ld(uint8_t *p, uint32_t field, const uint8_t *data, size_t n)
{
    *p++ = (uint8_t)(field << 3 | 2);
    p = put_varint(p, n);
    if (n) {
        memcpy(p, data, n);
    }
    return p + n;
}

/* Build the outgoing request from the collected spans, in wire form: one
 * ResourceSpans with one ScopeSpans per head, and pass it on. */
static void out_send(struct ts_ctx *x)
{
    struct ts_out *o = &x->out;
    struct otc_instance *ins = x->ins;
    size_t total = 0, *ss_len = NULL, *rs_len = NULL, *fill = NULL;
    uint8_t *dst, *p, *base;
    struct otc_batch *b;

    if (o->n == 0) {
        goto done;
    }
    /* heads in first-seen order, with their span bytes */
    o->n_heads = 0;
    for (size_t off = 0; off < o->len;) {
        struct ts_rec r;
        struct ts_head *h;
        memcpy(&r, o->buf + off, sizeof(r));
        h = &x->hd[r.head];
        if (h->out_gen != o->gen) {
            if (!grow((void **)&o->heads, &o->cap_heads, o->n_heads + 1, sizeof(*o->heads))) {
                goto fail;
            }
            h->out_gen = o->gen;
            h->out_idx = (uint32_t)o->n_heads;
            o->heads[o->n_heads++] = r.head;
        }
        off += sizeof(r) + r.len;
    }
    ss_len = calloc(o->n_heads, sizeof(*ss_len));
    rs_len = calloc(o->n_heads, sizeof(*rs_len));
    fill = calloc(o->n_heads, sizeof(*fill));
    if (!ss_len || !rs_len || !fill) {
        goto fail;
    }
    for (size_t off = 0; off < o->len;) {
        struct ts_rec r;
        memcpy(&r, o->buf + off, sizeof(r));
        ss_len[x->hd[r.head].out_idx] += ld_len(r.len);
        off += sizeof(r) + r.len;
    }
    for (size_t i = 0; i < o->n_heads; i++) {
        const struct ts_head *h = &x->hd[o->heads[i]];
        if (h->has_scope) {
            ss_len[i] += ld_len(h->scope_len);
        }
        if (h->scope_schema_len) {
            ss_len[i] += ld_len(h->scope_schema_len);
        }
        rs_len[i] = ld_len(ss_len[i]) + (h->has_res ? ld_len(h->res_len) : 0) +
                    (h->res_schema_len ? ld_len(h->res_schema_len) : 0);
        total += ld_len(rs_len[i]);
    }
    if (!(b = otc_batch_alloc_raw(OTC_TRACES, total, &dst))) {
        goto fail;
    }
    /* each ScopeSpans' spans go at a known offset: containers first, then spans */
    p = dst;
    for (size_t i = 0; i < o->n_heads; i++) {
        const struct ts_head *h = &x->hd[o->heads[i]];
        const uint8_t *blob = h->blob;
        *p++ = 1 << 3 | 2; /* resource_spans */
        p = put_varint(p, rs_len[i]);
        if (h->has_res) {
            p = put_ld(p, 1, blob, h->res_len);
        }
        *p++ = 2 << 3 | 2; /* scope_spans */
        p = put_varint(p, ss_len[i]);
        base = p;
        if (h->has_scope) {
            p = put_ld(p, 1, blob + h->res_len + h->res_schema_len, h->scope_len);
        }
        fill[i] = (size_t)(p - dst); /* spans of this head are written here */
        p = base + ss_len[i] - (h->scope_schema_len ? ld_len(h->scope_schema_len) : 0);
        if (h->scope_schema_len) {
            p = put_ld(p, 3, blob + h->res_len + h->res_schema_len + h->scope_len, h->scope_schema_len);
        }
        if (h->res_schema_len) {
            p = put_ld(p, 3, blob + h->res_len, h->res_schema_len);
        }
    }
    for (size_t off = 0; off < o->len;) {
        struct ts_rec r;
        size_t i;
        memcpy(&r, o->buf + off, sizeof(r));
        i = x->hd[r.head].out_idx;
        fill[i] = (size_t)(put_ld(dst + fill[i], 2, o->buf + off + sizeof(r), r.len) - dst);
        off += sizeof(r) + r.len;
    }
    b->items = o->n;
    (void)otc_next(ins, b);
    goto done;
fail:
    otc_log_err(ins, "out of memory: %zu sampled spans lost", o->n);
    atomic_fetch_add(&ins->counters.dropped[OTC_TRACES], o->n);
done:
    for (size_t off = 0; off < o->len;) {
        struct ts_rec r;
        memcpy(&r, o->buf + off, sizeof(r));
        head_unref(x, r.head);
        off += sizeof(r) + r.len;
    }
    free(ss_len);
    free(rs_len);
    free(fill);
    o->len = 0;
    o->n = 0;
    o->gen++;
    if (o->cap > (1u << 20)) { /* a burst's buffer goes back */
        free(o->buf);
        o->buf = NULL;
        o->cap = 0;
    }
}

/* ------------------------------------------------------------ decisions */

static size_t trace_mem(const struct ts_trace *t)
{
    return t->cap + TRACE_OVERHEAD;
}

static void trace_free(struct ts_ctx *x, uint32_t slot)
{
    struct ts_trace *t = &x->tr[slot];

    for (size_t off = 0; off < t->len;) {
        struct ts_rec r;
        memcpy(&r, t->buf + off, sizeof(r));
        head_unref(x, r.head);
        off += sizeof(r) + r.len;
    }
    x->mem -= trace_mem(t);
    free(t->buf);
    t->buf = NULL;
    t->len = t->cap = 0;
    idmap_del(&x->map, t->id);
    t->n = 0;
    t->live = false;
    t->gen++;
    t->next_free = x->free_tr;
    x->free_tr = slot;
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
        struct ts_trace_view v = {.id = t->id, .n = t->n, .bytes = t->bytes, .facts = t->facts, .now_ns = now};
        d = ts_policies_decide(&x->pol, &v, x->sample_on_first_match);
    }
    if (why == TS_EVICT) {
        otc_metric_add(&x->m_evicted, 1);
        x->evicted_since_log++;
    }
    if (d == TS_SAMPLED) {
        if (!out_add(x, t->buf, t->len, t->n)) {
            otc_log_err(x->ins, "out of memory: a sampled trace of %u spans lost", t->n);
            atomic_fetch_add(&x->ins->counters.dropped[OTC_TRACES], t->n);
        }
        cache_put(&x->sampled, t->id);
        otc_metric_add(&x->m_sampled, 1);
        if (x->out.len >= OUT_MAX_BYTES) {
            trace_free(x, slot);
            out_send(x);
            return;
        }
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
    uint32_t slot;

    if (!d) {
        return false;
    }
    slot = d->slot;
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
                     (unsigned long long)x->max_memory_bytes, atomic_load(&x->live), x->mem);
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
    ins->timer_due_ns = due;
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
    t = &x->tr[slot];
    if (!fifo_push(&x->wait_q, now + (uint64_t)x->decision_wait_ns, slot, t->gen)) {
        return NONE;
    }
    x->free_tr = t->next_free;
    memcpy(t->id, id, 16);
    t->live = true;
    t->root_seen = false;
    t->n = 0;
    t->bytes = t->facts = 0;
    t->min_start = t->max_end = 0;
    idmap_put(&x->map, id, slot);
    x->mem += TRACE_OVERHEAD;
    atomic_fetch_add(&x->live, 1);
    otc_metric_add(&x->m_new_traces, 1);
    otc_metric_set(&x->m_on_memory, (int64_t)atomic_load(&x->live));
    return slot;
}

/* ------------------------------------------------------------ reading a request */

struct ts_walk {
    struct ts_ctx *x;
    bool           bad;
};

static int walk_resource(void *arg, const struct otc_pb_head *h)
{
    struct ts_walk *w = arg;
    struct ts_ctx *x = w->x;

    if (!grow((void **)&x->in_hd, &x->cap_in_hd, x->n_in_hd + 1, sizeof(*x->in_hd))) {
        return OTC_ENOMEM;
    }
    x->in_hd[x->n_in_hd] = (struct ts_in_head){
        .res = h->msg, .res_len = h->msg_len, .has_res = h->msg != NULL, .res_schema = h->schema_url,
        .res_schema_len = h->schema_url ? h->schema_url_len : 0,
        .facts = ts_resource_facts(&x->pol, h->msg, h->msg_len), .slot = NONE};
    x->n_in_hd++;
    return 0;
}

static int walk_scope(void *arg, const struct otc_pb_head *h)
{
    struct ts_walk *w = arg;
    struct ts_ctx *x = w->x;
    struct ts_in_head *cur;

    if (x->n_in_hd == 0) {
        return OTC_EINVAL;
    }
    cur = &x->in_hd[x->n_in_hd - 1];
    if (cur->scope_seen) { /* a second scope container: a head of its own */
        struct ts_in_head copy = *cur;
        if (!grow((void **)&x->in_hd, &x->cap_in_hd, x->n_in_hd + 1, sizeof(*x->in_hd))) {
            return OTC_ENOMEM;
        }
        copy.slot = NONE;
        x->in_hd[x->n_in_hd++] = copy;
        cur = &x->in_hd[x->n_in_hd - 1];
    }
    cur->scope = h->msg;
    cur->scope_len = h->msg_len;
    cur->has_scope = h->msg != NULL;
    cur->scope_seen = true;
    cur->scope_schema = h->schema_url;
    cur->scope_schema_len = h->schema_url ? h->schema_url_len : 0;
    return 0;
}

static int walk_item(void *arg, const uint8_t *p, size_t len)
{
    struct ts_walk *w = arg;
    struct ts_ctx *x = w->x;
    struct ts_wire_span sp;

    if (x->n_in_hd == 0 || len > UINT32_MAX || !ts_span_parse(p, len, &sp)) {
        return OTC_EINVAL;
    }
    if (!grow((void **)&x->in, &x->cap_in, x->n_in + 1, sizeof(*x->in))) {
        return OTC_ENOMEM;
    }
    x->in[x->n_in++] = (struct ts_in_span){
        .p = p, .len = (uint32_t)len, .head = (uint32_t)(x->n_in_hd - 1),
        .tid = sp.trace_id_len == 16 ? sp.trace_id : NULL, .facts = ts_span_facts(&x->pol, &sp),
        .start = sp.start, .end = sp.end, .root = sp.parent_len == 0};
    return 0;
}

/* Read every span of the request at buf into x->in (nothing held changes). */
static int read_request(struct ts_ctx *x, const uint8_t *buf, size_t len)
{
    struct ts_walk w = {.x = x};
    const struct otc_pb_visitor v = {.resource = walk_resource, .scope = walk_scope, .item = walk_item,
                                     .arg = &w, .heads = true};

    x->n_in = x->n_in_hd = 0;
    return otc_pb_walk(buf, len, &v, NULL);
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
         "Bytes the undecided traces take (their spans' serialized bytes and the processor's tables)", OTC_METRIC_GAUGE},
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
    size_t hint = 1024;
    int rc;

    x->ins = ins;
    x->free_tr = x->free_hd = NONE;
    if ((rc = ts_policies_parse(x->policies_cfg, &x->pol, err, sizeof(err))) != OTC_OK) {
        otc_log_err(ins, "%s", err);
        return rc;
    }
    if (x->expected_new_traces_per_sec > 0) {
        int64_t want = x->expected_new_traces_per_sec * (x->decision_wait_ns / 1000000000 + 1);
        hint = (size_t)(want < x->num_traces ? want : x->num_traces);
    }
    if (idmap_init(&x->map, (size_t)x->num_traces) != OTC_OK ||
        cache_init(&x->sampled, (size_t)x->sampled_cache_size) != OTC_OK ||
        cache_init(&x->not_sampled, (size_t)x->non_sampled_cache_size) != OTC_OK || !tr_reserve(x, hint)) {
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

/* Forward one span of the request now (no trace to wait for, or a cached sampled decision). */
static void pass_now(struct ts_ctx *x, const struct ts_in_span *s)
{
    uint32_t h = head_get(x, &x->in_hd[s->head]);
    struct ts_rec r = {.head = h, .len = s->len};

    if (h == NONE || !grow((void **)&x->out.buf, &x->out.cap, x->out.len + sizeof(r) + s->len, 1)) {
        atomic_fetch_add(&x->ins->counters.dropped[OTC_TRACES], 1);
        return;
    }
    memcpy(x->out.buf + x->out.len, &r, sizeof(r));
    memcpy(x->out.buf + x->out.len + sizeof(r), s->p, s->len);
    x->out.len += sizeof(r) + s->len;
    x->out.n++;
    x->hd[h].refs++;
    if (x->out.len >= OUT_MAX_BYTES) {
        out_send(x);
    }
}

/* Hold one span of the request in its trace. */
static void hold(struct ts_ctx *x, const struct ts_in_span *s, uint64_t now)
{
    uint32_t slot = idmap_get(&x->map, s->tid), h;
    struct ts_trace *t;
    size_t cap;

    if (slot == NONE) {
        while (atomic_load(&x->live) >= (size_t)x->num_traces && evict_oldest(x, now)) {
        }
        if ((slot = trace_new(x, s->tid, now)) == NONE) {
            atomic_fetch_add(&x->ins->counters.dropped[OTC_TRACES], 1);
            otc_log_err(x->ins, "out of memory: a span lost");
            return;
        }
    }
    t = &x->tr[slot];
    cap = t->cap;
    if ((h = head_get(x, &x->in_hd[s->head])) == NONE || !rec_put(&t->buf, &t->len, &t->cap, h, s->p, s->len)) {
        atomic_fetch_add(&x->ins->counters.dropped[OTC_TRACES], 1);
        otc_log_err(x->ins, "out of memory: a span lost");
        return;
    }
    x->mem += t->cap - cap;
    x->hd[h].refs++;
    t->n++;
    t->bytes += s->len;
    t->facts |= s->facts | x->in_hd[s->head].facts;
    if (t->min_start == 0 || s->start < t->min_start) {
        t->min_start = s->start;
    }
    if (t->max_end == 0 || s->end > t->max_end) {
        t->max_end = s->end;
    }
    if (x->pol.latency_mask) {
        t->facts |= ts_latency_facts(&x->pol, t->min_start, t->max_end);
    }
    if (x->wait_after_root_ns > 0 && !t->root_seen && s->root) {
        t->root_seen = true;
        (void)fifo_push(&x->root_q, now + (uint64_t)x->wait_after_root_ns, slot, t->gen);
    }
    if (x->max_trace_bytes && t->bytes > x->max_trace_bytes) {
        note_oversize(x, slot);
    }
}

static int ts_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct ts_ctx *x = vctx;
    uint64_t now = otc_now_ns();
    const uint8_t *data;
    size_t len, early = 0;
    uint8_t *packed = NULL;
    int rc;

    if (b->signal != OTC_TRACES) {
        return otc_next(ins, b);
    }
    /* the received bytes (a stage before may have rewritten and re-encoded them) */
    if (otc_batch_bytes(b, &data, &len) != OTC_OK) {
        return otc_next(ins, b);
    }
    if ((rc = read_request(x, data, len)) == OTC_EINVAL && otc_batch_msg(b)) {
        /* bytes a decode had to merge (a head given twice): read the decoded form, packed */
        const ProtobufCMessage *m = otc_batch_msg(b);
        len = protobuf_c_message_get_packed_size(m);
        if ((packed = malloc(len ? len : 1))) {
            protobuf_c_message_pack(m, packed);
            rc = read_request(x, packed, len);
        }
    }
    if (rc != OTC_OK) {
        otc_log_err(ins, "a request of %zu spans could not be read (%s): passed on undecided", b->items,
                    otc_strerror(rc));
        free(packed);
        return otc_next(ins, b);
    }
    for (size_t i = 0; i < x->n_in; i++) {
        const struct ts_in_span *s = &x->in[i];
        if (!s->tid) { /* no trace to wait for: pass it on */
            pass_now(x, s);
        } else if (cache_has(&x->sampled, s->tid)) {
            early++;
            pass_now(x, s);
        } else if (cache_has(&x->not_sampled, s->tid)) {
            early++;
            atomic_fetch_add(&ins->counters.dropped[OTC_TRACES], 1);
        } else {
            hold(x, s, now);
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
    /* the request lets go of its heads: those no span kept are freed */
    for (size_t i = 0; i < x->n_in_hd; i++) {
        if (x->in_hd[i].slot != NONE) {
            head_unref(x, x->in_hd[i].slot);
            x->in_hd[i].slot = NONE;
        }
    }
    while (x->max_memory_bytes && x->mem > x->max_memory_bytes && evict_oldest(x, now)) {
    }
    out_send(x);
    free(packed);
    otc_batch_unref(b); /* every span kept was copied */
    otc_metric_set(&x->m_bytes, (int64_t)x->mem);
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
    otc_metric_set(&x->m_bytes, (int64_t)x->mem);
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
    otc_metric_set(&x->m_bytes, (int64_t)x->mem);
    rearm(ins, x);
    return OTC_OK;
}

static void ts_destroy(void *vctx)
{
    struct ts_ctx *x = vctx;

    for (size_t i = 0; i < x->n_tr; i++) {
        free(x->tr[i].buf);
    }
    free(x->tr);
    for (size_t i = 0; i < x->n_hd; i++) {
        free(x->hd[i].blob);
    }
    free(x->hd);
    free(x->out.buf);
    free(x->out.heads);
    free(x->in);
    free(x->in_hd);
    free(x->wait_q.v);
    free(x->root_q.v);
    free(x->oversize);
    idmap_free(&x->map);
    cache_free(&x->sampled);
    cache_free(&x->not_sampled);
    ts_policies_free(&x->pol);
    x->tr = NULL;
    x->hd = NULL;
    x->out.buf = NULL;
    x->out.heads = NULL;
    x->in = NULL;
    x->in_hd = NULL;
    x->wait_q.v = x->root_q.v = NULL;
    x->oversize = NULL;
    x->n_tr = x->n_hd = 0;
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
