/* SPDX-License-Identifier: Apache-2.0 */
/* The Anthropic-compatible ingress (SPEC §5.3, §6.3, §8.3): an Anthropic Messages request
 * becomes the internal OpenAI chat-completions request, and the OpenAI answers (a
 * `chat.completion`, or a stream of `chat.completion.chunk`s) become an Anthropic `message`
 * or Anthropic SSE events. Pure functions over jansson; no I/O. */
#ifndef HW_GATEWAY_MESSAGES_TRANSLATE_H
#define HW_GATEWAY_MESSAGES_TRANSLATE_H

#include "common/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Validates an Anthropic Messages request (§5.3) and converts it into an OpenAI
 * chat-completions request (§8.3). The result is what hw_chat_parse accepts, so the §1.3
 * text bytes and est_tokens of a /v1/messages request are those of the converted request.
 * `anthropic_req` is not modified and nothing in the result shares memory with it.
 * On failure returns NULL with `param` (a JSON path such as "messages[2].content[0].type",
 * "" for the whole body) and `msg` filled: a 400 invalid_request. Out of memory also
 * returns NULL, with `param` "" and a message saying so. */
json_t *hw_messages_to_openai(const json_t *anthropic_req, char *param, size_t param_len, char *msg,
			      size_t msg_len);

/* Converts an OpenAI `chat.completion` into an Anthropic `message` whose `model` is
 * `model_id`: a leading `thinking` block from reasoning_content, then a `text` block, then a
 * `tool_use` block per tool call; stop_reason mapped from finish_reason, `stop_sequence`
 * when the text ended at one of `stop_sequences` (the request's array, may be NULL); usage
 * in Anthropic terms. Returns a new reference, or NULL when out of memory. */
json_t *hw_openai_to_message(const json_t *completion, const char *model_id,
			     const json_t *stop_sequences);

enum hw_messages_block {
	HW_MESSAGES_BLOCK_NONE,
	HW_MESSAGES_BLOCK_THINKING,
	HW_MESSAGES_BLOCK_TEXT,
	HW_MESSAGES_BLOCK_TOOL,
};

/* Rebuilds an OpenAI chunk stream as the §6.3 Anthropic event sequence. */
struct hw_messages_stream {
	char id[40];		     /* msg_<ULID>, one for the whole stream */
	char *model;		     /* routed catalog id */
	json_t *stop_sequences;	     /* the request's, or NULL */
	bool started;		     /* message_start was written */
	bool ended;		     /* message_stop or error was written: nothing may follow */
	int next_index;		     /* index the next content block gets */
	enum hw_messages_block open; /* the block now open */
	int64_t open_tool;	     /* OpenAI tool_calls index of the open tool_use block */
	int64_t last_tool;	     /* highest tool_calls index given a block, -1 for none */
	char finish[32];	     /* upstream finish_reason, "" until seen */
	const char *matched_stop;    /* stop sequence the upstream named, if any */
	struct hw_buf tail; /* last text bytes, to see whether the text ended at a stop sequence */
	size_t stop_max;    /* longest stop sequence */
	int64_t cache_creation; /* cache_creation_input_tokens when a usage chunk carried it */
};

void hw_messages_stream_init(struct hw_messages_stream *s, const char *model_id,
			     const json_t *stop_sequences);
/* Consumes one upstream chunk and appends the events it yields to `out`: message_start on the
 * first chunk (input_tokens from the chunk's usage when it has one, else 0), then
 * content_block_start / content_block_delta (thinking_delta, text_delta, input_json_delta) /
 * content_block_stop as blocks change. finish_reason and usage are only noted: message_delta
 * waits for hw_messages_stream_finish. Returns 0, -ENOMEM, -EPROTO when a tool call's
 * arguments continue after its block was closed (the caller treats the stream as malformed,
 * §6.4), or -EINVAL after the stream ended. */
int hw_messages_stream_chunk(struct hw_messages_stream *s, const json_t *chunk, struct hw_buf *out);
/* Ends a clean stream: closes the open block, writes message_delta (stop_reason,
 * stop_sequence, usage), then `event: hiway` {"type":"hiway","usage":{...},"_hiway":hiway}
 * when `hiway` is not NULL, then message_stop. Returns 0, -ENOMEM, or -EINVAL after the end. */
int hw_messages_stream_finish(struct hw_messages_stream *s, int64_t prompt_tokens,
			      int64_t completion_tokens, int64_t cached_tokens, const json_t *hiway,
			      struct hw_buf *out);
/* Ends a broken stream (§6.4): `event: error` {"type":"error","error":error_object} and
 * nothing after it; open blocks stay unclosed, as Anthropic's own errors leave them. */
int hw_messages_stream_error(struct hw_messages_stream *s, const json_t *error_object,
			     struct hw_buf *out);
void hw_messages_stream_free(struct hw_messages_stream *s);

/* Reshapes a gateway error envelope {"error":{...}} in place into the /v1/messages form
 * {"type":"error","error":{...}} (§2.1), for envelopes built without hw_err_body's
 * `anthropic` flag. */
void hw_messages_error_body(json_t *envelope);

#endif
