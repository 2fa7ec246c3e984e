/* ottl_funcs.c - the OTTL functions otelc implements: the editors set,
 * delete_key, delete_matching_keys, keep_keys, keep_matching_keys,
 * replace_pattern, replace_all_patterns, replace_match, truncate_all, limit,
 * merge_maps, and the converters IsMatch, Concat, Int, String, SHA256, Len
 * (with the filter processor's HasAttrKeyOnDatapoint and HasAttrOnDatapoint);
 * with the argument checks the parser runs. Evaluation runs on the pipeline
 * worker thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "otc/otc_attr_limits.h"
#include "otc/otc_pb_walk.h"
#include "ottl_internal.h"

/* ------------------------------------------------------------ helpers */

static int arg(struct ottl_run *r, const struct ottl_node *call, size_t i, struct ottl_val *v)
{
    return ottl_eval_node(r, call->kids[i], v);
}

/* ------------------------------------------------------------ editors */

static int fn_set(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *out)
{
    struct ottl_val v;
    int rc;

    (void)out;
    if ((rc = arg(r, c, 1, &v)) != OTC_OK) {
        return rc;
    }
    if (v.t == V_NIL) {
        return OTC_OK; /* otelcol: a nil value leaves the target alone */
    }
    r->changed = true;
    return ottl_path_set(r, c->kids[0], &v);
}

/* Keep the entries of a map for which pred says so. */
typedef int (*key_pred)(struct ottl_run *r, const struct ottl_node *c, const char *key, bool *keep);

static int filter_keys(struct ottl_run *r, const struct ottl_node *c, key_pred pred)
{
    struct ottl_mapref m;
    bool small[64], *keep;
    size_t dropped = 0;
    int rc;

    if ((rc = ottl_path_map(r, c->kids[0], &m)) != OTC_OK) {
        return rc;
    }
    keep = *m.n <= 64 ? small : otc_arena_alloc(r->env->arena, *m.n * sizeof(bool));
    if (!keep) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < *m.n; i++) {
        if ((rc = pred(r, c, (*m.kvs)[i]->key, &keep[i])) != OTC_OK) {
            return rc;
        }
        dropped += !keep[i];
    }
    if (dropped) {
        ottl_map_compact(&m, keep);
        r->changed = true;
    }
    return OTC_OK;
}

static int pred_not_key(struct ottl_run *r, const struct ottl_node *c, const char *key, bool *keep)
{
    (void)r;
    *keep = strcmp(key, c->kids[1]->v.s) != 0;
    return OTC_OK;
}

static int pred_in_list(struct ottl_run *r, const struct ottl_node *c, const char *key, bool *keep)
{
    const struct ottl_node *l = c->kids[1];

    (void)r;
    *keep = false;
    for (size_t i = 0; i < l->n_kids && !*keep; i++) {
        *keep = !strcmp(key, l->kids[i]->v.s);
    }
    return OTC_OK;
}

static int pred_match(struct ottl_run *r, const struct ottl_node *c, const char *key, bool *keep)
{
    return ottl_re_search(r, c->kids[1]->re, key, strlen(key), keep);
}

static int pred_no_match(struct ottl_run *r, const struct ottl_node *c, const char *key, bool *keep)
{
    int rc = ottl_re_search(r, c->kids[1]->re, key, strlen(key), keep);

    *keep = !*keep;
    return rc;
}

static int fn_delete_key(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *o)
{
    (void)o;
    return filter_keys(r, c, pred_not_key);
}

static int fn_keep_keys(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *o)
{
    (void)o;
    return filter_keys(r, c, pred_in_list);
}

static int fn_delete_matching_keys(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *o)
{
    (void)o;
    return filter_keys(r, c, pred_no_match);
}

static int fn_keep_matching_keys(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *o)
{
    (void)o;
    return filter_keys(r, c, pred_match);
}

