/* SPDX-License-Identifier: Apache-2.0 */
/* Auto-bans this process created since the last full snapshot rebuild. An auto-ban must
 * apply before the source's next request (SPEC §13.3), but rebuilding the whole snapshot on
 * the request thread for each one would let a flood of failing sources keep worker threads
 * busy rebuilding 100,000-rule sets. So the ban is stored, added here (a small set, rebuilt
 * in microseconds and published like the snapshot: readers never lock), and the refresher
 * thread rebuilds the full snapshot; entries it has read from the store are then pruned.
 * Entries carry an increasing sequence number: a rebuild that started reading the store after
 * entry N was added includes it (the ban was committed before being added here). */
#ifndef HW_IPRULES_BAN_OVERLAY_H
#define HW_IPRULES_BAN_OVERLAY_H

#include "iprules/cidr.h"

#include <stdbool.h>
#include <stdint.h>

struct hw_ban_overlay;

struct hw_ban_overlay *hw_ban_overlay_new(void);
void hw_ban_overlay_free(struct hw_ban_overlay *o);
/* 0 or -ENOMEM (the ban then applies at the next rebuild). */
int hw_ban_overlay_add(struct hw_ban_overlay *o, const struct hw_ipaddr *ip);
/* The sequence number of the newest entry (0 = none yet). */
uint64_t hw_ban_overlay_seq(struct hw_ban_overlay *o);
/* Drops the entries numbered up to `upto`. */
void hw_ban_overlay_prune(struct hw_ban_overlay *o, uint64_t upto);
/* Lock-free. */
bool hw_ban_overlay_contains(struct hw_ban_overlay *o, const struct hw_ipaddr *ip);
size_t hw_ban_overlay_size(struct hw_ban_overlay *o);
/* Frees replaced sets older than the grace period (all of them with `all`). */
void hw_ban_overlay_reclaim(struct hw_ban_overlay *o, bool all);

#endif
