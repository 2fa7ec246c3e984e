/* wal.c - the write-ahead log of a pipeline with persistent storage. Receiver
 * threads append (the first waiter fsyncs for everyone: group commit), the main
 * thread opens, replays and closes, and whichever thread frees a batch
 * releases its segment reference. One mutex guards the segment list.
 *
 * Record: [u32 length][u32 crc32c][u8 signal][length bytes: zstd frame],
 * little endian; the CRC covers the signal byte and the frame. Segment files
 * are named after the sequence number of their first record (%020llu.wal). */
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
#include <unistd.h>
#include <zstd.h>

#include "otc/otc_batch.h"
#include "otc/otc_log.h"
#include "otc/otc_rc.h"
#include "wal.h"

#define WAL_HDR        9u
#define WAL_ZSTD_LEVEL 1
#define WAL_MAX_RAW    ((uint64_t)1 << 32) /* requests are at most 2 GiB */
#define WAL_FAIL_RING  8

struct otc_wal_seg {
    struct otc_wal_seg *next;     /* oldest first */
    struct otc_wal     *w;
    uint64_t            first;    /* sequence number of the first record */
    uint64_t            records;  /* earlier run: good records in the file */
    uint64_t            good_len; /* earlier run: bytes of good records */
    uint64_t            pending;  /* references held by batches (under w->lock) */
    bool                active;   /* being appended to */
    bool                replay;   /* left by an earlier run */
    char                path[];
};

struct otc_wal {
    pthread_mutex_t        lock;
    pthread_cond_t         cond;
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
    atomic_bool            frozen;
};

/* ------------------------------------------------------------------ CRC32C */

/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as ext4, iSCSI and
 * LevelDB's log use: zlib only has the IEEE CRC-32, and no CRC32C library is
 * linked. Byte-at-a-time from a table runs at several hundred MB/s, well above
 * what a log bound by fdatasync writes, and the records are already compressed. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        crc_table[i] = c;
    }
}

uint32_t otc_crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;

    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    while (len--) {
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

/* ------------------------------------------------------------------ helpers */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* 1 = n bytes read, 0 = end of file before n bytes, -1 = error */
static int read_all(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            return -1;
        }
        if (k == 0) {
            return 0;
        }
        p += k;
        n -= (size_t)k;
    }
    return 1;
}

static struct otc_wal_seg *seg_new(struct otc_wal *w, uint64_t first)
{
    size_t n = strlen(w->dir) + 32;
    struct otc_wal_seg *s = calloc(1, sizeof(*s) + n);

