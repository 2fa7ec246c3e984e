/* any_value.c - AnyValue helpers of the attribute actions and matching:
 * values from config, deep copies into a batch's arena, equality, and the
 * text otelcol's AsString and filters give a value (Go's number formatting,
 * JSON of lists and maps). Reentrant; used on the main thread (config) and
 * the pipeline worker threads. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "any_value.h"
#include "otc/otc_attr_actions.h"

#define ANY(c) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c
#define MAX_DEPTH 64

typedef Opentelemetry__Proto__Common__V1__ArrayValue  aa_array;
typedef Opentelemetry__Proto__Common__V1__KeyValueList aa_kvlist;

/* ------------------------------------------------------------ values */

void otc_any_free(otc_any_value *v)
{
    if (!v) {
        return;
    }
    switch (v->value_case) {
    case ANY(STRING_VALUE):
        free(v->string_value);
        break;
    case ANY(BYTES_VALUE):
        free(v->bytes_value.data);
        break;
    case ANY(ARRAY_VALUE):
        for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++) {
            otc_any_free(v->array_value->values[i]);
        }
        if (v->array_value) {
            free(v->array_value->values);
        }
        free(v->array_value);
        break;
    case ANY(KVLIST_VALUE):
        for (size_t i = 0; v->kvlist_value && i < v->kvlist_value->n_values; i++) {
            otc_key_value *kv = v->kvlist_value->values[i];
            if (kv) {
                free(kv->key);
                otc_any_free(kv->value);
                free(kv);
            }
        }
        if (v->kvlist_value) {
            free(v->kvlist_value->values);
        }
        free(v->kvlist_value);
        break;
    default:
        break;
    }
    free(v);
}

otc_any_value *otc_any_from_cfg(const struct otc_cfg_value *c)
{
    otc_any_value *v;

    if (c->kind == OTC_VAL_NONE || !(v = calloc(1, sizeof(*v)))) {
        return NULL;
    }
    opentelemetry__proto__common__v1__any_value__init(v);
    switch (c->kind) {
    case OTC_VAL_STR:
        v->value_case = ANY(STRING_VALUE);
        if (!(v->string_value = strdup(c->s))) {
            goto oom;
        }
        break;
    case OTC_VAL_INT:
        v->value_case = ANY(INT_VALUE);
        v->int_value = c->i;
        break;
    case OTC_VAL_DOUBLE:
        v->value_case = ANY(DOUBLE_VALUE);
        v->double_value = c->d;
        break;
    case OTC_VAL_BOOL:
        v->value_case = ANY(BOOL_VALUE);
        v->bool_value = c->b;
        break;
    case OTC_VAL_LIST: {
        aa_array *a = calloc(1, sizeof(*a));
        v->value_case = ANY(ARRAY_VALUE);
        v->array_value = a;
        if (!a) {
            goto oom;
        }
        opentelemetry__proto__common__v1__array_value__init(a);
        if (!(a->values = calloc(c->n ? c->n : 1, sizeof(*a->values)))) {
            goto oom;
        }
        for (size_t i = 0; i < c->n; i++, a->n_values++) {
            a->values[i] = c->items[i].kind == OTC_VAL_NONE ? calloc(1, sizeof(otc_any_value))
                                                            : otc_any_from_cfg(&c->items[i]);
            if (!a->values[i]) {
                goto oom;
            }
            if (c->items[i].kind == OTC_VAL_NONE) {
                opentelemetry__proto__common__v1__any_value__init(a->values[i]);
            }
        }
        break;
    }
    case OTC_VAL_MAP: {
        aa_kvlist *l = calloc(1, sizeof(*l));
        v->value_case = ANY(KVLIST_VALUE);
        v->kvlist_value = l;
        if (!l) {
            goto oom;
        }
        opentelemetry__proto__common__v1__key_value_list__init(l);
        if (!(l->values = calloc(c->n ? c->n : 1, sizeof(*l->values)))) {
            goto oom;
        }
        for (size_t i = 0; i < c->n; i++, l->n_values++) {
            otc_key_value *kv = calloc(1, sizeof(*kv));
            l->values[i] = kv;
            if (!kv) {
                goto oom;
            }
            opentelemetry__proto__common__v1__key_value__init(kv);
            kv->key = strdup(c->keys[i]);
            kv->value = c->items[i].kind == OTC_VAL_NONE ? NULL : otc_any_from_cfg(&c->items[i]);
            if (!kv->key || (c->items[i].kind != OTC_VAL_NONE && !kv->value)) {
                l->n_values++;
                goto oom;
            }
        }
        break;
    }
    case OTC_VAL_NONE:
        break;
    }
    return v;
oom:
    otc_any_free(v);
    return NULL;
}

