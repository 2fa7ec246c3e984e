/* tail_sampling_policy.c - the sampling policies of the `tail_sampling`
 * processor, read from its `policies` list as otelcol-contrib writes them, and
 * their evaluation over a held trace. Parsed on the main thread (validate and
 * init); evaluated on the pipeline worker thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "otc/otc_ottl.h"
#include "otc/otc_pb_walk.h"
#include "otc/otc_rc.h"
#include "tail_sampling_policy.h"

#define DEFAULT_SALT "default-hash-seed"
#define MAX_DEPTH 8

enum ts_type {
    TS_ALWAYS, TS_LATENCY, TS_NUMERIC, TS_STRING, TS_BOOLEAN, TS_PROBABILISTIC, TS_STATUS,
    TS_RATE, TS_BYTES, TS_SPAN_COUNT, TS_TRACE_STATE, TS_AND, TS_COMPOSITE, TS_NOT, TS_DROP,
    TS_TRACE_FLAGS, TS_OTTL,
};

static const char *const type_names[] = {
    "always_sample", "latency", "numeric_attribute", "string_attribute", "boolean_attribute",
    "probabilistic", "status_code", "rate_limiting", "bytes_limiting", "span_count",
    "trace_state", "and", "composite", "not", "drop", "trace_flags", "ottl_condition", NULL,
};

struct ts_policy {
    char         *name;
    enum ts_type  type;
    int           fact;         /* bit in a trace's facts, for policies reading spans */
    /* latency (ms), numeric_attribute, span_count */
    int64_t       lo, hi;
    bool          invert;
    char         *key;
    char        **values;
    size_t       *value_lens;
    size_t        n_values;
    pcre2_code  **re;           /* string_attribute with enabled_regex_matching */
    bool          bval;
    uint64_t      threshold;    /* probabilistic */
    char         *salt;
    unsigned      status_mask;  /* bit per span status code */
    /* rate_limiting, composite: spans in the current second */
    int64_t       per_sec;
    int64_t       cur_sec;
    int64_t       used;
    /* bytes_limiting: token bucket */
    double        rate, burst, tokens;
    uint64_t      last_ns;
    /* and, composite, not, drop */
    struct ts_policy *subs;
    size_t        n_subs;
    int64_t      *sub_limit;    /* composite: spans per second of each sub-policy */
    int64_t      *sub_used;
    /* ottl_condition: span and span event conditions */
    struct otc_ottl_list span_c, event_c;
    int           error_mode;
};

/* ------------------------------------------------------------ hashing */

