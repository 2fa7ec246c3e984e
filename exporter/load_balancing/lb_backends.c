/* lb_backends.c - the load_balancing exporter's backends: one otlp exporter
 * per endpoint, configured from protocol.otlp; immutable backend sets, each
 * with its ring, swapped when the resolver's answer changes; the static and
 * dns resolvers. Sets are built on the main thread (start) and the resolver
 * thread; exporter threads take references to the current one. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lb_internal.h"

#define LB_DEFAULT_PORT "4317"
#define LB_MAX_BACKENDS 4096

/* ------------------------------------------------------- protocol.otlp */

static bool is_helper_key(const char *key)
{
    return !strncmp(key, "retry_on_failure", 16) || !strncmp(key, "sending_queue", 13) ||
           !strcmp(key, "timeout");
}

/* Apply the mapping t (found at dotted key path below protocol.otlp) to ctx
 * through map, as the engine applies a component's YAML. */
static int apply_tree(const struct otc_config_entry *map, void *ctx, const struct otc_cfg_tree *t,
                      const char *path, int64_t *timeout_ns, char *err, size_t errlen)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct otc_cfg_tree *c = &t->items[i];
        const struct otc_config_entry *e;
        char key[256], why[200];

        if ((size_t)snprintf(key, sizeof(key), "%s%s%s", path, *path ? "." : "", c->key) >= sizeof(key)) {
            snprintf(err, errlen, "protocol.otlp.%.60s...: key too long", key);
            return OTC_EINVAL;
        }
        if (is_helper_key(key)) {
            /* the exporter helper's options of the otlp exporter: timeout is
             * the per-backend call's; the queue and the retries are the
             * load_balancing exporter's own (top level), where data can be re-routed */
            if (!strcmp(key, "timeout") && c->kind == OTC_TREE_SCALAR &&
                otc_parse_duration(c->scalar, timeout_ns) != OTC_OK) {
                snprintf(err, errlen, "protocol.otlp.timeout (line %u): not a duration: \"%s\"", c->line,
                         c->scalar);
                return OTC_EINVAL;
            }
            continue;
        }
        e = otc_config_map_find(map, key);
        if (!e) {
            if (otc_config_map_is_section(map, key) && (c->kind == OTC_TREE_MAP || c->kind == OTC_TREE_NULL)) {
                int rc = apply_tree(map, ctx, c, key, timeout_ns, err, errlen);
                if (rc != OTC_OK) {
                    return rc;
                }
                continue;
            }
            snprintf(err, errlen, "protocol.otlp.%s (line %u): unknown key", key, c->line);
            return OTC_EINVAL;
        }
        if (c->kind == OTC_TREE_NULL) {
            continue; /* an empty value keeps the default */
        }
        switch (e->type) {
        case OTC_CFG_STRMAP: {
            struct otc_strmap *m = (struct otc_strmap *)((char *)ctx + e->offset);
            if (c->kind != OTC_TREE_MAP) {
                snprintf(err, errlen, "protocol.otlp.%s (line %u): expected a mapping", key, c->line);
                return OTC_EINVAL;
            }
            for (size_t k = 0; k < c->n; k++) {
                if (c->items[k].kind != OTC_TREE_SCALAR) {
                    snprintf(err, errlen, "protocol.otlp.%s (line %u): every entry must map a string to "
                             "a string", key, c->items[k].line);
                    return OTC_EINVAL;
                }
                if (otc_strmap_put(m, c->items[k].key, c->items[k].scalar) != OTC_OK) {
                    return OTC_ENOMEM;
                }
            }
            break;
        }
        case OTC_CFG_STRLIST: {
            struct otc_strlist *l = (struct otc_strlist *)((char *)ctx + e->offset);
            char **v;
            if (c->kind != OTC_TREE_SEQ) {
                snprintf(err, errlen, "protocol.otlp.%s (line %u): expected a sequence", key, c->line);
                return OTC_EINVAL;
            }
            if (!(v = realloc(l->v, (l->n + c->n) * sizeof(*v) + 1))) {
                return OTC_ENOMEM;
            }
            l->v = v;
            for (size_t k = 0; k < c->n; k++) {
                if (c->items[k].kind != OTC_TREE_SCALAR || !(l->v[l->n] = strdup(c->items[k].scalar))) {
                    snprintf(err, errlen, "protocol.otlp.%s (line %u): every item must be a string", key,
                             c->items[k].line);
                    return OTC_EINVAL;
                }
                l->n++;
            }
            break;
        }
        case OTC_CFG_SECTION:
            *(bool *)((char *)ctx + e->offset) = true;
            if (c->kind == OTC_TREE_MAP) {
                int rc = apply_tree(map, ctx, c, key, timeout_ns, err, errlen);
                if (rc != OTC_OK) {
                    return rc;
                }
            }
            break;
        case OTC_CFG_NODE:
        case OTC_CFG_TREE:
        case OTC_CFG_LIST:
        case OTC_CFG_ANY:
            snprintf(err, errlen, "protocol.otlp.%s (line %u): not supported under load_balancing", key,
                     c->line);
            return OTC_EINVAL;
        default:
            if (c->kind != OTC_TREE_SCALAR) {
                snprintf(err, errlen, "protocol.otlp.%s (line %u): expected a scalar", key, c->line);
                return OTC_EINVAL;
            }
            if (otc_config_map_set(e, ctx, c->scalar, why, sizeof(why)) != OTC_OK) {
                snprintf(err, errlen, "protocol.otlp.%s (line %u): %s", key, c->line, why);
                return OTC_EINVAL;
            }
        }
    }
    return OTC_OK;
}

