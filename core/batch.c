/* batch.c - batches: serialized OTLP request + lazily decoded protobuf-c tree,
 * both in one arena, shared by reference count for fan-out (copy on write).
 * Used by whichever thread holds the batch; only refs is touched concurrently. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "otc/otc_batch.h"
#include "otc/otc_pb_check.h"
#include "otc/otc_otlp.h"
#include "otc/otc_pb_depth.h"
#include "otc/otc_pb_walk.h"
#include "otc/otc_rc.h"

/* protobuf-c's unpack allocates about 4.6x the wire size: the decode reserves
 * that much in one chunk. Most batches are never decoded (the receivers' fast
 * path), so a new batch's first chunk holds only its bytes and a little more. */
#define DECODE_FACTOR 5
#define RAW_SLACK 512 /* adoption and release-hook links of a batch */

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const ProtobufCMessageDescriptor *otc_request_descriptor(enum otc_signal s)
{
    switch (s) {
    case OTC_TRACES:
        return &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor;
    case OTC_METRICS:
        return &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor;
    case OTC_LOGS:
        return &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor;
    default:
        return NULL;
    }
}

const ProtobufCMessageDescriptor *otc_response_descriptor(enum otc_signal s)
{
    switch (s) {
    case OTC_TRACES:
        return &opentelemetry__proto__collector__trace__v1__export_trace_service_response__descriptor;
    case OTC_METRICS:
        return &opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__descriptor;
    case OTC_LOGS:
        return &opentelemetry__proto__collector__logs__v1__export_logs_service_response__descriptor;
    default:
        return NULL;
    }
}

static struct otc_batch *batch_alloc(enum otc_signal s, size_t hint)
{
    struct otc_batch *b = calloc(1, sizeof(*b));

    if (!b) {
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->signal = s;
    b->received_ns = now_ns();
    otc_arena_init(&b->arena, hint);
    return b;
}

struct otc_batch *otc_batch_alloc_raw(enum otc_signal s, size_t len, uint8_t **dst)
{
    struct otc_batch *b = batch_alloc(s, len + RAW_SLACK);
    uint8_t *raw;

    if (!b) {
        return NULL;
    }
    raw = otc_arena_alloc(&b->arena, len ? len : 1);
    if (!raw) {
        otc_batch_unref(b);
        return NULL;
    }
    b->raw = raw;
    b->raw_len = len;
    b->raw_fresh = true;
    *dst = raw;
    return b;
}

/* Room for a request's n bytes in a batch's arena. A block that does not fit
 * the current chunk gets a chunk of its own size, not the arena's doubled
 * one: a request rewritten in its own arena (the sampler's tracestate on
 * every span) took a chunk twice its size. In 20,000 requests through the
 * sampler alone, page faults were 42,000-53,000 before and 8,800-37,000
 * after, in 4 pairs of runs. */
static uint8_t *arena_block(struct otc_arena *a, size_t n)
{
    n = n ? n : 1;
    return otc_arena_reserve(a, n + 64) == 0 ? otc_arena_alloc(a, n) : NULL;
}

int otc_batch_scan(struct otc_batch *b, size_t *entries)
{
    struct otc_pb_scan_info info;
    int rc = otc_pb_scan_request_info(b->signal, b->raw, b->raw_len, &info);

    if (rc == OTC_OK) {
        b->items = info.items;
        b->scanned = (struct otc_scan_bounds){b->raw, b->raw_len, info.longest_value,
                                              info.most_attrs, info.ordered, info.keys};
        if (entries) {
            *entries = info.entries;
        }
    }
    return rc;
}

struct otc_batch *otc_batch_from_bytes(enum otc_signal s, const void *data, size_t len)
{
    uint8_t *dst;
    struct otc_batch *b = otc_batch_alloc_raw(s, len, &dst);

