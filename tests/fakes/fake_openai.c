// SPDX-License-Identifier: Apache-2.0
/* fake_openai.c: the OpenAI Chat Completions wire format of fake-upstream
 * (POST /v1/chat/completions): a chat.completion object, or chat.completion.chunk SSE events
 * ending with "data: [DONE]", with the usage chunk OpenAI sends when stream_options asks. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

static bool openai_check(struct MHD_Connection *conn, unsigned int *status, const char **msg)
{
	/* openai_compatible servers often run without a key, so none is required. */
	return true;
}

static const char *tool_to_call(json_t *root)
{
	json_t *tools = json_object_get(root, "tools");
	json_t *choice = json_object_get(root, "tool_choice");

	if (!json_array_size(tools))
		return NULL;
	if (json_is_string(choice) && strcmp(json_string_value(choice), "none") == 0)
		return NULL;
	const char *named =
		json_string_value(json_object_get(json_object_get(choice, "function"), "name"));
	if (named)
		return named;
	return json_string_value(
		json_object_get(json_object_get(json_array_get(tools, 0), "function"), "name"));
}

static int openai_parse(json_t *root, const char *url, struct MHD_Connection *conn,
			struct prompt *p, const char **msg)
{
	json_t *messages = json_object_get(root, "messages");
	json_t *last_user = NULL, *msg_i;
	size_t i;

	if (!json_is_string(json_object_get(root, "model"))) {
		*msg = "you must provide a model parameter";
		return -1;
	}
	if (!json_array_size(messages)) {
		*msg = "'messages' must be a non-empty array";
		return -1;
	}
	json_array_foreach (messages, i, msg_i) {
		p->prompt_bytes += content_text(json_object_get(msg_i, "content"), NULL);
		const char *role = json_string_value(json_object_get(msg_i, "role"));
		if (role && strcmp(role, "user") == 0)
			last_user = msg_i;
	}
	json_t *last = json_array_get(messages, json_array_size(messages) - 1);
	const char *role = json_string_value(json_object_get(last, "role"));
	if (role && strcmp(role, "tool") == 0) {
		p->tool_result = content_dup(json_object_get(last, "content"));
		if (!p->tool_result)
			return -1;
	}
	p->model = strdup(json_string_value(json_object_get(root, "model")));
	p->user_text = content_dup(json_object_get(last_user, "content"));
	p->tool = tool_to_call(root);
	p->fake = json_object_get(root, "fake");
	p->stream = json_is_true(json_object_get(root, "stream"));
	p->include_usage = json_is_true(
		json_object_get(json_object_get(root, "stream_options"), "include_usage"));
	return p->model && p->user_text ? 0 : -1;
}

/* OpenAI's error envelope, with the type and code OpenAI uses for the status. */
static json_t *error_json(unsigned int status, const char *message)
{
	const char *type = "invalid_request_error", *code = "invalid_request";

	if (status == 401) {
		code = "invalid_api_key";
	} else if (status == 404) {
		code = "not_found";
	} else if (status == 429) {
		type = "requests";
		code = "rate_limit_exceeded";
	} else if (status >= 500) {
		type = "server_error";
		code = status == 503 ? "service_unavailable" : "server_error";
	}
	return json_pack("{s:{s:s,s:s,s:n,s:s}}", "error", "message", message, "type", type,
			 "param", "code", code);
}

static struct MHD_Response *openai_error(unsigned int status, const char *message)
{
	return json_response(error_json(status, message), "application/json");
}

static char *openai_error_event(unsigned int status)
{
	return sse_data(error_json(status ? status : 500, fault_message(status ? status : 500)));
}

static const char *finish_reason(const struct answer *a)
{
	return a->length ? "length" : a->ncalls ? "tool_calls" : "stop";
}

static json_t *usage_json(const struct answer *a)
{
	json_int_t prompt = a->prompt_tokens + a->cache_read + a->cache_creation;
	return json_pack("{s:I,s:I,s:I,s:{s:I}}", "prompt_tokens", prompt, "completion_tokens",
			 a->completion_tokens, "total_tokens", prompt + a->completion_tokens,
			 "prompt_tokens_details", "cached_tokens", a->cache_read);
}