uint64_t ts_fnv1a64(const char *salt, size_t salt_len, const uint8_t id[16])
{
    uint64_t h = 14695981039346656037ull;

    for (size_t i = 0; i < salt_len; i++) {
        h ^= (uint8_t)salt[i];
        h *= 1099511628211ull;
    }
    for (size_t i = 0; i < 16; i++) {
        h ^= id[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int bitlen128(unsigned __int128 v)
{
    uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;

    return hi ? 128 - __builtin_clzll(hi) : lo ? 64 - __builtin_clzll(lo) : 0;
}

uint64_t ts_prob_threshold(double percentage)
{
    double ratio = percentage / 100;
    unsigned __int128 p;
    uint64_t m;
    int e, s = 0, len, sh;

    if (!(ratio > 0)) {
        return 0; /* zero, negative or NaN: Go's Uint64 of a value below 0 is 0 */
    }
    if (isinf(ratio)) {
        return UINT64_MAX;
    }
    /* ratio = m * 2^(e - 53) exactly, m a 53-bit integer */
    m = (uint64_t)ldexp(frexp(ratio, &e), 53);
    p = (unsigned __int128)UINT64_MAX * m; /* exact: at most 117 bits */
    len = bitlen128(p);
    if (len > 64) { /* round to a 64-bit mantissa, nearest even */
        unsigned __int128 rem, half, q;
        s = len - 64;
        q = p >> s;
        rem = p & (((unsigned __int128)1 << s) - 1);
        half = (unsigned __int128)1 << (s - 1);
        if (rem > half || (rem == half && (q & 1))) {
            q++;
        }
        p = q;
    }
    sh = s + e - 53; /* value = p * 2^sh; truncate toward zero */
    if (sh >= 0) {
        if (sh >= 64 || bitlen128(p) + sh > 64) {
            return UINT64_MAX;
        }
        p <<= sh;
    } else {
        p = -sh >= 128 ? 0 : p >> -sh;
    }
    return p > UINT64_MAX ? UINT64_MAX : (uint64_t)p;
}

/* ------------------------------------------------------------ parsing */

struct ts_parse {
    char  *err;
    size_t errlen;
    char   path[200]; /* "policies[1] \"name\"" */
};

__attribute__((format(printf, 2, 3)))
static int fail(struct ts_parse *ps, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(ps->err, ps->errlen, "%s: ", ps->path);

    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < ps->errlen) {
        vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    }
    va_end(ap);
    return OTC_EINVAL;
}

static const char *scalar(const struct otc_cfg_tree *t)
{
    return t && t->kind == OTC_TREE_SCALAR ? t->scalar : NULL;
}

static int get_int(struct ts_parse *ps, const struct otc_cfg_tree *m, const char *sect, const char *key,
                   int64_t *out)
{
    const struct otc_cfg_tree *v = otc_cfg_tree_get(m, key);
    double d;

    if (!v || v->kind == OTC_TREE_NULL) {
        return OTC_OK;
    }
    if (!scalar(v) || otc_parse_int(v->scalar, out) != OTC_OK) {
        if (scalar(v) && otc_parse_double(v->scalar, &d) == OTC_OK && d == floor(d) && fabs(d) < 9e18) {
            *out = (int64_t)d;
            return OTC_OK;
        }
        return fail(ps, "%s.%s: expected an integer", sect, key);
    }
    return OTC_OK;
}

static int get_double(struct ts_parse *ps, const struct otc_cfg_tree *m, const char *sect,
                      const char *key, double *out)
{
    const struct otc_cfg_tree *v = otc_cfg_tree_get(m, key);

    if (!v || v->kind == OTC_TREE_NULL) {
        return OTC_OK;
    }
    if (!scalar(v) || otc_parse_double(v->scalar, out) != OTC_OK) {
        return fail(ps, "%s.%s: expected a number", sect, key);
    }
    return OTC_OK;
}

static int get_bool(struct ts_parse *ps, const struct otc_cfg_tree *m, const char *sect, const char *key,
                    bool *out)
{
    const struct otc_cfg_tree *v = otc_cfg_tree_get(m, key);

    if (!v || v->kind == OTC_TREE_NULL) {
        return OTC_OK;
    }
    if (!scalar(v) || otc_parse_bool(v->scalar, out) != OTC_OK) {
        return fail(ps, "%s.%s: expected true or false", sect, key);
    }
    return OTC_OK;
}

static int get_str(struct ts_parse *ps, const struct otc_cfg_tree *m, const char *sect, const char *key,
                   char **out)
{
    const struct otc_cfg_tree *v = otc_cfg_tree_get(m, key);

    if (!v || v->kind == OTC_TREE_NULL) {
        return OTC_OK;
    }
    if (!scalar(v)) {
        return fail(ps, "%s.%s: expected a string", sect, key);
    }
    free(*out);
    return (*out = strdup(v->scalar)) ? OTC_OK : OTC_ENOMEM;
}

static int get_strs(struct ts_parse *ps, const struct otc_cfg_tree *m, const char *sect, const char *key,
                    struct ts_policy *p)
{
    const struct otc_cfg_tree *v = otc_cfg_tree_get(m, key);
    struct otc_cfg_tree one;

    if (!v || v->kind == OTC_TREE_NULL) {
        return OTC_OK;
    }
    if (v->kind == OTC_TREE_SCALAR) { /* a single value written without brackets */
        one = (struct otc_cfg_tree){.kind = OTC_TREE_SEQ, .items = (struct otc_cfg_tree *)v, .n = 1};
        v = &one;
    }
    if (v->kind != OTC_TREE_SEQ) {
        return fail(ps, "%s.%s: expected a list of strings", sect, key);
    }
    p->values = calloc(v->n ? v->n : 1, sizeof(*p->values));
    p->value_lens = calloc(v->n ? v->n : 1, sizeof(*p->value_lens));
    if (!p->values || !p->value_lens) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < v->n; i++) {
        if (!scalar(&v->items[i])) {
            return fail(ps, "%s.%s[%zu]: expected a string", sect, key, i);
        }
        if (!(p->values[i] = strdup(v->items[i].scalar))) {
            return OTC_ENOMEM;
        }
        p->value_lens[i] = strlen(p->values[i]);
        p->n_values = i + 1;
    }
    return OTC_OK;
}

/* Every key of mapping m must be one of the NULL-ended allowed names. */
static int check_keys(struct ts_parse *ps, const struct otc_cfg_tree *m, const char *sect,
                      const char *const *allowed)
{
    if (!m || m->kind == OTC_TREE_NULL) {
        return OTC_OK;
    }
    if (m->kind != OTC_TREE_MAP) {
        return fail(ps, "%s: expected a mapping", sect);
    }
    for (size_t i = 0; i < m->n; i++) {
        bool ok = false;
        for (size_t j = 0; allowed[j] && !ok; j++) {
            ok = !strcmp(m->items[i].key, allowed[j]);
        }
        if (!ok) {
            return fail(ps, "%s: unknown key \"%s\"", sect, m->items[i].key);
        }
    }
    return OTC_OK;
}

static int parse_policy(struct ts_parse *ps, const struct otc_cfg_tree *t, struct ts_policy *p, int depth,
                        bool need_name);

static int parse_subs(struct ts_parse *ps, const struct otc_cfg_tree *list, const char *sect, struct ts_policy *p,
                      int depth)
{
    char saved[sizeof(ps->path)];

    if (!list || list->kind != OTC_TREE_SEQ || list->n == 0) {
        return fail(ps, "%s: expected a non-empty list of policies", sect);
    }
    if (!(p->subs = calloc(list->n, sizeof(*p->subs)))) {
        return OTC_ENOMEM;
    }
    memcpy(saved, ps->path, sizeof(saved));
    for (size_t i = 0; i < list->n; i++) {
        int rc;
        snprintf(ps->path + strlen(saved), sizeof(ps->path) - strlen(saved), " %s[%zu]", sect, i);
        p->n_subs = i + 1;
        if ((rc = parse_policy(ps, &list->items[i], &p->subs[i], depth + 1, true)) != OTC_OK) {
            return rc;
        }
        memcpy(ps->path, saved, sizeof(saved));
    }
    return OTC_OK;
}

static int parse_composite(struct ts_parse *ps, const struct otc_cfg_tree *c, struct ts_policy *p, int depth)
{
    static const char *const keys[] = {"max_total_spans_per_second", "policy_order", "composite_sub_policy",
                                       "rate_allocation", NULL};
    const struct otc_cfg_tree *order = otc_cfg_tree_get(c, "policy_order");
    const struct otc_cfg_tree *alloc = otc_cfg_tree_get(c, "rate_allocation");
    int rc;

    if ((rc = check_keys(ps, c, "composite", keys)) != OTC_OK ||
        (rc = get_int(ps, c, "composite", "max_total_spans_per_second", &p->per_sec)) != OTC_OK ||
        (rc = parse_subs(ps, otc_cfg_tree_get(c, "composite_sub_policy"), "composite_sub_policy", p, depth)) != OTC_OK) {
        return rc;
    }
    if (p->per_sec <= 0) {
        return fail(ps, "composite.max_total_spans_per_second: must be greater than 0");
    }
    /* evaluation order: policy_order names, then any sub-policy it leaves out */
    if (order && order->kind != OTC_TREE_NULL) {
        struct ts_policy *sorted;
        size_t k = 0;
        bool *taken;
        if (order->kind != OTC_TREE_SEQ) {
            return fail(ps, "composite.policy_order: expected a list of policy names");
        }
        sorted = calloc(p->n_subs, sizeof(*sorted));
        taken = calloc(p->n_subs, sizeof(*taken));
        if (!sorted || !taken) {
            free(sorted);
            free(taken);
            return OTC_ENOMEM;
        }
        for (size_t i = 0; i < order->n; i++) {
            const char *nm = scalar(&order->items[i]);
            size_t j = 0;
            while (j < p->n_subs && (!nm || strcmp(p->subs[j].name, nm))) {
                j++;
            }
            if (j == p->n_subs) {
                free(sorted);
                free(taken);
                return fail(ps, "composite.policy_order: \"%s\" is not a composite_sub_policy",
                            nm ? nm : "?");
            }
            if (!taken[j]) {
                sorted[k++] = p->subs[j];
                taken[j] = true;
            }
        }
        for (size_t j = 0; j < p->n_subs; j++) {
            if (!taken[j]) {
                sorted[k++] = p->subs[j];
            }
        }
        free(p->subs);
        free(taken);
        p->subs = sorted;
    }
    p->sub_limit = calloc(p->n_subs, sizeof(*p->sub_limit));
    p->sub_used = calloc(p->n_subs, sizeof(*p->sub_used));
    if (!p->sub_limit || !p->sub_used) {
        return OTC_ENOMEM;
    }
    for (size_t j = 0; j < p->n_subs; j++) {
        p->sub_limit[j] = p->per_sec; /* a sub-policy without an allocation may use it all */
    }
    if (alloc && alloc->kind != OTC_TREE_NULL) {
        if (alloc->kind != OTC_TREE_SEQ) {
            return fail(ps, "composite.rate_allocation: expected a list of {policy, percent}");
        }
        for (size_t i = 0; i < alloc->n; i++) {
            static const char *const akeys[] = {"policy", "percent", NULL};
            const char *nm = scalar(otc_cfg_tree_get(&alloc->items[i], "policy"));
            int64_t pct = 0;
            size_t j = 0;
            if ((rc = check_keys(ps, &alloc->items[i], "composite.rate_allocation", akeys)) != OTC_OK ||
                (rc = get_int(ps, &alloc->items[i], "composite.rate_allocation", "percent", &pct)) != OTC_OK) {
                return rc;
            }
            while (j < p->n_subs && (!nm || strcmp(p->subs[j].name, nm))) {
                j++;
            }
            if (j == p->n_subs) {
                return fail(ps, "composite.rate_allocation[%zu].policy: \"%s\" is not a composite_sub_policy",
                            i, nm ? nm : "");
            }
            if (pct < 0 || pct > 100) {
                return fail(ps, "composite.rate_allocation[%zu].percent: must be within 0..100", i);
            }
            if (pct > 0) {
                p->sub_limit[j] = p->per_sec * pct / 100;
            }
        }
    }
    return OTC_OK;
}

static int compile_regexes(struct ts_parse *ps, struct ts_policy *p)
{
    if (!(p->re = calloc(p->n_values ? p->n_values : 1, sizeof(*p->re)))) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < p->n_values; i++) {
        int code;
        PCRE2_SIZE off;
        p->re[i] = pcre2_compile((PCRE2_SPTR)p->values[i], p->value_lens[i], PCRE2_UTF, &code, &off, NULL);
        if (!p->re[i]) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(code, msg, sizeof(msg));
            return fail(ps, "string_attribute.values[%zu]: invalid regular expression \"%s\" at offset %zu: %s",
                        i, p->values[i], (size_t)off, (const char *)msg);
        }
        (void)pcre2_jit_compile(p->re[i], PCRE2_JIT_COMPLETE); /* interpreted when JIT is unavailable */
    }
    return OTC_OK;
}

