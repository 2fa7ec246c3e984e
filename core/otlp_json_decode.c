/* otlp_json_decode.c - OTLP/JSON decoder: json-c parses the text, then a walk
 * driven by protobuf-c descriptors fills the message in an arena, with OTLP's
 * rules (hex trace/span ids, enums as integers or names, 64-bit integers as
 * strings or numbers, unknown fields ignored). Runs on the calling receiver's
 * thread (OTLP/HTTP); reentrant, no global state. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "otc/otc_json.h"
#include "otc/otc_rc.h"

struct json_dec {
    struct otc_arena *arena;
    unsigned          depth;   /* messages currently open */
    char              path[256];
    size_t            plen;
    char             *err;
    size_t            errlen;
};

static int jd_message(struct json_dec *d, const ProtobufCMessageDescriptor *desc,
                      json_object *obj, ProtobufCMessage **out);

/* ---- errors and the field path ------------------------------------------ */

static int jd_fail(struct json_dec *d, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int jd_fail(struct json_dec *d, int rc, const char *fmt, ...)
{
    char reason[160];
    va_list ap;

    if (d->err && d->errlen) {
        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        if (d->plen) {
            snprintf(d->err, d->errlen, "%s: %s", d->path, reason);
        } else {
            snprintf(d->err, d->errlen, "%s", reason);
        }
    }
    return rc;
}

/* Append ".key" (or "key" at the root) or "[i]" to the path; returns the old
 * length to restore. A path too long for the buffer ends in "...". */
static size_t jd_push_key(struct json_dec *d, const char *key)
{
    size_t old = d->plen;
    int n = snprintf(d->path + d->plen, sizeof(d->path) - d->plen, "%s%s",
                     d->plen ? "." : "", key);

    if (n < 0 || (size_t)n >= sizeof(d->path) - d->plen) {
        memcpy(d->path + sizeof(d->path) - 4, "...", 4);
        d->plen = sizeof(d->path) - 1;
    } else {
        d->plen += (size_t)n;
    }
    return old;
}

static size_t jd_push_index(struct json_dec *d, size_t i)
{
    size_t old = d->plen;
    int n = snprintf(d->path + d->plen, sizeof(d->path) - d->plen, "[%zu]", i);

    if (n < 0 || (size_t)n >= sizeof(d->path) - d->plen) {
        memcpy(d->path + sizeof(d->path) - 4, "...", 4);
        d->plen = sizeof(d->path) - 1;
    } else {
        d->plen += (size_t)n;
    }
    return old;
}

static void jd_pop(struct json_dec *d, size_t old)
{
    d->plen = old;
    d->path[old] = '\0';
}

static const char *jd_type_name(json_object *v)
{
    return json_type_to_name(json_object_get_type(v));
}

/* ---- keys ---------------------------------------------------------------- */

/* True when key is the lowerCamelCase JSON name of the proto field name. */
static int jd_json_name_eq(const char *name, const char *key)
{
    int upper = 0;

    for (; *name; name++) {
        char c;

        if (*name == '_') {
            upper = 1;
            continue;
        }
        c = (upper && *name >= 'a' && *name <= 'z') ? (char)(*name - 'a' + 'A') : *name;
        upper = 0;
        if (*key++ != c) {
            return 0;
        }
    }
    return *key == '\0';
}

static const ProtobufCFieldDescriptor *jd_find_field(const ProtobufCMessageDescriptor *desc,
                                                     const char *key)
{
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];

        if (jd_json_name_eq(f->name, key) || strcmp(f->name, key) == 0) {
            return f;
        }
    }
    return NULL;
}

/* ---- numbers ------------------------------------------------------------- */

/* A JSON integer, a decimal string, or an integral JSON number, as a sign and
 * magnitude. */
