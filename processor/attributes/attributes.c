/* attributes.c - the `attributes` processor: otelcol-contrib's attribute
 * actions on span attributes (traces), log record attributes (logs) and data
 * point attributes (metrics), for the items its include / exclude properties
 * select (strict or regexp matching, as otelcol's filterspan, filterlog and
 * filtermetric do for each signal). Config is checked and compiled on the
 * main thread; batches are processed on the pipeline worker thread: a
 * read-only pass over the decoded request first, so a request none of whose
 * items would change goes on with its received bytes. An undecoded request
 * that include / exclude leave nothing of (by metric names, or by the
 * resource and scope properties of spans and log records) is not decoded. */
/* SPDX-License-Identifier: Apache-2.0 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "otc/otc_attr_actions.h"
#include "otc/otc_pb_walk.h"
#include "attributes.h"

/* ------------------------------------------------------------ config */

struct at_attr_cfg { /* include.attributes[] and include.resources[] */
    char                *key;
    struct otc_cfg_value value;
};

struct at_lib_cfg { /* include.libraries[] */
    char                *name;
    struct otc_cfg_value version; /* absent or null: any version */
};

struct at_props_cfg { /* include or exclude */
    bool               present;
    char              *match_type;
    bool               regexp;
    bool               cache_enabled;
    int64_t            cache_max;
    struct otc_strlist services, span_names, span_kinds, log_bodies, log_severity_texts,
                       metric_names;
    bool               sev_present;
    char              *sev_min;
    bool               sev_undefined;
    struct otc_cfg_list attributes, resources, libraries;
};

enum { AT_INCLUDE, AT_EXCLUDE, AT_PROPS };

struct at_matcher;

struct attributes_ctx {
    struct otc_cfg_list      actions;
    struct at_props_cfg      props[AT_PROPS];
    struct otc_attr_actions *compiled;
    struct at_matcher       *match[OTC_SIGNAL_COUNT][AT_PROPS]; /* NULL: none */
};

#define A_OFF(f) offsetof(struct at_attr_cfg, f)
static const struct otc_config_entry at_attr_map[] = {
    {OTC_CFG_STR, "key", NULL, A_OFF(key), 0, 0, 0, NULL, "the attribute's key (required)"},
    {OTC_CFG_ANY, "value", NULL, A_OFF(value), 0, 0, 0, NULL,
     "the value it must have (strict: same type and value; regexp: a string pattern matched "
     "against the value as text); absent: the key must be there"},
    OTC_CFG_END,
};
static const struct otc_cfg_sub at_attr_sub = {at_attr_map, sizeof(struct at_attr_cfg)};

#define L_OFF(f) offsetof(struct at_lib_cfg, f)
static const struct otc_config_entry at_lib_map[] = {
    {OTC_CFG_STR, "name", NULL, L_OFF(name), 0, 0, 0, NULL, "instrumentation scope name"},
    {OTC_CFG_ANY, "version", NULL, L_OFF(version), 0, 0, 0, NULL,
     "instrumentation scope version; absent or null: any version (\"\": only an empty one)"},
    OTC_CFG_END,
};
static const struct otc_cfg_sub at_lib_sub = {at_lib_map, sizeof(struct at_lib_cfg)};

