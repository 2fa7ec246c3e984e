/* telemetry_otlp.c - the periodic readers of service.telemetry.metrics: every
 * interval the registry is walked (otc_telemetry_visit) into an
 * ExportMetricsServiceRequest, packed with protobuf-c and pushed over
 * OTLP/HTTP (http/protobuf) or OTLP/gRPC. Runs on its own thread, started and
 * stopped by the main thread; a last push is made when it stops. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "otc/otc_arena.h"
#include "telemetry.h"

typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics   ScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric         Metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistPoint;
typedef Opentelemetry__Proto__Common__V1__KeyValue        KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue        AnyValue;

#define OTLP_MAX_SCOPES 8

struct otlp_sink {
    struct otc_telemetry_sink   base;
    const struct otc_telemetry *t;
    struct otc_arena           *a;
    ScopeMetrics               *scopes[OTLP_MAX_SCOPES];
    size_t                      n_scopes;
    size_t                      metric_cap, point_cap;
    ScopeMetrics               *cur_scope;
    Metric                     *cur;
    uint64_t                    now;
    bool                        oom;
};

static void *sink_alloc(struct otlp_sink *s, size_t n)
{
    void *p = otc_arena_alloc(s->a, n);

    if (!p) {
        s->oom = true;
    } else {
        memset(p, 0, n);
    }
    return p;
}

static char *sink_strdup(struct otlp_sink *s, const char *str)
{
    char *p = otc_arena_memdup(s->a, str, strlen(str) + 1);

    if (!p) {
        s->oom = true;
    }
    return p;
}

static KeyValue *make_kv(struct otlp_sink *s, const char *k, const char *v)
{
    KeyValue *kv = sink_alloc(s, sizeof(*kv));
    AnyValue *av = sink_alloc(s, sizeof(*av));

    if (!kv || !av) {
        return NULL;
    }
    opentelemetry__proto__common__v1__key_value__init(kv);
    opentelemetry__proto__common__v1__any_value__init(av);
    kv->key = sink_strdup(s, k);
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    av->string_value = sink_strdup(s, v);
    kv->value = av;
    return s->oom ? NULL : kv;
}

static ScopeMetrics *scope_for(struct otlp_sink *s, const char *name)
{
    ScopeMetrics *sm;
    Opentelemetry__Proto__Common__V1__InstrumentationScope *scope;

    for (size_t i = 0; i < s->n_scopes; i++) {
        if (!strcmp(s->scopes[i]->scope->name, name)) {
            return s->scopes[i];
        }
    }
    if (s->n_scopes == OTLP_MAX_SCOPES) {
        return s->scopes[s->n_scopes - 1];
    }
    sm = sink_alloc(s, sizeof(*sm));
    scope = sink_alloc(s, sizeof(*scope));
    if (!sm || !scope) {
        return NULL;
    }
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
    scope->name = sink_strdup(s, name);
    scope->version = sink_strdup(s, OTC_SERVICE_VERSION);
    sm->scope = scope;
    sm->metrics = sink_alloc(s, s->metric_cap * sizeof(*sm->metrics));
    if (s->oom) {
        return NULL;
    }
    s->scopes[s->n_scopes++] = sm;
    return sm;
}

static void otlp_begin(struct otc_telemetry_sink *base, const struct otc_telemetry_family *f)
{
    struct otlp_sink *s = (struct otlp_sink *)base;
    ScopeMetrics *sm = scope_for(s, f->scope);
    Metric *m = sink_alloc(s, sizeof(*m));

    s->cur = NULL;
    if (!sm || !m || sm->n_metrics == s->metric_cap) {
        return;
    }
    opentelemetry__proto__metrics__v1__metric__init(m);
    m->name = sink_strdup(s, f->name);
    m->description = sink_strdup(s, f->help);
    m->unit = sink_strdup(s, f->unit);
    if (f->kind == OTC_METRIC_HISTOGRAM) {
        Opentelemetry__Proto__Metrics__V1__Histogram *h = sink_alloc(s, sizeof(*h));
        if (!h) {
            return;
        }
        opentelemetry__proto__metrics__v1__histogram__init(h);
        h->aggregation_temporality =
            OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
        h->data_points = sink_alloc(s, s->point_cap * sizeof(*h->data_points));
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
        m->histogram = h;
    } else if (f->kind == OTC_METRIC_COUNTER) {
        Opentelemetry__Proto__Metrics__V1__Sum *sum = sink_alloc(s, sizeof(*sum));
        if (!sum) {
            return;
        }
        opentelemetry__proto__metrics__v1__sum__init(sum);
        sum->aggregation_temporality =
            OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
        sum->is_monotonic = 1;
        sum->data_points = sink_alloc(s, s->point_cap * sizeof(*sum->data_points));
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
        m->sum = sum;
    } else {
        Opentelemetry__Proto__Metrics__V1__Gauge *g = sink_alloc(s, sizeof(*g));
        if (!g) {
            return;
        }
        opentelemetry__proto__metrics__v1__gauge__init(g);
        g->data_points = sink_alloc(s, s->point_cap * sizeof(*g->data_points));
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        m->gauge = g;
    }
    if (!s->oom) {
        s->cur = m;
        s->cur_scope = sm;
    }
}

static KeyValue **point_attrs(struct otlp_sink *s, const struct otc_telemetry_label *l, size_t n)
{
    KeyValue **kv = sink_alloc(s, (n ? n : 1) * sizeof(*kv));

    for (size_t i = 0; kv && i < n; i++) {
        kv[i] = make_kv(s, l[i].key, l[i].value);
    }
    return s->oom ? NULL : kv;
}

static void otlp_point(struct otc_telemetry_sink *base, const struct otc_telemetry_family *f,
                       const struct otc_telemetry_label *l, size_t n, double v,
                       const struct otc_telemetry_hist *h)
{
    struct otlp_sink *s = (struct otlp_sink *)base;
    Metric *m = s->cur;

    if (!m) {
        return;
    }
    if (h) {
        HistPoint *p = sink_alloc(s, sizeof(*p));
        if (!p || m->histogram->n_data_points == s->point_cap) {
            return;
        }
        opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
        p->attributes = point_attrs(s, l, n);
        p->n_attributes = p->attributes ? n : 0;
        p->start_time_unix_nano = s->t->start_unix_ns;
        p->time_unix_nano = s->now;
        p->count = h->count;
        p->sum__case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__SUM__SUM;
        p->sum = h->sum;
        p->bucket_counts = sink_alloc(s, (h->n_bounds + 1) * sizeof(uint64_t));
        p->explicit_bounds = sink_alloc(s, (h->n_bounds ? h->n_bounds : 1) * sizeof(double));
        if (s->oom) {
            return;
        }
        memcpy(p->bucket_counts, h->buckets, (h->n_bounds + 1) * sizeof(uint64_t));
        memcpy(p->explicit_bounds, h->bounds, h->n_bounds * sizeof(double));
        p->n_bucket_counts = h->n_bounds + 1;
        p->n_explicit_bounds = h->n_bounds;
        m->histogram->data_points[m->histogram->n_data_points++] = p;
        return;
    }
    {
        NumberPoint *p = sink_alloc(s, sizeof(*p));
        bool sum = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
        size_t *np = sum ? &m->sum->n_data_points : &m->gauge->n_data_points;
        NumberPoint **pts = sum ? m->sum->data_points : m->gauge->data_points;

        if (!p || *np == s->point_cap) {
            return;
        }
        opentelemetry__proto__metrics__v1__number_data_point__init(p);
        p->attributes = point_attrs(s, l, n);
        p->n_attributes = p->attributes ? n : 0;
        p->start_time_unix_nano = s->t->start_unix_ns;
        p->time_unix_nano = s->now;
        if (!strcmp(f->unit, "s")) {
            p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
            p->as_double = v;
        } else {
            p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
            p->as_int = (int64_t)v;
        }
        pts[(*np)++] = p;
    }
}

static void otlp_end(struct otc_telemetry_sink *base, const struct otc_telemetry_family *f)
{
    struct otlp_sink *s = (struct otlp_sink *)base;
    Metric *m = s->cur;
    size_t n;

    (void)f;
    if (!m) {
        return;
    }
    n = m->histogram && m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM
            ? m->histogram->n_data_points
        : m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM ? m->sum->n_data_points
                                                                             : m->gauge->n_data_points;
    if (n) { /* a family without series is left out, as in /metrics */
        s->cur_scope->metrics[s->cur_scope->n_metrics++] = m;
    }
    s->cur = NULL;
}

