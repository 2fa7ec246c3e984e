/* config.c - loads the YAML config with libyaml (keeping line and column of
 * every node), substitutes environment variables, and applies option tables
 * with precise errors. Runs on the main thread at start-up and in validate. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "otc/otc_buf.h"
#include "otc/otc_rc.h"

#define KEY_MAX 256
/* Bounds on hostile configs: libyaml 0.2.5's loader recurses once per nesting
 * level and shares aliased nodes, which the option walk would visit again for
 * every alias ("billion laughs"). */
#define CONFIG_MAX_DEPTH 64
#define CONFIG_MAX_EXPANDED_NODES 100000u

void otc_diag_add(struct otc_diag *d, const char *file, const yaml_mark_t *m, const char *fmt, ...)
{
    struct otc_buf b;
    char msg[768];
    va_list ap;
    char **grown;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    otc_buf_init(&b);
    if (m && (m->index & OTC_YAML_SOURCE_TAG) && strchr(file, OTC_YAML_SOURCE_SEP)) {
        /* a node of a merged document: its mark names the source it came from */
        size_t want = m->index & ~OTC_YAML_SOURCE_TAG;
        const char *name = file;
        for (size_t i = 0; i < want && name; i++) {
            name = strchr(name, OTC_YAML_SOURCE_SEP);
            name = name ? name + 1 : NULL;
        }
        if (name) {
            otc_buf_addf(&b, "%.*s:%zu:%zu: %s", (int)strcspn(name, OTC_YAML_SOURCE_SEP_STR), name,
                         m->line + 1, m->column + 1, msg);
        }
    } else if (m) {
        otc_buf_addf(&b, "%s:%zu:%zu: %s", file, m->line + 1, m->column + 1, msg);
    }
    if (!b.len && strchr(file, OTC_YAML_SOURCE_SEP)) {
        /* no position: every source of the merged document is named */
        for (const char *p = file; *p; p++) {
            if (*p == OTC_YAML_SOURCE_SEP) {
                otc_buf_adds(&b, ", ");
            } else {
                otc_buf_addc(&b, *p);
            }
        }
        otc_buf_addf(&b, ": %s", msg);
    } else if (!b.len) {
        otc_buf_addf(&b, "%s: %s", file, msg);
    }
    /* The same option can be checked more than once (a processor is built once
     * per pipeline); one problem is still reported once. */
    for (size_t i = 0; b.data && i < d->n; i++) {
        if (!strcmp(d->msgs[i], b.data)) {
            otc_buf_free(&b);
            return;
        }
    }
    grown = realloc(d->msgs, (d->n + 1) * sizeof(*d->msgs));
    if (!grown || !b.data) {
        otc_buf_free(&b);
        return;
    }
    d->msgs = grown;
    d->msgs[d->n++] = b.data;
}

void otc_diag_print(const struct otc_diag *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        fprintf(out, "error: %s\n", d->msgs[i]);
    }
}

void otc_diag_free(struct otc_diag *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->msgs[i]);
    }
    free(d->msgs);
    d->msgs = NULL;
    d->n = 0;
}

/* ${file:PATH}: the file's content, without its final newline (as otelcol's
 * file provider gives a scalar). */
static int expand_file(const char *name, size_t len, struct otc_buf *out, char *err, size_t errlen)
{
    char path[4096];
    char buf[65536];
    size_t n;
    FILE *f;

    if (len == 0 || len >= sizeof(path)) {
        snprintf(err, errlen, "bad file reference '${file:%.*s}'", (int)(len < 200 ? len : 200), name);
        return OTC_EINVAL;
    }
    memcpy(path, name, len);
    path[len] = '\0';
    if (!(f = fopen(path, "rb"))) {
        snprintf(err, errlen, "cannot read \"%.200s\" for ${file:...}: %s", path, strerror(errno));
        return OTC_EINVAL;
    }
    n = fread(buf, 1, sizeof(buf), f);
    if (ferror(f) || !feof(f)) {
        snprintf(err, errlen, "cannot read \"%.200s\" for ${file:...}: %s", path,
                 ferror(f) ? strerror(errno) : "larger than 64 KiB");
        fclose(f);
        return OTC_EINVAL;
    }
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }
    otc_buf_add(out, buf, n);
    return OTC_OK;
}

