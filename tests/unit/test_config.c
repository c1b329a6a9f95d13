// SPDX-License-Identifier: Apache-2.0
/* The configuration loader (SPEC §18): defaults, a full file, environment expansion, exact
 * error messages, provider merging, timeout inheritance, money and listen parsing. */
#include "common/config.h"
#include "common/config_walk.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static struct hw_config *load(const char *yaml)
{
	char err[512] = "";
	struct hw_config *cfg = NULL;
	int ret = hw_config_load_string(yaml, strlen(yaml), "hiway.yaml", &cfg, err, sizeof(err));
	if (ret != 0)
		fail_msg("unexpected error %d: %s", ret, err);
	assert_non_null(cfg);
	return cfg;
}

static void expect_error(const char *yaml, const char *message)
{
	char err[512] = "";
	struct hw_config *cfg = (struct hw_config *)1;
	int ret = hw_config_load_string(yaml, strlen(yaml), "hiway.yaml", &cfg, err, sizeof(err));
	assert_int_equal(ret, -EINVAL);
	assert_null(cfg);
	assert_string_equal(err, message);
}

static const struct hw_cfg_provider *provider(const struct hw_config *cfg, const char *id)
{
	const struct hw_cfg_provider *p = hw_config_provider(cfg, id);
	assert_non_null(p);
	return p;
}

static void test_defaults_of_empty_file(void **state)
{
	char host[256] = "";
	unsetenv("HIWAY_ADMIN_TOKEN");
	unsetenv("HIWAY_MASTER_KEY");
	unsetenv("OPENAI_API_KEY");
	struct hw_config *cfg = load("");
	gethostname(host, sizeof(host) - 1);

	assert_string_equal(cfg->path, "hiway.yaml");
	assert_string_equal(cfg->node_id, host);
	assert_int_equal(cfg->server.n_listen, 1);
	assert_string_equal(cfg->server.listen[0], "0.0.0.0:8080");
	assert_string_equal(cfg->server.listen_addrs[0].host, "0.0.0.0");
	assert_int_equal(cfg->server.listen_addrs[0].port, 8080);
	assert_int_equal(cfg->server.threads, 0);
	assert_int_equal(cfg->server.max_connections, 4096);
	assert_int_equal(cfg->server.max_connections_per_ip, 256);
	assert_int_equal(cfg->server.max_body_bytes, 10485760);
	assert_int_equal(cfg->server.max_header_bytes, 32768);
	assert_int_equal(cfg->server.client_timeout_s, 30);
	assert_int_equal(cfg->server.drain_timeout_s, 30);
	assert_int_equal(cfg->server.n_trusted_proxies, 0);
	assert_string_equal(cfg->store, "sqlite:./hiway.db");
	assert_string_equal(cfg->store_options.sqlite_synchronous, "normal");
	assert_int_equal(cfg->store_options.busy_timeout_ms, 5000);
	assert_int_equal(cfg->store_options.redis_pool, 16);
	assert_int_equal(cfg->store_options.redis_timeout_ms, 1000);
	assert_string_equal(cfg->admin.token, "");
	assert_string_equal(cfg->secrets.master_key, "");
	assert_false(cfg->secrets.has_master_key);
	assert_true(cfg->bootstrap.enabled);
	assert_string_equal(cfg->bootstrap.workspace_name, "default");
	assert_int_equal(cfg->bootstrap.initial_credit, 10000000);

	assert_int_equal(cfg->n_providers, 5);
	const struct hw_cfg_provider *p = provider(cfg, "openai");
	assert_int_equal(p->kind, HW_PROVIDER_OPENAI);
	assert_string_equal(p->base_url, "https://api.openai.com/v1");
	assert_string_equal(p->api_key, "");
	assert_true(p->enabled);
	assert_true(p->share_key);
	assert_int_equal(p->max_connections, 64);
	assert_int_equal(p->timeouts.connect_ms, 5000);
	assert_int_equal(p->timeouts.total_ms, 600000);
	p = provider(cfg, "anthropic");
	assert_int_equal(p->kind, HW_PROVIDER_ANTHROPIC);
	assert_string_equal(p->anthropic_version, "2023-06-01");
	assert_true(p->prompt_cache);
	assert_string_equal(provider(cfg, "mistral")->base_url, "https://api.mistral.ai/v1");
	assert_string_equal(provider(cfg, "google")->base_url,
			    "https://generativelanguage.googleapis.com");
	p = provider(cfg, "local");
	assert_int_equal(p->kind, HW_PROVIDER_ECHO);
	assert_null(p->base_url);
	assert_int_equal(p->delay_ms, 0);
	assert_null(hw_config_provider(cfg, "ollama"));

	assert_true(cfg->catalog.builtin);
	assert_int_equal(cfg->catalog.n_models, 0);
	assert_string_equal(cfg->routing.profile, "balanced");
	assert_string_equal(cfg->routing.baseline_model, "anthropic/claude-opus-4-7");
	assert_string_equal(cfg->routing.default_model, "anthropic/claude-haiku-4-5");
	assert_float_equal(cfg->routing.thresholds.standard, 0.30, 1e-9);
	assert_float_equal(cfg->routing.thresholds.heavy, 0.70, 1e-9);
	assert_float_equal(cfg->routing.thresholds.ultra_light, 0.15, 1e-9);
	assert_float_equal(cfg->routing.thresholds.confidence_margin, 0.05, 1e-9);
	assert_true(cfg->routing.ultra_light.enabled);
	assert_int_equal(cfg->routing.ultra_light.max_prompt_chars, 600);
	assert_int_equal(cfg->routing.ultra_light.max_context_tokens, 500);
	assert_float_equal(cfg->routing.weights.intent, 0.25, 1e-9);
	assert_float_equal(cfg->routing.weights.code, 0.20, 1e-9);
	assert_int_equal(cfg->routing.n_keywords, 0);

	assert_int_equal(cfg->upstream.timeouts.connect_ms, 5000);
	assert_int_equal(cfg->upstream.timeouts.first_byte_ms, 30000);
	assert_int_equal(cfg->upstream.timeouts.response_ms, 300000);
	assert_int_equal(cfg->upstream.timeouts.idle_ms, 30000);
	assert_int_equal(cfg->upstream.timeouts.total_ms, 600000);
	assert_int_equal(cfg->upstream.max_attempts, 3);
	assert_int_equal(cfg->upstream.default_max_tokens, 4096);
	assert_int_equal(cfg->upstream.max_response_bytes, 33554432);
	assert_int_equal(cfg->upstream.breaker.failures, 5);
	assert_int_equal(cfg->upstream.breaker.open_s, 30);
	assert_int_equal(cfg->upstream.breaker.max_cooldown_s, 300);
	assert_int_equal(cfg->upstream.drain_on_disconnect.max_s, 30);
	assert_int_equal(cfg->upstream.drain_on_disconnect.max_bytes, 8388608);

	assert_true(cfg->money.markup.enabled);
	assert_int_equal(cfg->money.markup.n_brackets, 4);
	assert_int_equal(cfg->money.markup.brackets[0].below, 500000000);
	assert_int_equal(cfg->money.markup.brackets[0].rate_bp, 1250);
	assert_int_equal(cfg->money.markup.brackets[2].below, 20000000000);
	assert_int_equal(cfg->money.markup.brackets[3].below, -1);
	assert_int_equal(cfg->money.markup.brackets[3].rate_bp, 900);
	assert_int_equal(cfg->money.wallet.empty_below, 0);
	assert_int_equal(cfg->money.wallet.n_low_balance_percents, 2);
	assert_int_equal(cfg->money.wallet.low_balance_percents[1], 10);
	assert_int_equal(cfg->money.passthrough.grace_hours, 72);
	assert_int_equal(cfg->money.passthrough.grace_tokens, 100000);
	assert_float_equal(cfg->money.passthrough.warn_fraction, 0.5, 1e-9);
	assert_int_equal(cfg->money.reservation.chars_per_token, 3);
	assert_int_equal(cfg->money.reservation.lease_s, 900);
	assert_string_equal(cfg->money.upgrade_url, "https://www.hiway2llm.com/upgrade");
	assert_int_equal(cfg->budget.cap, -1);
	assert_float_equal(cfg->budget.thresholds.block, 1.0, 1e-9);
	assert_string_equal(cfg->plans.default_plan, "unlimited");
	assert_int_equal(cfg->plans.n_presets, 5);
	assert_string_equal(cfg->plans.presets[1].name, "build");
	assert_int_equal(cfg->plans.presets[1].included_requests, 100000);
	assert_int_equal(cfg->plans.presets[1].overage_per_100k, 4000000);
	assert_int_equal(cfg->plans.presets[4].included_requests, -1);
	assert_int_equal(cfg->keys.default_rpm_limit, 600);
	assert_true(cfg->keys.accept_legacy_prefix);

	assert_true(cfg->guardian.enabled);
	assert_int_equal(cfg->guardian.alert_interval_s, 3600);
	assert_int_equal(cfg->guardian.dedup.count, 3);
	assert_string_equal(cfg->guardian.dedup.action, "block");
	assert_int_equal(cfg->guardian.cost_spike.min_spend, 1000000);
	assert_string_equal(cfg->guardian.cost_spike.action, "throttle");
	assert_int_equal(cfg->guardian.context_bloat.max_prompt_tokens, 50000);
	assert_int_equal(cfg->guardian.zombie_agent.window_s, 1800);
	assert_string_equal(cfg->shield.mode, "monitor");
	assert_float_equal(cfg->shield.threshold, 0.85, 1e-9);
	assert_int_equal(cfg->shield.retention_days, 90);
	assert_float_equal(cfg->shield.scores.secrets, 0.95, 1e-9);
	assert_string_equal(cfg->shield.patterns_dir, "");

	assert_true(cfg->perimeter.enabled);
	assert_int_equal(cfg->perimeter.n_interfaces, 0);
	assert_string_equal(cfg->perimeter.attach, "auto");
	assert_int_equal(cfg->perimeter.n_protected_ports, 1);
	assert_int_equal(cfg->perimeter.protected_ports[0], 8080);
	assert_string_equal(cfg->perimeter.deny_scope, "ports");
	assert_int_equal(cfg->perimeter.syn_rate_per_s, 20);
	assert_int_equal(cfg->perimeter.syn_burst, 40);
	assert_string_equal(cfg->perimeter.pin_path, "/sys/fs/bpf/hiway");
	assert_int_equal(cfg->perimeter.limits.max_rules_per_family, 131072);
	assert_int_equal(cfg->perimeter.autoban.auth_failures.count, 20);
	assert_int_equal(cfg->perimeter.autoban.guardian_blocks.count, 30);
	assert_int_equal(cfg->perimeter.autoban.n_exempt, 2);
	assert_string_equal(cfg->perimeter.autoban.exempt[1], "::1/128");
	assert_int_equal(cfg->webhooks.workers, 2);
	assert_int_equal(cfg->webhooks.n_retry_schedule_s, 8);
	assert_int_equal(cfg->webhooks.retry_schedule_s[7], 14400);
	assert_int_equal(cfg->usage.retention_days, 90);
	assert_string_equal(cfg->logging.level, "info");
	assert_true(cfg->logging.access_log);
	assert_true(cfg->metrics.enabled);
	assert_string_equal(cfg->metrics.token, "");
	assert_true(cfg->metrics.per_workspace_labels);
	hw_config_free(cfg);

	/* A file of comments, a null document and an empty mapping are empty too. */
	cfg = load("# nothing here\n");
	assert_int_equal(cfg->n_providers, 5);
	hw_config_free(cfg);
	cfg = load("~\n");
	assert_int_equal(cfg->server.max_connections, 4096);
	hw_config_free(cfg);
	cfg = load("server:\n  # listen: [\"x:1\"]\n");
	assert_int_equal(cfg->server.n_listen, 1);
	hw_config_free(cfg);
}

