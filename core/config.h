/* config.h - the YAML config document (libyaml tree with source positions,
 * ${env:VAR} substituted) and the error list every config check writes to.
 * Used on the main thread only. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_CONFIG_H
#define OTC_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "otc/otc_config_map.h"

#define OTC_CONFIG_MAX_BYTES (4u << 20) /* a larger config file is refused */

struct otc_diag {
    char   **msgs;
    size_t   n;
};

struct otc_yaml {
    char            *path;
    yaml_document_t  doc;
    bool             loaded;
};

void otc_diag_add(struct otc_diag *d, const char *file, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void otc_diag_print(const struct otc_diag *d, FILE *out);
void otc_diag_free(struct otc_diag *d);

/* Parse path; substitutes ${env:VAR}, ${env:VAR:-default}, ${VAR} and $$ in scalars. */
int  otc_yaml_load(struct otc_yaml *y, const char *path, struct otc_diag *d);
/* The same from a string (path is only used in messages). */
int  otc_yaml_load_string(struct otc_yaml *y, const char *path, const char *text, size_t len,
                          struct otc_diag *d);
void otc_yaml_free(struct otc_yaml *y);

yaml_node_t *otc_yaml_root(struct otc_yaml *y);
yaml_node_t *otc_yaml_node(struct otc_yaml *y, int id);
bool         otc_yaml_is_null(const yaml_node_t *n);
const char  *otc_yaml_str(const yaml_node_t *n); /* scalar text, or NULL */
/* Value node for key in a mapping (NULL when absent or n is not a mapping). */
yaml_node_t *otc_yaml_get(struct otc_yaml *y, yaml_node_t *map, const char *key);

/* Apply a component's mapping node to ctx through its option table. Every
 * unknown key, wrong type or out-of-range value is added to d, naming
 * file:line:col, the component (what, e.g. "exporter \"otlp/sink\"") and key.
 * extra: a second table (e.g. exporter helper options) with its own context. */
int otc_config_apply(struct otc_yaml *y, yaml_node_t *node, const char *what,
                     const struct otc_config_entry *map, void *ctx,
                     const struct otc_config_entry *extra, void *extra_ctx,
                     struct otc_diag *d);
/* The same for a node that sits at dotted key below what (e.g. what "service",
 * key "telemetry.metrics"): map's keys are relative to it, messages name the
 * whole key, as when the node is reached through an OTC_CFG_MAP row. */
int otc_config_apply_at(struct otc_yaml *y, yaml_node_t *node, const char *what, const char *key,
                        const struct otc_config_entry *map, void *ctx, struct otc_diag *d);

#endif
