/* attr_actions.c - otelcol's attribute actions (insert, update, upsert,
 * delete, hash, extract, convert) compiled from their option list on the main
 * thread and applied to decoded attribute sets by the attributes and resource
 * processors on their pipeline's worker thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "otc/otc_attr_actions.h"
#include "otc/otc_rc.h"

#define ANY(c) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c
#define MAX_DEPTH 64

typedef Opentelemetry__Proto__Common__V1__ArrayValue  aa_array;
typedef Opentelemetry__Proto__Common__V1__KeyValueList aa_kvlist;

#define AOFF(f) offsetof(struct otc_attr_action_cfg, f)

static const struct otc_config_entry action_map[] = {
    {OTC_CFG_STR, "key", NULL, AOFF(key), 0, 0, 0, NULL,
     "the attribute acted upon (delete and hash: key and/or pattern)"},
    {OTC_CFG_STR, "action", NULL, AOFF(action), 0, 0, 0, NULL,
     "insert, update, upsert, delete, hash (SHA-256, hex), extract or convert (any case)"},
    {OTC_CFG_ANY, "value", NULL, AOFF(value), 0, 0, 0, NULL,
     "insert/update/upsert: the value, typed as written (string, int, double, bool, list, map)"},
    {OTC_CFG_STR, "from_attribute", NULL, AOFF(from_attribute), 0, 0, 0, NULL,
     "insert/update/upsert: copy the value of this attribute of the same set (no action "
     "when it is absent)"},
    {OTC_CFG_STR, "from_context", NULL, AOFF(from_context), 0, 0, 0, NULL,
     "not supported: otelc's receivers keep no client metadata, auth data or client "
     "address; a config error"},
    {OTC_CFG_ANY, "default_value", NULL, AOFF(default_value), 0, 0, 0, NULL,
     "insert/update/upsert: the value used when value is empty or from_attribute is absent"},
    {OTC_CFG_STR, "pattern", NULL, AOFF(pattern), 0, 0, 0, NULL,
     "regular expression (PCRE2): delete/hash every key it matches; extract: named groups "
     "become attributes"},
    {OTC_CFG_STR, "converted_type", NULL, AOFF(converted_type), 0, 0, 0, NULL,
     "convert: int, double or string"},
    OTC_CFG_END,
};

const struct otc_cfg_sub otc_attr_action_sub = {action_map, sizeof(struct otc_attr_action_cfg)};

enum aa_kind { AA_INSERT, AA_UPDATE, AA_UPSERT, AA_DELETE, AA_HASH, AA_EXTRACT, AA_CONVERT };
enum aa_conv { AA_TO_STRING, AA_TO_INT, AA_TO_DOUBLE };

static const char *const kind_names[] = {"insert", "update", "upsert", "delete",
                                         "hash",   "extract", "convert", NULL};

struct aa_action {
    enum aa_kind   kind;
    char          *key;   /* NULL: none (delete / hash by pattern only) */
    otc_any_value *value; /* the configured value, or NULL */
    otc_any_value *def;   /* default_value, or NULL */
    char          *from_attribute;
    pcre2_code    *re;
    char         **names; /* extract: the attribute of each capture group (1..n_groups) */
    uint32_t       n_groups;
    enum aa_conv   conv;
};

struct otc_attr_actions {
    struct aa_action  *v;
    size_t             n;
    size_t             grow; /* most attributes one pass can add */
    pcre2_match_data  *md;
};

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
        snprintf(out + w, n - (size_t)w, e < 0 && e > -10 ? "e-%d" : "e%+03d", e < 0 && e > -10 ? -e : e);
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

/* ------------------------------------------------------------ compile */

