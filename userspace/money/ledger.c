// SPDX-License-Identifier: Apache-2.0
/* Accounts, reservations and settlements (SPEC §10). Every operation on an account runs
 * under the account's mutex and hands its durable part to the ledger writer while still
 * holding it, so the writer commits one account's changes in the order they were made
 * (flags are written as absolute values; money as deltas). */
#include "money/ledger.h"

#include "common/clock.h"
#include "common/json_usd.h"
#include "common/log.h"
#include "money/journal.h"
#include "money/money_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096
#define LOW_TIER0 (1u << 31)

struct hw_account {
	pthread_mutex_t mu;
	char ws[HW_ID_MAX];
	char plan[32];
	struct hw_money_state s;
	int64_t reserved_markup, reserved_up, in_flight;
	int64_t total_upstream, total_markup, total_baseline;
	struct hw_account *next;
};

struct hw_money {
	struct hw_store *st;
	struct hw_journal *journal; /* NULL with an in-memory store */
	struct hw_money_writer *writer;
	pthread_rwlock_t table_lock;
	struct hw_account *buckets[BUCKETS];
	_Atomic uint64_t overrun;
	_Atomic uint64_t rejections[6];
};

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a: ids are random already, this only spreads them */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % BUCKETS;
}

#define JOURNAL_SEQ_SETTING "ledger_journal_seq"

static int replay_one(void *arg, struct hw_money_job *job)
{
	hw_money_writer_submit(arg, job);
	return 0;
}

struct hw_money *hw_money_start(struct hw_store *st, const char *journal_path, bool sync_each)
{
	struct hw_money *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->st = st;
	pthread_rwlock_init(&m->table_lock, NULL);
	char text[32] = "0";
	int64_t applied = 0, last = 0;
	if (journal_path && st->ops->setting_get(st, JOURNAL_SEQ_SETTING, text, sizeof(text)) < 0)
		snprintf(text, sizeof(text), "0");
	applied = strtoll(text, NULL, 10);
	m->writer = hw_money_writer_start(st);
	if (!m->writer)
		goto fail;
	if (journal_path) {
		/* Records a previous run appended but never committed go first, in order. */
		if (hw_journal_replay(journal_path, applied, replay_one, m->writer, &last) < 0)
			goto fail;
		if (last > applied)
			hw_log(HW_LOG_INFO, "money: applying ledger journal records %lld to %lld",
			       (long long)applied + 1, (long long)last);
		if (hw_money_writer_flush(m->writer) < 0)
			goto fail;
		if (hw_journal_open(journal_path, sync_each, last + 1, &m->journal) < 0)
			goto fail;
		hw_journal_trim(m->journal, -1); /* everything in it is applied now */
		hw_money_writer_set_journal(m->writer, m->journal);
	}
	return m;
fail:
	hw_log(HW_LOG_ERROR, "money: the ledger journal could not be applied");
	hw_money_writer_stop(m->writer);
	pthread_rwlock_destroy(&m->table_lock);
	free(m);
	return NULL;
}

void hw_money_stop(struct hw_money *m)
{
	if (!m)
		return;
	hw_money_writer_stop(m->writer);
	hw_journal_close(m->journal);
	for (size_t i = 0; i < BUCKETS; i++) {
		struct hw_account *a = m->buckets[i];
		while (a) {
			struct hw_account *next = a->next;
			pthread_mutex_destroy(&a->mu);
			free(a);
			a = next;
		}
	}
	pthread_rwlock_destroy(&m->table_lock);
	free(m);
}

/* ---- configuration in effect ------------------------------------------------------- */

static const struct hw_cfg_plan *preset(const struct hw_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->plans.n_presets; i++)
		if (strcmp(cfg->plans.presets[i].name, name) == 0)
			return &cfg->plans.presets[i];
	return NULL;
}

static int64_t eff_cap(const struct hw_config *cfg, const struct hw_account *a)
{
	return a->s.has_budget ? a->s.cap : cfg->budget.cap;
}

static struct hw_money_thresholds eff_th(const struct hw_config *cfg, const struct hw_account *a)
{
	if (a->s.has_budget)
		return (struct hw_money_thresholds){a->s.th_downgrade, a->s.th_light_only, a->s.th_block};
	return (struct hw_money_thresholds){cfg->budget.thresholds.downgrade,
					    cfg->budget.thresholds.light_only, cfg->budget.thresholds.block};
}

