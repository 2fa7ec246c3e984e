/* wal_internal.h - what the write-ahead log's files share (wal.c: open,
 * segments, append, release, close; wal_progress.c: the delivery progress;
 * wal_replay.c: the replay of earlier runs): the record format's constants, the
 * structs and a few helpers. Not for use outside core/wal*.c. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_WAL_INTERNAL_H
#define OTC_CORE_WAL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "wal.h"

#define WAL_HDR          9u
#define WAL_MAX_RAW      ((uint64_t)1 << 32) /* requests are at most 2 GiB */
#define WAL_FAIL_RING    8
#define WAL_ACK_HDR      8u
#define WAL_FRAME_HDR    13u       /* magic, descriptor (single segment), u64 content size */
#define WAL_RAW_BLOCK    (128u * 1024u) /* a zstd block holds this much at most */

/* Progress entries (u64): a record's byte offset (top byte 0: delivered to every
 * exporter, as in files without exporter entries); slot << 56 | offset (slot
 * 1..OTC_WAL_MAX_EXPORTERS: delivered to the exporter declared in that slot); 0xff << 56 |
 * slot << 48 | key (declares the slot's exporter by its key, for the entries after it
 * in this file). A reader that knows no exporters sees offsets that match no record. */
#define WAL_OFF_MASK     (((uint64_t)1 << 56) - 1)
#define WAL_KEY_MASK     (((uint64_t)1 << 48) - 1)
#define WAL_ENT_DECL     0xffu

static const uint8_t zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

/* A record delivered to one exporter (by the key of its id). */
struct wal_xack {
    uint64_t off;
    uint64_t key;
};

struct otc_wal_seg {
    struct otc_wal_seg *next;      /* oldest first */
    struct otc_wal     *w;
    uint64_t            first;     /* sequence number in the file name */
    uint64_t            size;      /* bytes of the segment file */
    uint64_t            pending;   /* records handed out and not yet released */
    bool                active;    /* being appended to */
    bool                old;       /* left by an earlier run and not yet read through */
    bool                flushing;  /* the progress writer works on it (outside the lock) */
    bool                doomed;    /* delete once the progress writer is done */
    uint64_t            replay_off;/* old: where the replay goes on (replay thread only) */
    uint64_t           *done;      /* old: offsets delivered by earlier runs, sorted */
    size_t              n_done;
    struct wal_xack    *xdone;     /* old: delivered to some exporters, by offset */
    size_t              n_xdone;
    uint64_t           *acks;      /* delivered, not yet written */
    size_t              n_acks, cap_acks;
    struct wal_xack    *xacks;     /* delivered to one exporter, not yet written */
    size_t              n_xacks, cap_xacks;
    uint64_t            decl[OTC_WAL_MAX_EXPORTERS]; /* keys this run declared in the progress
                                                    file, slot = index + 1 (writer only) */
    unsigned            n_decl;
    int                 ack_fd;    /* progress file: writer only while flushing */
    uint64_t            ack_size;
    char                path[];    /* ".../<first>.wal" */
};

struct otc_wal_rec {
    struct otc_wal_seg *seg;
    uint64_t            off;       /* byte offset of the record in its segment */
    uint64_t            items;
    bool                replayed;
    bool                keep;      /* not delivered: its release does not acknowledge it */
    uint64_t            skip;      /* replayed: bit i = exporter i has it (otc_wal_rec_skip) */
};

struct otc_wal {
    pthread_mutex_t        lock;
    pthread_cond_t         cond;
    pthread_mutex_t        ack_lock;    /* one progress round at a time */
    pthread_cond_t         ack_cond;
    pthread_t              ack_thread;
    bool                   ack_started;
    bool                   ack_stop;
    char                  *dir;
    int                    dirfd;
    struct otc_wal_options opt;
    struct otc_instance   *log_ins;
    struct otc_wal_seg    *segs;
    struct otc_wal_seg    *active;
    int                    fd;          /* the active segment */
    uint64_t               active_size;
    uint64_t               next_seq;
    uint64_t               appended;    /* records written by this run (group commit count) */
    uint64_t               synced;      /* of those, how many are durable */
    bool                   syncing;     /* a waiter is in fdatasync */
    bool                   rotate;      /* start a new segment before the next append */
    uint64_t               fail_lo[WAL_FAIL_RING], fail_hi[WAL_FAIL_RING]; /* failed syncs */
    unsigned               fail_n;
    uint64_t               syncs;
    uint64_t               queued, queued_items, disk_bytes, full, acked, ack_writes;
    uint64_t               replayed, replayed_items, skipped, corrupt, corrupt_bytes;
    uint64_t               replay_outstanding;
    uint64_t               xkeys[OTC_WAL_MAX_EXPORTERS]; /* the pipeline's exporters, in order */
    unsigned               n_xkeys;
    uint64_t               xacked;      /* records noted delivered to one exporter */
    atomic_bool            frozen;
};

/* ------------------------------------------------------------------ helpers */

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* The progress file's name: the segment's with ".ack". */
static inline void seg_ack_path(const struct otc_wal_seg *s, char *buf, size_t len)
{
    size_t n = strlen(s->path);

    snprintf(buf, len, "%.*s.ack", (int)(n - 4), s->path);
}

/* wal.c: under the lock, delete s once nothing holds it (deferred while the
 * progress writer works on it). */
void otc_wal_seg_maybe_delete(struct otc_wal *w, struct otc_wal_seg *s);

/* wal.c: the release hook otc_wal_rec_hold registers (arg: the record). */
void otc_wal_rec_hook(void *rec);

/* wal_progress.c: read an earlier run's progress file into s->done (at open);
 * the "wal-acks" thread's body (arg: the struct otc_wal). */
void otc_wal_seg_load_acks(struct otc_wal *w, struct otc_wal_seg *s);
void *otc_wal_ack_loop(void *arg);
/* wal_progress.c, replay thread: *skip = the exporters (bit i: w->xkeys[i])
 * that have the old record at offset off (s->xdone from *xi on; *xi advances
 * past it). True when every exporter of the pipeline has it. */
bool otc_wal_seg_xdone(struct otc_wal *w, const struct otc_wal_seg *s, size_t *xi, uint64_t off,
                       uint64_t *skip);

#endif
