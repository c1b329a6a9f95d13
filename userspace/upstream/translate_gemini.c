// SPDX-License-Identifier: Apache-2.0
/* Google Gemini translation (SPEC §8.4): OpenAI chat-completions request → generateContent
 * body; GenerateContentResponse and its streamed partial responses → OpenAI completion and
 * chunks. Requests are validated by the chat parser first; what is checked here is only
 * what Gemini cannot express. */
#include "upstream/translate_gemini.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/ids.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static int fail(char *msg, size_t msg_len,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- Schemas ---------------------------------------------------------------------- */

/* Gemini's Schema is a subset of OpenAPI 3.0 and rejects unknown keys (additionalProperties,
 * $schema, strict, ...) with a 400, so JSON Schemas written for OpenAI are cut down to the
 * keys it knows. */
static const char *const schema_plain_keys[] = {
	"format",    "title",	  "description",   "nullable",	    "enum",
	"maxItems",  "minItems",  "required",	   "minProperties", "maxProperties",
	"minLength", "maxLength", "pattern",	   "example",	    "propertyOrdering",
	"default",   "minimum",	  "maximum",
};

static bool is_plain_schema_key(const char *key)
{
	for (size_t i = 0; i < sizeof(schema_plain_keys) / sizeof(schema_plain_keys[0]); i++)
		if (strcmp(key, schema_plain_keys[i]) == 0)
			return true;
	return false;
}

static json_t *schema_for_gemini(const json_t *in);

/* JSON Schema's nullable union (`"type": ["string", "null"]`) is OpenAPI's `nullable`. */
static void schema_type(json_t *out, const json_t *type)
{
	if (json_is_string(type)) {
		json_object_set(out, "type", (json_t *)type);
		return;
	}
	size_t i;
	const json_t *t;
	json_array_foreach(type, i, t) {
		const char *name = json_string_value(t);
		if (!name)
			continue;
		if (strcmp(name, "null") == 0)
			json_object_set_new(out, "nullable", json_true());
		else if (!json_object_get(out, "type"))
			json_object_set_new(out, "type", json_string(name));
	}
}

static json_t *schema_list_for_gemini(const json_t *list)
{
	json_t *out = json_array();
	size_t i;
	const json_t *s;
	json_array_foreach(list, i, s) {
		json_t *g = schema_for_gemini(s);
		if (g)
			json_array_append_new(out, g);
	}
	return out;
}

static json_t *schema_for_gemini(const json_t *in)
{
	if (!json_is_object(in))
		return NULL;
	json_t *out = json_object();
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)in, key, val) {
		if (strcmp(key, "type") == 0) {
			schema_type(out, val);
		} else if (strcmp(key, "properties") == 0 && json_is_object(val)) {
			json_t *props = json_object();
			const char *pname;
			json_t *pval;
			json_object_foreach(val, pname, pval) {
				json_t *g = schema_for_gemini(pval);
				if (g)
					json_object_set_new(props, pname, g);
			}
			/* Gemini rejects an OBJECT whose properties are present but empty. */
			if (json_object_size(props))
				json_object_set_new(out, "properties", props);
			else
				json_decref(props);
		} else if (strcmp(key, "items") == 0) {
			json_t *g = schema_for_gemini(val);
			if (g)
				json_object_set_new(out, "items", g);
		} else if ((strcmp(key, "anyOf") == 0 || strcmp(key, "oneOf") == 0) &&
			   json_is_array(val)) {
			/* Gemini validates oneOf no differently from anyOf and knows only the latter. */
			json_object_set_new(out, "anyOf", schema_list_for_gemini(val));
		} else if (is_plain_schema_key(key)) {
			json_object_set(out, key, val);
		}
	}
	return out;
}

/* ---- Request ---------------------------------------------------------------------- */

struct req_ctx {
	json_t *contents;   /* the Gemini turns built so far */
	json_t *system;     /* systemInstruction parts */
	json_t *call_names; /* tool_call_id → function name, from earlier assistant messages */
	char *msg;
	size_t msg_len;
};

