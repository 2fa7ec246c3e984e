/* otc_pb_walk.h - the OTLP traversal layer: one field reader and one visitor
 * over the resources, scopes, items and metric data points of a request of any
 * signal, in both forms of a batch (received bytes, decoded protobuf-c tree);
 * readers of the fields stages look at (span and log fields, the attribute
 * view, AnyValue); and the keep / drop helper that removes items from either
 * form. Reentrant; runs on whichever thread holds the batch. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_PB_WALK_H
#define OTC_INCLUDE_PB_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "otc_otlp.h"
#include "otc_pb_depth.h"
#include "otc_signal.h"

/* One field of a serialized message. */
struct otc_pb_field {
    uint32_t       num;
    uint32_t       wt;  /* wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
    uint64_t       v;   /* the value of a varint, fixed64 or fixed32 field */
    const uint8_t *p;   /* length-delimited: the bytes */
    size_t         len;
};

/* Read the field at *pp (before end) into f and move *pp past it.
 * 1: a field was read; 0: end of the message; -1: malformed. */
static inline int otc_pb_next_field(const uint8_t **pp, const uint8_t *end, struct otc_pb_field *f)
{
    const uint8_t *p = *pp;
    uint64_t key;

    f->p = NULL;
    f->len = 0;
    f->v = 0;
    if (p >= end) {
        return 0;
    }
    if (!(p = otc_pb_varint(p, end, &key)) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) {
        return -1;
    }
    f->num = (uint32_t)(key >> 3);
    f->wt = (uint32_t)(key & 7);
    switch (f->wt) {
    case 0:
        if (!(p = otc_pb_varint(p, end, &f->v))) {
            return -1;
        }
        break;
    case 1:
        if (end - p < 8) {
            return -1;
        }
        memcpy(&f->v, p, 8); /* protobuf is little-endian, as are the targets */
        p += 8;
        break;
    case 5: {
        uint32_t v32;
        if (end - p < 4) {
            return -1;
        }
        memcpy(&v32, p, 4);
        f->v = v32;
        p += 4;
        break;
    }
    case 2: {
        uint64_t n;
        if (!(p = otc_pb_varint(p, end, &n)) || n > (uint64_t)(end - p)) {
            return -1;
        }
        f->p = p;
        f->len = (size_t)n;
        p += n;
        break;
    }
    default:
        return -1;
    }
    *pp = p;
    return 1;
}

/* The two forms of a batch, one shape: request -> Resource* containers ->
 * Scope* containers -> items (Span, Metric, LogRecord); a Metric holds its
 * data points in one of gauge, sum, histogram, exponential_histogram or
 * summary. The walks below visit both forms in the same order (wire order is
 * the order protobuf-c's unpack gives), so a stage is a set of callbacks and
 * one decision per item or data point, whichever form it meets.
 *
 * ------------------------------------------------------- serialized form */

/* The types of metric data, by the field number of their Metric member. */
enum otc_pb_metric_type {
    OTC_PB_METRIC_NONE = 0,
    OTC_PB_GAUGE = 5,
    OTC_PB_SUM = 7,
    OTC_PB_HISTOGRAM = 9,
    OTC_PB_EXP_HISTOGRAM = 10,
    OTC_PB_SUMMARY = 11,
};

/* Whether field num of a Metric is one of its data members. */
static inline bool otc_pb_is_metric_type(uint32_t num)
{
    return num == OTC_PB_GAUGE || num == OTC_PB_SUM || num == OTC_PB_HISTOGRAM ||
           num == OTC_PB_EXP_HISTOGRAM || num == OTC_PB_SUMMARY;
}

/* A Resource* or Scope* container's own fields (the last schema_url counts),
 * as a visitor's resource and scope callbacks get them. */
struct otc_pb_head {
    const uint8_t *msg; /* the Resource or InstrumentationScope; NULL when absent */
    size_t         msg_len;
    const uint8_t *schema_url; /* NULL when absent */
    size_t         schema_url_len;
};

