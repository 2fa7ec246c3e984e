/* fuzz_json.c - libFuzzer target: an OTLP/JSON request body as the OTLP/HTTP
 * receiver gets it (the first byte picks the signal), decoded into an arena,
 * then encoded as protobuf and back to JSON, which must decode again.
 * Single-threaded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>

#include "otc/otc_batch.h"
#include "otc/otc_buf.h"
#include "otc/otc_json.h"
#include "otc/otc_rc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *desc;
    struct otc_arena a;
    ProtobufCMessage *msg = NULL, *again = NULL;
    struct otc_buf json;
    char err[256];

    if (size < 1) {
        return 0;
    }
    desc = otc_request_descriptor((enum otc_signal)(data[0] % OTC_SIGNAL_COUNT));
    otc_arena_init(&a, 0);
    if (otc_json_decode(desc, (const char *)data + 1, size - 1, &a, &msg, err, sizeof(err)) == OTC_OK) {
        size_t n = protobuf_c_message_get_packed_size(msg);
        uint8_t *buf = otc_arena_alloc(&a, n ? n : 1);

        if (buf) {
            protobuf_c_message_pack(msg, buf);
        }
        otc_buf_init(&json);
        if (otc_json_encode(msg, &json) == OTC_OK && json.data) {
            /* what otelc writes, it must read back */
            if (otc_json_decode(desc, json.data, json.len, &a, &again, err, sizeof(err)) != OTC_OK) {
                abort();
            }
        }
        otc_buf_free(&json);
    }
    otc_arena_release(&a);
    return 0;
}
