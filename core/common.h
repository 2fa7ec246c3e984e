/* common.h - small names shared by the engine's files and defined in
 * common.c (the public ones are in otc/otc_signal.h and otc/otc_rc.h).
 * Pure functions, any thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_COMMON_H
#define OTC_CORE_COMMON_H

#include "otc/otc_signal.h"

/* Item names for people: "spans", "data points", "log records"
 * (otc_signal_item_name is the form used in metric names). */
const char *otc_signal_item_words(enum otc_signal s);

#endif
