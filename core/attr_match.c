/* attr_match.c - otelcol-contrib's match properties (filterconfig
 * MatchProperties as filterspan, filterlog and filtermetric read them): the
 * include / exclude sections of the attributes processor and of the filter
 * processor's older form. Checked and compiled on the main thread; matching
 * runs on the pipeline workers (read-only; regex match data per thread). */
/* SPDX-License-Identifier: Apache-2.0 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "otc/otc_attr_actions.h"
#include "otc/otc_attr_match.h"
#include "otc/otc_rc.h"

#define A_OFF(f) offsetof(struct otc_match_attr_cfg, f)
static const struct otc_config_entry at_attr_map[] = {
    {OTC_CFG_STR, "key", NULL, A_OFF(key), 0, 0, 0, NULL, "the attribute's key (required)"},
    {OTC_CFG_ANY, "value", NULL, A_OFF(value), 0, 0, 0, NULL,
     "the value it must have (strict: same type and value; regexp: a string pattern matched "
     "against the value as text); absent: the key must be there"},
    OTC_CFG_END,
};
const struct otc_cfg_sub otc_match_attr_sub = {at_attr_map, sizeof(struct otc_match_attr_cfg)};

#define L_OFF(f) offsetof(struct otc_match_lib_cfg, f)
static const struct otc_config_entry at_lib_map[] = {
    {OTC_CFG_STR, "name", NULL, L_OFF(name), 0, 0, 0, NULL, "instrumentation scope name"},
    {OTC_CFG_ANY, "version", NULL, L_OFF(version), 0, 0, 0, NULL,
     "instrumentation scope version; absent or null: any version (\"\": only an empty one)"},
    OTC_CFG_END,
};
const struct otc_cfg_sub otc_match_lib_sub = {at_lib_map, sizeof(struct otc_match_lib_cfg)};

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

struct otc_matcher {
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

void otc_matcher_free(struct otc_matcher *m)
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

static int at_match_type(const struct otc_match_props *p, const char *where, bool *regexp, char *err,
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
static int at_set_make(const struct otc_match_props *p, const char *w, const char *where,
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
static int at_attrs_make(const struct otc_match_props *p, const char *w, const char *where,
                         const struct otc_cfg_list *l, struct at_attr **out, size_t *n_out,
                         char *err, size_t errlen)
{
    const struct otc_match_attr_cfg *c = l->v;
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
int otc_match_severity(const char *s, int64_t *out)
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
static int at_matcher_make(const struct otc_match_props *p, const char *w, enum otc_signal s,
                           struct otc_matcher **out, char *err, size_t errlen)
{
    struct otc_matcher *m;
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
            if (p->sev_min && otc_match_severity(p->sev_min, &m->sev_min) != OTC_OK) {
                FAIL("%s.log_severity_number.min: '%s' is not a severity number (0-24) or name "
                     "(TRACE ... FATAL4)", w, p->sev_min);
            }
        }
    }
#undef SET
    if (p->libraries.n) {
        const struct otc_match_lib_cfg *c = p->libraries.v;
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
static bool at_attrs_match(const struct otc_matcher *m, const struct at_attr *v, size_t nv,
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


/* otelcol's PropertiesMatcher.Match: libraries, resources, then attributes. */
static bool at_props_match(const struct otc_matcher *m, otc_key_value *const *kvs, size_t n,
                           const otc_match_resource *r, const otc_match_scope *sc)
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

bool otc_match_span(const struct otc_matcher *m, const otc_span *sp, const otc_match_resource *r,
                          const otc_match_scope *sc)
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

bool otc_match_log(const struct otc_matcher *m, const otc_log_record *lr,
                         const otc_match_resource *r, const otc_match_scope *sc)
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

/* ------------------------------------------------ undecoded requests */

/* Whether a section's matcher has properties of the resource or scope alone
 * (services, resources, libraries): then an item whose resource or scope
 * fails them fails the section, whatever the item is. */
bool otc_matcher_has_head_props(const struct otc_matcher *m)
{
    return m && (m->services.n || m->n_res || m->n_libs);
}

/* The head properties of m for a resource and scope (the item's own are
 * left to the decoded pass). */
bool otc_match_head(const struct otc_matcher *m, const otc_match_resource *r, const otc_match_scope *sc)
{
    static otc_span none = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    struct otc_matcher head = *m;

    /* the item's own properties are taken as matching */
    memset(&head.names, 0, sizeof(head.names));
    memset(&head.kinds, 0, sizeof(head.kinds));
    memset(&head.bodies, 0, sizeof(head.bodies));
    memset(&head.sev_texts, 0, sizeof(head.sev_texts));
    head.sev = false;
    head.n_attrs = 0;
    return otc_match_span(&head, &none, r, sc);
}

int otc_matcher_make(const struct otc_match_props *p, const char *w, enum otc_signal s,
                     struct otc_matcher **out, char *err, size_t errlen)
{
    int rc = at_matcher_make(p, w, s, out, err, errlen);

    if (rc != OTC_OK) {
        if (rc == OTC_ENOMEM) {
            snprintf(err, errlen, "out of memory");
        }
        otc_matcher_free(*out);
        *out = NULL;
    }
    return rc;
}

bool otc_match_metric_name(const struct otc_matcher *m, const char *name, size_t len)
{
    return m && at_set_match(&m->names, name, len);
}

bool otc_match_resource_attrs(const struct otc_matcher *m, const otc_match_resource *r)
{
    return at_attrs_match(m, m->res, m->n_res, r ? r->attributes : NULL, r ? r->n_attributes : 0);
}

int otc_matcher_make_resource(const struct otc_match_props *p, const char *w,
                              const struct otc_cfg_list *attrs, struct otc_matcher **out,
                              char *err, size_t errlen)
{
    struct otc_matcher *m;
    char at[64];
    int rc;

    *out = NULL;
    if (!attrs->n) {
        return OTC_OK;
    }
    if (!(m = calloc(1, sizeof(*m)))) {
        return OTC_ENOMEM;
    }
    *out = m;
    snprintf(at, sizeof(at), "%s.resource_attributes", w);
    if ((rc = at_attrs_make(p, w, at, attrs, &m->res, &m->n_res, err, errlen)) != OTC_OK) {
        otc_matcher_free(m);
        *out = NULL;
    }
    return rc;
}
