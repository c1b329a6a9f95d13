// SPDX-License-Identifier: Apache-2.0
/* The Gemini translation and the google provider (SPEC §8.4): requests, responses and stream
 * event sequences against golden files in tests/golden/gemini/, compared whole; generated
 * ids and `created` are checked for shape and consistency, then left out of the comparison. */
#include "upstream/provider_google.h"
#include "upstream/translate_gemini.h"

#include "common/clock.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#define GOLDEN "tests/golden/gemini/"

static json_t *load_golden(const char *dir, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), GOLDEN "%s/%s.json", dir, name);
	json_error_t err;
	json_t *j = json_load_file(path, 0, &err);
	if (!j)
		print_error("%s: %s (line %d)\n", path, err.text, err.line);
	assert_non_null(j);
	return j;
}

static void assert_json_equal(const json_t *actual, const json_t *expected, const char *what)
{
	if (json_equal((json_t *)actual, (json_t *)expected))
		return;
	char *a = json_dumps(actual, JSON_COMPACT | JSON_SORT_KEYS);
	char *e = json_dumps(expected, JSON_COMPACT | JSON_SORT_KEYS);
	print_error("%s differs\n  actual:   %s\n  expected: %s\n", what, a ? a : "(null)",
		    e ? e : "(null)");
	free(a);
	free(e);
	fail();
}

/* `chatcmpl-` + a 26-character Crockford base32 ULID. */
static void assert_completion_id(const char *id)
{
	assert_non_null(id);
	assert_int_equal(strlen(id), 9 + 26);
	assert_memory_equal(id, "chatcmpl-", 9);
	for (const char *c = id + 9; *c; c++)
		assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", *c));
}

/* Checks the generated fields of a completion or chunk and returns a copy without them. */
static json_t *without_generated(const json_t *obj, const char **id, json_int_t *created)
{
	*id = json_string_value(json_object_get(obj, "id"));
	assert_completion_id(*id);
	json_t *c = json_object_get(obj, "created");
	assert_true(json_is_integer(c));
	*created = json_integer_value(c);
	json_int_t now = (json_int_t)hw_clock_wall_s();
	assert_true(*created <= now && *created >= now - 5);
	json_t *copy = json_deep_copy(obj);
	json_object_del(copy, "id");
	json_object_del(copy, "created");
	return copy;
}

/* ---- Requests --------------------------------------------------------------------- */

static void test_request_golden(void **state)
{
	const char *name = *state;
	json_t *g = load_golden("request", name);
	json_t *oa = json_object_get(g, "openai");
	json_t *before = json_deep_copy(oa);
	char msg[256] = "";
	json_t *body = hw_gemini_request_from_openai(
		oa, json_integer_value(json_object_get(g, "max_tokens")), msg, sizeof(msg));
	if (!body)
		print_error("%s: rejected: %s\n", name, msg);
	assert_non_null(body);
	assert_json_equal(body, json_object_get(g, "gemini"), name);
	/* The internal request is shared with routing and the Shield: it must stay as it was. */
	assert_json_equal(oa, before, "the OpenAI request after translation");
	json_decref(before);
	json_decref(body);
	json_decref(g);
}

static void test_request_errors(void **state)
{
	json_t *cases = load_golden("request", "errors");
	assert_true(json_array_size(cases) >= 6);
	size_t i;
	json_t *c;
	json_array_foreach(cases, i, c) {
		char msg[256] = "";
		json_t *body = hw_gemini_request_from_openai(json_object_get(c, "openai"), 100, msg,
							     sizeof(msg));
		const char *want = json_string_value(json_object_get(c, "error"));
		if (body || !strstr(msg, want))
			print_error("case %zu: got '%s', want a rejection containing '%s'\n", i, msg,
				    want);
		assert_null(body);
		assert_non_null(strstr(msg, want));
	}
	json_decref(cases);
}

/* ---- Responses -------------------------------------------------------------------- */

static void test_response_golden(void **state)
{
	const char *name = *state;
	json_t *g = load_golden("response", name);
	const json_t *want = json_object_get(g, "openai");
	json_t *got = hw_gemini_response_to_openai(json_object_get(g, "gemini"),
						   json_string_value(json_object_get(want, "model")));
	assert_non_null(got);
	const char *id;
	json_int_t created;
	json_t *rest = without_generated(got, &id, &created);
	assert_json_equal(rest, want, name);
	json_decref(rest);
	json_decref(got);
	json_decref(g);
}

