// SPDX-License-Identifier: Apache-2.0
/* The canonical prompt hash and the response hash (SPEC §11.2), and the settings overlay
 * of GET/PUT .../guardian (SPEC §16.2). */
#include "common/config.h"
#include "guardian/guardian.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void hash_of(const char *json, uint8_t out[HW_GD_HASH_LEN])
{
	json_t *j = json_loads(json, 0, NULL);
	assert_non_null(j);
	assert_int_equal(hw_gd_prompt_hash(j, out), 0);
	json_decref(j);
}

static void hex(const uint8_t *h, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void test_excluded_fields(void **state)
{
	(void)state;
	uint8_t a[32], b[32];
	hash_of("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", a);
	hash_of("{\"temperature\":0.3,\"top_p\":0.9,\"stream\":true,\"max_tokens\":99,"
		"\"max_completion_tokens\":5,\"seed\":4,\"user\":\"u\",\"model\":\"auto\","
		"\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
		b);
	assert_memory_equal(a, b, 32);
	/* The same text as one string or as text parts (the /v1/messages internal form). */
	hash_of("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":"
		"[{\"type\":\"text\",\"text\":\"hi\"}]}]}",
		b);
	assert_memory_equal(a, b, 32);
}

static void test_stable_value(void **state)
{
	(void)state;
	/* SHA-256("4:auto,4:user,2:hi,0:,") — netstrings of model, role, text, tool_call_id. */
	uint8_t a[32];
	char h[65];
	hash_of("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", a);
	hex(a, h);
	assert_string_equal(h, "3d1b146c017eb624bbe21dd4636c9001e17a97fd8aeac90dc3ef04829999d6fc");
}

static void test_what_changes_the_hash(void **state)
{
	(void)state;
	const char *base =
	    "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
	const char *other[] = {
	    "{\"model\":\"fast\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	    "{\"model\":\"auto\",\"messages\":[{\"role\":\"system\",\"content\":\"hi\"}]}",
	    "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi \"}]}",
	    "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"h\"},{\"type\":\"text\",\"text\":\"i\"}]}]}",
	    "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}",
	    "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
	    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":"
	    "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}]}",
	    /* Netstrings keep boundaries: "u"+"ser" is not "us"+"er". */
	    "{\"model\":\"autou\",\"messages\":[{\"role\":\"ser\",\"content\":\"hi\"}]}",
	};
	uint8_t a[32], b[32];
	hash_of(base, a);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		hash_of(other[i], b);
		assert_memory_not_equal(a, b, 32);
	}
	/* Tool call id and arguments count. */
	hash_of("{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"a\","
		"\"content\":\"r\"}]}",
		a);
	hash_of("{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"b\","
		"\"content\":\"r\"}]}",
		b);
	assert_memory_not_equal(a, b, 32);
	json_t *none = json_pack("{s:s}", "model", "m");
	assert_int_equal(hw_gd_prompt_hash(none, a), -EINVAL);
	json_decref(none);
}

static void test_response_hash(void **state)
{
	(void)state;
	uint8_t a[32], b[32];
	json_t *x =
	    json_loads("{\"id\":\"1\",\"created\":1,\"choices\":[{\"message\":{\"role\":"
		       "\"assistant\",\"content\":\"ok\"}}],\"usage\":{\"total_tokens\":3}}",
		       0, NULL);
	json_t *y = json_loads("{\"id\":\"2\",\"created\":2,\"choices\":[{\"message\":{\"role\":"
			       "\"assistant\",\"content\":\"ok\"}}]}",
			       0, NULL);
	assert_int_equal(hw_gd_response_hash(x, a), 0);
	assert_int_equal(hw_gd_response_hash(y, b), 0);
	assert_memory_equal(a, b, 32); /* ids, times and usage do not count */
	json_decref(y);
	y = json_loads(
	    "{\"choices\":[{\"message\":{\"content\":\"ok\",\"tool_calls\":[{\"function\":"
	    "{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}",
	    0, NULL);
	assert_int_equal(hw_gd_response_hash(y, b), 0);
	assert_memory_not_equal(a, b, 32);
	json_decref(x);
	json_decref(y);
}

static void test_settings_overlay(void **state)
{
	(void)state;
	char err[256], param[64], msg[160];
	struct hw_config *cfg = NULL;
	const char *yaml = "guardian: {dedup: {count: 7}}\n";
	assert_int_equal(
	    hw_config_load_string(yaml, strlen(yaml), "hiway.yaml", &cfg, err, sizeof(err)), 0);
	struct hw_gd_settings s;
	hw_gd_settings_defaults(cfg, &s);
	assert_int_equal(s.dedup.count, 7);
	assert_int_equal(s.cost_spike.min_spend, 1000000);
	assert_int_equal(s.cost_spike.action, HW_GD_THROTTLE);
	json_t *body = json_loads("{\"dedup\":{\"window_s\":30,\"action\":\"alert-only\"},"
				  "\"cost_spike\":{\"min_spend_usd\":2.5,\"multiplier\":3}}",
				  0, NULL);
	assert_int_equal(hw_gd_settings_apply(&s, body, param, sizeof(param), msg, sizeof(msg)), 0);
	assert_int_equal(s.dedup.count, 7);
	assert_int_equal(s.dedup.window_s, 30);
	assert_int_equal(s.dedup.action, HW_GD_ALERT);
	assert_int_equal(s.cost_spike.min_spend, 2500000);
	json_decref(body);
	const char *bad[][2] = {
	    {"{\"dedup\":{\"count\":0}}", "dedup.count"},
	    {"{\"dedup\":{\"enabled\":1}}", "dedup.enabled"},
	    {"{\"cost_spike\":{\"multiplier\":0}}", "cost_spike.multiplier"},
	    {"{\"cost_spike\":{\"min_spend_usd\":-1}}", "cost_spike.min_spend_usd"},
	    {"{\"context_bloat\":{\"action\":\"throttle\"}}", "context_bloat.action"},
	    {"{\"zombie_agent\":{\"nope\":1}}", "zombie_agent.nope"},
	    {"{\"zombie_agent\":3}", "zombie_agent"},
	    {"{\"other\":{}}", "other"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		body = json_loads(bad[i][0], 0, NULL);
		assert_int_equal(
		    hw_gd_settings_apply(&s, body, param, sizeof(param), msg, sizeof(msg)),
		    -EINVAL);
		assert_string_equal(param, bad[i][1]);
		json_decref(body);
	}
	json_t *out = hw_gd_settings_json(&s);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(out, "dedup"), "count")), 7);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(out, "dedup"), "action")), "alert");
	json_decref(out);
	hw_config_free(cfg);
}

