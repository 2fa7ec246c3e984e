/* ottl_internal.h - the compiled form of OTTL shared by the parser
 * (ottl_parse.c), the evaluator (ottl_eval.c) and the functions
 * (ottl_funcs.c): a small tree of nodes with resolved paths and compiled
 * regexes, and the values evaluation passes around. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_OTTL_INTERNAL_H
#define OTC_CORE_OTTL_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "otc/otc_config_map.h"
#include "otc/otc_ottl.h"
#include "otc/otc_rc.h"

#define ANY(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x
typedef Opentelemetry__Proto__Common__V1__KeyValueList     otc_kvlist;
typedef Opentelemetry__Proto__Common__V1__ArrayValue       otc_array;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint ottl_number_point;

/* Every data point type starts with its attributes. */
struct ottl_point_head {
    ProtobufCMessage base;
    size_t           n_attributes;
    otc_key_value  **attributes;
};

/* Fields a path can name, whichever context owns them. */
enum ottl_field {
    F_ATTRIBUTES, F_DROPPED_ATTRS, F_NAME, F_VERSION, F_KIND, F_STATUS_CODE, F_STATUS_MSG,
    F_TRACE_ID, F_SPAN_ID, F_PARENT_SPAN_ID, F_TRACE_ID_STR, F_SPAN_ID_STR, F_PARENT_SPAN_ID_STR,
    F_TRACE_STATE, F_START_TIME, F_END_TIME, F_TIME, F_OBSERVED_TIME, F_FLAGS, F_BODY,
    F_SEVERITY_NUMBER, F_SEVERITY_TEXT, F_EVENT_NAME, F_DESCRIPTION, F_UNIT, F_METRIC_TYPE,
    F_AGG_TEMPORALITY, F_IS_MONOTONIC, F_VALUE_DOUBLE, F_VALUE_INT, F_COUNT, F_SUM,
    F_DROPPED_EVENTS, F_DROPPED_LINKS,
};

enum ottl_node_kind {
    N_LIT,     /* a literal value (v) */
    N_PATH,    /* ctx.field[keys...] */
    N_LIST,    /* [a, b, ...] (kids) */
    N_CALL,    /* a converter or editor (fn, kids) */
    N_FUNCREF, /* a converter named as an argument (replace_pattern's function) */
    N_CMP,     /* kids[0] op kids[1] */
    N_AND, N_OR, N_NOT,
};

