// SPDX-License-Identifier: Apache-2.0
/* Per-key RPM and the Guardian rules over a sharded table of per-key state (SPEC §11).
 * A key's state lives in one of N_SHARDS shards, each with its own mutex held only for the
 * few comparisons of one check, so keys in different shards never wait for each other.
 * Memory is bounded: at most limits.max_keys keys (each shard holds its share; a full shard
 * first drops idle keys, then its least recently seen one), an RPM log of at most
 * rpm_limit entries, at most dedup_prompts prompt hashes of at most dedup_log_max times. */
#include "guardian/guardian.h"
#include "guardian/settings_cache.h"
#include "guardian/time_ring.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SHARDS 64
#define SHARD_BUCKETS 256
#define RPM_WINDOW_MS 60000
/* cost_spike buckets: the short window in FINE_N slices, the baseline in COARSE_N. */
#define FINE_N 30
#define COARSE_N 96
#define COARSE_SECS 60 /* per-second RPM counts when rpm_limit passes rpm_log_max */

struct gd_prompt {
	uint8_t hash[HW_GD_HASH_LEN];
	int64_t last_ms;
	struct hw_time_ring times; /* the latest entries into the window */
};

struct gd_spend {
	int64_t fine_w, coarse_w; /* slice widths in ms */
	int64_t fine[FINE_N], fine_at[FINE_N];
	int64_t coarse[COARSE_N], coarse_at[COARSE_N];
};

struct gd_sec {
	int64_t sec;
	int64_t n;
};

enum pen_kind { PEN_NONE, PEN_THROTTLE, PEN_BLOCK };

struct gd_key {
	struct gd_key *next;
	char id[64];
	int64_t seen_ms;
	/* RPM: the admitted times, or per-second counts above rpm_log_max. */
	struct hw_time_ring log;
	struct gd_sec *secs;
	/* A throttle (token bucket, capacity 1) or block a rule placed on the key. */
	enum pen_kind pen;
	enum hw_gd_rule pen_rule;
	int64_t pen_until, tok_ms;
	double pen_rps, tokens;
	bool suspending;
	int64_t notified[HW_GD__RULES]; /* last guardian.block per rule; 0 = never */
	struct gd_prompt *prompts;
	uint32_t n_prompts;
	struct gd_spend *spend;
	/* zombie_agent: the current run of one (request, response) pair. */
	uint8_t z_req[HW_GD_HASH_LEN], z_resp[HW_GD_HASH_LEN];
	int64_t z_start, z_last, z_n;
};

struct shard {
	pthread_mutex_t mu;
	struct gd_key *b[SHARD_BUCKETS];
	size_t n;
} __attribute__((aligned(64)));

struct hw_guardian {
	struct hw_gd_limits lim;
	size_t shard_cap;
	struct shard shards[N_SHARDS];
	struct hw_gd_cache cache;
};

void hw_gd_limits_from_config(const struct hw_config *cfg, struct hw_gd_limits *out)
{
	const typeof(cfg->guardian.limits) *l = &cfg->guardian.limits;
	out->max_keys = l->max_keys;
	out->idle_ms = l->idle_s * 1000;
	out->rpm_log_max = l->rpm_log_max;
	out->dedup_prompts = l->dedup_prompts;
	out->dedup_log_max = l->dedup_log_max;
	out->alert_interval_ms = cfg->guardian.alert_interval_s * 1000;
}

struct hw_guardian *hw_guardian_new(const struct hw_gd_limits *lim)
{
	struct hw_guardian *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->lim = *lim;
	g->shard_cap = (size_t)(lim->max_keys + N_SHARDS - 1) / N_SHARDS;
	if (g->shard_cap < 1)
		g->shard_cap = 1;
	for (int i = 0; i < N_SHARDS; i++)
		pthread_mutex_init(&g->shards[i].mu, NULL);
	hw_gd_cache_init(&g->cache);
	return g;
}