    if (b && len) {
        memcpy(dst, data, len);
    }
    return b;
}

struct otc_batch *otc_batch_from_msg(enum otc_signal s, struct otc_arena *arena,
                                     ProtobufCMessage *msg)
{
    struct otc_batch *b = batch_alloc(s, 0);

    if (!b) {
        return NULL;
    }
    b->arena = *arena;
    b->arena.pb.allocator_data = &b->arena; /* the allocator must point at its new home */
    memset(arena, 0, sizeof(*arena));
    b->msg = msg;
    atomic_store_explicit(&b->decoded, true, memory_order_relaxed);
    b->items = otc_request_count_items(s, msg);
    return b;
}

/* Decoding an undecoded batch, or encoding a stale one, allocates in its
 * arena, so two holders of a shared batch (pipelines or exporters on their own
 * threads) must not do it at once: the first one works under a lock, the others
 * then see decoded / raw_fresh and read. A small array of locks picked by
 * address saves a mutex per batch. */
#define BATCH_ENCODE_LOCKS 16
static pthread_mutex_t encode_locks[BATCH_ENCODE_LOCKS] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER,
};

static pthread_mutex_t *batch_lock(const struct otc_batch *b)
{
    return &encode_locks[((uintptr_t)b >> 6) % BATCH_ENCODE_LOCKS];
}

int otc_batch_decode(struct otc_batch *b)
{
    int rc = OTC_OK;

    if (atomic_load_explicit(&b->decoded, memory_order_acquire)) {
        return OTC_OK;
    }
    pthread_mutex_lock(batch_lock(b));
    if (!atomic_load_explicit(&b->decoded, memory_order_relaxed)) {
        rc = otc_pb_check_depth(otc_request_descriptor(b->signal), b->raw, b->raw ? b->raw_len : 0,
                                OTC_PB_MAX_DEPTH);
        if (rc == OTC_OK && otc_arena_reserve(&b->arena, b->raw_len * DECODE_FACTOR + 1024) != 0) {
            rc = OTC_ENOMEM;
        }
        if (rc == OTC_OK) {
            b->msg = protobuf_c_message_unpack(otc_request_descriptor(b->signal), &b->arena.pb,
                                               b->raw_len, b->raw ? b->raw : (const uint8_t *)"");
            rc = b->msg ? OTC_OK : OTC_EINVAL;
        }
        if (rc == OTC_OK) {
            size_t n = otc_request_count_items(b->signal, b->msg);

            if (b->items != n) { /* a receiver's scan already set it: others may read it */
                b->items = n;
            }
            atomic_store_explicit(&b->decoded, true, memory_order_release);
        }
    }
    pthread_mutex_unlock(batch_lock(b));
    return rc;
}

const ProtobufCMessage *otc_batch_msg(struct otc_batch *b)
{
    return otc_batch_decode(b) == OTC_OK ? b->msg : NULL;
}

ProtobufCMessage *otc_batch_msg_mut(struct otc_batch *b)
{
    if (otc_batch_decode(b) != OTC_OK) {
        return NULL;
    }
    b->raw_fresh = false;
    return b->msg;
}

int otc_batch_bytes(struct otc_batch *b, const uint8_t **data, size_t *len)
{
    int rc = OTC_OK;

    if (!atomic_load_explicit(&b->raw_fresh, memory_order_acquire)) {
        pthread_mutex_t *lock = batch_lock(b);

        pthread_mutex_lock(lock);
        if (!atomic_load_explicit(&b->raw_fresh, memory_order_relaxed)) {
            size_t n = protobuf_c_message_get_packed_size(b->msg);
            uint8_t *out = arena_block(&b->arena, n);

            if (out) {
                protobuf_c_message_pack(b->msg, out);
                b->raw = out;
                b->raw_len = n;
                atomic_store_explicit(&b->raw_fresh, true, memory_order_release);
            } else {
                rc = OTC_ENOMEM;
            }
        }
        pthread_mutex_unlock(lock);
        if (rc != OTC_OK) {
            return rc;
        }
    }
    *data = b->raw;
    *len = b->raw_len;
    return OTC_OK;
}