/* Appends a turn, merging it into the previous one when the role repeats: Gemini expects
 * turns to alternate, and the OpenAI form splits one turn into several messages (a run of
 * tool results, a tool result followed by a user message). Steals `parts`. */
static void add_turn(struct req_ctx *c, const char *role, json_t *parts)
{
	if (json_array_size(parts) == 0) {
		json_decref(parts);
		return;
	}
	json_t *last = json_array_get(c->contents, json_array_size(c->contents) - 1);
	if (last && strcmp(json_string_value(json_object_get(last, "role")), role) == 0) {
		json_array_extend(json_object_get(last, "parts"), parts);
		json_decref(parts);
		return;
	}
	json_array_append_new(c->contents, json_pack("{s:s,s:o}", "role", role, "parts", parts));
}

/* A MIME type for a remote file Gemini is to fetch, from the URL's extension. */
static const char *mime_from_url(const char *url)
{
	static const struct {
		const char *ext, *mime;
	} known[] = {
		{".png", "image/png"},	 {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"},
		{".gif", "image/gif"},	 {".webp", "image/webp"}, {".heic", "image/heic"},
		{".heif", "image/heif"}, {".pdf", "application/pdf"},
	};
	size_t end = strcspn(url, "?#");
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		size_t n = strlen(known[i].ext);
		if (end >= n && strncasecmp(url + end - n, known[i].ext, n) == 0)
			return known[i].mime;
	}
	return "image/jpeg";
}

/* `data:<mime>;base64,<data>` → inlineData; http(s) → fileData (Gemini fetches it). */
static int url_part(struct req_ctx *c, const char *url, json_t **part)
{
	if (strncmp(url, "data:", 5) == 0) {
		const char *semi = strstr(url, ";base64,");
		if (!semi || semi == url + 5)
			return fail(c->msg, c->msg_len,
				    "a data: URL must be of the form data:<type>;base64,<data>");
		*part = json_pack("{s:{s:s%,s:s}}", "inlineData", "mimeType", url + 5,
				  (size_t)(semi - url - 5), "data", semi + 8);
		return 0;
	}
	if (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0) {
		*part = json_pack("{s:{s:s,s:s}}", "fileData", "mimeType", mime_from_url(url),
				  "fileUri", url);
		return 0;
	}
	return fail(c->msg, c->msg_len, "image and file URLs must be data: or http(s): URLs");
}

static int content_part(struct req_ctx *c, const json_t *p, json_t *parts)
{
	const char *type = json_string_value(json_object_get(p, "type"));
	json_t *part = NULL;
	int rc = 0;
	if (!type) {
		return fail(c->msg, c->msg_len, "a content part has no type");
	} else if (strcmp(type, "text") == 0) {
		const json_t *t = json_object_get(p, "text");
		if (!json_is_string(t))
			return fail(c->msg, c->msg_len, "a text part has no text");
		/* Gemini rejects a part with empty text. */
		if (!json_string_length(t))
			return 0;
		part = json_pack("{s:O}", "text", t);
	} else if (strcmp(type, "image_url") == 0) {
		const json_t *iu = json_object_get(p, "image_url");
		const char *url = json_is_string(iu) ? json_string_value(iu)
						     : json_string_value(json_object_get(iu, "url"));
		if (!url)
			return fail(c->msg, c->msg_len, "an image_url part has no url");
		rc = url_part(c, url, &part);
	} else if (strcmp(type, "input_audio") == 0) {
		const json_t *a = json_object_get(p, "input_audio");
		const char *fmt = json_string_value(json_object_get(a, "format"));
		const char *data = json_string_value(json_object_get(a, "data"));
		if (!fmt || !data)
			return fail(c->msg, c->msg_len, "an input_audio part needs data and format");
		char mime[64];
		snprintf(mime, sizeof(mime), "audio/%s", fmt);
		part = json_pack("{s:{s:s,s:s}}", "inlineData", "mimeType", mime, "data", data);
	} else if (strcmp(type, "file") == 0) {
		const char *fd = json_string_value(json_object_get(json_object_get(p, "file"), "file_data"));
		if (!fd)
			return fail(c->msg, c->msg_len,
				    "file parts need file_data: Gemini cannot read OpenAI file ids");
		rc = url_part(c, fd, &part);
	} else {
		return fail(c->msg, c->msg_len, "content part type '%s' is not supported by Gemini",
			    type);
	}
	if (rc)
		return rc;
	if (!part)
		return fail(c->msg, c->msg_len, "out of memory");
	json_array_append_new(parts, part);
	return 0;
}

