/* pb_keep.c - the traversal layer's keep / drop helper for serialized
 * requests: writes a request without the items (or metric data points) marked
 * dropped and without the containers they leave empty; everything else goes on
 * as it arrived. Reentrant; runs on whichever thread holds the batch. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "otc/otc_batch.h"
#include "otc/otc_pb_walk.h"
#include "otc/otc_rc.h"

#include <stddef.h>
#include <string.h>

/* Every request has one shape: request.1 -> Resource*; Resource*.1 Resource,
 * .2 Scope* container, .3 schema_url; container.1 InstrumentationScope, .2
 * items (Span, Metric, LogRecord), .3 schema_url. The walk needs no
 * signal-specific field numbers, except inside a Metric. */
enum {
    HEAD_MSG = 1,    /* Resource* .resource, Scope* .scope */
    CHILD = 2,       /* Resource* .scope_*, Scope* .spans / .metrics / .log_records */
    HEAD_SCHEMA = 3, /* both: schema_url */
    METRIC_NAME = 1,
    DATA_POINTS = 1, /* Gauge, Sum, ... .data_points */
};

/* ------------------------------------------------------------ filtering */

static uint8_t *put_varint(uint8_t *o, size_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

static size_t varint_size(size_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* The data message of a Metric (data..end) without its dropped points,
 * written to out (when not NULL): returns its length (SIZE_MAX when
 * malformed) and counts its points in *n and the kept ones in *k. Other
 * fields and kept points go on as they arrived. */
static size_t keep_data(const uint8_t *p, const uint8_t *end, const uint8_t *keep, size_t *idx,
                        uint8_t *out, size_t *n, size_t *k)
{
    size_t len = 0;
    struct otc_pb_field f;
    int r;

    for (const uint8_t *start = p; (r = otc_pb_next_field(&p, end, &f)) > 0; start = p) {
        if (f.num == DATA_POINTS && f.wt == 2) {
            size_t i = (*idx)++;

            (*n)++;
            if (keep && !keep[i]) {
                continue;
            }
            (*k)++;
        }
        if (out) {
            memcpy(out + len, start, (size_t)(p - start));
        }
        len += (size_t)(p - start);
    }
    return r < 0 ? SIZE_MAX : len;
}

/* A Metric (p, len) without its dropped points, written to out (when not
 * NULL), its length in *mlen: 1 kept (as it arrived when it keeps every point
 * or had none), 0 dropped (all its points were), -1 malformed. */
static int keep_metric(const uint8_t *p, size_t len, const uint8_t *keep, size_t *idx,
                       uint8_t *out, size_t *mlen)
{
    const uint8_t *end = p + len, *q = p, *data = NULL;
    size_t first = *idx, data_len = 0, dl = 0, n = 0, k = 0, total = 0;
    uint32_t type = 0;
    struct otc_pb_field f;
    int r;

    while ((r = otc_pb_next_field(&q, end, &f)) > 0) {
        if (otc_pb_is_metric_type(f.num)) {
            if (f.wt != 2 || data) {
                return -1; /* as read_metric: the walk refuses it too */
            }
            data = f.p;
            data_len = f.len;
            type = f.num;
        }
    }
    if (r < 0 || (data && (dl = keep_data(data, data + data_len, keep, idx, NULL, &n, &k)) ==
                              SIZE_MAX)) {
        return -1;
    }
    if (n > 0 && k == 0) {
        return 0;
    }
    if (k == n) {
        if (out) {
            memcpy(out, p, len);
        }
        *mlen = len;
        return 1;
    }
    q = p;
    for (const uint8_t *start = q; otc_pb_next_field(&q, end, &f) > 0; start = q) {
        if (f.p != data || f.num != type) {
            if (out) {
                memcpy(out + total, start, (size_t)(q - start));
            }
            total += (size_t)(q - start);
            continue;
        }
        if (out) {
            uint8_t *o = out + total;
            size_t at = first, n2 = 0, k2 = 0;

            *o++ = (uint8_t)(type << 3 | 2);
            o = put_varint(o, dl);
            keep_data(data, data + data_len, keep, &at, o, &n2, &k2);
        }
        total += 1 + varint_size(dl) + dl;
    }
    *mlen = total;
    return 1;
}

/* The sizes of a Resource* container's Scope* containers, found when the
 * container is sized and used when it is written right after (so that its
 * items are read twice, not three times): up to MEMO_SCOPES of them. */
#define MEMO_SCOPES 32
struct scope_memo {
    size_t len;   /* its new length (0: left out) */
    size_t items; /* the items (data points) in it */
    size_t edits; /* the edits of its items */
};

/* What a pass over a request writes: the keep decisions (NULL: keep all), the
 * edits of traces and logs items, and where the pass is in both. */
struct keep_pass {
    const uint8_t            *keep;
    const struct otc_pb_edit *edits;
    size_t                    n_edits;
    size_t                    idx; /* items seen, in walk order */
    size_t                    ei;  /* edits applied */
    bool                      metrics;
    bool                      memo_valid; /* memo holds the container written next */
    size_t                    n_memo, mi;
    struct scope_memo         memo[MEMO_SCOPES];
};

/* An item with its edit applied, written to out: its new length (SIZE_MAX
 * when a splice does not fit the item). */
static size_t edit_item(const uint8_t *p, size_t len, const struct otc_pb_edit *e, uint8_t *out)
{
    size_t at = 0, n = 0;

    for (size_t i = 0; i < e->n_splices; i++) {
        const struct otc_pb_splice *sp = &e->splices[i];

        if (sp->from < at || sp->to < sp->from || sp->to > len) {
            return SIZE_MAX;
        }
        if (out) {
            memcpy(out + n, p + at, sp->from - at);
            memcpy(out + n + (sp->from - at), sp->data, sp->n);
        }
        n += sp->from - at + sp->n;
        at = sp->to;
    }
    if (out) {
        memcpy(out + n, p + at, len - at);
    }
    return n + len - at;
}

/* The content of the message at p..end at nesting level (0 request, 1
 * Resource*, 2 Scope* container) without the dropped items and emptied
 * containers, with the edited items changed, written to out (when not NULL).
 * Returns its length; 0 for a container left without items (dropped),
 * SIZE_MAX when malformed. */
static size_t keep_level(const uint8_t *p, const uint8_t *end, int level, struct keep_pass *k,
                         uint8_t *out)
{
    const uint32_t child = level == 0 ? 1 : 2; /* request.1 Resource*, Resource*.2 / Scope*.2 */
    size_t n = 0;
    bool any = false, memo_over = false, use_memo = false;
    struct otc_pb_field f;
    int r;

    if (level == 1 && !out) {
        k->n_memo = 0;
        k->memo_valid = false;
    } else if (level == 1) {
        use_memo = k->memo_valid;
        k->memo_valid = false;
        k->mi = 0;
    }

    for (const uint8_t *start = p; (r = otc_pb_next_field(&p, end, &f)) > 0; start = p) {
        const struct otc_pb_edit *e = NULL;
        size_t clen;

        if (f.num != child || f.wt != 2) {
            if (out) { /* any other field goes on as it arrived */
                memcpy(out + n, start, (size_t)(p - start));
            }
            n += (size_t)(p - start);
            continue;
        }
        if (level == 2 && k->metrics) {
            size_t first = k->idx;
            int kr = keep_metric(f.p, f.len, k->keep, &k->idx, NULL, &clen);

            if (kr < 0) {
                return SIZE_MAX;
            }
            if (kr == 0) {
                continue;
            }
            if (out) {
                k->idx = first;
            }
        } else if (level == 2) {
            size_t i = k->idx++;

            if (k->keep && !k->keep[i]) {
                continue;
            }
            clen = f.len;
            if (k->ei < k->n_edits && k->edits[k->ei].item == i) {
                e = &k->edits[k->ei++];
                if ((clen = edit_item(f.p, f.len, e, NULL)) == SIZE_MAX) {
                    return SIZE_MAX;
                }
            }
        } else if (use_memo && k->mi < k->n_memo) {
            const struct scope_memo *m = &k->memo[k->mi++];

            clen = m->len;
            if (clen == 0) { /* left out: past its items */
                k->idx += m->items;
                k->ei += m->edits;
                continue;
            }
        } else {
            size_t first = k->idx, first_edit = k->ei;
            clen = keep_level(f.p, f.p + f.len, level + 1, k, NULL);
            if (clen == SIZE_MAX) {
                return SIZE_MAX;
            }
            if (level == 1 && !out) {
                if (k->n_memo < MEMO_SCOPES) {
                    k->memo[k->n_memo++] = (struct scope_memo){clen, k->idx - first,
                                                               k->ei - first_edit};
                } else {
                    memo_over = true;
                }
            }
            if (clen == 0) {
                continue;
            }
            if (out) {
                k->idx = first;
                k->ei = first_edit;
            }
        }
        any = true;
        if (out) {
            uint8_t *o = out + n;
            *o++ = (uint8_t)(child << 3 | 2);
            o = put_varint(o, clen);
            if (level == 2 && k->metrics) {
                keep_metric(f.p, f.len, k->keep, &k->idx, o, &clen);
            } else if (e) {
                edit_item(f.p, f.len, e, o);
            } else if (level == 2) {
                memcpy(o, f.p, clen);
            } else {
                keep_level(f.p, f.p + f.len, level + 1, k, o);
            }
        }
        n += 1 + varint_size(clen) + clen;
    }
    if (r < 0) {
        return SIZE_MAX;
    }
    if (level == 1 && !out) {
        k->memo_valid = !memo_over;
    }
    return level > 0 && !any ? 0 : n;
}

size_t otc_pb_keep_items(enum otc_signal s, const uint8_t *buf, size_t len, const uint8_t *keep,
                         uint8_t *out)
{
    struct keep_pass k = {.keep = keep, .metrics = s == OTC_METRICS};

    if (!buf) {
        return 0;
    }
    return keep_level(buf, buf + len, 0, &k, out);
}

size_t otc_pb_edit_items(enum otc_signal s, const uint8_t *buf, size_t len, const uint8_t *keep,
                         const struct otc_pb_edit *edits, size_t n_edits, uint8_t *out)
{
    struct keep_pass k = {.keep = keep, .edits = edits, .n_edits = n_edits};
    size_t n;

    if (s == OTC_METRICS && n_edits) {
        return SIZE_MAX; /* items are Metrics there, kept by their points */
    }
    k.metrics = s == OTC_METRICS;
    if (!buf) {
        return n_edits ? SIZE_MAX : 0;
    }
    n = keep_level(buf, buf + len, 0, &k, out);
    /* every edit names a kept item, in order */
    return n != SIZE_MAX && k.ei == n_edits ? n : SIZE_MAX;
}
