/* otlp_exporter.c - the `otlp` exporter: sends each batch as one OTLP/gRPC
 * Export call through gRPC core, forwarding the received bytes unchanged when
 * no stage rewrote them. send() starts first attempts from whichever thread
 * the engine calls it on, and the shared gRPC loop thread (core/grpc_loop.c)
 * ends them; consume() (retries) runs on the sending_queue threads and waits
 * on a queue of its own. The channel is shared. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <pthread.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/impl/codegen/compression_types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_exporter.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "otc/otc_auth.h"
#include "otc/otc_deflate.h"
#include "otc/otc_grpc_loop.h"
#include "otc/otc_otlp.h"

/* gRPC's own reconnect back-off grows to 120 s by default, which would keep a
 * recovered backend unused long after an outage; the helper's retry sets the pace. */
#define OTLP_EXP_MAX_RECONNECT_BACKOFF_MS 5000
#define OTLP_EXP_POLL_MS 100 /* how often a waiting call checks for the drain deadline */

/* in the order of compression_choices; zstd and snappy, which gRPC core 1.51
 * cannot send, go as gzip (every OTLP/gRPC server must take gzip) */
enum { COMPRESS_GZIP, COMPRESS_NONE, COMPRESS_ZSTD, COMPRESS_SNAPPY, COMPRESS_EMPTY };
enum { BALANCER_ROUND_ROBIN, BALANCER_PICK_FIRST };

struct otlp_exp {
    /* options */
    char              *endpoint;
    bool               tls_insecure;
    char              *tls_ca_file;
    char              *tls_cert_file;
    char              *tls_key_file;
    bool               tls_skip_verify;
    char              *tls_server_name;
    char              *tls_ca_pem;
    char              *tls_cert_pem;
    char              *tls_key_pem;
    bool               tls_system_pool;
    int                tls_min_version;
    int                tls_max_version;
    int64_t            tls_reload_interval;
    char              *auth;
    int                compression;
    int64_t            compression_level; /* compression_params.level; 0: the default */
    struct otc_strmap  headers;
    int64_t            ka_time;      /* ns, 0 = no keepalive pings */
    int64_t            ka_timeout;   /* ns, 0 = gRPC's default (20s) */
    bool               ka_permit_without_stream;
    int                balancer;     /* BALANCER_* */
    char              *authority;
    uint64_t           read_buffer_size;
    uint64_t           write_buffer_size;
    bool               wait_for_ready; /* accepted; see the table */
    /* runtime */
    char              *target;     /* endpoint without a scheme */
    bool               use_tls;
    grpc_channel      *channel;
    grpc_metadata     *md;
    size_t             n_md;
    grpc_slice         method[OTC_SIGNAL_COUNT];
    struct otc_instance *authn;    /* resolved auth.authenticator */
    char              *auth_key;   /* its header, lower case (a gRPC metadata key) */
    /* calls started by send() */
    struct otc_instance *ins;
    grpc_completion_queue *cq;     /* the shared loop's (otc_grpc_loop_get) */
    struct otc_grpc_tick tick;     /* cancels calls under way at the drain deadline */
    pthread_mutex_t    calls_lock;
    struct otlp_rpc   *calls;      /* under way */
    pthread_t          probe;      /* probe_endpoint, beside the start */
    bool               probe_started;
};

#define OTLP_EXP_MAX_AUTH 16400 /* bytes of "<scheme> <token>" */

static const char *const compression_choices[] = {"gzip", "none", "zstd", "snappy", "", NULL};
static const char *const balancer_choices[] = {"round_robin", "pick_first", NULL};
static const char *const tls_min_choices[] = {"1.0", "1.1", "1.2", "1.3", NULL};
static const char *const tls_max_choices[] = {"", "1.0", "1.1", "1.2", "1.3", NULL};
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static void send_tick(void *arg);
static void rpc_done(struct otc_grpc_tag *tag, bool ok);

#define OFF(f) offsetof(struct otlp_exp, f)

