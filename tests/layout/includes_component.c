/* includes_component.c - must not compile: built with core's or another
 * component's include path (include/ only), it names a component's header.
 * ctest layout_includes_component checks that the compiler refuses it. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "processor/batch/batch.h"
