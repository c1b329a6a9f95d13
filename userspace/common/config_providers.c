// SPDX-License-Identifier: Apache-2.0
/* providers (id -> settings, merged by id over the defaults) and catalog.models (SPEC §18,
 * §7.2, §8.1). An entry that names a different kind than the one it overrides starts
 * afresh from that kind's defaults; keys that only one kind uses are refused on others. */
#include "common/config_walk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define P struct hw_cfg_provider
#define M struct hw_cfg_model

static const char *const kind_names[] = {
	"openai", "openai_compatible", "mistral", "anthropic", "google", "echo", NULL};

_Static_assert(sizeof(enum hw_provider_kind) == sizeof(int), "kind is stored through an int");

/* The official endpoint of each kind, used when an entry names none. */
static const char *const kind_base_urls[] = {
	[HW_PROVIDER_OPENAI] = "https://api.openai.com/v1",
	[HW_PROVIDER_MISTRAL] = "https://api.mistral.ai/v1",
	[HW_PROVIDER_ANTHROPIC] = "https://api.anthropic.com",
	[HW_PROVIDER_GOOGLE] = "https://generativelanguage.googleapis.com",
};

const char *hw_provider_kind_name(enum hw_provider_kind kind)
{
	if ((unsigned int)kind >= sizeof(kind_names) / sizeof(kind_names[0]) - 1)
		return "unknown";
	return kind_names[kind];
}

static const struct hw_cfg_field provider_timeout_fields[] = {
	HW_CFG_INT(P, "connect_ms", timeouts.connect_ms, 1, HW_CFG_NOMAX),
	HW_CFG_INT(P, "first_byte_ms", timeouts.first_byte_ms, 1, HW_CFG_NOMAX),
	HW_CFG_INT(P, "response_ms", timeouts.response_ms, 1, HW_CFG_NOMAX),
	HW_CFG_INT(P, "idle_ms", timeouts.idle_ms, 1, HW_CFG_NOMAX),
	HW_CFG_INT(P, "total_ms", timeouts.total_ms, 1, HW_CFG_NOMAX),
	HW_CFG_END,
};

static const struct hw_cfg_field provider_fields[] = {
	HW_CFG_ENUM(P, "kind", kind, kind_names),
	HW_CFG_STR(P, "base_url", base_url, hw_cfg_check_http_url),
	HW_CFG_SECRET(P, "api_key", api_key, NULL),
	HW_CFG_BOOL(P, "enabled", enabled),
	HW_CFG_BOOL(P, "share_key", share_key),
	HW_CFG_INT(P, "max_connections", max_connections, 1, 65536),
	HW_CFG_MAP("timeouts", provider_timeout_fields),
	HW_CFG_BOOL(P, "prompt_cache", prompt_cache),
	HW_CFG_STR(P, "anthropic_version", anthropic_version, hw_cfg_check_nonempty),
	HW_CFG_BOOL(P, "stream_usage", stream_usage),
	HW_CFG_INT(P, "delay_ms", delay_ms, 0, 3600000),
	HW_CFG_INT(P, "chunk_delay_ms", chunk_delay_ms, 0, 3600000),
	HW_CFG_END,
};

#define KIND_BIT(k) (1u << (k))
#define ALL_BUT_ECHO (KIND_BIT(HW_PROVIDER_ECHO) - 1)

/* Keys only some kinds take; every other key of provider_fields is for all kinds. */
static const struct {
	const char *key;
	unsigned int kinds;
} kind_only[] = {
	{"base_url", ALL_BUT_ECHO},
	{"api_key", ALL_BUT_ECHO},
	{"prompt_cache", KIND_BIT(HW_PROVIDER_ANTHROPIC)},
	{"anthropic_version", KIND_BIT(HW_PROVIDER_ANTHROPIC)},
	{"stream_usage", KIND_BIT(HW_PROVIDER_OPENAI_COMPATIBLE)},
	{"delay_ms", KIND_BIT(HW_PROVIDER_ECHO)},
	{"chunk_delay_ms", KIND_BIT(HW_PROVIDER_ECHO)},
};

