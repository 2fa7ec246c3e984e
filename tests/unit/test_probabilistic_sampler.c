/* test_probabilistic_sampler.c - unit tests for the probabilistic_sampler
 * processor: decisions against an independent reference of otelcol's hash_seed
 * algorithm for 100,000 trace ids x seeds x percentages, sampling.priority,
 * fail_closed, tracestate, logs (traceID and record sources, sampling_priority),
 * fully dropped and untouched batches, copy on write, config errors.
 * Single-threaded cmocka executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>

#include "proc_test_util.h"
#include "processor/probabilistic_sampler/probabilistic_sampler.h"

#define N_IDS 100000

static const struct otc_component_ops *const OPS = &otc_processor_probabilistic_sampler_ops;

/* ---- reference: otelcol's hash_seed mode, from its description --------------
 * hash = FNV-1a-32(seed as 4 bytes little endian || trace id)
 * keep = (hash & 0x3FFF) < uint32(float32(pct) * float32(0x4000 / 100)) */

static uint32_t ref_fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 0x811c9dc5u;

    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x01000193u;
    }
    return h;
}

static uint32_t ref_hash(uint32_t seed, const uint8_t *data, size_t n)
{
    uint8_t buf[4 + 256];

    assert_true(n <= 256);
    buf[0] = (uint8_t)(seed & 0xff);
    buf[1] = (uint8_t)((seed >> 8) & 0xff);
    buf[2] = (uint8_t)((seed >> 16) & 0xff);
    buf[3] = (uint8_t)((seed >> 24) & 0xff);
    memcpy(buf + 4, data, n);
    return ref_fnv1a(buf, n + 4);
}

static uint32_t ref_scaled(const char *pct_text)
{
    volatile float pct = (float)strtod(pct_text, NULL);
    volatile float factor = (float)(0x4000 / 100.0);
    volatile float product;

    if (pct > 100.0f) {
        pct = 100.0f;
    }
    product = pct * factor;
    return (uint32_t)product;
}

static bool ref_keep(uint32_t seed, const uint8_t *data, size_t n, uint32_t scaled)
{
    return (ref_hash(seed, data, n) & 0x3FFF) < scaled;
}

/* splitmix64: reproducible "random" trace ids */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_tid(uint8_t tid[16])
{
    uint64_t a = rng_next(), b = rng_next();

    memcpy(tid, &a, 8);
    memcpy(tid + 8, &b, 8);
}

/* A trace id the reference keeps (want true) or drops at seed/scaled. */
static void tid_with(uint8_t tid[16], uint32_t seed, uint32_t scaled, bool want)
{
    do {
        rng_tid(tid);
    } while (ref_keep(seed, tid, 16, scaled) != want);
}

/* Span indexes in the captured batch (at most max); returns the count. */
static size_t kept_spans(struct otc_batch *b, uint64_t *out, size_t max)
{
    const otc_traces_req *r = (const otc_traces_req *)otc_batch_msg(b);
    size_t n = 0;

    for (size_t i = 0; i < r->n_resource_spans; i++) {
        for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
            const otc_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
            assert_true(ss->n_spans > 0); /* empty scopes are removed */
            for (size_t k = 0; k < ss->n_spans; k++) {
                if (n < max) {
                    out[n] = pt_span_index(ss->spans[k]);
                }
                n++;
            }
        }
    }
    return n;
}

static size_t kept_logs(struct otc_batch *b, uint64_t *out, size_t max)
{
    const otc_logs_req *r = (const otc_logs_req *)otc_batch_msg(b);
    size_t n = 0;

    for (size_t i = 0; i < r->n_resource_logs; i++) {
        for (size_t j = 0; j < r->resource_logs[i]->n_scope_logs; j++) {
            const otc_scope_logs *sl = r->resource_logs[i]->scope_logs[j];
            assert_true(sl->n_log_records > 0);
            for (size_t k = 0; k < sl->n_log_records; k++) {
                if (n < max) {
                    out[n] = sl->log_records[k]->time_unix_nano;
                }
                n++;
            }
        }
    }
    return n;
}

/* Run b through a sampler with opts; the indexes kept (out) and their count. */
static size_t run_sampler(const char *const *opts, struct otc_batch *b, bool logs, uint64_t *out,
                          size_t max, uint64_t *dropped)
{
    struct otc_instance ins;
    char err[256];
    size_t n = 0;

    assert_int_equal(pt_proc(&ins, OPS, opts, err, sizeof(err)), OTC_OK);
    assert_int_equal(pt_run(&ins, b), OTC_OK);
    assert_true(pt_captured.n <= 1);
    if (pt_captured.n == 1) {
        n = logs ? kept_logs(pt_captured.b[0], out, max) : kept_spans(pt_captured.b[0], out, max);
        assert_int_equal(pt_captured.b[0]->items, n);
    }
    *dropped = atomic_load(&ins.counters.dropped[logs ? OTC_LOGS : OTC_TRACES]);
    pt_capture_reset();
    pt_proc_free(&ins);
    return n;
}

/* ------------------------------------------------------------ tests */

/* The reference itself: FNV-1a 32-bit test vectors. */
static void test_reference_fnv(void **state)
{
    assert_int_equal(ref_fnv1a((const uint8_t *)"", 0), 0x811c9dc5u);
    assert_int_equal(ref_fnv1a((const uint8_t *)"a", 1), 0xe40c292cu);
    assert_int_equal(ref_fnv1a((const uint8_t *)"foobar", 6), 0xbf9cf968u);
    assert_int_equal(ref_scaled("25"), 4096);
    assert_int_equal(ref_scaled("100"), 0x4000);
    assert_int_equal(ref_scaled("250"), 0x4000);
}

static void test_decisions_match_reference(void **state)
{
    static const char *const pcts[] = {"0", "0.1", "1", "10", "25", "33.3", "50", "99.9", "100"};
    static const char *const seeds[] = {"0", "1", "42", "3735928559"};
    uint8_t (*tids)[16] = malloc((size_t)N_IDS * 16);
    uint64_t *got = malloc(N_IDS * sizeof(*got));
    struct otc_arena a;
    otc_traces_req *req;
    uint8_t *bytes;
    size_t len;

    assert_non_null(tids);
    assert_non_null(got);
    otc_arena_init(&a, 1 << 20);
    req = pt_traces(&a, N_IDS);
    for (size_t i = 0; i < N_IDS; i++) {
        rng_tid(tids[i]);
        req->resource_spans[0]->scope_spans[0]->spans[i] = pt_span(&a, tids[i], 16, i);
    }
    len = protobuf_c_message_get_packed_size(&req->base);
    bytes = malloc(len);
    assert_non_null(bytes);
    protobuf_c_message_pack(&req->base, bytes);
    otc_arena_release(&a);

    for (size_t si = 0; si < sizeof(seeds) / sizeof(seeds[0]); si++) {
        uint32_t seed = (uint32_t)strtoul(seeds[si], NULL, 10);
        for (size_t pi = 0; pi < sizeof(pcts) / sizeof(pcts[0]); pi++) {
            const char *opts[] = {"sampling_percentage", pcts[pi], "hash_seed", seeds[si], NULL};
            uint32_t scaled = ref_scaled(pcts[pi]);
            struct otc_batch *b = otc_batch_from_bytes(OTC_TRACES, bytes, len);
            size_t want = 0, n, mismatches = 0;
            uint64_t dropped;

            assert_non_null(b);
            assert_int_equal(otc_test_as_received(b), OTC_OK);
            n = run_sampler(opts, b, false, got, N_IDS, &dropped);
            /* walk the reference decisions and the kept spans side by side */
            for (size_t i = 0, k = 0; i < N_IDS; i++) {
                if (!ref_keep(seed, tids[i], 16, scaled)) {
                    continue;
                }
                want++;
                if (k >= n || got[k] != i) {
                    mismatches++;
                } else {
                    k++;
                }
            }
            print_message("seed %-10s pct %-5s: kept %6zu of %d (%.3f%%), reference %6zu\n",
                          seeds[si], pcts[pi], n, N_IDS, 100.0 * (double)n / N_IDS, want);
            assert_int_equal(mismatches, 0);
            assert_int_equal(n, want);
            assert_int_equal(dropped, N_IDS - n);
            /* and the statistics are what the percentage says */
            assert_true(fabs(100.0 * (double)n / N_IDS - strtod(pcts[pi], NULL)) < 0.5);
        }
    }
    free(bytes);
    free(got);
    free(tids);
}

