/* SPDX-License-Identifier: Apache-2.0 */
/* Guardian's background thread: writes what the request path must not wait for (SPEC §11,
 * §15): guardian.block events into the outbox and zombie_agent key suspensions into the
 * store, then refreshes the key cache; also expires idle per-key state. */
#ifndef HW_GUARDIAN_GUARDIAN_WORKER_H
#define HW_GUARDIAN_GUARDIAN_WORKER_H

#include "guardian/guardian.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct hw_gd_worker;

/* `keys_changed(arg)` runs after a suspension is stored (reloads the key cache). */
struct hw_gd_worker *hw_gd_worker_start(struct hw_store *st, struct hw_guardian *g,
					int64_t max_queue, void (*keys_changed)(void *arg),
					void *arg);
/* Writes what is queued, then stops. NULL is a no-op. */
void hw_gd_worker_stop(struct hw_gd_worker *w);
/* Queues a guardian.block event (`data` stolen) and, with `suspend`, the key's suspension
 * (reason zombie_agent) written with that event in one store transaction. -ENOSPC when the
 * queue (guardian.limits.event_queue) is full: the event is dropped, and the caller lifts a
 * suspension's in-memory mark (hw_guardian_suspended) so the next run can trigger again. */
int hw_gd_worker_submit(struct hw_gd_worker *w, const char *workspace_id, const char *key_id,
			bool suspend, json_t *data);

#endif
