// SPDX-License-Identifier: Apache-2.0
/* The money families of /metrics (SPEC §20.1), read from the in-memory accounts at scrape
 * time: gauges per workspace (one series per account loaded since start, or one unlabelled
 * sum when metrics.per_workspace_labels is false) and the process-wide counters. */
#include "gateway/metrics.h"

#include "gateway/server.h"
#include "money/ledger.h"

#include <stdio.h>
#include <string.h>

enum gauge { G_RESERVATIONS, G_RESERVED, G_BALANCE, G_SPENT_RATIO, G_PASSTHROUGH, G__COUNT };

static const char *const gauge_names[G__COUNT][2] = {
	{"hiway_reservations_in_flight", "Money reservations held by requests in flight"},
	{"hiway_reserved_usd", "USD reserved by requests in flight (upstream worst case and markup)"},
	{"hiway_wallet_balance_usd", "Wallet balance"},
	{"hiway_budget_spent_ratio", "Month-to-date upstream spend over the Budget Control cap"},
	{"hiway_passthrough_active", "1 while a passthrough cycle is open"},
};

struct scrape {
	struct hw_buf *out;
	int pass; /* the family being written */
	bool labels;
	double sum;
};

static double usd(int64_t micro) { return (double)micro / 1e6; }

static double gauge_value(int g, const struct hw_money_view *v)
{
	switch (g) {
	case G_RESERVATIONS:
		return (double)v->in_flight;
	case G_RESERVED:
		return usd(v->reserved_upstream + v->reserved_markup);
	case G_BALANCE:
		return usd(v->s.balance);
	case G_SPENT_RATIO:
		return v->cap > 0 ? (double)v->s.spend / (double)v->cap : 0;
	default:
		return v->s.pt_since_s ? 1 : 0;
	}
}

static void gauge_line(void *arg, const char *ws, const struct hw_money_view *v)
{
	struct scrape *s = arg;
	double x = gauge_value(s->pass, v);
	if (s->labels)
		hw_buf_appendf(s->out, "%s{workspace=\"%s\"} %.6f\n", gauge_names[s->pass][0], ws, x);
	else
		s->sum += x;
}

static void cost_lines(void *arg, const char *ws, const struct hw_money_view *v)
{
	struct scrape *s = arg;
	const char *kinds[3] = {"upstream", "markup", "baseline"};
	int64_t vals[3] = {v->total_upstream, v->total_markup, v->total_baseline};
	for (int k = 0; k < 3; k++)
		hw_buf_appendf(s->out, "hiway_cost_usd_total{kind=\"%s\",workspace=\"%s\"} %.6f\n",
			       kinds[k], ws, usd(vals[k]));
}

void hw_metrics_money_render(struct hw_server *srv, struct hw_buf *out)
{
	struct hw_money *m = srv->money;
	if (!m)
		return;
	const struct hw_config *cfg = hw_server_cfg(srv);
	struct scrape s = {.out = out, .labels = cfg->metrics.per_workspace_labels};
	for (s.pass = 0; s.pass < G__COUNT; s.pass++) {
		hw_buf_appendf(out, "# HELP %s %s\n# TYPE %s gauge\n", gauge_names[s.pass][0],
			       gauge_names[s.pass][1], gauge_names[s.pass][0]);
		s.sum = 0;
		hw_money_foreach(m, cfg, gauge_line, &s);
		if (!s.labels)
			hw_buf_appendf(out, "%s %.6f\n", gauge_names[s.pass][0], s.sum);
	}
	hw_buf_appendf(out, "# HELP hiway_cost_usd_total USD settled since start, by kind\n"
			    "# TYPE hiway_cost_usd_total counter\n");
	if (s.labels)
		hw_money_foreach(m, cfg, cost_lines, &s);
	struct hw_money_totals t;
	hw_money_totals(m, &t);
	hw_buf_appendf(out,
		       "# HELP hiway_reservation_overrun_usd_total Actual upstream cost above the "
		       "reservation\n# TYPE hiway_reservation_overrun_usd_total counter\n"
		       "hiway_reservation_overrun_usd_total %.6f\n"
		       "# HELP hiway_money_rejections_total Requests refused with a 402, by code\n"
		       "# TYPE hiway_money_rejections_total counter\n",
		       usd((int64_t)t.overrun));
	static const char *const codes[6] = {"insufficient_credits",	     "budget_exceeded",
					     "quota_exceeded",		     "grace_period_exceeded_time",
					     "grace_period_exceeded_tokens", "grace_period_hard_cut"};
	for (int i = 0; i < 6; i++)
		hw_buf_appendf(out, "hiway_money_rejections_total{code=\"%s\"} %llu\n", codes[i],
			       (unsigned long long)t.rejections[i]);
}
