// SPDX-License-Identifier: Apache-2.0
#include "routing/catalog.h"

#include "upstream/breaker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USD(x) ((int64_t)((x) * 1000000.0 + 0.5))

struct builtin {
	const char *id;
	enum hw_tier tier;
	int quality;
	double in, out;
	int64_t context, max_out;
	const char *region;
};

/* SPEC §7.2. Prices are exact in micro-dollars; USD() only runs on these constants. */
static const struct builtin builtins[] = {
	{"google/gemini-2.5-flash-lite", HW_TIER_ULTRA_LIGHT, 40, 0.10, 0.40, 1048576, 65536, "us"},
	{"openai/gpt-4o-mini", HW_TIER_ULTRA_LIGHT, 45, 0.15, 0.60, 128000, 16384, "us"},
	{"mistral/ministral-8b-latest", HW_TIER_ULTRA_LIGHT, 35, 0.10, 0.10, 131072, 32768, "eu"},
	{"mistral/mistral-small-latest", HW_TIER_LIGHT, 50, 0.10, 0.30, 131072, 32768, "eu"},
	{"openai/gpt-4.1-mini", HW_TIER_LIGHT, 58, 0.40, 1.60, 1047576, 32768, "us"},
	{"anthropic/claude-haiku-4-5", HW_TIER_LIGHT, 60, 1.00, 5.00, 200000, 64000, "us"},
	{"google/gemini-2.5-flash", HW_TIER_STANDARD, 70, 0.30, 2.50, 1048576, 65536, "us"},
	{"mistral/mistral-medium-latest", HW_TIER_STANDARD, 68, 0.40, 2.00, 131072, 32768, "eu"},
	{"mistral/mistral-large-latest", HW_TIER_STANDARD, 72, 2.00, 6.00, 131072, 32768, "eu"},
	{"openai/gpt-4o", HW_TIER_STANDARD, 75, 2.50, 10.00, 128000, 16384, "us"},
	{"anthropic/claude-sonnet-4-5", HW_TIER_STANDARD, 80, 3.00, 15.00, 200000, 64000, "us"},
	{"anthropic/claude-sonnet-4-6", HW_TIER_STANDARD, 82, 3.00, 15.00, 200000, 64000, "us"},
	{"mistral/magistral-medium-latest", HW_TIER_HEAVY, 78, 2.00, 5.00, 131072, 40000, "eu"},
	{"google/gemini-2.5-pro", HW_TIER_HEAVY, 88, 1.25, 10.00, 1048576, 65536, "us"},
	{"openai/gpt-5", HW_TIER_HEAVY, 92, 1.25, 10.00, 400000, 128000, "us"},
	{"anthropic/claude-opus-4-7", HW_TIER_HEAVY, 95, 5.00, 25.00, 200000, 32000, "us"},
	{"local/echo-ultra-light", HW_TIER_ULTRA_LIGHT, 1, 0.10, 0.40, 1000000, 100000, "local"},
	{"local/echo-light", HW_TIER_LIGHT, 1, 1.00, 5.00, 1000000, 100000, "local"},
	{"local/echo-standard", HW_TIER_STANDARD, 1, 3.00, 15.00, 1000000, 100000, "local"},
	{"local/echo-heavy", HW_TIER_HEAVY, 1, 5.00, 25.00, 1000000, 100000, "local"},
};

static const char *const tier_names[HW_TIER__COUNT] = {"ultra-light", "light", "standard", "heavy"};

const char *hw_tier_name(enum hw_tier tier)
{
	return (unsigned)tier < HW_TIER__COUNT ? tier_names[tier] : "unknown";
}

int hw_tier_parse(const char *s)
{
	if (strcmp(s, "ultra_light") == 0)
		return HW_TIER_ULTRA_LIGHT;
	for (int i = 0; i < HW_TIER__COUNT; i++)
		if (strcmp(s, tier_names[i]) == 0)
			return i;
	return -1;
}

static void split_id(const char *id, char *provider, size_t plen, char *model, size_t mlen)
{
	const char *slash = strchr(id, '/');
	size_t n = slash ? (size_t)(slash - id) : strlen(id);
	snprintf(provider, plen, "%.*s", (int)n, id);
	snprintf(model, mlen, "%s", slash ? slash + 1 : id);
}

