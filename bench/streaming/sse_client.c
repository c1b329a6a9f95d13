// SPDX-License-Identifier: Apache-2.0
/* sse_client: the load generator of the streaming benchmark (bench/streaming/run.sh).
 *
 * wrk measures whole responses; a streaming benchmark needs the arrival time of every server-sent
 * event, so this client keeps C keep-alive HTTP/1.1 connections to one target, sends the same
 * streaming chat request on each again and again, decodes the response as it arrives (chunked
 * transfer coding, Content-Length or close-delimited bodies, so it reads the fake's, nginx's
 * and hiwayd's answers alike) and notes the time of each `data:` line. Per request it records:
 *
 *   TTFT      from the write() call that sent the request's last bytes (the clock is read just
 *             before it) to the return of the read() that completed the first `data:` line
 *             (the first event; with the benchmark's first_byte_delay_ms 0 the upstream sends
 *             it at once, so TTFT is pure path latency)
 *   jitter    for each of the first E events after the first, |gap - pacing|, where gap is the
 *             time since the previous event and pacing the upstream's chunk_delay_ms: how much a
 *             proxy bunches up or delays chunks (the fake's own timer jitter is in every target,
 *             which is why run.sh compares against direct)
 *   duration  from the first to the E-th event: E-1 pacing intervals plus whatever is added
 *
 * TTFT is also split by whether the request was the first on its connection: a proxy's cost of
 * a new client connection (accept, per-connection set-up) lands on that request alone, and at
 * c=32 those are 2 % of a run, enough to move its p99. "warm" is every later request.
 *
 * A request counts as an error when it is not a 200, ends with fewer than E events, breaks off
 * or exceeds the request timeout. It runs until N requests were started or S seconds passed,
 * whichever is first, then lets the requests in flight finish. One thread and poll(): on a
 * 2-CPU machine the client must take as little CPU away from the targets as it can.
 *
 *   sse_client --url http://127.0.0.1:PORT/PATH --body-file F --events E --pacing-ms P
 *              [--connections C] [--requests N] [--duration S] [--stagger-ms G] [--key K]
 *              [--raw FILE]
 *   sse_client --summarize FILE...     pooled percentiles of --raw files (several runs)
 *
 * It prints one line: "SSE requests=.. errors=.. ttft_p50_us=.. ttft_p99_us=.. ttft_max_us=..
 * jitter_p50_us=.. jitter_p99_us=.. jitter_max_us=.. dur_p50_us=.. dur_p99_us=.. first_n=..
 * first_ttft_p50_us=.. warm_ttft_p50_us=.. warm_ttft_p99_us=.. elapsed_ms=..". --raw appends
 * every sample ("t US" and "f US" or "w US" per request, "j US", "d US", "e N" for errors). */
#define _GNU_SOURCE /* asprintf */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_EVENTS 4096
#define HEAD_MAX 16384
#define READ_BUF 65536
#define REQUEST_TIMEOUT_NS (30 * 1000000000LL) /* a paced stream of seconds fits well inside */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *msg)
{
	fprintf(stderr, "sse_client: %s\n", msg);
	exit(2);
}

/* ---- samples: growable arrays of microseconds ---- */

struct samples {
	double *v;
	size_t n, cap;
};

static void push(struct samples *s, double us)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die("out of memory");
	}
	s->v[s->n++] = us;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p of all samples at or below it. */
static double pct(struct samples *s, double p)
{
	if (!s->n)
		return 0;
	size_t rank = (size_t)(p * (double)s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1];
}

static struct samples g_ttft, g_jitter, g_dur, g_first, g_warm;
static unsigned long g_requests, g_errors;

static void print_summary(uint64_t elapsed_ns)
{
	qsort(g_ttft.v, g_ttft.n, sizeof(double), cmp_double);
	qsort(g_jitter.v, g_jitter.n, sizeof(double), cmp_double);
	qsort(g_dur.v, g_dur.n, sizeof(double), cmp_double);
	qsort(g_first.v, g_first.n, sizeof(double), cmp_double);
	qsort(g_warm.v, g_warm.n, sizeof(double), cmp_double);
	printf("SSE requests=%lu errors=%lu ttft_p50_us=%.0f ttft_p99_us=%.0f ttft_max_us=%.0f "
	       "jitter_p50_us=%.0f jitter_p99_us=%.0f jitter_max_us=%.0f dur_p50_us=%.0f "
	       "dur_p99_us=%.0f first_n=%zu first_ttft_p50_us=%.0f warm_ttft_p50_us=%.0f "
	       "warm_ttft_p99_us=%.0f elapsed_ms=%" PRIu64 "\n",
	       g_requests, g_errors, pct(&g_ttft, 0.50), pct(&g_ttft, 0.99), pct(&g_ttft, 1.0),
	       pct(&g_jitter, 0.50), pct(&g_jitter, 0.99), pct(&g_jitter, 1.0), pct(&g_dur, 0.50),
	       pct(&g_dur, 0.99), g_first.n, pct(&g_first, 0.50), pct(&g_warm, 0.50),
	       pct(&g_warm, 0.99), elapsed_ns / 1000000);
}

