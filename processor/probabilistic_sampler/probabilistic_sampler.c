/* probabilistic_sampler.c - the `probabilistic_sampler` processor: otelcol-contrib's
 * probabilisticsamplerprocessor in its three modes. hash_seed (the default) keeps
 * a span (by trace id) or log record (by trace id or an attribute) by a seeded
 * FNV-1a hash; proportional and equalizing use the OpenTelemetry consistent
 * sampling scheme (56 bits of randomness from the trace id or the tracestate's
 * rv, thresholds th). Kept items carry the decision as otelcol writes it: the
 * span's W3C tracestate `ot=rv:...;th:...`, a log record's sampling.randomness
 * and sampling.threshold attributes. This file holds the decisions and the
 * decoded path; an undecoded request is decided and written on the wire
 * (sampler_wire.c). Runs on the pipeline worker threads, several at once. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_otlp.h"
#include "otc/otc_pb_walk.h"
#include "probabilistic_sampler.h"
#include "sampler_internal.h"

#define ANY(c) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c

/* otelcol's constants: 14 bits of the hash against a 56-bit threshold space. */
#define HASH_BUCKETS      0x4000u
#define HASH_BUCKET_MASK  (HASH_BUCKETS - 1)
#define MAX_ADJUSTED      (1ull << 56)
#define TH_ALWAYS         0ull                /* 100%: every randomness passes */
#define TH_NEVER          MAX_ADJUSTED        /* 0%: none passes */
#define RND_ALL           (MAX_ADJUSTED - 1)  /* the randomness used when none exists */
#define HEX_DIGITS        SAMPLER_HEX_DIGITS

#define PRIORITY_KEY      SAMPLER_PRIORITY_KEY
#define LOG_THRESHOLD_KEY SAMPLER_THRESHOLD_KEY
#define LOG_RANDOM_KEY    SAMPLER_RANDOM_KEY

#define OFF(f) offsetof(struct sampler_ctx, f)

static const struct otc_config_entry sampler_config[] = {
    {OTC_CFG_DOUBLE, "sampling_percentage", "0", OFF(sampling_percentage), 0, 0, 0, NULL,
     "percentage of traces (and logs) kept, as a 32-bit float like otelcol; >= 100 keeps all, "
     "0 keeps none"},
    {OTC_CFG_INT, "hash_seed", "0", OFF(hash_seed), OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0, 4294967295.0,
     NULL, "uint32 seed of the FNV-1a hash (hash_seed mode, and the log attribute hash); "
     "collectors of one tier must share it"},
    {OTC_CFG_STR, "mode", NULL, OFF(mode), 0, 0, 0, NULL,
     "hash_seed (the default: a seeded hash of the trace id), proportional (the OpenTelemetry "
     "consistent scheme, multiplying the probability an item arrives with) or equalizing (the "
     "same scheme, lowering every item to at most this probability)"},
    {OTC_CFG_BOOL, "fail_closed", "true", OFF(fail_closed), 0, 0, 0, NULL,
     "drop items whose sampling randomness is missing or unusable (no trace id, no from_attribute "
     "value, a malformed or inconsistent tracestate; in hash_seed mode also a tracestate or log "
     "record that already carries rv or th); false keeps them"},
    {OTC_CFG_INT, "sampling_precision", "4", OFF(sampling_precision), 0, 0, 0, NULL,
     "hex digits of the thresholds written (th, sampling.threshold), 1 to 14"},
    {OTC_CFG_STR, "attribute_source", "traceID", OFF(attribute_source), 0, 0, 0, NULL,
     "logs, hash_seed mode: traceID hashes the record's trace id (from_attribute when it has "
     "none); record hashes the from_attribute value"},
    {OTC_CFG_STR, "from_attribute", NULL, OFF(from_attribute), 0, 0, 0, NULL,
     "logs, hash_seed mode: name of the log record attribute whose value is hashed"},
    {OTC_CFG_STR, "sampling_priority", NULL, OFF(sampling_priority), 0, 0, 0, NULL,
     "logs: name of a numeric log record attribute whose value, a percentage, replaces the "
     "sampling probability for that record (spans always use the sampling.priority attribute: 0 "
     "drops, above 0 keeps)"},
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
    if (x->mode && *x->mode && strcmp(x->mode, "hash_seed") && strcmp(x->mode, "proportional") &&
        strcmp(x->mode, "equalizing")) {
        snprintf(err, errlen, "unsupported sampler mode \"%s\"", x->mode);
        return OTC_EINVAL;
    }
    if (x->attribute_source && *x->attribute_source && strcmp(x->attribute_source, "traceID") &&
        strcmp(x->attribute_source, "record")) {
        snprintf(err, errlen, "invalid attribute source: %s. Expected: traceID or record",
                 x->attribute_source);
        return OTC_EINVAL;
    }
    if (x->sampling_precision == 0) {
        snprintf(err, errlen, "invalid sampling precision: 0");
        return OTC_EINVAL;
    }
    if (x->sampling_precision > HEX_DIGITS) {
        snprintf(err, errlen, "sampling precision is too great, should be <= 14: %lld",
                 (long long)x->sampling_precision);
        return OTC_EINVAL;
    }
    if (x->sampling_precision < 0) {
        snprintf(err, errlen, "sampling precision is negative: %lld",
                 (long long)x->sampling_precision);
        return OTC_EINVAL;
    }
    return OTC_OK;
}

