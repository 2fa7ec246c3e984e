/* dedup.c - the `dedup` processor: drops exact duplicates that retries and
 * at-least-once delivery produce. Each item gets a 128-bit identity (XXH3-128)
 * checked against a bounded table of recent keys (dedup_table.c); a batch
 * without duplicates passes untouched. Items of a request not yet decoded are
 * keyed from its bytes, with the same identity, and duplicates dropped from
 * them (the traversal layer, otc_pb_walk.h). Runs on the pipeline's workers,
 * several at once: large tables are split into shards by key, each with its
 * own lock. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* XXH3 inline; on x86-64 also its AVX2 stripe functions, for long inputs on
 * processors that have AVX2 (the same hash values, computed twice as wide). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define XXH_DISPATCH_AVX2 1
#define XXH_TARGET_AVX2 __attribute__((__target__("avx2")))
#define XXH_ACC_ALIGN 32 /* the accumulators, as the AVX2 functions load them */
#endif
#define XXH_INLINE_ALL
#include <xxhash.h>
#if defined(XXH_DISPATCH_AVX2) && XXH_VERSION_NUMBER == 801 /* its internal names */
#define DD_HASH_AVX2 1
#endif
#ifdef XXH_DISPATCH_AVX2
#define DD_COPY_AVX2 1
#endif

#include "otc/otc_otlp.h"
#include "otc/otc_pb_walk.h"
#include "dedup.h"
#include "dedup_table.h"

/* AnyValue nesting deeper than this is hashed as an opaque marker. */
#define DEDUP_MAX_DEPTH 64

typedef Opentelemetry__Proto__Resource__V1__Resource          dd_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope dd_scope;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint    dd_number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint dd_histogram_point;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint dd_exp_point;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint   dd_summary_point;

/* Canonical byte encoding of the fields that make an item's identity. */
struct dd_enc {
    uint8_t *p;
    size_t   len;
    size_t   cap;
    bool     failed; /* out of memory: the batch is passed on unchecked */
};

/* What one call works in: the keys of a request's items, their verdicts, and
 * the canonical encoding buffer. Kept warm in a small pool, one per worker. */
struct dd_scratch {
    atomic_flag           busy;
    struct otc_dedup_key *keys;   /* one per item of the current batch */
    uint8_t              *dup;    /* 1 = duplicate, same order as keys */
    uint32_t             *order;  /* sharded tables: item indexes grouped by shard */
    struct otc_dedup_key *gkeys;  /* ... their keys, */
    uint8_t              *gdup;   /* ... and verdicts in that order */
    size_t                cap;    /* entries of each array */
    struct dd_enc         enc;
};

/* A part of the remembered keys, chosen by the key's bits, with its own lock:
 * the pipeline's workers check keys of different shards at the same time. */
struct dd_shard {
    pthread_mutex_t        lock;
    struct otc_dedup_table table;
};

#define DD_MAX_SHARDS 16
#define DD_SHARD_MIN_ENTRIES 65536 /* fewer keys per shard: one table, exact FIFO order */
#define DD_POOL 16 /* scratch kept warm: one per pipeline worker, at most */

struct dedup_ctx {
    int64_t                window_ns;
    int64_t                max_entries;
    struct otc_strlist     signals;
    unsigned               sig_mask;
    struct dd_shard        shards[DD_MAX_SHARDS];
    unsigned               n_shards;
    size_t                 table_bytes;
    struct dd_scratch      pool[DD_POOL];
};

#define OFF(f) offsetof(struct dedup_ctx, f)

static const struct otc_config_entry dedup_config[] = {
    {OTC_CFG_DURATION, "window", "30s", OFF(window_ns), OTC_CFG_F_MIN, 0, 0, NULL,
     "an item seen again within this time of its first sighting is a duplicate"},
    {OTC_CFG_INT, "max_entries", "1048576", OFF(max_entries), OTC_CFG_F_MIN | OTC_CFG_F_MAX,
     1, OTC_DEDUP_MAX_ENTRIES, NULL,
     "keys remembered (40 bytes each, allocated at start); when full the oldest leave first"},
    {OTC_CFG_STRLIST, "signals", NULL, OFF(signals), 0, 0, 0, NULL,
     "signals to deduplicate: traces, metrics, logs (default: all)"},
    OTC_CFG_END,
};

/* ------------------------------------------------------------ config */

static int signals_mask(const struct otc_strlist *l, unsigned *mask, char *err, size_t errlen)
{
    *mask = 0;
    for (size_t i = 0; i < l->n; i++) {
        enum otc_signal s;
        if (otc_signal_parse(l->v[i], strlen(l->v[i]), &s) != OTC_OK) {
            snprintf(err, errlen, "\"signals\": unknown signal \"%s\" (traces, metrics, logs)",
                     l->v[i]);
            return OTC_EINVAL;
        }
        *mask |= OTC_SIG_BIT(s);
    }
    if (l->n == 0) {
        *mask = OTC_SIG_ALL;
    }
    return OTC_OK;
}

static int dedup_validate(const void *vctx, char *err, size_t errlen)
{
    const struct dedup_ctx *x = vctx;
    unsigned mask;

    if (x->window_ns <= 0) {
        snprintf(err, errlen, "\"window\" must be greater than zero");
        return OTC_EINVAL;
    }
    return signals_mask(&x->signals, &mask, err, errlen);
}

static void scratch_free(struct dd_scratch *sc)
{
    free(sc->keys);
    free(sc->dup);
    free(sc->order);
    free(sc->gkeys);
    free(sc->gdup);
    free(sc->enc.p);
    memset(sc, 0, sizeof(*sc));
}

static int dedup_init(struct otc_instance *ins, void *vctx)
{
    struct dedup_ctx *x = vctx;
    char err[128];
    size_t per;
    int rc = OTC_OK;

    if (signals_mask(&x->signals, &x->sig_mask, err, sizeof(err)) != OTC_OK) {
        otc_log_err(ins, "%s", err);
        return OTC_EINVAL;
    }
    /* shards only where workers would wait for each other's lock */
    x->n_shards = otc_stage_workers(ins) > 1 ? (unsigned)((size_t)x->max_entries / DD_SHARD_MIN_ENTRIES) : 1;
    x->n_shards = x->n_shards < 1 ? 1 : x->n_shards > DD_MAX_SHARDS ? DD_MAX_SHARDS : x->n_shards;
    while (x->n_shards & (x->n_shards - 1)) { /* a power of two: the shard is a mask of bits */
        x->n_shards--;
    }
    per = ((size_t)x->max_entries + x->n_shards - 1) / x->n_shards;
    for (unsigned i = 0; i < x->n_shards && rc == OTC_OK; i++) {
        pthread_mutex_init(&x->shards[i].lock, NULL);
        rc = otc_dedup_table_init(&x->shards[i].table, per, x->window_ns);
        x->table_bytes += x->shards[i].table.bytes;
    }
    if (rc != OTC_OK) {
        otc_log_err(ins, "cannot allocate the table for %lld keys", (long long)x->max_entries);
        return rc;
    }
    otc_log_debug(ins, "window %.3fs, %lld keys in %u shards, %zu bytes", (double)x->window_ns / 1e9,
                  (long long)x->max_entries, x->n_shards, x->table_bytes);
    return OTC_OK;
}

