/* graph.c - builds the engine from a loaded config, as otelcol does:
 * component sections checked and instantiated (extensions, exporters, then
 * processors per pipeline, then receivers), pipelines resolved and wired;
 * also `otelc validate`'s description. Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "instance.h"
#include "otc/otc_sysinfo.h"
#include "persistent_queue.h"

/* indexed by enum otc_kind */
static const char *const section_names[] = {"receivers", "processors", "exporters", "extensions",
                                            "connectors"};

/* "type/name" -> type (into buf). Errors for empty parts. */
static int split_id(const char *id, char *type, size_t n)
{
    const char *slash = strchr(id, '/');
    size_t tl = slash ? (size_t)(slash - id) : strlen(id);

    if (tl == 0 || tl >= n || (slash && slash[1] == '\0')) {
        return OTC_EINVAL;
    }
    memcpy(type, id, tl);
    type[tl] = '\0';
    return OTC_OK;
}

static yaml_node_t *section_node(struct otc_yaml *y, const char *name, struct otc_diag *d)
{
    yaml_node_t *n = otc_yaml_get(y, otc_yaml_root(y), name);

    if (n && !otc_yaml_is_null(n) && n->type != YAML_MAPPING_NODE) {
        otc_diag_add(d, y->path, &n->start_mark, "\"%s\" must be a mapping of component ids", name);
        return NULL;
    }
    return otc_yaml_is_null(n) ? NULL : n;
}

/* Check every component id of a section and look up its type. */
static int check_section(struct otc_yaml *y, enum otc_kind kind, struct otc_diag *d, size_t *count)
{
    yaml_node_t *sec = section_node(y, section_names[kind], d);
    int rc = OTC_OK;

    *count = 0;
    if (!sec) {
        return OTC_OK;
    }
    for (yaml_node_pair_t *p = sec->data.mapping.pairs.start; p < sec->data.mapping.pairs.top; p++) {
        yaml_node_t *k = otc_yaml_node(y, p->key);
        const char *id = otc_yaml_str(k);
        char type[128];

        if (!id || split_id(id, type, sizeof(type)) != OTC_OK) {
            otc_diag_add(d, y->path, &k->start_mark, "%s: \"%s\" is not a valid component id (type or type/name)",
                         section_names[kind], id ? id : "?");
            rc = OTC_EINVAL;
            continue;
        }
        if (!otc_registry_find(kind, type)) {
            size_t n;
            const struct otc_component_ops *const *all = otc_registry_all(&n);
            char known[512] = "";
            size_t used = 0;
            for (size_t i = 0; i < n && used < sizeof(known); i++) {
                if (all[i]->kind == kind) {
                    used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
                                             used ? ", " : "", all[i]->type);
                }
            }
            otc_diag_add(d, y->path, &k->start_mark, "%s: unknown %s type \"%s\" (known: %s)",
                         section_names[kind], otc_kind_name(kind), type, used ? known : "none");
            rc = OTC_EINVAL;
            continue;
        }
        (*count)++;
    }
    return rc;
}

/* The mapping of component id under its section (receivers, processors,
 * exporters or extensions); *defined tells whether the id is there at all
 * (its value may be empty). */
static yaml_node_t *graph_component(struct otc_yaml *y, enum otc_kind kind, const char *id,
                                    bool *defined)
{
    yaml_node_t *sec = otc_yaml_get(y, otc_yaml_root(y), section_names[kind]);

    *defined = false;
    if (!sec || sec->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (yaml_node_pair_t *p = sec->data.mapping.pairs.start; p < sec->data.mapping.pairs.top; p++) {
        const char *k = otc_yaml_str(otc_yaml_node(y, p->key));
        if (k && !strcmp(k, id)) {
            *defined = true;
            return otc_yaml_node(y, p->value);
        }
    }
    return NULL;
}

/* A node's content as one string (keys in document order), to tell whether a
 * component's settings changed between two configs. */
static void yaml_write(FILE *f, struct otc_yaml *y, yaml_node_t *n, int depth)
{
    if (!n || depth > 64) {
        fputs("~", f);
        return;
    }
    if (n->type == YAML_SCALAR_NODE) {
        fprintf(f, "%zu:", n->data.scalar.length);
        fwrite(n->data.scalar.value, 1, n->data.scalar.length, f);
    } else if (n->type == YAML_SEQUENCE_NODE) {
        fputc('[', f);
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            yaml_write(f, y, otc_yaml_node(y, *it), depth + 1);
            fputc(',', f);
        }
        fputc(']', f);
    } else if (n->type == YAML_MAPPING_NODE) {
        fputc('{', f);
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_write(f, y, otc_yaml_node(y, p->key), depth + 1);
            fputc('=', f);
            yaml_write(f, y, otc_yaml_node(y, p->value), depth + 1);
            fputc(',', f);
        }
        fputc('}', f);
    } else {
        fputs("~", f);
    }
}