static void eff_plan(const struct hw_config *cfg, const struct hw_account *a, int64_t *included,
		     bool *overage, int64_t *per_100k)
{
	if (a->s.has_plan) {
		*included = a->s.included_requests;
		*overage = a->s.overage_enabled;
		*per_100k = a->s.overage_per_100k;
		return;
	}
	const struct hw_cfg_plan *p = preset(cfg, a->plan);
	*included = p ? p->included_requests : -1;
	*overage = p && p->overage_enabled;
	*per_100k = p ? p->overage_per_100k : 0;
}

static bool wallet_empty(const struct hw_config *cfg, int64_t balance)
{
	return balance <= 0 || balance < cfg->money.wallet.empty_below;
}

/* ---- jobs and events ------------------------------------------------------------------ */

static struct hw_money_job *job_new(const struct hw_account *a)
{
	struct hw_money_job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	snprintf(j->c.workspace_id, sizeof(j->c.workspace_id), "%s", a->ws);
	snprintf(j->c.month, sizeof(j->c.month), "%s", a->s.month);
	j->c.at_ms = hw_clock_wall_ms();
	return j;
}

static void job_event(struct hw_money_job *j, const char *event, json_t *data)
{
	if (!j || !data || j->n_events >= HW_MONEY_JOB_EVENTS) {
		json_decref(data);
		return;
	}
	snprintf(j->event[j->n_events], sizeof(j->event[0]), "%s", event);
	j->data[j->n_events++] = data;
}

/* The wallet's flags as they are now, to be written by the job. */
static void job_wallet(struct hw_money_job *j, const struct hw_account *a)
{
	j->c.wallet_flags = true;
	j->c.low_alerts = a->s.low_alerts;
	j->c.pt_since_s = a->s.pt_since_s;
	j->c.pt_tokens = a->s.pt_tokens;
	j->c.pt_warned = a->s.pt_warned;
	j->c.pt_rejected = a->s.pt_rejected;
	snprintf(j->c.pt_cut, sizeof(j->c.pt_cut), "%s", a->s.pt_cut);
}

/* Journals the job (durable from here) and hands it to the writer; called with the account
 * locked (see the file comment). */
static void job_submit(struct hw_money *m, struct hw_money_job *j)
{
	if (!j)
		return;
	if (m->journal) {
		int rc = hw_journal_append(m->journal, j);
		if (rc < 0)
			hw_log(HW_LOG_ERROR, "money: ledger journal append failed (%s): the change is "
					     "durable only once committed", strerror(-rc));
	}
	hw_money_writer_submit(m->writer, j);
}

/* passthrough.* data (SPEC §15): the cycle's start, and per event its progress fields. */
static json_t *cycle_data(const struct hw_account *a, int64_t now, bool progress)
{
	char since[21];
	hw_clock_rfc3339(a->s.pt_since_s, since);
	json_t *d = json_pack("{s:s}", "passthrough_since", since);
	if (d && progress) {
		int64_t tenths = (now - a->s.pt_since_s) / 360;
		json_object_set_new(d, "elapsed_hours", hw_json_usd(tenths * 100000));
		json_object_set_new(d, "tokens_consumed", json_integer(a->s.pt_tokens));
	}
	return d;
}

static json_t *low_balance_data(const struct hw_account *a, int64_t tier)
{
	return json_pack("{s:o,s:o,s:I}", "balance_usd", hw_json_usd(a->s.balance), "last_topup_usd",
			 hw_json_usd(a->s.last_topup), "tier", (json_int_t)tier);
}

/* ---- accounts ------------------------------------------------------------------------- */

/* A new month starts its counters from zero; reservations in flight carry over. */
static void roll_month(struct hw_account *a, int64_t now)
{
	char month[8];
	hw_money_month(now, month);
	if (strcmp(month, a->s.month) == 0)
		return;
	snprintf(a->s.month, sizeof(a->s.month), "%s", month);
	a->s.spend = a->s.used_requests = a->s.overage_requests = 0;
	a->s.budget_alerts = 0;
}

