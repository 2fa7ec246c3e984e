/* otlp_http.c - OTLP/HTTP for the `otlp` receiver: POST /v1/{traces,metrics,logs}
 * with binary protobuf or OTLP/JSON bodies, gzip, zstd or snappy encoded, answered in
 * the request's content type (google.rpc.Status on errors), plus CORS. A
 * request that finds a queue at its byte budget waits on an event timer
 * (queue.max_wait) before a 503. One libevent thread per receiver runs every
 * callback below. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <snappy-c.h>
#include <zstd.h>

#include "google/rpc/status.pb-c.h"
#include "otc/otc_auth.h"
#include "otc/otc_buf.h"
#include "otc/otc_deflate.h"
#include "otc/otc_json.h"
#include "otc/otc_otlp.h"
#include "otc/otc_pb_check.h"
#include "otlp_http.h"
#include "otlp_ingest.h"

/* google.rpc.Code values used in Status bodies */
#define RPC_INVALID_ARGUMENT   3
#define RPC_NOT_FOUND          5
#define RPC_RESOURCE_EXHAUSTED 8
#define RPC_INTERNAL           13
#define RPC_UNAVAILABLE        14
#define RPC_UNIMPLEMENTED      12

#define HTTP_IDLE_TIMEOUT_NS 60000000000LL /* idle_timeout's default */
/* A request waiting for room in its pipelines' queues (queue.max_wait) is
 * offered again after 1 ms, then after twice as long each time, up to 20 ms. */
#define PARK_STEP_FIRST_NS 1000000LL
#define PARK_STEP_MAX_NS   20000000LL
/* Requests waiting at once, at most (each holds its decoded body outside the
 * pipeline's budget; as many as the gRPC side's call slots for 3 signals):
 * past that, a request that finds the budget full is answered 503 at once. */
#define PARK_MAX           96
/* At stop, the answers to the requests that were waiting get this long to go out. */
#define STOP_FLUSH_US      50000

enum http_enc { ENC_PROTO, ENC_JSON };

struct http_park;

struct otlp_http {
    struct otc_instance      *ins;
    struct otlp_http_options  o;
    struct event_base        *base;
    struct evhttp            *http;
    struct event             *tick;      /* polls `stop`; made active by otlp_http_stop */
    SSL_CTX                  *ssl;       /* protocols.http.tls, or NULL */
    atomic_bool               stop;
    bool                      stopping;  /* the loop thread saw stop: it answers, then exits */
    struct http_park         *parked;    /* requests waiting for room (loop thread only) */
    unsigned                  n_parked;
    pthread_t                 thread;
    bool                      thread_started;
};

/* A request waiting for room in its pipelines' byte budgets: offered again
 * at each run of its timer until taken, refused, or past until. */
struct http_park {
    struct otlp_http      *h;
    struct evhttp_request *req;
    struct event          *timer;
    struct otc_batch      *b;
    struct otc_admission   adm;
    enum otc_signal        s;
    enum http_enc          enc;
    size_t                 rejected;  /* items dropped before delivery (partial_success) */
    int64_t                until;     /* CLOCK_MONOTONIC, ns */
    int64_t                step;      /* the next back-off, ns */
    struct http_park      *next;
    struct http_park     **prevp;
};

static pthread_once_t http_threads_once = PTHREAD_ONCE_INIT;
static int http_threads_rc;

static void http_threads_init(void)
{
    http_threads_rc = evthread_use_pthreads();
}

int otlp_http_parse_endpoint(const char *endpoint, char *host, size_t hostlen, int *port)
{
    const char *colon, *h = endpoint;
    size_t hl;
    char *end;
    long p;

    if (!endpoint) {
        return OTC_EINVAL;
    }
    if (*h == '[') {
        const char *close = strchr(h, ']');

        if (!close || close[1] != ':') {
            return OTC_EINVAL;
        }
        h++;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(h, ':');
        if (!colon) {
            return OTC_EINVAL;
        }
        hl = (size_t)(colon - h);
        if (memchr(h, ':', hl)) {
            return OTC_EINVAL; /* a bare IPv6 address needs brackets */
        }
    }
    p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535 || hl + 1 > hostlen) {
        return OTC_EINVAL;
    }
    if (hl == 0) {
        snprintf(host, hostlen, "0.0.0.0");
    } else if (hl == 9 && strncasecmp(h, "localhost", 9) == 0) {
        snprintf(host, hostlen, "127.0.0.1");
    } else {
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    *port = (int)p;
    return OTC_OK;
}

/* ------------------------------------------------------------- replies */

static const char *http_reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default:  return "Internal Server Error";
    }
}

