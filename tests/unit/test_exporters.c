/* test_exporters.c - unit tests for the simple exporters (exporter/file, nop, debug)
 * driven through their ops tables on a fake instance, as the engine drives them. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zstd.h>

#include "batch_builder.h"
#include "exporter/debug/debug.h"
#include "exporter/file/file.h"
#include "exporter/nop/nop.h"
#include "otc/otc_otlp.h"

/* ------------------------------------------------------------ helpers */

/* A component instance as the engine would build it, minus the engine. */
struct fake {
    struct otc_instance             ins;
    char                            id[64];
    const struct otc_component_ops *ops;
    void                           *ctx;
    bool                            started;
};

static void fake_create(struct fake *f, const struct otc_component_ops *ops, const char *id)
{
    memset(f, 0, sizeof(*f));
    f->ops = ops;
    f->ctx = calloc(1, ops->ctx_size ? ops->ctx_size : 1);
    assert_non_null(f->ctx);
    assert_int_equal(otc_config_map_defaults(ops->config_map, f->ctx), OTC_OK);
    snprintf(f->id, sizeof(f->id), "%s", id);
    f->ins.ops = ops;
    f->ins.id = f->id;
    f->ins.ctx = f->ctx;
}

static int fake_set(struct fake *f, const char *key, const char *value, char *err, size_t errlen)
{
    const struct otc_config_entry *e = otc_config_map_find(f->ops->config_map, key);

    assert_non_null(e);
    return otc_config_map_set(e, f->ctx, value, err, errlen);
}

static int fake_validate(struct fake *f, char *err, size_t errlen)
{
    return f->ops->validate ? f->ops->validate(f->ctx, err, errlen) : OTC_OK;
}

static int fake_start(struct fake *f)
{
    int rc = OTC_OK;

    if (f->ops->init) {
        rc = f->ops->init(&f->ins, f->ctx);
    }
    if (rc == OTC_OK && f->ops->start) {
        rc = f->ops->start(&f->ins, f->ctx);
    }
    f->started = rc == OTC_OK;
    return rc;
}

static void fake_destroy(struct fake *f)
{
    if (f->ops->shutdown) {
        f->ops->shutdown(&f->ins, f->ctx);
    }
    if (f->ops->destroy) {
        f->ops->destroy(f->ctx);
    }
    otc_config_map_free(f->ops->config_map, f->ctx);
    free(f->ctx);
    f->ctx = NULL;
}

static char tmp_dir[64];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/otc-test-exporters-XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

/* Remove the files the tests wrote (all directly in tmp_dir), then the directory. */
static int teardown_tmp(void **state)
{
    DIR *d = opendir(tmp_dir);
    struct dirent *de;
    char path[512];

    (void)state;
    if (!d) {
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", tmp_dir, de->d_name);
            unlink(path);
        }
    }
    closedir(d);
    return rmdir(tmp_dir) == 0 ? 0 : -1;
}

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmp_dir, name);
}

/* Whole file into a malloc'd NUL-terminated string. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return data;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A metrics batch with one gauge of two points. */
static struct otc_batch *metrics_batch(void)
{
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint p[2] = {
        OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT,
        OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT,
    };
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *pp[2] = {&p[0], &p[1]};
    Opentelemetry__Proto__Metrics__V1__Gauge g = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
    otc_metric m = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    otc_metric *mp[1] = {&m};
    otc_scope_metrics sm = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    otc_scope_metrics *smp[1] = {&sm};
    otc_resource_metrics rm = OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    otc_resource_metrics *rmp[1] = {&rm};
    otc_metrics_req req =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    uint8_t buf[512];
    size_t len;
    struct otc_batch *b;

    p[0].value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    p[0].as_int = 41;
    p[1].value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    p[1].as_int = 42;
    g.n_data_points = 2;
    g.data_points = pp;
    m.name = "queue.depth";
    m.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    m.gauge = &g;
    sm.n_metrics = 1;
    sm.metrics = mp;
    rm.n_scope_metrics = 1;
    rm.scope_metrics = smp;
    req.n_resource_metrics = 1;
    req.resource_metrics = rmp;
    len = protobuf_c_message_get_packed_size(&req.base);
    assert_true(len <= sizeof(buf));
    protobuf_c_message_pack(&req.base, buf);
    b = otc_batch_from_bytes(OTC_METRICS, buf, len);
    assert_non_null(b);
    assert_int_equal(otc_batch_decode(b), OTC_OK);
    assert_int_equal(b->items, 2);
    return b;
}

