/* registry.c - component lookup by kind and type over the one table of every
 * component compiled in (otc_components, defined by components.c at the top
 * of the tree), and the start-up check that no type is listed twice.
 * Read-only after start-up; any thread may look types up. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "engine.h"

const struct otc_component_ops *const *otc_registry_all(size_t *n)
{
    *n = otc_components_len;
    return otc_components;
}

const struct otc_component_ops *otc_registry_find(enum otc_kind kind, const char *type)
{
    for (size_t i = 0; i < otc_components_len; i++) {
        if (otc_components[i]->kind == kind && !strcmp(otc_components[i]->type, type)) {
            return otc_components[i];
        }
    }
    return NULL;
}

int otc_registry_check(void)
{
    for (size_t i = 0; i < otc_components_len; i++) {
        for (size_t j = i + 1; j < otc_components_len; j++) {
            if (otc_components[i]->kind == otc_components[j]->kind &&
                !strcmp(otc_components[i]->type, otc_components[j]->type)) {
                return OTC_EINVAL;
            }
        }
    }
    return OTC_OK;
}
