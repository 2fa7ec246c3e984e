/* probabilistic_sampler.c - the `probabilistic_sampler` processor: otelcol-contrib's
 * probabilisticsamplerprocessor in hash_seed mode. Each span (by trace id) and log
 * record (by trace id or an attribute) is kept or dropped with the same decision
 * otelcol makes, so every span of a trace shares one fate on every collector with
 * the same seed. Runs on the pipeline worker threads, several at once. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_otlp.h"
#include "otc/otc_pb_walk.h"
#include "probabilistic_sampler.h"

#define ANY(c) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c

/* otelcol's constants: 14 bits of the hash against a 56-bit threshold space. */
#define HASH_BUCKETS      0x4000u
#define HASH_BUCKET_MASK  (HASH_BUCKETS - 1)
#define MAX_ADJUSTED      (1ull << 56)
#define TH_ALWAYS         0ull                /* 100%: every randomness passes */
#define TH_NEVER          MAX_ADJUSTED        /* 0%: none passes */
#define RND_ALL           (MAX_ADJUSTED - 1)  /* the randomness used when none exists */

#define PRIORITY_KEY      "sampling.priority"
#define LOG_THRESHOLD_KEY "sampling.threshold"
#define LOG_RANDOM_KEY    "sampling.randomness"

struct sampler_ctx {
    double    sampling_percentage;
    int64_t   hash_seed;
    char     *mode;
    bool      fail_closed;
    int64_t   sampling_precision;
    char     *attribute_source;
    char     *from_attribute;
    char     *sampling_priority;
    /* derived by init */
    uint32_t  seed;
    uint32_t  seed_h;        /* FNV-1a state after the seed's 4 bytes */
    uint64_t  threshold;     /* reject threshold: keep when randomness >= threshold */
    bool      never;         /* otelcol's neverSampler: 0%, or a rate that rounds to 0 */
    bool      logs_trace_id; /* attribute_source: traceID */
};

#define OFF(f) offsetof(struct sampler_ctx, f)

static const struct otc_config_entry sampler_config[] = {
    {OTC_CFG_DOUBLE, "sampling_percentage", "0", OFF(sampling_percentage), 0, 0, 0, NULL,
     "percentage of traces (and logs) kept, as a 32-bit float like otelcol; >= 100 keeps all, "
     "0 keeps none"},
    {OTC_CFG_INT, "hash_seed", "0", OFF(hash_seed), OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0, 4294967295.0,
     NULL, "uint32 seed of the FNV-1a hash; collectors of one tier must share it"},
    {OTC_CFG_STR, "mode", NULL, OFF(mode), 0, 0, 0, NULL,
     "sampler mode: hash_seed (the default; proportional and equalizing are not implemented)"},
    {OTC_CFG_BOOL, "fail_closed", "true", OFF(fail_closed), 0, 0, 0, NULL,
     "drop items whose sampling randomness is missing or unusable (no trace id, no from_attribute "
     "value, a tracestate with an explicit threshold or randomness); false keeps them"},
    {OTC_CFG_INT, "sampling_precision", "4", OFF(sampling_precision),
     OTC_CFG_F_MIN | OTC_CFG_F_MAX, 1, 14, NULL,
     "hex digits of the threshold derived from a log record's sampling_priority percentage"},
    {OTC_CFG_STR, "attribute_source", "traceID", OFF(attribute_source), 0, 0, 0, NULL,
     "logs: traceID hashes the record's trace id (from_attribute when it has none); record "
     "hashes the from_attribute value"},
    {OTC_CFG_STR, "from_attribute", NULL, OFF(from_attribute), 0, 0, 0, NULL,
     "logs: name of the log record attribute whose value is hashed"},
    {OTC_CFG_STR, "sampling_priority", NULL, OFF(sampling_priority), 0, 0, 0, NULL,
     "logs: name of a numeric log record attribute that overrides the percentage for that "
     "record (spans always use the sampling.priority attribute)"},
    OTC_CFG_END,
};

/* ------------------------------------------------------------ config */

static int sampler_validate(const void *vctx, char *err, size_t errlen)
{
    const struct sampler_ctx *x = vctx;
    float pct = (float)x->sampling_percentage; /* otelcol reads a float32 */
    double ratio = (double)pct / 100.0;

    if (isinf(pct) || isnan(pct)) {
        snprintf(err, errlen, "sampling rate is invalid: %f%%", (double)pct);
        return OTC_EINVAL;
    }
    if (ratio < 0) {
        snprintf(err, errlen, "sampling rate is negative: %f%%", (double)pct);
        return OTC_EINVAL;
    }
    if (ratio > 0 && ratio < 1.0 / (double)MAX_ADJUSTED) {
        snprintf(err, errlen, "sampling rate is too small: %g%%", (double)pct);
        return OTC_EINVAL;
    }
    if (x->mode && *x->mode && strcmp(x->mode, "hash_seed")) {
        if (!strcmp(x->mode, "proportional") || !strcmp(x->mode, "equalizing")) {
            snprintf(err, errlen, "mode \"%s\" is not supported; otelc implements hash_seed only",
                     x->mode);
        } else {
            snprintf(err, errlen, "unsupported sampler mode \"%s\" (hash_seed)", x->mode);
        }
        return OTC_EINVAL;
    }
    if (!x->attribute_source ||
        (strcmp(x->attribute_source, "traceID") && strcmp(x->attribute_source, "record"))) {
        snprintf(err, errlen, "invalid attribute source: %s. Expected: traceID or record",
                 x->attribute_source ? x->attribute_source : "");
        return OTC_EINVAL;
    }
    return OTC_OK;
}

