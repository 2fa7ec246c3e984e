/* otlp_receiver.c - the `otlp` receiver: serves the OTLP/gRPC Trace, Metrics and
 * Logs services with the gRPC core C API, decodes each request into a batch
 * and answers OK only once every pipeline has taken it (UNAVAILABLE otherwise;
 * a request that finds a queue at its byte budget first waits on a loop timer,
 * within queue.max_wait and the call's deadline). The gRPC loop threads
 * (otc_grpc_loop.h) run everything below, any of them for any call slot (a
 * waiting request's timer runs on the loop thread that parked it); OTLP/HTTP
 * (otlp_http.c, its own thread) hands its requests to the same otlp_ingest.c. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "otc/otc_auth.h"
#include "otc/otc_deflate.h"
#include "otc/otc_grpc_loop.h"
#include "otc/otc_otlp.h"
#include "otc/otc_pb_check.h"
#include "otlp_http.h"
#include "otlp_ingest.h"
#include "otlp_receiver.h"

#define CALLS_PER_METHOD 32 /* requests in flight per signal */
#define GENERIC_CALLS    4  /* slots answering UNIMPLEMENTED */
/* At shutdown, calls already taken get this long to send their answer before the
 * rest are cancelled (a cancelled answer leaves the client unsure, so it resends). */
#define SHUTDOWN_GRACE_MS 1000
/* A request waiting for room in its pipelines' queues (queue.max_wait) is
 * offered again after 1 ms, then after twice as long each time, up to 20 ms;
 * it is answered this long before the call's deadline at least (or a tenth
 * of the time the call had left, when more). */
#define PARK_STEP_FIRST_NS  1000000LL
#define PARK_STEP_MAX_NS    20000000LL
#define PARK_MARGIN_MIN_NS  50000000LL

struct otlp_ctx {
    /* options */
    bool     grpc_enabled;
    char    *endpoint;
    int64_t  max_recv_msg_size_mib;
    int64_t  max_concurrent_streams;
    int64_t  max_conn_idle;     /* ns, 0 = never */
    int64_t  max_conn_age;      /* ns, 0 = never */
    int64_t  max_conn_age_grace;/* ns, 0 = never */
    int      grpc_transport;    /* TRANSPORT_* */
    int      http_transport;
    uint64_t read_buffer_size;  /* bytes, 0 = gRPC's default */
    uint64_t write_buffer_size; /* bytes, 0 = gRPC's default */
    int64_t  ka_time;           /* ns, 0 = gRPC's default (2h) */
    int64_t  ka_timeout;        /* ns, 0 = gRPC's default (20s) */
    int64_t  ka_min_time;       /* ns, 0 = gRPC's default (5m) */
    bool     ka_permit_without_stream;
    bool     grpc_include_metadata; /* client metadata for admission gates */
    bool     http_include_metadata;
    struct otc_strlist http_compression;
    int64_t  max_items;         /* entries per request, 0 = no limit */
    struct otlp_tls grpc_tls;
    char    *grpc_auth;
    bool     http_enabled;
    char    *http_endpoint;
    char    *http_paths[OTC_SIGNAL_COUNT];
    uint64_t http_max_body;
    uint64_t http_max_header;
    int64_t  http_idle_timeout; /* ns */
    struct otc_strlist cors_origins;
    struct otc_strlist cors_headers;
    int64_t  cors_max_age;
    struct otc_strmap http_response_headers;
    struct otlp_tls http_tls;
    char    *http_auth;
    /* runtime */
    struct otc_instance   *grpc_authn;  /* resolved grpc_auth */
    struct otlp_http      *http;
    struct otc_instance   *ins;
    grpc_server           *server;
    grpc_completion_queue *cq;            /* the loops' shared queue (otc_grpc_loop_get) */
    void                  *method[OTC_SIGNAL_COUNT];
    struct otc_grpc_tag    shutdown_tag;  /* the server's shutdown notification */
    atomic_bool            shutting_down;
    atomic_bool            server_done;   /* shutdown notification seen */
    atomic_int             live_calls;    /* call slots gRPC still holds */
    bool                   server_started;
};

enum call_state { CALL_REQUESTED, CALL_PARKED, CALL_ANSWERING };

struct otlp_call {
    struct otc_grpc_tag  tag;      /* first: the shared queue's tags point here */
    struct otlp_ctx     *rx;
    int                  signal;   /* -1: generic (unknown method) */
    enum call_state      state;
    grpc_call           *call;
    gpr_timespec         deadline;
    grpc_metadata_array  md;
    grpc_byte_buffer    *payload;
    grpc_call_details    details;  /* generic calls only */
    grpc_byte_buffer    *reply;
    grpc_slice           status_msg;
    grpc_metadata        trailer;  /* grpc-status-details-bin of a throttled answer */
    size_t               n_trailers;
    int                  cancelled;
    /* CALL_PARKED: the request waits on the loop thread that parked it (its
     * timer, no gRPC operation under way) for room in its pipelines'
     * byte budgets, offered again at each timer until taken or until */
    struct otc_grpc_timer timer;
    struct otc_batch    *parked;
    struct otc_admission adm;
    int64_t              park_until;   /* otc_grpc_loop_now_ns clock */
    int64_t              park_step;    /* the next back-off, ns */
    size_t               rejected;     /* items dropped before delivery (partial_success) */
};

static const char *const tls_versions[] = {OTLP_TLS_VERSIONS, NULL};
static const char *const tls_max_versions[] = {"", OTLP_TLS_VERSIONS, NULL};
/* otelcol's confignet transports */
enum { TRANSPORT_TCP, TRANSPORT_TCP4, TRANSPORT_TCP6, TRANSPORT_UNIX };
static const char *const transports[] = {"tcp", "tcp4", "tcp6", "unix", NULL};

static const char *const method_paths[OTC_SIGNAL_COUNT] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};

#define OFF(f) offsetof(struct otlp_ctx, f)

