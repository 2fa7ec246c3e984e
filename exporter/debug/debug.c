/* debug.c - the `debug` exporter, as otelcol's: `basic` prints one summary line
 * per batch, `normal` one line per span / data point / log record, `detailed`
 * the whole batch as OTLP/JSON, sampled per signal and second as otelcol's log
 * sampler does. Writes to stderr (or use_internal_logger: false, to stdout or
 * output_paths) from its single exporter thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "debug.h"
#include "otc/otc_buf.h"
#include "otc/otc_json.h"
#include "otc/otc_otlp.h"

enum { VERBOSITY_BASIC, VERBOSITY_NORMAL, VERBOSITY_DETAILED };

struct debug_exp {
    int                verbosity;
    int64_t            sampling_initial;
    int64_t            sampling_thereafter;
    bool               use_internal_logger;
    struct otc_strlist output_paths;
    FILE              *out;
    bool               out_owned;  /* opened from output_paths: closed at shutdown */
    struct otc_buf     text;
    /* sampling state, per signal: batches seen in the current second */
    time_t             tick[OTC_SIGNAL_COUNT];
    uint64_t           seen[OTC_SIGNAL_COUNT];
};

#define DBG_OFF(f) offsetof(struct debug_exp, f)

static const char *const verbosity_choices[] = {"basic", "normal", "detailed", NULL};

static const struct otc_config_entry debug_config[] = {
    {OTC_CFG_ENUM, "verbosity", "basic", DBG_OFF(verbosity), 0, 0, 0,
     verbosity_choices, "basic (counts), normal (one line per item) or detailed (full OTLP/JSON)"},
    {OTC_CFG_INT, "sampling_initial", "2", DBG_OFF(sampling_initial), OTC_CFG_F_MIN, 0, 0, NULL,
     "batches of one signal printed each second before sampling_thereafter applies"},
    {OTC_CFG_INT, "sampling_thereafter", "1", DBG_OFF(sampling_thereafter), OTC_CFG_F_MIN, 0, 0,
     NULL, "past sampling_initial in a second, every Nth batch of that signal is printed "
     "(1 = all, 0 = none)"},
    {OTC_CFG_BOOL, "use_internal_logger", "true", DBG_OFF(use_internal_logger), 0, 0, 0, NULL,
     "true: print to stderr with otelc's log; false: to stdout, or to output_paths"},
    {OTC_CFG_STRLIST, "output_paths", NULL, DBG_OFF(output_paths), 0, 0, 0, NULL,
     "with use_internal_logger false: where to print, stdout, stderr or a file appended to "
     "(the first entry is used)"},
    OTC_CFG_END,
};

static int debug_start(struct otc_instance *ins, void *vctx)
{
    struct debug_exp *x = vctx;

    x->out = stderr;
    if (!x->use_internal_logger) {
        const char *p = x->output_paths.n ? x->output_paths.v[0] : "stdout";

        if (!strcmp(p, "stdout")) {
            x->out = stdout;
        } else if (strcmp(p, "stderr") != 0) {
            x->out = fopen(p, "a");
            if (!x->out) {
                otc_log_err(ins, "output_paths: cannot open \"%s\": %s", p, strerror(errno));
                x->out = stderr;
                return OTC_EINVAL;
            }
            x->out_owned = true;
        }
    }
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

/* otelcol's zap sampler: in each second, the first sampling_initial entries of
 * a kind pass, then every sampling_thereafter-th. */
static bool debug_sampled(struct debug_exp *x, enum otc_signal s)
{
    time_t now = time(NULL);
    uint64_t n;

    if (now != x->tick[s]) {
        x->tick[s] = now;
        x->seen[s] = 0;
    }
    n = ++x->seen[s];
    if (n <= (uint64_t)x->sampling_initial) {
        return true;
    }
    return x->sampling_thereafter > 0 &&
           (n - (uint64_t)x->sampling_initial) % (uint64_t)x->sampling_thereafter == 0;
}

static int debug_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct debug_exp *x = vctx;
    const ProtobufCMessage *m;

    if (!debug_sampled(x, b->signal)) {
        otc_batch_unref(b);
        return OTC_OK;
    }
    m = otc_batch_msg(b);
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
        if (x->out != stderr) {
            fflush(x->out);
        }
    }
    return OTC_OK;
}

static void debug_shutdown(struct otc_instance *ins, void *vctx)
{
    struct debug_exp *x = vctx;

    otc_buf_free(&x->text);
    if (x->out_owned && x->out) {
        fclose(x->out);
        x->out_owned = false;
    }
    x->out = NULL;
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