static void key_free(struct gd_key *k)
{
	for (uint32_t i = 0; i < k->n_prompts; i++)
		hw_time_ring_free(&k->prompts[i].times);
	free(k->prompts);
	hw_time_ring_free(&k->log);
	free(k->secs);
	free(k->spend);
	free(k);
}

void hw_guardian_free(struct hw_guardian *g)
{
	if (!g)
		return;
	for (int i = 0; i < N_SHARDS; i++) {
		for (int j = 0; j < SHARD_BUCKETS; j++) {
			struct gd_key *k = g->shards[i].b[j];
			while (k) {
				struct gd_key *next = k->next;
				key_free(k);
				k = next;
			}
		}
		pthread_mutex_destroy(&g->shards[i].mu);
	}
	hw_gd_cache_destroy(&g->cache);
	free(g);
}

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static bool key_idle(const struct hw_guardian *g, const struct gd_key *k, int64_t now)
{
	return now - k->seen_ms >= g->lim.idle_ms && !k->suspending &&
	       (k->pen == PEN_NONE || now >= k->pen_until);
}

/* Drops the shard's idle keys. Caller holds the shard's mutex. */
static void shard_sweep(struct hw_guardian *g, struct shard *sh, int64_t now)
{
	for (int j = 0; j < SHARD_BUCKETS; j++) {
		struct gd_key **pp = &sh->b[j];
		while (*pp) {
			struct gd_key *k = *pp;
			if (key_idle(g, k, now)) {
				*pp = k->next;
				key_free(k);
				sh->n--;
			} else {
				pp = &k->next;
			}
		}
	}
}

/* A full shard of busy keys gives up its least recently seen one. */
static void shard_evict_oldest(struct shard *sh)
{
	struct gd_key **victim = NULL;
	for (int j = 0; j < SHARD_BUCKETS; j++)
		for (struct gd_key **pp = &sh->b[j]; *pp; pp = &(*pp)->next)
			if (!(*pp)->suspending && (!victim || (*pp)->seen_ms < (*victim)->seen_ms))
				victim = pp;
	if (!victim)
		return;
	struct gd_key *k = *victim;
	*victim = k->next;
	key_free(k);
	sh->n--;
}

/* The key's state, created when absent (NULL when out of memory); returns with the
 * shard's mutex held in *held. */
static struct gd_key *key_get(struct hw_guardian *g, const char *id, int64_t now,
			      struct shard **held)
{
	uint64_t h = fnv(id);
	struct shard *sh = &g->shards[h % N_SHARDS];
	struct gd_key **head = &sh->b[(h / N_SHARDS) % SHARD_BUCKETS];
	pthread_mutex_lock(&sh->mu);
	*held = sh;
	for (struct gd_key *k = *head; k; k = k->next)
		if (strcmp(k->id, id) == 0) {
			k->seen_ms = now;
			return k;
		}
	if (sh->n >= g->shard_cap)
		shard_sweep(g, sh, now);
	if (sh->n >= g->shard_cap)
		shard_evict_oldest(sh);
	struct gd_key *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	snprintf(k->id, sizeof(k->id), "%s", id);
	k->seen_ms = now;
	k->next = *head;
	*head = k;
	sh->n++;
	return k;
}

static int64_t ceil_s(int64_t ms)
{
	int64_t s = (ms + 999) / 1000;
	return s < 1 ? 1 : s;
}

/* ---- per-key RPM (§11.1) */

/* 0 admitted (slot taken), else the seconds until a slot frees. */
static int64_t rpm_exact(struct gd_key *k, int64_t limit, int64_t now)
{
	struct hw_time_ring *r = &k->log;
	hw_time_ring_expire(r, now - RPM_WINDOW_MS);
	hw_time_ring_trim(r, (uint32_t)limit); /* a lowered limit keeps the newest */
	if (r->n >= (uint32_t)limit)
		return ceil_s(hw_time_ring_oldest(r) + RPM_WINDOW_MS - now);
	hw_time_ring_push(r, now, (uint32_t)limit); /* out of memory: admitted unlogged */
	return 0;
}

/* Limits above rpm_log_max: per-second counts, so a second's requests all free up with
 * its last millisecond (the wait is rounded up to the second's end). */
