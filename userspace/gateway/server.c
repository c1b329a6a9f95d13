// SPDX-License-Identifier: Apache-2.0
/* HTTP front on libmicrohttpd. The request lifecycle, in access-handler calls:
 *   1st call: headers are in -> request id, header size, route/method, Content-Length.
 *   body calls: the body is copied up to server.max_body_bytes.
 *   last call: the endpoint runs; it answers at once or suspends the connection.
 *   resumed call: the endpoint answers from what the upstream produced.
 * Completion (normal end or client gone) is reported by MHD's completed callback. */
#include "gateway/server.h"

#include "common/clock.h"
#include "common/json_usd.h"
#include "common/log.h"
#include "gateway/access_log.h"
#include "gateway/endpoints.h"
#include "gateway/ip_check.h"
#include "gateway/metrics.h"
#include "gateway/worker.h"
#include "iprules/perimeter.h"
#include "upstream/engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct route_def {
	const char *path;
	bool prefix;
	enum hw_route route;
	const char *allow;
};

static const struct route_def routes[] = {
	{"/v1/chat/completions", false, HW_ROUTE_CHAT, "POST"},
	{"/v1/messages", false, HW_ROUTE_MESSAGES, "POST"},
	{"/v1/models", false, HW_ROUTE_MODELS, "GET"},
	{"/v1/models/", true, HW_ROUTE_MODELS, "GET"},
	{"/health", false, HW_ROUTE_HEALTH, "GET, HEAD"},
	{"/metrics", false, HW_ROUTE_METRICS, "GET"},
	{"/api/v1/", true, HW_ROUTE_ADMIN, NULL},
};

static const struct route_def *route_match(const char *path)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route_def *r = &routes[i];
		if (r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0 : strcmp(path, r->path) == 0)
			return r;
	}
	return NULL;
}

static bool method_allowed(const char *allow, const char *method)
{
	if (!allow)
		return true;
	size_t n = strlen(method);
	for (const char *p = allow; (p = strstr(p, method)); p += n) {
		bool start = p == allow || p[-1] == ' ';
		bool end = p[n] == '\0' || p[n] == ',';
		if (start && end)
			return true;
	}
	return false;
}

struct hw_request *hw_request_new(struct hw_server *srv, const char *uri)
{
	struct hw_request *req = calloc(1, sizeof(*req));
	if (!req)
		return NULL;
	atomic_init(&req->refs, 1);
	req->srv = srv;
	req->t_start_ns = hw_clock_mono_ns();
	pthread_mutex_init(&req->lock, NULL);
	snprintf(req->path, sizeof(req->path), "%s", uri ? uri : "");
	return req;
}

void hw_request_ref(struct hw_request *req) { atomic_fetch_add(&req->refs, 1); }

void hw_request_unref(struct hw_request *req)
{
	if (atomic_fetch_sub(&req->refs, 1) != 1)
		return;
	if (req->endpoint_free)
		req->endpoint_free(req->endpoint);
	hw_buf_free(&req->body);
	hw_buf_free(&req->out);
	pthread_mutex_destroy(&req->lock);
	free(req);
}

void hw_request_wake_locked(struct hw_request *req)
{
	if (req->suspended && !req->client_gone) {
		req->suspended = false;
		MHD_resume_connection(req->conn);
		hw_worker_note_resume();
	}
}

enum MHD_Result hw_respond(struct hw_request *req, int status, struct MHD_Response *resp,
			   const char *code)
{
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "X-Request-Id", req->request_id);
	/* Anthropic's own header name, which its SDKs expose as the request id. */
	if (req->route == HW_ROUTE_MESSAGES)
		MHD_add_response_header(resp, "request-id", req->request_id);
	req->outcome.status = status;
	req->outcome.code = code;
	req->phase = HW_PHASE_RESPONDED;
	/* SPEC §3 counting: every 401 and 429 guardian_block feeds the source's auto-ban. */
	if (status == 401)
		hw_perimeter_note(&req->client_addr, HW_AUTOBAN_AUTH_FAILURES);
	else if (status == 429 && code && strcmp(code, "guardian_block") == 0)
		hw_perimeter_note(&req->client_addr, HW_AUTOBAN_GUARDIAN_BLOCKS);
	enum MHD_Result r = MHD_queue_response(req->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return r;
}

enum MHD_Result hw_respond_text(struct hw_request *req, int status, const char *content_type,
				char *text, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer_with_free_callback(len, text, free);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", content_type);
	return hw_respond(req, status, resp, "ok");
}

