/* bearertokenauth.h - the `bearertokenauth` extension (otelcol
 * bearertokenauthextension): a static or file-backed token that receivers
 * require and exporters attach, through `auth.authenticator`. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXTENSION_BEARERTOKENAUTH_H
#define OTC_EXTENSION_BEARERTOKENAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_extension_bearertokenauth_ops;

/* True when ext is a started bearertokenauth instance. */
bool        otc_bearertokenauth_is(const struct otc_instance *ext);
/* The header (gRPC metadata key) carrying the token, as configured ("Authorization"). */
const char *otc_bearertokenauth_header(const struct otc_instance *ext);
/* Server side: OTC_OK when value (the header's value, NULL when absent) is
 * "<scheme> <token>" (just the token with an empty scheme), compared in
 * constant time; OTC_EPERM otherwise. Thread-safe; re-reads `filename` when it
 * changed (checked at most once a second). */
int         otc_bearertokenauth_check(struct otc_instance *ext, const char *value, size_t len);
/* Client side: writes "<scheme> <token>" into out. OTC_EINVAL when it does not fit. */
int         otc_bearertokenauth_value(struct otc_instance *ext, char *out, size_t outlen);

#endif
