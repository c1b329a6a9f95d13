/* SPDX-License-Identifier: Apache-2.0 */
/* Google Gemini translation (SPEC §8.4): the internal OpenAI chat-completions request to a
 * `generateContent` body, and Gemini responses and stream events back to OpenAI
 * `chat.completion` objects and `chat.completion.chunk`s. Pure functions over jansson, so the
 * mapping is tested without a network. */
#ifndef HW_UPSTREAM_TRANSLATE_GEMINI_H
#define HW_UPSTREAM_TRANSLATE_GEMINI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The Gemini `generateContent` body for an OpenAI-form request `oa`, with
 * generationConfig.maxOutputTokens = max_tokens (the reserved bound). Returns a new
 * reference, or NULL with `msg` filled when the request cannot be expressed for Gemini and
 * deserves a 400 (tool-call arguments that are not a JSON object, a tool message answering
 * no earlier tool call, an image URL that is neither data: nor http(s):, a file by id, a
 * text part without text) or on allocation failure ("out of memory"). */
json_t *hw_gemini_request_from_openai(const json_t *oa, int64_t max_tokens, char *msg,
				      size_t msg_len);

/* A Gemini GenerateContentResponse as an OpenAI `chat.completion` with `model` = model_id,
 * a fresh `chatcmpl-` id and tool-call ids `call_<n>` from 0. `usage` is absent when the
 * upstream sent no usageMetadata, so the caller can estimate (SPEC §8.5). Returns NULL when
 * `resp` is not a response (an error object, no candidates and no promptFeedback). */
json_t *hw_gemini_response_to_openai(const json_t *resp, const char *model_id);

/* State of one translated stream: one id and `created` for all its chunks (SPEC §6.2). */
struct hw_gemini_stream {
	char id[40];
	json_int_t created;
	char *model;
	bool role_sent;   /* the first chunk carries delta.role */
	int n_calls;      /* tool calls so far: the next index and call_<n> id */
	bool done;        /* the finish event was seen */
	bool have_usage;  /* some event carried usageMetadata */
	json_int_t prompt, candidates, thoughts, cached; /* the latest usageMetadata */
};

/* Returns 0 or -ENOMEM. */
int hw_gemini_stream_init(struct hw_gemini_stream *s, const char *model_id);

/* Translates one SSE `data:` payload (a partial GenerateContentResponse) into zero or more
 * chunks appended to the JSON array `out`: one chunk per part (text → delta.content,
 * thought → delta.reasoning_content, functionCall → one whole tool-call delta {index, id,
 * type, function{name, arguments}}), the first carrying delta.role "assistant".
 * Returns 0 when more events are due; 1 when this event ended the stream (a finishReason, or
 * a prompt blocked before any candidate): the finish chunk and, when usage was reported, a
 * usage chunk with "choices":[] were appended; -1 with *reason = "upstream_error" (an error
 * object), or "malformed" (not a JSON object, or an event after the end); -ENOMEM when
 * memory ran out. */
int hw_gemini_stream_event(struct hw_gemini_stream *s, const char *data, size_t len,
			   json_t *out, const char **reason);

void hw_gemini_stream_free(struct hw_gemini_stream *s);

#endif
