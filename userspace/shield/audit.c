// SPDX-License-Identifier: Apache-2.0
/* The audit trail's hash chain (SPEC §12.3): canonical rows, row hashes, appends, the
 * retention purge and verification. The store does the serialized read-head-then-insert;
 * this file decides what the bytes are and what a broken chain is called. */
#include "shield/audit.h"

#include "common/clock.h"
#include "common/crypto.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUDIT_FORMAT_VERSION "1"
#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* Appends the netstring `<len>:<bytes>,` of s; returns the new length or -ENOSPC. */
static int netstring(char *out, size_t cap, int at, const char *s)
{
	if (at < 0)
		return at;
	size_t len = strlen(s);
	int n = snprintf(out + at, cap - (size_t)at, "%zu:%s,", len, s);
	if (n < 0 || (size_t)n >= cap - (size_t)at)
		return -ENOSPC;
	return at + n;
}

void hw_audit_time(int64_t ts_ms, char out[25])
{
	time_t s = (time_t)(ts_ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(out, 25, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 25 - n, ".%03dZ", (int)(ts_ms % 1000));
}

int hw_audit_time_parse(const char *s, int64_t *ts_ms)
{
	struct tm tm = {0};
	int ms = 0, used = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &used) != 7 ||
	    s[used] != '\0' || used != 24)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ts_ms = (int64_t)timegm(&tm) * 1000 + ms;
	return 0;
}

int hw_audit_canonical(const struct hw_audit_row *r, char *out, size_t cap)
{
	char seq[24], ts[25];
	snprintf(seq, sizeof(seq), "%" PRId64, r->seq);
	hw_audit_time(r->ts_ms, ts);
	const char *fields[] = {AUDIT_FORMAT_VERSION,
				seq,
				ts,
				r->workspace_id,
				r->kind,
				r->key_id,
				r->request_id,
				r->client_ip,
				r->threat_type,
				r->score,
				r->action,
				r->prompt_sha256,
				r->model,
				r->mode,
				r->detail};
	int at = 0;
	if (cap == 0)
		return -ENOSPC;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		at = netstring(out, cap, at, fields[i]);
	return at;
}

int hw_audit_row_hash(const struct hw_audit_row *r, char out[65])
{
	/* Every field is a bounded array: this holds them all with their netstring framing. */
	char buf[64 + sizeof(struct hw_audit_row) + 256];
	size_t plen = strnlen(r->prev_hash, 64);
	memcpy(buf, r->prev_hash, plen);
	int n = hw_audit_canonical(r, buf + plen, sizeof(buf) - plen);
	if (n < 0)
		return n;
	hw_sha256_hex(buf, plen + (size_t)n, out);
	return 0;
}

/* The store's seal callback: the row is complete once seq and prev_hash are set. */
static void seal(struct hw_audit_row *r)
{
	if (hw_audit_row_hash(r, r->row_hash) < 0)
		r->row_hash[0] = '\0';
}

int hw_audit_append(struct hw_store *st, const struct hw_audit_event *ev, int64_t *seq_out,
		    char row_hash_out[65])
{
	struct hw_audit_row row;
	if (!ev->workspace_id[0] || !(ev->score >= 0.0 && ev->score <= 1.0) ||
	    (strcmp(ev->action, "blocked") != 0 && strcmp(ev->action, "logged") != 0))
		return -EINVAL;
	memset(&row, 0, sizeof(row));
	row.ts_ms = ev->timestamp_ms ? ev->timestamp_ms : hw_clock_wall_ms();
	snprintf(row.workspace_id, sizeof(row.workspace_id), "%s", ev->workspace_id);
	snprintf(row.kind, sizeof(row.kind), "threat");
	snprintf(row.key_id, sizeof(row.key_id), "%s", ev->key_id);
	snprintf(row.request_id, sizeof(row.request_id), "%s", ev->request_id);
	snprintf(row.client_ip, sizeof(row.client_ip), "%s", ev->client_ip);
	snprintf(row.threat_type, sizeof(row.threat_type), "%s", ev->threat_type);
	snprintf(row.score, sizeof(row.score), "%.2f", round(ev->score * 100.0) / 100.0);
	snprintf(row.action, sizeof(row.action), "%s", ev->action);
	snprintf(row.prompt_sha256, sizeof(row.prompt_sha256), "%s", ev->prompt_sha256);
	snprintf(row.model, sizeof(row.model), "%s", ev->model);
	snprintf(row.mode, sizeof(row.mode), "%s", ev->mode);
	int rc = st->ops->audit_append(st, &row, seal);
	if (rc < 0)
		return rc;
	if (seq_out)
		*seq_out = row.seq;
	if (row_hash_out)
		memcpy(row_hash_out, row.row_hash, 65);
	return 0;
}