static int parse_status(struct ts_parse *ps, struct ts_policy *p)
{
    if (p->n_values == 0) {
        return fail(ps, "status_code.status_codes: expected at least one status code");
    }
    for (size_t i = 0; i < p->n_values; i++) {
        if (!strcmp(p->values[i], "UNSET")) {
            p->status_mask |= 1u << 0;
        } else if (!strcmp(p->values[i], "OK")) {
            p->status_mask |= 1u << 1;
        } else if (!strcmp(p->values[i], "ERROR")) {
            p->status_mask |= 1u << 2;
        } else {
            return fail(ps, "status_code.status_codes: unknown status code \"%s\" (OK, ERROR or UNSET)",
                        p->values[i]);
        }
    }
    return OTC_OK;
}

/* ottl_condition: {error_mode, span: [...], spanevent: [...]}, OTTL conditions
 * in the span and spanevent contexts. */
static int get_strlist(struct ts_parse *ps, const struct otc_cfg_tree *m, const char *key,
                       struct otc_strlist *out)
{
    const struct otc_cfg_tree *v = otc_cfg_tree_get(m, key);
    struct otc_cfg_tree one;

    if (!v || v->kind == OTC_TREE_NULL) {
        return OTC_OK;
    }
    if (v->kind == OTC_TREE_SCALAR) {
        one = (struct otc_cfg_tree){.kind = OTC_TREE_SEQ, .items = (struct otc_cfg_tree *)v, .n = 1};
        v = &one;
    }
    if (v->kind != OTC_TREE_SEQ) {
        return fail(ps, "ottl_condition.%s: expected a list of conditions", key);
    }
    if (!(out->v = calloc(v->n ? v->n : 1, sizeof(*out->v)))) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < v->n; i++) {
        if (!scalar(&v->items[i])) {
            return fail(ps, "ottl_condition.%s[%zu]: expected a string", key, i);
        }
        out->v[i] = v->items[i].scalar; /* borrowed from the tree */
        out->n = i + 1;
    }
    return OTC_OK;
}

