// SPDX-License-Identifier: Apache-2.0
/* Upstream attempts of one inference request (SPEC §9): each candidate in fallback order
 * gets at most one attempt, skipping open and cooling circuits, at most
 * upstream.max_attempts in all, and only until the first byte has reached the client. An
 * attempt that fails before then is classified (§9.2), fed to its model's circuit breaker
 * and, when the class allows, followed by the next candidate: the engine callback marks the
 * retry and the HTTP worker sends it when it resumes the connection. */
#include "auth/byok_cache.h"
#include "common/clock.h"
#include "common/log.h"
#include "gateway/chat.h"
#include "gateway/metrics.h"
#include "gateway/server.h"
#include "upstream/breaker.h"
#include "upstream/provider_anthropic.h"
#include "upstream/provider_echo.h"
#include "upstream/provider_google.h"
#include "upstream/provider_openai.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UPSTREAM_MESSAGE_MAX 1024
/* The longest provider key the management API accepts. */
#define HW_API_KEY_MAX 2048
/* Stream output held for a slow client before the provider is paused. */
#define OUT_HIGH_WATER ((size_t)256 * 1024)

/* ---- the fallback chain -------------------------------------------------------------- */

static void chain_add(struct chat *c, const struct hw_model *m, const char *error)
{
	if (!c->chain)
		c->chain = json_array();
	json_array_append_new(c->chain, json_pack("{s:s,s:s}", "model", m->id, "error", error));
}

bool hw_chat_fell_back(const struct chat *c) { return c->failed_attempts > 0; }

json_t *hw_chat_chain_for_answer(const struct chat *c)
{
	json_t *out = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(c->chain, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "error")), "circuit_open") != 0)
			json_array_append(out, e);
	}
	return out;
}

/* Retry-After as seconds: delta-seconds or an HTTP date; 0 when absent or unreadable. */
static int64_t retry_after_s(const char *v)
{
	if (!v || !*v)
		return 0;
	char *end;
	long long n = strtoll(v, &end, 10);
	if (end != v && *end == '\0')
		return n > 0 ? n : 0;
	time_t at = curl_getdate(v, NULL);
	if (at < 0)
		return 0;
	int64_t d = (int64_t)at - hw_clock_wall_s();
	return d > 0 ? d : 0;
}

/* ---- outcome of one attempt (SPEC §9.2) ---------------------------------------------- */

enum attempt_class {
	A_SUCCESS,
	A_RETRY,      /* the next candidate may answer */
	A_FINAL,      /* answered to the client as is (401/403, 400-class, shutdown) */
};

/* The chain's error name for a failed attempt. */
static const char *attempt_error(const struct chat *c, char status[8])
{
	switch (c->result) {
	case HW_CALL_CONNECT_ERROR:
		return "connect_error";
	case HW_CALL_TIMEOUT:
	case HW_CALL_IDLE_TIMEOUT:
	case HW_CALL_TOTAL_TIMEOUT:
		return "timeout";
	case HW_CALL_OK:
		break;
	default:
		return "malformed_response";
	}
	long st = c->call.status;
	if (st >= 200 && st < 300)
		return "malformed_response";
	snprintf(status, 8, "%ld", st);
	return status;
}

static enum attempt_class classify(const struct chat *c, bool answered)
{
	if (answered)
		return A_SUCCESS;
	if (c->result == HW_CALL_SHUTDOWN || c->result == HW_CALL_CANCELLED)
		return A_FINAL;
	if (c->result != HW_CALL_OK)
		return A_RETRY;
	long st = c->call.status;
	if (st == 429 || st >= 500 || (st >= 200 && st < 300))
		return A_RETRY;
	return A_FINAL; /* 401/403, 400/404/413/422 and any other 4xx: the next would say the same */
}

static enum hw_breaker_outcome breaker_outcome(const struct chat *c, enum attempt_class k)
{
	if (k == A_SUCCESS)
		return HW_OUTCOME_SUCCESS;
	if (c->req->client_gone || c->result == HW_CALL_SHUTDOWN || c->result == HW_CALL_CANCELLED)
		return HW_OUTCOME_NEUTRAL;
	if (c->result != HW_CALL_OK)
		return HW_OUTCOME_FAILURE;
	long st = c->call.status;
	return st >= 500 || (st >= 200 && st < 300) ? HW_OUTCOME_FAILURE : HW_OUTCOME_NEUTRAL;
}

