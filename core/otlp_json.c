/* otlp_json.c - OTLP/JSON encoder: walks protobuf-c descriptors and writes the
 * proto3 JSON mapping with OTLP's deviations (hex trace/span ids, enums as
 * integers, lowerCamelCase keys). Runs on the calling exporter's thread
 * (file, debug); reentrant, no global state.
 * Hand-written because no JSON library in Debian reads protobuf-c
 * descriptors, and a generic proto3 JSON mapper would base64 the ids. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_json.h"
#include "otc/otc_rc.h"

struct json_enc {
    struct otc_buf *out;
    unsigned        depth;  /* messages currently open */
};

static int json_message(struct json_enc *e, const ProtobufCMessage *msg);

/* ---- keys ---------------------------------------------------------------- */

/* protoc's ToJsonName: drop each '_' and upper-case the letter after it. */
static void json_key(struct otc_buf *out, const char *name)
{
    char tmp[64];
    size_t n = 0;
    int upper = 0;

    otc_buf_addc(out, '"');
    for (; *name; name++) {
        if (*name == '_') {
            upper = 1;
            continue;
        }
        tmp[n++] = (upper && *name >= 'a' && *name <= 'z') ? (char)(*name - 'a' + 'A') : *name;
        upper = 0;
        if (n == sizeof(tmp)) {
            otc_buf_add(out, tmp, n);
            n = 0;
        }
    }
    otc_buf_add(out, tmp, n);
    otc_buf_add(out, "\":", 2);
}

const char *otc_json_field_name(const ProtobufCFieldDescriptor *f, char *buf, size_t n)
{
    const char *s;
    size_t i = 0;
    int upper = 0;

    if (n == 0) {
        return buf;
    }
    for (s = f->name; *s && i + 1 < n; s++) {
        if (*s == '_') {
            upper = 1;
            continue;
        }
        buf[i++] = (upper && *s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s;
        upper = 0;
    }
    buf[i] = '\0';
    return buf;
}

/* ---- strings ------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (1-4), or 0 if the bytes at
 * p are not one (overlong, surrogate, > U+10FFFF, truncated). */
static size_t utf8_seq_len(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    unsigned c = p[0];

    if (c >= 0xc2 && c <= 0xdf) {
        return (avail >= 2 && (p[1] & 0xc0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        unsigned lo = (c == 0xe0) ? 0xa0 : 0x80;
        unsigned hi = (c == 0xed) ? 0x9f : 0xbf;

        if (avail < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80) {
            return 0;
        }
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned lo = (c == 0xf0) ? 0x90 : 0x80;
        unsigned hi = (c == 0xf4) ? 0x8f : 0xbf;

        if (avail < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 ||
            (p[3] & 0xc0) != 0x80) {
            return 0;
        }
        return 4;
    }
    return 0;
}

/* A JSON string. Each byte that does not start a well-formed UTF-8 sequence
 * becomes U+FFFD (as Go's encoding/json does), so the output is always valid
 * UTF-8 and valid JSON. */
static void json_string(struct otc_buf *out, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)str;
    const unsigned char *end = p + len;
    const unsigned char *run = p;   /* start of bytes copied verbatim */
    char esc[6];
    size_t n;

    otc_buf_addc(out, '"');
    while (p < end) {
        unsigned c = *p;

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        if (c >= 0x80) {
            n = utf8_seq_len(p, end);
            if (n > 0) {
                p += n;
                continue;
            }
        }
        otc_buf_add(out, run, (size_t)(p - run));
        switch (c) {
        case '"':  otc_buf_add(out, "\\\"", 2); break;
        case '\\': otc_buf_add(out, "\\\\", 2); break;
        case '\n': otc_buf_add(out, "\\n", 2); break;
        case '\r': otc_buf_add(out, "\\r", 2); break;
        case '\t': otc_buf_add(out, "\\t", 2); break;
        default:
            if (c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 0xf];
                otc_buf_add(out, esc, 6);
            } else {
                otc_buf_add(out, "\xef\xbf\xbd", 3);   /* U+FFFD */
            }
            break;
        }
        p++;
        run = p;
    }
    otc_buf_add(out, run, (size_t)(p - run));
    otc_buf_addc(out, '"');
}

/* ---- bytes --------------------------------------------------------------- */

static void json_hex(struct otc_buf *out, const ProtobufCBinaryData *b)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[64];
    size_t i, n = 0;

    otc_buf_addc(out, '"');
    for (i = 0; i < b->len; i++) {
        tmp[n++] = hex[b->data[i] >> 4];
        tmp[n++] = hex[b->data[i] & 0xf];
        if (n == sizeof(tmp)) {
            otc_buf_add(out, tmp, n);
            n = 0;
        }
    }
    otc_buf_add(out, tmp, n);
    otc_buf_addc(out, '"');
}

