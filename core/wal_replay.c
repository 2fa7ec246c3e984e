/* wal_replay.c - the write-ahead log's replay: earlier runs' segments read
 * from where their replay stopped, corrupt stretches skipped, records delivered
 * to every exporter left out, the others told which exporters have them. Runs
 * on the caller's thread (the persistent queue's replay thread). */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include "otc/otc_log.h"
#include "otc/otc_rc.h"
#include "otc/otc_signal.h"
#include "wal_internal.h"


/* ----------------------------------------------------------------- replay */

/* Why the record at off of a mapped segment is bad, or NULL (*len set). */
static const char *rec_check(const uint8_t *map, uint64_t size, uint64_t off, uint32_t *len)
{
    uint32_t n;

    if (size - off < WAL_HDR) {
        return "torn record header";
    }
    n = get32(map + off);
    if (n == 0 || (uint64_t)n > size - off - WAL_HDR) {
        return "record length past the end of the file";
    }
    if (otc_crc32c(otc_crc32c(0, map + off + 8, 1), map + off + WAL_HDR, n) != get32(map + off + 4)) {
        return "CRC32C mismatch";
    }
    *len = n;
    return NULL;
}

/* The next good record at or after 'from': a frame's magic where a record's
 * would be, a known signal and a matching CRC. 0 when there is none. */
static uint64_t rec_resync(const uint8_t *map, uint64_t size, uint64_t from)
{
    uint64_t at = from + WAL_HDR;

    while (at + sizeof(zstd_magic) <= size) {
        const uint8_t *m = memmem(map + at, size - at, zstd_magic, sizeof(zstd_magic));
        uint64_t cand;
        uint32_t len;

        if (!m) {
            break;
        }
        cand = (uint64_t)(m - map) - WAL_HDR;
        if (map[cand + 8] < OTC_SIGNAL_COUNT && !rec_check(map, size, cand, &len)) {
            return cand;
        }
        at = (uint64_t)(m - map) + 1;
    }
    return 0;
}

/* Read one earlier-run segment from where its replay stopped. */
static int replay_segment(struct otc_wal *w, struct otc_wal_seg *s, otc_wal_replay_fn fn, void *arg)
{
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    uint8_t *map = NULL, *raw = NULL;
    uint64_t size = s->size, off = s->replay_off, good = 0, skipped = 0;
    size_t di = 0, xi = 0;
    int rc = OTC_OK;

    if (fd < 0) {
        otc_log_err(w->log_ins, "cannot open the queue segment %s: %s", s->path, strerror(errno));
        return OTC_EIO;
    }
    if (size && (map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
        otc_log_err(w->log_ins, "cannot map the queue segment %s: %s", s->path, strerror(errno));
        close(fd);
        return OTC_EIO;
    }
    while (off < size) {
        const char *why;
        uint32_t len = 0;
        uint64_t next;
        unsigned long long n;
        struct otc_wal_rec *rec;
        uint64_t skip = 0;

        if ((why = rec_check(map, size, off, &len)) != NULL) {
            uint64_t to = rec_resync(map, size, off + 1);
            pthread_mutex_lock(&w->lock);
            w->corrupt++;
            w->corrupt_bytes += (to ? to : size) - off;
            pthread_mutex_unlock(&w->lock);
            if (!to) {
                otc_log_warn(w->log_ins, "queue segment %s: %s at offset %" PRIu64 "; cut there, "
                             "keeping %" PRIu64 " good records (%" PRIu64 " bytes dropped)", s->path,
                             why, off, good, size - off);
                break;
            }
            otc_log_warn(w->log_ins, "queue segment %s: %s at offset %" PRIu64 "; skipped %" PRIu64
                         " bytes (at least one record lost) to the next good record at offset %"
                         PRIu64, s->path, why, off, to - off, to);
            off = to;
            continue;
        }
        next = off + WAL_HDR + len;
        good++;
        while (di < s->n_done && s->done[di] < off) {
            di++;
        }
        if (di < s->n_done && s->done[di] == off) {
            skipped++; /* delivered before the restart */
            off = next;
            continue;
        }
        if (s->n_xdone && otc_wal_seg_xdone(w, s, &xi, off, &skip)) {
            skipped++; /* every exporter of the pipeline had it before the restart */
            off = next;
            continue;
        }
        n = ZSTD_getFrameContentSize(map + off + WAL_HDR, len);
        if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > WAL_MAX_RAW ||
            !(raw = realloc(raw, n ? n : 1)) ||
            ZSTD_isError(ZSTD_decompress(raw, n, map + off + WAL_HDR, len))) {
            otc_log_warn(w->log_ins, "queue segment %s: the record at offset %" PRIu64 " does not "
                         "decompress; skipped", s->path, off);
            pthread_mutex_lock(&w->lock);
            w->corrupt++;
            w->corrupt_bytes += next - off;
            pthread_mutex_unlock(&w->lock);
            off = next;
            continue;
        }
        if (!(rec = calloc(1, sizeof(*rec)))) {
            rc = OTC_ENOMEM;
            break;
        }
        rec->seg = s;
        rec->off = off;
        rec->replayed = true;
        rec->skip = skip;
        pthread_mutex_lock(&w->lock);
        s->pending++;
        w->queued++;
        w->replayed++;
        w->replay_outstanding++;
        pthread_mutex_unlock(&w->lock);
        s->replay_off = next;
        if ((rc = fn(arg, map[off + 8], raw, (size_t)n, rec)) != OTC_OK) {
            s->replay_off = off; /* fn kept the record: read again next time */
            break;
        }
        off = next;
    }
    if (map) {
        munmap(map, size);
    }
    close(fd);
    free(raw);
    pthread_mutex_lock(&w->lock);
    w->skipped += skipped;
    if (rc == OTC_OK) {
        s->old = false;
        free(s->done);
        s->done = NULL;
        s->n_done = 0;
        free(s->xdone);
        s->xdone = NULL;
        s->n_xdone = 0;
        otc_wal_seg_maybe_delete(w, s);
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

int otc_wal_replay(struct otc_wal *w, otc_wal_replay_fn fn, void *arg)
{
    for (;;) {
        struct otc_wal_seg *s;
        int rc;

        pthread_mutex_lock(&w->lock);
        for (s = w->segs; s && !s->old; s = s->next) {
        }
        pthread_mutex_unlock(&w->lock);
        if (!s) {
            return OTC_OK;
        }
        /* an old segment is not deleted until read through: s stays valid */
        if ((rc = replay_segment(w, s, fn, arg)) != OTC_OK) {
            return rc;
        }
    }
}

bool otc_wal_replay_pending(struct otc_wal *w)
{
    bool any = false;

    pthread_mutex_lock(&w->lock);
    for (struct otc_wal_seg *s = w->segs; s && !any; s = s->next) {
        any = s->old;
    }
    pthread_mutex_unlock(&w->lock);
    return any;
}

uint64_t otc_wal_replay_outstanding(struct otc_wal *w)
{
    uint64_t n;

    pthread_mutex_lock(&w->lock);
    n = w->replay_outstanding;
    pthread_mutex_unlock(&w->lock);
    return n;
}
