// SPDX-License-Identifier: Apache-2.0
/* Guardian settings of a workspace (SPEC §11.2, §16.2, §18): the configuration's defaults,
 * a PUT body overlaid on them with the same bounds the configuration loader applies, and
 * the JSON shape GET answers with. */
#include "common/json_usd.h"
#include "guardian/guardian.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const rule_names[HW_GD__RULES] = {"dedup", "cost_spike", "context_bloat",
						     "zombie_agent"};
static const char *const action_names[] = {"block", "throttle", "alert"};

const char *hw_gd_rule_name(enum hw_gd_rule r)
{
	return (unsigned)r < HW_GD__RULES ? rule_names[r] : "unknown";
}

const char *hw_gd_action_name(enum hw_gd_action a)
{
	return (unsigned)a <= HW_GD_ALERT ? action_names[a] : "block";
}

/* The loader already validated the word; aliases of alert-only are accepted there too. */
static enum hw_gd_action action_of(const char *s)
{
	if (s && strcmp(s, "throttle") == 0)
		return HW_GD_THROTTLE;
	if (s && strncmp(s, "alert", 5) == 0)
		return HW_GD_ALERT;
	return HW_GD_BLOCK;
}

void hw_gd_settings_defaults(const struct hw_config *cfg, struct hw_gd_settings *s)
{
	const typeof(cfg->guardian) *g = &cfg->guardian;
	memset(s, 0, sizeof(*s));
	s->dedup.enabled = g->dedup.enabled;
	s->dedup.count = g->dedup.count;
	s->dedup.window_s = g->dedup.window_s;
	s->dedup.retry_after_s = g->dedup.retry_after_s;
	s->dedup.action = action_of(g->dedup.action);
	s->cost_spike.enabled = g->cost_spike.enabled;
	s->cost_spike.multiplier = g->cost_spike.multiplier;
	s->cost_spike.window_s = g->cost_spike.window_s;
	s->cost_spike.baseline_s = g->cost_spike.baseline_s;
	s->cost_spike.min_spend = g->cost_spike.min_spend;
	s->cost_spike.throttle_rps = g->cost_spike.throttle_rps;
	s->cost_spike.duration_s = g->cost_spike.duration_s;
	s->cost_spike.action = action_of(g->cost_spike.action);
	s->context_bloat.enabled = g->context_bloat.enabled;
	s->context_bloat.max_prompt_tokens = g->context_bloat.max_prompt_tokens;
	s->context_bloat.action = action_of(g->context_bloat.action);
	s->zombie_agent.enabled = g->zombie_agent.enabled;
	s->zombie_agent.window_s = g->zombie_agent.window_s;
	s->zombie_agent.min_requests = g->zombie_agent.min_requests;
	s->zombie_agent.max_gap_s = g->zombie_agent.max_gap_s;
	s->zombie_agent.action = action_of(g->zombie_agent.action);
}

/* What a field holds and where it goes. */
enum ftype { F_BOOL, F_INT, F_POS, F_USD, F_ACTION, F_BLOCK_ALERT };

struct field {
	const char *name;
	enum ftype type;
	size_t off;
};

#define FLD(n, t, m)                                                                               \
	{                                                                                          \
		n, t, offsetof(struct hw_gd_settings, m)                                           \
	}

static const struct field dedup_f[] = {
    FLD("enabled", F_BOOL, dedup.enabled),  FLD("count", F_INT, dedup.count),
    FLD("window_s", F_INT, dedup.window_s), FLD("retry_after_s", F_INT, dedup.retry_after_s),
    FLD("action", F_ACTION, dedup.action),  {NULL, 0, 0}};
static const struct field cost_f[] = {FLD("enabled", F_BOOL, cost_spike.enabled),
				      FLD("multiplier", F_POS, cost_spike.multiplier),
				      FLD("window_s", F_INT, cost_spike.window_s),
				      FLD("baseline_s", F_INT, cost_spike.baseline_s),
				      FLD("min_spend_usd", F_USD, cost_spike.min_spend),
				      FLD("throttle_rps", F_POS, cost_spike.throttle_rps),
				      FLD("duration_s", F_INT, cost_spike.duration_s),
				      FLD("action", F_ACTION, cost_spike.action),
				      {NULL, 0, 0}};
static const struct field bloat_f[] = {
    FLD("enabled", F_BOOL, context_bloat.enabled),
    FLD("max_prompt_tokens", F_INT, context_bloat.max_prompt_tokens),
    FLD("action", F_BLOCK_ALERT, context_bloat.action),
    {NULL, 0, 0}};
static const struct field zombie_f[] = {FLD("enabled", F_BOOL, zombie_agent.enabled),
					FLD("window_s", F_INT, zombie_agent.window_s),
					FLD("min_requests", F_INT, zombie_agent.min_requests),
					FLD("max_gap_s", F_INT, zombie_agent.max_gap_s),
					FLD("action", F_ACTION, zombie_agent.action),
					{NULL, 0, 0}};

static const struct field *const rule_fields[HW_GD__RULES] = {dedup_f, cost_f, bloat_f, zombie_f};

/* Bounds of a PUT: what the configuration accepts, capped where a larger value only
 * overflows time arithmetic (about 31 years). */
#define MAX_INT_SETTING 1000000000LL