static void test_full_file(void **state)
{
	struct hw_config *cfg = load(
		"node_id: gw-1\n"
		"server:\n"
		"  listen: [\"127.0.0.1:9000\", \"[::1]:9001\"]\n"
		"  threads: 4\n"
		"  max_connections: 100\n"
		"  max_connections_per_ip: 10\n"
		"  max_body_bytes: 2048\n"
		"  max_header_bytes: 1024\n"
		"  client_timeout_s: 5\n"
		"  drain_timeout_s: 0\n"
		"  trusted_proxies: [10.0.0.0/8, \"fd00::/8\", 192.168.1.1]\n"
		"store: \"redis://:pw@redis.internal:6380/2\"\n"
		"store_options: {sqlite_synchronous: full, busy_timeout_ms: 0, redis_pool: 4,"
		" redis_timeout_ms: 50}\n"
		"admin: {token: \"0123456789abcdef0123456789abcdef\"}\n"
		"secrets: {master_key: "
		"\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"}\n"
		"bootstrap: {enabled: false, workspace_name: acme, initial_credit_usd: 0.5}\n"
		"catalog:\n"
		"  builtin: false\n"
		"  models:\n"
		"    - {id: \"ollama/llama3.1:8b\", tier: light, input_per_mtok: 0, "
		"output_per_mtok: 0,"
		" quality: 40, supports_tools: true, context_window: 131072, max_output_tokens: "
		"8192,"
		" region: local}\n"
		"routing:\n"
		"  profile: quality\n"
		"  thresholds: {standard: 0.4, heavy: 0.8, ultra_light: 0.1, confidence_margin: "
		"0}\n"
		"  ultra_light: {enabled: false, max_prompt_chars: 100, max_context_tokens: 50}\n"
		"  weights: {intent: 0.2, complexity: 0.2, tools: 0.1, system_prompt: 0.1, code: "
		"0.2,"
		" domain: 0.1, context: 0.1}\n"
		"  keywords: {greeting: [hi, yo], domain_legal: []}\n"
		"  baseline_model: openai/gpt-5\n"
		"  default_model: local/echo-light\n"
		"upstream:\n"
		"  max_attempts: 1\n"
		"  default_max_tokens: 100\n"
		"  max_response_bytes: 4096\n"
		"  breaker: {failures: 2, open_s: 5, max_cooldown_s: 60}\n"
		"  drain_on_disconnect: {max_s: 0, max_bytes: 0}\n"
		"money:\n"
		"  markup: {enabled: false, brackets: [{below_usd: 100.25, percent: 20.75},"
		" {percent: 0}]}\n"
		"  wallet: {empty_below_usd: 0.05, low_balance_percents: [50]}\n"
		"  passthrough: {enabled: false, grace_hours: 1, grace_tokens: 10, warn_fraction: "
		"1}\n"
		"  reservation: {chars_per_token: 4, overhead_tokens: 0, non_text_part_chars: 10,"
		" lease_s: 60}\n"
		"  upgrade_url: \"\"\n"
		"  topup_url: \"http://billing.local/topup\"\n"
		"budget: {cap_usd: 250.000001, thresholds: {downgrade: 0.5, light_only: 0.5,"
		" block: 2}}\n"
		"plans:\n"
		"  default: gold\n"
		"  presets:\n"
		"    gold: {included_requests: 5, overage_enabled: true, overage_usd_per_100k: "
		"1.5}\n"
		"    free: {included_requests: 1}\n"
		"keys: {default_rpm_limit: null, accept_legacy_prefix: no}\n"
		"guardian:\n"
		"  enabled: false\n"
		"  alert_interval_s: 60\n"
		"  dedup: {enabled: false, count: 9, window_s: 9, retry_after_s: 9, action: "
		"alert-only}\n"
		"  cost_spike: {multiplier: 2.5, min_spend_usd: 0, throttle_rps: 0.5, action: "
		"block}\n"
		"  context_bloat: {max_prompt_tokens: 10, action: alert}\n"
		"  zombie_agent: {min_requests: 2, action: throttle}\n"
		"shield: {mode: block, threshold: 0.5, retention_days: 3650, monitor_queue: 1,"
		" patterns_dir: /etc/hiway/shield, scores: {pii: 0}}\n"
		"perimeter:\n"
		"  enabled: false\n"
		"  interfaces: [eth0, ens3]\n"
		"  attach: tc\n"
		"  protected_ports: [443]\n"
		"  deny_scope: all\n"
		"  syn_rate_per_s: 0\n"
		"  syn_burst: 1\n"
		"  workspace_rules_in_kernel: false\n"
		"  pin_path: /sys/fs/bpf/hw2\n"
		"  poll_ms: 1000\n"
		"  limits: {max_rules_per_family: 10, max_tracked_sources: 20}\n"
		"  autoban: {enabled: false, auth_failures: {count: 1, window_s: 2},"
		" guardian_blocks: {count: 3, window_s: 4}, ttl_s: 5, exempt: []}\n"
		"webhooks: {workers: 8, timeout_s: 3, retry_schedule_s: [], max_pending: 7}\n"
		"usage: {retention_days: 1}\n"
		"logging: {level: debug, access_log: false}\n"
		"metrics: {enabled: false, token: \"m3tr1cs\", per_workspace_labels: false}\n");

	assert_string_equal(cfg->node_id, "gw-1");
	assert_int_equal(cfg->server.n_listen, 2);
	assert_string_equal(cfg->server.listen_addrs[1].host, "::1");
	assert_int_equal(cfg->server.listen_addrs[1].port, 9001);
	assert_true(cfg->server.listen_addrs[1].ipv6);
	assert_int_equal(cfg->server.threads, 4);
	assert_int_equal(cfg->server.max_header_bytes, 1024);
	assert_int_equal(cfg->server.drain_timeout_s, 0);
	assert_int_equal(cfg->server.n_trusted_proxies, 3);
	assert_string_equal(cfg->server.trusted_proxies[1], "fd00::/8");
	assert_string_equal(cfg->store, "redis://:pw@redis.internal:6380/2");
	assert_string_equal(cfg->store_options.sqlite_synchronous, "full");
	assert_int_equal(cfg->store_options.redis_pool, 4);
	assert_string_equal(cfg->admin.token, "0123456789abcdef0123456789abcdef");
	assert_true(cfg->secrets.has_master_key);
	assert_int_equal(cfg->secrets.master_key_raw[0], 0);
	assert_int_equal(cfg->secrets.master_key_raw[31], 0x1f);
	assert_false(cfg->bootstrap.enabled);
	assert_string_equal(cfg->bootstrap.workspace_name, "acme");
	assert_int_equal(cfg->bootstrap.initial_credit, 500000);
	assert_false(cfg->catalog.builtin);
	assert_int_equal(cfg->catalog.n_models, 1);
	assert_string_equal(cfg->routing.profile, "quality");
	assert_false(cfg->routing.ultra_light.enabled);
	assert_int_equal(cfg->routing.n_keywords, 2);
	assert_string_equal(cfg->routing.keywords[0].name, "greeting");
	assert_int_equal(cfg->routing.keywords[0].n_words, 2);
	assert_string_equal(cfg->routing.keywords[0].words[1], "yo");
	assert_int_equal(cfg->routing.keywords[1].n_words, 0);
	assert_string_equal(cfg->routing.default_model, "local/echo-light");
	assert_int_equal(cfg->upstream.max_attempts, 1);
	assert_int_equal(cfg->upstream.breaker.failures, 2);
	assert_false(cfg->money.markup.enabled);
	assert_int_equal(cfg->money.markup.n_brackets, 2);
	assert_int_equal(cfg->money.markup.brackets[0].below, 100250000);
	assert_int_equal(cfg->money.markup.brackets[0].rate_bp, 2075);
	assert_int_equal(cfg->money.markup.brackets[1].rate_bp, 0);
	assert_int_equal(cfg->money.wallet.empty_below, 50000);
	assert_int_equal(cfg->money.wallet.n_low_balance_percents, 1);
	assert_float_equal(cfg->money.passthrough.warn_fraction, 1.0, 1e-9);
	assert_string_equal(cfg->money.upgrade_url, "");
	assert_int_equal(cfg->budget.cap, 250000001);
	assert_float_equal(cfg->budget.thresholds.block, 2.0, 1e-9);
	assert_string_equal(cfg->plans.default_plan, "gold");
	assert_int_equal(cfg->plans.n_presets, 6);
	assert_int_equal(cfg->plans.presets[0].included_requests, 1);
	assert_false(cfg->plans.presets[0].overage_enabled);
	assert_string_equal(cfg->plans.presets[5].name, "gold");
	assert_int_equal(cfg->plans.presets[5].overage_per_100k, 1500000);
	assert_int_equal(cfg->keys.default_rpm_limit, -1);
	assert_false(cfg->keys.accept_legacy_prefix);
	assert_false(cfg->guardian.enabled);
	assert_string_equal(cfg->guardian.dedup.action, "alert");
	assert_float_equal(cfg->guardian.cost_spike.multiplier, 2.5, 1e-9);
	assert_int_equal(cfg->guardian.cost_spike.window_s, 300);
	assert_string_equal(cfg->guardian.cost_spike.action, "block");
	assert_string_equal(cfg->guardian.context_bloat.action, "alert");
	assert_string_equal(cfg->guardian.zombie_agent.action, "throttle");
	assert_string_equal(cfg->shield.mode, "block");
	assert_float_equal(cfg->shield.scores.pii, 0.0, 1e-9);
	assert_float_equal(cfg->shield.scores.jailbreak, 0.90, 1e-9);
	assert_string_equal(cfg->shield.patterns_dir, "/etc/hiway/shield");
	assert_int_equal(cfg->perimeter.n_interfaces, 2);
	assert_string_equal(cfg->perimeter.interfaces[1], "ens3");
	assert_int_equal(cfg->perimeter.n_protected_ports, 1);
	assert_int_equal(cfg->perimeter.protected_ports[0], 443);
	assert_string_equal(cfg->perimeter.deny_scope, "all");
	assert_false(cfg->perimeter.workspace_rules_in_kernel);
	assert_int_equal(cfg->perimeter.autoban.guardian_blocks.window_s, 4);
	assert_int_equal(cfg->perimeter.autoban.n_exempt, 0);
	assert_int_equal(cfg->webhooks.n_retry_schedule_s, 0);
	assert_int_equal(cfg->webhooks.workers, 8);
	assert_int_equal(cfg->usage.retention_days, 1);
	assert_string_equal(cfg->logging.level, "debug");
	assert_false(cfg->metrics.per_workspace_labels);
	assert_string_equal(cfg->metrics.token, "m3tr1cs");
	hw_config_free(cfg);
}