/* A logs batch with one record whose body is "hello log". */
static struct otc_batch *logs_batch(void)
{
    otc_any_value body = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    otc_log_record lr = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    otc_log_record *lrp[1] = {&lr};
    otc_scope_logs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
    otc_scope_logs *slp[1] = {&sl};
    otc_resource_logs rl = OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
    otc_resource_logs *rlp[1] = {&rl};
    otc_logs_req req = OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
    uint8_t buf[512];
    size_t len;
    struct otc_batch *b;

    body.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    body.string_value = "hello log";
    lr.body = &body;
    lr.severity_number = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_WARN;
    sl.n_log_records = 1;
    sl.log_records = lrp;
    rl.n_scope_logs = 1;
    rl.scope_logs = slp;
    req.n_resource_logs = 1;
    req.resource_logs = rlp;
    len = protobuf_c_message_get_packed_size(&req.base);
    assert_true(len <= sizeof(buf));
    protobuf_c_message_pack(&req.base, buf);
    b = otc_batch_from_bytes(OTC_LOGS, buf, len);
    assert_non_null(b);
    assert_int_equal(otc_batch_decode(b), OTC_OK);
    return b;
}

/* ------------------------------------------------------------ ops tables */

static void test_ops_tables(void **state)
{
    const struct otc_component_ops *const all[] = {&otc_exporter_file_ops, &otc_exporter_nop_ops,
                                                   &otc_exporter_debug_ops};
    static const char *const types[] = {"file", "nop", "debug"};

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        const struct otc_component_ops *ops = all[i];
        assert_string_equal(ops->type, types[i]);
        assert_int_equal(ops->kind, OTC_EXPORTER);
        assert_int_equal(ops->signals, OTC_SIG_ALL);
        assert_false(ops->mutates);
        assert_non_null(ops->consume);
        assert_non_null(ops->config_map);
        /* every option is documented */
        for (const struct otc_config_entry *e = ops->config_map; e->key; e++) {
            assert_non_null(e->desc);
            assert_true(strlen(e->desc) > 0);
        }
    }
}

/* ------------------------------------------------------------ file */

static void test_file_traces_one_line(void **state)
{
    struct fake f;
    char path[256], err[256];
    char *text;
    size_t len;

    (void)state;
    tmp_path(path, sizeof(path), "traces.json");
    fake_create(&f, &otc_exporter_file_ops, "file");
    assert_int_equal(fake_set(&f, "path", path, err, sizeof(err)), OTC_OK);
    assert_int_equal(fake_validate(&f, err, sizeof(err)), OTC_OK);
    assert_int_equal(fake_start(&f), OTC_OK);
    assert_int_equal(f.ops->consume(&f.ins, f.ctx, otc_test_traces_batch(3, 2, 7)), OTC_OK);
    /* flushed after each batch: readable before shutdown */
    text = slurp(path, &len);
    assert_int_equal(count_lines(text), 1);
    free(text);
    fake_destroy(&f);

    text = slurp(path, &len);
    assert_true(len > 2);
    assert_int_equal(count_lines(text), 1);
    assert_int_equal(text[len - 1], '\n');
    assert_int_equal(text[len - 2], '}');
    assert_true(starts_with(text, "{\"resourceSpans\":["));
    assert_non_null(strstr(text, "\"name\":\"span-0-7\""));
    assert_non_null(strstr(text, "\"name\":\"span-1-7\""));
    assert_non_null(strstr(text, "\"name\":\"span-2-7\""));
    assert_null(strstr(text, "span-3-7"));
    free(text);
}