/* Send msg (or an empty body when NULL) encoded as enc. */
static void http_send_msg(struct otlp_http *h, struct evhttp_request *req, int code,
                          enum http_enc enc, const ProtobufCMessage *msg)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    struct evbuffer *body = evbuffer_new();

    if (!body) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (enc == ENC_JSON) {
        struct otc_buf b;

        otc_buf_init(&b);
        if (msg) {
            otc_json_encode(msg, &b);
        } else {
            otc_buf_add(&b, "{}", 2);
        }
        evbuffer_add(body, b.data ? b.data : "{}", b.data ? b.len : 2);
        otc_buf_free(&b);
        evhttp_add_header(out, "Content-Type", "application/json");
    } else {
        if (msg) {
            size_t n = protobuf_c_message_get_packed_size(msg);
            struct evbuffer_iovec v;

            if (n > 0 && evbuffer_reserve_space(body, (ev_ssize_t)n, &v, 1) == 1) {
                protobuf_c_message_pack(msg, v.iov_base);
                v.iov_len = n;
                evbuffer_commit_space(body, &v, 1);
            }
        }
        evhttp_add_header(out, "Content-Type", "application/x-protobuf");
    }
    (void)h;
    evhttp_send_reply(req, code, http_reason(code), body);
    evbuffer_free(body);
}

/* An error with a google.rpc.Status body in the request's encoding. */
static void http_send_status(struct otlp_http *h, struct evhttp_request *req, int code,
                             enum http_enc enc, int rpc_code, const char *msg)
{
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;

    otc_log_debug(h->ins, "OTLP/HTTP %s: %d %s", evhttp_request_get_uri(req), code, msg);
    st.code = rpc_code;
    st.message = (char *)msg;
    http_send_msg(h, req, code, enc, &st.base);
}

/* A throttled request: 429 with Retry-After (whole seconds, rounded up) and a
 * Status body carrying RetryInfo; a refusal that waiting cannot cure
 * (retry_ns 0: larger than the limit's burst) is 413, which clients do not retry. */
static void http_send_exhausted(struct otlp_http *h, struct evhttp_request *req,
                                enum http_enc enc, const char *msg, int64_t retry_ns)
{
    struct otlp_retry_status r;
    int code = retry_ns > 0 ? 429 : 413;

    otc_log_debug(h->ins, "OTLP/HTTP %s: %d %s", evhttp_request_get_uri(req), code, msg);
    if (retry_ns > 0) {
        char secs[24];
        snprintf(secs, sizeof(secs), "%lld", (long long)((retry_ns + 999999999) / 1000000000));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", secs);
    }
    otlp_retry_status_init(&r, RPC_RESOURCE_EXHAUSTED, msg, retry_ns);
    http_send_msg(h, req, code, enc, &r.st.base);
}

/* A plain-text answer, for requests that are not OTLP at all (404, 405, 415). */
static void http_send_text(struct otlp_http *h, struct evhttp_request *req, int code,
                           const char *text)
{
    struct evbuffer *body = evbuffer_new();

    otc_log_debug(h->ins, "OTLP/HTTP %s: %d %s", evhttp_request_get_uri(req), code, text);
    if (!body) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add_printf(body, "%s\n", text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    evhttp_send_reply(req, code, http_reason(code), body);
    evbuffer_free(body);
}

/* The Export*ServiceResponse, with partial_success when items were rejected. */
static void http_send_export_ok(struct otlp_http *h, struct evhttp_request *req,
                                enum otc_signal s, enum http_enc enc, size_t rejected)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess tps =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsPartialSuccess lps =
        OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_PARTIAL_SUCCESS__INIT;
    otc_traces_resp tr = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    otc_metrics_resp mr =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_RESPONSE__INIT;
    otc_logs_resp lr = OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_RESPONSE__INIT;
    const ProtobufCMessage *msg;

    if (s == OTC_TRACES) {
        if (rejected) {
            tps.rejected_spans = (int64_t)rejected;
            tps.error_message = (char *)OTLP_REJECTED_WHY;
            tr.partial_success = &tps;
        }
        msg = &tr.base;
    } else if (s == OTC_LOGS) {
        if (rejected) {
            lps.rejected_log_records = (int64_t)rejected;
            lps.error_message = (char *)OTLP_REJECTED_WHY;
            lr.partial_success = &lps;
        }
        msg = &lr.base;
    } else {
        msg = &mr.base;
    }
    http_send_msg(h, req, 200, enc, msg);
}

/* ---------------------------------------------------------------- CORS */

