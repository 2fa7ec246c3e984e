/* log.c - one line per event to stderr: time, level, component, message.
 * Called from any thread; each line is written with a single fprintf. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>

#include "otc/otc_component.h"

enum otc_log_level otc_log_threshold = OTC_LOG_INFO;
bool otc_log_json; /* service.telemetry.logs.encoding: json */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int otc_log_level_parse(const char *s, enum otc_log_level *out)
{
    for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum otc_log_level)i;
            return OTC_OK;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = OTC_LOG_WARN;
        return OTC_OK;
    }
    return OTC_EINVAL;
}

/* msg as the body of a JSON string: quotes, backslashes and control bytes escaped. */
static void json_escape(const char *msg, char *out, size_t n)
{
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 7 < n; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20) {
            o += (size_t)snprintf(out + o, n - o, "\\u%04x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
}

void otc_log_write(enum otc_log_level lvl, const struct otc_instance *ins, const char *fmt, ...)
{
    char msg[1024];
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    if (otc_log_json) {
        char esc[sizeof(msg) * 6 + 1];

        json_escape(msg, esc, sizeof(esc));
        if (ins) {
            fprintf(stderr,
                    "{\"level\":\"%s\",\"ts\":\"%s.%03ldZ\",\"otelcol.component.kind\":\"%s\","
                    "\"otelcol.component.id\":\"%s\",\"msg\":\"%s\"}\n",
                    level_names[lvl], stamp, ts.tv_nsec / 1000000L, otc_kind_name(ins->ops->kind), ins->id,
                    esc);
        } else {
            fprintf(stderr, "{\"level\":\"%s\",\"ts\":\"%s.%03ldZ\",\"msg\":\"%s\"}\n", level_names[lvl],
                    stamp, ts.tv_nsec / 1000000L, esc);
        }
        return;
    }
    if (ins) {
        fprintf(stderr, "%s.%03ldZ [%s] [%s:%s] %s\n", stamp, ts.tv_nsec / 1000000L,
                level_names[lvl], otc_kind_name(ins->ops->kind), ins->id, msg);
    } else {
        fprintf(stderr, "%s.%03ldZ [%s] [service] %s\n", stamp, ts.tv_nsec / 1000000L,
                level_names[lvl], msg);
    }
}

void otc_ssl_errors(char *out, size_t n)
{
    unsigned long e;
    size_t used = 0;

    out[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        char one[256];

        ERR_error_string_n(e, one, sizeof(one));
        if (used + 3 < n) {
            used += (size_t)snprintf(out + used, n - used, "%s%s", used ? "; " : "", one);
        }
    }
}
