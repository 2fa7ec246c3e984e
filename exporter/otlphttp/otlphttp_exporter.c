/* otlphttp_exporter.c - the `otlphttp` exporter: posts each batch as one OTLP/HTTP
 * request (binary protobuf or OTLP/JSON; gzip, zstd, snappy, framed snappy,
 * lz4, zlib, deflate or no compression) with libevent's evhttp client, over http:// or https://
 * (OpenSSL; the tls block is otlphttp_tls.c), with an authenticator's
 * credential when auth.authenticator names one. consume() runs on the
 * exporter's sending_queue threads (several at once); each call borrows a
 * client (an event_base with one keep-alive connection per signal) from a pool
 * and runs its request to the end. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE /* strptime, timegm */
#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zstd.h>

#include "otlphttp_exporter.h"
#include "otlphttp_tls.h"
#include "google/rpc/status.pb-c.h"
#include "otc/otc_auth.h"
#include "otc/otc_buf.h"
#include "otc/otc_crc32c.h"
#include "otc/otc_deflate.h"
#include "otc/otc_json.h"
#include "otc/otc_otlp.h"

#define OTLPHTTP_TICK_MS       100         /* how often a waiting request checks its deadlines */
#define OTLPHTTP_MAX_RESP_BODY (64 * 1024) /* response bytes kept for partial_success / Status */
#define OTLPHTTP_URL_MAX       2048
#define OTLPHTTP_MAX_AUTH      16400       /* bytes of an authenticator's header value */

/* Index into compression_choices; "" is otelcol's spelling of none. */
enum { COMPRESS_GZIP, COMPRESS_ZSTD, COMPRESS_SNAPPY, COMPRESS_ZLIB, COMPRESS_DEFLATE,
       COMPRESS_SNAPPY_FRAMED, COMPRESS_LZ4, COMPRESS_NONE, COMPRESS_EMPTY };
enum { ENCODING_PROTO, ENCODING_JSON };

/* Where one signal goes, split from its URL at start(). */
struct otlphttp_target {
    char *url;      /* as configured or composed, for log lines */
    char *host;     /* for the connection (no brackets around IPv6) */
    char *host_hdr; /* Host header: host[:port] as in the URL */
    char *path;     /* request target: path and query */
    int   port;
    bool  https;
};

/* One thread's means to send: used by one consume() at a time. */
struct otlphttp_client {
    struct event_base        *base;
    struct evhttp_connection *conn[OTC_SIGNAL_COUNT];
    bool                      reused[OTC_SIGNAL_COUNT]; /* conn answered before */
    bool                      closed[OTC_SIGNAL_COUNT]; /* conn closed: make a new one */
    uint64_t                  idle_since[OTC_SIGNAL_COUNT]; /* end of its last request */
    struct otlphttp_client   *next;                     /* idle list */
};

struct otlphttp_exp {
    /* options */
    char                  *endpoint;
    char                  *signal_endpoint[OTC_SIGNAL_COUNT];
    char                  *profiles_endpoint;
    int                    compression;
    int64_t                compression_level;
    int                    encoding;
    struct otc_strmap      headers;
    struct otlphttp_tls    tls;
    char                  *auth;
    int64_t                idle_conn_timeout_ns;
    bool                   disable_keep_alives;
    bool                   keepalive_enabled;
    int64_t                keepalive_idle_conn_timeout_ns;
    /* accepted for otelcol, without effect in otelc (see their desc) */
    char                  *proxy_url;
    int64_t                read_buffer_size;
    int64_t                write_buffer_size;
    int64_t                max_idle_conns;
    int64_t                max_idle_conns_per_host;
    int64_t                max_conns_per_host;
    int64_t                keepalive_max_idle_conns;
    int64_t                keepalive_max_idle_conns_per_host;
    int64_t                http2_read_idle_timeout_ns;
    int64_t                http2_ping_timeout_ns;
    bool                   force_attempt_http2;
    bool                   cookies_enabled;
    const void            *middlewares;
    /* runtime */
    struct otlphttp_target tgt[OTC_SIGNAL_COUNT];
    pthread_mutex_t        lock; /* guards idle, ssl and ssl_loaded_ns */
    bool                   lock_ready;
    struct otlphttp_client *idle;
    SSL_CTX               *ssl;           /* for https:// targets */
    uint64_t               ssl_loaded_ns; /* when ssl was built (tls.reload_interval) */
    struct otc_instance   *authn;         /* resolved auth.authenticator */
    const char            *auth_header;   /* its header */
    int64_t                idle_timeout_ns; /* a kept-alive connection idle longer is replaced */
    bool                   keep_alive;
};

/* The outcome of one request, filled by the libevent callbacks. */
struct otlphttp_call {
    bool                  done;
    int                   code;  /* HTTP status, 0 when no response arrived */
    enum evhttp_request_error error;
    bool                  has_error;
    char                  content_type[64];
    char                  retry_after[64];
    struct otc_buf        body;
    char                  tls_why[200]; /* why the TLS handshake failed, when it did */
};

static const char *const compression_choices[] = {"gzip", "zstd", "snappy", "zlib", "deflate",
                                                  "x-snappy-framed", "lz4", "none", "", NULL};
static const char *const encoding_choices[] = {"proto", "json", NULL};

#define OFF(f) offsetof(struct otlphttp_exp, f)