/* A message's `content` (string, parts or null) as Gemini parts appended to `parts`. */
static int content_parts(struct req_ctx *c, const json_t *content, json_t *parts)
{
	if (json_is_string(content)) {
		/* Gemini rejects a part with empty text. */
		if (json_string_length(content))
			json_array_append_new(parts, json_pack("{s:O}", "text", content));
		return 0;
	}
	size_t i;
	const json_t *p;
	json_array_foreach(content, i, p) {
		int rc = content_part(c, p, parts);
		if (rc)
			return rc;
	}
	return 0;
}

/* The text of a message whose content is a string or text parts (system, tool). */
static int content_text(const json_t *content, struct hw_buf *out)
{
	if (json_is_string(content))
		return hw_buf_append(out, json_string_value(content), json_string_length(content));
	size_t i;
	const json_t *p;
	json_array_foreach(content, i, p) {
		const json_t *t = json_object_get(p, "text");
		if (json_is_string(t) && hw_buf_append(out, json_string_value(t), json_string_length(t)))
			return -ENOMEM;
	}
	return 0;
}

static int assistant_msg(struct req_ctx *c, const json_t *m, json_t *parts)
{
	int rc = content_parts(c, json_object_get(m, "content"), parts);
	if (rc)
		return rc;
	size_t i;
	const json_t *tc;
	json_array_foreach(json_object_get(m, "tool_calls"), i, tc) {
		const json_t *fn = json_object_get(tc, "function");
		const char *name = json_string_value(json_object_get(fn, "name"));
		const char *args = json_string_value(json_object_get(fn, "arguments"));
		if (!name)
			return fail(c->msg, c->msg_len, "a tool call has no function name");
		/* Some clients send "" for a call without arguments. */
		json_t *obj = args && args[strspn(args, " \t\r\n")] ? json_loads(args, 0, NULL)
								     : json_object();
		if (!json_is_object(obj)) {
			json_decref(obj);
			return fail(c->msg, c->msg_len,
				    "tool call '%s': arguments must be a JSON object", name);
		}
		json_t *part = json_pack("{s:{s:s,s:o}}", "functionCall", "name", name, "args", obj);
		/* Gemini 3 rejects a replayed call without the thought signature it came with, and
		 * the OpenAI form has nowhere to keep one: Google's documented sentinel stands in.
		 * The first call of a turn is the one that carries a signature. */
		if (part && i == 0)
			json_object_set_new(part, "thoughtSignature",
					    json_string("skip_thought_signature_validator"));
		json_array_append_new(parts, part);
		const char *id = json_string_value(json_object_get(tc, "id"));
		if (id)
			json_object_set_new(c->call_names, id, json_string(name));
	}
	return 0;
}

static int tool_msg(struct req_ctx *c, const json_t *m, json_t *parts)
{
	const char *id = json_string_value(json_object_get(m, "tool_call_id"));
	const char *name = id ? json_string_value(json_object_get(c->call_names, id)) : NULL;
	if (!name)
		return fail(c->msg, c->msg_len,
			    "tool message '%s' answers no earlier assistant tool call", id ? id : "");
	struct hw_buf text = {0};
	if (content_text(json_object_get(m, "content"), &text)) {
		hw_buf_free(&text);
		return fail(c->msg, c->msg_len, "out of memory");
	}
	json_array_append_new(parts, json_pack("{s:{s:s,s:{s:s%}}}", "functionResponse", "name",
					       name, "response", "content",
					       text.data ? text.data : "", text.len));
	hw_buf_free(&text);
	return 0;
}

