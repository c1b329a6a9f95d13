/* SPDX-License-Identifier: Apache-2.0 */
/* The audit trail (SPEC §12.3): each workspace's security events form one hash chain,
 * row_hash = hex(SHA-256(prev_hash ‖ canonical_row)), so a modified, deleted, inserted or
 * reordered row breaks the chain at a seq that verify names. Appends and the retention purge
 * go through the store, which serializes them per workspace; verify runs on rows from the
 * store or from an export file, offline. */
#ifndef HW_SHIELD_AUDIT_H
#define HW_SHIELD_AUDIT_H

#include "common/buf.h"
#include "store/store.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the scanner reports for one request (kind `threat`). Empty strings are nulls. */
struct hw_audit_event {
	char workspace_id[HW_ID_MAX];
	char key_id[HW_ID_MAX];
	char request_id[HW_AUDIT_REQUEST_ID_MAX];
	char client_ip[46];
	char model[HW_AUDIT_MODEL_MAX];
	char threat_type[24];
	double score;	 /* 0..1, kept with 2 decimals */
	char action[12]; /* blocked | logged */
	char mode[12];	 /* monitor | block */
	char prompt_sha256[65];
	int64_t timestamp_ms; /* 0 = now */
};

/* Appends `ev` to its workspace's chain; the new row's seq and row_hash go to the outputs
 * (either may be NULL). 0, -EINVAL (a field out of shape) or the store's errno. */
int hw_audit_append(struct hw_store *st, const struct hw_audit_event *ev, int64_t *seq_out,
		    char row_hash_out[65]);

/* Deletes the workspace's rows older than `retention_days` before now and chains a
 * `retention_purge` row, in one transaction; nothing happens when no row is that old.
 * *deleted (may be NULL) gets how many rows went. */
int hw_audit_purge(struct hw_store *st, const char *workspace_id, int64_t retention_days,
		   int64_t *deleted);

/* The retention job (SPEC §12.3): purges every workspace at start and then hourly, on its
 * own thread. `days` is asked each round, so a reloaded configuration applies. NULL when
 * the thread cannot start. */
struct hw_audit_retention;
struct hw_audit_retention *hw_audit_retention_start(struct hw_store *st, int64_t (*days)(void *arg),
						    void *arg);
void hw_audit_retention_stop(struct hw_audit_retention *r);

/* The bytes hashed after prev_hash: netstrings of the SPEC's fields. Returns the length
 * written (excluding the NUL), or -ENOSPC when `cap` is too small. */
int hw_audit_canonical(const struct hw_audit_row *row, char *out, size_t cap);
/* hex(SHA-256(row->prev_hash ‖ canonical_row)) into out. */
int hw_audit_row_hash(const struct hw_audit_row *row, char out[65]);

/* RFC 3339 with milliseconds, "2026-05-01T00:00:00.123Z". */
void hw_audit_time(int64_t ts_ms, char out[25]);
int hw_audit_time_parse(const char *s, int64_t *ts_ms);

struct hw_audit_verdict {
	bool ok;
	int64_t rows;
	int64_t head_seq;      /* 0 without rows */
	char head_hash[65];    /* "" without rows */
	int64_t first_bad_seq; /* 0 when ok */
	/* modified | missing | inserted_or_reordered | anchor_mismatch; NULL when ok. */
	const char *problem;
};

/* Verify in steps, so a chain of any length streams through in pages: begin, a step per row
 * in the order given (the store gives them by seq), end. from_store: the first row must
 * follow the newest purge row's anchor (64 zeros and seq 1 without purge); an export file
 * instead starts from its own first prev_hash. expect_seq > 0: the row with that seq must
 * also have row_hash expect_hash, which catches a chain rewritten wholesale since that head
 * was written down. */
struct hw_audit_verifier {
	struct hw_audit_verdict v;
	bool from_store, expect_found, expect_bad;
	int64_t expect_seq, prev_seq, first_seq, min_seq, anchor_seq, watch_seq;
	char expect_hash[65], prev_row_hash[65], first_prev[65], anchor[65];
};

void hw_audit_verify_begin(struct hw_audit_verifier *vf, bool from_store, int64_t expect_seq,
			   const char *expect_hash);
void hw_audit_verify_step(struct hw_audit_verifier *vf, const struct hw_audit_row *row);
void hw_audit_verify_end(struct hw_audit_verifier *vf, struct hw_audit_verdict *out);
/* The three steps over an array. */
void hw_audit_verify(const struct hw_audit_row *rows, size_t n, bool from_store, int64_t expect_seq,
		     const char *expect_hash, struct hw_audit_verdict *out);

/* audit_export.c: the export formats. The CSV header line (no line break). */
extern const char hw_audit_csv_header[];
/* One event object of the JSON export; null for empty fields, score a number. */
json_t *hw_audit_row_json(const struct hw_audit_row *row);
/* Back from an export's event object; -EINVAL when a field is missing or too long. */
int hw_audit_row_from_json(const json_t *o, struct hw_audit_row *row);
/* One CSV record, CRLF-terminated. 0 or -ENOMEM. */
int hw_audit_row_csv(const struct hw_audit_row *row, struct hw_buf *b);
/* Parses a CSV export (header line first) into a malloc'ed array; 0, -EINVAL, -ENOMEM. */
int hw_audit_rows_from_csv(const char *text, size_t len, struct hw_audit_row **out, size_t *n);

#endif