size_t otc_batch_recount(struct otc_batch *b)
{
    b->items = otc_request_count_items(b->signal, b->msg);
    return b->items;
}

/* One adopted batch; the list lives in the parent's arena. */
struct otc_batch_child {
    struct otc_batch_child *next;
    struct otc_batch       *b;
};

/* One release hook of a batch; the list lives in its arena. */
struct otc_batch_release {
    struct otc_batch_release *next;
    void                    (*fn)(void *arg);
    void                     *arg;
};

void otc_batch_unref(struct otc_batch *b)
{
    if (!b) {
        return;
    }
    /* acq_rel: the last owner must see every write made by the others before freeing. */
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    for (struct otc_batch_child *c = b->children; c; c = c->next) {
        otc_batch_unref(c->b);
    }
    for (struct otc_batch_release *r = b->releases; r; r = r->next) {
        r->fn(r->arg);
    }
    otc_arena_release(&b->arena);
    free(b);
}

int otc_batch_adopt(struct otc_batch *b, struct otc_batch *child)
{
    struct otc_batch_child *c = otc_arena_alloc(&b->arena, sizeof(*c));

    if (!c) {
        otc_batch_unref(child);
        return OTC_ENOMEM;
    }
    c->b = child;
    c->next = b->children;
    b->children = c;
    b->durable |= child->durable;
    return OTC_OK;
}

int otc_batch_on_release(struct otc_batch *b, void (*fn)(void *), void *arg)
{
    struct otc_batch_release *r = otc_arena_alloc(&b->arena, sizeof(*r));

    if (!r) {
        return OTC_ENOMEM;
    }
    r->fn = fn;
    r->arg = arg;
    r->next = b->releases;
    b->releases = r;
    b->durable = true;
    return OTC_OK;
}

#define SOLE_DEPTH 4 /* a batching stage's request, a copy, the received request */

static void sole_releases(struct otc_batch *b, unsigned depth,
                          void (*visit)(void *ctx, void (*fn)(void *), void *arg), void *ctx)
{
    for (struct otc_batch_release *r = b->releases; r; r = r->next) {
        visit(ctx, r->fn, r->arg);
    }
    if (depth == SOLE_DEPTH) {
        return;
    }
    for (struct otc_batch_child *c = b->children; c; c = c->next) {
        /* acquire: pairs with the acq_rel unref of a holder that let go of c */
        if (atomic_load_explicit(&c->b->refs, memory_order_acquire) == 1) {
            sole_releases(c->b, depth + 1, visit, ctx);
        }
    }
}

void otc_batch_sole_releases(struct otc_batch *b,
                             void (*visit)(void *ctx, void (*fn)(void *), void *arg), void *ctx)
{
    if (b->durable) {
        sole_releases(b, 0, visit, ctx);
    }
}

/* copy takes the place of the caller's reference to b: a durable b is adopted
 * by it (its release hooks run once the copy is delivered and freed),
 * any other b is released. NULL, with b released, when copy is NULL or the
 * adoption fails. */
static struct otc_batch *batch_replace(struct otc_batch *b, struct otc_batch *copy)
{
    if (copy) {
        copy->skip_exporters = b->skip_exporters;
    }
    if (copy && b->durable) {
        copy->durable = true;
        if (otc_batch_adopt(copy, b) != OTC_OK) { /* releases b */
            otc_batch_unref(copy);
            return NULL;
        }
        return copy;
    }
    otc_batch_unref(b);
    return copy;
}

struct otc_batch *otc_batch_writable(struct otc_batch *b)
{
    const uint8_t *data;
    size_t len;
    struct otc_batch *copy;

