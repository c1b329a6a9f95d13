/* SPDX-License-Identifier: Apache-2.0 */
/* Smart routing (SPEC §7.1, §7.4–§7.7): the `model` field, score to tier with the margin and
 * the ultra-light gates, Budget Control downgrades, candidates per tier with the tools,
 * context and region filters, the workspace profile's primary and the fallback order, and
 * the reason string. Pure and deterministic: no I/O, no lock; on success the only allocation
 * is one text buffer when the user and system texts together exceed 8 KiB.
 * Not here: Budget Control BLOCK and passthrough (the caller decides them before routing)
 * and circuit-breaker skips (the caller walks the candidates). */
#ifndef HW_ROUTING_ROUTER_H
#define HW_ROUTING_ROUTER_H

#include "common/config.h"
#include "common/errors.h"
#include "routing/analyzers.h"
#include "routing/catalog.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hw_budget_verdict { HW_BUDGET_OK, HW_BUDGET_DOWNGRADE, HW_BUDGET_LIGHT_ONLY, HW_BUDGET_BLOCK };

enum hw_profile { HW_PROFILE_BALANCED, HW_PROFILE_BUDGET, HW_PROFILE_QUALITY };

/* Reason modifiers (§7.7), as bits in the order the reason lists them. */
enum hw_route_modifier {
	HW_MOD_MARGIN_BUMP = 1u << 0,
	HW_MOD_ULTRA_LIGHT = 1u << 1,
	HW_MOD_TOOLS_TIER_UP = 1u << 2,
	HW_MOD_CONTEXT_TIER_UP = 1u << 3,
	HW_MOD_BUDGET_DOWNGRADE = 1u << 4,
	HW_MOD_BUDGET_LIGHT_ONLY = 1u << 5,
	HW_MOD_TIER_PIN = 1u << 6,
	HW_MOD_MODEL_PIN = 1u << 7,
	HW_MOD_PASSTHROUGH = 1u << 8,
	HW_MOD_FALLBACK = 1u << 9,
};

/* Immutable once built; shared by every worker thread. Borrows cfg and cat, which must
 * outlive it (a reload builds a new router beside the new catalog). */
struct hw_router;

struct hw_route_workspace {
	enum hw_profile profile;
	/* JSON array text such as ["eu","us"]; NULL, "" or "null" = any region. */
	const char *allowed_regions_json;
	/* Whether the workspace can use the provider (its own key, or the server's shared one);
	 * NULL = hw_provider_usable. Called several times per catalog entry: keep it a lookup. */
	bool (*usable)(void *arg, const struct hw_cfg_provider *p);
	void *usable_arg;
};

struct hw_route_request {
	const json_t *request; /* OpenAI-form body */
	const char *model;     /* its `model` field */
	int64_t est_tokens;    /* §1.3 */
	int64_t max_tokens;    /* the max tokens that will be sent upstream */
	bool has_tools;	       /* the request carries a non-empty `tools` */
	enum hw_budget_verdict budget;
	/* Passthrough (SPEC §7.6): non-NULL = no scoring; `auto` and tier names go to this
	 * catalog id, model pins are honoured; tier "passthrough", no fallback. */
	const char *passthrough_model;
};

#define HW_ROUTE_MAX_CANDIDATES 32

struct hw_route_result {
	const char *tier; /* "ultra-light" | "light" | "standard" | "heavy" | "override" */
	bool scored;	  /* false for model pins: _hiway.score is null */
	double score;
	struct hw_analysis analysis; /* valid when scored */
	unsigned modifiers;	     /* enum hw_route_modifier bits */
	char reason[192];
	/* The primary first, then the others in fallback order. */
	const struct hw_model *cand[HW_ROUTE_MAX_CANDIDATES];
	size_t n_cand;
	bool may_fall_back; /* auto and tier pins */
	/* When hw_route fails: the error, its message and extra fields ({"param":"model"},
	 * {"provider":...}, {"tier":...}); the caller owns extra (pass it to hw_err_body). */
	enum hw_err err;
	char msg[256];
	json_t *extra;
};

/* Builds the keyword tables and thresholds of cfg over cat. Returns 0 or -ENOMEM. */
int hw_router_build(const struct hw_config *cfg, const struct hw_catalog *cat,
		    struct hw_router **out);
/* Frees a router; NULL is fine. */
void hw_router_free(struct hw_router *r);

/* The analyzer tables the router scores with. */
const struct hw_analyzers *hw_router_analyzers(const struct hw_router *r);

/* "budget", "balanced", "quality" to enum hw_profile; -1 when unknown. */
int hw_profile_parse(const char *s);

/* Score to tier (§7.4): thresholds, confidence margin, then the ultra-light gates. Adds
 * HW_MOD_MARGIN_BUMP / HW_MOD_ULTRA_LIGHT to *mods when they apply. */
enum hw_tier hw_router_score_tier(const struct hw_router *r, const struct hw_analysis *a,
				  unsigned *mods);

/* Routes one request. Returns 0 with out filled, or a negative errno with out->err, msg and
 * extra set: -EINVAL invalid_request (model field), -ENOKEY byok_missing or no_provider_key,
 * -EPERM budget_exceeded when called with HW_BUDGET_BLOCK (the caller is expected to have
 * answered BLOCK with its cap figures already). */
int hw_route(const struct hw_router *r, const struct hw_route_workspace *ws,
	     const struct hw_route_request *rq, struct hw_route_result *out);

/* Adds a modifier after the fact (the caller's HW_MOD_FALLBACK when the primary failed, or
 * HW_MOD_PASSTHROUGH) and rewrites out->reason so modifiers keep the §7.7 order. */
void hw_route_add_modifier(struct hw_route_result *out, enum hw_route_modifier mod);

/* Writes the §7.7 reason: up to three analyzers by weighted contribution (listed in table
 * order), or "trivial", when a is not NULL; then the modifiers in order. */
void hw_route_reason(const struct hw_analysis *a, unsigned mods, char *buf, size_t len);

#endif
