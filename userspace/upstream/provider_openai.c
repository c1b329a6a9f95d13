// SPDX-License-Identifier: Apache-2.0
#include "upstream/provider_openai.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hw_openai_build(const struct hw_cfg_provider *p, const char *upstream_model,
		    struct hw_chat_req *r, int64_t max_tokens, struct hw_upstream_call *call)
{
	json_t *body = r->root;
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
		if (!json_is_object(so)) {
			so = json_object();
			json_object_set_new(body, "stream_options", so);
		}
		json_object_set_new(so, "include_usage", json_true());
	} else if (p->kind == HW_PROVIDER_MISTRAL) {
		json_object_del(body, "stream_options");
	}
	call->body = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
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
	if (p->api_key && p->api_key[0]) {
		size_t alen = strlen(p->api_key) + sizeof("Authorization: Bearer ");
		char *auth = malloc(alen);
		if (!auth)
			return -ENOMEM;
		snprintf(auth, alen, "Authorization: Bearer %s", p->api_key);
		call->headers = curl_slist_append(call->headers, auth);
		/* curl copied it; the key must not linger in our heap longer than needed. */
		explicit_bzero(auth, alen);
		free(auth);
	}
	call->stream = r->stream;
	call->timeouts = p->timeouts;
	return 0;
}
