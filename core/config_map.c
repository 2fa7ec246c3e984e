/* config_map.c - applies declarative option tables (otc_config_entry) to a
 * component context: defaults, typed scalar setters, range checks, freeing.
 * Runs on the main thread while the config is loaded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "otc/otc_config_map.h"
#include "otc/otc_rc.h"

#define FIELD(ctx, e, type) ((type *)((char *)(ctx) + (e)->offset))

int otc_parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        *out = true;
        return OTC_OK;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        *out = false;
        return OTC_OK;
    }
    return OTC_EINVAL;
}

int otc_parse_int(const char *s, int64_t *out)
{
    char *end;
    long long v;
    char plain[64];

    /* YAML 1.1 digit separators, as otelcol's YAML reads them: 100_000 */
    if (strchr(s, '_') && strlen(s) < sizeof(plain)) {
        size_t n = 0;
        for (const char *p = s; *p; p++) {
            if (*p != '_') {
                plain[n++] = *p;
            } else if (p == s || !isxdigit((unsigned char)p[-1]) || !isxdigit((unsigned char)p[1])) {
                return OTC_EINVAL;
            }
        }
        plain[n] = '\0';
        s = plain;
    }
    errno = 0;
    v = strtoll(s, &end, 0);
    if (errno || end == s || *end != '\0') {
        return OTC_EINVAL;
    }
    *out = v;
    return OTC_OK;
}

int otc_parse_double(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v)) {
        return OTC_EINVAL;
    }
    *out = v;
    return OTC_OK;
}

/* Accepts a plain byte count or a number with a unit: k/kb/kib, m/mb/mib, g/gb/gib
 * (binary multiples, as otelcol's sizes are). */
int otc_parse_size(const char *s, uint64_t *out)
{
    char *end;
    double v;
    uint64_t mul = 1;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0) {
        return OTC_EINVAL;
    }
    while (*end == ' ') {
        end++;
    }
    if (*end) {
        if (!strcasecmp(end, "b")) {
            mul = 1;
        } else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb") || !strcasecmp(end, "kib")) {
            mul = 1024ull;
        } else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb") || !strcasecmp(end, "mib")) {
            mul = 1024ull * 1024;
        } else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb") || !strcasecmp(end, "gib")) {
            mul = 1024ull * 1024 * 1024;
        } else {
            return OTC_EINVAL;
        }
    }
    if (v * (double)mul > 9.0e18) {
        return OTC_EINVAL;
    }
    *out = (uint64_t)llround(v * (double)mul);
    return OTC_OK;
}

/* Go-style durations as otelcol writes them: "200ms", "5s", "1m30s", "1h", "0". */
int otc_parse_duration(const char *s, int64_t *out_ns)
{
    static const struct { const char *unit; double ns; } units[] = {
        {"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
    };
    double total = 0;
    const char *p = s;

    if (!strcmp(s, "0")) {
        *out_ns = 0;
        return OTC_OK;
    }
    if (!*p) {
        return OTC_EINVAL;
    }
    while (*p) {
        char *end;
        double v;
        size_t best = 0;
        int found = -1;

        errno = 0;
        v = strtod(p, &end);
        if (errno || end == p || !isfinite(v) || v < 0 || *end == '+' || *end == '-') {
            return OTC_EINVAL;
        }
        p = end;
        for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t n = strlen(units[i].unit);
            if (!strncmp(p, units[i].unit, n) && n > best) {
                best = n;
                found = (int)i;
            }
        }
        if (found < 0) {
            return OTC_EINVAL; /* a number without a unit */
        }
        total += v * units[found].ns;
        p += best;
    }
    if (!isfinite(total) || total > 9.0e18) {
        return OTC_EINVAL;
    }
    *out_ns = llround(total); /* "4.1s" is 4100000000 ns, not one less */
    return OTC_OK;
}

/* A duration option's value as otelcol decodes it into a time.Duration: a
 * Go duration string, or a bare integer, which is a number of nanoseconds
 * (confmap's mapstructure sets the int64 as it is: `flush_interval: 5` is 5ns). */
int otc_parse_duration_value(const char *s, int64_t *out_ns)
{
    const char *p = s + (*s == '+');
    char *end;
    long long v;

    if (*p >= '0' && *p <= '9' && strspn(p, "0123456789") == strlen(p)) {
        errno = 0;
        v = strtoll(p, &end, 10);
        if (errno || *end) {
            return OTC_EINVAL;
        }
        *out_ns = v;
        return OTC_OK;
    }
    return otc_parse_duration(s, out_ns);
}