static void test_settings_cache(void **state)
{
	(void)state;
	char err[256];
	struct hw_config *cfg = NULL, *cfg2 = NULL;
	assert_int_equal(hw_config_load_string("", 0, "hiway.yaml", &cfg, err, sizeof(err)), 0);
	const char *y2 = "guardian: {dedup: {window_s: 5}}\n";
	assert_int_equal(
	    hw_config_load_string(y2, strlen(y2), "hiway.yaml", &cfg2, err, sizeof(err)), 0);
	struct hw_gd_limits lim;
	hw_gd_limits_from_config(cfg, &lim);
	struct hw_guardian *g = hw_guardian_new(&lim);
	struct hw_gd_stored rows[] = {{"ws_b", "{\"dedup\":{\"count\":9}}"}, {"ws_a", "{}"}};
	assert_int_equal(hw_guardian_settings_load(g, cfg, rows, 2), 0);
	assert_int_equal(hw_guardian_settings(g, cfg, "ws_b")->dedup.count, 9);
	assert_int_equal(hw_guardian_settings(g, cfg, "ws_a")->dedup.count, 3);
	assert_int_equal(hw_guardian_settings(g, cfg, "ws_z")->dedup.count, 3);
	/* A reloaded configuration changes the defaults under the stored bodies. */
	const struct hw_gd_settings *b = hw_guardian_settings(g, cfg2, "ws_b");
	assert_int_equal(b->dedup.count, 9);
	assert_int_equal(b->dedup.window_s, 5);
	hw_guardian_free(g);
	hw_config_free(cfg);
	hw_config_free(cfg2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_excluded_fields),	  cmocka_unit_test(test_stable_value),
	    cmocka_unit_test(test_what_changes_the_hash), cmocka_unit_test(test_response_hash),
	    cmocka_unit_test(test_settings_overlay),	  cmocka_unit_test(test_settings_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