/* Standard base64 (RFC 4648 section 4) with '=' padding. */
static void json_base64(struct otc_buf *out, const ProtobufCBinaryData *b)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *d = b->data;
    char tmp[64];
    size_t i, n = 0;
    uint32_t v;

    otc_buf_addc(out, '"');
    for (i = 0; i + 3 <= b->len; i += 3) {
        v = ((uint32_t)d[i] << 16) | ((uint32_t)d[i + 1] << 8) | d[i + 2];
        tmp[n++] = tab[(v >> 18) & 0x3f];
        tmp[n++] = tab[(v >> 12) & 0x3f];
        tmp[n++] = tab[(v >> 6) & 0x3f];
        tmp[n++] = tab[v & 0x3f];
        if (n == sizeof(tmp)) {
            otc_buf_add(out, tmp, n);
            n = 0;
        }
    }
    if (b->len - i == 1) {
        v = (uint32_t)d[i] << 16;
        tmp[n++] = tab[(v >> 18) & 0x3f];
        tmp[n++] = tab[(v >> 12) & 0x3f];
        tmp[n++] = '=';
        tmp[n++] = '=';
    } else if (b->len - i == 2) {
        v = ((uint32_t)d[i] << 16) | ((uint32_t)d[i + 1] << 8);
        tmp[n++] = tab[(v >> 18) & 0x3f];
        tmp[n++] = tab[(v >> 12) & 0x3f];
        tmp[n++] = tab[(v >> 6) & 0x3f];
        tmp[n++] = '=';
    }
    otc_buf_add(out, tmp, n);
    otc_buf_addc(out, '"');
}

/* OTLP/JSON writes trace and span ids as lowercase hex, every other bytes
 * field as base64 (spec, "JSON Protobuf Encoding"). */
static int json_is_id_field(const ProtobufCFieldDescriptor *f)
{
    return strcmp(f->name, "trace_id") == 0 || strcmp(f->name, "span_id") == 0 ||
           strcmp(f->name, "parent_span_id") == 0;
}

/* ---- numbers ------------------------------------------------------------- */

/* snprintf obeys LC_NUMERIC; JSON needs '.', whatever the locale says. */
static void json_fix_decimal_point(char *s)
{
    for (; *s; s++) {
        if (*s == ',') {
            *s = '.';
        }
    }
}

/* Shortest "%g" form that reads back as the same double. Any value with at
 * most 15 significant digits round-trips through "%.15g" (which drops
 * trailing zeros), so only 15, 16 and 17 need trying. */
static void json_double(struct otc_buf *out, double v)
{
    char tmp[40];
    int prec;

    if (isnan(v)) {
        otc_buf_add(out, "\"NaN\"", 5);
        return;
    }
    if (isinf(v)) {
        otc_buf_adds(out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    for (prec = 15; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) {
            break;
        }
    }
    if (prec == 17) {
        snprintf(tmp, sizeof(tmp), "%.17g", v);
    }
    json_fix_decimal_point(tmp);
    otc_buf_adds(out, tmp);
}

static void json_float(struct otc_buf *out, float v)
{
    char tmp[40];
    int prec;

    if (isnan(v) || isinf(v)) {
        json_double(out, (double)v);
        return;
    }
    for (prec = 6; prec < 9; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, (double)v);
        if (strtof(tmp, NULL) == v) {
            break;
        }
    }
    if (prec == 9) {
        snprintf(tmp, sizeof(tmp), "%.9g", (double)v);
    }
    json_fix_decimal_point(tmp);
    otc_buf_adds(out, tmp);
}

/* ---- fields -------------------------------------------------------------- */

size_t otc_pb_elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return sizeof(int32_t);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(int64_t);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* True when an unlabelled proto3 field holds its default, which proto3 JSON
 * leaves out (the same test protobuf-c applies before packing it). */
static int json_is_default(const ProtobufCFieldDescriptor *f, const void *member)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return *(const uint32_t *)member == 0;
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int *)member == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)member == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)member == 0.0f;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)member == 0.0;
    case PROTOBUF_C_TYPE_BOOL:
        return !*(const protobuf_c_boolean *)member;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;

        return s == NULL || s[0] == '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)member)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)member == NULL;
    }
    return 1;
}