static const struct otc_config_entry otlp_exp_config[] = {
    {OTC_CFG_STR, "endpoint", NULL, OFF(endpoint), 0, 0, 0, NULL,
     "host:port of the OTLP/gRPC server (an http:// or https:// prefix sets tls)"},
    {OTC_CFG_BOOL, "tls.insecure", "false", OFF(tls_insecure), 0, 0, 0, NULL,
     "plaintext connection instead of TLS"},
    {OTC_CFG_STR, "tls.ca_file", NULL, OFF(tls_ca_file), 0, 0, 0, NULL,
     "PEM CA bundle to verify the server (default: system roots)"},
    {OTC_CFG_STR, "tls.cert_file", NULL, OFF(tls_cert_file), 0, 0, 0, NULL,
     "PEM client certificate for mTLS"},
    {OTC_CFG_STR, "tls.key_file", NULL, OFF(tls_key_file), 0, 0, 0, NULL,
     "PEM client key for mTLS"},
    {OTC_CFG_BOOL, "tls.insecure_skip_verify", "false", OFF(tls_skip_verify), 0, 0, 0, NULL,
     "TLS without checking the server's certificate or name (testing only)"},
    {OTC_CFG_STR, "tls.server_name_override", NULL, OFF(tls_server_name), 0, 0, 0, NULL,
     "name to verify the server's certificate against (and to send as SNI)"},
    {OTC_CFG_STR, "tls.ca_pem", NULL, OFF(tls_ca_pem), 0, 0, 0, NULL,
     "the CA bundle itself, instead of ca_file"},
    {OTC_CFG_STR, "tls.cert_pem", NULL, OFF(tls_cert_pem), 0, 0, 0, NULL,
     "the client certificate itself, instead of cert_file"},
    {OTC_CFG_STR, "tls.key_pem", NULL, OFF(tls_key_pem), 0, 0, 0, NULL,
     "the client key itself, instead of key_file"},
    {OTC_CFG_BOOL, "tls.include_system_ca_certs_pool", "false", OFF(tls_system_pool), 0, 0, 0,
     NULL, "trust the system's CAs (" SYSTEM_CA_BUNDLE ") as well as ca_file / ca_pem"},
    {OTC_CFG_ENUM, "tls.min_version", "1.2", OFF(tls_min_version), 0, 0, 0, tls_min_choices,
     "lowest TLS version; gRPC core 1.51 always uses 1.2 or later and cannot require 1.3"},
    {OTC_CFG_ENUM, "tls.max_version", "", OFF(tls_max_version), 0, 0, 0, tls_max_choices,
     "highest TLS version (empty: 1.3); gRPC core 1.51 cannot lower it, so only empty or 1.3"},
    {OTC_CFG_DURATION, "tls.reload_interval", "0", OFF(tls_reload_interval), OTC_CFG_F_MIN, 0, 0,
     NULL, "accepted; the files are read at start and again when the config is reloaded"},
    {OTC_CFG_STR, "auth.authenticator", NULL, OFF(auth), 0, 0, 0, NULL,
     "id of an authenticator extension whose credential is sent with every call"},
    {OTC_CFG_ENUM, "compression", "gzip", OFF(compression), 0, 0, 0, compression_choices,
     "request compression: gzip, or none (or empty); zstd and snappy are sent as gzip, "
     "which gRPC core 1.51 has and every OTLP server must accept"},
    {OTC_CFG_INT, "compression_params.level", "0", OFF(compression_level), 0, 0, 0, NULL,
     "gzip level as Go numbers it: 1 (fastest) to 9 (smallest), -1 or 0 the default (6), "
     "-2 Huffman coding only; each message is compressed whole with libdeflate"},
    {OTC_CFG_STRMAP, "headers", NULL, OFF(headers), 0, 0, 0, NULL,
     "metadata sent with every call"},
    {OTC_CFG_DURATION, "keepalive.time", "0", OFF(ka_time), OTC_CFG_F_MIN, 0, 0, NULL,
     "ping the server after this long without activity (0 = no pings)"},
    {OTC_CFG_DURATION, "keepalive.timeout", "0", OFF(ka_timeout), OTC_CFG_F_MIN, 0, 0, NULL,
     "close the connection when a ping is not answered within this long (0 = 20s)"},
    {OTC_CFG_BOOL, "keepalive.permit_without_stream", "false", OFF(ka_permit_without_stream),
     0, 0, 0, NULL, "send keepalive pings also while no call is under way"},
    {OTC_CFG_ENUM, "balancer_name", "round_robin", OFF(balancer), 0, 0, 0, balancer_choices,
     "gRPC load balancing over the addresses the endpoint resolves to"},
    {OTC_CFG_STR, "authority", NULL, OFF(authority), 0, 0, 0, NULL,
     "the :authority header of every call (default: the endpoint)"},
    {OTC_CFG_SIZE, "read_buffer_size", "0", OFF(read_buffer_size), OTC_CFG_F_MAX, 0,
     1073741824.0, NULL, "bytes read from the connection at once (0 = gRPC's default)"},
    {OTC_CFG_SIZE, "write_buffer_size", "0", OFF(write_buffer_size), OTC_CFG_F_MAX, 0,
     1073741824.0, NULL, "bytes of HTTP/2 frames buffered before a write (0 = gRPC's default)"},
    {OTC_CFG_BOOL, "wait_for_ready", "false", OFF(wait_for_ready), 0, 0, 0, NULL,
     "accepted, no effect: a call on a channel that is not ready fails and the helper's "
     "retry_on_failure sends it again once it is"},
    OTC_CFG_END,
};