static uint32_t sampler_seed_state(uint32_t seed);
static int prob_threshold(double prob, int prec, uint64_t *out);

static int sampler_init(struct otc_instance *ins, void *vctx)
{
    struct sampler_ctx *x = vctx;
    float pct = (float)x->sampling_percentage;
    const char *mode = x->mode && *x->mode ? x->mode : "hash_seed";
    uint32_t scaled;

    (void)ins;
    if (pct > 100) {
        pct = 100;
    }
    x->seed_h = sampler_seed_state((uint32_t)x->hash_seed);
    x->logs_trace_id = !x->attribute_source || !*x->attribute_source ||
                       !strcmp(x->attribute_source, "traceID");
    /* An unset mode is hash_seed for every signal (otelcol's default). */
    x->ratio = (double)pct / 100.0;
    if (x->ratio < 1.0 / (double)MAX_ADJUSTED) {
        x->ratio = 1.0 / (double)MAX_ADJUSTED;
    }
    if (pct == 0) {
        x->kind = K_NEVER;
    } else if (!strcmp(mode, "equalizing")) {
        x->kind = K_EQUALIZING;
        prob_threshold(x->ratio, (int)x->sampling_precision, &x->threshold);
    } else if (!strcmp(mode, "proportional")) {
        x->kind = K_PROPORTIONAL;
    } else {
        /* As otelcol: the product is taken in float32 and truncated toward zero. */
        scaled = (uint32_t)(pct * (float)(HASH_BUCKETS / 100.0));
        x->kind = scaled == 0 ? K_NEVER : K_HASH;
        x->threshold = (uint64_t)(HASH_BUCKETS - scaled) << 42;
    }
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

static bool trace_id_valid(const uint8_t *id, size_t len)
{
    uint64_t a, b;

    if (len != 16) {
        return false;
    }
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
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

/* ------------------------------------------------------------ W3C syntax */

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

/* ------------------------------------------------------------ values */

/* Go's strconv.ParseUint(s, 16, 64) of 1 to 14 hex digits. */
static bool hex_value(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > HEX_DIGITS || !is_hex(s, n)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        v = v << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    *out = v;
    return true;
}

/* pkg/sampling RValueToRandomness: exactly 14 hex digits. */
static bool rvalue_parse(const char *s, size_t n, uint64_t *rnd)
{
    return n == HEX_DIGITS && hex_value(s, n, rnd);
}

/* pkg/sampling TValueToThreshold: 1 to 14 hex digits, trailing zeros implied. */
static bool tvalue_parse(const char *s, size_t n, uint64_t *th)
{
    uint64_t v;

    if (!hex_value(s, n, &v)) {
        return false;
    }
    *th = v << (4 * (HEX_DIGITS - n));
    return true;
}

/* Randomness.RValue: 14 lower-case hex digits. */
static void rvalue_format(uint64_t rnd, char out[HEX_DIGITS + 1])
{
    static const char digit[] = "0123456789abcdef";

    for (int i = HEX_DIGITS - 1; i >= 0; i--) {
        out[i] = digit[rnd & 15];
        rnd >>= 4;
    }
    out[HEX_DIGITS] = '\0';
}

/* Threshold.TValue: "0" for always, else 14 hex digits without trailing zeros
 * ("" for never). */
static void tvalue_format(uint64_t th, char out[HEX_DIGITS + 1])
{
    size_t n = HEX_DIGITS;

    if (th == TH_ALWAYS) {
        strcpy(out, "0");
        return;
    }
    if (th >= MAX_ADJUSTED) {
        out[0] = '\0';
        return;
    }
    rvalue_format(th, out);
    while (n > 0 && out[n - 1] == '0') {
        out[--n] = '\0';
    }
}

/* The randomness of a trace id by W3C Trace Context level 2: its last 7 bytes. */
static uint64_t trace_id_randomness(const uint8_t *id)
{
    uint64_t v = 0;

    for (int i = 9; i < 16; i++) {
        v = v << 8 | id[i];
    }
    return v;
}

/* pkg/sampling ProbabilityToThresholdWithPrecision: 0, or 1 when prob is out
 * of [2^-56, 1] (*out is then TH_ALWAYS, as there). */
static int prob_threshold(double prob, int prec, uint64_t *out)
{
    int expf, expr;
    uint64_t th;
    int shift;

    *out = TH_ALWAYS;
    if (prec == 0) {
        prec = HEX_DIGITS;
    }
    if (!(prob >= 1.0 / (double)MAX_ADJUSTED && prob <= 1.0)) {
        return 1;
    }
    if (prob == 1.0) {
        return 0;
    }
    /* one more digit for every leading hex 0 or f */
    frexp(prob, &expf);
    frexp(1 - prob, &expr);
    prec = (prec + expf / -4 > prec + expr / -4) ? prec + expf / -4 : prec + expr / -4;
    if (prec > HEX_DIGITS) {
        prec = HEX_DIGITS;
    }
    th = MAX_ADJUSTED - (uint64_t)round(prob * (double)MAX_ADJUSTED);
    shift = 4 * (HEX_DIGITS - prec);
    if (shift != 0) {
        th += 1ull << (shift - 1);
        th >>= shift;
        th <<= shift;
    }
    *out = th;
    return 0;
}

/* Threshold.Probability */
static double th_probability(uint64_t th)
{
    return (double)(MAX_ADJUSTED - th) / (double)MAX_ADJUSTED;
}

/* ------------------------------------------------------------ tracestate */

/* A parsed W3C tracestate as pkg/sampling's W3CTraceState holds it: the other
 * vendors' members in order, and the "ot" member's rv, th and other fields.
 * Strings point into the span's tracestate, or into rv_buf / th_buf once
 * the sampler sets them. */
struct ts_kv {
    const char *k, *v;
    size_t      kn, vn;
};

#define TS_MEMBERS  32 /* at most 31 members parse */
#define OT_MEMBERS  86 /* "k:" and a separator each, in 256 bytes */

struct tstate {
    struct ts_kv other[TS_MEMBERS];
    size_t       n_other;
    struct ts_kv ot[OT_MEMBERS];
    size_t       n_ot;
    const char  *rv, *tv; /* NULL: none */
    size_t       rvn, tvn;
    uint64_t     rnd, th;
    char         rv_buf[HEX_DIGITS + 1], th_buf[HEX_DIGITS + 1];
};

/* NewOpenTelemetryTraceState: the "ot" member's fields key:value joined by
 * ';' (keys [a-z][a-z0-9]*, values [a-zA-Z0-9._-]*, at most 256 bytes). A
 * syntax error empties it; a bad rv or th value leaves that field out. False
 * on any error. */
static bool ts_parse_ot(struct tstate *t, const char *v, size_t n)
{
    size_t i = 0;
    bool ok = true;

    t->n_ot = 0;
    t->rv = t->tv = NULL;
    if (n == 0 || n > 256 || v[n - 1] == ';') {
        return false;
    }
    /* syntax first */
    for (;;) {
        size_t k = i;
        if (i >= n || !ts_lcalpha(v[i])) {
            return false;
        }
        while (i < n && ts_lcalnum(v[i])) {
            i++;
        }
        if (i >= n || v[i] != ':' || i == k) {
            return false;
        }
        i++;
        while (i < n && (ts_lcalnum(v[i]) || (v[i] >= 'A' && v[i] <= 'Z') || v[i] == '.' ||
                         v[i] == '_' || v[i] == '-')) {
            i++;
        }
        if (i == n) {
            break;
        }
        if (v[i] != ';') {
            return false;
        }
        i++;
    }
    /* then the fields */
    for (i = 0; i < n;) {
        const char *m = v + i, *semi = memchr(m, ';', n - i), *colon;
        size_t mn = semi ? (size_t)(semi - m) : n - i, kn;

        i += mn + 1;
        colon = memchr(m, ':', mn);
        kn = (size_t)(colon - m);
        if (kn == 2 && !memcmp(m, "rv", 2)) {
            t->rv = rvalue_parse(colon + 1, mn - 3, &t->rnd) ? colon + 1 : NULL;
            t->rvn = mn - 3;
            ok &= t->rv != NULL;
        } else if (kn == 2 && !memcmp(m, "th", 2)) {
            t->tv = tvalue_parse(colon + 1, mn - 3, &t->th) ? colon + 1 : NULL;
            t->tvn = mn - 3;
            ok &= t->tv != NULL;
        } else if (t->n_ot < OT_MEMBERS) {
            t->ot[t->n_ot++] = (struct ts_kv){m, colon + 1, kn, mn - kn - 1};
        }
    }
    return ok;
}

/* NewW3CTraceState of the len bytes at ts: false on any error, with what
 * parsed kept in t (as there: members before a 32nd, and those without a
 * size or "ot" error). */
static bool ts_parse(struct tstate *t, const char *ts, size_t len)
{
    size_t items = 0;
    const char *p = ts, *end = ts + len;
    bool ok = true;

    t->n_other = t->n_ot = 0;
    t->rv = t->tv = NULL;
    if (len == 0) {
        return true;
    }
    if (len > 1024) {
        return false;
    }
    /* syntax: every list member OWS (key "=" value) OWS, or empty */
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
            return false;
        }
    }
    /* then the members (empty ones count toward the 32) */
    p = ts;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *m = p, *eq, *at;
        size_t mn = (size_t)((comma ? comma : end) - p), kn;

        if (++items >= TS_MEMBERS) {
            return false;
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
            ok = false;
            continue;
        }
        if (kn == 2 && !memcmp(m, "ot", 2)) {
            ok &= ts_parse_ot(t, eq + 1, mn - kn - 1);
        } else {
            t->other[t->n_other++] = (struct ts_kv){m, eq + 1, kn, mn - kn - 1};
        }
    }
    return ok;
}

