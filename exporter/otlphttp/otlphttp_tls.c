/* otlphttp_tls.c - the otlphttp exporter's `tls` block: the checks otelcol's
 * configtls makes at validation, and the OpenSSL client context built at
 * start (and again at tls.reload_interval). Runs on the start thread and,
 * for reloads, on a sending_queue thread under the exporter's lock. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "otlphttp_tls.h"
#include "otc/otc_log.h"
#include "otc/otc_rc.h"

int otc_otlphttp_tls_version(const char *text, int *out)
{
    static const struct {
        const char *name;
        int         v;
    } versions[] = {
        {"1.0", TLS1_VERSION},
        {"1.1", TLS1_1_VERSION},
        {"1.2", TLS1_2_VERSION},
        {"1.3", TLS1_3_VERSION},
    };

    if (!text || !*text) {
        *out = 0;
        return OTC_OK;
    }
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        if (!strcmp(text, versions[i].name)) {
            *out = versions[i].v;
            return OTC_OK;
        }
    }
    return OTC_EINVAL;
}

static bool set(const char *s)
{
    return s && *s;
}

int otc_otlphttp_tls_check(const struct otlphttp_tls *t, char *err, size_t errlen)
{
    int min = 0, max = 0;
    char buf[1024];

    if (set(t->ca_file) && set(t->ca_pem)) {
        snprintf(err, errlen, "tls: provide either ca_file or ca_pem, not both");
        return OTC_EINVAL;
    }
    if (set(t->cert_file) && set(t->cert_pem)) {
        snprintf(err, errlen, "tls: provide either cert_file or cert_pem, not both");
        return OTC_EINVAL;
    }
    if (set(t->key_file) && set(t->key_pem)) {
        snprintf(err, errlen, "tls: provide either key_file or key_pem, not both");
        return OTC_EINVAL;
    }
    if ((set(t->cert_file) || set(t->cert_pem)) != (set(t->key_file) || set(t->key_pem))) {
        snprintf(err, errlen, "tls: a client certificate needs both cert_file (or cert_pem) and "
                 "key_file (or key_pem)");
        return OTC_EINVAL;
    }
    if (otc_otlphttp_tls_version(t->min_version, &min) != OTC_OK) {
        snprintf(err, errlen, "tls.min_version: \"%s\" is not a TLS version (1.0, 1.1, 1.2, 1.3)",
                 t->min_version);
        return OTC_EINVAL;
    }
    if (otc_otlphttp_tls_version(t->max_version, &max) != OTC_OK) {
        snprintf(err, errlen, "tls.max_version: \"%s\" is not a TLS version (1.0, 1.1, 1.2, 1.3)",
                 t->max_version);
        return OTC_EINVAL;
    }
    if (max && max < (min ? min : TLS1_2_VERSION)) {
        snprintf(err, errlen, "tls: min_version (%s) cannot be greater than max_version (%s)",
                 set(t->min_version) ? t->min_version : "1.2", t->max_version);
        return OTC_EINVAL;
    }
    if (otc_otlphttp_tls_ciphers(&t->cipher_suites, buf, sizeof(buf), err, errlen) != OTC_OK ||
        otc_otlphttp_tls_groups(&t->curve_preferences, buf, sizeof(buf), err, errlen) != OTC_OK) {
        return OTC_EINVAL;
    }
    if (t->reload_interval_ns < 0) {
        snprintf(err, errlen, "tls.reload_interval must not be negative");
        return OTC_EINVAL;
    }
    return OTC_OK;
}

/* TLS 1.3 suites, which Go (and so otelcol) does not let a config choose. */
static bool tls13_suite(const char *name)
{
    return !strcmp(name, "TLS_AES_128_GCM_SHA256") || !strcmp(name, "TLS_AES_256_GCM_SHA384") ||
           !strcmp(name, "TLS_CHACHA20_POLY1305_SHA256");
}

static int append(char *out, size_t n, size_t *used, const char *item)
{
    int w = snprintf(out + *used, n - *used, "%s%s", *used ? ":" : "", item);

    if (w < 0 || (size_t)w >= n - *used) {
        return OTC_ELIMIT;
    }
    *used += (size_t)w;
    return OTC_OK;
}