static const struct otc_config_entry otlp_config[] = {
    {OTC_CFG_SECTION, "protocols.grpc", NULL, OFF(grpc_enabled), 0, 0, 0, NULL,
     "enable the OTLP/gRPC server"},
    {OTC_CFG_STR, "protocols.grpc.endpoint", "localhost:4317", OFF(endpoint), 0, 0, 0, NULL,
     "host:port to listen on"},
    {OTC_CFG_ENUM, "protocols.grpc.transport", "tcp", OFF(grpc_transport), 0, 0, 0, transports,
     "tcp (tcp4 and tcp6 as tcp: the endpoint's host decides), or unix: endpoint is the path "
     "of a Unix domain socket"},
    {OTC_CFG_INT, "protocols.grpc.max_recv_msg_size_mib", "4", OFF(max_recv_msg_size_mib),
     OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0, 2047, NULL,
     "largest request accepted, in MiB (0 = 4); larger ones get RESOURCE_EXHAUSTED"},
    {OTC_CFG_INT, "protocols.grpc.max_concurrent_streams", "0", OFF(max_concurrent_streams),
     OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0, 1 << 30, NULL,
     "HTTP/2 streams per connection (0 = gRPC's default)"},
    {OTC_CFG_DURATION, "protocols.grpc.keepalive.server_parameters.max_connection_idle", "0",
     OFF(max_conn_idle), OTC_CFG_F_MIN, 0, 0, NULL,
     "close a connection without calls for this long (GOAWAY; 0 = never)"},
    {OTC_CFG_DURATION, "protocols.grpc.keepalive.server_parameters.max_connection_age", "0",
     OFF(max_conn_age), OTC_CFG_F_MIN, 0, 0, NULL,
     "close any connection after this long (GOAWAY; 0 = never)"},
    {OTC_CFG_DURATION, "protocols.grpc.keepalive.server_parameters.max_connection_age_grace",
     "0", OFF(max_conn_age_grace), OTC_CFG_F_MIN, 0, 0, NULL,
     "calls still running at max_connection_age get this long before the close (0 = no limit)"},
    {OTC_CFG_DURATION, "protocols.grpc.keepalive.server_parameters.time", "0", OFF(ka_time),
     OTC_CFG_F_MIN, 0, 0, NULL,
     "ping a client after this long without activity (0 = gRPC's default, 2h)"},
    {OTC_CFG_DURATION, "protocols.grpc.keepalive.server_parameters.timeout", "0",
     OFF(ka_timeout), OTC_CFG_F_MIN, 0, 0, NULL,
     "close the connection when a ping is not answered within this long (0 = 20s)"},
    {OTC_CFG_DURATION, "protocols.grpc.keepalive.enforcement_policy.min_time", "0",
     OFF(ka_min_time), OTC_CFG_F_MIN, 0, 0, NULL,
     "least time between a client's keepalive pings; more often closes the connection "
     "(GOAWAY too_many_pings; 0 = gRPC's default, 5m)"},
    {OTC_CFG_BOOL, "protocols.grpc.keepalive.enforcement_policy.permit_without_stream", "false",
     OFF(ka_permit_without_stream), 0, 0, 0, NULL,
     "allow keepalive pings while the connection has no call"},
    {OTC_CFG_SIZE, "protocols.grpc.read_buffer_size", "0", OFF(read_buffer_size),
     OTC_CFG_F_MAX, 0, 1073741824.0, NULL,
     "bytes read from a connection at once (gRPC core's tcp_read_chunk_size). Default 0: gRPC's "
     "own, which starts small and grows with the traffic; otelcol's 512KiB would cost about "
     "34 MiB of RSS per 1000 idle connections here"},
    {OTC_CFG_SIZE, "protocols.grpc.write_buffer_size", "0", OFF(write_buffer_size),
     OTC_CFG_F_MAX, 0, 1073741824.0, NULL,
     "bytes of HTTP/2 frames buffered per connection before a write (0 = gRPC's default)"},
    {OTC_CFG_BOOL, "protocols.grpc.include_metadata", "false", OFF(grpc_include_metadata), 0,
     0, 0, NULL,
     "hand the call's metadata to stages that key by it (ratelimiter metadata_keys); "
     "without it they see none, as in otelcol (batch metadata_keys: accepted, no effect)"},
    {OTC_CFG_STR, "protocols.grpc.tls.cert_file", NULL, OFF(grpc_tls.cert_file), 0, 0, 0, NULL,
     "PEM server certificate (chain); set with key_file to serve TLS"},
    {OTC_CFG_STR, "protocols.grpc.tls.key_file", NULL, OFF(grpc_tls.key_file), 0, 0, 0, NULL,
     "PEM private key of cert_file"},
    {OTC_CFG_STR, "protocols.grpc.tls.client_ca_file", NULL, OFF(grpc_tls.client_ca_file), 0, 0,
     0, NULL, "PEM CA bundle; set: clients must present a certificate it signed (mTLS)"},
    {OTC_CFG_ENUM, "protocols.grpc.tls.min_version", "1.2", OFF(grpc_tls.min_version), 0, 0, 0,
     tls_versions, "lowest TLS version accepted; gRPC core always requires 1.2 or later and cannot require 1.3"},
    {OTC_CFG_ENUM, "protocols.grpc.tls.max_version", "", OFF(grpc_tls.max_version), 0, 0, 0,
     tls_max_versions, "highest TLS version accepted (empty: 1.3); gRPC core 1.51 cannot be told, so only an empty value or 1.3 is valid here"},
    {OTC_CFG_STR, "protocols.grpc.tls.ca_file", NULL, OFF(grpc_tls.ca_file), 0, 0, 0, NULL,
     "accepted, no effect on a server (as in otelcol): clients are checked against client_ca_file"},
    {OTC_CFG_DURATION, "protocols.grpc.tls.reload_interval", "0", OFF(grpc_tls.reload_interval),
     OTC_CFG_F_MIN, 0, 0, NULL,
     "accepted; the certificate files are read at start and again when the config is reloaded"},
    {OTC_CFG_BOOL, "protocols.grpc.tls.include_system_ca_certs_pool", "false",
     OFF(grpc_tls.include_system_ca_certs_pool), 0, 0, 0, NULL,
     "accepted, no effect on a server: clients are checked against client_ca_file only"},
    {OTC_CFG_STR, "protocols.grpc.auth.authenticator", NULL, OFF(grpc_auth), 0, 0, 0, NULL,
     "id of an authenticator extension every call must satisfy (else UNAUTHENTICATED)"},
    {OTC_CFG_SECTION, "protocols.http", NULL, OFF(http_enabled), 0, 0, 0, NULL,
     "enable the OTLP/HTTP server (binary protobuf and OTLP/JSON; gzip, zstd and snappy bodies)"},
    {OTC_CFG_STR, "protocols.http.endpoint", "localhost:4318", OFF(http_endpoint), 0, 0, 0, NULL,
     "host:port to listen on"},
    {OTC_CFG_ENUM, "protocols.http.transport", "tcp", OFF(http_transport), 0, 0, 0, transports,
     "tcp (tcp4 and tcp6 as tcp: the endpoint's host decides); unix is not supported over HTTP "
     "yet (use it with protocols.grpc)"},
    {OTC_CFG_STR, "protocols.http.traces_url_path", "/v1/traces", OFF(http_paths[OTC_TRACES]),
     0, 0, 0, NULL, "URL path of trace export requests (a missing leading / is added, as otelcol does)"},
    {OTC_CFG_STR, "protocols.http.metrics_url_path", "/v1/metrics", OFF(http_paths[OTC_METRICS]),
     0, 0, 0, NULL, "URL path of metric export requests (a missing leading / is added, as otelcol does)"},
    {OTC_CFG_STR, "protocols.http.logs_url_path", "/v1/logs", OFF(http_paths[OTC_LOGS]),
     0, 0, 0, NULL, "URL path of log export requests (a missing leading / is added, as otelcol does)"},
    {OTC_CFG_SIZE, "protocols.http.max_request_body_size", "20MiB", OFF(http_max_body),
     OTC_CFG_F_MAX, 0, 2147483647.0, NULL,
     "largest request body, on the wire and after decompression (0 = 20MiB); larger get 413"},
    {OTC_CFG_SIZE, "protocols.http.max_request_header_size", "64KiB", OFF(http_max_header),
     OTC_CFG_F_MIN | OTC_CFG_F_MAX, 1024, 2147483647.0, NULL,
     "largest request line plus headers (otelc extension); larger ones get 400 and a close"},
    {OTC_CFG_DURATION, "protocols.http.idle_timeout", "1m", OFF(http_idle_timeout),
     OTC_CFG_F_MIN, 0.001, 0, NULL,
     "close a connection that sends nothing (idle, or stalled mid-request) for this long"},
    {OTC_CFG_STRLIST, "protocols.http.cors.allowed_origins", NULL, OFF(cors_origins), 0, 0, 0,
     NULL, "origins allowed for browser requests (CORS); \"*\" or one * wildcard per entry"},
    {OTC_CFG_STRLIST, "protocols.http.cors.allowed_headers", NULL, OFF(cors_headers), 0, 0, 0,
     NULL, "request headers allowed besides Accept, Content-Type, X-Requested-With (\"*\": any)"},
    {OTC_CFG_INT, "protocols.http.cors.max_age", "0", OFF(cors_max_age),
     OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0, 1 << 30, NULL,
     "seconds a browser may cache a preflight answer (0 = no Access-Control-Max-Age)"},
    {OTC_CFG_STRMAP, "protocols.http.response_headers", NULL, OFF(http_response_headers), 0, 0,
     0, NULL, "headers set on every response of the HTTP server (name: value)"},
    {OTC_CFG_STRLIST, "protocols.http.compression_algorithms", NULL, OFF(http_compression), 0,
     0, 0, NULL,
     "Content-Encodings accepted (default: all); others get 400. otelc decodes gzip and zstd "
     "only: zlib, deflate, snappy, lz4 are accepted here and still refused with 400"},
    {OTC_CFG_BOOL, "protocols.http.include_metadata", "false", OFF(http_include_metadata), 0,
     0, 0, NULL,
     "hand the request headers to stages that key by them (ratelimiter metadata_keys); "
     "without it they see none, as in otelcol (batch metadata_keys: accepted, no effect)"},
    {OTC_CFG_STR, "protocols.http.tls.cert_file", NULL, OFF(http_tls.cert_file), 0, 0, 0, NULL,
     "PEM server certificate (chain); set with key_file to serve HTTPS"},
    {OTC_CFG_STR, "protocols.http.tls.key_file", NULL, OFF(http_tls.key_file), 0, 0, 0, NULL,
     "PEM private key of cert_file"},
    {OTC_CFG_STR, "protocols.http.tls.client_ca_file", NULL, OFF(http_tls.client_ca_file), 0, 0,
     0, NULL, "PEM CA bundle; set: clients must present a certificate it signed (mTLS)"},
    {OTC_CFG_ENUM, "protocols.http.tls.min_version", "1.2", OFF(http_tls.min_version), 0, 0, 0,
     tls_versions, "lowest TLS version accepted"},
    {OTC_CFG_ENUM, "protocols.http.tls.max_version", "", OFF(http_tls.max_version), 0, 0, 0,
     tls_max_versions, "highest TLS version accepted (empty: 1.3)"},
    {OTC_CFG_STR, "protocols.http.tls.ca_file", NULL, OFF(http_tls.ca_file), 0, 0, 0, NULL,
     "accepted, no effect on a server (as in otelcol): clients are checked against client_ca_file"},
    {OTC_CFG_DURATION, "protocols.http.tls.reload_interval", "0", OFF(http_tls.reload_interval),
     OTC_CFG_F_MIN, 0, 0, NULL,
     "accepted; the certificate files are read at start and again when the config is reloaded"},
    {OTC_CFG_BOOL, "protocols.http.tls.include_system_ca_certs_pool", "false",
     OFF(http_tls.include_system_ca_certs_pool), 0, 0, 0, NULL,
     "accepted, no effect on a server: clients are checked against client_ca_file only"},
    {OTC_CFG_STR, "protocols.http.auth.authenticator", NULL, OFF(http_auth), 0, 0, 0, NULL,
     "id of an authenticator extension every request must satisfy (else 401)"},
    {OTC_CFG_INT, "max_items_per_request", "100000", OFF(max_items),
     OTC_CFG_F_MIN, 0, 0, NULL,
     "resources, scopes and spans / metrics and data points / log records per request "
     "(otelc extension; 0 = no limit); counted before decoding, more get RESOURCE_EXHAUSTED / 413"},
    OTC_CFG_END,
};