static void provider_release(struct hw_cfg_provider *p)
{
	hw_cfg_release(provider_fields, p);
	free(p->id);
	p->id = NULL;
}

/* A provider as its kind starts out; timeouts of -1 are inherited from upstream.timeouts. */
static int provider_init(struct hw_cfg_provider *p, const char *id, enum hw_provider_kind kind)
{
	*p = (struct hw_cfg_provider){
		.kind = kind,
		.enabled = true,
		.share_key = true,
		.prompt_cache = kind == HW_PROVIDER_ANTHROPIC,
		.stream_usage = true,
		.max_connections = 64,
		.timeouts = {-1, -1, -1, -1, -1},
	};
	p->id = strdup(id);
	if (!p->id)
		return -ENOMEM;
	if ((size_t)kind < sizeof(kind_base_urls) / sizeof(kind_base_urls[0]) &&
	    kind_base_urls[kind] && !(p->base_url = strdup(kind_base_urls[kind])))
		return -ENOMEM;
	if (kind == HW_PROVIDER_ANTHROPIC && !(p->anthropic_version = strdup("2023-06-01")))
		return -ENOMEM;
	return 0;
}

/* The kind an entry names, read before the rest so defaults follow the new kind. */
static int entry_kind(struct hw_cfg_walk *w, yaml_node_t *entry, int *kind)
{
	struct hw_cfg_field f = provider_fields[0];
	yaml_node_pair_t *pairs;
	size_t n;
	int ret = hw_cfg_mapping(w, entry, &pairs, &n);
	*kind = -1;
	f.off = 0;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (strcmp(hw_cfg_key(w, &pairs[i]), "kind") != 0)
			continue;
		size_t saved = hw_cfg_path_push(w, "kind");
		ret = hw_cfg_walk_field(w, hw_cfg_node(w, pairs[i].value), &f, kind);
		hw_cfg_path_pop(w, saved);
	}
	return ret;
}

static int parse_provider(struct hw_cfg_walk *w, struct hw_config *cfg, const char *id,
			  yaml_node_t *entry)
{
	struct hw_cfg_provider *p = NULL;
	uint64_t seen = 0;
	int kind, ret;

	if (hw_cfg_check_name(id))
		return hw_cfg_fail(w, "provider ids are 1 to 64 letters, digits, '_' or '-'");
	ret = entry_kind(w, entry, &kind);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < cfg->n_providers; i++)
		if (strcmp(cfg->providers[i].id, id) == 0)
			p = &cfg->providers[i];
	if (!p) {
		if (kind < 0) {
			hw_cfg_path_push(w, "kind");
			return hw_cfg_fail(w, "required for a new provider");
		}
		void *grown = realloc(cfg->providers, (cfg->n_providers + 1) * sizeof(*p));
		if (!grown)
			return -ENOMEM;
		cfg->providers = grown;
		p = &cfg->providers[cfg->n_providers++];
		if ((ret = provider_init(p, id, (enum hw_provider_kind)kind)) < 0)
			return ret;
	} else if (kind >= 0 && (enum hw_provider_kind)kind != p->kind) {
		provider_release(p);
		if ((ret = provider_init(p, id, (enum hw_provider_kind)kind)) < 0)
			return ret;
	}
	ret = hw_cfg_walk_map(w, entry, provider_fields, p, &seen);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < sizeof(kind_only) / sizeof(kind_only[0]); i++) {
		if (!hw_cfg_seen(seen, provider_fields, kind_only[i].key) ||
		    (kind_only[i].kinds & KIND_BIT(p->kind)))
			continue;
		hw_cfg_path_push(w, kind_only[i].key);
		return hw_cfg_fail(w, "not used by kind %s", hw_provider_kind_name(p->kind));
	}
	return 0;
}

int hw_cfg_parse_providers(struct hw_cfg_walk *w, yaml_node_t *node, void *base)
{
	return hw_cfg_each_entry(w, node, base, parse_provider);
}

