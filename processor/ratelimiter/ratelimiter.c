/* ratelimiter.c - the `ratelimiter` processor (the options of Elastic's
 * ratelimitprocessor, type local, plus otelc's resource_keys and max_keys).
 * The decision is taken in admit_request(), on receiver threads before the
 * receiver answers, from the request's wire form (nothing is decoded): a
 * throttled request is answered RESOURCE_EXHAUSTED with RetryInfo (HTTP 429
 * with Retry-After) and never enters the pipeline. consume() runs on the
 * pipeline worker and only passes batches on. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_pb_walk.h"
#include "ratelimiter.h"
#include "ratelimiter_buckets.h"

#define RL_KEY_MAX    256  /* bytes of one metadata or attribute value kept in a key */
#define RL_KEY_BYTES  2048 /* bytes of a whole key, at most (longer ones are cut) */
#define RL_STACK_KEYS 16   /* distinct keys of a request handled without allocating */

enum { RL_REQUESTS, RL_RECORDS, RL_BYTES };
enum { RL_ERROR, RL_DELAY };

struct rl_ctx {
    /* options */
    char               *type;
    int64_t             rate;
    int64_t             burst;
    int                 strategy;
    int                 behavior;
    int64_t             throttle_interval_ns;
    int64_t             retry_delay_ns;
    struct otc_strlist  metadata_keys;
    struct otc_strlist  resource_keys;
    struct otc_cfg_tree *overrides_cfg;
    int64_t             max_keys;
    /* runtime */
    struct rl_override *overrides;
    size_t              n_overrides;
    struct rl_table     table;
    bool                table_ready;
    struct otc_instance *ins;
    atomic_uint_fast64_t last_log_s;
    atomic_uint_fast64_t held_logs;
    struct otc_metric   m_req_accepted, m_req_throttled, m_items_accepted, m_items_throttled;
    struct otc_metric   m_buckets, m_evicted;
};

static const char *const strategies[] = {"requests", "records", "bytes", NULL};
static const char *const behaviors[] = {"error", "delay", NULL};

#define OFF(f) offsetof(struct rl_ctx, f)

static const struct otc_config_entry rl_config[] = {
    {OTC_CFG_STR, "type", "local", OFF(type), 0, 0, 0, NULL,
     "local: buckets in this process (gubernator, a shared rate-limit service, is not supported)"},
    {OTC_CFG_INT, "rate", "0", OFF(rate), 0, 0, 0, NULL,
     "bucket refill rate, in tokens per second (required, > 0)"},
    {OTC_CFG_INT, "burst", "0", OFF(burst), 0, 0, 0, NULL,
     "bucket capacity in tokens (required, >= 1); a request wanting more than burst tokens can "
     "never pass and is refused for good (RESOURCE_EXHAUSTED without RetryInfo, HTTP 413)"},
    {OTC_CFG_ENUM, "strategy", "requests", OFF(strategy), 0, 0, 0, strategies,
     "what a token is: a request, a record (span, data point, log record) or a byte of the "
     "serialized request"},
    {OTC_CFG_ENUM, "throttle_behavior", "error", OFF(behavior), 0, 0, 0, behaviors,
     "error: refuse with RetryInfo retry_delay; delay: refuse with RetryInfo set to the time "
     "until the bucket holds the tokens, so that the client's retry is the wait (otelc never "
     "holds a call: receiver threads are shared)"},
    {OTC_CFG_DURATION, "throttle_interval", "1s", OFF(throttle_interval_ns), OTC_CFG_F_MIN, 0.001,
     0, NULL, "accepted, no effect (type gubernator only)"},
    {OTC_CFG_DURATION, "retry_delay", "1s", OFF(retry_delay_ns), OTC_CFG_F_MIN, 0.001, 0, NULL,
     "throttle_behavior error: the delay sent in RetryInfo (Retry-After over HTTP, rounded up "
     "to whole seconds)"},
    {OTC_CFG_STRLIST, "metadata_keys", NULL, OFF(metadata_keys), 0, 0, 0, NULL,
     "client metadata keys (gRPC metadata, HTTP headers; the receiver needs include_metadata: "
     "true) whose values key the buckets, e.g. a tenant header"},
    {OTC_CFG_STRLIST, "resource_keys", NULL, OFF(resource_keys), 0, 0, 0, NULL,
     "otelc: resource attributes (e.g. service.name) whose values key the buckets too; a request "
     "whose resources map to several keys takes from each bucket, all or nothing"},
    {OTC_CFG_TREE, "overrides", NULL, OFF(overrides_cfg), 0, 0, 0, NULL,
     "per key, rate and/or burst replacing the top-level ones (throttle_interval, "
     "disable_dynamic: accepted, no effect); a key is \"default\" without metadata_keys and "
     "resource_keys, else \"k1:v1;k2:v2\" over metadata_keys then resource_keys "
     "(several values of one metadata key joined with \",\")"},
    {OTC_CFG_INT, "max_keys", "10000", OFF(max_keys), OTC_CFG_F_MIN | OTC_CFG_F_MAX, 1, 1 << 24,
     NULL,
     "otelc: buckets kept at most; beyond it the least recently used one is dropped (counted in "
     "otelcol_ratelimit_buckets_evicted; a dropped key starts again with a full bucket)"},
    OTC_CFG_END,
};