int lb_otlp_config(const struct lb_ctx *lb, void *ctx, const char *endpoint, int64_t *timeout_ns,
                   char *err, size_t errlen)
{
    const struct otc_config_entry *map = lb->otlp->config_map;
    int64_t timeout = 0;
    int rc;

    if ((rc = otc_config_map_defaults(map, ctx)) != OTC_OK) {
        return rc;
    }
    if (lb->otlp_cfg && lb->otlp_cfg->kind == OTC_TREE_MAP &&
        (rc = apply_tree(map, ctx, lb->otlp_cfg, "", &timeout, err, errlen)) != OTC_OK) {
        return rc;
    }
    if (lb->otlp_cfg && lb->otlp_cfg->kind != OTC_TREE_MAP && lb->otlp_cfg->kind != OTC_TREE_NULL) {
        snprintf(err, errlen, "protocol.otlp (line %u): expected a mapping", lb->otlp_cfg->line);
        return OTC_EINVAL;
    }
    /* the endpoint is the backend's, whatever protocol.otlp says (as in otelcol) */
    if ((rc = otc_config_map_set(otc_config_map_find(map, "endpoint"), ctx, endpoint, err, errlen)) != OTC_OK) {
        return rc;
    }
    if (lb->otlp->validate && (rc = lb->otlp->validate(ctx, err, errlen)) != OTC_OK) {
        char why[200];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "protocol.otlp: %s", why);
        return rc;
    }
    if (timeout_ns) {
        *timeout_ns = timeout;
    }
    return OTC_OK;
}

/* ------------------------------------------------------------- backends */

/* The backend_outcome series of endpoint, made and registered on first use. */
static struct lb_stats *stats_for(struct lb_ctx *lb, const char *endpoint)
{
    struct lb_stats *st;

    for (st = lb->stats; st; st = st->next) {
        if (!strcmp(st->endpoint, endpoint)) {
            return st;
        }
    }
    if (!(st = calloc(1, sizeof(*st))) || !(st->endpoint = strdup(endpoint))) {
        free(st);
        return NULL;
    }
    for (int ok = 0; ok < 2; ok++) {
        struct otc_metric *m = &st->outcome[ok];
        m->name = "otelcol_loadbalancer_backend_outcome";
        m->unit = "{decisions}";
        m->help = "Number of successes and failures for each endpoint.";
        m->kind = OTC_METRIC_COUNTER;
        m->label_keys[0] = "endpoint";
        m->label_values[0] = st->endpoint;
        m->label_keys[1] = "success";
        m->label_values[1] = ok ? "true" : "false";
        m->n_labels = 2;
        otc_metric_register(lb->ins, m);
    }
    st->next = lb->stats;
    lb->stats = st;
    return st;
}

void lb_stats_free(struct lb_ctx *lb)
{
    while (lb->stats) {
        struct lb_stats *st = lb->stats;
        lb->stats = st->next;
        free(st->endpoint);
        free(st);
    }
}

