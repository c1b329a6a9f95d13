// SPDX-License-Identifier: Apache-2.0
/* Per-packet cost of the perimeter program, measured with BPF_PROG_TEST_RUN's repeat loop
 * (the kernel reports the mean run time) at a given number of rules per family. Prints one
 * line per packet kind: "<rules> <kind> <ns>". */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ruleset.h"
#include "hiway/perimeter.h"
#include "perimeter.skel.h"

#define PORT 8080

static int quiet(enum libbpf_print_level l, const char *f, va_list a)
{
	(void)l;
	(void)f;
	(void)a;
	return 0;
}

/* Ethernet + IPv4 + TCP, or Ethernet + IPv6 + TCP, from src to PORT with the given flags. */
static size_t frame(uint8_t *b, const char *src, uint8_t flags)
{
	int v6 = strchr(src, ':') != NULL;
	size_t l3 = 14, l4 = v6 ? 54 : 34;
	memset(b, 0, 128);
	b[12] = v6 ? 0x86 : 0x08;
	b[13] = v6 ? 0xDD : 0x00;
	if (v6) {
		b[l3] = 0x60;
		b[l3 + 5] = 20;
		b[l3 + 6] = IPPROTO_TCP;
		b[l3 + 7] = 64;
		inet_pton(AF_INET6, src, b + l3 + 8);
	} else {
		b[l3] = 0x45;
		b[l3 + 3] = 40;
		b[l3 + 8] = 64;
		b[l3 + 9] = IPPROTO_TCP;
		inet_pton(AF_INET, src, b + l3 + 12);
	}
	b[l4 + 2] = PORT >> 8;
	b[l4 + 3] = PORT & 0xff;
	b[l4 + 12] = 0x50;
	b[l4 + 13] = flags;
	return l4 + 20;
}

static uint32_t xs = 2463534242u;
static uint32_t rnd(void)
{
	xs ^= xs << 13;
	xs ^= xs >> 17;
	xs ^= xs << 5;
	return xs;
}

/* n deny rules per family with prefixes /16../32 (v4) and /32../128 (v6), none inside
 * 10.0.0.0/8 or fd00::/8 so the probe sources below stay unmatched; plus the denied probes. */
static struct hw_perim_rule *make_rules(size_t n, size_t *out_n)
{
	struct hw_perim_rule *r = calloc(2 * n + 2, sizeof(*r));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct hw_perim_rule *a = &r[k++];
		a->family = 4;
		a->origin = HW_ORIGIN_GLOBAL_RULE;
		a->prefixlen = 16 + rnd() % 17;
		uint32_t ip = rnd();
		if ((ip >> 24) == 10)
			ip ^= 0x80000000u;
		ip &= a->prefixlen == 32 ? ~0u : ~(~0u >> a->prefixlen);
		ip = htonl(ip);
		memcpy(a->addr, &ip, 4);
		struct hw_perim_rule *b = &r[k++];
		b->family = 6;
		b->origin = HW_ORIGIN_GLOBAL_RULE;
		b->prefixlen = 32 + rnd() % 97;
		for (int j = 0; j < 16; j++)
			b->addr[j] = (uint8_t)rnd();
		b->addr[0] = 0x20;
		for (uint32_t bit = b->prefixlen; bit < 128; bit++)
			b->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	}
	struct hw_perim_rule d4 = {.family = 4, .prefixlen = 32, .origin = 1};
	inet_pton(AF_INET, "10.66.0.1", d4.addr);
	struct hw_perim_rule d6 = {.family = 6, .prefixlen = 128, .origin = 1};
	inet_pton(AF_INET6, "fd66::1", d6.addr);
	r[k++] = d4;
	r[k++] = d6;
	*out_n = k;
	return r;
}

static double run(int fd, const uint8_t *b, size_t len, int repeat)
{
	struct bpf_test_run_opts o = {
	    .sz = sizeof(o), .data_in = b, .data_size_in = (uint32_t)len, .repeat = repeat};
	if (bpf_prog_test_run_opts(fd, &o) < 0) {
		perror("test run");
		exit(1);
	}
	return (double)o.duration;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: perimeter-cost RULES_PER_FAMILY REPEAT\n");
		return 2;
	}
	size_t n = strtoul(argv[1], NULL, 10);
	int repeat = atoi(argv[2]);
	libbpf_set_print(quiet);
	struct perimeter_bpf *skel = perimeter_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "cannot load BPF: %s\n", strerror(errno));
		return 1;
	}
	struct hw_perim_maps m;
	if (hw_perim_maps_init(&m, skel->obj, HW_TRIE_MAX_DEFAULT, NULL))
		return 1;
	uint16_t port = PORT;
	hw_perim_apply_cfg(&m, &port, 1, 20, 40, false);
	size_t nr;
	struct hw_perim_rule *rules = make_rules(n, &nr);
	int rc = hw_perim_swap(&m, rules, n ? nr : 0, 1);
	if (rc) {
		fprintf(stderr, "swap: %s\n", strerror(-rc));
		return 1;
	}
	struct {
		const char *kind, *src;
		uint8_t flags;
	} cases[] = {
	    {"v4_pass_ack", "10.1.2.3", 0x10},	 {"v4_drop_deny", "10.66.0.1", 0x02},
	    {"v4_syn_bucket", "10.1.2.4", 0x02}, {"v6_pass_ack", "fd00::3", 0x10},
	    {"v6_drop_deny", "fd66::1", 0x02},
	};
	int xdp = bpf_program__fd(skel->progs.hw_perimeter_xdp);
	/* The test-run loop's own cost, measured on "return XDP_PASS", to read the figures net. */
	struct bpf_insn pass[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	int empty = bpf_prog_load(BPF_PROG_TYPE_XDP, "hw_empty", "GPL", pass, 2, NULL);
	if (empty >= 0) {
		uint8_t b[128];
		size_t len = frame(b, "10.1.2.3", 0x10);
		double best = 1e18;
		for (int t = 0; t < 5; t++) {
			double d = run(empty, b, len, repeat);
			best = d < best ? d : best;
		}
		printf("%zu harness_only %.1f\n", n, best);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t b[128];
		size_t len = frame(b, cases[i].src, cases[i].flags);
		run(xdp, b, len, 1000); /* warm-up */
		double best = 1e18;
		for (int t = 0; t < 5; t++) {
			double d = run(xdp, b, len, repeat);
			best = d < best ? d : best;
		}
		printf("%zu %s %.1f\n", n, cases[i].kind, best);
	}
	free(rules);
	perimeter_bpf__destroy(skel);
	return 0;
}