static int jd_integer(struct json_dec *d, json_object *v, int *neg, uint64_t *mag)
{
    switch (json_object_get_type(v)) {
    case json_type_int: {
        int64_t i = json_object_get_int64(v);

        if (i < 0) {
            *neg = 1;
            *mag = (uint64_t)(-(i + 1)) + 1;
        } else {
            *neg = 0;
            *mag = json_object_get_uint64(v); /* exact above INT64_MAX too */
        }
        return OTC_OK;
    }
    case json_type_double: {
        double x = json_object_get_double(v);

        if (!isfinite(x) || x != trunc(x) || x >= 18446744073709551616.0 ||
            x < -9223372036854775808.0) {
            return jd_fail(d, OTC_EINVAL, "%g is not an integer in range", x);
        }
        *neg = x < 0;
        *mag = *neg ? (uint64_t)(-x) : (uint64_t)x;
        return OTC_OK;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        const char *p = s;
        uint64_t m = 0;

        *neg = 0;
        if (*p == '-') {
            *neg = 1;
            p++;
        }
        if (*p == '\0') {
            return jd_fail(d, OTC_EINVAL, "\"%.40s\" is not an integer", s);
        }
        for (; *p; p++) {
            if (*p < '0' || *p > '9') {
                return jd_fail(d, OTC_EINVAL, "\"%.40s\" is not an integer", s);
            }
            if (m > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
                return jd_fail(d, OTC_EINVAL, "\"%.40s\" is out of range", s);
            }
            m = m * 10 + (uint64_t)(*p - '0');
        }
        *mag = m;
        return OTC_OK;
    }
    default:
        return jd_fail(d, OTC_EINVAL, "expected an integer, got %s", jd_type_name(v));
    }
}

static int jd_signed(struct json_dec *d, json_object *v, int64_t min, int64_t max, int64_t *out)
{
    int neg;
    uint64_t mag;
    int rc = jd_integer(d, v, &neg, &mag);

    if (rc != OTC_OK) {
        return rc;
    }
    if (neg) {
        if (mag > (uint64_t)(-(min + 1)) + 1) {
            return jd_fail(d, OTC_EINVAL, "-%" PRIu64 " is out of range", mag);
        }
        *out = mag == 0 ? 0 : -(int64_t)(mag - 1) - 1;
    } else {
        if (mag > (uint64_t)max) {
            return jd_fail(d, OTC_EINVAL, "%" PRIu64 " is out of range", mag);
        }
        *out = (int64_t)mag;
    }
    return OTC_OK;
}

static int jd_unsigned(struct json_dec *d, json_object *v, uint64_t max, uint64_t *out)
{
    int neg;
    uint64_t mag;
    int rc = jd_integer(d, v, &neg, &mag);

    if (rc != OTC_OK) {
        return rc;
    }
    if ((neg && mag != 0) || mag > max) {
        return jd_fail(d, OTC_EINVAL, "%s%" PRIu64 " is out of range", neg ? "-" : "", mag);
    }
    *out = mag;
    return OTC_OK;
}

/* A JSON number, or a string: "NaN", "Infinity", "-Infinity" or a decimal. */
static int jd_double(struct json_dec *d, json_object *v, double *out)
{
    switch (json_object_get_type(v)) {
    case json_type_int: {
        int64_t i = json_object_get_int64(v);

        *out = i < 0 ? (double)i : (double)json_object_get_uint64(v);
        return OTC_OK;
    }
    case json_type_double:
        *out = json_object_get_double(v);
        return OTC_OK;
    case json_type_string: {
        const char *s = json_object_get_string(v);
        char *end;

        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
        } else if (strcmp(s, "Infinity") == 0) {
            *out = INFINITY;
        } else if (strcmp(s, "-Infinity") == 0) {
            *out = -INFINITY;
        } else {
            /* a decimal in a string; not the words strtod knows ("nan", "inf") */
            if (*s == '\0' || strpbrk(s, "nNiIxX") != NULL) {
                return jd_fail(d, OTC_EINVAL, "\"%.40s\" is not a number", s);
            }
            errno = 0;
            *out = strtod(s, &end);
            if (*end != '\0') {
                return jd_fail(d, OTC_EINVAL, "\"%.40s\" is not a number", s);
            }
        }
        return OTC_OK;
    }
    default:
        return jd_fail(d, OTC_EINVAL, "expected a number, got %s", jd_type_name(v));
    }
}