/* One line per batch; the file is truncated on start unless append is set. */
static void test_file_lines_and_append(void **state)
{
    struct fake f;
    char path[256], err[256];
    char *text;
    size_t len;

    (void)state;
    tmp_path(path, sizeof(path), "append.json");
    fake_create(&f, &otc_exporter_file_ops, "file/a");
    assert_int_equal(fake_set(&f, "path", path, err, sizeof(err)), OTC_OK);
    assert_int_equal(fake_start(&f), OTC_OK);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(f.ops->consume(&f.ins, f.ctx, otc_test_traces_batch(2, 0, i)), OTC_OK);
    }
    fake_destroy(&f);
    text = slurp(path, &len);
    assert_int_equal(count_lines(text), 3);
    assert_non_null(strstr(text, "span-1-2"));
    free(text);

    /* append: false (the default) truncates */
    fake_create(&f, &otc_exporter_file_ops, "file/a");
    assert_int_equal(fake_set(&f, "path", path, err, sizeof(err)), OTC_OK);
    assert_int_equal(fake_start(&f), OTC_OK);
    assert_int_equal(f.ops->consume(&f.ins, f.ctx, otc_test_traces_batch(1, 0, 9)), OTC_OK);
    fake_destroy(&f);
    text = slurp(path, &len);
    assert_int_equal(count_lines(text), 1);
    assert_non_null(strstr(text, "span-0-9"));
    free(text);

    /* append: true keeps what is there */
    fake_create(&f, &otc_exporter_file_ops, "file/a");
    assert_int_equal(fake_set(&f, "path", path, err, sizeof(err)), OTC_OK);
    assert_int_equal(fake_set(&f, "append", "true", err, sizeof(err)), OTC_OK);
    assert_int_equal(fake_start(&f), OTC_OK);
    assert_int_equal(f.ops->consume(&f.ins, f.ctx, otc_test_traces_batch(1, 0, 10)), OTC_OK);
    fake_destroy(&f);
    text = slurp(path, &len);
    assert_int_equal(count_lines(text), 2);
    assert_non_null(strstr(text, "span-0-9"));
    assert_non_null(strstr(text, "span-0-10"));
    free(text);
}

static void test_file_metrics_and_logs(void **state)
{
    struct fake f;
    char path[256], err[256];
    char *text, *second;
    size_t len;

    (void)state;
    tmp_path(path, sizeof(path), "mixed.json");
    fake_create(&f, &otc_exporter_file_ops, "file");
    assert_int_equal(fake_set(&f, "path", path, err, sizeof(err)), OTC_OK);
    assert_int_equal(fake_start(&f), OTC_OK);
    assert_int_equal(f.ops->consume(&f.ins, f.ctx, metrics_batch()), OTC_OK);
    assert_int_equal(f.ops->consume(&f.ins, f.ctx, logs_batch()), OTC_OK);
    fake_destroy(&f);
    text = slurp(path, &len);
    assert_int_equal(count_lines(text), 2);
    assert_true(starts_with(text, "{\"resourceMetrics\":["));
    assert_non_null(strstr(text, "\"name\":\"queue.depth\""));
    second = strchr(text, '\n') + 1;
    assert_true(starts_with(second, "{\"resourceLogs\":["));
    assert_non_null(strstr(second, "\"hello log\""));
    free(text);
}

static void test_file_missing_path(void **state)
{
    struct fake f;
    char err[256];

    (void)state;
    fake_create(&f, &otc_exporter_file_ops, "file");
    err[0] = '\0';
    assert_int_equal(fake_validate(&f, err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "path"));
    assert_int_equal(fake_set(&f, "path", "", err, sizeof(err)), OTC_OK);
    err[0] = '\0';
    assert_int_equal(fake_validate(&f, err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "path"));
    /* destroy without start is safe */
    fake_destroy(&f);
}

