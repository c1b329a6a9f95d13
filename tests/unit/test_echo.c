// SPDX-License-Identifier: Apache-2.0
/* The echo provider (SPEC §8.6): completion shape, truncation, tool calls, tool results and
 * the SSE stream, read back through the SSE parser. */
#include "gateway/chat_request.h"
#include "upstream/provider_echo.h"
#include "upstream/sse.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#define MODEL "echo-light"

static void parse_req(const char *body, struct hw_chat_req *r)
{
	char param[128], msg[256];
	int rc = hw_chat_parse(body, strlen(body), r, param, sizeof(param), msg, sizeof(msg));
	if (rc != 0)
		print_error("request rejected (%s: %s): %s\n", param, msg, body);
	assert_int_equal(rc, 0);
}

/* A request with one user message; `text` is JSON-escaped by jansson. */
static void user_req(const char *text, struct hw_chat_req *r)
{
	json_t *body = json_pack("{s:s,s:[{s:s,s:s}]}", "model", "auto", "messages", "role", "user",
				 "content", text);
	char *s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	parse_req(s, r);
	free(s);
}

static const char *str_at(json_t *obj, const char *path)
{
	json_t *v = json_object_get(obj, path);
	return json_string_value(v);
}

static json_t *choice0(json_t *obj) { return json_array_get(json_object_get(obj, "choices"), 0); }