/* ${env:NAME}, ${env:NAME:-default}, ${NAME}, ${file:PATH} and $$ (a literal $),
 * as otelcol expands. */
static int expand_env(const char *in, size_t len, struct otc_buf *out, char *err, size_t errlen)
{
    size_t i = 0;

    while (i < len) {
        const char *close;
        const char *name;
        const char *def = NULL;
        size_t name_len, def_len = 0;
        char var[256];
        const char *val;

        if (in[i] != '$') {
            otc_buf_addc(out, in[i++]);
            continue;
        }
        if (i + 1 < len && in[i + 1] == '$') {
            otc_buf_addc(out, '$');
            i += 2;
            continue;
        }
        if (i + 1 >= len || in[i + 1] != '{') {
            otc_buf_addc(out, in[i++]);
            continue;
        }
        close = memchr(in + i, '}', len - i);
        if (!close) {
            snprintf(err, errlen, "unterminated '${' in '%.*s'", (int)len, in);
            return OTC_EINVAL;
        }
        name = in + i + 2;
        name_len = (size_t)(close - name);
        if (name_len >= 5 && !memcmp(name, "file:", 5)) {
            if (expand_file(name + 5, name_len - 5, out, err, errlen) != OTC_OK) {
                return OTC_EINVAL;
            }
            i = (size_t)(close - in) + 1;
            continue;
        }
        if (name_len >= 4 && !memcmp(name, "env:", 4)) {
            name += 4;
            name_len -= 4;
        }
        for (size_t k = 0; k + 1 < name_len; k++) {
            if (name[k] == ':' && name[k + 1] == '-') {
                def = name + k + 2;
                def_len = name_len - k - 2;
                name_len = k;
                break;
            }
        }
        if (name_len == 0 || name_len >= sizeof(var)) {
            snprintf(err, errlen, "bad variable reference '%.*s'", (int)(close - in - i + 1), in + i);
            return OTC_EINVAL;
        }
        for (size_t k = 0; k < name_len; k++) {
            char c = name[k];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_')) {
                snprintf(err, errlen, "bad environment variable name '%.*s'", (int)name_len, name);
                return OTC_EINVAL;
            }
        }
        memcpy(var, name, name_len);
        var[name_len] = '\0';
        val = getenv(var);
        if (val && *val) {
            otc_buf_adds(out, val);
        } else if (def) {
            otc_buf_add(out, def, def_len);
        } else if (val) {
            /* set but empty: expands to nothing */
        }
        i = (size_t)(close - in) + 1;
    }
    return OTC_OK;
}

/* libyaml keeps repeated mapping keys; otelcol refuses them, and so do we. */
static int check_duplicate_keys(struct otc_yaml *y, struct otc_diag *d)
{
    int rc = OTC_OK;

    for (yaml_node_t *n = y->doc.nodes.start; n < y->doc.nodes.top; n++) {
        if (n->type != YAML_MAPPING_NODE) {
            continue;
        }
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *kn = otc_yaml_node(y, p->key);
            const char *k = otc_yaml_str(kn);
            for (yaml_node_pair_t *q = n->data.mapping.pairs.start; k && q < p; q++) {
                yaml_node_t *first = otc_yaml_node(y, q->key);
                const char *fk = otc_yaml_str(first);
                if (fk && !strcmp(fk, k)) {
                    otc_diag_add(d, y->path, &kn->start_mark, "key \"%s\" is defined twice (first on line %zu)",
                                 k, first->start_mark.line + 1);
                    rc = OTC_EINVAL;
                    break;
                }
            }
        }
    }
    return rc;
}