static void test_file_bad_options(void **state)
{
    struct fake f;
    char err[256];

    (void)state;
    fake_create(&f, &otc_exporter_file_ops, "file");
    assert_int_equal(fake_set(&f, "format", "yaml", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "'yaml' is not one of: json proto");
    assert_int_equal(fake_set(&f, "append", "maybe", err, sizeof(err)), OTC_EINVAL);
    assert_null(otc_config_map_find(f.ops->config_map, "bogus"));
    fake_destroy(&f);
}

/* A path that cannot be opened fails start; shutdown and destroy stay safe. */
static void test_file_start_fails(void **state)
{
    struct fake f;
    char path[256], err[256];

    (void)state;
    tmp_path(path, sizeof(path), "no/such/dir/out.json");
    fake_create(&f, &otc_exporter_file_ops, "file");
    assert_int_equal(fake_set(&f, "path", path, err, sizeof(err)), OTC_OK);
    assert_int_equal(fake_validate(&f, err, sizeof(err)), OTC_OK);
    assert_int_equal(fake_start(&f), OTC_EIO);
    f.ops->shutdown(&f.ins, f.ctx);
    fake_destroy(&f);
}

/* An undecodable batch is a permanent failure (no retry); the batch is still
 * consumed (ASan reports a leak otherwise) and nothing is written. */
static void test_file_bad_batch(void **state)
{
    static const uint8_t garbage[] = {0xff, 0xff, 0xff};
    struct fake f;
    char path[256], err[256];
    char *text;
    size_t len;

    (void)state;
    tmp_path(path, sizeof(path), "bad.json");
    fake_create(&f, &otc_exporter_file_ops, "file");
    assert_int_equal(fake_set(&f, "path", path, err, sizeof(err)), OTC_OK);
    assert_int_equal(fake_start(&f), OTC_OK);
    assert_int_equal(f.ops->consume(&f.ins, f.ctx,
                                    otc_batch_from_bytes(OTC_TRACES, garbage, sizeof(garbage))),
                     OTC_EPERM);
    assert_int_equal(f.ops->consume(&f.ins, f.ctx, otc_test_traces_batch(1, 0, 1)), OTC_OK);
    fake_destroy(&f);
    text = slurp(path, &len);
    assert_int_equal(count_lines(text), 1);
    assert_non_null(strstr(text, "span-0-1"));
    free(text);
}

/* shutdown is idempotent; a shared batch is only released, not freed. */
static void test_file_shutdown_twice_and_shared_batch(void **state)
{
    struct fake f;
    char path[256], err[256];
    struct otc_batch *b = otc_test_traces_batch(2, 1, 4);

    (void)state;
    tmp_path(path, sizeof(path), "twice.json");
    fake_create(&f, &otc_exporter_file_ops, "file");
    assert_int_equal(fake_set(&f, "path", path, err, sizeof(err)), OTC_OK);
    assert_int_equal(fake_start(&f), OTC_OK);
    otc_batch_ref(b);
    assert_int_equal(f.ops->consume(&f.ins, f.ctx, b), OTC_OK);
    assert_int_equal(atomic_load(&b->refs), 1); /* the exporter dropped its reference */
    assert_int_equal(b->items, 2);
    otc_batch_unref(b);
    f.ops->shutdown(&f.ins, f.ctx);
    f.ops->shutdown(&f.ins, f.ctx);
    fake_destroy(&f);
}

/* ------------------------------------------------------------ nop */

static void test_nop(void **state)
{
    struct fake f;

    (void)state;
    fake_create(&f, &otc_exporter_nop_ops, "nop");
    assert_null(otc_config_map_find(f.ops->config_map, "path"));
    assert_null(f.ops->config_map[0].key);
    assert_int_equal(fake_start(&f), OTC_OK);
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        struct otc_batch *b = otc_batch_from_bytes((enum otc_signal)s, "", 0);
        assert_non_null(b);
        assert_int_equal(f.ops->consume(&f.ins, f.ctx, b), OTC_OK); /* freed: ASan checks */
    }
    assert_int_equal(f.ops->consume(&f.ins, f.ctx, otc_test_traces_batch(100, 3, 1)), OTC_OK);
    fake_destroy(&f);
}

/* ------------------------------------------------------------ debug */

/* Run one consume with stderr redirected to a file; returns what was written. */
static char *debug_capture(struct fake *f, struct otc_batch *b, int *rc)
{
    char path[256];
    int fd, saved;
    char *text;
    size_t len;

    tmp_path(path, sizeof(path), "stderr.txt");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    fflush(stderr);
    saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    close(fd);
    *rc = f->ops->consume(&f->ins, f->ctx, b);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    text = slurp(path, &len);
    return text;
}

