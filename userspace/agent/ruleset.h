/* SPDX-License-Identifier: Apache-2.0 */
/* The perimeter's kernel maps seen from userspace: builds a generation of LPM tries from a
 * rule list and swaps it in atomically (SPEC §14.3), writes perimeter_cfg and prot_ports,
 * and sums verdict_stats. Works on map fds only, so the BPF tests drive it without an agent. */
#ifndef HW_AGENT_RULESET_H
#define HW_AGENT_RULESET_H

#include "hiway/perimeter.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hw_perim_rule {
	int family;	  /* 4 or 6 */
	uint8_t addr[16]; /* network order, host bits cleared */
	uint32_t prefixlen;
	bool allow;
	uint32_t origin;     /* enum hw_rule_origin */
	uint64_t expires_ns; /* CLOCK_MONOTONIC, 0 = never */
};

struct hw_perim_counts {
	uint64_t allow_v4, deny_v4, allow_v6, deny_v6, bans;
};

struct hw_perim_maps {
	int rule_sets_v4, rule_sets_v6, ruleset_ctl, perimeter_cfg, prot_ports, verdict_stats;
	int btf_fd; /* the object's BTF, so new tries carry named key/value fields; -1: none */
	uint32_t btf_key_v4, btf_key_v6, btf_val;
	uint32_t trie_max;
	const char *pin_dir;   /* where allow_v4 .. deny_v6 are re-pinned on swap; NULL: no pins */
	uint64_t last_swap_ns; /* CLOCK_MONOTONIC of the last swap (retired-slot grace) */
};

struct bpf_object;
/* Fills m from a loaded perimeter object: map fds and the BTF ids of the trie structs. */
int hw_perim_maps_init(struct hw_perim_maps *m, struct bpf_object *obj, uint32_t trie_max,
		       const char *pin_dir);

/* Builds the inactive generation from rules, then flips ruleset_ctl.active_gen to it and
 * records version. Returns 0 or a negative errno; on error the active generation is intact. */
int hw_perim_swap(struct hw_perim_maps *m, const struct hw_perim_rule *rules, size_t n,
		  uint64_t version);

/* Reads ruleset_ctl: active generation and applied version. */
int hw_perim_ctl_read(const struct hw_perim_maps *m, uint32_t *gen, uint64_t *version);

/* Writes perimeter_cfg and replaces prot_ports with ports (host order). */
int hw_perim_apply_cfg(const struct hw_perim_maps *m, const uint16_t *ports, size_t n_ports,
		       uint32_t syn_rate_per_s, uint32_t syn_burst, bool deny_scope_all);

/* Sums verdict_stats over every CPU into out[HW_VERDICT_COUNT]. */
int hw_perim_stats_read(const struct hw_perim_maps *m, struct hw_verdict_stat *out);

/* Counts rules the way the status row reports them (bans apart from deny rules). */
void hw_perim_count(const struct hw_perim_rule *rules, size_t n, struct hw_perim_counts *c);

#endif