void otc_attr_actions_free(struct otc_attr_actions *a)
{
    if (!a) {
        return;
    }
    for (size_t i = 0; i < a->n; i++) {
        struct aa_action *x = &a->v[i];
        free(x->key);
        free(x->from_attribute);
        otc_any_free(x->value);
        otc_any_free(x->def);
        pcre2_code_free(x->re);
        for (uint32_t g = 0; x->names && g <= x->n_groups; g++) {
            free(x->names[g]);
        }
        free(x->names);
    }
    pcre2_match_data_free(a->md);
    free(a->v);
    free(a);
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return OTC_EINVAL; } while (0)

static int aa_regex(const char *pat, const char *where, pcre2_code **out, char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE off;
    PCRE2_UCHAR msg[160];

    *out = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off, NULL);
    if (!*out) {
        pcre2_get_error_message(code, msg, sizeof(msg));
        FAIL("%s.pattern: invalid regular expression \"%s\": %s at offset %zu", where, pat,
             (const char *)msg, (size_t)off);
    }
    (void)pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE); /* the interpreter when JIT is missing */
    return OTC_OK;
}

/* extract: every capture group must be named; names[g] is group g's. */
static int aa_groups(struct aa_action *x, const char *where, char *err, size_t errlen)
{
    uint32_t count = 0, n_names = 0, entry = 0;
    PCRE2_SPTR table = NULL;

    pcre2_pattern_info(x->re, PCRE2_INFO_CAPTURECOUNT, &count);
    pcre2_pattern_info(x->re, PCRE2_INFO_NAMECOUNT, &n_names);
    pcre2_pattern_info(x->re, PCRE2_INFO_NAMEENTRYSIZE, &entry);
    pcre2_pattern_info(x->re, PCRE2_INFO_NAMETABLE, &table);
    if (count == 0) {
        FAIL("%s.pattern: \"pattern\" contains no named matcher groups", where);
    }
    if (!(x->names = calloc(count + 1, sizeof(*x->names)))) {
        return OTC_ENOMEM;
    }
    x->n_groups = count;
    for (uint32_t i = 0; i < n_names; i++) {
        PCRE2_SPTR e = table + (size_t)i * entry;
        uint32_t g = (uint32_t)e[0] << 8 | e[1];
        if (g <= count && !x->names[g] && !(x->names[g] = strdup((const char *)e + 2))) {
            return OTC_ENOMEM;
        }
    }
    for (uint32_t g = 1; g <= count; g++) {
        if (!x->names[g]) {
            FAIL("%s.pattern: \"pattern\" contains at least one unnamed matcher group", where);
        }
    }
    return OTC_OK;
}

static bool aa_empty_value(const struct otc_cfg_value *v)
{
    return v->kind == OTC_VAL_NONE || (v->kind == OTC_VAL_STR && !*v->s);
}

static int aa_compile_one(const struct otc_attr_action_cfg *c, const char *where,
                          struct aa_action *x, char *err, size_t errlen)
{
    bool has_value = c->value.kind != OTC_VAL_NONE;
    bool has_from = c->from_attribute && *c->from_attribute;
    bool has_ctx = c->from_context && *c->from_context;
    bool has_pat = c->pattern && *c->pattern;
    bool has_conv = c->converted_type && *c->converted_type;
    bool has_key = c->key && *c->key;
    int sources = has_value + has_from + has_ctx, k;

