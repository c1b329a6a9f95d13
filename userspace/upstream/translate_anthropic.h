/* SPDX-License-Identifier: Apache-2.0 */
/* OpenAI chat-completions form <-> Anthropic Messages wire format (SPEC §8.2, §8.7): the
 * request going to an `anthropic` provider, its `message` answer and its SSE events turned
 * back into the `chat.completion` / `chat.completion.chunk` objects the gateway relays.
 * Pure functions over jansson; no I/O, so every mapping is testable byte for byte. */
#ifndef HW_UPSTREAM_TRANSLATE_ANTHROPIC_H
#define HW_UPSTREAM_TRANSLATE_ANTHROPIC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The system text added for `response_format` json_object / json_schema (§8.2). */
#define HW_ANTHROPIC_JSON_INSTRUCTION "Respond with a single valid JSON object only."

/* OpenAI-form request (as validated by hw_chat_parse) -> Anthropic Messages body with
 * `model` = upstream_model and `max_tokens` = max_tokens; end_user (may be NULL) becomes
 * metadata.user_id; `stream: true` is set when streaming. With prompt_cache, §8.7 is applied
 * (hw_anthropic_inject_cache). Returns a new reference, or NULL with msg filled when the
 * request cannot be expressed for Anthropic (a 400: tool-call arguments that are not a JSON
 * object, an image neither a base64 data: URL nor https:, audio, a file by id, a tool_choice
 * naming no tool, no user or assistant content left); NULL with msg empty: out of memory. */
json_t *hw_anthropic_request_from_openai(const json_t *oa, const char *upstream_model,
					 int64_t max_tokens, const char *end_user, bool stream,
					 bool prompt_cache, int64_t min_cache_tokens, char *msg,
					 size_t msg_len);

/* §8.7 on an Anthropic-format body (also a /v1/messages request forwarded as is): when no
 * `cache_control` appears anywhere in it and system text + serialized tools reach
 * min_cache_tokens (ceil(bytes / 4), as est_tokens), adds {"type":"ephemeral"} to the last
 * tool and the last system block (a string system becomes one text block). Messages are
 * never marked. */
void hw_anthropic_inject_cache(json_t *anthropic_body, int64_t min_cache_tokens);

/* Anthropic stop_reason -> OpenAI finish_reason (unknown or null -> "stop"). */
const char *hw_anthropic_finish_reason(const char *stop_reason);

/* Anthropic `message` response -> OpenAI `chat.completion` with model = model_id, a fresh
 * `chatcmpl-` id and created = now. NULL when the body is not a message. */
json_t *hw_anthropic_response_to_openai(const json_t *message, const char *model_id);

enum {
	HW_ASTREAM_MORE = 0,  /* keep feeding events */
	HW_ASTREAM_DONE = 1,  /* message_stop seen; the usage chunk has been appended */
	HW_ASTREAM_ERROR = 2, /* the stream is broken; `reason` says why (§6.4) */
};

/* One Anthropic stream being decoded into OpenAI chunks. The usage fields and output_bytes
 * are public: a broken stream is settled on what they hold (§6.4). */
struct hw_anthropic_stream {
	char id[40]; /* chatcmpl-<ULID>, the same on every chunk */
	json_int_t created;
	char *model_id;
	bool started;	 /* message_start seen, role chunk sent */
	bool finished;	 /* message_stop seen */
	bool have_usage; /* the upstream reported usage (message_start or message_delta) */
	/* Anthropic content-block index -> OpenAI tool_calls index, -1 for other blocks. */
	int *tool_of_block;
	size_t n_blocks;
	int n_tools;
	int64_t input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens;
	int64_t output_bytes;	 /* text, reasoning, tool names and arguments so far */
	const char *reason;	 /* after HW_ASTREAM_ERROR: "upstream_error" or "malformed" */
	char error_message[256]; /* the upstream's error message, for the logs */
};

void hw_anthropic_stream_init(struct hw_anthropic_stream *s, const char *model_id);
/* One SSE event: `event` is the SSE event name (NULL or "" -> the data's `type`), data/len
 * its JSON payload. Zero or more chunks are appended to `out` (a JSON array). Returns
 * HW_ASTREAM_MORE, HW_ASTREAM_DONE or HW_ASTREAM_ERROR (reason "upstream_error" for an
 * `error` event, "malformed" for bad JSON or a known event missing its fields). Unknown
 * event and delta types are ignored, as Anthropic asks of clients; events after
 * message_stop add nothing. */
int hw_anthropic_stream_event(struct hw_anthropic_stream *s, const char *event, const char *data,
			      size_t len, json_t *out);
void hw_anthropic_stream_free(struct hw_anthropic_stream *s);

#endif
