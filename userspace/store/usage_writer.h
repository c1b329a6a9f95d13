/* SPDX-License-Identifier: Apache-2.0 */
/* The batching usage writer (SPEC §19): usage records and key last_used_at updates are
 * writes nobody waits for, so the hot path hands them here and a background thread commits
 * them in batches, one transaction per batch. */
#ifndef HW_STORE_USAGE_WRITER_H
#define HW_STORE_USAGE_WRITER_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* A flush happens every tick, or sooner once a batch worth of records is waiting. */
#define HW_USAGE_WRITER_TICK_MS 50
#define HW_USAGE_WRITER_BATCH 512
/* last_used_at is written at most once per key per this many seconds (SPEC §4.1). */
#define HW_USAGE_WRITER_TOUCH_INTERVAL_S 60

struct hw_usage_writer;

/* Starts the writer thread over `st`, which must outlive the writer. At most `max_pending`
 * (>= 1) records wait in memory, queued or kept for a retry after a store failure; beyond
 * that, submissions are dropped and counted. NULL on failure. */
struct hw_usage_writer *hw_usage_writer_start(struct hw_store *st, size_t max_pending);

/* Queues a copy of `rec` (fallback_chain included); never waits on I/O. Lock-free but for
 * a brief wake-up of the writer once per batch. 0, or -ENOBUFS (max_pending reached) or
 * -ENOMEM when the record was dropped. */
int hw_usage_writer_submit(struct hw_usage_writer *w, const struct hw_usage_record *rec);

/* Notes that `key_id` was used at `at_s` (unix seconds). Coalesced: a key's last_used_at is
 * written again only once `at_s` is a full interval past the value last written. */
void hw_usage_writer_touch_key(struct hw_usage_writer *w, const char *key_id, int64_t at_s);

/* Flushes everything pending, joins the thread and frees `w`. Call it after the last
 * submit and touch; records the store still refuses after a few retries are counted
 * as dropped and logged. */
void hw_usage_writer_stop(struct hw_usage_writer *w);

/* Records dropped so far (queue full, out of memory, or unwritable at stop). */
uint64_t hw_usage_writer_dropped(struct hw_usage_writer *w);
/* Records committed to the store so far. */
uint64_t hw_usage_writer_written(struct hw_usage_writer *w);

#endif