    if (!s) {
        return NULL;
    }
    s->w = w;
    s->first = first;
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

/* Under the lock: unlink the file and forget the segment. */
static void seg_delete(struct otc_wal *w, struct otc_wal_seg *s)
{
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
    free(s);
}

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

/* ------------------------------------------------------------ recovery */

/* Walk a segment of an earlier run: count its good records, cut a torn or
 * corrupt tail (the first bad record of a segment ends it: a length can no
 * longer be trusted past a bad record, so nothing after it is read). */
static int seg_check(struct otc_wal *w, struct otc_wal_seg *s)
{
    int fd = open(s->path, O_RDWR | O_CLOEXEC);
    struct stat st;
    uint8_t hdr[WAL_HDR];
    uint8_t *buf = NULL;
    size_t cap = 0;
    uint64_t off = 0;
    const char *why = NULL;

    if (fd < 0 || fstat(fd, &st) != 0) {
        otc_log_err(w->log_ins, "cannot open the queue segment %s: %s", s->path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return OTC_EIO;
    }
    for (;;) {
        uint32_t len, crc;
        int r;

        if (off == (uint64_t)st.st_size) {
            break;
        }
        r = read_all(fd, hdr, WAL_HDR);
        if (r <= 0) {
            why = r < 0 ? strerror(errno) : "torn record header";
            break;
        }
        len = get32(hdr);
        crc = get32(hdr + 4);
        if (len == 0 || (uint64_t)len > (uint64_t)st.st_size - off - WAL_HDR) {
            why = "record length past the end of the file";
            break;
        }
        if (len > cap) {
            uint8_t *nb = realloc(buf, len);
            if (!nb) {
                why = "out of memory";
                break;
            }
            buf = nb;
            cap = len;
        }
        if ((r = read_all(fd, buf, len)) <= 0) {
            why = r < 0 ? strerror(errno) : "torn record";
            break;
        }
        if (otc_crc32c(otc_crc32c(0, hdr + 8, 1), buf, len) != crc) {
            why = "CRC32C mismatch";
            break;
        }
        off += WAL_HDR + len;
        s->records++;
    }
    free(buf);
    if (why) {
        otc_log_warn(w->log_ins, "queue segment %s: %s at offset %" PRIu64 "; cut there, keeping "
                     "%" PRIu64 " good records (%" PRIu64 " bytes dropped)", s->path, why, off,
                     s->records, (uint64_t)st.st_size - off);
        if (ftruncate(fd, (off_t)off) != 0 || (w->opt.fsync && fdatasync(fd) != 0)) {
            otc_log_warn(w->log_ins, "queue segment %s: cannot truncate: %s", s->path,
                         strerror(errno));
        }
    }
    s->good_len = off;
    close(fd);
    return OTC_OK;
}

static int wal_scan(struct otc_wal *w)
{
    DIR *d = opendir(w->dir);
    struct dirent *de;

    if (!d) {
        return OTC_EIO;
    }
    while ((de = readdir(d)) != NULL) {
        unsigned long long first;
        int used = 0;
        struct otc_wal_seg *s;

        if (strlen(de->d_name) != 24 || sscanf(de->d_name, "%20llu.wal%n", &first, &used) != 1 ||
            used != 24) {
            continue;
        }
        if (!(s = seg_new(w, first))) {
            closedir(d);
            return OTC_ENOMEM;
        }
        s->replay = true;
        seg_insert(w, s);
    }
    closedir(d);
    for (struct otc_wal_seg *s = w->segs, *next; s; s = next) {
        next = s->next;
        if (seg_check(w, s) != OTC_OK) {
            return OTC_EIO;
        }
        if (s->first + s->records > w->next_seq) {
            w->next_seq = s->first + s->records;
        }
        if (s->records == 0) {
            seg_delete(w, s);
        }
    }
    return OTC_OK;
}

/* Under the lock: make a new active segment (after closing the old one). */
static int wal_new_segment(struct otc_wal *w)
{
    struct otc_wal_seg *s;
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
        if (old->pending == 0) {
            seg_delete(w, old);
        }
    }
    if (!(s = seg_new(w, w->next_seq))) {
        return OTC_ENOMEM;
    }
    fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        otc_log_err(w->log_ins, "cannot create the queue segment %s: %s", s->path, strerror(errno));
        free(s);
        return OTC_EIO;
    }
    if (w->opt.fsync) {
        fsync(w->dirfd); /* the new name must survive a crash too */
    }
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
    return w;
}