/* ---- bytes --------------------------------------------------------------- */

static int jd_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int jd_hex(struct json_dec *d, const char *s, size_t len, ProtobufCBinaryData *out)
{
    uint8_t *p;

    if (len % 2) {
        return jd_fail(d, OTC_EINVAL, "hex id has an odd number of digits (%zu)", len);
    }
    out->len = len / 2;
    out->data = NULL;
    if (out->len == 0) {
        return OTC_OK;
    }
    p = otc_arena_alloc(d->arena, out->len);
    if (!p) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < out->len; i++) {
        int hi = jd_hexval(s[2 * i]);
        int lo = jd_hexval(s[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return jd_fail(d, OTC_EINVAL, "invalid hex id \"%.64s\"", s);
        }
        p[i] = (uint8_t)(hi << 4 | lo);
    }
    out->data = p;
    return OTC_OK;
}

static int jd_b64val(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+' || c == '-') {
        return 62;
    }
    if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}

/* Base64, standard or URL-safe alphabet, padding optional (proto3 JSON). */
static int jd_base64(struct json_dec *d, const char *s, size_t len, ProtobufCBinaryData *out)
{
    uint8_t *p;
    size_t n = 0, pad = 0;
    uint32_t acc = 0;
    unsigned bits = 0;

    while (pad < 2 && len > 0 && s[len - 1] == '=') {
        len--;
        pad++;
    }
    if (len % 4 == 1 || (pad && (len + pad) % 4)) {
        return jd_fail(d, OTC_EINVAL, "invalid base64 length");
    }
    out->data = NULL;
    out->len = 0;
    if (len == 0) {
        return OTC_OK;
    }
    p = otc_arena_alloc(d->arena, len * 3 / 4 + 1);
    if (!p) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; i < len; i++) {
        int v = jd_b64val(s[i]);

        if (v < 0) {
            return jd_fail(d, OTC_EINVAL, "invalid base64 character at offset %zu", i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            p[n++] = (uint8_t)(acc >> bits);
        }
    }
    out->data = p;
    out->len = n;
    return OTC_OK;
}

static int jd_is_id_field(const ProtobufCFieldDescriptor *f)
{
    return strcmp(f->name, "trace_id") == 0 || strcmp(f->name, "span_id") == 0 ||
           strcmp(f->name, "parent_span_id") == 0;
}

/* ---- fields -------------------------------------------------------------- */

