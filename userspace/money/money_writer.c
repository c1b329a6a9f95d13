// SPDX-License-Identifier: Apache-2.0
#include "money/money_writer.h"

#include "common/log.h"
#include "events/outbox.h"
#include "money/journal.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Jobs per transaction: bounds the time one commit holds the file. */
#define BATCH 512
/* Changes are durable in the journal already, so the writer lets them gather this long (or
 * until a batch is full, a flush is asked for, or it stops): one transaction then carries
 * many requests, and the writer does not wake, and compete for a core, on every answer. */
#define GATHER_MS 10
/* A failing store is retried this often; at stop, this many times before jobs are given up. */
#define RETRY_MS 50
#define STOP_RETRIES 100

struct hw_money_writer {
	struct hw_store *st;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct hw_money_job *head, *tail;
	size_t queued;
	bool stopping, busy, flush_asked;
	int last_rc;
	int64_t applied; /* highest journal number committed */
	struct hw_journal *journal;
	pthread_cond_t idle;
};

static void job_free(struct hw_money_job *j)
{
	hw_outbox_rows_free(j->c.rows, j->c.n_rows);
	for (size_t i = 0; i < j->n_events; i++)
		json_decref(j->data[i]);
	free(j);
}

/* Turns a job's events into outbox rows, once (a retried batch keeps them). */
static void build_rows(struct hw_store *st, struct hw_money_job *j)
{
	for (size_t i = 0; i < j->n_events; i++) {
		struct hw_outbox_row *rows = NULL;
		size_t n = 0;
		if (hw_outbox_rows_build(st, j->c.workspace_id, j->event[i], j->data[i], &rows, &n) < 0 || !n) {
			free(rows);
			continue;
		}
		struct hw_outbox_row *all = realloc(j->c.rows, (j->c.n_rows + n) * sizeof(*all));
		if (!all) {
			hw_outbox_rows_free(rows, n);
			continue;
		}
		memcpy(all + j->c.n_rows, rows, n * sizeof(*rows));
		free(rows);
		j->c.rows = all;
		j->c.n_rows += n;
	}
	for (size_t i = 0; i < j->n_events; i++)
		json_decref(j->data[i]);
	j->n_events = 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Commits `jobs` (a list of n) in one transaction, retrying while the store fails. */
static int commit_batch(struct hw_money_writer *w, struct hw_money_job *jobs, size_t n, bool stopping)
{
	struct hw_money_commit *cs = malloc(n * sizeof(*cs));
	size_t i = 0;
	int rc = -ENOMEM;
	for (struct hw_money_job *j = jobs; cs && j && i < n; j = j->next) {
		build_rows(w->st, j);
		cs[i++] = j->c;
	}
	for (int attempt = 0; cs; attempt++) {
		rc = w->st->ops->money.commit(w->st, cs, n);
		if (rc == 0 || (stopping && attempt >= STOP_RETRIES))
			break;
		sleep_ms(RETRY_MS);
	}
	free(cs);
	return rc;
}

static void *writer_main(void *arg)
{
	struct hw_money_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->head)
			break;
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += GATHER_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (w->queued < BATCH && !w->stopping && !w->flush_asked &&
		       pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0)
			;
		w->busy = true;
		struct hw_money_job *jobs = w->head, *last = jobs;
		size_t n = 1;
		while (last->next && n < BATCH) {
			last = last->next;
			n++;
		}
		w->head = last->next;
		w->queued -= n;
		if (!w->head) {
			w->tail = NULL;
			w->flush_asked = false;
		}
		last->next = NULL;
		bool stopping = w->stopping;
		pthread_mutex_unlock(&w->mu);

		int rc = commit_batch(w, jobs, n, stopping);
		if (rc < 0)
			hw_log(HW_LOG_ERROR, "money: %zu ledger changes could not be committed", n);
		int64_t top = 0;
		while (jobs) {
			struct hw_money_job *next = jobs->next;
			if (jobs->c.seq > top)
				top = jobs->c.seq;
			job_free(jobs);
			jobs = next;
		}
		pthread_mutex_lock(&w->mu);
		w->last_rc = rc;
		if (rc == 0 && top > w->applied)
			w->applied = top;
		if (!w->head) {
			/* Caught up: the journal's records are all in SQLite (a failed batch keeps
			 * them for the next start). */
			if (w->journal && rc == 0)
				hw_journal_trim(w->journal, w->applied);
			w->busy = false;
			pthread_cond_broadcast(&w->idle);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct hw_money_writer *hw_money_writer_start(struct hw_store *st)
{
	struct hw_money_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->st = st;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&w->idle, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		free(w);
		return NULL;
	}
	return w;
}

void hw_money_writer_submit(struct hw_money_writer *w, struct hw_money_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&w->mu);
	if (w->tail)
		w->tail->next = job;
	else
		w->head = job;
	w->tail = job;
	/* The first job starts the gathering; a full batch ends it. */
	if (++w->queued == 1 || w->queued >= BATCH)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void hw_money_writer_stop(struct hw_money_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->idle);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void hw_money_writer_set_journal(struct hw_money_writer *w, struct hw_journal *j)
{
	pthread_mutex_lock(&w->mu);
	w->journal = j;
	pthread_mutex_unlock(&w->mu);
}

int hw_money_writer_flush(struct hw_money_writer *w)
{
	pthread_mutex_lock(&w->mu);
	if (w->head) {
		w->flush_asked = true;
		pthread_cond_signal(&w->cv);
	}
	while (w->head || w->busy)
		pthread_cond_wait(&w->idle, &w->mu);
	int rc = w->last_rc;
	pthread_mutex_unlock(&w->mu);
	return rc;
}