/* Spans with sampling.priority, as otelcol reads it, at 50% and seed 0. */
static void test_span_priority(void **state)
{
    static const char *const opts50[] = {"sampling_percentage", "50", NULL};
    static const char *const opts0[] = {"sampling_percentage", "0", NULL};
    static const char *const opts100[] = {"sampling_percentage", "100", NULL};
    uint32_t scaled = ref_scaled("50");
    struct {
        bool      hash_keeps; /* trace id the hash alone keeps */
        int       type;       /* 0 int, 1 double, 2 string, 3 bool */
        int64_t   i;
        double    d;
        const char *s;
        bool      want;
    } cases[] = {
        {true, 0, 0, 0, NULL, false},      {false, 0, 1, 0, NULL, true},
        {false, 0, 7, 0, NULL, true},      {false, 0, -1, 0, NULL, false},
        {true, 0, -1, 0, NULL, true},      {true, 1, 0, 0.0, NULL, false},
        {false, 1, 0, 2.5, NULL, true},    {false, 1, 0, -0.5, NULL, false},
        {true, 2, 0, 0, "0", false},       {false, 2, 0, 0, "1", true},
        {false, 2, 0, 0, "1.5e0", true},   {true, 2, 0, 0, "0.0", false},
        {false, 2, 0, 0, "abc", false},    {true, 2, 0, 0, "abc", true},
        {false, 2, 0, 0, " 1", false},     {false, 2, 0, 0, "1e999", false},
        {false, 3, 0, 0, NULL, false},     {true, 3, 0, 0, NULL, true},
    };
    size_t nc = sizeof(cases) / sizeof(cases[0]);
    uint64_t got[64], dropped;
    struct otc_arena a;
    otc_traces_req *req;
    size_t n, k = 0;

    otc_arena_init(&a, 1 << 16);
    req = pt_traces(&a, nc);
    for (size_t i = 0; i < nc; i++) {
        uint8_t tid[16];
        otc_span *sp;
        otc_any_value *v;
        otc_key_value *kvs[2];
        tid_with(tid, 0, scaled, cases[i].hash_keeps);
        sp = pt_span(&a, tid, 16, i);
        v = cases[i].type == 0 ? pt_any_int(&a, cases[i].i)
            : cases[i].type == 1 ? pt_any_double(&a, cases[i].d)
            : cases[i].type == 2 ? pt_any_str(&a, cases[i].s)
            : pt_any_bool(&a, true);
        kvs[0] = pt_kv(&a, "other", pt_any_str(&a, "x"));
        kvs[1] = pt_kv(&a, "sampling.priority", v);
        sp->n_attributes = 2;
        sp->attributes = pt_attrs(&a, 2, kvs);
        req->resource_spans[0]->scope_spans[0]->spans[i] = sp;
    }
    n = run_sampler(opts50, pt_batch(OTC_TRACES, &a, &req->base), false, got, 64, &dropped);
    for (size_t i = 0; i < nc; i++) {
        bool kept = k < n && got[k] == i;
        if (kept != cases[i].want) {
            fail_msg("priority case %zu: kept %d, want %d", i, kept, cases[i].want);
        }
        k += kept;
    }
    assert_int_equal(k, n);

    /* 0% keeps a positive priority, 100% drops priority 0 (otelcol's override) */
    for (int pass = 0; pass < 2; pass++) {
        uint8_t tid[16];
        otc_key_value *kv;
        otc_span *sp;
        otc_arena_init(&a, 1 << 12);
        req = pt_traces(&a, 2);
        rng_tid(tid);
        req->resource_spans[0]->scope_spans[0]->spans[0] = pt_span(&a, tid, 16, 0);
        sp = pt_span(&a, tid, 16, 1);
        kv = pt_kv(&a, "sampling.priority", pt_any_int(&a, pass == 0 ? 1 : 0));
        sp->n_attributes = 1;
        sp->attributes = pt_attrs(&a, 1, &kv);
        req->resource_spans[0]->scope_spans[0]->spans[1] = sp;
        n = run_sampler(pass == 0 ? opts0 : opts100, pt_batch(OTC_TRACES, &a, &req->base), false,
                        got, 64, &dropped);
        assert_int_equal(n, 1);
        assert_int_equal(got[0], pass == 0 ? 1 : 0);
        assert_int_equal(dropped, 1);
    }
}

/* Spans without a usable trace id (none, all zero) or with a tracestate that
 * carries OTel sampling data or does not parse follow fail_closed. */
static void test_fail_closed(void **state)
{
    static const char *const states[] = {
        "", "k=v", "ot=p:8", "ot=th:8", "ot=rv:0123456789abcd", "Bad Key=v", "ot=th:8;", "a=1,,b=2",
    };
    /* no error at all / a tracestate that does not parse */
    static const bool state_ok[] = {true, true, true, false, false, false, false, true};
    static const bool state_bad[] = {false, false, false, false, false, true, true, false};
    const size_t ns = sizeof(states) / sizeof(states[0]);
    static const char *const pcts[] = {"100", "50", "0"};
    uint8_t zero[16] = {0};
    uint64_t got[64], dropped;

    for (size_t pi = 0; pi < 3; pi++) {
        uint32_t scaled = ref_scaled(pcts[pi]);
        for (int fc = 0; fc < 2; fc++) {
            const char *opts[] = {"sampling_percentage", pcts[pi], "fail_closed",
                                  fc ? "true" : "false", NULL};
            struct otc_arena a;
            otc_traces_req *req;
            uint8_t tid[16];
            size_t n, k = 0;

            otc_arena_init(&a, 1 << 14);
            req = pt_traces(&a, 2 + ns);
            req->resource_spans[0]->scope_spans[0]->spans[0] = pt_span(&a, NULL, 0, 0);
            req->resource_spans[0]->scope_spans[0]->spans[1] = pt_span(&a, zero, 16, 1);
            for (size_t i = 0; i < ns; i++) {
                otc_span *sp;
                tid_with(tid, 0, 0x4000, true);
                if (scaled > 0 && scaled < 0x4000) {
                    tid_with(tid, 0, scaled, true);
                }
                sp = pt_span(&a, tid, 16, 2 + i);
                sp->trace_state = pt_str(&a, states[i]);
                req->resource_spans[0]->scope_spans[0]->spans[2 + i] = sp;
            }
            n = run_sampler(opts, pt_batch(OTC_TRACES, &a, &req->base), false, got, 64,
                            &dropped);
            for (size_t i = 0; i < 2 + ns; i++) {
                bool kept = k < n && got[k] == i;
                bool want;
                if (scaled == 0) {
                    /* 0%: only a tracestate that does not parse is an error */
                    want = i >= 2 && !fc && state_bad[i - 2];
                } else if (i < 2) {
                    want = !fc; /* no randomness */
                } else {
                    want = state_ok[i - 2] || !fc;
                }
                if (kept != want) {
                    fail_msg("pct %s fail_closed %d span %zu (%s): kept %d, want %d", pcts[pi], fc,
                             i, i >= 2 ? states[i - 2] : "bad trace id", kept, want);
                }
                k += kept;
            }
            assert_int_equal(k, n);
            assert_int_equal(dropped, 2 + ns - n);
        }
    }
}

/* Logs: trace id, from_attribute (string, int, double, bytes), record source,
 * fail_closed, and sampling_priority. */
