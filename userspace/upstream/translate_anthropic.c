// SPDX-License-Identifier: Apache-2.0
/* OpenAI chat-completions form <-> Anthropic Messages (SPEC §8.2, §8.7): request body,
 * non-streaming answer, and the SSE event decoder that yields chat.completion.chunk objects. */
#include "upstream/translate_anthropic.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/ids.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Anthropic numbers content blocks from 0 in order; a bound keeps a hostile index from
 * sizing our block map. */
#define MAX_BLOCK_INDEX 65536

static json_t *fail(char *msg, size_t msg_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static json_t *fail(char *msg, size_t msg_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
	return NULL;
}

/* ---- request ---------------------------------------------------------------------------- */

/* Appends blocks to the last message when it has the same role (Anthropic wants the roles to
 * alternate; OpenAI clients do not care), else opens a new message. Steals `blocks`. */
static void add_blocks(json_t *messages, const char *role, json_t *blocks)
{
	if (json_array_size(blocks) == 0) {
		json_decref(blocks);
		return;
	}
	json_t *last = json_array_get(messages, json_array_size(messages) - 1);
	const char *last_role = json_string_value(json_object_get(last, "role"));
	if (last_role && strcmp(last_role, role) == 0) {
		json_array_extend(json_object_get(last, "content"), blocks);
		json_decref(blocks);
		return;
	}
	json_array_append_new(messages, json_pack("{s:s,s:o}", "role", role, "content", blocks));
}

/* A text block, or nothing for empty text: Anthropic rejects empty text blocks. */
static void add_text(json_t *blocks, const char *text, const json_t *cache_control)
{
	if (!text || !text[0])
		return;
	json_t *b = json_pack("{s:s,s:s}", "type", "text", "text", text);
	if (json_is_object(cache_control))
		json_object_set(b, "cache_control", (json_t *)cache_control);
	json_array_append_new(blocks, b);
}

/* "data:<media type>[;params];base64,<data>" -> {type:base64, media_type, data}. */
static json_t *data_url_source(const char *url)
{
	const char *comma = strchr(url, ',');
	if (strncmp(url, "data:", 5) != 0 || !comma)
		return NULL;
	const char *mt = url + 5;
	size_t mt_len = strcspn(mt, ";,");
	if (mt_len == 0 || comma - mt < 7 || strncmp(comma - 7, ";base64", 7) != 0)
		return NULL;
	return json_pack("{s:s,s:s%,s:s}", "type", "base64", "media_type", mt, mt_len, "data",
			 comma + 1);
}

static json_t *image_block(const json_t *part, const char *where, char *msg, size_t msg_len)
{
	const json_t *iu = json_object_get(part, "image_url");
	const char *url = json_is_string(iu) ? json_string_value(iu)
					     : json_string_value(json_object_get(iu, "url"));
	if (!url)
		return fail(msg, msg_len, "%s.image_url.url is required.", where);
	json_t *source;
	if (strncmp(url, "data:", 5) == 0) {
		if (!(source = data_url_source(url)))
			return fail(msg, msg_len,
				    "%s.image_url.url: a data: URL must be base64 with a "
				    "media type.",
				    where);
	} else if (strncasecmp(url, "https://", 8) == 0) {
		source = json_pack("{s:s,s:s}", "type", "url", "url", url);
	} else {
		return fail(msg, msg_len, "%s.image_url.url must be a data: or https: URL.", where);
	}
	return json_pack("{s:s,s:o}", "type", "image", "source", source);
}

/* An OpenAI `file` part with inline data -> a document block; file ids live at OpenAI only. */
static json_t *document_block(const json_t *part, const char *where, char *msg, size_t msg_len)
{
	const char *data =
	    json_string_value(json_object_get(json_object_get(part, "file"), "file_data"));
	json_t *source = data ? data_url_source(data) : NULL;
	if (!source)
		return fail(msg, msg_len,
			    "%s.file: only inline file_data (a base64 data: URL) can "
			    "be sent to this model.",
			    where);
	return json_pack("{s:s,s:o}", "type", "document", "source", source);
}

/* User content (string or parts) -> blocks. Returns NULL with msg on a part Anthropic cannot
 * take. */
static json_t *user_blocks(const json_t *content, const char *where, char *msg, size_t msg_len)
{
	json_t *blocks = json_array();
	if (json_is_string(content))
		add_text(blocks, json_string_value(content), NULL);
	for (size_t i = 0; json_is_array(content) && i < json_array_size(content); i++) {
		const json_t *part = json_array_get(content, i);
		const char *type = json_string_value(json_object_get(part, "type"));
		const json_t *cc = json_object_get(part, "cache_control");
		char pwhere[96];
		snprintf(pwhere, sizeof(pwhere), "%s.content[%zu]", where, i);
		json_t *b = NULL;
		if (type && strcmp(type, "text") == 0) {
			add_text(blocks, json_string_value(json_object_get(part, "text")), cc);
			continue;
		} else if (type && strcmp(type, "image_url") == 0) {
			b = image_block(part, pwhere, msg, msg_len);
		} else if (type && strcmp(type, "file") == 0) {
			b = document_block(part, pwhere, msg, msg_len);
		} else {
			fail(msg, msg_len, "%s: %s parts are not supported by this model.", pwhere,
			     type ? type : "untyped");
		}
		if (!b) {
			json_decref(blocks);
			return NULL;
		}
		if (json_is_object(cc))
			json_object_set(b, "cache_control", (json_t *)cc);
		json_array_append_new(blocks, b);
	}
	return blocks;
}

/* Text of string-or-parts content into blocks; image, audio and file parts are skipped: in
 * system, assistant and tool content Anthropic takes text only. */
static void text_blocks(const json_t *content, json_t *blocks)
{
	if (json_is_string(content))
		add_text(blocks, json_string_value(content), NULL);
	for (size_t i = 0; json_is_array(content) && i < json_array_size(content); i++) {
		const json_t *part = json_array_get(content, i);
		const char *type = json_string_value(json_object_get(part, "type"));
		if (type && strcmp(type, "text") == 0)
			add_text(blocks, json_string_value(json_object_get(part, "text")),
				 json_object_get(part, "cache_control"));
	}
}

static json_t *assistant_blocks(const json_t *m, const char *where, char *msg, size_t msg_len)
{
	json_t *blocks = json_array();
	text_blocks(json_object_get(m, "content"), blocks);
	const json_t *calls = json_object_get(m, "tool_calls");
	for (size_t i = 0; i < json_array_size(calls); i++) {
		const json_t *fn = json_object_get(json_array_get(calls, i), "function");
		const char *args = json_string_value(json_object_get(fn, "arguments"));
		json_t *input;
		/* A call without arguments is a call with none; OpenAI itself sends "{}". */
		if (!args || args[strspn(args, " \t\r\n")] == '\0') {
			input = json_object();
		} else {
			input = json_loads(args, JSON_DECODE_ANY, NULL);
			if (!json_is_object(input)) {
				json_decref(input);
				json_decref(blocks);
				return fail(msg, msg_len,
					    "%s.tool_calls[%zu].function.arguments must be "
					    "a JSON object.",
					    where, i);
			}
		}
		json_array_append_new(
		    blocks, json_pack("{s:s,s:O*,s:O*,s:o}", "type", "tool_use", "id",
				      json_object_get(json_array_get(calls, i), "id"), "name",
				      json_object_get(fn, "name"), "input", input));
	}
	return blocks;
}

static json_t *tool_result_block(const json_t *m)
{
	json_t *b = json_pack("{s:s,s:O*}", "type", "tool_result", "tool_use_id",
			      json_object_get(m, "tool_call_id"));
	const json_t *content = json_object_get(m, "content");
	if (json_is_string(content) && json_string_length(content) > 0) {
		json_object_set(b, "content", (json_t *)content);
	} else if (json_is_array(content)) {
		json_t *blocks = json_array();
		text_blocks(content, blocks);
		if (json_array_size(blocks) > 0)
			json_object_set(b, "content", blocks);
		json_decref(blocks);
	}
	return b;
}

/* A message whose content is one plain text block goes as a string, as clients write it. */
static void collapse_plain_text(json_t *messages)
{
	size_t i;
	json_t *m;
	json_array_foreach(messages, i, m)
	{
		json_t *c = json_object_get(m, "content");
		json_t *b = json_array_get(c, 0);
		if (json_array_size(c) == 1 && json_object_size(b) == 2 &&
		    json_is_string(json_object_get(b, "text")))
			json_object_set(m, "content", json_object_get(b, "text"));
	}
}

static void add_response_format(const json_t *oa, json_t *system)
{
	const json_t *rf = json_object_get(oa, "response_format");
	const char *type = json_string_value(json_object_get(rf, "type"));
	if (!type || (strcmp(type, "json_object") != 0 && strcmp(type, "json_schema") != 0))
		return;
	const json_t *schema = json_object_get(json_object_get(rf, "json_schema"), "schema");
	char *dump = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
	struct hw_buf t = {0};
	hw_buf_appendf(&t, "%s", HW_ANTHROPIC_JSON_INSTRUCTION);
	if (dump)
		hw_buf_appendf(&t, "\nIt must match this JSON schema: %s", dump);
	add_text(system, t.data, NULL);
	free(dump);
	hw_buf_free(&t);
}

static json_t *tools_from_openai(const json_t *tools)
{
	json_t *out = json_array();
	for (size_t i = 0; i < json_array_size(tools); i++) {
		const json_t *fn = json_object_get(json_array_get(tools, i), "function");
		if (!json_is_object(fn))
			continue;
		json_t *t = json_pack("{s:O*}", "name", json_object_get(fn, "name"));
		const json_t *desc = json_object_get(fn, "description");
		if (json_is_string(desc))
			json_object_set(t, "description", (json_t *)desc);
		const json_t *params = json_object_get(fn, "parameters");
		json_object_set_new(t, "input_schema",
				    json_is_object(params)
					? json_deep_copy(params)
					: json_pack("{s:s,s:{}}", "type", "object", "properties"));
		json_array_append_new(out, t);
	}
	return out;
}

/* tool_choice and parallel_tool_calls -> Anthropic tool_choice in *out, left NULL when there
 * is nothing to say. Returns 0, or -EINVAL with msg for a choice that names no tool. */
static int tool_choice_from_openai(const json_t *oa, json_t **out, char *msg, size_t msg_len)
{
	const json_t *tc = json_object_get(oa, "tool_choice");
	const char *s = json_string_value(tc);
	json_t *choice = NULL;
	if (s && strcmp(s, "auto") == 0) {
		choice = json_pack("{s:s}", "type", "auto");
	} else if (s && strcmp(s, "none") == 0) {
		choice = json_pack("{s:s}", "type", "none");
	} else if (s && strcmp(s, "required") == 0) {
		choice = json_pack("{s:s}", "type", "any");
	} else if (tc && !json_is_null(tc)) {
		const char *name =
		    json_string_value(json_object_get(json_object_get(tc, "function"), "name"));
		if (!name) {
			fail(msg, msg_len,
			     "tool_choice must be auto, none, required or name a "
			     "function.");
			return -EINVAL;
		}
		choice = json_pack("{s:s,s:s}", "type", "tool", "name", name);
	}
	if (json_is_false(json_object_get(oa, "parallel_tool_calls"))) {
		if (!choice)
			choice = json_pack("{s:s}", "type", "auto");
		/* `none` takes no options: no call at all is already no parallel call. */
		if (strcmp(json_string_value(json_object_get(choice, "type")), "none") != 0)
			json_object_set_new(choice, "disable_parallel_tool_use", json_true());
	}
	*out = choice;
	return 0;
}

static json_t *stop_sequences(const json_t *stop)
{
	json_t *out = json_array();
	if (json_is_string(stop) && json_string_length(stop) > 0)
		json_array_append(out, (json_t *)stop);
	for (size_t i = 0; json_is_array(stop) && i < json_array_size(stop); i++) {
		const json_t *s = json_array_get(stop, i);
		if (json_is_string(s) && json_string_length(s) > 0)
			json_array_append(out, (json_t *)s);
	}
	if (json_array_size(out) == 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *hw_anthropic_request_from_openai(const json_t *oa, const char *upstream_model,
					 int64_t max_tokens, const char *end_user, bool stream,
					 bool prompt_cache, int64_t min_cache_tokens, char *msg,
					 size_t msg_len)
{
	json_t *system = json_array();
	json_t *messages = json_array();
	json_t *body = NULL;
	const json_t *oms = json_object_get(oa, "messages");
	for (size_t i = 0; i < json_array_size(oms); i++) {
		const json_t *m = json_array_get(oms, i);
		const char *role = json_string_value(json_object_get(m, "role"));
		char where[32];
		snprintf(where, sizeof(where), "messages[%zu]", i);
		if (!role) {
			fail(msg, msg_len, "%s.role is required.", where);
			goto out;
		}
		json_t *blocks;
		if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
			text_blocks(json_object_get(m, "content"), system);
			continue;
		} else if (strcmp(role, "user") == 0) {
			blocks = user_blocks(json_object_get(m, "content"), where, msg, msg_len);
		} else if (strcmp(role, "assistant") == 0) {
			blocks = assistant_blocks(m, where, msg, msg_len);
		} else if (strcmp(role, "tool") == 0) {
			blocks = json_pack("[o]", tool_result_block(m));
			role = "user";
		} else {
			fail(msg, msg_len, "%s.role %s is not supported by this model.", where,
			     role);
			goto out;
		}
		if (!blocks)
			goto out;
		add_blocks(messages, role, blocks);
	}
	if (json_array_size(messages) == 0) {
		fail(msg, msg_len,
		     "messages: this model needs at least one user or assistant "
		     "message with content.");
		goto out;
	}
	collapse_plain_text(messages);
	add_response_format(oa, system);

	body =
	    json_pack("{s:s,s:I}", "model", upstream_model, "max_tokens", (json_int_t)max_tokens);
	if (json_array_size(system) > 0)
		json_object_set(body, "system", system);
	json_object_set(body, "messages", messages);
	json_t *tools = tools_from_openai(json_object_get(oa, "tools"));
	/* Without tools Anthropic rejects a tool_choice, and there is nothing to choose. */
	if (json_array_size(tools) > 0) {
		json_object_set(body, "tools", tools);
		json_t *choice = NULL;
		if (tool_choice_from_openai(oa, &choice, msg, msg_len) < 0) {
			json_decref(tools);
			json_decref(body);
			body = NULL;
			goto out;
		}
		if (choice)
			json_object_set_new(body, "tool_choice", choice);
	}
	json_decref(tools);
	json_t *stops = stop_sequences(json_object_get(oa, "stop"));
	if (stops)
		json_object_set_new(body, "stop_sequences", stops);
	const json_t *temp = json_object_get(oa, "temperature");
	if (json_is_number(temp)) {
		/* OpenAI's range is 0-2, Anthropic's 0-1: clamping keeps the request valid. */
		double t = json_number_value(temp);
		json_object_set_new(body, "temperature", json_real(t < 0 ? 0 : t > 1 ? 1 : t));
	}
	const json_t *top_p = json_object_get(oa, "top_p");
	if (json_is_number(top_p))
		json_object_set(body, "top_p", (json_t *)top_p);
	if (end_user && end_user[0])
		json_object_set_new(body, "metadata", json_pack("{s:s}", "user_id", end_user));
	if (stream)
		json_object_set_new(body, "stream", json_true());
	if (prompt_cache)
		hw_anthropic_inject_cache(body, min_cache_tokens);
out:
	json_decref(system);
	json_decref(messages);
	return body;
}

/* ---- prompt-cache injection (§8.7) ------------------------------------------------------ */

static bool has_key_deep(const json_t *v, const char *key)
{
	json_t *child;
	if (json_is_object(v)) {
		const char *k;
		if (json_object_get(v, key))
			return true;
		json_object_foreach((json_t *)v, k, child)
		{
			if (has_key_deep(child, key))
				return true;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_array_foreach(v, i, child)
		{
			if (has_key_deep(child, key))
				return true;
		}
	}
	return false;
}

void hw_anthropic_inject_cache(json_t *body, int64_t min_cache_tokens)
{
	if (!json_is_object(body) || has_key_deep(body, "cache_control"))
		return;
	json_t *system = json_object_get(body, "system");
	json_t *tools = json_object_get(body, "tools");
	int64_t bytes = 0;
	if (json_is_string(system))
		bytes += (int64_t)json_string_length(system);
	for (size_t i = 0; json_is_array(system) && i < json_array_size(system); i++)
		bytes +=
		    (int64_t)json_string_length(json_object_get(json_array_get(system, i), "text"));
	if (json_array_size(tools) > 0) {
		char *dump = json_dumps(tools, JSON_COMPACT);
		bytes += dump ? (int64_t)strlen(dump) : 0;
		free(dump);
	}
	/* Nothing to mark, or a prefix too short for Anthropic to cache (it would only pay the
	 * cache-write premium). */
	if (bytes == 0 || (bytes + 3) / 4 < min_cache_tokens)
		return;
	json_t *last_tool = json_array_get(tools, json_array_size(tools) - 1);
	if (json_is_object(last_tool))
		json_object_set_new(last_tool, "cache_control",
				    json_pack("{s:s}", "type", "ephemeral"));
	if (json_is_string(system) && json_string_length(system) > 0) {
		json_t *blocks = json_pack("[{s:s,s:O}]", "type", "text", "text", system);
		json_object_set_new(body, "system", blocks);
		system = blocks;
	}
	json_t *last_sys = json_array_get(system, json_array_size(system) - 1);
	if (json_is_object(last_sys))
		json_object_set_new(last_sys, "cache_control",
				    json_pack("{s:s}", "type", "ephemeral"));
}

/* ---- response --------------------------------------------------------------------------- */

const char *hw_anthropic_finish_reason(const char *stop_reason)
{
	if (!stop_reason)
		return "stop";
	if (strcmp(stop_reason, "max_tokens") == 0 ||
	    strcmp(stop_reason, "model_context_window_exceeded") == 0)
		return "length";
	if (strcmp(stop_reason, "tool_use") == 0)
		return "tool_calls";
	if (strcmp(stop_reason, "refusal") == 0)
		return "content_filter";
	return "stop"; /* end_turn, stop_sequence, pause_turn */
}

static json_t *usage_object(int64_t input, int64_t output, int64_t cache_read,
			    int64_t cache_creation)
{
	int64_t prompt = input + cache_read + cache_creation;
	return json_pack("{s:I,s:I,s:I,s:{s:I},s:I,s:I}", "prompt_tokens", (json_int_t)prompt,
			 "completion_tokens", (json_int_t)output, "total_tokens",
			 (json_int_t)(prompt + output), "prompt_tokens_details", "cached_tokens",
			 (json_int_t)cache_read, "cache_read_input_tokens", (json_int_t)cache_read,
			 "cache_creation_input_tokens", (json_int_t)cache_creation);
}

static int64_t int_field(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

static void completion_id(char out[40])
{
	char ulid[HW_ULID_LEN + 1];
	hw_ulid(ulid);
	snprintf(out, 40, "chatcmpl-%s", ulid);
}

static json_t *tool_call(const json_t *block, int index)
{
	char *args = json_dumps(json_object_get(block, "input"), JSON_COMPACT | JSON_ENCODE_ANY);
	json_t *call = json_pack("{s:O*,s:s,s:{s:O*,s:s}}", "id", json_object_get(block, "id"),
				 "type", "function", "function", "name",
				 json_object_get(block, "name"), "arguments", args ? args : "{}");
	free(args);
	if (index >= 0)
		json_object_set_new(call, "index", json_integer(index));
	return call;
}

json_t *hw_anthropic_response_to_openai(const json_t *m, const char *model_id)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	const json_t *content = json_object_get(m, "content");
	if (!type || strcmp(type, "message") != 0 || !json_is_array(content))
		return NULL;
	struct hw_buf text = {0}, reasoning = {0};
	json_t *calls = json_array();
	size_t i;
	json_t *b;
	json_array_foreach(content, i, b)
	{
		const char *bt = json_string_value(json_object_get(b, "type"));
		const char *s;
		if (!bt)
			continue;
		if (strcmp(bt, "text") == 0 && (s = json_string_value(json_object_get(b, "text"))))
			hw_buf_append(&text, s, strlen(s));
		else if (strcmp(bt, "thinking") == 0 &&
			 (s = json_string_value(json_object_get(b, "thinking"))))
			hw_buf_append(&reasoning, s, strlen(s));
		else if (strcmp(bt, "tool_use") == 0)
			json_array_append_new(calls, tool_call(b, -1));
	}
	json_t *message = json_pack("{s:s}", "role", "assistant");
	/* OpenAI's shape: null content only beside tool calls; an empty answer is "". */
	json_object_set_new(message, "content",
			    text.len == 0 && json_array_size(calls) > 0
				? json_null()
				: json_stringn(text.data ? text.data : "", text.len));
	if (json_array_size(calls) > 0)
		json_object_set(message, "tool_calls", calls);
	if (reasoning.len > 0)
		json_object_set_new(message, "reasoning_content",
				    json_stringn(reasoning.data, reasoning.len));
	const json_t *u = json_object_get(m, "usage");
	char id[40];
	completion_id(id);
	json_t *out = json_pack(
	    "{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:s,s:n}]}", "id", id, "object", "chat.completion",
	    "created", (json_int_t)hw_clock_wall_s(), "model", model_id, "choices", "index", 0,
	    "message", message, "finish_reason",
	    hw_anthropic_finish_reason(json_string_value(json_object_get(m, "stop_reason"))),
	    "logprobs");
	/* Without usage the gateway estimates it (SPEC §8.5) rather than charging nothing. */
	if (out && json_is_object(u))
		json_object_set_new(out, "usage",
				    usage_object(int_field(u, "input_tokens"), int_field(u, "output_tokens"),
						 int_field(u, "cache_read_input_tokens"),
						 int_field(u, "cache_creation_input_tokens")));
	json_decref(calls);
	hw_buf_free(&text);
	hw_buf_free(&reasoning);
	return out;
}

/* ---- stream ----------------------------------------------------------------------------- */

void hw_anthropic_stream_init(struct hw_anthropic_stream *s, const char *model_id)
{
	memset(s, 0, sizeof(*s));
	completion_id(s->id);
	s->created = (json_int_t)hw_clock_wall_s();
	s->model_id = strdup(model_id ? model_id : "");
}

void hw_anthropic_stream_free(struct hw_anthropic_stream *s)
{
	free(s->model_id);
	free(s->tool_of_block);
	s->model_id = NULL;
	s->tool_of_block = NULL;
}

static void emit(struct hw_anthropic_stream *s, json_t *out, json_t *delta, const char *finish)
{
	json_array_append_new(out,
			      json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:o,s:n}]}", "id", s->id,
					"object", "chat.completion.chunk", "created", s->created,
					"model", s->model_id ? s->model_id : "", "choices", "index",
					0, "delta", delta, "finish_reason",
					finish ? json_string(finish) : json_null(), "logprobs"));
}

