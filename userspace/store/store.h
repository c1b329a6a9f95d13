/* SPDX-License-Identifier: Apache-2.0 */
/* The store interface (SPEC §19): the source of truth for everything that survives a
 * restart. SQLite is the embedded backend; a Redis backend implements the same operations.
 * Calls block: the hot path never calls them directly; it reads in-memory caches and writes
 * through the batching usage writer. Every call returns 0 or a negative errno:
 * -ENOENT not found, -EEXIST duplicate (unique name), -EIO backend failure/unreachable. */
#ifndef HW_STORE_STORE_H
#define HW_STORE_STORE_H

#include "common/secretbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HW_ID_MAX 40

struct hw_workspace {
	char id[HW_ID_MAX];
	char name[101];
	char status[12]; /* active | suspended */
	char suspended_reason[256];
	bool has_suspended_reason;
	char plan[32];
	char routing_profile[16];
	char default_model[128]; /* "" = server default */
	char allowed_regions[256]; /* JSON array text, "" = null (any) */
	int64_t created_at; /* unix seconds */
};

struct hw_key {
	char id[HW_ID_MAX]; /* kid_<ULID> */
	char workspace_id[HW_ID_MAX];
	char name[101];
	char prefix[16];
	char hash[65]; /* lowercase hex SHA-256 of the plaintext */
	char role[12];   /* inference | admin */
	char status[12]; /* active | suspended | revoked */
	int64_t rpm_limit; /* -1 = null (unlimited) */
	char shield_mode[12]; /* "" = inherit | off | monitor | block */
	char source[12];      /* api | cli | bootstrap | import */
	int64_t created_at, last_used_at, revoked_at; /* unix seconds, 0 = null */
	char suspended_reason[256];
	bool has_suspended_reason;
};

/* A workspace's own setting for one provider (SPEC §16.3): its key sealed by
 * hw_byok_seal, and whether the workspace turned the provider off. A row may hold only the
 * flag (ciphertext_len 0). */
#define HW_PROVIDER_ID_MAX  65   /* provider ids are 1-64 characters (SPEC §18) */
#define HW_PROVIDER_KEY_MAX 2048 /* plaintext bytes of a provider key */
#define HW_PROVIDER_BOX_MAX (HW_PROVIDER_KEY_MAX + HW_SECRETBOX_OVERHEAD)

struct hw_provider_key {
	char workspace_id[HW_ID_MAX];
	char provider[HW_PROVIDER_ID_MAX];
	uint8_t ciphertext[HW_PROVIDER_BOX_MAX];
	size_t ciphertext_len; /* 0 = no key of its own */
	char fingerprint[9];   /* first 8 hex of SHA-256(key); "" without a key */
	bool enabled;
	int64_t updated_at; /* unix seconds */
};

/* One row per request past authentication (SPEC §20.2). Costs in µ$. */
struct hw_usage_record {
	char request_id[132];
	int64_t ts_ms;
	char workspace_id[HW_ID_MAX];
	char key_id[HW_ID_MAX];
	char end_user[257];
	char route[32];
	char requested_model[128];
	char routed_model[128];
	char provider[64];
	char tier[16];
	double score; /* < 0 = null */
	char reason[160];
	char *fallback_chain; /* JSON text or NULL; owned by the record */
	bool stream, passthrough;
	int status;
	char error_code[40];
	int64_t prompt_tokens, completion_tokens, cache_read_tokens, cache_write_tokens;
	int64_t upstream_cost, markup_cost, baseline_cost;
	int64_t routing_us, ttft_ms, latency_ms;
	char client_ip[46];
};

/* Audit trail (security_events). One row of a workspace's hash chain (SPEC §12.3); text
 * fields are exactly what canonical_row hashes, "" standing for null. */
#define HW_AUDIT_REQUEST_ID_MAX 132
#define HW_AUDIT_MODEL_MAX	256
#define HW_AUDIT_DETAIL_MAX	160