static void test_logs(void **state)
{
    enum { N = 2000 };
    uint64_t *got = malloc(N * sizeof(*got));
    uint32_t scaled = ref_scaled("50");

    assert_non_null(got);
    for (int source = 0; source < 2; source++) {
        const char *opts[] = {"sampling_percentage", "50", "attribute_source",
                              source ? "record" : "traceID", "from_attribute", "id", NULL};
        struct otc_arena a;
        otc_logs_req *req;
        bool want[N];
        size_t n, k = 0;
        uint64_t dropped;

        otc_arena_init(&a, 1 << 20);
        req = pt_logs(&a, N);
        for (size_t i = 0; i < N; i++) {
            uint8_t tid[16];
            char idbuf[32];
            otc_log_record *lr;
            otc_key_value *kv = NULL;
            int kind = (int)(i % 8);
            rng_tid(tid);
            lr = pt_log(&a, tid, kind == 7 ? 0 : 16, i);
            /* kinds: 0 string id, 1 int id, 2 double id, 3 bytes id, 4 bool id,
             * 5 no id, 6 empty string id, 7 no trace id and a string id */
            snprintf(idbuf, sizeof(idbuf), "rec-%zu", i);
            switch (kind) {
            case 0: case 7: kv = pt_kv(&a, "id", pt_any_str(&a, idbuf)); break;
            case 1: kv = pt_kv(&a, "id", pt_any_int(&a, (int64_t)i * 7919)); break;
            case 2: kv = pt_kv(&a, "id", pt_any_double(&a, (double)i + 0.5)); break;
            case 3: kv = pt_kv(&a, "id", pt_any_bytes(&a, tid, 5)); break;
            case 4: kv = pt_kv(&a, "id", pt_any_bool(&a, i % 16 == 4)); break;
            case 6: kv = pt_kv(&a, "id", pt_any_str(&a, "")); break;
            default: break;
            }
            if (kv) {
                lr->n_attributes = 1;
                lr->attributes = pt_attrs(&a, 1, &kv);
            }
            /* the reference: what otelcol hashes */
            if (source == 0 && kind != 7) {
                want[i] = ref_keep(0, tid, 16, scaled);
            } else {
                char s[64];
                const uint8_t *p = (const uint8_t *)s;
                size_t len = 0;
                switch (kind) {
                case 0: case 7: len = (size_t)snprintf(s, sizeof(s), "%s", idbuf); break;
                case 1: len = (size_t)snprintf(s, sizeof(s), "%lld", (long long)i * 7919); break;
                case 2: len = (size_t)snprintf(s, sizeof(s), "%zu.5", i); break;
                case 3: p = tid; len = 5; break;
                case 4: len = (size_t)snprintf(s, sizeof(s), "%s", i % 16 == 4 ? "true" : "false");
                        break;
                default: len = 0; break;
                }
                want[i] = len > 0 ? ref_keep(0, p, len, scaled) : false; /* fail_closed */
            }
            req->resource_logs[0]->scope_logs[0]->log_records[i] = lr;
        }
        n = run_sampler(opts, pt_batch(OTC_LOGS, &a, &req->base), true, got, N, &dropped);
        for (size_t i = 0; i < N; i++) {
            bool kept = k < n && got[k] == i;
            if (kept != want[i]) {
                fail_msg("source %d record %zu (kind %zu): kept %d, want %d", source, i, i % 8,
                         kept, want[i]);
            }
            k += kept;
        }
        assert_int_equal(k, n);
        assert_int_equal(dropped, N - n);
        print_message("logs, attribute_source %s: kept %zu of %d\n", source ? "record" : "traceID",
                      n, N);
    }

    /* doubles are hashed in Go's formatting (pdata Value.AsString) */
    {
        static const struct {
            double      v;
            const char *go; /* strconv.FormatFloat as pdata formats a double */
        } dbl[] = {
            {12345, "12345"}, {-7, "-7"}, {1.5, "1.5"}, {1e21, "1e+21"}, {1e-7, "1e-7"},
            {0, "0"}, {-0.0, "-0"}, {0.000001, "0.000001"}, {9.999e-7, "9.999e-7"},
            {1e20, "100000000000000000000"}, {123456789012345678901.0, "123456789012345680000"},
            {0.1, "0.1"}, {0.3, "0.3"}, {1.0 / 3, "0.3333333333333333"},
            {2.0 / 3, "0.6666666666666666"}, {1e100, "1e+100"}, {2.5e-10, "2.5e-10"},
            {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
            {100, "100"}, {123.456, "123.456"}, {-1e-8, "-1e-8"}, {3e-7, "3e-7"},
            {4.5e21, "4.5e+21"}, {999999999999999900000.0, "999999999999999900000"},
        };
        const size_t nv = sizeof(dbl) / sizeof(dbl[0]);

        for (int seed = 0; seed < 2; seed++) {
            const char *opts[] = {"sampling_percentage", "50", "attribute_source", "record",
                                  "from_attribute", "id", "hash_seed", seed ? "7" : "0", NULL};
            struct otc_arena a;
            otc_logs_req *req;
            size_t n, k = 0;
            uint64_t dropped;

            otc_arena_init(&a, 1 << 16);
            req = pt_logs(&a, nv);
            for (size_t i = 0; i < nv; i++) {
                otc_log_record *lr = pt_log(&a, NULL, 0, i);
                otc_key_value *kv = pt_kv(&a, "id", pt_any_double(&a, dbl[i].v));
                lr->n_attributes = 1;
                lr->attributes = pt_attrs(&a, 1, &kv);
                req->resource_logs[0]->scope_logs[0]->log_records[i] = lr;
            }
            n = run_sampler(opts, pt_batch(OTC_LOGS, &a, &req->base), true, got, N, &dropped);
            for (size_t i = 0; i < nv; i++) {
                bool want = ref_keep(seed ? 7 : 0, (const uint8_t *)dbl[i].go, strlen(dbl[i].go),
                                     scaled);
                bool kept = k < n && got[k] == i;
                if (kept != want) {
                    fail_msg("double %.17g (as \"%s\"), seed %d: kept %d, want %d", dbl[i].v,
                             dbl[i].go, seed, kept, want);
                }
                k += kept;
            }
            assert_int_equal(k, n);
        }
    }
    free(got);
}

/* Log records with trace ids: the same decisions as otelcol's, the kept ones
 * with sampling.randomness and sampling.threshold attributes, also
 * when a record has a sampling.threshold attribute (which fails the record
 * closed: decided from its attributes' bytes too). */
static void test_logs_wire(void **state)
{
    enum { N = 1000 };
    const char *opts[] = {"sampling_percentage", "50", NULL};
    uint32_t scaled = ref_scaled("50");
    uint64_t *got = malloc(N * sizeof(*got));

    (void)state;
    assert_non_null(got);
    for (int with_threshold = 0; with_threshold < 2; with_threshold++) {
        struct otc_instance ins;
        struct otc_arena a;
        otc_logs_req *req;
        bool want[N];
        char err[256];
        size_t n, k = 0;

        otc_arena_init(&a, 1 << 20);
        req = pt_logs(&a, N);
        for (size_t i = 0; i < N; i++) {
            uint8_t tid[16];
            otc_log_record *lr;

            rng_tid(tid);
            lr = pt_log(&a, tid, 16, i);
            want[i] = ref_keep(0, tid, 16, scaled);
            if (with_threshold && i == N / 2) {
                otc_key_value *kv = pt_kv(&a, "sampling.threshold", pt_any_str(&a, "8"));
                lr->n_attributes = 1;
                lr->attributes = pt_attrs(&a, 1, &kv);
                want[i] = false;
            }
            req->resource_logs[0]->scope_logs[0]->log_records[i] = lr;
        }
        assert_int_equal(pt_proc(&ins, OPS, opts, err, sizeof(err)), OTC_OK);
        assert_int_equal(pt_run(&ins, pt_batch(OTC_LOGS, &a, &req->base)), OTC_OK);
        assert_int_equal(pt_captured.n, 1);
        if (getenv("OTC_FX_UNDECODED")) {
            assert_false(otc_batch_is_decoded(pt_captured.b[0]));
        }
        n = kept_logs(pt_captured.b[0], got, N);
        /* kept records carry the hash's randomness and the 50% threshold */
        {
            const otc_logs_req *r = (const otc_logs_req *)otc_batch_msg(pt_captured.b[0]);
            const otc_log_record *lr = r->resource_logs[0]->scope_logs[0]->log_records[0];
            assert_int_equal(lr->n_attributes, 2);
            assert_string_equal(lr->attributes[0]->key, "sampling.randomness");
            assert_int_equal(strlen(lr->attributes[0]->value->string_value), 14);
            assert_string_equal(lr->attributes[1]->key, "sampling.threshold");
            assert_string_equal(lr->attributes[1]->value->string_value, "8");
        }
        for (size_t i = 0; i < N; i++) {
            bool kept = k < n && got[k] == i;
            if (kept != want[i]) {
                fail_msg("record %zu (threshold attribute: %d): kept %d, want %d", i,
                         with_threshold, kept, want[i]);
            }
            k += kept;
        }
        assert_int_equal(k, n);
        assert_int_equal(atomic_load(&ins.counters.dropped[OTC_LOGS]), N - n);
        pt_capture_reset();
        pt_proc_free(&ins);
    }
    free(got);
}

/* sampling_priority on logs: a percentage that replaces the configured one for
 * that record (0 and non-numbers are ignored, as otelcol's current code). */
static void test_log_priority(void **state)
{
    const char *opts[] = {"sampling_percentage", "1", "sampling_priority", "prio", NULL};
    const char *opts0[] = {"sampling_percentage", "0", "sampling_priority", "prio", NULL};
    enum { N = 400 };
    uint32_t scaled1 = ref_scaled("1");
    uint64_t got[N], dropped;

    for (int pass = 0; pass < 2; pass++) {
        struct otc_arena a;
        otc_logs_req *req;
        bool want[N];
        size_t n, k = 0;

        otc_arena_init(&a, 1 << 18);
        req = pt_logs(&a, N);
        for (size_t i = 0; i < N; i++) {
            uint8_t tid[16];
            otc_log_record *lr;
            otc_key_value *kv = NULL;
            uint32_t h14;
            rng_tid(tid);
            lr = pt_log(&a, tid, 16, i);
            h14 = ref_hash(0, tid, 16) & 0x3FFF;
            switch (i % 5) {
            case 0: /* 50%: kept when the 14-bit hash is below 0x2000; at 0% there is
                     * no randomness (all values pass), so it is kept */
                kv = pt_kv(&a, "prio", pt_any_double(&a, 50.0));
                want[i] = pass == 1 || h14 < 0x2000;
                break;
            case 1: /* 100 */
                kv = pt_kv(&a, "prio", pt_any_int(&a, 100));
                want[i] = true;
                break;
            case 2: /* 0 is ignored: the configured percentage decides */
                kv = pt_kv(&a, "prio", pt_any_int(&a, 0));
                want[i] = pass == 0 && h14 < scaled1;
                break;
            case 3: /* a string is ignored */
                kv = pt_kv(&a, "prio", pt_any_str(&a, "100"));
                want[i] = pass == 0 && h14 < scaled1;
                break;
            default: /* 150% is out of range: ignored */
                kv = pt_kv(&a, "prio", pt_any_int(&a, 150));
                want[i] = pass == 0 && h14 < scaled1;
                break;
            }
            lr->n_attributes = 1;
            lr->attributes = pt_attrs(&a, 1, &kv);
            req->resource_logs[0]->scope_logs[0]->log_records[i] = lr;
        }
        n = run_sampler(pass == 0 ? opts : opts0, pt_batch(OTC_LOGS, &a, &req->base), true, got,
                        N, &dropped);
        for (size_t i = 0; i < N; i++) {
            bool kept = k < n && got[k] == i;
            if (kept != want[i]) {
                fail_msg("pass %d record %zu: kept %d, want %d", pass, i, kept, want[i]);
            }
            k += kept;
        }
        assert_int_equal(k, n);
    }
}

/* Nothing reaches the next stage when everything is dropped; scopes and
 * resources left empty are removed; a batch kept whole goes on untouched. */
static void test_batch_shapes(void **state)
{
    const char *opts0[] = {"sampling_percentage", "0", NULL};
    const char *opts100[] = {"sampling_percentage", "100", NULL};
    const char *opts50[] = {"sampling_percentage", "50", NULL};
    uint32_t scaled = ref_scaled("50");
    struct otc_instance ins;
    struct otc_arena a;
    otc_traces_req *req;
    struct otc_batch *b;
    char err[256];

    /* 0%: the batch is freed, counted, and next sees nothing */
    otc_arena_init(&a, 1 << 14);
    req = pt_traces(&a, 10);
    for (size_t i = 0; i < 10; i++) {
        uint8_t tid[16];
        rng_tid(tid);
        req->resource_spans[0]->scope_spans[0]->spans[i] = pt_span(&a, tid, 16, i);
    }
    b = pt_batch(OTC_TRACES, &a, &req->base);
    assert_int_equal(pt_proc(&ins, OPS, opts0, err, sizeof(err)), OTC_OK);
    assert_int_equal(pt_run(&ins, b), OTC_OK);
    assert_int_equal(pt_captured.n, 0);
    assert_int_equal(atomic_load(&ins.counters.dropped[OTC_TRACES]), 10);
    pt_proc_free(&ins);

    /* 100%: the same batch object, every span carrying otelcol's tracestate
     * (rv from the hash, th:0) */
    otc_arena_init(&a, 1 << 14);
    req = pt_traces(&a, 10);
    for (size_t i = 0; i < 10; i++) {
        uint8_t tid[16];
        rng_tid(tid);
        req->resource_spans[0]->scope_spans[0]->spans[i] = pt_span(&a, tid, 16, i);
    }
    b = pt_batch(OTC_TRACES, &a, &req->base);
    assert_int_equal(pt_proc(&ins, OPS, opts100, err, sizeof(err)), OTC_OK);
    assert_int_equal(pt_run(&ins, b), OTC_OK);
    assert_int_equal(pt_captured.n, 1);
    assert_ptr_equal(pt_captured.b[0], b);
    if (getenv("OTC_FX_UNDECODED")) {
        /* written on the wire: new bytes, still undecoded */
        assert_false(otc_batch_is_decoded(b));
        assert_true(b->raw_fresh);
    } else {
        assert_false(b->raw_fresh);
    }
    assert_int_equal(b->items, 10);
    {
        const otc_traces_req *out = (const otc_traces_req *)otc_batch_msg(b);
        for (size_t i = 0; i < 10; i++) {
            const char *ts = out->resource_spans[0]->scope_spans[0]->spans[i]->trace_state;
            assert_int_equal(strlen(ts), strlen("ot=rv:00000000000000;th:0"));
            assert_memory_equal(ts, "ot=rv:", 6);
            assert_string_equal(ts + 20, ";th:0");
        }
    }
    assert_int_equal(atomic_load(&ins.counters.dropped[OTC_TRACES]), 0);
    pt_capture_reset();
    pt_proc_free(&ins);

    /* 50%, two resources x two scopes: a scope whose spans are all dropped goes,
     * and a resource left without scopes goes. */
    {
        otc_resource_spans *rs[2];
        bool keep_of[2][2] = {{false, true}, {false, false}};
        size_t idx = 0;
        const otc_traces_req *out;

        otc_arena_init(&a, 1 << 16);
        req = pt_traces(&a, 0);
        req->n_resource_spans = 2;
        req->resource_spans = pt_alloc(&a, 2 * sizeof(*req->resource_spans));
        for (int r = 0; r < 2; r++) {
            rs[r] = pt_alloc(&a, sizeof(*rs[r]));
            opentelemetry__proto__trace__v1__resource_spans__init(rs[r]);
            rs[r]->resource = pt_resource(&a);
            rs[r]->n_scope_spans = 2;
            rs[r]->scope_spans = pt_alloc(&a, 2 * sizeof(*rs[r]->scope_spans));
            for (int s = 0; s < 2; s++) {
                otc_scope_spans *ss = pt_alloc(&a, sizeof(*ss));
                opentelemetry__proto__trace__v1__scope_spans__init(ss);
                ss->scope = pt_scope(&a);
                ss->n_spans = 3;
                ss->spans = pt_alloc(&a, 3 * sizeof(*ss->spans));
                for (int k = 0; k < 3; k++) {
                    uint8_t tid[16];
                    tid_with(tid, 0, scaled, keep_of[r][s] && k != 1);
                    ss->spans[k] = pt_span(&a, tid, 16, idx++);
                }
                rs[r]->scope_spans[s] = ss;
            }
            req->resource_spans[r] = rs[r];
        }
        b = pt_batch(OTC_TRACES, &a, &req->base);
        assert_int_equal(pt_proc(&ins, OPS, opts50, err, sizeof(err)), OTC_OK);
        assert_int_equal(pt_run(&ins, b), OTC_OK);
        assert_int_equal(pt_captured.n, 1);
        if (getenv("OTC_FX_UNDECODED")) {
            /* dropped and written on the wire: still undecoded */
            assert_false(otc_batch_is_decoded(pt_captured.b[0]));
            assert_true(pt_captured.b[0]->raw_fresh);
        }
        out = (const otc_traces_req *)otc_batch_msg(pt_captured.b[0]);
        assert_int_equal(out->n_resource_spans, 1);
        assert_int_equal(out->resource_spans[0]->n_scope_spans, 1);
        assert_int_equal(out->resource_spans[0]->scope_spans[0]->n_spans, 2);
        assert_int_equal(pt_span_index(out->resource_spans[0]->scope_spans[0]->spans[0]), 3);
        assert_int_equal(pt_span_index(out->resource_spans[0]->scope_spans[0]->spans[1]), 5);
        assert_int_equal(pt_captured.b[0]->items, 2);
        if (!getenv("OTC_FX_UNDECODED")) {
            assert_false(pt_captured.b[0]->raw_fresh);
        }
        assert_int_equal(atomic_load(&ins.counters.dropped[OTC_TRACES]), 10);
        /* the re-encoded request holds exactly the two spans */
        {
            const uint8_t *data;
            size_t len;
            otc_traces_req *again;
            assert_int_equal(otc_batch_bytes(pt_captured.b[0], &data, &len), OTC_OK);
            again = (otc_traces_req *)protobuf_c_message_unpack(
                otc_request_descriptor(OTC_TRACES), NULL, len, data);
            assert_non_null(again);
            assert_int_equal(otc_request_count_items(OTC_TRACES, &again->base), 2);
            protobuf_c_message_free_unpacked(&again->base, NULL);
        }
        pt_capture_reset();
        pt_proc_free(&ins);
    }
}

/* A shared batch (fan-out) is copied before spans are removed. */
static void test_copy_on_write(void **state)
{
    const char *opts[] = {"sampling_percentage", "50", NULL};
    uint32_t scaled = ref_scaled("50");
    struct otc_instance ins;
    struct otc_arena a;
    otc_traces_req *req;
    struct otc_batch *b;
    char err[256];

    otc_arena_init(&a, 1 << 14);
    req = pt_traces(&a, 6);
    for (size_t i = 0; i < 6; i++) {
        uint8_t tid[16];
        tid_with(tid, 0, scaled, i % 2 == 0);
        req->resource_spans[0]->scope_spans[0]->spans[i] = pt_span(&a, tid, 16, i);
    }
    b = pt_batch(OTC_TRACES, &a, &req->base);
    otc_batch_ref(b); /* a second holder */
    assert_int_equal(pt_proc(&ins, OPS, opts, err, sizeof(err)), OTC_OK);
    assert_int_equal(pt_run(&ins, b), OTC_OK);
    assert_int_equal(pt_captured.n, 1);
    assert_ptr_not_equal(pt_captured.b[0], b);
    assert_int_equal(pt_captured.b[0]->items, 3);
    /* the other holder's batch is intact */
    assert_int_equal(b->items, 6);
    assert_true(b->raw_fresh);
    assert_int_equal(otc_request_count_items(OTC_TRACES, otc_batch_msg(b)), 6);
    otc_batch_unref(b);
    pt_capture_reset();
    pt_proc_free(&ins);
}

/* ---- otelcol-contrib's own test tables (processor/probabilisticsamplerprocessor
 * tracesprocessor_test.go and logsprocessor_test.go): the same inputs give
 * the same decisions and the same tracestate or attributes. */

static void hex_bytes(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* One span through a sampler configured with opts: kept or not, and its
 * tracestate when kept (into ts_out). prio < 0: no sampling.priority. */
static bool one_span(const char *const *opts, const char *tid_hex, const char *ts, int prio,
                     char *ts_out, size_t cap)
{
    struct otc_instance ins;
    struct otc_arena a;
    otc_traces_req *req;
    otc_span *sp;
    uint8_t tid[16] = {0};
    char err[256];
    bool kept;

    if (tid_hex) {
        hex_bytes(tid_hex, tid, 16);
    }
    otc_arena_init(&a, 1 << 12);
    req = pt_traces(&a, 1);
    sp = pt_span(&a, tid, 16, 0);
    sp->trace_state = pt_str(&a, ts);
    if (prio >= 0) {
        otc_key_value *kv = pt_kv(&a, "sampling.priority", pt_any_int(&a, prio));
        sp->n_attributes = 1;
        sp->attributes = pt_attrs(&a, 1, &kv);
    }
    req->resource_spans[0]->scope_spans[0]->spans[0] = sp;
    if (pt_proc(&ins, OPS, opts, err, sizeof(err)) != OTC_OK) {
        fail_msg("config: %s", err);
    }
    assert_int_equal(pt_run(&ins, pt_batch(OTC_TRACES, &a, &req->base)), OTC_OK);
    kept = pt_captured.n == 1;
    ts_out[0] = '\0';
    if (kept) {
        const otc_traces_req *out = (const otc_traces_req *)otc_batch_msg(pt_captured.b[0]);
        snprintf(ts_out, cap, "%s", out->resource_spans[0]->scope_spans[0]->spans[0]->trace_state);
    }
    pt_capture_reset();
    pt_proc_free(&ins);
    return kept;
}

struct ts_case {
    const char *name, *pct, *prec, *tid, *ts;
    int         prio;
    bool        fail_closed;
    const char *eq, *prop; /* the tracestate kept in equalizing / proportional mode; NULL: dropped */
};

#define DEF_TID "fefefefefefefefefe80000000000000"
#define IMPROBABLE "111111111111111111ffffffffffffff"

/* Test_tracesamplerprocessor_TraceState (a precision of 0 there is 14) */
static const struct ts_case TS_CASES[] = {
    {"100 percent", "100", "14", DEF_TID, "", -1, false, "ot=th:0", "ot=th:0"},
    {"50 percent sampled", "50", "14", DEF_TID, "", -1, false, "ot=th:8", "ot=th:8"},
    {"25 percent sampled", "25", "14", "ddddddddddddddddddc0000000000000", "", -1, false, "ot=th:c",
     "ot=th:c"},
    {"25 percent unsampled", "25", "14", "ddddddddddddddddddb0000000000000", "", -1, false, NULL,
     NULL},
    {"1 percent sampled", "1", "14", DEF_TID, "ot=rv:FD70A3D70A3D71", -1, false,
     "ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71", "ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71"},
    {"1 percent sampled with rvalue and precision 4", "1", "4", DEF_TID, "ot=rv:FD70A3D70A3D71",
     -1, false, "ot=rv:FD70A3D70A3D71;th:fd70a", "ot=rv:FD70A3D70A3D71;th:fd70a"},
    {"1 percent sampled with rvalue and precision 3", "1", "3", DEF_TID, "ot=rv:FD70A3D70A3D71",
     -1, false, NULL, NULL},
    {"1 percent not sampled with rvalue", "1", "14", DEF_TID, "ot=rv:FD70A3D70A3D70", -1, false,
     NULL, NULL},
    {"49 percent not sampled with default tid", "49", "14", DEF_TID, "", -1, false, NULL, NULL},
    {"1 percent sampled with rvalue", "1", "14", DEF_TID, "ot=rv:fd70B000000000", -1, false,
     "ot=rv:fd70B000000000;th:fd70a3d70a3d71", "ot=rv:fd70B000000000;th:fd70a3d70a3d71"},
    {"1 percent sampled with tid", "1", "4", "a0a0a0a0a0a0a0a0a0fe000000000000", "", -1, false,
     "ot=th:fd70a", "ot=th:fd70a"},
    {"sampled by priority", "1", "14", DEF_TID, "", 2, false, "ot=th:0", "ot=th:0"},
    {"not sampled by priority", "99", "14", DEF_TID, "", 0, false, NULL, NULL},
    {"incoming 50 percent with rvalue", "50", "14", DEF_TID, "ot=rv:90000000000000;th:80000000000000",
     -1, false, "ot=rv:90000000000000;th:8", NULL},
    {"incoming 50 percent at 25 percent not sampled", "25", "14", DEF_TID, "ot=th:8", -1, false,
     NULL, NULL},
    {"incoming 50 percent at 25 percent sampled", "25", "14", "ffffffffffffffffffffffffffffffff",
     "ot=th:8", -1, false, "ot=th:c", "ot=th:e"},
    {"equalizing vs proportional", "50", "14", DEF_TID, "ot=rv:c0000000000000;th:8", -1, false,
     "ot=rv:c0000000000000;th:8", "ot=rv:c0000000000000;th:c"},
    {"inconsistent arriving threshold", "100", "14", DEF_TID, "ot=rv:40000000000000;th:8", -1,
     false, "ot=rv:40000000000000;th:0", "ot=rv:40000000000000;th:0"},
    {"inconsistent arriving threshold not sampled", "1", "14", DEF_TID,
     "ot=rv:40000000000000;th:8", -1, true, NULL, NULL},
    {"40 percent precision 3 with rvalue", "40", "3", DEF_TID, "ot=rv:a0000000000000", -1, false,
     "ot=rv:a0000000000000;th:99a", "ot=rv:a0000000000000;th:99a"},
    {"arriving 50 percent sampled at 40 percent precision 6 with tid", "40", "6",
     "a0a0a0a0a0a0a0a0a0d0000000000000", "ot=th:8", -1, false, "ot=th:99999a", "ot=th:cccccd"},
    {"arriving 50 percent sampled at 40 percent partly sampled", "40", "3",
     "a0a0a0a0a0a0a0a0a0b0000000000000", "ot=th:8", -1, false, "ot=th:99a", NULL},
    {"arriving 50 percent sampled at 40 percent not sampled", "40", "3",
     "a0a0a0a0a0a0a0a0a080000000000000", "ot=th:8", -1, false, NULL, NULL},
    {"200 percent equals 100 percent", "200", "14", DEF_TID, "", -1, false, "ot=th:0", "ot=th:0"},
    {"tiny probability rounding", "0.006103515625" /* 100 * 2^-14 */, "14", IMPROBABLE,
     "ot=th:fffc", -1, false, "ot=th:fffc", "ot=th:fffffff"},
    {"almost 100pct sampling", "99.99992", "10", IMPROBABLE, "", -1, false, "ot=th:00000cccccccd",
     "ot=th:00000cccccccd"},
    {"probability underflow", "0.0625", "14", IMPROBABLE, "ot=th:fffffffffffff8", -1, false,
     "ot=th:fffffffffffff8", NULL},
};

static void test_upstream_tracestate(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(TS_CASES) / sizeof(TS_CASES[0]); i++) {
        const struct ts_case *c = &TS_CASES[i];
        for (int m = 0; m < 2; m++) {
            const char *opts[] = {"mode", m ? "proportional" : "equalizing", "sampling_percentage",
                                  c->pct, "sampling_precision", c->prec, "fail_closed",
                                  c->fail_closed ? "true" : "false", "hash_seed", "4294967295", NULL};
            const char *want = m ? c->prop : c->eq;
            char got[512];
            bool kept = one_span(opts, c->tid, c->ts, c->prio, got, sizeof(got));

            if (kept != (want != NULL) || (want && strcmp(got, want))) {
                fail_msg("%s, %s: kept %d \"%s\", want %d \"%s\"", c->name, opts[1], kept, got,
                         want != NULL, want ? want : "");
            }
        }
    }
}

/* Test_tracesamplerprocessor_TraceStateErrors: with fail_closed, dropped. */
static void test_upstream_tracestate_errors(void **state)
{
    /* {trace id, tracestate, what fail_closed false keeps: a tracestate that
     * does not parse is left as it is; otherwise th is cleared and set to 0} */
    static const char *const cases[][3] = {
        {NULL, "", "ot=th:0"},                                    /* missing randomness */
        {DEF_TID, "ot=rv:abababababababab", "ot=rv:abababababababab"}, /* invalid r-value */
        {DEF_TID, "ot=th:abababababababab", "ot=th:abababababababab"}, /* invalid t-value */
        {DEF_TID, "ot=th:-1", "ot=th:-1"},                        /* t-value syntax */
        {"ffffffffffffffffff70000000000000", "ot=th:8", "ot=th:0"}, /* inconsistent, trace id */
        {DEF_TID, "ot=th:8;rv:70000000000000", "ot=rv:70000000000000;th:0"}, /* ... with rv */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int m = 0; m < 2; m++) {
            const char *opts[] = {"mode", m ? "proportional" : "equalizing", "sampling_percentage",
                                  "100", "fail_closed", "true", NULL};
            char got[512];
            if (one_span(opts, cases[i][0], cases[i][1], -1, got, sizeof(got))) {
                fail_msg("case %zu (%s): kept, want dropped", i, cases[i][1]);
            }
            /* and fail_closed false keeps them */
            opts[5] = "false";
            assert_true(one_span(opts, cases[i][0], cases[i][1], -1, got, sizeof(got)));
            assert_string_equal(got, cases[i][2]);
        }
    }
}

