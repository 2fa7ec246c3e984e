/* otc_auth.h - the authenticator interface (otelcol extensionauth.Server and
 * extensionauth.Client): what a receiver checks on each request and what an
 * exporter sends with each call. An extension implements it by pointing
 * ops->auth at a table of these callbacks; receivers and exporters reach it
 * only through here. Every callback must be thread-safe. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_AUTH_H
#define OTC_INCLUDE_AUTH_H

#include <stddef.h>

#include "otc_component.h"

struct otc_auth_ops {
    /* Server side; both NULL when the extension only authenticates calls it makes. */
    /* The header (gRPC metadata key) a request's credential arrives in. */
    const char *(*server_header)(const struct otc_instance *ext);
    /* OTC_OK when value (the header's value, len bytes; NULL when the header is
     * absent) is acceptable, OTC_EPERM otherwise. */
    int (*server_check)(struct otc_instance *ext, const char *value, size_t len);

    /* Client side; both NULL when the extension only checks requests. */
    /* The header (gRPC metadata key) to send the credential in. */
    const char *(*client_header)(const struct otc_instance *ext);
    /* Writes the header's current value, NUL-terminated, into out. OTC_EINVAL
     * when it does not fit (or there is none). */
    int (*client_value)(struct otc_instance *ext, char *out, size_t outlen);
};

/* The server side of ext (from otc_engine_extension), or NULL when ext is NULL
 * or checks no requests: the caller reports "not an authenticator". */
static inline const struct otc_auth_ops *otc_auth_server(const struct otc_instance *ext)
{
    const struct otc_auth_ops *a = ext ? ext->ops->auth : NULL;

    return a && a->server_header && a->server_check ? a : NULL;
}

/* The client side of ext, or NULL when ext is NULL or sends no credentials. */
static inline const struct otc_auth_ops *otc_auth_client(const struct otc_instance *ext)
{
    const struct otc_auth_ops *a = ext ? ext->ops->auth : NULL;

    return a && a->client_header && a->client_value ? a : NULL;
}

#endif
