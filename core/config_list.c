/* config_list.c - the option types whose YAML is more than a scalar or a
 * string list: a sequence of mappings read element by element with a nested
 * option table (OTC_CFG_LIST), and a value of any shape typed as otelcol's
 * YAML decoding types it (OTC_CFG_ANY). Main thread, while a config is loaded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "otc/otc_rc.h"

#define KEY_MAX 256

static int value_read(struct otc_yaml *y, yaml_node_t *n, struct otc_cfg_value *out, unsigned depth)
{
    size_t count, i = 0;

    memset(out, 0, sizeof(*out));
    if (!n || depth > 64) {
        return OTC_EINVAL;
    }
    if (n->type == YAML_SCALAR_NODE) {
        return otc_cfg_value_scalar(out, (const char *)n->data.scalar.value,
                                    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE);
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        out->kind = OTC_VAL_LIST;
        out->items = calloc(count ? count : 1, sizeof(*out->items));
        if (!out->items) {
            return OTC_ENOMEM;
        }
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            int rc = value_read(y, otc_yaml_node(y, *it), &out->items[i], depth + 1);
            out->n = ++i;
            if (rc != OTC_OK) {
                return rc;
            }
        }
        return OTC_OK;
    }
    count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    out->kind = OTC_VAL_MAP;
    out->items = calloc(count ? count : 1, sizeof(*out->items));
    out->keys = calloc(count ? count : 1, sizeof(*out->keys));
    if (!out->items || !out->keys) {
        return OTC_ENOMEM;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = otc_yaml_str(otc_yaml_node(y, p->key));
        int rc;

        if (!k) {
            return OTC_EINVAL;
        }
        if (!(out->keys[i] = strdup(k))) {
            return OTC_ENOMEM;
        }
        rc = value_read(y, otc_yaml_node(y, p->value), &out->items[i], depth + 1);
        out->n = ++i;
        if (rc != OTC_OK) {
            return rc;
        }
    }
    return OTC_OK;
}

static int apply_list(struct otc_yaml *y, yaml_node_t *val, const char *what, const char *key,
                      const struct otc_config_entry *e, void *ctx, struct otc_diag *d)
{
    struct otc_cfg_list *l = (struct otc_cfg_list *)((char *)ctx + e->offset);
    int rc = OTC_OK;

    if (val->type != YAML_SEQUENCE_NODE) {
        otc_diag_add(d, y->path, &val->start_mark, "%s: key \"%s\": expected a sequence of "
                     "mappings, got %s", what, key,
                     val->type == YAML_MAPPING_NODE ? "a mapping" : "a scalar");
        return OTC_EINVAL;
    }
    for (yaml_node_item_t *it = val->data.sequence.items.start; it < val->data.sequence.items.top;
         it++) {
        yaml_node_t *item = otc_yaml_node(y, *it);
        char ikey[KEY_MAX];
        void *grown, *elem;

        grown = realloc(l->v, (l->n + 1) * otc_cfg_sub_of(e)->size);
        if (!grown) {
            return OTC_ENOMEM;
        }
        l->v = grown;
        elem = (char *)l->v + l->n * otc_cfg_sub_of(e)->size;
        memset(elem, 0, otc_cfg_sub_of(e)->size);
        l->n++;
        if (otc_config_map_defaults(otc_cfg_sub_of(e)->map, elem) != OTC_OK) {
            return OTC_EINVAL;
        }
        snprintf(ikey, sizeof(ikey), "%s[%zu]", key, l->n - 1);
        if (!otc_yaml_is_null(item) && item->type != YAML_MAPPING_NODE) {
            otc_diag_add(d, y->path, &item->start_mark, "%s: key \"%s\": expected a mapping, "
                         "got %s", what, ikey,
                         item->type == YAML_SEQUENCE_NODE ? "a sequence" : "a scalar");
            rc = OTC_EINVAL;
            continue;
        }
        if (otc_config_apply_at(y, item, what, ikey, otc_cfg_sub_of(e)->map, elem, d) != OTC_OK) {
            rc = OTC_EINVAL;
        }
    }
    return rc;
}

int otc_config_apply_value(struct otc_yaml *y, yaml_node_t *val, const char *what, const char *key,
                           const struct otc_config_entry *e, void *ctx, struct otc_diag *d)
{
    struct otc_cfg_value *v;
    int rc;

    if (e->type == OTC_CFG_LIST) {
        return otc_yaml_is_null(val) ? OTC_OK : apply_list(y, val, what, key, e, ctx, d);
    }
    v = (struct otc_cfg_value *)((char *)ctx + e->offset);
    otc_cfg_value_free(v);
    rc = value_read(y, val, v, 0);
    if (rc == OTC_EINVAL) {
        otc_diag_add(d, y->path, &val->start_mark, "%s: key \"%s\": a mapping's keys must be "
                     "strings, nested at most 64 deep", what, key);
    }
    return rc;
}
