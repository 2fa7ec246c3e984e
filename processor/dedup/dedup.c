/* dedup.c - the `dedup` processor: drops exact duplicates that retries and
 * at-least-once delivery produce. Each item gets a 128-bit identity (XXH3-128)
 * checked against a bounded table of recent keys (dedup_table.c); a batch
 * without duplicates passes untouched (spans not yet decoded are keyed from
 * their bytes). Runs on the pipeline worker thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

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

struct dedup_ctx {
    int64_t                window_ns;
    int64_t                max_entries;
    struct otc_strlist     signals;
    unsigned               sig_mask;
    struct otc_dedup_table table;
    struct otc_dedup_key  *keys;   /* one per item of the current batch */
    uint8_t               *dup;    /* 1 = duplicate, same order as keys */
    size_t                 cap;    /* entries of keys and dup */
    struct dd_enc          enc;
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

static int dedup_init(struct otc_instance *ins, void *vctx)
{
    struct dedup_ctx *x = vctx;
    char err[128];
    int rc;

    if (signals_mask(&x->signals, &x->sig_mask, err, sizeof(err)) != OTC_OK) {
        otc_log_err(ins, "%s", err);
        return OTC_EINVAL;
    }
    rc = otc_dedup_table_init(&x->table, (size_t)x->max_entries, x->window_ns);
    if (rc != OTC_OK) {
        otc_log_err(ins, "cannot allocate the table for %lld keys", (long long)x->max_entries);
        return rc;
    }
    otc_log_debug(ins, "window %.3fs, %lld keys, %zu bytes", (double)x->window_ns / 1e9,
                  (long long)x->max_entries, x->table.bytes);
    return OTC_OK;
}

static void dedup_destroy(void *vctx)
{
    struct dedup_ctx *x = vctx;

    otc_dedup_table_release(&x->table);
    free(x->keys);
    free(x->dup);
    free(x->enc.p);
    x->keys = NULL;
    x->dup = NULL;
    x->enc.p = NULL;
    x->cap = 0;
}

/* ------------------------------------------------- canonical encoding */

static bool enc_reserve(struct dd_enc *e, size_t n)
{
    size_t cap;
    uint8_t *p;

    if (e->len + n <= e->cap) {
        return true;
    }
    cap = e->cap ? e->cap : 256;
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

static void enc_raw(struct dd_enc *e, const void *p, size_t n)
{
    if (n && enc_reserve(e, n)) {
        memcpy(e->p + e->len, p, n);
        e->len += n;
    }
}

static void enc_u64(struct dd_enc *e, uint64_t v)
{
    enc_raw(e, &v, sizeof(v));
}

static void enc_u8(struct dd_enc *e, uint8_t v)
{
    enc_raw(e, &v, 1);
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

static void enc_attrs(struct dd_enc *e, otc_key_value *const *kv, size_t n, int depth);

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
            enc_u64(e, 0);
            break;
        }
        enc_attrs(e, v->kvlist_value->values, v->kvlist_value->n_values, depth + 1);
        break;
    default:
        break;
    }
}

static void enc_attrs(struct dd_enc *e, otc_key_value *const *kv, size_t n, int depth)
{
    enc_u64(e, n);
    for (size_t i = 0; i < n; i++) {
        enc_str(e, kv[i]->key);
        enc_any(e, kv[i]->value, depth);
    }
}

static struct otc_dedup_key enc_hash(const struct dd_enc *e)
{
    XXH128_hash_t h = XXH3_128bits(e->p, e->len);
    struct otc_dedup_key k = {.lo = h.low64, .hi = h.high64};

    return k;
}

static void enc_key(struct dd_enc *e, const struct otc_dedup_key *k)
{
    enc_u64(e, k->lo);
    enc_u64(e, k->hi);
}

/* Identity of a resource (attributes and schema url) or of a scope. */
static struct otc_dedup_key resource_key(struct dd_enc *e, const dd_resource *r, const char *schema)
{
    e->len = 0;
    enc_attrs(e, r ? r->attributes : NULL, r ? r->n_attributes : 0, 0);
    enc_str(e, schema);
    return enc_hash(e);
}

static struct otc_dedup_key scope_key(struct dd_enc *e, const dd_scope *s, const char *schema)
{
    e->len = 0;
    enc_str(e, s ? s->name : NULL);
    enc_str(e, s ? s->version : NULL);
    enc_attrs(e, s ? s->attributes : NULL, s ? s->n_attributes : 0, 0);
    enc_str(e, schema);
    return enc_hash(e);
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

