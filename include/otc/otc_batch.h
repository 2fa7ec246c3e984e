/* otc_batch.h - one unit of telemetry moving through the pipeline: a serialized
 * Export*ServiceRequest plus, once decoded, its protobuf-c tree, all in one arena.
 * A batch is used by one thread at a time; only the reference count is atomic. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_BATCH_H
#define OTC_INCLUDE_BATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otc_arena.h"
#include "otc_signal.h"

struct otc_batch_child;
struct otc_batch_release;

enum otc_transport { OTC_TRANSPORT_GRPC = 0, OTC_TRANSPORT_HTTP = 1 };

/* What the receiver's scan found in the bytes it scanned (raw, raw_len): a
 * stage whose limits these are within needs no walk of its own. Trusted only
 * while the batch still holds those bytes, undecoded (otc_batch_scanned). */
struct otc_scan_bounds {
    const uint8_t *raw;
    size_t         raw_len;
    size_t         longest_value; /* bytes of the longest AnyValue */
    size_t         most_attrs;    /* most KeyValues in one message */
    bool           ordered;       /* fields in increasing order in every message
                                     (otc_pb_scan_info.ordered) */
    uint64_t       keys;          /* the attribute keys there may be (otc_pb_key_bit) */
};

struct otc_batch {
    atomic_uint        refs;
    enum otc_signal    signal;
    atomic_bool        raw_fresh; /* raw holds exactly what msg encodes (set once
                                     shared: otc_batch_bytes publishes it) */
    size_t             items;     /* spans, metric data points or log records */
    const uint8_t     *raw;       /* serialized request (in the arena) */
    size_t             raw_len;
    ProtobufCMessage  *msg;       /* decoded request (in the arena), or NULL */
    atomic_bool        decoded;   /* msg is set (otc_batch_decode publishes it) */
    uint64_t           received_ns;
    uint8_t            transport; /* OTC_TRANSPORT_*: how the receiver got it (self-metrics) */
    uint64_t           queued_bytes; /* engine: what it counts in the byte budgets of
                                        pipeline queues (set at entry, before any push) */
    uint64_t           skip_exporters; /* engine: bit i set = the i-th exporter of the
                                     pipeline has all of this request already (a replayed
                                     record); the fan-out leaves it out. Copies keep it; a
                                     batch made of several keeps the bits all of them have */
    void              *fanout_log; /* engine: set by the fan-out when nothing before it
                                     holds the batch: the log whose records the exporters
                                     note as delivered to them (otc_batch_sole_releases) */
    struct otc_batch_child *children; /* batches msg points into (otc_batch_adopt) */
    struct otc_batch_release *releases; /* hooks run when the batch is freed */
    bool               durable;   /* has release hooks, or adopted a batch that
                                     does: a copy must keep it alive
                                     (otc_batch_writable) */
    struct otc_scan_bounds scanned; /* receivers: set when the scan took the request */
    struct otc_arena   arena;
};

/* The scan's bounds of b's bytes, NULL when b's bytes are not those scanned
 * (a stage rewrote them) or b is decoded (a stage may change msg). */
static inline const struct otc_scan_bounds *otc_batch_scanned(const struct otc_batch *b)
{
    if (b->scanned.raw != b->raw || b->scanned.raw_len != b->raw_len || !b->raw ||
        atomic_load_explicit((atomic_bool *)&b->decoded, memory_order_acquire)) {
        return NULL;
    }
    return &b->scanned;
}

/* b's bytes were just rewritten from bytes that had the scan bounds sb (copied
 * before the rewrite), by a stage that kept the order of every message's
 * fields, added at most attrs KeyValues to any one message, with keys among
 * key_bits (otc_pb_key_bit), and no AnyValue longer than value_len bytes: the
 * bounds, so grown, hold for the new bytes. */
static inline void otc_batch_rescanned(struct otc_batch *b, const struct otc_scan_bounds *sb,
                                       size_t attrs, uint64_t key_bits, size_t value_len)
{
    b->scanned = (struct otc_scan_bounds){
        b->raw, b->raw_len, sb->longest_value > value_len ? sb->longest_value : value_len,
        sb->most_attrs + attrs, sb->ordered, sb->keys | key_bits};
}

/* Create a batch holding a copy of len bytes of a serialized request of signal s. */
struct otc_batch *otc_batch_from_bytes(enum otc_signal s, const void *data, size_t len);
/* Create a batch with room for len serialized bytes that the caller writes to *dst. */
struct otc_batch *otc_batch_alloc_raw(enum otc_signal s, size_t len, uint8_t **dst);
/* Create a batch that adopts an already decoded request allocated in 'arena'
 * (the arena is moved into the batch). */
struct otc_batch *otc_batch_from_msg(enum otc_signal s, struct otc_arena *arena,
                                     ProtobufCMessage *msg);

/* The receivers' scan of b's serialized bytes (otc_pb_scan_request_info). On
 * OTC_OK b stays undecoded, with its item count and scan bounds set, and
 * *entries (when not NULL) gets its resources, scopes and items. */
int otc_batch_scan(struct otc_batch *b, size_t *entries);
/* Decode raw into the arena (no-op when already decoded). OTC_EINVAL on bad
 * protobuf, OTC_ELIMIT when messages nest more than OTC_PB_MAX_DEPTH deep. */
