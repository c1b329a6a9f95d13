/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP front: libmicrohttpd daemons (one per listen address, epoll, a worker pool),
 * request lifecycle, routing to endpoints, and the helpers every endpoint answers with. */
#ifndef HW_GATEWAY_SERVER_H
#define HW_GATEWAY_SERVER_H

#include "common/config.h"
#include "common/errors.h"
#include "gateway/request.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

struct hw_store;
struct hw_key_cache;
struct hw_worker;
struct hw_catalog;
struct hw_router;
struct hw_usage_writer;
struct hw_money;
struct hw_guardian;
struct hw_gd_worker;

struct hw_server {
	/* Swapped whole on SIGHUP; old snapshots live until shutdown (reloads are rare). */
	_Atomic(const struct hw_config *) cfg;
	_Atomic(struct hw_catalog *) catalog;
	_Atomic(struct hw_router *) router; /* built over `catalog` and `cfg`, swapped with them */
	struct hw_store *store;
	struct hw_key_cache *keys;
	struct hw_usage_writer *usage;
	struct hw_money *money; /* accounts and the ledger writer; NULL = money.enabled false */
	struct hw_guardian *guardian;	/* per-key RPM and Guardian state (SPEC §11) */
	struct hw_gd_worker *gd_worker; /* its events and suspensions */
	char admin_token_sha256[65]; /* "" when no admin token exists */
	bool test_clock; /* --test-clock (builds with HIWAY_TEST_HOOKS only) */

	struct hw_worker *workers;
	unsigned n_workers;
	atomic_bool draining;
	atomic_int in_flight;
	atomic_int connections;
	int64_t started_s;
};

/* Starts one worker per configured thread (0 = one per core). */
int hw_server_start(struct hw_server *srv);
/* Stops accepting; waits up to `timeout_s` for in-flight requests; then interrupts the
 * streams still running (stream_interrupted, reason shutdown). */
void hw_server_drain(struct hw_server *srv, int timeout_s);
void hw_server_stop(struct hw_server *srv);

static inline const struct hw_config *hw_server_cfg(struct hw_server *srv)
{
	return atomic_load(&srv->cfg);
}

/* For the workers: "host:port" / "[v6]:port" to a socket address, and one MHD daemon in
 * external-epoll mode on an already listening socket. */
int hw_server_parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len);
struct MHD_Daemon *hw_server_daemon_new(struct hw_worker *w, unsigned flags, int listen_fd,
					unsigned conn_limit, unsigned per_ip_limit, size_t pool_bytes);

/* A JSON response (Content-Type set, USD amounts as numbers); `body` is stolen. NULL on
 * allocation failure. */
struct MHD_Response *hw_json_response(json_t *body);

/* Response helpers: each sets req->outcome, adds X-Request-Id and queues the response. */
enum MHD_Result hw_respond_json(struct hw_request *req, int status, json_t *body);
enum MHD_Result hw_respond_text(struct hw_request *req, int status, const char *content_type,
				char *text, size_t len); /* text is freed by MHD */
enum MHD_Result hw_respond_error(struct hw_request *req, enum hw_err err, const char *message,
				 json_t *extra);
/* Queues `resp` (NULL answers MHD_NO) with the request id header and records the outcome. */
enum MHD_Result hw_respond(struct hw_request *req, int status, struct MHD_Response *resp,
			   const char *code);

/* MHD iterator: appends "key=value" pairs joined by '&' to the hw_buf in cls. */
enum MHD_Result hw_query_collect(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value);

/* Starts relaying req->out as a chunked body (SSE); headers already added to `resp` are
 * kept. The response holds a request reference. */
struct MHD_Response *hw_stream_response_new(struct hw_request *req);

#endif
