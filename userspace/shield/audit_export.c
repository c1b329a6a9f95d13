// SPDX-License-Identifier: Apache-2.0
/* Audit rows in the export formats of SPEC §12.3 and back: JSON objects and RFC 4180 CSV.
 * Reading matters as much as writing: `hiwayctl audit verify --file` re-hashes an export
 * offline, so every field must come back byte for byte as canonical_row saw it. */
#include "shield/audit.h"

#include "common/json_usd.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char hw_audit_csv_header[] =
    "seq,timestamp,workspace_id,kind,key_id,request_id,client_ip,threat_type,score,action,"
    "prompt_sha256,model,mode,detail,prev_hash,row_hash";

#define N_FIELDS 16

/* The text fields in header order after seq and timestamp. */
static void text_fields(struct hw_audit_row *r, char **f, size_t *cap)
{
	char *p[] = {r->workspace_id, r->kind,	 r->key_id,    r->request_id,	 r->client_ip,
		     r->threat_type,  r->score,	 r->action,    r->prompt_sha256, r->model,
		     r->mode,	      r->detail, r->prev_hash, r->row_hash};
	size_t c[] = {sizeof(r->workspace_id), sizeof(r->kind),	     sizeof(r->key_id),
		      sizeof(r->request_id),   sizeof(r->client_ip), sizeof(r->threat_type),
		      sizeof(r->score),	       sizeof(r->action),    sizeof(r->prompt_sha256),
		      sizeof(r->model),	       sizeof(r->mode),	     sizeof(r->detail),
		      sizeof(r->prev_hash),    sizeof(r->row_hash)};
	memcpy(f, p, sizeof(p));
	memcpy(cap, c, sizeof(c));
}

static const char *const names[N_FIELDS - 2] = {
    "workspace_id",  "kind",  "key_id", "request_id", "client_ip", "threat_type", "score", "action",
    "prompt_sha256", "model", "mode",	"detail",     "prev_hash", "row_hash"};

json_t *hw_audit_row_json(const struct hw_audit_row *row)
{
	struct hw_audit_row r = *row;
	char *f[N_FIELDS - 2], ts[25];
	size_t cap[N_FIELDS - 2];
	json_t *o = json_object();
	text_fields(&r, f, cap);
	hw_audit_time(r.ts_ms, ts);
	json_object_set_new(o, "seq", json_integer(r.seq));
	json_object_set_new(o, "timestamp", json_string(ts));
	for (size_t i = 0; i < N_FIELDS - 2; i++) {
		json_t *v;
		if (!f[i][0])
			v = json_null();
		else if (f[i] == r.score)
			v = hw_json_usd(llround(strtod(r.score, NULL) * 1e6));
		else
			v = json_string(f[i]);
		json_object_set_new(o, names[i], v);
	}
	return o;
}

