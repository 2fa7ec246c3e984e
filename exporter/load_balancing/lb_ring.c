/* lb_ring.c - the load_balancing exporter's consistent hash ring (lb_ring.h):
 * CRC-32 positions, linear probing on collisions, and a position -> endpoint
 * table for one-read lookups. Built on the resolver thread; read by any. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lb_ring.h"
#include "otc/otc_rc.h"

/* The reflected IEEE polynomial's tables for slicing by 8 (t[0] is the
 * classic byte table; t[k][i] is t[k-1][i] advanced by one zero byte),
 * computed once. A trace id is two 8-byte steps. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int k = 1; k < 8; k++) {
            crc_table[k][i] = crc_table[0][crc_table[k - 1][i] & 0xff] ^ (crc_table[k - 1][i] >> 8);
        }
    }
}

uint32_t lb_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;

    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^
              crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len--) {
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

int lb_ring_build(struct lb_ring *r, const char *const *endpoints, size_t n)
{
    /* taken[pos]: endpoint index + 1 of the point placed there, 0 = free */
    uint16_t *taken;
    size_t first = LB_RING_POSITIONS;

    if (n > 65535) {
        return OTC_EINVAL;
    }
    memset(r, 0, sizeof(*r));
    r->n_endpoints = n;
    if (n == 0) {
        return OTC_OK;
    }
    if (!(taken = calloc(LB_RING_POSITIONS, sizeof(*taken)))) {
        return OTC_ENOMEM;
    }
    for (size_t e = 0; e < n; e++) {
        uint32_t base = lb_crc32(0, endpoints[e], strlen(endpoints[e]));

        for (uint32_t i = 0; i < LB_RING_WEIGHT; i++) {
            uint8_t le[4] = {(uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), (uint8_t)(i >> 24)};
            uint32_t pos = lb_crc32(base, le, sizeof(le)) % LB_RING_POSITIONS;
            unsigned probed = 0;

            while (taken[pos] && probed < LB_RING_PROBES) {
                pos = (pos + 1) % LB_RING_POSITIONS;
                probed++;
            }
            if (probed >= LB_RING_PROBES) {
                continue; /* upstream gives up on the point after 9 further positions */
            }
            taken[pos] = (uint16_t)(e + 1);
            r->n_points++;
        }
    }
    /* owner of pos = the first point at or after pos, wrapping: sweep down
     * from the end, starting with the lowest point (the wrap-around owner) */
    for (size_t p = 0; p < LB_RING_POSITIONS && first == LB_RING_POSITIONS; p++) {
        if (taken[p]) {
            first = p;
        }
    }
    {
        uint16_t cur = (uint16_t)(taken[first] - 1);
        for (size_t p = LB_RING_POSITIONS; p-- > 0;) {
            if (taken[p]) {
                cur = (uint16_t)(taken[p] - 1);
            }
            r->owner[p] = cur;
        }
    }
    free(taken);
    return OTC_OK;
}
