/* pb_check.c - per-request checks of OTLP requests for the receivers: a
 * non-recursive count of telemetry entries in the serialized bytes, so that a
 * request of millions of tiny spans is refused before protobuf-c allocates a
 * struct for each, UTF-8 validation and repair of decoded string fields, and
 * the one-pass scan of undecoded requests. Reentrant; runs on the receiving
 * thread (the scan's read-only field tables are built once, on first use). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "otc/otc_batch.h"
#include "otc/otc_otlp.h"
#include "otc/otc_pb_check.h"
#include "otc/otc_pb_depth.h"
#include "otc/otc_pb_walk.h"
#include "otc/otc_rc.h"

/* ------------------------------------------------------- entry counting */

enum hop { HOP_SKIP, HOP_COUNT, HOP_COUNT_ENTER, HOP_ENTER };

/* What a length-delimited field of number f at level depth (the request is
 * level 0) is: an entry to count, a list to enter, or neither. */
static enum hop entry_hop(enum otc_signal s, unsigned depth, uint64_t f)
{
    switch (depth) {
    case 0: /* Export*ServiceRequest.resource_{spans,metrics,logs} */
        return f == 1 ? HOP_COUNT_ENTER : HOP_SKIP;
    case 1: /* Resource*.scope_* */
        return f == 2 ? HOP_COUNT_ENTER : HOP_SKIP;
    case 2: /* Scope*.spans / metrics / log_records */
        if (f != 2) {
            return HOP_SKIP;
        }
        return s == OTC_METRICS ? HOP_COUNT_ENTER : HOP_COUNT;
    case 3: /* Metric.gauge, sum, histogram, exponential_histogram, summary */
        return s == OTC_METRICS && (f == 5 || f == 7 || f == 9 || f == 10 || f == 11) ? HOP_ENTER
                                                                                       : HOP_SKIP;
    case 4: /* Gauge/Sum/...data_points */
        return f == 1 ? HOP_COUNT : HOP_SKIP;
    default:
        return HOP_SKIP;
    }
}

int otc_pb_count_entries(enum otc_signal s, const uint8_t *buf, size_t len, size_t max,
                         size_t *count)
{
    const uint8_t *ends[5];
    unsigned depth = 0;
    const uint8_t *p = buf;
    size_t n = 0;
    int rc = OTC_OK;

    if (!buf) {
        len = 0;
        p = (const uint8_t *)"";
    }
    ends[0] = p + len;
    for (;;) {
        uint64_t key, v;

        if (p == ends[depth]) {
            if (depth == 0) {
                break;
            }
            depth--;
            continue;
        }
        if (!(p = otc_pb_varint(p, ends[depth], &key))) {
            break;
        }
        switch (key & 7) {
        case 0:
            p = otc_pb_varint(p, ends[depth], &v);
            break;
        case 1:
            p = ends[depth] - p < 8 ? NULL : p + 8;
            break;
        case 5:
            p = ends[depth] - p < 4 ? NULL : p + 4;
            break;
        case 2: {
            enum hop hop;

            if (!(p = otc_pb_varint(p, ends[depth], &v)) || v > (uint64_t)(ends[depth] - p)) {
                p = NULL;
                break;
            }
            hop = entry_hop(s, depth, key >> 3);
            if (hop == HOP_COUNT || hop == HOP_COUNT_ENTER) {
                n++;
                if (max && n > max) {
                    rc = OTC_ELIMIT;
                    goto out;
                }
            }
            if ((hop == HOP_COUNT_ENTER || hop == HOP_ENTER) && depth + 1 < 5) {
                ends[++depth] = p + v;
                continue;
            }
            p += v;
            break;
        }
        default:
            p = NULL;
            break;
        }
        if (!p) {
            break; /* malformed: unpack refuses it */
        }
    }
out:
    if (count) {
        *count = n;
    }
    return rc;
}

/* ----------------------------------------------------------------- UTF-8 */