static int check_range(const struct otc_config_entry *e, double v, char *err, size_t errlen)
{
    if ((e->flags & OTC_CFG_F_MIN) && v < e->min) {
        snprintf(err, errlen, "value must be >= %g", e->min);
        return OTC_EINVAL;
    }
    if ((e->flags & OTC_CFG_F_MAX) && v > e->max) {
        snprintf(err, errlen, "value must be <= %g", e->max);
        return OTC_EINVAL;
    }
    return OTC_OK;
}

int otc_config_map_set(const struct otc_config_entry *e, void *ctx, const char *text,
                       char *err, size_t errlen)
{
    switch (e->type) {
    case OTC_CFG_BOOL:
        if (otc_parse_bool(text, FIELD(ctx, e, bool)) != OTC_OK) {
            snprintf(err, errlen, "expected true or false, got '%s'", text);
            return OTC_EINVAL;
        }
        return OTC_OK;
    case OTC_CFG_INT: {
        int64_t v;
        if (otc_parse_int(text, &v) != OTC_OK) {
            snprintf(err, errlen, "expected an integer, got '%s'", text);
            return OTC_EINVAL;
        }
        if (check_range(e, (double)v, err, errlen) != OTC_OK) {
            return OTC_EINVAL;
        }
        *FIELD(ctx, e, int64_t) = v;
        return OTC_OK;
    }
    case OTC_CFG_DOUBLE: {
        double v;
        if (otc_parse_double(text, &v) != OTC_OK) {
            snprintf(err, errlen, "expected a number, got '%s'", text);
            return OTC_EINVAL;
        }
        if (check_range(e, v, err, errlen) != OTC_OK) {
            return OTC_EINVAL;
        }
        *FIELD(ctx, e, double) = v;
        return OTC_OK;
    }
    case OTC_CFG_SIZE: {
        uint64_t v;
        if (otc_parse_size(text, &v) != OTC_OK) {
            snprintf(err, errlen, "expected a size such as 512, 64KiB or 4MiB, got '%s'", text);
            return OTC_EINVAL;
        }
        if (check_range(e, (double)v, err, errlen) != OTC_OK) {
            return OTC_EINVAL;
        }
        *FIELD(ctx, e, uint64_t) = v;
        return OTC_OK;
    }
    case OTC_CFG_DURATION: {
        int64_t v;
        if (otc_parse_duration_value(text, &v) != OTC_OK) {
            snprintf(err, errlen, "expected a duration such as 200ms, 5s or 1m (or an integer of "
                     "nanoseconds), got '%s'", text);
            return OTC_EINVAL;
        }
        if (check_range(e, (double)v / 1e9, err, errlen) != OTC_OK) {
            return OTC_EINVAL;
        }
        *FIELD(ctx, e, int64_t) = v;
        return OTC_OK;
    }
    case OTC_CFG_STR: {
        char **slot = FIELD(ctx, e, char *);
        char *copy = strdup(text);
        if (!copy) {
            snprintf(err, errlen, "out of memory");
            return OTC_ENOMEM;
        }
        free(*slot);
        *slot = copy;
        return OTC_OK;
    }
    case OTC_CFG_ENUM:
        for (int i = 0; e->choices && e->choices[i]; i++) {
            if ((e->flags & OTC_CFG_F_ICASE) ? !strcasecmp(text, e->choices[i])
                                             : !strcmp(text, e->choices[i])) {
                *FIELD(ctx, e, int) = i;
                return OTC_OK;
            }
        }
        {
            size_t used = (size_t)snprintf(err, errlen, "'%s' is not one of:", text);
            for (int i = 0; e->choices && e->choices[i] && used < errlen; i++) {
                used += (size_t)snprintf(err + used, errlen - used, " %s", e->choices[i]);
            }
        }
        return OTC_EINVAL;
    case OTC_CFG_SECTION:
        *FIELD(ctx, e, bool) = true;
        return OTC_OK;
    case OTC_CFG_STRMAP:
    case OTC_CFG_STRLIST:
        snprintf(err, errlen, "expected a %s, got a scalar",
                 e->type == OTC_CFG_STRMAP ? "mapping" : "sequence");
        return OTC_EINVAL;
    case OTC_CFG_LIST:
        snprintf(err, errlen, "expected a sequence of mappings, got a scalar");
        return OTC_EINVAL;
    case OTC_CFG_ANY: {
        struct otc_cfg_value *v = FIELD(ctx, e, struct otc_cfg_value);
        otc_cfg_value_free(v);
        if (otc_cfg_value_scalar(v, text, false) != OTC_OK) {
            snprintf(err, errlen, "out of memory");
            return OTC_ENOMEM;
        }
        return OTC_OK;
    }
    case OTC_CFG_NODE:
    case OTC_CFG_TREE:
        break; /* only the YAML walk (config.c) sets a node or a tree */
    }
    snprintf(err, errlen, "unsupported option type");
    return OTC_EINVAL;
}

