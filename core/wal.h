/* wal.h - a pipeline's write-ahead log: append-only segment files of
 * zstd-compressed, CRC32C-checked records, with group commit, and per segment
 * a progress file of the records delivered (acknowledged). Receiver threads
 * append; any thread releases a record when its batch is freed; one
 * background thread writes the acknowledgements; the replay runs on the
 * caller's thread (the persistent queue's replay thread). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_WAL_H
#define OTC_CORE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otc/otc_crc32c.h"

struct otc_wal;
struct otc_wal_rec;

#define OTC_WAL_MAX_EXPORTERS 64 /* exporters of a pipeline whose progress is kept one by one */
struct otc_instance;
struct otc_batch;

/* What the capacity counts (sending_queue.sizer, as otelcol). */
enum otc_wal_sizer {
    OTC_WAL_SIZER_REQUESTS, /* records not yet delivered */
    OTC_WAL_SIZER_ITEMS,    /* spans, points or log records not yet delivered */
    OTC_WAL_SIZER_BYTES,    /* bytes of the segment and progress files on disk */
};

struct otc_wal_options {
    bool               fsync;        /* fdatasync before an append returns (group commit) */
    size_t             segment_size; /* start a new segment once the active one is this big */
    enum otc_wal_sizer sizer;
    uint64_t           capacity;     /* in sizer units; 0 = unbounded */
    int64_t            ack_interval_ns; /* progress written this often (0: 50 ms) */
    bool               compress;     /* zstd-compress records (else a frame of raw blocks) */
};

/* Statistics, for /metrics, tests and logs. */
struct otc_wal_stats {
    uint64_t appended;      /* records appended since open */
    uint64_t syncs;         /* fdatasync calls made for appends */
    uint64_t segments;      /* segment files currently held */
    uint64_t queued;        /* records neither delivered nor dropped yet */
    uint64_t queued_items;  /* their items (earlier-run records: once replay read them) */
    uint64_t disk_bytes;    /* segment and progress files */
    uint64_t capacity;      /* options.capacity */
    enum otc_wal_sizer sizer; /* options.sizer */
    uint64_t full;          /* appends refused because the capacity was reached */
    uint64_t acked;         /* records delivered since open */
    uint64_t ack_writes;    /* progress writes (one per segment per group) */
    uint64_t xacked;        /* records noted delivered to one exporter of several */
    uint64_t replayed;      /* records of earlier runs handed to the replay callback */
    uint64_t replayed_items;/* their items (otc_wal_rec_items) */
    uint64_t skipped;       /* records of earlier runs not replayed: already delivered */
    uint64_t corrupt;       /* torn or corrupt stretches skipped (each at least one record) */
    uint64_t corrupt_bytes; /* bytes in them */
};

/* Open (creating) the log in dir. Segments left by an earlier run are listed
 * with their progress files; they are read (and checked) by otc_wal_replay.
 * Starts the progress writer thread. Returns NULL with a reason in err. */
struct otc_wal *otc_wal_open(const char *dir, const struct otc_wal_options *opt,
                             struct otc_instance *log_ins, char *err, size_t errlen);

/* Hand every record of the earlier run's segments that was not delivered to
 * fn, oldest first, in order within a segment. Each call gets one record
 * handle (hold it with the batch, or release it). A torn or corrupt stretch
 * is skipped, counted and logged; the records after it are still replayed.
 * fn returns OTC_OK to go on; anything else stops the replay (fn must then
 * have given its handle up with otc_wal_rec_keep, so the record is replayed
 * again by the next call) and is returned. OTC_OK once everything was read. */
typedef int (*otc_wal_replay_fn)(void *arg, uint8_t signal, const void *data, size_t len,
                                 struct otc_wal_rec *rec);
int otc_wal_replay(struct otc_wal *w, otc_wal_replay_fn fn, void *arg);
/* Earlier-run records are still to be read by otc_wal_replay. */
bool otc_wal_replay_pending(struct otc_wal *w);
/* Replayed records not yet released (the replay's window into the queues). */
uint64_t otc_wal_replay_outstanding(struct otc_wal *w);

/* Append one record of 'items' items and return once it is durable (after
 * the group commit's fdatasync when fsync is on). On OTC_OK *rec is the
 * record's handle. OTC_EAGAIN when the capacity is reached (*full set) or on
 * a write or sync error (full disk): nothing was accepted. */
int otc_wal_append(struct otc_wal *w, uint8_t signal, const void *data, size_t len,
                   uint64_t items, struct otc_wal_rec **rec, bool *full);

/* The replayed record holds this many items (counted in the queue size). */
void otc_wal_rec_items(struct otc_wal_rec *rec, uint64_t items);

/* The record is delivered (or dropped on purpose): acknowledged, written to
 * the progress file by the next group; a segment with every record
 * acknowledged that is not the active one is deleted. Frees rec. */
void otc_wal_rec_release(struct otc_wal_rec *rec);

/* The record was not delivered: its release will not acknowledge it. */
void otc_wal_rec_keep(struct otc_wal_rec *rec);

/* Tie rec to b (otc_batch_on_release): released when b is freed, i.e. once
 * every exporter is done with it. Takes rec over; on OTC_ENOMEM it is
 * released. Call before b is shared. */
int otc_wal_rec_hold(struct otc_batch *b, struct otc_wal_rec *rec);

/* Progress per exporter. An exporter is named by a key, a 48-bit hash of its
 * id, the same in every run. */
uint64_t otc_wal_exporter_key(const char *id);

/* The exporters of the log's pipeline, in the pipeline's order (the first
 * OTC_WAL_MAX_EXPORTERS). With two or more, the log also notes which of them
 * have a record (otc_wal_batch_done_by), and the replay tells which of them
 * have each record already (otc_wal_rec_skip); a record they all have is not
 * replayed. Call before the replay starts (at open, and when a reloaded
 * pipeline takes the log over). */
void otc_wal_set_exporters(struct otc_wal *w, const char *const *ids, size_t n);

/* The exporter with key 'key' is done with b for good (sent, or dropped for
 * good): every record of this log that b alone carries (its own release
 * hooks, and those of the batches only b holds, see otc_batch_sole_releases)
 * is noted as delivered to that exporter, written with the next progress
 * round unless the record is fully delivered by then. Nothing when the key is
 * not one of the pipeline's exporters. Any thread; b must be held. */
void otc_wal_batch_done_by(struct otc_wal *w, struct otc_batch *b, uint64_t key);

/* One record delivered to the exporter 'key' (what otc_wal_batch_done_by
 * does for each record it finds). */
void otc_wal_rec_done_by(struct otc_wal_rec *rec, uint64_t key);

/* A replayed record: bit i set when exporter i (otc_wal_set_exporters) had
 * it delivered in an earlier run. 0 for new records. */
uint64_t otc_wal_rec_skip(const struct otc_wal_rec *rec);

/* Write the acknowledgements gathered so far now (the writer thread does it
 * every ack_interval). */
void otc_wal_flush_acks(struct otc_wal *w);

/* From now on releases are ignored: batches freed at shutdown without being
 * delivered must not acknowledge their records. */
void otc_wal_freeze(struct otc_wal *w);

void otc_wal_stats(struct otc_wal *w, struct otc_wal_stats *st);

/* Close: the writer thread stops after a last write; segments whose every
 * record was delivered are deleted, the others kept for the next start.
 * Frees w; no handle may be used afterwards. */
void otc_wal_close(struct otc_wal *w);


#endif
