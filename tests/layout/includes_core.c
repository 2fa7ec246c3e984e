/* includes_core.c - must not compile: built with a component's include path
 * (include/ only), it reaches into core's private headers. ctest
 * layout_includes_core checks that the compiler refuses it. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "core/engine.h"