static void dedup_destroy(void *vctx)
{
    struct dedup_ctx *x = vctx;

    for (unsigned i = 0; i < x->n_shards; i++) {
        otc_dedup_table_release(&x->shards[i].table);
        pthread_mutex_destroy(&x->shards[i].lock);
    }
    x->n_shards = 0;
    for (size_t i = 0; i < DD_POOL; i++) {
        scratch_free(&x->pool[i]);
    }
}

/* ------------------------------------------------- canonical encoding */

/* The identity of an item is the hash of a canonical encoding of its fields,
 * the same whichever form the item arrives in. Strings are what the decoded
 * string holds (cut at the first NUL, as strlen cuts it); numbers are 8 bytes;
 * variable-length parts are length-prefixed or self-delimiting, so that
 * different fields never encode the same. A list of KeyValues (attributes) is
 * each KeyValue, then DD_END; a KeyValue with a string value is written as an
 * encoder writes it in the list's own field (tag, length, key field, value
 * field holding the string field), so that the usual attribute is copied from
 * a request's bytes as it is; any other is DD_KV_OTHER, its key, its value. */
#define DD_KV_OTHER 0xa1
#define DD_END      0xa2

static bool __attribute__((noinline)) enc_grow(struct dd_enc *e, size_t n)
{
    size_t cap = e->cap ? e->cap : 256;
    uint8_t *p;

    while (cap < e->len + n) {
        cap *= 2;
    }
    p = realloc(e->p, cap);
    if (!p) {
        e->failed = true;
        return false;
    }
    e->p = p;
    e->cap = cap;
    return true;
}

static inline bool enc_reserve(struct dd_enc *e, size_t n)
{
    return e->len + n <= e->cap || enc_grow(e, n);
}

static inline void enc_raw(struct dd_enc *e, const void *p, size_t n)
{
    if (n && enc_reserve(e, n)) {
        memcpy(e->p + e->len, p, n);
        e->len += n;
    }
}

static inline void enc_u64(struct dd_enc *e, uint64_t v)
{
    if (enc_reserve(e, 8)) {
        memcpy(e->p + e->len, &v, 8);
        e->len += 8;
    }
}

static inline void enc_u8(struct dd_enc *e, uint8_t v)
{
    if (enc_reserve(e, 1)) {
        e->p[e->len++] = v;
    }
}

/* Length-prefixed, so that ("ab", "c") and ("a", "bc") differ. */
static void enc_bytes(struct dd_enc *e, const void *p, size_t n)
{
    enc_u64(e, n);
    enc_raw(e, p, n);
}

static void enc_str(struct dd_enc *e, const char *s)
{
    enc_bytes(e, s ? s : "", s ? strlen(s) : 0);
}

