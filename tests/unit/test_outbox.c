// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the webhook outbox (SPEC §15): the event body, the webhook filters, rows
 * written per matching webhook and together with a key update, the lease-based claim, the
 * signature against a known answer, and the retry schedule's jitter bounds. */
#include "events/outbox.h"
#include "events/webhook_sender.h"

#include "common/clock.h"
#include "store/store.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static struct hw_store *open_store(void)
{
	struct hw_store *st = NULL;
	struct hw_workspace ws = {.id = "ws_1", .name = "one", .status = "active",
				  .plan = "free", .routing_profile = "balanced"};

	assert_int_equal(hw_store_open("sqlite::memory:", 1000, "normal", &st), 0);
	assert_int_equal(st->ops->workspace_create(st, &ws), 0);
	return st;
}

static void add_hook(struct hw_store *st, const char *id, const char *events,
		     const char *actions)
{
	struct hw_webhook *wh = calloc(1, sizeof(*wh));

	assert_non_null(wh);
	snprintf(wh->id, sizeof(wh->id), "%s", id);
	snprintf(wh->workspace_id, sizeof(wh->workspace_id), "ws_1");
	snprintf(wh->name, sizeof(wh->name), "%s", id);
	snprintf(wh->url, sizeof(wh->url), "http://127.0.0.1:9/");
	snprintf(wh->events, sizeof(wh->events), "%s", events);
	snprintf(wh->security_actions, sizeof(wh->security_actions), "%s", actions);
	wh->secret_box_len = 1;
	assert_int_equal(st->ops->hooks.webhook_create(st, wh), 0);
	free(wh);
}

static size_t rows_of(struct hw_store *st, const char *webhook_id, struct hw_outbox_row **rows)
{
	size_t n = 0;

	assert_int_equal(st->ops->hooks.outbox_list(st, webhook_id, rows, &n), 0);
	return n;
}

static void test_body_shape(void **state)
{
	json_t *data = json_pack("{s:s}", "key_id", "kid_1");
	char *body = hw_outbox_body("evt_1", "ws_1", "key.rotated", 1780050600, data);

	assert_string_equal(body, "{\"id\":\"evt_1\",\"event\":\"key.rotated\",\"workspace_id\":"
				  "\"ws_1\",\"timestamp\":\"2026-05-29T10:30:00Z\",\"data\":"
				  "{\"key_id\":\"kid_1\"}}");
	free(body);
	json_decref(data);
}

static void test_filters(void **state)
{
	struct hw_webhook wh = {.security_actions = "[\"blocked\"]"};
	json_t *blocked = json_pack("{s:s}", "action", "blocked");
	json_t *logged = json_pack("{s:s}", "action", "logged");

	/* events null: every event; security.event still filtered by action. */
	assert_true(hw_outbox_webhook_matches(&wh, "key.rotated", NULL));
	assert_true(hw_outbox_webhook_matches(&wh, "security.event", blocked));
	assert_false(hw_outbox_webhook_matches(&wh, "security.event", logged));
	snprintf(wh.events, sizeof(wh.events), "[]");
	assert_false(hw_outbox_webhook_matches(&wh, "key.rotated", NULL));
	snprintf(wh.events, sizeof(wh.events), "[\"budget.alert\",\"security.event\"]");
	assert_false(hw_outbox_webhook_matches(&wh, "key.rotated", NULL));
	assert_true(hw_outbox_webhook_matches(&wh, "budget.alert", NULL));
	assert_true(hw_outbox_webhook_matches(&wh, "security.event", blocked));
	json_decref(blocked);
	json_decref(logged);
}

static void test_emit_rows(void **state)
{
	struct hw_store *st = open_store();
	struct hw_outbox_row *a = NULL, *b = NULL, *c = NULL;
	int64_t pending = 0;

	add_hook(st, "wh_all", "", "[\"blocked\",\"logged\"]");
	add_hook(st, "wh_paused", "[]", "[\"blocked\",\"logged\"]");
	add_hook(st, "wh_blocked", "[\"security.event\"]", "[\"blocked\"]");
	assert_int_equal(hw_outbox_emit(st, "ws_1", "security.event",
					json_pack("{s:s}", "action", "logged")),
			 0);
	assert_int_equal(rows_of(st, "wh_all", &a), 1);
	assert_int_equal(rows_of(st, "wh_paused", &b), 0);
	assert_int_equal(rows_of(st, "wh_blocked", &c), 0);
	assert_string_equal(a[0].status, "pending");
	assert_int_equal(strncmp(a[0].delivery_id, "dlv_", 4), 0);
	assert_int_equal(strncmp(a[0].event_id, "evt_", 4), 0);
	hw_outbox_rows_free(a, 1);
	hw_outbox_rows_free(b, 0);
	hw_outbox_rows_free(c, 0);

	assert_int_equal(hw_outbox_emit(st, "ws_1", "security.event",
					json_pack("{s:s}", "action", "blocked")),
			 0);
	assert_int_equal(rows_of(st, "wh_all", &a), 2);
	assert_int_equal(rows_of(st, "wh_blocked", &c), 1);
	/* One event, one body and event id; one delivery id per webhook. */
	assert_string_equal(a[1].event_id, c[0].event_id);
	assert_string_equal(a[1].body, c[0].body);
	assert_string_not_equal(a[1].delivery_id, c[0].delivery_id);
	hw_outbox_rows_free(a, 2);
	hw_outbox_rows_free(c, 1);
	assert_int_equal(st->ops->hooks.outbox_pending(st, &pending), 0);
	assert_int_equal(pending, 3);
	st->ops->close(st);
}

