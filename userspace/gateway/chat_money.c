// SPDX-License-Identifier: Apache-2.0
/* The chat pipeline's money steps (SPEC §3 steps 12, 14 and 16, §10): admission before
 * routing, the reservation before each attempt, and the settlement, durable in the ledger
 * journal when hw_money_settle returns, so it comes before the answer's last bytes and a
 * response the client received is never unbilled. */
#include "gateway/chat.h"
#include "gateway/server.h"
#include "money/ledger.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum MHD_Result hw_chat_money_refused(struct chat *c, struct hw_money_refusal *why)
{
	return hw_respond_error(c->req, why->err, why->msg, why->extra);
}

bool hw_chat_money_admit(struct chat *c, enum MHD_Result *ret)
{
	struct hw_request *req = c->req;
	struct hw_money *m = req->srv->money;
	if (!m)
		return true;
	struct hw_money_refusal why;
	int rc = hw_money_admit(m, hw_server_cfg(req->srv), req->key.workspace_id, &c->money, &why);
	if (rc == 0)
		return true;
	*ret = rc == -EPERM ? hw_chat_money_refused(c, &why)
			    : hw_respond_error(req, HW_ERR_STORE_UNAVAILABLE, "The store is unavailable.", NULL);
	return false;
}

int hw_chat_money_reserve(struct chat *c, const struct hw_model *m, struct hw_money_refusal *why)
{
	struct hw_money *mon = c->req->srv->money;
	if (!mon)
		return 0;
	const struct hw_config *cfg = hw_server_cfg(c->req->srv);
	const typeof(cfg->money.reservation) *r = &cfg->money.reservation;
	int64_t prompt_est = hw_money_prompt_est(c->body.text_bytes, r->chars_per_token, r->overhead_tokens);
	int64_t max_out = hw_money_max_out(c->body.max_tokens, cfg->upstream.default_max_tokens, m);
	int64_t worst = hw_money_worst_upstream(m, prompt_est, max_out);
	return hw_money_reserve(mon, cfg, &c->money, worst, why);
}

void hw_chat_money_release(struct chat *c)
{
	if (c->req->srv->money)
		hw_money_release(c->req->srv->money, &c->money);
}

void hw_chat_money_settle(struct chat *c, bool full)
{
	struct hw_request *req = c->req;
	struct hw_money *m = req->srv->money;
	if (!m || !c->money.active)
		return;
	hw_chat_estimate_usage(c);
	struct hw_money_usage u = {
		.upstream_cost = full ? c->money.worst_up : hw_chat_upstream_cost(c, c->model),
		.tokens = c->prompt_tokens + c->completion_tokens,
		.counts = true,
		.request_id = req->request_id,
		.baseline_cost = hw_chat_baseline_cost(c),
	};
	hw_chat_guardian_cost(c, u.upstream_cost); /* cost_spike sees settled spend */
	hw_money_settle(m, hw_server_cfg(req->srv), &c->money, &u);
}

