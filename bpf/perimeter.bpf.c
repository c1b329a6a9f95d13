// SPDX-License-Identifier: GPL-2.0-only
/* The kernel perimeter (SPEC §14): one core verdict function over (data, data_end) and two
 * thin entry points, XDP and TC ingress, that map its verdict to the hook's action codes.
 * Only packet bytes are parsed, never kernel structs, so no vmlinux.h/CO-RE is needed: the
 * object loads unchanged on any kernel with the helpers below. */
#include "perimeter_bucket.h"
#include "perimeter_maps.h"
#include "perimeter_parse.h"
#include <bpf/bpf_helpers.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

char LICENSE[] SEC("license") = "GPL";

/* Test-only clock: 0 = bpf_ktime_get_ns(); tests set it through the skeleton's .bss so token
 * refill and expiry are checked deterministically. hiway-agent never writes it. */
__u64 test_clock_ns = 0;

static __always_inline __u64 hw_now(void)
{
	__u64 t = test_clock_ns;
	return t ? t : bpf_ktime_get_ns();
}

/* The clock is read only for an entry that can expire: most packets never pay for it. */
static __always_inline int hw_live(const struct hw_rule_val *v)
{
	return v && (v->expires_ns == 0 || hw_now() < v->expires_ns);
}

/* Looks p's source up in the active generation's tries: *allowed / *denied. */
static __always_inline void hw_match(const struct hw_pkt *p, __u32 gen, int *allowed, int *denied)
{
	__u32 allow_slot = gen * HW_RULESET_KINDS + HW_RULESET_ALLOW;
	__u32 deny_slot = gen * HW_RULESET_KINDS + HW_RULESET_DENY;
	void *allow, *deny;

	if (p->family == 4) {
		struct hw_lpm_v4 k = {.prefixlen = 32};
		__builtin_memcpy(k.addr, p->saddr, 4);
		allow = bpf_map_lookup_elem(&rule_sets_v4, &allow_slot);
		deny = bpf_map_lookup_elem(&rule_sets_v4, &deny_slot);
		*allowed = allow && hw_live(bpf_map_lookup_elem(allow, &k));
		*denied = !*allowed && deny && hw_live(bpf_map_lookup_elem(deny, &k));
	} else {
		struct hw_lpm_v6 k = {.prefixlen = 128};
		__builtin_memcpy(k.addr, p->saddr, 16);
		allow = bpf_map_lookup_elem(&rule_sets_v6, &allow_slot);
		deny = bpf_map_lookup_elem(&rule_sets_v6, &deny_slot);
		*allowed = allow && hw_live(bpf_map_lookup_elem(allow, &k));
		*denied = !*allowed && deny && hw_live(bpf_map_lookup_elem(deny, &k));
	}
}

static __always_inline int hw_port_protected(const struct hw_pkt *p)
{
	if (!p->has_l4)
		return 0;
	struct hw_port k = {.port = p->dport};
	return bpf_map_lookup_elem(&prot_ports, &k) != NULL;
}

static __always_inline int hw_syn_allowed(const struct hw_pkt *p, __u64 now,
					  const struct hw_perimeter_cfg *cfg)
{
	if (p->family == 4) {
		struct hw_src_v4 k;
		__builtin_memcpy(k.addr, p->saddr, 4);
		return hw_bucket_take(&src_buckets_v4, &k, now, cfg);
	}
	struct hw_src_v6 k;
	__builtin_memcpy(k.addr, p->saddr, 16);
	return hw_bucket_take(&src_buckets_v6, &k, now, cfg);
}

static __always_inline enum hw_verdict hw_decide(void *data, void *data_end)
{
	struct hw_pkt p = {};
	if (hw_parse(data, data_end, &p) != HW_PARSE_OK)
		return HW_VERDICT_PASS_UNPARSED;

	__u32 zero = 0;
	struct hw_ruleset_ctl *ctl = bpf_map_lookup_elem(&ruleset_ctl, &zero);
	struct hw_perimeter_cfg *cfg = bpf_map_lookup_elem(&perimeter_cfg, &zero);
	if (!ctl || !cfg)
		return HW_VERDICT_PASS;
	/* One read of active_gen per packet: both lookups use the same generation. */
	__u32 gen = *(volatile __u32 *)&ctl->active_gen & 1;
	int allowed = 0, denied = 0;
	hw_match(&p, gen, &allowed, &denied);
	if (allowed)
		return HW_VERDICT_PASS_ALLOWED;

	int syn = p.l4proto == IPPROTO_TCP &&
		  (p.tcp_flags & (HW_TCP_FLAG_SYN | HW_TCP_FLAG_ACK)) == HW_TCP_FLAG_SYN;
	/* Fast path for most traffic: neither denied nor a SYN the limit could apply to, so the
	 * port does not matter. */
	if (!denied && !(syn && cfg->syn_rate_per_s))
		return HW_VERDICT_PASS;
	int prot = hw_port_protected(&p);
	if (denied && ((cfg->flags & HW_CFG_DENY_SCOPE_ALL) || prot))
		return HW_VERDICT_DROP_DENY;
	if (prot && syn && cfg->syn_rate_per_s && !hw_syn_allowed(&p, hw_now(), cfg))
		return HW_VERDICT_DROP_RATELIMIT;
	return HW_VERDICT_PASS;
}

static __always_inline enum hw_verdict hw_perimeter_core(void *data, void *data_end, __u64 len)
{
	enum hw_verdict v = hw_decide(data, data_end);
	__u32 idx = v;
	struct hw_verdict_stat *st = bpf_map_lookup_elem(&verdict_stats, &idx);
	if (st) {
		st->packets++;
		st->bytes += len;
	}
	return v;
}

static __always_inline int hw_is_drop(enum hw_verdict v)
{
	return v == HW_VERDICT_DROP_DENY || v == HW_VERDICT_DROP_RATELIMIT;
}

SEC("xdp")
int hw_perimeter_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	enum hw_verdict v = hw_perimeter_core(data, data_end, (__u64)(data_end - data));
	return hw_is_drop(v) ? XDP_DROP : XDP_PASS;
}

/* Headers past the linear part of an skb would read as truncated: pull enough of them. */
#define HW_TC_PULL_LEN 128

SEC("tc")
int hw_perimeter_tc(struct __sk_buff *skb)
{
	__u32 want = skb->len < HW_TC_PULL_LEN ? skb->len : HW_TC_PULL_LEN;
	if ((long)skb->data_end - (long)skb->data < (long)want)
		bpf_skb_pull_data(skb, want);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	enum hw_verdict v = hw_perimeter_core(data, data_end, skb->len);
	return hw_is_drop(v) ? TC_ACT_SHOT : TC_ACT_OK;
}
