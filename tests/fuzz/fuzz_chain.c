/* fuzz_chain.c - libFuzzer target: one OTLP Export request of the signal chosen at
 * build time (FUZZ_SIGNAL), decoded as the receiver does, run through every
 * processor in a chain, then re-encoded as protobuf and as OTLP/JSON. A request
 * the receivers' fast path passes also goes, undecoded and decoded, through two
 * twin chains of the stages that read undecoded requests: both must give the
 * same request.
 * Single-threaded: the fuzzer calls LLVMFuzzerTestOneInput on its own thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/engine.h"
#include "otc/otc_batch.h"
#include "otc/otc_buf.h"
#include "otc/otc_component.h"
#include "otc/otc_json.h"
#include "otc/otc_pb_check.h"
#include "processor/batch/batch.h"
#include "processor/dedup/dedup.h"
#include "processor/memory_limiter/memory_limiter.h"
#include "processor/probabilistic_sampler/probabilistic_sampler.h"
#include "processor/filter/filter.h"
#include "processor/transform/transform.h"
#include "processor/truncate/truncate.h"

#ifndef FUZZ_SIGNAL
#define FUZZ_SIGNAL OTC_TRACES
#endif

/* Small limits, so that every stage has work to do on small inputs. */
static const struct {
    const struct otc_component_ops *ops;
    const char                     *yaml;
} stages[] = {
    {&otc_processor_memory_limiter_ops, "check_interval: 1s\nlimit_mib: 4096\n"},
    {&otc_processor_probabilistic_sampler_ops, "sampling_percentage: 60\nhash_seed: 7\n"},
    {&otc_processor_filter_ops,
     "traces:\n  span:\n    - 'attributes[\"k\"] == \"v\" or IsMatch(name, \"a\")'\n"
     "    - 'resource.attributes[\"service.name\"] == nil and kind == SPAN_KIND_SERVER'\n"
     "    - 'instrumentation_scope.name == \"s\" or Len(attributes) > 3'\n"
     "logs:\n  log_record:\n    - 'severity_number < SEVERITY_NUMBER_WARN and severity_number > 0'\n"
     "    - 'IsMatch(body, \"x\") or attributes[\"k\"] != nil'\n"
     "metrics:\n  datapoint:\n    - 'attributes[\"a\"] != nil'\n"},
    {&otc_processor_transform_ops,
     "trace_statements: ['truncate_all(span.attributes, 5)', 'limit(resource.attributes, 2, [])',\n"
     "  'set(span.attributes[\"n\"], Concat([span.name, resource.attributes[\"a\"]], \"-\"))',\n"
     "  'replace_pattern(span.name, \"(a+)\", \"<$1>\") where span.kind != SPAN_KIND_CLIENT',\n"
     "  'set(spanevent.attributes[\"e\"], span.name)']\n"
     "metric_statements: ['truncate_all(datapoint.attributes, 3)']\n"
     "log_statements: ['limit(log.attributes, 2, [])']\n"},
    {&otc_processor_truncate_ops, "max_value_length: 7\nmax_attributes: 3\nlog_body: true\n"},
    {&otc_processor_dedup_ops, "window: 30s\nmax_entries: 64\n"},
    {&otc_processor_batch_ops, "send_batch_size: 20\nsend_batch_max_size: 30\ntimeout: 1h\n"},
};
#define N_STAGES (sizeof(stages) / sizeof(stages[0]))

static struct otc_instance chain[N_STAGES + 1];

/* The stages with a path for undecoded requests, and their twin chains. */
static const struct {
    const struct otc_component_ops *ops;
    const char                     *yaml;
} wire_stages[] = {
    {&otc_processor_probabilistic_sampler_ops, "sampling_percentage: 60\nhash_seed: 7\n"},
    {&otc_processor_truncate_ops, "max_value_length: 7\nmax_attributes: 3\nlog_body: true\n"},
    {&otc_processor_dedup_ops, "window: 30s\nmax_entries: 64\n"},
    {&otc_processor_filter_ops,
     "traces:\n  span:\n    - 'attributes[\"k\"] == \"v\" or IsMatch(name, \"a\")'\n"
     "    - 'resource.attributes[\"service.name\"] == nil and kind == SPAN_KIND_SERVER'\n"
     "    - 'instrumentation_scope.name == \"s\" or Len(attributes) > 3'\n"
     "logs:\n  log_record:\n    - 'severity_number < SEVERITY_NUMBER_WARN and severity_number > 0'\n"
     "    - 'IsMatch(body, \"x\") or attributes[\"k\"] != nil'\n"
     "metrics:\n  datapoint:\n    - 'attributes[\"a\"] != nil'\n"},
};
#define N_WIRE (sizeof(wire_stages) / sizeof(wire_stages[0]))

