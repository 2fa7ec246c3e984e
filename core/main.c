/* main.c - the otelc command line: run the collector from a config file, or
 * validate one. The main thread loads the config, starts the engine, then
 * waits for SIGINT/SIGTERM (drains everything and exits) and for SIGHUP or a
 * change of the config file (reloads it). */
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

#define OTELC_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: otelc --config FILE            run the collector\n"
            "       otelc validate --config FILE   check a config, print its pipelines\n"
            "       otelc components               list the component types\n"
            "       otelc reference                every option of every component (Markdown)\n"
            "       otelc --help-component KIND/TYPE   print a component's options\n"
            "       otelc --version\n");
}

static int load(const char *path, struct otc_yaml *y, struct otc_engine **e)
{
    struct otc_diag d = {0};
    int rc = otc_yaml_load(y, path, &d);

    if (rc == OTC_OK) {
        rc = otc_engine_build(y, &d, e);
    }
    if (rc != OTC_OK) {
        if (d.n == 0) {
            otc_diag_add(&d, path, NULL, "%s", otc_strerror(rc));
        }
        otc_diag_print(&d, stderr);
        fprintf(stderr, "otelc: %zu error%s in %s\n", d.n, d.n == 1 ? "" : "s", path);
    }
    otc_diag_free(&d);
    return rc;
}

static void print_map(const struct otc_config_entry *map)
{
    static const char *const types[] = {"bool", "int", "float", "size", "duration",
                                        "string", "enum", "map", "list", "section", "node"};
    for (const struct otc_config_entry *e = map; e && e->key; e++) {
        printf("  %-40s %-9s default %-10s %s\n", e->key, types[e->type], e->def ? e->def : "-",
               e->desc);
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
        print_map(all[i]->config_map);
        if (all[i]->kind == OTC_EXPORTER) {
            print_map(otc_exporter_helper_map());
        }
    }
    return 0;
}

/* Markdown tables of every component's options; README.md embeds this output
 * and a test keeps the two in step. */
static int print_reference(void)
{
    static const char *const types[] = {"bool", "int", "float", "size", "duration",
                                        "string", "enum", "map", "list", "section", "node"};
    size_t n;
    const struct otc_component_ops *const *all = otc_registry_all(&n);

    for (size_t i = 0; i < n; i++) {
        const struct otc_config_entry *maps[2] = {all[i]->config_map,
                                                  all[i]->kind == OTC_EXPORTER ? otc_exporter_helper_map() : NULL};
        printf("#### %s `%s`\n\n", otc_kind_name(all[i]->kind), all[i]->type);
        printf("| option | type | default | meaning |\n|---|---|---|---|\n");
        for (int m = 0; m < 2; m++) {
            for (const struct otc_config_entry *e = maps[m]; e && e->key; e++) {
                printf("| `%s` | %s | %s | %s", e->key, types[e->type], e->def ? e->def : "",
                       e->desc);
                if (e->type == OTC_CFG_ENUM) {
                    printf(" (");
                    for (int c = 0; e->choices[c]; c++) {
                        printf("%s%s", c ? ", " : "", e->choices[c]);
                    }
                    printf(")");
                }
                printf(" |\n");
            }
        }
        printf("\n");
    }
    return 0;
}

