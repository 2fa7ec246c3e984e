/* otlphttp_tls.h - the otlphttp exporter's `tls` block (otelcol configtls
 * ClientConfig) and the OpenSSL client context built from it. Private to
 * exporter/otlphttp/ and its unit tests. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXPORTER_OTLPHTTP_TLS_H
#define OTC_EXPORTER_OTLPHTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "otc/otc_config_map.h"

/* tls.* as configured. */
struct otlphttp_tls {
    bool               insecure;
    char              *ca_file;
    char              *ca_pem;
    bool               include_system_ca;
    char              *cert_file;
    char              *cert_pem;
    char              *key_file;
    char              *key_pem;
    char              *min_version;
    char              *max_version;
    struct otc_strlist cipher_suites;
    struct otc_strlist curve_preferences;
    int64_t            reload_interval_ns;
    bool               skip_verify;
    char              *server_name;
    bool               tpm_enabled;
    char              *tpm_path;
    char              *tpm_owner_auth;
    char              *tpm_auth;
};

/* The config map rows of the block, each key prefixed with "tls."; base is
 * the offset of the struct otlphttp_tls in the component's context. */
#define OTLPHTTP_TLS_ROWS(base)                                                                   \
    {OTC_CFG_BOOL, "tls.insecure", "false", (base) + offsetof(struct otlphttp_tls, insecure), 0,  \
     0, 0, NULL,                                                                                 \
     "accepted for otelcol; the URL scheme decides (http:// plaintext, https:// TLS). As in "    \
     "otelcol, true without ca_file/ca_pem makes https use the defaults: system roots, no "      \
     "client certificate"},                                                                      \
    {OTC_CFG_STR, "tls.ca_file", NULL, (base) + offsetof(struct otlphttp_tls, ca_file), 0, 0, 0, \
     NULL, "PEM CA bundle to verify the server (default: system roots)"},                        \
    {OTC_CFG_STR, "tls.ca_pem", NULL, (base) + offsetof(struct otlphttp_tls, ca_pem), 0, 0, 0,   \
     NULL, "the CA bundle itself, PEM (instead of ca_file)"},                                    \
    {OTC_CFG_BOOL, "tls.include_system_ca_certs_pool", "false",                                  \
     (base) + offsetof(struct otlphttp_tls, include_system_ca), 0, 0, 0, NULL,                   \
     "trust the system roots as well as ca_file / ca_pem"},                                      \
    {OTC_CFG_STR, "tls.cert_file", NULL, (base) + offsetof(struct otlphttp_tls, cert_file), 0,   \
     0, 0, NULL, "PEM client certificate (chain) for mTLS; with key_file"},                      \
    {OTC_CFG_STR, "tls.cert_pem", NULL, (base) + offsetof(struct otlphttp_tls, cert_pem), 0, 0,  \
     0, NULL, "the client certificate itself, PEM (instead of cert_file)"},                      \
    {OTC_CFG_STR, "tls.key_file", NULL, (base) + offsetof(struct otlphttp_tls, key_file), 0, 0,  \
     0, NULL, "PEM private key of the client certificate"},                                      \
    {OTC_CFG_STR, "tls.key_pem", NULL, (base) + offsetof(struct otlphttp_tls, key_pem), 0, 0, 0, \
     NULL, "the client key itself, PEM (instead of key_file)"},                                  \
    {OTC_CFG_STR, "tls.min_version", NULL, (base) + offsetof(struct otlphttp_tls, min_version),  \
     0, 0, 0, NULL, "lowest TLS version: 1.0, 1.1, 1.2 or 1.3 (empty: 1.2)"},                    \
    {OTC_CFG_STR, "tls.max_version", NULL, (base) + offsetof(struct otlphttp_tls, max_version),  \
     0, 0, 0, NULL, "highest TLS version: 1.0, 1.1, 1.2 or 1.3 (empty: the highest, 1.3)"},      \
    {OTC_CFG_STRLIST, "tls.cipher_suites", NULL,                                                 \
     (base) + offsetof(struct otlphttp_tls, cipher_suites), 0, 0, 0, NULL,                       \
     "TLS 1.0-1.2 cipher suites by IANA name (as Go names them); TLS 1.3 names are accepted "    \
     "and, as in Go, not configurable (empty: OpenSSL's defaults)"},                             \
    {OTC_CFG_STRLIST, "tls.curve_preferences", NULL,                                             \
     (base) + offsetof(struct otlphttp_tls, curve_preferences), 0, 0, 0, NULL,                   \
     "key exchange groups in order: X25519, P256, P384, P521; X25519MLKEM768 is accepted and "   \
     "skipped (not in OpenSSL 3.0)"},                                                            \
    {OTC_CFG_DURATION, "tls.reload_interval", "0",                                               \
     (base) + offsetof(struct otlphttp_tls, reload_interval_ns), 0, 0, 0, NULL,                  \
     "re-read the certificate and key files this often, for new connections (0 = never)"},      \
    {OTC_CFG_BOOL, "tls.insecure_skip_verify", "false",                                          \
     (base) + offsetof(struct otlphttp_tls, skip_verify), 0, 0, 0, NULL,                         \
     "TLS without checking the server's certificate or name (testing only)"},                    \
    {OTC_CFG_STR, "tls.server_name_override", NULL,                                              \
     (base) + offsetof(struct otlphttp_tls, server_name), 0, 0, 0, NULL,                         \
     "name sent as SNI and checked against the server's certificate (default: the URL's host)"}, \
    {OTC_CFG_BOOL, "tls.tpm.enabled", "false", (base) + offsetof(struct otlphttp_tls, tpm_enabled),\
     0, 0, 0, NULL,                                                                              \
     "accepted for otelcol; otelc has no TPM support: key_file must hold a PEM key"},            \
    {OTC_CFG_STR, "tls.tpm.path", NULL, (base) + offsetof(struct otlphttp_tls, tpm_path), 0, 0,  \
     0, NULL, "accepted for otelcol; no effect (no TPM support)"},                               \
    {OTC_CFG_STR, "tls.tpm.owner_auth", NULL, (base) + offsetof(struct otlphttp_tls, tpm_owner_auth),\
     0, 0, 0, NULL, "accepted for otelcol; no effect (no TPM support)"},                         \
    {OTC_CFG_STR, "tls.tpm.auth", NULL, (base) + offsetof(struct otlphttp_tls, tpm_auth), 0, 0,  \
     0, NULL, "accepted for otelcol; no effect (no TPM support)"}