static void backend_free(struct lb_backend *b)
{
    const struct otc_component_ops *ops = b->sub.ops;

    if (b->sub.ctx) {
        if (ops->shutdown) {
            ops->shutdown(&b->sub, b->sub.ctx);
        }
        if (ops->destroy) {
            ops->destroy(b->sub.ctx);
        }
        otc_config_map_free(ops->config_map, b->sub.ctx);
        free(b->sub.ctx);
    }
    free(b->sub.id);
    free(b->endpoint);
    free(b);
}

static void backend_put(struct lb_backend *b)
{
    if (atomic_fetch_sub(&b->refs, 1) == 1) {
        backend_free(b);
    }
}

/* A backend for endpoint: its otlp exporter configured and started. A start
 * that fails leaves it in the ring unstarted: its share is retried (the
 * helper's retry_on_failure) and logged, as a backend that is down. */
static struct lb_backend *backend_new(struct lb_ctx *lb, const char *endpoint)
{
    struct lb_backend *b = calloc(1, sizeof(*b));
    char dial[300], err[256] = "";
    int rc;

    if (!b || !(b->endpoint = strdup(endpoint))) {
        free(b);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    /* otelcol adds the default port to an endpoint without one (not to the
     * string the ring hashes) */
    snprintf(dial, sizeof(dial), "%s%s", endpoint, strchr(endpoint, ':') ? "" : ":" LB_DEFAULT_PORT);
    b->sub.ops = lb->otlp;
    b->sub.engine = lb->ins->engine;
    b->sub.timeout_ns = lb->otlp_timeout_ns > 0 ? lb->otlp_timeout_ns : lb->ins->timeout_ns;
    b->stats = stats_for(lb, endpoint);
    if (asprintf(&b->sub.id, "%s[%s]", lb->ins->id, endpoint) < 0) {
        b->sub.id = NULL;
        backend_free(b);
        return NULL;
    }
    if (!(b->sub.ctx = calloc(1, lb->otlp->ctx_size))) {
        backend_free(b);
        return NULL;
    }
    rc = lb_otlp_config(lb, b->sub.ctx, dial, NULL, err, sizeof(err));
    if (rc == OTC_OK && lb->otlp->init) {
        rc = lb->otlp->init(&b->sub, b->sub.ctx);
    }
    if (rc == OTC_OK && lb->otlp->start) {
        rc = lb->otlp->start(&b->sub, b->sub.ctx);
    }
    b->started = rc == OTC_OK;
    if (!b->started) {
        otc_log_err(lb->ins, "backend %s: cannot start its otlp exporter: %s", endpoint,
                    err[0] ? err : otc_strerror(rc));
    }
    return b;
}

/* ------------------------------------------------------------------ sets */

struct lb_set *lb_set_get(struct lb_ctx *lb)
{
    struct lb_set *s;

