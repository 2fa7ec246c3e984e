/* tail_sampling.c - the `tail_sampling` processor: holds the spans of each trace
 * for decision_wait, then decides the whole trace with otelcol-contrib's policies
 * (tail_sampling_policy.c) and forwards sampled traces as new requests grouped by
 * resource and scope. Runs on the pipeline worker thread (consume, timer, flush);
 * admit() alone runs on receiver threads. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_otlp.h"
#include "otc/otc_pb_walk.h"
#include "tail_sampling.h"
#include "tail_sampling_policy.h"

#define NONE UINT32_MAX
#define TS_MAX_SHARDS 64
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
    size_t     n;    /* entries in use */
    bool       grows; /* doubles past half full (trace tables); caches stay at their size */
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
    m->n = 0;
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

/* Twice the room, every entry placed again; false on ENOMEM (the old table stays). */
static bool idmap_grow(struct ts_idmap *m)
{
    struct ts_idmap old = *m;

    if (idmap_init(m, (old.mask + 1)) != OTC_OK) {
        idmap_free(m);
        *m = old;
        return false;
    }
    m->grows = true;
    for (size_t i = 0; i <= old.mask; i++) {
        if (old.vals[i] != NONE) {
            size_t j = idmap_find(m, old.keys[i]);
            memcpy(m->keys[j], old.keys[i], 16);
            m->vals[j] = old.vals[i];
            m->n++;
        }
    }
    idmap_free(&old);
    return true;
}

/* false when a growing table is full and cannot grow (ENOMEM). */
static bool idmap_put(struct ts_idmap *m, const uint8_t *id, uint32_t v)
{
    size_t i;

    if (m->grows && (m->n + 1) * 2 > m->mask + 1 && !idmap_grow(m)) {
        return false;
    }
    i = idmap_find(m, id);
    if (m->vals[i] == NONE) {
        m->n++;
    }
    memcpy(m->keys[i], id, 16);
    m->vals[i] = v;
    return true;
}

static void idmap_del(struct ts_idmap *m, const uint8_t *id)
{
    size_t i = idmap_find(m, id), j = i;

    if (m->vals[i] == NONE) {
        return;
    }
    m->n--;
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
    uint32_t       head;  /* index into the request's heads */
    uint32_t       shard;
    const uint8_t *tid;   /* NULL unless 16 bytes */
    uint64_t       facts, start, end;
    bool           root;
};

struct ts_in_head {
    const uint8_t *res, *res_schema, *scope, *scope_schema;
    size_t         res_len, res_schema_len, scope_len, scope_schema_len;
    bool           has_res, has_scope, scope_seen;
    uint64_t       facts;  /* of the resource */
    uint32_t       slot;   /* its ts_head in the shard being filled, NONE before */
};

/* The request being consumed, as read (one per consume call). */
struct ts_req {
    struct ts_in_span        *in;
    size_t                    n_in, cap_in;
    struct ts_in_head        *in_hd;
    size_t                    n_in_hd, cap_in_hd;
    const struct ts_policies *pol;
    struct ts_scratch         scratch;
    uint32_t                  n_shards;
};

struct ts_ctx;

/* The traces whose ids hash to one shard, with everything they hold; its lock
 * is taken by whichever pipeline worker consumes spans of its traces or runs
 * the timer. */