static bool cors_origin_allowed(const struct otlp_http *h, const char *origin)
{
    const struct otc_strlist *l = h->o.cors_origins;

    for (size_t i = 0; origin && l && i < l->n; i++) {
        const char *pat = l->v[i];
        const char *star = strchr(pat, '*');

        if (!star) {
            if (strcasecmp(pat, origin) == 0) {
                return true;
            }
            continue;
        }
        /* prefix*suffix, the prefix and suffix not overlapping */
        {
            size_t pre = (size_t)(star - pat), suf = strlen(star + 1), n = strlen(origin);

            if (n >= pre + suf && strncasecmp(origin, pat, pre) == 0 &&
                strcasecmp(origin + n - suf, star + 1) == 0) {
                return true;
            }
        }
    }
    return false;
}

static bool cors_header_allowed(const struct otlp_http *h, const char *name, size_t n)
{
    static const char *const always[] = {"accept", "content-type", "x-requested-with", "origin",
                                         "content-encoding"};
    const struct otc_strlist *l = h->o.cors_headers;

    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++) {
        if (strlen(always[i]) == n && strncasecmp(always[i], name, n) == 0) {
            return true;
        }
    }
    for (size_t i = 0; l && i < l->n; i++) {
        if (strcmp(l->v[i], "*") == 0 ||
            (strlen(l->v[i]) == n && strncasecmp(l->v[i], name, n) == 0)) {
            return true;
        }
    }
    return false;
}

/* Every header in the comma-separated list is allowed. */
static bool cors_headers_allowed(const struct otlp_http *h, const char *list)
{
    const char *p = list;

    while (p && *p) {
        const char *e;
        size_t n;

        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        e = p;
        while (*e && *e != ',') {
            e++;
        }
        n = (size_t)(e - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
            n--;
        }
        if (n > 0 && !cors_header_allowed(h, p, n)) {
            return false;
        }
        p = e;
    }
    return true;
}

/* A preflight (OPTIONS with Access-Control-Request-Method): 204, with the
 * CORS headers only when the origin, method and headers are allowed. */
static void cors_preflight(struct otlp_http *h, struct evhttp_request *req, const char *origin)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *method = evhttp_find_header(in, "Access-Control-Request-Method");
    const char *hdrs = evhttp_find_header(in, "Access-Control-Request-Headers");

    evhttp_add_header(out, "Vary",
                      "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    if (cors_origin_allowed(h, origin) && method && strcmp(method, "POST") == 0 &&
        cors_headers_allowed(h, hdrs)) {
        evhttp_add_header(out, "Access-Control-Allow-Origin", origin);
        evhttp_add_header(out, "Access-Control-Allow-Methods", "POST");
        if (hdrs && *hdrs) {
            evhttp_add_header(out, "Access-Control-Allow-Headers", hdrs);
        }
        if (h->o.cors_max_age > 0) {
            char age[24];

            snprintf(age, sizeof(age), "%lld", (long long)h->o.cors_max_age);
            evhttp_add_header(out, "Access-Control-Max-Age", age);
        }
    } else {
        otc_log_debug(h->ins, "OTLP/HTTP CORS preflight refused for origin %s", origin);
    }
    evhttp_send_reply(req, 204, http_reason(204), NULL);
}

/* ---------------------------------------------------------- decompress */

/* otc_inflate's output: malloc'd anew for each size asked. */
static uint8_t *http_inflate_get(void *arg, size_t n)
{
    uint8_t **buf = arg;

    free(*buf);
    *buf = malloc(n ? n : 1);
    return *buf;
}

/* Inflate gzip (several members allowed) into a malloc'd buffer of at most
 * max bytes, with libdeflate (otc_inflate). 0, or 413 when larger, 400 when
 * corrupt, 500 out of memory (reason in why). */
