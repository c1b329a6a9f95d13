// SPDX-License-Identifier: Apache-2.0
/* The router (SPEC §7.1, §7.4–§7.7, §8.6) over configurations loaded from YAML: pins, usable
 * providers, profiles and their tie-breaks, the fallback order, regions, the context and
 * tools filters with their tier-ups, Budget Control, the echo rule and exact reasons. */
#include "routing/router.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct env {
	struct hw_config *cfg;
	struct hw_catalog *cat;
	struct hw_router *router;
	json_t *req;
	struct hw_route_workspace ws;
	struct hw_route_request rq;
	struct hw_route_result res;
};

/* openai and mistral hold keys; anthropic and google are not served by this build; local
 * (echo) is configured by default. */
#define KEYS                                                                                       \
	"providers:\n"                                                                             \
	"  openai: {api_key: sk-test}\n"                                                           \
	"  mistral: {api_key: mk-test}\n"

#define OC_PROVIDER                                                                                \
	"providers:\n"                                                                             \
	"  openai: {enabled: false}\n"                                                             \
	"  mistral: {enabled: false}\n"                                                            \
	"  local: {enabled: false}\n"                                                              \
	"  oc: {kind: openai_compatible, base_url: \"http://127.0.0.1:9/v1\"}\n"

#define SEGFAULT_PROMPT                                                                            \
	"Why does this segfault?\n```c\nint main(void) {\n    char *p = 0;\n    *p = 1;\n"         \
	"    return 0;\n}\n```"

static struct env *env_new(const char *yaml)
{
	char err[512] = "";
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	/* The default providers read their keys from the environment: keep it out. */
	unsetenv("OPENAI_API_KEY");
	unsetenv("MISTRAL_API_KEY");
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("GEMINI_API_KEY");
	if (hw_config_load_string(yaml, strlen(yaml), "hiway.yaml", &e->cfg, err, sizeof(err)) != 0)
		fail_msg("config: %s", err);
	assert_int_equal(hw_catalog_build(e->cfg, &e->cat), 0);
	assert_int_equal(hw_router_build(e->cfg, e->cat, &e->router), 0);
	e->ws.profile = HW_PROFILE_BALANCED;
	e->rq.max_tokens = 4096;
	return e;
}

static void env_free(struct env *e)
{
	json_decref(e->res.extra);
	json_decref(e->req);
	hw_router_free(e->router);
	hw_catalog_free(e->cat);
	hw_config_free(e->cfg);
	free(e);
}

/* Routes one user message with the given `model` field. */
static int route(struct env *e, const char *model, const char *text)
{
	json_decref(e->req);
	json_decref(e->res.extra);
	e->res.extra = NULL;
	e->req = json_pack("{s:s,s:[{s:s,s:s}]}", "model", model, "messages", "role", "user",
			   "content", text);
	assert_non_null(e->req);
	e->rq.request = e->req;
	e->rq.model = model;
	if (!e->rq.est_tokens)
		e->rq.est_tokens = ((int64_t)strlen(text) + 3) / 4;
	int ret = hw_route(e->router, &e->ws, &e->rq, &e->res);
	e->rq.est_tokens = 0;
	return ret;
}

static void expect_cands(const struct env *e, const char *const *ids)
{
	size_t n = 0;
	for (; ids[n]; n++) {
		if (n >= e->res.n_cand)
			fail_msg("candidate %zu missing, expected %s", n, ids[n]);
		if (strcmp(e->res.cand[n]->id, ids[n]) != 0)
			fail_msg("candidate %zu is %s, expected %s", n, e->res.cand[n]->id, ids[n]);
	}
	assert_int_equal(e->res.n_cand, n);
}

#define CANDS(e, ...) expect_cands(e, (const char *const[]){__VA_ARGS__, NULL})

static void expect_error(const struct env *e, int ret, int want_ret, enum hw_err err,
			 const char *field, const char *value)
{
	assert_int_equal(ret, want_ret);
	assert_int_equal(e->res.err, err);
	assert_true(e->res.msg[0] != '\0');
	assert_non_null(e->res.extra);
	json_t *v = json_object_get(e->res.extra, field);
	assert_non_null(v);
	if (value)
		assert_string_equal(json_string_value(v), value);
	else
		assert_true(json_is_null(v));
}