/* A deep copy of v into the batch's arena (NULL on ENOMEM). */
static otc_any_value *aa_copy(struct otc_arena *a, const otc_any_value *v, unsigned depth)
{
    otc_any_value *c = otc_arena_alloc(a, sizeof(*c));

    if (!c) {
        return NULL;
    }
    opentelemetry__proto__common__v1__any_value__init(c);
    if (!v || depth > MAX_DEPTH) {
        return c;
    }
    c->value_case = v->value_case;
    switch (v->value_case) {
    case ANY(STRING_VALUE):
        c->string_value = otc_arena_memdup(a, v->string_value, strlen(v->string_value) + 1);
        return c->string_value ? c : NULL;
    case ANY(BOOL_VALUE):
        c->bool_value = v->bool_value;
        return c;
    case ANY(INT_VALUE):
        c->int_value = v->int_value;
        return c;
    case ANY(DOUBLE_VALUE):
        c->double_value = v->double_value;
        return c;
    case ANY(BYTES_VALUE):
        c->bytes_value.len = v->bytes_value.len;
        c->bytes_value.data = otc_arena_memdup(a, v->bytes_value.data ? v->bytes_value.data
                                                                       : (const uint8_t *)"",
                                               v->bytes_value.len ? v->bytes_value.len : 1);
        return c->bytes_value.data ? c : NULL;
    case ANY(ARRAY_VALUE): {
        const aa_array *s = v->array_value;
        aa_array *d = otc_arena_alloc(a, sizeof(*d));
        size_t n = s ? s->n_values : 0;
        if (!d) {
            return NULL;
        }
        opentelemetry__proto__common__v1__array_value__init(d);
        c->array_value = d;
        if (!(d->values = otc_arena_alloc(a, (n ? n : 1) * sizeof(*d->values)))) {
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            if (!(d->values[i] = aa_copy(a, s->values[i], depth + 1))) {
                return NULL;
            }
        }
        d->n_values = n;
        return c;
    }
    case ANY(KVLIST_VALUE): {
        const aa_kvlist *s = v->kvlist_value;
        aa_kvlist *d = otc_arena_alloc(a, sizeof(*d));
        size_t n = s ? s->n_values : 0;
        if (!d) {
            return NULL;
        }
        opentelemetry__proto__common__v1__key_value_list__init(d);
        c->kvlist_value = d;
        if (!(d->values = otc_arena_alloc(a, (n ? n : 1) * sizeof(*d->values)))) {
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            otc_key_value *kv = otc_arena_alloc(a, sizeof(*kv));
            const otc_key_value *skv = s->values[i];
            if (!kv) {
                return NULL;
            }
            opentelemetry__proto__common__v1__key_value__init(kv);
            kv->key = otc_arena_memdup(a, skv->key, strlen(skv->key) + 1);
            kv->value = skv->value ? aa_copy(a, skv->value, depth + 1) : NULL;
            if (!kv->key || (skv->value && !kv->value)) {
                return NULL;
            }
            d->values[i] = kv;
        }
        d->n_values = n;
        return c;
    }
    default:
        c->value_case = ANY(_NOT_SET);
        return c;
    }
}

static bool any_equal(const otc_any_value *a, const otc_any_value *b, unsigned depth)
{
    int ca = a ? (int)a->value_case : 0, cb = b ? (int)b->value_case : 0;

    if (ca != cb) {
        return false;
    }
    if (!ca || depth > MAX_DEPTH) {
        return true;
    }
    switch (a->value_case) {
    case ANY(STRING_VALUE):
        return !strcmp(a->string_value, b->string_value);
    case ANY(BOOL_VALUE):
        return a->bool_value == b->bool_value;
    case ANY(INT_VALUE):
        return a->int_value == b->int_value;
    case ANY(DOUBLE_VALUE):
        return a->double_value == b->double_value;
    case ANY(BYTES_VALUE):
        return a->bytes_value.len == b->bytes_value.len &&
               (!a->bytes_value.len || !memcmp(a->bytes_value.data, b->bytes_value.data,
                                               a->bytes_value.len));
    case ANY(ARRAY_VALUE): {
        size_t na = a->array_value ? a->array_value->n_values : 0;
        size_t nb = b->array_value ? b->array_value->n_values : 0;
        if (na != nb) {
            return false;
        }
        for (size_t i = 0; i < na; i++) {
            if (!any_equal(a->array_value->values[i], b->array_value->values[i], depth + 1)) {
                return false;
            }
        }
        return true;
    }
    case ANY(KVLIST_VALUE): {
        size_t na = a->kvlist_value ? a->kvlist_value->n_values : 0;
        size_t nb = b->kvlist_value ? b->kvlist_value->n_values : 0;
        if (na != nb) {
            return false;
        }
        /* a map: the same keys with equal values, in any order */
        for (size_t i = 0; i < na; i++) {
            const otc_key_value *ka = a->kvlist_value->values[i];
            bool found = false;
            for (size_t j = 0; j < nb && !found; j++) {
                const otc_key_value *kb = b->kvlist_value->values[j];
                found = !strcmp(ka->key, kb->key) && any_equal(ka->value, kb->value, depth + 1);
            }
            if (!found) {
                return false;
            }
        }
        return true;
    }
    default:
        return true;
    }
}

