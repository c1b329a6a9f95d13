// SPDX-License-Identifier: Apache-2.0
/* A workspace's money over the management API (SPEC §10, §16.2): the wallet, its top-ups
 * and ledger, the Budget Control cap and the plan. Reads come from the in-memory accounts
 * (reservations in flight included); writes go to the store first, then to the account. */
#include "admin/admin_internal.h"

#include "common/clock.h"
#include "common/json_usd.h"
#include "money/ledger.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPUP_MAX_MICRO 1000000000000LL /* $1,000,000 */
#define REFERENCE_MAX 128

static bool view(struct hw_admin_call *c, struct hw_money_view *v)
{
	struct hw_money *m = c->ctx->money;
	if (!m) {
		hw_admin_fail(c, HW_ERR_NOT_FOUND, "Money accounting is disabled (money.enabled: false).");
		return false;
	}
	int rc = hw_money_view(m, c->ctx->cfg, c->ws_id, v);
	if (rc < 0) {
		hw_admin_fail_store(c, rc, "Workspace");
		return false;
	}
	return true;
}

static json_t *percent_json(int64_t rate_bp) { return hw_json_usd(rate_bp * 10000); }

static json_t *reset_at_json(void)
{
	char t[21];
	hw_clock_rfc3339(hw_money_next_month(hw_clock_wall_s()), t);
	return json_string(t);
}

static json_t *wallet_json(const struct hw_config *cfg, const struct hw_money_view *v)
{
	const struct hw_money_state *s = &v->s;
	int64_t now = hw_clock_wall_s();
	json_t *pt = json_pack("{s:b,s:o,s:o,s:I,s:o,s:I,s:I}", "active", s->pt_since_s != 0, "since",
			       s->pt_since_s ? hw_admin_time_json(s->pt_since_s) : json_null(),
			       "elapsed_hours",
			       s->pt_since_s ? hw_json_usd((now - s->pt_since_s) / 360 * 100000) : json_null(),
			       "tokens_consumed", (json_int_t)s->pt_tokens, "cut",
			       s->pt_cut[0] ? json_string(s->pt_cut) : json_null(), "grace_hours",
			       (json_int_t)cfg->money.passthrough.grace_hours, "grace_tokens",
			       (json_int_t)cfg->money.passthrough.grace_tokens);
	int64_t avail = s->balance - v->reserved_markup;
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "balance_usd", hw_json_usd(s->balance),
			 "reserved_usd", hw_json_usd(v->reserved_markup), "available_usd",
			 hw_json_usd(avail), "last_topup_usd", hw_json_usd(s->last_topup), "last_topup_at",
			 s->last_topup_at_s ? hw_admin_time_json(s->last_topup_at_s) : json_null(),
			 "markup_percent", percent_json(v->rate_bp), "month_upstream_spend_usd",
			 hw_json_usd(s->spend), "passthrough", pt);
}

void hw_admin_wallet_get(struct hw_admin_call *c)
{
	struct hw_money_view v;
	if (view(c, &v))
		hw_admin_reply(c, 200, wallet_json(c->ctx->cfg, &v));
}

void hw_admin_wallet_topup(struct hw_admin_call *c)
{
	static const char *const fields[] = {"amount_usd", "reference", NULL};
	json_t *in = NULL;
	int64_t amount = 0;
	char reference[REFERENCE_MAX + 1] = "";
	if (hw_admin_body_parse(c, fields, &in))
		return;
	json_t *v = json_object_get(in, "amount_usd");
	if (!json_is_number(v) ||
	    hw_admin_usd_member(c->req->body, c->req->body_len, "amount_usd", &amount) || amount <= 0 ||
	    amount > TOPUP_MAX_MICRO) {
		hw_admin_fail_param(c, "amount_usd",
				    "amount_usd must be a number > 0 and <= 1000000 with at most 6 decimals.");
		goto out;
	}
	v = json_object_get(in, "reference");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > REFERENCE_MAX) {
			hw_admin_fail_param(c, "reference", "reference must be a string of 1-128 characters.");
			goto out;
		}
		snprintf(reference, sizeof(reference), "%s", json_string_value(v));
	}
	if (!c->ctx->money) {
		hw_admin_fail(c, HW_ERR_NOT_FOUND, "Money accounting is disabled (money.enabled: false).");
		goto out;
	}
	struct hw_ledger_entry e;
	int rc = hw_money_topup(c->ctx->money, c->ctx->cfg, c->ws_id, amount, reference, &e);
	if (rc == -EEXIST) {
		hw_admin_fail(c, HW_ERR_CONFLICT, "This top-up reference was used with another amount.");
		goto out;
	}
	if (rc < 0 && rc != -EALREADY) {
		hw_admin_fail_store(c, rc, "Workspace");
		goto out;
	}
	hw_admin_wallet_get(c);
