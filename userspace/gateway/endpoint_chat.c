// SPDX-License-Identifier: Apache-2.0
/* POST /v1/chat/completions (SPEC §3, §5.2, §6). The provider's answer, from the network
 * or from the in-process echo provider, is relayed through one path: a full OpenAI
 * `chat.completion` object, or an OpenAI event stream whose chunks get the routed model,
 * the usage filtering and the meta chunk. Engine callbacks and the HTTP worker share the
 * chat state under req->lock. */
#include "common/clock.h"
#include "common/json_usd.h"
#include "common/log.h"
#include "gateway/chat_request.h"
#include "gateway/endpoints.h"
#include "gateway/metrics.h"
#include "gateway/server.h"
#include "gateway/usage.h"
#include "routing/catalog.h"
#include "upstream/engine.h"
#include "upstream/provider_echo.h"
#include "upstream/provider_openai.h"
#include "upstream/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UPSTREAM_MESSAGE_MAX 1024
/* Stream output held for a slow client before the provider is paused. */
#define OUT_HIGH_WATER (256 * 1024)

struct chat {
	struct hw_request *req;
	struct hw_chat_req body;
	const struct hw_model *model;
	const struct hw_catalog *catalog;
	const char *tier; /* routed tier name */
	const char *reason;
	char end_user[257];
	bool want_usage_chunk, want_meta;
	int64_t max_tokens;
	int64_t routing_ns;

	/* Shared with the engine thread under req->lock. */
	struct hw_upstream_call call;
	bool call_active;
	bool sse;           /* upstream answered 200 with an event stream */
	bool started;       /* first event relayed: headers are out, no JSON error anymore */
	bool terminal;      /* [DONE] relayed */
	bool saw_finish;    /* a finish_reason seen: EOF after it still ends cleanly */
	bool final_ready;   /* non-stream result (or pre-stream failure) ready to answer */
	bool interrupted;   /* stream ended with an error event */
	enum hw_call_result result;
	struct hw_buf raw;  /* non-streaming body, or an error body */
	struct hw_sse_parser parser;
	char last_id[96];
	json_int_t last_created;
	int64_t prompt_tokens, completion_tokens, cached_tokens;
	bool have_usage;
	int64_t output_bytes;
	int64_t t_done_ns, ttft_ns;
	struct hw_buf echo_wire; /* an echo answer served with delays */
	size_t *echo_ends;
};

static const char *chat_model_id(const struct chat *c) { return c->model->id; }

static int64_t upstream_cost(const struct chat *c, const struct hw_model *m)
{
	if (!m)
		return 0;
	int64_t uncached = c->prompt_tokens - c->cached_tokens;
	return hw_cost_micro(uncached > 0 ? uncached : 0, m->input_per_mtok) +
	       hw_cost_micro(c->cached_tokens, m->cache_read_per_mtok) +
	       hw_cost_micro(c->completion_tokens, m->output_per_mtok);
}

static int64_t baseline_cost(const struct chat *c)
{
	const struct hw_config *cfg = hw_server_cfg(c->req->srv);
	const struct hw_model *b = cfg->routing.baseline_model
					   ? hw_catalog_find(c->catalog, cfg->routing.baseline_model)
					   : NULL;
	return b ? upstream_cost(c, b) : 0;
}

static json_t *hiway_object(const struct chat *c, json_t *chain)
{
	int64_t up = upstream_cost(c, c->model), base = baseline_cost(c);
	return json_pack("{s:s,s:s,s:n,s:s,s:b,s:o,s:o,s:o,s:o,s:o,s:b,s:b,s:b,s:s}", "routed_model",
			 chat_model_id(c), "routed_tier", c->tier, "score", "reason", c->reason,
			 "fallback", 0, "fallback_chain", chain ? chain : json_array(), "upstream_cost",
			 hw_json_usd(up), "markup_cost", hw_json_usd(0), "baseline_cost",
			 hw_json_usd(base), "savings", hw_json_usd(base - up), "cache_hit", 0,
			 "passthrough", 0, "usage_estimated", !c->have_usage, "request_id",
			 c->req->request_id);
}

