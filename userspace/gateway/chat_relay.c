// SPDX-License-Identifier: Apache-2.0
/* What comes back from a provider, in the OpenAI wire format (translated first when the
 * provider speaks another): a `chat.completion` answered whole, or an event stream relayed
 * event by event with the routed model, the usage filter and the meta chunk (SPEC §5.2,
 * §6.2, §6.4), plus the `_hiway` object and the routing headers both carry. */
#include "common/clock.h"
#include "common/json_usd.h"
#include "gateway/chat.h"
#include "gateway/server.h"
#include "upstream/provider_openai.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t hw_chat_upstream_cost(const struct chat *c, const struct hw_model *m)
{
	if (!m)
		return 0;
	int64_t uncached = c->prompt_tokens - c->cached_tokens - c->cache_write_tokens;
	return hw_cost_micro(uncached > 0 ? uncached : 0, m->input_per_mtok) +
	       hw_cost_micro(c->cached_tokens, m->cache_read_per_mtok) +
	       hw_cost_micro(c->cache_write_tokens, m->cache_write_per_mtok) +
	       hw_cost_micro(c->completion_tokens, m->output_per_mtok);
}

int64_t hw_chat_baseline_cost(const struct chat *c)
{
	const struct hw_config *cfg = hw_server_cfg(c->req->srv);
	const struct hw_model *b = cfg->routing.baseline_model
					   ? hw_catalog_find(c->catalog, cfg->routing.baseline_model)
					   : NULL;
	return b ? hw_chat_upstream_cost(c, b) : 0;
}

json_t *hw_chat_hiway_object(const struct chat *c)
{
	int64_t up = hw_chat_upstream_cost(c, c->model), base = hw_chat_baseline_cost(c);
	int64_t markup = c->money.markup_cost;
	/* A 4-decimal number printed exactly (jansson's %.17g would show 0.27000000000000002):
	 * the fixed-point writer of USD amounts does that for any value in millionths. */
	json_t *score = c->scored ? hw_json_usd((int64_t)(c->score * 10000 + 0.5) * 100) : json_null();
	return json_pack("{s:s,s:s,s:o,s:s,s:b,s:o,s:o,s:o,s:o,s:o,s:b,s:b,s:b,s:s}", "routed_model",
			 c->model->id, "routed_tier", c->tier, "score", score, "reason", c->reason,
			 "fallback", hw_chat_fell_back(c), "fallback_chain", hw_chat_chain_for_answer(c),
			 "upstream_cost", hw_json_usd(up), "markup_cost", hw_json_usd(markup),
			 "baseline_cost", hw_json_usd(base), "savings", hw_json_usd(base - up),
			 "cache_hit", 0, "passthrough", c->money.passthrough, "usage_estimated", !c->have_usage,
			 "request_id", c->req->request_id);
}