static int parse_ottl(struct ts_parse *ps, const struct otc_cfg_tree *c, struct ts_policy *p)
{
    struct otc_strlist span = {0}, event = {0};
    const char *mode;
    char why[400];
    int rc;

    p->error_mode = OTC_OTTL_PROPAGATE;
    if ((rc = check_keys(ps, c, "ottl_condition", (const char *const[]){"error_mode", "span", "spanevent", NULL}))) {
        return rc;
    }
    mode = scalar(otc_cfg_tree_get(c, "error_mode"));
    if (mode && *mode) {
        size_t i;
        for (i = 0; otc_ottl_error_modes[i] && strcmp(otc_ottl_error_modes[i], mode); i++) {
        }
        if (!otc_ottl_error_modes[i]) {
            return fail(ps, "ottl_condition.error_mode: unknown error mode \"%s\" (propagate, ignore or silent)",
                        mode);
        }
        p->error_mode = (int)i;
    }
    if ((rc = get_strlist(ps, c, "span", &span)) == OTC_OK &&
        (rc = get_strlist(ps, c, "spanevent", &event)) == OTC_OK) {
        if (!span.n && !event.n) {
            rc = fail(ps, "ottl_condition: expected at least one OTTL condition to filter on");
        } else if ((rc = otc_ottl_list_compile(&span, "ottl_condition.span", OTC_TRACES, true, OTC_OTTL_SPAN,
                                               &p->span_c, why, sizeof(why))) != OTC_OK ||
                   (rc = otc_ottl_list_compile(&event, "ottl_condition.spanevent", OTC_TRACES, true,
                                               OTC_OTTL_SPANEVENT, &p->event_c, why, sizeof(why))) != OTC_OK) {
            if (rc != OTC_ENOMEM) {
                rc = fail(ps, "%s", why);
            }
        }
    }
    free(span.v);
    free(event.v);
    return rc;
}

/* The body of policy t (a mapping with name, type and the type's own mapping). */
static int parse_policy(struct ts_parse *ps, const struct otc_cfg_tree *t, struct ts_policy *p, int depth,
                        bool need_name)
{
    const char *type;
    const struct otc_cfg_tree *c;
    int rc = OTC_OK;
    size_t k;

    if (depth > MAX_DEPTH) {
        return fail(ps, "policies nest more than %d deep", MAX_DEPTH);
    }
    if (!t || t->kind != OTC_TREE_MAP) {
        return fail(ps, "expected a mapping with name and type");
    }
    if ((rc = get_str(ps, t, "policy", "name", &p->name)) != OTC_OK) {
        return rc;
    }
    if (!p->name || !*p->name) {
        if (need_name) {
            return fail(ps, "name: a policy needs a name");
        }
        free(p->name);
        p->name = strdup("not_sub_policy");
    }
    type = scalar(otc_cfg_tree_get(t, "type"));
    if (!type || !*type) {
        return fail(ps, "type: a policy needs a type");
    }
    for (k = 0; type_names[k] && strcmp(type_names[k], type); k++) {
    }
    if (!type_names[k]) {
        return fail(ps, "type: unknown policy type \"%s\"", type);
    }
    for (size_t i = 0; i < t->n; i++) {
        const char *key = t->items[i].key;
        bool ok = !strcmp(key, "name") || !strcmp(key, "type");
        for (size_t j = 0; type_names[j] && !ok; j++) {
            ok = !strcmp(key, type_names[j]);
        }
        if (!ok) {
            return fail(ps, "unknown key \"%s\"", key);
        }
    }
    p->type = (enum ts_type)k;
    c = otc_cfg_tree_get(t, type);
    switch (p->type) {
    case TS_ALWAYS:
    case TS_TRACE_FLAGS:
        return check_keys(ps, c, type, (const char *const[]){NULL});
    case TS_LATENCY:
        if ((rc = check_keys(ps, c, type, (const char *const[]){"threshold_ms", "upper_threshold_ms", NULL})) ||
            (rc = get_int(ps, c, type, "threshold_ms", &p->lo)) || (rc = get_int(ps, c, type, "upper_threshold_ms", &p->hi))) {
            return rc;
        }
        if (p->hi != 0 && p->hi < p->lo) {
            return fail(ps, "latency.upper_threshold_ms: must be greater than threshold_ms");
        }
        return OTC_OK;
    case TS_NUMERIC:
        if ((rc = check_keys(ps, c, type, (const char *const[]){"key", "min_value", "max_value", "invert_match", NULL})) ||
            (rc = get_str(ps, c, type, "key", &p->key)) || (rc = get_int(ps, c, type, "min_value", &p->lo)) ||
            (rc = get_int(ps, c, type, "max_value", &p->hi)) || (rc = get_bool(ps, c, type, "invert_match", &p->invert))) {
            return rc;
        }
        /* otelcol: an unset (zero) bound is open */
        p->lo = p->lo == 0 ? INT64_MIN : p->lo;
        p->hi = p->hi == 0 ? INT64_MAX : p->hi;
        if (!p->key || !*p->key) {
            return fail(ps, "numeric_attribute.key: required");
        }
        return OTC_OK;
    case TS_STRING: {
        bool regex = false;
        int64_t cache = 0;
        if ((rc = check_keys(ps, c, type, (const char *const[]){"key", "values", "enabled_regex_matching",
                                                                 "cache_max_size", "invert_match", NULL})) ||
            (rc = get_str(ps, c, type, "key", &p->key)) || (rc = get_strs(ps, c, type, "values", p)) ||
            (rc = get_bool(ps, c, type, "enabled_regex_matching", &regex)) ||
            (rc = get_int(ps, c, type, "cache_max_size", &cache)) ||
            (rc = get_bool(ps, c, type, "invert_match", &p->invert))) {
            return rc;
        }
        if (!p->key || !*p->key) {
            return fail(ps, "string_attribute.key: required");
        }
        if (cache < 0) {
            return fail(ps, "string_attribute.cache_max_size: must not be negative");
        }
        return regex ? compile_regexes(ps, p) : OTC_OK;
    }
    case TS_BOOLEAN:
        if ((rc = check_keys(ps, c, type, (const char *const[]){"key", "value", "invert_match", NULL})) ||
            (rc = get_str(ps, c, type, "key", &p->key)) || (rc = get_bool(ps, c, type, "value", &p->bval)) ||
            (rc = get_bool(ps, c, type, "invert_match", &p->invert))) {
            return rc;
        }
        return p->key && *p->key ? OTC_OK : fail(ps, "boolean_attribute.key: required");
    case TS_PROBABILISTIC: {
        double pct = 0;
        if ((rc = check_keys(ps, c, type, (const char *const[]){"hash_salt", "sampling_percentage", NULL})) ||
            (rc = get_str(ps, c, type, "hash_salt", &p->salt)) ||
            (rc = get_double(ps, c, type, "sampling_percentage", &pct))) {
            return rc;
        }
        if (pct < 0 || isnan(pct)) {
            return fail(ps, "probabilistic.sampling_percentage: must not be negative");
        }
        if (!p->salt || !*p->salt) {
            free(p->salt);
            if (!(p->salt = strdup(DEFAULT_SALT))) {
                return OTC_ENOMEM;
            }
        }
        p->threshold = ts_prob_threshold(pct);
        return OTC_OK;
    }
    case TS_STATUS:
        if ((rc = check_keys(ps, c, type, (const char *const[]){"status_codes", NULL})) ||
            (rc = get_strs(ps, c, type, "status_codes", p))) {
            return rc;
        }
        return parse_status(ps, p);
    case TS_RATE:
        if ((rc = check_keys(ps, c, type, (const char *const[]){"spans_per_second", NULL})) ||
            (rc = get_int(ps, c, type, "spans_per_second", &p->per_sec))) {
            return rc;
        }
        return p->per_sec > 0 ? OTC_OK : fail(ps, "rate_limiting.spans_per_second: must be greater than 0");
    case TS_BYTES: {
        int64_t bps = 0, burst = 0;
        if ((rc = check_keys(ps, c, type, (const char *const[]){"bytes_per_second", "burst_capacity", NULL})) ||
            (rc = get_int(ps, c, type, "bytes_per_second", &bps)) || (rc = get_int(ps, c, type, "burst_capacity", &burst))) {
            return rc;
        }
        if (bps <= 0) {
            return fail(ps, "bytes_limiting.bytes_per_second: must be greater than 0");
        }
        if (burst < 0) {
            return fail(ps, "bytes_limiting.burst_capacity: must not be negative");
        }
        p->rate = (double)bps;
        p->burst = burst ? (double)burst : 2.0 * (double)bps; /* otelcol's default: twice the rate */
        p->tokens = p->burst;
        return OTC_OK;
    }
    case TS_SPAN_COUNT:
        if ((rc = check_keys(ps, c, type, (const char *const[]){"min_spans", "max_spans", NULL})) ||
            (rc = get_int(ps, c, type, "min_spans", &p->lo)) || (rc = get_int(ps, c, type, "max_spans", &p->hi))) {
            return rc;
        }
        if (p->hi != 0 && p->hi < p->lo) {
            return fail(ps, "span_count.max_spans: must be greater or equal to min_spans");
        }
        return OTC_OK;
    case TS_TRACE_STATE:
        if ((rc = check_keys(ps, c, type, (const char *const[]){"key", "values", NULL})) ||
            (rc = get_str(ps, c, type, "key", &p->key)) || (rc = get_strs(ps, c, type, "values", p))) {
            return rc;
        }
        return p->key && *p->key ? OTC_OK : fail(ps, "trace_state.key: required");
    case TS_AND:
        if ((rc = check_keys(ps, c, type, (const char *const[]){"and_sub_policy", NULL}))) {
            return rc;
        }
        return parse_subs(ps, otc_cfg_tree_get(c, "and_sub_policy"), "and_sub_policy", p, depth);
    case TS_DROP:
        if ((rc = check_keys(ps, c, type, (const char *const[]){"drop_sub_policy", NULL}))) {
            return rc;
        }
        return parse_subs(ps, otc_cfg_tree_get(c, "drop_sub_policy"), "drop_sub_policy", p, depth);
    case TS_OTTL:
        return parse_ottl(ps, c, p);
    case TS_COMPOSITE:
        return parse_composite(ps, c, p, depth);
    case TS_NOT: {
        const struct otc_cfg_tree *sub = otc_cfg_tree_get(c, "not_sub_policy");
        if ((rc = check_keys(ps, c, type, (const char *const[]){"not_sub_policy", NULL}))) {
            return rc;
        }
        if (!sub || sub->kind != OTC_TREE_MAP) {
            return fail(ps, "not.not_sub_policy: expected a policy");
        }
        if (!(p->subs = calloc(1, sizeof(*p->subs)))) {
            return OTC_ENOMEM;
        }
        p->n_subs = 1;
        return parse_policy(ps, sub, p->subs, depth + 1, false);
    }
    }
    return OTC_OK;
}