static struct otc_instance twins[2][N_WIRE + 1];

/* What a twin chain sent on, serialized. */
struct capture {
    uint8_t *data[8];
    size_t   len[8];
    size_t   n;
};
static struct capture captured[2];

/* The last stage: re-encode what arrives, both ways, then drop it. */
static int sink_consume(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    const uint8_t *data;
    size_t len;
    struct otc_buf json;

    (void)ins;
    (void)ctx;
    if (otc_batch_bytes(b, &data, &len) == OTC_OK && otc_batch_decode(b) == OTC_OK) {
        otc_buf_init(&json);
        otc_json_encode(otc_batch_msg(b), &json);
        otc_buf_free(&json);
    }
    otc_batch_unref(b);
    return OTC_OK;
}

static const struct otc_component_ops sink_ops = {
    .type = "fuzz_sink", .kind = OTC_PROCESSOR, .signals = OTC_SIG_ALL, .consume = sink_consume,
};

static int capture_consume(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    struct capture *c = ctx;
    const uint8_t *data;
    size_t len;

    (void)ins;
    if (c->n == 8 || otc_batch_bytes(b, &data, &len) != OTC_OK ||
        !(c->data[c->n] = malloc(len ? len : 1))) {
        abort(); /* one input gives at most one request here */
    }
    memcpy(c->data[c->n], data, len);
    c->len[c->n++] = len;
    otc_batch_unref(b);
    return OTC_OK;
}

static const struct otc_component_ops capture_ops = {
    .type = "fuzz_capture", .kind = OTC_PROCESSOR, .signals = OTC_SIG_ALL,
    .consume = capture_consume,
};

static void die(const char *what, const struct otc_diag *d)
{
    fprintf(stderr, "fuzz_chain: %s\n", what);
    if (d) {
        otc_diag_print(d, stderr);
    }
    abort();
}

/* Configure and start ins as a processor of type ops with the given YAML. */
static void stage_init(struct otc_instance *ins, const struct otc_component_ops *ops,
                       const char *yaml, struct otc_instance *next)
{
    struct otc_yaml y;
    struct otc_diag d = {0};
    char err[256];

    ins->ops = ops;
    ins->id = (char *)ops->type;
    ins->ctx = calloc(1, ops->ctx_size ? ops->ctx_size : 1);
    ins->next.ins = next;
    ins->signals = OTC_SIG_ALL;
    if (!ins->ctx || otc_config_map_defaults(ops->config_map, ins->ctx) != OTC_OK) {
        die("defaults", NULL);
    }
    if (otc_yaml_load_string(&y, ins->id, yaml, strlen(yaml), &d) != OTC_OK ||
        otc_config_apply(&y, otc_yaml_root(&y), ins->id, ops->config_map, ins->ctx, NULL, NULL,
                         &d) != OTC_OK) {
        die(ins->id, &d);
    }
    otc_yaml_free(&y);
    otc_diag_free(&d);
    if (ops->validate && ops->validate(ins->ctx, err, sizeof(err)) != OTC_OK) {
        die(err, NULL);
    }
    if (ops->init && ops->init(ins, ins->ctx) != OTC_OK) {
        die("init", NULL);
    }
    if (ops->start && ops->start(ins, ins->ctx) != OTC_OK) {
        die("start", NULL);
    }
}

static void setup(void)
{
    chain[N_STAGES].ops = &sink_ops;
    chain[N_STAGES].id = "fuzz_sink";
    for (size_t i = 0; i < N_STAGES; i++) {
        stage_init(&chain[i], stages[i].ops, stages[i].yaml, &chain[i + 1]);
    }
    for (size_t t = 0; t < 2; t++) {
        twins[t][N_WIRE].ops = &capture_ops;
        twins[t][N_WIRE].id = "fuzz_capture";
        twins[t][N_WIRE].ctx = &captured[t];
        for (size_t i = 0; i < N_WIRE; i++) {
            stage_init(&twins[t][i], wire_stages[i].ops, wire_stages[i].yaml, &twins[t][i + 1]);
        }
    }
}

