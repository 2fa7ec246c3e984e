/* otlp_ingest.c - what the `otlp` receiver's two protocols share once a
 * request is read: id checks and UTF-8 repair before delivery, the entry limit,
 * and counting a refused request's items from its bytes. Runs on the calling
 * protocol's thread (the gRPC completion-queue thread or the HTTP thread).
 * Also the throttling answer's Status (RetryInfo) and the client metadata
 * readers both protocols hand to admission gates. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdatomic.h>
#include <stdbool.h>
#include <event2/keyvalq_struct.h>
#include <grpc/grpc.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "otc/otc_otlp.h"
#include "otc/otc_pb_check.h"
#include "otlp_ingest.h"

/* Drop spans / log records whose ids have the wrong length (OTLP: trace id 16
 * bytes, span id 8 bytes; empty allowed where optional). Returns the count. */
static size_t reject_bad_ids(struct otc_batch *b)
{
    size_t rejected = 0;

    if (b->signal == OTC_TRACES) {
        otc_traces_req *r = (otc_traces_req *)b->msg;
        for (size_t i = 0; i < r->n_resource_spans; i++) {
            otc_resource_spans *rs = r->resource_spans[i];
            for (size_t j = 0; j < rs->n_scope_spans; j++) {
                otc_scope_spans *ss = rs->scope_spans[j];
                size_t keep = 0;
                for (size_t k = 0; k < ss->n_spans; k++) {
                    otc_span *sp = ss->spans[k];
                    if (sp->trace_id.len != 16 || sp->span_id.len != 8 ||
                        (sp->parent_span_id.len != 0 && sp->parent_span_id.len != 8)) {
                        rejected++;
                        continue;
                    }
                    ss->spans[keep++] = sp;
                }
                ss->n_spans = keep;
            }
        }
    } else if (b->signal == OTC_LOGS) {
        otc_logs_req *r = (otc_logs_req *)b->msg;
        for (size_t i = 0; i < r->n_resource_logs; i++) {
            otc_resource_logs *rl = r->resource_logs[i];
            for (size_t j = 0; j < rl->n_scope_logs; j++) {
                otc_scope_logs *sl = rl->scope_logs[j];
                size_t keep = 0;
                for (size_t k = 0; k < sl->n_log_records; k++) {
                    otc_log_record *lr = sl->log_records[k];
                    if ((lr->trace_id.len != 0 && lr->trace_id.len != 16) ||
                        (lr->span_id.len != 0 && lr->span_id.len != 8)) {
                        rejected++;
                        continue;
                    }
                    sl->log_records[keep++] = lr;
                }
                sl->n_log_records = keep;
            }
        }
    }
    return rejected;
}

static bool ids_valid(const struct otc_batch *b)
{
    if (b->signal == OTC_TRACES) {
        const otc_traces_req *r = (const otc_traces_req *)b->msg;
        for (size_t i = 0; i < r->n_resource_spans; i++) {
            const otc_resource_spans *rs = r->resource_spans[i];
            for (size_t j = 0; j < rs->n_scope_spans; j++) {
                const otc_scope_spans *ss = rs->scope_spans[j];
                for (size_t k = 0; k < ss->n_spans; k++) {
                    const otc_span *sp = ss->spans[k];
                    if (sp->trace_id.len != 16 || sp->span_id.len != 8 ||
                        (sp->parent_span_id.len != 0 && sp->parent_span_id.len != 8)) {
                        return false;
                    }
                }
            }
        }
    } else if (b->signal == OTC_LOGS) {
        const otc_logs_req *r = (const otc_logs_req *)b->msg;
        for (size_t i = 0; i < r->n_resource_logs; i++) {
            const otc_resource_logs *rl = r->resource_logs[i];
            for (size_t j = 0; j < rl->n_scope_logs; j++) {
                const otc_scope_logs *sl = rl->scope_logs[j];
                for (size_t k = 0; k < sl->n_log_records; k++) {
                    const otc_log_record *lr = sl->log_records[k];
                    if ((lr->trace_id.len != 0 && lr->trace_id.len != 16) ||
                        (lr->span_id.len != 0 && lr->span_id.len != 8)) {
                        return false;
                    }
                }
            }
        }
    }
    return true;
}

int otlp_ingest_accept(struct otc_instance *ins, struct otc_batch *b, size_t *rejected,
                       struct otc_admission *a)
{
    enum otc_signal s = b->signal;

    *rejected = 0;
    /* An undecoded batch passed otc_pb_scan_request: its ids and UTF-8 are valid. */
    if (b->msg && !ids_valid(b)) {
        otc_batch_msg_mut(b);
        *rejected = reject_bad_ids(b);
        otc_batch_recount(b);
        atomic_fetch_add(&ins->counters.refused[s], *rejected);
    }
    if (b->items == 0) {
        otc_batch_unref(b);
        return OTC_OK;
    }
    /* protobuf strings must be UTF-8: bad bytes become U+FFFD (README "Limits") */
    if (b->msg && !otc_pb_utf8_valid(b->msg)) {
        bool enomem = false;
        size_t n = otc_pb_utf8_repair(otc_batch_msg_mut(b), &b->arena, &enomem);

        otc_log_debug(ins, "replaced invalid UTF-8 in %zu strings%s", n,
                      enomem ? " (out of memory: some left as they were)" : "");
    }
    return otc_receiver_deliver_call(ins, b, a);
}