struct MHD_Response *hw_json_response(json_t *body)
{
	char *text = hw_json_dumps(body);
	json_decref(body);
	if (!text)
		return NULL;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer_with_free_callback(strlen(text), text, free);
	if (!resp) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	return resp;
}

enum MHD_Result hw_respond_json(struct hw_request *req, int status, json_t *body)
{
	return hw_respond(req, status, hw_json_response(body), "ok");
}

enum MHD_Result hw_respond_error(struct hw_request *req, enum hw_err err, const char *message,
				 json_t *extra)
{
	const struct hw_err_info *info = hw_err_info(err);
	json_t *retry = extra ? json_object_get(extra, "retry_after_seconds") : NULL;
	json_int_t retry_s = json_is_integer(retry) ? json_integer_value(retry) : 0;
	const char *allow = NULL;
	if (err == HW_ERR_METHOD_NOT_ALLOWED) {
		const struct route_def *r = route_match(req->path);
		allow = r ? r->allow : NULL;
	}
	struct MHD_Response *resp = hw_json_response(
		hw_err_body(err, message, req->request_id, extra, req->route == HW_ROUTE_MESSAGES));
	if (!resp)
		return MHD_NO;
	if (allow)
		MHD_add_response_header(resp, "Allow", allow);
	if (info->status == 429 || info->status == 503) {
		char ra[24];
		snprintf(ra, sizeof(ra), "%lld", (long long)(retry_s >= 1 ? retry_s : 1));
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	return hw_respond(req, info->status, resp, info->code);
}

/* Streams: MHD pulls from req->out; when it is empty the connection is suspended until
 * the engine thread appends more and wakes it. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct hw_request *req = cls;
	ssize_t ret;
	bool drained = false;
	pthread_mutex_lock(&req->lock);
	size_t n = hw_buf_pending(&req->out);
	if (n > 0) {
		if (n > max)
			n = max;
		memcpy(buf, req->out.data + req->out.off, n);
		req->out.off += n;
		hw_buf_compact(&req->out);
		ret = (ssize_t)n;
		if (req->out_paused && hw_buf_pending(&req->out) == 0) {
			req->out_paused = false;
			drained = true;
		}
	} else if (req->out_done) {
		ret = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		req->suspended = true;
		MHD_suspend_connection(req->conn);
		ret = 0;
	}
	pthread_mutex_unlock(&req->lock);
	/* Outside the lock: resuming the producer may hand it data at once. */
	if (drained && req->on_out_drained)
		req->on_out_drained(req);
	return ret;
}

static void stream_free(void *cls) { hw_request_unref(cls); }

struct MHD_Response *hw_stream_response_new(struct hw_request *req)
{
	hw_request_ref(req);
	struct MHD_Response *resp =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, (size_t)16 * 1024, stream_read, req,
						  stream_free);
	if (!resp)
		hw_request_unref(req);
	return resp;
}

enum MHD_Result hw_query_collect(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct hw_buf *b = cls;
	hw_buf_appendf(b, "%s%s=%s", b->len ? "&" : "", key, value ? value : "");
	return MHD_YES;
}

/* SPEC §13.1: the peer, or X-Forwarded-For when the peer is a trusted proxy. */
static void set_client_ip(struct hw_request *req, const char *xff)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct hw_ipaddr peer;
	if (!ci || !ci->client_addr || hw_ip_from_sockaddr(ci->client_addr, &peer) < 0)
		return;
	hw_perimeter_client_ip(&peer, xff, &req->client_addr);
	hw_ip_format(&req->client_addr, req->client_ip, sizeof(req->client_ip));
}

struct header_sum {
	size_t bytes;
	const char *request_id;
	struct hw_buf xff; /* every X-Forwarded-For value, joined with ',' */
};

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct header_sum *s = cls;
	s->bytes += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
	if (strcasecmp(key, "X-Request-Id") == 0)
		s->request_id = value;
	if (strcasecmp(key, "X-Forwarded-For") == 0 && value)
		hw_buf_appendf(&s->xff, "%s%s", s->xff.len ? "," : "", value);
	return MHD_YES;
}