/* The shipped example lists every default: loading it must equal loading nothing. */
static void test_example_file_is_the_defaults(void **state)
{
	static const char *const candidates[] = {"config/hiway.example.yaml",
						 "../config/hiway.example.yaml",
						 "../../config/hiway.example.yaml"};
	char err[512];
	struct hw_config *ex = NULL;
	size_t i = 0;
	while (i < 3 && access(candidates[i], R_OK) != 0)
		i++;
	if (i == 3)
		skip();
	assert_int_equal(hw_config_load(candidates[i], &ex, err, sizeof(err)), 0);
	struct hw_config *def = load("");

	assert_int_equal(ex->n_providers, def->n_providers);
	for (size_t k = 0; k < def->n_providers; k++) {
		const struct hw_cfg_provider *a = &ex->providers[k], *b = &def->providers[k];
		assert_string_equal(a->id, b->id);
		assert_int_equal(a->kind, b->kind);
		assert_true((!a->base_url && !b->base_url) ||
			    strcmp(a->base_url, b->base_url) == 0);
		assert_memory_equal(&a->timeouts, &b->timeouts, sizeof(a->timeouts));
		assert_int_equal(a->prompt_cache, b->prompt_cache);
	}
	assert_memory_equal(&ex->server.threads, &def->server.threads,
			    offsetof(struct hw_config, server.trusted_proxies) -
				    offsetof(struct hw_config, server.threads));
	assert_memory_equal(&ex->upstream, &def->upstream, sizeof(ex->upstream));
	assert_memory_equal(&ex->routing.thresholds, &def->routing.thresholds,
			    offsetof(struct hw_config, routing.keywords) -
				    offsetof(struct hw_config, routing.thresholds));
	assert_memory_equal(&ex->budget, &def->budget, sizeof(ex->budget));
	assert_memory_equal(&ex->money.passthrough, &def->money.passthrough,
			    sizeof(ex->money.passthrough));
	assert_memory_equal(&ex->money.reservation, &def->money.reservation,
			    sizeof(ex->money.reservation));
	assert_int_equal(ex->money.markup.n_brackets, def->money.markup.n_brackets);
	assert_memory_equal(ex->money.markup.brackets, def->money.markup.brackets,
			    def->money.markup.n_brackets * sizeof(*def->money.markup.brackets));
	assert_int_equal(ex->plans.n_presets, def->plans.n_presets);
	assert_int_equal(ex->guardian.cost_spike.min_spend, def->guardian.cost_spike.min_spend);
	assert_float_equal(ex->guardian.cost_spike.multiplier, def->guardian.cost_spike.multiplier,
			   0);
	assert_memory_equal(&ex->shield.scores, &def->shield.scores, sizeof(ex->shield.scores));
	assert_int_equal(ex->perimeter.syn_burst, def->perimeter.syn_burst);
	assert_memory_equal(&ex->perimeter.limits, &def->perimeter.limits,
			    sizeof(ex->perimeter.limits));
	assert_int_equal(ex->webhooks.n_retry_schedule_s, def->webhooks.n_retry_schedule_s);
	assert_string_equal(ex->money.topup_url, def->money.topup_url);
	assert_string_equal(ex->logging.level, def->logging.level);
	hw_config_free(ex);
	hw_config_free(def);
}

