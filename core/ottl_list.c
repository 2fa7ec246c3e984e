/* ottl_list.c - compiles a component's OTTL option (a list of statements or
 * conditions in otelcol's flat or grouped form) into entries that carry their
 * context, group conditions and error_mode, with errors that point at the
 * list item and the character in it. Main thread, at start-up. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ottl_internal.h"

#define STMT_QUOTE 60 /* characters of a statement quoted in an error */

const char *const otc_ottl_error_modes[] = {"propagate", "ignore", "silent", NULL};

void otc_ottl_list_free(struct otc_ottl_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        otc_ottl_free(l->v[i].o);
    }
    for (size_t i = 0; i < l->n_conds; i++) {
        otc_ottl_free(l->conds[i]);
    }
    free(l->v);
    free(l->conds);
    memset(l, 0, sizeof(*l));
}

static int list_fail(char *err, size_t errlen, const char *name, long idx, const char *text,
                     const char *what, size_t pos)
{
    size_t len = strlen(text);

    snprintf(err, errlen, "%s[%ld]: \"%.*s%s\": %s at character %zu of the %s", name, idx,
             STMT_QUOTE, text, len > STMT_QUOTE ? "..." : "", what, pos + 1,
             strstr(name, "condition") || strchr(name, '.') ? "condition" : "statement");
    return OTC_EINVAL;
}

/* A group without a context runs in the narrowest context any of its
 * statements and conditions names (otelcol's context inference for groups). */
static int group_context(const struct otc_strlist *src, size_t from, long group, enum otc_signal s,
                         bool conditions, enum otc_ottl_ctx *out, struct otc_ottl_error *pe,
                         const char **text)
{
    static const int rank[OTC_OTTL_CTX_COUNT] = {0, 1, 2, 3, 2, 3, 2};
    int best = -1;

    for (size_t i = from; i < src->n; i++) {
        struct otc_ottl_item it;
        struct otc_ottl *o;
        enum otc_ottl_ctx c;

        otc_ottl_item_split(src->v[i], &it);
        if (it.group != group) {
            break;
        }
        o = it.condition || conditions ? otc_ottl_parse_condition(it.text, s, OTC_OTTL_CTX_INFER, pe)
                                       : otc_ottl_parse_statement(it.text, s, OTC_OTTL_CTX_INFER, pe);
        if (!o) {
            *text = it.text;
            return OTC_EINVAL;
        }
        c = otc_ottl_context(o);
        otc_ottl_free(o);
        if (rank[c] > best) {
            best = rank[c];
            *out = c;
        }
    }
    return OTC_OK;
}

int otc_ottl_list_compile(const struct otc_strlist *src, const char *name, enum otc_signal s,
                          bool conditions, enum otc_ottl_ctx ctx, struct otc_ottl_list *out,
                          char *err, size_t errlen)
{
    long yidx = -1, group = -2;
    enum otc_ottl_ctx gctx = ctx; /* the current group's inferred context */
    bool new_group;
    size_t group_first = 0;

    memset(out, 0, sizeof(*out));
    if (src->n && (!(out->v = calloc(src->n, sizeof(*out->v))) ||
                   !(out->conds = calloc(src->n, sizeof(*out->conds))))) {
        snprintf(err, errlen, "out of memory");
        otc_ottl_list_free(out);
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < src->n; i++) {
        struct otc_ottl_item it;
        struct otc_ottl_error pe;
        enum otc_ottl_ctx c = ctx;
        struct otc_ottl *o;
        int mode = -1;

        otc_ottl_item_split(src->v[i], &it);
        if (it.group < 0) {
            yidx++;
            group = -2;
        } else {
            char cname[64];
            yidx = it.group;
            new_group = it.group != group;
            if (new_group) { /* a new group: its conditions come first */
                group = it.group;
                group_first = out->n_conds;
            }
            snprintf(cname, sizeof(cname), "%.*s", (int)it.context_len, it.context);
            if (!*cname) {
                const char *bad = it.text;
                if (new_group &&
                    group_context(src, i, it.group, s, conditions, &gctx, &pe, &bad) != OTC_OK) {
                    otc_ottl_list_free(out);
                    return list_fail(err, errlen, name, yidx, bad, pe.msg, pe.pos);
                }
                c = gctx;
            } else if (otc_ottl_ctx_parse(cname, s, &c) != OTC_OK) {
                snprintf(err, errlen, "%s[%ld]: unknown context \"%s\" for %s (contexts: %s)", name,
                         yidx, cname, otc_signal_name(s),
                         s == OTC_TRACES ? "resource, scope, span, spanevent"
                         : s == OTC_METRICS ? "resource, scope, metric, datapoint"
                                            : "resource, scope, log");
                otc_ottl_list_free(out);
                return OTC_EINVAL;
            }
            if (it.error_mode) {
                for (mode = 0; otc_ottl_error_modes[mode]; mode++) {
                    if (strlen(otc_ottl_error_modes[mode]) == it.error_mode_len &&
                        !strncmp(otc_ottl_error_modes[mode], it.error_mode, it.error_mode_len)) {
                        break;
                    }
                }
                if (!otc_ottl_error_modes[mode]) {
                    snprintf(err, errlen, "%s[%ld]: error_mode \"%.*s\" is not one of propagate, "
                             "ignore, silent", name, yidx, (int)it.error_mode_len, it.error_mode);
                    otc_ottl_list_free(out);
                    return OTC_EINVAL;
                }
            }
        }
        if (it.condition && !conditions) { /* a group condition of statements */
            if (!(o = otc_ottl_parse_condition(it.text, s, c, &pe))) {
                otc_ottl_list_free(out);
                return list_fail(err, errlen, name, yidx, it.text, pe.msg, pe.pos);
            }
            out->conds[out->n_conds++] = o;
            continue;
        }
        o = conditions ? otc_ottl_parse_condition(it.text, s, c, &pe)
                       : otc_ottl_parse_statement(it.text, s, c, &pe);
        if (!o) {
            otc_ottl_list_free(out);
            return list_fail(err, errlen, name, yidx, it.text, pe.msg, pe.pos);
        }
        out->v[out->n].o = o;
        out->v[out->n].error_mode = mode;
        if (it.group >= 0 && !conditions) {
            out->v[out->n].cond_first = group_first;
            out->v[out->n].n_conds = out->n_conds - group_first;
        }
        out->n++;
    }
    return OTC_OK;
}

int otc_ottl_entry_applies(const struct otc_ottl_list *l, const struct otc_ottl_entry *e,
                           const struct otc_ottl_env *env, bool *yes, char *why, size_t whylen)
{
    *yes = e->n_conds == 0;
    for (size_t i = 0; i < e->n_conds && !*yes; i++) {
        int rc = otc_ottl_eval(l->conds[e->cond_first + i], env, yes, why, whylen);
        if (rc != OTC_OK) {
            return rc;
        }
    }
    return OTC_OK;
}
