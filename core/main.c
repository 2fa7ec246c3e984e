/* main.c - the otelc command line, as otelcol's: run the collector from one or
 * more config sources (--config, repeated, and --set), validate them, print
 * the merged config or the components. The main thread loads the config,
 * starts the engine, then waits for SIGINT/SIGTERM (drains everything and
 * exits) and for SIGHUP or a change of a config file (reloads them all). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/support/log.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "engine.h"
#include "heap.h"
#include "otc/otc_buf.h"

#define OTELC_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: otelc --config URI [--config URI]... [--set KEY=VALUE]...   run the collector\n"
            "       otelc validate --config URI...       check the config, print its pipelines\n"
            "       otelc print-config --config URI...   print the merged, resolved config\n"
            "                 [--format yaml|json] [--mode redacted|unredacted]\n"
            "       otelc components                     the components built in (YAML)\n"
            "       otelc reference                      every option of every component (Markdown)\n"
            "       otelc --help-component KIND/TYPE     print a component's options\n"
            "       otelc --version\n"
            "URI: a path, file:PATH, env:VAR (YAML in a variable) or yaml:INLINE; sources merge in\n"
            "order (mappings deep-merged, the later value wins, lists replaced). --set takes\n"
            "a.b.c=value (split at . and ::). --feature-gates is accepted (otelc has none).\n");
}

/* The config sources of the command line. */
struct sources {
    const char **uris;
    size_t       n_uris;
    const char **sets;
    size_t       n_sets;
    char         name[512]; /* for messages: the sources, comma-separated */
};

static int push_arg(const char ***v, size_t *n, const char *arg)
{
    const char **grown = realloc(*v, (*n + 1) * sizeof(**v));

    if (!grown) {
        return OTC_ENOMEM;
    }
    *v = grown;
    (*v)[(*n)++] = arg;
    return OTC_OK;
}

static void sources_name(struct sources *src)
{
    size_t len = 0;

    src->name[0] = '\0';
    for (size_t i = 0; i < src->n_uris + src->n_sets && len < sizeof(src->name); i++) {
        const char *n = i < src->n_uris ? src->uris[i] : src->sets[i - src->n_uris];
        len += (size_t)snprintf(src->name + len, sizeof(src->name) - len, "%s%s%s", i ? ", " : "",
                                i < src->n_uris ? "" : "--set ", n);
    }
}

static int load_yaml(const struct sources *src, struct otc_yaml *y, struct otc_diag *d)
{
    return otc_yaml_load_sources(y, src->uris, src->n_uris, src->sets, src->n_sets, d);
}

static void report(const struct sources *src, struct otc_diag *d, int rc)
{
    if (d->n == 0) {
        otc_diag_add(d, src->name, NULL, "%s", otc_strerror(rc));
    }
    otc_diag_print(d, stderr);
    fprintf(stderr, "otelc: %zu error%s in %s\n", d->n, d->n == 1 ? "" : "s", src->name);
}

static int load(const struct sources *src, struct otc_yaml *y, struct otc_engine **e)
{
    struct otc_diag d = {0};
    int rc = load_yaml(src, y, &d);

    if (rc == OTC_OK) {
        rc = otc_engine_build(y, &d, e);
    }
    if (rc != OTC_OK) {
        report(src, &d, rc);
    }
    otc_diag_free(&d);
    return rc;
}

static const char *const cfg_types[] = {"bool", "int", "float", "size", "duration", "string",
                                        "enum", "map", "list", "section", "node", "mappings",
                                        "any", "tree"};

/* prefix: "" or the list key an element's table sits under ("actions[]."). */
static void print_map(const struct otc_config_entry *map, const char *prefix)
{
    for (const struct otc_config_entry *e = map; e && e->key; e++) {
        char key[160];
        snprintf(key, sizeof(key), "%s%s", prefix, e->key);
        printf("  %-40s %-9s default %-10s %s\n", key, cfg_types[e->type], e->def ? e->def : "-",
               e->desc);
        if (e->type == OTC_CFG_LIST) {
            snprintf(key, sizeof(key), "%s%s[].", prefix, e->key);
            print_map(otc_cfg_sub_of(e)->map, key);
        }
    }
}