/* A request as protobuf-c encodes it after decoding; aborts when undecodable. */
static uint8_t *canonical(const uint8_t *data, size_t len, size_t *out_len)
{
    const ProtobufCMessageDescriptor *d = otc_request_descriptor(FUZZ_SIGNAL);
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, data);
    uint8_t *out;

    if (!m) {
        abort();
    }
    *out_len = protobuf_c_message_get_packed_size(m);
    if (!(out = malloc(*out_len ? *out_len : 1))) {
        abort();
    }
    protobuf_c_message_pack(m, out);
    protobuf_c_message_free_unpacked(m, NULL);
    return out;
}

/* Whether two serialized requests say the same: the same bytes, or the same
 * bytes once decoded and encoded again (a stage that drops items on the wire
 * passes the rest on as they arrived, which need not be protobuf-c's layout). */
static bool same_request(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uint8_t *ca, *cb;
    size_t calen, cblen;
    bool same;

    if (alen == blen && memcmp(a, b, alen) == 0) {
        return true;
    }
    ca = canonical(a, alen, &calen);
    cb = canonical(b, blen, &cblen);
    same = calen == cblen && memcmp(ca, cb, calen) == 0;
    free(ca);
    free(cb);
    return same;
}

/* The same request, undecoded (twin 0) and decoded (twin 1), through the twin
 * chains: what comes out must be the same request (same_request), with the
 * same drop counts at every stage. The stages read undecoded requests of
 * every signal (the traversal layer): traces, metrics and logs alike. */
static void twins_agree(const uint8_t *data, size_t size, size_t items)
{
    for (size_t t = 0; t < 2; t++) {
        struct otc_batch *b = otc_batch_from_bytes(FUZZ_SIGNAL, data, size);

        if (!b) {
            return;
        }
        /* the wire twin as the receivers leave it: scanned, with its bounds */
        if (t == 0 ? otc_batch_scan(b, NULL) != OTC_OK || b->items != items
                   : otc_batch_decode(b) != OTC_OK) {
            abort();
        }
        twins[t][0].ops->consume(&twins[t][0], twins[t][0].ctx, b);
    }
    if (captured[0].n != captured[1].n) {
        abort();
    }
    /* the same counts: each stage dropped (and deduplicated) as many items */
    for (size_t i = 0; i < N_WIRE; i++) {
        if (atomic_load(&twins[0][i].counters.dropped[FUZZ_SIGNAL]) !=
                atomic_load(&twins[1][i].counters.dropped[FUZZ_SIGNAL]) ||
            atomic_load(&twins[0][i].counters.deduplicated[FUZZ_SIGNAL]) !=
                atomic_load(&twins[1][i].counters.deduplicated[FUZZ_SIGNAL])) {
            abort();
        }
    }
    for (size_t i = 0; i < captured[0].n; i++) {
        if (!same_request(captured[0].data[i], captured[0].len[i], captured[1].data[i],
                          captured[1].len[i])) {
            abort();
        }
    }
    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; i < captured[t].n; i++) {
            free(captured[t].data[i]);
        }
        captured[t].n = 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct otc_batch *b;
    size_t scan_items = 0;
    int scan;

    if (!ready) {
        setup();
        ready = 1;
    }
    b = otc_batch_from_bytes(FUZZ_SIGNAL, data, size);
    if (!b) {
        return 0;
    }
    /* What the receivers' fast path lets through undecoded must decode later,
     * to as many items, with valid UTF-8. */
    scan = otc_pb_scan_request(FUZZ_SIGNAL, data, size, &scan_items);
    if (otc_batch_decode(b) != OTC_OK) {
        if (scan == OTC_OK) {
            abort();
        }
        otc_batch_unref(b); /* the receiver answers INVALID_ARGUMENT */
        return 0;
    }
    if (scan == OTC_OK && (scan_items != b->items || !otc_pb_utf8_valid(otc_batch_msg(b)))) {
        abort();
    }
    if (scan == OTC_OK) {
        twins_agree(data, size, scan_items);
    }
    if (chain[0].ops->admit && !chain[0].ops->admit(&chain[0], chain[0].ctx, size)) {
        otc_batch_unref(b);
        return 0;
    }
    chain[0].ops->consume(&chain[0], chain[0].ctx, b);
    /* Flush in order so that what the batch stage holds is re-encoded too. */
    for (size_t i = 0; i < N_STAGES; i++) {
        if (chain[i].ops->flush) {
            chain[i].ops->flush(&chain[i], chain[i].ctx);
        }
    }
    return 0;
}