/* Length of the valid UTF-8 sequence at p (Unicode table 3-7), 0 if none. */
static inline size_t utf8_seq(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0];
    size_t avail = (size_t)(end - p);

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        uint8_t lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

        return avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        uint8_t lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

        return avail >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
                       (p[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

#define HIGH_BITS 0x8080808080808080ull

/* Whether the last bytes of s (from p to end, fewer than 8) are all ASCII. A
 * string of 8 bytes or more is read as one word ending at end: the bytes
 * before p it covers may be non-ASCII (a sequence just passed), and then the
 * caller goes byte by byte, as it would have anyway. */
static inline bool ascii_tail(const uint8_t *s, const uint8_t *p, const uint8_t *end)
{
    uint64_t w;
    uint32_t w4;
    uint16_t w2;
    uint32_t acc = 0;
    size_t r = (size_t)(end - p);

    if (end - s >= 8) {
        memcpy(&w, end - 8, 8);
        return !(w & HIGH_BITS);
    }
    if (r & 4) {
        memcpy(&w4, p, 4);
        acc |= w4;
        p += 4;
    }
    if (r & 2) {
        memcpy(&w2, p, 2);
        acc |= w2;
        p += 2;
    }
    if (r & 1) {
        acc |= *p;
    }
    return !(acc & 0x80808080u);
}

/* Offset of the first byte of s that is not valid UTF-8, or len. Strings are
 * mostly ASCII and short (attribute keys and values): they are checked 8 bytes
 * at a time, their last 1-7 bytes at once, and only a word holding a byte of
 * 0x80 or more goes through utf8_seq, from that byte on. */
static inline size_t utf8_first_bad(const uint8_t *s, size_t len)
{
    const uint8_t *p = s, *end = s + len;

    for (;;) {
        size_t k;

        while (end - p >= 8) {
            uint64_t w;

            memcpy(&w, p, 8);
            if (w & HIGH_BITS) {
                break;
            }
            p += 8;
        }
        if (end - p < 8 && ascii_tail(s, p, end)) {
            return len;
        }
        while (p < end && *p < 0x80) {
            p++;
        }
        if (p == end) { /* the tail word's high byte was before p */
            return len;
        }
        if (!(k = utf8_seq(p, end))) {
            return (size_t)(p - s);
        }
        p += k;
    }
}

/* Calls fn on each present string field (char **) under m; stops when fn
 * returns false. Recursion follows the message nesting, which receivers bound
 * (OTC_PB_MAX_DEPTH) before decoding. */
typedef bool (*str_fn)(char **s, void *arg);

static bool walk_strings(const ProtobufCMessage *m, str_fn fn, void *arg);

/* Attributes make up most strings: KeyValue and AnyValue are walked directly
 * (recursion as deep as the AnyValue nesting, bounded before decoding). */
static bool walk_kv(otc_key_value *kv, str_fn fn, void *arg);

static bool walk_any(otc_any_value *v, str_fn fn, void *arg)
{
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        return !v->string_value || fn(&v->string_value, arg);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++) {
            if (v->array_value->values[i] && !walk_any(v->array_value->values[i], fn, arg)) {
                return false;
            }
        }
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        for (size_t i = 0; v->kvlist_value && i < v->kvlist_value->n_values; i++) {
            if (v->kvlist_value->values[i] && !walk_kv(v->kvlist_value->values[i], fn, arg)) {
                return false;
            }
        }
        return true;
    default:
        return true;
    }
}

static bool walk_kv(otc_key_value *kv, str_fn fn, void *arg)
{
    return (!kv->key || fn(&kv->key, arg)) && (!kv->value || walk_any(kv->value, fn, arg));
}

static bool walk_strings(const ProtobufCMessage *m, str_fn fn, void *arg)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    if (d == &opentelemetry__proto__common__v1__key_value__descriptor) {
        return walk_kv((otc_key_value *)m, fn, arg);
    }
    if (d == &opentelemetry__proto__common__v1__any_value__descriptor) {
        return walk_any((otc_any_value *)m, fn, arg);
    }

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *base = (char *)m;

        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id) {
                continue; /* not the member the union holds */
            }
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            void **v = *(void ***)(base + f->offset);

            for (size_t k = 0; v && k < n; k++) {
                if (f->type == PROTOBUF_C_TYPE_STRING) {
                    if (v[k] && !fn((char **)&v[k], arg)) {
                        return false;
                    }
                } else if (v[k] && !walk_strings(v[k], fn, arg)) {
                    return false;
                }
            }
        } else if (f->type == PROTOBUF_C_TYPE_STRING) {
            char **s = (char **)(base + f->offset);

            if (*s && !fn(s, arg)) {
                return false;
            }
        } else {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);

            if (sub && !walk_strings(sub, fn, arg)) {
                return false;
            }
        }
    }
    return true;
}