#define OFF(f) offsetof(struct attributes_ctx, f)
#define PROPS_ROWS(w, i)                                                                          \
    {OTC_CFG_SECTION, w, NULL, OFF(props[i].present), 0, 0, 0, NULL,                             \
     "the items the actions apply to (include) or not (exclude; checked after include)"},        \
    {OTC_CFG_STR, w ".match_type", NULL, OFF(props[i].match_type), 0, 0, 0, NULL,                 \
     "strict or regexp (required where a name or value is matched)"},                             \
    {OTC_CFG_SECTION, w ".regexp", NULL, OFF(props[i].regexp), 0, 0, 0, NULL,                     \
     "options of match_type regexp"},                                                             \
    {OTC_CFG_BOOL, w ".regexp.cacheenabled", "false", OFF(props[i].cache_enabled), 0, 0, 0, NULL, \
     "accepted, no effect: otelc does not cache match results (PCRE2 patterns are JIT-compiled)"},\
    {OTC_CFG_INT, w ".regexp.cachemaxnumentries", "0", OFF(props[i].cache_max), 0, 0, 0, NULL,    \
     "accepted, no effect (see cacheenabled)"},                                                   \
    {OTC_CFG_STRLIST, w ".services", NULL, OFF(props[i].services), 0, 0, 0, NULL,                 \
     "traces: the resource's service.name matches one of these"},                                 \
    {OTC_CFG_STRLIST, w ".span_names", NULL, OFF(props[i].span_names), 0, 0, 0, NULL,             \
     "traces: the span name matches one of these"},                                               \
    {OTC_CFG_STRLIST, w ".span_kinds", NULL, OFF(props[i].span_kinds), 0, 0, 0, NULL,             \
     "traces: the span kind (SPAN_KIND_SERVER, ...) matches one of these"},                       \
    {OTC_CFG_STRLIST, w ".log_bodies", NULL, OFF(props[i].log_bodies), 0, 0, 0, NULL,             \
     "logs: the body (as text) matches one of these"},                                            \
    {OTC_CFG_STRLIST, w ".log_severity_texts", NULL, OFF(props[i].log_severity_texts), 0, 0, 0,   \
     NULL, "logs: the severity text matches one of these"},                                       \
    {OTC_CFG_SECTION, w ".log_severity_number", NULL, OFF(props[i].sev_present), 0, 0, 0, NULL,   \
     "logs: match on the severity number"},                                                       \
    {OTC_CFG_STR, w ".log_severity_number.min", NULL, OFF(props[i].sev_min), 0, 0, 0, NULL,       \
     "lowest severity matched: a number (9) or a name (INFO, WARN2, ...)"},                       \
    {OTC_CFG_BOOL, w ".log_severity_number.match_undefined", "false",                             \
     OFF(props[i].sev_undefined), 0, 0, 0, NULL, "records without a severity number match"},      \
    {OTC_CFG_STRLIST, w ".metric_names", NULL, OFF(props[i].metric_names), 0, 0, 0, NULL,         \
     "metrics: the metric name matches one of these (the only property otelcol matches "          \
     "metrics on; without it the section selects every metric)"},                                 \
    {OTC_CFG_LIST, w ".attributes", NULL, OFF(props[i].attributes), 0, 0, 0,                      \
     OTC_CFG_SUB(&at_attr_sub), "traces, logs: every one of these attributes matches"},           \
    {OTC_CFG_LIST, w ".resources", NULL, OFF(props[i].resources), 0, 0, 0,                        \
     OTC_CFG_SUB(&at_attr_sub), "traces, logs: every one of these resource attributes matches"},  \
    {OTC_CFG_LIST, w ".libraries", NULL, OFF(props[i].libraries), 0, 0, 0,                        \
     OTC_CFG_SUB(&at_lib_sub), "traces, logs: the instrumentation scope matches every entry"}

static const struct otc_config_entry attributes_config[] = {
    {OTC_CFG_LIST, "actions", NULL, OFF(actions), 0, 0, 0, OTC_CFG_SUB(&otc_attr_action_sub),
     "the actions, applied in order to each selected item's attributes (required)"},
    PROPS_ROWS("include", AT_INCLUDE),
    PROPS_ROWS("exclude", AT_EXCLUDE),
    OTC_CFG_END,
};

static const char *const props_names[AT_PROPS] = {"include", "exclude"};

/* ------------------------------------------------------------ matchers */

/* One filterset: strict strings or regexes, any of which matches. */
struct at_set {
    size_t       n;
    char       **strs;
    pcre2_code **res;
};

struct at_attr {
    char          *key;
    otc_any_value *value; /* strict: the value, or NULL (presence only) */
    pcre2_code    *re;    /* regexp: the pattern, or NULL (presence only) */
};

struct at_lib {
    struct at_set name, version;
    bool          any_version;
};

struct at_matcher {
    struct at_set     services, names, kinds, bodies, sev_texts;
    bool              sev, sev_undefined;
    int64_t           sev_min;
    struct at_attr   *attrs, *res;
    size_t            n_attrs, n_res;
    struct at_lib    *libs;
    size_t            n_libs;
};

static void at_set_free(struct at_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->strs) {
            free(s->strs[i]);
        }
        if (s->res) {
            pcre2_code_free(s->res[i]);
        }
    }
    free(s->strs);
    free(s->res);
    memset(s, 0, sizeof(*s));
}

static void at_attrs_free(struct at_attr *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        otc_any_free(v[i].value);
        pcre2_code_free(v[i].re);
    }
    free(v);
}

static void at_matcher_free(struct at_matcher *m)
{
    if (!m) {
        return;
    }
    at_set_free(&m->services);
    at_set_free(&m->names);
    at_set_free(&m->kinds);
    at_set_free(&m->bodies);
    at_set_free(&m->sev_texts);
    at_attrs_free(m->attrs, m->n_attrs);
    at_attrs_free(m->res, m->n_res);
    for (size_t i = 0; i < m->n_libs; i++) {
        at_set_free(&m->libs[i].name);
        at_set_free(&m->libs[i].version);
    }
    free(m->libs);
    free(m);
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return OTC_EINVAL; } while (0)

static int at_match_type(const struct at_props_cfg *p, const char *where, bool *regexp, char *err,
                         size_t errlen)
{
    const char *t = p->match_type ? p->match_type : "";

    if (!strcmp(t, "strict") || !strcmp(t, "regexp")) {
        *regexp = t[0] == 'r';
        return OTC_OK;
    }
    FAIL("%s.match_type: unrecognized match_type: '%s', valid types are: [regexp strict]", where,
         t);
}

