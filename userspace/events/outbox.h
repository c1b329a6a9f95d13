/* SPDX-License-Identifier: Apache-2.0 */
/* Events into the durable outbox (SPEC §15). A producer hands an event to hw_outbox_emit*;
 * it becomes one outbox row per matching webhook of the workspace, written in one store
 * transaction, and the webhook sender delivers the rows later on its own threads, so an
 * event never waits on a receiver. */
#ifndef HW_EVENTS_OUTBOX_H
#define HW_EVENTS_OUTBOX_H

#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Outbox rows beyond this many pending are not written (webhooks.max_pending); set once at
 * start, <= 0 = no cap. */
void hw_outbox_set_max_pending(int64_t max_pending);

/* Emits `event` for the workspace: builds the body once
 * {"id":"evt_…","event":…,"workspace_id":…,"timestamp":RFC 3339,"data":data} and inserts a
 * row, with its own dlv_ id, for each webhook whose filters take it. `data` is stolen
 * (NULL = {}). 0 (also when no webhook matches), or a negative errno from the store. */
int hw_outbox_emit(struct hw_store *st, const char *workspace_id, const char *event,
		   json_t *data);

/* The same, written in the one transaction that also updates `key` as key_update does:
 * the change and the events it causes commit or fail together (SPEC §15 "in the same store
 * operation"). The workspace is the key's. An error leaves both unwritten. */
int hw_outbox_emit_key_update(struct hw_store *st, const struct hw_key *key, const char *event,
			      json_t *data);

/* The rows of an event, one per matching webhook, into *rows (malloc'ed, *n long; none
 * when nothing matches), for a producer that inserts them in its own transaction. `data`
 * is borrowed. */
int hw_outbox_rows_build(struct hw_store *st, const char *workspace_id, const char *event,
			 json_t *data, struct hw_outbox_row **rows, size_t *n);

/* Pieces, exposed for tests. */

/* Whether `wh` takes `event` with `data`: events null = all, [] = none (paused), else the
 * event must be listed; a security.event also needs data.action in security_actions. */
bool hw_outbox_webhook_matches(const struct hw_webhook *wh, const char *event,
			       const json_t *data);
/* The body text of an event (compact JSON, keys in the order above); malloc'ed or NULL. */
char *hw_outbox_body(const char *event_id, const char *workspace_id, const char *event,
		     int64_t unix_s, const json_t *data);

/* Wakes the sender's idle workers after an insert; set by the sender, no-op without one. */
void hw_outbox_set_notify(void (*notify)(void));

#endif