static void test_env_expansion(void **state)
{
	setenv("HW_TEST_NAME", "from-env", 1);
	setenv("HW_TEST_PORT", "9443", 1);
	setenv("HW_TEST_EMPTY", "", 1);
	unsetenv("HW_TEST_UNSET");

	struct hw_config *cfg =
		load("bootstrap: {workspace_name: \"ws-${HW_TEST_NAME}\"}\n"
		     "server: {listen: [\"127.0.0.1:${HW_TEST_PORT}\"],"
		     " threads: \"${HW_TEST_UNSET:-3}\"}\n"
		     "metrics: {token: \"a$$b$${HW_TEST_NAME}c$d\"}\n"
		     "money: {upgrade_url: \"${HW_TEST_EMPTY:-https://x.test/up}\"}\n"
		     "admin: {token: \"${HW_TEST_EMPTY}\"}\n");
	assert_string_equal(cfg->bootstrap.workspace_name, "ws-from-env");
	assert_int_equal(cfg->server.listen_addrs[0].port, 9443);
	assert_int_equal(cfg->server.threads, 3);
	assert_string_equal(cfg->metrics.token, "a$b${HW_TEST_NAME}c$d");
	assert_string_equal(cfg->money.upgrade_url, "https://x.test/up");
	assert_string_equal(cfg->admin.token, "");
	hw_config_free(cfg);

	/* The defaults' own references read the environment too. */
	setenv("OPENAI_API_KEY", "sk-test", 1);
	cfg = load("");
	assert_string_equal(provider(cfg, "openai")->api_key, "sk-test");
	hw_config_free(cfg);
	unsetenv("OPENAI_API_KEY");

	expect_error("providers: {openai: {api_key: \"${HW_TEST_UNSET}\"}}\n",
		     "hiway.yaml: providers.openai.api_key: environment variable HW_TEST_UNSET is"
		     " not set");
	expect_error("server: {listen: [\"${HW_TEST_UNSET}:80\"]}\n",
		     "hiway.yaml: server.listen[0]: environment variable HW_TEST_UNSET is not set");
	expect_error("metrics: {token: \"${HW_TEST_NAME\"}\n",
		     "hiway.yaml: metrics.token: unterminated \"${\" in environment reference");
	expect_error("metrics: {token: \"${1BAD}\"}\n",
		     "hiway.yaml: metrics.token: invalid environment reference \"${1BAD}\"");
	expect_error("metrics: {token: \"${A-b}\"}\n",
		     "hiway.yaml: metrics.token: invalid environment reference \"${A-b}\"");
	setenv("HW_TEST_PORT", "eighty", 1);
	expect_error("server: {max_connections: \"${HW_TEST_PORT}\"}\n",
		     "hiway.yaml: server.max_connections: expected integer >= 1, got \"eighty\"");
	unsetenv("HW_TEST_NAME");
	unsetenv("HW_TEST_PORT");
	unsetenv("HW_TEST_EMPTY");
}