    for (k = 0; kind_names[k]; k++) {
        if (c->action && !strcasecmp(c->action, kind_names[k])) {
            break;
        }
    }
    if (!kind_names[k]) {
        FAIL("%s.action: unsupported action \"%s\" (insert, update, upsert, delete, hash, "
             "extract, convert)", where, c->action ? c->action : "");
    }
    x->kind = (enum aa_kind)k;
    if ((x->kind == AA_DELETE || x->kind == AA_HASH) ? !has_key && !has_pat : !has_key) {
        FAIL("%s: missing required field \"key\"%s", where,
             x->kind == AA_DELETE || x->kind == AA_HASH ? " (at least one of \"key\" and "
                                                          "\"pattern\" has to be used)" : "");
    }
    if (has_ctx) {
        FAIL("%s.from_context: not supported: otelc's receivers keep no client metadata, auth "
             "data or client address (\"%s\")", where, c->from_context);
    }
    switch (x->kind) {
    case AA_INSERT:
    case AA_UPDATE:
    case AA_UPSERT:
        if (sources == 0 && c->default_value.kind == OTC_VAL_NONE) {
            FAIL("%s: either field \"value\", \"from_attribute\", \"from_context\" or "
                 "\"default_value\" must be specified", where);
        }
        if (sources > 1) {
            FAIL("%s: multiple value sources (value, from_attribute, from_context) are set", where);
        }
        if (has_pat) {
            FAIL("%s.pattern: action \"%s\" does not use the \"pattern\" field", where,
                 kind_names[k]);
        }
        if (has_conv) {
            FAIL("%s.converted_type: action \"%s\" does not use the \"converted_type\" field",
                 where, kind_names[k]);
        }
        if (has_value && !(c->default_value.kind != OTC_VAL_NONE && aa_empty_value(&c->value)) &&
            !(x->value = otc_any_from_cfg(&c->value))) {
            return OTC_ENOMEM;
        }
        if (c->default_value.kind != OTC_VAL_NONE && !(x->def = otc_any_from_cfg(&c->default_value))) {
            return OTC_ENOMEM;
        }
        if (has_from && !(x->from_attribute = strdup(c->from_attribute))) {
            return OTC_ENOMEM;
        }
        break;
    case AA_DELETE:
    case AA_HASH:
        if (has_value || has_from) {
            FAIL("%s: action \"%s\" does not use the \"value\" or \"from_attribute\" field", where,
                 kind_names[k]);
        }
        if (has_conv) {
            FAIL("%s.converted_type: action \"%s\" does not use the \"converted_type\" field",
                 where, kind_names[k]);
        }
        if (has_pat && aa_regex(c->pattern, where, &x->re, err, errlen) != OTC_OK) {
            return OTC_EINVAL;
        }
        break;
    case AA_EXTRACT:
        if (sources > 0) {
            FAIL("%s: action \"extract\" does not use a value source field (value, "
                 "from_attribute, from_context)", where);
        }
        if (!has_pat) {
            FAIL("%s: missing required field \"pattern\" for action \"extract\"", where);
        }
        if (has_conv) {
            FAIL("%s.converted_type: action \"extract\" does not use the \"converted_type\" field",
                 where);
        }
        if (aa_regex(c->pattern, where, &x->re, err, errlen) != OTC_OK) {
            return OTC_EINVAL;
        }
        return aa_groups(x, where, err, errlen) == OTC_OK ? (has_key && !(x->key = strdup(c->key))
                                                                 ? OTC_ENOMEM : OTC_OK)
                                                          : OTC_EINVAL;
    case AA_CONVERT:
        if (sources > 0 || has_pat) {
            FAIL("%s: action \"convert\" does not use value sources or the \"pattern\" field",
                 where);
        }
        if (!has_conv) {
            FAIL("%s: missing required field \"converted_type\" for action \"convert\"", where);
        }
        if (!strcmp(c->converted_type, "string")) {
            x->conv = AA_TO_STRING;
        } else if (!strcmp(c->converted_type, "int")) {
            x->conv = AA_TO_INT;
        } else if (!strcmp(c->converted_type, "double")) {
            x->conv = AA_TO_DOUBLE;
        } else {
            FAIL("%s.converted_type: invalid value \"%s\" for action \"convert\" (int, double, "
                 "string)", where, c->converted_type);
        }
        break;
    }
    if (has_key && !(x->key = strdup(c->key))) {
        return OTC_ENOMEM;
    }
    return OTC_OK;
}