static json_int_t int_at(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void assert_usage(json_t *usage, int64_t prompt, int64_t completion)
{
	assert_true(json_is_object(usage));
	assert_int_equal(int_at(usage, "prompt_tokens"), prompt);
	assert_int_equal(int_at(usage, "completion_tokens"), completion);
	assert_int_equal(int_at(usage, "total_tokens"), prompt + completion);
	assert_int_equal(int_at(json_object_get(usage, "prompt_tokens_details"), "cached_tokens"), 0);
}

static void test_completion_shape(void **state)
{
	struct hw_chat_req r;
	user_req("hello world", &r);
	json_t *c = hw_echo_completion(&r, MODEL, 4096);
	assert_non_null(c);
	const char *id = str_at(c, "id");
	assert_non_null(id);
	assert_int_equal(strlen(id), 9 + 26);
	assert_memory_equal(id, "chatcmpl-", 9);
	assert_string_equal(str_at(c, "object"), "chat.completion");
	assert_string_equal(str_at(c, "model"), MODEL);
	assert_true(int_at(c, "created") > 1700000000);
	assert_int_equal(json_array_size(json_object_get(c, "choices")), 1);
	json_t *ch = choice0(c);
	assert_int_equal(int_at(ch, "index"), 0);
	assert_string_equal(str_at(ch, "finish_reason"), "stop");
	assert_true(json_is_null(json_object_get(ch, "logprobs")));
	json_t *m = json_object_get(ch, "message");
	assert_string_equal(str_at(m, "role"), "assistant");
	assert_string_equal(str_at(m, "content"), "echo: hello world");
	assert_null(json_object_get(m, "tool_calls"));
	/* prompt = est_tokens = ceil(11 / 4); completion = ceil(17 / 4). */
	assert_int_equal(r.est_tokens, 3);
	assert_usage(json_object_get(c, "usage"), 3, 5);
	json_decref(c);
	hw_chat_req_free(&r);
}

static void test_last_user_text_used(void **state)
{
	struct hw_chat_req r;
	parse_req("{\"model\":\"auto\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
		  "{\"role\":\"user\",\"content\":\"first\"},{\"role\":\"assistant\",\"content\":\"ok\"},"
		  "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"second\"}]}]}",
		  &r);
	json_t *c = hw_echo_completion(&r, MODEL, 4096);
	assert_string_equal(str_at(json_object_get(choice0(c), "message"), "content"), "echo: second");
	/* prompt = ceil((8 + 5 + 2 + 6) / 4) */
	assert_usage(json_object_get(c, "usage"), 6, 3);
	json_decref(c);
	hw_chat_req_free(&r);
}

static void test_first_1000_chars(void **state)
{
	/* 1200 two-byte characters: the reply keeps 1000 of them (2000 bytes). */
	char *text = malloc(2400 + 1);
	assert_non_null(text);
	for (size_t i = 0; i < 1200; i++)
		memcpy(text + 2 * i, "\xc3\xa9", 2);
	text[2400] = '\0';
	struct hw_chat_req r;
	user_req(text, &r);
	json_t *c = hw_echo_completion(&r, MODEL, 4096);
	const char *content = str_at(json_object_get(choice0(c), "message"), "content");
	assert_non_null(content);
	assert_int_equal(strlen(content), 6 + 2000);
	assert_memory_equal(content, "echo: ", 6);
	assert_memory_equal(content + 6, text, 2000);
	assert_string_equal(str_at(choice0(c), "finish_reason"), "stop");
	assert_usage(json_object_get(c, "usage"), 600, (6 + 2000 + 3) / 4);
	json_decref(c);
	hw_chat_req_free(&r);

	/* 999 ASCII characters, then a 3-byte and a 4-byte character: the 1000th is the
	 * 3-byte one, kept whole. */
	memset(text, 'a', 999);
	memcpy(text + 999, "\xe2\x82\xac\xf0\x9f\x98\x80", 8);
	user_req(text, &r);
	c = hw_echo_completion(&r, MODEL, 4096);
	content = str_at(json_object_get(choice0(c), "message"), "content");
	assert_int_equal(strlen(content), 6 + 999 + 3);
	assert_memory_equal(content + 6 + 999, "\xe2\x82\xac", 3);
	json_decref(c);
	hw_chat_req_free(&r);

	/* Exactly 1000 characters: nothing dropped. */
	memset(text, 'b', 1000);
	text[1000] = '\0';
	user_req(text, &r);
	c = hw_echo_completion(&r, MODEL, 4096);
	content = str_at(json_object_get(choice0(c), "message"), "content");
	assert_int_equal(strlen(content), 1006);
	json_decref(c);
	hw_chat_req_free(&r);
	free(text);
}

static void check_cut(const char *user, int64_t max_tokens, const char *want, const char *finish)
{
	struct hw_chat_req r;
	user_req(user, &r);
	json_t *c = hw_echo_completion(&r, MODEL, max_tokens);
	const char *content = str_at(json_object_get(choice0(c), "message"), "content");
	assert_non_null(content);
	assert_string_equal(content, want);
	assert_string_equal(str_at(choice0(c), "finish_reason"), finish);
	assert_usage(json_object_get(c, "usage"), r.est_tokens, ((int64_t)strlen(want) + 3) / 4);
	json_decref(c);
	hw_chat_req_free(&r);
}

static void test_max_tokens_cut(void **state)
{
	/* Cut to max_tokens x 4 bytes. */
	check_cut("hello world", 2, "echo: he", "length");
	check_cut("hello world", 1, "echo", "length");
	/* Exactly max_tokens x 4 bytes: not cut. */
	check_cut("hi", 2, "echo: hi", "stop");
	check_cut("hello world", 5, "echo: hello world", "stop");
	/* One byte over: 17 bytes against 16. */
	check_cut("hello world", 4, "echo: hello worl", "length");
}

static void test_max_tokens_cut_utf8(void **state)
{
	/* "echo: " + three 3-byte characters = 15 bytes. A cut at 8 falls inside the first
	 * one: the reply ends before it. */
	check_cut("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 2, "echo: ", "length");
	/* At 12 the cut falls on a boundary after two. */
	check_cut("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 3, "echo: \xe2\x82\xac\xe2\x82\xac", "length");
	/* A 4-byte character straddling byte 8. */
	check_cut("a\xf0\x9f\x98\x80z", 2, "echo: a", "length");
	/* Two-byte characters: the cut at 8 is right after the first. */
	check_cut("\xc3\xa9\xc3\xa9\xc3\xa9", 2, "echo: \xc3\xa9", "length");
}

#define TOOLS                                                                                        \
	"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{}}}," \
	"{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{}}}]"

static void assert_tool_call(json_t *c, const char *name)
{
	json_t *ch = choice0(c);
	assert_string_equal(str_at(ch, "finish_reason"), "tool_calls");
	json_t *m = json_object_get(ch, "message");
	assert_string_equal(str_at(m, "role"), "assistant");
	assert_true(json_is_null(json_object_get(m, "content")));
	json_t *calls = json_object_get(m, "tool_calls");
	assert_int_equal(json_array_size(calls), 1);
	json_t *call = json_array_get(calls, 0);
	assert_string_equal(str_at(call, "id"), "call_echo_0");
	assert_string_equal(str_at(call, "type"), "function");
	json_t *fn = json_object_get(call, "function");
	assert_string_equal(str_at(fn, "name"), name);
	assert_string_equal(str_at(fn, "arguments"), "{}");
}

static void test_tool_call(void **state)
{
	struct hw_chat_req r;
	parse_req("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}]," TOOLS "}",
		  &r);
	json_t *c = hw_echo_completion(&r, MODEL, 4096);
	assert_tool_call(c, "get_weather");
	assert_int_equal(int_at(json_object_get(c, "usage"), "prompt_tokens"), r.est_tokens);
	json_decref(c);
	hw_chat_req_free(&r);

	/* tool_choice names the second tool. */
	parse_req("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"time?\"}]," TOOLS
		  ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}}",
		  &r);
	c = hw_echo_completion(&r, MODEL, 4096);
	assert_tool_call(c, "get_time");
	json_decref(c);
	hw_chat_req_free(&r);

	/* tool_choice "required" and "auto" still call the first tool. */
	parse_req("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]," TOOLS
		  ",\"tool_choice\":\"required\"}",
		  &r);
	c = hw_echo_completion(&r, MODEL, 4096);
	assert_tool_call(c, "get_weather");
	json_decref(c);
	hw_chat_req_free(&r);

	/* tool_choice "none": a plain echo. */
	parse_req("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"no tools\"}]," TOOLS
		  ",\"tool_choice\":\"none\"}",
		  &r);
	c = hw_echo_completion(&r, MODEL, 4096);
	assert_string_equal(str_at(json_object_get(choice0(c), "message"), "content"), "echo: no tools");
	assert_string_equal(str_at(choice0(c), "finish_reason"), "stop");
	json_decref(c);
	hw_chat_req_free(&r);
}

/* The tool call is the reply only when the last message is the user's (§8.6). */
static void test_no_tool_call_when_last_is_not_user(void **state)
{
	struct hw_chat_req r;
	parse_req("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},"
		  "{\"role\":\"assistant\",\"content\":\"Let me\"}]," TOOLS "}",
		  &r);
	json_t *c = hw_echo_completion(&r, MODEL, 4096);
	json_t *m = json_object_get(choice0(c), "message");
	const char *content = str_at(m, "content");
	bool tool_call = json_object_get(m, "tool_calls") != NULL;
	char got[128];
	snprintf(got, sizeof(got), "%s", content ? content : "(null)");
	json_decref(c);
	hw_chat_req_free(&r);
	assert_false(tool_call);
	assert_string_equal(got, "echo: weather?");
}

static void test_tool_result(void **state)
{
	struct hw_chat_req r;
	parse_req("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},"
		  "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_echo_0\","
		  "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{}\"}}]},"
		  "{\"role\":\"tool\",\"tool_call_id\":\"call_echo_0\",\"content\":\"22C and sunny\"}]," TOOLS "}",
		  &r);
	json_t *c = hw_echo_completion(&r, MODEL, 4096);
	json_t *m = json_object_get(choice0(c), "message");
	assert_string_equal(str_at(m, "content"), "echo: tool result: 22C and sunny");
	assert_null(json_object_get(m, "tool_calls"));
	assert_string_equal(str_at(choice0(c), "finish_reason"), "stop");
	assert_usage(json_object_get(c, "usage"), r.est_tokens, (32 + 3) / 4);
	json_decref(c);
	hw_chat_req_free(&r);
}

/* ---- streams ---------------------------------------------------------------------- */

struct stream {
	json_t *chunks[64];
	size_t n;
	bool done;
	size_t after_done;
};

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
	struct stream *s = arg;
	assert_string_equal(event, "");
	if (s->done) {
		s->after_done++;
		return 0;
	}
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		s->done = true;
		return 0;
	}
	json_error_t err;
	json_t *j = json_loadb(data, len, 0, &err);
	if (!j)
		print_error("bad chunk: %.*s\n", (int)len, data);
	assert_non_null(j);
	assert_true(s->n < 64);
	s->chunks[s->n++] = j;
	return 0;
}

