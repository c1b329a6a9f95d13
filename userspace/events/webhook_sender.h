/* SPDX-License-Identifier: Apache-2.0 */
/* Webhook delivery (SPEC §15): `webhooks.workers` threads that claim due outbox rows, POST
 * each body signed with its webhook's secret through their own libcurl handle, and record
 * the outcome: 2xx delivered, anything else a retry on webhooks.retry_schedule_s (±10 %
 * jitter) until the schedule runs out, then failed. Never touches the request path. */
#ifndef HW_EVENTS_WEBHOOK_SENDER_H
#define HW_EVENTS_WEBHOOK_SENDER_H

#include "common/buf.h"
#include "common/config.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define HW_WEBHOOK_SIGNATURE_LEN (7 + 64) /* "sha256=" and 64 hex */

struct hw_webhook_sender;

/* Starts the workers; the configuration's webhooks and secrets sections are copied (a
 * reload does not change them). NULL on failure. */
struct hw_webhook_sender *hw_webhook_sender_start(struct hw_store *st,
						  const struct hw_config *cfg);
/* Stops and joins the workers; an attempt in flight finishes first (bounded by
 * webhooks.timeout_s). Rows it leaves claimed are retried after the next start. */
void hw_webhook_sender_stop(struct hw_webhook_sender *s);

/* "sha256=" + lowercase hex HMAC-SHA256(secret, body) into out. 0 or -EIO. */
int hw_webhook_sign(const char *secret, size_t secret_len, const char *body, size_t body_len,
		    char out[HW_WEBHOOK_SIGNATURE_LEN + 1]);
/* Delay before retry number `attempts` (the count of attempts made so far, >= 1) given the
 * schedule, with `rnd` uniform in [0, UINT32_MAX] spreading it by ±10 %; -1 when the
 * schedule is exhausted and the row fails. */
int64_t hw_webhook_retry_delay_ms(const int64_t *schedule_s, size_t n, int64_t attempts,
				  uint32_t rnd);

/* hiway_webhook_deliveries_total{outcome} and hiway_webhook_outbox_pending for /metrics. */
void hw_webhook_metrics_render(struct hw_buf *out);

#endif