static const char *const method_paths[OTC_SIGNAL_COUNT] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};

/* Does x send gzip (zstd and snappy go as gzip)? */
static bool otlp_gzip(const struct otlp_exp *x)
{
    return x->compression != COMPRESS_NONE && x->compression != COMPRESS_EMPTY;
}

static int otlp_exp_validate(const void *vctx, char *err, size_t errlen)
{
    const struct otlp_exp *x = vctx;

    if (!x->endpoint || !*x->endpoint) {
        snprintf(err, errlen, "\"endpoint\" is required");
        return OTC_EINVAL;
    }
    if ((x->tls_cert_file != NULL) != (x->tls_key_file != NULL)) {
        snprintf(err, errlen, "tls.cert_file and tls.key_file go together");
        return OTC_EINVAL;
    }
    if ((x->tls_cert_pem != NULL) != (x->tls_key_pem != NULL)) {
        snprintf(err, errlen, "tls.cert_pem and tls.key_pem go together");
        return OTC_EINVAL;
    }
    if (x->tls_min_version == 3 || (x->tls_max_version && x->tls_max_version != 4)) {
        snprintf(err, errlen, "tls.min_version \"1.3\" and a max_version below 1.3 cannot be "
                 "enforced by gRPC core 1.51 (it negotiates 1.2 or 1.3)");
        return OTC_EINVAL;
    }
    if (x->compression_level < -2 || x->compression_level > 9 ||
        (!otlp_gzip(x) && x->compression_level != 0)) {
        snprintf(err, errlen, "compression_params.level %lld is not supported for compression \"%s\" "
                 "(gzip: -2 to 9)", (long long)x->compression_level, compression_choices[x->compression]);
        return OTC_EINVAL;
    }
    return OTC_OK;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) {
        buf[n] = '\0';
    }
    fclose(f);
    return buf;
}

/* insecure_skip_verify: gRPC's TLS credentials with no verifier at all (the
 * SSL credentials always check the chain). The client certificate, if any,
 * is still presented. */
static grpc_channel_credentials *make_skip_verify_creds(const char *cert, const char *key)
{
    grpc_tls_credentials_options *opts = grpc_tls_credentials_options_create();
    grpc_tls_certificate_verifier *verifier = grpc_tls_certificate_verifier_no_op_create();
    grpc_tls_certificate_provider *provider = NULL;
    grpc_channel_credentials *creds;

    if (cert) {
        grpc_tls_identity_pairs *pairs = grpc_tls_identity_pairs_create();

        /* a provider needs roots or an identity: only built for the client certificate */
        grpc_tls_identity_pairs_add_pair(pairs, key, cert);
        provider = grpc_tls_certificate_provider_static_data_create(NULL, pairs);
        grpc_tls_credentials_options_set_certificate_provider(opts, provider);
        grpc_tls_credentials_options_watch_identity_key_cert_pairs(opts);
    }
    grpc_tls_credentials_options_set_verify_server_cert(opts, 0);
    grpc_tls_credentials_options_set_certificate_verifier(opts, verifier);
    grpc_tls_credentials_options_set_check_call_host(opts, 0);
    creds = grpc_tls_credentials_create(opts);
    if (provider) {
        grpc_tls_certificate_provider_release(provider);
    }
    grpc_tls_certificate_verifier_release(verifier);
    return creds;
}