static void test_auto_and_profiles(void **state)
{
	struct env *e = env_new(KEYS);

	assert_int_equal(route(e, "auto", "hi"), 0);
	assert_string_equal(e->res.tier, "ultra-light");
	assert_true(e->res.scored);
	assert_true(e->res.may_fall_back);
	assert_string_equal(e->res.reason, "trivial, ultra_light");
	/* balanced: ministral 35/0.40 beats gpt-4o-mini 45/1.05; google is not served. */
	CANDS(e, "mistral/ministral-8b-latest", "openai/gpt-4o-mini");

	assert_int_equal(route(e, "auto", SEGFAULT_PROMPT), 0);
	assert_string_equal(e->res.tier, "standard");
	assert_string_equal(e->res.reason, "intent=0.40, code=0.85, margin_bump");
	assert_true(e->res.score > 0.26 && e->res.score < 0.28);
	CANDS(e, "mistral/mistral-medium-latest", "mistral/mistral-large-latest", "openai/gpt-4o");

	e->ws.profile = HW_PROFILE_QUALITY;
	assert_int_equal(route(e, "auto", SEGFAULT_PROMPT), 0);
	CANDS(e, "openai/gpt-4o", "mistral/mistral-medium-latest", "mistral/mistral-large-latest");
	assert_int_equal(route(e, "auto", "hi"), 0);
	CANDS(e, "openai/gpt-4o-mini", "mistral/ministral-8b-latest");

	e->ws.profile = HW_PROFILE_BUDGET;
	assert_int_equal(route(e, "heavy", "hi"), 0);
	/* heavy: magistral 2.00 in, gpt-5 1.25 in. */
	CANDS(e, "openai/gpt-5", "mistral/magistral-medium-latest");
	assert_string_equal(e->res.reason, "trivial, tier_pin");

	assert_int_equal(hw_profile_parse("budget"), HW_PROFILE_BUDGET);
	assert_int_equal(hw_profile_parse("balanced"), HW_PROFILE_BALANCED);
	assert_int_equal(hw_profile_parse("quality"), HW_PROFILE_QUALITY);
	assert_int_equal(hw_profile_parse("cheap"), -1);
	assert_int_equal(hw_profile_parse(NULL), -1);
	env_free(e);
}

#define M(id, tier, in, out, q)                                                                    \
	"  - {id: " id ", tier: " tier ", input_per_mtok: " in ", output_per_mtok: " out           \
	", quality: " q                                                                            \
	", supports_tools: true, context_window: 100000, max_output_tokens: 8192, "                \
	"region: local}\n"

static void test_tie_breaks(void **state)
{
	struct env *e = env_new(
	    OC_PROVIDER "catalog:\n  builtin: false\n  models:\n"
	    /* light, for budget: lowest input, then output, then quality, then id */
	    M("oc/l-a", "light", "1", "2", "90") M("oc/l-b", "light", "1", "1", "40")
		M("oc/l-d", "light", "1", "1", "60") M("oc/l-c", "light", "1", "1", "60")
	    /* standard, for balanced: 40/4 = 80/8 per blended price, the lower input wins */
	    M("oc/s-h", "standard", "1.00", "1.00", "40")
		M("oc/s-i", "standard", "0.50", "6.50", "80")
		    M("oc/s-j", "standard", "0.10", "20", "70")
	    /* heavy, for quality: equal quality, lower blended, then id */
	    M("oc/h-l", "heavy", "1", "10", "90") M("oc/h-k", "heavy", "2", "6", "90")
		M("oc/h-j", "heavy", "3", "3", "90") M("oc/h-z", "heavy", "0.5", "1", "50")
	    /* ultra-light: a free model wins under balanced, whatever its quality */
	    M("oc/u-free", "ultra-light", "0", "0", "10")
		M("oc/u-good", "ultra-light", "0.01", "0.01", "100")
		    M("oc/u-free2", "ultra-light", "0", "0", "90"));

	e->ws.profile = HW_PROFILE_BUDGET;
	assert_int_equal(route(e, "light", "hi"), 0);
	CANDS(e, "oc/l-c", "oc/l-b", "oc/l-d", "oc/l-a");

	e->ws.profile = HW_PROFILE_BALANCED;
	assert_int_equal(route(e, "standard", "hi"), 0);
	CANDS(e, "oc/s-i", "oc/s-j", "oc/s-h");
	assert_int_equal(route(e, "auto", "hi"), 0);
	assert_string_equal(e->res.tier, "ultra-light");
	/* Both free: a tie on quality per price, broken by input price then id. */
	CANDS(e, "oc/u-free", "oc/u-free2", "oc/u-good");

	e->ws.profile = HW_PROFILE_QUALITY;
	assert_int_equal(route(e, "heavy", "hi"), 0);
	/* h-j and h-k both blend to 12/4; h-l to 13/4. Fallback: input ascending. */
	CANDS(e, "oc/h-j", "oc/h-z", "oc/h-l", "oc/h-k");
	env_free(e);
}

