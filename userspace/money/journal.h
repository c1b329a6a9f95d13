/* SPDX-License-Identifier: Apache-2.0 */
/* The ledger journal: what makes a settlement durable on the request path. Each money
 * change is appended as one record (one write(2) of a JSON line, numbered) before the answer
 * goes out; the ledger writer applies records to SQLite in batches afterwards, recording
 * the highest number applied in the same transaction. A process that dies in between
 * (kill -9) leaves its records in the file, and the next start applies the ones SQLite has
 * not seen before serving. An append costs a few microseconds where a SQLite commit costs
 * tens to hundreds, and the answer never waits on another thread. Like SQLite's
 * synchronous=normal, records survive a process crash; store_options.sqlite_synchronous:
 * full also syncs each record to disk (power loss). */
#ifndef HW_MONEY_JOURNAL_H
#define HW_MONEY_JOURNAL_H

#include "money/money_writer.h"

#include <stdbool.h>
#include <stdint.h>

struct hw_journal;

/* Opens (creating) the journal at `path`; records are numbered from next_seq. */
int hw_journal_open(const char *path, bool sync_each, int64_t next_seq, struct hw_journal **out);
void hw_journal_close(struct hw_journal *j);

/* Numbers the job (job->c.seq) and appends it. Thread-safe; 0 or a negative errno. */
int hw_journal_append(struct hw_journal *j, struct hw_money_job *job);

/* Empties the file when every appended record is applied (seq <= applied) and it has
 * grown past a few MiB; applied < 0 empties it whatever its size (at start). */
void hw_journal_trim(struct hw_journal *j, int64_t applied);

/* Reads every record of `path` with seq > after, in order, and hands each to `apply` (which
 * owns the job). *last = the highest seq in the file (or `after`). A missing file is empty;
 * a damaged last line (a write cut by power loss) ends the file. */
int hw_journal_replay(const char *path, int64_t after,
		      int (*apply)(void *arg, struct hw_money_job *job), void *arg, int64_t *last);

/* One record's text (exposed for tests): a JSON line ending in '\n'; malloc'ed. */
char *hw_journal_encode(const struct hw_money_job *job);
/* Parses one record; NULL when it is not one. */
struct hw_money_job *hw_journal_decode(const char *line, size_t len);

#endif
