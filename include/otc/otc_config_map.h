/* otc_config_map.h - declarative option tables. A component lists its options
 * (type, dotted key, default, offset into its context, help); the engine applies
 * defaults and then the user's YAML with one generic routine, before init(). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_CONFIG_MAP_H
#define OTC_INCLUDE_CONFIG_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum otc_cfg_type {
    OTC_CFG_BOOL,     /* bool */
    OTC_CFG_INT,      /* int64_t */
    OTC_CFG_DOUBLE,   /* double */
    OTC_CFG_SIZE,     /* uint64_t bytes; accepts 64k, 4MiB, ... */
    OTC_CFG_DURATION, /* int64_t nanoseconds; accepts 200ms, 5s, 1m, 1h */
    OTC_CFG_STR,      /* char * (owned by the context, freed by the engine) */
    OTC_CFG_ENUM,     /* int: index into choices */
    OTC_CFG_STRMAP,   /* struct otc_strmap: a mapping of string to string */
    OTC_CFG_STRLIST,  /* struct otc_strlist: a sequence of strings */
    OTC_CFG_SECTION,  /* bool: true when the mapping key is present, even if empty */
    OTC_CFG_NODE,     /* const void *: the YAML node itself (a yaml_node_t *), whatever its
                         shape, for the table's owner to read with its own table or code
                         while the document is loaded (the engine's tables only) */
    OTC_CFG_LIST,     /* struct otc_cfg_list: a sequence of mappings, each read with the
                         table sub->map (defaults first) into one element of sub->size bytes;
                         messages name an element's keys "key[i].subkey" */
    OTC_CFG_ANY,      /* struct otc_cfg_value: any YAML value, typed as otelcol's YAML
                         decoding types it (a quoted scalar is a string, a plain one a bool,
                         int, float or null where it reads as one); Go's `any` options */
    OTC_CFG_TREE,     /* struct otc_cfg_tree *: a copy of the YAML value, whatever its shape,
                         owned by the context (freed by the engine), for options a table
                         cannot describe (lists of nested mappings, e.g. sampling policies) */
};

#define OTC_CFG_F_MIN 1u /* value >= min */
#define OTC_CFG_F_MAX 2u /* value <= max */
#define OTC_CFG_F_ICASE 4u /* OTC_CFG_ENUM: choices match whatever the case */
/* OTC_CFG_STRLIST of OTTL statements: an item may also be otelcol's grouped form,
 * a mapping {context: C, statements: [S...], conditions: [W...], error_mode: M}
 * at index I of the list. Each W is stored as SEP I SEP C SEP M COND W, each S
 * as SEP I SEP C SEP M SEP S (SEP = OTC_OTTL_SEP, COND = OTC_OTTL_COND; M may
 * be empty; C is empty when the group has none: it is inferred), conditions
 * first; otc_ottl_item_split (otc_ottl.h) reads them. */
#define OTC_CFG_F_OTTL 8u
#define OTC_OTTL_SEP  '\x1e'
#define OTC_OTTL_COND '\x1c'

struct otc_strmap {
    char  **keys;
    char  **vals;
    size_t  n;
};
/* Set k to v (copies; replaces an earlier value of k): OTC_OK or OTC_ENOMEM. */
int  otc_strmap_put(struct otc_strmap *m, const char *k, const char *v);
/* Remove k, if there. */
void otc_strmap_del(struct otc_strmap *m, const char *k);
/* Free every entry; leaves m empty. */
void otc_strmap_free(struct otc_strmap *m);

struct otc_strlist {
    char  **v;
    size_t  n;
};

/* OTC_CFG_LIST: n elements of the entry's sub->size bytes each at v. */
struct otc_cfg_list {
    void   *v;
    size_t  n;
};

enum otc_cfg_vkind {
    OTC_VAL_NONE = 0, /* absent, or null (Go's nil) */
    OTC_VAL_STR,
    OTC_VAL_INT,
    OTC_VAL_DOUBLE,
    OTC_VAL_BOOL,
    OTC_VAL_LIST,     /* items[0..n) */
    OTC_VAL_MAP,      /* keys[i] -> items[i], in the order written */
};

/* OTC_CFG_ANY: one value as written (owned by the context, freed by the engine). */
struct otc_cfg_value {
    enum otc_cfg_vkind    kind;
    char                 *s;     /* OTC_VAL_STR */
    int64_t               i;     /* OTC_VAL_INT */
    double                d;     /* OTC_VAL_DOUBLE */
    bool                  b;     /* OTC_VAL_BOOL */
    struct otc_cfg_value *items; /* OTC_VAL_LIST, OTC_VAL_MAP */
    char                **keys;  /* OTC_VAL_MAP */
    size_t                n;
};

