/* bench_decode.c - cost per span of decoding a 100-span OTLP request (10
 * attributes per span) with protobuf-c's default allocator vs the batch arena,
 * of the receivers' one-pass scan of the undecoded bytes, and of re-encoding
 * it. Single thread. Usage: bench_decode [iterations] */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>

#include "batch_builder.h"
#include "bench_util.h"
#include "otc/otc_otlp.h"
#include "otc/otc_pb_check.h"
#include "otc/otc_pb_depth.h"
#include "otc/otc_rc.h"

#define SPANS 100
#define ATTRS 10

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 2000;
    size_t len;
    uint8_t *bytes = otc_test_traces_bytes(SPANS, ATTRS, 7, &len);
    const ProtobufCMessageDescriptor *desc = otc_request_descriptor(OTC_TRACES);
    uint64_t t0, t_default, t_arena, t_pack, t_depth, t_scan;
    uint8_t *out = malloc(len);
    size_t sink = 0;

    if (!bytes || !out) {
        return 1;
    }
    t0 = bench_cpu_ns();
    for (int i = 0; i < iters; i++) {
        ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, bytes);
        sink += m != NULL;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    t_default = bench_cpu_ns() - t0;

    t0 = bench_cpu_ns();
    for (int i = 0; i < iters; i++) {
        struct otc_batch *b = otc_batch_from_bytes(OTC_TRACES, bytes, len);
        sink += otc_batch_decode(b) == OTC_OK;
        otc_batch_unref(b);
    }
    t_arena = bench_cpu_ns() - t0;

    /* the nesting check that otc_batch_decode runs before unpack (included above) */
    t0 = bench_cpu_ns();
    for (int i = 0; i < iters; i++) {
        sink += otc_pb_check_depth(desc, bytes, len, OTC_PB_MAX_DEPTH) == OTC_OK;
    }
    t_depth = bench_cpu_ns() - t0;

    /* the receivers' fast path: one pass over the bytes, nothing decoded */
    t0 = bench_cpu_ns();
    for (int i = 0; i < iters; i++) {
        size_t items = 0;

        sink += otc_pb_scan_request(OTC_TRACES, bytes, len, &items) == OTC_OK && items == SPANS;
    }
    t_scan = bench_cpu_ns() - t0;

    {
        struct otc_batch *b = otc_batch_from_bytes(OTC_TRACES, bytes, len);
        otc_batch_decode(b);
        t0 = bench_cpu_ns();
        for (int i = 0; i < iters; i++) {
            sink += protobuf_c_message_pack(b->msg, out);
        }
        t_pack = bench_cpu_ns() - t0;
        otc_batch_unref(b);
    }
    printf("request: %d spans x %d attributes, %zu bytes, %d iterations\n", SPANS, ATTRS, len, iters);
    printf("decode, default allocator : %8.1f ns/span\n", (double)t_default / iters / SPANS);
    printf("decode, batch arena       : %8.1f ns/span  (%.2fx faster)\n",
           (double)t_arena / iters / SPANS, (double)t_default / (double)t_arena);
    printf("  of which nesting check  : %8.1f ns/span  (%.1f%% of arena decode)\n",
           (double)t_depth / iters / SPANS, 100.0 * (double)t_depth / (double)t_arena);
    printf("scan (receive fast path)  : %8.1f ns/span\n", (double)t_scan / iters / SPANS);
    printf("encode                    : %8.1f ns/span\n", (double)t_pack / iters / SPANS);
    free(out);
    free(bytes);
    return sink == 0;
}
