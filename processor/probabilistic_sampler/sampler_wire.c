/* sampler_wire.c - the probabilistic_sampler's wire path: every span or log
 * record of an undecoded request is decided from its bytes, and the request
 * the decoded path would give (dropped items left out, kept ones with the
 * tracestate or sampling attributes otelcol writes) is written in one pass,
 * without decoding it. Runs on the pipeline worker threads, several at once. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_arena.h"
#include "otc/otc_batch.h"
#include "otc/otc_pb_walk.h"
#include "otc/otc_rc.h"
#include "sampler_internal.h"

/* What a walk callback stops with. */
enum { WIRE_SLOW = 1, /* an item this path does not read: the decoded path decides */
       WIRE_NOMEM = 2 };

/* Field numbers (trace.proto, logs.proto, common.proto). */
enum {
    SPAN_TRACE_STATE = 3,
    SPAN_ATTRIBUTES = 9,
    LOG_ATTRIBUTES = 6,
    KV_KEY = 1,
    KV_VALUE = 2,
    ANY_STRING = 1,
};

/* Room for one decision per item, per call (workers share the ctx): on the
 * stack for requests of up to KEEP_STACK items, else on the heap. */
#define KEEP_STACK 4096

/* A span's decision: keep it or not and, when kept, whether its trace_state
 * field becomes field (field_len bytes, 0: the field left out). */
struct span_decision {
    bool           keep, edit;
    const uint8_t *field;
    size_t         field_len;
};

/* The decisions of the last spans decided that had no tracestate and no
 * priority, by a hash of their trace id (span_memo_slot). Such a span's
 * decision and tracestate depend on its trace id alone, and SDKs export the
 * spans of a trace together (often interleaved with other traces'), so a span
 * usually finds its trace's decision here and skips the hash, the tracestate
 * writing and its bytes. */
#define SPAN_MEMO 64 /* a power of two */

struct span_memo {
    uint8_t              trace_id[16];
    bool                 set;
    struct span_decision d;
};

/* One walk over a request: the decisions, and the kept items' edits with
 * their bytes in scratch. */
struct wire {
    const struct sampler_ctx *x;
    uint8_t                  *keep;
    size_t                    cap; /* items the request says it has */
    size_t                    total, kept;
    struct otc_pb_edit       *edits;
    size_t                    n_edits;
    struct otc_arena          scratch;
    struct otc_pb_keys        keys; /* attributes read past the item reader */
    bool                      ids_only; /* spans: read up to the tracestate (otc_pb_span_ids) */
    struct span_memo          memo[SPAN_MEMO];
};

static size_t varint_size(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

/* A length-delimited field: its size, and it written at o (when not NULL). */
static size_t put_bytes(uint8_t **o, uint32_t num, const void *p, size_t n)
{
    if (*o) {
        *(*o)++ = (uint8_t)(num << 3 | 2);
        *o = put_varint(*o, n);
        memcpy(*o, p, n);
        *o += n;
    }
    return 1 + varint_size(n) + n;
}

/* Whether key bytes k (kl of them) name name as the decoded string does (it
 * ends at the first NUL). */
static bool key_is(const uint8_t *k, size_t kl, const char *name)
{
    size_t nl = strlen(name);

    return k && (kl == nl || (kl > nl && k[nl] == 0)) && memcmp(k, name, nl) == 0;
}

/* Record an edit of item with n splices and bytes bytes of data after them
 * (in scratch): the splices, the data in *data; NULL on ENOMEM. */
static struct otc_pb_splice *wire_edit(struct wire *w, size_t item, size_t n, size_t bytes,
                                       uint8_t **data)
{
    struct otc_pb_splice *sp = otc_arena_alloc(&w->scratch, n * sizeof(*sp) + bytes);

    if (!sp) {
        return NULL;
    }
    *data = (uint8_t *)(sp + n);
    w->edits[w->n_edits++] = (struct otc_pb_edit){.item = item, .splices = sp, .n_splices = n};
    return sp;
}

/* ------------------------------------------------------------ spans */

/* The span's sampling.priority attribute (the first KeyValue of that name);
 * false when it is not read as unpack would read it. */
static bool wire_span_priority(const uint8_t *p, size_t len, enum sampler_prio *prio)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    int r;

    *prio = PRIO_DEFER;
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        struct otc_pb_kv kv;
        struct otc_pb_any a;
        double d;
        char s[256];
        size_t n;

        if (f.num != SPAN_ATTRIBUTES || f.wt != 2) {
            continue;
        }
        if (!otc_pb_kv_read(f.p, f.len, &kv)) {
            return false;
        }
        if (!key_is(kv.key, kv.key_len, SAMPLER_PRIORITY_KEY)) {
            continue;
        }
        if (!kv.value) {
            return true;
        }
        if (!otc_pb_any_read(kv.value, kv.value_len, &a)) {
            return false;
        }
        switch (a.kind) {
        case OTC_PB_ANY_INT:
            *prio = (int64_t)a.v == 0 ? PRIO_DROP : (int64_t)a.v > 0 ? PRIO_KEEP : PRIO_DEFER;
            break;
        case OTC_PB_ANY_DOUBLE:
            memcpy(&d, &a.v, sizeof(d));
            *prio = sampler_prio_of(d);
            break;
        case OTC_PB_ANY_STRING:
            n = strnlen((const char *)a.p, a.len);
            if (n >= sizeof(s)) {
                return false;
            }
            memcpy(s, a.p, n);
            s[n] = '\0';
            *prio = sampler_prio_string(s);
            break;
        default:
            break;
        }
        return true;
    }
    return r == 0;
}

