/* otc_rc.h - the one error vocabulary shared by config-time and runtime code.
 * 0 is success, negative values are errors, positive values are counts. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_RC_H
#define OTC_INCLUDE_RC_H

enum otc_rc {
    OTC_OK        =  0,
    OTC_EAGAIN    = -1, /* backpressure; the caller keeps ownership (ring push only) */
    OTC_EINVAL    = -2, /* bad config or malformed OTLP */
    OTC_ENOMEM    = -3,
    OTC_EIO       = -4, /* transport failure, retryable; the exporter helper retries */
    OTC_ESHUTDOWN = -5, /* component has stopped accepting data */
    OTC_EUNSUPP   = -6, /* signal or feature not supported by the component */
    OTC_EPERM     = -7, /* permanent export failure: retrying cannot help */
    OTC_ELIMIT    = -8, /* input exceeds a built-in or configured limit */
    OTC_ETHROTTLED = -9, /* refused by a rate limit: retry after the delay given */
    OTC_EFULL     = -10, /* a queue's byte budget is full; the caller keeps the request
                            and may offer it again (otc_receiver_redeliver) */
};

const char *otc_strerror(int rc);

#endif
