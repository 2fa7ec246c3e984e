/* test_attributes.c - unit tests for the attributes processor, configured
 * through the YAML loader as a user writes it: the actions of otelcol-contrib's
 * README and testdata (insert, update, upsert, delete, hash, extract, convert,
 * typed values), include / exclude for spans, log records and metrics, the
 * config errors with their file:line:column, and a request that no selected
 * item would change going on with its received bytes. Single-threaded cmocka
 * executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "otc/otc_pb_walk.h"
#include "proc_test_util.h"
#include "processor/attributes/attributes.h"

#define FILE_NAME "attributes.yaml"
#define CFG_HEAD "receivers:\n  otlp:\n    protocols:\n      grpc:\n" \
                 "processors:\n  attributes:\n"
#define CFG_TAIL(sig) "exporters:\n  nop:\n" \
                      "service:\n  pipelines:\n    " sig ":\n      receivers: [otlp]\n" \
                      "      processors: [attributes]\n      exporters: [nop]\n"

/* SHA-256 in hex (computed independently, with Python's hashlib). */
#define SHA_EMAIL "d648b243a3e817eaa3309e00e183483f2867baadf522099f0c2121770536b25a" /* "a@b.c" */
#define SHA_2245  "91df0e58e24451873e480a434ac913ec45d00603e21470511a89c1e850e58c87" /* int64 LE */
#define SHA_TRUE  "4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a" /* 0x01 */
#define SHA_1_5   "e163f8cb0f7067a7fc78ca859a77f849aea3214f38fb75b884e4a16be725c905" /* 1.5 LE */

/* ------------------------------------------------------------ helpers */

static otc_key_value *kv_s(struct otc_arena *a, const char *k, const char *v)
{
    return pt_kv(a, k, pt_any_str(a, v));
}

static otc_key_value *kv_i(struct otc_arena *a, const char *k, int64_t v)
{
    return pt_kv(a, k, pt_any_int(a, v));
}

static otc_key_value *kv_b(struct otc_arena *a, const char *k, bool v)
{
    return pt_kv(a, k, pt_any_bool(a, v));
}

static const otc_any_value *get(otc_key_value *const *kvs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(kvs[i]->key, key)) {
            return kvs[i]->value;
        }
    }
    return NULL;
}

#define ATTR(o, k) get((o)->attributes, (o)->n_attributes, k)

static void expect_str(const otc_any_value *v, const char *s)
{
    assert_non_null(v);
    assert_int_equal(v->value_case, PT_ANY(STRING_VALUE));
    assert_string_equal(v->string_value, s);
}

static void expect_int(const otc_any_value *v, int64_t i)
{
    assert_non_null(v);
    assert_int_equal(v->value_case, PT_ANY(INT_VALUE));
    assert_int_equal(v->int_value, i);
}

/* Build the config and return its attributes instance, initialised, with the
 * capture stage behind it. */
static struct otc_instance *build(struct pt_built *bt, const char *yaml)
{
    struct otc_instance *ins;

    pt_build(bt, FILE_NAME, yaml);
    if (bt->rc != OTC_OK) {
        pt_print_diags(&bt->d);
        fail_msg("config did not build");
    }
    ins = &bt->e->pipelines[0].processors[0];
    assert_ptr_equal(ins->ops, &otc_processor_attributes_ops);
    assert_int_equal(ins->ops->init(ins, ins->ctx), OTC_OK);
    ins->next.ins = &pt_capture_ins;
    return ins;
}

static struct otc_batch *run(struct otc_instance *ins, struct otc_batch *b)
{
    struct otc_batch *out;

    assert_int_equal(ins->ops->consume(ins, ins->ctx, b), OTC_OK);
    assert_int_equal(pt_captured.n, 1);
    out = pt_captured.b[0];
    pt_captured.n = 0;
    return out;
}

/* A traces request of n spans under one resource (service.name svc when not
 * NULL) and scope; span i gets the attributes given for it. */
static otc_traces_req *traces(struct otc_arena *a, const char *svc, size_t n)
{
    otc_traces_req *req = pt_traces(a, n);
    PtResource *r = req->resource_spans[0]->resource;
    uint8_t tid[16] = {7};

    if (svc) {
        otc_key_value *kv = kv_s(a, "service.name", svc);
        r->attributes = pt_attrs(a, 1, &kv);
        r->n_attributes = 1;
    }
    for (size_t i = 0; i < n; i++) {
        req->resource_spans[0]->scope_spans[0]->spans[i] = pt_span(a, tid, 16, i);
    }
    return req;
}

static void set_attrs(otc_span *sp, struct otc_arena *a, size_t n, otc_key_value *const *kvs)
{
    sp->attributes = pt_attrs(a, n, kvs);
    sp->n_attributes = n;
}

#define SPAN(req, i) ((req)->resource_spans[0]->scope_spans[0]->spans[i])
#define OUT_TRACES(b) ((const otc_traces_req *)otc_batch_msg(b))

/* ------------------------------------------------------------ actions */

