// SPDX-License-Identifier: Apache-2.0
/* The model catalog (SPEC §7.1, §7.2, §7.5, §8.6, §1.3 cost rounding) over a configuration
 * built by hand. */
#include "routing/catalog.h"
#include "routing/router.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_PROVIDERS 8
#define MAX_MODELS 8

struct fixture {
	struct hw_config cfg;
	struct hw_cfg_provider prov[MAX_PROVIDERS];
	struct hw_cfg_model models[MAX_MODELS];
	struct hw_catalog *cat;
};

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->cfg.catalog.builtin = true;
	f->cfg.providers = f->prov;
	f->cfg.catalog.models = f->models;
	return f;
}

static struct hw_cfg_provider *add_provider(struct fixture *f, const char *id,
					    enum hw_provider_kind kind, const char *key)
{
	assert_true(f->cfg.n_providers < MAX_PROVIDERS);
	struct hw_cfg_provider *p = &f->prov[f->cfg.n_providers++];
	p->id = (char *)id;
	p->kind = kind;
	p->api_key = (char *)key;
	p->enabled = true;
	p->share_key = true;
	return p;
}

/* A catalog.models entry as the config loader leaves it when the file names every field. */
static struct hw_cfg_model *add_model(struct fixture *f, const char *id, const char *tier,
				      int64_t in, int64_t out, int64_t quality)
{
	assert_true(f->cfg.catalog.n_models < MAX_MODELS);
	struct hw_cfg_model *m = &f->models[f->cfg.catalog.n_models++];
	static char provider[MAX_MODELS][64];
	size_t idx = (size_t)(m - f->models);
	const char *slash = strchr(id, '/');
	snprintf(provider[idx], sizeof(provider[idx]), "%.*s", (int)(slash - id), id);
	m->id = (char *)id;
	m->provider = provider[idx];
	m->upstream_model = (char *)(slash + 1);
	m->tier = (char *)tier;
	m->region = (char *)"local";
	m->input_per_mtok = in;
	m->output_per_mtok = out;
	m->cache_read_per_mtok = (in + 1) / 2;
	m->cache_write_per_mtok = in;
	m->quality = quality;
	m->context_window = 131072;
	m->max_output_tokens = 8192;
	m->min_cache_tokens = 1024;
	m->supports_tools = true;
	m->enabled = true;
	m->set = 0xffff;
	return m;
}

/* The primary the router gives a tier pin under the balanced profile, or NULL. */
static const struct hw_model *pick(const struct hw_catalog *cat, enum hw_tier tier)
{
	struct hw_router *r = NULL;
	assert_int_equal(hw_router_build(cat->cfg, cat, &r), 0);
	json_t *req = json_pack("{s:s,s:[{s:s,s:s}]}", "model", hw_tier_name(tier), "messages", "role",
				"user", "content", "x");
	struct hw_route_workspace ws = {.profile = HW_PROFILE_BALANCED};
	struct hw_route_request rq = {.request = req, .model = hw_tier_name(tier), .est_tokens = 1,
				      .max_tokens = 16};
	struct hw_route_result res;
	const struct hw_model *m = hw_route(r, &ws, &rq, &res) == 0 ? res.cand[0] : NULL;
	if (!m)
		json_decref(res.extra);
	json_decref(req);
	hw_router_free(r);
	return m;
}

static void build(struct fixture *f)
{
	assert_int_equal(hw_catalog_build(&f->cfg, &f->cat), 0);
	assert_non_null(f->cat);
}

static void fixture_free(struct fixture *f)
{
	hw_catalog_free(f->cat);
	free(f);
}

/* The usual fixture: openai with a key and the local echo provider. */
static struct fixture *std_fixture(void)
{
	struct fixture *f = fixture_new();
	add_provider(f, "openai", HW_PROVIDER_OPENAI, "sk-test");
	add_provider(f, "local", HW_PROVIDER_ECHO, NULL);
	return f;
}

struct builtin_row {
	const char *id;
	enum hw_tier tier;
	int64_t in, out, quality, context, max_out;
	const char *region;
};