/* strlen (vectorised in libc) and then 8 bytes at a time over ASCII beat a
 * byte loop that looks for the terminator and the high bit at once. */
static bool str_valid(char **s, void *arg)
{
    size_t n = strlen(*s);

    (void)arg;
    return utf8_first_bad((const uint8_t *)*s, n) == n;
}

bool otc_pb_utf8_valid(const ProtobufCMessage *m)
{
    return !m || walk_strings(m, str_valid, NULL);
}

struct repair {
    struct otc_arena *a;
    size_t            changed;
    bool              enomem;
};

static bool str_repair(char **s, void *arg)
{
    struct repair *r = arg;
    const uint8_t *in = (const uint8_t *)*s;
    size_t n = strlen(*s), bad = utf8_first_bad(in, n), o;
    uint8_t *out;

    if (bad == n) {
        return true;
    }
    /* each remaining byte becomes at most 3 (U+FFFD) */
    if (n - bad > (SIZE_MAX - bad - 1) / 3 || !(out = otc_arena_alloc(r->a, bad + 3 * (n - bad) + 1))) {
        r->enomem = true;
        return true;
    }
    memcpy(out, in, bad);
    o = bad;
    for (size_t i = bad; i < n;) {
        size_t k = utf8_seq(in + i, in + n);

        if (k) {
            memcpy(out + o, in + i, k);
            o += k;
            i += k;
        } else {
            out[o++] = 0xef;
            out[o++] = 0xbf;
            out[o++] = 0xbd;
            i++;
        }
    }
    out[o] = '\0';
    *s = (char *)out;
    r->changed++;
    return true;
}

size_t otc_pb_utf8_repair(ProtobufCMessage *m, struct otc_arena *a, bool *enomem)
{
    struct repair r = {.a = a, .changed = 0, .enomem = false};

    if (m) {
        walk_strings(m, str_repair, &r);
    }
    if (enomem) {
        *enomem = r.enomem;
    }
    return r.changed;
}

/* ------------------------------------------------- the receive fast path */

/* What the scan needs to know of one field, worked out once (see scan_tables). */
enum scan_kind {
    SK_MESSAGE,
    SK_STRING,
    SK_BYTES,
    SK_PACKED4,      /* fixed32, sfixed32, float */
    SK_PACKED8,      /* fixed64, sfixed64, double */
    SK_PACKED_VARINT /* the varint types */
};

struct scan_msg;

struct scan_field {
    const struct scan_msg *sub;     /* SK_MESSAGE: the sub-message's table */
    uint64_t               bit;     /* singular SK_MESSAGE: its bit in scan_level.seen (0: none) */
    uint64_t               excl;    /* ... and those of its oneof siblings */
    uint32_t               id;      /* field number */
    uint8_t                wire_ok; /* bit w set: protobuf-c unpacks wire type w for it */
    uint8_t                kind;    /* enum scan_kind */
    bool                   singular; /* SK_MESSAGE not repeated: merged when given twice */
    bool                   item;     /* SK_MESSAGE: a span, log record or data point */
    bool                   entry;    /* SK_MESSAGE: what otc_pb_count_entries counts */
    bool                   repeated; /* may be given several times in a row */
    bool                   kv_key;   /* a KeyValue's key (otc_pb_scan_info.keys) */
    uint8_t                role;     /* SK_MESSAGE: enum scan_role of the sub-message */
};

/* Sub-messages the scan measures for struct otc_pb_scan_info. */
enum scan_role { ROLE_OTHER, ROLE_KV, ROLE_ANY };

enum scan_ids { IDS_NONE, IDS_SPAN, IDS_LOG };

#define SCAN_DIRECT 32 /* field numbers looked up in by_num (see below) */

struct scan_msg {
    const struct scan_field          *by_num[SCAN_DIRECT]; /* NULL: no such field */
    const ProtobufCMessageDescriptor *desc;
    const struct scan_field          *fields; /* by field index (desc->fields order) */
    uint8_t                           ids;    /* enum scan_ids */
};

