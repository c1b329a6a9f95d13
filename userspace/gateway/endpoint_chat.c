// SPDX-License-Identifier: Apache-2.0
/* POST /v1/chat/completions (SPEC §3, §5.2, §6): validation, routing to an ordered list of
 * candidates, then the attempts (chat_attempt.c) and the answer (chat_relay.c). The HTTP
 * worker re-enters through hw_ep_chat_resume whenever the provider side has news. */
#include "auth/byok_cache.h"
#include "common/clock.h"
#include "common/json_usd.h"
#include "gateway/chat.h"
#include "gateway/endpoints.h"
#include "gateway/metrics.h"
#include "gateway/server.h"
#include "gateway/usage.h"
#include "routing/router.h"
#include "shield/shield.h"
#include "shield/shield_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void chat_free(void *arg)
{
	struct chat *c = arg;
	/* Only an answer that reached the client is charged; a failed chain costs nothing. */
	if (!c->answered && !c->started)
		c->prompt_tokens = c->completion_tokens = c->cached_tokens = c->cache_write_tokens = 0;
	/* A reservation still held here was never answered with (SPEC §10.8: every one ends
	 * in exactly one settlement or release). */
	hw_chat_money_release(c);
	struct hw_usage_costs costs = {hw_chat_upstream_cost(c, c->model), c->money.markup_cost,
				       hw_chat_baseline_cost(c), c->money.passthrough};
	hw_usage_record_chat(c->req, c->model, c->tier, c->reason, c->end_user[0] ? c->end_user : NULL,
			     c->body.model, c->body.stream, c->prompt_tokens, c->completion_tokens,
			     c->cached_tokens, &costs, c->routing_ns, c->ttft_ns);
	hw_chat_req_free(&c->body);
	hw_buf_free(&c->raw);
	hw_buf_free(&c->echo_wire);
	hw_buf_free(&c->shield_text);
	hw_buf_free(&c->gd_text);
	json_decref(c->gd_calls);
	free(c->echo_ends);
	hw_sse_free(&c->parser);
	hw_chat_decoder_free(c);
	json_decref(c->answer);
	json_decref(c->chain);
	json_decref(c->tool_id_map);
	json_decref(c->native_req);
	json_decref(c->native_answer);
	free(c);
}

static bool end_user_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 256)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static bool workspace_usable(void *arg, const struct hw_cfg_provider *p)
{
	return hw_byok_usable(arg, p);
}

/* SPEC §7: the tier and the candidates in attempt order, with the workspace's profile and
 * regions. */
static enum MHD_Result route(struct chat *c, bool *ok)
{
	struct hw_request *req = c->req;
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	const struct hw_router *router = atomic_load(&req->srv->router);
	int64_t t0 = hw_clock_mono_ns();
	int profile = hw_profile_parse(req->ws_profile[0] ? req->ws_profile : cfg->routing.profile);
	struct hw_route_workspace ws = {
		.profile = profile < 0 ? HW_PROFILE_BALANCED : (enum hw_profile)profile,
		.allowed_regions_json = req->ws_regions,
		.usable = workspace_usable,
		.usable_arg = req->key.workspace_id,
	};
	struct hw_route_request rq = {
		.request = c->body.root,
		.model = c->body.model,
		.est_tokens = c->body.est_tokens,
		.max_tokens = c->max_tokens,
		.has_tools = c->body.n_tools > 0,
		.budget = (enum hw_budget_verdict)c->money.verdict,
		.passthrough_model = !c->money.passthrough ? NULL
				     : req->ws_default_model[0] ? req->ws_default_model
								: cfg->routing.default_model,
	};
	struct hw_route_result res;
	*ok = false;
	if (hw_route(router, &ws, &rq, &res) < 0)
		return hw_respond_error(req, res.err, res.msg, res.extra);
	c->routing_ns = hw_clock_mono_ns() - t0;
	c->tier = res.tier;
	c->scored = res.scored;
	c->score = res.score;
	snprintf(c->reason, sizeof(c->reason), "%s", res.reason);
	c->n_cand = res.n_cand < HW_CHAT_MAX_CANDIDATES ? res.n_cand : HW_CHAT_MAX_CANDIDATES;
	memcpy(c->cand, res.cand, c->n_cand * sizeof(c->cand[0])); // NOLINT(bugprone-sizeof-expression): an array of pointers
	c->may_fall_back = res.may_fall_back;
	const char *mode = c->money.passthrough			     ? "passthrough"
			   : res.modifiers & HW_MOD_MODEL_PIN  ? "model_pin"
			   : res.modifiers & HW_MOD_TIER_PIN ? "tier_pin"
							     : "auto";
	hw_metrics_routing(c->tier, mode, c->routing_ns);
	snprintf(req->routed_tier, sizeof(req->routed_tier), "%s", c->tier);
	*ok = true;
	return MHD_YES;
}