static const struct otc_config_entry otlphttp_config[] = {
    {OTC_CFG_STR, "endpoint", NULL, OFF(endpoint), 0, 0, 0, NULL,
     "base URL, http://host:port[/path]; /v1/traces, /v1/metrics or /v1/logs is appended"},
    {OTC_CFG_STR, "traces_endpoint", NULL, OFF(signal_endpoint[OTC_TRACES]), 0, 0, 0, NULL,
     "full URL for traces, used as is instead of endpoint"},
    {OTC_CFG_STR, "metrics_endpoint", NULL, OFF(signal_endpoint[OTC_METRICS]), 0, 0, 0, NULL,
     "full URL for metrics, used as is instead of endpoint"},
    {OTC_CFG_STR, "logs_endpoint", NULL, OFF(signal_endpoint[OTC_LOGS]), 0, 0, 0, NULL,
     "full URL for logs, used as is instead of endpoint"},
    {OTC_CFG_STR, "profiles_endpoint", NULL, OFF(profiles_endpoint), 0, 0, 0, NULL,
     "accepted for otelcol; no effect (otelc has no profiles signal)"},
    {OTC_CFG_ENUM, "compression", "gzip", OFF(compression), 0, 0, 0, compression_choices,
     "request body compression, sent as Content-Encoding (snappy: the block format; "
     "x-snappy-framed: the framing format; lz4: an LZ4 frame; zlib and deflate: a zlib stream; "
     "none or \"\": uncompressed)"},
    {OTC_CFG_INT, "compression_params.level", "0", OFF(compression_level), 0, 0, 0, NULL,
     "compression level: gzip, zlib, deflate -2 (Huffman only) to 9, zstd any (mapped to the "
     "nearest), snappy and none only 0 (0 = the codec's fast default)"},
    {OTC_CFG_ENUM, "encoding", "proto", OFF(encoding), 0, 0, 0, encoding_choices,
     "request body: binary protobuf (application/x-protobuf) or OTLP/JSON"},
    {OTC_CFG_STRMAP, "headers", NULL, OFF(headers), 0, 0, 0, NULL,
     "HTTP headers sent with every request"},
    OTLPHTTP_TLS_ROWS(OFF(tls)),
    {OTC_CFG_STR, "auth.authenticator", NULL, OFF(auth), 0, 0, 0, NULL,
     "id of an authenticator extension whose credential is sent with every request"},
    {OTC_CFG_DURATION, "idle_conn_timeout", "90s", OFF(idle_conn_timeout_ns), 0, 0, 0, NULL,
     "a kept-alive connection idle longer than this is closed and a new one opened (0 = no "
     "limit)"},
    {OTC_CFG_BOOL, "disable_keep_alives", "false", OFF(disable_keep_alives), 0, 0, 0, NULL,
     "a new connection for every request"},
    {OTC_CFG_BOOL, "keepalive.enabled", "true", OFF(keepalive_enabled), 0, 0, 0, NULL,
     "false: a new connection for every request (as disable_keep_alives)"},
    {OTC_CFG_DURATION, "keepalive.idle_conn_timeout", "0", OFF(keepalive_idle_conn_timeout_ns), 0,
     0, 0, NULL, "as idle_conn_timeout, which it replaces when set (0 = idle_conn_timeout)"},
    {OTC_CFG_INT, "keepalive.max_idle_conns", "0", OFF(keepalive_max_idle_conns), 0, 0, 0, NULL,
     "accepted for otelcol; no effect: otelc keeps one connection per sending thread and signal"},
    {OTC_CFG_INT, "keepalive.max_idle_conns_per_host", "0", OFF(keepalive_max_idle_conns_per_host),
     0, 0, 0, NULL, "accepted for otelcol; no effect (as keepalive.max_idle_conns)"},
    {OTC_CFG_INT, "max_idle_conns", "100", OFF(max_idle_conns), 0, 0, 0, NULL,
     "accepted for otelcol; no effect: otelc keeps one connection per sending thread and signal"},
    {OTC_CFG_INT, "max_idle_conns_per_host", "0", OFF(max_idle_conns_per_host), 0, 0, 0, NULL,
     "accepted for otelcol; no effect (as max_idle_conns)"},
    {OTC_CFG_INT, "max_conns_per_host", "0", OFF(max_conns_per_host), 0, 0, 0, NULL,
     "accepted for otelcol; no effect: sending_queue.num_consumers bounds the connections"},
    {OTC_CFG_STR, "proxy_url", NULL, OFF(proxy_url), 0, 0, 0, NULL,
     "accepted for otelcol; not supported: requests go to the endpoint directly (a warning at "
     "start), and HTTP(S)_PROXY are not read"},
    {OTC_CFG_INT, "read_buffer_size", "0", OFF(read_buffer_size), 0, 0, 0, NULL,
     "accepted for otelcol; no effect (Go's transport buffer size; libevent sizes its own)"},
    {OTC_CFG_INT, "write_buffer_size", "524288", OFF(write_buffer_size), 0, 0, 0, NULL,
     "accepted for otelcol; no effect (Go's transport buffer size; libevent sizes its own)"},
    {OTC_CFG_DURATION, "http2_read_idle_timeout", "0", OFF(http2_read_idle_timeout_ns), 0, 0, 0,
     NULL, "accepted for otelcol; no effect: otelc sends HTTP/1.1"},
    {OTC_CFG_DURATION, "http2_ping_timeout", "0", OFF(http2_ping_timeout_ns), 0, 0, 0, NULL,
     "accepted for otelcol; no effect: otelc sends HTTP/1.1"},
    {OTC_CFG_BOOL, "force_attempt_http2", "true", OFF(force_attempt_http2), 0, 0, 0, NULL,
     "accepted for otelcol; no effect: otelc sends HTTP/1.1"},
    {OTC_CFG_BOOL, "cookies.enabled", "false", OFF(cookies_enabled), 0, 0, 0, NULL,
     "accepted for otelcol; no effect: cookies the server sets are not kept"},
    {OTC_CFG_NODE, "middlewares", NULL, OFF(middlewares), 0, 0, 0, NULL,
     "accepted for otelcol; no effect: otelc has no middleware extensions"},
    OTC_CFG_END,
};

/* Headers the exporter sets itself; a user value for them is ignored. */
static const char *const own_headers[] = {"host", "content-type", "content-encoding",
                                          "content-length", "transfer-encoding", "connection",
                                          NULL};

/* ------------------------------------------------------------------ config */

int otc_otlphttp_signal_url(const char *endpoint, const char *signal_endpoint, enum otc_signal s,
                            char *out, size_t n)
{
    int w;

    if (signal_endpoint && *signal_endpoint) {
        w = snprintf(out, n, "%s", signal_endpoint);
    } else if (endpoint && *endpoint) {
        size_t len = strlen(endpoint);
        w = snprintf(out, n, "%s%sv1/%s", endpoint, endpoint[len - 1] == '/' ? "" : "/",
                     otc_signal_name(s));
    } else {
        return OTC_EINVAL;
    }
    return w < 0 || (size_t)w >= n ? OTC_ELIMIT : OTC_OK;
}

static bool own_header(const char *name)
{
    for (size_t i = 0; own_headers[i]; i++) {
        if (!strcasecmp(name, own_headers[i])) {
            return true;
        }
    }
    return false;
}