static void test_pins(void **state)
{
	struct env *e = env_new(KEYS "catalog:\n  models:\n"
				     "  - {id: oc2/gpt-4o, provider: openai, tier: standard, "
				     "input_per_mtok: 1, output_per_mtok: 1, quality: 10, "
				     "context_window: 1000, max_output_tokens: 100, region: us}\n"
				     "  - {id: openai/off, tier: light, input_per_mtok: 1, "
				     "output_per_mtok: 1, quality: 10, context_window: 1000, "
				     "max_output_tokens: 100, region: us, enabled: false}\n");
	int ret = route(e, "openai/gpt-4o", "hi");
	assert_int_equal(ret, 0);
	assert_string_equal(e->res.tier, "override");
	assert_false(e->res.scored);
	assert_false(e->res.may_fall_back);
	assert_string_equal(e->res.reason, "model_pin");
	CANDS(e, "openai/gpt-4o");

	assert_int_equal(route(e, "gpt-5", "hi"), 0); /* bare name */
	CANDS(e, "openai/gpt-5");

	ret = route(e, "gpt-4o", "hi"); /* two entries end in /gpt-4o */
	expect_error(e, ret, -EINVAL, HW_ERR_INVALID_REQUEST, "param", "model");
	ret = route(e, "nope/x", "hi");
	expect_error(e, ret, -EINVAL, HW_ERR_INVALID_REQUEST, "param", "model");
	ret = route(e, "openai/off", "hi");
	expect_error(e, ret, -EINVAL, HW_ERR_INVALID_REQUEST, "param", "model");

	ret = route(e, "anthropic/claude-opus-4-7", "hi"); /* provider without a usable key */
	expect_error(e, ret, -ENOKEY, HW_ERR_BYOK_MISSING, "provider", "anthropic");

	/* An explicit pin may name the demo provider. */
	assert_int_equal(route(e, "local/echo-light", "hi"), 0);
	CANDS(e, "local/echo-light");

	/* Model pins are never downgraded. */
	e->rq.budget = HW_BUDGET_LIGHT_ONLY;
	assert_int_equal(route(e, "openai/gpt-5", "hi"), 0);
	assert_string_equal(e->res.tier, "override");
	CANDS(e, "openai/gpt-5");
	e->rq.budget = HW_BUDGET_OK;

	/* Data residency holds for pins. */
	e->ws.allowed_regions_json = "[\"eu\"]";
	ret = route(e, "openai/gpt-4o", "hi");
	expect_error(e, ret, -EINVAL, HW_ERR_INVALID_REQUEST, "param", "model");
	assert_int_equal(route(e, "mistral/mistral-large-latest", "hi"), 0);

	/* Tier names, both spellings of ultra-light; gates skipped (no ultra_light modifier). */
	e->ws.allowed_regions_json = NULL;
	assert_int_equal(route(e, "ultra_light", "Explain how TCP congestion control works"), 0);
	assert_string_equal(e->res.tier, "ultra-light");
	assert_string_equal(e->res.reason, "intent=0.60, tier_pin");
	assert_true(e->res.scored);
	assert_true(e->res.may_fall_back);
	assert_int_equal(route(e, "ultra-light", "hi"), 0);
	assert_string_equal(e->res.reason, "trivial, tier_pin");
	assert_int_equal(route(e, "light", "hi"), 0);
	assert_string_equal(e->res.tier, "light");
	CANDS(e, "mistral/mistral-small-latest", "openai/gpt-4.1-mini");
	env_free(e);
}