int otc_attr_actions_compile(const struct otc_cfg_list *l, const char *list,
                             struct otc_attr_actions **out, char *err, size_t errlen)
{
    struct otc_attr_actions *a = calloc(1, sizeof(*a));
    const struct otc_attr_action_cfg *cfg = l->v;

    *out = NULL;
    if (!a || !(a->v = calloc(l->n ? l->n : 1, sizeof(*a->v)))) {
        free(a);
        snprintf(err, errlen, "out of memory");
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++) {
        char where[64];
        int rc;

        snprintf(where, sizeof(where), "%s[%zu]", list, i);
        rc = aa_compile_one(&cfg[i], where, &a->v[i], err, errlen);
        a->n = i + 1;
        if (rc != OTC_OK) {
            if (rc == OTC_ENOMEM) {
                snprintf(err, errlen, "out of memory");
            }
            otc_attr_actions_free(a);
            return rc;
        }
        a->grow += a->v[i].kind == AA_EXTRACT ? a->v[i].n_groups
                   : a->v[i].kind <= AA_UPSERT ? 1 : 0;
        if (a->v[i].re && !a->md && !(a->md = pcre2_match_data_create(64, NULL))) {
            otc_attr_actions_free(a);
            snprintf(err, errlen, "out of memory");
            return OTC_ENOMEM;
        }
    }
    *out = a;
    return OTC_OK;
}

/* ------------------------------------------------------------ apply */

/* The set being changed: its array is replaced by a larger one from the arena
 * the first time an attribute is added. arena NULL: a dry run. */
struct aa_set {
    otc_key_value **v;
    size_t          n, cap;
    struct otc_arena *arena;
    size_t          grow;
};

static long aa_find(const struct aa_set *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i] && s->v[i]->key && !strcmp(s->v[i]->key, key)) {
            return (long)i;
        }
    }
    return -1;
}

static void aa_remove(struct aa_set *s, size_t i)
{
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
    s->n--;
}

static int aa_append(struct aa_set *s, const char *key, otc_any_value *val)
{
    otc_key_value *kv;

    if (s->n == s->cap) {
        size_t cap = s->n + s->grow + 4;
        otc_key_value **v = otc_arena_alloc(s->arena, cap * sizeof(*v));
        if (!v) {
            return OTC_ENOMEM;
        }
        if (s->n) {
            memcpy(v, s->v, s->n * sizeof(*v));
        }
        s->v = v;
        s->cap = cap;
    }
    if (!(kv = otc_arena_alloc(s->arena, sizeof(*kv)))) {
        return OTC_ENOMEM;
    }
    opentelemetry__proto__common__v1__key_value__init(kv);
    if (!(kv->key = otc_arena_memdup(s->arena, key, strlen(key) + 1))) {
        return OTC_ENOMEM;
    }
    kv->value = val;
    s->v[s->n++] = kv;
    return OTC_OK;
}

static bool aa_re_match(struct otc_attr_actions *a, const pcre2_code *re, const char *s)
{
    return pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, a->md, NULL) >= 0;
}

/* The new value of x for the set, or NULL when it has none. */
static const otc_any_value *aa_source(const struct aa_action *x, const struct aa_set *s)
{
    if (x->value) {
        return x->value;
    }
    if (x->from_attribute) {
        long i = aa_find(s, x->from_attribute);
        if (i >= 0) {
            return s->v[i]->value;
        }
    }
    return x->def;
}

/* Returns 1 when the set changed (would change, in a dry run), 0 when not,
 * OTC_ENOMEM. */
static int aa_set_value(struct aa_set *s, long i, const char *key, const otc_any_value *src)
{
    otc_any_value *c;

    if (i >= 0 && any_equal(s->v[i]->value, src, 0)) {
        return 0;
    }
    if (!s->arena) {
        return 1;
    }
    if (!(c = aa_copy(s->arena, src, 0))) {
        return OTC_ENOMEM;
    }
    if (i >= 0) {
        s->v[i]->value = c;
        return 1;
    }
    return aa_append(s, key, c) == OTC_OK ? 1 : OTC_ENOMEM;
}