void hw_cfg_release_providers(void *base)
{
	struct hw_config *cfg = base;
	for (size_t i = 0; i < cfg->n_providers; i++)
		provider_release(&cfg->providers[i]);
	free(cfg->providers);
	cfg->providers = NULL;
	cfg->n_providers = 0;
}

static const char *const tiers[] = {"ultra-light", "light", "standard", "heavy", NULL};
static const char *const tier_aliases[] = {"ultra_light", "ultra-light", NULL};

/* In the order of the HW_CFG_MODEL_* bits, so the walk's `seen` is the entry's `set`. */
static const struct hw_cfg_field model_fields[] = {
	HW_CFG_STR(M, "id", id, hw_cfg_check_model_id),
	HW_CFG_STR(M, "provider", provider, hw_cfg_check_name),
	HW_CFG_STR(M, "upstream_model", upstream_model, hw_cfg_check_nonempty),
	HW_CFG_CHOICE(M, "tier", tier, tiers, tier_aliases),
	HW_CFG_STR(M, "region", region, hw_cfg_check_nonempty),
	HW_CFG_USD(M, "input_per_mtok", input_per_mtok),
	HW_CFG_USD(M, "output_per_mtok", output_per_mtok),
	HW_CFG_USD(M, "cache_read_per_mtok", cache_read_per_mtok),
	HW_CFG_USD(M, "cache_write_per_mtok", cache_write_per_mtok),
	HW_CFG_INT(M, "quality", quality, 0, 100),
	HW_CFG_INT(M, "context_window", context_window, 1, HW_CFG_NOMAX),
	HW_CFG_INT(M, "max_output_tokens", max_output_tokens, 1, HW_CFG_NOMAX),
	HW_CFG_INT(M, "min_cache_tokens", min_cache_tokens, 0, HW_CFG_NOMAX),
	HW_CFG_INT(M, "created", created, 0, HW_CFG_NOMAX),
	HW_CFG_BOOL(M, "supports_tools", supports_tools),
	HW_CFG_BOOL(M, "enabled", enabled),
	HW_CFG_END,
};

_Static_assert(HW_CFG_MODEL_ENABLED == 1u << 15, "model_fields follows the HW_CFG_MODEL_* bits");

static void models_free(struct hw_cfg_model *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++)
		hw_cfg_release(model_fields, &m[i]);
	free(m);
}

void hw_cfg_release_models(void *base)
{
	struct hw_config *cfg = base;
	models_free(cfg->catalog.models, cfg->catalog.n_models);
	cfg->catalog.models = NULL;
	cfg->catalog.n_models = 0;
}

static int parse_model(struct hw_cfg_walk *w, yaml_node_t *node, struct hw_cfg_model *m,
		       const struct hw_cfg_model *before, size_t n_before)
{
	uint64_t seen = 0;
	*m = (struct hw_cfg_model){
		.min_cache_tokens = 1024, .supports_tools = true, .enabled = true};
	int ret = hw_cfg_walk_map(w, node, model_fields, m, &seen);
	if (ret < 0)
		return ret;
	m->set = (uint32_t)seen;
	hw_cfg_path_push(w, "id");
	if (!m->id)
		return hw_cfg_fail(w, "required");
	for (size_t i = 0; i < n_before; i++)
		if (strcmp(before[i].id, m->id) == 0)
			return hw_cfg_fail(w, "duplicate of catalog.models[%zu]", i);
	return 0;
}

int hw_cfg_parse_models(struct hw_cfg_walk *w, yaml_node_t *node, void *base)
{
	struct hw_config *cfg = base;
	struct hw_cfg_model *m = NULL;
	yaml_node_item_t *items;
	size_t n, i = 0;
	int ret = hw_cfg_sequence(w, node, &items, &n);
	if (ret < 0)
		return ret;
	if (n && !(m = calloc(n, sizeof(*m))))
		return -ENOMEM;
	for (; i < n; i++) {
		size_t saved = hw_cfg_path_push_index(w, i);
		ret = parse_model(w, hw_cfg_node(w, items[i]), &m[i], m, i);
		hw_cfg_path_pop(w, saved);
		if (ret < 0) {
			models_free(m, i + 1);
			return ret;
		}
	}
	hw_cfg_release_models(cfg);
	cfg->catalog.models = m;
	cfg->catalog.n_models = n;
	return 0;
}