static void run_stream(const struct hw_chat_req *r, int64_t max_tokens, struct stream *s)
{
	memset(s, 0, sizeof(*s));
	struct hw_buf wire = {0};
	assert_int_equal(hw_echo_stream(r, MODEL, max_tokens, &wire), 0);
	assert_non_null(wire.data);
	/* The wire is plain `data:` events, each ending in a blank line. */
	assert_int_equal(strncmp(wire.data, "data: ", 6), 0);
	assert_int_equal(strcmp(wire.data + wire.len - 16, "\n\ndata: [DONE]\n\n"), 0);
	struct hw_sse_parser p;
	memset(&p, 0, sizeof(p));
	/* In odd-sized pieces, as a socket would deliver them. */
	for (size_t at = 0; at < wire.len; at += 7) {
		size_t n = wire.len - at < 7 ? wire.len - at : 7;
		assert_int_equal(hw_sse_feed(&p, wire.data + at, n, on_event, s), 0);
	}
	assert_false(hw_sse_pending(&p));
	hw_sse_free(&p);
	hw_buf_free(&wire);
	assert_true(s->done);
	assert_int_equal(s->after_done, 0);
}

static void stream_free(struct stream *s)
{
	for (size_t i = 0; i < s->n; i++)
		json_decref(s->chunks[i]);
	s->n = 0;
}

