/* SPDX-License-Identifier: Apache-2.0 */
/* One HTTP request as it moves through the pipeline (DESIGN "one request, in order").
 * Owned jointly by the HTTP connection and, while a provider call runs, the upstream
 * engine: a reference count decides who frees it. `lock` guards the fields the engine
 * thread and the HTTP worker both touch (the output buffer and the wake/suspend state). */
#ifndef HW_GATEWAY_REQUEST_H
#define HW_GATEWAY_REQUEST_H

#include "common/buf.h"
#include "common/errors.h"
#include "common/ids.h"
#include "iprules/cidr.h"
#include "store/store.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct hw_server;
struct hw_upstream_call;
struct hw_engine;

enum hw_route {
	HW_ROUTE_UNKNOWN,
	HW_ROUTE_CHAT,
	HW_ROUTE_MESSAGES,
	HW_ROUTE_MODELS,
	HW_ROUTE_HEALTH,
	HW_ROUTE_METRICS,
	HW_ROUTE_ADMIN,
	HW_ROUTE__COUNT
};

enum hw_req_phase {
	HW_PHASE_HEADERS, /* first access-handler call not seen yet */
	HW_PHASE_BODY,    /* receiving the body */
	HW_PHASE_WAITING, /* suspended: the upstream has not produced the response yet */
	HW_PHASE_READY,   /* the upstream produced a full response or the stream's start */
	HW_PHASE_STREAMING,
	HW_PHASE_RESPONDED
};

/* What the request ends with, for the access log, metrics and the usage record. */
struct hw_req_outcome {
	int status;
	const char *code; /* "ok" or an error code */
};

struct hw_request {
	atomic_int refs;
	struct hw_server *srv;
	struct hw_engine *engine; /* the accepting worker's: the provider call runs there too */
	struct MHD_Connection *conn;
	enum hw_route route;
	const char *method;
	char path[512];
	char request_id[HW_REQUEST_ID_MAX + 1];
	char client_ip[46];
	struct hw_ipaddr client_addr; /* client_ip parsed (SPEC §13.1); family 0 = unknown */
	int64_t t_start_ns;
	enum hw_req_phase phase;
	bool body_too_large;
	size_t discarded; /* body bytes dropped after the limit was passed */
	enum hw_err early_err; /* a route error to answer once the body is read; 0 = none */
	struct hw_buf body;

	/* Authenticated identity (inference and admin routes). */
	bool authed;
	struct hw_key key;
	char ws_profile[16];  /* the workspace's routing profile, "" = the server's */
	char ws_regions[256]; /* its allowed_regions as JSON text, "" = any */
	char ws_default_model[128]; /* its passthrough target, "" = the server's */

	struct hw_req_outcome outcome;
	char routed_model[128]; /* for the access log, once routing decided */
	char routed_tier[16];
	char admin_code[40]; /* management API answers: their error code */
	int64_t upstream_ns; /* time spent waiting on the provider, for the overhead metric */

	/* Shared with the engine thread under `lock`. */
	pthread_mutex_t lock;
	bool suspended;    /* MHD connection suspended, waiting for a wake */
	bool client_gone;  /* MHD reported completion: never touch `conn` again */
	struct hw_buf out; /* bytes produced for the client, not yet handed to MHD */
	bool out_done;     /* no more bytes will be produced */
	bool out_paused;   /* the producer stopped because `out` passed the high-water mark */
	/* Called (without `lock`) once a paused producer's output has drained. */
	void (*on_out_drained)(struct hw_request *req);

	/* Endpoint state (chat completions). */
	void *endpoint;
	void (*endpoint_free)(void *endpoint);
};

struct hw_request *hw_request_new(struct hw_server *srv, const char *uri);
void hw_request_ref(struct hw_request *req);
void hw_request_unref(struct hw_request *req);

/* Called by the engine thread when output or a completed response is available:
 * resumes the connection if it is suspended. Caller holds req->lock. */
void hw_request_wake_locked(struct hw_request *req);

#endif
