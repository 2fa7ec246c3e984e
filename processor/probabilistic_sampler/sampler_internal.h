/* sampler_internal.h - what the probabilistic_sampler's files share: its
 * context and the decisions on one span or log record, taken from fields
 * either form of a batch gives (probabilistic_sampler.c reads decoded items,
 * sampler_wire.c serialized ones). Reentrant; runs on the pipeline workers. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_SAMPLER_INTERNAL_H
#define OTC_PROCESSOR_SAMPLER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otc/otc_component.h"

#define SAMPLER_HEX_DIGITS   14
#define SAMPLER_PRIORITY_KEY "sampling.priority"
#define SAMPLER_THRESHOLD_KEY "sampling.threshold"
#define SAMPLER_RANDOM_KEY   "sampling.randomness"

/* The longest tracestate a kept span gets: a parsed one is at most 1024
 * bytes, and the sampler adds at most "ot=rv:<14>;th:<14>," to it. */
#define SAMPLER_TS_MAX 1088

enum sampler_kind { K_NEVER, K_HASH, K_EQUALIZING, K_PROPORTIONAL };

struct sampler_ctx {
    double    sampling_percentage;
    int64_t   hash_seed;
    char     *mode;
    bool      fail_closed;
    int64_t   sampling_precision;
    char     *attribute_source;
    char     *from_attribute;
    char     *sampling_priority;
    /* derived by init */
    enum sampler_kind kind;
    uint32_t  seed_h;        /* FNV-1a state after the seed's 4 bytes */
    uint64_t  threshold;     /* hash_seed and equalizing: the configured threshold */
    double    ratio;         /* proportional: the probability, in [2^-56, 1] */
    bool      logs_trace_id; /* attribute_source: traceID */
};

/* A span's sampling.priority attribute, as otelcol reads it. */
enum sampler_prio { PRIO_DEFER, PRIO_KEEP, PRIO_DROP };

/* The priority a number gives, and a string (as Go's ParseFloat reads it). */
enum sampler_prio sampler_prio_of(double v);
enum sampler_prio sampler_prio_string(const char *s);

/* What a span's decision reads: the trace id's bytes and the tracestate's
 * (up to a NUL, as the decoded string ends there). */
struct sampler_span_in {
    const uint8_t    *trace_id;
    size_t            trace_id_len;
    const char       *trace_state;
    size_t            trace_state_len;
    enum sampler_prio prio;
};

/* One span: true to keep it. A kept span whose tracestate otelcol rewrites
 * gets the new one in out (SAMPLER_TS_MAX bytes, no NUL), its length in
 * *out_len; *out_len is SIZE_MAX when the span keeps the one it has. */
bool sampler_span_decide(const struct sampler_ctx *x, const struct sampler_span_in *in, char *out,
                         size_t *out_len);

/* What a log record's decision reads. */
struct sampler_log_in {
    const uint8_t *trace_id;
    size_t         trace_id_len;
    const char    *threshold, *randomness; /* the sampling.threshold / .randomness string
                                              attributes (up to a NUL), NULL when none */
    size_t         threshold_len, randomness_len;
    const uint8_t *from; /* the from_attribute value's bytes (sampler_log_needs_from) */
    size_t         from_len;
    double         priority; /* the sampling_priority attribute / 100 (0: none) */
};

/* The attributes a kept log record gets (otelcol's Map.PutStr: the first
 * attribute of that name takes the value, or one is appended, randomness
 * first). */
struct sampler_log_out {
    bool randomness, threshold;
    char randomness_text[SAMPLER_HEX_DIGITS + 1], threshold_text[SAMPLER_HEX_DIGITS + 1];
};

/* Whether the decision of a record with this trace id hashes the
 * from_attribute value. */
bool sampler_log_needs_from(const struct sampler_ctx *x, const uint8_t *trace_id, size_t len);

/* One log record: true to keep it, with what it gets in *out. */
bool sampler_log_decide(const struct sampler_ctx *x, const struct sampler_log_in *in,
                        struct sampler_log_out *out);

/* strconv.FormatFloat as pdata's Value.AsString formats a double; the length. */
size_t sampler_double_string(double f, char *out, size_t cap);

/* The wire path: decide and write every item of an undecoded traces or logs
 * batch without decoding it. OTC_OK with *b the batch to pass on (NULL: every
 * item dropped) and *dropped the items dropped; OTC_EUNSUPP when the bytes
 * hold what this path does not read (the decoded path decides then; *b
 * untouched); OTC_ENOMEM with *b released and every item in *dropped. */
int sampler_wire(const struct sampler_ctx *x, struct otc_batch **b, size_t *dropped);

#endif
