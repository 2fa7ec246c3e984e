/* any_value.h - core's AnyValue helpers for the attribute actions
 * (any_value.c); the public ones are in otc/otc_attr_actions.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_ANY_VALUE_H
#define OTC_CORE_ANY_VALUE_H

#include "otc/otc_arena.h"
#include "otc/otc_otlp.h"

/* A deep copy of v (NULL: an empty value) in arena; NULL on ENOMEM. */
otc_any_value *otc_any_copy(struct otc_arena *a, const otc_any_value *v);
/* otelcol's Value.AsString (malloc'd): strings as they are, numbers as Go
 * writes them for JSON, bytes in base64, lists and maps as JSON; NULL on ENOMEM. */
char          *otc_any_as_string(const otc_any_value *v);

#endif
