// SPDX-License-Identifier: Apache-2.0
/* USD amounts in JSON (SPEC §1.3): formatting of micro-dollars and their output as bare
 * numbers by hw_json_dumps. */
#include "common/json_usd.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

static void check_fmt(int64_t micro, const char *want)
{
	char out[24];
	memset(out, 'Z', sizeof(out));
	hw_usd_format(micro, out);
	assert_string_equal(out, want);
}

static void test_format(void **state)
{
	check_fmt(0, "0");
	check_fmt(1, "0.000001");
	check_fmt(10, "0.00001");
	check_fmt(412, "0.000412");
	check_fmt(100000, "0.1");
	check_fmt(999999, "0.999999");
	check_fmt(1000000, "1");
	check_fmt(1500000, "1.5");
	check_fmt(10000000, "10");
	check_fmt(500000000, "500");
	check_fmt(500020000, "500.02");
	check_fmt(500000001, "500.000001");
	check_fmt(12345678901, "12345.678901");
}

static void test_format_negative(void **state)
{
	check_fmt(-1, "-0.000001");
	check_fmt(-412, "-0.000412");
	check_fmt(-1500000, "-1.5");
	check_fmt(-500000000, "-500");
	check_fmt(-500020000, "-500.02");
}

static void test_format_extremes(void **state)
{
	check_fmt(INT64_MAX, "9223372036854.775807");
	check_fmt(INT64_MIN, "-9223372036854.775808");
	check_fmt(INT64_MIN + 1, "-9223372036854.775807");
	check_fmt(INT64_MAX - 775807, "9223372036854");
}

static void test_dumps_numbers(void **state)
{
	json_t *o = json_object();
	json_object_set_new(o, "upstream_cost", hw_json_usd(412));
	json_object_set_new(o, "name", json_string("usd:5"));
	json_object_set_new(o, "list", json_pack("[o,o,s,o]", hw_json_usd(0), hw_json_usd(500000000),
						 "x", hw_json_usd(-1500000)));
	json_object_set_new(o, "nested", json_pack("{s:o,s:i}", "cap_usd", hw_json_usd(500020000), "n", 3));
	json_object_set_new(o, "extreme", hw_json_usd(INT64_MIN));
	char *t = hw_json_dumps(o);
	assert_non_null(t);
	assert_string_equal(t, "{\"upstream_cost\":0.000412,\"name\":\"usd:5\",\"list\":[0,500,\"x\",-1.5],"
			       "\"nested\":{\"cap_usd\":500.02,\"n\":3},\"extreme\":-9223372036854.775808}");
	/* The output parses, and amounts come back as numbers. */
	json_error_t err;
	json_t *back = json_loads(t, 0, &err);
	assert_non_null(back);
	assert_true(json_is_number(json_object_get(back, "upstream_cost")));
	assert_true(json_is_integer(json_array_get(json_object_get(back, "list"), 1)));
	assert_int_equal(json_integer_value(json_array_get(json_object_get(back, "list"), 1)), 500);
	json_decref(back);
	free(t);
	json_decref(o);
}

static void test_dumps_plain_strings_untouched(void **state)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "a", "usd:1", "b", "\\u0001usd:2", "c",
			      "price usd: 3", "d", "\"usd:4\"", "e", "usd:");
	char *t = hw_json_dumps(o);
	assert_non_null(t);
	assert_string_equal(t, "{\"a\":\"usd:1\",\"b\":\"\\\\u0001usd:2\",\"c\":\"price usd: 3\","
			       "\"d\":\"\\\"usd:4\\\"\",\"e\":[\"usd:\"]}");
	free(t);
	json_decref(o);
}

/* With no marker anywhere the text is exactly jansson's compact, ordered output. */
static void test_dumps_without_amounts(void **state)
{
	json_t *o = json_pack("{s:s,s:i,s:b,s:n,s:[]}", "z", "last", "a", 1, "t", 1, "nul", "arr");
	char *t = hw_json_dumps(o);
	assert_non_null(t);
	assert_string_equal(t, "{\"z\":\"last\",\"a\":1,\"t\":true,\"nul\":null,\"arr\":[]}");
	free(t);
	json_decref(o);
}

/* A string that merely holds the marker's bytes (model output relayed to the client, an
 * echoed prompt) must come out as the same string, and the document must stay valid JSON. */
static void test_dumps_foreign_marker_text(void **state)
{
	static const char *const texts[] = {
		"echo: a\"\x01usd:1",
		"\x01usd:1,\"injected\":true",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_t *o = json_pack("{s:s,s:o}", "content", texts[i], "cost", hw_json_usd(5));
		char *t = hw_json_dumps(o);
		assert_non_null(t);
		json_error_t err;
		json_t *back = json_loads(t, 0, &err);
		if (!back)
			print_error("not JSON: %s (%s)\n", t, err.text);
		assert_non_null(back);
		assert_string_equal(json_string_value(json_object_get(back, "content")), texts[i]);
		assert_null(json_object_get(back, "injected"));
		json_decref(back);
		free(t);
		json_decref(o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_negative),
		cmocka_unit_test(test_format_extremes),
		cmocka_unit_test(test_dumps_numbers),
		cmocka_unit_test(test_dumps_plain_strings_untouched),
		cmocka_unit_test(test_dumps_without_amounts),
		cmocka_unit_test(test_dumps_foreign_marker_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
