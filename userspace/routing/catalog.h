/* SPDX-License-Identifier: Apache-2.0 */
/* The model catalog (SPEC §7.2): the built-in table merged with catalog.models, each entry
 * bound to its configured provider; and resolution of a request's `model` field (§7.1). */
#ifndef HW_ROUTING_CATALOG_H
#define HW_ROUTING_CATALOG_H

#include "common/config.h"

#include <stdbool.h>
#include <stdint.h>

struct hw_breaker;

enum hw_tier { HW_TIER_ULTRA_LIGHT, HW_TIER_LIGHT, HW_TIER_STANDARD, HW_TIER_HEAVY, HW_TIER__COUNT };

struct hw_model {
	char id[128];
	char provider_id[64];
	char upstream_model[128];
	char region[32];
	enum hw_tier tier;
	int64_t input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok; /* µ$/1M */
	int64_t quality, context_window, max_output_tokens, min_cache_tokens, created;
	bool supports_tools, enabled;
	const struct hw_cfg_provider *provider; /* NULL: provider not configured (entry inert) */
	struct hw_breaker *breaker;             /* this provider+model's circuit (SPEC §9.4) */
};

struct hw_catalog {
	struct hw_model *models;
	size_t n;
	const struct hw_config *cfg;
};

int hw_catalog_build(const struct hw_config *cfg, struct hw_catalog **out);
void hw_catalog_free(struct hw_catalog *cat);

const char *hw_tier_name(enum hw_tier tier);
/* Accepts "ultra-light" and "ultra_light"; returns -1 when not a tier name. */
int hw_tier_parse(const char *s);

const struct hw_model *hw_catalog_find(const struct hw_catalog *cat, const char *id);

/* A provider is usable when configured, enabled and holding a key, or needing none. */
bool hw_provider_usable(const struct hw_cfg_provider *p);

enum hw_model_ask { HW_ASK_AUTO, HW_ASK_TIER, HW_ASK_MODEL };

struct hw_model_resolution {
	enum hw_model_ask ask;
	enum hw_tier tier;            /* HW_ASK_TIER */
	const struct hw_model *model; /* HW_ASK_MODEL */
};

/* Resolves the `model` field. Returns 0, or -EINVAL (unknown, disabled) / -EEXIST
 * (ambiguous bare name) with a message for the 400 body. */
int hw_catalog_resolve(const struct hw_catalog *cat, const char *field,
		       struct hw_model_resolution *out, char *msg, size_t msg_len);

/* Cost of n tokens at p µ$/1M, rounded up (SPEC §1.3). */
int64_t hw_cost_micro(int64_t tokens, int64_t per_mtok);

#endif
