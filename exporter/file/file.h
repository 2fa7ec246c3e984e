/* file.h - the `file` exporter: OTLP/JSON lines to a file. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXPORTER_FILE_H
#define OTC_EXPORTER_FILE_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_exporter_file_ops;

#endif