/* The README's attributes/example, plus hash and convert, on one span. */
static void test_readme_example(void **state)
{
    struct pt_built bt;
    struct otc_instance *ins = build(&bt, CFG_HEAD
        "    actions:\n"
        "      - key: db.table\n        action: delete\n"
        "      - key: redacted_span\n        value: true\n        action: upsert\n"
        "      - key: copy_key\n        from_attribute: key_original\n        action: update\n"
        "      - key: account_id\n        value: 2245\n        action: insert\n"
        "      - key: account_password\n        action: delete\n"
        "      - key: account_email\n        action: hash\n"
        "      - key: http.status_code\n        action: convert\n        converted_type: int\n"
        "      - key: region\n        from_attribute: cloud.region\n"
        "        default_value: \"us-east-1\"\n        action: insert\n"
        CFG_TAIL("traces"));
    struct otc_arena a;
    otc_traces_req *req;
    struct otc_batch *out;
    const otc_span *sp;

    otc_arena_init(&a, 1 << 14);
    req = traces(&a, "svc", 1);
    {
        otc_key_value *kvs[] = {
            kv_s(&a, "db.table", "users"),      kv_s(&a, "copy_key", "old"),
            kv_s(&a, "key_original", "orig"),   kv_i(&a, "account_id", 1),
            kv_s(&a, "account_password", "pw"), kv_s(&a, "account_email", "a@b.c"),
            kv_s(&a, "http.status_code", "404"),
        };
        set_attrs(SPAN(req, 0), &a, 7, kvs);
    }
    out = run(ins, pt_batch(OTC_TRACES, &a, &req->base));
    sp = OUT_TRACES(out)->resource_spans[0]->scope_spans[0]->spans[0];
    assert_null(ATTR(sp, "db.table"));
    assert_null(ATTR(sp, "account_password"));
    assert_int_equal(ATTR(sp, "redacted_span")->value_case, PT_ANY(BOOL_VALUE));
    assert_true(ATTR(sp, "redacted_span")->bool_value);
    expect_str(ATTR(sp, "copy_key"), "orig");
    expect_int(ATTR(sp, "account_id"), 1); /* insert keeps an existing key */
    expect_str(ATTR(sp, "account_email"), SHA_EMAIL);
    expect_int(ATTR(sp, "http.status_code"), 404);
    expect_str(ATTR(sp, "region"), "us-east-1"); /* from_attribute absent: default_value */
    assert_int_equal(sp->n_attributes, 7);
    /* the kept attributes keep their order; inserted ones come last */
    assert_string_equal(sp->attributes[0]->key, "copy_key");
    assert_string_equal(sp->attributes[5]->key, "redacted_span");
    assert_string_equal(sp->attributes[6]->key, "region");
    otc_batch_unref(out);
    pt_built_free(&bt);
}

/* testdata's attributes/complex: insert, upsert from_attribute, delete, on
 * the four spans its comments describe. */
static void test_testdata_complex(void **state)
{
    struct pt_built bt;
    struct otc_instance *ins = build(&bt, CFG_HEAD
        "    actions:\n"
        "      - key: operation\n        value: default\n        action: insert\n"
        "      - key: svc.operation\n        from_attribute: operation\n        action: upsert\n"
        "      - key: operation\n        action: delete\n"
        CFG_TAIL("traces"));
    struct otc_arena a;
    otc_traces_req *req;
    struct otc_batch *out;
    const otc_traces_req *o;

    otc_arena_init(&a, 1 << 14);
    req = traces(&a, NULL, 4);
    {
        otc_key_value *s1[] = {kv_i(&a, "timeout", 10), kv_s(&a, "svc.operation", "addition"),
                               kv_s(&a, "operation", "addition")};
        otc_key_value *s2[] = {kv_s(&a, "operation", "subtract"), kv_i(&a, "math_value", 123)};
        otc_key_value *s3[] = {kv_i(&a, "timeout", 10), kv_i(&a, "math_value", 4)};
        otc_key_value *s4[] = {kv_s(&a, "svc.operation", "division"), kv_i(&a, "timeout", 3)};
        set_attrs(SPAN(req, 0), &a, 3, s1);
        set_attrs(SPAN(req, 1), &a, 2, s2);
        set_attrs(SPAN(req, 2), &a, 2, s3);
        set_attrs(SPAN(req, 3), &a, 2, s4);
    }
    out = run(ins, pt_batch(OTC_TRACES, &a, &req->base));
    o = OUT_TRACES(out);
    expect_str(ATTR(SPAN(o, 0), "svc.operation"), "addition");
    expect_str(ATTR(SPAN(o, 1), "svc.operation"), "subtract");
    expect_str(ATTR(SPAN(o, 2), "svc.operation"), "default");
    expect_str(ATTR(SPAN(o, 3), "svc.operation"), "default");
    for (int i = 0; i < 4; i++) {
        assert_null(ATTR(SPAN(o, i), "operation"));
    }
    assert_int_equal(SPAN(o, 0)->n_attributes, 2);
    assert_int_equal(SPAN(o, 1)->n_attributes, 2);
    assert_int_equal(SPAN(o, 2)->n_attributes, 3);
    expect_int(ATTR(SPAN(o, 2), "math_value"), 4);
    otc_batch_unref(out);
    pt_built_free(&bt);
}

/* Values keep the type YAML gives them, as otelcol's decoding does; update
 * and upsert; hash of each scalar type (SHA-256 of otelcol's bytes: UTF-8,
 * int64 and float64 little-endian, one byte for a bool); delete and hash by
 * pattern. */
static void test_values_and_hash(void **state)
{
    struct pt_built bt;
    struct otc_instance *ins = build(&bt, CFG_HEAD
        "    actions:\n"
        "      - {key: s, value: \"123\", action: upsert}\n"
        "      - {key: i, value: 123, action: upsert}\n"
        "      - {key: h, value: 0x10, action: upsert}\n"
        "      - {key: d, value: 1.5, action: upsert}\n"
        "      - {key: b, value: false, action: upsert}\n"
        "      - {key: l, value: [1, \"a\", true], action: upsert}\n"
        "      - {key: m, value: {x: 1, y: [2]}, action: upsert}\n"
        "      - {key: absent, value: 1, action: update}\n"
        "      - {key: hi, action: hash}\n"
        "      - {key: hb, action: hash}\n"
        "      - {key: hd, action: hash}\n"
        "      - {key: he, action: HASH}\n"
        "      - {pattern: ^secret\\., action: hash}\n"
        "      - {key: gone, pattern: ^tmp_, action: delete}\n"
        CFG_TAIL("traces"));
    struct otc_arena a;
    otc_traces_req *req;
    struct otc_batch *out;
    const otc_span *sp;
    const otc_any_value *v;

    otc_arena_init(&a, 1 << 14);
    req = traces(&a, NULL, 1);
    {
        otc_key_value *kvs[] = {
            kv_i(&a, "hi", 2245),          kv_b(&a, "hb", true),
            pt_kv(&a, "hd", pt_any_double(&a, 1.5)), kv_s(&a, "he", ""),
            kv_s(&a, "secret.email", "a@b.c"), kv_s(&a, "tmp_a", "x"),
            kv_s(&a, "gone", "x"),         kv_s(&a, "tmp_b", "y"),
            kv_s(&a, "keep_tmp_", "z"),
        };
        set_attrs(SPAN(req, 0), &a, 9, kvs);
    }
    out = run(ins, pt_batch(OTC_TRACES, &a, &req->base));
    sp = SPAN(OUT_TRACES(out), 0);
    expect_str(ATTR(sp, "s"), "123");
    expect_int(ATTR(sp, "i"), 123);
    expect_int(ATTR(sp, "h"), 16);
    assert_int_equal(ATTR(sp, "d")->value_case, PT_ANY(DOUBLE_VALUE));
    assert_true(ATTR(sp, "d")->double_value == 1.5);
    assert_int_equal(ATTR(sp, "b")->value_case, PT_ANY(BOOL_VALUE));
    assert_false(ATTR(sp, "b")->bool_value);
    v = ATTR(sp, "l");
    assert_int_equal(v->value_case, PT_ANY(ARRAY_VALUE));
    assert_int_equal(v->array_value->n_values, 3);
    expect_int(v->array_value->values[0], 1);
    expect_str(v->array_value->values[1], "a");
    v = ATTR(sp, "m");
    assert_int_equal(v->value_case, PT_ANY(KVLIST_VALUE));
    assert_int_equal(v->kvlist_value->n_values, 2);
    assert_string_equal(v->kvlist_value->values[1]->key, "y");
    assert_null(ATTR(sp, "absent"));
    expect_str(ATTR(sp, "hi"), SHA_2245);
    expect_str(ATTR(sp, "hb"), SHA_TRUE);
    expect_str(ATTR(sp, "hd"), SHA_1_5);
    expect_str(ATTR(sp, "he"), ""); /* otelcol leaves an empty string empty */
    expect_str(ATTR(sp, "secret.email"), SHA_EMAIL);
    assert_null(ATTR(sp, "gone"));
    assert_null(ATTR(sp, "tmp_a"));
    assert_null(ATTR(sp, "tmp_b"));
    expect_str(ATTR(sp, "keep_tmp_"), "z"); /* ^ anchors: not a match */
    otc_batch_unref(out);
    pt_built_free(&bt);
}

