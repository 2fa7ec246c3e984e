/* wal.c - the write-ahead log of a pipeline with persistent storage. Receiver
 * threads append (the first waiter fsyncs for everyone: group commit); the
 * thread that frees a batch acknowledges its record; the "wal-acks" thread
 * writes the acknowledgements gathered since its last round to each segment's
 * progress file (one write and one fdatasync per segment and round); the
 * persistent queue's replay thread reads earlier runs' segments. One mutex
 * guards the segment list and the counters. This file opens the log, keeps
 * its segments, appends, releases and closes; the progress writer is in
 * wal_progress.c, the replay in wal_replay.c, what they share in wal_internal.h.
 *
 * Record: [u32 length][u32 crc32c][u8 signal][length bytes: zstd frame],
 * little endian; the CRC covers the signal byte and the frame. The frame is
 * compressed (file_storage compression: zstd) or made of raw blocks, written
 * here around the request's bytes without copying them (compression: none). Segment files
 * are named after a sequence number (%020llu.wal) that grows with every
 * segment. Progress file (%020llu.ack): blocks of [u32 n][u32 crc32c][n x u64
 * entry], the CRC covering the entries; an entry is the byte offset of a
 * delivered record, or, with several exporters, of a record delivered to one of
 * them, or names an exporter (see wal_internal.h). */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zstd.h>

#include "otc/otc_batch.h"
#include "otc/otc_log.h"
#include "otc/otc_rc.h"
#include "wal.h"
#include "wal_internal.h"

#define WAL_ZSTD_LEVEL   1
#define WAL_IOV_BLOCKS   8u        /* raw blocks written from the request in place */

/* ------------------------------------------------------------------ helpers */