/* SPEC §7.2, in µ$ per 1M tokens. */
static const struct builtin_row builtins[] = {
	{"google/gemini-2.5-flash-lite", HW_TIER_ULTRA_LIGHT, 100000, 400000, 40, 1048576, 65536, "us"},
	{"openai/gpt-4o-mini", HW_TIER_ULTRA_LIGHT, 150000, 600000, 45, 128000, 16384, "us"},
	{"mistral/ministral-8b-latest", HW_TIER_ULTRA_LIGHT, 100000, 100000, 35, 131072, 32768, "eu"},
	{"mistral/mistral-small-latest", HW_TIER_LIGHT, 100000, 300000, 50, 131072, 32768, "eu"},
	{"openai/gpt-4.1-mini", HW_TIER_LIGHT, 400000, 1600000, 58, 1047576, 32768, "us"},
	{"anthropic/claude-haiku-4-5", HW_TIER_LIGHT, 1000000, 5000000, 60, 200000, 64000, "us"},
	{"google/gemini-2.5-flash", HW_TIER_STANDARD, 300000, 2500000, 70, 1048576, 65536, "us"},
	{"mistral/mistral-medium-latest", HW_TIER_STANDARD, 400000, 2000000, 68, 131072, 32768, "eu"},
	{"mistral/mistral-large-latest", HW_TIER_STANDARD, 2000000, 6000000, 72, 131072, 32768, "eu"},
	{"openai/gpt-4o", HW_TIER_STANDARD, 2500000, 10000000, 75, 128000, 16384, "us"},
	{"anthropic/claude-sonnet-4-5", HW_TIER_STANDARD, 3000000, 15000000, 80, 200000, 64000, "us"},
	{"anthropic/claude-sonnet-4-6", HW_TIER_STANDARD, 3000000, 15000000, 82, 200000, 64000, "us"},
	{"mistral/magistral-medium-latest", HW_TIER_HEAVY, 2000000, 5000000, 78, 131072, 40000, "eu"},
	{"google/gemini-2.5-pro", HW_TIER_HEAVY, 1250000, 10000000, 88, 1048576, 65536, "us"},
	{"openai/gpt-5", HW_TIER_HEAVY, 1250000, 10000000, 92, 400000, 128000, "us"},
	{"anthropic/claude-opus-4-7", HW_TIER_HEAVY, 5000000, 25000000, 95, 200000, 32000, "us"},
	{"local/echo-ultra-light", HW_TIER_ULTRA_LIGHT, 100000, 400000, 1, 1000000, 100000, "local"},
	{"local/echo-light", HW_TIER_LIGHT, 1000000, 5000000, 1, 1000000, 100000, "local"},
	{"local/echo-standard", HW_TIER_STANDARD, 3000000, 15000000, 1, 1000000, 100000, "local"},
	{"local/echo-heavy", HW_TIER_HEAVY, 5000000, 25000000, 1, 1000000, 100000, "local"},
};

#define NBUILTIN (sizeof(builtins) / sizeof(builtins[0]))

