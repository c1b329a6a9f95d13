// SPDX-License-Identifier: Apache-2.0
/* fake_gemini.c: the Google Gemini wire format of fake-upstream:
 * POST /v1beta/models/{model}:generateContent answers one GenerateContentResponse, and
 * POST /v1beta/models/{model}:streamGenerateContent?alt=sse sends partial responses as
 * "data: <json>\n\n" events, the last one carrying finishReason and usageMetadata (Gemini has no
 * [DONE] sentinel). The key comes in x-goog-api-key (or ?key=); errors use Google's
 * {"error":{"code","message","status"}}. */
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

#define MODELS_PREFIX "/v1beta/models/"

static bool gemini_check(struct MHD_Connection *conn, unsigned int *status, const char **msg)
{
	if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-goog-api-key") ||
	    MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key"))
		return true;
	*status = 403;
	*msg = "Method doesn't allow unregistered callers (callers without established identity). "
	       "Please use API Key or other form of API consumer identity to call this API.";
	return false;
}

static const char *tool_to_call(json_t *root)
{
	json_t *mode_cfg = json_object_get(json_object_get(root, "toolConfig"),
					   "functionCallingConfig");
	const char *mode = json_string_value(json_object_get(mode_cfg, "mode"));
	json_t *allowed = json_object_get(mode_cfg, "allowedFunctionNames");
	json_t *tool;
	size_t i;

	if (mode && strcmp(mode, "NONE") == 0)
		return NULL;
	json_array_foreach (json_object_get(root, "tools"), i, tool) {
		json_t *decl = json_array_get(json_object_get(tool, "functionDeclarations"), 0);
		if (!decl)
			continue;
		if (json_is_string(json_array_get(allowed, 0)))
			return json_string_value(json_array_get(allowed, 0));
		return json_string_value(json_object_get(decl, "name"));
	}
	return NULL;
}

/* A functionResponse part's text: its response.content when that is a string, else the whole
 * response as compact JSON. */
static char *function_response_text(json_t *parts)
{
	size_t i;
	json_t *part;
	json_array_foreach (parts, i, part) {
		json_t *fr = json_object_get(part, "functionResponse");
		if (!fr)
			continue;
		json_t *resp = json_object_get(fr, "response");
		json_t *content = json_object_get(resp, "content");
		if (json_is_string(content))
			return strdup(json_string_value(content));
		return resp ? json_dumps(resp, JSON_COMPACT) : strdup("");
	}
	return NULL;
}

static int gemini_parse(json_t *root, const char *url, struct MHD_Connection *conn,
			struct prompt *p, const char **msg)
{
	json_t *contents = json_object_get(root, "contents");
	json_t *last_user = NULL, *c;
	size_t i;

	const char *name = url + strlen(MODELS_PREFIX);
	const char *colon = strrchr(name, ':');
	p->stream = strcmp(colon, ":streamGenerateContent") == 0;
	const char *alt = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "alt");
	if (p->stream && (!alt || strcmp(alt, "sse") != 0)) {
		*msg = "fake-upstream streams only with alt=sse";
		return -1;
	}
	if (!json_array_size(contents)) {
		*msg = "* GenerateContentRequest.contents: contents is not specified";
		return -1;
	}
	p->prompt_bytes =
		content_text(json_object_get(json_object_get(root, "systemInstruction"), "parts"),
			     NULL);
	json_array_foreach (contents, i, c) {
		const char *role = json_string_value(json_object_get(c, "role"));
		if (role && strcmp(role, "user") != 0 && strcmp(role, "model") != 0) {
			*msg = "Please use a valid role: user, model.";
			return -1;
		}
		p->prompt_bytes += content_text(json_object_get(c, "parts"), NULL);
		if (!role || strcmp(role, "user") == 0)
			last_user = c;
	}
	json_t *last = json_array_get(contents, json_array_size(contents) - 1);
	if (last == last_user)
		p->tool_result = function_response_text(json_object_get(last, "parts"));
	p->model = strndup(name, (size_t)(colon - name));
	p->user_text = content_dup(json_object_get(last_user, "parts"));
	p->tool = tool_to_call(root);
	p->fake = json_object_get(root, "fake");
	p->include_usage = true;
	return p->model && p->user_text ? 0 : -1;
}