/* One value of field f from v into dst (the member, or one array element). */
static int jd_value(struct json_dec *d, const ProtobufCFieldDescriptor *f, json_object *v,
                    void *dst)
{
    int64_t i64;
    uint64_t u64;
    double dbl;
    int rc = OTC_OK;

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        rc = jd_signed(d, v, INT32_MIN, INT32_MAX, &i64);
        if (rc == OTC_OK) {
            *(int32_t *)dst = (int32_t)i64;
        }
        return rc;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        rc = jd_unsigned(d, v, UINT32_MAX, &u64);
        if (rc == OTC_OK) {
            *(uint32_t *)dst = (uint32_t)u64;
        }
        return rc;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        rc = jd_signed(d, v, INT64_MIN, INT64_MAX, &i64);
        if (rc == OTC_OK) {
            *(int64_t *)dst = i64;
        }
        return rc;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        rc = jd_unsigned(d, v, UINT64_MAX, &u64);
        if (rc == OTC_OK) {
            *(uint64_t *)dst = u64;
        }
        return rc;
    case PROTOBUF_C_TYPE_ENUM:
        if (json_object_is_type(v, json_type_string)) {
            const ProtobufCEnumValue *ev =
                protobuf_c_enum_descriptor_get_value_by_name(f->descriptor,
                                                             json_object_get_string(v));
            if (!ev) {
                return jd_fail(d, OTC_EINVAL, "unknown enum value \"%.40s\"",
                               json_object_get_string(v));
            }
            *(int *)dst = ev->value;
            return OTC_OK;
        }
        rc = jd_signed(d, v, INT32_MIN, INT32_MAX, &i64);
        if (rc == OTC_OK) {
            *(int *)dst = (int)i64;
        }
        return rc;
    case PROTOBUF_C_TYPE_FLOAT:
        rc = jd_double(d, v, &dbl);
        if (rc == OTC_OK) {
            *(float *)dst = (float)dbl;
        }
        return rc;
    case PROTOBUF_C_TYPE_DOUBLE:
        return jd_double(d, v, (double *)dst);
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_object_is_type(v, json_type_boolean)) {
            return jd_fail(d, OTC_EINVAL, "expected true or false, got %s", jd_type_name(v));
        }
        *(protobuf_c_boolean *)dst = json_object_get_boolean(v) ? 1 : 0;
        return OTC_OK;
    case PROTOBUF_C_TYPE_STRING: {
        char *s;
        size_t n;

        if (!json_object_is_type(v, json_type_string)) {
            return jd_fail(d, OTC_EINVAL, "expected a string, got %s", jd_type_name(v));
        }
        n = (size_t)json_object_get_string_len(v);
        s = otc_arena_alloc(d->arena, n + 1);
        if (!s) {
            return OTC_ENOMEM;
        }
        memcpy(s, json_object_get_string(v), n);
        s[n] = '\0';
        *(char **)dst = s;
        return OTC_OK;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const char *s;
        size_t n;

        if (!json_object_is_type(v, json_type_string)) {
            return jd_fail(d, OTC_EINVAL, "expected a string, got %s", jd_type_name(v));
        }
        s = json_object_get_string(v);
        n = (size_t)json_object_get_string_len(v);
        return jd_is_id_field(f) ? jd_hex(d, s, n, dst) : jd_base64(d, s, n, dst);
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        if (!json_object_is_type(v, json_type_object)) {
            return jd_fail(d, OTC_EINVAL, "expected an object, got %s", jd_type_name(v));
        }
        return jd_message(d, f->descriptor, v, (ProtobufCMessage **)dst);
    }
    return jd_fail(d, OTC_EINVAL, "unsupported field type %d", (int)f->type);
}

static int jd_repeated(struct json_dec *d, const ProtobufCFieldDescriptor *f, json_object *v,
                       char *base)
{
    size_t n, sz = otc_pb_elem_size(f->type);
    char *arr = NULL;
    int rc;

    if (!json_object_is_type(v, json_type_array)) {
        return jd_fail(d, OTC_EINVAL, "expected an array, got %s", jd_type_name(v));
    }
    n = json_object_array_length(v);
    if (n > 0) {
        arr = otc_arena_alloc(d->arena, n * sz);
        if (!arr) {
            return OTC_ENOMEM;
        }
        memset(arr, 0, n * sz);
    }
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        size_t old = jd_push_index(d, i);

        if (e == NULL) {
            return jd_fail(d, OTC_EINVAL, "null is not allowed in an array");
        }
        rc = jd_value(d, f, e, arr + i * sz);
        if (rc != OTC_OK) {
            return rc;
        }
        jd_pop(d, old);
    }
    *(size_t *)(base + f->quantifier_offset) = n;
    *(void **)(base + f->offset) = arr;
    return OTC_OK;
}

