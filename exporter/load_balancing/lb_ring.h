/* lb_ring.h - the load_balancing exporter's consistent hash ring, the one
 * otelcol-contrib's loadbalancing exporter builds (v0.130 on), so that a mixed
 * fleet of otelc and otelcol agents sends a key to the same backend. Built on
 * the resolver thread, then read-only: any thread may look keys up. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXPORTER_LB_RING_H
#define OTC_EXPORTER_LB_RING_H

#include <stddef.h>
#include <stdint.h>

#define LB_RING_POSITIONS 36000u /* 360 degrees with two decimals */
#define LB_RING_WEIGHT    100u   /* points per endpoint */
#define LB_RING_PROBES    10u    /* a point's own position and 9 after it */

/* A built ring: for every one of the 36000 positions, the index (into the
 * endpoint list it was built from) of the endpoint owning the first point at
 * or after it, wrapping around; lookups are one table read. */
struct lb_ring {
    uint16_t owner[LB_RING_POSITIONS];
    size_t   n_points;  /* points placed (some may have been dropped) */
    size_t   n_endpoints;
};

/* CRC-32 (IEEE 802.3, zlib's crc32) of len bytes, continuing from crc (0 to start). */
uint32_t lb_crc32(uint32_t crc, const void *data, size_t len);

/* The position of a routing key: crc32(key) % 36000. */
static inline uint32_t lb_ring_position(const void *key, size_t len)
{
    return lb_crc32(0, key, len) % LB_RING_POSITIONS;
}

/* Build r from n endpoints, in the order given (the caller sorts them, as
 * otelcol's resolvers do): endpoint e's point i sits at
 * crc32(endpoint || uint32_le(i)) % 36000; a point that lands on a taken
 * position moves to the next free one among the following 9 (wrapping), and
 * is dropped when all are taken. n is at most 65535; n == 0 gives an empty
 * ring (n_points 0). OTC_OK or OTC_EINVAL. */
int lb_ring_build(struct lb_ring *r, const char *const *endpoints, size_t n);

/* The index of the endpoint owning position pos (< 36000) of a non-empty ring. */
static inline unsigned lb_ring_owner(const struct lb_ring *r, uint32_t pos)
{
    return r->owner[pos];
}

#endif