static uint32_t sampler_seed_state(uint32_t seed);

static int sampler_init(struct otc_instance *ins, void *vctx)
{
    struct sampler_ctx *x = vctx;
    float pct = (float)x->sampling_percentage;
    uint32_t scaled;

    if (pct > 100) {
        pct = 100;
    }
    x->seed = (uint32_t)x->hash_seed;
    x->seed_h = sampler_seed_state(x->seed);
    x->logs_trace_id = !strcmp(x->attribute_source, "traceID");
    /* As otelcol: the product is taken in float32 and truncated toward zero. */
    scaled = pct > 0 ? (uint32_t)(pct * (float)(HASH_BUCKETS / 100.0)) : 0;
    x->never = scaled == 0;
    x->threshold = x->never ? TH_NEVER : (uint64_t)(HASH_BUCKETS - scaled) << 42;
    return OTC_OK;
}

/* ------------------------------------------------------------ randomness */

/* FNV-1a (32 bit) over the seed's 4 bytes, least significant first: the state
 * every hash starts from (computed once, in init). */
static uint32_t sampler_seed_state(uint32_t seed)
{
    uint32_t h = 2166136261u;

    for (int i = 0; i < 4; i++) {
        h ^= (uint8_t)(seed >> (8 * i));
        h *= 16777619u;
    }
    return h;
}

/* FNV-1a (32 bit) continued from the seed state h over b. */
static uint32_t sampler_hash(uint32_t h, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}

/* otelcol's randomnessFromBytes: the 14-bit bucket b becomes the top bits
 * (0x3FFF - b), so "randomness >= threshold" holds exactly when b < scaled. */
static uint64_t sampler_randomness(uint32_t h)
{
    uint64_t hashed = h & HASH_BUCKET_MASK;
    uint64_t unused = h >> (32 - 14);
    uint64_t mixed = unused ^ (unused << 10);

    return ((HASH_BUCKET_MASK - hashed) << 42) | (mixed << 14) | hashed;
}

static bool trace_id_valid(const ProtobufCBinaryData *id)
{
    uint64_t a, b;

    if (id->len != 16) {
        return false;
    }
    memcpy(&a, id->data, 8);
    memcpy(&b, id->data + 8, 8);
    return (a | b) != 0;
}

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------ tracestate */

enum ts_state { TS_OK, TS_ERROR, TS_IN_USE };

static bool ts_lcalpha(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool ts_lcalnum(char c)
{
    return ts_lcalpha(c) || (c >= '0' && c <= '9');
}

static bool ts_key_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!ts_lcalnum(c) && c != '_' && c != '-' && c != '*' && c != '/') {
            return false;
        }
    }
    return true;
}

/* W3C key: simple-key, or tenant@system (sizes are checked separately). */
static bool ts_key_valid(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);

    if (n == 0) {
        return false;
    }
    if (at) {
        size_t tl = (size_t)(at - k), sl = n - tl - 1;
        return tl > 0 && sl > 0 && ts_lcalnum(k[0]) && ts_lcalpha(at[1]) &&
               ts_key_chars(k + 1, tl - 1) && ts_key_chars(at + 2, sl - 1);
    }
    return ts_lcalpha(k[0]) && ts_key_chars(k + 1, n - 1);
}

static bool ts_nonblank(unsigned char c)
{
    return (c >= 0x21 && c <= 0x2B) || (c >= 0x2D && c <= 0x3C) || (c >= 0x3E && c <= 0x7E);
}

static bool ts_value_valid(const char *v, size_t n)
{
    if (n == 0 || n > 256 || !ts_nonblank((unsigned char)v[n - 1])) {
        return false;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        if (v[i] != ' ' && !ts_nonblank((unsigned char)v[i])) {
            return false;
        }
    }
    return true;
}

static void ts_trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) {
        (*n)--;
    }
}

/* The "ot" member's value: key:value pairs joined by ';' (keys [a-z][a-z0-9]*,
 * values [a-zA-Z0-9._-]*), at most 256 bytes. Sets *rv / *th when a valid
 * randomness / threshold is present; false on any syntax or value error. */
