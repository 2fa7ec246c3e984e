/* test_ottl.c - unit tests for the OTTL core (otc_ottl.h): conditions and
 * their comparison rules, every editor and converter on spans, span events,
 * logs, metrics and data points, context inference, and parse errors with the
 * position they report. Single-threaded cmocka executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "proc_test_util.h"
#include "otc/otc_ottl.h"

static const uint8_t TID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
#define TID_HEX "0102030405060708090a0b0c0d0e0f10"

struct fx {
    struct otc_arena    a;
    otc_traces_req     *req;
    struct otc_ottl_env env;
};

/* resource {service.name: frontend, host.name: h1}, scope lib 1.0, span
 * "GET /health" SERVER ERROR with six attributes and one event. */
static void fx_init(struct fx *f)
{
    otc_span *sp;
    otc_any_value *nested_kv[1];
    otc_key_value *nk[1], *rk[2], *sk[6], *ek[1];
    PtEvent *ev;
    Opentelemetry__Proto__Trace__V1__Status *st;

    memset(f, 0, sizeof(*f));
    otc_arena_init(&f->a, 1 << 14);
    f->req = pt_traces(&f->a, 1);
    sp = pt_span(&f->a, TID, 16, 7);
    f->req->resource_spans[0]->scope_spans[0]->spans[0] = sp;
    rk[0] = pt_kv(&f->a, "service.name", pt_any_str(&f->a, "frontend"));
    rk[1] = pt_kv(&f->a, "host.name", pt_any_str(&f->a, "h1"));
    f->env.resource = f->req->resource_spans[0]->resource;
    f->env.resource->attributes = pt_attrs(&f->a, 2, rk);
    f->env.resource->n_attributes = 2;
    f->env.scope = f->req->resource_spans[0]->scope_spans[0]->scope;
    f->env.scope->name = pt_str(&f->a, "lib");
    f->env.scope->version = pt_str(&f->a, "1.0");
    sp->name = pt_str(&f->a, "GET /health");
    sp->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
    st = pt_alloc(&f->a, sizeof(*st));
    opentelemetry__proto__trace__v1__status__init(st);
    st->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    st->message = pt_str(&f->a, "boom");
    sp->status = st;
    nk[0] = pt_kv(&f->a, "a", pt_any_str(&f->a, "x"));
    (void)nested_kv;
    sk[0] = pt_kv(&f->a, "http.method", pt_any_str(&f->a, "GET"));
    sk[1] = pt_kv(&f->a, "http.status_code", pt_any_int(&f->a, 200));
    sk[2] = pt_kv(&f->a, "ratio", pt_any_double(&f->a, 0.5));
    sk[3] = pt_kv(&f->a, "ok", pt_any_bool(&f->a, true));
    sk[4] = pt_kv(&f->a, "secret", pt_any_str(&f->a, "tok-123"));
    sk[5] = pt_kv(&f->a, "nested", pt_any_kvlist(&f->a, 1, nk));
    sp->attributes = pt_attrs(&f->a, 6, sk);
    sp->n_attributes = 6;
    ev = pt_alloc(&f->a, sizeof(*ev));
    opentelemetry__proto__trace__v1__span__event__init(ev);
    ev->name = pt_str(&f->a, "exception");
    ek[0] = pt_kv(&f->a, "exception.type", pt_any_str(&f->a, "E"));
    ev->attributes = pt_attrs(&f->a, 1, ek);
    ev->n_attributes = 1;
    sp->n_events = 1;
    sp->events = pt_alloc(&f->a, sizeof(*sp->events));
    sp->events[0] = ev;
    f->env.span = sp;
    f->env.event = ev;
    f->env.arena = &f->a;
}

static void fx_free(struct fx *f)
{
    otc_arena_release(&f->a);
}

static const otc_any_value *attr(otc_key_value *const *kvs, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(kvs[i]->key, k)) {
            return kvs[i]->value;
        }
    }
    return NULL;
}

#define SPAN_ATTR(f, k) attr((f)->env.span->attributes, (f)->env.span->n_attributes, k)