static int aa_hash(struct aa_set *s, size_t i)
{
    otc_any_value *v = s->v[i]->value, *h;
    unsigned char md[SHA256_DIGEST_LENGTH], buf[8];
    const unsigned char *in = NULL;
    size_t len = 0;
    char hex[2 * SHA256_DIGEST_LENGTH + 1] = "";

    switch (v ? v->value_case : ANY(_NOT_SET)) {
    case ANY(STRING_VALUE):
        in = (const unsigned char *)v->string_value;
        len = strlen(v->string_value);
        break;
    case ANY(BOOL_VALUE):
        buf[0] = v->bool_value ? 1 : 0;
        in = buf;
        len = 1;
        break;
    case ANY(INT_VALUE):
    case ANY(DOUBLE_VALUE): {
        uint64_t bits;
        if (v->value_case == ANY(INT_VALUE)) {
            bits = (uint64_t)v->int_value;
        } else {
            memcpy(&bits, &v->double_value, 8);
        }
        for (int b = 0; b < 8; b++) {
            buf[b] = (unsigned char)(bits >> (8 * b)); /* little-endian, as otelcol */
        }
        in = buf;
        len = 8;
        break;
    }
    default:
        break;
    }
    if (len) { /* otelcol leaves an empty string (and other types) as "" */
        SHA256(in, len, md);
        for (int b = 0; b < SHA256_DIGEST_LENGTH; b++) {
            snprintf(hex + 2 * b, 3, "%02x", md[b]);
        }
    }
    if (v && v->value_case == ANY(STRING_VALUE) && !strcmp(v->string_value, hex)) {
        return 0;
    }
    if (!s->arena) {
        return 1;
    }
    if (!(h = otc_arena_alloc(s->arena, sizeof(*h)))) {
        return OTC_ENOMEM;
    }
    opentelemetry__proto__common__v1__any_value__init(h);
    h->value_case = ANY(STRING_VALUE);
    if (!(h->string_value = otc_arena_memdup(s->arena, hex, strlen(hex) + 1))) {
        return OTC_ENOMEM;
    }
    s->v[i]->value = h;
    return 1;
}

/* By pattern: every key matching it, collected first (as otelcol), then fn on
 * each that is still there. */
static int aa_by_pattern(struct otc_attr_actions *a, const struct aa_action *x, struct aa_set *s)
{
    int changed = 0;

    for (size_t i = 0; i < s->n;) {
        int r;
        if (!s->v[i]->key || !aa_re_match(a, x->re, s->v[i]->key)) {
            i++;
            continue;
        }
        if (x->kind == AA_DELETE) {
            if (!s->arena) {
                return 1;
            }
            aa_remove(s, i);
            changed = 1;
            continue;
        }
        if ((r = aa_hash(s, i)) < 0) {
            return r;
        }
        if (r && !s->arena) {
            return 1;
        }
        changed |= r;
        i++;
    }
    return changed;
}

