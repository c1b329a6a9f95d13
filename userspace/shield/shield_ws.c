// SPDX-License-Identifier: Apache-2.0
/* Per-workspace Shield settings in memory. The table is a fixed array of buckets whose
 * chains only grow (workspaces are never deleted), each entry pointing at an immutable
 * settings object: a reader follows two atomic pointers and takes no lock, a writer builds
 * the new object (custom patterns compiled) before one atomic swap. A replaced object may
 * still be read by a scan in flight, so it is freed only after a grace period far longer
 * than any scan of a size-limited request, at a later write or at shutdown. */
#include "shield/shield_ws.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <hs/hs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024
#define GRACE_NS (60LL * 1000000000LL)

struct entry {
	char id[HW_ID_MAX];
	_Atomic(struct hw_shield_ws *) cur;
	struct entry *next;
};

struct retired {
	struct hw_shield_ws *ws;
	int64_t at_ns;
	struct retired *next;
};

static _Atomic(struct entry *) buckets[BUCKETS];
static struct retired *retired_list;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const modes[] = {"off", "monitor", "block", NULL};

static size_t bucket_of(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a: ids are ULIDs, already well spread */
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % BUCKETS;
}

static struct entry *find(const char *id)
{
	for (struct entry *e = atomic_load_explicit(&buckets[bucket_of(id)], memory_order_acquire);
	     e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

static void ws_free(struct hw_shield_ws *ws)
{
	if (!ws)
		return;
	hw_shield_db_free(ws->custom);
	free(ws);
}

/* UTF-8 characters of `s` (continuation bytes do not count). */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static int fail(char *param, size_t plen, char *msg, size_t mlen, size_t i, const char *field,
		const char *why)
{
	if (field)
		snprintf(param, plen, "custom_patterns[%zu].%s", i, field);
	else
		snprintf(param, plen, "custom_patterns[%zu]", i);
	snprintf(msg, mlen, "%s %s.", param, why);
	return -EINVAL;
}

/* Hyperscan compiles the pattern alone, with the flags the database uses, so the answer
 * names the pattern that fails rather than the whole set. */
static int pattern_check(const char *expr, char *why, size_t len)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *cerr = NULL;
	if (hs_compile(expr, HS_FLAG_CASELESS | HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK,
		       NULL, &db, &cerr) != HS_SUCCESS) {
		snprintf(why, len, "is not a valid pattern: %s",
			 cerr ? cerr->message : "compile failed");
		hs_free_compile_error(cerr);
		return -EINVAL;
	}
	hs_free_database(db);
	return 0;
}

static int one_pattern(const json_t *item, size_t i, struct hw_shield_pattern *p, bool check,
		       char *param, size_t plen, char *msg, size_t mlen)
{
	const char *key;
	const json_t *v;
	char why[256];

	if (!json_is_object(item))
		return fail(param, plen, msg, mlen, i, NULL,
			    "must be an object {name, threat_type, pattern}");
	json_object_foreach((json_t *)item, key, v)
	{
		if (strcmp(key, "name") != 0 && strcmp(key, "threat_type") != 0 &&
		    strcmp(key, "pattern") != 0)
			return fail(param, plen, msg, mlen, i, key, "is not a known field");
	}
	v = json_object_get(item, "name");
	if (!json_is_string(v) || !json_string_length(v) ||
	    strlen(json_string_value(v)) != json_string_length(v) ||
	    utf8_chars(json_string_value(v)) > HW_SHIELD_CUSTOM_NAME_MAX)
		return fail(param, plen, msg, mlen, i, "name",
			    "must be a string of 1 to 64 characters");
	v = json_object_get(item, "threat_type");
	int t = json_is_string(v) ? hw_threat_parse(json_string_value(v)) : -1;
	if (t < 0)
		return fail(
		    param, plen, msg, mlen, i, "threat_type",
		    "must be prompt_injection, prompt_extraction, jailbreak, pii or secrets");
	v = json_object_get(item, "pattern");
	if (!json_is_string(v) || !json_string_length(v) ||
	    json_string_length(v) > HW_SHIELD_CUSTOM_PATTERN_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return fail(param, plen, msg, mlen, i, "pattern",
			    "must be a regular expression of 1 to 1024 bytes");
	if (check && pattern_check(json_string_value(v), why, sizeof(why)) < 0)
		return fail(param, plen, msg, mlen, i, "pattern", why);
	p->type = (enum hw_threat)t;
	p->validator = NULL;
	p->expr = strdup(json_string_value(v));
	return p->expr ? 0 : -ENOMEM;
}

/* With `check`, each pattern is also compiled alone; without, a stored list (checked when
 * it was accepted) costs only the one compile of the whole set. */
static int parse(const json_t *arr, bool check, struct hw_shield_pattern **out, size_t *n,
		 char *param, size_t plen, char *msg, size_t mlen)
{
	struct hw_shield_pattern *list = NULL;
	size_t i, len = 0;
	const json_t *item;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) > HW_SHIELD_CUSTOM_MAX) {
		snprintf(param, plen, "custom_patterns");
		snprintf(msg, mlen,
			 "custom_patterns must be null or an array of at most %d patterns.",
			 HW_SHIELD_CUSTOM_MAX);
		return -EINVAL;
	}
	/* One slot at least, so an empty list is not a NULL one. */
	list = calloc(json_array_size(arr) + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	json_array_foreach(arr, i, item)
	{
		rc = one_pattern(item, i, &list[len], check, param, plen, msg, mlen);
		if (rc < 0)
			break;
		len++;
	}
	if (rc < 0) {
		hw_shield_patterns_free(list, len);
		return rc;
	}
	*out = list;
	*n = len;
	return 0;
}

int hw_shield_custom_parse(const json_t *arr, struct hw_shield_pattern **out, size_t *n,
			   char *param, size_t plen, char *msg, size_t mlen)
{
	return parse(arr, true, out, n, param, plen, msg, mlen);
}

int hw_shield_ws_prepare(const struct hw_security_config *c, struct hw_shield_ws **out, char *err,
			 size_t errlen)
{
	struct hw_shield_ws *ws = calloc(1, sizeof(*ws));
	struct hw_shield_pattern *pats = NULL;
	size_t n = 0;
	int rc = -ENOMEM;

	*out = NULL;
	if (!ws)
		goto out;
	for (int m = 0; modes[m]; m++)
		if (strcmp(c->mode, modes[m]) == 0)
			ws->mode = modes[m];
	ws->threshold = c->threshold;
	ws->retention_days = c->retention_days;
	if (c->custom_patterns) {
		char param[64];
		json_t *arr = json_loads(c->custom_patterns, 0, NULL);
		rc =
		    arr ? parse(arr, false, &pats, &n, param, sizeof(param), err, errlen) : -EINVAL;
		if (!arr)
			snprintf(err, errlen, "custom_patterns is not JSON");
		json_decref(arr);
		if (rc < 0)
			goto out;
		if (n && hw_shield_db_compile(pats, n, &ws->custom, err, errlen) < 0) {
			rc = -EINVAL;
			goto out;
		}
	}
	*out = ws;
	ws = NULL;
	rc = 0;
out:
	hw_shield_patterns_free(pats, n);
	ws_free(ws);
	return rc;
}

/* Frees the retired objects whose grace period is over (all of them with `all`). Caller
 * holds write_lock. */
static void reap(bool all)
{
	int64_t now = hw_clock_mono_ns();
	for (struct retired **r = &retired_list; *r;) {
		if (all || now - (*r)->at_ns > GRACE_NS) {
			struct retired *dead = *r;
			*r = dead->next;
			ws_free(dead->ws);
			free(dead);
		} else {
			r = &(*r)->next;
		}
	}
}

void hw_shield_ws_discard(struct hw_shield_ws *ws)
{
	ws_free(ws);
}

int hw_shield_ws_publish(const char *id, struct hw_shield_ws *ws)
{
	int rc = 0;
	pthread_mutex_lock(&write_lock);
	reap(false);
	struct entry *e = find(id);
	if (!e) {
		size_t b = bucket_of(id);
		e = calloc(1, sizeof(*e));
		if (!e) {
			ws_free(ws);
			rc = -ENOMEM;
			goto out;
		}
		snprintf(e->id, sizeof(e->id), "%s", id);
		atomic_store(&e->cur, ws);
		e->next = atomic_load(&buckets[b]);
		atomic_store_explicit(&buckets[b], e, memory_order_release);
		goto out;
	}
	struct hw_shield_ws *old = atomic_exchange(&e->cur, ws);
	if (old) {
		struct retired *r = malloc(sizeof(*r));
		if (!r) {
			/* Leaking beats freeing what a scan may be reading. */
			hw_log(HW_LOG_WARN, "shield: out of memory, settings of %s leaked", id);
			goto out;
		}
		r->ws = old;
		r->at_ns = hw_clock_mono_ns();
		r->next = retired_list;
		retired_list = r;
	}
out:
	pthread_mutex_unlock(&write_lock);
	return rc;
}

int hw_shield_ws_set(const struct hw_security_config *c, char *err, size_t errlen)
{
	struct hw_shield_ws *ws;
	int rc = hw_shield_ws_prepare(c, &ws, err, errlen);
	if (rc < 0)
		return rc;
	rc = hw_shield_ws_publish(c->workspace_id, ws);
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	return rc;
}

int hw_shield_ws_load(struct hw_store *st)
{
	struct hw_security_config *rows = NULL;
	size_t n = 0;
	int rc = st->ops->security.config_list_all(st, &rows, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char err[512];
		if (hw_shield_ws_set(&rows[i], err, sizeof(err)) == 0)
			continue;
		hw_log(HW_LOG_ERROR, "shield: custom patterns of workspace %s ignored: %s",
		       rows[i].workspace_id, err);
		hw_security_config_clear(&rows[i]);
		rc = hw_shield_ws_set(&rows[i], err, sizeof(err));
	}
	hw_security_configs_free(rows, n);
	return rc;
}

const struct hw_shield_ws *hw_shield_ws_get(const char *workspace_id)
{
	if (!workspace_id || !workspace_id[0])
		return NULL;
	struct entry *e = find(workspace_id);
	return e ? atomic_load_explicit(&e->cur, memory_order_acquire) : NULL;
}

int64_t hw_shield_ws_retention_days(const char *workspace_id, int64_t fallback)
{
	const struct hw_shield_ws *ws = hw_shield_ws_get(workspace_id);
	return ws && ws->retention_days > 0 ? ws->retention_days : fallback;
}

void hw_shield_ws_free_all(void)
{
	pthread_mutex_lock(&write_lock);
	for (size_t b = 0; b < BUCKETS; b++) {
		struct entry *e = atomic_exchange(&buckets[b], NULL);
		while (e) {
			struct entry *next = e->next;
			ws_free(atomic_load(&e->cur));
			free(e);
			e = next;
		}
	}
	reap(true);
	pthread_mutex_unlock(&write_lock);
}