/* The optional function and format arguments of the replace_* editors from index i. */
static void replace_opts(const struct ottl_node *c, size_t i, const struct ottl_node **fn,
                         const char **fmt)
{
    *fn = c->n_kids > i ? c->kids[i] : NULL;
    *fmt = c->n_kids > i + 1 ? c->kids[i + 1]->v.s : NULL;
}

static int replacement(struct ottl_run *r, const struct ottl_node *c, size_t i, struct ottl_val *v)
{
    int rc = arg(r, c, i, v);

    if (rc == OTC_OK && v->t != V_STR) {
        return ottl_fail(r, "%s: the replacement must be a string", c->fn->name);
    }
    return rc;
}

static int fn_replace_pattern(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *o)
{
    struct ottl_val t, rep, nv = {.t = V_STR};
    const struct ottl_node *fn;
    const char *fmt;
    char *out;
    int rc;

    (void)o;
    if ((rc = arg(r, c, 0, &t)) != OTC_OK || (rc = replacement(r, c, 2, &rep)) != OTC_OK) {
        return rc;
    }
    if (t.t != V_STR) {
        return OTC_OK; /* otelcol: only string targets are replaced */
    }
    replace_opts(c, 3, &fn, &fmt);
    if ((rc = ottl_re_replace(r, c->kids[1]->re, t.s, t.len, rep.s, rep.len, fn, fmt, &out, &nv.len)) !=
            OTC_OK || !out) {
        return rc;
    }
    nv.s = out;
    r->changed = true;
    return ottl_path_set(r, c->kids[0], &nv);
}

static int fn_replace_all_patterns(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *o)
{
    struct ottl_mapref m;
    struct ottl_val rep;
    const struct ottl_node *fn;
    const char *fmt;
    bool keys = !strcmp(c->kids[1]->v.s, "key");
    int rc;

    (void)o;
    if ((rc = ottl_path_map(r, c->kids[0], &m)) != OTC_OK ||
        (rc = replacement(r, c, 3, &rep)) != OTC_OK) {
        return rc;
    }
    replace_opts(c, 4, &fn, &fmt);
    for (size_t i = 0; i < *m.n; i++) {
        otc_key_value *kv = (*m.kvs)[i];
        struct ottl_val v;
        char *out;
        size_t len;

        if (keys) {
            if ((rc = ottl_re_replace(r, c->kids[2]->re, kv->key, strlen(kv->key), rep.s, rep.len, fn,
                                 fmt, &out, &len)) != OTC_OK) {
                return rc;
            }
            if (out) {
                kv->key = out;
                r->changed = true;
            }
            continue;
        }
        ottl_val_from_any(kv->value, &v);
        if (v.t != V_STR) {
            continue;
        }
        if ((rc = ottl_re_replace(r, c->kids[2]->re, v.s, v.len, rep.s, rep.len, fn, fmt, &out,
                             &len)) != OTC_OK) {
            return rc;
        }
        if (out) {
            struct ottl_val nv = {.t = V_STR, .s = out, .len = len};
            if (!(kv->value = ottl_any_from(r->env->arena, &nv))) {
                return OTC_ENOMEM;
            }
            r->changed = true;
        }
    }
    return OTC_OK;
}

static int fn_replace_match(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *o)
{
    struct ottl_val t, rep;
    const struct ottl_node *fn;
    const char *fmt;
    int rc;

    (void)o;
    if ((rc = arg(r, c, 0, &t)) != OTC_OK || (rc = replacement(r, c, 2, &rep)) != OTC_OK) {
        return rc;
    }
    if (t.t != V_STR || !ottl_glob(c->kids[1]->v.s, t.s)) {
        return OTC_OK;
    }
    replace_opts(c, 3, &fn, &fmt);
    if (fn) {
        struct ottl_sbuf b = {0};
        struct ottl_val nv = {.t = V_STR};
        ottl_apply_fn(&b, fn, fmt, rep.s, rep.len);
        if (b.oom || !(nv.s = ottl_arena_strndup(r->env->arena, b.p, b.len))) {
            free(b.p);
            return OTC_ENOMEM;
        }
        nv.len = b.len;
        free(b.p);
        r->changed = true;
        return ottl_path_set(r, c->kids[0], &nv);
    }
    r->changed = true;
    return ottl_path_set(r, c->kids[0], &rep);
}

