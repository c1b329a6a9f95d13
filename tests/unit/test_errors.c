// SPDX-License-Identifier: Apache-2.0
/* The error contract (SPEC §2): the whole §2.2 table and the envelope shape. */
#include "common/errors.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

struct row {
	enum hw_err err;
	int status;
	const char *code, *type;
};

/* SPEC §2.2, row by row. */
static const struct row table[] = {
	{HW_ERR_INVALID_REQUEST, 400, "invalid_request", "invalid_request_error"},
	{HW_ERR_NO_PROVIDER_KEY, 400, "no_provider_key", "invalid_request_error"},
	{HW_ERR_BYOK_MISSING, 400, "byok_missing", "invalid_request_error"},
	{HW_ERR_THREAT_BLOCKED, 400, "threat_blocked", "security_error"},
	{HW_ERR_UPSTREAM_REJECTED, 400, "upstream_rejected", "invalid_request_error"},
	{HW_ERR_INVALID_API_KEY, 401, "invalid_api_key", "authentication_error"},
	{HW_ERR_BUDGET_EXCEEDED, 402, "budget_exceeded", "payment_required"},
	{HW_ERR_QUOTA_EXCEEDED, 402, "quota_exceeded", "payment_required"},
	{HW_ERR_INSUFFICIENT_CREDITS, 402, "insufficient_credits", "payment_required"},
	{HW_ERR_GRACE_TIME, 402, "grace_period_exceeded_time", "payment_required"},
	{HW_ERR_GRACE_TOKENS, 402, "grace_period_exceeded_tokens", "payment_required"},
	{HW_ERR_GRACE_HARD_CUT, 402, "grace_period_hard_cut", "payment_required"},
	{HW_ERR_IP_DENIED, 403, "ip_denied", "permission_error"},
	{HW_ERR_WORKSPACE_SUSPENDED, 403, "workspace_suspended", "permission_error"},
	{HW_ERR_KEY_SUSPENDED, 403, "key_suspended", "permission_error"},
	{HW_ERR_FORBIDDEN, 403, "forbidden", "permission_error"},
	{HW_ERR_NOT_FOUND, 404, "not_found", "not_found_error"},
	{HW_ERR_METHOD_NOT_ALLOWED, 405, "method_not_allowed", "invalid_request_error"},
	{HW_ERR_CONFLICT, 409, "conflict", "invalid_request_error"},
	{HW_ERR_CONTEXT_BLOAT, 413, "context_bloat", "request_too_large"},
	{HW_ERR_PAYLOAD_TOO_LARGE, 413, "payload_too_large", "request_too_large"},
	{HW_ERR_RATE_LIMIT_EXCEEDED, 429, "rate_limit_exceeded", "rate_limit_error"},
	{HW_ERR_GUARDIAN_BLOCK, 429, "guardian_block", "rate_limit_error"},
	{HW_ERR_UPSTREAM_RATE_LIMITED, 429, "upstream_rate_limited", "rate_limit_error"},
	{HW_ERR_HEADER_TOO_LARGE, 431, "header_too_large", "invalid_request_error"},
	{HW_ERR_INTERNAL, 500, "internal_error", "api_error"},
	{HW_ERR_UPSTREAM_UNAVAILABLE, 502, "upstream_unavailable", "upstream_error"},
	{HW_ERR_UPSTREAM_AUTH_FAILED, 502, "upstream_auth_failed", "upstream_error"},
	{HW_ERR_STORE_UNAVAILABLE, 503, "store_unavailable", "api_error"},
	{HW_ERR_SHUTTING_DOWN, 503, "shutting_down", "api_error"},
	{HW_ERR_UPSTREAM_TIMEOUT, 504, "upstream_timeout", "upstream_error"},
	{HW_ERR_STREAM_INTERRUPTED, 200, "stream_interrupted", "upstream_error"},
};

#define NROWS (sizeof(table) / sizeof(table[0]))

static void test_table(void **state)
{
	/* The table above covers every enum value exactly once. */
	assert_int_equal(NROWS, HW_ERR__COUNT);
	bool seen[HW_ERR__COUNT] = {false};
	for (size_t i = 0; i < NROWS; i++) {
		const struct row *r = &table[i];
		assert_false(seen[r->err]);
		seen[r->err] = true;
		const struct hw_err_info *info = hw_err_info(r->err);
		assert_non_null(info);
		assert_string_equal(info->code, r->code);
		assert_string_equal(info->type, r->type);
		assert_int_equal(info->status, r->status);
	}
	/* Codes are unique. */
	for (size_t i = 0; i < NROWS; i++)
		for (size_t j = i + 1; j < NROWS; j++)
			assert_string_not_equal(hw_err_info(table[i].err)->code,
						hw_err_info(table[j].err)->code);
}

static void test_out_of_range(void **state)
{
	const struct hw_err_info *info = hw_err_info(HW_ERR__COUNT);
	assert_non_null(info);
	assert_string_equal(info->code, "internal_error");
	assert_int_equal(info->status, 500);
	info = hw_err_info((enum hw_err)-1);
	assert_non_null(info);
	assert_string_equal(info->code, "internal_error");
}

