/* clock.h - the clocks and the sleep every thread uses: CLOCK_MONOTONIC for
 * deadlines and timers (otc_now_ns, declared for components in
 * otc/otc_component.h), CLOCK_REALTIME for wall-clock stamps. Any thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_CLOCK_H
#define OTC_CORE_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t otc_now_ns(void);
/* CLOCK_REALTIME in nanoseconds since the epoch. */
uint64_t otc_wall_ns(void);
/* Sleep ns nanoseconds (the whole time: resumed after a signal). */
void     otc_sleep_ns(int64_t ns);

#endif
