/* otc_ottl.h - the OpenTelemetry Transformation Language (OTTL) subset otelc
 * runs: statements (an editor call with an optional `where` condition) and
 * conditions, parsed once at start-up into a tree with resolved paths and
 * compiled PCRE2 regexes, then run on decoded OTLP items. Parsing happens on
 * the main thread; a compiled statement is read-only afterwards and may be run
 * by any thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_OTTL_H
#define OTC_INCLUDE_OTTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otc_arena.h"
#include "otc_config_map.h"
#include "otc_otlp.h"
#include "otc_signal.h"

/* The OTTL contexts, from the widest to the narrowest. */
enum otc_ottl_ctx {
    OTC_OTTL_RESOURCE,
    OTC_OTTL_SCOPE,
    OTC_OTTL_SPAN,
    OTC_OTTL_SPANEVENT,
    OTC_OTTL_METRIC,
    OTC_OTTL_DATAPOINT,
    OTC_OTTL_LOG,
    OTC_OTTL_CTX_COUNT,
    OTC_OTTL_CTX_INFER = -1, /* flat form: the narrowest context its paths name */
};

/* "resource", "scope", "span", ... */
const char *otc_ottl_ctx_name(enum otc_ottl_ctx c);
/* Context by name ("instrumentation_scope" is "scope"); OTC_EINVAL if none or
 * if signal s has no such context. */
int otc_ottl_ctx_parse(const char *name, enum otc_signal s, enum otc_ottl_ctx *out);

/* One item being looked at: the pointers down to the statement's context are
 * set (a span statement gets resource, scope and span), the others are NULL.
 * arena: where values written by editors are allocated (the batch's). */
struct otc_ottl_env {
    Opentelemetry__Proto__Resource__V1__Resource           *resource;
    Opentelemetry__Proto__Common__V1__InstrumentationScope *scope;
    otc_span                                               *span;
    Opentelemetry__Proto__Trace__V1__Span__Event           *event;
    otc_metric                                             *metric;
    ProtobufCMessage                                       *point; /* any data point type */
    otc_log_record                                         *log;
    struct otc_arena                                       *arena;
};

struct otc_ottl; /* a compiled statement or condition */

/* Where parsing failed: a message and the byte offset in the text. */
struct otc_ottl_error {
    char   msg[256];
    size_t pos;
};

/* Parse one statement ("set(attributes[\"k\"], \"v\") where name == \"x\"") of
 * signal s. ctx: the statement group's context, whose paths may omit their
 * prefix, or OTC_OTTL_CTX_INFER (every path names its context; the statement
 * runs in the narrowest). NULL with *err filled when the text is not valid or
 * names a function, path or enum otelc does not know. */
struct otc_ottl *otc_ottl_parse_statement(const char *text, enum otc_signal s,
                                          enum otc_ottl_ctx ctx, struct otc_ottl_error *err);
/* Parse one condition (a boolean expression), as a statement. */
struct otc_ottl *otc_ottl_parse_condition(const char *text, enum otc_signal s,
                                          enum otc_ottl_ctx ctx, struct otc_ottl_error *err);
void otc_ottl_free(struct otc_ottl *o);

/* The context the statement or condition runs in. */
enum otc_ottl_ctx otc_ottl_context(const struct otc_ottl *o);
/* The editor a statement calls ("set"), NULL for a condition. */
const char *otc_ottl_editor(const struct otc_ottl *o);

/* Run a statement on one item: its where condition, then its editor.
 * OTC_OK (ran or skipped), OTC_EINVAL when evaluation failed (a function got a
 * value of the wrong type; *why says what), OTC_ENOMEM. *changed is set when
 * the editor ran. */
int otc_ottl_exec(const struct otc_ottl *o, struct otc_ottl_env *env, bool *changed,
                  char *why, size_t whylen);
/* Evaluate a condition (or a statement's where clause: true when it has none).
 * OTC_OK with *result, or OTC_EINVAL with *why. */
int otc_ottl_eval(const struct otc_ottl *o, const struct otc_ottl_env *env, bool *result,
                  char *why, size_t whylen);

/* Walking a decoded request: fn is called once per item of context c (per
 * resource, scope, span, span event, metric, data point or log record) with
 * env filled down to it. It returns OTC_OTTL_KEEP, OTC_OTTL_DROP (remove the
 * item, with everything under it) or a negative OTC_E* code, which stops the
 * walk and is returned. */
#define OTC_OTTL_KEEP 0
#define OTC_OTTL_DROP 1
typedef int (*otc_ottl_visit_fn)(void *arg, struct otc_ottl_env *env);

struct otc_ottl_walk {
    enum otc_ottl_ctx ctx;
    struct otc_arena *arena;   /* env.arena; where absent resources and scopes are made */
    bool              apply;   /* remove what fn drops (else only count it) */
    bool              prune;   /* also remove scope containers left without items,
                                  resource containers without scopes and metrics
                                  without points (otelcol's filter processor) */
    bool              make_heads; /* give resource and scope containers that have none an
                                     empty Resource / InstrumentationScope (for editors) */
    otc_ottl_visit_fn fn;
    void             *arg;
    /* results */
    size_t            removed; /* things removed (or to remove): items, events,
                                  metrics and containers */
    size_t            items;   /* of them, batch items: spans, data points, log records */
};