    if (tl) {
        memcpy(buf, trace_id, tl);
    }
    if (sl) {
        memcpy(buf + 16, span_id, sl);
    }
    memcpy(buf + 24, &start, 8);
    buf[32] = (uint8_t)tl;
    buf[33] = (uint8_t)sl;
    h = XXH3_128bits(buf, sizeof(buf));
    k.lo = h.low64;
    k.hi = h.high64;
    return k;
}

static size_t keys_traces(struct dedup_ctx *x, const otc_traces_req *r)
{
    size_t n = 0;

    for (size_t i = 0; i < r->n_resource_spans; i++) {
        const otc_resource_spans *rs = r->resource_spans[i];
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            const otc_scope_spans *ss = rs->scope_spans[j];
            for (size_t k = 0; k < ss->n_spans; k++) {
                const otc_span *sp = ss->spans[k];
                x->keys[n++] = span_key(sp->trace_id.data, sp->trace_id.len, sp->span_id.data,
                                        sp->span_id.len, sp->start_time_unix_nano);
            }
        }
    }
    return n;
}

/* The same keys read from an undecoded request's bytes, in the same order. */
struct wire_keys {
    struct dedup_ctx *x;
    size_t            n, cap;
};

static int wire_span_key(void *arg, const uint8_t *p, size_t len)
{
    struct wire_keys *w = arg;
    struct otc_pb_span sp;

    if (w->n == w->cap || !otc_pb_span_read(p, len, NULL, &sp)) {
        return 1;
    }
    w->x->keys[w->n++] = span_key(sp.trace_id, sp.trace_id_len, sp.span_id, sp.span_id_len,
                                  sp.start_time_unix_nano);
    return 0;
}

/* Keys of b's spans without decoding it; false when its bytes do not walk. */
static bool wire_keys_traces(struct dedup_ctx *x, const struct otc_batch *b, size_t *got)
{
    struct wire_keys w = {x, 0, b->items};
    struct otc_pb_visitor v = {.item = wire_span_key, .arg = &w};

    if (otc_pb_walk(b->raw, b->raw_len, &v, NULL) != OTC_OK) {
        return false;
    }
    *got = w.n;
    return true;
}

/* Log records: resource, scope, timestamps, severity, body, attributes (and
 * the trace context and event name, so records differing only there stay). */
static size_t keys_logs(struct dedup_ctx *x, const otc_logs_req *r)
{
    struct dd_enc *e = &x->enc;
    size_t n = 0;

    for (size_t i = 0; i < r->n_resource_logs; i++) {
        const otc_resource_logs *rl = r->resource_logs[i];
        struct otc_dedup_key rk = resource_key(e, rl->resource, rl->schema_url);
        for (size_t j = 0; j < rl->n_scope_logs; j++) {
            const otc_scope_logs *sl = rl->scope_logs[j];
            struct otc_dedup_key sk = scope_key(e, sl->scope, sl->schema_url);
            for (size_t k = 0; k < sl->n_log_records; k++) {
                const otc_log_record *lr = sl->log_records[k];
                e->len = 0;
                enc_key(e, &rk);
                enc_key(e, &sk);
                enc_u64(e, lr->time_unix_nano);
                enc_u64(e, lr->observed_time_unix_nano);
                enc_u64(e, (uint64_t)lr->severity_number);
                enc_str(e, lr->severity_text);
                enc_any(e, lr->body, 0);
                enc_attrs(e, lr->attributes, lr->n_attributes, 0);
                enc_bytes(e, lr->trace_id.data, lr->trace_id.len);
                enc_bytes(e, lr->span_id.data, lr->span_id.len);
                enc_u64(e, lr->flags);
                enc_str(e, lr->event_name);
                x->keys[n++] = enc_hash(e);
            }
        }
    }
    return n;
}