static json_t *call_json(const struct answer *a, size_t i, bool with_args)
{
	char id[32];
	snprintf(id, sizeof(id), "call_fake_%zu", i);
	return json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", id, "type", "function", "function", "name",
			 a->calls[i].name, "arguments", with_args ? a->calls[i].args : "");
}

static json_t *openai_body(const struct answer *a)
{
	json_t *message =
		json_pack("{s:s,s:s?,s:n}", "role", "assistant", "content", a->text, "refusal");
	if (message && a->ncalls) {
		json_t *calls = json_array();
		for (size_t i = 0; i < a->ncalls; i++)
			json_array_append_new(calls, call_json(a, i, true));
		json_object_set_new(message, "tool_calls", calls);
	}
	json_t *obj = json_pack("{s:s,s:s,s:I,s:s,s:s,s:[{s:i,s:o,s:n,s:s}]}", "id", a->id,
				"object", "chat.completion", "created", a->created, "model",
				a->model, "system_fingerprint", "fp_fake", "choices", "index", 0,
				"message", message, "logprobs", "finish_reason", finish_reason(a));
	if (obj && a->usage)
		json_object_set_new(obj, "usage", usage_json(a));
	return obj;
}

/* One chat.completion.chunk; OpenAI adds "usage":null to every chunk once usage was asked. */
static int push_chunk(struct stream *s, const struct answer *a, json_t *delta, const char *finish)
{
	json_t *obj = json_pack("{s:s,s:s,s:I,s:s,s:s,s:[{s:i,s:o,s:n,s:s?}]}", "id", a->id,
				"object", "chat.completion.chunk", "created", a->created, "model",
				a->model, "system_fingerprint", "fp_fake", "choices", "index", 0,
				"delta", delta, "logprobs", "finish_reason", finish);
	if (!obj)
		return -1;
	if (a->usage && a->usage_on_finish && finish)
		json_object_set_new(obj, "usage", usage_json(a));
	else if (a->include_usage && a->usage && !a->usage_on_finish)
		json_object_set_new(obj, "usage", json_null());
	return stream_push(s, sse_data(obj));
}

static int openai_events(struct stream *s, const struct answer *a)
{
	json_t *role = a->text ? json_pack("{s:s,s:s,s:n}", "role", "assistant", "content", "",
					   "refusal")
			       : json_pack("{s:s,s:n}", "role", "assistant", "content");
	if (push_chunk(s, a, role, NULL) < 0)
		return -1;
	for (const char *p = a->text; p && *p;) {
		size_t n = next_piece(p);
		if (push_chunk(s, a, json_pack("{s:s%}", "content", p, n), NULL) < 0)
			return -1;
		p += n;
	}
	for (size_t i = 0; i < a->ncalls; i++) {
		/* The call opens with its id and name, and its arguments follow as their own delta. */
		json_t *open = call_json(a, i, false);
		if (open)
			json_object_set_new(open, "index", json_integer((json_int_t)i));
		if (push_chunk(s, a, json_pack("{s:[o]}", "tool_calls", open), NULL) < 0 ||
		    push_chunk(s, a,
			       json_pack("{s:[{s:I,s:{s:s}}]}", "tool_calls", "index", (json_int_t)i,
					 "function", "arguments", a->calls[i].args),
			       NULL) < 0)
			return -1;
	}
	if (push_chunk(s, a, json_object(), finish_reason(a)) < 0)
		return -1;
	if (a->include_usage && a->usage && !a->usage_on_finish) {
		json_t *obj = json_pack("{s:s,s:s,s:I,s:s,s:s,s:[],s:o}", "id", a->id, "object",
					"chat.completion.chunk", "created", a->created, "model",
					a->model, "system_fingerprint", "fp_fake", "choices",
					"usage", usage_json(a));
		if (!obj || stream_push(s, sse_data(obj)) < 0)
			return -1;
	}
	return stream_push(s, strdup("data: [DONE]\n\n"));
}

const struct format fmt_openai = {
	.name = "openai",
	.id_fmt = "chatcmpl-fake%016" PRIx64,
	.check = openai_check,
	.parse = openai_parse,
	.error = openai_error,
	.body = openai_body,
	.events = openai_events,
	.error_event = openai_error_event,
	.malformed_body = "{\"id\":\"chatcmpl-fake\",\"object\":\"chat.comp",
	.malformed_event = "data: {\"id\":\"chatcmpl-fake\",\"choices\":[{\n\n",
};
