/* otc_storage.h - the storage provider interface (otelcol's storage
 * extensions): where the engine keeps the write-ahead log of each pipeline
 * whose exporters name the extension in sending_queue.storage. An extension
 * implements it by pointing ops->storage at a table of these callbacks; the
 * engine reaches it only through here, on the main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_STORAGE_H
#define OTC_INCLUDE_STORAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "otc_component.h"
#include "otc_rc.h"

/* What the engine needs to open a pipeline's log. */
struct otc_storage_settings {
    const char *directory;    /* base directory; each pipeline gets a subdirectory */
    bool        fsync;        /* fdatasync appended records before answering OK */
    uint64_t    segment_size; /* start a new segment file past this many bytes */
    bool        compress;     /* zstd-compress each record (else stored as received) */
};

struct otc_storage_ops {
    /* Fill st from ext's configuration (valid once its config is applied;
     * the strings live as long as ext). */
    int (*settings)(const struct otc_instance *ext, struct otc_storage_settings *st);
};

/* The storage provider behind ext, or NULL when ext is NULL or stores nothing. */
static inline const struct otc_storage_ops *otc_storage(const struct otc_instance *ext)
{
    const struct otc_storage_ops *s = ext ? ext->ops->storage : NULL;

    return s && s->settings ? s : NULL;
}

/* ext's settings; OTC_EINVAL when ext is not a storage provider. */
static inline int otc_storage_settings(const struct otc_instance *ext,
                                       struct otc_storage_settings *st)
{
    const struct otc_storage_ops *s = otc_storage(ext);

    return s ? s->settings(ext, st) : OTC_EINVAL;
}

#endif
