/* fuzz_config.c - libFuzzer target: a pipeline.yaml text (with environment
 * substitution) loaded and built into an engine, which is then destroyed
 * without starting. Single-threaded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>

#include "core/config.h"
#include "core/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct otc_yaml y;
    struct otc_diag d = {0};
    struct otc_engine *e = NULL;

    setenv("OTC_FUZZ_VAR", "localhost:4317", 0);
    if (otc_yaml_load_string(&y, "fuzz.yaml", (const char *)data, size, &d) == OTC_OK &&
        otc_engine_build(&y, &d, &e) == OTC_OK) {
        otc_engine_destroy(e);
    }
    otc_yaml_free(&y);
    otc_diag_free(&d);
    return 0;
}