static void ts_set_rv(struct tstate *t, uint64_t rnd)
{
    rvalue_format(rnd, t->rv_buf);
    t->rnd = rnd;
    t->rv = t->rv_buf;
    t->rvn = HEX_DIGITS;
}

/* UpdateTValueWithSampling: refused (no change) when it would raise the
 * probability the tracestate states. */
static void ts_update_th(struct tstate *t, uint64_t th)
{
    if (t->tv && t->th > th) {
        return;
    }
    tvalue_format(th, t->th_buf);
    t->th = th;
    t->tvn = strlen(t->th_buf);
    t->tv = t->tvn ? t->th_buf : NULL;
}

/* The length of ts_write's text. */
static size_t ts_length(const struct tstate *t)
{
    size_t n = 0, ot = 0;

    if (t->rv) {
        ot += 3 + t->rvn + 1;
    }
    if (t->tv) {
        ot += 3 + t->tvn + 1;
    }
    for (size_t i = 0; i < t->n_ot; i++) {
        ot += t->ot[i].kn + 1 + t->ot[i].vn + 1;
    }
    n = ot ? 3 + ot : 0;
    for (size_t i = 0; i < t->n_other; i++) {
        n += t->other[i].kn + 1 + t->other[i].vn + 1;
    }
    return n ? n - 1 : 0; /* separators: one fewer than the parts */
}