static int aa_extract(struct otc_attr_actions *a, const struct aa_action *x, struct aa_set *s)
{
    long i = aa_find(s, x->key);
    const char *subject;
    PCRE2_SIZE *ov;
    int rc, changed = 0;

    if (i < 0 || !s->v[i]->value || s->v[i]->value->value_case != ANY(STRING_VALUE)) {
        return 0;
    }
    subject = s->v[i]->value->string_value;
    rc = pcre2_match(x->re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, a->md, NULL);
    if (rc < 0) {
        return 0;
    }
    ov = pcre2_get_ovector_pointer(a->md);
    for (uint32_t g = 1; g <= x->n_groups; g++) {
        const char *from = "";
        size_t len = 0;
        otc_any_value v, *c;
        long at;
        int r;

        if (g < (uint32_t)rc && ov[2 * g] != PCRE2_UNSET) {
            from = subject + ov[2 * g];
            len = ov[2 * g + 1] - ov[2 * g];
        }
        at = aa_find(s, x->names[g]);
        if (at >= 0 && s->v[at]->value && s->v[at]->value->value_case == ANY(STRING_VALUE) &&
            strlen(s->v[at]->value->string_value) == len &&
            !memcmp(s->v[at]->value->string_value, from, len)) {
            continue;
        }
        if (!s->arena) {
            return 1;
        }
        if (!(c = otc_arena_alloc(s->arena, sizeof(*c)))) {
            return OTC_ENOMEM;
        }
        opentelemetry__proto__common__v1__any_value__init(&v);
        *c = v;
        c->value_case = ANY(STRING_VALUE);
        c->string_value = otc_arena_alloc(s->arena, len + 1);
        if (!c->string_value) {
            return OTC_ENOMEM;
        }
        memcpy(c->string_value, from, len);
        c->string_value[len] = '\0';
        if (at >= 0) {
            s->v[at]->value = c;
        } else if ((r = aa_append(s, x->names[g], c)) != OTC_OK) {
            return r;
        }
        /* the source may have moved if an append replaced the array: find it again */
        if ((i = aa_find(s, x->key)) < 0) {
            return 1;
        }
        subject = s->v[i]->value->string_value;
        changed = 1;
    }
    return changed;
}

/* Go's strconv.ParseInt(s, 10, 64) and ParseFloat(s, 64): the whole string. */
static bool aa_parse_int(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (!*s || (*s != '-' && *s != '+' && (*s < '0' || *s > '9'))) {
        return false;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end) {
        return false;
    }
    *out = v;
    return true;
}

static bool aa_parse_double(const char *s, double *out)
{
    char *end;
    double v;

    if (!*s || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v' ||
        strchr(s, '(')) {
        return false;
    }
    errno = 0;
    v = strtod(s, &end);
    if (*end || (errno == ERANGE && isinf(v))) {
        return false;
    }
    *out = v;
    return true;
}

