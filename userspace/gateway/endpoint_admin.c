// SPDX-License-Identifier: Apache-2.0
/* Management routes (/api/v1/...): authenticates the admin token or an admin-role key (SPEC §4.2, §16.1) and
 * hands the request to the management API module. */
#include "admin/admin.h"
#include "auth/key_cache.h"
#include "auth/keys.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/json_usd.h"
#include "gateway/endpoints.h"
#include "gateway/server.h"
#include "guardian/guardian.h"
#include "shield/audit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void caches_changed(void *arg)
{
	struct hw_server *srv = arg;
	hw_key_cache_reload(srv->keys);
	if (srv->guardian)
		hw_guardian_settings_reload(srv->guardian, hw_server_cfg(srv), srv->store);
}

/* Returns true with *who filled, or queues the error answer. */
static bool authenticate(struct hw_request *req, struct hw_principal *who, enum MHD_Result *ret)
{
	const char *authz = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
	const char *xkey = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "x-api-key");
	const char *cred = hw_key_from_headers(authz, xkey);
	memset(who, 0, sizeof(*who));
	if (!cred) {
		*ret = hw_respond_error(req, HW_ERR_INVALID_API_KEY, "Missing API key.", NULL);
		return false;
	}
	char hash[HW_SHA256_HEX_LEN + 1];
	hw_sha256_hex(cred, strlen(cred), hash);
	if (req->srv->admin_token_sha256[0] && hw_ct_streq(hash, req->srv->admin_token_sha256)) {
		who->kind = HW_PRINCIPAL_ADMIN_TOKEN;
		return true;
	}
	struct hw_key_entry e;
	if (hw_key_shape(cred) == HW_KEY_SHAPE_INVALID) {
		*ret = hw_respond_error(req, HW_ERR_INVALID_API_KEY, "Invalid API key.", NULL);
		return false;
	}
	if (!hw_authn_key(req, hash, &e, ret))
		return false;
	if (strcmp(e.key.role, "admin") != 0) {
		*ret = hw_respond_error(req, HW_ERR_FORBIDDEN, "This key may not use the management API.", NULL);
		return false;
	}
	who->kind = HW_PRINCIPAL_ADMIN_KEY;
	snprintf(who->workspace_id, sizeof(who->workspace_id), "%s", e.key.workspace_id);
	snprintf(who->key_id, sizeof(who->key_id), "%s", e.key.id);
	return true;
}

#ifdef HIWAY_TEST_HOOKS
/* SPEC §19 test hook: POST /api/v1/_test/clock {"advance_s":N} or {"set":"<RFC 3339>"},
 * admin token only, moves wall time for windows, months and grace periods. */
static enum MHD_Result test_clock(struct hw_request *req, const struct hw_principal *who)
{
	if (who->kind != HW_PRINCIPAL_ADMIN_TOKEN)
		return hw_respond_error(req, HW_ERR_FORBIDDEN, "The test clock needs the admin token.", NULL);
	if (strcmp(req->method, "POST") != 0)
		return hw_respond_error(req, HW_ERR_METHOD_NOT_ALLOWED, "Method not allowed.", NULL);
	json_t *body = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, NULL);
	json_t *advance = json_object_get(body, "advance_s");
	const char *set = json_string_value(json_object_get(body, "set"));
	int64_t now_ms = hw_clock_wall_ms(), target_s = 0;
	bool ok = json_is_integer(advance) ? (target_s = now_ms / 1000 + json_integer_value(advance), true)
					   : set && hw_clock_parse_rfc3339(set, &target_s) == 0;
	json_decref(body);
	if (!ok)
		return hw_respond_error(req, HW_ERR_INVALID_REQUEST,
					"Send {\"advance_s\": N} or {\"set\": \"<RFC 3339>\"}.",
					json_pack("{s:n}", "param"));
	hw_clock_set_offset_ms(hw_clock_offset_ms() + target_s * 1000 - now_ms);
	char now[21];
	hw_clock_rfc3339(hw_clock_wall_s(), now);
	return hw_respond_json(req, 200, json_pack("{s:s}", "now", now));
}

/* Copies the string member `name` of `body` into out; absent or null leaves "". False when
 * present with another type or too long. */
static bool test_audit_text(const json_t *body, const char *name, char *out, size_t cap)
{
	const json_t *v = json_object_get(body, name);
	out[0] = '\0';
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v) || json_string_length(v) >= cap)
		return false;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return true;
}

/* Test hook until the Shield scanner writes rows: POST /api/v1/_test/audit with an
 * hw_audit_event as JSON (admin token) appends it to its workspace's chain. */