static int fn_truncate_all(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *o)
{
    struct ottl_mapref m;
    size_t limit = (size_t)c->kids[1]->v.i;
    int rc;

    (void)o;
    if ((rc = ottl_path_map(r, c->kids[0], &m)) != OTC_OK) {
        return rc;
    }
    if (otc_attrs_over(*m.kvs, *m.n, limit, OTC_ATTR_NO_LIMIT, false)) {
        otc_attrs_apply(*m.kvs, m.n, NULL, limit, OTC_ATTR_NO_LIMIT, false);
        r->changed = true;
    }
    return OTC_OK;
}

static int fn_limit(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *o)
{
    struct ottl_mapref m;
    const struct ottl_node *l = c->kids[2];
    char *small[16], **keep = small;
    size_t limit = (size_t)c->kids[1]->v.i;
    int rc;

    (void)o;
    if ((rc = ottl_path_map(r, c->kids[0], &m)) != OTC_OK) {
        return rc;
    }
    if (l->n_kids > 16 && !(keep = otc_arena_alloc(r->env->arena, l->n_kids * sizeof(*keep)))) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < l->n_kids; i++) {
        keep[i] = l->kids[i]->str;
    }
    if (otc_attrs_limit_over(*m.kvs, *m.n, limit, keep, l->n_kids)) {
        otc_attrs_limit_apply(*m.kvs, m.n, limit, keep, l->n_kids);
        r->changed = true;
    }
    return OTC_OK;
}

static int fn_merge_maps(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *o)
{
    struct ottl_mapref m;
    struct ottl_val src;
    const char *strategy = c->kids[2]->v.s;
    int rc;

    (void)o;
    if ((rc = ottl_path_map(r, c->kids[0], &m)) != OTC_OK || (rc = arg(r, c, 1, &src)) != OTC_OK) {
        return rc;
    }
    if (src.t != V_MAP) {
        return OTC_OK;
    }
    for (size_t i = 0; i < src.n; i++) {
        const otc_key_value *kv = src.kvs[i];
        bool exists = false;
        struct ottl_val v;
        otc_any_value *nv;

        for (size_t j = 0; j < *m.n && !exists; j++) {
            exists = !strcmp((*m.kvs)[j]->key, kv->key);
        }
        if ((!strcmp(strategy, "insert") && exists) || (!strcmp(strategy, "update") && !exists)) {
            continue; /* insert: only new keys; update: only existing ones */
        }
        ottl_val_from_any(kv->value, &v);
        if (!(nv = ottl_any_from(r->env->arena, &v)) ||
            ottl_map_put(r->env->arena, &m, kv->key, nv) != OTC_OK) {
            return OTC_ENOMEM;
        }
        r->changed = true;
    }
    return OTC_OK;
}

/* ------------------------------------------------------------ converters */

static int fn_is_match(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *out)
{
    struct ottl_val t;
    const char *s;
    size_t len;
    int rc;

    out->t = V_BOOL;
    out->b = false;
    if ((rc = arg(r, c, 0, &t)) != OTC_OK || t.t == V_NIL) {
        return rc;
    }
    if (!(s = ottl_val_string(r->env->arena, &t, &len))) {
        return OTC_ENOMEM;
    }
    return ottl_re_search(r, c->kids[1]->re, s, len, &out->b);
}