static void emit_text(struct hw_anthropic_stream *s, json_t *out, const char *key, const char *text)
{
	if (!text || !text[0])
		return;
	s->output_bytes += (int64_t)strlen(text);
	emit(s, out, json_pack("{s:s}", key, text), NULL);
}

/* Usage fields present in `u` replace what was noted: message_delta counts are cumulative. */
static void note_usage(struct hw_anthropic_stream *s, const json_t *u)
{
	const json_t *v;
	if (!json_is_object(u))
		return;
	s->have_usage = true;
	if (json_is_integer(v = json_object_get(u, "input_tokens")))
		s->input_tokens = json_integer_value(v);
	if (json_is_integer(v = json_object_get(u, "output_tokens")))
		s->output_tokens = json_integer_value(v);
	if (json_is_integer(v = json_object_get(u, "cache_read_input_tokens")))
		s->cache_read_tokens = json_integer_value(v);
	if (json_is_integer(v = json_object_get(u, "cache_creation_input_tokens")))
		s->cache_creation_tokens = json_integer_value(v);
}

/* The OpenAI tool index of content block `index`, recording it when `tool` is true.
 * Returns -1 for a non-tool block, -2 when the index is out of bounds. */
static int block_tool(struct hw_anthropic_stream *s, json_int_t index, bool start, bool tool)
{
	if (index < 0 || index >= MAX_BLOCK_INDEX)
		return -2;
	if (!start)
		return (size_t)index < s->n_blocks ? s->tool_of_block[index] : -1;
	if ((size_t)index >= s->n_blocks) {
		size_t n = (size_t)index + 1;
		int *grown = realloc(s->tool_of_block, n * sizeof(*grown));
		if (!grown)
			return -2;
		for (size_t i = s->n_blocks; i < n; i++)
			grown[i] = -1;
		s->tool_of_block = grown;
		s->n_blocks = n;
	}
	s->tool_of_block[index] = tool ? s->n_tools++ : -1;
	return s->tool_of_block[index];
}