static bool ts_otel_parse(const char *v, size_t n, bool *rv, bool *th)
{
    size_t i = 0;
    bool ok = true;

    *rv = *th = false;
    if (n > 256) {
        return false;
    }
    /* syntax first, as otelcol's regular expression */
    for (;;) {
        size_t k = i, val;
        if (i >= n || !ts_lcalpha(v[i])) {
            return false;
        }
        while (i < n && ts_lcalnum(v[i])) {
            i++;
        }
        if (i >= n || v[i] != ':') {
            return false;
        }
        val = ++i;
        while (i < n && (ts_lcalnum(v[i]) || (v[i] >= 'A' && v[i] <= 'Z') || v[i] == '.' ||
                         v[i] == '_' || v[i] == '-')) {
            i++;
        }
        if (val - 1 - k == 2 && !memcmp(v + k, "rv", 2)) {
            if (i - val == 14 && is_hex(v + val, 14)) {
                *rv = true;
            } else {
                ok = false;
            }
        } else if (val - 1 - k == 2 && !memcmp(v + k, "th", 2)) {
            if (i - val >= 1 && i - val <= 14 && is_hex(v + val, i - val)) {
                *th = true;
            } else {
                ok = false;
            }
        }
        if (i == n) {
            return ok;
        }
        if (v[i] != ';') {
            *rv = *th = false;
            return false;
        }
        i++;
    }
}

/* otelcol's NewW3CTraceState as the hash_seed mode uses it: TS_ERROR for a
 * malformed tracestate, TS_IN_USE when its "ot" member carries rv or th. */
static enum ts_state ts_check(const char *ts)
{
    size_t len = strlen(ts), items = 0;
    const char *p = ts, *end = ts + len;
    bool err = false, rv = false, th = false;

    if (len == 0) {
        return TS_OK;
    }
    if (len > 1024) {
        return TS_ERROR;
    }
    /* every list member: OWS (key "=" value) OWS, or empty */
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *m = p, *eq;
        size_t mn = (size_t)((comma ? comma : end) - p);

        p = comma ? comma + 1 : end;
        ts_trim(&m, &mn);
        if (mn == 0) {
            continue;
        }
        eq = memchr(m, '=', mn);
        if (!eq || eq == m || !ts_key_valid(m, (size_t)(eq - m)) ||
            !ts_value_valid(eq + 1, mn - (size_t)(eq - m) - 1)) {
            return TS_ERROR;
        }
    }
    /* then the members themselves (at most 31: otelcol counts empty ones too) */
    p = ts;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *m = p, *eq, *at;
        size_t mn = (size_t)((comma ? comma : end) - p), kn;

        if (++items >= 32) {
            return TS_ERROR;
        }
        p = comma ? comma + 1 : end;
        ts_trim(&m, &mn);
        if (mn == 0) {
            continue;
        }
        eq = memchr(m, '=', mn);
        kn = (size_t)(eq - m);
        at = memchr(m, '@', kn);
        if (kn > 256 || (at && ((size_t)(at - m) > 241 || kn - (size_t)(at - m) - 1 > 14))) {
            err = true;
            continue;
        }
        if (kn == 2 && !memcmp(m, "ot", 2) &&
            !ts_otel_parse(eq + 1, mn - kn - 1, &rv, &th)) {
            err = true;
        }
    }
    if (err) {
        return TS_ERROR;
    }
    return rv || th ? TS_IN_USE : TS_OK;
}

/* ------------------------------------------------------------ priority */

enum prio { PRIO_DEFER, PRIO_KEEP, PRIO_DROP };

static const otc_any_value *attr_get(otc_key_value *const *kvs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        /* the first byte rules out most keys without a call (every span is looked at) */
        if (kvs[i]->key[0] == key[0] && !strcmp(kvs[i]->key, key)) {
            return kvs[i]->value;
        }
    }
    return NULL;
}

/* Go's strconv.ParseFloat closely enough for a priority: no blanks, no trailing
 * text, hex only with an exponent, overflow is an error (underflow is not). */
static bool go_parse_float(const char *s, double *out)
{
    char *end;
    double v;

    if (!*s || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v' ||
        strchr(s, '(')) {
        return false;
    }
    {
        const char *h = s + (*s == '+' || *s == '-');
        if (h[0] == '0' && (h[1] == 'x' || h[1] == 'X') && !strpbrk(h, "pP")) {
            return false;
        }
    }
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end || (errno == ERANGE && isinf(v))) {
        return false;
    }
    *out = v;
    return true;
}

static enum prio prio_of(double v)
{
    if (v == 0) {
        return PRIO_DROP;
    }
    return v > 0 ? PRIO_KEEP : PRIO_DEFER;
}

/* The OpenTracing sampling.priority span attribute, as otelcol reads it. */
static enum prio span_priority(const otc_span *sp)
{
    const otc_any_value *v = attr_get(sp->attributes, sp->n_attributes, PRIORITY_KEY);
    double d;

