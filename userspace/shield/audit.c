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

static void fail(struct hw_audit_verifier *vf, int64_t seq, const char *problem)
{
	vf->v.ok = false;
	vf->v.first_bad_seq = seq;
	vf->v.problem = problem;
}

void hw_audit_verify_begin(struct hw_audit_verifier *vf, bool from_store, int64_t expect_seq,
			   const char *expect_hash)
{
	memset(vf, 0, sizeof(*vf));
	vf->v.ok = true;
	vf->from_store = from_store;
	vf->expect_seq = expect_seq;
	if (expect_hash)
		snprintf(vf->expect_hash, sizeof(vf->expect_hash), "%s", expect_hash);
	/* Without a purge row, a store chain starts at seq 1 after 64 zeros. */
	memcpy(vf->anchor, ZERO_HASH, 65);
	vf->anchor_seq = 1;
}

/* A purge row names where the chain kept in the store must now start. */
static void purge_seen(struct hw_audit_verifier *vf, const struct hw_audit_row *r)
{
	long long through = 0, count = 0;
	char a[65] = "";
	if (sscanf(r->detail, "deleted_through_seq=%lld;deleted_count=%lld;anchor=%64s", &through,
		   &count, a) == 3) {
		memcpy(vf->anchor, a, 65);
		vf->anchor_seq = through + 1;
	} else {
		/* An unreadable purge row points nowhere: the anchor check then fails. */
		vf->anchor[0] = '\0';
	}
}

void hw_audit_verify_step(struct hw_audit_verifier *vf, const struct hw_audit_row *r)
{
	char hash[65];
	bool first = vf->v.rows == 0;

	vf->v.rows++;
	vf->v.head_seq = r->seq;
	memcpy(vf->v.head_hash, r->row_hash, 65);
	if (first || r->seq < vf->min_seq)
		vf->min_seq = r->seq;
	if (strcmp(r->kind, "retention_purge") == 0)
		purge_seen(vf, r);
	if (!vf->v.ok) {
		/* A seq reported missing that shows up later was moved, not lost. */
		if (vf->watch_seq && r->seq == vf->watch_seq)
			vf->v.problem = "inserted_or_reordered";
		return;
	}
	if (first) {
		/* The store's anchor is the newest purge row's, known only at the end. */
		vf->first_seq = r->seq;
		memcpy(vf->first_prev, r->prev_hash, 65);
	} else if (r->seq > vf->prev_seq + 1) {
		fail(vf, vf->prev_seq + 1, "missing");
		vf->watch_seq = vf->prev_seq + 1;
		return;
	} else if (r->seq <= vf->prev_seq || strcmp(r->prev_hash, vf->prev_row_hash) != 0) {
		fail(vf, r->seq, "inserted_or_reordered");
		return;
	}
	if (hw_audit_row_hash(r, hash) < 0 || strcmp(hash, r->row_hash) != 0) {
		fail(vf, r->seq, "modified");
		return;
	}
	if (vf->expect_seq > 0 && r->seq == vf->expect_seq) {
		vf->expect_found = true;
		vf->expect_bad = strcmp(r->row_hash, vf->expect_hash) != 0;
	}
	vf->prev_seq = r->seq;
	memcpy(vf->prev_row_hash, r->row_hash, 65);
}

void hw_audit_verify_end(struct hw_audit_verifier *vf, struct hw_audit_verdict *out)
{
	/* The first row's checks come first: a failure there precedes any found later. */
	if (vf->from_store && vf->v.rows) {
		if (vf->first_seq > vf->anchor_seq) {
			fail(vf, vf->anchor_seq,
			     vf->min_seq <= vf->anchor_seq ? "inserted_or_reordered" : "missing");
		} else if (vf->first_seq < vf->anchor_seq ||
			   strcmp(vf->first_prev, vf->anchor) != 0) {
			fail(vf, vf->first_seq, "anchor_mismatch");
		}
	}
	if (vf->v.ok && vf->expect_seq > 0) {
		if (vf->expect_found && vf->expect_bad)
			fail(vf, vf->expect_seq, "modified");
		/* The head written down is gone: the chain was cut back below it. Rows older
		 * than the first one kept were purged and cannot be compared. */
		else if (!vf->expect_found && (!vf->v.rows || vf->expect_seq > vf->v.head_seq))
			fail(vf, vf->expect_seq, "missing");
	}
	*out = vf->v;
}

void hw_audit_verify(const struct hw_audit_row *rows, size_t n, bool from_store, int64_t expect_seq,
		     const char *expect_hash, struct hw_audit_verdict *out)
{
	struct hw_audit_verifier vf;
	hw_audit_verify_begin(&vf, from_store, expect_seq, expect_hash);
	for (size_t i = 0; i < n; i++)
		hw_audit_verify_step(&vf, &rows[i]);
	hw_audit_verify_end(&vf, out);
}