static char *yaml_canonical(struct otc_yaml *y, yaml_node_t *n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f) {
        return NULL;
    }
    yaml_write(f, y, n, 0);
    fclose(f);
    return buf;
}

static int build_shared(struct otc_engine *e, struct otc_yaml *y, enum otc_kind kind, struct otc_diag *d)
{
    yaml_node_t *sec = section_node(y, section_names[kind], d);
    size_t i = 0;
    int rc = OTC_OK;

    if (!sec) {
        return OTC_OK;
    }
    for (yaml_node_pair_t *p = sec->data.mapping.pairs.start; p < sec->data.mapping.pairs.top; p++) {
        const char *id = otc_yaml_str(otc_yaml_node(y, p->key));
        char type[128];
        const struct otc_component_ops *ops;
        struct otc_instance *ins;
        struct otc_exporter_settings *helper = NULL;

        if (!id || split_id(id, type, sizeof(type)) != OTC_OK ||
            !(ops = otc_registry_find(kind, type))) {
            continue;
        }
        if (kind == OTC_RECEIVER) {
            ins = e->receivers[i] = calloc(1, sizeof(*ins));
            e->receiver_conf[i] = yaml_canonical(y, otc_yaml_node(y, p->value));
            if (!ins || !e->receiver_conf[i++]) {
                return OTC_ENOMEM;
            }
        } else if (kind == OTC_EXTENSION) {
            ins = &e->extensions[i++];
        } else if (kind == OTC_CONNECTOR) {
            ins = &e->connectors[i++];
        } else if (kind == OTC_EXPORTER) {
            struct otc_exporter_rt *rt = &e->exporters[i++];
            ins = &rt->ins;
            helper = &rt->set;
        } else {
            /* processors are instantiated per pipeline; check the definition once here */
            struct otc_instance probe = {0};
            if (otc_instance_configure(&probe, ops, id, y, otc_yaml_node(y, p->value), NULL, NULL,
                                       d) != OTC_OK) {
                rc = OTC_EINVAL;
            }
            otc_instance_release(&probe);
            continue;
        }
        ins->engine = e;
        if (otc_instance_configure(ins, ops, id, y, otc_yaml_node(y, p->value),
                                   helper ? otc_exporter_helper_map() : NULL, helper, d) != OTC_OK) {
            rc = OTC_EINVAL;
        } else if (helper) {
            ins->timeout_ns = helper->timeout_ns;
        }
    }
    if (kind == OTC_RECEIVER) {
        e->n_receivers = i;
    } else if (kind == OTC_EXTENSION) {
        e->n_extensions = i;
    } else if (kind == OTC_CONNECTOR) {
        e->n_connectors = i;
    } else if (kind == OTC_EXPORTER) {
        e->n_exporters = i;
    }
    return rc;
}

static struct otc_instance *find_receiver(struct otc_engine *e, const char *id)
{
    for (size_t i = 0; i < e->n_receivers; i++) {
        if (e->receivers[i] && e->receivers[i]->id && !strcmp(e->receivers[i]->id, id)) {
            return e->receivers[i];
        }
    }
    return NULL;
}

static struct otc_exporter_rt *find_exporter(struct otc_engine *e, const char *id)
{
    for (size_t i = 0; i < e->n_exporters; i++) {
        if (e->exporters[i].ins.id && !strcmp(e->exporters[i].ins.id, id)) {
            return &e->exporters[i];
        }
    }
    return NULL;
}

static struct otc_instance *find_connector(struct otc_engine *e, const char *id)
{
    for (size_t i = 0; i < e->n_connectors; i++) {
        if (e->connectors[i].id && !strcmp(e->connectors[i].id, id)) {
            return &e->connectors[i];
        }
    }
    return NULL;
}