struct hw_audit_row {
	int64_t seq;
	int64_t ts_ms;
	char workspace_id[HW_ID_MAX];
	char kind[16]; /* threat | retention_purge */
	char key_id[HW_ID_MAX];
	char request_id[HW_AUDIT_REQUEST_ID_MAX];
	char client_ip[46];
	char threat_type[24];
	char score[8]; /* "0.95" */
	char action[12];
	char prompt_sha256[65];
	char model[HW_AUDIT_MODEL_MAX];
	char mode[12];
	char detail[HW_AUDIT_DETAIL_MAX];
	char prev_hash[65];
	char row_hash[65];
};

/* Fills row->row_hash once the store has set seq and prev_hash (and detail for a purge). */
typedef void (*hw_audit_seal_fn)(struct hw_audit_row *row);

struct hw_store;

/* Webhooks and the event outbox. */

/* A workspace's webhook (SPEC §15, §16.3). `events` and `security_actions` are JSON array
 * text; events "" = null (every event). The secret is sealed by hw_byok_seal with the
 * webhook id in place of the provider id, so a box copied to another webhook does not open. */
#define HW_WEBHOOK_URL_MAX    2049 /* 2048 bytes and the NUL */
#define HW_WEBHOOK_SECRET_MAX 256
#define HW_WEBHOOK_BOX_MAX    (HW_WEBHOOK_SECRET_MAX + HW_SECRETBOX_OVERHEAD)

struct hw_webhook {
	char id[HW_ID_MAX]; /* wh_<ULID> */
	char workspace_id[HW_ID_MAX];
	char name[101];
	char url[HW_WEBHOOK_URL_MAX];
	char events[1024];
	char security_actions[64];
	uint8_t secret_box[HW_WEBHOOK_BOX_MAX];
	size_t secret_box_len;
	int64_t created_at; /* unix seconds */
};

/* One delivery of one event to one webhook. `body` is the exact bytes sent and signed,
 * malloc'ed and owned by the row (hw_outbox_rows_free). */
struct hw_outbox_row {
	int64_t id; /* store sequence; 0 before insertion */
	char event_id[HW_ID_MAX];    /* evt_<ULID>, shared by the rows of one event */
	char delivery_id[HW_ID_MAX]; /* dlv_<ULID>, the X-HiWay-Delivery of every attempt */
	char webhook_id[HW_ID_MAX];
	char workspace_id[HW_ID_MAX];
	char event[40];
	char *body;
	char status[12]; /* pending | delivered | failed */
	int64_t attempts;
	int64_t next_attempt_at_ms;
	int64_t last_status; /* HTTP status of the last attempt, 0 = none or no answer */
	int64_t created_at;  /* unix seconds */
};

void hw_outbox_rows_free(struct hw_outbox_row *rows, size_t n);

struct hw_store_webhook_ops {
	int (*webhook_create)(struct hw_store *st, const struct hw_webhook *wh);
	int (*webhook_get)(struct hw_store *st, const char *workspace_id, const char *id,
			   struct hw_webhook *out);
	int (*webhook_update)(struct hw_store *st, const struct hw_webhook *wh);
	/* Also drops the webhook's undelivered rows: nobody is left to receive them. */
	int (*webhook_delete)(struct hw_store *st, const char *workspace_id, const char *id);
	/* A workspace's webhooks by id after `after` (NULL or "" = from the start). */
	int (*webhook_list)(struct hw_store *st, const char *workspace_id, const char *after,
			    int limit, struct hw_webhook **out, size_t *n);