static void policy_clear(struct ts_policy *p)
{
    for (size_t i = 0; i < p->n_subs; i++) {
        policy_clear(&p->subs[i]);
    }
    free(p->subs);
    for (size_t i = 0; i < p->n_values; i++) {
        free(p->values[i]);
        if (p->re && p->re[i]) {
            pcre2_code_free(p->re[i]);
        }
    }
    free(p->values);
    free(p->value_lens);
    free(p->re);
    free(p->name);
    free(p->key);
    free(p->salt);
    free(p->sub_limit);
    free(p->sub_used);
    otc_ottl_list_free(&p->span_c);
    otc_ottl_list_free(&p->event_c);
    memset(p, 0, sizeof(*p));
}

void ts_policies_free(struct ts_policies *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        policy_clear(&ps->v[i]);
    }
    free(ps->v);
    free(ps->leaf);
    if (ps->lock_ready) {
        pthread_mutex_destroy(&ps->lock);
        ps->lock_ready = false;
    }
    ps->v = NULL;
    ps->leaf = NULL;
    ps->n = ps->n_leaf = 0;
    ps->latency_mask = 0;
    ps->ottl_mask = 0;
}

static bool reads_spans(enum ts_type t)
{
    return t == TS_LATENCY || t == TS_NUMERIC || t == TS_STRING || t == TS_BOOLEAN || t == TS_STATUS ||
           t == TS_TRACE_STATE || t == TS_TRACE_FLAGS || t == TS_OTTL;
}

/* Give each policy that reads span contents, at any depth, its fact bit. */
static int assign_facts(struct ts_policies *ps, struct ts_policy *p)
{
    p->fact = -1;
    if (reads_spans(p->type)) {
        if (ps->n_leaf == TS_MAX_FACTS) {
            return OTC_ELIMIT;
        }
        p->fact = (int)ps->n_leaf;
        ps->leaf[ps->n_leaf++] = p;
        if (p->type == TS_LATENCY) {
            ps->latency_mask |= 1ull << p->fact;
        }
        if (p->type == TS_OTTL) {
            ps->ottl_mask |= 1ull << p->fact;
        }
    }
    for (size_t i = 0; i < p->n_subs; i++) {
        if (assign_facts(ps, &p->subs[i]) != OTC_OK) {
            return OTC_ELIMIT;
        }
    }
    return OTC_OK;
}