static void test_debug_verbosities(void **state)
{
    static const char *const levels[] = {"basic", "normal", "detailed"};
    struct fake f;
    char err[256];

    (void)state;
    for (size_t v = 0; v < 3; v++) {
        char *text;
        int rc;

        fake_create(&f, &otc_exporter_debug_ops, "debug");
        assert_int_equal(fake_set(&f, "verbosity", levels[v], err, sizeof(err)), OTC_OK);
        assert_int_equal(fake_validate(&f, err, sizeof(err)), OTC_OK);
        assert_int_equal(fake_start(&f), OTC_OK);
        text = debug_capture(&f, otc_test_traces_batch(4, 1, 5), &rc);
        assert_int_equal(rc, OTC_OK);
        assert_true(starts_with(text, "[debug:debug] traces: 4 spans\n"));
        if (v == 0) {
            assert_int_equal(count_lines(text), 1);
        } else if (v == 1) {
            /* the summary, then one line per span: name, trace id, span id */
            const char *line = strchr(text, '\n') + 1;
            assert_int_equal(count_lines(text), 1 + 4);
            for (int i = 0; i < 4; i++) {
                char name[32];
                const char *sp = strchr(line, ' ');
                const char *sp2;
                snprintf(name, sizeof(name), "span-%d-5 ", i);
                assert_true(starts_with(line, name));
                assert_non_null(sp);
                sp2 = strchr(sp + 1, ' ');
                assert_non_null(sp2);
                assert_int_equal(sp2 - sp - 1, 32); /* 16-byte trace id in hex */
                assert_int_equal(strchr(sp2, '\n') - sp2 - 1, 16); /* 8-byte span id */
                line = strchr(line, '\n') + 1;
            }
        } else {
            const char *json = strchr(text, '\n') + 1;
            assert_int_equal(count_lines(text), 2);
            assert_true(starts_with(json, "{\"resourceSpans\":["));
            assert_non_null(strstr(json, "span-3-5"));
        }
        free(text);
        fake_destroy(&f);
    }
}

static void test_debug_other_signals(void **state)
{
    struct fake f;
    char err[256];
    char *text;
    int rc;

    (void)state;
    fake_create(&f, &otc_exporter_debug_ops, "debug/n");
    assert_int_equal(fake_set(&f, "verbosity", "normal", err, sizeof(err)), OTC_OK);
    assert_int_equal(fake_start(&f), OTC_OK);
    text = debug_capture(&f, metrics_batch(), &rc);
    assert_int_equal(rc, OTC_OK);
    assert_string_equal(text, "[debug:debug/n] metrics: 2 metric_points\nqueue.depth points=2\n");
    free(text);
    text = debug_capture(&f, logs_batch(), &rc);
    assert_int_equal(rc, OTC_OK);
    assert_string_equal(text, "[debug:debug/n] logs: 1 log_records\nseverity=13 hello log\n");
    free(text);
    /* an undecodable batch: the summary only, still consumed */
    text = debug_capture(&f, otc_batch_from_bytes(OTC_TRACES, "\xff\xff", 2), &rc);
    assert_int_equal(rc, OTC_OK);
    assert_int_equal(count_lines(text), 1);
    free(text);
    fake_destroy(&f);
}