static int system_msg(struct req_ctx *c, const json_t *m)
{
	struct hw_buf text = {0};
	int rc = content_text(json_object_get(m, "content"), &text);
	if (rc == 0 && text.len)
		json_array_append_new(c->system, json_pack("{s:s%}", "text", text.data, text.len));
	hw_buf_free(&text);
	return rc ? fail(c->msg, c->msg_len, "out of memory") : 0;
}

static int messages(struct req_ctx *c, const json_t *msgs)
{
	size_t i;
	const json_t *m;
	json_array_foreach(msgs, i, m) {
		const char *role = json_string_value(json_object_get(m, "role"));
		if (!role)
			return fail(c->msg, c->msg_len, "messages[%zu] has no role", i);
		if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
			int rc = system_msg(c, m);
			if (rc)
				return rc;
			continue;
		}
		json_t *parts = json_array();
		int rc;
		const char *turn = "user";
		if (strcmp(role, "assistant") == 0) {
			turn = "model";
			rc = assistant_msg(c, m, parts);
		} else if (strcmp(role, "tool") == 0) {
			rc = tool_msg(c, m, parts);
		} else {
			rc = content_parts(c, json_object_get(m, "content"), parts);
		}
		if (rc) {
			json_decref(parts);
			return rc;
		}
		add_turn(c, turn, parts);
	}
	return 0;
}

static json_t *function_declarations(const json_t *tools)
{
	json_t *decls = json_array();
	size_t i;
	const json_t *t;
	json_array_foreach(tools, i, t) {
		const json_t *fn = json_object_get(t, "function");
		const json_t *name = json_object_get(fn, "name");
		if (!json_is_string(name))
			continue;
		json_t *d = json_pack("{s:O}", "name", name);
		const json_t *desc = json_object_get(fn, "description");
		if (json_is_string(desc))
			json_object_set(d, "description", (json_t *)desc);
		/* A function without parameters is declared without the key: Gemini rejects an
		 * object schema with no properties. */
		json_t *params = schema_for_gemini(json_object_get(fn, "parameters"));
		if (params && json_object_get(params, "properties"))
			json_object_set_new(d, "parameters", params);
		else
			json_decref(params);
		json_array_append_new(decls, d);
	}
	return decls;
}

static json_t *tool_config(const json_t *choice)
{
	const char *mode = json_string_value(choice);
	if (mode) {
		if (strcmp(mode, "none") == 0)
			mode = "NONE";
		else if (strcmp(mode, "required") == 0)
			mode = "ANY";
		else
			mode = "AUTO";
		return json_pack("{s:{s:s}}", "functionCallingConfig", "mode", mode);
	}
	const char *name = json_string_value(json_object_get(json_object_get(choice, "function"), "name"));
	if (!name)
		return NULL;
	return json_pack("{s:{s:s,s:[s]}}", "functionCallingConfig", "mode", "ANY",
			 "allowedFunctionNames", name);
}

static json_t *generation_config(const json_t *oa, int64_t max_tokens)
{
	json_t *gc = json_object();
	const json_t *v;
	if (json_is_number(v = json_object_get(oa, "temperature")))
		json_object_set(gc, "temperature", (json_t *)v);
	if (json_is_number(v = json_object_get(oa, "top_p")))
		json_object_set(gc, "topP", (json_t *)v);
	json_object_set_new(gc, "maxOutputTokens", json_integer(max_tokens));
	v = json_object_get(oa, "stop");
	if (json_is_string(v)) {
		json_object_set_new(gc, "stopSequences", json_pack("[O]", v));
	} else if (json_is_array(v) && json_array_size(v)) {
		json_object_set(gc, "stopSequences", (json_t *)v);
	}
	json_object_set_new(gc, "candidateCount", json_integer(1));
	const json_t *rf = json_object_get(oa, "response_format");
	const char *rft = json_string_value(json_object_get(rf, "type"));
	if (rft && (strcmp(rft, "json_object") == 0 || strcmp(rft, "json_schema") == 0)) {
		json_object_set_new(gc, "responseMimeType", json_string("application/json"));
		json_t *schema = schema_for_gemini(
			json_object_get(json_object_get(rf, "json_schema"), "schema"));
		if (schema)
			json_object_set_new(gc, "responseSchema", schema);
	}
	return gc;
}