    pthread_mutex_lock(&lb->set_lock);
    if ((s = lb->cur)) {
        atomic_fetch_add(&s->refs, 1);
    }
    pthread_mutex_unlock(&lb->set_lock);
    return s;
}

void lb_set_put(struct lb_set *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        for (size_t i = 0; i < s->n; i++) {
            backend_put(s->b[i]);
        }
        free(s->b);
        free(s);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* True when the current set lists exactly eps (sorted). */
static bool set_same(struct lb_ctx *lb, char **eps, size_t n)
{
    struct lb_set *s = lb_set_get(lb);
    bool same = s && s->n == n;

    for (size_t i = 0; same && i < n; i++) {
        same = !strcmp(s->b[i]->endpoint, eps[i]);
    }
    lb_set_put(s);
    return same;
}

/* Make eps (sorted) the current set: backends the current set has are
 * kept, new ones started. The old set goes once its last user lets go; a
 * backend that left is shut down then. Main or resolver thread. */
static int set_publish(struct lb_ctx *lb, char **eps, size_t n)
{
    struct lb_set *s = calloc(1, sizeof(*s)), *old = lb_set_get(lb);
    int rc = OTC_ENOMEM;

    if (!s || (n && !(s->b = calloc(n, sizeof(*s->b))))) {
        goto err;
    }
    atomic_init(&s->refs, 1);
    for (size_t i = 0; i < n; i++) {
        struct lb_backend *b = NULL;

        for (size_t k = 0; old && k < old->n && !b; k++) {
            if (!strcmp(old->b[k]->endpoint, eps[i])) {
                b = old->b[k];
                atomic_fetch_add(&b->refs, 1);
            }
        }
        if (!b && !(b = backend_new(lb, eps[i]))) {
            goto err;
        }
        s->b[s->n++] = b;
    }
    if ((rc = lb_ring_build(&s->ring, (const char *const *)eps, n)) != OTC_OK) {
        goto err;
    }
    pthread_mutex_lock(&lb->set_lock);
    lb_set_put(lb->cur);
    lb->cur = s;
    pthread_mutex_unlock(&lb->set_lock);
    lb_set_put(old);
    otc_metric_set(&lb->num_backends, (int64_t)n);
    otc_metric_add(&lb->updates, 1);
    return OTC_OK;
err:
    lb_set_put(s);
    lb_set_put(old);
    return rc;
}

/* ---------------------------------------------------------------- static */

static int static_start(struct lb_ctx *lb)
{
    char **eps = malloc((lb->hostnames.n + 1) * sizeof(*eps));
    int rc;

    if (!eps) {
        return OTC_ENOMEM;
    }
    memcpy(eps, lb->hostnames.v, lb->hostnames.n * sizeof(*eps));
    qsort(eps, lb->hostnames.n, sizeof(*eps), cmp_str);
    rc = set_publish(lb, eps, lb->hostnames.n);
    free(eps);
    otc_metric_add(&lb->resolutions[rc == OTC_OK], 1);
    return rc;
}

/* ------------------------------------------------------------------- dns */

/* One getaddrinfo, given up on after the resolver's timeout: it runs on a
 * thread of its own, which frees the lookup when the waiter has gone. */
struct lookup {
    pthread_mutex_t  lock;
    pthread_cond_t   done_cv;
    bool             done;
    int              refs;
    int              rc;
    char            *host;
    struct addrinfo *res;
};

static void lookup_put(struct lookup *q)
{
    bool last;

    pthread_mutex_lock(&q->lock);
    last = --q->refs == 0;
    pthread_mutex_unlock(&q->lock);
    if (last) {
        if (q->res) {
            freeaddrinfo(q->res);
        }
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->done_cv);
        free(q->host);
        free(q);
    }
}

static void *lookup_main(void *arg)
{
    struct lookup *q = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(q->host, NULL, &hints, &res);

    pthread_mutex_lock(&q->lock);
    q->rc = rc;
    q->res = res;
    q->done = true;
    pthread_cond_signal(&q->done_cv);
    pthread_mutex_unlock(&q->lock);
    lookup_put(q);
    return NULL;
}

/* The addresses of the dns resolver's hostname as otelcol writes them
 * ("ip:port", "[ipv6]:port"), sorted, in *out (n of them); false when the
 * lookup failed or timed out (why says how). */
static bool dns_lookup(struct lb_ctx *lb, char ***out, size_t *n, char *why, size_t whylen)
{
    struct lookup *q = calloc(1, sizeof(*q));
    struct timespec until;
    pthread_t t;
    pthread_attr_t attr;
    char **eps = NULL;
    size_t cnt = 0;
    bool ok = false;

    *out = NULL;
    *n = 0;
    if (!q || !(q->host = strdup(lb->dns_hostname))) {
        free(q);
        snprintf(why, whylen, "out of memory");
        return false;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->done_cv, NULL);
    q->refs = 2;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, lookup_main, q) != 0) {
        pthread_attr_destroy(&attr);
        q->refs = 1;
        lookup_put(q);
        snprintf(why, whylen, "cannot start a lookup thread");
        return false;
    }
    pthread_attr_destroy(&attr);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += lb->dns_timeout / 1000000000;
    until.tv_nsec += lb->dns_timeout % 1000000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&q->lock);
    while (!q->done && pthread_cond_timedwait(&q->done_cv, &q->lock, &until) != ETIMEDOUT) {
    }
    if (!q->done) {
        snprintf(why, whylen, "no answer within %.3fs", (double)lb->dns_timeout / 1e9);
    } else if (q->rc != 0) {
        snprintf(why, whylen, "%s", gai_strerror(q->rc));
    } else {
        size_t cap = 0;
        ok = true;
        for (struct addrinfo *a = q->res; a && ok; a = a->ai_next) {
            char ip[INET6_ADDRSTRLEN], ep[INET6_ADDRSTRLEN + 64];
            const void *addr = a->ai_family == AF_INET
                                   ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                   : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
            bool dup = false;

            if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
                !inet_ntop(a->ai_family, addr, ip, sizeof(ip))) {
                continue;
            }
            snprintf(ep, sizeof(ep), a->ai_family == AF_INET ? "%s%s%s" : "[%s]%s%s", ip,
                     lb->dns_port && *lb->dns_port ? ":" : "", lb->dns_port ? lb->dns_port : "");
            for (size_t i = 0; i < cnt && !dup; i++) {
                dup = !strcmp(eps[i], ep);
            }
            if (dup || cnt >= LB_MAX_BACKENDS) {
                continue;
            }
            if (cnt == cap) {
                char **g = realloc(eps, (cap = cap ? cap * 2 : 8) * sizeof(*eps));
                if (!g) {
                    ok = false;
                    break;
                }
                eps = g;
            }
            if (!(eps[cnt] = strdup(ep))) {
                ok = false;
                break;
            }
            cnt++;
        }
        if (!ok) {
            snprintf(why, whylen, "out of memory");
        } else if (cnt == 0) {
            ok = false;
            snprintf(why, whylen, "no addresses");
        }
    }
    pthread_mutex_unlock(&q->lock);
    lookup_put(q);
    if (!ok) {
        for (size_t i = 0; i < cnt; i++) {
            free(eps[i]);
        }
        free(eps);
        return false;
    }
    qsort(eps, cnt, sizeof(*eps), cmp_str);
    *out = eps;
    *n = cnt;
    return true;
}

