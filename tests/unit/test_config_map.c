/* test_config_map.c - unit tests for option tables (core/config_map.c): the
 * scalar parsers, defaults, typed setters with range checks, enums, freeing and lookups. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "otc/otc_config_map.h"
#include "otc/otc_rc.h"

#define MS(x) ((int64_t)(x) * 1000000LL)
#define SEC(x) ((int64_t)(x) * 1000000000LL)

/* ------------------------------------------------------------ parsers */

static void test_parse_bool(void **state)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    static const char *const bad[] = {"", "yes", "1", "0", "on", "tru", "truex", " true", "tRUE"};
    bool v;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        v = false;
        assert_int_equal(otc_parse_bool(yes[i], &v), OTC_OK);
        assert_true(v);
        v = true;
        assert_int_equal(otc_parse_bool(no[i], &v), OTC_OK);
        assert_false(v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = true;
        assert_int_equal(otc_parse_bool(bad[i], &v), OTC_EINVAL);
        assert_true(v); /* untouched on error */
    }
}

static void test_parse_int(void **state)
{
    int64_t v;

    (void)state;
    assert_int_equal(otc_parse_int("42", &v), OTC_OK);
    assert_int_equal(v, 42);
    assert_int_equal(otc_parse_int("-7", &v), OTC_OK);
    assert_int_equal(v, -7);
    assert_int_equal(otc_parse_int("0", &v), OTC_OK);
    assert_int_equal(v, 0);
    assert_int_equal(otc_parse_int("0x10", &v), OTC_OK);
    assert_int_equal(v, 16);
    assert_int_equal(otc_parse_int("9223372036854775807", &v), OTC_OK);
    assert_true(v == INT64_MAX);
    v = 5;
    assert_int_equal(otc_parse_int("", &v), OTC_EINVAL);
    assert_int_equal(otc_parse_int("abc", &v), OTC_EINVAL);
    assert_int_equal(otc_parse_int("12abc", &v), OTC_EINVAL);
    assert_int_equal(otc_parse_int("1.5", &v), OTC_EINVAL);
    assert_int_equal(otc_parse_int("9223372036854775808", &v), OTC_EINVAL);
    assert_int_equal(otc_parse_int("99999999999999999999", &v), OTC_EINVAL);
    assert_int_equal(v, 5);
}

static void test_parse_double(void **state)
{
    double v;

    (void)state;
    assert_int_equal(otc_parse_double("1.5", &v), OTC_OK);
    assert_true(v == 1.5);
    assert_int_equal(otc_parse_double("-2", &v), OTC_OK);
    assert_true(v == -2.0);
    assert_int_equal(otc_parse_double("1e3", &v), OTC_OK);
    assert_true(v == 1000.0);
    assert_int_equal(otc_parse_double("0.25", &v), OTC_OK);
    assert_true(v == 0.25);
    v = 7.0;
    assert_int_equal(otc_parse_double("", &v), OTC_EINVAL);
    assert_int_equal(otc_parse_double("abc", &v), OTC_EINVAL);
    assert_int_equal(otc_parse_double("1.5x", &v), OTC_EINVAL);
    assert_int_equal(otc_parse_double("nan", &v), OTC_EINVAL);
    assert_int_equal(otc_parse_double("inf", &v), OTC_EINVAL);
    assert_int_equal(otc_parse_double("1e999", &v), OTC_EINVAL);
    assert_true(v == 7.0);
}

