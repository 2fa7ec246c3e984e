/* ottl_text.c - the text machinery of the OTTL functions: PCRE2 search and
 * replace-all with Go's $1 / ${name} expansion, the optional hash of the
 * replace editors, and the glob patterns of replace_match. Pipeline worker
 * thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ottl_internal.h"

/* Match data for up to MD_PAIRS groups, one per thread, kept between calls
 * (freed when the thread ends); patterns with more groups get their own. */
#define MD_PAIRS 32
static pthread_key_t  md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_free(void *md)
{
    pcre2_match_data_free(md);
}

static void md_init(void)
{
    if (pthread_key_create(&md_key, md_free) != 0) {
        md_key = (pthread_key_t)-1;
    }
}

static pcre2_match_data *md_get(const pcre2_code *re, bool *own)
{
    uint32_t groups = 0;
    pcre2_match_data *md;

    pthread_once(&md_once, md_init);
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
    *own = groups + 1 > MD_PAIRS || md_key == (pthread_key_t)-1;
    if (*own) {
        return pcre2_match_data_create_from_pattern(re, NULL);
    }
    if (!(md = pthread_getspecific(md_key)) && (md = pcre2_match_data_create(MD_PAIRS, NULL)) &&
        pthread_setspecific(md_key, md) != 0) {
        *own = true; /* not kept: freed by the caller */
    }
    return md;
}

static void md_put(pcre2_match_data *md, bool own)
{
    if (own) {
        pcre2_match_data_free(md);
    }
}

/* SHA-256 through one fetched algorithm and a digest context per thread
 * (OpenSSL 3's one-shot SHA256() fetches the algorithm on every call). */
static EVP_MD        *sha_md;
static pthread_key_t  sha_key;
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void sha_ctx_free(void *c)
{
    EVP_MD_CTX_free(c);
}

static void sha_init(void)
{
    sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (pthread_key_create(&sha_key, sha_ctx_free) != 0) {
        EVP_MD_free(sha_md);
        sha_md = NULL;
    }
}

void ottl_sha256(const void *p, size_t n, unsigned char out[SHA256_DIGEST_LENGTH])
{
    EVP_MD_CTX *c;
    unsigned int len;

    pthread_once(&sha_once, sha_init);
    if (sha_md && ((c = pthread_getspecific(sha_key)) ||
                   ((c = EVP_MD_CTX_new()) && (pthread_setspecific(sha_key, c) == 0 ||
                                              (EVP_MD_CTX_free(c), c = NULL, false))))) {
        if (EVP_DigestInit_ex2(c, sha_md, NULL) && EVP_DigestUpdate(c, p, n) &&
            EVP_DigestFinal_ex(c, out, &len)) {
            return;
        }
    }
    SHA256(p, n, out); /* the slow path, when the above could not be set up */
}

/* pcre2_jit_match when the pattern was JIT-compiled (it skips the checks
 * pcre2_match repeats on every call), else pcre2_match. */
static int re_match(const pcre2_code *re, const char *s, size_t len, size_t at, pcre2_match_data *md)
{
    size_t jit = 0;

    if (pcre2_pattern_info(re, PCRE2_INFO_JITSIZE, &jit) == 0 && jit > 0) {
        return pcre2_jit_match(re, (PCRE2_SPTR)s, len, at, 0, md, NULL);
    }
    return pcre2_match(re, (PCRE2_SPTR)s, len, at, 0, md, NULL);
}

/* Whether the regex matches anywhere in s. */
int ottl_re_search(struct ottl_run *r, const pcre2_code *re, const char *s, size_t len,
                     bool *found)
{
    bool own;
    pcre2_match_data *md = md_get(re, &own);
    int rc;

    if (!md) {
        return OTC_ENOMEM;
    }
    rc = re_match(re, s, len, 0, md);
    md_put(md, own);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        return ottl_fail(r, "regex match failed (PCRE2 error %d)", rc);
    }
    *found = rc >= 0;
    return OTC_OK;
}