/* SPEC §3 steps 1-2 and the early part of step 4 (a declared Content-Length too big). */
static enum MHD_Result begin(struct hw_request *req, const char *url, const char *method)
{
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	struct header_sum hs = {strlen(method) + strlen(url) + 12, NULL, {0}};
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, sum_header, &hs);
	if (hs.request_id && hw_request_id_valid(hs.request_id))
		snprintf(req->request_id, sizeof(req->request_id), "%s", hs.request_id);
	else
		hw_id_make(req->request_id, sizeof(req->request_id), "req_");
	set_client_ip(req, hs.xff.len ? hs.xff.data : NULL);
	hw_buf_free(&hs.xff);
	const struct route_def *r = route_match(url);
	if (r)
		req->route = r->route;
	atomic_fetch_add(&req->srv->in_flight, 1);
	hw_metrics_in_flight(req->route, 1);

	if ((int64_t)hs.bytes > cfg->server.max_header_bytes)
		return hw_respond_error(req, HW_ERR_HEADER_TOO_LARGE, "Request headers too large.",
					json_pack("{s:I}", "limit_bytes", (json_int_t)cfg->server.max_header_bytes));
	/* Route errors answer once the body is read, so the connection stays reusable. */
	if (!r)
		req->early_err = HW_ERR_NOT_FOUND;
	else if (!method_allowed(r->allow, method))
		req->early_err = HW_ERR_METHOD_NOT_ALLOWED;
	else if (atomic_load(&req->srv->draining))
		req->early_err = HW_ERR_SHUTTING_DOWN;
	/* Step 3, on every route: the perimeter set (global rules, kernel-bound workspace deny
	 * rules, bans), answered before the body is read. */
	else if (hw_perimeter_check(&req->client_addr) != HW_IP_ALLOWED)
		return hw_respond_ip_denied(req);
	const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
	if (cl && strtoll(cl, NULL, 10) > cfg->server.max_body_bytes)
		return hw_respond_error(req, HW_ERR_PAYLOAD_TOO_LARGE, "Request body too large.",
					json_pack("{s:I}", "limit_bytes", (json_int_t)cfg->server.max_body_bytes));
	req->phase = HW_PHASE_BODY;
	return MHD_YES;
}

static enum MHD_Result dispatch(struct hw_request *req)
{
	static const char *const messages[] = {
		[HW_ERR_NOT_FOUND] = "No such route.",
		[HW_ERR_METHOD_NOT_ALLOWED] = "Method not allowed.",
		[HW_ERR_SHUTTING_DOWN] = "The server is shutting down.",
	};
	if (req->early_err)
		return hw_respond_error(req, req->early_err, messages[req->early_err], NULL);
	switch (req->route) {
	case HW_ROUTE_CHAT:
		return hw_ep_chat(req);
	case HW_ROUTE_MESSAGES:
		return hw_ep_messages(req);
	case HW_ROUTE_MODELS:
		return hw_ep_models(req);
	case HW_ROUTE_HEALTH:
		return hw_ep_health(req);
	case HW_ROUTE_METRICS:
		return hw_ep_metrics(req);
	case HW_ROUTE_ADMIN:
		return hw_ep_admin(req);
	default:
		return hw_respond_error(req, HW_ERR_NOT_FOUND, "No such route.", NULL);
	}
}

/* MHD accepts a response only before or after the upload, so an oversized chunked body is
 * read to its end and dropped, then answered 413; past 8 times the limit the connection is
 * closed instead, so a client cannot make us read forever. */
