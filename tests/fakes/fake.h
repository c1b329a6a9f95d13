// SPDX-License-Identifier: Apache-2.0
/* fake.h: what the files of fake-upstream share.
 *
 * fake_upstream.c owns the HTTP side (MHD, the timer thread that parks delayed connections,
 * routing, /_fake/ control endpoints) and the steps every model call goes through; the fault
 * options and the format-independent answer live in fake_faults.c; each wire format
 * (fake_openai.c, fake_anthropic.c, fake_gemini.c) only parses its request into a struct
 * prompt and renders a struct answer as its JSON body or SSE events. */
#ifndef HIWAY_FAKE_H
#define HIWAY_FAKE_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NONE SIZE_MAX

/* A connection parked by the timer thread; gone is set when the client hung up meanwhile. */
struct waiter {
	struct MHD_Connection *conn;
	uint64_t due_ms;
	size_t slot;
	int fd;
	bool gone;
};

enum close_mode {
	CLOSE_NO,
	CLOSE_HEADER, /* "Connection: close", then the socket is closed */
	CLOSE_IDLE,   /* keep-alive advertised, but the socket is closed right after the answer */
};

/* The faults asked for one request: the body's "fake" object merged with a FAKE{...} marker in
 * the last user message (the marker wins). Strings point into merged. */
struct fault {
	json_t *merged;
	long status;
	char retry_after[64]; /* "" when none */
	long headers_delay_ms;
	long first_byte_delay_ms;
	long chunk_delay_ms;
	size_t stall_after;
	size_t cut_after;
	size_t malformed_after;
	size_t error_after;
	long error_status;
	size_t oversized; /* 0 when off */
	bool malformed;
	bool no_usage;
	bool usage_on_finish; /* OpenAI format: usage on the finish chunk, as Mistral streams */
	bool empty_body;
	enum close_mode close;
	const char *content;
	const char *content_type;
	const char *finish; /* "length" ends as if max tokens were reached */
	json_int_t cache_read;
	json_int_t cache_creation;
	json_t *tool_calls; /* [{"name":..., "arguments":{...}}] */
};

/* What a format's parser extracts from its request. Strings are owned (freed by prompt_free)
 * except model, which points into the request or stays valid for the request's lifetime. */
struct prompt {
	char *model;
	json_t *fake;      /* the body's "fake" object, borrowed */
	char *user_text;   /* text of the last user message, "" when none */
	char *tool_result; /* text of the tool result that ends the conversation, or NULL */
	const char *tool;  /* the tool to call when the last message is user text, or NULL */
	size_t prompt_bytes;
	bool stream;
	bool include_usage; /* OpenAI: stream_options.include_usage */
};

struct call {
	char *name;
	char *args; /* compact JSON object */
	json_t *input;
};

/* The reply decided for one request, in no particular wire format. */
struct answer {
	const char *model;
	char id[48];
	json_int_t created;
	char *text; /* NULL with tool calls only */
	struct call *calls;
	size_t ncalls;
	bool length; /* stopped at max tokens */
	bool usage;  /* usage is reported (the no_usage fault is off) */
	bool include_usage;
	bool usage_on_finish;
	json_int_t prompt_tokens; /* not counting cached tokens */
	json_int_t completion_tokens;
	json_int_t cache_read;
	json_int_t cache_creation;
};

/* A streamed answer: every event is rendered up front, then handed to MHD one per read so each
 * goes out as its own chunk. Owned by its MHD response. */
struct stream {
	struct waiter wait;
	char **events;
	size_t n, cap;
	size_t next; /* the event to send next */
	size_t off;  /* bytes of events[next] already sent when MHD's buffer was too small */
	size_t stall_after;
	size_t cut_after;
	long first_byte_delay_ms;
	long chunk_delay_ms;
	bool delayed; /* the delay before events[next] has passed */
	bool stalled;
};

struct format {
	const char *name;
	const char *id_fmt; /* printf format of the answer id, given a 64-bit counter */
	/* Checks the auth and version headers; on failure sets *status and *msg. */
	bool (*check)(struct MHD_Connection *conn, unsigned int *status, const char **msg);
	/* Fills p from the request; on a bad request returns -1 with *msg set. */
	int (*parse)(json_t *root, const char *url, struct MHD_Connection *conn, struct prompt *p,
		     const char **msg);
	struct MHD_Response *(*error)(unsigned int status, const char *msg);
	json_t *(*body)(const struct answer *a);
	int (*events)(struct stream *s, const struct answer *a);
	char *(*error_event)(unsigned int status);
	const char *malformed_body;
	const char *malformed_event;
};

extern const struct format fmt_openai, fmt_anthropic, fmt_gemini;

/* fake_faults.c */
int fault_parse(const struct prompt *p, struct fault *f, const char **msg);
void fault_free(struct fault *f);
int answer_build(const struct format *fmt, const struct prompt *p, const struct fault *f,
		 struct answer *a);
void answer_free(struct answer *a);
void prompt_free(struct prompt *p);
const char *fault_message(unsigned int status);
size_t next_piece(const char *p); /* bytes of the next streamed piece of text */
size_t content_text(json_t *content, char *out);
char *content_dup(json_t *content); /* content_text, allocated */
char *strdup_or_empty(const char *s);

/* fake_upstream.c */
struct MHD_Response *text_response(const char *text, size_t len, const char *ctype);
struct MHD_Response *json_response(json_t *body, const char *ctype);
int stream_push(struct stream *s, char *event);
char *sse_data(json_t *obj);                    /* "data: <json>\n\n"; takes obj */
char *sse_event(const char *type, json_t *obj); /* "event: <type>\ndata: <json>\n\n"; takes obj */

#endif
