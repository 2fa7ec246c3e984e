/* bearertokenauth.h - the `bearertokenauth` extension (otelcol
 * bearertokenauthextension): a static or file-backed token that receivers
 * require and exporters attach, through `auth.authenticator`. It is an
 * authenticator of both sides (otc_auth.h). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXTENSION_BEARERTOKENAUTH_H
#define OTC_EXTENSION_BEARERTOKENAUTH_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_extension_bearertokenauth_ops;

#endif