json_t *hw_gemini_request_from_openai(const json_t *oa, int64_t max_tokens, char *msg,
				      size_t msg_len)
{
	struct req_ctx c = {.contents = json_array(),
			    .system = json_array(),
			    .call_names = json_object(),
			    .msg = msg,
			    .msg_len = msg_len};
	json_t *body = NULL;
	if (!c.contents || !c.system || !c.call_names) {
		fail(msg, msg_len, "out of memory");
		goto out;
	}
	if (messages(&c, json_object_get(oa, "messages")))
		goto out;
	body = json_pack("{s:O}", "contents", c.contents);
	if (!body) {
		fail(msg, msg_len, "out of memory");
		goto out;
	}
	/* Gemini requires a turn; a request of system messages alone is answered as if the
	 * instructions were the user's, as OpenAI does. */
	if (json_array_size(c.contents) == 0)
		add_turn(&c, "user", json_incref(c.system));
	else if (json_array_size(c.system))
		json_object_set_new(body, "systemInstruction", json_pack("{s:O}", "parts", c.system));
	json_t *decls = function_declarations(json_object_get(oa, "tools"));
	if (json_array_size(decls)) {
		json_object_set_new(body, "tools", json_pack("[{s:o}]", "functionDeclarations", decls));
		const json_t *choice = json_object_get(oa, "tool_choice");
		json_t *tc = choice ? tool_config(choice) : NULL;
		if (tc)
			json_object_set_new(body, "toolConfig", tc);
	} else {
		json_decref(decls);
	}
	json_object_set_new(body, "generationConfig", generation_config(oa, max_tokens));
out:
	json_decref(c.contents);
	json_decref(c.system);
	json_decref(c.call_names);
	return body;
}

/* ---- Responses -------------------------------------------------------------------- */

static const char *finish_reason(const char *fr, bool has_call)
{
	static const char *const filtered[] = {"SAFETY",	    "RECITATION", "BLOCKLIST",
					       "PROHIBITED_CONTENT", "SPII",	   "IMAGE_SAFETY"};
	if (strcmp(fr, "MAX_TOKENS") == 0)
		return "length";
	for (size_t i = 0; i < sizeof(filtered) / sizeof(filtered[0]); i++)
		if (strcmp(fr, filtered[i]) == 0)
			return "content_filter";
	/* STOP, and the reasons OpenAI has no word for (OTHER, MALFORMED_FUNCTION_CALL, ...). */
	return has_call ? "tool_calls" : "stop";
}

static json_int_t count_of(const json_t *usage, const char *key)
{
	return json_integer_value(json_object_get(usage, key));
}

static json_t *usage_json(json_int_t prompt, json_int_t candidates, json_int_t thoughts,
			  json_int_t cached)
{
	json_int_t completion = candidates + thoughts;
	json_t *u = json_pack("{s:I,s:I,s:I,s:{s:I}}", "prompt_tokens", prompt, "completion_tokens",
			      completion, "total_tokens", prompt + completion,
			      "prompt_tokens_details", "cached_tokens", cached);
	/* OpenAI reports reasoning inside completion_tokens the same way. */
	if (u && thoughts)
		json_object_set_new(u, "completion_tokens_details",
				    json_pack("{s:I}", "reasoning_tokens", thoughts));
	return u;
}