    if (!v) {
        return PRIO_DEFER;
    }
    switch (v->value_case) {
    case ANY(INT_VALUE):
        return v->int_value == 0 ? PRIO_DROP : v->int_value > 0 ? PRIO_KEEP : PRIO_DEFER;
    case ANY(DOUBLE_VALUE):
        return prio_of(v->double_value);
    case ANY(STRING_VALUE):
        return go_parse_float(v->string_value, &d) ? prio_of(d) : PRIO_DEFER;
    default:
        return PRIO_DEFER;
    }
}

/* pkg/sampling ProbabilityToThresholdWithPrecision; false when out of range. */
static bool prob_threshold(double prob, int prec, uint64_t *out)
{
    uint64_t r;
    int shift;

    if (!(prob >= 1.0 / (double)MAX_ADJUSTED && prob <= 1.0)) {
        return false;
    }
    if (prob == 1.0) {
        *out = TH_ALWAYS;
        return true;
    }
    for (double reject = 1 - prob; reject * 16 < 1;) {
        reject *= 16;
        prec++;
    }
    if (prec > 14) {
        return false;
    }
    r = MAX_ADJUSTED - (uint64_t)round(prob * (double)MAX_ADJUSTED);
    shift = 4 * (14 - prec);
    if (shift > 0) {
        r += 1ull << (shift - 1);
        r >>= shift;
        r <<= shift;
    }
    *out = r;
    return true;
}

/* ------------------------------------------------------------ decisions */

static uint64_t fail_threshold(const struct sampler_ctx *x)
{
    return x->fail_closed ? TH_NEVER : TH_ALWAYS;
}

/* The decision for a span without a priority attribute, given its trace id
 * and how its tracestate parsed. */
static bool id_keep(const struct sampler_ctx *x, const ProtobufCBinaryData *trace_id,
                    enum ts_state ts)
{
    uint64_t rnd = RND_ALL, th;

    if (x->never) {
        /* only a tracestate that does not parse is an error here */
        th = ts == TS_ERROR ? fail_threshold(x) : TH_NEVER;
    } else if (!trace_id_valid(trace_id) || ts != TS_OK) {
        th = fail_threshold(x);
    } else {
        rnd = sampler_randomness(sampler_hash(x->seed_h, trace_id->data, 16));
        th = x->threshold;
    }
    return rnd >= th;
}

static bool span_keep(const struct sampler_ctx *x, const otc_span *sp)
{
    enum prio prio = span_priority(sp);

    if (prio != PRIO_DEFER) {
        return prio == PRIO_KEEP;
    }
    return id_keep(x, &sp->trace_id, ts_check(sp->trace_state));
}

/* strconv.FormatFloat as pdata's Value.AsString formats a double (ES6 style). */
static size_t go_double_string(double f, char *out, size_t cap)
{
    char tmp[40], digits[24];
    size_t nd = 0, o = 0;
    int exp10, dp, prec;
    double a = fabs(f);
    bool e_form = a != 0 && (a < 1e-6 || a >= 1e21);

    if (isnan(f)) {
        return (size_t)snprintf(out, cap, "json: unsupported value: NaN");
    }
    if (isinf(f)) {
        return (size_t)snprintf(out, cap, "json: unsupported value: %cInf", f > 0 ? '+' : '-');
    }
    for (prec = 1; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, a);
        if (strtod(tmp, NULL) == a) {
            break;
        }
    }
    snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, a);
    for (const char *c = tmp; *c && *c != 'e'; c++) {
        if (*c != '.') {
            digits[nd++] = *c;
        }
    }
    while (nd > 1 && digits[nd - 1] == '0') {
        nd--;
    }
    exp10 = atoi(strchr(tmp, 'e') + 1);
    if (a == 0) {
        exp10 = 0;
    }
    dp = exp10 + 1;
#define PUT(c) do { if (o + 1 < cap) { out[o] = (c); } o++; } while (0)
    if (signbit(f)) {
        PUT('-');
    }
    if (e_form) {
        PUT(digits[0]);
        if (nd > 1) {
            PUT('.');
            for (size_t i = 1; i < nd; i++) {
                PUT(digits[i]);
            }
        }
        o += (size_t)snprintf(o < cap ? out + o : NULL, o < cap ? cap - o : 0,
                              exp10 < 0 && exp10 > -10 ? "e-%d" : "e%+03d",
                              exp10 < 0 && exp10 > -10 ? -exp10 : exp10);
    } else if (dp <= 0) {
        PUT('0');
        PUT('.');
        for (int i = 0; i < -dp; i++) {
            PUT('0');
        }
        for (size_t i = 0; i < nd; i++) {
            PUT(digits[i]);
        }
    } else {
        for (int i = 0; i < dp || (size_t)i < nd; i++) {
            if (i == dp) {
                PUT('.');
            }
            PUT((size_t)i < nd ? digits[i] : '0');
        }
    }
#undef PUT
    if (cap) {
        out[o < cap ? o : cap - 1] = '\0';
    }
    return o < cap ? o : cap - 1;
}

