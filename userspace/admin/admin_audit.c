// SPDX-License-Identifier: Apache-2.0
/* A workspace's audit trail over the management API (SPEC §12.3, §16.2): verify the hash
 * chain as the store holds it, and export the rows of the last N days as JSON or CSV. Verify
 * also takes `expect_head=SEQ:HASH` (what `hiwayctl audit verify --expect-head` sends), so
 * a chain rewritten wholesale since that head was written down is caught server-side. */
#include "admin/admin_internal.h"

#include "common/clock.h"
#include "shield/audit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_DAYS_DEFAULT 30
#define EXPORT_DAYS_MAX 3650
/* Rows read from the store per transaction by verify and export. */
#define AUDIT_PAGE 1000

static int workspace_check(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_workspace ws;
	int rc = st->ops->workspace_get(st, c->ws_id, &ws);

	if (rc)
		hw_admin_fail_store(c, rc, "Workspace");
	return rc;
}

/* ?expect_head=SEQ:HASH; *seq stays 0 without it. Answers 400 when malformed. */
static int expect_head_parse(struct hw_admin_call *c, int64_t *seq, char hash[65])
{
	char v[96];
	int used = 0;
	long long s = 0;
	int rc = hw_admin_query_get(c->req->query, "expect_head", v, sizeof(v));

	*seq = 0;
	if (rc == -ENOENT)
		return 0;
	if (rc < 0 || sscanf(v, "%lld:%64[0-9a-f]%n", &s, hash, &used) != 2 || v[used] || s < 1 ||
	    strlen(hash) != 64) {
		hw_admin_fail_param(c, "expect_head", "expect_head must be SEQ:HASH (64 hex).");
		return -EINVAL;
	}
	*seq = s;
	return 0;
}

/* Streams the workspace's chain through the verifier a page at a time, so no chain length
 * needs it all in memory. */
static int verify_pass(struct hw_store *st, const char *ws, int64_t expect_seq,
		       const char *expect_hash, struct hw_audit_verdict *v)
{
	struct hw_audit_verifier vf;
	int64_t after = 0;
	size_t n = 0;
	int rc = 0;

	hw_audit_verify_begin(&vf, true, expect_seq, expect_hash);
	do {
		struct hw_audit_row *rows = NULL;
		rc = st->ops->audit_list(st, ws, INT64_MIN, after, AUDIT_PAGE, &rows, &n);
		for (size_t i = 0; rc == 0 && i < n; i++)
			hw_audit_verify_step(&vf, &rows[i]);
		if (rc == 0 && n)
			after = rows[n - 1].seq;
		free(rows);
	} while (rc == 0 && n == AUDIT_PAGE);
	hw_audit_verify_end(&vf, v);
	return rc;
}

void hw_admin_audit_verify(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_audit_verdict v;
	int64_t expect_seq = 0;
	char expect_hash[65] = "";
	int rc;

	if (workspace_check(c) || expect_head_parse(c, &expect_seq, expect_hash))
		return;
	rc = verify_pass(st, c->ws_id, expect_seq, expect_hash, &v);
	/* Pages are read in separate transactions: a retention purge landing between two of
	 * them looks like missing rows. It runs hourly, so a second pass sees a still chain. */
	if (rc == 0 && !v.ok)
		rc = verify_pass(st, c->ws_id, expect_seq, expect_hash, &v);
	if (rc) {
		hw_admin_fail_store(c, rc, "Workspace");
		return;
	}
	hw_admin_reply(
	    c, 200,
	    json_pack("{s:b,s:I,s:I,s:o,s:o,s:o}", "ok", v.ok, "rows", (json_int_t)v.rows,
		      "head_seq", (json_int_t)v.head_seq, "head_hash",
		      v.head_hash[0] ? json_string(v.head_hash) : json_null(), "first_bad_seq",
		      v.ok ? json_null() : json_integer(v.first_bad_seq), "problem",
		      v.ok ? json_null() : json_string(v.problem)));
}