    if (atomic_load_explicit(&b->refs, memory_order_acquire) == 1) {
        return b;
    }
    /* Shared batches are never mutated, so their serialized form is always current. */
    if (otc_batch_bytes(b, &data, &len) != OTC_OK) {
        return NULL;
    }
    copy = otc_batch_from_bytes(b->signal, data, len);
    if (copy) {
        copy->received_ns = b->received_ns;
        if (otc_batch_decode(copy) != OTC_OK) {
            otc_batch_unref(copy);
            copy = NULL;
        }
    }
    return batch_replace(b, copy);
}

struct otc_batch *otc_batch_keep_items(struct otc_batch *b, const uint8_t *keep, size_t kept)
{
    struct otc_batch *out = b;
    const struct otc_scan_bounds *scanned = otc_batch_scanned(b);
    struct otc_scan_bounds bounds = scanned ? *scanned : (struct otc_scan_bounds){0};
    uint8_t *dst;
    size_t n;

    if (atomic_load_explicit(&b->refs, memory_order_acquire) == 1) {
        dst = arena_block(&b->arena, b->raw_len);
    } else if ((out = otc_batch_alloc_raw(b->signal, b->raw_len, &dst))) {
        out->received_ns = b->received_ns;
    }
    if (!out || !dst || (n = otc_pb_keep_items(b->signal, b->raw, b->raw_len, keep, dst)) == SIZE_MAX) {
        if (out != b) {
            otc_batch_unref(out);
        }
        otc_batch_unref(b);
        return NULL;
    }
    out->raw = dst;
    out->raw_len = n;
    out->items = kept;
    if (scanned) {
        otc_batch_rescanned(out, &bounds, 0, 0, 0); /* fewer items: the bounds still hold */
    }
    return out == b ? b : batch_replace(b, out);
}

struct otc_batch *otc_batch_edit_items(struct otc_batch *b, const uint8_t *keep, size_t kept,
                                       const struct otc_pb_edit *edits, size_t n_edits)
{
    struct otc_batch *out = b;
    size_t cap = b->raw_len, n;
    uint8_t *dst;

    for (size_t i = 0; i < n_edits; i++) {
        long long g = otc_pb_edit_growth(&edits[i]);
        cap += (g > 0 ? (size_t)g : 0) + 15; /* the item's, its scope's and resource's prefixes */
    }
    if (atomic_load_explicit(&b->refs, memory_order_acquire) == 1) {
        dst = arena_block(&b->arena, cap);
    } else if ((out = otc_batch_alloc_raw(b->signal, cap, &dst))) {
        out->received_ns = b->received_ns;
    }
    if (!out || !dst ||
        (n = otc_pb_edit_items(b->signal, b->raw, b->raw_len, keep, edits, n_edits, dst)) ==
            SIZE_MAX) {
        if (out != b) {
            otc_batch_unref(out);
        }
        otc_batch_unref(b);
        return NULL;
    }
    out->raw = dst;
    out->raw_len = n;
    out->items = kept;
    return out == b ? b : batch_replace(b, out);
}

struct otc_batch *otc_batch_rewrite(struct otc_batch *b, size_t len,
                                    size_t (*write)(void *arg, const struct otc_batch *b,
                                                    uint8_t *dst),
                                    void *arg)
{
    struct otc_batch *out = b;
    uint8_t *dst;
    size_t n;

    if (atomic_load_explicit(&b->refs, memory_order_acquire) == 1) {
        dst = arena_block(&b->arena, len);
    } else if ((out = otc_batch_alloc_raw(b->signal, len, &dst))) {
        out->received_ns = b->received_ns;
        out->items = b->items;
    }
    if (!out || !dst || (n = write(arg, b, dst)) == SIZE_MAX || n > len) {
        if (out != b) {
            otc_batch_unref(out);
        }
        otc_batch_unref(b);
        return NULL;
    }
    out->raw = dst;
    out->raw_len = n;
    return out == b ? b : batch_replace(b, out);
}
