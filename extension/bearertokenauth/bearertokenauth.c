/* bearertokenauth.c - the `bearertokenauth` extension: holds a token (inline,
 * one of a list of `tokens`, or read from `filename`, re-read when the file
 * changes) that the otlp receiver requires on every request and the otlp
 * exporter sends on every call.
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
    struct otc_strlist tokens;
    char *filename;
    char *scheme;
    char *header;
    /* runtime */
    struct otc_instance *ins;
    pthread_mutex_t      lock;
    bool                 lock_ready;
    char                *expected;   /* "<scheme> <token>" */
    size_t               expected_len;
    char               **also;       /* tokens[1..]: "<scheme> <token>" each, also accepted */
    size_t              *also_len;
    size_t               n_also;
    struct timespec      mtime;      /* of filename when last read */
    off_t                size;
    ino_t                ino;
    uint64_t             checked_s;  /* monotonic second of the last stat() */
};

#define OFF(f) offsetof(struct bta_ctx, f)

static const struct otc_config_entry bta_config[] = {
    {OTC_CFG_STR, "token", NULL, OFF(token), 0, 0, 0, NULL,
     "the token (one of token, tokens or filename is required)"},
    {OTC_CFG_STRLIST, "tokens", NULL, OFF(tokens), 0, 0, 0, NULL,
     "several tokens, instead of token: a request carrying any of them is accepted; "
     "exporters send the first"},
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

    if ((!x->token || !*x->token) && !x->tokens.n && (!x->filename || !*x->filename)) {
        snprintf(err, errlen, "one of \"token\", \"tokens\" or \"filename\" is required");
        return OTC_EINVAL;
    }
    if (x->token && *x->token && x->tokens.n) {
        snprintf(err, errlen, "either \"token\" or \"tokens\" can be given, not both");
        return OTC_EINVAL;
    }
    for (size_t i = 0; i < x->tokens.n; i++) {
        if (!*x->tokens.v[i] || strpbrk(x->tokens.v[i], "\r\n")) {
            snprintf(err, errlen, "tokens[%zu] must be a token without line breaks", i);
            return OTC_EINVAL;
        }
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

/* The expected header values of tokens[1..] (start, before other threads). */
static int bta_set_also(struct bta_ctx *x)
{
    char *first = x->expected;
    size_t first_len = x->expected_len;
    int rc = OTC_OK;

    x->also = calloc(x->tokens.n - 1, sizeof(*x->also));
    x->also_len = calloc(x->tokens.n - 1, sizeof(*x->also_len));
    if (!x->also || !x->also_len) {
        return OTC_ENOMEM;
    }
    x->expected = NULL;
    for (size_t i = 1; i < x->tokens.n && rc == OTC_OK; i++) {
        rc = bta_set_token(x, x->tokens.v[i], strlen(x->tokens.v[i]));
        if (rc == OTC_OK) {
            x->also[x->n_also] = x->expected;
            x->also_len[x->n_also++] = x->expected_len;
            x->expected = NULL;
        }
    }
    x->expected = first;
    x->expected_len = first_len;
    return rc;
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
    if (x->tokens.n) {
        /* the first is sent by exporters; every one is accepted by receivers */
        rc = bta_set_token(x, x->tokens.v[0], strlen(x->tokens.v[0]));
        if (rc == OTC_OK && x->tokens.n > 1) {
            rc = bta_set_also(x);
        }
        return rc;
    }
    rc = bta_set_token(x, x->token, strlen(x->token));
    return rc;
}

static void bta_destroy(void *ctx)
{
    struct bta_ctx *x = ctx;

    free(x->expected);
    x->expected = NULL;
    for (size_t i = 0; i < x->n_also; i++) {
        free(x->also[i]);
    }
    free(x->also);
    free(x->also_len);
    x->also = NULL;
    x->also_len = NULL;
    x->n_also = 0;
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
/* 0 when value equals want. Constant time in the token: every expected byte
 * is compared, whatever the given value holds (its length only decides the
 * outcome). */
static unsigned char bta_differs(const char *want, size_t n, const char *value, size_t len)
{
    unsigned char diff = (unsigned char)(len != n || !value || !want);

    for (size_t i = 0; want && i < n; i++) {
        unsigned char c = (value && i < len) ? (unsigned char)value[i] : 0;
        diff |= (unsigned char)(c ^ (unsigned char)want[i]);
    }
    return diff;
}

static int bta_check(struct otc_instance *ext, const char *value, size_t len)
{
    struct bta_ctx *x = ext->ctx;
    bool ok;

    pthread_mutex_lock(&x->lock);
    bta_refresh(x);
    ok = !bta_differs(x->expected, x->expected_len, value, len);
    for (size_t i = 0; i < x->n_also; i++) { /* all compared: no early exit */
        ok |= !bta_differs(x->also[i], x->also_len[i], value, len);
    }
    pthread_mutex_unlock(&x->lock);
    return ok ? OTC_OK : OTC_EPERM;
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
