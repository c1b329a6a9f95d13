// SPDX-License-Identifier: Apache-2.0
/* libcurl's multi-socket interface on the worker's epoll: curl tells us which sockets to
 * watch (on_curl_socket) and when to call it back (on_curl_timer); the worker's loop
 * reports readiness through hw_engine_on_event and time through hw_engine_tick. Plain-HTTP
 * providers at a literal IP address go through the lean HTTP/1.1 client (http1.c) on the
 * same epoll instead of libcurl. The
 * sweep covers what curl cannot express: first-byte and idle timeouts of streams, and the
 * drain bounds after a client left. */
#include "upstream/engine.h"

#include "common/clock.h"
#include "common/log.h"
#include "upstream/http1.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#define SWEEP_MS 10
#define MAX_IDLE_EASY 128

struct hw_engine {
	int epfd;
	CURLM *multi;
	int64_t timer_deadline_ns; /* 0 = curl asked for no timer */
	int64_t last_sweep_ns;
	bool interrupted;
	struct hw_h1_pool *h1;
	size_t n_memory_calls; /* in-process answers in `active` */
	struct hw_upstream_call *active;
	struct hw_engine_socket *dead_sockets;
	CURL *idle_easy[MAX_IDLE_EASY];
	size_t n_idle_easy;
};

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct hw_upstream_call *c = userdata;
	size_t len = size * nmemb;
	if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new status line (after 100-continue, say) starts the header set over. */
		c->content_type[0] = c->retry_after[0] = '\0';
		return len;
	}
	const char *colon = memchr(data, ':', len);
	if (!colon)
		return len;
	size_t nlen = (size_t)(colon - data);
	const char *v = colon + 1;
	const char *end = data + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	char *dst = NULL;
	size_t cap = 0;
	if (nlen == 12 && strncasecmp(data, "content-type", 12) == 0) {
		dst = c->content_type;
		cap = sizeof(c->content_type);
	} else if (nlen == 11 && strncasecmp(data, "retry-after", 11) == 0) {
		dst = c->retry_after;
		cap = sizeof(c->retry_after);
	}
	if (dst) {
		size_t n = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
		memcpy(dst, v, n);
		dst[n] = '\0';
	}
	return len;
}

static void report_status(struct hw_upstream_call *c)
{
	if (c->status_reported)
		return;
	c->status_reported = true;
	if (c->easy)
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->on_status)
		c->on_status(c);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct hw_upstream_call *c = userdata;
	size_t len = size * nmemb;
	int64_t now = hw_clock_mono_ns();
	if (!c->t_first_byte_ns)
		c->t_first_byte_ns = now;
	c->t_last_byte_ns = now;
	report_status(c);
	if (c->max_response_bytes > 0 && c->bytes + (int64_t)len > c->max_response_bytes) {
		c->bytes += (int64_t)len;
		return 0; /* curl reports a write error; map_curl() tells it apart by the count */
	}
	int rc = c->on_data ? c->on_data(c, data, len) : 0;
	if (rc == HW_CALL_PAUSE) {
		c->paused = true; /* curl keeps the data and hands it over again on unpause */
		return CURL_WRITEFUNC_PAUSE;
	}
	if (rc < 0)
		return 0;
	c->bytes += (int64_t)len;
	return len;
}

static CURL *easy_get(struct hw_engine *e)
{
	if (e->n_idle_easy > 0) {
		CURL *easy = e->idle_easy[--e->n_idle_easy];
		curl_easy_reset(easy);
		return easy;
	}
	return curl_easy_init();
}

static void easy_put(struct hw_engine *e, CURL *easy)
{
	if (e->n_idle_easy < MAX_IDLE_EASY)
		e->idle_easy[e->n_idle_easy++] = easy;
	else
		curl_easy_cleanup(easy);
}

static void list_add(struct hw_engine *e, struct hw_upstream_call *c)
{
	c->prev = NULL;
	c->next = e->active;
	if (e->active)
		e->active->prev = c;
	e->active = c;
	if (c->memory)
		e->n_memory_calls++;
}