/* The data point array of a metric, whatever its type (NULL when none). */
static void **metric_points(otc_metric *m, size_t **count)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        if (m->gauge) {
            *count = &m->gauge->n_data_points;
            return (void **)m->gauge->data_points;
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        if (m->sum) {
            *count = &m->sum->n_data_points;
            return (void **)m->sum->data_points;
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        if (m->histogram) {
            *count = &m->histogram->n_data_points;
            return (void **)m->histogram->data_points;
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        if (m->exponential_histogram) {
            *count = &m->exponential_histogram->n_data_points;
            return (void **)m->exponential_histogram->data_points;
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        if (m->summary) {
            *count = &m->summary->n_data_points;
            return (void **)m->summary->data_points;
        }
        break;
    default:
        break;
    }
    *count = NULL;
    return NULL;
}

#define DD_POINT_IDENTITY(e, type, p)                                              \
    do {                                                                           \
        const type *pt_ = (const type *)(p);                                       \
        enc_attrs((e), pt_->attributes, pt_->n_attributes, 0);                     \
        enc_u64((e), pt_->start_time_unix_nano);                                   \
        enc_u64((e), pt_->time_unix_nano);                                         \
    } while (0)

/* Metric data points: resource, scope, metric name and type, point attributes,
 * start and time timestamps. */
static size_t keys_metrics(struct dedup_ctx *x, const otc_metrics_req *r)
{
    struct dd_enc *e = &x->enc;
    size_t n = 0;

    for (size_t i = 0; i < r->n_resource_metrics; i++) {
        const otc_resource_metrics *rm = r->resource_metrics[i];
        struct otc_dedup_key rk = resource_key(e, rm->resource, rm->schema_url);
        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            const otc_scope_metrics *sm = rm->scope_metrics[j];
            struct otc_dedup_key sk = scope_key(e, sm->scope, sm->schema_url);
            for (size_t k = 0; k < sm->n_metrics; k++) {
                otc_metric *m = sm->metrics[k];
                size_t *np;
                void **pts = metric_points(m, &np);
                struct otc_dedup_key mk;

                if (!pts || *np == 0) {
                    continue;
                }
                e->len = 0;
                enc_key(e, &rk);
                enc_key(e, &sk);
                enc_str(e, m->name);
                enc_u64(e, (uint64_t)m->data_case);
                mk = enc_hash(e);
                for (size_t p = 0; p < *np; p++) {
                    e->len = 0;
                    enc_key(e, &mk);
                    switch (m->data_case) {
                    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
                    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
                        DD_POINT_IDENTITY(e, dd_number_point, pts[p]);
                        break;
                    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
                        DD_POINT_IDENTITY(e, dd_histogram_point, pts[p]);
                        break;
                    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
                        DD_POINT_IDENTITY(e, dd_exp_point, pts[p]);
                        break;
                    default:
                        DD_POINT_IDENTITY(e, dd_summary_point, pts[p]);
                        break;
                    }
                    x->keys[n++] = enc_hash(e);
                }
            }
        }
    }
    return n;
}

/* ----------------------------------------------------------- removal */

/* Keep the entries of v whose flag (read from dup at *at onwards) is 0. */
static size_t compact(void **v, size_t n, const uint8_t *dup, size_t *at)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        if (!dup[(*at)++]) {
            v[kept++] = v[i];
        }
    }
    return kept;
}

static void drop_traces(otc_traces_req *r, const uint8_t *dup)
{
    size_t at = 0, nr = 0;

    for (size_t i = 0; i < r->n_resource_spans; i++) {
        otc_resource_spans *rs = r->resource_spans[i];
        size_t ns = 0;
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            otc_scope_spans *ss = rs->scope_spans[j];
            ss->n_spans = compact((void **)ss->spans, ss->n_spans, dup, &at);
            if (ss->n_spans) {
                rs->scope_spans[ns++] = ss;
            }
        }
        rs->n_scope_spans = ns;
        if (ns) {
            r->resource_spans[nr++] = rs;
        }
    }
    r->n_resource_spans = nr;
}

static void drop_logs(otc_logs_req *r, const uint8_t *dup)
{
    size_t at = 0, nr = 0;

    for (size_t i = 0; i < r->n_resource_logs; i++) {
        otc_resource_logs *rl = r->resource_logs[i];
        size_t ns = 0;
        for (size_t j = 0; j < rl->n_scope_logs; j++) {
            otc_scope_logs *sl = rl->scope_logs[j];
            sl->n_log_records = compact((void **)sl->log_records, sl->n_log_records, dup, &at);
            if (sl->n_log_records) {
                rl->scope_logs[ns++] = sl;
            }
        }
        rl->n_scope_logs = ns;
        if (ns) {
            r->resource_logs[nr++] = rl;
        }
    }
    r->n_resource_logs = nr;
}