/* Where a span without a tracestate gets one: before its first field
 * numbered above trace_state, as an encoder orders them. */
static size_t span_ts_insert_at(const uint8_t *p, size_t len)
{
    const uint8_t *q = p, *end = p + len;
    struct otc_pb_field f;

    /* as encoders write a span: trace_id (16 bytes), span_id (8), then a field
     * with a one-byte tag numbered above trace_state, or nothing */
    if (len >= 28 && p[0] == 0x0a && p[1] == 16 && p[18] == 0x12 && p[19] == 8 &&
        (len == 28 || (p[28] < 0x80 && (p[28] >> 3) > SPAN_TRACE_STATE))) {
        return 28;
    }
    for (const uint8_t *start = q; otc_pb_next_field(&q, end, &f) > 0; start = q) {
        if (f.num > SPAN_TRACE_STATE) {
            return (size_t)(start - p);
        }
    }
    return len;
}

/* Where the decision of a span of trace id tid (16 bytes) is remembered. */
static size_t span_memo_slot(const uint8_t *tid)
{
    uint64_t lo, hi;

    memcpy(&lo, tid, 8);
    memcpy(&hi, tid + 8, 8);
    return (size_t)(((lo ^ hi) * 0x9e3779b97f4a7c15ull) >> 58) & (SPAN_MEMO - 1);
}

/* Apply decision d to the at-th span (p, len bytes, read into sp). */
static int span_apply(struct wire *w, size_t at, const uint8_t *p, size_t len,
                      const struct otc_pb_span *sp, const struct span_decision *d)
{
    struct otc_pb_splice *sl;
    uint8_t *o;

    w->keep[at] = d->keep;
    if (!d->keep) {
        return 0;
    }
    w->kept++;
    if (!d->edit) {
        return 0;
    }
    /* the last trace_state field is the one unpack keeps: it is replaced (an
     * empty one is left out, as encoders do) */
    if (!(sl = wire_edit(w, at, 1, 0, &o))) {
        return WIRE_NOMEM;
    }
    if (sp->trace_state) {
        sl->from = (size_t)(sp->trace_state_field - p);
        sl->to = (size_t)(sp->trace_state + sp->trace_state_len - p);
    } else {
        sl->from = sl->to = span_ts_insert_at(p, len);
    }
    sl->data = d->field;
    sl->n = d->field_len;
    return 0;
}

