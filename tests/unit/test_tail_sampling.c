/* test_tail_sampling.c - the tail_sampling processor: each policy, how their
 * decisions combine, the decision caches and late spans, eviction by trace
 * count and by bytes, decision_wait_after_root_received, shutdown, the output's
 * grouping by resource and scope, and configuration errors. The probabilistic
 * policy is checked against values computed outside otelc (see
 * prob_threshold_vectors). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdatomic.h>

#include "proc_test_util.h"

#include "core/instance.h"
#include "processor/tail_sampling/tail_sampling.h"
#include "processor/tail_sampling/tail_sampling_policy.h"

#define SEC 1000000000ull

static const struct otc_component_ops *ops = &otc_processor_tail_sampling_ops;

/* ------------------------------------------------------------ instances */

struct ts_inst {
    struct otc_instance ins;
    struct otc_yaml     y;
    struct otc_diag     d;
};

/* Configure from YAML (the component's own mapping); rc of configure + init.
 * One shard unless the text sets shards, so that "the oldest trace" and "one
 * outgoing request" are the processor's, not a shard's. */
static int ts_make(struct ts_inst *t, const char *yaml)
{
    char text[4096];
    int rc;

    memset(t, 0, sizeof(*t));
    pt_capture_reset();
    snprintf(text, sizeof(text), "%s%s", strstr(yaml, "shards:") ? "" : "shards: 1\n", yaml);
    yaml = text;
    rc = otc_yaml_load_string(&t->y, "test.yaml", yaml, strlen(yaml), &t->d);
    if (rc == OTC_OK) {
        rc = otc_instance_configure(&t->ins, ops, "tail_sampling", &t->y, otc_yaml_root(&t->y), NULL, NULL, &t->d);
    }
    if (rc == OTC_OK) {
        t->ins.next.ins = &pt_capture_ins;
        rc = ops->init(&t->ins, t->ins.ctx);
    }
    return rc;
}

static void ts_free(struct ts_inst *t)
{
    otc_instance_release(&t->ins);
    otc_yaml_free(&t->y);
    otc_diag_free(&t->d);
    pt_capture_reset();
}

static struct otc_instance *ts_new(struct ts_inst *t, const char *yaml)
{
    int rc = ts_make(t, yaml);

    if (rc != OTC_OK) {
        pt_print_diags(&t->d);
    }
    assert_int_equal(rc, OTC_OK);
    return &t->ins;
}

static int64_t metric(struct otc_instance *ins, const char *name)
{
    for (struct otc_metric *m = ins->counters.metrics; m; m = m->next) {
        if (!strcmp(m->name, name)) {
            return (int64_t)m->value;
        }
    }
    fail_msg("no metric %s", name);
    return -1;
}

/* ------------------------------------------------------------ requests */

/* One span: trace number (the id's first byte), resource number, and what the
 * policies look at. */
struct sp {
    uint8_t     trace;
    unsigned    res;
    const char *skey, *sval;      /* string attribute */
    const char *ikey;             /* int attribute */
    const char *bkey;             /* bool attribute, value bval */
    bool        bval;
    int64_t     ival;
    int         status;           /* 0 unset, 1 ok, 2 error */
    uint64_t    dur_ms;
    bool        child;            /* has a parent span id */
    const char *tracestate;
    uint32_t    flags;            /* span flags (W3C trace flags in the low byte) */
    const char *res_skey, *res_sval; /* a resource attribute */
    const char *event;            /* a span event of this name */
};

static void tid_of(uint8_t trace, uint8_t out[16])
{
    for (int i = 0; i < 16; i++) {
        out[i] = (uint8_t)(0xa0 + i);
    }
    out[0] = trace;
}

static atomic_uint_fast64_t span_seq; /* the feeder threads share it */

static struct otc_batch *req_of(const struct sp *s, size_t n)
{
    struct otc_arena a;
    otc_traces_req *req;

    otc_arena_init(&a, 1 << 14);
    req = pt_alloc(&a, sizeof(*req));
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
    req->resource_spans = pt_alloc(&a, n * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        otc_resource_spans *rs = NULL;
        otc_scope_spans *ss;
        otc_span *sp;
        uint8_t tid[16];
        size_t na = 0;
        otc_key_value *kv[3];

        for (size_t r = 0; r < req->n_resource_spans; r++) {
            if (req->resource_spans[r]->schema_url &&
                atoi(req->resource_spans[r]->schema_url) == (int)s[i].res) {
                rs = req->resource_spans[r];
            }
        }
        if (!rs) {
            char nm[32];
            rs = pt_alloc(&a, sizeof(*rs));
            opentelemetry__proto__trace__v1__resource_spans__init(rs);
            snprintf(nm, sizeof(nm), "%u", s[i].res);
            rs->schema_url = pt_str(&a, nm); /* the resource number, for this builder */
            rs->resource = pt_resource(&a);
            snprintf(nm, sizeof(nm), "svc-%u", s[i].res);
            if (s[i].res_skey) {
                otc_key_value *rk[2] = {pt_kv(&a, "service.name", pt_any_str(&a, nm)),
                                        pt_kv(&a, s[i].res_skey, pt_any_str(&a, s[i].res_sval))};
                rs->resource->attributes = pt_attrs(&a, 2, rk);
                rs->resource->n_attributes = 2;
            } else {
                otc_key_value *rk[1] = {pt_kv(&a, "service.name", pt_any_str(&a, nm))};
                rs->resource->attributes = pt_attrs(&a, 1, rk);
                rs->resource->n_attributes = 1;
            }
            ss = pt_alloc(&a, sizeof(*ss));
            opentelemetry__proto__trace__v1__scope_spans__init(ss);
            ss->scope = pt_scope(&a);
            ss->spans = pt_alloc(&a, n * sizeof(void *));
            rs->scope_spans = pt_alloc(&a, sizeof(void *));
            rs->scope_spans[rs->n_scope_spans++] = ss;
            req->resource_spans[req->n_resource_spans++] = rs;
        }
        ss = rs->scope_spans[0];
        tid_of(s[i].trace, tid);
        sp = pt_span(&a, tid, 16, atomic_fetch_add(&span_seq, 1) + 1);
        sp->start_time_unix_nano = 1700000000000000000ull;
        sp->end_time_unix_nano = sp->start_time_unix_nano + s[i].dur_ms * 1000000ull + 1000;
        if (s[i].child) {
            static const uint8_t parent[8] = {1, 2, 3, 4, 5, 6, 7, 8};
            sp->parent_span_id.data = otc_arena_memdup(&a, parent, 8);
            sp->parent_span_id.len = 8;
        }
        if (s[i].status) {
            sp->status = pt_alloc(&a, sizeof(*sp->status));
            opentelemetry__proto__trace__v1__status__init(sp->status);
            sp->status->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)s[i].status;
        }
        if (s[i].skey) {
            kv[na++] = pt_kv(&a, s[i].skey, pt_any_str(&a, s[i].sval));
        }
        if (s[i].ikey) {
            kv[na++] = pt_kv(&a, s[i].ikey, pt_any_int(&a, s[i].ival));
        }
        if (s[i].bkey) {
            kv[na++] = pt_kv(&a, s[i].bkey, pt_any_bool(&a, s[i].bval));
        }
        if (na) {
            sp->attributes = pt_attrs(&a, na, kv);
            sp->n_attributes = na;
        }
        sp->flags = s[i].flags;
        if (s[i].event) {
            Opentelemetry__Proto__Trace__V1__Span__Event *ev = pt_alloc(&a, sizeof(*ev));
            opentelemetry__proto__trace__v1__span__event__init(ev);
            ev->name = pt_str(&a, s[i].event);
            sp->events = pt_alloc(&a, sizeof(*sp->events));
            sp->events[0] = ev;
            sp->n_events = 1;
        }
        if (s[i].tracestate) {
            sp->trace_state = pt_str(&a, s[i].tracestate);
        }
        ss->spans[ss->n_spans++] = sp;
    }
    return pt_batch(OTC_TRACES, &a, &req->base);
}

