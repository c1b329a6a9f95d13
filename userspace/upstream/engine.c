// SPDX-License-Identifier: Apache-2.0
/* One thread per engine runs curl_multi_poll. Other threads hand it calls through a
 * mutex-protected submission list and curl_multi_wakeup; cancellation and drains are
 * atomics the loop checks on each sweep (every 10 ms at most), together with the timeouts
 * curl itself cannot express (first byte, idle gap, drain bounds). */
#include "upstream/engine.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SWEEP_NS (10 * 1000000LL)
#define MAX_IDLE_EASY 128

struct hw_engine {
	pthread_t thread;
	CURLM *multi;
	pthread_mutex_t lock;
	struct hw_upstream_call *submitted; /* guarded by lock */
	atomic_bool interrupt;
	atomic_bool stop;
	struct hw_upstream_call *active; /* engine thread only */
	CURL *idle_easy[MAX_IDLE_EASY];
	size_t n_idle_easy;
	int64_t last_sweep_ns;
};

struct hw_engine_pool {
	struct hw_engine *engines;
	unsigned n;
	atomic_uint next;
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
	c->bytes += (int64_t)len;
	report_status(c);
	if (c->max_response_bytes > 0 && c->bytes > c->max_response_bytes)
		return 0; /* curl reports a write error; finish() maps it via the byte count */
	if (c->on_data && c->on_data(c, data, len) < 0)
		return 0;
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

static void list_remove(struct hw_engine *e, struct hw_upstream_call *c)
{
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
	curl_multi_remove_handle(e->multi, c->easy);
	list_remove(e, c);
	if (r == HW_CALL_OK || c->bytes > 0)
		report_status(c);
	easy_put(e, c->easy);
	c->easy = NULL;
	c->on_done(c, r);
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
	c->prev = NULL;
	c->next = e->active;
	if (e->active)
		e->active->prev = c;
	e->active = c;
	return 0;
}

static void take_submissions(struct hw_engine *e)
{
	pthread_mutex_lock(&e->lock);
	struct hw_upstream_call *list = e->submitted;
	e->submitted = NULL;
	pthread_mutex_unlock(&e->lock);
	while (list) {
		struct hw_upstream_call *c = list;
		list = c->next;
		c->next = NULL;
		if (atomic_load(&e->interrupt))
			c->on_done(c, HW_CALL_SHUTDOWN);
		else if (start(e, c) < 0)
			c->on_done(c, HW_CALL_CONNECT_ERROR);
	}
}

/* Timeouts curl cannot express, cancellations and drain bounds. */
static void sweep(struct hw_engine *e, int64_t now)
{
	bool interrupt = atomic_load(&e->interrupt);
	struct hw_upstream_call *c = e->active;
	while (c) {
		struct hw_upstream_call *next = c->next;
		const struct hw_cfg_timeouts *t = &c->timeouts;
		int64_t drain_deadline = atomic_load(&c->drain_deadline_ns);
		int64_t drain_bytes = atomic_load(&c->drain_max_bytes);
		if (drain_deadline && c->drain_base_bytes < 0)
			c->drain_base_bytes = c->bytes;
		if (interrupt)
			finish(e, c, HW_CALL_SHUTDOWN);
		else if (atomic_load(&c->cancel))
			finish(e, c, HW_CALL_CANCELLED);
		else if (drain_deadline && (now > drain_deadline || c->bytes - c->drain_base_bytes > drain_bytes))
			finish(e, c, HW_CALL_CANCELLED);
		else if (c->stream && !c->t_first_byte_ns &&
			 now - c->t_submit_ns > (t->connect_ms + t->first_byte_ms) * 1000000)
			finish(e, c, HW_CALL_TIMEOUT);
		else if (c->stream && c->t_first_byte_ns && now - c->t_last_byte_ns > t->idle_ms * 1000000)
			finish(e, c, HW_CALL_IDLE_TIMEOUT);
		c = next;
	}
}

static void *engine_main(void *arg)
{
	struct hw_engine *e = arg;
	while (!atomic_load(&e->stop)) {
		take_submissions(e);
		int running = 0;
		curl_multi_perform(e->multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(e->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct hw_upstream_call *c = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			finish(e, c, map_curl(c, msg->data.result));
		}
		int64_t now = hw_clock_mono_ns();
		if (now - e->last_sweep_ns >= SWEEP_NS || atomic_load(&e->interrupt)) {
			e->last_sweep_ns = now;
			sweep(e, now);
		}
		/* With calls in flight, wake at least every sweep period; idle, only when
		 * woken by a submission. */
		long cap = e->active ? 10 : 1000;
		long timeout_ms = cap;
		curl_multi_timeout(e->multi, &timeout_ms);
		if (timeout_ms < 0 || timeout_ms > cap)
			timeout_ms = cap;
		if (timeout_ms > 0)
			curl_multi_poll(e->multi, NULL, 0, (int)timeout_ms, NULL);
	}
	atomic_store(&e->interrupt, true);
	take_submissions(e);
	sweep(e, hw_clock_mono_ns());
	return NULL;
}

int hw_engine_pool_new(unsigned n_threads, struct hw_engine_pool **out)
{
	struct hw_engine_pool *pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->n = n_threads ? n_threads : 1;
	pool->engines = calloc(pool->n, sizeof(*pool->engines));
	if (!pool->engines) {
		free(pool);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < pool->n; i++) {
		struct hw_engine *e = &pool->engines[i];
		e->multi = curl_multi_init();
		curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
		curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, 256L);
		pthread_mutex_init(&e->lock, NULL);
		if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
			pool->n = i;
			hw_engine_pool_free(pool);
			return -EAGAIN;
		}
	}
	*out = pool;
	return 0;
}