static void list_remove(struct hw_engine *e, struct hw_upstream_call *c)
{
	if (c->memory)
		e->n_memory_calls--;
	if (c->prev)
		c->prev->next = c->next;
	else
		e->active = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

static void finish(struct hw_engine *e, struct hw_upstream_call *c, enum hw_call_result r)
{
	list_remove(e, c);
	hw_h1_abort(c); /* a call the engine ends itself: its connection cannot be reused */
	if (c->easy) {
		curl_multi_remove_handle(e->multi, c->easy);
		if (r == HW_CALL_OK || c->bytes > 0)
			report_status(c);
		easy_put(e, c->easy);
		c->easy = NULL;
	} else if (r == HW_CALL_OK || c->bytes > 0) {
		report_status(c);
	}
	c->on_done(c, r);
}

/* Serves the chunks of in-process answers that are due; returns the earliest next due
 * time among them (0: none pending). */
static int64_t serve_memory(struct hw_engine *e, int64_t now)
{
	int64_t earliest = 0;
	struct hw_upstream_call *c = e->active;
	while (c) {
		struct hw_upstream_call *next = c->next;
		if (!c->memory) {
			c = next;
			continue;
		}
		while (c->memory_next < c->n_memory_chunks && now >= c->memory_due_ns) {
			size_t start = c->memory_next ? c->memory_ends[c->memory_next - 1] : 0;
			size_t len = c->memory_ends[c->memory_next] - start;
			if (!c->t_first_byte_ns)
				c->t_first_byte_ns = now;
			c->t_last_byte_ns = now;
			report_status(c);
			int rc = c->on_data ? c->on_data(c, c->memory + start, len) : 0;
			if (rc == HW_CALL_PAUSE) {
				/* In memory there is nothing to hold back: offer it again shortly. */
				c->memory_due_ns = now + SWEEP_MS * 1000000LL;
				break;
			}
			c->memory_next++;
			c->memory_due_ns = now + c->chunk_delay_ms * 1000000;
			c->bytes += (int64_t)len;
			if (rc < 0) {
				c->memory_next = c->n_memory_chunks + 1; /* aborted */
				break;
			}
			if (c->chunk_delay_ms > 0)
				break;
		}
		if (c->memory_next > c->n_memory_chunks)
			finish(e, c, HW_CALL_ABORTED);
		else if (c->memory_next == c->n_memory_chunks)
			finish(e, c, HW_CALL_OK);
		else if (!earliest || c->memory_due_ns < earliest)
			earliest = c->memory_due_ns;
		c = next;
	}
	return earliest;
}

static enum hw_call_result map_curl(struct hw_upstream_call *c, CURLcode code)
{
	switch (code) {
	case CURLE_OK:
		return HW_CALL_OK;
	case CURLE_OPERATION_TIMEDOUT:
		if (c->stream && c->t_first_byte_ns)
			return HW_CALL_TOTAL_TIMEOUT;
		return HW_CALL_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return HW_CALL_CONNECT_ERROR;
	case CURLE_WRITE_ERROR:
		if (c->max_response_bytes > 0 && c->bytes > c->max_response_bytes)
			return HW_CALL_TOO_LARGE;
		return HW_CALL_ABORTED;
	default:
		return c->bytes == 0 && !c->status ? HW_CALL_CONNECT_ERROR : HW_CALL_ABORTED;
	}
}

static void process_messages(struct hw_engine *e)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(e->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct hw_upstream_call *c = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		finish(e, c, map_curl(c, msg->data.result));
	}
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct hw_engine *e = userp;
	struct hw_engine_socket *s = socketp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
		curl_multi_assign(e->multi, fd, NULL);
		if (s) {
			s->dead = true;
			s->next_dead = e->dead_sockets;
			e->dead_sockets = s;
		}
		return 0;
	}
	struct epoll_event ev = {0};
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->kind = HW_EPOLL_CURL;
		s->fd = fd;
		s->engine = e;
		curl_multi_assign(e->multi, fd, s);
		ev.data.ptr = s;
		return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -1;
	}
	ev.data.ptr = s;
	return epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -1;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct hw_engine *e = userp;
	e->timer_deadline_ns = timeout_ms < 0 ? 0 : hw_clock_mono_ns() + (int64_t)timeout_ms * 1000000;
	return 0;
}