static int at_regex(const char *pat, const char *where, pcre2_code **out, char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE off;
    PCRE2_UCHAR msg[160];

    *out = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off, NULL);
    if (!*out) {
        pcre2_get_error_message(code, msg, sizeof(msg));
        FAIL("%s: invalid regular expression \"%s\": %s at offset %zu", where, pat,
             (const char *)msg, (size_t)off);
    }
    (void)pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);
    return OTC_OK;
}

/* A filterset of n patterns (otelcol's CreateFilterSet: duplicates once). */
static int at_set_make(const struct at_props_cfg *p, const char *w, const char *where,
                       char *const *v, size_t n, struct at_set *s, char *err, size_t errlen)
{
    bool regexp;

    if (at_match_type(p, w, &regexp, err, errlen) != OTC_OK) {
        return OTC_EINVAL;
    }
    s->strs = calloc(n ? n : 1, sizeof(*s->strs));
    s->res = regexp ? calloc(n ? n : 1, sizeof(*s->res)) : NULL;
    if (!s->strs || (regexp && !s->res)) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        char at[96];
        bool dup = false;

        for (size_t j = 0; j < s->n && !dup; j++) {
            dup = !strcmp(s->strs[j], v[i]);
        }
        if (dup) {
            continue;
        }
        if (!(s->strs[s->n] = strdup(v[i]))) {
            return OTC_ENOMEM;
        }
        s->n++;
        snprintf(at, sizeof(at), "%s[%zu]", where, i);
        if (regexp && at_regex(v[i], at, &s->res[s->n - 1], err, errlen) != OTC_OK) {
            return OTC_EINVAL;
        }
    }
    return OTC_OK;
}

static bool at_set_match(const struct at_set *s, const char *str, size_t len)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->res ? otc_regex_match(s->res[i], str, len)
                   : strlen(s->strs[i]) == len && !memcmp(s->strs[i], str, len)) {
            return true;
        }
    }
    return false;
}

/* otelcol's NewAttributesMatcher. */
static int at_attrs_make(const struct at_props_cfg *p, const char *w, const char *where,
                         const struct otc_cfg_list *l, struct at_attr **out, size_t *n_out,
                         char *err, size_t errlen)
{
    const struct at_attr_cfg *c = l->v;
    struct at_attr *v = calloc(l->n ? l->n : 1, sizeof(*v));

    *out = v;
    *n_out = 0;
    if (!v) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++) {
        char at[96];
        bool regexp;

        snprintf(at, sizeof(at), "%s[%zu]", where, i);
        if (!c[i].key || !*c[i].key) {
            FAIL("%s.key: can't have empty key in the list of attributes", at);
        }
        *n_out = i + 1; /* freed with the others from here on */
        if (!(v[i].key = strdup(c[i].key))) {
            return OTC_ENOMEM;
        }
        if (c[i].value.kind == OTC_VAL_NONE) {
            continue;
        }
        if (at_match_type(p, w, &regexp, err, errlen) != OTC_OK) {
            return OTC_EINVAL;
        }
        if (regexp) {
            static const char *const kinds[] = {"Empty", "Str", "Int", "Double", "Bool",
                                                "Slice", "Map"};
            char at_value[112];
            if (c[i].value.kind != OTC_VAL_STR) {
                FAIL("%s.value: match_type=regexp for \"%s\" only supports Str, but found %s", at,
                     c[i].key, kinds[c[i].value.kind]);
            }
            snprintf(at_value, sizeof(at_value), "%s.value", at);
            if (at_regex(c[i].value.s, at_value, &v[i].re, err, errlen) != OTC_OK) {
                return OTC_EINVAL;
            }
        } else if (!(v[i].value = otc_any_from_cfg(&c[i].value))) {
            return OTC_ENOMEM;
        }
    }
    return OTC_OK;
}

/* otelcol's SeverityNumber names (plog), or a number. */
static int at_severity(const char *s, int64_t *out)
{
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    char *end;
    long v = strtol(s, &end, 10);

    if (*s && !*end) {
        *out = v;
        return v >= 0 && v <= 24 ? OTC_OK : OTC_EINVAL;
    }
    for (int i = 0; i < 6; i++) {
        size_t n = strlen(names[i]);
        if (!strncasecmp(s, names[i], n) && (!s[n] || (s[n] >= '2' && s[n] <= '4' && !s[n + 1]))) {
            *out = 1 + 4 * i + (s[n] ? s[n] - '1' : 0);
            return OTC_OK;
        }
    }
    return OTC_EINVAL;
}

