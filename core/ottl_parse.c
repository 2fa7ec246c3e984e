/* ottl_parse.c - the OTTL parser: statements and conditions to the compiled
 * tree of ottl_internal.h (paths resolved to a context and field, enums to
 * their numbers, regex literals compiled), with errors that name what is not
 * supported and where. Main thread, at start-up and on reload. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ottl_internal.h"

#define IDENT_MAX 64

struct ps {
    const char           *text, *p;
    enum otc_signal       sig;
    enum otc_ottl_ctx     group; /* OTC_OTTL_CTX_INFER in the flat form */
    struct otc_ottl_error *err;
    bool                  failed;
    struct ottl_node    **paths; /* every path, to check against the final context */
    size_t                n_paths;
};

static const char *const ctx_names[OTC_OTTL_CTX_COUNT] = {
    "resource", "scope", "span", "spanevent", "metric", "datapoint", "log",
};
/* how narrow each context is: a context may read the wider ones above it */
static const int ctx_rank[OTC_OTTL_CTX_COUNT] = {0, 1, 2, 3, 2, 3, 2};

const char *otc_ottl_ctx_name(enum otc_ottl_ctx c)
{
    return c >= 0 && c < OTC_OTTL_CTX_COUNT ? ctx_names[c] : "?";
}

static bool ctx_in_signal(enum otc_ottl_ctx c, enum otc_signal s)
{
    switch (c) {
    case OTC_OTTL_RESOURCE:
    case OTC_OTTL_SCOPE:
        return true;
    case OTC_OTTL_SPAN:
    case OTC_OTTL_SPANEVENT:
        return s == OTC_TRACES;
    case OTC_OTTL_METRIC:
    case OTC_OTTL_DATAPOINT:
        return s == OTC_METRICS;
    case OTC_OTTL_LOG:
        return s == OTC_LOGS;
    default:
        return false;
    }
}

int otc_ottl_ctx_parse(const char *name, enum otc_signal s, enum otc_ottl_ctx *out)
{
    for (int c = 0; c < OTC_OTTL_CTX_COUNT; c++) {
        if (!strcmp(name, ctx_names[c]) && ctx_in_signal((enum otc_ottl_ctx)c, s)) {
            *out = (enum otc_ottl_ctx)c;
            return OTC_OK;
        }
    }
    if (!strcmp(name, "instrumentation_scope")) {
        *out = OTC_OTTL_SCOPE;
        return OTC_OK;
    }
    return OTC_EINVAL;
}

/* Whether a statement running in context run may read path context c. */
static bool ctx_reaches(enum otc_ottl_ctx run, enum otc_ottl_ctx c)
{
    if (c == run || c == OTC_OTTL_RESOURCE) {
        return true;
    }
    if (c == OTC_OTTL_SCOPE) {
        return run != OTC_OTTL_RESOURCE;
    }
    return (run == OTC_OTTL_SPANEVENT && c == OTC_OTTL_SPAN) ||
           (run == OTC_OTTL_DATAPOINT && c == OTC_OTTL_METRIC);
}

static void *fail(struct ps *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void *fail(struct ps *ps, const char *at, const char *fmt, ...)
{
    va_list ap;

    if (ps->failed) {
        return NULL;
    }
    ps->failed = true;
    va_start(ap, fmt);
    vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
    va_end(ap);
    ps->err->pos = (size_t)((at ? at : ps->p) - ps->text);
    return NULL;
}

static void ws(struct ps *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') {
        ps->p++;
    }
}