static json_t *call_json(const json_t *fc, int n, bool with_index)
{
	char id[32];
	snprintf(id, sizeof(id), "call_%d", n);
	const json_t *args = json_object_get(fc, "args");
	char *text = args ? json_dumps(args, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_t *call = json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", id, "type", "function", "function",
				 "name", json_string_value(json_object_get(fc, "name")) ?: "",
				 "arguments", text ? text : "{}");
	free(text);
	if (call && with_index)
		json_object_set_new(call, "index", json_integer(n));
	return call;
}

static void new_completion_id(char out[40])
{
	char ulid[HW_ULID_LEN + 1];
	hw_ulid(ulid);
	snprintf(out, 40, "chatcmpl-%s", ulid);
}

json_t *hw_gemini_response_to_openai(const json_t *resp, const char *model_id)
{
	if (!json_is_object(resp) || json_object_get(resp, "error"))
		return NULL;
	const json_t *cands = json_object_get(resp, "candidates");
	const json_t *feedback = json_object_get(resp, "promptFeedback");
	if (!json_is_array(cands) && !json_is_object(feedback))
		return NULL;
	const json_t *cand = json_array_get(cands, 0);
	struct hw_buf text = {0}, thoughts = {0};
	json_t *calls = json_array(), *out = NULL;
	int rc = calls ? 0 : -ENOMEM;
	size_t i;
	const json_t *p;
	json_array_foreach(json_object_get(json_object_get(cand, "content"), "parts"), i, p) {
		const json_t *t = json_object_get(p, "text");
		const json_t *fc = json_object_get(p, "functionCall");
		if (json_is_string(t))
			rc |= hw_buf_append(json_is_true(json_object_get(p, "thought")) ? &thoughts : &text,
					    json_string_value(t), json_string_length(t));
		else if (json_is_object(fc))
			rc |= json_array_append_new(calls, call_json(fc, (int)json_array_size(calls), false));
	}
	if (rc)
		goto out;
	bool has_call = json_array_size(calls) > 0;
	const char *fr = json_string_value(json_object_get(cand, "finishReason"));
	const char *finish;
	if (!cand)
		/* No candidate at all: the prompt itself was blocked. */
		finish = json_object_get(feedback, "blockReason") ? "content_filter" : "stop";
	else
		finish = finish_reason(fr ? fr : "STOP", has_call);

	json_t *message = json_pack("{s:s}", "role", "assistant");
	if (!message)
		goto out;
	json_object_set_new(message, "content",
			    has_call && !text.len ? json_null()
						  : json_stringn(text.data ? text.data : "", text.len));
	if (has_call)
		json_object_set(message, "tool_calls", calls);
	if (thoughts.len)
		json_object_set_new(message, "reasoning_content",
				    json_stringn(thoughts.data, thoughts.len));
	char id[40];
	new_completion_id(id);
	out = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:s,s:n}]}", "id", id, "object",
			"chat.completion", "created", (json_int_t)hw_clock_wall_s(), "model",
			model_id, "choices", "index", 0, "message", message, "finish_reason", finish,
			"logprobs");
	const json_t *um = json_object_get(resp, "usageMetadata");
	if (out && json_is_object(um))
		json_object_set_new(out, "usage",
				    usage_json(count_of(um, "promptTokenCount"),
					       count_of(um, "candidatesTokenCount"),
					       count_of(um, "thoughtsTokenCount"),
					       count_of(um, "cachedContentTokenCount")));
out:
	json_decref(calls);
	hw_buf_free(&text);
	hw_buf_free(&thoughts);
	return out;
}

/* ---- Streams ---------------------------------------------------------------------- */

int hw_gemini_stream_init(struct hw_gemini_stream *s, const char *model_id)
{
	memset(s, 0, sizeof(*s));
	s->model = strdup(model_id);
	if (!s->model)
		return -ENOMEM;
	new_completion_id(s->id);
	s->created = (json_int_t)hw_clock_wall_s();
	return 0;
}

void hw_gemini_stream_free(struct hw_gemini_stream *s)
{
	free(s->model);
	s->model = NULL;
}

