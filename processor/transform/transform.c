/* transform.c - the `transform` processor: accepts otelcol's transform processor
 * configuration (trace_statements, metric_statements, log_statements in the flat
 * form, or grouped under a `context`) for the two OTTL statements used to bound
 * attributes,
 * truncate_all(<context>.attributes, N) and limit(<context>.attributes, N, [keys]),
 * and rejects every other statement at load time. Statements are parsed on the
 * main thread; batches are processed on the pipeline worker thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_attr_limits.h"
#include "transform.h"

#define STMT_QUOTE 60 /* characters of a statement quoted in an error */

enum tf_fn { TF_TRUNCATE_ALL, TF_LIMIT };

struct tf_stmt {
    enum tf_fn         fn;
    enum otc_attr_ctx  ctx;
    size_t             n;      /* truncate_all: bytes; limit: attributes */
    char             **keep;   /* limit: priority keys */
    size_t             n_keep;
};

struct tf_list {
    struct tf_stmt *v;
    size_t          n;
};

struct transform_ctx {
    int                error_mode;
    struct otc_strlist statements[OTC_SIGNAL_COUNT]; /* trace_, metric_, log_statements */
    struct tf_list     compiled[OTC_SIGNAL_COUNT];
};

static const char *const error_modes[] = {"propagate", "ignore", "silent", NULL};
static const char *const list_names[OTC_SIGNAL_COUNT] = {
    "trace_statements", "metric_statements", "log_statements",
};

#define OFF(f) offsetof(struct transform_ctx, f)

static const struct otc_config_entry transform_config[] = {
    {OTC_CFG_ENUM, "error_mode", "propagate", OFF(error_mode), 0, 0, 0, error_modes,
     "otelcol's error_mode; the accepted statements cannot fail at run time"},
    {OTC_CFG_STRLIST, "trace_statements", NULL, OFF(statements[OTC_TRACES]),  OTC_CFG_F_OTTL, 0, 0, NULL,
     "OTTL statements on traces: truncate_all(<ctx>.attributes, N) or limit(<ctx>.attributes, N, "
     "[keys]) with ctx resource, scope, span or spanevent; or groups {context: <ctx>, "
     "statements: [...]} where a bare `attributes` is the group context's"},
    {OTC_CFG_STRLIST, "metric_statements", NULL, OFF(statements[OTC_METRICS]),  OTC_CFG_F_OTTL, 0, 0, NULL,
     "OTTL statements on metrics, as trace_statements, with ctx resource, scope or datapoint"},
    {OTC_CFG_STRLIST, "log_statements", NULL, OFF(statements[OTC_LOGS]),  OTC_CFG_F_OTTL, 0, 0, NULL,
     "OTTL statements on logs, as trace_statements, with ctx resource, scope or log"},
    OTC_CFG_END,
};

/* ------------------------------------------------------------ parsing */

struct tf_parser {
    const char *group;  /* the statement group's context ("span"), or NULL (flat form) */
    const char *text;
    const char *p;
    const char *list;  /* list name, for messages */
    size_t      index; /* statement index in the list */
    char       *err;
    size_t      errlen;
};

static int tf_fail(struct tf_parser *ps, const char *what)
{
    size_t len = strlen(ps->text);

    snprintf(ps->err, ps->errlen, "%s[%zu]: \"%.*s%s\": %s at character %zu of the statement", ps->list, ps->index,
             STMT_QUOTE, ps->text, len > STMT_QUOTE ? "..." : "", what,
             (size_t)(ps->p - ps->text) + 1);
    return OTC_EINVAL;
}

/* fname: the function called, when one was read */
static int tf_unsupported(struct tf_parser *ps, const char *fname)
{
    size_t len = strlen(ps->text);
    char fn[80] = "";

    if (fname && *fname) {
        snprintf(fn, sizeof(fn), "function %s() is not supported: ", fname);
    }
    snprintf(ps->err, ps->errlen,
             "%s[%zu]: unsupported OTTL statement \"%.*s%s\" (%sotelc supports only "
             "truncate_all(<ctx>.attributes, N) and limit(<ctx>.attributes, N, [keys]))",
             ps->list, ps->index, STMT_QUOTE, ps->text, len > STMT_QUOTE ? "..." : "", fn);
    return OTC_EINVAL;
}

static void tf_ws(struct tf_parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') {
        ps->p++;
    }
}

/* An identifier into buf (truncated to n-1 characters); its length, 0 if none. */
static size_t tf_ident(struct tf_parser *ps, char *buf, size_t n)
{
    size_t len = 0;

    if (!isalpha((unsigned char)*ps->p) && *ps->p != '_') {
        return 0;
    }
    while (isalnum((unsigned char)*ps->p) || *ps->p == '_') {
        if (len + 1 < n) {
            buf[len] = *ps->p;
        }
        len++;
        ps->p++;
    }
    buf[len < n ? len : n - 1] = '\0';
    return len;
}