static inline size_t varint_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *put_varint(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

/* A KeyValue with a string value (key k, kn bytes; value s, sn bytes; neither
 * holding a NUL; neither pointer NULL) in the attribute field whose one-byte
 * tag is tag. */
static inline void enc_kv_str(struct dd_enc *e, uint8_t tag, const void *k, size_t kn,
                              const void *s, size_t sn)
{
    size_t vl, l;
    uint8_t *o;

    if (kn + sn + 6 < 0x80) { /* every length one byte (the usual attribute) */
        if (!enc_reserve(e, kn + sn + 8)) {
            return;
        }
        o = e->p + e->len;
        o[0] = tag;
        o[1] = (uint8_t)(kn + sn + 6);
        o[2] = 0x0a;
        o[3] = (uint8_t)kn;
        memcpy(o + 4, k, kn);
        o += 4 + kn;
        o[0] = 0x12;
        o[1] = (uint8_t)(sn + 2);
        o[2] = 0x0a;
        o[3] = (uint8_t)sn;
        memcpy(o + 4, s, sn);
        e->len += kn + sn + 8;
        return;
    }
    vl = 1 + varint_len(sn) + sn;
    l = 1 + varint_len(kn) + kn + 1 + varint_len(vl) + vl;
    if (!enc_reserve(e, 1 + varint_len(l) + l)) {
        return;
    }
    o = e->p + e->len;
    *o++ = tag;
    o = put_varint(o, l);
    *o++ = 0x0a; /* KeyValue.key */
    o = put_varint(o, kn);
    if (kn) {
        memcpy(o, k, kn);
        o += kn;
    }
    *o++ = 0x12; /* KeyValue.value */
    o = put_varint(o, vl);
    *o++ = 0x0a; /* AnyValue.string_value */
    o = put_varint(o, sn);
    if (sn) {
        memcpy(o, s, sn);
        o += sn;
    }
    e->len = (size_t)(o - e->p);
}

static void enc_attrs(struct dd_enc *e, uint8_t tag, otc_key_value *const *kv, size_t n, int depth);

static void enc_any(struct dd_enc *e, const otc_any_value *v, int depth)
{
    if (!v) {
        enc_u8(e, 0xff);
        return;
    }
    if (depth > DEDUP_MAX_DEPTH) {
        enc_u8(e, 0xfe);
        return;
    }
    enc_u8(e, (uint8_t)v->value_case);
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        enc_str(e, v->string_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        enc_u8(e, v->bool_value ? 1 : 0);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        enc_u64(e, (uint64_t)v->int_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        enc_raw(e, &v->double_value, sizeof(v->double_value));
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        enc_bytes(e, v->bytes_value.data, v->bytes_value.len);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        if (!v->array_value) {
            enc_u64(e, 0);
            break;
        }
        enc_u64(e, v->array_value->n_values);
        for (size_t i = 0; i < v->array_value->n_values; i++) {
            enc_any(e, v->array_value->values[i], depth + 1);
        }
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        if (!v->kvlist_value) {
            enc_u8(e, DD_END);
            break;
        }
        enc_attrs(e, 0x0a, v->kvlist_value->values, v->kvlist_value->n_values, depth + 1);
        break;
    default:
        break;
    }
}

/* The KeyValues of a list field with one-byte tag tag. */
static void enc_attrs(struct dd_enc *e, uint8_t tag, otc_key_value *const *kv, size_t n, int depth)
{
    for (size_t i = 0; i < n; i++) {
        const otc_any_value *v = kv[i]->value;
        const char *k = kv[i]->key ? kv[i]->key : "";

        if (v && depth <= DEDUP_MAX_DEPTH &&
            v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE) {
            const char *s = v->string_value ? v->string_value : "";

            enc_kv_str(e, tag, k, strlen(k), s, strlen(s));
        } else {
            enc_u8(e, DD_KV_OTHER);
            enc_bytes(e, k, strlen(k));
            enc_any(e, v, depth);
        }
    }
    enc_u8(e, DD_END);
}

#ifdef DD_HASH_AVX2
/* XXH3_128bits of an input longer than XXH3_MIDSIZE_MAX, with AVX2. */
__attribute__((__target__("avx2"))) static XXH128_hash_t dd_hash_long_avx2(const uint8_t *p, size_t n)
{
    return XXH3_hashLong_128b_internal(p, n, XXH3_kSecret, sizeof(XXH3_kSecret),
                                       XXH3_accumulate_512_avx2, XXH3_scrambleAcc_avx2);
}
#endif

static inline struct otc_dedup_key enc_hash(const struct dd_enc *e)
{
    XXH128_hash_t h;
    struct otc_dedup_key k;

#ifdef DD_HASH_AVX2
    if (e->len > XXH3_MIDSIZE_MAX && __builtin_cpu_supports("avx2")) {
        h = dd_hash_long_avx2(e->p, e->len);
    } else
#endif
    {
        h = XXH3_128bits(e->p, e->len);
    }
    k.lo = h.low64;
    k.hi = h.high64;
    return k;
}

static void enc_key(struct dd_enc *e, const struct otc_dedup_key *k)
{
    enc_u64(e, k->lo);
    enc_u64(e, k->hi);
}

/* ------------------------------------------------------- identities */

/* Spans: (trace id, span id, start time). */
static struct otc_dedup_key span_key(const uint8_t *trace_id, size_t trace_id_len,
                                     const uint8_t *span_id, size_t span_id_len, uint64_t start)
{
    uint8_t buf[16 + 8 + 8 + 2] = {0};
    size_t tl = trace_id_len < 16 ? trace_id_len : 16;
    size_t sl = span_id_len < 8 ? span_id_len : 8;
    XXH128_hash_t h;
    struct otc_dedup_key k;

    if (tl == 16 && sl == 8) { /* valid ids: copies of a known size */
        memcpy(buf, trace_id, 16);
        memcpy(buf + 16, span_id, 8);
    } else {
        if (tl) {
            memcpy(buf, trace_id, tl);
        }
        if (sl) {
            memcpy(buf + 16, span_id, sl);
        }
    }
    memcpy(buf + 24, &start, 8);
    buf[32] = (uint8_t)tl;
    buf[33] = (uint8_t)sl;
    h = XXH3_128bits(buf, sizeof(buf));
    k.lo = h.low64;
    k.hi = h.high64;
    return k;
}

/* The identities of a batch's items, in walk order, from either form: the key
 * of the resource being walked, and that of the resource and scope together.
 * A metric's data points share the start of their encoding (scope key, metric
 * name and type), written once per metric: each point is that prefix and its
 * own fields, hashed once. */
struct dd_walk {
    struct dd_scratch   *sc;
    size_t               n, cap;
    struct otc_dedup_key rk, sk;
    const void          *metric; /* the metric whose prefix is at the start of the encoding */
    size_t               prefix; /* its length */
    bool                 ordered; /* the request's fields are in order (otc_scan_bounds) */
};

static int dd_put(struct dd_walk *w, struct otc_dedup_key k)
{
    if (w->n == w->cap) {
        return 1; /* more items than counted: not this request's keys */
    }
    w->sc->keys[w->n++] = k;
    return 0;
}

/* Log records: resource and scope, attributes, timestamps, severity, body
 * (and the trace context and event name, so records differing only there
 * stay). Metric data points: resource and scope, metric name and type, point
 * attributes, start and time timestamps. Spans: see span_key. */

/* The start of a metric's points' encoding. */
static void metric_prefix(struct dd_walk *w, const void *m, const void *name, size_t name_len,
                          uint32_t type)
{
    struct dd_enc *e = &w->sc->enc;

    e->len = 0;
    enc_key(e, &w->sk);
    enc_bytes(e, name, name_len);
    enc_u8(e, (uint8_t)type);
    w->metric = m;
    w->prefix = e->len;
}

_Static_assert((int)OTC_PB_GAUGE == (int)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE &&
                   (int)OTC_PB_SUM == (int)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM &&
                   (int)OTC_PB_HISTOGRAM ==
                       (int)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM &&
                   (int)OTC_PB_EXP_HISTOGRAM ==
                       (int)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM &&
                   (int)OTC_PB_SUMMARY == (int)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY,
               "metric types are the data_case values");

/* The tag of the attributes field of a data point of metric type t. */
static inline uint8_t point_attrs_tag(uint32_t t)
{
    return (uint8_t)(otc_pb_point_attributes(t) << 3 | 2);
}

/* ----------------------------------------------- from a decoded request */

static int dd_msg_resource(void *arg, const struct otc_msg_head *h)
{
    struct dd_walk *w = arg;
    struct dd_enc *e = &w->sc->enc;
    const dd_resource *r = (const dd_resource *)h->msg;

    e->len = 0;
    enc_attrs(e, OTC_PB_RESOURCE_ATTRIBUTES << 3 | 2, r ? r->attributes : NULL,
              r ? r->n_attributes : 0, 0);
    enc_str(e, h->schema_url);
    w->rk = enc_hash(e);
    w->metric = NULL;
    return 0;
}

static int dd_msg_scope(void *arg, const struct otc_msg_head *h)
{
    struct dd_walk *w = arg;
    struct dd_enc *e = &w->sc->enc;
    const dd_scope *s = (const dd_scope *)h->msg;

    e->len = 0;
    enc_key(e, &w->rk);
    enc_str(e, s ? s->name : NULL);
    enc_str(e, s ? s->version : NULL);
    enc_attrs(e, OTC_PB_SCOPE_ATTRIBUTES << 3 | 2, s ? s->attributes : NULL,
              s ? s->n_attributes : 0, 0);
    enc_str(e, h->schema_url);
    w->sk = enc_hash(e);
    w->metric = NULL;
    return 0;
}

/* The spans of a scope container, in one loop (a call per span was 10% of
 * the decoded path). */
static int dd_msg_spans(void *arg, ProtobufCMessage *const *items, size_t n)
{
    struct dd_walk *w = arg;

    if (n > w->cap - w->n) {
        return 1; /* more items than counted */
    }
    for (size_t k = 0; k < n; k++) {
        const otc_span *sp = (const otc_span *)items[k];

        w->sc->keys[w->n++] = span_key(sp->trace_id.data, sp->trace_id.len, sp->span_id.data,
                                      sp->span_id.len, sp->start_time_unix_nano);
    }
    return 0;
}

static int dd_msg_log(void *arg, ProtobufCMessage *item)
{
    struct dd_walk *w = arg;
    struct dd_enc *e = &w->sc->enc;
    const otc_log_record *lr = (const otc_log_record *)item;

    e->len = 0;
    enc_key(e, &w->sk);
    enc_attrs(e, OTC_PB_LOG_ATTRIBUTES << 3 | 2, lr->attributes, lr->n_attributes, 0);
    enc_u64(e, lr->time_unix_nano);
    enc_u64(e, lr->observed_time_unix_nano);
    enc_u64(e, (uint64_t)lr->severity_number);
    enc_str(e, lr->severity_text);
    enc_any(e, lr->body, 0);
    enc_bytes(e, lr->trace_id.data, lr->trace_id.len);
    enc_bytes(e, lr->span_id.data, lr->span_id.len);
    enc_u64(e, lr->flags);
    enc_str(e, lr->event_name);
    return dd_put(w, enc_hash(e));
}

#define DD_POINT_IDENTITY(e, type, p, tag)                                         \
    do {                                                                           \
        const type *pt_ = (const type *)(p);                                       \
        enc_attrs((e), (tag), pt_->attributes, pt_->n_attributes, 0);              \
        enc_u64((e), pt_->start_time_unix_nano);                                   \
        enc_u64((e), pt_->time_unix_nano);                                         \
    } while (0)

static int dd_msg_point(void *arg, const otc_metric *m, ProtobufCMessage *point)
{
    struct dd_walk *w = arg;
    struct dd_enc *e = &w->sc->enc;
    const uint8_t tag = point_attrs_tag((uint32_t)m->data_case);

    if (w->metric != m) {
        metric_prefix(w, m, m->name ? m->name : "", m->name ? strlen(m->name) : 0,
                      (uint32_t)m->data_case);
    }
    e->len = w->prefix;
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        DD_POINT_IDENTITY(e, dd_number_point, point, tag);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        DD_POINT_IDENTITY(e, dd_histogram_point, point, tag);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        DD_POINT_IDENTITY(e, dd_exp_point, point, tag);
        break;
    default:
        DD_POINT_IDENTITY(e, dd_summary_point, point, tag);
        break;
    }
    return dd_put(w, enc_hash(e));
}

/* ------------------------------------------ from an undecoded request */

/* The same identities read from the bytes: every value encoded as enc_* encodes
 * the field unpack would give. Strings are cut at a NUL, as strlen cuts the
 * decoded copy. A field that is not as unpack would take it stops the walk
 * (the decoded path then keys the request). */
#define WIRE_STOP 1

static inline uint32_t dd_load32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

/* otc_pb_next_field for p < end, with a one-byte tag and a one-byte varint or
 * length (as encoders write most fields of an item) read in place. */
static inline int dd_next_field(const uint8_t **pp, const uint8_t *end, struct otc_pb_field *f)
{
    const uint8_t *p = *pp;
    size_t left = (size_t)(end - p);
    unsigned t = p[0];

    f->v = 0;
    if (t >= 8 && t < 0x80) {
        f->num = t >> 3;
        f->wt = t & 7;
        f->p = NULL;
        f->len = 0;
        switch (t & 7) {
        case 0:
            if (left >= 2 && p[1] < 0x80) {
                f->v = p[1];
                *pp = p + 2;
                return 1;
            }
            break;
        case 1:
            if (left >= 9) {
                memcpy(&f->v, p + 1, 8);
                *pp = p + 9;
                return 1;
            }
            break;
        case 2:
            if (left >= 2 && p[1] < 0x80 && p[1] <= left - 2) {
                f->p = p + 2;
                f->len = p[1];
                *pp = p + 2 + p[1];
                return 1;
            }
            break;
        case 5:
            if (left >= 5) {
                f->v = dd_load32(p + 1);
                *pp = p + 5;
                return 1;
            }
            break;
        default:
            break;
        }
    }
    return otc_pb_next_field(pp, end, f);
}

static void wenc_str(struct dd_enc *e, const uint8_t *p, size_t n)
{
    enc_bytes(e, p, p ? strnlen((const char *)p, n) : 0);
}

/* Patch the count written at offset at (enc_u64) to n. */
static void enc_patch(struct dd_enc *e, size_t at, uint64_t n)
{
    if (!e->failed) {
        memcpy(e->p + at, &n, sizeof(n));
    }
}

static bool wenc_any(struct dd_enc *e, const uint8_t *p, size_t len, bool present, int depth);
static bool wenc_any_read(struct dd_enc *e, const struct otc_pb_any *a, int depth);

#ifdef DD_COPY_AVX2
/* Copy n (>= 32) bytes from s to d; whether none of them is 0. */
__attribute__((__target__("avx2"))) static bool dd_copy_nonul_avx2(uint8_t *d, const uint8_t *s,
                                                                   size_t n)
{
    __m256i min = _mm256_set1_epi8(-1), v;
    size_t i;

    for (i = 0; i + 32 <= n; i += 32) {
        v = _mm256_loadu_si256((const __m256i *)(const void *)(s + i));
        _mm256_storeu_si256((__m256i *)(void *)(d + i), v);
        min = _mm256_min_epu8(min, v);
    }
    if (i < n) { /* the last 32, overlapping */
        v = _mm256_loadu_si256((const __m256i *)(const void *)(s + n - 32));
        _mm256_storeu_si256((__m256i *)(void *)(d + n - 32), v);
        min = _mm256_min_epu8(min, v);
    }
    return _mm256_movemask_epi8(_mm256_cmpeq_epi8(min, _mm256_setzero_si256())) == 0;
}
#endif

/* Append the n bytes at p when none of them is 0; false (nothing appended,
 * unless out of memory) when one is. */
static inline bool enc_copy_nonul(struct dd_enc *e, const uint8_t *p, size_t n)
{
#ifdef DD_COPY_AVX2
    if (n >= 32 && __builtin_cpu_supports("avx2")) {
        if (!enc_reserve(e, n)) {
            return true; /* e->failed tells */
        }
        if (!dd_copy_nonul_avx2(e->p + e->len, p, n)) {
            return false;
        }
        e->len += n;
        return true;
    }
#endif
    if (memchr(p, 0, n)) {
        return false;
    }
    enc_raw(e, p, n);
    return true;
}

/* One KeyValue (v, n) of a list field with one-byte tag tag, read field by
 * field, as enc_attrs encodes each. */
static bool wenc_kv(struct dd_enc *e, uint8_t tag, const uint8_t *v, size_t n, int depth)
{
    struct otc_pb_kv kv;
    struct otc_pb_any a;
    size_t kn;

    if (!otc_pb_kv_read(v, n, &kv)) {
        return false;
    }
    kn = kv.key ? strnlen((const char *)kv.key, kv.key_len) : 0;
    if (kv.value && depth <= DEDUP_MAX_DEPTH) {
        if (!otc_pb_any_read(kv.value, kv.value_len, &a)) {
            return false;
        }
        if (a.kind == OTC_PB_ANY_STRING) {
            enc_kv_str(e, tag, kv.key ? kv.key : (const uint8_t *)"", kn, a.p ? a.p : (const uint8_t *)"",
                       a.p ? strnlen((const char *)a.p, a.len) : 0);
            return true;
        }
        enc_u8(e, DD_KV_OTHER);
        enc_bytes(e, kv.key, kn);
        return wenc_any_read(e, &a, depth);
    }
    enc_u8(e, DD_KV_OTHER);
    enc_bytes(e, kv.key, kn);
    enc_u8(e, kv.value ? 0xfe : 0xff); /* as enc_any */
    return true;
}

/* The KeyValues from *pp on (before end) that are fields tag holding a string
 * attribute in the layout encoders write (key 0x0a, value 0x12 holding only
 * its string 0x0a, all with one-byte lengths): written as enc_kv_str writes
 * them, which is as they are when no NUL cuts a string (one copy for all).
 * *pp moves past them. 1 when some were taken, 0 when the field at *pp is not
 * one, -1 when malformed. */
static inline int wenc_plain_run(struct dd_enc *e, const uint8_t **pp, const uint8_t *end,
                                 uint8_t tag, int depth)
{
    const uint8_t *p = *pp, *q = p;

    const uint32_t want = tag | 0x0a0000u;
    size_t rem = (size_t)(end - q);

    /* tag, length (< 0x80), 0x0a, key length in one word; 0x12, value length,
     * 0x0a, string length (value length - 2) in another (protobuf is
     * little-endian, as are the targets) */
    while (rem >= 8) {
        uint32_t h = dd_load32(q), vl;
        size_t len = (h >> 8) & 0xff, kl = h >> 24;

        if ((h & 0x00ff80ffu) != want || len + 2 > rem || kl + 6 > len) {
            break;
        }
        vl = (uint32_t)(len - kl - 4);
        if (dd_load32(q + kl + 4) != vl * 0x01000100u + 0xfe0a0012u) {
            break;
        }
        q += len + 2;
        rem -= len + 2;
    }
    if (q == p) {
        return 0;
    }
    *pp = q;
    /* tags and lengths are not 0 (an empty key or value is: read below) */
    if (enc_copy_nonul(e, p, (size_t)(q - p))) {
        return 1;
    }
    for (; p < q; p += 2 + p[1]) {
        if (!wenc_kv(e, tag, p + 2, p[1], depth)) {
            return -1;
        }
    }
    return 1;
}

/* The next field of the message at *pp (before end) that is not in a run of
 * plain string attributes numbered tag: those runs are encoded as they are met
 * (wenc_plain_run, up to DEDUP_MAX_DEPTH). 1 with the field in *f, 0 at the
 * end of the message, -1 when malformed. */
static inline int wenc_next_field(struct dd_enc *e, const uint8_t **pp, const uint8_t *end,
                                  uint8_t tag, int depth, struct otc_pb_field *f)
{
    if (*pp < end && **pp == tag && depth <= DEDUP_MAX_DEPTH &&
        wenc_plain_run(e, pp, end, tag, depth) < 0) {
        return -1;
    }
    if (*pp >= end) {
        return 0;
    }
    return dd_next_field(pp, end, f) > 0 ? 1 : -1;
}

/* The KeyValues numbered field of the message at p (NULL: none), as enc_attrs. */
static bool wenc_attrs(struct dd_enc *e, const uint8_t *p, size_t len, uint32_t field, int depth)
{
    const uint8_t *end = p ? p + len : p;
    const uint8_t tag = (uint8_t)(field << 3 | 2);
    struct otc_pb_field f;
    int r;

    while ((r = wenc_next_field(e, &p, end, tag, depth, &f)) > 0) {
        if (f.num == field && f.wt == 2 && !wenc_kv(e, tag, f.p, f.len, depth)) {
            return false;
        }
    }
    if (r < 0) {
        return false;
    }
    enc_u8(e, DD_END);
    return true;
}

static bool wenc_any(struct dd_enc *e, const uint8_t *p, size_t len, bool present, int depth)
{
    struct otc_pb_any a;

    if (!present) {
        enc_u8(e, 0xff);
        return true;
    }
    if (depth > DEDUP_MAX_DEPTH) {
        enc_u8(e, 0xfe);
        return true;
    }
    if (len >= 2 && p[0] == 0x0a && p[1] < 0x80 && p[1] == len - 2) {
        enc_u8(e, OTC_PB_ANY_STRING); /* only a string with a one-byte length: in place */
        wenc_str(e, p + 2, len - 2);
        return true;
    }
    if (!otc_pb_any_read(p, len, &a)) {
        return false;
    }
    return wenc_any_read(e, &a, depth);
}

/* An AnyValue read (at depth up to DEDUP_MAX_DEPTH), as enc_any. */
static bool wenc_any_read(struct dd_enc *e, const struct otc_pb_any *a, int depth)
{
    enc_u8(e, (uint8_t)a->kind);
    switch (a->kind) {
    case OTC_PB_ANY_STRING:
        wenc_str(e, a->p, a->len);
        break;
    case OTC_PB_ANY_BOOL:
        enc_u8(e, a->v ? 1 : 0);
        break;
    case OTC_PB_ANY_INT:
        enc_u64(e, a->v);
        break;
    case OTC_PB_ANY_DOUBLE:
        enc_raw(e, &a->v, sizeof(a->v));
        break;
    case OTC_PB_ANY_BYTES:
        enc_bytes(e, a->p, a->len);
        break;
    case OTC_PB_ANY_ARRAY: {
        struct otc_pb_iter it;
        const uint8_t *v;
        size_t vn, at = e->len, n = 0;
        int r;

        enc_u64(e, 0);
        otc_pb_iter_init(&it, a->p, a->len, 1); /* ArrayValue.values */
        while ((r = otc_pb_iter_next(&it, &v, &vn)) > 0) {
            if (!wenc_any(e, v, vn, true, depth + 1)) {
                return false;
            }
            n++;
        }
        enc_patch(e, at, n);
        return r == 0;
    }
    case OTC_PB_ANY_KVLIST:
        return wenc_attrs(e, a->p, a->len, 1, depth + 1); /* KeyValueList.values */
    default:
        break;
    }
    return true;
}

static int dd_wire_resource(void *arg, const struct otc_pb_head *h)
{
    struct dd_walk *w = arg;
    struct dd_enc *e = &w->sc->enc;

    e->len = 0;
    if (!wenc_attrs(e, h->msg, h->msg_len, OTC_PB_RESOURCE_ATTRIBUTES, 0)) {
        return WIRE_STOP;
    }
    wenc_str(e, h->schema_url, h->schema_url_len);
    w->rk = enc_hash(e);
    w->metric = NULL;
    return 0;
}

/* InstrumentationScope fields. */
enum { SCOPE_NAME = 1, SCOPE_VERSION = 2 };

static int dd_wire_scope(void *arg, const struct otc_pb_head *h)
{
    struct dd_walk *w = arg;
    struct dd_enc *e = &w->sc->enc;
    const uint8_t *p = h->msg ? h->msg : (const uint8_t *)"", *end = p + h->msg_len;
    const uint8_t *name = NULL, *version = NULL;
    size_t name_len = 0, version_len = 0;
    struct otc_pb_field f;
    int r;

    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.num == SCOPE_NAME || f.num == SCOPE_VERSION) {
            if (f.wt != 2) {
                return WIRE_STOP;
            }
            if (f.num == SCOPE_NAME) {
                name = f.p;
                name_len = f.len;
            } else {
                version = f.p;
                version_len = f.len;
            }
        }
    }
    if (r < 0) {
        return WIRE_STOP;
    }
    e->len = 0;
    enc_key(e, &w->rk);
    wenc_str(e, name, name_len);
    wenc_str(e, version, version_len);
    if (!wenc_attrs(e, h->msg, h->msg_len, OTC_PB_SCOPE_ATTRIBUTES, 0)) {
        return WIRE_STOP;
    }
    wenc_str(e, h->schema_url, h->schema_url_len);
    w->sk = enc_hash(e);
    w->metric = NULL;
    return 0;
}

