/* tail_sampling_policy.h - the policies of the `tail_sampling` processor: read
 * from the `policies` option, and evaluated over one held trace. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_TAIL_SAMPLING_POLICY_H
#define OTC_PROCESSOR_TAIL_SAMPLING_POLICY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otc/otc_config_map.h"
#include "otc/otc_otlp.h"

/* otelcol's sampling.Decision values a policy returns. */
enum ts_decision {
    TS_UNSPECIFIED = 0,
    TS_SAMPLED,
    TS_NOT_SAMPLED,
    TS_INVERT_SAMPLED,
    TS_INVERT_NOT_SAMPLED,
    TS_DROPPED,
};

/* The fields of a serialized Span the policies read (the last of each counts). */
struct ts_wire_span {
    const uint8_t *p;            /* the Span */
    size_t         len;
    const uint8_t *trace_id;
    size_t         trace_id_len;
    size_t         parent_len;   /* 0: a root span */
    const uint8_t *trace_state;
    size_t         trace_state_len;
    uint64_t       start, end;   /* unix nanoseconds */
    uint32_t       status;       /* Status.code: 0 unset, 1 ok, 2 error */
    uint32_t       flags;
};

/* Read a serialized Span; false when malformed. */
bool ts_span_parse(const uint8_t *p, size_t len, struct ts_wire_span *sp);

/* What a policy sees of a trace: counts, and the facts its spans set as they
 * arrived (one bit per policy that looks at span contents, ts_*_facts). */
struct ts_trace_view {
    const uint8_t *id;     /* 16 bytes */
    size_t         n;      /* spans */
    uint64_t       bytes;  /* their serialized size */
    uint64_t       facts;
    uint64_t       now_ns; /* CLOCK_MONOTONIC of the decision */
};

struct ts_policy;

#define TS_MAX_FACTS 64

struct ts_policies {
    struct ts_policy  *v;  /* drop policies first, then the others, as otelcol orders them */
    size_t             n;
    /* the policies (at any depth) that read span contents, by fact bit */
    struct ts_policy **leaf;
    size_t             n_leaf;
    uint64_t           latency_mask; /* bits of latency policies */
    uint64_t           ottl_mask;    /* bits of ottl_condition policies */
    pthread_mutex_t    lock;         /* the rate policies' state, during a decision */
    bool               lock_ready;
};

/* What one caller's reads need of their own (PCRE2 match data): one per call
 * or thread, zeroed before use, freed with ts_scratch_free. */
struct ts_scratch {
    void *md;
};
void ts_scratch_free(struct ts_scratch *s);

/* Read the `policies` list. On error writes a reason naming the policy and key
 * (also when more than TS_MAX_FACTS policies read span contents). */
int  ts_policies_parse(const struct otc_cfg_tree *t, struct ts_policies *out, char *err, size_t errlen);
void ts_policies_free(struct ts_policies *p);
/* Evaluate every policy (thread-safe) and combine as otelcol does: dropped, then an inverted
 * not-sampled, then sampled, then inverted sampled when nothing said not sampled.
 * first_match: stop at the first sampled (sample_on_first_match). Returns
 * TS_SAMPLED, TS_NOT_SAMPLED or TS_DROPPED. */
enum ts_decision ts_policies_decide(struct ts_policies *p, const struct ts_trace_view *t, bool first_match);
const char *ts_policy_name(const struct ts_policies *p, size_t i);

/* Facts of one span (status, flags, trace state and span attributes). */
uint64_t ts_span_facts(const struct ts_policies *p, const struct ts_wire_span *sp, struct ts_scratch *s);
/* Facts of a resource (a serialized Resource): its attributes. */
uint64_t ts_resource_facts(const struct ts_policies *p, const uint8_t *res, size_t len,
                           struct ts_scratch *s);
/* Facts of the ottl_condition policies for one span (serialized), with its
 * resource and scope (serialized; NULL when absent): decoded into scratch
 * memory and the conditions evaluated (span conditions, then those of each
 * span event). 0 when no policy has OTTL conditions. */
uint64_t ts_ottl_facts(const struct ts_policies *p, const uint8_t *span, size_t len, const uint8_t *res,
                       size_t res_len, const uint8_t *scope, size_t scope_len);
/* Facts of the latency policies once a trace spans [start, end] (otelcol looks
 * at the running duration after each span, in arrival order). */
uint64_t ts_latency_facts(const struct ts_policies *p, uint64_t start, uint64_t end);

/* otelcol's probabilistic policy: FNV-1a 64 of salt then the trace id, and the
 * threshold MaxUint64 * pct / 100 computed as Go's big.Float does (64-bit
 * mantissa, nearest even, then truncated; clamped to [0, MaxUint64]). */
uint64_t ts_fnv1a64(const char *salt, size_t salt_len, const uint8_t id[16]);
uint64_t ts_prob_threshold(double percentage);

#endif
