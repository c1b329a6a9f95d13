// SPDX-License-Identifier: Apache-2.0
#include "gateway/chat_request.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define NON_TEXT_PART_BYTES 3000

struct perr {
	char *param, *msg;
	size_t plen, mlen;
};

static int fail(struct perr *e, const char *param, const char *fmt, const char *detail)
{
	snprintf(e->param, e->plen, "%s", param ? param : "");
	snprintf(e->msg, e->mlen, fmt, detail ? detail : "");
	return -EINVAL;
}

bool hw_chat_tool_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Adds a content value's text bytes and, for the last user message, collects its text. */
static int scan_content(json_t *content, const char *path, struct hw_chat_req *r,
			struct hw_buf *text, struct perr *e)
{
	char p[96];
	if (json_is_string(content)) {
		size_t n = json_string_length(content);
		r->text_bytes += (int64_t)n;
		if (text)
			hw_buf_append(text, json_string_value(content), n);
		return 0;
	}
	if (!json_is_array(content)) {
		snprintf(p, sizeof(p), "%s.content", path);
		return fail(e, p, "%s must be a string, an array of parts or null.", p);
	}
	size_t i;
	json_t *part;
	json_array_foreach(content, i, part)
	{
		snprintf(p, sizeof(p), "%s.content[%zu]", path, i);
		const char *type = json_string_value(json_object_get(part, "type"));
		if (!json_is_object(part) || !type)
			return fail(e, p, "%s must be an object with a type.", p);
		if (strcmp(type, "text") == 0) {
			json_t *t = json_object_get(part, "text");
			if (!json_is_string(t))
				return fail(e, p, "%s.text must be a string.", p);
			r->text_bytes += (int64_t)json_string_length(t);
			if (text) {
				if (text->len)
					hw_buf_append(text, "\n", 1);
				hw_buf_append(text, json_string_value(t), json_string_length(t));
			}
		} else if (strcmp(type, "image_url") == 0 || strcmp(type, "input_audio") == 0 ||
			   strcmp(type, "file") == 0) {
			r->text_bytes += NON_TEXT_PART_BYTES;
		} else {
			return fail(e, p, "%s has an unsupported part type.", p);
		}
	}
	return 0;
}

static int scan_message(json_t *m, size_t idx, size_t count, struct hw_chat_req *r, struct perr *e)
{
	char path[64], p[96];
	snprintf(path, sizeof(path), "messages[%zu]", idx);
	if (!json_is_object(m))
		return fail(e, path, "%s must be an object.", path);
	const char *role = json_string_value(json_object_get(m, "role"));
	snprintf(p, sizeof(p), "%s.role", path);
	if (!role)
		return fail(e, p, "%s is required.", p);
	static const char *const roles[] = {"system", "developer", "user", "assistant", "tool"};
	bool known = false;
	for (size_t i = 0; i < 5; i++)
		known |= strcmp(role, roles[i]) == 0;
	if (!known)
		return fail(e, p, "%s must be one of system, developer, user, assistant, tool.", p);
	json_t *content = json_object_get(m, "content");
	json_t *tool_calls = json_object_get(m, "tool_calls");
	bool is_user = strcmp(role, "user") == 0;
	bool is_tool = strcmp(role, "tool") == 0;
	bool last = idx + 1 == count;
	if (is_tool && !json_is_string(json_object_get(m, "tool_call_id"))) {
		snprintf(p, sizeof(p), "%s.tool_call_id", path);
		return fail(e, p, "%s is required for tool messages.", p);
	}
	if (!content || json_is_null(content)) {
		if (strcmp(role, "assistant") != 0 || !json_is_array(tool_calls)) {
			snprintf(p, sizeof(p), "%s.content", path);
			return fail(e, p, "%s is required.", p);
		}
	} else {
		struct hw_buf *text = NULL;
		if (is_user) {
			hw_buf_reset(&r->last_user_text);
			text = &r->last_user_text;
		} else if (is_tool && last) {
			text = &r->last_tool_text;
		}
		int rc = scan_content(content, path, r, text, e);
		if (rc < 0)
			return rc;
	}
	if (json_is_array(tool_calls)) {
		size_t i;
		json_t *tc;
		json_array_foreach(tool_calls, i, tc)
		{
			const char *args = json_string_value(json_object_get(json_object_get(tc, "function"), "arguments"));
			if (args)
				r->text_bytes += (int64_t)strlen(args);
		}
	}
	if (last) {
		r->last_is_tool = is_tool;
		r->last_is_user = is_user;
	}
	return 0;
}