struct ts_shard {
    pthread_mutex_t      lock;
    bool                 lock_ready;
    struct ts_ctx       *c;
    struct ts_idmap      map;
    struct ts_trace     *tr;
    size_t               n_tr;
    uint32_t             free_tr;
    struct ts_head      *hd;
    size_t               n_hd, cap_hd;
    uint32_t             free_hd;
    struct ts_fifo       wait_q;     /* by first arrival + decision_wait */
    struct ts_fifo       root_q;     /* by root arrival + decision_wait_after_root_received */
    struct ts_cache      sampled, not_sampled;
    struct ts_out        out;
    struct ts_due       *oversize;   /* traces over maximum_trace_size_bytes in this request */
    size_t               n_oversize, cap_oversize;
    _Atomic uint64_t     next_due;   /* the earliest decision it holds (0: none) */
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
    int64_t              shards;
    struct otc_cfg_tree *policies_cfg;
    /* runtime */
    struct otc_instance *ins;
    struct ts_policies   pol;
    struct ts_shard     *sh;
    size_t               n_sh;
    atomic_size_t        live;       /* traces held (read by admit) */
    atomic_size_t        mem;        /* bytes held: span buffers, heads, trace slots */
    atomic_uint_fast64_t evicted_since_log;
    _Atomic uint64_t     last_evict_log_ns;
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
    {OTC_CFG_INT, "shards", "0", OFF(shards), OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0, TS_MAX_SHARDS, NULL,
     "otelc: traces are split by id over this many independently locked tables, so that the "
     "pipeline's workers hold and decide them in parallel; num_traces is shared by all "
     "(0: one when the pipeline has one worker, else four per worker)"},
    {OTC_CFG_TREE, "policies", NULL, OFF(policies_cfg), 0, 0, 0, NULL,
     "the sampling policies, as otelcol-contrib writes them: always_sample, latency, "
     "numeric_attribute, string_attribute, boolean_attribute, probabilistic, status_code, "
     "rate_limiting, bytes_limiting, span_count, trace_state, trace_flags, ottl_condition, and, "
     "composite, not, drop"},
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
static struct ts_due *fifo_head(struct ts_shard *x, struct ts_fifo *f)
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

static void head_unref(struct ts_shard *x, uint32_t i)
{
    struct ts_head *h = &x->hd[i];

    if (--h->refs) {
        return;
    }
    x->c->mem -= head_bytes(h);
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
static uint32_t head_get(struct ts_shard *x, struct ts_in_head *ih)
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
    x->c->mem += head_bytes(h);
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
static bool out_add(struct ts_shard *x, const uint8_t *buf, size_t len, size_t n)
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
static void out_send(struct ts_shard *x)
{
    struct ts_out *o = &x->out;
    struct otc_instance *ins = x->c->ins;
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

static void trace_free(struct ts_shard *x, uint32_t slot)
{
    struct ts_trace *t = &x->tr[slot];

    for (size_t off = 0; off < t->len;) {
        struct ts_rec r;
        memcpy(&r, t->buf + off, sizeof(r));
        head_unref(x, r.head);
        off += sizeof(r) + r.len;
    }
    x->c->mem -= trace_mem(t);
    free(t->buf);
    t->buf = NULL;
    t->len = t->cap = 0;
    idmap_del(&x->map, t->id);
    t->n = 0;
    t->live = false;
    t->gen++;
    t->next_free = x->free_tr;
    x->free_tr = slot;
    atomic_fetch_sub(&x->c->live, 1);
    otc_metric_set(&x->c->m_on_memory, (int64_t)atomic_load(&x->c->live));
}

enum ts_why { TS_DUE, TS_EVICT, TS_OVERSIZE, TS_SHUTDOWN_DROP };

static void decide(struct ts_shard *x, uint32_t slot, uint64_t now, enum ts_why why)
{
    struct ts_trace *t = &x->tr[slot];
    enum ts_decision d;

    if (why == TS_OVERSIZE || why == TS_SHUTDOWN_DROP) {
        d = TS_NOT_SAMPLED;
        if (why == TS_OVERSIZE) {
            otc_metric_add(&x->c->m_oversize, 1);
        }
    } else {
        struct ts_trace_view v = {.id = t->id, .n = t->n, .bytes = t->bytes, .facts = t->facts, .now_ns = now};
        d = ts_policies_decide(&x->c->pol, &v, x->c->sample_on_first_match);
    }
    if (why == TS_EVICT) {
        otc_metric_add(&x->c->m_evicted, 1);
        atomic_fetch_add(&x->c->evicted_since_log, 1);
    }
    if (d == TS_SAMPLED) {
        if (!out_add(x, t->buf, t->len, t->n)) {
            otc_log_err(x->c->ins, "out of memory: a sampled trace of %u spans lost", t->n);
            atomic_fetch_add(&x->c->ins->counters.dropped[OTC_TRACES], t->n);
        }
        cache_put(&x->sampled, t->id);
        otc_metric_add(&x->c->m_sampled, 1);
        if (x->out.len >= OUT_MAX_BYTES) {
            trace_free(x, slot);
            out_send(x);
            return;
        }
    } else {
        atomic_fetch_add(&x->c->ins->counters.dropped[OTC_TRACES], t->n);
        cache_put(&x->not_sampled, t->id);
        otc_metric_add(d == TS_DROPPED ? &x->c->m_dropped : &x->c->m_not_sampled, 1);
    }
    trace_free(x, slot);
}

/* The oldest held trace, decided now (num_traces or maximum_memory_bytes reached). */
static bool evict_oldest(struct ts_shard *x, uint64_t now)
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
    uint64_t last = atomic_load(&x->last_evict_log_ns);

    if (atomic_load(&x->evicted_since_log) && now - last >= EVICT_LOG_NS &&
        atomic_compare_exchange_strong(&x->last_evict_log_ns, &last, now)) {
        otc_log_warn(x->ins,
                     "%llu traces decided before decision_wait because num_traces (%lld) or "
                     "maximum_memory_bytes (%llu) was reached; %zu traces and %zu bytes held",
                     (unsigned long long)atomic_exchange(&x->evicted_since_log, 0), (long long)x->num_traces,
                     (unsigned long long)x->max_memory_bytes, atomic_load(&x->live), atomic_load(&x->mem));
    }
}

/* The shard's earliest decision, published for the timer (under its lock). */
static uint64_t shard_due(struct ts_shard *x)
{
    struct ts_due *a = fifo_head(x, &x->wait_q), *b = fifo_head(x, &x->root_q);
    uint64_t due = 0;

    if (a) {
        due = a->due_ns;
    }
    if (b && (due == 0 || b->due_ns < due)) {
        due = b->due_ns;
    }
    atomic_store(&x->next_due, due);
    return due;
}

/* Bring the instance's timer forward to due (0: nothing), never later. */
static void timer_lower(struct otc_instance *ins, uint64_t due)
{
    uint64_t cur = atomic_load(&ins->timer_due_ns);

    while (due && (cur == 0 || due < cur) && !atomic_compare_exchange_weak(&ins->timer_due_ns, &cur, due)) {
    }
}

/* Make room for want trace slots; the new ones go on the free list. */
static bool tr_reserve(struct ts_shard *x, size_t want)
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

static uint32_t trace_new(struct ts_shard *x, const uint8_t *id, uint64_t now)
{
    uint32_t slot;
    struct ts_trace *t;

    if (x->free_tr == NONE && !tr_reserve(x, x->n_tr + 1)) {
        return NONE;
    }
    slot = x->free_tr;
    t = &x->tr[slot];
    if (!fifo_push(&x->wait_q, now + (uint64_t)x->c->decision_wait_ns, slot, t->gen)) {
        return NONE;
    }
    x->free_tr = t->next_free;
    memcpy(t->id, id, 16);
    t->live = true;
    t->root_seen = false;
    t->n = 0;
    t->bytes = t->facts = 0;
    t->min_start = t->max_end = 0;
    if (!idmap_put(&x->map, id, slot)) {
        t->live = false;
        t->next_free = x->free_tr;
        x->free_tr = slot;
        t->gen++; /* its wait_q entry is stale */
        return NONE;
    }
    x->c->mem += TRACE_OVERHEAD;
    atomic_fetch_add(&x->c->live, 1);
    otc_metric_add(&x->c->m_new_traces, 1);
    otc_metric_set(&x->c->m_on_memory, (int64_t)atomic_load(&x->c->live));
    return slot;
}

/* ------------------------------------------------------------ reading a request */

static int walk_resource(void *arg, const struct otc_pb_head *h)
{
    struct ts_req *q = arg;

    if (!grow((void **)&q->in_hd, &q->cap_in_hd, q->n_in_hd + 1, sizeof(*q->in_hd))) {
        return OTC_ENOMEM;
    }
    q->in_hd[q->n_in_hd] = (struct ts_in_head){
        .res = h->msg, .res_len = h->msg_len, .has_res = h->msg != NULL, .res_schema = h->schema_url,
        .res_schema_len = h->schema_url ? h->schema_url_len : 0,
        .facts = ts_resource_facts(q->pol, h->msg, h->msg_len, &q->scratch), .slot = NONE};
    q->n_in_hd++;
    return 0;
}

static int walk_scope(void *arg, const struct otc_pb_head *h)
{
    struct ts_req *q = arg;
    struct ts_in_head *cur;

    if (q->n_in_hd == 0) {
        return OTC_EINVAL;
    }
    cur = &q->in_hd[q->n_in_hd - 1];
    if (cur->scope_seen) { /* a second scope container: a head of its own */
        struct ts_in_head copy = *cur;
        if (!grow((void **)&q->in_hd, &q->cap_in_hd, q->n_in_hd + 1, sizeof(*q->in_hd))) {
            return OTC_ENOMEM;
        }
        copy.slot = NONE;
        q->in_hd[q->n_in_hd++] = copy;
        cur = &q->in_hd[q->n_in_hd - 1];
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
    struct ts_req *q = arg;
    struct ts_wire_span sp;
    const uint8_t *tid;

    if (q->n_in_hd == 0 || len > UINT32_MAX || !ts_span_parse(p, len, &sp)) {
        return OTC_EINVAL;
    }
    if (!grow((void **)&q->in, &q->cap_in, q->n_in + 1, sizeof(*q->in))) {
        return OTC_ENOMEM;
    }
    tid = sp.trace_id_len == 16 ? sp.trace_id : NULL;
    q->in[q->n_in++] = (struct ts_in_span){
        .p = p, .len = (uint32_t)len, .head = (uint32_t)(q->n_in_hd - 1),
        .shard = tid ? (uint32_t)((id_hash(tid) >> 32) % q->n_shards) : 0, .tid = tid,
        .facts = ts_span_facts(q->pol, &sp, &q->scratch), .start = sp.start, .end = sp.end,
        .root = sp.parent_len == 0};
    if (q->pol->ottl_mask) {
        const struct ts_in_head *h = &q->in_hd[q->n_in_hd - 1];
        q->in[q->n_in - 1].facts |= ts_ottl_facts(q->pol, p, len, h->has_res ? h->res : NULL, h->res_len,
                                                  h->has_scope ? h->scope : NULL, h->scope_len);
    }
    return 0;
}

/* Read every span of the request at buf into q (nothing held changes). */
static int read_request(struct ts_req *q, const uint8_t *buf, size_t len)
{
    const struct otc_pb_visitor v = {.resource = walk_resource, .scope = walk_scope, .item = walk_item,
                                     .arg = q, .heads = true};

    q->n_in = q->n_in_hd = 0;
    return otc_pb_walk(buf, len, &v, NULL);
}

static void req_free(struct ts_req *q)
{
    free(q->in);
    free(q->in_hd);
    ts_scratch_free(&q->scratch);
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

static void shard_free(struct ts_shard *x)
{
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
    free(x->wait_q.v);
    free(x->root_q.v);
    free(x->oversize);
    idmap_free(&x->map);
    cache_free(&x->sampled);
    cache_free(&x->not_sampled);
    if (x->lock_ready) {
        pthread_mutex_destroy(&x->lock);
    }
    memset(x, 0, sizeof(*x));
}

static int shard_init(struct ts_ctx *c, struct ts_shard *x, size_t n)
{
    size_t per = ((size_t)c->num_traces + n - 1) / n, hint = 1024 / n + 1;

    x->c = c;
    x->free_tr = x->free_hd = NONE;
    if (pthread_mutex_init(&x->lock, NULL) != 0) {
        return OTC_ENOMEM;
    }
    x->lock_ready = true;
    if (c->expected_new_traces_per_sec > 0) {
        int64_t want = c->expected_new_traces_per_sec * (c->decision_wait_ns / 1000000000 + 1);
        hint = (size_t)(want < c->num_traces ? want : c->num_traces) / n + 1;
    }
    x->map.grows = true; /* traces need not spread evenly over the shards */
    if (idmap_init(&x->map, per) != OTC_OK ||
        cache_init(&x->sampled, ((size_t)c->sampled_cache_size + n - 1) / n) != OTC_OK ||
        cache_init(&x->not_sampled, ((size_t)c->non_sampled_cache_size + n - 1) / n) != OTC_OK ||
        !tr_reserve(x, hint)) {
        return OTC_ENOMEM;
    }
    return OTC_OK;
}

static int ts_init(struct otc_instance *ins, void *vctx)
{
    struct ts_ctx *x = vctx;
    char err[256];
    int rc;

    x->ins = ins;
    if ((rc = ts_policies_parse(x->policies_cfg, &x->pol, err, sizeof(err))) != OTC_OK) {
        otc_log_err(ins, "%s", err);
        return rc;
    }
    x->n_sh = (size_t)x->shards;
    if (x->n_sh == 0) {
        unsigned w = otc_stage_workers(ins);
        x->n_sh = w <= 1 ? 1 : (4 * w > TS_MAX_SHARDS ? TS_MAX_SHARDS : 4 * w);
    }
    if (!(x->sh = calloc(x->n_sh, sizeof(*x->sh)))) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < x->n_sh; i++) {
        if ((rc = shard_init(x, &x->sh[i], x->n_sh)) != OTC_OK) {
            return rc;
        }
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

static void note_oversize(struct ts_shard *x, uint32_t slot)
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
static void pass_now(struct ts_shard *x, struct ts_req *q, const struct ts_in_span *s)
{
    uint32_t h = head_get(x, &q->in_hd[s->head]);
    struct ts_rec r = {.head = h, .len = s->len};

    if (h == NONE || !grow((void **)&x->out.buf, &x->out.cap, x->out.len + sizeof(r) + s->len, 1)) {
        atomic_fetch_add(&x->c->ins->counters.dropped[OTC_TRACES], 1);
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
static void hold(struct ts_shard *x, struct ts_req *q, const struct ts_in_span *s, uint64_t now)
{
    struct ts_ctx *c = x->c;
    uint32_t slot = idmap_get(&x->map, s->tid), h;
    struct ts_trace *t;
    size_t cap;

    if (slot == NONE) {
        while (atomic_load(&c->live) >= (size_t)c->num_traces && evict_oldest(x, now)) {
        }
        if ((slot = trace_new(x, s->tid, now)) == NONE) {
            atomic_fetch_add(&c->ins->counters.dropped[OTC_TRACES], 1);
            otc_log_err(c->ins, "out of memory: a span lost");
            return;
        }
    }
    t = &x->tr[slot];
    cap = t->cap;
    if ((h = head_get(x, &q->in_hd[s->head])) == NONE || !rec_put(&t->buf, &t->len, &t->cap, h, s->p, s->len)) {
        atomic_fetch_add(&c->ins->counters.dropped[OTC_TRACES], 1);
        otc_log_err(c->ins, "out of memory: a span lost");
        return;
    }
    c->mem += t->cap - cap;
    x->hd[h].refs++;
    t->n++;
    t->bytes += s->len;
    t->facts |= s->facts | q->in_hd[s->head].facts;
    if (t->min_start == 0 || s->start < t->min_start) {
        t->min_start = s->start;
    }
    if (t->max_end == 0 || s->end > t->max_end) {
        t->max_end = s->end;
    }
    if (c->pol.latency_mask) {
        t->facts |= ts_latency_facts(&c->pol, t->min_start, t->max_end);
    }
    if (c->wait_after_root_ns > 0 && !t->root_seen && s->root) {
        t->root_seen = true;
        (void)fifo_push(&x->root_q, now + (uint64_t)c->wait_after_root_ns, slot, t->gen);
    }
    if (c->max_trace_bytes && t->bytes > c->max_trace_bytes) {
        note_oversize(x, slot);
    }
}

/* The spans of the request that belong to shard x, in order (its lock held). */
static size_t shard_consume(struct ts_shard *x, struct ts_req *q, const uint32_t *which, size_t n, uint64_t now)
{
    struct ts_ctx *c = x->c;
    size_t early = 0;

    for (size_t k = 0; k < n; k++) {
        const struct ts_in_span *s = &q->in[which[k]];
        if (!s->tid) { /* no trace to wait for: pass it on */
            pass_now(x, q, s);
        } else if (cache_has(&x->sampled, s->tid)) {
            early++;
            pass_now(x, q, s);
        } else if (cache_has(&x->not_sampled, s->tid)) {
            early++;
            atomic_fetch_add(&c->ins->counters.dropped[OTC_TRACES], 1);
        } else {
            hold(x, q, s, now);
        }
    }
    for (size_t i = 0; i < x->n_oversize; i++) {
        const struct ts_trace *t = &x->tr[x->oversize[i].slot];
        if (t->live && t->gen == x->oversize[i].gen) {
            decide(x, x->oversize[i].slot, now, TS_OVERSIZE);
        }
    }
    x->n_oversize = 0;
    /* the request lets go of its heads: those no span kept are freed */
    for (size_t i = 0; i < q->n_in_hd; i++) {
        if (q->in_hd[i].slot != NONE) {
            head_unref(x, q->in_hd[i].slot);
            q->in_hd[i].slot = NONE;
        }
    }
    while (c->max_memory_bytes && atomic_load(&c->mem) > c->max_memory_bytes && evict_oldest(x, now)) {
    }
    out_send(x);
    timer_lower(c->ins, shard_due(x));
    return early;
}

static int ts_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct ts_ctx *x = vctx;
    struct ts_req q = {.pol = &x->pol, .n_shards = (uint32_t)x->n_sh};
    size_t start[TS_MAX_SHARDS + 1] = {0}, fill[TS_MAX_SHARDS];
    uint32_t *order;
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
    if ((rc = read_request(&q, data, len)) == OTC_EINVAL && otc_batch_msg(b)) {
        /* bytes a decode had to merge (a head given twice): read the decoded form, packed */
        const ProtobufCMessage *m = otc_batch_msg(b);
        len = protobuf_c_message_get_packed_size(m);
        if ((packed = malloc(len ? len : 1))) {
            protobuf_c_message_pack(m, packed);
            rc = read_request(&q, packed, len);
        }
    }
    if (rc != OTC_OK) {
        otc_log_err(ins, "a request of %zu spans could not be read (%s): passed on undecided", b->items,
                    otc_strerror(rc));
        req_free(&q);
        free(packed);
        return otc_next(ins, b);
    }
    /* the spans' indices grouped by shard, in request order within each */
    if (!(order = malloc((q.n_in ? q.n_in : 1) * sizeof(*order)))) {
        otc_log_err(ins, "out of memory: a request of %zu spans passed on undecided", b->items);
        req_free(&q);
        free(packed);
        return otc_next(ins, b);
    }
    for (size_t k = 0; k < q.n_in; k++) {
        start[q.in[k].shard + 1]++;
    }
    for (uint32_t i = 0; i < x->n_sh; i++) {
        start[i + 1] += start[i];
        fill[i] = start[i];
    }
    for (size_t k = 0; k < q.n_in; k++) {
        order[fill[q.in[k].shard]++] = (uint32_t)k;
    }
    for (size_t i = 0; i < q.n_in_hd; i++) {
        q.in_hd[i].slot = NONE;
    }
    for (uint32_t i = 0; i < x->n_sh; i++) {
        if (start[i + 1] == start[i]) {
            continue;
        }
        pthread_mutex_lock(&x->sh[i].lock);
        early += shard_consume(&x->sh[i], &q, order + start[i], start[i + 1] - start[i], now);
        pthread_mutex_unlock(&x->sh[i].lock);
    }
    free(order);
    if (early) {
        otc_metric_add(&x->m_early, (int64_t)early);
    }
    req_free(&q);
    free(packed);
    otc_batch_unref(b); /* every span kept was copied */
    otc_metric_set(&x->m_bytes, (int64_t)atomic_load(&x->mem));
    log_evictions(x, now);
    return OTC_OK;
}

/* Decide every trace of shard x due by now (or all of them, when all is set). */
static void decide_due(struct ts_shard *x, uint64_t now, bool all, enum ts_why why)
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

/* Decide what is due in every shard; then the timer's next due time. At most
 * a second away while traces are held, so a due time a racing consume lowered
 * and this run overwrote is late by a second at worst (otelcol ticks each second). */
static void run_due(struct ts_ctx *x, uint64_t now, bool all, enum ts_why why)
{
    uint64_t next = 0;

    for (size_t i = 0; i < x->n_sh; i++) {
        struct ts_shard *s = &x->sh[i];
        uint64_t due = atomic_load(&s->next_due);
        if (all || (due && due <= now)) {
            pthread_mutex_lock(&s->lock);
            decide_due(s, now, all, why);
            out_send(s);
            due = shard_due(s);
            pthread_mutex_unlock(&s->lock);
        }
        if (due && (next == 0 || due < next)) {
            next = due;
        }
    }
    if (next && atomic_load(&x->live) && next > now + 1000000000u) {
        next = now + 1000000000u;
    }
    atomic_store(&x->ins->timer_due_ns, next);
    /* a consume that published its shard's due time before the store above has
     * lowered the timer before it too: lower it again (one after sees our value) */
    for (size_t i = 0; i < x->n_sh; i++) {
        timer_lower(x->ins, atomic_load(&x->sh[i].next_due));
    }
}

static int ts_timer(struct otc_instance *ins, void *vctx, uint64_t now_ns)
{
    struct ts_ctx *x = vctx;

    (void)ins;
    run_due(x, now_ns, false, TS_DUE);
    otc_metric_set(&x->m_bytes, (int64_t)atomic_load(&x->mem));
    log_evictions(x, now_ns);
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
    run_due(x, otc_now_ns(), true, x->drop_pending_on_shutdown ? TS_SHUTDOWN_DROP : TS_DUE);
    otc_metric_set(&x->m_bytes, (int64_t)atomic_load(&x->mem));
    return OTC_OK;
}

static void ts_destroy(void *vctx)
{
    struct ts_ctx *x = vctx;

    for (size_t i = 0; x->sh && i < x->n_sh; i++) {
        shard_free(&x->sh[i]);
    }
    free(x->sh);
    x->sh = NULL;
    x->n_sh = 0;
    ts_policies_free(&x->pol);
}

const struct otc_component_ops otc_processor_tail_sampling_ops = {
    .type = "tail_sampling",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_TRACES,
    .mutates = false,
    .concurrent = true, /* one lock per shard; the policies' rate state has its own */
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
