/* wal_progress.c - the write-ahead log's delivery progress: the records
 * acknowledged since the last round, appended to each segment's progress file
 * by the "wal-acks" thread (a last round when the log closes), and read back
 * at open, on the thread that opens the log. */
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

/* Read an earlier run's progress file into s->done (sorted, unique). A torn
 * or corrupt block ends it (the file is cut there): losing progress only
 * means duplicates, never loss. */
void otc_wal_seg_load_acks(struct otc_wal *w, struct otc_wal_seg *s)
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
            otc_wal_seg_maybe_delete(w, s);
        }
        free(jobs[i].offs);
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
