/* nop.h - the `nop` exporter: accepts and discards everything. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXPORTER_NOP_H
#define OTC_EXPORTER_NOP_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_exporter_nop_ops;

#endif