static void close_cycle(struct hw_account *a, struct hw_money_job *j, int64_t now, int64_t topup)
{
	char at[21];
	hw_clock_rfc3339(now, at);
	json_t *d = cycle_data(a, now, false);
	json_object_set_new(d, "ended_at", json_string(at));
	json_object_set_new(d, "topup_usd", hw_json_usd(topup));
	job_event(j, "passthrough.deactivated", d);
	a->s.pt_since_s = a->s.pt_tokens = 0;
	a->s.pt_warned = a->s.pt_rejected = false;
	a->s.pt_cut[0] = '\0';
	job_wallet(j, a);
}

static struct hw_account *find(struct hw_money *m, const char *ws, uint32_t h)
{
	for (struct hw_account *a = m->buckets[h]; a; a = a->next)
		if (strcmp(a->ws, ws) == 0)
			return a;
	return NULL;
}

/* The workspace's account, loaded from the store the first time (a blocking read, once
 * per workspace per process). */
static int account(struct hw_money *m, const struct hw_config *cfg, const char *ws,
		   struct hw_account **out)
{
	uint32_t h = hash(ws);
	pthread_rwlock_rdlock(&m->table_lock);
	struct hw_account *a = find(m, ws, h);
	pthread_rwlock_unlock(&m->table_lock);
	if (a) {
		*out = a;
		return 0;
	}
	struct hw_workspace w;
	int rc = m->st->ops->workspace_get(m->st, ws, &w);
	if (rc < 0)
		return rc;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	int64_t now = hw_clock_wall_s();
	char month[8];
	hw_money_month(now, month);
	rc = m->st->ops->money.load(m->st, ws, month, &a->s);
	if (rc < 0) {
		free(a);
		return rc;
	}
	pthread_mutex_init(&a->mu, NULL);
	snprintf(a->ws, sizeof(a->ws), "%s", ws);
	snprintf(a->plan, sizeof(a->plan), "%s", w.plan);
	pthread_rwlock_wrlock(&m->table_lock);
	struct hw_account *other = find(m, ws, h);
	if (other) {
		pthread_rwlock_unlock(&m->table_lock);
		pthread_mutex_destroy(&a->mu);
		free(a);
		*out = other;
		return 0;
	}
	a->next = m->buckets[h];
	m->buckets[h] = a;
	/* A top-up committed just before a crash may have left a cycle open on a funded
	 * wallet: it ends now, as the top-up would have ended it. */
	if (a->s.pt_since_s && !wallet_empty(cfg, a->s.balance)) {
		pthread_mutex_lock(&a->mu);
		struct hw_money_job *j = job_new(a);
		close_cycle(a, j, now, 0);
		job_submit(m, j);
		pthread_mutex_unlock(&a->mu);
	}
	pthread_rwlock_unlock(&m->table_lock);
	*out = a;
	return 0;
}

/* ---- refusals ---------------------------------------------------------------------- */

static void usd_text(int64_t micro, int decimals, char *out, size_t len)
{
	int64_t unit = decimals == 4 ? 100 : 10000;
	int64_t v = (micro + unit / 2) / unit;
	int64_t scale = decimals == 4 ? 10000 : 100;
	snprintf(out, len, "$%lld.%0*lld", (long long)(v / scale), decimals, (long long)(v % scale));
}

static int refuse(struct hw_money *m, struct hw_money_refusal *why, enum hw_err err, int idx, json_t *extra)
{
	why->err = err;
	why->extra = extra;
	atomic_fetch_add(&m->rejections[idx], 1);
	return -EPERM;
}

static int refuse_grace(struct hw_money *m, const struct hw_config *cfg, struct hw_account *a,
			struct hw_money_refusal *why, int64_t now)
{
	enum hw_err err = HW_ERR_GRACE_HARD_CUT;
	int idx = HW_MONEY_REJ_HARD_CUT;
	if (!a->s.pt_rejected) {
		bool time = strcmp(a->s.pt_cut, "grace_period_exceeded_time") == 0;
		err = time ? HW_ERR_GRACE_TIME : HW_ERR_GRACE_TOKENS;
		idx = time ? HW_MONEY_REJ_GRACE_TIME : HW_MONEY_REJ_GRACE_TOKENS;
		a->s.pt_rejected = true;
		struct hw_money_job *j = job_new(a);
		if (j)
			job_wallet(j, a);
		job_submit(m, j);
	}
	snprintf(why->msg, sizeof(why->msg), "Grace period exceeded. Please top up your wallet to resume service.");
	char since[21];
	hw_clock_rfc3339(a->s.pt_since_s, since);
	int64_t tenths = (now - a->s.pt_since_s) / 360;
	return refuse(m, why, err, idx,
		      json_pack("{s:s,s:o,s:I,s:s}", "passthrough_since", since, "elapsed_hours",
				hw_json_usd(tenths * 100000), "tokens_consumed", (json_int_t)a->s.pt_tokens,
				"topup_url", cfg->money.topup_url ? cfg->money.topup_url : ""));
}