/* Is ins already in v[0..n)? Then the id is listed twice: reported at item. */
static bool listed_twice(struct otc_yaml *y, struct otc_pipeline *p, yaml_node_t *item, const char *what,
                         struct otc_instance *const *v, size_t n, const struct otc_instance *ins,
                         struct otc_diag *d)
{
    for (size_t k = 0; k < n; k++) {
        if (v[k] == ins) {
            otc_diag_add(d, y->path, &item->start_mark, "pipeline \"%s\": %s \"%s\" is listed twice",
                         p->id, what, ins->id);
            return true;
        }
    }
    return false;
}

/* Resolve one list (receivers/processors/exporters) of a pipeline. Receivers
 * and exporters may name connectors. */
static int pipeline_list(struct otc_engine *e, struct otc_yaml *y, struct otc_pipeline *p,
                         yaml_node_t *pn, enum otc_kind kind, struct otc_diag *d)
{
    const char *key = section_names[kind];
    yaml_node_t *list = otc_yaml_get(y, pn, key);
    size_t n;
    int rc = OTC_OK;

    if (!list || otc_yaml_is_null(list)) {
        if (kind != OTC_PROCESSOR) {
            otc_diag_add(d, y->path, &pn->start_mark, "pipeline \"%s\": must have at least one %s",
                         p->id, otc_kind_name(kind));
            return OTC_EINVAL;
        }
        return OTC_OK;
    }
    if (list->type != YAML_SEQUENCE_NODE) {
        otc_diag_add(d, y->path, &list->start_mark, "pipeline \"%s\": \"%s\" must be a list of ids",
                     p->id, key);
        return OTC_EINVAL;
    }
    n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n == 0 && kind != OTC_PROCESSOR) {
        otc_diag_add(d, y->path, &list->start_mark, "pipeline \"%s\": must have at least one %s",
                     p->id, otc_kind_name(kind));
        return OTC_EINVAL;
    }
    if (kind == OTC_RECEIVER) {
        p->receivers = calloc(n ? n : 1, sizeof(*p->receivers));
        p->conn_in = calloc(n ? n : 1, sizeof(*p->conn_in));
    } else if (kind == OTC_PROCESSOR) {
        p->processors = calloc(n ? n : 1, sizeof(*p->processors));
        p->admit = calloc(n ? n : 1, sizeof(*p->admit));
    } else {
        p->exporters = calloc(n ? n : 1, sizeof(*p->exporters));
        p->connectors = calloc(n ? n : 1, sizeof(*p->connectors));
    }
    if ((kind == OTC_RECEIVER && (!p->receivers || !p->conn_in)) ||
        (kind == OTC_PROCESSOR && (!p->processors || !p->admit)) ||
        (kind == OTC_EXPORTER && (!p->exporters || !p->connectors))) {
        return OTC_ENOMEM;
    }
    for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
        yaml_node_t *item = otc_yaml_node(y, *it);
        const char *id = otc_yaml_str(item);
        bool defined;
        yaml_node_t *def;
        struct otc_instance *ins = NULL;

        if (!id) {
            otc_diag_add(d, y->path, &item->start_mark, "pipeline \"%s\": %s entries must be ids",
                         p->id, key);
            rc = OTC_EINVAL;
            continue;
        }
        def = graph_component(y, kind, id, &defined);
        if (!defined && kind != OTC_PROCESSOR) {
            struct otc_instance *c;
            (void)graph_component(y, OTC_CONNECTOR, id, &defined);
            if (defined && (c = find_connector(e, id)) != NULL) {
                struct otc_instance **v = kind == OTC_RECEIVER ? p->conn_in : p->connectors;
                size_t *nv = kind == OTC_RECEIVER ? &p->n_conn_in : &p->n_connectors;
                if (listed_twice(y, p, item, "connector", v, *nv, c, d)) {
                    rc = OTC_EINVAL;
                    continue;
                }
                v[(*nv)++] = c;
                if (!(c->ops->signals & OTC_SIG_BIT(p->signal))) {
                    otc_diag_add(d, y->path, &item->start_mark,
                                 "pipeline \"%s\": connector \"%s\" does not support %s", p->id,
                                 id, otc_signal_name(p->signal));
                    rc = OTC_EINVAL;
                }
                c->signals |= OTC_SIG_BIT(p->signal);
                continue;
            }
        }
        if (!defined) {
            otc_diag_add(d, y->path, &item->start_mark,
                         "pipeline \"%s\": references %s \"%s\", which is not configured under \"%s\"",
                         p->id, otc_kind_name(kind), id, key);
            rc = OTC_EINVAL;
            continue;
        }
        if (kind == OTC_RECEIVER) {
            ins = find_receiver(e, id);
            if (ins && listed_twice(y, p, item, "receiver", p->receivers, p->n_receivers, ins, d)) {
                rc = OTC_EINVAL;
                ins = NULL;
            }
            if (ins) {
                p->receivers[p->n_receivers++] = ins;
            }
        } else if (kind == OTC_EXPORTER) {
            struct otc_exporter_rt *rt = find_exporter(e, id);
            if (rt) {
                for (size_t k = 0; k < p->n_exporters; k++) {
                    if (p->exporters[k] == rt) {
                        otc_diag_add(d, y->path, &item->start_mark,
                                     "pipeline \"%s\": exporter \"%s\" is listed twice", p->id, id);
                        rc = OTC_EINVAL;
                        rt = NULL;
                        break;
                    }
                }
            }
            if (rt) {
                p->exporters[p->n_exporters++] = rt;
                ins = &rt->ins;
            }
        } else {
            char type[128];
            const struct otc_component_ops *ops;
            if (split_id(id, type, sizeof(type)) != OTC_OK || !(ops = otc_registry_find(kind, type))) {
                continue; /* reported with the section */
            }
            ins = &p->processors[p->n_processors];
            ins->engine = e;
            if (otc_instance_configure(ins, ops, id, y, def, NULL, NULL, d) != OTC_OK) {
                otc_instance_release(ins);
                rc = OTC_EINVAL;
                continue;
            }
            p->n_processors++;
        }
        if (ins && !(ins->ops->signals & OTC_SIG_BIT(p->signal))) {
            otc_diag_add(d, y->path, &item->start_mark, "pipeline \"%s\": %s \"%s\" does not support %s",
                         p->id, otc_kind_name(kind), id, otc_signal_name(p->signal));
            rc = OTC_EINVAL;
        } else if (ins) {
            ins->signals |= OTC_SIG_BIT(p->signal);
            if (kind == OTC_PROCESSOR &&
                otc_instance_validate_signal(ins, p->signal, y, def, d) != OTC_OK) {
                rc = OTC_EINVAL;
            }
        }
    }
    return rc;
}