/* One Markdown row per option; a list's element options follow it as key[].option. */
static void print_rows(const struct otc_config_entry *map, const char *prefix)
{
    for (const struct otc_config_entry *e = map; e && e->key; e++) {
        printf("| `%s%s` | %s | %s | %s", prefix, e->key, cfg_types[e->type], e->def ? e->def : "",
               e->desc);
        if (e->type == OTC_CFG_ENUM) {
            printf(" (");
            for (int c = 0; e->choices[c]; c++) {
                printf("%s%s", c ? ", " : "", e->choices[c]);
            }
            printf(")");
        }
        printf(" |\n");
        if (e->type == OTC_CFG_LIST) {
            char key[160];
            snprintf(key, sizeof(key), "%s%s[].", prefix, e->key);
            print_rows(otc_cfg_sub_of(e)->map, key);
        }
    }
}

static int help_component(const char *spec)
{
    size_t n;
    const struct otc_component_ops *const *all = otc_registry_all(&n);

    for (size_t i = 0; i < n; i++) {
        char name[160];
        snprintf(name, sizeof(name), "%s/%s", otc_kind_name(all[i]->kind), all[i]->type);
        if (strcmp(spec, name) && strcmp(spec, all[i]->type)) {
            continue;
        }
        printf("%s:\n", name);
        print_map(all[i]->config_map, "");
        if (all[i]->kind == OTC_EXPORTER) {
            print_map(otc_exporter_helper_map(), "");
        }
    }
    return 0;
}

/* Markdown tables of every component's options; README.md embeds this output
 * and a test keeps the two in step. */
static int print_reference(void)
{
    size_t n;
    const struct otc_component_ops *const *all = otc_registry_all(&n);

    for (size_t i = 0; i < n; i++) {
        const struct otc_config_entry *maps[2] = {all[i]->config_map,
                                                  all[i]->kind == OTC_EXPORTER ? otc_exporter_helper_map() : NULL};
        printf("#### %s `%s`", otc_kind_name(all[i]->kind), all[i]->type);
        for (size_t a = 0; a < otc_component_aliases_len; a++) {
            if (otc_component_aliases[a].kind == all[i]->kind &&
                !strcmp(otc_component_aliases[a].type, all[i]->type)) {
                printf(" (also `%s`)", otc_component_aliases[a].alias);
            }
        }
        printf("\n\n");
        printf("| option | type | default | meaning |\n|---|---|---|---|\n");
        for (int m = 0; m < 2; m++) {
            print_rows(maps[m], "");
        }
        printf("\n");
    }
    return 0;
}

/* One entry of `components`: name, module, stability per signal. */
static void print_component(const struct otc_component_ops *c, const char *name)
{
    static const char *const signals[] = {"logs", "metrics", "traces"};
    static const unsigned bits[] = {OTC_SIG_LOGS, OTC_SIG_METRICS, OTC_SIG_TRACES};

    printf("  - name: %s\n    module: otelc/%s/%s %s\n    stability:\n", name,
           otc_kind_name(c->kind), c->type, OTELC_VERSION);
    if (c->kind == OTC_EXTENSION) {
        printf("      extension: Beta\n");
        return;
    }
    if (c->kind == OTC_CONNECTOR) { /* same-signal connectors only */
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) {
                printf("      %s-to-%s: %s\n", signals[a], signals[b],
                       a == b && (c->signals & bits[a]) ? "Beta" : "Undefined");
            }
        }
        return;
    }
    for (int s = 0; s < 3; s++) {
        printf("      %s: %s\n", signals[s], (c->signals & bits[s]) ? "Beta" : "Undefined");
    }
}

/* The components built in, as otelcol's `components` prints them. otelc
 * keeps no per-component stability level: every one is given as Beta. */