static int64_t rpm_coarse(struct gd_key *k, int64_t limit, int64_t now)
{
	if (!k->secs && !(k->secs = calloc(COARSE_SECS, sizeof(*k->secs))))
		return 0;
	int64_t sec = now / 1000, total = 0, oldest = sec;
	for (int i = 0; i < COARSE_SECS; i++) {
		const struct gd_sec *e = &k->secs[i];
		if (e->n && (e->sec + 1) * 1000 + RPM_WINDOW_MS > now) {
			total += e->n;
			if (e->sec < oldest)
				oldest = e->sec;
		}
	}
	if (total >= limit)
		return ceil_s((oldest + 1) * 1000 + RPM_WINDOW_MS - now);
	struct gd_sec *e = &k->secs[sec % COARSE_SECS];
	if (e->sec != sec) {
		e->sec = sec;
		e->n = 0;
	}
	e->n++;
	return 0;
}

/* ---- triggers and penalties */

static struct hw_gd_trigger *trigger(struct hw_guardian *g, struct gd_key *k,
				     struct hw_gd_outcome *out, enum hw_gd_rule rule,
				     const char *action, int64_t now)
{
	if (out->n_trig >= HW_GD_MAX_TRIGGERS)
		return NULL;
	struct hw_gd_trigger *t = &out->trig[out->n_trig++];
	memset(t, 0, sizeof(*t));
	t->rule = rule;
	t->action = action;
	if (!k->notified[rule] || now - k->notified[rule] >= g->lim.alert_interval_ms) {
		t->notify = true;
		k->notified[rule] = now;
	}
	return t;
}

/* A new bucket starts empty: the request that triggered it already was the excess. */
static void penalize(struct gd_key *k, enum hw_gd_rule rule, enum pen_kind kind, double rps,
		     int64_t duration_s, int64_t now)
{
	k->pen = kind;
	k->pen_rule = rule;
	k->pen_until = now + duration_s * 1000;
	k->pen_rps = rps;
	k->tokens = 0;
	k->tok_ms = now;
}

/* True when the key's throttle or block refuses the request (out filled). */
static bool penalty_refuses(struct gd_key *k, int64_t now, struct hw_gd_outcome *out)
{
	if (k->pen != PEN_NONE && now >= k->pen_until)
		k->pen = PEN_NONE;
	if (k->pen == PEN_NONE)
		return false;
	const char *rule = hw_gd_rule_name(k->pen_rule);
	if (k->pen == PEN_BLOCK) {
		out->retry_after_s = ceil_s(k->pen_until - now);
		snprintf(out->message, sizeof(out->message),
			 "Blocked by Guardian: %s (key blocked for %llds)", rule,
			 (long long)out->retry_after_s);
	} else {
		k->tokens += (double)(now - k->tok_ms) / 1000.0 * k->pen_rps;
		if (k->tokens > 1)
			k->tokens = 1;
		k->tok_ms = now;
		if (k->tokens >= 1) {
			k->tokens -= 1;
			return false;
		}
		int64_t wait_ms = (int64_t)ceil((1 - k->tokens) / k->pen_rps * 1000.0);
		out->retry_after_s = ceil_s(wait_ms);
		snprintf(out->message, sizeof(out->message),
			 "Blocked by Guardian: %s (key throttled to %g req/s)", rule, k->pen_rps);
	}
	out->verdict = HW_GD_BLOCKED;
	out->rule = k->pen_rule;
	return true;
}

/* ---- dedup */

static struct gd_prompt *prompt_find(struct gd_key *k, const uint8_t *h)
{
	for (uint32_t i = 0; i < k->n_prompts; i++)
		if (memcmp(k->prompts[i].hash, h, HW_GD_HASH_LEN) == 0)
			return &k->prompts[i];
	return NULL;
}

