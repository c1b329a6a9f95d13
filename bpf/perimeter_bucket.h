/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* Per-source SYN token bucket in milli-tokens (SPEC §14.2): refilled lazily by
 * elapsed_ns * rate / 10^6, capped at burst * 1000, a SYN costs 1000, a new source starts
 * full. Updates race benignly across CPUs: the limit is approximate by design. */
#ifndef HIWAY_BPF_PERIMETER_BUCKET_H
#define HIWAY_BPF_PERIMETER_BUCKET_H

#include "hiway/perimeter.h"
#include <bpf/bpf_helpers.h>
#include <linux/bpf.h>

#define HW_SYN_COST_MILLI 1000ull
/* Past this gap any bucket is full; capping elapsed keeps elapsed * rate inside 64 bits. */
#define HW_REFILL_MAX_NS 1000000000000ull

/* Takes one SYN from bucket b (NULL: a new source, created full minus this SYN). Returns 1
 * when the SYN may pass, 0 when the bucket is empty. */
static __always_inline int hw_bucket_take(void *map, const void *key, __u64 now,
					  const struct hw_perimeter_cfg *cfg)
{
	__u64 cap = (__u64)cfg->syn_burst * 1000ull;
	struct hw_bucket *b = bpf_map_lookup_elem(map, key);
	if (!b) {
		struct hw_bucket nb = {.last_ns = now};
		if (cap < HW_SYN_COST_MILLI)
			return 0;
		nb.tokens_milli = cap - HW_SYN_COST_MILLI;
		bpf_map_update_elem(map, key, &nb, BPF_ANY);
		return 1;
	}
	__u64 tokens = b->tokens_milli;
	if (now > b->last_ns) {
		__u64 elapsed = now - b->last_ns;
		if (elapsed > HW_REFILL_MAX_NS)
			elapsed = HW_REFILL_MAX_NS;
		tokens += elapsed * cfg->syn_rate_per_s / 1000000ull;
		b->last_ns = now;
	}
	if (tokens > cap)
		tokens = cap;
	if (tokens < HW_SYN_COST_MILLI) {
		b->tokens_milli = tokens;
		return 0;
	}
	b->tokens_milli = tokens - HW_SYN_COST_MILLI;
	return 1;
}

#endif