/* A Metric, as its data points are visited. */
struct otc_pb_metric {
    const uint8_t *p; /* the Metric */
    size_t         len;
    const uint8_t *name; /* NULL when absent */
    size_t         name_len;
    uint32_t       type; /* enum otc_pb_metric_type */
};

/* What a walk visits. Each callback returns 0 to go on, anything else to stop
 * the walk (otc_pb_walk then returns that value). A NULL callback is skipped.
 * resource / scope: the container's head. With heads set, once per container
 * before its items, with the schema_url (the container is read once more for
 * it); otherwise where the head message is met, without the schema_url, and
 * not at all when the container has none (encoders write the head first).
 * item: a Span, Metric or LogRecord; point: each data point of each Metric
 * (with point set, the items are read as Metrics: for metrics requests only). */
struct otc_pb_visitor {
    int (*resource)(void *arg, const struct otc_pb_head *h);
    int (*scope)(void *arg, const struct otc_pb_head *h);
    int (*item)(void *arg, const uint8_t *p, size_t len);
    int (*point)(void *arg, const struct otc_pb_metric *m, const uint8_t *p, size_t len);
    void *arg;
    bool heads; /* whole heads, before the items (see above) */
};

/* Walk a serialized Export*ServiceRequest in wire order. OTC_OK when walked to
 * the end (with *empty_groups, when not NULL, set if a resource has no scope
 * container or a scope container has no item), OTC_EINVAL when malformed or
 * when a message the walk reads for a callback (Resource, InstrumentationScope,
 * a Metric's data) is given twice, which unpack merges (the receivers' scan
 * sends such requests to the decoding path); otherwise what a callback
 * returned. */
int otc_pb_walk(const uint8_t *buf, size_t len, const struct otc_pb_visitor *v, bool *empty_groups);

/* The repeated field numbered field of the message at p, one occurrence at a
 * time: the attribute view (KeyValue fields), and the values of an ArrayValue
 * or KeyValueList. */
struct otc_pb_iter {
    const uint8_t *p, *end;
    uint32_t       field;
};

static inline void otc_pb_iter_init(struct otc_pb_iter *it, const uint8_t *p, size_t len,
                                    uint32_t field)
{
    it->p = p;
    it->end = p + len;
    it->field = field;
}

/* 1 with the next occurrence's bytes in *v, *n (length-delimited ones; others
 * of that number are skipped), 0 at the end, -1 when malformed. */
static inline int otc_pb_iter_next(struct otc_pb_iter *it, const uint8_t **v, size_t *n)
{
    struct otc_pb_field f;
    int r;

    /* encoders write attributes with a one-byte tag and, mostly, length */
    if (it->end - it->p >= 2 && it->p[0] == (uint8_t)(it->field << 3 | 2) && it->field < 16 &&
        it->p[1] < 0x80 && (size_t)it->p[1] <= (size_t)(it->end - it->p - 2)) {
        *v = it->p + 2;
        *n = it->p[1];
        it->p += 2 + *n;
        return 1;
    }
    while ((r = otc_pb_next_field(&it->p, it->end, &f)) > 0) {
        if (f.num == it->field && f.wt == 2) {
            *v = f.p;
            *n = f.len;
            return 1;
        }
    }
    return r;
}

/* Field numbers of the attribute view of each item and data point. */
#define OTC_PB_SPAN_ATTRIBUTES     9
#define OTC_PB_LOG_ATTRIBUTES      6
#define OTC_PB_RESOURCE_ATTRIBUTES 1
#define OTC_PB_SCOPE_ATTRIBUTES    3
#define OTC_PB_EXEMPLAR_ATTRIBUTES 7 /* Exemplar.filtered_attributes */

/* The attributes field of a data point of metric type t (0 when none). */
static inline uint32_t otc_pb_point_attributes(uint32_t t)
{
    return t == OTC_PB_HISTOGRAM ? 9 : t == OTC_PB_EXP_HISTOGRAM ? 1 : t ? 7 : 0;
}

