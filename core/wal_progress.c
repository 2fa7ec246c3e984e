/* wal_progress.c - the write-ahead log's delivery progress: the records
 * acknowledged since the last round (delivered to every exporter, or with
 * several exporters to one of them), appended to each segment's progress file
 * by the "wal-acks" thread (a last round when the log closes), and read back
 * at open, on the thread that opens the log. Exporter threads note what they
 * delivered (otc_wal_batch_done_by). */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "otc/otc_batch.h"
#include "otc/otc_log.h"
#include "wal_internal.h"

#define WAL_ACK_INTERVAL 50000000 /* ns: progress written at most this long after delivery */

/* ------------------------------------------------------------------ helpers */


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

/* ------------------------------------------------------------- progress */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int cmp_xack(const void *a, const void *b)
{
    const struct wal_xack *x = a, *y = b;

    if (x->off != y->off) {
        return x->off < y->off ? -1 : 1;
    }
    return x->key < y->key ? -1 : x->key > y->key;
}

static bool sorted_has(const uint64_t *v, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == x) {
            return true;
        }
        if (v[mid] < x) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

/* Sort s->done and s->xdone, drop repeats, and the exporter entries of records
 * delivered to every exporter. */
static void seg_done_tidy(struct otc_wal_seg *s, uint64_t n, uint64_t nx)
{
    size_t k = 0;

    qsort(s->done, n, sizeof(uint64_t), cmp_u64);
    s->n_done = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (s->n_done == 0 || s->done[s->n_done - 1] != s->done[i]) {
            s->done[s->n_done++] = s->done[i];
        }
    }
    if (nx) {
        qsort(s->xdone, nx, sizeof(*s->xdone), cmp_xack);
    }
    for (uint64_t i = 0; i < nx; i++) {
        const struct wal_xack *x = &s->xdone[i];
        if ((k > 0 && !cmp_xack(&s->xdone[k - 1], x)) || sorted_has(s->done, s->n_done, x->off)) {
            continue;
        }
        s->xdone[k++] = *x;
    }
    s->n_xdone = k;
    if (k == 0) {
        free(s->xdone);
        s->xdone = NULL;
    }
}

/* Read an earlier run's progress file into s->done (sorted, unique) and
 * s->xdone (records delivered to some exporters, by offset). A torn or corrupt
 * block ends it (the file is cut there): losing progress only means
 * duplicates, never loss. */
void otc_wal_seg_load_acks(struct otc_wal *w, struct otc_wal_seg *s)
{
    char path[4200];
    struct stat st;
    uint8_t *buf = NULL;
    uint64_t off = 0, n = 0, nx = 0;
    uint64_t slot_key[OTC_WAL_MAX_EXPORTERS + 1];
    bool slot_set[OTC_WAL_MAX_EXPORTERS + 1] = {false};
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
            uint64_t e = get64(buf + off + WAL_ACK_HDR + 8 * (uint64_t)i);
            unsigned top = (unsigned)(e >> 56);

            if (top == 0) {
                s->done[n++] = e;
            } else if (top == WAL_ENT_DECL) {
                unsigned slot = (unsigned)(e >> 48) & 0xffu;
                if (slot >= 1 && slot <= OTC_WAL_MAX_EXPORTERS) {
                    slot_key[slot] = e & WAL_KEY_MASK;
                    slot_set[slot] = true;
                }
            } else if (top <= OTC_WAL_MAX_EXPORTERS && slot_set[top]) {
                if (!s->xdone &&
                    !(s->xdone = malloc((size_t)st.st_size / 8 * sizeof(*s->xdone)))) {
                    continue; /* without memory: duplicates, never loss */
                }
                s->xdone[nx++] = (struct wal_xack){e & WAL_OFF_MASK, slot_key[top]};
            } /* an exporter entry of an undeclared slot: ignored */
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
    seg_done_tidy(s, n, nx);
    s->ack_size = off;
    free(buf);
    close(fd);
}

