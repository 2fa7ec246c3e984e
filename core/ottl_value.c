/* ottl_value.c - OTTL values: conversions between evaluation values and OTLP
 * AnyValues (deep copies into the batch arena), their text and JSON forms, and
 * the attribute-map edits the functions share. Pipeline worker thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ottl_internal.h"

char *ottl_arena_strndup(struct otc_arena *a, const char *s, size_t n)
{
    char *d = otc_arena_alloc(a, n + 1);

    if (d) {
        if (n) {
            memcpy(d, s, n);
        }
        d[n] = '\0';
    }
    return d;
}

/* ------------------------------------------------------------ values */

void ottl_val_from_any(const otc_any_value *a, struct ottl_val *v)
{
    memset(v, 0, sizeof(*v));
    if (!a) {
        return;
    }
    switch (a->value_case) {
    case ANY(STRING_VALUE):
        v->t = V_STR;
        v->s = a->string_value ? a->string_value : "";
        v->len = strlen(v->s);
        break;
    case ANY(BOOL_VALUE):
        v->t = V_BOOL;
        v->b = a->bool_value;
        break;
    case ANY(INT_VALUE):
        v->t = V_INT;
        v->i = a->int_value;
        break;
    case ANY(DOUBLE_VALUE):
        v->t = V_DBL;
        v->d = a->double_value;
        break;
    case ANY(BYTES_VALUE):
        v->t = V_BYTES;
        v->s = (const char *)a->bytes_value.data;
        v->len = a->bytes_value.len;
        break;
    case ANY(KVLIST_VALUE):
        v->t = V_MAP;
        v->kvs = a->kvlist_value ? a->kvlist_value->values : NULL;
        v->n = a->kvlist_value ? a->kvlist_value->n_values : 0;
        break;
    case ANY(ARRAY_VALUE):
        v->t = V_ARR;
        v->vals = a->array_value ? a->array_value->values : NULL;
        v->n = a->array_value ? a->array_value->n_values : 0;
        break;
    default:
        break;
    }
}

static otc_any_value *any_copy(struct otc_arena *a, const otc_any_value *src, int depth);

otc_key_value *ottl_kv_new(struct otc_arena *a, const char *key, size_t klen, otc_any_value *v)
{
    otc_key_value *kv = otc_arena_alloc(a, sizeof(*kv));

    if (!kv) {
        return NULL;
    }
    opentelemetry__proto__common__v1__key_value__init(kv);
    if (!(kv->key = ottl_arena_strndup(a, key, klen))) {
        return NULL;
    }
    kv->value = v;
    return kv;
}

static otc_any_value *map_copy(struct otc_arena *a, otc_key_value *const *kvs, size_t n, int depth)
{
    otc_any_value *v = otc_arena_alloc(a, sizeof(*v));
    otc_kvlist *l = otc_arena_alloc(a, sizeof(*l));

    if (!v || !l || depth > 64) {
        return NULL;
    }
    opentelemetry__proto__common__v1__any_value__init(v);
    opentelemetry__proto__common__v1__key_value_list__init(l);
    v->value_case = ANY(KVLIST_VALUE);
    v->kvlist_value = l;
    if (n && !(l->values = otc_arena_alloc(a, n * sizeof(*l->values)))) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        otc_any_value *c = any_copy(a, kvs[i]->value, depth + 1);
        if (!c || !(l->values[i] = ottl_kv_new(a, kvs[i]->key, strlen(kvs[i]->key), c))) {
            return NULL;
        }
    }
    l->n_values = n;
    return v;
}

static otc_any_value *arr_copy(struct otc_arena *a, otc_any_value *const *vals, size_t n, int depth)
{
    otc_any_value *v = otc_arena_alloc(a, sizeof(*v));
    otc_array *l = otc_arena_alloc(a, sizeof(*l));

    if (!v || !l || depth > 64) {
        return NULL;
    }
    opentelemetry__proto__common__v1__any_value__init(v);
    opentelemetry__proto__common__v1__array_value__init(l);
    v->value_case = ANY(ARRAY_VALUE);
    v->array_value = l;
    if (n && !(l->values = otc_arena_alloc(a, n * sizeof(*l->values)))) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(l->values[i] = any_copy(a, vals[i], depth + 1))) {
            return NULL;
        }
    }
    l->n_values = n;
    return v;
}

