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

#endif
