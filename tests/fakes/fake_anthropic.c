// SPDX-License-Identifier: Apache-2.0
/* fake_anthropic.c: the Anthropic Messages wire format of fake-upstream (POST /v1/messages).
 *
 * Requests need x-api-key and anthropic-version, as Anthropic's do. Answers are a "message"
 * object, or the event sequence message_start, content_block_start, ping, content_block_delta
 * (text_delta / input_json_delta pieces), content_block_stop, message_delta, message_stop, each
 * sent as "event: <type>\ndata: <json>\n\n". Errors use Anthropic's {"type":"error",...}. */
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

#define JSON_PIECE 8 /* bytes of tool input per input_json_delta, so there are several */

static bool anthropic_check(struct MHD_Connection *conn, unsigned int *status, const char **msg)
{
	if (!MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key")) {
		*status = 401;
		*msg = "x-api-key header is required";
		return false;
	}
	if (!MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "anthropic-version")) {
		*status = 400;
		*msg = "anthropic-version: header is required";
		return false;
	}
	return true;
}

static const char *tool_to_call(json_t *root)
{
	json_t *tools = json_object_get(root, "tools");
	json_t *choice = json_object_get(root, "tool_choice");
	const char *type = json_string_value(json_object_get(choice, "type"));

	if (!json_array_size(tools) || (type && strcmp(type, "none") == 0))
		return NULL;
	if (type && strcmp(type, "tool") == 0 && json_object_get(choice, "name"))
		return json_string_value(json_object_get(choice, "name"));
	return json_string_value(json_object_get(json_array_get(tools, 0), "name"));
}

/* The first tool_result block of a message's content, or NULL when it has none. */
static json_t *tool_result_block(json_t *content)
{
	size_t i;
	json_t *b;
	json_array_foreach (content, i, b) {
		const char *type = json_string_value(json_object_get(b, "type"));
		if (type && strcmp(type, "tool_result") == 0)
			return b;
	}
	return NULL;
}

static int anthropic_parse(json_t *root, const char *url, struct MHD_Connection *conn,
			   struct prompt *p, const char **msg)
{
	json_t *messages = json_object_get(root, "messages");
	json_t *last_user = NULL, *m, *b;
	size_t i, j;

	if (!json_is_string(json_object_get(root, "model"))) {
		*msg = "model: Field required";
		return -1;
	}
	if (!json_is_integer(json_object_get(root, "max_tokens"))) {
		*msg = "max_tokens: Field required";
		return -1;
	}
	if (!json_array_size(messages)) {
		*msg = "messages: at least one message is required";
		return -1;
	}
	p->prompt_bytes = content_text(json_object_get(root, "system"), NULL);
	json_array_foreach (messages, i, m) {
		const char *role = json_string_value(json_object_get(m, "role"));
		if (!role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
			*msg = "messages: roles must be \"user\" or \"assistant\"";
			return -1;
		}
		json_t *content = json_object_get(m, "content");
		p->prompt_bytes += content_text(content, NULL);
		json_array_foreach (content, j, b) { /* tool_result blocks carry text too */
			p->prompt_bytes += content_text(json_object_get(b, "content"), NULL);
		}
		if (strcmp(role, "user") == 0)
			last_user = m;
	}
	json_t *last = json_array_get(messages, json_array_size(messages) - 1);
	json_t *result = last == last_user
				 ? tool_result_block(json_object_get(last, "content"))
				 : NULL;
	if (result && !(p->tool_result = content_dup(json_object_get(result, "content"))))
		return -1;
	p->model = strdup(json_string_value(json_object_get(root, "model")));
	p->user_text = content_dup(json_object_get(last_user, "content"));
	p->tool = tool_to_call(root);
	p->fake = json_object_get(root, "fake");
	p->stream = json_is_true(json_object_get(root, "stream"));
	p->include_usage = true;
	return p->model && p->user_text ? 0 : -1;
}

static const char *error_type(unsigned int status)
{
	switch (status) {
	case 400:
		return "invalid_request_error";
	case 401:
		return "authentication_error";
	case 402:
		return "billing_error";
	case 403:
		return "permission_error";
	case 404:
		return "not_found_error";
	case 413:
		return "request_too_large";
	case 429:
		return "rate_limit_error";
	case 503:
	case 529:
		return "overloaded_error";
	default:
		return status >= 500 ? "api_error" : "invalid_request_error";
	}
}

static json_t *error_json(unsigned int status, const char *message)
{
	return json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type", error_type(status),
			 "message", message);
}

static struct MHD_Response *anthropic_error(unsigned int status, const char *message)
{
	return json_response(error_json(status, message), "application/json");
}

static char *anthropic_error_event(unsigned int status)
{
	status = status ? status : 529;
	return sse_event("error", error_json(status, fault_message(status)));
}