	/* Inserts the rows in one transaction; `key`, when not NULL, is updated as by
	 * key_update in that same transaction, so the change and its events commit together. */
	int (*outbox_insert)(struct hw_store *st, const struct hw_key *key,
			     const struct hw_outbox_row *rows, size_t n);
	/* Claims at most `max` pending rows due at `now_ms`, oldest first, and moves their
	 * next attempt to now_ms + lease_ms in the same transaction: a worker that dies
	 * mid-delivery leaves the row due again once the lease runs out (at least once). */
	int (*outbox_claim)(struct hw_store *st, int64_t now_ms, int64_t lease_ms, int max,
			    struct hw_outbox_row **out, size_t *n);
	/* Records an attempt: status, attempts, next_attempt_at_ms and last_status of `row`. */
	int (*outbox_finish)(struct hw_store *st, const struct hw_outbox_row *row);
	int (*outbox_pending)(struct hw_store *st, int64_t *out);
	/* The rows of a webhook, oldest first, for tests and diagnostics. */
	int (*outbox_list)(struct hw_store *st, const char *webhook_id,
			   struct hw_outbox_row **out, size_t *n);
};

/* Money (SPEC §10). Amounts in µ$, times in unix ms unless named _s. */
struct hw_money_state {
	/* wallet */
	int64_t balance, last_topup, last_topup_at_s;
	uint32_t low_alerts; /* bit i: low_balance_percents[i] fired since the last top-up; bit 31: tier 0 */
	/* passthrough cycle (pt_since_s 0 = none) */
	int64_t pt_since_s, pt_tokens;
	bool pt_warned, pt_rejected;
	char pt_cut[40]; /* "" or the code of the cut: grace_period_exceeded_time | _tokens */
	/* the month's counters */
	char month[8]; /* "YYYY-MM" */
	int64_t spend, used_requests, overage_requests;
	uint32_t budget_alerts; /* bit 0 downgrade, 1 light_only, 2 block crossed this month */
	/* budget and plan rows (absent = the configuration's defaults) */
	bool has_budget;
	int64_t cap; /* -1 = no cap */
	double th_downgrade, th_light_only, th_block;
	bool has_plan;
	int64_t included_requests; /* -1 = unlimited */
	bool overage_enabled;
	int64_t overage_per_100k;
};

/* One state change of a workspace's money, committed by the ledger writer: a settlement
 * (markup debited, spend and request counters added) and/or new flag values, with the
 * outbox rows of the events it caused, all in one transaction. */
struct hw_money_commit {
	int64_t seq; /* its ledger journal record; the store keeps the highest applied */
	char workspace_id[HW_ID_MAX];
	char month[8];
	char request_id[132]; /* "" = no ledger entry */
	int64_t at_ms;
	int64_t markup;	  /* debited; a `markup` ledger entry when > 0 */
	int64_t upstream; /* added to the month's spend */
	int64_t used_delta, overage_delta;
	bool month_flags; /* write budget_alerts */
	uint32_t budget_alerts;
	bool wallet_flags; /* write low_alerts and the passthrough cycle */
	uint32_t low_alerts;
	int64_t pt_since_s, pt_tokens;
	bool pt_warned, pt_rejected;
	char pt_cut[40];
	struct hw_outbox_row *rows; /* owned by the caller */
	size_t n_rows;
};

struct hw_ledger_entry {
	int64_t id, at_ms;
	char kind[16]; /* initial_credit | topup | markup | adjustment */
	int64_t amount, balance_after;
	char request_id[132];
	char reference[129];
};

/* One group of the usage report (SPEC §16.3); costs in µ$. */
struct hw_usage_group {
	char key[257];
	int64_t requests, errors, prompt_tokens, completion_tokens, upstream, markup, baseline;
};