static void test_usable_providers(void **state)
{
	/* Nothing usable: echo disabled, no keys. */
	struct env *e = env_new("providers:\n  local: {enabled: false}\n");
	int ret = route(e, "auto", "hi");
	expect_error(e, ret, -ENOKEY, HW_ERR_BYOK_MISSING, "provider", NULL);
	ret = route(e, "heavy", "hi");
	expect_error(e, ret, -ENOKEY, HW_ERR_BYOK_MISSING, "provider", NULL);
	ret = route(e, "openai/gpt-4o", "hi");
	expect_error(e, ret, -ENOKEY, HW_ERR_BYOK_MISSING, "provider", "openai");
	env_free(e);

	/* Only echo: echo models are the candidates. */
	e = env_new("");
	assert_int_equal(route(e, "auto", "hi"), 0);
	assert_string_equal(e->res.reason, "trivial, ultra_light");
	CANDS(e, "local/echo-ultra-light");
	assert_int_equal(route(e, "auto", SEGFAULT_PROMPT), 0);
	CANDS(e, "local/echo-standard");
	env_free(e);

	/* A real provider usable: echo never answers for it. */
	e = env_new("providers:\n  openai: {api_key: sk-test}\n");
	for (const char *const *t =
		 (const char *const[]){"ultra-light", "light", "standard", "heavy", NULL};
	     *t; t++) {
		assert_int_equal(route(e, *t, "hi"), 0);
		for (size_t i = 0; i < e->res.n_cand; i++)
			assert_string_not_equal(e->res.cand[i]->provider_id, "local");
	}
	assert_int_equal(route(e, "standard", "hi"), 0);
	CANDS(e, "openai/gpt-4o");
	env_free(e);
}

static bool no_openai(void *arg, const struct hw_cfg_provider *p)
{
	int *calls = arg;
	(*calls)++;
	return strcmp(p->id, "openai") != 0 && hw_provider_usable(p);
}

static void test_workspace_usable_and_regions(void **state)
{
	struct env *e = env_new(KEYS);
	int calls = 0;
	e->ws.usable = no_openai;
	e->ws.usable_arg = &calls;
	assert_int_equal(route(e, "heavy", "hi"), 0);
	CANDS(e, "mistral/magistral-medium-latest");
	assert_true(calls > 0);
	int ret = route(e, "openai/gpt-5", "hi");
	expect_error(e, ret, -ENOKEY, HW_ERR_BYOK_MISSING, "provider", "openai");
	e->ws.usable = NULL;

	e->ws.allowed_regions_json = "[\"eu\"]";
	assert_int_equal(route(e, "auto", "hi"), 0);
	CANDS(e, "mistral/ministral-8b-latest");
	e->ws.allowed_regions_json = "[\"us\", \"local\"]";
	assert_int_equal(route(e, "heavy", "hi"), 0);
	CANDS(e, "openai/gpt-5");
	e->ws.allowed_regions_json = "null";
	assert_int_equal(route(e, "heavy", "hi"), 0);
	assert_int_equal(e->res.n_cand, 2);
	/* A region nobody serves: the tier has no usable model. */
	e->ws.allowed_regions_json = "[\"ap\"]";
	ret = route(e, "heavy", "hi");
	expect_error(e, ret, -ENOKEY, HW_ERR_NO_PROVIDER_KEY, "tier", "heavy");
	env_free(e);
}