static int mkdir_p(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- segments */

static struct otc_wal_seg *seg_new(struct otc_wal *w, uint64_t first)
{
    size_t n = strlen(w->dir) + 32;
    struct otc_wal_seg *s = calloc(1, sizeof(*s) + n);

    if (!s) {
        return NULL;
    }
    s->w = w;
    s->first = first;
    s->ack_fd = -1;
    snprintf(s->path, n, "%s/%020" PRIu64 ".wal", w->dir, first);
    return s;
}

/* Insert in order of first sequence number. */
static void seg_insert(struct otc_wal *w, struct otc_wal_seg *s)
{
    struct otc_wal_seg **pp = &w->segs;

    while (*pp && (*pp)->first < s->first) {
        pp = &(*pp)->next;
    }
    s->next = *pp;
    *pp = s;
}

static void seg_free(struct otc_wal_seg *s)
{
    if (s->ack_fd >= 0) {
        close(s->ack_fd);
    }
    free(s->done);
    free(s->xdone);
    free(s->acks);
    free(s->xacks);
    free(s);
}

/* Under the lock, not flushing: unlink the files and forget the segment. The
 * segment goes first: a progress file without its segment is removed at the
 * next open, a segment without its progress file is replayed whole. */
static void seg_delete(struct otc_wal *w, struct otc_wal_seg *s)
{
    char ack[4200];

    for (struct otc_wal_seg **pp = &w->segs; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    if (unlink(s->path) != 0 && errno != ENOENT) {
        otc_log_warn(w->log_ins, "cannot delete the delivered queue segment %s: %s", s->path,
                     strerror(errno));
    }
    seg_ack_path(s, ack, sizeof(ack));
    unlink(ack);
    w->disk_bytes -= s->size + s->ack_size;
    seg_free(s);
}

/* Under the lock: delete s if every record handed out is released, it is
 * neither appended to nor still to be replayed (deferred while the progress
 * writer works on it). */
void otc_wal_seg_maybe_delete(struct otc_wal *w, struct otc_wal_seg *s)
{
    if (atomic_load(&w->frozen) || s->pending || s->active || s->old) {
        return;
    }
    if (s->flushing) {
        s->doomed = true;
    } else {
        seg_delete(w, s);
    }
}

/* ------------------------------------------------------------------- open */

/* List the earlier run's segments (read later, by the replay) and their
 * progress; remove progress files whose segment is gone. */
static int wal_scan(struct otc_wal *w)
{
    DIR *d = opendir(w->dir);
    struct dirent *de;

    if (!d) {
        return OTC_EIO;
    }
    while ((de = readdir(d)) != NULL) {
        unsigned long long first;
        struct otc_wal_seg *s;
        struct stat st;

        if (strlen(de->d_name) != 24 || strspn(de->d_name, "0123456789") != 20) {
            continue;
        }
        first = strtoull(de->d_name, NULL, 10);
        if (!strcmp(de->d_name + 20, ".ack")) {
            char wal[4200];
            snprintf(wal, sizeof(wal), "%s/%.20s.wal", w->dir, de->d_name);
            if (access(wal, F_OK) != 0) {
                snprintf(wal, sizeof(wal), "%s/%s", w->dir, de->d_name);
                unlink(wal);
            }
            continue;
        }
        if (strcmp(de->d_name + 20, ".wal") != 0) {
            continue;
        }
        if (!(s = seg_new(w, first))) {
            closedir(d);
            return OTC_ENOMEM;
        }
        if (stat(s->path, &st) != 0) {
            free(s);
            continue;
        }
        s->size = (uint64_t)st.st_size;
        s->old = true;
        seg_insert(w, s);
        /* sequence numbers only need to grow: a record is at least 10 bytes */
        if (s->first + s->size + 1 > w->next_seq) {
            w->next_seq = s->first + s->size + 1;
        }
    }
    closedir(d);
    for (struct otc_wal_seg *s = w->segs, *next; s; s = next) {
        next = s->next;
        if (s->size == 0) {
            s->old = false;
            seg_delete(w, s);
            continue;
        }
        otc_wal_seg_load_acks(w, s);
        w->disk_bytes += s->size + s->ack_size;
    }
    return OTC_OK;
}

/* Under the lock, no sync running: make a new active segment (after closing
 * the old one, deleted if all its records are released). */
static int wal_new_segment(struct otc_wal *w)
{
    struct otc_wal_seg *s;
    char ack[4200];
    int fd;

    if (w->active) {
        struct otc_wal_seg *old = w->active;
        if (w->opt.fsync && w->synced < w->appended) {
            w->syncs++;
            if (fdatasync(w->fd) != 0) {
                unsigned i = w->fail_n++ % WAL_FAIL_RING;
                w->fail_lo[i] = w->synced + 1;
                w->fail_hi[i] = w->appended;
            }
            w->synced = w->appended;
            pthread_cond_broadcast(&w->cond);
        }
        close(w->fd);
        w->fd = -1;
        w->active = NULL;
        old->active = false;
        otc_wal_seg_maybe_delete(w, old);
    }
    if (!(s = seg_new(w, w->next_seq))) {
        return OTC_ENOMEM;
    }
    seg_ack_path(s, ack, sizeof(ack));
    unlink(ack); /* never someone else's progress */
    fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        otc_log_err(w->log_ins, "cannot create the queue segment %s: %s", s->path, strerror(errno));
        free(s);
        return OTC_EIO;
    }
    if (w->opt.fsync) {
        fsync(w->dirfd); /* the new name must survive a crash too */
    }
    w->next_seq++;
    s->active = true;
    seg_insert(w, s);
    w->active = s;
    w->fd = fd;
    w->active_size = 0;
    w->rotate = false;
    return OTC_OK;
}

struct otc_wal *otc_wal_open(const char *dir, const struct otc_wal_options *opt,
                             struct otc_instance *log_ins, char *err, size_t errlen)
{
    struct otc_wal *w = calloc(1, sizeof(*w));

    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_mutex_init(&w->ack_lock, NULL);
    pthread_cond_init(&w->ack_cond, NULL);
    w->opt = *opt;
    w->log_ins = log_ins;
    w->fd = -1;
    w->dirfd = -1;
    if (mkdir_p(dir) != 0 || (w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "directory %s: %s", dir, strerror(errno));
        otc_wal_close(w);
        return NULL;
    }
    if (wal_scan(w) != OTC_OK) {
        snprintf(err, errlen, "cannot read the queue in %s: %s", dir, strerror(errno));
        otc_wal_close(w);
        return NULL;
    }
    pthread_mutex_lock(&w->lock);
    if (wal_new_segment(w) != OTC_OK) {
        pthread_mutex_unlock(&w->lock);
        snprintf(err, errlen, "cannot create a segment in %s: %s", dir, strerror(errno));
        otc_wal_close(w);
        return NULL;
    }
    pthread_mutex_unlock(&w->lock);
    if (pthread_create(&w->ack_thread, NULL, otc_wal_ack_loop, w) != 0) {
        snprintf(err, errlen, "cannot start the progress thread");
        otc_wal_close(w);
        return NULL;
    }
    w->ack_started = true;
    return w;
}

/* ----------------------------------------------------------------- append */

/* Under the lock: was record number 'my' of this run in a failed sync? */
static bool wal_sync_failed(const struct otc_wal *w, uint64_t my)
{
    unsigned n = w->fail_n < WAL_FAIL_RING ? w->fail_n : WAL_FAIL_RING;

    for (unsigned i = 0; i < n; i++) {
        if (my >= w->fail_lo[i] && my <= w->fail_hi[i]) {
            return true;
        }
    }
    return false;
}

/* The size past which the active segment is closed: with a bytes capacity,
 * a quarter of it at most, so that delivered segments give disk back soon. */
static uint64_t wal_segment_limit(const struct otc_wal *w)
{
    uint64_t lim = w->opt.segment_size;

    if (w->opt.sizer == OTC_WAL_SIZER_BYTES && w->opt.capacity) {
        uint64_t q = w->opt.capacity / 4 > 4096 ? w->opt.capacity / 4 : 4096;
        lim = q < lim ? q : lim;
    }
    return lim;
}

/* Under the lock: would a record of 'bytes' bytes and 'items' items go past
 * the capacity? (An empty queue takes any one record.) */
static bool wal_over(const struct otc_wal *w, uint64_t bytes, uint64_t items)
{
    if (!w->opt.capacity || w->queued == 0) {
        return false;
    }
    switch (w->opt.sizer) {
    case OTC_WAL_SIZER_ITEMS:
        return w->queued_items + items > w->opt.capacity;
    case OTC_WAL_SIZER_BYTES:
        return w->disk_bytes + bytes > w->opt.capacity;
    default:
        return w->queued + 1 > w->opt.capacity;
    }
}

/* One record ready to write: pieces for writev (the request's bytes in
 * place for raw blocks), or one buffer of its own. */
struct wal_rec_buf {
    struct iovec iov[2 + 2 * WAL_IOV_BLOCKS];
    int          n;
    size_t       total;
    uint8_t      head[WAL_HDR + WAL_FRAME_HDR + 3];
    uint8_t      bh[WAL_IOV_BLOCKS][3];
    uint8_t     *heap;
};

/* The zstd frame header of a frame of raw blocks holding len bytes. */
static void raw_frame_header(uint8_t *p, size_t len)
{
    memcpy(p, zstd_magic, 4);
    p[4] = 0xe0; /* content size in 8 bytes, single segment, no checksum, no dictionary */
    put64(p + 5, len);
}

static void raw_block_header(uint8_t *p, size_t n, bool last)
{
    uint32_t v = (uint32_t)(n << 3) | (last ? 1u : 0u); /* block type 0: raw */

    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
}

/* Build the record of one request into rb. OTC_ENOMEM on failure. */
static int rec_build(const struct otc_wal *w, struct wal_rec_buf *rb, uint8_t signal,
                     const uint8_t *data, size_t len)
{
    size_t nblocks = len ? (len + WAL_RAW_BLOCK - 1) / WAL_RAW_BLOCK : 1;
    size_t flen;
    uint32_t crc;

    rb->heap = NULL;
    if (w->opt.compress) {
        size_t cap = ZSTD_compressBound(len);
        if (!(rb->heap = malloc(WAL_HDR + cap))) {
            return OTC_ENOMEM;
        }
        flen = ZSTD_compress(rb->heap + WAL_HDR, cap, data, len, WAL_ZSTD_LEVEL);
        if (ZSTD_isError(flen) || flen > UINT32_MAX) {
            free(rb->heap);
            return OTC_ENOMEM;
        }
        rb->heap[8] = signal;
        put32(rb->heap, (uint32_t)flen);
        put32(rb->heap + 4, otc_crc32c(otc_crc32c(0, rb->heap + 8, 1), rb->heap + WAL_HDR, flen));
        rb->iov[0] = (struct iovec){rb->heap, WAL_HDR + flen};
        rb->n = 1;
        rb->total = WAL_HDR + flen;
        return OTC_OK;
    }
    flen = WAL_FRAME_HDR + 3 * nblocks + len;
    if (flen > UINT32_MAX) {
        return OTC_ENOMEM;
    }
    if (nblocks > WAL_IOV_BLOCKS) { /* a big request: one buffer */
        uint8_t *q;
        if (!(rb->heap = q = malloc(WAL_HDR + flen))) {
            return OTC_ENOMEM;
        }
        q[8] = signal;
        raw_frame_header(q + WAL_HDR, len);
        q += WAL_HDR + WAL_FRAME_HDR;
        for (size_t i = 0, off = 0; i < nblocks; i++) {
            size_t k = len - off < WAL_RAW_BLOCK ? len - off : WAL_RAW_BLOCK;
            raw_block_header(q, k, i + 1 == nblocks);
            memcpy(q + 3, data + off, k);
            q += 3 + k;
            off += k;
        }
        put32(rb->heap, (uint32_t)flen);
        put32(rb->heap + 4, otc_crc32c(otc_crc32c(0, rb->heap + 8, 1), rb->heap + WAL_HDR, flen));
        rb->iov[0] = (struct iovec){rb->heap, WAL_HDR + flen};
        rb->n = 1;
        rb->total = WAL_HDR + flen;
        return OTC_OK;
    }
    rb->head[8] = signal;
    put32(rb->head, (uint32_t)flen);
    raw_frame_header(rb->head + WAL_HDR, len);
    crc = otc_crc32c(0, rb->head + 8, 1 + WAL_FRAME_HDR);
    rb->n = 0;
    for (size_t i = 0, off = 0; i < nblocks; i++) {
        size_t k = len - off < WAL_RAW_BLOCK ? len - off : WAL_RAW_BLOCK;
        uint8_t *bh = i == 0 ? rb->head + WAL_HDR + WAL_FRAME_HDR : rb->bh[i];
        raw_block_header(bh, k, i + 1 == nblocks);
        crc = otc_crc32c(crc, bh, 3);
        crc = otc_crc32c(crc, data + off, k);
        if (i == 0) {
            rb->iov[rb->n++] = (struct iovec){rb->head, sizeof(rb->head)};
        } else {
            rb->iov[rb->n++] = (struct iovec){bh, 3};
        }
        if (k) {
            rb->iov[rb->n++] = (struct iovec){(void *)(data + off), k};
        }
        off += k;
    }
    put32(rb->head + 4, crc);
    rb->total = WAL_HDR + flen;
    return OTC_OK;
}

static int writev_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t k = writev(fd, iov, n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return -1;
        }
        while (n > 0 && (size_t)k >= iov->iov_len) {
            k -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + k;
            iov->iov_len -= (size_t)k;
        }
    }
    return 0;
}