out:
	json_decref(in);
}

static json_t *entry_json(const struct hw_ledger_entry *e)
{
	return json_pack("{s:I,s:o,s:s,s:o,s:o,s:o,s:o}", "id", (json_int_t)e->id, "at",
			 hw_admin_time_json(e->at_ms / 1000), "kind", e->kind, "amount_usd",
			 hw_json_usd(e->amount), "balance_after_usd", hw_json_usd(e->balance_after),
			 "request_id", e->request_id[0] ? json_string(e->request_id) : json_null(),
			 "reference", e->reference[0] ? json_string(e->reference) : json_null());
}

void hw_admin_wallet_ledger(struct hw_admin_call *c)
{
	int limit;
	char cursor[HW_ID_MAX];
	if (hw_admin_page_parse(c, &limit, cursor))
		return;
	struct hw_money_view v;
	if (!view(c, &v))
		return;
	struct hw_store *st = c->ctx->store;
	struct hw_ledger_entry *rows = NULL;
	hw_money_flush(c->ctx->money); /* settlements of answers already sent are listed */
	size_t n = 0;
	int rc = st->ops->money.ledger_list(st, c->ws_id, cursor[0] ? strtoll(cursor, NULL, 10) : 0,
					    limit + 1, &rows, &n);
	if (rc < 0) {
		hw_admin_fail_store(c, rc, "Ledger");
		return;
	}
	json_t *data = json_array();
	for (size_t i = 0; i < n && i < (size_t)limit; i++)
		json_array_append_new(data, entry_json(&rows[i]));
	char next[32] = "";
	if (n > (size_t)limit)
		snprintf(next, sizeof(next), "%lld", (long long)rows[limit - 1].id);
	free(rows);
	hw_admin_reply(c, 200, hw_admin_page_body(data, next[0] ? next : NULL));
}

static json_t *budget_json(const struct hw_money_view *v)
{
	return json_pack("{s:o,s:{s:f,s:f,s:f},s:s,s:o,s:o,s:s,s:o}", "cap_usd",
			 v->cap >= 0 ? hw_json_usd(v->cap) : json_null(), "thresholds", "downgrade",
			 v->th.downgrade, "light_only", v->th.light_only, "block", v->th.block, "month",
			 v->s.month, "spent_usd", hw_json_usd(v->s.spend), "reserved_usd",
			 hw_json_usd(v->reserved_upstream), "verdict", hw_money_verdict_name(v->verdict),
			 "reset_at", reset_at_json());
}

void hw_admin_budget_get(struct hw_admin_call *c)
{
	struct hw_money_view v;
	if (view(c, &v))
		hw_admin_reply(c, 200, budget_json(&v));
}