/* W3CTraceState.Serialize to out (ts_length bytes, no NUL): "ot=rv:..;th:..;
 * <other ot fields>" first, then the other members. Returns the length. */
static size_t ts_write(const struct tstate *t, char *out)
{
    char *w = out;

#define PUT(s, len) do { memcpy(w, (s), (len)); w += (len); } while (0)
    if (t->rv || t->tv || t->n_ot) {
        char sep = '=';
        PUT("ot", 2);
        if (t->rv) {
            *w++ = sep;
            PUT("rv:", 3);
            PUT(t->rv, t->rvn);
            sep = ';';
        }
        if (t->tv) {
            *w++ = sep;
            PUT("th:", 3);
            PUT(t->tv, t->tvn);
            sep = ';';
        }
        for (size_t i = 0; i < t->n_ot; i++) {
            *w++ = sep;
            PUT(t->ot[i].k, t->ot[i].kn);
            *w++ = ':';
            PUT(t->ot[i].v, t->ot[i].vn);
            sep = ';';
        }
    }
    for (size_t i = 0; i < t->n_other; i++) {
        if (w != out) {
            *w++ = ',';
        }
        PUT(t->other[i].k, t->other[i].kn);
        *w++ = '=';
        PUT(t->other[i].v, t->other[i].vn);
    }
#undef PUT
    return (size_t)(w - out);
}