/* The exemplars field of a data point of metric type t (0: summaries have none). */
static inline uint32_t otc_pb_point_exemplars(uint32_t t)
{
    return t == OTC_PB_GAUGE || t == OTC_PB_SUM ? 5 : t == OTC_PB_HISTOGRAM ? 8
           : t == OTC_PB_EXP_HISTOGRAM          ? 11
                                                : 0;
}

/* A KeyValue of n bytes at v laid out as encoders write a string attribute:
 * key (0x0a, one-byte length, bytes), then value (0x12, one-byte length)
 * holding only its string (0x0a, one-byte length, bytes). *key_len,
 * *value_len (the AnyValue's) and *str_len are its parts; false for any other
 * layout, which callers read field by field. */
static inline bool otc_pb_plain_kv(const uint8_t *v, size_t n, size_t *key_len,
                                   size_t *value_len, size_t *str_len)
{
    size_t kl, vl, sl;

    if (n < 6 || v[0] != 0x0a || (kl = v[1]) >= 0x80 || kl + 6 > n || v[kl + 2] != 0x12 ||
        (vl = v[kl + 3]) >= 0x80 || kl + 4 + vl != n || v[kl + 4] != 0x0a ||
        (sl = v[kl + 5]) >= 0x80 || sl + 2 != vl) {
        return false;
    }
    *key_len = kl;
    *value_len = vl;
    *str_len = sl;
    return true;
}

/* The attribute keys of a request as a one-word Bloom filter: the receive scan
 * sets one bit per KeyValue key it meets (otc_scan_bounds.keys), from the
 * key's first four bytes, and a stage that looks attributes up by name skips
 * the names whose bit is clear. Keys of under four bytes set no bit and names
 * of under four bytes always may be there: a decoded key ends at its first NUL,
 * so only a name's first four bytes are sure to be its key's. */
static inline uint64_t otc_pb_key_bit(const uint8_t *k, size_t kl)
{
    uint32_t w;

    if (kl < 4) {
        return 0;
    }
    memcpy(&w, k, 4);
    return 1ull << ((w * 0x9e3779b1u) >> 26);
}

/* Whether an attribute named name may be in a request whose key set is keys
 * (UINT64_MAX: not known). */
static inline bool otc_pb_key_maybe(uint64_t keys, const char *name)
{
    size_t nl = strlen(name);

    return nl < 4 || (keys & otc_pb_key_bit((const uint8_t *)name, nl));
}

/* A KeyValue: its key and its value (an AnyValue). The last of each counts. */
struct otc_pb_kv {
    const uint8_t *key; /* NULL when absent */
    size_t         key_len;
    const uint8_t *value; /* NULL when absent */
    size_t         value_len;
};

/* Read a serialized KeyValue; false when malformed or its value is given
 * twice (unpack merges it). */
bool otc_pb_kv_read(const uint8_t *p, size_t len, struct otc_pb_kv *kv);

/* AnyValue members, by field number. */
enum otc_pb_any_kind {
    OTC_PB_ANY_NONE = 0,
    OTC_PB_ANY_STRING = 1,
    OTC_PB_ANY_BOOL = 2,
    OTC_PB_ANY_INT = 3,
    OTC_PB_ANY_DOUBLE = 4,
    OTC_PB_ANY_ARRAY = 5,
    OTC_PB_ANY_KVLIST = 6,
    OTC_PB_ANY_BYTES = 7,
};

/* An AnyValue: the member unpack keeps (the last one given). */
struct otc_pb_any {
    uint32_t       kind; /* enum otc_pb_any_kind */
    const uint8_t *p;    /* string, bytes, ArrayValue, KeyValueList */
    size_t         len;
    uint64_t       v;    /* bool (0 or 1), int, double (its bits) */
};

