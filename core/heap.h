/* heap.h - glibc heap settings for otelc's allocation pattern (requests'
 * arenas made on one thread and freed on another), and handing free heap
 * memory back to the kernel once the process is idle. Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_HEAP_H
#define OTC_CORE_HEAP_H

/* Before any other thread starts: keep freed memory in the heaps under load. */
void otc_heap_tune(void);
/* Call about once a second: after two calls with no change in the memory the
 * batches hold, give free heap memory back (once per idle spell). */
void otc_heap_idle_tick(void);

#endif