static int tls_validate(const char *proto, const struct otlp_tls *t, char *err, size_t errlen)
{
    if ((t->cert_file != NULL) != (t->key_file != NULL)) {
        snprintf(err, errlen, "protocols.%s.tls.cert_file and key_file go together", proto);
        return OTC_EINVAL;
    }
    if (t->client_ca_file && !t->cert_file) {
        snprintf(err, errlen, "protocols.%s.tls.client_ca_file needs cert_file and key_file",
                 proto);
        return OTC_EINVAL;
    }
    return OTC_OK;
}

static int otlp_validate(const void *vctx, char *err, size_t errlen)
{
    const struct otlp_ctx *ctx = vctx;

    if (tls_validate("grpc", &ctx->grpc_tls, err, errlen) != OTC_OK ||
        tls_validate("http", &ctx->http_tls, err, errlen) != OTC_OK) {
        return OTC_EINVAL;
    }
    if (ctx->grpc_tls.max_version && ctx->grpc_tls.max_version != OTLP_TLS_1_3 + 1) {
        snprintf(err, errlen, "protocols.grpc.tls.max_version: gRPC core 1.51 cannot limit the "
                 "TLS version below 1.3; leave it empty or \"1.3\"");
        return OTC_EINVAL;
    }
    if (ctx->http_tls.max_version && ctx->http_tls.max_version - 1 < ctx->http_tls.min_version) {
        snprintf(err, errlen, "protocols.http.tls.max_version is lower than min_version");
        return OTC_EINVAL;
    }
    if (ctx->grpc_tls.cert_file && ctx->grpc_tls.min_version == OTLP_TLS_1_3) {
        snprintf(err, errlen, "protocols.grpc.tls.min_version: \"1.3\" cannot be enforced "
                 "by gRPC core 1.51 (it accepts TLS 1.2 and 1.3); use \"1.2\"");
        return OTC_EINVAL;
    }

    if (!ctx->grpc_enabled && !ctx->http_enabled) {
        snprintf(err, errlen,
                 "must specify at least one protocol under \"protocols\" (grpc, http)");
        return OTC_EINVAL;
    }
    if (ctx->http_enabled && ctx->http_transport == TRANSPORT_UNIX) {
        snprintf(err, errlen, "protocols.http.transport: unix is not supported for OTLP/HTTP");
        return OTC_EINVAL;
    }
    if (ctx->grpc_enabled && ctx->grpc_transport == TRANSPORT_UNIX) {
        if (!ctx->endpoint || ctx->endpoint[0] != '/') {
            snprintf(err, errlen, "protocols.grpc.endpoint must be the absolute path of a Unix "
                     "socket with transport unix");
            return OTC_EINVAL;
        }
    } else if (ctx->grpc_enabled && (!ctx->endpoint || !*ctx->endpoint || !strchr(ctx->endpoint, ':'))) {
        snprintf(err, errlen, "protocols.grpc.endpoint must be host:port");
        return OTC_EINVAL;
    }
    if (ctx->http_enabled) {
        char host[256];
        int port;
        static const char *const keys[OTC_SIGNAL_COUNT] = {"traces_url_path", "metrics_url_path",
                                                           "logs_url_path"};

        if (!ctx->http_endpoint ||
            otlp_http_parse_endpoint(ctx->http_endpoint, host, sizeof(host), &port) != OTC_OK) {
            snprintf(err, errlen, "protocols.http.endpoint must be host:port, got \"%s\"",
                     ctx->http_endpoint ? ctx->http_endpoint : "");
            return OTC_EINVAL;
        }
        for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
            const char *p = ctx->http_paths[s];

            if (!p || !*p || strpbrk(p, "?# ")) {
                snprintf(err, errlen, "protocols.http.%s must be a URL path, "
                         "got \"%s\"", keys[s], p ? p : "");
                return OTC_EINVAL;
            }
            for (int o = 0; o < s; o++) {
                if (strcmp(p + (p[0] == '/'), ctx->http_paths[o] + (ctx->http_paths[o][0] == '/')) == 0) {
                    snprintf(err, errlen, "protocols.http.%s and %s are both \"%s\"", keys[o],
                             keys[s], p);
                    return OTC_EINVAL;
                }
            }
        }
        for (size_t i = 0; i < ctx->http_compression.n; i++) {
            static const char *const known[] = {"", "gzip", "zstd", "zlib", "deflate", "snappy",
                                                "x-snappy-framed", "lz4", NULL};
            bool ok = false;

            for (int k = 0; known[k]; k++) {
                ok = ok || !strcmp(ctx->http_compression.v[i], known[k]);
            }
            if (!ok) {
                snprintf(err, errlen, "protocols.http.compression_algorithms: unsupported "
                         "compression type \"%s\" (gzip, zstd, zlib, deflate, snappy, "
                         "x-snappy-framed, lz4)", ctx->http_compression.v[i]);
                return OTC_EINVAL;
            }
        }
        for (size_t i = 0; i < ctx->cors_origins.n; i++) {
            const char *o = ctx->cors_origins.v[i];
            const char *star = strchr(o, '*');

            if (!*o || (star && strchr(star + 1, '*'))) {
                snprintf(err, errlen, "protocols.http.cors.allowed_origins: \"%s\" may hold "
                         "at most one * wildcard and must not be empty", o);
                return OTC_EINVAL;
            }
        }
    }
    return OTC_OK;
}