static void apply_price_defaults(struct hw_model *m)
{
	bool anthropic = m->provider && m->provider->kind == HW_PROVIDER_ANTHROPIC;
	if (m->cache_read_per_mtok < 0)
		m->cache_read_per_mtok = anthropic ? m->input_per_mtok / 10 : m->input_per_mtok / 2;
	if (m->cache_write_per_mtok < 0)
		m->cache_write_per_mtok = anthropic ? m->input_per_mtok * 5 / 4 : m->input_per_mtok;
}

static struct hw_model *find_mut(struct hw_catalog *cat, const char *id)
{
	for (size_t i = 0; i < cat->n; i++)
		if (strcmp(cat->models[i].id, id) == 0)
			return &cat->models[i];
	return NULL;
}

/* A file entry overrides a built-in one field by field (only what the file named); a new
 * entry takes every field, defaults included, from the loader. */
static void apply_file_entry(struct hw_model *m, const struct hw_cfg_model *c, bool fresh)
{
	uint32_t set = fresh ? ~0u : c->set;
/* The statement argument cannot be parenthesized. */
// NOLINTBEGIN(bugprone-macro-parentheses)
#define TAKE(bit, stmt)      \
	do {                 \
		if (set & (bit)) \
			stmt;    \
	} while (0)
	// NOLINTEND(bugprone-macro-parentheses)
	snprintf(m->id, sizeof(m->id), "%s", c->id);
	TAKE(HW_CFG_MODEL_PROVIDER, snprintf(m->provider_id, sizeof(m->provider_id), "%s", c->provider));
	TAKE(HW_CFG_MODEL_UPSTREAM_MODEL,
	     snprintf(m->upstream_model, sizeof(m->upstream_model), "%s", c->upstream_model));
	TAKE(HW_CFG_MODEL_REGION, snprintf(m->region, sizeof(m->region), "%s", c->region ? c->region : ""));
	int t = hw_tier_parse(c->tier ? c->tier : "standard");
	TAKE(HW_CFG_MODEL_TIER, m->tier = t < 0 ? HW_TIER_STANDARD : (enum hw_tier)t);
	TAKE(HW_CFG_MODEL_INPUT, m->input_per_mtok = c->input_per_mtok);
	TAKE(HW_CFG_MODEL_OUTPUT, m->output_per_mtok = c->output_per_mtok);
	TAKE(HW_CFG_MODEL_CACHE_READ, m->cache_read_per_mtok = c->cache_read_per_mtok);
	TAKE(HW_CFG_MODEL_CACHE_WRITE, m->cache_write_per_mtok = c->cache_write_per_mtok);
	TAKE(HW_CFG_MODEL_QUALITY, m->quality = c->quality);
	TAKE(HW_CFG_MODEL_CONTEXT_WINDOW, m->context_window = c->context_window);
	TAKE(HW_CFG_MODEL_MAX_OUTPUT_TOKENS, m->max_output_tokens = c->max_output_tokens);
	TAKE(HW_CFG_MODEL_MIN_CACHE_TOKENS, m->min_cache_tokens = c->min_cache_tokens);
	TAKE(HW_CFG_MODEL_CREATED, m->created = c->created);
	TAKE(HW_CFG_MODEL_SUPPORTS_TOOLS, m->supports_tools = c->supports_tools);
	TAKE(HW_CFG_MODEL_ENABLED, m->enabled = c->enabled);
#undef TAKE
}

