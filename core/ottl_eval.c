/* ottl_eval.c - the OTTL evaluator: compares values as OTTL does, evaluates
 * conditions and runs statements on one decoded item. Runs on the pipeline
 * worker thread that holds the batch. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ottl_internal.h"

int ottl_fail(struct ottl_run *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->why, r->whylen, fmt, ap);
    va_end(ap);
    return OTC_EINVAL;
}

/* ------------------------------------------------------------ expressions */

static bool num(const struct ottl_val *v, double *d)
{
    if (v->t == V_INT) {
        *d = (double)v->i;
        return true;
    }
    if (v->t == V_DBL) {
        *d = v->d;
        return true;
    }
    return false;
}

static bool order(int c, enum ottl_cmp op)
{
    switch (op) {
    case CMP_EQ: return c == 0;
    case CMP_NE: return c != 0;
    case CMP_LT: return c < 0;
    case CMP_LE: return c <= 0;
    case CMP_GT: return c > 0;
    default: return c >= 0;
    }
}

static bool vals_equal(const struct ottl_val *a, const struct ottl_val *b, int depth);

static bool any_equal(const otc_any_value *x, const otc_any_value *y, int depth)
{
    struct ottl_val a, b;

    ottl_val_from_any(x, &a);
    ottl_val_from_any(y, &b);
    return vals_equal(&a, &b, depth + 1);
}

/* Deep equality of maps (order-insensitive) and arrays. */
static bool vals_equal(const struct ottl_val *a, const struct ottl_val *b, int depth)
{
    double x, y;

    if (depth > 64) {
        return false;
    }
    if (num(a, &x) && num(b, &y)) {
        return a->t == b->t ? (a->t == V_INT ? a->i == b->i : x == y) : x == y;
    }
    if (a->t != b->t) {
        return false;
    }
    switch (a->t) {
    case V_NIL: return true;
    case V_BOOL: return a->b == b->b;
    case V_STR:
    case V_BYTES: return a->len == b->len && (!a->len || !memcmp(a->s, b->s, a->len));
    case V_MAP:
        if (a->n != b->n) {
            return false;
        }
        for (size_t i = 0; i < a->n; i++) {
            const otc_key_value *o = ottl_map_find(b->kvs, b->n, a->kvs[i]->key, NULL);
            if (!o || !any_equal(a->kvs[i]->value, o->value, depth)) {
                return false;
            }
        }
        return true;
    case V_ARR:
        if (a->n != b->n) {
            return false;
        }
        for (size_t i = 0; i < a->n; i++) {
            if (!any_equal(a->vals[i], b->vals[i], depth)) {
                return false;
            }
        }
        return true;
    default:
        return false;
    }
}

/* OTTL's comparison rules: nil equals only nil; ints and floats compare as
 * numbers; strings and bytes compare bytewise; bools, maps and arrays only
 * for (in)equality; values of different types are never equal, never ordered. */
static bool compare(const struct ottl_val *a, const struct ottl_val *b, enum ottl_cmp op)
{
    double x, y;

    if (op == CMP_EQ || op == CMP_NE) {
        return vals_equal(a, b, 0) == (op == CMP_EQ);
    }
    if (num(a, &x) && num(b, &y)) {
        if (a->t == V_INT && b->t == V_INT) {
            return order(a->i < b->i ? -1 : a->i > b->i, op);
        }
        return order(x < y ? -1 : x > y, op);
    }
    if (a->t != b->t) {
        return false;
    }
    if (a->t == V_STR || a->t == V_BYTES) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->s, b->s, n) : 0;
        return order(c ? c : (a->len < b->len ? -1 : a->len > b->len), op);
    }
    return false;
}

int ottl_eval_node(struct ottl_run *r, const struct ottl_node *n, struct ottl_val *out)
{
    switch (n->kind) {
    case N_LIT:
        *out = n->v;
        return OTC_OK;
    case N_PATH:
        return ottl_path_get(r, n, out);
    case N_CALL:
        memset(out, 0, sizeof(*out));
        return n->fn->impl(r, n, out);
    case N_CMP:
    case N_AND:
    case N_OR:
    case N_NOT: {
        int rc;
        memset(out, 0, sizeof(*out));
        out->t = V_BOOL;
        rc = ottl_eval_bool(r, n, &out->b);
        return rc;
    }
    default:
        return ottl_fail(r, "a %s cannot be used as a value", n->kind == N_LIST ? "list" : "function");
    }
}

int ottl_eval_bool(struct ottl_run *r, const struct ottl_node *n, bool *out)
{
    struct ottl_val a, b;
    int rc;

    switch (n->kind) {
    case N_CMP:
        if ((rc = ottl_eval_node(r, n->kids[0], &a)) != OTC_OK ||
            (rc = ottl_eval_node(r, n->kids[1], &b)) != OTC_OK) {
            return rc;
        }
        *out = compare(&a, &b, n->op);
        return OTC_OK;
    case N_AND:
    case N_OR:
        for (size_t i = 0; i < n->n_kids; i++) {
            if ((rc = ottl_eval_bool(r, n->kids[i], out)) != OTC_OK) {
                return rc;
            }
            if (*out == (n->kind == N_OR)) {
                return OTC_OK; /* short-circuit */
            }
        }
        return OTC_OK;
    case N_NOT:
        if ((rc = ottl_eval_bool(r, n->kids[0], out)) != OTC_OK) {
            return rc;
        }
        *out = !*out;
        return OTC_OK;
    default:
        if ((rc = ottl_eval_node(r, n, &a)) != OTC_OK) {
            return rc;
        }
        if (a.t != V_BOOL) {
            return ottl_fail(r, "expected a boolean value");
        }
        *out = a.b;
        return OTC_OK;
    }
}

int otc_ottl_eval(const struct otc_ottl *o, const struct otc_ottl_env *env, bool *result,
                  char *why, size_t whylen)
{
    struct ottl_run r = {.env = (struct otc_ottl_env *)env, .why = why, .whylen = whylen};

    if (!o->cond) {
        *result = true;
        return OTC_OK;
    }
    return ottl_eval_bool(&r, o->cond, result);
}

int otc_ottl_exec(const struct otc_ottl *o, struct otc_ottl_env *env, bool *changed, char *why,
                  size_t whylen)
{
    struct ottl_run r = {.env = env, .why = why, .whylen = whylen};
    struct ottl_val out;
    bool yes = true;
    int rc;

    if (o->cond && (rc = ottl_eval_bool(&r, o->cond, &yes)) != OTC_OK) {
        return rc;
    }
    if (!yes || !o->call) {
        return OTC_OK;
    }
    rc = o->call->fn->impl(&r, o->call, &out);
    if (changed) {
        *changed |= r.changed;
    }
    return rc;
}

bool otc_ottl_attr_keys(const struct otc_ottl *o, enum otc_ottl_ctx c, const char *const **keys,
                        size_t *n)
{
    *keys = o->attr_keys[c];
    *n = o->n_attr_keys[c];
    return !(o->whole_attrs & (1u << c));
}

enum otc_ottl_ctx otc_ottl_context(const struct otc_ottl *o)
{
    return o->ctx;
}

const char *otc_ottl_editor(const struct otc_ottl *o)
{
    return o->call ? o->call->fn->name : NULL;
}