/* SPEC §3 step 11, §12.1. Block mode scans now and may answer 400 threat_blocked;
 * monitor mode leaves the collected text in c->shield_text for chat_run to queue once the
 * first attempt is on its way. */
static enum MHD_Result shield_step(struct chat *c, bool *ok)
{
	struct hw_request *req = c->req;
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	*ok = true;
	/* Key override > workspace setting > configuration (SPEC §12.1). */
	const struct hw_shield_ws *ws = hw_shield_ws_get(req->key.workspace_id);
	c->shield_mode = hw_shield_mode_resolve(req->key.shield_mode, ws ? ws->mode : NULL,
						cfg->shield.mode);
	if (c->shield_mode == HW_SHIELD_OFF)
		return MHD_YES;
	struct hw_buf text = {0};
	if (hw_shield_collect(c->body.root, c->messages ? c->native_req : NULL, &text) < 0) {
		hw_buf_free(&text);
		*ok = false;
		return hw_respond_error(req, HW_ERR_INTERNAL, "Internal error.", NULL);
	}
	if (c->shield_mode == HW_SHIELD_MONITOR) {
		c->shield_text = text;
		return MHD_YES;
	}
	struct hw_shield_request rq = {req->key.workspace_id, req->key.id, req->request_id,
				       req->client_ip, c->body.model};
	struct hw_shield_result res;
	bool block = hw_shield_check(cfg, &rq, text.data ? text.data : "", text.len, &res);
	hw_buf_free(&text);
	if (!block)
		return MHD_YES;
	*ok = false;
	char msg[128];
	const char *type = hw_threat_name(res.type);
	snprintf(msg, sizeof(msg), "Request blocked by Security Shield (%s, score %.2f).", type, res.score);
	/* Two decimals, printed as a number like USD amounts (no binary-float tail). */
	int64_t micro = (int64_t)(res.score * 100 + 0.5) * 10000;
	return hw_respond_error(req, HW_ERR_THREAT_BLOCKED, msg,
				json_pack("{s:s,s:o}", "threat_type", type, "score", hw_json_usd(micro)));
}

/* Monitor mode: hands the text collected by shield_step to the Shield's worker. */
static void shield_queue(struct chat *c)
{
	if (c->shield_mode != HW_SHIELD_MONITOR)
		return;
	struct hw_request *req = c->req;
	struct hw_shield_request rq = {req->key.workspace_id, req->key.id, req->request_id,
				       req->client_ip, c->body.model};
	size_t len = c->shield_text.len;
	char *text = c->shield_text.data;
	c->shield_text = (struct hw_buf){0};
	if (!text)
		text = calloc(1, 1);
	if (text)
		hw_shield_monitor_submit(hw_server_cfg(req->srv), &rq, text, len);
}

static struct chat *chat_new(struct hw_request *req)
{
	struct chat *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->req = req;
	c->catalog = atomic_load(&req->srv->catalog);
	c->tier = "";
	req->endpoint = c;
	req->endpoint_free = chat_free;
	return c;
}

/* From a parsed internal request to the first attempt: the end user, the stream options,
 * routing. */
static enum MHD_Result chat_run(struct chat *c)
{
	struct hw_request *req = c->req;
	const char *hu = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-HiWay-User");
	if (hu && !end_user_ok(hu))
		return hw_respond_error(req, HW_ERR_INVALID_REQUEST,
					"X-HiWay-User must be 1-256 printable ASCII characters.",
					json_pack("{s:s}", "param", "X-HiWay-User"));
	snprintf(c->end_user, sizeof(c->end_user), "%s", hu ? hu : (c->body.end_user ? c->body.end_user : ""));
	const char *meta = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-HiWay-Stream-Meta");
	bool meta_header = meta && strcmp(meta, "1") == 0;
	/* /v1/messages has no usage chunk: its usage rides on message_delta (§6.3). */
	c->want_usage_chunk = !c->messages && c->body.include_usage;
	c->want_meta = c->want_usage_chunk || meta_header;
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	c->max_tokens = c->body.max_tokens ? c->body.max_tokens : cfg->upstream.default_max_tokens;
	bool ok;
	enum MHD_Result ret;
	if (!hw_chat_guardian_admit(c, &ret))
		return ret;
	ret = shield_step(c, &ok);
	if (!ok)
		return ret;
	if (!hw_chat_money_admit(c, &ret))
		return ret;
	ret = route(c, &ok);
	if (!ok)
		return ret;
	ret = hw_chat_attempt_next(c);
	shield_queue(c);
	return ret;
}

