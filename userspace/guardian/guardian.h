/* SPDX-License-Identifier: Apache-2.0 */
/* Per-key RPM and Guardian (SPEC §11): the in-memory state of each key (a sliding log of
 * admitted request times, recent prompt hashes, spend buckets, the zombie run, a throttle
 * or block placed on the key) in a sharded table, so no lock is shared by all keys. Every
 * function takes `now_ms` from its caller: tests drive time, the gateway passes
 * hw_clock_wall_ms() (which the test clock moves). Nothing here touches the store: events
 * and suspensions are reported to the caller, who hands them to guardian_worker.c. */
#ifndef HW_GUARDIAN_GUARDIAN_H
#define HW_GUARDIAN_GUARDIAN_H

#include "common/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HW_GD_HASH_LEN 32

enum hw_gd_action { HW_GD_BLOCK, HW_GD_THROTTLE, HW_GD_ALERT };
enum hw_gd_rule { HW_GD_DEDUP, HW_GD_COST_SPIKE, HW_GD_CONTEXT_BLOAT, HW_GD_ZOMBIE, HW_GD__RULES };

/* One workspace's effective settings (SPEC §16.2); money in µ$. */
struct hw_gd_settings {
	struct {
		bool enabled;
		int64_t count, window_s, retry_after_s;
		enum hw_gd_action action;
	} dedup;
	struct {
		bool enabled;
		double multiplier, throttle_rps;
		int64_t window_s, baseline_s, min_spend, duration_s;
		enum hw_gd_action action;
	} cost_spike;
	struct {
		bool enabled;
		int64_t max_prompt_tokens;
		enum hw_gd_action action; /* block | alert */
	} context_bloat;
	struct {
		bool enabled;
		int64_t window_s, min_requests, max_gap_s;
		enum hw_gd_action action;
	} zombie_agent;
};

const char *hw_gd_rule_name(enum hw_gd_rule r);
const char *hw_gd_action_name(enum hw_gd_action a);

/* settings.c */
/* The configuration's new-workspace defaults. */
void hw_gd_settings_defaults(const struct hw_config *cfg, struct hw_gd_settings *out);
/* Overlays `body` (the PUT body or what a PUT stored; NULL = nothing) on `base`. -EINVAL
 * with `param` ("dedup.count") and `msg` filled when a member is unknown or invalid. */
int hw_gd_settings_apply(struct hw_gd_settings *s, const json_t *body, char *param,
			 size_t param_len, char *msg, size_t msg_len);
json_t *hw_gd_settings_json(const struct hw_gd_settings *s);

/* prompt_hash.c: SHA-256 over netstrings of the internal (Chat Completions) request form:
 * the model, per message its role, text parts joined by \n, each tool call's name and
 * arguments and its tool_call_id, then the tool names. 0 or -EINVAL (no messages). */
int hw_gd_prompt_hash(const json_t *request, uint8_t out[HW_GD_HASH_LEN]);
/* SHA-256 over a chat.completion's first choice: its text, then each tool call's name and
 * arguments. */
int hw_gd_response_hash(const json_t *completion, uint8_t out[HW_GD_HASH_LEN]);

/* guardian.c */
struct hw_gd_limits {
	int64_t max_keys, idle_ms, rpm_log_max, dedup_prompts, dedup_log_max;
	int64_t alert_interval_ms;
};
void hw_gd_limits_from_config(const struct hw_config *cfg, struct hw_gd_limits *out);

struct hw_guardian;
struct hw_guardian *hw_guardian_new(const struct hw_gd_limits *lim);
void hw_guardian_free(struct hw_guardian *g);

enum hw_gd_verdict {
	HW_GD_PASS,
	HW_GD_SUSPENDED,    /* 403 key_suspended (a zombie suspension being written) */
	HW_GD_RATE_LIMITED, /* 429 rate_limit_exceeded */
	HW_GD_BLOCKED,	    /* 429 guardian_block */
	HW_GD_BLOAT,	    /* 413 context_bloat */
};

