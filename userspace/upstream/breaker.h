/* SPDX-License-Identifier: Apache-2.0 */
/* Circuit breaker and cool-down per provider + model, per node (SPEC §9.4). A model's
 * breaker opens after `failures` consecutive breaker failures; after `open_s` one request
 * goes through as a half-open probe. A 429 or 503 with Retry-After cools the model down
 * until then (capped). Time is wall time so the test clock (§19) can move it. Each breaker
 * has its own lock: no lock is shared by all models on the request path. */
#ifndef HW_UPSTREAM_BREAKER_H
#define HW_UPSTREAM_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

struct hw_breaker;

enum hw_breaker_state { HW_BREAKER_CLOSED = 0, HW_BREAKER_HALF_OPEN = 1, HW_BREAKER_OPEN = 2 };

enum hw_breaker_admit {
	HW_ADMIT_PASS,    /* closed: go */
	HW_ADMIT_PROBE,   /* the one half-open probe: its outcome must be reported */
	HW_ADMIT_OPEN,    /* skip: circuit open (or a probe already in flight) */
	HW_ADMIT_COOLING, /* skip: cooling down after a Retry-After */
};

/* Thresholds from upstream.breaker; reloadable (applies to later transitions). */
void hw_breaker_configure(int64_t failures, int64_t open_s, int64_t max_cooldown_s);

/* The breaker of a catalog id ("provider/model"), created on first use; it lives for the
 * process so its state survives config reloads. NULL only when the table is full or out of
 * memory (the model then runs without a breaker). */
struct hw_breaker *hw_breaker_for(const char *model_id);

/* Whether an attempt may go to the model now; a probe admission must end in
 * hw_breaker_report. A NULL breaker always passes. */
enum hw_breaker_admit hw_breaker_admit(struct hw_breaker *b);
/* Would hw_breaker_admit skip the model? (no side effect: for listing and pins) */
bool hw_breaker_blocked(struct hw_breaker *b, bool *cooling);

enum hw_breaker_outcome {
	HW_OUTCOME_SUCCESS, /* resets the count; closes a half-open circuit */
	HW_OUTCOME_FAILURE, /* a breaker failure (§9.2) */
	HW_OUTCOME_NEUTRAL, /* neither (429, 4xx, client gone): a probe is given back */
};
/* `probe`: the attempt was admitted as the half-open probe. Only the probe decides a
 * half-open circuit; reports of attempts admitted before the circuit opened are ignored
 * while it is not closed. */
void hw_breaker_report(struct hw_breaker *b, enum hw_breaker_outcome o, bool probe);
/* Cool the model down for `seconds` (a Retry-After), capped at max_cooldown_s. */
void hw_breaker_cooldown(struct hw_breaker *b, int64_t seconds);

/* Every breaker with its id and state, for /metrics and /health. */
void hw_breaker_foreach(void (*fn)(void *arg, const char *model_id, enum hw_breaker_state st),
			void *arg);
/* Number of breakers currently open or half-open. */
int hw_breaker_open_count(void);

/* Forgets every breaker's state (unit tests). */
void hw_breaker_reset_all(void);

#endif