/* Split url into t (allocates); a reason in err on failure. */
static int parse_target(const char *url, struct otlphttp_target *t, char *err, size_t errlen)
{
    struct evhttp_uri *u = evhttp_uri_parse_with_flags(url, 0);
    const char *scheme, *host, *path, *query;
    int port, rc = OTC_EINVAL;
    char buf[OTLPHTTP_URL_MAX];

    if (!u) {
        snprintf(err, errlen, "\"%s\" is not a URL (expected http:// or https://host:port)", url);
        return OTC_EINVAL;
    }
    scheme = evhttp_uri_get_scheme(u);
    host = evhttp_uri_get_host(u);
    port = evhttp_uri_get_port(u);
    path = evhttp_uri_get_path(u);
    query = evhttp_uri_get_query(u);
    if (!scheme || (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))) {
        snprintf(err, errlen, "\"%s\": the URL must start with http:// or https://", url);
        goto out;
    }
    if (!host || !*host) {
        snprintf(err, errlen, "\"%s\": the URL has no host", url);
        goto out;
    }
    if (evhttp_uri_get_userinfo(u) || evhttp_uri_get_fragment(u)) {
        snprintf(err, errlen, "\"%s\": user info and fragments are not allowed", url);
        goto out;
    }
    if (!t) {
        rc = OTC_OK;
        goto out;
    }
    t->url = strdup(url);
    t->https = !strcasecmp(scheme, "https");
    t->port = port > 0 ? port : t->https ? 443 : 80;
    /* evhttp_uri keeps an IPv6 literal in brackets; the socket wants it bare */
    if (host[0] == '[') {
        t->host = strndup(host + 1, strlen(host) - 2);
    } else {
        t->host = strdup(host);
    }
    if (port > 0) {
        snprintf(buf, sizeof(buf), "%s:%d", host, port);
    } else {
        snprintf(buf, sizeof(buf), "%s", host);
    }
    t->host_hdr = strdup(buf);
    snprintf(buf, sizeof(buf), "%s%s%s%s", path && *path ? "" : "/", path ? path : "",
             query ? "?" : "", query ? query : "");
    t->path = strdup(buf);
    rc = t->url && t->host && t->host_hdr && t->path ? OTC_OK : OTC_ENOMEM;
out:
    evhttp_uri_free(u);
    return rc;
}

int otc_otlphttp_compression_check(int compression, int64_t level, char *err, size_t errlen)
{
    switch (compression) {
    case COMPRESS_GZIP:
    case COMPRESS_ZLIB:
    case COMPRESS_DEFLATE:
        /* zlib's DefaultCompression (-1), HuffmanOnly (-2), 0 and 1..9, as Go's */
        if (level >= -2 && level <= 9) {
            return OTC_OK;
        }
        break;
    case COMPRESS_ZSTD:
        return OTC_OK; /* any level: mapped to the nearest zstd has */
    default:
        if (level == 0) {
            return OTC_OK;
        }
        break;
    }
    snprintf(err, errlen, "compression_params.level %lld is not supported for compression \"%s\"",
             (long long)level, compression_choices[compression]);
    return OTC_EINVAL;
}

static int otlphttp_validate(const void *vctx, char *err, size_t errlen)
{
    const struct otlphttp_exp *x = vctx;
    char url[OTLPHTTP_URL_MAX];
    bool any = x->endpoint && *x->endpoint;

    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        any = any || (x->signal_endpoint[s] && *x->signal_endpoint[s]);
    }
    if (!any) {
        snprintf(err, errlen, "\"endpoint\" (or traces_endpoint, metrics_endpoint and "
                 "logs_endpoint) is required");
        return OTC_EINVAL;
    }
    if (x->endpoint && *x->endpoint && parse_target(x->endpoint, NULL, err, errlen) != OTC_OK) {
        return OTC_EINVAL;
    }
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        int rc;

        if (!x->signal_endpoint[s] || !*x->signal_endpoint[s]) {
            continue; /* composed from endpoint: checked above */
        }
        rc = otc_otlphttp_signal_url(x->endpoint, x->signal_endpoint[s], (enum otc_signal)s, url,
                                     sizeof(url));
        if (rc != OTC_OK) {
            snprintf(err, errlen, "%s_endpoint is too long", otc_signal_name((enum otc_signal)s));
            return OTC_EINVAL;
        }
        if (parse_target(url, NULL, err, errlen) != OTC_OK) {
            return OTC_EINVAL;
        }
    }
    if (otc_otlphttp_compression_check(x->compression, x->compression_level, err, errlen) !=
        OTC_OK) {
        return OTC_EINVAL;
    }
    if (otc_otlphttp_tls_check(&x->tls, err, errlen) != OTC_OK) {
        return OTC_EINVAL;
    }
    for (size_t i = 0; i < x->headers.n; i++) {
        for (const char *p = x->headers.keys[i]; *p; p++) {
            if (*p <= ' ' || *p == ':' || *p == 0x7f) {
                snprintf(err, errlen, "headers: \"%s\" is not a valid header name",
                         x->headers.keys[i]);
                return OTC_EINVAL;
            }
        }
        if (strpbrk(x->headers.vals[i], "\r\n")) {
            snprintf(err, errlen, "headers: the value of \"%s\" contains a line break",
                     x->headers.keys[i]);
            return OTC_EINVAL;
        }
    }
    return OTC_OK;
}

/* ------------------------------------------------------------------ lifecycle */

