// SPDX-License-Identifier: Apache-2.0
/* Chat Completions request parsing and validation (SPEC §5.2) and text bytes (§1.3). */
#include "gateway/chat_request.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

struct parsed {
	struct hw_chat_req r;
	char param[128];
	char msg[256];
	int rc;
};

static void parse(struct parsed *p, const char *body)
{
	memset(p, 0, sizeof(*p));
	strcpy(p->param, "<unset>");
	p->rc = hw_chat_parse(body, strlen(body), &p->r, p->param, sizeof(p->param), p->msg,
			      sizeof(p->msg));
}

static void expect_ok(struct parsed *p, const char *body)
{
	parse(p, body);
	if (p->rc != 0)
		print_error("rejected (%s: %s): %s\n", p->param, p->msg, body);
	assert_int_equal(p->rc, 0);
}

static void expect_err(const char *body, const char *param)
{
	struct parsed p;
	parse(&p, body);
	if (p.rc != -EINVAL || strcmp(p.param, param) != 0)
		print_error("rc %d param '%s' msg '%s' for: %s\n", p.rc, p.param, p.msg, body);
	/* Freed before asserting, so a failure does not also report a leak. */
	hw_chat_req_free(&p.r);
	assert_int_equal(p.rc, -EINVAL);
	assert_string_equal(p.param, param);
	assert_true(strlen(p.msg) > 0);
}

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

static void test_minimal(void **state)
{
	struct parsed p;
	expect_ok(&p, "{\"model\":\"auto\"," MSGS "}");
	assert_non_null(p.r.root);
	assert_string_equal(p.r.model, "auto");
	assert_false(p.r.stream);
	assert_false(p.r.include_usage);
	assert_int_equal(p.r.max_tokens, 0);
	assert_int_equal(p.r.n_tools, 0);
	assert_null(p.r.first_tool);
	assert_null(p.r.forced_tool);
	assert_false(p.r.tool_choice_none);
	assert_int_equal(p.r.text_bytes, 2);
	assert_int_equal(p.r.est_tokens, 1);
	assert_string_equal(p.r.last_user_text.data, "hi");
	assert_int_equal(p.r.last_user_text.len, 2);
	assert_false(p.r.last_is_tool);
	assert_null(p.r.end_user);
	hw_chat_req_free(&p.r);
}

static void test_fields(void **state)
{
	struct parsed p;
	expect_ok(&p, "{\"model\":\"openai/gpt-4o\"," MSGS ",\"stream\":true,"
		      "\"stream_options\":{\"include_usage\":true},\"max_tokens\":77,\"n\":1,"
		      "\"user\":\"end-user-9\",\"temperature\":0.2,\"unknown_field\":{\"kept\":1}}");
	assert_string_equal(p.r.model, "openai/gpt-4o");
	assert_true(p.r.stream);
	assert_true(p.r.include_usage);
	assert_int_equal(p.r.max_tokens, 77);
	assert_string_equal(p.r.end_user, "end-user-9");
	/* Unknown fields stay in the body for forwarding. */
	assert_non_null(json_object_get(json_object_get(p.r.root, "unknown_field"), "kept"));
	hw_chat_req_free(&p.r);

	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"stream\":null}");
	assert_false(p.r.stream);
	hw_chat_req_free(&p.r);
}

static void test_not_json(void **state)
{
	expect_err("", "");
	expect_err("{", "");
	expect_err("not json", "");
	expect_err("{\"model\":\"auto\"," MSGS "} trailing", "");
	/* Duplicate keys are rejected, not silently resolved. */
	expect_err("{\"model\":\"auto\",\"model\":\"x\"," MSGS "}", "");
}

static void test_not_object(void **state)
{
	expect_err("[]", "");
	expect_err("[{\"model\":\"auto\"}]", "");
	expect_err("\"string\"", "");
	expect_err("42", "");
	expect_err("null", "");
}