/* testdata's attributes/regex_insert (its group (\?|\&) made non-capturing:
 * otelcol refuses unnamed groups), and convert in each direction. */
static void test_extract_convert(void **state)
{
    struct pt_built bt;
    struct otc_instance *ins = build(&bt, CFG_HEAD
        "    actions:\n"
        "      - key: \"http.url\"\n"
        "        pattern: ^(?P<http_protocol>.*):\\/\\/(?P<http_domain>.*)\\/(?P<http_path>.*)"
        "(?:\\?|\\&)(?P<http_query_params>.*)\n"
        "        action: extract\n"
        "      - {key: opt, pattern: \"^(?P<first>a)(?P<second>b)?\", action: extract}\n"
        "      - {key: c1, action: convert, converted_type: string}\n"
        "      - {key: c2, action: convert, converted_type: double}\n"
        "      - {key: c3, action: convert, converted_type: int}\n"
        "      - {key: c4, action: convert, converted_type: int}\n"
        "      - {key: c5, action: convert, converted_type: string}\n"
        "      - {key: c6, action: convert, converted_type: double}\n"
        "      - {key: c7, action: convert, converted_type: string}\n"
        CFG_TAIL("traces"));
    struct otc_arena a;
    otc_traces_req *req;
    struct otc_batch *out;
    const otc_span *sp;

    otc_arena_init(&a, 1 << 14);
    req = traces(&a, NULL, 1);
    {
        otc_key_value *kvs[] = {
            kv_s(&a, "http.url", "http://example.com/path?queryParam1=value1,queryParam2=value2"),
            kv_s(&a, "opt", "ac"), kv_i(&a, "c1", -42), kv_s(&a, "c2", "2.5e3"),
            pt_kv(&a, "c3", pt_any_double(&a, -7.9)), kv_s(&a, "c4", "12x"),
            pt_kv(&a, "c5", pt_any_double(&a, 0.1)), kv_b(&a, "c6", true),
            pt_kv(&a, "c7", pt_any_double(&a, 1e21)),
        };
        set_attrs(SPAN(req, 0), &a, 9, kvs);
    }
    out = run(ins, pt_batch(OTC_TRACES, &a, &req->base));
    sp = SPAN(OUT_TRACES(out), 0);
    expect_str(ATTR(sp, "http_protocol"), "http");
    expect_str(ATTR(sp, "http_domain"), "example.com");
    expect_str(ATTR(sp, "http_path"), "path");
    expect_str(ATTR(sp, "http_query_params"), "queryParam1=value1,queryParam2=value2");
    expect_str(ATTR(sp, "http.url"), "http://example.com/path?queryParam1=value1,queryParam2=value2");
    expect_str(ATTR(sp, "first"), "a");
    expect_str(ATTR(sp, "second"), ""); /* a group that took part in no match */
    expect_str(ATTR(sp, "c1"), "-42");
    assert_int_equal(ATTR(sp, "c2")->value_case, PT_ANY(DOUBLE_VALUE));
    assert_true(ATTR(sp, "c2")->double_value == 2500.0);
    expect_int(ATTR(sp, "c3"), -7); /* truncated toward zero */
    expect_str(ATTR(sp, "c4"), "12x"); /* not a number: left as it is */
    expect_str(ATTR(sp, "c5"), "0.1");
    assert_true(ATTR(sp, "c6")->double_value == 1.0);
    expect_str(ATTR(sp, "c7"), "1e+21");
    otc_batch_unref(out);
    pt_built_free(&bt);
}

/* ------------------------------------------------------------ include / exclude */

/* testdata's attributes/excludemulti and attributes/selectiveprocessing: the
 * spans its comments list, each under its own service. */
static void run_spans(const char *yaml, const char *const *svc, size_t n,
                      otc_key_value **(*attrs)(struct otc_arena *, size_t, size_t *),
                      const bool *expect_changed)
{
    struct pt_built bt;
    struct otc_instance *ins = build(&bt, yaml);

    for (size_t i = 0; i < n; i++) {
        struct otc_arena a;
        otc_traces_req *req;
        struct otc_batch *out;
        const otc_span *sp;
        size_t na;
        otc_key_value **kvs;

        otc_arena_init(&a, 1 << 13);
        req = traces(&a, svc[i], 1);
        kvs = attrs(&a, i, &na);
        set_attrs(SPAN(req, 0), &a, na, kvs);
        out = run(ins, pt_batch(OTC_TRACES, &a, &req->base));
        sp = SPAN(OUT_TRACES(out), 0);
        print_message("    span %zu (%s): %s\n", i + 1, svc[i], ATTR(sp, "credit_card") ? "kept"
                                                                                 : "deleted");
        assert_int_equal(ATTR(sp, "credit_card") == NULL, expect_changed[i]);
        otc_batch_unref(out);
    }
    pt_built_free(&bt);
}

