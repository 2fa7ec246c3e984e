/* lb_split.c - the load_balancing exporter's split of a serialized traces or
 * logs request into one request per backend, in one pass over the request
 * whatever the number of backends: every item (Span, LogRecord) is copied
 * once, into its backend's request; the containers' own fields (resource,
 * scope, schema_url, any other) go to each request that has items in them,
 * in the order they came. Runs on the exporter threads. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "lb_internal.h"
#include "otc/otc_pb_walk.h"

/* request.1 -> Resource*; Resource*.2 -> Scope*; Scope*.2 -> items (traces and logs) */
enum { CHILD_RES = 1, CHILD = 2 };

struct split {
    const uint16_t *own;
    size_t          n_items, n_shares;
    size_t          idx;       /* the next item's index */
    size_t         *s_len;     /* per share: the current Scope*'s length */
    size_t         *r_len;     /* per share: the current Resource*'s length */
    uint16_t       *s_have;    /* shares with items in the current Scope* */
    size_t          n_s_have;
    uint16_t       *r_have;    /* ... in the current Resource* */
    size_t          n_r_have;
    uint8_t       **cur;       /* per share: where its request is written */
};

static size_t varint_size(size_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_field(uint8_t *o, uint32_t num, size_t len)
{
    *o++ = (uint8_t)(num << 3 | 2);
    while (len >= 0x80) {
        *o++ = (uint8_t)(len | 0x80);
        len >>= 7;
    }
    *o++ = (uint8_t)len;
    return o;
}

/* s_len and s_have of the Scope* at p, whose first item has index first:
 * what each share's copy of it holds. */
static int scope_sizes(struct split *sp, const uint8_t *p, size_t len, size_t first)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    size_t other = 0, idx = first;
    int r;

    for (size_t i = 0; i < sp->n_s_have; i++) {
        sp->s_len[sp->s_have[i]] = 0;
    }
    sp->n_s_have = 0;
    for (const uint8_t *start = p; (r = otc_pb_next_field(&p, end, &f)) > 0; start = p) {
        size_t bytes = (size_t)(p - start);
        uint16_t k;

        if (f.num != CHILD || f.wt != 2) {
            other += bytes;
            continue;
        }
        if (idx >= sp->n_items) {
            return OTC_EINVAL;
        }
        if ((k = sp->own[idx++]) == 0xffff) {
            continue;
        }
        if (k >= sp->n_shares) {
            return OTC_EINVAL;
        }
        if (sp->s_len[k] == 0) {
            sp->s_have[sp->n_s_have++] = k;
        }
        sp->s_len[k] += bytes;
    }
    if (r < 0) {
        return OTC_EINVAL;
    }
    for (size_t i = 0; i < sp->n_s_have; i++) {
        sp->s_len[sp->s_have[i]] += other;
    }
    return OTC_OK;
}

/* The items of the Scope* at p (the container holds n of them). */
static size_t scope_items(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    size_t n = 0;

    while (otc_pb_next_field(&p, end, &f) > 0) {
        n += f.num == CHILD && f.wt == 2;
    }
    return n;
}

/* r_len and r_have of the Resource* at p, its items starting at sp->idx. */
static int resource_sizes(struct split *sp, const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    size_t other = 0, idx = sp->idx;
    int r;

    for (size_t i = 0; i < sp->n_r_have; i++) {
        sp->r_len[sp->r_have[i]] = 0;
    }
    sp->n_r_have = 0;
    for (const uint8_t *start = p; (r = otc_pb_next_field(&p, end, &f)) > 0; start = p) {
        if (f.num != CHILD || f.wt != 2) {
            other += (size_t)(p - start);
            continue;
        }
        if (scope_sizes(sp, f.p, f.len, idx) != OTC_OK) {
            return OTC_EINVAL;
        }
        idx += scope_items(f.p, f.len);
        for (size_t i = 0; i < sp->n_s_have; i++) {
            uint16_t k = sp->s_have[i];
            if (sp->r_len[k] == 0) {
                sp->r_have[sp->n_r_have++] = k;
            }
            sp->r_len[k] += 1 + varint_size(sp->s_len[k]) + sp->s_len[k];
        }
    }
    if (r < 0) {
        return OTC_EINVAL;
    }
    for (size_t i = 0; i < sp->n_r_have; i++) {
        sp->r_len[sp->r_have[i]] += other;
    }
    return OTC_OK;
}