static enum MHD_Result test_audit(struct hw_request *req, const struct hw_principal *who)
{
	if (who->kind != HW_PRINCIPAL_ADMIN_TOKEN)
		return hw_respond_error(req, HW_ERR_FORBIDDEN, "The audit test hook needs the admin token.", NULL);
	if (strcmp(req->method, "POST") != 0)
		return hw_respond_error(req, HW_ERR_METHOD_NOT_ALLOWED, "Method not allowed.", NULL);
	json_t *body = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, NULL);
	struct hw_audit_event ev;
	memset(&ev, 0, sizeof(ev));
	const json_t *score = json_object_get(body, "score");
	const json_t *ts = json_object_get(body, "timestamp_ms");
	bool ok = json_is_object(body) && json_is_number(score) && (!ts || json_is_integer(ts)) &&
		  test_audit_text(body, "workspace_id", ev.workspace_id, sizeof(ev.workspace_id)) &&
		  test_audit_text(body, "key_id", ev.key_id, sizeof(ev.key_id)) &&
		  test_audit_text(body, "request_id", ev.request_id, sizeof(ev.request_id)) &&
		  test_audit_text(body, "client_ip", ev.client_ip, sizeof(ev.client_ip)) &&
		  test_audit_text(body, "model", ev.model, sizeof(ev.model)) &&
		  test_audit_text(body, "threat_type", ev.threat_type, sizeof(ev.threat_type)) &&
		  test_audit_text(body, "action", ev.action, sizeof(ev.action)) &&
		  test_audit_text(body, "mode", ev.mode, sizeof(ev.mode)) &&
		  test_audit_text(body, "prompt_sha256", ev.prompt_sha256, sizeof(ev.prompt_sha256));
	ev.score = json_number_value(score);
	ev.timestamp_ms = ts ? json_integer_value(ts) : 0;
	json_decref(body);
	int64_t seq = 0;
	char hash[65];
	int rc = ok ? hw_audit_append(req->srv->store, &ev, &seq, hash) : -EINVAL;
	if (rc == -EINVAL)
		return hw_respond_error(req, HW_ERR_INVALID_REQUEST, "Send an audit event object.",
					json_pack("{s:n}", "param"));
	if (rc < 0)
		return hw_respond_error(req, HW_ERR_STORE_UNAVAILABLE, "The store is unavailable.", NULL);
	return hw_respond_json(req, 201, json_pack("{s:I,s:s}", "seq", (json_int_t)seq, "row_hash", hash));
}
#endif

enum MHD_Result hw_ep_admin(struct hw_request *req)
{
	struct hw_principal who;
	enum MHD_Result ret;
	if (!authenticate(req, &who, &ret))
		return ret;
#ifdef HIWAY_TEST_HOOKS
	if (req->srv->test_clock && strncmp(req->path, "/api/v1/_test/clock", 19) == 0 &&
	    (req->path[19] == '\0' || req->path[19] == '?'))
		return test_clock(req, &who);
	if (req->srv->test_clock && strncmp(req->path, "/api/v1/_test/audit", 19) == 0 &&
	    (req->path[19] == '\0' || req->path[19] == '?'))
		return test_audit(req, &who);
#endif
	struct hw_admin_ctx ctx = {req->srv->store, hw_server_cfg(req->srv), caches_changed, req->srv,
				   req->srv->money};
	const char *q = strchr(req->path, '?');
	char path[512];
	snprintf(path, sizeof(path), "%.*s", (int)(q ? (size_t)(q - req->path) : strlen(req->path)), req->path);
	/* MHD strips the query from the URL it hands us; rebuild it from the arguments. */
	struct hw_buf query = {0};
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, hw_query_collect, &query);
	struct hw_admin_request ar = {req->method, path, query.len ? query.data : NULL,
				      req->body.data, req->body.len, &who, req->request_id};
	struct hw_admin_response resp = {0};
	hw_admin_handle(&ctx, &ar, &resp);
	hw_buf_free(&query);
	/* Keep the error code for metrics and the access log: the body is freed below. */
	const char *code = json_string_value(json_object_get(json_object_get(resp.body, "error"), "code"));
	snprintf(req->admin_code, sizeof(req->admin_code), "%s", code ? code : "ok");
	if (resp.text) {
		struct MHD_Response *r =
			MHD_create_response_from_buffer_with_free_callback(resp.text_len, resp.text, free);
		if (!r) {
			free(resp.text);
			return MHD_NO;
		}
		MHD_add_response_header(r, "Content-Type", resp.content_type);
		if (resp.disposition[0])
			MHD_add_response_header(r, "Content-Disposition", resp.disposition);
		return hw_respond(req, resp.status, r, "ok");
	}
	if (!resp.body) {
		struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		return hw_respond(req, resp.status, r, "ok");
	}
	struct MHD_Response *r = hw_json_response(resp.body);
	if (!r)
		return MHD_NO;
	if (resp.allow[0])
		MHD_add_response_header(r, "Allow", resp.allow);
	return hw_respond(req, resp.status, r, req->admin_code);
}
