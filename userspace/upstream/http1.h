/* SPDX-License-Identifier: Apache-2.0 */
/* A lean HTTP/1.1 keep-alive client for plain-HTTP providers at a literal IP address (a
 * local vLLM, Ollama or a sidecar). Written by hand because libcurl, kept for everything
 * else (TLS, HTTP/2, host names), costs about five extra system calls per request on a
 * reused connection (liveness polls, socket re-registration) and that is most of the
 * gateway's added latency on loopback. Connections stay registered on the worker's epoll
 * for their whole life. Internal to the engine. */
#ifndef HW_UPSTREAM_HTTP1_H
#define HW_UPSTREAM_HTTP1_H

#include "upstream/engine.h"

#include <stdbool.h>
#include <stdint.h>

#define HW_EPOLL_H1 4

struct hw_h1_pool;

/* `finish` ends a call (the engine's bookkeeping, then on_done); the client has already
 * pooled or closed the call's connection when it calls it. */
typedef void (*hw_h1_finish_fn)(void *engine, struct hw_upstream_call *c, enum hw_call_result r);

int hw_h1_pool_new(int epfd, void *engine, hw_h1_finish_fn finish, struct hw_h1_pool **out);
void hw_h1_pool_free(struct hw_h1_pool *p);

/* Sends the call on a pooled or new connection. 0; -EPROTONOSUPPORT when the URL is not
 * "http://<IPv4 or [IPv6]>[:port]/path" (libcurl's to serve); another negative errno when
 * nothing could be started. */
int hw_h1_start(struct hw_h1_pool *p, struct hw_upstream_call *c);
/* An epoll event on one of the client's connections (data.ptr of kind HW_EPOLL_H1). */
void hw_h1_on_event(struct hw_h1_pool *p, void *tag, uint32_t events);
/* The engine ends the call itself (timeout, drain bound, shutdown): close its connection. */
void hw_h1_abort(struct hw_upstream_call *c);
/* Resumes a call paused by its on_data (backpressure). */
void hw_h1_unpause(struct hw_upstream_call *c);
/* Frees the connections closed during the last epoll batch. */
void hw_h1_reap(struct hw_h1_pool *p);
/* Whether the call's connection finished connecting (for the connect timeout). */
bool hw_h1_connected(const struct hw_upstream_call *c);

#endif
