// SPDX-License-Identifier: Apache-2.0
#include "upstream/provider_openai.h"

#include "common/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mistral accepts only 9-character alphanumeric tool-call ids: each id of the conversation
 * becomes the first 9 hex characters of its SHA-256, the same for its tool_call_id uses, and
 * `map` (rewritten -> original) lets the answer's ids be mapped back (SPEC §8.5). */
static void mistral_rewrite_id(json_t *holder, const char *field, json_t *map)
{
	const char *id = json_string_value(json_object_get(holder, field));
	if (!id)
		return;
	char hex[HW_SHA256_HEX_LEN + 1];
	hw_sha256_hex(id, strlen(id), hex);
	hex[9] = '\0';
	if (!json_object_get(map, hex))
		json_object_set_new(map, hex, json_string(id));
	json_object_set_new(holder, field, json_string(hex));
}

static void mistral_adapt(json_t *body, json_t *map)
{
	json_t *tc = json_object_get(body, "tool_choice");
	if (json_is_string(tc) && strcmp(json_string_value(tc), "required") == 0)
		json_object_set_new(body, "tool_choice", json_string("any"));
	size_t i, j;
	json_t *msg, *call;
	json_array_foreach(json_object_get(body, "messages"), i, msg)
	{
		json_array_foreach(json_object_get(msg, "tool_calls"), j, call)
			mistral_rewrite_id(call, "id", map);
		mistral_rewrite_id(msg, "tool_call_id", map);
	}
}

void hw_openai_map_tool_ids(json_t *choices, const json_t *map, const char *container)
{
	if (!map || !json_object_size(map))
		return;
	size_t i, j;
	json_t *ch, *call;
	json_array_foreach(choices, i, ch)
	{
		json_array_foreach(json_object_get(json_object_get(ch, container), "tool_calls"), j, call)
		{
			const char *id = json_string_value(json_object_get(call, "id"));
			json_t *orig = id ? json_object_get(map, id) : NULL;
			if (orig)
				json_object_set(call, "id", orig);
		}
	}
}

int hw_openai_build(const struct hw_cfg_provider *p, const char *upstream_model,
		    const char *api_key, struct hw_chat_req *r, int64_t max_tokens,
		    struct hw_upstream_call *call, json_t *id_map)
{
	/* A shallow copy: the fields set here are top-level, so the client's request stays as
	 * received for the next candidate of a fallback; Mistral's edits reach into the
	 * messages, which it gets its own copy of. */
	json_t *body = json_copy(r->root);
	if (!body)
		return -ENOMEM;
	if (p->kind == HW_PROVIDER_MISTRAL) {
		json_object_set_new(body, "messages", json_deep_copy(json_object_get(body, "messages")));
		mistral_adapt(body, id_map);
	}
	json_object_set_new(body, "model", json_string(upstream_model));
	/* The reserved bound is what the provider is told, so the reservation is a true bound. */
	const char *field = p->kind == HW_PROVIDER_OPENAI ? "max_completion_tokens" : "max_tokens";
	json_object_del(body, "max_completion_tokens");
	json_object_del(body, "max_tokens");
	json_object_set_new(body, field, json_integer(max_tokens));
	bool want_usage = p->kind == HW_PROVIDER_OPENAI ||
			  (p->kind == HW_PROVIDER_OPENAI_COMPATIBLE && p->stream_usage);
	if (r->stream && want_usage) {
		json_t *so = json_object_get(body, "stream_options");
		so = json_is_object(so) ? json_copy(so) : json_object();
		json_object_set_new(so, "include_usage", json_true());
		json_object_set_new(body, "stream_options", so);
	} else if (p->kind == HW_PROVIDER_MISTRAL) {
		json_object_del(body, "stream_options");
	}
	call->body = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	if (!call->body)
		return -ENOMEM;
	call->body_len = strlen(call->body);
	size_t ulen = strlen(p->base_url) + sizeof("/chat/completions");
	call->url = malloc(ulen);
	if (!call->url)
		return -ENOMEM;
	snprintf(call->url, ulen, "%s/chat/completions", p->base_url);
	call->headers = curl_slist_append(call->headers, "Content-Type: application/json");
	call->headers = curl_slist_append(call->headers, "Expect:");
	call->headers = curl_slist_append(call->headers,
					  r->stream ? "Accept: text/event-stream" : "Accept: application/json");
	if (api_key && api_key[0]) {
		size_t alen = strlen(api_key) + sizeof("Authorization: Bearer ");
		char *auth = malloc(alen);
		if (!auth)
			return -ENOMEM;
		snprintf(auth, alen, "Authorization: Bearer %s", api_key);
		call->headers = curl_slist_append(call->headers, auth);
		/* curl copied it; the key must not linger in our heap longer than needed. */
		explicit_bzero(auth, alen);
		free(auth);
	}
	call->stream = r->stream;
	call->timeouts = p->timeouts;
	return 0;
}
