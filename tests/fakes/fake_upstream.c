// SPDX-License-Identifier: Apache-2.0
/* fake-upstream: an OpenAI-compatible Chat Completions server for tests and benchmarks.
 *
 *   fake-upstream --listen HOST:PORT [--threads N]   (PORT 0 picks one; prints "listening on P")
 *
 * It answers deterministically ("fake: " + the last user text, or one call to the first tool)
 * and injects faults chosen per request by a "fake" object in the request body, which a
 * gateway forwards verbatim: status, retry_after, headers_delay_ms, first_byte_delay_ms,
 * chunk_delay_ms, stall_after_chunks, cut_after_chunks, malformed (+ malformed_after_chunks for
 * where a stream's bad event goes, default first), no_usage, content, content_type, empty_body.
 * GET /_fake/last, GET /_fake/stats and POST /_fake/reset let tests see what a gateway sent.
 * It is also the zero-delay upstream of the overhead benchmark, so the common path never
 * sleeps or takes a global lock beyond one short record update.
 *
 * Delays never block an MHD worker: the connection is suspended and a single timer thread
 * resumes it when due, or as soon as the client hangs up (MHD cannot see a hang-up on a
 * suspended connection, so the timer thread watches the socket for EPOLLRDHUP itself). */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY_BYTES (16u << 20)
#define STALL_HOLD_MS 120000
#define STREAM_BLOCK_SIZE 16384
#define NONE SIZE_MAX
#define MALFORMED_EVENT "data: {\"id\":\"chatcmpl-fake\",\"choices\":[{\n\n"

/* A connection parked by the timer thread; gone is set when the client hung up meanwhile. */
struct waiter {
	struct MHD_Connection *conn;
	uint64_t due_ms;
	size_t slot;
	int fd;
	bool gone;
};

static struct {
	pthread_mutex_t lock;
	pthread_t thread;
	int epfd;
	int evfd;
	struct waiter **parked;
	size_t n, cap;
} g_timer = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Set on SIGTERM/SIGINT; read under g_timer.lock where parking must not race with it. */
static atomic_bool g_stopping;

/* What /_fake/last and /_fake/stats report. */
static struct {
	pthread_mutex_t lock;
	char *last;
	uint64_t requests;
} g_rec = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_uint_fast64_t g_next_id;

struct fault {
	long status;
	long retry_after;
	long headers_delay_ms;
	long first_byte_delay_ms;
	long chunk_delay_ms;
	size_t stall_after;
	size_t cut_after;
	size_t malformed_after;
	bool malformed;
	bool no_usage;
	bool empty_body;
	const char *content;
	const char *content_type;
};

/* The reply decided for one chat request. */
struct answer {
	const char *model;
	char id[40];
	json_int_t created;
	char *text;
	const char *tool_name;
	json_int_t prompt_tokens;
	json_int_t completion_tokens;
	bool include_usage;
};

/* A streamed answer: every SSE event is rendered up front, then handed to MHD one per read so
 * each goes out as its own chunk. Owned by its MHD response. */
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

/* One HTTP request, from the first MHD call to completion. */
struct req {
	struct waiter wait;
	char *body;
	size_t len, cap;
	bool too_big;
	bool delayed; /* the headers delay has passed */
	struct MHD_Response *resp;
	unsigned int status;
	long delay_ms;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- timer thread: resumes parked connections when due or when their client hangs up ---- */

static void timer_wake(void)
{
	uint64_t one = 1;
	ssize_t w = write(g_timer.evfd, &one, sizeof(one));
	(void)w;
}

static void timer_release_locked(struct waiter *w)
{
	epoll_ctl(g_timer.epfd, EPOLL_CTL_DEL, w->fd, NULL);
	struct waiter *last = g_timer.parked[--g_timer.n];
	g_timer.parked[w->slot] = last;
	last->slot = w->slot;
	MHD_resume_connection(w->conn);
}

/* Called right after MHD_suspend_connection(conn); on failure the caller resumes it. */
static int timer_park(struct waiter *w, struct MHD_Connection *conn, long delay_ms)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	int rc = -1;

