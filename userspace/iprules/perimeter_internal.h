/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between perimeter.c (state, refresh, checks) and perimeter_report.c (health and
 * metrics); callers use perimeter.h. */
#ifndef HW_IPRULES_PERIMETER_INTERNAL_H
#define HW_IPRULES_PERIMETER_INTERNAL_H

#include "iprules/perimeter.h"

#include <stdint.h>

struct hw_perimeter_counters {
	uint64_t denied_rule, denied_ban;
	uint64_t autobans[HW_AUTOBAN__COUNT];
};

/* A copy of the agent rows last read from the store (malloc'ed; free it). */
int hw_perimeter_agents_copy(struct hw_agent_status **out, size_t *n);
void hw_perimeter_counters_read(struct hw_perimeter_counters *out);
const char *hw_perimeter_node_id(void);

#endif