static int64_t inherit(int64_t own, int64_t server) { return own < 0 ? server : own; }

/* §7.2 defaults that depend on other fields, and on the kind of the entry's provider. */
static int finish_model(struct hw_config *cfg, struct hw_cfg_model *m)
{
	const char *slash = strchr(m->id, '/');
	if (!m->provider && !(m->provider = strndup(m->id, (size_t)(slash - m->id))))
		return -ENOMEM;
	if (!m->upstream_model && !(m->upstream_model = strdup(slash + 1)))
		return -ENOMEM;
	m->set |= HW_CFG_MODEL_PROVIDER | HW_CFG_MODEL_UPSTREAM_MODEL;
	const struct hw_cfg_provider *p = hw_config_provider(cfg, m->provider);
	bool anthropic =
		p ? p->kind == HW_PROVIDER_ANTHROPIC : strcmp(m->provider, "anthropic") == 0;
	if ((m->set & HW_CFG_MODEL_INPUT) && !(m->set & HW_CFG_MODEL_CACHE_READ)) {
		m->cache_read_per_mtok =
			anthropic ? (m->input_per_mtok + 5) / 10 : (m->input_per_mtok + 1) / 2;
		m->set |= HW_CFG_MODEL_CACHE_READ;
	}
	if ((m->set & HW_CFG_MODEL_INPUT) && !(m->set & HW_CFG_MODEL_CACHE_WRITE)) {
		m->cache_write_per_mtok = anthropic
						  ? m->input_per_mtok + (m->input_per_mtok + 2) / 4
						  : m->input_per_mtok;
		m->set |= HW_CFG_MODEL_CACHE_WRITE;
	}
	if (!(m->set & HW_CFG_MODEL_MIN_CACHE_TOKENS) &&
	    strncmp(m->upstream_model, "claude-haiku-4-5", 16) == 0)
		m->min_cache_tokens = 4096;
	return 0;
}

int hw_cfg_finish_providers(struct hw_cfg_walk *w, struct hw_config *cfg)
{
	const struct hw_cfg_timeouts *up = &cfg->upstream.timeouts;
	int ret;

	for (size_t i = 0; i < cfg->n_providers; i++) {
		struct hw_cfg_provider *p = &cfg->providers[i];
		struct hw_cfg_timeouts *t = &p->timeouts;
		t->connect_ms = inherit(t->connect_ms, up->connect_ms);
		t->first_byte_ms = inherit(t->first_byte_ms, up->first_byte_ms);
		t->response_ms = inherit(t->response_ms, up->response_ms);
		t->idle_ms = inherit(t->idle_ms, up->idle_ms);
		t->total_ms = inherit(t->total_ms, up->total_ms);
		if (p->kind != HW_PROVIDER_ECHO && !p->base_url) {
			hw_cfg_path_set(w, "providers");
			hw_cfg_path_push(w, p->id);
			hw_cfg_path_push(w, "base_url");
			return hw_cfg_fail(w, "required for kind %s",
					   hw_provider_kind_name(p->kind));
		}
		for (size_t n = p->base_url ? strlen(p->base_url) : 0;
		     n && p->base_url[n - 1] == '/'; n--)
			p->base_url[n - 1] = '\0';
	}
	for (size_t i = 0; i < cfg->catalog.n_models; i++)
		if ((ret = finish_model(cfg, &cfg->catalog.models[i])) < 0)
			return ret;
	return 0;
}

const struct hw_cfg_provider *hw_config_provider(const struct hw_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->n_providers; i++)
		if (strcmp(cfg->providers[i].id, id) == 0)
			return &cfg->providers[i];
	return NULL;
}
