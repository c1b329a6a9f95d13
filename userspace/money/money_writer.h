/* SPDX-License-Identifier: Apache-2.0 */
/* The ledger writer: money state changes, already durable in the ledger journal, reach
 * SQLite through one thread that commits whatever is waiting in one transaction, with the
 * highest journal number applied; the journal is emptied whenever SQLite has caught up. */
#ifndef HW_MONEY_MONEY_WRITER_H
#define HW_MONEY_MONEY_WRITER_H

#include "store/store.h"

#include <jansson.h>

#define HW_MONEY_JOB_EVENTS 6

struct hw_money_job {
	struct hw_money_commit c;
	/* Events of this change, made into outbox rows by the writer (stolen data). */
	char event[HW_MONEY_JOB_EVENTS][40];
	json_t *data[HW_MONEY_JOB_EVENTS];
	size_t n_events;
	struct hw_money_job *next;
};

struct hw_money_writer;

struct hw_journal;

struct hw_money_writer *hw_money_writer_start(struct hw_store *st);
/* From now on, trims `j` whenever everything queued is committed. */
void hw_money_writer_set_journal(struct hw_money_writer *w, struct hw_journal *j);
/* Waits until everything queued so far is committed; 0, or -EIO when a commit failed. */
int hw_money_writer_flush(struct hw_money_writer *w);
/* Queues a job (the writer frees it). Never blocks on I/O. */
void hw_money_writer_submit(struct hw_money_writer *w, struct hw_money_job *job);
/* Commits what is queued (retrying a failing store for a few seconds), then joins. */
void hw_money_writer_stop(struct hw_money_writer *w);

#endif
