/* persistent_queue.h - the pipelines' persistent queues (sending_queue.storage):
 * which storage extension backs a pipeline (at build), opening its write-ahead
 * log and starting its replay thread (at start and reload). Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_PERSISTENT_QUEUE_H
#define OTC_CORE_PERSISTENT_QUEUE_H

#include "config.h"

struct otc_engine;
struct otc_pipeline;

/* Check every exporter's sending_queue.storage and give each pipeline whose
 * exporters name one its storage. Errors go to d. */
int otc_persistent_queue_resolve(struct otc_engine *e, struct otc_yaml *y, struct otc_diag *d);
/* Open p's write-ahead log in its storage (unless p took one over at a
 * reload) and start the thread that replays what earlier runs left
 * undelivered into p's queue (p's worker and exporters run already). */
int otc_persistent_queue_open(struct otc_pipeline *p);
/* Stop and join p's replay thread (what it did not read stays queued for the
 * next replay). Main thread. */
void otc_persistent_queue_stop(struct otc_pipeline *p);

#endif
