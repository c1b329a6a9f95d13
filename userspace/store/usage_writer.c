// SPDX-License-Identifier: Apache-2.0
/* The batching usage writer. Submitters push record copies onto a lock-free stack; the
 * writer thread swaps the whole stack out each tick, restores arrival order and commits it
 * in transactions of at most HW_USAGE_WRITER_BATCH records. Records the store refused stay
 * on the writer's list and are retried next tick; `pending` counts queued plus kept records,
 * which is what max_pending bounds. Key touches live in a sharded hash table that coalesces
 * them to one write per key per interval. */
#include "store/usage_writer.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>

#define TICK_NS ((int64_t)HW_USAGE_WRITER_TICK_MS * 1000000)
#define NS_PER_S 1000000000LL
#define TOUCH_SHARDS 16
#define TOUCH_MIN_SLOTS 16
#define STOP_ATTEMPTS 3

struct node {
	struct node *next;
	struct hw_usage_record rec;
};

struct touch_entry {
	char id[HW_ID_MAX]; /* "" = free slot */
	int64_t at;	    /* last value scheduled for writing */
	bool pending;
};

struct touch_shard {
	pthread_mutex_t mu;
	struct touch_entry *slots;
	size_t cap, used, pending;
};

struct hw_usage_writer {
	struct hw_store *st;
	size_t max_pending;

	_Atomic(struct node *) head; /* newest first */
	atomic_size_t queued;	     /* on the stack, counted before the push */
	atomic_size_t pending;	     /* queued + kept by the writer */
	atomic_bool kicked;
	atomic_uint_least64_t dropped, written;
	_Atomic int64_t drop_logged_ns;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
	pthread_t thread;

	/* Owned by the writer thread (by the stopping thread once it has joined). */
	struct node *kept_head, *kept_tail;
	struct hw_usage_record *batch;
	char (*touch_ids)[HW_ID_MAX];
	const char **touch_ptrs;
	int64_t *touch_at;
	size_t ntouch, touch_cap;
	bool failing;

	struct touch_shard shards[TOUCH_SHARDS];
};

static void free_node(struct node *n)
{
	free(n->rec.fallback_chain);
	free(n);
}

/* Counts a dropped record; warns at most once a second so a flood cannot flood stderr too. */
static void note_drop(struct hw_usage_writer *w, const struct hw_usage_record *rec, int err)
{
	uint64_t total = atomic_fetch_add(&w->dropped, 1) + 1;
	int64_t now = hw_clock_mono_ns();
	int64_t last = atomic_load(&w->drop_logged_ns);
	if (last && now - last < NS_PER_S)
		return;
	if (!atomic_compare_exchange_strong(&w->drop_logged_ns, &last, now))
		return;
	json_t *fields = json_pack("{s:s, s:I, s:I}", "reason",
				   err == -ENOBUFS ? "queue full" : "out of memory", "dropped",
				   (json_int_t)total, "max_pending", (json_int_t)w->max_pending);
	hw_log_json(HW_LOG_WARN, rec->request_id, "usage writer: usage record dropped", fields);
}

int hw_usage_writer_submit(struct hw_usage_writer *w, const struct hw_usage_record *rec)
{
	int rc = -ENOBUFS;
	struct node *n = NULL;
	if (atomic_fetch_add(&w->pending, 1) >= w->max_pending)
		goto drop;
	rc = -ENOMEM;
	n = malloc(sizeof(*n));
	if (!n)
		goto drop;
	n->rec = *rec;
	n->rec.fallback_chain = NULL;
	if (rec->fallback_chain) {
		n->rec.fallback_chain = strdup(rec->fallback_chain);
		if (!n->rec.fallback_chain)
			goto drop;
	}
	size_t queued = atomic_fetch_add(&w->queued, 1) + 1;
	n->next = atomic_load(&w->head);
	while (!atomic_compare_exchange_weak(&w->head, &n->next, n))
		;
	/* Wake the writer early once a batch is waiting; the flag keeps this to once a batch. */
	if (queued >= HW_USAGE_WRITER_BATCH && !atomic_exchange(&w->kicked, true)) {
		pthread_mutex_lock(&w->mu);
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->mu);
	}
	return 0;
drop:
	free(n);
	atomic_fetch_sub(&w->pending, 1);
	note_drop(w, rec, rc);
	return rc;
}