/* ------------------------------------------------------------ priority */

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

enum sampler_prio sampler_prio_of(double v)
{
    if (v == 0) {
        return PRIO_DROP;
    }
    return v > 0 ? PRIO_KEEP : PRIO_DEFER;
}

enum sampler_prio sampler_prio_string(const char *s)
{
    double d;

    return go_parse_float(s, &d) ? sampler_prio_of(d) : PRIO_DEFER;
}

/* The OpenTracing sampling.priority span attribute, as otelcol reads it. */
static enum sampler_prio span_priority(const otc_span *sp)
{
    const otc_any_value *v = attr_get(sp->attributes, sp->n_attributes, PRIORITY_KEY);

    if (!v) {
        return PRIO_DEFER;
    }
    switch (v->value_case) {
    case ANY(INT_VALUE):
        return v->int_value == 0 ? PRIO_DROP : v->int_value > 0 ? PRIO_KEEP : PRIO_DEFER;
    case ANY(DOUBLE_VALUE):
        return sampler_prio_of(v->double_value);
    case ANY(STRING_VALUE):
        return sampler_prio_string(v->string_value);
    default:
        return PRIO_DEFER;
    }
}

/* strconv.FormatFloat as pdata's Value.AsString formats a double (ES6 style). */
size_t sampler_double_string(double f, char *out, size_t cap)
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
        *len = sampler_double_string(v->double_value, buf, cap);
        return (const uint8_t *)buf;
    default:
        return NULL;
    }
}

/* ------------------------------------------------------------ decisions */

/* What otelcol's commonShouldSampleLogic works with for one item. */
struct item_state {
    uint64_t rnd;     /* the randomness */
    bool     missing; /* none was found (rnd is then RND_ALL) */
    bool     carrier; /* the item's sampling fields parsed and may be written */
    bool     err;     /* a parse error, or sampling fields hash_seed mode must leave alone */
    bool     has_th;  /* the item arrived with a threshold */
    uint64_t th;
};

static uint64_t fail_threshold(const struct sampler_ctx *x)
{
    return x->fail_closed ? TH_NEVER : TH_ALWAYS;
}

/* The consistency check, then the mode's threshold (before priority). A
 * threshold the randomness contradicts is cleared (*clear_th). */
static uint64_t item_threshold(const struct sampler_ctx *x, struct item_state *s, bool *clear_th)
{
    uint64_t th;

    *clear_th = false;
    if (!s->err) {
        if (s->missing) {
            s->err = true;
        } else if (s->carrier && s->has_th && s->rnd < s->th) {
            *clear_th = true;
            s->has_th = false;
            s->err = true;
        }
    }
    if (s->err) {
        return fail_threshold(x);
    }
    switch (x->kind) {
    case K_NEVER:
        return TH_NEVER;
    case K_HASH:
        return x->threshold;
    case K_EQUALIZING:
        return s->has_th && x->threshold < s->th ? s->th : x->threshold;
    case K_PROPORTIONAL:
    default:
        if (prob_threshold((s->has_th ? th_probability(s->th) : 1.0) * x->ratio,
                           (int)x->sampling_precision, &th) == 1) {
            return TH_NEVER; /* the product fell below 2^-56 */
        }
        return th;
    }
}