static void test_debug_bad_verbosity(void **state)
{
    struct fake f;
    char err[256];

    (void)state;
    fake_create(&f, &otc_exporter_debug_ops, "debug");
    assert_int_equal(fake_set(&f, "verbosity", "verbose", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "'verbose' is not one of: basic normal detailed");
    /* destroy without start is safe */
    fake_destroy(&f);
}

/* otelcol's sampler: per signal and second, sampling_initial batches, then
 * every sampling_thereafter-th (the test's batches all fall in one or two
 * seconds; it retries once when a second boundary splits them). */
static void test_debug_sampling(void **state)
{
    struct fake f;
    char err[256];

    (void)state;
    for (int attempt = 0; attempt < 2; attempt++) {
        int printed = 0;
        time_t t0;

        fake_create(&f, &otc_exporter_debug_ops, "debug");
        assert_int_equal(fake_set(&f, "sampling_initial", "1", err, sizeof(err)), OTC_OK);
        assert_int_equal(fake_set(&f, "sampling_thereafter", "2", err, sizeof(err)), OTC_OK);
        assert_int_equal(fake_validate(&f, err, sizeof(err)), OTC_OK);
        assert_int_equal(fake_start(&f), OTC_OK);
        t0 = time(NULL);
        for (int i = 0; i < 5; i++) {
            int rc;
            char *text = debug_capture(&f, otc_test_traces_batch(1, 1, i), &rc);
            assert_int_equal(rc, OTC_OK);
            printed += *text != '\0';
            free(text);
        }
        fake_destroy(&f);
        if (time(NULL) == t0) {
            assert_int_equal(printed, 3); /* the 1st, 3rd and 5th */
            return;
        }
    }
    fail_msg("the clock's second changed twice during the test");
}

/* format proto: each request as binary protobuf after its length (u32 big
 * endian); compression zstd compresses each message on its own. */
static void test_file_proto_and_zstd(void **state)
{
    static const char *const formats[] = {"proto", "json"};
    struct fake f;
    char path[256], err[256];

    (void)state;
    for (int z = 0; z < 2; z++) {
        for (int fm = 0; fm < 2; fm++) {
            char *data;
            size_t len, off = 0;
            int n = 0;

            if (!z && fm) {
                continue; /* plain json lines: the tests above */
            }
            tmp_path(path, sizeof(path), "out.bin");
            fake_create(&f, &otc_exporter_file_ops, "file");
            assert_int_equal(fake_set(&f, "path", path, err, sizeof(err)), OTC_OK);
            assert_int_equal(fake_set(&f, "format", formats[fm], err, sizeof(err)), OTC_OK);
            if (z) {
                assert_int_equal(fake_set(&f, "compression", "zstd", err, sizeof(err)), OTC_OK);
            }
            assert_int_equal(fake_validate(&f, err, sizeof(err)), OTC_OK);
            assert_int_equal(fake_start(&f), OTC_OK);
            assert_int_equal(f.ops->consume(&f.ins, f.ctx, otc_test_traces_batch(2, 1, 3)), OTC_OK);
            assert_int_equal(f.ops->consume(&f.ins, f.ctx, otc_test_traces_batch(1, 1, 4)), OTC_OK);
            fake_destroy(&f);
            data = slurp(path, &len);
            while (off + 4 <= len) {
                const uint8_t *p = (const uint8_t *)data + off;
                size_t m = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
                uint8_t plain[65536];
                const uint8_t *msg = p + 4;
                size_t mlen = m;
                ProtobufCMessage *req;

                assert_true(off + 4 + m <= len);
                if (z) {
                    mlen = ZSTD_decompress(plain, sizeof(plain), p + 4, m);
                    assert_false(ZSTD_isError(mlen));
                    msg = plain;
                }
                if (fm == 0) {
                    req = protobuf_c_message_unpack(otc_request_descriptor(OTC_TRACES), NULL, mlen,
                                                    msg);
                    assert_non_null(req);
                    assert_int_equal(otc_request_count_items(OTC_TRACES, req), n == 0 ? 2 : 1);
                    protobuf_c_message_free_unpacked(req, NULL);
                } else {
                    assert_true(mlen > 16 && !memcmp(msg, "{\"resourceSpans\":[", 17));
                }
                off += 4 + m;
                n++;
            }
            assert_int_equal(off, len);
            assert_int_equal(n, 2);
            free(data);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_tables),
        cmocka_unit_test(test_file_traces_one_line),
        cmocka_unit_test(test_file_lines_and_append),
        cmocka_unit_test(test_file_metrics_and_logs),
        cmocka_unit_test(test_file_missing_path),
        cmocka_unit_test(test_file_bad_options),
        cmocka_unit_test(test_file_start_fails),
        cmocka_unit_test(test_file_bad_batch),
        cmocka_unit_test(test_file_shutdown_twice_and_shared_batch),
        cmocka_unit_test(test_nop),
        cmocka_unit_test(test_debug_verbosities),
        cmocka_unit_test(test_debug_other_signals),
        cmocka_unit_test(test_debug_bad_verbosity),
        cmocka_unit_test(test_debug_sampling),
        cmocka_unit_test(test_file_proto_and_zstd),
    };

    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
