// SPDX-License-Identifier: Apache-2.0
/* Anthropic Messages ↔ OpenAI chat completions for the /v1/messages ingress (SPEC §8.3):
 * request validation and conversion, the response back, and the stream encoder. */
#include "gateway/messages_translate.h"

#include "common/json_usd.h"
#include "gateway/chat_request.h"

#include "common/ids.h"
#include "upstream/sse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- request: Anthropic → OpenAI ---- */

struct perr {
	char *param, *msg;
	size_t plen, mlen;
};

__attribute__((format(printf, 3, 4))) static int fail(struct perr *e, const char *param,
						      const char *fmt, ...)
{
	snprintf(e->param, e->plen, "%s", param);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, e->mlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Builds a field path for an error. Paths are short; a pathological depth is cut, not overrun. */
__attribute__((format(printf, 3, 4))) static void path_fmt(char *dst, size_t len, const char *fmt,
							   ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

static json_t *copy_string(const json_t *s)
{
	return json_stringn(json_string_value(s), json_string_length(s));
}

/* Appends a text to a joined text, a newline between pieces. */
static int join_text(struct hw_buf *b, const json_t *text)
{
	if (b->len && hw_buf_append(b, "\n", 1) < 0)
		return -ENOMEM;
	return hw_buf_append(b, json_string_value(text), json_string_length(text));
}

static json_t *buf_string(const struct hw_buf *b)
{
	return json_stringn(b->len ? b->data : "", b->len);
}

/* A required string member of a block; fills the error when missing. */
static const json_t *need_string(const json_t *obj, const char *key, const char *path,
				 struct perr *e)
{
	const json_t *v = json_object_get(obj, key);
	if (json_is_string(v))
		return v;
	char p[160];
	path_fmt(p, sizeof(p), "%s.%s", path, key);
	fail(e, p, "%s must be a string.", p);
	return NULL;
}

static int text_part(json_t *parts, const json_t *text)
{
	json_t *part = json_pack("{s:s,s:o}", "type", "text", "text", copy_string(text));
	return json_array_append_new(parts, part) < 0 ? -ENOMEM : 0;
}

/* An `image` block's source as an OpenAI image_url part. */
static int image_part(const json_t *block, const char *path, json_t *parts, struct perr *e)
{
	char p[160];
	path_fmt(p, sizeof(p), "%s.source", path);
	const json_t *src = json_object_get(block, "source");
	if (!json_is_object(src))
		return fail(e, p, "%s must be an object.", p);
	const char *type = json_string_value(json_object_get(src, "type"));
	json_t *url;
	if (type && strcmp(type, "base64") == 0) {
		const json_t *mt = need_string(src, "media_type", p, e);
		const json_t *data = mt ? need_string(src, "data", p, e) : NULL;
		if (!data)
			return -EINVAL;
		char *s = NULL;
		if (asprintf(&s, "data:%s;base64,%s", json_string_value(mt),
			     json_string_value(data)) < 0)
			return -ENOMEM;
		url = json_string(s);
		free(s);
	} else if (type && strcmp(type, "url") == 0) {
		const json_t *u = need_string(src, "url", p, e);
		if (!u)
			return -EINVAL;
		url = copy_string(u);
	} else {
		path_fmt(p, sizeof(p), "%s.source.type", path);
		return fail(e, p, "%s must be base64 or url.", p);
	}
	return json_array_append_new(parts, json_pack("{s:s,s:{s:o}}", "type", "image_url",
						      "image_url", "url", url)) < 0
		   ? -ENOMEM
		   : 0;
}

/* A `document` block: plain text becomes a text part; a PDF (base64 or url) a `file` part. */
static int document_part(const json_t *block, const char *path, json_t *parts, struct perr *e)
{
	char p[160];
	path_fmt(p, sizeof(p), "%s.source", path);
	const json_t *src = json_object_get(block, "source");
	if (!json_is_object(src))
		return fail(e, p, "%s must be an object.", p);
	const char *type = json_string_value(json_object_get(src, "type"));
	const char *title = json_string_value(json_object_get(block, "title"));
	json_t *part;
	if (type && strcmp(type, "text") == 0) {
		const json_t *data = need_string(src, "data", p, e);
		if (!data)
			return -EINVAL;
		return text_part(parts, data);
	} else if (type && strcmp(type, "base64") == 0) {
		const json_t *mt = need_string(src, "media_type", p, e);
		const json_t *data = mt ? need_string(src, "data", p, e) : NULL;
		if (!data)
			return -EINVAL;
		char *s = NULL;
		if (asprintf(&s, "data:%s;base64,%s", json_string_value(mt),
			     json_string_value(data)) < 0)
			return -ENOMEM;
		part = json_pack("{s:s,s:{s:s,s:s}}", "type", "file", "file", "filename",
				 title ? title : "document", "file_data", s);
		free(s);
	} else if (type && strcmp(type, "url") == 0) {
		const json_t *u = need_string(src, "url", p, e);
		if (!u)
			return -EINVAL;
		part =
		    json_pack("{s:s,s:{s:o}}", "type", "file", "file", "file_url", copy_string(u));
	} else {
		path_fmt(p, sizeof(p), "%s.source.type", path);
		return fail(e, p, "%s must be base64, text or url.", p);
	}
	return json_array_append_new(parts, part) < 0 ? -ENOMEM : 0;
}

/* A tool_result's content: text joined into the `tool` message, images kept as user parts
 * because OpenAI tool messages carry text only. */
static int tool_result_content(const json_t *content, const char *path, struct hw_buf *text,
			       json_t *parts, struct perr *e)
{
	char p[192];
	if (!content || json_is_null(content))
		return 0;
	if (json_is_string(content))
		return join_text(text, content);
	path_fmt(p, sizeof(p), "%s.content", path);
	if (!json_is_array(content))
		return fail(e, p, "%s must be a string or an array of blocks.", p);
	size_t i;
	const json_t *b;
	json_array_foreach(content, i, b)
	{
		path_fmt(p, sizeof(p), "%s.content[%zu]", path, i);
		const char *type = json_string_value(json_object_get(b, "type"));
		int rc;
		if (type && strcmp(type, "text") == 0) {
			const json_t *t = need_string(b, "text", p, e);
			rc = t ? join_text(text, t) : -EINVAL;
		} else if (type && strcmp(type, "image") == 0) {
			rc = image_part(b, p, parts, e);
		} else {
			path_fmt(p, sizeof(p), "%s.content[%zu].type", path, i);
			rc = fail(e, p, "%s must be text or image.", p);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int tool_result_message(const json_t *block, const char *path, json_t *out_msgs,
			       json_t *parts, struct perr *e)
{
	const json_t *id = need_string(block, "tool_use_id", path, e);
	if (!id)
		return -EINVAL;
	struct hw_buf text = {0};
	int rc = tool_result_content(json_object_get(block, "content"), path, &text, parts, e);
	if (rc == 0 && json_array_append_new(out_msgs, json_pack("{s:s,s:o,s:o}", "role", "tool",
								 "tool_call_id", copy_string(id),
								 "content", buf_string(&text))) < 0)
		rc = -ENOMEM;
	hw_buf_free(&text);
	return rc;
}

/* A user message: its tool_result blocks become `tool` messages, which OpenAI wants right
 * after the assistant's tool_calls, and its other blocks one `user` message after them. */
static int user_blocks(const json_t *content, const char *path, json_t *out_msgs, struct perr *e)
{
	char p[160];
	json_t *parts = json_array();
	int rc = 0;
	size_t i;
	const json_t *b;
	json_array_foreach(content, i, b)
	{
		path_fmt(p, sizeof(p), "%s.content[%zu]", path, i);
		const char *type = json_string_value(json_object_get(b, "type"));
		if (!json_is_object(b) || !type) {
			rc = fail(e, p, "%s must be an object with a type.", p);
			break;
		}
		if (strcmp(type, "text") == 0) {
			const json_t *t = need_string(b, "text", p, e);
			rc = t ? text_part(parts, t) : -EINVAL;
		} else if (strcmp(type, "image") == 0) {
			rc = image_part(b, p, parts, e);
		} else if (strcmp(type, "document") == 0) {
			rc = document_part(b, p, parts, e);
		} else if (strcmp(type, "tool_result") == 0) {
			rc = tool_result_message(b, p, out_msgs, parts, e);
		} else {
			path_fmt(p, sizeof(p), "%s.content[%zu].type", path, i);
			rc = fail(
			    e, p,
			    "%s must be text, image, document or tool_result in a user message.",
			    p);
		}
		if (rc < 0)
			break;
	}
	if (rc == 0 && json_array_size(parts) &&
	    json_array_append_new(out_msgs,
				  json_pack("{s:s,s:O}", "role", "user", "content", parts)) < 0)
		rc = -ENOMEM;
	json_decref(parts);
	return rc;
}

static int tool_call(const json_t *block, const char *path, json_t *calls, struct perr *e)
{
	const json_t *id = need_string(block, "id", path, e);
	const json_t *name = id ? need_string(block, "name", path, e) : NULL;
	if (!name)
		return -EINVAL;
	const json_t *input = json_object_get(block, "input");
	if (!json_is_object(input)) {
		char p[160];
		path_fmt(p, sizeof(p), "%s.input", path);
		return fail(e, p, "%s must be an object.", p);
	}
	char *args = json_dumps(input, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!args)
		return -ENOMEM;
	json_t *call = json_pack("{s:o,s:s,s:{s:o,s:s}}", "id", copy_string(id), "type", "function",
				 "function", "name", copy_string(name), "arguments", args);
	free(args);
	return json_array_append_new(calls, call) < 0 ? -ENOMEM : 0;
}

/* An assistant message: text blocks joined into `content`, tool_use blocks into
 * `tool_calls`; thinking blocks are signed for Anthropic only and are dropped. A message
 * left with nothing is dropped too. */
static int assistant_blocks(const json_t *content, const char *path, json_t *out_msgs,
			    struct perr *e)
{
	char p[160];
	struct hw_buf text = {0};
	json_t *calls = json_array();
	bool has_text = false;
	int rc = 0;
	size_t i;
	const json_t *b;
	json_array_foreach(content, i, b)
	{
		path_fmt(p, sizeof(p), "%s.content[%zu]", path, i);
		const char *type = json_string_value(json_object_get(b, "type"));
		if (!json_is_object(b) || !type) {
			rc = fail(e, p, "%s must be an object with a type.", p);
			break;
		}
		if (strcmp(type, "text") == 0) {
			const json_t *t = need_string(b, "text", p, e);
			rc = t ? join_text(&text, t) : -EINVAL;
			has_text = true;
		} else if (strcmp(type, "tool_use") == 0) {
			rc = tool_call(b, p, calls, e);
		} else if (strcmp(type, "thinking") == 0) {
			rc = need_string(b, "thinking", p, e) ? 0 : -EINVAL;
		} else if (strcmp(type, "redacted_thinking") == 0) {
			rc = need_string(b, "data", p, e) ? 0 : -EINVAL;
		} else {
			path_fmt(p, sizeof(p), "%s.content[%zu].type", path, i);
			rc = fail(e, p,
				  "%s must be text, tool_use, thinking or redacted_thinking in an "
				  "assistant message.",
				  p);
		}
		if (rc < 0)
			break;
	}
	if (rc == 0 && (has_text || json_array_size(calls))) {
		json_t *m = json_pack("{s:s,s:o}", "role", "assistant", "content",
				      has_text ? buf_string(&text) : json_null());
		if (m && json_array_size(calls))
			json_object_set(m, "tool_calls", calls);
		if (json_array_append_new(out_msgs, m) < 0)
			rc = -ENOMEM;
	}
	json_decref(calls);
	hw_buf_free(&text);
	return rc;
}

static int convert_message(const json_t *m, size_t idx, bool last, json_t *out_msgs, struct perr *e)
{
	char path[48], p[96];
	path_fmt(path, sizeof(path), "messages[%zu]", idx);
	if (!json_is_object(m))
		return fail(e, path, "%s must be an object.", path);
	const char *role = json_string_value(json_object_get(m, "role"));
	bool user = role && strcmp(role, "user") == 0;
	if (!user && !(role && strcmp(role, "assistant") == 0)) {
		path_fmt(p, sizeof(p), "%s.role", path);
		return fail(e, p, "%s must be user or assistant.", p);
	}
	const json_t *content = json_object_get(m, "content");
	path_fmt(p, sizeof(p), "%s.content", path);
	if (json_is_string(content))
		return json_array_append_new(out_msgs, json_pack("{s:s,s:o}", "role", role,
								 "content", copy_string(content))) <
			       0
			   ? -ENOMEM
			   : 0;
	if (!json_is_array(content))
		return fail(e, p, "%s must be a string or an array of content blocks.", p);
	/* Anthropic allows an empty content only for a final assistant (prefill) message. */
	if (json_array_size(content) == 0 && !(last && !user))
		return fail(e, p, "%s must not be empty.", p);
	return user ? user_blocks(content, path, out_msgs, e)
		    : assistant_blocks(content, path, out_msgs, e);
}

static int convert_system(const json_t *sys, json_t *out_msgs, struct perr *e)
{
	if (!sys || json_is_null(sys))
		return 0;
	if (json_is_string(sys)) {
		if (json_string_length(sys) == 0)
			return 0;
		return json_array_append_new(out_msgs, json_pack("{s:s,s:o}", "role", "system",
								 "content", copy_string(sys))) < 0
			   ? -ENOMEM
			   : 0;
	}
	if (!json_is_array(sys))
		return fail(e, "system", "system must be a string or an array of text blocks.");
	struct hw_buf text = {0};
	int rc = 0;
	size_t i;
	const json_t *b;
	json_array_foreach(sys, i, b)
	{
		char p[48];
		path_fmt(p, sizeof(p), "system[%zu]", i);
		const char *type = json_string_value(json_object_get(b, "type"));
		if (!type || strcmp(type, "text") != 0) {
			path_fmt(p, sizeof(p), "system[%zu].type", i);
			rc = fail(e, p, "%s must be text.", p);
			break;
		}
		const json_t *t = need_string(b, "text", p, e);
		if (!t || (rc = join_text(&text, t)) < 0) {
			rc = t ? rc : -EINVAL;
			break;
		}
	}
	if (rc == 0 && text.len &&
	    json_array_append_new(out_msgs, json_pack("{s:s,s:o}", "role", "system", "content",
						      buf_string(&text))) < 0)
		rc = -ENOMEM;
	hw_buf_free(&text);
	return rc;
}

static int convert_tools(const json_t *tools, json_t *out, struct perr *e)
{
	if (!tools || json_is_null(tools))
		return 0;
	if (!json_is_array(tools))
		return fail(e, "tools", "tools must be an array.");
	json_t *list = json_array();
	int rc = 0;
	size_t i;
	const json_t *t;
	json_array_foreach(tools, i, t)
	{
		char p[48];
		const char *type = json_string_value(json_object_get(t, "type"));
		if (!json_is_object(t) || (type && strcmp(type, "custom") != 0)) {
			path_fmt(p, sizeof(p), "tools[%zu]%s", i, json_is_object(t) ? ".type" : "");
			rc = fail(e, p,
				  "%s: only custom tools {name, description, input_schema} are "
				  "supported.",
				  p);
			break;
		}
		const char *name = json_string_value(json_object_get(t, "name"));
		if (!name || !hw_chat_tool_name_ok(name)) {
			path_fmt(p, sizeof(p), "tools[%zu].name", i);
			rc = fail(e, p, "%s must match ^[A-Za-z0-9_-]{1,64}$.", p);
			break;
		}
		const json_t *schema = json_object_get(t, "input_schema");
		if (!json_is_object(schema)) {
			path_fmt(p, sizeof(p), "tools[%zu].input_schema", i);
			rc = fail(e, p, "%s must be an object.", p);
			break;
		}
		const json_t *desc = json_object_get(t, "description");
		if (desc && !json_is_null(desc) && !json_is_string(desc)) {
			path_fmt(p, sizeof(p), "tools[%zu].description", i);
			rc = fail(e, p, "%s must be a string.", p);
			break;
		}
		json_t *fn = json_pack("{s:s}", "name", name);
		if (json_is_string(desc))
			json_object_set_new(fn, "description", copy_string(desc));
		json_object_set_new(fn, "parameters", json_deep_copy(schema));
		if (json_array_append_new(
			list, json_pack("{s:s,s:o}", "type", "function", "function", fn)) < 0) {
			rc = -ENOMEM;
			break;
		}
	}
	/* OpenAI rejects an empty tools array; no tools is what it means. */
	if (rc == 0 && json_array_size(list))
		json_object_set(out, "tools", list);
	json_decref(list);
	return rc;
}

static int convert_tool_choice(const json_t *tc, json_t *out, struct perr *e)
{
	if (!tc || json_is_null(tc))
		return 0;
	if (!json_is_object(tc))
		return fail(e, "tool_choice", "tool_choice must be an object.");
	const char *type = json_string_value(json_object_get(tc, "type"));
	json_t *choice;
	if (type && strcmp(type, "auto") == 0) {
		choice = json_string("auto");
	} else if (type && strcmp(type, "any") == 0) {
		choice = json_string("required");
	} else if (type && strcmp(type, "none") == 0) {
		choice = json_string("none");
	} else if (type && strcmp(type, "tool") == 0) {
		const char *name = json_string_value(json_object_get(tc, "name"));
		if (!name || !hw_chat_tool_name_ok(name))
			return fail(e, "tool_choice.name", "tool_choice.name must name a tool.");
		choice = json_pack("{s:s,s:{s:s}}", "type", "function", "function", "name", name);
	} else {
		return fail(e, "tool_choice.type",
			    "tool_choice.type must be auto, any, tool or none.");
	}
	const json_t *dp = json_object_get(tc, "disable_parallel_tool_use");
	if (dp && !json_is_boolean(dp)) {
		json_decref(choice);
		return fail(e, "tool_choice.disable_parallel_tool_use",
			    "tool_choice.disable_parallel_tool_use must be a boolean.");
	}
	/* OpenAI refuses tool_choice and parallel_tool_calls without tools. */
	if (!json_object_get(out, "tools")) {
		json_decref(choice);
		return 0;
	}
	json_object_set_new(out, "tool_choice", choice);
	if (json_is_true(dp))
		json_object_set_new(out, "parallel_tool_calls", json_false());
	return 0;
}

static int number_in(const json_t *req, const char *key, double lo, double hi, json_t *out,
		     bool keep, struct perr *e)
{
	const json_t *v = json_object_get(req, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
		return fail(e, key, "%s must be a number from %g to %g.", key, lo, hi);
	if (keep)
		json_object_set_new(out, key, json_deep_copy(v));
	return 0;
}

static int convert_scalars(const json_t *req, json_t *out, struct perr *e)
{
	const json_t *stops = json_object_get(req, "stop_sequences");
	if (stops && !json_is_null(stops)) {
		if (!json_is_array(stops))
			return fail(e, "stop_sequences",
				    "stop_sequences must be an array of strings.");
		size_t i;
		const json_t *s;
		json_array_foreach(stops, i, s)
		{
			if (!json_is_string(s) || json_string_length(s) == 0) {
				char p[48];
				path_fmt(p, sizeof(p), "stop_sequences[%zu]", i);
				return fail(e, p, "%s must be a non-empty string.", p);
			}
		}
		if (json_array_size(stops))
			json_object_set_new(out, "stop", json_deep_copy(stops));
	}
	int rc = number_in(req, "temperature", 0, 1, out, true, e);
	if (rc == 0)
		rc = number_in(req, "top_p", 0, 1, out, true, e);
	if (rc < 0)
		return rc;
	const json_t *top_k = json_object_get(req, "top_k");
	if (top_k && !json_is_null(top_k) &&
	    !(json_is_integer(top_k) && json_integer_value(top_k) >= 0))
		return fail(e, "top_k", "top_k must be a non-negative integer.");
	const json_t *thinking = json_object_get(req, "thinking");
	if (thinking && !json_is_null(thinking) && !json_is_object(thinking))
		return fail(e, "thinking", "thinking must be an object.");
	const json_t *meta = json_object_get(req, "metadata");
	if (meta && !json_is_null(meta)) {
		if (!json_is_object(meta))
			return fail(e, "metadata", "metadata must be an object.");
		const json_t *uid = json_object_get(meta, "user_id");
		if (uid && !json_is_null(uid) && !json_is_string(uid))
			return fail(e, "metadata.user_id", "metadata.user_id must be a string.");
		if (json_is_string(uid))
			json_object_set_new(out, "user", copy_string(uid));
	}
	const json_t *stream = json_object_get(req, "stream");
	if (stream && !json_is_null(stream)) {
		if (!json_is_boolean(stream))
			return fail(e, "stream", "stream must be a boolean.");
		json_object_set_new(out, "stream", json_boolean(json_is_true(stream)));
	}
	return 0;
}

json_t *hw_messages_to_openai(const json_t *req, char *param, size_t param_len, char *msg,
			      size_t msg_len)
{
	struct perr e = {param, msg, param_len, msg_len};
	json_t *out = NULL;
	int rc;
	if (!json_is_object(req)) {
		rc = fail(&e, "", "Request body must be a JSON object.");
		goto out_err;
	}
	const json_t *model = json_object_get(req, "model");
	if (!json_is_string(model) || json_string_length(model) == 0) {
		rc = fail(&e, "model", "model is required.");
		goto out_err;
	}
	const json_t *max = json_object_get(req, "max_tokens");
	if (!json_is_integer(max) || json_integer_value(max) < 1) {
		rc = fail(&e, "max_tokens",
			  "max_tokens is required and must be a positive integer.");
		goto out_err;
	}
	const json_t *msgs = json_object_get(req, "messages");
	if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
		rc = fail(&e, "messages", "messages must be a non-empty array.");
		goto out_err;
	}
	out = json_pack("{s:o,s:[]}", "model", copy_string(model), "messages");
	json_t *out_msgs = json_object_get(out, "messages");
	if ((rc = convert_system(json_object_get(req, "system"), out_msgs, &e)) < 0)
		goto out_err;
	size_t n_system = json_array_size(out_msgs);
	size_t i;
	const json_t *m;
	json_array_foreach(msgs, i, m)
	{
		if ((rc = convert_message(m, i, i + 1 == json_array_size(msgs), out_msgs, &e)) < 0)
			goto out_err;
	}
	if (json_array_size(out_msgs) == n_system) {
		rc = fail(&e, "messages", "messages carry no content.");
		goto out_err;
	}
	json_object_set_new(out, "max_tokens", json_integer(json_integer_value(max)));
	if ((rc = convert_tools(json_object_get(req, "tools"), out, &e)) < 0 ||
	    (rc = convert_tool_choice(json_object_get(req, "tool_choice"), out, &e)) < 0 ||
	    (rc = convert_scalars(req, out, &e)) < 0)
		goto out_err;
	return out;
out_err:
	if (rc == -ENOMEM)
		fail(&e, "", "Out of memory while converting the request.");
	json_decref(out);
	return NULL;
}

/* ---- responses: OpenAI → Anthropic ---- */

static int64_t int_at(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* The cached prompt tokens of an OpenAI usage: prompt_tokens_details.cached_tokens, or the
 * Anthropic-style field hiway adds for Anthropic upstreams (§5.2). */
static int64_t cached_of(const json_t *usage)
{
	const json_t *d =
	    json_object_get(json_object_get(usage, "prompt_tokens_details"), "cached_tokens");
	return json_is_integer(d) ? json_integer_value(d)
				  : int_at(usage, "cache_read_input_tokens");
}

/* prompt_tokens counts cached and cache-written tokens (§8.2), Anthropic's input_tokens neither. */
static json_t *anthropic_usage(int64_t prompt, int64_t completion, int64_t cached, int64_t creation)
{
	int64_t input = prompt - cached - creation;
	return json_pack("{s:I,s:I,s:I,s:I}", "input_tokens", (json_int_t)(input > 0 ? input : 0),
			 "output_tokens", (json_int_t)completion, "cache_read_input_tokens",
			 (json_int_t)cached, "cache_creation_input_tokens", (json_int_t)creation);
}

static const char *stop_reason_of(const char *finish, bool tool_calls)
{
	if (finish && strcmp(finish, "length") == 0)
		return "max_tokens";
	if (finish && strcmp(finish, "content_filter") == 0)
		return "refusal";
	/* Some OpenAI-compatible servers end a tool call with "stop"; the client's tool loop
	 * needs tool_use either way. */
	if (tool_calls ||
	    (finish && (strcmp(finish, "tool_calls") == 0 || strcmp(finish, "function_call") == 0)))
		return "tool_use";
	return "end_turn";
}

/* The stop sequence that ended the text: the one the upstream names (vLLM `stop_reason`,
 * SGLang `matched_stop`), or the one the text ends with. */
static const char *stop_named(const json_t *stops, const json_t *choice)
{
	static const char *const keys[] = {"stop_reason", "matched_stop"};
	for (size_t k = 0; k < 2; k++) {
		const char *named = json_string_value(json_object_get(choice, keys[k]));
		size_t i;
		const json_t *s;
		json_array_foreach(stops, i, s)
		{
			const char *seq = json_string_value(s);
			if (named && seq && strcmp(named, seq) == 0)
				return seq;
		}
	}
	return NULL;
}

static const char *stop_ending(const json_t *stops, const char *text, size_t len)
{
	size_t i;
	const json_t *s;
	json_array_foreach(stops, i, s)
	{
		size_t n = json_string_length(s);
		if (n && n <= len && memcmp(text + len - n, json_string_value(s), n) == 0)
			return json_string_value(s);
	}
	return NULL;
}

static const json_t *reasoning_of(const json_t *obj)
{
	const json_t *r = json_object_get(obj, "reasoning_content");
	return json_is_string(r) ? r : json_object_get(obj, "reasoning");
}

/* Text of a message: `content` as a string or as text parts, else a `refusal`. */
static int message_text(const json_t *message, struct hw_buf *text)
{
	const json_t *c = json_object_get(message, "content");
	if (json_is_string(c))
		return hw_buf_append(text, json_string_value(c), json_string_length(c));
	size_t i;
	const json_t *part;
	json_array_foreach(c, i, part)
	{
		const json_t *t = json_object_get(part, "text");
		if (json_is_string(t) &&
		    hw_buf_append(text, json_string_value(t), json_string_length(t)) < 0)
			return -ENOMEM;
	}
	const json_t *refusal = json_object_get(message, "refusal");
	if (text->len == 0 && json_is_string(refusal))
		return hw_buf_append(text, json_string_value(refusal), json_string_length(refusal));
	return 0;
}

/* A tool call's arguments as an object; unparsable or non-object arguments (a call cut by
 * max_tokens) give {} so clients can always index `input`. */
static json_t *parse_arguments(const char *args)
{
	json_t *v = args ? json_loads(args, JSON_DECODE_ANY, NULL) : NULL;
	if (json_is_object(v))
		return v;
	json_decref(v);
	return json_object();
}

static json_t *tool_use_block(const json_t *call)
{
	const json_t *fn = json_object_get(call, "function");
	const char *id = json_string_value(json_object_get(call, "id"));
	const char *name = json_string_value(json_object_get(fn, "name"));
	char gen[40];
	if (!id && hw_id_make(gen, sizeof(gen), "toolu_") == 0)
		id = gen;
	return json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id", id ? id : "", "name",
			 name ? name : "", "input",
			 parse_arguments(json_string_value(json_object_get(fn, "arguments"))));
}

json_t *hw_openai_to_message(const json_t *completion, const char *model_id,
			     const json_t *stop_sequences)
{
	char id[40];
	hw_id_make(id, sizeof(id), "msg_"); /* cannot fail: the id fits in 40 bytes */
	const json_t *choice = json_array_get(json_object_get(completion, "choices"), 0);
	const json_t *message = json_object_get(choice, "message");
	const json_t *calls = json_object_get(message, "tool_calls");
	json_t *content = json_array();
	struct hw_buf text = {0};
	json_t *out = NULL;
	const json_t *reasoning = reasoning_of(message);
	if (json_is_string(reasoning) && json_string_length(reasoning))
		json_array_append_new(content,
				      json_pack("{s:s,s:o,s:s}", "type", "thinking", "thinking",
						copy_string(reasoning), "signature", ""));
	if (message_text(message, &text) < 0)
		goto out;
	if (text.len)
		json_array_append_new(
		    content, json_pack("{s:s,s:o}", "type", "text", "text", buf_string(&text)));
	size_t i;
	const json_t *call;
	json_array_foreach(calls, i, call)
	{
		json_array_append_new(content, tool_use_block(call));
	}

	const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
	bool has_calls = json_array_size(calls) > 0;
	const char *reason = stop_reason_of(finish, has_calls);
	const char *stop = NULL;
	if (finish && strcmp(finish, "stop") == 0 && !has_calls) {
		stop = stop_named(stop_sequences, choice);
		if (!stop)
			stop = stop_ending(stop_sequences, text.data, text.len);
		if (stop)
			reason = "stop_sequence";
	}
	const json_t *usage = json_object_get(completion, "usage");
	out = json_pack(
	    "{s:s,s:s,s:s,s:s,s:O,s:s,s:o,s:o}", "id", id, "type", "message", "role", "assistant",
	    "model", model_id ? model_id : "", "content", content, "stop_reason", reason,
	    "stop_sequence", stop ? json_string(stop) : json_null(), "usage",
	    anthropic_usage(int_at(usage, "prompt_tokens"), int_at(usage, "completion_tokens"),
			    cached_of(usage), int_at(usage, "cache_creation_input_tokens")));
out:
	json_decref(content);
	hw_buf_free(&text);
	return out;
}

/* ---- stream: OpenAI chunks → Anthropic events ---- */

/* Writes one event; `data` is stolen and its `type` names the event. USD amounts (the
 * `_hiway` of the hiway event) are written as numbers. */
static int emit(struct hw_buf *out, json_t *data)
{
	if (!data)
		return -ENOMEM;
	char *s = hw_json_dumps(data);
	int rc =
	    s ? hw_sse_write(out, json_string_value(json_object_get(data, "type")), s, strlen(s))
	      : -ENOMEM;
	free(s);
	json_decref(data);
	return rc < 0 ? -ENOMEM : 0;
}

void hw_messages_stream_init(struct hw_messages_stream *s, const char *model_id,
			     const json_t *stop_sequences)
{
	memset(s, 0, sizeof(*s));
	hw_id_make(s->id, sizeof(s->id), "msg_"); /* cannot fail: the id fits in 40 bytes */
	s->model = strdup(model_id ? model_id : "");
	s->stop_sequences = json_deep_copy(stop_sequences);
	s->last_tool = -1;
	size_t i;
	const json_t *seq;
	json_array_foreach(s->stop_sequences, i, seq)
	{
		if (json_string_length(seq) > s->stop_max)
			s->stop_max = json_string_length(seq);
	}
}

static int start_message(struct hw_messages_stream *s, int64_t input_tokens, struct hw_buf *out)
{
	s->started = true;
	return emit(out,
		    json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:[],s:n,s:n,s:{s:I,s:i,s:i,s:i}}}", "type",
			      "message_start", "message", "id", s->id, "type", "message", "role",
			      "assistant", "model", s->model ? s->model : "", "content",
			      "stop_reason", "stop_sequence", "usage", "input_tokens",
			      (json_int_t)input_tokens, "cache_creation_input_tokens", 0,
			      "cache_read_input_tokens", 0, "output_tokens", 0));
}

static int close_block(struct hw_messages_stream *s, struct hw_buf *out)
{
	if (s->open == HW_MESSAGES_BLOCK_NONE)
		return 0;
	s->open = HW_MESSAGES_BLOCK_NONE;
	return emit(
	    out, json_pack("{s:s,s:i}", "type", "content_block_stop", "index", s->next_index - 1));
}

/* Makes a block of `kind` the open one; `block` (stolen) is its content_block_start body. */
static int open_block(struct hw_messages_stream *s, enum hw_messages_block kind, json_t *block,
		      struct hw_buf *out)
{
	int rc = close_block(s, out);
	if (rc < 0) {
		json_decref(block);
		return rc;
	}
	s->open = kind;
	return emit(out, json_pack("{s:s,s:i,s:o}", "type", "content_block_start", "index",
				   s->next_index++, "content_block", block));
}

static int delta(struct hw_messages_stream *s, const char *type, const char *key, const json_t *v,
		 struct hw_buf *out)
{
	return emit(out, json_pack("{s:s,s:i,s:{s:s,s:o}}", "type", "content_block_delta", "index",
				   s->next_index - 1, "delta", "type", type, key, copy_string(v)));
}

static int thinking_piece(struct hw_messages_stream *s, const json_t *v, struct hw_buf *out)
{
	int rc = 0;
	if (s->open != HW_MESSAGES_BLOCK_THINKING)
		rc = open_block(
		    s, HW_MESSAGES_BLOCK_THINKING,
		    json_pack("{s:s,s:s,s:s}", "type", "thinking", "thinking", "", "signature", ""),
		    out);
	return rc < 0 ? rc : delta(s, "thinking_delta", "thinking", v, out);
}

/* Keeps the last stop_max bytes of text: enough to see whether it ended at a stop sequence. */
static int keep_tail(struct hw_messages_stream *s, const json_t *v)
{
	if (!s->stop_max)
		return 0;
	if (hw_buf_append(&s->tail, json_string_value(v), json_string_length(v)) < 0)
		return -ENOMEM;
	if (s->tail.len > s->stop_max) {
		memmove(s->tail.data, s->tail.data + s->tail.len - s->stop_max, s->stop_max);
		s->tail.len = s->stop_max;
		s->tail.data[s->tail.len] = '\0';
	}
	return 0;
}

static int text_piece(struct hw_messages_stream *s, const json_t *v, struct hw_buf *out)
{
	int rc = 0;
	if (s->open != HW_MESSAGES_BLOCK_TEXT)
		rc = open_block(s, HW_MESSAGES_BLOCK_TEXT,
				json_pack("{s:s,s:s}", "type", "text", "text", ""), out);
	if (rc == 0)
		rc = keep_tail(s, v);
	return rc < 0 ? rc : delta(s, "text_delta", "text", v, out);
}

static int tool_piece(struct hw_messages_stream *s, const json_t *tc, struct hw_buf *out)
{
	const json_t *jidx = json_object_get(tc, "index");
	const char *id = json_string_value(json_object_get(tc, "id"));
	const json_t *fn = json_object_get(tc, "function");
	/* Without an index, an id starts the next call and its absence continues the open one. */
	int64_t idx = json_is_integer(jidx)			? json_integer_value(jidx)
		      : id || s->open != HW_MESSAGES_BLOCK_TOOL ? s->last_tool + 1
								: s->open_tool;
	int rc = 0;
	if (s->open != HW_MESSAGES_BLOCK_TOOL || idx != s->open_tool) {
		if (idx <= s->last_tool)
			return -EPROTO;
		char gen[40];
		if (!id && hw_id_make(gen, sizeof(gen), "toolu_") == 0)
			id = gen;
		const char *name = json_string_value(json_object_get(fn, "name"));
		rc = open_block(s, HW_MESSAGES_BLOCK_TOOL,
				json_pack("{s:s,s:s,s:s,s:{}}", "type", "tool_use", "id",
					  id ? id : "", "name", name ? name : "", "input"),
				out);
		s->open_tool = s->last_tool = idx;
	}
	const json_t *args = json_object_get(fn, "arguments");
	if (rc == 0 && json_is_string(args) && json_string_length(args))
		rc = delta(s, "input_json_delta", "partial_json", args, out);
	return rc;
}

int hw_messages_stream_chunk(struct hw_messages_stream *s, const json_t *chunk, struct hw_buf *out)
{
	if (s->ended)
		return -EINVAL;
	const json_t *usage = json_object_get(chunk, "usage");
	int rc = 0;
	if (json_is_object(usage))
		s->cache_creation = int_at(usage, "cache_creation_input_tokens");
	if (!s->started) {
		int64_t input =
		    int_at(usage, "prompt_tokens") - cached_of(usage) - s->cache_creation;
		if ((rc = start_message(s, input > 0 ? input : 0, out)) < 0)
			return rc;
	}
	const json_t *choice = json_array_get(json_object_get(chunk, "choices"), 0);
	const json_t *d = json_object_get(choice, "delta");
	const json_t *reasoning = reasoning_of(d);
	if (json_is_string(reasoning) && json_string_length(reasoning) &&
	    (rc = thinking_piece(s, reasoning, out)) < 0)
		return rc;
	const json_t *content = json_object_get(d, "content");
	if (!json_is_string(content) || !json_string_length(content))
		content = json_object_get(d, "refusal");
	if (json_is_string(content) && json_string_length(content) &&
	    (rc = text_piece(s, content, out)) < 0)
		return rc;
	size_t i;
	const json_t *tc;
	json_array_foreach(json_object_get(d, "tool_calls"), i, tc)
	{
		if ((rc = tool_piece(s, tc, out)) < 0)
			return rc;
	}
	const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
	if (finish)
		snprintf(s->finish, sizeof(s->finish), "%s", finish);
	const char *named = stop_named(s->stop_sequences, choice);
	if (named)
		s->matched_stop = named;
	return 0;
}

int hw_messages_stream_finish(struct hw_messages_stream *s, int64_t prompt_tokens,
			      int64_t completion_tokens, int64_t cached_tokens, const json_t *hiway,
			      struct hw_buf *out)
{
	if (s->ended)
		return -EINVAL;
	s->ended = true;
	int64_t input = prompt_tokens - cached_tokens - s->cache_creation;
	int rc = s->started ? 0 : start_message(s, input > 0 ? input : 0, out);
	if (rc == 0)
		rc = close_block(s, out);
	if (rc < 0)
		return rc;
	bool tools = s->last_tool >= 0;
	const char *reason = stop_reason_of(s->finish[0] ? s->finish : NULL, tools);
	const char *stop = NULL;
	if (strcmp(s->finish, "stop") == 0 && !tools) {
		stop = s->matched_stop ? s->matched_stop
				       : stop_ending(s->stop_sequences, s->tail.data, s->tail.len);
		if (stop)
			reason = "stop_sequence";
	}
	rc = emit(out, json_pack("{s:s,s:{s:s,s:o},s:o}", "type", "message_delta", "delta",
				 "stop_reason", reason, "stop_sequence",
				 stop ? json_string(stop) : json_null(), "usage",
				 anthropic_usage(prompt_tokens, completion_tokens, cached_tokens,
						 s->cache_creation)));
	if (rc == 0 && hiway)
		rc = emit(out, json_pack("{s:s,s:o,s:o}", "type", "hiway", "usage",
					 anthropic_usage(prompt_tokens, completion_tokens,
							 cached_tokens, s->cache_creation),
					 "_hiway", json_deep_copy(hiway)));
	if (rc == 0)
		rc = emit(out, json_pack("{s:s}", "type", "message_stop"));
	return rc;
}

int hw_messages_stream_error(struct hw_messages_stream *s, const json_t *error_object,
			     struct hw_buf *out)
{
	if (s->ended)
		return -EINVAL;
	s->ended = true;
	return emit(out,
		    json_pack("{s:s,s:o}", "type", "error", "error", json_deep_copy(error_object)));
}

void hw_messages_stream_free(struct hw_messages_stream *s)
{
	free(s->model);
	json_decref(s->stop_sequences);
	hw_buf_free(&s->tail);
	memset(s, 0, sizeof(*s));
}

void hw_messages_error_body(json_t *envelope)
{
	json_t *error = json_incref(json_object_get(envelope, "error"));
	if (!error)
		return;
	/* Rebuilt so "type" leads, as in Anthropic's own error bodies. */
	json_object_clear(envelope);
	json_object_set_new(envelope, "type", json_string("error"));
	json_object_set_new(envelope, "error", error);
}
