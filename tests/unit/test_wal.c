/* test_wal.c - unit tests for the write-ahead log of the persistent queue
 * (core/wal.c): round trip, group commit, torn and corrupt records, segment
 * deletion once every record is released, batches holding records, the
 * delivery progress across a crash (per exporter too, and old progress files),
 * a resumed replay, and the capacity. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/wal.h"
#include "core/wal_internal.h"
#include "otc/otc_batch.h"
#include "otc/otc_rc.h"

#define MAX_SEEN 4096

struct seen {
    size_t              n;
    uint8_t             sig[MAX_SEEN];
    size_t              len[MAX_SEEN];
    char               *data[MAX_SEEN];
    struct otc_wal_rec *seg[MAX_SEEN];
};

static int collect(void *arg, uint8_t signal, const void *data, size_t len, struct otc_wal_rec *seg)
{
    struct seen *s = arg;

    assert_true(s->n < MAX_SEEN);
    s->sig[s->n] = signal;
    s->len[s->n] = len;
    s->data[s->n] = malloc(len + 1);
    memcpy(s->data[s->n], data, len);
    s->data[s->n][len] = '\0';
    s->seg[s->n] = seg;
    s->n++;
    return 0;
}

static void seen_release(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++) {
        otc_wal_rec_release(s->seg[i]);
        s->seg[i] = NULL;
    }
}

static void seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->data[i]);
    }
    free(s);
}

static char *make_dir(void)
{
    char *t = strdup("/tmp/otc-wal-XXXXXX");

    assert_non_null(mkdtemp(t));
    return t;
}

static void rm_dir(char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[512];

    while (d && (de = readdir(d))) {
        if (de->d_name[0] != '.') {
            snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
            unlink(p);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

/* Segment files in dir, sorted names into names (up to max). */
static int list_segments(const char *dir, char names[][64], int max)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    while (d && (de = readdir(d))) {
        if (strstr(de->d_name, ".wal") && n < max) {
            snprintf(names[n++], 64, "%.63s", de->d_name);
        }
    }
    closedir(d);
    qsort(names, (size_t)n, 64, (int (*)(const void *, const void *))strcmp);
    return n;
}