static int wire_span(void *arg, const uint8_t *p, size_t len)
{
    struct wire *w = arg;
    struct otc_pb_span sp;
    struct sampler_span_in in;
    struct span_memo *m = NULL;
    struct span_decision d = {0};
    char ts[SAMPLER_TS_MAX];
    size_t at = w->total, n;

    if (at == w->cap ||
        !(w->ids_only ? otc_pb_span_ids(p, len, &sp) : otc_pb_span_read(p, len, &w->keys, &sp))) {
        return WIRE_SLOW;
    }
    in.trace_id = sp.trace_id;
    in.trace_id_len = sp.trace_id_len;
    in.trace_state = sp.trace_state ? (const char *)sp.trace_state : "";
    in.trace_state_len = sp.trace_state ? strnlen(in.trace_state, sp.trace_state_len) : 0;
    in.prio = PRIO_DEFER;
    if (sp.has_key && !wire_span_priority(p, len, &in.prio)) {
        return WIRE_SLOW;
    }
    w->total++;
    if (sp.trace_state_len == 0 && in.prio == PRIO_DEFER && in.trace_id_len == 16) {
        m = &w->memo[span_memo_slot(in.trace_id)];
        if (m->set && !memcmp(m->trace_id, in.trace_id, 16)) {
            return span_apply(w, at, p, len, &sp, &m->d);
        }
    }
    d.keep = sampler_span_decide(w->x, &in, ts, &n);
    d.edit = d.keep && n != SIZE_MAX &&
             !(n == sp.trace_state_len && (n == 0 || !memcmp(ts, sp.trace_state, n)));
    if (d.edit && n) {
        uint8_t *o = otc_arena_alloc(&w->scratch, 1 + varint_size(n) + n);

        if (!o) {
            return WIRE_NOMEM;
        }
        d.field = o;
        d.field_len = put_bytes(&o, SPAN_TRACE_STATE, ts, n);
    }
    if (m) {
        memcpy(m->trace_id, in.trace_id, 16);
        m->set = true;
        m->d = d;
    }
    return span_apply(w, at, p, len, &sp, &d);
}

/* ------------------------------------------------------------ log records */

/* The attributes a log record's decision looks up, by the decoded path's rule:
 * the first KeyValue whose key (up to a NUL) is the name. */
enum { LK_THRESHOLD, LK_RANDOM, LK_FROM, LK_PRIO, LK_N };

/* Where the first sampling.threshold / .randomness KeyValue fields are (from
 * = to = 0: none), and their keys. */
struct log_attrs {
    size_t         from[2], to[2];
    const uint8_t *key[2];
    size_t         key_len[2];
    bool           found[2];
};

/* A log record's attributes that its decision reads, from its bytes, into in
 * (the from_attribute value's text in buf when it is not a string or bytes);
 * false when a KeyValue or AnyValue is not as unpack would take it. */
static bool wire_log_attrs(const struct sampler_ctx *x, const uint8_t *p, size_t len,
                           struct sampler_log_in *in, struct log_attrs *la, char *buf, size_t cap)
{
    const char *names[LK_N] = {
        SAMPLER_THRESHOLD_KEY, SAMPLER_RANDOM_KEY,
        sampler_log_needs_from(x, in->trace_id, in->trace_id_len) ? x->from_attribute : NULL,
        x->sampling_priority && *x->sampling_priority ? x->sampling_priority : NULL};
    struct otc_pb_any val[LK_N];
    bool found[LK_N] = {false}, present[LK_N] = {false};
    const uint8_t *q = p, *end = p + len;
    struct otc_pb_field f;
    int r;

    for (const uint8_t *start = q; (r = otc_pb_next_field(&q, end, &f)) > 0; start = q) {
        struct otc_pb_kv kv;

        if (f.num != LOG_ATTRIBUTES || f.wt != 2) {
            continue;
        }
        if (!otc_pb_kv_read(f.p, f.len, &kv)) {
            return false;
        }
        for (int k = 0; k < LK_N; k++) {
            if (found[k] || !names[k] || !key_is(kv.key, kv.key_len, names[k])) {
                continue;
            }
            found[k] = true;
            if (k <= LK_RANDOM) {
                la->found[k] = true;
                la->from[k] = (size_t)(start - p);
                la->to[k] = (size_t)(q - p);
                la->key[k] = kv.key;
                la->key_len[k] = strnlen((const char *)kv.key, kv.key_len);
            }
            if (kv.value) {
                if (!otc_pb_any_read(kv.value, kv.value_len, &val[k])) {
                    return false;
                }
                present[k] = true;
            }
        }
    }
    if (r < 0) {
        return false;
    }
    if (present[LK_THRESHOLD] && val[LK_THRESHOLD].kind == OTC_PB_ANY_STRING) {
        in->threshold = (const char *)val[LK_THRESHOLD].p;
        in->threshold_len = strnlen(in->threshold, val[LK_THRESHOLD].len);
    }
    if (present[LK_RANDOM] && val[LK_RANDOM].kind == OTC_PB_ANY_STRING) {
        in->randomness = (const char *)val[LK_RANDOM].p;
        in->randomness_len = strnlen(in->randomness, val[LK_RANDOM].len);
    }
    if (present[LK_FROM]) {
        const struct otc_pb_any *a = &val[LK_FROM];
        double d;

        switch (a->kind) {
        case OTC_PB_ANY_STRING:
            in->from = a->p;
            in->from_len = strnlen((const char *)a->p, a->len);
            break;
        case OTC_PB_ANY_BYTES:
            in->from = a->p;
            in->from_len = a->len;
            break;
        case OTC_PB_ANY_BOOL:
            in->from_len = (size_t)snprintf(buf, cap, "%s", a->v ? "true" : "false");
            in->from = (const uint8_t *)buf;
            break;
        case OTC_PB_ANY_INT:
            in->from_len = (size_t)snprintf(buf, cap, "%lld", (long long)(int64_t)a->v);
            in->from = (const uint8_t *)buf;
            break;
        case OTC_PB_ANY_DOUBLE:
            memcpy(&d, &a->v, sizeof(d));
            in->from_len = sampler_double_string(d, buf, cap);
            in->from = (const uint8_t *)buf;
            break;
        default:
            break;
        }
    }
    if (present[LK_PRIO]) {
        double d;

        if (val[LK_PRIO].kind == OTC_PB_ANY_DOUBLE) {
            memcpy(&d, &val[LK_PRIO].v, sizeof(d));
            in->priority = d / 100.0;
        } else if (val[LK_PRIO].kind == OTC_PB_ANY_INT) {
            in->priority = (double)(int64_t)val[LK_PRIO].v / 100.0;
        }
    }
    return true;
}

