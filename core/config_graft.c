/* config_graft.c - a config value that is one whole ${env:...} or ${file:...}
 * reference is parsed as YAML, as otelcol's confmap does: a mapping or a
 * sequence it resolves to replaces the scalar in the document. Runs on the
 * thread that loads the config (main, or reload). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "otc/otc_rc.h"

/* True when the scalar is one reference and nothing else ("${env:X}",
 * "${X:-d}", "${file:P}"): otelcol's confmap then parses what it resolves to
 * as YAML, so a variable or file can hold a list or a mapping. */
bool otc_yaml_whole_reference(const char *s, size_t len)
{
    const char *close;

    if (len < 4 || s[0] != '$' || s[1] != '{' || s[len - 1] != '}') {
        return false;
    }
    close = memchr(s + 2, '}', len - 2);
    return close == s + len - 1 && !memchr(s + 2, '$', len - 3);
}

/* A copy of node sid of src appended to dst, every node marked at m; its id, 0
 * on failure. */
static int graft_copy(yaml_document_t *dst, yaml_document_t *src, int sid, const yaml_mark_t *m,
                      int depth)
{
    yaml_node_t *n = yaml_document_get_node(src, sid);
    int id = 0;

    if (!n || depth > 64) { /* the loader refuses deeper documents */
        return 0;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE:
        id = yaml_document_add_scalar(dst, n->tag, n->data.scalar.value,
                                      (int)n->data.scalar.length, n->data.scalar.style);
        break;
    case YAML_SEQUENCE_NODE:
        if (!(id = yaml_document_add_sequence(dst, n->tag, YAML_BLOCK_SEQUENCE_STYLE))) {
            return 0;
        }
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            int c = graft_copy(dst, src, *it, m, depth + 1);
            if (!c || !yaml_document_append_sequence_item(dst, id, c)) {
                return 0;
            }
        }
        break;
    case YAML_MAPPING_NODE:
        if (!(id = yaml_document_add_mapping(dst, n->tag, YAML_BLOCK_MAPPING_STYLE))) {
            return 0;
        }
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            int k = graft_copy(dst, src, p->key, m, depth + 1);
            int v = k ? graft_copy(dst, src, p->value, m, depth + 1) : 0;
            if (!v || !yaml_document_append_mapping_pair(dst, id, k, v)) {
                return 0;
            }
        }
        break;
    default:
        return 0;
    }
    if (id) {
        yaml_node_t *c = yaml_document_get_node(dst, id);
        c->start_mark = c->end_mark = *m;
    }
    return id;
}

/* Node idx, a whole reference resolved to text: when the text parses as a
 * YAML mapping or sequence, node idx becomes that structure (its nodes added
 * to the document, marked where the reference is). Scalars stay text.
 * OTC_ENOMEM, else OTC_OK. */
int otc_yaml_graft(struct otc_yaml *y, int idx, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t sub;
    yaml_node_t *root, *n, tmp;
    yaml_mark_t mark;
    int rc = OTC_OK, id;

    if (!yaml_parser_initialize(&parser)) {
        return OTC_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &sub)) {
        yaml_parser_delete(&parser);
        return OTC_OK; /* not YAML: used verbatim, as otelcol does */
    }
    yaml_parser_delete(&parser);
    root = yaml_document_get_root_node(&sub);
    if (root && (root->type == YAML_MAPPING_NODE || root->type == YAML_SEQUENCE_NODE)) {
        mark = y->doc.nodes.start[idx].start_mark;
        id = graft_copy(&y->doc, &sub, 1, &mark, 0);
        if (!id) {
            rc = OTC_ENOMEM;
        } else {
            /* node idx takes the new structure; the new id keeps the old
             * scalar, emptied, where nothing refers to it */
            n = &y->doc.nodes.start[idx];
            tmp = *n;
            *n = y->doc.nodes.start[id - 1];
            y->doc.nodes.start[id - 1] = tmp;
            n = &y->doc.nodes.start[id - 1];
            n->data.scalar.value[0] = '\0';
            n->data.scalar.length = 0;
        }
    }
    yaml_document_delete(&sub);
    return rc;
}
