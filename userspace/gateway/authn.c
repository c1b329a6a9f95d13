// SPDX-License-Identifier: Apache-2.0
/* Authentication of inference requests (SPEC §3 steps 5-6, §4.1-4.2). Everything here
 * reads the in-memory key cache: no store call on the request path. */
#include "auth/key_cache.h"
#include "auth/keys.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "gateway/endpoints.h"
#include "gateway/ip_check.h"
#include "gateway/server.h"
#include "iprules/perimeter.h"
#include "store/usage_writer.h"

#include <string.h>

bool hw_authn_key(struct hw_request *req, const char *sha256_hex, struct hw_key_entry *e,
		  enum MHD_Result *ret)
{
	if (!hw_key_cache_lookup(req->srv->keys, sha256_hex, e)) {
		*ret = hw_respond_error(req, HW_ERR_INVALID_API_KEY, "Invalid API key.", NULL);
		return false;
	}
	if (strcmp(e->key.status, "revoked") == 0) {
		*ret = hw_respond_error(req, HW_ERR_INVALID_API_KEY, "API key revoked.", NULL);
		return false;
	}
	if (e->workspace_suspended) {
		*ret = hw_respond_error(req, HW_ERR_WORKSPACE_SUSPENDED, "Workspace suspended.",
					json_pack("{s:o}", "reason",
						  e->workspace_has_reason ? json_string(e->workspace_suspended_reason)
									  : json_null()));
		return false;
	}
	if (strcmp(e->key.status, "suspended") == 0) {
		*ret = hw_respond_error(req, HW_ERR_KEY_SUSPENDED, "API key suspended.",
					json_pack("{s:s,s:o}", "key_id", e->key.id, "reason",
						  e->key.has_suspended_reason ? json_string(e->key.suspended_reason)
									      : json_null()));
		return false;
	}
	return true;
}

bool hw_authn_inference(struct hw_request *req, enum MHD_Result *ret)
{
	const char *authz = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
	const char *xkey = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "x-api-key");
	const char *key = hw_key_from_headers(authz, xkey);
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	if (!key) {
		*ret = hw_respond_error(req, HW_ERR_INVALID_API_KEY, "Missing API key.", NULL);
		return false;
	}
	enum hw_key_shape shape = hw_key_shape(key);
	if (shape == HW_KEY_SHAPE_INVALID ||
	    (shape == HW_KEY_SHAPE_LEGACY && !cfg->keys.accept_legacy_prefix)) {
		*ret = hw_respond_error(req, HW_ERR_INVALID_API_KEY, "Invalid API key.", NULL);
		return false;
	}
	char hash[HW_SHA256_HEX_LEN + 1];
	hw_sha256_hex(key, strlen(key), hash);
	struct hw_key_entry e;
	if (!hw_authn_key(req, hash, &e, ret))
		return false;
	req->authed = true;
	req->key = e.key;
	memcpy(req->ws_profile, e.routing_profile, sizeof(req->ws_profile));
	memcpy(req->ws_regions, e.allowed_regions, sizeof(req->ws_regions));
	memcpy(req->ws_default_model, e.default_model, sizeof(req->ws_default_model));
	if (req->srv->usage)
		hw_usage_writer_touch_key(req->srv->usage, e.key.id, hw_clock_wall_s());
	/* Step 7: the global rules and the workspace's own. After authentication on purpose:
	 * which workspace's rules apply depends on the key. */
	if (hw_perimeter_check_workspace(e.key.workspace_id, &req->client_addr) != HW_IP_ALLOWED) {
		*ret = hw_respond_ip_denied(req);
		return false;
	}
	return true;
}
