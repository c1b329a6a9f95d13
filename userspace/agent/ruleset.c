// SPDX-License-Identifier: Apache-2.0
/* Generation build and swap for the perimeter tries (SPEC §14.3 "Atomic swap"): new tries
 * are created and filled completely while the program keeps using the active generation;
 * one 32-bit store to ruleset_ctl.active_gen then switches every later packet to them. */
#include "agent/ruleset.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
/* Option structs are initialized by hand, { .sz = sizeof(...), ... }, rather than with
 * LIBBPF_OPTS: the same effect, and a static analyser can follow it. */
#include "common/log.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A packet that read the old active_gen may still be looking up the old slots; they are
 * overwritten only after this grace period (SPEC: at least 50 ms). */
#define HW_RETIRE_GRACE_NS 50000000ull

static const char *const trie_names[2][HW_RULESET_KINDS] = {
    {"allow_v4", "deny_v4"},
    {"allow_v6", "deny_v6"},
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int trie_create(const struct hw_perim_maps *m, int fam6, int kind)
{
	struct bpf_map_create_opts o = {.sz = sizeof(struct bpf_map_create_opts),
					.map_flags = BPF_F_NO_PREALLOC};
	if (m->btf_fd >= 0) {
		o.btf_fd = m->btf_fd;
		o.btf_key_type_id = fam6 ? m->btf_key_v6 : m->btf_key_v4;
		o.btf_value_type_id = m->btf_val;
	}
	uint32_t ksz = fam6 ? sizeof(struct hw_lpm_v6) : sizeof(struct hw_lpm_v4);
	int fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, trie_names[fam6][kind], ksz,
				sizeof(struct hw_rule_val),
				m->trie_max ? m->trie_max : HW_TRIE_MAX_DEFAULT, &o);
	return fd < 0 ? -errno : fd;
}

union lpm_key {
	struct hw_lpm_v4 v4;
	struct hw_lpm_v6 v6;
};

static void key_of(const struct hw_perim_rule *r, union lpm_key *k)
{
	memset(k, 0, sizeof(*k));
	if (r->family == 4) {
		k->v4.prefixlen = r->prefixlen;
		memcpy(k->v4.addr, r->addr, 4);
	} else {
		k->v6.prefixlen = r->prefixlen;
		memcpy(k->v6.addr, r->addr, 16);
	}
}

/* The trie answers only the longest match, so an expired entry would hide a live shorter one
 * of the same set (a ban inside a deny rule) until the next rebuild. An entry therefore
 * carries the expiry of the whole chain that covers it: after its own end the covering
 * entry decides, with the same action. Entries go in shortest first, so the longest match
 * already in the trie is the covering chain's. */
static uint64_t chained_expiry(int fd, const struct hw_perim_rule *r)
{
	union lpm_key k;
	struct hw_rule_val cover;
	key_of(r, &k);
	if (bpf_map_lookup_elem(fd, &k, &cover) < 0)
		return r->expires_ns; /* nothing covers it */
	if (cover.expires_ns == 0 || r->expires_ns == 0)
		return 0;
	return cover.expires_ns > r->expires_ns ? cover.expires_ns : r->expires_ns;
}

/* Inserts r; when its CIDR is already there (a rule and a ban on the same network), the
 * longer-lived entry stays so a permanent deny never inherits a ban's expiry. */