/* Field lookup tables. The scan meets every field of every request. Finding
 * each with protobuf_c_message_descriptor_get_field (a binary search over
 * field ranges) and working out its wire types, oneof siblings and kind again
 * was 5% of otelc's CPU in the otlp->otlp pass-through profile
 * (bench/RESULTS.md), plus part of the scan's own 11%. So each message
 * reachable from the three requests gets, once per process (pthread_once:
 * receivers scan on several threads), what the scan needs of each field,
 * looked up by field number below SCAN_DIRECT (OTLP numbers its fields 1 to
 * 24); larger numbers go through get_field. If the pools below were too small
 * every request would take the decoding path (the unit tests would fail). */
#define SCAN_MAX_MSGS   64  /* OTLP has 34 messages under its three requests */
#define SCAN_MAX_FIELDS 320 /* ... with 149 fields */

static struct scan_msg    scan_msgs[SCAN_MAX_MSGS];
static struct scan_field  scan_fields[SCAN_MAX_FIELDS];
static size_t             scan_n_msgs, scan_n_fields;
static const struct scan_msg *scan_roots[OTC_SIGNAL_COUNT]; /* NULL: tables not built */
static pthread_once_t     scan_once = PTHREAD_ONCE_INIT;

static bool is_item(const ProtobufCMessageDescriptor *d)
{
    return d == &opentelemetry__proto__trace__v1__span__descriptor ||
           d == &opentelemetry__proto__logs__v1__log_record__descriptor ||
           d == &opentelemetry__proto__metrics__v1__number_data_point__descriptor ||
           d == &opentelemetry__proto__metrics__v1__histogram_data_point__descriptor ||
           d == &opentelemetry__proto__metrics__v1__exponential_histogram_data_point__descriptor ||
           d == &opentelemetry__proto__metrics__v1__summary_data_point__descriptor;
}

/* Resources, scopes, items and metrics: otc_pb_count_entries' entries. */
static bool is_entry(const ProtobufCMessageDescriptor *d)
{
    return d == &opentelemetry__proto__trace__v1__resource_spans__descriptor ||
           d == &opentelemetry__proto__trace__v1__scope_spans__descriptor ||
           d == &opentelemetry__proto__logs__v1__resource_logs__descriptor ||
           d == &opentelemetry__proto__logs__v1__scope_logs__descriptor ||
           d == &opentelemetry__proto__metrics__v1__resource_metrics__descriptor ||
           d == &opentelemetry__proto__metrics__v1__scope_metrics__descriptor ||
           d == &opentelemetry__proto__metrics__v1__metric__descriptor || is_item(d);
}

/* The wire types protobuf-c unpacks for f without error, as a bit mask. */
static uint8_t wire_types_ok(const ProtobufCFieldDescriptor *f)
{
    uint8_t packed = f->label == PROTOBUF_C_LABEL_REPEATED ? 1u << 2 : 0;

    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 1u << 2;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return (uint8_t)(1u << 5 | packed);
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return (uint8_t)(1u << 1 | packed);
    default: /* varint types */
        return (uint8_t)(1u << 0 | packed);
    }
}

static enum scan_kind field_kind(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE:
        return SK_MESSAGE;
    case PROTOBUF_C_TYPE_STRING:
        return SK_STRING;
    case PROTOBUF_C_TYPE_BYTES:
        return SK_BYTES;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return SK_PACKED4;
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return SK_PACKED8;
    default:
        return SK_PACKED_VARINT;
    }
}

/* The bits (by field index) of the other members of f's oneof. */
static uint64_t oneof_siblings(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f)
{
    uint64_t bits = 0;

    if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
        return 0;
    }
    for (unsigned i = 0; i < d->n_fields && i < 64; i++) {
        const ProtobufCFieldDescriptor *g = &d->fields[i];
        if (g != f && (g->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            g->quantifier_offset == f->quantifier_offset) {
            bits |= 1ull << i;
        }
    }
    return bits;
}

/* The table of d, built with those of its sub-messages when new; NULL when the
 * pools above are too small. */