static void test_builtin_table(void **state)
{
	struct fixture *f = std_fixture();
	add_provider(f, "anthropic", HW_PROVIDER_ANTHROPIC, "sk-ant");
	build(f);
	assert_int_equal(f->cat->n, 20);
	assert_int_equal(NBUILTIN, 20);
	for (size_t i = 0; i < NBUILTIN; i++) {
		const struct builtin_row *b = &builtins[i];
		const struct hw_model *m = hw_catalog_find(f->cat, b->id);
		if (!m)
			print_error("missing %s\n", b->id);
		assert_non_null(m);
		const char *slash = strchr(b->id, '/');
		assert_memory_equal(m->provider_id, b->id, (size_t)(slash - b->id));
		assert_int_equal(strlen(m->provider_id), (size_t)(slash - b->id));
		assert_string_equal(m->upstream_model, slash + 1);
		assert_int_equal(m->tier, b->tier);
		assert_int_equal(m->input_per_mtok, b->in);
		assert_int_equal(m->output_per_mtok, b->out);
		assert_int_equal(m->quality, b->quality);
		assert_int_equal(m->context_window, b->context);
		assert_int_equal(m->max_output_tokens, b->max_out);
		assert_string_equal(m->region, b->region);
		assert_true(m->supports_tools);
		assert_true(m->enabled);
		assert_int_equal(m->created, 0);
		assert_int_equal(m->min_cache_tokens,
				 strcmp(b->id, "anthropic/claude-haiku-4-5") == 0 ? 4096 : 1024);
		/* Cache prices: 0.1x / 1.25x input for anthropic, 0.5x / 1x otherwise. */
		if (strncmp(b->id, "anthropic/", 10) == 0) {
			assert_int_equal(m->cache_read_per_mtok, b->in / 10);
			assert_int_equal(m->cache_write_per_mtok, b->in * 5 / 4);
		} else {
			assert_int_equal(m->cache_read_per_mtok, b->in / 2);
			assert_int_equal(m->cache_write_per_mtok, b->in);
		}
	}
	/* Spot checks with the numbers spelled out. */
	const struct hw_model *m = hw_catalog_find(f->cat, "openai/gpt-4o");
	assert_int_equal(m->input_per_mtok, 2500000);
	assert_int_equal(m->output_per_mtok, 10000000);
	assert_int_equal(m->cache_read_per_mtok, 1250000);
	assert_int_equal(m->cache_write_per_mtok, 2500000);
	m = hw_catalog_find(f->cat, "anthropic/claude-sonnet-4-6");
	assert_int_equal(m->cache_read_per_mtok, 300000);
	assert_int_equal(m->cache_write_per_mtok, 3750000);
	m = hw_catalog_find(f->cat, "anthropic/claude-opus-4-7");
	assert_int_equal(m->cache_read_per_mtok, 500000);
	assert_int_equal(m->cache_write_per_mtok, 6250000);
	fixture_free(f);
}

static void test_provider_binding(void **state)
{
	struct fixture *f = std_fixture();
	build(f);
	assert_ptr_equal(hw_catalog_find(f->cat, "openai/gpt-4o")->provider, &f->prov[0]);
	assert_ptr_equal(hw_catalog_find(f->cat, "local/echo-light")->provider, &f->prov[1]);
	/* Entries of unconfigured providers are inert. */
	assert_null(hw_catalog_find(f->cat, "google/gemini-2.5-pro")->provider);
	assert_null(hw_catalog_find(f->cat, "anthropic/claude-opus-4-7")->provider);
	assert_null(hw_catalog_find(f->cat, "gpt-4o"));
	assert_null(hw_catalog_find(f->cat, "openai/nope"));
	fixture_free(f);
}

static void test_no_builtin(void **state)
{
	struct fixture *f = fixture_new();
	f->cfg.catalog.builtin = false;
	add_provider(f, "ollama", HW_PROVIDER_OPENAI_COMPATIBLE, NULL);
	add_model(f, "ollama/llama3.1:8b", "light", 0, 0, 40);
	build(f);
	assert_int_equal(f->cat->n, 1);
	const struct hw_model *m = hw_catalog_find(f->cat, "ollama/llama3.1:8b");
	assert_non_null(m);
	assert_string_equal(m->provider_id, "ollama");
	assert_string_equal(m->upstream_model, "llama3.1:8b");
	assert_int_equal(m->tier, HW_TIER_LIGHT);
	assert_int_equal(m->context_window, 131072);
	assert_ptr_equal(m->provider, &f->prov[0]);
	assert_null(hw_catalog_find(f->cat, "openai/gpt-4o"));
	fixture_free(f);
}

static void test_added_model(void **state)
{
	struct fixture *f = std_fixture();
	struct hw_cfg_model *c = add_model(f, "openai/ft-mine", "ultra_light", 300000, 1200000, 50);
	c->cache_read_per_mtok = 7;
	c->cache_write_per_mtok = 9;
	build(f);
	assert_int_equal(f->cat->n, 21);
	const struct hw_model *m = hw_catalog_find(f->cat, "openai/ft-mine");
	assert_non_null(m);
	assert_int_equal(m->tier, HW_TIER_ULTRA_LIGHT);
	assert_int_equal(m->input_per_mtok, 300000);
	assert_int_equal(m->output_per_mtok, 1200000);
	assert_int_equal(m->cache_read_per_mtok, 7);
	assert_int_equal(m->cache_write_per_mtok, 9);
	assert_int_equal(m->quality, 50);
	assert_ptr_equal(m->provider, &f->prov[0]);
	fixture_free(f);
}