bool otc_wal_seg_xdone(struct otc_wal *w, const struct otc_wal_seg *s, size_t *xi, uint64_t off,
                       uint64_t *skip)
{
    uint64_t mask = 0, all;
    bool every;

    while (*xi < s->n_xdone && s->xdone[*xi].off < off) {
        (*xi)++;
    }
    pthread_mutex_lock(&w->lock);
    for (; *xi < s->n_xdone && s->xdone[*xi].off == off; (*xi)++) {
        for (unsigned i = 0; i < w->n_xkeys; i++) {
            if (w->xkeys[i] == s->xdone[*xi].key) {
                mask |= (uint64_t)1 << i;
            }
        }
    }
    all = w->n_xkeys >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << w->n_xkeys) - 1;
    every = w->n_xkeys > 0 && (mask & all) == all;
    pthread_mutex_unlock(&w->lock);
    *skip = mask;
    return every;
}

/* ------------------------------------------------------- per exporter */

uint64_t otc_wal_exporter_key(const char *id)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a: fixed, so keys match across runs */

    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h = (h ^ *p) * 0x100000001b3u;
    }
    return (h ^ (h >> 48)) & WAL_KEY_MASK;
}

void otc_wal_set_exporters(struct otc_wal *w, const char *const *ids, size_t n)
{
    pthread_mutex_lock(&w->lock);
    w->n_xkeys = n < OTC_WAL_MAX_EXPORTERS ? (unsigned)n : OTC_WAL_MAX_EXPORTERS;
    for (unsigned i = 0; i < w->n_xkeys; i++) {
        w->xkeys[i] = otc_wal_exporter_key(ids[i]);
    }
    pthread_mutex_unlock(&w->lock);
}

uint64_t otc_wal_rec_skip(const struct otc_wal_rec *rec)
{
    return rec->skip;
}

/* Under the lock: is key one of the pipeline's exporters, with two or more? */
static bool wal_tracks(const struct otc_wal *w, uint64_t key)
{
    for (unsigned i = 0; w->n_xkeys >= 2 && i < w->n_xkeys; i++) {
        if (w->xkeys[i] == key) {
            return true;
        }
    }
    return false;
}

/* Under the lock: note rec as delivered to the exporter key. */
static void wal_note_xack(struct otc_wal *w, struct otc_wal_rec *rec, uint64_t key)
{
    struct otc_wal_seg *s = rec->seg;

    if (rec->keep || rec->off > WAL_OFF_MASK) {
        return;
    }
    if (s->n_xacks == s->cap_xacks) {
        size_t nc = s->cap_xacks ? 2 * s->cap_xacks : 64;
        struct wal_xack *g = realloc(s->xacks, nc * sizeof(*g));
        if (!g) { /* without memory the record only goes to this exporter again */
            return;
        }
        s->xacks = g;
        s->cap_xacks = nc;
    }
    s->xacks[s->n_xacks++] = (struct wal_xack){rec->off, key};
    w->xacked++;
}

void otc_wal_rec_done_by(struct otc_wal_rec *rec, uint64_t key)
{
    struct otc_wal *w = rec->seg->w;

    pthread_mutex_lock(&w->lock);
    if (!atomic_load(&w->frozen) && wal_tracks(w, key)) {
        wal_note_xack(w, rec, key);
    }
    pthread_mutex_unlock(&w->lock);
}

#define DONE_BATCH 32

struct done_walk {
    struct otc_wal     *w;
    uint64_t            key;
    struct otc_wal_rec *recs[DONE_BATCH];
    size_t              n;
};

static void done_walk_flush(struct done_walk *d)
{
    struct otc_wal *w = d->w;

    if (d->n == 0) {
        return;
    }
    pthread_mutex_lock(&w->lock);
    if (!atomic_load(&w->frozen) && wal_tracks(w, d->key)) {
        for (size_t i = 0; i < d->n; i++) {
            wal_note_xack(w, d->recs[i], d->key);
        }
    }
    pthread_mutex_unlock(&w->lock);
    d->n = 0;
}

static void done_walk_visit(void *ctx, void (*fn)(void *), void *arg)
{
    struct done_walk *d = ctx;
    struct otc_wal_rec *rec = arg;

    if (fn != otc_wal_rec_hook || rec->seg->w != d->w) {
        return; /* another hook, or another pipeline's log */
    }
    d->recs[d->n++] = rec;
    if (d->n == DONE_BATCH) {
        done_walk_flush(d);
    }
}