static grpc_channel_credentials *make_creds(struct otc_instance *ins, struct otlp_exp *x)
{
    grpc_channel_credentials *creds;
    grpc_ssl_pem_key_cert_pair pair = {0};
    char *ca = NULL, *cert = NULL, *key = NULL;

    if (!x->use_tls) {
        return grpc_insecure_credentials_create();
    }
    if (x->tls_ca_file && !(ca = read_file(x->tls_ca_file))) {
        otc_log_err(ins, "cannot read tls.ca_file %s", x->tls_ca_file);
        return NULL;
    }
    if (!ca && x->tls_ca_pem && !(ca = strdup(x->tls_ca_pem))) {
        return NULL;
    }
    if (ca && x->tls_system_pool) {
        /* the given CAs and the system's: one bundle */
        char *sys = read_file(SYSTEM_CA_BUNDLE);
        char *both = sys ? malloc(strlen(ca) + strlen(sys) + 2) : NULL;

        if (!sys) {
            otc_log_err(ins, "tls.include_system_ca_certs_pool: cannot read %s", SYSTEM_CA_BUNDLE);
        }
        if (both) {
            sprintf(both, "%s\n%s", ca, sys);
        }
        free(sys);
        free(ca);
        if (!(ca = both)) {
            return NULL;
        }
    }
    if (x->tls_cert_file && (!(cert = read_file(x->tls_cert_file)) || !(key = read_file(x->tls_key_file)))) {
        otc_log_err(ins, "cannot read tls.cert_file / tls.key_file");
        free(ca);
        free(cert);
        return NULL;
    }
    if (!cert && x->tls_cert_pem && x->tls_key_pem &&
        (!(cert = strdup(x->tls_cert_pem)) || !(key = strdup(x->tls_key_pem)))) {
        free(ca);
        free(cert);
        return NULL;
    }
    pair.cert_chain = cert;
    pair.private_key = key;
    if (x->tls_skip_verify) {
        creds = make_skip_verify_creds(cert, key);
    } else {
        creds = grpc_ssl_credentials_create(ca, cert ? &pair : NULL, NULL, NULL);
    }
    free(ca);
    free(cert);
    free(key);
    return creds;
}

/* Connect in the background; one clear line when the endpoint is not reachable
 * yet. Runs on a thread of its own, so that a backend that is down does not
 * hold the start (and the receivers) for the probe's second. */
static void *probe_endpoint(void *arg)
{
    struct otlp_exp *x = arg;
    struct otc_instance *ins = x->ins;
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_connectivity_state st = grpc_channel_check_connectivity_state(x->channel, 1);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(1000, GPR_TIMESPAN));

    while (st != GRPC_CHANNEL_READY) {
        grpc_event ev;
        grpc_channel_watch_connectivity_state(x->channel, st, deadline, cq, x);
        ev = grpc_completion_queue_pluck(cq, x, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (!ev.success) {
            break; /* deadline */
        }
        st = grpc_channel_check_connectivity_state(x->channel, 0);
    }
    if (st != GRPC_CHANNEL_READY) {
        otc_log_warn(ins, "cannot reach %s yet; exports will be retried", x->target);
    }
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
    return NULL;
}

