/* SPDX-License-Identifier: Apache-2.0 */
/* Security Shield scanner (SPEC §12.2): the threat types' patterns compiled into one
 * Hyperscan database, scanned in one pass over a request's text, validators run on the
 * matches that name one, and the request score = the maximum type score. */
#ifndef HW_SHIELD_SCANNER_H
#define HW_SHIELD_SCANNER_H

#include "common/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* In tie-break order (SPEC §12.2): on equal scores the lower value wins. */
enum hw_threat {
	HW_THREAT_SECRETS,
	HW_THREAT_JAILBREAK,
	HW_THREAT_PROMPT_INJECTION,
	HW_THREAT_PROMPT_EXTRACTION,
	HW_THREAT_PII,
	HW_THREAT__COUNT,
	HW_THREAT_NONE = -1
};

const char *hw_threat_name(enum hw_threat t);
/* -1 when `name` is not a threat type. */
int hw_threat_parse(const char *name);

struct hw_shield_pattern {
	const char *expr;      /* regular expression, matched case-insensitively */
	enum hw_threat type;
	const char *validator; /* NULL, or luhn | iban | siren | siret */
};

/* A compiled pattern set: immutable once built, shared by every thread. */
struct hw_shield_db;

/* Compiles `n` patterns into one database; on error -1 and a message naming the pattern. */
int hw_shield_db_compile(const struct hw_shield_pattern *p, size_t n, struct hw_shield_db **out,
			 char *err, size_t errlen);
/* The five <threat_type>.txt files of `dir`; "" means the built-in set: the directory
 * <exe dir>/../config/shield when it exists, else the copy compiled into the binary. */
int hw_shield_db_load(const char *dir, struct hw_shield_db **out, char *err, size_t errlen);
/* Parses one pattern file's text (a line per pattern, # comments, optional tab and
 * validator) and appends its patterns to `list` (grown with realloc; strings are
 * allocated and freed by hw_shield_patterns_free). */
int hw_shield_patterns_parse(const char *text, enum hw_threat type, struct hw_shield_pattern **list,
			     size_t *n, char *err, size_t errlen);
void hw_shield_patterns_free(struct hw_shield_pattern *list, size_t n);
size_t hw_shield_db_size(const struct hw_shield_db *db);
void hw_shield_db_free(struct hw_shield_db *db);

struct hw_shield_result {
	double score;          /* 0 when nothing matched */
	enum hw_threat type;   /* HW_THREAT_NONE when nothing matched */
	char prompt_sha256[65];
};

/* Score of each type (config shield.scores). */
struct hw_shield_scores {
	double of[HW_THREAT__COUNT];
};

/* The scanned text (SPEC §12.1): every message's text of every role, tool-call arguments,
 * and, when `anthropic` (the original /v1/messages body) is given, its system, text,
 * tool_use inputs and tool_result contents instead of the internal form's. Segments are
 * joined by "\n" into `out`. */
int hw_shield_collect(const json_t *internal, const json_t *anthropic, struct hw_buf *out);

/* Scans `text` with `db` and, when not NULL, a workspace's `custom` database, using this
 * thread's scratch space; fills `res` (prompt_sha256 included). 0, or -1 on a scan error. */
int hw_shield_scan(const struct hw_shield_db *db, const struct hw_shield_db *custom,
		   const struct hw_shield_scores *scores, const char *text, size_t len,
		   struct hw_shield_result *res);
/* hw_shield_scan without the SHA-256 (prompt_sha256 is left untouched). */
int hw_shield_match(const struct hw_shield_db *db, const struct hw_shield_db *custom,
		    const struct hw_shield_scores *scores, const char *text, size_t len,
		    struct hw_shield_result *res);
/* Frees the calling thread's scratch space (threads that exit free theirs themselves). */
void hw_shield_thread_release(void);

#endif
