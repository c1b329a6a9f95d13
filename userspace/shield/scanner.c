// SPDX-License-Identifier: Apache-2.0
/* The Security Shield scanner on Hyperscan. Every pattern of every threat type goes into
 * one block-mode database, so a request's text is read once whatever the number of
 * patterns. Patterns without a validator report once per scan. Patterns with one report
 * every end offset, and the validator is tried on each span that starts at a word start
 * within the longest number (48 bytes) before it: Hyperscan's start-of-match tracking made
 * the IBAN pattern alone cost 10 us per scan. Scratch space is per thread (a pthread key),
 * so scans never share a lock. */
#include "shield/scanner.h"

#include "common/crypto.h"
#include "shield/validators.h"

#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <hs/hs.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The longest span a validator accepts: an IBAN of 34 characters with a space every 4. */
#define MAX_VALIDATED_SPAN 48

struct hw_shield_db {
	hs_database_t *hs;
	uint64_t serial; /* never reused: tells a thread whether its scratch fits this db */
	size_t n;
	enum hw_threat *type;
	hw_validator_fn *validator;
};

static const char *const threat_names[HW_THREAT__COUNT] = {
	[HW_THREAT_SECRETS] = "secrets",
	[HW_THREAT_JAILBREAK] = "jailbreak",
	[HW_THREAT_PROMPT_INJECTION] = "prompt_injection",
	[HW_THREAT_PROMPT_EXTRACTION] = "prompt_extraction",
	[HW_THREAT_PII] = "pii",
};

const char *hw_threat_name(enum hw_threat t)
{
	return t >= 0 && t < HW_THREAT__COUNT ? threat_names[t] : "";
}

int hw_threat_parse(const char *name)
{
	for (int t = 0; t < HW_THREAT__COUNT; t++)
		if (strcmp(threat_names[t], name) == 0)
			return t;
	return -1;
}

int hw_shield_db_compile(const struct hw_shield_pattern *p, size_t n, struct hw_shield_db **out,
			 char *err, size_t errlen)
{
	*out = NULL;
	if (n == 0 || n > UINT_MAX) {
		snprintf(err, errlen, "no patterns");
		return -1;
	}
	struct hw_shield_db *db = calloc(1, sizeof(*db));
	const char **exprs = calloc(n, sizeof(*exprs));
	unsigned *flags = calloc(n, sizeof(*flags));
	unsigned *ids = calloc(n, sizeof(*ids));
	int rc = -1;
	if (!db || !exprs || !flags || !ids)
		goto oom;
	db->n = n;
	db->type = calloc(n, sizeof(*db->type));
	db->validator = calloc(n, sizeof(*db->validator));
	if (!db->type || !db->validator)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		exprs[i] = p[i].expr;
		ids[i] = (unsigned)i;
		db->type[i] = p[i].type;
		flags[i] = HS_FLAG_CASELESS | HS_FLAG_UTF8;
		if (p[i].validator && p[i].validator[0]) {
			db->validator[i] = hw_validator_find(p[i].validator);
			if (!db->validator[i]) {
				snprintf(err, errlen, "pattern %zu (%s): unknown validator \"%s\"", i + 1,
					 hw_threat_name(p[i].type), p[i].validator);
				goto out;
			}
		} else {
			flags[i] |= HS_FLAG_SINGLEMATCH;
		}
	}
	hs_compile_error_t *cerr = NULL;
	if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &db->hs, &cerr) !=
	    HS_SUCCESS) {
		int at = cerr ? cerr->expression : -1;
		if (at >= 0 && (size_t)at < n)
			snprintf(err, errlen, "%s pattern \"%s\": %s", hw_threat_name(p[at].type), p[at].expr,
				 cerr->message);
		else
			snprintf(err, errlen, "pattern database: %s", cerr ? cerr->message : "compile failed");
		hs_free_compile_error(cerr);
		goto out;
	}
	static atomic_uint_fast64_t serials;
	db->serial = atomic_fetch_add(&serials, 1) + 1;
	*out = db;
	db = NULL;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	hw_shield_db_free(db);
	free(exprs);
	free(flags);
	free(ids);
	return rc;
}