struct hw_store_money_ops {
	/* The workspace's money state for `month`; creates an empty wallet row when the
	 * workspace has none (a workspace made before money existed). -ENOENT: no workspace. */
	int (*load)(struct hw_store *st, const char *workspace_id, const char *month,
		    struct hw_money_state *out);
	/* Creates the wallet with its initial credit (a ledger entry when > 0). */
	int (*wallet_create)(struct hw_store *st, const char *workspace_id, int64_t credit,
			     int64_t at_ms);
	/* All the changes in one transaction. */
	int (*commit)(struct hw_store *st, const struct hw_money_commit *c, size_t n);
	/* Credits the wallet (kind topup or adjustment; a topup also sets last_topup) with its
	 * ledger entry and the rows, in one transaction. A reference seen before with the same
	 * amount returns the original entry with -EALREADY; with another amount -EEXIST. */
	int (*topup)(struct hw_store *st, const char *workspace_id, const char *kind, int64_t amount,
		     const char *reference, int64_t at_ms, const struct hw_outbox_row *rows,
		     size_t n_rows, struct hw_ledger_entry *out);
	/* Newest first, ids < before (0 = from the newest). */
	int (*ledger_list)(struct hw_store *st, const char *workspace_id, int64_t before, int limit,
			   struct hw_ledger_entry **out, size_t *n);
	int (*ledger_sum)(struct hw_store *st, const char *workspace_id, int64_t *sum, int64_t *n);
	int (*budget_put)(struct hw_store *st, const char *workspace_id, int64_t cap, double downgrade,
			  double light_only, double block);
	int (*plan_put)(struct hw_store *st, const char *workspace_id, int64_t included,
			bool overage_enabled, int64_t overage_per_100k);
	/* Usage records of [from_ms, to_ms) grouped by none | key | user | model | tier | day
	 * (malloc'ed groups in key order) and their totals; -EINVAL for another group_by. */
	int (*usage_report)(struct hw_store *st, const char *workspace_id, int64_t from_ms,
			    int64_t to_ms, const char *group_by, struct hw_usage_group **out,
			    size_t *n, struct hw_usage_group *totals);
};

/* A workspace's own Security Shield settings (SPEC §12.1, §16.2); each unset field means
 * the configuration's default. custom_patterns is malloc'ed JSON array text
 * ([{name, threat_type, pattern}]), NULL = none; hw_security_config_clear frees it. */
struct hw_security_config {
	char workspace_id[HW_ID_MAX];
	char mode[12];          /* "" = default | off | monitor | block */
	double threshold;       /* < 0 = default */
	int64_t retention_days; /* 0 = default */
	char *custom_patterns;
	int64_t updated_at;     /* unix seconds */
};

void hw_security_config_clear(struct hw_security_config *c);
void hw_security_configs_free(struct hw_security_config *list, size_t n);

/* get answers -ENOENT when the workspace never set anything; put inserts or replaces the
 * row (-ENOENT without the workspace); list_all gives every row (cache load). */
struct hw_store_security_ops {
	int (*config_get)(struct hw_store *st, const char *workspace_id,
			  struct hw_security_config *out);
	int (*config_put)(struct hw_store *st, const struct hw_security_config *cfg);
	int (*config_list_all)(struct hw_store *st, struct hw_security_config **out, size_t *n);
};

/* IP rules, bans and the agent's status (SPEC §13, §14; schema step 6). Every insert or
 * delete of a rule or ban increments the setting perimeter_generation in the same
 * transaction: hiway-agent and every gateway poll it to reload. Times are unix seconds,
 * 0 = null (never expires). */
#define HW_IP_RULE_COMMENT_MAX 801 /* 200 characters of UTF-8 and the NUL */
#define HW_IP_CIDR_TEXT_MAX    54

struct hw_ip_rule {
	char id[HW_ID_MAX]; /* ipr_<ULID> */
	char workspace_id[HW_ID_MAX]; /* "" = global */
	char cidr[HW_IP_CIDR_TEXT_MAX]; /* normalized */
	int family; /* 4 | 6 */
	char action[8]; /* allow | deny */
	char comment[HW_IP_RULE_COMMENT_MAX]; /* "" = null */
	bool kernel;
	int64_t expires_at, created_at;
};

struct hw_ban {
	char id[HW_ID_MAX]; /* ban_<ULID> */
	char cidr[HW_IP_CIDR_TEXT_MAX];
	int family;
	char reason[20]; /* manual | auth_failures | guardian_blocks */
	char comment[HW_IP_RULE_COMMENT_MAX];
	int64_t created_at, expires_at;
};