static int take(struct hw_gd_settings *s, const struct field *f, const json_t *v, char *msg,
		size_t msg_len)
{
	char *p = (char *)s + f->off;
	switch (f->type) {
	case F_BOOL:
		if (!json_is_boolean(v))
			break;
		*(bool *)p = json_is_true(v);
		return 0;
	case F_INT:
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > MAX_INT_SETTING) {
			snprintf(msg, msg_len, "%s must be an integer from 1 to %lld.", f->name,
				 MAX_INT_SETTING);
			return -EINVAL;
		}
		*(int64_t *)p = json_integer_value(v);
		return 0;
	case F_POS:
		if (!json_is_number(v) || !(json_number_value(v) > 0) ||
		    !isfinite(json_number_value(v)) || json_number_value(v) > 1e9) {
			snprintf(msg, msg_len, "%s must be a number above 0.", f->name);
			return -EINVAL;
		}
		*(double *)p = json_number_value(v);
		return 0;
	case F_USD:
		if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1e9) {
			snprintf(msg, msg_len, "%s must be a USD amount of at least 0.", f->name);
			return -EINVAL;
		}
		*(int64_t *)p = llround(json_number_value(v) * 1e6);
		return 0;
	case F_ACTION:
	case F_BLOCK_ALERT: {
		const char *w = json_string_value(v);
		bool ok = w && (strcmp(w, "block") == 0 || strcmp(w, "alert") == 0 ||
				strcmp(w, "alert-only") == 0 || strcmp(w, "alert_only") == 0 ||
				(f->type == F_ACTION && strcmp(w, "throttle") == 0));
		if (!ok) {
			snprintf(msg, msg_len, "%s must be one of: %s.", f->name,
				 f->type == F_ACTION ? "block, throttle, alert" : "block, alert");
			return -EINVAL;
		}
		*(enum hw_gd_action *)p = action_of(w);
		return 0;
	}
	}
	snprintf(msg, msg_len, "%s must be a boolean.", f->name);
	return -EINVAL;
}

int hw_gd_settings_apply(struct hw_gd_settings *s, const json_t *body, char *param,
			 size_t param_len, char *msg, size_t msg_len)
{
	if (!body)
		return 0;
	if (!json_is_object(body)) {
		snprintf(param, param_len, "%s", "");
		snprintf(msg, msg_len, "The body must be a JSON object.");
		return -EINVAL;
	}
	const char *rk;
	json_t *rv;
	json_object_foreach((json_t *)body, rk, rv)
	{
		int r = 0;
		while (r < HW_GD__RULES && strcmp(rk, rule_names[r]) != 0)
			r++;
		if (r == HW_GD__RULES) {
			snprintf(param, param_len, "%s", rk);
			snprintf(msg, msg_len, "Unknown member %s.", rk);
			return -EINVAL;
		}
		if (!json_is_object(rv)) {
			snprintf(param, param_len, "%s", rk);
			snprintf(msg, msg_len, "%s must be an object.", rk);
			return -EINVAL;
		}
		const char *fk;
		json_t *fv;
		json_object_foreach(rv, fk, fv)
		{
			const struct field *f = rule_fields[r];
			while (f->name && strcmp(f->name, fk) != 0)
				f++;
			snprintf(param, param_len, "%s.%s", rk, fk);
			if (!f->name) {
				snprintf(msg, msg_len, "Unknown member %s.%s.", rk, fk);
				return -EINVAL;
			}
			if (take(s, f, fv, msg, msg_len) < 0)
				return -EINVAL;
		}
	}
	return 0;
}

json_t *hw_gd_settings_json(const struct hw_gd_settings *s)
{
	return json_pack(
	    "{s:{s:b,s:I,s:I,s:I,s:s},s:{s:b,s:f,s:I,s:I,s:o,s:f,s:I,s:s},s:{s:b,s:I,s:s},"
	    "s:{s:b,s:I,s:I,s:I,s:s}}",
	    "dedup", "enabled", s->dedup.enabled, "count", (json_int_t)s->dedup.count, "window_s",
	    (json_int_t)s->dedup.window_s, "retry_after_s", (json_int_t)s->dedup.retry_after_s,
	    "action", hw_gd_action_name(s->dedup.action), "cost_spike", "enabled",
	    s->cost_spike.enabled, "multiplier", s->cost_spike.multiplier, "window_s",
	    (json_int_t)s->cost_spike.window_s, "baseline_s", (json_int_t)s->cost_spike.baseline_s,
	    "min_spend_usd", hw_json_usd(s->cost_spike.min_spend), "throttle_rps",
	    s->cost_spike.throttle_rps, "duration_s", (json_int_t)s->cost_spike.duration_s,
	    "action", hw_gd_action_name(s->cost_spike.action), "context_bloat", "enabled",
	    s->context_bloat.enabled, "max_prompt_tokens",
	    (json_int_t)s->context_bloat.max_prompt_tokens, "action",
	    hw_gd_action_name(s->context_bloat.action), "zombie_agent", "enabled",
	    s->zombie_agent.enabled, "window_s", (json_int_t)s->zombie_agent.window_s,
	    "min_requests", (json_int_t)s->zombie_agent.min_requests, "max_gap_s",
	    (json_int_t)s->zombie_agent.max_gap_s, "action",
	    hw_gd_action_name(s->zombie_agent.action));
}