int otc_telemetry_otlp_encode(const struct otc_telemetry *t, struct otc_buf *out)
{
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm =
        OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rms[1] = {&rm};
    struct otc_arena a;
    struct otlp_sink s = {{otlp_begin, otlp_point, otlp_end}, t, &a, {0}, 0, 0, 0, NULL, NULL, 0, false};
    struct timespec ts;
    size_t metrics = 64, len;
    uint8_t *buf;
    int rc = OTC_OK;

    otc_arena_init(&a, 16384);
    for (size_t i = 0; i < t->n_src; i++) {
        for (const struct otc_metric *m = atomic_load(&t->src[i].counters->metrics); m; m = m->next) {
            metrics++;
        }
    }
    s.metric_cap = metrics;
    s.point_cap = 6 * t->n_src + 2;
    clock_gettime(CLOCK_REALTIME, &ts);
    s.now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    otc_telemetry_visit(t, &s.base);
    res.attributes = sink_alloc(&s, (t->resource.n ? t->resource.n : 1) * sizeof(*res.attributes));
    for (size_t i = 0; res.attributes && i < t->resource.n; i++) {
        res.attributes[i] = make_kv(&s, t->resource.keys[i], t->resource.vals[i]);
    }
    res.n_attributes = t->resource.n;
    rm.resource = &res;
    rm.scope_metrics = s.scopes;
    rm.n_scope_metrics = s.n_scopes;
    req.resource_metrics = rms;
    req.n_resource_metrics = 1;
    if (s.oom) {
        rc = OTC_ENOMEM;
    } else {
        len = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(&req);
        buf = malloc(len ? len : 1);
        if (!buf) {
            rc = OTC_ENOMEM;
        } else {
            opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(&req, buf);
            otc_buf_add(out, buf, len);
            free(buf);
            rc = out->oom ? OTC_ENOMEM : OTC_OK;
        }
    }
    otc_arena_release(&a);
    return rc;
}