#define FEED(ins, ...)                                                                   \
    do {                                                                                 \
        const struct sp s_[] = {__VA_ARGS__};                                            \
        assert_int_equal(pt_run((ins), req_of(s_, sizeof(s_) / sizeof(s_[0]))), OTC_OK); \
    } while (0)

/* Spans forwarded so far for trace number tr (0 = every trace). */
static size_t fwd(uint8_t tr)
{
    size_t n = 0;

    for (size_t i = 0; i < pt_captured.n; i++) {
        const otc_traces_req *req = (const otc_traces_req *)otc_batch_msg(pt_captured.b[i]);
        for (size_t r = 0; r < req->n_resource_spans; r++) {
            for (size_t s = 0; s < req->resource_spans[r]->n_scope_spans; s++) {
                const otc_scope_spans *ss = req->resource_spans[r]->scope_spans[s];
                for (size_t k = 0; k < ss->n_spans; k++) {
                    n += tr == 0 || ss->spans[k]->trace_id.data[0] == tr;
                }
            }
        }
    }
    return n;
}

/* Fire the timer as if `after` ns had passed since now. */
static void tick(struct otc_instance *ins, uint64_t after)
{
    ops->timer(ins, ins->ctx, otc_now_ns() + after);
}

/* ------------------------------------------------------------ probabilistic */

/* Thresholds and FNV-1a hashes computed with Python's exact fractions (the
 * product MaxUint64 * pct/100 rounded to a 64-bit mantissa, nearest even, then
 * truncated, as Go's big.Float does) and a plain FNV-1a loop over the salt and
 * id bytes; see the commit that added this test. */
static void prob_threshold_vectors(void **state)
{
    (void)state;
    assert_true(ts_prob_threshold(0) == 0);
    assert_true(ts_prob_threshold(0.1) == 0x004189374bc6a7efull);
    assert_true(ts_prob_threshold(1) == 0x028f5c28f5c28f5full);
    assert_true(ts_prob_threshold(10) == 0x19999999999999ffull);
    assert_true(ts_prob_threshold(25) == 0x3fffffffffffffffull);
    assert_true(ts_prob_threshold(33.3) == 0x553f7ced91686fffull);
    assert_true(ts_prob_threshold(50) == 0x7fffffffffffffffull);
    assert_true(ts_prob_threshold(66.6) == 0xaa7ef9db22d0dfffull);
    assert_true(ts_prob_threshold(99.9) == 0xffbe76c8b4395fffull);
    assert_true(ts_prob_threshold(100) == UINT64_MAX);
    assert_true(ts_prob_threshold(150) == UINT64_MAX);
    assert_true(ts_prob_threshold(1e-300) == 0);
}

static const struct {
    const char *hex;
    uint64_t    h_default, h_salt;
} prob_ids[] = {
    {"5feceb66ffc86f38d952786c6d696c79", 0x96cc86384224d319ull, 0x52880071883aed32ull},
    {"6b86b273ff34fce19d6b804eff5a3f57", 0xea09ca722688ac26ull, 0xfc032b41645e818dull},
    {"d4735e3a265e16eee03f59718b9b5d03", 0x2eeb1bc0d4da7b29ull, 0xd81a61cfdb991f26ull},
    {"4e07408562bedb8b60ce05c1decfe3ad", 0x6f7ff336fb692e24ull, 0xf3fd6fcec96e6f23ull},
    {"4b227777d4dd1fc61c6f884f48641d02", 0x1258dfed7327b673ull, 0x73475c08f5de6ba8ull},
    {"ef2d127de37b942baad06145e54b0c61", 0x4d94847e290279f0ull, 0x1e1d81d22bde89c7ull},
};

static void hex16(const char *hex, uint8_t out[16])
{
    for (int i = 0; i < 16; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void prob_hash_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(prob_ids) / sizeof(prob_ids[0]); i++) {
        uint8_t id[16];
        hex16(prob_ids[i].hex, id);
        assert_true(ts_fnv1a64("default-hash-seed", 17, id) == prob_ids[i].h_default);
        assert_true(ts_fnv1a64("my-salt", 7, id) == prob_ids[i].h_salt);
    }
}

