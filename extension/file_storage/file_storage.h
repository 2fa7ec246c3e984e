/* file_storage.h - the `file_storage` extension: a directory on local disk
 * where pipelines whose exporters name it in sending_queue.storage keep their
 * write-ahead log (core/wal.c), one subdirectory per pipeline. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXTENSION_FILE_STORAGE_H
#define OTC_EXTENSION_FILE_STORAGE_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_extension_file_storage_ops;

/* The settings of a file_storage instance, for the engine. OTC_EINVAL when ins
 * is not a file_storage extension. */
int otc_file_storage_settings(const struct otc_instance *ins, const char **directory, bool *fsync,
                              uint64_t *segment_size);

#endif