size_t hw_shield_db_size(const struct hw_shield_db *db)
{
	return db ? db->n : 0;
}

void hw_shield_db_free(struct hw_shield_db *db)
{
	if (!db)
		return;
	hs_free_database(db->hs);
	free(db->type);
	free(db->validator);
	free(db);
}

void hw_shield_patterns_free(struct hw_shield_pattern *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		free((char *)list[i].expr);
		free((char *)list[i].validator);
	}
	free(list);
}

int hw_shield_patterns_parse(const char *text, enum hw_threat type, struct hw_shield_pattern **list,
			     size_t *n, char *err, size_t errlen)
{
	int lineno = 0;
	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *next = end ? end + 1 : line + len;
		lineno++;
		if (len && line[len - 1] == '\r')
			len--;
		if (len == 0 || line[0] == '#') {
			line = next;
			continue;
		}
		const char *tab = memchr(line, '\t', len);
		size_t elen = tab ? (size_t)(tab - line) : len;
		struct hw_shield_pattern *grown = realloc(*list, (*n + 1) * sizeof(**list));
		if (!grown)
			goto oom;
		*list = grown;
		struct hw_shield_pattern *p = &grown[*n];
		p->type = type;
		p->expr = strndup(line, elen);
		p->validator = tab ? strndup(tab + 1, len - elen - 1) : NULL;
		if (!p->expr || (tab && !p->validator)) {
			free((char *)p->expr);
			free((char *)p->validator);
			goto oom;
		}
		if (p->validator && !hw_validator_find(p->validator)) {
			snprintf(err, errlen, "%s.txt line %d: unknown validator \"%s\"", hw_threat_name(type),
				 lineno, p->validator);
			(*n)++;
			return -1;
		}
		(*n)++;
		line = next;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* The pattern files compiled into the binary (shield_builtin.c), for a binary that runs
 * without the source tree next to it. */
extern const char hw_shield_builtin_prompt_injection[], hw_shield_builtin_prompt_extraction[],
	hw_shield_builtin_jailbreak[], hw_shield_builtin_pii[], hw_shield_builtin_secrets[];

static const char *builtin_text(enum hw_threat t)
{
	switch (t) {
	case HW_THREAT_SECRETS:
		return hw_shield_builtin_secrets;
	case HW_THREAT_JAILBREAK:
		return hw_shield_builtin_jailbreak;
	case HW_THREAT_PROMPT_INJECTION:
		return hw_shield_builtin_prompt_injection;
	case HW_THREAT_PROMPT_EXTRACTION:
		return hw_shield_builtin_prompt_extraction;
	default:
		return hw_shield_builtin_pii;
	}
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *data = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (cap - len < 4096) {
			char *g = realloc(data, cap + 65536);
			if (!g) {
				free(data);
				data = NULL;
				break;
			}
			data = g;
			cap += 65536;
		}
		size_t got = fread(data + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0) {
			data[len] = '\0';
			break;
		}
	}
	fclose(f);
	return data;
}

/* <exe dir>/../config/shield when its files are there: an installed or built tree whose
 * operator edited the files gets them without setting patterns_dir. */
static bool exe_pattern_dir(char *out, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = '\0';
	if ((size_t)snprintf(out, cap, "%s/../config/shield", exe) >= cap)
		return false;
	char probe[PATH_MAX + 32];
	snprintf(probe, sizeof(probe), "%s/prompt_injection.txt", out);
	return access(probe, R_OK) == 0;
}

int hw_shield_db_load(const char *dir, struct hw_shield_db **out, char *err, size_t errlen)
{
	char exe_dir[PATH_MAX];
	bool builtin = false;
	if (!dir || !dir[0]) {
		if (exe_pattern_dir(exe_dir, sizeof(exe_dir)))
			dir = exe_dir;
		else
			builtin = true;
	}
	struct hw_shield_pattern *list = NULL;
	size_t n = 0;
	int rc = -1;
	*out = NULL;
	for (int t = 0; t < HW_THREAT__COUNT; t++) {
		char *text = NULL;
		if (!builtin) {
			char path[PATH_MAX + 64];
			snprintf(path, sizeof(path), "%s/%s.txt", dir, threat_names[t]);
			text = read_file(path);
			if (!text) {
				snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : ENOMEM));
				goto out;
			}
		}
		int prc = hw_shield_patterns_parse(builtin ? builtin_text((enum hw_threat)t) : text,
						   (enum hw_threat)t, &list, &n, err, errlen);
		free(text);
		if (prc < 0)
			goto out;
	}
	rc = hw_shield_db_compile(list, n, out, err, errlen);