static bool at_span_kind_ok(const char *k)
{
    static const char *const kinds[] = {"SPAN_KIND_CLIENT", "SPAN_KIND_CONSUMER",
                                        "SPAN_KIND_INTERNAL", "SPAN_KIND_PRODUCER",
                                        "SPAN_KIND_SERVER"};
    for (int i = 0; i < 5; i++) {
        if (!strcmp(k, kinds[i])) {
            return true;
        }
    }
    return false;
}

/* The matcher of one include / exclude section for signal s, with otelcol's
 * checks for that signal (ValidateForSpans, ValidateForLogs, filtermetric).
 * *out stays NULL where the section selects everything (metrics without
 * metric_names). */
static int at_matcher_make(const struct at_props_cfg *p, const char *w, enum otc_signal s,
                           struct at_matcher **out, char *err, size_t errlen)
{
    struct at_matcher *m;
    char at[64];
    int rc;

    *out = NULL;
    if (s == OTC_METRICS) {
        if (!p->metric_names.n) {
            return OTC_OK;
        }
    } else if (s == OTC_TRACES) {
        if (p->log_bodies.n) {
            FAIL("%s.log_bodies: log_bodies should not be specified for trace spans", w);
        }
        if (p->log_severity_texts.n) {
            FAIL("%s.log_severity_texts: log_severity_texts should not be specified for trace "
                 "spans", w);
        }
        if (p->sev_present) {
            FAIL("%s.log_severity_number: log_severity_number should not be specified for trace "
                 "spans", w);
        }
        if (!p->services.n && !p->span_names.n && !p->attributes.n && !p->libraries.n &&
            !p->resources.n && !p->span_kinds.n) {
            FAIL("%s: at least one of \"services\", \"span_names\", \"span_kinds\", "
                 "\"attributes\", \"libraries\" or \"resources\" must be specified for spans", w);
        }
        if (p->span_kinds.n && p->match_type && !strcmp(p->match_type, "strict")) {
            for (size_t i = 0; i < p->span_kinds.n; i++) {
                if (!at_span_kind_ok(p->span_kinds.v[i])) {
                    FAIL("%s.span_kinds[%zu]: span_kinds string must match one of the standard "
                         "span kinds when match_type=strict: [SPAN_KIND_CLIENT SPAN_KIND_CONSUMER "
                         "SPAN_KIND_INTERNAL SPAN_KIND_PRODUCER SPAN_KIND_SERVER]", w, i);
                }
            }
        }
    } else {
        const char *bad = p->span_names.n ? "span_names" : p->services.n ? "services"
                          : p->span_kinds.n ? "span_kinds" : NULL;
        if (bad) {
            FAIL("%s.%s: services, span_names, and span_kinds are not valid for log records", w,
                 bad);
        }
        if (!p->attributes.n && !p->libraries.n && !p->resources.n && !p->log_bodies.n &&
            !p->log_severity_texts.n && !p->sev_present) {
            FAIL("%s: at least one of \"attributes\", \"libraries\", \"resources\", "
                 "\"log_bodies\", \"log_severity_texts\" or \"log_severity_number\" must be "
                 "specified for log records", w);
        }
    }
    if (!(m = calloc(1, sizeof(*m)))) {
        return OTC_ENOMEM;
    }
    *out = m;
#define SET(field, list, name)                                                          \
    if (p->list.n) {                                                                    \
        snprintf(at, sizeof(at), "%s." name, w);                                        \
        if ((rc = at_set_make(p, w, at, p->list.v, p->list.n, &m->field, err, errlen))) { \
            return rc;                                                                  \
        }                                                                               \
    }
    if (s == OTC_METRICS) {
        SET(names, metric_names, "metric_names");
        return OTC_OK;
    }
    if (s == OTC_TRACES) {
        SET(services, services, "services");
        SET(names, span_names, "span_names");
        SET(kinds, span_kinds, "span_kinds");
    } else {
        SET(bodies, log_bodies, "log_bodies");
        SET(sev_texts, log_severity_texts, "log_severity_texts");
        if (p->sev_present) {
            m->sev = true;
            m->sev_undefined = p->sev_undefined;
            if (p->sev_min && at_severity(p->sev_min, &m->sev_min) != OTC_OK) {
                FAIL("%s.log_severity_number.min: '%s' is not a severity number (0-24) or name "
                     "(TRACE ... FATAL4)", w, p->sev_min);
            }
        }
    }
#undef SET
    if (p->libraries.n) {
        const struct at_lib_cfg *c = p->libraries.v;
        if (!(m->libs = calloc(p->libraries.n, sizeof(*m->libs)))) {
            return OTC_ENOMEM;
        }
        for (size_t i = 0; i < p->libraries.n; i++, m->n_libs++) {
            char *name = c[i].name ? c[i].name : "";
            snprintf(at, sizeof(at), "%s.libraries[%zu].name", w, i);
            if ((rc = at_set_make(p, w, at, &name, 1, &m->libs[i].name, err, errlen))) {
                m->n_libs++;
                return rc;
            }
            m->libs[i].any_version = c[i].version.kind == OTC_VAL_NONE;
            if (!m->libs[i].any_version) {
                /* a version written as a number is its text, as mapstructure reads it */
                otc_any_value *v = otc_any_from_cfg(&c[i].version);
                char buf[64], *text;
                const char *vs = "";
                size_t vlen = 0;

                if (!v) {
                    m->n_libs++;
                    return OTC_ENOMEM;
                }
                otc_any_match_text(v, buf, sizeof(buf), &vs, &vlen);
                text = strndup(vs, vlen);
                otc_any_free(v);
                if (!text) {
                    m->n_libs++;
                    return OTC_ENOMEM;
                }
                snprintf(at, sizeof(at), "%s.libraries[%zu].version", w, i);
                rc = at_set_make(p, w, at, &text, 1, &m->libs[i].version, err, errlen);
                free(text);
                if (rc) {
                    m->n_libs++;
                    return rc;
                }
            }
        }
    }
    snprintf(at, sizeof(at), "%s.attributes", w);
    if (p->attributes.n &&
        (rc = at_attrs_make(p, w, at, &p->attributes, &m->attrs, &m->n_attrs, err, errlen))) {
        return rc;
    }
    snprintf(at, sizeof(at), "%s.resources", w);
    if (p->resources.n &&
        (rc = at_attrs_make(p, w, at, &p->resources, &m->res, &m->n_res, err, errlen))) {
        return rc;
    }
    return OTC_OK;
}