	pthread_mutex_lock(&g_timer.lock);
	if (atomic_load(&g_stopping) || !ci)
		goto out;
	if (g_timer.n == g_timer.cap) {
		size_t cap = g_timer.cap ? g_timer.cap * 2 : 64;
		struct waiter **p = realloc(g_timer.parked, cap * sizeof(struct waiter *));
		if (!p)
			goto out;
		g_timer.parked = p;
		g_timer.cap = cap;
	}
	w->conn = conn;
	w->fd = ci->connect_fd;
	w->due_ms = now_ms() + (uint64_t)delay_ms;
	w->gone = false;
	struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = w};
	if (epoll_ctl(g_timer.epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		goto out;
	w->slot = g_timer.n;
	g_timer.parked[g_timer.n++] = w;
	timer_wake();
	rc = 0;
out:
	pthread_mutex_unlock(&g_timer.lock);
	return rc;
}

static void *timer_main(void *arg)
{
	struct epoll_event evs[64];

	pthread_mutex_lock(&g_timer.lock);
	while (!atomic_load(&g_stopping)) {
		int timeout = -1;
		uint64_t now = now_ms();
		for (size_t i = 0; i < g_timer.n; i++) {
			uint64_t due = g_timer.parked[i]->due_ms;
			int left = due <= now ? 0 : (int)(due - now);
			if (timeout < 0 || left < timeout)
				timeout = left;
		}
		pthread_mutex_unlock(&g_timer.lock);
		int n = epoll_wait(g_timer.epfd, evs, 64, timeout);
		pthread_mutex_lock(&g_timer.lock);
		/* Only this thread releases waiters, so each pointer returned is still parked. */
		for (int i = 0; i < n; i++) {
			struct waiter *w = evs[i].data.ptr;
			if (!w) {
				uint64_t v;
				ssize_t r = read(g_timer.evfd, &v, sizeof(v));
				(void)r;
				continue;
			}
			w->gone = true;
			timer_release_locked(w);
		}
		now = now_ms();
		for (size_t i = 0; i < g_timer.n;) {
			struct waiter *w = g_timer.parked[i];
			if (w->due_ms <= now)
				timer_release_locked(w);
			else
				i++;
		}
	}
	/* MHD must not be stopped with suspended connections. */
	while (g_timer.n)
		timer_release_locked(g_timer.parked[0]);
	pthread_mutex_unlock(&g_timer.lock);
	return NULL;
}

/* Suspend conn for delay_ms; false when shutting down (the connection is not parked). */
static bool park(struct waiter *w, struct MHD_Connection *conn, long delay_ms)
{
	if (atomic_load(&g_stopping))
		return false;
	MHD_suspend_connection(conn);
	if (timer_park(w, conn, delay_ms) < 0) {
		MHD_resume_connection(conn);
		return false;
	}
	return true;
}

/* ---- responses ---- */

static struct MHD_Response *text_response(const char *text, size_t len, const char *ctype)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return resp;
}

/* Takes ownership of body. */
static struct MHD_Response *json_response(json_t *body, const char *ctype)
{
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return NULL;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return resp;
}

/* OpenAI's error envelope, with the type and code OpenAI uses for the status. */
static struct MHD_Response *error_response(unsigned int status, const char *message)
{
	const char *type = "invalid_request_error", *code = "invalid_request";

	if (status == 401) {
		code = "invalid_api_key";
	} else if (status == 404) {
		code = "not_found";
	} else if (status == 429) {
		type = "requests";
		code = "rate_limit_exceeded";
	} else if (status >= 500) {
		type = "server_error";
		code = status == 503 ? "service_unavailable" : "server_error";
	}
	return json_response(json_pack("{s:{s:s,s:s,s:n,s:s}}", "error", "message", message, "type",
				       type, "param", "code", code),
			     "application/json");
}

static void set_error(struct req *r, unsigned int status, const char *message)
{
	r->status = status;
	r->resp = error_response(status, message);
}

/* ---- the chat request ---- */

static long fault_long(json_t *fake, const char *key, long dflt)
{
	json_t *v = json_object_get(fake, key);
	if (!json_is_number(v))
		return dflt;
	double d = json_number_value(v);
	return d < 0 ? dflt : d > 86400000.0 ? 86400000 : (long)d;
}

static size_t fault_count(json_t *fake, const char *key, size_t dflt)
{
	long v = fault_long(fake, key, -1);
	return v < 0 ? dflt : (size_t)v;
}

/* `fake.only_model` (a model name or an array of them) limits the fault to requests for
 * those upstream models, so one request body can fail on a gateway's first candidate and
 * succeed on its fallback. */