static int substitute_env(struct otc_yaml *y, struct otc_diag *d)
{
    int rc = OTC_OK, grafts = 0;

    /* by index: a graft appends nodes (moving the array), which are expanded
     * in turn, as otelcol expands what a reference resolved to */
    for (size_t i = 0; y->doc.nodes.start + i < y->doc.nodes.top; i++) {
        yaml_node_t *n = y->doc.nodes.start + i;
        struct otc_buf out;
        char err[256];
        bool whole;

        if (n->type != YAML_SCALAR_NODE || !memchr(n->data.scalar.value, '$', n->data.scalar.length)) {
            continue;
        }
        whole = otc_yaml_whole_reference((const char *)n->data.scalar.value, n->data.scalar.length);
        otc_buf_init(&out);
        if (expand_env((const char *)n->data.scalar.value, n->data.scalar.length, &out, err,
                       sizeof(err)) != OTC_OK) {
            otc_diag_add(d, y->path, &n->start_mark, "%s", err);
            rc = OTC_EINVAL;
        } else {
            if (!out.data) {
                otc_buf_add(&out, "", 0);
            }
            if (out.oom || !out.data) {
                otc_buf_free(&out);
                return OTC_ENOMEM;
            }
            free(n->data.scalar.value);
            n->data.scalar.value = (yaml_char_t *)out.data;
            n->data.scalar.length = out.len;
            if (whole && out.len > 0 && grafts < 1000) {
                grafts++;
                if (otc_yaml_graft(y, (int)i, out.data, out.len) != OTC_OK) {
                    return OTC_ENOMEM;
                }
            }
            continue;
        }
        otc_buf_free(&out);
    }
    return rc;
}

/* A first pass over the parser's events (no recursion) refuses documents nested
 * deeper than CONFIG_MAX_DEPTH before the recursive loader sees them. */
static int check_depth(const char *path, const char *text, size_t len, struct otc_diag *d)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int depth = 0, rc = OTC_OK;

    if (!yaml_parser_initialize(&parser)) {
        return OTC_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            break; /* the loader reports syntax errors with their position */
        }
        if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
            if (++depth > CONFIG_MAX_DEPTH) {
                otc_diag_add(d, path, &ev.start_mark, "the config is nested deeper than %d levels",
                             CONFIG_MAX_DEPTH);
                rc = OTC_EINVAL;
            }
        } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        if (ev.type == YAML_STREAM_END_EVENT || ev.type == YAML_DOCUMENT_END_EVENT || rc != OTC_OK) {
            yaml_event_delete(&ev);
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* Number of nodes the document has once every alias is expanded, or
 * CONFIG_MAX_EXPANDED_NODES + 1 when larger or when an alias contains itself.
 * memo[i]: 0 = not yet counted, SIZE_MAX = being counted (a cycle if met again). */
static size_t expanded_nodes(struct otc_yaml *y, int id, size_t *memo)
{
    yaml_node_t *n = otc_yaml_node(y, id);
    size_t i = (size_t)(n - y->doc.nodes.start), total = 1;
    const size_t over = CONFIG_MAX_EXPANDED_NODES + 1;

    if (memo[i] == SIZE_MAX) {
        return over;
    }
    if (memo[i]) {
        return memo[i];
    }
    memo[i] = SIZE_MAX;
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top && total < over; it++) {
            total += expanded_nodes(y, *it, memo);
        }
    } else if (n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top && total < over; p++) {
            total += expanded_nodes(y, p->key, memo);
            total += expanded_nodes(y, p->value, memo);
        }
    }
    memo[i] = total < over ? total : over;
    return memo[i];
}

static int check_expansion(struct otc_yaml *y, struct otc_diag *d)
{
    size_t n = (size_t)(y->doc.nodes.top - y->doc.nodes.start);
    size_t *memo = calloc(n ? n : 1, sizeof(*memo));
    size_t total;

    if (!memo) {
        return OTC_ENOMEM;
    }
    total = expanded_nodes(y, 1, memo);
    free(memo);
    if (total > CONFIG_MAX_EXPANDED_NODES) {
        otc_diag_add(d, y->path, NULL, "the config's aliases expand to more than %u nodes, or an "
                     "alias contains itself", CONFIG_MAX_EXPANDED_NODES);
        return OTC_EINVAL;
    }
    return OTC_OK;
}