/* --summarize: the pooled distribution of several runs' raw samples, because at c=1 one run
 * holds only about a hundred requests and its p99 is nearly its maximum. */
static int summarize(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		FILE *f = fopen(argv[i], "r");
		if (!f) {
			perror(argv[i]);
			return 2;
		}
		char kind;
		double v;
		while (fscanf(f, " %c %lf", &kind, &v) == 2) {
			if (kind == 't') {
				push(&g_ttft, v);
				g_requests++;
			} else if (kind == 'f') {
				push(&g_first, v);
			} else if (kind == 'w') {
				push(&g_warm, v);
			} else if (kind == 'j') {
				push(&g_jitter, v);
			} else if (kind == 'd') {
				push(&g_dur, v);
			} else if (kind == 'e') {
				g_errors += (unsigned long)v;
			}
		}
		fclose(f);
	}
	print_summary(0);
	return 0;
}

/* ---- one connection ---- */

enum cstate { C_IDLE, C_SEND, C_HEAD, C_BODY };
enum bmode { B_CHUNKED, B_LENGTH, B_CLOSE };
enum chstate { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

struct conn {
	int fd;
	enum cstate st;
	size_t sent;
	uint64_t t_sent, t_start;
	char head[HEAD_MAX];
	size_t head_len;
	int status;
	bool keep_alive;
	enum bmode mode;
	uint64_t remaining; /* B_LENGTH: body bytes left; CH_DATA: chunk bytes left */
	enum chstate ch;
	char size_line[32];
	size_t size_len;
	size_t trailer_line; /* bytes in the current trailer line */
	/* SSE: the start of the current line is enough to tell `data:` and `data: [DONE]`. */
	char line[16];
	size_t line_len;
	uint64_t ev[MAX_EVENTS];
	size_t nev;
	bool bad; /* a framing error: the response is an error and the connection is dropped */
	uint64_t not_before;  /* the first request's staggered start */
	unsigned long served; /* responses on this connection since it was opened */
};

static struct {
	struct sockaddr_in addr;
	char *request;
	size_t request_len;
	size_t events;
	double pacing_us;
	FILE *raw;
} g;

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->st = C_IDLE;
}

static int conn_open(struct conn *c)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	/* Requests are one small write; without this Nagle could hold a partial one back. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&g.addr, sizeof(g.addr)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	c->fd = fd;
	c->served = 0;
	return 0;
}

static void start_request(struct conn *c, uint64_t now)
{
	c->st = C_SEND;
	c->sent = 0;
	c->t_start = now;
	c->t_sent = 0;
	c->head_len = 0;
	c->status = 0;
	c->nev = 0;
	c->line_len = 0;
	c->bad = false;
}

/* A finished response: its samples, or one error. */
static void record(struct conn *c, bool ok)
{
	g_requests++;
	bool first = c->served++ == 0;
	if (!ok || c->status != 200 || c->nev < g.events || c->nev == 0) {
		g_errors++;
		if (g.raw)
			fprintf(g.raw, "e 1\n");
		return;
	}
	double ttft = (double)(c->ev[0] - c->t_sent) / 1000.0;
	push(&g_ttft, ttft);
	push(first ? &g_first : &g_warm, ttft);
	if (g.raw)
		fprintf(g.raw, "t %.1f\n%c %.1f\n", ttft, first ? 'f' : 'w', ttft);
	size_t last = g.events ? g.events - 1 : 0;
	for (size_t k = 1; k <= last; k++) {
		double gap = (double)(c->ev[k] - c->ev[k - 1]) / 1000.0;
		double j = gap > g.pacing_us ? gap - g.pacing_us : g.pacing_us - gap;
		push(&g_jitter, j);
		if (g.raw)
			fprintf(g.raw, "j %.1f\n", j);
	}
	if (last) {
		double d = (double)(c->ev[last] - c->ev[0]) / 1000.0;
		push(&g_dur, d);
		if (g.raw)
			fprintf(g.raw, "d %.1f\n", d);
	}
}