/* Every chunk: same id and created, chat.completion.chunk, the model. */
static void assert_chunk_common(const struct stream *s)
{
	const char *id = str_at(s->chunks[0], "id");
	assert_non_null(id);
	assert_memory_equal(id, "chatcmpl-", 9);
	assert_int_equal(strlen(id), 35);
	json_int_t created = int_at(s->chunks[0], "created");
	for (size_t i = 0; i < s->n; i++) {
		assert_string_equal(str_at(s->chunks[i], "id"), id);
		assert_int_equal(int_at(s->chunks[i], "created"), created);
		assert_string_equal(str_at(s->chunks[i], "object"), "chat.completion.chunk");
		assert_string_equal(str_at(s->chunks[i], "model"), MODEL);
	}
}

static json_t *delta_of(json_t *chunk)
{
	json_t *ch = choice0(chunk);
	assert_non_null(ch);
	assert_int_equal(int_at(ch, "index"), 0);
	return json_object_get(ch, "delta");
}

/* Checks the tail: finish chunk with `finish`, then the usage chunk. Returns the index of
 * the finish chunk. */
static size_t assert_tail(const struct stream *s, const char *finish, int64_t prompt,
			  int64_t completion)
{
	assert_true(s->n >= 3);
	size_t fin = s->n - 2;
	json_t *fc = choice0(s->chunks[fin]);
	assert_string_equal(str_at(fc, "finish_reason"), finish);
	assert_int_equal(json_object_size(json_object_get(fc, "delta")), 0);
	json_t *uc = s->chunks[s->n - 1];
	assert_true(json_is_array(json_object_get(uc, "choices")));
	assert_int_equal(json_array_size(json_object_get(uc, "choices")), 0);
	assert_usage(json_object_get(uc, "usage"), prompt, completion);
	/* No chunk before the finish chunk has a finish_reason. */
	for (size_t i = 0; i < fin; i++)
		assert_true(json_is_null(json_object_get(choice0(s->chunks[i]), "finish_reason")));
	return fin;
}