static void test_emit_with_key_update_is_atomic(void **state)
{
	struct hw_store *st = open_store();
	struct hw_key key = {.id = "kid_1", .workspace_id = "ws_1", .name = "k", .prefix = "p",
			     .hash = "h", .role = "inference", .status = "active",
			     .source = "api", .rpm_limit = -1, .created_at = 1};
	struct hw_key missing = key;
	struct hw_outbox_row *rows = NULL;

	add_hook(st, "wh_all", "", "[\"blocked\",\"logged\"]");
	assert_int_equal(st->ops->key_create(st, &key), 0);
	snprintf(key.status, sizeof(key.status), "revoked");
	assert_int_equal(hw_outbox_emit_key_update(st, &key, "key.rotated", NULL), 0);
	assert_int_equal(rows_of(st, "wh_all", &rows), 1);
	hw_outbox_rows_free(rows, 1);
	/* The update fails (no such key): the event is not written either. */
	snprintf(missing.id, sizeof(missing.id), "kid_none");
	assert_int_equal(hw_outbox_emit_key_update(st, &missing, "key.rotated", NULL), -ENOENT);
	assert_int_equal(rows_of(st, "wh_all", &rows), 1);
	hw_outbox_rows_free(rows, 1);
	st->ops->close(st);
}

static void test_claim_lease(void **state)
{
	struct hw_store *st = open_store();
	struct hw_outbox_row *rows = NULL;
	size_t n = 0;
	int64_t now = hw_clock_wall_ms();

	add_hook(st, "wh_all", "", "[\"blocked\",\"logged\"]");
	assert_int_equal(hw_outbox_emit(st, "ws_1", "key.rotated", NULL), 0);
	assert_int_equal(st->ops->hooks.outbox_claim(st, now + 10, 5000, 4, &rows, &n), 0);
	assert_int_equal(n, 1);
	hw_outbox_rows_free(rows, n);
	/* Claimed: not due again until the lease runs out (a worker that died holding it). */
	assert_int_equal(st->ops->hooks.outbox_claim(st, now + 10, 5000, 4, &rows, &n), 0);
	assert_int_equal(n, 0);
	hw_outbox_rows_free(rows, n);
	assert_int_equal(st->ops->hooks.outbox_claim(st, now + 6000, 5000, 4, &rows, &n), 0);
	assert_int_equal(n, 1);
	snprintf(rows[0].status, sizeof(rows[0].status), "delivered");
	rows[0].attempts = 1;
	rows[0].last_status = 200;
	assert_int_equal(st->ops->hooks.outbox_finish(st, &rows[0]), 0);
	hw_outbox_rows_free(rows, n);
	assert_int_equal(st->ops->hooks.outbox_claim(st, now + 60000, 5000, 4, &rows, &n), 0);
	assert_int_equal(n, 0);
	hw_outbox_rows_free(rows, n);
	st->ops->close(st);
}

/* RFC 4231 test case 2, and a body signed by OpenSSL's one-shot HMAC directly. */
static void test_signature(void **state)
{
	char sig[HW_WEBHOOK_SIGNATURE_LEN + 1];
	unsigned char mac[32];
	unsigned int len = 0;
	char hex[65];
	const char *body = "{\"id\":\"evt_1\"}";

	assert_int_equal(hw_webhook_sign("Jefe", 4, "what do ya want for nothing?", 28, sig), 0);
	assert_string_equal(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b9"
				 "64ec3843");
	HMAC(EVP_sha256(), "whsec_x", 7, (const unsigned char *)body, strlen(body), mac, &len);
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	assert_int_equal(hw_webhook_sign("whsec_x", 7, body, strlen(body), sig), 0);
	assert_string_equal(sig + 7, hex);
}

static void test_retry_schedule(void **state)
{
	static const int64_t sched[] = {10, 30, 120};

	assert_int_equal(hw_webhook_retry_delay_ms(sched, 3, 1, 0), 9000);
	assert_int_equal(hw_webhook_retry_delay_ms(sched, 3, 1, UINT32_MAX), 11000);
	assert_int_equal(hw_webhook_retry_delay_ms(sched, 3, 2, UINT32_MAX / 2), 29999);
	for (uint32_t r = 0; r < 1000; r++) {
		int64_t d = hw_webhook_retry_delay_ms(sched, 3, 3, r * 4294967u);
		assert_in_range(d, 108000, 132000);
	}
	/* After the last step the row fails. */
	assert_int_equal(hw_webhook_retry_delay_ms(sched, 3, 4, 0), -1);
	assert_int_equal(hw_webhook_retry_delay_ms(sched, 0, 1, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_shape),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_emit_rows),
		cmocka_unit_test(test_emit_with_key_update_is_atomic),
		cmocka_unit_test(test_claim_lease),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_retry_schedule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