/* catalog.models naming a built-in id overrides the fields the file named; the others keep
 * their §7.2 values (hw_cfg_model.set says which were named). */
static void test_partial_override_keeps_builtin_fields(void **state)
{
	struct fixture *f = std_fixture();
	struct hw_cfg_model *c = &f->models[f->cfg.catalog.n_models++];
	/* What the loader yields for `{id: openai/gpt-4o, input_per_mtok: 2}`. */
	c->id = (char *)"openai/gpt-4o";
	c->provider = (char *)"openai";
	c->upstream_model = (char *)"gpt-4o";
	c->input_per_mtok = 2000000;
	c->cache_read_per_mtok = 1000000;
	c->cache_write_per_mtok = 2000000;
	c->min_cache_tokens = 1024;
	c->supports_tools = true;
	c->enabled = true;
	c->set = HW_CFG_MODEL_ID | HW_CFG_MODEL_PROVIDER | HW_CFG_MODEL_UPSTREAM_MODEL |
		 HW_CFG_MODEL_INPUT | HW_CFG_MODEL_CACHE_READ | HW_CFG_MODEL_CACHE_WRITE;
	build(f);
	assert_int_equal(f->cat->n, 20);
	const struct hw_model *m = hw_catalog_find(f->cat, "openai/gpt-4o");
	assert_non_null(m);
	assert_int_equal(m->input_per_mtok, 2000000);
	assert_int_equal(m->cache_read_per_mtok, 1000000);
	assert_int_equal(m->output_per_mtok, 10000000);
	assert_int_equal(m->tier, HW_TIER_STANDARD);
	assert_int_equal(m->quality, 75);
	assert_int_equal(m->context_window, 128000);
	assert_int_equal(m->max_output_tokens, 16384);
	assert_string_equal(m->region, "us");
	assert_true(m->enabled);
	fixture_free(f);
}

static void test_tier_names(void **state)
{
	assert_string_equal(hw_tier_name(HW_TIER_ULTRA_LIGHT), "ultra-light");
	assert_string_equal(hw_tier_name(HW_TIER_LIGHT), "light");
	assert_string_equal(hw_tier_name(HW_TIER_STANDARD), "standard");
	assert_string_equal(hw_tier_name(HW_TIER_HEAVY), "heavy");
	assert_int_equal(hw_tier_parse("ultra-light"), HW_TIER_ULTRA_LIGHT);
	assert_int_equal(hw_tier_parse("ultra_light"), HW_TIER_ULTRA_LIGHT);
	assert_int_equal(hw_tier_parse("light"), HW_TIER_LIGHT);
	assert_int_equal(hw_tier_parse("standard"), HW_TIER_STANDARD);
	assert_int_equal(hw_tier_parse("heavy"), HW_TIER_HEAVY);
	assert_int_equal(hw_tier_parse("auto"), -1);
	assert_int_equal(hw_tier_parse("Heavy"), -1);
	assert_int_equal(hw_tier_parse("ultralight"), -1);
	assert_int_equal(hw_tier_parse(""), -1);
}

