// SPDX-License-Identifier: Apache-2.0
/* Accounts, reservations and settlements (SPEC §10) over a real SQLite file: all-or-nothing
 * reservations under concurrency, refunds, budget and quota limits, the passthrough cycle
 * with the clock moved, month rollover, and the books after a restart. */
#include "common/clock.h"
#include "common/config.h"
#include "money/journal.h"
#include "money/ledger.h"
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define USD(x) ((int64_t)((x) * 1000000.0 + 0.5))
#define WS "01WS"

struct fixture {
	char dir[64], url[128], journal[128];
	struct hw_store *st;
	struct hw_config *cfg;
	struct hw_money *m;
};

static const char yaml[] = "providers: {local: {kind: echo}}\n"
			   "webhooks: {workers: 1}\n";

static void open_all(struct fixture *f)
{
	assert_int_equal(hw_store_open(f->url, 5000, "normal", &f->st), 0);
	f->m = hw_money_start(f->st, f->journal, false);
	assert_non_null(f->m);
}

static void close_all(struct fixture *f)
{
	hw_money_stop(f->m);
	f->m = NULL;
	f->st->ops->close(f->st);
	f->st = NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	strcpy(f->dir, "/tmp/hw_test_ledger_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->url, sizeof(f->url), "sqlite:%s/hiway.db", f->dir);
	snprintf(f->journal, sizeof(f->journal), "%s/hiway.db-ledger", f->dir);
	assert_int_equal(hw_config_load_string(yaml, strlen(yaml), "hiway.yaml", &f->cfg, err, sizeof(err)), 0);
	open_all(f);
	struct hw_workspace ws;
	memset(&ws, 0, sizeof(ws));
	strcpy(ws.id, WS);
	strcpy(ws.name, "w");
	strcpy(ws.status, "active");
	strcpy(ws.plan, "unlimited");
	strcpy(ws.routing_profile, "balanced");
	assert_int_equal(f->st->ops->workspace_create(f->st, &ws), 0);
	assert_int_equal(f->st->ops->money.wallet_create(f->st, WS, USD(1), hw_clock_wall_ms()), 0);
	hw_clock_set_offset_ms(0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	if (f->st)
		close_all(f);
	hw_config_free(f->cfg);
	hw_clock_set_offset_ms(0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int admit_reserve(struct fixture *f, struct hw_money_res *r, int64_t worst_up, enum hw_err *err)
{
	struct hw_money_refusal why;
	memset(r, 0, sizeof(*r));
	int rc = hw_money_admit(f->m, f->cfg, WS, r, &why);
	if (rc == 0)
		rc = hw_money_reserve(f->m, f->cfg, r, worst_up, &why);
	if (err)
		*err = rc ? why.err : 0;
	json_decref(why.extra);
	return rc;
}

static void settle(struct fixture *f, struct hw_money_res *r, int64_t up, int64_t tokens)
{
	struct hw_money_usage u = {up, tokens, true, "req_x", 0};
	assert_int_equal(hw_money_settle(f->m, f->cfg, r, &u), 0);
}

/* Books: balance in the store = Σ ledger, and the account says the same. */
static void assert_books(struct fixture *f, int64_t expect_balance)
{
	close_all(f);
	open_all(f);
	int64_t sum = 0, n = 0;
	assert_int_equal(f->st->ops->money.ledger_sum(f->st, WS, &sum, &n), 0);
	struct hw_money_view v;
	assert_int_equal(hw_money_view(f->m, f->cfg, WS, &v), 0);
	assert_int_equal(v.s.balance, sum);
	assert_int_equal(v.s.balance, expect_balance);
	assert_int_equal(v.in_flight, 0);
	assert_int_equal(v.reserved_markup, 0);
}

static void settle_refunds_difference(void **state)
{
	struct fixture *f = *state;
	struct hw_money_res r;
	assert_int_equal(admit_reserve(f, &r, USD(0.08), NULL), 0); /* markup 12.5 % = $0.01 */
	assert_int_equal(r.worst_markup, USD(0.01));
	struct hw_money_view v;
	hw_money_view(f->m, f->cfg, WS, &v);
	assert_int_equal(v.reserved_markup, USD(0.01));
	assert_int_equal(v.in_flight, 1);
	settle(f, &r, USD(0.008), 100);
	assert_int_equal(r.markup_cost, USD(0.001));
	assert_false(r.active);
	assert_int_equal(hw_money_settle(f->m, f->cfg, &r, &(struct hw_money_usage){1, 1, true, "x", 0}),
			 -EINVAL); /* never twice */
	assert_books(f, USD(1) - USD(0.001));
	hw_money_view(f->m, f->cfg, WS, &v);
	assert_int_equal(v.s.spend, USD(0.008));
	assert_int_equal(v.s.used_requests, 1);
}

static void markup_capped_and_overrun_counted(void **state)
{
	struct fixture *f = *state;
	struct hw_money_res r;
	assert_int_equal(admit_reserve(f, &r, USD(0.08), NULL), 0);
	settle(f, &r, USD(0.16), 10); /* twice the worst case */
	assert_int_equal(r.markup_cost, USD(0.01));
	struct hw_money_totals t;
	hw_money_totals(f->m, &t);
	assert_int_equal(t.overrun, USD(0.08));
	assert_books(f, USD(0.99));
}

static void release_charges_nothing(void **state)
{
	struct fixture *f = *state;
	struct hw_money_res r;
	assert_int_equal(admit_reserve(f, &r, USD(0.08), NULL), 0);
	hw_money_release(f->m, &r);
	hw_money_release(f->m, &r); /* a second release is a no-op */
	assert_books(f, USD(1));
}

struct race {
	struct fixture *f;
	atomic_int ok, refused;
};

static void *racer(void *arg)
{
	struct race *rc = arg;
	for (int i = 0; i < 50; i++) {
		struct hw_money_res r;
		enum hw_err err;
		if (admit_reserve(rc->f, &r, USD(0.08), &err) == 0) {
			atomic_fetch_add(&rc->ok, 1);
			settle(rc->f, &r, USD(0.08), 10); /* the full worst case */
		} else {
			assert_int_equal(err, HW_ERR_INSUFFICIENT_CREDITS);
			atomic_fetch_add(&rc->refused, 1);
		}
	}
	return NULL;
}

/* $1 fits exactly 100 worst-case markups of $0.01: 16 threads × 50 attempts, exactly 100
 * succeed, the balance ends at 0, never below. */
static void exact_fit_under_concurrency(void **state)
{
	struct fixture *f = *state;
	struct race rc = {f, 0, 0};
	f->cfg->money.passthrough.enabled = false; /* an empty wallet refuses, not passthrough */
	pthread_t t[16];
	for (int i = 0; i < 16; i++)
		pthread_create(&t[i], NULL, racer, &rc);
	for (int i = 0; i < 16; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&rc.ok), 100);
	assert_int_equal(atomic_load(&rc.refused), 700);
	assert_books(f, 0);
}

static void fallback_grows_reservation(void **state)
{
	struct fixture *f = *state;
	struct hw_money_res r;
	struct hw_money_refusal why;
	assert_int_equal(admit_reserve(f, &r, USD(0.08), NULL), 0);
	assert_int_equal(hw_money_reserve(f->m, f->cfg, &r, USD(0.04), &why), 0); /* never shrinks */
	assert_int_equal(r.worst_up, USD(0.08));
	assert_int_equal(hw_money_reserve(f->m, f->cfg, &r, USD(0.8), &why), 0);
	assert_int_equal(r.worst_markup, USD(0.1));
	/* $1 cannot hold a $10 worst case at 12.5 %: refused, the reservation unchanged. */
	assert_int_equal(hw_money_reserve(f->m, f->cfg, &r, USD(10), &why), -EPERM);
	assert_int_equal(why.err, HW_ERR_INSUFFICIENT_CREDITS);
	json_decref(why.extra);
	assert_int_equal(r.worst_markup, USD(0.1));
	struct hw_money_view v;
	hw_money_view(f->m, f->cfg, WS, &v);
	assert_int_equal(v.reserved_markup, USD(0.1));
	assert_int_equal(v.in_flight, 1);
	hw_money_release(f->m, &r);
	assert_books(f, USD(1));
}

static void budget_cap_and_verdicts(void **state)
{
	struct fixture *f = *state;
	struct hw_money_thresholds th = {0.9, 0.95, 1.0};
	assert_int_equal(hw_money_set_budget(f->m, WS, USD(0.1), &th), 0);
	struct hw_money_res r;
	enum hw_err err;
	/* $0.11 does not fit in a $0.10 cap. */
	assert_int_equal(admit_reserve(f, &r, USD(0.11), &err), -EPERM);
	assert_int_equal(err, HW_ERR_BUDGET_EXCEEDED);
	assert_int_equal(admit_reserve(f, &r, USD(0.05), NULL), 0);
	settle(f, &r, USD(0.09), 10);
	assert_int_equal(admit_reserve(f, &r, USD(0.001), NULL), 0);
	assert_int_equal(r.verdict, HW_MONEY_DOWNGRADE);
	settle(f, &r, USD(0.005), 10);
	assert_int_equal(admit_reserve(f, &r, USD(0.001), NULL), 0);
	assert_int_equal(r.verdict, HW_MONEY_LIGHT_ONLY);
	settle(f, &r, USD(0.005), 10);
	assert_int_equal(admit_reserve(f, &r, USD(0.000001), &err), -EPERM);
	assert_int_equal(err, HW_ERR_BUDGET_EXCEEDED);
	/* A new month starts from zero. */
	int64_t now = hw_clock_wall_s();
	hw_clock_set_offset_ms((hw_money_next_month(now) - now + 1) * 1000);
	assert_int_equal(admit_reserve(f, &r, USD(0.01), NULL), 0);
	assert_int_equal(r.verdict, HW_MONEY_OK);
	hw_money_release(f->m, &r);
}

static void quota_counts_in_flight(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(hw_money_set_plan(f->m, WS, NULL, 2, false, 0), 0);
	struct hw_money_res a, b, c;
	enum hw_err err;
	assert_int_equal(admit_reserve(f, &a, 10, NULL), 0);
	assert_int_equal(admit_reserve(f, &b, 10, NULL), 0);
	assert_int_equal(admit_reserve(f, &c, 10, &err), -EPERM);
	assert_int_equal(err, HW_ERR_QUOTA_EXCEEDED);
	hw_money_release(f->m, &b); /* a failed request counts for nothing */
	assert_int_equal(admit_reserve(f, &c, 10, NULL), 0);
	settle(f, &a, 10, 1);
	settle(f, &c, 10, 1);
	assert_int_equal(admit_reserve(f, &b, 10, &err), -EPERM);
	/* With overage on, the third is served and counted as overage. */
	assert_int_equal(hw_money_set_plan(f->m, WS, NULL, 2, true, USD(4)), 0);
	assert_int_equal(admit_reserve(f, &b, 10, NULL), 0);
	settle(f, &b, 10, 1);
	struct hw_money_view v;
	hw_money_view(f->m, f->cfg, WS, &v);
	assert_int_equal(v.s.used_requests, 3);
	assert_int_equal(v.s.overage_requests, 1);
}

static void passthrough_cycle(void **state)
{
	struct fixture *f = *state;
	struct hw_money_res r;
	enum hw_err err;
	/* Spend the wallet to zero: $1 of markup. */
	assert_int_equal(admit_reserve(f, &r, USD(8), NULL), 0);
	settle(f, &r, USD(8), 10);
	/* Empty: the next request opens a cycle and runs without markup. */
	assert_int_equal(admit_reserve(f, &r, USD(100), NULL), 0);
	assert_true(r.passthrough);
	assert_int_equal(r.worst_markup, 0);
	settle(f, &r, USD(1), 60000);
	struct hw_money_view v;
	hw_money_view(f->m, f->cfg, WS, &v);
	assert_int_not_equal(v.s.pt_since_s, 0);
	assert_int_equal(v.s.pt_tokens, 60000);
	assert_true(v.s.pt_warned); /* past half the tokens */
	/* Still within 72 h and 100k tokens; then time runs out. */
	hw_clock_set_offset_ms((int64_t)71 * 3600 * 1000);
	assert_int_equal(admit_reserve(f, &r, 10, NULL), 0);
	hw_money_release(f->m, &r);
	hw_clock_set_offset_ms((int64_t)72 * 3600 * 1000);
	assert_int_equal(admit_reserve(f, &r, 10, &err), -EPERM);
	assert_int_equal(err, HW_ERR_GRACE_TIME);
	assert_int_equal(admit_reserve(f, &r, 10, &err), -EPERM);
	assert_int_equal(err, HW_ERR_GRACE_HARD_CUT);
	/* A top-up closes the cycle and clears it. */
	struct hw_ledger_entry e;
	assert_int_equal(hw_money_topup(f->m, f->cfg, WS, USD(5), "ref-1", &e), 0);
	assert_int_equal(hw_money_topup(f->m, f->cfg, WS, USD(5), "ref-1", &e), -EALREADY);
	assert_int_equal(hw_money_topup(f->m, f->cfg, WS, USD(6), "ref-1", &e), -EEXIST);
	assert_int_equal(admit_reserve(f, &r, 10, NULL), 0);
	assert_false(r.passthrough);
	hw_money_release(f->m, &r);
	assert_books(f, USD(5));
	hw_money_view(f->m, f->cfg, WS, &v);
	assert_int_equal(v.s.pt_since_s, 0);
	assert_int_equal(v.s.pt_tokens, 0);
	assert_string_equal(v.s.pt_cut, "");
}

static void grace_tokens_cut(void **state)
{
	struct fixture *f = *state;
	struct hw_money_res r;
	enum hw_err err;
	assert_int_equal(admit_reserve(f, &r, USD(8), NULL), 0);
	settle(f, &r, USD(8), 10);
	assert_int_equal(admit_reserve(f, &r, 10, NULL), 0);
	settle(f, &r, 10, 100000);
	assert_int_equal(admit_reserve(f, &r, 10, &err), -EPERM);
	assert_int_equal(err, HW_ERR_GRACE_TOKENS);
	/* The cut survives a restart. */
	close_all(f);
	open_all(f);
	assert_int_equal(admit_reserve(f, &r, 10, &err), -EPERM);
	assert_int_equal(err, HW_ERR_GRACE_HARD_CUT);
}

/* The events a settlement triggers land in the outbox in its own transaction: each
 * budget threshold once per month, each low-balance tier once per top-up, and the
 * passthrough cycle's activation, warning, cut and end. */
static void events_in_outbox(void **state)
{
	struct fixture *f = *state;
	struct hw_webhook wh;
	memset(&wh, 0, sizeof(wh));
	strcpy(wh.id, "wh_1");
	strcpy(wh.workspace_id, WS);
	strcpy(wh.name, "all");
	strcpy(wh.url, "http://127.0.0.1:9/");
	strcpy(wh.security_actions, "[]");
	wh.secret_box_len = 1;
	assert_int_equal(f->st->ops->hooks.webhook_create(f->st, &wh), 0);
	/* Cap $8.20: downgrade at $7.38, light_only at $7.79, block at $8.20. */
	struct hw_money_thresholds th = {0.9, 0.95, 1.0};
	assert_int_equal(hw_money_set_budget(f->m, WS, USD(8.2), &th), 0);
	struct hw_money_res r;
	/* $7.68 of spend crosses 90 %; its $0.96 of markup leaves $0.04 of the $1 credit,
	 * under 20 % and 10 % of the last top-up. */
	assert_int_equal(admit_reserve(f, &r, USD(7.68), NULL), 0);
	settle(f, &r, USD(7.68), 10);
	/* $8.00 crosses 95 %; the wallet empties: tier 0. */
	assert_int_equal(admit_reserve(f, &r, USD(0.32), NULL), 0);
	settle(f, &r, USD(0.32), 10);
	/* The empty wallet opens passthrough; $8.20 reaches the cap; 60k tokens pass half the
	 * grace tokens. */
	assert_int_equal(admit_reserve(f, &r, USD(0.2), NULL), 0);
	assert_true(r.passthrough);
	settle(f, &r, USD(0.2), 60000);
	struct hw_ledger_entry e;
	assert_int_equal(hw_money_topup(f->m, f->cfg, WS, USD(5), NULL, &e), 0);
	close_all(f); /* flushes the writer */
	open_all(f);
	struct hw_outbox_row *rows = NULL;
	size_t n = 0;
	assert_int_equal(f->st->ops->hooks.outbox_list(f->st, "wh_1", &rows, &n), 0);
	const char *want[] = {"budget.alert",	       "account.low_balance", "account.low_balance",
			      "budget.alert",	       "account.low_balance", "passthrough.activated",
			      "budget.alert",	       "passthrough.warning", "passthrough.deactivated"};
	size_t nw = sizeof(want) / sizeof(want[0]);
	char got[512] = "";
	for (size_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s ", rows[i].event);
	if (n != nw)
		print_message("outbox events: %s\n", got);
	assert_int_equal(n, nw);
	for (size_t i = 0; i < nw; i++)
		assert_string_equal(rows[i].event, want[i]);
	assert_non_null(strstr(rows[0].body, "\"threshold\":\"downgrade\""));
	assert_non_null(strstr(rows[1].body, "\"tier\":20"));
	assert_non_null(strstr(rows[2].body, "\"tier\":10"));
	assert_non_null(strstr(rows[3].body, "\"threshold\":\"light_only\""));
	assert_non_null(strstr(rows[4].body, "\"tier\":0"));
	assert_non_null(strstr(rows[6].body, "\"verdict\":\"BLOCK\""));
	assert_non_null(strstr(rows[7].body, "\"trigger\":\"tokens\""));
	hw_outbox_rows_free(rows, n);
}

/* A process that died after journaling a settlement but before its ledger writer
 * committed it: the next start applies the record, once, and empties the journal. */
static void journal_replayed_after_crash(void **state)
{
	struct fixture *f = *state;
	close_all(f);
	struct hw_journal *j;
	assert_int_equal(hw_journal_open(f->journal, false, 1000000, &j), 0);
	struct hw_money_job *job = calloc(1, sizeof(*job));
	strcpy(job->c.workspace_id, WS);
	hw_money_month(hw_clock_wall_s(), job->c.month);
	strcpy(job->c.request_id, "req_crash");
	job->c.at_ms = hw_clock_wall_ms();
	job->c.markup = 123;
	job->c.upstream = 984;
	job->c.used_delta = 1;
	assert_int_equal(hw_journal_append(j, job), 0);
	assert_int_equal(job->c.seq, 1000000);
	free(job);
	hw_journal_close(j);
	open_all(f); /* replays */
	assert_books(f, USD(1) - 123);
	struct hw_money_view v;
	assert_int_equal(hw_money_view(f->m, f->cfg, WS, &v), 0);
	assert_int_equal(v.s.spend, 984);
	assert_int_equal(v.s.used_requests, 1);
	FILE *fp = fopen(f->journal, "r");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	assert_int_equal(ftell(fp), 0); /* trimmed once applied */
	fclose(fp);
	/* A record already applied is never applied twice. */
	assert_int_equal(hw_journal_open(f->journal, false, 1000000, &j), 0);
	job = calloc(1, sizeof(*job));
	strcpy(job->c.workspace_id, WS);
	strcpy(job->c.month, v.s.month);
	job->c.markup = 123;
	assert_int_equal(hw_journal_append(j, job), 0);
	free(job);
	hw_journal_close(j);
	assert_books(f, USD(1) - 123);
}

/* Records survive the round trip through their text, events included. */
static void journal_record_round_trip(void **state)
{
	(void)state;
	struct hw_money_job job;
	memset(&job, 0, sizeof(job));
	job.c.seq = 42;
	strcpy(job.c.workspace_id, WS);
	strcpy(job.c.month, "2026-11");
	strcpy(job.c.request_id, "req_1");
	job.c.markup = 7;
	job.c.wallet_flags = true;
	job.c.pt_since_s = 1700000000;
	strcpy(job.c.pt_cut, "grace_period_exceeded_time");
	strcpy(job.event[0], "budget.alert");
	job.data[0] = json_pack("{s:s}", "threshold", "block");
	job.n_events = 1;
	char *line = hw_journal_encode(&job);
	assert_non_null(line);
	struct hw_money_job *back = hw_journal_decode(line, strlen(line) - 1);
	assert_non_null(back);
	assert_int_equal(back->c.seq, 42);
	assert_string_equal(back->c.request_id, "req_1");
	assert_int_equal(back->c.markup, 7);
	assert_true(back->c.wallet_flags);
	assert_int_equal(back->c.pt_since_s, 1700000000);
	assert_string_equal(back->c.pt_cut, "grace_period_exceeded_time");
	assert_int_equal(back->n_events, 1);
	assert_string_equal(back->event[0], "budget.alert");
	assert_string_equal(json_string_value(json_object_get(back->data[0], "threshold")), "block");
	assert_null(hw_journal_decode("{\"seq\":", 7)); /* a cut record */
	json_decref(back->data[0]);
	json_decref(job.data[0]);
	free(back);
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(settle_refunds_difference, setup, teardown),
		cmocka_unit_test_setup_teardown(markup_capped_and_overrun_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(release_charges_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(exact_fit_under_concurrency, setup, teardown),
		cmocka_unit_test_setup_teardown(fallback_grows_reservation, setup, teardown),
		cmocka_unit_test_setup_teardown(budget_cap_and_verdicts, setup, teardown),
		cmocka_unit_test_setup_teardown(quota_counts_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(passthrough_cycle, setup, teardown),
		cmocka_unit_test_setup_teardown(grace_tokens_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(events_in_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(journal_replayed_after_crash, setup, teardown),
		cmocka_unit_test(journal_record_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
