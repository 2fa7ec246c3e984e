/* otlp_http.h - the OTLP/HTTP server of the `otlp` receiver (libevent evhttp on
 * its own thread), and the delivery path it shares with the OTLP/gRPC side. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_RECEIVER_OTLP_HTTP_H
#define OTC_RECEIVER_OTLP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "otc/otc_component.h"
#include "otc/otc_pb_depth.h"

struct otlp_http;

/* protocols.*.tls (otelcol configtls.ServerConfig); min_version indexes
 * OTLP_TLS_VERSIONS. */
struct otlp_tls {
    char *cert_file;
    char *key_file;
    char *client_ca_file;  /* set: clients must present a certificate it signed */
    int   min_version;
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
    uint64_t                  max_header;               /* request line + headers, bytes */
    int64_t                   idle_timeout_ns;          /* no bytes for this long: close */
    size_t                    max_items;                /* entries per request, 0 = no limit */
    const struct otlp_tls    *tls;                      /* NULL: plaintext */
    struct otc_instance      *auth;                     /* bearertokenauth, or NULL */
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

/* Defined in otlp_receiver.c; both protocols hand every decoded request here.
 * Drops items with invalid ids (their count in *rejected, for partial_success),
 * then delivers to the pipelines (takes ownership of b). Returns what
 * otc_receiver_deliver returns, or OTC_OK when nothing was left to deliver. */
int otlp_receiver_accept(struct otc_instance *ins, struct otc_batch *b, size_t *rejected);
/* Defined in otlp_receiver.c: OTC_OK, or OTC_ELIMIT (the reason in why) when the
 * undecoded b holds more than max resources, scopes and items (0 = no limit). */
int otlp_receiver_check_entries(const struct otc_batch *b, size_t max, char *why, size_t whylen);

/* Defined in otlp_receiver.c: count a request refused for a missing or wrong
 * token as refused (its items found by a scan of the protobuf bytes, nothing
 * decoded); transport is OTC_TRANSPORT_*. */
void otlp_receiver_refuse_unauth(struct otc_instance *ins, enum otc_signal s, int transport,
                                 const uint8_t *pb, size_t len);

/* The partial_success message for rejected items (traces and logs). */
#define OTLP_REJECTED_WHY "invalid trace or span id length"
/* Decode refusal for requests nested past OTC_PB_MAX_DEPTH (AnyValue in AnyValue). */
#define OTLP_TOO_DEEP "messages nested more than 128 levels deep (AnyValue arrays and kvlists)"
_Static_assert(OTC_PB_MAX_DEPTH == 128, "OTLP_TOO_DEEP names the limit");

#endif