bool otc_any_equal(const otc_any_value *a, const otc_any_value *b)
{
    return any_equal(a, b, 0);
}

/* ------------------------------------------------------------ number text */

/* The shortest decimal digits that read back as f (f finite, not zero):
 * digits into d (no dot), the decimal exponent of the first digit. */
static int aa_shortest(double f, char *d, int *exp10)
{
    char buf[40];

    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, f);
        if (strtod(buf, NULL) == f || p == 17) {
            char *e = strchr(buf, 'e');
            int n = 0;
            for (char *q = buf; q < e; q++) {
                if (*q >= '0' && *q <= '9') {
                    d[n++] = *q;
                }
            }
            while (n > 1 && d[n - 1] == '0') {
                n--;
            }
            d[n] = '\0';
            *exp10 = atoi(e + 1);
            return n;
        }
    }
    return 0;
}

/* Go's strconv.FormatFloat(f, 'f', -1, 64) or, when exp_form, the 'e' form;
 * es6: otelcol's AsString (fixed between 1e-6 and 1e21, else 'e' with e-7
 * rather than e-07). */
static void aa_float_text(double f, bool es6, char *out, size_t n)
{
    char d[24];
    int e, nd, w = 0;
    bool exp_form;

    if (isnan(f)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(f)) {
        snprintf(out, n, f > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (f == 0) {
        snprintf(out, n, signbit(f) ? "-0" : "0");
        return;
    }
    nd = aa_shortest(fabs(f), d, &e);
    exp_form = es6 && (fabs(f) < 1e-6 || fabs(f) >= 1e21);
    if (f < 0) {
        w += snprintf(out + w, n - (size_t)w, "-");
    }
    if (exp_form) {
        w += snprintf(out + w, n - (size_t)w, "%c%s%s", d[0], nd > 1 ? "." : "", d + 1);
        if (e < 0 && e > -10) { /* e-7, not e-07 */
            snprintf(out + w, n - (size_t)w, "e-%d", -e);
        } else {
            snprintf(out + w, n - (size_t)w, "e%+03d", e);
        }
        return;
    }
    if (e >= nd - 1) {
        w += snprintf(out + w, n - (size_t)w, "%s", d);
        for (int i = 0; i < e - (nd - 1) && (size_t)w + 1 < n; i++) {
            out[w++] = '0';
        }
        out[w] = '\0';
    } else if (e >= 0) {
        snprintf(out + w, n - (size_t)w, "%.*s.%s", e + 1, d, d + e + 1);
    } else {
        w += snprintf(out + w, n - (size_t)w, "0.");
        for (int i = 0; i < -e - 1 && (size_t)w + 1 < n; i++) {
            out[w++] = '0';
        }
        snprintf(out + w, n - (size_t)w, "%s", d);
    }
}

bool otc_any_match_text(const otc_any_value *v, char *buf, size_t n, const char **s, size_t *len)
{
    switch (v ? v->value_case : ANY(_NOT_SET)) {
    case ANY(STRING_VALUE):
        *s = v->string_value;
        *len = strlen(v->string_value);
        return true;
    case ANY(BOOL_VALUE):
        snprintf(buf, n, "%s", v->bool_value ? "true" : "false");
        break;
    case ANY(INT_VALUE):
        snprintf(buf, n, "%lld", (long long)v->int_value);
        break;
    case ANY(DOUBLE_VALUE):
        aa_float_text(v->double_value, false, buf, n);
        break;
    default:
        return false;
    }
    *s = buf;
    *len = strlen(buf);
    return true;
}

/* otelcol's AsString of a list or map: JSON as Go's encoding/json writes it
 * (map keys sorted, <, > and & escaped, bytes in base64). */
struct aa_out {
    char  *p;
    size_t n, cap;
    bool   oom;
};

static void out_add(struct aa_out *o, const char *s, size_t len)
{
    if (o->oom) {
        return;
    }
    if (o->n + len + 1 > o->cap) {
        size_t cap = (o->n + len + 1) * 2;
        char *g = realloc(o->p, cap);
        if (!g) {
            o->oom = true;
            return;
        }
        o->p = g;
        o->cap = cap;
    }
    memcpy(o->p + o->n, s, len);
    o->n += len;
    o->p[o->n] = '\0';
}

static void out_base64(struct aa_out *o, const uint8_t *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {t[v >> 18 & 63], t[v >> 12 & 63], i + 1 < n ? t[v >> 6 & 63] : '=',
                     i + 2 < n ? t[v & 63] : '='};
        out_add(o, q, 4);
    }
}

static void out_json_str(struct aa_out *o, const char *s)
{
    out_add(o, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[8];
        if (*p == '"' || *p == '\\') {
            e[0] = '\\';
            e[1] = (char)*p;
            out_add(o, e, 2);
        } else if (*p == '\n' || *p == '\r' || *p == '\t') {
            e[0] = '\\';
            e[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
            out_add(o, e, 2);
        } else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&') {
            snprintf(e, sizeof(e), "\\u%04x", *p);
            out_add(o, e, 6);
        } else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            out_add(o, p[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
            p += 2;
        } else {
            out_add(o, (const char *)p, 1);
        }
    }
    out_add(o, "\"", 1);
}

static int kv_cmp(const void *a, const void *b)
{
    return strcmp((*(otc_key_value *const *)a)->key, (*(otc_key_value *const *)b)->key);
}

static void out_json(struct aa_out *o, const otc_any_value *v, unsigned depth)
{
    char buf[64];

    switch (v && depth <= MAX_DEPTH ? v->value_case : ANY(_NOT_SET)) {
    case ANY(STRING_VALUE):
        out_json_str(o, v->string_value);
        break;
    case ANY(BOOL_VALUE):
    case ANY(INT_VALUE):
        otc_any_match_text(v, buf, sizeof(buf), &(const char *){NULL}, &(size_t){0});
        out_add(o, buf, strlen(buf));
        break;
    case ANY(DOUBLE_VALUE):
        aa_float_text(v->double_value, true, buf, sizeof(buf));
        out_add(o, buf, strlen(buf));
        break;
    case ANY(BYTES_VALUE):
        out_add(o, "\"", 1);
        out_base64(o, v->bytes_value.data, v->bytes_value.len);
        out_add(o, "\"", 1);
        break;
    case ANY(ARRAY_VALUE):
        out_add(o, "[", 1);
        for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++) {
            if (i) {
                out_add(o, ",", 1);
            }
            out_json(o, v->array_value->values[i], depth + 1);
        }
        out_add(o, "]", 1);
        break;
    case ANY(KVLIST_VALUE): {
        size_t n = v->kvlist_value ? v->kvlist_value->n_values : 0;
        otc_key_value **sorted = malloc((n ? n : 1) * sizeof(*sorted));
        if (!sorted) {
            o->oom = true;
            break;
        }
        if (n) {
            memcpy(sorted, v->kvlist_value->values, n * sizeof(*sorted));
            qsort(sorted, n, sizeof(*sorted), kv_cmp);
        }
        out_add(o, "{", 1);
        for (size_t i = 0; i < n; i++) {
            if (i) {
                out_add(o, ",", 1);
            }
            out_json_str(o, sorted[i]->key);
            out_add(o, ":", 1);
            out_json(o, sorted[i]->value, depth + 1);
        }
        out_add(o, "}", 1);
        free(sorted);
        break;
    }
    default:
        out_add(o, "null", 4);
        break;
    }
}

otc_any_value *otc_any_copy(struct otc_arena *a, const otc_any_value *v)
{
    return aa_copy(a, v, 0);
}

char *otc_any_as_string(const otc_any_value *v)
{
    struct aa_out o = {0};
    char buf[64];

    switch (v ? v->value_case : ANY(_NOT_SET)) {
    case ANY(STRING_VALUE):
        return strdup(v->string_value);
    case ANY(BOOL_VALUE):
    case ANY(INT_VALUE): {
        const char *t;
        size_t len;
        otc_any_match_text(v, buf, sizeof(buf), &t, &len);
        return strdup(buf);
    }
    case ANY(DOUBLE_VALUE):
        if (isnan(v->double_value) || isinf(v->double_value)) {
            snprintf(buf, sizeof(buf), "json: unsupported value: %s",
                     isnan(v->double_value) ? "NaN" : v->double_value > 0 ? "+Inf" : "-Inf");
        } else {
            aa_float_text(v->double_value, true, buf, sizeof(buf));
        }
        return strdup(buf);
    case ANY(BYTES_VALUE):
        out_base64(&o, v->bytes_value.data, v->bytes_value.len);
        break;
    case ANY(ARRAY_VALUE):
    case ANY(KVLIST_VALUE):
        out_json(&o, v, 0);
        break;
    default:
        return strdup("");
    }
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    return o.p ? o.p : strdup("");
}
