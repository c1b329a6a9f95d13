// SPDX-License-Identifier: Apache-2.0
#include "common/errors.h"

#include <stdlib.h>

static const struct hw_err_info table[HW_ERR__COUNT] = {
	[HW_ERR_INVALID_REQUEST] = {"invalid_request", "invalid_request_error", 400},
	[HW_ERR_NO_PROVIDER_KEY] = {"no_provider_key", "invalid_request_error", 400},
	[HW_ERR_BYOK_MISSING] = {"byok_missing", "invalid_request_error", 400},
	[HW_ERR_THREAT_BLOCKED] = {"threat_blocked", "security_error", 400},
	[HW_ERR_UPSTREAM_REJECTED] = {"upstream_rejected", "invalid_request_error", 400},
	[HW_ERR_INVALID_API_KEY] = {"invalid_api_key", "authentication_error", 401},
	[HW_ERR_BUDGET_EXCEEDED] = {"budget_exceeded", "payment_required", 402},
	[HW_ERR_QUOTA_EXCEEDED] = {"quota_exceeded", "payment_required", 402},
	[HW_ERR_INSUFFICIENT_CREDITS] = {"insufficient_credits", "payment_required", 402},
	[HW_ERR_GRACE_TIME] = {"grace_period_exceeded_time", "payment_required", 402},
	[HW_ERR_GRACE_TOKENS] = {"grace_period_exceeded_tokens", "payment_required", 402},
	[HW_ERR_GRACE_HARD_CUT] = {"grace_period_hard_cut", "payment_required", 402},
	[HW_ERR_IP_DENIED] = {"ip_denied", "permission_error", 403},
	[HW_ERR_WORKSPACE_SUSPENDED] = {"workspace_suspended", "permission_error", 403},
	[HW_ERR_KEY_SUSPENDED] = {"key_suspended", "permission_error", 403},
	[HW_ERR_FORBIDDEN] = {"forbidden", "permission_error", 403},
	[HW_ERR_NOT_FOUND] = {"not_found", "not_found_error", 404},
	[HW_ERR_METHOD_NOT_ALLOWED] = {"method_not_allowed", "invalid_request_error", 405},
	[HW_ERR_CONFLICT] = {"conflict", "invalid_request_error", 409},
	[HW_ERR_CONTEXT_BLOAT] = {"context_bloat", "request_too_large", 413},
	[HW_ERR_PAYLOAD_TOO_LARGE] = {"payload_too_large", "request_too_large", 413},
	[HW_ERR_RATE_LIMIT_EXCEEDED] = {"rate_limit_exceeded", "rate_limit_error", 429},
	[HW_ERR_GUARDIAN_BLOCK] = {"guardian_block", "rate_limit_error", 429},
	[HW_ERR_UPSTREAM_RATE_LIMITED] = {"upstream_rate_limited", "rate_limit_error", 429},
	[HW_ERR_HEADER_TOO_LARGE] = {"header_too_large", "invalid_request_error", 431},
	[HW_ERR_INTERNAL] = {"internal_error", "api_error", 500},
	[HW_ERR_UPSTREAM_UNAVAILABLE] = {"upstream_unavailable", "upstream_error", 502},
	[HW_ERR_UPSTREAM_AUTH_FAILED] = {"upstream_auth_failed", "upstream_error", 502},
	[HW_ERR_STORE_UNAVAILABLE] = {"store_unavailable", "api_error", 503},
	[HW_ERR_SHUTTING_DOWN] = {"shutting_down", "api_error", 503},
	[HW_ERR_UPSTREAM_TIMEOUT] = {"upstream_timeout", "upstream_error", 504},
	[HW_ERR_STREAM_INTERRUPTED] = {"stream_interrupted", "upstream_error", 200},
};

const struct hw_err_info *hw_err_info(enum hw_err err)
{
	if ((unsigned)err >= HW_ERR__COUNT)
		err = HW_ERR_INTERNAL;
	return &table[err];
}

json_t *hw_err_body(enum hw_err err, const char *message, const char *request_id, json_t *extra,
		    bool anthropic)
{
	const struct hw_err_info *info = hw_err_info(err);
	json_t *inner = json_object();
	json_object_set_new(inner, "type", json_string(info->type));
	json_object_set_new(inner, "code", json_string(info->code));
	json_object_set_new(inner, "message", json_string(message ? message : info->code));
	json_object_set_new(inner, "request_id", request_id ? json_string(request_id) : json_null());
	if (extra) {
		json_object_update(inner, extra);
		json_decref(extra);
	}
	json_t *body = json_object();
	if (anthropic)
		json_object_set_new(body, "type", json_string("error"));
	json_object_set_new(body, "error", inner);
	return body;
}

char *hw_err_body_text(enum hw_err err, const char *message, const char *request_id,
		       json_t *extra, bool anthropic)
{
	json_t *body = hw_err_body(err, message, request_id, extra, anthropic);
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	return text;
}
