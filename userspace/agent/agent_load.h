/* SPDX-License-Identifier: Apache-2.0 */
/* Loads the perimeter BPF object with its maps pinned under pin_dir, reusing the pinned maps
 * of an earlier run so rules, buckets and counters survive an agent restart. */
#ifndef HW_AGENT_LOAD_H
#define HW_AGENT_LOAD_H

#include <stdint.h>

struct perimeter_bpf;

int hw_agent_load(const char *pin_dir, uint32_t max_sources, struct perimeter_bpf **out);

#endif