bool sampler_span_decide(const struct sampler_ctx *x, const struct sampler_span_in *in, char *out,
                         size_t *out_len)
{
    struct tstate ts;
    struct item_state s = {.rnd = RND_ALL, .missing = true};
    bool parsed = ts_parse(&ts, in->trace_state, in->trace_state_len);
    bool tid = trace_id_valid(in->trace_id, in->trace_id_len), clear;
    uint64_t th;

    *out_len = SIZE_MAX;
    switch (x->kind) {
    case K_NEVER:
        /* a stand-in randomness; the tracestate is carried even when it has errors */
        s.missing = false;
        s.carrier = true;
        s.err = !parsed;
        break;
    case K_HASH:
        if (tid) {
            s.rnd = sampler_randomness(sampler_hash(x->seed_h, in->trace_id, 16));
            s.missing = false;
        }
        if (!parsed || ts.rv || ts.tv) {
            s.err = true; /* hash_seed leaves explicit rv and th alone */
        } else {
            ts_set_rv(&ts, s.rnd);
            s.carrier = true;
        }
        break;
    default:
        if (!parsed) {
            s.err = true;
        } else {
            s.carrier = true;
            if (ts.rv) {
                s.rnd = ts.rnd;
                s.missing = false;
            } else if (tid) {
                s.rnd = trace_id_randomness(in->trace_id);
                s.missing = false;
            }
        }
        break;
    }
    s.has_th = ts.tv != NULL;
    s.th = ts.th;
    th = item_threshold(x, &s, &clear);
    if (clear) {
        ts.tv = NULL;
    }
    if (in->prio != PRIO_DEFER) {
        th = in->prio == PRIO_KEEP ? TH_ALWAYS : TH_NEVER;
    }
    if (s.rnd < th) {
        return false;
    }
    if (s.carrier) {
        ts_update_th(&ts, th);
        if (ts_length(&ts) <= SAMPLER_TS_MAX) { /* always: see SAMPLER_TS_MAX */
            *out_len = ts_write(&ts, out);
        }
    }
    return true;
}

/* One decoded span: true to keep it. A kept span gets the tracestate otelcol
 * writes (in the arena); false with *oom set when that memory is short. */
static bool span_sample(const struct sampler_ctx *x, otc_span *sp, struct otc_arena *a, bool *oom)
{
    struct sampler_span_in in = {
        .trace_id = sp->trace_id.data,
        .trace_id_len = sp->trace_id.len,
        .trace_state = sp->trace_state ? sp->trace_state : "",
        .trace_state_len = sp->trace_state ? strlen(sp->trace_state) : 0,
        .prio = span_priority(sp),
    };
    char buf[SAMPLER_TS_MAX];
    size_t n;
    char *ts;

    if (!sampler_span_decide(x, &in, buf, &n)) {
        return false;
    }
    if (n != SIZE_MAX) {
        if (!(ts = otc_arena_alloc(a, n + 1))) {
            *oom = true;
            return false;
        }
        memcpy(ts, buf, n);
        ts[n] = '\0';
        sp->trace_state = ts;
    }
    return true;
}

/* A string attribute's value ("" when absent or not a string). */
static const char *attr_str(otc_key_value *const *kvs, size_t n, const char *key)
{
    const otc_any_value *v = attr_get(kvs, n, key);

    return v && v->value_case == ANY(STRING_VALUE) && v->string_value ? v->string_value : "";
}

/* pdata's Map.PutStr on a decoded log record: the first attribute named key
 * gets the value, or a new one is appended. OTC_ENOMEM when the arena is out. */
static int attr_put_str(otc_log_record *lr, const char *key, const char *val, struct otc_arena *a)
{
    otc_any_value *v = otc_arena_alloc(a, sizeof(*v));
    otc_key_value *kv = NULL, **arr;

    if (!v) {
        return OTC_ENOMEM;
    }
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = ANY(STRING_VALUE);
    if (!(v->string_value = otc_arena_memdup(a, val, strlen(val) + 1))) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < lr->n_attributes; i++) {
        if (!strcmp(lr->attributes[i]->key, key)) {
            /* the KeyValue is written anew, as the wire path writes it: without
             * the fields unknown to OTLP it may have carried */
            lr->attributes[i]->value = v;
            lr->attributes[i]->base.n_unknown_fields = 0;
            lr->attributes[i]->base.unknown_fields = NULL;
            return OTC_OK;
        }
    }
    if (!(kv = otc_arena_alloc(a, sizeof(*kv))) ||
        !(arr = otc_arena_alloc(a, (lr->n_attributes + 1) * sizeof(*arr)))) {
        return OTC_ENOMEM;
    }
    opentelemetry__proto__common__v1__key_value__init(kv);
    kv->key = (char *)key; /* a constant: the arena's strings are never freed one by one */
    kv->value = v;
    if (lr->n_attributes) {
        memcpy(arr, lr->attributes, lr->n_attributes * sizeof(*arr));
    }
    arr[lr->n_attributes++] = kv;
    lr->attributes = arr;
    return OTC_OK;
}