static void test_envelope_every_code(void **state)
{
	for (size_t i = 0; i < NROWS; i++) {
		for (int anthropic = 0; anthropic <= 1; anthropic++) {
			json_t *b = hw_err_body(table[i].err, "Something.", "req_X", NULL, anthropic);
			assert_non_null(b);
			assert_true(json_is_object(b));
			assert_int_equal(json_object_size(b), anthropic ? 2 : 1);
			json_t *e = json_object_get(b, "error");
			assert_true(json_is_object(e));
			assert_int_equal(json_object_size(e), 4);
			assert_string_equal(json_string_value(json_object_get(e, "type")), table[i].type);
			assert_string_equal(json_string_value(json_object_get(e, "code")), table[i].code);
			assert_string_equal(json_string_value(json_object_get(e, "message")), "Something.");
			assert_string_equal(json_string_value(json_object_get(e, "request_id")), "req_X");
			if (anthropic)
				assert_string_equal(json_string_value(json_object_get(b, "type")), "error");
			else
				assert_null(json_object_get(b, "type"));
			json_decref(b);
		}
	}
}

static void test_envelope_extra(void **state)
{
	json_t *extra = json_pack("{s:i,s:i,s:s}", "included_requests", 500000, "used_requests",
				  500000, "upgrade_url", "https://www.hiway2llm.com/upgrade");
	json_t *b = hw_err_body(HW_ERR_QUOTA_EXCEEDED,
				"Monthly request quota reached (500,000 / 500,000).",
				"req_01JAX3Q5ZP7K8M9N0R1S2T3V4W", extra, false);
	json_t *e = json_object_get(b, "error");
	assert_int_equal(json_object_size(e), 7);
	assert_string_equal(json_string_value(json_object_get(e, "type")), "payment_required");
	assert_string_equal(json_string_value(json_object_get(e, "code")), "quota_exceeded");
	assert_string_equal(json_string_value(json_object_get(e, "request_id")),
			    "req_01JAX3Q5ZP7K8M9N0R1S2T3V4W");
	assert_int_equal(json_integer_value(json_object_get(e, "included_requests")), 500000);
	assert_int_equal(json_integer_value(json_object_get(e, "used_requests")), 500000);
	assert_string_equal(json_string_value(json_object_get(e, "upgrade_url")),
			    "https://www.hiway2llm.com/upgrade");
	/* Extra fields sit beside the four, not at the top level. */
	assert_int_equal(json_object_size(b), 1);
	json_decref(b);

	/* A null extra value stays a JSON null (param null for a body-level 400). */
	b = hw_err_body(HW_ERR_INVALID_REQUEST, "Request body must be a JSON object.", "req_1",
			json_pack("{s:n}", "param"), true);
	e = json_object_get(b, "error");
	assert_true(json_is_null(json_object_get(e, "param")));
	assert_string_equal(json_string_value(json_object_get(b, "type")), "error");
	assert_string_equal(json_string_value(json_object_get(e, "type")), "invalid_request_error");
	json_decref(b);
}

static void test_missing_message_and_request_id(void **state)
{
	json_t *b = hw_err_body(HW_ERR_NOT_FOUND, NULL, NULL, NULL, false);
	json_t *e = json_object_get(b, "error");
	/* Both keys are present even when the caller had nothing to put there. */
	assert_int_equal(json_object_size(e), 4);
	assert_true(json_is_string(json_object_get(e, "message")));
	assert_true(strlen(json_string_value(json_object_get(e, "message"))) > 0);
	assert_non_null(json_object_get(e, "request_id"));
	json_decref(b);
}

static void test_body_text(void **state)
{
	char *t = hw_err_body_text(HW_ERR_INVALID_API_KEY, "Missing API key.", "req_A", NULL, false);
	assert_non_null(t);
	assert_string_equal(t, "{\"error\":{\"type\":\"authentication_error\",\"code\":\"invalid_api_key\","
			       "\"message\":\"Missing API key.\",\"request_id\":\"req_A\"}}");
	free(t);

	t = hw_err_body_text(HW_ERR_INVALID_API_KEY, "Invalid API key.", "req_B", NULL, true);
	assert_non_null(t);
	assert_string_equal(t, "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
			       "\"code\":\"invalid_api_key\",\"message\":\"Invalid API key.\","
			       "\"request_id\":\"req_B\"}}");
	free(t);

	t = hw_err_body_text(HW_ERR_STREAM_INTERRUPTED, "Upstream stream interrupted.", "req_C",
			     json_pack("{s:s}", "reason", "idle_timeout"), false);
	assert_non_null(t);
	assert_string_equal(t, "{\"error\":{\"type\":\"upstream_error\",\"code\":\"stream_interrupted\","
			       "\"message\":\"Upstream stream interrupted.\",\"request_id\":\"req_C\","
			       "\"reason\":\"idle_timeout\"}}");
	/* Compact: no newline, no space after separators. */
	assert_null(strchr(t, '\n'));
	assert_null(strstr(t, ": "));
	assert_null(strstr(t, ", "));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_envelope_every_code),
		cmocka_unit_test(test_envelope_extra),
		cmocka_unit_test(test_missing_message_and_request_id),
		cmocka_unit_test(test_body_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
