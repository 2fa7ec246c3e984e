/* otc_sysinfo.h - what the machine lets this process use, as a container
 * limit sets it: total memory (cgroup memory limit, else MemTotal) and the
 * CPUs (affinity mask, capped by the cgroup CPU quota). Any thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_SYSINFO_H
#define OTC_INCLUDE_SYSINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Read a small /proc or /sys file into buf (NUL-terminated); false on error. */
bool     otc_read_small_file(const char *path, char *buf, size_t len);
/* Bytes of memory: the cgroup (v2 or v1) limit when one is set and lower, else MemTotal; 0 if unknown. */
uint64_t otc_memory_total(void);
/* CPUs the process may use: the affinity mask's count, capped by the cgroup
 * CPU quota rounded up (cpu.max, or cfs_quota_us / cfs_period_us); at least 1. */
unsigned otc_cpus_usable(void);

#endif