static bool fault_applies(json_t *root, json_t *fake)
{
	json_t *only = json_object_get(fake, "only_model");
	const char *model = json_string_value(json_object_get(root, "model"));
	if (!only)
		return true;
	if (!model)
		return false;
	if (json_is_string(only))
		return strcmp(json_string_value(only), model) == 0;
	size_t i;
	json_t *v;
	json_array_foreach(only, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), model) == 0)
			return true;
	}
	return false;
}

static void parse_fault(json_t *root, struct fault *f)
{
	json_t *fake = json_object_get(root, "fake");
	if (!fault_applies(root, fake))
		fake = NULL;

	f->status = fault_long(fake, "status", 200);
	f->retry_after = fault_long(fake, "retry_after", -1);
	f->headers_delay_ms = fault_long(fake, "headers_delay_ms", 0);
	f->first_byte_delay_ms = fault_long(fake, "first_byte_delay_ms", 0);
	f->chunk_delay_ms = fault_long(fake, "chunk_delay_ms", 0);
	f->stall_after = fault_count(fake, "stall_after_chunks", NONE);
	f->cut_after = fault_count(fake, "cut_after_chunks", NONE);
	f->malformed_after = fault_count(fake, "malformed_after_chunks", 0);
	f->malformed = json_is_true(json_object_get(fake, "malformed"));
	f->no_usage = json_is_true(json_object_get(fake, "no_usage"));
	f->empty_body = json_is_true(json_object_get(fake, "empty_body"));
	f->content = json_string_value(json_object_get(fake, "content"));
	f->content_type = json_string_value(json_object_get(fake, "content_type"));
}

/* The text of a message's content (a string, or text parts joined by newlines): returns its
 * length and, when out is not NULL, writes it there (out must hold that length). */
static size_t content_text(json_t *content, char *out)
{
	size_t n = 0, i;
	json_t *part;

	if (json_is_string(content)) {
		n = json_string_length(content);
		if (out)
			memcpy(out, json_string_value(content), n);
		return n;
	}
	json_array_foreach (content, i, part) {
		json_t *text = json_object_get(part, "text");
		if (!json_is_string(text))
			continue;
		if (n) {
			if (out)
				out[n] = '\n';
			n++;
		}
		size_t len = json_string_length(text);
		if (out)
			memcpy(out + n, json_string_value(text), len);
		n += len;
	}
	return n;
}

static const char *tool_to_call(json_t *root)
{
	json_t *tools = json_object_get(root, "tools");
	json_t *choice = json_object_get(root, "tool_choice");

	if (!json_array_size(tools))
		return NULL;
	if (json_is_string(choice) && strcmp(json_string_value(choice), "none") == 0)
		return NULL;
	const char *named =
		json_string_value(json_object_get(json_object_get(choice, "function"), "name"));
	if (named)
		return named;
	return json_string_value(
		json_object_get(json_object_get(json_array_get(tools, 0), "function"), "name"));
}

static int build_answer(json_t *root, const struct fault *f, struct answer *a)
{
	json_t *messages = json_object_get(root, "messages");
	json_t *last_user = NULL;
	size_t prompt_bytes = 0, i;
	json_t *msg;

	json_array_foreach (messages, i, msg) {
		prompt_bytes += content_text(json_object_get(msg, "content"), NULL);
		const char *role = json_string_value(json_object_get(msg, "role"));
		if (role && strcmp(role, "user") == 0)
			last_user = msg;
	}
	a->model = json_string_value(json_object_get(root, "model"));
	a->created = (json_int_t)time(NULL);
	snprintf(a->id, sizeof(a->id), "chatcmpl-fake%016" PRIxFAST64,
		 atomic_fetch_add(&g_next_id, 1) + 1);
	a->include_usage = json_is_true(
		json_object_get(json_object_get(root, "stream_options"), "include_usage"));
	a->prompt_tokens = (json_int_t)((prompt_bytes + 3) / 4);
	a->tool_name = f->content ? NULL : tool_to_call(root);
	if (a->tool_name) {
		/* The call's name and its "{}" arguments are what the model would have written. */
		a->completion_tokens = (json_int_t)((strlen(a->tool_name) + 2 + 3) / 4);
		return 0;
	}
	if (f->content) {
		a->text = strdup(f->content);
	} else {
		json_t *content = json_object_get(last_user, "content");
		size_t len = content_text(content, NULL);
		a->text = malloc(6 + len + 1);
		if (a->text) {
			memcpy(a->text, "fake: ", 6);
			content_text(content, a->text + 6);
			a->text[6 + len] = '\0';
		}
	}
	if (!a->text)
		return -1;
	a->completion_tokens = (json_int_t)((strlen(a->text) + 3) / 4);
	return 0;
}

