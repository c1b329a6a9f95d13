/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* Packet parsing for the perimeter (SPEC §14.2): Ethernet, up to two VLAN tags, IPv4 with
 * options, IPv6 with up to six extension headers, then the TCP/UDP destination port. Every
 * read is preceded by a bounds check against data_end; anything short is "unparsed". */
#ifndef HIWAY_BPF_PERIMETER_PARSE_H
#define HIWAY_BPF_PERIMETER_PARSE_H

#include "hiway/perimeter.h"
#include <bpf/bpf_endian.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#define HW_ETH_P_8021Q 0x8100
#define HW_ETH_P_8021AD 0x88A8
#define HW_TCP_FLAG_SYN 0x02
#define HW_TCP_FLAG_ACK 0x10

struct hw_pkt {
	__u8 family; /* 4 or 6 */
	__u8 has_l4; /* dport and tcp_flags are valid */
	__u8 l4proto;
	__u8 tcp_flags;
	__u16 dport;	/* host order */
	__u8 saddr[16]; /* v4 uses the first 4 bytes */
};

struct hw_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* The generic IPv6 extension header prefix (hop-by-hop, routing, destination options, AH). */
struct hw_ipv6_opt_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct hw_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

enum hw_parse_rc { HW_PARSE_OK = 0, HW_PARSE_UNPARSED = 1 };

/* Reads the destination port (and TCP flags) at cur; a truncated L4 header is unparsed. */
static __always_inline int hw_parse_l4(void *cur, void *end, __u8 proto, struct hw_pkt *p)
{
	p->l4proto = proto;
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = cur;
		if ((void *)(th + 1) > end)
			return HW_PARSE_UNPARSED;
		p->dport = bpf_ntohs(th->dest);
		p->tcp_flags = ((__u8 *)th)[13];
		p->has_l4 = 1;
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = cur;
		if ((void *)(uh + 1) > end)
			return HW_PARSE_UNPARSED;
		p->dport = bpf_ntohs(uh->dest);
		p->has_l4 = 1;
	}
	return HW_PARSE_OK;
}

static __always_inline int hw_parse_ipv4(void *cur, void *end, struct hw_pkt *p)
{
	struct iphdr *ip = cur;
	if ((void *)(ip + 1) > end)
		return HW_PARSE_UNPARSED;
	if (ip->version != 4 || ip->ihl < 5)
		return HW_PARSE_UNPARSED;
	__u32 hlen = (__u32)ip->ihl * 4;
	if (cur + hlen > end)
		return HW_PARSE_UNPARSED;
	p->family = 4;
	__builtin_memcpy(p->saddr, &ip->saddr, 4);
	/* A non-first fragment starts mid-payload: it has no L4 header to read. */
	if (bpf_ntohs(ip->frag_off) & 0x1fff)
		return HW_PARSE_OK;
	return hw_parse_l4(cur + hlen, end, ip->protocol, p);
}

static __always_inline int hw_parse_ipv6(void *cur, void *end, struct hw_pkt *p)
{
	struct ipv6hdr *ip6 = cur;
	if ((void *)(ip6 + 1) > end)
		return HW_PARSE_UNPARSED;
	if (ip6->version != 6)
		return HW_PARSE_UNPARSED;
	p->family = 6;
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	__u8 nh = ip6->nexthdr;
	cur = ip6 + 1;

#pragma unroll
	for (int i = 0; i < HW_IPV6_EXT_MAX; i++) {
		if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
			struct hw_ipv6_opt_hdr *oh = cur;
			if ((void *)(oh + 1) > end)
				return HW_PARSE_UNPARSED;
			nh = oh->nexthdr;
			cur += ((__u32)oh->hdrlen + 1) * 8;
		} else if (nh == IPPROTO_AH) {
			struct hw_ipv6_opt_hdr *oh = cur;
			if ((void *)(oh + 1) > end)
				return HW_PARSE_UNPARSED;
			nh = oh->nexthdr;
			cur += ((__u32)oh->hdrlen + 2) * 4;
		} else if (nh == IPPROTO_FRAGMENT) {
			struct hw_ipv6_frag_hdr *fh = cur;
			if ((void *)(fh + 1) > end)
				return HW_PARSE_UNPARSED;
			if (bpf_ntohs(fh->frag_off) & 0xfff8)
				return HW_PARSE_OK; /* non-first fragment: no L4 information */
			nh = fh->nexthdr;
			cur = fh + 1;
		} else {
			return hw_parse_l4(cur, end, nh, p);
		}
	}
	/* A seventh extension header: beyond what the perimeter reads. */
	if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	    nh == IPPROTO_AH || nh == IPPROTO_FRAGMENT)
		return HW_PARSE_UNPARSED;
	return hw_parse_l4(cur, end, nh, p);
}

/* Fills p from the frame in [data, data_end); HW_PARSE_UNPARSED when it is neither IPv4 nor
 * IPv6 or is cut short anywhere. */
static __always_inline int hw_parse(void *data, void *end, struct hw_pkt *p)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return HW_PARSE_UNPARSED;
	__u16 proto = bpf_ntohs(eth->h_proto);
	void *cur = eth + 1;

#pragma unroll
	for (int i = 0; i < HW_VLAN_MAX; i++) {
		if (proto != HW_ETH_P_8021Q && proto != HW_ETH_P_8021AD)
			break;
		struct hw_vlan_hdr *vh = cur;
		if ((void *)(vh + 1) > end)
			return HW_PARSE_UNPARSED;
		proto = bpf_ntohs(vh->proto);
		cur = vh + 1;
	}
	if (proto == ETH_P_IP)
		return hw_parse_ipv4(cur, end, p);
	if (proto == ETH_P_IPV6)
		return hw_parse_ipv6(cur, end, p);
	return HW_PARSE_UNPARSED;
}

#endif