int ts_policies_parse(const struct otc_cfg_tree *t, struct ts_policies *out, char *err, size_t errlen)
{
    struct ts_parse ps = {.err = err, .errlen = errlen};
    struct ts_policy *tmp;
    size_t nd = 0, k = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!t || t->kind != OTC_TREE_SEQ || t->n == 0) {
        snprintf(err, errlen, "policies: at least one policy is required");
        return OTC_EINVAL;
    }
    if (!(tmp = calloc(t->n, sizeof(*tmp)))) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < t->n; i++) {
        const char *nm = scalar(otc_cfg_tree_get(&t->items[i], "name"));
        snprintf(ps.path, sizeof(ps.path), "policies[%zu]%s%s%s (line %u)", i, nm ? " \"" : "", nm ? nm : "",
                 nm ? "\"" : "", t->items[i].line);
        if ((rc = parse_policy(&ps, &t->items[i], &tmp[i], 0, true)) != OTC_OK) {
            out->v = tmp;
            out->n = i + 1;
            ts_policies_free(out);
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(tmp[j].name, tmp[i].name)) {
                out->v = tmp;
                out->n = i + 1;
                ts_policies_free(out);
                return fail(&ps, "name: duplicate policy name \"%s\"", nm ? nm : "");
            }
        }
        nd += tmp[i].type == TS_DROP;
    }
    /* drop policies first: a drop decides before any other is asked */
    if (!(out->v = calloc(t->n, sizeof(*out->v)))) {
        out->v = tmp;
        out->n = t->n;
        ts_policies_free(out);
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (tmp[i].type == TS_DROP) {
            out->v[k++] = tmp[i];
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        if (tmp[i].type != TS_DROP) {
            out->v[k++] = tmp[i];
        }
    }
    (void)nd;
    out->n = t->n;
    free(tmp);
    if (!(out->leaf = calloc(TS_MAX_FACTS, sizeof(*out->leaf)))) {
        ts_policies_free(out);
        return OTC_ENOMEM;
    }
    if (pthread_mutex_init(&out->lock, NULL) != 0) {
        ts_policies_free(out);
        return OTC_ENOMEM;
    }
    out->lock_ready = true;
    for (size_t i = 0; i < out->n; i++) {
        if (assign_facts(out, &out->v[i]) != OTC_OK) {
            ts_policies_free(out);
            snprintf(err, errlen, "policies: more than %d policies read span contents", TS_MAX_FACTS);
            return OTC_EINVAL;
        }
    }
    return OTC_OK;
}

const char *ts_policy_name(const struct ts_policies *p, size_t i)
{
    return i < p->n ? p->v[i].name : NULL;
}

/* ------------------------------------------------------------ facts */

bool ts_span_parse(const uint8_t *p, size_t len, struct ts_wire_span *sp)
{
    const uint8_t *q = p, *end = p + len;
    struct otc_pb_field f;
    int r;

    memset(sp, 0, sizeof(*sp));
    sp->p = p;
    sp->len = len;
    while ((r = otc_pb_next_field(&q, end, &f)) > 0) {
        switch (f.num) {
        case 1: /* trace_id */
            if (f.wt == 2) {
                sp->trace_id = f.p;
                sp->trace_id_len = f.len;
            }
            break;
        case 3: /* trace_state */
            if (f.wt == 2) {
                sp->trace_state = f.p;
                sp->trace_state_len = f.len;
            }
            break;
        case 4: /* parent_span_id */
            if (f.wt == 2) {
                sp->parent_len = f.len;
            }
            break;
        case 7:
            sp->start = f.wt == 1 ? f.v : sp->start;
            break;
        case 8:
            sp->end = f.wt == 1 ? f.v : sp->end;
            break;
        case 15: { /* status: code is field 3 */
            const uint8_t *s = f.p, *se = f.p + f.len;
            struct otc_pb_field g;
            if (f.wt != 2) {
                break;
            }
            while ((r = otc_pb_next_field(&s, se, &g)) > 0) {
                if (g.num == 3 && g.wt == 0) {
                    sp->status = (uint32_t)g.v;
                }
            }
            if (r < 0) {
                return false;
            }
            break;
        }
        case 16:
            sp->flags = f.wt == 5 ? (uint32_t)f.v : sp->flags;
            break;
        default:
            break;
        }
    }
    return r == 0;
}

void ts_scratch_free(struct ts_scratch *s)
{
    if (s->md) {
        pcre2_match_data_free(s->md);
        s->md = NULL;
    }
}

/* Does one attribute value match the policy (numeric, string, boolean)? */
static bool value_matches(const struct ts_policy *p, const struct otc_pb_any *v, struct ts_scratch *sc)
{
    switch (p->type) {
    case TS_NUMERIC: {
        /* otelcol reads the value as an int: any other type reads as 0 */
        int64_t x = v->kind == OTC_PB_ANY_INT ? (int64_t)v->v : 0;
        return x >= p->lo && x <= p->hi;
    }
    case TS_BOOLEAN:
        return (v->kind == OTC_PB_ANY_BOOL ? v->v != 0 : false) == p->bval;
    case TS_STRING: {
        /* and as a string: any other type reads as "" */
        const char *s = v->kind == OTC_PB_ANY_STRING && v->p ? (const char *)v->p : "";
        size_t len = v->kind == OTC_PB_ANY_STRING ? v->len : 0;
        for (size_t i = 0; i < p->n_values; i++) {
            if (p->re) {
                /* one ovector pair is enough: only whether it matches counts */
                if (!sc->md && !(sc->md = pcre2_match_data_create(1, NULL))) {
                    return false;
                }
                if (pcre2_match(p->re[i], (PCRE2_SPTR)s, len, 0, 0, sc->md, NULL) >= 0) {
                    return true;
                }
            } else if (len == p->value_lens[i] && !memcmp(s, p->values[i], len)) {
                return true;
            }
        }
        return false;
    }
    default:
        return false;
    }
}