static int otlphttp_start(struct otc_instance *ins, void *vctx)
{
    struct otlphttp_exp *x = vctx;
    char url[OTLPHTTP_URL_MAX], err[512];
    bool https = false;

    if (pthread_mutex_init(&x->lock, NULL) != 0) {
        return OTC_ENOMEM;
    }
    x->lock_ready = true;
    if (x->auth) {
        x->authn = otc_engine_extension(ins->engine, x->auth);
        if (!otc_auth_client(x->authn)) {
            otc_log_err(ins, "auth.authenticator: \"%s\" is not an authenticator extension "
                        "listed in service.extensions", x->auth);
            return OTC_EINVAL;
        }
        x->auth_header = x->authn->ops->auth->client_header(x->authn);
    }
    x->keep_alive = !x->disable_keep_alives && x->keepalive_enabled;
    x->idle_timeout_ns = x->keepalive_idle_conn_timeout_ns > 0 ? x->keepalive_idle_conn_timeout_ns
                                                               : x->idle_conn_timeout_ns;
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        int rc;

        rc = otc_otlphttp_signal_url(x->endpoint, x->signal_endpoint[s], (enum otc_signal)s, url,
                                     sizeof(url));
        if (rc == OTC_EINVAL && !(ins->signals & OTC_SIG_BIT(s))) {
            continue; /* no URL, and not exported: fine */
        }
        if (rc == OTC_EINVAL) {
            otc_log_err(ins, "%s are exported but neither endpoint nor %s_endpoint is set",
                        otc_signal_name((enum otc_signal)s), otc_signal_name((enum otc_signal)s));
            return OTC_EINVAL;
        }
        if (rc != OTC_OK || (rc = parse_target(url, &x->tgt[s], err, sizeof(err))) != OTC_OK) {
            otc_log_err(ins, "%s", rc == OTC_EINVAL ? err : otc_strerror(rc));
            return rc;
        }
        otc_log_debug(ins, "%s go to %s", otc_signal_name((enum otc_signal)s), x->tgt[s].url);
        https = https || x->tgt[s].https;
    }
    if (https) {
        x->ssl = otc_otlphttp_tls_ctx(&x->tls, err, sizeof(err));
        if (!x->ssl) {
            otc_log_err(ins, "%s", err);
            return OTC_EINVAL;
        }
        x->ssl_loaded_ns = otc_now_ns();
        if (otc_otlphttp_tls_defaults_only(&x->tls) &&
            (x->tls.cert_file || x->tls.cert_pem || x->tls.skip_verify || x->tls.server_name)) {
            otc_log_warn(ins, "tls.insecure without ca_file: as in otelcol, https uses the "
                         "defaults and the other tls settings are ignored");
        }
    }
    if (x->proxy_url && *x->proxy_url) {
        otc_log_warn(ins, "proxy_url is not supported; requests go to the endpoint directly");
    }
    for (size_t i = 0; i < x->headers.n; i++) {
        if (own_header(x->headers.keys[i])) {
            otc_log_warn(ins, "headers: \"%s\" is set by the exporter itself; ignored",
                         x->headers.keys[i]);
        }
    }
    return OTC_OK;
}

static void client_free(struct otlphttp_client *c)
{
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        if (c->conn[s]) {
            evhttp_connection_free(c->conn[s]);
        }
    }
    if (c->base) {
        event_base_free(c->base);
    }
    free(c);
}

static struct otlphttp_client *client_get(struct otlphttp_exp *x)
{
    struct otlphttp_client *c;

    pthread_mutex_lock(&x->lock);
    c = x->idle;
    if (c) {
        x->idle = c->next;
    }
    pthread_mutex_unlock(&x->lock);
    if (c) {
        return c;
    }
    c = calloc(1, sizeof(*c));
    if (c && !(c->base = event_base_new())) {
        free(c);
        c = NULL;
    }
    return c;
}

static void client_put(struct otlphttp_exp *x, struct otlphttp_client *c)
{
    pthread_mutex_lock(&x->lock);
    c->next = x->idle;
    x->idle = c;
    pthread_mutex_unlock(&x->lock);
}

static void otlphttp_shutdown(struct otc_instance *ins, void *vctx)
{
    struct otlphttp_exp *x = vctx;
    struct otlphttp_client *c;

    (void)ins;
    if (!x->lock_ready) {
        return;
    }
    pthread_mutex_lock(&x->lock);
    c = x->idle;
    x->idle = NULL;
    pthread_mutex_unlock(&x->lock);
    while (c) {
        struct otlphttp_client *next = c->next;
        client_free(c);
        c = next;
    }
}

static void otlphttp_destroy(void *vctx)
{
    struct otlphttp_exp *x = vctx;

    otlphttp_shutdown(NULL, x);
    if (x->lock_ready) {
        pthread_mutex_destroy(&x->lock);
        x->lock_ready = false;
    }
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        free(x->tgt[s].url);
        free(x->tgt[s].host);
        free(x->tgt[s].host_hdr);
        free(x->tgt[s].path);
        memset(&x->tgt[s], 0, sizeof(x->tgt[s]));
    }
    if (x->ssl) {
        SSL_CTX_free(x->ssl);
        x->ssl = NULL;
    }
}

/* ------------------------------------------------------------------ body */

/* Compressed bodies: one malloc'd buffer the size of the codec's bound. */
struct otlphttp_zbuf {
    uint8_t *data;
    size_t   len;
};

/* gzip (one member) or a zlib stream of in into out, whole, with libdeflate.
 * level 0 is the fast default (1), as otelcol's confighttp. */
static int deflate_body(const uint8_t *in, size_t len, enum otc_deflate_format f, int level,
                        struct otlphttp_zbuf *out)
{
    return otc_deflate(f, level == 0 ? 1 : level, in, len, &out->data, &out->len);
}

static int zstd_body(const uint8_t *in, size_t len, int level, struct otlphttp_zbuf *out)
{
    size_t bound = ZSTD_compressBound(len), n;

    if (level == 0) {
        level = 1;
    } else if (level > ZSTD_maxCLevel()) {
        level = ZSTD_maxCLevel();
    } else if (level < ZSTD_minCLevel()) {
        level = ZSTD_minCLevel();
    }
    out->data = malloc(bound ? bound : 1);
    if (!out->data) {
        return OTC_ENOMEM;
    }
    n = ZSTD_compress(out->data, bound, in, len, level);
    if (ZSTD_isError(n)) {
        return OTC_EINVAL;
    }
    out->len = n;
    return OTC_OK;
}

/* Snappy's block format (what otelcol sends as Content-Encoding: snappy). */
static int snappy_body(const uint8_t *in, size_t len, struct otlphttp_zbuf *out)
{
    size_t n = snappy_max_compressed_length(len);

    out->data = malloc(n ? n : 1);
    if (!out->data) {
        return OTC_ENOMEM;
    }
    if (snappy_compress((const char *)in, len, (char *)out->data, &n) != SNAPPY_OK) {
        return OTC_EINVAL;
    }
    out->len = n;
    return OTC_OK;
}