static const char *metric_outcome(const struct chat *c)
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
	long st = c->call.status;
	if (st == 429)
		return "http_429";
	if (st >= 500)
		return "http_5xx";
	if (st >= 400)
		return "http_4xx";
	return c->answer || c->started ? "ok" : "malformed";
}

/* ---- engine callbacks (the worker's engine, same thread) ----------------------------- */

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
		rc = hw_chat_relay_sse(c, data, len);
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

/* Settles the attempt that just ended: the stream's end, the answer, a retry or the final
 * failure. Called with req->lock held. */
static enum attempt_class attempt_end(struct chat *c)
{
	const struct hw_config *cfg = hw_server_cfg(c->req->srv);
	if (c->started) {
		hw_chat_end_stream(c, c->result);
		c->req->out_done = true;
		return c->terminal ? A_SUCCESS : A_FINAL;
	}
	bool json_ct = strncmp(c->call.content_type, "application/json", 16) == 0;
	bool answered = c->result == HW_CALL_OK && c->call.status >= 200 && c->call.status < 300 &&
			!c->body.stream && json_ct && hw_chat_parse_answer(c);
	enum attempt_class k = classify(c, answered);
	if (k == A_SUCCESS) {
		c->final_ready = true;
		return k;
	}
	char status[8];
	chain_add(c, c->model, attempt_error(c, status));
	c->failed_attempts++;
	long st = c->call.status;
	if (c->result == HW_CALL_OK && (st == 429 || st == 503))
		hw_breaker_cooldown(c->model->breaker, retry_after_s(c->call.retry_after));
	bool more = c->may_fall_back && !c->req->client_gone && c->next_cand < c->n_cand &&
		    c->attempts < cfg->upstream.max_attempts;
	if (k == A_RETRY && more)
		c->retry_pending = true;
	else
		c->final_ready = true;
	return k;
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
	req->upstream_ns += c->t_done_ns - call->t_submit_ns;
	enum attempt_class k = attempt_end(c);
	hw_breaker_report(c->model->breaker, breaker_outcome(c, k), c->probe);
	bool charged = k == A_SUCCESS || c->started;
	if (charged)
		c->answered = true;
	/* Nobody will read a whole answer: it is settled now on what the drain learned, or
	 * at the full reservation when the drain gave up (SPEC §6.5). Streams settle at
	 * their end, in the relay. */
	bool gone = req->client_gone && !c->started;
	hw_request_wake_locked(req);
	pthread_mutex_unlock(&req->lock);
	if (charged)
		hw_chat_estimate_usage(c);
	if (gone && (charged || r == HW_CALL_CANCELLED))
		hw_chat_money_settle(c, !charged);
	hw_metrics_upstream(c->model->provider_id, c->model->upstream_model, c->model->upstream_model,
			    metric_outcome(c), c->t_done_ns - call->t_submit_ns,
			    charged ? c->prompt_tokens : 0, charged ? c->completion_tokens : 0);
	hw_upstream_call_release(call);
	hw_request_unref(req);
}

/* ---- sending an attempt ------------------------------------------------------------- */

static void out_drained(struct hw_request *req)
{
	struct chat *c = req->endpoint;
	if (c->call_active)
		hw_engine_unpause(&c->call);
}

/* Hands the call to the worker's engine and suspends the connection until it answers. */
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
	if (!delayed) /* a delayed answer reports from on_done, like a provider over HTTP */
		hw_breaker_report(c->model->breaker, HW_OUTCOME_SUCCESS, c->probe);
	if (!c->body.stream && !delayed) {
		snprintf(c->call.content_type, sizeof(c->call.content_type), "application/json");
		c->answer = hw_echo_completion(&c->body, c->model->upstream_model, c->max_tokens);
		return hw_chat_answer_completion(c);
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
	hw_chat_relay_sse(c, wire->data, wire->len);
	if (!c->terminal)
		hw_chat_end_stream(c, HW_CALL_ABORTED);
	req->out_done = true;
	pthread_mutex_unlock(&req->lock);
	hw_metrics_upstream(c->model->provider_id, c->model->upstream_model, c->model->upstream_model,
			    "ok", 0, c->prompt_tokens, c->completion_tokens);
	return hw_chat_answer_stream_start(c);
}

/* The provider request in its own wire format, with the workspace's key (or the server's).
 * 0, or -EINVAL with msg (a 400). */