/* Span fields of its identity. */
enum { SPAN_TRACE_ID = 1, SPAN_SPAN_ID = 2, SPAN_START_TIME = 7 };

/* A span's trace id, span id and start time, the last of each, as
 * otc_pb_span_read reads them; the other fields skipped in place. */
static int dd_wire_span(void *arg, const uint8_t *p, size_t len)
{
    const struct dd_walk *w = arg;
    const uint8_t *end = p + len, *tid = NULL, *sid = NULL;
    size_t tl = 0, sl = 0;
    uint64_t start = 0;
    struct otc_pb_field f;

    while (p < end) {
        size_t left = (size_t)(end - p);

        unsigned t = p[0];

        /* fields in order, each once: none of the three follows (the
         * attributes, events and links are not read) */
        if (w->ordered && t < 0x80 && (t >> 3) > SPAN_START_TIME) {
            break;
        }

        /* length-delimited fields with a one-byte tag and length (attributes,
         * most of a span, events, the ids, the name) and the start time: here */
        if ((t & 0x87) == 2 && t >= 8 && left >= 2 && p[1] < 0x80) {
            size_t n = p[1];

            if (n > left - 2) {
                return WIRE_STOP;
            }
            if (t == (SPAN_TRACE_ID << 3 | 2)) {
                tid = p + 2;
                tl = n;
            } else if (t == (SPAN_SPAN_ID << 3 | 2)) {
                sid = p + 2;
                sl = n;
            }
            p += 2 + n;
            continue;
        }
        if (t == (SPAN_START_TIME << 3 | 1) && left >= 9) {
            memcpy(&start, p + 1, 8);
            p += 9;
            continue;
        }
        if (dd_next_field(&p, end, &f) <= 0) {
            return WIRE_STOP;
        }
        if (f.wt == 2) {
            if (f.num == SPAN_TRACE_ID) {
                tid = f.p;
                tl = f.len;
            } else if (f.num == SPAN_SPAN_ID) {
                sid = f.p;
                sl = f.len;
            }
        } else if (f.wt == 1 && f.num == SPAN_START_TIME) {
            start = f.v;
        }
    }
    return dd_put(arg, span_key(tid, tl, sid, sl, start));
}

