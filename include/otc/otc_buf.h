/* otc_buf.h - growable byte buffer for slow-path output (JSON, debug text).
 * Not thread-safe; owned by one thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_BUF_H
#define OTC_INCLUDE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct otc_buf {
    char   *data;  /* always NUL-terminated when non-NULL */
    size_t  len;
    size_t  cap;
    bool    oom;   /* a growth failed: content is truncated */
};

void otc_buf_init(struct otc_buf *b);
void otc_buf_free(struct otc_buf *b);
void otc_buf_reset(struct otc_buf *b);               /* len = 0, keeps capacity */
void otc_buf_add(struct otc_buf *b, const void *p, size_t n);
void otc_buf_addc(struct otc_buf *b, char c);
void otc_buf_adds(struct otc_buf *b, const char *s);
void otc_buf_addf(struct otc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
