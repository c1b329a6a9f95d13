/* SPDX-License-Identifier: Apache-2.0 */
/* An immutable set of CIDR blocks answering "does any block contain this address?".
 * Sorted-prefix layout: per family, one sorted array of network keys per prefix length
 * present, so a lookup is one mask and one binary search per distinct length (a handful in
 * practice: 100,000 /32 bans are one search of 17 steps). Which block matched does not
 * matter to a verdict (§13.2: order and specificity do not count), so the first hit wins.
 * Built once, then only read: any number of threads may query it without a lock. */
#ifndef HW_IPRULES_NETSET_H
#define HW_IPRULES_NETSET_H

#include "iprules/cidr.h"

#include <stdbool.h>
#include <stddef.h>

struct hw_netset;

/* Collects blocks before the build; duplicates are fine. */
struct hw_netset_builder {
	struct hw_cidr *items;
	size_t n, cap;
};

int hw_netset_builder_add(struct hw_netset_builder *b, const struct hw_cidr *c);
void hw_netset_builder_free(struct hw_netset_builder *b);
/* Builds from the builder (which is emptied); NULL on allocation failure. An empty set is
 * a valid set. */
struct hw_netset *hw_netset_build(struct hw_netset_builder *b);
bool hw_netset_contains(const struct hw_netset *s, const struct hw_ipaddr *ip);
/* Distinct blocks of `family` (4 or 6). */
size_t hw_netset_count(const struct hw_netset *s, int family);
void hw_netset_free(struct hw_netset *s);

#endif