static int add_feed(struct otc_instance *r, struct otc_pipeline *p)
{
    enum otc_signal s = p->signal;
    struct otc_pipeline **grown = realloc(r->feeds[s], (r->n_feeds[s] + 1) * sizeof(*grown));

    if (!grown) {
        return OTC_ENOMEM;
    }
    r->feeds[s] = grown;
    r->feeds[s][r->n_feeds[s]++] = p;
    return OTC_OK;
}

/* service.pipelines.<id>.queue (otelc's own): the byte budget of the queue
 * in front of the pipeline's worker, in memory the waiting requests hold. By default 1/16 of the memory the
 * process may use, within 4 and 64 MiB. */
struct pipeline_queue_cfg {
    uint64_t max_bytes;
    int64_t  max_wait;
};

static const struct otc_config_entry pipeline_queue_map[] = {
    {OTC_CFG_SIZE, "max_bytes", "0", offsetof(struct pipeline_queue_cfg, max_bytes), 0, 0, 0, NULL,
     "memory the requests waiting in the pipeline's queue may hold before receivers answer "
     "UNAVAILABLE; 0: 1/16 of the memory limit (cgroup or MemTotal), within 4 and 64 MiB"},
    {OTC_CFG_DURATION, "max_wait", "1s", offsetof(struct pipeline_queue_cfg, max_wait),
     OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0, 60, NULL,
     "how long an OTLP request may wait for room when the queue is at max_bytes before it is "
     "answered UNAVAILABLE (within the gRPC call's deadline); 0: answer at once"},
    {0},
};

