/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing and validation of a Chat Completions request body (SPEC §5.2, §1.3 text bytes). */
#ifndef HW_GATEWAY_CHAT_REQUEST_H
#define HW_GATEWAY_CHAT_REQUEST_H

#include "common/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct hw_chat_req {
	json_t *root; /* the body as received; unknown fields kept for forwarding */
	json_t *model_ref; /* keeps `model` alive when root is edited for the provider */
	const char *model;
	bool stream, include_usage;
	int64_t max_tokens; /* 0 when the client sent none */
	size_t n_tools;
	const char *first_tool;  /* name of tools[0] */
	const char *forced_tool; /* tool_choice {function:{name}} */
	bool tool_choice_none;
	int64_t text_bytes, est_tokens;
	struct hw_buf last_user_text; /* text of the last user message */
	bool last_is_tool;            /* the last message is a tool result */
	bool last_is_user;            /* the last message is from the user */
	struct hw_buf last_tool_text;
	const char *end_user; /* OpenAI `user` field, NULL when absent */
};

/* Returns 0, or -EINVAL with `param` (field path, "" for null) and `msg` filled. */
int hw_chat_parse(const char *body, size_t len, struct hw_chat_req *out, char *param,
		  size_t param_len, char *msg, size_t msg_len);
/* The same over a parsed document (the /v1/messages request in its internal form); `root`
 * is stolen, and freed with the request. */
int hw_chat_parse_root(json_t *root, struct hw_chat_req *r, char *param, size_t param_len,
		       char *msg, size_t msg_len);
void hw_chat_req_free(struct hw_chat_req *r);
/* A function tool name: ^[A-Za-z0-9_-]{1,64}$ (SPEC §5.2). */
bool hw_chat_tool_name_ok(const char *s);

#endif
