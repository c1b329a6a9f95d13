// SPDX-License-Identifier: Apache-2.0
/* The process-wide BYOK cache: a chained hash table of (workspace, provider) rows. Readers
 * hold the read side of one of several rwlocks, picked per thread, for a lookup (and, for
 * hw_byok_api_key, one AES-GCM open); writers are the management API and reloads, rare,
 * serialised by a mutex, and take every shard's write side only to link or unlink. */
#include "auth/byok_cache.h"

#include "common/log.h"
#include "common/secretbox.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCK_SHARDS 16

struct entry {
	struct entry *next;
	char workspace_id[HW_ID_MAX];
	char provider[HW_PROVIDER_ID_MAX];
	bool enabled;
	size_t box_len; /* 0 = no key of its own */
	uint8_t box[];
};

struct table {
	struct entry **buckets;
	size_t mask;
	size_t n;
};

/* Aligned, hence sized, to a cache line, so two shards never share one. */
struct lock_shard {
	_Alignas(64) pthread_rwlock_t lock;
};

static struct {
	bool ready;
	struct hw_store *store;
	bool has_master;
	uint8_t master[HW_SECRETBOX_KEY_LEN];
	struct lock_shard shards[LOCK_SHARDS];
	pthread_mutex_t write_lock;
	struct table t;
} g = {.write_lock = PTHREAD_MUTEX_INITIALIZER};

const char *hw_byok_source_name(enum hw_byok_source s)
{
	switch (s) {
	case HW_BYOK_SOURCE_WORKSPACE:
		return "workspace";
	case HW_BYOK_SOURCE_SERVER:
		return "server";
	case HW_BYOK_SOURCE_NOT_REQUIRED:
		return "not_required";
	default:
		return "none";
	}
}

static bool has_server_key(const struct hw_cfg_provider *p)
{
	return p->api_key && p->api_key[0];
}

enum hw_byok_source hw_byok_source_of(const struct hw_cfg_provider *p, bool own_key)
{
	if (own_key)
		return HW_BYOK_SOURCE_WORKSPACE;
	if (p->kind == HW_PROVIDER_ECHO ||
	    (p->kind == HW_PROVIDER_OPENAI_COMPATIBLE && !has_server_key(p)))
		return HW_BYOK_SOURCE_NOT_REQUIRED;
	if (has_server_key(p) && p->share_key)
		return HW_BYOK_SOURCE_SERVER;
	return HW_BYOK_SOURCE_NONE;
}

static pthread_rwlock_t *reader_lock(void)
{
	static atomic_uint next_shard;
	static __thread unsigned shard = LOCK_SHARDS;
	if (shard == LOCK_SHARDS)
		shard = atomic_fetch_add(&next_shard, 1) % LOCK_SHARDS;
	return &g.shards[shard].lock;
}

static void write_lock_all(void)
{
	for (int i = 0; i < LOCK_SHARDS; i++)
		pthread_rwlock_wrlock(&g.shards[i].lock);
}

static void write_unlock_all(void)
{
	for (int i = LOCK_SHARDS - 1; i >= 0; i--)
		pthread_rwlock_unlock(&g.shards[i].lock);
}

/* FNV-1a over workspace ‖ 0x00 ‖ provider. */
static uint64_t row_hash(const char *ws, const char *provider)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *s = ws; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	h *= 1099511628211ull;
	for (const char *s = provider; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static struct entry **slot_of(const struct table *t, const char *ws, const char *provider)
{
	struct entry **pp = &t->buckets[row_hash(ws, provider) & t->mask];
	while (*pp &&
	       (strcmp((*pp)->workspace_id, ws) != 0 || strcmp((*pp)->provider, provider) != 0))
		pp = &(*pp)->next;
	return pp;
}

static const struct entry *find(const char *ws, const char *provider)
{
	return g.t.buckets ? *slot_of(&g.t, ws, provider) : NULL;
}

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	OPENSSL_cleanse(e->box, e->box_len);
	free(e);
}