/* Test_tracesamplerprocessor_HashSeedTraceState: hash_seed writes rv and th,
 * and the threshold passes the randomness. */
static void test_upstream_hash_tracestate(void **state)
{
    static const char *const cases[][2] = {
        {"100", "0"}, {"75", "4"}, {"50", "8"}, {"25", "c"}, {"10", "e668"},
        {"33.333333333333336", "aaac"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *opts[] = {"mode", "hash_seed", "sampling_percentage", cases[i][0], "hash_seed",
                              "4294967295", NULL};
        int found = 0;
        while (found < 10) {
            uint8_t tid[16];
            char hex[33], got[512], want_th[32];
            uint64_t rv, th;
            rng_tid(tid);
            for (int k = 0; k < 16; k++) {
                snprintf(hex + 2 * k, 3, "%02x", tid[k]);
            }
            if (!one_span(opts, hex, "", -1, got, sizeof(got))) {
                continue;
            }
            snprintf(want_th, sizeof(want_th), ";th:%s", cases[i][1]);
            assert_int_equal(strncmp(got, "ot=rv:", 6), 0);
            assert_string_equal(got + 20, want_th);
            rv = strtoull(got + 6, NULL, 16);
            th = strtoull(cases[i][1], NULL, 16) << (4 * (14 - strlen(cases[i][1])));
            assert_true(rv >= th);
            found++;
        }
    }
}

/* TestHashingFunction: 100 (seed, trace id) pairs at 50%. */
static void test_upstream_hashing_function(void **state)
{
    static const struct {
        unsigned seed;
        const char *tid;
        bool sampled;
    } v[] = {
        {653, "474a03c76d75951a4b4c537ced8f1122", true}, {563, "53a518291e91307e43cd8467bb06f986", true},
        {142, "a56a02f843b9bc6ee0b13889249e90e6", true}, {904, "4e40762d3ee97a1c0932e4fa584f89a8", false},
        {445, "5224507db93db513f0ea2a4b4e0578c8", true}, {38, "0c8717ced36216037af657e9d7f8b35b", true},
        {561, "2a8aa76c18d08e1e8be935541f9318c7", false}, {757, "9e3d0f9481dc422cb613ea550897ae71", false},
        {22, "66a66c516ac22054673e5da5e6492545", false}, {172, "84a1ce7bcea3e66194e72b4aa2694e31", true},
        {552, "a811a7def34ca4b98d8e320afd115fad", false}, {546, "e3a345cc8dbb6f014bfa1edad3981820", true},
        {315, "a71effb50e28d27cbdc9892f3765b8c2", false}, {510, "55ee665a3fa22f8ea1b744ce15a7339d", false},
        {230, "7a5006be4d0ce7b542d59f83cd6f1c41", false}, {544, "825b8fb9cfd45867794f4cd8a5a699bd", false},
        {790, "7629ecbea89398bfd9752a2f51c2c137", true}, {555, "de6cdfb44d69e211f886c57120d7bda0", true},
        {147, "a8a5c3bb9205883fae17ead6675b2450", false}, {238, "937e6cb3332dbe87062fa3997f48f425", false},
        {122, "5a357e150995e005847816c431ba502d", false}, {963, "20cb3dcebe2cf8abe6102f4a2e548245", false},
        {141, "1b0afbd09abaaf7996cd26f8f6533795", false}, {666, "3ee60b013303bcfda06be89071b90bd1", true},
        {305, "c90c7cf3471bbc3a804a8a831633705b", true}, {270, "18dda74dfca45a7b0261510f385fb4de", true},
        {381, "600cf70c7bb4918e54aefd78c84f3996", true}, {35, "855f493c5b5b1e2fcbc9993f8061eac8", false},
        {839, "89bc498feb21d969cf0eabf916aa621a", false}, {561, "0a0af00f63e098a39883705a423b0aa8", true},
        {667, "0c38553d71f54dfc37155c22cc8bf243", false}, {603, "49493809d1a49ea879e6aba37afde958", true},
        {92, "eb60d98b8f8fe22d8970f44f0e2b6bad", true}, {70, "19c386ee7a9f2d56ff9ab2e6374540af", false},
        {567, "2a033c15405f1c7a311f653719ed47b7", false}, {936, "62dda24e4be24f5198e4d8dd4010c811", true},
        {210, "bb134e26ee92e282e29cabdb1d00d333", true}, {835, "6c77db08bbded7bdd5c99c6e2fea41d2", false},
        {864, "99f6a7e7b50845b4fb64b7c2ee49f53c", true}, {775, "e908cb91224bee8fd4b5f3632f65717f", true},
        {687, "45a5ace7234d92d9983b4f3858bc0b8e", false}, {761, "8c8a25d232fd4d3a37a5f70ccb82d752", false},
        {400, "54156d7434a894ef07f2a80dbf0f1138", true}, {741, "67e3bfb02b0526dbb79420468d7b83dd", false},
        {871, "f6ea221283dcb42f89bfb15fa33398d2", false}, {244, "b663ca45004decf8123a19fb5d7f7115", true},
        {885, "d0e299d54d6dc6469276fd4e48301d73", true}, {607, "03240c2748aa67a185909a9345d84aba", false},
        {434, "b00de72ba67e6fe0ed661decac911f7e", true}, {889, "20fff68a7cc715b30e4e6d69d53e0f60", false},
        {810, "6bf2bb105e594f6220803da5253551af", false}, {494, "54fbb1d3ebe3883b0a01bbf2c9a2bf3e", true},
        {413, "a8a2ecba129d8537e360cf54de9d7460", false}, {215, "2df034262b775136f2a313fdcc09738a", true},
        {557, "e3c1b943d9c1199d1108a69aa32a4587", false}, {662, "1975d5f5640bac1064d53c2c21e02aae", false},
        {482, "6e4f16727dec3c09539b5f50d35d2c13", false}, {223, "63a088446ef0ed60a9cace4698ede026", false},
        {261, "9b662cd6f67a4e3d1f904b4c5d4275b1", true}, {112, "a2db788dbadc402b8c466b93b8749a6c", true},
        {6, "d6a68b47c66d1f94eed46b8ddc72faf4", false}, {575, "e8a83c42f4515568d0942ec4472c9d2c", true},
        {568, "030e14c2954e3f08134b355f33414ba9", false}, {965, "022315846d42a38322d6fd26250444b3", true},
        {512, "b3ba1ed226288dede87ac1f2ba88de2b", true}, {108, "c57d0dcf43d5b154ef04c7953c94cd12", true},
        {248, "a835fe521d9cbfcfb724b603f87c7403", false}, {46, "eda867e6df95e74abefac336c7f4cd1a", false},
        {879, "09e9e67a261ea3e00d817105b57ffd4e", false}, {853, "6a780cf250cb3d2b699394042e6723a8", false},
        {639, "4c99d7f14c66b3123caf57980f8e2a31", false}, {111, "79dc8d7a54bc3e8ef513b9cd8d830564", true},
        {135, "9c2e5d9d713e5219b0f9e5b884835e69", false}, {209, "3ccb300bf7b983229979e0c46db267b0", true},
        {629, "0bb7b9da64da250c3934bb39130dc990", true}, {910, "b25713ca4cea377871eaa334bc2dd382", true},
        {667, "69afc041003851cec60f41db97e005a9", true}, {449, "c844b5428abe0cf82eaf02566781870a", true},
        {16, "2533c732bed8c1ba4721c25a1205f06c", false}, {936, "ecc770b4be885dfc8d6fa135bc2c93bb", true},
        {595, "63b67cbb42de52e9916241ad94fcd5e8", true}, {83, "fc4998bc53ccd42a5b8e7c86a93d4c88", false},
        {878, "59f0677dffe1a0a8c5895cb263e3a019", false}, {206, "eb897eff9e7c7363e063b340a0c6b315", true},
        {710, "89e4c7e6af305be6cd139abcae953db5", true}, {650, "97563d45ee254231e1ace05fb746bcce", false},
        {233, "3f580864f295ff13f179c3c907032ea9", true}, {836, "e9b78e03706265a6936bff2a41530104", false},
        {568, "c458603ee921fa8711085c15b871b245", false}, {816, "4bbfffab5b5975c1b007ebc518bf416d", false},
        {397, "61a1a65746287d78a431c6848ed1ffb3", false}, {847, "53eee02f4672a72e93369b2c2ecf36eb", false},
        {354, "6ea23c3068a2c304488c8e67a072db97", false}, {961, "eed247645e510ded87bd9afcf1d3e237", false},
        {799, "092af4ff2fdea5bb1c708b2169bdfd95", false}, {99, "497f02db51c898ac441aae18a8b7ced9", false},
        {773, "988481445600bb91bbe23e3103034bcd", true}, {928, "f1813835ac0f456721ef3aac39c0269a", true},
        {235, "1999920085682c007eb3a6984d2a7f05", true}, {460, "60c3b9a2dde734d71ba5cca7eb164bce", true},
    };
    (void)state;
    assert_int_equal(sizeof(v) / sizeof(v[0]), 100);
    for (size_t i = 0; i < 100; i++) {
        char seed[16], got[512];
        const char *opts[] = {"sampling_percentage", "50", "hash_seed", seed, "fail_closed",
                              "false", NULL};
        snprintf(seed, sizeof(seed), "%u", v[i].seed);
        if (one_span(opts, v[i].tid, "", -1, got, sizeof(got)) != v[i].sampled) {
            fail_msg("seed %u trace id %s: want sampled=%d", v[i].seed, v[i].tid, v[i].sampled);
        }
    }
}

/* The arena the log cases build their attributes in; one_log turns it into
 * the batch and starts the next. */
static struct otc_arena lt_arena;

/* One log record; its attributes after the sampler, as "k=v;" text. */
static bool one_log(const char *const *opts, const char *tid_hex, otc_key_value **kvs, size_t n,
                    char *out, size_t cap)
{
    struct otc_instance ins;
    otc_logs_req *req;
    otc_log_record *lr;
    uint8_t tid[16] = {0};
    char err[256];
    bool kept;

    if (tid_hex) {
        hex_bytes(tid_hex, tid, 16);
    }
    req = pt_logs(&lt_arena, 1);
    lr = pt_log(&lt_arena, tid, 16, 0);
    lr->n_attributes = n;
    lr->attributes = n ? pt_attrs(&lt_arena, n, kvs) : NULL;
    req->resource_logs[0]->scope_logs[0]->log_records[0] = lr;
    if (pt_proc(&ins, OPS, opts, err, sizeof(err)) != OTC_OK) {
        fail_msg("config: %s", err);
    }
    assert_int_equal(pt_run(&ins, pt_batch(OTC_LOGS, &lt_arena, &req->base)), OTC_OK);
    otc_arena_init(&lt_arena, 1 << 12);
    kept = pt_captured.n == 1;
    out[0] = '\0';
    if (kept) {
        const otc_logs_req *r = (const otc_logs_req *)otc_batch_msg(pt_captured.b[0]);
        const otc_log_record *g = r->resource_logs[0]->scope_logs[0]->log_records[0];
        size_t o = 0;
        for (size_t i = 0; i < g->n_attributes; i++) {
            const otc_any_value *v = g->attributes[i]->value;
            if (v->value_case == PT_ANY(STRING_VALUE)) {
                o += (size_t)snprintf(out + o, cap - o, "%s=%s;", g->attributes[i]->key,
                                      v->string_value);
            } else if (v->value_case == PT_ANY(INT_VALUE)) {
                o += (size_t)snprintf(out + o, cap - o, "%s=%lld;", g->attributes[i]->key,
                                      (long long)v->int_value);
            } else {
                o += (size_t)snprintf(out + o, cap - o, "%s=%g;", g->attributes[i]->key,
                                      v->double_value);
            }
        }
    }
    pt_capture_reset();
    pt_proc_free(&ins);
    return kept;
}

/* randomnessFromBytes(b, seed).RValue(), from the reference hash. */
static void ref_rvalue(uint32_t seed, const void *b, size_t n, char out[15])
{
    uint32_t h = ref_hash(seed, b, n);
    uint64_t hashed = h & 0x3FFF, unused = h >> 18, mixed = unused ^ (unused << 10);
    uint64_t rnd = ((0x3FFFull - hashed) << 42) | (mixed << 14) | hashed;

    snprintf(out, 15, "%014llx", (unsigned long long)rnd);
}

/* TestLogsSamplingState */
static void test_upstream_logs_state(void **state)
{
    char got[512], want[512], rv[15];
    uint8_t tid[16];

    (void)state;
    /* 100 percent traceID, proportional */
    {
        const char *o[] = {"sampling_percentage", "100", "mode", "proportional", "fail_closed",
                           "false", "sampling_precision", "14", NULL};
        otc_key_value *kv[] = {pt_kv(&lt_arena, "ignored", pt_any_str(&lt_arena, "value"))};
        assert_true(one_log(o, DEF_TID, kv, 1, got, sizeof(got)));
        assert_string_equal(got, "ignored=value;sampling.threshold=0;");
    }
    /* 100 percent traceID hash_seed */
    {
        const char *o[] = {"sampling_percentage", "100", "mode", "hash_seed", "hash_seed", "22",
                           "fail_closed", "false", NULL};
        otc_key_value *kv[] = {pt_kv(&lt_arena, "K", pt_any_str(&lt_arena, "V"))};
        hex_bytes(DEF_TID, tid, 16);
        ref_rvalue(22, tid, 16, rv);
        assert_true(one_log(o, DEF_TID, kv, 1, got, sizeof(got)));
        snprintf(want, sizeof(want), "K=V;sampling.randomness=%s;sampling.threshold=0;", rv);
        assert_string_equal(got, want);
    }
    /* 100 percent attribute (mode unset, record source) */
    {
        const char *o[] = {"sampling_percentage", "100", "attribute_source", "record",
                           "from_attribute", "veryrandom", "hash_seed", "49", "fail_closed",
                           "false", NULL};
        otc_key_value *kv[] = {pt_kv(&lt_arena, "veryrandom", pt_any_str(&lt_arena, "1234"))};
        ref_rvalue(49, "1234", 4, rv);
        assert_true(one_log(o, NULL, kv, 1, got, sizeof(got)));
        snprintf(want, sizeof(want), "veryrandom=1234;sampling.randomness=%s;sampling.threshold=0;",
                 rv);
        assert_string_equal(got, want);
    }
    /* 0 percent traceID */
    {
        const char *o[] = {"sampling_percentage", "0", "fail_closed", "false", NULL};
        assert_false(one_log(o, DEF_TID, NULL, 0, got, sizeof(got)));
    }
    /* 10 percent priority sampled incoming randomness */
    {
        const char *o[] = {"sampling_percentage", "0", "sampling_priority", "veryrandom",
                           "sampling_precision", "6", "fail_closed", "false", NULL};
        otc_key_value *kv[] = {
            pt_kv(&lt_arena, "sampling.randomness", pt_any_str(&lt_arena, "e6147c00000000")),
            pt_kv(&lt_arena, "veryrandom", pt_any_double(&lt_arena, 10.125))};
        assert_true(one_log(o, DEF_TID, kv, 2, got, sizeof(got)));
        assert_string_equal(got, "sampling.randomness=e6147c00000000;veryrandom=10.125;"
                                 "sampling.threshold=e6147b;");
    }
    /* 25 percent incoming, proportional 50 */
    {
        const char *o[] = {"sampling_percentage", "50", "mode", "proportional", "fail_closed",
                           "false", "sampling_precision", "14", NULL};
        otc_key_value *kv[] = {pt_kv(&lt_arena, "sampling.threshold", pt_any_str(&lt_arena, "c"))};
        assert_true(one_log(o, "fefefefefefefefefef0000000000000", kv, 1, got, sizeof(got)));
        assert_string_equal(got, "sampling.threshold=e;");
    }
    /* 25 percent arriving inconsistent, equalizing, fail closed */
    {
        const char *o[] = {"sampling_percentage", "50", "mode", "equalizing", "fail_closed",
                           "true", NULL};
        otc_key_value *kv[] = {pt_kv(&lt_arena, "sampling.threshold", pt_any_str(&lt_arena, "c"))};
        assert_false(one_log(o, "fefefefefefefefefeb0000000000000", kv, 1, got, sizeof(got)));
    }
    /* 25 percent arriving equalizing, a priority that cannot raise it */
    {
        const char *o[] = {"sampling_percentage", "50", "mode", "equalizing", "sampling_priority",
                           "prio", "fail_closed", "false", "sampling_precision", "14", NULL};
        otc_key_value *kv[] = {pt_kv(&lt_arena, "sampling.threshold", pt_any_str(&lt_arena, "c")),
                               pt_kv(&lt_arena, "prio", pt_any_int(&lt_arena, 37))};
        assert_true(one_log(o, "fefefefefefefefefefefefefefefefe", kv, 2, got, sizeof(got)));
        assert_string_equal(got, "sampling.threshold=c;prio=37;");
    }
    /* hash_seed with spec randomness: kept (fail open), left alone */
    {
        const char *o[] = {"sampling_percentage", "100", "mode", "hash_seed", "fail_closed",
                           "false", NULL};
        otc_key_value *kv[] = {
            pt_kv(&lt_arena, "sampling.randomness", pt_any_str(&lt_arena, "f2341234123412"))};
        assert_true(one_log(o, DEF_TID, kv, 1, got, sizeof(got)));
        assert_string_equal(got, "sampling.randomness=f2341234123412;");
    }
}

/* TestLogsMissingRandomness: no trace id, an empty from_attribute value. */
static void test_upstream_logs_missing_randomness(void **state)
{
    static const char *const modes[] = {"hash_seed", "equalizing", "proportional"};
    static const struct {
        const char *pct, *source;
        bool fail_closed, sampled;
    } c[] = {
        {"0", "record", true, false},   {"50", "record", true, false},
        {"100", "record", true, false}, {"0", "record", false, false},
        {"50", "record", false, true},  {"100", "record", false, true},
        {"0", "traceID", true, false},  {"50", "traceID", true, false},
        {"100", "traceID", true, false}, {"0", "traceID", false, false},
        {"50", "traceID", false, true}, {"100", "traceID", false, true},
    };
    char got[512];

    (void)state;
    for (size_t m = 0; m < 3; m++) {
        for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
            const char *o[] = {"sampling_percentage", c[i].pct, "mode", modes[m], "hash_seed",
                               "4294967295", "fail_closed", c[i].fail_closed ? "true" : "false",
                               "attribute_source", c[i].source, "from_attribute", "unused", NULL};
            otc_key_value *kv[] = {pt_kv(&lt_arena, "unused", pt_any_str(&lt_arena, ""))};
            if (one_log(o, NULL, kv, 1, got, sizeof(got)) != c[i].sampled) {
                fail_msg("%s %s %s fail_closed=%d: want sampled=%d", modes[m], c[i].pct,
                         c[i].source, c[i].fail_closed, c[i].sampled);
            }
        }
    }
}

