// SPDX-License-Identifier: Apache-2.0
/* POST /v1/chat/completions (SPEC §3, §5.2, §6): validation, routing to an ordered list of
 * candidates, then the attempts (chat_attempt.c) and the answer (chat_relay.c). The HTTP
 * worker re-enters through hw_ep_chat_resume whenever the provider side has news. */
#include "common/clock.h"
#include "gateway/chat.h"
#include "gateway/endpoints.h"
#include "gateway/metrics.h"
#include "gateway/server.h"
#include "gateway/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void chat_free(void *arg)
{
	struct chat *c = arg;
	hw_usage_record_chat(c->req, c->model, c->tier, c->reason, c->end_user[0] ? c->end_user : NULL,
			     c->body.model, c->body.stream, c->prompt_tokens, c->completion_tokens,
			     c->cached_tokens, hw_chat_upstream_cost(c, c->model), hw_chat_baseline_cost(c),
			     c->routing_ns, c->ttft_ns);
	hw_chat_req_free(&c->body);
	hw_buf_free(&c->raw);
	hw_buf_free(&c->echo_wire);
	free(c->echo_ends);
	hw_sse_free(&c->parser);
	hw_chat_decoder_free(c);
	json_decref(c->answer);
	json_decref(c->chain);
	json_decref(c->tool_id_map);
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

/* Fallback order (SPEC §7.5): input price, then output price, then id. */
static int fallback_order(const void *a, const void *b)
{
	const struct hw_model *x = *(const struct hw_model *const *)a, *y = *(const struct hw_model *const *)b;
	if (x->input_per_mtok != y->input_per_mtok)
		return x->input_per_mtok < y->input_per_mtok ? -1 : 1;
	if (x->output_per_mtok != y->output_per_mtok)
		return x->output_per_mtok < y->output_per_mtok ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The tier's primary, then the rest of its usable models in fallback order. */
static void tier_candidates(struct chat *c, enum hw_tier tier)
{
	const struct hw_model *primary = hw_catalog_pick(c->catalog, tier);
	if (!primary)
		return;
	c->cand[c->n_cand++] = primary;
	bool echo = primary->provider->kind == HW_PROVIDER_ECHO;
	for (size_t i = 0; i < c->catalog->n && c->n_cand < HW_CHAT_MAX_CANDIDATES; i++) {
		const struct hw_model *m = &c->catalog->models[i];
		if (m == primary || !m->enabled || m->tier != tier || !hw_provider_usable(m->provider) ||
		    (m->provider->kind == HW_PROVIDER_ECHO) != echo)
			continue;
		c->cand[c->n_cand++] = m;
	}
	qsort(c->cand + 1, c->n_cand - 1, sizeof(c->cand[0]), fallback_order);
}

/* SPEC §7.1 and, until smart routing lands, the asked tier (auto: standard). */
static enum MHD_Result route(struct chat *c, bool *ok)
{
	struct hw_request *req = c->req;
	char msg[256];
	int64_t t0 = hw_clock_mono_ns();
	struct hw_model_resolution res;
	*ok = false;
	if (hw_catalog_resolve(c->catalog, c->body.model, &res, msg, sizeof(msg)) < 0)
		return hw_respond_error(req, HW_ERR_INVALID_REQUEST, msg, json_pack("{s:s}", "param", "model"));
	if (res.ask == HW_ASK_MODEL) {
		c->cand[c->n_cand++] = res.model;
		c->tier = "override";
		snprintf(c->reason, sizeof(c->reason), "model_pin");
		if (!hw_provider_usable(res.model->provider))
			return hw_respond_error(req, HW_ERR_BYOK_MISSING,
						"No API key is configured for this model's provider.",
						json_pack("{s:s}", "provider", res.model->provider_id));
	} else {
		enum hw_tier tier = res.ask == HW_ASK_TIER ? res.tier : HW_TIER_STANDARD;
		tier_candidates(c, tier);
		c->may_fall_back = true;
		c->tier = hw_tier_name(tier);
		snprintf(c->reason, sizeof(c->reason), "%s", res.ask == HW_ASK_TIER ? "trivial, tier_pin" : "trivial");
		if (!c->n_cand)
			return hw_respond_error(req, HW_ERR_NO_PROVIDER_KEY,
						"No usable model in the required tier.",
						json_pack("{s:s}", "tier", hw_tier_name(tier)));
	}
	c->routing_ns = hw_clock_mono_ns() - t0;
	hw_metrics_routing(c->tier, res.ask == HW_ASK_MODEL ? "model_pin" : res.ask == HW_ASK_TIER ? "tier_pin" : "auto",
			   c->routing_ns);
	snprintf(req->routed_tier, sizeof(req->routed_tier), "%s", c->tier);
	*ok = true;
	return MHD_YES;
}

enum MHD_Result hw_ep_chat(struct hw_request *req)
{
	enum MHD_Result ret;
	if (!hw_authn_inference(req, &ret))
		return ret;
	struct chat *c = calloc(1, sizeof(*c));
	if (!c)
		return hw_respond_error(req, HW_ERR_INTERNAL, "Internal error.", NULL);
	c->req = req;
	c->catalog = atomic_load(&req->srv->catalog);
	c->tier = "";
	req->endpoint = c;
	req->endpoint_free = chat_free;
	char param[96], msg[256];
	if (hw_chat_parse(req->body.data, req->body.len, &c->body, param, sizeof(param), msg, sizeof(msg)) < 0)
		return hw_respond_error(req, HW_ERR_INVALID_REQUEST, msg,
					json_pack("{s:o}", "param", param[0] ? json_string(param) : json_null()));
	const char *hu = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-HiWay-User");
	if (hu && !end_user_ok(hu))
		return hw_respond_error(req, HW_ERR_INVALID_REQUEST,
					"X-HiWay-User must be 1-256 printable ASCII characters.",
					json_pack("{s:s}", "param", "X-HiWay-User"));
	snprintf(c->end_user, sizeof(c->end_user), "%s", hu ? hu : (c->body.end_user ? c->body.end_user : ""));
	const char *meta = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-HiWay-Stream-Meta");
	c->want_usage_chunk = c->body.include_usage;
	c->want_meta = c->body.include_usage || (meta && strcmp(meta, "1") == 0);
	bool ok;
	ret = route(c, &ok);
	if (!ok)
		return ret;
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	c->max_tokens = c->body.max_tokens ? c->body.max_tokens : cfg->upstream.default_max_tokens;
	return hw_chat_attempt_next(c);
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