int otc_yaml_load_string(struct otc_yaml *y, const char *path, const char *text, size_t len,
                         struct otc_diag *d)
{
    yaml_parser_t parser;
    int ok;

    memset(y, 0, sizeof(*y));
    y->path = strdup(path);
    if (!y->path) {
        return OTC_ENOMEM;
    }
    if ((ok = check_depth(path, text, len, d)) != OTC_OK) {
        return ok;
    }
    if (!yaml_parser_initialize(&parser)) {
        return OTC_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    ok = yaml_parser_load(&parser, &y->doc);
    if (!ok) {
        yaml_mark_t m = parser.problem_mark;
        /* An unterminated quoted or block scalar is reported where it starts:
         * the scanner's own position is then the end of the file. */
        if (parser.context && !strncmp(parser.context, "while scanning a", 16) &&
            parser.context_mark.line < m.line) {
            m = parser.context_mark;
        }
        otc_diag_add(d, path, &m, "invalid YAML: %s%s%s", parser.problem ? parser.problem : "parse error",
                     parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return OTC_EINVAL;
    }
    yaml_parser_delete(&parser);
    y->loaded = true;
    if (!yaml_document_get_root_node(&y->doc)) {
        otc_diag_add(d, path, NULL, "the config is empty");
        return OTC_EINVAL;
    }
    if (yaml_document_get_root_node(&y->doc)->type != YAML_MAPPING_NODE) {
        otc_diag_add(d, path, &yaml_document_get_root_node(&y->doc)->start_mark,
                     "the config must be a mapping with receivers, exporters and service");
        return OTC_EINVAL;
    }
    if (check_expansion(y, d) != OTC_OK || check_duplicate_keys(y, d) != OTC_OK) {
        return OTC_EINVAL;
    }
    return substitute_env(y, d);
}

int otc_yaml_load(struct otc_yaml *y, const char *path, struct otc_diag *d)
{
    FILE *f;
    char *text;
    size_t n;
    int rc;

    memset(y, 0, sizeof(*y));
    f = fopen(path, "rb");
    if (!f) {
        otc_diag_add(d, path, NULL, "cannot read config: %s", strerror(errno));
        return OTC_EINVAL;
    }
    text = malloc(OTC_CONFIG_MAX_BYTES + 1);
    if (!text) {
        fclose(f);
        return OTC_ENOMEM;
    }
    n = fread(text, 1, OTC_CONFIG_MAX_BYTES + 1, f);
    if (ferror(f)) {
        otc_diag_add(d, path, NULL, "cannot read config: %s", strerror(errno));
        free(text);
        fclose(f);
        return OTC_EINVAL;
    }
    fclose(f);
    if (n > OTC_CONFIG_MAX_BYTES) {
        otc_diag_add(d, path, NULL, "config file is larger than %u bytes", OTC_CONFIG_MAX_BYTES);
        free(text);
        return OTC_EINVAL;
    }
    rc = otc_yaml_load_string(y, path, text, n, d);
    free(text);
    return rc;
}

void otc_yaml_free(struct otc_yaml *y)
{
    if (y->loaded) {
        yaml_document_delete(&y->doc);
    }
    free(y->path);
    memset(y, 0, sizeof(*y));
}

yaml_node_t *otc_yaml_root(struct otc_yaml *y)
{
    return y->loaded ? yaml_document_get_root_node(&y->doc) : NULL;
}

yaml_node_t *otc_yaml_node(struct otc_yaml *y, int id)
{
    return yaml_document_get_node(&y->doc, id);
}

bool otc_yaml_is_null(const yaml_node_t *n)
{
    const char *s;

    if (!n) {
        return true;
    }
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

const char *otc_yaml_str(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

yaml_node_t *otc_yaml_get(struct otc_yaml *y, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *k = otc_yaml_str(otc_yaml_node(y, p->key));
        if (k && !strcmp(k, key)) {
            return otc_yaml_node(y, p->value);
        }
    }
    return NULL;
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:  return "a mapping";
    case YAML_SEQUENCE_NODE: return "a sequence";
    default:                 return "a scalar";
    }
}

static char **strv_push(char **v, size_t n, const char *s, bool *ok)
{
    char **grown = realloc(v, (n + 1) * sizeof(*v));

    if (!grown) {
        *ok = false;
        return v;
    }
    grown[n] = strdup(s);
    if (!grown[n]) {
        *ok = false;
    }
    return grown;
}

/* One item of otelcol's grouped OTTL form ({context, statements, conditions,
 * error_mode}) appended to l as OTC_CFG_F_OTTL describes. */
static int apply_ottl_group(struct otc_yaml *y, yaml_node_t *m, size_t idx, const char *what,
                            const char *key, struct otc_strlist *l, struct otc_diag *d)
{
    const char *ctx = NULL, *mode = "";
    yaml_node_t *lists[2] = {NULL, NULL}; /* statements, conditions */
    bool ok = true;

    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = otc_yaml_node(y, p->key), *v = otc_yaml_node(y, p->value);
        const char *ks = otc_yaml_str(k);

        if (ks && !strcmp(ks, "context") && otc_yaml_str(v)) {
            ctx = otc_yaml_str(v);
        } else if (ks && (!strcmp(ks, "statements") || !strcmp(ks, "conditions"))) {
            if (!otc_yaml_is_null(v) && v->type != YAML_SEQUENCE_NODE) {
                otc_diag_add(d, y->path, &v->start_mark, "%s: key \"%s\": %s must be a sequence "
                             "of strings", what, key, ks);
                return OTC_EINVAL;
            }
            lists[ks[0] == 'c'] = v;
        } else if (ks && !strcmp(ks, "error_mode") && otc_yaml_str(v)) {
            mode = otc_yaml_str(v); /* the group's own, checked by the owner */
        } else {
            otc_diag_add(d, y->path, &k->start_mark, "%s: key \"%s\": unknown key \"%s\" in a "
                         "statement group (context, statements, conditions, error_mode)", what, key,
                         ks ? ks : "?");
            return OTC_EINVAL;
        }
    }
    if (!ctx) {
        ctx = ""; /* otelcol 0.120+: the group's context is inferred from its paths */
    }
    if (strpbrk(ctx, "\x1e\x1c") || strpbrk(mode, "\x1e\x1c")) {
        otc_diag_add(d, y->path, &m->start_mark, "%s: key \"%s\": invalid characters in a "
                     "statement group", what, key);
        return OTC_EINVAL;
    }
    for (int c = 1; c >= 0; c--) { /* conditions first: they qualify every statement */
        if (!lists[c] || otc_yaml_is_null(lists[c])) {
            continue;
        }
        for (yaml_node_item_t *it = lists[c]->data.sequence.items.start;
             it < lists[c]->data.sequence.items.top; it++) {
            yaml_node_t *v = otc_yaml_node(y, *it);
            struct otc_buf b;

            if (!otc_yaml_str(v)) {
                otc_diag_add(d, y->path, &v->start_mark, "%s: key \"%s\": every statement must be "
                             "a string", what, key);
                return OTC_EINVAL;
            }
            otc_buf_init(&b);
            otc_buf_addf(&b, "%c%zu%c%s%c%s%c%s", OTC_OTTL_SEP, idx, OTC_OTTL_SEP, ctx,
                         OTC_OTTL_SEP, mode, c ? OTC_OTTL_COND : OTC_OTTL_SEP, otc_yaml_str(v));
            if (b.oom) {
                otc_buf_free(&b);
                return OTC_ENOMEM;
            }
            l->v = strv_push(l->v, l->n, b.data, &ok);
            otc_buf_free(&b);
            if (!ok) {
                return OTC_ENOMEM;
            }
            l->n++;
        }
    }
    return OTC_OK;
}

/* A string map written as otelcol's list form, `- {name: k, value: v}` per
 * entry (configopaque.MapList); a name given twice is an error. */
static int apply_map_list(struct otc_yaml *y, yaml_node_t *seq, const char *what, const char *key,
                          struct otc_strmap *m, struct otc_diag *d)
{
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *item = otc_yaml_node(y, *it);
        const char *name = otc_yaml_str(otc_yaml_get(y, item, "name"));
        const char *value = otc_yaml_str(otc_yaml_get(y, item, "value"));
        size_t fields = item->type == YAML_MAPPING_NODE
                            ? (size_t)(item->data.mapping.pairs.top - item->data.mapping.pairs.start)
                            : 0;