void hw_engine_pool_free(struct hw_engine_pool *pool)
{
	if (!pool)
		return;
	for (unsigned i = 0; i < pool->n; i++) {
		struct hw_engine *e = &pool->engines[i];
		atomic_store(&e->stop, true);
		curl_multi_wakeup(e->multi);
		pthread_join(e->thread, NULL);
		for (size_t j = 0; j < e->n_idle_easy; j++)
			curl_easy_cleanup(e->idle_easy[j]);
		curl_multi_cleanup(e->multi);
		pthread_mutex_destroy(&e->lock);
	}
	free(pool->engines);
	free(pool);
}

int hw_engine_submit(struct hw_engine_pool *pool, struct hw_upstream_call *call)
{
	unsigned i = atomic_fetch_add(&pool->next, 1) % pool->n;
	struct hw_engine *e = &pool->engines[i];
	call->engine = e;
	pthread_mutex_lock(&e->lock);
	call->next = e->submitted;
	e->submitted = call;
	pthread_mutex_unlock(&e->lock);
	curl_multi_wakeup(e->multi);
	return 0;
}

void hw_engine_cancel(struct hw_upstream_call *call)
{
	atomic_store(&call->cancel, true);
	curl_multi_wakeup(call->engine->multi);
}

void hw_engine_drain(struct hw_upstream_call *call, int64_t max_s, int64_t max_bytes)
{
	atomic_store(&call->drain_max_bytes, max_bytes);
	atomic_store(&call->drain_deadline_ns, hw_clock_mono_ns() + max_s * 1000000000LL);
	curl_multi_wakeup(call->engine->multi);
}

void hw_engine_pool_interrupt(struct hw_engine_pool *pool)
{
	for (unsigned i = 0; i < pool->n; i++) {
		atomic_store(&pool->engines[i].interrupt, true);
		curl_multi_wakeup(pool->engines[i].multi);
	}
}

void hw_upstream_call_release(struct hw_upstream_call *call)
{
	free(call->url);
	free(call->body);
	curl_slist_free_all(call->headers);
	call->url = call->body = NULL;
	call->headers = NULL;
}
