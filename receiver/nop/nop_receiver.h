/* nop_receiver.h - the `nop` receiver: receives nothing. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_RECEIVER_NOP_H
#define OTC_RECEIVER_NOP_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_receiver_nop_ops;

#endif
