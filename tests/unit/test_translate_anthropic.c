// SPDX-License-Identifier: Apache-2.0
/* The anthropic provider (SPEC §8.2, §8.7): request, response and stream translations
 * compared with the golden files in tests/golden/anthropic/ (run from the repo root), and the
 * HTTP call hw_anthropic_build prepares. Generated ids and `created` are not compared by
 * value: they are checked for shape and for being the same on every chunk of a stream. */
#include "gateway/chat_request.h"
#include "upstream/provider_anthropic.h"
#include "upstream/translate_anthropic.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#define GOLDEN_DIR "tests/golden/anthropic/"
#define MODEL_ID "anthropic/claude-test"

/* The `cases` array of a golden file; *root keeps the document alive. */
static json_t *load_cases(const char *file, json_t **root)
{
	char path[256];
	json_error_t err;
	snprintf(path, sizeof(path), GOLDEN_DIR "%s", file);
	*root = json_load_file(path, 0, &err);
	if (!*root)
		fail_msg("%s:%d: %s", path, err.line, err.text);
	json_t *cases = json_object_get(*root, "cases");
	assert_true(json_array_size(cases) > 0);
	return cases;
}

static void assert_json_eq(const json_t *want, const json_t *got, const char *what)
{
	if (json_equal(want, got))
		return;
	char *w = json_dumps(want, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	char *g = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	print_error("%s\n--- want\n%s\n--- got\n%s\n", what, w ? w : "(null)", g ? g : "(null)");
	free(w);
	free(g);
	fail_msg("%s: mismatch", what);
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : dflt;
}

static json_int_t int_or(const json_t *o, const char *key, json_int_t dflt)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static bool bool_or(const json_t *o, const char *key, bool dflt)
{
	const json_t *v = json_object_get(o, key);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* chatcmpl- + 26 Crockford base32 characters. */
static void assert_completion_id(const char *id)
{
	assert_non_null(id);
	assert_int_equal(strlen(id), strlen("chatcmpl-") + 26);
	assert_memory_equal(id, "chatcmpl-", 9);
	for (const char *p = id + 9; *p; p++)
		assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", *p));
}

static void assert_created_now(json_int_t created)
{
	json_int_t now = (json_int_t)time(NULL);
	assert_true(created >= now - 5 && created <= now + 5);
}

/* The golden inputs are requests the chat-completions parser lets through, so they are the
 * internal form the provider really receives. */
static void assert_gateway_accepts(const json_t *openai, const char *name)
{
	char *text = json_dumps(openai, JSON_COMPACT);
	assert_non_null(text);
	struct hw_chat_req r;
	char param[128], msg[256];
	int rc = hw_chat_parse(text, strlen(text), &r, param, sizeof(param), msg, sizeof(msg));
	free(text);
	if (rc != 0)
		fail_msg("%s: the gateway rejects the input (%s: %s)", name, param, msg);
	hw_chat_req_free(&r);
}

/* ---- requests --------------------------------------------------------------------------- */

static void test_request_file(void **state)
{
	json_t *root;
	json_t *cases = load_cases((const char *)*state, &root);
	size_t i;
	json_t *c;
	json_array_foreach(cases, i, c)
	{
		const char *name = str_or(c, "name", "?");
		const json_t *p = json_object_get(c, "params");
		char msg[256] = "";
		json_t *got = hw_anthropic_request_from_openai(
		    json_object_get(c, "openai"), str_or(p, "upstream_model", "claude-test"),
		    int_or(p, "max_tokens", 100), str_or(p, "end_user", NULL),
		    bool_or(p, "stream", false), bool_or(p, "prompt_cache", false),
		    int_or(p, "min_cache_tokens", 1024), msg, sizeof(msg));
		const char *error = str_or(c, "error", NULL);
		if (error) {
			if (got)
				assert_json_eq(json_null(), got, name);
			if (strcmp(msg, error) != 0)
				fail_msg("%s: message \"%s\", want \"%s\"", name, msg, error);
			continue;
		}
		if (!got)
			fail_msg("%s: rejected: %s", name, msg);
		assert_json_eq(json_object_get(c, "anthropic"), got, name);
		assert_gateway_accepts(json_object_get(c, "openai"), name);
		json_decref(got);
	}
	json_decref(root);
}

static void test_inject_cache(void **state)
{
	json_t *root;
	json_t *cases = load_cases("inject_cache.json", &root);
	size_t i;
	json_t *c;
	json_array_foreach(cases, i, c)
	{
		json_t *body = json_deep_copy(json_object_get(c, "body"));
		hw_anthropic_inject_cache(body, int_or(c, "min_cache_tokens", 0));
		assert_json_eq(json_object_get(c, "expect"), body, str_or(c, "name", "?"));
		json_decref(body);
	}
	json_decref(root);
}

/* ---- responses -------------------------------------------------------------------------- */

static void test_responses(void **state)
{
	json_t *root;
	json_t *cases = load_cases("responses.json", &root);
	size_t i;
	json_t *c;
	json_array_foreach(cases, i, c)
	{
		const char *name = str_or(c, "name", "?");
		json_t *got =
		    hw_anthropic_response_to_openai(json_object_get(c, "anthropic"), MODEL_ID);
		const json_t *want = json_object_get(c, "openai");
		if (json_is_null(want)) {
			assert_null(got);
			continue;
		}
		if (!got)
			fail_msg("%s: no completion", name);
		assert_completion_id(str_or(got, "id", NULL));
		assert_created_now(int_or(got, "created", 0));
		json_object_del(got, "id");
		json_object_del(got, "created");
		assert_json_eq(want, got, name);
		json_decref(got);
	}
	json_decref(root);
}

static void test_stop_reasons(void **state)
{
	static const char *const map[][2] = {
	    {"end_turn", "stop"},
	    {"stop_sequence", "stop"},
	    {"pause_turn", "stop"},
	    {"max_tokens", "length"},
	    {"tool_use", "tool_calls"},
	    {"refusal", "content_filter"},
	    {"model_context_window_exceeded", "length"},
	    {"something_new", "stop"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		json_t *m = json_pack("{s:s,s:[{s:s,s:s}],s:s,s:{s:i,s:i}}", "type", "message",
				      "content", "type", "text", "text", "x", "stop_reason",
				      map[i][0], "usage", "input_tokens", 1, "output_tokens", 1);
		json_t *got = hw_anthropic_response_to_openai(m, MODEL_ID);
		const char *finish = str_or(json_array_get(json_object_get(got, "choices"), 0),
					    "finish_reason", NULL);
		if (!finish || strcmp(finish, map[i][1]) != 0)
			fail_msg("%s -> %s, want %s", map[i][0], finish ? finish : "(none)",
				 map[i][1]);
		json_decref(got);
		json_decref(m);
	}
	json_t *m = json_pack("{s:s,s:[],s:n}", "type", "message", "content", "stop_reason");
	json_t *got = hw_anthropic_response_to_openai(m, MODEL_ID);
	assert_string_equal(
	    str_or(json_array_get(json_object_get(got, "choices"), 0), "finish_reason", ""),
	    "stop");
	json_decref(got);
	json_decref(m);
}

/* ---- streams ---------------------------------------------------------------------------- */

/* Feeds one golden event: `data` serialized, or `raw` bytes as they are. */
static int feed(struct hw_anthropic_stream *s, const json_t *ev, json_t *out)
{
	const char *raw = str_or(ev, "raw", NULL);
	char *data = raw ? NULL : json_dumps(json_object_get(ev, "data"), JSON_COMPACT);
	const char *bytes = raw ? raw : data;
	assert_non_null(bytes);
	int rc = hw_anthropic_stream_event(s, str_or(ev, "event", NULL), bytes, strlen(bytes), out);
	free(data);
	return rc;
}

static void test_streams(void **state)
{
	json_t *root;
	json_t *cases = load_cases("streams.json", &root);
	size_t i;
	json_t *c;
	json_array_foreach(cases, i, c)
	{
		const char *name = str_or(c, "name", "?");
		const char *result = str_or(c, "result", "done");
		const json_t *events = json_object_get(c, "events");
		struct hw_anthropic_stream s;
		hw_anthropic_stream_init(&s, MODEL_ID);
		json_t *out = json_array();
		size_t n = json_array_size(events);
		for (size_t e = 0; e < n; e++) {
			int rc = feed(&s, json_array_get(events, e), out);
			int want = e + 1 < n			 ? HW_ASTREAM_MORE
				   : strcmp(result, "done") == 0 ? HW_ASTREAM_DONE
								 : HW_ASTREAM_ERROR;
			if (rc != want)
				fail_msg("%s: event %zu returned %d, want %d (reason %s)", name, e,
					 rc, want, s.reason ? s.reason : "-");
		}
		if (strcmp(result, "done") != 0)
			assert_string_equal(s.reason, result);
		assert_completion_id(s.id);
		assert_created_now(s.created);
		size_t k;
		json_t *chunk;
		json_array_foreach(out, k, chunk)
		{
			/* One id and one created for the whole stream (SPEC §6.2). */
			assert_string_equal(str_or(chunk, "id", ""), s.id);
			assert_int_equal(int_or(chunk, "created", 0), s.created);
			json_object_del(chunk, "id");
			json_object_del(chunk, "created");
		}
		assert_json_eq(json_object_get(c, "chunks"), out, name);
		json_decref(out);
		hw_anthropic_stream_free(&s);
	}
	json_decref(root);
}

static int feed_str(struct hw_anthropic_stream *s, const char *event, const char *data, json_t *out)
{
	return hw_anthropic_stream_event(s, event, data, strlen(data), out);
}

#define START                                                                                      \
	"{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\","              \
	"\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":3,"                     \
	"\"output_tokens\":1}}}"

/* What a broken stream is settled on (§6.4): usage so far, bytes relayed, the error text. */
static void test_stream_state(void **state)
{
	struct hw_anthropic_stream s;
	hw_anthropic_stream_init(&s, MODEL_ID);
	json_t *out = json_array();
	assert_false(s.have_usage);
	assert_int_equal(feed_str(&s, "message_start", START, out), HW_ASTREAM_MORE);
	assert_true(s.have_usage);
	assert_int_equal(s.input_tokens, 3);
	assert_int_equal(
	    feed_str(&s, "content_block_start",
		     "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
		     "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"fn\",\"input\":{}}}",
		     out),
	    HW_ASTREAM_MORE);
	assert_int_equal(
	    feed_str(&s, "content_block_delta",
		     "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
		     "\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":1}\"}}",
		     out),
	    HW_ASTREAM_MORE);
	/* "fn" + {"a":1} */
	assert_int_equal(s.output_bytes, 2 + 7);
	/* message_delta usage is cumulative and may restate the input side. */
	assert_int_equal(feed_str(&s, "message_delta",
				  "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":null},"
				  "\"usage\":{\"output_tokens\":8,\"input_tokens\":4,"
				  "\"cache_read_input_tokens\":2}}",
				  out),
			 HW_ASTREAM_MORE);
	assert_int_equal(s.output_tokens, 8);
	assert_int_equal(s.input_tokens, 4);
	assert_int_equal(s.cache_read_tokens, 2);
	/* No stop_reason: no finish chunk. */
	assert_int_equal(json_array_size(out), 3);
	assert_int_equal(feed_str(&s, "error",
				  "{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
				  "\"message\":\"Internal\"}}",
				  out),
			 HW_ASTREAM_ERROR);
	assert_string_equal(s.reason, "upstream_error");
	assert_string_equal(s.error_message, "api_error: Internal");
	json_decref(out);
	hw_anthropic_stream_free(&s);
}

static void test_stream_after_stop(void **state)
{
	struct hw_anthropic_stream s;
	hw_anthropic_stream_init(&s, MODEL_ID);
	json_t *out = json_array();
	assert_int_equal(feed_str(&s, NULL, START, out), HW_ASTREAM_MORE);
	assert_int_equal(feed_str(&s, NULL, "{\"type\":\"message_stop\"}", out), HW_ASTREAM_DONE);
	size_t n = json_array_size(out);
	assert_int_equal(n, 2);
	assert_int_equal(feed_str(&s, NULL, "{\"type\":\"message_stop\"}", out), HW_ASTREAM_DONE);
	assert_int_equal(feed_str(&s, "ping", "garbage", out), HW_ASTREAM_DONE);
	assert_int_equal(json_array_size(out), n);
	json_decref(out);
	hw_anthropic_stream_free(&s);
}

static void test_stream_rejects(void **state)
{
	static const char *const bad[] = {
	    /* a second message_start */
	    START,
	    /* block indexes out of range */
	    "{\"type\":\"content_block_start\",\"index\":-1,\"content_block\":{\"type\":\"text\"}}",
	    "{\"type\":\"content_block_start\",\"index\":70000,\"content_block\":{\"type\":"
	    "\"text\"}}",
	    /* fields missing */
	    "{\"type\":\"content_block_start\",\"content_block\":{\"type\":\"text\"}}",
	    "{\"type\":\"content_block_delta\",\"index\":0}",
	    "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":1}}",
	    /* input_json_delta for a block never started */
	    "{\"type\":\"content_block_delta\",\"index\":5,\"delta\":{\"type\":\"input_json_"
	    "delta\","
	    "\"partial_json\":\"{}\"}}",
	    /* not an object, no type */
	    "[]",
	    "{\"index\":0}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hw_anthropic_stream s;
		hw_anthropic_stream_init(&s, MODEL_ID);
		json_t *out = json_array();
		assert_int_equal(feed_str(&s, NULL, START, out), HW_ASTREAM_MORE);
		int rc = feed_str(&s, NULL, bad[i], out);
		if (rc != HW_ASTREAM_ERROR || !s.reason || strcmp(s.reason, "malformed") != 0)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(json_array_size(out), 1);
		json_decref(out);
		hw_anthropic_stream_free(&s);
	}
}