static uint64_t hash_id(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Slot of `id` in a table of `cap` (a power of two) slots: its own, or the free one where it
 * belongs. The shard index used the low bits of the hash, so probing starts from others. */
static struct touch_entry *slot_for(struct touch_entry *slots, size_t cap, const char *id,
				    uint64_t h)
{
	size_t i = (size_t)(h >> 8) & (cap - 1);
	while (slots[i].id[0] && strcmp(slots[i].id, id) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static int shard_grow(struct touch_shard *sh)
{
	size_t cap = sh->cap ? sh->cap * 2 : TOUCH_MIN_SLOTS;
	struct touch_entry *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < sh->cap; i++) {
		const struct touch_entry *e = &sh->slots[i];
		if (e->id[0])
			*slot_for(slots, cap, e->id, hash_id(e->id)) = *e;
	}
	free(sh->slots);
	sh->slots = slots;
	sh->cap = cap;
	return 0;
}

void hw_usage_writer_touch_key(struct hw_usage_writer *w, const char *key_id, int64_t at_s)
{
	size_t len = strnlen(key_id, HW_ID_MAX);
	if (len == 0 || len == HW_ID_MAX)
		return;
	uint64_t h = hash_id(key_id);
	struct touch_shard *sh = &w->shards[h % TOUCH_SHARDS];
	pthread_mutex_lock(&sh->mu);
	/* Keep a quarter of the slots free so probes stay short. */
	if ((sh->used + 1) * 4 > sh->cap * 3 && shard_grow(sh) < 0)
		goto out;
	struct touch_entry *e = slot_for(sh->slots, sh->cap, key_id, h);
	if (!e->id[0]) {
		memcpy(e->id, key_id, len + 1);
		e->at = INT64_MIN;
		sh->used++;
	}
	if (at_s < e->at + HW_USAGE_WRITER_TOUCH_INTERVAL_S)
		goto out;
	e->at = at_s;
	if (!e->pending) {
		e->pending = true;
		sh->pending++;
	}
out:
	pthread_mutex_unlock(&sh->mu);
}

static int grow_touches(struct hw_usage_writer *w, size_t need)
{
	size_t cap = w->touch_cap ? w->touch_cap : 64;
	while (cap < need)
		cap *= 2;
	char(*ids)[HW_ID_MAX] = realloc(w->touch_ids, cap * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	w->touch_ids = ids;
	const char **ptrs = realloc(w->touch_ptrs, cap * sizeof(*ptrs));
	if (!ptrs)
		return -ENOMEM;
	w->touch_ptrs = ptrs;
	int64_t *at = realloc(w->touch_at, cap * sizeof(*at));
	if (!at)
		return -ENOMEM;
	w->touch_at = at;
	w->touch_cap = cap;
	return 0;
}

/* Moves every pending touch into the writer's arrays. On allocation failure the rest stay
 * pending in their shards for the next tick. */
static void collect_touches(struct hw_usage_writer *w)
{
	for (int i = 0; i < TOUCH_SHARDS; i++) {
		struct touch_shard *sh = &w->shards[i];
		pthread_mutex_lock(&sh->mu);
		while (sh->pending && w->ntouch + sh->pending > w->touch_cap) {
			size_t need = w->ntouch + sh->pending;
			pthread_mutex_unlock(&sh->mu);
			if (grow_touches(w, need) < 0)
				return;
			pthread_mutex_lock(&sh->mu);
		}
		for (size_t j = 0; sh->pending && j < sh->cap; j++) {
			struct touch_entry *e = &sh->slots[j];
			if (!e->pending)
				continue;
			memcpy(w->touch_ids[w->ntouch], e->id, sizeof(e->id));
			w->touch_at[w->ntouch++] = e->at;
			e->pending = false;
			sh->pending--;
		}
		pthread_mutex_unlock(&sh->mu);
	}
}

/* After a failed write: the touches become pending again. An entry touched since then
 * already holds the newer time, which is the one to write. */
static void restore_touches(struct hw_usage_writer *w)
{
	for (size_t i = 0; i < w->ntouch; i++) {
		const char *id = w->touch_ids[i];
		uint64_t h = hash_id(id);
		struct touch_shard *sh = &w->shards[h % TOUCH_SHARDS];
		pthread_mutex_lock(&sh->mu);
		struct touch_entry *e = slot_for(sh->slots, sh->cap, id, h);
		if (e->id[0] && !e->pending) {
			e->pending = true;
			sh->pending++;
		}
		pthread_mutex_unlock(&sh->mu);
	}
	w->ntouch = 0;
}

/* Appends everything submitted so far to the kept list, oldest first. */
static void take_submitted(struct hw_usage_writer *w)
{
	struct node *n = atomic_exchange(&w->head, NULL);
	struct node *first = NULL, *last = n;
	size_t count = 0;
	while (n) {
		struct node *next = n->next;
		n->next = first;
		first = n;
		n = next;
		count++;
	}
	if (!first)
		return;
	atomic_fetch_sub(&w->queued, count);
	if (w->kept_tail)
		w->kept_tail->next = first;
	else
		w->kept_head = first;
	w->kept_tail = last;
}

static void release_written(struct hw_usage_writer *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct node *next = w->kept_head->next;
		free_node(w->kept_head);
		w->kept_head = next;
	}
	if (!w->kept_head)
		w->kept_tail = NULL;
	atomic_fetch_sub(&w->pending, n);
	atomic_fetch_add(&w->written, n);
}

static size_t kept_count(const struct hw_usage_writer *w)
{
	size_t n = 0;
	for (const struct node *p = w->kept_head; p; p = p->next)
		n++;
	return n;
}

/* One tick: commits what was submitted before it, in batches; the touches ride with the
 * first. Stops at the first failure and keeps the rest for the next tick. */
static int flush(struct hw_usage_writer *w)
{
	int rc = 0;
	atomic_store(&w->kicked, false);
	take_submitted(w);
	collect_touches(w);
	while (w->kept_head || w->ntouch) {
		size_t n = 0;
		const struct node *p = w->kept_head;
		for (; p && n < HW_USAGE_WRITER_BATCH; p = p->next)
			w->batch[n++] = p->rec;
		for (size_t i = 0; i < w->ntouch; i++)
			w->touch_ptrs[i] = w->touch_ids[i];
		rc = w->st->ops->usage_flush(w->st, w->batch, n, w->touch_ptrs, w->touch_at,
					     w->ntouch);
		if (rc < 0)
			break;
		release_written(w, n);
		w->ntouch = 0;
	}
	if (rc < 0) {
		restore_touches(w);
		if (!w->failing)
			hw_log_json(HW_LOG_WARN, NULL, "usage writer: store write failed, retrying",
				    json_pack("{s:i, s:I}", "error", rc, "kept",
					      (json_int_t)kept_count(w)));
		w->failing = true;
	} else if (w->failing) {
		hw_log(HW_LOG_INFO, "usage writer: store writes resumed");
		w->failing = false;
	}
	return rc;
}

static void *writer_main(void *arg)
{
	/* Batches are latency-insensitive: let request threads preempt the writer. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), 10) < 0)
		hw_log(HW_LOG_DEBUG, "usage writer: cannot lower its priority");
	struct hw_usage_writer *w = arg;
	int64_t deadline = hw_clock_mono_ns() + TICK_NS;
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		if (!atomic_load(&w->kicked) && hw_clock_mono_ns() < deadline) {
			struct timespec ts = {.tv_sec = deadline / NS_PER_S,
					      .tv_nsec = deadline % NS_PER_S};
			pthread_cond_timedwait(&w->cond, &w->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&w->mu);
		flush(w);
		deadline = hw_clock_mono_ns() + TICK_NS;
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void writer_free(struct hw_usage_writer *w)
{
	while (w->kept_head) {
		struct node *next = w->kept_head->next;
		free_node(w->kept_head);
		w->kept_head = next;
	}
	for (int i = 0; i < TOUCH_SHARDS; i++) {
		free(w->shards[i].slots);
		pthread_mutex_destroy(&w->shards[i].mu);
	}
	free(w->batch);
	free(w->touch_ids);
	free(w->touch_ptrs);
	free(w->touch_at);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

struct hw_usage_writer *hw_usage_writer_start(struct hw_store *st, size_t max_pending)
{
	pthread_condattr_t attr;
	struct hw_usage_writer *w = NULL;
	int rc = -EINVAL;
	if (!st || max_pending == 0)
		goto out;
	rc = -ENOMEM;
	w = calloc(1, sizeof(*w));
	if (!w)
		goto out;
	w->st = st;
	w->max_pending = max_pending;
	pthread_mutex_init(&w->mu, NULL);
	for (int i = 0; i < TOUCH_SHARDS; i++)
		pthread_mutex_init(&w->shards[i].mu, NULL);
	/* The tick deadline is monotonic: a wall clock step must not stall or rush flushes. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	rc = -pthread_cond_init(&w->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (rc < 0)
		goto out;
	rc = -ENOMEM;
	w->batch = malloc(HW_USAGE_WRITER_BATCH * sizeof(*w->batch));
	if (!w->batch)
		goto out;
	rc = -pthread_create(&w->thread, NULL, writer_main, w);
out:
	if (rc < 0) {
		hw_log(HW_LOG_ERROR, "usage writer: cannot start: %s", strerror(-rc));
		if (w)
			writer_free(w);
		return NULL;
	}
	return w;
}

void hw_usage_writer_stop(struct hw_usage_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	/* The thread is gone: drain here, giving a failing store a few more ticks. */
	for (int i = 0; i < STOP_ATTEMPTS && flush(w) < 0; i++)
		nanosleep(&(struct timespec){.tv_nsec = TICK_NS}, NULL);
	size_t lost = kept_count(w);
	if (lost) {
		atomic_fetch_add(&w->dropped, lost);
		hw_log_json(HW_LOG_ERROR, NULL, "usage writer: usage records lost at shutdown",
			    json_pack("{s:I}", "lost", (json_int_t)lost));
	}
	hw_log_json(HW_LOG_INFO, NULL, "usage writer stopped",
		    json_pack("{s:I, s:I}", "written", (json_int_t)atomic_load(&w->written),
			      "dropped", (json_int_t)atomic_load(&w->dropped)));
	writer_free(w);
}

uint64_t hw_usage_writer_dropped(struct hw_usage_writer *w) { return atomic_load(&w->dropped); }

uint64_t hw_usage_writer_written(struct hw_usage_writer *w) { return atomic_load(&w->written); }
