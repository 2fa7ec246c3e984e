/* lb_internal.h - what the load_balancing exporter's files share: its
 * context, a backend (one otlp exporter per endpoint), a backend set with its
 * ring, and the routing of one request. Threads: see each function. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXPORTER_LB_INTERNAL_H
#define OTC_EXPORTER_LB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "lb_ring.h"
#include "otc/otc_component.h"

enum lb_key { LB_KEY_TRACE, LB_KEY_SERVICE, LB_KEY_ATTRIBUTES, LB_KEY_RESOURCE, LB_KEY_METRIC,
              LB_KEY_STREAM };

/* The backend_outcome series of one endpoint, kept until destroy (an
 * endpoint that leaves and comes back goes on counting in them). */
struct lb_stats {
    char              *endpoint;
    struct otc_metric  outcome[2]; /* [0] success=false, [1] success=true */
    struct lb_stats   *next;
};

/* One endpoint of the ring and the otlp exporter that sends to it. Held by
 * every set that lists it; shut down and freed with the last. */
struct lb_backend {
    char               *endpoint; /* as the resolver gives it: what the ring hashes */
    struct otc_instance sub;      /* the otlp exporter (ops, ctx, id, engine, timeout) */
    bool                started;  /* sub's start() succeeded */
    atomic_uint         refs;
    struct lb_stats    *stats;
};

/* An immutable backend set: endpoints sorted, and the ring built from them.
 * Consumers take a reference under the context's set_lock. */
struct lb_set {
    atomic_uint         refs;
    size_t              n;
    struct lb_backend **b;
    struct lb_ring      ring;
};

/* A request some of whose items were delivered while others wait for a
 * retry: the helper calls consume() again with the same batch, which then
 * sends only the rest, routed on the ring of that moment. */
struct lb_pending {
    struct otc_batch  *b;        /* one reference held */
    uint8_t           *done;     /* per item: delivered or failed for good */
    size_t             n;
    uint64_t           rejected; /* items failed for good, or rejected by a backend */
    uint64_t           touched_ns;
    struct lb_pending *next;
};

struct lb_ctx {
    /* options */
    int                   routing_key; /* enum lb_key */
    struct otc_strlist    routing_attributes;
    struct otc_cfg_tree  *otlp_cfg;    /* protocol.otlp */
    bool                  static_set;
    struct otc_strlist    hostnames;
    bool                  dns_set;
    char                 *dns_hostname;
    char                 *dns_port;
    int64_t               dns_interval;
    int64_t               dns_timeout;
    struct otc_cfg_tree  *k8s;
    struct otc_cfg_tree  *aws;
    /* runtime */
    struct otc_instance             *ins;
    const struct otc_component_ops  *otlp;
    int64_t                          otlp_timeout_ns; /* protocol.otlp.timeout; 0: the exporter's */
    bool                             locks_ready;
    pthread_mutex_t                  set_lock;
    struct lb_set                   *cur;
    pthread_t                        resolver;
    bool                             resolver_started;
    pthread_mutex_t                  wake_lock;
    pthread_cond_t                   wake;
    bool                             stopping;
    struct lb_stats                 *stats;   /* every endpoint seen (resolver thread) */
    pthread_mutex_t                  pend_lock;
    struct lb_pending               *pending;
    atomic_uint_fast64_t             rng;
    const char                      *resolver_name;
    struct otc_metric                num_backends;
    struct otc_metric                resolutions[2]; /* success=false, true */
    struct otc_metric                updates;
};

/* lb_route.c: the ring position of every item of a serialized request (per
 * data point for metrics), in walk order, into pos (room for n items). Sets
 * *n_out to the items met. OTC_OK, OTC_EINVAL (malformed), OTC_ELIMIT (more
 * items than n). Any thread. */
int lb_route(struct lb_ctx *lb, enum otc_signal s, const uint8_t *data, size_t len,
             uint32_t *pos, size_t n, size_t *n_out);

/* lb_split.c: split a serialized traces or logs request of n_items items
 * into n_shares requests in one pass: item i goes to share own[i] (0xffff:
 * to none); count[k] is how many items share k gets; out[k] has room for
 * share k's length when count[k] > 0 (else NULL); out_len[k] gets its length.
 * With out NULL, nothing is written and out_len[k] gets the lengths. Containers
 * without items in a share are left out of it, as otc_pb_keep_items does.
 * OTC_OK, OTC_EINVAL (malformed), OTC_ENOMEM. Any thread. */
int lb_split(const uint8_t *buf, size_t len, const uint16_t *own, size_t n_items,
             const size_t *count, size_t n_shares, uint8_t **out, size_t *out_len);

/* lb_backends.c: apply protocol.otlp (tree, may be NULL) over the otlp
 * exporter's defaults in ctx, set endpoint, and validate; *timeout_ns (may be
 * NULL) gets protocol.otlp.timeout (0 when not given). err names the key. */
int lb_otlp_config(const struct lb_ctx *lb, void *ctx, const char *endpoint, int64_t *timeout_ns,
                   char *err, size_t errlen);
/* Start resolving (static: the set now; dns: the first lookup now, then a
 * thread). Main thread. */
int  lb_resolver_start(struct lb_ctx *lb);
void lb_resolver_stop(struct lb_ctx *lb);
/* The current set with a reference (NULL before any resolution), and back. */
struct lb_set *lb_set_get(struct lb_ctx *lb);
void           lb_set_put(struct lb_set *s);
/* Free every endpoint's series (destroy). */
void lb_stats_free(struct lb_ctx *lb);

#endif
