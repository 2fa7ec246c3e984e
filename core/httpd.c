/* httpd.c - a tiny plain-HTTP server: one event_base and evhttp per server,
 * run by its own thread; started and stopped on the main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_httpd.h"
#include "otc/otc_rc.h"

struct otc_httpd {
    struct event_base *base;
    struct evhttp     *http;
    pthread_t          thread;
    bool               thread_started;
};

static pthread_once_t httpd_once = PTHREAD_ONCE_INIT;

static void httpd_threads_init(void)
{
    evthread_use_pthreads(); /* event_base_loopbreak from the main thread */
}

int otc_httpd_parse_endpoint(const char *endpoint, char *host, size_t hostlen, int *port,
                             char *err, size_t errlen)
{
    const char *colon, *h = endpoint;
    size_t hl;
    char *end;
    long p;

    colon = endpoint ? strrchr(endpoint, ':') : NULL;
    if (!colon) {
        snprintf(err, errlen, "endpoint \"%s\" must be host:port", endpoint ? endpoint : "");
        return OTC_EINVAL;
    }
    hl = (size_t)(colon - endpoint);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535) {
        snprintf(err, errlen, "endpoint \"%s\": bad port", endpoint);
        return OTC_EINVAL;
    }
    if (hl == 0) {
        snprintf(host, hostlen, "0.0.0.0");
    } else if (hl == 9 && !strncmp(h, "localhost", 9)) {
        snprintf(host, hostlen, "127.0.0.1");
    } else if (hl < hostlen) {
        memcpy(host, h, hl);
        host[hl] = '\0';
    } else {
        snprintf(err, errlen, "endpoint \"%s\": host too long", endpoint);
        return OTC_EINVAL;
    }
    *port = (int)p;
    return OTC_OK;
}

static void *httpd_loop(void *arg)
{
    struct otc_httpd *h = arg;

    event_base_dispatch(h->base);
    return NULL;
}

static void httpd_free(struct otc_httpd *h)
{
    if (h->http) {
        evhttp_free(h->http);
    }
    if (h->base) {
        event_base_free(h->base);
    }
    free(h);
}

int otc_httpd_start(struct otc_httpd **out, const char *endpoint, otc_httpd_handler handler,
                    void *arg, char *err, size_t errlen)
{
    struct otc_httpd *h;
    char host[256];
    int port;

    *out = NULL;
    if (otc_httpd_parse_endpoint(endpoint, host, sizeof(host), &port, err, errlen) != OTC_OK) {
        return OTC_EINVAL;
    }
    pthread_once(&httpd_once, httpd_threads_init);
    h = calloc(1, sizeof(*h));
    if (!h || !(h->base = event_base_new()) || !(h->http = evhttp_new(h->base))) {
        snprintf(err, errlen, "out of memory");
        if (h) {
            httpd_free(h);
        }
        return OTC_ENOMEM;
    }
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_timeout(h->http, 10);
    evhttp_set_gencb(h->http, handler, arg);
    if (evhttp_bind_socket(h->http, host, (ev_uint16_t)port) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %m", endpoint);
        httpd_free(h);
        return OTC_EIO;
    }
    if (pthread_create(&h->thread, NULL, httpd_loop, h) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        httpd_free(h);
        return OTC_ENOMEM;
    }
    h->thread_started = true;
    *out = h;
    return OTC_OK;
}

void otc_httpd_stop(struct otc_httpd *h)
{
    if (!h) {
        return;
    }
    if (h->thread_started) {
        event_base_loopbreak(h->base);
        pthread_join(h->thread, NULL);
    }
    httpd_free(h);
}