        if (!name || !value || fields != 2) {
            otc_diag_add(d, y->path, &item->start_mark,
                         "%s: key \"%s\": every list entry must be {name: ..., value: ...}", what,
                         key);
            return OTC_EINVAL;
        }
        for (size_t i = 0; i < m->n; i++) {
            if (!strcmp(m->keys[i], name)) {
                otc_diag_add(d, y->path, &item->start_mark, "%s: key \"%s\": \"%s\" is given twice",
                             what, key, name);
                return OTC_EINVAL;
            }
        }
        if (otc_strmap_put(m, name, value) != OTC_OK) {
            return OTC_ENOMEM;
        }
    }
    return OTC_OK;
}

static int apply_collection(struct otc_yaml *y, yaml_node_t *val, const char *what, const char *key,
                            const struct otc_config_entry *e, void *ctx, struct otc_diag *d)
{
    bool ok = true;

    if (e->type == OTC_CFG_STRMAP) {
        struct otc_strmap *m = (struct otc_strmap *)((char *)ctx + e->offset);
        if (val->type == YAML_SEQUENCE_NODE) {
            return apply_map_list(y, val, what, key, m, d);
        }
        if (val->type != YAML_MAPPING_NODE) {
            otc_diag_add(d, y->path, &val->start_mark, "%s: key \"%s\": expected a mapping, got %s",
                         what, key, node_kind(val));
            return OTC_EINVAL;
        }
        for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top; p++) {
            yaml_node_t *k = otc_yaml_node(y, p->key), *v = otc_yaml_node(y, p->value);
            if (!otc_yaml_str(k) || !otc_yaml_str(v)) {
                otc_diag_add(d, y->path, &v->start_mark,
                             "%s: key \"%s\": every entry must map a string to a string", what, key);
                return OTC_EINVAL;
            }
            m->keys = strv_push(m->keys, m->n, otc_yaml_str(k), &ok);
            if (!ok) {
                return OTC_ENOMEM;
            }
            m->vals = strv_push(m->vals, m->n, otc_yaml_str(v), &ok);
            if (!ok) {
                free(m->keys[m->n]);
                return OTC_ENOMEM;
            }
            m->n++;
        }
        return OTC_OK;
    }
    /* OTC_CFG_STRLIST */
    {
        struct otc_strlist *l = (struct otc_strlist *)((char *)ctx + e->offset);
        if (val->type != YAML_SEQUENCE_NODE) {
            otc_diag_add(d, y->path, &val->start_mark, "%s: key \"%s\": expected a sequence, got %s",
                         what, key, node_kind(val));
            return OTC_EINVAL;
        }
        for (yaml_node_item_t *it = val->data.sequence.items.start; it < val->data.sequence.items.top; it++) {
            yaml_node_t *v = otc_yaml_node(y, *it);
            if ((e->flags & OTC_CFG_F_OTTL) && v->type == YAML_MAPPING_NODE) {
                int rc = apply_ottl_group(y, v, (size_t)(it - val->data.sequence.items.start),
                                          what, key, l, d);
                if (rc != OTC_OK) {
                    return rc;
                }
                continue;
            }
            if (!otc_yaml_str(v)) {
                otc_diag_add(d, y->path, &v->start_mark, "%s: key \"%s\": every item must be a string",
                             what, key);
                return OTC_EINVAL;
            }
            l->v = strv_push(l->v, l->n, otc_yaml_str(v), &ok);
            if (!ok) {
                return OTC_ENOMEM;
            }
            l->n++;
        }
        return OTC_OK;
    }
}