static void test_model(void **state)
{
	expect_err("{" MSGS "}", "model");
	expect_err("{\"model\":\"\"," MSGS "}", "model");
	expect_err("{\"model\":null," MSGS "}", "model");
	expect_err("{\"model\":42," MSGS "}", "model");
	expect_err("{\"model\":[\"auto\"]," MSGS "}", "model");
}

static void test_messages(void **state)
{
	expect_err("{\"model\":\"auto\"}", "messages");
	expect_err("{\"model\":\"auto\",\"messages\":[]}", "messages");
	expect_err("{\"model\":\"auto\",\"messages\":null}", "messages");
	expect_err("{\"model\":\"auto\",\"messages\":{\"role\":\"user\",\"content\":\"hi\"}}", "messages");
	expect_err("{\"model\":\"auto\",\"messages\":\"hi\"}", "messages");
	expect_err("{\"model\":\"auto\",\"messages\":[\"hi\"]}", "messages[0]");
}

static void test_roles(void **state)
{
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"robot\",\"content\":\"hi\"}]}",
		   "messages[0].role");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"content\":\"hi\"}]}", "messages[0].role");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":7,\"content\":\"hi\"}]}",
		   "messages[0].role");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"User\",\"content\":\"hi\"}]}",
		   "messages[0].role");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
		   "{\"role\":\"function\",\"content\":\"b\"}]}",
		   "messages[1].role");
	struct parsed p;
	expect_ok(&p, "{\"model\":\"auto\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
		      "{\"role\":\"developer\",\"content\":\"d\"},{\"role\":\"user\",\"content\":\"u\"},"
		      "{\"role\":\"assistant\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"v\"}]}");
	assert_int_equal(p.r.text_bytes, 5);
	assert_string_equal(p.r.last_user_text.data, "v");
	hw_chat_req_free(&p.r);
}

static void test_tool_message(void **state)
{
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
		   "{\"role\":\"tool\",\"content\":\"42\"}]}",
		   "messages[1].tool_call_id");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
		   "{\"role\":\"tool\",\"content\":\"42\",\"tool_call_id\":5}]}",
		   "messages[1].tool_call_id");
}

static void test_content(void **state)
{
	/* Assistant with null content needs tool_calls. */
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"assistant\",\"content\":null}]}",
		   "messages[0].content");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"assistant\"}]}", "messages[0].content");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":null}]}",
		   "messages[0].content");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\"}]}", "messages[0].content");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":42}]}",
		   "messages[0].content");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\"}}]}",
		   "messages[0].content");
	/* Parts. */
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":"
		   "[{\"type\":\"video\",\"url\":\"x\"}]}]}",
		   "messages[0].content[0]");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":[\"hi\"]}]}",
		   "messages[0].content[0]");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]}",
		   "messages[0].content[0]");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":"
		   "[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"bogus\"}]}]}",
		   "messages[0].content[1]");
	expect_err("{\"model\":\"auto\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
		   "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":5}]}]}",
		   "messages[1].content[0]");

	struct parsed p;
	expect_ok(&p, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
		      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":"
		      "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}}]},"
		      "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"result\"}]}");
	/* "q" + the arguments {"x":1} + "result". */
	assert_int_equal(p.r.text_bytes, 1 + 7 + 6);
	assert_int_equal(p.r.est_tokens, 4);
	assert_true(p.r.last_is_tool);
	assert_string_equal(p.r.last_tool_text.data, "result");
	assert_string_equal(p.r.last_user_text.data, "q");
	hw_chat_req_free(&p.r);
}

