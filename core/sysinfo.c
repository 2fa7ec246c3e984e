/* sysinfo.c - the memory and CPUs a container limit leaves this process
 * (include/otc/otc_sysinfo.h). Read at start-up and by the memory limiter's
 * checks, on whichever thread asks. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otc/otc_sysinfo.h"

bool otc_read_small_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0) {
        return false;
    }
    n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0) {
        return false;
    }
    buf[n] = '\0';
    return true;
}

uint64_t otc_memory_total(void)
{
    char buf[4096];
    uint64_t total = 0, cg = 0;
    const char *p;

    if (otc_read_small_file("/proc/meminfo", buf, sizeof(buf)) && (p = strstr(buf, "MemTotal:")) != NULL) {
        total = strtoull(p + 9, NULL, 10) * 1024u;
    }
    if (otc_read_small_file("/sys/fs/cgroup/memory.max", buf, sizeof(buf))) {
        if (buf[0] >= '0' && buf[0] <= '9') { /* "max": no limit */
            cg = strtoull(buf, NULL, 10);
        }
    } else if (otc_read_small_file("/sys/fs/cgroup/memory/memory.limit_in_bytes", buf, sizeof(buf))) {
        cg = strtoull(buf, NULL, 10);
    }
    if (cg > 0 && (total == 0 || cg < total)) {
        total = cg;
    }
    return total;
}

/* The cgroup CPU quota in CPUs, rounded up; 0 when there is none. */
static unsigned cgroup_cpu_quota(void)
{
    char buf[128];
    long long quota = -1, period = 0;

    if (otc_read_small_file("/sys/fs/cgroup/cpu.max", buf, sizeof(buf))) {
        if (strncmp(buf, "max", 3) == 0 || sscanf(buf, "%lld %lld", &quota, &period) != 2) {
            return 0;
        }
    } else if (otc_read_small_file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", buf, sizeof(buf))) {
        quota = strtoll(buf, NULL, 10);
        if (otc_read_small_file("/sys/fs/cgroup/cpu/cpu.cfs_period_us", buf, sizeof(buf))) {
            period = strtoll(buf, NULL, 10);
        }
    }
    if (quota <= 0 || period <= 0) {
        return 0;
    }
    return (unsigned)((quota + period - 1) / period);
}

unsigned otc_cpus_usable(void)
{
    cpu_set_t set;
    unsigned n = 0, quota = cgroup_cpu_quota();

    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        n = (unsigned)CPU_COUNT(&set);
    }
    if (n == 0) {
        long k = sysconf(_SC_NPROCESSORS_ONLN);
        n = k > 0 ? (unsigned)k : 1;
    }
    if (quota && quota < n) {
        n = quota;
    }
    return n ? n : 1;
}
