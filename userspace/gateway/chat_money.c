// SPDX-License-Identifier: Apache-2.0
/* The chat pipeline's money steps (SPEC §3 steps 12, 14 and 16, §10): admission before
 * routing, the reservation before each attempt, and the settlement whose commit the
 * answer's last bytes wait for, so a response the client received is never unbilled. */
#include "gateway/chat.h"
#include "gateway/server.h"
#include "gateway/worker.h"
#include "money/ledger.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct hw_buf *hw_chat_sink(struct chat *c) { return c->to_tail ? &c->tail : &c->req->out; }

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
	c->prompt_est = hw_money_prompt_est(c->body.text_bytes, r->chars_per_token, r->overhead_tokens);
	int64_t max_out = hw_money_max_out(c->body.max_tokens, cfg->upstream.default_max_tokens, m);
	int64_t worst = hw_money_worst_upstream(m, c->prompt_est, max_out);
	return hw_money_reserve(mon, cfg, &c->money, worst, why);
}

void hw_chat_money_release(struct chat *c)
{
	if (c->req->srv->money)
		hw_money_release(c->req->srv->money, &c->money);
}

/* The ledger writer's report (its own thread): the settlement is durable. */
static void on_durable(void *arg, int rc)
{
	struct hw_request *req = arg;
	struct chat *c = req->endpoint;
	(void)rc; /* a commit abandoned at shutdown still lets the answer finish */
	pthread_mutex_lock(&req->lock);
	c->money_durable = true;
	if (c->to_tail) {
		c->to_tail = false;
		if (!req->client_gone && c->tail.len)
			hw_buf_append(&req->out, c->tail.data, c->tail.len);
		hw_buf_free(&c->tail);
		memset(&c->tail, 0, sizeof(c->tail));
		if (c->terminal || c->interrupted)
			req->out_done = true;
	}
	bool resumed = req->suspended && !req->client_gone;
	hw_request_wake_locked(req);
	pthread_mutex_unlock(&req->lock);
	if (resumed)
		hw_worker_resumed(req->worker);
	hw_request_unref(req);
}

void hw_chat_money_settle(struct chat *c, bool full, bool wait)
{
	struct hw_request *req = c->req;
	struct hw_money *m = req->srv->money;
	if (!m || c->settled || !c->money.active)
		return;
	c->settled = true;
	hw_chat_estimate_usage(c);
	struct hw_money_usage u = {
		.upstream_cost = full ? c->money.worst_up : hw_chat_upstream_cost(c, c->model),
		.tokens = c->prompt_tokens + c->completion_tokens,
		.counts = true,
		.request_id = req->request_id,
		.baseline_cost = hw_chat_baseline_cost(c),
	};
	hw_chat_guardian_cost(c, u.upstream_cost); /* cost_spike sees settled spend */
	if (wait) {
		c->money_wait = true;
		hw_request_ref(req);
	}
	hw_money_settle(m, hw_server_cfg(req->srv), &c->money, &u, wait ? on_durable : NULL,
			wait ? req : NULL);
}

bool hw_chat_money_ready(struct chat *c)
{
	struct hw_request *req = c->req;
	if (!req->srv->money)
		return true;
	pthread_mutex_lock(&req->lock);
	bool start = !c->settled && c->money.active;
	pthread_mutex_unlock(&req->lock);
	if (start)
		hw_chat_money_settle(c, false, true);
	pthread_mutex_lock(&req->lock);
	bool ready = !c->money_wait || c->money_durable;
	if (!ready) {
		/* The resume comes back through hw_ep_chat_resume's answer path. */
		c->final_ready = true;
		req->phase = HW_PHASE_WAITING;
		req->suspended = true;
		MHD_suspend_connection(req->conn);
	}
	pthread_mutex_unlock(&req->lock);
	return ready;
}
