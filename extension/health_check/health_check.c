/* health_check.c - the `health_check` extension: GET <path> answers 200 with
 * {"status":"Server available",...} only while the engine is RUNNING (every
 * pipeline started), and 503 while it starts or shuts down. The engine starts
 * extensions first and stops them last, so the endpoint covers both phases.
 * Requests are served on the extension's own libevent thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "otc/otc_httpd.h"
#include "health_check.h"

struct health_ctx {
    /* options */
    char *endpoint;
    char *path;
    char *body_healthy;
    char *body_unhealthy;
    bool    ccp_enabled;        /* check_collector_pipeline: accepted, see the table */
    int64_t ccp_interval_ns;
    int64_t ccp_threshold;
    /* runtime */
    struct otc_instance *ins;
    struct otc_httpd    *httpd;
};

#define OFF(f) offsetof(struct health_ctx, f)

static const struct otc_config_entry health_config[] = {
    {OTC_CFG_STR, "endpoint", "localhost:13133", OFF(endpoint), 0, 0, 0, NULL,
     "host:port to serve the health check on"},
    {OTC_CFG_STR, "path", "/", OFF(path), 0, 0, 0, NULL,
     "URL path of the health check"},
    {OTC_CFG_STR, "response_body.healthy", NULL, OFF(body_healthy), 0, 0, 0, NULL,
     "body of the 200 answer (default: a JSON status with upSince and uptime)"},
    {OTC_CFG_STR, "response_body.unhealthy", NULL, OFF(body_unhealthy), 0, 0, 0, NULL,
     "body of the 503 answer (default: a JSON status)"},
    {OTC_CFG_BOOL, "check_collector_pipeline.enabled", "false", OFF(ccp_enabled), 0, 0, 0, NULL,
     "accepted, no effect: otelcol documents this check as not working; otelc's answer "
     "already follows the pipelines (503 unless every one runs)"},
    {OTC_CFG_DURATION, "check_collector_pipeline.interval", "5m", OFF(ccp_interval_ns),
     OTC_CFG_F_MIN, 0, 0, NULL, "accepted, no effect (see check_collector_pipeline.enabled)"},
    {OTC_CFG_INT, "check_collector_pipeline.exporter_failure_threshold", "5", OFF(ccp_threshold),
     OTC_CFG_F_MIN, 1, 0, NULL, "accepted, no effect (see check_collector_pipeline.enabled)"},
    OTC_CFG_END,
};

static int health_validate(const void *vctx, char *err, size_t errlen)
{
    const struct health_ctx *x = vctx;
    char host[256];
    int port;

    if (!x->path || x->path[0] != '/') {
        snprintf(err, errlen, "path must start with /");
        return OTC_EINVAL;
    }
    return otc_httpd_parse_endpoint(x->endpoint, host, sizeof(host), &port, err, errlen);
}

/* RFC 3339 in UTC with nanoseconds, as Go prints time.Time. */
static void format_time(uint64_t ns, char *out, size_t n)
{
    time_t sec = (time_t)(ns / 1000000000u);
    struct tm tm;
    char base[32];

    gmtime_r(&sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%09lluZ", base, (unsigned long long)(ns % 1000000000u));
}

static void health_handle(struct evhttp_request *req, void *arg)
{
    struct health_ctx *x = arg;
    const char *uri = evhttp_request_get_uri(req);
    size_t plen = strlen(x->path);
    struct evbuffer *body;
    enum otc_engine_state st;
    uint64_t since = 0;
    bool healthy;

    if (!uri || strncmp(uri, x->path, plen) || (uri[plen] && uri[plen] != '?')) {
        evhttp_send_error(req, HTTP_NOTFOUND, NULL);
        return;
    }
    st = otc_engine_state(x->ins->engine, &since);
    healthy = st == OTC_ENGINE_RUNNING;
    body = evbuffer_new();
    if (!body) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    if (healthy && x->body_healthy) {
        evbuffer_add_printf(body, "%s", x->body_healthy);
    } else if (!healthy && x->body_unhealthy) {
        evbuffer_add_printf(body, "%s", x->body_unhealthy);
    } else if (healthy) {
        struct timespec ts;
        uint64_t now;
        char up[48];

        clock_gettime(CLOCK_REALTIME, &ts);
        now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        format_time(since, up, sizeof(up));
        evbuffer_add_printf(body, "{\"status\":\"Server available\",\"upSince\":\"%s\",\"uptime\":\"%.9gs\"}",
                            up, now > since ? (double)(now - since) / 1e9 : 0.0);
    } else {
        evbuffer_add_printf(body, "{\"status\":\"Server not available\",\"upSince\":"
                                  "\"0001-01-01T00:00:00Z\",\"uptime\":\"\"}");
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      (healthy ? x->body_healthy : x->body_unhealthy) ? "text/plain; charset=utf-8"
                                                                      : "application/json");
    evhttp_send_reply(req, healthy ? HTTP_OK : HTTP_SERVUNAVAIL,
                      healthy ? "OK" : "Service Unavailable", body);
    evbuffer_free(body);
}

static int health_start(struct otc_instance *ins, void *ctx)
{
    struct health_ctx *x = ctx;
    char err[300];
    int rc;

    x->ins = ins;
    rc = otc_httpd_start(&x->httpd, x->endpoint, health_handle, x, err, sizeof(err));
    if (rc != OTC_OK) {
        otc_log_err(ins, "%s", err);
        return rc;
    }
    otc_log_info(ins, "serving the health check at http://%s%s", x->endpoint, x->path);
    return OTC_OK;
}

static void health_shutdown(struct otc_instance *ins, void *ctx)
{
    struct health_ctx *x = ctx;

    otc_httpd_stop(x->httpd);
    x->httpd = NULL;
}

static void health_destroy(void *ctx)
{
    struct health_ctx *x = ctx;

    otc_httpd_stop(x->httpd);
    x->httpd = NULL;
}

const struct otc_component_ops otc_extension_health_check_ops = {
    .type = "health_check",
    .kind = OTC_EXTENSION,
    .signals = 0,
    .mutates = false,
    .concurrent = false,
    .ctx_size = sizeof(struct health_ctx),
    .config_map = health_config,
    .validate = health_validate,
    .init = NULL,
    .start = health_start,
    .consume = NULL,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = health_shutdown,
    .destroy = health_destroy,
    .auth = NULL,
    .storage = NULL,
};