static json_t *usage_json(const struct answer *a)
{
	return json_pack("{s:I,s:I,s:I,s:{s:i}}", "prompt_tokens", a->prompt_tokens,
			 "completion_tokens", a->completion_tokens, "total_tokens",
			 a->prompt_tokens + a->completion_tokens, "prompt_tokens_details",
			 "cached_tokens", 0);
}

static json_t *completion_json(const struct answer *a, bool usage)
{
	json_t *message =
		json_pack("{s:s,s:s?,s:n}", "role", "assistant", "content", a->text, "refusal");
	if (message && a->tool_name)
		json_object_set_new(message, "tool_calls",
				    json_pack("[{s:s,s:s,s:{s:s,s:s}}]", "id", "call_fake_0",
					      "type", "function", "function", "name", a->tool_name,
					      "arguments", "{}"));
	json_t *obj = json_pack("{s:s,s:s,s:I,s:s,s:s,s:[{s:i,s:o,s:n,s:s}]}", "id", a->id,
				"object", "chat.completion", "created", a->created, "model",
				a->model, "system_fingerprint", "fp_fake", "choices", "index", 0,
				"message", message, "logprobs", "finish_reason",
				a->tool_name ? "tool_calls" : "stop");
	if (obj && usage)
		json_object_set_new(obj, "usage", usage_json(a));
	return obj;
}

static int stream_push(struct stream *s, char *event)
{
	if (!event)
		return -1;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **p = realloc(s->events, cap * sizeof(*p));
		if (!p) {
			free(event);
			return -1;
		}
		s->events = p;
		s->cap = cap;
	}
	s->events[s->n++] = event;
	return 0;
}

static char *sse_event(json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT), *event = NULL;
	json_decref(obj);
	if (text && asprintf(&event, "data: %s\n\n", text) < 0)
		event = NULL;
	free(text);
	return event;
}

/* One chat.completion.chunk; OpenAI adds "usage":null to every chunk once usage was asked. */
static int push_chunk(struct stream *s, const struct answer *a, bool usage, json_t *delta,
		      const char *finish)
{
	json_t *obj = json_pack("{s:s,s:s,s:I,s:s,s:s,s:[{s:i,s:o,s:n,s:s?}]}", "id", a->id,
				"object", "chat.completion.chunk", "created", a->created, "model",
				a->model, "system_fingerprint", "fp_fake", "choices", "index", 0,
				"delta", delta, "logprobs", "finish_reason", finish);
	if (!obj)
		return -1;
	if (usage)
		json_object_set_new(obj, "usage", json_null());
	return stream_push(s, sse_event(obj));
}

/* The content goes out one word per chunk, each carrying the whitespace before it, so the
 * pieces concatenate back to the exact text. */