static otc_any_value *any_copy(struct otc_arena *a, const otc_any_value *src, int depth)
{
    struct ottl_val v;
    otc_any_value *d;

    ottl_val_from_any(src, &v);
    if (v.t == V_MAP) {
        return map_copy(a, v.kvs, v.n, depth);
    }
    if (v.t == V_ARR) {
        return arr_copy(a, v.vals, v.n, depth);
    }
    if (!(d = otc_arena_alloc(a, sizeof(*d)))) {
        return NULL;
    }
    *d = src ? *src : (otc_any_value)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    if (v.t == V_STR && !(d->string_value = ottl_arena_strndup(a, v.s, v.len))) {
        return NULL;
    }
    return d;
}

otc_any_value *ottl_any_from(struct otc_arena *a, const struct ottl_val *v)
{
    otc_any_value *d;

    if (v->t == V_MAP) {
        return map_copy(a, v->kvs, v->n, 0);
    }
    if (v->t == V_ARR) {
        return arr_copy(a, v->vals, v->n, 0);
    }
    if (!(d = otc_arena_alloc(a, sizeof(*d)))) {
        return NULL;
    }
    opentelemetry__proto__common__v1__any_value__init(d);
    switch (v->t) {
    case V_STR:
        d->value_case = ANY(STRING_VALUE);
        if (!(d->string_value = ottl_arena_strndup(a, v->s, v->len))) {
            return NULL;
        }
        break;
    case V_BOOL:
        d->value_case = ANY(BOOL_VALUE);
        d->bool_value = v->b;
        break;
    case V_INT:
        d->value_case = ANY(INT_VALUE);
        d->int_value = v->i;
        break;
    case V_DBL:
        d->value_case = ANY(DOUBLE_VALUE);
        d->double_value = v->d;
        break;
    case V_BYTES:
        d->value_case = ANY(BYTES_VALUE);
        d->bytes_value.len = v->len;
        if (v->len && !(d->bytes_value.data = otc_arena_memdup(a, v->s, v->len))) {
            return NULL;
        }
        break;
    default:
        break;
    }
    return d;
}

void ottl_hex(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool json_put(struct otc_arena *a, char **buf, size_t *len, size_t *cap, const char *s,
                     size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = (*cap ? *cap * 2 : 64) + n;
        char *g = otc_arena_alloc(a, nc);
        if (!g) {
            return false;
        }
        if (*len) {
            memcpy(g, *buf, *len);
        }
        *buf = g;
        *cap = nc;
    }
    if (n) {
        memcpy(*buf + *len, s, n);
    }
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

static bool json_str(struct otc_arena *a, char **b, size_t *l, size_t *c, const char *s, size_t n)
{
    if (!json_put(a, b, l, c, "\"", 1)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char esc[8];
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            if (!json_put(a, b, l, c, esc, 2)) {
                return false;
            }
        } else if (ch < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", ch);
            if (!json_put(a, b, l, c, esc, 6)) {
                return false;
            }
        } else if (!json_put(a, b, l, c, s + i, 1)) {
            return false;
        }
    }
    return json_put(a, b, l, c, "\"", 1);
}