static void expect_config_error(const char *const *opts, const char *needle)
{
    struct otc_instance ins;
    char err[256];
    int rc = pt_proc(&ins, OPS, opts, err, sizeof(err));

    print_message("config %s=%s: %s\n", opts[0], opts[1], err);
    assert_int_not_equal(rc, OTC_OK);
    assert_non_null(strstr(err, needle));
    pt_proc_free(&ins);
}

static void test_config(void **state)
{
    const char *neg[] = {"sampling_percentage", "-1", NULL};
    const char *small[] = {"sampling_percentage", "1e-20", NULL};
    const char *huge[] = {"sampling_percentage", "1e39", NULL};
    const char *prec_big[] = {"sampling_precision", "15", NULL};
    const char *mode2[] = {"mode", "banana", NULL};
    const char *src[] = {"attribute_source", "span", NULL};
    const char *seed_neg[] = {"hash_seed", "-1", NULL};
    const char *seed_big[] = {"hash_seed", "4294967296", NULL};
    const char *prec[] = {"sampling_precision", "0", NULL};
    const char *ok[] = {"sampling_percentage", "250", "mode", "hash_seed", "hash_seed",
                        "4294967295", "fail_closed", "false", NULL};
    struct otc_instance ins;
    char err[256];
    struct pt_built bt;

    expect_config_error(neg, "negative");
    expect_config_error(small, "too small");
    expect_config_error(huge, "invalid");
    expect_config_error(prec_big, "should be <= 14");
    expect_config_error(mode2, "unsupported sampler mode");
    expect_config_error(src, "invalid attribute source");
    expect_config_error(seed_neg, ">= 0");
    expect_config_error(seed_big, "<= 4.29497e+09");
    expect_config_error(prec, "invalid sampling precision: 0");
    assert_int_equal(pt_proc(&ins, OPS, ok, err, sizeof(err)), OTC_OK);
    pt_proc_free(&ins);

    /* metrics are not sampled: the pipeline is refused at load time */
    pt_build(&bt, "sampler.yaml",
             "receivers:\n  otlp:\n    protocols:\n      grpc:\n"
             "processors:\n  probabilistic_sampler:\n    sampling_percentage: 10\n"
             "exporters:\n  nop:\n"
             "service:\n  pipelines:\n    metrics:\n      receivers: [otlp]\n"
             "      processors: [probabilistic_sampler]\n      exporters: [nop]\n");
    pt_print_diags(&bt.d);
    assert_int_not_equal(bt.rc, OTC_OK);
    assert_true(pt_diag_has(&bt.d, "sampler.yaml:", "probabilistic_sampler", "does not support metrics",
                            NULL));
    pt_built_free(&bt);
}

int main(void)
{
    otc_arena_init(&lt_arena, 1 << 12);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_fnv),
        cmocka_unit_test(test_decisions_match_reference),
        cmocka_unit_test(test_span_priority),
        cmocka_unit_test(test_fail_closed),
        cmocka_unit_test(test_logs),
        cmocka_unit_test(test_log_priority),
        cmocka_unit_test(test_logs_wire),
        cmocka_unit_test(test_batch_shapes),
        cmocka_unit_test(test_copy_on_write),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_upstream_tracestate),
        cmocka_unit_test(test_upstream_tracestate_errors),
        cmocka_unit_test(test_upstream_hash_tracestate),
        cmocka_unit_test(test_upstream_hashing_function),
        cmocka_unit_test(test_upstream_logs_state),
        cmocka_unit_test(test_upstream_logs_missing_randomness),
    };

    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    otc_arena_release(&lt_arena);
    return rc;
}
