/* SPDX-License-Identifier: Apache-2.0 */
/* OpenAI-format providers (`openai`, `openai_compatible`; SPEC §8.1): the request that
 * goes upstream. The same-format rule applies: the body is forwarded as received except
 * `model`, the max-tokens field and the stream options. */
#ifndef HW_UPSTREAM_PROVIDER_OPENAI_H
#define HW_UPSTREAM_PROVIDER_OPENAI_H

#include "common/config.h"
#include "gateway/chat_request.h"
#include "upstream/engine.h"

/* Fills call->url, headers and body; `api_key` (the workspace's or the server's, NULL or ""
 * for none) goes into the Authorization header. The body is the request with model, max
 * tokens and stream options set (for Mistral also the tool choice and tool-call ids, each
 * rewritten id recorded in `id_map`), built on a copy so that r->root stays as received for
 * a fallback to another provider. Returns 0 or -ENOMEM. */
int hw_openai_build(const struct hw_cfg_provider *p, const char *upstream_model,
		    const char *api_key, struct hw_chat_req *r, int64_t max_tokens,
		    struct hw_upstream_call *call, json_t *id_map);
/* Puts back the original ids of tool calls Mistral answered with rewritten ones, in each
 * choice's `container` ("message" or "delta"). */
void hw_openai_map_tool_ids(json_t *choices, const json_t *map, const char *container);

#endif