/* The bytes otelcol hashes for an attribute value: raw bytes, otherwise the
 * value as a string (Value.AsString). Arrays and kvlists (JSON there) are
 * not supported here and count as no value. */
static const uint8_t *value_bytes(const otc_any_value *v, char *buf, size_t cap, size_t *len)
{
    *len = 0;
    if (!v) {
        return NULL;
    }
    switch (v->value_case) {
    case ANY(STRING_VALUE):
        *len = strlen(v->string_value);
        return (const uint8_t *)v->string_value;
    case ANY(BYTES_VALUE):
        *len = v->bytes_value.len;
        return v->bytes_value.data;
    case ANY(BOOL_VALUE):
        *len = (size_t)snprintf(buf, cap, "%s", v->bool_value ? "true" : "false");
        return (const uint8_t *)buf;
    case ANY(INT_VALUE):
        *len = (size_t)snprintf(buf, cap, "%lld", (long long)v->int_value);
        return (const uint8_t *)buf;
    case ANY(DOUBLE_VALUE):
        *len = go_double_string(v->double_value, buf, cap);
        return (const uint8_t *)buf;
    default:
        return NULL;
    }
}

/* What a log record's decision reads, gathered from either form of a batch. */
struct log_facts {
    const uint8_t *trace_id;
    size_t         trace_id_len;
    const char    *ts, *rs; /* sampling.threshold / sampling.randomness strings ("": none) */
    size_t         tn, rn;
    const uint8_t *from; /* the from_attribute value's bytes, when the decision needs them */
    size_t         from_len;
    double         prio; /* the sampling_priority attribute's percentage / 100 (0: none) */
};

static bool id_bytes_valid(const uint8_t *id, size_t len)
{
    ProtobufCBinaryData b = {len, (uint8_t *)id};

    return trace_id_valid(&b);
}

/* Whether the decision hashes the from_attribute value (no trace id to hash). */
static bool log_needs_from(const struct sampler_ctx *x, const uint8_t *tid, size_t tid_len)
{
    return !x->never && x->from_attribute && *x->from_attribute &&
           !(x->logs_trace_id && id_bytes_valid(tid, tid_len));
}

/* sampling.threshold / sampling.randomness string attributes of a log record:
 * any (hash_seed mode) or only unparsable ones (0% sampler) are an error. */
static bool log_sampling_attrs_error(const struct log_facts *f, bool parse_errors_only)
{
    if (!parse_errors_only) {
        return f->tn > 0 || f->rn > 0;
    }
    return (f->tn > 0 && (f->tn > 14 || !is_hex(f->ts, f->tn))) ||
           (f->rn > 0 && (f->rn != 14 || !is_hex(f->rs, f->rn)));
}

static bool log_decide(const struct sampler_ctx *x, const struct log_facts *f)
{
    uint64_t rnd = RND_ALL, th, pth;

    if (x->never) {
        th = log_sampling_attrs_error(f, true) ? fail_threshold(x) : TH_NEVER;
    } else {
        bool missing = true;
        if (x->logs_trace_id && id_bytes_valid(f->trace_id, f->trace_id_len)) {
            rnd = sampler_randomness(sampler_hash(x->seed_h, f->trace_id, 16));
            missing = false;
        }
        if (missing && f->from && f->from_len > 0) {
            rnd = sampler_randomness(sampler_hash(x->seed_h, f->from, f->from_len));
            missing = false;
        }
        th = missing || log_sampling_attrs_error(f, false) ? fail_threshold(x) : x->threshold;
    }
    if (f->prio != 0 && prob_threshold(f->prio, (int)x->sampling_precision, &pth)) {
        th = pth;
    }
    return rnd >= th;
}

static bool log_keep(const struct sampler_ctx *x, const otc_log_record *lr)
{
    const otc_any_value *t = attr_get(lr->attributes, lr->n_attributes, LOG_THRESHOLD_KEY);
    const otc_any_value *r = attr_get(lr->attributes, lr->n_attributes, LOG_RANDOM_KEY);
    struct log_facts f = {.trace_id = lr->trace_id.data, .trace_id_len = lr->trace_id.len};
    char buf[64];

    f.ts = t && t->value_case == ANY(STRING_VALUE) ? t->string_value : "";
    f.rs = r && r->value_case == ANY(STRING_VALUE) ? r->string_value : "";
    f.tn = strlen(f.ts);
    f.rn = strlen(f.rs);
    if (log_needs_from(x, f.trace_id, f.trace_id_len)) {
        f.from = value_bytes(attr_get(lr->attributes, lr->n_attributes, x->from_attribute), buf,
                             sizeof(buf), &f.from_len);
    }
    if (x->sampling_priority && *x->sampling_priority) {
        const otc_any_value *v = attr_get(lr->attributes, lr->n_attributes, x->sampling_priority);
        if (v && v->value_case == ANY(DOUBLE_VALUE)) {
            f.prio = v->double_value / 100.0;
        } else if (v && v->value_case == ANY(INT_VALUE)) {
            f.prio = (double)v->int_value / 100.0;
        }
    }
    return log_decide(x, &f);
}