static bool accept(struct ps *ps, char c)
{
    ws(ps);
    if (*ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

static size_t ident_len(const char *p)
{
    size_t n = 0;

    if (!isalpha((unsigned char)*p) && *p != '_') {
        return 0;
    }
    while (isalnum((unsigned char)p[n]) || p[n] == '_') {
        n++;
    }
    return n;
}

/* The identifier at p into buf; its length (0 if none or too long). */
static size_t ident(struct ps *ps, char *buf)
{
    size_t n;

    ws(ps);
    n = ident_len(ps->p);
    if (!n || n >= IDENT_MAX) {
        return 0;
    }
    memcpy(buf, ps->p, n);
    buf[n] = '\0';
    ps->p += n;
    return n;
}

static bool keyword(struct ps *ps, const char *kw)
{
    size_t n = strlen(kw);

    ws(ps);
    if (!strncmp(ps->p, kw, n) && ident_len(ps->p) == n) {
        ps->p += n;
        return true;
    }
    return false;
}

static struct ottl_node *node_new(struct ps *ps, enum ottl_node_kind k, const char *at)
{
    struct ottl_node *n = calloc(1, sizeof(*n));

    if (!n) {
        return fail(ps, at, "out of memory");
    }
    n->kind = k;
    n->pos = (size_t)(at - ps->text);
    return n;
}

static void node_free(struct ottl_node *n)
{
    if (!n) {
        return;
    }
    for (size_t i = 0; i < n->n_keys; i++) {
        node_free(n->keys[i]);
    }
    for (size_t i = 0; i < n->n_kids; i++) {
        node_free(n->kids[i]);
    }
    free(n->keys);
    free(n->kids);
    free(n->str);
    if (n->re) {
        pcre2_code_free(n->re);
    }
    free(n);
}

static bool push(struct ps *ps, struct ottl_node ***v, size_t *n, struct ottl_node *x)
{
    struct ottl_node **g = realloc(*v, (*n + 1) * sizeof(*g));

    if (!g) {
        node_free(x);
        fail(ps, NULL, "out of memory");
        return false;
    }
    g[(*n)++] = x;
    *v = g;
    return true;
}

/* ------------------------------------------------------------ literals */

static struct ottl_node *string_lit(struct ps *ps)
{
    const char *start = ps->p, *q = ps->p + 1;
    struct ottl_node *n;
    char *w;

    if (!(n = node_new(ps, N_LIT, start)) || !(n->str = malloc(strlen(q) + 1))) {
        free(n);
        return fail(ps, start, "out of memory");
    }
    for (w = n->str; *q && *q != '"'; q++) {
        if (*q == '\\') {
            q++;
            switch (*q) {
            case '"': case '\\': *w++ = *q; break;
            case 'n': *w++ = '\n'; break;
            case 't': *w++ = '\t'; break;
            case 'r': *w++ = '\r'; break;
            default:
                node_free(n);
                return fail(ps, q - 1, "invalid escape \\%c in a string (write \\\\%c for a "
                            "backslash)", *q ? *q : ' ', *q ? *q : ' ');
            }
            continue;
        }
        *w++ = *q;
    }
    if (*q != '"') {
        node_free(n);
        return fail(ps, start, "unterminated string");
    }
    *w = '\0';
    n->v.t = V_STR;
    n->v.s = n->str;
    n->v.len = (size_t)(w - n->str);
    ps->p = q + 1;
    return n;
}

static int hexval(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

static struct ottl_node *number_lit(struct ps *ps)
{
    const char *start = ps->p;
    struct ottl_node *n = node_new(ps, N_LIT, start);
    char *end;

    if (!n) {
        return NULL;
    }
    if (start[0] == '0' && (start[1] == 'x' || start[1] == 'X')) { /* bytes: 0x0102... */
        const char *h = start + 2;
        size_t len = 0;
        while (isxdigit((unsigned char)h[len])) {
            len++;
        }
        if (len == 0 || len % 2) {
            node_free(n);
            return fail(ps, start, "a bytes literal needs an even number of hex digits");
        }
        if (!(n->str = malloc(len / 2 + 1))) {
            node_free(n);
            return fail(ps, start, "out of memory");
        }
        for (size_t i = 0; i < len / 2; i++) {
            n->str[i] = (char)(hexval(h[2 * i]) << 4 | hexval(h[2 * i + 1]));
        }
        n->v.t = V_BYTES;
        n->v.s = n->str;
        n->v.len = len / 2;
        ps->p = h + len;
        return n;
    }
    errno = 0;
    n->v.i = strtoll(start, &end, 10);
    if (*end == '.' || *end == 'e' || *end == 'E') {
        errno = 0;
        n->v.d = strtod(start, &end);
        n->v.t = V_DBL;
    } else {
        n->v.t = V_INT;
    }
    if (errno || end == start) {
        node_free(n);
        return fail(ps, start, "number out of range");
    }
    ps->p = end;
    return n;
}

/* ------------------------------------------------------------ paths */

static struct ottl_node *value(struct ps *ps);

/* [key] selectors after a path. */
static bool selectors(struct ps *ps, struct ottl_node *n, bool keyed)
{
    for (;;) {
        const char *at;
        struct ottl_node *k;

        ws(ps);
        at = ps->p;
        if (*ps->p != '[') {
            return true;
        }
        if (!keyed) {
            fail(ps, at, "this path cannot be indexed with [...]");
            return false;
        }
        ps->p++;
        ws(ps);
        if (*ps->p == '"') {
            k = string_lit(ps);
        } else if (isdigit((unsigned char)*ps->p)) {
            k = number_lit(ps);
            if (k && k->v.t != V_INT) {
                node_free(k);
                fail(ps, at, "an index must be a string or an integer");
                return false;
            }
        } else {
            fail(ps, ps->p, "an index must be a string or integer literal");
            return false;
        }
        if (!k || !push(ps, &n->keys, &n->n_keys, k)) {
            return false;
        }
        if (!accept(ps, ']')) {
            fail(ps, NULL, "expected ']'");
            return false;
        }
    }
}

/* A path whose first identifier (first, already read) starts at 'at'. */
static struct ottl_node *path(struct ps *ps, const char *first, const char *at)
{
    enum otc_ottl_ctx c;
    char name[IDENT_MAX], sub[IDENT_MAX] = "";
    const char *after_first = at + strlen(first), *end;
    struct ottl_node *n;
    const struct ottl_field_def *fd;

    ps->p = after_first;
    if (*ps->p == '.' && otc_ottl_ctx_parse(first, ps->sig, &c) == OTC_OK) {
        ps->p++;
        if (!ident(ps, name)) {
            return fail(ps, NULL, "expected a field after \"%s.\"", first);
        }
    } else {
        bool is_ctx = false;
        for (int i = 0; i < OTC_OTTL_CTX_COUNT; i++) {
            is_ctx |= !strcmp(first, ctx_names[i]);
        }
        if (*ps->p == '.' && (is_ctx || !strcmp(first, "instrumentation_scope"))) {
            return fail(ps, at, "context \"%s\" does not exist in %s", first,
                        otc_signal_name(ps->sig));
        }
        if (!strcmp(first, "cache")) {
            return fail(ps, at, "the cache path is not supported");
        }
        if (ps->group == OTC_OTTL_CTX_INFER) {
            return fail(ps, at, "path \"%s\" needs its context, e.g. %s.%s", first,
                        ps->sig == OTC_TRACES ? "span" : ps->sig == OTC_METRICS ? "datapoint"
                                                                                : "log", first);
        }
        c = ps->group;
        snprintf(name, sizeof(name), "%s", first);
        ps->p = after_first;
    }
    end = ps->p;
    if (*ps->p == '.') {
        ps->p++;
        if (!ident(ps, sub)) {
            return fail(ps, NULL, "expected a field name after '.'");
        }
        end = ps->p;
    }
    if (!(fd = ottl_field_find(name, sub, c))) {
        return fail(ps, at, "path \"%.*s\" is not supported in context %s",
                    (int)(end - at), at, ctx_names[c]);
    }
    if (!(n = node_new(ps, N_PATH, at))) {
        return NULL;
    }
    n->ctx = c;
    n->field = fd->f;
    if (!selectors(ps, n, fd->keyed)) {
        node_free(n);
        return NULL;
    }
    {
        struct ottl_node **g = realloc(ps->paths, (ps->n_paths + 1) * sizeof(*g));
        if (!g) {
            node_free(n);
            return fail(ps, at, "out of memory");
        }
        g[ps->n_paths++] = n;
        ps->paths = g;
    }
    return n;
}

/* ------------------------------------------------------------ calls */

static struct ottl_node *call_args(struct ps *ps, struct ottl_node *call, const char *name)
{
    size_t bad = 0;
    const char *why;

    if (accept(ps, ')')) {
        goto check;
    }
    for (;;) {
        struct ottl_node *a;
        const char *at;
        char id[IDENT_MAX];

        ws(ps);
        at = ps->p;
        /* a named argument: name = value */
        if (ident(ps, id) && (ws(ps), *ps->p == '=') && ps->p[1] != '=') {
            node_free(call);
            return fail(ps, at, "named arguments are not supported");
        }
        ps->p = at;
        if (!(a = value(ps)) || !push(ps, &call->kids, &call->n_kids, a)) {
            node_free(call);
            return NULL;
        }
        if (accept(ps, ')')) {
            break;
        }
        if (!accept(ps, ',')) {
            node_free(call);
            return fail(ps, NULL, "expected ',' or ')' in the arguments of %s", name);
        }
    }
check:
    if ((why = ottl_fn_check(call, &bad))) {
        const char *at = bad < call->n_kids ? ps->text + call->kids[bad]->pos : ps->p - 1;
        node_free(call);
        return fail(ps, at, "%s: %s", name, why);
    }
    return call;
}

/* A function call, its name (already read) at 'at'. */
static struct ottl_node *call(struct ps *ps, const char *name, const char *at, bool editor)
{
    const struct ottl_fn *fn = ottl_fn_find(name);
    struct ottl_node *n;

    if (!fn) {
        return fail(ps, at, "function %s() is not supported", name);
    }
    if (fn->editor != editor) {
        return fail(ps, at, editor ? "%s() is a converter: a statement starts with an editor "
                                     "such as set()"
                                   : "%s() is an editor: it can only start a statement",
                    name);
    }
    ps->p++; /* '(' */
    if (!(n = node_new(ps, N_CALL, at))) {
        return NULL;
    }
    n->fn = fn;
    return call_args(ps, n, name);
}

static struct ottl_node *list(struct ps *ps)
{
    struct ottl_node *n = node_new(ps, N_LIST, ps->p);

    ps->p++;
    if (!n || accept(ps, ']')) {
        return n;
    }
    for (;;) {
        struct ottl_node *x = value(ps);
        if (!x || !push(ps, &n->kids, &n->n_kids, x)) {
            node_free(n);
            return NULL;
        }
        if (accept(ps, ']')) {
            return n;
        }
        if (!accept(ps, ',')) {
            node_free(n);
            return fail(ps, NULL, "expected ',' or ']' in a list");
        }
    }
}

static struct ottl_node *value_inner(struct ps *ps)
{
    char id[IDENT_MAX];
    int64_t ev;
    const char *at;
    struct ottl_node *n;

    ws(ps);
    at = ps->p;
    if (*ps->p == '"') {
        return string_lit(ps);
    }
    if (isdigit((unsigned char)*ps->p) || ((*ps->p == '-' || *ps->p == '+') &&
                                          isdigit((unsigned char)ps->p[1]))) {
        return number_lit(ps);
    }
    if (*ps->p == '[') {
        return list(ps);
    }
    if (*ps->p == '{') {
        return fail(ps, at, "map literals are not supported");
    }
    if (!ident(ps, id)) {
        return fail(ps, at, *ps->p ? "expected a value" : "unexpected end of the statement");
    }
    if (!strcmp(id, "true") || !strcmp(id, "false") || !strcmp(id, "nil")) {
        if (!(n = node_new(ps, N_LIT, at))) {
            return NULL;
        }
        n->v.t = id[0] == 'n' ? V_NIL : V_BOOL;
        n->v.b = id[0] == 't';
        return n;
    }
    ws(ps);
    if (isupper((unsigned char)id[0])) {
        if (*ps->p == '(') {
            n = call(ps, id, at, false);
            ws(ps);
            if (n && *ps->p == '[') {
                node_free(n);
                return fail(ps, NULL, "indexing the result of a converter is not supported");
            }
            return n;
        }
        if (ottl_enum_find(id, &ev)) {
            if ((n = node_new(ps, N_LIT, at))) {
                n->v.t = V_INT;
                n->v.i = ev;
            }
            return n;
        }
        if (ottl_fn_find(id) && !ottl_fn_find(id)->editor) {
            if ((n = node_new(ps, N_FUNCREF, at))) {
                n->fn = ottl_fn_find(id);
            }
            return n;
        }
        return fail(ps, at, "unknown enum or converter %s", id);
    }
    if (*ps->p == '(') {
        return fail(ps, at, ottl_fn_find(id) ? "%s() is an editor: it can only start a statement"
                                             : "function %s() is not supported", id);
    }
    return path(ps, id, at);
}

static struct ottl_node *value(struct ps *ps)
{
    struct ottl_node *n = value_inner(ps);

    ws(ps);
    if (n && (*ps->p == '+' || *ps->p == '*' || *ps->p == '/' || *ps->p == '-')) {
        node_free(n);
        return fail(ps, NULL, "math expressions are not supported");
    }
    return n;
}

/* ------------------------------------------------------------ conditions */

static struct ottl_node *bool_expr(struct ps *ps);

static bool cmp_op(struct ps *ps, enum ottl_cmp *op)
{
    static const struct { const char *s; enum ottl_cmp op; } ops[] = {
        {"==", CMP_EQ}, {"!=", CMP_NE}, {"<=", CMP_LE}, {">=", CMP_GE}, {"<", CMP_LT}, {">", CMP_GT},
    };

    ws(ps);
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        size_t n = strlen(ops[i].s);
        if (!strncmp(ps->p, ops[i].s, n)) {
            ps->p += n;
            *op = ops[i].op;
            return true;
        }
    }
    return false;
}

static struct ottl_node *primary(struct ps *ps)
{
    const char *at;
    struct ottl_node *l, *r, *n;
    enum ottl_cmp op;

    ws(ps);
    at = ps->p;
    if (*ps->p == '(') {
        ps->p++;
        if (!(n = bool_expr(ps))) {
            return NULL;
        }
        if (!accept(ps, ')')) {
            node_free(n);
            return fail(ps, NULL, "expected ')'");
        }
        return n;
    }
    if (!(l = value(ps))) {
        return NULL;
    }
    if (!cmp_op(ps, &op)) {
        if ((l->kind == N_LIT && l->v.t == V_BOOL) || l->kind == N_CALL) {
            return l; /* true, false, IsMatch(...) */
        }
        node_free(l);
        return fail(ps, at, "expected a comparison (==, !=, <, <=, >, >=) or a boolean");
    }
    if (!(r = value(ps))) {
        node_free(l);
        return NULL;
    }
    if (!(n = node_new(ps, N_CMP, at))) {
        node_free(l);
        node_free(r);
        return NULL;
    }
    n->op = op;
    if (!push(ps, &n->kids, &n->n_kids, l)) {
        node_free(r);
        node_free(n);
        return NULL;
    }
    if (!push(ps, &n->kids, &n->n_kids, r)) {
        node_free(n);
        return NULL;
    }
    return n;
}

static struct ottl_node *not_expr(struct ps *ps)
{
    const char *at;
    struct ottl_node *n, *x;

    ws(ps);
    at = ps->p;
    if (!keyword(ps, "not")) {
        return primary(ps);
    }
    if (!(x = not_expr(ps)) || !(n = node_new(ps, N_NOT, at))) {
        node_free(x);
        return NULL;
    }
    if (!push(ps, &n->kids, &n->n_kids, x)) {
        node_free(n);
        return NULL;
    }
    return n;
}

/* kind: N_AND over not_expr, N_OR over and-expressions */
static struct ottl_node *chain(struct ps *ps, enum ottl_node_kind kind)
{
    const char *at = ps->p;
    struct ottl_node *first = kind == N_AND ? not_expr(ps) : chain(ps, N_AND), *n = NULL;

    if (!first) {
        return NULL;
    }
    while (keyword(ps, kind == N_AND ? "and" : "or")) {
        struct ottl_node *x = kind == N_AND ? not_expr(ps) : chain(ps, N_AND);
        if (!x) {
            node_free(n ? n : first);
            return NULL;
        }
        if (!n) {
            if (!(n = node_new(ps, kind, at)) || !push(ps, &n->kids, &n->n_kids, first)) {
                node_free(n);
                node_free(x);
                return NULL;
            }
        }
        if (!push(ps, &n->kids, &n->n_kids, x)) {
            node_free(n);
            return NULL;
        }
    }
    return n ? n : first;
}

static struct ottl_node *bool_expr(struct ps *ps)
{
    return chain(ps, N_OR);
}

/* ------------------------------------------------------------ entry points */

void otc_ottl_free(struct otc_ottl *o)
{
    if (!o) {
        return;
    }
    node_free(o->call);
    node_free(o->cond);
    for (int c = 0; c < OTC_OTTL_CTX_COUNT; c++) {
        free(o->attr_keys[c]);
    }
    free(o->text);
    free(o);
}

/* The context the statement runs in, and every path reachable from it. */
static bool settle_context(struct ps *ps, struct otc_ottl *o)
{
    if (ps->group != OTC_OTTL_CTX_INFER) {
        o->ctx = ps->group;
    } else {
        int best = -1;
        if (ps->n_paths == 0) {
            fail(ps, ps->text, "the context cannot be inferred: no path names one (write e.g. "
                 "%s.attributes)", ps->sig == OTC_TRACES ? "span" : ps->sig == OTC_METRICS
                                                                     ? "datapoint" : "log");
            return false;
        }
        for (size_t i = 0; i < ps->n_paths; i++) {
            if (ctx_rank[ps->paths[i]->ctx] > best) {
                best = ctx_rank[ps->paths[i]->ctx];
                o->ctx = ps->paths[i]->ctx;
            }
        }
    }
    for (size_t i = 0; i < ps->n_paths; i++) {
        if (!ctx_reaches(o->ctx, ps->paths[i]->ctx)) {
            fail(ps, ps->text + ps->paths[i]->pos, "a %s path cannot be used in context %s",
                 ctx_names[ps->paths[i]->ctx], ctx_names[o->ctx]);
            return false;
        }
    }
    return true;
}

/* The attribute keys the paths read (the strings stay in the tree). */
static bool note_attr_keys(struct ps *ps, struct otc_ottl *o)
{
    for (size_t i = 0; i < ps->n_paths; i++) {
        const struct ottl_node *p = ps->paths[i];
        const char **g;
        if (p->field != F_ATTRIBUTES) {
            continue;
        }
        if (!p->n_keys || p->keys[0]->v.t != V_STR) {
            o->whole_attrs |= 1u << p->ctx;
            continue;
        }
        g = realloc(o->attr_keys[p->ctx], (o->n_attr_keys[p->ctx] + 1) * sizeof(*g));
        if (!g) {
            fail(ps, ps->text, "out of memory");
            return false;
        }
        g[o->n_attr_keys[p->ctx]++] = p->keys[0]->v.s;
        o->attr_keys[p->ctx] = g;
    }
    return true;
}

static struct otc_ottl *parse(const char *text, enum otc_signal s, enum otc_ottl_ctx ctx,
                              struct otc_ottl_error *err, bool statement)
{
    struct ps ps = {.text = text, .p = text, .sig = s, .group = ctx, .err = err};
    struct otc_ottl *o = calloc(1, sizeof(*o));

    memset(err, 0, sizeof(*err));
    if (!o || !(o->text = strdup(text))) {
        free(o);
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return NULL;
    }
    if (ctx != OTC_OTTL_CTX_INFER && !ctx_in_signal(ctx, s)) {
        fail(&ps, text, "context %s does not exist in %s", otc_ottl_ctx_name(ctx),
             otc_signal_name(s));
        goto err;
    }
    if (statement) {
        char name[IDENT_MAX];
        const char *at;
        ws(&ps);
        at = ps.p;
        if (!ident(&ps, name) || (ws(&ps), *ps.p != '(')) {
            fail(&ps, at, "a statement is an editor call such as set(...)");
            goto err;
        }
        if (!(o->call = call(&ps, name, at, true))) {
            goto err;
        }
        if (keyword(&ps, "where") && !(o->cond = bool_expr(&ps))) {
            goto err;
        }
    } else if (!(o->cond = bool_expr(&ps))) {
        goto err;
    }
    ws(&ps);
    if (*ps.p) {
        fail(&ps, ps.p, statement ? "unexpected text after the statement (a condition starts "
                                    "with where)" : "unexpected text after the condition");
        goto err;
    }
    if (!settle_context(&ps, o) || !note_attr_keys(&ps, o)) {
        goto err;
    }
    free(ps.paths);
    return o;
err:
    free(ps.paths);
    otc_ottl_free(o);
    return NULL;
}

struct otc_ottl *otc_ottl_parse_statement(const char *text, enum otc_signal s,
                                          enum otc_ottl_ctx ctx, struct otc_ottl_error *err)
{
    return parse(text, s, ctx, err, true);
}

struct otc_ottl *otc_ottl_parse_condition(const char *text, enum otc_signal s,
                                          enum otc_ottl_ctx ctx, struct otc_ottl_error *err)
{
    return parse(text, s, ctx, err, false);
}