/* Span1 {env: dev, test_request: 123}, Span2 {env: dev, test_request: false},
 * Span3 {env: 1, test_request: dev}, Span4 {env: dev, test_request: false};
 * every span also has credit_card. */
static otc_key_value **exclude_attrs(struct otc_arena *a, size_t i, size_t *n)
{
    otc_key_value *kvs[3];

    kvs[0] = i == 2 ? kv_i(a, "env", 1) : kv_s(a, "env", "dev");
    kvs[1] = i == 0 ? kv_i(a, "test_request", 123) : i == 2 ? kv_s(a, "test_request", "dev")
                                                            : kv_b(a, "test_request", false);
    kvs[2] = kv_s(a, "credit_card", "1234");
    *n = 3;
    return pt_attrs(a, 3, kvs);
}

/* Span1 {env: production, test_request: 123, redact_trace: "false"}, Span2
 * {env: staging, test_request: false, redact_trace: true}, Span3 {env:
 * production, test_request: true, redact_trace: false}, Span4 {env: dev}. */
static otc_key_value **selective_attrs(struct otc_arena *a, size_t i, size_t *n)
{
    otc_key_value *kvs[3];

    kvs[0] = kv_s(a, "credit_card", "1234");
    kvs[1] = kv_s(a, "env", i == 1 ? "staging" : i == 3 ? "dev" : "production");
    kvs[2] = i == 0 ? kv_s(a, "redact_trace", "false") : kv_b(a, "redact_trace", i == 1);
    *n = i == 3 ? 2 : 3;
    return pt_attrs(a, *n, kvs);
}

static void test_testdata_include_exclude(void **state)
{
    static const char *const svc1[] = {"svcB", "svcA", "svcB", "svcC"};
    static const bool changed1[] = {false, false, true, true};
    static const bool changed2[] = {true, true, false, false};

    print_message("  attributes/excludemulti\n");
    run_spans(CFG_HEAD
              "    exclude:\n      match_type: strict\n      services: [\"svcA\", \"svcB\"]\n"
              "      attributes:\n        - {key: env, value: \"dev\"}\n"
              "        - {key: test_request}\n"
              "    actions:\n      - key: credit_card\n        action: delete\n"
              CFG_TAIL("traces"),
              svc1, 4, exclude_attrs, changed1);
    print_message("  attributes/selectiveprocessing\n");
    run_spans(CFG_HEAD
              "    include:\n      match_type: strict\n      services: [\"svcA\", \"svcB\"]\n"
              "    exclude:\n      match_type: strict\n      attributes:\n"
              "        - { key: redact_trace, value: false}\n"
              "    actions:\n      - key: credit_card\n        action: delete\n"
              CFG_TAIL("traces"),
              svc1, 4, selective_attrs, changed2);
}