/* ---------------------------------------------------------------- calls */

static void call_cleanup(struct otlp_call *c);
static void call_done(struct otc_grpc_tag *tag, bool ok);
static void call_recycle(struct otlp_call *c);
static void call_answer_rc(struct otlp_call *c, int rc, size_t rejected);
static bool call_park(struct otlp_call *c, struct otc_batch *b, const struct otc_admission *a,
                      size_t rejected);
static void call_retry(struct otc_grpc_timer *t);

/* Ask gRPC for the next call of c's kind into slot c; false (c cleaned up,
 * the caller frees it) when gRPC refuses, e.g. once the server shuts down. */
static bool call_request(struct otlp_ctx *rx, struct otlp_call *c)
{
    grpc_call_error err;

    c->tag.done = call_done;
    memset(&c->md, 0, sizeof(c->md));
    grpc_metadata_array_init(&c->md);
    c->state = CALL_REQUESTED;
    c->call = NULL;
    c->payload = NULL;
    c->reply = NULL;
    c->status_msg = grpc_empty_slice();
    c->n_trailers = 0;
    if (c->signal < 0) {
        grpc_call_details_init(&c->details);
        err = grpc_server_request_call(rx->server, &c->call, &c->details, &c->md, rx->cq, rx->cq,
                                       &c->tag);
    } else {
        err = grpc_server_request_registered_call(rx->server, rx->method[c->signal], &c->call,
                                                  &c->deadline, &c->md, &c->payload, rx->cq,
                                                  rx->cq, &c->tag);
    }
    if (err != GRPC_CALL_OK) {
        if (!atomic_load(&rx->shutting_down)) {
            otc_log_err(rx->ins, "cannot request a call: error %d", err);
        }
        call_cleanup(c);
        return false;
    }
    atomic_fetch_add(&rx->live_calls, 1);
    return true;
}

static void call_cleanup(struct otlp_call *c)
{
    if (c->payload) {
        grpc_byte_buffer_destroy(c->payload);
        c->payload = NULL;
    }
    if (c->reply) {
        grpc_byte_buffer_destroy(c->reply);
        c->reply = NULL;
    }
    grpc_slice_unref(c->status_msg);
    c->status_msg = grpc_empty_slice();
    if (c->n_trailers) {
        grpc_slice_unref(c->trailer.key);
        grpc_slice_unref(c->trailer.value);
        c->n_trailers = 0;
    }
    if (c->parked) {
        otc_batch_unref(c->parked);
        c->parked = NULL;
    }
    grpc_metadata_array_destroy(&c->md);
    if (c->signal < 0) {
        grpc_call_details_destroy(&c->details);
    }
    if (c->call) {
        grpc_call_unref(c->call);
        c->call = NULL;
    }
}

