// SPDX-License-Identifier: Apache-2.0
/* Circuit breakers (SPEC §9.4): a fixed table of per-model records found by hashing the
 * catalog id. Records are added when a catalog is built (start-up, reload), never removed,
 * so the request path only reads a published slot and takes that model's own lock. */
#include "upstream/breaker.h"

#include "common/clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define TABLE_SLOTS 2048 /* a power of two; catalogs hold tens of models */

struct hw_breaker {
	pthread_mutex_t lock;
	int64_t failures;
	int64_t opened_ms;
	int64_t cool_until_ms;
	enum hw_breaker_state state;
	atomic_bool used; /* published after id is written */
	bool probe_in_flight;
	char id[128];
};

static struct hw_breaker table[TABLE_SLOTS];
static pthread_mutex_t insert_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_llong cfg_failures = 5, cfg_open_ms = 30000, cfg_max_cool_ms = 300000;

void hw_breaker_configure(int64_t failures, int64_t open_s, int64_t max_cooldown_s)
{
	atomic_store(&cfg_failures, failures > 0 ? failures : 1);
	atomic_store(&cfg_open_ms, open_s * 1000);
	atomic_store(&cfg_max_cool_ms, max_cooldown_s * 1000);
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

struct hw_breaker *hw_breaker_for(const char *model_id)
{
	if (strlen(model_id) >= sizeof(table[0].id))
		return NULL;
	uint32_t start = hash(model_id) & (TABLE_SLOTS - 1);
	for (int pass = 0; pass < 2; pass++) {
		/* First pass lock-free over published slots; the second under the insert lock. */
		if (pass == 1)
			pthread_mutex_lock(&insert_lock);
		for (uint32_t i = 0; i < TABLE_SLOTS; i++) {
			struct hw_breaker *b = &table[(start + i) & (TABLE_SLOTS - 1)];
			if (atomic_load_explicit(&b->used, memory_order_acquire)) {
				if (strcmp(b->id, model_id) == 0) {
					if (pass == 1)
						pthread_mutex_unlock(&insert_lock);
					return b;
				}
				continue;
			}
			if (pass == 0)
				break;
			memcpy(b->id, model_id, strlen(model_id) + 1); /* length checked on entry */
			pthread_mutex_init(&b->lock, NULL);
			b->state = HW_BREAKER_CLOSED;
			atomic_store_explicit(&b->used, true, memory_order_release);
			pthread_mutex_unlock(&insert_lock);
			return b;
		}
	}
	pthread_mutex_unlock(&insert_lock);
	return NULL;
}

/* An open circuit whose wait is over is half-open; called with the lock held. */
static enum hw_breaker_state current(struct hw_breaker *b, int64_t now)
{
	if (b->state == HW_BREAKER_OPEN && now >= b->opened_ms + atomic_load(&cfg_open_ms))
		b->state = HW_BREAKER_HALF_OPEN;
	return b->state;
}

enum hw_breaker_admit hw_breaker_admit(struct hw_breaker *b)
{
	if (!b)
		return HW_ADMIT_PASS;
	int64_t now = hw_clock_wall_ms();
	enum hw_breaker_admit a = HW_ADMIT_PASS;
	pthread_mutex_lock(&b->lock);
	switch (current(b, now)) {
	case HW_BREAKER_CLOSED:
		if (now < b->cool_until_ms)
			a = HW_ADMIT_COOLING;
		break;
	case HW_BREAKER_OPEN:
		a = HW_ADMIT_OPEN;
		break;
	case HW_BREAKER_HALF_OPEN:
		/* A Retry-After outranks the probe: no probe while the provider asked to wait. */
		if (b->probe_in_flight) {
			a = HW_ADMIT_OPEN;
		} else if (now < b->cool_until_ms) {
			a = HW_ADMIT_COOLING;
		} else {
			b->probe_in_flight = true;
			a = HW_ADMIT_PROBE;
		}
		break;
	}
	pthread_mutex_unlock(&b->lock);
	return a;
}

bool hw_breaker_blocked(struct hw_breaker *b, bool *cooling)
{
	*cooling = false;
	if (!b)
		return false;
	int64_t now = hw_clock_wall_ms();
	pthread_mutex_lock(&b->lock);
	enum hw_breaker_state st = current(b, now);
	bool blocked = st == HW_BREAKER_OPEN || (st == HW_BREAKER_HALF_OPEN && b->probe_in_flight);
	if (!blocked && now < b->cool_until_ms)
		blocked = *cooling = true;
	pthread_mutex_unlock(&b->lock);
	return blocked;
}

void hw_breaker_report(struct hw_breaker *b, enum hw_breaker_outcome o, bool probe)
{
	if (!b)
		return;
	int64_t now = hw_clock_wall_ms();
	pthread_mutex_lock(&b->lock);
	enum hw_breaker_state st = current(b, now);
	if (probe && b->probe_in_flight) {
		b->probe_in_flight = false;
		if (o == HW_OUTCOME_SUCCESS) {
			b->state = HW_BREAKER_CLOSED;
			b->failures = 0;
		} else if (o == HW_OUTCOME_FAILURE) {
			b->state = HW_BREAKER_OPEN; /* another full wait before the next probe */
			b->opened_ms = now;
		}
	} else if (st == HW_BREAKER_CLOSED) {
		if (o == HW_OUTCOME_SUCCESS) {
			b->failures = 0;
		} else if (o == HW_OUTCOME_FAILURE && ++b->failures >= atomic_load(&cfg_failures)) {
			b->state = HW_BREAKER_OPEN;
			b->opened_ms = now;
		}
	}
	pthread_mutex_unlock(&b->lock);
}

void hw_breaker_cooldown(struct hw_breaker *b, int64_t seconds)
{
	if (!b || seconds <= 0)
		return;
	int64_t ms = seconds * 1000, cap = atomic_load(&cfg_max_cool_ms);
	if (ms > cap)
		ms = cap;
	int64_t until = hw_clock_wall_ms() + ms;
	pthread_mutex_lock(&b->lock);
	if (until > b->cool_until_ms)
		b->cool_until_ms = until;
	pthread_mutex_unlock(&b->lock);
}

void hw_breaker_foreach(void (*fn)(void *arg, const char *model_id, enum hw_breaker_state st),
			void *arg)
{
	int64_t now = hw_clock_wall_ms();
	for (size_t i = 0; i < TABLE_SLOTS; i++) {
		struct hw_breaker *b = &table[i];
		if (!atomic_load_explicit(&b->used, memory_order_acquire))
			continue;
		pthread_mutex_lock(&b->lock);
		enum hw_breaker_state st = current(b, now);
		pthread_mutex_unlock(&b->lock);
		fn(arg, b->id, st);
	}
}

static void count_open(void *arg, const char *model_id, enum hw_breaker_state st)
{
	(void)model_id;
	if (st != HW_BREAKER_CLOSED)
		++*(int *)arg;
}

int hw_breaker_open_count(void)
{
	int n = 0;
	hw_breaker_foreach(count_open, &n);
	return n;
}

void hw_breaker_reset_all(void)
{
	for (size_t i = 0; i < TABLE_SLOTS; i++) {
		struct hw_breaker *b = &table[i];
		if (!atomic_load_explicit(&b->used, memory_order_acquire))
			continue;
		pthread_mutex_lock(&b->lock);
		b->state = HW_BREAKER_CLOSED;
		b->failures = b->opened_ms = b->cool_until_ms = 0;
		b->probe_in_flight = false;
		pthread_mutex_unlock(&b->lock);
	}
}