static bool cond_in(struct fx *f, enum otc_signal s, enum otc_ottl_ctx ctx, const char *text)
{
    struct otc_ottl_error pe;
    struct otc_ottl *o = otc_ottl_parse_condition(text, s, ctx, &pe);
    char why[256] = "";
    bool yes = false;

    if (!o) {
        fail_msg("%s: %s at %zu", text, pe.msg, pe.pos);
    }
    assert_int_equal(otc_ottl_eval(o, &f->env, &yes, why, sizeof(why)), OTC_OK);
    otc_ottl_free(o);
    return yes;
}

static int stmt_in(struct fx *f, enum otc_signal s, const char *text)
{
    struct otc_ottl_error pe;
    struct otc_ottl *o = otc_ottl_parse_statement(text, s, OTC_OTTL_CTX_INFER, &pe);
    char why[256] = "";
    bool changed = false;
    int rc;

    if (!o) {
        fail_msg("%s: %s at %zu", text, pe.msg, pe.pos);
    }
    rc = otc_ottl_exec(o, &f->env, &changed, why, sizeof(why));
    if (rc != OTC_OK) {
        print_message("    %s: %s\n", text, why);
    }
    otc_ottl_free(o);
    return rc;
}

#define COND(f, text) cond_in(f, OTC_TRACES, OTC_OTTL_CTX_INFER, text)
#define COND_SPAN(f, text) cond_in(f, OTC_TRACES, OTC_OTTL_SPAN, text)
#define STMT(f, text) assert_int_equal(stmt_in(f, OTC_TRACES, text), OTC_OK)

/* ------------------------------------------------------------ conditions */

static void test_conditions(void **state)
{
    static const struct { const char *text; bool want; } cases[] = {
        {"span.name == \"GET /health\"", true},
        {"span.name != \"GET /health\"", false},
        {"span.kind == SPAN_KIND_SERVER", true},
        {"span.kind == SPAN_KIND_CLIENT", false},
        {"span.status.code == STATUS_CODE_ERROR", true},
        {"span.status.message == \"boom\"", true},
        {"span.attributes[\"http.status_code\"] == 200", true},
        {"span.attributes[\"http.status_code\"] == 200.0", true},     /* int vs float */
        {"span.attributes[\"http.status_code\"] >= 200 and span.attributes[\"http.status_code\"] < 300", true},
        {"span.attributes[\"http.status_code\"] == \"200\"", false},  /* types differ */
        {"span.attributes[\"http.status_code\"] != \"200\"", true},
        {"span.attributes[\"http.status_code\"] > \"100\"", false},   /* never ordered */
        {"span.attributes[\"ratio\"] < 1", true},
        {"span.attributes[\"missing\"] == nil", true},
        {"span.attributes[\"missing\"] != nil", false},
        {"span.attributes[\"missing\"] > 1", false},
        {"span.attributes[\"http.method\"] != nil", true},
        {"span.attributes[\"ok\"] == true", true},
        {"span.attributes[\"ok\"] > false", false},                   /* bools: only == != */
        {"span.attributes[\"nested\"][\"a\"] == \"x\"", true},
        {"span.attributes[\"nested\"][\"b\"] == nil", true},
        {"not (span.name == \"x\")", true},
        {"not span.name == \"GET /health\"", false},
        {"span.name == \"x\" or resource.attributes[\"service.name\"] == \"frontend\"", true},
        {"span.name == \"x\" and resource.attributes[\"service.name\"] == \"frontend\"", false},
        {"IsMatch(span.name, \"^GET /h.*\")", true},
        {"IsMatch(span.name, \"^POST\")", false},
        {"IsMatch(span.attributes[\"http.status_code\"], \"^2\\\\d\\\\d$\")", true},
        {"IsMatch(span.attributes[\"missing\"], \".*\")", false},
        {"not IsMatch(span.name, \"health\")", false},
        {"span.trace_id == 0x" TID_HEX, true},
        {"span.trace_id.string == \"" TID_HEX "\"", true},
        {"span.span_id.string == \"0700000000000000\"", true},
        {"instrumentation_scope.name == \"lib\" and span.name != nil", true},
        {"scope.version == \"1.0\"", true},
        {"Len(span.attributes) == 6 and Len(span.name) == 11", true},
        {"Concat([span.name, span.attributes[\"missing\"], 1, true], \"|\") == \"GET /health|<nil>|1|true\"", true},
        {"Concat([\"a\", \"b\"], span.attributes[\"http.method\"]) == \"aGETb\"", true},
        {"Int(\"42\") == 42 and Int(span.attributes[\"ratio\"]) == 0 and span.name != nil", true},
        {"Int(\"x\") == nil and span.name != nil", true},
        {"String(span.attributes[\"ratio\"]) == \"0.5\"", true},
        {"String(span.trace_id) == \"" TID_HEX "\"", true},
        {"String(span.attributes[\"nested\"]) == \"{\\\"a\\\":\\\"x\\\"}\"", true},
        {"SHA256(\"abc\") == \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\" "
         "and span.name != nil", true},
        {"spanevent.name == \"exception\" and span.name == \"GET /health\"", true},
        {"spanevent.attributes[\"exception.type\"] == \"E\"", true},
        {"resource.attributes[\"host.name\"] == \"h1\"", true},
        {"resource.dropped_attributes_count == 0", true},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fx f;
        fx_init(&f);
        print_message("  %s\n", cases[i].text);
        assert_int_equal(COND(&f, cases[i].text), cases[i].want);
        fx_free(&f);
    }
}