static enum MHD_Result take_body(struct hw_request *req, const char *data, size_t *size)
{
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	size_t limit = (size_t)cfg->server.max_body_bytes;
	if (!req->body_too_large && req->body.len + *size > limit) {
		req->body_too_large = true;
		hw_buf_free(&req->body);
	}
	if (req->body_too_large) {
		req->discarded += *size;
		*size = 0;
		return req->discarded > 8 * limit ? MHD_NO : MHD_YES;
	}
	if (hw_buf_append(&req->body, data, *size) < 0)
		return MHD_NO;
	*size = 0;
	return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct hw_worker *worker = cls;
	struct hw_server *srv = worker->srv;
	struct hw_request *req = *con_cls;
	if (!req) {
		req = hw_request_new(srv, url);
		if (!req)
			return MHD_NO;
		req->engine = worker->engine;
		*con_cls = req;
		req->conn = conn;
		req->method = method;
		return begin(req, url, method);
	}
	switch (req->phase) {
	case HW_PHASE_BODY:
		if (*upload_data_size > 0)
			return take_body(req, upload_data, upload_data_size);
		if (req->body_too_large) {
			const struct hw_config *cfg = hw_server_cfg(srv);
			return hw_respond_error(req, HW_ERR_PAYLOAD_TOO_LARGE, "Request body too large.",
						json_pack("{s:I}", "limit_bytes",
							  (json_int_t)cfg->server.max_body_bytes));
		}
		return dispatch(req);
	case HW_PHASE_WAITING:
	case HW_PHASE_READY:
		return hw_ep_chat_resume(req);
	default:
		/* Upload data after a response was queued early: discard it. */
		*upload_data_size = 0;
		return MHD_YES;
	}
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct hw_request *req = *con_cls;
	if (!req)
		return;
	*con_cls = NULL;
	pthread_mutex_lock(&req->lock);
	req->client_gone = true;
	pthread_mutex_unlock(&req->lock);
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && req->outcome.status == 0) {
		req->outcome.status = 499; /* nginx's convention: the client closed first */
		req->outcome.code = "client_closed";
	}
	if (req->route == HW_ROUTE_CHAT || req->route == HW_ROUTE_MESSAGES)
		hw_ep_chat_client_gone(req);
	hw_access_finish(req, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	hw_metrics_in_flight(req->route, -1);
	atomic_fetch_sub(&req->srv->in_flight, 1);
	hw_request_unref(req);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct hw_server *srv = ((struct hw_worker *)cls)->srv;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&srv->connections, 1);
	else
		atomic_fetch_sub(&srv->connections, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	hw_log_json(HW_LOG_DEBUG, NULL, "http", json_pack("{s:s}", "detail", msg));
}

int hw_server_parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon = strrchr(spec, ':');
	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	int port = atoi(colon + 1);
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		size_t hl = strlen(host);
		if (hl < 2 || host[hl - 1] != ']')
			return -EINVAL;
		host[hl - 1] = '\0';
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -EINVAL;
		*len = sizeof(*s6);
		return 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -EINVAL;
	*len = sizeof(*s4);
	return 0;
}

struct MHD_Daemon *hw_server_daemon_new(struct hw_worker *w, unsigned flags, int listen_fd,
					unsigned conn_limit, unsigned per_ip_limit, size_t pool_bytes)
{
	const struct hw_config *cfg = hw_server_cfg(w->srv);
	return MHD_start_daemon(
		flags, 0, NULL, NULL, on_access, w, MHD_OPTION_LISTEN_SOCKET, listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, conn_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->server.client_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool_bytes, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
		w, MHD_OPTION_NOTIFY_CONNECTION, on_connection, w, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
		w, MHD_OPTION_END);
}

int hw_server_start(struct hw_server *srv)
{
	const struct hw_config *cfg = hw_server_cfg(srv);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = cfg->server.threads > 0 ? (unsigned)cfg->server.threads
					     : (unsigned)(cores > 0 ? cores : 1);
	srv->started_s = hw_clock_wall_s();
	srv->workers = calloc(n, sizeof(*srv->workers));
	if (!srv->workers)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		srv->workers[i].epfd = srv->workers[i].wakefd = -1;
	srv->n_workers = n;
	for (unsigned i = 0; i < n; i++) {
		int rc = hw_worker_start(&srv->workers[i], srv, i, n);
		if (rc < 0) {
			hw_server_stop(srv);
			return rc;
		}
	}
	for (size_t i = 0; i < cfg->server.n_listen; i++)
		hw_log_json(HW_LOG_INFO, NULL, "listening",
			    json_pack("{s:s,s:i}", "address", cfg->server.listen[i], "threads", n));
	return 0;
}

void hw_server_drain(struct hw_server *srv, int timeout_s)
{
	atomic_store(&srv->draining, true);
	for (unsigned i = 0; i < srv->n_workers; i++)
		hw_worker_quiesce(&srv->workers[i]);
	int64_t deadline = hw_clock_mono_ns() + (int64_t)timeout_s * 1000000000;
	while (atomic_load(&srv->in_flight) > 0 && hw_clock_mono_ns() < deadline)
		usleep(20 * 1000);
	for (unsigned i = 0; i < srv->n_workers; i++)
		hw_worker_interrupt(&srv->workers[i]);
	deadline = hw_clock_mono_ns() + 2000000000LL;
	while (atomic_load(&srv->in_flight) > 0 && hw_clock_mono_ns() < deadline)
		usleep(20 * 1000);
}

void hw_server_stop(struct hw_server *srv)
{
	for (unsigned i = 0; i < srv->n_workers; i++)
		hw_worker_stop(&srv->workers[i]);
	free(srv->workers);
	srv->workers = NULL;
	srv->n_workers = 0;
}