/* A rule that triggered: counted in /metrics; `notify` when its guardian.block event is
 * due (at most once per rule per key per alert interval). */
struct hw_gd_trigger {
	enum hw_gd_rule rule;
	const char *action; /* block | throttle | suspend | alert (the event's word) */
	bool notify;
	char detail[128];
};

#define HW_GD_MAX_TRIGGERS 3

struct hw_gd_outcome {
	enum hw_gd_verdict verdict;
	enum hw_gd_rule rule;  /* of BLOCKED and BLOAT */
	int64_t retry_after_s; /* RATE_LIMITED, BLOCKED */
	int64_t limit;	       /* RATE_LIMITED: rpm_limit; BLOAT: max_prompt_tokens */
	int64_t prompt_tokens; /* BLOAT */
	char message[160];
	struct hw_gd_trigger trig[HW_GD_MAX_TRIGGERS];
	int n_trig;
	bool suspend; /* zombie_agent with action block: suspend the key */
};

struct hw_gd_request {
	const char *key_id;
	int64_t rpm_limit;		       /* -1 = unlimited */
	const struct hw_gd_settings *settings; /* NULL = Guardian off (RPM only) */
	const uint8_t *prompt_hash;	       /* NULL when no rule needs it */
	int64_t est_tokens;
	int64_t now_ms;
};

/* Steps 9 and 10 for one request: RPM (an admitted request takes its slot whatever happens
 * next; a rejected one takes none), then the throttle or block on the key, dedup (a request
 * past this step enters the dedup window) and context_bloat. */
void hw_guardian_admit(struct hw_guardian *g, const struct hw_gd_request *rq,
		       struct hw_gd_outcome *out);
/* cost_spike: a settlement of `cost` µ$ of upstream spend by the key. */
void hw_guardian_cost(struct hw_guardian *g, const char *key_id, const struct hw_gd_settings *s,
		      int64_t cost, int64_t now_ms, struct hw_gd_outcome *out);
/* zombie_agent: a completed request with its (request hash, response hash) pair. With
 * action block, out->suspend is set and the key answers 403 until hw_guardian_suspended. */
void hw_guardian_completed(struct hw_guardian *g, const char *key_id,
			   const struct hw_gd_settings *s, const uint8_t req_hash[HW_GD_HASH_LEN],
			   const uint8_t resp_hash[HW_GD_HASH_LEN], int64_t now_ms,
			   struct hw_gd_outcome *out);
/* The suspension is in the store and the key cache: the key's own status answers now. */
void hw_guardian_suspended(struct hw_guardian *g, const char *key_id);
/* Drops the state of keys unseen for idle_ms (never one under a throttle or block). */
void hw_guardian_sweep(struct hw_guardian *g, int64_t now_ms);
/* Keys tracked now (tests, memory bound). */
size_t hw_guardian_tracked(struct hw_guardian *g);

/* Workspace settings cache: the stored PUT bodies overlaid on the configuration's defaults,
 * swapped whole on change, read without a lock. */
struct hw_gd_stored {
	char workspace_id[64];
	char *body; /* JSON text */
};
/* Replaces the cache with these rows (bodies copied). 0 or -ENOMEM. */
int hw_guardian_settings_load(struct hw_guardian *g, const struct hw_config *cfg,
			      const struct hw_gd_stored *rows, size_t n);
/* The workspace's effective settings; valid until hw_guardian_free. A configuration other
 * than the one the cache was built with (SIGHUP) rebuilds it first. */
const struct hw_gd_settings *
hw_guardian_settings(struct hw_guardian *g, const struct hw_config *cfg, const char *workspace_id);

/* guardian_store.c: the cache from the store's rows (at start and after each change). */
struct hw_store;
int hw_guardian_settings_reload(struct hw_guardian *g, const struct hw_config *cfg,
				struct hw_store *st);

/* The auto-ban counter's hook (SPEC §13.3): each 429 guardian_block, by client IP. A weak
 * no-op here; the perimeter module provides the real one. */
void hw_guardian_note_block(const char *client_ip);

#endif