/* ------------------------------------------------------------- transports */

static int http_push(const struct otc_telemetry_periodic *r, const struct otc_buf *body, char *err,
                     size_t errlen)
{
    struct addrinfo hints = {0}, *ai = NULL, *p;
    struct timeval tv = {(time_t)(r->timeout_ns / 1000000000), (long)(r->timeout_ns % 1000000000 / 1000)};
    char port[16], status[64];
    struct otc_buf head;
    int fd = -1, rc, code = 0;
    ssize_t got;

    snprintf(port, sizeof(port), "%d", r->port);
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(r->host, port, &hints, &ai)) != 0) {
        snprintf(err, errlen, "%s: %s", r->host, gai_strerror(rc));
        return OTC_EIO;
    }
    for (p = ai; p; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) {
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, p->ai_addr, p->ai_addrlen) == 0) {
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s:%d: %s", r->host, r->port, strerror(errno));
        return OTC_EIO;
    }
    otc_buf_init(&head);
    otc_buf_addf(&head, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: otelc/" OTC_SERVICE_VERSION
                        "\r\nContent-Type: application/x-protobuf\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n", r->path, r->host, r->port, body->len);
    for (size_t i = 0; i < r->headers.n; i++) {
        otc_buf_addf(&head, "%s: %s\r\n", r->headers.keys[i], r->headers.vals[i]);
    }
    otc_buf_adds(&head, "\r\n");
    otc_buf_add(&head, body->data, body->len);
    rc = OTC_OK;
    for (size_t off = 0; off < head.len;) {
        ssize_t w = send(fd, head.data + off, head.len - off, MSG_NOSIGNAL);
        if (w <= 0) {
            snprintf(err, errlen, "sending to %s:%d: %s", r->host, r->port, strerror(errno));
            rc = OTC_EIO;
            break;
        }
        off += (size_t)w;
    }
    otc_buf_free(&head);
    if (rc == OTC_OK) {
        got = recv(fd, status, sizeof(status) - 1, 0);
        status[got > 0 ? got : 0] = '\0';
        if (got <= 0 || sscanf(status, "HTTP/1.%*d %d", &code) != 1) {
            snprintf(err, errlen, "no answer from %s:%d", r->host, r->port);
            rc = OTC_EIO;
        } else if (code < 200 || code > 299) {
            snprintf(err, errlen, "%s:%d%s answered HTTP %d", r->host, r->port, r->path, code);
            rc = OTC_EIO;
        }
    }
    close(fd);
    return rc;
}

static int grpc_push(const struct otc_telemetry_periodic *r, const struct otc_buf *body, char *err,
                     size_t errlen)
{
    static const char method[] = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    char target[300];
    grpc_channel *ch;
    grpc_call *call;
    grpc_slice slice = grpc_slice_from_copied_buffer(body->data, body->len);
    grpc_slice mslice = grpc_slice_from_static_string(method);
    grpc_byte_buffer *req = grpc_raw_byte_buffer_create(&slice, 1), *resp = NULL;
    grpc_metadata_array initial, trailing;
    grpc_metadata md[16];
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_nanos(r->timeout_ns, GPR_TIMESPAN));
    size_t n_md = 0;
    int rc = OTC_OK;

    snprintf(target, sizeof(target), strchr(r->host, ':') ? "[%s]:%d" : "%s:%d", r->host, r->port);
    ch = grpc_channel_create(target, creds, NULL);
    grpc_channel_credentials_release(creds);
    call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, mslice, NULL, deadline, NULL);
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    for (size_t i = 0; i < r->headers.n && n_md < 16; i++, n_md++) {
        md[n_md].key = grpc_slice_from_static_string(r->headers.keys[i]);
        md[n_md].value = grpc_slice_from_static_string(r->headers.vals[i]);
    }
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = n_md;
    ops[0].data.send_initial_metadata.metadata = md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    if (grpc_call_start_batch(call, ops, 6, call, NULL) != GRPC_CALL_OK) {
        snprintf(err, errlen, "the call to %s could not be started", target);
        rc = OTC_EIO;
    } else {
        grpc_completion_queue_pluck(cq, call, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (status != GRPC_STATUS_OK) {
            char *msg = grpc_slice_to_c_string(details);
            snprintf(err, errlen, "%s answered gRPC status %d: %s", target, (int)status, msg);
            gpr_free(msg);
            rc = OTC_EIO;
        }
    }
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
    grpc_channel_destroy(ch);
    grpc_byte_buffer_destroy(req);
    if (resp) {
        grpc_byte_buffer_destroy(resp);
    }
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_slice_unref(details);
    grpc_slice_unref(slice);
    return rc;
}

