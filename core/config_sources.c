/* config_sources.c - the config as otelcol's command line gives it: several
 * --config sources (file:PATH, env:VAR, yaml:INLINE or a plain path) merged in
 * order, with --set values laid over them, into one libyaml document whose
 * nodes still say which source, line and column they came from; and the
 * document printed back (print-config). Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "otc/otc_buf.h"
#include "otc/otc_rc.h"

#define SOURCE_NAME_MAX 300

/* ------------------------------------------------------------- sources */

/* "file", "env", "yaml" ... of uri, or NULL when it is a plain path (a scheme
 * is two or more letters, so a Windows drive letter is not one). */
static bool uri_scheme(const char *uri, char *scheme, size_t len)
{
    size_t n = 0;

    while ((uri[n] >= 'a' && uri[n] <= 'z') || (uri[n] >= 'A' && uri[n] <= 'Z')) {
        n++;
    }
    if (n < 2 || uri[n] != ':' || n >= len) {
        return false;
    }
    memcpy(scheme, uri, n);
    scheme[n] = '\0';
    return true;
}

const char *otc_config_source_file(const char *uri)
{
    char scheme[32];

    if (!uri_scheme(uri, scheme, sizeof(scheme))) {
        return uri;
    }
    return !strcmp(scheme, "file") ? uri + 5 : NULL;
}

/* Load one --config source into y (named as the user wrote it). */
static int load_source(struct otc_yaml *y, const char *uri, struct otc_diag *d)
{
    char scheme[32];
    const char *text;

    memset(y, 0, sizeof(*y));
    if (!uri_scheme(uri, scheme, sizeof(scheme))) {
        return otc_yaml_load(y, uri, d);
    }
    if (!strcmp(scheme, "file")) {
        return otc_yaml_load(y, uri + 5, d);
    }
    if (!strcmp(scheme, "env")) {
        text = getenv(uri + 4);
        if (!text) {
            otc_diag_add(d, uri, NULL, "environment variable %s is not set", uri + 4);
            return OTC_EINVAL;
        }
    } else if (!strcmp(scheme, "yaml")) {
        text = uri + 5;
    } else {
        otc_diag_add(d, uri, NULL, "unsupported config URI scheme \"%s\" (file, env and yaml are)", scheme);
        return OTC_EINVAL;
    }
    if (!text[strspn(text, " \t\r\n")]) {
        text = "{}"; /* an empty variable or inline source adds nothing */
    }
    return otc_yaml_load_string(y, uri, text, strlen(text), d);
}

/* --set key.path=value as the YAML source {key: {path: value}}, as otelcol
 * turns it into a yaml: source: the key is split at every "." and "::", and
 * the value (spaces trimmed) is YAML. */