/* Copy the YAML value n into t (an OTC_CFG_TREE option). */
static int copy_tree(struct otc_yaml *y, yaml_node_t *n, struct otc_cfg_tree *t, int depth)
{
    size_t i = 0;

    t->line = (unsigned)n->start_mark.line + 1;
    if (depth > 64) {
        return OTC_ELIMIT;
    }
    if (otc_yaml_is_null(n)) {
        t->kind = OTC_TREE_NULL;
        return OTC_OK;
    }
    if (n->type == YAML_SCALAR_NODE) {
        t->kind = OTC_TREE_SCALAR;
        return (t->scalar = strdup(otc_yaml_str(n))) ? OTC_OK : OTC_ENOMEM;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        t->kind = OTC_TREE_SEQ;
        t->n = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (t->n && !(t->items = calloc(t->n, sizeof(*t->items)))) {
            t->n = 0;
            return OTC_ENOMEM;
        }
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
            int rc = copy_tree(y, otc_yaml_node(y, *it), &t->items[i], depth + 1);
            if (rc != OTC_OK) {
                return rc;
            }
        }
        return OTC_OK;
    }
    t->kind = OTC_TREE_MAP;
    t->n = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (t->n && !(t->items = calloc(t->n, sizeof(*t->items)))) {
        t->n = 0;
        return OTC_ENOMEM;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++, i++) {
        const char *k = otc_yaml_str(otc_yaml_node(y, p->key));
        int rc;
        if (!(t->items[i].key = strdup(k ? k : ""))) {
            return OTC_ENOMEM;
        }
        if ((rc = copy_tree(y, otc_yaml_node(y, p->value), &t->items[i], depth + 1)) != OTC_OK) {
            return rc;
        }
    }
    return OTC_OK;
}

