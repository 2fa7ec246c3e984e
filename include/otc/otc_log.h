/* otc_log.h - leveled logging to stderr, one line per event, tagged with the
 * component instance ([level] [kind:type/name]). Never called per span. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_LOG_H
#define OTC_INCLUDE_LOG_H

#include <stdbool.h>

enum otc_log_level { OTC_LOG_ERROR, OTC_LOG_WARN, OTC_LOG_INFO, OTC_LOG_DEBUG };

struct otc_instance;

extern enum otc_log_level otc_log_threshold;
extern bool otc_log_json; /* one JSON object per line instead of text */

void otc_log_write(enum otc_log_level lvl, const struct otc_instance *ins,
                   const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int  otc_log_level_parse(const char *s, enum otc_log_level *out);

#define OTC_LOG_(lvl, ins, ...)                                   \
    do {                                                          \
        if ((lvl) <= otc_log_threshold) {                         \
            otc_log_write((lvl), (ins), __VA_ARGS__);             \
        }                                                         \
    } while (0)

#define otc_log_err(ins, ...)   OTC_LOG_(OTC_LOG_ERROR, ins, __VA_ARGS__)
#define otc_log_warn(ins, ...)  OTC_LOG_(OTC_LOG_WARN, ins, __VA_ARGS__)
#define otc_log_info(ins, ...)  OTC_LOG_(OTC_LOG_INFO, ins, __VA_ARGS__)
#define otc_log_debug(ins, ...) OTC_LOG_(OTC_LOG_DEBUG, ins, __VA_ARGS__)

/* OpenSSL's queued errors of this thread as one line in out (n bytes), the
 * queue emptied: the reason to log after a failed OpenSSL call. */
void otc_ssl_errors(char *out, size_t n);

#endif