/* LogRecord field numbers (opentelemetry/proto/logs/v1/logs.proto). */
enum {
    LOG_TIME = 1,
    LOG_SEVERITY_NUMBER = 2,
    LOG_SEVERITY_TEXT = 3,
    LOG_BODY = 5,
    LOG_ATTRIBUTES = 6,
    LOG_FLAGS = 8,
    LOG_TRACE_ID = 9,
    LOG_SPAN_ID = 10,
    LOG_OBSERVED_TIME = 11,
    LOG_EVENT_NAME = 12,
};

typedef Opentelemetry__Proto__Logs__V1__SeverityNumber dd_severity;
_Static_assert(sizeof(dd_severity) == sizeof(int32_t), "severity_number is an int32");

/* The fields of a log record its identity needs (the last of each counts). */
struct dd_log {
    const uint8_t *severity_text, *body, *trace_id, *span_id, *event_name; /* NULL: absent */
    size_t         severity_text_len, body_len, trace_id_len, span_id_len, event_name_len;
    uint64_t       time, observed, severity;
    uint32_t       flags;
};

/* A log record in one pass: the attributes are encoded where they are met
 * (they come first in the identity), the other fields noted and encoded after. */
static int dd_wire_log(void *arg, const uint8_t *p, size_t len)
{
    struct dd_walk *w = arg;
    struct dd_enc *e = &w->sc->enc;
    const uint8_t tag = OTC_PB_LOG_ATTRIBUTES << 3 | 2;
    const uint8_t *end = p + len;
    struct dd_log l = {0};
    struct otc_pb_field f;
    dd_severity sev;
    int32_t sev32;
    int r;

    e->len = 0;
    enc_key(e, &w->sk);
    while ((r = wenc_next_field(e, &p, end, tag, 0, &f)) > 0) {
        switch (f.num) {
        case LOG_TIME:
        case LOG_OBSERVED_TIME:
            if (f.wt != 1) {
                return WIRE_STOP;
            }
            *(f.num == LOG_TIME ? &l.time : &l.observed) = f.v;
            break;
        case LOG_SEVERITY_NUMBER:
            if (f.wt != 0) {
                return WIRE_STOP;
            }
            l.severity = f.v;
            break;
        case LOG_FLAGS:
            if (f.wt != 5) {
                return WIRE_STOP;
            }
            l.flags = (uint32_t)f.v;
            break;
        case LOG_ATTRIBUTES:
            if (f.wt == 2 && !wenc_kv(e, tag, f.p, f.len, 0)) {
                return WIRE_STOP;
            }
            break;
        case LOG_BODY:
            if (f.wt != 2 || l.body) {
                return WIRE_STOP; /* a body given twice is merged by unpack */
            }
            l.body = f.p;
            l.body_len = f.len;
            break;
        case LOG_SEVERITY_TEXT:
        case LOG_TRACE_ID:
        case LOG_SPAN_ID:
        case LOG_EVENT_NAME:
            if (f.wt != 2) {
                return WIRE_STOP;
            }
            if (f.num == LOG_SEVERITY_TEXT) {
                l.severity_text = f.p;
                l.severity_text_len = f.len;
            } else if (f.num == LOG_TRACE_ID) {
                l.trace_id = f.p;
                l.trace_id_len = f.len;
            } else if (f.num == LOG_SPAN_ID) {
                l.span_id = f.p;
                l.span_id_len = f.len;
            } else {
                l.event_name = f.p;
                l.event_name_len = f.len;
            }
            break;
        default:
            break;
        }
    }
    if (r < 0) {
        return WIRE_STOP;
    }
    enc_u8(e, DD_END);
    /* unpack reads an enum's low 32 bits into an int32 */
    sev32 = (int32_t)(uint32_t)l.severity;
    memcpy(&sev, &sev32, sizeof(sev));
    enc_u64(e, l.time);
    enc_u64(e, l.observed);
    enc_u64(e, (uint64_t)sev);
    wenc_str(e, l.severity_text, l.severity_text_len);
    if (!wenc_any(e, l.body, l.body_len, l.body != NULL, 0)) {
        return WIRE_STOP;
    }
    enc_bytes(e, l.trace_id, l.trace_id_len);
    enc_bytes(e, l.span_id, l.span_id_len);
    enc_u64(e, l.flags);
    wenc_str(e, l.event_name, l.event_name_len);
    return dd_put(w, enc_hash(e));
}