static bool is_attr_policy(enum ts_type t)
{
    return t == TS_NUMERIC || t == TS_STRING || t == TS_BOOLEAN;
}

/* Facts of the attribute policies over the attributes (field `field`) of msg. */
static uint64_t attr_facts(const struct ts_policies *ps, const uint8_t *msg, size_t len, uint32_t field,
                           struct ts_scratch *sc)
{
    struct otc_pb_iter it;
    const uint8_t *kvp;
    size_t kvn;
    uint64_t facts = 0, want = 0;

    for (size_t i = 0; i < ps->n_leaf; i++) {
        if (is_attr_policy(ps->leaf[i]->type)) {
            want |= 1ull << i;
        }
    }
    if (!want) {
        return 0;
    }
    otc_pb_iter_init(&it, msg, len, field);
    while (otc_pb_iter_next(&it, &kvp, &kvn) > 0) {
        struct otc_pb_kv kv;
        struct otc_pb_any v;
        if (!otc_pb_kv_read(kvp, kvn, &kv) || !kv.key) {
            continue;
        }
        for (size_t i = 0; i < ps->n_leaf; i++) {
            const struct ts_policy *p = ps->leaf[i];
            if (!(want & (1ull << i)) || (facts & (1ull << i)) || strlen(p->key) != kv.key_len ||
                memcmp(p->key, kv.key, kv.key_len)) {
                continue;
            }
            if (!kv.value) {
                memset(&v, 0, sizeof(v)); /* a key without a value: an empty AnyValue */
            } else if (!otc_pb_any_read(kv.value, kv.value_len, &v)) {
                continue;
            }
            if (value_matches(p, &v, sc)) {
                facts |= 1ull << i;
            }
        }
    }
    return facts;
}

/* Is key=value (value in the list) a member of the W3C tracestate ts? */
static bool tracestate_has(const struct ts_policy *p, const char *ts, size_t n)
{
    size_t kl = strlen(p->key);
    const char *end = ts + n;

    while (ts && ts < end) {
        const char *comma = memchr(ts, ',', (size_t)(end - ts));
        size_t len = comma ? (size_t)(comma - ts) : (size_t)(end - ts);
        while (len && (*ts == ' ' || *ts == '\t')) {
            ts++;
            len--;
        }
        if (len > kl && !memcmp(ts, p->key, kl) && ts[kl] == '=') {
            const char *v = ts + kl + 1;
            size_t vl = len - kl - 1;
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) {
                vl--;
            }
            for (size_t i = 0; i < p->n_values; i++) {
                if (p->value_lens[i] == vl && !memcmp(p->values[i], v, vl)) {
                    return true;
                }
            }
        }
        ts = comma ? comma + 1 : NULL;
    }
    return false;
}

uint64_t ts_span_facts(const struct ts_policies *ps, const struct ts_wire_span *sp, struct ts_scratch *sc)
{
    uint64_t facts = attr_facts(ps, sp->p, sp->len, OTC_PB_SPAN_ATTRIBUTES, sc);

    for (size_t i = 0; i < ps->n_leaf; i++) {
        const struct ts_policy *p = ps->leaf[i];
        bool hit = false;
        switch (p->type) {
        case TS_STATUS:
            hit = sp->status < 3 && (p->status_mask & (1u << sp->status));
            break;
        case TS_TRACE_FLAGS: /* the W3C sampled flag, the low bit of a span's flags */
            hit = sp->flags & 0x01u;
            break;
        case TS_TRACE_STATE:
            hit = sp->trace_state && tracestate_has(p, (const char *)sp->trace_state, sp->trace_state_len);
            break;
        default:
            break;
        }
        if (hit) {
            facts |= 1ull << i;
        }
    }
    return facts;
}

uint64_t ts_resource_facts(const struct ts_policies *ps, const uint8_t *res, size_t len,
                           struct ts_scratch *sc)
{
    return res ? attr_facts(ps, res, len, OTC_PB_RESOURCE_ATTRIBUTES, sc) : 0;
}

/* Whether any condition of l is true in env; an evaluation error counts as
 * false and, with error_mode propagate, ends the policy's look at this span
 * (*stop). */
static bool ottl_any(const struct ts_policy *p, const struct otc_ottl_list *l, struct otc_ottl_env *env,
                     bool *stop)
{
    char why[128];

    for (size_t i = 0; i < l->n; i++) {
        const struct otc_ottl_entry *e = &l->v[i];
        int mode = e->error_mode >= 0 ? e->error_mode : p->error_mode;
        bool yes = false;
        if (otc_ottl_eval(e->o, env, &yes, why, sizeof(why)) != OTC_OK) {
            if (mode == OTC_OTTL_PROPAGATE) {
                *stop = true;
                return false;
            }
            continue;
        }
        if (yes) {
            return true;
        }
    }
    return false;
}

uint64_t ts_ottl_facts(const struct ts_policies *ps, const uint8_t *span, size_t len, const uint8_t *res,
                       size_t res_len, const uint8_t *scope, size_t scope_len)
{
    Opentelemetry__Proto__Resource__V1__Resource empty_res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    Opentelemetry__Proto__Common__V1__InstrumentationScope empty_scope =
        OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    struct otc_arena a;
    struct otc_ottl_env env = {.arena = &a};
    uint64_t facts = 0;

    if (!ps->ottl_mask) {
        return 0;
    }
    otc_arena_init(&a, len + res_len + scope_len + 1024);
    env.span = opentelemetry__proto__trace__v1__span__unpack(&a.pb, len, span);
    env.resource = res ? opentelemetry__proto__resource__v1__resource__unpack(&a.pb, res_len, res) : &empty_res;
    env.scope = scope ? opentelemetry__proto__common__v1__instrumentation_scope__unpack(&a.pb, scope_len, scope)
                      : &empty_scope;
    if (env.span && env.resource && env.scope) {
        for (uint64_t m = ps->ottl_mask; m; m &= m - 1) {
            int i = __builtin_ctzll(m);
            const struct ts_policy *p = ps->leaf[i];
            bool stop = false, hit = ottl_any(p, &p->span_c, &env, &stop);
            for (size_t k = 0; !hit && !stop && p->event_c.n && k < env.span->n_events; k++) {
                env.event = env.span->events[k];
                hit = ottl_any(p, &p->event_c, &env, &stop);
            }
            env.event = NULL;
            if (hit) {
                facts |= 1ull << i;
            }
        }
    }
    otc_arena_release(&a);
    return facts;
}