int otc_config_map_defaults(const struct otc_config_entry *map, void *ctx)
{
    char err[256];

    for (const struct otc_config_entry *e = map; e && e->key; e++) {
        if (e->def && e->type != OTC_CFG_SECTION && e->type != OTC_CFG_TREE &&
            otc_config_map_set(e, ctx, e->def, err, sizeof(err)) != OTC_OK) {
            fprintf(stderr, "otelc: bad default for option %s: %s\n", e->key, err);
            return OTC_EINVAL;
        }
    }
    return OTC_OK;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

void otc_config_map_free(const struct otc_config_entry *map, void *ctx)
{
    for (const struct otc_config_entry *e = map; e && e->key; e++) {
        if (e->type == OTC_CFG_LIST) {
            struct otc_cfg_list *l = FIELD(ctx, e, struct otc_cfg_list);
            for (size_t i = 0; i < l->n; i++) {
                otc_config_map_free(otc_cfg_sub_of(e)->map, (char *)l->v + i * otc_cfg_sub_of(e)->size);
            }
            free(l->v);
            memset(l, 0, sizeof(*l));
        } else if (e->type == OTC_CFG_ANY) {
            otc_cfg_value_free(FIELD(ctx, e, struct otc_cfg_value));
        } else if (e->type == OTC_CFG_STR) {
            char **slot = FIELD(ctx, e, char *);
            free(*slot);
            *slot = NULL;
        } else if (e->type == OTC_CFG_STRMAP) {
            otc_strmap_free(FIELD(ctx, e, struct otc_strmap));
        } else if (e->type == OTC_CFG_STRLIST) {
            struct otc_strlist *l = FIELD(ctx, e, struct otc_strlist);
            free_strv(l->v, l->n);
            memset(l, 0, sizeof(*l));
        } else if (e->type == OTC_CFG_TREE) {
            struct otc_cfg_tree **slot = FIELD(ctx, e, struct otc_cfg_tree *);
            otc_cfg_tree_free(*slot);
            *slot = NULL;
        }
    }
}

const struct otc_config_entry *otc_config_map_find(const struct otc_config_entry *map,
                                                   const char *key)
{
    for (const struct otc_config_entry *e = map; e && e->key; e++) {
        if (!strcmp(e->key, key)) {
            return e;
        }
    }
    return NULL;
}

bool otc_config_map_is_section(const struct otc_config_entry *map, const char *key)
{
    size_t n = strlen(key);

    for (const struct otc_config_entry *e = map; e && e->key; e++) {
        if (!strncmp(e->key, key, n) && e->key[n] == '.') {
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------ string maps */

int otc_strmap_put(struct otc_strmap *m, const char *k, const char *v)
{
    char **keys, **vals;
    char *kd, *vd;

    for (size_t i = 0; i < m->n; i++) {
        if (!strcmp(m->keys[i], k)) {
            if (!(vd = strdup(v))) {
                return OTC_ENOMEM;
            }
            free(m->vals[i]);
            m->vals[i] = vd;
            return OTC_OK;
        }
    }
    keys = realloc(m->keys, (m->n + 1) * sizeof(*keys));
    if (keys) {
        m->keys = keys;
    }
    vals = realloc(m->vals, (m->n + 1) * sizeof(*vals));
    if (vals) {
        m->vals = vals;
    }
    kd = strdup(k);
    vd = strdup(v);
    if (!keys || !vals || !kd || !vd) {
        free(kd);
        free(vd);
        return OTC_ENOMEM;
    }
    m->keys[m->n] = kd;
    m->vals[m->n++] = vd;
    return OTC_OK;
}

void otc_strmap_del(struct otc_strmap *m, const char *k)
{
    for (size_t i = 0; i < m->n; i++) {
        if (!strcmp(m->keys[i], k)) {
            free(m->keys[i]);
            free(m->vals[i]);
            memmove(&m->keys[i], &m->keys[i + 1], (m->n - i - 1) * sizeof(*m->keys));
            memmove(&m->vals[i], &m->vals[i + 1], (m->n - i - 1) * sizeof(*m->vals));
            m->n--;
            return;
        }
    }
}

void otc_strmap_free(struct otc_strmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->vals[i]);
    }
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}


/* ------------------------------------------------------------ typed values */

/* YAML 1.2 core schema floats as Go's YAML decoder reads them. */
static bool yaml_float(const char *s, double *out)
{
    const char *p = s;
    bool digits = false;

    if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF") || !strcmp(s, "+.inf") ||
        !strcmp(s, "+.Inf") || !strcmp(s, "+.INF")) {
        *out = INFINITY;
        return true;
    }
    if (!strcmp(s, "-.inf") || !strcmp(s, "-.Inf") || !strcmp(s, "-.INF")) {
        *out = -INFINITY;
        return true;
    }
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) {
        *out = NAN;
        return true;
    }
    if (*p == '-' || *p == '+') {
        p++;
    }
    while (isdigit((unsigned char)*p)) {
        p++;
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            digits = true;
        }
    }
    if (!digits) {
        return false;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') {
            p++;
        }
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
        while (isdigit((unsigned char)*p)) {
            p++;
        }
    }
    if (*p) {
        return false;
    }
    *out = strtod(s, NULL);
    return true;
}