static int set_source(struct otc_yaml *y, const char *set, struct otc_diag *d)
{
    const char *arg = set, *eq = strchr(set, '=');
    const char *k, *end;
    struct otc_buf b;
    size_t depth = 0, prefix;
    char name[SOURCE_NAME_MAX];
    int rc;

    memset(y, 0, sizeof(*y));
    snprintf(name, sizeof(name), "--set %s", set);
    if (!eq) {
        otc_diag_add(d, name, NULL, "missing equal sign (expected --set key=value)");
        return OTC_EINVAL;
    }
    while (*set == ' ' || *set == '\t') {
        set++;
    }
    end = eq;
    while (end > set && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    otc_buf_init(&b);
    for (k = set; k <= end; k++) {
        const char *stop = k;
        while (stop < end && *stop != '.' && !(stop[0] == ':' && stop + 1 < end && stop[1] == ':')) {
            stop++;
        }
        if (stop == k) {
            otc_buf_free(&b);
            otc_diag_add(d, name, NULL, "empty key in \"%.*s\"", (int)(end - set), set);
            return OTC_EINVAL;
        }
        otc_buf_adds(&b, "{'");
        for (const char *c = k; c < stop; c++) {
            if (*c == '\'') {
                otc_buf_addc(&b, '\'');
            }
            otc_buf_addc(&b, *c);
        }
        otc_buf_adds(&b, "': ");
        depth++;
        if (stop == end) {
            break;
        }
        k = *stop == '.' ? stop : stop + 1;
    }
    prefix = b.len;
    otc_buf_adds(&b, eq + 1);
    for (size_t i = 0; i < depth; i++) {
        otc_buf_addc(&b, '}');
    }
    if (b.oom) {
        otc_buf_free(&b);
        return OTC_ENOMEM;
    }
    rc = otc_yaml_load_string(y, name, b.data, b.len, d);
    otc_buf_free(&b);
    /* positions in the value count from the start of the --set argument */
    for (yaml_node_t *n = y->loaded ? y->doc.nodes.start : NULL; n && n < y->doc.nodes.top; n++) {
        if (n->start_mark.line == 0 && n->start_mark.column >= prefix) {
            n->start_mark.column = n->start_mark.column - prefix + (size_t)(eq + 1 - arg);
        }
    }
    return rc;
}

/* ------------------------------------------------------------- merge */

struct merge {
    yaml_document_t *dst;
    struct otc_yaml *src;
    size_t           index; /* of src, in the merged path */
};

static yaml_node_t *dnode(struct merge *m, int id)
{
    return yaml_document_get_node(m->dst, id);
}

static void set_mark(struct merge *m, int id, const yaml_node_t *from)
{
    yaml_node_t *n = dnode(m, id);

    n->start_mark = from->start_mark;
    n->end_mark = from->end_mark;
    n->start_mark.index = OTC_YAML_SOURCE_TAG | m->index;
    n->end_mark.index = OTC_YAML_SOURCE_TAG | m->index;
}

static int merge_into(struct merge *m, int dst_map, int src_map);

/* A copy of src node sid in dst; 0 on failure. */
static int copy_node(struct merge *m, int sid)
{
    yaml_node_t *s = otc_yaml_node(m->src, sid);
    int id = 0;

    switch (s->type) {
    case YAML_SCALAR_NODE:
        id = yaml_document_add_scalar(m->dst, s->tag, s->data.scalar.value, (int)s->data.scalar.length,
                                      s->data.scalar.style);
        break;
    case YAML_SEQUENCE_NODE:
        id = yaml_document_add_sequence(m->dst, s->tag, s->data.sequence.style);
        for (yaml_node_item_t *it = s->data.sequence.items.start; id && it < s->data.sequence.items.top; it++) {
            int c = copy_node(m, *it);
            if (!c || !yaml_document_append_sequence_item(m->dst, id, c)) {
                return 0;
            }
            s = otc_yaml_node(m->src, sid);
        }
        break;
    case YAML_MAPPING_NODE:
        id = yaml_document_add_mapping(m->dst, s->tag, s->data.mapping.style);
        if (id && merge_into(m, id, sid) != OTC_OK) {
            return 0;
        }
        break;
    default:
        return 0;
    }
    if (id) {
        set_mark(m, id, otc_yaml_node(m->src, sid));
    }
    return id;
}

static yaml_node_pair_t *find_pair(struct merge *m, int map, const char *key, size_t len)
{
    yaml_node_t *n = dnode(m, map);

    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = dnode(m, p->key);
        if (k->type == YAML_SCALAR_NODE && k->data.scalar.length == len &&
            !memcmp(k->data.scalar.value, key, len)) {
            return p;
        }
    }
    return NULL;
}

/* A new key scalar in dst, placed where src key node kn is. */
static int key_node(struct merge *m, const char *key, size_t len, const yaml_node_t *kn)
{
    int id = yaml_document_add_scalar(m->dst, NULL, (const yaml_char_t *)key, (int)len,
                                      YAML_PLAIN_SCALAR_STYLE);
    if (id) {
        set_mark(m, id, kn);
    }
    return id;
}

/* dst_map[key] = src value vid: two mappings are merged, anything else
 * replaces what was there (lists included, as in otelcol). A key written
 * "a::b" is the nested key a, b. */
static int map_set(struct merge *m, int dst_map, const char *key, size_t len, const yaml_node_t *kn,
                   int vid)
{
    const char *sep = NULL;
    yaml_node_pair_t *p;
    yaml_node_t *sv = otc_yaml_node(m->src, vid);

    for (size_t i = 0; i + 1 < len; i++) {
        if (key[i] == ':' && key[i + 1] == ':') {
            sep = key + i;
            break;
        }
    }
    if (sep) {
        size_t head = (size_t)(sep - key);
        int child;
        p = find_pair(m, dst_map, key, head);
        if (p && dnode(m, p->value)->type == YAML_MAPPING_NODE) {
            child = p->value;
        } else {
            int k = key_node(m, key, head, kn);
            child = yaml_document_add_mapping(m->dst, NULL, YAML_BLOCK_MAPPING_STYLE);
            if (!k || !child) {
                return OTC_ENOMEM;
            }
            set_mark(m, child, kn);
            p = find_pair(m, dst_map, key, head);
            if (p) {
                p->key = k;
                p->value = child;
            } else if (!yaml_document_append_mapping_pair(m->dst, dst_map, k, child)) {
                return OTC_ENOMEM;
            }
        }
        return map_set(m, child, sep + 2, len - head - 2, kn, vid);
    }
    p = find_pair(m, dst_map, key, len);
    if (p && dnode(m, p->value)->type == YAML_MAPPING_NODE && sv->type == YAML_MAPPING_NODE) {
        return merge_into(m, p->value, vid);
    }
    {
        int k = key_node(m, key, len, kn);
        int v = copy_node(m, vid);
        if (!k || !v) {
            return OTC_ENOMEM;
        }
        p = find_pair(m, dst_map, key, len); /* copy_node may have moved the pairs */
        if (p) {
            p->key = k;
            p->value = v;
        } else if (!yaml_document_append_mapping_pair(m->dst, dst_map, k, v)) {
            return OTC_ENOMEM;
        }
    }
    return OTC_OK;
}

