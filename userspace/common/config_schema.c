// SPDX-License-Identifier: Apache-2.0
/* The shape of the configuration file (SPEC §18): one field table per section, with the
 * types and ranges every key is checked against, and the parsers of the few keys that are
 * more than a scalar or a list (listen addresses, keyword lists, markup brackets, plans).
 * Providers and catalog models live in config_providers.c. */
#include "common/config_walk.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define C struct hw_config

static const char *const sqlite_sync[] = {"off", "normal", "full", NULL};
static const char *const profiles[] = {"budget", "balanced", "quality", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const actions[] = {"block", "throttle", "alert", NULL};
static const char *const block_or_alert[] = {"block", "alert", NULL};
static const char *const action_aliases[] = {"alert-only", "alert", "alert_only", "alert", NULL};
static const char *const shield_modes[] = {"off", "monitor", "block", NULL};
static const char *const attach_modes[] = {"auto", "native", "tc", "generic", NULL};
static const char *const deny_scopes[] = {"ports", "all", NULL};
static const char *const keyword_lists[] = {HW_CFG_KEYWORD_LISTS, NULL};

/* server.listen: at least one "host:port", also kept parsed. */
static void release_listen(void *base)
{
	C *cfg = base;
	for (size_t i = 0; cfg->server.listen_addrs && i < cfg->server.n_listen; i++)
		free(cfg->server.listen_addrs[i].host);
	free(cfg->server.listen_addrs);
	hw_cfg_free_strv(cfg->server.listen, cfg->server.n_listen);
	cfg->server.listen_addrs = NULL;
	cfg->server.listen = NULL;
	cfg->server.n_listen = 0;
}

static int parse_listen(struct hw_cfg_walk *w, yaml_node_t *node, void *base)
{
	C *cfg = base;
	struct hw_cfg_listen *addrs = NULL;
	char **v = NULL;
	size_t n = 0, i = 0;
	int ret = hw_cfg_string_list(w, node, hw_cfg_check_listen, &v, &n);
	if (ret < 0)
		return ret;
	if (n == 0) {
		ret = hw_cfg_fail(w, "expected at least one \"HOST:PORT\" entry");
		goto out;
	}
	addrs = calloc(n, sizeof(*addrs));
	if (!addrs) {
		ret = -ENOMEM;
		goto out;
	}
	for (; i < n; i++)
		if ((ret = hw_cfg_listen_split(v[i], &addrs[i])) < 0)
			goto out;
	release_listen(cfg);
	cfg->server.listen = v;
	cfg->server.listen_addrs = addrs;
	cfg->server.n_listen = n;
	return 0;
out:
	for (size_t j = 0; addrs && j < i; j++)
		free(addrs[j].host);
	free(addrs);
	hw_cfg_free_strv(v, n);
	return ret;
}

/* routing.keywords: list name -> replacement words, merged by name. */
static void release_keywords(void *base)
{
	C *cfg = base;
	for (size_t i = 0; i < cfg->routing.n_keywords; i++) {
		free(cfg->routing.keywords[i].name);
		hw_cfg_free_strv(cfg->routing.keywords[i].words, cfg->routing.keywords[i].n_words);
	}
	free(cfg->routing.keywords);
	cfg->routing.keywords = NULL;
	cfg->routing.n_keywords = 0;
}

static struct hw_cfg_keyword_list *keyword_list(struct hw_config *cfg, const char *name)
{
	for (size_t j = 0; j < cfg->routing.n_keywords; j++)
		if (strcmp(cfg->routing.keywords[j].name, name) == 0)
			return &cfg->routing.keywords[j];
	void *grown = realloc(cfg->routing.keywords,
			      (cfg->routing.n_keywords + 1) * sizeof(*cfg->routing.keywords));
	if (!grown)
		return NULL;
	cfg->routing.keywords = grown;
	char *dup = strdup(name);
	if (!dup)
		return NULL;
	struct hw_cfg_keyword_list *l = &cfg->routing.keywords[cfg->routing.n_keywords++];
	*l = (struct hw_cfg_keyword_list){.name = dup};
	return l;
}

static int parse_keyword_list(struct hw_cfg_walk *w, struct hw_config *cfg, const char *name,
			      yaml_node_t *value)
{
	struct hw_cfg_keyword_list *l;
	size_t k = 0, count;
	char **words;
	int ret;

	while (keyword_lists[k] && strcmp(keyword_lists[k], name) != 0)
		k++;
	if (!keyword_lists[k])
		return hw_cfg_fail(w, "unknown key");
	ret = hw_cfg_string_list(w, value, hw_cfg_check_nonempty, &words, &count);
	if (ret < 0)
		return ret;
	if (!(l = keyword_list(cfg, name))) {
		hw_cfg_free_strv(words, count);
		return -ENOMEM;
	}
	hw_cfg_free_strv(l->words, l->n_words);
	l->words = words;
	l->n_words = count;
	return 0;
}

static int parse_keywords(struct hw_cfg_walk *w, yaml_node_t *node, void *base)
{
	return hw_cfg_each_entry(w, node, base, parse_keyword_list);
}

/* money.markup.brackets: ascending `below_usd`, the last one open-ended. */
static const struct hw_cfg_field bracket_fields[] = {
	HW_CFG_USD(struct hw_cfg_markup_bracket, "below_usd", below),
	HW_CFG_BP(struct hw_cfg_markup_bracket, "percent", rate_bp),
	HW_CFG_END,
};

static void release_brackets(void *base)
{
	C *cfg = base;
	free(cfg->money.markup.brackets);
	cfg->money.markup.brackets = NULL;
	cfg->money.markup.n_brackets = 0;
}

static int parse_brackets(struct hw_cfg_walk *w, yaml_node_t *node, void *base)
{
	C *cfg = base;
	struct hw_cfg_markup_bracket *b = NULL;
	yaml_node_item_t *items;
	size_t n;
	int ret = hw_cfg_sequence(w, node, &items, &n);
	if (ret < 0)
		return ret;
	if (n == 0)
		return hw_cfg_fail(w, "expected at least one bracket");
	if (!(b = calloc(n, sizeof(*b))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t saved = hw_cfg_path_push_index(w, i);
		uint64_t seen = 0;
		b[i].below = -1;
		ret = hw_cfg_walk_map(w, hw_cfg_node(w, items[i]), bracket_fields, &b[i], &seen);
		if (ret == 0 && !hw_cfg_seen(seen, bracket_fields, "percent")) {
			hw_cfg_path_push(w, "percent");
			ret = hw_cfg_fail(w, "required");
		} else if (ret == 0 && i + 1 < n && b[i].below < 0) {
			hw_cfg_path_push(w, "below_usd");
			ret = hw_cfg_fail(w, "required on every bracket but the last");
		} else if (ret == 0 && i + 1 == n && b[i].below >= 0) {
			hw_cfg_path_push(w, "below_usd");
			ret = hw_cfg_fail(w, "the last bracket must be open-ended (no below_usd)");
		} else if (ret == 0 && i > 0 && b[i].below >= 0 && b[i].below <= b[i - 1].below) {
			hw_cfg_path_push(w, "below_usd");
			ret = hw_cfg_fail(w, "must be greater than the previous bracket's");
		}
		hw_cfg_path_pop(w, saved);
		if (ret < 0) {
			free(b);
			return ret;
		}
	}
	release_brackets(cfg);
	cfg->money.markup.brackets = b;
	cfg->money.markup.n_brackets = n;
	return 0;
}

/* plans.presets: name -> plan, merged by name; a new plan must say its included_requests. */
static const struct hw_cfg_field plan_fields[] = {
	HW_CFG_INT_NULL(struct hw_cfg_plan, "included_requests", included_requests, 0,
			HW_CFG_NOMAX),
	HW_CFG_BOOL(struct hw_cfg_plan, "overage_enabled", overage_enabled),
	HW_CFG_USD(struct hw_cfg_plan, "overage_usd_per_100k", overage_per_100k),
	HW_CFG_END,
};

static void release_plans(void *base)
{
	C *cfg = base;
	for (size_t i = 0; i < cfg->plans.n_presets; i++)
		free(cfg->plans.presets[i].name);
	free(cfg->plans.presets);
	cfg->plans.presets = NULL;
	cfg->plans.n_presets = 0;
}

static int parse_plan(struct hw_cfg_walk *w, struct hw_config *cfg, const char *name,
		      yaml_node_t *entry)
{
	struct hw_cfg_plan *p = NULL, plan = {0};
	uint64_t seen = 0;
	int ret;

	if (hw_cfg_check_name(name))
		return hw_cfg_fail(w, "plan names are 1 to 64 letters, digits, '_' or '-'");
	for (size_t j = 0; j < cfg->plans.n_presets; j++)
		if (strcmp(cfg->plans.presets[j].name, name) == 0)
			p = &cfg->plans.presets[j];
	if (p)
		plan = *p;
	ret = hw_cfg_walk_map(w, entry, plan_fields, &plan, &seen);
	if (ret < 0)
		return ret;
	if (!p && !hw_cfg_seen(seen, plan_fields, "included_requests")) {
		hw_cfg_path_push(w, "included_requests");
		return hw_cfg_fail(w,
				   "required for a new plan (an integer, or null for unlimited)");
	}
	if (!p) {
		void *grown = realloc(cfg->plans.presets, (cfg->plans.n_presets + 1) * sizeof(*p));
		if (!grown)
			return -ENOMEM;
		cfg->plans.presets = grown;
		if (!(plan.name = strdup(name)))
			return -ENOMEM;
		p = &cfg->plans.presets[cfg->plans.n_presets++];
	}
	*p = plan;
	return 0;
}

static int parse_plans(struct hw_cfg_walk *w, yaml_node_t *node, void *base)
{
	return hw_cfg_each_entry(w, node, base, parse_plan);
}

static const struct hw_cfg_field server_fields[] = {
	HW_CFG_CUSTOM("listen", parse_listen, release_listen),
	HW_CFG_INT(C, "threads", server.threads, 0, 1024),
	HW_CFG_INT(C, "max_connections", server.max_connections, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "max_connections_per_ip", server.max_connections_per_ip, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "max_body_bytes", server.max_body_bytes, 1024, HW_CFG_NOMAX),
	HW_CFG_INT(C, "max_header_bytes", server.max_header_bytes, 1024, HW_CFG_NOMAX),
	HW_CFG_INT(C, "client_timeout_s", server.client_timeout_s, 1, 86400),
	HW_CFG_INT(C, "drain_timeout_s", server.drain_timeout_s, 0, 86400),
	HW_CFG_STRLIST(C, "trusted_proxies", server.trusted_proxies, server.n_trusted_proxies,
		       hw_cfg_check_cidr),
	HW_CFG_END,
};

static const struct hw_cfg_field store_option_fields[] = {
	HW_CFG_CHOICE(C, "sqlite_synchronous", store_options.sqlite_synchronous, sqlite_sync, NULL),
	HW_CFG_INT(C, "busy_timeout_ms", store_options.busy_timeout_ms, 0, HW_CFG_NOMAX),
	HW_CFG_INT(C, "redis_pool", store_options.redis_pool, 1, 4096),
	HW_CFG_INT(C, "redis_timeout_ms", store_options.redis_timeout_ms, 1, HW_CFG_NOMAX),
	HW_CFG_END,
};

static const struct hw_cfg_field admin_fields[] = {
	HW_CFG_SECRET(C, "token", admin.token, hw_cfg_check_admin_token),
	HW_CFG_END,
};

static const struct hw_cfg_field secrets_fields[] = {
	HW_CFG_SECRET(C, "master_key", secrets.master_key, hw_cfg_check_master_key),
	HW_CFG_END,
};

static const struct hw_cfg_field bootstrap_fields[] = {
	HW_CFG_BOOL(C, "enabled", bootstrap.enabled),
	HW_CFG_STR(C, "workspace_name", bootstrap.workspace_name, hw_cfg_check_nonempty),
	HW_CFG_USD(C, "initial_credit_usd", bootstrap.initial_credit),
	HW_CFG_END,
};

static const struct hw_cfg_field catalog_fields[] = {
	HW_CFG_BOOL(C, "builtin", catalog.builtin),
	HW_CFG_CUSTOM("models", hw_cfg_parse_models, hw_cfg_release_models),
	HW_CFG_END,
};

static const struct hw_cfg_field routing_threshold_fields[] = {
	HW_CFG_REAL(C, "standard", routing.thresholds.standard, 0, 1),
	HW_CFG_REAL(C, "heavy", routing.thresholds.heavy, 0, 1),
	HW_CFG_REAL(C, "ultra_light", routing.thresholds.ultra_light, 0, 1),
	HW_CFG_REAL(C, "confidence_margin", routing.thresholds.confidence_margin, 0, 1),
	HW_CFG_END,
};

static const struct hw_cfg_field routing_ultra_light_fields[] = {
	HW_CFG_BOOL(C, "enabled", routing.ultra_light.enabled),
	HW_CFG_INT(C, "max_prompt_chars", routing.ultra_light.max_prompt_chars, 0, HW_CFG_NOMAX),
	HW_CFG_INT(C, "max_context_tokens", routing.ultra_light.max_context_tokens, 0,
		   HW_CFG_NOMAX),
	HW_CFG_END,
};

static const struct hw_cfg_field routing_weight_fields[] = {
	HW_CFG_REAL(C, "intent", routing.weights.intent, 0, 1),
	HW_CFG_REAL(C, "complexity", routing.weights.complexity, 0, 1),
	HW_CFG_REAL(C, "tools", routing.weights.tools, 0, 1),
	HW_CFG_REAL(C, "system_prompt", routing.weights.system_prompt, 0, 1),
	HW_CFG_REAL(C, "code", routing.weights.code, 0, 1),
	HW_CFG_REAL(C, "domain", routing.weights.domain, 0, 1),
	HW_CFG_REAL(C, "context", routing.weights.context, 0, 1),
	HW_CFG_END,
};

static const struct hw_cfg_field routing_fields[] = {
	HW_CFG_CHOICE(C, "profile", routing.profile, profiles, NULL),
	HW_CFG_MAP("thresholds", routing_threshold_fields),
	HW_CFG_MAP("ultra_light", routing_ultra_light_fields),
	HW_CFG_MAP("weights", routing_weight_fields),
	HW_CFG_CUSTOM("keywords", parse_keywords, release_keywords),
	HW_CFG_STR(C, "baseline_model", routing.baseline_model, hw_cfg_check_model_id),
	HW_CFG_STR(C, "default_model", routing.default_model, hw_cfg_check_model_id),
	HW_CFG_END,
};

static const struct hw_cfg_field timeout_fields[] = {
	HW_CFG_INT(C, "connect_ms", upstream.timeouts.connect_ms, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "first_byte_ms", upstream.timeouts.first_byte_ms, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "response_ms", upstream.timeouts.response_ms, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "idle_ms", upstream.timeouts.idle_ms, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "total_ms", upstream.timeouts.total_ms, 1, HW_CFG_NOMAX),
	HW_CFG_END,
};

static const struct hw_cfg_field breaker_fields[] = {
	HW_CFG_INT(C, "failures", upstream.breaker.failures, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "open_s", upstream.breaker.open_s, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "max_cooldown_s", upstream.breaker.max_cooldown_s, 1, HW_CFG_NOMAX),
	HW_CFG_END,
};

static const struct hw_cfg_field drain_fields[] = {
	HW_CFG_INT(C, "max_s", upstream.drain_on_disconnect.max_s, 0, HW_CFG_NOMAX),
	HW_CFG_INT(C, "max_bytes", upstream.drain_on_disconnect.max_bytes, 0, HW_CFG_NOMAX),
	HW_CFG_END,
};

static const struct hw_cfg_field upstream_fields[] = {
	HW_CFG_MAP("timeouts", timeout_fields),
	HW_CFG_INT(C, "max_attempts", upstream.max_attempts, 1, 20),
	HW_CFG_INT(C, "default_max_tokens", upstream.default_max_tokens, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "max_response_bytes", upstream.max_response_bytes, 1024, HW_CFG_NOMAX),
	HW_CFG_MAP("breaker", breaker_fields),
	HW_CFG_MAP("drain_on_disconnect", drain_fields),
	HW_CFG_END,
};

static const struct hw_cfg_field markup_fields[] = {
	HW_CFG_BOOL(C, "enabled", money.markup.enabled),
	HW_CFG_CUSTOM("brackets", parse_brackets, release_brackets),
	HW_CFG_END,
};

static const struct hw_cfg_field wallet_fields[] = {
	HW_CFG_USD(C, "empty_below_usd", money.wallet.empty_below),
	HW_CFG_INTLIST(C, "low_balance_percents", money.wallet.low_balance_percents,
		       money.wallet.n_low_balance_percents, 1, 100),
	HW_CFG_END,
};

static const struct hw_cfg_field passthrough_fields[] = {
	HW_CFG_BOOL(C, "enabled", money.passthrough.enabled),
	HW_CFG_INT(C, "grace_hours", money.passthrough.grace_hours, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "grace_tokens", money.passthrough.grace_tokens, 1, HW_CFG_NOMAX),
	HW_CFG_POSITIVE(C, "warn_fraction", money.passthrough.warn_fraction, 1),
	HW_CFG_END,
};

static const struct hw_cfg_field reservation_fields[] = {
	HW_CFG_INT(C, "chars_per_token", money.reservation.chars_per_token, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "overhead_tokens", money.reservation.overhead_tokens, 0, HW_CFG_NOMAX),
	HW_CFG_INT(C, "non_text_part_chars", money.reservation.non_text_part_chars, 0,
		   HW_CFG_NOMAX),
	HW_CFG_INT(C, "lease_s", money.reservation.lease_s, 1, HW_CFG_NOMAX),
	HW_CFG_END,
};

static const struct hw_cfg_field money_fields[] = {
	HW_CFG_BOOL(C, "enabled", money.enabled),
	HW_CFG_MAP("markup", markup_fields),
	HW_CFG_MAP("wallet", wallet_fields),
	HW_CFG_MAP("passthrough", passthrough_fields),
	HW_CFG_MAP("reservation", reservation_fields),
	HW_CFG_STR(C, "upgrade_url", money.upgrade_url, hw_cfg_check_http_url_or_empty),
	HW_CFG_STR(C, "topup_url", money.topup_url, hw_cfg_check_http_url_or_empty),
	HW_CFG_END,
};

static const struct hw_cfg_field budget_threshold_fields[] = {
	HW_CFG_POSITIVE(C, "downgrade", budget.thresholds.downgrade, HUGE_VAL),
	HW_CFG_POSITIVE(C, "light_only", budget.thresholds.light_only, HUGE_VAL),
	HW_CFG_POSITIVE(C, "block", budget.thresholds.block, HUGE_VAL),
	HW_CFG_END,
};

static const struct hw_cfg_field budget_fields[] = {
	HW_CFG_USD_NULL(C, "cap_usd", budget.cap),
	HW_CFG_MAP("thresholds", budget_threshold_fields),
	HW_CFG_END,
};

static const struct hw_cfg_field plans_fields[] = {
	HW_CFG_STR(C, "default", plans.default_plan, hw_cfg_check_name),
	HW_CFG_CUSTOM("presets", parse_plans, release_plans),
	HW_CFG_END,
};

static const struct hw_cfg_field keys_fields[] = {
	HW_CFG_INT_NULL(C, "default_rpm_limit", keys.default_rpm_limit, 1, HW_CFG_NOMAX),
	HW_CFG_BOOL(C, "accept_legacy_prefix", keys.accept_legacy_prefix),
	HW_CFG_END,
};

static const struct hw_cfg_field dedup_fields[] = {
	HW_CFG_BOOL(C, "enabled", guardian.dedup.enabled),
	HW_CFG_INT(C, "count", guardian.dedup.count, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "window_s", guardian.dedup.window_s, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "retry_after_s", guardian.dedup.retry_after_s, 1, HW_CFG_NOMAX),
	HW_CFG_CHOICE(C, "action", guardian.dedup.action, actions, action_aliases),
	HW_CFG_END,
};

static const struct hw_cfg_field cost_spike_fields[] = {
	HW_CFG_BOOL(C, "enabled", guardian.cost_spike.enabled),
	HW_CFG_POSITIVE(C, "multiplier", guardian.cost_spike.multiplier, HUGE_VAL),
	HW_CFG_INT(C, "window_s", guardian.cost_spike.window_s, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "baseline_s", guardian.cost_spike.baseline_s, 1, HW_CFG_NOMAX),
	HW_CFG_USD(C, "min_spend_usd", guardian.cost_spike.min_spend),
	HW_CFG_POSITIVE(C, "throttle_rps", guardian.cost_spike.throttle_rps, HUGE_VAL),
	HW_CFG_INT(C, "duration_s", guardian.cost_spike.duration_s, 1, HW_CFG_NOMAX),
	HW_CFG_CHOICE(C, "action", guardian.cost_spike.action, actions, action_aliases),
	HW_CFG_END,
};

static const struct hw_cfg_field context_bloat_fields[] = {
	HW_CFG_BOOL(C, "enabled", guardian.context_bloat.enabled),
	HW_CFG_INT(C, "max_prompt_tokens", guardian.context_bloat.max_prompt_tokens, 1,
		   HW_CFG_NOMAX),
	HW_CFG_CHOICE(C, "action", guardian.context_bloat.action, block_or_alert, action_aliases),
	HW_CFG_END,
};

static const struct hw_cfg_field zombie_fields[] = {
	HW_CFG_BOOL(C, "enabled", guardian.zombie_agent.enabled),
	HW_CFG_INT(C, "window_s", guardian.zombie_agent.window_s, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "min_requests", guardian.zombie_agent.min_requests, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "max_gap_s", guardian.zombie_agent.max_gap_s, 1, HW_CFG_NOMAX),
	HW_CFG_CHOICE(C, "action", guardian.zombie_agent.action, actions, action_aliases),
	HW_CFG_END,
};

static const struct hw_cfg_field guardian_limits_fields[] = {
	HW_CFG_INT(C, "max_keys", guardian.limits.max_keys, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "idle_s", guardian.limits.idle_s, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "rpm_log_max", guardian.limits.rpm_log_max, 1, 10000000),
	HW_CFG_INT(C, "dedup_prompts", guardian.limits.dedup_prompts, 1, 65536),
	HW_CFG_INT(C, "dedup_log_max", guardian.limits.dedup_log_max, 1, 1000000),
	HW_CFG_INT(C, "event_queue", guardian.limits.event_queue, 1, HW_CFG_NOMAX),
	HW_CFG_END,
};

static const struct hw_cfg_field guardian_fields[] = {
	HW_CFG_BOOL(C, "enabled", guardian.enabled),
	HW_CFG_INT(C, "alert_interval_s", guardian.alert_interval_s, 1, HW_CFG_NOMAX),
	HW_CFG_MAP("dedup", dedup_fields),
	HW_CFG_MAP("cost_spike", cost_spike_fields),
	HW_CFG_MAP("context_bloat", context_bloat_fields),
	HW_CFG_MAP("zombie_agent", zombie_fields),
	HW_CFG_MAP("limits", guardian_limits_fields),
	HW_CFG_END,
};

static const struct hw_cfg_field shield_score_fields[] = {
	HW_CFG_REAL(C, "prompt_injection", shield.scores.prompt_injection, 0, 1),
	HW_CFG_REAL(C, "prompt_extraction", shield.scores.prompt_extraction, 0, 1),
	HW_CFG_REAL(C, "jailbreak", shield.scores.jailbreak, 0, 1),
	HW_CFG_REAL(C, "pii", shield.scores.pii, 0, 1),
	HW_CFG_REAL(C, "secrets", shield.scores.secrets, 0, 1),
	HW_CFG_END,
};

static const struct hw_cfg_field shield_fields[] = {
	HW_CFG_CHOICE(C, "mode", shield.mode, shield_modes, NULL),
	HW_CFG_REAL(C, "threshold", shield.threshold, 0, 1),
	HW_CFG_INT(C, "retention_days", shield.retention_days, 1, 3650),
	HW_CFG_INT(C, "monitor_queue", shield.monitor_queue, 1, HW_CFG_NOMAX),
	HW_CFG_STR(C, "patterns_dir", shield.patterns_dir, NULL),
	HW_CFG_MAP("scores", shield_score_fields),
	HW_CFG_END,
};

static const struct hw_cfg_field limits_fields[] = {
	HW_CFG_INT(C, "max_rules_per_family", perimeter.limits.max_rules_per_family, 1,
		   HW_CFG_NOMAX),
	HW_CFG_INT(C, "max_tracked_sources", perimeter.limits.max_tracked_sources, 1, HW_CFG_NOMAX),
	HW_CFG_END,
};

static const struct hw_cfg_field auth_failures_fields[] = {
	HW_CFG_INT(C, "count", perimeter.autoban.auth_failures.count, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "window_s", perimeter.autoban.auth_failures.window_s, 1, HW_CFG_NOMAX),
	HW_CFG_END,
};

static const struct hw_cfg_field guardian_blocks_fields[] = {
	HW_CFG_INT(C, "count", perimeter.autoban.guardian_blocks.count, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "window_s", perimeter.autoban.guardian_blocks.window_s, 1, HW_CFG_NOMAX),
	HW_CFG_END,
};

static const struct hw_cfg_field autoban_fields[] = {
	HW_CFG_BOOL(C, "enabled", perimeter.autoban.enabled),
	HW_CFG_MAP("auth_failures", auth_failures_fields),
	HW_CFG_MAP("guardian_blocks", guardian_blocks_fields),
	HW_CFG_INT(C, "ttl_s", perimeter.autoban.ttl_s, 1, HW_CFG_NOMAX),
	HW_CFG_STRLIST(C, "exempt", perimeter.autoban.exempt, perimeter.autoban.n_exempt,
		       hw_cfg_check_cidr),
	HW_CFG_END,
};

static const struct hw_cfg_field perimeter_fields[] = {
	HW_CFG_BOOL(C, "enabled", perimeter.enabled),
	HW_CFG_STRLIST(C, "interfaces", perimeter.interfaces, perimeter.n_interfaces,
		       hw_cfg_check_ifname),
	HW_CFG_CHOICE(C, "attach", perimeter.attach, attach_modes, NULL),
	HW_CFG_INTLIST(C, "protected_ports", perimeter.protected_ports, perimeter.n_protected_ports,
		       1, 65535),
	HW_CFG_CHOICE(C, "deny_scope", perimeter.deny_scope, deny_scopes, NULL),
	HW_CFG_INT(C, "syn_rate_per_s", perimeter.syn_rate_per_s, 0, UINT32_MAX),
	HW_CFG_INT(C, "syn_burst", perimeter.syn_burst, 1, UINT32_MAX),
	HW_CFG_BOOL(C, "workspace_rules_in_kernel", perimeter.workspace_rules_in_kernel),
	HW_CFG_STR(C, "pin_path", perimeter.pin_path, hw_cfg_check_abs_path),
	HW_CFG_INT(C, "poll_ms", perimeter.poll_ms, 1, HW_CFG_NOMAX),
	HW_CFG_MAP("limits", limits_fields),
	HW_CFG_MAP("autoban", autoban_fields),
	HW_CFG_END,
};

static const struct hw_cfg_field webhooks_fields[] = {
	HW_CFG_INT(C, "workers", webhooks.workers, 1, 256),
	HW_CFG_INT(C, "timeout_s", webhooks.timeout_s, 1, HW_CFG_NOMAX),
	HW_CFG_INTLIST(C, "retry_schedule_s", webhooks.retry_schedule_s,
		       webhooks.n_retry_schedule_s, 1, HW_CFG_NOMAX),
	HW_CFG_INT(C, "max_pending", webhooks.max_pending, 1, HW_CFG_NOMAX),
	HW_CFG_END,
};

static const struct hw_cfg_field usage_fields[] = {
	HW_CFG_INT(C, "retention_days", usage.retention_days, 1, 3650),
	HW_CFG_END,
};

static const struct hw_cfg_field logging_fields[] = {
	HW_CFG_CHOICE(C, "level", logging.level, log_levels, NULL),
	HW_CFG_BOOL(C, "access_log", logging.access_log),
	HW_CFG_END,
};

static const struct hw_cfg_field metrics_fields[] = {
	HW_CFG_BOOL(C, "enabled", metrics.enabled),
	HW_CFG_SECRET(C, "token", metrics.token, NULL),
	HW_CFG_BOOL(C, "per_workspace_labels", metrics.per_workspace_labels),
	HW_CFG_END,
};

const struct hw_cfg_field hw_cfg_root[] = {
	HW_CFG_STR(C, "node_id", node_id, hw_cfg_check_node_id),
	HW_CFG_MAP("server", server_fields),
	HW_CFG_STR(C, "store", store, hw_cfg_check_store),
	HW_CFG_MAP("store_options", store_option_fields),
	HW_CFG_MAP("admin", admin_fields),
	HW_CFG_MAP("secrets", secrets_fields),
	HW_CFG_MAP("bootstrap", bootstrap_fields),
	HW_CFG_CUSTOM("providers", hw_cfg_parse_providers, hw_cfg_release_providers),
	HW_CFG_MAP("catalog", catalog_fields),
	HW_CFG_MAP("routing", routing_fields),
	HW_CFG_MAP("upstream", upstream_fields),
	HW_CFG_MAP("money", money_fields),
	HW_CFG_MAP("budget", budget_fields),
	HW_CFG_MAP("plans", plans_fields),
	HW_CFG_MAP("keys", keys_fields),
	HW_CFG_MAP("guardian", guardian_fields),
	HW_CFG_MAP("shield", shield_fields),
	HW_CFG_MAP("perimeter", perimeter_fields),
	HW_CFG_MAP("webhooks", webhooks_fields),
	HW_CFG_MAP("usage", usage_fields),
	HW_CFG_MAP("logging", logging_fields),
	HW_CFG_MAP("metrics", metrics_fields),
	HW_CFG_END,
};