/* The processor keeps exactly the traces whose hash is within the threshold. */
static void prob_policy_decisions(void **state)
{
    static const char *const cfgs[] = {
        "decision_wait: 10s\npolicies: [{name: p, type: probabilistic, probabilistic: {sampling_percentage: 33.3}}]\n",
        "decision_wait: 10s\npolicies: [{name: p, type: probabilistic, probabilistic: {sampling_percentage: 50, hash_salt: my-salt}}]\n",
    };
    (void)state;
    for (int c = 0; c < 2; c++) {
        struct ts_inst t;
        struct otc_instance *ins = ts_new(&t, cfgs[c]);
        uint64_t thr = c == 0 ? 0x553f7ced91686fffull : 0x7fffffffffffffffull;
        size_t expect = 0, got = 0;
        for (size_t i = 0; i < sizeof(prob_ids) / sizeof(prob_ids[0]); i++) {
            struct otc_arena a;
            otc_traces_req *req;
            uint8_t id[16];
            otc_arena_init(&a, 4096);
            req = pt_traces(&a, 1);
            hex16(prob_ids[i].hex, id);
            req->resource_spans[0]->scope_spans[0]->spans[0] = pt_span(&a, id, 16, i);
            assert_int_equal(pt_run(ins, pt_batch(OTC_TRACES, &a, &req->base)), OTC_OK);
            expect += (c == 0 ? prob_ids[i].h_default : prob_ids[i].h_salt) <= thr;
        }
        tick(ins, 11 * SEC);
        got = fwd(0);
        assert_int_equal(got, expect);
        /* and they are the right ones */
        for (size_t b = 0; b < pt_captured.n; b++) {
            const otc_traces_req *req = (const otc_traces_req *)otc_batch_msg(pt_captured.b[b]);
            for (size_t r = 0; r < req->n_resource_spans; r++) {
                const otc_span *sp = req->resource_spans[r]->scope_spans[0]->spans[0];
                for (size_t i = 0; i < sizeof(prob_ids) / sizeof(prob_ids[0]); i++) {
                    uint8_t id[16];
                    hex16(prob_ids[i].hex, id);
                    if (!memcmp(id, sp->trace_id.data, 16)) {
                        assert_true((c == 0 ? prob_ids[i].h_default : prob_ids[i].h_salt) <= thr);
                    }
                }
            }
        }
        ts_free(&t);
    }
}

/* ------------------------------------------------------------ policies */

static void waits_for_decision_wait(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins =
        ts_new(&t, "decision_wait: 10s\npolicies: [{name: all, type: always_sample}]\n");

    (void)state;
    FEED(ins, {.trace = 1}, {.trace = 1, .child = true}, {.trace = 2});
    assert_int_equal(pt_captured.n, 0);
    assert_true(ins->timer_due_ns > otc_now_ns() + 9 * SEC);
    tick(ins, 5 * SEC);
    assert_int_equal(fwd(0), 0);
    FEED(ins, {.trace = 1, .child = true});
    tick(ins, 11 * SEC);
    assert_int_equal(fwd(1), 3);
    assert_int_equal(fwd(2), 1);
    assert_int_equal(pt_captured.n, 1); /* one request for everything due at once */
    assert_int_equal(metric(ins, "otelcol_processor_tail_sampling_new_trace_id_received"), 2);
    assert_int_equal(metric(ins, "otelcol_processor_tail_sampling_sampling_traces_on_memory"), 0);
    assert_int_equal(ins->timer_due_ns, 0);
    ts_free(&t);
}

static void status_code_policy(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins = ts_new(&t, "decision_wait: 1s\npolicies:\n"
                                          "  - name: errors\n    type: status_code\n"
                                          "    status_code: {status_codes: [ERROR]}\n");

    (void)state;
    FEED(ins, {.trace = 1, .status = 1}, {.trace = 1, .status = 2}, {.trace = 2, .status = 1},
         {.trace = 3});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 2);
    assert_int_equal(fwd(2), 0);
    assert_int_equal(fwd(3), 0);
    assert_int_equal(atomic_load(&ins->counters.dropped[OTC_TRACES]), 2);
    assert_int_equal(metric(ins, "otelc_processor_tail_sampling_traces_not_sampled"), 2);
    assert_int_equal(metric(ins, "otelcol_processor_tail_sampling_global_count_traces_sampled"), 1);
    ts_free(&t);
}

static void latency_policy(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins;

    (void)state;
    ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: slow, type: latency, latency: {threshold_ms: 500}}]\n");
    FEED(ins, {.trace = 1, .dur_ms = 499}, {.trace = 2, .dur_ms = 500}, {.trace = 3, .dur_ms = 10},
         {.trace = 3, .dur_ms = 900});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 0);
    assert_int_equal(fwd(2), 1);
    assert_int_equal(fwd(3), 2);
    ts_free(&t);

    ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: band, type: latency, "
                     "latency: {threshold_ms: 100, upper_threshold_ms: 200}}]\n");
    FEED(ins, {.trace = 1, .dur_ms = 100}, {.trace = 2, .dur_ms = 150}, {.trace = 3, .dur_ms = 201});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 0); /* the lower bound is exclusive with an upper one */
    assert_int_equal(fwd(2), 1);
    assert_int_equal(fwd(3), 0);
    ts_free(&t);
}

static void numeric_attribute_policy(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins;

    (void)state;
    ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: n, type: numeric_attribute, "
                     "numeric_attribute: {key: http.status_code, min_value: 500, max_value: 599}}]\n");
    FEED(ins, {.trace = 1, .ikey = "http.status_code", .ival = 503}, {.trace = 2, .ikey = "http.status_code", .ival = 404},
         {.trace = 3, .ikey = "other", .ival = 503}, {.trace = 4, .ikey = "http.status_code", .ival = 599});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 1);
    assert_int_equal(fwd(2), 0);
    assert_int_equal(fwd(3), 0);
    assert_int_equal(fwd(4), 1);
    ts_free(&t);

    /* invert_match: a match makes the trace not sampled, whatever else says */
    ins = ts_new(&t, "decision_wait: 1s\npolicies:\n"
                     "  - {name: n, type: numeric_attribute, numeric_attribute: {key: k, min_value: 1, max_value: 10, invert_match: true}}\n");
    FEED(ins, {.trace = 1, .ikey = "k", .ival = 5}, {.trace = 2, .ikey = "k", .ival = 50});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 0);
    assert_int_equal(fwd(2), 1);
    ts_free(&t);
}