static void test_stream(void **state)
{
	expect_err("{\"model\":\"auto\"," MSGS ",\"stream\":\"true\"}", "stream");
	expect_err("{\"model\":\"auto\"," MSGS ",\"stream\":1}", "stream");
	expect_err("{\"model\":\"auto\"," MSGS ",\"stream\":{}}", "stream");
	expect_err("{\"model\":\"auto\"," MSGS ",\"stream\":true,\"stream_options\":"
		   "{\"include_usage\":\"yes\"}}",
		   "stream_options.include_usage");

	struct parsed p;
	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"stream\":false,\"stream_options\":null}");
	assert_false(p.r.stream);
	assert_false(p.r.include_usage);
	hw_chat_req_free(&p.r);
	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"stream\":true,\"stream_options\":{}}");
	assert_true(p.r.stream);
	assert_false(p.r.include_usage);
	hw_chat_req_free(&p.r);
}

/* A stream_options that is not an object is itself the bad field. */
static void test_stream_options_not_object(void **state)
{
	expect_err("{\"model\":\"auto\"," MSGS ",\"stream\":true,\"stream_options\":true}",
		   "stream_options");
	expect_err("{\"model\":\"auto\"," MSGS ",\"stream\":true,\"stream_options\":[]}",
		   "stream_options");
}

static void test_max_tokens(void **state)
{
	expect_err("{\"model\":\"auto\"," MSGS ",\"max_tokens\":0}", "max_tokens");
	expect_err("{\"model\":\"auto\"," MSGS ",\"max_tokens\":-5}", "max_tokens");
	expect_err("{\"model\":\"auto\"," MSGS ",\"max_tokens\":1.5}", "max_tokens");
	expect_err("{\"model\":\"auto\"," MSGS ",\"max_tokens\":\"10\"}", "max_tokens");
	expect_err("{\"model\":\"auto\"," MSGS ",\"max_completion_tokens\":0}", "max_completion_tokens");
	expect_err("{\"model\":\"auto\"," MSGS ",\"max_completion_tokens\":true}",
		   "max_completion_tokens");

	struct parsed p;
	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"max_tokens\":100,\"max_completion_tokens\":50}");
	assert_int_equal(p.r.max_tokens, 50);
	hw_chat_req_free(&p.r);
	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"max_completion_tokens\":500,\"max_tokens\":100}");
	assert_int_equal(p.r.max_tokens, 500);
	hw_chat_req_free(&p.r);
	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"max_tokens\":1}");
	assert_int_equal(p.r.max_tokens, 1);
	hw_chat_req_free(&p.r);
	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"max_tokens\":null,\"max_completion_tokens\":null}");
	assert_int_equal(p.r.max_tokens, 0);
	hw_chat_req_free(&p.r);
}

static void test_n(void **state)
{
	expect_err("{\"model\":\"auto\"," MSGS ",\"n\":2}", "n");
	expect_err("{\"model\":\"auto\"," MSGS ",\"n\":0}", "n");
	expect_err("{\"model\":\"auto\"," MSGS ",\"n\":\"1\"}", "n");
	struct parsed p;
	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"n\":1}");
	hw_chat_req_free(&p.r);
	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"n\":null}");
	hw_chat_req_free(&p.r);
}

#define TOOL(name) "{\"type\":\"function\",\"function\":{\"name\":\"" name "\",\"parameters\":{}}}"

