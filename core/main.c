/* main.c - the otelc command line: run the collector from a config file, or
 * validate one. The main thread loads the config, starts the engine, then
 * waits for SIGINT/SIGTERM and drains everything before exiting. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <grpc/grpc.h>
#include <grpc/support/log.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
                                        "string", "enum", "map", "list", "section"};
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
                                        "string", "enum", "map", "list", "section"};
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

static int run(const char *path)
{
    struct otc_yaml y;
    struct otc_engine *e = NULL;
    sigset_t set;
    int sig = 0;
    int rc;

    /* gRPC's threads inherit this mask, so the signals reach sigwait below. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
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
    sigwait(&set, &sig);
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