out:
	hw_shield_patterns_free(list, n);
	/* Hyperscan's compiler frees megabytes of working memory that glibc would otherwise
	 * keep in the heap for the life of the process (about 14 MiB of an idle gateway). */
	malloc_trim(0);
	return rc;
}

/* Text collection (SPEC §12.1). */

static int add_segment(struct hw_buf *out, const char *s, size_t len)
{
	if (len == 0)
		return 0;
	if (out->len && hw_buf_append(out, "\n", 1) < 0)
		return -1;
	return hw_buf_append(out, s, len);
}

static int add_string(struct hw_buf *out, const json_t *v)
{
	return json_is_string(v) ? add_segment(out, json_string_value(v), json_string_length(v)) : 0;
}

/* A JSON value that is data rather than text (tool arguments and inputs): its compact
 * serialization, so keys and values are both scanned. */
static int add_json(struct hw_buf *out, const json_t *v)
{
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		return add_string(out, v);
	char *s = json_dumps(v, JSON_COMPACT);
	if (!s)
		return -1;
	int rc = add_segment(out, s, strlen(s));
	free(s);
	return rc;
}

/* content: a string, or an array of parts/blocks. Anthropic blocks nest: a tool_result's
 * content is itself a string or an array of blocks. */
static int add_content(struct hw_buf *out, const json_t *content, int depth)
{
	if (json_is_string(content))
		return add_string(out, content);
	if (!json_is_array(content) || depth > 4)
		return 0;
	size_t i;
	const json_t *part;
	json_array_foreach(content, i, part) {
		if (json_is_string(part)) {
			if (add_string(out, part) < 0)
				return -1;
			continue;
		}
		if (!json_is_object(part))
			continue;
		const char *type = json_string_value(json_object_get(part, "type"));
		int rc = 0;
		if (!type || strcmp(type, "text") == 0)
			rc = add_string(out, json_object_get(part, "text"));
		else if (strcmp(type, "tool_use") == 0)
			rc = add_json(out, json_object_get(part, "input"));
		else if (strcmp(type, "tool_result") == 0)
			rc = add_content(out, json_object_get(part, "content"), depth + 1);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int add_tool_calls(struct hw_buf *out, const json_t *calls)
{
	size_t i;
	const json_t *call;
	json_array_foreach(calls, i, call) {
		const json_t *fn = json_object_get(call, "function");
		if (add_json(out, json_object_get(fn, "arguments")) < 0)
			return -1;
	}
	return 0;
}

int hw_shield_collect(const json_t *internal, const json_t *anthropic, struct hw_buf *out)
{
	const json_t *root = anthropic ? anthropic : internal;
	if (anthropic && add_content(out, json_object_get(anthropic, "system"), 0) < 0)
		return -1;
	size_t i;
	const json_t *msg;
	json_array_foreach(json_object_get(root, "messages"), i, msg) {
		if (add_content(out, json_object_get(msg, "content"), 0) < 0)
			return -1;
		if (!anthropic && add_tool_calls(out, json_object_get(msg, "tool_calls")) < 0)
			return -1;
	}
	return 0;
}

/* Scanning. */

/* A thread's scratch and the databases it was grown for: hs_alloc_scratch costs far more
 * than a scan of a chat prompt, and scratch only grows, so it runs once per database. */
#define SIZED_SLOTS 8
struct thread_scratch {
	hs_scratch_t *s;
	uint64_t sized[SIZED_SLOTS];
	unsigned next;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_destroy(void *arg)
{
	struct thread_scratch *ts = arg;
	hs_free_scratch(ts->s);
	free(ts);
}

static int scratch_fit(struct thread_scratch *ts, const struct hw_shield_db *db)
{
	for (unsigned i = 0; i < SIZED_SLOTS; i++)
		if (ts->sized[i] == db->serial)
			return 0;
	if (hs_alloc_scratch(db->hs, &ts->s) != HS_SUCCESS)
		return -1;
	ts->sized[ts->next] = db->serial;
	ts->next = (ts->next + 1) % SIZED_SLOTS;
	return 0;
}

static void scratch_key_init(void)
{
	if (pthread_key_create(&scratch_key, scratch_destroy) != 0)
		abort();
}

struct scan_ctx {
	const struct hw_shield_db *db;
	const struct hw_shield_scores *scores;
	const char *text;
	size_t len;
	double best;
	enum hw_threat type;
	enum hw_threat top; /* once this type matched nothing can beat it: stop */
};

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
		    void *arg)
{
	struct scan_ctx *c = arg;
	enum hw_threat t = c->db->type[id];
	double s = c->scores->of[t];
	if (!(s > c->best || (s == c->best && c->type != HW_THREAT_NONE && t < c->type)))
		return 0;
	hw_validator_fn v = c->db->validator[id];
	if (v) {
		bool valid = false;
		size_t end = (size_t)to;
		for (size_t st = end > MAX_VALIDATED_SPAN ? end - MAX_VALIDATED_SPAN : 0; st < end && !valid; st++)
			if (isalnum((unsigned char)c->text[st]) &&
			    (st == 0 || !isalnum((unsigned char)c->text[st - 1])))
				valid = v(c->text, c->len, st, end);
		if (!valid)
			return 0;
	}
	c->best = s;
	c->type = t;
	return t == c->top;
}

static int scan_one(const struct hw_shield_db *db, hs_scratch_t *scratch, struct scan_ctx *c)
{
	c->db = db;
	hs_error_t e = hs_scan(db->hs, c->text, (unsigned)c->len, 0, scratch, on_match, c);
	return e == HS_SUCCESS || e == HS_SCAN_TERMINATED ? 0 : -1;
}

int hw_shield_scan(const struct hw_shield_db *db, const struct hw_shield_db *custom,
		   const struct hw_shield_scores *scores, const char *text, size_t len,
		   struct hw_shield_result *res)
{
	hw_sha256_hex(text ? text : "", len, res->prompt_sha256);
	return hw_shield_match(db, custom, scores, text, len, res);
}

int hw_shield_match(const struct hw_shield_db *db, const struct hw_shield_db *custom,
		    const struct hw_shield_scores *scores, const char *text, size_t len,
		    struct hw_shield_result *res)
{
	res->score = 0;
	res->type = HW_THREAT_NONE;
	if (len > UINT_MAX)
		return -1;
	pthread_once(&scratch_once, scratch_key_init);
	struct thread_scratch *ts = pthread_getspecific(scratch_key);
	if (!ts) {
		ts = calloc(1, sizeof(*ts));
		if (!ts || pthread_setspecific(scratch_key, ts) != 0) {
			free(ts);
			return -1;
		}
	}
	if ((db && scratch_fit(ts, db) < 0) || (custom && scratch_fit(ts, custom) < 0))
		return -1;
	hs_scratch_t *scratch = ts->s;
	struct scan_ctx c = {.scores = scores, .text = text ? text : "", .len = len, .type = HW_THREAT_NONE};
	c.top = HW_THREAT_SECRETS;
	for (int t = 1; t < HW_THREAT__COUNT; t++)
		if (scores->of[t] > scores->of[c.top])
			c.top = (enum hw_threat)t;
	if ((db && scan_one(db, scratch, &c) < 0) ||
	    (custom && c.type != c.top && scan_one(custom, scratch, &c) < 0))
		return -1;
	if (c.type != HW_THREAT_NONE && c.best > 0) {
		res->score = c.best;
		res->type = c.type;
	}
	return 0;
}

void hw_shield_thread_release(void)
{
	pthread_once(&scratch_once, scratch_key_init);
	struct thread_scratch *ts = pthread_getspecific(scratch_key);
	if (ts)
		scratch_destroy(ts);
	pthread_setspecific(scratch_key, NULL);
}