static void test_tools_validation(void **state)
{
	expect_err("{\"model\":\"auto\"," MSGS ",\"tools\":[" TOOL("bad name") "]}",
		   "tools[0].function.name");
	expect_err("{\"model\":\"auto\"," MSGS ",\"tools\":[" TOOL("") "]}", "tools[0].function.name");
	expect_err("{\"model\":\"auto\"," MSGS ",\"tools\":[" TOOL("dot.name") "]}",
		   "tools[0].function.name");
	expect_err("{\"model\":\"auto\"," MSGS ",\"tools\":[" TOOL(
		   "a1234567890123456789012345678901234567890123456789012345678901234") "]}",
		   "tools[0].function.name");
	expect_err("{\"model\":\"auto\"," MSGS ",\"tools\":[" TOOL("ok") "," TOOL("caf\xc3\xa9") "]}",
		   "tools[1].function.name");
	expect_err("{\"model\":\"auto\"," MSGS ",\"tools\":[{\"type\":\"function\"}]}",
		   "tools[0].function.name");
	expect_err("{\"model\":\"auto\"," MSGS ",\"tools\":[{\"type\":\"function\",\"function\":"
		   "{\"name\":\"f\",\"parameters\":\"{}\"}}]}",
		   "tools[0].function.parameters");
	expect_err("{\"model\":\"auto\"," MSGS ",\"tools\":[{\"type\":\"function\",\"function\":"
		   "{\"name\":\"f\",\"parameters\":[]}}]}",
		   "tools[0].function.parameters");
	expect_err("{\"model\":\"auto\"," MSGS ",\"tools\":{}}", "tools");

	struct parsed p;
	/* 64 characters is the longest name; parameters may be absent. */
	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"tools\":[" TOOL(
		      "a123456789012345678901234567890123456789012345678901234567890123") ","
		      "{\"type\":\"function\",\"function\":{\"name\":\"A-b_9\"}}]}");
	assert_int_equal(p.r.n_tools, 2);
	assert_string_equal(p.r.first_tool,
			    "a123456789012345678901234567890123456789012345678901234567890123");
	hw_chat_req_free(&p.r);
}

static void test_tool_choice(void **state)
{
	struct parsed p;
	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"tools\":[" TOOL("first") "," TOOL("second") "],"
		      "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"second\"}}}");
	assert_string_equal(p.r.first_tool, "first");
	assert_non_null(p.r.forced_tool);
	assert_string_equal(p.r.forced_tool, "second");
	assert_false(p.r.tool_choice_none);
	hw_chat_req_free(&p.r);
	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"tools\":[" TOOL("first") "],\"tool_choice\":\"none\"}");
	assert_true(p.r.tool_choice_none);
	assert_null(p.r.forced_tool);
	hw_chat_req_free(&p.r);
	expect_ok(&p, "{\"model\":\"auto\"," MSGS ",\"tools\":[" TOOL("first") "],\"tool_choice\":\"auto\"}");
	assert_false(p.r.tool_choice_none);
	hw_chat_req_free(&p.r);
}

static void test_text_bytes(void **state)
{
	struct parsed p;
	/* UTF-8 bytes, not characters: "é" is 2 bytes, "€" 3. */
	expect_ok(&p, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\xa9\xe2\x82\xac\"}]}");
	assert_int_equal(p.r.text_bytes, 5);
	assert_int_equal(p.r.est_tokens, 2);
	hw_chat_req_free(&p.r);

	/* Escapes count as the bytes they decode to. */
	expect_ok(&p, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"a\\nb\\u00e9\"}]}");
	assert_int_equal(p.r.text_bytes, 5);
	hw_chat_req_free(&p.r);

	/* ceil(bytes / 4) at the boundaries. */
	static const struct {
		const char *text;
		int64_t bytes, est;
	} rows[] = {{"", 0, 0}, {"a", 1, 1}, {"abcd", 4, 1}, {"abcde", 5, 2}, {"abcdefgh", 8, 2}};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char body[256];
		snprintf(body, sizeof(body),
			 "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}",
			 rows[i].text);
		expect_ok(&p, body);
		assert_int_equal(p.r.text_bytes, rows[i].bytes);
		assert_int_equal(p.r.est_tokens, rows[i].est);
		hw_chat_req_free(&p.r);
	}

	/* System text, text parts and each non-text part (3000). */
	expect_ok(&p, "{\"model\":\"auto\",\"messages\":[{\"role\":\"system\",\"content\":\"sys\"},"
		      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},"
		      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}},"
		      "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AAAA\",\"format\":\"wav\"}},"
		      "{\"type\":\"file\",\"file\":{\"file_id\":\"f1\"}},"
		      "{\"type\":\"text\",\"text\":\"here\"}]}]}");
	assert_int_equal(p.r.text_bytes, 3 + 4 + 3 * 3000 + 4);
	assert_int_equal(p.r.est_tokens, (3 + 4 + 9000 + 4 + 3) / 4);
	assert_string_equal(p.r.last_user_text.data, "look\nhere");
	hw_chat_req_free(&p.r);

	/* The serialized tools count too. */
	const char *tools = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
			    "\"description\":\"Weather\",\"parameters\":{\"type\":\"object\"}}}]";
	char body[512];
	snprintf(body, sizeof(body), "{\"model\":\"auto\"," MSGS ",\"tools\":%s}", tools);
	expect_ok(&p, body);
	assert_int_equal(p.r.text_bytes, 2 + (int64_t)strlen(tools));
	assert_int_equal(p.r.est_tokens, (2 + (int64_t)strlen(tools) + 3) / 4);
	assert_int_equal(p.r.n_tools, 1);
	assert_string_equal(p.r.first_tool, "get_weather");
	hw_chat_req_free(&p.r);

	/* Whitespace in the body does not count: tools are measured compactly. */
	snprintf(body, sizeof(body),
		 "{\"model\":\"auto\"," MSGS ",\"tools\": [ { \"type\" : \"function\", \"function\" : "
		 "{ \"name\" : \"get_weather\", \"description\" : \"Weather\", \"parameters\" : "
		 "{ \"type\" : \"object\" } } } ] }");
	expect_ok(&p, body);
	assert_int_equal(p.r.text_bytes, 2 + (int64_t)strlen(tools));
	hw_chat_req_free(&p.r);
}