static int build_call(struct chat *c, char *msg, size_t msg_len)
{
	const struct hw_model *m = c->model;
	const struct hw_cfg_provider *p = m->provider;
	char key[HW_API_KEY_MAX + 1] = "";
	int rc = hw_byok_api_key(c->req->key.workspace_id, p, key, sizeof(key));
	if (rc < 0 && rc != -ENOENT)
		return rc;
	switch (p->kind) {
	case HW_PROVIDER_OPENAI:
	case HW_PROVIDER_OPENAI_COMPATIBLE:
	case HW_PROVIDER_MISTRAL:
		if (p->kind == HW_PROVIDER_MISTRAL && !c->tool_id_map)
			c->tool_id_map = json_object();
		rc = hw_openai_build(p, m->upstream_model, key, &c->body, c->max_tokens, &c->call,
				     c->tool_id_map);
		break;
	case HW_PROVIDER_ANTHROPIC:
		if (c->native) {
			const char *beta = MHD_lookup_connection_value(c->req->conn, MHD_HEADER_KIND,
								       "anthropic-beta");
			rc = hw_anthropic_build_native(p, key, m, c->native_req, c->body.stream, beta,
						       &c->call);
			break;
		}
		rc = hw_anthropic_build(p, key, m, c->body.root, c->max_tokens,
					c->end_user[0] ? c->end_user : NULL, c->body.stream, &c->call,
					msg, msg_len);
		break;
	case HW_PROVIDER_GOOGLE:
		rc = hw_google_build(p, key, m, c->body.root, c->max_tokens, c->body.stream, &c->call,
				     msg, msg_len);
		break;
	default:
		rc = -ENOTSUP;
	}
	explicit_bzero(key, sizeof(key));
	return rc;
}

static enum MHD_Result run_upstream(struct chat *c)
{
	struct hw_request *req = c->req;
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	char msg[256] = "";
	int rc = build_call(c, msg, sizeof(msg));
	if (rc < 0) {
		hw_upstream_call_release(&c->call);
		hw_breaker_report(c->model->breaker, HW_OUTCOME_NEUTRAL, c->probe);
		if (rc == -EINVAL)
			return hw_respond_error(req, HW_ERR_INVALID_REQUEST, msg,
						json_pack("{s:s}", "param", "messages"));
		return hw_respond_error(req, HW_ERR_INTERNAL, "Internal error.", NULL);
	}
	c->call.max_response_bytes = cfg->upstream.max_response_bytes;
	return submit(c);
}

void hw_chat_attempt_reset(struct chat *c)
{
	hw_chat_decoder_free(c);
	hw_sse_free(&c->parser);
	memset(&c->parser, 0, sizeof(c->parser));
	hw_buf_free(&c->raw);
	memset(&c->raw, 0, sizeof(c->raw));
	json_decref(c->answer);
	c->answer = NULL;
	json_decref(c->native_answer);
	c->native_answer = NULL;
	memset(&c->call, 0, sizeof(c->call));
	c->sse = c->saw_finish = c->final_ready = c->retry_pending = false;
	c->result = HW_CALL_OK;
	c->prompt_tokens = c->completion_tokens = c->cached_tokens = c->output_bytes = 0;
	c->cache_write_tokens = 0;
	c->have_usage = c->absorbed = c->answered = false;
	/* An echo answer of an earlier attempt (served on timers) is not this one's. */
	hw_buf_free(&c->echo_wire);
	memset(&c->echo_wire, 0, sizeof(c->echo_wire));
	free(c->echo_ends);
	c->echo_ends = NULL;
	json_decref(c->tool_id_map);
	c->tool_id_map = NULL;
}

enum MHD_Result hw_chat_attempt_next(struct chat *c)
{
	const struct hw_config *cfg = hw_server_cfg(c->req->srv);
	while (c->next_cand < c->n_cand && c->attempts < cfg->upstream.max_attempts) {
		const struct hw_model *m = c->cand[c->next_cand++];
		struct hw_money_refusal why;
		if (hw_chat_money_reserve(c, m, &why) < 0) {
			/* The primary's refusal is the answer; a dearer fallback's is a skip. */
			if (c->attempts == 0)
				return hw_chat_money_refused(c, &why);
			json_decref(why.extra);
			chain_add(c, m, "reservation_refused");
			continue;
		}
		enum hw_breaker_admit a = hw_breaker_admit(m->breaker);
		if (a == HW_ADMIT_OPEN || a == HW_ADMIT_COOLING) {
			chain_add(c, m, "circuit_open");
			continue;
		}
		if (c->attempts > 0) {
			hw_metrics_fallback(c->tier);
			if (c->attempts == 1) {
				size_t n = strlen(c->reason);
				snprintf(c->reason + n, sizeof(c->reason) - n, "%sfallback", n ? ", " : "");
			}
		}
		hw_chat_attempt_reset(c);
		c->model = m;
		c->probe = a == HW_ADMIT_PROBE;
		c->native = c->messages && m->provider->kind == HW_PROVIDER_ANTHROPIC;
		c->attempts++;
		snprintf(c->req->routed_model, sizeof(c->req->routed_model), "%s", m->id);
		if (c->body.stream && hw_chat_decoder_init(c) < 0) {
			hw_breaker_report(m->breaker, HW_OUTCOME_NEUTRAL, c->probe);
			return hw_respond_error(c->req, HW_ERR_INTERNAL, "Internal error.", NULL);
		}
		if (m->provider->kind == HW_PROVIDER_ECHO)
			return run_echo(c);
		return run_upstream(c);
	}
	return hw_chat_answer_failure(c);
}