bool sampler_log_needs_from(const struct sampler_ctx *x, const uint8_t *trace_id, size_t len)
{
    return x->kind == K_HASH && x->from_attribute && *x->from_attribute &&
           !(x->logs_trace_id && trace_id_valid(trace_id, len));
}

bool sampler_log_decide(const struct sampler_ctx *x, const struct sampler_log_in *in,
                        struct sampler_log_out *out)
{
    struct item_state s = {.rnd = RND_ALL, .missing = true};
    bool tid = trace_id_valid(in->trace_id, in->trace_id_len), perr = false, has_rv = false;
    bool set_rv = false, clear;
    uint64_t th, pth, rv = 0;

    out->randomness = out->threshold = false;
    /* newLogRecordCarrier */
    if (in->threshold_len) {
        if (tvalue_parse(in->threshold, in->threshold_len, &s.th)) {
            s.has_th = true;
        } else {
            perr = true;
        }
    }
    if (in->randomness_len) {
        if (rvalue_parse(in->randomness, in->randomness_len, &rv)) {
            has_rv = true;
        } else {
            perr = true;
        }
    }
    switch (x->kind) {
    case K_NEVER:
        s.missing = false;
        s.carrier = true;
        s.err = perr;
        break;
    case K_HASH:
        if (x->logs_trace_id && tid) {
            s.rnd = sampler_randomness(sampler_hash(x->seed_h, in->trace_id, 16));
            s.missing = false;
        }
        if (s.missing && in->from && in->from_len > 0) {
            s.rnd = sampler_randomness(sampler_hash(x->seed_h, in->from, in->from_len));
            s.missing = false;
        }
        if (perr || has_rv || s.has_th) {
            s.err = true; /* hash_seed leaves explicit randomness and thresholds alone */
        } else {
            s.carrier = true;
            set_rv = !s.missing;
        }
        break;
    default:
        if (perr) {
            s.err = true;
        } else {
            s.carrier = true;
            if (has_rv) {
                s.rnd = rv;
                s.missing = false;
            } else if (tid) {
                s.rnd = trace_id_randomness(in->trace_id);
                s.missing = false;
            }
        }
        break;
    }
    if (!s.carrier) {
        s.has_th = false;
    }
    th = item_threshold(x, &s, &clear);
    /* logRecordToPriorityThreshold */
    if (in->priority != 0 && prob_threshold(in->priority, (int)x->sampling_precision, &pth) == 0) {
        th = pth;
    }
    if (s.rnd < th) {
        return false;
    }
    if (s.carrier) {
        if (set_rv) {
            rvalue_format(s.rnd, out->randomness_text);
            out->randomness = true;
        }
        if (!(s.has_th && th < s.th)) {
            tvalue_format(th, out->threshold_text);
            out->threshold = true;
        }
    }
    return true;
}

/* One decoded log record: true to keep it. A kept record gets the
 * sampling.randomness (hash_seed mode) and sampling.threshold attributes
 * otelcol writes; false with *oom set when the arena is short. */