static void add_routing_headers(struct chat *c, struct MHD_Response *resp, bool with_cost)
{
	char buf[32];
	MHD_add_response_header(resp, "X-HiWay-Routed-Model", chat_model_id(c));
	MHD_add_response_header(resp, "X-HiWay-Routed-Tier", c->tier);
	snprintf(buf, sizeof(buf), "%.3f", (double)c->routing_ns / 1e6);
	MHD_add_response_header(resp, "X-HiWay-Routing-Ms", buf);
	if (with_cost) {
		int64_t cost = upstream_cost(c, c->model);
		snprintf(buf, sizeof(buf), "%lld.%06lld", (long long)(cost / 1000000),
			 (long long)(cost % 1000000));
		MHD_add_response_header(resp, "X-HiWay-Cost-USD", buf);
	}
}

static void note_usage(struct chat *c, json_t *usage)
{
	if (!json_is_object(usage))
		return;
	c->have_usage = true;
	c->prompt_tokens = json_integer_value(json_object_get(usage, "prompt_tokens"));
	c->completion_tokens = json_integer_value(json_object_get(usage, "completion_tokens"));
	c->cached_tokens = json_integer_value(
		json_object_get(json_object_get(usage, "prompt_tokens_details"), "cached_tokens"));
}

/* Without usage from the upstream: prompt = est_tokens, completion from the output bytes
 * (SPEC §8.5). */
static void estimate_usage(struct chat *c)
{
	if (c->have_usage)
		return;
	c->prompt_tokens = c->body.est_tokens;
	c->completion_tokens = (c->output_bytes + 3) / 4;
}

static void count_output(struct chat *c, json_t *message)
{
	const char *content = json_string_value(json_object_get(message, "content"));
	if (content)
		c->output_bytes += (int64_t)strlen(content);
}

/* ---- streams ---------------------------------------------------------------------- */

static void emit(struct chat *c, const char *event, const char *data, size_t len)
{
	if (!c->req->client_gone)
		hw_sse_write(&c->req->out, event, data, len);
}

static void emit_json(struct chat *c, json_t *obj)
{
	char *text = hw_json_dumps(obj);
	if (text) {
		emit(c, NULL, text, strlen(text));
		free(text);
	}
}

static void emit_meta_and_done(struct chat *c)
{
	estimate_usage(c);
	if (c->want_meta) {
		json_t *meta = json_pack("{s:s,s:s,s:I,s:s,s:[],s:{s:I,s:I,s:I,s:{s:I}},s:o}", "id",
					 c->last_id, "object", "chat.completion.chunk", "created",
					 c->last_created, "model", chat_model_id(c), "choices", "usage",
					 "prompt_tokens", (json_int_t)c->prompt_tokens,
					 "completion_tokens", (json_int_t)c->completion_tokens,
					 "total_tokens", (json_int_t)c->prompt_tokens + (json_int_t)c->completion_tokens,
					 "prompt_tokens_details", "cached_tokens",
					 (json_int_t)c->cached_tokens, "_hiway", hiway_object(c, NULL));
		emit_json(c, meta);
		json_decref(meta);
	}
	emit(c, NULL, "[DONE]", 6);
	c->terminal = true;
}

static void emit_interruption(struct chat *c, const char *reason)
{
	if (c->interrupted || c->terminal)
		return;
	c->interrupted = true;
	json_t *extra = json_pack("{s:s}", "reason", reason);
	json_t *body = hw_err_body(HW_ERR_STREAM_INTERRUPTED, "Upstream stream interrupted.",
				   c->req->request_id, extra, false);
	emit_json(c, body);
	json_decref(body);
}

/* Marks the stream started and wakes the worker so it sends the headers. */
static void mark_started(struct chat *c)
{
	if (c->started)
		return;
	c->started = true;
	c->ttft_ns = hw_clock_mono_ns() - c->req->t_start_ns;
}

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
	struct chat *c = arg;
	if (c->terminal || c->interrupted)
		return 0;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		mark_started(c);
		emit_meta_and_done(c);
		return 0;
	}
	json_t *chunk = json_loadb(data, len, 0, NULL);
	if (!json_is_object(chunk) || json_object_get(chunk, "error")) {
		bool malformed = !json_is_object(chunk);
		json_decref(chunk);
		if (!c->started)
			return -1; /* before the first event: an ordinary error answer */
		emit_interruption(c, malformed ? "malformed" : "upstream_error");
		return -1;
	}
	mark_started(c);
	const char *id = json_string_value(json_object_get(chunk, "id"));
	if (id)
		snprintf(c->last_id, sizeof(c->last_id), "%s", id);
	json_t *created = json_object_get(chunk, "created");
	if (json_is_integer(created))
		c->last_created = json_integer_value(created);
	json_object_set_new(chunk, "model", json_string(chat_model_id(c)));
	json_t *usage = json_object_get(chunk, "usage");
	note_usage(c, usage);
	json_t *choices = json_object_get(chunk, "choices");
	bool usage_chunk = json_is_array(choices) && json_array_size(choices) == 0 && json_is_object(usage);
	size_t i;
	json_t *ch;
	json_array_foreach(choices, i, ch)
	{
		count_output(c, json_object_get(ch, "delta"));
		if (json_is_string(json_object_get(ch, "finish_reason")))
			c->saw_finish = true;
	}
	if (usage_chunk) {
		if (c->want_usage_chunk)
			emit_json(c, chunk);
	} else {
		/* Some providers attach usage to the last content chunk; the client did not ask. */
		if (!c->want_usage_chunk)
			json_object_del(chunk, "usage");
		emit_json(c, chunk);
	}
	json_decref(chunk);
	return 0;
}

