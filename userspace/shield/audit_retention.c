// SPDX-License-Identifier: Apache-2.0
/* The audit retention job: at start (which also resumes a purge a crash interrupted, as
 * each workspace's purge is one transaction) and then every hour, runs hw_audit_purge over
 * every workspace, each with its own retention_days when it set one. It sleeps on a
 * condition variable so stopping does not wait an hour. */
#include "shield/audit.h"

#include "common/log.h"
#include "shield/shield_ws.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RETENTION_PERIOD_S 3600
#define WORKSPACE_PAGE 500

struct hw_audit_retention {
	struct hw_store *st;
	int64_t (*days)(void *arg);
	void *arg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
};

static void purge_all(struct hw_audit_retention *r)
{
	struct hw_workspace *ws = NULL;
	char after[HW_ID_MAX] = "";
	int64_t days = r->days(r->arg);
	size_t n = 0;

	do {
		if (r->st->ops->workspace_list(r->st, after, WORKSPACE_PAGE, &ws, &n) < 0) {
			hw_log(HW_LOG_WARN, "audit retention: cannot list workspaces");
			return;
		}
		for (size_t i = 0; i < n; i++) {
			int64_t deleted = 0;
			int rc = hw_audit_purge(r->st, ws[i].id,
						hw_shield_ws_retention_days(ws[i].id, days), &deleted);
			if (rc < 0)
				hw_log(HW_LOG_WARN, "audit retention: purge of %s failed (%d)",
				       ws[i].id, rc);
			else if (deleted)
				hw_log(HW_LOG_INFO, "audit retention: %s: %lld rows purged",
				       ws[i].id, (long long)deleted);
		}
		if (n)
			snprintf(after, sizeof(after), "%s", ws[n - 1].id);
		free(ws);
		ws = NULL;
	} while (n == WORKSPACE_PAGE);
}

static void *retention_main(void *arg)
{
	struct hw_audit_retention *r = arg;
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		pthread_mutex_unlock(&r->mu);
		purge_all(r);
		pthread_mutex_lock(&r->mu);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += RETENTION_PERIOD_S;
		while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct hw_audit_retention *hw_audit_retention_start(struct hw_store *st, int64_t (*days)(void *arg),
						    void *arg)
{
	struct hw_audit_retention *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;
	if (!r)
		return NULL;
	r->st = st;
	r->days = days;
	r->arg = arg;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&r->thread, NULL, retention_main, r) != 0) {
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		free(r);
		return NULL;
	}
	return r;
}

void hw_audit_retention_stop(struct hw_audit_retention *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
