/* SPDX-License-Identifier: Apache-2.0 */
/* Auto-ban counters (SPEC §13.3): per source address, the times of its recent 401s and
 * 429 guardian_blocks in a sliding window. A source reaching `count` events within
 * `window_ms` is reported once, and its window for that reason starts over.
 * Memory is bounded: at most `max_sources` sources are tracked (the least recently seen
 * is dropped first), a source idle for longer than both windows is dropped, and a window
 * keeps at most `count` times (clamped to HW_AUTOBAN_MAX_COUNT). Sharded locks: sources
 * hashing to different shards never wait on each other. */
#ifndef HW_IPRULES_AUTOBAN_H
#define HW_IPRULES_AUTOBAN_H

#include "iprules/cidr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HW_AUTOBAN_MAX_COUNT 10000

enum hw_autoban_reason { HW_AUTOBAN_AUTH_FAILURES, HW_AUTOBAN_GUARDIAN_BLOCKS, HW_AUTOBAN__COUNT };

struct hw_autoban_limits {
	int64_t count[HW_AUTOBAN__COUNT];
	int64_t window_ms[HW_AUTOBAN__COUNT];
};

struct hw_autoban;

struct hw_autoban *hw_autoban_new(size_t max_sources);
void hw_autoban_free(struct hw_autoban *ab);
/* Records one event of `reason` from `ip` at `now_ms`; true when it brings the source to
 * the threshold (the caller bans it). */
bool hw_autoban_note(struct hw_autoban *ab, const struct hw_ipaddr *ip,
		     enum hw_autoban_reason reason, const struct hw_autoban_limits *lim,
		     int64_t now_ms);
/* Forgets a source (its ban was lifted, or it was banned). */
void hw_autoban_forget(struct hw_autoban *ab, const struct hw_ipaddr *ip);
size_t hw_autoban_tracked(struct hw_autoban *ab);
const char *hw_autoban_reason_name(enum hw_autoban_reason reason);

#endif
