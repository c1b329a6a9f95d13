/* SPDX-License-Identifier: Apache-2.0 */
/* The `anthropic` provider (SPEC §8.1): the HTTP call for a request held in the internal
 * OpenAI form, translated to the Messages API (translate_anthropic.h does the mapping). */
#ifndef HW_UPSTREAM_PROVIDER_ANTHROPIC_H
#define HW_UPSTREAM_PROVIDER_ANTHROPIC_H

#include "common/config.h"
#include "routing/catalog.h"
#include "upstream/engine.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HW_ANTHROPIC_DEFAULT_VERSION "2023-06-01"

/* Fills call->url (base_url + "/v1/messages"), headers (x-api-key when api_key is non-empty:
 * the workspace's own key or p->api_key; anthropic-version, default 2023-06-01;
 * content-type; accept), body/body_len, stream and timeouts. The request is only read.
 * Returns 0, -EINVAL with msg filled for a request Anthropic cannot take (a 400), or
 * -ENOMEM. Whatever was filled before an error is freed by hw_upstream_call_release. */
int hw_anthropic_build(const struct hw_cfg_provider *p, const char *api_key,
		       const struct hw_model *m, const json_t *openai_request, int64_t max_tokens,
		       const char *end_user, bool stream, struct hw_upstream_call *call, char *msg,
		       size_t msg_len);

/* A /v1/messages request routed to an anthropic model goes upstream as received, with only
 * `model` replaced and the prompt-cache marks of SPEC §8.7; `beta` is the client's
 * anthropic-beta header (NULL when none). 0 or -ENOMEM. */
int hw_anthropic_build_native(const struct hw_cfg_provider *p, const char *api_key,
			      const struct hw_model *m, const json_t *messages_request, bool stream,
			      const char *beta, struct hw_upstream_call *call);

#endif