static void test_resolve(void **state)
{
	struct fixture *f = std_fixture();
	build(f);
	struct hw_model_resolution r;
	char msg[256];

	assert_int_equal(hw_catalog_resolve(f->cat, "auto", &r, msg, sizeof(msg)), 0);
	assert_int_equal(r.ask, HW_ASK_AUTO);
	assert_null(r.model);

	static const struct {
		const char *field;
		enum hw_tier tier;
	} tiers[] = {{"ultra_light", HW_TIER_ULTRA_LIGHT},
		     {"ultra-light", HW_TIER_ULTRA_LIGHT},
		     {"light", HW_TIER_LIGHT},
		     {"standard", HW_TIER_STANDARD},
		     {"heavy", HW_TIER_HEAVY}};
	for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++) {
		assert_int_equal(hw_catalog_resolve(f->cat, tiers[i].field, &r, msg, sizeof(msg)), 0);
		assert_int_equal(r.ask, HW_ASK_TIER);
		assert_int_equal(r.tier, tiers[i].tier);
		assert_null(r.model);
	}

	assert_int_equal(hw_catalog_resolve(f->cat, "openai/gpt-4o", &r, msg, sizeof(msg)), 0);
	assert_int_equal(r.ask, HW_ASK_MODEL);
	assert_ptr_equal(r.model, hw_catalog_find(f->cat, "openai/gpt-4o"));

	/* A bare model name: the one enabled entry with that model part. */
	assert_int_equal(hw_catalog_resolve(f->cat, "gpt-4o", &r, msg, sizeof(msg)), 0);
	assert_int_equal(r.ask, HW_ASK_MODEL);
	assert_non_null(r.model);
	assert_string_equal(r.model->id, "openai/gpt-4o");
	assert_int_equal(hw_catalog_resolve(f->cat, "echo-light", &r, msg, sizeof(msg)), 0);
	assert_string_equal(r.model->id, "local/echo-light");
	assert_int_equal(hw_catalog_resolve(f->cat, "gpt-4o-mini", &r, msg, sizeof(msg)), 0);
	assert_string_equal(r.model->id, "openai/gpt-4o-mini");
	fixture_free(f);
}