enum ottl_cmp { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

enum ottl_vt { V_NIL, V_BOOL, V_INT, V_DBL, V_STR, V_BYTES, V_MAP, V_ARR };

/* A value during evaluation. Strings and bytes point into the request, the
 * statement or the arena; maps and arrays are the request's own. */
struct ottl_val {
    enum ottl_vt t;
    bool         b;
    int64_t      i;
    double       d;
    const char  *s;    /* V_STR (NUL-terminated), V_BYTES */
    size_t       len;
    otc_key_value *const *kvs; /* V_MAP */
    otc_any_value *const *vals; /* V_ARR */
    size_t       n;    /* V_MAP, V_ARR */
};

struct ottl_fn;

struct ottl_node {
    enum ottl_node_kind kind;
    size_t              pos;  /* offset in the text, for messages */
    struct ottl_val     v;    /* N_LIT */
    char               *str;  /* N_LIT string storage */
    /* N_PATH */
    enum otc_ottl_ctx   ctx;
    enum ottl_field     field;
    struct ottl_node  **keys; /* [..] selectors: string or int literals */
    size_t              n_keys;
    /* N_CALL, N_FUNCREF */
    const struct ottl_fn *fn;
    pcre2_code         *re;   /* a literal regex argument, compiled once */
    /* N_CMP */
    enum ottl_cmp       op;
    struct ottl_node  **kids;
    size_t              n_kids;
};

struct otc_ottl {
    enum otc_ottl_ctx  ctx;
    unsigned           whole_attrs;  /* contexts whose attribute map is read as a whole */
    const char       **attr_keys[OTC_OTTL_CTX_COUNT]; /* first-level keys read, per context */
    size_t             n_attr_keys[OTC_OTTL_CTX_COUNT];
    struct ottl_node  *call;  /* the editor, NULL for a condition */
    struct ottl_node  *cond;  /* where clause or condition, NULL for none */
    char              *text;
};

/* Evaluation state of one run. */
struct ottl_run {
    struct otc_ottl_env *env;
    char                *why;
    size_t               whylen;
    bool                 changed;
};

typedef int (*ottl_fn_impl)(struct ottl_run *r, const struct ottl_node *call, struct ottl_val *out);

/* Argument kinds the parser checks. */
enum ottl_arg {
    A_ANY,    /* any value */
    A_PATH,   /* a path (a target that is written) */
    A_STR,    /* a string literal */
    A_REGEX,  /* a string literal compiled as a PCRE2 pattern */
    A_INT,    /* an int literal */
    A_LIST,   /* a list */
    A_FUNC,   /* a converter named without a call (optional) */
};

#define OTTL_MAX_ARGS 6
struct ottl_fn {
    const char  *name;
    bool         editor;
    size_t       min_args, max_args;
    enum ottl_arg args[OTTL_MAX_ARGS];
    ottl_fn_impl impl;
};

/* ottl_funcs.c */
const struct ottl_fn *ottl_fn_find(const char *name);
/* Check the arguments of a parsed call: NULL or what is wrong with them
 * (*bad: the argument at fault). */
const char *ottl_fn_check(const struct ottl_node *call, size_t *bad);

/* ottl_eval.c */
int  ottl_eval_node(struct ottl_run *r, const struct ottl_node *n, struct ottl_val *out);
int  ottl_eval_bool(struct ottl_run *r, const struct ottl_node *n, bool *out);
int  ottl_fail(struct ottl_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The attribute map (or kvlist) a path names, for editors: writable. NULL
 * when the path does not name a map; *missing when the map is absent. */
struct ottl_mapref {
    otc_key_value ***kvs;
    size_t          *n;
};
int  ottl_path_map(struct ottl_run *r, const struct ottl_node *path, struct ottl_mapref *m);
/* Read what path names (nil when absent). */
int  ottl_path_get(struct ottl_run *r, const struct ottl_node *path, struct ottl_val *out);
/* Write v to what path names. */
int  ottl_path_set(struct ottl_run *r, const struct ottl_node *path, const struct ottl_val *v);
/* Value conversions shared by functions. */
otc_any_value *ottl_any_from(struct otc_arena *a, const struct ottl_val *v);
void ottl_val_from_any(const otc_any_value *a, struct ottl_val *v);
/* A value as text (String()): NULL for nil; allocated in the arena. */
const char *ottl_val_string(struct otc_arena *a, const struct ottl_val *v, size_t *len);
char *ottl_arena_strndup(struct otc_arena *a, const char *s, size_t n);
/* Drop the entries of a map whose index has keep[i] false. */
void ottl_map_compact(struct ottl_mapref *m, const bool *keep);
otc_key_value *ottl_map_find(otc_key_value *const *kvs, size_t n, const char *key, size_t *at);
void ottl_hex(char *out, const uint8_t *p, size_t n); /* 2n digits and a NUL */
otc_key_value *ottl_kv_new(struct otc_arena *a, const char *key, size_t klen, otc_any_value *v);
/* Append or replace key in map m. */
int  ottl_map_put(struct otc_arena *a, struct ottl_mapref *m, const char *key, otc_any_value *v);

/* ottl_text.c */
struct ottl_sbuf {
    char  *p;
    size_t len, cap;
    bool   oom;
};

void ottl_sb_add(struct ottl_sbuf *b, const char *s, size_t n);
int  ottl_re_search(struct ottl_run *r, const pcre2_code *re, const char *s, size_t len, bool *found);
/* Every match of re in s replaced (Go's ReplaceAllString) by the expanded
 * template, hashed and formatted when fn is given; *out NULL when none matched. */
int  ottl_re_replace(struct ottl_run *r, const pcre2_code *re, const char *s, size_t len,
                     const char *tmpl, size_t tlen, const struct ottl_node *fn, const char *fmt,
                     char **out, size_t *outlen);
void ottl_apply_fn(struct ottl_sbuf *b, const struct ottl_node *fn, const char *fmt, const char *s,
                   size_t n);
bool ottl_glob(const char *pattern, const char *s);
void ottl_sha256(const void *p, size_t n, unsigned char out[32]);
void ottl_hex_lower(char *out, const unsigned char *p, size_t n);
/* ottl_names.c */
bool ottl_enum_find(const char *name, int64_t *v);
struct ottl_field_def {
    const char     *name;
    const char     *sub;   /* a second part ("code" of status.code), or NULL */
    enum ottl_field f;
    unsigned        ctxs;  /* bit per context */
    bool            keyed; /* may take [key] selectors */
};
/* The field name[.sub] ("" for none) of context c, or NULL. */
const struct ottl_field_def *ottl_field_find(const char *name, const char *sub, enum otc_ottl_ctx c);

#endif
