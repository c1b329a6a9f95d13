// SPDX-License-Identifier: Apache-2.0
/* The producer side of webhooks (SPEC §15): turns one event into outbox rows, one per
 * matching webhook, inside a single store transaction. Delivery is webhook_sender.c's. */
#include "events/outbox.h"

#include "common/json_usd.h"

#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Webhooks per workspace read per event: far above any real configuration. */
#define HOOKS_PAGE 500

static _Atomic int64_t max_pending;
static void (*_Atomic notify_fn)(void);

void hw_outbox_set_max_pending(int64_t v) { atomic_store(&max_pending, v); }

void hw_outbox_set_notify(void (*notify)(void)) { atomic_store(&notify_fn, notify); }

/* True when the JSON array text `list` holds the string `s`. */
static bool list_has(const char *list, const char *s)
{
	json_t *arr = json_loads(list, 0, NULL);
	size_t i;
	json_t *v;
	bool hit = false;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			hit = true;
	json_decref(arr);
	return hit;
}

bool hw_outbox_webhook_matches(const struct hw_webhook *wh, const char *event,
			       const json_t *data)
{
	const char *action;

	if (wh->events[0] && !list_has(wh->events, event))
		return false;
	if (strcmp(event, "security.event") != 0)
		return true;
	action = json_string_value(json_object_get(data, "action"));
	return action && list_has(wh->security_actions, action);
}

char *hw_outbox_body(const char *event_id, const char *workspace_id, const char *event,
		     int64_t unix_s, const json_t *data)
{
	char ts[21];
	json_t *body;
	char *text;

	hw_clock_rfc3339(unix_s, ts);
	body = json_pack("{s:s,s:s,s:s,s:s,s:O}", "id", event_id, "event", event, "workspace_id",
			 workspace_id, "timestamp", ts, "data", data);
	text = body ? hw_json_dumps(body) : NULL; /* USD and scores as exact decimals */
	json_decref(body);
	return text;
}

/* Whether the outbox has room for `n` more rows under webhooks.max_pending. */
static bool room_for(struct hw_store *st, size_t n)
{
	int64_t cap = atomic_load(&max_pending), pending = 0;

	if (cap <= 0 || n == 0)
		return true;
	if (st->ops->hooks.outbox_pending(st, &pending) < 0)
		return true; /* the insert that follows will report the store's state */
	return pending + (int64_t)n <= cap;
}

int hw_outbox_rows_build(struct hw_store *st, const char *workspace_id, const char *event,
		      json_t *data, struct hw_outbox_row **rows, size_t *n)
{
	struct hw_webhook *hooks = NULL;
	size_t nhooks = 0;
	char event_id[HW_ID_MAX];
	int64_t now_ms = hw_clock_wall_ms();
	char *body = NULL;
	int rc;

	*rows = NULL;
	*n = 0;
	rc = st->ops->hooks.webhook_list(st, workspace_id, NULL, HOOKS_PAGE, &hooks, &nhooks);
	if (rc < 0 || nhooks == 0)
		goto out;
	rc = -ENOMEM;
	*rows = calloc(nhooks, sizeof(**rows));
	if (!*rows || hw_id_make(event_id, sizeof(event_id), "evt_") < 0)
		goto out;
	body = hw_outbox_body(event_id, workspace_id, event, now_ms / 1000, data);
	if (!body)
		goto out;
	for (size_t i = 0; i < nhooks; i++) {
		struct hw_outbox_row *r = &(*rows)[*n];

		if (!hw_outbox_webhook_matches(&hooks[i], event, data))
			continue;
		snprintf(r->event_id, sizeof(r->event_id), "%s", event_id);
		snprintf(r->webhook_id, sizeof(r->webhook_id), "%s", hooks[i].id);
		snprintf(r->workspace_id, sizeof(r->workspace_id), "%s", workspace_id);
		snprintf(r->event, sizeof(r->event), "%s", event);
		snprintf(r->status, sizeof(r->status), "pending");
		r->body = strdup(body);
		if (!r->body || hw_id_make(r->delivery_id, sizeof(r->delivery_id), "dlv_") < 0)
			goto out;
		r->next_attempt_at_ms = now_ms;
		r->created_at = now_ms / 1000;
		(*n)++;
	}
	rc = 0;
out:
	if (rc < 0) {
		/* Rows past *n are zeroed: freeing the whole array frees each body once. */
		hw_outbox_rows_free(*rows, nhooks);
		*rows = NULL;
		*n = 0;
	}
	free(body);
	free(hooks);
	return rc;
}

static int emit(struct hw_store *st, const struct hw_key *key, const char *workspace_id,
		const char *event, json_t *data)
{
	struct hw_outbox_row *rows = NULL;
	size_t n = 0;
	int rc;

	if (!data)
		data = json_object();
	rc = hw_outbox_rows_build(st, workspace_id, event, data, &rows, &n);
	if (rc < 0)
		goto out;
	if (!room_for(st, n)) {
		/* The change itself must still happen; only its notifications are dropped. */
		hw_log_json(HW_LOG_WARN, NULL, "webhooks: outbox full, event dropped",
			    json_pack("{s:s,s:s,s:I}", "workspace_id", workspace_id, "event",
				      event, "rows", (json_int_t)n));
		hw_outbox_rows_free(rows, n);
		rows = NULL;
		n = 0;
	}
	if (key || n)
		rc = st->ops->hooks.outbox_insert(st, key, rows, n);
	if (rc == 0 && n) {
		void (*notify)(void) = atomic_load(&notify_fn);
		if (notify)
			notify();
	}
out:
	hw_outbox_rows_free(rows, n);
	json_decref(data);
	return rc;
}

int hw_outbox_emit(struct hw_store *st, const char *workspace_id, const char *event,
		   json_t *data)
{
	return emit(st, NULL, workspace_id, event, data);
}

int hw_outbox_emit_key_update(struct hw_store *st, const struct hw_key *key, const char *event,
			      json_t *data)
{
	return emit(st, key, key->workspace_id, event, data);
}
