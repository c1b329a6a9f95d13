// SPDX-License-Identifier: Apache-2.0
/* The `google` provider: URL, headers and body of a Gemini call (SPEC §8.1, §8.4). */
#include "upstream/provider_google.h"

#include "upstream/translate_gemini.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The model name goes into the URL path as is, so only characters that need no escaping
 * are accepted; the `models/` prefix Google's own listings carry is tolerated. */
static const char *path_model(const char *upstream_model)
{
	if (strncmp(upstream_model, "models/", 7) == 0)
		upstream_model += 7;
	if (!upstream_model[0])
		return NULL;
	for (const char *c = upstream_model; *c; c++)
		if (!(('a' <= *c && *c <= 'z') || ('A' <= *c && *c <= 'Z') ||
		      ('0' <= *c && *c <= '9') || *c == '-' || *c == '.' || *c == '_'))
			return NULL;
	return upstream_model;
}

int hw_google_build(const struct hw_cfg_provider *p, const char *api_key, const struct hw_model *m,
		    const json_t *openai_request, int64_t max_tokens, bool stream,
		    struct hw_upstream_call *call, char *msg, size_t msg_len)
{
	char *url = NULL, *body = NULL, *auth = NULL;
	size_t auth_len = 0;
	struct curl_slist *headers = NULL;
	json_t *req = NULL;
	int rc = -EINVAL;
	const char *model = path_model(m->upstream_model);
	if (!model) {
		snprintf(msg, msg_len, "upstream model '%s' is not a valid Gemini model name",
			 m->upstream_model);
		goto out;
	}
	if (!api_key || !api_key[0]) {
		snprintf(msg, msg_len, "provider '%s' has no API key", p->id);
		goto out;
	}
	req = hw_gemini_request_from_openai(openai_request, max_tokens, msg, msg_len);
	if (!req)
		goto out;
	rc = -ENOMEM;
	body = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!body || asprintf(&url, "%s/v1beta/models/%s:%s", p->base_url, model,
			      stream ? "streamGenerateContent?alt=sse" : "generateContent") < 0) {
		url = NULL;
		goto out;
	}
	int n = asprintf(&auth, "x-goog-api-key: %s", api_key);
	if (n < 0) {
		auth = NULL;
		goto out;
	}
	auth_len = (size_t)n;
	const char *lines[] = {
		"Content-Type: application/json",
		"Expect:",
		stream ? "Accept: text/event-stream" : "Accept: application/json",
		auth,
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct curl_slist *h = curl_slist_append(headers, lines[i]);
		if (!h)
			goto out;
		headers = h;
	}
	call->url = url;
	call->headers = headers;
	call->body = body;
	call->body_len = strlen(body);
	call->stream = stream;
	call->timeouts = p->timeouts;
	url = body = NULL;
	headers = NULL;
	rc = 0;
out:
	/* curl copied the header; the key must not linger in our heap longer than needed. */
	if (auth) {
		explicit_bzero(auth, auth_len);
		free(auth);
	}
	curl_slist_free_all(headers);
	free(url);
	free(body);
	json_decref(req);
	return rc;
}