static void call_answer(struct otlp_call *c, grpc_status_code code, const char *msg)
{
    grpc_op ops[4];
    grpc_op *op = ops;
    grpc_call_error err;

    memset(ops, 0, sizeof(ops));
    c->status_msg = grpc_slice_from_copied_string(msg ? msg : "");
    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    op++;
    if (code == GRPC_STATUS_OK) {
        op->op = GRPC_OP_SEND_MESSAGE;
        op->data.send_message.send_message = c->reply;
        op++;
    }
    op->op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op->data.send_status_from_server.status = code;
    op->data.send_status_from_server.status_details = msg && *msg ? &c->status_msg : NULL;
    op->data.send_status_from_server.trailing_metadata_count = c->n_trailers;
    op->data.send_status_from_server.trailing_metadata = c->n_trailers ? &c->trailer : NULL;
    op++;
    op->op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op->data.recv_close_on_server.cancelled = &c->cancelled;
    op++;
    c->state = CALL_ANSWERING;
    err = grpc_call_start_batch(c->call, ops, (size_t)(op - ops), &c->tag, NULL);
    if (err != GRPC_CALL_OK) {
        otc_log_err(c->rx->ins, "cannot answer a call: error %d", err);
        call_recycle(c);
    }
    /* else c belongs to its answer's completion, which any loop thread may
     * run at once: the caller touches c no more */
}

/* RESOURCE_EXHAUSTED for a throttled request, with a google.rpc.Status in the
 * grpc-status-details-bin trailer: with RetryInfo (retry_ns > 0) the client
 * retries after that delay; without it the refusal is final (OTLP). */
static void call_answer_exhausted(struct otlp_call *c, const char *msg, int64_t retry_ns)
{
    struct otlp_retry_status r;
    uint8_t buf[512];
    size_t n;

    otlp_retry_status_init(&r, GRPC_STATUS_RESOURCE_EXHAUSTED, msg, retry_ns);
    if (google__rpc__status__get_packed_size(&r.st) <= sizeof(buf)) {
        n = google__rpc__status__pack(&r.st, buf);
        c->trailer.key = grpc_slice_from_static_string("grpc-status-details-bin");
        c->trailer.value = grpc_slice_from_copied_buffer((const char *)buf, n);
        c->n_trailers = 1;
    }
    call_answer(c, GRPC_STATUS_RESOURCE_EXHAUSTED, msg);
}

/* The response: empty, or carrying partial_success when items were rejected. */
static grpc_byte_buffer *make_reply(enum otc_signal s, size_t rejected, const char *why)
{
    uint8_t buf[512];
    size_t n = 0;
    grpc_slice slice;
    grpc_byte_buffer *bb;

    if (rejected) {
        Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess tps =
            OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
        Opentelemetry__Proto__Collector__Logs__V1__ExportLogsPartialSuccess lps =
            OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_PARTIAL_SUCCESS__INIT;
        otc_traces_resp tr = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
        otc_logs_resp lr = OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_RESPONSE__INIT;

        if (s == OTC_TRACES) {
            tps.rejected_spans = (int64_t)rejected;
            tps.error_message = (char *)why;
            tr.partial_success = &tps;
            n = protobuf_c_message_pack(&tr.base, buf);
        } else {
            lps.rejected_log_records = (int64_t)rejected;
            lps.error_message = (char *)why;
            lr.partial_success = &lps;
            n = protobuf_c_message_pack(&lr.base, buf);
        }
    }
    slice = grpc_slice_from_copied_buffer((const char *)buf, n);
    bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return bb;
}

/* auth.authenticator: the call's metadata must carry the token. gRPC keys
 * are lower case; the configured header name may not be. */
static bool call_authorized(struct otlp_ctx *rx, struct otlp_call *c)
{
    const struct otc_auth_ops *a = rx->grpc_authn->ops->auth;
    const char *want = a->server_header(rx->grpc_authn);
    size_t wl = strlen(want);

    for (size_t i = 0; i < c->md.count; i++) {
        const grpc_metadata *m = &c->md.metadata[i];

        if (GRPC_SLICE_LENGTH(m->key) == wl &&
            !strncasecmp((const char *)GRPC_SLICE_START_PTR(m->key), want, wl)) {
            return a->server_check(rx->grpc_authn, (const char *)GRPC_SLICE_START_PTR(m->value),
                                   GRPC_SLICE_LENGTH(m->value)) == OTC_OK;
        }
    }
    return a->server_check(rx->grpc_authn, NULL, 0) == OTC_OK;
}

/* otc_inflate's output: a new batch for each size asked, the last one kept. */
struct inflate_dst {
    enum otc_signal   s;
    struct otc_batch *b;
};

static uint8_t *inflate_get(void *arg, size_t n)
{
    struct inflate_dst *d = arg;
    uint8_t *dst = NULL;

    otc_batch_unref(d->b);
    d->b = otc_batch_alloc_raw(d->s, n, &dst);
    return dst;
}

/* A compressed request (gRPC core hands it over as it came: per-message
 * decompression is off) inflated with libdeflate straight into a batch's
 * arena, at most max_recv_msg_size_mib. OTC_OK with *out, else the call is
 * answered as gRPC core would (RESOURCE_EXHAUSTED when too large) or
 * INVALID_ARGUMENT when the message does not inflate. */
static int call_inflate(struct otlp_ctx *rx, struct otlp_call *c, struct otc_batch **out)
{
    grpc_slice_buffer *sb = &c->payload->data.raw.slice_buffer;
    grpc_compression_algorithm alg = c->payload->data.raw.compression;
    size_t max = (size_t)(rx->max_recv_msg_size_mib ? rx->max_recv_msg_size_mib : 4) << 20;
    struct inflate_dst d = {(enum otc_signal)c->signal, NULL};
    const uint8_t *in;
    uint8_t *flat = NULL;
    size_t len = sb->length, n = 0;
    char msg[200];
    int rc;

    if (alg != GRPC_COMPRESS_GZIP && alg != GRPC_COMPRESS_DEFLATE) { /* no other in 1.51 */
        call_answer(c, GRPC_STATUS_UNIMPLEMENTED, "otlp: unsupported grpc-encoding");
        return OTC_EUNSUPP;
    }
    if (sb->count == 1) { /* usual for small messages: inflate from gRPC's slice */
        in = GRPC_SLICE_START_PTR(sb->slices[0]);
    } else {
        if (!(flat = malloc(len))) {
            call_answer(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "otlp: out of memory");
            return OTC_ENOMEM;
        }
        for (size_t i = 0, at = 0; i < sb->count; i++) {
            memcpy(flat + at, GRPC_SLICE_START_PTR(sb->slices[i]), GRPC_SLICE_LENGTH(sb->slices[i]));
            at += GRPC_SLICE_LENGTH(sb->slices[i]);
        }
        in = flat;
    }
    rc = otc_inflate(alg == GRPC_COMPRESS_GZIP ? OTC_DEFLATE_GZIP : OTC_DEFLATE_ZLIB, in, len, max,
                     inflate_get, &d, &n);
    free(flat);
    if (rc != OTC_OK) {
        otc_batch_unref(d.b);
        if (rc == OTC_ELIMIT && n) {
            snprintf(msg, sizeof(msg), "Received message larger than max (%zu vs. %zu)", n, max);
        } else if (rc == OTC_ELIMIT) {
            snprintf(msg, sizeof(msg), "Received message larger than max (more than %zu after "
                     "inflating)", max);
        } else {
            snprintf(msg, sizeof(msg), "otlp: cannot inflate the %zu-byte %s request: %s", len,
                     alg == GRPC_COMPRESS_GZIP ? "gzip" : "deflate",
                     rc == OTC_EINVAL ? "corrupt or truncated" : "out of memory");
        }
        call_answer(c, rc == OTC_EINVAL ? GRPC_STATUS_INVALID_ARGUMENT
                                        : GRPC_STATUS_RESOURCE_EXHAUSTED, msg);
        return rc;
    }
    d.b->raw_len = n;
    *out = d.b;
    return OTC_OK;
}