/* A data point: attributes, then start and time, in one pass over the point. */
static int dd_wire_point(void *arg, const struct otc_pb_metric *m, const uint8_t *p, size_t len)
{
    struct dd_walk *w = arg;
    struct dd_enc *e = &w->sc->enc;
    const uint32_t attrs = otc_pb_point_attributes(m->type);
    const uint8_t tag = (uint8_t)(attrs << 3 | 2);
    const uint8_t *end = p + len;
    uint64_t start = 0, time = 0;
    struct otc_pb_field f;
    int r;

    if (w->metric != m->p) {
        metric_prefix(w, m->p, m->name, m->name ? strnlen((const char *)m->name, m->name_len) : 0,
                      m->type);
    }
    e->len = w->prefix;
    while ((r = wenc_next_field(e, &p, end, tag, 0, &f)) > 0) {
        if (f.num == attrs && f.wt == 2) {
            if (!wenc_kv(e, tag, f.p, f.len, 0)) {
                return WIRE_STOP;
            }
        } else if (f.wt == 1 && f.num == 2) {
            start = f.v;
        } else if (f.wt == 1 && f.num == 3) {
            time = f.v;
        }
    }
    if (r < 0) {
        return WIRE_STOP;
    }
    enc_u8(e, DD_END);
    enc_u64(e, start);
    enc_u64(e, time);
    return dd_put(w, enc_hash(e));
}