static void test_parse_size(void **state)
{
    static const struct {
        const char *text;
        uint64_t    want;
    } good[] = {
        {"0", 0},
        {"512", 512},
        {"512b", 512},
        {"64k", 65536},
        {"64K", 65536},
        {"64kb", 65536},
        {"64KiB", 65536},
        {"4MiB", 4194304},
        {"4m", 4194304},
        {"4MB", 4194304},
        {"1.5m", 1572864},     /* fractions are allowed with a unit */
        {"0.5k", 512},
        {"2g", 2147483648ull},
        {"1GiB", 1073741824ull},
        {"10 KiB", 10240},     /* a space before the unit */
    };
    static const char *const bad[] = {
        "", "-1", "-1k", "k", "64x", "64kx", "4 MiB x", "abc", "1e30", "inf", "nan", "64 k b",
    };
    uint64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        v = 12345;
        if (otc_parse_size(good[i].text, &v) != OTC_OK || v != good[i].want) {
            fail_msg("otc_parse_size(\"%s\"): got %llu, want %llu", good[i].text,
                     (unsigned long long)v, (unsigned long long)good[i].want);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 12345;
        if (otc_parse_size(bad[i], &v) != OTC_EINVAL) {
            fail_msg("otc_parse_size(\"%s\") accepted, value %llu", bad[i], (unsigned long long)v);
        }
        assert_int_equal(v, 12345);
    }
}

static void test_parse_duration(void **state)
{
    static const struct {
        const char *text;
        int64_t     want;
    } good[] = {
        {"0", 0},
        {"0s", 0},
        {"200ms", MS(200)},
        {"5s", SEC(5)},
        {"1m", SEC(60)},
        {"1m30s", SEC(90)},
        {"1h", SEC(3600)},
        {"1h2m3s4ms", SEC(3723) + MS(4)},
        {"1.5h", SEC(5400)},
        {"1.5m", SEC(90)},
        {"250us", 250000},
        {"250\xc2\xb5s", 250000}, /* µs */
        {"10ns", 10},
        {"300s", SEC(300)},
        {"0.5s", MS(500)},
        {"1.1s", MS(1100)},
        /* decimal fractions must come out exact, as Go's time.ParseDuration does */
        {"4.1s", MS(4100)},
        {"2.01s", MS(2010)},
        {"8.2s", MS(8200)},
        {"1.005s", 1005000000},
    };
    static const char *const bad[] = {
        "", "abc", "5", "10 s", "-5s", "5s-1s", "5x", "s", "1m30", "5+s", "1e999h", "nans", "ms",
    };
    int64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        v = -1;
        if (otc_parse_duration(good[i].text, &v) != OTC_OK || v != good[i].want) {
            fail_msg("otc_parse_duration(\"%s\"): got %lld ns, want %lld ns", good[i].text,
                     (long long)v, (long long)good[i].want);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = -1;
        if (otc_parse_duration(bad[i], &v) != OTC_EINVAL) {
            fail_msg("otc_parse_duration(\"%s\") accepted, value %lld ns", bad[i], (long long)v);
        }
        assert_int_equal(v, -1);
    }
    /* an option's value may also be a bare integer: nanoseconds, as otelcol
     * decodes an int into a time.Duration */
    assert_int_equal(otc_parse_duration_value("5", &v), OTC_OK);
    assert_int_equal(v, 5);
    assert_int_equal(otc_parse_duration_value("5000000000", &v), OTC_OK);
    assert_int_equal(v, SEC(5));
    assert_int_equal(otc_parse_duration_value("0", &v), OTC_OK);
    assert_int_equal(v, 0);
    assert_int_equal(otc_parse_duration_value("1m30s", &v), OTC_OK);
    assert_int_equal(v, SEC(90));
    assert_int_equal(otc_parse_duration_value("-5", &v), OTC_EINVAL);
    assert_int_equal(otc_parse_duration_value("99999999999999999999", &v), OTC_EINVAL);
    assert_int_equal(otc_parse_duration_value("5 ", &v), OTC_EINVAL);
}

/* ------------------------------------------------------------ tables */

struct sample {
    bool               flag;
    int64_t            count;
    double             ratio;
    uint64_t           bytes;
    int64_t            wait_ns;
    char              *name;
    char              *nodef;
    int                mode;
    struct otc_strmap  headers;
    struct otc_strlist tags;
    bool               tls_section;
    bool               tls_insecure;
};

static const char *const mode_choices[] = {"gzip", "none", "zstd", NULL};