static int otlp_exp_start(struct otc_instance *ins, void *vctx)
{
    struct otlp_exp *x = vctx;
    grpc_arg args[12];
    grpc_channel_args chargs = {.num_args = 0, .args = args};
    static const char *const lb_config[] = {
        "{\"loadBalancingConfig\":[{\"round_robin\":{}}]}",
        "{\"loadBalancingConfig\":[{\"pick_first\":{}}]}",
    };
    grpc_channel_credentials *creds;
    const char *ep = x->endpoint;

    if (x->auth) {
        x->authn = otc_engine_extension(ins->engine, x->auth);
        if (!otc_auth_client(x->authn)) {
            otc_log_err(ins, "auth.authenticator: \"%s\" is not an authenticator extension "
                        "listed in service.extensions", x->auth);
            return OTC_EINVAL;
        }
        x->auth_key = strdup(x->authn->ops->auth->client_header(x->authn));
        if (!x->auth_key) {
            return OTC_ENOMEM;
        }
        for (char *p = x->auth_key; *p; p++) {
            *p = (char)tolower((unsigned char)*p);
        }
    }

    x->use_tls = !x->tls_insecure;
    if (!strncmp(ep, "http://", 7)) {
        ep += 7;
        x->use_tls = false;
    } else if (!strncmp(ep, "https://", 8)) {
        ep += 8;
        x->use_tls = true;
    }
    x->target = strdup(ep);
    if (!x->target) {
        return OTC_ENOMEM;
    }
    if (x->target[0] && x->target[strlen(x->target) - 1] == '/') {
        x->target[strlen(x->target) - 1] = '\0';
    }
    otc_grpc_arg_int(&chargs, GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM,
                     x->compression == COMPRESS_NONE || x->compression == COMPRESS_EMPTY
                         ? GRPC_COMPRESS_NONE : GRPC_COMPRESS_GZIP);
    otc_grpc_arg_int(&chargs, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, -1);
    otc_grpc_arg_int(&chargs, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, OTLP_EXP_MAX_RECONNECT_BACKOFF_MS);
    if (x->tls_server_name && *x->tls_server_name) {
        otc_grpc_arg_str(&chargs, GRPC_SSL_TARGET_NAME_OVERRIDE_ARG, x->tls_server_name);
    }
    otc_grpc_arg_str(&chargs, GRPC_ARG_SERVICE_CONFIG, lb_config[x->balancer]);
    if (x->authority && *x->authority) {
        otc_grpc_arg_str(&chargs, GRPC_ARG_DEFAULT_AUTHORITY, x->authority);
    }
    otc_grpc_arg_ms(&chargs, GRPC_ARG_KEEPALIVE_TIME_MS, x->ka_time);
    otc_grpc_arg_ms(&chargs, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, x->ka_timeout);
    if (x->read_buffer_size > 0) {
        otc_grpc_arg_int(&chargs, GRPC_ARG_TCP_READ_CHUNK_SIZE, (int64_t)x->read_buffer_size);
    }
    if (x->write_buffer_size > 0) {
        otc_grpc_arg_int(&chargs, GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE, (int64_t)x->write_buffer_size);
    }
    if (x->ka_permit_without_stream) {
        otc_grpc_arg_int(&chargs, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    }
    creds = make_creds(ins, x);
    if (!creds) {
        return OTC_EINVAL;
    }
    x->channel = grpc_channel_create(x->target, creds, &chargs);
    grpc_channel_credentials_release(creds);
    if (!x->channel) {
        return OTC_EIO;
    }
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        x->method[s] = grpc_slice_from_static_string(method_paths[s]);
    }
    if (x->headers.n) {
        x->md = calloc(x->headers.n, sizeof(*x->md));
        if (!x->md) {
            return OTC_ENOMEM;
        }
        for (size_t i = 0; i < x->headers.n; i++) {
            for (char *p = x->headers.keys[i]; *p; p++) {
                *p = (char)tolower((unsigned char)*p);
            }
            x->md[i].key = grpc_slice_from_static_string(x->headers.keys[i]);
            x->md[i].value = grpc_slice_from_static_string(x->headers.vals[i]);
        }
        x->n_md = x->headers.n;
    }
    x->ins = ins;
    x->probe_started = pthread_create(&x->probe, NULL, probe_endpoint, x) == 0;
    if (!(x->cq = otc_grpc_loop_get())) {
        return OTC_ENOMEM;
    }
    pthread_mutex_init(&x->calls_lock, NULL);
    x->tick.fn = send_tick;
    x->tick.arg = x;
    otc_grpc_loop_add_tick(&x->tick);
    return OTC_OK;
}

static const char *const status_names[] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
};

static const char *status_name(grpc_status_code code)
{
    return (unsigned)code < sizeof(status_names) / sizeof(status_names[0]) ? status_names[code] : "?";
}

/* The delay of a google.rpc.RetryInfo in the grpc-status-details-bin trailer
 * (a serialized google.rpc.Status; gRPC core has already base64-decoded it).
 * Returns true when one is present; *delay_ns is then its retry_delay. */
static bool retry_info_delay(const grpc_metadata_array *trailers, int64_t *delay_ns)
{
    static const char retry_info_type[] = "google.rpc.RetryInfo";
    bool found = false;

    for (size_t i = 0; i < trailers->count && !found; i++) {
        const grpc_metadata *md = &trailers->metadata[i];
        Google__Rpc__Status *st;

        if (grpc_slice_str_cmp(md->key, "grpc-status-details-bin") != 0) {
            continue;
        }
        st = google__rpc__status__unpack(NULL, GRPC_SLICE_LENGTH(md->value),
                                         GRPC_SLICE_START_PTR(md->value));
        for (size_t k = 0; st && k < st->n_details && !found; k++) {
            const Google__Protobuf__Any *any = st->details[k];
            const char *slash = any->type_url ? strrchr(any->type_url, '/') : NULL;
            const char *type = slash ? slash + 1 : any->type_url;
            Google__Rpc__RetryInfo *ri;

            if (!type || strcmp(type, retry_info_type) != 0) {
                continue;
            }
            ri = google__rpc__retry_info__unpack(NULL, any->value.len, any->value.data);
            if (ri) {
                const Google__Protobuf__Duration *d = ri->retry_delay;
                int64_t ns = d ? d->seconds * 1000000000LL + d->nanos : 0;
                *delay_ns = ns > 0 ? ns : 0;
                found = true;
                google__rpc__retry_info__free_unpacked(ri, NULL);
            }
        }
        if (st) {
            google__rpc__status__free_unpacked(st, NULL);
        }
    }
    return found;
}

/* OTLP: which gRPC codes are worth a retry, honouring RetryInfo;
 * RESOURCE_EXHAUSTED only when the server sent RetryInfo (throttling). */