/* ------------------------------------------------------------ matching */

static const otc_key_value *at_get(otc_key_value *const *kvs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (kvs[i]->key && !strcmp(kvs[i]->key, key)) {
            return kvs[i];
        }
    }
    return NULL;
}

/* otelcol's AttributesMatcher.Match: every entry matches (none: true). */
static bool at_attrs_match(const struct at_matcher *m, const struct at_attr *v, size_t nv,
                           otc_key_value *const *kvs, size_t n)
{
    if (!nv) {
        return true;
    }
    if (!n) {
        return false;
    }
    for (size_t i = 0; i < nv; i++) {
        const otc_key_value *kv = at_get(kvs, n, v[i].key);
        char buf[64];
        const char *s;
        size_t len;

        if (!kv) {
            return false;
        }
        if (v[i].re) {
            if (!otc_any_match_text(kv->value, buf, sizeof(buf), &s, &len) ||
                !otc_regex_match(v[i].re, s, len)) {
                return false;
            }
        } else if (v[i].value && !otc_any_equal(v[i].value, kv->value)) {
            return false;
        }
    }
    return true;
}

typedef Opentelemetry__Proto__Resource__V1__Resource           at_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope at_scope;

/* otelcol's PropertiesMatcher.Match: libraries, resources, then attributes. */
static bool at_props_match(const struct at_matcher *m, otc_key_value *const *kvs, size_t n,
                           const at_resource *r, const at_scope *sc)
{
    const char *name = sc && sc->name ? sc->name : "";
    const char *version = sc && sc->version ? sc->version : "";

    for (size_t i = 0; i < m->n_libs; i++) {
        if (!at_set_match(&m->libs[i].name, name, strlen(name)) ||
            (!m->libs[i].any_version &&
             !at_set_match(&m->libs[i].version, version, strlen(version)))) {
            return false;
        }
    }
    if (m->n_res && !at_attrs_match(m, m->res, m->n_res, r ? r->attributes : NULL,
                                    r ? r->n_attributes : 0)) {
        return false;
    }
    return at_attrs_match(m, m->attrs, m->n_attrs, kvs, n);
}

static const char *const span_kind_names[] = {
    "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",      "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER",
};

static bool at_span_match(const struct at_matcher *m, const otc_span *sp, const at_resource *r,
                          const at_scope *sc)
{
    if (m->services.n) {
        const otc_key_value *kv = r ? at_get(r->attributes, r->n_attributes, "service.name") : NULL;
        char buf[64];
        const char *s = "<nil-service-name>";
        size_t len = strlen(s);

        if (kv && !otc_any_match_text(kv->value, buf, sizeof(buf), &s, &len)) {
            s = "";
            len = 0;
        }
        if (!at_set_match(&m->services, s, len)) {
            return false;
        }
    }
    if (m->names.n && !at_set_match(&m->names, sp->name, strlen(sp->name))) {
        return false;
    }
    if (m->kinds.n) {
        const char *k = (unsigned)sp->kind < 6 ? span_kind_names[sp->kind] : "";
        if (!at_set_match(&m->kinds, k, strlen(k))) {
            return false;
        }
    }
    return at_props_match(m, sp->attributes, sp->n_attributes, r, sc);
}

