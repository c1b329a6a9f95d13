// SPDX-License-Identifier: Apache-2.0
/* Smart routing, SPEC §7.1 and §7.4–§7.7: from the analyzers' score (or a pin) to a tier, then
 * to the ordered candidates of that tier. Thresholds are compared in ten-thousandths, the
 * unit the score is rounded to, so a boundary value lands in the higher tier exactly. The
 * catalog is small (tens of entries): each tier is a linear pass, cheaper than any index. */
#include "routing/router.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hw_router {
	const struct hw_config *cfg;
	const struct hw_catalog *cat;
	struct hw_analyzers *an;
	int32_t standard_e4, heavy_e4, ultra_e4, margin_e4;
	bool ultra_enabled;
	int64_t ultra_max_chars, ultra_max_tokens;
};

static int32_t to_e4(double x)
{
	return (int32_t)llround(x * 10000.0);
}

int hw_router_build(const struct hw_config *cfg, const struct hw_catalog *cat,
		    struct hw_router **out)
{
	struct hw_router *r = calloc(1, sizeof(*r));
	*out = NULL;
	if (!r)
		return -ENOMEM;
	int ret = hw_analyzers_build(cfg, &r->an);
	if (ret < 0) {
		free(r);
		return ret;
	}
	r->cfg = cfg;
	r->cat = cat;
	r->standard_e4 = to_e4(cfg->routing.thresholds.standard);
	r->heavy_e4 = to_e4(cfg->routing.thresholds.heavy);
	r->ultra_e4 = to_e4(cfg->routing.thresholds.ultra_light);
	r->margin_e4 = to_e4(cfg->routing.thresholds.confidence_margin);
	r->ultra_enabled = cfg->routing.ultra_light.enabled;
	r->ultra_max_chars = cfg->routing.ultra_light.max_prompt_chars;
	r->ultra_max_tokens = cfg->routing.ultra_light.max_context_tokens;
	*out = r;
	return 0;
}

void hw_router_free(struct hw_router *r)
{
	if (!r)
		return;
	hw_analyzers_free(r->an);
	free(r);
}

const struct hw_analyzers *hw_router_analyzers(const struct hw_router *r)
{
	return r->an;
}

int hw_profile_parse(const char *s)
{
	if (!s)
		return -1;
	if (strcmp(s, "balanced") == 0)
		return HW_PROFILE_BALANCED;
	if (strcmp(s, "budget") == 0)
		return HW_PROFILE_BUDGET;
	if (strcmp(s, "quality") == 0)
		return HW_PROFILE_QUALITY;
	return -1;
}

static bool ultra_light_gates(const struct hw_router *r, const struct hw_analysis *a)
{
	return r->ultra_enabled && a->score_e4 < r->ultra_e4 && a->user_msgs == 1 &&
	       a->assistant_msgs == 0 && a->tool_msgs == 0 && a->value[HW_AN_TOOLS] == 0.0 &&
	       a->value[HW_AN_CODE] == 0.0 && a->intent_kind != HW_INTENT_EXPERT &&
	       !a->reasoning_cue && (int64_t)a->user_chars <= r->ultra_max_chars &&
	       a->est_tokens <= r->ultra_max_tokens;
}

enum hw_tier hw_router_score_tier(const struct hw_router *r, const struct hw_analysis *a,
				  unsigned *mods)
{
	int32_t s = a->score_e4;
	enum hw_tier t;
	if (s < r->standard_e4) {
		t = HW_TIER_LIGHT;
		if (s >= r->standard_e4 - r->margin_e4) {
			t = HW_TIER_STANDARD;
			*mods |= HW_MOD_MARGIN_BUMP;
		}
	} else if (s < r->heavy_e4) {
		t = HW_TIER_STANDARD;
		if (s >= r->heavy_e4 - r->margin_e4) {
			t = HW_TIER_HEAVY;
			*mods |= HW_MOD_MARGIN_BUMP;
		}
	} else {
		t = HW_TIER_HEAVY;
	}
	if (t == HW_TIER_LIGHT && ultra_light_gates(r, a)) {
		t = HW_TIER_ULTRA_LIGHT;
		*mods |= HW_MOD_ULTRA_LIGHT;
	}
	return t;
}

