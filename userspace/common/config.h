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
		int64_t default_rpm_limit; /* -1 = null (unlimited) */
		bool accept_legacy_prefix;
	} keys;
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

const struct hw_cfg_provider *hw_config_provider(const struct hw_config *cfg, const char *id);
const char *hw_provider_kind_name(enum hw_provider_kind kind);

#endif