static const struct scan_msg *scan_table(const ProtobufCMessageDescriptor *d)
{
    struct scan_msg *m;
    struct scan_field *fs;

    for (size_t i = 0; i < scan_n_msgs; i++) {
        if (scan_msgs[i].desc == d) {
            return &scan_msgs[i];
        }
    }
    if (scan_n_msgs == SCAN_MAX_MSGS || d->n_fields > SCAN_MAX_FIELDS - scan_n_fields) {
        return NULL;
    }
    /* registered before its sub-messages: AnyValue contains itself */
    m = &scan_msgs[scan_n_msgs++];
    fs = &scan_fields[scan_n_fields];
    scan_n_fields += d->n_fields;
    m->desc = d;
    m->fields = fs;
    m->ids = d == &opentelemetry__proto__trace__v1__span__descriptor       ? IDS_SPAN
             : d == &opentelemetry__proto__logs__v1__log_record__descriptor ? IDS_LOG
                                                                            : IDS_NONE;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        struct scan_field *sf = &fs[i];

        sf->id = f->id;
        sf->repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
        sf->wire_ok = wire_types_ok(f);
        sf->kind = (uint8_t)field_kind(f);
        sf->kv_key = d == &opentelemetry__proto__common__v1__key_value__descriptor && f->id == 1;
        if (sf->kind == SK_MESSAGE) {
            if (!(sf->sub = scan_table(f->descriptor))) {
                return NULL;
            }
            sf->item = is_item(f->descriptor);
            sf->entry = is_entry(f->descriptor);
            sf->role = f->descriptor == &opentelemetry__proto__common__v1__key_value__descriptor
                           ? ROLE_KV
                       : f->descriptor == &opentelemetry__proto__common__v1__any_value__descriptor
                           ? ROLE_ANY
                           : ROLE_OTHER;
            sf->singular = f->label != PROTOBUF_C_LABEL_REPEATED;
            if (sf->singular && i < 64) {
                sf->bit = 1ull << i;
                sf->excl = sf->bit | oneof_siblings(d, f);
            }
        }
        if (f->id < SCAN_DIRECT) {
            m->by_num[f->id] = sf;
        }
    }
    return m;
}

static void scan_tables(void)
{
    const struct scan_msg *roots[OTC_SIGNAL_COUNT];

    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        if (!(roots[s] = scan_table(otc_request_descriptor((enum otc_signal)s)))) {
            return; /* every scan takes the slow path */
        }
    }
    memcpy(scan_roots, roots, sizeof(roots));
}

/* The field numbered num of m, NULL when m has none. */
static inline const struct scan_field *scan_field(const struct scan_msg *m, uint64_t num)
{
    const ProtobufCFieldDescriptor *f;

    if (num < SCAN_DIRECT) {
        return m->by_num[num];
    }
    f = protobuf_c_message_descriptor_get_field(m->desc, (unsigned)num);
    return f ? &m->fields[f - m->desc->fields] : NULL;
}

/* One message being scanned. */
struct scan_level {
    const struct scan_msg *msg;
    const uint8_t         *end;
    uint64_t               seen; /* singular message fields met (by field index) */
    size_t                 kvs;  /* KeyValues met */
    uint64_t               last; /* number of the field before */
    uint8_t                ids;  /* ID_* bits: the last occurrence was valid */
};

#define ID_TRACE  1u
#define ID_SPAN   2u
#define ID_PARENT 4u

/* A packed run of n bytes that protobuf-c can split into whole elements. */
static bool packed_ok(unsigned kind, const uint8_t *p, size_t n)
{
    switch (kind) {
    case SK_PACKED4:
        return n % 4 == 0;
    case SK_PACKED8:
        return n % 8 == 0;
    default: /* varints: the run must end on a last byte */
        return n == 0 || !(p[n - 1] & 0x80);
    }
}

/* Whether a finished span or log record has ids the receivers accept. */
static bool ids_ok(const struct scan_level *l)
{
    switch (l->msg->ids) {
    case IDS_SPAN:
        return (l->ids & (ID_TRACE | ID_SPAN)) == (ID_TRACE | ID_SPAN) && !(l->ids & ID_PARENT);
    case IDS_LOG:
        return !(l->ids & (ID_TRACE | ID_SPAN));
    default:
        return true;
    }
}