/* A KeyValue attribute field {key, {string_value: text}}: its size, and it
 * written at *o (when not NULL), as an encoder writes it. */
static size_t kv_field(uint8_t **o, const uint8_t *key, size_t kl, const char *text)
{
    size_t tn = strlen(text);
    size_t any = 1 + varint_size(tn) + tn;
    size_t kv = (kl ? 1 + varint_size(kl) + kl : 0) + 1 + varint_size(any) + any;

    if (*o) {
        *(*o)++ = (uint8_t)(LOG_ATTRIBUTES << 3 | 2);
        *o = put_varint(*o, kv);
        if (kl) {
            put_bytes(o, KV_KEY, key, kl);
        }
        *(*o)++ = (uint8_t)(KV_VALUE << 3 | 2);
        *o = put_varint(*o, any);
        put_bytes(o, ANY_STRING, text, tn);
    }
    return 1 + varint_size(kv) + kv;
}

/* The keys of the attributes wire_log may add (otc_pb_key_bit). */
static uint64_t log_added_keys(void)
{
    return otc_pb_key_bit((const uint8_t *)SAMPLER_RANDOM_KEY, strlen(SAMPLER_RANDOM_KEY)) |
           otc_pb_key_bit((const uint8_t *)SAMPLER_THRESHOLD_KEY, strlen(SAMPLER_THRESHOLD_KEY));
}

static int wire_log(void *arg, const uint8_t *p, size_t len)
{
    static const char *const keys[2] = {SAMPLER_RANDOM_KEY, SAMPLER_THRESHOLD_KEY};
    struct wire *w = arg;
    struct otc_pb_log lr;
    struct sampler_log_in in = {0};
    struct sampler_log_out out;
    struct log_attrs la = {0};
    struct otc_pb_splice *sl, tmp;
    const char *text[2];
    int idx[2]; /* la's index of each: LK_RANDOM, LK_THRESHOLD */
    size_t at = w->total, bytes = 0, n = 0, k;
    uint8_t *o = NULL;
    char buf[64];

    if (at == w->cap || !otc_pb_log_read(p, len, &w->keys, &lr)) {
        return WIRE_SLOW;
    }
    in.trace_id = lr.trace_id;
    in.trace_id_len = lr.trace_id_len;
    if (lr.has_key && !wire_log_attrs(w->x, p, len, &in, &la, buf, sizeof(buf))) {
        return WIRE_SLOW;
    }
    w->total++;
    if (!sampler_log_decide(w->x, &in, &out)) {
        w->keep[at] = 0;
        return 0;
    }
    w->keep[at] = 1;
    w->kept++;
    /* randomness first, then threshold, as the decoded path puts them */
    if (out.randomness) {
        text[n] = out.randomness_text;
        idx[n++] = LK_RANDOM;
    }
    if (out.threshold) {
        text[n] = out.threshold_text;
        idx[n++] = LK_THRESHOLD;
    }
    if (n == 0) {
        return 0;
    }
    for (k = 0; k < n; k++) {
        int i = idx[k];
        const char *key = keys[i == LK_RANDOM ? 0 : 1];

        bytes += la.found[i] ? kv_field(&o, la.key[i], la.key_len[i], text[k])
                             : kv_field(&o, (const uint8_t *)key, strlen(key), text[k]);
    }
    if (!(sl = wire_edit(w, at, n, bytes, &o))) {
        return WIRE_NOMEM;
    }
    for (k = 0; k < n; k++) {
        int i = idx[k];
        const char *key = keys[i == LK_RANDOM ? 0 : 1];

        sl[k].data = o;
        if (la.found[i]) { /* the first attribute of that name takes the value */
            sl[k].from = la.from[i];
            sl[k].to = la.to[i];
            sl[k].n = kv_field(&o, la.key[i], la.key_len[i], text[k]);
        } else { /* appended after the last attribute */
            sl[k].from = sl[k].to = (size_t)(lr.attrs_end - p);
            sl[k].n = kv_field(&o, (const uint8_t *)key, strlen(key), text[k]);
        }
    }
    /* splices by position: a replaced attribute comes before the appended ones */
    if (n == 2 && sl[1].from < sl[0].from) {
        tmp = sl[0];
        sl[0] = sl[1];
        sl[1] = tmp;
    }
    return 0;
}