static void string_attribute_policy(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins;

    (void)state;
    ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: s, type: string_attribute, "
                     "string_attribute: {key: route, values: [/checkout, /pay]}}]\n");
    FEED(ins, {.trace = 1, .skey = "route", .sval = "/pay"}, {.trace = 2, .skey = "route", .sval = "/payx"},
         {.trace = 3, .res = 1, .res_skey = "route", .res_sval = "/checkout"});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 1);
    assert_int_equal(fwd(2), 0);
    assert_int_equal(fwd(3), 1); /* resource attributes count too */
    ts_free(&t);

    ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: s, type: string_attribute, "
                     "string_attribute: {key: route, values: ['^/api/v[0-9]+/', 'health$'], enabled_regex_matching: true, cache_max_size: 10}}]\n");
    FEED(ins, {.trace = 1, .skey = "route", .sval = "/api/v2/users"}, {.trace = 2, .skey = "route", .sval = "/api/vx/"},
         {.trace = 3, .skey = "route", .sval = "/internal/health"}, {.trace = 4, .skey = "route", .sval = "x/api/v1/"});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 1);
    assert_int_equal(fwd(2), 0);
    assert_int_equal(fwd(3), 1);
    assert_int_equal(fwd(4), 0);
    ts_free(&t);

    /* invert_match with always_sample: a match still wins (InvertNotSampled first) */
    ins = ts_new(&t, "decision_wait: 1s\npolicies:\n  - {name: all, type: always_sample}\n"
                     "  - {name: s, type: string_attribute, string_attribute: {key: route, values: [/health], invert_match: true}}\n");
    FEED(ins, {.trace = 1, .skey = "route", .sval = "/health"}, {.trace = 2, .skey = "route", .sval = "/pay"});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 0);
    assert_int_equal(fwd(2), 1);
    ts_free(&t);
}

static void boolean_and_trace_state_and_span_count(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins;

    (void)state;
    ins = ts_new(&t, "decision_wait: 1s\npolicies:\n"
                     "  - {name: ts, type: trace_state, trace_state: {key: vendor, values: [keep]}}\n"
                     "  - {name: many, type: span_count, span_count: {min_spans: 3, max_spans: 4}}\n");
    FEED(ins, {.trace = 1, .tracestate = "other=1, vendor=keep"}, {.trace = 2, .tracestate = "vendor=drop"},
         {.trace = 3}, {.trace = 3}, {.trace = 3}, {.trace = 4}, {.trace = 4}, {.trace = 4}, {.trace = 4},
         {.trace = 4});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 1);
    assert_int_equal(fwd(2), 0);
    assert_int_equal(fwd(3), 3);
    assert_int_equal(fwd(4), 0);
    ts_free(&t);

    ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: f, type: trace_flags}]\n");
    FEED(ins, {.trace = 1, .flags = 0x101}, {.trace = 1}, {.trace = 2, .flags = 0x100});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 2);
    assert_int_equal(fwd(2), 0);
    ts_free(&t);

    ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: b, type: boolean_attribute, "
                     "boolean_attribute: {key: debug, value: true}}]\n");
    FEED(ins, {.trace = 1, .bkey = "debug", .bval = true}, {.trace = 2, .bkey = "debug", .bval = false},
         {.trace = 3});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 1);
    assert_int_equal(fwd(2), 0);
    assert_int_equal(fwd(3), 0);
    ts_free(&t);
}

static void rate_and_bytes_limiting(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins;

    (void)state;
    ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: r, type: rate_limiting, rate_limiting: {spans_per_second: 3}}]\n");
    FEED(ins, {.trace = 1}, {.trace = 1}, {.trace = 2}, {.trace = 2}, {.trace = 3});
    tick(ins, 2 * SEC);
    /* within one second: 2 spans fit, 2 more would make 4 > 3, then 1 more fits */
    assert_int_equal(fwd(1), 2);
    assert_int_equal(fwd(2), 0);
    assert_int_equal(fwd(3), 1);
    ts_free(&t);

    ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: b, type: bytes_limiting, "
                     "bytes_limiting: {bytes_per_second: 1, burst_capacity: 200}}]\n");
    FEED(ins, {.trace = 1}, {.trace = 2}, {.trace = 3}, {.trace = 4}, {.trace = 5}, {.trace = 6},
         {.trace = 7}, {.trace = 8});
    tick(ins, 2 * SEC);
    /* each span packs to about 60 bytes: a 200-byte bucket holds 3 */
    assert_int_equal(fwd(0), 3);
    ts_free(&t);
}

static void and_not_drop_composite(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins;

    (void)state;
    ins = ts_new(&t, "decision_wait: 1s\npolicies:\n"
                     "  - name: slow-errors\n    type: and\n    and:\n      and_sub_policy:\n"
                     "        - {name: e, type: status_code, status_code: {status_codes: [ERROR]}}\n"
                     "        - {name: l, type: latency, latency: {threshold_ms: 100}}\n");
    FEED(ins, {.trace = 1, .status = 2, .dur_ms = 200}, {.trace = 2, .status = 2}, {.trace = 3, .dur_ms = 300});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 1);
    assert_int_equal(fwd(2), 0);
    assert_int_equal(fwd(3), 0);
    ts_free(&t);

    ins = ts_new(&t, "decision_wait: 1s\npolicies:\n"
                     "  - {name: n, type: not, not: {not_sub_policy: {name: ok, type: status_code, status_code: {status_codes: [OK]}}}}\n");
    FEED(ins, {.trace = 1, .status = 1}, {.trace = 2, .status = 2});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 0);
    assert_int_equal(fwd(2), 1);
    ts_free(&t);

    /* drop wins over always_sample, wherever it is listed */
    ins = ts_new(&t, "decision_wait: 1s\npolicies:\n  - {name: all, type: always_sample}\n"
                     "  - name: no-health\n    type: drop\n    drop:\n      drop_sub_policy:\n"
                     "        - {name: h, type: string_attribute, string_attribute: {key: route, values: [/health]}}\n");
    FEED(ins, {.trace = 1, .skey = "route", .sval = "/health"}, {.trace = 2, .skey = "route", .sval = "/pay"});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 0);
    assert_int_equal(fwd(2), 1);
    assert_int_equal(metric(ins, "otelc_processor_tail_sampling_traces_dropped"), 1);
    ts_free(&t);

    /* composite: errors may use 50% of 4 spans/s = 2, the rest of the budget by order */
    ins = ts_new(&t, "decision_wait: 1s\npolicies:\n"
                     "  - name: c\n    type: composite\n    composite:\n"
                     "      max_total_spans_per_second: 4\n      policy_order: [errors, rest]\n"
                     "      composite_sub_policy:\n"
                     "        - {name: rest, type: always_sample}\n"
                     "        - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"
                     "      rate_allocation:\n        - {policy: errors, percent: 50}\n");
    FEED(ins, {.trace = 1, .status = 2}, {.trace = 2, .status = 2}, {.trace = 3, .status = 2},
         {.trace = 4}, {.trace = 5});
    tick(ins, 2 * SEC);
    /* 1, 2 by errors (2 of 2); 3 by rest (total 3); 4 by rest (total 4); 5 over the total */
    assert_int_equal(fwd(0), 4);
    assert_int_equal(fwd(3), 1);
    assert_int_equal(fwd(5), 0);
    ts_free(&t);
}