static int map_status(grpc_status_code code, const grpc_metadata_array *trailers,
                      struct otc_export_result *res)
{
    int64_t delay = 0;
    bool has_retry_info = retry_info_delay(trailers, &delay);

    switch (code) {
    case GRPC_STATUS_OK:
        return OTC_OK;
    case GRPC_STATUS_UNAVAILABLE:
    case GRPC_STATUS_CANCELLED:
    case GRPC_STATUS_DEADLINE_EXCEEDED:
    case GRPC_STATUS_ABORTED:
    case GRPC_STATUS_OUT_OF_RANGE:
    case GRPC_STATUS_DATA_LOSS:
        res->retry_after_ns = delay;
        return OTC_EIO;
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
        if (has_retry_info) {
            res->retry_after_ns = delay;
            return OTC_EIO;
        }
        return OTC_EPERM;
    default:
        return OTC_EPERM;
    }
}

/* partial_success of an OK answer: the rejected count and message go to the
 * exporter helper, which counts and logs them (not retried: OTLP says so). */
static void read_partial_success(enum otc_signal s, grpc_byte_buffer *resp,
                                 struct otc_export_result *res)
{
    grpc_byte_buffer_reader reader;
    grpc_slice all;
    ProtobufCMessage *m;
    int64_t rejected = 0;
    const char *why = "";

    if (!resp || !grpc_byte_buffer_reader_init(&reader, resp)) {
        return;
    }
    all = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    if (GRPC_SLICE_LENGTH(all) == 0) {
        grpc_slice_unref(all);
        return;
    }
    m = protobuf_c_message_unpack(otc_response_descriptor(s), NULL, GRPC_SLICE_LENGTH(all),
                                  GRPC_SLICE_START_PTR(all));
    grpc_slice_unref(all);
    if (!m) {
        return;
    }
    if (s == OTC_TRACES && ((otc_traces_resp *)m)->partial_success) {
        rejected = ((otc_traces_resp *)m)->partial_success->rejected_spans;
        why = ((otc_traces_resp *)m)->partial_success->error_message;
    } else if (s == OTC_METRICS && ((otc_metrics_resp *)m)->partial_success) {
        rejected = ((otc_metrics_resp *)m)->partial_success->rejected_data_points;
        why = ((otc_metrics_resp *)m)->partial_success->error_message;
    } else if (s == OTC_LOGS && ((otc_logs_resp *)m)->partial_success) {
        rejected = ((otc_logs_resp *)m)->partial_success->rejected_log_records;
        why = ((otc_logs_resp *)m)->partial_success->error_message;
    }
    if (rejected > 0) {
        res->rejected = (uint64_t)rejected;
        snprintf(res->reason, sizeof(res->reason), "%s", why && *why ? why : "(no message)");
    }
    protobuf_c_message_free_unpacked(m, NULL);
}

/* One Export call: what gRPC fills in, and what is freed when it ends. */
struct otlp_rpc {
    struct otc_grpc_tag     tag;        /* first: send()'s calls complete on the shared loop */
    struct otlp_exp        *x;
    struct otc_batch       *b;
    grpc_call              *call;
    grpc_byte_buffer       *req, *resp;
    grpc_metadata_array     initial_md, trailing_md;
    grpc_slice              details;
    grpc_status_code        status;
    grpc_metadata          *md_auth;
    char                   *token;
    struct otc_export_call *done;       /* send(): tell the engine at the end */
    struct otlp_rpc        *prev, *next; /* send(): the calls under way */
};

/* Free what an rpc holds, its batch included. */
static void rpc_release(struct otlp_rpc *r)
{
    grpc_slice_unref(r->details);
    grpc_call_unref(r->call);
    grpc_byte_buffer_destroy(r->req);
    if (r->resp) {
        grpc_byte_buffer_destroy(r->resp);
    }
    grpc_metadata_array_destroy(&r->initial_md);
    grpc_metadata_array_destroy(&r->trailing_md);
    free(r->md_auth);
    free(r->token);
    otc_batch_unref(r->b);
}

/* Start an Export call of b (which the rpc then holds) on cq with tag r.
 * OTC_OK, or an error with res->reason set and b released. */