/* ------------------------------------------------------------ batches */

struct decide_out {
    size_t total;
    size_t kept;
    bool   empty_groups; /* a scope or resource without items: otelcol removes it */
};

/* Pass 1, read-only: decide every item, in request order, into keep (or only count
 * when keep is NULL). */
struct msg_decide {
    const struct sampler_ctx *x;
    uint8_t                  *keep;
    struct decide_out        *o;
};

static void decide_record(struct msg_decide *d, bool k)
{
    if (d->keep) {
        d->keep[d->o->total] = k;
    }
    d->o->total++;
    d->o->kept += k;
}

static int decide_span(void *arg, ProtobufCMessage *item)
{
    struct msg_decide *d = arg;

    decide_record(d, span_keep(d->x, (const otc_span *)item));
    return 0;
}

static int decide_log(void *arg, ProtobufCMessage *item)
{
    struct msg_decide *d = arg;

    decide_record(d, log_keep(d->x, (const otc_log_record *)item));
    return 0;
}

static void decide_msg(const struct sampler_ctx *x, enum otc_signal s, const ProtobufCMessage *msg,
                       uint8_t *keep, struct decide_out *o)
{
    struct msg_decide d = {x, keep, o};
    struct otc_msg_visitor v = {.item = s == OTC_TRACES ? decide_span : decide_log, .arg = &d};

    otc_msg_walk(s, msg, &v, &o->empty_groups);
}

/* Pass 1 on an undecoded request, walking its bytes: the same decisions for
 * the spans that carry neither a tracestate nor a sampling.priority attribute,
 * and for the log records wire_log describes. Any other item stops the walk
 * (WIRE_SLOW): the decoded pass decides. */
#define WIRE_SLOW 1

/* Trace ids hashed together: each FNV-1a is a chain of 16 dependent
 * multiplies, so hashing several side by side lets them overlap. */
#define HASH_LANES 8

struct wire_decide {
    const struct sampler_ctx *x;
    uint8_t                  *keep;
    size_t                    cap; /* decisions keep has room for */
    struct decide_out        *o;
    struct otc_pb_keys        keys; /* attributes that send an item to the decoded pass */
    const uint8_t            *ids[HASH_LANES]; /* valid trace ids waiting for their hash */
    size_t                    at[HASH_LANES];  /* and their item numbers */
    unsigned                  n_ids;
};

static void wire_record(struct wire_decide *w, size_t at, bool k)
{
    if (w->keep) {
        w->keep[at] = k;
    }
    w->o->kept += k;
}

static void wire_hash_waiting(struct wire_decide *w)
{
    uint32_t h[HASH_LANES];

    for (unsigned j = 0; j < HASH_LANES; j++) {
        h[j] = w->x->seed_h;
        if (j >= w->n_ids) {
            w->ids[j] = w->ids[0]; /* a full set of lanes keeps the loop simple */
        }
    }
    for (unsigned i = 0; i < 16; i++) {
        for (unsigned j = 0; j < HASH_LANES; j++) {
            h[j] = (h[j] ^ w->ids[j][i]) * 16777619u;
        }
    }
    for (unsigned j = 0; j < w->n_ids; j++) {
        wire_record(w, w->at[j], sampler_randomness(h[j]) >= w->x->threshold);
    }
    w->n_ids = 0;
}

/* The decision of a span or log record with a valid trace id and nothing else
 * that matters: by the hash of the id, unless every randomness passes. */
static void wire_decide_id(struct wire_decide *w, const uint8_t *trace_id)
{
    size_t at = w->o->total++;

    if (w->x->threshold == TH_ALWAYS) {
        wire_record(w, at, true); /* no need to hash */
        return;
    }
    w->ids[w->n_ids] = trace_id;
    w->at[w->n_ids++] = at;
    if (w->n_ids == HASH_LANES) {
        wire_hash_waiting(w);
    }
}

static int wire_span(void *arg, const uint8_t *p, size_t len)
{
    struct wire_decide *w = arg;
    const struct sampler_ctx *x = w->x;
    struct otc_pb_span sp;
    ProtobufCBinaryData id;
    size_t at = w->o->total;

    if (at == w->cap || !otc_pb_span_read(p, len, &w->keys, &sp) || sp.trace_state_len > 0 ||
        sp.has_key) {
        return WIRE_SLOW;
    }
    id.data = (uint8_t *)sp.trace_id;
    id.len = sp.trace_id_len;
    if (x->never || !trace_id_valid(&id)) {
        w->o->total++;
        wire_record(w, at, id_keep(x, &id, TS_OK));
    } else {
        wire_decide_id(w, sp.trace_id);
    }
    return 0;
}

/* The attributes a log record's decision looks up, by attr_get's rule: the
 * first KeyValue whose key (up to a NUL, as the decoded string ends there)
 * is the name. */