#define OFF(f) offsetof(struct sample, f)

static const struct otc_config_entry sample_map[] = {
    {OTC_CFG_BOOL, "flag", "true", OFF(flag), 0, 0, 0, NULL, "a flag"},
    {OTC_CFG_INT, "count", "10", OFF(count), OTC_CFG_F_MIN | OTC_CFG_F_MAX, 1, 100, NULL,
     "between 1 and 100"},
    {OTC_CFG_DOUBLE, "ratio", "0.5", OFF(ratio), OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0, 1, NULL,
     "a fraction"},
    {OTC_CFG_SIZE, "bytes", "4MiB", OFF(bytes), OTC_CFG_F_MAX, 0, 16 << 20, NULL, "up to 16 MiB"},
    {OTC_CFG_DURATION, "wait", "5s", OFF(wait_ns), OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0.001, 60, NULL,
     "1ms to 60s"},
    {OTC_CFG_STR, "name", "default-name", OFF(name), 0, 0, 0, NULL, "a string"},
    {OTC_CFG_STR, "nodef", NULL, OFF(nodef), 0, 0, 0, NULL, "a string without default"},
    {OTC_CFG_ENUM, "mode", "none", OFF(mode), 0, 0, 0, mode_choices, "gzip, none or zstd"},
    {OTC_CFG_STRMAP, "headers", NULL, OFF(headers), 0, 0, 0, NULL, "a mapping"},
    {OTC_CFG_STRLIST, "tags", NULL, OFF(tags), 0, 0, 0, NULL, "a list"},
    {OTC_CFG_SECTION, "tls", NULL, OFF(tls_section), 0, 0, 0, NULL, "a section"},
    {OTC_CFG_BOOL, "tls.insecure", "false", OFF(tls_insecure), 0, 0, 0, NULL, "plaintext"},
    OTC_CFG_END,
};

static const struct otc_config_entry *entry(const char *key)
{
    const struct otc_config_entry *e = otc_config_map_find(sample_map, key);

    assert_non_null(e);
    return e;
}

static void test_defaults(void **state)
{
    struct sample s;

    (void)state;
    memset(&s, 0, sizeof(s));
    s.tls_insecure = true;
    assert_int_equal(otc_config_map_defaults(sample_map, &s), OTC_OK);
    assert_true(s.flag);
    assert_int_equal(s.count, 10);
    assert_true(s.ratio == 0.5);
    assert_int_equal(s.bytes, 4u << 20);
    assert_int_equal(s.wait_ns, SEC(5));
    assert_non_null(s.name);
    assert_string_equal(s.name, "default-name");
    assert_null(s.nodef);
    assert_int_equal(s.mode, 1);
    assert_int_equal(s.headers.n, 0);
    assert_int_equal(s.tags.n, 0);
    assert_false(s.tls_section); /* sections are only set by the YAML loader */
    assert_false(s.tls_insecure);
    otc_config_map_free(sample_map, &s);
    assert_null(s.name);
    /* an empty table and a NULL table are fine */
    {
        static const struct otc_config_entry empty[] = {OTC_CFG_END};
        assert_int_equal(otc_config_map_defaults(empty, &s), OTC_OK);
        assert_int_equal(otc_config_map_defaults(NULL, &s), OTC_OK);
        otc_config_map_free(NULL, &s);
    }
}

static void test_bad_default_is_reported(void **state)
{
    static const struct otc_config_entry broken[] = {
        {OTC_CFG_INT, "n", "ten", 0, 0, 0, 0, NULL, "broken default"},
        OTC_CFG_END,
    };
    static const struct otc_config_entry out_of_range[] = {
        {OTC_CFG_INT, "n", "0", 0, OTC_CFG_F_MIN, 1, 0, NULL, "default below min"},
        OTC_CFG_END,
    };
    int64_t n = 0;

    (void)state;
    assert_int_equal(otc_config_map_defaults(broken, &n), OTC_EINVAL);
    assert_int_equal(otc_config_map_defaults(out_of_range, &n), OTC_EINVAL);
}