/* ------------------------------------------------------------ config */

/* Read overrides (a mapping of key to {rate, burst, ...}) into out (NULL:
 * only check). OTC_OK, or OTC_EINVAL with a message naming the key. */
static int parse_overrides(const struct otc_cfg_tree *t, struct rl_override *out,
                           const struct rl_limit *def, char *err, size_t errlen)
{
    if (!t || t->kind == OTC_TREE_NULL) {
        return OTC_OK;
    }
    if (t->kind != OTC_TREE_MAP) {
        snprintf(err, errlen, "overrides: must be a mapping of key to {rate, burst}");
        return OTC_EINVAL;
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct otc_cfg_tree *o = &t->items[i];
        struct rl_limit l = def ? *def : (struct rl_limit){0, 0};

        if (o->kind != OTC_TREE_MAP && o->kind != OTC_TREE_NULL) {
            snprintf(err, errlen, "overrides: \"%s\": must be a mapping {rate, burst}", o->key);
            return OTC_EINVAL;
        }
        for (size_t k = 0; o->kind == OTC_TREE_MAP && k < o->n; k++) {
            const struct otc_cfg_tree *f = &o->items[k];
            int64_t v;

            if (!strcmp(f->key, "throttle_interval") || !strcmp(f->key, "disable_dynamic")) {
                continue; /* gubernator only */
            }
            if (strcmp(f->key, "rate") != 0 && strcmp(f->key, "burst") != 0) {
                snprintf(err, errlen, "overrides: \"%s\": unknown key \"%s\" (rate, burst, "
                         "throttle_interval, disable_dynamic)", o->key, f->key);
                return OTC_EINVAL;
            }
            if (f->kind != OTC_TREE_SCALAR || otc_parse_int(f->scalar, &v) != OTC_OK || v <= 0) {
                snprintf(err, errlen, "overrides: \"%s\": %s: must be an integer greater than "
                         "zero", o->key, f->key);
                return OTC_EINVAL;
            }
            if (!strcmp(f->key, "rate")) {
                l.rate = (double)v;
            } else {
                l.burst = (double)v;
            }
        }
        if (out) {
            out[i].key = strdup(o->key);
            out[i].limit = l;
            if (!out[i].key) {
                return OTC_ENOMEM;
            }
        }
    }
    return OTC_OK;
}

static int rl_validate(const void *vctx, char *err, size_t errlen)
{
    const struct rl_ctx *x = vctx;

    if (strcmp(x->type, "local") != 0) {
        snprintf(err, errlen, "type: \"%s\" is not supported: otelc has the local rate limiter "
                 "only (type: local)%s", x->type,
                 strcmp(x->type, "gubernator") ? "" : "; gubernator's shared limits are not built in");
        return OTC_EINVAL;
    }
    if (x->rate <= 0) {
        snprintf(err, errlen, "rate: must be greater than zero (got %" PRId64 ")", x->rate);
        return OTC_EINVAL;
    }
    if (x->burst < 1) {
        snprintf(err, errlen, "burst: must be at least 1, the tokens of one %s (got %" PRId64
                 "): a smaller bucket refuses every request", x->strategy == RL_REQUESTS ? "request"
                 : x->strategy == RL_RECORDS ? "record" : "byte", x->burst);
        return OTC_EINVAL;
    }
    if (x->resource_keys.n + x->metadata_keys.n > 16) {
        snprintf(err, errlen, "resource_keys: at most 16 keys with metadata_keys");
        return OTC_EINVAL;
    }
    return parse_overrides(x->overrides_cfg, NULL, NULL, err, errlen);
}