static const char *google_status(unsigned int status)
{
	switch (status) {
	case 400:
		return "INVALID_ARGUMENT";
	case 401:
		return "UNAUTHENTICATED";
	case 403:
		return "PERMISSION_DENIED";
	case 404:
		return "NOT_FOUND";
	case 409:
		return "ABORTED";
	case 429:
		return "RESOURCE_EXHAUSTED";
	case 499:
		return "CANCELLED";
	case 500:
		return "INTERNAL";
	case 501:
		return "NOT_IMPLEMENTED";
	case 503:
		return "UNAVAILABLE";
	case 504:
		return "DEADLINE_EXCEEDED";
	default:
		return status >= 500 ? "UNKNOWN" : "FAILED_PRECONDITION";
	}
}

static json_t *error_json(unsigned int status, const char *message)
{
	return json_pack("{s:{s:I,s:s,s:s}}", "error", "code", (json_int_t)status, "message",
			 message, "status", google_status(status));
}

static struct MHD_Response *gemini_error(unsigned int status, const char *message)
{
	return json_response(error_json(status, message), "application/json; charset=UTF-8");
}

static char *gemini_error_event(unsigned int status)
{
	status = status ? status : 503;
	return sse_data(error_json(status, fault_message(status)));
}

static json_t *usage_json(const struct answer *a)
{
	json_int_t prompt = a->prompt_tokens + a->cache_read + a->cache_creation;
	json_t *u = json_pack("{s:I,s:I,s:I}", "promptTokenCount", prompt, "candidatesTokenCount",
			      a->completion_tokens, "totalTokenCount",
			      prompt + a->completion_tokens);
	if (u && a->cache_read)
		json_object_set_new(u, "cachedContentTokenCount", json_integer(a->cache_read));
	return u;
}

/* One GenerateContentResponse; the last one of an answer has finishReason and usage. */
static json_t *response_json(const struct answer *a, json_t *parts, bool last)
{
	json_t *cand = json_pack("{s:{s:s,s:o},s:i}", "content", "role", "model", "parts", parts,
				 "index", 0);
	if (cand && last)
		json_object_set_new(cand, "finishReason",
				    json_string(a->length ? "MAX_TOKENS" : "STOP"));
	json_t *obj = json_pack("{s:[o],s:s,s:s}", "candidates", cand, "modelVersion", a->model,
				"responseId", a->id);
	if (obj && last && a->usage)
		json_object_set_new(obj, "usageMetadata", usage_json(a));
	return obj;
}

static json_t *call_parts(const struct answer *a)
{
	json_t *parts = json_array();
	for (size_t i = 0; i < a->ncalls; i++)
		json_array_append_new(parts, json_pack("{s:{s:s,s:O}}", "functionCall", "name",
						       a->calls[i].name, "args",
						       a->calls[i].input));
	return parts;
}

static json_t *gemini_body(const struct answer *a)
{
	json_t *parts = call_parts(a);
	if (parts && a->text)
		json_array_insert_new(parts, 0, json_pack("{s:s}", "text", a->text));
	return response_json(a, parts, true);
}

static int gemini_events(struct stream *s, const struct answer *a)
{
	const char *p = a->text;

	/* Text goes out a word per event; a functionCall part always arrives whole. */
	while (p) {
		size_t n = next_piece(p);
		bool last = !a->ncalls && !p[n];
		json_t *parts = json_pack("[{s:s%}]", "text", p, n);
		if (stream_push(s, sse_data(response_json(a, parts, last))) < 0)
			return -1;
		p = last || !p[n] ? NULL : p + n;
	}
	if (a->ncalls && stream_push(s, sse_data(response_json(a, call_parts(a), true))) < 0)
		return -1;
	return 0;
}

const struct format fmt_gemini = {
	.name = "gemini",
	.id_fmt = "fakeresp%016" PRIx64,
	.check = gemini_check,
	.parse = gemini_parse,
	.error = gemini_error,
	.body = gemini_body,
	.events = gemini_events,
	.error_event = gemini_error_event,
	.malformed_body = "{\"candidates\":[{\"content\":{\"role\":\"mo",
	.malformed_event = "data: {\"candidates\":[{\"content\":{\n\n",
};