static void test_response_finish_reasons(void **state)
{
	static const struct {
		const char *gemini;
		bool call;
		const char *openai;
	} cases[] = {
		{"STOP", false, "stop"},
		{"STOP", true, "tool_calls"},
		{"MAX_TOKENS", false, "length"},
		{"MAX_TOKENS", true, "length"},
		{"SAFETY", false, "content_filter"},
		{"RECITATION", false, "content_filter"},
		{"BLOCKLIST", false, "content_filter"},
		{"PROHIBITED_CONTENT", false, "content_filter"},
		{"SPII", false, "content_filter"},
		{"SPII", true, "content_filter"},
		{"OTHER", false, "stop"},
		{"MALFORMED_FUNCTION_CALL", false, "stop"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *part = cases[i].call ? json_pack("{s:{s:s}}", "functionCall", "name", "f")
					     : json_pack("{s:s}", "text", "t");
		json_t *resp = json_pack("{s:[{s:{s:[o]},s:s}]}", "candidates", "content", "parts",
					 part, "finishReason", cases[i].gemini);
		json_t *got = hw_gemini_response_to_openai(resp, "m");
		assert_non_null(got);
		const char *fr = json_string_value(
			json_object_get(json_array_get(json_object_get(got, "choices"), 0), "finish_reason"));
		if (!fr || strcmp(fr, cases[i].openai) != 0)
			print_error("%s (call %d): got %s, want %s\n", cases[i].gemini, cases[i].call,
				    fr ? fr : "(none)", cases[i].openai);
		assert_string_equal(fr, cases[i].openai);
		json_decref(got);
		json_decref(resp);
	}
}

static void test_response_not_a_response(void **state)
{
	const char *bodies[] = {
		"{\"error\":{\"code\":400,\"message\":\"bad\",\"status\":\"INVALID_ARGUMENT\"}}",
		"{}",
		"[]",
		"\"text\"",
		"{\"candidates\":{}}",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		json_t *j = json_loads(bodies[i], JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		assert_null(hw_gemini_response_to_openai(j, "m"));
		json_decref(j);
	}
}

static void test_response_ids_differ(void **state)
{
	json_t *resp = json_pack("{s:[{s:{s:[{s:s}]},s:s}]}", "candidates", "content", "parts", "text",
				 "x", "finishReason", "STOP");
	json_t *a = hw_gemini_response_to_openai(resp, "m");
	json_t *b = hw_gemini_response_to_openai(resp, "m");
	const char *ia = json_string_value(json_object_get(a, "id"));
	const char *ib = json_string_value(json_object_get(b, "id"));
	assert_completion_id(ia);
	assert_completion_id(ib);
	assert_string_not_equal(ia, ib);
	json_decref(a);
	json_decref(b);
	json_decref(resp);
}

/* ---- Streams ---------------------------------------------------------------------- */

static void test_stream_golden(void **state)
{
	const char *name = *state;
	json_t *g = load_golden("stream", name);
	const char *model = json_string_value(json_object_get(g, "model"));
	struct hw_gemini_stream s;
	assert_int_equal(hw_gemini_stream_init(&s, model), 0);
	json_t *out = json_array();
	size_t i;
	json_t *ev;
	json_array_foreach(json_object_get(g, "events"), i, ev) {
		json_t *raw = json_object_get(ev, "raw");
		char *data = raw ? strdup(json_string_value(raw))
				 : json_dumps(json_object_get(ev, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
		assert_non_null(data);
		const char *reason = NULL;
		int rc = hw_gemini_stream_event(&s, data, strlen(data), out, &reason);
		free(data);
		int want = (int)json_integer_value(json_object_get(ev, "rc"));
		if (rc != want)
			print_error("%s: event %zu returned %d, want %d\n", name, i, rc, want);
		assert_int_equal(rc, want);
		if (want < 0) {
			assert_non_null(reason);
			assert_string_equal(reason, json_string_value(json_object_get(ev, "reason")));
		}
	}
	const json_t *chunks = json_object_get(g, "chunks");
	if (json_array_size(out) != json_array_size(chunks))
		assert_json_equal(out, chunks, name);
	/* One id and `created` for the whole stream (SPEC §6.2). */
	const json_t *first = json_array_get(out, 0);
	const char *first_id = json_string_value(json_object_get(first, "id"));
	json_int_t first_created = json_integer_value(json_object_get(first, "created"));
	json_t *c;
	json_array_foreach(out, i, c) {
		const char *id;
		json_int_t created;
		json_t *rest = without_generated(c, &id, &created);
		assert_string_equal(id, first_id);
		assert_int_equal(created, first_created);
		char what[128];
		snprintf(what, sizeof(what), "%s: chunk %zu", name, i);
		assert_json_equal(rest, json_array_get(chunks, i), what);
		json_decref(rest);
	}
	json_decref(out);
	hw_gemini_stream_free(&s);
	json_decref(g);
}

static void test_stream_ids_differ(void **state)
{
	struct hw_gemini_stream a, b;
	assert_int_equal(hw_gemini_stream_init(&a, "m"), 0);
	assert_int_equal(hw_gemini_stream_init(&b, "m"), 0);
	assert_completion_id(a.id);
	assert_string_not_equal(a.id, b.id);
	hw_gemini_stream_free(&a);
	hw_gemini_stream_free(&b);
}

/* ---- The google provider ---------------------------------------------------------- */

static const struct hw_cfg_timeouts timeouts = {1, 2, 3, 4, 5};

static void provider(struct hw_cfg_provider *p, struct hw_model *m, const char *upstream)
{
	memset(p, 0, sizeof(*p));
	memset(m, 0, sizeof(*m));
	p->id = "google";
	p->kind = HW_PROVIDER_GOOGLE;
	p->base_url = "https://generativelanguage.googleapis.com";
	p->timeouts = timeouts;
	snprintf(m->id, sizeof(m->id), "google/%s", upstream);
	snprintf(m->upstream_model, sizeof(m->upstream_model), "%s", upstream);
	m->provider = p;
}

static bool has_header(const struct curl_slist *h, const char *line)
{
	for (; h; h = h->next)
		if (strcmp(h->data, line) == 0)
			return true;
	return false;
}

static void test_google_build(void **state)
{
	struct hw_cfg_provider p;
	struct hw_model m;
	provider(&p, &m, "gemini-2.5-flash");
	json_t *req = json_pack("{s:s,s:[{s:s,s:s}]}", "model", "auto", "messages", "role", "user",
				"content", "hi");
	for (int stream = 0; stream <= 1; stream++) {
		struct hw_upstream_call call = {0};
		char msg[256] = "";
		assert_int_equal(hw_google_build(&p, "KEY123", &m, req, 77, stream, &call, msg,
						 sizeof(msg)),
				 0);
		assert_string_equal(call.url,
				    stream ? "https://generativelanguage.googleapis.com/v1beta/models/"
					     "gemini-2.5-flash:streamGenerateContent?alt=sse"
					   : "https://generativelanguage.googleapis.com/v1beta/models/"
					     "gemini-2.5-flash:generateContent");
		assert_true(has_header(call.headers, "x-goog-api-key: KEY123"));
		assert_true(has_header(call.headers, "Content-Type: application/json"));
		assert_true(has_header(call.headers, stream ? "Accept: text/event-stream"
							    : "Accept: application/json"));
		assert_false(has_header(call.headers, "Authorization: Bearer KEY123"));
		assert_int_equal(call.stream, stream);
		assert_memory_equal(&call.timeouts, &timeouts, sizeof(timeouts));
		assert_int_equal(call.body_len, strlen(call.body));
		json_t *body = json_loadb(call.body, call.body_len, 0, NULL);
		json_t *want = json_pack("{s:[{s:s,s:[{s:s}]}],s:{s:i,s:i}}", "contents", "role", "user",
					 "parts", "text", "hi", "generationConfig", "maxOutputTokens",
					 77, "candidateCount", 1);
		assert_json_equal(body, want, "the upstream body");
		json_decref(want);
		json_decref(body);
		hw_upstream_call_release(&call);
	}
	json_decref(req);
}

static void test_google_build_models_prefix(void **state)
{
	struct hw_cfg_provider p;
	struct hw_model m;
	provider(&p, &m, "models/gemini-2.0-flash-001");
	json_t *req = json_pack("{s:[{s:s,s:s}]}", "messages", "role", "user", "content", "hi");
	struct hw_upstream_call call = {0};
	char msg[256];
	assert_int_equal(hw_google_build(&p, "k", &m, req, 1, false, &call, msg, sizeof(msg)), 0);
	assert_string_equal(call.url, "https://generativelanguage.googleapis.com/v1beta/models/"
				      "gemini-2.0-flash-001:generateContent");
	hw_upstream_call_release(&call);
	json_decref(req);
}

/* A refused build leaves the call as it was: nothing to release, nothing half-filled. */
static void test_google_build_refusals(void **state)
{
	struct hw_cfg_provider p;
	struct hw_model m;
	json_t *ok = json_pack("{s:[{s:s,s:s}]}", "messages", "role", "user", "content", "hi");
	json_t *bad = json_pack("{s:[{s:s,s:s,s:s}]}", "messages", "role", "tool", "tool_call_id",
				"x", "content", "r");
	const struct {
		const char *model, *key;
		json_t *req;
		const char *msg;
	} cases[] = {
		{"gemini/../../x", "k", ok, "not a valid Gemini model name"},
		{"gemini?x=1", "k", ok, "not a valid Gemini model name"},
		{"models/", "k", ok, "not a valid Gemini model name"},
		{"gemini-2.5-flash", NULL, ok, "has no API key"},
		{"gemini-2.5-flash", "", ok, "has no API key"},
		{"gemini-2.5-flash", "k", bad, "answers no earlier assistant tool call"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		provider(&p, &m, cases[i].model);
		struct hw_upstream_call call = {0}, zero = {0};
		char msg[256] = "";
		assert_int_equal(hw_google_build(&p, cases[i].key, &m, cases[i].req, 10, true, &call,
						 msg, sizeof(msg)),
				 -EINVAL);
		if (!strstr(msg, cases[i].msg))
			print_error("case %zu: '%s'\n", i, msg);
		assert_non_null(strstr(msg, cases[i].msg));
		assert_memory_equal(&call, &zero, sizeof(call));
	}
	json_decref(ok);
	json_decref(bad);
}

#define GOLDEN_TEST(fn, name) cmocka_unit_test_prestate(fn, (void *)name)

int main(void)
{
	const struct CMUnitTest tests[] = {
		GOLDEN_TEST(test_request_golden, "system_multiturn"),
		GOLDEN_TEST(test_request_golden, "merge_same_role"),
		GOLDEN_TEST(test_request_golden, "system_only"),
		GOLDEN_TEST(test_request_golden, "tools_calls_results"),
		GOLDEN_TEST(test_request_golden, "images"),
		GOLDEN_TEST(test_request_golden, "tool_choice_none"),
		GOLDEN_TEST(test_request_golden, "tool_choice_required"),
		GOLDEN_TEST(test_request_golden, "tool_choice_named"),
		GOLDEN_TEST(test_request_golden, "tool_choice_without_tools"),
		GOLDEN_TEST(test_request_golden, "json_object"),
		GOLDEN_TEST(test_request_golden, "json_schema"),
		GOLDEN_TEST(test_request_golden, "json_text_format"),
		cmocka_unit_test(test_request_errors),
		GOLDEN_TEST(test_response_golden, "text"),
		GOLDEN_TEST(test_response_golden, "function_calls"),
		GOLDEN_TEST(test_response_golden, "only_call"),
		GOLDEN_TEST(test_response_golden, "thoughts"),
		GOLDEN_TEST(test_response_golden, "max_tokens_call"),
		GOLDEN_TEST(test_response_golden, "safety_empty"),
		GOLDEN_TEST(test_response_golden, "prompt_blocked"),
		GOLDEN_TEST(test_response_golden, "no_usage"),
		cmocka_unit_test(test_response_finish_reasons),
		cmocka_unit_test(test_response_not_a_response),
		cmocka_unit_test(test_response_ids_differ),
		GOLDEN_TEST(test_stream_golden, "text"),
		GOLDEN_TEST(test_stream_golden, "text_then_calls"),
		GOLDEN_TEST(test_stream_golden, "call_first"),
		GOLDEN_TEST(test_stream_golden, "thoughts_max_tokens"),
		GOLDEN_TEST(test_stream_golden, "safety_finish"),
		GOLDEN_TEST(test_stream_golden, "prompt_blocked"),
		GOLDEN_TEST(test_stream_golden, "error_midway"),
		GOLDEN_TEST(test_stream_golden, "malformed_json"),
		GOLDEN_TEST(test_stream_golden, "malformed_shape"),
		GOLDEN_TEST(test_stream_golden, "malformed_array"),
		GOLDEN_TEST(test_stream_golden, "after_finish"),
		cmocka_unit_test(test_stream_ids_differ),
		cmocka_unit_test(test_google_build),
		cmocka_unit_test(test_google_build_models_prefix),
		cmocka_unit_test(test_google_build_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
