/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration file (SPEC §18): one YAML file for hiwayd and hiway-agent.
 * Every key has its default; loading validates strictly and names the bad key. */
#ifndef HW_COMMON_CONFIG_H
#define HW_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Money fields are int64 micro-dollars (µ$); prices are µ$ per 1M tokens. A "nullable"
 * integer uses -1 for YAML null. */

struct hw_cfg_timeouts {
	int64_t connect_ms, first_byte_ms, response_ms, idle_ms, total_ms;
};

enum hw_provider_kind {
	HW_PROVIDER_OPENAI,
	HW_PROVIDER_OPENAI_COMPATIBLE,
	HW_PROVIDER_MISTRAL,
	HW_PROVIDER_ANTHROPIC,
	HW_PROVIDER_GOOGLE,
	HW_PROVIDER_ECHO,
};

struct hw_cfg_provider {
	char *id;
	enum hw_provider_kind kind;
	char *base_url; /* without trailing slash; NULL for echo */
	char *api_key;  /* NULL or "" when none */
	bool enabled, share_key, prompt_cache, stream_usage;
	int64_t max_connections;
	char *anthropic_version;
	int64_t delay_ms, chunk_delay_ms; /* echo */
	struct hw_cfg_timeouts timeouts;  /* upstream.timeouts overridden per provider */
};

struct hw_cfg_model {
	char *id, *provider, *upstream_model, *tier, *region;
	int64_t input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok; /* µ$ / 1M */
	int64_t quality, context_window, max_output_tokens, min_cache_tokens, created;
	bool supports_tools, enabled;
	uint32_t set; /* HW_CFG_MODEL_* of the fields the file named (or derived from named ones) */
};

/* Bits of hw_cfg_model.set, so routing can overlay an entry on the builtin one with its id. */
enum {
	HW_CFG_MODEL_ID = 1u << 0,
	HW_CFG_MODEL_PROVIDER = 1u << 1,
	HW_CFG_MODEL_UPSTREAM_MODEL = 1u << 2,
	HW_CFG_MODEL_TIER = 1u << 3,
	HW_CFG_MODEL_REGION = 1u << 4,
	HW_CFG_MODEL_INPUT = 1u << 5,
	HW_CFG_MODEL_OUTPUT = 1u << 6,
	HW_CFG_MODEL_CACHE_READ = 1u << 7,
	HW_CFG_MODEL_CACHE_WRITE = 1u << 8,
	HW_CFG_MODEL_QUALITY = 1u << 9,
	HW_CFG_MODEL_CONTEXT_WINDOW = 1u << 10,
	HW_CFG_MODEL_MAX_OUTPUT_TOKENS = 1u << 11,
	HW_CFG_MODEL_MIN_CACHE_TOKENS = 1u << 12,
	HW_CFG_MODEL_CREATED = 1u << 13,
	HW_CFG_MODEL_SUPPORTS_TOOLS = 1u << 14,
	HW_CFG_MODEL_ENABLED = 1u << 15,
};

/* One parsed server.listen entry; host is without brackets ("::1", "0.0.0.0"). */
struct hw_cfg_listen {
	char *host;
	uint16_t port;
	bool ipv6;
};

/* routing.keywords: a §7.3 word list replaced by the file. */
struct hw_cfg_keyword_list {
	char *name; /* one of HW_CFG_KEYWORD_LISTS */
	char **words;
	size_t n_words;
};

/* The names routing.keywords accepts, in the order of the §7.3 table. */
#define HW_CFG_KEYWORD_LISTS                                                                 \
	"greeting", "confirmation", "expert", "simple_task", "action", "question",           \
		"constraint", "structure", "step", "system_agent", "system_reasoning",        \
		"system_code", "code_talk", "domain_finance", "domain_medical", "domain_legal", \
		"domain_security", "domain_science"

/* money.markup.brackets: rate_bp applies while month-to-date upstream spend < below. */
struct hw_cfg_markup_bracket {
	int64_t below; /* µ$; -1 = no upper bound (the last bracket) */
	int64_t rate_bp;
};

/* plans.presets entry. */
struct hw_cfg_plan {
	char *name;
	int64_t included_requests; /* -1 = null (unlimited) */
	bool overage_enabled;
	int64_t overage_per_100k; /* µ$ */
};