static int scan_tools(json_t *tools, struct hw_chat_req *r, struct perr *e)
{
	char p[64];
	if (!json_is_array(tools))
		return fail(e, "tools", "tools must be an array.", NULL);
	size_t i;
	json_t *t;
	json_array_foreach(tools, i, t)
	{
		snprintf(p, sizeof(p), "tools[%zu].function.name", i);
		json_t *fn = json_object_get(t, "function");
		const char *name = json_string_value(json_object_get(fn, "name"));
		if (!name || !hw_chat_tool_name_ok(name))
			return fail(e, p, "%s must match ^[A-Za-z0-9_-]{1,64}$.", p);
		json_t *params = json_object_get(fn, "parameters");
		if (params && !json_is_object(params)) {
			snprintf(p, sizeof(p), "tools[%zu].function.parameters", i);
			return fail(e, p, "%s must be an object.", p);
		}
		if (i == 0)
			r->first_tool = name;
	}
	r->n_tools = json_array_size(tools);
	char *dump = json_dumps(tools, JSON_COMPACT);
	if (dump) {
		r->text_bytes += (int64_t)strlen(dump);
		free(dump);
	}
	return 0;
}

static int max_tokens_field(json_t *root, const char *name, struct hw_chat_req *r, struct perr *e)
{
	json_t *v = json_object_get(root, name);
	if (!v || json_is_null(v) || r->max_tokens)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return fail(e, name, "%s must be a positive integer.", name);
	r->max_tokens = json_integer_value(v);
	return 0;
}

int hw_chat_parse(const char *body, size_t len, struct hw_chat_req *r, char *param,
		  size_t param_len, char *msg, size_t msg_len)
{
	json_error_t jerr;
	json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		memset(r, 0, sizeof(*r));
		struct perr e = {param, msg, param_len, msg_len};
		return fail(&e, NULL, "Request body is not valid JSON: %s", jerr.text);
	}
	return hw_chat_parse_root(root, r, param, param_len, msg, msg_len);
}

int hw_chat_parse_root(json_t *root, struct hw_chat_req *r, char *param, size_t param_len,
		       char *msg, size_t msg_len)
{
	struct perr e = {param, msg, param_len, msg_len};
	memset(r, 0, sizeof(*r));
	r->root = root;
	if (!json_is_object(root))
		return fail(&e, NULL, "Request body must be a JSON object.", NULL);
	/* Held by its own reference: the upstream body is built by editing root in place. */
	r->model_ref = json_incref(json_object_get(root, "model"));
	r->model = json_string_value(r->model_ref);
	if (!r->model || !*r->model)
		return fail(&e, "model", "model is required.", NULL);
	json_t *msgs = json_object_get(root, "messages");
	if (!json_is_array(msgs) || json_array_size(msgs) == 0)
		return fail(&e, "messages", "messages must be a non-empty array.", NULL);
	size_t i;
	json_t *m;
	json_array_foreach(msgs, i, m)
	{
		int rc = scan_message(m, i, json_array_size(msgs), r, &e);
		if (rc < 0)
			return rc;
	}
	json_t *stream = json_object_get(root, "stream");
	if (stream && !json_is_null(stream) && !json_is_boolean(stream))
		return fail(&e, "stream", "stream must be a boolean.", NULL);
	r->stream = json_is_true(stream);
	json_t *so = json_object_get(root, "stream_options");
	if (so && !json_is_null(so)) {
		if (!json_is_object(so))
			return fail(&e, "stream_options", "stream_options must be an object.", NULL);
		json_t *iu = json_object_get(so, "include_usage");
		if (iu && !json_is_boolean(iu))
			return fail(&e, "stream_options.include_usage",
				    "stream_options.include_usage must be a boolean.", NULL);
		r->include_usage = json_is_true(iu);
	}
	int rc = max_tokens_field(root, "max_completion_tokens", r, &e);
	if (rc == 0)
		rc = max_tokens_field(root, "max_tokens", r, &e);
	if (rc < 0)
		return rc;
	json_t *n = json_object_get(root, "n");
	if (n && !json_is_null(n) && !(json_is_integer(n) && json_integer_value(n) == 1))
		return fail(&e, "n", "n must be 1 when present.", NULL);
	json_t *tools = json_object_get(root, "tools");
	if (tools && !json_is_null(tools) && (rc = scan_tools(tools, r, &e)) < 0)
		return rc;
	json_t *tc = json_object_get(root, "tool_choice");
	if (json_is_string(tc))
		r->tool_choice_none = strcmp(json_string_value(tc), "none") == 0;
	else if (json_is_object(tc))
		r->forced_tool = json_string_value(json_object_get(json_object_get(tc, "function"), "name"));
	json_t *user = json_object_get(root, "user");
	r->end_user = json_string_value(user);
	r->est_tokens = (r->text_bytes + 3) / 4;
	return 0;
}

void hw_chat_req_free(struct hw_chat_req *r)
{
	json_decref(r->model_ref);
	json_decref(r->root);
	hw_buf_free(&r->last_user_text);
	hw_buf_free(&r->last_tool_text);
	memset(r, 0, sizeof(*r));
}