/* Keys of b's items in walk order, read from its bytes (wire) or from its
 * decoded request; false when the walk stopped. *got is the number keyed. */
static bool dd_keys(struct dd_scratch *x, struct otc_batch *b, bool wire, size_t n, size_t *got)
{
    struct dd_walk w = {.sc = x, .cap = n};
    enum otc_signal s = b->signal;
    int rc;

    x->enc.failed = false;
    if (wire) {
        struct otc_pb_visitor v = {.arg = &w, .heads = true};
        const struct otc_scan_bounds *sb = otc_batch_scanned(b);

        w.ordered = sb && sb->ordered;
        if (s == OTC_TRACES) {
            v.item = dd_wire_span; /* spans need neither resource nor scope */
        } else {
            v.resource = dd_wire_resource;
            v.scope = dd_wire_scope;
            v.item = s == OTC_LOGS ? dd_wire_log : NULL;
            v.point = s == OTC_METRICS ? dd_wire_point : NULL;
        }
        rc = otc_pb_walk(b->raw, b->raw_len, &v, NULL);
    } else {
        struct otc_msg_visitor v = {.arg = &w};

        if (s == OTC_TRACES) {
            v.items = dd_msg_spans;
        } else {
            v.resource = dd_msg_resource;
            v.scope = dd_msg_scope;
            v.item = s == OTC_LOGS ? dd_msg_log : NULL;
            v.point = s == OTC_METRICS ? dd_msg_point : NULL;
        }
        rc = otc_msg_walk(s, b->msg, &v, NULL);
    }
    *got = w.n;
    return rc == OTC_OK && !x->enc.failed;
}

/* ------------------------------------------------------------- data path */

static int ensure_cap(struct dd_scratch *x, size_t n)
{
    size_t cap = x->cap ? x->cap : 256;
    void *p;

    if (n <= x->cap) {
        return OTC_OK;
    }
    while (cap < n) {
        cap *= 2;
    }
#define DD_GROW(f, size)                                                                           \
    do {                                                                                           \
        if (!(p = realloc(x->f, cap * (size)))) {                                                  \
            return OTC_ENOMEM;                                                                     \
        }                                                                                          \
        x->f = p;                                                                                  \
    } while (0)
    DD_GROW(keys, sizeof(*x->keys));
    DD_GROW(dup, 1);
    DD_GROW(order, sizeof(*x->order));
    DD_GROW(gkeys, sizeof(*x->gkeys));
    DD_GROW(gdup, 1);
#undef DD_GROW
    x->cap = cap;
    return OTC_OK;
}

