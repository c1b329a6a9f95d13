/* SPDX-License-Identifier: Apache-2.0 */
/* The ledger writer: money state changes reach SQLite through one thread that commits
 * whatever is waiting in one transaction (group commit), then tells each submitter its
 * change is durable. A response waits for that before its last byte (SPEC §10.3), so the
 * thread never sleeps while work is queued: latency is one commit, shared by everyone
 * who arrived during the previous one. */
#ifndef HW_MONEY_MONEY_WRITER_H
#define HW_MONEY_MONEY_WRITER_H

#include "store/store.h"

#include <jansson.h>

#define HW_MONEY_JOB_EVENTS 6

struct hw_money_job {
	struct hw_money_commit c;
	/* Events of this change, made into outbox rows by the writer (stolen data). */
	const char *event[HW_MONEY_JOB_EVENTS];
	json_t *data[HW_MONEY_JOB_EVENTS];
	size_t n_events;
	/* Called on the writer thread once committed (rc 0) or abandoned at stop (rc < 0);
	 * NULL = nobody waits. */
	void (*done)(void *arg, int rc);
	void *arg;
	struct hw_money_job *next;
};

struct hw_money_writer;

struct hw_money_writer *hw_money_writer_start(struct hw_store *st);
/* Queues a job (the writer frees it). Never blocks on I/O. */
void hw_money_writer_submit(struct hw_money_writer *w, struct hw_money_job *job);
/* Commits what is queued (retrying a failing store for a few seconds), then joins. */
void hw_money_writer_stop(struct hw_money_writer *w);
/* Commits so far and failed commit attempts, for /metrics. */
uint64_t hw_money_writer_commits(struct hw_money_writer *w);

#endif
