/* SPDX-License-Identifier: Apache-2.0 */
/* OpenAI-format providers (`openai`, `openai_compatible`; SPEC §8.1): the request that
 * goes upstream. The same-format rule applies: the body is forwarded as received except
 * `model`, the max-tokens field and the stream options. */
#ifndef HW_UPSTREAM_PROVIDER_OPENAI_H
#define HW_UPSTREAM_PROVIDER_OPENAI_H

#include "common/config.h"
#include "gateway/chat_request.h"
#include "upstream/engine.h"

/* Fills call->url, headers and body. The body is made by editing r->root in place (model,
 * max tokens, stream options): the request is not read for those fields afterwards, and a
 * copy of the whole document per request is what this spares. Returns 0 or -ENOMEM. */
int hw_openai_build(const struct hw_cfg_provider *p, const char *upstream_model,
		    struct hw_chat_req *r, int64_t max_tokens, struct hw_upstream_call *call);

#endif