static int list_components(void)
{
    size_t n;
    const struct otc_component_ops *const *all = otc_registry_all(&n);

    for (size_t i = 0; i < n; i++) {
        printf("%-10s %-12s %s%s%s\n", otc_kind_name(all[i]->kind), all[i]->type,
               all[i]->signals & OTC_SIG_TRACES ? "traces " : "",
               all[i]->signals & OTC_SIG_METRICS ? "metrics " : "",
               all[i]->signals & OTC_SIG_LOGS ? "logs" : "");
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

/* Load, validate and apply the config again. An invalid one is reported with
 * the diagnostics of `otelc validate` and the running engine stays. */
static void reload(const char *path, struct otc_engine **e)
{
    struct otc_yaml y;
    struct otc_diag d = {0};
    struct otc_engine *next = NULL;
    size_t n_pipelines;
    int rc;

    otc_log_info(NULL, "reloading %s", path);
    rc = otc_yaml_load(&y, path, &d);
    if (rc == OTC_OK) {
        rc = otc_engine_build(&y, &d, &next);
    }
    otc_yaml_free(&y);
    if (rc != OTC_OK) {
        if (d.n == 0) {
            otc_diag_add(&d, path, NULL, "%s", otc_strerror(rc));
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

/* Wait for SIGINT/SIGTERM; reload on SIGHUP, and when the config file's
 * content changes: its directory is watched (Kubernetes swaps a ConfigMap's
 * `..data` symlink there), and events are debounced. */
static int serve(const char *path, const sigset_t *set, struct otc_engine **e)
{
    int sfd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    char *dircopy = strdup(path);
    size_t last_len = 0;
    char *last = read_config(path, &last_len);
    uint64_t due = 0;
    int sig = 0;

    if (ifd >= 0 && dircopy &&
        inotify_add_watch(ifd, dirname(dircopy), IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                                                 IN_CREATE | IN_DELETE | IN_ATTRIB) < 0) {
        otc_log_warn(NULL, "cannot watch the config's directory (%s); reload with SIGHUP",
                     strerror(errno));
        close(ifd);
        ifd = -1;
    }
    free(dircopy);
    while (sig != SIGINT && sig != SIGTERM) {
        struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {ifd, POLLIN, 0}};
        int timeout = -1;
        uint64_t now = otc_now_ns();

        if (due) {
            timeout = due > now ? (int)((due - now + 999999u) / 1000000u) : 0;
        }
        if (sfd < 0) { /* no signalfd: wait for the signals the old way */
            sigwait(set, &sig);
        } else if (poll(pfd, ifd >= 0 ? 2 : 1, timeout) > 0 && (pfd[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                sig = (int)si.ssi_signo;
            }
        }
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
            last = read_config(path, &last_len);
            reload(path, e);
        } else if (due && otc_now_ns() >= due) {
            size_t len;
            char *cur = read_config(path, &len);
            due = 0;
            if (cur && (!last || len != last_len || memcmp(cur, last, len))) {
                free(last);
                last = cur;
                last_len = len;
                otc_log_info(NULL, "%s changed", path);
                reload(path, e);
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

static int run(const char *path)
{
    struct otc_yaml y;
    struct otc_engine *e = NULL;
    sigset_t set;
    int sig = 0;
    int rc;

    /* gRPC's threads inherit this mask, so the signals reach the main thread. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (load(path, &y, &e) != OTC_OK) {
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
    sig = serve(path, &set, &e);
    otc_log_info(NULL, "received signal %d, shutting down", sig);
    otc_engine_stop(e);
    otc_engine_destroy(e);
    grpc_shutdown();
    otc_log_info(NULL, "shutdown complete");
    return 0;
}

static int validate(const char *path)
{
    struct otc_yaml y;
    struct otc_engine *e = NULL;
    int rc = load(path, &y, &e);

    otc_yaml_free(&y);
    if (rc != OTC_OK) {
        return 1;
    }
    printf("%s: valid\n", path);
    otc_engine_describe(e, stdout);
    otc_engine_destroy(e);
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    bool do_validate = false;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "validate")) {
            do_validate = true;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            config = argv[i] + 9;
        } else if (!strcmp(argv[i], "reference")) {
            return print_reference();
        } else if (!strcmp(argv[i], "components")) {
            return list_components();
        } else if (!strcmp(argv[i], "--help-component") && i + 1 < argc) {
            return help_component(argv[++i]);
        } else if (!strcmp(argv[i], "--version")) {
            printf("otelc %s\n", OTELC_VERSION);
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
    if (!config) {
        usage(stderr);
        return 2;
    }
    return do_validate ? validate(config) : run(config);
}