static int list_components(void)
{
    static const char *const sections[] = {"receivers", "processors", "exporters", "extensions",
                                           "connectors"};
    static const enum otc_kind order[] = {OTC_RECEIVER, OTC_PROCESSOR, OTC_EXPORTER, OTC_CONNECTOR,
                                          OTC_EXTENSION};
    size_t n;
    const struct otc_component_ops *const *all = otc_registry_all(&n);

    printf("buildinfo:\n  command: otelc\n  description: otelc, an OpenTelemetry Collector in C\n"
           "  version: %s\n", OTELC_VERSION);
    for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            if (all[i]->kind != order[o]) {
                continue;
            }
            if (!any) {
                printf("%s:\n", sections[order[o]]);
                any = true;
            }
            /* the component under its own type, then under each other name
             * it answers to (otelcol's otlp_grpc and otlp_http for otlp and
             * otlphttp), each entry as otelcol prints one */
            print_component(all[i], all[i]->type);
            for (size_t a = 0; a < otc_component_aliases_len; a++) {
                if (otc_component_aliases[a].kind == all[i]->kind &&
                    !strcmp(otc_component_aliases[a].type, all[i]->type)) {
                    print_component(all[i], otc_component_aliases[a].alias);
                }
            }
        }
        if (!any) {
            printf("%s: []\n", sections[order[o]]);
        }
    }
    printf("providers:\n");
    for (int p = 0; p < 3; p++) {
        static const char *const schemes[] = {"env", "file", "yaml"};
        printf("  - scheme: %s\n    module: otelc/confmap/provider/%sprovider %s\n", schemes[p],
               schemes[p], OTELC_VERSION);
    }
    return 0;
}

/* gRPC core's own log lines go through otelc's logger at debug level: the
 * component that hit the problem logs one clear line of its own. */
static void grpc_log_to_otc(gpr_log_func_args *args)
{
    otc_log_debug(NULL, "grpc: %s:%d: %s", args->file, args->line, args->message);
}

#define RELOAD_DEBOUNCE_MS 200

/* The config file's bytes (NULL when it cannot be read), to tell a real change
 * from other activity in its directory. */
