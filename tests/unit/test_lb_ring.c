/* test_lb_ring.c - unit tests for the load_balancing exporter's hash ring
 * (exporter/load_balancing/lb_ring.c): its CRC-32 against zlib's, and the
 * endpoint it picks for known trace ids against values computed separately
 * with Python's zlib.crc32 and the ring rules of otelcol-contrib (v0.130 on):
 * 100 points per endpoint at crc32(endpoint || uint32_le(i)) % 36000, linear
 * probing over 9 further positions, first point at or after the key's position. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "exporter/load_balancing/lb_ring.h"
#include "otc/otc_rc.h"

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void hex16(const char *hex, uint8_t out[16])
{
    for (int i = 0; i < 16; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void test_crc32_matches_zlib(void **state)
{
    uint8_t buf[257];
    (void)state;

    assert_int_equal(lb_crc32(0, "123456789", 9), 0xcbf43926u);
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 131u + 7u);
    }
    for (size_t len = 0; len <= sizeof(buf); len += 17) {
        assert_int_equal(lb_crc32(0, buf, len), (uint32_t)crc32(0, buf, (uInt)len));
    }
    /* continuing a CRC is hashing the concatenation */
    assert_int_equal(lb_crc32(lb_crc32(0, buf, 100), buf + 100, 57), lb_crc32(0, buf, 157));
}

/* Three endpoints; expected owners from Python (see the file's header). */
static void test_three_endpoints(void **state)
{
    static const char *const eps[] = {"10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"};
    static const struct {
        const char *id;
        uint32_t    pos;
        unsigned    owner;
    } want[] = {
        {"00000000000000000000000000000000", 33493, 0},
        {"000102030405060708090a0b0c0d0e0f", 20904, 1},
        {"0af7651916cd43dd8448eb211c80319c", 25813, 0},
        {"4bf92f3577b34da6a3ce929d0e0e4736", 4869, 2},
        {"ffffffffffffffffffffffffffffffff", 14266, 2},
        {"5b8efff798038103d269b633813fc60c", 11896, 2},
    };
    struct lb_ring *r = malloc(sizeof(*r));
    (void)state;

    assert_non_null(r);
    assert_int_equal(lb_ring_build(r, eps, 3), OTC_OK);
    assert_int_equal(r->n_points, 300);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint8_t id[16];
        uint32_t pos;

        hex16(want[i].id, id);
        pos = lb_ring_position(id, 16);
        assert_int_equal(pos, want[i].pos);
        assert_int_equal(lb_ring_owner(r, pos), want[i].owner);
    }
    free(r);
}

/* 300 endpoints: 30000 points in 36000 positions collide often, and the
 * probing limit drops 1490 of them (Python gives 28510 placed). */
static void test_many_endpoints_probe_and_drop(void **state)
{
    char names[300][16];
    const char *eps[300];
    struct lb_ring *r = malloc(sizeof(*r));
    uint8_t id[16];
    (void)state;

    assert_non_null(r);
    for (int i = 0; i < 300; i++) {
        snprintf(names[i], sizeof(names[i]), "endpoint-%d", i);
    }
    /* sorted as the resolvers sort them (strcmp order) */
    for (int i = 0; i < 300; i++) {
        eps[i] = names[i];
    }
    qsort(eps, 300, sizeof(eps[0]), strcmp_ptr);
    assert_int_equal(lb_ring_build(r, eps, 300), OTC_OK);
    assert_int_equal(r->n_points, 28510);
    hex16("00000000000000000000000000000000", id);
    assert_string_equal(eps[lb_ring_owner(r, lb_ring_position(id, 16))], "endpoint-39");
    hex16("000102030405060708090a0b0c0d0e0f", id);
    assert_string_equal(eps[lb_ring_owner(r, lb_ring_position(id, 16))], "endpoint-236");
    free(r);
}

static void test_empty_and_single(void **state)
{
    static const char *const one[] = {"backend:4317"};
    struct lb_ring *r = malloc(sizeof(*r));
    (void)state;

    assert_non_null(r);
    assert_int_equal(lb_ring_build(r, NULL, 0), OTC_OK);
    assert_int_equal(r->n_points, 0);
    assert_int_equal(lb_ring_build(r, one, 1), OTC_OK);
    assert_int_equal(r->n_points, 100);
    for (uint32_t p = 0; p < LB_RING_POSITIONS; p += 997) {
        assert_int_equal(lb_ring_owner(r, p), 0);
    }
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_matches_zlib),
        cmocka_unit_test(test_three_endpoints),
        cmocka_unit_test(test_many_endpoints_probe_and_drop),
        cmocka_unit_test(test_empty_and_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