static struct entry *entry_new(const struct hw_provider_key *pk)
{
	struct entry *e = calloc(1, sizeof(*e) + pk->ciphertext_len);
	if (!e)
		return NULL;
	snprintf(e->workspace_id, sizeof(e->workspace_id), "%s", pk->workspace_id);
	snprintf(e->provider, sizeof(e->provider), "%s", pk->provider);
	e->enabled = pk->enabled;
	e->box_len = pk->ciphertext_len;
	memcpy(e->box, pk->ciphertext, pk->ciphertext_len);
	return e;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; t->buckets && i <= t->mask; i++) {
		struct entry *e = t->buckets[i];
		while (e) {
			struct entry *next = e->next;
			entry_free(e);
			e = next;
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static int table_alloc(struct table *t, size_t rows)
{
	size_t cap = 64;
	while (cap < rows * 2)
		cap *= 2;
	t->buckets = calloc(cap, sizeof(struct entry *));
	t->mask = cap - 1;
	t->n = 0;
	return t->buckets ? 0 : -ENOMEM;
}

/* Links `e` in place of any row with its ids; returns the row it replaced. */
static struct entry *table_link(struct table *t, struct entry *e)
{
	struct entry **pp = slot_of(t, e->workspace_id, e->provider);
	struct entry *old = *pp;
	e->next = old ? old->next : NULL;
	*pp = e;
	if (!old)
		t->n++;
	return old;
}

/* Moves every row into a table twice as large, so chains stay short as rows are added. */
static void table_grow(struct table *t)
{
	struct table bigger;
	if (table_alloc(&bigger, t->n + 1) < 0)
		return; /* longer chains, still correct */
	for (size_t i = 0; i <= t->mask; i++) {
		for (struct entry *e = t->buckets[i], *next; e; e = next) {
			next = e->next;
			table_link(&bigger, e);
		}
	}
	free(t->buckets);
	*t = bigger;
}

static int build(struct table *out)
{
	struct hw_provider_key *rows = NULL;
	size_t n = 0;
	int rc = g.store->ops->provider_key_list_all(g.store, &rows, &n);
	if (rc < 0)
		return rc;
	rc = table_alloc(out, n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct entry *e = entry_new(&rows[i]);
		if (!e)
			rc = -ENOMEM;
		else
			table_link(out, e);
	}
	if (rc < 0)
		table_free(out);
	OPENSSL_cleanse(rows, n * sizeof(*rows));
	free(rows);
	return rc;
}

int hw_byok_cache_init(struct hw_store *store, const struct hw_config *cfg)
{
	int rc;
	if (g.ready)
		return -EALREADY;
	for (int i = 0; i < LOCK_SHARDS; i++)
		pthread_rwlock_init(&g.shards[i].lock, NULL);
	g.store = store;
	g.has_master = cfg->secrets.has_master_key;
	if (g.has_master)
		memcpy(g.master, cfg->secrets.master_key_raw, sizeof(g.master));
	g.ready = true;
	rc = hw_byok_cache_reload();
	if (rc < 0) {
		hw_byok_cache_free();
		return rc;
	}
	if (!g.has_master && g.t.n)
		hw_log(HW_LOG_WARN, "byok: secrets.master_key is not set: the workspaces' own "
				    "provider keys cannot be used until it is");
	return 0;
}

void hw_byok_cache_free(void)
{
	if (!g.ready)
		return;
	table_free(&g.t);
	for (int i = 0; i < LOCK_SHARDS; i++)
		pthread_rwlock_destroy(&g.shards[i].lock);
	OPENSSL_cleanse(g.master, sizeof(g.master));
	g.has_master = false;
	g.store = NULL;
	g.ready = false;
}

int hw_byok_cache_reload(void)
{
	struct table fresh = {0}, old;
	int rc;
	if (!g.ready)
		return -EINVAL;
	pthread_mutex_lock(&g.write_lock);
	rc = build(&fresh);
	if (rc == 0) {
		write_lock_all();
		old = g.t;
		g.t = fresh;
		write_unlock_all();
		table_free(&old);
	}
	pthread_mutex_unlock(&g.write_lock);
	return rc;
}

int hw_byok_cache_put(const struct hw_provider_key *pk)
{
	struct entry *e, *old;
	if (!g.ready)
		return 0;
	e = entry_new(pk);
	if (!e)
		return -ENOMEM;
	pthread_mutex_lock(&g.write_lock);
	write_lock_all();
	if (g.t.n >= g.t.mask + 1)
		table_grow(&g.t);
	old = table_link(&g.t, e);
	write_unlock_all();
	pthread_mutex_unlock(&g.write_lock);
	entry_free(old);
	return 0;
}

void hw_byok_cache_remove(const char *workspace_id, const char *provider)
{
	struct entry **pp, *old = NULL;
	if (!g.ready)
		return;
	pthread_mutex_lock(&g.write_lock);
	write_lock_all();
	pp = slot_of(&g.t, workspace_id, provider);
	if (*pp) {
		old = *pp;
		*pp = old->next;
		g.t.n--;
	}
	write_unlock_all();
	pthread_mutex_unlock(&g.write_lock);
	entry_free(old);
}

bool hw_byok_usable(const char *workspace_id, const struct hw_cfg_provider *p)
{
	bool enabled = true, own = false;
	if (!p || !p->enabled)
		return false;
	if (g.ready) {
		pthread_rwlock_t *lock = reader_lock();
		pthread_rwlock_rdlock(lock);
		const struct entry *e = find(workspace_id, p->id);
		if (e) {
			enabled = e->enabled;
			own = e->box_len && g.has_master;
		}
		pthread_rwlock_unlock(lock);
	}
	return enabled && hw_byok_source_of(p, own) != HW_BYOK_SOURCE_NONE;
}

int hw_byok_api_key(const char *workspace_id, const struct hw_cfg_provider *p, char *out,
		    size_t out_len)
{
	bool enabled = true, own = false;
	int rc = -ENOENT;
	if (out_len == 0)
		return -ENOSPC;
	if (!p || !p->enabled)
		return -ENOENT;
	if (g.ready) {
		pthread_rwlock_t *lock = reader_lock();
		pthread_rwlock_rdlock(lock);
		const struct entry *e = find(workspace_id, p->id);
		if (e) {
			enabled = e->enabled;
			own = e->box_len && g.has_master;
			/* Opened under the read lock: the sealed bytes are never copied out. */
			if (enabled && own)
				rc = hw_byok_open(g.master, workspace_id, p->id, e->box, e->box_len,
						  out, out_len);
		}
		pthread_rwlock_unlock(lock);
	}
	if (!enabled)
		return -ENOENT;
	if (own) {
		if (rc == -EBADMSG)
			hw_log_json(HW_LOG_ERROR, NULL, "byok: a stored provider key does not open",
				    json_pack("{s:s,s:s}", "workspace_id", workspace_id, "provider",
					      p->id));
		return rc;
	}
	if (hw_byok_source_of(p, false) != HW_BYOK_SOURCE_SERVER)
		return -ENOENT;
	if (strlen(p->api_key) >= out_len)
		return -ENOSPC;
	memcpy(out, p->api_key, strlen(p->api_key) + 1);
	return 0;
}