int otc_telemetry_otlp_push(const struct otc_telemetry *t, const struct otc_telemetry_periodic *r,
                            char *err, size_t errlen)
{
    struct otc_buf body;
    int rc;

    otc_buf_init(&body);
    rc = otc_telemetry_otlp_encode(t, &body);
    if (rc == OTC_OK) {
        rc = r->protocol == OTC_TELEMETRY_HTTP ? http_push(r, &body, err, errlen)
                                               : grpc_push(r, &body, err, errlen);
    } else {
        snprintf(err, errlen, "%s", otc_strerror(rc));
    }
    otc_buf_free(&body);
    return rc;
}

/* ------------------------------------------------------------- the thread */

static void push_all_due(struct otc_telemetry *t, bool all)
{
    uint64_t now = otc_now_ns();

    for (size_t i = 0; i < t->n_periodic; i++) {
        struct otc_telemetry_periodic *r = &t->periodic[i];
        char err[300];

        if (!all && r->next_ns > now) {
            continue;
        }
        r->next_ns = now + (uint64_t)r->interval_ns;
        if (otc_telemetry_otlp_push(t, r, err, sizeof(err)) != OTC_OK) {
            otc_log_warn(NULL, "telemetry: pushing the collector's metrics failed: %s", err);
        }
    }
}

static void *push_loop(void *arg)
{
    struct otc_telemetry *t = arg;

    pthread_setname_np(pthread_self(), "telemetry");
    pthread_mutex_lock(&t->push_mu);
    while (!t->push_stop) {
        uint64_t next = UINT64_MAX, now = otc_now_ns();
        struct timespec ts;

        for (size_t i = 0; i < t->n_periodic; i++) {
            if (t->periodic[i].next_ns < next) {
                next = t->periodic[i].next_ns;
            }
        }
        if (next > now) {
            uint64_t wait = next - now;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += (time_t)(wait / 1000000000u);
            ts.tv_nsec += (long)(wait % 1000000000u);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&t->push_cv, &t->push_mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&t->push_mu);
        push_all_due(t, false);
        pthread_mutex_lock(&t->push_mu);
    }
    pthread_mutex_unlock(&t->push_mu);
    push_all_due(t, true); /* as otelcol's reader does at shutdown */
    return NULL;
}

int otc_telemetry_push_start(struct otc_telemetry *t)
{
    pthread_condattr_t ca;
    uint64_t now = otc_now_ns();

    if (t->push_started || !t->n_periodic) {
        return OTC_OK;
    }
    for (size_t i = 0; i < t->n_periodic; i++) {
        t->periodic[i].next_ns = now + (uint64_t)t->periodic[i].interval_ns;
    }
    pthread_mutex_init(&t->push_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->push_cv, &ca);
    pthread_condattr_destroy(&ca);
    t->push_stop = false;
    if (pthread_create(&t->push_thread, NULL, push_loop, t) != 0) {
        pthread_cond_destroy(&t->push_cv);
        pthread_mutex_destroy(&t->push_mu);
        return OTC_ENOMEM;
    }
    t->push_started = true;
    otc_log_info(NULL, "telemetry: pushing the collector's metrics to %zu periodic reader%s",
                 t->n_periodic, t->n_periodic == 1 ? "" : "s");
    return OTC_OK;
}

void otc_telemetry_push_stop(struct otc_telemetry *t)
{
    if (!t->push_started) {
        return;
    }
    pthread_mutex_lock(&t->push_mu);
    t->push_stop = true;
    pthread_cond_signal(&t->push_cv);
    pthread_mutex_unlock(&t->push_mu);
    pthread_join(t->push_thread, NULL);
    pthread_cond_destroy(&t->push_cv);
    pthread_mutex_destroy(&t->push_mu);
    t->push_started = false;
}