/* One resolution: a new set when the answer changed; a failure keeps the
 * last good set (as otelcol does). Logged when the outcome changes. */
static void dns_resolve(struct lb_ctx *lb, bool *failing)
{
    char **eps;
    size_t n;
    char why[160];

    if (!dns_lookup(lb, &eps, &n, why, sizeof(why))) {
        otc_metric_add(&lb->resolutions[0], 1);
        if (!*failing) {
            otc_log_warn(lb->ins, "resolver.dns: cannot resolve %s: %s; keeping the last backends",
                         lb->dns_hostname, why);
        }
        *failing = true;
        return;
    }
    otc_metric_add(&lb->resolutions[1], 1);
    if (*failing) {
        otc_log_info(lb->ins, "resolver.dns: %s resolves again", lb->dns_hostname);
    }
    *failing = false;
    if (!set_same(lb, eps, n)) {
        char list[512] = "";
        size_t off = 0;

        for (size_t i = 0; i < n && off < sizeof(list); i++) {
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", eps[i]);
        }
        if (set_publish(lb, eps, n) == OTC_OK) {
            otc_log_info(lb->ins, "resolver.dns: %zu backends: %s", n, list);
        } else {
            otc_log_err(lb->ins, "resolver.dns: cannot build the new backend set (out of memory)");
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(eps[i]);
    }
    free(eps);
}

static void *resolver_main(void *arg)
{
    struct lb_ctx *lb = arg;
    bool failing = false;

    pthread_setname_np(pthread_self(), "lb-resolver");
    pthread_mutex_lock(&lb->wake_lock);
    while (!lb->stopping) {
        struct timespec until;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += lb->dns_interval / 1000000000;
        until.tv_nsec += lb->dns_interval % 1000000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!lb->stopping && pthread_cond_timedwait(&lb->wake, &lb->wake_lock, &until) != ETIMEDOUT) {
        }
        if (lb->stopping) {
            break;
        }
        pthread_mutex_unlock(&lb->wake_lock);
        dns_resolve(lb, &failing);
        pthread_mutex_lock(&lb->wake_lock);
    }
    pthread_mutex_unlock(&lb->wake_lock);
    return NULL;
}

int lb_resolver_start(struct lb_ctx *lb)
{
    bool failing = false;

    if (lb->static_set) {
        return static_start(lb);
    }
    /* dns: the first lookup before the receivers start, then every interval */
    dns_resolve(lb, &failing);
    if (pthread_create(&lb->resolver, NULL, resolver_main, lb) != 0) {
        return OTC_ENOMEM;
    }
    lb->resolver_started = true;
    return OTC_OK;
}

void lb_resolver_stop(struct lb_ctx *lb)
{
    if (!lb->resolver_started) {
        return;
    }
    pthread_mutex_lock(&lb->wake_lock);
    lb->stopping = true;
    pthread_cond_signal(&lb->wake);
    pthread_mutex_unlock(&lb->wake_lock);
    pthread_join(lb->resolver, NULL);
    lb->resolver_started = false;
}