static void test_set_each_type(void **state)
{
    struct sample s;
    char err[256];

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(otc_config_map_defaults(sample_map, &s), OTC_OK);
    assert_int_equal(otc_config_map_set(entry("flag"), &s, "false", err, sizeof(err)), OTC_OK);
    assert_false(s.flag);
    assert_int_equal(otc_config_map_set(entry("count"), &s, "99", err, sizeof(err)), OTC_OK);
    assert_int_equal(s.count, 99);
    assert_int_equal(otc_config_map_set(entry("ratio"), &s, "0.125", err, sizeof(err)), OTC_OK);
    assert_true(s.ratio == 0.125);
    assert_int_equal(otc_config_map_set(entry("bytes"), &s, "64k", err, sizeof(err)), OTC_OK);
    assert_int_equal(s.bytes, 65536);
    assert_int_equal(otc_config_map_set(entry("wait"), &s, "1m30s", err, sizeof(err)), OTC_EINVAL);
    assert_int_equal(s.wait_ns, SEC(5)); /* above the 60 s maximum: unchanged */
    assert_int_equal(otc_config_map_set(entry("wait"), &s, "200ms", err, sizeof(err)), OTC_OK);
    assert_int_equal(s.wait_ns, MS(200));
    assert_int_equal(otc_config_map_set(entry("name"), &s, "first", err, sizeof(err)), OTC_OK);
    assert_string_equal(s.name, "first");
    /* setting a string again frees the old value (LeakSanitizer checks) */
    assert_int_equal(otc_config_map_set(entry("name"), &s, "second", err, sizeof(err)), OTC_OK);
    assert_string_equal(s.name, "second");
    assert_int_equal(otc_config_map_set(entry("nodef"), &s, "", err, sizeof(err)), OTC_OK);
    assert_string_equal(s.nodef, "");
    assert_int_equal(otc_config_map_set(entry("mode"), &s, "zstd", err, sizeof(err)), OTC_OK);
    assert_int_equal(s.mode, 2);
    assert_int_equal(otc_config_map_set(entry("mode"), &s, "gzip", err, sizeof(err)), OTC_OK);
    assert_int_equal(s.mode, 0);
    assert_int_equal(otc_config_map_set(entry("tls"), &s, "", err, sizeof(err)), OTC_OK);
    assert_true(s.tls_section);
    assert_int_equal(otc_config_map_set(entry("tls.insecure"), &s, "true", err, sizeof(err)),
                     OTC_OK);
    assert_true(s.tls_insecure);
    otc_config_map_free(sample_map, &s);
    assert_null(s.name);
    assert_null(s.nodef);
}