static int fn_concat(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *out)
{
    const struct ottl_node *l = c->kids[0];
    struct ottl_val delim;
    struct ottl_sbuf b = {0};
    int rc;

    if ((rc = arg(r, c, 1, &delim)) != OTC_OK) {
        return rc;
    }
    if (delim.t != V_STR) {
        return ottl_fail(r, "Concat: the delimiter must be a string");
    }
    for (size_t i = 0; i < l->n_kids; i++) {
        struct ottl_val v;
        const char *s;
        size_t len;
        if ((rc = ottl_eval_node(r, l->kids[i], &v)) != OTC_OK) {
            free(b.p);
            return rc;
        }
        if (v.t == V_NIL) {
            ottl_sb_add(&b, "<nil>", 5); /* Go's fmt.Sprint of a nil value */
        } else if ((s = ottl_val_string(r->env->arena, &v, &len))) {
            ottl_sb_add(&b, s, len);
        } else {
            b.oom = true;
        }
        if (i + 1 < l->n_kids) {
            ottl_sb_add(&b, delim.s, delim.len);
        }
    }
    out->t = V_STR;
    if (b.oom || !(out->s = ottl_arena_strndup(r->env->arena, b.p ? b.p : "", b.len))) {
        free(b.p);
        return OTC_ENOMEM;
    }
    out->len = b.len;
    free(b.p);
    return OTC_OK;
}

static int fn_int(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *out)
{
    struct ottl_val v;
    int rc;

    if ((rc = arg(r, c, 0, &v)) != OTC_OK) {
        return rc;
    }
    out->t = V_INT;
    switch (v.t) {
    case V_INT: out->i = v.i; break;
    case V_DBL:
        if (isnan(v.d) || v.d >= 9.3e18 || v.d <= -9.3e18) {
            out->t = V_NIL;
        } else {
            out->i = (int64_t)v.d;
        }
        break;
    case V_BOOL: out->i = v.b; break;
    case V_STR: {
        char *end;
        errno = 0;
        out->i = strtoll(v.s, &end, 10);
        if (errno || end == v.s || *end || v.len == 0) {
            out->t = V_NIL;
        }
        break;
    }
    default: out->t = V_NIL; break;
    }
    return OTC_OK;
}

static int fn_string(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *out)
{
    struct ottl_val v;
    int rc;

    if ((rc = arg(r, c, 0, &v)) != OTC_OK || v.t == V_NIL) {
        return rc;
    }
    out->t = V_STR;
    return (out->s = ottl_val_string(r->env->arena, &v, &out->len)) ? OTC_OK : OTC_ENOMEM;
}

static int fn_sha256(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *out)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    struct ottl_val v;
    char *h;
    int rc;

    if ((rc = arg(r, c, 0, &v)) != OTC_OK) {
        return rc;
    }
    if (v.t != V_STR) {
        return ottl_fail(r, "SHA256: expected a string, got %s", v.t == V_NIL ? "nil" : "another type");
    }
    if (!(h = otc_arena_alloc(r->env->arena, 2 * sizeof(md) + 1))) {
        return OTC_ENOMEM;
    }
    ottl_sha256(v.s, v.len, md);
    ottl_hex_lower(h, md, sizeof(md));
    out->t = V_STR;
    out->s = h;
    out->len = 2 * sizeof(md);
    return OTC_OK;
}

static int fn_len(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *out)
{
    struct ottl_val v;
    int rc;

    if ((rc = arg(r, c, 0, &v)) != OTC_OK) {
        return rc;
    }
    out->t = V_INT;
    switch (v.t) {
    case V_STR:
    case V_BYTES: out->i = (int64_t)v.len; return OTC_OK;
    case V_MAP:
    case V_ARR: out->i = (int64_t)v.n; return OTC_OK;
    default:
        return ottl_fail(r, "Len: unsupported type (a string, bytes, map or slice is needed)");
    }
}

/* The filter processor's metric-context functions: whether a data point of
 * the metric has attribute key (with the string value, for HasAttrOnDatapoint). */
