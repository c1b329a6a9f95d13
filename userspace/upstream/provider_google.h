/* SPDX-License-Identifier: Apache-2.0 */
/* The `google` provider kind (SPEC §8.1, §8.4): the Gemini `generateContent` call built from
 * the internal OpenAI-form request. Answers are translated back by translate_gemini.h. */
#ifndef HW_UPSTREAM_PROVIDER_GOOGLE_H
#define HW_UPSTREAM_PROVIDER_GOOGLE_H

#include "common/config.h"
#include "routing/catalog.h"
#include "upstream/engine.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Fills call->url (base_url + /v1beta/models/{upstream_model}:generateContent, or
 * :streamGenerateContent?alt=sse when streaming), headers (x-goog-api-key, content type),
 * body/body_len (malloc'ed), stream and timeouts. `api_key` is the workspace's key or the
 * server default. Returns 0; -EINVAL with `msg` for a request Gemini cannot take (a 400),
 * a missing key or an upstream model name unfit for a URL path; -ENOMEM. On failure the
 * call is left untouched. */
int hw_google_build(const struct hw_cfg_provider *p, const char *api_key,
		    const struct hw_model *m, const json_t *openai_request, int64_t max_tokens,
		    bool stream, struct hw_upstream_call *call, char *msg, size_t msg_len);

#endif