/* Record the length of an id field of a span (ID_* set = valid) or of a log
 * record (ID_* set = invalid), as the receivers' id checks see them. */
static void note_id(struct scan_level *l, unsigned field, uint64_t n)
{
    if (l->msg->ids == IDS_SPAN) {
        if (field == 1) {
            l->ids = (uint8_t)((l->ids & ~ID_TRACE) | (n == 16 ? ID_TRACE : 0));
        } else if (field == 2) {
            l->ids = (uint8_t)((l->ids & ~ID_SPAN) | (n == 8 ? ID_SPAN : 0));
        } else if (field == 4) { /* parent: empty or 8 bytes; the bit marks a bad one */
            l->ids = (uint8_t)((l->ids & ~ID_PARENT) | (n != 0 && n != 8 ? ID_PARENT : 0));
        }
    } else if (l->msg->ids == IDS_LOG) {
        if (field == 9) {
            l->ids = (uint8_t)((l->ids & ~ID_TRACE) | (n != 0 && n != 16 ? ID_TRACE : 0));
        } else if (field == 10) {
            l->ids = (uint8_t)((l->ids & ~ID_SPAN) | (n != 0 && n != 8 ? ID_SPAN : 0));
        }
    }
}

/* Whether the n bytes at p (n >= 6) are all below 0x80: 16 at a time (SSE2,
 * which every x86-64 has), else 8, the last load overlapping the one before. */
static inline bool all_ascii(const uint8_t *p, size_t n)
{
    uint64_t acc = 0, w;
    size_t i = 0;

    if (n < 8) {
        uint32_t a, b;

        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        return !((a | b) & 0x80808080u);
    }
#ifdef __SSE2__
    if (n >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + n - 16));

        for (; i + 16 <= n; i += 16) {
            v = _mm_or_si128(v, _mm_loadu_si128((const __m128i *)(const void *)(p + i)));
        }
        return !_mm_movemask_epi8(v);
    }
#endif
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    memcpy(&w, p + n - 8, 8);
    return !((acc | w) & HIGH_BITS);
}

int otc_pb_scan_request(enum otc_signal s, const uint8_t *buf, size_t len, size_t *items)
{
    struct otc_pb_scan_info info;
    int rc = otc_pb_scan_request_info(s, buf, len, &info);

    if (rc == OTC_OK) {
        *items = info.items;
    }
    return rc;
}

int otc_pb_scan_request_info(enum otc_signal s, const uint8_t *buf, size_t len,
                             struct otc_pb_scan_info *info)
{
    struct scan_level stack[OTC_PB_MAX_DEPTH];
    unsigned depth = 0;
    const uint8_t *p = buf;
    size_t n_items = 0, entries = 0, longest = 0, most = 0;
    uint64_t keys = 0;
    bool ordered = true;