static void sample_on_first_match_and_inverted(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins;

    (void)state;
    /* first_match stops at always_sample, so the inverted match after it is not seen */
    ins = ts_new(&t, "decision_wait: 1s\nsample_on_first_match: true\npolicies:\n  - {name: all, type: always_sample}\n"
                     "  - {name: s, type: string_attribute, string_attribute: {key: route, values: [/health], invert_match: true}}\n");
    FEED(ins, {.trace = 1, .skey = "route", .sval = "/health"});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 1);
    ts_free(&t);

    /* InvertSampled alone samples; with a NotSampled beside it, it does not */
    ins = ts_new(&t, "decision_wait: 1s\npolicies:\n"
                     "  - {name: s, type: string_attribute, string_attribute: {key: route, values: [/health], invert_match: true}}\n"
                     "  - {name: e, type: status_code, status_code: {status_codes: [ERROR]}}\n");
    FEED(ins, {.trace = 1, .skey = "route", .sval = "/pay"}, {.trace = 2, .skey = "route", .sval = "/pay", .status = 2});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 0);
    assert_int_equal(fwd(2), 1);
    ts_free(&t);

    ins = ts_new(&t, "decision_wait: 1s\npolicies:\n"
                     "  - {name: s, type: string_attribute, string_attribute: {key: route, values: [/health], invert_match: true}}\n");
    FEED(ins, {.trace = 1, .skey = "route", .sval = "/pay"});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 1);
    ts_free(&t);
}

/* ------------------------------------------------------------ state */

static void late_spans_follow_cached_decision(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins = ts_new(&t, "decision_wait: 1s\n"
                                          "decision_cache: {sampled_cache_size: 100, non_sampled_cache_size: 100}\n"
                                          "policies: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]\n");

    (void)state;
    FEED(ins, {.trace = 1, .status = 2}, {.trace = 2});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 1);
    pt_capture_reset();
    /* late spans: trace 1's go straight on, trace 2's are dropped, nothing is held */
    FEED(ins, {.trace = 1, .child = true}, {.trace = 1, .child = true}, {.trace = 2, .status = 2});
    assert_int_equal(fwd(1), 2);
    assert_int_equal(fwd(2), 0);
    assert_int_equal(metric(ins, "otelcol_processor_tail_sampling_sampling_traces_on_memory"), 0);
    assert_int_equal(metric(ins, "otelcol_processor_tail_sampling_early_releases_from_cache_decision"), 3);
    assert_int_equal(ins->timer_due_ns, 0);
    ts_free(&t);

    /* without caches a late span starts a new trace */
    ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]\n");
    FEED(ins, {.trace = 1, .status = 2});
    tick(ins, 2 * SEC);
    FEED(ins, {.trace = 1, .child = true});
    assert_int_equal(metric(ins, "otelcol_processor_tail_sampling_sampling_traces_on_memory"), 1);
    ts_free(&t);
}

static void num_traces_evicts_oldest_decided(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins =
        ts_new(&t, "decision_wait: 10s\nnum_traces: 2\npolicies: [{name: all, type: always_sample}]\n");

    (void)state;
    FEED(ins, {.trace = 1}, {.trace = 1});
    FEED(ins, {.trace = 2});
    assert_int_equal(pt_captured.n, 0);
    FEED(ins, {.trace = 3});
    /* trace 1 (the oldest) was decided early, whole, not lost */
    assert_int_equal(fwd(1), 2);
    assert_int_equal(fwd(2), 0);
    assert_int_equal(metric(ins, "otelc_processor_tail_sampling_traces_evicted"), 1);
    assert_int_equal(metric(ins, "otelcol_processor_tail_sampling_sampling_traces_on_memory"), 2);
    /* several new traces in one request */
    FEED(ins, {.trace = 4}, {.trace = 5}, {.trace = 6});
    assert_int_equal(metric(ins, "otelc_processor_tail_sampling_traces_evicted"), 4);
    tick(ins, 11 * SEC);
    assert_int_equal(fwd(0), 7);
    ts_free(&t);
}

static void memory_bound_evicts(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins = ts_new(&t, "decision_wait: 10s\nmaximum_memory_bytes: 2k\n"
                                          "policies: [{name: all, type: always_sample}]\n");
    size_t held;

    (void)state;
    for (uint8_t i = 1; i <= 20; i++) {
        FEED(ins, {.trace = i}, {.trace = i, .child = true});
        held = (size_t)metric(ins, "otelc_processor_tail_sampling_memory_bytes");
        assert_true(held <= 2048);
        assert_true(held > 0);
    }
    assert_true(metric(ins, "otelc_processor_tail_sampling_traces_evicted") > 0);
    /* every evicted trace went on whole */
    for (uint8_t i = 1; i <= 20; i++) {
        size_t n = fwd(i);
        assert_true(n == 0 || n == 2);
    }
    tick(ins, 11 * SEC);
    assert_int_equal(fwd(0), 40);
    assert_int_equal(metric(ins, "otelc_processor_tail_sampling_memory_bytes"), 0);
    ts_free(&t);
}