/* Enters the request into the dedup window. */
static void prompt_record(struct hw_guardian *g, struct gd_key *k, const uint8_t *h, uint32_t cap,
			  int64_t now)
{
	if (!k->prompts &&
	    !(k->prompts = calloc((size_t)g->lim.dedup_prompts, sizeof(*k->prompts))))
		return;
	struct gd_prompt *p = prompt_find(k, h);
	if (!p) {
		if (k->n_prompts < (uint32_t)g->lim.dedup_prompts) {
			p = &k->prompts[k->n_prompts++];
		} else {
			p = &k->prompts[0];
			for (uint32_t i = 1; i < k->n_prompts; i++)
				if (k->prompts[i].last_ms < p->last_ms)
					p = &k->prompts[i];
			p->times.n = p->times.head = 0;
		}
		memcpy(p->hash, h, HW_GD_HASH_LEN);
	}
	p->last_ms = now;
	hw_time_ring_push(&p->times, now, cap);
}

static uint32_t dedup_count(const struct hw_guardian *g, const struct hw_gd_settings *s)
{
	return (uint32_t)(s->dedup.count < g->lim.dedup_log_max ? s->dedup.count
								: g->lim.dedup_log_max);
}

/* True when dedup refuses the request. */
static bool dedup_refuses(struct hw_guardian *g, struct gd_key *k, const struct hw_gd_request *rq,
			  struct hw_gd_outcome *out)
{
	const struct hw_gd_settings *s = rq->settings;
	struct gd_prompt *p = prompt_find(k, rq->prompt_hash);
	if (!p)
		return false;
	int64_t now = rq->now_ms;
	hw_time_ring_expire(&p->times, now - s->dedup.window_s * 1000);
	hw_time_ring_trim(&p->times, dedup_count(g, s));
	uint32_t n = p->times.n;
	if (n < dedup_count(g, s))
		return false;
	int64_t since = (now - hw_time_ring_oldest(&p->times)) / 1000;
	const char *act = hw_gd_action_name(s->dedup.action);
	struct hw_gd_trigger *t = trigger(g, k, out, HW_GD_DEDUP, act, now);
	if (t)
		snprintf(t->detail, sizeof(t->detail), "%u identical prompts in %llds", n,
			 (long long)since);
	if (s->dedup.action == HW_GD_ALERT)
		return false;
	if (s->dedup.action == HW_GD_THROTTLE) {
		penalize(k, HW_GD_DEDUP, PEN_THROTTLE, s->cost_spike.throttle_rps,
			 s->cost_spike.duration_s, now);
		return penalty_refuses(k, now, out);
	}
	out->verdict = HW_GD_BLOCKED;
	out->rule = HW_GD_DEDUP;
	out->retry_after_s = s->dedup.retry_after_s;
	snprintf(out->message, sizeof(out->message),
		 "Blocked by Guardian: dedup (%u identical prompts in %llds)", n, (long long)since);
	return true;
}

void hw_guardian_admit(struct hw_guardian *g, const struct hw_gd_request *rq,
		       struct hw_gd_outcome *out)
{
	memset(out, 0, sizeof(*out));
	const struct hw_gd_settings *s = rq->settings;
	if (rq->rpm_limit < 0 && !s)
		return;
	int64_t now = rq->now_ms;
	struct shard *sh;
	struct gd_key *k = key_get(g, rq->key_id, now, &sh);
	if (!k)
		goto out;
	if (k->suspending) {
		out->verdict = HW_GD_SUSPENDED;
		goto out;
	}
	if (rq->rpm_limit >= 0) {
		int64_t wait = rq->rpm_limit <= g->lim.rpm_log_max
				   ? rpm_exact(k, rq->rpm_limit, now)
				   : rpm_coarse(k, rq->rpm_limit, now);
		if (wait) {
			out->verdict = HW_GD_RATE_LIMITED;
			out->retry_after_s = wait;
			out->limit = rq->rpm_limit;
			snprintf(out->message, sizeof(out->message),
				 "Per-key rate limit exceeded (%lld req/min).",
				 (long long)rq->rpm_limit);
			goto out;
		}
	}
	if (!s || penalty_refuses(k, now, out))
		goto out;
	bool dedup = s->dedup.enabled && rq->prompt_hash;
	if (dedup && dedup_refuses(g, k, rq, out))
		goto out;
	if (s->context_bloat.enabled && rq->est_tokens > s->context_bloat.max_prompt_tokens) {
		bool block = s->context_bloat.action != HW_GD_ALERT;
		struct hw_gd_trigger *t =
		    trigger(g, k, out, HW_GD_CONTEXT_BLOAT, block ? "block" : "alert", now);
		if (t)
			snprintf(t->detail, sizeof(t->detail), "%lld prompt tokens (limit %lld)",
				 (long long)rq->est_tokens,
				 (long long)s->context_bloat.max_prompt_tokens);
		if (block) {
			out->verdict = HW_GD_BLOAT;
			out->rule = HW_GD_CONTEXT_BLOAT;
			out->limit = s->context_bloat.max_prompt_tokens;
			out->prompt_tokens = rq->est_tokens;
			snprintf(out->message, sizeof(out->message),
				 "Prompt too large: %lld tokens (limit %lld).",
				 (long long)rq->est_tokens,
				 (long long)s->context_bloat.max_prompt_tokens);
			goto out;
		}
	}
	if (dedup)
		prompt_record(g, k, rq->prompt_hash, dedup_count(g, s), now);
out:
	pthread_mutex_unlock(&sh->mu);
}

