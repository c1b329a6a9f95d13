// SPDX-License-Identifier: Apache-2.0
/* Each shard is a chained hash table plus an LRU list of its sources: the list's tail is the
 * source seen longest ago, so both eviction on a full shard and the idle sweep only look at
 * the tail. A window is a ring of event times that grows up to the threshold count: a
 * source with one failed login costs one slot, not twenty. */
#include "iprules/autoban.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 16

struct ring {
	int64_t *t;
	uint32_t cap, len, head; /* head: index of the oldest time */
};

struct source {
	struct hw_ipaddr ip;
	int64_t last_ms;
	struct ring win[HW_AUTOBAN__COUNT];
	struct source *hnext;	    /* hash chain */
	struct source *prev, *next; /* LRU: head = most recent */
};

struct shard {
	pthread_mutex_t mu;
	struct source **buckets;
	size_t nbuckets, n, max;
	struct source *head, *tail;
};

struct hw_autoban {
	struct shard shards[SHARDS];
};

const char *hw_autoban_reason_name(enum hw_autoban_reason reason)
{
	return reason == HW_AUTOBAN_GUARDIAN_BLOCKS ? "guardian_blocks" : "auth_failures";
}

static uint64_t ip_hash(const struct hw_ipaddr *ip)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	h = (h ^ ip->family) * 1099511628211ULL;
	for (int i = 0; i < 16; i++)
		h = (h ^ ip->addr[i]) * 1099511628211ULL;
	return h;
}

struct hw_autoban *hw_autoban_new(size_t max_sources)
{
	struct hw_autoban *ab = calloc(1, sizeof(*ab));
	size_t per = max_sources / SHARDS + 1;
	size_t nb = 16;

	if (!ab)
		return NULL;
	while (nb < per)
		nb <<= 1;
	for (int i = 0; i < SHARDS; i++) {
		struct shard *s = &ab->shards[i];
		pthread_mutex_init(&s->mu, NULL);
		s->max = per;
		s->nbuckets = nb;
		s->buckets = calloc(nb, sizeof(struct source *));
		if (!s->buckets) {
			hw_autoban_free(ab);
			return NULL;
		}
	}
	return ab;
}

static void source_free(struct source *src)
{
	for (int r = 0; r < HW_AUTOBAN__COUNT; r++)
		free(src->win[r].t);
	free(src);
}

void hw_autoban_free(struct hw_autoban *ab)
{
	if (!ab)
		return;
	for (int i = 0; i < SHARDS; i++) {
		struct shard *s = &ab->shards[i];
		for (struct source *src = s->head, *next; src; src = next) {
			next = src->next;
			source_free(src);
		}
		free(s->buckets);
		pthread_mutex_destroy(&s->mu);
	}
	free(ab);
}

static void lru_unlink(struct shard *s, struct source *src)
{
	if (src->prev)
		src->prev->next = src->next;
	else
		s->head = src->next;
	if (src->next)
		src->next->prev = src->prev;
	else
		s->tail = src->prev;
	src->prev = src->next = NULL;
}

static void lru_push(struct shard *s, struct source *src)
{
	src->next = s->head;
	src->prev = NULL;
	if (s->head)
		s->head->prev = src;
	s->head = src;
	if (!s->tail)
		s->tail = src;
}

static struct source **chain_of(struct shard *s, const struct hw_ipaddr *ip)
{
	return &s->buckets[(ip_hash(ip) >> 4) & (s->nbuckets - 1)];
}

static void remove_source(struct shard *s, struct source *src)
{
	for (struct source **pp = chain_of(s, &src->ip); *pp; pp = &(*pp)->hnext) {
		if (*pp == src) {
			*pp = src->hnext;
			break;
		}
	}
	lru_unlink(s, src);
	s->n--;
	source_free(src);
}

static struct source *find(struct shard *s, const struct hw_ipaddr *ip)
{
	for (struct source *src = *chain_of(s, ip); src; src = src->hnext)
		if (src->ip.family == ip->family && memcmp(src->ip.addr, ip->addr, 16) == 0)
			return src;
	return NULL;
}