static void put_le(uint8_t *p, uint32_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Snappy's framing format (x-snappy-framed): the stream identifier, then one
 * chunk per 64 KiB of input, compressed (or stored, when that is not smaller),
 * each with the masked CRC-32C of its uncompressed bytes. */
static int snappy_framed_body(const uint8_t *in, size_t len, struct otlphttp_zbuf *out)
{
    static const uint8_t stream_id[10] = {0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'};
    const size_t block = 65536;
    size_t chunks = len / block + 1, cap, at;

    cap = sizeof(stream_id) + chunks * (8 + snappy_max_compressed_length(block));
    out->data = malloc(cap);
    if (!out->data) {
        return OTC_ENOMEM;
    }
    memcpy(out->data, stream_id, sizeof(stream_id));
    at = sizeof(stream_id);
    for (size_t off = 0; off < len; off += block) {
        size_t n = len - off < block ? len - off : block;
        size_t zn = cap - at - 8;
        uint32_t crc = otc_crc32c(0, in + off, n);

        crc = ((crc >> 15) | (crc << 17)) + 0xa282ead8u; /* the format's mask */
        if (snappy_compress((const char *)in + off, n, (char *)out->data + at + 8, &zn) !=
            SNAPPY_OK) {
            return OTC_EINVAL;
        }
        if (zn >= n) { /* stored: an uncompressed chunk */
            out->data[at] = 0x01;
            memcpy(out->data + at + 8, in + off, n);
            zn = n;
        } else {
            out->data[at] = 0x00;
        }
        put_le(out->data + at + 1, (uint32_t)(zn + 4), 3);
        put_le(out->data + at + 4, crc, 4);
        at += 8 + zn;
    }
    out->len = at;
    return OTC_OK;
}

/* One LZ4 frame (lz4frame.h's defaults: 64 KiB blocks, a content checksum off),
 * what otelcol's lz4 writer sends. */
static int lz4_body(const uint8_t *in, size_t len, struct otlphttp_zbuf *out)
{
    size_t bound = LZ4F_compressFrameBound(len, NULL), n;

    out->data = malloc(bound);
    if (!out->data) {
        return OTC_ENOMEM;
    }
    n = LZ4F_compressFrame(out->data, bound, in, len, NULL);
    if (LZ4F_isError(n)) {
        return OTC_EINVAL;
    }
    out->len = n;
    return OTC_OK;
}

int otc_otlphttp_compress(int compression, int level, const uint8_t *in, size_t len,
                          uint8_t **out, size_t *outlen)
{
    struct otlphttp_zbuf z = {NULL, 0};
    int rc;

    switch (compression) {
    case COMPRESS_GZIP:
        rc = deflate_body(in, len, OTC_DEFLATE_GZIP, level, &z);
        break;
    case COMPRESS_ZLIB:
    case COMPRESS_DEFLATE: /* as otelcol: a zlib stream for both */
        rc = deflate_body(in, len, OTC_DEFLATE_ZLIB, level, &z);
        break;
    case COMPRESS_ZSTD:
        rc = zstd_body(in, len, level, &z);
        break;
    case COMPRESS_SNAPPY:
        rc = snappy_body(in, len, &z);
        break;
    case COMPRESS_SNAPPY_FRAMED:
        rc = snappy_framed_body(in, len, &z);
        break;
    case COMPRESS_LZ4:
        rc = lz4_body(in, len, &z);
        break;
    default:
        return OTC_EINVAL;
    }
    if (rc != OTC_OK) {
        free(z.data);
        return rc;
    }
    *out = z.data;
    *outlen = z.len;
    return OTC_OK;
}

/* The request body of b: encoded and compressed as configured. *data points
 * into the batch or into one of the two buffers. */
static int make_body(struct otlphttp_exp *x, struct otc_batch *b, struct otc_buf *enc,
                     struct otlphttp_zbuf *zip, const uint8_t **data, size_t *len, char *why, size_t n)
{
    int rc;

    if (x->encoding == ENCODING_JSON) {
        const ProtobufCMessage *m = otc_batch_msg(b);

        if (!m) {
            snprintf(why, n, "the batch cannot be decoded for JSON encoding");
            return OTC_EPERM;
        }
        rc = otc_json_encode(m, enc);
        if (rc != OTC_OK) {
            snprintf(why, n, "OTLP/JSON encoding failed: %s", otc_strerror(rc));
            return rc == OTC_ENOMEM ? OTC_ENOMEM : OTC_EPERM;
        }
        *data = (const uint8_t *)enc->data;
        *len = enc->len;
    } else if ((rc = otc_batch_bytes(b, data, len)) != OTC_OK) {
        snprintf(why, n, "the batch cannot be serialized: %s", otc_strerror(rc));
        return rc;
    }
    if (x->compression == COMPRESS_NONE || x->compression == COMPRESS_EMPTY) {
        return OTC_OK;
    }
    rc = otc_otlphttp_compress(x->compression, (int)x->compression_level, *data, *len, &zip->data,
                               &zip->len);
    if (rc != OTC_OK) {
        snprintf(why, n, "%s compression failed", compression_choices[x->compression]);
        return rc;
    }
    *data = zip->data;
    *len = zip->len;
    return OTC_OK;
}

/* ------------------------------------------------------------------ response */

static bool is_json(const char *content_type)
{
    return !strncasecmp(content_type, "application/json", 16);
}

/* Retry-After: delay-seconds or an HTTP-date; 0 when absent or unreadable. */
static int64_t retry_after_ns(const char *v)
{
    char *end;
    long long secs;
    struct tm tm;

    while (*v == ' ') {
        v++;
    }
    if (!*v) {
        return 0;
    }
    if (isdigit((unsigned char)*v)) {
        secs = strtoll(v, &end, 10);
        while (*end == ' ') {
            end++;
        }
        if (*end || secs < 0 || secs > 86400) {
            return 0;
        }
        return secs * 1000000000LL;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end) {
        time_t at = timegm(&tm), now = time(NULL);
        return at > now && at - now <= 86400 ? (int64_t)(at - now) * 1000000000LL : 0;
    }
    return 0;
}

/* Decode body as message desc, by the response's content type. NULL when it
 * is not one; the message lives in arena (JSON) or is protobuf-c's (free it). */
static ProtobufCMessage *decode_body(const ProtobufCMessageDescriptor *desc,
                                     const struct otlphttp_call *c, struct otc_arena *arena)
{
    ProtobufCMessage *m = NULL;
    char err[128];

    if (c->body.len == 0) {
        return NULL;
    }
    if (is_json(c->content_type)) {
        if (otc_json_decode(desc, c->body.data, c->body.len, arena, &m, err, sizeof(err)) != OTC_OK) {
            return NULL;
        }
        return m;
    }
    return protobuf_c_message_unpack(desc, &arena->pb, c->body.len, (const uint8_t *)c->body.data);
}

/* partial_success of a 2xx answer, for the exporter helper (not retried). */
static void read_partial_success(enum otc_signal s, const struct otlphttp_call *c,
                                 struct otc_export_result *res)
{
    struct otc_arena arena;
    ProtobufCMessage *m;
    int64_t rejected = 0;
    const char *why = "";

    otc_arena_init(&arena, 4096);
    m = decode_body(otc_response_descriptor(s), c, &arena);
    if (m && s == OTC_TRACES && ((otc_traces_resp *)m)->partial_success) {
        rejected = ((otc_traces_resp *)m)->partial_success->rejected_spans;
        why = ((otc_traces_resp *)m)->partial_success->error_message;
    } else if (m && s == OTC_METRICS && ((otc_metrics_resp *)m)->partial_success) {
        rejected = ((otc_metrics_resp *)m)->partial_success->rejected_data_points;
        why = ((otc_metrics_resp *)m)->partial_success->error_message;
    } else if (m && s == OTC_LOGS && ((otc_logs_resp *)m)->partial_success) {
        rejected = ((otc_logs_resp *)m)->partial_success->rejected_log_records;
        why = ((otc_logs_resp *)m)->partial_success->error_message;
    }
    if (rejected > 0) {
        res->rejected = (uint64_t)rejected;
        snprintf(res->reason, sizeof(res->reason), "%s", why && *why ? why : "(no message)");
    }
    otc_arena_release(&arena);
}

/* The failure text of an error answer: the google.rpc.Status message of the
 * body, or the start of the body when it is not a Status. */
static void error_reason(const struct otlphttp_call *c, struct otc_export_result *res)
{
    struct otc_arena arena;
    Google__Rpc__Status *st;
    const char *msg = NULL;
    int n;

    otc_arena_init(&arena, 4096);
    st = (Google__Rpc__Status *)decode_body(&google__rpc__status__descriptor, c, &arena);
    if (st && st->message && *st->message) {
        msg = st->message;
    }
    n = snprintf(res->reason, sizeof(res->reason), "HTTP %d", c->code);
    if (msg) {
        snprintf(res->reason + n, sizeof(res->reason) - (size_t)n, ": %s", msg);
    } else if (c->body.len > 0 && !strncasecmp(c->content_type, "text/", 5)) {
        int k = (int)(c->body.len < 160 ? c->body.len : 160);
        while (k > 0 && isspace((unsigned char)c->body.data[k - 1])) {
            k--;
        }
        snprintf(res->reason + n, sizeof(res->reason) - (size_t)n, ": %.*s", k, c->body.data);
    }
    for (char *p = res->reason; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    otc_arena_release(&arena);
}

/* OTLP/HTTP: 2xx is success; 429, 502, 503 and 504 are worth a retry (after
 * Retry-After when given); every other answer is permanent. */
static int map_response(enum otc_signal s, const struct otlphttp_call *c,
                        struct otc_export_result *res)
{
    if (c->code >= 200 && c->code < 300) {
        read_partial_success(s, c, res);
        return OTC_OK;
    }
    error_reason(c, res);
    switch (c->code) {
    case 429:
    case 502:
    case 503:
    case 504:
        res->retry_after_ns = c->retry_after[0] ? retry_after_ns(c->retry_after) : 0;
        if (res->retry_after_ns) {
            size_t n = strlen(res->reason);
            snprintf(res->reason + n, sizeof(res->reason) - n, " (Retry-After: %s)", c->retry_after);
        }
        return OTC_EIO;
    default:
        return OTC_EPERM;
    }
}

/* ------------------------------------------------------------------ request */

static void call_done(struct evhttp_request *req, void *arg)
{
    struct otlphttp_call *c = arg;
    struct evkeyvalq *hdrs;
    struct evbuffer *in;
    const char *v;

    c->done = true;
    if (!req || (c->code = evhttp_request_get_response_code(req)) == 0) {
        c->code = 0;
        return;
    }
    hdrs = evhttp_request_get_input_headers(req);
    if ((v = evhttp_find_header(hdrs, "Content-Type"))) {
        snprintf(c->content_type, sizeof(c->content_type), "%s", v);
    }
    if ((v = evhttp_find_header(hdrs, "Retry-After"))) {
        snprintf(c->retry_after, sizeof(c->retry_after), "%s", v);
    }
    in = evhttp_request_get_input_buffer(req);
    if (in) {
        size_t n = evbuffer_get_length(in);
        if (n > OTLPHTTP_MAX_RESP_BODY) {
            n = OTLPHTTP_MAX_RESP_BODY;
        }
        otc_buf_reset(&c->body);
        if (n > 0) {
            otc_buf_add(&c->body, evbuffer_pullup(in, (ev_ssize_t)n), n);
        }
    }
}

static void call_error(enum evhttp_request_error error, void *arg)
{
    struct otlphttp_call *c = arg;

    c->error = error;
    c->has_error = true;
}

static const char *request_error_name(enum evhttp_request_error e)
{
    switch (e) {
    case EVREQ_HTTP_TIMEOUT:
        return "timed out";
    case EVREQ_HTTP_EOF:
        return "connection closed";
    case EVREQ_HTTP_INVALID_HEADER:
        return "invalid response";
    case EVREQ_HTTP_BUFFER_ERROR:
        return "connection error";
    case EVREQ_HTTP_REQUEST_CANCEL:
        return "cancelled";
    case EVREQ_HTTP_DATA_TOO_LONG:
        return "response too long";
    default:
        return "failed";
    }
}

static void conn_closed(struct evhttp_connection *conn, void *arg)
{
    bool *closed = arg;

    (void)conn;
    *closed = true;
}

/* The exporter's TLS context, re-read first when tls.reload_interval has
 * passed (a failed reload keeps the last good one); with a reference the
 * caller drops. */
static SSL_CTX *ssl_ctx_get(struct otc_instance *ins, struct otlphttp_exp *x)
{
    SSL_CTX *ctx;

    pthread_mutex_lock(&x->lock);
    if (x->tls.reload_interval_ns > 0 &&
        otc_now_ns() - x->ssl_loaded_ns >= (uint64_t)x->tls.reload_interval_ns) {
        char err[512];
        SSL_CTX *fresh = otc_otlphttp_tls_ctx(&x->tls, err, sizeof(err));

        x->ssl_loaded_ns = otc_now_ns();
        if (fresh) {
            SSL_CTX_free(x->ssl);
            x->ssl = fresh;
        } else {
            otc_log_warn(ins, "tls.reload_interval: %s; the previous certificates stay", err);
        }
    }
    ctx = x->ssl;
    SSL_CTX_up_ref(ctx);
    pthread_mutex_unlock(&x->lock);
    return ctx;
}

/* A TLS session for t: SNI and the name (or address) the certificate must
 * carry are server_name_override, else the URL's host. */
static struct bufferevent *tls_bev(struct otc_instance *ins, struct otlphttp_exp *x,
                                   struct event_base *base, const struct otlphttp_target *t)
{
    const char *name = x->tls.server_name && *x->tls.server_name && !otc_otlphttp_tls_defaults_only(&x->tls)
                           ? x->tls.server_name : t->host;
    unsigned char addr[sizeof(struct in6_addr)];
    bool is_ip = inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
    SSL_CTX *ctx = ssl_ctx_get(ins, x);
    SSL *ssl = SSL_new(ctx);
    struct bufferevent *bev;

    SSL_CTX_free(ctx); /* ssl holds its own reference */
    if (!ssl) {
        return NULL;
    }
    if ((!is_ip && SSL_set_tlsext_host_name(ssl, name) != 1) ||
        (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1
               : SSL_set1_host(ssl, name) != 1)) {
        SSL_free(ssl);
        return NULL;
    }
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev) {
        /* a server closing without close_notify must not turn into an error */
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    }
    return bev; /* frees ssl on failure */
}

/* Why the TLS handshake of conn failed, or "" when it did not (or it is not TLS). */
static void tls_failure(struct evhttp_connection *conn, char *out, size_t n)
{
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    unsigned long e;
    long vr;

    out[0] = '\0';
    if (!ssl) {
        return;
    }
    vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK) {
        snprintf(out, n, "TLS: the server's certificate is not trusted: %s",
                 X509_verify_cert_error_string(vr));
        return;
    }
    if ((e = bufferevent_get_openssl_error(bev)) != 0) {
        char one[160];

        ERR_error_string_n(e, one, sizeof(one));
        snprintf(out, n, "TLS: %s", one);
        while (bufferevent_get_openssl_error(bev) != 0) {
        }
    }
}

static struct evhttp_connection *client_conn(struct otc_instance *ins, struct otlphttp_exp *x,
                                             struct otlphttp_client *cl,
                                             const struct otlphttp_target *t, enum otc_signal s,
                                             int64_t timeout_ns)
{
    struct timeval tv;
    uint64_t now = otc_now_ns();

    /* a connection that was closed, or idle past idle_conn_timeout, is replaced */
    if (cl->conn[s] && (cl->closed[s] || !x->keep_alive ||
                        (x->idle_timeout_ns > 0 &&
                         now - cl->idle_since[s] > (uint64_t)x->idle_timeout_ns))) {
        evhttp_connection_free(cl->conn[s]);
        cl->conn[s] = NULL;
    }
    if (!cl->conn[s]) {
        if (t->https) {
            struct bufferevent *bev = tls_bev(ins, x, cl->base, t);

            cl->conn[s] = bev ? evhttp_connection_base_bufferevent_new(cl->base, NULL, bev, t->host,
                                                                      (ev_uint16_t)t->port)
                              : NULL;
            if (bev && !cl->conn[s]) {
                bufferevent_free(bev);
            }
        } else {
            cl->conn[s] = evhttp_connection_base_new(cl->base, NULL, t->host, (ev_uint16_t)t->port);
        }
        if (!cl->conn[s]) {
            return NULL;
        }
        evhttp_connection_set_retries(cl->conn[s], 0);
        evhttp_connection_set_closecb(cl->conn[s], conn_closed, &cl->closed[s]);
        cl->reused[s] = false;
        cl->closed[s] = false;
    }
    if (timeout_ns <= 0) {
        timeout_ns = 30LL * 1000000000LL;
    }
    tv.tv_sec = (time_t)(timeout_ns / 1000000000LL);
    tv.tv_usec = (suseconds_t)(timeout_ns % 1000000000LL / 1000);
    evhttp_connection_set_timeout_tv(cl->conn[s], &tv);
    return cl->conn[s];
}

/* The deadline tick's callback: waking event_base_loop is all it is for
 * (libevent calls a timer's callback unconditionally, so it cannot be NULL). */
static void tick_noop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* How a request ended, beyond an HTTP answer. */
enum call_end {
    CALL_ANSWERED,  /* c->code holds the status */
    CALL_NO_ANSWER, /* connection refused, reset or closed before an answer */
    CALL_TIMEOUT,   /* no answer within the exporter's timeout */
    CALL_CANCELLED, /* cut off at the engine's drain deadline */
    CALL_NOMEM,
};

/* One POST, run to its end on cl's event_base: answered, failed, past the
 * exporter's timeout, or cancelled at the engine's drain deadline. */
static enum call_end do_request(struct otc_instance *ins, struct otlphttp_exp *x,
                                struct otlphttp_client *cl, enum otc_signal s, const uint8_t *body,
                                size_t len, const char *auth_value, struct otlphttp_call *c)
{
    const struct otlphttp_target *t = &x->tgt[s];
    int64_t timeout_ns = ins->timeout_ns > 0 ? ins->timeout_ns : 30LL * 1000000000LL;
    uint64_t deadline = otc_now_ns() + (uint64_t)timeout_ns;
    struct timeval tick = {0, OTLPHTTP_TICK_MS * 1000};
    enum call_end end = CALL_ANSWERED;
    struct evhttp_connection *conn;
    struct evhttp_request *req;
    struct evkeyvalq *out;
    struct event *timer;

    conn = client_conn(ins, x, cl, t, s, timeout_ns);
    req = conn ? evhttp_request_new(call_done, c) : NULL;
    if (!req) {
        return CALL_NOMEM;
    }
    evhttp_request_set_error_cb(req, call_error);
    out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Host", t->host_hdr);
    evhttp_add_header(out, "Content-Type",
                      x->encoding == ENCODING_JSON ? "application/json" : "application/x-protobuf");
    if (x->compression != COMPRESS_NONE && x->compression != COMPRESS_EMPTY) {
        evhttp_add_header(out, "Content-Encoding", compression_choices[x->compression]);
    }
    if (!x->keep_alive) {
        evhttp_add_header(out, "Connection", "close");
    }
    for (size_t i = 0; i < x->headers.n; i++) {
        if (!own_header(x->headers.keys[i]) &&
            !(auth_value && !strcasecmp(x->headers.keys[i], x->auth_header))) {
            evhttp_add_header(out, x->headers.keys[i], x->headers.vals[i]);
        }
    }
    if (auth_value) {
        evhttp_add_header(out, x->auth_header, auth_value);
    }
    if (!evhttp_find_header(out, "User-Agent")) {
        evhttp_add_header(out, "User-Agent", "otelc");
    }
    if (evbuffer_add(evhttp_request_get_output_buffer(req), body, len) != 0) {
        evhttp_request_free(req);
        return CALL_NOMEM;
    }
    if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, t->path) != 0) {
        return CALL_NO_ANSWER; /* req is freed on failure */
    }
    timer = event_new(cl->base, -1, EV_PERSIST, tick_noop, NULL);
    if (timer) {
        event_add(timer, &tick); /* wakes the loop to check the deadlines */
    }
    while (!c->done) {
        event_base_loop(cl->base, EVLOOP_ONCE);
        if (c->done) {
            break;
        }
        if (otc_now_ns() >= deadline) {
            end = CALL_TIMEOUT;
        } else if (ins->engine && otc_engine_drain_expired(ins->engine)) {
            end = CALL_CANCELLED;
        } else {
            continue;
        }
        evhttp_cancel_request(req); /* resets the connection; call_done is not called */
        break;
    }
    if (timer) {
        event_free(timer);
    }
    if (end == CALL_ANSWERED && c->code == 0) {
        end = c->has_error && c->error == EVREQ_HTTP_TIMEOUT ? CALL_TIMEOUT : CALL_NO_ANSWER;
    }
    if (end != CALL_ANSWERED) {
        if (t->https) {
            tls_failure(conn, c->tls_why, sizeof(c->tls_why));
        }
        cl->closed[s] = true; /* never reuse a connection in an unknown state */
    }
    cl->idle_since[s] = otc_now_ns();
    return end;
}