static int on_block_start(struct hw_anthropic_stream *s, const json_t *ev, json_t *out)
{
	const json_t *index = json_object_get(ev, "index");
	const json_t *cb = json_object_get(ev, "content_block");
	const char *type = json_string_value(json_object_get(cb, "type"));
	if (!json_is_integer(index) || !type)
		return -1;
	bool tool = strcmp(type, "tool_use") == 0;
	int i = block_tool(s, json_integer_value(index), true, tool);
	if (i == -2)
		return -1;
	if (tool) {
		const char *id = json_string_value(json_object_get(cb, "id"));
		const char *name = json_string_value(json_object_get(cb, "name"));
		if (!id || !name)
			return -1;
		s->output_bytes += (int64_t)strlen(name);
		emit(s, out,
		     json_pack("{s:[{s:i,s:s,s:s,s:{s:s,s:s}}]}", "tool_calls", "index", i, "id",
			       id, "type", "function", "function", "name", name, "arguments", ""),
		     NULL);
	} else if (strcmp(type, "text") == 0) {
		emit_text(s, out, "content", json_string_value(json_object_get(cb, "text")));
	} else if (strcmp(type, "thinking") == 0) {
		emit_text(s, out, "reasoning_content",
			  json_string_value(json_object_get(cb, "thinking")));
	}
	return 0;
}