/* Literals only, and unprefixed paths, in a given context. */
static void test_conditions_in_context(void **state)
{
    struct fx f;

    (void)state;
    fx_init(&f);
    assert_true(COND_SPAN(&f, "true or false and false")); /* and binds tighter */
    assert_false(COND_SPAN(&f, "(true or false) and false"));
    assert_true(COND_SPAN(&f, "1 == 1.0"));
    assert_true(COND_SPAN(&f, "\"b\" > \"a\" and \"a\" <= \"a\""));
    assert_true(COND_SPAN(&f, "0x01 < 0x02"));
    assert_true(COND_SPAN(&f, "nil == nil"));
    assert_true(COND_SPAN(&f, "-1 < 0"));
    assert_true(COND_SPAN(&f, "name == \"GET /health\" and attributes[\"ok\"] == true"));
    assert_true(COND_SPAN(&f, "resource.attributes[\"service.name\"] == \"frontend\""));
    assert_true(cond_in(&f, OTC_TRACES, OTC_OTTL_SPANEVENT, "name == \"exception\" and span.name != nil"));
    assert_true(cond_in(&f, OTC_TRACES, OTC_OTTL_RESOURCE, "attributes[\"host.name\"] == \"h1\""));
    assert_true(cond_in(&f, OTC_TRACES, OTC_OTTL_SCOPE, "name == \"lib\" and version == \"1.0\""));
    fx_free(&f);
}

/* ------------------------------------------------------------ editors */

static void test_set_and_where(void **state)
{
    struct fx f;
    const otc_any_value *v;

    (void)state;
    fx_init(&f);
    STMT(&f, "set(span.attributes[\"new\"], \"v\")");
    assert_string_equal(SPAN_ATTR(&f, "new")->string_value, "v");
    STMT(&f, "set(span.attributes[\"http.method\"], \"POST\") where span.kind == SPAN_KIND_CLIENT");
    assert_string_equal(SPAN_ATTR(&f, "http.method")->string_value, "GET");
    STMT(&f, "set(span.attributes[\"http.method\"], \"POST\") where span.kind == SPAN_KIND_SERVER");
    assert_string_equal(SPAN_ATTR(&f, "http.method")->string_value, "POST");
    STMT(&f, "set(span.name, Concat([span.attributes[\"http.method\"], span.attributes[\"route\"]], \" \"))");
    assert_string_equal(f.env.span->name, "POST <nil>");
    STMT(&f, "set(span.attributes[\"x\"], span.attributes[\"missing\"])"); /* nil: nothing */
    assert_null(SPAN_ATTR(&f, "x"));
    STMT(&f, "set(span.status.code, STATUS_CODE_OK)");
    assert_int_equal(f.env.span->status->code, 1);
    STMT(&f, "set(span.attributes[\"n\"], Len(span.name))");
    assert_int_equal(SPAN_ATTR(&f, "n")->int_value, 10);
    STMT(&f, "set(span.attributes[\"h\"], SHA256(span.attributes[\"secret\"]))");
    assert_int_equal(strlen(SPAN_ATTR(&f, "h")->string_value), 64);
    STMT(&f, "set(resource.attributes[\"env\"], \"prod\")");
    assert_string_equal(attr(f.env.resource->attributes, f.env.resource->n_attributes, "env")->string_value,
                        "prod");
    STMT(&f, "set(span.attributes[\"nested\"][\"b\"], 2)");
    v = SPAN_ATTR(&f, "nested");
    assert_int_equal(v->kvlist_value->n_values, 2);
    STMT(&f, "set(span.attributes[\"copy\"], span.attributes[\"nested\"])");
    assert_int_equal(SPAN_ATTR(&f, "copy")->kvlist_value->n_values, 2);
    assert_ptr_not_equal(SPAN_ATTR(&f, "copy")->kvlist_value, v->kvlist_value); /* a copy */
    STMT(&f, "set(spanevent.attributes[\"seen\"], span.name)");
    assert_string_equal(attr(f.env.event->attributes, f.env.event->n_attributes, "seen")->string_value,
                        "POST <nil>");
    STMT(&f, "set(span.name, 5)"); /* otelcol ignores a value of the wrong type */
    assert_string_equal(f.env.span->name, "POST <nil>");
    STMT(&f, "set(span.trace_id.string, \"ffffffffffffffffffffffffffffffff\")");
    assert_int_equal(f.env.span->trace_id.data[15], 0xff);
    fx_free(&f);
}