/* ---- cost_spike */

static int64_t slices_add(int64_t *sum, int64_t *at, int n, int64_t width, int64_t now, int64_t add)
{
	int64_t idx = now / width, total = 0;
	int slot = (int)(idx % n);
	if (at[slot] != idx) {
		at[slot] = idx;
		sum[slot] = 0;
	}
	sum[slot] += add;
	for (int i = 0; i < n; i++)
		if (at[i] > idx - n)
			total += sum[i];
	return total;
}

void hw_guardian_cost(struct hw_guardian *g, const char *key_id, const struct hw_gd_settings *s,
		      int64_t cost, int64_t now, struct hw_gd_outcome *out)
{
	out->n_trig = 0;
	out->suspend = false;
	if (!s || !s->cost_spike.enabled || cost <= 0)
		return;
	struct shard *sh;
	struct gd_key *k = key_get(g, key_id, now, &sh);
	if (!k)
		goto out;
	int64_t fw = s->cost_spike.window_s * 1000 / FINE_N,
		cw = s->cost_spike.baseline_s * 1000 / COARSE_N;
	fw = fw < 1 ? 1 : fw;
	cw = cw < 1 ? 1 : cw;
	if (!k->spend && !(k->spend = calloc(1, sizeof(*k->spend))))
		goto out;
	struct gd_spend *sp = k->spend;
	if (sp->fine_w != fw || sp->coarse_w != cw) {
		memset(sp, 0, sizeof(*sp));
		sp->fine_w = fw;
		sp->coarse_w = cw;
		for (int i = 0; i < FINE_N; i++)
			sp->fine_at[i] = INT64_MIN / 2;
		for (int i = 0; i < COARSE_N; i++)
			sp->coarse_at[i] = INT64_MIN / 2;
	}
	double win = (double)slices_add(sp->fine, sp->fine_at, FINE_N, fw, now, cost);
	double base = (double)slices_add(sp->coarse, sp->coarse_at, COARSE_N, cw, now, cost);
	double thr = s->cost_spike.multiplier * base * (double)s->cost_spike.window_s /
		     (double)s->cost_spike.baseline_s;
	if (thr < (double)s->cost_spike.min_spend)
		thr = (double)s->cost_spike.min_spend;
	bool active = k->pen != PEN_NONE && now < k->pen_until && k->pen_rule == HW_GD_COST_SPIKE;
	if (win < thr || active)
		goto out;
	enum hw_gd_action a = s->cost_spike.action;
	struct hw_gd_trigger *t = trigger(g, k, out, HW_GD_COST_SPIKE, hw_gd_action_name(a), now);
	if (t)
		snprintf(t->detail, sizeof(t->detail), "spend %.6f USD in %llds (threshold %.6f)",
			 win / 1e6, (long long)s->cost_spike.window_s, thr / 1e6);
	if (a != HW_GD_ALERT)
		penalize(k, HW_GD_COST_SPIKE, a == HW_GD_BLOCK ? PEN_BLOCK : PEN_THROTTLE,
			 s->cost_spike.throttle_rps, s->cost_spike.duration_s, now);
out:
	pthread_mutex_unlock(&sh->mu);
}

