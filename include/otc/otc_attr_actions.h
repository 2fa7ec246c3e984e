/* otc_attr_actions.h - otelcol's attribute actions (contrib's attraction
 * package): insert, update, upsert, delete, hash, extract and convert, read
 * from an `actions` list (the attributes processor) or an `attributes` list
 * (the resource processor), compiled once (values typed, regexes compiled
 * with PCRE2) and applied to one decoded attribute set at a time. A compiled
 * list is read-only once built: the workers of one pipeline may apply it at
 * once (regex match data and digest contexts are per thread). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_ATTR_ACTIONS_H
#define OTC_INCLUDE_ATTR_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otc_arena.h"
#include "otc_config_map.h"
#include "otc_otlp.h"

/* One action as the option table reads it. */
struct otc_attr_action_cfg {
    char                *key;
    char                *action;
    struct otc_cfg_value value;
    struct otc_cfg_value default_value;
    char                *from_attribute;
    char                *from_context;
    char                *pattern;
    char                *converted_type;
};

/* The element table of an OTC_CFG_LIST of actions:
 * {OTC_CFG_LIST, "actions", ..., OTC_CFG_SUB(&otc_attr_action_sub), "..."}. */
extern const struct otc_cfg_sub otc_attr_action_sub;

struct otc_attr_actions;

/* Check and compile the n actions of l; list names the option in messages,
 * which start with the key path ("actions[2].pattern: ..."). OTC_OK and *out,
 * or OTC_EINVAL / OTC_ENOMEM with the reason in err. */
int  otc_attr_actions_compile(const struct otc_cfg_list *l, const char *list,
                              struct otc_attr_actions **out, char *err, size_t errlen);
void otc_attr_actions_free(struct otc_attr_actions *a);

/* Read-only: true when applying the actions would change the set (exact: the
 * actions are followed in order up to the first that would change it). */
bool otc_attr_actions_would_change(struct otc_attr_actions *a, otc_key_value *const *kvs,
                                   size_t n);
/* Apply the actions in order to the set *kvs (*n attributes). New attributes,
 * values and arrays come from arena (the batch's), never from the actions.
 * OTC_OK, or OTC_ENOMEM (the set may be partly changed). */
int  otc_attr_actions_apply(struct otc_attr_actions *a, struct otc_arena *arena,
                            otc_key_value ***kvs, size_t *n);

/* Helpers for matching on attribute values (the attributes processor's
 * include / exclude). */
struct pcre2_real_code_8;
/* True when the PCRE2 pattern re (8-bit, compiled by the caller) matches
 * somewhere in s[0..len) (s valid UTF-8): through the JIT when the pattern was
 * JIT-compiled, with this thread's match data. */
bool           otc_regex_match(const struct pcre2_real_code_8 *re, const char *s, size_t len);
/* A configured value as an AnyValue (malloc'd; free with otc_any_free). NULL
 * for OTC_VAL_NONE or on ENOMEM. */
otc_any_value *otc_any_from_cfg(const struct otc_cfg_value *v);
void           otc_any_free(otc_any_value *v);
/* Same type and value (arrays and kvlists compared deeply). */
bool           otc_any_equal(const otc_any_value *a, const otc_any_value *b);
/* The text otelcol's filters match a regexp against: a string as it is, a bool
 * as true/false, an int in decimal, a double in the shortest fixed notation;
 * false for other types. buf holds the text of non-strings. */
bool           otc_any_match_text(const otc_any_value *v, char *buf, size_t n, const char **s,
                                  size_t *len);

#endif