static void test_key_editors(void **state)
{
    struct fx f;

    (void)state;
    fx_init(&f);
    STMT(&f, "delete_key(span.attributes, \"secret\")");
    assert_null(SPAN_ATTR(&f, "secret"));
    assert_int_equal(f.env.span->n_attributes, 5);
    STMT(&f, "delete_matching_keys(span.attributes, \"^http\\\\.\")");
    assert_int_equal(f.env.span->n_attributes, 3);
    assert_null(SPAN_ATTR(&f, "http.method"));
    STMT(&f, "keep_keys(span.attributes, [\"ok\", \"nested\", \"absent\"])");
    assert_int_equal(f.env.span->n_attributes, 2);
    assert_non_null(SPAN_ATTR(&f, "ok"));
    STMT(&f, "keep_matching_keys(resource.attributes, \"^service\")");
    assert_int_equal(f.env.resource->n_attributes, 1);
    STMT(&f, "keep_keys(span.attributes[\"nested\"], [])");
    assert_int_equal(SPAN_ATTR(&f, "nested")->kvlist_value->n_values, 0);
    fx_free(&f);

    fx_init(&f);
    STMT(&f, "merge_maps(span.attributes, span.attributes[\"nested\"], \"upsert\")");
    assert_string_equal(SPAN_ATTR(&f, "a")->string_value, "x");
    STMT(&f, "set(span.attributes[\"nested\"][\"a\"], \"y\")");
    STMT(&f, "merge_maps(span.attributes, span.attributes[\"nested\"], \"insert\")");
    assert_string_equal(SPAN_ATTR(&f, "a")->string_value, "x");
    STMT(&f, "merge_maps(span.attributes, span.attributes[\"nested\"], \"update\")");
    assert_string_equal(SPAN_ATTR(&f, "a")->string_value, "y");
    STMT(&f, "limit(span.attributes, 2, [\"ok\"])");
    assert_int_equal(f.env.span->n_attributes, 2);
    assert_non_null(SPAN_ATTR(&f, "ok"));
    assert_non_null(SPAN_ATTR(&f, "http.method"));
    STMT(&f, "truncate_all(span.attributes, 2)");
    assert_string_equal(SPAN_ATTR(&f, "http.method")->string_value, "GE");
    fx_free(&f);
}

