// SPDX-License-Identifier: Apache-2.0
/* fake-upstream: a fake LLM provider for tests and benchmarks, speaking three wire formats:
 *
 *   OpenAI Chat Completions  POST /v1/chat/completions (also /chat/completions)
 *   Anthropic Messages       POST /v1/messages
 *   Google Gemini            POST /v1beta/models/{model}:generateContent
 *                            POST /v1beta/models/{model}:streamGenerateContent?alt=sse
 *
 *   fake-upstream --listen HOST:PORT [--threads N]   (PORT 0 picks one; prints "listening on P")
 *
 * It answers deterministically ("fake: " + the last user text, or a call to the first tool) and
 * injects faults chosen per request by a "fake" object in the body or a FAKE{...} marker in the
 * last user message (fake_faults.c lists them). GET /_fake/last, GET /_fake/stats and
 * POST /_fake/reset let tests see what a gateway sent upstream. It is also the zero-delay
 * upstream of the overhead benchmark, so the common path never sleeps or takes a global lock
 * beyond one short record update.
 *
 * This file holds the HTTP side and the steps every model call goes through; each format's file
 * parses its request and renders the answer. Delays never block an MHD worker: the connection
 * is suspended and a single timer thread resumes it when due, or as soon as the client hangs up
 * (MHD cannot see a hang-up on a suspended connection, so the timer thread watches the socket
 * for EPOLLRDHUP itself). */
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

#include "fake.h"

#define MAX_BODY_BYTES (16u << 20)
#define STALL_HOLD_MS 120000
#define STREAM_BLOCK_SIZE 16384

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


/* One HTTP request, from the first MHD call to completion. */
struct req {
	struct waiter wait;
	char *body;
	size_t len, cap;
	bool too_big;
	bool delayed;       /* the headers delay has passed */
	bool close_after;   /* close_keepalive "idle": shut the socket once the answer is out */
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

struct MHD_Response *text_response(const char *text, size_t len, const char *ctype)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return resp;
}

/* Takes ownership of body. */
struct MHD_Response *json_response(json_t *body, const char *ctype)
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


/* ---- streams ---- */

int stream_push(struct stream *s, char *event)
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

char *sse_event(const char *type, json_t *obj)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL, *event = NULL;
	json_decref(obj);
	if (text && asprintf(&event, "%s%s%sdata: %s\n\n", type ? "event: " : "", type ? type : "",
			     type ? "\n" : "", text) < 0)
		event = NULL;
	free(text);
	return event;
}