static int http_gunzip(const uint8_t *in, size_t inlen, size_t max, uint8_t **out,
                       size_t *outlen, const char **why)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = otc_inflate(OTC_DEFLATE_GZIP, in, inlen, max, http_inflate_get, &buf, &n);

    if (rc != OTC_OK) {
        free(buf);
        *why = rc == OTC_ELIMIT  ? "decompressed body larger than max_request_body_size"
               : rc == OTC_EINVAL ? "invalid or truncated gzip body"
                                  : "out of memory";
        return rc == OTC_ELIMIT ? 413 : rc == OTC_EINVAL ? 400 : 500;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

static int http_unzstd(const uint8_t *in, size_t inlen, size_t max, uint8_t **out,
                       size_t *outlen, const char **why)
{
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    ZSTD_inBuffer zin = {in, inlen, 0};
    size_t cap = inlen * 4 + 1024, n = 0, zr = 1;
    uint8_t *buf;

    if (cap > max + 1) {
        cap = max + 1;
    }
    buf = malloc(cap);
    if (!dc || !buf) {
        ZSTD_freeDCtx(dc);
        free(buf);
        *why = "out of memory";
        return 500;
    }
    for (;;) {
        ZSTD_outBuffer zout;

        if (n == cap) {
            uint8_t *nb;

            if (cap > max) {
                break;
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            nb = realloc(buf, cap);
            if (!nb) {
                ZSTD_freeDCtx(dc);
                free(buf);
                *why = "out of memory";
                return 500;
            }
            buf = nb;
        }
        zout.dst = buf;
        zout.size = cap;
        zout.pos = n;
        zr = ZSTD_decompressStream(dc, &zout, &zin);
        n = zout.pos;
        if (ZSTD_isError(zr)) {
            break;
        }
        if (zin.pos == zin.size && zout.pos < zout.size) {
            break; /* all input consumed and flushed */
        }
    }
    ZSTD_freeDCtx(dc);
    if (n > max) {
        free(buf);
        *why = "decompressed body larger than max_request_body_size";
        return 413;
    }
    if (ZSTD_isError(zr) || zr != 0) {
        free(buf);
        *why = "invalid or truncated zstd body";
        return 400;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

/* Snappy's block format: the uncompressed length comes first, so a body that
 * would grow past max is refused before anything is allocated. */
static int http_unsnappy(const uint8_t *in, size_t inlen, size_t max, uint8_t **out,
                         size_t *outlen, const char **why)
{
    size_t n;
    uint8_t *buf;

    if (snappy_uncompressed_length((const char *)in, inlen, &n) != SNAPPY_OK) {
        *why = "invalid snappy body";
        return 400;
    }
    if (n > max) {
        *why = "decompressed body larger than max_request_body_size";
        return 413;
    }
    buf = malloc(n ? n : 1);
    if (!buf) {
        *why = "out of memory";
        return 500;
    }
    if (snappy_uncompress((const char *)in, inlen, (char *)buf, &n) != SNAPPY_OK) {
        free(buf);
        *why = "invalid or truncated snappy body";
        return 400;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

/* The body of Content-Encoding ce decompressed: 0, 400, 413 or 500 as the
 * codecs answer; -1 when ce is not one the receiver knows. */
static int http_decompress(const char *ce, const uint8_t *in, size_t inlen, size_t max,
                           uint8_t **out, size_t *outlen, const char **why)
{
    if (strcasecmp(ce, "gzip") == 0 || strcasecmp(ce, "x-gzip") == 0) {
        return http_gunzip(in, inlen, max, out, outlen, why);
    }
    if (strcasecmp(ce, "zstd") == 0) {
        return http_unzstd(in, inlen, max, out, outlen, why);
    }
    if (strcasecmp(ce, "snappy") == 0) {
        return http_unsnappy(in, inlen, max, out, outlen, why);
    }
    return -1;
}

/* ------------------------------------------------------------- requests */

/* The media type of Content-Type, without parameters, compared case-insensitively. */
static bool media_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);

    while (*ct == ' ') {
        ct++;
    }
    if (strncasecmp(ct, want, n) != 0) {
        return false;
    }
    ct += n;
    while (*ct == ' ') {
        ct++;
    }
    return *ct == '\0' || *ct == ';';
}

/* protocols.http.compression_algorithms: an empty list allows every encoding
 * otelc decodes; otherwise ce must be listed (x-gzip counts as gzip). */
static bool http_compression_allowed(const struct otc_strlist *l, const char *ce)
{
    if (!l || !l->n) {
        return true;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (!strcasecmp(l->v[i], ce) ||
            (!strcasecmp(ce, "x-gzip") && !strcasecmp(l->v[i], "gzip"))) {
            return true;
        }
    }
    return false;
}

static void http_answer(struct otlp_http *h, struct evhttp_request *req, enum otc_signal s,
                        enum http_enc enc, int rc, size_t rejected);
static bool http_park(struct otlp_http *h, struct evhttp_request *req, enum otc_signal s,
                      enum http_enc enc, struct otc_batch *b, const struct otc_admission *a,
                      size_t rejected);

static void http_export(struct otlp_http *h, struct evhttp_request *req, enum otc_signal s)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *ct = evhttp_find_header(in, "Content-Type");
    const char *ce = evhttp_find_header(in, "Content-Encoding");
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    enum http_enc enc;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    struct otc_batch *b = NULL;
    size_t rejected = 0;
    char msg[320];
    int rc;
    char bad[200];

    if (ct && media_type_is(ct, "application/x-protobuf")) {
        enc = ENC_PROTO;
    } else if (ct && media_type_is(ct, "application/json")) {
        enc = ENC_JSON;
    } else {
        snprintf(msg, sizeof(msg), "415 unsupported media type \"%.100s\", supported: "
                 "[application/json, application/x-protobuf]", ct ? ct : "");
        http_send_text(h, req, 415, msg);
        return;
    }
    if (len > h->o.max_body) { /* evhttp enforces this too; kept for chunked bodies */
        http_send_status(h, req, 413, enc, RPC_RESOURCE_EXHAUSTED,
                         "body larger than max_request_body_size");
        return;
    }
    if (ce && *ce && strcasecmp(ce, "identity") != 0) {
        const uint8_t *wire = evbuffer_pullup(body, -1);
        const char *why = "";
        int code;

        if (!http_compression_allowed(h->o.compression, ce)) {
            snprintf(msg, sizeof(msg), "unsupported Content-Encoding \"%.60s\" "
                     "(not in compression_algorithms)", ce);
            http_send_status(h, req, 400, enc, RPC_INVALID_ARGUMENT, msg);
            return;
        }
        code = http_decompress(ce, wire, len, h->o.max_body, &plain, &plain_len, &why);
        if (code < 0) {
            snprintf(msg, sizeof(msg), "unsupported Content-Encoding \"%.60s\" "
                     "(supported: gzip, zstd, snappy)", ce);
            http_send_status(h, req, 400, enc, RPC_INVALID_ARGUMENT, msg);
            return;
        }
        if (code != 0) {
            http_send_status(h, req, code, enc,
                             code == 413 ? RPC_RESOURCE_EXHAUSTED
                             : code == 400 ? RPC_INVALID_ARGUMENT : RPC_INTERNAL, why);
            return;
        }
    }

    if (enc == ENC_PROTO) {
        uint8_t *dst;
        size_t n = plain ? plain_len : len;

        b = otc_batch_alloc_raw(s, n, &dst);
        if (!b) {
            free(plain);
            http_send_status(h, req, 500, enc, RPC_INTERNAL, "out of memory");
            return;
        }
        if (plain) {
            memcpy(dst, plain, n);
        } else if (n) {
            evbuffer_remove(body, dst, n);
        }
        free(plain);
        /* Fast path: a request the scan finds clean stays undecoded; stages
         * that read it decode it lazily on their own threads. */
        if ((rc = otlp_ingest_check(b, h->o.max_items, bad, sizeof(bad))) != OTC_OK) {
            otc_batch_unref(b);
            if (rc == OTC_ELIMIT) {
                http_send_status(h, req, 413, enc, RPC_RESOURCE_EXHAUSTED, bad);
            } else {
                snprintf(msg, sizeof(msg), "%s in a %zu-byte body", bad, n);
                http_send_status(h, req, 400, enc, RPC_INVALID_ARGUMENT, msg);
            }
            return;
        }
    } else {
        struct otc_arena arena;
        ProtobufCMessage *m = NULL;
        const char *text = plain ? (const char *)plain : (const char *)evbuffer_pullup(body, -1);
        size_t n = plain ? plain_len : len;
        char err[256];

        otc_arena_init(&arena, n * 3 + 1024);
        rc = otc_json_decode(otc_request_descriptor(s), text ? text : "", n, &arena, &m, err,
                             sizeof(err));
        free(plain);
        if (rc == OTC_OK) {
            b = otc_batch_from_msg(s, &arena, m);
        }
        if (!b) {
            otc_arena_release(&arena);
            if (rc == OTC_OK || rc == OTC_ENOMEM) {
                http_send_status(h, req, 500, enc, RPC_INTERNAL, "out of memory");
            } else {
                snprintf(msg, sizeof(msg), "cannot decode %s: %s",
                         otc_request_descriptor(s)->name, err);
                http_send_status(h, req, 400, enc, RPC_INVALID_ARGUMENT, msg);
            }
            return;
        }
    }

    if (enc == ENC_JSON && h->o.max_items && b->items > h->o.max_items) {
        otc_batch_unref(b); /* JSON: counted once decoded (spans, data points, log records) */
        snprintf(msg, sizeof(msg), "more than %zu items in one request (max_items_per_request)",
                 h->o.max_items);
        http_send_status(h, req, 413, enc, RPC_RESOURCE_EXHAUSTED, msg);
        return;
    }
    b->transport = OTC_TRANSPORT_HTTP; /* self-metrics: transport="http" */
    {
        struct otc_client_meta meta = {otlp_meta_http_get, in};
        struct otc_admission adm = {.client = h->o.include_metadata ? &meta : NULL,
                                    .wait = !h->stopping && !atomic_load(&h->stop) &&
                                            h->n_parked < PARK_MAX};

        rc = otlp_ingest_accept(h->ins, b, &rejected, &adm);
        if (rc == OTC_ETHROTTLED || rc == OTC_ELIMIT) {
            http_send_exhausted(h, req, enc, adm.reason[0] ? adm.reason : otc_strerror(rc),
                                rc == OTC_ETHROTTLED ? adm.retry_after_ns : 0);
            return;
        }
        if (rc == OTC_EFULL) {
            if (http_park(h, req, s, enc, b, &adm, rejected)) {
                return; /* answered later, from http_park_retry */
            }
            adm.wait = false;
            rc = otc_receiver_redeliver(h->ins, b, &adm);
        }
    }
    http_answer(h, req, s, enc, rc, rejected);
}

/* The answer to a delivery's outcome rc (not the admission gates'). */
static void http_answer(struct otlp_http *h, struct evhttp_request *req, enum otc_signal s,
                        enum http_enc enc, int rc, size_t rejected)
{
    switch (rc) {
    case OTC_OK:
        http_send_export_ok(h, req, s, enc, rejected);
        break;
    case OTC_EAGAIN:
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        http_send_status(h, req, 503, enc, RPC_UNAVAILABLE, "the pipeline is full, retry later");
        break;
    case OTC_ESHUTDOWN:
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        http_send_status(h, req, 503, enc, RPC_UNAVAILABLE, "the collector is shutting down");
        break;
    default:
        http_send_status(h, req, 404, enc, RPC_UNIMPLEMENTED, "no pipeline for this signal");
        break;
    }
}

/* ------------------------------------------------------- waiting for room */

static int64_t http_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void http_park_arm(struct http_park *pk, int64_t delay_ns)
{
    struct timeval tv = {.tv_sec = delay_ns / 1000000000,
                         .tv_usec = (delay_ns % 1000000000) / 1000};

    evtimer_add(pk->timer, &tv);
}

/* Offer the parked request again; answer it unless it is to wait on. The
 * last try comes once its wait is over or the receiver stops (the collector
 * stopping answers 503 at once). */
static void http_park_retry(evutil_socket_t fd, short what, void *arg)
{
    struct http_park *pk = arg;
    struct otlp_http *h = pk->h;
    int64_t now = http_now_ns();
    struct otc_batch *b = pk->b;
    int rc;

    (void)fd;
    (void)what;
    pk->adm.wait = now < pk->until && !h->stopping;
    pk->b = NULL;
    rc = otc_receiver_redeliver(h->ins, b, &pk->adm);
    if (rc == OTC_EFULL) {
        pk->b = b;
        pk->step = pk->step * 2 < PARK_STEP_MAX_NS ? pk->step * 2 : PARK_STEP_MAX_NS;
        http_park_arm(pk, pk->step < pk->until - now ? pk->step : pk->until - now);
        return;
    }
    *pk->prevp = pk->next;
    if (pk->next) {
        pk->next->prevp = pk->prevp;
    }
    h->n_parked--;
    http_answer(h, pk->req, pk->s, pk->enc, rc, pk->rejected);
    event_free(pk->timer);
    free(pk);
}

/* Keep b (refused with OTC_EFULL) with req and offer it again from a timer
 * of this loop, for at most the pipelines' max_wait (HTTP requests carry no
 * deadline). False (b stays the caller's) when out of memory. */
static bool http_park(struct otlp_http *h, struct evhttp_request *req, enum otc_signal s,
                      enum http_enc enc, struct otc_batch *b, const struct otc_admission *a,
                      size_t rejected)
{
    struct http_park *pk = calloc(1, sizeof(*pk));

    if (!pk || !(pk->timer = evtimer_new(h->base, http_park_retry, pk))) {
        free(pk);
        return false;
    }
    pk->h = h;
    pk->req = req;
    pk->b = b;
    pk->adm = *a;
    pk->adm.client = NULL; /* the gates are not run again */
    pk->s = s;
    pk->enc = enc;
    pk->rejected = rejected;
    pk->step = PARK_STEP_FIRST_NS;
    pk->until = http_now_ns() + a->wait_ns;
    pk->next = h->parked;
    pk->prevp = &h->parked;
    if (h->parked) {
        h->parked->prevp = &pk->next;
    }
    h->parked = pk;
    h->n_parked++;
    http_park_arm(pk, pk->step < a->wait_ns ? pk->step : a->wait_ns);
    return true;
}

/* auth.authenticator: the configured header must carry the token. */
static bool http_authorized(struct otlp_http *h, struct evhttp_request *req)
{
    const struct otc_auth_ops *a = h->o.auth->ops->auth;
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req),
                                       a->server_header(h->o.auth));

    return a->server_check(h->o.auth, v, v ? strlen(v) : 0) == OTC_OK;
}

/* 401, and the request's items counted as refused: protobuf bodies are
 * decompressed (within max_request_body_size) and scanned, never decoded;
 * OTLP/JSON bodies are not parsed and count no items. */
static void http_refuse_unauth(struct otlp_http *h, struct evhttp_request *req, enum otc_signal s)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *ct = evhttp_find_header(in, "Content-Type");
    const char *ce = evhttp_find_header(in, "Content-Encoding");
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);

    if (ct && media_type_is(ct, "application/x-protobuf") && len <= h->o.max_body) {
        const uint8_t *wire = evbuffer_pullup(body, -1);
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        const char *why = "";

        if (!ce || !*ce || strcasecmp(ce, "identity") == 0) {
            otlp_ingest_refuse_unauth(h->ins, s, OTC_TRANSPORT_HTTP, wire, len);
        } else if (http_decompress(ce, wire, len, h->o.max_body, &plain, &plain_len, &why) == 0) {
            otlp_ingest_refuse_unauth(h->ins, s, OTC_TRANSPORT_HTTP, plain, plain_len);
        }
        free(plain);
    }
    otc_log_debug(h->ins, "OTLP/HTTP %s: 401 missing or invalid token", evhttp_request_get_uri(req));
    http_send_text(h, req, 401, "401 Unauthorized");
}

