// SPDX-License-Identifier: Apache-2.0
/* The pending auto-ban set: a copy-on-write array of (address, sequence) with its netset,
 * swapped whole under a writer mutex and read with one atomic load. Replaced copies are
 * kept for a grace period far longer than a lookup before they are freed. */
#include "iprules/ban_overlay.h"

#include "common/clock.h"
#include "iprules/netset.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define GRACE_NS (5LL * 1000000000)

struct snap {
	struct hw_netset *set;
	struct hw_ipaddr *ips;
	uint64_t *seqs;
	size_t n;
	int64_t retired_ns;
	struct snap *next_retired;
};

struct hw_ban_overlay {
	_Atomic(struct snap *) cur;
	pthread_mutex_t mu; /* writers; guards seq and retired */
	uint64_t seq;
	struct snap *retired;
};

static void snap_free(struct snap *s)
{
	if (!s)
		return;
	hw_netset_free(s->set);
	free(s->ips);
	free(s->seqs);
	free(s);
}

/* A new snapshot of the entries of `old` whose sequence is above `above`, plus `add` (seq
 * `add_seq`) when not NULL. */
static struct snap *snap_make(const struct snap *old, uint64_t above, const struct hw_ipaddr *add,
			      uint64_t add_seq)
{
	size_t cap = (old ? old->n : 0) + 1;
	struct snap *s = calloc(1, sizeof(*s));
	struct hw_netset_builder b = {0};

	if (!s || !(s->ips = calloc(cap, sizeof(*s->ips))) ||
	    !(s->seqs = calloc(cap, sizeof(*s->seqs))))
		goto fail;
	for (size_t i = 0; old && i < old->n; i++) {
		if (old->seqs[i] <= above)
			continue;
		s->ips[s->n] = old->ips[i];
		s->seqs[s->n++] = old->seqs[i];
	}
	if (add) {
		s->ips[s->n] = *add;
		s->seqs[s->n++] = add_seq;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct hw_cidr c;
		hw_cidr_host(&s->ips[i], &c);
		if (hw_netset_builder_add(&b, &c) < 0)
			goto fail;
	}
	s->set = hw_netset_build(&b);
	if (!s->set)
		goto fail;
	return s;
fail:
	hw_netset_builder_free(&b);
	snap_free(s);
	return NULL;
}

struct hw_ban_overlay *hw_ban_overlay_new(void)
{
	struct hw_ban_overlay *o = calloc(1, sizeof(*o));
	if (o)
		pthread_mutex_init(&o->mu, NULL);
	return o;
}

/* Caller holds o->mu. */
static void publish(struct hw_ban_overlay *o, struct snap *s)
{
	struct snap *old = atomic_exchange(&o->cur, s);
	if (old) {
		old->retired_ns = hw_clock_mono_ns();
		old->next_retired = o->retired;
		o->retired = old;
	}
}

int hw_ban_overlay_add(struct hw_ban_overlay *o, const struct hw_ipaddr *ip)
{
	int rc = 0;
	pthread_mutex_lock(&o->mu);
	struct snap *s = snap_make(atomic_load(&o->cur), 0, ip, o->seq + 1);
	if (s) {
		o->seq++;
		publish(o, s);
	} else {
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&o->mu);
	return rc;
}

uint64_t hw_ban_overlay_seq(struct hw_ban_overlay *o)
{
	pthread_mutex_lock(&o->mu);
	uint64_t seq = o->seq;
	pthread_mutex_unlock(&o->mu);
	return seq;
}

void hw_ban_overlay_prune(struct hw_ban_overlay *o, uint64_t upto)
{
	pthread_mutex_lock(&o->mu);
	struct snap *cur = atomic_load(&o->cur);
	if (cur && cur->n && cur->seqs[0] <= upto) {
		/* Entries are in sequence order: only a snapshot that still holds old ones changes.
		 * Without memory for the smaller copy the old entries simply stay a while longer.
		 */
		struct snap *s = snap_make(cur, upto, NULL, 0);
		if (s)
			publish(o, s);
	}
	pthread_mutex_unlock(&o->mu);
}

bool hw_ban_overlay_contains(struct hw_ban_overlay *o, const struct hw_ipaddr *ip)
{
	const struct snap *s = o ? atomic_load(&o->cur) : NULL;
	return s && s->n && hw_netset_contains(s->set, ip);
}

size_t hw_ban_overlay_size(struct hw_ban_overlay *o)
{
	const struct snap *s = o ? atomic_load(&o->cur) : NULL;
	return s ? s->n : 0;
}

void hw_ban_overlay_reclaim(struct hw_ban_overlay *o, bool all)
{
	int64_t now = hw_clock_mono_ns();
	pthread_mutex_lock(&o->mu);
	for (struct snap **pp = &o->retired; *pp;) {
		struct snap *s = *pp;
		if (all || now - s->retired_ns > GRACE_NS) {
			*pp = s->next_retired;
			snap_free(s);
		} else {
			pp = &s->next_retired;
		}
	}
	pthread_mutex_unlock(&o->mu);
}

void hw_ban_overlay_free(struct hw_ban_overlay *o)
{
	if (!o)
		return;
	hw_ban_overlay_reclaim(o, true);
	snap_free(atomic_load(&o->cur));
	pthread_mutex_destroy(&o->mu);
	free(o);
}