void otlp_retry_status_init(struct otlp_retry_status *r, int code, const char *msg,
                            int64_t retry_ns)
{
    google__rpc__status__init(&r->st);
    r->st.code = code;
    r->st.message = (char *)(msg ? msg : "");
    if (retry_ns <= 0) {
        return;
    }
    google__protobuf__duration__init(&r->d);
    r->d.seconds = retry_ns / 1000000000;
    r->d.nanos = (int32_t)(retry_ns % 1000000000);
    google__rpc__retry_info__init(&r->ri);
    r->ri.retry_delay = &r->d;
    google__protobuf__any__init(&r->any);
    r->any.type_url = (char *)"type.googleapis.com/google.rpc.RetryInfo";
    r->any.value.data = r->ri_buf;
    r->any.value.len = google__rpc__retry_info__pack(&r->ri, r->ri_buf); /* < 32 bytes */
    r->anys[0] = &r->any;
    r->st.details = r->anys;
    r->st.n_details = 1;
}

const char *otlp_meta_grpc_get(const void *src, const char *key, size_t idx, size_t *len)
{
    const grpc_metadata_array *md = src;
    size_t kl = strlen(key);

    for (size_t i = 0; i < md->count; i++) {
        const grpc_metadata *m = &md->metadata[i];

        if (GRPC_SLICE_LENGTH(m->key) == kl &&
            !strncasecmp((const char *)GRPC_SLICE_START_PTR(m->key), key, kl) && idx-- == 0) {
            *len = GRPC_SLICE_LENGTH(m->value);
            return (const char *)GRPC_SLICE_START_PTR(m->value);
        }
    }
    return NULL;
}

const char *otlp_meta_http_get(const void *src, const char *key, size_t idx, size_t *len)
{
    const struct evkeyvalq *h = src;
    const struct evkeyval *kv;

    for (kv = h->tqh_first; kv; kv = kv->next.tqe_next) {
        if (!strcasecmp(kv->key, key) && idx-- == 0) {
            *len = strlen(kv->value);
            return kv->value;
        }
    }
    return NULL;
}

/* OTC_OK, or OTC_ELIMIT (the reason in why) when the undecoded b holds more
 * than max resources, scopes and items (0 = no limit). */
static int check_entries(const struct otc_batch *b, size_t max, char *why, size_t whylen)
{
    if (otc_pb_count_entries(b->signal, b->raw, b->raw_len, max, NULL) == OTC_OK) {
        return OTC_OK;
    }
    snprintf(why, whylen, "more than %zu resources, scopes and items in one request "
             "(max_items_per_request)", max);
    return OTC_ELIMIT;
}

int otlp_ingest_check(struct otc_batch *b, size_t max, char *why, size_t whylen)
{
    size_t entries = 0;
    int rc = otc_batch_scan(b, &entries);

    if (rc == OTC_OK && (!max || entries <= max)) {
        return OTC_OK;
    }
    /* counted before protobuf-c allocates a struct for each entry */
    if (check_entries(b, max, why, whylen) != OTC_OK) {
        return OTC_ELIMIT;
    }
    if (rc == OTC_ELIMIT || (rc = otc_batch_decode(b)) != OTC_OK) {
        snprintf(why, whylen, "cannot decode %s: %s", otc_request_descriptor(b->signal)->name,
                 rc == OTC_ELIMIT ? OTLP_TOO_DEEP : "malformed protobuf");
        return OTC_EINVAL;
    }
    return OTC_OK;
}

/* Items in a serialized request, found by walking the wire format along a
 * path of field numbers (a mask per level), without decoding or allocating.
 * Malformed input counts what was found before the damage. */
static uint64_t pb_varint(const uint8_t **p, const uint8_t *end, bool *ok)
{
    uint64_t v = 0;

    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;

        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            return v;
        }
    }
    *ok = false;
    return 0;
}

static size_t pb_count_path(const uint8_t *p, const uint8_t *end, const uint32_t *masks,
                            int levels)
{
    size_t n = 0;
    bool ok = true;

    while (p < end && ok) {
        uint64_t key = pb_varint(&p, end, &ok);
        uint64_t field = key >> 3, l;

        switch (key & 7) {
        case 0:
            pb_varint(&p, end, &ok);
            break;
        case 1:
            ok = end - p >= 8;
            p += ok ? 8 : 0;
            break;
        case 5:
            ok = end - p >= 4;
            p += ok ? 4 : 0;
            break;
        case 2:
            l = pb_varint(&p, end, &ok);
            if (!ok || l > (uint64_t)(end - p)) {
                return n;
            }
            if (field < 32 && (masks[0] & (1u << field))) {
                n += levels == 1 ? 1 : pb_count_path(p, p + l, masks + 1, levels - 1);
            }
            p += l;
            break;
        default:
            return n;
        }
    }
    return n;
}

static size_t count_items_wire(enum otc_signal s, const uint8_t *pb, size_t len)
{
    /* Export*ServiceRequest.resource_* (1) . scope_* (2) . spans / metrics / log_records (2) */
    static const uint32_t spans[] = {1u << 1, 1u << 2, 1u << 2};
    /* ... Metric.gauge (5) / sum (7) / histogram (9) / exponential_histogram (10) /
     * summary (11) . data_points (1) */
    static const uint32_t points[] = {1u << 1, 1u << 2, 1u << 2,
                                      1u << 5 | 1u << 7 | 1u << 9 | 1u << 10 | 1u << 11, 1u << 1};

    if (!pb || !len) {
        return 0;
    }
    if (s == OTC_METRICS) {
        return pb_count_path(pb, pb + len, points, 5);
    }
    return pb_count_path(pb, pb + len, spans, 3);
}

void otlp_ingest_refuse_unauth(struct otc_instance *ins, enum otc_signal s, int transport,
                               const uint8_t *pb, size_t len)
{
    size_t items = count_items_wire(s, pb, len);

    atomic_fetch_add(&ins->counters.refused[s], items);
    if (transport == OTC_TRANSPORT_HTTP) {
        atomic_fetch_add(&ins->counters.http_refused[s], items);
    }
}
