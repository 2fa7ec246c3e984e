/* wal.c - the write-ahead log of a pipeline with persistent storage. Receiver
 * threads append (the first waiter fsyncs for everyone: group commit); the
 * thread that frees a batch acknowledges its record; the "wal-acks" thread
 * writes the acknowledgements gathered since its last round to each segment's
 * progress file (one write and one fdatasync per segment and round); the
 * persistent queue's replay thread reads earlier runs' segments. One mutex
 * guards the segment list and the counters.
 *
 * Record: [u32 length][u32 crc32c][u8 signal][length bytes: zstd frame],
 * little endian; the CRC covers the signal byte and the frame. The frame is
 * compressed (file_storage compression: zstd) or made of raw blocks, written
 * here around the request's bytes without copying them (compression: none). Segment files
 * are named after a sequence number (%020llu.wal) that grows with every
 * segment. Progress file (%020llu.ack): blocks of [u32 n][u32 crc32c][n x u64
 * byte offset of a delivered record], the CRC covering the offsets. */
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "otc/otc_batch.h"
#include "otc/otc_log.h"
#include "otc/otc_rc.h"
#include "otc/otc_signal.h"
#include "wal.h"

#define WAL_HDR          9u
#define WAL_ZSTD_LEVEL   1
#define WAL_MAX_RAW      ((uint64_t)1 << 32) /* requests are at most 2 GiB */
#define WAL_FAIL_RING    8
#define WAL_ACK_HDR      8u
#define WAL_ACK_INTERVAL 50000000 /* ns: progress written at most this long after delivery */
#define WAL_FRAME_HDR    13u       /* magic, descriptor (single segment), u64 content size */
#define WAL_RAW_BLOCK    (128u * 1024u) /* a zstd block holds this much at most */
#define WAL_IOV_BLOCKS   8u        /* raw blocks written from the request in place */

static const uint8_t zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

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
    uint64_t           *acks;      /* delivered, not yet written */
    size_t              n_acks, cap_acks;
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
    atomic_bool            frozen;
};

/* ------------------------------------------------------------------ CRC32C */

/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as ext4, iSCSI and
 * LevelDB's log use: zlib only has the IEEE CRC-32, and no CRC32C library is
 * linked. On x86-64 with SSE4.2 the crc32 instruction does 8 bytes a step (a
 * 60 kB request in a few microseconds); elsewhere a table, a byte a step. */
static uint32_t crc_table[256];
static bool crc_hw;
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
#if defined(__x86_64__)
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;

    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    crc = (uint32_t)c;
    while (len--) {
        crc = __builtin_ia32_crc32qi(crc, *p++);
    }
    return crc;
}
#endif

uint32_t otc_crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;

    pthread_once(&crc_once, crc_init);
    crc = ~crc;
#if defined(__x86_64__)
    if (crc_hw) {
        return ~crc_sse42(crc, p, len);
    }
#endif
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

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
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

/* The progress file's name: the segment's with ".ack". */
static void seg_ack_path(const struct otc_wal_seg *s, char *buf, size_t len)
{
    size_t n = strlen(s->path);

    snprintf(buf, len, "%.*s.ack", (int)(n - 4), s->path);
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
    free(s->acks);
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
static void seg_maybe_delete(struct otc_wal *w, struct otc_wal_seg *s)
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

/* ------------------------------------------------------------- progress */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Read an earlier run's progress file into s->done (sorted, unique). A torn
 * or corrupt block ends it (the file is cut there): losing progress only
 * means duplicates, never loss. */
static void seg_load_acks(struct otc_wal *w, struct otc_wal_seg *s)
{
    char path[4200];
    struct stat st;
    uint8_t *buf = NULL;
    uint64_t off = 0, n = 0;
    int fd;

    seg_ack_path(s, path, sizeof(path));
    if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
        return;
    }
    if (fstat(fd, &st) != 0 || st.st_size == 0 || !(buf = malloc((size_t)st.st_size)) ||
        read_all(fd, buf, (size_t)st.st_size) != 1 ||
        !(s->done = malloc((size_t)st.st_size / 8 * sizeof(uint64_t) + 8))) {
        free(buf);
        close(fd);
        return;
    }
    while (off + WAL_ACK_HDR <= (uint64_t)st.st_size) {
        uint32_t k = get32(buf + off);
        if (k == 0 || (uint64_t)k * 8 > (uint64_t)st.st_size - off - WAL_ACK_HDR ||
            otc_crc32c(0, buf + off + WAL_ACK_HDR, (size_t)k * 8) != get32(buf + off + 4)) {
            break;
        }
        for (uint32_t i = 0; i < k; i++) {
            s->done[n++] = get64(buf + off + WAL_ACK_HDR + 8 * (uint64_t)i);
        }
        off += WAL_ACK_HDR + (uint64_t)k * 8;
    }
    if (off != (uint64_t)st.st_size) {
        otc_log_warn(w->log_ins, "queue progress file %s: bad block at offset %" PRIu64 "; cut "
                     "there (its records may be delivered again)", path, off);
        if (ftruncate(fd, (off_t)off) != 0) {
            off = (uint64_t)st.st_size;
        }
    }
    qsort(s->done, n, sizeof(uint64_t), cmp_u64);
    s->n_done = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (s->n_done == 0 || s->done[s->n_done - 1] != s->done[i]) {
            s->done[s->n_done++] = s->done[i];
        }
    }
    s->ack_size = off;
    free(buf);
    close(fd);
}