/* ------------------------------------------------------------ request */


int sampler_wire(const struct sampler_ctx *x, struct otc_batch **bp, size_t *dropped)
{
    struct otc_batch *b = *bp;
    const char *const span_keys[] = {SAMPLER_PRIORITY_KEY, NULL};
    const char *log_keys[5] = {SAMPLER_THRESHOLD_KEY, SAMPLER_RANDOM_KEY};
    struct wire w = {.x = x, .cap = b->items};
    const struct otc_scan_bounds *scanned = otc_batch_scanned(b);
    struct otc_scan_bounds bounds = scanned ? *scanned : (struct otc_scan_bounds){0};
    struct otc_pb_visitor v = {.item = b->signal == OTC_TRACES ? wire_span : wire_log, .arg = &w};
    uint8_t stack[KEEP_STACK], *heap = NULL;
    size_t nk = 2;
    bool empty = false;
    int r, rc = OTC_OK;

    *dropped = 0;
    if (x->sampling_priority && *x->sampling_priority) {
        log_keys[nk++] = x->sampling_priority;
    }
    if (x->kind == K_HASH && x->from_attribute && *x->from_attribute) {
        log_keys[nk++] = x->from_attribute;
    }
    /* only the names the request may hold are looked up */
    otc_pb_keys_init(&w.keys, b->signal == OTC_TRACES ? span_keys : log_keys,
                     scanned ? scanned->keys : UINT64_MAX);
    /* no span may have the priority attribute: its ids and tracestate suffice */
    w.ids_only = scanned && scanned->ordered && w.keys.n == 0;
    /* about what a kept item's edit takes: the splices and their bytes */
    otc_arena_init(&w.scratch, 1024 + w.cap * (sizeof(struct otc_pb_edit) +
                                               2 * sizeof(struct otc_pb_splice) + 48));
    w.keep = w.cap <= KEEP_STACK ? stack : (heap = malloc(w.cap));
    if (!w.keep || !(w.edits = otc_arena_alloc(&w.scratch, (w.cap + 1) * sizeof(*w.edits)))) {
        r = WIRE_NOMEM;
    } else {
        r = otc_pb_walk(b->raw, b->raw_len, &v, &empty);
    }
    if (r == WIRE_NOMEM) {
        *dropped = b->items;
        otc_batch_unref(b);
        *bp = NULL;
        rc = OTC_ENOMEM;
    } else if (r != OTC_OK || w.total != w.cap) {
        rc = OTC_EUNSUPP; /* malformed, or an item read as unpack would not: decoded */
    } else if (w.kept == 0) {
        *dropped = w.total;
        otc_batch_unref(b);
        *bp = NULL;
    } else if (w.kept < w.total || w.n_edits || empty) {
        *dropped = w.total - w.kept;
        if (!(*bp = otc_batch_edit_items(b, w.keep, w.kept, w.edits, w.n_edits))) {
            *dropped = w.total;
            rc = OTC_ENOMEM;
        } else if (scanned) {
            /* spans: only their tracestate changes; log records: at most two
             * sampling attributes, values of SAMPLER_HEX_DIGITS */
            otc_batch_rescanned(*bp, &bounds, (*bp)->signal == OTC_LOGS ? 2 : 0,
                                (*bp)->signal == OTC_LOGS ? log_added_keys() : 0,
                                2 + SAMPLER_HEX_DIGITS);
        }
    } /* else nothing changes: the batch goes on as it arrived */
    otc_arena_release(&w.scratch);
    free(heap);
    return rc;
}
