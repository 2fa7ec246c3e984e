/* otc_crc32c.h - CRC32C (Castagnoli), for file and framing checksums. Any thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_CRC32C_H
#define OTC_INCLUDE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of len bytes, continuing from crc (start with 0). */
uint32_t otc_crc32c(uint32_t crc, const void *data, size_t len);

#endif