static const char *stop_reason(const struct answer *a)
{
	return a->length ? "max_tokens" : a->ncalls ? "tool_use" : "end_turn";
}

static json_t *usage_json(const struct answer *a, json_int_t output_tokens)
{
	return json_pack("{s:I,s:I,s:I,s:I}", "input_tokens", a->prompt_tokens,
			 "cache_creation_input_tokens", a->cache_creation,
			 "cache_read_input_tokens", a->cache_read, "output_tokens", output_tokens);
}

static void tool_id(char *buf, size_t size, size_t i)
{
	snprintf(buf, size, "toolu_fake_%zu", i);
}

static json_t *message_json(const struct answer *a, json_t *content, json_t *stop,
			    json_int_t output_tokens)
{
	json_t *obj = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:n}", "id", a->id, "type", "message",
				"role", "assistant", "model", a->model, "content", content,
				"stop_reason", stop, "stop_sequence");
	if (obj && a->usage)
		json_object_set_new(obj, "usage", usage_json(a, output_tokens));
	return obj;
}

static json_t *anthropic_body(const struct answer *a)
{
	json_t *content = json_array();
	char id[32];

	if (a->text)
		json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text", "text", a->text));
	for (size_t i = 0; i < a->ncalls; i++) {
		tool_id(id, sizeof(id), i);
		json_array_append_new(content, json_pack("{s:s,s:s,s:s,s:O}", "type", "tool_use", "id",
							 id, "name", a->calls[i].name, "input",
							 a->calls[i].input));
	}
	return message_json(a, content, json_string(stop_reason(a)), a->completion_tokens);
}

static int push_block(struct stream *s, size_t index, json_t *block, const char *delta_type,
		      const char *key, const char *text, size_t piece_max)
{
	if (stream_push(s, sse_event("content_block_start",
				     json_pack("{s:s,s:I,s:o}", "type", "content_block_start",
					       "index", (json_int_t)index, "content_block",
					       block))) < 0)
		return -1;
	/* Anthropic pings right after the first block opens. */
	if (index == 0 && stream_push(s, sse_event("ping", json_pack("{s:s}", "type", "ping"))) < 0)
		return -1;
	for (const char *p = text; *p;) {
		size_t n = piece_max ? strnlen(p, piece_max) : next_piece(p);
		while (piece_max && p[n] && n > 1 && ((unsigned char)p[n] & 0xC0) == 0x80)
			n--; /* never split a UTF-8 character */
		json_t *ev = json_pack("{s:s,s:I,s:{s:s,s:s%}}", "type", "content_block_delta",
				       "index", (json_int_t)index, "delta", "type", delta_type, key,
				       p, n);
		if (stream_push(s, sse_event("content_block_delta", ev)) < 0)
			return -1;
		p += n;
	}
	return stream_push(s, sse_event("content_block_stop",
					json_pack("{s:s,s:I}", "type", "content_block_stop",
						  "index", (json_int_t)index)));
}

static int anthropic_events(struct stream *s, const struct answer *a)
{
	size_t index = 0;
	char id[32];

	json_t *start = message_json(a, json_array(), json_null(), 1);
	if (stream_push(s, sse_event("message_start", json_pack("{s:s,s:o}", "type",
								 "message_start", "message",
								 start))) < 0)
		return -1;
	if (a->text && push_block(s, index++, json_pack("{s:s,s:s}", "type", "text", "text", ""),
				  "text_delta", "text", a->text, 0) < 0)
		return -1;
	for (size_t i = 0; i < a->ncalls; i++) {
		tool_id(id, sizeof(id), i);
		json_t *block = json_pack("{s:s,s:s,s:s,s:{}}", "type", "tool_use", "id", id, "name",
					  a->calls[i].name, "input");
		if (push_block(s, index++, block, "input_json_delta", "partial_json",
			       a->calls[i].args, JSON_PIECE) < 0)
			return -1;
	}
	json_t *delta = json_pack("{s:s,s:{s:s,s:n}}", "type", "message_delta", "delta",
				  "stop_reason", stop_reason(a), "stop_sequence");
	if (delta && a->usage)
		json_object_set_new(delta, "usage",
				    json_pack("{s:I}", "output_tokens", a->completion_tokens));
	if (stream_push(s, sse_event("message_delta", delta)) < 0)
		return -1;
	return stream_push(s, sse_event("message_stop", json_pack("{s:s}", "type", "message_stop")));
}

const struct format fmt_anthropic = {
	.name = "anthropic",
	.id_fmt = "msg_fake%016" PRIx64,
	.check = anthropic_check,
	.parse = anthropic_parse,
	.error = anthropic_error,
	.body = anthropic_body,
	.events = anthropic_events,
	.error_event = anthropic_error_event,
	.malformed_body = "{\"id\":\"msg_fake\",\"type\":\"message\",\"role\":\"assis",
	.malformed_event = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
			   "\"index\":0,\"delta\":{\n\n",
};