static void test_context_filter(void **state)
{
	struct env *e = env_new("providers:\n  openai: {api_key: sk-test}\n");

	/* gpt-4o holds 128000: 123904 + 4096 fits exactly. */
	e->rq.est_tokens = 123904;
	assert_int_equal(route(e, "standard", "hi"), 0);
	assert_string_equal(e->res.tier, "standard");
	CANDS(e, "openai/gpt-4o");

	e->rq.est_tokens = 123905;
	assert_int_equal(route(e, "standard", "hi"), 0);
	assert_string_equal(e->res.tier, "heavy");
	CANDS(e, "openai/gpt-5");
	assert_string_equal(e->res.reason, "context=0.60, context_tier_up, tier_pin");

	/* ultra-light (gpt-4o-mini, 128000) is skipped by the context too, one tier at a time:
	 * light holds gpt-4.1-mini (1047576). */
	e->rq.est_tokens = 200000;
	assert_int_equal(route(e, "ultra-light", "hi"), 0);
	assert_string_equal(e->res.tier, "light");
	assert_string_equal(e->res.reason, "context=0.60, context_tier_up, tier_pin");

	/* Nothing fits up to heavy: the error names the tier asked. */
	e->rq.est_tokens = 2000000;
	int ret = route(e, "standard", "hi");
	expect_error(e, ret, -ENOKEY, HW_ERR_NO_PROVIDER_KEY, "tier", "standard");
	env_free(e);
}

static void test_tools_filter(void **state)
{
	struct env *e =
	    env_new(KEYS "catalog:\n  models:\n"
			 "  - {id: mistral/mistral-small-latest, supports_tools: false}\n"
			 "  - {id: openai/gpt-4.1-mini, supports_tools: false}\n");
	assert_int_equal(route(e, "light", "hi"), 0);
	assert_string_equal(e->res.tier, "light");
	e->rq.has_tools = true;
	assert_int_equal(route(e, "light", "hi"), 0);
	assert_string_equal(e->res.tier, "standard");
	assert_string_equal(e->res.reason, "trivial, tools_tier_up, tier_pin");
	CANDS(e, "mistral/mistral-medium-latest", "mistral/mistral-large-latest", "openai/gpt-4o");
	env_free(e);

	/* A tier with no usable model at all is an error, not a tier-up. */
	e = env_new(OC_PROVIDER "catalog:\n  builtin: false\n  models:\n" M(
	    "oc/only-light", "light", "1", "1", "50"));
	int ret = route(e, "heavy", "hi");
	expect_error(e, ret, -ENOKEY, HW_ERR_NO_PROVIDER_KEY, "tier", "heavy");
	/* The ultra-light gates pass but no ultra-light model exists: light serves it. */
	assert_int_equal(route(e, "auto", "hi"), 0);
	assert_string_equal(e->res.tier, "light");
	assert_string_equal(e->res.reason, "trivial");
	/* An ultra-light tier pin is strict. */
	ret = route(e, "ultra-light", "hi");
	expect_error(e, ret, -ENOKEY, HW_ERR_NO_PROVIDER_KEY, "tier", "ultra-light");
	env_free(e);
}

static void test_budget(void **state)
{
	struct env *e = env_new(KEYS);

	e->rq.budget = HW_BUDGET_DOWNGRADE;
	assert_int_equal(route(e, "auto", SEGFAULT_PROMPT), 0);
	assert_string_equal(e->res.tier, "light");
	assert_string_equal(e->res.reason, "intent=0.40, code=0.85, margin_bump, budget_downgrade");
	assert_int_equal(route(e, "heavy", "hi"), 0);
	assert_string_equal(e->res.tier, "standard");
	assert_string_equal(e->res.reason, "trivial, budget_downgrade, tier_pin");
	assert_int_equal(route(e, "light", "hi"), 0);
	assert_string_equal(e->res.tier, "light");
	assert_string_equal(e->res.reason, "trivial, tier_pin");
	assert_int_equal(route(e, "auto", "hi"), 0);
	assert_string_equal(e->res.tier, "ultra-light");
	assert_string_equal(e->res.reason, "trivial, ultra_light");

	e->rq.budget = HW_BUDGET_LIGHT_ONLY;
	assert_int_equal(route(e, "heavy", "hi"), 0);
	assert_string_equal(e->res.tier, "light");
	assert_string_equal(e->res.reason, "trivial, budget_light_only, tier_pin");
	assert_int_equal(route(e, "standard", "hi"), 0);
	assert_string_equal(e->res.tier, "light");

	e->rq.budget = HW_BUDGET_BLOCK;
	int ret = route(e, "auto", "hi");
	assert_int_equal(ret, -EPERM);
	assert_int_equal(e->res.err, HW_ERR_BUDGET_EXCEEDED);
	assert_string_equal(json_string_value(json_object_get(e->res.extra, "verdict")), "BLOCK");
	env_free(e);
}