/* A tls.min_version / max_version value as an OpenSSL protocol version:
 * "" or NULL gives 0 (the default), "1.0" to "1.3" TLS1_VERSION to
 * TLS1_3_VERSION. OTC_EINVAL for anything else. */
int otc_otlphttp_tls_version(const char *text, int *out);

/* The checks otelcol's Config.Validate makes: one source per CA, certificate
 * and key, certificate and key together, versions valid and in order. The
 * files themselves are read at start. */
int otc_otlphttp_tls_check(const struct otlphttp_tls *t, char *err, size_t errlen);

/* The OpenSSL cipher list for cipher_suites (IANA names, TLS 1.3 ones
 * skipped), "" when none remain. OTC_EINVAL naming the unknown suite. */
int otc_otlphttp_tls_ciphers(const struct otc_strlist *suites, char *out, size_t n, char *err,
                             size_t errlen);

/* The OpenSSL groups list for curve_preferences, "" when none remain. */
int otc_otlphttp_tls_groups(const struct otc_strlist *curves, char *out, size_t n, char *err,
                            size_t errlen);

/* Whether the https connections of t use the defaults only (otelcol's
 * insecure without a CA: system roots, no client certificate). */
bool otc_otlphttp_tls_defaults_only(const struct otlphttp_tls *t);

/* A client context for t: verification, versions, ciphers, groups, CA and
 * client certificate. NULL with the reason, naming the file, in err. */
SSL_CTX *otc_otlphttp_tls_ctx(const struct otlphttp_tls *t, char *err, size_t errlen);

#endif