static int on_block_delta(struct hw_anthropic_stream *s, const json_t *ev, json_t *out)
{
	const json_t *index = json_object_get(ev, "index");
	const json_t *d = json_object_get(ev, "delta");
	const char *type = json_string_value(json_object_get(d, "type"));
	if (!json_is_integer(index) || !type)
		return -1;
	if (strcmp(type, "text_delta") == 0 || strcmp(type, "thinking_delta") == 0) {
		bool text = type[1] == 'e';
		const char *piece =
		    json_string_value(json_object_get(d, text ? "text" : "thinking"));
		if (!piece)
			return -1;
		emit_text(s, out, text ? "content" : "reasoning_content", piece);
	} else if (strcmp(type, "input_json_delta") == 0) {
		int i = block_tool(s, json_integer_value(index), false, false);
		const char *piece = json_string_value(json_object_get(d, "partial_json"));
		if (i < 0 || !piece)
			return -1;
		if (!piece[0])
			return 0;
		s->output_bytes += (int64_t)strlen(piece);
		emit(s, out,
		     json_pack("{s:[{s:i,s:{s:s}}]}", "tool_calls", "index", i, "function",
			       "arguments", piece),
		     NULL);
	}
	/* signature_delta, citations_delta and later kinds carry nothing OpenAI can show. */
	return 0;
}

