// SPDX-License-Identifier: Apache-2.0
/* Guardian's background thread. The request path only queues (a bounded ring under a mutex
 * taken at most once per rule per key per alert interval, plus suspensions); this thread
 * does the store writes: the outbox rows of guardian.block, and a zombie_agent suspension
 * with its event in one transaction (hw_outbox_emit_key_update), then the key cache reload
 * so step 6 answers key_suspended from then on. Every SWEEP_MS it expires idle key state. */
#include "guardian/guardian_worker.h"

#include "common/clock.h"
#include "common/log.h"
#include "events/outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SWEEP_MS 10000

struct job {
	char workspace_id[HW_ID_MAX];
	char key_id[HW_ID_MAX];
	bool suspend;
	json_t *data;
};

struct hw_gd_worker {
	struct hw_store *st;
	struct hw_guardian *g;
	void (*keys_changed)(void *arg);
	void *arg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *ring;
	size_t cap, head, n;
	bool stop;
};

static void suspend_key(struct hw_gd_worker *w, const struct job *j)
{
	struct hw_key key;
	int rc = w->st->ops->key_get(w->st, j->key_id, &key);
	if (rc == 0 && strcmp(key.status, "active") == 0) {
		snprintf(key.status, sizeof(key.status), "suspended");
		snprintf(key.suspended_reason, sizeof(key.suspended_reason), "zombie_agent");
		key.has_suspended_reason = true;
		rc = j->data ? hw_outbox_emit_key_update(w->st, &key, "guardian.block",
							 json_incref(j->data))
			     : w->st->ops->key_update(w->st, &key);
		if (rc == 0 && w->keys_changed)
			w->keys_changed(w->arg);
	}
	if (rc < 0)
		hw_log(HW_LOG_ERROR, "guardian: suspending key %s failed (%d)", j->key_id, rc);
	hw_guardian_suspended(w->g, j->key_id);
}

static void run_job(struct hw_gd_worker *w, struct job *j)
{
	if (j->suspend) {
		suspend_key(w, j);
	} else if (j->data) {
		int rc =
		    hw_outbox_emit(w->st, j->workspace_id, "guardian.block", json_incref(j->data));
		if (rc < 0)
			hw_log(HW_LOG_ERROR, "guardian: guardian.block event not stored (%d)", rc);
	}
	json_decref(j->data);
}

static void *worker_main(void *arg)
{
	struct hw_gd_worker *w = arg;
	int64_t next_sweep = hw_clock_mono_ns() / 1000000 + SWEEP_MS;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->n && !w->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
			int64_t now = hw_clock_mono_ns() / 1000000;
			if (now >= next_sweep) {
				pthread_mutex_unlock(&w->mu);
				hw_guardian_sweep(w->g, hw_clock_wall_ms());
				pthread_mutex_lock(&w->mu);
				next_sweep = now + SWEEP_MS;
			}
		}
		if (!w->n)
			break;
		struct job j = w->ring[w->head];
		w->head = (w->head + 1) % w->cap;
		w->n--;
		pthread_mutex_unlock(&w->mu);
		run_job(w, &j);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct hw_gd_worker *hw_gd_worker_start(struct hw_store *st, struct hw_guardian *g,
					int64_t max_queue, void (*keys_changed)(void *arg),
					void *arg)
{
	struct hw_gd_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->st = st;
	w->g = g;
	w->keys_changed = keys_changed;
	w->arg = arg;
	w->cap = max_queue > 0 ? (size_t)max_queue : 1;
	w->ring = calloc(w->cap, sizeof(*w->ring));
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&w->mu, NULL);
	if (!w->ring || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w->ring);
		free(w);
		return NULL;
	}
	return w;
}

void hw_gd_worker_stop(struct hw_gd_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->ring);
	free(w);
}

int hw_gd_worker_submit(struct hw_gd_worker *w, const char *workspace_id, const char *key_id,
			bool suspend, json_t *data)
{
	pthread_mutex_lock(&w->mu);
	if (w->n == w->cap || w->stop) {
		pthread_mutex_unlock(&w->mu);
		json_decref(data);
		return -ENOSPC;
	}
	struct job *j = &w->ring[(w->head + w->n) % w->cap];
	snprintf(j->workspace_id, sizeof(j->workspace_id), "%s", workspace_id);
	snprintf(j->key_id, sizeof(j->key_id), "%s", key_id);
	j->suspend = suspend;
	j->data = data;
	w->n++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}
