// SPDX-License-Identifier: Apache-2.0
/* The `anthropic` provider: URL, headers and translated body of a Messages API call. */
#include "upstream/provider_anthropic.h"

#include "upstream/translate_anthropic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_line(struct hw_upstream_call *call, const char *line)
{
	struct curl_slist *l = curl_slist_append(call->headers, line);
	if (!l)
		return -ENOMEM;
	call->headers = l;
	return 0;
}

/* "name: value" appended to the list; the copy curl keeps is the only one left, so a key
 * does not linger in our heap. */
static int add_header(struct hw_upstream_call *call, const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 3;
	char *line = malloc(len);
	if (!line)
		return -ENOMEM;
	snprintf(line, len, "%s: %s", name, value);
	int rc = add_line(call, line);
	explicit_bzero(line, len);
	free(line);
	return rc;
}

/* URL, headers and body of a Messages API call; `body` is stolen. */
static int finish_call(const struct hw_cfg_provider *p, const char *api_key, json_t *body,
		       bool stream, const char *beta, struct hw_upstream_call *call)
{
	call->body = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	if (!call->body)
		return -ENOMEM;
	call->body_len = strlen(call->body);
	size_t ulen = strlen(p->base_url) + sizeof("/v1/messages");
	if (!(call->url = malloc(ulen)))
		return -ENOMEM;
	snprintf(call->url, ulen, "%s/v1/messages", p->base_url);
	const char *version = p->anthropic_version && p->anthropic_version[0]
				  ? p->anthropic_version
				  : HW_ANTHROPIC_DEFAULT_VERSION;
	int rc = 0;
	if (api_key && api_key[0])
		rc = add_header(call, "x-api-key", api_key);
	if (!rc)
		rc = add_header(call, "anthropic-version", version);
	if (!rc)
		rc = add_header(call, "content-type", "application/json");
	if (!rc)
		rc = add_header(call, "accept", stream ? "text/event-stream" : "application/json");
	if (!rc && beta && beta[0])
		rc = add_header(call, "anthropic-beta", beta);
	/* "Expect:" with nothing after the colon makes curl drop the header: no 100-continue
	 * round trip before every body. */
	if (!rc)
		rc = add_line(call, "Expect:");
	call->stream = stream;
	call->timeouts = p->timeouts;
	return rc;
}

int hw_anthropic_build(const struct hw_cfg_provider *p, const char *api_key,
		       const struct hw_model *m, const json_t *openai_request, int64_t max_tokens,
		       const char *end_user, bool stream, struct hw_upstream_call *call, char *msg,
		       size_t msg_len)
{
	msg[0] = '\0';
	json_t *body = hw_anthropic_request_from_openai(
	    openai_request, m->upstream_model, max_tokens, end_user, stream, p->prompt_cache,
	    m->min_cache_tokens, msg, msg_len);
	if (!body)
		return msg[0] ? -EINVAL : -ENOMEM;
	return finish_call(p, api_key, body, stream, NULL, call);
}

int hw_anthropic_build_native(const struct hw_cfg_provider *p, const char *api_key,
			      const struct hw_model *m, const json_t *messages_request, bool stream,
			      const char *beta, struct hw_upstream_call *call)
{
	json_t *body = json_copy((json_t *)messages_request); /* shallow: only top-level keys change */
	if (!body)
		return -ENOMEM;
	json_object_set_new(body, "model", json_string(m->upstream_model));
	if (p->prompt_cache) {
		/* The marks go into nested objects: those must not be the client's own. */
		json_t *sys = json_object_get(body, "system"), *tools = json_object_get(body, "tools");
		if (sys)
			json_object_set_new(body, "system", json_deep_copy(sys));
		if (tools)
			json_object_set_new(body, "tools", json_deep_copy(tools));
		hw_anthropic_inject_cache(body, m->min_cache_tokens);
	}
	return finish_call(p, api_key, body, stream, beta, call);
}