/* Appends a chunk whose delta holds `key`: `val` (none when key is NULL). Steals `val`. */
static int push_chunk(struct hw_gemini_stream *s, json_t *out, const char *key, json_t *val,
		      const char *finish)
{
	json_t *delta = json_object();
	if (!delta) {
		json_decref(val);
		return -ENOMEM;
	}
	if (!s->role_sent) {
		json_object_set_new(delta, "role", json_string("assistant"));
		s->role_sent = true;
	}
	if (key)
		json_object_set_new(delta, key, val);
	json_t *chunk = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:o,s:n}]}", "id", s->id, "object",
				  "chat.completion.chunk", "created", s->created, "model", s->model,
				  "choices", "index", 0, "delta", delta, "finish_reason",
				  finish ? json_string(finish) : json_null(), "logprobs");
	return json_array_append_new(out, chunk) ? -ENOMEM : 0;
}

static int push_usage(struct hw_gemini_stream *s, json_t *out)
{
	json_t *chunk = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", s->id, "object",
				  "chat.completion.chunk", "created", s->created, "model", s->model,
				  "choices", "usage",
				  usage_json(s->prompt, s->candidates, s->thoughts, s->cached));
	return json_array_append_new(out, chunk) ? -ENOMEM : 0;
}

static int stream_parts(struct hw_gemini_stream *s, const json_t *parts, json_t *out)
{
	size_t i;
	const json_t *p;
	json_array_foreach(parts, i, p) {
		const json_t *t = json_object_get(p, "text");
		const json_t *fc = json_object_get(p, "functionCall");
		int rc = 0;
		if (json_is_string(t) && json_string_length(t)) {
			bool thought = json_is_true(json_object_get(p, "thought"));
			rc = push_chunk(s, out, thought ? "reasoning_content" : "content",
					json_copy((json_t *)t), NULL);
		} else if (json_is_object(fc)) {
			rc = push_chunk(s, out, "tool_calls",
					json_pack("[o]", call_json(fc, s->n_calls, true)), NULL);
			s->n_calls++;
		}
		if (rc)
			return rc;
	}
	return 0;
}

int hw_gemini_stream_event(struct hw_gemini_stream *s, const char *data, size_t len,
			   json_t *out, const char **reason)
{
	json_t *ev = json_loadb(data, len, 0, NULL);
	int rc = -1;
	*reason = "malformed";
	if (!json_is_object(ev) || s->done)
		goto out;
	if (json_object_get(ev, "error")) {
		*reason = "upstream_error";
		goto out;
	}
	const json_t *cands = json_object_get(ev, "candidates");
	const json_t *um = json_object_get(ev, "usageMetadata");
	const json_t *feedback = json_object_get(ev, "promptFeedback");
	if (!json_is_array(cands) && !json_is_object(um) && !json_is_object(feedback))
		goto out;
	/* usageMetadata is cumulative: the latest one is the stream's usage. */
	if (json_is_object(um)) {
		s->have_usage = true;
		s->prompt = count_of(um, "promptTokenCount");
		s->candidates = count_of(um, "candidatesTokenCount");
		s->thoughts = count_of(um, "thoughtsTokenCount");
		s->cached = count_of(um, "cachedContentTokenCount");
	}
	const json_t *cand = json_array_get(cands, 0);
	rc = stream_parts(s, json_object_get(json_object_get(cand, "content"), "parts"), out);
	if (rc)
		goto out;
	const char *fr = json_string_value(json_object_get(cand, "finishReason"));
	bool blocked = !cand && json_object_get(feedback, "blockReason");
	if (!fr && !blocked)
		goto out;
	s->done = true;
	rc = push_chunk(s, out, NULL, NULL,
			blocked ? "content_filter" : finish_reason(fr, s->n_calls > 0));
	if (rc == 0 && s->have_usage)
		rc = push_usage(s, out);
	if (rc == 0)
		rc = 1;
out:
	json_decref(ev);
	return rc;
}
