// SPDX-License-Identifier: Apache-2.0
/* The request OpenAI-format providers receive (SPEC §8.1, §8.5): max-tokens field per kind,
 * stream options, and Mistral's tool choice and tool-call id rewriting with its mapping back. */
#include "common/crypto.h"
#include "gateway/chat_request.h"
#include "upstream/provider_openai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

static const char *const CONVERSATION =
	"{\"model\":\"light\",\"stream\":true,\"tool_choice\":\"required\","
	"\"stream_options\":{\"include_usage\":true},"
	"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{}}}],"
	"\"messages\":[{\"role\":\"user\",\"content\":\"time?\"},"
	"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_abc123\",\"type\":"
	"\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
	"{\"role\":\"tool\",\"tool_call_id\":\"call_abc123\",\"content\":\"noon\"}]}";

struct built {
	struct hw_chat_req r;
	struct hw_upstream_call call;
	json_t *sent, *map;
};

static void build(struct built *b, enum hw_provider_kind kind, const char *body)
{
	char param[64], msg[256];
	memset(b, 0, sizeof(*b));
	assert_int_equal(hw_chat_parse(body, strlen(body), &b->r, param, sizeof(param), msg, sizeof(msg)), 0);
	struct hw_cfg_provider p = {.id = "p", .kind = kind, .base_url = "http://127.0.0.1:9/v1",
				    .api_key = "sk-x", .enabled = true, .stream_usage = true};
	b->map = json_object();
	assert_int_equal(hw_openai_build(&p, "up-model", p.api_key, &b->r, 77, &b->call, b->map), 0);
	b->sent = json_loadb(b->call.body, b->call.body_len, 0, NULL);
	assert_non_null(b->sent);
	assert_string_equal(b->call.url, "http://127.0.0.1:9/v1/chat/completions");
}

static void done(struct built *b)
{
	json_decref(b->sent);
	json_decref(b->map);
	hw_upstream_call_release(&b->call);
	hw_chat_req_free(&b->r);
}

static const char *str_at(json_t *root, const char *path)
{
	json_t *v = root;
	char buf[128];
	strcpy(buf, path);
	for (char *tok = strtok(buf, "."); tok && v; tok = strtok(NULL, ".")) {
		char *end;
		long i = strtol(tok, &end, 10);
		v = *end == '\0' ? json_array_get(v, (size_t)i) : json_object_get(v, tok);
	}
	return json_string_value(v);
}

static void test_openai_kind(void **state)
{
	(void)state;
	struct built b;
	build(&b, HW_PROVIDER_OPENAI, CONVERSATION);
	assert_string_equal(str_at(b.sent, "model"), "up-model");
	assert_int_equal(json_integer_value(json_object_get(b.sent, "max_completion_tokens")), 77);
	assert_null(json_object_get(b.sent, "max_tokens"));
	assert_true(json_is_true(json_object_get(json_object_get(b.sent, "stream_options"), "include_usage")));
	assert_string_equal(str_at(b.sent, "tool_choice"), "required");
	assert_string_equal(str_at(b.sent, "messages.1.tool_calls.0.id"), "call_abc123");
	assert_int_equal(json_object_size(b.map), 0);
	done(&b);
}

static void test_mistral_adaptations(void **state)
{
	(void)state;
	struct built b;
	build(&b, HW_PROVIDER_MISTRAL, CONVERSATION);
	assert_int_equal(json_integer_value(json_object_get(b.sent, "max_tokens")), 77);
	assert_null(json_object_get(b.sent, "stream_options"));
	assert_string_equal(str_at(b.sent, "tool_choice"), "any");
	char hex[HW_SHA256_HEX_LEN + 1];
	hw_sha256_hex("call_abc123", strlen("call_abc123"), hex);
	hex[9] = '\0';
	assert_string_equal(str_at(b.sent, "messages.1.tool_calls.0.id"), hex);
	assert_string_equal(str_at(b.sent, "messages.2.tool_call_id"), hex);
	assert_string_equal(json_string_value(json_object_get(b.map, hex)), "call_abc123");

	/* an answer naming a rewritten id gets the client's id back; unknown ids stay */
	json_t *choices = json_loads("[{\"index\":0,\"message\":{\"tool_calls\":[{\"id\":\"PLACEHOLD\"},"
				     "{\"id\":\"Zz9Yy8Xx7\"}]}}]", 0, NULL);
	json_object_set_new(json_array_get(json_object_get(json_object_get(json_array_get(choices, 0),
		"message"), "tool_calls"), 0), "id", json_string(hex));
	hw_openai_map_tool_ids(choices, b.map, "message");
	assert_string_equal(str_at(choices, "0.message.tool_calls.0.id"), "call_abc123");
	assert_string_equal(str_at(choices, "0.message.tool_calls.1.id"), "Zz9Yy8Xx7");
	json_decref(choices);
	done(&b);
}

/* A fallback builds the next provider's request from the same document: no provider's
 * adaptations may leak into it. */
static void test_request_left_as_received(void **state)
{
	(void)state;
	struct built b;
	build(&b, HW_PROVIDER_MISTRAL, CONVERSATION);
	char *before = json_dumps(b.r.root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(b.sent);
	hw_upstream_call_release(&b.call);
	memset(&b.call, 0, sizeof(b.call));
	struct hw_cfg_provider p = {.id = "o", .kind = HW_PROVIDER_OPENAI, .base_url = "http://127.0.0.1:9/v1",
				    .api_key = "sk-x", .enabled = true};
	assert_int_equal(hw_openai_build(&p, "m2", p.api_key, &b.r, 5, &b.call, b.map), 0);
	b.sent = json_loadb(b.call.body, b.call.body_len, 0, NULL);
	assert_string_equal(str_at(b.sent, "tool_choice"), "required");
	assert_string_equal(str_at(b.sent, "messages.1.tool_calls.0.id"), "call_abc123");
	char *after = json_dumps(b.r.root, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(before, after);
	assert_string_equal(str_at(b.r.root, "tool_choice"), "required");
	free(before);
	free(after);
	done(&b);
}

static void test_compatible_without_stream_usage(void **state)
{
	(void)state;
	struct built b;
	const char *body = "{\"model\":\"x\",\"stream\":true,\"max_tokens\":5,"
			   "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
	build(&b, HW_PROVIDER_OPENAI_COMPATIBLE, body);
	assert_int_equal(json_integer_value(json_object_get(b.sent, "max_tokens")), 77);
	/* stream_usage is true in the provider above: include_usage is asked */
	assert_non_null(json_object_get(b.sent, "stream_options"));
	done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openai_kind),
		cmocka_unit_test(test_mistral_adaptations),
		cmocka_unit_test(test_request_left_as_received),
		cmocka_unit_test(test_compatible_without_stream_usage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