/* ---- upstream callbacks (engine thread) --------------------------------------------- */

static void on_status(struct hw_upstream_call *call)
{
	struct chat *c = call->arg;
	pthread_mutex_lock(&c->req->lock);
	c->sse = c->body.stream && call->status == 200 &&
		 strncmp(call->content_type, "text/event-stream", 17) == 0;
	pthread_mutex_unlock(&c->req->lock);
}

static int on_data(struct hw_upstream_call *call, const char *data, size_t len)
{
	struct chat *c = call->arg;
	int rc = 0;
	pthread_mutex_lock(&c->req->lock);
	if (c->sse && c->started && !c->req->client_gone &&
	    hw_buf_pending(&c->req->out) > OUT_HIGH_WATER) {
		/* The client reads slower than the provider writes: hold the provider. */
		c->req->out_paused = true;
		pthread_mutex_unlock(&c->req->lock);
		return HW_CALL_PAUSE;
	}
	if (c->sse) {
		bool was_started = c->started;
		rc = hw_sse_feed(&c->parser, data, len, on_event, c);
		if (c->started)
			hw_request_wake_locked(c->req);
		if (rc < 0 && !was_started && !c->started)
			c->result = HW_CALL_ABORTED;
	} else {
		rc = hw_buf_append(&c->raw, data, len);
	}
	pthread_mutex_unlock(&c->req->lock);
	return rc;
}

static const char *stream_reason(enum hw_call_result r)
{
	switch (r) {
	case HW_CALL_IDLE_TIMEOUT:
		return "idle_timeout";
	case HW_CALL_TOTAL_TIMEOUT:
		return "total_timeout";
	case HW_CALL_SHUTDOWN:
		return "shutdown";
	case HW_CALL_TOO_LARGE:
		return "malformed";
	default:
		return "upstream_eof";
	}
}

static const char *outcome_name(const struct chat *c)
{
	switch (c->result) {
	case HW_CALL_OK:
		break;
	case HW_CALL_CONNECT_ERROR:
		return "connect_error";
	case HW_CALL_TIMEOUT:
		return "timeout";
	case HW_CALL_TOO_LARGE:
		return "malformed";
	default:
		return c->started ? "stream_interrupted" : "malformed";
	}
	if (c->interrupted)
		return "stream_interrupted";
	if (c->call.status == 429)
		return "http_429";
	if (c->call.status >= 500)
		return "http_5xx";
	if (c->call.status >= 400)
		return "http_4xx";
	return "ok";
}

static void on_done(struct hw_upstream_call *call, enum hw_call_result r)
{
	struct chat *c = call->arg;
	struct hw_request *req = c->req;
	pthread_mutex_lock(&req->lock);
	if (c->result == HW_CALL_OK || r != HW_CALL_ABORTED)
		c->result = r;
	c->call_active = false;
	c->t_done_ns = hw_clock_mono_ns();
	req->upstream_ns = c->t_done_ns - call->t_submit_ns;
	if (c->started) {
		if (!c->terminal) {
			if (r == HW_CALL_OK && c->saw_finish)
				emit_meta_and_done(c);
			else
				emit_interruption(c, stream_reason(r));
		}
		req->out_done = true;
	} else {
		c->final_ready = true;
	}
	hw_request_wake_locked(req);
	pthread_mutex_unlock(&req->lock);
	estimate_usage(c);
	hw_metrics_upstream(c->model->provider_id, c->model->upstream_model, c->model->upstream_model,
			    outcome_name(c), c->t_done_ns - call->t_submit_ns, c->prompt_tokens,
			    c->completion_tokens);
	hw_upstream_call_release(call);
	hw_request_unref(req);
}