static void http_handle(struct evhttp_request *req, void *arg)
{
    struct otlp_http *h = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *origin = evhttp_find_header(evhttp_request_get_input_headers(req), "Origin");
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    int s = -1;

    /* response_headers: on every answer, whatever it is (confighttp sets
     * them before any other handler runs) */
    for (size_t i = 0; h->o.response_headers && i < h->o.response_headers->n; i++) {
        struct evkeyvalq *out = evhttp_request_get_output_headers(req);

        evhttp_remove_header(out, h->o.response_headers->keys[i]);
        evhttp_add_header(out, h->o.response_headers->keys[i], h->o.response_headers->vals[i]);
    }
    for (int i = 0; path && i < OTC_SIGNAL_COUNT; i++) {
        if (h->ins->n_feeds[i] && strcmp(path, h->o.paths[i]) == 0) {
            s = i;
        }
    }
    if (s < 0) {
        http_send_text(h, req, 404, "404 page not found");
        return;
    }
    if (cmd == EVHTTP_REQ_OPTIONS && h->o.cors_origins && h->o.cors_origins->n > 0 &&
        evhttp_find_header(evhttp_request_get_input_headers(req),
                           "Access-Control-Request-Method")) {
        cors_preflight(h, req, origin);
        return;
    }
    if (origin && cors_origin_allowed(h, origin)) {
        struct evkeyvalq *out = evhttp_request_get_output_headers(req);

        evhttp_add_header(out, "Access-Control-Allow-Origin", origin);
        evhttp_add_header(out, "Vary", "Origin");
    }
    if (h->o.auth && !http_authorized(h, req)) {
        http_refuse_unauth(h, req, (enum otc_signal)s);
        return;
    }
    if (cmd != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        http_send_text(h, req, 405, "405 method not allowed, supported: [POST]");
        return;
    }
    http_export(h, req, (enum otc_signal)s);
}

