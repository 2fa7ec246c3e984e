/* buf.c - growable byte buffer used by the slow paths (JSON, debug output).
 * Runs on whichever thread owns the buffer. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_buf.h"

void otc_buf_init(struct otc_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void otc_buf_free(struct otc_buf *b)
{
    free(b->data);
    otc_buf_init(b);
}

void otc_buf_reset(struct otc_buf *b)
{
    b->len = 0;
    b->oom = false;
    if (b->data) {
        b->data[0] = '\0';
    }
}

static bool buf_reserve(struct otc_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    size_t cap;
    char *p;

    if (b->oom) {
        return false;
    }
    if (need <= b->cap) {
        return true;
    }
    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void otc_buf_add(struct otc_buf *b, const void *p, size_t n)
{
    if (!buf_reserve(b, n)) {
        return;
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
}

void otc_buf_addc(struct otc_buf *b, char c)
{
    otc_buf_add(b, &c, 1);
}

void otc_buf_adds(struct otc_buf *b, const char *s)
{
    otc_buf_add(b, s, strlen(s));
}

void otc_buf_addf(struct otc_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
