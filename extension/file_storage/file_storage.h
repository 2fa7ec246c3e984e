/* file_storage.h - the `file_storage` extension: a directory on local disk
 * where pipelines whose exporters name it in sending_queue.storage keep their
 * write-ahead log, one subdirectory per pipeline: a storage provider
 * (otc_storage.h). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXTENSION_FILE_STORAGE_H
#define OTC_EXTENSION_FILE_STORAGE_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_extension_file_storage_ops;

#endif