/* ?days= in 1..3650 (default 30); answers 400 otherwise. */
static int days_parse(struct hw_admin_call *c, int64_t *days)
{
	char v[16], *end = NULL;
	int rc = hw_admin_query_get(c->req->query, "days", v, sizeof(v));

	*days = EXPORT_DAYS_DEFAULT;
	if (rc == -ENOENT)
		return 0;
	long long d = rc == 0 ? strtoll(v, &end, 10) : 0;
	if (rc < 0 || !v[0] || *end || d < 1 || d > EXPORT_DAYS_MAX) {
		hw_admin_fail_param(c, "days", "days must be an integer from 1 to %d.",
				    EXPORT_DAYS_MAX);
		return -EINVAL;
	}
	*days = d;
	return 0;
}

/* Appends the export's rows a page at a time, to the CSV text or the JSON array. */
static int export_rows(struct hw_store *st, const char *ws, int64_t from_ms, struct hw_buf *csv,
		       json_t *events)
{
	int64_t after = 0;
	size_t n = 0;
	int rc = 0;

	do {
		struct hw_audit_row *rows = NULL;
		rc = st->ops->audit_list(st, ws, from_ms, after, AUDIT_PAGE, &rows, &n);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			if (csv)
				rc = hw_audit_row_csv(&rows[i], csv);
			else
				json_array_append_new(events, hw_audit_row_json(&rows[i]));
		}
		if (rc == 0 && n)
			after = rows[n - 1].seq;
		free(rows);
	} while (rc == 0 && n == AUDIT_PAGE);
	return rc;
}

static void export_csv(struct hw_admin_call *c, int64_t from_ms, int64_t now_s)
{
	struct hw_buf b = {0};
	char day[21];
	int rc = hw_buf_appendf(&b, "%s\r\n", hw_audit_csv_header);

	if (rc == 0)
		rc = export_rows(c->ctx->store, c->ws_id, from_ms, &b, NULL);
	if (rc < 0) {
		hw_buf_free(&b);
		hw_admin_fail_store(c, rc, "Workspace");
		return;
	}
	hw_clock_rfc3339(now_s, day);
	day[10] = '\0';
	hw_admin_reply(c, 200, NULL);
	c->resp->text = b.data;
	c->resp->text_len = b.len;
	c->resp->content_type = "text/csv; charset=utf-8";
	snprintf(c->resp->disposition, sizeof(c->resp->disposition),
		 "attachment; filename=\"security-events-%s-%s.csv\"", c->ws_id, day);
}

void hw_admin_audit_export(struct hw_admin_call *c)
{
	static const char *const formats[] = {"json", "csv", NULL};
	char fmt[8] = "json", gen[25], from[25];
	int64_t days = 0, now_ms = hw_clock_wall_ms(), from_ms;
	int rc = hw_admin_query_get(c->req->query, "fmt", fmt, sizeof(fmt));
	json_t *events;

	if (rc == -ENOENT) {
		snprintf(fmt, sizeof(fmt), "json");
	} else if (rc < 0 || !hw_admin_one_of(fmt, formats)) {
		hw_admin_fail_param(c, "fmt", "fmt must be json or csv.");
		return;
	}
	if (days_parse(c, &days) || workspace_check(c))
		return;
	from_ms = now_ms - days * 86400000LL;
	if (strcmp(fmt, "csv") == 0) {
		export_csv(c, from_ms, now_ms / 1000);
		return;
	}
	events = json_array();
	rc = export_rows(c->ctx->store, c->ws_id, from_ms, NULL, events);
	if (rc < 0) {
		json_decref(events);
		hw_admin_fail_store(c, rc, "Workspace");
		return;
	}
	hw_audit_time(now_ms, gen);
	hw_audit_time(from_ms, from);
	hw_admin_reply(c, 200,
		       json_pack("{s:s,s:s,s:s,s:s,s:o}", "workspace_id", c->ws_id, "generated_at",
				 gen, "from", from, "to", gen, "events", events));
}