enum { LK_THRESHOLD, LK_RANDOM, LK_FROM, LK_PRIO, LK_N };

/* A log record decided from its bytes with everything log_keep reads; false
 * when a KeyValue or AnyValue is not as unpack would take it. */
static bool wire_log_facts(const struct sampler_ctx *x, const uint8_t *p, size_t len,
                           const struct otc_pb_log *lr, struct log_facts *f, char *buf,
                           size_t cap)
{
    const char *names[LK_N] = {LOG_THRESHOLD_KEY, LOG_RANDOM_KEY,
                               log_needs_from(x, lr->trace_id, lr->trace_id_len)
                                   ? x->from_attribute
                                   : NULL,
                               x->sampling_priority && *x->sampling_priority ? x->sampling_priority
                                                                             : NULL};
    struct otc_pb_any val[LK_N];
    bool found[LK_N] = {false}, present[LK_N] = {false};
    struct otc_pb_iter it;
    const uint8_t *v;
    size_t n;
    int r;

    memset(f, 0, sizeof(*f));
    f->trace_id = lr->trace_id;
    f->trace_id_len = lr->trace_id_len;
    otc_pb_iter_init(&it, p, len, OTC_PB_LOG_ATTRIBUTES);
    while ((r = otc_pb_iter_next(&it, &v, &n)) > 0) {
        struct otc_pb_kv kv;
        size_t kl;

        if (!otc_pb_kv_read(v, n, &kv)) {
            return false;
        }
        kl = kv.key ? strnlen((const char *)kv.key, kv.key_len) : 0;
        for (int k = 0; k < LK_N; k++) {
            if (found[k] || !names[k] || strlen(names[k]) != kl ||
                (kl && memcmp(names[k], kv.key, kl))) {
                continue;
            }
            found[k] = true;
            if (kv.value) {
                if (!otc_pb_any_read(kv.value, kv.value_len, &val[k])) {
                    return false;
                }
                present[k] = true;
            }
        }
    }
    if (r < 0) {
        return false;
    }
    f->ts = f->rs = "";
    if (present[LK_THRESHOLD] && val[LK_THRESHOLD].kind == OTC_PB_ANY_STRING) {
        f->ts = (const char *)val[LK_THRESHOLD].p;
        f->tn = strnlen(f->ts, val[LK_THRESHOLD].len);
    }
    if (present[LK_RANDOM] && val[LK_RANDOM].kind == OTC_PB_ANY_STRING) {
        f->rs = (const char *)val[LK_RANDOM].p;
        f->rn = strnlen(f->rs, val[LK_RANDOM].len);
    }
    if (present[LK_FROM]) {
        const struct otc_pb_any *a = &val[LK_FROM];
        double d;

        switch (a->kind) {
        case OTC_PB_ANY_STRING:
            f->from = a->p;
            f->from_len = strnlen((const char *)a->p, a->len);
            break;
        case OTC_PB_ANY_BYTES:
            f->from = a->p;
            f->from_len = a->len;
            break;
        case OTC_PB_ANY_BOOL:
            f->from_len = (size_t)snprintf(buf, cap, "%s", a->v ? "true" : "false");
            f->from = (const uint8_t *)buf;
            break;
        case OTC_PB_ANY_INT:
            f->from_len = (size_t)snprintf(buf, cap, "%lld", (long long)(int64_t)a->v);
            f->from = (const uint8_t *)buf;
            break;
        case OTC_PB_ANY_DOUBLE:
            memcpy(&d, &a->v, sizeof(d));
            f->from_len = go_double_string(d, buf, cap);
            f->from = (const uint8_t *)buf;
            break;
        default:
            break;
        }
    }
    if (present[LK_PRIO]) {
        double d;

        if (val[LK_PRIO].kind == OTC_PB_ANY_DOUBLE) {
            memcpy(&d, &val[LK_PRIO].v, sizeof(d));
            f->prio = d / 100.0;
        } else if (val[LK_PRIO].kind == OTC_PB_ANY_INT) {
            f->prio = (double)(int64_t)val[LK_PRIO].v / 100.0;
        }
    }
    return true;
}

/* A log record with a valid trace id and none of the attributes that could
 * change the decision (sampling.threshold, sampling.randomness, the
 * sampling_priority attribute: w->keys) is decided by its trace id's hash;
 * any other from everything log_keep reads, from the bytes too. */
static int wire_log(void *arg, const uint8_t *p, size_t len)
{
    struct wire_decide *w = arg;
    const struct sampler_ctx *x = w->x;
    struct otc_pb_log lr;
    struct log_facts f;
    size_t at = w->o->total;
    char buf[64];

    if (at == w->cap || !otc_pb_log_read(p, len, &w->keys, &lr)) {
        return WIRE_SLOW;
    }
    if (!lr.has_key && !x->never && x->logs_trace_id &&
        id_bytes_valid(lr.trace_id, lr.trace_id_len)) {
        wire_decide_id(w, lr.trace_id);
        return 0;
    }
    if (!wire_log_facts(x, p, len, &lr, &f, buf, sizeof(buf))) {
        return WIRE_SLOW;
    }
    w->o->total++;
    wire_record(w, at, log_decide(x, &f));
    return 0;
}

