/* SPDX-License-Identifier: Apache-2.0 */
/* The upstream engine: provider HTTP calls on a libcurl multi handle (keep-alive pool,
 * HTTP/2 where offered) driven by the event loop of the worker thread that owns it. A
 * request's HTTP connection and its provider call live on the same thread, so relaying a
 * response never crosses threads (DESIGN: no worker blocks on I/O, no handoff either). */
#ifndef HW_UPSTREAM_ENGINE_H
#define HW_UPSTREAM_ENGINE_H

#include "common/config.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hw_call_result {
	HW_CALL_OK,
	HW_CALL_CONNECT_ERROR,
	HW_CALL_TIMEOUT,       /* before the first byte, or the whole response (non-streaming) */
	HW_CALL_IDLE_TIMEOUT,  /* stream silent longer than idle_ms */
	HW_CALL_TOTAL_TIMEOUT, /* stream longer than total_ms */
	HW_CALL_TOO_LARGE,     /* over upstream.max_response_bytes */
	HW_CALL_ABORTED,       /* on_data asked to stop, or the connection broke mid-body */
	HW_CALL_CANCELLED,     /* the drain bound after a client left was reached */
	HW_CALL_SHUTDOWN,
};

struct hw_engine;

#define HW_CALL_PAUSE 1

struct hw_upstream_call {
	/* Filled by the caller before submit; owned by the call. */
	char *url;
	struct curl_slist *headers;
	char *body;
	size_t body_len;
	bool stream;
	struct hw_cfg_timeouts timeouts;
	int64_t max_response_bytes;
	void (*on_status)(struct hw_upstream_call *c); /* once, before the first on_data */
	/* <0 aborts; HW_CALL_PAUSE leaves the data unconsumed and pauses the transfer until
	 * hw_engine_unpause (a client slower than its provider). */
	int (*on_data)(struct hw_upstream_call *c, const char *data, size_t len);
	void (*on_done)(struct hw_upstream_call *c, enum hw_call_result r);
	void *arg;

	/* An in-process answer (the echo provider with delays): `memory` is served in the
	 * chunks ending at memory_ends[], the first after first_delay_ms, the rest
	 * chunk_delay_ms apart, with status and content_type preset by the caller. */
	const char *memory;
	const size_t *memory_ends;
	size_t n_memory_chunks;
	int64_t first_delay_ms, chunk_delay_ms;

	/* Results, valid from on_status on. */
	long status;
	char content_type[128];
	char retry_after[32];
	int64_t t_submit_ns, t_first_byte_ns;
	int64_t bytes;

	/* Engine internals. */
	struct hw_engine *engine;
	CURL *easy;
	void *h1; /* the connection of a call served by the HTTP/1.1 client (http1.c) */
	bool status_reported;
	bool paused;
	int64_t drain_deadline_ns; /* 0 = client still there */
	int64_t drain_max_bytes;
	int64_t drain_base_bytes; /* bytes seen when the drain began */
	int64_t t_last_byte_ns;
	size_t memory_next;    /* next chunk of an in-process answer */
	int64_t memory_due_ns; /* when it is due */
	struct hw_upstream_call *next, *prev;
};

/* Sockets are registered in `epfd`, each with a struct hw_engine_socket as data.ptr. */
struct hw_engine_socket {
	int kind; /* HW_EPOLL_CURL */
	int fd;
	bool dead; /* curl removed it; freed by hw_engine_reap once the event batch is done */
	struct hw_engine *engine;
	struct hw_engine_socket *next_dead;
};

#define HW_EPOLL_CURL 1

int hw_engine_new(int epfd, struct hw_engine **out);
void hw_engine_free(struct hw_engine *e);

/* Starts a call on this engine's thread (over HTTP, or from memory when call->memory is
 * set); on_done will be called exactly once. */
int hw_engine_submit(struct hw_engine *e, struct hw_upstream_call *call);
/* Resumes a paused transfer; on this engine's thread, outside any callback of the call. */
void hw_engine_unpause(struct hw_upstream_call *call);
/* The client left; keep reading for usage until the bounds, then cancel. */
void hw_engine_drain(struct hw_upstream_call *call, int64_t max_s, int64_t max_bytes);

/* Event-loop hooks, called by the owning worker thread. */
/* An epoll event whose data.ptr is one of the engine's tags (kind HW_EPOLL_CURL or
 * HW_EPOLL_H1). */
void hw_engine_on_event(struct hw_engine *e, void *tag, uint32_t epoll_events);
/* Frees the socket records curl removed during the last event batch: an event later in the
 * same batch may still point at one. */
void hw_engine_reap(struct hw_engine *e);
/* Runs curl's timer when due and the sweep (first-byte/idle timeouts, drains).
 * Returns the wait in ms until the engine next needs the loop (-1: nothing pending). */
long hw_engine_tick(struct hw_engine *e);
/* Shutdown: every call in flight ends with HW_CALL_SHUTDOWN; later submits too. */
void hw_engine_interrupt(struct hw_engine *e);

/* Frees what the caller filled (url, headers, body). */
void hw_upstream_call_release(struct hw_upstream_call *call);

#endif