static int rpc_start(struct otc_instance *ins, struct otlp_exp *x, struct otlp_rpc *r,
                     struct otc_batch *b, grpc_completion_queue *cq,
                     struct otc_export_result *res)
{
    enum otc_signal s = b->signal;
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_nanos(ins->timeout_ns, GPR_TIMESPAN));
    grpc_metadata *md = x->md;
    size_t n_md = x->n_md;
    grpc_op ops[6];
    grpc_slice slice;
    const uint8_t *data;
    size_t len;

    r->x = x;
    r->b = b;
    r->details = grpc_empty_slice();
    r->status = GRPC_STATUS_UNKNOWN;
    if (otc_batch_bytes(b, &data, &len) != OTC_OK) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        otc_batch_unref(b);
        return OTC_ENOMEM;
    }
    if (x->authn) {
        /* the token may be re-read from its file between calls */
        r->token = malloc(OTLP_EXP_MAX_AUTH);
        r->md_auth = calloc(x->n_md + 1, sizeof(*r->md_auth));
        if (!r->token || !r->md_auth ||
            x->authn->ops->auth->client_value(x->authn, r->token, OTLP_EXP_MAX_AUTH) != OTC_OK) {
            free(r->token);
            free(r->md_auth);
            otc_batch_unref(b);
            snprintf(res->reason, sizeof(res->reason), "no token from %s", x->auth);
            return OTC_EIO;
        }
        if (x->n_md) {
            memcpy(r->md_auth, x->md, x->n_md * sizeof(*r->md_auth));
        }
        r->md_auth[x->n_md].key = grpc_slice_from_static_string(x->auth_key);
        r->md_auth[x->n_md].value = grpc_slice_from_static_string(r->token);
        md = r->md_auth;
        n_md = x->n_md + 1;
    }
    if (otlp_gzip(x) && len > 0) {
        /* Compressed here, whole, with libdeflate: the message goes out marked
         * as compressed, and gRPC core's own (zlib, several times slower)
         * compression skips it. The call's grpc-encoding is the channel's gzip. */
        uint8_t *z;
        size_t zlen;
        int level = x->compression_level == 0 ? -1 : (int)x->compression_level;

        if (otc_deflate(OTC_DEFLATE_GZIP, level, data, len, &z, &zlen) != OTC_OK) {
            snprintf(res->reason, sizeof(res->reason), "out of memory compressing the request");
            otc_batch_unref(b);
            free(r->token);
            free(r->md_auth);
            return OTC_ENOMEM;
        }
        slice = grpc_slice_new(z, zlen, free);
        r->req = grpc_raw_compressed_byte_buffer_create(&slice, 1, GRPC_COMPRESS_GZIP);
        grpc_slice_unref(slice);
    } else {
        /* the batch outlives the call, so gRPC may read its bytes in place */
        slice = grpc_slice_from_static_buffer(data, len);
        r->req = grpc_raw_byte_buffer_create(&slice, 1);
    }
    r->call = grpc_channel_create_call(x->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, x->method[s],
                                       NULL, deadline, NULL);
    grpc_metadata_array_init(&r->initial_md);
    grpc_metadata_array_init(&r->trailing_md);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = n_md;
    ops[0].data.send_initial_metadata.metadata = md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = r->req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &r->initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &r->resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &r->trailing_md;
    ops[5].data.recv_status_on_client.status = &r->status;
    ops[5].data.recv_status_on_client.status_details = &r->details;
    if (grpc_call_start_batch(r->call, ops, 6, r, NULL) != GRPC_CALL_OK) {
        snprintf(res->reason, sizeof(res->reason), "the call could not be started");
        rpc_release(r);
        return OTC_EIO;
    }
    return OTC_OK;
}

/* Take an ended call off the list of those under way. */
static void calls_remove(struct otlp_exp *x, struct otlp_rpc *r)
{
    pthread_mutex_lock(&x->calls_lock);
    if (r->prev) {
        r->prev->next = r->next;
    } else if (x->calls == r) {
        x->calls = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    }
    pthread_mutex_unlock(&x->calls_lock);
}

/* The result of a call whose batch completed (success: as gRPC said); frees
 * what the rpc holds. */
static int rpc_finish(struct otlp_rpc *r, bool success, struct otc_export_result *res)
{
    int rc;

    if (!success) {
        rc = OTC_EIO;
        snprintf(res->reason, sizeof(res->reason), "the call did not complete");
    } else {
        rc = map_status(r->status, &r->trailing_md, res);
        if (rc == OTC_OK) {
            read_partial_success(r->b->signal, r->resp, res);
        } else {
            snprintf(res->reason, sizeof(res->reason), "status %s (%d): %.*s",
                     status_name(r->status), (int)r->status, (int)GRPC_SLICE_LENGTH(r->details),
                     (const char *)GRPC_SLICE_START_PTR(r->details));
        }
    }
    rpc_release(r);
    return rc;
}

/* Wait for the call's batch; once the engine's drain deadline has passed,
 * cancel the call (it then completes with CANCELLED). */