char *sse_data(json_t *obj)
{
	return sse_event(NULL, obj);
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

/* The format's events, then the stream faults that change them: a malformed event inserted
 * (by default first), or an error event that ends the stream early. */
static int build_events(const struct format *fmt, struct stream *s, const struct answer *a,
			const struct fault *f)
{
	if (fmt->events(s, a) < 0)
		return -1;
	if (f->malformed) {
		size_t at = f->malformed_after < s->n ? f->malformed_after : s->n;
		if (stream_push(s, strdup(fmt->malformed_event)) < 0)
			return -1;
		char *bad = s->events[s->n - 1];
		memmove(&s->events[at + 1], &s->events[at], (s->n - 1 - at) * sizeof(char *));
		s->events[at] = bad;
	}
	if (f->error_after != NONE) {
		size_t at = f->error_after < s->n ? f->error_after : s->n;
		while (s->n > at)
			free(s->events[--s->n]);
		if (stream_push(s, fmt->error_event((unsigned int)f->error_status)) < 0)
			return -1;
	}
	return 0;
}

static struct MHD_Response *stream_response(const struct format *fmt,
					    struct MHD_Connection *conn, const struct answer *a,
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
	if (build_events(fmt, s, a, f) < 0) {
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

/* ---- recording what was asked ---- */

static enum MHD_Result collect_value(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	json_t *values = cls;
	char name[256];
	size_t i;

	/* Header names are case-insensitive, so they are recorded in lower case. */
	for (i = 0; i < sizeof(name) - 1 && key[i]; i++)
		name[i] = (char)(kind == MHD_HEADER_KIND && key[i] >= 'A' && key[i] <= 'Z'
					 ? key[i] + 32
					 : key[i]);
	name[i] = '\0';
	const char *prev = json_string_value(json_object_get(values, name));
	if (!prev) {
		json_object_set_new(values, name, json_string(value ? value : ""));
		return MHD_YES;
	}
	char *joined;
	if (asprintf(&joined, "%s, %s", prev, value ? value : "") >= 0) {
		json_object_set_new(values, name, json_string(joined));
		free(joined);
	}
	return MHD_YES;
}

static void record_request(struct MHD_Connection *conn, const char *method, const char *url,
			   const char *format, json_t *root)
{
	json_t *headers = json_object(), *query = json_object();
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_value, headers);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_value, query);
	json_t *rec = json_pack("{s:s,s:s,s:o,s:s,s:o,s:O?}", "method", method, "path", url,
				"query", query, "format", format, "headers", headers, "body", root);
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

/* ---- a model call, in any format ---- */

static void set_error(struct req *r, const struct format *fmt, unsigned int status,
		      const char *message)
{
	r->status = status;
	r->resp = fmt->error(status, message);
}

static void answer_call(const struct format *fmt, struct req *r, struct MHD_Connection *conn,
			const struct prompt *p, const struct fault *f)
{
	struct answer a;
	const char *ctype = f->content_type;

	if (f->status < 200 || f->status > 599) {
		set_error(r, fmt, 400, "fake.status must be between 200 and 599.");
		return;
	}
	if (f->status != 200) {
		set_error(r, fmt, (unsigned int)f->status, fault_message((unsigned int)f->status));
		return;
	}
	r->status = 200;
	if (f->empty_body) {
		r->resp = text_response("", 0,
					ctype	    ? ctype
					: p->stream ? "text/event-stream"
						    : "application/json");
		return;
	}
	if (!p->stream && f->malformed) {
		r->resp = text_response(fmt->malformed_body, strlen(fmt->malformed_body),
					ctype ? ctype : "application/json");
		return;
	}
	if (answer_build(fmt, p, f, &a) < 0) {
		answer_free(&a);
		set_error(r, fmt, 500, "out of memory");
		return;
	}
	if (p->stream)
		r->resp = stream_response(fmt, conn, &a, f);
	else
		r->resp = json_response(fmt->body(&a), ctype ? ctype : "application/json");
	answer_free(&a);
}

static void handle_call(const struct format *fmt, struct req *r, struct MHD_Connection *conn,
			const char *method, const char *url)
{
	json_error_t jerr;
	json_t *root = r->too_big ? NULL : json_loadb(r->body ? r->body : "", r->len, 0, &jerr);
	struct prompt p = {0};
	struct fault f = {0};
	const char *msg = "invalid request";
	unsigned int status = 400;

	record_request(conn, method, url, fmt->name, root);
	if (r->too_big) {
		set_error(r, fmt, 413, "Request body too large.");
		goto out;
	}
	if (!fmt->check(conn, &status, &msg)) {
		set_error(r, fmt, status, msg);
		goto out;
	}
	if (!json_is_object(root)) {
		set_error(r, fmt, 400, "Request body is not a JSON object.");
		goto out;
	}
	if (fmt->parse(root, url, conn, &p, &msg) < 0 || fault_parse(&p, &f, &msg) < 0) {
		set_error(r, fmt, 400, msg);
		goto out;
	}
	r->delay_ms = f.headers_delay_ms;
	/* A non-streaming answer has no first event, so its first-byte delay delays the headers. */
	if (!p.stream)
		r->delay_ms += f.first_byte_delay_ms;
	answer_call(fmt, r, conn, &p, &f);
	if (r->resp && f.retry_after[0])
		MHD_add_response_header(r->resp, MHD_HTTP_HEADER_RETRY_AFTER, f.retry_after);
	if (r->resp && f.close == CLOSE_HEADER)
		MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONNECTION, "close");
	r->close_after = f.close == CLOSE_IDLE;
out:
	fault_free(&f);
	prompt_free(&p);
	json_decref(root);
}

/* ---- routing ---- */

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

/* The format a model-call path speaks, or NULL. */
static const struct format *call_format(const char *url)
{
	if (strcmp(url, "/v1/chat/completions") == 0 || strcmp(url, "/chat/completions") == 0)
		return &fmt_openai;
	if (strcmp(url, "/v1/messages") == 0)
		return &fmt_anthropic;
	size_t plen = strlen("/v1beta/models/");
	if (strncmp(url, "/v1beta/models/", plen) == 0) {
		const char *colon = strrchr(url + plen, ':');
		if (colon && colon > url + plen && !strchr(url + plen, '/') &&
		    (strcmp(colon, ":generateContent") == 0 ||
		     strcmp(colon, ":streamGenerateContent") == 0))
			return &fmt_gemini;
	}
	return NULL;
}

static void route(struct req *r, struct MHD_Connection *conn, const char *method, const char *url)
{
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	const struct format *fmt = call_format(url);

	if (fmt) {
		if (post)
			handle_call(fmt, r, conn, method, url);
		else
			set_error(r, fmt, 405, "Use POST.");
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
			set_error(r, &fmt_openai, 404, "No chat request recorded yet.");
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
		set_error(r, &fmt_openai, 404, "Unknown path.");
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
	/* The answer is out and the connection would stay open for the next request: closing it
	 * now is what a server does to an idle kept-alive connection. shutdown (not close) leaves
	 * the descriptor to MHD, which sees the end of the stream and cleans up. */
	if (r->close_after && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			shutdown(ci->connect_fd, SHUT_RDWR);
	}
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