void hw_chat_add_routing_headers(struct chat *c, struct MHD_Response *resp, bool with_cost)
{
	char buf[32];
	MHD_add_response_header(resp, "X-HiWay-Routed-Model", c->model->id);
	MHD_add_response_header(resp, "X-HiWay-Routed-Tier", c->tier);
	snprintf(buf, sizeof(buf), "%.3f", (double)c->routing_ns / 1e6);
	MHD_add_response_header(resp, "X-HiWay-Routing-Ms", buf);
	if (with_cost) {
		int64_t cost = hw_chat_upstream_cost(c, c->model) + c->money.markup_cost;
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
	/* Anthropic's cache writes, carried beside the OpenAI fields by its translation. */
	c->cache_write_tokens = json_integer_value(json_object_get(usage, "cache_creation_input_tokens"));
}

/* Without usage from the upstream: prompt = est_tokens, completion from the output bytes
 * (SPEC §8.5). */
void hw_chat_estimate_usage(struct chat *c)
{
	if (c->have_usage)
		return;
	c->prompt_tokens = c->body.est_tokens;
	if (c->interrupted) {
		/* A broken stream without usage (SPEC §6.4): a third of the bytes, at most what was
		 * asked for. */
		int64_t t = (c->output_bytes + 2) / 3;
		c->completion_tokens = t < c->max_tokens ? t : c->max_tokens;
	} else {
		c->completion_tokens = (c->output_bytes + 3) / 4;
	}
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

json_t *hw_chat_messages_usage(const struct chat *c)
{
	int64_t input = c->prompt_tokens - c->cached_tokens - c->cache_write_tokens;
	return json_pack("{s:I,s:I,s:I,s:I}", "input_tokens", (json_int_t)(input > 0 ? input : 0),
			 "output_tokens", (json_int_t)c->completion_tokens, "cache_read_input_tokens",
			 (json_int_t)c->cached_tokens, "cache_creation_input_tokens",
			 (json_int_t)c->cache_write_tokens);
}

/* One chunk to the client: as is, or rebuilt into Anthropic events for /v1/messages (an
 * anthropic upstream answering /v1/messages has its own events relayed instead). */
static void emit_chunk(struct chat *c, json_t *chunk)
{
	if (!c->messages) {
		emit_json(c, chunk);
		return;
	}
	if (c->native || c->req->client_gone || !c->menc_live)
		return;
	if (hw_messages_stream_chunk(&c->menc, chunk, &c->req->out) == -EPROTO)
		c->menc_broken = true;
}

/* The end of a clean /v1/messages stream: message_delta, the hiway event, message_stop. */
static void emit_messages_end(struct chat *c)
{
	json_t *hiway = c->want_meta ? hw_chat_hiway_object(c) : NULL;
	if (c->native) {
		if (hiway) {
			json_t *ev = json_pack("{s:s,s:o,s:O}", "type", "hiway", "usage",
					       hw_chat_messages_usage(c), "_hiway", hiway);
			char *text = hw_json_dumps(ev);
			if (text)
				emit(c, "hiway", text, strlen(text));
			free(text);
			json_decref(ev);
		}
		static const char stop[] = "{\"type\":\"message_stop\"}";
		emit(c, "message_stop", stop, sizeof(stop) - 1);
	} else if (c->menc_live && !c->req->client_gone) {
		hw_messages_stream_finish(&c->menc, c->prompt_tokens, c->completion_tokens,
					  c->cached_tokens, hiway, &c->req->out);
	}
	json_decref(hiway);
}

/* The stream's end (SPEC §10.3): settled before the meta chunk, whose costs it reports. */
static void settle_stream(struct chat *c, bool full) { hw_chat_money_settle(c, full); }

static void emit_meta_and_done(struct chat *c)
{
	hw_chat_guardian_stream_done(c); /* a clean end: the answer is complete */
	hw_chat_estimate_usage(c);
	settle_stream(c, false);
	if (c->messages) {
		emit_messages_end(c);
		c->terminal = true;
		return;
	}
	if (c->want_meta) {
		json_t *meta = json_pack("{s:s,s:s,s:I,s:s,s:[],s:{s:I,s:I,s:I,s:{s:I}},s:o}", "id",
					 c->last_id, "object", "chat.completion.chunk", "created",
					 c->last_created, "model", c->model->id, "choices", "usage",
					 "prompt_tokens", (json_int_t)c->prompt_tokens,
					 "completion_tokens", (json_int_t)c->completion_tokens,
					 "total_tokens", (json_int_t)c->prompt_tokens + (json_int_t)c->completion_tokens,
					 "prompt_tokens_details", "cached_tokens",
					 (json_int_t)c->cached_tokens, "_hiway", hw_chat_hiway_object(c));
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
	/* Settled on what was received, or at the full reservation when the drain after a
	 * client left had to give up (SPEC §6.4, §6.5). */
	settle_stream(c, c->result == HW_CALL_CANCELLED);
	c->interrupted = true;
	json_t *extra = json_pack("{s:s}", "reason", reason);
	json_t *body = hw_err_body(HW_ERR_STREAM_INTERRUPTED, "Upstream stream interrupted.",
				   c->req->request_id, extra, c->messages);
	if (!c->messages) {
		emit_json(c, body);
	} else if (c->native || !c->menc_live) {
		char *text = hw_json_dumps(body);
		if (text)
			emit(c, "error", text, strlen(text));
		free(text);
	} else if (!c->req->client_gone) {
		hw_messages_stream_error(&c->menc, json_object_get(body, "error"), &c->req->out);
	}
	json_decref(body);
}

/* The first relayed event: from here there is no fallback and no JSON error. */
static void mark_started(struct chat *c)
{
	if (c->started)
		return;
	c->started = true;
	c->ttft_ns = hw_clock_mono_ns() - c->req->t_start_ns;
}

/* Relays one OpenAI chunk (stolen): the first marks the stream started. */
static void relay_chunk(struct chat *c, json_t *chunk)
{
	mark_started(c);
	const char *id = json_string_value(json_object_get(chunk, "id"));
	if (id)
		snprintf(c->last_id, sizeof(c->last_id), "%s", id);
	json_t *created = json_object_get(chunk, "created");
	if (json_is_integer(created))
		c->last_created = json_integer_value(created);
	json_object_set_new(chunk, "model", json_string(c->model->id));
	json_t *usage = json_object_get(chunk, "usage");
	note_usage(c, usage);
	json_t *choices = json_object_get(chunk, "choices");
	hw_openai_map_tool_ids(choices, c->tool_id_map, "delta");
	bool usage_chunk = json_is_array(choices) && json_array_size(choices) == 0 && json_is_object(usage);
	size_t i;
	json_t *ch;
	json_array_foreach(choices, i, ch)
	{
		count_output(c, json_object_get(ch, "delta"));
		if (i == 0)
			hw_chat_guardian_stream_delta(c, json_object_get(ch, "delta"));
		if (json_is_string(json_object_get(ch, "finish_reason")))
			c->saw_finish = true;
	}
	if (c->messages) {
		emit_chunk(c, chunk); /* the encoder reads usage chunks too */
	} else if (usage_chunk) {
		if (c->want_usage_chunk)
			emit_json(c, chunk);
	} else {
		/* Some providers attach usage to the last content chunk; the client did not ask. */
		if (!c->want_usage_chunk)
			json_object_del(chunk, "usage");
		emit_json(c, chunk);
	}
	json_decref(chunk);
}

/* An anthropic upstream answering /v1/messages: its events go to the client as they came,
 * with only the model replaced; message_stop is written at the end, after the hiway event. */
static void emit_native_event(struct chat *c, const char *event, const char *data, size_t len)
{
	char type[64];
	if (!event[0]) {
		/* No `event:` line: the type is the data's, as the decoder read it. */
		json_t *ev = json_loadb(data, len, 0, NULL);
		snprintf(type, sizeof(type), "%s", json_string_value(json_object_get(ev, "type")) ?: "");
		json_decref(ev);
		event = type;
	}
	if (strcmp(event, "message_stop") == 0 || strcmp(event, "error") == 0)
		return;
	if (strcmp(event, "message_start") != 0) {
		emit(c, event, data, len);
		return;
	}
	json_t *ev = json_loadb(data, len, 0, NULL);
	json_t *msg = json_object_get(ev, "message");
	if (json_is_object(msg))
		json_object_set_new(msg, "model", json_string(c->model->id));
	char *text = ev ? hw_json_dumps(ev) : NULL;
	if (text)
		emit(c, event, text, strlen(text));
	free(text);
	json_decref(ev);
}

/* A bad event: before the first relayed one the attempt fails as a whole (an ordinary
 * error answer, or a fallback); after it, the stream ends with the interruption event. */
static int bad_event(struct chat *c, const char *reason)
{
	if (c->started)
		emit_interruption(c, reason);
	return -1;
}

/* An OpenAI-format event: a chunk, or [DONE]. */
static int on_openai_event(struct chat *c, const char *data, size_t len)
{
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		if (!c->started)
			return -1; /* a stream with no event at all */
		emit_meta_and_done(c);
		return 0;
	}
	json_t *chunk = json_loadb(data, len, 0, NULL);
	if (!json_is_object(chunk) || json_object_get(chunk, "error")) {
		bool malformed = !json_is_object(chunk);
		json_decref(chunk);
		return bad_event(c, malformed ? "malformed" : "upstream_error");
	}
	relay_chunk(c, chunk);
	return c->menc_broken ? bad_event(c, "malformed") : 0;
}

/* An event of a provider with its own stream format, decoded into OpenAI chunks. */
static int on_decoded_event(struct chat *c, const char *event, const char *data, size_t len)
{
	json_t *chunks = json_array();
	const char *reason = "malformed";
	int rc = -1;
	if (chunks && c->decoder == HW_PROVIDER_GOOGLE) {
		rc = hw_gemini_stream_event(&c->dec.gemini, data, len, chunks, &reason);
	} else if (chunks && c->decoder == HW_PROVIDER_ANTHROPIC) {
		int r = hw_anthropic_stream_event(&c->dec.anthropic, event, data, len, chunks);
		rc = r == HW_ASTREAM_ERROR ? -1 : r == HW_ASTREAM_DONE ? 1 : 0;
		if (r == HW_ASTREAM_ERROR && c->dec.anthropic.reason)
			reason = c->dec.anthropic.reason;
	}
	size_t i;
	json_t *chunk;
	json_array_foreach(chunks, i, chunk)
		relay_chunk(c, json_incref(chunk));
	json_decref(chunks);
	if (c->menc_broken)
		return bad_event(c, "malformed");
	if (rc < 0)
		return bad_event(c, rc == -1 ? reason : "malformed");
	if (c->native && c->started)
		emit_native_event(c, event, data, len);
	if (rc > 0) {
		if (!c->started)
			return -1;
		emit_meta_and_done(c);
	}
	return 0;
}

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
	struct chat *c = arg;
	if (c->terminal || c->interrupted)
		return 0;
	if (c->decoder_live)
		return on_decoded_event(c, event, data, len);
	return on_openai_event(c, data, len);
}

int hw_chat_decoder_init(struct chat *c)
{
	if (c->messages && !c->native) {
		hw_messages_stream_init(&c->menc, c->model->id, json_object_get(c->native_req, "stop_sequences"));
		c->menc_live = true;
	}
	c->decoder = c->model->provider->kind;
	switch (c->decoder) {
	case HW_PROVIDER_GOOGLE:
		if (hw_gemini_stream_init(&c->dec.gemini, c->model->id) < 0)
			return -ENOMEM;
		c->decoder_live = true;
		break;
	case HW_PROVIDER_ANTHROPIC:
		hw_anthropic_stream_init(&c->dec.anthropic, c->model->id);
		c->decoder_live = true;
		break;
	default:
		break;
	}
	return 0;
}

void hw_chat_decoder_free(struct chat *c)
{
	if (c->menc_live) {
		hw_messages_stream_free(&c->menc);
		c->menc_live = false;
	}
	c->menc_broken = false;
	if (!c->decoder_live)
		return;
	if (c->decoder == HW_PROVIDER_GOOGLE)
		hw_gemini_stream_free(&c->dec.gemini);
	else if (c->decoder == HW_PROVIDER_ANTHROPIC)
		hw_anthropic_stream_free(&c->dec.anthropic);
	c->decoder_live = false;
}

int hw_chat_relay_sse(struct chat *c, const char *data, size_t len)
{
	return hw_sse_feed(&c->parser, data, len, on_event, c);
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

void hw_chat_end_stream(struct chat *c, enum hw_call_result r)
{
	if (c->terminal)
		return;
	if (r == HW_CALL_OK && c->saw_finish)
		emit_meta_and_done(c);
	else
		emit_interruption(c, stream_reason(r));
}

/* ---- whole answers ------------------------------------------------------------------ */

/* Usage and output bytes of a whole answer, read once, as soon as it is parsed: the
 * metrics and a client that already left need them before the answer is written. */
static void absorb_answer(struct chat *c)
{
	if (c->absorbed)
		return;
	c->absorbed = true;
	json_t *obj = c->answer;
	note_usage(c, json_object_get(obj, "usage"));
	hw_openai_map_tool_ids(json_object_get(obj, "choices"), c->tool_id_map, "message");
	size_t i;
	json_t *ch;
	json_array_foreach(json_object_get(obj, "choices"), i, ch)
		count_output(c, json_object_get(ch, "message"));
}

bool hw_chat_parse_answer(struct chat *c)
{
	json_t *obj = json_loadb(c->raw.data ? c->raw.data : "", c->raw.len, 0, NULL);
	enum hw_provider_kind kind = c->model->provider->kind;
	if (obj && c->native)
		c->native_answer = json_incref(obj);
	if (obj && (kind == HW_PROVIDER_GOOGLE || kind == HW_PROVIDER_ANTHROPIC)) {
		json_t *translated = kind == HW_PROVIDER_GOOGLE
					     ? hw_gemini_response_to_openai(obj, c->model->id)
					     : hw_anthropic_response_to_openai(obj, c->model->id);
		json_decref(obj);
		obj = translated;
	}
	if (json_is_object(obj) && json_is_array(json_object_get(obj, "choices"))) {
		c->answer = obj;
		absorb_answer(c);
		return true;
	}
	json_decref(obj);
	return false;
}

enum MHD_Result hw_chat_answer_completion(struct chat *c)
{
	absorb_answer(c);
	c->answered = true;
	hw_chat_money_settle(c, false);
	json_t *obj = c->answer;
	c->answer = NULL;
	hw_chat_guardian_completed(c, obj);
	json_object_set_new(obj, "model", json_string(c->model->id));
	if (!c->have_usage) {
		/* The answer says what was charged: the estimate (SPEC §8.5, _hiway.usage_estimated). */
		hw_chat_estimate_usage(c);
		json_object_set_new(obj, "usage",
				    json_pack("{s:I,s:I,s:I,s:{s:i}}", "prompt_tokens",
					      (json_int_t)c->prompt_tokens, "completion_tokens",
					      (json_int_t)c->completion_tokens, "total_tokens",
					      (json_int_t)(c->prompt_tokens + c->completion_tokens),
					      "prompt_tokens_details", "cached_tokens", 0));
	}
	if (c->messages) {
		/* Anthropic's own message with only model replaced, or one built from the answer. */
		json_t *msg = c->native_answer ? c->native_answer
					       : hw_openai_to_message(obj, c->model->id,
								      json_object_get(c->native_req, "stop_sequences"));
		c->native_answer = NULL;
		json_decref(obj);
		if (!msg)
			return hw_respond_error(c->req, HW_ERR_INTERNAL, "Internal error.", NULL);
		json_object_set_new(msg, "model", json_string(c->model->id));
		obj = msg;
	}
	json_object_set_new(obj, "_hiway", hw_chat_hiway_object(c));
	struct MHD_Response *resp = hw_json_response(obj);
	if (!resp)
		return MHD_NO;
	hw_chat_add_routing_headers(c, resp, true);
	return hw_respond(c->req, 200, resp, "ok");
}

enum MHD_Result hw_chat_answer_stream_start(struct chat *c)
{
	struct MHD_Response *resp = hw_stream_response_new(c->req);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	hw_chat_add_routing_headers(c, resp, false);
	c->req->phase = HW_PHASE_STREAMING;
	return hw_respond(c->req, 200, resp, "ok");
}