void hw_engine_reap(struct hw_engine *e)
{
	hw_h1_reap(e->h1);
	while (e->dead_sockets) {
		struct hw_engine_socket *s = e->dead_sockets;
		e->dead_sockets = s->next_dead;
		free(s);
	}
}

static void h1_finish(void *engine, struct hw_upstream_call *c, enum hw_call_result r)
{
	finish(engine, c, r);
}

void hw_engine_on_event(struct hw_engine *e, void *tag, uint32_t events)
{
	if (*(int *)tag == HW_EPOLL_H1) {
		hw_h1_on_event(e->h1, tag, events);
		return;
	}
	struct hw_engine_socket *s = tag;
	if (s->dead)
		return;
	int fd = s->fd;
	int mask = (events & EPOLLIN ? CURL_CSELECT_IN : 0) | (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
		   (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
	int running = 0;
	curl_multi_socket_action(e->multi, fd, mask, &running);
	process_messages(e);
}

/* The limits libcurl enforces for its own calls (connect, whole response, whole stream). */
static bool h1_overdue(const struct hw_upstream_call *c, int64_t now)
{
	const struct hw_cfg_timeouts *t = &c->timeouts;
	int64_t age_ms = (now - c->t_submit_ns) / 1000000;
	if (!hw_h1_connected(c))
		return age_ms > t->connect_ms;
	return age_ms > (c->stream ? t->total_ms : t->connect_ms + t->response_ms);
}

/* Timeouts curl cannot express, and drain bounds. */
static void sweep(struct hw_engine *e, int64_t now)
{
	struct hw_upstream_call *c = e->active;
	while (c) {
		struct hw_upstream_call *next = c->next;
		const struct hw_cfg_timeouts *t = &c->timeouts;
		if (c->drain_deadline_ns && c->drain_base_bytes < 0)
			c->drain_base_bytes = c->bytes;
		if (e->interrupted)
			finish(e, c, HW_CALL_SHUTDOWN);
		else if (c->drain_deadline_ns && (now > c->drain_deadline_ns ||
						  c->bytes - c->drain_base_bytes > c->drain_max_bytes))
			finish(e, c, HW_CALL_CANCELLED);
		else if (c->stream && !c->t_first_byte_ns &&
			 now - c->t_submit_ns > (t->connect_ms + t->first_byte_ms) * 1000000)
			finish(e, c, HW_CALL_TIMEOUT);
		else if (c->stream && c->t_first_byte_ns && !c->paused &&
			 now - c->t_last_byte_ns > t->idle_ms * 1000000)
			finish(e, c, HW_CALL_IDLE_TIMEOUT);
		else if (c->h1 && h1_overdue(c, now))
			finish(e, c, c->stream && c->t_first_byte_ns ? HW_CALL_TOTAL_TIMEOUT : HW_CALL_TIMEOUT);
		c = next;
	}
}

long hw_engine_tick(struct hw_engine *e)
{
	int64_t now = hw_clock_mono_ns();
	if (e->timer_deadline_ns && now >= e->timer_deadline_ns) {
		e->timer_deadline_ns = 0;
		int running = 0;
		curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		process_messages(e);
	}
	if (e->active && (now - e->last_sweep_ns >= SWEEP_MS * 1000000LL || e->interrupted)) {
		e->last_sweep_ns = now;
		sweep(e, now);
	}
	int64_t memory_due = e->n_memory_calls ? serve_memory(e, now) : 0;
	long wait = -1;
	if (e->timer_deadline_ns) {
		int64_t ms = (e->timer_deadline_ns - now + 999999) / 1000000;
		wait = ms < 0 ? 0 : (long)ms;
	}
	if (memory_due) {
		int64_t ms = (memory_due - now + 999999) / 1000000;
		if (wait < 0 || ms < wait)
			wait = ms < 0 ? 0 : (long)ms;
	}
	if (e->active && (wait < 0 || wait > SWEEP_MS))
		wait = SWEEP_MS;
	return wait;
}

static int start(struct hw_engine *e, struct hw_upstream_call *c)
{
	CURL *easy = easy_get(e);
	if (!easy)
		return -ENOMEM;
	c->easy = easy;
	c->engine = e;
	const struct hw_cfg_timeouts *t = &c->timeouts;
	curl_easy_setopt(easy, CURLOPT_URL, c->url);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, c->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)t->connect_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
			 (long)(c->stream ? t->total_ms : t->connect_ms + t->response_ms));
	c->t_submit_ns = c->t_last_byte_ns = hw_clock_mono_ns();
	c->drain_base_bytes = -1;
	if (curl_multi_add_handle(e->multi, easy) != CURLM_OK) {
		easy_put(e, easy);
		c->easy = NULL;
		return -EIO;
	}
	list_add(e, c);
	return 0;
}