/* Span names and kinds, regexp services, resources and libraries. */
static void test_span_properties(void **state)
{
    struct pt_built bt;
    struct otc_instance *ins = build(&bt, CFG_HEAD
        "    include:\n      match_type: regexp\n      services: [\"auth.*\"]\n"
        "      span_kinds: [SPAN_KIND_SERVER]\n"
        "      resources: [{key: host.type, value: \"n1-.*\"}]\n"
        "      libraries: [{name: \"mongo.*\"}]\n"
        "    exclude:\n      match_type: regexp\n      span_names: [\"login.*\"]\n"
        "    actions:\n      - {key: password, action: update, value: obfuscated}\n"
        CFG_TAIL("traces"));
    /* name, kind, service, host.type, scope: which one differs from a match */
    static const struct {
        const char *name, *svc, *host, *lib;
        int         kind;
        bool        changed;
    } cases[] = {
        {"get", "auth-svc", "n1-standard-1", "mongo-java-driver", 2, true},
        {"login-form", "auth-svc", "n1-standard-1", "mongo-java-driver", 2, false},
        {"get", "billing", "n1-standard-1", "mongo-java-driver", 2, false},
        {"get", "auth-svc", "n1-standard-1", "mongo-java-driver", 3, false},
        {"get", "auth-svc", "e2-small", "mongo-java-driver", 2, false},
        {"get", "auth-svc", "n1-standard-1", "redis", 2, false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct otc_arena a;
        otc_traces_req *req;
        struct otc_batch *out;
        PtResource *r;
        otc_key_value *rk[2], *kv;

        otc_arena_init(&a, 1 << 13);
        req = traces(&a, NULL, 1);
        r = req->resource_spans[0]->resource;
        rk[0] = kv_s(&a, "service.name", cases[i].svc);
        rk[1] = kv_s(&a, "host.type", cases[i].host);
        r->attributes = pt_attrs(&a, 2, rk);
        r->n_attributes = 2;
        req->resource_spans[0]->scope_spans[0]->scope->name = pt_str(&a, cases[i].lib);
        SPAN(req, 0)->name = pt_str(&a, cases[i].name);
        SPAN(req, 0)->kind = cases[i].kind;
        kv = kv_s(&a, "password", "hunter2");
        set_attrs(SPAN(req, 0), &a, 1, &kv);
        out = run(ins, pt_batch(OTC_TRACES, &a, &req->base));
        expect_str(ATTR(SPAN(OUT_TRACES(out), 0), "password"),
                   cases[i].changed ? "obfuscated" : "hunter2");
        otc_batch_unref(out);
    }
    pt_built_free(&bt);
}

/* testdata's attributes/excludelibrary, and the version rules of its comment:
 * no version matches any version, "" only an empty one. */
static void test_libraries(void **state)
{
    static const struct {
        const char *libs;
        const char *version;
        bool        changed;
    } cases[] = {
        {"{name: \"mongo-java-driver\", version: \"3.8.0\"}", "3.8.0", false},
        {"{name: \"mongo-java-driver\", version: \"3.8.0\"}", "3.9.0", true},
        {"{name: \"mongo-java-driver\"}", "3.9.0", false},
        {"{name: \"mongo-java-driver\", version: null}", "", false},
        {"{name: \"mongo-java-driver\", version: \"\"}", "", false},
        {"{name: \"mongo-java-driver\", version: \"\"}", "1", true},
        {"{name: \"mongo-java-driver\", version: 3.8}", "3.8", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[1024];
        struct pt_built bt;
        struct otc_instance *ins;
        struct otc_arena a;
        otc_traces_req *req;
        struct otc_batch *out;
        otc_key_value *kv;
        PtScope *sc;

        snprintf(yaml, sizeof(yaml), CFG_HEAD
                 "    exclude:\n      match_type: strict\n      libraries:\n        - %s\n"
                 "    actions:\n      - key: credit_card\n        action: delete\n"
                 CFG_TAIL("traces"), cases[i].libs);
        ins = build(&bt, yaml);
        otc_arena_init(&a, 1 << 12);
        req = traces(&a, "svc", 1);
        sc = req->resource_spans[0]->scope_spans[0]->scope;
        sc->name = pt_str(&a, "mongo-java-driver");
        sc->version = pt_str(&a, cases[i].version);
        kv = kv_s(&a, "credit_card", "1234");
        set_attrs(SPAN(req, 0), &a, 1, &kv);
        out = run(ins, pt_batch(OTC_TRACES, &a, &req->base));
        print_message("    %s, scope version \"%s\": %s\n", cases[i].libs, cases[i].version,
                      cases[i].changed ? "processed" : "excluded");
        assert_int_equal(ATTR(SPAN(OUT_TRACES(out), 0), "credit_card") == NULL, cases[i].changed);
        otc_batch_unref(out);
        pt_built_free(&bt);
    }
}

/* A request none of whose selected items would change goes on as the same
 * batch with its received bytes: excluded items, and actions that change
 * nothing (insert of a present key, upsert of the same value, delete of an
 * absent key). */
static void test_untouched(void **state)
{
    static const char *const yamls[] = {
        CFG_HEAD "    include:\n      match_type: strict\n      services: [other]\n"
        "    actions:\n      - {key: x, value: 1, action: upsert}\n" CFG_TAIL("traces"),
        CFG_HEAD "    actions:\n      - {key: k, value: v2, action: insert}\n"
        "      - {key: k, value: v, action: upsert}\n"
        "      - {key: nope, action: delete}\n" CFG_TAIL("traces"),
    };

    for (size_t y = 0; y < 2; y++) {
        struct pt_built bt;
        struct otc_instance *ins = build(&bt, yamls[y]);
        struct otc_arena a;
        otc_traces_req *req;
        struct otc_batch *b, *out;
        otc_key_value *kv;

        otc_arena_init(&a, 1 << 12);
        req = traces(&a, "svc", 2);
        kv = kv_s(&a, "k", "v");
        set_attrs(SPAN(req, 0), &a, 1, &kv);
        set_attrs(SPAN(req, 1), &a, 1, &kv);
        b = pt_batch(OTC_TRACES, &a, &req->base);
        out = run(ins, b);
        assert_ptr_equal(out, b);
        assert_true(otc_batch_bytes_fresh(out));
        if (y == 0 && getenv("OTC_FX_UNDECODED")) {
            assert_false(otc_batch_is_decoded(out)); /* excluded by its resource: not decoded */
        }
        otc_batch_unref(out);
        pt_built_free(&bt);
    }
    /* metrics no metric_names selects: not decoded either */
    {
        struct pt_built bt;
        struct otc_instance *ins = build(&bt, CFG_HEAD
            "    include: {match_type: regexp, metric_names: [\"^http\\\\.\"]}\n"
            "    actions: [{key: x, value: 1, action: upsert}]\n" CFG_TAIL("metrics"));
        struct otc_arena a;
        otc_metrics_req *req;
        otc_metric *m;
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint *dp, **dps;
        struct otc_batch *b, *out;

        otc_arena_init(&a, 1 << 12);
        req = pt_alloc(&a, sizeof(*req));
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
        req->n_resource_metrics = 1;
        req->resource_metrics = pt_alloc(&a, sizeof(*req->resource_metrics));
        req->resource_metrics[0] = pt_alloc(&a, sizeof(otc_resource_metrics));
        opentelemetry__proto__metrics__v1__resource_metrics__init(req->resource_metrics[0]);
        req->resource_metrics[0]->n_scope_metrics = 1;
        req->resource_metrics[0]->scope_metrics = pt_alloc(&a, sizeof(otc_scope_metrics *));
        req->resource_metrics[0]->scope_metrics[0] = pt_alloc(&a, sizeof(otc_scope_metrics));
        opentelemetry__proto__metrics__v1__scope_metrics__init(
            req->resource_metrics[0]->scope_metrics[0]);
        m = pt_alloc(&a, sizeof(*m));
        opentelemetry__proto__metrics__v1__metric__init(m);
        m->name = pt_str(&a, "db.calls");
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        m->gauge = pt_alloc(&a, sizeof(*m->gauge));
        opentelemetry__proto__metrics__v1__gauge__init(m->gauge);
        dp = pt_alloc(&a, sizeof(*dp));
        opentelemetry__proto__metrics__v1__number_data_point__init(dp);
        dps = pt_alloc(&a, sizeof(*dps));
        dps[0] = dp;
        m->gauge->data_points = dps;
        m->gauge->n_data_points = 1;
        req->resource_metrics[0]->scope_metrics[0]->metrics = pt_alloc(&a, sizeof(m));
        req->resource_metrics[0]->scope_metrics[0]->metrics[0] = m;
        req->resource_metrics[0]->scope_metrics[0]->n_metrics = 1;
        b = pt_batch(OTC_METRICS, &a, &req->base);
        out = run(ins, b);
        assert_ptr_equal(out, b);
        assert_true(otc_batch_bytes_fresh(out));
        if (getenv("OTC_FX_UNDECODED")) {
            assert_false(otc_batch_is_decoded(out));
        }
        otc_batch_unref(out);
        pt_built_free(&bt);
    }
}

/* ------------------------------------------------------------ logs, metrics */

static void test_logs(void **state)
{
    struct pt_built bt;
    struct otc_instance *ins = build(&bt, CFG_HEAD
        "    include:\n      match_type: regexp\n      log_bodies: [\"AUTH.*\"]\n"
        "      log_severity_number: {min: WARN, match_undefined: true}\n"
        "    exclude:\n      match_type: strict\n      log_severity_texts: [debug]\n"
        "    actions:\n      - key: password\n        action: update\n"
        "        value: \"obfuscated\"\n      - key: token\n        action: delete\n"
        CFG_TAIL("logs"));
    static const struct {
        const char *body, *sev_text;
        int         sev;
        bool        changed;
    } cases[] = {
        {"AUTH ok", "warn", 13, true},     {"AUTH ok", "error", 17, true},
        {"AUTH ok", "", 0, true},          {"AUTH ok", "info", 9, false},
        {"user login", "warn", 13, false}, {"AUTH ok", "debug", 13, false},
    };
    struct otc_arena a;
    otc_logs_req *req;
    struct otc_batch *out;
    const otc_scope_logs *sl;
    size_t n = sizeof(cases) / sizeof(cases[0]);

    otc_arena_init(&a, 1 << 14);
    req = pt_logs(&a, n);
    for (size_t i = 0; i < n; i++) {
        otc_log_record *lr = pt_log(&a, NULL, 0, i);
        otc_key_value *kvs[] = {kv_s(&a, "password", "pw"), kv_s(&a, "token", "t")};
        lr->body = pt_any_str(&a, cases[i].body);
        lr->severity_text = pt_str(&a, cases[i].sev_text);
        lr->severity_number = cases[i].sev;
        lr->attributes = pt_attrs(&a, 2, kvs);
        lr->n_attributes = 2;
        req->resource_logs[0]->scope_logs[0]->log_records[i] = lr;
    }
    out = run(ins, pt_batch(OTC_LOGS, &a, &req->base));
    sl = ((const otc_logs_req *)otc_batch_msg(out))->resource_logs[0]->scope_logs[0];
    for (size_t i = 0; i < n; i++) {
        const otc_log_record *lr = sl->log_records[i];
        print_message("    record %zu: %s\n", i, cases[i].changed ? "changed" : "untouched");
        expect_str(ATTR(lr, "password"), cases[i].changed ? "obfuscated" : "pw");
        assert_int_equal(ATTR(lr, "token") == NULL, cases[i].changed);
    }
    otc_batch_unref(out);
    pt_built_free(&bt);
}

/* Data points of every type of the metrics metric_names selects. */
static void test_metrics(void **state)
{
    struct pt_built bt;
    struct otc_instance *ins = build(&bt, CFG_HEAD
        "    include:\n      match_type: regexp\n      metric_names: [\"^http\\\\.\"]\n"
        "    exclude:\n      match_type: strict\n      metric_names: [http.skip]\n"
        "    actions:\n      - {key: env, value: prod, action: upsert}\n"
        CFG_TAIL("metrics"));
    static const char *const names[] = {"http.g", "http.s", "http.h", "http.e", "http.q",
                                        "db.g", "http.skip"};
    static const int types[] = {
        OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE,
        OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM,
        OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM,
        OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM,
        OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY,
        OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE,
        OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE,
    };
    size_t n = sizeof(names) / sizeof(names[0]);
    struct otc_arena a;
    otc_metrics_req *req;
    otc_resource_metrics *rm;
    otc_scope_metrics *sm;
    struct otc_batch *out;

    otc_arena_init(&a, 1 << 14);
    req = pt_alloc(&a, sizeof(*req));
    rm = pt_alloc(&a, sizeof(*rm));
    sm = pt_alloc(&a, sizeof(*sm));
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    sm->metrics = pt_alloc(&a, n * sizeof(*sm->metrics));
    for (size_t i = 0; i < n; i++) {
        otc_metric *m = pt_alloc(&a, sizeof(*m));
        otc_key_value *kv = kv_s(&a, "env", "dev");
        otc_key_value **attrs = pt_attrs(&a, 1, &kv);

        opentelemetry__proto__metrics__v1__metric__init(m);
        m->name = pt_str(&a, names[i]);
        m->data_case = types[i];
        switch (types[i]) {
        case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: {
            Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p = pt_alloc(&a, sizeof(*p));
            Opentelemetry__Proto__Metrics__V1__NumberDataPoint **v = pt_alloc(&a, sizeof(*v));
            opentelemetry__proto__metrics__v1__number_data_point__init(p);
            p->attributes = attrs;
            p->n_attributes = 1;
            v[0] = p;
            if (types[i] == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE) {
                m->gauge = pt_alloc(&a, sizeof(*m->gauge));
                opentelemetry__proto__metrics__v1__gauge__init(m->gauge);
                m->gauge->data_points = v;
                m->gauge->n_data_points = 1;
            } else {
                m->sum = pt_alloc(&a, sizeof(*m->sum));
                opentelemetry__proto__metrics__v1__sum__init(m->sum);
                m->sum->data_points = v;
                m->sum->n_data_points = 1;
            }
            break;
        }
        case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: {
            Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *p = pt_alloc(&a, sizeof(*p));
            opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
            p->attributes = attrs;
            p->n_attributes = 1;
            m->histogram = pt_alloc(&a, sizeof(*m->histogram));
            opentelemetry__proto__metrics__v1__histogram__init(m->histogram);
            m->histogram->data_points = pt_alloc(&a, sizeof(p));
            m->histogram->data_points[0] = p;
            m->histogram->n_data_points = 1;
            break;
        }
        case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM: {
            Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *p =
                pt_alloc(&a, sizeof(*p));
            opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init(p);
            p->attributes = attrs;
            p->n_attributes = 1;
            m->exponential_histogram = pt_alloc(&a, sizeof(*m->exponential_histogram));
            opentelemetry__proto__metrics__v1__exponential_histogram__init(m->exponential_histogram);
            m->exponential_histogram->data_points = pt_alloc(&a, sizeof(p));
            m->exponential_histogram->data_points[0] = p;
            m->exponential_histogram->n_data_points = 1;
            break;
        }
        default: {
            Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *p = pt_alloc(&a, sizeof(*p));
            opentelemetry__proto__metrics__v1__summary_data_point__init(p);
            p->attributes = attrs;
            p->n_attributes = 1;
            m->summary = pt_alloc(&a, sizeof(*m->summary));
            opentelemetry__proto__metrics__v1__summary__init(m->summary);
            m->summary->data_points = pt_alloc(&a, sizeof(p));
            m->summary->data_points[0] = p;
            m->summary->n_data_points = 1;
            break;
        }
        }
        sm->metrics[i] = m;
    }
    sm->n_metrics = n;
    rm->n_scope_metrics = 1;
    rm->scope_metrics = pt_alloc(&a, sizeof(*rm->scope_metrics));
    rm->scope_metrics[0] = sm;
    req->n_resource_metrics = 1;
    req->resource_metrics = pt_alloc(&a, sizeof(*req->resource_metrics));
    req->resource_metrics[0] = rm;
    out = run(ins, pt_batch(OTC_METRICS, &a, &req->base));
    sm = ((const otc_metrics_req *)otc_batch_msg(out))->resource_metrics[0]->scope_metrics[0];
    for (size_t i = 0; i < n; i++) {
        size_t np;
        ProtobufCMessage **pts = otc_msg_points(sm->metrics[i], &np);
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint *g = (void *)pts[0];
        otc_key_value **kvs;
        size_t nk;

        assert_int_equal(np, 1);
        switch (sm->metrics[i]->data_case) {
        case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
            kvs = sm->metrics[i]->histogram->data_points[0]->attributes;
            nk = sm->metrics[i]->histogram->data_points[0]->n_attributes;
            break;
        case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
            kvs = sm->metrics[i]->exponential_histogram->data_points[0]->attributes;
            nk = sm->metrics[i]->exponential_histogram->data_points[0]->n_attributes;
            break;
        case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
            kvs = sm->metrics[i]->summary->data_points[0]->attributes;
            nk = sm->metrics[i]->summary->data_points[0]->n_attributes;
            break;
        default:
            kvs = g->attributes;
            nk = g->n_attributes;
        }
        print_message("    %s\n", names[i]);
        expect_str(get(kvs, nk, "env"), i < 5 ? "prod" : "dev");
    }
    otc_batch_unref(out);
    pt_built_free(&bt);
}

/* ------------------------------------------------------------ config errors */

/* The options start on line 7, column 5. */
static void expect_error(const char *sig, const char *opts, const char *at, const char *needle)
{
    char yaml[2048];
    struct pt_built bt;

    snprintf(yaml, sizeof(yaml),
             CFG_HEAD "%s"
             "exporters:\n  nop:\n"
             "service:\n  pipelines:\n    %s:\n      receivers: [otlp]\n"
             "      processors: [attributes]\n      exporters: [nop]\n",
             opts, sig);
    pt_build(&bt, FILE_NAME, yaml);
    print_message("  expect %s %s\n", at, needle);
    pt_print_diags(&bt.d);
    assert_int_not_equal(bt.rc, OTC_OK);
    assert_true(pt_diag_has(&bt.d, at, "processor \"attributes\"", needle, NULL));
    pt_built_free(&bt);
}

static void test_config_errors(void **state)
{
    expect_error("traces", "    actions:\n", FILE_NAME ":7:13: ",
                 "missing required field \"actions\"");
    expect_error("traces", "    actions:\n      - {key: a, action: frob}\n", FILE_NAME ":8:26: ",
                 "actions[0].action: unsupported action \"frob\"");
    expect_error("traces", "    actions:\n      - {key: a, action: insert, bogus: 1}\n",
                 FILE_NAME ":8:34: ", "unknown key \"actions[0].bogus\"");
    expect_error("traces", "    actions:\n      - {key: a, value: 1, action: delete}\n",
                 FILE_NAME ":8:9: ", "does not use the \"value\" or \"from_attribute\" field");
    expect_error("traces", "    actions:\n      - {key: a, action: upsert}\n", FILE_NAME ":8:9: ",
                 "either field \"value\", \"from_attribute\"");
    expect_error("traces", "    actions:\n      - {key: a, value: 1, from_attribute: b, action: upsert}\n",
                 FILE_NAME ":8:9: ", "multiple value sources");
    expect_error("traces", "    actions:\n      - {action: update, value: 1}\n", FILE_NAME ":8:9: ",
                 "missing required field \"key\"");
    expect_error("traces", "    actions:\n      - {action: delete}\n", FILE_NAME ":8:9: ",
                 "at least one of \"key\" and \"pattern\"");
    expect_error("traces", "    actions:\n      - {key: a, pattern: \"a(\", action: delete}\n",
                 FILE_NAME ":8:27: ", "actions[0].pattern: invalid regular expression \"a(\"");
    expect_error("traces", "    actions:\n      - {key: a, pattern: \"(?P<x>a)(b)\", action: extract}\n",
                 FILE_NAME ":8:27: ", "unnamed matcher group");
    expect_error("traces", "    actions:\n      - {key: a, pattern: \"ab\", action: extract}\n",
                 FILE_NAME ":8:27: ", "no named matcher groups");
    expect_error("traces", "    actions:\n      - {key: a, action: convert, converted_type: bool}\n",
                 FILE_NAME ":8:51: ", "invalid value \"bool\"");
    expect_error("traces", "    actions:\n      - {key: a, action: convert}\n", FILE_NAME ":8:9: ",
                 "missing required field \"converted_type\"");
    expect_error("traces", "    actions:\n      - {key: a, from_context: metadata.tenant, action: insert}\n",
                 FILE_NAME ":8:32: ", "from_context: not supported");
    /* include / exclude, checked for the pipeline's signal as otelcol does */
    expect_error("traces", "    include:\n      match_type: strict\n      log_bodies: [x]\n"
                 "    actions:\n      - {key: a, action: delete}\n", FILE_NAME ":9:19: ",
                 "include.log_bodies: log_bodies should not be specified for trace spans");
    expect_error("logs", "    exclude:\n      match_type: strict\n      services: [x]\n"
                 "    actions:\n      - {key: a, action: delete}\n", FILE_NAME ":9:17: ",
                 "services, span_names, and span_kinds are not valid for log records");
    expect_error("traces", "    include:\n      match_type: strict\n"
                 "    actions:\n      - {key: a, action: delete}\n", FILE_NAME ":8:7: ",
                 "include: at least one of");
    expect_error("traces", "    include:\n      match_type: exact\n      services: [x]\n"
                 "    actions:\n      - {key: a, action: delete}\n", FILE_NAME ":8:19: ",
                 "include.match_type: unrecognized match_type: 'exact'");
    expect_error("traces", "    include:\n      match_type: regexp\n      span_names: [\"ok\", \"(\"]\n"
                 "    actions:\n      - {key: a, action: delete}\n", FILE_NAME ":9:26: ",
                 "include.span_names[1]: invalid regular expression");
    expect_error("traces", "    include:\n      match_type: strict\n      span_kinds: [server]\n"
                 "    actions:\n      - {key: a, action: delete}\n", FILE_NAME ":9:20: ",
                 "span_kinds string must match one of the standard span kinds");
    expect_error("traces", "    include:\n      match_type: regexp\n"
                 "      attributes: [{key: a, value: 1}]\n"
                 "    actions:\n      - {key: a, action: delete}\n", FILE_NAME ":9:36: ",
                 "include.attributes[0].value: match_type=regexp for \"a\" only supports Str, "
                 "but found Int");
    expect_error("metrics", "    include:\n      match_type: glob\n      metric_names: [x]\n"
                 "    actions:\n      - {key: a, action: delete}\n", FILE_NAME ":8:19: ",
                 "unrecognized match_type: 'glob'");
}

/* What otelcol accepts: metrics without metric_names (the section selects
 * every metric), a regexp cache section, an include for logs by severity. */
static void test_config_accepted(void **state)
{
    static const char *const ok[] = {
        CFG_HEAD "    include:\n      match_type: strict\n      services: [x]\n"
        "    actions:\n      - {key: a, action: delete}\n" CFG_TAIL("metrics"),
        CFG_HEAD "    include:\n      match_type: regexp\n      regexp: {cacheenabled: true, "
        "cachemaxnumentries: 10}\n      services: [x]\n"
        "    actions:\n      - {key: a, action: delete}\n" CFG_TAIL("traces"),
        CFG_HEAD "    include:\n      match_type: strict\n      log_severity_number: {min: 9}\n"
        "    actions:\n      - {key: a, action: DELETE}\n" CFG_TAIL("logs"),
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct pt_built bt;
        pt_build(&bt, FILE_NAME, ok[i]);
        pt_print_diags(&bt.d);
        assert_int_equal(bt.rc, OTC_OK);
        pt_built_free(&bt);
    }
}

/* ------------------------------------------------------------ concurrency */

/* The workers of one pipeline run the same instance at once (the processor is
 * concurrent): regex match data and digest contexts are per thread. Two
 * threads run requests through one instance with regexp matching, extract and
 * hash; a checking stage verifies every result. */
#define MT_REQUESTS 300

static atomic_int mt_ok, mt_bad;

static int mt_check(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    const otc_traces_req *r = (const otc_traces_req *)otc_batch_msg(b);
    const otc_span *sp = r ? SPAN(r, 0) : NULL;
    const otc_any_value *v = sp ? ATTR(sp, "user") : NULL, *id = sp ? ATTR(sp, "id") : NULL;
    char want[32];

    (void)ins;
    (void)ctx;
    snprintf(want, sizeof(want), "%lld", sp ? (long long)pt_span_index(sp) : -1LL);
    if (v && v->value_case == PT_ANY(STRING_VALUE) && !strcmp(v->string_value, SHA_EMAIL) && id &&
        id->value_case == PT_ANY(STRING_VALUE) && !strcmp(id->string_value, want)) {
        atomic_fetch_add(&mt_ok, 1);
    } else {
        atomic_fetch_add(&mt_bad, 1);
    }
    otc_batch_unref(b);
    return OTC_OK;
}

static const struct otc_component_ops mt_check_ops = {
    .type = "mt_check", .kind = OTC_PROCESSOR, .signals = OTC_SIG_ALL, .consume = mt_check,
};
static struct otc_instance mt_check_ins = {.ops = &mt_check_ops, .id = "mt_check"};

static void *mt_run(void *arg)
{
    struct otc_instance *ins = arg;

    for (int i = 0; i < MT_REQUESTS; i++) {
        struct otc_arena a;
        otc_traces_req *req;
        otc_key_value *kvs[2];
        char url[64];

        otc_arena_init(&a, 1 << 12);
        req = traces(&a, "auth-svc", 1);
        SPAN(req, 0) = pt_span(&a, (const uint8_t *)"0123456789abcdef", 16, (uint64_t)i);
        snprintf(url, sizeof(url), "/users/%d/profile", i);
        kvs[0] = kv_s(&a, "user", "a@b.c");
        kvs[1] = kv_s(&a, "url", url);
        set_attrs(SPAN(req, 0), &a, 2, kvs);
        ins->ops->consume(ins, ins->ctx, pt_batch(OTC_TRACES, &a, &req->base));
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    struct pt_built bt;
    struct otc_instance *ins = build(&bt, CFG_HEAD
        "    include: {match_type: regexp, services: [\"^auth\"]}\n"
        "    actions:\n"
        "      - {key: user, action: hash}\n"
        "      - {key: url, pattern: \"^/users/(?P<id>[0-9]+)/\", action: extract}\n"
        CFG_TAIL("traces"));
    pthread_t th[2];

    assert_true(ins->ops->concurrent);
    ins->next.ins = &mt_check_ins;
    atomic_store(&mt_ok, 0);
    atomic_store(&mt_bad, 0);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(pthread_create(&th[t], NULL, mt_run, ins), 0);
    }
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
    }
    assert_int_equal(atomic_load(&mt_bad), 0);
    assert_int_equal(atomic_load(&mt_ok), 2 * MT_REQUESTS);
    pt_built_free(&bt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_example),
        cmocka_unit_test(test_testdata_complex),
        cmocka_unit_test(test_values_and_hash),
        cmocka_unit_test(test_extract_convert),
        cmocka_unit_test(test_testdata_include_exclude),
        cmocka_unit_test(test_span_properties),
        cmocka_unit_test(test_libraries),
        cmocka_unit_test(test_untouched),
        cmocka_unit_test(test_logs),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_accepted),
        cmocka_unit_test(test_concurrent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