/* ---- zombie_agent */

void hw_guardian_completed(struct hw_guardian *g, const char *key_id,
			   const struct hw_gd_settings *s, const uint8_t req_hash[HW_GD_HASH_LEN],
			   const uint8_t resp_hash[HW_GD_HASH_LEN], int64_t now,
			   struct hw_gd_outcome *out)
{
	out->n_trig = 0;
	out->suspend = false;
	if (!s || !s->zombie_agent.enabled)
		return;
	struct shard *sh;
	struct gd_key *k = key_get(g, key_id, now, &sh);
	if (!k)
		goto out;
	bool same = k->z_n && memcmp(k->z_req, req_hash, HW_GD_HASH_LEN) == 0 &&
		    memcmp(k->z_resp, resp_hash, HW_GD_HASH_LEN) == 0 &&
		    now - k->z_last <= s->zombie_agent.max_gap_s * 1000;
	if (same) {
		k->z_n++;
		k->z_last = now;
	} else {
		memcpy(k->z_req, req_hash, HW_GD_HASH_LEN);
		memcpy(k->z_resp, resp_hash, HW_GD_HASH_LEN);
		k->z_start = k->z_last = now;
		k->z_n = 1;
	}
	if (k->z_n < s->zombie_agent.min_requests ||
	    k->z_last - k->z_start < s->zombie_agent.window_s * 1000)
		goto out;
	enum hw_gd_action a = s->zombie_agent.action;
	const char *word = a == HW_GD_BLOCK ? "suspend" : hw_gd_action_name(a);
	struct hw_gd_trigger *t = trigger(g, k, out, HW_GD_ZOMBIE, word, now);
	if (t)
		snprintf(t->detail, sizeof(t->detail), "%lld identical requests over %llds",
			 (long long)k->z_n, (long long)((k->z_last - k->z_start) / 1000));
	if (a == HW_GD_BLOCK) {
		/* The event of a suspension is never held back: it says why the key stopped. */
		if (t)
			t->notify = true;
		k->suspending = true;
		out->suspend = true;
	} else if (a == HW_GD_THROTTLE) {
		penalize(k, HW_GD_ZOMBIE, PEN_THROTTLE, s->cost_spike.throttle_rps,
			 s->cost_spike.duration_s, now);
	}
	k->z_n = 0;
out:
	pthread_mutex_unlock(&sh->mu);
}

void hw_guardian_suspended(struct hw_guardian *g, const char *key_id)
{
	uint64_t h = fnv(key_id);
	struct shard *sh = &g->shards[h % N_SHARDS];
	pthread_mutex_lock(&sh->mu);
	for (struct gd_key *k = sh->b[(h / N_SHARDS) % SHARD_BUCKETS]; k; k = k->next)
		if (strcmp(k->id, key_id) == 0)
			k->suspending = false;
	pthread_mutex_unlock(&sh->mu);
}

void hw_guardian_sweep(struct hw_guardian *g, int64_t now)
{
	for (int i = 0; i < N_SHARDS; i++) {
		pthread_mutex_lock(&g->shards[i].mu);
		shard_sweep(g, &g->shards[i], now);
		pthread_mutex_unlock(&g->shards[i].mu);
	}
}

struct hw_gd_cache *hw_guardian_cache(struct hw_guardian *g)
{
	return &g->cache;
}

size_t hw_guardian_tracked(struct hw_guardian *g)
{
	size_t n = 0;
	for (int i = 0; i < N_SHARDS; i++) {
		pthread_mutex_lock(&g->shards[i].mu);
		n += g->shards[i].n;
		pthread_mutex_unlock(&g->shards[i].mu);
	}
	return n;
}
