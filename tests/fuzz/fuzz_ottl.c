/* fuzz_ottl.c - libFuzzer target: one OTTL text parsed as a statement and as a
 * condition for every signal, with its context inferred and in each context of
 * the signal; what parses is run on a small span, log record and data point
 * (so the evaluator and the editors meet what the parser accepts).
 * Single-threaded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_ottl.h"

static void run(struct otc_ottl *o, enum otc_signal s, enum otc_ottl_ctx c)
{
    struct otc_arena a;
    struct otc_ottl_env env = {0};
    Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    Opentelemetry__Proto__Common__V1__InstrumentationScope sc =
        OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    otc_span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    Opentelemetry__Proto__Trace__V1__Span__Event ev = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
    otc_metric m = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint np =
        OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    otc_log_record lr = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    otc_any_value body = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    otc_any_value v = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    otc_key_value kv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    otc_key_value *kvs[1] = {&kv};
    char why[256], value[] = "value", key[] = "k", text[] = "a body", name[] = "GET /";
    bool yes;

    (void)s;
    otc_arena_init(&a, 4096);
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v.string_value = value; /* writable: editors cut strings in place */
    kv.key = key;
    kv.value = &v;
    res.attributes = sp.attributes = lr.attributes = np.attributes = ev.attributes = kvs;
    res.n_attributes = sp.n_attributes = lr.n_attributes = np.n_attributes = ev.n_attributes = 1;
    body.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    body.string_value = text;
    lr.body = &body;
    sp.name = name;
    env.resource = &res;
    env.scope = &sc;
    env.span = c == OTC_OTTL_SPAN || c == OTC_OTTL_SPANEVENT ? &sp : NULL;
    env.event = c == OTC_OTTL_SPANEVENT ? &ev : NULL;
    env.metric = c == OTC_OTTL_METRIC || c == OTC_OTTL_DATAPOINT ? &m : NULL;
    env.point = c == OTC_OTTL_DATAPOINT ? &np.base : NULL;
    env.log = c == OTC_OTTL_LOG ? &lr : NULL;
    env.arena = &a;
    if (otc_ottl_editor(o)) {
        otc_ottl_exec(o, &env, NULL, why, sizeof(why));
    } else {
        otc_ottl_eval(o, &env, &yes, why, sizeof(why));
    }
    otc_arena_release(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);

    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        for (int c = OTC_OTTL_CTX_INFER; c < OTC_OTTL_CTX_COUNT; c++) {
            for (int stmt = 0; stmt < 2; stmt++) {
                struct otc_ottl_error pe;
                struct otc_ottl *o = stmt ? otc_ottl_parse_statement(text, (enum otc_signal)s,
                                                                     (enum otc_ottl_ctx)c, &pe)
                                          : otc_ottl_parse_condition(text, (enum otc_signal)s,
                                                                     (enum otc_ottl_ctx)c, &pe);
                if (o) {
                    run(o, (enum otc_signal)s, otc_ottl_context(o));
                    otc_ottl_free(o);
                }
            }
        }
    }
    free(text);
    return 0;
}