int otc_otlphttp_tls_ciphers(const struct otc_strlist *suites, char *out, size_t n, char *err,
                             size_t errlen)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < suites->n; i++) {
        const char *name = suites->v[i];
        const char *ossl;

        if (tls13_suite(name)) {
            continue;
        }
        ossl = OPENSSL_cipher_name(name);
        if (!ossl || !strcmp(ossl, "(NONE)")) {
            snprintf(err, errlen, "tls.cipher_suites: \"%s\" is not a TLS cipher suite", name);
            return OTC_EINVAL;
        }
        if (append(out, n, &used, ossl) != OTC_OK) {
            snprintf(err, errlen, "tls.cipher_suites: too many");
            return OTC_EINVAL;
        }
    }
    return OTC_OK;
}

int otc_otlphttp_tls_groups(const struct otc_strlist *curves, char *out, size_t n, char *err,
                            size_t errlen)
{
    static const struct {
        const char *go;
        const char *ossl; /* NULL: accepted, not available */
    } groups[] = {
        {"X25519", "X25519"}, {"P256", "P-256"}, {"P384", "P-384"},
        {"P521", "P-521"},    {"X25519MLKEM768", NULL},
    };
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < curves->n; i++) {
        size_t k;

        for (k = 0; k < sizeof(groups) / sizeof(groups[0]); k++) {
            if (!strcmp(curves->v[i], groups[k].go)) {
                break;
            }
        }
        if (k == sizeof(groups) / sizeof(groups[0])) {
            snprintf(err, errlen, "tls.curve_preferences: \"%s\" is not a curve (X25519, P256, "
                     "P384, P521, X25519MLKEM768)", curves->v[i]);
            return OTC_EINVAL;
        }
        if (groups[k].ossl && append(out, n, &used, groups[k].ossl) != OTC_OK) {
            snprintf(err, errlen, "tls.curve_preferences: too many");
            return OTC_EINVAL;
        }
    }
    return OTC_OK;
}

bool otc_otlphttp_tls_defaults_only(const struct otlphttp_tls *t)
{
    return t->insecure && !set(t->ca_file) && !set(t->ca_pem);
}

/* The reason a file cannot be used: the OS's when it cannot be opened,
 * OpenSSL's otherwise. */
static void file_error(const char *what, const char *path, char *err, size_t errlen)
{
    char why[512];
    FILE *f = fopen(path, "rb");

    if (!f) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        ERR_clear_error();
        return;
    }
    fclose(f);
    otc_ssl_errors(why, sizeof(why));
    snprintf(err, errlen, "%s %s: not a usable PEM file (OpenSSL: %s)", what, path,
             why[0] ? why : "no PEM data in it");
}

/* Every certificate of a PEM text into store; how many were added. */
static int add_pem_certs(X509_STORE *store, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x;
    int n = 0;

    if (!bio) {
        return 0;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (X509_STORE_add_cert(store, x) == 1) {
            n++;
        }
        X509_free(x);
    }
    ERR_clear_error(); /* the end of the text reads as an error */
    BIO_free(bio);
    return n;
}