static bool log_sample(const struct sampler_ctx *x, otc_log_record *lr, struct otc_arena *a,
                       bool *oom)
{
    const char *tvs = attr_str(lr->attributes, lr->n_attributes, LOG_THRESHOLD_KEY);
    const char *rvs = attr_str(lr->attributes, lr->n_attributes, LOG_RANDOM_KEY);
    struct sampler_log_in in = {
        .trace_id = lr->trace_id.data,
        .trace_id_len = lr->trace_id.len,
        .threshold = tvs,
        .threshold_len = strlen(tvs),
        .randomness = rvs,
        .randomness_len = strlen(rvs),
    };
    struct sampler_log_out out;
    char buf[64];

    if (sampler_log_needs_from(x, in.trace_id, in.trace_id_len)) {
        in.from = value_bytes(attr_get(lr->attributes, lr->n_attributes, x->from_attribute), buf,
                              sizeof(buf), &in.from_len);
    }
    if (x->sampling_priority && *x->sampling_priority) {
        const otc_any_value *v = attr_get(lr->attributes, lr->n_attributes, x->sampling_priority);

        if (v && v->value_case == ANY(DOUBLE_VALUE)) {
            in.priority = v->double_value / 100.0;
        } else if (v && v->value_case == ANY(INT_VALUE)) {
            in.priority = (double)v->int_value / 100.0;
        }
    }
    if (!sampler_log_decide(x, &in, &out)) {
        return false;
    }
    if ((out.randomness &&
         attr_put_str(lr, LOG_RANDOM_KEY, out.randomness_text, a) != OTC_OK) ||
        (out.threshold && attr_put_str(lr, LOG_THRESHOLD_KEY, out.threshold_text, a) != OTC_OK)) {
        *oom = true;
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ batches */

struct msg_decide {
    const struct sampler_ctx *x;
    struct otc_arena         *arena;
    uint8_t                  *keep;
    size_t                    total, kept;
    bool                      oom;
};

static int decide_span(void *arg, ProtobufCMessage *item)
{
    struct msg_decide *d = arg;
    bool k = span_sample(d->x, (otc_span *)item, d->arena, &d->oom);

    d->keep[d->total++] = k;
    d->kept += k;
    return 0;
}

static int decide_log(void *arg, ProtobufCMessage *item)
{
    struct msg_decide *d = arg;
    bool k = log_sample(d->x, (otc_log_record *)item, d->arena, &d->oom);

    d->keep[d->total++] = k;
    d->kept += k;
    return 0;
}

/* Room for one decision per item, per call (workers share the ctx): on the
 * stack for requests of up to KEEP_STACK items, else on the heap. */
#define KEEP_STACK 4096

static int sampler_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct sampler_ctx *x = vctx;
    enum otc_signal s = b->signal;
    uint8_t stack[KEEP_STACK], *heap = NULL;
    struct msg_decide d = {.x = x};
    struct otc_msg_visitor v = {.arg = &d};
    ProtobufCMessage *mut;
    bool empty_groups = false;
    size_t items;

    if (s != OTC_TRACES && s != OTC_LOGS) {
        return otc_next(ins, b);
    }
    if (!otc_batch_is_decoded(b)) {
        size_t dropped = 0;
        int rc = sampler_wire(x, &b, &dropped);

        atomic_fetch_add(&ins->counters.dropped[s], dropped);
        if (rc == OTC_OK) {
            return b ? otc_next(ins, b) : OTC_OK;
        }
        if (rc != OTC_EUNSUPP) {
            return rc; /* b released */
        }
        /* bytes the wire path does not read: decoded, the same decisions */
    }
    if (!otc_batch_msg(b)) {
        return otc_next(ins, b); /* malformed: as the stages before, the next one decides */
    }
    /* Every kept item is written to (its tracestate or attributes): a private
     * copy when the batch is shared. */
    if (!(b = otc_batch_writable(b)) || !(mut = otc_batch_msg_mut(b))) {
        otc_batch_unref(b);
        return OTC_ENOMEM;
    }
    items = otc_request_count_items(s, mut);
    d.keep = items <= KEEP_STACK ? stack : (heap = malloc(items));
    if (!d.keep) {
        atomic_fetch_add(&ins->counters.dropped[s], items);
        otc_batch_unref(b);
        return OTC_ENOMEM;
    }
    d.arena = &b->arena;
    v.item = s == OTC_TRACES ? decide_span : decide_log;
    otc_msg_walk(s, mut, &v, &empty_groups);
    if (d.oom) {
        free(heap);
        atomic_fetch_add(&ins->counters.dropped[s], d.total);
        otc_batch_unref(b);
        return OTC_ENOMEM;
    }
    if (d.kept == 0) {
        free(heap);
        atomic_fetch_add(&ins->counters.dropped[s], d.total);
        otc_batch_unref(b);
        return OTC_OK;
    }
    if (d.kept < d.total || empty_groups) {
        otc_msg_keep_items(s, mut, d.keep);
        otc_batch_recount(b);
    }
    free(heap);
    atomic_fetch_add(&ins->counters.dropped[s], d.total - d.kept);
    return otc_next(ins, b);
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