static void handle_export(struct otlp_ctx *rx, struct otlp_call *c)
{
    enum otc_signal s = (enum otc_signal)c->signal;
    struct otc_batch *b = NULL;
    size_t len = c->payload ? grpc_byte_buffer_length(c->payload) : 0;
    size_t rejected = 0;
    char msg[256];
    int rc;
    char why[200];

    if (rx->grpc_authn && !call_authorized(rx, c)) {
        grpc_slice all = grpc_empty_slice();
        grpc_byte_buffer_reader reader;

        if (len > 0 && grpc_byte_buffer_reader_init(&reader, c->payload)) {
            all = grpc_byte_buffer_reader_readall(&reader);
            grpc_byte_buffer_reader_destroy(&reader);
        }
        otlp_ingest_refuse_unauth(rx->ins, s, OTC_TRANSPORT_GRPC, GRPC_SLICE_START_PTR(all),
                                    GRPC_SLICE_LENGTH(all));
        grpc_slice_unref(all);
        call_answer(c, GRPC_STATUS_UNAUTHENTICATED, "otlp: missing or invalid token");
        return;
    }
    if (!c->payload) { /* gRPC core read no whole message: truncated, or a bad compressed flag */
        call_answer(c, GRPC_STATUS_INVALID_ARGUMENT, "otlp: no complete request message");
        return;
    }
    if (len > 0 && c->payload->data.raw.compression != GRPC_COMPRESS_NONE) {
        if ((rc = call_inflate(rx, c, &b)) != OTC_OK) {
            return; /* answered */
        }
        if (!(len = b->raw_len)) { /* an empty message, as if sent uncompressed */
            otc_batch_unref(b);
            b = NULL;
        }
    } else if (len > 0) {
        grpc_byte_buffer_reader reader;
        grpc_slice slice;
        uint8_t *dst;

        b = otc_batch_alloc_raw(s, len, &dst);
        if (!b || !grpc_byte_buffer_reader_init(&reader, c->payload)) {
            otc_batch_unref(b);
            call_answer(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "otlp: out of memory");
            return;
        }
        /* one copy, slice by slice, straight into the batch's arena */
        while (grpc_byte_buffer_reader_next(&reader, &slice)) {
            size_t n = GRPC_SLICE_LENGTH(slice);
            memcpy(dst, GRPC_SLICE_START_PTR(slice), n);
            dst += n;
            grpc_slice_unref(slice);
        }
        grpc_byte_buffer_reader_destroy(&reader);
    }
    if (b) {
        /* Fast path: a request the scan finds clean stays undecoded; stages
         * that read it decode it lazily on their own threads. */
        if ((rc = otlp_ingest_check(b, (size_t)rx->max_items, why, sizeof(why))) != OTC_OK) {
            otc_batch_unref(b);
            if (rc == OTC_ELIMIT) {
                call_answer(c, GRPC_STATUS_RESOURCE_EXHAUSTED, why);
            } else {
                snprintf(msg, sizeof(msg), "otlp: %s in a %zu-byte request", why, len);
                call_answer(c, GRPC_STATUS_INVALID_ARGUMENT, msg);
            }
            return;
        }
    }
    if (!b) {
        c->reply = make_reply(s, 0, OTLP_REJECTED_WHY);
        call_answer(c, GRPC_STATUS_OK, NULL);
        return;
    }
    {
        struct otc_client_meta meta = {otlp_meta_grpc_get, &c->md};
        struct otc_admission adm = {.client = rx->grpc_include_metadata ? &meta : NULL,
                                    .wait = !atomic_load(&rx->shutting_down)};

        rc = otlp_ingest_accept(rx->ins, b, &rejected, &adm);
        if (rc == OTC_ETHROTTLED || rc == OTC_ELIMIT) {
            snprintf(msg, sizeof(msg), "otlp: %s",
                     adm.reason[0] ? adm.reason : otc_strerror(rc));
            call_answer_exhausted(c, msg, rc == OTC_ETHROTTLED ? adm.retry_after_ns : 0);
            return;
        }
        if (rc == OTC_EFULL) {
            if (call_park(c, b, &adm, rejected)) {
                return; /* answered later, from call_retry */
            }
            adm.wait = false; /* no time left to wait: one last try */
            rc = otc_receiver_redeliver(rx->ins, b, &adm);
        }
    }
    call_answer_rc(c, rc, rejected);
}

/* The answer to a delivery's outcome rc (not the admission gates'). */
static void call_answer_rc(struct otlp_call *c, int rc, size_t rejected)
{
    switch (rc) {
    case OTC_OK:
        c->reply = make_reply((enum otc_signal)c->signal, rejected, OTLP_REJECTED_WHY);
        call_answer(c, GRPC_STATUS_OK, NULL);
        break;
    case OTC_EAGAIN:
        call_answer(c, GRPC_STATUS_UNAVAILABLE, "otlp: the pipeline is full, retry later");
        break;
    case OTC_ESHUTDOWN:
        call_answer(c, GRPC_STATUS_UNAVAILABLE, "otlp: the collector is shutting down");
        break;
    default:
        call_answer(c, GRPC_STATUS_UNIMPLEMENTED, "otlp: no pipeline for this signal");
        break;
    }
}

/* How long call c may still run before its deadline (INT64_MAX: none). */
static int64_t call_time_left(const struct otlp_call *c)
{
    gpr_timespec d = c->deadline, left;

    if (gpr_time_cmp(d, gpr_inf_future(d.clock_type)) == 0) {
        return INT64_MAX;
    }
    left = gpr_time_sub(gpr_convert_clock_type(d, GPR_CLOCK_MONOTONIC),
                        gpr_now(GPR_CLOCK_MONOTONIC));
    return (int64_t)left.tv_sec * 1000000000 + left.tv_nsec;
}

/* Keep b (refused with OTC_EFULL) in slot c and offer it again from this
 * loop's timers, for at most the pipelines' max_wait and never so long that
 * the answer could miss the call's deadline. False when there is no time to
 * wait (b stays the caller's). */
