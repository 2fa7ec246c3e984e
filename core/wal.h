/* wal.h - a pipeline's write-ahead log: append-only segment files of
 * zstd-compressed, CRC32C-checked records, with group commit. Receiver threads
 * append; any thread releases a segment reference when a batch is freed. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_WAL_H
#define OTC_CORE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct otc_wal;
struct otc_wal_seg;
struct otc_instance;
struct otc_batch;

struct otc_wal_options {
    bool   fsync;        /* fdatasync before an append returns (group commit) */
    size_t segment_size; /* start a new segment once the active one is this big */
};

/* Statistics, for tests and logs. */
struct otc_wal_stats {
    uint64_t appended; /* records appended since open */
    uint64_t syncs;    /* fdatasync calls made for appends */
    uint64_t segments; /* segment files currently held */
};

/* Open (creating) the log in dir. Segments left by an earlier run are checked:
 * a torn or corrupt record cuts its segment there (the file is truncated, one
 * warning line through log_ins names the file and offset). Returns NULL with a
 * reason in err on failure. */
struct otc_wal *otc_wal_open(const char *dir, const struct otc_wal_options *opt,
                             struct otc_instance *log_ins, char *err, size_t errlen);

/* Hand every record of the earlier run's segments to fn, oldest first. Each
 * call gets one segment reference (pass it on with the batch, or release it).
 * fn returns 0 to go on; a non-zero return stops the replay and is returned. */
typedef int (*otc_wal_replay_fn)(void *arg, uint8_t signal, const void *data, size_t len,
                                 struct otc_wal_seg *seg);
int otc_wal_replay(struct otc_wal *w, otc_wal_replay_fn fn, void *arg);

/* Append one record and return once it is durable (after the group commit's
 * fdatasync when fsync is on). On OTC_OK *seg holds one reference to the
 * record's segment. OTC_EAGAIN on a write or sync error (full disk). */
int otc_wal_append(struct otc_wal *w, uint8_t signal, const void *data, size_t len,
                   struct otc_wal_seg **seg);

/* The record holding this reference is delivered (or dropped on purpose).
 * A segment with no reference left that is not the active one is deleted. */
void otc_wal_seg_release(struct otc_wal_seg *seg);

/* Tie one segment reference to b (otc_batch_on_release): released when b is
 * freed, i.e. once every exporter is done with it. Takes over the reference;
 * on OTC_ENOMEM it is released. Call before b is shared. */
int otc_wal_seg_hold(struct otc_batch *b, struct otc_wal_seg *seg);

/* From now on releases are ignored: batches freed at shutdown without being
 * delivered must not delete their records. */
void otc_wal_freeze(struct otc_wal *w);

void otc_wal_stats(struct otc_wal *w, struct otc_wal_stats *st);

/* Close: segments whose every record was released are deleted, the others
 * kept for the next start. Frees w; no reference may be used afterwards. */
void otc_wal_close(struct otc_wal *w);

/* CRC32C (Castagnoli) of len bytes, continuing from crc (start with 0). */
uint32_t otc_crc32c(uint32_t crc, const void *data, size_t len);

#endif