int otc_wal_replay(struct otc_wal *w, otc_wal_replay_fn fn, void *arg)
{
    int rc = OTC_OK;
    struct otc_wal_seg *s;

    pthread_mutex_lock(&w->lock);
    s = w->segs;
    while (s && rc == OTC_OK) {
        struct otc_wal_seg *cur = s;
        uint8_t hdr[WAL_HDR];
        uint8_t *buf = NULL, *raw = NULL;
        int fd;

        if (!cur->replay) {
            s = cur->next;
            continue;
        }
        cur->replay = false;
        cur->pending++; /* held while this segment is replayed */
        pthread_mutex_unlock(&w->lock);
        fd = open(cur->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            otc_log_err(w->log_ins, "cannot open the queue segment %s: %s", cur->path,
                        strerror(errno));
            rc = OTC_EIO;
        }
        for (uint64_t i = 0; fd >= 0 && i < cur->records && rc == OTC_OK; i++) {
            uint32_t len;
            unsigned long long n;

            if (read_all(fd, hdr, WAL_HDR) <= 0 || !(buf = realloc(buf, len = get32(hdr))) ||
                read_all(fd, buf, len) <= 0) {
                otc_log_err(w->log_ins, "queue segment %s: cannot read record %" PRIu64 " again",
                            cur->path, i);
                rc = OTC_EIO;
                break;
            }
            n = ZSTD_getFrameContentSize(buf, len);
            if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > WAL_MAX_RAW ||
                !(raw = realloc(raw, n ? n : 1)) || ZSTD_isError(ZSTD_decompress(raw, n, buf, len))) {
                otc_log_warn(w->log_ins, "queue segment %s: record %" PRIu64 " does not decompress; "
                             "skipped", cur->path, i);
                continue;
            }
            pthread_mutex_lock(&w->lock);
            cur->pending++;
            pthread_mutex_unlock(&w->lock);
            rc = fn(arg, hdr[8], raw, (size_t)n, cur);
        }
        if (fd >= 0) {
            close(fd);
        }
        free(buf);
        free(raw);
        pthread_mutex_lock(&w->lock);
        s = cur->next;
        if (--cur->pending == 0 && !atomic_load(&w->frozen)) {
            seg_delete(w, cur);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

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

int otc_wal_append(struct otc_wal *w, uint8_t signal, const void *data, size_t len,
                   struct otc_wal_seg **segp)
{
    size_t cap = ZSTD_compressBound(len);
    uint8_t *rec = malloc(WAL_HDR + cap);
    struct otc_wal_seg *seg;
    size_t clen;
    uint64_t my;
    int rc = OTC_OK;

    *segp = NULL;
    if (!rec) {
        return OTC_ENOMEM;
    }
    clen = ZSTD_compress(rec + WAL_HDR, cap, data, len, WAL_ZSTD_LEVEL);
    if (ZSTD_isError(clen) || clen > UINT32_MAX) {
        free(rec);
        return OTC_ENOMEM;
    }
    rec[8] = signal;
    put32(rec, (uint32_t)clen);
    put32(rec + 4, otc_crc32c(otc_crc32c(0, rec + 8, 1), rec + WAL_HDR, clen));

    pthread_mutex_lock(&w->lock);
    if (w->active && (w->rotate || w->active_size >= w->opt.segment_size)) {
        while (w->syncing) { /* the syncer uses the active segment's descriptor */
            pthread_cond_wait(&w->cond, &w->lock);
        }
    }
    if (!w->active || w->rotate || w->active_size >= w->opt.segment_size) {
        if (wal_new_segment(w) != OTC_OK) {
            pthread_mutex_unlock(&w->lock);
            free(rec);
            return OTC_EAGAIN;
        }
    }
    if (write_all(w->fd, rec, WAL_HDR + clen) != 0) {
        int e = errno;
        /* a full disk: take the partial record back so the next one starts clean */
        if (ftruncate(w->fd, (off_t)w->active_size) != 0) {
            w->rotate = true;
        }
        pthread_mutex_unlock(&w->lock);
        free(rec);
        errno = e;
        return OTC_EAGAIN;
    }
    free(rec);
    seg = w->active;
    seg->pending++;
    w->active_size += WAL_HDR + clen;
    w->next_seq++;
    my = ++w->appended;
    if (!w->opt.fsync) {
        w->synced = my;
        pthread_mutex_unlock(&w->lock);
        *segp = seg;
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
        if (--seg->pending == 0 && !seg->active) {
            seg_delete(w, seg);
        }
    } else {
        *segp = seg;
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

void otc_wal_seg_release(struct otc_wal_seg *seg)
{
    struct otc_wal *w;

    if (!seg) {
        return;
    }
    w = seg->w;
    if (atomic_load(&w->frozen)) {
        return;
    }
    pthread_mutex_lock(&w->lock);
    if (!atomic_load(&w->frozen) && --seg->pending == 0 && !seg->active && !seg->replay) {
        seg_delete(w, seg);
    }
    pthread_mutex_unlock(&w->lock);
}

static void wal_seg_release_hook(void *seg)
{
    otc_wal_seg_release(seg);
}

int otc_wal_seg_hold(struct otc_batch *b, struct otc_wal_seg *seg)
{
    if (otc_batch_on_release(b, wal_seg_release_hook, seg) != OTC_OK) {
        otc_wal_seg_release(seg);
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
    pthread_mutex_lock(&w->lock);
    st->appended = w->appended;
    st->syncs = w->syncs;
    st->segments = 0;
    for (struct otc_wal_seg *s = w->segs; s; s = s->next) {
        st->segments++;
    }
    pthread_mutex_unlock(&w->lock);
}

void otc_wal_close(struct otc_wal *w)
{
    if (!w) {
        return;
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
        if (s->pending == 0 && !s->replay) {
            seg_delete(w, s); /* every record delivered (or none written) */
        } else {
            w->segs = s->next;
            free(s);
        }
    }
    pthread_mutex_unlock(&w->lock);
    if (w->dirfd >= 0) {
        close(w->dirfd);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w->dir);
    free(w);
}