static int use_pem_identity(SSL_CTX *ctx, const char *cert_pem, const char *key_pem)
{
    BIO *bio = BIO_new_mem_buf(cert_pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    EVP_PKEY *key = NULL;
    int ok = 0;

    if (x && SSL_CTX_use_certificate(ctx, x) == 1) {
        X509 *chain;

        ok = 1;
        while (ok && (chain = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
            ok = SSL_CTX_add_extra_chain_cert(ctx, chain) == 1; /* takes chain */
            if (!ok) {
                X509_free(chain);
            }
        }
        ERR_clear_error();
    }
    X509_free(x);
    BIO_free(bio);
    if (!ok) {
        return 0;
    }
    bio = BIO_new_mem_buf(key_pem, -1);
    key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    BIO_free(bio);
    return ok;
}

SSL_CTX *otc_otlphttp_tls_ctx(const struct otlphttp_tls *t, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char list[1024], why[512];
    int min = 0, max = 0;

    ERR_clear_error();
    if (!ctx) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    if (otc_otlphttp_tls_defaults_only(t)) {
        /* otelcol: insecure and no CA load nothing; Go's default TLS applies */
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            goto openssl_err;
        }
        return ctx;
    }
    (void)otc_otlphttp_tls_version(t->min_version, &min);
    (void)otc_otlphttp_tls_version(t->max_version, &max);
    if (!SSL_CTX_set_min_proto_version(ctx, min ? min : TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, max)) {
        goto openssl_err;
    }
    if (otc_otlphttp_tls_ciphers(&t->cipher_suites, list, sizeof(list), err, errlen) != OTC_OK) {
        goto fail;
    }
    if (list[0] && SSL_CTX_set_cipher_list(ctx, list) != 1) {
        snprintf(err, errlen, "tls.cipher_suites: OpenSSL accepts none of them");
        goto fail;
    }
    if (otc_otlphttp_tls_groups(&t->curve_preferences, list, sizeof(list), err, errlen) != OTC_OK) {
        goto fail;
    }
    if (list[0] && SSL_CTX_set1_groups_list(ctx, list) != 1) {
        snprintf(err, errlen, "tls.curve_preferences: OpenSSL accepts none of them");
        goto fail;
    }
    /* trust: ca_file / ca_pem, else (or also) the system roots */
    if (set(t->ca_file)) {
        if (SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL) != 1) {
            file_error("tls.ca_file", t->ca_file, err, errlen);
            goto fail;
        }
    } else if (set(t->ca_pem)) {
        if (add_pem_certs(SSL_CTX_get_cert_store(ctx), t->ca_pem) == 0) {
            snprintf(err, errlen, "tls.ca_pem: no PEM certificate in it");
            goto fail;
        }
    }
    if ((!set(t->ca_file) && !set(t->ca_pem)) || t->include_system_ca) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            goto openssl_err;
        }
    }
    SSL_CTX_set_verify(ctx, t->skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    /* the client certificate */
    if (set(t->cert_file)) {
        if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1) {
            file_error("tls.cert_file", t->cert_file, err, errlen);
            goto fail;
        }
    }
    if (set(t->key_file)) {
        if (SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM) != 1) {
            file_error("tls.key_file", t->key_file, err, errlen);
            goto fail;
        }
    }
    if (set(t->cert_pem) || set(t->key_pem)) {
        /* one may come from a file and the other from the config */
        if (set(t->cert_pem) && set(t->key_pem)) {
            if (!use_pem_identity(ctx, t->cert_pem, t->key_pem)) {
                snprintf(err, errlen, "tls.cert_pem / tls.key_pem: not a PEM certificate and key");
                goto fail;
            }
        } else if (set(t->cert_pem)) {
            BIO *bio = BIO_new_mem_buf(t->cert_pem, -1);
            X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
            int ok = x && SSL_CTX_use_certificate(ctx, x) == 1;

            X509_free(x);
            BIO_free(bio);
            if (!ok) {
                snprintf(err, errlen, "tls.cert_pem: not a PEM certificate");
                goto fail;
            }
        } else {
            BIO *bio = BIO_new_mem_buf(t->key_pem, -1);
            EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
            int ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1;

            EVP_PKEY_free(key);
            BIO_free(bio);
            if (!ok) {
                snprintf(err, errlen, "tls.key_pem: not a PEM private key");
                goto fail;
            }
        }
    }
    if ((set(t->cert_file) || set(t->cert_pem)) && SSL_CTX_check_private_key(ctx) != 1) {
        otc_ssl_errors(why, sizeof(why));
        snprintf(err, errlen, "tls: the key (%s) does not match the certificate (%s): %s",
                 set(t->key_file) ? t->key_file : "key_pem",
                 set(t->cert_file) ? t->cert_file : "cert_pem", why);
        goto fail;
    }
    return ctx;
openssl_err:
    otc_ssl_errors(why, sizeof(why));
    snprintf(err, errlen, "tls: %s", why[0] ? why : "rejected by OpenSSL");
fail:
    SSL_CTX_free(ctx);
    return NULL;
}
