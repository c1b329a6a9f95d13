// SPDX-License-Identifier: Apache-2.0
/* HTTP/1.1 client states: CONNECTING -> SENDING -> HEADERS -> one body framing (length,
 * chunked, until close) -> back to the idle pool or closed. Received bytes wait in `in`
 * until processed, so a paused call (backpressure) simply stops processing and reading;
 * nothing is lost. A connection taken from the pool that closes before any answer byte is
 * retried once on a fresh connection, as a pooled connection may have been closed by the
 * server while idle. Closed connections are freed only after the current epoll batch. */
#include "upstream/http1.h"

#include "common/buf.h"
#include "common/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (64 * 1024)
#define MAX_IDLE 256
#define READ_CHUNK (16 * 1024)

enum h1_state {
	H1_CONNECTING,
	H1_SENDING,
	H1_HEADERS,
	H1_BODY_LENGTH,
	H1_CHUNK_SIZE,
	H1_CHUNK_DATA,
	H1_CHUNK_CRLF,
	H1_TRAILERS,
	H1_BODY_EOF,
	H1_IDLE,
};

/* What processing the received bytes came to. */
enum h1_progress { H1_MORE, H1_PAUSED, H1_FINISHED };

struct h1_conn {
	int kind; /* HW_EPOLL_H1: first, as every epoll tag */
	int fd;
	bool dead;
	struct hw_h1_pool *pool;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct hw_upstream_call *call;
	enum h1_state state;
	bool reused, keep_alive, got_bytes, paused;
	bool peer_closed; /* hung up while paused: unregistered, EOF handled on unpause */
	int64_t remaining;
	uint32_t interest;
	struct hw_buf out;
	struct hw_buf in;
	struct h1_conn *next;
};

struct hw_h1_pool {
	int epfd;
	void *engine;
	hw_h1_finish_fn finish;
	struct h1_conn *idle;
	size_t n_idle;
	struct h1_conn *dead;
};

struct target {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char authority[128];
	const char *path;
};

static int parse_url(const char *url, struct target *t)
{
	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	const char *host = url + 7;
	const char *path = strchr(host, '/');
	size_t alen = path ? (size_t)(path - host) : strlen(host);
	if (alen == 0 || alen >= sizeof(t->authority))
		return -EINVAL;
	memcpy(t->authority, host, alen);
	t->authority[alen] = '\0';
	t->path = path ? path : "/";
	char name[64];
	const char *port = NULL;
	memset(&t->addr, 0, sizeof(t->addr));
	if (t->authority[0] == '[') {
		const char *close = strchr(t->authority, ']');
		if (!close || (size_t)(close - t->authority - 1) >= sizeof(name))
			return -EINVAL;
		snprintf(name, sizeof(name), "%.*s", (int)(close - t->authority - 1), t->authority + 1);
		port = close[1] == ':' ? close + 2 : NULL;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->addr;
		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, name, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_port = htons((uint16_t)(port ? atoi(port) : 80));
		t->addr_len = sizeof(*s6);
		return 0;
	}
	const char *colon = strchr(t->authority, ':');
	size_t hlen = colon ? (size_t)(colon - t->authority) : strlen(t->authority);
	if (hlen >= sizeof(name))
		return -EINVAL;
	snprintf(name, sizeof(name), "%.*s", (int)hlen, t->authority);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&t->addr;
	s4->sin_family = AF_INET;
	if (inet_pton(AF_INET, name, &s4->sin_addr) != 1)
		return -EINVAL; /* a host name: left to libcurl, which resolves without blocking */
	s4->sin_port = htons((uint16_t)(colon ? atoi(colon + 1) : 80));
	t->addr_len = sizeof(*s4);
	return 0;
}