int otc_wal_append(struct otc_wal *w, uint8_t signal, const void *data, size_t len,
                   uint64_t items, struct otc_wal_rec **recp, bool *full)
{
    struct wal_rec_buf rb;
    struct otc_wal_rec *rec = calloc(1, sizeof(*rec));
    struct otc_wal_seg *seg;
    size_t clen;
    uint64_t my;
    int rc = OTC_OK;

    *recp = NULL;
    if (full) {
        *full = false;
    }
    if (!rec || rec_build(w, &rb, signal, data, len) != OTC_OK) {
        free(rec);
        return OTC_ENOMEM;
    }
    clen = rb.total - WAL_HDR;

    pthread_mutex_lock(&w->lock);
    if (wal_over(w, WAL_HDR + clen, items) && w->opt.sizer == OTC_WAL_SIZER_BYTES && w->active &&
        w->active->pending == 0 && w->active_size > 0) {
        w->rotate = true; /* everything in the active segment is delivered: give it back */
    }
    if (w->active && (w->rotate || w->active_size >= wal_segment_limit(w))) {
        while (w->syncing) { /* the syncer uses the active segment's descriptor */
            pthread_cond_wait(&w->cond, &w->lock);
        }
    }
    if (!w->active || w->rotate || w->active_size >= wal_segment_limit(w)) {
        if (wal_new_segment(w) != OTC_OK) {
            pthread_mutex_unlock(&w->lock);
            free(rb.heap);
            free(rec);
            return OTC_EAGAIN;
        }
    }
    if (wal_over(w, WAL_HDR + clen, items)) {
        w->full++;
        pthread_mutex_unlock(&w->lock);
        free(rb.heap);
        free(rec);
        if (full) {
            *full = true;
        }
        return OTC_EAGAIN;
    }
    if (writev_all(w->fd, rb.iov, rb.n) != 0) {
        int e = errno;
        /* a full disk: take the partial record back so the next one starts clean */
        if (ftruncate(w->fd, (off_t)w->active_size) != 0) {
            w->rotate = true;
        }
        pthread_mutex_unlock(&w->lock);
        free(rb.heap);
        free(rec);
        errno = e;
        return OTC_EAGAIN;
    }
    free(rb.heap);
    seg = w->active;
    seg->pending++;
    rec->seg = seg;
    rec->off = w->active_size;
    rec->items = items;
    seg->size += WAL_HDR + clen;
    w->active_size += WAL_HDR + clen;
    w->disk_bytes += WAL_HDR + clen;
    w->queued++;
    w->queued_items += items;
    my = ++w->appended;
    if (!w->opt.fsync) {
        w->synced = my;
        pthread_mutex_unlock(&w->lock);
        *recp = rec;
        return OTC_OK;
    }
    /* Group commit: whoever finds no sync running syncs everything written so
     * far; the others wait for a sync that covers their record. */
    while (w->synced < my) {
        if (!w->syncing) {
            uint64_t target = w->appended;
            int fd = w->fd, r;

            w->syncing = true;
            w->syncs++;
            pthread_mutex_unlock(&w->lock);
            r = fdatasync(fd);
            pthread_mutex_lock(&w->lock);
            if (r != 0) {
                unsigned i = w->fail_n++ % WAL_FAIL_RING;
                w->fail_lo[i] = w->synced + 1;
                w->fail_hi[i] = target;
                w->rotate = true; /* what this file holds is no longer known */
                otc_log_err(w->log_ins, "queue segment %s: fdatasync: %s", seg->path, strerror(errno));
            }
            if (target > w->synced) {
                w->synced = target;
            }
            w->syncing = false;
            pthread_cond_broadcast(&w->cond);
        } else {
            pthread_cond_wait(&w->cond, &w->lock);
        }
    }
    if (wal_sync_failed(w, my)) {
        rc = OTC_EAGAIN;
        w->queued--;
        w->queued_items -= items;
        seg->pending--;
        otc_wal_seg_maybe_delete(w, seg);
        free(rec);
    } else {
        *recp = rec;
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

/* ---------------------------------------------------------------- release */

void otc_wal_rec_items(struct otc_wal_rec *rec, uint64_t items)
{
    struct otc_wal *w = rec->seg->w;

    pthread_mutex_lock(&w->lock);
    w->queued_items += items - rec->items;
    if (rec->replayed) {
        w->replayed_items += items - rec->items;
    }
    rec->items = items;
    pthread_mutex_unlock(&w->lock);
}

void otc_wal_rec_keep(struct otc_wal_rec *rec)
{
    if (rec) {
        rec->keep = true;
    }
}

void otc_wal_rec_release(struct otc_wal_rec *rec)
{
    struct otc_wal_seg *s;
    struct otc_wal *w;

    if (!rec) {
        return;
    }
    s = rec->seg;
    w = s->w;
    if (atomic_load(&w->frozen)) {
        free(rec);
        return;
    }
    pthread_mutex_lock(&w->lock);
    if (!atomic_load(&w->frozen)) {
        if (!rec->keep) {
            if (s->n_acks == s->cap_acks) {
                size_t nc = s->cap_acks ? 2 * s->cap_acks : 64;
                uint64_t *g = realloc(s->acks, nc * sizeof(*g));
                if (g) { /* without memory the record is only delivered again */
                    s->acks = g;
                    s->cap_acks = nc;
                }
            }
            if (s->n_acks < s->cap_acks) {
                s->acks[s->n_acks++] = rec->off;
            }
            w->acked++;
        }
        w->queued--;
        w->queued_items -= rec->items < w->queued_items ? rec->items : w->queued_items;
        if (rec->replayed) {
            w->replay_outstanding--;
        }
        s->pending--;
        otc_wal_seg_maybe_delete(w, s);
    }
    pthread_mutex_unlock(&w->lock);
    free(rec);
}

void otc_wal_rec_hook(void *rec)
{
    otc_wal_rec_release(rec);
}

int otc_wal_rec_hold(struct otc_batch *b, struct otc_wal_rec *rec)
{
    if (otc_batch_on_release(b, otc_wal_rec_hook, rec) != OTC_OK) {
        otc_wal_rec_release(rec);
        return OTC_ENOMEM;
    }
    return OTC_OK;
}

void otc_wal_freeze(struct otc_wal *w)
{
    if (w) {
        pthread_mutex_lock(&w->lock);
        atomic_store(&w->frozen, true);
        pthread_mutex_unlock(&w->lock);
    }
}

void otc_wal_stats(struct otc_wal *w, struct otc_wal_stats *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&w->lock);
    st->appended = w->appended;
    st->syncs = w->syncs;
    for (struct otc_wal_seg *s = w->segs; s; s = s->next) {
        st->segments++;
    }
    st->queued = w->queued;
    st->queued_items = w->queued_items;
    st->disk_bytes = w->disk_bytes;
    st->capacity = w->opt.capacity;
    st->sizer = w->opt.sizer;
    st->full = w->full;
    st->acked = w->acked;
    st->ack_writes = w->ack_writes;
    st->xacked = w->xacked;
    st->replayed = w->replayed;
    st->replayed_items = w->replayed_items;
    st->skipped = w->skipped;
    st->corrupt = w->corrupt;
    st->corrupt_bytes = w->corrupt_bytes;
    pthread_mutex_unlock(&w->lock);
}

void otc_wal_close(struct otc_wal *w)
{
    if (!w) {
        return;
    }
    if (w->ack_started) {
        pthread_mutex_lock(&w->lock);
        w->ack_stop = true;
        pthread_cond_broadcast(&w->ack_cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->ack_thread, NULL); /* its last round wrote what was gathered */
        w->ack_started = false;
    }
    pthread_mutex_lock(&w->lock);
    if (w->fd >= 0) {
        if (w->opt.fsync && w->synced < w->appended) {
            fdatasync(w->fd);
        }
        close(w->fd);
        w->fd = -1;
    }
    if (w->active) {
        w->active->active = false;
        w->active = NULL;
    }
    while (w->segs) {
        struct otc_wal_seg *s = w->segs;
        if (s->pending == 0 && !s->old) {
            seg_delete(w, s); /* every record delivered (or none written) */
        } else {
            w->segs = s->next;
            seg_free(s);
        }
    }
    pthread_mutex_unlock(&w->lock);
    if (w->dirfd >= 0) {
        close(w->dirfd);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->ack_lock);
    pthread_cond_destroy(&w->ack_cond);
    free(w->dir);
    free(w);
}