/* ------------------------------------------------------------ keys */

/* A key under construction, in a caller's buffer. */
struct keybuf {
    char  *p;
    size_t len, cap;
    bool   over;
};

static void kb_add(struct keybuf *k, const char *s, size_t n)
{
    if (k->len + n > k->cap) {
        n = k->cap - k->len;
        k->over = true;
    }
    memcpy(k->p + k->len, s, n);
    k->len += n;
}

static void kb_str(struct keybuf *k, const char *s)
{
    kb_add(k, s, strlen(s));
}

/* The metadata part of the key: "k1:v1,v2;k2:v". */
static void key_metadata(const struct rl_ctx *x, const struct otc_client_meta *cm,
                         struct keybuf *k)
{
    for (size_t i = 0; i < x->metadata_keys.n; i++) {
        const char *mk = x->metadata_keys.v[i];
        const char *v;
        size_t n;

        if (i > 0) {
            kb_add(k, ";", 1);
        }
        kb_str(k, mk);
        kb_add(k, ":", 1);
        for (size_t j = 0; cm && (v = cm->get(cm->src, mk, j, &n)) != NULL; j++) {
            if (j > 0) {
                kb_add(k, ",", 1);
            }
            kb_add(k, v, n > RL_KEY_MAX ? RL_KEY_MAX : n);
        }
    }
}

/* The text of a serialized AnyValue as a key part: strings as they are,
 * scalars printed, anything else empty. */
static void key_any(struct keybuf *k, const uint8_t *p, size_t len)
{
    struct otc_pb_any a;
    char num[40];
    double d;

    if (!otc_pb_any_read(p, len, &a)) {
        return;
    }
    switch (a.kind) {
    case OTC_PB_ANY_STRING:
        kb_add(k, (const char *)a.p, a.len > RL_KEY_MAX ? RL_KEY_MAX : a.len);
        break;
    case OTC_PB_ANY_BOOL:
        kb_str(k, a.v ? "true" : "false");
        break;
    case OTC_PB_ANY_INT:
        snprintf(num, sizeof(num), "%" PRId64, (int64_t)a.v);
        kb_str(k, num);
        break;
    case OTC_PB_ANY_DOUBLE:
        memcpy(&d, &a.v, sizeof(d));
        snprintf(num, sizeof(num), "%.17g", d);
        kb_str(k, num);
        break;
    default:
        break;
    }
}

/* The resource part of the key: ";rk1:v1;rk2:v2" from a serialized Resource
 * (the last attribute of a name counts, as in unpack). */
static void key_resource(const struct rl_ctx *x, const uint8_t *res, size_t res_len,
                         bool first, struct keybuf *k)
{
    for (size_t i = 0; i < x->resource_keys.n; i++) {
        const char *rk = x->resource_keys.v[i];
        size_t rkl = strlen(rk);
        const uint8_t *val = NULL, *v;
        size_t val_len = 0, n;
        struct otc_pb_iter it;
        struct otc_pb_kv kv;

        if (!first || i > 0) {
            kb_add(k, ";", 1);
        }
        kb_add(k, rk, rkl);
        kb_add(k, ":", 1);
        if (!res) {
            continue;
        }
        otc_pb_iter_init(&it, res, res_len, OTC_PB_RESOURCE_ATTRIBUTES);
        while (otc_pb_iter_next(&it, &v, &n) > 0) {
            if (otc_pb_kv_read(v, n, &kv) && kv.key_len == rkl && !memcmp(kv.key, rk, rkl)) {
                val = kv.value;
                val_len = kv.value_len;
            }
        }
        if (val) {
            key_any(k, val, val_len);
        }
    }
}

/* Items (spans, data points, log records) of one serialized Resource*
 * container: scope containers (2) -> items (2); metrics: -> data (5, 7, 9,
 * 10, 11) -> data_points (1). */
static size_t count_items(enum otc_signal s, const uint8_t *p, size_t len, int level)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    size_t n = 0;

    while (otc_pb_next_field(&p, end, &f) > 0) {
        if (f.wt != 2) {
            continue;
        }
        if (level < 2 && f.num == 2) {
            n += level == 1 && s != OTC_METRICS ? 1 : count_items(s, f.p, f.len, level + 1);
        } else if (level == 2 && otc_pb_is_metric_type(f.num)) {
            n += count_items(s, f.p, f.len, 3);
        } else if (level == 3 && f.num == 1) {
            n++;
        }
    }
    return n;
}