static int otlphttp_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct otlphttp_exp *x = vctx;
    struct otc_export_result *res = otc_export_result();
    enum otc_signal s = b->signal;
    struct otlphttp_client *cl;
    struct otlphttp_zbuf zip = {NULL, 0};
    struct otlphttp_call c;
    struct otc_buf enc;
    const uint8_t *body = NULL;
    char *auth_value = NULL;
    enum call_end end;
    size_t len = 0;
    int rc;

    memset(&c, 0, sizeof(c));
    otc_buf_init(&enc);
    otc_buf_init(&c.body);
    if (!x->tgt[s].url) {
        snprintf(res->reason, sizeof(res->reason), "no URL for %s", otc_signal_name(s));
        rc = OTC_EPERM;
        goto out;
    }
    rc = make_body(x, b, &enc, &zip, &body, &len, res->reason, sizeof(res->reason));
    if (rc != OTC_OK) {
        goto out;
    }
    if (x->authn) {
        auth_value = malloc(OTLPHTTP_MAX_AUTH);
        if (!auth_value ||
            x->authn->ops->auth->client_value(x->authn, auth_value, OTLPHTTP_MAX_AUTH) != OTC_OK ||
            strpbrk(auth_value, "\r\n")) {
            snprintf(res->reason, sizeof(res->reason), "no credential from %s", x->auth);
            rc = auth_value ? OTC_EIO : OTC_ENOMEM;
            goto out;
        }
    }
    cl = client_get(x);
    if (!cl) {
        rc = OTC_ENOMEM;
        goto out;
    }
    /* A kept-alive connection the server closed while idle fails at once; such
     * a request is sent again, once, on a new connection. */
    for (int attempt = 0;; attempt++) {
        bool reused = cl->reused[s];

        c.done = c.has_error = false;
        c.code = 0;
        c.content_type[0] = c.retry_after[0] = '\0';
        otc_buf_reset(&c.body);
        event_base_loop(cl->base, EVLOOP_NONBLOCK); /* notice closes of idle connections */
        c.tls_why[0] = '\0';
        end = do_request(ins, x, cl, s, body, len, auth_value, &c);
        cl->reused[s] = end == CALL_ANSWERED;
        if (end == CALL_NO_ANSWER && reused && attempt == 0) {
            continue;
        }
        break;
    }
    client_put(x, cl);
    switch (end) {
    case CALL_ANSWERED:
        rc = map_response(s, &c, res);
        break;
    case CALL_NO_ANSWER:
        snprintf(res->reason, sizeof(res->reason), "%s: %s", x->tgt[s].url,
                 c.tls_why[0] ? c.tls_why
                 : c.has_error ? request_error_name(c.error) : "cannot connect");
        rc = OTC_EIO;
        break;
    case CALL_TIMEOUT:
        snprintf(res->reason, sizeof(res->reason), "%s: no answer within the timeout (%.1fs)",
                 x->tgt[s].url, (double)(ins->timeout_ns > 0 ? ins->timeout_ns : 30000000000LL) / 1e9);
        rc = OTC_EIO;
        break;
    case CALL_CANCELLED:
        snprintf(res->reason, sizeof(res->reason), "%s: cancelled at the shutdown deadline",
                 x->tgt[s].url);
        rc = OTC_EIO;
        break;
    case CALL_NOMEM:
        rc = OTC_ENOMEM;
        break;
    }
out:
    otc_buf_free(&enc);
    free(auth_value);
    free(zip.data);
    otc_buf_free(&c.body);
    otc_batch_unref(b);
    return rc;
}

const struct otc_component_ops otc_exporter_otlphttp_ops = {
    .type = "otlphttp",
    .kind = OTC_EXPORTER,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = true,
    .ctx_size = sizeof(struct otlphttp_exp),
    .config_map = otlphttp_config,
    .validate = otlphttp_validate,
    .init = NULL,
    .start = otlphttp_start,
    .consume = otlphttp_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = otlphttp_shutdown,
    .destroy = otlphttp_destroy,
};
