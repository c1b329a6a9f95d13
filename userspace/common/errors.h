/* SPDX-License-Identifier: Apache-2.0 */
/* The error contract (SPEC §2): every code with its HTTP status and type, and the envelope
 * builder every endpoint uses, so no error body is ever written by hand elsewhere. */
#ifndef HW_COMMON_ERRORS_H
#define HW_COMMON_ERRORS_H

#include <jansson.h>
#include <stdbool.h>

enum hw_err {
	HW_ERR_INVALID_REQUEST,
	HW_ERR_NO_PROVIDER_KEY,
	HW_ERR_BYOK_MISSING,
	HW_ERR_THREAT_BLOCKED,
	HW_ERR_UPSTREAM_REJECTED,
	HW_ERR_INVALID_API_KEY,
	HW_ERR_BUDGET_EXCEEDED,
	HW_ERR_QUOTA_EXCEEDED,
	HW_ERR_INSUFFICIENT_CREDITS,
	HW_ERR_GRACE_TIME,
	HW_ERR_GRACE_TOKENS,
	HW_ERR_GRACE_HARD_CUT,
	HW_ERR_IP_DENIED,
	HW_ERR_WORKSPACE_SUSPENDED,
	HW_ERR_KEY_SUSPENDED,
	HW_ERR_FORBIDDEN,
	HW_ERR_NOT_FOUND,
	HW_ERR_METHOD_NOT_ALLOWED,
	HW_ERR_CONFLICT,
	HW_ERR_CONTEXT_BLOAT,
	HW_ERR_PAYLOAD_TOO_LARGE,
	HW_ERR_RATE_LIMIT_EXCEEDED,
	HW_ERR_GUARDIAN_BLOCK,
	HW_ERR_UPSTREAM_RATE_LIMITED,
	HW_ERR_HEADER_TOO_LARGE,
	HW_ERR_INTERNAL,
	HW_ERR_UPSTREAM_UNAVAILABLE,
	HW_ERR_UPSTREAM_AUTH_FAILED,
	HW_ERR_STORE_UNAVAILABLE,
	HW_ERR_SHUTTING_DOWN,
	HW_ERR_UPSTREAM_TIMEOUT,
	HW_ERR_STREAM_INTERRUPTED,
	HW_ERR__COUNT
};

struct hw_err_info {
	const char *code;
	const char *type;
	int status;
};

const struct hw_err_info *hw_err_info(enum hw_err err);

/* {"error":{"type","code","message","request_id", ...extra}}; with `anthropic` also a
 * top-level "type":"error" (SPEC §2.1). `extra` is stolen and may be NULL. */
json_t *hw_err_body(enum hw_err err, const char *message, const char *request_id, json_t *extra,
		    bool anthropic);

/* The same, serialized compactly; caller frees. */
char *hw_err_body_text(enum hw_err err, const char *message, const char *request_id,
		       json_t *extra, bool anthropic);

#endif
