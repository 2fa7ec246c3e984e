/* otc_httpd.h - a tiny plain-HTTP server on its own thread (libevent evhttp), for
 * the slow-path endpoints: /metrics and the health check. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_HTTPD_H
#define OTC_INCLUDE_HTTPD_H

#include <stddef.h>

struct evhttp_request;
struct otc_httpd;

/* Called on the server thread for every request; answers with evhttp_send_reply. */
typedef void (*otc_httpd_handler)(struct evhttp_request *req, void *arg);

/* Split "host:port", ":port" or "[v6]:port". An empty host becomes 0.0.0.0,
 * "localhost" becomes 127.0.0.1. OTC_EINVAL with a reason in err. */
int otc_httpd_parse_endpoint(const char *endpoint, char *host, size_t hostlen, int *port,
                             char *err, size_t errlen);
/* Bind endpoint and serve handler for every path on a new thread. */
int otc_httpd_start(struct otc_httpd **out, const char *endpoint, otc_httpd_handler handler,
                    void *arg, char *err, size_t errlen);
/* Stop the thread and close the socket; NULL is fine. */
void otc_httpd_stop(struct otc_httpd *h);

#endif