/* Metrics that lose all their points go; metrics that had none stay. */
static void drop_metrics(otc_metrics_req *r, const uint8_t *dup)
{
    size_t at = 0, nr = 0;

    for (size_t i = 0; i < r->n_resource_metrics; i++) {
        otc_resource_metrics *rm = r->resource_metrics[i];
        size_t ns = 0;
        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            otc_scope_metrics *sm = rm->scope_metrics[j];
            size_t nm = 0;
            for (size_t k = 0; k < sm->n_metrics; k++) {
                otc_metric *m = sm->metrics[k];
                size_t *np;
                void **pts = metric_points(m, &np);
                if (pts && *np > 0) {
                    *np = compact(pts, *np, dup, &at);
                    if (*np == 0) {
                        continue;
                    }
                }
                sm->metrics[nm++] = m;
            }
            sm->n_metrics = nm;
            if (nm) {
                rm->scope_metrics[ns++] = sm;
            }
        }
        rm->n_scope_metrics = ns;
        if (ns) {
            r->resource_metrics[nr++] = rm;
        }
    }
    r->n_resource_metrics = nr;
}

/* ------------------------------------------------------------- data path */

static int ensure_cap(struct dedup_ctx *x, size_t n)
{
    struct otc_dedup_key *k;
    uint8_t *d;
    size_t cap = x->cap ? x->cap : 256;

    if (n <= x->cap) {
        return OTC_OK;
    }
    while (cap < n) {
        cap *= 2;
    }
    k = realloc(x->keys, cap * sizeof(*k));
    if (!k) {
        return OTC_ENOMEM;
    }
    x->keys = k;
    d = realloc(x->dup, cap);
    if (!d) {
        return OTC_ENOMEM;
    }
    x->dup = d;
    x->cap = cap;
    return OTC_OK;
}

static int dedup_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct dedup_ctx *x = vctx;
    enum otc_signal s = b->signal;
    const ProtobufCMessage *msg;
    ProtobufCMessage *mut;
    size_t n, got, dups;
    uint64_t now;
    bool wire = false;

    if (!(x->sig_mask & OTC_SIG_BIT(s))) {
        return otc_next(ins, b);
    }
    if (s == OTC_TRACES && !otc_batch_is_decoded(b) &&
        (n = b->items) > 0 && ensure_cap(x, n) == OTC_OK && wire_keys_traces(x, b, &got) &&
        got == n) {
        wire = true; /* spans keyed from their bytes: never decoded */
        goto keyed;
    }
    if (!(msg = otc_batch_msg(b))) {
        return otc_next(ins, b);
    }
    n = otc_request_count_items(s, msg);
    if (n == 0 || ensure_cap(x, n) != OTC_OK) {
        return otc_next(ins, b); /* nothing to check, or no memory to check it: fail open */
    }
    x->enc.failed = false;
    if (s == OTC_TRACES) {
        got = keys_traces(x, (const otc_traces_req *)msg);
    } else if (s == OTC_LOGS) {
        got = keys_logs(x, (const otc_logs_req *)msg);
    } else {
        got = keys_metrics(x, (const otc_metrics_req *)msg);
    }
    if (x->enc.failed || got != n) {
        return otc_next(ins, b);
    }
keyed:
    now = otc_now_ns();
    otc_dedup_table_expire(&x->table, now);
    dups = otc_dedup_table_check_many(&x->table, x->keys, n, now, x->dup);
    if (dups == 0) {
        return otc_next(ins, b); /* untouched: keeps its bytes for zero-copy export */
    }
    atomic_fetch_add_explicit(&ins->counters.dropped[s], dups, memory_order_relaxed);
    atomic_fetch_add_explicit(&ins->counters.deduplicated[s], dups, memory_order_relaxed);
    if (wire) {
        /* drop on the wire: the other spans go on as the bytes that arrived */
        if (dups == n) {
            otc_batch_unref(b);
            return OTC_OK;
        }
        for (size_t i = 0; i < n; i++) {
            x->dup[i] = !x->dup[i]; /* now: keep */
        }
        if (!(b = otc_batch_keep_items(b, x->dup, n - dups))) {
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
    if (s == OTC_TRACES) {
        drop_traces((otc_traces_req *)mut, x->dup);
    } else if (s == OTC_LOGS) {
        drop_logs((otc_logs_req *)mut, x->dup);
    } else {
        drop_metrics((otc_metrics_req *)mut, x->dup);
    }
    if (otc_batch_recount(b) == 0) {
        otc_batch_unref(b);
        return OTC_OK;
    }
    return otc_next(ins, b);
}

const struct otc_component_ops otc_processor_dedup_ops = {
    .type = "dedup",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = true,
    .concurrent = false,
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