static void test_set_errors(void **state)
{
    struct sample s;
    char err[256];

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(otc_config_map_defaults(sample_map, &s), OTC_OK);

    err[0] = '\0';
    assert_int_equal(otc_config_map_set(entry("flag"), &s, "yes", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "expected true or false, got 'yes'");
    assert_true(s.flag);

    assert_int_equal(otc_config_map_set(entry("count"), &s, "ten", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "expected an integer, got 'ten'");
    assert_int_equal(otc_config_map_set(entry("count"), &s, "0", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "value must be >= 1");
    assert_int_equal(otc_config_map_set(entry("count"), &s, "101", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "value must be <= 100");
    assert_int_equal(s.count, 10);
    /* the bounds themselves are allowed */
    assert_int_equal(otc_config_map_set(entry("count"), &s, "1", err, sizeof(err)), OTC_OK);
    assert_int_equal(otc_config_map_set(entry("count"), &s, "100", err, sizeof(err)), OTC_OK);
    assert_int_equal(s.count, 100);

    assert_int_equal(otc_config_map_set(entry("ratio"), &s, "1.5", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "value must be <= 1");
    assert_int_equal(otc_config_map_set(entry("ratio"), &s, "-0.1", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "value must be >= 0");
    assert_int_equal(otc_config_map_set(entry("ratio"), &s, "half", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "expected a number, got 'half'");
    assert_true(s.ratio == 0.5);

    assert_int_equal(otc_config_map_set(entry("bytes"), &s, "-1", err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "got '-1'"));
    assert_int_equal(otc_config_map_set(entry("bytes"), &s, "17MiB", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "value must be <= 1.67772e+07");
    assert_int_equal(s.bytes, 4u << 20);

    assert_int_equal(otc_config_map_set(entry("wait"), &s, "5x", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "expected a duration such as 200ms, 5s or 1m (or an integer of "
                             "nanoseconds), got '5x'");
    /* a bare integer is nanoseconds (otelcol's int into time.Duration) */
    assert_int_equal(otc_config_map_set(entry("wait"), &s, "5", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "value must be >= 0.001");
    assert_int_equal(otc_config_map_set(entry("wait"), &s, "2000000", err, sizeof(err)), OTC_OK);
    assert_int_equal(s.wait_ns, MS(2));
    assert_int_equal(otc_config_map_set(entry("wait"), &s, "0", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "value must be >= 0.001");
    assert_int_equal(otc_config_map_set(entry("wait"), &s, "1ms", err, sizeof(err)), OTC_OK);
    assert_int_equal(s.wait_ns, MS(1));

    assert_int_equal(otc_config_map_set(entry("headers"), &s, "x", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "expected a mapping, got a scalar");
    assert_int_equal(otc_config_map_set(entry("tags"), &s, "x", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "expected a sequence, got a scalar");
    otc_config_map_free(sample_map, &s);
}

/* A bad enum value is refused with a message naming every choice. */
static void test_enum_bad_choice(void **state)
{
    struct sample s;
    char err[256];
    char tiny[12];

    (void)state;
    memset(&s, 0, sizeof(s));
    s.mode = 1;
    assert_int_equal(otc_config_map_set(entry("mode"), &s, "lz4", err, sizeof(err)), OTC_EINVAL);
    assert_string_equal(err, "'lz4' is not one of: gzip none zstd");
    assert_int_equal(s.mode, 1);
    /* case matters */
    assert_int_equal(otc_config_map_set(entry("mode"), &s, "GZIP", err, sizeof(err)), OTC_EINVAL);
    /* a short buffer is truncated safely (ASan checks the bounds) */
    memset(tiny, 'x', sizeof(tiny));
    assert_int_equal(otc_config_map_set(entry("mode"), &s, "lz4", tiny, sizeof(tiny)), OTC_EINVAL);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    assert_memory_equal(tiny, "'lz4' is n", 10);
}

/* STR, STRMAP and STRLIST values are freed and cleared by otc_config_map_free. */
/* OTC_CFG_F_ICASE: an enum whose choices match whatever the case. A NODE row
 * holds a YAML node and only the YAML walk sets it: from text it is an error. */
struct icase_sample {
    int         level;
    int         exact;
    const void *raw;
};

static void test_enum_icase_and_node(void **state)
{
    static const char *const levels[] = {"debug", "info", NULL};
    static const struct otc_config_entry map[] = {
        {OTC_CFG_ENUM, "level", "debug", offsetof(struct icase_sample, level), OTC_CFG_F_ICASE,
         0, 0, levels, "any case"},
        {OTC_CFG_ENUM, "exact", NULL, offsetof(struct icase_sample, exact), 0, 0, 0, levels,
         "exact case"},
        {OTC_CFG_NODE, "raw", NULL, offsetof(struct icase_sample, raw), 0, 0, 0, NULL,
         "any YAML"},
        OTC_CFG_END,
    };
    struct icase_sample c = {5, 5, NULL};
    char err[128];

    (void)state;
    assert_int_equal(otc_config_map_defaults(map, &c), OTC_OK);
    assert_int_equal(c.level, 0);
    assert_int_equal(c.exact, 5); /* no default: untouched */
    assert_int_equal(otc_config_map_set(&map[0], &c, "INFO", err, sizeof(err)), OTC_OK);
    assert_int_equal(c.level, 1);
    assert_int_equal(otc_config_map_set(&map[0], &c, "Debug", err, sizeof(err)), OTC_OK);
    assert_int_equal(c.level, 0);
    assert_int_equal(otc_config_map_set(&map[1], &c, "INFO", err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "'INFO' is not one of: debug info"));
    assert_int_equal(otc_config_map_set(&map[1], &c, "info", err, sizeof(err)), OTC_OK);
    assert_int_equal(c.exact, 1);
    assert_int_equal(otc_config_map_set(&map[2], &c, "x", err, sizeof(err)), OTC_EINVAL);
    assert_null(c.raw);
    otc_config_map_free(map, &c);
}

static void test_free_collections(void **state)
{
    struct sample s;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(otc_config_map_defaults(sample_map, &s), OTC_OK);
    s.nodef = strdup("x");
    s.headers.n = 2;
    s.headers.keys = calloc(2, sizeof(char *));
    s.headers.vals = calloc(2, sizeof(char *));
    assert_non_null(s.headers.keys);
    assert_non_null(s.headers.vals);
    s.headers.keys[0] = strdup("a");
    s.headers.vals[0] = strdup("1");
    s.headers.keys[1] = strdup("b");
    s.headers.vals[1] = strdup("2");
    s.tags.n = 1;
    s.tags.v = calloc(1, sizeof(char *));
    assert_non_null(s.tags.v);
    s.tags.v[0] = strdup("t");
    otc_config_map_free(sample_map, &s);
    assert_null(s.name);
    assert_null(s.nodef);
    assert_int_equal(s.headers.n, 0);
    assert_null(s.headers.keys);
    assert_null(s.headers.vals);
    assert_int_equal(s.tags.n, 0);
    assert_null(s.tags.v);
    /* freeing twice is safe */
    otc_config_map_free(sample_map, &s);
}

static void test_find_and_is_section(void **state)
{
    const struct otc_config_entry *e;

    (void)state;
    e = otc_config_map_find(sample_map, "tls.insecure");
    assert_non_null(e);
    assert_int_equal(e->type, OTC_CFG_BOOL);
    assert_ptr_equal(e, &sample_map[11]);
    assert_ptr_equal(otc_config_map_find(sample_map, "count"), &sample_map[1]);
    assert_null(otc_config_map_find(sample_map, "insecure"));
    assert_null(otc_config_map_find(sample_map, "tls.insecure.x"));
    assert_null(otc_config_map_find(sample_map, "cou"));
    assert_null(otc_config_map_find(sample_map, ""));
    assert_null(otc_config_map_find(NULL, "count"));

    assert_true(otc_config_map_is_section(sample_map, "tls"));
    assert_false(otc_config_map_is_section(sample_map, "tl"));
    assert_false(otc_config_map_is_section(sample_map, "tls.insecure"));
    assert_false(otc_config_map_is_section(sample_map, "count"));
    assert_false(otc_config_map_is_section(sample_map, "sending_queue"));
    assert_false(otc_config_map_is_section(sample_map, ""));
    {
        static const struct otc_config_entry deep[] = {
            {OTC_CFG_INT, "a.b.c", "1", 0, 0, 0, 0, NULL, "deep"},
            OTC_CFG_END,
        };
        assert_true(otc_config_map_is_section(deep, "a"));
        assert_true(otc_config_map_is_section(deep, "a.b"));
        assert_false(otc_config_map_is_section(deep, "a.b.c"));
        assert_false(otc_config_map_is_section(deep, "b"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_bool),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_parse_double),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bad_default_is_reported),
        cmocka_unit_test(test_set_each_type),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_enum_bad_choice),
        cmocka_unit_test(test_enum_icase_and_node),
        cmocka_unit_test(test_free_collections),
        cmocka_unit_test(test_find_and_is_section),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