static void test_stream_words(void **state)
{
	struct hw_chat_req r;
	user_req("hello  big\tworld", &r);
	struct stream s;
	run_stream(&r, 4096, &s);
	assert_chunk_common(&s);
	/* Role chunk first. */
	json_t *d0 = delta_of(s.chunks[0]);
	assert_string_equal(str_at(d0, "role"), "assistant");
	size_t fin = assert_tail(&s, "stop", r.est_tokens, (22 + 3) / 4);
	/* One content chunk per word of "echo: hello  big\tworld", the separator leading. */
	static const char *const words[] = {"echo:", " hello", "  big", "\tworld"};
	assert_int_equal(fin - 1, 4);
	for (size_t i = 0; i < 4; i++) {
		json_t *d = delta_of(s.chunks[1 + i]);
		assert_string_equal(str_at(d, "content"), words[i]);
		assert_null(json_object_get(d, "tool_calls"));
	}
	stream_free(&s);

	/* The concatenated stream equals the non-streamed reply. */
	run_stream(&r, 4096, &s);
	struct hw_buf all = {0};
	for (size_t i = 0; i < s.n; i++) {
		json_t *ch = choice0(s.chunks[i]);
		const char *t = ch ? str_at(json_object_get(ch, "delta"), "content") : NULL;
		if (t)
			hw_buf_append(&all, t, strlen(t));
	}
	json_t *c = hw_echo_completion(&r, MODEL, 4096);
	assert_string_equal(all.data, str_at(json_object_get(choice0(c), "message"), "content"));
	json_decref(c);
	hw_buf_free(&all);
	stream_free(&s);
	hw_chat_req_free(&r);
}

static void test_stream_length(void **state)
{
	struct hw_chat_req r;
	user_req("one two three four", &r);
	struct stream s;
	run_stream(&r, 3, &s); /* 12 bytes: "echo: one tw" */
	assert_chunk_common(&s);
	size_t fin = assert_tail(&s, "length", r.est_tokens, 3);
	static const char *const words[] = {"echo:", " one", " tw"};
	assert_int_equal(fin - 1, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(str_at(delta_of(s.chunks[1 + i]), "content"), words[i]);
	stream_free(&s);
	hw_chat_req_free(&r);
}

static void test_stream_tool_call(void **state)
{
	struct hw_chat_req r;
	parse_req("{\"model\":\"auto\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"w\"}]," TOOLS
		  ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}}",
		  &r);
	struct stream s;
	run_stream(&r, 4096, &s);
	assert_chunk_common(&s);
	assert_string_equal(str_at(delta_of(s.chunks[0]), "role"), "assistant");
	size_t fin = assert_tail(&s, "tool_calls", r.est_tokens,
				 int_at(json_object_get(s.chunks[s.n - 1], "usage"), "completion_tokens"));
	assert_int_equal(fin, 2);
	json_t *calls = json_object_get(delta_of(s.chunks[1]), "tool_calls");
	assert_int_equal(json_array_size(calls), 1);
	json_t *call = json_array_get(calls, 0);
	assert_int_equal(int_at(call, "index"), 0);
	assert_string_equal(str_at(call, "id"), "call_echo_0");
	assert_string_equal(str_at(call, "type"), "function");
	assert_string_equal(str_at(json_object_get(call, "function"), "name"), "get_time");
	assert_string_equal(str_at(json_object_get(call, "function"), "arguments"), "{}");
	stream_free(&s);
	hw_chat_req_free(&r);
}

static void test_stream_tool_result(void **state)
{
	struct hw_chat_req r;
	parse_req("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
		  "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},"
		  "{\"role\":\"tool\",\"tool_call_id\":\"call_echo_0\",\"content\":\"42\"}]}",
		  &r);
	struct stream s;
	run_stream(&r, 4096, &s);
	size_t fin = assert_tail(&s, "stop", r.est_tokens, (21 + 3) / 4);
	static const char *const words[] = {"echo:", " tool", " result:", " 42"};
	assert_int_equal(fin - 1, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(str_at(delta_of(s.chunks[1 + i]), "content"), words[i]);
	stream_free(&s);
	hw_chat_req_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_completion_shape),
		cmocka_unit_test(test_last_user_text_used),
		cmocka_unit_test(test_first_1000_chars),
		cmocka_unit_test(test_max_tokens_cut),
		cmocka_unit_test(test_max_tokens_cut_utf8),
		cmocka_unit_test(test_tool_call),
		cmocka_unit_test(test_no_tool_call_when_last_is_not_user),
		cmocka_unit_test(test_tool_result),
		cmocka_unit_test(test_stream_words),
		cmocka_unit_test(test_stream_length),
		cmocka_unit_test(test_stream_tool_call),
		cmocka_unit_test(test_stream_tool_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