/* Decoded body bytes: SSE lines; a `data:` line other than [DONE] is an event at time t. */
static void sse_bytes(struct conn *c, const char *p, size_t n, uint64_t t)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		size_t room = sizeof(c->line) - c->line_len;
		size_t copy = take < room ? take : room;
		memcpy(c->line + c->line_len, p, copy);
		c->line_len += copy;
		if (!nl)
			return;
		if (c->line_len >= 5 && memcmp(c->line, "data:", 5) == 0) {
			const char *v = c->line + 5;
			size_t vl = c->line_len - 5;
			if (vl && *v == ' ')
				v++, vl--;
			bool done = vl >= 6 && memcmp(v, "[DONE]", 6) == 0;
			if (!done && c->nev < MAX_EVENTS)
				c->ev[c->nev++] = t;
		}
		c->line_len = 0;
		p = nl + 1;
		n -= take + 1;
	}
}

/* Raw body bytes through the transfer coding; returns bytes used, and sets *end when the
 * response is complete. */
static size_t body_bytes(struct conn *c, const char *p, size_t n, uint64_t t, bool *end)
{
	size_t used = 0;
	if (c->mode == B_CLOSE) {
		sse_bytes(c, p, n, t);
		return n;
	}
	if (c->mode == B_LENGTH) {
		size_t take = n < c->remaining ? n : (size_t)c->remaining;
		sse_bytes(c, p, take, t);
		c->remaining -= take;
		*end = c->remaining == 0;
		return take;
	}
	while (used < n && !*end && !c->bad) {
		char ch = p[used];
		switch (c->ch) {
		case CH_SIZE:
			used++;
			if (ch == '\n') {
				c->size_line[c->size_len] = '\0';
				char *stop;
				unsigned long long sz = strtoull(c->size_line, &stop, 16);
				if (stop == c->size_line) {
					c->bad = true;
					break;
				}
				c->size_len = 0;
				c->remaining = sz;
				c->ch = sz ? CH_DATA : CH_TRAILER;
				c->trailer_line = 0;
			} else if (c->size_len < sizeof(c->size_line) - 1) {
				c->size_line[c->size_len++] = ch;
			}
			break;
		case CH_DATA: {
			size_t take = n - used < c->remaining ? n - used : (size_t)c->remaining;
			sse_bytes(c, p + used, take, t);
			used += take;
			c->remaining -= take;
			if (!c->remaining)
				c->ch = CH_DATA_END;
			break;
		}
		case CH_DATA_END: /* the CRLF after a chunk's data */
			used++;
			if (ch == '\n')
				c->ch = CH_SIZE;
			else if (ch != '\r')
				c->bad = true;
			break;
		case CH_TRAILER: /* trailer lines, until an empty one */
			used++;
			if (ch == '\n') {
				if (c->trailer_line == 0)
					*end = true;
				c->trailer_line = 0;
			} else if (ch != '\r') {
				c->trailer_line++;
			}
			break;
		}
	}
	return used;
}

static bool header_is(const char *line, size_t len, const char *name, const char **value)
{
	size_t nl = strlen(name);
	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return false;
	const char *v = line + nl + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	*value = v;
	return true;
}

/* The response head is complete in c->head[0..len): status and framing. */
static int parse_head(struct conn *c, size_t len)
{
	if (len < 12 || memcmp(c->head, "HTTP/1.", 7) != 0)
		return -1;
	c->status = atoi(c->head + 9);
	c->keep_alive = c->head[7] == '1';
	c->mode = B_CLOSE;
	c->ch = CH_SIZE;
	c->size_len = 0;
	const char *p = memchr(c->head, '\n', len);
	while (p && p < c->head + len) {
		const char *line = p + 1;
		const char *eol = memchr(line, '\n', (size_t)(c->head + len - line));
		if (!eol)
			break;
		size_t ll = (size_t)(eol - line);
		const char *v;
		if (header_is(line, ll, "transfer-encoding", &v) &&
		    strncasecmp(v, "chunked", 7) == 0) {
			c->mode = B_CHUNKED;
		} else if (header_is(line, ll, "content-length", &v) && c->mode != B_CHUNKED) {
			c->mode = B_LENGTH;
			c->remaining = strtoull(v, NULL, 10);
		} else if (header_is(line, ll, "connection", &v)) {
			if (strncasecmp(v, "close", 5) == 0)
				c->keep_alive = false;
			else if (strncasecmp(v, "keep-alive", 10) == 0)
				c->keep_alive = true;
		}
		p = eol;
	}
	if (c->mode == B_CLOSE)
		c->keep_alive = false;
	return 0;
}