/* Write the Scope* at p into the requests of the shares that have items in it. */
static int scope_write(struct split *sp, const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;

    if (scope_sizes(sp, p, len, sp->idx) != OTC_OK) {
        return OTC_EINVAL;
    }
    for (size_t i = 0; i < sp->n_s_have; i++) {
        uint16_t k = sp->s_have[i];
        sp->cur[k] = put_field(sp->cur[k], CHILD, sp->s_len[k]);
    }
    for (const uint8_t *start = p; otc_pb_next_field(&p, end, &f) > 0; start = p) {
        size_t bytes = (size_t)(p - start);

        if (f.num == CHILD && f.wt == 2) {
            uint16_t k = sp->own[sp->idx++];
            if (k != 0xffff) {
                memcpy(sp->cur[k], start, bytes);
                sp->cur[k] += bytes;
            }
            continue;
        }
        for (size_t i = 0; i < sp->n_s_have; i++) {
            uint16_t k = sp->s_have[i];
            memcpy(sp->cur[k], start, bytes);
            sp->cur[k] += bytes;
        }
    }
    return OTC_OK;
}

static int resource_write(struct split *sp, const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    uint16_t *have;
    size_t n_have;

    if (resource_sizes(sp, p, len) != OTC_OK) {
        return OTC_EINVAL;
    }
    for (size_t i = 0; i < sp->n_r_have; i++) {
        uint16_t k = sp->r_have[i];
        sp->cur[k] = put_field(sp->cur[k], CHILD_RES, sp->r_len[k]);
    }
    /* r_have stays as it is while the scopes use s_have */
    have = sp->r_have;
    n_have = sp->n_r_have;
    for (const uint8_t *start = p; otc_pb_next_field(&p, end, &f) > 0; start = p) {
        size_t bytes = (size_t)(p - start);

        if (f.num == CHILD && f.wt == 2) {
            if (scope_write(sp, f.p, f.len) != OTC_OK) {
                return OTC_EINVAL;
            }
            continue;
        }
        for (size_t i = 0; i < n_have; i++) {
            memcpy(sp->cur[have[i]], start, bytes);
            sp->cur[have[i]] += bytes;
        }
    }
    return OTC_OK;
}

int lb_split(const uint8_t *buf, size_t len, const uint16_t *own, size_t n_items,
             const size_t *count, size_t n_shares, uint8_t **out, size_t *out_len)
{
    const uint8_t *p = buf, *end = buf + len;
    struct otc_pb_field f;
    struct split sp = {.own = own, .n_items = n_items, .n_shares = n_shares};
    uint16_t *all = malloc((n_shares ? n_shares : 1) * sizeof(*all));
    size_t n_all = 0;
    int rc = OTC_ENOMEM, r;

    sp.s_len = calloc(n_shares, sizeof(*sp.s_len));
    sp.r_len = calloc(n_shares, sizeof(*sp.r_len));
    sp.s_have = malloc(n_shares * sizeof(*sp.s_have));
    sp.r_have = malloc(n_shares * sizeof(*sp.r_have));
    sp.cur = malloc(n_shares * sizeof(*sp.cur));
    if (!all || !sp.s_len || !sp.r_len || !sp.s_have || !sp.r_have || !sp.cur) {
        goto out;
    }
    for (size_t k = 0; k < n_shares; k++) {
        sp.cur[k] = out ? out[k] : NULL;
        if (count[k]) {
            all[n_all++] = (uint16_t)k;
        }
        if (!out) {
            out_len[k] = 0;
        }
    }
    rc = OTC_EINVAL;
    for (const uint8_t *start = p; (r = otc_pb_next_field(&p, end, &f)) > 0; start = p) {
        size_t bytes = (size_t)(p - start);

        if (f.num == CHILD_RES && f.wt == 2) {
            if (out) {
                if (resource_write(&sp, f.p, f.len) != OTC_OK) {
                    goto out;
                }
                continue;
            }
            /* sizes only: each share's copy of this Resource* */
            if (resource_sizes(&sp, f.p, f.len) != OTC_OK) {
                goto out;
            }
            for (size_t i = 0; i < sp.n_r_have; i++) {
                uint16_t k = sp.r_have[i];
                out_len[k] += 1 + varint_size(sp.r_len[k]) + sp.r_len[k];
            }
            {
                const uint8_t *q = f.p, *qe = f.p + f.len;
                struct otc_pb_field g;
                while (otc_pb_next_field(&q, qe, &g) > 0) {
                    if (g.num == CHILD && g.wt == 2) {
                        sp.idx += scope_items(g.p, g.len);
                    }
                }
            }
            continue;
        }
        for (size_t i = 0; i < n_all; i++) { /* any other field of the request */
            if (out) {
                memcpy(sp.cur[all[i]], start, bytes);
                sp.cur[all[i]] += bytes;
            } else {
                out_len[all[i]] += bytes;
            }
        }
    }
    if (r < 0 || sp.idx != n_items) {
        goto out;
    }
    for (size_t k = 0; out && k < n_shares; k++) {
        out_len[k] = out[k] ? (size_t)(sp.cur[k] - out[k]) : 0;
    }
    rc = OTC_OK;
out:
    free(all);
    free(sp.s_len);
    free(sp.r_len);
    free(sp.s_have);
    free(sp.r_have);
    free(sp.cur);
    return rc;
}