/* ------------------------------------------------------------ admission */

/* One request's keys and tokens, grouped by key. */
struct rl_groups {
    struct rl_want *w;
    size_t          n, cap;
    char           *buf;     /* the keys' text, back to back */
    size_t          used, buf_cap;
    bool            heap_w, heap_buf;
    struct rl_want  stack[RL_STACK_KEYS];
    char            stack_buf[RL_STACK_KEYS * 64];
};

static void groups_init(struct rl_groups *g)
{
    g->w = g->stack;
    g->n = 0;
    g->cap = RL_STACK_KEYS;
    g->buf = g->stack_buf;
    g->used = 0;
    g->buf_cap = sizeof(g->stack_buf);
    g->heap_w = g->heap_buf = false;
}

static void groups_free(struct rl_groups *g)
{
    if (g->heap_w) {
        free(g->w);
    }
    if (g->heap_buf) {
        free(g->buf);
    }
}

/* Add tokens to key (copied when new). false: out of memory. */
static bool groups_add(struct rl_groups *g, const char *key, size_t len, double tokens)
{
    uint64_t h = rl_hash(key, len);

    for (size_t i = 0; i < g->n; i++) {
        if (g->w[i].hash == h && g->w[i].key_len == len && !memcmp(g->w[i].key, key, len)) {
            g->w[i].tokens += tokens;
            return true;
        }
    }
    if (g->n == g->cap) {
        struct rl_want *nw = malloc(2 * g->cap * sizeof(*nw));
        if (!nw) {
            return false;
        }
        memcpy(nw, g->w, g->n * sizeof(*nw));
        if (g->heap_w) {
            free(g->w);
        }
        g->w = nw;
        g->cap *= 2;
        g->heap_w = true;
    }
    if (g->buf_cap - g->used < len) {
        size_t cap = 2 * g->buf_cap + len;
        char *nb = malloc(cap);
        if (!nb) {
            return false;
        }
        memcpy(nb, g->buf, g->used);
        for (size_t i = 0; i < g->n; i++) {
            g->w[i].key = nb + (g->w[i].key - g->buf);
        }
        if (g->heap_buf) {
            free(g->buf);
        }
        g->buf = nb;
        g->buf_cap = cap;
        g->heap_buf = true;
    }
    memcpy(g->buf + g->used, key, len);
    g->w[g->n++] = (struct rl_want){g->buf + g->used, len, h, tokens};
    g->used += len;
    return true;
}

/* Group the request's tokens by key. false: out of memory or malformed. */
static bool group_request(const struct rl_ctx *x, struct otc_admission *a, struct rl_groups *g)
{
    struct otc_batch *b = a->b;
    char kbuf[RL_KEY_BYTES];
    struct keybuf k = {kbuf, 0, sizeof(kbuf), false};
    const uint8_t *raw, *p, *end;
    size_t raw_len, meta_len, n_res = 0;
    struct otc_pb_field f;
    int r;

    if (!x->metadata_keys.n && !x->resource_keys.n) {
        kb_str(&k, "default");
    }
    key_metadata(x, a->client, &k);
    meta_len = k.len;
    if (!x->resource_keys.n) {
        double t = x->strategy == RL_REQUESTS ? 1.0
                 : x->strategy == RL_RECORDS  ? (double)b->items
                                              : (double)b->raw_len;
        if (x->strategy == RL_BYTES && !otc_batch_bytes_fresh(b) &&
            otc_batch_bytes(b, &raw, &raw_len) == OTC_OK) {
            t = (double)raw_len;
        }
        return groups_add(g, k.p, k.len, t);
    }
    /* per resource container (field 1 of every Export*ServiceRequest) */
    if (otc_batch_bytes(b, &raw, &raw_len) != OTC_OK) {
        return false;
    }
    /* one resource container (the common case): its records are the request's,
     * counted by the receiver already */
    p = raw;
    end = raw + raw_len;
    while ((r = otc_pb_next_field(&p, end, &f)) > 0 && n_res < 2) {
        n_res += f.num == 1 && f.wt == 2;
    }
    p = raw;
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        const uint8_t *res = NULL, *q = f.p;
        size_t res_len = 0;
        struct otc_pb_field f2;
        double t;

        if (f.num != 1 || f.wt != 2) {
            continue;
        }
        while (otc_pb_next_field(&q, f.p + f.len, &f2) > 0) {
            if (f2.num == 1 && f2.wt == 2) {
                res = f2.p;
                res_len = f2.len;
            }
        }
        k.len = meta_len; /* the metadata part is the same for every container */
        k.over = false;
        key_resource(x, res, res_len, x->metadata_keys.n == 0, &k);
        /* requests: one token from each bucket the request maps to (below) */
        t = x->strategy == RL_REQUESTS ? 0.0
          : x->strategy == RL_BYTES    ? (double)f.len
          : n_res == 1                 ? (double)b->items
                                       : (double)count_items(b->signal, f.p, f.len, 0);
        if (!groups_add(g, k.p, k.len, t)) {
            return false;
        }
    }
    if (r < 0) {
        return false;
    }
    for (size_t i = 0; x->strategy == RL_REQUESTS && i < g->n; i++) {
        g->w[i].tokens = 1.0;
    }
    return true;
}