void otc_wal_batch_done_by(struct otc_wal *w, struct otc_batch *b, uint64_t key)
{
    struct done_walk d = {.w = w, .key = key, .n = 0};

    otc_batch_sole_releases(b, done_walk_visit, &d);
    done_walk_flush(&d);
}

/* ------------------------------------------------------- progress writer */

struct ack_job {
    struct otc_wal_seg *s;
    uint64_t           *offs;
    size_t              n;
    struct wal_xack    *xs;
    size_t              nx;
    uint64_t            added;
};

/* The block of job j: its records delivered to every exporter, then those
 * delivered to one exporter (unless delivered to all in this round too), each
 * exporter declared before its first entry in the file. *n_decl grows with
 * the declarations (s->decl, rolled back by the caller if the write fails).
 * Returns the block's length (0: nothing to write; SIZE_MAX: no memory). */
static size_t ack_block(struct ack_job *j, uint8_t **out, unsigned *n_decl)
{
    struct otc_wal_seg *s = j->s;
    size_t max = j->n + 2 * j->nx, k = 0;
    uint8_t *blk;

    *out = NULL;
    if (max > UINT32_MAX || !(blk = malloc(WAL_ACK_HDR + max * 8))) {
        return SIZE_MAX;
    }
    for (size_t i = 0; i < j->n; i++) {
        put64(blk + WAL_ACK_HDR + 8 * k++, j->offs[i]);
    }
    if (j->nx && j->n) {
        qsort(j->offs, j->n, sizeof(uint64_t), cmp_u64);
    }
    for (size_t i = 0; i < j->nx; i++) {
        const struct wal_xack *x = &j->xs[i];
        unsigned slot = 0;

        if (sorted_has(j->offs, j->n, x->off)) {
            continue; /* delivered to every exporter: that entry says it all */
        }
        for (unsigned d = 0; d < *n_decl && !slot; d++) {
            slot = s->decl[d] == x->key ? d + 1 : 0;
        }
        if (!slot && *n_decl < OTC_WAL_MAX_EXPORTERS) {
            s->decl[*n_decl] = x->key;
            slot = ++*n_decl;
            put64(blk + WAL_ACK_HDR + 8 * k++,
                  (uint64_t)WAL_ENT_DECL << 56 | (uint64_t)slot << 48 | x->key);
        }
        if (slot) {
            put64(blk + WAL_ACK_HDR + 8 * k++, (uint64_t)slot << 56 | x->off);
        }
    }
    if (k == 0) {
        free(blk);
        return 0;
    }
    put32(blk, (uint32_t)k);
    put32(blk + 4, otc_crc32c(0, blk + WAL_ACK_HDR, k * 8));
    *out = blk;
    return WAL_ACK_HDR + k * 8;
}

/* One progress round: the acknowledgements gathered since the last one, one
 * block appended (and synced, with fsync on) per segment. */
void otc_wal_flush_acks(struct otc_wal *w)
{
    struct ack_job *jobs = NULL;
    size_t n = 0, cap = 0;

    pthread_mutex_lock(&w->ack_lock);
    pthread_mutex_lock(&w->lock);
    for (struct otc_wal_seg *s = w->segs; s; s = s->next) {
        if ((s->n_acks == 0 && s->n_xacks == 0) || s->flushing) {
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
        jobs[n++] = (struct ack_job){s, s->acks, s->n_acks, s->xacks, s->n_xacks, 0};
        s->flushing = true;
        s->acks = NULL;
        s->n_acks = s->cap_acks = 0;
        s->xacks = NULL;
        s->n_xacks = s->cap_xacks = 0;
    }
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; i < n; i++) {
        struct ack_job *j = &jobs[i];
        struct otc_wal_seg *s = j->s;
        unsigned n_decl = s->n_decl;
        uint8_t *blk;
        size_t len = ack_block(j, &blk, &n_decl);

        if (len == 0 || len == SIZE_MAX) {
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
        if (s->ack_fd >= 0 && write_all(s->ack_fd, blk, len) == 0) {
            j->added = len;
            s->n_decl = n_decl;
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
            otc_wal_seg_maybe_delete(w, s);
        }
        free(jobs[i].offs);
        free(jobs[i].xs);
    }
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_unlock(&w->ack_lock);
    free(jobs);
}

void *otc_wal_ack_loop(void *arg)
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