static bool call_park(struct otlp_call *c, struct otc_batch *b, const struct otc_admission *a,
                      size_t rejected)
{
    int64_t now = otc_grpc_loop_now_ns();
    int64_t left = call_time_left(c);
    int64_t wait = a->wait_ns;

    if (left != INT64_MAX) {
        int64_t margin = left / 10 > PARK_MARGIN_MIN_NS ? left / 10 : PARK_MARGIN_MIN_NS;

        wait = left - margin < wait ? left - margin : wait;
    }
    if (wait <= 0) {
        return false;
    }
    c->parked = b;
    c->adm = *a;
    c->adm.client = NULL; /* the gates are not run again */
    c->rejected = rejected;
    c->park_until = now + wait;
    c->park_step = PARK_STEP_FIRST_NS;
    c->timer.fn = call_retry;
    if (otc_grpc_loop_defer(&c->timer, now + (c->park_step < wait ? c->park_step : wait)) != OTC_OK) {
        c->parked = NULL;
        return false;
    }
    c->state = CALL_PARKED;
    return true;
}

/* A parked request's timer, on its loop thread: offer it again; once taken,
 * refused, past its wait, or when the receiver or the collector stops,
 * answer. */
static void call_retry(struct otc_grpc_timer *t)
{
    struct otlp_call *c = (struct otlp_call *)((char *)t - offsetof(struct otlp_call, timer));
    struct otlp_ctx *rx = c->rx;
    int64_t now = otc_grpc_loop_now_ns();
    struct otc_batch *b = c->parked;
    int rc;

    /* the last try: the wait is over, or the receiver stops (the collector
     * stopping answers OTC_ESHUTDOWN at once) */
    c->adm.wait = now < c->park_until && !atomic_load(&rx->shutting_down);
    c->parked = NULL;
    rc = otc_receiver_redeliver(rx->ins, b, &c->adm);
    if (rc == OTC_EFULL) {
        c->parked = b;
        c->park_step = c->park_step * 2 < PARK_STEP_MAX_NS ? c->park_step * 2 : PARK_STEP_MAX_NS;
        (void)otc_grpc_loop_defer(&c->timer, now + c->park_step < c->park_until
                                                 ? now + c->park_step : c->park_until);
        return;
    }
    call_answer_rc(c, rc, c->rejected); /* c is the answer's from here on */
}

/* A call slot's event, on a loop thread: a request arrived (or, at shutdown,
 * never will), or its answer went out. Every path that handles a request ends
 * with call_answer, after which the slot belongs to the answer's completion. */
static void call_done(struct otc_grpc_tag *tag, bool ok)
{
    struct otlp_call *c = (struct otlp_call *)tag;
    struct otlp_ctx *rx = c->rx;

    if (c->state == CALL_REQUESTED) {
        if (!ok) { /* shutdown: a pre-requested call that never arrived */
            call_cleanup(c);
            free(c);
            atomic_fetch_sub(&rx->live_calls, 1);
            return;
        }
        if (c->signal < 0) {
            char msg[300];
            snprintf(msg, sizeof(msg), "unknown method %.*s",
                     (int)GRPC_SLICE_LENGTH(c->details.method),
                     (const char *)GRPC_SLICE_START_PTR(c->details.method));
            call_answer(c, GRPC_STATUS_UNIMPLEMENTED, msg);
        } else {
            handle_export(rx, c);
        }
        return;
    }
    call_recycle(c);
}

/* The answer went out (or could not be started): the slot asks for the next
 * call. Its live_calls count is given back last: once it reaches 0 the
 * shutting-down thread may free rx. */
static void call_recycle(struct otlp_call *c)
{
    struct otlp_ctx *rx = c->rx;

    call_cleanup(c);
    if (atomic_load(&rx->shutting_down) || !call_request(rx, c)) {
        free(c);
    }
    atomic_fetch_sub(&rx->live_calls, 1);
}

/* A new call slot for signal s (-1: any other method), requested from gRPC. */
static int call_slot_add(struct otlp_ctx *rx, int s)
{
    struct otlp_call *c = calloc(1, sizeof(*c));

    if (!c) {
        return OTC_ENOMEM;
    }
    c->rx = rx;
    c->signal = s;
    if (!call_request(rx, c)) {
        free(c);
    }
    return OTC_OK;
}

static void server_shutdown_done(struct otc_grpc_tag *tag, bool ok)
{
    struct otlp_ctx *rx = (struct otlp_ctx *)((char *)tag - offsetof(struct otlp_ctx, shutdown_tag));

    (void)ok;
    atomic_store(&rx->server_done, true);
}

/* ------------------------------------------------------------ lifecycle */

static struct otc_instance *resolve_auth(struct otc_instance *ins, const char *proto,
                                         const char *id)
{
    struct otc_instance *ext = otc_engine_extension(ins->engine, id);

    if (!otc_auth_server(ext)) {
        otc_log_err(ins, "protocols.%s.auth.authenticator: \"%s\" is not an authenticator "
                    "extension listed in service.extensions", proto, id);
        return NULL;
    }
    return ext;
}

static char *slurp(struct otc_instance *ins, const char *key, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
        }
    }
    if (f) {
        fclose(f);
    }
    if (!buf) {
        otc_log_err(ins, "protocols.grpc.tls.%s: cannot read %s", key, path);
    }
    return buf;
}

/* gRPC core's SSL server credentials; with client_ca_file, client
 * certificates are required and verified against it. */