static int fn_has_attr_on_datapoint(struct ottl_run *r, const struct ottl_node *c, struct ottl_val *out)
{
    const char *key = c->kids[0]->v.s, *want = c->n_kids > 1 ? c->kids[1]->v.s : NULL;
    ProtobufCMessage **pts;
    size_t n = 0;

    if (!r->env->metric) {
        return ottl_fail(r, "%s is only available in the metric context", c->fn->name);
    }
    out->t = V_BOOL;
    out->b = false;
    pts = otc_msg_points(r->env->metric, &n);
    for (size_t i = 0; i < n && !out->b; i++) {
        const struct ottl_point_head *p = (const struct ottl_point_head *)pts[i];
        const otc_key_value *kv = ottl_map_find(p->attributes, p->n_attributes, key, NULL);
        struct ottl_val v;
        if (!kv) {
            continue;
        }
        ottl_val_from_any(kv->value, &v);
        out->b = !want || (v.t == V_STR && !strcmp(v.s, want));
    }
    return OTC_OK;
}

/* ------------------------------------------------------------ table */

static const struct ottl_fn fns[] = {
    {"set", true, 2, 2, {A_PATH, A_ANY}, fn_set},
    {"delete_key", true, 2, 2, {A_PATH, A_STR}, fn_delete_key},
    {"delete_matching_keys", true, 2, 2, {A_PATH, A_REGEX}, fn_delete_matching_keys},
    {"keep_keys", true, 2, 2, {A_PATH, A_LIST}, fn_keep_keys},
    {"keep_matching_keys", true, 2, 2, {A_PATH, A_REGEX}, fn_keep_matching_keys},
    {"replace_pattern", true, 3, 5, {A_PATH, A_REGEX, A_ANY, A_FUNC, A_STR}, fn_replace_pattern},
    {"replace_all_patterns", true, 4, 6, {A_PATH, A_STR, A_REGEX, A_ANY, A_FUNC, A_STR},
     fn_replace_all_patterns},
    {"replace_match", true, 3, 5, {A_PATH, A_STR, A_ANY, A_FUNC, A_STR}, fn_replace_match},
    {"truncate_all", true, 2, 2, {A_PATH, A_INT}, fn_truncate_all},
    {"limit", true, 3, 3, {A_PATH, A_INT, A_LIST}, fn_limit},
    {"merge_maps", true, 3, 3, {A_PATH, A_ANY, A_STR}, fn_merge_maps},
    {"IsMatch", false, 2, 2, {A_ANY, A_REGEX}, fn_is_match},
    {"Concat", false, 2, 2, {A_LIST, A_ANY}, fn_concat},
    {"Int", false, 1, 1, {A_ANY}, fn_int},
    {"String", false, 1, 1, {A_ANY}, fn_string},
    {"SHA256", false, 1, 1, {A_ANY}, fn_sha256},
    {"Len", false, 1, 1, {A_ANY}, fn_len},
    {"HasAttrKeyOnDatapoint", false, 1, 1, {A_STR}, fn_has_attr_on_datapoint},
    {"HasAttrOnDatapoint", false, 2, 2, {A_STR, A_STR}, fn_has_attr_on_datapoint},
};

const struct ottl_fn *ottl_fn_find(const char *name)
{
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        if (!strcmp(fns[i].name, name)) {
            return &fns[i];
        }
    }
    return NULL;
}

static bool is_map_path(const struct ottl_node *n)
{
    return n->field == F_ATTRIBUTES || n->field == F_BODY;
}

static bool is_str_lit(const struct ottl_node *n)
{
    return n->kind == N_LIT && n->v.t == V_STR;
}