/* Apply the mapping node found at dotted key prefix. Keys are looked up in map
 * (and extra) without their first skip characters, the part of prefix that
 * belongs to enclosing tables; messages name the whole key. */
static int apply_node(struct otc_yaml *y, yaml_node_t *node, const char *prefix, size_t skip,
                      const char *what, const struct otc_config_entry *map, void *ctx,
                      const struct otc_config_entry *extra, void *extra_ctx, struct otc_diag *d)
{
    int rc = OTC_OK;

    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = otc_yaml_node(y, p->key), *val = otc_yaml_node(y, p->value);
        const char *k = otc_yaml_str(kn);
        const struct otc_config_entry *e;
        void *owner = ctx;
        char key[KEY_MAX];
        char err[256];

        if (!k) {
            otc_diag_add(d, y->path, &kn->start_mark, "%s: keys must be strings", what);
            rc = OTC_EINVAL;
            continue;
        }
        if ((size_t)snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", k) >= sizeof(key)) {
            otc_diag_add(d, y->path, &kn->start_mark, "%s: key \"%s\" is too long", what, k);
            rc = OTC_EINVAL;
            continue;
        }
        e = otc_config_map_find(map, key + skip);
        if (!e && extra) {
            e = otc_config_map_find(extra, key + skip);
            owner = extra_ctx;
        }
        if (e && e->type == OTC_CFG_NODE) {
            *(const void **)((char *)owner + e->offset) = val;
            continue;
        }
        if (e && e->type == OTC_CFG_TREE) {
            struct otc_cfg_tree **slot = (struct otc_cfg_tree **)((char *)owner + e->offset);
            otc_cfg_tree_free(*slot);
            if (!(*slot = calloc(1, sizeof(**slot))) || copy_tree(y, val, *slot, 0) != OTC_OK) {
                otc_diag_add(d, y->path, &val->start_mark, "%s: key \"%s\": out of memory or nested too deep",
                             what, key);
                rc = OTC_EINVAL;
            }
            continue;
        }
        if (e && (e->type == OTC_CFG_LIST || e->type == OTC_CFG_ANY)) {
            if (otc_config_apply_value(y, val, what, key, e, owner, d) != OTC_OK) {
                rc = OTC_EINVAL;
            }
            continue;
        }
        if (e && e->type == OTC_CFG_SECTION) {
            *(bool *)((char *)owner + e->offset) = true;
            if (otc_yaml_is_null(val)) {
                continue;
            }
            if (val->type != YAML_MAPPING_NODE) {
                otc_diag_add(d, y->path, &val->start_mark, "%s: key \"%s\": expected a mapping, got %s",
                             what, key, node_kind(val));
                rc = OTC_EINVAL;
                continue;
            }
            if (apply_node(y, val, key, skip, what, map, ctx, extra, extra_ctx, d) != OTC_OK) {
                rc = OTC_EINVAL;
            }
            continue;
        }
        if (e) {
            if (e->type == OTC_CFG_STRMAP || e->type == OTC_CFG_STRLIST) {
                if (!otc_yaml_is_null(val) &&
                    apply_collection(y, val, what, key, e, owner, d) != OTC_OK) {
                    rc = OTC_EINVAL;
                }
                continue;
            }
            if (otc_yaml_is_null(val) && e->type != OTC_CFG_STR) {
                continue; /* an empty value keeps the default */
            }
            if (val->type != YAML_SCALAR_NODE) {
                otc_diag_add(d, y->path, &val->start_mark, "%s: key \"%s\": expected a scalar, got %s",
                             what, key, node_kind(val));
                rc = OTC_EINVAL;
                continue;
            }
            if (otc_config_map_set(e, owner, otc_yaml_str(val), err, sizeof(err)) != OTC_OK) {
                otc_diag_add(d, y->path, &val->start_mark, "%s: key \"%s\": %s", what, key, err);
                rc = OTC_EINVAL;
            }
            continue;
        }
        if (otc_config_map_is_section(map, key + skip) ||
            (extra && otc_config_map_is_section(extra, key + skip))) {
            if (otc_yaml_is_null(val)) {
                continue;
            }
            if (val->type != YAML_MAPPING_NODE) {
                otc_diag_add(d, y->path, &val->start_mark, "%s: key \"%s\": expected a mapping, got %s",
                             what, key, node_kind(val));
                rc = OTC_EINVAL;
                continue;
            }
            if (apply_node(y, val, key, skip, what, map, ctx, extra, extra_ctx, d) != OTC_OK) {
                rc = OTC_EINVAL;
            }
            continue;
        }
        otc_diag_add(d, y->path, &kn->start_mark, "%s: unknown key \"%s\"", what, key);
        rc = OTC_EINVAL;
    }
    return rc;
}

