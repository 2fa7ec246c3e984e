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

/* A document merged from several sources (otc_yaml_load_sources) has as path
 * the sources' names separated by OTC_YAML_SOURCE_SEP, and every node's
 * start_mark.index is OTC_YAML_SOURCE_TAG | the number of its source, so a
 * message names the file (or env:, yaml:, --set) the node came from. */
#define OTC_YAML_SOURCE_SEP     '\x1f'
#define OTC_YAML_SOURCE_SEP_STR "\x1f"
#define OTC_YAML_SOURCE_TAG     ((size_t)1 << (sizeof(size_t) * 8 - 2))

struct otc_yaml {
    char            *path;
    yaml_document_t  doc;
    bool             loaded;
};

void otc_diag_add(struct otc_diag *d, const char *file, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void otc_diag_print(const struct otc_diag *d, FILE *out);
void otc_diag_free(struct otc_diag *d);

/* config_graft.c: true when a scalar is one reference and nothing else
 * ("${env:X}", "${X:-d}", "${file:P}"); node idx (an index into y's nodes),
 * already resolved to text, becomes the mapping or sequence the text parses
 * to (scalars stay text). OTC_ENOMEM or OTC_OK. */
bool otc_yaml_whole_reference(const char *s, size_t len);
int  otc_yaml_graft(struct otc_yaml *y, int idx, const char *text, size_t len);

/* Parse path; substitutes ${env:VAR}, ${env:VAR:-default}, ${VAR}, ${file:PATH}
 * and $$ in scalars. */
int  otc_yaml_load(struct otc_yaml *y, const char *path, struct otc_diag *d);
/* The same from a string (path is only used in messages). */
int  otc_yaml_load_string(struct otc_yaml *y, const char *path, const char *text, size_t len,
                          struct otc_diag *d);
void otc_yaml_free(struct otc_yaml *y);

/* config_sources.c: otelcol's --config and --set. Each uri is file:PATH,
 * env:VAR (YAML in a variable), yaml:INLINE or a plain path; the sources are
 * merged in order (mappings deep-merged, the later value wins, lists
 * replaced), then each set ("a.b.c=value", the key split at every "." and
 * "::" as otelcol does) is laid over them. Keys written "a::b" stand for nested keys, as in otelcol's confmap.
 * Every problem of every source is added to d. */
int  otc_yaml_load_sources(struct otc_yaml *y, const char *const *uris, size_t n_uris,
                           const char *const *sets, size_t n_sets, struct otc_diag *d);
/* The file a --config value reads (its path), or NULL for env: and yaml:. */
const char *otc_config_source_file(const char *uri);
/* The document as YAML (json: as JSON); redact: values of secret-looking keys
 * (password, token, key, secret, authorization, headers) become [REDACTED]. */
int  otc_yaml_print(struct otc_yaml *y, FILE *out, bool json, bool redact);

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
/* config_list.c: apply an OTC_CFG_LIST or OTC_CFG_ANY entry e of ctx from val
 * (at dotted key below what); errors are added to d. */
int otc_config_apply_value(struct otc_yaml *y, yaml_node_t *val, const char *what, const char *key,
                           const struct otc_config_entry *e, void *ctx, struct otc_diag *d);

#endif