static void test_replace(void **state)
{
    struct fx f;
    char want[80];

    (void)state;
    fx_init(&f);
    STMT(&f, "replace_pattern(span.name, \"^GET /(\\\\w+)$\", \"route-$1\")");
    assert_string_equal(f.env.span->name, "route-health");
    /* Go's Expand: $1x names group "1x" (empty); ${1}x is group 1 then x */
    STMT(&f, "replace_pattern(span.attributes[\"secret\"], \"tok-(\\\\d+)\", \"$1x|${1}x\")");
    assert_string_equal(SPAN_ATTR(&f, "secret")->string_value, "|123x");
    STMT(&f, "replace_pattern(span.attributes[\"http.method\"], \"(?P<verb>[A-Z])\", \"<$verb>\")");
    assert_string_equal(SPAN_ATTR(&f, "http.method")->string_value, "<G><E><T>");
    STMT(&f, "replace_pattern(span.attributes[\"http.status_code\"], \"2\", \"3\")"); /* not a string */
    assert_int_equal(SPAN_ATTR(&f, "http.status_code")->int_value, 200);
    fx_free(&f);

    fx_init(&f);
    STMT(&f, "replace_pattern(span.attributes[\"secret\"], \"tok-(\\\\d+)\", \"$1\", SHA256, \"h:%s\")");
    snprintf(want, sizeof(want), "h:%s", "a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3");
    assert_string_equal(SPAN_ATTR(&f, "secret")->string_value, want);
    STMT(&f, "replace_all_patterns(span.attributes, \"value\", \"^GET$\", \"get\")");
    assert_string_equal(SPAN_ATTR(&f, "http.method")->string_value, "get");
    STMT(&f, "replace_all_patterns(span.attributes, \"key\", \"^http\\\\.\", \"h.\")");
    assert_non_null(SPAN_ATTR(&f, "h.method"));
    assert_null(SPAN_ATTR(&f, "http.method"));
    STMT(&f, "replace_match(span.name, \"GET /*\", \"GET /{path}\")");
    assert_string_equal(f.env.span->name, "GET /{path}");
    STMT(&f, "replace_match(span.name, \"POST*\", \"no\")");
    assert_string_equal(f.env.span->name, "GET /{path}");
    STMT(&f, "replace_match(span.attributes[\"h.method\"], \"{get,put}\", \"verb\")");
    assert_string_equal(SPAN_ATTR(&f, "h.method")->string_value, "verb");
    fx_free(&f);
}

/* ------------------------------------------------------------ other signals */

static void test_logs_and_metrics(void **state)
{
    struct otc_arena a;
    otc_logs_req *lreq;
    otc_log_record *lr;
    otc_metric m;
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint np;
    otc_key_value *pk[1];
    struct otc_ottl_env env = {0};
    struct otc_ottl_error pe;
    struct otc_ottl *o;
    char why[256];
    bool yes;

    (void)state;
    otc_arena_init(&a, 1 << 12);
    lreq = pt_logs(&a, 1);
    lr = pt_log(&a, TID, 16, 5);
    lr->severity_text = pt_str(&a, "warning");
    lr->body = pt_any_str(&a, "user=alice password=hunter2");
    lreq->resource_logs[0]->scope_logs[0]->log_records[0] = lr;
    env.resource = lreq->resource_logs[0]->resource;
    env.scope = lreq->resource_logs[0]->scope_logs[0]->scope;
    env.log = lr;
    env.arena = &a;
    {
        struct fx f = {.env = env};
        assert_int_equal(stmt_in(&f, OTC_LOGS, "set(log.severity_number, SEVERITY_NUMBER_WARN) "
                                 "where log.severity_text == \"warning\""), OTC_OK);
        assert_int_equal(lr->severity_number, 13);
        assert_true(cond_in(&f, OTC_LOGS, OTC_OTTL_CTX_INFER, "log.severity_number >= SEVERITY_NUMBER_WARN"));
        assert_int_equal(stmt_in(&f, OTC_LOGS, "replace_pattern(log.body, \"password=\\\\S+\", "
                                 "\"password=***\")"), OTC_OK);
        assert_string_equal(lr->body->string_value, "user=alice password=***");
        assert_int_equal(stmt_in(&f, OTC_LOGS, "set(log.attributes[\"sev\"], log.severity_text)"), OTC_OK);
        assert_string_equal(lr->attributes[0]->value->string_value, "warning");
        assert_int_equal(stmt_in(&f, OTC_LOGS, "set(log.body[\"k\"], 1)"), OTC_OK); /* body becomes a map */
        assert_true(cond_in(&f, OTC_LOGS, OTC_OTTL_LOG, "body[\"k\"] == 1 and trace_id.string == \"" TID_HEX "\""));
    }

    opentelemetry__proto__metrics__v1__metric__init(&m);
    opentelemetry__proto__metrics__v1__number_data_point__init(&np);
    m.name = pt_str(&a, "http.server.duration");
    pk[0] = pt_kv(&a, "route", pt_any_str(&a, "/health"));
    np.attributes = pt_attrs(&a, 1, pk);
    np.n_attributes = 1;
    np.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    np.as_double = 2.5;
    memset(&env, 0, sizeof(env));
    env.metric = &m;
    env.point = &np.base;
    env.arena = &a;
    o = otc_ottl_parse_statement("set(metric.name, \"renamed\") where metric.name == \"http.server.duration\"",
                                 OTC_METRICS, OTC_OTTL_CTX_INFER, &pe);
    assert_non_null(o);
    assert_int_equal(otc_ottl_context(o), OTC_OTTL_METRIC);
    assert_int_equal(otc_ottl_exec(o, &env, NULL, why, sizeof(why)), OTC_OK);
    assert_string_equal(m.name, "renamed");
    otc_ottl_free(o);
    o = otc_ottl_parse_condition("datapoint.attributes[\"route\"] == \"/health\" and "
                                 "datapoint.value_double > 2 and metric.name == \"renamed\"",
                                 OTC_METRICS, OTC_OTTL_CTX_INFER, &pe);
    assert_non_null(o);
    assert_int_equal(otc_ottl_context(o), OTC_OTTL_DATAPOINT);
    assert_int_equal(otc_ottl_eval(o, &env, &yes, why, sizeof(why)), OTC_OK);
    assert_true(yes);
    otc_ottl_free(o);
    o = otc_ottl_parse_condition("metric.type == METRIC_DATA_TYPE_NONE", OTC_METRICS,
                                 OTC_OTTL_CTX_INFER, &pe);
    assert_non_null(o);
    assert_int_equal(otc_ottl_eval(o, &env, &yes, why, sizeof(why)), OTC_OK);
    assert_true(yes);
    otc_ottl_free(o);
    otc_arena_release(&a);
}