static bool tf_accept(struct tf_parser *ps, char c)
{
    tf_ws(ps);
    if (*ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

/* Which attribute set a context name denotes for a signal's statements. */
static int tf_context(const char *name, enum otc_signal s, enum otc_attr_ctx *out)
{
    if (!strcmp(name, "resource")) {
        *out = OTC_ACTX_RESOURCE;
    } else if (!strcmp(name, "scope") || !strcmp(name, "instrumentation_scope")) {
        *out = OTC_ACTX_SCOPE;
    } else if (s == OTC_TRACES && !strcmp(name, "span")) {
        *out = OTC_ACTX_SPAN;
    } else if (s == OTC_TRACES && !strcmp(name, "spanevent")) {
        *out = OTC_ACTX_SPANEVENT;
    } else if (s == OTC_METRICS && !strcmp(name, "datapoint")) {
        *out = OTC_ACTX_DATAPOINT;
    } else if (s == OTC_LOGS && !strcmp(name, "log")) {
        *out = OTC_ACTX_LOG;
    } else {
        return OTC_EINVAL;
    }
    return OTC_OK;
}

static const char *const ctx_hint[OTC_SIGNAL_COUNT] = {
    "resource, scope, span or spanevent", "resource, scope or datapoint", "resource, scope or log",
};

/* <ctx>.attributes */
static int tf_path(struct tf_parser *ps, enum otc_signal s, enum otc_attr_ctx *ctx)
{
    char first[64], second[64];
    const char *start;
    char what[160];

    tf_ws(ps);
    start = ps->p;
    if (!tf_ident(ps, first, sizeof(first))) {
        return tf_fail(ps, "expected <context>.attributes");
    }
    if (*ps->p != '.' && ps->group && !strcmp(first, "attributes") && *ps->p != '[') {
        /* grouped form: a bare path is the group context's */
        if (tf_context(ps->group, s, ctx) != OTC_OK) {
            ps->p = start;
            snprintf(what, sizeof(what), "context \"%s\" has no attributes in %s (%s)",
                     ps->group, list_names[s], ctx_hint[s]);
            return tf_fail(ps, what);
        }
        return OTC_OK;
    }
    if (*ps->p != '.') {
        ps->p = start;
        if (!strcmp(first, "attributes")) {
            snprintf(what, sizeof(what), "\"attributes\" needs its context, e.g. %s.attributes "
                     "(contexts: %s)", s == OTC_TRACES ? "span" : s == OTC_METRICS ? "datapoint"
                     : "log", ctx_hint[s]);
            return tf_fail(ps, what);
        }
        return tf_fail(ps, "expected <context>.attributes");
    }
    ps->p++;
    if (!tf_ident(ps, second, sizeof(second)) || strcmp(second, "attributes") ||
        *ps->p == '.' || *ps->p == '[') {
        ps->p = start;
        return tf_fail(ps, "only a whole attribute map (<context>.attributes) can be the target");
    }
    if (tf_context(first, s, ctx) != OTC_OK) {
        ps->p = start;
        snprintf(what, sizeof(what), "context \"%s\" has no attributes in %s (%s)", first,
                 list_names[s], ctx_hint[s]);
        return tf_fail(ps, what);
    }
    return OTC_OK;
}

static int tf_int(struct tf_parser *ps, const char *fname, size_t *out)
{
    char *end;
    long long v;
    char what[128];

    tf_ws(ps);
    if (!isdigit((unsigned char)*ps->p) && !(*ps->p == '-' && isdigit((unsigned char)ps->p[1]))) {
        return tf_fail(ps, "expected an integer");
    }
    errno = 0;
    v = strtoll(ps->p, &end, 10);
    if (errno) {
        return tf_fail(ps, "integer out of range");
    }
    if (v < 0) {
        snprintf(what, sizeof(what), "invalid limit for %s function, %lld cannot be negative",
                 fname, v);
        return tf_fail(ps, what);
    }
    ps->p = end;
    *out = (size_t)v;
    return OTC_OK;
}

static void tf_stmt_free(struct tf_stmt *st)
{
    for (size_t i = 0; i < st->n_keep; i++) {
        free(st->keep[i]);
    }
    free(st->keep);
    st->keep = NULL;
    st->n_keep = 0;
}

/* A string literal; escapes \" and \\ only. */
static int tf_string(struct tf_parser *ps, char **out)
{
    const char *q;
    char *s, *w;

    tf_ws(ps);
    if (*ps->p != '"') {
        return tf_fail(ps, "expected a string");
    }
    q = ps->p + 1;
    s = malloc(strlen(q) + 1);
    if (!s) {
        return OTC_ENOMEM;
    }
    for (w = s; *q && *q != '"'; q++) {
        if (*q == '\\') {
            if (q[1] != '"' && q[1] != '\\') {
                free(s);
                ps->p = q;
                return tf_fail(ps, "unsupported escape in a string");
            }
            q++;
        }
        *w++ = *q;
    }
    if (*q != '"') {
        free(s);
        return tf_fail(ps, "unterminated string");
    }
    *w = '\0';
    ps->p = q + 1;
    *out = s;
    return OTC_OK;
}

/* [ "key", ... ] */
static int tf_keys(struct tf_parser *ps, struct tf_stmt *st)
{
    int rc;

    if (!tf_accept(ps, '[')) {
        return tf_fail(ps, "expected a list of keys such as []");
    }
    if (tf_accept(ps, ']')) {
        return OTC_OK;
    }
    for (;;) {
        char *k = NULL;
        char **grown;
        if ((rc = tf_string(ps, &k)) != OTC_OK) {
            return rc;
        }
        grown = realloc(st->keep, (st->n_keep + 1) * sizeof(*grown));
        if (!grown) {
            free(k);
            return OTC_ENOMEM;
        }
        st->keep = grown;
        st->keep[st->n_keep++] = k;
        if (tf_accept(ps, ']')) {
            return OTC_OK;
        }
        if (!tf_accept(ps, ',')) {
            return tf_fail(ps, "expected ',' or ']'");
        }
    }
}

static int tf_parse(struct tf_parser *ps, enum otc_signal s, struct tf_stmt *st)
{
    char fname[32];
    const char *fname_at;
    int rc;

    memset(st, 0, sizeof(*st));
    tf_ws(ps);
    fname_at = ps->p;
    if (!tf_ident(ps, fname, sizeof(fname))) {
        return tf_unsupported(ps, NULL);
    }
    if (!strcmp(fname, "truncate_all")) {
        st->fn = TF_TRUNCATE_ALL;
    } else if (!strcmp(fname, "limit")) {
        st->fn = TF_LIMIT;
    } else {
        tf_ws(ps);
        return tf_unsupported(ps, *ps->p == '(' ? fname : NULL);
    }
    tf_ws(ps);
    if (*ps->p != '(') {
        return tf_unsupported(ps, NULL);
    }
    ps->p++;
    if ((rc = tf_path(ps, s, &st->ctx)) != OTC_OK) {
        return rc;
    }
    if (!tf_accept(ps, ',')) {
        return tf_fail(ps, "expected ','");
    }
    if ((rc = tf_int(ps, fname, &st->n)) != OTC_OK) {
        return rc;
    }
    if (st->fn == TF_LIMIT) {
        if (!tf_accept(ps, ',')) {
            return tf_fail(ps, "limit takes 3 arguments: limit(<ctx>.attributes, N, [keys])");
        }
        if ((rc = tf_keys(ps, st)) != OTC_OK) {
            return rc;
        }
        if (st->n < st->n_keep) {
            char what[128];
            ps->p = fname_at;
            snprintf(what, sizeof(what), "invalid limit for limit function, %zu cannot be less "
                     "than number of priority attributes %zu", st->n, st->n_keep);
            return tf_fail(ps, what);
        }
    }
    if (!tf_accept(ps, ')')) {
        return tf_fail(ps, st->fn == TF_LIMIT ? "expected ')'"
                                              : "expected ')' (truncate_all takes 2 arguments)");
    }
    tf_ws(ps);
    if (*ps->p) {
        char word[16];
        const char *at = ps->p;
        if (tf_ident(ps, word, sizeof(word)) && !strcmp(word, "where")) {
            ps->p = at;
            return tf_fail(ps, "conditions (where) are not supported");
        }
        ps->p = at;
        return tf_fail(ps, "unexpected text after the statement");
    }
    return OTC_OK;
}

static void tf_list_free(struct tf_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        tf_stmt_free(&l->v[i]);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int tf_compile(const struct transform_ctx *t, enum otc_signal s, struct tf_list *out,
                      char *err, size_t errlen)
{
    const struct otc_strlist *src = &t->statements[s];
    struct tf_parser ps = {.list = list_names[s], .err = err, .errlen = errlen};

    out->v = src->n ? calloc(src->n, sizeof(*out->v)) : NULL;
    out->n = 0;
    if (src->n && !out->v) {
        snprintf(err, errlen, "out of memory");
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < src->n; i++) {
        char group[64];
        int rc;

        ps.text = ps.p = src->v[i];
        ps.group = NULL;
        ps.index = i;
        if (src->v[i][0] == OTC_OTTL_SEP) { /* grouped form: SEP context SEP|COND text */
            const char *end = strpbrk(src->v[i] + 1, "\x1e\x1c");
            size_t n = end ? (size_t)(end - src->v[i] - 1) : 0;

            snprintf(group, sizeof(group), "%.*s", (int)n, src->v[i] + 1);
            ps.group = group;
            ps.text = ps.p = end ? end + 1 : "";
            if (end && *end == OTC_OTTL_COND) {
                size_t len = strlen(ps.text);
                snprintf(err, errlen, "%s[%zu]: conditions are not supported (\"%.*s%s\"); "
                         "otelc's statements apply to every item", ps.list, i, STMT_QUOTE,
                         ps.text, len > STMT_QUOTE ? "..." : "");
                tf_list_free(out);
                return OTC_EINVAL;
            }
        }
        rc = tf_parse(&ps, s, &out->v[i]);
        if (rc != OTC_OK) {
            tf_stmt_free(&out->v[i]);
            tf_list_free(out);
            if (rc == OTC_ENOMEM) {
                snprintf(err, errlen, "out of memory");
            }
            return rc;
        }
        out->n++;
    }
    return OTC_OK;
}

/* ------------------------------------------------------------ component */

static int transform_validate(const void *vctx, char *err, size_t errlen)
{
    const struct transform_ctx *t = vctx;

    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        struct tf_list l;
        int rc = tf_compile(t, (enum otc_signal)s, &l, err, errlen);
        if (rc != OTC_OK) {
            return rc;
        }
        tf_list_free(&l);
    }
    return OTC_OK;
}

static void transform_destroy(void *vctx)
{
    struct transform_ctx *t = vctx;

    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        tf_list_free(&t->compiled[s]);
    }
}

static int transform_init(struct otc_instance *ins, void *vctx)
{
    struct transform_ctx *t = vctx;
    char err[256];

    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        int rc = tf_compile(t, (enum otc_signal)s, &t->compiled[s], err, sizeof(err));
        if (rc != OTC_OK) {
            otc_log_err(ins, "%s", err);
            transform_destroy(t);
            return rc;
        }
    }
    return OTC_OK;
}