static int aa_convert(const struct aa_action *x, struct aa_set *s)
{
    long i = aa_find(s, x->key);
    otc_any_value *v, n;
    char buf[64];

    if (i < 0 || !(v = s->v[i]->value)) {
        return 0;
    }
    opentelemetry__proto__common__v1__any_value__init(&n);
    switch (x->conv) {
    case AA_TO_STRING:
        if (v->value_case == ANY(STRING_VALUE)) {
            return 0;
        }
        n.value_case = ANY(STRING_VALUE);
        break;
    case AA_TO_INT:
        n.value_case = ANY(INT_VALUE);
        if (v->value_case == ANY(DOUBLE_VALUE)) {
            double d = v->double_value;
            n.int_value = isnan(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0
                              ? INT64_MIN : (int64_t)d;
        } else if (v->value_case == ANY(BOOL_VALUE)) {
            n.int_value = v->bool_value;
        } else if (v->value_case != ANY(STRING_VALUE) ||
                   !aa_parse_int(v->string_value, &n.int_value)) {
            return 0;
        }
        break;
    case AA_TO_DOUBLE:
        n.value_case = ANY(DOUBLE_VALUE);
        if (v->value_case == ANY(INT_VALUE)) {
            n.double_value = (double)v->int_value;
        } else if (v->value_case == ANY(BOOL_VALUE)) {
            n.double_value = v->bool_value;
        } else if (v->value_case != ANY(STRING_VALUE) ||
                   !aa_parse_double(v->string_value, &n.double_value)) {
            return 0;
        }
        break;
    }
    if (!s->arena) {
        return 1;
    }
    if (!(v = otc_arena_alloc(s->arena, sizeof(*v)))) {
        return OTC_ENOMEM;
    }
    *v = n;
    if (x->conv == AA_TO_STRING) {
        const otc_any_value *old = s->v[i]->value;
        const char *t = "";
        size_t len = 0;
        struct aa_out o = {0};

        if (old->value_case == ANY(BOOL_VALUE) || old->value_case == ANY(INT_VALUE)) {
            otc_any_match_text(old, buf, sizeof(buf), &t, &len);
        } else if (old->value_case == ANY(DOUBLE_VALUE)) {
            aa_float_text(old->double_value, true, buf, sizeof(buf));
            t = buf;
            if (isnan(old->double_value) || isinf(old->double_value)) {
                snprintf(buf, sizeof(buf), "json: unsupported value: %s",
                         isnan(old->double_value) ? "NaN" : old->double_value > 0 ? "+Inf"
                                                                                   : "-Inf");
            }
        } else if (old->value_case == ANY(BYTES_VALUE)) {
            out_base64(&o, old->bytes_value.data, old->bytes_value.len);
            t = o.p ? o.p : "";
        } else if (old->value_case == ANY(ARRAY_VALUE) || old->value_case == ANY(KVLIST_VALUE)) {
            out_json(&o, old, 0);
            t = o.p ? o.p : "";
        }
        if (o.oom) {
            free(o.p);
            return OTC_ENOMEM;
        }
        v->string_value = otc_arena_memdup(s->arena, t, strlen(t) + 1);
        free(o.p);
        if (!v->string_value) {
            return OTC_ENOMEM;
        }
    }
    s->v[i]->value = v;
    return 1;
}

/* Run the actions on s; a dry run (s->arena NULL) stops at the first change. */
static int aa_run(struct otc_attr_actions *a, struct aa_set *s)
{
    int changed = 0;

    for (size_t k = 0; k < a->n; k++) {
        const struct aa_action *x = &a->v[k];
        const otc_any_value *src;
        long i;
        int r = 0;

        switch (x->kind) {
        case AA_DELETE:
            if (x->key && (i = aa_find(s, x->key)) >= 0) {
                if (!s->arena) {
                    return 1;
                }
                aa_remove(s, (size_t)i);
                r = 1;
            }
            if (x->re) {
                int p = aa_by_pattern(a, x, s);
                r = p < 0 ? p : r | p;
            }
            break;
        case AA_HASH:
            if (x->key && (i = aa_find(s, x->key)) >= 0) {
                r = aa_hash(s, (size_t)i);
            }
            if (r >= 0 && !(r && !s->arena) && x->re) {
                int p = aa_by_pattern(a, x, s);
                r = p < 0 ? p : r | p;
            }
            break;
        case AA_INSERT:
        case AA_UPDATE:
        case AA_UPSERT:
            if (!(src = aa_source(x, s))) {
                break;
            }
            i = aa_find(s, x->key);
            if ((x->kind == AA_INSERT && i >= 0) || (x->kind == AA_UPDATE && i < 0)) {
                break;
            }
            r = aa_set_value(s, i, x->key, src);
            break;
        case AA_EXTRACT:
            r = aa_extract(a, x, s);
            break;
        case AA_CONVERT:
            r = aa_convert(x, s);
            break;
        }
        if (r < 0) {
            return r;
        }
        if (r && !s->arena) {
            return 1;
        }
        changed |= r;
    }
    return changed;
}

bool otc_attr_actions_would_change(struct otc_attr_actions *a, otc_key_value *const *kvs, size_t n)
{
    struct aa_set s = {(otc_key_value **)kvs, n, n, NULL, a->grow};

    return aa_run(a, &s) != 0;
}

int otc_attr_actions_apply(struct otc_attr_actions *a, struct otc_arena *arena,
                           otc_key_value ***kvs, size_t *n)
{
    struct aa_set s = {*kvs, *n, *n, arena, a->grow};
    int rc = aa_run(a, &s);

    *kvs = s.v;
    *n = s.n;
    return rc < 0 ? rc : OTC_OK;
}