static grpc_server_credentials *grpc_tls_creds(struct otc_instance *ins, const struct otlp_tls *t)
{
    grpc_ssl_pem_key_cert_pair pair = {0};
    grpc_server_credentials *creds = NULL;
    char *cert = slurp(ins, "cert_file", t->cert_file);
    char *key = cert ? slurp(ins, "key_file", t->key_file) : NULL;
    char *ca = key && t->client_ca_file ? slurp(ins, "client_ca_file", t->client_ca_file) : NULL;

    if (key && (!t->client_ca_file || ca)) {
        pair.cert_chain = cert;
        pair.private_key = key;
        creds = grpc_ssl_server_credentials_create_ex(
            ca, &pair, 1,
            ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
               : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
    }
    free(ca);
    if (key) {
        memset(key, 0, strlen(key));
    }
    free(key);
    free(cert);
    return creds;
}

static int otlp_start(struct otc_instance *ins, void *vctx)
{
    struct otlp_ctx *rx = vctx;
    grpc_arg args[16];
    grpc_channel_args chargs = {.num_args = 0, .args = args};
    grpc_server_credentials *creds;
    int64_t mib = rx->max_recv_msg_size_mib ? rx->max_recv_msg_size_mib : 4;
    int port, rc;

    rx->ins = ins;
    if (rx->grpc_enabled && rx->grpc_auth &&
        !(rx->grpc_authn = resolve_auth(ins, "grpc", rx->grpc_auth))) {
        return OTC_EINVAL;
    }
    if (rx->http_enabled) {
        struct otc_instance *authn = NULL;
        struct otlp_http_options o = {
            .endpoint = rx->http_endpoint,
            .max_body = rx->http_max_body ? rx->http_max_body : 20u * 1024 * 1024,
            .cors_origins = &rx->cors_origins,
            .cors_headers = &rx->cors_headers,
            .cors_max_age = rx->cors_max_age,
            .response_headers = &rx->http_response_headers,
            .max_header = rx->http_max_header,
            .idle_timeout_ns = rx->http_idle_timeout,
            .max_items = (size_t)rx->max_items,
            .tls = &rx->http_tls,
        };

        if (rx->http_auth && !(authn = resolve_auth(ins, "http", rx->http_auth))) {
            return OTC_EINVAL;
        }
        o.auth = authn;

        for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
            /* otelcol serves "traces" at /traces */
            if (rx->http_paths[s][0] != '/') {
                size_t n = strlen(rx->http_paths[s]);
                char *p = malloc(n + 2);

                if (!p) {
                    return OTC_ENOMEM;
                }
                p[0] = '/';
                memcpy(p + 1, rx->http_paths[s], n + 1);
                free(rx->http_paths[s]);
                rx->http_paths[s] = p;
            }
            o.paths[s] = rx->http_paths[s];
        }
        o.compression = &rx->http_compression;
        o.include_metadata = rx->http_include_metadata;
        rc = otlp_http_start(&rx->http, ins, &o);
        if (rc != OTC_OK) {
            return rc;
        }
    }
    if (!rx->grpc_enabled) {
        return OTC_OK;
    }
    otc_grpc_arg_int(&chargs, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, mib * 1024 * 1024);
    /* compressed requests arrive as sent; call_inflate inflates them (libdeflate) */
    otc_grpc_arg_int(&chargs, GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
    /* Without this a second collector could bind the same port and split the traffic. */
    otc_grpc_arg_int(&chargs, GRPC_ARG_ALLOW_REUSEPORT, 0);
    if (rx->max_concurrent_streams > 0) {
        otc_grpc_arg_int(&chargs, GRPC_ARG_MAX_CONCURRENT_STREAMS, rx->max_concurrent_streams);
    }
    otc_grpc_arg_ms(&chargs, GRPC_ARG_MAX_CONNECTION_IDLE_MS, rx->max_conn_idle);
    otc_grpc_arg_ms(&chargs, GRPC_ARG_MAX_CONNECTION_AGE_MS, rx->max_conn_age);
    otc_grpc_arg_ms(&chargs, GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, rx->max_conn_age_grace);
    /* keepalive and buffer sizes: set only when given, gRPC's defaults otherwise */
    otc_grpc_arg_ms(&chargs, GRPC_ARG_KEEPALIVE_TIME_MS, rx->ka_time);
    otc_grpc_arg_ms(&chargs, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, rx->ka_timeout);
    otc_grpc_arg_ms(&chargs, GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, rx->ka_min_time);
    if (rx->ka_permit_without_stream) {
        otc_grpc_arg_int(&chargs, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    }
    if (rx->read_buffer_size > 0) {
        otc_grpc_arg_int(&chargs, GRPC_ARG_TCP_READ_CHUNK_SIZE, rx->read_buffer_size);
    }
    if (rx->write_buffer_size > 0) {
        otc_grpc_arg_int(&chargs, GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE, rx->write_buffer_size);
    }
    rx->server = grpc_server_create(&chargs, NULL);
    if (!(rx->cq = otc_grpc_loop_get())) {
        return OTC_ENOMEM;
    }
    grpc_server_register_completion_queue(rx->server, rx->cq, NULL);
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        if (ins->n_feeds[s]) {
            rx->method[s] = grpc_server_register_method(rx->server, method_paths[s], NULL,
                                                        GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        }
    }
    creds = rx->grpc_tls.cert_file ? grpc_tls_creds(ins, &rx->grpc_tls)
                                   : grpc_insecure_server_credentials_create();
    if (!creds) {
        return OTC_EINVAL;
    }
    if (rx->grpc_transport == TRANSPORT_UNIX) {
        char addr[4096];

        snprintf(addr, sizeof(addr), "unix:%s", rx->endpoint);
        port = grpc_server_add_http2_port(rx->server, addr, creds);
    } else {
        port = grpc_server_add_http2_port(rx->server, rx->endpoint, creds);
    }
    grpc_server_credentials_release(creds);
    if (port == 0) {
        otc_log_err(ins, "cannot listen on %s: the address is in use or invalid", rx->endpoint);
        return OTC_EIO;
    }
    grpc_server_start(rx->server);
    rx->server_started = true;
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        for (int i = 0; rx->method[s] && i < CALLS_PER_METHOD; i++) {
            if ((rc = call_slot_add(rx, s)) != OTC_OK) {
                return rc;
            }
        }
    }
    for (int i = 0; i < GENERIC_CALLS; i++) {
        if ((rc = call_slot_add(rx, -1)) != OTC_OK) {
            return rc;
        }
    }
    otc_log_info(ins, "OTLP/gRPC%s listening on %s", rx->grpc_tls.cert_file
                 ? (rx->grpc_tls.client_ca_file ? " (mTLS)" : " (TLS)") : "", rx->endpoint);
    return OTC_OK;
}

static void otlp_shutdown(struct otc_instance *ins, void *vctx)
{
    struct otlp_ctx *rx = vctx;

    (void)ins;
    otlp_http_stop(rx->http);
    rx->http = NULL;
    if (!rx->server) {
        return;
    }
    /* The loop threads own the call slots; they recycle none from here on. */
    atomic_store(&rx->shutting_down, true);
    if (rx->server_started) {
        rx->shutdown_tag.done = server_shutdown_done;
        grpc_server_shutdown_and_notify(rx->server, rx->cq, &rx->shutdown_tag);
        /* new calls are refused from here; those in flight get a moment to answer */
        for (int ms = 0; ms < SHUTDOWN_GRACE_MS && !atomic_load(&rx->server_done); ms += 10) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
        grpc_server_cancel_all_calls(rx->server);
        /* every slot comes back (pre-requested ones fail), then rx may go */
        while (!atomic_load(&rx->server_done) || atomic_load(&rx->live_calls) > 0) {
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    grpc_server_destroy(rx->server);
    rx->server = NULL;
    if (rx->cq) {
        otc_grpc_loop_put();
        rx->cq = NULL;
    }
}

static void otlp_destroy(void *vctx)
{
    struct otlp_ctx *rx = vctx;

    if (rx->server || rx->http) {
        otlp_shutdown(rx->ins, rx);
    }
}

const struct otc_component_ops otc_receiver_otlp_ops = {
    .type = "otlp",
    .kind = OTC_RECEIVER,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = false,
    .ctx_size = sizeof(struct otlp_ctx),
    .config_map = otlp_config,
    .validate = otlp_validate,
    .init = NULL,
    .start = otlp_start,
    .consume = NULL,
    .flush = NULL,
    .shutdown = otlp_shutdown,
    .destroy = otlp_destroy,
};