const char *ottl_fn_check(const struct ottl_node *call, size_t *bad)
{
    static char msg[200];
    const struct ottl_fn *fn = call->fn;
    const char *name = fn->name;

    if (call->n_kids < fn->min_args || call->n_kids > fn->max_args) {
        *bad = call->n_kids > fn->max_args ? fn->max_args : call->n_kids;
        if (fn->min_args == fn->max_args) {
            snprintf(msg, sizeof(msg), "takes %zu arguments, got %zu", fn->min_args, call->n_kids);
        } else {
            snprintf(msg, sizeof(msg), "takes %zu to %zu arguments, got %zu", fn->min_args,
                     fn->max_args, call->n_kids);
        }
        return msg;
    }
    for (size_t i = 0; i < call->n_kids; i++) {
        struct ottl_node *a = call->kids[i];
        *bad = i;
        switch (fn->args[i]) {
        case A_ANY:
            if (a->kind == N_LIST && strcmp(name, "Concat")) {
                return "a list is not supported as this argument";
            }
            if (a->kind == N_FUNCREF) {
                return "a function name is not a value";
            }
            break;
        case A_PATH:
            if (a->kind != N_PATH) {
                return "the first argument must be a path (the target)";
            }
            if (strcmp(name, "set") && strcmp(name, "replace_pattern") &&
                strcmp(name, "replace_match") && !is_map_path(a)) {
                return "the target must be a map (attributes, or a map inside them)";
            }
            break;
        case A_STR:
            if (!is_str_lit(a) && !(a->kind == N_LIT && a->v.t == V_NIL && i >= 4)) {
                return "expected a string literal";
            }
            break;
        case A_REGEX: {
            int err;
            PCRE2_SIZE off;
            if (!is_str_lit(a)) {
                return "expected a regular expression as a string literal";
            }
            /* MATCH_INVALID_UTF: subjects with broken UTF-8 are matched safely, JIT too */
            a->re = pcre2_compile((PCRE2_SPTR)a->v.s, a->v.len, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
                                  &err, &off, NULL);
            if (a->re) {
                pcre2_jit_compile(a->re, PCRE2_JIT_COMPLETE); /* interpreted when JIT is absent */
            }
            if (!a->re) {
                PCRE2_UCHAR e[120];
                pcre2_get_error_message(err, e, sizeof(e));
                snprintf(msg, sizeof(msg), "invalid regex \"%s\": %s at offset %zu", a->v.s,
                         (const char *)e, (size_t)off);
                return msg;
            }
            break;
        }
        case A_INT:
            if (a->kind != N_LIT || a->v.t != V_INT) {
                return "expected an integer literal";
            }
            if (a->v.i < 0) {
                snprintf(msg, sizeof(msg), "invalid limit for %s function, %" PRId64
                         " cannot be negative", name, a->v.i);
                return msg;
            }
            break;
        case A_LIST:
            if (a->kind != N_LIST) {
                return "expected a list such as [\"a\", \"b\"]";
            }
            for (size_t k = 0; strcmp(name, "Concat") && k < a->n_kids; k++) {
                if (!is_str_lit(a->kids[k])) {
                    return "expected a list of string literals";
                }
            }
            break;
        case A_FUNC:
            if (a->kind != N_FUNCREF) {
                return "expected a hash function name such as SHA256";
            }
            if (strcmp(a->fn->name, "SHA256")) {
                snprintf(msg, sizeof(msg), "function %s is not supported here (otelc offers SHA256)",
                         a->fn->name);
                return msg;
            }
            break;
        }
    }
    if (!strcmp(name, "limit") && (size_t)call->kids[1]->v.i < call->kids[2]->n_kids) {
        *bad = 1;
        snprintf(msg, sizeof(msg), "invalid limit for limit function, %" PRId64 " cannot be less "
                 "than number of priority attributes %zu", call->kids[1]->v.i, call->kids[2]->n_kids);
        return msg;
    }
    if (!strcmp(name, "replace_all_patterns") && strcmp(call->kids[1]->v.s, "key") &&
        strcmp(call->kids[1]->v.s, "value")) {
        *bad = 1;
        return "mode must be \"key\" or \"value\"";
    }
    if (!strcmp(name, "merge_maps") && strcmp(call->kids[2]->v.s, "insert") &&
        strcmp(call->kids[2]->v.s, "update") && strcmp(call->kids[2]->v.s, "upsert")) {
        *bad = 2;
        return "strategy must be \"insert\", \"update\" or \"upsert\"";
    }
    return NULL;
}
