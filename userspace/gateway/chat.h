/* SPDX-License-Identifier: Apache-2.0 */
/* The state of one inference request between the HTTP worker and its provider calls,
 * shared by the chat pipeline's files: endpoint_chat.c (entry, routing, answers),
 * chat_attempt.c (attempts, fallback, circuit breakers) and chat_relay.c (what comes back
 * from a provider: JSON answers and event streams). Engine callbacks and the worker share
 * the fields marked below under req->lock. */
#ifndef HW_GATEWAY_CHAT_H
#define HW_GATEWAY_CHAT_H

#include "gateway/chat_request.h"
#include "gateway/messages_translate.h"
#include "gateway/request.h"
#include "guardian/guardian.h"
#include "money/ledger.h"
#include "routing/catalog.h"
#include "shield/shield.h"
#include "upstream/engine.h"
#include "upstream/sse.h"
#include "upstream/translate_anthropic.h"
#include "upstream/translate_gemini.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#define HW_CHAT_MAX_CANDIDATES 32

struct chat {
	struct hw_request *req;
	struct hw_chat_req body;
	const struct hw_catalog *catalog;
	const char *tier; /* routed tier name */
	char reason[224];
	bool scored;
	double score;
	char end_user[257];
	bool want_usage_chunk, want_meta;
	int64_t max_tokens;
	int64_t routing_ns;
	enum hw_shield_mode shield_mode; /* this request's (SPEC §12.1) */
	struct hw_buf shield_text;       /* monitor mode: the text queued after the first attempt */

	/* Candidates in attempt order (primary first) and the fallback state (SPEC §9.3). */
	const struct hw_model *cand[HW_CHAT_MAX_CANDIDATES];
	size_t n_cand, next_cand;
	bool may_fall_back;
	const struct hw_model *model; /* the current attempt's; at the end, the answering one */
	int attempts;                 /* attempts sent upstream */
	json_t *chain;                /* {model, error} of each failed or skipped candidate */
	int failed_attempts;
	bool probe; /* the current attempt is its model's half-open probe */
	json_t *tool_id_map; /* Mistral: rewritten tool-call id -> the client's (SPEC §8.5) */

	/* /v1/messages (SPEC §5.3): the client speaks Anthropic. */
	bool messages;
	json_t *native_req;   /* the client's body as received */
	bool native;          /* this attempt goes to an anthropic model as received */
	json_t *native_answer; /* its Anthropic message, answered with only model replaced */
	struct hw_messages_stream menc; /* OpenAI chunks -> Anthropic events, other providers */
	bool menc_live;
	bool menc_broken; /* the chunks could not be rebuilt: the stream is malformed */

	/* Shared with the engine thread under req->lock. */
	struct hw_upstream_call call;
	bool call_active;
	bool retry_pending; /* the attempt failed before the first byte: the worker tries the next */
	bool sse;           /* upstream answered 200 with an event stream */
	bool started;       /* first event relayed: headers are out, no JSON error anymore */
	bool terminal;      /* [DONE] relayed */
	bool saw_finish;    /* a finish_reason seen: EOF after it still ends cleanly */
	bool final_ready;   /* non-stream result (or final failure) ready to answer */
	bool interrupted;   /* stream ended with an error event */
	enum hw_call_result result;
	json_t *answer;     /* a parsed non-streaming answer */
	struct hw_buf raw;  /* non-streaming body, or an error body */
	struct hw_sse_parser parser;
	/* The stream decoder of a provider that does not speak OpenAI chunks. */
	enum hw_provider_kind decoder;
	bool decoder_live;
	union {
		struct hw_gemini_stream gemini;
		struct hw_anthropic_stream anthropic;
	} dec;
	char last_id[96];
	json_int_t last_created;
	int64_t prompt_tokens, completion_tokens, cached_tokens;
	int64_t cache_write_tokens; /* part of prompt_tokens written to a prompt cache */
	bool have_usage;
	bool absorbed; /* the whole answer's usage and output were read */
	bool answered; /* an answer reached (or is reaching) the client: only then is it charged */
	int64_t output_bytes;
	int64_t t_done_ns, ttft_ns;
	struct hw_buf echo_wire; /* an echo answer served with delays */
	size_t *echo_ends;

