/* bearertokenauth.c - the `bearertokenauth` extension: holds a token (inline
 * or read from `filename`, re-read when the file changes) that the otlp
 * receiver requires on every request and the otlp exporter sends on every call.
 * No thread of its own: receiver and exporter threads call in, under a mutex. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bearertokenauth.h"
#include "otc/otc_auth.h"

#define BTA_MAX_TOKEN 16384 /* bytes; a longer token file is refused */

struct bta_ctx {
    /* options */
    char *token;
    char *filename;
    char *scheme;
    char *header;
    /* runtime */
    struct otc_instance *ins;
    pthread_mutex_t      lock;
    bool                 lock_ready;
    char                *expected;   /* "<scheme> <token>" */
    size_t               expected_len;
    struct timespec      mtime;      /* of filename when last read */
    off_t                size;
    ino_t                ino;
    uint64_t             checked_s;  /* monotonic second of the last stat() */
};

#define OFF(f) offsetof(struct bta_ctx, f)

static const struct otc_config_entry bta_config[] = {
    {OTC_CFG_STR, "token", NULL, OFF(token), 0, 0, 0, NULL,
     "the token (one of token or filename is required)"},
    {OTC_CFG_STR, "filename", NULL, OFF(filename), 0, 0, 0, NULL,
     "file holding the token, re-read when it changes (wins over token)"},
    {OTC_CFG_STR, "scheme", "Bearer", OFF(scheme), 0, 0, 0, NULL,
     "auth scheme before the token in the header value (empty: the token alone)"},
    {OTC_CFG_STR, "header", "Authorization", OFF(header), 0, 0, 0, NULL,
     "header (gRPC metadata key) that carries the token"},
    OTC_CFG_END,
};

static int bta_validate(const void *vctx, char *err, size_t errlen)
{
    const struct bta_ctx *x = vctx;

    if ((!x->token || !*x->token) && (!x->filename || !*x->filename)) {
        snprintf(err, errlen, "one of \"token\" or \"filename\" is required");
        return OTC_EINVAL;
    }
    if (!x->header || !*x->header || strpbrk(x->header, " :\r\n\t")) {
        snprintf(err, errlen, "header must be a header name, got \"%s\"",
                 x->header ? x->header : "");
        return OTC_EINVAL;
    }
    if (x->scheme && strpbrk(x->scheme, " \r\n\t")) {
        snprintf(err, errlen, "scheme must be one word, got \"%s\"", x->scheme);
        return OTC_EINVAL;
    }
    if (x->token && strpbrk(x->token, "\r\n")) {
        snprintf(err, errlen, "token must not hold line breaks");
        return OTC_EINVAL;
    }
    return OTC_OK;
}

/* Replace the expected header value with scheme + token. Called under lock
 * (or before any other thread can see the context). */
static int bta_set_token(struct bta_ctx *x, const char *tok, size_t n)
{
    size_t sl = x->scheme ? strlen(x->scheme) : 0;
    char *v = malloc(sl + 1 + n + 1);

    if (!v) {
        return OTC_ENOMEM;
    }
    if (sl) {
        memcpy(v, x->scheme, sl);
        v[sl++] = ' ';
    }
    memcpy(v + sl, tok, n);
    v[sl + n] = '\0';
    free(x->expected);
    x->expected = v;
    x->expected_len = sl + n;
    return OTC_OK;
}

/* Read the token file (surrounding whitespace trimmed). Under lock. */
static int bta_load_file(struct bta_ctx *x, const struct stat *st)
{
    FILE *f = fopen(x->filename, "rb");
    char *buf;
    size_t n, b = 0;
    int rc;

    if (!f) {
        otc_log_err(x->ins, "cannot open %s: %s", x->filename, strerror(errno));
        return OTC_EIO;
    }
    buf = malloc(BTA_MAX_TOKEN + 1);
    if (!buf) {
        fclose(f);
        return OTC_ENOMEM;
    }
    n = fread(buf, 1, BTA_MAX_TOKEN + 1, f);
    fclose(f);
    if (n > BTA_MAX_TOKEN) {
        otc_log_err(x->ins, "%s holds more than %d bytes", x->filename, BTA_MAX_TOKEN);
        free(buf);
        return OTC_EINVAL;
    }
    while (n > 0 && strchr(" \t\r\n", buf[n - 1])) {
        n--;
    }
    while (b < n && strchr(" \t\r\n", buf[b])) {
        b++;
    }
    rc = bta_set_token(x, buf + b, n - b);
    free(buf);
    if (rc == OTC_OK) {
        x->mtime = st->st_mtim;
        x->size = st->st_size;
        x->ino = st->st_ino;
    }
    return rc;
}