static int pipeline_queue_options(struct otc_yaml *y, struct otc_pipeline *p, const char *id,
                                  yaml_node_t *node, struct otc_diag *d)
{
    struct pipeline_queue_cfg cfg = {0, OTC_PIPELINE_QUEUE_WAIT_NS};
    char key[300];
    int rc = OTC_OK;

    if (node && !otc_yaml_is_null(node)) {
        snprintf(key, sizeof(key), "pipelines.%s.queue", id);
        rc = otc_config_apply_at(y, node, "service", key, pipeline_queue_map, &cfg, d);
    }
    if (cfg.max_bytes == 0) {
        uint64_t mem = otc_memory_total() / 16;
        cfg.max_bytes = mem < OTC_PIPELINE_QUEUE_MIN_BYTES   ? OTC_PIPELINE_QUEUE_MIN_BYTES
                        : mem > OTC_PIPELINE_QUEUE_MAX_BYTES ? OTC_PIPELINE_QUEUE_MAX_BYTES
                                                             : mem;
    }
    p->queue_max_bytes = cfg.max_bytes;
    p->queue_max_wait_ns = cfg.max_wait;
    return rc;
}

/* service.pipelines.<id>.workers (otelc's own): the pipeline's worker threads;
 * 0 or absent: one per CPU the process may use, when every processor can
 * share them. More than one with a processor that cannot is an error. */
static int pipeline_workers_option(struct otc_yaml *y, struct otc_pipeline *p, const char *id,
                                   yaml_node_t *node, struct otc_diag *d)
{
    const char *v = node ? otc_yaml_str(node) : NULL;
    char why[200] = "";
    int64_t n = 0;

    if (node && !otc_yaml_is_null(node) &&
        (!v || otc_parse_int(v, &n) != OTC_OK || n < 0 || n > OTC_PIPELINE_MAX_WORKERS)) {
        otc_diag_add(d, y->path, &node->start_mark,
                     "service: pipelines.%s.workers: expected 0 (one per CPU) to %d, got \"%s\"", id,
                     OTC_PIPELINE_MAX_WORKERS, v ? v : "?");
        return OTC_EINVAL;
    }
    p->workers_cfg = n;
    (void)otc_pipeline_workers(p, why, sizeof(why));
    if (why[0]) {
        otc_diag_add(d, y->path, &node->start_mark, "service: pipelines.%s.workers: %" PRId64
                     " workers, but %s", id, n, why);
        return OTC_EINVAL;
    }
    return OTC_OK;
}

/* service.pipelines: each pipeline's id, then its receivers, processors and
 * exporters resolved against the sections built before. */
static int build_pipelines(struct otc_engine *e, struct otc_yaml *y, yaml_node_t *svc,
                           yaml_node_t *pipes, struct otc_diag *d)
{
    size_t n, i = 0;
    int rc = OTC_OK;

    if (!pipes || pipes->type != YAML_MAPPING_NODE || pipes->data.mapping.pairs.top == pipes->data.mapping.pairs.start) {
        otc_diag_add(d, y->path, pipes ? &pipes->start_mark : &svc->start_mark,
                     "service: \"pipelines\" must define at least one pipeline");
        return OTC_EINVAL;
    }
    n = (size_t)(pipes->data.mapping.pairs.top - pipes->data.mapping.pairs.start);
    e->pipelines = calloc(n, sizeof(*e->pipelines));
    if (!e->pipelines) {
        return OTC_ENOMEM;
    }
    for (yaml_node_pair_t *pp = pipes->data.mapping.pairs.start; pp < pipes->data.mapping.pairs.top; pp++) {
        yaml_node_t *kn = otc_yaml_node(y, pp->key), *pn = otc_yaml_node(y, pp->value);
        const char *id = otc_yaml_str(kn);
        struct otc_pipeline *p = &e->pipelines[i];
        const char *slash;
        size_t tl;

        if (!id) {
            continue;
        }
        slash = strchr(id, '/');
        tl = slash ? (size_t)(slash - id) : strlen(id);
        if (otc_signal_parse(id, tl, &p->signal) != OTC_OK || (slash && !slash[1])) {
            otc_diag_add(d, y->path, &kn->start_mark,
                         "service: pipeline \"%s\": the id must be traces, metrics or logs, optionally /name",
                         id);
            rc = OTC_EINVAL;
            continue;
        }
        if (!pn || pn->type != YAML_MAPPING_NODE) {
            otc_diag_add(d, y->path, &kn->start_mark, "service: pipeline \"%s\" must be a mapping", id);
            rc = OTC_EINVAL;
            continue;
        }
        for (yaml_node_pair_t *lp = pn->data.mapping.pairs.start; lp < pn->data.mapping.pairs.top; lp++) {
            yaml_node_t *lk = otc_yaml_node(y, lp->key);
            const char *ks = otc_yaml_str(lk);
            if (!ks || (strcmp(ks, "receivers") && strcmp(ks, "processors") && strcmp(ks, "exporters") &&
                        strcmp(ks, "queue") && strcmp(ks, "workers"))) {
                otc_diag_add(d, y->path, &lk->start_mark,
                             "service: pipeline \"%s\": unknown key \"%s\" (receivers, processors, "
                             "exporters, queue, workers)", id, ks ? ks : "?");
                rc = OTC_EINVAL;
            }
        }
        if (pipeline_queue_options(y, p, id, otc_yaml_get(y, pn, "queue"), d) != OTC_OK) {
            rc = OTC_EINVAL;
        }
        p->id = strdup(id);
        p->engine = e;
        i++;
        if (!p->id) {
            return OTC_ENOMEM;
        }
        if (pipeline_list(e, y, p, pn, OTC_RECEIVER, d) != OTC_OK ||
            pipeline_list(e, y, p, pn, OTC_PROCESSOR, d) != OTC_OK ||
            pipeline_list(e, y, p, pn, OTC_EXPORTER, d) != OTC_OK) {
            rc = OTC_EINVAL;
        } else if (pipeline_workers_option(y, p, id, otc_yaml_get(y, pn, "workers"), d) != OTC_OK) {
            rc = OTC_EINVAL;
        }
    }
    e->n_pipelines = i;
    return rc;
}