static const char *const analyzer_names[HW_AN__COUNT] = {
    "intent", "complexity", "tools", "system_prompt", "code", "domain", "context"};
static const char *const modifier_names[] = {
    "margin_bump",	 "ultra_light", "tools_tier_up", "context_tier_up", "budget_downgrade",
    "budget_light_only", "tier_pin",	"model_pin",	 "passthrough",	    "fallback"};

/* Appends ", s" (or s first); an item that does not fit is dropped whole. */
static void append(char *buf, size_t len, size_t *off, const char *s, size_t sl)
{
	size_t sep = *off ? 2 : 0;
	if (*off + sep + sl >= len)
		return;
	memcpy(buf + *off, ", ", sep);
	memcpy(buf + *off + sep, s, sl);
	*off += sep + sl;
	buf[*off] = '\0';
}

void hw_route_reason(const struct hw_analysis *a, unsigned mods, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	if (a) {
		/* An analyzer whose score prints as 0.00 adds nothing a reader could see. */
		bool pick[HW_AN__COUNT] = {false};
		size_t picked = 0;
		for (int k = 0; k < 3; k++) {
			int best = -1;
			for (int i = 0; i < HW_AN__COUNT; i++) {
				double c = a->weight[i] * a->value[i];
				if (pick[i] || a->value[i] < 0.005 || c <= 0.0)
					continue;
				if (best < 0 || c > a->weight[best] * a->value[best])
					best = i;
			}
			if (best < 0)
				break;
			pick[best] = true;
			picked++;
		}
		for (int i = 0; i < HW_AN__COUNT; i++) {
			if (!pick[i])
				continue;
			/* name=d.dd by hand: printf's float path costs more than routing. */
			char item[32];
			size_t nl = strlen(analyzer_names[i]);
			int c = (int)(a->value[i] * 100.0 + 0.5);
			memcpy(item, analyzer_names[i], nl);
			item[nl] = '=';
			item[nl + 1] = (char)('0' + c / 100);
			item[nl + 2] = '.';
			item[nl + 3] = (char)('0' + c / 10 % 10);
			item[nl + 4] = (char)('0' + c % 10);
			append(buf, len, &off, item, nl + 5);
		}
		if (!picked)
			append(buf, len, &off, "trivial", 7);
	}
	for (size_t b = 0; b < sizeof(modifier_names) / sizeof(modifier_names[0]); b++)
		if (mods & (1u << b))
			append(buf, len, &off, modifier_names[b], strlen(modifier_names[b]));
}

void hw_route_add_modifier(struct hw_route_result *out, enum hw_route_modifier mod)
{
	out->modifiers |= (unsigned)mod;
	hw_route_reason(out->scored ? &out->analysis : NULL, out->modifiers, out->reason,
			sizeof(out->reason));
}

/* What one routing call needs to judge a catalog entry. */
struct route_ctx {
	const struct hw_route_workspace *ws;
	const struct hw_route_request *rq;
	bool echo_ok; /* the workspace can use no provider but echo ones (SPEC §8.6) */
};

static bool provider_ok(const struct route_ctx *c, const struct hw_cfg_provider *p)
{
	if (!p)
		return false;
	return c->ws->usable ? c->ws->usable(c->ws->usable_arg, p) : hw_provider_usable(p);
}

/* allowed_regions is the workspace's JSON array text; scanned in place, no parse. */
static bool region_ok(const char *json, const char *region)
{
	if (!json || !*json || strcmp(json, "null") == 0)
		return true;
	size_t rl = strlen(region);
	const char *p = json;
	while ((p = strchr(p, '"'))) {
		const char *e = p + 1;
		while (*e && *e != '"')
			e += (*e == '\\' && e[1]) ? 2 : 1;
		if (!*e)
			break;
		if ((size_t)(e - p - 1) == rl && memcmp(p + 1, region, rl) == 0)
			return true;
		p = e + 1;
	}
	return false;
}