static void test_fallback_modifier_and_order(void **state)
{
	struct env *e = env_new(KEYS);
	assert_int_equal(route(e, "auto", SEGFAULT_PROMPT), 0);
	hw_route_add_modifier(&e->res, HW_MOD_FALLBACK);
	assert_string_equal(e->res.reason, "intent=0.40, code=0.85, margin_bump, fallback");
	assert_int_equal(route(e, "openai/gpt-4o", "hi"), 0);
	hw_route_add_modifier(&e->res, HW_MOD_PASSTHROUGH);
	assert_string_equal(e->res.reason, "model_pin, passthrough");

	/* Three analyzers at most, picked by weighted contribution, listed in table order:
	 * intent 1.00·0.25, code 0.50·0.20 and domain 1.00·0.10 beat complexity 0.25·0.15. */
	char reason[192];
	struct hw_analysis a = {0};
	double v[HW_AN__COUNT] = {1.0, 0.25, 0.0, 0.0, 0.5, 1.0, 0.004};
	double w[HW_AN__COUNT] = {0.25, 0.15, 0.10, 0.10, 0.20, 0.10, 0.10};
	memcpy(a.value, v, sizeof(v));
	memcpy(a.weight, w, sizeof(w));
	hw_route_reason(&a, HW_MOD_MARGIN_BUMP | HW_MOD_TOOLS_TIER_UP | HW_MOD_FALLBACK, reason,
			sizeof(reason));
	assert_string_equal(reason, "intent=1.00, code=0.50, domain=1.00, margin_bump, "
				    "tools_tier_up, fallback");
	env_free(e);
}

static void test_candidate_cap(void **state)
{
	/* 40 light models: the primary plus the 31 first in fallback order are kept. */
	char *yaml = malloc(16384);
	assert_non_null(yaml);
	size_t off = (size_t)snprintf(yaml, 16384, "%s",
				      OC_PROVIDER "catalog:\n  builtin: false\n  models:\n");
	for (int i = 0; i < 40; i++)
		off += (size_t)snprintf(yaml + off, 16384 - off,
					"  - {id: oc/m%02d, tier: light, input_per_mtok: %d, "
					"output_per_mtok: 1, quality: %d, context_window: 100000, "
					"max_output_tokens: 100, region: local}\n",
					i, 40 - i, i == 0 ? 100 : 1);
	struct env *e = env_new(yaml);
	free(yaml);
	e->ws.profile = HW_PROFILE_QUALITY;
	assert_int_equal(route(e, "light", "hi"), 0);
	assert_int_equal(e->res.n_cand, HW_ROUTE_MAX_CANDIDATES);
	assert_string_equal(e->res.cand[0]->id, "oc/m00"); /* quality 100, the dearest */
	assert_string_equal(e->res.cand[1]->id, "oc/m39");
	assert_string_equal(e->res.cand[31]->id, "oc/m09");
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auto_and_profiles),
	    cmocka_unit_test(test_tie_breaks),
	    cmocka_unit_test(test_pins),
	    cmocka_unit_test(test_usable_providers),
	    cmocka_unit_test(test_workspace_usable_and_regions),
	    cmocka_unit_test(test_context_filter),
	    cmocka_unit_test(test_tools_filter),
	    cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_fallback_modifier_and_order),
	    cmocka_unit_test(test_candidate_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