/* The key node of id under section kind (for error positions), or the root. */
static yaml_node_t *component_key(struct otc_yaml *y, enum otc_kind kind, const char *id)
{
    yaml_node_t *sec = otc_yaml_get(y, otc_yaml_root(y), section_names[kind]);

    for (yaml_node_pair_t *p = sec && sec->type == YAML_MAPPING_NODE ? sec->data.mapping.pairs.start : NULL;
         p && p < sec->data.mapping.pairs.top; p++) {
        yaml_node_t *k = otc_yaml_node(y, p->key);
        const char *ks = otc_yaml_str(k);
        if (ks && !strcmp(ks, id)) {
            return k;
        }
    }
    return otc_yaml_root(y);
}

/* Does some pipeline of signal s list connector c as an exporter (out) or as
 * a receiver (!out)? */
static bool connector_used(const struct otc_engine *e, const struct otc_instance *c, enum otc_signal s,
                           bool out)
{
    for (size_t i = 0; i < e->n_pipelines; i++) {
        const struct otc_pipeline *p = &e->pipelines[i];
        struct otc_instance *const *v = out ? p->connectors : p->conn_in;
        size_t n = out ? p->n_connectors : p->n_conn_in;
        for (size_t k = 0; p->signal == s && k < n; k++) {
            if (v[k] == c) {
                return true;
            }
        }
    }
    return false;
}

/* The connectors, checked as otelcol does once the pipelines are known: a
 * connector an exporting pipeline names is also a receiver of a pipeline of
 * that signal, and the other way round; no pipeline reaches itself through
 * connectors. Then each pipeline's rank (the order pipelines drain in). (No
 * type is both a connector and a receiver or exporter, so an id cannot be
 * ambiguous as it can in otelcol.) */
