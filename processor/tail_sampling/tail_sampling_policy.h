/* tail_sampling_policy.h - the policies of the `tail_sampling` processor: read
 * from the `policies` option, and evaluated over one held trace. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_TAIL_SAMPLING_POLICY_H
#define OTC_PROCESSOR_TAIL_SAMPLING_POLICY_H

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

/* One span of a held trace, with the containers it came in. */
struct ts_span_ref {
    const otc_span           *sp;
    const otc_scope_spans    *ss;
    const otc_resource_spans *rs;
    uint32_t                  slot; /* held request it lives in (tail_sampling.c) */
    uint32_t                  size; /* packed size of the span */
};

/* What a policy sees of a trace. */
struct ts_trace_view {
    const uint8_t            *id;    /* 16 bytes */
    const struct ts_span_ref *spans;
    size_t                    n;
    uint64_t                  bytes; /* sum of the spans' packed sizes */
    uint64_t                  now_ns; /* CLOCK_MONOTONIC */
};

struct ts_policy;

struct ts_policies {
    struct ts_policy *v;  /* drop policies first, then the others, as otelcol orders them */
    size_t            n;
};

/* Read the `policies` list. On error writes a reason naming the policy and key. */
int  ts_policies_parse(const struct otc_cfg_tree *t, struct ts_policies *out, char *err, size_t errlen);
void ts_policies_free(struct ts_policies *p);
/* Evaluate every policy and combine as otelcol does: dropped, then an inverted
 * not-sampled, then sampled, then inverted sampled when nothing said not sampled.
 * first_match: stop at the first sampled (sample_on_first_match). Returns
 * TS_SAMPLED, TS_NOT_SAMPLED or TS_DROPPED. */
enum ts_decision ts_policies_decide(struct ts_policies *p, const struct ts_trace_view *t, bool first_match);
const char *ts_policy_name(const struct ts_policies *p, size_t i);

/* otelcol's probabilistic policy: FNV-1a 64 of salt then the trace id, and the
 * threshold MaxUint64 * pct / 100 computed as Go's big.Float does (64-bit
 * mantissa, nearest even, then truncated; clamped to [0, MaxUint64]). */
uint64_t ts_fnv1a64(const char *salt, size_t salt_len, const uint8_t id[16]);
uint64_t ts_prob_threshold(double percentage);

#endif
