/* SPDX-License-Identifier: Apache-2.0 */
/* The workspace settings cache inside struct hw_guardian (settings_cache.c): an immutable
 * snapshot swapped whole, read with one atomic load. Internal to userspace/guardian. */
#ifndef HW_GUARDIAN_SETTINGS_CACHE_H
#define HW_GUARDIAN_SETTINGS_CACHE_H

#include "guardian/guardian.h"

#include <pthread.h>
#include <stdatomic.h>

struct snap;

struct hw_gd_cache {
	_Atomic(struct snap *) snap;
	pthread_mutex_t mu; /* serializes rebuilds; readers never take it */
};

void hw_gd_cache_init(struct hw_gd_cache *c);
void hw_gd_cache_destroy(struct hw_gd_cache *c);
/* The guardian's cache (guardian.c). */
struct hw_gd_cache *hw_guardian_cache(struct hw_guardian *g);

#endif