static int merge_into(struct merge *m, int dst_map, int src_map)
{
    yaml_node_t *s = otc_yaml_node(m->src, src_map);
    size_t n = (size_t)(s->data.mapping.pairs.top - s->data.mapping.pairs.start);

    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &otc_yaml_node(m->src, src_map)->data.mapping.pairs.start[i];
        yaml_node_t *kn = otc_yaml_node(m->src, p->key);
        int rc;

        if (kn->type != YAML_SCALAR_NODE) {
            continue; /* refused later by the option tables ("keys must be strings") */
        }
        rc = map_set(m, dst_map, (const char *)kn->data.scalar.value, kn->data.scalar.length, kn, p->value);
        if (rc != OTC_OK) {
            return rc;
        }
    }
    return OTC_OK;
}

/* ------------------------------------------------------------- entry */

/* True when a mapping key of y is written "a::b". */
static bool has_nested_keys(struct otc_yaml *y)
{
    for (yaml_node_t *n = y->doc.nodes.start; n < y->doc.nodes.top; n++) {
        if (n->type != YAML_MAPPING_NODE) {
            continue;
        }
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            const char *k = otc_yaml_str(otc_yaml_node(y, p->key));
            if (k && strstr(k, "::")) {
                return true;
            }
        }
    }
    return false;
}

int otc_yaml_load_sources(struct otc_yaml *y, const char *const *uris, size_t n_uris,
                          const char *const *sets, size_t n_sets, struct otc_diag *d)
{
    size_t n = n_uris + n_sets;
    struct otc_yaml *src;
    struct otc_buf path;
    int rc = OTC_OK, root = 0;

    memset(y, 0, sizeof(*y));
    src = calloc(n ? n : 1, sizeof(*src));
    if (!src) {
        return OTC_ENOMEM;
    }
    /* every source is read, so that validate lists the problems of all of them */
    for (size_t i = 0; i < n; i++) {
        int r = i < n_uris ? load_source(&src[i], uris[i], d) : set_source(&src[i], sets[i - n_uris], d);
        if (r != OTC_OK) {
            rc = r;
        }
    }
    if (n == 1 && rc == OTC_OK && !has_nested_keys(&src[0])) {
        *y = src[0]; /* one source as written: nothing to merge */
        free(src);
        return OTC_OK;
    }
    otc_buf_init(&path);
    for (size_t i = 0; i < n; i++) {
        char name[SOURCE_NAME_MAX];
        if (i < n_uris) {
            snprintf(name, sizeof(name), "%s", otc_config_source_file(uris[i]) ? otc_config_source_file(uris[i])
                                                                             : uris[i]);
        } else {
            snprintf(name, sizeof(name), "--set %s", sets[i - n_uris]);
        }
        for (char *c = name; *c; c++) {
            if (*c == OTC_YAML_SOURCE_SEP) {
                *c = ' ';
            }
        }
        if (i) {
            otc_buf_addc(&path, OTC_YAML_SOURCE_SEP);
        }
        otc_buf_adds(&path, name);
    }
    if (path.oom || !path.data) {
        rc = OTC_ENOMEM;
    } else {
        y->path = path.data;
        path.data = NULL;
    }
    otc_buf_free(&path);
    if (rc == OTC_OK) {
        if (!yaml_document_initialize(&y->doc, NULL, NULL, NULL, 1, 1)) {
            rc = OTC_ENOMEM;
        } else {
            y->loaded = true;
            root = yaml_document_add_mapping(&y->doc, NULL, YAML_BLOCK_MAPPING_STYLE);
            if (!root) {
                rc = OTC_ENOMEM;
            }
        }
        for (size_t i = 0; rc == OTC_OK && i < n; i++) {
            struct merge m = {&y->doc, &src[i], i};
            yaml_node_t *r = otc_yaml_root(&src[i]);
            if (i == 0) {
                set_mark(&m, root, r);
            }
            rc = merge_into(&m, root, (int)(r - src[i].doc.nodes.start) + 1);
        }
    }
    for (size_t i = 0; i < n; i++) {
        otc_yaml_free(&src[i]);
    }
    free(src);
    return rc;
}

/* ------------------------------------------------------------- print */

static bool secret_key(const char *k)
{
    static const char *const words[] = {"password", "token", "secret", "authorization", "api_key",
                                        "apikey", "private_key", NULL};
    char low[128];
    size_t i;

    for (i = 0; k[i] && i + 1 < sizeof(low); i++) {
        low[i] = (char)(k[i] >= 'A' && k[i] <= 'Z' ? k[i] + 32 : k[i]);
    }
    low[i] = '\0';
    for (int w = 0; words[w]; w++) {
        if (strstr(low, words[w])) {
            return true;
        }
    }
    return false;
}