/* One agent's row, written by hiway-agent; JSON columns as text. */
struct hw_agent_status {
	char node_id[128];
	int64_t pid;
	char version[32];
	char status[32];
	int64_t heartbeat_at; /* unix ms */
	int64_t generation;
	char interfaces[2048];
	char rules[512];
	char stats[1024];
};

struct hw_store_perimeter_ops {
	/* Inserts unless the rule's scope (its workspace, or global) already holds `max`
	 * rules: -ENOSPC then. */
	int (*rule_insert)(struct hw_store *st, const struct hw_ip_rule *rule, int64_t max);
	/* Deletes rule `id` of that scope (workspace_id NULL or "" = global); -ENOENT when the
	 * scope has no such rule. */
	int (*rule_delete)(struct hw_store *st, const char *workspace_id, const char *id);
	/* A scope's rules by id after `after`, at most `limit` (malloc'ed). */
	int (*rule_list)(struct hw_store *st, const char *workspace_id, const char *after,
			 int limit, struct hw_ip_rule **out, size_t *n);
	int (*rule_list_all)(struct hw_store *st, struct hw_ip_rule **out, size_t *n);
	int (*ban_insert)(struct hw_store *st, const struct hw_ban *ban);
	int (*ban_delete)(struct hw_store *st, const char *id);
	int (*ban_list)(struct hw_store *st, const char *after, int limit, struct hw_ban **out,
			size_t *n);
	int (*ban_list_all)(struct hw_store *st, struct hw_ban **out, size_t *n);
	/* Deletes rules and bans whose expires_at <= now (one generation bump when any). */
	int (*sweep)(struct hw_store *st, int64_t now, int64_t *deleted);
	int (*generation)(struct hw_store *st, int64_t *out);
	/* Every agent row, by node id. */
	int (*agent_list)(struct hw_store *st, struct hw_agent_status **out, size_t *n);
};

struct hw_store_ops {
	void (*close)(struct hw_store *st);
	int (*ping)(struct hw_store *st);

	/* Settings: small server-wide values (admin token hash, schema facts). */
	int (*setting_get)(struct hw_store *st, const char *name, char *out, size_t len);
	int (*setting_set)(struct hw_store *st, const char *name, const char *value);

	int (*workspace_create)(struct hw_store *st, const struct hw_workspace *ws);
	int (*workspace_get)(struct hw_store *st, const char *id, struct hw_workspace *out);
	int (*workspace_update)(struct hw_store *st, const struct hw_workspace *ws);
	int (*workspace_count)(struct hw_store *st, int64_t *out);
	/* Ordered by id; ids > after (NULL or "" = from the start); at most `limit`.
	 * *out is malloc'ed (free it); *n is its length. */
	int (*workspace_list)(struct hw_store *st, const char *after, int limit,
			      struct hw_workspace **out, size_t *n);

	int (*key_create)(struct hw_store *st, const struct hw_key *key);
	int (*key_get)(struct hw_store *st, const char *id, struct hw_key *out);
	int (*key_update)(struct hw_store *st, const struct hw_key *key);
	int (*key_delete)(struct hw_store *st, const char *id);
	/* A workspace's keys by id after `after`; `status` NULL = any. */
	int (*key_list)(struct hw_store *st, const char *workspace_id, const char *status,
			const char *after, int limit, struct hw_key **out, size_t *n);
	/* Every key of every workspace (cache load). */
	int (*key_list_all)(struct hw_store *st, struct hw_key **out, size_t *n);
	/* Batch `last_used_at` updates: ids[i] used at at[i]. */
	int (*key_touch)(struct hw_store *st, const char *const *ids, const int64_t *at, size_t n);