static int trie_insert(int fd, const struct hw_perim_rule *r)
{
	struct hw_rule_val v = {.origin = r->origin, .expires_ns = chained_expiry(fd, r)};
	struct hw_rule_val old;
	union lpm_key k;
	key_of(r, &k);
	if (bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (bpf_map_lookup_elem(fd, &k, &old) < 0)
		return -errno;
	if (old.expires_ns == 0 || (v.expires_ns != 0 && v.expires_ns <= old.expires_ns))
		return 0;
	return bpf_map_update_elem(fd, &k, &v, BPF_ANY) < 0 ? -errno : 0;
}

/* Pins fd at dir/name, replacing what was there: pinned under a temporary name first and
 * renamed, so the path never points at nothing. */
static int repin(const char *dir, const char *name, int fd)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/%s_new", dir, name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) < 0)
		return -errno;
	if (rename(tmp, path) == 0)
		return 0;
	unlink(path);
	int rc = rename(tmp, path) == 0 ? 0 : -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int hw_perim_maps_init(struct hw_perim_maps *m, struct bpf_object *obj, uint32_t trie_max,
		       const char *pin_dir)
{
	*m = (struct hw_perim_maps){.trie_max = trie_max, .pin_dir = pin_dir, .btf_fd = -1};
	m->rule_sets_v4 = bpf_object__find_map_fd_by_name(obj, "rule_sets_v4");
	m->rule_sets_v6 = bpf_object__find_map_fd_by_name(obj, "rule_sets_v6");
	m->ruleset_ctl = bpf_object__find_map_fd_by_name(obj, "ruleset_ctl");
	m->perimeter_cfg = bpf_object__find_map_fd_by_name(obj, "perimeter_cfg");
	m->prot_ports = bpf_object__find_map_fd_by_name(obj, "prot_ports");
	m->verdict_stats = bpf_object__find_map_fd_by_name(obj, "verdict_stats");
	if (m->rule_sets_v4 < 0 || m->rule_sets_v6 < 0 || m->ruleset_ctl < 0 ||
	    m->perimeter_cfg < 0 || m->prot_ports < 0 || m->verdict_stats < 0)
		return -ENOENT;
	const struct btf *btf = bpf_object__btf(obj);
	int k4 = btf ? btf__find_by_name_kind(btf, "hw_lpm_v4", BTF_KIND_STRUCT) : -1;
	int k6 = btf ? btf__find_by_name_kind(btf, "hw_lpm_v6", BTF_KIND_STRUCT) : -1;
	int val = btf ? btf__find_by_name_kind(btf, "hw_rule_val", BTF_KIND_STRUCT) : -1;
	if (k4 > 0 && k6 > 0 && val > 0 && bpf_object__btf_fd(obj) >= 0) {
		m->btf_fd = bpf_object__btf_fd(obj);
		m->btf_key_v4 = (uint32_t)k4;
		m->btf_key_v6 = (uint32_t)k6;
		m->btf_val = (uint32_t)val;
	}
	return 0;
}

int hw_perim_ctl_read(const struct hw_perim_maps *m, uint32_t *gen, uint64_t *version)
{
	uint32_t zero = 0;
	struct hw_ruleset_ctl ctl;
	if (bpf_map_lookup_elem(m->ruleset_ctl, &zero, &ctl) < 0)
		return -errno;
	if (gen)
		*gen = ctl.active_gen & 1;
	if (version)
		*version = ctl.version;
	return 0;
}

static int shorter_first(const void *a, const void *b)
{
	const struct hw_perim_rule *x = *(const struct hw_perim_rule *const *)a;
	const struct hw_perim_rule *y = *(const struct hw_perim_rule *const *)b;
	return (x->prefixlen > y->prefixlen) - (x->prefixlen < y->prefixlen);
}

/* The rules in insertion order for chained_expiry: shortest prefixes first. */
static const struct hw_perim_rule **by_prefix(const struct hw_perim_rule *rules, size_t n)
{
	const struct hw_perim_rule **o = malloc((n ? n : 1) * sizeof(*o));
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++)
		o[i] = &rules[i];
	qsort(o, n, sizeof(*o), shorter_first);
	return o;
}

int hw_perim_swap(struct hw_perim_maps *m, const struct hw_perim_rule *rules, size_t n,
		  uint64_t version)
{
	int fds[2][HW_RULESET_KINDS] = {{-1, -1}, {-1, -1}};
	const struct hw_perim_rule **order = NULL;
	uint32_t active = 0;
	int rc = hw_perim_ctl_read(m, &active, NULL);
	if (rc)
		return rc;
	uint32_t next = active ^ 1;

	for (int f = 0; f < 2; f++)
		for (int k = 0; k < HW_RULESET_KINDS; k++) {
			fds[f][k] = trie_create(m, f, k);
			if (fds[f][k] < 0) {
				rc = fds[f][k];
				goto out;
			}
		}
	order = by_prefix(rules, n);
	if (!order && n) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct hw_perim_rule *r = order[i];
		rc = trie_insert(fds[r->family == 6][r->allow ? HW_RULESET_ALLOW : HW_RULESET_DENY],
				 r);
		if (rc)
			goto out;
	}

	uint64_t since = mono_ns() - m->last_swap_ns;
	if (m->last_swap_ns && since < HW_RETIRE_GRACE_NS) {
		uint64_t wait = HW_RETIRE_GRACE_NS - since;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait};
		nanosleep(&ts, NULL);
	}
	for (int f = 0; f < 2; f++) {
		int outer = f ? m->rule_sets_v6 : m->rule_sets_v4;
		for (int k = 0; k < HW_RULESET_KINDS; k++) {
			uint32_t slot = next * HW_RULESET_KINDS + (uint32_t)k;
			if (bpf_map_update_elem(outer, &slot, &fds[f][k], BPF_ANY) < 0) {
				rc = -errno;
				goto out;
			}
		}
	}
	/* The switch: one value write, whose active_gen the program reads as one 32-bit load. */
	struct hw_ruleset_ctl ctl = {.active_gen = next, .version = version};
	uint32_t zero = 0;
	if (bpf_map_update_elem(m->ruleset_ctl, &zero, &ctl, BPF_ANY) < 0) {
		rc = -errno;
		goto out;
	}
	m->last_swap_ns = mono_ns();
	/* The switch is done; the pins only show the active tries to bpftool, so a failure to
	 * re-pin is reported, not returned as a failed swap. */
	if (m->pin_dir)
		for (int f = 0; f < 2; f++)
			for (int k = 0; k < HW_RULESET_KINDS; k++) {
				rc = repin(m->pin_dir, trie_names[f][k], fds[f][k]);
				if (rc)
					hw_log(HW_LOG_WARN, "agent: re-pinning %s/%s: %s",
					       m->pin_dir, trie_names[f][k], strerror(-rc));
			}
	rc = 0;
