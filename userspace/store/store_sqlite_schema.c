// SPDX-License-Identifier: Apache-2.0
/* SQLite schema migrations. Steps only ever get appended: step i brings the schema to
 * version i + 1, and schema_migrations records each applied version, so a reopened file
 * runs only the steps it lacks. Each step is its own IMMEDIATE transaction, re-checked
 * inside it, so hiwayd and hiway-agent opening the same file at once cannot both apply it. */
#include "store/store_sqlite.h"

#include "common/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

static const char *const steps[] = {
	/* 1: settings, workspaces, keys, usage records. */
	"CREATE TABLE settings ("
	" name TEXT PRIMARY KEY,"
	" value TEXT NOT NULL);"
	"CREATE TABLE workspaces ("
	" id TEXT PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" suspended_reason TEXT,"
	" plan TEXT NOT NULL,"
	" routing_profile TEXT NOT NULL,"
	" default_model TEXT,"
	" allowed_regions TEXT,"
	" created_at INTEGER NOT NULL);"
	"CREATE TABLE keys ("
	" id TEXT PRIMARY KEY,"
	" workspace_id TEXT NOT NULL REFERENCES workspaces(id),"
	" name TEXT NOT NULL,"
	" prefix TEXT NOT NULL,"
	" hash TEXT NOT NULL,"
	" role TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" rpm_limit INTEGER,"
	" shield_mode TEXT,"
	" source TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" last_used_at INTEGER,"
	" revoked_at INTEGER,"
	" suspended_reason TEXT,"
	" UNIQUE (workspace_id, name));"
	"CREATE INDEX keys_hash ON keys(hash);"
	"CREATE INDEX keys_workspace_id ON keys(workspace_id, id);"
	/* No foreign keys here: usage rows outlive deleted keys and must never fail an insert. */
	"CREATE TABLE usage_records ("
	" id INTEGER PRIMARY KEY,"
	" request_id TEXT NOT NULL,"
	" ts_ms INTEGER NOT NULL,"
	" workspace_id TEXT NOT NULL,"
	" key_id TEXT NOT NULL,"
	" end_user TEXT,"
	" route TEXT NOT NULL,"
	" requested_model TEXT,"
	" routed_model TEXT,"
	" provider TEXT,"
	" tier TEXT,"
	" score REAL,"
	" reason TEXT,"
	" fallback_chain TEXT,"
	" stream INTEGER NOT NULL,"
	" passthrough INTEGER NOT NULL,"
	" status INTEGER NOT NULL,"
	" error_code TEXT,"
	" prompt_tokens INTEGER NOT NULL,"
	" completion_tokens INTEGER NOT NULL,"
	" cache_read_tokens INTEGER NOT NULL,"
	" cache_write_tokens INTEGER NOT NULL,"
	" upstream_cost INTEGER NOT NULL,"
	" markup_cost INTEGER NOT NULL,"
	" baseline_cost INTEGER NOT NULL,"
	" routing_us INTEGER NOT NULL,"
	" ttft_ms INTEGER NOT NULL,"
	" latency_ms INTEGER NOT NULL,"
	" client_ip TEXT);"
	"CREATE INDEX usage_records_workspace_ts ON usage_records(workspace_id, ts_ms);",
	/* 2: BYOK provider keys (SPEC §16.3); ciphertext NULL = only the enabled flag. */
	"CREATE TABLE provider_keys ("
	" workspace_id TEXT NOT NULL REFERENCES workspaces(id),"
	" provider TEXT NOT NULL,"
	" ciphertext BLOB,"
	" fingerprint TEXT,"
	" enabled INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" PRIMARY KEY (workspace_id, provider));",
	/* Webhooks and their durable outbox (SPEC §15). Outbox rows keep no foreign key: a
	 * delivered or failed row stays as history after its webhook is gone. */
	"CREATE TABLE webhooks ("
	" id TEXT PRIMARY KEY,"
	" workspace_id TEXT NOT NULL REFERENCES workspaces(id),"
	" name TEXT NOT NULL,"
	" url TEXT NOT NULL,"
	" events TEXT,"
	" security_actions TEXT NOT NULL,"
	" secret BLOB NOT NULL,"
	" created_at INTEGER NOT NULL);"
	"CREATE INDEX webhooks_workspace_id ON webhooks(workspace_id, id);"
	"CREATE TABLE outbox ("
	" id INTEGER PRIMARY KEY,"
	" event_id TEXT NOT NULL,"
	" delivery_id TEXT NOT NULL UNIQUE,"
	" webhook_id TEXT NOT NULL,"
	" workspace_id TEXT NOT NULL,"
	" event TEXT NOT NULL,"
	" body TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" attempts INTEGER NOT NULL,"
	" next_attempt_at_ms INTEGER NOT NULL,"
	" last_status INTEGER,"
	" created_at INTEGER NOT NULL);"
	"CREATE INDEX outbox_due ON outbox(status, next_attempt_at_ms);"
	"CREATE INDEX outbox_webhook_id ON outbox(webhook_id, id);",
	/* 4: the audit trail (SPEC §12.3). Rows are append-only: the triggers refuse UPDATE
	 * always and DELETE unless the retention purge opened audit_purge_gate in its own
	 * transaction (and closes it before commit), so no stray statement can rewrite the
	 * chain. Empty text is stored as NULL, as canonical_row reads null as "". */
	"CREATE TABLE security_events ("
	" workspace_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" ts_ms INTEGER NOT NULL,"
	" kind TEXT NOT NULL,"
	" key_id TEXT,"
	" request_id TEXT,"
	" client_ip TEXT,"
	" threat_type TEXT,"
	" score TEXT,"
	" action TEXT,"
	" prompt_sha256 TEXT,"
	" model TEXT,"
	" mode TEXT,"
	" detail TEXT,"
	" prev_hash TEXT NOT NULL,"
	" row_hash TEXT NOT NULL,"
	" UNIQUE (workspace_id, seq));"
	"CREATE INDEX security_events_ts ON security_events(workspace_id, ts_ms);"
	"CREATE TABLE audit_purge_gate ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" open INTEGER NOT NULL);"
	"INSERT INTO audit_purge_gate(id, open) VALUES (1, 0);"
	"CREATE TRIGGER security_events_no_update BEFORE UPDATE ON security_events "
	"BEGIN SELECT RAISE(ABORT, 'security_events is append-only'); END;"
	"CREATE TRIGGER security_events_no_delete BEFORE DELETE ON security_events "
	"WHEN (SELECT open FROM audit_purge_gate WHERE id = 1) IS NOT 1 "
	"BEGIN SELECT RAISE(ABORT, 'security_events rows go only through the retention purge'); "
	"END;",
	/* 5: money (SPEC §10). The wallet row and its ledger entries change in one transaction,
	 * so balance = Σ ledger amounts holds after every commit. Month counters are keyed by
	 * "YYYY-MM" (UTC): a new month starts from zero rows. Reservations are not stored: a
	 * single SQLite node holds them in memory, where a crash releases them by construction
	 * (§10.8). A missing budgets or plans row means the configuration's defaults. */
	"CREATE TABLE wallets ("
	" workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id),"
	" balance INTEGER NOT NULL,"
	" last_topup INTEGER NOT NULL DEFAULT 0,"
	" last_topup_at INTEGER,"
	" low_alerts INTEGER NOT NULL DEFAULT 0,"
	" pt_since INTEGER,"
	" pt_tokens INTEGER NOT NULL DEFAULT 0,"
	" pt_warned INTEGER NOT NULL DEFAULT 0,"
	" pt_cut TEXT,"
	" pt_rejected INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE ledger ("
	" id INTEGER PRIMARY KEY,"
	" workspace_id TEXT NOT NULL,"
	" at_ms INTEGER NOT NULL,"
	" kind TEXT NOT NULL,"
	" amount INTEGER NOT NULL,"
	" balance_after INTEGER NOT NULL,"
	" request_id TEXT,"
	" reference TEXT);"
	"CREATE INDEX ledger_workspace ON ledger(workspace_id, id);"
	"CREATE UNIQUE INDEX ledger_reference ON ledger(workspace_id, reference) "
	"WHERE reference IS NOT NULL;"
	"CREATE TABLE money_months ("
	" workspace_id TEXT NOT NULL,"
	" month TEXT NOT NULL,"
	" upstream_spend INTEGER NOT NULL DEFAULT 0,"
	" used_requests INTEGER NOT NULL DEFAULT 0,"
	" overage_requests INTEGER NOT NULL DEFAULT 0,"
	" budget_alerts INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (workspace_id, month));"
	"CREATE TABLE budgets ("
	" workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id),"
	" cap INTEGER,"
	" downgrade REAL NOT NULL,"
	" light_only REAL NOT NULL,"
	" block REAL NOT NULL);"
	"CREATE TABLE plans ("
	" workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id),"
	" included_requests INTEGER,"
	" overage_enabled INTEGER NOT NULL,"
	" overage_per_100k INTEGER NOT NULL);",
	/* 6: IP rules, bans and the agent's status (SPEC §13, §14). workspace_id NULL = a
	 * global rule. cidr is the normalized network ("10.0.0.0/8", "2001:db8::/32"); family
	 * 4 or 6. Times are unix seconds, expires_at NULL = never (rules; bans have one unless
	 * manual without TTL). Every change to ip_rules or bans increments the setting
	 * perimeter_generation in the same transaction: hiway-agent polls it to reconcile. The
	 * agent owns its agent_status row (heartbeat_at in unix ms; interfaces, rules and stats
	 * are JSON text as GET /api/v1/perimeter shows them). */
	"CREATE TABLE ip_rules ("
	" id TEXT PRIMARY KEY,"
	" workspace_id TEXT,"
	" cidr TEXT NOT NULL,"
	" family INTEGER NOT NULL,"
	" action TEXT NOT NULL,"
	" comment TEXT,"
	" kernel INTEGER NOT NULL,"
	" expires_at INTEGER,"
	" created_at INTEGER NOT NULL);"
	"CREATE INDEX ip_rules_workspace ON ip_rules(workspace_id, id);"
	"CREATE TABLE bans ("
	" id TEXT PRIMARY KEY,"
	" cidr TEXT NOT NULL,"
	" family INTEGER NOT NULL,"
	" reason TEXT NOT NULL,"
	" comment TEXT,"
	" created_at INTEGER NOT NULL,"
	" expires_at INTEGER);"
	"CREATE TABLE agent_status ("
	" node_id TEXT PRIMARY KEY,"
	" pid INTEGER NOT NULL,"
	" version TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" heartbeat_at INTEGER NOT NULL,"
	" generation INTEGER NOT NULL,"
	" interfaces TEXT NOT NULL,"
	" rules TEXT NOT NULL,"
	" stats TEXT NOT NULL);"
	"INSERT OR IGNORE INTO settings(name, value) VALUES ('perimeter_generation', '0');",
	/* 7: a workspace's own Security Shield settings (SPEC §12.1, §16.2). NULL = the
	 * configuration's default; custom_patterns is the JSON array the API accepted. No row
	 * = every setting at its default. */
	"CREATE TABLE security_config ("
	" workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id),"
	" mode TEXT,"
	" threshold REAL,"
	" retention_days INTEGER,"
	" custom_patterns TEXT,"
	" updated_at INTEGER NOT NULL);",
	/* 8: Guardian settings of a workspace (SPEC §11, §16.2): the validated PUT body as
	 * JSON text; members it leaves out follow the configuration's defaults. */
	"CREATE TABLE guardian_settings ("
	" workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,"
	" body TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL);",
};

