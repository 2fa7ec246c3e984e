/* otlp_http.h - the OTLP/HTTP server of the `otlp` receiver (libevent evhttp on
 * its own thread), started by otlp_receiver.c. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_RECEIVER_OTLP_HTTP_H
#define OTC_RECEIVER_OTLP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "otc/otc_component.h"

struct otlp_http;

/* protocols.*.tls (otelcol configtls.ServerConfig); min_version indexes
 * OTLP_TLS_VERSIONS. */
struct otlp_tls {
    char *cert_file;
    char *key_file;
    char *client_ca_file;  /* set: clients must present a certificate it signed */
    int   min_version;
    int   max_version;     /* 0: none, else OTLP_TLS_x + 1 */
    /* otelcol's other configtls options, accepted (see the option table) */
    char   *ca_file;
    int64_t reload_interval;
    bool    include_system_ca_certs_pool;
};
#define OTLP_TLS_VERSIONS "1.0", "1.1", "1.2", "1.3"
enum { OTLP_TLS_1_0, OTLP_TLS_1_1, OTLP_TLS_1_2, OTLP_TLS_1_3 };

struct otlp_http_options {
    const char               *endpoint;                 /* host:port */
    const char               *paths[OTC_SIGNAL_COUNT];  /* /v1/traces, ... */
    uint64_t                  max_body;                 /* bytes, wire and decompressed */
    const struct otc_strlist *cors_origins;             /* may be empty */
    const struct otc_strlist *cors_headers;
    int64_t                   cors_max_age;             /* seconds, 0 = not sent */
    const struct otc_strmap  *response_headers;         /* set on every response; may be empty */
    uint64_t                  max_header;               /* request line + headers, bytes */
    int64_t                   idle_timeout_ns;          /* no bytes for this long: close */
    size_t                    max_items;                /* entries per request, 0 = no limit */
    const struct otlp_tls    *tls;                      /* NULL: plaintext */
    struct otc_instance      *auth;                     /* an authenticator (otc_auth.h), or NULL */
    const struct otc_strlist *compression;              /* Content-Encodings accepted; NULL or
                                                           empty: every one otelc decodes */
    bool                      include_metadata;         /* headers for admission gates */
};

/* Bind o->endpoint and serve on a new thread. Paths of signals without a
 * pipeline answer 404. OTC_EIO when the address cannot be bound. */
int  otlp_http_start(struct otlp_http **out, struct otc_instance *ins,
                     const struct otlp_http_options *o);
/* Stop serving and join the thread; NULL is fine. */
void otlp_http_stop(struct otlp_http *h);
/* Split "host:port", ":port" or "[v6]:port" (empty host = 0.0.0.0,
 * localhost = 127.0.0.1). OTC_EINVAL when malformed. */
int  otlp_http_parse_endpoint(const char *endpoint, char *host, size_t hostlen, int *port);

#endif