/* Go's strconv.ParseInt(s, 0, 64): sign, then 0x / 0o / 0b / 0 (octal) or decimal. */
static bool yaml_int(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    int base = 10;
    unsigned long long v = 0;

    if (*p == '-' || *p == '+') {
        neg = *p++ == '-';
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
        base = 8;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        base = 2;
        p += 2;
    } else if (p[0] == '0' && p[1]) {
        base = 8;
        p++;
    }
    if (!*p) {
        return false;
    }
    for (; *p; p++) {
        int d = isdigit((unsigned char)*p) ? *p - '0'
                : isxdigit((unsigned char)*p) ? tolower((unsigned char)*p) - 'a' + 10 : 99;
        if (d >= base || v > (ULLONG_MAX - (unsigned)d) / (unsigned)base) {
            return false;
        }
        v = v * (unsigned)base + (unsigned)d;
    }
    if (neg ? v > (unsigned long long)INT64_MAX + 1 : v > (unsigned long long)INT64_MAX) {
        return false;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

int otc_cfg_value_scalar(struct otc_cfg_value *v, const char *s, bool quoted)
{
    memset(v, 0, sizeof(*v));
    if (!quoted) {
        if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
            !strcmp(s, "NULL")) {
            return OTC_OK; /* OTC_VAL_NONE */
        }
        if (otc_parse_bool(s, &v->b) == OTC_OK) {
            v->kind = OTC_VAL_BOOL;
            return OTC_OK;
        }
        if (yaml_int(s, &v->i)) {
            v->kind = OTC_VAL_INT;
            return OTC_OK;
        }
        if (yaml_float(s, &v->d)) {
            v->kind = OTC_VAL_DOUBLE;
            return OTC_OK;
        }
    }
    if (!(v->s = strdup(s))) {
        return OTC_ENOMEM;
    }
    v->kind = OTC_VAL_STR;
    return OTC_OK;
}

void otc_cfg_value_free(struct otc_cfg_value *v)
{
    for (size_t i = 0; v->items && i < v->n; i++) {
        otc_cfg_value_free(&v->items[i]);
        if (v->keys) {
            free(v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
    free(v->s);
    memset(v, 0, sizeof(*v));
}

static void cfg_tree_clear(struct otc_cfg_tree *t)
{
    for (size_t i = 0; i < t->n; i++) {
        cfg_tree_clear(&t->items[i]);
    }
    free(t->items);
    free(t->key);
    free(t->scalar);
}

void otc_cfg_tree_free(struct otc_cfg_tree *t)
{
    if (t) {
        cfg_tree_clear(t);
        free(t);
    }
}

const struct otc_cfg_tree *otc_cfg_tree_get(const struct otc_cfg_tree *t, const char *key)
{
    if (!t || t->kind != OTC_TREE_MAP) {
        return NULL;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i].key && !strcmp(t->items[i].key, key)) {
            return &t->items[i];
        }
    }
    return NULL;
}