static bool transform_over(void *arg, const struct otc_attr_set *set)
{
    const struct tf_list *l = arg;

    for (size_t i = 0; i < l->n; i++) {
        const struct tf_stmt *st = &l->v[i];
        if (st->ctx != set->ctx) {
            continue;
        }
        if (st->fn == TF_TRUNCATE_ALL ? otc_attrs_over(*set->kvs, *set->n, st->n,
                                                       OTC_ATTR_NO_LIMIT, false)
                                      : otc_attrs_limit_over(*set->kvs, *set->n, st->n,
                                                             st->keep, st->n_keep)) {
            return true;
        }
    }
    return false;
}

/* The statements of a set run in their configured order. */
static bool transform_apply(void *arg, const struct otc_attr_set *set)
{
    const struct tf_list *l = arg;

    for (size_t i = 0; i < l->n; i++) {
        const struct tf_stmt *st = &l->v[i];
        if (st->ctx != set->ctx) {
            continue;
        }
        if (st->fn == TF_TRUNCATE_ALL) {
            otc_attrs_apply(*set->kvs, set->n, NULL, st->n, OTC_ATTR_NO_LIMIT, false);
        } else {
            otc_attrs_limit_apply(*set->kvs, set->n, st->n, st->keep, st->n_keep);
        }
    }
    return false;
}

static int transform_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct transform_ctx *t = vctx;
    enum otc_signal s = b->signal;
    const struct tf_list *l = &t->compiled[s];
    size_t items = b->items;
    const ProtobufCMessage *msg;
    ProtobufCMessage *mut;

    if (l->n == 0 || !(msg = otc_batch_msg(b)) ||
        !otc_attr_walk(s, (ProtobufCMessage *)msg, false, transform_over, (void *)l)) {
        return otc_next(ins, b);
    }
    b = otc_batch_writable(b);
    if (!b || !(mut = otc_batch_msg_mut(b))) {
        otc_batch_unref(b);
        atomic_fetch_add(&ins->counters.dropped[s], items);
        return OTC_ENOMEM;
    }
    otc_attr_walk(s, mut, false, transform_apply, (void *)l);
    return otc_next(ins, b);
}

const struct otc_component_ops otc_processor_transform_ops = {
    .type = "transform",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = true,
    .concurrent = false,
    .ctx_size = sizeof(struct transform_ctx),
    .config_map = transform_config,
    .validate = transform_validate,
    .init = transform_init,
    .start = NULL,
    .consume = transform_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = transform_destroy,
};