static void json_string(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

static bool json_plain(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;
    char *end;

    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    if (!strcmp(v, "true") || !strcmp(v, "false") || !strcmp(v, "null")) {
        return true;
    }
    if (!*v) {
        return false;
    }
    (void)strtod(v, &end);
    return !*end && strspn(v, "0123456789.-+eE") == strlen(v);
}

static void print_json(struct otc_yaml *y, yaml_node_t *n, FILE *out, bool redact, bool hide, int depth)
{
    if (n->type == YAML_SCALAR_NODE) {
        if (hide) {
            fputs("\"[REDACTED]\"", out);
        } else if (otc_yaml_is_null(n)) {
            fputs("null", out);
        } else if (json_plain(n)) {
            fputs((const char *)n->data.scalar.value, out);
        } else {
            json_string(out, (const char *)n->data.scalar.value, n->data.scalar.length);
        }
        return;
    }
    fputc(n->type == YAML_MAPPING_NODE ? '{' : '[', out);
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            fputs(it == n->data.sequence.items.start ? "" : ",", out);
            print_json(y, otc_yaml_node(y, *it), out, redact, hide, depth + 1);
        }
        fputc(']', out);
        return;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = otc_yaml_node(y, p->key);
        const char *ks = otc_yaml_str(k) ? otc_yaml_str(k) : "";
        fputs(p == n->data.mapping.pairs.start ? "" : ",", out);
        json_string(out, ks, strlen(ks));
        fputc(':', out);
        print_json(y, otc_yaml_node(y, p->value), out, redact,
                   hide || (redact && (secret_key(ks) || !strcmp(ks, "headers"))), depth + 1);
    }
    fputc('}', out);
}

static int emit_node(struct otc_yaml *y, yaml_emitter_t *em, yaml_node_t *n, bool redact, bool hide)
{
    yaml_event_t ev;

    if (n->type == YAML_SCALAR_NODE) {
        const char *v = hide ? "[REDACTED]" : (const char *)n->data.scalar.value;
        size_t len = hide ? strlen(v) : n->data.scalar.length;
        yaml_scalar_style_t st = hide ? YAML_ANY_SCALAR_STYLE : n->data.scalar.style;
        /* both implicit: no tags are printed, the style is kept where the text allows */
        if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)v, (int)len, 1, 1, st)) {
            return OTC_ENOMEM;
        }
        return yaml_emitter_emit(em, &ev) ? OTC_OK : OTC_EIO;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev)) {
            return OTC_EIO;
        }
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            if (emit_node(y, em, otc_yaml_node(y, *it), redact, hide) != OTC_OK) {
                return OTC_EIO;
            }
        }
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev) ? OTC_OK : OTC_EIO;
    }
    if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
        !yaml_emitter_emit(em, &ev)) {
        return OTC_EIO;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = otc_yaml_node(y, p->key);
        const char *ks = otc_yaml_str(k);
        if (emit_node(y, em, k, false, false) != OTC_OK ||
            emit_node(y, em, otc_yaml_node(y, p->value), redact,
                      hide || (redact && ks && (secret_key(ks) || !strcmp(ks, "headers")))) != OTC_OK) {
            return OTC_EIO;
        }
    }
    yaml_mapping_end_event_initialize(&ev);
    return yaml_emitter_emit(em, &ev) ? OTC_OK : OTC_EIO;
}

int otc_yaml_print(struct otc_yaml *y, FILE *out, bool json, bool redact)
{
    yaml_node_t *root = otc_yaml_root(y);
    yaml_emitter_t em;
    yaml_event_t ev;
    int rc = OTC_OK;

    if (!root) {
        return OTC_EINVAL;
    }
    if (json) {
        print_json(y, root, out, redact, false, 0);
        fputc('\n', out);
        return OTC_OK;
    }
    if (!yaml_emitter_initialize(&em)) {
        return OTC_ENOMEM;
    }
    yaml_emitter_set_output_file(&em, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_indent(&em, 2);
    yaml_emitter_set_width(&em, -1);
    if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || !yaml_emitter_emit(&em, &ev) ||
        !yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) || !yaml_emitter_emit(&em, &ev) ||
        emit_node(y, &em, root, redact, false) != OTC_OK ||
        !yaml_document_end_event_initialize(&ev, 1) || !yaml_emitter_emit(&em, &ev) ||
        !yaml_stream_end_event_initialize(&ev) || !yaml_emitter_emit(&em, &ev)) {
        rc = OTC_EIO;
    }
    yaml_emitter_delete(&em);
    return rc;
}
