/* persistent_queue.h - the pipelines' persistent queues (sending_queue.storage):
 * which storage extension backs a pipeline (at build), and opening and
 * replaying its write-ahead log (at start and reload). Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_PERSISTENT_QUEUE_H
#define OTC_CORE_PERSISTENT_QUEUE_H

#include "config.h"

struct otc_engine;
struct otc_pipeline;

/* Check every exporter's sending_queue.storage and give each pipeline whose
 * exporters name one its storage. Errors go to d. */
int otc_persistent_queue_resolve(struct otc_engine *e, struct otc_yaml *y, struct otc_diag *d);
/* Open p's write-ahead log in its storage and replay what an earlier run left
 * undelivered into p's queue (p's worker and exporters run already). */
int otc_persistent_queue_open(struct otc_pipeline *p);

#endif