static bool model_usable(const struct route_ctx *c, const struct hw_model *m)
{
	if (!m->enabled || !provider_ok(c, m->provider))
		return false;
	if (m->provider->kind == HW_PROVIDER_ECHO && !c->echo_ok)
		return false;
	return region_ok(c->ws->allowed_regions_json, m->region);
}

enum { MISFIT_TOOLS = 1, MISFIT_CONTEXT = 2 };

static unsigned misfit(const struct route_ctx *c, const struct hw_model *m)
{
	unsigned why = 0;
	if (c->rq->has_tools && !m->supports_tools)
		why |= MISFIT_TOOLS;
	/* 0: a catalog entry that does not say; the provider will be the judge. */
	if (m->context_window > 0 && m->context_window < c->rq->est_tokens + c->rq->max_tokens)
		why |= MISFIT_CONTEXT;
	return why;
}

static bool fits(const struct route_ctx *c, const struct hw_model *m)
{
	return model_usable(c, m) && !misfit(c, m);
}

static int64_t blended4(const struct hw_model *m)
{
	return 3 * m->input_per_mtok + m->output_per_mtok; /* 4 × the blended price */
}

/* Whether a should be the primary rather than b under the profile (SPEC §7.5). */
static bool better(enum hw_profile profile, const struct hw_model *a, const struct hw_model *b)
{
	switch (profile) {
	case HW_PROFILE_BUDGET:
		if (a->input_per_mtok != b->input_per_mtok)
			return a->input_per_mtok < b->input_per_mtok;
		if (a->output_per_mtok != b->output_per_mtok)
			return a->output_per_mtok < b->output_per_mtok;
		if (a->quality != b->quality)
			return a->quality > b->quality;
		break;
	case HW_PROFILE_QUALITY:
		if (a->quality != b->quality)
			return a->quality > b->quality;
		if (blended4(a) != blended4(b))
			return blended4(a) < blended4(b);
		break;
	case HW_PROFILE_BALANCED: {
		int64_t pa = blended4(a), pb = blended4(b);
		if ((pa == 0) != (pb == 0))
			return pa == 0;
		/* quality / price compared as cross products, in integers. */
		__int128 lhs = (__int128)a->quality * pb, rhs = (__int128)b->quality * pa;
		if (lhs != rhs)
			return lhs > rhs;
		if (a->input_per_mtok != b->input_per_mtok)
			return a->input_per_mtok < b->input_per_mtok;
		break;
	}
	}
	return strcmp(a->id, b->id) < 0;
}

/* Fallback order: input price, then output price, then id, all ascending. */
static bool fallback_before(const struct hw_model *a, const struct hw_model *b)
{
	if (a->input_per_mtok != b->input_per_mtok)
		return a->input_per_mtok < b->input_per_mtok;
	if (a->output_per_mtok != b->output_per_mtok)
		return a->output_per_mtok < b->output_per_mtok;
	return strcmp(a->id, b->id) < 0;
}

/* Fills out->cand from the fitting models of tier t: the primary, then the others in
 * fallback order, the cheapest kept when there are more than the array holds. */
static void fill_candidates(const struct hw_router *r, const struct route_ctx *c, enum hw_tier t,
			    struct hw_route_result *out)
{
	const struct hw_model *primary = NULL;
	for (size_t i = 0; i < r->cat->n; i++) {
		const struct hw_model *m = &r->cat->models[i];
		if (m->tier == t && fits(c, m) && (!primary || better(c->ws->profile, m, primary)))
			primary = m;
	}
	out->cand[0] = primary;
	out->n_cand = 1;
	for (size_t i = 0; i < r->cat->n; i++) {
		const struct hw_model *m = &r->cat->models[i];
		if (m == primary || m->tier != t || !fits(c, m))
			continue;
		size_t p = out->n_cand;
		while (p > 1 && fallback_before(m, out->cand[p - 1]))
			p--;
		if (p >= HW_ROUTE_MAX_CANDIDATES)
			continue;
		size_t last = out->n_cand < HW_ROUTE_MAX_CANDIDATES ? out->n_cand
								    : HW_ROUTE_MAX_CANDIDATES - 1;
		memmove(&out->cand[p + 1], &out->cand[p], (last - p) * sizeof(out->cand[0])); // NOLINT(bugprone-sizeof-expression): pointers
		out->cand[p] = m;
		if (out->n_cand < HW_ROUTE_MAX_CANDIDATES)
			out->n_cand++;
	}
}