/* ------------------------------------------------------------ lifecycle */

/* Every 100 ms, and at once when otlp_http_stop activates it: once stop is
 * set, answer the requests waiting for room (a last try each), then leave
 * the loop, after a moment for those answers to go out. */
static void http_tick(evutil_socket_t fd, short what, void *arg)
{
    struct otlp_http *h = arg;
    bool answered = h->parked != NULL;

    (void)fd;
    (void)what;
    if (!atomic_load(&h->stop) || h->stopping) {
        return;
    }
    h->stopping = true;
    while (h->parked) {
        event_del(h->parked->timer);
        http_park_retry(-1, EV_TIMEOUT, h->parked);
    }
    if (answered) {
        event_base_loopexit(h->base, &(struct timeval){.tv_sec = 0, .tv_usec = STOP_FLUSH_US});
    } else {
        event_base_loopbreak(h->base);
    }
}

/* Every accepted connection gets a TLS server session (evhttp_set_bevcb). */
static struct bufferevent *http_tls_bev(struct event_base *base, void *arg)
{
    struct otlp_http *h = arg;
    SSL *ssl = SSL_new(h->ssl);
    struct bufferevent *bev;

    if (!ssl) {
        return NULL;
    }
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev) {
        /* a client closing without close_notify must not turn into an error */
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    }
    return bev;
}