struct otc_config_entry;

/* OTC_CFG_LIST: how one element is read. */
struct otc_cfg_sub {
    const struct otc_config_entry *map;  /* the element's options */
    size_t                         size; /* bytes of one element */
};
/* An OTC_CFG_TREE value: scalars keep their text; a mapping's children carry
 * their keys, in the order written; line is where the value starts (1-based). */
enum otc_cfg_tree_kind { OTC_TREE_NULL, OTC_TREE_SCALAR, OTC_TREE_MAP, OTC_TREE_SEQ };
struct otc_cfg_tree {
    enum otc_cfg_tree_kind kind;
    char                  *key;    /* in a mapping: this child's key; otherwise NULL */
    char                  *scalar; /* OTC_TREE_SCALAR */
    struct otc_cfg_tree   *items;  /* OTC_TREE_MAP / OTC_TREE_SEQ: n children */
    size_t                 n;
    unsigned               line;
};
/* The child of mapping t under key, or NULL (also when t is not a mapping). */
const struct otc_cfg_tree *otc_cfg_tree_get(const struct otc_cfg_tree *t, const char *key);
/* Free t and everything below it (t itself was malloc'ed; NULL is fine). */
void otc_cfg_tree_free(struct otc_cfg_tree *t);

struct otc_config_entry {
    enum otc_cfg_type   type;
    const char         *key;      /* dotted path below the component id, e.g. "tls.insecure" */
    const char         *def;      /* default as text, NULL for none (zero / NULL / empty) */
    size_t              offset;   /* offsetof(ctx struct, field) */
    unsigned            flags;    /* OTC_CFG_F_* */
    double              min, max;
    const char *const  *choices;  /* OTC_CFG_ENUM: NULL-terminated; OTC_CFG_LIST:
                                     OTC_CFG_SUB(&elements) */
    const char         *desc;     /* required: the table is the documentation */
};

/* OTC_CFG_LIST rows carry their element description in `choices` (the rows'
 * positional initialisers stay as they are): set with OTC_CFG_SUB, read with
 * otc_cfg_sub_of. */
#define OTC_CFG_SUB(d) ((const char *const *)(const void *)(d))
static inline const struct otc_cfg_sub *otc_cfg_sub_of(const struct otc_config_entry *e)
{
    return (const struct otc_cfg_sub *)(const void *)e->choices;
}

#define OTC_CFG_END { .key = NULL }

/* Apply every default of map to ctx. Returns OTC_OK or OTC_EINVAL (a bad default is a bug). */
int  otc_config_map_defaults(const struct otc_config_entry *map, void *ctx);
/* Parse one scalar for entry e into ctx; on error writes a reason into err. */
int  otc_config_map_set(const struct otc_config_entry *e, void *ctx, const char *text,
                        char *err, size_t errlen);
/* Free every STR/STRMAP/STRLIST value held in ctx. */
void otc_config_map_free(const struct otc_config_entry *map, void *ctx);
/* Look up an entry by dotted key. */
const struct otc_config_entry *otc_config_map_find(const struct otc_config_entry *map,
                                                   const char *key);
/* True when key is a strict prefix section ("tls" of "tls.insecure") of some entry. */
bool otc_config_map_is_section(const struct otc_config_entry *map, const char *key);

/* Type the text of a YAML scalar as otelcol's YAML decoding does: quoted, a
 * string; plain, null (empty, ~, null), a bool (true, false in three cases),
 * an int (decimal, 0x, 0o), a float (with . or an exponent, .inf, .nan) or
 * else a string. OTC_OK or OTC_ENOMEM. */
int  otc_cfg_value_scalar(struct otc_cfg_value *v, const char *text, bool quoted);
void otc_cfg_value_free(struct otc_cfg_value *v);

/* Scalar parsers, shared with the rest of the engine. */
int otc_parse_bool(const char *s, bool *out);
int otc_parse_int(const char *s, int64_t *out);
int otc_parse_double(const char *s, double *out);
int otc_parse_size(const char *s, uint64_t *out);
int otc_parse_duration(const char *s, int64_t *out_ns);
/* A duration option's value: otc_parse_duration's strings, or a bare integer
 * of nanoseconds (what otelcol makes of `timeout: 5`). */
int otc_parse_duration_value(const char *s, int64_t *out_ns);

#endif