/* Read a serialized AnyValue; false when malformed or when two message
 * members are given (unpack merges or replaces them). */
bool otc_pb_any_read(const uint8_t *p, size_t len, struct otc_pb_any *a);

/* The timestamps of a data point of any type (fields 2 and 3 of each). */
struct otc_pb_point {
    uint64_t start_time_unix_nano;
    uint64_t time_unix_nano;
};

/* Read a serialized data point's timestamps (the last counts); false when malformed. */
bool otc_pb_point_read(const uint8_t *p, size_t len, struct otc_pb_point *pt);

/* Attribute keys a reader looks for, each with its length: set up once
 * (otc_pb_keys_init), used for every item. */
#define OTC_PB_MAX_KEYS 4
struct otc_pb_keys {
    const char *s[OTC_PB_MAX_KEYS];
    size_t      len[OTC_PB_MAX_KEYS];
    size_t      n;
};

/* The keys of a NULL-terminated list (NULL: none) that a request with the key
 * set present (otc_pb_key_bit; UINT64_MAX: any key) may hold; false when the
 * list has more than OTC_PB_MAX_KEYS. */
bool otc_pb_keys_init(struct otc_pb_keys *k, const char *const *keys, uint64_t present);

/* The fields of a Span that the trace stages read. When a field is given more
 * than once, the last one counts, as in unpack. */
struct otc_pb_span {
    const uint8_t *trace_id, *span_id, *trace_state;
    size_t         trace_id_len, span_id_len, trace_state_len;
    const uint8_t *trace_state_field; /* the trace_state field's first byte (its tag) */
    uint64_t       start_time_unix_nano;
    size_t         n_attributes;
    bool           has_key; /* an attribute is named one of the keys asked for */
};

/* Read a serialized Span, and look for attributes named one of keys (NULL:
 * none) in the same pass; false when malformed. */
bool otc_pb_span_read(const uint8_t *p, size_t len, const struct otc_pb_keys *keys,
                      struct otc_pb_span *sp);

/* otc_pb_span_read of a span whose fields are in increasing order, none given
 * twice (otc_scan_bounds.ordered), for a stage that needs no attribute: only
 * the ids and the tracestate (and where it is) are read, up to the first field
 * numbered above trace_state. */
bool otc_pb_span_ids(const uint8_t *p, size_t len, struct otc_pb_span *sp);

/* The fields of a LogRecord that the log stages read (the last one counts). */
struct otc_pb_log {
    const uint8_t *trace_id;
    size_t         trace_id_len;
    const uint8_t *attrs_end; /* where an attribute appended goes (after the last one, else
                                 before the first field numbered above them, else the end) */
    bool           has_key; /* an attribute is named one of the keys asked for */
};

/* Read a serialized LogRecord, and look for attributes named one of keys
 * (NULL: none) in the same pass; false when malformed. */
bool otc_pb_log_read(const uint8_t *p, size_t len, const struct otc_pb_keys *keys,
                     struct otc_pb_log *lr);

/* Write the request of signal s at buf (len bytes) to out without the items
 * whose entry in keep (one per item in walk order: per data point for
 * metrics) is 0, without the Metrics then left without data points (a Metric
 * that had none stays), and without the scope and resource containers then
 * left without items, or without any from the start (as the processors'
 * decoded paths remove them, otc_msg_keep_items). Everything else goes on as
 * it arrived; an item (a Metric) keeping all its points is copied as it is.
 * out needs room for len bytes (the result is never longer). Returns the
 * length written, or SIZE_MAX when buf is malformed. */
size_t otc_pb_keep_items(enum otc_signal s, const uint8_t *buf, size_t len, const uint8_t *keep,
                         uint8_t *out);

/* A change to one item for otc_pb_edit_items: the item's bytes from..to
 * (offsets in the item) replaced by the n bytes at data. */
struct otc_pb_splice {
    size_t         from, to;
    const uint8_t *data;
    size_t         n;
};