static void test_error_messages(void **state)
{
	expect_error("guardian:\n  dedup:\n    count: three\n",
		     "hiway.yaml: guardian.dedup.count: expected integer >= 1, got \"three\"");
	expect_error("server:\n  bogus: 1\n", "hiway.yaml: server.bogus: unknown key");
	expect_error("bogus: {a: 1}\n", "hiway.yaml: bogus: unknown key");
	expect_error("server: {\"a\\nb\": 1}\n", "hiway.yaml: server.a?b: unknown key");
	expect_error("metrics: {token: \"${A\\nB}\"}\n",
		     "hiway.yaml: metrics.token: invalid environment reference \"${A?B}\"");
	expect_error("providers:\n  foo: {kind: x, base_url: \"http://h\"}\n",
		     "hiway.yaml: providers.foo.kind: expected one of openai, openai_compatible,"
		     " mistral, anthropic, google, echo, got \"x\"");
	expect_error("server: {threads: -1}\n",
		     "hiway.yaml: server.threads: expected integer between 0 and 1024, got \"-1\"");
	expect_error("server: {max_body_bytes: 1023}\n",
		     "hiway.yaml: server.max_body_bytes: expected integer >= 1024, got \"1023\"");
	expect_error("server: {max_header_bytes: 12.5}\n",
		     "hiway.yaml: server.max_header_bytes: expected integer >= 1024, got \"12.5\"");
	expect_error("upstream: {timeouts: {connect_ms: 0}}\n",
		     "hiway.yaml: upstream.timeouts.connect_ms: expected integer >= 1, got \"0\"");
	expect_error("server: {threads: 99999999999999999999}\n",
		     "hiway.yaml: server.threads: expected integer between 0 and 1024, got"
		     " \"99999999999999999999\"");
	expect_error("server: [1, 2]\n", "hiway.yaml: server: expected a mapping, got a sequence");
	expect_error(
		"server: {threads: {a: 1}}\n",
		"hiway.yaml: server.threads: expected integer between 0 and 1024, got a mapping");
	expect_error("server: {threads: }\n",
		     "hiway.yaml: server.threads: expected integer between 0 and 1024, got null");
	expect_error("server: {trusted_proxies: 10.0.0.0/8}\n",
		     "hiway.yaml: server.trusted_proxies: expected a sequence, got \"10.0.0.0/8\"");
	expect_error(
		"server: {trusted_proxies: [10.0.0.0/33]}\n",
		"hiway.yaml: server.trusted_proxies[0]: expected an IPv4 or IPv6 address or CIDR,"
		" got \"10.0.0.0/33\"");
	expect_error("logging: {level: loud}\n", "hiway.yaml: logging.level: expected one of "
						 "debug, info, warn, error, got \"loud\"");
	expect_error("logging: {access_log: maybe}\n",
		     "hiway.yaml: logging.access_log: expected true or false, got \"maybe\"");
	expect_error("store: \"mysql://db\"\n",
		     "hiway.yaml: store: expected \"sqlite:PATH\" or"
		     " \"redis://[:PASSWORD@]HOST[:PORT][/DB]\", got \"mysql://db\"");
	expect_error("store: \"sqlite:\"\n",
		     "hiway.yaml: store: expected \"sqlite:PATH\" or"
		     " \"redis://[:PASSWORD@]HOST[:PORT][/DB]\", got \"sqlite:\"");
	expect_error("admin: {token: tooshort}\n",
		     "hiway.yaml: admin.token: expected empty or at least 32 printable characters"
		     " without spaces, got a value of 8 characters");
	expect_error(
		"secrets: {master_key: abcd}\n",
		"hiway.yaml: secrets.master_key: expected empty, 64 hex characters or base64 of"
		" 32 bytes, got a value of 4 characters");
	expect_error("shield: {threshold: 1.5}\n",
		     "hiway.yaml: shield.threshold: expected number between 0 and 1, got \"1.5\"");
	expect_error("shield: {threshold: .nan}\n",
		     "hiway.yaml: shield.threshold: expected number between 0 and 1, got \".nan\"");
	expect_error("shield: {retention_days: 3651}\n",
		     "hiway.yaml: shield.retention_days: expected integer between 1 and 3650, got"
		     " \"3651\"");
	expect_error("guardian: {cost_spike: {multiplier: 0}}\n",
		     "hiway.yaml: guardian.cost_spike.multiplier: expected number > 0, got \"0\"");
	expect_error("guardian: {context_bloat: {action: throttle}}\n",
		     "hiway.yaml: guardian.context_bloat.action: expected one of block, alert, got"
		     " \"throttle\"");
	expect_error(
		"keys: {default_rpm_limit: 0}\n",
		"hiway.yaml: keys.default_rpm_limit: expected integer >= 1 or null, got \"0\"");
	expect_error("perimeter: {interfaces: [\"a/b\"]}\n",
		     "hiway.yaml: perimeter.interfaces[0]: expected an interface name of 1 to 15"
		     " characters, got \"a/b\"");
	expect_error(
		"perimeter: {protected_ports: [80, 0]}\n",
		"hiway.yaml: perimeter.protected_ports[1]: expected integer between 1 and 65535,"
		" got \"0\"");
	expect_error("perimeter: {pin_path: relative}\n",
		     "hiway.yaml: perimeter.pin_path: expected an absolute path, got \"relative\"");
	expect_error(
		"routing: {default_model: gpt-4o}\n",
		"hiway.yaml: routing.default_model: expected a model id \"provider/model\", got"
		" \"gpt-4o\"");
	expect_error("routing: {keywords: {greetings: [hi]}}\n",
		     "hiway.yaml: routing.keywords.greetings: unknown key");
	expect_error("routing: {weights: {intent: 0.35}}\n",
		     "hiway.yaml: routing.weights: must sum to 1 (± 0.001), got 1.1");
	expect_error("routing: {thresholds: {standard: 0.9}}\n",
		     "hiway.yaml: routing.thresholds.standard: must not exceed"
		     " routing.thresholds.heavy (0.7)");
	expect_error("budget: {thresholds: {downgrade: 0.99}}\n",
		     "hiway.yaml: budget.thresholds.downgrade: must not exceed"
		     " budget.thresholds.light_only (0.95)");
	expect_error("plans: {default: gold}\n",
		     "hiway.yaml: plans.default: no plan named \"gold\" in plans.presets");
	expect_error("plans: {presets: {gold: {overage_enabled: true}}}\n",
		     "hiway.yaml: plans.presets.gold.included_requests: required for a new plan (an"
		     " integer, or null for unlimited)");
	expect_error("metrics: {token: \"a\\0b\"}\n",
		     "hiway.yaml: metrics.token: value contains a NUL character");
	expect_error("server: {threads: 1, threads: 2}\n",
		     "hiway.yaml: server.threads: duplicate key");
	expect_error("[1, 2]\n", "hiway.yaml: expected a mapping at the top level, got a sequence");
	expect_error("server: {? [a]: 1}\n", "hiway.yaml: server: mapping keys must be scalars");

	/* YAML syntax errors name the line. */
	expect_error("server:\n  threads: 1\n   bad: 2\n",
		     "hiway.yaml: line 3: mapping values are not allowed in this context");
	expect_error("server: {threads: 1\n",
		     "hiway.yaml: line 2: did not find expected ',' or '}' (while parsing a flow"
		     " mapping at line 1)");
	expect_error("a: 1\n---\nb: 2\n", "hiway.yaml: line 3: only one YAML document is allowed");
}