static enum MHD_Result invalid(struct hw_request *req, const char *param, const char *msg)
{
	return hw_respond_error(req, HW_ERR_INVALID_REQUEST, msg,
				json_pack("{s:o}", "param", param[0] ? json_string(param) : json_null()));
}

enum MHD_Result hw_ep_chat(struct hw_request *req)
{
	enum MHD_Result ret;
	if (!hw_authn_inference(req, &ret))
		return ret;
	struct chat *c = chat_new(req);
	if (!c)
		return hw_respond_error(req, HW_ERR_INTERNAL, "Internal error.", NULL);
	char param[96], msg[256];
	if (hw_chat_parse(req->body.data, req->body.len, &c->body, param, sizeof(param), msg, sizeof(msg)) < 0)
		return invalid(req, param, msg);
	return chat_run(c);
}

/* POST /v1/messages (SPEC §5.3): the Anthropic request is validated and converted into the
 * internal form, so routing and everything after it treat both ingresses alike. */
enum MHD_Result hw_ep_messages(struct hw_request *req)
{
	enum MHD_Result ret;
	if (!hw_authn_inference(req, &ret))
		return ret;
	struct chat *c = chat_new(req);
	if (!c)
		return hw_respond_error(req, HW_ERR_INTERNAL, "Internal error.", NULL);
	c->messages = true;
	char param[96] = "", msg[256];
	json_error_t jerr;
	c->native_req = json_loadb(req->body.data ? req->body.data : "", req->body.len,
				   JSON_REJECT_DUPLICATES, &jerr);
	if (!c->native_req) {
		snprintf(msg, sizeof(msg), "Request body is not valid JSON: %s", jerr.text);
		return invalid(req, "", msg);
	}
	if (!json_is_object(c->native_req))
		return invalid(req, "", "Request body must be a JSON object.");
	json_t *internal = hw_messages_to_openai(c->native_req, param, sizeof(param), msg, sizeof(msg));
	if (!internal && !param[0] && strncmp(msg, "Out of memory", 13) == 0)
		return hw_respond_error(req, HW_ERR_INTERNAL, "Internal error.", NULL);
	if (!internal)
		return invalid(req, param, msg);
	if (hw_chat_parse_root(internal, &c->body, param, sizeof(param), msg, sizeof(msg)) < 0)
		return invalid(req, param, msg);
	return chat_run(c);
}

enum MHD_Result hw_ep_chat_resume(struct hw_request *req)
{
	struct chat *c = req->endpoint;
	pthread_mutex_lock(&req->lock);
	bool retry = c->retry_pending, started = c->started, final = c->final_ready;
	c->retry_pending = false;
	if (!retry && !started && !final) {
		req->suspended = true;
		MHD_suspend_connection(req->conn);
	}
	pthread_mutex_unlock(&req->lock);
	if (retry)
		return hw_chat_attempt_next(c);
	if (started)
		return hw_chat_answer_stream_start(c);
	if (final)
		return c->answer ? hw_chat_answer_completion(c) : hw_chat_answer_failure(c);
	return MHD_YES;
}

void hw_ep_chat_client_gone(struct hw_request *req)
{
	struct chat *c = req->endpoint;
	if (!c)
		return;
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	pthread_mutex_lock(&req->lock);
	bool active = c->call_active;
	if (active)
		hw_engine_drain(&c->call, cfg->upstream.drain_on_disconnect.max_s,
				cfg->upstream.drain_on_disconnect.max_bytes);
	pthread_mutex_unlock(&req->lock);
	/* Nobody reads the output any more: a provider held for a slow client may go on
	 * (outside the lock, as resuming may hand data over at once). */
	if (active)
		hw_engine_unpause(&c->call);
}