__attribute__((format(printf, 5, 6))) static int fail(struct hw_route_result *out, enum hw_err err,
						      int ret, json_t *extra, const char *fmt, ...)
{
	va_list ap;
	out->err = err;
	out->extra = extra;
	va_start(ap, fmt);
	vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
	va_end(ap);
	return ret;
}

static int route_pin(const struct route_ctx *c, const struct hw_model *m,
		     struct hw_route_result *out)
{
	if (!provider_ok(c, m->provider))
		return fail(out, HW_ERR_BYOK_MISSING, -ENOKEY,
			    json_pack("{s:s}", "provider", m->provider_id),
			    "No usable key for provider '%s' of model '%s': add a provider key or "
			    "pick another model.",
			    m->provider_id, m->id);
	/* Data residency holds for pins too: a region the workspace excludes is never sent to. */
	if (!region_ok(c->ws->allowed_regions_json, m->region))
		return fail(
		    out, HW_ERR_INVALID_REQUEST, -EINVAL, json_pack("{s:s}", "param", "model"),
		    "Model '%s' is in region '%s', outside the workspace's allowed regions.", m->id,
		    m->region);
	out->tier = "override";
	out->modifiers = HW_MOD_MODEL_PIN;
	out->cand[0] = m;
	out->n_cand = 1;
	hw_route_reason(NULL, out->modifiers, out->reason, sizeof(out->reason));
	return 0;
}

/* Passthrough: the pinned model, or the workspace's default for auto and tier names. */
static int route_passthrough(const struct hw_router *r, const struct route_ctx *c,
			     const struct hw_model_resolution *res, const char *fallback_id,
			     struct hw_route_result *out)
{
	const struct hw_model *m = res->ask == HW_ASK_MODEL ? res->model : hw_catalog_find(r->cat, fallback_id);
	if (!m)
		return fail(out, HW_ERR_BYOK_MISSING, -ENOKEY, json_pack("{s:n}", "provider"),
			    "The passthrough model '%s' is not in the catalog.", fallback_id);
	int rc = route_pin(c, m, out);
	if (rc < 0)
		return rc;
	out->tier = "passthrough";
	out->modifiers = res->ask == HW_ASK_MODEL ? HW_MOD_MODEL_PIN | HW_MOD_PASSTHROUGH : HW_MOD_PASSTHROUGH;
	hw_route_reason(NULL, out->modifiers, out->reason, sizeof(out->reason));
	return 0;
}

/* Counts the usable and the fitting models of tier t; why collects the misfit causes. */
static size_t tier_models(const struct hw_router *r, const struct route_ctx *c, enum hw_tier t,
			  size_t *fitting, unsigned *why)
{
	size_t usable = 0;
	*fitting = 0;
	for (size_t i = 0; i < r->cat->n; i++) {
		const struct hw_model *m = &r->cat->models[i];
		if (m->tier != t || !model_usable(c, m))
			continue;
		usable++;
		unsigned f = misfit(c, m);
		*why |= f;
		*fitting += !f;
	}
	return usable;
}

static enum hw_tier apply_budget(enum hw_budget_verdict v, enum hw_tier t, unsigned *mods)
{
	if (t <= HW_TIER_LIGHT)
		return t;
	if (v == HW_BUDGET_DOWNGRADE) {
		*mods |= HW_MOD_BUDGET_DOWNGRADE;
		return (enum hw_tier)(t - 1);
	}
	if (v == HW_BUDGET_LIGHT_ONLY) {
		*mods |= HW_MOD_BUDGET_LIGHT_ONLY;
		return HW_TIER_LIGHT;
	}
	return t;
}