struct hw_config {
	char *path;
	char *node_id; /* defaults to the host name */
	struct {
		char **listen;
		size_t n_listen;
		int64_t threads; /* 0 = one per core */
		int64_t max_connections, max_connections_per_ip;
		int64_t max_body_bytes, max_header_bytes;
		int64_t client_timeout_s, drain_timeout_s;
		char **trusted_proxies;
		size_t n_trusted_proxies;
		struct hw_cfg_listen *listen_addrs; /* listen[i] parsed, n_listen entries */
	} server;
	char *store; /* "sqlite:./hiway.db" or "redis://..." */
	struct {
		char *sqlite_synchronous; /* off | normal | full */
		int64_t busy_timeout_ms, redis_pool, redis_timeout_ms;
	} store_options;
	struct {
		char *token;
	} admin;
	struct {
		char *master_key;
		bool has_master_key;
		uint8_t master_key_raw[32]; /* master_key decoded, when has_master_key */
	} secrets;
	struct {
		bool enabled;
		char *workspace_name;
		int64_t initial_credit; /* µ$ */
	} bootstrap;
	struct hw_cfg_provider *providers;
	size_t n_providers;
	struct {
		bool builtin;
		struct hw_cfg_model *models; /* entries from the file only; the builtin table is routing's */
		size_t n_models;
	} catalog;
	struct {
		char *profile;
		char *baseline_model;
		char *default_model;
		struct {
			double standard, heavy, ultra_light, confidence_margin;
		} thresholds;
		struct {
			bool enabled;
			int64_t max_prompt_chars, max_context_tokens;
		} ultra_light;
		struct {
			double intent, complexity, tools, system_prompt, code, domain, context;
		} weights; /* sum to 1 (± 0.001) */
		struct hw_cfg_keyword_list *keywords; /* lists not named keep their §7.3 entries */
		size_t n_keywords;
	} routing;
	struct {
		struct hw_cfg_timeouts timeouts;
		int64_t max_attempts, default_max_tokens, max_response_bytes;
		struct {
			int64_t failures, open_s, max_cooldown_s;
		} breaker;
		struct {
			int64_t max_s, max_bytes;
		} drain_on_disconnect;
	} upstream;
	struct {
		/* money.enabled (hiway extension, default true): false turns accounting off
		 * entirely, for benchmarks that measure its cost. */
		bool enabled;
		struct {
			bool enabled;
			/* ascending `below`; the last bracket is open-ended */
			struct hw_cfg_markup_bracket *brackets;
			size_t n_brackets;
		} markup;
		struct {
			int64_t empty_below; /* µ$ */
			int64_t *low_balance_percents;
			size_t n_low_balance_percents;
		} wallet;
		struct {
			bool enabled;
			int64_t grace_hours, grace_tokens;
			double warn_fraction;
		} passthrough;
		struct {
			int64_t chars_per_token, overhead_tokens, non_text_part_chars, lease_s;
		} reservation;
		char *upgrade_url, *topup_url;
	} money;
	struct {
		int64_t cap; /* µ$; -1 = null (no cap) */
		struct {
			double downgrade, light_only, block;
		} thresholds;
	} budget;
	struct {
		char *default_plan; /* plans.default; names one of presets */
		struct hw_cfg_plan *presets;
		size_t n_presets;
	} plans;
	struct {
		int64_t default_rpm_limit; /* -1 = null (unlimited) */
		bool accept_legacy_prefix;
	} keys;
	/* Guardian actions are "block", "throttle" or "alert" (alert-only). */
	struct {
		bool enabled;
		int64_t alert_interval_s;
		struct {
			bool enabled;
			int64_t count, window_s, retry_after_s;
			char *action;
		} dedup;
		struct {
			bool enabled;
			double multiplier;
			int64_t window_s, baseline_s;
			int64_t min_spend; /* µ$ */
			double throttle_rps;
			int64_t duration_s;
			char *action;
		} cost_spike;
		struct {
			bool enabled;
			int64_t max_prompt_tokens;
			char *action; /* block | alert */
		} context_bloat;
		struct {
			bool enabled;
			int64_t window_s, min_requests, max_gap_s;
			char *action;
		} zombie_agent;
		/* Memory bounds of the per-key state (not workspace settings). */
		struct {
			int64_t max_keys;      /* keys tracked at once; the least recently seen goes */
			int64_t idle_s;        /* a key's state is dropped after this long unseen */
			int64_t rpm_log_max;   /* longest exact RPM log; above, per-second counts */
			int64_t dedup_prompts; /* distinct prompt hashes remembered per key */
			int64_t dedup_log_max; /* dedup.count is capped at this */
			int64_t event_queue;   /* guardian.block events waiting for the store */
		} limits;
	} guardian;
	struct {
		char *mode; /* off | monitor | block */
		double threshold;
		int64_t retention_days, monitor_queue;
		char *patterns_dir; /* "" = built-in pattern files */
		struct {
			double prompt_injection, prompt_extraction, jailbreak, pii, secrets;
		} scores;
	} shield;
	struct {
		bool enabled;
		char **interfaces;
		size_t n_interfaces;
		char *attach; /* auto | native | tc | generic */
		int64_t *protected_ports; /* the ports of server.listen when the file gives none */
		size_t n_protected_ports;
		char *deny_scope; /* ports | all */
		int64_t syn_rate_per_s, syn_burst;
		bool workspace_rules_in_kernel;
		char *pin_path;
		int64_t poll_ms;
		struct {
			int64_t max_rules_per_family, max_tracked_sources;
		} limits;
		struct {
			bool enabled;
			struct {
				int64_t count, window_s;
			} auth_failures, guardian_blocks;
			int64_t ttl_s;
			char **exempt; /* CIDRs */
			size_t n_exempt;
		} autoban;
	} perimeter;
	struct {
		int64_t workers, timeout_s;
		int64_t *retry_schedule_s;
		size_t n_retry_schedule_s;
		int64_t max_pending;
	} webhooks;
	struct {
		int64_t retention_days;
	} usage;
	struct {
		char *level;
		bool access_log;
	} logging;
	struct {
		bool enabled;
		char *token;
		bool per_workspace_labels;
	} metrics;
};

/* Loads and validates; on failure returns a negative errno and writes one line
 * "FILE: key.path: problem" into err. */
int hw_config_load(const char *path, struct hw_config **out, char *err, size_t errlen);
/* Same from memory; `name` stands for the file name in messages. */
int hw_config_load_string(const char *yaml, size_t len, const char *name, struct hw_config **out,
			  char *err, size_t errlen);
void hw_config_free(struct hw_config *cfg);

/* The provider with that id, enabled or not; NULL when none is configured. */
const struct hw_cfg_provider *hw_config_provider(const struct hw_config *cfg, const char *id);
/* "openai", "openai_compatible", ... as written in the file. */
const char *hw_provider_kind_name(enum hw_provider_kind kind);

#endif