static bool isalnum_ascii(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void ottl_sb_add(struct ottl_sbuf *b, const char *s, size_t n)
{
    if (b->oom || !n) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap * 2 : 64) + n;
        char *g = realloc(b->p, nc);
        if (!g) {
            b->oom = true;
            return;
        }
        b->p = g;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Go's Regexp.Expand: $1, ${1}, $name, ${name}, $$ in tmpl, from the match
 * ov (pairs of offsets) in subject. $name takes the longest run of letters,
 * digits and underscores; an unknown group expands to nothing. */
static void expand(struct ottl_sbuf *b, const pcre2_code *re, const char *tmpl, size_t tlen,
                   const char *subject, const PCRE2_SIZE *ov, int groups)
{
    for (size_t i = 0; i < tlen; i++) {
        char name[64];
        size_t n = 0, j;
        int g = -1;

        if (tmpl[i] != '$' || i + 1 >= tlen) {
            ottl_sb_add(b, tmpl + i, 1);
            continue;
        }
        j = i + 1;
        if (tmpl[j] == '$') {
            ottl_sb_add(b, "$", 1);
            i = j;
            continue;
        }
        if (tmpl[j] == '{') {
            const char *close = memchr(tmpl + j, '}', tlen - j);
            if (!close) {
                ottl_sb_add(b, tmpl + i, 1);
                continue;
            }
            n = (size_t)(close - tmpl - j - 1);
            if (n == 0 || n >= sizeof(name)) {
                ottl_sb_add(b, tmpl + i, 1);
                continue;
            }
            memcpy(name, tmpl + j + 1, n);
            i = (size_t)(close - tmpl);
        } else {
            while (j + n < tlen && n + 1 < sizeof(name) &&
                   (isalnum_ascii(tmpl[j + n]) || tmpl[j + n] == '_')) {
                name[n] = tmpl[j + n];
                n++;
            }
            if (n == 0) {
                ottl_sb_add(b, tmpl + i, 1);
                continue;
            }
            i = j + n - 1;
        }
        name[n] = '\0';
        if (strspn(name, "0123456789") == n) {
            g = atoi(name);
        } else {
            g = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
        }
        if (g >= 0 && g < groups && ov[2 * g] != PCRE2_UNSET) {
            ottl_sb_add(b, subject + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
        }
    }
}

void ottl_hex_lower(char *out, const unsigned char *p, size_t n)
{
    static const char d[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The optional hash function and format of the replace_* editors applied to
 * one expanded replacement: fmt with its %s replaced by the hash. */
void ottl_apply_fn(struct ottl_sbuf *b, const struct ottl_node *fn, const char *fmt, const char *s,
                     size_t n)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char h[2 * SHA256_DIGEST_LENGTH + 1];
    const char *pct;

    (void)fn; /* SHA256, the one function the parser accepts here */
    ottl_sha256(s, n, md);
    ottl_hex_lower(h, md, sizeof(md));
    if (!fmt || !(pct = strstr(fmt, "%s"))) {
        ottl_sb_add(b, h, strlen(h));
        return;
    }
    ottl_sb_add(b, fmt, (size_t)(pct - fmt));
    ottl_sb_add(b, h, strlen(h));
    ottl_sb_add(b, pct + 2, strlen(pct + 2));
}

/* Replace every match of re in s (Go's ReplaceAllString), with the expanded
 * template, hashed when fn is given. *out NULL when nothing matched. */
int ottl_re_replace(struct ottl_run *r, const pcre2_code *re, const char *s, size_t len,
                      const char *tmpl, size_t tlen, const struct ottl_node *fn, const char *fmt,
                      char **out, size_t *outlen)
{
    bool own;
    pcre2_match_data *md = md_get(re, &own);
    struct ottl_sbuf b = {0};
    size_t at = 0, copied = 0;
    bool any = false;

    *out = NULL;
    if (!md) {
        return OTC_ENOMEM;
    }
    while (at <= len) {
        int rc = re_match(re, s, len, at, md);
        PCRE2_SIZE *ov;
        if (rc == PCRE2_ERROR_NOMATCH) {
            break;
        }
        if (rc < 0) {
            md_put(md, own);
            free(b.p);
            return ottl_fail(r, "regex match failed (PCRE2 error %d)", rc);
        }
        ov = pcre2_get_ovector_pointer(md);
        any = true;
        ottl_sb_add(&b, s + copied, ov[0] - copied);
        if (fn) {
            struct ottl_sbuf e = {0};
            expand(&e, re, tmpl, tlen, s, ov, rc);
            ottl_apply_fn(&b, fn, fmt, e.p ? e.p : "", e.len);
            b.oom |= e.oom;
            free(e.p);
        } else {
            expand(&b, re, tmpl, tlen, s, ov, rc);
        }
        copied = ov[1];
        if (ov[1] == ov[0]) { /* an empty match: step over one character */
            if (ov[1] >= len) {
                break;
            }
            at = ov[1] + 1;
        } else {
            at = ov[1];
        }
    }
    md_put(md, own);
    if (!any) {
        free(b.p);
        return OTC_OK;
    }
    ottl_sb_add(&b, s + copied, len - copied);
    if (b.oom || !(*out = ottl_arena_strndup(r->env->arena, b.p ? b.p : "", b.len))) {
        free(b.p);
        return OTC_ENOMEM;
    }
    *outlen = b.len;
    free(b.p);
    return OTC_OK;
}

/* gobwas/glob as OTTL's replace_match uses it: * ? [abc] [!a-z] {a,b} \x. */
bool ottl_glob(const char *p, const char *s)
{
    for (; *p; p++) {
        switch (*p) {
        case '*':
            for (const char *t = s;; t++) {
                if (ottl_glob(p + 1, t)) {
                    return true;
                }
                if (!*t) {
                    return false;
                }
            }
        case '?':
            if (!*s) {
                return false;
            }
            s++;
            break;
        case '[': {
            bool neg = p[1] == '!', hit = false;
            const char *q = p + 1 + neg;
            if (!*s) {
                return false;
            }
            for (; *q && *q != ']'; q++) {
                if (q[1] == '-' && q[2] && q[2] != ']') {
                    hit |= *s >= q[0] && *s <= q[2];
                    q += 2;
                } else {
                    hit |= *s == *q;
                }
            }
            if (!*q || hit == neg) {
                return false;
            }
            p = q;
            s++;
            break;
        }
        case '{': {
            const char *close = strchr(p, '}'), *alt = p + 1;
            if (!close) {
                return *s == '{' && ottl_glob(p + 1, s + 1);
            }
            while (alt <= close) {
                const char *end = alt;
                char buf[512];
                while (end < close && *end != ',') {
                    end++;
                }
                if ((size_t)(end - alt) + strlen(close + 1) < sizeof(buf)) {
                    snprintf(buf, sizeof(buf), "%.*s%s", (int)(end - alt), alt, close + 1);
                    if (ottl_glob(buf, s)) {
                        return true;
                    }
                }
                alt = end + 1;
            }
            return false;
        }
        case '\\':
            if (p[1]) {
                p++;
            }
            /* fall through */
        default:
            if (*s != *p) {
                return false;
            }
            s++;
        }
    }
    return !*s;
}