static void test_missing_file(void **state)
{
	char err[512];
	struct hw_config *cfg = (struct hw_config *)1;
	assert_int_equal(hw_config_load("/nonexistent/hiway.yaml", &cfg, err, sizeof(err)),
			 -ENOENT);
	assert_null(cfg);
	assert_string_equal(err, "/nonexistent/hiway.yaml: cannot open: No such file or directory");
}

static void test_load_from_file_names_it(void **state)
{
	char path[] = "/tmp/hw_test_config_XXXXXX";
	char err[512];
	struct hw_config *cfg = NULL;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "usage: {retention_days: 0}\n", 27), 27);
	close(fd);
	assert_int_equal(hw_config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	char expected[600];
	snprintf(expected, sizeof(expected),
		 "%s: usage.retention_days: expected integer between 1 and 3650, got \"0\"", path);
	assert_string_equal(err, expected);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "usage: {retention_days: 7}\n", 27), 27);
	close(fd);
	assert_int_equal(hw_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg->path, path);
	assert_int_equal(cfg->usage.retention_days, 7);
	hw_config_free(cfg);
	unlink(path);
}

static void test_provider_merge(void **state)
{
	struct hw_config *cfg = load(
		"providers:\n"
		"  openai: {api_key: sk-file, max_connections: 8}\n"
		"  mistral: {enabled: false}\n"
		"  ollama: {kind: openai_compatible, base_url: \"http://127.0.0.1:11434/v1//\","
		" stream_usage: false}\n"
		"  eu-openai: {kind: openai, share_key: false}\n"
		"  anthropic: {prompt_cache: false}\n"
		"  local: {delay_ms: 5}\n");
	assert_int_equal(cfg->n_providers, 7);

	const struct hw_cfg_provider *p = provider(cfg, "openai");
	assert_int_equal(p->kind, HW_PROVIDER_OPENAI);
	assert_string_equal(p->base_url, "https://api.openai.com/v1");
	assert_string_equal(p->api_key, "sk-file");
	assert_int_equal(p->max_connections, 8);
	assert_true(p->enabled);
	assert_false(provider(cfg, "mistral")->enabled);
	assert_string_equal(provider(cfg, "mistral")->base_url, "https://api.mistral.ai/v1");

	p = provider(cfg, "ollama");
	assert_int_equal(p->kind, HW_PROVIDER_OPENAI_COMPATIBLE);
	assert_string_equal(p->base_url, "http://127.0.0.1:11434/v1");
	assert_null(p->api_key);
	assert_false(p->stream_usage);
	assert_true(p->enabled);
	assert_true(p->share_key);
	assert_int_equal(p->max_connections, 64);
	assert_string_equal(cfg->providers[5].id, "ollama");

	p = provider(cfg, "eu-openai");
	assert_string_equal(p->base_url, "https://api.openai.com/v1");
	assert_false(p->share_key);
	assert_false(provider(cfg, "anthropic")->prompt_cache);
	assert_string_equal(provider(cfg, "anthropic")->anthropic_version, "2023-06-01");
	assert_int_equal(provider(cfg, "local")->delay_ms, 5);
	hw_config_free(cfg);

	/* Naming another kind starts the entry afresh. */
	cfg = load("providers:\n  local: {kind: openai_compatible, base_url: \"http://h:1\"}\n"
		   "  openai: {kind: echo}\n");
	assert_int_equal(provider(cfg, "local")->kind, HW_PROVIDER_OPENAI_COMPATIBLE);
	assert_null(provider(cfg, "openai")->base_url);
	assert_null(provider(cfg, "openai")->api_key);
	hw_config_free(cfg);

	expect_error("providers:\n  foo: {base_url: \"http://x\"}\n",
		     "hiway.yaml: providers.foo.kind: required for a new provider");
	expect_error("providers:\n  foo: {kind: openai_compatible}\n",
		     "hiway.yaml: providers.foo.base_url: required for kind openai_compatible");
	expect_error("providers:\n  openai: {delay_ms: 5}\n",
		     "hiway.yaml: providers.openai.delay_ms: not used by kind openai");
	expect_error("providers:\n  local: {api_key: k}\n",
		     "hiway.yaml: providers.local.api_key: not used by kind echo");
	expect_error(
		"providers:\n  openai: {base_url: \"ftp://x\"}\n",
		"hiway.yaml: providers.openai.base_url: expected an http:// or https:// URL, got"
		" \"ftp://x\"");
	expect_error("providers:\n  openai: {colour: blue}\n",
		     "hiway.yaml: providers.openai.colour: unknown key");
	expect_error(
		"providers:\n  \"a/b\": {kind: echo}\n",
		"hiway.yaml: providers.a/b: provider ids are 1 to 64 letters, digits, '_' or '-'");
	expect_error("providers:\n  openai: 3\n",
		     "hiway.yaml: providers.openai: expected a mapping, got \"3\"");

	assert_string_equal(hw_provider_kind_name(HW_PROVIDER_OPENAI_COMPATIBLE),
			    "openai_compatible");
	assert_string_equal(hw_provider_kind_name(HW_PROVIDER_ECHO), "echo");
	assert_string_equal(hw_provider_kind_name((enum hw_provider_kind)42), "unknown");
}

static void test_provider_timeouts_inherit(void **state)
{
	/* Order in the file does not matter: upstream may come after providers. */
	struct hw_config *cfg = load("providers:\n"
				     "  openai: {timeouts: {first_byte_ms: 1234}}\n"
				     "  slow: {kind: openai_compatible, base_url: \"http://h\","
				     " timeouts: {total_ms: 9, idle_ms: 8}}\n"
				     "upstream: {timeouts: {connect_ms: 777, total_ms: 900000}}\n");
	const struct hw_cfg_provider *p = provider(cfg, "openai");
	assert_int_equal(p->timeouts.connect_ms, 777);
	assert_int_equal(p->timeouts.first_byte_ms, 1234);
	assert_int_equal(p->timeouts.response_ms, 300000);
	assert_int_equal(p->timeouts.idle_ms, 30000);
	assert_int_equal(p->timeouts.total_ms, 900000);
	p = provider(cfg, "slow");
	assert_int_equal(p->timeouts.connect_ms, 777);
	assert_int_equal(p->timeouts.idle_ms, 8);
	assert_int_equal(p->timeouts.total_ms, 9);
	p = provider(cfg, "anthropic");
	assert_int_equal(p->timeouts.connect_ms, 777);
	assert_int_equal(p->timeouts.first_byte_ms, 30000);
	assert_int_equal(cfg->upstream.timeouts.first_byte_ms, 30000);
	hw_config_free(cfg);

	expect_error("providers: {openai: {timeouts: {connect_ms: 0}}}\n",
		     "hiway.yaml: providers.openai.timeouts.connect_ms: expected integer >= 1, got "
		     "\"0\"");
	expect_error("providers: {openai: {timeouts: {connect: 5}}}\n",
		     "hiway.yaml: providers.openai.timeouts.connect: unknown key");
}