static int http_tls_init(struct otlp_http *h, const struct otlp_tls *t)
{
    static const int versions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
    char why[512];
    const char *what;

    h->ssl = SSL_CTX_new(TLS_server_method());
    if (!h->ssl) {
        return OTC_ENOMEM;
    }
    SSL_CTX_set_options(h->ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    what = "protocols.http.tls.min_version";
    if (!SSL_CTX_set_min_proto_version(h->ssl, versions[t->min_version])) {
        goto err;
    }
    what = "protocols.http.tls.max_version";
    if (t->max_version && !SSL_CTX_set_max_proto_version(h->ssl, versions[t->max_version - 1])) {
        goto err;
    }
    what = "protocols.http.tls.cert_file";
    if (SSL_CTX_use_certificate_chain_file(h->ssl, t->cert_file) != 1) {
        goto err;
    }
    what = "protocols.http.tls.key_file";
    if (SSL_CTX_use_PrivateKey_file(h->ssl, t->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(h->ssl) != 1) {
        goto err;
    }
    if (t->client_ca_file) {
        STACK_OF(X509_NAME) *names;

        what = "protocols.http.tls.client_ca_file";
        if (SSL_CTX_load_verify_locations(h->ssl, t->client_ca_file, NULL) != 1 ||
            !(names = SSL_load_client_CA_file(t->client_ca_file))) {
            goto err;
        }
        SSL_CTX_set_client_CA_list(h->ssl, names);
        SSL_CTX_set_verify(h->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    evhttp_set_bevcb(h->http, http_tls_bev, h);
    return OTC_OK;
err:
    otc_ssl_errors(why, sizeof(why));
    otc_log_err(h->ins, "%s: %s", what, why[0] ? why : "rejected by OpenSSL");
    return OTC_EINVAL;
}

static void *http_loop(void *arg)
{
    struct otlp_http *h = arg;

    event_base_dispatch(h->base);
    return NULL;
}

int otlp_http_start(struct otlp_http **out, struct otc_instance *ins,
                    const struct otlp_http_options *o)
{
    struct otlp_http *h;
    char host[300];
    int port;

    *out = NULL;
    if (otlp_http_parse_endpoint(o->endpoint, host, sizeof(host), &port) != OTC_OK) {
        otc_log_err(ins, "protocols.http.endpoint must be host:port, got \"%s\"", o->endpoint);
        return OTC_EINVAL;
    }
    pthread_once(&http_threads_once, http_threads_init);
    if (http_threads_rc != 0) {
        otc_log_err(ins, "OTLP/HTTP: libevent has no thread support");
        return OTC_ENOMEM;
    }
    h = calloc(1, sizeof(*h));
    if (!h) {
        return OTC_ENOMEM;
    }
    h->ins = ins;
    h->o = *o;
    h->base = event_base_new();
    h->http = h->base ? evhttp_new(h->base) : NULL;
    if (!h->http) {
        otlp_http_stop(h);
        return OTC_ENOMEM;
    }
    evhttp_set_max_body_size(h->http, (ev_ssize_t)o->max_body);
    evhttp_set_max_headers_size(h->http, (ev_ssize_t)(o->max_header ? o->max_header : 65536));
    /* a connection idle (or stalled mid-request) this long is closed */
    {
        int64_t ns = o->idle_timeout_ns > 0 ? o->idle_timeout_ns : HTTP_IDLE_TIMEOUT_NS;
        struct timeval tv = {.tv_sec = ns / 1000000000, .tv_usec = (ns % 1000000000) / 1000};

        evhttp_set_timeout_tv(h->http, &tv);
    }
    evhttp_set_flags(h->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, http_handle, h);
    if (o->tls && o->tls->cert_file) {
        int rc = http_tls_init(h, o->tls);

        if (rc != OTC_OK) {
            otlp_http_stop(h);
            return rc;
        }
    }
    h->tick = event_new(h->base, -1, EV_PERSIST, http_tick, h);
    if (!h->tick || event_add(h->tick, &(struct timeval){.tv_sec = 0, .tv_usec = 100000}) != 0) {
        otlp_http_stop(h);
        return OTC_ENOMEM;
    }
    if (!evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port)) {
        otc_log_err(ins, "cannot listen on %s: the address is in use or invalid", o->endpoint);
        otlp_http_stop(h);
        return OTC_EIO;
    }
    if (pthread_create(&h->thread, NULL, http_loop, h) != 0) {
        otlp_http_stop(h);
        return OTC_ENOMEM;
    }
    h->thread_started = true;
    otc_log_info(ins, "OTLP/HTTP%s listening on %s", h->ssl ? " (TLS)" : "", o->endpoint);
    *out = h;
    return OTC_OK;
}

void otlp_http_stop(struct otlp_http *h)
{
    if (!h) {
        return;
    }
    if (h->thread_started) {
        atomic_store(&h->stop, true);
        event_active(h->tick, EV_TIMEOUT, 0);
        pthread_join(h->thread, NULL);
    }
    /* none is left once the loop ran its stop (http_tick); their connections
     * go with the server below */
    while (h->parked) {
        struct http_park *pk = h->parked;

        h->parked = pk->next;
        otc_batch_unref(pk->b);
        event_free(pk->timer);
        free(pk);
    }
    if (h->tick) {
        event_free(h->tick);
    }
    if (h->http) {
        evhttp_free(h->http);
    }
    if (h->base) {
        event_base_free(h->base);
    }
    if (h->ssl) {
        SSL_CTX_free(h->ssl);
    }
    free(h);
}