static void set_interest(struct h1_conn *c, uint32_t events)
{
	if (c->interest == events || c->peer_closed)
		return;
	struct epoll_event ev = {.events = events, .data.ptr = c};
	epoll_ctl(c->pool->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->interest = events;
}

/* Unregisters and closes; the memory waits for hw_h1_reap (an event of this batch may
 * still point at it). */
static void conn_close(struct h1_conn *c)
{
	epoll_ctl(c->pool->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->dead = true;
	c->call = NULL;
	c->next = c->pool->dead;
	c->pool->dead = c;
}

static void idle_remove(struct hw_h1_pool *p, struct h1_conn *c)
{
	for (struct h1_conn **pp = &p->idle; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			p->n_idle--;
			return;
		}
	}
}

static struct h1_conn *conn_new(struct hw_h1_pool *p, const struct target *t)
{
	struct h1_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->kind = HW_EPOLL_H1;
	c->pool = p;
	c->addr = t->addr;
	c->addr_len = t->addr_len;
	c->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		free(c);
		return NULL;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int rc = connect(c->fd, (const struct sockaddr *)&t->addr, t->addr_len);
	c->state = rc == 0 ? H1_SENDING : H1_CONNECTING;
	c->interest = EPOLLIN | EPOLLOUT;
	struct epoll_event ev = {.events = c->interest, .data.ptr = c};
	if ((rc < 0 && errno != EINPROGRESS) || epoll_ctl(p->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		close(c->fd);
		free(c);
		return NULL;
	}
	return c;
}

static struct h1_conn *conn_take_idle(struct hw_h1_pool *p, const struct target *t)
{
	for (struct h1_conn *c = p->idle; c; c = c->next) {
		if (c->addr_len == t->addr_len && memcmp(&c->addr, &t->addr, t->addr_len) == 0) {
			idle_remove(p, c);
			c->reused = true;
			c->state = H1_SENDING;
			return c;
		}
	}
	return NULL;
}

static int build_request(struct h1_conn *c, const struct target *t, const struct hw_upstream_call *call)
{
	struct hw_buf *o = &c->out;
	hw_buf_reset(o);
	int rc = hw_buf_appendf(o, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n", t->path,
				t->authority, call->body_len);
	for (const struct curl_slist *h = call->headers; h && rc == 0; h = h->next) {
		size_t n = strlen(h->data);
		if (n > 0 && h->data[n - 1] == ':')
			continue; /* "Name:" is libcurl's way to suppress a header */
		rc = hw_buf_appendf(o, "%s\r\n", h->data);
	}
	if (rc == 0)
		rc = hw_buf_append(o, "\r\n", 2);
	if (rc == 0)
		rc = hw_buf_append(o, call->body, call->body_len);
	return rc;
}

static void finish_call(struct h1_conn *c, enum hw_call_result r, bool reusable)
{
	struct hw_upstream_call *call = c->call;
	struct hw_h1_pool *p = c->pool;
	call->h1 = NULL;
	c->call = NULL;
	if (reusable && c->keep_alive && hw_buf_pending(&c->in) == 0 && p->n_idle < MAX_IDLE) {
		c->state = H1_IDLE;
		c->paused = false;
		hw_buf_reset(&c->in);
		set_interest(c, EPOLLIN);
		c->next = p->idle;
		p->idle = c;
		p->n_idle++;
	} else {
		conn_close(c);
	}
	p->finish(p->engine, call, r);
}

static void report_status(struct hw_upstream_call *call)
{
	if (call->status_reported)
		return;
	call->status_reported = true;
	if (call->on_status)
		call->on_status(call);
}

/* Hands `len` processed bytes to the call; H1_MORE when consumed. */
static enum h1_progress deliver(struct h1_conn *c, size_t len)
{
	struct hw_upstream_call *call = c->call;
	if (len == 0)
		return H1_MORE;
	if (call->max_response_bytes > 0 && call->bytes + (int64_t)len > call->max_response_bytes) {
		call->bytes += (int64_t)len;
		finish_call(c, HW_CALL_TOO_LARGE, false);
		return H1_FINISHED;
	}
	int64_t now = hw_clock_mono_ns();
	if (!call->t_first_byte_ns)
		call->t_first_byte_ns = now;
	call->t_last_byte_ns = now;
	int rc = call->on_data ? call->on_data(call, c->in.data + c->in.off, len) : 0;
	if (rc == HW_CALL_PAUSE) {
		c->paused = call->paused = true;
		set_interest(c, 0);
		return H1_PAUSED;
	}
	if (rc < 0) {
		finish_call(c, HW_CALL_ABORTED, false);
		return H1_FINISHED;
	}
	call->bytes += (int64_t)len;
	c->in.off += len;
	return H1_MORE;
}

static const char *find_crlf(const struct h1_conn *c)
{
	return memmem(c->in.data + c->in.off, hw_buf_pending(&c->in), "\r\n", 2);
}

static void parse_header_line(struct h1_conn *c, const char *line, size_t len, bool *chunked,
			      int64_t *length)
{
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return;
	size_t nlen = (size_t)(colon - line);
	const char *v = colon + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vlen = (size_t)(end - v);
	struct hw_upstream_call *call = c->call;
	char *dst = NULL;
	size_t cap = 0;
	if (nlen == 12 && strncasecmp(line, "content-type", 12) == 0) {
		dst = call->content_type;
		cap = sizeof(call->content_type);
	} else if (nlen == 11 && strncasecmp(line, "retry-after", 11) == 0) {
		dst = call->retry_after;
		cap = sizeof(call->retry_after);
	} else if (nlen == 14 && strncasecmp(line, "content-length", 14) == 0) {
		*length = strtoll(v, NULL, 10);
	} else if (nlen == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
		*chunked = vlen >= 7 && strncasecmp(end - 7, "chunked", 7) == 0;
	} else if (nlen == 10 && strncasecmp(line, "connection", 10) == 0) {
		if (vlen == 5 && strncasecmp(v, "close", 5) == 0)
			c->keep_alive = false;
		else if (vlen == 10 && strncasecmp(v, "keep-alive", 10) == 0)
			c->keep_alive = true;
	}
	if (dst) {
		size_t n = vlen < cap - 1 ? vlen : cap - 1;
		memcpy(dst, v, n);
		dst[n] = '\0';
	}
}

/* The status line and headers; false while they are incomplete. */
static bool parse_head(struct h1_conn *c, enum h1_progress *out)
{
	const char *start = c->in.data + c->in.off;
	const char *end = memmem(start, hw_buf_pending(&c->in), "\r\n\r\n", 4);
	if (!end) {
		if (hw_buf_pending(&c->in) > MAX_HEADER_BYTES) {
			finish_call(c, HW_CALL_ABORTED, false);
			*out = H1_FINISHED;
			return true;
		}
		return false;
	}
	struct hw_upstream_call *call = c->call;
	int minor = 0, status = 0;
	if (sscanf(start, "HTTP/1.%d %3d", &minor, &status) != 2 || status < 100) {
		finish_call(c, HW_CALL_ABORTED, false);
		*out = H1_FINISHED;
		return true;
	}
	c->keep_alive = minor >= 1;
	call->content_type[0] = call->retry_after[0] = '\0';
	bool chunked = false;
	int64_t length = -1;
	const char *line = memchr(start, '\n', (size_t)(end - start)) + 1;
	while (line < end + 2) {
		const char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		parse_header_line(c, line, (size_t)(eol - line), &chunked, &length);
		line = eol + 2;
	}
	c->in.off = (size_t)(end + 4 - c->in.data);
	if (status < 200) {
		c->state = H1_HEADERS; /* 100 Continue and friends: the real answer follows */
		return true;
	}
	c->got_bytes = true;
	call->status = status;
	report_status(call);
	if (status == 204 || status == 304 || length == 0) {
		finish_call(c, HW_CALL_OK, true);
		*out = H1_FINISHED;
	} else if (chunked) {
		c->state = H1_CHUNK_SIZE;
	} else if (length > 0) {
		c->state = H1_BODY_LENGTH;
		c->remaining = length;
	} else {
		c->state = H1_BODY_EOF;
		c->keep_alive = false;
	}
	return true;
}

static enum h1_progress process(struct h1_conn *c)
{
	for (;;) {
		if (!c->call)
			return H1_FINISHED;
		size_t pending = hw_buf_pending(&c->in);
		const char *crlf;
		enum h1_progress p = H1_MORE;
		switch (c->state) {
		case H1_HEADERS:
			if (!parse_head(c, &p))
				return H1_MORE;
			if (p != H1_MORE)
				return p;
			continue;
		case H1_BODY_LENGTH:
		case H1_CHUNK_DATA: {
			size_t n = (int64_t)pending < c->remaining ? pending : (size_t)c->remaining;
			if (n == 0)
				return H1_MORE;
			if ((p = deliver(c, n)) != H1_MORE)
				return p;
			c->remaining -= (int64_t)n;
			if (c->remaining > 0)
				return H1_MORE;
			if (c->state == H1_CHUNK_DATA) {
				c->state = H1_CHUNK_CRLF;
				continue;
			}
			finish_call(c, HW_CALL_OK, true);
			return H1_FINISHED;
		}
		case H1_CHUNK_SIZE:
			if (!(crlf = find_crlf(c)))
				return H1_MORE;
			c->remaining = strtoll(c->in.data + c->in.off, NULL, 16);
			c->in.off = (size_t)(crlf + 2 - c->in.data);
			c->state = c->remaining > 0 ? H1_CHUNK_DATA : H1_TRAILERS;
			continue;
		case H1_CHUNK_CRLF:
			if (pending < 2)
				return H1_MORE;
			c->in.off += 2;
			c->state = H1_CHUNK_SIZE;
			continue;
		case H1_TRAILERS: {
			if (!(crlf = find_crlf(c)))
				return H1_MORE;
			bool blank = crlf == c->in.data + c->in.off; /* the line ending the trailers */
			c->in.off = (size_t)(crlf + 2 - c->in.data);
			if (!blank)
				continue;
			finish_call(c, HW_CALL_OK, true);
			return H1_FINISHED;
		}
		case H1_BODY_EOF:
			return pending ? deliver(c, pending) : H1_MORE;
		default:
			return H1_MORE;
		}
	}
}

static int flush_out(struct h1_conn *c)
{
	while (c->out.off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_interest(c, EPOLLIN | EPOLLOUT);
				return 0;
			}
			return -errno;
		}
		c->out.off += (size_t)n;
	}
	c->state = H1_HEADERS;
	set_interest(c, EPOLLIN);
	return 0;
}