static int connect_graph(struct otc_engine *e, struct otc_yaml *y, struct otc_diag *d)
{
    int rc = OTC_OK;
    bool changed = true;

    for (size_t i = 0; i < e->n_connectors; i++) {
        struct otc_instance *c = &e->connectors[i];
        for (int s = 0; c->id && s < OTC_SIGNAL_COUNT; s++) {
            bool out = connector_used(e, c, (enum otc_signal)s, true);
            bool in = connector_used(e, c, (enum otc_signal)s, false);
            if (out != in) {
                otc_diag_add(d, y->path, &component_key(y, OTC_CONNECTOR, c->id)->start_mark,
                             "connectors: \"%s\" is used as %s in a %s pipeline but not as %s in "
                             "any %s pipeline", c->id, out ? "exporter" : "receiver",
                             otc_signal_name((enum otc_signal)s), out ? "receiver" : "exporter",
                             otc_signal_name((enum otc_signal)s));
                rc = OTC_EINVAL;
            }
        }
    }
    if (rc != OTC_OK) {
        return rc;
    }
    /* ranks: longest connector path to each pipeline; still growing after
     * n_pipelines rounds means a cycle */
    for (size_t round = 0; changed; round++) {
        changed = false;
        for (size_t i = 0; i < e->n_pipelines; i++) {
            struct otc_pipeline *a = &e->pipelines[i];
            for (size_t j = 0; j < e->n_pipelines; j++) {
                struct otc_pipeline *b = &e->pipelines[j];
                for (size_t k = 0; b->signal == a->signal && k < a->n_connectors; k++) {
                    for (size_t m = 0; m < b->n_conn_in; m++) {
                        if (b->conn_in[m] == a->connectors[k] && b->rank < a->rank + 1) {
                            b->rank = a->rank + 1;
                            changed = true;
                        }
                    }
                }
            }
        }
        if (changed && round >= e->n_pipelines) {
            for (size_t i = 0; i < e->n_pipelines; i++) {
                if (e->pipelines[i].rank > e->n_pipelines) {
                    otc_diag_add(d, y->path, NULL, "service: pipelines: cycle through connectors: "
                                 "pipeline \"%s\" feeds itself", e->pipelines[i].id);
                    return OTC_EINVAL;
                }
            }
        }
    }
    return rc;
}

/* Each used connector's link(), once the pipelines it feeds are known. */
static int link_connectors(struct otc_engine *e, struct otc_yaml *y, struct otc_diag *d)
{
    int rc = OTC_OK;

    for (size_t i = 0; i < e->n_connectors; i++) {
        struct otc_instance *c = &e->connectors[i];
        char err[512] = "";
        if (c->signals && c->ops->link && c->ops->link(c, c->ctx, err, sizeof(err)) != OTC_OK) {
            otc_diag_add(d, y->path, &component_key(y, OTC_CONNECTOR, c->id)->start_mark,
                         "connectors: %s: %s", c->id, err[0] ? err : "invalid");
            rc = OTC_EINVAL;
        }
    }
    return rc;
}

static void wire_graph(struct otc_engine *e)
{
    for (size_t i = 0; i < e->n_pipelines; i++) {
        struct otc_pipeline *p = &e->pipelines[i];
        for (size_t k = 0; k < p->n_processors; k++) {
            p->processors[k].next.pipeline = p;
            p->processors[k].next.ins = (k + 1 < p->n_processors) ? &p->processors[k + 1] : NULL;
            p->has_timers |= p->processors[k].ops->timer != NULL;
            if (p->processors[k].ops->admit || p->processors[k].ops->admit_request) {
                p->admit[p->n_admit++] = &p->processors[k];
            }
        }
        for (size_t k = 0; k < p->n_exporters; k++) {
            p->exporters[k]->used = true;
        }
    }
}