    if (!otc_request_descriptor(s)) {
        return OTC_EINVAL;
    }
    pthread_once(&scan_once, scan_tables);
    if (!scan_roots[s]) {
        return OTC_PB_SCAN_SLOW; /* no tables: the decoding path checks everything */
    }
    stack[0] = (struct scan_level){scan_roots[s], buf + len, 0, 0, 0, 0};
    for (;;) {
        struct scan_level *top = &stack[depth];
        const struct scan_field *f;
        uint64_t key, n;
        unsigned wt;

        if (p == top->end) {
            if (!ids_ok(top)) {
                return OTC_PB_SCAN_SLOW;
            }
            if (top->kvs > most) {
                most = top->kvs;
            }
            if (depth == 0) {
                *info = (struct otc_pb_scan_info){n_items, entries, longest, most, ordered, keys};
                return OTC_OK;
            }
            depth--;
            continue;
        }
        if (*p >= 0x08 && *p < 0x80) { /* a one-byte tag (p < top->end here) */
            key = *p++;
        } else {
            const uint8_t *k0 = p;

            /* protobuf-c reads a tag of at most 5 bytes, numbered 1 .. 2^29-1 */
            if (!(p = otc_pb_varint(p, top->end, &key)) || p - k0 > 5 || (key >> 3) == 0 ||
                (key >> 3) > 0x1fffffff || (*k0 & 0xf8) == 0) {
                return OTC_PB_SCAN_SLOW;
            }
        }
        wt = (unsigned)(key & 7);
        f = scan_field(top->msg, key >> 3);
        if ((key >> 3) <= top->last && ((key >> 3) < top->last || !f || !f->repeated)) {
            ordered = false; /* out of order, or a field given twice */
        }
        top->last = key >> 3;
        if (f && !(f->wire_ok & (1u << wt))) {
            return OTC_PB_SCAN_SLOW;
        }
        switch (wt) {
        case 0:
            if (!(p = otc_pb_varint(p, top->end, &n))) {
                return OTC_PB_SCAN_SLOW;
            }
            continue;
        case 1:
            if (top->end - p < 8) {
                return OTC_PB_SCAN_SLOW;
            }
            p += 8;
            continue;
        case 5:
            if (top->end - p < 4) {
                return OTC_PB_SCAN_SLOW;
            }
            p += 4;
            continue;
        case 2:
            break;
        default: /* groups: not proto3 */
            return OTC_PB_SCAN_SLOW;
        }
        {
            const uint8_t *l0 = p;

            /* protobuf-c reads a length prefix of at most 5 bytes */
            if (!(p = otc_pb_varint(p, top->end, &n)) || p - l0 > 5 ||
                n > (uint64_t)(top->end - p)) {
                return OTC_PB_SCAN_SLOW;
            }
        }
        if (!f) {
            p += n; /* an unknown field: kept as it is */
            continue;
        }
        switch (f->kind) {
        case SK_MESSAGE:
            if (f->role == ROLE_KV) {
                size_t kl, vl, sl;

                top->kvs++;
                /* as the KeyValue and AnyValue levels below would take it
                 * (entering them as levels was a third of the scan of
                 * attribute-heavy requests) */
                if (!f->singular && depth + 2 < OTC_PB_MAX_DEPTH &&
                    otc_pb_plain_kv(p, n, &kl, &vl, &sl)) {
                    /* its tags and lengths are ASCII: all of it is when both
                     * strings are, and then both are valid UTF-8 */
                    if (!all_ascii(p, (size_t)n) && (utf8_first_bad(p + 2, kl) != kl ||
                                                     utf8_first_bad(p + kl + 6, sl) != sl)) {
                        return OTC_PB_SCAN_SLOW;
                    }
                    longest = vl > longest ? vl : longest;
                    keys |= otc_pb_key_bit(p + 2, kl);
                    p += n;
                    /* the attributes that follow, with the same one-byte tag
                     * and length, as long as they are plain and ASCII */
                    while (key < 0x80 && top->end - p >= 8 && p[0] == key && p[1] < 0x80 &&
                           (size_t)p[1] <= (size_t)(top->end - p - 2) &&
                           otc_pb_plain_kv(p + 2, p[1], &kl, &vl, &sl) && all_ascii(p + 2, p[1])) {
                        top->kvs++;
                        longest = vl > longest ? vl : longest;
                        keys |= otc_pb_key_bit(p + 4, kl);
                        p += 2 + (size_t)p[1];
                    }
                    continue;
                }
            } else if (f->role == ROLE_ANY && n > longest) {
                longest = n;
            }
            /* A singular sub-message or oneof member seen twice is merged or
             * replaced by unpack: the slow path keeps the counts exact. */
            if (f->singular) {
                if (!f->bit || (top->seen & f->excl)) {
                    return OTC_PB_SCAN_SLOW;
                }
                top->seen |= f->bit;
            }
            if (depth + 1 >= OTC_PB_MAX_DEPTH) {
                return OTC_ELIMIT;
            }
            n_items += f->item;
            entries += f->entry;
            depth++;
            stack[depth] = (struct scan_level){f->sub, p + n, 0, 0, 0, 0};
            continue;
        case SK_STRING:
            if (utf8_first_bad(p, (size_t)n) != (size_t)n) {
                return OTC_PB_SCAN_SLOW;
            }
            if (f->kv_key) {
                keys |= otc_pb_key_bit(p, (size_t)n);
            }
            break;
        case SK_BYTES:
            note_id(top, f->id, n);
            break;
        default: /* a packed run */
            if (!packed_ok(f->kind, p, (size_t)n)) {
                return OTC_PB_SCAN_SLOW;
            }
            break;
        }
        p += n;
    }
}