static void oversize_trace_not_sampled(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins = ts_new(&t, "decision_wait: 10s\nmaximum_trace_size_bytes: 150\n"
                                          "decision_cache: {non_sampled_cache_size: 10}\n"
                                          "policies: [{name: all, type: always_sample}]\n");

    (void)state;
    FEED(ins, {.trace = 1}, {.trace = 1}, {.trace = 1}, {.trace = 1}, {.trace = 2});
    assert_int_equal(metric(ins, "otelc_processor_tail_sampling_traces_oversize"), 1);
    FEED(ins, {.trace = 1});
    tick(ins, 11 * SEC);
    assert_int_equal(fwd(1), 0);
    assert_int_equal(fwd(2), 1);
    assert_int_equal(atomic_load(&ins->counters.dropped[OTC_TRACES]), 5);
    ts_free(&t);
}

static void root_span_shortens_wait(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins = ts_new(&t, "decision_wait: 30s\ndecision_wait_after_root_received: 2s\n"
                                          "policies: [{name: all, type: always_sample}]\n");

    (void)state;
    FEED(ins, {.trace = 1, .child = true}, {.trace = 2, .child = true});
    FEED(ins, {.trace = 1});
    assert_true(ins->timer_due_ns < otc_now_ns() + 3 * SEC);
    tick(ins, 3 * SEC);
    assert_int_equal(fwd(1), 2);
    assert_int_equal(fwd(2), 0);
    tick(ins, 31 * SEC);
    assert_int_equal(fwd(2), 1);
    ts_free(&t);
}

static void shutdown_decides_or_drops(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins = ts_new(&t, "policies: [{name: all, type: always_sample}]\n");

    (void)state;
    FEED(ins, {.trace = 1}, {.trace = 2});
    ops->flush(ins, ins->ctx);
    assert_int_equal(fwd(0), 2);
    ts_free(&t);

    ins = ts_new(&t, "drop_pending_traces_on_shutdown: true\npolicies: [{name: all, type: always_sample}]\n");
    FEED(ins, {.trace = 1}, {.trace = 2}, {.trace = 2});
    ops->flush(ins, ins->ctx);
    assert_int_equal(fwd(0), 0);
    assert_int_equal(atomic_load(&ins->counters.dropped[OTC_TRACES]), 3);
    ts_free(&t);

    /* destroy with traces held frees them (ASan checks) */
    ins = ts_new(&t, "policies: [{name: all, type: always_sample}]\n");
    FEED(ins, {.trace = 1}, {.trace = 2});
    ts_free(&t);
}

static void output_grouped_by_resource(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: all, type: always_sample}]\n");
    const otc_traces_req *req;

    (void)state;
    FEED(ins, {.trace = 1, .res = 1}, {.trace = 2, .res = 2}, {.trace = 1, .res = 2});
    FEED(ins, {.trace = 1, .res = 1});
    tick(ins, 2 * SEC);
    assert_int_equal(pt_captured.n, 1);
    req = (const otc_traces_req *)otc_batch_msg(pt_captured.b[0]);
    /* resources of different requests are different containers (as otelcol keeps them) */
    assert_int_equal(req->n_resource_spans, 3);
    assert_int_equal(pt_captured.b[0]->items, 4);
    for (size_t r = 0; r < req->n_resource_spans; r++) {
        assert_int_equal(req->resource_spans[r]->n_scope_spans, 1);
        assert_non_null(req->resource_spans[r]->resource);
    }
    /* the request encodes and decodes as valid OTLP */
    {
        const uint8_t *data;
        size_t len;
        otc_traces_req *back;
        assert_int_equal(otc_batch_bytes(pt_captured.b[0], &data, &len), OTC_OK);
        back = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len, data);
        assert_non_null(back);
        assert_int_equal(otc_request_count_items(OTC_TRACES, &back->base), 4);
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(back, NULL);
    }
    ts_free(&t);
}

/* Many sampled spans decided at once go out as several requests of bounded size. */
static void large_decision_split(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: all, type: always_sample}]\n");
    size_t total = 0;

    (void)state;
    for (int r = 0; r < 12; r++) {
        struct otc_arena a;
        otc_traces_req *req;
        otc_arena_init(&a, 1 << 16);
        req = pt_traces(&a, 1000);
        for (size_t i = 0; i < 1000; i++) {
            uint8_t tid[16];
            otc_span *sp;
            tid_of((uint8_t)(i % 200), tid);
            tid[1] = (uint8_t)r;
            sp = pt_span(&a, tid, 16, i);
            sp->name = pt_str(&a, "a-span-name-long-enough-to-make-the-request-big-0123456789");
            req->resource_spans[0]->scope_spans[0]->spans[i] = sp;
        }
        assert_int_equal(pt_run(ins, pt_batch(OTC_TRACES, &a, &req->base)), OTC_OK);
    }
    tick(ins, 2 * SEC);
    assert_true(pt_captured.n > 1);
    for (size_t i = 0; i < pt_captured.n; i++) {
        assert_true(pt_captured.b[i]->raw_len < 1024 * 1024);
        total += otc_request_count_items(OTC_TRACES, otc_batch_msg(pt_captured.b[i]));
    }
    assert_int_equal(total, 12000);
    assert_int_equal(metric(ins, "otelc_processor_tail_sampling_memory_bytes"), 0);
    ts_free(&t);
}

/* A request an earlier stage rewrote is read as rewritten, not as received. */
static void reads_rewritten_request(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins = ts_new(&t, "decision_wait: 1s\npolicies: [{name: e, type: status_code, "
                                          "status_code: {status_codes: [ERROR]}}]\n");
    const struct sp s[] = {{.trace = 1}, {.trace = 2}};
    struct otc_batch *b = req_of(s, 2);
    otc_traces_req *req;
    otc_span *sp;

    (void)state;
    req = (otc_traces_req *)otc_batch_msg_mut(b);
    sp = req->resource_spans[0]->scope_spans[0]->spans[1];
    sp->status = calloc(1, sizeof(*sp->status)); /* freed below: the arena does not own it */
    opentelemetry__proto__trace__v1__status__init(sp->status);
    sp->status->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    assert_false(otc_batch_bytes_fresh(b));
    assert_int_equal(pt_run(ins, otc_batch_ref(b)), OTC_OK);
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 0);
    assert_int_equal(fwd(2), 1);
    free(sp->status);
    sp->status = NULL;
    otc_batch_unref(b);
    ts_free(&t);
}

