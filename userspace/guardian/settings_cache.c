// SPDX-License-Identifier: Apache-2.0
/* Workspace Guardian settings in memory (SPEC §11, §16.2): the stored PUT bodies overlaid on
 * the configuration's defaults, kept as one sorted snapshot that is rebuilt after each
 * change (and when a SIGHUP brings another configuration) and read per request with an
 * atomic load and a binary search, never the store. */
#include "guardian/settings_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ws_entry {
	char id[64];
	struct hw_gd_settings s;
	json_t *body;
};

struct snap {
	const struct hw_config *cfg;
	struct hw_gd_settings defaults;
	struct ws_entry *e;
	size_t n;
	struct snap *retired; /* older snapshots, freed with the cache */
};

static void snap_free(struct snap *s)
{
	while (s) {
		struct snap *next = s->retired;
		for (size_t i = 0; i < s->n; i++)
			json_decref(s->e[i].body);
		free(s->e);
		free(s);
		s = next;
	}
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ws_entry *)a)->id, ((const struct ws_entry *)b)->id);
}

/* A snapshot of `cfg`'s defaults under the stored bodies (bodies borrowed as references). */
static struct snap *snap_build(const struct hw_config *cfg, const struct ws_entry *src, size_t n)
{
	struct snap *s = calloc(1, sizeof(*s));
	if (!s || (n && !(s->e = calloc(n, sizeof(*s->e))))) {
		free(s);
		return NULL;
	}
	s->cfg = cfg;
	hw_gd_settings_defaults(cfg, &s->defaults);
	for (size_t i = 0; i < n; i++) {
		char param[64], msg[128];
		s->e[i] = src[i];
		json_incref(src[i].body);
		s->e[i].s = s->defaults;
		/* A body stored by an older build with a member this one rejects keeps the rest. */
		if (hw_gd_settings_apply(&s->e[i].s, src[i].body, param, sizeof(param), msg,
					 sizeof(msg)) < 0)
			s->e[i].s = s->defaults;
	}
	s->n = n;
	if (n)
		qsort(s->e, n, sizeof(*s->e), entry_cmp);
	return s;
}

/* Caller holds the cache mutex. Old snapshots stay readable until the cache is destroyed:
 * readers hold no reference, and settings change rarely. */
static void snap_swap(struct hw_gd_cache *g, struct snap *fresh)
{
	struct snap *old = atomic_load(&g->snap);
	fresh->retired = old;
	atomic_store(&g->snap, fresh);
}

int hw_guardian_settings_load(struct hw_guardian *gd, const struct hw_config *cfg,
			      const struct hw_gd_stored *rows, size_t n)
{
	struct hw_gd_cache *g = hw_guardian_cache(gd);
	struct ws_entry *src = n ? calloc(n, sizeof(*src)) : NULL;
	if (n && !src)
		return -ENOMEM;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *body = json_loads(rows[i].body ? rows[i].body : "{}", 0, NULL);
		if (!body)
			continue;
		snprintf(src[m].id, sizeof(src[m].id), "%s", rows[i].workspace_id);
		src[m++].body = body;
	}
	pthread_mutex_lock(&g->mu);
	struct snap *fresh = snap_build(cfg, src, m);
	if (fresh)
		snap_swap(g, fresh);
	pthread_mutex_unlock(&g->mu);
	for (size_t i = 0; i < m; i++)
		json_decref(src[i].body);
	free(src);
	return fresh ? 0 : -ENOMEM;
}

const struct hw_gd_settings *
hw_guardian_settings(struct hw_guardian *gd, const struct hw_config *cfg, const char *workspace_id)
{
	struct hw_gd_cache *g = hw_guardian_cache(gd);
	struct snap *s = atomic_load(&g->snap);
	if (!s || s->cfg != cfg) {
		pthread_mutex_lock(&g->mu);
		s = atomic_load(&g->snap);
		if (!s || s->cfg != cfg) {
			struct snap *fresh = snap_build(cfg, s ? s->e : NULL, s ? s->n : 0);
			if (fresh) {
				snap_swap(g, fresh);
				s = fresh;
			}
		}
		pthread_mutex_unlock(&g->mu);
		if (!s)
			return NULL;
	}
	if (!s->n)
		return &s->defaults;
	struct ws_entry want;
	snprintf(want.id, sizeof(want.id), "%s", workspace_id);
	const struct ws_entry *e = bsearch(&want, s->e, s->n, sizeof(*s->e), entry_cmp);
	return e ? &e->s : &s->defaults;
}

void hw_gd_cache_init(struct hw_gd_cache *g)
{
	atomic_init(&g->snap, NULL);
	pthread_mutex_init(&g->mu, NULL);
}

void hw_gd_cache_destroy(struct hw_gd_cache *g)
{
	snap_free(atomic_load(&g->snap));
	pthread_mutex_destroy(&g->mu);
}