/* Re-read filename when its mtime, size or inode changed; at most one stat()
 * a second. Under lock. A failed re-read keeps the previous token. */
static void bta_refresh(struct bta_ctx *x)
{
    uint64_t now_s = otc_now_ns() / 1000000000u;
    struct stat st;

    if (!x->filename || now_s == x->checked_s) {
        return;
    }
    x->checked_s = now_s;
    if (stat(x->filename, &st) != 0) {
        return;
    }
    if (st.st_mtim.tv_sec != x->mtime.tv_sec || st.st_mtim.tv_nsec != x->mtime.tv_nsec ||
        st.st_size != x->size || st.st_ino != x->ino) {
        if (bta_load_file(x, &st) == OTC_OK) {
            otc_log_info(x->ins, "token re-read from %s", x->filename);
        }
    }
}

static int bta_start(struct otc_instance *ins, void *ctx)
{
    struct bta_ctx *x = ctx;
    struct stat st;
    int rc;

    x->ins = ins;
    if (pthread_mutex_init(&x->lock, NULL) != 0) {
        return OTC_ENOMEM;
    }
    x->lock_ready = true;
    if (x->filename && *x->filename) {
        if (stat(x->filename, &st) != 0) {
            otc_log_err(ins, "cannot read %s: %s", x->filename, strerror(errno));
            return OTC_EIO;
        }
        x->checked_s = otc_now_ns() / 1000000000u;
        return bta_load_file(x, &st);
    }
    free(x->filename);
    x->filename = NULL;
    rc = bta_set_token(x, x->token, strlen(x->token));
    return rc;
}

static void bta_destroy(void *ctx)
{
    struct bta_ctx *x = ctx;

    free(x->expected);
    x->expected = NULL;
    if (x->lock_ready) {
        pthread_mutex_destroy(&x->lock);
        x->lock_ready = false;
    }
}

/* Both sides use the one configured header. */
static const char *bta_header(const struct otc_instance *ext)
{
    return ((const struct bta_ctx *)ext->ctx)->header;
}

/* Server side: OTC_OK when value is "<scheme> <token>" (just the token with an
 * empty scheme), compared in constant time. */
static int bta_check(struct otc_instance *ext, const char *value, size_t len)
{
    struct bta_ctx *x = ext->ctx;
    unsigned char diff;
    size_t n;

    pthread_mutex_lock(&x->lock);
    bta_refresh(x);
    n = x->expected_len;
    /* constant time in the token: every expected byte is compared, whatever
     * the given value holds (its length only decides the outcome) */
    diff = (unsigned char)(len != n || !value || !x->expected);
    for (size_t i = 0; x->expected && i < n; i++) {
        unsigned char c = (value && i < len) ? (unsigned char)value[i] : 0;
        diff |= (unsigned char)(c ^ (unsigned char)x->expected[i]);
    }
    pthread_mutex_unlock(&x->lock);
    return diff ? OTC_EPERM : OTC_OK;
}

/* Client side: "<scheme> <token>", re-read from filename when it changed. */
static int bta_value(struct otc_instance *ext, char *out, size_t outlen)
{
    struct bta_ctx *x = ext->ctx;
    int rc = OTC_OK;

    pthread_mutex_lock(&x->lock);
    bta_refresh(x);
    if (!x->expected || x->expected_len + 1 > outlen) {
        rc = OTC_EINVAL;
    } else {
        memcpy(out, x->expected, x->expected_len + 1);
    }
    pthread_mutex_unlock(&x->lock);
    return rc;
}

static const struct otc_auth_ops bta_auth = {
    .server_header = bta_header,
    .server_check = bta_check,
    .client_header = bta_header,
    .client_value = bta_value,
};

const struct otc_component_ops otc_extension_bearertokenauth_ops = {
    .type = "bearertokenauth",
    .kind = OTC_EXTENSION,
    .signals = 0,
    .mutates = false,
    .concurrent = false,
    .ctx_size = sizeof(struct bta_ctx),
    .config_map = bta_config,
    .validate = bta_validate,
    .init = NULL,
    .start = bta_start,
    .consume = NULL,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = bta_destroy,
    .auth = &bta_auth,
    .storage = NULL,
};