/* ---- answers (HTTP worker) -------------------------------------------------------- */

static json_t *chain_one(const struct chat *c, const char *error)
{
	return json_pack("[{s:s,s:s}]", "model", chat_model_id(c), "error", error);
}

static void upstream_message(const struct chat *c, char *out, size_t len)
{
	json_t *body = json_loadb(c->raw.data ? c->raw.data : "", c->raw.len, 0, NULL);
	const char *m = json_string_value(json_object_get(json_object_get(body, "error"), "message"));
	if (!m)
		m = json_string_value(json_object_get(body, "message"));
	snprintf(out, len, "%.*s", UPSTREAM_MESSAGE_MAX, m ? m : (c->raw.data ? c->raw.data : ""));
	json_decref(body);
}

static enum MHD_Result answer_failure(struct chat *c)
{
	struct hw_request *req = c->req;
	const struct hw_upstream_call *call = &c->call;
	const char *provider = c->model->provider_id;
	char status[8], msg[UPSTREAM_MESSAGE_MAX + 1];
	switch (c->result) {
	case HW_CALL_CONNECT_ERROR:
		return hw_respond_error(req, HW_ERR_UPSTREAM_UNAVAILABLE, "All upstream attempts failed.",
					json_pack("{s:o}", "fallback_chain", chain_one(c, "connect_error")));
	case HW_CALL_TIMEOUT:
	case HW_CALL_IDLE_TIMEOUT:
	case HW_CALL_TOTAL_TIMEOUT:
		return hw_respond_error(req, HW_ERR_UPSTREAM_TIMEOUT, "All upstream attempts timed out.",
					json_pack("{s:o}", "fallback_chain", chain_one(c, "timeout")));
	case HW_CALL_SHUTDOWN:
		return hw_respond_error(req, HW_ERR_SHUTTING_DOWN, "The server is shutting down.", NULL);
	case HW_CALL_OK:
		break;
	default:
		return hw_respond_error(req, HW_ERR_UPSTREAM_UNAVAILABLE, "All upstream attempts failed.",
					json_pack("{s:o}", "fallback_chain", chain_one(c, "malformed_response")));
	}
	long st = call->status;
	snprintf(status, sizeof(status), "%ld", st);
	if (st == 401 || st == 403)
		return hw_respond_error(req, HW_ERR_UPSTREAM_AUTH_FAILED, "The provider rejected its API key.",
					json_pack("{s:s,s:i}", "provider", provider, "upstream_status", (int)st));
	if (st == 400 || st == 404 || st == 413 || st == 422) {
		upstream_message(c, msg, sizeof(msg));
		return hw_respond_error(req, HW_ERR_UPSTREAM_REJECTED, "The provider rejected the request.",
					json_pack("{s:s,s:s,s:i,s:s}", "provider", provider, "model",
						  chat_model_id(c), "upstream_status", (int)st,
						  "upstream_message", msg));
	}
	if (st == 429) {
		long ra = strtol(call->retry_after, NULL, 10);
		return hw_respond_error(req, HW_ERR_UPSTREAM_RATE_LIMITED, "The provider is rate limiting.",
					json_pack("{s:I,s:s,s:o}", "retry_after_seconds",
						  (json_int_t)(ra >= 1 ? ra : 1), "provider", provider,
						  "fallback_chain", chain_one(c, "429")));
	}
	return hw_respond_error(req, HW_ERR_UPSTREAM_UNAVAILABLE, "All upstream attempts failed.",
				json_pack("{s:o}", "fallback_chain",
					  chain_one(c, st >= 200 && st < 300 ? "malformed_response" : status)));
}

static enum MHD_Result answer_completion(struct chat *c, json_t *obj)
{
	json_object_set_new(obj, "model", json_string(chat_model_id(c)));
	note_usage(c, json_object_get(obj, "usage"));
	size_t i;
	json_t *ch;
	json_array_foreach(json_object_get(obj, "choices"), i, ch)
		count_output(c, json_object_get(ch, "message"));
	estimate_usage(c);
	json_object_set_new(obj, "_hiway", hiway_object(c, NULL));
	struct MHD_Response *resp = hw_json_response(obj);
	if (!resp)
		return MHD_NO;
	add_routing_headers(c, resp, true);
	return hw_respond(c->req, 200, resp, "ok");
}