static void test_money_parsing(void **state)
{
	int64_t v;
	assert_int_equal(hw_cfg_parse_fixed("10", 6, &v), 0);
	assert_int_equal(v, 10000000);
	assert_int_equal(hw_cfg_parse_fixed("0.000001", 6, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(hw_cfg_parse_fixed("500.02", 6, &v), 0);
	assert_int_equal(v, 500020000);
	assert_int_equal(hw_cfg_parse_fixed("0.1", 6, &v), 0);
	assert_int_equal(v, 100000);
	assert_int_equal(hw_cfg_parse_fixed("1.100000", 6, &v), 0);
	assert_int_equal(v, 1100000);
	assert_int_equal(hw_cfg_parse_fixed("-2.5", 6, &v), 0);
	assert_int_equal(v, -2500000);
	assert_int_equal(hw_cfg_parse_fixed("9223372036854.775807", 6, &v), 0);
	assert_int_equal(v, INT64_MAX);
	assert_int_equal(hw_cfg_parse_fixed("9223372036854.775808", 6, &v), -ERANGE);
	assert_int_equal(hw_cfg_parse_fixed("1.1234567", 6, &v), -ERANGE);
	assert_int_equal(hw_cfg_parse_fixed("1.0000000", 6, &v), -ERANGE);
	assert_int_equal(hw_cfg_parse_fixed("1e3", 6, &v), -EINVAL);
	assert_int_equal(hw_cfg_parse_fixed(".5", 6, &v), -EINVAL);
	assert_int_equal(hw_cfg_parse_fixed("5.", 6, &v), -EINVAL);
	assert_int_equal(hw_cfg_parse_fixed("", 6, &v), -EINVAL);
	assert_int_equal(hw_cfg_parse_fixed("0x10", 6, &v), -EINVAL);
	assert_int_equal(hw_cfg_parse_fixed("12.5", 2, &v), 0);
	assert_int_equal(v, 1250);

	/* 0.1 + 0.2 style values stay exact: no float on the way. */
	struct hw_config *cfg = load("bootstrap: {initial_credit_usd: 0.300001}\n"
				     "guardian: {cost_spike: {min_spend_usd: 123456.789012}}\n");
	assert_int_equal(cfg->bootstrap.initial_credit, 300001);
	assert_int_equal(cfg->guardian.cost_spike.min_spend, 123456789012);
	hw_config_free(cfg);

	expect_error("bootstrap: {initial_credit_usd: 1.1234567}\n",
		     "hiway.yaml: bootstrap.initial_credit_usd: expected USD amount between 0 and"
		     " 1000000000 with at most 6 decimals, got \"1.1234567\"");
	expect_error("bootstrap: {initial_credit_usd: -1}\n",
		     "hiway.yaml: bootstrap.initial_credit_usd: expected USD amount between 0 and"
		     " 1000000000 with at most 6 decimals, got \"-1\"");
	expect_error("bootstrap: {initial_credit_usd: 1e2}\n",
		     "hiway.yaml: bootstrap.initial_credit_usd: expected USD amount between 0 and"
		     " 1000000000 with at most 6 decimals, got \"1e2\"");
	expect_error(
		"catalog: {models: [{id: a/b, input_per_mtok: 0.0000001}]}\n",
		"hiway.yaml: catalog.models[0].input_per_mtok: expected USD amount between 0 and"
		" 1000000000 with at most 6 decimals, got \"0.0000001\"");
	expect_error(
		"budget: {cap_usd: ten}\n",
		"hiway.yaml: budget.cap_usd: expected USD amount between 0 and 1000000000 with at"
		" most 6 decimals or null, got \"ten\"");
	expect_error(
		"money: {markup: {brackets: [{below_usd: 5, percent: 12.555}, {percent: 1}]}}\n",
		"hiway.yaml: money.markup.brackets[0].percent: expected percentage between 0 and"
		" 100 with at most 2 decimals, got \"12.555\"");
	expect_error("money: {markup: {brackets: [{below_usd: 5, percent: 1}]}}\n",
		     "hiway.yaml: money.markup.brackets[0].below_usd: the last bracket must be"
		     " open-ended (no below_usd)");
	expect_error(
		"money: {markup: {brackets: [{percent: 1}, {percent: 2}]}}\n",
		"hiway.yaml: money.markup.brackets[0].below_usd: required on every bracket but the"
		" last");
	expect_error(
		"money: {markup: {brackets: [{below_usd: 5, percent: 1}, {below_usd: 5,"
		" percent: 2}, {percent: 3}]}}\n",
		"hiway.yaml: money.markup.brackets[1].below_usd: must be greater than the previous"
		" bracket's");
	expect_error("money: {markup: {brackets: [{below_usd: 5}, {percent: 3}]}}\n",
		     "hiway.yaml: money.markup.brackets[0].percent: required");
	expect_error("money: {markup: {brackets: []}}\n",
		     "hiway.yaml: money.markup.brackets: expected at least one bracket");
}

static void test_catalog_models(void **state)
{
	struct hw_config *cfg = load(
		"catalog:\n"
		"  models:\n"
		"    - {id: \"ollama/llama3.1:8b\", tier: light, input_per_mtok: 0.2, "
		"output_per_mtok: 0.4,"
		" quality: 40, context_window: 131072, max_output_tokens: 8192, region: local}\n"
		"    - {id: anthropic/claude-haiku-4-5-20251001, tier: ultra_light, "
		"input_per_mtok: 1}\n"
		"    - {id: openai/gpt-4o, enabled: false}\n"
		"    - {id: x/y/z, provider: local, upstream_model: zz, input_per_mtok: 1,"
		" cache_read_per_mtok: 0.01, min_cache_tokens: 0, created: 1700000000,"
		" supports_tools: false}\n");
	assert_int_equal(cfg->catalog.n_models, 4);

	const struct hw_cfg_model *m = &cfg->catalog.models[0];
	assert_string_equal(m->id, "ollama/llama3.1:8b");
	assert_string_equal(m->provider, "ollama");
	assert_string_equal(m->upstream_model, "llama3.1:8b");
	assert_string_equal(m->tier, "light");
	assert_string_equal(m->region, "local");
	assert_int_equal(m->input_per_mtok, 200000);
	assert_int_equal(m->output_per_mtok, 400000);
	assert_int_equal(m->cache_read_per_mtok, 100000);
	assert_int_equal(m->cache_write_per_mtok, 200000);
	assert_int_equal(m->quality, 40);
	assert_int_equal(m->min_cache_tokens, 1024);
	assert_int_equal(m->created, 0);
	assert_true(m->enabled);
	assert_true(m->supports_tools);
	assert_true(m->set & HW_CFG_MODEL_TIER);
	assert_true(m->set & HW_CFG_MODEL_CACHE_READ);
	assert_false(m->set & HW_CFG_MODEL_ENABLED);

	m = &cfg->catalog.models[1];
	assert_string_equal(m->tier, "ultra-light");
	assert_int_equal(m->cache_read_per_mtok, 100000);
	assert_int_equal(m->cache_write_per_mtok, 1250000);
	assert_int_equal(m->min_cache_tokens, 4096);

	m = &cfg->catalog.models[2];
	assert_false(m->enabled);
	assert_null(m->tier);
	assert_int_equal(m->set, HW_CFG_MODEL_ID | HW_CFG_MODEL_PROVIDER |
					 HW_CFG_MODEL_UPSTREAM_MODEL | HW_CFG_MODEL_ENABLED);

	m = &cfg->catalog.models[3];
	assert_string_equal(m->provider, "local");
	assert_string_equal(m->upstream_model, "zz");
	assert_int_equal(m->cache_read_per_mtok, 10000);
	assert_int_equal(m->cache_write_per_mtok, 1000000);
	assert_int_equal(m->min_cache_tokens, 0);
	assert_int_equal(m->created, 1700000000);
	assert_false(m->supports_tools);
	hw_config_free(cfg);

	expect_error("catalog: {models: [{tier: light}]}\n",
		     "hiway.yaml: catalog.models[0].id: required");
	expect_error("catalog: {models: [{id: a/b}, {id: c/d}, {id: a/b}]}\n",
		     "hiway.yaml: catalog.models[2].id: duplicate of catalog.models[0]");
	expect_error("catalog: {models: [{id: gpt}]}\n",
		     "hiway.yaml: catalog.models[0].id: expected a model id \"provider/model\", got"
		     " \"gpt\"");
	expect_error(
		"catalog: {models: [{id: a/b, tier: huge}]}\n",
		"hiway.yaml: catalog.models[0].tier: expected one of ultra-light, light, standard,"
		" heavy, got \"huge\"");
	expect_error(
		"catalog: {models: [{id: a/b, quality: 101}]}\n",
		"hiway.yaml: catalog.models[0].quality: expected integer between 0 and 100, got"
		" \"101\"");
	expect_error("catalog: {models: {id: a/b}}\n",
		     "hiway.yaml: catalog.models: expected a sequence, got a mapping");
}

static void test_listen_parsing(void **state)
{
	struct hw_config *cfg = load("server:\n  listen: [\"127.0.0.1:80\", \"[::]:8443\","
				     " \"gateway.local:65535\", \"[fe80::1]:1\"]\n");
	assert_int_equal(cfg->server.n_listen, 4);
	assert_string_equal(cfg->server.listen_addrs[0].host, "127.0.0.1");
	assert_int_equal(cfg->server.listen_addrs[0].port, 80);
	assert_false(cfg->server.listen_addrs[0].ipv6);
	assert_string_equal(cfg->server.listen_addrs[1].host, "::");
	assert_int_equal(cfg->server.listen_addrs[1].port, 8443);
	assert_true(cfg->server.listen_addrs[1].ipv6);
	assert_string_equal(cfg->server.listen_addrs[2].host, "gateway.local");
	assert_int_equal(cfg->server.listen_addrs[2].port, 65535);
	assert_string_equal(cfg->server.listen_addrs[3].host, "fe80::1");
	/* The perimeter protects the listen ports unless told otherwise. */
	assert_int_equal(cfg->perimeter.n_protected_ports, 4);
	assert_int_equal(cfg->perimeter.protected_ports[1], 8443);
	hw_config_free(cfg);

	cfg = load("server: {listen: [\"127.0.0.1:80\", \"[::1]:80\"]}\n");
	assert_int_equal(cfg->perimeter.n_protected_ports, 1);
	hw_config_free(cfg);

	static const char *const bad[] = {"127.0.0.1",	"::1:80",     "[::1]",	   "[::1]80",
					  "host:0",	"host:65536", "host:http", ":80",
					  "[zz::1]:80", "a b:80",     "[]:80",	   "host:-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[128], msg[256];
		snprintf(yaml, sizeof(yaml), "server: {listen: [\"%s\"]}\n", bad[i]);
		snprintf(msg, sizeof(msg),
			 "hiway.yaml: server.listen[0]: expected \"HOST:PORT\" or \"[IPV6]:PORT\" "
			 "with a"
			 " port between 1 and 65535, got \"%s\"",
			 bad[i]);
		expect_error(yaml, msg);
	}
	expect_error("server: {listen: []}\n",
		     "hiway.yaml: server.listen: expected at least one \"HOST:PORT\" entry");
}

static void test_master_key_forms(void **state)
{
	/* The same 32 bytes as hex and as base64, padded or not. */
	static const char *const forms[] = {
		"00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff",
		"ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=",
		"ABEiM0RVZneImaq7zN3u_wARIjNEVWZ3iJmqu8zd7v8",
	};
	for (size_t i = 0; i < 3; i++) {
		char yaml[200];
		snprintf(yaml, sizeof(yaml), "secrets: {master_key: \"%s\"}\n", forms[i]);
		struct hw_config *cfg = load(yaml);
		assert_true(cfg->secrets.has_master_key);
		assert_int_equal(cfg->secrets.master_key_raw[1], 0x11);
		assert_int_equal(cfg->secrets.master_key_raw[15], 0xff);
		assert_int_equal(cfg->secrets.master_key_raw[31], 0xff);
		hw_config_free(cfg);
	}
	/* 31 bytes in base64, and 64 characters that are not hex. */
	expect_error(
		"secrets: {master_key: \"ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7g==\"}\n",
		"hiway.yaml: secrets.master_key: expected empty, 64 hex characters or base64 of"
		" 32 bytes, got a value of 44 characters");
	expect_error(
		"secrets: {master_key: "
		"\"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}\n",
		"hiway.yaml: secrets.master_key: expected empty, 64 hex characters or base64 of"
		" 32 bytes, got a value of 64 characters");
}

static void test_store_forms(void **state)
{
	static const char *const good[] = {"sqlite:/var/lib/hiway/hiway.db",
					   "redis://127.0.0.1:6379", "redis://cache",
					   "redis://:s3cret@cache:6379/0", "redis://[::1]:6379/3"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char yaml[200];
		snprintf(yaml, sizeof(yaml), "store: \"%s\"\n", good[i]);
		struct hw_config *cfg = load(yaml);
		assert_string_equal(cfg->store, good[i]);
		hw_config_free(cfg);
	}
	expect_error("store: \"redis://host:6379/x\"\n",
		     "hiway.yaml: store: expected \"sqlite:PATH\" or"
		     " \"redis://[:PASSWORD@]HOST[:PORT][/DB]\", got \"redis://host:6379/x\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_of_empty_file),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_example_file_is_the_defaults),
		cmocka_unit_test(test_env_expansion),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_load_from_file_names_it),
		cmocka_unit_test(test_provider_merge),
		cmocka_unit_test(test_provider_timeouts_inherit),
		cmocka_unit_test(test_money_parsing),
		cmocka_unit_test(test_catalog_models),
		cmocka_unit_test(test_listen_parsing),
		cmocka_unit_test(test_master_key_forms),
		cmocka_unit_test(test_store_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