uint64_t ts_latency_facts(const struct ts_policies *ps, uint64_t start, uint64_t end)
{
    uint64_t facts = 0;
    /* Go's Duration.Milliseconds of the signed difference: truncated toward zero */
    int64_t ms = (int64_t)(end - start) / 1000000;

    for (uint64_t m = ps->latency_mask; m; m &= m - 1) {
        int i = __builtin_ctzll(m);
        const struct ts_policy *p = ps->leaf[i];
        if (p->hi == 0 ? ms >= p->lo : (p->lo < ms && ms <= p->hi)) {
            facts |= 1ull << i;
        }
    }
    return facts;
}

/* ------------------------------------------------------------ evaluation */

/* The one-second window a rate applies to (otelcol: the wall clock's second;
 * here the decision time's, so one timer run sees one window). */
static int64_t now_second(const struct ts_trace_view *t)
{
    return (int64_t)(t->now_ns / 1000000000u);
}

static enum ts_decision eval(struct ts_policy *p, const struct ts_trace_view *t);

static bool sampled(enum ts_decision d)
{
    return d == TS_SAMPLED || d == TS_INVERT_SAMPLED;
}

static enum ts_decision eval(struct ts_policy *p, const struct ts_trace_view *t)
{
    switch (p->type) {
    case TS_ALWAYS:
        return TS_SAMPLED;
    case TS_LATENCY:
    case TS_TRACE_FLAGS:
    case TS_STATUS:
    case TS_TRACE_STATE:
    case TS_OTTL:
        return t->facts & (1ull << p->fact) ? TS_SAMPLED : TS_NOT_SAMPLED;
    case TS_NUMERIC:
    case TS_STRING:
    case TS_BOOLEAN: {
        /* any resource or span matched; invert_match turns that into otelcol's
         * inverted decisions */
        bool hit = t->facts & (1ull << p->fact);
        if (p->invert) {
            return hit ? TS_INVERT_NOT_SAMPLED : TS_INVERT_SAMPLED;
        }
        return hit ? TS_SAMPLED : TS_NOT_SAMPLED;
    }
    case TS_PROBABILISTIC:
        return ts_fnv1a64(p->salt, strlen(p->salt), t->id) <= p->threshold ? TS_SAMPLED : TS_NOT_SAMPLED;
    case TS_RATE: {
        int64_t sec = now_second(t);
        if (sec != p->cur_sec) {
            p->cur_sec = sec;
            p->used = 0;
        }
        if (p->used + (int64_t)t->n <= p->per_sec) {
            p->used += (int64_t)t->n;
            return TS_SAMPLED;
        }
        return TS_NOT_SAMPLED;
    }
    case TS_BYTES: {
        if (p->last_ns) {
            p->tokens += (double)(t->now_ns - p->last_ns) * p->rate / 1e9;
            if (p->tokens > p->burst) {
                p->tokens = p->burst;
            }
        }
        p->last_ns = t->now_ns;
        if ((double)t->bytes <= p->tokens) {
            p->tokens -= (double)t->bytes;
            return TS_SAMPLED;
        }
        return TS_NOT_SAMPLED;
    }
    case TS_SPAN_COUNT:
        return (int64_t)t->n >= p->lo && (p->hi == 0 || (int64_t)t->n <= p->hi) ? TS_SAMPLED : TS_NOT_SAMPLED;
    case TS_AND:
        for (size_t i = 0; i < p->n_subs; i++) {
            enum ts_decision d = eval(&p->subs[i], t);
            if (d == TS_NOT_SAMPLED || d == TS_INVERT_NOT_SAMPLED) {
                return TS_NOT_SAMPLED;
            }
        }
        return TS_SAMPLED;
    case TS_DROP:
        for (size_t i = 0; i < p->n_subs; i++) {
            if (!sampled(eval(&p->subs[i], t))) {
                return TS_NOT_SAMPLED;
            }
        }
        return TS_DROPPED;
    case TS_NOT: {
        enum ts_decision d = eval(&p->subs[0], t);
        return d == TS_SAMPLED ? TS_NOT_SAMPLED : d == TS_NOT_SAMPLED ? TS_SAMPLED : d;
    }
    case TS_COMPOSITE: {
        int64_t sec = now_second(t), n = (int64_t)t->n;
        if (sec != p->cur_sec) {
            p->cur_sec = sec;
            p->used = 0;
            memset(p->sub_used, 0, p->n_subs * sizeof(*p->sub_used));
        }
        for (size_t i = 0; i < p->n_subs; i++) {
            if (sampled(eval(&p->subs[i], t)) && p->sub_used[i] + n <= p->sub_limit[i] &&
                p->used + n <= p->per_sec) {
                p->sub_used[i] += n;
                p->used += n;
                return TS_SAMPLED;
            }
        }
        return TS_NOT_SAMPLED;
    }
    }
    return TS_NOT_SAMPLED;
}

enum ts_decision ts_policies_decide(struct ts_policies *ps, const struct ts_trace_view *t, bool first_match)
{
    bool seen[TS_DROPPED + 1] = {false};

    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < ps->n; i++) {
        enum ts_decision d = eval(&ps->v[i], t);
        seen[d] = true;
        if (d == TS_DROPPED || (first_match && d == TS_SAMPLED)) {
            break;
        }
    }
    pthread_mutex_unlock(&ps->lock);
    if (seen[TS_DROPPED]) {
        return TS_DROPPED;
    }
    if (seen[TS_INVERT_NOT_SAMPLED]) {
        return TS_NOT_SAMPLED;
    }
    if (seen[TS_SAMPLED] || (seen[TS_INVERT_SAMPLED] && !seen[TS_NOT_SAMPLED])) {
        return TS_SAMPLED;
    }
    return TS_NOT_SAMPLED;
}