int hw_store_sqlite_schema_version(void) { return (int)(sizeof(steps) / sizeof(steps[0])); }

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		hw_log(HW_LOG_ERROR, "store: migration: %s", err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

static int current_version(sqlite3 *db, int *out)
{
	sqlite3_stmt *st = NULL;
	static const char sql[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		rc = 0;
	} else {
		hw_log(HW_LOG_ERROR, "store: reading schema version: %s", sqlite3_errmsg(db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Applies step `version` unless another process did it first. */
static int apply_step(sqlite3 *db, int version)
{
	char sql[160];
	int have = 0;
	int rc = exec(db, "BEGIN IMMEDIATE");
	if (rc < 0)
		return rc;
	rc = current_version(db, &have);
	if (rc < 0 || have >= version)
		goto out;
	rc = exec(db, steps[version - 1]);
	if (rc < 0)
		goto out;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO schema_migrations(version, applied_at) "
		 "VALUES (%d, CAST(strftime('%%s', 'now') AS INTEGER))",
		 version);
	rc = exec(db, sql);
out:
	if (rc == 0)
		return exec(db, "COMMIT");
	exec(db, "ROLLBACK");
	return rc;
}

int hw_store_sqlite_migrate(sqlite3 *db)
{
	int latest = hw_store_sqlite_schema_version();
	int have = 0;
	int rc = exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
			  " version INTEGER PRIMARY KEY,"
			  " applied_at INTEGER NOT NULL)");
	if (rc < 0)
		return rc;
	rc = current_version(db, &have);
	if (rc < 0)
		return rc;
	/* A newer build wrote this file: its tables may mean things this build does not know. */
	if (have > latest) {
		hw_log(HW_LOG_ERROR, "store: schema version %d is newer than this build's %d", have,
		       latest);
		return -EIO;
	}
	for (int v = have + 1; v <= latest; v++) {
		rc = apply_step(db, v);
		if (rc < 0)
			return rc;
		hw_log(HW_LOG_INFO, "store: applied schema migration %d", v);
	}
	return 0;
}