/* A map or array as JSON (String() of one). */
static bool json_val(struct otc_arena *a, char **b, size_t *l, size_t *c, const struct ottl_val *v,
                     int depth)
{
    size_t n;
    const char *s;

    if (depth > 64) {
        return false;
    }
    if (v->t == V_MAP || v->t == V_ARR) {
        if (!json_put(a, b, l, c, v->t == V_MAP ? "{" : "[", 1)) {
            return false;
        }
        for (size_t i = 0; i < v->n; i++) {
            struct ottl_val e;
            if (i && !json_put(a, b, l, c, ",", 1)) {
                return false;
            }
            if (v->t == V_MAP) {
                if (!json_str(a, b, l, c, v->kvs[i]->key, strlen(v->kvs[i]->key)) ||
                    !json_put(a, b, l, c, ":", 1)) {
                    return false;
                }
                ottl_val_from_any(v->kvs[i]->value, &e);
            } else {
                ottl_val_from_any(v->vals[i], &e);
            }
            if (!json_val(a, b, l, c, &e, depth + 1)) {
                return false;
            }
        }
        return json_put(a, b, l, c, v->t == V_MAP ? "}" : "]", 1);
    }
    if (v->t == V_NIL) {
        return json_put(a, b, l, c, "null", 4);
    }
    if (!(s = ottl_val_string(a, v, &n))) {
        return false;
    }
    return v->t == V_STR || v->t == V_BYTES ? json_str(a, b, l, c, s, n) : json_put(a, b, l, c, s, n);
}

const char *ottl_val_string(struct otc_arena *a, const struct ottl_val *v, size_t *len)
{
    char buf[64];
    char *out = NULL;
    size_t n = 0, cap = 0;

    switch (v->t) {
    case V_NIL:
        return NULL;
    case V_STR:
        *len = v->len;
        return v->s;
    case V_BOOL:
        *len = v->b ? 4 : 5;
        return v->b ? "true" : "false";
    case V_INT:
        n = (size_t)snprintf(buf, sizeof(buf), "%" PRId64, v->i);
        break;
    case V_DBL:
        /* Go's strconv.FormatFloat(f, 'f', -1, 64): shortest digits that round-trip */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, v->d);
            if (strtod(buf, NULL) == v->d) {
                break;
            }
        }
        if (strchr(buf, 'e')) { /* no exponent form */
            int digits = 0;
            char *e = strchr(buf, 'e');
            int exp = atoi(e + 1);
            digits = (int)(e - buf) - (strchr(buf, '.') ? 2 : 1) - exp;
            snprintf(buf, sizeof(buf), "%.*f", digits > 0 ? digits : 0, v->d);
        }
        n = strlen(buf);
        break;
    case V_BYTES:
        if (!(out = otc_arena_alloc(a, 2 * v->len + 1))) {
            return NULL;
        }
        ottl_hex(out, (const uint8_t *)v->s, v->len);
        *len = 2 * v->len;
        return out;
    case V_MAP:
    case V_ARR:
        if (!json_val(a, &out, &n, &cap, v, 0)) {
            return NULL;
        }
        *len = n;
        return out;
    }
    *len = n;
    return ottl_arena_strndup(a, buf, n);
}

otc_key_value *ottl_map_find(otc_key_value *const *kvs, size_t n, const char *key, size_t *at)
{
    for (size_t i = 0; i < n; i++) {
        if (kvs[i]->key && !strcmp(kvs[i]->key, key)) {
            if (at) {
                *at = i;
            }
            return kvs[i];
        }
    }
    return NULL;
}

int ottl_map_put(struct otc_arena *a, struct ottl_mapref *m, const char *key, otc_any_value *v)
{
    size_t at;
    otc_key_value *kv = ottl_map_find(*m->kvs, *m->n, key, &at), **grown;

    if (kv) {
        kv->value = v;
        return OTC_OK;
    }
    if (!(kv = ottl_kv_new(a, key, strlen(key), v)) ||
        !(grown = otc_arena_alloc(a, (*m->n + 1) * sizeof(*grown)))) {
        return OTC_ENOMEM;
    }
    if (*m->n) {
        memcpy(grown, *m->kvs, *m->n * sizeof(*grown));
    }
    grown[(*m->n)++] = kv;
    *m->kvs = grown;
    return OTC_OK;
}

void ottl_map_compact(struct ottl_mapref *m, const bool *keep)
{
    size_t w = 0;

    for (size_t i = 0; i < *m->n; i++) {
        if (keep[i]) {
            (*m->kvs)[w++] = (*m->kvs)[i];
        }
    }
    *m->n = w;
}