static int copy_field(char *dst, size_t cap, const char *s, size_t len)
{
	if (len >= cap)
		return -EINVAL;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

int hw_audit_row_from_json(const json_t *o, struct hw_audit_row *row)
{
	char *f[N_FIELDS - 2];
	size_t cap[N_FIELDS - 2];
	const json_t *seq = json_object_get(o, "seq");
	const char *ts = json_string_value(json_object_get(o, "timestamp"));
	memset(row, 0, sizeof(*row));
	if (!json_is_integer(seq) || !ts || hw_audit_time_parse(ts, &row->ts_ms) < 0)
		return -EINVAL;
	row->seq = json_integer_value(seq);
	text_fields(row, f, cap);
	for (size_t i = 0; i < N_FIELDS - 2; i++) {
		const json_t *v = json_object_get(o, names[i]);
		if (!v || json_is_null(v))
			continue;
		if (f[i] == row->score && json_is_number(v)) {
			snprintf(row->score, sizeof(row->score), "%.2f", json_number_value(v));
			continue;
		}
		if (!json_is_string(v) ||
		    copy_field(f[i], cap[i], json_string_value(v), json_string_length(v)) < 0)
			return -EINVAL;
	}
	return 0;
}

/* One CSV field, quoted when it holds a comma, quote, CR or LF (RFC 4180). */
static int csv_field(struct hw_buf *b, const char *s, bool last)
{
	int rc = 0;
	if (strpbrk(s, ",\"\r\n")) {
		rc = hw_buf_append(b, "\"", 1);
		for (const char *p = s; rc == 0 && *p; p++)
			rc = *p == '"' ? hw_buf_append(b, "\"\"", 2) : hw_buf_append(b, p, 1);
		if (rc == 0)
			rc = hw_buf_append(b, "\"", 1);
	} else {
		rc = hw_buf_append(b, s, strlen(s));
	}
	if (rc == 0)
		rc = hw_buf_append(b, last ? "\r\n" : ",", last ? 2 : 1);
	return rc;
}

int hw_audit_row_csv(const struct hw_audit_row *row, struct hw_buf *b)
{
	struct hw_audit_row r = *row;
	char *f[N_FIELDS - 2], ts[25];
	size_t cap[N_FIELDS - 2];
	text_fields(&r, f, cap);
	hw_audit_time(r.ts_ms, ts);
	int rc = hw_buf_appendf(b, "%lld,", (long long)r.seq);
	if (rc == 0)
		rc = csv_field(b, ts, false);
	for (size_t i = 0; rc == 0 && i < N_FIELDS - 2; i++)
		rc = csv_field(b, f[i], i == N_FIELDS - 3);
	return rc;
}

/* Reads one CSV record starting at *p into fields (pointers into `scratch`); advances *p. */
static int csv_record(const char **p, const char *end, char *scratch, char **fields, size_t *nf)
{
	const char *s = *p;
	char *w = scratch;
	*nf = 0;
	for (;;) {
		if (*nf == N_FIELDS)
			return -EINVAL;
		fields[(*nf)++] = w;
		if (s < end && *s == '"') {
			for (s++;; s++) {
				if (s >= end)
					return -EINVAL;
				if (*s == '"') {
					if (s + 1 < end && s[1] == '"') {
						*w++ = '"';
						s++;
						continue;
					}
					s++;
					break;
				}
				*w++ = *s;
			}
		} else {
			while (s < end && *s != ',' && *s != '\r' && *s != '\n')
				*w++ = *s++;
		}
		*w++ = '\0';
		if (s < end && *s == ',') {
			s++;
			continue;
		}
		if (s < end && *s == '\r')
			s++;
		if (s < end && *s == '\n')
			s++;
		*p = s;
		return 0;
	}
}

int hw_audit_rows_from_csv(const char *text, size_t len, struct hw_audit_row **out, size_t *n)
{
	const char *p = text, *end = text + len;
	char *fields[N_FIELDS];
	char *scratch = malloc(len + N_FIELDS + 1);
	struct hw_audit_row *rows = NULL;
	size_t nf = 0, count = 0, cap = 0;
	int rc = -ENOMEM;
	*out = NULL;
	*n = 0;
	if (!scratch)
		goto out;
	rc = csv_record(&p, end, scratch, fields, &nf);
	if (rc < 0 || nf != N_FIELDS || strcmp(fields[0], "seq") != 0) {
		rc = -EINVAL;
		goto out;
	}
	while (p < end) {
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct hw_audit_row *grown = realloc(rows, ncap * sizeof(*rows));
			rc = -ENOMEM;
			if (!grown)
				goto out;
			rows = grown;
			cap = ncap;
		}
		struct hw_audit_row *r = &rows[count];
		char *f[N_FIELDS - 2], *endp = NULL;
		size_t fcap[N_FIELDS - 2];
		rc = csv_record(&p, end, scratch, fields, &nf);
		if (rc == 0 && nf != N_FIELDS)
			rc = -EINVAL;
		if (rc < 0)
			goto out;
		memset(r, 0, sizeof(*r));
		r->seq = strtoll(fields[0], &endp, 10);
		if (!fields[0][0] || *endp || hw_audit_time_parse(fields[1], &r->ts_ms) < 0) {
			rc = -EINVAL;
			goto out;
		}
		text_fields(r, f, fcap);
		for (size_t i = 0; i < N_FIELDS - 2; i++) {
			rc = copy_field(f[i], fcap[i], fields[i + 2], strlen(fields[i + 2]));
			if (rc < 0)
				goto out;
		}
		count++;
	}
	rc = 0;
out:
	free(scratch);
	if (rc < 0) {
		free(rows);
		return rc;
	}
	*out = rows;
	*n = count;
	return 0;
}