int hw_catalog_build(const struct hw_config *cfg, struct hw_catalog **out)
{
	size_t nb = sizeof(builtins) / sizeof(builtins[0]);
	struct hw_catalog *cat = calloc(1, sizeof(*cat));
	if (!cat)
		return -ENOMEM;
	cat->cfg = cfg;
	cat->models = calloc(nb + cfg->catalog.n_models, sizeof(*cat->models));
	if (!cat->models) {
		free(cat);
		return -ENOMEM;
	}
	for (size_t i = 0; cfg->catalog.builtin && i < nb; i++) {
		const struct builtin *b = &builtins[i];
		struct hw_model *m = &cat->models[cat->n++];
		snprintf(m->id, sizeof(m->id), "%s", b->id);
		split_id(b->id, m->provider_id, sizeof(m->provider_id), m->upstream_model,
			 sizeof(m->upstream_model));
		snprintf(m->region, sizeof(m->region), "%s", b->region);
		m->tier = b->tier;
		m->input_per_mtok = USD(b->in);
		m->output_per_mtok = USD(b->out);
		m->cache_read_per_mtok = m->cache_write_per_mtok = -1;
		m->quality = b->quality;
		m->context_window = b->context;
		m->max_output_tokens = b->max_out;
		m->min_cache_tokens = strcmp(b->id, "anthropic/claude-haiku-4-5") == 0 ? 4096 : 1024;
		m->supports_tools = true;
		m->enabled = true;
	}
	for (size_t i = 0; i < cfg->catalog.n_models; i++) {
		const struct hw_cfg_model *c = &cfg->catalog.models[i];
		struct hw_model *m = find_mut(cat, c->id);
		bool fresh = m == NULL;
		if (fresh)
			m = &cat->models[cat->n++];
		apply_file_entry(m, c, fresh);
	}
	/* Breakers outlive catalogs: a reload keeps each model's circuit state. */
	hw_breaker_configure(cfg->upstream.breaker.failures, cfg->upstream.breaker.open_s,
			     cfg->upstream.breaker.max_cooldown_s);
	for (size_t i = 0; i < cat->n; i++) {
		cat->models[i].provider = hw_config_provider(cfg, cat->models[i].provider_id);
		cat->models[i].breaker = hw_breaker_for(cat->models[i].id);
		apply_price_defaults(&cat->models[i]);
	}
	*out = cat;
	return 0;
}

void hw_catalog_free(struct hw_catalog *cat)
{
	if (!cat)
		return;
	free(cat->models);
	free(cat);
}

const struct hw_model *hw_catalog_find(const struct hw_catalog *cat, const char *id)
{
	for (size_t i = 0; i < cat->n; i++)
		if (strcmp(cat->models[i].id, id) == 0)
			return &cat->models[i];
	return NULL;
}

bool hw_provider_usable(const struct hw_cfg_provider *p)
{
	if (!p || !p->enabled)
		return false;
	if (p->kind == HW_PROVIDER_ECHO || p->kind == HW_PROVIDER_OPENAI_COMPATIBLE)
		return true;
	return p->api_key && p->api_key[0];
}

int hw_catalog_resolve(const struct hw_catalog *cat, const char *field,
		       struct hw_model_resolution *out, char *msg, size_t msg_len)
{
	memset(out, 0, sizeof(*out));
	if (strcmp(field, "auto") == 0) {
		out->ask = HW_ASK_AUTO;
		return 0;
	}
	int tier = hw_tier_parse(field);
	if (tier >= 0) {
		out->ask = HW_ASK_TIER;
		out->tier = (enum hw_tier)tier;
		return 0;
	}
	out->ask = HW_ASK_MODEL;
	const struct hw_model *m = hw_catalog_find(cat, field);
	if (!m && !strchr(field, '/')) {
		for (size_t i = 0; i < cat->n; i++) {
			const struct hw_model *c = &cat->models[i];
			const char *slash = strchr(c->id, '/');
			if (!c->enabled || !slash || strcmp(slash + 1, field) != 0)
				continue;
			if (m) {
				snprintf(msg, msg_len, "Model '%s' is ambiguous: use a catalog id such as '%s'.",
					 field, m->id);
				return -EEXIST;
			}
			m = c;
		}
	}
	if (!m || !m->enabled) {
		snprintf(msg, msg_len, "Unknown model '%s'.", field);
		return -EINVAL;
	}
	out->model = m;
	return 0;
}

int64_t hw_cost_micro(int64_t tokens, int64_t per_mtok)
{
	if (tokens <= 0 || per_mtok <= 0)
		return 0;
	__int128 prod = (__int128)tokens * per_mtok;
	return (int64_t)((prod + 999999) / 1000000);
}