static void test_last_user_text(void **state)
{
	struct parsed p;
	/* The last user message, not the last message. */
	expect_ok(&p, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"first\"},"
		      "{\"role\":\"assistant\",\"content\":\"reply\"},"
		      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"second\"}]},"
		      "{\"role\":\"assistant\",\"content\":\"again\"}]}");
	assert_string_equal(p.r.last_user_text.data, "second");
	assert_int_equal(p.r.last_user_text.len, 6);
	assert_false(p.r.last_is_tool);
	assert_int_equal(p.r.text_bytes, 5 + 5 + 6 + 5);
	hw_chat_req_free(&p.r);

	/* An earlier longer message does not leak into a shorter later one. */
	expect_ok(&p, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"a long first one\"},"
		      "{\"role\":\"user\",\"content\":\"x\"}]}");
	assert_string_equal(p.r.last_user_text.data, "x");
	assert_int_equal(p.r.last_user_text.len, 1);
	hw_chat_req_free(&p.r);

	/* Only images: the user text is empty. */
	expect_ok(&p, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":"
		      "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]}");
	assert_int_equal(p.r.last_user_text.len, 0);
	assert_int_equal(p.r.text_bytes, 3000);
	assert_int_equal(p.r.est_tokens, 750);
	hw_chat_req_free(&p.r);

	/* A tool result that is not the last message does not make last_is_tool. */
	expect_ok(&p, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
		      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},"
		      "{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":\"r\"},"
		      "{\"role\":\"user\",\"content\":\"next\"}]}");
	assert_false(p.r.last_is_tool);
	assert_string_equal(p.r.last_user_text.data, "next");
	hw_chat_req_free(&p.r);

	/* A tool result given as text parts. */
	expect_ok(&p, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
		      "{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":[{\"type\":\"text\",\"text\":\"22C\"}]}]}");
	assert_true(p.r.last_is_tool);
	assert_string_equal(p.r.last_tool_text.data, "22C");
	hw_chat_req_free(&p.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_not_object),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_tool_message),
		cmocka_unit_test(test_content),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_options_not_object),
		cmocka_unit_test(test_max_tokens),
		cmocka_unit_test(test_n),
		cmocka_unit_test(test_tools_validation),
		cmocka_unit_test(test_tool_choice),
		cmocka_unit_test(test_text_bytes),
		cmocka_unit_test(test_last_user_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