static off_t file_size(const char *dir, const char *name)
{
    char p[512];
    struct stat st;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

static struct otc_wal *open_wal(const char *dir, bool fs, size_t segsz)
{
    struct otc_wal_options o = {.fsync = fs, .segment_size = segsz};
    char err[256];
    struct otc_wal *w = otc_wal_open(dir, &o, NULL, err, sizeof(err));

    if (!w) {
        fail_msg("open: %s", err);
    }
    return w;
}

/* Record i's payload: its number, then 200 pseudo-random hex digits (so that
 * a few dozen records fill several small segments even compressed). */
static int payload(int i, char *buf, size_t cap)
{
    uint64_t x = 0x9e3779b97f4a7c15u * (uint64_t)(i + 1);
    int n = snprintf(buf, cap, "record %d ", i);

    for (int k = 0; k < 200; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[n++] = "0123456789abcdef"[x & 15];
    }
    buf[n] = '\0';
    return n;
}

static void append_n(struct otc_wal *w, int from, int to, struct otc_wal_rec **segs)
{
    char buf[256];

    for (int i = from; i < to; i++) {
        int n = payload(i, buf, sizeof(buf));
        assert_int_equal(otc_wal_append(w, (uint8_t)(i % 3), buf, (size_t)n, 1, &segs[i], NULL), OTC_OK);
        assert_non_null(segs[i]);
    }
}

/* Shut down with nothing delivered (as the engine: freeze, then the batches
 * holding the records are freed), so everything stays for the next open. */
static void undelivered_close(struct otc_wal *w, struct otc_wal_rec **recs, int n)
{
    otc_wal_freeze(w);
    for (int i = 0; i < n; i++) {
        otc_wal_rec_release(recs[i]);
    }
    otc_wal_close(w);
}

static void test_crc32c_known(void **state)
{
    (void)state;
    /* RFC 3720 B.4 check value */
    assert_int_equal(otc_crc32c(0, "123456789", 9), 0xE3069283u);
}

/* Appended records come back, in order and byte-exact, after a restart. */
static void test_round_trip(void **state)
{
    char *dir = make_dir();
    struct otc_wal_rec *segs[50];
    struct seen *s = calloc(1, sizeof(*s));
    struct otc_wal *w = open_wal(dir, true, 64 << 20);
    char want[256];

    (void)state;
    append_n(w, 0, 50, segs);
    undelivered_close(w, segs, 50); /* nothing delivered: everything stays */
    w = open_wal(dir, true, 64 << 20);
    assert_int_equal(otc_wal_replay(w, collect, s), OTC_OK);
    assert_int_equal(s->n, 50);
    for (int i = 0; i < 50; i++) {
        payload(i, want, sizeof(want));
        assert_string_equal(s->data[i], want);
        assert_int_equal(s->sig[i], i % 3);
    }
    seen_release(s);
    otc_wal_close(w);
    /* all released: nothing left to replay */
    w = open_wal(dir, true, 64 << 20);
    seen_free(s);
    s = calloc(1, sizeof(*s));
    assert_int_equal(otc_wal_replay(w, collect, s), OTC_OK);
    assert_int_equal(s->n, 0);
    otc_wal_close(w);
    seen_free(s);
    rm_dir(dir);
}

struct gc_arg {
    struct otc_wal *w;
    int             id;
    int             n;
};

static void *gc_thread(void *a)
{
    struct gc_arg *g = a;
    char buf[64];

    for (int i = 0; i < g->n; i++) {
        struct otc_wal_rec *seg;
        int len = snprintf(buf, sizeof(buf), "t%d-%d", g->id, i);
        if (otc_wal_append(g->w, 0, buf, (size_t)len, 1, &seg, NULL) != OTC_OK) {
            return (void *)1;
        }
        otc_wal_rec_release(seg);
    }
    return NULL;
}

/* Several appenders at once share fdatasync calls. */
static void test_group_commit(void **state)
{
    enum { THREADS = 8, PER = 200 };
    char *dir = make_dir();
    struct otc_wal *w = open_wal(dir, true, 64 << 20);
    pthread_t t[THREADS];
    struct gc_arg a[THREADS];
    struct otc_wal_stats st;
    struct seen *s = calloc(1, sizeof(*s));

    (void)state;
    for (int i = 0; i < THREADS; i++) {
        a[i] = (struct gc_arg){w, i, PER};
        assert_int_equal(pthread_create(&t[i], NULL, gc_thread, &a[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    otc_wal_stats(w, &st);
    printf("group commit: %llu records, %llu fdatasync calls\n", (unsigned long long)st.appended,
           (unsigned long long)st.syncs);
    assert_int_equal(st.appended, THREADS * PER);
    assert_true(st.syncs < st.appended);
    assert_true(st.syncs > 0);
    otc_wal_close(w);
    /* every record was released: the segment is gone */
    w = open_wal(dir, true, 64 << 20);
    assert_int_equal(otc_wal_replay(w, collect, s), OTC_OK);
    assert_int_equal(s->n, 0);
    otc_wal_close(w);
    seen_free(s);
    rm_dir(dir);
}

/* A record cut in the middle (crash during write) is dropped; the records
 * before it survive. */
static void test_torn_tail(void **state)
{
    char *dir = make_dir();
    struct otc_wal_rec *segs[10];
    struct otc_wal *w = open_wal(dir, false, 64 << 20);
    struct seen *s = calloc(1, sizeof(*s));
    char names[8][64], p[512];
    off_t size;

    (void)state;
    append_n(w, 0, 10, segs);
    undelivered_close(w, segs, 10);
    assert_int_equal(list_segments(dir, names, 8), 1);
    size = file_size(dir, names[0]);
    snprintf(p, sizeof(p), "%s/%s", dir, names[0]);
    assert_int_equal(truncate(p, size - 5), 0);
    w = open_wal(dir, false, 64 << 20);
    assert_int_equal(otc_wal_replay(w, collect, s), OTC_OK);
    assert_int_equal(s->n, 9);
    {
        char want[256];
        payload(8, want, sizeof(want));
        assert_string_equal(s->data[8], want);
    }
    seen_release(s);
    otc_wal_close(w);
    seen_free(s);
    rm_dir(dir);
}

/* Flip one byte of record k's payload (k counted from 0). */
static void corrupt_record(const char *dir, const char *name, int k)
{
    char p[512];
    uint8_t hdr[9];
    off_t off = 0;
    int fd;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    for (int i = 0; i < k; i++) {
        assert_int_equal(pread(fd, hdr, 9, off), 9);
        off += 9 + (off_t)(hdr[0] | hdr[1] << 8 | hdr[2] << 16 | (uint32_t)hdr[3] << 24);
    }
    assert_int_equal(pread(fd, hdr, 9, off), 9);
    hdr[0] = 0;
    assert_int_equal(pread(fd, hdr, 1, off + 10), 1);
    hdr[0] ^= 0x5a;
    assert_int_equal(pwrite(fd, hdr, 1, off + 10), 1);
    close(fd);
}

/* A bad CRC in the last record cuts that record only. */
static void test_corrupt_last(void **state)
{
    char *dir = make_dir();
    struct otc_wal_rec *segs[10];
    struct otc_wal *w = open_wal(dir, false, 64 << 20);
    struct seen *s = calloc(1, sizeof(*s));
    char names[8][64];

    (void)state;
    append_n(w, 0, 10, segs);
    undelivered_close(w, segs, 10);
    assert_int_equal(list_segments(dir, names, 8), 1);
    corrupt_record(dir, names[0], 9);
    w = open_wal(dir, false, 64 << 20);
    assert_int_equal(otc_wal_replay(w, collect, s), OTC_OK);
    assert_int_equal(s->n, 9);
    seen_release(s);
    otc_wal_close(w);
    seen_free(s);
    rm_dir(dir);
}

/* A bad record in the middle of a segment is skipped (counted); the records
 * after it in the same segment, and the later segments, are still replayed. */
static void test_corrupt_middle(void **state)
{
    char *dir = make_dir();
    struct otc_wal_rec *segs[40];
    struct otc_wal *w = open_wal(dir, false, 4096); /* small segments: several files */
    struct seen *s = calloc(1, sizeof(*s));
    struct otc_wal_stats st;
    char names[16][64], want[256];
    int nseg;

    (void)state;
    append_n(w, 0, 40, segs);
    undelivered_close(w, segs, 40);
    nseg = list_segments(dir, names, 16);
    assert_true(nseg >= 2);
    corrupt_record(dir, names[0], 3);
    w = open_wal(dir, false, 4096);
    assert_int_equal(otc_wal_replay(w, collect, s), OTC_OK);
    assert_int_equal(s->n, 39);
    payload(2, want, sizeof(want));
    assert_string_equal(s->data[2], want);
    payload(4, want, sizeof(want));
    assert_string_equal(s->data[3], want);
    payload(39, want, sizeof(want));
    assert_string_equal(s->data[38], want);
    otc_wal_stats(w, &st);
    assert_int_equal(st.corrupt, 1);
    assert_true(st.corrupt_bytes > 100 && st.corrupt_bytes < 400);
    seen_release(s);
    otc_wal_close(w);
    seen_free(s);
    rm_dir(dir);
}

/* A full segment is deleted once all of its records are released; the active
 * one stays until close. */
static void test_segment_deletion(void **state)
{
    char *dir = make_dir();
    struct otc_wal_rec *segs[60];
    struct otc_wal *w = open_wal(dir, false, 4096);
    char names[32][64];
    struct otc_wal_stats st;
    int before, after;

    (void)state;
    append_n(w, 0, 60, segs);
    before = list_segments(dir, names, 32);
    assert_true(before >= 3);
    /* release everything except the last record (in the active segment) */
    for (int i = 0; i < 59; i++) {
        otc_wal_rec_release(segs[i]);
    }
    after = list_segments(dir, names, 32);
    assert_int_equal(after, 1);
    otc_wal_stats(w, &st);
    assert_int_equal(st.segments, 1);
    otc_wal_rec_release(segs[59]);
    otc_wal_close(w);
    assert_int_equal(list_segments(dir, names, 32), 0);
    rm_dir(dir);
}

/* Freezing (shutdown) keeps records whose batches are freed undelivered. */
static void test_freeze(void **state)
{
    char *dir = make_dir();
    struct otc_wal_rec *segs[5];
    struct otc_wal *w = open_wal(dir, false, 64 << 20);
    struct seen *s = calloc(1, sizeof(*s));

    (void)state;
    append_n(w, 0, 5, segs);
    otc_wal_rec_release(segs[0]);
    otc_wal_freeze(w);
    for (int i = 1; i < 5; i++) {
        otc_wal_rec_release(segs[i]);
    }
    otc_wal_close(w);
    w = open_wal(dir, false, 64 << 20);
    assert_int_equal(otc_wal_replay(w, collect, s), OTC_OK);
    /* the record delivered before the freeze is not replayed; the others are */
    assert_int_equal(s->n, 4);
    seen_release(s);
    otc_wal_close(w);
    seen_free(s);
    rm_dir(dir);
}

/* A batch releases its record when freed, also when adopted by a merged batch
 * or copied for writing; the segment goes only after the last holder. */
static void test_batch_holds(void **state)
{
    char *dir = make_dir();
    struct otc_wal *w = open_wal(dir, false, 4096);
    struct otc_wal_rec *segs[60];
    struct otc_batch *b[60], *parent, *copy, *extra;
    char names[32][64];

    (void)state;
    append_n(w, 0, 60, segs);
    for (int i = 0; i < 60; i++) {
        b[i] = otc_batch_from_bytes(OTC_TRACES, "", 0);
        assert_non_null(b[i]);
        assert_int_equal(otc_wal_rec_hold(b[i], segs[i]), OTC_OK);
    }
    /* every batch but the last is adopted by one parent */
    parent = otc_batch_from_bytes(OTC_TRACES, "", 0);
    for (int i = 0; i < 59; i++) {
        assert_int_equal(otc_batch_adopt(parent, b[i]), OTC_OK);
    }
    assert_true(parent->durable);
    /* a writable copy of a shared durable batch keeps the original alive */
    extra = otc_batch_ref(parent);
    copy = otc_batch_writable(parent);
    assert_non_null(copy);
    assert_true(copy != parent);
    assert_true(list_segments(dir, names, 32) >= 3);
    otc_batch_unref(extra); /* the original still lives inside copy */
    assert_true(list_segments(dir, names, 32) >= 3);
    otc_batch_unref(copy);
    assert_int_equal(list_segments(dir, names, 32), 1);
    otc_batch_unref(b[59]);
    otc_wal_close(w);
    assert_int_equal(list_segments(dir, names, 32), 0);
    rm_dir(dir);
}

/* A crash (no close) after some records were delivered and the progress was
 * written: the next run replays only the others, in order. */
static void test_progress_skips_delivered(void **state)
{
    char *dir = make_dir();
    struct seen *s = calloc(1, sizeof(*s));
    struct otc_wal_stats st;
    char want[256];
    pid_t pid;
    int status;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct otc_wal_rec *recs[100];
        struct otc_wal *w = open_wal(dir, true, 4096);
        append_n(w, 0, 100, recs);
        for (int i = 0; i < 100; i++) {
            if (i % 3 != 0) {
                otc_wal_rec_release(recs[i]);
            }
        }
        otc_wal_flush_acks(w);
        _exit(0); /* as kill -9: no close */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(status, 0);
    {
        struct otc_wal *w = open_wal(dir, true, 4096);
        assert_int_equal(otc_wal_replay(w, collect, s), OTC_OK);
        assert_int_equal(s->n, 34); /* 0, 3, ..., 99 */
        for (size_t k = 0; k < s->n; k++) {
            payload((int)k * 3, want, sizeof(want));
            assert_string_equal(s->data[k], want);
        }
        otc_wal_stats(w, &st);
        assert_int_equal(st.replayed, 34);
        assert_int_equal(st.skipped, 66);
        assert_int_equal(st.queued, 34);
        seen_release(s);
        otc_wal_stats(w, &st);
        assert_int_equal(st.queued, 0);
        assert_int_equal(st.segments, 1); /* every old segment delivered and deleted */
        otc_wal_close(w);
    }
    seen_free(s);
    rm_dir(dir);
}

/* The progress writer runs on its own: within a few intervals the
 * acknowledgements are on disk without any call. */
static void test_progress_background(void **state)
{
    char *dir = make_dir();
    struct otc_wal_options o = {.fsync = true, .segment_size = 64 << 20, .ack_interval_ns = 5000000};
    struct otc_wal_rec *recs[20];
    struct otc_wal_stats st;
    char err[256];
    struct otc_wal *w = otc_wal_open(dir, &o, NULL, err, sizeof(err));

    (void)state;
    assert_non_null(w);
    append_n(w, 0, 20, recs);
    for (int i = 0; i < 20; i++) {
        otc_wal_rec_release(recs[i]);
    }
    for (int k = 0; k < 200; k++) {
        otc_wal_stats(w, &st);
        if (st.ack_writes > 0) {
            break;
        }
        usleep(5000);
    }
    assert_true(st.ack_writes >= 1 && st.ack_writes <= 2); /* one group for 20 records */
    assert_int_equal(st.acked, 20);
    otc_wal_close(w);
    rm_dir(dir);
}

/* A damaged progress file costs duplicates, never loss. */
static void test_progress_damaged(void **state)
{
    char *dir = make_dir();
    struct seen *s = calloc(1, sizeof(*s));
    char names[8][64], p[512];
    pid_t pid;
    int status;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct otc_wal_rec *recs[10];
        struct otc_wal *w = open_wal(dir, false, 64 << 20);
        append_n(w, 0, 10, recs);
        otc_wal_rec_release(recs[0]);
        otc_wal_rec_release(recs[1]);
        otc_wal_flush_acks(w);
        otc_wal_rec_release(recs[2]);
        otc_wal_flush_acks(w);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* tear the second block: records 0 and 1 stay known as delivered */
    assert_int_equal(list_segments(dir, names, 8), 1);
    snprintf(p, sizeof(p), "%s/%.20s.ack", dir, names[0]);
    assert_int_equal(truncate(p, 8 + 16 + 8 + 3), 0);
    {
        struct otc_wal *w = open_wal(dir, false, 64 << 20);
        char want[256];
        assert_int_equal(otc_wal_replay(w, collect, s), OTC_OK);
        assert_int_equal(s->n, 8); /* 2 .. 9: record 2 comes again */
        payload(2, want, sizeof(want));
        assert_string_equal(s->data[0], want);
        seen_release(s);
        otc_wal_close(w);
    }
    seen_free(s);
    rm_dir(dir);
}

/* A replay stopped by its callback (shutdown) goes on at the record it
 * stopped at, which is not acknowledged. */
struct stop_after {
    struct seen *s;
    size_t       limit;
};

static int collect_until(void *arg, uint8_t signal, const void *data, size_t len,
                         struct otc_wal_rec *rec)
{
    struct stop_after *a = arg;

    if (a->s->n == a->limit) {
        otc_wal_rec_keep(rec);
        otc_wal_rec_release(rec);
        return OTC_ESHUTDOWN;
    }
    return collect(a->s, signal, data, len, rec);
}

static void test_replay_resume(void **state)
{
    char *dir = make_dir();
    struct otc_wal_rec *recs[30];
    struct otc_wal *w = open_wal(dir, false, 4096);
    struct seen *s = calloc(1, sizeof(*s));
    struct stop_after a = {s, 12};
    char want[256];

    (void)state;
    append_n(w, 0, 30, recs);
    undelivered_close(w, recs, 30);
    w = open_wal(dir, false, 4096);
    assert_true(otc_wal_replay_pending(w));
    assert_int_equal(otc_wal_replay(w, collect_until, &a), OTC_ESHUTDOWN);
    assert_int_equal(s->n, 12);
    assert_true(otc_wal_replay_pending(w));
    assert_int_equal(otc_wal_replay_outstanding(w), 12);
    a.limit = 1000;
    assert_int_equal(otc_wal_replay(w, collect_until, &a), OTC_OK);
    assert_false(otc_wal_replay_pending(w));
    assert_int_equal(s->n, 30);
    for (int i = 0; i < 30; i++) {
        payload(i, want, sizeof(want));
        assert_string_equal(s->data[i], want);
    }
    seen_release(s);
    assert_int_equal(otc_wal_replay_outstanding(w), 0);
    otc_wal_close(w);
    seen_free(s);
    rm_dir(dir);
}

/* sending_queue.queue_size in each sizer: a full queue refuses (and says so),
 * a delivered record makes room. */
static void test_capacity(void **state)
{
    enum otc_wal_sizer sizers[3] = {OTC_WAL_SIZER_REQUESTS, OTC_WAL_SIZER_ITEMS, OTC_WAL_SIZER_BYTES};
    uint64_t caps[3] = {5, 50, 6000};

    (void)state;
    for (int k = 0; k < 3; k++) {
        char *dir = make_dir();
        struct otc_wal_options o = {.fsync = false, .segment_size = 64 << 20,
                                    .sizer = sizers[k], .capacity = caps[k]};
        struct otc_wal_rec *recs[64];
        struct otc_wal_stats st;
        char err[256], buf[256];
        struct otc_wal *w = otc_wal_open(dir, &o, NULL, err, sizeof(err));
        int n = 0, len;
        bool full = false;

        assert_non_null(w);
        for (;;) {
            assert_true(n < 64);
            len = payload(n, buf, sizeof(buf));
            if (otc_wal_append(w, 0, buf, (size_t)len, 10, &recs[n], &full) != OTC_OK) {
                break;
            }
            n++;
        }
        assert_true(full);
        otc_wal_stats(w, &st);
        assert_int_equal(st.full, 1);
        if (sizers[k] == OTC_WAL_SIZER_REQUESTS) {
            assert_int_equal(n, 5);
        } else if (sizers[k] == OTC_WAL_SIZER_ITEMS) {
            assert_int_equal(n, 5);
            assert_int_equal(st.queued_items, 50);
        } else {
            assert_true(st.disk_bytes <= 6000 && n >= 10);
        }
        /* delivering everything frees the room (bytes: the segments go) */
        for (int i = 0; i < n; i++) {
            otc_wal_rec_release(recs[i]);
        }
        assert_int_equal(otc_wal_append(w, 0, buf, (size_t)len, 10, &recs[0], &full), OTC_OK);
        assert_false(full);
        otc_wal_rec_release(recs[0]);
        otc_wal_close(w);
        rm_dir(dir);
    }
}

/* Both record forms come back byte-exact: zstd-compressed, and raw blocks
 * for requests of one, several and more than the in-place limit of blocks. */
static void test_record_forms(void **state)
{
    size_t sizes[4] = {0, 1000, 300 * 1024, 1536 * 1024};

    (void)state;
    for (int z = 0; z < 2; z++) {
        char *dir = make_dir();
        struct otc_wal_options o = {.fsync = false, .segment_size = 64 << 20, .compress = z == 1};
        struct otc_wal_rec *recs[4];
        struct seen *s = calloc(1, sizeof(*s));
        char err[256];
        struct otc_wal *w = otc_wal_open(dir, &o, NULL, err, sizeof(err));
        char *big = malloc(sizes[3]);

        assert_non_null(w);
        for (size_t i = 0; i < sizes[3]; i++) {
            big[i] = (char)('a' + (i * 7919 + i / 13) % 26);
        }
        for (int i = 0; i < 4; i++) {
            assert_int_equal(otc_wal_append(w, 1, big, sizes[i], 1, &recs[i], NULL), OTC_OK);
        }
        undelivered_close(w, recs, 4);
        w = otc_wal_open(dir, &o, NULL, err, sizeof(err));
        assert_int_equal(otc_wal_replay(w, collect, s), OTC_OK);
        assert_int_equal(s->n, 4);
        for (int i = 0; i < 4; i++) {
            assert_int_equal(s->len[i], sizes[i]);
            assert_memory_equal(s->data[i], big, sizes[i]);
        }
        seen_release(s);
        otc_wal_close(w);
        seen_free(s);
        free(big);
        rm_dir(dir);
    }
}


/* ------------------------------------------------- progress per exporter */

static const char *const ids_ab[] = {"otlp/a", "otlp/b"};

/* The record number in a replayed payload ("record N ..."). */
static int rec_no(const char *data)
{
    int i = -1;

    assert_int_equal(sscanf(data, "record %d", &i), 1);
    return i;
}

/* Run child(dir) in a process that ends as kill -9 would (no close). */
static void crash_run(const char *dir, void (*child)(const char *dir))
{
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        child(dir);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The only progress file in dir: its bytes (malloc'd) and size. */
static uint8_t *read_progress(const char *dir, size_t *len)
{
    char names[8][64], p[512];
    struct stat st;
    uint8_t *buf;
    FILE *f;

    assert_int_equal(list_segments(dir, names, 8), 1);
    snprintf(p, sizeof(p), "%s/%.20s.ack", dir, names[0]);
    assert_int_equal(stat(p, &st), 0);
    buf = malloc((size_t)st.st_size + 1);
    assert_non_null(f = fopen(p, "rb"));
    assert_int_equal(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    *len = (size_t)st.st_size;
    return buf;
}

/* Records 0-4 delivered to a, 5 to both (not yet released), 6 released, 7 to
 * b; 8 and 9 to nobody. One progress round, then the crash. */
static void per_exporter_child(const char *dir)
{
    struct otc_wal_rec *recs[10];
    struct otc_wal *w = open_wal(dir, true, 64 << 20);
    uint64_t a = otc_wal_exporter_key("otlp/a"), b = otc_wal_exporter_key("otlp/b");
    struct otc_wal_stats st;

    otc_wal_set_exporters(w, ids_ab, 2);
    append_n(w, 0, 10, recs);
    for (int i = 0; i < 5; i++) {
        otc_wal_rec_done_by(recs[i], a);
    }
    otc_wal_rec_done_by(recs[5], a);
    otc_wal_rec_done_by(recs[5], b);
    otc_wal_rec_done_by(recs[6], a); /* then released: only the full entry is written */
    otc_wal_rec_release(recs[6]);
    otc_wal_rec_done_by(recs[7], b);
    otc_wal_rec_done_by(recs[8], otc_wal_exporter_key("otlp/other")); /* not in the pipeline */
    otc_wal_stats(w, &st);
    assert_int_equal(st.xacked, 9);
    otc_wal_flush_acks(w);
}

/* What the replay of the per_exporter_child's log gives, with the exporters
 * ids[0..n): want_skip[i] for record i, -1 when it is not replayed. */
static void replay_expect(const char *dir, const char *const *ids, size_t n, const int *want_skip)
{
    struct seen *s = calloc(1, sizeof(*s));
    struct otc_wal *w = open_wal(dir, true, 64 << 20);
    struct otc_wal_stats st;
    int got[10];
    size_t skipped = 0;

    for (int i = 0; i < 10; i++) {
        got[i] = -1;
        skipped += want_skip[i] < 0;
    }
    otc_wal_set_exporters(w, ids, n);
    assert_int_equal(otc_wal_replay(w, collect, s), OTC_OK);
    for (size_t k = 0; k < s->n; k++) {
        int i = rec_no(s->data[k]);
        assert_true(i >= 0 && i < 10);
        if (k > 0) {
            assert_true(i > rec_no(s->data[k - 1])); /* in order */
        }
        got[i] = (int)otc_wal_rec_skip(s->seg[k]);
    }
    for (int i = 0; i < 10; i++) {
        if (got[i] != want_skip[i]) {
            fail_msg("record %d: skip %d, want %d", i, got[i], want_skip[i]);
        }
    }
    otc_wal_stats(w, &st);
    assert_int_equal(st.skipped, skipped);
    seen_release(s);
    otc_wal_close(w);
    seen_free(s);
}

/* Entries written per exporter come back: each record is replayed with the
 * set of exporters that have it; one they all have is not replayed. The file
 * holds one block: the full entry, two declarations, the exporter entries
 * (record 6's dropped: it was delivered to all in the same round; the unknown
 * exporter's never noted). */
static void test_progress_per_exporter(void **state)
{
    char *dir = make_dir();
    const int want[10] = {1, 1, 1, 1, 1, -1, -1, 2, 0, 0};
    uint8_t *buf;
    size_t len, nent, decl = 0, full = 0, x = 0;

    (void)state;
    crash_run(dir, per_exporter_child);
    buf = read_progress(dir, &len);
    nent = get32(buf);
    assert_int_equal(len, WAL_ACK_HDR + 8 * nent);
    assert_int_equal(get32(buf + 4), otc_crc32c(0, buf + WAL_ACK_HDR, 8 * nent));
    for (size_t i = 0; i < nent; i++) {
        uint64_t e = get64(buf + WAL_ACK_HDR + 8 * i);
        unsigned top = (unsigned)(e >> 56);
        if (top == WAL_ENT_DECL) {
            decl++;
            assert_true((e & WAL_KEY_MASK) == otc_wal_exporter_key(ids_ab[((e >> 48) & 0xff) - 1]));
        } else if (top == 0) {
            full++;
        } else {
            assert_true(top == 1 || top == 2);
            assert_true(decl >= top); /* declared before use */
            x++;
        }
    }
    assert_int_equal(full, 1);
    assert_int_equal(decl, 2);
    assert_int_equal(x, 8); /* 0-4 a, 5 a and b, 7 b */
    free(buf);
    replay_expect(dir, ids_ab, 2, want);
    rm_dir(dir);
}

/* The config changed between the runs: a gone, c new, b now first. A new
 * exporter gets every record not delivered to all; a gone one's entries
 * count for nothing; one left alone has what it had. */
static void test_progress_exporters_changed(void **state)
{
    static const char *const ids_bc[] = {"otlp/b", "otlp/c"};
    static const char *const ids_b[] = {"otlp/b"};
    const int want_bc[10] = {0, 0, 0, 0, 0, 1, -1, 1, 0, 0};
    const int want_b[10] = {0, 0, 0, 0, 0, -1, -1, -1, 0, 0};
    char *dir = make_dir();

    (void)state;
    crash_run(dir, per_exporter_child);
    /* the replay is read again at the next start while nothing is released */
    {
        struct otc_wal *w = open_wal(dir, true, 64 << 20);
        otc_wal_close(w);
    }
    replay_expect(dir, ids_bc, 2, want_bc);
    rm_dir(dir);
    dir = make_dir();
    crash_run(dir, per_exporter_child);
    replay_expect(dir, ids_b, 1, want_b); /* b alone: what b has is done */
    rm_dir(dir);
}

/* One exporter: exactly the progress a log without exporters writes (only
 * offsets), and nothing is noted per exporter. */
static void single_exporter_child(const char *dir)
{
    static const char *const ids_a[] = {"otlp/a"};
    struct otc_wal_rec *recs[10];
    struct otc_wal *w = open_wal(dir, true, 64 << 20);
    struct otc_wal_stats st;

    otc_wal_set_exporters(w, ids_a, 1);
    append_n(w, 0, 10, recs);
    for (int i = 0; i < 4; i++) {
        otc_wal_rec_done_by(recs[i], otc_wal_exporter_key("otlp/a"));
        otc_wal_rec_release(recs[i]);
    }
    otc_wal_rec_done_by(recs[4], otc_wal_exporter_key("otlp/a"));
    otc_wal_stats(w, &st);
    assert_int_equal(st.xacked, 0);
    otc_wal_flush_acks(w);
}

static void test_progress_single_exporter(void **state)
{
    char *dir = make_dir();
    uint8_t *buf;
    size_t len;

    (void)state;
    crash_run(dir, single_exporter_child);
    buf = read_progress(dir, &len);
    assert_int_equal(len, WAL_ACK_HDR + 4 * 8);
    assert_int_equal(get32(buf), 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(get64(buf + WAL_ACK_HDR + 8 * (size_t)i) >> 56, 0);
    }
    free(buf);
    rm_dir(dir);
}

/* A progress file of the format before exporter entries, written by hand:
 * its offsets mean delivered to every exporter, whatever the pipeline has. */
static void old_format_child(const char *dir)
{
    struct otc_wal_rec *recs[10];
    struct otc_wal *w = open_wal(dir, true, 64 << 20);
    uint8_t blk[WAL_ACK_HDR + 3 * 8];
    char names[8][64], p[512];
    FILE *f;

    append_n(w, 0, 10, recs);
    put32(blk, 3);
    put64(blk + WAL_ACK_HDR, recs[1]->off);
    put64(blk + WAL_ACK_HDR + 8, recs[4]->off);
    put64(blk + WAL_ACK_HDR + 16, recs[9]->off);
    put32(blk + 4, otc_crc32c(0, blk + WAL_ACK_HDR, 3 * 8));
    assert_int_equal(list_segments(dir, names, 8), 1);
    snprintf(p, sizeof(p), "%s/%.20s.ack", dir, names[0]);
    assert_non_null(f = fopen(p, "wb"));
    assert_int_equal(fwrite(blk, 1, sizeof(blk), f), sizeof(blk));
    fclose(f);
}

static void test_progress_old_format(void **state)
{
    char *dir = make_dir();
    const int want[10] = {0, -1, 0, 0, -1, 0, 0, 0, 0, -1};

    (void)state;
    crash_run(dir, old_format_child);
    replay_expect(dir, ids_ab, 2, want);
    rm_dir(dir);
}

/* Two rounds: a's entries for 0-3, then b's for 0-3 and 4 delivered to all. */
static void two_rounds_child(const char *dir)
{
    struct otc_wal_rec *recs[10];
    struct otc_wal *w = open_wal(dir, true, 64 << 20);

    otc_wal_set_exporters(w, ids_ab, 2);
    append_n(w, 0, 10, recs);
    for (int i = 0; i < 4; i++) {
        otc_wal_rec_done_by(recs[i], otc_wal_exporter_key("otlp/a"));
    }
    otc_wal_flush_acks(w);
    for (int i = 0; i < 4; i++) {
        otc_wal_rec_done_by(recs[i], otc_wal_exporter_key("otlp/b"));
    }
    otc_wal_rec_release(recs[4]);
    otc_wal_flush_acks(w);
}

/* A torn or corrupt second block (with b's declaration in it) ends the file
 * there: records 0-3 come back for b (duplicates), record 4 for both; a's
 * entries of the first block hold. Intact, the records 0-4 are not replayed. */
static void test_progress_per_exporter_torn(void **state)
{
    const int intact[10] = {-1, -1, -1, -1, -1, 0, 0, 0, 0, 0};
    const int cut[10] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
    const size_t first = WAL_ACK_HDR + 5 * 8; /* a's declaration, 4 entries */

    (void)state;
    for (int mode = 0; mode < 3; mode++) {
        char *dir = make_dir();
        char names[8][64], p[512];
        uint8_t *buf;
        size_t len;

        crash_run(dir, two_rounds_child);
        buf = read_progress(dir, &len);
        assert_int_equal(get32(buf), 5);
        assert_int_equal(len, first + WAL_ACK_HDR + 6 * 8); /* b's declaration, 4, the full one */
        free(buf);
        assert_int_equal(list_segments(dir, names, 8), 1);
        snprintf(p, sizeof(p), "%s/%.20s.ack", dir, names[0]);
        if (mode == 1) {
            assert_int_equal(truncate(p, (off_t)(len - 5)), 0);
        } else if (mode == 2) {
            int fd = open(p, O_RDWR);
            uint8_t c;
            assert_true(fd >= 0);
            assert_int_equal(pread(fd, &c, 1, (off_t)(first + WAL_ACK_HDR + 9)), 1);
            c ^= 0x40;
            assert_int_equal(pwrite(fd, &c, 1, (off_t)(first + WAL_ACK_HDR + 9)), 1);
            close(fd);
        }
        replay_expect(dir, ids_ab, 2, mode == 0 ? intact : cut);
        rm_dir(dir);
    }
}

/* Batches: an exporter done with a batch notes the records it alone carries,
 * its own and those of the batches it adopted that nothing else holds; not
 * those of a batch something else still holds (a batching stage's input
 * still partly pending, another pipeline), nor another log's. */
static void test_batch_done_by(void **state)
{
    char *dir = make_dir(), *dir2 = make_dir();
    struct otc_wal *w = open_wal(dir, false, 64 << 20), *w2 = open_wal(dir2, false, 64 << 20);
    uint64_t a = otc_wal_exporter_key("otlp/a");
    struct otc_wal_rec *recs[4], *other[1];
    struct otc_batch *in[4], *out, *held, *copy;
    struct otc_wal_stats st;

    (void)state;
    otc_wal_set_exporters(w, ids_ab, 2);
    otc_wal_set_exporters(w2, ids_ab, 2);
    append_n(w, 0, 4, recs);
    append_n(w2, 0, 1, other);
    for (int i = 0; i < 4; i++) {
        in[i] = otc_batch_from_bytes(OTC_TRACES, "", 0);
        assert_int_equal(otc_wal_rec_hold(in[i], recs[i]), OTC_OK);
    }
    assert_int_equal(otc_wal_rec_hold(in[3], other[0]), OTC_OK); /* shared with w2 */
    /* out: a batching stage's request made of in[0] (only out holds it), a
     * copy of in[1] (which holds in[1]), in[2] (also held elsewhere) */
    out = otc_batch_from_bytes(OTC_TRACES, "", 0);
    held = otc_batch_ref(in[2]);
    assert_int_equal(otc_batch_adopt(out, in[0]), OTC_OK);
    copy = otc_batch_from_bytes(OTC_TRACES, "", 0);
    assert_int_equal(otc_batch_adopt(copy, in[1]), OTC_OK);
    assert_int_equal(otc_batch_adopt(out, copy), OTC_OK);
    assert_int_equal(otc_batch_adopt(out, in[2]), OTC_OK);
    otc_wal_batch_done_by(w, out, a);
    otc_wal_stats(w, &st);
    assert_int_equal(st.xacked, 2); /* in[0] and in[1] */
    otc_wal_batch_done_by(w, out, otc_wal_exporter_key("otlp/x")); /* not w's exporter */
    otc_wal_stats(w, &st);
    assert_int_equal(st.xacked, 2);
    otc_batch_unref(held);
    otc_wal_batch_done_by(w, out, a); /* now in[2] too (the other two again) */
    otc_wal_stats(w, &st);
    assert_int_equal(st.xacked, 5);
    /* in[3] carries a record of w and one of w2: each log notes its own */
    otc_wal_batch_done_by(w, in[3], a);
    otc_wal_stats(w, &st);
    assert_int_equal(st.xacked, 6);
    otc_wal_stats(w2, &st);
    assert_int_equal(st.xacked, 0);
    otc_batch_unref(in[3]);
    otc_batch_unref(out);
    otc_wal_stats(w, &st);
    assert_int_equal(st.acked, 4);
    otc_wal_close(w);
    otc_wal_close(w2);
    rm_dir(dir);
    rm_dir(dir2);
}

/* Two exporter threads finish the same batches at once (each notes the
 * records, then lets go) while the progress writer runs every millisecond:
 * every record ends delivered to all, and the log is empty at close. Run
 * under ThreadSanitizer this checks the locking of the notes. */
#define DONE_THREADS_N 400

struct done_thread {
    struct otc_wal    *w;
    struct otc_batch **b;
    uint64_t           key;
};

static void *done_thread_run(void *arg)
{
    struct done_thread *d = arg;

    for (int i = 0; i < DONE_THREADS_N; i++) {
        otc_wal_batch_done_by(d->w, d->b[i], d->key);
        otc_batch_unref(d->b[i]);
    }
    return NULL;
}

static void test_done_by_threads(void **state)
{
    char *dir = make_dir();
    struct otc_wal_options o = {.fsync = false, .segment_size = 16 << 10, .ack_interval_ns = 1000000};
    struct otc_wal_rec *recs[DONE_THREADS_N];
    struct otc_batch *b[DONE_THREADS_N];
    struct done_thread d[2];
    pthread_t t[2];
    struct otc_wal_stats st;
    char err[256], names[64][64];
    struct otc_wal *w = otc_wal_open(dir, &o, NULL, err, sizeof(err));

    (void)state;
    assert_non_null(w);
    otc_wal_set_exporters(w, ids_ab, 2);
    append_n(w, 0, DONE_THREADS_N, recs);
    for (int i = 0; i < DONE_THREADS_N; i++) {
        b[i] = otc_batch_from_bytes(OTC_LOGS, "", 0);
        assert_int_equal(otc_wal_rec_hold(b[i], recs[i]), OTC_OK);
        otc_batch_ref(b[i]); /* one reference per exporter */
    }
    for (int k = 0; k < 2; k++) {
        d[k] = (struct done_thread){w, b, otc_wal_exporter_key(ids_ab[k])};
        assert_int_equal(pthread_create(&t[k], NULL, done_thread_run, &d[k]), 0);
    }
    for (int k = 0; k < 2; k++) {
        pthread_join(t[k], NULL);
    }
    otc_wal_stats(w, &st);
    assert_int_equal(st.acked, DONE_THREADS_N);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.xacked, 2 * DONE_THREADS_N); /* each noted its own */
    otc_wal_close(w);
    assert_int_equal(list_segments(dir, names, 64), 0);
    rm_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_corrupt_last),
        cmocka_unit_test(test_corrupt_middle),
        cmocka_unit_test(test_segment_deletion),
        cmocka_unit_test(test_freeze),
        cmocka_unit_test(test_batch_holds),
        cmocka_unit_test(test_progress_skips_delivered),
        cmocka_unit_test(test_progress_background),
        cmocka_unit_test(test_progress_damaged),
        cmocka_unit_test(test_progress_per_exporter),
        cmocka_unit_test(test_progress_exporters_changed),
        cmocka_unit_test(test_progress_single_exporter),
        cmocka_unit_test(test_progress_old_format),
        cmocka_unit_test(test_progress_per_exporter_torn),
        cmocka_unit_test(test_batch_done_by),
        cmocka_unit_test(test_done_by_threads),
        cmocka_unit_test(test_replay_resume),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_record_forms),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