int otc_config_apply(struct otc_yaml *y, yaml_node_t *node, const char *what,
                     const struct otc_config_entry *map, void *ctx,
                     const struct otc_config_entry *extra, void *extra_ctx,
                     struct otc_diag *d)
{
    if (otc_yaml_is_null(node)) {
        return OTC_OK;
    }
    if (node->type != YAML_MAPPING_NODE) {
        otc_diag_add(d, y->path, &node->start_mark, "%s: expected a mapping of options, got %s", what,
                     node_kind(node));
        return OTC_EINVAL;
    }
    return apply_node(y, node, "", 0, what, map, ctx, extra, extra_ctx, d);
}

int otc_config_apply_at(struct otc_yaml *y, yaml_node_t *node, const char *what, const char *key,
                        const struct otc_config_entry *map, void *ctx, struct otc_diag *d)
{
    if (otc_yaml_is_null(node)) {
        return OTC_OK;
    }
    if (node->type != YAML_MAPPING_NODE) {
        otc_diag_add(d, y->path, &node->start_mark, "%s: key \"%s\": expected a mapping, got %s",
                     what, key, node_kind(node));
        return OTC_EINVAL;
    }
    return apply_node(y, node, key, strlen(key) + 1, what, map, ctx, NULL, NULL, d);
}
