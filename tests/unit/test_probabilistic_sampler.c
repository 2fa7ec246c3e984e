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

/* Log records with trace ids, decided from the bytes of an undecoded request:
 * the same decisions as otelcol's, and what is kept goes on undecoded, also
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

    /* 100%: the same batch object, bytes still fresh (zero-copy) */
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
    assert_true(b->raw_fresh);
    assert_int_equal(b->items, 10);
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
            /* dropped on the wire: still undecoded, the kept spans as they arrived */
            assert_false(atomic_load(&pt_captured.b[0]->decoded));
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
    const char *mode[] = {"mode", "proportional", NULL};
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
    expect_config_error(mode, "not supported");
    expect_config_error(mode2, "unsupported sampler mode");
    expect_config_error(src, "invalid attribute source");
    expect_config_error(seed_neg, ">= 0");
    expect_config_error(seed_big, "<= 4.29497e+09");
    expect_config_error(prec, ">= 1");
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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
