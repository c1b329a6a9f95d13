/* SPDX-License-Identifier: Apache-2.0 */
/* A ring of times (ms), oldest first, that grows by doubling up to a maximum length: a log
 * bounded by rpm_limit or dedup.count costs memory for the entries it holds, not for its
 * bound. Callers serialize access (the key's shard mutex). */
#ifndef HW_GUARDIAN_TIME_RING_H
#define HW_GUARDIAN_TIME_RING_H

#include <stdbool.h>
#include <stdint.h>

struct hw_time_ring {
	int64_t *v;
	uint32_t cap, head, n;
};

/* Drops the entries at or before `cutoff`. */
void hw_time_ring_expire(struct hw_time_ring *r, int64_t cutoff);
/* Appends `t`; once `max` entries are held the oldest goes first. A `max` below the count
 * held keeps the newest. False when out of memory (nothing appended). */
bool hw_time_ring_push(struct hw_time_ring *r, int64_t t, uint32_t max);
/* Keeps at most the newest `max` entries. */
void hw_time_ring_trim(struct hw_time_ring *r, uint32_t max);
static inline int64_t hw_time_ring_oldest(const struct hw_time_ring *r)
{
	return r->v[r->head];
}
void hw_time_ring_free(struct hw_time_ring *r);

#endif