out:
	free(order);
	for (int f = 0; f < 2; f++)
		for (int k = 0; k < HW_RULESET_KINDS; k++)
			if (fds[f][k] >= 0)
				close(fds[f][k]);
	return rc;
}

int hw_perim_apply_cfg(const struct hw_perim_maps *m, const uint16_t *ports, size_t n_ports,
		       uint32_t syn_rate_per_s, uint32_t syn_burst, bool deny_scope_all)
{
	struct hw_perimeter_cfg cfg = {.syn_rate_per_s = syn_rate_per_s,
				       .syn_burst = syn_burst,
				       .flags = deny_scope_all ? HW_CFG_DENY_SCOPE_ALL : 0};
	uint32_t zero = 0;
	if (n_ports > HW_PROT_PORTS_MAX)
		return -E2BIG;
	/* Ports first, stale ones removed after: a port staying protected never has a gap. */
	for (size_t i = 0; i < n_ports; i++) {
		struct hw_port k = {.port = ports[i]};
		uint8_t one = 1;
		if (bpf_map_update_elem(m->prot_ports, &k, &one, BPF_ANY) < 0)
			return -errno;
	}
	struct hw_port cur, nxt;
	struct hw_port stale[HW_PROT_PORTS_MAX];
	size_t n_stale = 0;
	const void *prev = NULL;
	while (n_stale < HW_PROT_PORTS_MAX &&
	       bpf_map_get_next_key(m->prot_ports, prev, &nxt) == 0) {
		cur = nxt;
		prev = &cur;
		bool keep = false;
		for (size_t i = 0; i < n_ports; i++)
			keep = keep || ports[i] == cur.port;
		if (!keep)
			stale[n_stale++] = cur;
	}
	for (size_t i = 0; i < n_stale; i++)
		bpf_map_delete_elem(m->prot_ports, &stale[i]);
	if (bpf_map_update_elem(m->perimeter_cfg, &zero, &cfg, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int hw_perim_stats_read(const struct hw_perim_maps *m, struct hw_verdict_stat *out)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	struct hw_verdict_stat per[ncpu];
	for (uint32_t v = 0; v < HW_VERDICT_COUNT; v++) {
		out[v] = (struct hw_verdict_stat){0};
		if (bpf_map_lookup_elem(m->verdict_stats, &v, per) < 0)
			return -errno;
		for (int c = 0; c < ncpu; c++) {
			out[v].packets += per[c].packets;
			out[v].bytes += per[c].bytes;
		}
	}
	return 0;
}

void hw_perim_count(const struct hw_perim_rule *rules, size_t n, struct hw_perim_counts *c)
{
	*c = (struct hw_perim_counts){0};
	for (size_t i = 0; i < n; i++) {
		const struct hw_perim_rule *r = &rules[i];
		if (r->origin == HW_ORIGIN_AUTO_BAN || r->origin == HW_ORIGIN_MANUAL_BAN)
			c->bans++;
		else if (r->family == 4)
			*(r->allow ? &c->allow_v4 : &c->deny_v4) += 1;
		else
			*(r->allow ? &c->allow_v6 : &c->deny_v6) += 1;
	}
}
