// SPDX-License-Identifier: Apache-2.0
/* The growable ring of times behind the RPM log and the dedup window (time_ring.h). */
#include "guardian/time_ring.h"

#include <stdlib.h>
#include <string.h>

void hw_time_ring_expire(struct hw_time_ring *r, int64_t cutoff)
{
	while (r->n && r->v[r->head] <= cutoff) {
		r->head = (r->head + 1) % r->cap;
		r->n--;
	}
}

/* Reallocates to `cap` entries in order, keeping the newest that fit. */
static bool resize(struct hw_time_ring *r, uint32_t cap)
{
	int64_t *nv = malloc(sizeof(*nv) * cap);
	if (!nv)
		return false;
	uint32_t keep = r->n < cap ? r->n : cap;
	for (uint32_t i = 0; i < keep; i++)
		nv[i] = r->v[(r->head + r->n - keep + i) % r->cap];
	free(r->v);
	r->v = nv;
	r->cap = cap;
	r->head = 0;
	r->n = keep;
	return true;
}

void hw_time_ring_trim(struct hw_time_ring *r, uint32_t max)
{
	while (r->n > max) {
		r->head = (r->head + 1) % r->cap;
		r->n--;
	}
}

bool hw_time_ring_push(struct hw_time_ring *r, int64_t t, uint32_t max)
{
	if (max == 0)
		return false;
	hw_time_ring_trim(r, max);
	if (r->n == max) {
		/* At the bound: the oldest makes room. */
		r->head = (r->head + 1) % r->cap;
		r->n--;
	} else if (r->n == r->cap) {
		uint64_t want = r->cap ? (uint64_t)r->cap * 2 : 4;
		if (!resize(r, (uint32_t)(want < max ? want : max)))
			return false;
	}
	uint32_t cap = r->cap;
	if (!cap)
		return false;
	r->v[(r->head + r->n) % cap] = t;
	r->n++;
	return true;
}

void hw_time_ring_free(struct hw_time_ring *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}