static bool at_log_match(const struct at_matcher *m, const otc_log_record *lr,
                         const at_resource *r, const at_scope *sc)
{
    if (m->bodies.n) {
        char buf[64];
        const char *s = "";
        size_t len = 0;

        if (lr->body) {
            otc_any_match_text(lr->body, buf, sizeof(buf), &s, &len);
        }
        if (!at_set_match(&m->bodies, s, len)) {
            return false;
        }
    }
    if (m->sev_texts.n &&
        !at_set_match(&m->sev_texts, lr->severity_text, strlen(lr->severity_text))) {
        return false;
    }
    if (m->sev && (lr->severity_number == 0 ? !m->sev_undefined
                                            : (int64_t)lr->severity_number < m->sev_min)) {
        return false;
    }
    return at_props_match(m, lr->attributes, lr->n_attributes, r, sc);
}

/* ------------------------------------------------------------ component */

static void at_matchers_free(struct attributes_ctx *c)
{
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        for (int p = 0; p < AT_PROPS; p++) {
            at_matcher_free(c->match[s][p]);
            c->match[s][p] = NULL;
        }
    }
}

static void attributes_destroy(void *vctx)
{
    struct attributes_ctx *c = vctx;

    otc_attr_actions_free(c->compiled);
    c->compiled = NULL;
    at_matchers_free(c);
}

static int attributes_validate(const void *vctx, char *err, size_t errlen)
{
    const struct attributes_ctx *c = vctx;
    struct otc_attr_actions *a;
    int rc;

    if (!c->actions.n) {
        FAIL("actions: missing required field \"actions\"");
    }
    rc = otc_attr_actions_compile(&c->actions, "actions", &a, err, errlen);
    otc_attr_actions_free(a);
    return rc;
}

/* Both sections for signal s into out[]. */
static int at_compile_signal(const struct attributes_ctx *c, enum otc_signal s,
                             struct at_matcher **out, char *err, size_t errlen)
{
    for (int p = 0; p < AT_PROPS; p++) {
        int rc;
        out[p] = NULL;
        if (!c->props[p].present) {
            continue;
        }
        if ((rc = at_matcher_make(&c->props[p], props_names[p], s, &out[p], err, errlen))) {
            if (rc == OTC_ENOMEM) {
                snprintf(err, errlen, "out of memory");
            }
            for (int q = 0; q <= p; q++) {
                at_matcher_free(out[q]);
                out[q] = NULL;
            }
            return rc;
        }
    }
    return OTC_OK;
}

static int attributes_validate_signal(const void *vctx, enum otc_signal s, char *err,
                                      size_t errlen)
{
    struct at_matcher *m[AT_PROPS];
    int rc = at_compile_signal(vctx, s, m, err, errlen);

    if (rc == OTC_OK) {
        for (int p = 0; p < AT_PROPS; p++) {
            at_matcher_free(m[p]);
        }
    }
    return rc;
}

/* Options a signal does not read (otelcol accepts and ignores them), logged once. */
static void at_warn_unused(struct otc_instance *ins, const struct attributes_ctx *c,
                           enum otc_signal s)
{
    for (int p = 0; p < AT_PROPS; p++) {
        const struct at_props_cfg *pc = &c->props[p];
        const char *unused = NULL;
        if (!pc->present) {
            continue;
        }
        if (s == OTC_METRICS) {
            unused = pc->services.n ? "services" : pc->span_names.n ? "span_names"
                     : pc->span_kinds.n ? "span_kinds" : pc->attributes.n ? "attributes"
                     : pc->resources.n ? "resources" : pc->libraries.n ? "libraries"
                     : pc->log_bodies.n ? "log_bodies" : pc->log_severity_texts.n
                     ? "log_severity_texts" : pc->sev_present ? "log_severity_number" : NULL;
            if (!pc->metric_names.n) {
                otc_log_warn(ins, "%s: no metric_names: as in otelcol, the section selects every "
                             "metric", props_names[p]);
            }
        } else if (pc->metric_names.n) {
            unused = "metric_names";
        }
        if (unused) {
            otc_log_warn(ins, "%s.%s has no effect on %s (as in otelcol)", props_names[p], unused,
                         otc_signal_name(s));
        }
    }
}

static int attributes_init(struct otc_instance *ins, void *vctx)
{
    struct attributes_ctx *c = vctx;
    char err[256];
    int rc = otc_attr_actions_compile(&c->actions, "actions", &c->compiled, err, sizeof(err));

    for (int s = 0; rc == OTC_OK && s < OTC_SIGNAL_COUNT; s++) {
        if (ins->signals && !(ins->signals & OTC_SIG_BIT(s))) {
            continue;
        }
        rc = at_compile_signal(c, (enum otc_signal)s, c->match[s], err, sizeof(err));
        if (rc == OTC_OK) {
            at_warn_unused(ins, c, (enum otc_signal)s);
        }
    }
    if (rc != OTC_OK) {
        otc_log_err(ins, "%s", err);
        attributes_destroy(c);
    }
    return rc;
}

