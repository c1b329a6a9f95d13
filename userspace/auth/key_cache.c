// SPDX-License-Identifier: Apache-2.0
/* The snapshot is an immutable open-addressing table replaced whole on reload. Readers
 * copy an entry out under the read side of one of several rwlocks, picked per thread, so
 * request threads never share a lock's cache line; a reload (rare) takes every shard's
 * write side for the pointer swap only. */
#include "auth/key_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct snapshot {
	struct hw_key_entry *slots; /* key.hash[0] == '\0' marks an empty slot */
	size_t mask;
	struct hw_workspace *workspaces;
	size_t n_workspaces;
};

#define LOCK_SHARDS 16

/* Padded so two shards never share a cache line. */
struct lock_shard {
	pthread_rwlock_t lock;
	char pad[64];
};

struct hw_key_cache {
	struct hw_store *store;
	struct lock_shard shards[LOCK_SHARDS];
	pthread_mutex_t reload_lock;
	struct snapshot *snap;
};

static pthread_rwlock_t *reader_lock(struct hw_key_cache *c)
{
	static atomic_uint next_shard;
	static __thread unsigned shard = LOCK_SHARDS;
	if (shard == LOCK_SHARDS)
		shard = atomic_fetch_add(&next_shard, 1) % LOCK_SHARDS;
	return &c->shards[shard].lock;
}

static uint64_t hash_hex(const char *hex)
{
	/* The key is already a SHA-256: its first 16 hex digits are a uniform hash. */
	uint64_t h = 0;
	for (int i = 0; i < 16 && hex[i]; i++)
		h = (h << 4) | (uint64_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
	return h;
}

static void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	free(s->slots);
	free(s->workspaces);
	free(s);
}

static const struct hw_workspace *find_ws(const struct snapshot *s, const char *id)
{
	for (size_t i = 0; i < s->n_workspaces; i++)
		if (strcmp(s->workspaces[i].id, id) == 0)
			return &s->workspaces[i];
	return NULL;
}

static int load_workspaces(struct hw_store *st, struct snapshot *s)
{
	char after[HW_ID_MAX] = "";
	for (;;) {
		struct hw_workspace *page = NULL;
		size_t n = 0;
		int rc = st->ops->workspace_list(st, after, 500, &page, &n);
		if (rc < 0)
			return rc;
		if (n == 0) {
			free(page);
			return 0;
		}
		struct hw_workspace *grown =
			realloc(s->workspaces, (s->n_workspaces + n) * sizeof(*grown));
		if (!grown) {
			free(page);
			return -ENOMEM;
		}
		s->workspaces = grown;
		memcpy(s->workspaces + s->n_workspaces, page, n * sizeof(*page));
		s->n_workspaces += n;
		snprintf(after, sizeof(after), "%s", page[n - 1].id);
		free(page);
		if (n < 500)
			return 0;
	}
}

static int build(struct hw_store *st, struct snapshot **out)
{
	struct hw_key *keys = NULL;
	size_t n = 0;
	int rc = -ENOMEM;
	struct snapshot *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = load_workspaces(st, s);
	if (rc < 0)
		goto out;
	rc = st->ops->key_list_all(st, &keys, &n);
	if (rc < 0)
		goto out;
	size_t cap = 64;
	while (cap < n * 2)
		cap *= 2;
	s->mask = cap - 1;
	s->slots = calloc(cap, sizeof(*s->slots));
	rc = -ENOMEM;
	if (!s->slots)
		goto out;
	for (size_t i = 0; i < n; i++) {
		size_t slot = hash_hex(keys[i].hash) & s->mask;
		while (s->slots[slot].key.hash[0])
			slot = (slot + 1) & s->mask;
		struct hw_key_entry *e = &s->slots[slot];
		e->key = keys[i];
		const struct hw_workspace *ws = find_ws(s, keys[i].workspace_id);
		if (ws) {
			snprintf(e->routing_profile, sizeof(e->routing_profile), "%s", ws->routing_profile);
			snprintf(e->allowed_regions, sizeof(e->allowed_regions), "%s", ws->allowed_regions);
			snprintf(e->default_model, sizeof(e->default_model), "%s", ws->default_model);
		}
		if (ws && strcmp(ws->status, "suspended") == 0) {
			e->workspace_suspended = true;
			e->workspace_has_reason = ws->has_suspended_reason;
			snprintf(e->workspace_suspended_reason, sizeof(e->workspace_suspended_reason), "%s",
				 ws->suspended_reason);
		}
	}
	rc = 0;
out:
	free(keys);
	if (rc < 0)
		snapshot_free(s);
	else
		*out = s;
	return rc;
}

int hw_key_cache_new(struct hw_store *store, struct hw_key_cache **out)
{
	struct hw_key_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->store = store;
	for (int i = 0; i < LOCK_SHARDS; i++)
		pthread_rwlock_init(&c->shards[i].lock, NULL);
	pthread_mutex_init(&c->reload_lock, NULL);
	int rc = hw_key_cache_reload(c);
	if (rc < 0) {
		hw_key_cache_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void hw_key_cache_free(struct hw_key_cache *c)
{
	if (!c)
		return;
	snapshot_free(c->snap);
	for (int i = 0; i < LOCK_SHARDS; i++)
		pthread_rwlock_destroy(&c->shards[i].lock);
	pthread_mutex_destroy(&c->reload_lock);
	free(c);
}

int hw_key_cache_reload(struct hw_key_cache *c)
{
	pthread_mutex_lock(&c->reload_lock);
	struct snapshot *fresh = NULL;
	int rc = build(c->store, &fresh);
	if (rc == 0) {
		for (int i = 0; i < LOCK_SHARDS; i++)
			pthread_rwlock_wrlock(&c->shards[i].lock);
		struct snapshot *old = c->snap;
		c->snap = fresh;
		for (int i = LOCK_SHARDS - 1; i >= 0; i--)
			pthread_rwlock_unlock(&c->shards[i].lock);
		snapshot_free(old);
	}
	pthread_mutex_unlock(&c->reload_lock);
	return rc;
}

bool hw_key_cache_lookup(struct hw_key_cache *c, const char *sha256_hex, struct hw_key_entry *out)
{
	bool found = false;
	pthread_rwlock_t *lock = reader_lock(c);
	pthread_rwlock_rdlock(lock);
	const struct snapshot *s = c->snap;
	for (size_t slot = hash_hex(sha256_hex) & s->mask; s->slots[slot].key.hash[0];
	     slot = (slot + 1) & s->mask) {
		if (strcmp(s->slots[slot].key.hash, sha256_hex) == 0) {
			*out = s->slots[slot];
			found = true;
			break;
		}
	}
	pthread_rwlock_unlock(lock);
	return found;
}
