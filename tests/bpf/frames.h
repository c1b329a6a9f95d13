/* SPDX-License-Identifier: Apache-2.0 */
/* Crafted Ethernet frames for the perimeter tests: IPv4 (options, fragments, bad ihl) and
 * IPv6 (extension-header chains, fragments), with optional VLAN/QinQ tags, carrying TCP or
 * UDP. Built byte by byte so each test states exactly what the program is given. */
#ifndef HW_TESTS_BPF_FRAMES_H
#define HW_TESTS_BPF_FRAMES_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#define FR_MAX 512

struct frame_opts {
	const char *src; /* textual source address; its family picks IPv4 or IPv6 */
	int vlans;	 /* 0..3 tags */
	uint16_t tpid[3];
	uint8_t ihl;	   /* IPv4 only; 0 = 5 */
	uint16_t frag_off; /* IPv4: the 13-bit offset in 8-byte units; IPv6: same in the frag hdr */
	int v6_frag;	   /* IPv6: insert a fragment header */
	const uint8_t *v6_ext; /* IPv6: extension header next-header values before the frag/L4 */
	int n_v6_ext;
	uint8_t proto; /* 0 = TCP */
	uint16_t dport;
	uint8_t tcp_flags; /* 0 = SYN */
};

static inline void fr_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Returns the frame length written into buf (FR_MAX bytes). */
static inline size_t frame_build(uint8_t *buf, const struct frame_opts *o)
{
	uint8_t a[16];
	int v6 = strchr(o->src, ':') != NULL;
	inet_pton(v6 ? AF_INET6 : AF_INET, o->src, a);
	uint8_t proto = o->proto ? o->proto : IPPROTO_TCP;
	size_t n = 0;

	memset(buf, 0, FR_MAX);
	memcpy(buf, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	n = 12;
	for (int i = 0; i < o->vlans; i++) {
		fr_put16(buf + n, o->tpid[i] ? o->tpid[i] : 0x8100);
		fr_put16(buf + n + 2, (uint16_t)(100 + i));
		n += 4;
	}
	fr_put16(buf + n, v6 ? 0x86DD : 0x0800);
	n += 2;

	size_t l3 = n;
	if (!v6) {
		uint8_t ihl = o->ihl ? o->ihl : 5;
		buf[n] = (uint8_t)(0x40 | (ihl & 0x0f));
		buf[n + 8] = 64;
		buf[n + 9] = proto;
		fr_put16(buf + n + 6, o->frag_off & 0x1fff);
		memcpy(buf + n + 12, a, 4);
		memcpy(buf + n + 16, "\x0a\x63\x00\x01", 4);
		for (size_t i = 20; i < (size_t)ihl * 4; i++)
			buf[n + i] = 1; /* IPv4 NOP options */
		n += (ihl >= 5 ? (size_t)ihl * 4 : 20);
	} else {
		buf[n] = 0x60;
		buf[n + 7] = 64;
		memcpy(buf + n + 8, a, 16);
		buf[n + 24 + 15] = 1;
		uint8_t *nh = buf + n + 6;
		n += 40;
		for (int i = 0; i < o->n_v6_ext; i++) {
			*nh = o->v6_ext[i];
			nh = buf + n;
			/* AH counts its length in 4-byte units minus 2; the others in 8-byte units
			 * minus 1: both encode 16 bytes here. */
			buf[n + 1] = o->v6_ext[i] == IPPROTO_AH ? 2 : 1;
			n += 16;
		}
		if (o->v6_frag) {
			*nh = IPPROTO_FRAGMENT;
			nh = buf + n;
			fr_put16(buf + n + 2, (uint16_t)((o->frag_off << 3) | 1));
			n += 8;
		}
		*nh = proto;
	}
	uint16_t plen = 0;
	if (proto == IPPROTO_TCP) {
		fr_put16(buf + n, 40000);
		fr_put16(buf + n + 2, o->dport);
		buf[n + 12] = 0x50;
		buf[n + 13] = o->tcp_flags ? o->tcp_flags : 0x02;
		n += 20;
	} else if (proto == IPPROTO_UDP) {
		fr_put16(buf + n, 40000);
		fr_put16(buf + n + 2, o->dport);
		fr_put16(buf + n + 4, 8);
		n += 8;
	}
	plen = (uint16_t)(n - l3);
	if (!v6)
		fr_put16(buf + l3 + 2, plen);
	else
		fr_put16(buf + l3 + 4, (uint16_t)(plen - 40));
	return n;
}

#endif
