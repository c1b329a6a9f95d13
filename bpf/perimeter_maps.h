/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* The perimeter's maps (SPEC §14.3). The agent resizes the tries and LRU maps from
 * perimeter.limits before loading and pins them under perimeter.pin_path. */
#ifndef HIWAY_BPF_PERIMETER_MAPS_H
#define HIWAY_BPF_PERIMETER_MAPS_H

#include "hiway/perimeter.h"
#include <bpf/bpf_helpers.h>
#include <linux/bpf.h>

/* Inner-map templates: they fix key and value size of the tries the agent creates per
 * generation; max_entries of the real tries may differ (not part of the map-in-map check). */
struct hw_trie_v4 {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, HW_TRIE_MAX_DEFAULT);
	__type(key, struct hw_lpm_v4);
	__type(value, struct hw_rule_val);
};

struct hw_trie_v6 {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, HW_TRIE_MAX_DEFAULT);
	__type(key, struct hw_lpm_v6);
	__type(value, struct hw_rule_val);
};

/* A struct reached only through a map-in-map template gets a mere forward declaration in
 * the BTF clang emits, and libbpf then cannot size the inner map: these unused globals make
 * clang emit the full key and value structs. */
struct hw_lpm_v4 hw_btf_lpm_v4 __attribute__((unused));
struct hw_lpm_v6 hw_btf_lpm_v6 __attribute__((unused));
struct hw_rule_val hw_btf_rule_val __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, HW_RULESET_SLOTS);
	__type(key, __u32);
	__array(values, struct hw_trie_v4);
} rule_sets_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, HW_RULESET_SLOTS);
	__type(key, __u32);
	__array(values, struct hw_trie_v6);
} rule_sets_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hw_ruleset_ctl);
} ruleset_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HW_LRU_MAX_DEFAULT);
	__type(key, struct hw_src_v4);
	__type(value, struct hw_bucket);
} src_buckets_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HW_LRU_MAX_DEFAULT);
	__type(key, struct hw_src_v6);
	__type(value, struct hw_bucket);
} src_buckets_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HW_PROT_PORTS_MAX);
	__type(key, struct hw_port);
	__type(value, __u8);
} prot_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hw_perimeter_cfg);
} perimeter_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HW_VERDICT_COUNT);
	__type(key, __u32);
	__type(value, struct hw_verdict_stat);
} verdict_stats SEC(".maps");

#endif