	/* Money (SPEC §10): the reservation; settling ends it, so it is settled once. */
	struct hw_money_res money;
	/* Guardian (SPEC §11): the workspace's settings (NULL = off) and the prompt hash. */
	const struct hw_gd_settings *gd;
	uint8_t prompt_hash[HW_GD_HASH_LEN];
	bool have_prompt_hash;
	struct hw_buf gd_text; /* a stream's answer text and tool calls, for its response hash */
	json_t *gd_calls;
};

/* chat_guardian.c */
/* Steps 9 and 10: per-key RPM, then Guardian. False when it answered (429, 413 or 403). */
bool hw_chat_guardian_admit(struct chat *c, enum MHD_Result *ret);
/* cost_spike: the request's settled upstream cost (µ$). */
void hw_chat_guardian_cost(struct chat *c, int64_t cost);
/* zombie_agent: a non-streamed answer (a chat.completion) about to reach the client. */
void hw_chat_guardian_completed(struct chat *c, const json_t *answer);
/* zombie_agent for streams: each chunk's first-choice delta, then the clean end. */
void hw_chat_guardian_stream_delta(struct chat *c, const json_t *delta);
void hw_chat_guardian_stream_done(struct chat *c);

/* chat_money.c */
/* Step 12: wallet state, grace cap, quota, Budget Control verdict. False when it answered
 * (402 or 503) in *ret. */
bool hw_chat_money_admit(struct chat *c, enum MHD_Result *ret);
/* Step 14 for candidate m (a fallback grows the reservation). 0, or -EPERM with `why`. */
int hw_chat_money_reserve(struct chat *c, const struct hw_model *m, struct hw_money_refusal *why);
/* Answers a refusal of admission or reservation. */
enum MHD_Result hw_chat_money_refused(struct chat *c, struct hw_money_refusal *why);
/* Settles the answer on its usage (or at the full reservation when `full`), once; durable
 * when it returns. Called before an answer's body or a stream's closing bytes are written. */
void hw_chat_money_settle(struct chat *c, bool full);
/* Ends a reservation nobody answered with (no charge). */
void hw_chat_money_release(struct chat *c);

/* chat_relay.c */
int64_t hw_chat_upstream_cost(const struct chat *c, const struct hw_model *m);
int64_t hw_chat_baseline_cost(const struct chat *c);
json_t *hw_chat_hiway_object(const struct chat *c);
void hw_chat_add_routing_headers(struct chat *c, struct MHD_Response *resp, bool with_cost);
void hw_chat_estimate_usage(struct chat *c);
/* Feeds stream bytes to the parser (under req->lock): relays events to the client. */
int hw_chat_relay_sse(struct chat *c, const char *data, size_t len);
/* Ends a started stream: [DONE] (with the meta chunk) or the interruption event. */
void hw_chat_end_stream(struct chat *c, enum hw_call_result r);
/* Starts the per-attempt stream state: the provider's decoder, the client's encoder. */
int hw_chat_decoder_init(struct chat *c);
void hw_chat_decoder_free(struct chat *c);
/* Parses a non-streaming provider answer into c->answer (translated to a chat.completion
 * when the provider speaks another format); false when it is not one. */
bool hw_chat_parse_answer(struct chat *c);
/* Sends c->answer (a chat.completion) to the client. */
enum MHD_Result hw_chat_answer_completion(struct chat *c);
enum MHD_Result hw_chat_answer_stream_start(struct chat *c);
/* The usage object of a /v1/messages answer (Anthropic field names). */
json_t *hw_chat_messages_usage(const struct chat *c);

/* chat_attempt.c */
/* Sends the next attempt (skipping open and cooling candidates), or answers the final
 * failure when none is left. */
enum MHD_Result hw_chat_attempt_next(struct chat *c);
/* Forgets the previous attempt's per-attempt state before the next one. */
void hw_chat_attempt_reset(struct chat *c);
/* The failure answer built from the attempts' outcomes (SPEC §9.3). */
enum MHD_Result hw_chat_answer_failure(struct chat *c);
/* Whether the fallback chain shows an earlier failure. */
bool hw_chat_fell_back(const struct chat *c);
/* The chain for _hiway: failed attempts only. */
json_t *hw_chat_chain_for_answer(const struct chat *c);

#endif