static int start_on(struct hw_h1_pool *p, struct hw_upstream_call *call, bool allow_pooled)
{
	struct target t;
	if (parse_url(call->url, &t) < 0)
		return -EPROTONOSUPPORT;
	struct h1_conn *c = allow_pooled ? conn_take_idle(p, &t) : NULL;
	if (!c)
		c = conn_new(p, &t);
	if (!c)
		return -ECONNREFUSED;
	hw_buf_reset(&c->in);
	c->got_bytes = c->paused = c->peer_closed = false;
	if (build_request(c, &t, call) < 0) {
		conn_close(c);
		return -ENOMEM;
	}
	c->call = call;
	call->h1 = c;
	if (c->state == H1_SENDING && flush_out(c) < 0) {
		bool pooled = c->reused;
		call->h1 = NULL;
		conn_close(c);
		/* A pooled connection the server closed while idle: once more on a fresh one. */
		return pooled ? start_on(p, call, false) : -ECONNRESET;
	}
	return 0;
}

int hw_h1_start(struct hw_h1_pool *p, struct hw_upstream_call *call)
{
	return start_on(p, call, true);
}

/* The peer closed. A pooled connection closed before any answer byte gets one retry on a
 * fresh connection; otherwise the framing decides between a clean end and a cut. */
static void on_eof(struct h1_conn *c)
{
	struct hw_upstream_call *call = c->call;
	if (c->state == H1_BODY_EOF) {
		finish_call(c, HW_CALL_OK, false);
		return;
	}
	if (!c->got_bytes && c->reused) {
		struct hw_h1_pool *p = c->pool;
		call->h1 = NULL;
		conn_close(c);
		if (start_on(p, call, false) < 0)
			p->finish(p->engine, call, HW_CALL_CONNECT_ERROR);
		return;
	}
	finish_call(c, c->got_bytes ? HW_CALL_ABORTED : HW_CALL_CONNECT_ERROR, false);
}

