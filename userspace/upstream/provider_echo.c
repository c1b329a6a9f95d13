// SPDX-License-Identifier: Apache-2.0
#include "upstream/provider_echo.h"

#include "common/clock.h"
#include "common/ids.h"
#include "upstream/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ECHO_MAX_CHARS 1000

struct reply {
	struct hw_buf text;
	const char *tool; /* non-NULL: the reply is a call to this tool */
	const char *finish;
	int64_t prompt_tokens, completion_tokens;
};

/* Byte length of the first `chars` UTF-8 characters of s. */
static size_t utf8_prefix(const char *s, size_t len, size_t chars)
{
	size_t i = 0;
	for (size_t c = 0; i < len && c < chars; c++) {
		i++;
		while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
	}
	return i;
}

/* Largest cut <= max that does not split a UTF-8 character. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t i = max;
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

static void build_reply(const struct hw_chat_req *r, int64_t max_tokens, struct reply *out)
{
	memset(out, 0, sizeof(*out));
	out->finish = "stop";
	out->prompt_tokens = r->est_tokens;
	/* SPEC §8.6: a tool call only answers a user turn. */
	bool tools_on = r->n_tools > 0 && !r->tool_choice_none && r->last_is_user;
	if (r->last_is_tool) {
		hw_buf_append(&out->text, "echo: tool result: ", 19);
		hw_buf_append(&out->text, r->last_tool_text.data ? r->last_tool_text.data : "",
			      r->last_tool_text.len);
	} else if (tools_on) {
		out->tool = r->forced_tool ? r->forced_tool : r->first_tool;
		out->finish = "tool_calls";
		out->completion_tokens = 1;
		return;
	} else {
		const char *u = r->last_user_text.data ? r->last_user_text.data : "";
		hw_buf_append(&out->text, "echo: ", 6);
		hw_buf_append(&out->text, u, utf8_prefix(u, r->last_user_text.len, ECHO_MAX_CHARS));
	}
	size_t cap = (size_t)max_tokens * 4;
	if (out->text.len > cap) {
		out->text.len = utf8_cut(out->text.data, out->text.len, cap);
		out->text.data[out->text.len] = '\0';
		out->finish = "length";
	}
	out->completion_tokens = (int64_t)(out->text.len + 3) / 4;
}

static json_t *usage_json(const struct reply *rep)
{
	return json_pack("{s:I,s:I,s:I,s:{s:i}}", "prompt_tokens", (json_int_t)rep->prompt_tokens,
			 "completion_tokens", (json_int_t)rep->completion_tokens, "total_tokens",
			 (json_int_t)rep->prompt_tokens + (json_int_t)rep->completion_tokens,
			 "prompt_tokens_details", "cached_tokens", 0);
}

static json_t *tool_calls_json(const char *tool, bool with_index)
{
	json_t *call = json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", "call_echo_0", "type", "function",
				 "function", "name", tool, "arguments", "{}");
	if (with_index)
		json_object_set_new(call, "index", json_integer(0));
	return json_pack("[o]", call);
}

static void completion_id(char out[40])
{
	char ulid[HW_ULID_LEN + 1];
	hw_ulid(ulid);
	snprintf(out, 40, "chatcmpl-%s", ulid);
}

json_t *hw_echo_completion(const struct hw_chat_req *r, const char *model, int64_t max_tokens)
{
	struct reply rep;
	build_reply(r, max_tokens, &rep);
	char id[40];
	completion_id(id);
	json_t *message = json_pack("{s:s}", "role", "assistant");
	if (rep.tool) {
		json_object_set_new(message, "content", json_null());
		json_object_set_new(message, "tool_calls", tool_calls_json(rep.tool, false));
	} else {
		json_object_set_new(message, "content", json_string(rep.text.data));
	}
	json_t *obj = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:s,s:n}],s:o}", "id", id, "object",
				"chat.completion", "created", (json_int_t)hw_clock_wall_s(), "model",
				model, "choices", "index", 0, "message", message, "finish_reason",
				rep.finish, "logprobs", "usage", usage_json(&rep));
	hw_buf_free(&rep.text);
	return obj;
}

static int emit_chunk(struct hw_buf *out, const char *id, json_int_t created, const char *model,
		      json_t *delta, const char *finish)
{
	json_t *chunk = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:o,s:n}]}", "id", id, "object",
				  "chat.completion.chunk", "created", created, "model", model,
				  "choices", "index", 0, "delta", delta, "finish_reason",
				  finish ? json_string(finish) : json_null(), "logprobs");
	char *text = json_dumps(chunk, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(chunk);
	int rc = text ? hw_sse_write(out, NULL, text, strlen(text)) : -1;
	free(text);
	return rc;
}

int hw_echo_stream(const struct hw_chat_req *r, const char *model, int64_t max_tokens,
		   struct hw_buf *out)
{
	struct reply rep;
	build_reply(r, max_tokens, &rep);
	char id[40];
	completion_id(id);
	json_int_t created = (json_int_t)hw_clock_wall_s();
	int rc = emit_chunk(out, id, created, model, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL);
	if (rep.tool) {
		rc |= emit_chunk(out, id, created, model,
				 json_pack("{s:o}", "tool_calls", tool_calls_json(rep.tool, true)), NULL);
	} else {
		/* One chunk per whitespace-separated word; the separator travels with the word. */
		const char *p = rep.text.data ? rep.text.data : "";
		while (*p) {
			const char *end = p;
			while (*end == ' ' || *end == '\n' || *end == '\t')
				end++;
			while (*end && *end != ' ' && *end != '\n' && *end != '\t')
				end++;
			json_t *delta = json_object();
			json_object_set_new(delta, "content", json_stringn(p, (size_t)(end - p)));
			rc |= emit_chunk(out, id, created, model, delta, NULL);
			p = end;
		}
	}
	rc |= emit_chunk(out, id, created, model, json_object(), rep.finish);
	json_t *usage = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", id, "object",
				  "chat.completion.chunk", "created", created, "model", model,
				  "choices", "usage", usage_json(&rep));
	char *text = json_dumps(usage, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(usage);
	rc |= text ? hw_sse_write(out, NULL, text, strlen(text)) : -1;
	free(text);
	rc |= hw_sse_write(out, NULL, "[DONE]", 6);
	hw_buf_free(&rep.text);
	return rc ? -1 : 0;
}