static void block_on_overflow_refuses(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins = ts_new(&t, "num_traces: 2\nblock_on_overflow: true\n"
                                          "policies: [{name: all, type: always_sample}]\n");

    (void)state;
    assert_true(ops->admit(ins, ins->ctx, 100));
    FEED(ins, {.trace = 1}, {.trace = 2});
    assert_false(ops->admit(ins, ins->ctx, 100));
    ops->flush(ins, ins->ctx);
    assert_true(ops->admit(ins, ins->ctx, 100));
    ts_free(&t);
}

/* ------------------------------------------------------------ config */

/* ottl_condition: a trace is sampled when a condition is true for any of its
 * spans (span context, resource and scope paths included) or span events;
 * with error_mode ignore a condition that fails counts as false. */
static void ottl_condition_policy(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins;

    (void)state;
    ins = ts_new(&t, "decision_wait: 1s\npolicies:\n  - name: o\n    type: ottl_condition\n"
                     "    ottl_condition:\n      error_mode: ignore\n      span:\n"
                     "        - 'Len(attributes[\"flag\"]) > 100'\n"
                     "        - 'attributes[\"route\"] == \"/pay\" and kind == SPAN_KIND_UNSPECIFIED'\n"
                     "        - 'resource.attributes[\"env\"] == \"prod\"'\n"
                     "      spanevent:\n        - 'name == \"exception\"'\n");
    FEED(ins, {.trace = 1, .skey = "route", .sval = "/pay"}, {.trace = 1, .skey = "route", .sval = "/x", .child = true},
         {.trace = 2, .skey = "route", .sval = "/payx"},
         {.trace = 3, .res = 1, .res_skey = "env", .res_sval = "prod"},
         {.trace = 4, .res = 2, .res_skey = "env", .res_sval = "dev", .event = "exception"},
         {.trace = 5, .event = "retry", .bkey = "flag", .bval = true});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 2); /* one span matched: the whole trace */
    assert_int_equal(fwd(2), 0);
    assert_int_equal(fwd(3), 1); /* a resource path in the span context */
    assert_int_equal(fwd(4), 1); /* a span event */
    assert_int_equal(fwd(5), 0); /* Len of a bool fails: ignored, false */
    ts_free(&t);

    /* propagate (the default): the failing condition ends the look at that span */
    ins = ts_new(&t, "decision_wait: 1s\npolicies:\n  - {name: o, type: ottl_condition, ottl_condition: "
                     "{span: ['Len(attributes[\"flag\"]) > 100', 'name == \"pt-span\"']}}\n");
    FEED(ins, {.trace = 1, .bkey = "flag", .bval = true}, {.trace = 2, .skey = "flag", .sval = "x"});
    tick(ins, 2 * SEC);
    assert_int_equal(fwd(1), 0);
    assert_int_equal(fwd(2), 1);
    ts_free(&t);
}

static void expect_error(const char *yaml, const char *a, const char *b)
{
    struct ts_inst t;

    assert_int_not_equal(ts_make(&t, yaml), OTC_OK);
    if (!pt_diag_has(&t.d, a, b, NULL)) {
        pt_print_diags(&t.d);
        fail_msg("no diagnostic with \"%s\" and \"%s\"", a, b);
    }
    ts_free(&t);
}

static void config_errors(void **state)
{
    (void)state;
    expect_error("policies: [{name: x, type: sometimes}]\n", "unknown policy type", "\"sometimes\"");
    expect_error("decision_wait: 1s\n", "policies", "at least one policy");
    expect_error("policies: [{name: r, type: string_attribute, string_attribute: {key: k, values: ['a(b'], "
                 "enabled_regex_matching: true}}]\n",
                 "invalid regular expression", "a(b");
    expect_error("policies: [{name: a, type: always_sample}, {name: a, type: always_sample}]\n",
                 "duplicate policy name", "\"a\"");
    expect_error("policies: [{name: a, type: latency, latency: {treshold_ms: 5}}]\n", "unknown key", "treshold_ms");
    expect_error("policies: [{name: a, type: status_code, status_code: {status_codes: [FAIL]}}]\n",
                 "unknown status code", "FAIL");
    expect_error("policies: [{name: a, type: and, and: {and_sub_policy: [{name: b, type: nope}]}}]\n",
                 "and_sub_policy[0]", "unknown policy type \"nope\"");
    expect_error("policies: [{type: always_sample}]\n", "policies[0]", "needs a name");
    expect_error("policies: [{name: c, type: composite, composite: {max_total_spans_per_second: 10, "
                 "policy_order: [zz], composite_sub_policy: [{name: a, type: always_sample}]}}]\n",
                 "policy_order", "\"zz\"");
    expect_error("policies: [{name: o, type: ottl_condition, ottl_condition: {span: ['x']}}]\n",
                 "ottl_condition.span[0]", "");
    expect_error("policies: [{name: o, type: ottl_condition, ottl_condition: {error_mode: ignore}}]\n",
                 "policies[0] \"o\"", "expected at least one OTTL condition");
    expect_error("policies: [{name: o, type: ottl_condition, ottl_condition: {error_mode: loud, span: ['true']}}]\n",
                 "ottl_condition.error_mode", "\"loud\"");
    expect_error("policies: [{name: o, type: ottl_condition, ottl_condition: {spans: ['true']}}]\n",
                 "unknown key", "spans");
    expect_error("decision_cache: {sampled_cache_size: 1__0}\npolicies: [{name: a, type: always_sample}]\n",
                 "sampled_cache_size", "");
    expect_error("num_traces: 0\npolicies: [{name: a, type: always_sample}]\n", "num_traces", "");
}

static void config_defaults(void **state)
{
    struct ts_inst t;
    char buf[64];

    (void)state;
    ts_new(&t, "policies: [{name: a, type: always_sample}]\n");
    /* decision_wait 30s: the timer is armed 30 s after the first span */
    FEED(&t.ins, {.trace = 1});
    assert_true(t.ins.timer_due_ns > otc_now_ns() + 29 * SEC);
    assert_true(t.ins.timer_due_ns <= otc_now_ns() + 30 * SEC);
    snprintf(buf, sizeof(buf), "%s", otc_config_map_find(ops->config_map, "num_traces")->def);
    assert_string_equal(buf, "50000");
    ts_free(&t);

    /* the digit separators of the contrib README's example */
    ts_new(&t, "decision_cache: {sampled_cache_size: 100_000, non_sampled_cache_size: 100_000}\n"
               "policies: [{name: a, type: always_sample}]\n");
    ts_free(&t);
}