int otc_engine_build(struct otc_yaml *y, struct otc_diag *d, struct otc_engine **out)
{
    static const char *const top_keys[] = {"receivers", "processors", "exporters", "extensions",
                                           "connectors", "service", NULL};
    struct otc_engine *e;
    yaml_node_t *root = otc_yaml_root(y);
    yaml_node_t *svc = NULL, *pipes = NULL;
    size_t n_rcv = 0, n_proc = 0, n_exp = 0, n_ext = 0, n_conn = 0;
    int rc = OTC_OK;

    *out = NULL;
    if (otc_registry_check() != OTC_OK) {
        otc_diag_add(d, y->path, NULL, "internal error: duplicate component types in the registry");
        return OTC_EINVAL;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = otc_yaml_node(y, p->key);
        const char *k = otc_yaml_str(kn);
        bool known = false;
        for (int i = 0; k && top_keys[i]; i++) {
            known |= !strcmp(k, top_keys[i]);
        }
        if (!known) {
            otc_diag_add(d, y->path, &kn->start_mark,
                         "unknown top-level key \"%s\" (receivers, processors, exporters, "
                         "extensions, connectors, service)",
                         k ? k : "?");
            rc = OTC_EINVAL;
        }
    }
    if (check_section(y, OTC_RECEIVER, d, &n_rcv) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (check_section(y, OTC_PROCESSOR, d, &n_proc) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (check_section(y, OTC_EXPORTER, d, &n_exp) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (check_section(y, OTC_EXTENSION, d, &n_ext) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (check_section(y, OTC_CONNECTOR, d, &n_conn) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    e = calloc(1, sizeof(*e));
    if (!e) {
        return OTC_ENOMEM;
    }
    e->receivers = calloc(n_rcv ? n_rcv : 1, sizeof(*e->receivers));
    e->receiver_conf = calloc(n_rcv ? n_rcv : 1, sizeof(*e->receiver_conf));
    e->exporters = calloc(n_exp ? n_exp : 1, sizeof(*e->exporters));
    e->extensions = calloc(n_ext ? n_ext : 1, sizeof(*e->extensions));
    e->connectors = calloc(n_conn ? n_conn : 1, sizeof(*e->connectors));
    if (otc_telemetry_init(&e->telemetry) != OTC_OK || !e->receivers || !e->receiver_conf || !e->exporters ||
        !e->extensions || !e->connectors) {
        otc_engine_destroy(e);
        return OTC_ENOMEM;
    }
    /* exporters first, then processors, then receivers (otelcol's build order) */
    /* each section is checked even when another failed: every error is reported */
    for (int k = 0; k < 5; k++) {
        static const enum otc_kind order[] = {OTC_EXTENSION, OTC_EXPORTER, OTC_CONNECTOR,
                                              OTC_PROCESSOR, OTC_RECEIVER};
        if (build_shared(e, y, order[k], d) != OTC_OK) {
            rc = OTC_EINVAL;
        }
    }
    if (otc_service_build(e, y, &svc, &pipes, d) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (svc && build_pipelines(e, y, svc, pipes, d) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (rc == OTC_OK && connect_graph(e, y, d) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (rc == OTC_OK && otc_persistent_queue_resolve(e, y, d) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (rc != OTC_OK) {
        otc_engine_destroy(e);
        return rc;
    }
    wire_graph(e);
    {
        char *a = yaml_canonical(y, otc_yaml_get(y, root, "extensions"));
        char *b = yaml_canonical(y, otc_yaml_get(y, svc, "extensions"));
        if (a && b && asprintf(&e->ext_conf, "%s|%s", a, b) < 0) {
            e->ext_conf = NULL;
        }
        free(a);
        free(b);
        if (!e->ext_conf) {
            otc_engine_destroy(e);
            return OTC_ENOMEM;
        }
    }
    for (size_t i = 0; i < e->n_pipelines; i++) {
        struct otc_pipeline *p = &e->pipelines[i];
        for (size_t k = 0; k < p->n_receivers + p->n_conn_in; k++) {
            struct otc_instance *r = k < p->n_receivers ? p->receivers[k] : p->conn_in[k - p->n_receivers];
            if (add_feed(r, p) != OTC_OK) {
                otc_engine_destroy(e);
                return OTC_ENOMEM;
            }
        }
    }
    if (link_connectors(e, y, d) != OTC_OK) {
        otc_engine_destroy(e);
        return OTC_EINVAL;
    }
    *out = e;
    return OTC_OK;
}

static void describe_list(FILE *out, const char *label, struct otc_instance *const *v, size_t n)
{
    fprintf(out, "    %s: [", label);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s%s", i ? ", " : "", v[i]->id);
    }
    fprintf(out, "]\n");
}

void otc_engine_describe(const struct otc_engine *e, FILE *out)
{
    fprintf(out, "pipelines:\n");
    for (size_t i = 0; i < e->n_pipelines; i++) {
        const struct otc_pipeline *p = &e->pipelines[i];
        struct otc_instance *tmp[64];
        size_t n = 0;

        fprintf(out, "  %s:\n", p->id);
        for (size_t k = 0; k < p->n_receivers + p->n_conn_in && n < 64; k++) {
            tmp[n++] = k < p->n_receivers ? p->receivers[k] : p->conn_in[k - p->n_receivers];
        }
        describe_list(out, "receivers", tmp, n);
        n = p->n_processors < 64 ? p->n_processors : 64;
        for (size_t k = 0; k < n; k++) {
            tmp[k] = &p->processors[k];
        }
        describe_list(out, "processors", tmp, n);
        n = 0;
        for (size_t k = 0; k < p->n_exporters + p->n_connectors && n < 64; k++) {
            tmp[n++] = k < p->n_exporters ? &p->exporters[k]->ins : p->connectors[k - p->n_exporters];
        }
        describe_list(out, "exporters", tmp, n);
    }
}
