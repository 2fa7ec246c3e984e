/* registry.c - component lookup by kind and type over the one table of every
 * component compiled in (otc_components, defined by components.c at the top
 * of the tree, with its aliases), and the start-up check that no type or
 * alias is listed twice and that every alias names a component.
 * Read-only after start-up; any thread may look types up. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "engine.h"

const struct otc_component_ops *const *otc_registry_all(size_t *n)
{
    *n = otc_components_len;
    return otc_components;
}

static const struct otc_component_ops *registry_type(enum otc_kind kind, const char *type)
{
    for (size_t i = 0; i < otc_components_len; i++) {
        if (otc_components[i]->kind == kind && !strcmp(otc_components[i]->type, type)) {
            return otc_components[i];
        }
    }
    return NULL;
}

const struct otc_component_ops *otc_registry_find(enum otc_kind kind, const char *type)
{
    const struct otc_component_ops *ops = registry_type(kind, type);

    for (size_t i = 0; !ops && i < otc_component_aliases_len; i++) {
        if (otc_component_aliases[i].kind == kind && !strcmp(otc_component_aliases[i].alias, type)) {
            ops = registry_type(kind, otc_component_aliases[i].type);
        }
    }
    return ops;
}

const struct otc_component_ops *otc_component_find(enum otc_kind kind, const char *type)
{
    return otc_registry_find(kind, type);
}

int otc_registry_check(void)
{
    for (size_t i = 0; i < otc_component_aliases_len; i++) {
        const struct otc_component_alias *a = &otc_component_aliases[i];

        if (!registry_type(a->kind, a->type) || registry_type(a->kind, a->alias)) {
            return OTC_EINVAL;
        }
        for (size_t j = i + 1; j < otc_component_aliases_len; j++) {
            if (otc_component_aliases[j].kind == a->kind &&
                !strcmp(otc_component_aliases[j].alias, a->alias)) {
                return OTC_EINVAL;
            }
        }
    }
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