/* ---- the final failure (SPEC §9.3) --------------------------------------------------- */

static void upstream_message(const struct chat *c, char *out, size_t len)
{
	json_t *body = json_loadb(c->raw.data ? c->raw.data : "", c->raw.len, 0, NULL);
	const char *m = json_string_value(json_object_get(json_object_get(body, "error"), "message"));
	if (!m)
		m = json_string_value(json_object_get(body, "message"));
	snprintf(out, len, "%.*s", UPSTREAM_MESSAGE_MAX, m ? m : (c->raw.data ? c->raw.data : ""));
	json_decref(body);
}

/* Whether every entry of the chain that was an attempt failed with `error`. */
static bool all_attempts(const struct chat *c, const char *error)
{
	size_t i, n = 0;
	json_t *e;
	json_array_foreach(c->chain, i, e)
	{
		const char *err = json_string_value(json_object_get(e, "error"));
		if (strcmp(err, "circuit_open") == 0)
			continue;
		if (strcmp(err, error) != 0)
			return false;
		n++;
	}
	return n > 0;
}

static json_t *chain_copy(const struct chat *c)
{
	return c->chain ? json_deep_copy(c->chain) : json_array();
}

enum MHD_Result hw_chat_answer_failure(struct chat *c)
{
	struct hw_request *req = c->req;
	hw_chat_money_release(c); /* nothing answered: no charge, no quota */
	const struct hw_upstream_call *call = &c->call;
	const char *provider = c->model ? c->model->provider_id : "";
	char msg[UPSTREAM_MESSAGE_MAX + 1];
	if (c->attempts > 0 && c->result == HW_CALL_SHUTDOWN)
		return hw_respond_error(req, HW_ERR_SHUTTING_DOWN, "The server is shutting down.", NULL);
	long st = c->attempts > 0 && c->result == HW_CALL_OK ? call->status : 0;
	if (st == 401 || st == 403)
		return hw_respond_error(req, HW_ERR_UPSTREAM_AUTH_FAILED, "The provider rejected its API key.",
					json_pack("{s:s,s:i}", "provider", provider, "upstream_status", (int)st));
	if (st == 400 || st == 404 || st == 413 || st == 422) {
		upstream_message(c, msg, sizeof(msg));
		return hw_respond_error(req, HW_ERR_UPSTREAM_REJECTED, "The provider rejected the request.",
					json_pack("{s:s,s:s,s:i,s:s}", "provider", provider, "model",
						  c->model->id, "upstream_status", (int)st,
						  "upstream_message", msg));
	}
	if (all_attempts(c, "timeout"))
		return hw_respond_error(req, HW_ERR_UPSTREAM_TIMEOUT, "All upstream attempts timed out.",
					json_pack("{s:o}", "fallback_chain", chain_copy(c)));
	if (all_attempts(c, "429")) {
		int64_t ra = retry_after_s(call->retry_after);
		return hw_respond_error(req, HW_ERR_UPSTREAM_RATE_LIMITED, "The provider is rate limiting.",
					json_pack("{s:I,s:s,s:o}", "retry_after_seconds",
						  (json_int_t)(ra >= 1 ? ra : 1), "provider", provider,
						  "fallback_chain", chain_copy(c)));
	}
	return hw_respond_error(req, HW_ERR_UPSTREAM_UNAVAILABLE,
				c->attempts ? "All upstream attempts failed."
					    : "Every candidate model's circuit is open.",
				json_pack("{s:o}", "fallback_chain", chain_copy(c)));
}