/* false when the request is for the decoded pass: a walk that stopped. */
static bool decide_wire(const struct sampler_ctx *x, const struct otc_batch *b, uint8_t *keep,
                        struct decide_out *o)
{
    const char *span_keys[] = {PRIORITY_KEY, NULL};
    const char *log_keys[] = {LOG_THRESHOLD_KEY, LOG_RANDOM_KEY,
                              x->sampling_priority && *x->sampling_priority ? x->sampling_priority
                                                                            : NULL,
                              NULL};
    struct wire_decide w = {.x = x, .keep = keep, .cap = keep ? b->items : SIZE_MAX, .o = o};
    struct otc_pb_visitor v = {.item = b->signal == OTC_TRACES ? wire_span : wire_log, .arg = &w};

    otc_pb_keys_init(&w.keys, b->signal == OTC_TRACES ? span_keys : log_keys);

    if (otc_pb_walk(b->raw, b->raw_len, &v, &o->empty_groups) != OTC_OK) {
        return false;
    }
    if (w.n_ids) {
        wire_hash_waiting(&w);
    }
    return true;
}

/* Room for one decision per item, per call (workers share the ctx): on the
 * stack for requests of up to KEEP_STACK items, else on the heap. */
#define KEEP_STACK 4096

struct keep_buf {
    uint8_t  stack[KEEP_STACK];
    uint8_t *heap;
};

/* NULL when memory is short. */
static uint8_t *sampler_keep_buf(struct keep_buf *kb, size_t n)
{
    if (n <= KEEP_STACK) {
        return kb->stack;
    }
    free(kb->heap);
    kb->heap = malloc(n);
    return kb->heap;
}

static int sampler_decide(struct otc_instance *ins, struct sampler_ctx *x, struct otc_batch *b,
                          struct keep_buf *kb)
{
    enum otc_signal s = b->signal;
    const ProtobufCMessage *msg;
    struct decide_out o = {0};
    uint8_t *keep;
    ProtobufCMessage *mut;

    if (s != OTC_TRACES && s != OTC_LOGS) {
        return otc_next(ins, b);
    }
    if (!otc_batch_is_decoded(b)) {
        keep = sampler_keep_buf(kb, b->items);
        if (decide_wire(x, b, keep, &o) && o.total == b->items) {
            if (keep && o.kept > 0 && (o.kept < o.total || o.empty_groups)) {
                /* drop on the wire: the kept spans go on as the bytes that arrived */
                if (!(b = otc_batch_keep_items(b, keep, o.kept))) {
                    atomic_fetch_add(&ins->counters.dropped[s], o.total);
                    return OTC_ENOMEM;
                }
                atomic_fetch_add(&ins->counters.dropped[s], o.total - o.kept);
                return otc_next(ins, b);
            }
            goto decided;
        }
        o = (struct decide_out){0};
    }
    if (!(msg = otc_batch_msg(b))) {
        return otc_next(ins, b);
    }
    keep = sampler_keep_buf(kb, otc_request_count_items(s, msg));
    decide_msg(x, s, msg, keep, &o);
decided:
    if (o.kept == o.total && !o.empty_groups) {
        return otc_next(ins, b); /* untouched: the received bytes go on as they are */
    }
    if (o.kept == 0) {
        otc_batch_unref(b);
        atomic_fetch_add(&ins->counters.dropped[s], o.total);
        return OTC_OK;
    }
    /* A private copy (when shared) decodes the same bytes: same order, same decisions. */
    b = keep ? otc_batch_writable(b) : (otc_batch_unref(b), NULL);
    if (!b || !(mut = otc_batch_msg_mut(b))) {
        otc_batch_unref(b);
        atomic_fetch_add(&ins->counters.dropped[s], o.total);
        return OTC_ENOMEM;
    }
    otc_msg_keep_items(s, mut, keep);
    otc_batch_recount(b);
    atomic_fetch_add(&ins->counters.dropped[s], o.total - o.kept);
    return otc_next(ins, b);
}

static int sampler_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct keep_buf kb;
    int rc;

    kb.heap = NULL;
    rc = sampler_decide(ins, vctx, b, &kb);
    free(kb.heap);
    return rc;
}

const struct otc_component_ops otc_processor_probabilistic_sampler_ops = {
    .type = "probabilistic_sampler",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_TRACES | OTC_SIG_LOGS,
    .mutates = true,
    .concurrent = true,
    .ctx_size = sizeof(struct sampler_ctx),
    .config_map = sampler_config,
    .validate = sampler_validate,
    .init = sampler_init,
    .start = NULL,
    .consume = sampler_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = NULL,
};
