/* SPDX-License-Identifier: Apache-2.0 */
/* The `echo` provider (SPEC §8.6): deterministic, in process, no network. It answers in
 * the OpenAI wire format, so its output goes through the same relay path as a real
 * OpenAI-format provider's. */
#ifndef HW_UPSTREAM_PROVIDER_ECHO_H
#define HW_UPSTREAM_PROVIDER_ECHO_H

#include "common/buf.h"
#include "gateway/chat_request.h"

#include <jansson.h>

/* A `chat.completion` object for the request. */
json_t *hw_echo_completion(const struct hw_chat_req *r, const char *model, int64_t max_tokens);
/* The OpenAI SSE byte stream for the request: role chunk, one chunk per word, finish
 * chunk, usage chunk, [DONE]. */
int hw_echo_stream(const struct hw_chat_req *r, const char *model, int64_t max_tokens,
		   struct hw_buf *out);

#endif
