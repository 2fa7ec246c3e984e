/* attr_actions.c - otelcol's attribute actions (insert, update, upsert,
 * delete, hash, extract, convert) compiled from their option list on the main
 * thread and applied to decoded attribute sets by the attributes and resource
 * processors on their pipeline's worker thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "any_value.h"
#include "otc/otc_attr_actions.h"
#include "otc/otc_rc.h"

#define ANY(c) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c

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
    uint32_t           groups; /* most capture groups of a pattern */
    EVP_MD            *sha256; /* fetched once: hash actions */
};

/* ------------------------------------------------------------ per thread */

/* What applying needs that cannot be shared between the threads applying the
 * same actions: regex match data and a digest context. Made on first use,
 * freed when the thread ends. */
struct aa_tls {
    pcre2_match_data *md;
    EVP_MD_CTX       *sha;
};

static pthread_key_t  aa_key;
static pthread_once_t aa_once = PTHREAD_ONCE_INIT;
static bool           aa_key_ok;

static void aa_tls_free(void *p)
{
    struct aa_tls *t = p;

    pcre2_match_data_free(t->md);
    EVP_MD_CTX_free(t->sha);
    free(t);
}

static void aa_key_make(void)
{
    aa_key_ok = pthread_key_create(&aa_key, aa_tls_free) == 0;
}

static struct aa_tls *aa_tls(void)
{
    struct aa_tls *t;

    pthread_once(&aa_once, aa_key_make);
    if (!aa_key_ok) {
        return NULL;
    }
    if (!(t = pthread_getspecific(aa_key)) && (t = calloc(1, sizeof(*t)))) {
        if (pthread_setspecific(aa_key, t) != 0) {
            free(t);
            t = NULL;
        }
    }
    return t;
}

/* This thread's match data, with room for pairs ovector pairs; NULL on ENOMEM. */
static pcre2_match_data *aa_md(uint32_t pairs)
{
    struct aa_tls *t = aa_tls();

    if (!t) {
        return NULL;
    }
    if (pairs < 16) {
        pairs = 16;
    }
    if (t->md && pcre2_get_ovector_count(t->md) < pairs) {
        pcre2_match_data_free(t->md);
        t->md = NULL;
    }
    if (!t->md) {
        t->md = pcre2_match_data_create(pairs, NULL);
    }
    return t->md;
}

static EVP_MD_CTX *aa_sha_ctx(void)
{
    struct aa_tls *t = aa_tls();

    if (t && !t->sha) {
        t->sha = EVP_MD_CTX_new();
    }
    return t ? t->sha : NULL;
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
    EVP_MD_free(a->sha256);
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
        if (c->default_value.kind != OTC_VAL_NONE &&
            !(x->def = otc_any_from_cfg(&c->default_value))) {
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
        if (a->v[i].kind == AA_HASH && !a->sha256 &&
            !(a->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL))) {
            otc_attr_actions_free(a);
            snprintf(err, errlen, "cannot set up SHA-256 (OpenSSL)");
            return OTC_ENOMEM;
        }
        if (a->v[i].n_groups + 1 > a->groups) {
            a->groups = a->v[i].n_groups + 1;
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

/* A JIT-compiled pattern runs through the JIT's own entry (which skips the
 * interpreter's option and UTF checks: OTLP strings are valid UTF-8 once
 * received); one the JIT could not compile runs in the interpreter. */
static int aa_exec(const pcre2_code *re, const char *s, size_t len, pcre2_match_data *md)
{
    if (!md) {
        return PCRE2_ERROR_NOMEMORY;
    }

    size_t jit = 0;

    pcre2_pattern_info(re, PCRE2_INFO_JITSIZE, &jit);
    return jit ? pcre2_jit_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL)
               : pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
}

static bool aa_re_match(struct otc_attr_actions *a, const pcre2_code *re, const char *s)
{
    return aa_exec(re, s, strlen(s), aa_md(a->groups)) >= 0;
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

    if (i >= 0 && otc_any_equal(s->v[i]->value, src)) {
        return 0;
    }
    if (!s->arena) {
        return 1;
    }
    if (!(c = otc_any_copy(s->arena, src))) {
        return OTC_ENOMEM;
    }
    if (i >= 0) {
        s->v[i]->value = c;
        return 1;
    }
    return aa_append(s, key, c) == OTC_OK ? 1 : OTC_ENOMEM;
}

static int aa_hash(struct otc_attr_actions *a, struct aa_set *s, size_t i)
{
    otc_any_value *v = s->v[i]->value, *h;
    unsigned char md[SHA256_DIGEST_LENGTH], buf[8];
    static const char digits[] = "0123456789abcdef";
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
    if (len && !s->arena) {
        return 1; /* a dry run: no value is its own SHA-256 */
    }
    if (len) { /* otelcol leaves an empty string (and other types) as "" */
        unsigned int mdlen = 0;
        EVP_MD_CTX *ctx = aa_sha_ctx();
        if (!ctx || !EVP_DigestInit_ex2(ctx, a->sha256, NULL) || !EVP_DigestUpdate(ctx, in, len) ||
            !EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != SHA256_DIGEST_LENGTH) {
            return OTC_ENOMEM;
        }
        for (int b = 0; b < SHA256_DIGEST_LENGTH; b++) {
            hex[2 * b] = digits[md[b] >> 4];
            hex[2 * b + 1] = digits[md[b] & 15];
        }
        hex[2 * SHA256_DIGEST_LENGTH] = '\0';
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
        if ((r = aa_hash(a, s, i)) < 0) {
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
    pcre2_match_data *md;
    PCRE2_SIZE *ov;
    int rc, changed = 0;

    if (i < 0 || !s->v[i]->value || s->v[i]->value->value_case != ANY(STRING_VALUE)) {
        return 0;
    }
    subject = s->v[i]->value->string_value;
    md = aa_md(a->groups);
    rc = aa_exec(x->re, subject, strlen(subject), md);
    if (rc < 0) {
        return 0;
    }
    ov = pcre2_get_ovector_pointer(md);
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
        char *t = otc_any_as_string(s->v[i]->value);
        if (!t) {
            return OTC_ENOMEM;
        }
        v->string_value = otc_arena_memdup(s->arena, t, strlen(t) + 1);
        free(t);
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
                r = aa_hash(a, s, (size_t)i);
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

bool otc_regex_match(const struct pcre2_real_code_8 *re, const char *s, size_t len)
{
    return aa_exec((const pcre2_code *)re, s, len, aa_md(1)) >= 0;
}
