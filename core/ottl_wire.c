/* ottl_wire.c - reads one serialized Resource, InstrumentationScope, Span or
 * LogRecord into a scratch protobuf-c struct for OTTL conditions, without
 * decoding the request: only the fields OTTL paths read (a span's events and
 * links are left out), strings copied NUL-terminated into the caller's arena,
 * nested AnyValues unpacked by protobuf-c; and the key sets that say which
 * attributes to read. Runs on the thread that holds the batch (key sets: at
 * start-up). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "otc/otc_pb_walk.h"
#include "ottl_internal.h"

static char *wire_str(struct otc_arena *a, const struct otc_pb_field *f)
{
    return f->wt == 2 ? ottl_arena_strndup(a, (const char *)f->p, f->len) : NULL;
}

static bool wire_bytes(struct otc_arena *a, const struct otc_pb_field *f, ProtobufCBinaryData *b)
{
    if (f->wt != 2) {
        return false;
    }
    b->len = f->len;
    b->data = f->len ? otc_arena_memdup(a, f->p, f->len) : NULL;
    return !f->len || b->data;
}

static otc_any_value *wire_any(struct otc_arena *a, const uint8_t *p, size_t len)
{
    struct otc_pb_any av;
    otc_any_value *v;

    if (!otc_pb_any_read(p, len, &av)) {
        return NULL;
    }
    if (av.kind == OTC_PB_ANY_ARRAY || av.kind == OTC_PB_ANY_KVLIST) {
        return opentelemetry__proto__common__v1__any_value__unpack(&a->pb, len, p);
    }
    if (!(v = otc_arena_alloc(a, sizeof(*v)))) {
        return NULL;
    }
    opentelemetry__proto__common__v1__any_value__init(v);
    switch (av.kind) {
    case OTC_PB_ANY_STRING:
        v->value_case = ANY(STRING_VALUE);
        v->string_value = ottl_arena_strndup(a, (const char *)av.p, av.len);
        return v->string_value ? v : NULL;
    case OTC_PB_ANY_BOOL:
        v->value_case = ANY(BOOL_VALUE);
        v->bool_value = av.v != 0;
        return v;
    case OTC_PB_ANY_INT:
        v->value_case = ANY(INT_VALUE);
        v->int_value = (int64_t)av.v;
        return v;
    case OTC_PB_ANY_DOUBLE:
        v->value_case = ANY(DOUBLE_VALUE);
        memcpy(&v->double_value, &av.v, sizeof(double));
        return v;
    case OTC_PB_ANY_BYTES:
        v->value_case = ANY(BYTES_VALUE);
        v->bytes_value.len = av.len;
        v->bytes_value.data = av.len ? otc_arena_memdup(a, av.p, av.len) : NULL;
        return !av.len || v->bytes_value.data ? v : NULL;
    default:
        return v; /* no value */
    }
}

static bool wanted(const struct otc_ottl_keyset *keys, const struct otc_pb_kv *kv)
{
    if (keys->all) {
        return true;
    }
    for (size_t i = 0; i < keys->n; i++) {
        if (keys->len[i] == kv->key_len && (!kv->key_len || !memcmp(keys->v[i], kv->key, kv->key_len))) {
            return true;
        }
    }
    return false;
}

/* Count the wanted occurrences of field num first, then read them: one array. */
static bool wire_attrs(struct otc_arena *a, const uint8_t *p, size_t len, uint32_t num,
                       const struct otc_ottl_keyset *keys, otc_key_value ***kvs, size_t *n)
{
    struct otc_pb_iter it;
    const uint8_t *v;
    size_t vn, count = 0;
    int r;

    *n = 0;
    if (!keys->all && keys->n == 0) {
        return true;
    }
    otc_pb_iter_init(&it, p, len, num);
    while ((r = otc_pb_iter_next(&it, &v, &vn)) > 0) {
        struct otc_pb_kv kv;
        if (!otc_pb_kv_read(v, vn, &kv)) {
            return false;
        }
        count += wanted(keys, &kv);
    }
    if (r < 0) {
        return false;
    }
    if (!count) {
        return true;
    }
    if (!(*kvs = otc_arena_alloc(a, count * sizeof(**kvs)))) {
        return false;
    }
    otc_pb_iter_init(&it, p, len, num);
    while (otc_pb_iter_next(&it, &v, &vn) > 0) {
        struct otc_pb_kv kv;
        otc_any_value *val;
        if (!otc_pb_kv_read(v, vn, &kv)) {
            return false;
        }
        if (!wanted(keys, &kv)) {
            continue;
        }
        if (!(val = kv.value ? wire_any(a, kv.value, kv.value_len) : ottl_any_from(a, &(struct ottl_val){0})) ||
            !((*kvs)[*n] = ottl_kv_new(a, kv.key ? (const char *)kv.key : "", kv.key_len, val))) {
            return false;
        }
        (*n)++;
    }
    return true;
}

bool otc_ottl_wire_resource(const uint8_t *p, size_t len, struct otc_arena *a,
                            const struct otc_ottl_keyset *keys,
                            Opentelemetry__Proto__Resource__V1__Resource *out)
{
    const uint8_t *q = p, *end = p + len;
    struct otc_pb_field f;
    int r;

    opentelemetry__proto__resource__v1__resource__init(out);
    while ((r = otc_pb_next_field(&q, end, &f)) > 0) {
        if (f.num == 2 && f.wt == 0) {
            out->dropped_attributes_count = (uint32_t)f.v;
        }
    }
    return r == 0 && wire_attrs(a, p, len, 1, keys, &out->attributes, &out->n_attributes);
}