static enum MHD_Result answer_final(struct chat *c)
{
	const struct hw_upstream_call *call = &c->call;
	bool json_ct = strncmp(call->content_type, "application/json", 16) == 0;
	if (c->result == HW_CALL_OK && call->status >= 200 && call->status < 300 && !c->body.stream &&
	    json_ct) {
		json_t *obj = json_loadb(c->raw.data ? c->raw.data : "", c->raw.len, 0, NULL);
		if (json_is_object(obj) && json_is_array(json_object_get(obj, "choices")))
			return answer_completion(c, obj);
		json_decref(obj);
		c->result = HW_CALL_ABORTED;
	} else if (c->result == HW_CALL_OK && call->status >= 200 && call->status < 300) {
		c->result = HW_CALL_ABORTED; /* wrong content type, or a stream that never started */
	}
	return answer_failure(c);
}

static enum MHD_Result answer_stream_start(struct chat *c)
{
	struct MHD_Response *resp = hw_stream_response_new(c->req);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	add_routing_headers(c, resp, false);
	c->req->phase = HW_PHASE_STREAMING;
	return hw_respond(c->req, 200, resp, "ok");
}

enum MHD_Result hw_ep_chat_resume(struct hw_request *req)
{
	struct chat *c = req->endpoint;
	pthread_mutex_lock(&req->lock);
	bool started = c->started, final = c->final_ready;
	if (!started && !final) {
		req->suspended = true;
		MHD_suspend_connection(req->conn);
	}
	pthread_mutex_unlock(&req->lock);
	if (started)
		return answer_stream_start(c);
	if (final)
		return answer_final(c);
	return MHD_YES;
}

/* ---- request entry ---------------------------------------------------------------- */

static void chat_free(void *arg)
{
	struct chat *c = arg;
	hw_usage_record_chat(c->req, c->model, c->tier, c->reason, c->end_user[0] ? c->end_user : NULL,
			     c->body.model, c->body.stream, c->prompt_tokens, c->completion_tokens,
			     c->cached_tokens, upstream_cost(c, c->model), baseline_cost(c),
			     c->routing_ns, c->ttft_ns);
	hw_chat_req_free(&c->body);
	hw_buf_free(&c->raw);
	hw_buf_free(&c->echo_wire);
	free(c->echo_ends);
	hw_sse_free(&c->parser);
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

/* SPEC §7.1 and, until smart routing lands, the primary of the asked tier (auto: standard). */
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
		c->model = res.model;
		c->tier = "override";
		c->reason = "model_pin";
		if (res.model->provider && !hw_provider_kind_served(res.model->provider->kind))
			return hw_respond_error(req, HW_ERR_INVALID_REQUEST,
						"This model's provider kind is not served by this version yet.",
						json_pack("{s:s}", "param", "model"));
		if (!hw_provider_usable(res.model->provider))
			return hw_respond_error(req, HW_ERR_BYOK_MISSING,
						"No API key is configured for this model's provider.",
						json_pack("{s:s}", "provider", res.model->provider_id));
	} else {
		enum hw_tier tier = res.ask == HW_ASK_TIER ? res.tier : HW_TIER_STANDARD;
		c->model = hw_catalog_pick(c->catalog, tier);
		c->tier = hw_tier_name(tier);
		c->reason = res.ask == HW_ASK_TIER ? "trivial, tier_pin" : "trivial";
		if (!c->model)
			return hw_respond_error(req, HW_ERR_NO_PROVIDER_KEY,
						"No usable model in the required tier.",
						json_pack("{s:s}", "tier", hw_tier_name(tier)));
	}
	c->routing_ns = hw_clock_mono_ns() - t0;
	hw_metrics_routing(c->tier, res.ask == HW_ASK_MODEL ? "model_pin" : res.ask == HW_ASK_TIER ? "tier_pin" : "auto",
			   c->routing_ns);
	snprintf(req->routed_model, sizeof(req->routed_model), "%s", c->model->id);
	snprintf(req->routed_tier, sizeof(req->routed_tier), "%s", c->tier);
	*ok = true;
	return MHD_YES;
}

/* Hands the call to the worker's engine and suspends the connection until it answers. */
static void out_drained(struct hw_request *req)
{
	struct chat *c = req->endpoint;
	if (c->call_active)
		hw_engine_unpause(&c->call);
}

static enum MHD_Result submit(struct chat *c)
{
	struct hw_request *req = c->req;
	req->on_out_drained = out_drained;
	struct hw_upstream_call *call = &c->call;
	call->on_status = on_status;
	call->on_data = on_data;
	call->on_done = on_done;
	call->arg = c;
	hw_request_ref(req); /* the engine's reference, dropped in on_done */
	pthread_mutex_lock(&req->lock);
	c->call_active = true;
	req->phase = HW_PHASE_WAITING;
	req->suspended = true;
	MHD_suspend_connection(req->conn);
	pthread_mutex_unlock(&req->lock);
	hw_engine_submit(req->engine, call);
	return MHD_YES;
}