int otc_batch_decode(struct otc_batch *b);
/* True once the request is decoded (msg is set); acquire pairs with otc_batch_decode's release. */
static inline bool otc_batch_is_decoded(const struct otc_batch *b)
{
    return atomic_load_explicit((atomic_bool *)&b->decoded, memory_order_acquire);
}
/* True while raw holds exactly what the request is (received bytes no stage has
 * changed, or bytes re-encoded since); acquire pairs with otc_batch_bytes' release. */
static inline bool otc_batch_bytes_fresh(const struct otc_batch *b)
{
    return atomic_load_explicit((atomic_bool *)&b->raw_fresh, memory_order_acquire);
}
/* Read-only view of the decoded request; decodes on first use. NULL when undecodable. */
const ProtobufCMessage *otc_batch_msg(struct otc_batch *b);
/* Writable view: the caller must hold the only reference (see otc_batch_writable).
 * Marks the serialized bytes stale; they are re-encoded on the next otc_batch_bytes. */
ProtobufCMessage *otc_batch_msg_mut(struct otc_batch *b);
/* Serialized request: the received bytes when unchanged, otherwise packed into the arena. */
int otc_batch_bytes(struct otc_batch *b, const uint8_t **data, size_t *len);
/* Recount items after a stage changed the request. */
size_t otc_batch_recount(struct otc_batch *b);

/* Reference counting for fan-out. unref frees the batch and its arena at zero. */
static inline struct otc_batch *otc_batch_ref(struct otc_batch *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}
void otc_batch_unref(struct otc_batch *b);
/* Keep child alive until b is freed, because b's request points into child's
 * arena (a batching stage building one request from several batches). Takes
 * over one reference to child; on OTC_ENOMEM that reference is dropped. */
int otc_batch_adopt(struct otc_batch *b, struct otc_batch *child);
/* Run fn(arg) when b is freed, i.e. once every holder is done with it (the
 * engine lets go of a durable request's stored copy this way). Copies made by
 * otc_batch_writable and otc_batch_keep_items keep b alive, so the hook runs
 * once the last of them is freed. Hooks run on the freeing thread, newest
 * first. OTC_ENOMEM: nothing registered, arg still belongs to the caller.
 * Call before b is shared. */
int otc_batch_on_release(struct otc_batch *b, void (*fn)(void *), void *arg);
/* Call visit(ctx, fn, arg) for every release hook of b, and of every batch b
 * adopts that nothing but its adopter holds (one reference), and so on down
 * (a few levels): the hooks of what b alone carries. The engine notes this way
 * which durable requests an exporter has delivered. b's tree must not change
 * meanwhile (true once b has left the processors). */
void otc_batch_sole_releases(struct otc_batch *b,
                             void (*visit)(void *ctx, void (*fn)(void *), void *arg), void *ctx);
/* A stage making out of several inputs: out goes to every exporter that one
 * of them still needs (the exporters all of them have are left out). Call once
 * per input, the first with first = true. */
static inline void otc_batch_merge_skip(struct otc_batch *out, const struct otc_batch *in,
                                        bool first)
{
    out->skip_exporters = first ? in->skip_exporters : out->skip_exporters & in->skip_exporters;
}
/* Copy on write: returns b itself when the caller holds the only reference,
 * otherwise a private copy (and drops the caller's reference to b; a durable b
 * is adopted by the copy instead, so its release hooks wait for the copy). NULL on ENOMEM. */
struct otc_batch *otc_batch_writable(struct otc_batch *b);
/* Drop items of an undecoded batch without decoding it: keep has one entry per
 * item (data point, for metrics) in wire order (0: drop), kept says how many
 * are non-zero (otc_pb_keep_items). The result
 * holds the received bytes of the kept items, without the scope and resource
 * containers left empty. Like otc_batch_writable, it works in place when the
 * caller holds the only reference and otherwise returns a private copy
 * (dropping the caller's reference to b). NULL on ENOMEM or malformed bytes
 * (b's reference is dropped then too). */
struct otc_batch *otc_batch_keep_items(struct otc_batch *b, const uint8_t *keep, size_t kept);

/* otc_batch_keep_items with some kept items changed: edits as
 * otc_pb_edit_items takes them (traces and logs; keep NULL keeps every item).
 * The same ownership rules; NULL on ENOMEM, malformed bytes or an edit that
 * does not fit (b's reference is dropped then too). */
struct otc_pb_edit;
struct otc_batch *otc_batch_edit_items(struct otc_batch *b, const uint8_t *keep, size_t kept,
                                       const struct otc_pb_edit *edits, size_t n_edits);

/* Give an undecoded batch new serialized bytes with the same items: write(arg,
 * b, dst) fills at most len bytes at dst (reading b->raw as it likes) and
 * returns the length written, or SIZE_MAX on failure. Like otc_batch_writable,
 * it works in place when the caller holds the only reference and otherwise
 * in a private copy (dropping the caller's reference to b). NULL on ENOMEM or
 * failure (b's reference is dropped then too). */
struct otc_batch *otc_batch_rewrite(struct otc_batch *b, size_t len,
                                    size_t (*write)(void *arg, const struct otc_batch *b,
                                                    uint8_t *dst),
                                    void *arg);

/* protobuf-c descriptors of the request and response message of each signal. */
const ProtobufCMessageDescriptor *otc_request_descriptor(enum otc_signal s);
const ProtobufCMessageDescriptor *otc_response_descriptor(enum otc_signal s);
/* Number of items (spans, data points, log records) in a decoded request. */
size_t otc_request_count_items(enum otc_signal s, const ProtobufCMessage *req);

#endif