/* Bytes from the socket; returns true when the response is complete. */
static bool input(struct conn *c, const char *p, size_t n, uint64_t t)
{
	bool end = false;
	while (n && !end && !c->bad) {
		if (c->st == C_HEAD) {
			size_t room = sizeof(c->head) - 1 - c->head_len;
			size_t take = n < room ? n : room;
			if (!take) {
				c->bad = true;
				break;
			}
			memcpy(c->head + c->head_len, p, take);
			size_t old = c->head_len;
			c->head_len += take;
			c->head[c->head_len] = '\0';
			/* From just before the new bytes: the blank line may straddle reads. */
			char *hend = strstr(c->head + (old > 3 ? old - 3 : 0), "\r\n\r\n");
			if (!hend) {
				p += take;
				n -= take;
				continue;
			}
			size_t hlen = (size_t)(hend - c->head) + 4;
			if (parse_head(c, hlen) < 0) {
				c->bad = true;
				break;
			}
			size_t consumed = hlen - old;
			p += consumed;
			n -= consumed;
			c->st = C_BODY;
			if (c->mode == B_LENGTH && c->remaining == 0)
				end = true;
			continue;
		}
		size_t used = body_bytes(c, p, n, t, &end);
		p += used;
		n -= used;
	}
	return end;
}

/* ---- driver ---- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0, r;
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--; /* a body file saved by an editor: its final newline is not part of the JSON */
	*len = n;
	return buf;
}