/* One value of field f stored at member (an element, for repeated fields). */
static int json_value(struct json_enc *e, const ProtobufCFieldDescriptor *f, const void *member)
{
    struct otc_buf *out = e->out;

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        otc_buf_addf(out, "%" PRId32, *(const int32_t *)member);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        otc_buf_addf(out, "%" PRIu32, *(const uint32_t *)member);
        break;
    case PROTOBUF_C_TYPE_ENUM:
        otc_buf_addf(out, "%d", *(const int *)member);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        otc_buf_addf(out, "\"%" PRId64 "\"", *(const int64_t *)member);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        otc_buf_addf(out, "\"%" PRIu64 "\"", *(const uint64_t *)member);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        json_float(out, *(const float *)member);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        json_double(out, *(const double *)member);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        otc_buf_adds(out, *(const protobuf_c_boolean *)member ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;

        json_string(out, s ? s : "", s ? strlen(s) : 0);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES:
        if (json_is_id_field(f)) {
            json_hex(out, member);
        } else {
            json_base64(out, member);
        }
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)member;

        if (m == NULL) {
            /* only reachable inside a repeated field: an empty message */
            otc_buf_add(out, "{}", 2);
            break;
        }
        return json_message(e, m);
    }
    default:
        return OTC_EINVAL;
    }
    return OTC_OK;
}

/* Whether field f of msg is written at all (proto3 JSON presence rules). */
static int json_field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                              const void *member)
{
    const char *base = (const char *)msg;

    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        /* a set oneof member is written even when it holds the default */
        if (*(const uint32_t *)(base + f->quantifier_offset) != f->id) {
            return 0;
        }
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
            return *(void *const *)member != NULL;   /* protobuf-c packs nothing */
        }
        return 1;
    }
    switch (f->label) {
    case PROTOBUF_C_LABEL_REQUIRED:
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            return *(void *const *)member != NULL;
        }
        return 1;
    case PROTOBUF_C_LABEL_OPTIONAL:
        /* proto2 optional or proto3 `optional`: has_ flag, or pointer presence */
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const void *p = *(void *const *)member;

            return p != NULL && p != f->default_value;
        }
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset) != 0;
    case PROTOBUF_C_LABEL_NONE:
        return !json_is_default(f, member);
    case PROTOBUF_C_LABEL_REPEATED:
        return *(const size_t *)(base + f->quantifier_offset) != 0;
    }
    return 0;
}

static int json_message(struct json_enc *e, const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const char *base = (const char *)msg;
    const char *arr;
    int first = 1;
    unsigned i;
    size_t j, n, sz;
    int rc;

    if (d == NULL || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC) {
        return OTC_EINVAL;
    }
    if (e->depth >= OTC_JSON_MAX_DEPTH) {
        return OTC_EINVAL;
    }
    if (e->out->oom) {
        return OTC_ENOMEM;
    }
    e->depth++;
    otc_buf_addc(e->out, '{');
    for (i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *member = base + f->offset;

        if (!json_field_present(msg, f, member)) {
            continue;
        }
        if (!first) {
            otc_buf_addc(e->out, ',');
        }
        first = 0;
        json_key(e->out, f->name);
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            rc = json_value(e, f, member);
            if (rc != OTC_OK) {
                return rc;
            }
            continue;
        }
        n = *(const size_t *)(base + f->quantifier_offset);
        sz = otc_pb_elem_size(f->type);
        arr = *(char *const *)member;
        if (arr == NULL || sz == 0) {
            return OTC_EINVAL;
        }
        otc_buf_addc(e->out, '[');
        for (j = 0; j < n; j++) {
            if (j > 0) {
                otc_buf_addc(e->out, ',');
            }
            rc = json_value(e, f, arr + j * sz);
            if (rc != OTC_OK) {
                return rc;
            }
        }
        otc_buf_addc(e->out, ']');
    }
    otc_buf_addc(e->out, '}');
    e->depth--;
    return e->out->oom ? OTC_ENOMEM : OTC_OK;
}

int otc_json_encode(const ProtobufCMessage *msg, struct otc_buf *out)
{
    struct json_enc e = { .out = out, .depth = 0 };
    size_t start = out->len;
    int rc;

    if (out->oom) {
        return OTC_ENOMEM;
    }
    rc = (msg == NULL) ? OTC_EINVAL : json_message(&e, msg);
    if (rc == OTC_OK && out->oom) {
        rc = OTC_ENOMEM;
    }
    if (rc != OTC_OK) {
        out->len = start;
        if (out->data) {
            out->data[start] = '\0';
        }
    }
    return rc;
}