int hw_route(const struct hw_router *r, const struct hw_route_workspace *ws,
	     const struct hw_route_request *rq, struct hw_route_result *out)
{
	struct route_ctx c = {ws, rq, true};
	struct hw_model_resolution res;
	memset(out, 0, sizeof(*out));
	if (rq->budget == HW_BUDGET_BLOCK)
		return fail(out, HW_ERR_BUDGET_EXCEEDED, -EPERM,
			    json_pack("{s:s}", "verdict", "BLOCK"), "Monthly budget cap reached.");
	if (hw_catalog_resolve(r->cat, rq->model ? rq->model : "", &res, out->msg,
			       sizeof(out->msg)) < 0) {
		out->err = HW_ERR_INVALID_REQUEST;
		out->extra = json_pack("{s:s}", "param", "model");
		return -EINVAL;
	}
	bool any = false;
	for (size_t i = 0; i < r->cfg->n_providers; i++) {
		const struct hw_cfg_provider *p = &r->cfg->providers[i];
		if (!provider_ok(&c, p))
			continue;
		any = true;
		if (p->kind != HW_PROVIDER_ECHO)
			c.echo_ok = false;
	}
	if (rq->passthrough_model)
		return route_passthrough(r, &c, &res, rq->passthrough_model, out);
	if (res.ask == HW_ASK_MODEL)
		return route_pin(&c, res.model, out);
	if (!any)
		return fail(out, HW_ERR_BYOK_MISSING, -ENOKEY, json_pack("{s:n}", "provider"),
			    "This workspace can use no provider: add a provider key.");

	out->scored = true;
	out->may_fall_back = true;
	hw_analyze(r->an, rq->request, rq->est_tokens, &out->analysis);
	out->score = out->analysis.score;
	enum hw_tier t;
	if (res.ask == HW_ASK_TIER) {
		t = res.tier;
		out->modifiers |= HW_MOD_TIER_PIN;
	} else {
		t = hw_router_score_tier(r, &out->analysis, &out->modifiers);
	}
	t = apply_budget(rq->budget, t, &out->modifiers);

	size_t fitting;
	unsigned why = 0;
	if (t == HW_TIER_ULTRA_LIGHT && res.ask == HW_ASK_AUTO) {
		tier_models(r, &c, t, &fitting, &why);
		if (!fitting) {
			/* Ultra-light is a saving on a light request, not a requirement of it; when
			 * its models were there but too small or tool-less, the reason says so. */
			t = HW_TIER_LIGHT;
			out->modifiers &= ~(unsigned)HW_MOD_ULTRA_LIGHT;
			if (why & MISFIT_TOOLS)
				out->modifiers |= HW_MOD_TOOLS_TIER_UP;
			if (why & MISFIT_CONTEXT)
				out->modifiers |= HW_MOD_CONTEXT_TIER_UP;
		}
	}
	why = 0;
	if (tier_models(r, &c, t, &fitting, &why) == 0)
		return fail(out, HW_ERR_NO_PROVIDER_KEY, -ENOKEY,
			    json_pack("{s:s}", "tier", hw_tier_name(t)),
			    "No model of tier '%s' belongs to a provider this workspace can use in "
			    "its allowed regions.",
			    hw_tier_name(t));
	enum hw_tier at = t;
	while (!fitting) {
		if (why & MISFIT_TOOLS)
			out->modifiers |= HW_MOD_TOOLS_TIER_UP;
		if (why & MISFIT_CONTEXT)
			out->modifiers |= HW_MOD_CONTEXT_TIER_UP;
		if (at == HW_TIER_HEAVY)
			return fail(out, HW_ERR_NO_PROVIDER_KEY, -ENOKEY,
				    json_pack("{s:s}", "tier", hw_tier_name(t)),
				    "No model from tier '%s' up to heavy fits this request's tools "
				    "and context window.",
				    hw_tier_name(t));
		at = (enum hw_tier)(at + 1);
		why = 0;
		tier_models(r, &c, at, &fitting, &why);
	}
	fill_candidates(r, &c, at, out);
	out->tier = hw_tier_name(at);
	hw_route_reason(&out->analysis, out->modifiers, out->reason, sizeof(out->reason));
	return 0;
}