/* One item written changed: its number in walk order, and the splices (by
 * increasing from, not overlapping) that make its new bytes from the old. */
struct otc_pb_edit {
    size_t                      item;
    const struct otc_pb_splice *splices;
    size_t                      n_splices;
};

/* How much longer an edit makes its item (negative: shorter). */
static inline long long otc_pb_edit_growth(const struct otc_pb_edit *e)
{
    long long g = 0;

    for (size_t i = 0; i < e->n_splices; i++) {
        g += (long long)e->splices[i].n - (long long)(e->splices[i].to - e->splices[i].from);
    }
    return g;
}

/* otc_pb_keep_items for traces and logs with some kept items changed: edits
 * (n_edits of them, by increasing item) are applied to their items, the length
 * prefixes of the items and containers around them recomputed; keep NULL keeps
 * every item (and still removes the containers without any). Everything else
 * goes on as it arrived. out needs room for len plus, for every edit, its
 * growth (when positive) and 15 bytes (three length prefixes longer); NULL:
 * only the length is computed. Returns the length written, or SIZE_MAX when
 * buf is malformed or an edit does not fit its item. */
size_t otc_pb_edit_items(enum otc_signal s, const uint8_t *buf, size_t len, const uint8_t *keep,
                         const struct otc_pb_edit *edits, size_t n_edits, uint8_t *out);

/* ---------------------------------------------------------- decoded form */

/* A decoded Resource* or Scope* container's own fields. */
struct otc_msg_head {
    const ProtobufCMessage *msg; /* the Resource or InstrumentationScope, or NULL */
    const char             *schema_url;
};

/* The decoded walk's callbacks, as struct otc_pb_visitor's: item gets a Span,
 * Metric or LogRecord; point (metrics) each data point of each Metric, with
 * its Metric. items gets each scope container's items at once (before item
 * gets them one by one), for a stage whose per-item work is a few
 * instructions: a loop of its own over the array saves a call per item. The
 * pointers are the request's: a walk of a writable request may change what
 * they point at (not the containers' arrays). */
struct otc_msg_visitor {
    int (*resource)(void *arg, const struct otc_msg_head *h);
    int (*scope)(void *arg, const struct otc_msg_head *h);
    int (*item)(void *arg, ProtobufCMessage *item);
    int (*point)(void *arg, const otc_metric *m, ProtobufCMessage *point);
    void *arg;
    int (*items)(void *arg, ProtobufCMessage *const *items, size_t n);
};

/* Where a decoded request of each signal keeps its containers (byte offsets
 * and sizes of the generated structs), for code that goes through them itself:
 * a walk that stops and resumes, or a builder of new requests. */
struct otc_msg_layout {
    size_t req_n, req_v;                              /* Resource* containers */
    size_t res_size, res_n, res_v, res_msg, res_schema; /* Scope* containers, Resource */
    size_t scope_size, scope_n, scope_v, scope_msg, scope_schema; /* items, scope */
};

/* The layout of signal s's request (NULL for no signal). */
const struct otc_msg_layout *otc_msg_layout(enum otc_signal s);

/* Walk a decoded request of signal s in order. OTC_OK, or what a callback
 * returned; *empty_groups as otc_pb_walk's. */
int otc_msg_walk(enum otc_signal s, const ProtobufCMessage *req, const struct otc_msg_visitor *v,
                 bool *empty_groups);

/* The data points of m, whatever its type: *n of them at the returned array
 * (NULL, *n = 0 when it has none). */
ProtobufCMessage **otc_msg_points(const otc_metric *m, size_t *n);

/* otc_pb_keep_items on a decoded request (writable): removes in place the
 * items (data points) whose keep entry is 0, then the Metrics left without
 * points, then the scope and resource containers without items. Returns the
 * items (data points) left. */
size_t otc_msg_keep_items(enum otc_signal s, ProtobufCMessage *req, const uint8_t *keep);

#endif