int hw_engine_submit(struct hw_engine *e, struct hw_upstream_call *call)
{
	call->engine = e;
	if (e->interrupted) {
		call->on_done(call, HW_CALL_SHUTDOWN);
		return 0;
	}
	if (!call->memory) {
		/* The HTTP/1.1 client when it can serve the URL, else libcurl, whose add_handle
		 * arms a 0 ms timer that the loop runs on its next tick. */
		int rc = hw_h1_start(e->h1, call);
		if (rc == -EPROTONOSUPPORT && start(e, call) == 0)
			return 0;
		if (rc < 0) {
			call->on_done(call, HW_CALL_CONNECT_ERROR);
			return 0;
		}
	}
	call->t_submit_ns = call->t_last_byte_ns = hw_clock_mono_ns();
	call->memory_due_ns = call->t_submit_ns + call->first_delay_ms * 1000000;
	call->drain_base_bytes = -1;
	list_add(e, call);
	return 0;
}

void hw_engine_unpause(struct hw_upstream_call *call)
{
	if (call->h1) {
		hw_h1_unpause(call);
		return;
	}
	if (!call->paused || !call->easy)
		return;
	call->paused = false;
	call->t_last_byte_ns = hw_clock_mono_ns();
	curl_easy_pause(call->easy, CURLPAUSE_CONT);
}

void hw_engine_drain(struct hw_upstream_call *call, int64_t max_s, int64_t max_bytes)
{
	call->drain_max_bytes = max_bytes;
	call->drain_deadline_ns = hw_clock_mono_ns() + max_s * 1000000000LL;
}

void hw_engine_interrupt(struct hw_engine *e)
{
	e->interrupted = true;
	sweep(e, hw_clock_mono_ns());
}

int hw_engine_new(int epfd, struct hw_engine **out)
{
	struct hw_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->epfd = epfd;
	e->multi = curl_multi_init();
	if (!e->multi) {
		free(e);
		return -ENOMEM;
	}
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, 256L);
	if (hw_h1_pool_new(epfd, e, h1_finish, &e->h1) < 0) {
		curl_multi_cleanup(e->multi);
		free(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

void hw_engine_free(struct hw_engine *e)
{
	if (!e)
		return;
	hw_engine_interrupt(e);
	for (size_t j = 0; j < e->n_idle_easy; j++)
		curl_easy_cleanup(e->idle_easy[j]);
	curl_multi_cleanup(e->multi);
	hw_engine_reap(e);
	hw_h1_pool_free(e->h1);
	free(e);
}

void hw_upstream_call_release(struct hw_upstream_call *call)
{
	free(call->url);
	free(call->body);
	curl_slist_free_all(call->headers);
	call->url = call->body = NULL;
	call->headers = NULL;
}