/* A summary line a second at most while requests are throttled. */
static void log_throttled(struct rl_ctx *x, const struct rl_want *w, int64_t wait_ns)
{
    uint_fast64_t now = otc_now_ns() / 1000000000u;
    uint_fast64_t last = atomic_load(&x->last_log_s);

    if (now == last || !atomic_compare_exchange_strong(&x->last_log_s, &last, now)) {
        atomic_fetch_add(&x->held_logs, 1);
        return;
    }
    otc_log_warn(x->ins, "throttling key \"%.*s\": %.0f %s wanted, tokens back in %.3fs "
                 "(%" PRIuFAST64 " more throttled requests since the last line)",
                 (int)(w->key_len > 200 ? 200 : w->key_len), w->key, w->tokens,
                 strategies[x->strategy], (double)wait_ns / 1e9, atomic_exchange(&x->held_logs, 0));
}

static int rl_admit_request(struct otc_instance *ins, void *vctx, struct otc_admission *a)
{
    struct rl_ctx *x = vctx;
    struct rl_groups g;
    enum rl_verdict v;
    int64_t wait = 0;
    size_t which = 0;
    size_t items = a->b->items;
    int rc = OTC_OK;

    (void)ins;
    groups_init(&g);
    if (!group_request(x, a, &g)) {
        groups_free(&g);
        return OTC_OK; /* out of memory or malformed: not this stage's to refuse */
    }
    if (g.n > (size_t)x->max_keys) {
        snprintf(a->reason, sizeof(a->reason), "ratelimiter: a request with %zu keys, more than "
                 "max_keys %" PRId64, g.n, x->max_keys);
        rc = OTC_ELIMIT;
    } else {
        v = rl_table_take(&x->table, g.w, g.n, otc_now_ns(), &wait, &which);
        if (v == RL_WAIT) {
            log_throttled(x, &g.w[which], wait);
            snprintf(a->reason, sizeof(a->reason), "ratelimiter: rate limit exceeded for \"%.*s\", "
                     "retry later", (int)(g.w[which].key_len > 100 ? 100 : g.w[which].key_len),
                     g.w[which].key);
            a->retry_after_ns = x->behavior == RL_DELAY ? wait : x->retry_delay_ns;
            rc = OTC_ETHROTTLED;
        } else if (v == RL_TOO_BIG) {
            snprintf(a->reason, sizeof(a->reason), "ratelimiter: a request of %.0f %s for \"%.*s\" "
                     "is larger than its burst", g.w[which].tokens, strategies[x->strategy],
                     (int)(g.w[which].key_len > 80 ? 80 : g.w[which].key_len), g.w[which].key);
            rc = OTC_ELIMIT;
        }
    }
    groups_free(&g);
    if (rc == OTC_OK) {
        otc_metric_add(&x->m_req_accepted, 1);
        otc_metric_add(&x->m_items_accepted, (int64_t)items);
    } else {
        otc_metric_add(&x->m_req_throttled, 1);
        otc_metric_add(&x->m_items_throttled, (int64_t)items);
    }
    return rc;
}

/* ------------------------------------------------------------ lifecycle */

static void metric_def(struct otc_metric *m, const char *name, const char *unit,
                       enum otc_metric_kind kind, const char *help)
{
    m->name = name;
    m->unit = unit;
    m->kind = kind;
    m->help = help;
}