/* ---- the HTTP call ---------------------------------------------------------------------- */

static bool has_header(const struct curl_slist *h, const char *line)
{
	for (; h; h = h->next)
		if (strcmp(h->data, line) == 0)
			return true;
	return false;
}

static bool has_header_named(const struct curl_slist *h, const char *prefix)
{
	for (; h; h = h->next)
		if (strncasecmp(h->data, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static void test_build(void **state)
{
	struct hw_cfg_provider p = {.id = "anthropic",
				    .kind = HW_PROVIDER_ANTHROPIC,
				    .base_url = "https://api.anthropic.test",
				    .api_key = "sk-default",
				    .prompt_cache = true,
				    .timeouts = {.connect_ms = 1234}};
	struct hw_model m = {.upstream_model = "claude-x", .min_cache_tokens = 1};
	json_t *req =
	    json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s}]}", "model", "auto", "messages", "role",
		      "system", "content", "sys", "role", "user", "content", "hi");
	char msg[128];

	struct hw_upstream_call call = {0};
	assert_int_equal(hw_anthropic_build(&p, "sk-workspace", &m, req, 50, "u1", true, &call, msg,
					    sizeof(msg)),
			 0);
	assert_string_equal(call.url, "https://api.anthropic.test/v1/messages");
	assert_true(has_header(call.headers, "x-api-key: sk-workspace"));
	assert_false(has_header(call.headers, "x-api-key: sk-default"));
	assert_true(has_header(call.headers, "anthropic-version: 2023-06-01"));
	assert_true(has_header(call.headers, "content-type: application/json"));
	assert_true(has_header(call.headers, "accept: text/event-stream"));
	assert_true(has_header(call.headers, "Expect:"));
	assert_true(call.stream);
	assert_int_equal(call.timeouts.connect_ms, 1234);
	assert_int_equal(call.body_len, strlen(call.body));
	json_t *body = json_loads(call.body, 0, NULL);
	json_t *want =
	    json_pack("{s:s,s:i,s:[{s:s,s:s,s:{s:s}}],s:[{s:s,s:s}],s:{s:s},s:b}", "model",
		      "claude-x", "max_tokens", 50, "system", "type", "text", "text", "sys",
		      "cache_control", "type", "ephemeral", "messages", "role", "user", "content",
		      "hi", "metadata", "user_id", "u1", "stream", 1);
	assert_json_eq(want, body, "stream body");
	json_decref(want);
	json_decref(body);
	hw_upstream_call_release(&call);

	/* Configured version, no key at all, not streaming. */
	p.anthropic_version = "2024-01-01";
	memset(&call, 0, sizeof(call));
	assert_int_equal(
	    hw_anthropic_build(&p, NULL, &m, req, 50, NULL, false, &call, msg, sizeof(msg)), 0);
	assert_false(has_header_named(call.headers, "x-api-key:"));
	assert_true(has_header(call.headers, "anthropic-version: 2024-01-01"));
	assert_true(has_header(call.headers, "accept: application/json"));
	assert_false(call.stream);
	body = json_loads(call.body, 0, NULL);
	assert_null(json_object_get(body, "stream"));
	assert_null(json_object_get(body, "metadata"));
	json_decref(body);
	hw_upstream_call_release(&call);
	json_decref(req);

	/* A 400: arguments that are not JSON. */
	req = json_pack("{s:[{s:s,s:s},{s:s,s:n,s:[{s:s,s:s,s:{s:s,s:s}}]}]}", "messages", "role",
			"user", "content", "q", "role", "assistant", "content", "tool_calls", "id",
			"c", "type", "function", "function", "name", "f", "arguments", "not json");
	memset(&call, 0, sizeof(call));
	assert_int_equal(
	    hw_anthropic_build(&p, "k", &m, req, 50, NULL, false, &call, msg, sizeof(msg)),
	    -EINVAL);
	assert_non_null(strstr(msg, "messages[1].tool_calls[0].function.arguments"));
	assert_null(call.body);
	hw_upstream_call_release(&call);
	json_decref(req);
}

/* One test per golden request file, named after it. */
#define REQUEST_FILE(file)                                                                         \
	{                                                                                          \
		file, test_request_file, NULL, NULL, (void *)(file)                                \
	}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    REQUEST_FILE("requests_full.json"),	   REQUEST_FILE("requests_tool_choice.json"),
	    REQUEST_FILE("requests_cache.json"),   REQUEST_FILE("requests_errors.json"),
	    cmocka_unit_test(test_inject_cache),   cmocka_unit_test(test_responses),
	    cmocka_unit_test(test_stop_reasons),   cmocka_unit_test(test_streams),
	    cmocka_unit_test(test_stream_state),   cmocka_unit_test(test_stream_after_stop),
	    cmocka_unit_test(test_stream_rejects), cmocka_unit_test(test_build),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