static struct shard *shard_of(struct hw_autoban *ab, const struct hw_ipaddr *ip)
{
	return &ab->shards[ip_hash(ip) % SHARDS];
}

/* Appends `t`, growing the ring up to `cap_wanted`; the oldest time is overwritten once
 * the ring holds that many. */
static int ring_push(struct ring *r, uint32_t cap_wanted, int64_t t)
{
	if (r->cap < cap_wanted && r->len == r->cap) {
		uint32_t ncap = r->cap ? r->cap * 2 : 2;
		if (ncap > cap_wanted)
			ncap = cap_wanted;
		int64_t *grown = malloc(ncap * sizeof(*grown));
		if (!grown)
			return -1;
		for (uint32_t i = 0; i < r->len; i++)
			grown[i] = r->t[(r->head + i) % r->cap];
		free(r->t);
		r->t = grown;
		r->cap = ncap;
		r->head = 0;
	}
	if (r->len < r->cap) {
		r->t[(r->head + r->len) % r->cap] = t;
		r->len++;
	} else {
		r->t[r->head] = t;
		r->head = (r->head + 1) % r->cap;
	}
	return 0;
}

/* The k-th most recent time (k = 1 is the newest); the ring holds at least k. */
static int64_t ring_recent(const struct ring *r, uint32_t k)
{
	return r->t[(r->head + r->len - k) % r->cap];
}

static int64_t max_window(const struct hw_autoban_limits *lim)
{
	int64_t w = 0;
	for (int r = 0; r < HW_AUTOBAN__COUNT; r++)
		if (lim->window_ms[r] > w)
			w = lim->window_ms[r];
	return w;
}

bool hw_autoban_note(struct hw_autoban *ab, const struct hw_ipaddr *ip,
		     enum hw_autoban_reason reason, const struct hw_autoban_limits *lim,
		     int64_t now_ms)
{
	struct shard *s = shard_of(ab, ip);
	int64_t count = lim->count[reason];
	uint32_t need = (uint32_t)(count < 1			  ? 1
				   : count > HW_AUTOBAN_MAX_COUNT ? HW_AUTOBAN_MAX_COUNT
								  : count);
	int64_t idle = max_window(lim);
	bool hit = false;

	pthread_mutex_lock(&s->mu);
	/* Sources idle past every window can no longer reach a threshold. */
	while (s->tail && s->tail->last_ms <= now_ms - idle)
		remove_source(s, s->tail);
	struct source *src = find(s, ip);
	if (!src) {
		if (s->n >= s->max && s->tail)
			remove_source(s, s->tail);
		src = calloc(1, sizeof(*src));
		if (!src)
			goto out;
		src->ip = *ip;
		struct source **chain = chain_of(s, ip);
		src->hnext = *chain;
		*chain = src;
		s->n++;
	} else {
		lru_unlink(s, src);
	}
	lru_push(s, src);
	src->last_ms = now_ms;
	struct ring *r = &src->win[reason];
	if (ring_push(r, need, now_ms) < 0)
		goto out;
	/* The need-th most recent event inside the window means `need` events within it. */
	if (r->len >= need && now_ms - ring_recent(r, need) < lim->window_ms[reason]) {
		hit = true;
		r->len = 0;
		r->head = 0;
	}
out:
	pthread_mutex_unlock(&s->mu);
	return hit;
}

void hw_autoban_forget(struct hw_autoban *ab, const struct hw_ipaddr *ip)
{
	struct shard *s = shard_of(ab, ip);
	pthread_mutex_lock(&s->mu);
	struct source *src = find(s, ip);
	if (src)
		remove_source(s, src);
	pthread_mutex_unlock(&s->mu);
}

size_t hw_autoban_tracked(struct hw_autoban *ab)
{
	size_t n = 0;
	for (int i = 0; i < SHARDS; i++) {
		pthread_mutex_lock(&ab->shards[i].mu);
		n += ab->shards[i].n;
		pthread_mutex_unlock(&ab->shards[i].mu);
	}
	return n;
}