/* ------------------------------------------------------------ threads */

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t counted_spans;
static size_t counted_traces[256];

static int count_consume(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    const otc_traces_req *req = (const otc_traces_req *)otc_batch_msg(b);

    (void)ins;
    (void)ctx;
    pthread_mutex_lock(&count_lock);
    for (size_t r = 0; req && r < req->n_resource_spans; r++) {
        for (size_t s = 0; s < req->resource_spans[r]->n_scope_spans; s++) {
            const otc_scope_spans *ss = req->resource_spans[r]->scope_spans[s];
            for (size_t k = 0; k < ss->n_spans; k++) {
                counted_spans++;
                counted_traces[ss->spans[k]->trace_id.data[0]]++;
            }
        }
    }
    pthread_mutex_unlock(&count_lock);
    otc_batch_unref(b);
    return OTC_OK;
}

static const struct otc_component_ops count_ops = {
    .type = "count", .kind = OTC_PROCESSOR, .signals = OTC_SIG_ALL, .consume = count_consume,
};
static struct otc_instance count_ins = {.ops = &count_ops, .id = "count"};

struct feeder {
    struct otc_instance *ins;
    uint8_t              first; /* trace numbers first .. first + 63 */
};

static void *feed_thread(void *arg)
{
    struct feeder *f = arg;

    for (int round = 0; round < 20; round++) {
        struct sp s[64];
        memset(s, 0, sizeof(s));
        for (int i = 0; i < 64; i++) {
            s[i].trace = (uint8_t)(f->first + i);
            s[i].res = (unsigned)(round % 3);
            s[i].child = round > 0;
        }
        ops->consume(f->ins, f->ins->ctx, req_of(s, 64));
    }
    return NULL;
}

static atomic_bool ticking;

static void *tick_thread(void *arg)
{
    struct otc_instance *ins = arg;

    while (atomic_load(&ticking)) {
        ops->timer(ins, ins->ctx, otc_now_ns());
    }
    return NULL;
}

/* Two workers consume at once while a third runs the timer (decision_wait 0:
 * traces are decided while spans of them still arrive, as late spans in the
 * sampled cache): every span comes out once, whatever the interleaving. */
static void concurrent_workers(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins = ts_new(&t, "shards: 4\ndecision_wait: 0s\n"
                                          "decision_cache: {sampled_cache_size: 1000}\n"
                                          "policies: [{name: all, type: always_sample}]\n");
    struct feeder f[2] = {{ins, 0}, {ins, 128}};
    pthread_t th[3];

    (void)state;
    ins->next.ins = &count_ins;
    counted_spans = 0;
    memset(counted_traces, 0, sizeof(counted_traces));
    atomic_store(&ticking, true);
    assert_int_equal(pthread_create(&th[2], NULL, tick_thread, ins), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, feed_thread, &f[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    atomic_store(&ticking, false);
    pthread_join(th[2], NULL);
    ops->flush(ins, ins->ctx);
    assert_int_equal(counted_spans, 2 * 20 * 64);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(counted_traces[i], 20);
        assert_int_equal(counted_traces[128 + i], 20);
    }
    assert_int_equal(metric(ins, "otelcol_processor_tail_sampling_sampling_traces_on_memory"), 0);
    assert_int_equal(metric(ins, "otelc_processor_tail_sampling_memory_bytes"), 0);
    ts_free(&t);
}

/* Traces spread over shards still give every span out once, and num_traces
 * bounds them all together. */
static void sharded_bounds(void **state)
{
    struct ts_inst t;
    struct otc_instance *ins = ts_new(&t, "shards: 8\ndecision_wait: 10s\nnum_traces: 16\n"
                                          "policies: [{name: all, type: always_sample}]\n");

    (void)state;
    for (int r = 0; r < 4; r++) {
        struct sp s[50];
        memset(s, 0, sizeof(s));
        for (int i = 0; i < 50; i++) {
            s[i].trace = (uint8_t)(r * 50 + i);
        }
        assert_int_equal(pt_run(ins, req_of(s, 50)), OTC_OK);
        assert_true(metric(ins, "otelcol_processor_tail_sampling_sampling_traces_on_memory") <= 16 + 8);
    }
    assert_true(metric(ins, "otelc_processor_tail_sampling_traces_evicted") >= 200 - 16 - 8);
    tick(ins, 11 * SEC);
    assert_int_equal(fwd(0), 200);
    ts_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prob_threshold_vectors),
        cmocka_unit_test(prob_hash_vectors),
        cmocka_unit_test(prob_policy_decisions),
        cmocka_unit_test(waits_for_decision_wait),
        cmocka_unit_test(status_code_policy),
        cmocka_unit_test(latency_policy),
        cmocka_unit_test(numeric_attribute_policy),
        cmocka_unit_test(string_attribute_policy),
        cmocka_unit_test(boolean_and_trace_state_and_span_count),
        cmocka_unit_test(rate_and_bytes_limiting),
        cmocka_unit_test(and_not_drop_composite),
        cmocka_unit_test(sample_on_first_match_and_inverted),
        cmocka_unit_test(late_spans_follow_cached_decision),
        cmocka_unit_test(num_traces_evicts_oldest_decided),
        cmocka_unit_test(memory_bound_evicts),
        cmocka_unit_test(oversize_trace_not_sampled),
        cmocka_unit_test(root_span_shortens_wait),
        cmocka_unit_test(shutdown_decides_or_drops),
        cmocka_unit_test(output_grouped_by_resource),
        cmocka_unit_test(large_decision_split),
        cmocka_unit_test(reads_rewritten_request),
        cmocka_unit_test(block_on_overflow_refuses),
        cmocka_unit_test(ottl_condition_policy),
        cmocka_unit_test(config_errors),
        cmocka_unit_test(config_defaults),
        cmocka_unit_test(concurrent_workers),
        cmocka_unit_test(sharded_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
