/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* The kernel perimeter's map layout (SPEC §14.3): every key and value struct and every
 * constant shared by the BPF programs (bpf/) and hiway-agent. The BPF object carries these
 * structs in its BTF, so `bpftool map dump pinned /sys/fs/bpf/hiway/<map>` prints named
 * fields. Only fixed-width types: the same layout on both sides. */
#ifndef HIWAY_PERIMETER_H
#define HIWAY_PERIMETER_H

#include <linux/types.h>

/* Verdicts, also the index into verdict_stats. */
enum hw_verdict {
	HW_VERDICT_PASS = 0,
	HW_VERDICT_PASS_ALLOWED = 1,
	HW_VERDICT_DROP_DENY = 2,
	HW_VERDICT_DROP_RATELIMIT = 3,
	HW_VERDICT_PASS_UNPARSED = 4,
	HW_VERDICT_COUNT = 5,
};

/* rule_val.origin */
enum hw_rule_origin {
	HW_ORIGIN_GLOBAL_RULE = 1,
	HW_ORIGIN_WORKSPACE_RULE = 2,
	HW_ORIGIN_AUTO_BAN = 3,
	HW_ORIGIN_MANUAL_BAN = 4,
};

/* Inner trie kinds inside one generation. The kernel requires every inner map of one
 * ARRAY_OF_MAPS to have the same key size, so the v4 tries (8-byte keys) and the v6 tries
 * (20-byte keys) live in two outer maps, rule_sets_v4 and rule_sets_v6, each with slot =
 * generation * HW_RULESET_KINDS + kind. */
enum hw_ruleset_kind {
	HW_RULESET_ALLOW = 0,
	HW_RULESET_DENY = 1,
	HW_RULESET_KINDS = 2,
};
#define HW_RULESET_GENERATIONS 2
#define HW_RULESET_SLOTS (HW_RULESET_GENERATIONS * HW_RULESET_KINDS)

#define HW_CFG_DENY_SCOPE_ALL (1u << 0) /* perimeter_cfg.flags: drop denied sources on every port  \
					 */

#define HW_PROT_PORTS_MAX 64
#define HW_TRIE_MAX_DEFAULT 131072
#define HW_LRU_MAX_DEFAULT 65536

/* Parsing limits (SPEC §14.2). */
#define HW_VLAN_MAX 2
#define HW_IPV6_EXT_MAX 6

struct hw_lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4]; /* network byte order */
};

struct hw_lpm_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

struct hw_rule_val {
	__u32 origin; /* enum hw_rule_origin */
	__u32 flags;
	__u64 expires_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns); 0 = never */
};

struct hw_ruleset_ctl {
	__u32 active_gen; /* 0 or 1; written in one 32-bit store by the agent */
	__u32 pad;
	__u64 version; /* the store's perimeter_generation applied */
};

struct hw_src_v4 {
	__u8 addr[4];
};

struct hw_src_v6 {
	__u8 addr[16];
};

struct hw_bucket {
	__u64 tokens_milli;
	__u64 last_ns;
};

struct hw_port {
	__u16 port; /* host byte order */
	__u16 pad;
};

struct hw_perimeter_cfg {
	__u32 syn_rate_per_s; /* 0 disables the SYN limit */
	__u32 syn_burst;
	__u32 flags; /* HW_CFG_* */
	__u32 pad;
};

struct hw_verdict_stat {
	__u64 packets;
	__u64 bytes;
};

#endif