static void on_readable(struct h1_conn *c)
{
	while (c->call && !c->paused) {
		if (c->in.cap - c->in.len < READ_CHUNK + 1) {
			hw_buf_compact(&c->in);
			if (c->in.cap - c->in.len < READ_CHUNK + 1) {
				size_t want = c->in.len + READ_CHUNK + 1;
				char *grown = realloc(c->in.data, want);
				if (!grown) {
					finish_call(c, HW_CALL_ABORTED, false);
					return;
				}
				c->in.data = grown;
				c->in.cap = want;
			}
		}
		size_t room = c->in.cap - c->in.len - 1;
		ssize_t n = recv(c->fd, c->in.data + c->in.len, room, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			finish_call(c, c->got_bytes ? HW_CALL_ABORTED : HW_CALL_CONNECT_ERROR, false);
			return;
		}
		if (n == 0) {
			if (process(c) == H1_MORE && c->call)
				on_eof(c);
			return;
		}
		c->in.len += (size_t)n;
		c->in.data[c->in.len] = '\0';
		if (process(c) != H1_MORE)
			return;
		/* A short read drained the socket: the level-triggered epoll reports the next
		 * bytes, so a second recv would only return EAGAIN (one system call per event). */
		if ((size_t)n < room)
			return;
	}
}