struct ack_job {
    struct otc_wal_seg *s;
    uint64_t           *offs;
    size_t              n;
    uint64_t            added;
};

/* One progress round: the acknowledgements gathered since the last one, one
 * block appended (and synced, with fsync on) per segment. */
void otc_wal_flush_acks(struct otc_wal *w)
{
    struct ack_job *jobs = NULL;
    size_t n = 0, cap = 0;

    pthread_mutex_lock(&w->ack_lock);
    pthread_mutex_lock(&w->lock);
    for (struct otc_wal_seg *s = w->segs; s; s = s->next) {
        if (s->n_acks == 0 || s->flushing) {
            continue;
        }
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 8;
            struct ack_job *g = realloc(jobs, nc * sizeof(*g));
            if (!g) {
                break;
            }
            jobs = g;
            cap = nc;
        }
        jobs[n++] = (struct ack_job){s, s->acks, s->n_acks, 0};
        s->flushing = true;
        s->acks = NULL;
        s->n_acks = s->cap_acks = 0;
    }
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; i < n; i++) {
        struct ack_job *j = &jobs[i];
        struct otc_wal_seg *s = j->s;
        size_t len = WAL_ACK_HDR + j->n * 8;
        uint8_t *blk = malloc(len);

        if (!blk || j->n > UINT32_MAX) {
            free(blk);
            continue;
        }
        if (s->ack_fd < 0) {
            char path[4200];
            seg_ack_path(s, path, sizeof(path));
            s->ack_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
            if (s->ack_fd >= 0 && w->opt.fsync && s->ack_size == 0) {
                fsync(w->dirfd); /* the new name must survive a crash too */
            }
        }
        put32(blk, (uint32_t)j->n);
        for (size_t k = 0; k < j->n; k++) {
            put64(blk + WAL_ACK_HDR + 8 * k, j->offs[k]);
        }
        put32(blk + 4, otc_crc32c(0, blk + WAL_ACK_HDR, j->n * 8));
        if (s->ack_fd >= 0 && write_all(s->ack_fd, blk, len) == 0) {
            j->added = len;
            if (w->opt.fsync) {
                (void)fdatasync(s->ack_fd);
            }
        } else if (s->ack_fd >= 0 && ftruncate(s->ack_fd, (off_t)s->ack_size) != 0) {
            /* a torn block ends the file for the next reader: append no more */
            close(s->ack_fd);
            s->ack_fd = -1;
            s->ack_size = UINT64_MAX / 2;
        }
        if (s->ack_size != UINT64_MAX / 2) {
            s->ack_size += j->added;
        }
        free(blk);
    }
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < n; i++) {
        struct otc_wal_seg *s = jobs[i].s;
        w->disk_bytes += jobs[i].added;
        w->ack_writes += jobs[i].added ? 1 : 0;
        s->flushing = false;
        if (s->doomed) {
            s->doomed = false;
            seg_maybe_delete(w, s);
        }
        free(jobs[i].offs);
    }
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_unlock(&w->ack_lock);
    free(jobs);
}

static void *wal_ack_loop(void *arg)
{
    struct otc_wal *w = arg;
    int64_t iv = w->opt.ack_interval_ns > 0 ? w->opt.ack_interval_ns : WAL_ACK_INTERVAL;
    bool stop;

    pthread_setname_np(pthread_self(), "wal-acks");
    do {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(iv % 1000000000);
        ts.tv_sec += (time_t)(iv / 1000000000) + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&w->lock);
        if (!w->ack_stop) {
            pthread_cond_timedwait(&w->ack_cond, &w->lock, &ts);
        }
        stop = w->ack_stop;
        pthread_mutex_unlock(&w->lock);
        otc_wal_flush_acks(w);
    } while (!stop);
    return NULL;
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
        seg_load_acks(w, s);
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
        seg_maybe_delete(w, old);
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
    if (pthread_create(&w->ack_thread, NULL, wal_ack_loop, w) != 0) {
        snprintf(err, errlen, "cannot start the progress thread");
        otc_wal_close(w);
        return NULL;
    }
    w->ack_started = true;
    return w;
}

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
    size_t di = 0;
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
        seg_maybe_delete(w, s);
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
        seg_maybe_delete(w, seg);
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
        seg_maybe_delete(w, s);
    }
    pthread_mutex_unlock(&w->lock);
    free(rec);
}

static void wal_rec_release_hook(void *rec)
{
    otc_wal_rec_release(rec);
}

int otc_wal_rec_hold(struct otc_batch *b, struct otc_wal_rec *rec)
{
    if (otc_batch_on_release(b, wal_rec_release_hook, rec) != OTC_OK) {
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