/* Chunk boundaries of an event stream: one chunk per event. */
static size_t *event_ends(const struct hw_buf *wire, size_t *n)
{
	size_t cap = 16, count = 0;
	size_t *ends = malloc(cap * sizeof(*ends));
	for (size_t i = 0; ends && i + 1 < wire->len; i++) {
		if (wire->data[i] != '\n' || wire->data[i + 1] != '\n')
			continue;
		if (count == cap) {
			size_t *grown = realloc(ends, (cap *= 2) * sizeof(*ends));
			if (!grown) {
				free(ends);
				return NULL;
			}
			ends = grown;
		}
		ends[count++] = i + 2;
	}
	*n = count;
	return ends;
}

/* The echo provider answers in the OpenAI wire format. Without delays it is answered
 * inline; with `delay_ms` / `chunk_delay_ms` its bytes are served from memory by the
 * worker's engine, through the same callbacks as a provider over HTTP. */
static enum MHD_Result run_echo(struct chat *c)
{
	struct hw_request *req = c->req;
	const struct hw_cfg_provider *p = c->model->provider;
	c->call.status = 200;
	bool delayed = p->delay_ms > 0 || p->chunk_delay_ms > 0;
	if (!c->body.stream && !delayed) {
		snprintf(c->call.content_type, sizeof(c->call.content_type), "application/json");
		return answer_completion(c, hw_echo_completion(&c->body, c->model->upstream_model, c->max_tokens));
	}
	struct hw_buf *wire = &c->echo_wire;
	int rc;
	if (c->body.stream) {
		rc = hw_echo_stream(&c->body, c->model->upstream_model, c->max_tokens, wire);
		snprintf(c->call.content_type, sizeof(c->call.content_type), "text/event-stream");
	} else {
		json_t *obj = hw_echo_completion(&c->body, c->model->upstream_model, c->max_tokens);
		char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(obj);
		rc = text ? hw_buf_append(wire, text, strlen(text)) : -1;
		free(text);
		snprintf(c->call.content_type, sizeof(c->call.content_type), "application/json");
	}
	if (rc < 0)
		return hw_respond_error(req, HW_ERR_INTERNAL, "Internal error.", NULL);
	if (delayed) {
		c->echo_ends = c->body.stream ? event_ends(wire, &c->call.n_memory_chunks) : NULL;
		if (!c->body.stream) {
			c->echo_ends = malloc(sizeof(*c->echo_ends));
			c->call.n_memory_chunks = 1;
		}
		if (!c->echo_ends)
			return hw_respond_error(req, HW_ERR_INTERNAL, "Internal error.", NULL);
		if (!c->body.stream)
			c->echo_ends[0] = wire->len;
		c->call.memory = wire->data;
		c->call.memory_ends = c->echo_ends;
		c->call.first_delay_ms = p->delay_ms;
		c->call.chunk_delay_ms = p->chunk_delay_ms;
		c->call.timeouts = p->timeouts;
		return submit(c);
	}
	pthread_mutex_lock(&req->lock);
	c->sse = true;
	hw_sse_feed(&c->parser, wire->data, wire->len, on_event, c);
	if (!c->terminal)
		emit_interruption(c, "upstream_eof");
	req->out_done = true;
	pthread_mutex_unlock(&req->lock);
	hw_metrics_upstream(c->model->provider_id, c->model->upstream_model, c->model->upstream_model,
			    "ok", 0, c->prompt_tokens, c->completion_tokens);
	return answer_stream_start(c);
}

static enum MHD_Result run_upstream(struct chat *c)
{
	struct hw_request *req = c->req;
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	struct hw_upstream_call *call = &c->call;
	if (hw_openai_build(c->model->provider, c->model->upstream_model, &c->body, c->max_tokens, call) < 0) {
		hw_upstream_call_release(call);
		return hw_respond_error(req, HW_ERR_INTERNAL, "Internal error.", NULL);
	}
	call->max_response_bytes = cfg->upstream.max_response_bytes;
	return submit(c);
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
	c->reason = "";
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
	if (c->model->provider->kind == HW_PROVIDER_ECHO)
		return run_echo(c);
	return run_upstream(c);
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