/* Run-time errors: the function names the type it wanted. */
static void test_runtime_errors(void **state)
{
    struct fx f;

    (void)state;
    fx_init(&f);
    assert_int_equal(stmt_in(&f, OTC_TRACES, "set(span.attributes[\"h\"], SHA256(span.attributes[\"ok\"]))"),
                     OTC_EINVAL);
    assert_int_equal(stmt_in(&f, OTC_TRACES, "set(span.attributes[\"n\"], Len(span.attributes[\"ok\"]))"),
                     OTC_EINVAL);
    assert_int_equal(stmt_in(&f, OTC_TRACES, "delete_key(span.attributes[\"secret\"], \"x\")"), OTC_EINVAL);
    assert_int_equal(stmt_in(&f, OTC_TRACES, "delete_key(span.attributes[\"missing\"], \"x\")"), OTC_EINVAL);
    fx_free(&f);
}

/* ------------------------------------------------------------ parse errors */

static void expect_error(enum otc_signal s, enum otc_ottl_ctx ctx, bool statement, const char *text,
                         const char *needle, size_t pos)
{
    struct otc_ottl_error pe;
    struct otc_ottl *o = statement ? otc_ottl_parse_statement(text, s, ctx, &pe)
                                   : otc_ottl_parse_condition(text, s, ctx, &pe);

    print_message("  %s\n    -> %s at %zu\n", text, o ? "(parsed)" : pe.msg, pe.pos);
    assert_null(o);
    assert_non_null(strstr(pe.msg, needle));
    assert_int_equal(pe.pos, pos);
}