static void usage(void)
{
	fprintf(stderr, "usage: sse_client --url http://127.0.0.1:PORT/PATH --body-file F "
			"--events E --pacing-ms P [--connections C] [--requests N] "
			"[--duration S] [--stagger-ms G] [--key K] [--raw FILE]\n"
			"       sse_client --summarize FILE...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *url = NULL, *body_file = NULL, *key = NULL, *raw = NULL;
	long conns = 1, requests = 1000000, duration_s = 10, events = 0;
	double pacing_ms = 0, stagger_ms = 0;
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"body-file", required_argument, NULL, 'b'},
	    {"events", required_argument, NULL, 'e'},
	    {"pacing-ms", required_argument, NULL, 'p'},
	    {"connections", required_argument, NULL, 'c'},
	    {"requests", required_argument, NULL, 'n'},
	    {"duration", required_argument, NULL, 'd'},
	    {"key", required_argument, NULL, 'k'},
	    {"raw", required_argument, NULL, 'r'},
	    {"stagger-ms", required_argument, NULL, 'g'},
	    {"summarize", no_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			url = optarg;
			break;
		case 'b':
			body_file = optarg;
			break;
		case 'e':
			events = atol(optarg);
			break;
		case 'p':
			pacing_ms = atof(optarg);
			break;
		case 'c':
			conns = atol(optarg);
			break;
		case 'n':
			requests = atol(optarg);
			break;
		case 'd':
			duration_s = atol(optarg);
			break;
		case 'k':
			key = optarg;
			break;
		case 'r':
			raw = optarg;
			break;
		case 'g':
			stagger_ms = atof(optarg);
			break;
		case 's':
			return summarize(argc - optind, argv + optind);
		default:
			usage();
		}
	}
	if (!url || !body_file || events < 1 || events > MAX_EVENTS || conns < 1 ||
	    conns > MAX_CONNS || requests < 1 || duration_s < 1 || pacing_ms < 0 || stagger_ms < 0)
		usage();

	/* Only plain http to an IPv4 address: the benchmark never leaves loopback. */
	char host[64];
	unsigned port;
	int off = 0;
	if (sscanf(url, "http://%63[0-9.]:%u%n", host, &port, &off) != 2 || url[off] != '/' ||
	    port > 65535)
		die("--url must be http://IPV4:PORT/PATH");
	g.addr.sin_family = AF_INET;
	g.addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &g.addr.sin_addr) != 1)
		die("bad IPv4 address in --url");
	size_t body_len;
	char *body = read_file(body_file, &body_len);
	if (!body)
		die("cannot read --body-file");
	char auth[512] = "";
	if (key)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", key);
	int hl = asprintf(&g.request,
			  "POST %s HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: application/json\r\n"
			  "Accept: text/event-stream\r\n%sContent-Length: %zu\r\n\r\n",
			  url + off, host, port, auth, body_len);
	if (hl < 0)
		die("out of memory");
	g.request = realloc(g.request, (size_t)hl + body_len);
	if (!g.request)
		die("out of memory");
	memcpy(g.request + hl, body, body_len);
	g.request_len = (size_t)hl + body_len;
	free(body);
	g.events = (size_t)events;
	g.pacing_us = pacing_ms * 1000.0;
	if (raw && !(g.raw = fopen(raw, "a")))
		die("cannot open --raw file");

	static struct conn cs[MAX_CONNS];
	static struct pollfd pfd[MAX_CONNS];
	static char buf[READ_BUF];
	uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)duration_s * 1000000000u;
	long started = 0;
	/* Streams of equal length started together stay in lockstep: every connection's events
	 * and next request would arrive in one burst, and a proxy's own delays would spread them
	 * out, making it look faster than direct. Spreading the first requests over --stagger-ms
	 * (run.sh passes one stream's length) gives every target the same steady mix. */
	for (long i = 0; i < conns; i++) {
		cs[i].fd = -1;
		cs[i].not_before = t0 + (uint64_t)(stagger_ms * 1e6 * (double)i / (double)conns);
	}
	uint64_t stagger_end = t0 + (uint64_t)(stagger_ms * 1e6);

	for (;;) {
		uint64_t now = now_ns();
		bool more = started < requests && now < deadline;
		int busy = 0;
		for (long i = 0; i < conns; i++) {
			struct conn *c = &cs[i];
			if (c->st != C_IDLE && now - c->t_start > REQUEST_TIMEOUT_NS) {
				record(c, false);
				conn_close(c);
			}
			if (c->st == C_IDLE && more && now >= c->not_before) {
				if (c->fd < 0 && conn_open(c) < 0) {
					/* Counted like a failed request, so a dead target ends the
					 * run. */
					g_requests++;
					g_errors++;
					started++;
					if (g.raw)
						fprintf(g.raw, "e 1\n");
					continue;
				}
				start_request(c, now);
				started++;
				more = started < requests;
			}
			pfd[i].fd = c->st == C_IDLE ? -1 : c->fd;
			pfd[i].events = c->st == C_SEND ? POLLOUT : POLLIN;
			pfd[i].revents = 0;
			busy += c->st != C_IDLE;
		}
		bool staggering = now < stagger_end;
		if (!busy) {
			if (!(started < requests && now_ns() < deadline))
				break;
			usleep(staggering ? 1000
					  : 10000); /* waiting to start, or every connect failed */
			continue;
		}
		int n = poll(pfd, (nfds_t)conns, staggering ? 1 : 100);
		if (n < 0 && errno != EINTR)
			die("poll failed");
		for (long i = 0; i < conns && n > 0; i++) {
			struct conn *c = &cs[i];
			if (!pfd[i].revents)
				continue;
			if (c->st == C_SEND) {
				/* Read the clock before the write: a write to loopback can wake the
				 * target, which may answer before this process runs again, so a
				 * clock read after write() returns could come after the answer. */
				uint64_t t_write = now_ns();
				ssize_t w =
				    write(c->fd, g.request + c->sent, g.request_len - c->sent);
				if (w < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (w <= 0) {
					record(c, false);
					conn_close(c);
					continue;
				}
				c->sent += (size_t)w;
				if (c->sent == g.request_len) {
					c->t_sent = t_write;
					c->st = C_HEAD;
				}
				continue;
			}
			ssize_t r = read(c->fd, buf, sizeof(buf));
			uint64_t t = now_ns();
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				/* EOF ends a close-delimited body cleanly; anywhere else it is an
				 * error. */
				record(c,
				       r == 0 && c->st == C_BODY && c->mode == B_CLOSE && !c->bad);
				conn_close(c);
				continue;
			}
			bool end = input(c, buf, (size_t)r, t);
			if (c->bad) {
				record(c, false);
				conn_close(c);
			} else if (end) {
				record(c, true);
				if (c->keep_alive)
					c->st = C_IDLE;
				else
					conn_close(c);
			}
		}
	}
	if (g.raw)
		fclose(g.raw);
	print_summary(now_ns() - t0);
	return 0;
}