int hw_audit_purge(struct hw_store *st, const char *workspace_id, int64_t retention_days,
		   int64_t *deleted)
{
	struct hw_audit_row row;
	int64_t gone = 0, now = hw_clock_wall_ms();
	memset(&row, 0, sizeof(row));
	row.ts_ms = now;
	snprintf(row.workspace_id, sizeof(row.workspace_id), "%s", workspace_id);
	snprintf(row.kind, sizeof(row.kind), "retention_purge");
	int rc = st->ops->audit_purge(st, workspace_id, now - retention_days * 86400000LL, &row,
				      seal, &gone);
	if (deleted)
		*deleted = gone;
	return rc;
}

/* The anchor and first seq a store chain must start from: the newest purge row's, else
 * 64 zeros and seq 1. */
static void chain_start(const struct hw_audit_row *rows, size_t n, char anchor[65],
			int64_t *first_seq)
{
	memcpy(anchor, ZERO_HASH, 65);
	*first_seq = 1;
	for (size_t i = n; i-- > 0;) {
		long long through = 0, count = 0;
		char a[65] = "";
		if (strcmp(rows[i].kind, "retention_purge") != 0)
			continue;
		if (sscanf(rows[i].detail,
			   "deleted_through_seq=%lld;deleted_count=%lld;anchor=%64s", &through,
			   &count, a) == 3) {
			memcpy(anchor, a, 65);
			*first_seq = through + 1;
		} else {
			/* An unreadable purge row points nowhere: the anchor check then fails. */
			anchor[0] = '\0';
		}
		return;
	}
}

static bool seq_later(const struct hw_audit_row *rows, size_t from, size_t n, int64_t seq)
{
	for (size_t i = from; i < n; i++)
		if (rows[i].seq == seq)
			return true;
	return false;
}

static void fail(struct hw_audit_verdict *out, int64_t seq, const char *problem)
{
	out->ok = false;
	out->first_bad_seq = seq;
	out->problem = problem;
}

void hw_audit_verify(const struct hw_audit_row *rows, size_t n, bool from_store, int64_t expect_seq,
		     const char *expect_hash, struct hw_audit_verdict *out)
{
	char anchor[65], hash[65];
	int64_t first_seq = 1;

	memset(out, 0, sizeof(*out));
	out->ok = true;
	out->rows = (int64_t)n;
	if (n) {
		out->head_seq = rows[n - 1].seq;
		memcpy(out->head_hash, rows[n - 1].row_hash, 65);
	}
	if (from_store) {
		chain_start(rows, n, anchor, &first_seq);
	} else if (n) {
		memcpy(anchor, rows[0].prev_hash, 65);
		first_seq = rows[0].seq;
	}
	for (size_t i = 0; i < n; i++) {
		const struct hw_audit_row *r = &rows[i];
		int64_t want = i ? rows[i - 1].seq + 1 : first_seq;
		if (r->seq > want) {
			/* A skipped seq that shows up later was moved, not lost. */
			fail(out, want,
			     seq_later(rows, i + 1, n, want) ? "inserted_or_reordered" : "missing");
			return;
		}
		if (r->seq < want) {
			fail(out, r->seq, i ? "inserted_or_reordered" : "anchor_mismatch");
			return;
		}
		if (strcmp(r->prev_hash, i ? rows[i - 1].row_hash : anchor) != 0) {
			fail(out, r->seq, i ? "inserted_or_reordered" : "anchor_mismatch");
			return;
		}
		if (hw_audit_row_hash(r, hash) < 0 || strcmp(hash, r->row_hash) != 0) {
			fail(out, r->seq, "modified");
			return;
		}
	}
	if (expect_seq > 0) {
		for (size_t i = 0; i < n; i++) {
			if (rows[i].seq != expect_seq)
				continue;
			if (!expect_hash || strcmp(rows[i].row_hash, expect_hash) != 0)
				fail(out, expect_seq, "modified");
			return;
		}
		/* The head written down is gone: the chain was cut back below it. Rows older
		 * than the first one kept were purged and cannot be compared. */
		if (!n || expect_seq > rows[n - 1].seq)
			fail(out, expect_seq, "missing");
	}
}