static void test_parse_errors(void **state)
{
    const enum otc_signal T = OTC_TRACES;
    const enum otc_ottl_ctx I = OTC_OTTL_CTX_INFER;

    (void)state;
    expect_error(T, I, true, "frobnicate(span.name)", "function frobnicate() is not supported", 0);
    expect_error(T, I, true, "set(span.nam, \"x\")", "path \"span.nam\" is not supported in context span", 4);
    expect_error(T, I, true, "set(attributes[\"x\"], \"y\")", "needs its context", 4);
    expect_error(T, I, true, "set(span.name, \"x\") where span.kind == SPAN_KIND_BOGUS",
                 "unknown enum or converter SPAN_KIND_BOGUS", 39);
    expect_error(T, I, true, "set(span.name, \"a\" + \"b\")", "math expressions are not supported", 19);
    expect_error(T, I, true, "set(span.name, Upper(span.name))", "function Upper() is not supported", 15);
    expect_error(T, I, false, "IsMatch(span.name, \"(\")", "invalid regex", 19);
    expect_error(T, I, true, "set(span.name)", "set: takes 2 arguments, got 1", 13);
    expect_error(T, I, true, "truncate_all(span.attributes, -1)", "cannot be negative", 30);
    expect_error(T, I, true, "limit(span.attributes, 1, [\"a\", \"b\"])",
                 "cannot be less than number of priority attributes 2", 23);
    expect_error(T, I, true, "set(span.name, \"x\") where", "unexpected end of the statement", 25);
    expect_error(T, I, true, "set(log.body, \"x\")", "context \"log\" does not exist in traces", 4);
    expect_error(OTC_METRICS, I, true, "set(span.name, \"x\")", "context \"span\" does not exist in metrics", 4);
    expect_error(T, I, true, "span.name == \"x\"", "a statement is an editor call", 0);
    expect_error(T, I, true, "IsMatch(span.name, \"x\")", "IsMatch() is a converter", 0);
    expect_error(T, I, true, "set(span.name, \"x\") extra", "unexpected text after the statement", 20);
    expect_error(T, I, false, "span.name", "expected a comparison", 0);
    expect_error(T, I, true, "replace_pattern(span.name, \"a\", \"b\", MD5)", "unknown enum or converter MD5", 37);
    expect_error(T, I, true, "set(span.name, \"\\d\")", "invalid escape \\d", 16);
    expect_error(T, I, true, "keep_keys(span.name, [\"a\"])", "the target must be a map", 10);
    expect_error(T, I, true, "set(span.attributes[\"a\"], set(span.name, \"b\"))",
                 "set() is an editor", 26);
    expect_error(T, I, true, "set(span.name, \"unterminated)", "unterminated string", 15);
    expect_error(T, I, true, "set(span.name, cache[\"x\"])", "the cache path is not supported", 15);
    expect_error(T, I, true, "merge_maps(span.attributes, span.attributes, \"both\")", "strategy must be", 45);
    expect_error(T, I, true, "replace_all_patterns(span.attributes, \"keys\", \"a\", \"b\")",
                 "mode must be \"key\" or \"value\"", 38);
    expect_error(T, OTC_OTTL_SPAN, false, "spanevent.name == \"x\"",
                 "a spanevent path cannot be used in context span", 0);
}

/* A statement whose paths name several contexts runs in the narrowest. */
static void test_context_inference(void **state)
{
    static const struct { const char *text; enum otc_signal s; enum otc_ottl_ctx want; } cases[] = {
        {"set(resource.attributes[\"a\"], \"b\")", OTC_TRACES, OTC_OTTL_RESOURCE},
        {"set(scope.name, resource.attributes[\"a\"])", OTC_TRACES, OTC_OTTL_SCOPE},
        {"set(span.name, resource.attributes[\"a\"])", OTC_TRACES, OTC_OTTL_SPAN},
        {"set(span.name, \"x\") where spanevent.name == \"e\"", OTC_TRACES, OTC_OTTL_SPANEVENT},
        {"set(metric.name, \"x\")", OTC_METRICS, OTC_OTTL_METRIC},
        {"set(datapoint.attributes[\"a\"], metric.name)", OTC_METRICS, OTC_OTTL_DATAPOINT},
        {"set(log.body, resource.attributes[\"a\"])", OTC_LOGS, OTC_OTTL_LOG},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct otc_ottl_error pe;
        struct otc_ottl *o = otc_ottl_parse_statement(cases[i].text, cases[i].s, OTC_OTTL_CTX_INFER, &pe);
        if (!o) {
            fail_msg("%s: %s", cases[i].text, pe.msg);
        }
        assert_int_equal(otc_ottl_context(o), cases[i].want);
        otc_ottl_free(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_conditions_in_context),
        cmocka_unit_test(test_set_and_where),
        cmocka_unit_test(test_key_editors),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_logs_and_metrics),
        cmocka_unit_test(test_runtime_errors),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_context_inference),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