static void test_resolve_unknown(void **state)
{
	struct fixture *f = std_fixture();
	build(f);
	struct hw_model_resolution r;
	char msg[256];
	static const char *const bad[] = {"gpt-9", "openai/gpt-9", "nope/gpt-4o", "openai/", "/gpt-4o",
					  "", "Auto", "GPT-4O", "openai/gpt-4o ", "ultra light"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		int rc = hw_catalog_resolve(f->cat, bad[i], &r, msg, sizeof(msg));
		if (rc != -EINVAL)
			print_error("'%s' -> %d\n", bad[i], rc);
		assert_int_equal(rc, -EINVAL);
		assert_true(strlen(msg) > 0);
	}
	assert_int_equal(hw_catalog_resolve(f->cat, "gpt-9", &r, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "Unknown model 'gpt-9'.");
	fixture_free(f);
}

static void test_resolve_ambiguous(void **state)
{
	struct fixture *f = std_fixture();
	add_provider(f, "ollama", HW_PROVIDER_OPENAI_COMPATIBLE, NULL);
	add_model(f, "ollama/shared-model", "light", 0, 0, 40);
	add_model(f, "local/shared-model", "light", 0, 0, 1);
	build(f);
	struct hw_model_resolution r;
	char msg[256] = "";
	assert_int_equal(hw_catalog_resolve(f->cat, "shared-model", &r, msg, sizeof(msg)), -EEXIST);
	assert_non_null(strstr(msg, "shared-model"));
	/* The full ids still resolve. */
	assert_int_equal(hw_catalog_resolve(f->cat, "ollama/shared-model", &r, msg, sizeof(msg)), 0);
	assert_string_equal(r.model->id, "ollama/shared-model");
	assert_int_equal(hw_catalog_resolve(f->cat, "local/shared-model", &r, msg, sizeof(msg)), 0);
	assert_string_equal(r.model->id, "local/shared-model");
	fixture_free(f);
}

static void test_resolve_disabled(void **state)
{
	struct fixture *f = std_fixture();
	/* `{id: openai/gpt-4o, enabled: false}` */
	struct hw_cfg_model *c = &f->models[f->cfg.catalog.n_models++];
	c->id = (char *)"openai/gpt-4o";
	c->provider = (char *)"openai";
	c->upstream_model = (char *)"gpt-4o";
	c->min_cache_tokens = 1024;
	c->supports_tools = true;
	c->enabled = false;
	c->set = HW_CFG_MODEL_ID | HW_CFG_MODEL_PROVIDER | HW_CFG_MODEL_UPSTREAM_MODEL |
		 HW_CFG_MODEL_ENABLED;
	/* A disabled twin does not make a bare name ambiguous. */
	struct hw_cfg_model *d = add_model(f, "local/gpt-4o-mini", "light", 0, 0, 1);
	d->enabled = false;
	build(f);
	struct hw_model_resolution r;
	char msg[256];
	assert_int_equal(hw_catalog_resolve(f->cat, "openai/gpt-4o", &r, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(hw_catalog_resolve(f->cat, "gpt-4o", &r, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(hw_catalog_resolve(f->cat, "local/gpt-4o-mini", &r, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(hw_catalog_resolve(f->cat, "gpt-4o-mini", &r, msg, sizeof(msg)), 0);
	assert_string_equal(r.model->id, "openai/gpt-4o-mini");
	/* A disabled entry is never picked either. */
	assert_ptr_not_equal(pick(f->cat, HW_TIER_STANDARD),
			     hw_catalog_find(f->cat, "openai/gpt-4o"));
	fixture_free(f);
}

static void test_provider_usable(void **state)
{
	struct hw_cfg_provider p;
	memset(&p, 0, sizeof(p));
	p.enabled = true;

	p.kind = HW_PROVIDER_ECHO;
	assert_true(hw_provider_usable(&p));
	p.kind = HW_PROVIDER_OPENAI_COMPATIBLE;
	assert_true(hw_provider_usable(&p));
	p.api_key = (char *)"";
	assert_true(hw_provider_usable(&p));

	static const enum hw_provider_kind keyed[] = {HW_PROVIDER_OPENAI, HW_PROVIDER_MISTRAL,
						      HW_PROVIDER_ANTHROPIC, HW_PROVIDER_GOOGLE};
	for (size_t i = 0; i < 4; i++) {
		p.kind = keyed[i];
		p.api_key = NULL;
		assert_false(hw_provider_usable(&p));
		p.api_key = (char *)"";
		assert_false(hw_provider_usable(&p));
		p.api_key = (char *)"sk-x";
		assert_true(hw_provider_usable(&p));
	}


	/* Disabled: never usable, key or not. */
	p.enabled = false;
	p.kind = HW_PROVIDER_OPENAI;
	p.api_key = (char *)"sk-x";
	assert_false(hw_provider_usable(&p));
	p.kind = HW_PROVIDER_ECHO;
	assert_false(hw_provider_usable(&p));
	p.kind = HW_PROVIDER_OPENAI_COMPATIBLE;
	assert_false(hw_provider_usable(&p));

	assert_false(hw_provider_usable(NULL));
}

static void assert_pick(const struct hw_catalog *cat, enum hw_tier tier, const char *want)
{
	const struct hw_model *m = pick(cat, tier);
	if (!want) {
		if (m)
			print_error("tier %s: got %s, want none\n", hw_tier_name(tier), m->id);
		assert_null(m);
		return;
	}
	if (!m)
		print_error("tier %s: got none, want %s\n", hw_tier_name(tier), want);
	assert_non_null(m);
	assert_string_equal(m->id, want);
}

static void test_pick_openai_and_echo(void **state)
{
	struct fixture *f = std_fixture();
	build(f);
	/* openai is usable, so echo models are not candidates. */
	assert_pick(f->cat, HW_TIER_ULTRA_LIGHT, "openai/gpt-4o-mini");
	assert_pick(f->cat, HW_TIER_LIGHT, "openai/gpt-4.1-mini");
	assert_pick(f->cat, HW_TIER_STANDARD, "openai/gpt-4o");
	assert_pick(f->cat, HW_TIER_HEAVY, "openai/gpt-5");
	fixture_free(f);
}

static void test_pick_echo_only(void **state)
{
	struct fixture *f = fixture_new();
	add_provider(f, "openai", HW_PROVIDER_OPENAI, NULL); /* no key: unusable */
	add_provider(f, "anthropic", HW_PROVIDER_ANTHROPIC, "sk-ant")->enabled = false;
	add_provider(f, "local", HW_PROVIDER_ECHO, NULL);
	build(f);
	assert_pick(f->cat, HW_TIER_ULTRA_LIGHT, "local/echo-ultra-light");
	assert_pick(f->cat, HW_TIER_LIGHT, "local/echo-light");
	assert_pick(f->cat, HW_TIER_STANDARD, "local/echo-standard");
	assert_pick(f->cat, HW_TIER_HEAVY, "local/echo-heavy");
	fixture_free(f);
}

static void test_pick_nothing_usable(void **state)
{
	struct fixture *f = fixture_new();
	add_provider(f, "openai", HW_PROVIDER_OPENAI, "");
	add_provider(f, "local", HW_PROVIDER_ECHO, NULL)->enabled = false;
	build(f);
	for (int t = 0; t < HW_TIER__COUNT; t++)
		assert_pick(f->cat, (enum hw_tier)t, NULL);
	fixture_free(f);
}

/* A usable non-echo provider without a model in the tier still keeps echo out (§8.6). */
static void test_pick_echo_excluded_by_other_provider(void **state)
{
	struct fixture *f = fixture_new();
	add_provider(f, "ollama", HW_PROVIDER_OPENAI_COMPATIBLE, NULL);
	add_provider(f, "local", HW_PROVIDER_ECHO, NULL);
	add_model(f, "ollama/llama3.1:8b", "light", 0, 0, 40);
	build(f);
	assert_pick(f->cat, HW_TIER_LIGHT, "ollama/llama3.1:8b");
	assert_pick(f->cat, HW_TIER_STANDARD, NULL);
	assert_pick(f->cat, HW_TIER_HEAVY, NULL);
	fixture_free(f);
}

static void test_pick_balanced_all_providers(void **state)
{
	struct fixture *f = fixture_new();
	add_provider(f, "openai", HW_PROVIDER_OPENAI, "sk-o");
	add_provider(f, "anthropic", HW_PROVIDER_ANTHROPIC, "sk-a");
	add_provider(f, "mistral", HW_PROVIDER_MISTRAL, "sk-m");
	add_provider(f, "google", HW_PROVIDER_GOOGLE, "sk-g");
	add_provider(f, "local", HW_PROVIDER_ECHO, NULL);
	build(f);
	/* Highest quality / ((3 x in + out) / 4). */
	assert_pick(f->cat, HW_TIER_ULTRA_LIGHT, "mistral/ministral-8b-latest");
	assert_pick(f->cat, HW_TIER_LIGHT, "mistral/mistral-small-latest");
	assert_pick(f->cat, HW_TIER_STANDARD, "mistral/mistral-medium-latest");
	assert_pick(f->cat, HW_TIER_HEAVY, "mistral/magistral-medium-latest");
	fixture_free(f);

	/* Without mistral. */
	f = fixture_new();
	add_provider(f, "openai", HW_PROVIDER_OPENAI, "sk-o");
	add_provider(f, "anthropic", HW_PROVIDER_ANTHROPIC, "sk-a");
	add_provider(f, "mistral", HW_PROVIDER_MISTRAL, "sk-m")->enabled = false;
	add_provider(f, "google", HW_PROVIDER_GOOGLE, "sk-g");
	build(f);
	/* gemini-2.5-flash-lite 40 / 0.175 beats gpt-4o-mini 45 / 0.2625; gemini-2.5-flash
	 * 70 / 0.85 beats gpt-4o and the sonnets; gpt-5 92 / 3.4375 beats gemini-2.5-pro 88. */
	assert_pick(f->cat, HW_TIER_ULTRA_LIGHT, "google/gemini-2.5-flash-lite");
	assert_pick(f->cat, HW_TIER_LIGHT, "openai/gpt-4.1-mini");
	assert_pick(f->cat, HW_TIER_STANDARD, "google/gemini-2.5-flash");
	assert_pick(f->cat, HW_TIER_HEAVY, "openai/gpt-5");
	fixture_free(f);

	/* Anthropic alone. */
	f = fixture_new();
	add_provider(f, "anthropic", HW_PROVIDER_ANTHROPIC, "sk-a");
	build(f);
	/* No ultra-light model; sonnet-4-6 beats sonnet-4-5 on quality at the same price. */
	assert_pick(f->cat, HW_TIER_ULTRA_LIGHT, NULL);
	assert_pick(f->cat, HW_TIER_LIGHT, "anthropic/claude-haiku-4-5");
	assert_pick(f->cat, HW_TIER_STANDARD, "anthropic/claude-sonnet-4-6");
	assert_pick(f->cat, HW_TIER_HEAVY, "anthropic/claude-opus-4-7");
	fixture_free(f);
}

static void test_pick_free_and_ties(void **state)
{
	struct fixture *f = std_fixture();
	add_provider(f, "x", HW_PROVIDER_OPENAI_COMPATIBLE, NULL);
	/* A free model wins over any priced one, even with a low quality. */
	add_model(f, "x/free", "light", 0, 0, 5);
	/* Equal quality per blended price (both blend to 8): the lower input price wins. */
	add_model(f, "x/b-in2", "heavy", 2000000, 2000000, 100);
	add_model(f, "x/a-in1", "heavy", 1000000, 5000000, 100);
	/* Identical prices and quality: the smaller id wins. */
	add_model(f, "x/zz", "ultra-light", 10, 10, 100);
	add_model(f, "x/yy", "ultra-light", 10, 10, 100);
	build(f);
	assert_pick(f->cat, HW_TIER_LIGHT, "x/free");
	assert_pick(f->cat, HW_TIER_HEAVY, "x/a-in1");
	assert_pick(f->cat, HW_TIER_ULTRA_LIGHT, "x/yy");
	assert_pick(f->cat, HW_TIER_STANDARD, "openai/gpt-4o");
	fixture_free(f);
}

static void test_cost_micro(void **state)
{
	assert_int_equal(hw_cost_micro(1, 1), 1);
	assert_int_equal(hw_cost_micro(0, 1), 0);
	assert_int_equal(hw_cost_micro(0, 25000000), 0);
	assert_int_equal(hw_cost_micro(1000, 0), 0);
	assert_int_equal(hw_cost_micro(999999, 1), 1);
	assert_int_equal(hw_cost_micro(1000000, 1), 1);
	assert_int_equal(hw_cost_micro(1000001, 1), 2);
	assert_int_equal(hw_cost_micro(1, 2500000), 3);
	assert_int_equal(hw_cost_micro(2, 2500000), 5);
	assert_int_equal(hw_cost_micro(1000, 2500000), 2500);
	assert_int_equal(hw_cost_micro(1000000, 2500000), 2500000);
	assert_int_equal(hw_cost_micro(123, 150000), 19); /* 18.45 -> 19 */
	/* Past int64 in the intermediate product, not in the result. */
	assert_int_equal(hw_cost_micro(4000000000000LL, 25000000), 100000000000000LL);
	assert_int_equal(hw_cost_micro(INT64_MAX, 1000000), INT64_MAX);
	assert_int_equal(hw_cost_micro(INT64_MAX, 1), 9223372036855LL);
	assert_int_equal(hw_cost_micro(1000000, INT64_MAX), INT64_MAX);
	assert_int_equal(hw_cost_micro(3037000500LL, 3037000500LL), 9223372037000LL + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_table),
		cmocka_unit_test(test_provider_binding),
		cmocka_unit_test(test_no_builtin),
		cmocka_unit_test(test_added_model),
		cmocka_unit_test(test_partial_override_keeps_builtin_fields),
		cmocka_unit_test(test_tier_names),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_resolve_unknown),
		cmocka_unit_test(test_resolve_ambiguous),
		cmocka_unit_test(test_resolve_disabled),
		cmocka_unit_test(test_provider_usable),
		cmocka_unit_test(test_pick_openai_and_echo),
		cmocka_unit_test(test_pick_echo_only),
		cmocka_unit_test(test_pick_nothing_usable),
		cmocka_unit_test(test_pick_echo_excluded_by_other_provider),
		cmocka_unit_test(test_pick_balanced_all_providers),
		cmocka_unit_test(test_pick_free_and_ties),
		cmocka_unit_test(test_cost_micro),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