/* Walk req (signal s) as w says. OTC_OK or what fn returned to stop. */
int otc_ottl_walk(enum otc_signal s, ProtobufCMessage *req, struct otc_ottl_walk *w);

/* The attributes of context c that o reads: false when it reads the whole map
 * (Len(attributes), attributes[0], ...), else the first-level keys it looks up
 * (*n may be 0: none). */
bool otc_ottl_attr_keys(const struct otc_ottl *o, enum otc_ottl_ctx c, const char *const **keys,
                        size_t *n);

/* Attribute keys to read from the wire: all of them, or only those listed. */
struct otc_ottl_keyset {
    bool         all;
    const char **v;
    size_t      *len;
    size_t       n;
};

/* Add the attribute keys o reads in each context to keys (one key set per
 * context, for the readers below): OTC_OK or OTC_ENOMEM. */
int  otc_ottl_keysets_add(struct otc_ottl_keyset keys[OTC_OTTL_CTX_COUNT], const struct otc_ottl *o);
/* Free what otc_ottl_keysets_add gathered; leaves the sets empty. */
void otc_ottl_keysets_free(struct otc_ottl_keyset keys[OTC_OTTL_CTX_COUNT]);

/* Read one serialized Resource, InstrumentationScope, Span (without its events
 * and links) or LogRecord into *out for evaluating conditions on a request that
 * is not decoded; of the attributes, those keys says; strings and values are
 * allocated in a. false when malformed. */
bool otc_ottl_wire_resource(const uint8_t *p, size_t len, struct otc_arena *a,
                            const struct otc_ottl_keyset *keys,
                            Opentelemetry__Proto__Resource__V1__Resource *out);
bool otc_ottl_wire_scope(const uint8_t *p, size_t len, struct otc_arena *a,
                         const struct otc_ottl_keyset *keys,
                         Opentelemetry__Proto__Common__V1__InstrumentationScope *out);
bool otc_ottl_wire_span(const uint8_t *p, size_t len, struct otc_arena *a,
                        const struct otc_ottl_keyset *keys, otc_span *out);
bool otc_ottl_wire_log(const uint8_t *p, size_t len, struct otc_arena *a,
                       const struct otc_ottl_keyset *keys, otc_log_record *out);

/* The items of otelcol's grouped OTTL form as the config loader stores them
 * (OTC_CFG_F_OTTL): an item that is neither is a flat statement (group -1). */
struct otc_ottl_item {
    long        group;     /* index of the group in the option's list, -1: flat */
    const char *context;   /* group context (not NUL-terminated: context_len) */
    size_t      context_len;
    const char *error_mode; /* the group's error_mode or NULL (error_mode_len) */
    size_t      error_mode_len;
    bool        condition; /* an entry of the group's `conditions` */
    const char *text;      /* the statement or condition */
};
void otc_ottl_item_split(const char *item, struct otc_ottl_item *out);

/* A config option's list of statements or conditions (OTC_CFG_F_OTTL), each
 * compiled with its group's context, conditions and error_mode. */
enum otc_ottl_error_mode { OTC_OTTL_PROPAGATE, OTC_OTTL_IGNORE, OTC_OTTL_SILENT };
extern const char *const otc_ottl_error_modes[]; /* "propagate", "ignore", "silent", NULL */

struct otc_ottl_entry {
    struct otc_ottl *o;
    size_t           cond_first, n_conds; /* the group's conditions in the list's conds:
                                             the entry runs when any is true (none: always) */
    int              error_mode;          /* enum otc_ottl_error_mode, or -1: the component's */
};

struct otc_ottl_list {
    struct otc_ottl_entry *v;
    size_t                 n;
    struct otc_ottl      **conds;
    size_t                 n_conds;
};

/* Compile src, the option named name, of signal s: statements or (with
 * conditions) conditions. ctx: the context of items given as plain strings
 * (OTC_OTTL_CTX_INFER: inferred from their paths); grouped items use their
 * group's. On error err reads "name[i]: \"text\": what at character N of
 * the statement", i being the item's index in the YAML sequence. */
int  otc_ottl_list_compile(const struct otc_strlist *src, const char *name, enum otc_signal s,
                           bool conditions, enum otc_ottl_ctx ctx, struct otc_ottl_list *out,
                           char *err, size_t errlen);
void otc_ottl_list_free(struct otc_ottl_list *l);
/* Whether entry e's group conditions let it run (OTC_OK with *yes). */
int  otc_ottl_entry_applies(const struct otc_ottl_list *l, const struct otc_ottl_entry *e,
                            const struct otc_ottl_env *env, bool *yes, char *why, size_t whylen);

#endif