/* One pass over a decoded request. arena NULL: read-only, stops at the first
 * item the actions would change (the walk returns 1). */
struct at_pass {
    struct attributes_ctx *c;
    struct at_matcher     *inc, *exc;
    struct otc_arena      *arena;
    const at_resource     *res;
    const at_scope        *scope;
    const otc_metric      *metric; /* the metric whose points are selected, or NULL */
    int                    rc;
};

static int at_resource_cb(void *arg, const struct otc_msg_head *h)
{
    ((struct at_pass *)arg)->res = (const at_resource *)h->msg;
    return 0;
}

static int at_scope_cb(void *arg, const struct otc_msg_head *h)
{
    ((struct at_pass *)arg)->scope = (const at_scope *)h->msg;
    return 0;
}

/* Run the actions on one attribute set: 1 stops the walk. */
static int at_act(struct at_pass *p, otc_key_value ***kvs, size_t *n)
{
    if (!p->arena) {
        return otc_attr_actions_would_change(p->c->compiled, *kvs, *n) ? 1 : 0;
    }
    if (otc_attr_actions_apply(p->c->compiled, p->arena, kvs, n) != OTC_OK) {
        p->rc = OTC_ENOMEM;
        return 1;
    }
    return 0;
}

static int at_span_cb(void *arg, ProtobufCMessage *item)
{
    struct at_pass *p = arg;
    otc_span *sp = (otc_span *)item;

    if ((p->inc && !at_span_match(p->inc, sp, p->res, p->scope)) ||
        (p->exc && at_span_match(p->exc, sp, p->res, p->scope))) {
        return 0;
    }
    return at_act(p, &sp->attributes, &sp->n_attributes);
}

static int at_log_cb(void *arg, ProtobufCMessage *item)
{
    struct at_pass *p = arg;
    otc_log_record *lr = (otc_log_record *)item;

    if ((p->inc && !at_log_match(p->inc, lr, p->res, p->scope)) ||
        (p->exc && at_log_match(p->exc, lr, p->res, p->scope))) {
        return 0;
    }
    return at_act(p, &lr->attributes, &lr->n_attributes);
}

static int at_metric_cb(void *arg, ProtobufCMessage *item)
{
    struct at_pass *p = arg;
    const otc_metric *m = (const otc_metric *)item;
    size_t len = strlen(m->name);
    bool skip = (p->inc && !at_set_match(&p->inc->names, m->name, len)) ||
                (p->exc && at_set_match(&p->exc->names, m->name, len));

    p->metric = skip ? NULL : m;
    return 0;
}