static int rl_init(struct otc_instance *ins, void *vctx)
{
    struct rl_ctx *x = vctx;
    struct rl_limit def = {(double)x->rate, (double)x->burst};
    char err[256];
    int rc;

    x->ins = ins;
    if (x->overrides_cfg && x->overrides_cfg->kind == OTC_TREE_MAP && x->overrides_cfg->n) {
        x->overrides = calloc(x->overrides_cfg->n, sizeof(*x->overrides));
        if (!x->overrides) {
            return OTC_ENOMEM;
        }
        x->n_overrides = x->overrides_cfg->n;
        if ((rc = parse_overrides(x->overrides_cfg, x->overrides, &def, err, sizeof(err))) != OTC_OK) {
            otc_log_err(ins, "%s", err);
            return rc;
        }
    }
    if (rl_table_init(&x->table, def, x->overrides, x->n_overrides, (size_t)x->max_keys) != 0) {
        return OTC_ENOMEM;
    }
    x->table_ready = true;
    metric_def(&x->m_req_accepted, "otelcol_ratelimit_requests_accepted", "{requests}",
               OTC_METRIC_COUNTER, "Requests the rate limiter admitted (ratelimit.requests, "
               "decision accepted)");
    metric_def(&x->m_req_throttled, "otelcol_ratelimit_requests_throttled", "{requests}",
               OTC_METRIC_COUNTER, "Requests the rate limiter refused (ratelimit.requests, "
               "decision throttled)");
    metric_def(&x->m_items_accepted, "otelcol_ratelimit_items_accepted", "{items}",
               OTC_METRIC_COUNTER, "Spans, data points or log records in admitted requests");
    metric_def(&x->m_items_throttled, "otelcol_ratelimit_items_throttled", "{items}",
               OTC_METRIC_COUNTER, "Spans, data points or log records in refused requests");
    metric_def(&x->m_buckets, "otelcol_ratelimit_buckets", "{buckets}", OTC_METRIC_GAUGE,
               "Token buckets held (one per key), at most max_keys");
    metric_def(&x->m_evicted, "otelcol_ratelimit_buckets_evicted", "{buckets}",
               OTC_METRIC_COUNTER, "Buckets dropped to stay within max_keys");
    if ((rc = otc_metric_register(ins, &x->m_req_accepted)) != OTC_OK ||
        (rc = otc_metric_register(ins, &x->m_req_throttled)) != OTC_OK ||
        (rc = otc_metric_register(ins, &x->m_items_accepted)) != OTC_OK ||
        (rc = otc_metric_register(ins, &x->m_items_throttled)) != OTC_OK ||
        (rc = otc_metric_register(ins, &x->m_buckets)) != OTC_OK ||
        (rc = otc_metric_register(ins, &x->m_evicted)) != OTC_OK) {
        return rc;
    }
    ins->timer_due_ns = otc_now_ns() + 1000000000u;
    return OTC_OK;
}

/* Worker: once a second, the bucket gauges. */
static int rl_timer(struct otc_instance *ins, void *vctx, uint64_t now_ns)
{
    struct rl_ctx *x = vctx;

    otc_metric_set(&x->m_buckets, (int64_t)rl_table_size(&x->table));
    otc_metric_set(&x->m_evicted, (int64_t)atomic_load(&x->table.evicted));
    ins->timer_due_ns = now_ns + 1000000000u;
    return OTC_OK;
}

static int rl_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    (void)vctx;
    return otc_next(ins, b);
}

static void rl_destroy(void *vctx)
{
    struct rl_ctx *x = vctx;

    if (x->table_ready) {
        rl_table_destroy(&x->table);
        x->table_ready = false;
    }
    for (size_t i = 0; i < x->n_overrides; i++) {
        free(x->overrides[i].key);
    }
    free(x->overrides);
    x->overrides = NULL;
    x->n_overrides = 0;
}

const struct otc_component_ops otc_processor_ratelimiter_ops = {
    .type = "ratelimiter",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = true,
    .ctx_size = sizeof(struct rl_ctx),
    .config_map = rl_config,
    .validate = rl_validate,
    .init = rl_init,
    .start = NULL,
    .consume = rl_consume,
    .send = NULL,
    .flush = NULL,
    .timer = rl_timer,
    .admit = NULL,
    .admit_request = rl_admit_request,
    .shutdown = NULL,
    .destroy = rl_destroy,
};