static int fraction_take(struct hw_admin_call *c, const json_t *th, const char *name, double *out)
{
	json_t *v = json_object_get(th, name);
	if (!v)
		return 0;
	double d = json_number_value(v);
	if (!json_is_number(v) || !(d > 0) || d > 10) {
		char param[40];
		snprintf(param, sizeof(param), "thresholds.%s", name);
		hw_admin_fail_param(c, param, "%s must be a number > 0 (a fraction of the cap).", param);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

void hw_admin_budget_put(struct hw_admin_call *c)
{
	static const char *const fields[] = {"cap_usd", "thresholds", NULL};
	json_t *in = NULL;
	struct hw_money_view v;
	if (!view(c, &v) || hw_admin_body_parse(c, fields, &in))
		return;
	int64_t cap = v.cap;
	struct hw_money_thresholds th = v.th;
	json_t *j = json_object_get(in, "cap_usd");
	if (j && json_is_null(j)) {
		cap = -1;
	} else if (j && (!json_is_number(j) ||
			 hw_admin_usd_member(c->req->body, c->req->body_len, "cap_usd", &cap) || cap < 0)) {
		hw_admin_fail_param(c, "cap_usd", "cap_usd must be null or a number >= 0 with at most 6 decimals.");
		goto out;
	}
	j = json_object_get(in, "thresholds");
	if (j && !json_is_object(j)) {
		hw_admin_fail_param(c, "thresholds", "thresholds must be an object.");
		goto out;
	}
	if (fraction_take(c, j, "downgrade", &th.downgrade) || fraction_take(c, j, "light_only", &th.light_only) ||
	    fraction_take(c, j, "block", &th.block))
		goto out;
	if (!(th.downgrade <= th.light_only && th.light_only <= th.block)) {
		hw_admin_fail_param(c, "thresholds", "thresholds must satisfy downgrade <= light_only <= block.");
		goto out;
	}
	int rc = hw_money_set_budget(c->ctx->money, c->ws_id, cap, &th);
	if (rc < 0) {
		hw_admin_fail_store(c, rc, "Workspace");
		goto out;
	}
	hw_admin_budget_get(c);
out:
	json_decref(in);
}

static json_t *plan_json(const struct hw_money_view *v)
{
	int64_t overage_cost = v->s.overage_requests * v->overage_per_100k / 100000;
	return json_pack("{s:s,s:o,s:b,s:o,s:s,s:I,s:I,s:I,s:o,s:o}", "plan", v->plan,
			 "included_requests",
			 v->included_requests >= 0 ? json_integer(v->included_requests) : json_null(),
			 "overage_enabled", v->overage_enabled, "overage_usd_per_100k",
			 hw_json_usd(v->overage_per_100k), "month", v->s.month, "used_requests",
			 (json_int_t)v->s.used_requests, "in_flight_requests", (json_int_t)v->in_flight,
			 "overage_requests", (json_int_t)v->s.overage_requests, "overage_cost_usd",
			 hw_json_usd(overage_cost), "reset_at", reset_at_json());
}

void hw_admin_plan_get(struct hw_admin_call *c)
{
	struct hw_money_view v;
	if (view(c, &v))
		hw_admin_reply(c, 200, plan_json(&v));
}

void hw_admin_plan_put(struct hw_admin_call *c)
{
	static const char *const fields[] = {"plan", "included_requests", "overage_enabled",
					     "overage_usd_per_100k", NULL};
	json_t *in = NULL;
	struct hw_money_view v;
	if (!view(c, &v) || hw_admin_body_parse(c, fields, &in))
		return;
	int64_t included = v.included_requests, per_100k = v.overage_per_100k;
	bool overage = v.overage_enabled;
	const char *name = NULL;
	json_t *j = json_object_get(in, "plan");
	if (j) {
		const struct hw_cfg_plan *p = NULL;
		for (size_t i = 0; json_is_string(j) && i < c->ctx->cfg->plans.n_presets; i++)
			if (strcmp(c->ctx->cfg->plans.presets[i].name, json_string_value(j)) == 0)
				p = &c->ctx->cfg->plans.presets[i];
		if (!p) {
			hw_admin_fail_param(c, "plan", "plan must name one of plans.presets.");
			goto out;
		}
		name = p->name;
		included = p->included_requests;
		overage = p->overage_enabled;
		per_100k = p->overage_per_100k;
	}
	j = json_object_get(in, "included_requests");
	if (j && json_is_null(j)) {
		included = -1;
	} else if (j) {
		if (!json_is_integer(j) || json_integer_value(j) < 0) {
			hw_admin_fail_param(c, "included_requests", "included_requests must be null or an integer >= 0.");
			goto out;
		}
		included = json_integer_value(j);
	}
	j = json_object_get(in, "overage_enabled");
	if (j && !json_is_boolean(j)) {
		hw_admin_fail_param(c, "overage_enabled", "overage_enabled must be a boolean.");
		goto out;
	}
	if (j)
		overage = json_is_true(j);
	j = json_object_get(in, "overage_usd_per_100k");
	if (j && (!json_is_number(j) ||
		  hw_admin_usd_member(c->req->body, c->req->body_len, "overage_usd_per_100k", &per_100k) ||
		  per_100k < 0)) {
		hw_admin_fail_param(c, "overage_usd_per_100k", "overage_usd_per_100k must be a number >= 0.");
		goto out;
	}
	int rc = hw_money_set_plan(c->ctx->money, c->ws_id, name, included, overage, per_100k);
	if (rc < 0) {
		hw_admin_fail_store(c, rc, "Workspace");
		goto out;
	}
	/* The workspace object shows the plan too: cached copies are stale. */
	c->changed = name != NULL;
	hw_admin_plan_get(c);
out:
	json_decref(in);
}

/* "YYYY-MM-DD" (midnight UTC) or RFC 3339. */
static int date_take(const char *s, int64_t *out)
{
	char full[32];
	if (strlen(s) == 10) {
		snprintf(full, sizeof(full), "%sT00:00:00Z", s);
		s = full;
	}
	return hw_clock_parse_rfc3339(s, out);
}

static json_t *group_fields(json_t *o, const struct hw_usage_group *g)
{
	json_object_set_new(o, "requests", json_integer(g->requests));
	json_object_set_new(o, "errors", json_integer(g->errors));
	json_object_set_new(o, "prompt_tokens", json_integer(g->prompt_tokens));
	json_object_set_new(o, "completion_tokens", json_integer(g->completion_tokens));
	json_object_set_new(o, "upstream_cost_usd", hw_json_usd(g->upstream));
	json_object_set_new(o, "markup_cost_usd", hw_json_usd(g->markup));
	json_object_set_new(o, "baseline_cost_usd", hw_json_usd(g->baseline));
	json_object_set_new(o, "savings_usd", hw_json_usd(g->baseline - g->upstream));
	return o;
}

void hw_admin_usage(struct hw_admin_call *c)
{
	char from_s[40] = "", to_s[40] = "", group_by[16] = "none";
	int64_t now = hw_clock_wall_s(), from, to = now + 1;
	char month[8];
	hw_money_month(now, month);
	char first[32];
	snprintf(first, sizeof(first), "%s-01", month);
	date_take(first, &from);
	hw_admin_query_get(c->req->query, "from", from_s, sizeof(from_s));
	hw_admin_query_get(c->req->query, "to", to_s, sizeof(to_s));
	hw_admin_query_get(c->req->query, "group_by", group_by, sizeof(group_by));
	if (from_s[0] && date_take(from_s, &from) < 0) {
		hw_admin_fail_param(c, "from", "from must be RFC 3339 or YYYY-MM-DD.");
		return;
	}
	if (to_s[0] && date_take(to_s, &to) < 0) {
		hw_admin_fail_param(c, "to", "to must be RFC 3339 or YYYY-MM-DD.");
		return;
	}
	struct hw_money_view v;
	if (!view(c, &v))
		return;
	struct hw_store *st = c->ctx->store;
	struct hw_usage_group *groups = NULL, totals;
	size_t n = 0;
	int rc = st->ops->money.usage_report(st, c->ws_id, from * 1000, to * 1000, group_by, &groups, &n, &totals);
	if (rc == -EINVAL) {
		hw_admin_fail_param(c, "group_by", "group_by must be none, key, user, model, tier or day.");
		return;
	}
	if (rc < 0) {
		hw_admin_fail_store(c, rc, "Usage");
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; strcmp(group_by, "none") != 0 && i < n; i++)
		json_array_append_new(arr, group_fields(json_pack("{s:s}", group_by, groups[i].key), &groups[i]));
	free(groups);
	hw_admin_reply(c, 200,
		       json_pack("{s:s,s:o,s:o,s:s,s:o,s:o,s:{s:I,s:o,s:o},s:{s:o,s:o}}", "workspace_id",
				 c->ws_id, "from", hw_admin_time_json(from), "to", hw_admin_time_json(to),
				 "group_by", group_by, "totals", group_fields(json_object(), &totals),
				 "groups", arr, "in_flight", "requests", (json_int_t)v.in_flight,
				 "reserved_upstream_usd", hw_json_usd(v.reserved_upstream),
				 "reserved_markup_usd", hw_json_usd(v.reserved_markup), "month",
				 "upstream_spend_usd", hw_json_usd(v.s.spend), "markup_percent",
				 percent_json(v.rate_bp)));
}
