/* otc_attr_limits.h - attribute limits shared by the truncate and transform
 * processors: UTF-8 safe string cuts, attribute-count limits, and a walk over
 * every attribute set of a decoded OTLP request. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_ATTR_LIMITS_H
#define OTC_INCLUDE_ATTR_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otc_otlp.h"
#include "otc_signal.h"

#define OTC_ATTR_NO_LIMIT   SIZE_MAX /* max_len / max_attrs: unlimited */
#define OTC_ATTR_MAX_DEPTH  64       /* values nested deeper are left as they are */

/* Where an attribute set lives (the OTTL context names where one exists). */
enum otc_attr_ctx {
    OTC_ACTX_RESOURCE,
    OTC_ACTX_SCOPE,
    OTC_ACTX_SPAN,
    OTC_ACTX_SPANEVENT,
    OTC_ACTX_SPANLINK,
    OTC_ACTX_LOG,
    OTC_ACTX_DATAPOINT,
    OTC_ACTX_EXEMPLAR,  /* filtered_attributes of a data point's exemplars */
    OTC_ACTX_LOG_BODY,  /* not an attribute set: 'body' is the log record's body */
    OTC_ACTX_COUNT
};

/* One attribute set as the walk hands it out. 'dropped' is NULL where OTLP has no
 * dropped_attributes_count (data points, exemplars). */
struct otc_attr_set {
    enum otc_attr_ctx   ctx;
    otc_key_value    ***kvs;
    size_t             *n;
    uint32_t           *dropped;
    otc_any_value      *body;   /* OTC_ACTX_LOG_BODY only */
};

/* Return true to stop the walk early (a read-only scan that found its answer). */
typedef bool (*otc_attr_visit_fn)(void *arg, const struct otc_attr_set *set);

/* Visit every attribute set of a decoded Export*ServiceRequest (and log bodies when
 * with_body). Pointers are handed out for writing; read-only callers must not write.
 * Returns true when a callback stopped the walk. */
bool otc_attr_walk(enum otc_signal s, ProtobufCMessage *req, bool with_body,
                   otc_attr_visit_fn fn, void *arg);

/* Length of the longest prefix of s[0..len) that is at most max bytes and does not
 * end inside a UTF-8 sequence (it backs off to the start of the cut sequence). */
size_t otc_utf8_cut(const char *s, size_t len, size_t max);

/* Strings of v longer than max bytes; nested: also inside arrays and kvlists
 * (up to OTC_ATTR_MAX_DEPTH levels). over_* only reads; cut_* writes a NUL at the
 * cut (the strings belong to the batch's arena) and returns how many it cut. */
bool   otc_value_over(const otc_any_value *v, size_t max, bool nested);
size_t otc_value_cut(otc_any_value *v, size_t max, bool nested);

/* Attribute set limits: string values (max_len, nested as above) and attribute
 * count (max_attrs; the first ones are kept and the others counted in *dropped
 * when dropped is not NULL). */
bool otc_attrs_over(otc_key_value *const *kvs, size_t n, size_t max_len, size_t max_attrs,
                    bool nested);
void otc_attrs_apply(otc_key_value **kvs, size_t *n, uint32_t *dropped, size_t max_len,
                     size_t max_attrs, bool nested);

/* otelcol OTTL limit(map, limit, priority_keys): keeps every attribute whose key is
 * in keep, and the first others while fewer than 'limit' are kept (the count starts
 * at the number of keep entries present). Does not touch dropped counts, as OTTL. */
bool otc_attrs_limit_over(otc_key_value *const *kvs, size_t n, size_t limit,
                          char *const *keep, size_t n_keep);
void otc_attrs_limit_apply(otc_key_value **kvs, size_t *n, size_t limit,
                           char *const *keep, size_t n_keep);

#endif
