/* debug.c - the `debug` exporter, as otelcol's: `basic` prints one summary line
 * per batch, `normal` one line per span / data point / log record, `detailed`
 * the whole batch as OTLP/JSON. Writes to stderr from its single exporter thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "debug.h"
#include "otc/otc_buf.h"
#include "otc/otc_json.h"
#include "otc/otc_otlp.h"

enum { VERBOSITY_BASIC, VERBOSITY_NORMAL, VERBOSITY_DETAILED };

struct debug_exp {
    int            verbosity;
    FILE          *out;
    struct otc_buf text;
};

static const char *const verbosity_choices[] = {"basic", "normal", "detailed", NULL};

static const struct otc_config_entry debug_config[] = {
    {OTC_CFG_ENUM, "verbosity", "basic", offsetof(struct debug_exp, verbosity), 0, 0, 0,
     verbosity_choices, "basic (counts), normal (one line per item) or detailed (full OTLP/JSON)"},
    OTC_CFG_END,
};

static int debug_start(struct otc_instance *ins, void *vctx)
{
    struct debug_exp *x = vctx;

    x->out = stderr;
    otc_buf_init(&x->text);
    return OTC_OK;
}

static void hex(struct otc_buf *t, ProtobufCBinaryData id)
{
    for (size_t i = 0; i < id.len; i++) {
        otc_buf_addf(t, "%02x", id.data[i]);
    }
}

static void normal_lines(struct otc_buf *t, enum otc_signal s, const ProtobufCMessage *m)
{
    if (s == OTC_TRACES) {
        const otc_traces_req *r = (const otc_traces_req *)m;
        for (size_t i = 0; i < r->n_resource_spans; i++) {
            for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
                const otc_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
                for (size_t k = 0; k < ss->n_spans; k++) {
                    otc_buf_addf(t, "%s ", ss->spans[k]->name);
                    hex(t, ss->spans[k]->trace_id);
                    otc_buf_addc(t, ' ');
                    hex(t, ss->spans[k]->span_id);
                    otc_buf_addc(t, '\n');
                }
            }
        }
    } else if (s == OTC_METRICS) {
        const otc_metrics_req *r = (const otc_metrics_req *)m;
        for (size_t i = 0; i < r->n_resource_metrics; i++) {
            for (size_t j = 0; j < r->resource_metrics[i]->n_scope_metrics; j++) {
                const otc_scope_metrics *sm = r->resource_metrics[i]->scope_metrics[j];
                for (size_t k = 0; k < sm->n_metrics; k++) {
                    otc_buf_addf(t, "%s points=%zu\n", sm->metrics[k]->name,
                                 otc_metric_point_count(sm->metrics[k]));
                }
            }
        }
    } else {
        const otc_logs_req *r = (const otc_logs_req *)m;
        for (size_t i = 0; i < r->n_resource_logs; i++) {
            for (size_t j = 0; j < r->resource_logs[i]->n_scope_logs; j++) {
                const otc_scope_logs *sl = r->resource_logs[i]->scope_logs[j];
                for (size_t k = 0; k < sl->n_log_records; k++) {
                    const otc_log_record *lr = sl->log_records[k];
                    const otc_any_value *body = lr->body;
                    otc_buf_addf(t, "severity=%d %s\n", (int)lr->severity_number,
                                 body && body->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
                                     ? body->string_value : "");
                }
            }
        }
    }
}

static int debug_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct debug_exp *x = vctx;
    const ProtobufCMessage *m = otc_batch_msg(b);

    otc_buf_reset(&x->text);
    otc_buf_addf(&x->text, "[debug:%s] %s: %zu %s\n", ins->id, otc_signal_name(b->signal), b->items,
                 otc_signal_item_name(b->signal));
    if (m && x->verbosity == VERBOSITY_NORMAL) {
        normal_lines(&x->text, b->signal, m);
    } else if (m && x->verbosity == VERBOSITY_DETAILED) {
        otc_json_encode(m, &x->text);
        otc_buf_addc(&x->text, '\n');
    }
    otc_batch_unref(b);
    if (x->text.data) {
        fwrite(x->text.data, 1, x->text.len, x->out);
    }
    return OTC_OK;
}

static void debug_shutdown(struct otc_instance *ins, void *vctx)
{
    struct debug_exp *x = vctx;

    otc_buf_free(&x->text);
}

static void debug_destroy(void *vctx)
{
    debug_shutdown(NULL, vctx);
}

const struct otc_component_ops otc_exporter_debug_ops = {
    .type = "debug",
    .kind = OTC_EXPORTER,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = false,
    .ctx_size = sizeof(struct debug_exp),
    .config_map = debug_config,
    .validate = NULL,
    .init = NULL,
    .start = debug_start,
    .consume = debug_consume,
    .flush = NULL,
    .shutdown = debug_shutdown,
    .destroy = debug_destroy,
};