/* 500000 -> "500,000" (the quota message's separators, SPEC §2.4). */
static void thousands(int64_t v, char *out, size_t len)
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%lld", (long long)(v < 0 ? 0 : v));
	size_t o = 0;
	for (int i = 0; i < n && o + 2 < len; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

static int refuse_quota(struct hw_money *m, const struct hw_config *cfg, struct hw_account *a,
			int64_t included, struct hw_money_refusal *why)
{
	char used[32], cap[32];
	thousands(a->s.used_requests + a->in_flight, used, sizeof(used));
	thousands(included, cap, sizeof(cap));
	snprintf(why->msg, sizeof(why->msg), "Monthly request quota reached (%s / %s).", used, cap);
	return refuse(m, why, HW_ERR_QUOTA_EXCEEDED, HW_MONEY_REJ_QUOTA,
		      json_pack("{s:I,s:I,s:s}", "included_requests", (json_int_t)included,
				"used_requests", (json_int_t)a->s.used_requests, "upgrade_url",
				cfg->money.upgrade_url ? cfg->money.upgrade_url : ""));
}

static int refuse_budget(struct hw_money *m, const struct hw_config *cfg, struct hw_account *a,
			 int64_t worst_up, struct hw_money_refusal *why, int64_t now)
{
	int64_t cap = eff_cap(cfg, a);
	struct hw_money_thresholds th = eff_th(cfg, a);
	char reset[21], x[32], y[32];
	hw_clock_rfc3339(hw_money_next_month(now), reset);
	json_t *extra = json_pack("{s:s,s:o,s:o,s:o,s:s}", "verdict",
				  hw_money_verdict_name(hw_money_verdict(a->s.spend, cap, &th)), "cap_usd",
				  hw_json_usd(cap), "spent_usd", hw_json_usd(a->s.spend), "reserved_usd",
				  hw_json_usd(a->reserved_up), "reset_at", reset);
	if (worst_up < 0) {
		usd_text(a->s.spend, 2, x, sizeof(x));
		usd_text(cap, 2, y, sizeof(y));
		snprintf(why->msg, sizeof(why->msg), "Monthly budget cap reached (%s / %s).", x, y);
	} else {
		int64_t left = cap - a->s.spend - a->reserved_up;
		usd_text(worst_up, 4, x, sizeof(x));
		usd_text(left > 0 ? left : 0, 4, y, sizeof(y));
		snprintf(why->msg, sizeof(why->msg),
			 "Request would exceed the monthly budget cap (estimated %s, remaining %s).", x, y);
		json_object_set_new(extra, "estimated_cost", hw_json_usd(worst_up));
	}
	return refuse(m, why, HW_ERR_BUDGET_EXCEEDED, HW_MONEY_REJ_BUDGET, extra);
}

static int refuse_credits(struct hw_money *m, struct hw_account *a, int64_t worst_markup,
			  struct hw_money_refusal *why)
{
	int64_t avail = a->s.balance - a->reserved_markup;
	char x[32], y[32];
	usd_text(worst_markup, 4, x, sizeof(x));
	usd_text(avail > 0 ? avail : 0, 4, y, sizeof(y));
	snprintf(why->msg, sizeof(why->msg),
		 "Insufficient credits for this request (estimated max %s, balance %s).", x, y);
	return refuse(m, why, HW_ERR_INSUFFICIENT_CREDITS, HW_MONEY_REJ_INSUFFICIENT,
		      json_pack("{s:o,s:o}", "estimated_cost", hw_json_usd(worst_markup), "balance",
				hw_json_usd(avail > 0 ? avail : 0)));
}

/* ---- the request path ---------------------------------------------------------------- */

/* Wallet state: an open cycle is checked against the grace cap; an empty wallet opens one. */
static int wallet_state(struct hw_money *m, const struct hw_config *cfg, struct hw_account *a,
			struct hw_money_res *res, struct hw_money_refusal *why, int64_t now)
{
	const typeof(cfg->money.passthrough) *pt = &cfg->money.passthrough;
	if (a->s.pt_since_s) {
		if (!a->s.pt_cut[0]) {
			const char *cut = hw_money_grace_cut(a->s.pt_since_s, now, a->s.pt_tokens,
							     pt->grace_hours, pt->grace_tokens);
			if (cut) {
				snprintf(a->s.pt_cut, sizeof(a->s.pt_cut), "%s", cut);
				struct hw_money_job *j = job_new(a);
				json_t *d = cycle_data(a, now, true);
				json_object_set_new(d, "code", json_string(cut));
				job_event(j, "passthrough.hard_cut", d);
				if (j)
					job_wallet(j, a);
				job_submit(m, j);
			}
		}
		if (a->s.pt_cut[0])
			return refuse_grace(m, cfg, a, why, now);
		res->passthrough = true;
		return 0;
	}
	if (!wallet_empty(cfg, a->s.balance) || !pt->enabled)
		return 0;
	a->s.pt_since_s = now;
	a->s.pt_tokens = 0;
	a->s.pt_warned = a->s.pt_rejected = false;
	a->s.pt_cut[0] = '\0';
	struct hw_money_job *j = job_new(a);
	json_t *d = cycle_data(a, now, false);
	json_object_set_new(d, "balance_usd", hw_json_usd(a->s.balance));
	json_object_set_new(d, "grace_hours", json_integer(pt->grace_hours));
	json_object_set_new(d, "grace_tokens", json_integer(pt->grace_tokens));
	job_event(j, "passthrough.activated", d);
	if (!(a->s.low_alerts & LOW_TIER0)) {
		a->s.low_alerts |= LOW_TIER0;
		job_event(j, "account.low_balance", low_balance_data(a, 0));
	}
	if (j)
		job_wallet(j, a);
	job_submit(m, j);
	res->passthrough = true;
	return 0;
}

int hw_money_admit(struct hw_money *m, const struct hw_config *cfg, const char *ws,
		   struct hw_money_res *res, struct hw_money_refusal *why)
{
	struct hw_account *a;
	memset(why, 0, sizeof(*why));
	int rc = account(m, cfg, ws, &a);
	if (rc < 0)
		return -EIO;
	int64_t now = hw_clock_wall_s();
	pthread_mutex_lock(&a->mu);
	roll_month(a, now);
	res->acct = a;
	res->passthrough = false;
	if (cfg->money.markup.enabled)
		rc = wallet_state(m, cfg, a, res, why, now);
	int64_t included, per_100k;
	bool overage;
	eff_plan(cfg, a, &included, &overage, &per_100k);
	if (rc == 0 && included >= 0 && !overage && a->s.used_requests + a->in_flight >= included)
		rc = refuse_quota(m, cfg, a, included, why);
	struct hw_money_thresholds th = eff_th(cfg, a);
	res->verdict = hw_money_verdict(a->s.spend, eff_cap(cfg, a), &th);
	if (rc == 0 && res->verdict == HW_MONEY_BLOCK)
		rc = refuse_budget(m, cfg, a, -1, why, now);
	res->rate_bp = !cfg->money.markup.enabled || res->passthrough
			       ? 0
			       : hw_money_rate_bp(cfg->money.markup.brackets, cfg->money.markup.n_brackets,
						  a->s.spend);
	res->admitted = rc == 0;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int hw_money_reserve(struct hw_money *m, const struct hw_config *cfg, struct hw_money_res *res,
		     int64_t worst_up, struct hw_money_refusal *why)
{
	struct hw_account *a = res->acct;
	memset(why, 0, sizeof(*why));
	if (!a || !res->admitted)
		return -EINVAL;
	int64_t now = hw_clock_wall_s();
	bool charge_markup = cfg->money.markup.enabled && !res->passthrough;
	int64_t wm = charge_markup ? hw_money_markup(worst_up, res->rate_bp) : 0;
	int rc = 0;
	pthread_mutex_lock(&a->mu);
	int64_t d_up = worst_up, d_m = wm;
	if (res->active) {
		d_up = worst_up > res->worst_up ? worst_up - res->worst_up : 0;
		d_m = wm > res->worst_markup ? wm - res->worst_markup : 0;
	} else {
		int64_t included, per_100k;
		bool overage;
		eff_plan(cfg, a, &included, &overage, &per_100k);
		if (included >= 0 && !overage && a->s.used_requests + a->in_flight >= included)
			rc = refuse_quota(m, cfg, a, included, why);
	}
	int64_t cap = eff_cap(cfg, a);
	if (rc == 0 && cap >= 0 && a->s.spend + a->reserved_up + d_up > cap)
		rc = refuse_budget(m, cfg, a, res->active ? res->worst_up + d_up : worst_up, why, now);
	if (rc == 0 && charge_markup && d_m > a->s.balance - a->reserved_markup)
		rc = refuse_credits(m, a, res->active ? res->worst_markup + d_m : wm, why);
	if (rc == 0) {
		if (!res->active)
			a->in_flight++;
		a->reserved_up += d_up;
		a->reserved_markup += d_m;
		res->worst_up += d_up;
		res->worst_markup += d_m;
		res->active = true;
	}
	pthread_mutex_unlock(&a->mu);
	return rc;
}

void hw_money_release(struct hw_money *m, struct hw_money_res *res)
{
	(void)m;
	struct hw_account *a = res->acct;
	if (!a || !res->active)
		return;
	pthread_mutex_lock(&a->mu);
	a->in_flight--;
	a->reserved_up -= res->worst_up;
	a->reserved_markup -= res->worst_markup;
	res->active = false;
	pthread_mutex_unlock(&a->mu);
}

static const char *const threshold_names[3] = {"downgrade", "light_only", "block"};

/* Budget thresholds crossed upward by this settlement, once per threshold per month. */
static void budget_alerts(const struct hw_config *cfg, struct hw_account *a, int64_t before,
			  struct hw_money_job *j)
{
	int64_t cap = eff_cap(cfg, a);
	if (cap < 0)
		return;
	struct hw_money_thresholds th = eff_th(cfg, a);
	double f[3] = {th.downgrade, th.light_only, th.block};
	for (int i = 0; i < 3; i++) {
		int64_t at = (int64_t)((double)cap * f[i] + 0.5);
		if (before >= at || a->s.spend < at || (a->s.budget_alerts & (1u << i)))
			continue;
		a->s.budget_alerts |= 1u << i;
		j->c.month_flags = true;
		char reset[21];
		hw_clock_rfc3339(hw_money_next_month(hw_clock_wall_s()), reset);
		job_event(j, "budget.alert",
			  json_pack("{s:o,s:o,s:s,s:s,s:s}", "cap_usd", hw_json_usd(cap), "spent_usd",
				    hw_json_usd(a->s.spend), "threshold", threshold_names[i], "verdict",
				    hw_money_verdict_name(hw_money_verdict(a->s.spend, cap, &th)),
				    "reset_at", reset));
	}
	j->c.budget_alerts = a->s.budget_alerts;
}

static void low_balance(const struct hw_config *cfg, struct hw_account *a, struct hw_money_job *j)
{
	uint32_t tiers = hw_money_low_tiers(a->s.balance, a->s.last_topup, cfg->money.wallet.low_balance_percents,
					    cfg->money.wallet.n_low_balance_percents);
	uint32_t fresh = tiers & ~a->s.low_alerts;
	for (size_t i = 0; fresh && i < cfg->money.wallet.n_low_balance_percents && i < 31; i++) {
		if (!(fresh & (1u << i)))
			continue;
		job_event(j, "account.low_balance",
			  low_balance_data(a, cfg->money.wallet.low_balance_percents[i]));
	}
	a->s.low_alerts |= fresh;
	if (wallet_empty(cfg, a->s.balance) && !(a->s.low_alerts & LOW_TIER0)) {
		a->s.low_alerts |= LOW_TIER0;
		fresh |= LOW_TIER0;
		job_event(j, "account.low_balance", low_balance_data(a, 0));
	}
	if (fresh)
		job_wallet(j, a);
}

static void cycle_progress(const struct hw_config *cfg, struct hw_account *a, int64_t tokens,
			   struct hw_money_job *j, int64_t now)
{
	const typeof(cfg->money.passthrough) *pt = &cfg->money.passthrough;
	if (!a->s.pt_since_s)
		return;
	a->s.pt_tokens += tokens;
	if (!a->s.pt_warned && hw_money_grace_warn(a->s.pt_since_s, now, a->s.pt_tokens, pt->grace_hours,
						   pt->grace_tokens, pt->warn_fraction)) {
		a->s.pt_warned = true;
		json_t *d = cycle_data(a, now, true);
		bool by_time = (double)(now - a->s.pt_since_s) >=
			       pt->warn_fraction * (double)(pt->grace_hours * 3600);
		json_object_set_new(d, "trigger", json_string(by_time ? "time" : "tokens"));
		job_event(j, "passthrough.warning", d);
	}
	if (!a->s.pt_cut[0]) {
		const char *cut = hw_money_grace_cut(a->s.pt_since_s, now, a->s.pt_tokens, pt->grace_hours,
						     pt->grace_tokens);
		if (cut) {
			snprintf(a->s.pt_cut, sizeof(a->s.pt_cut), "%s", cut);
			json_t *d = cycle_data(a, now, true);
			json_object_set_new(d, "code", json_string(cut));
			job_event(j, "passthrough.hard_cut", d);
		}
	}
	job_wallet(j, a);
}

int hw_money_settle(struct hw_money *m, const struct hw_config *cfg, struct hw_money_res *res,
		    const struct hw_money_usage *u)
{
	struct hw_account *a = res->acct;
	if (!a || !res->active)
		return -EINVAL;
	int64_t now = hw_clock_wall_s();
	bool charge_markup = cfg->money.markup.enabled && !res->passthrough;
	int64_t up = u->upstream_cost > 0 ? u->upstream_cost : 0;
	int64_t markup = charge_markup ? hw_money_markup(up, res->rate_bp) : 0;
	if (markup > res->worst_markup)
		markup = res->worst_markup;
	if (up > res->worst_up)
		atomic_fetch_add(&m->overrun, (uint64_t)(up - res->worst_up));
	pthread_mutex_lock(&a->mu);
	roll_month(a, now);
	struct hw_money_job *j = job_new(a);
	a->s.balance -= markup;
	a->reserved_markup -= res->worst_markup;
	a->reserved_up -= res->worst_up;
	a->in_flight--;
	int64_t before = a->s.spend;
	a->s.spend += up;
	a->total_upstream += up;
	a->total_markup += markup;
	a->total_baseline += u->baseline_cost;
	int64_t included, per_100k;
	bool overage;
	eff_plan(cfg, a, &included, &overage, &per_100k);
	if (j) {
		j->c.markup = markup;
		j->c.upstream = up;
		snprintf(j->c.request_id, sizeof(j->c.request_id), "%s", u->request_id ? u->request_id : "");
	}
	if (u->counts) {
		a->s.used_requests++;
		if (j)
			j->c.used_delta = 1;
		if (included >= 0 && a->s.used_requests > included) {
			a->s.overage_requests++;
			if (j)
				j->c.overage_delta = 1;
		}
	}
	if (j) {
		budget_alerts(cfg, a, before, j);
		if (markup > 0)
			low_balance(cfg, a, j);
		if (res->passthrough)
			cycle_progress(cfg, a, u->tokens, j, now);
	} else {
		hw_log(HW_LOG_ERROR, "money: out of memory: settlement of %s kept in memory only",
		       u->request_id ? u->request_id : "?");
	}
	res->active = false;
	res->markup_cost = markup;
	job_submit(m, j);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

/* ---- management ------------------------------------------------------------------- */

static void view_locked(const struct hw_config *cfg, const struct hw_account *a, struct hw_money_view *v)
{
	memset(v, 0, sizeof(*v));
	v->s = a->s;
	v->reserved_markup = a->reserved_markup;
	v->reserved_upstream = a->reserved_up;
	v->in_flight = a->in_flight;
	v->cap = eff_cap(cfg, a);
	v->th = eff_th(cfg, a);
	eff_plan(cfg, a, &v->included_requests, &v->overage_enabled, &v->overage_per_100k);
	snprintf(v->plan, sizeof(v->plan), "%s", a->plan);
	v->verdict = hw_money_verdict(a->s.spend, v->cap, &v->th);
	v->total_upstream = a->total_upstream;
	v->total_markup = a->total_markup;
	v->total_baseline = a->total_baseline;
	v->rate_bp = cfg->money.markup.enabled && !a->s.pt_since_s
			     ? hw_money_rate_bp(cfg->money.markup.brackets, cfg->money.markup.n_brackets, a->s.spend)
			     : 0;
}

int hw_money_view(struct hw_money *m, const struct hw_config *cfg, const char *ws, struct hw_money_view *out)
{
	struct hw_account *a;
	int rc = account(m, cfg, ws, &a);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&a->mu);
	roll_month(a, hw_clock_wall_s());
	view_locked(cfg, a, out);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

int hw_money_topup(struct hw_money *m, const struct hw_config *cfg, const char *ws, int64_t amount,
		   const char *reference, struct hw_ledger_entry *out)
{
	struct hw_account *a;
	int rc = account(m, cfg, ws, &a);
	if (rc < 0)
		return rc;
	int64_t now_ms = hw_clock_wall_ms();
	rc = m->st->ops->money.topup(m->st, ws, "topup", amount, reference, now_ms, NULL, 0, out);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&a->mu);
	a->s.balance += amount;
	a->s.last_topup = amount;
	a->s.last_topup_at_s = now_ms / 1000;
	a->s.low_alerts = 0;
	struct hw_money_job *j = job_new(a);
	if (j)
		job_wallet(j, a);
	if (a->s.pt_since_s && !wallet_empty(cfg, a->s.balance))
		close_cycle(a, j, now_ms / 1000, amount);
	job_submit(m, j);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

/* The account of `ws` when it is loaded, locked; NULL when not (its next load reads the
 * store, which already holds the change). */
static struct hw_account *lock_loaded(struct hw_money *m, const char *ws)
{
	pthread_rwlock_rdlock(&m->table_lock);
	struct hw_account *a = find(m, ws, hash(ws));
	if (a)
		pthread_mutex_lock(&a->mu);
	pthread_rwlock_unlock(&m->table_lock);
	return a;
}

int hw_money_set_budget(struct hw_money *m, const char *ws, int64_t cap, const struct hw_money_thresholds *th)
{
	int rc = m->st->ops->money.budget_put(m->st, ws, cap, th->downgrade, th->light_only, th->block);
	struct hw_account *a = rc < 0 ? NULL : lock_loaded(m, ws);
	if (a) {
		a->s.has_budget = true;
		a->s.cap = cap;
		a->s.th_downgrade = th->downgrade;
		a->s.th_light_only = th->light_only;
		a->s.th_block = th->block;
		pthread_mutex_unlock(&a->mu);
	}
	return rc;
}

/* The plan's name lives on the workspace row, where a new account reads it. */
static int plan_name_put(struct hw_money *m, const char *ws, const char *name)
{
	struct hw_workspace w;
	int rc = m->st->ops->workspace_get(m->st, ws, &w);
	if (rc < 0)
		return rc;
	snprintf(w.plan, sizeof(w.plan), "%s", name);
	return m->st->ops->workspace_update(m->st, &w);
}

int hw_money_set_plan(struct hw_money *m, const char *ws, const char *plan_name, int64_t included,
		      bool overage, int64_t per_100k)
{
	int rc = plan_name ? plan_name_put(m, ws, plan_name) : 0;
	if (rc == 0)
		rc = m->st->ops->money.plan_put(m->st, ws, included, overage, per_100k);
	struct hw_account *a = rc < 0 ? NULL : lock_loaded(m, ws);
	if (a) {
		if (plan_name)
			snprintf(a->plan, sizeof(a->plan), "%s", plan_name);
		a->s.has_plan = true;
		a->s.included_requests = included;
		a->s.overage_enabled = overage;
		a->s.overage_per_100k = per_100k;
		pthread_mutex_unlock(&a->mu);
	}
	return rc;
}

void hw_money_foreach(struct hw_money *m, const struct hw_config *cfg,
		      void (*fn)(void *arg, const char *ws, const struct hw_money_view *v), void *arg)
{
	pthread_rwlock_rdlock(&m->table_lock);
	for (size_t i = 0; i < BUCKETS; i++) {
		for (struct hw_account *a = m->buckets[i]; a; a = a->next) {
			struct hw_money_view v;
			pthread_mutex_lock(&a->mu);
			view_locked(cfg, a, &v);
			pthread_mutex_unlock(&a->mu);
			fn(arg, a->ws, &v);
		}
	}
	pthread_rwlock_unlock(&m->table_lock);
}

int hw_money_flush(struct hw_money *m) { return hw_money_writer_flush(m->writer); }

void hw_money_totals(struct hw_money *m, struct hw_money_totals *out)
{
	out->overrun = atomic_load(&m->overrun);
	for (int i = 0; i < 6; i++)
		out->rejections[i] = atomic_load(&m->rejections[i]);
}