	/* Provider keys: put inserts or replaces the (workspace, provider) row; -ENOENT when
	 * the workspace does not exist. list gives a workspace's rows, list_all every row
	 * (cache load), both ordered by workspace then provider. */
	int (*provider_key_put)(struct hw_store *st, const struct hw_provider_key *pk);
	int (*provider_key_get)(struct hw_store *st, const char *workspace_id, const char *provider,
				struct hw_provider_key *out);
	int (*provider_key_delete)(struct hw_store *st, const char *workspace_id,
				   const char *provider);
	int (*provider_key_list)(struct hw_store *st, const char *workspace_id,
				 struct hw_provider_key **out, size_t *n);
	int (*provider_key_list_all)(struct hw_store *st, struct hw_provider_key **out, size_t *n);

	/* One transaction for the whole batch. */
	int (*usage_insert)(struct hw_store *st, const struct hw_usage_record *recs, size_t n);
	/* Usage rows of a workspace in [from_ms, to_ms), for reports and tests. */
	int (*usage_count)(struct hw_store *st, const char *workspace_id, int64_t from_ms,
			   int64_t to_ms, int64_t *out);
	/* The batching usage writer's flush: usage_insert and key_touch in one transaction. */
	int (*usage_flush)(struct hw_store *st, const struct hw_usage_record *recs, size_t n,
			   const char *const *key_ids, const int64_t *at, size_t m);

	struct hw_store_webhook_ops hooks; /* Webhooks and the event outbox. */
	/* Audit trail (security_events). append reads the workspace's chain head, sets seq and
	 * prev_hash, seals and inserts, all in one transaction, so concurrent appends never
	 * fork a chain. list gives a page of rows with ts_ms >= from_ms and seq > after_seq,
	 * by seq, at most `limit` (malloc'ed). purge deletes the rows up to the newest one
	 * older than before_ms, then fills `purge`'s seq, prev_hash and detail, seals and
	 * inserts it, in one transaction; *deleted = 0 and no purge row when nothing is that
	 * old. */
	int (*audit_append)(struct hw_store *st, struct hw_audit_row *row, hw_audit_seal_fn seal);
	int (*audit_list)(struct hw_store *st, const char *workspace_id, int64_t from_ms,
			  int64_t after_seq, int limit, struct hw_audit_row **out, size_t *n);
	int (*audit_purge)(struct hw_store *st, const char *workspace_id, int64_t before_ms,
			   struct hw_audit_row *purge, hw_audit_seal_fn seal, int64_t *deleted);
	struct hw_store_money_ops money; /* Money (SPEC §10): wallet, ledger, month counters. */
	struct hw_store_security_ops security; /* Per-workspace Shield settings. */
	struct hw_store_perimeter_ops perimeter; /* IP rules, bans, agent status */
	/* Guardian settings (SPEC §11, §16.2): a workspace's stored PUT body (JSON text).
	 * get: malloc'ed *body, -ENOENT when the workspace never set any; put: -ENOENT when the
	 * workspace does not exist; list_all: every row (cache load), *ws_ids and *bodies
	 * malloc'ed arrays of malloc'ed strings, freed with hw_store_guardian_rows_free. */
	struct hw_store_guardian_ops {
		int (*get)(struct hw_store *st, const char *workspace_id, char **body);
		int (*put)(struct hw_store *st, const char *workspace_id, const char *body,
			   int64_t at_s);
		int (*list_all)(struct hw_store *st, char ***ws_ids, char ***bodies, size_t *n);
	} guardian;
};

void hw_store_guardian_rows_free(char **ws_ids, char **bodies, size_t n);

struct hw_store {
	const struct hw_store_ops *ops;
	const char *backend; /* "sqlite" | "redis" */
};

/* Opens the backend named by a store URL ("sqlite:PATH"). `busy_timeout_ms` and
 * `synchronous` come from store_options. */
int hw_store_open(const char *url, int64_t busy_timeout_ms, const char *synchronous,
		  struct hw_store **out);

#endif