void hw_h1_on_event(struct hw_h1_pool *p, void *tag, uint32_t events)
{
	struct h1_conn *c = tag;
	if (c->dead)
		return;
	if (!c->call) {
		/* Idle: the server closed it, or sent what nobody asked for. */
		idle_remove(p, c);
		conn_close(c);
		return;
	}
	if (c->paused) {
		/* Hang-ups are reported even with no interest: stop them until unpaused. */
		if (events & (EPOLLHUP | EPOLLERR)) {
			epoll_ctl(p->epfd, EPOLL_CTL_DEL, c->fd, NULL);
			c->peer_closed = true;
		}
		return;
	}
	if (c->state == H1_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			finish_call(c, HW_CALL_CONNECT_ERROR, false);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		c->state = H1_SENDING;
	}
	if (c->state == H1_SENDING) {
		if (flush_out(c) < 0) {
			finish_call(c, HW_CALL_CONNECT_ERROR, false);
			return;
		}
		if (c->state == H1_SENDING)
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(c);
}

void hw_h1_abort(struct hw_upstream_call *call)
{
	struct h1_conn *c = call->h1;
	if (!c)
		return;
	call->h1 = NULL;
	conn_close(c);
}

void hw_h1_unpause(struct hw_upstream_call *call)
{
	struct h1_conn *c = call->h1;
	if (!c || !c->paused)
		return;
	c->paused = call->paused = false;
	call->t_last_byte_ns = hw_clock_mono_ns();
	if (process(c) != H1_MORE || !c->call)
		return;
	if (c->peer_closed) {
		on_eof(c);
		return;
	}
	set_interest(c, EPOLLIN);
	on_readable(c);
}

bool hw_h1_connected(const struct hw_upstream_call *call)
{
	const struct h1_conn *c = call->h1;
	return c && c->state != H1_CONNECTING;
}

int hw_h1_pool_new(int epfd, void *engine, hw_h1_finish_fn finish, struct hw_h1_pool **out)
{
	struct hw_h1_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->epfd = epfd;
	p->engine = engine;
	p->finish = finish;
	*out = p;
	return 0;
}

void hw_h1_reap(struct hw_h1_pool *p)
{
	while (p->dead) {
		struct h1_conn *c = p->dead;
		p->dead = c->next;
		hw_buf_free(&c->in);
		hw_buf_free(&c->out);
		free(c);
	}
}

void hw_h1_pool_free(struct hw_h1_pool *p)
{
	if (!p)
		return;
	while (p->idle) {
		struct h1_conn *c = p->idle;
		idle_remove(p, c);
		conn_close(c);
	}
	hw_h1_reap(p);
	free(p);
}