/* A free scratch of the pool, or a fresh one (*fresh: free it after). */
static struct dd_scratch *scratch_get(struct dedup_ctx *x, struct dd_scratch *fresh)
{
    for (size_t i = 0; i < DD_POOL; i++) {
        if (!atomic_flag_test_and_set_explicit(&x->pool[i].busy, memory_order_acquire)) {
            return &x->pool[i];
        }
    }
    memset(fresh, 0, sizeof(*fresh));
    return fresh;
}

static void scratch_put(struct dd_scratch *sc, struct dd_scratch *fresh)
{
    if (sc == fresh) {
        scratch_free(sc);
    } else {
        atomic_flag_clear_explicit(&sc->busy, memory_order_release);
    }
}

/* The shard of a key: bits of the key the tables' index does not use first. */
static unsigned shard_of(const struct dedup_ctx *x, const struct otc_dedup_key *k)
{
    return (unsigned)(k->hi >> 40) & (x->n_shards - 1);
}

/* Check the n keys of sc (dup[i] = 1 for duplicates); the number of duplicates.
 * One shard: one lock for the whole request. Several: the keys grouped by
 * shard (a counting sort), each group checked under its shard's lock, in the
 * request's order within the group. */
static size_t dd_check(struct dedup_ctx *x, struct dd_scratch *sc, size_t n, uint64_t now)
{
    size_t start[DD_MAX_SHARDS + 1] = {0}, fill[DD_MAX_SHARDS], dups = 0;

    if (x->n_shards == 1) {
        struct dd_shard *sh = &x->shards[0];
        pthread_mutex_lock(&sh->lock);
        otc_dedup_table_expire(&sh->table, now);
        dups = otc_dedup_table_check_many(&sh->table, sc->keys, n, now, sc->dup);
        pthread_mutex_unlock(&sh->lock);
        return dups;
    }
    for (size_t i = 0; i < n; i++) {
        start[shard_of(x, &sc->keys[i]) + 1]++;
    }
    for (unsigned h = 0; h < x->n_shards; h++) {
        start[h + 1] += start[h];
        fill[h] = start[h];
    }
    for (size_t i = 0; i < n; i++) {
        size_t at = fill[shard_of(x, &sc->keys[i])]++;
        sc->order[at] = (uint32_t)i;
        sc->gkeys[at] = sc->keys[i];
    }
    for (unsigned h = 0; h < x->n_shards; h++) {
        struct dd_shard *sh = &x->shards[h];
        size_t k = start[h + 1] - start[h];

        if (k == 0) {
            continue;
        }
        pthread_mutex_lock(&sh->lock);
        otc_dedup_table_expire(&sh->table, now);
        dups += otc_dedup_table_check_many(&sh->table, sc->gkeys + start[h], k, now, sc->gdup + start[h]);
        pthread_mutex_unlock(&sh->lock);
    }
    for (size_t i = 0; i < n; i++) {
        sc->dup[sc->order[i]] = sc->gdup[i];
    }
    return dups;
}

static int dedup_run(struct otc_instance *ins, struct dedup_ctx *x, struct dd_scratch *sc,
                     struct otc_batch *b)
{
    enum otc_signal s = b->signal;
    ProtobufCMessage *mut;
    size_t n, got, dups;
    bool wire = false;

    /* an undecoded request is keyed from its bytes, and decoded only when the
     * walk stops (a form the wire readers leave to unpack) */
    if (!otc_batch_is_decoded(b) && (n = b->items) > 0 && ensure_cap(sc, n) == OTC_OK &&
        dd_keys(sc, b, true, n, &got) && got == n) {
        wire = true;
    } else {
        if (!otc_batch_msg(b)) {
            return otc_next(ins, b);
        }
        n = otc_request_count_items(s, b->msg);
        if (n == 0 || ensure_cap(sc, n) != OTC_OK) {
            return otc_next(ins, b); /* nothing to check, or no memory to check it: fail open */
        }
        if (!dd_keys(sc, b, false, n, &got) || got != n) {
            return otc_next(ins, b);
        }
    }
    dups = dd_check(x, sc, n, otc_now_ns());
    if (dups == 0) {
        return otc_next(ins, b); /* untouched: keeps its bytes for zero-copy export */
    }
    atomic_fetch_add_explicit(&ins->counters.dropped[s], dups, memory_order_relaxed);
    atomic_fetch_add_explicit(&ins->counters.deduplicated[s], dups, memory_order_relaxed);
    if (dups == n) {
        otc_batch_unref(b);
        return OTC_OK;
    }
    for (size_t i = 0; i < n; i++) {
        sc->dup[i] = !sc->dup[i]; /* now: keep */
    }
    if (wire) {
        /* drop on the wire: the other items go on as the bytes that arrived */
        if (!(b = otc_batch_keep_items(b, sc->dup, n - dups))) {
            atomic_fetch_add_explicit(&ins->counters.dropped[s], n - dups, memory_order_relaxed);
            return OTC_ENOMEM;
        }
        return otc_next(ins, b);
    }
    b = otc_batch_writable(b); /* a private copy keeps the same item order */
    if (!b || !(mut = otc_batch_msg_mut(b))) {
        atomic_fetch_add_explicit(&ins->counters.dropped[s], n - dups, memory_order_relaxed);
        otc_batch_unref(b);
        return OTC_ENOMEM;
    }
    otc_msg_keep_items(s, mut, sc->dup);
    otc_batch_recount(b);
    return otc_next(ins, b);
}

static int dedup_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct dedup_ctx *x = vctx;
    struct dd_scratch fresh, *sc;
    int rc;

    if (!(x->sig_mask & OTC_SIG_BIT(b->signal))) {
        return otc_next(ins, b);
    }
    sc = scratch_get(x, &fresh);
    rc = dedup_run(ins, x, sc, b);
    scratch_put(sc, &fresh);
    return rc;
}

const struct otc_component_ops otc_processor_dedup_ops = {
    .type = "dedup",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = true,
    .concurrent = true,
    .ctx_size = sizeof(struct dedup_ctx),
    .config_map = dedup_config,
    .validate = dedup_validate,
    .init = dedup_init,
    .start = NULL,
    .consume = dedup_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = dedup_destroy,
};