static int stream_error(struct hw_anthropic_stream *s, const char *reason)
{
	s->reason = reason;
	return HW_ASTREAM_ERROR;
}

int hw_anthropic_stream_event(struct hw_anthropic_stream *s, const char *event, const char *data,
			      size_t len, json_t *out)
{
	if (s->finished)
		return HW_ASTREAM_DONE;
	json_t *ev = json_loadb(data, len, 0, NULL);
	int rc = HW_ASTREAM_MORE;
	const char *type =
	    event && event[0] ? event : json_string_value(json_object_get(ev, "type"));
	if (!json_is_object(ev) || !type) {
		rc = stream_error(s, "malformed");
		goto out;
	}
	if (strcmp(type, "error") == 0) {
		const json_t *e = json_object_get(ev, "error");
		snprintf(s->error_message, sizeof(s->error_message), "%s: %s",
			 json_string_value(json_object_get(e, "type")) ?: "error",
			 json_string_value(json_object_get(e, "message")) ?: "");
		rc = stream_error(s, "upstream_error");
		goto out;
	}
	if (strcmp(type, "ping") == 0)
		goto out;
	if (strcmp(type, "message_start") == 0) {
		const json_t *m = json_object_get(ev, "message");
		if (!json_is_object(m) || s->started) {
			rc = stream_error(s, "malformed");
			goto out;
		}
		s->started = true;
		note_usage(s, json_object_get(m, "usage"));
		emit(s, out, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL);
		goto out;
	}
	bool known = strcmp(type, "content_block_start") == 0 ||
		     strcmp(type, "content_block_delta") == 0 ||
		     strcmp(type, "content_block_stop") == 0 ||
		     strcmp(type, "message_delta") == 0 || strcmp(type, "message_stop") == 0;
	if (!known)
		goto out; /* Anthropic may add event types; clients are to skip them */
	if (!s->started) {
		rc = stream_error(s, "malformed");
		goto out;
	}
	if (strcmp(type, "content_block_start") == 0) {
		if (on_block_start(s, ev, out) < 0)
			rc = stream_error(s, "malformed");
	} else if (strcmp(type, "content_block_delta") == 0) {
		if (on_block_delta(s, ev, out) < 0)
			rc = stream_error(s, "malformed");
	} else if (strcmp(type, "message_delta") == 0) {
		const json_t *d = json_object_get(ev, "delta");
		if (!json_is_object(d)) {
			rc = stream_error(s, "malformed");
			goto out;
		}
		note_usage(s, json_object_get(ev, "usage"));
		const char *stop = json_string_value(json_object_get(d, "stop_reason"));
		if (stop)
			emit(s, out, json_object(), hw_anthropic_finish_reason(stop));
	} else if (strcmp(type, "message_stop") == 0) {
		s->finished = true;
		if (s->have_usage)
			json_array_append_new(
			    out, json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", s->id, "object",
				   "chat.completion.chunk", "created", s->created, "model",
				   s->model_id ? s->model_id : "", "choices", "usage",
				   usage_object(s->input_tokens, s->output_tokens,
						s->cache_read_tokens, s->cache_creation_tokens)));
		rc = HW_ASTREAM_DONE;
	}
out:
	json_decref(ev);
	return rc;
}