static int jd_field(struct json_dec *d, const ProtobufCFieldDescriptor *f, json_object *v,
                    char *base)
{
    int rc;

    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        return jd_repeated(d, f, v, base);
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = (uint32_t *)(base + f->quantifier_offset);

        if (*which != 0 && *which != f->id) {
            return jd_fail(d, OTC_EINVAL, "more than one member of a oneof is set");
        }
        rc = jd_value(d, f, v, base + f->offset);
        if (rc == OTC_OK) {
            *which = f->id;
        }
        return rc;
    }
    rc = jd_value(d, f, v, base + f->offset);
    if (rc == OTC_OK && f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
        f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
        *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
    }
    return rc;
}

static int jd_message(struct json_dec *d, const ProtobufCMessageDescriptor *desc,
                      json_object *obj, ProtobufCMessage **out)
{
    ProtobufCMessage *msg;
    int rc;

    if (d->depth >= OTC_JSON_MAX_DEPTH) {
        return jd_fail(d, OTC_EINVAL, "nesting deeper than %d levels", OTC_JSON_MAX_DEPTH);
    }
    msg = otc_arena_alloc(d->arena, desc->sizeof_message);
    if (!msg) {
        return OTC_ENOMEM;
    }
    protobuf_c_message_init(desc, msg);
    d->depth++;
    json_object_object_foreach(obj, key, val) {
        const ProtobufCFieldDescriptor *f = jd_find_field(desc, key);
        size_t old;

        if (f == NULL || val == NULL) {
            continue; /* unknown fields are ignored; null means the default */
        }
        old = jd_push_key(d, key);
        rc = jd_field(d, f, val, (char *)msg);
        if (rc != OTC_OK) {
            return rc;
        }
        jd_pop(d, old);
    }
    d->depth--;
    *out = msg;
    return OTC_OK;
}

int otc_json_decode(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
                    struct otc_arena *arena, ProtobufCMessage **out, char *err, size_t errlen)
{
    struct json_dec d = { .arena = arena, .err = err, .errlen = errlen };
    struct json_tokener *tok;
    json_object *root;
    enum json_tokener_error jerr;
    size_t used;
    int rc;

    *out = NULL;
    if (err && errlen) {
        err[0] = '\0';
    }
    if (len > INT32_MAX) {
        return jd_fail(&d, OTC_EINVAL, "document larger than 2 GiB");
    }
    /* JSON nesting per message level: one object, plus at most one array */
    tok = json_tokener_new_ex(2 * OTC_JSON_MAX_DEPTH + 2);
    if (!tok) {
        return OTC_ENOMEM;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, text, (int)len);
    jerr = json_tokener_get_error(tok);
    used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr == json_tokener_continue || (jerr == json_tokener_success && root == NULL &&
                                          used >= len)) {
        json_object_put(root);
        return jd_fail(&d, OTC_EINVAL, "invalid JSON: unexpected end of the document");
    }
    if (jerr != json_tokener_success) {
        json_object_put(root);
        if (jerr == json_tokener_error_depth) {
            return jd_fail(&d, OTC_EINVAL, "invalid JSON: nesting deeper than %d levels",
                           OTC_JSON_MAX_DEPTH);
        }
        return jd_fail(&d, OTC_EINVAL, "invalid JSON at offset %zu: %s", used,
                       json_tokener_error_desc(jerr));
    }
    for (; used < len; used++) {
        if (text[used] != ' ' && text[used] != '\t' && text[used] != '\n' && text[used] != '\r') {
            json_object_put(root);
            return jd_fail(&d, OTC_EINVAL, "invalid JSON: trailing data at offset %zu", used);
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        rc = jd_fail(&d, OTC_EINVAL, "expected a JSON object, got %s",
                     root ? jd_type_name(root) : "null");
        json_object_put(root);
        return rc;
    }
    rc = jd_message(&d, desc, root, out);
    json_object_put(root);
    if (rc == OTC_ENOMEM) {
        jd_fail(&d, rc, "out of memory");
    }
    if (rc != OTC_OK) {
        *out = NULL;
    }
    return rc;
}