static int push_words(struct stream *s, const struct answer *a, bool usage)
{
	const char *p = a->text;

	while (*p) {
		const char *end = p;
		while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
			end++;
		while (*end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
			end++;
		json_t *delta = json_pack("{s:s%}", "content", p, (size_t)(end - p));
		if (push_chunk(s, a, usage, delta, NULL) < 0)
			return -1;
		p = end;
	}
	return 0;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;
	for (size_t i = 0; i < s->n; i++)
		free(s->events[i]);
	free(s->events);
	free(s);
}

static ssize_t stream_pause(struct stream *s, long delay_ms)
{
	return park(&s->wait, s->wait.conn, delay_ms) ? 0 : MHD_CONTENT_READER_END_WITH_ERROR;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;

	if (s->wait.gone || atomic_load(&g_stopping))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (s->off == 0) {
		if (s->next == s->n)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (s->next == s->cut_after)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (s->next == s->stall_after) {
			if (s->stalled)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			s->stalled = true;
			return stream_pause(s, STALL_HOLD_MS);
		}
		long delay = s->next == 0 ? s->first_byte_delay_ms : s->chunk_delay_ms;
		if (delay > 0 && !s->delayed) {
			s->delayed = true;
			return stream_pause(s, delay);
		}
		s->delayed = false;
	}
	const char *event = s->events[s->next];
	size_t len = strlen(event + s->off);
	size_t n = len < max ? len : max;
	memcpy(buf, event + s->off, n);
	s->off += n;
	if (n == len) {
		s->off = 0;
		s->next++;
	}
	return (ssize_t)n;
}

static int build_stream_events(struct stream *s, const struct answer *a, const struct fault *f)
{
	bool usage = a->include_usage && !f->no_usage;

	if (a->tool_name) {
		json_t *call = json_pack("{s:i,s:s,s:s,s:{s:s,s:s}}", "index", 0, "id",
					 "call_fake_0", "type", "function", "function", "name",
					 a->tool_name, "arguments", "");
		if (push_chunk(s, a, usage, json_pack("{s:s,s:n}", "role", "assistant", "content"),
			       NULL) < 0 ||
		    push_chunk(s, a, usage, json_pack("{s:[o]}", "tool_calls", call), NULL) < 0 ||
		    push_chunk(s, a, usage,
			       json_pack("{s:[{s:i,s:{s:s}}]}", "tool_calls", "index", 0,
					 "function", "arguments", "{}"),
			       NULL) < 0 ||
		    push_chunk(s, a, usage, json_object(), "tool_calls") < 0)
			return -1;
	} else {
		if (push_chunk(s, a, usage,
			       json_pack("{s:s,s:s,s:n}", "role", "assistant", "content", "",
					 "refusal"),
			       NULL) < 0 ||
		    push_words(s, a, usage) < 0 ||
		    push_chunk(s, a, usage, json_object(), "stop") < 0)
			return -1;
	}
	if (usage) {
		json_t *obj = json_pack("{s:s,s:s,s:I,s:s,s:s,s:[],s:o}", "id", a->id, "object",
					"chat.completion.chunk", "created", a->created, "model",
					a->model, "system_fingerprint", "fp_fake", "choices",
					"usage", usage_json(a));
		if (!obj || stream_push(s, sse_event(obj)) < 0)
			return -1;
	}
	if (stream_push(s, strdup("data: [DONE]\n\n")) < 0)
		return -1;
	if (f->malformed) {
		size_t at = f->malformed_after < s->n ? f->malformed_after : s->n;
		if (stream_push(s, strdup(MALFORMED_EVENT)) < 0)
			return -1;
		char *bad = s->events[s->n - 1];
		memmove(&s->events[at + 1], &s->events[at], (s->n - 1 - at) * sizeof(char *));
		s->events[at] = bad;
	}
	return 0;
}

static struct MHD_Response *stream_response(struct MHD_Connection *conn, const struct answer *a,
					    const struct fault *f)
{
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->wait.conn = conn;
	s->stall_after = f->stall_after;
	s->cut_after = f->cut_after;
	s->first_byte_delay_ms = f->first_byte_delay_ms;
	s->chunk_delay_ms = f->chunk_delay_ms;
	if (build_stream_events(s, a, f) < 0) {
		stream_free(s);
		return NULL;
	}
	struct MHD_Response *resp = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, STREAM_BLOCK_SIZE, stream_read, s, stream_free);
	if (!resp) {
		stream_free(s);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				f->content_type ? f->content_type : "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	return resp;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	json_t *headers = cls;
	char name[256];
	size_t i;

	for (i = 0; i < sizeof(name) - 1 && key[i]; i++)
		name[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
	name[i] = '\0';
	const char *prev = json_string_value(json_object_get(headers, name));
	if (!prev) {
		json_object_set_new(headers, name, json_string(value ? value : ""));
		return MHD_YES;
	}
	char *joined;
	if (asprintf(&joined, "%s, %s", prev, value ? value : "") >= 0) {
		json_object_set_new(headers, name, json_string(joined));
		free(joined);
	}
	return MHD_YES;
}

static void record_request(struct MHD_Connection *conn, const char *method, const char *url,
			   json_t *root)
{
	json_t *headers = json_object();
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, headers);
	json_t *rec = json_pack("{s:s,s:s,s:o,s:O?}", "method", method, "path", url, "headers",
				headers, "body", root);
	char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	json_decref(rec);

	pthread_mutex_lock(&g_rec.lock);
	g_rec.requests++;
	if (text) {
		free(g_rec.last);
		g_rec.last = text;
	}
	pthread_mutex_unlock(&g_rec.lock);
}

static void handle_chat(struct req *r, struct MHD_Connection *conn, const char *method,
			const char *url)
{
	json_error_t jerr;
	json_t *root = r->too_big ? NULL : json_loadb(r->body ? r->body : "", r->len, 0, &jerr);
	struct fault f;
	struct answer a = {0};

	record_request(conn, method, url, root);
	if (r->too_big) {
		set_error(r, 413, "Request body too large.");
		return;
	}
	if (!json_is_object(root)) {
		set_error(r, 400, "Request body is not a JSON object.");
		goto out;
	}
	parse_fault(root, &f);
	r->delay_ms = f.headers_delay_ms;
	if (!json_is_string(json_object_get(root, "model"))) {
		set_error(r, 400, "you must provide a model parameter");
		goto out;
	}
	if (!json_array_size(json_object_get(root, "messages"))) {
		set_error(r, 400, "'messages' must be a non-empty array");
		goto out;
	}
	bool stream = json_is_true(json_object_get(root, "stream"));
	/* A non-streaming answer has no first event, so its first-byte delay delays the headers. */
	if (!stream)
		r->delay_ms += f.first_byte_delay_ms;
	if (f.status < 200 || f.status > 599) {
		set_error(r, 400, "fake.status must be between 200 and 599.");
	} else if (f.status != 200) {
		set_error(r, (unsigned int)f.status, "The fake upstream was told to fail.");
	} else if (f.empty_body) {
		r->status = 200;
		r->resp = text_response("", 0,
					f.content_type ? f.content_type
					: stream       ? "text/event-stream"
						       : "application/json");
	} else if (!stream && f.malformed) {
		static const char bad[] = "{\"id\":\"chatcmpl-fake\",\"object\":\"chat.comp";
		r->status = 200;
		r->resp = text_response(bad, sizeof(bad) - 1,
					f.content_type ? f.content_type : "application/json");
	} else if (build_answer(root, &f, &a) < 0) {
		set_error(r, 500, "out of memory");
	} else if (stream) {
		r->status = 200;
		r->resp = stream_response(conn, &a, &f);
	} else {
		r->status = 200;
		r->resp = json_response(completion_json(&a, !f.no_usage),
					f.content_type ? f.content_type : "application/json");
	}
	if (r->resp && f.retry_after >= 0) {
		char v[24];
		snprintf(v, sizeof(v), "%ld", f.retry_after);
		MHD_add_response_header(r->resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
	}
out:
	free(a.text);
	json_decref(root);
}

static json_t *models_json(void)
{
	static const char *const ids[] = {"fake-model", "fake-model-large", "fake/bench"};
	json_t *data = json_array();

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		json_array_append_new(data, json_pack("{s:s,s:s,s:i,s:s}", "id", ids[i], "object",
						      "model", "created", 1700000000, "owned_by",
						      "fake"));
	return json_pack("{s:s,s:o}", "object", "list", "data", data);
}

static void route(struct req *r, struct MHD_Connection *conn, const char *method, const char *url)
{
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

	if (strcmp(url, "/v1/chat/completions") == 0 || strcmp(url, "/chat/completions") == 0) {
		if (post)
			handle_chat(r, conn, method, url);
		else
			set_error(r, 405, "Use POST.");
		return;
	}
	r->status = 200;
	if ((strcmp(url, "/v1/models") == 0 || strcmp(url, "/models") == 0) && get) {
		r->resp = json_response(models_json(), "application/json");
	} else if (strcmp(url, "/_fake/last") == 0 && get) {
		pthread_mutex_lock(&g_rec.lock);
		if (g_rec.last)
			r->resp = text_response(g_rec.last, strlen(g_rec.last), "application/json");
		pthread_mutex_unlock(&g_rec.lock);
		if (!r->resp)
			set_error(r, 404, "No chat request recorded yet.");
	} else if (strcmp(url, "/_fake/stats") == 0 && get) {
		pthread_mutex_lock(&g_rec.lock);
		json_int_t n = (json_int_t)g_rec.requests;
		pthread_mutex_unlock(&g_rec.lock);
		r->resp = json_response(json_pack("{s:I}", "requests", n), "application/json");
	} else if (strcmp(url, "/_fake/reset") == 0 && post) {
		pthread_mutex_lock(&g_rec.lock);
		free(g_rec.last);
		g_rec.last = NULL;
		g_rec.requests = 0;
		pthread_mutex_unlock(&g_rec.lock);
		r->resp = json_response(json_pack("{s:b}", "ok", 1), "application/json");
	} else {
		set_error(r, 404, "Unknown path.");
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct req *r = *con_cls;

	if (!r) {
		r = calloc(1, sizeof(*r));
		*con_cls = r;
		return r ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (r->too_big || r->len + n > MAX_BODY_BYTES) {
			r->too_big = true;
			return MHD_YES;
		}
		if (r->len + n > r->cap) {
			size_t cap = r->cap ? r->cap : 4096;
			while (cap < r->len + n)
				cap *= 2;
			char *p = realloc(r->body, cap);
			if (!p)
				return MHD_NO;
			r->body = p;
			r->cap = cap;
		}
		memcpy(r->body + r->len, upload, n);
		r->len += n;
		return MHD_YES;
	}
	if (!r->resp) {
		route(r, conn, method, url);
		if (!r->resp)
			return MHD_NO;
	}
	if (r->delay_ms > 0 && !r->delayed) {
		r->delayed = true;
		if (park(&r->wait, conn, r->delay_ms))
			return MHD_YES;
	}
	if (r->wait.gone)
		return MHD_NO;
	enum MHD_Result ret = MHD_queue_response(conn, r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	if (!r)
		return;
	if (r->resp)
		MHD_destroy_response(r->resp);
	free(r->body);
	free(r);
	*con_cls = NULL;
}

/* ---- startup ---- */

static int parse_listen(const char *arg, struct sockaddr_storage *ss, bool *v6)
{
	char host[64];
	const char *colon;
	const char *port_s;

	if (arg[0] == '[') {
		const char *end = strchr(arg, ']');
		if (!end || end[1] != ':' || (size_t)(end - arg - 1) >= sizeof(host))
			return -1;
		memcpy(host, arg + 1, (size_t)(end - arg - 1));
		host[end - arg - 1] = '\0';
		port_s = end + 2;
	} else {
		colon = strrchr(arg, ':');
		if (!colon || (size_t)(colon - arg) >= sizeof(host))
			return -1;
		memcpy(host, arg, (size_t)(colon - arg));
		host[colon - arg] = '\0';
		port_s = colon + 1;
	}
	char *end;
	long port = strtol(port_s, &end, 10);
	if (!*port_s || *end || port < 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*v6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*v6 = true;
		return 0;
	}
	return -1;
}

static void print_usage(FILE *out)
{
	fprintf(out, "usage: fake-upstream --listen HOST:PORT [--threads N]\n"
		     "  PORT 0 picks a free port; prints \"listening on <port>\" when ready.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"threads", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *listen_arg = NULL;
	long threads = 2;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "l:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_arg = optarg;
			break;
		case 't':
			threads = strtol(optarg, NULL, 10);
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return 2;
		}
	}
	struct sockaddr_storage addr;
	bool v6;
	if (!listen_arg || optind != argc || threads < 1 || threads > 256 ||
	    parse_listen(listen_arg, &addr, &v6) < 0) {
		print_usage(stderr);
		return 2;
	}

	/* Many keep-alive connections from a load generator need more than the default 1024 fds. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Every thread inherits this mask, so only sigwait below sees SIGTERM/SIGINT. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	g_timer.epfd = epoll_create1(EPOLL_CLOEXEC);
	g_timer.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (g_timer.epfd < 0 || g_timer.evfd < 0 ||
	    epoll_ctl(g_timer.epfd, EPOLL_CTL_ADD, g_timer.evfd, &ev) < 0 ||
	    pthread_create(&g_timer.thread, NULL, timer_main, NULL) != 0) {
		perror("fake-upstream: timer");
		return 1;
	}

	unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)16384, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)600,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, NULL, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "fake-upstream: cannot listen on %s\n", listen_arg);
		goto stop_timer;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening on %u\n", info ? (unsigned int)info->port : 0u);
	fflush(stdout);

	int sig;
	sigwait(&sigs, &sig);
	rc = 0;
stop_timer:
	pthread_mutex_lock(&g_timer.lock);
	atomic_store(&g_stopping, true);
	timer_wake();
	pthread_mutex_unlock(&g_timer.lock);
	pthread_join(g_timer.thread, NULL);
	if (d)
		MHD_stop_daemon(d);
	free(g_timer.parked);
	free(g_rec.last);
	close(g_timer.evfd);
	close(g_timer.epfd);
	return rc;
}