static int at_point_cb(void *arg, const otc_metric *m, ProtobufCMessage *pt)
{
    struct at_pass *p = arg;

    if (p->metric != m) {
        return 0;
    }
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: {
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint *d = (void *)pt;
        return at_act(p, &d->attributes, &d->n_attributes);
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: {
        Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *d = (void *)pt;
        return at_act(p, &d->attributes, &d->n_attributes);
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM: {
        Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *d = (void *)pt;
        return at_act(p, &d->attributes, &d->n_attributes);
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY: {
        Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *d = (void *)pt;
        return at_act(p, &d->attributes, &d->n_attributes);
    }
    default:
        return 0;
    }
}

static int at_walk(struct at_pass *p, enum otc_signal s, const ProtobufCMessage *req)
{
    struct otc_msg_visitor v = {.resource = at_resource_cb, .scope = at_scope_cb, .arg = p};

    if (s == OTC_TRACES) {
        v.item = at_span_cb;
    } else if (s == OTC_LOGS) {
        v.item = at_log_cb;
    } else {
        v.item = at_metric_cb;
        v.point = at_point_cb;
    }
    return otc_msg_walk(s, req, &v, NULL);
}

/* ------------------------------------------------ undecoded requests */

/* Whether a section's matcher has properties of the resource or scope alone
 * (services, resources, libraries): then an item whose resource or scope
 * fails them fails the section, whatever the item is. */
static bool at_has_head_props(const struct at_matcher *m)
{
    return m && (m->services.n || m->n_res || m->n_libs);
}

/* The head properties of m for a resource and scope (the item's own are
 * left to the decoded pass). */
static bool at_head_match(const struct at_matcher *m, const at_resource *r, const at_scope *sc)
{
    static otc_span none = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    struct at_matcher head = *m;

    /* the item's own properties are taken as matching */
    memset(&head.names, 0, sizeof(head.names));
    memset(&head.kinds, 0, sizeof(head.kinds));
    memset(&head.bodies, 0, sizeof(head.bodies));
    memset(&head.sev_texts, 0, sizeof(head.sev_texts));
    head.sev = false;
    head.n_attrs = 0;
    return at_span_match(&head, &none, r, sc);
}

struct at_wire {
    const struct at_matcher *inc, *exc;
    struct otc_arena        *tmp;
    at_resource             *res;
    at_scope                *scope;
    bool                     selected; /* the current scope's items may be selected */
};

#define AT_WIRE_SELECTED 1
#define AT_WIRE_UNKNOWN  2

static int at_wire_resource(void *arg, const struct otc_pb_head *h)
{
    struct at_wire *w = arg;

    w->res = NULL;
    if (h->msg && !(w->res = opentelemetry__proto__resource__v1__resource__unpack(
                        &w->tmp->pb, h->msg_len, h->msg))) {
        return AT_WIRE_UNKNOWN;
    }
    return 0;
}

static int at_wire_scope(void *arg, const struct otc_pb_head *h)
{
    struct at_wire *w = arg;

    w->scope = NULL;
    if (h->msg && !(w->scope = opentelemetry__proto__common__v1__instrumentation_scope__unpack(
                        &w->tmp->pb, h->msg_len, h->msg))) {
        return AT_WIRE_UNKNOWN;
    }
    w->selected = at_head_match(w->inc, w->res, w->scope);
    return 0;
}

static int at_wire_item(void *arg, const uint8_t *p, size_t len)
{
    (void)p;
    (void)len;
    return ((struct at_wire *)arg)->selected ? AT_WIRE_SELECTED : 0;
}

static int at_wire_point(void *arg, const struct otc_pb_metric *m, const uint8_t *p, size_t len)
{
    const struct at_wire *w = arg;
    const char *name = m->name ? (const char *)m->name : "";
    size_t n = m->name ? m->name_len : 0;

    (void)p;
    (void)len;
    if ((w->inc && !at_set_match(&w->inc->names, name, n)) ||
        (w->exc && at_set_match(&w->exc->names, name, n))) {
        return 0;
    }
    return AT_WIRE_SELECTED;
}

/* True when include / exclude surely select no item of the undecoded b. */
static bool at_wire_none(const struct attributes_ctx *c, const struct otc_batch *b)
{
    enum otc_signal s = b->signal;
    struct at_wire w = {.inc = c->match[s][AT_INCLUDE], .exc = c->match[s][AT_EXCLUDE]};
    struct otc_pb_visitor v = {.arg = &w, .heads = true};
    struct otc_arena tmp;
    int r;

    if (s == OTC_METRICS) {
        if (!w.inc && !w.exc) {
            return false;
        }
        v.point = at_wire_point;
    } else {
        if (!at_has_head_props(w.inc)) {
            return false;
        }
        v.resource = at_wire_resource;
        v.scope = at_wire_scope;
        v.item = at_wire_item;
    }
    otc_arena_init(&tmp, 4096);
    w.tmp = &tmp;
    r = otc_pb_walk(b->raw, b->raw_len, &v, NULL);
    otc_arena_release(&tmp);
    return r == OTC_OK;
}

/* ------------------------------------------------------------- consume */

static int attributes_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct attributes_ctx *c = vctx;
    enum otc_signal s = b->signal;
    struct at_pass p = {.c = c, .inc = c->match[s][AT_INCLUDE], .exc = c->match[s][AT_EXCLUDE]};
    size_t items = b->items;
    const ProtobufCMessage *msg;
    ProtobufCMessage *mut;

    if (c->compiled && !otc_batch_is_decoded(b) && at_wire_none(c, b)) {
        return otc_next(ins, b); /* nothing selected: not even decoded */
    }
    if (!c->compiled || !(msg = otc_batch_msg(b)) || at_walk(&p, s, msg) != 1) {
        return otc_next(ins, b); /* nothing would change (or undecodable: as it came) */
    }
    b = otc_batch_writable(b);
    if (!b || !(mut = otc_batch_msg_mut(b))) {
        otc_batch_unref(b);
        atomic_fetch_add(&ins->counters.dropped[s], items);
        return OTC_ENOMEM;
    }
    p.arena = &b->arena;
    at_walk(&p, s, mut);
    if (p.rc != OTC_OK) {
        otc_batch_unref(b);
        atomic_fetch_add(&ins->counters.dropped[s], items);
        return p.rc;
    }
    return otc_next(ins, b);
}

const struct otc_component_ops otc_processor_attributes_ops = {
    .type = "attributes",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = true,
    .concurrent = true, /* compiled once, read-only; match data is per thread */
    .ctx_size = sizeof(struct attributes_ctx),
    .config_map = attributes_config,
    .validate = attributes_validate,
    .init = attributes_init,
    .start = NULL,
    .consume = attributes_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = attributes_destroy,
    .validate_signal = attributes_validate_signal,
};
