/* pb_depth.c - measures how deeply a serialized protobuf message nests, without
 * recursion, before protobuf-c's recursive unpack runs on it: OTLP's AnyValue
 * (arrays and kvlists of AnyValue) can nest without end, and each level costs
 * unpack a stack frame. Reentrant; runs on the thread that decodes a batch. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "otc/otc_pb_depth.h"
#include "otc/otc_rc.h"

struct level {
    const ProtobufCMessageDescriptor *desc;
    const uint8_t                    *end;
};

int otc_pb_check_depth(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                       unsigned max_depth)
{
    struct level stack[OTC_PB_MAX_DEPTH_LIMIT];
    unsigned depth = 0;
    const uint8_t *p = buf;

    if (max_depth == 0 || max_depth > OTC_PB_MAX_DEPTH_LIMIT) {
        max_depth = OTC_PB_MAX_DEPTH_LIMIT;
    }
    stack[0].desc = desc;
    stack[0].end = buf + len;
    for (;;) {
        struct level *top = &stack[depth];
        uint64_t key, n;
        const ProtobufCFieldDescriptor *f;

        if (p == top->end) {
            if (depth == 0) {
                return OTC_OK;
            }
            depth--;
            continue;
        }
        /* Malformed input is left to unpack, which refuses it without going
         * deeper than what was checked up to here. */
        if (!(p = otc_pb_varint(p, top->end, &key))) {
            return OTC_OK;
        }
        switch (key & 7) {
        case 0: /* varint */
            if (!(p = otc_pb_varint(p, top->end, &n))) {
                return OTC_OK;
            }
            break;
        case 1: /* 64-bit */
            if (top->end - p < 8) {
                return OTC_OK;
            }
            p += 8;
            break;
        case 5: /* 32-bit */
            if (top->end - p < 4) {
                return OTC_OK;
            }
            p += 4;
            break;
        case 2: /* length-delimited: a sub-message, or bytes to skip */
            if (!(p = otc_pb_varint(p, top->end, &n)) || n > (uint64_t)(top->end - p)) {
                return OTC_OK;
            }
            f = top->desc ? protobuf_c_message_descriptor_get_field(top->desc, (unsigned)(key >> 3)) : NULL;
            /* Every nested level takes at least 2 bytes (tag and length), so
             * a sub-message of n bytes adds at most n / 2 levels: small ones
             * (nearly all of them) are skipped without a look inside. */
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && key >> 3 <= UINT32_MAX &&
                depth + 1 + n / 2 >= max_depth) {
                if (depth + 1 >= max_depth) {
                    return OTC_ELIMIT;
                }
                depth++;
                stack[depth].desc = f->descriptor;
                stack[depth].end = p + n;
                continue;
            }
            p += n;
            break;
        default: /* groups are not proto3 */
            return OTC_OK;
        }
    }
}