bool otc_ottl_wire_scope(const uint8_t *p, size_t len, struct otc_arena *a,
                         const struct otc_ottl_keyset *keys,
                         Opentelemetry__Proto__Common__V1__InstrumentationScope *out)
{
    const uint8_t *q = p, *end = p + len;
    struct otc_pb_field f;
    int r;

    opentelemetry__proto__common__v1__instrumentation_scope__init(out);
    while ((r = otc_pb_next_field(&q, end, &f)) > 0) {
        if (f.num == 1 && !(out->name = wire_str(a, &f))) {
            return false;
        } else if (f.num == 2 && !(out->version = wire_str(a, &f))) {
            return false;
        } else if (f.num == 4 && f.wt == 0) {
            out->dropped_attributes_count = (uint32_t)f.v;
        }
    }
    return r == 0 && wire_attrs(a, p, len, 3, keys, &out->attributes, &out->n_attributes);
}

bool otc_ottl_wire_span(const uint8_t *p, size_t len, struct otc_arena *a,
                        const struct otc_ottl_keyset *keys, otc_span *out)
{
    const uint8_t *q = p, *end = p + len;
    struct otc_pb_field f;
    int r;
    bool ok = true;

    opentelemetry__proto__trace__v1__span__init(out);
    while (ok && (r = otc_pb_next_field(&q, end, &f)) > 0) {
        switch (f.num) {
        case 1: ok = wire_bytes(a, &f, &out->trace_id); break;
        case 2: ok = wire_bytes(a, &f, &out->span_id); break;
        case 3: ok = (out->trace_state = wire_str(a, &f)) != NULL; break;
        case 4: ok = wire_bytes(a, &f, &out->parent_span_id); break;
        case 5: ok = (out->name = wire_str(a, &f)) != NULL; break;
        case 6: out->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)f.v; break;
        case 7: out->start_time_unix_nano = f.v; break;
        case 8: out->end_time_unix_nano = f.v; break;
        case 10: out->dropped_attributes_count = (uint32_t)f.v; break;
        case 12: out->dropped_events_count = (uint32_t)f.v; break;
        case 14: out->dropped_links_count = (uint32_t)f.v; break;
        case 15:
            ok = f.wt == 2 && (out->status = opentelemetry__proto__trace__v1__status__unpack(
                                   &a->pb, f.len, f.p)) != NULL;
            break;
        case 16: out->flags = (uint32_t)f.v; break;
        default: break;
        }
    }
    return ok && r == 0 && wire_attrs(a, p, len, OTC_PB_SPAN_ATTRIBUTES, keys,
                                      &out->attributes,
                                      &out->n_attributes);
}

bool otc_ottl_wire_log(const uint8_t *p, size_t len, struct otc_arena *a,
                       const struct otc_ottl_keyset *keys, otc_log_record *out)
{
    const uint8_t *q = p, *end = p + len;
    struct otc_pb_field f;
    int r;
    bool ok = true;

    opentelemetry__proto__logs__v1__log_record__init(out);
    while (ok && (r = otc_pb_next_field(&q, end, &f)) > 0) {
        switch (f.num) {
        case 1: out->time_unix_nano = f.v; break;
        case 2: out->severity_number = (Opentelemetry__Proto__Logs__V1__SeverityNumber)f.v; break;
        case 3: ok = (out->severity_text = wire_str(a, &f)) != NULL; break;
        case 5: ok = f.wt == 2 && (out->body = wire_any(a, f.p, f.len)) != NULL; break;
        case 7: out->dropped_attributes_count = (uint32_t)f.v; break;
        case 8: out->flags = (uint32_t)f.v; break;
        case 9: ok = wire_bytes(a, &f, &out->trace_id); break;
        case 10: ok = wire_bytes(a, &f, &out->span_id); break;
        case 11: out->observed_time_unix_nano = f.v; break;
        case 12: ok = (out->event_name = wire_str(a, &f)) != NULL; break;
        default: break;
        }
    }
    return ok && r == 0 && wire_attrs(a, p, len, OTC_PB_LOG_ATTRIBUTES, keys,
                                      &out->attributes,
                                      &out->n_attributes);
}

int otc_ottl_keysets_add(struct otc_ottl_keyset keys[OTC_OTTL_CTX_COUNT], const struct otc_ottl *o)
{
    for (int c = 0; c < OTC_OTTL_CTX_COUNT; c++) {
        struct otc_ottl_keyset *ks = &keys[c];
        const char *const *k;
        size_t n;

        if (!otc_ottl_attr_keys(o, (enum otc_ottl_ctx)c, &k, &n)) {
            ks->all = true;
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            const char **v = realloc(ks->v, (ks->n + 1) * sizeof(*v));
            size_t *len;
            if (!v) {
                return OTC_ENOMEM;
            }
            ks->v = v;
            if (!(len = realloc(ks->len, (ks->n + 1) * sizeof(*len)))) {
                return OTC_ENOMEM;
            }
            ks->len = len;
            ks->v[ks->n] = k[j];
            ks->len[ks->n++] = strlen(k[j]);
        }
    }
    return OTC_OK;
}

void otc_ottl_keysets_free(struct otc_ottl_keyset keys[OTC_OTTL_CTX_COUNT])
{
    for (int c = 0; c < OTC_OTTL_CTX_COUNT; c++) {
        free(keys[c].v);
        free(keys[c].len);
        keys[c] = (struct otc_ottl_keyset){0};
    }
}