static grpc_event wait_call(struct otc_instance *ins, grpc_completion_queue *cq, grpc_call *call,
                            void *tag)
{
    bool cancelled = false;

    for (;;) {
        gpr_timespec step = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(OTLP_EXP_POLL_MS, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_pluck(cq, tag, step, NULL);

        if (ev.type != GRPC_QUEUE_TIMEOUT) {
            return ev;
        }
        if (!cancelled && ins->engine && otc_engine_drain_expired(ins->engine)) {
            grpc_call_cancel(call, NULL);
            cancelled = true;
        }
    }
}

/* Blocking: one call on a queue of its own (retries, on the exporter threads). */
static int otlp_exp_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct otc_export_result *res = otc_export_result();
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    struct otlp_rpc r = {0};
    int rc = rpc_start(ins, vctx, &r, b, cq, res);

    if (rc == OTC_OK) {
        grpc_event ev = wait_call(ins, cq, r.call, &r);
        rc = rpc_finish(&r, ev.success != 0, res);
    }
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
    return rc;
}

/* Without waiting: the call goes on the shared completion queue, whose thread
 * reports its end to the engine (rpc_done). */
static int otlp_exp_send(struct otc_instance *ins, void *vctx, struct otc_batch *b,
                         struct otc_export_call *done)
{
    struct otlp_exp *x = vctx;
    struct otlp_rpc *r = calloc(1, sizeof(*r));
    int rc;

    if (!r) {
        otc_batch_unref(b);
        snprintf(done->result.reason, sizeof(done->result.reason), "out of memory");
        return OTC_ENOMEM;
    }
    r->done = done;
    r->tag.done = rpc_done;
    /* Under the lock, so that the loop thread (which takes it to remove an ended
     * call, or to cancel calls) sees the call listed and whole. */
    pthread_mutex_lock(&x->calls_lock);
    if ((rc = rpc_start(ins, x, r, b, x->cq, &done->result)) == OTC_OK) {
        r->next = x->calls;
        if (x->calls) {
            x->calls->prev = r;
        }
        x->calls = r;
    }
    pthread_mutex_unlock(&x->calls_lock);
    if (rc != OTC_OK) {
        free(r);
    }
    return rc;
}

/* The end of a call started by send(), on the shared loop thread. */
static void rpc_done(struct otc_grpc_tag *tag, bool ok)
{
    struct otlp_rpc *r = (struct otlp_rpc *)tag;
    struct otc_export_call *done = r->done;
    int rc;

    calls_remove(r->x, r);
    rc = rpc_finish(r, ok, &done->result);
    free(r);
    otc_export_done(done, rc);
}

/* On the loop thread: once the engine's drain deadline has passed, cancel
 * the calls under way (they then end with CANCELLED). */
static void send_tick(void *arg)
{
    struct otlp_exp *x = arg;

    if (!x->ins->engine || !otc_engine_drain_expired(x->ins->engine)) {
        return;
    }
    pthread_mutex_lock(&x->calls_lock);
    for (struct otlp_rpc *r = x->calls; r; r = r->next) {
        grpc_call_cancel(r->call, NULL);
    }
    pthread_mutex_unlock(&x->calls_lock);
}

static void otlp_exp_shutdown(struct otc_instance *ins, void *vctx)
{
    struct otlp_exp *x = vctx;

    (void)ins;
    if (x->probe_started) {
        pthread_join(x->probe, NULL);
        x->probe_started = false;
    }
    /* the engine has seen every send() end before it shuts the exporter down */
    if (x->cq) {
        otc_grpc_loop_remove_tick(&x->tick);
        otc_grpc_loop_put();
        x->cq = NULL;
        pthread_mutex_destroy(&x->calls_lock);
    }
    if (x->channel) {
        grpc_channel_destroy(x->channel);
        x->channel = NULL;
    }
}

static void otlp_exp_destroy(void *vctx)
{
    struct otlp_exp *x = vctx;

    otlp_exp_shutdown(NULL, x);
    free(x->md);
    x->md = NULL;
    free(x->target);
    x->target = NULL;
    free(x->auth_key);
    x->auth_key = NULL;
}

const struct otc_component_ops otc_exporter_otlp_ops = {
    .type = "otlp",
    .kind = OTC_EXPORTER,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = true,
    .ctx_size = sizeof(struct otlp_exp),
    .config_map = otlp_exp_config,
    .validate = otlp_exp_validate,
    .init = NULL,
    .start = otlp_exp_start,
    .consume = otlp_exp_consume,
    .send = otlp_exp_send,
    .flush = NULL,
    .shutdown = otlp_exp_shutdown,
    .destroy = otlp_exp_destroy,
};