static char *read_config(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;

    *len = 0;
    if (!f) {
        return NULL;
    }
    buf = malloc(OTC_CONFIG_MAX_BYTES + 1);
    if (buf) {
        *len = fread(buf, 1, OTC_CONFIG_MAX_BYTES + 1, f);
        if (ferror(f)) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

/* The bytes of every file source one after the other (each preceded by its
 * length, -1 when unreadable), to tell a real change from other activity in
 * their directories. */
static char *snapshot(const struct sources *src, size_t *len)
{
    struct otc_buf b;

    otc_buf_init(&b);
    for (size_t i = 0; i < src->n_uris; i++) {
        const char *path = otc_config_source_file(src->uris[i]);
        size_t n = 0;
        char *text = path ? read_config(path, &n) : NULL;
        long long mark = text ? (long long)n : -1;

        otc_buf_add(&b, &mark, sizeof(mark));
        if (text) {
            otc_buf_add(&b, text, n);
        }
        free(text);
    }
    *len = b.len;
    if (b.oom) {
        otc_buf_free(&b);
        return NULL;
    }
    return b.data ? b.data : calloc(1, 1);
}

/* Load, validate and apply the config again. An invalid one is reported with
 * the diagnostics of `otelc validate` and the running engine stays. */
static void reload(const struct sources *src, struct otc_engine **e)
{
    struct otc_yaml y;
    struct otc_diag d = {0};
    struct otc_engine *next = NULL;
    size_t n_pipelines;
    int rc;

    otc_log_info(NULL, "reloading %s", src->name);
    rc = load_yaml(src, &y, &d);
    if (rc == OTC_OK) {
        rc = otc_engine_build(&y, &d, &next);
    }
    otc_yaml_free(&y);
    if (rc != OTC_OK) {
        if (d.n == 0) {
            otc_diag_add(&d, src->name, NULL, "%s", otc_strerror(rc));
        }
        otc_diag_print(&d, stderr);
        otc_log_err(NULL, "config reload failed: %zu error%s; keeping the running config", d.n,
                    d.n == 1 ? "" : "s");
        otc_diag_free(&d);
        return;
    }
    otc_diag_free(&d);
    n_pipelines = next->n_pipelines;
    if (otc_engine_reload(*e, next) != OTC_OK) {
        otc_log_err(NULL, "config reload failed: 1 error; keeping the running config");
        return;
    }
    *e = next;
    otc_log_info(NULL, "config reloaded (%zu pipeline%s)", n_pipelines, n_pipelines == 1 ? "" : "s");
}

/* Watch the directory of every file source (Kubernetes swaps a ConfigMap's
 * `..data` symlink there). */
static int watch_sources(const struct sources *src)
{
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    int watched = 0;

    for (size_t i = 0; ifd >= 0 && i < src->n_uris; i++) {
        const char *path = otc_config_source_file(src->uris[i]);
        char *dircopy = path ? strdup(path) : NULL;

        if (dircopy && inotify_add_watch(ifd, dirname(dircopy), IN_CLOSE_WRITE | IN_MOVED_TO |
                                                                IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                                                                IN_ATTRIB) >= 0) {
            watched++;
        } else if (path) {
            otc_log_warn(NULL, "cannot watch the directory of %s (%s); reload with SIGHUP", path,
                         strerror(errno));
        }
        free(dircopy);
    }
    if (ifd >= 0 && !watched) {
        close(ifd);
        ifd = -1;
    }
    return ifd;
}

/* Wait for SIGINT/SIGTERM; reload on SIGHUP, and when the content of a config
 * file changes (events are debounced). */
static int serve(const struct sources *src, const sigset_t *set, struct otc_engine **e)
{
    int sfd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    int ifd = watch_sources(src);
    size_t last_len = 0;
    char *last = snapshot(src, &last_len);
    uint64_t due = 0;
    int sig = 0;

    while (sig != SIGINT && sig != SIGTERM) {
        struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {ifd, POLLIN, 0}};
        int timeout = -1;
        uint64_t now = otc_now_ns();

        if (due) {
            timeout = due > now ? (int)((due - now + 999999u) / 1000000u) : 0;
        }
        if (timeout < 0 || timeout > 1000) {
            timeout = 1000; /* the idle heap trim looks once a second */
        }
        if (sfd < 0) { /* no signalfd: wait for the signals the old way */
            sigwait(set, &sig);
        } else if (poll(pfd, ifd >= 0 ? 2 : 1, timeout) > 0 && (pfd[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                sig = (int)si.ssi_signo;
            }
        }
        otc_heap_idle_tick();
        if (ifd >= 0 && (pfd[1].revents & POLLIN)) {
            char buf[4096];
            while (read(ifd, buf, sizeof(buf)) > 0) {
            }
            due = otc_now_ns() + RELOAD_DEBOUNCE_MS * 1000000ull;
        }
        if (sig == SIGHUP) {
            sig = 0;
            due = 0;
            free(last);
            last = snapshot(src, &last_len);
            reload(src, e);
        } else if (due && otc_now_ns() >= due) {
            size_t len;
            char *cur = snapshot(src, &len);
            due = 0;
            if (cur && (!last || len != last_len || memcmp(cur, last, len))) {
                free(last);
                last = cur;
                last_len = len;
                otc_log_info(NULL, "%s changed", src->name);
                reload(src, e);
            } else {
                free(cur);
            }
        }
    }
    free(last);
    if (ifd >= 0) {
        close(ifd);
    }
    if (sfd >= 0) {
        close(sfd);
    }
    return sig;
}

static int run(const struct sources *src)
{
    struct otc_yaml y;
    struct otc_engine *e = NULL;
    sigset_t set;
    int sig = 0;
    int rc;

    otc_heap_tune();
    /* gRPC's threads inherit this mask, so the signals reach the main thread. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (load(src, &y, &e) != OTC_OK) {
        otc_yaml_free(&y);
        return 1;
    }
    otc_yaml_free(&y);
    gpr_set_log_function(grpc_log_to_otc);
    grpc_init();
    rc = otc_engine_start(e);
    if (rc != OTC_OK) {
        otc_log_err(NULL, "start-up failed: %s", otc_strerror(rc));
        otc_engine_stop(e);
        otc_engine_destroy(e);
        grpc_shutdown();
        return 1;
    }
    otc_log_info(NULL, "Everything is ready. Begin running and processing data.");
    sig = serve(src, &set, &e);
    otc_log_info(NULL, "received signal %d, shutting down", sig);
    otc_engine_stop(e);
    otc_engine_destroy(e);
    grpc_shutdown();
    otc_log_info(NULL, "shutdown complete");
    return 0;
}

static int validate(const struct sources *src)
{
    struct otc_yaml y;
    struct otc_engine *e = NULL;
    int rc = load(src, &y, &e);

    otc_yaml_free(&y);
    if (rc != OTC_OK) {
        return 1;
    }
    printf("%s: valid\n", src->name);
    otc_engine_describe(e, stdout);
    otc_engine_destroy(e);
    return 0;
}

/* print-config: the merged, resolved config (not validated, as otelcol). */
static int print_config(const struct sources *src, bool json, bool redact)
{
    struct otc_yaml y;
    struct otc_diag d = {0};
    int rc = load_yaml(src, &y, &d);

    if (rc == OTC_OK) {
        rc = otc_yaml_print(&y, stdout, json, redact);
    } else {
        report(src, &d, rc);
    }
    otc_diag_free(&d);
    otc_yaml_free(&y);
    return rc == OTC_OK ? 0 : 1;
}

/* --name VALUE or --name=VALUE at argv[*i]: the value (and *i moved past it). */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);

    if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=') {
        return argv[*i] + n + 1;
    }
    if (!strcmp(argv[*i], name) && *i + 1 < argc) {
        return argv[++*i];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct sources src;
    enum { CMD_RUN, CMD_VALIDATE, CMD_PRINT } cmd = CMD_RUN;
    bool json = false, redact = true;
    const char *v;
    int rc;

    memset(&src, 0, sizeof(src));
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "validate")) {
            cmd = CMD_VALIDATE;
        } else if (!strcmp(argv[i], "print-config")) {
            cmd = CMD_PRINT;
        } else if ((v = opt_value(argc, argv, &i, "--config"))) {
            if (push_arg(&src.uris, &src.n_uris, v) != OTC_OK) {
                return 1;
            }
        } else if ((v = opt_value(argc, argv, &i, "--set"))) {
            if (push_arg(&src.sets, &src.n_sets, v) != OTC_OK) {
                return 1;
            }
        } else if ((v = opt_value(argc, argv, &i, "--feature-gates"))) {
            fprintf(stderr, "otelc: --feature-gates %s: accepted; otelc has no feature gates\n", v);
        } else if ((v = opt_value(argc, argv, &i, "--format"))) {
            if (strcmp(v, "yaml") && strcmp(v, "json")) {
                fprintf(stderr, "otelc: --format: expected yaml or json, got '%s'\n", v);
                return 2;
            }
            json = !strcmp(v, "json");
        } else if ((v = opt_value(argc, argv, &i, "--mode"))) {
            if (strcmp(v, "redacted") && strcmp(v, "unredacted")) {
                fprintf(stderr, "otelc: --mode: expected redacted or unredacted, got '%s'\n", v);
                return 2;
            }
            redact = !strcmp(v, "redacted");
        } else if (!strcmp(argv[i], "reference")) {
            return print_reference();
        } else if (!strcmp(argv[i], "components")) {
            return list_components();
        } else if (!strcmp(argv[i], "--help-component") && i + 1 < argc) {
            return help_component(argv[++i]);
        } else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-v")) {
            printf("otelc version %s\n", OTELC_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "otelc: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!src.n_uris) {
        fprintf(stderr, "otelc: at least one --config is required\n");
        usage(stderr);
        free(src.sets);
        return 2;
    }
    sources_name(&src);
    rc = cmd == CMD_VALIDATE ? validate(&src) : cmd == CMD_PRINT ? print_config(&src, json, redact)
                                                                  : run(&src);
    free(src.uris);
    free(src.sets);
    return rc;
}
