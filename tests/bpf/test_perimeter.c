// SPDX-License-Identifier: Apache-2.0
/* The perimeter programs under BPF_PROG_TEST_RUN (SPEC §14.2, §14.3): crafted frames go
 * through both entry points (XDP and TC) of a freshly loaded object per test, with rule
 * generations built and swapped by the agent's own ruleset code. Skips, not fails, where
 * BPF cannot be loaded (not root, no CAP_BPF). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "agent/ruleset.h"
#include "frames.h"
#include "hiway/perimeter.h"
#include "perimeter.skel.h"

#define PORT 8080

static int bpf_usable = -1;

struct fx {
	struct perimeter_bpf *skel;
	struct hw_perim_maps maps;
	int xdp, tc;
	struct hw_verdict_stat before[HW_VERDICT_COUNT];
};

static int silent(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	(void)lvl;
	(void)fmt;
	(void)ap;
	return 0;
}

static int setup(void **state)
{
	if (bpf_usable == 0) {
		*state = NULL;
		return 0;
	}
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->skel = perimeter_bpf__open_and_load();
	if (!f->skel) {
		if (bpf_usable == -1)
			fprintf(stderr,
				"perimeter BPF tests skipped: cannot load BPF (%s); they need "
				"root or CAP_BPF+CAP_NET_ADMIN\n",
				strerror(errno));
		bpf_usable = 0;
		free(f);
		*state = NULL;
		return 0;
	}
	bpf_usable = 1;
	assert_int_equal(hw_perim_maps_init(&f->maps, f->skel->obj, 1024, NULL), 0);
	f->xdp = bpf_program__fd(f->skel->progs.hw_perimeter_xdp);
	f->tc = bpf_program__fd(f->skel->progs.hw_perimeter_tc);
	uint16_t port = PORT;
	assert_int_equal(hw_perim_apply_cfg(&f->maps, &port, 1, 0, 0, false), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f) {
		perimeter_bpf__destroy(f->skel);
		free(f);
	}
	return 0;
}

#define FX()                                                                                       \
	struct fx *f = *state;                                                                     \
	if (!f)                                                                                    \
		skip();

static struct hw_perim_rule rule(const char *cidr, bool allow)
{
	struct hw_perim_rule r = {.allow = allow, .origin = HW_ORIGIN_GLOBAL_RULE};
	char a[64];
	snprintf(a, sizeof(a), "%s", cidr);
	char *slash = strchr(a, '/');
	*slash = '\0';
	r.prefixlen = (uint32_t)atoi(slash + 1);
	r.family = strchr(a, ':') ? 6 : 4;
	inet_pton(r.family == 6 ? AF_INET6 : AF_INET, a, r.addr);
	return r;
}

/* Runs one frame through prog; returns the program's return code. */
static int run_prog(int prog, const uint8_t *buf, size_t len)
{
	struct bpf_test_run_opts o = {.sz = sizeof(struct bpf_test_run_opts),
				      .data_in = buf,
				      .data_size_in = (uint32_t)len,
				      .repeat = 1};
	int rc = bpf_prog_test_run_opts(prog, &o);
	if (rc)
		fail_msg("test run (prog fd %d) of a %zu-byte frame: %s", prog, len,
			 strerror(errno));
	return (int)o.retval;
}

static void stats(struct fx *f, struct hw_verdict_stat *out)
{
	assert_int_equal(hw_perim_stats_read(&f->maps, out), 0);
}

static bool is_drop(enum hw_verdict v)
{
	return v == HW_VERDICT_DROP_DENY || v == HW_VERDICT_DROP_RATELIMIT;
}

/* Checks both entry points give the action of verdict v, and that v's counter (and no other)
 * moved by one packet per program. */
static void expect_on(struct fx *f, const uint8_t *buf, size_t len, enum hw_verdict v, bool tc)
{
	struct hw_verdict_stat a[HW_VERDICT_COUNT], b[HW_VERDICT_COUNT];
	stats(f, a);
	assert_int_equal(run_prog(f->xdp, buf, len), is_drop(v) ? XDP_DROP : XDP_PASS);
	int runs = 1;
	if (tc) {
		assert_int_equal(run_prog(f->tc, buf, len), is_drop(v) ? TC_ACT_SHOT : TC_ACT_OK);
		runs = 2;
	}
	stats(f, b);
	for (int i = 0; i < HW_VERDICT_COUNT; i++) {
		uint64_t d = b[i].packets - a[i].packets;
		if (d != (i == (int)v ? (uint64_t)runs : 0))
			fail_msg("verdict %d counted %llu packets, expected verdict %d", i,
				 (unsigned long long)d, v);
	}
	assert_int_equal(b[v].bytes - a[v].bytes, (uint64_t)len * (uint64_t)runs);
}

static void expect(struct fx *f, const struct frame_opts *o, enum hw_verdict v)
{
	uint8_t buf[FR_MAX];
	size_t len = frame_build(buf, o);
	expect_on(f, buf, len, v, true);
}

static void swap(struct fx *f, const struct hw_perim_rule *r, size_t n)
{
	assert_int_equal(hw_perim_swap(&f->maps, r, n, 1), 0);
}

static void test_no_rules_passes(void **state)
{
	FX();
	expect(f, &(struct frame_opts){.src = "10.1.2.3", .dport = PORT}, HW_VERDICT_PASS);
	expect(f, &(struct frame_opts){.src = "fd00::5", .dport = PORT}, HW_VERDICT_PASS);
}

static void test_deny_v4_v6(void **state)
{
	FX();
	struct hw_perim_rule r[] = {rule("10.9.0.0/16", false), rule("fd00:bad::/32", false)};
	swap(f, r, 2);
	expect(f, &(struct frame_opts){.src = "10.9.3.4", .dport = PORT}, HW_VERDICT_DROP_DENY);
	expect(f, &(struct frame_opts){.src = "10.8.3.4", .dport = PORT}, HW_VERDICT_PASS);
	expect(f, &(struct frame_opts){.src = "fd00:bad::1", .dport = PORT}, HW_VERDICT_DROP_DENY);
	expect(f, &(struct frame_opts){.src = "fd00:bae::1", .dport = PORT}, HW_VERDICT_PASS);
	/* UDP to the protected port is dropped too: the port, not the protocol, is protected. */
	expect(f, &(struct frame_opts){.src = "10.9.3.4", .dport = PORT, .proto = IPPROTO_UDP},
	       HW_VERDICT_DROP_DENY);
}

static void test_allow_beats_deny(void **state)
{
	FX();
	/* The allow is the shorter prefix: allow wins regardless of prefix length or order. */
	struct hw_perim_rule r[] = {rule("10.9.9.9/32", false), rule("10.0.0.0/8", true),
				    rule("fd00::/16", true), rule("fd00::1/128", false)};
	swap(f, r, 4);
	expect(f, &(struct frame_opts){.src = "10.9.9.9", .dport = PORT}, HW_VERDICT_PASS_ALLOWED);
	expect(f, &(struct frame_opts){.src = "fd00::1", .dport = PORT}, HW_VERDICT_PASS_ALLOWED);
	expect(f, &(struct frame_opts){.src = "11.0.0.1", .dport = PORT}, HW_VERDICT_PASS);
}

static void test_longest_prefix(void **state)
{
	FX();
	/* Within one trie the longest prefix gives the entry: a live /32 inside an expired /16
	 * still drops while the rest of the /16 passes. An expired /24 inside a live /8 is
	 * absent (SPEC §14.3), so the /8 decides: the agent gives an entry the expiry of the
	 * chain that covers it, since the trie answers only the longest match. */
	struct hw_perim_rule r[] = {rule("10.0.0.0/8", false), rule("10.1.1.0/24", false),
				    rule("11.2.0.0/16", false), rule("11.2.0.7/32", false)};
	r[1].expires_ns = 1000;
	r[2].expires_ns = 1000;
	swap(f, r, 4);
	f->skel->bss->test_clock_ns = 5000;
	expect(f, &(struct frame_opts){.src = "10.1.1.1", .dport = PORT}, HW_VERDICT_DROP_DENY);
	expect(f, &(struct frame_opts){.src = "10.1.2.1", .dport = PORT}, HW_VERDICT_DROP_DENY);
	expect(f, &(struct frame_opts){.src = "11.2.0.7", .dport = PORT}, HW_VERDICT_DROP_DENY);
	expect(f, &(struct frame_opts){.src = "11.2.0.8", .dport = PORT}, HW_VERDICT_PASS);
}

static void test_expiry(void **state)
{
	FX();
	struct hw_perim_rule r[] = {rule("10.5.0.0/16", false)};
	r[0].expires_ns = 2000000000ull;
	swap(f, r, 1);
	f->skel->bss->test_clock_ns = 1999999999ull;
	expect(f, &(struct frame_opts){.src = "10.5.0.1", .dport = PORT}, HW_VERDICT_DROP_DENY);
	f->skel->bss->test_clock_ns = 2000000000ull;
	expect(f, &(struct frame_opts){.src = "10.5.0.1", .dport = PORT}, HW_VERDICT_PASS);
}

static void test_deny_scope(void **state)
{
	FX();
	struct hw_perim_rule r[] = {rule("10.9.0.0/16", false)};
	swap(f, r, 1);
	struct frame_opts other = {.src = "10.9.0.1", .dport = 22};
	expect(f, &other, HW_VERDICT_PASS);
	uint16_t port = PORT;
	assert_int_equal(hw_perim_apply_cfg(&f->maps, &port, 1, 0, 0, true), 0);
	expect(f, &other, HW_VERDICT_DROP_DENY);
	/* Scope all drops what has no port at all (ICMP) too. */
	expect(f, &(struct frame_opts){.src = "10.9.0.1", .proto = IPPROTO_ICMP},
	       HW_VERDICT_DROP_DENY);
	/* Port list replaced: 8080 no longer protected, 9090 is. */
	port = 9090;
	assert_int_equal(hw_perim_apply_cfg(&f->maps, &port, 1, 0, 0, false), 0);
	expect(f, &(struct frame_opts){.src = "10.9.0.1", .dport = PORT}, HW_VERDICT_PASS);
	expect(f, &(struct frame_opts){.src = "10.9.0.1", .dport = 9090}, HW_VERDICT_DROP_DENY);
}

static void test_vlan_qinq(void **state)
{
	FX();
	struct hw_perim_rule r[] = {rule("10.9.0.0/16", false), rule("fd00:bad::/32", false)};
	swap(f, r, 2);
	expect(f, &(struct frame_opts){.src = "10.9.0.1", .dport = PORT, .vlans = 1},
	       HW_VERDICT_DROP_DENY);
	expect(f,
	       &(struct frame_opts){
		   .src = "fd00:bad::2", .dport = PORT, .vlans = 2, .tpid = {0x88A8, 0x8100}},
	       HW_VERDICT_DROP_DENY);
	/* A third tag is beyond the parser: unparsed, passed. */
	expect(f, &(struct frame_opts){.src = "10.9.0.1", .dport = PORT, .vlans = 3},
	       HW_VERDICT_PASS_UNPARSED);
}

static void test_ipv4_options_and_bad_ihl(void **state)
{
	FX();
	struct hw_perim_rule r[] = {rule("10.9.0.0/16", false)};
	swap(f, r, 1);
	/* With 40 bytes of options the TCP header sits at offset 60: the port is still found. */
	expect(f, &(struct frame_opts){.src = "10.9.0.1", .dport = PORT, .ihl = 15},
	       HW_VERDICT_DROP_DENY);
	expect(f, &(struct frame_opts){.src = "10.9.0.1", .dport = 22, .ihl = 15}, HW_VERDICT_PASS);
	expect(f, &(struct frame_opts){.src = "10.9.0.1", .dport = PORT, .ihl = 4},
	       HW_VERDICT_PASS_UNPARSED);
	expect(f, &(struct frame_opts){.src = "10.9.0.1", .dport = PORT, .ihl = 1},
	       HW_VERDICT_PASS_UNPARSED);
}

static void test_ipv6_ext_chain(void **state)
{
	FX();
	struct hw_perim_rule r[] = {rule("fd00:bad::/32", false)};
	swap(f, r, 1);
	const uint8_t chain[] = {IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_AH,
				 IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS};
	for (int n = 0; n <= 6; n++)
		expect(f,
		       &(struct frame_opts){
			   .src = "fd00:bad::1", .dport = PORT, .v6_ext = chain, .n_v6_ext = n},
		       HW_VERDICT_DROP_DENY);
	/* The port is read after the chain: a different one behind five headers is not protected.
	 */
	expect(
	    f,
	    &(struct frame_opts){.src = "fd00:bad::1", .dport = 22, .v6_ext = chain, .n_v6_ext = 5},
	    HW_VERDICT_PASS);
	/* Five headers plus a fragment header is six; seven is beyond the parser. */
	expect(
	    f,
	    &(struct frame_opts){
		.src = "fd00:bad::1", .dport = PORT, .v6_ext = chain, .n_v6_ext = 5, .v6_frag = 1},
	    HW_VERDICT_DROP_DENY);
	expect(f,
	       &(struct frame_opts){
		   .src = "fd00:bad::1", .dport = PORT, .v6_ext = chain, .n_v6_ext = 7},
	       HW_VERDICT_PASS_UNPARSED);
}

static void test_fragments(void **state)
{
	FX();
	struct hw_perim_rule r[] = {rule("10.9.0.0/16", false), rule("fd00:bad::/32", false)};
	swap(f, r, 2);
	/* First fragments carry the TCP header; later ones do not, and the bytes where a header
	 * would be (here a copy saying port 8080) must not be read as one. */
	expect(f, &(struct frame_opts){.src = "10.9.0.1", .dport = PORT}, HW_VERDICT_DROP_DENY);
	expect(f, &(struct frame_opts){.src = "10.9.0.1", .dport = PORT, .frag_off = 100},
	       HW_VERDICT_PASS);
	expect(f, &(struct frame_opts){.src = "fd00:bad::1", .dport = PORT, .v6_frag = 1},
	       HW_VERDICT_DROP_DENY);
	expect(f,
	       &(struct frame_opts){
		   .src = "fd00:bad::1", .dport = PORT, .v6_frag = 1, .frag_off = 100},
	       HW_VERDICT_PASS);
	/* With deny_scope all a non-first fragment of a denied source is dropped: the source is
	 * known even when the port is not. */
	uint16_t port = PORT;
	assert_int_equal(hw_perim_apply_cfg(&f->maps, &port, 1, 0, 0, true), 0);
	expect(f, &(struct frame_opts){.src = "10.9.0.1", .dport = PORT, .frag_off = 100},
	       HW_VERDICT_DROP_DENY);
}

/* Every prefix of a valid frame that ends inside the headers is unparsed, never misread; the
 * source is denied with scope all so a misread would show as a drop. */
static void test_truncated(void **state)
{
	FX();
	struct hw_perim_rule r[] = {rule("0.0.0.0/0", false), rule("::/0", false)};
	swap(f, r, 2);
	uint16_t port = PORT;
	assert_int_equal(hw_perim_apply_cfg(&f->maps, &port, 1, 0, 0, false), 0);
	const uint8_t chain[] = {IPPROTO_HOPOPTS, IPPROTO_AH};
	int tc_runs = 0;
	struct frame_opts cases[] = {
	    {.src = "10.9.0.1", .dport = PORT},
	    {.src = "10.9.0.1", .dport = PORT, .ihl = 8, .vlans = 2},
	    {.src = "fd00::1", .dport = PORT, .v6_ext = chain, .n_v6_ext = 2, .v6_frag = 1},
	    {.src = "10.9.0.1", .dport = PORT, .proto = IPPROTO_UDP},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint8_t buf[FR_MAX];
		size_t len = frame_build(buf, &cases[c]);
		/* The test-run interface refuses frames of 14 bytes or fewer. */
		for (size_t cut = 15; cut < len; cut++) {
			expect_on(f, buf, cut, HW_VERDICT_PASS_UNPARSED, false);
			/* The skb test run refuses some short IP frames itself (EINVAL); the
			 * ones it accepts must pass the TC program too. */
			struct bpf_test_run_opts o = {.sz = sizeof(struct bpf_test_run_opts),
						      .data_in = buf,
						      .data_size_in = (uint32_t)cut,
						      .repeat = 1};
			if (bpf_prog_test_run_opts(f->tc, &o) == 0) {
				assert_int_equal(o.retval, TC_ACT_OK);
				tc_runs++;
			}
		}
		expect_on(f, buf, len, HW_VERDICT_DROP_DENY, true);
	}
	assert_true(tc_runs > 0);
}

/* Random bytes, and random mutations of a valid frame: the program always answers, counts
 * every packet once, and a random EtherType is unparsed. */
static void test_garbage(void **state)
{
	FX();
	struct hw_perim_rule r[] = {rule("0.0.0.0/0", false), rule("::/0", false)};
	swap(f, r, 2);
	srand(7);
	struct hw_verdict_stat a[HW_VERDICT_COUNT], b[HW_VERDICT_COUNT];
	stats(f, a);
	int runs = 0;
	for (int i = 0; i < 2000; i++) {
		uint8_t buf[FR_MAX] = {0};
		size_t len;
		if (i % 2) {
			len = frame_build(
			    buf, &(struct frame_opts){.src = i % 4 == 1 ? "10.1.1.1" : "fd00::1",
						      .dport = PORT,
						      .ihl = 6});
			for (int k = 0; k < 4; k++)
				buf[14 + (size_t)rand() % (len - 14)] = (uint8_t)rand();
		} else {
			len = 15 + (size_t)rand() % 120;
			for (size_t k = 0; k < len; k++)
				buf[k] = (uint8_t)rand();
			if (buf[12] == 0x08 || buf[12] == 0x86 || buf[12] == 0x81 ||
			    buf[12] == 0x88)
				buf[12] = 0x12;
			assert_int_equal(run_prog(f->xdp, buf, len), XDP_PASS);
			assert_int_equal(run_prog(f->tc, buf, len), TC_ACT_OK);
			runs += 2;
			continue;
		}
		int x = run_prog(f->xdp, buf, len);
		assert_true(x == XDP_PASS || x == XDP_DROP);
		int t = run_prog(f->tc, buf, len);
		assert_true((x == XDP_DROP) == (t == TC_ACT_SHOT));
		runs += 2;
	}
	stats(f, b);
	uint64_t total = 0;
	for (int v = 0; v < HW_VERDICT_COUNT; v++)
		total += b[v].packets - a[v].packets;
	assert_int_equal(total, (uint64_t)runs);
	assert_true(b[HW_VERDICT_PASS_UNPARSED].packets - a[HW_VERDICT_PASS_UNPARSED].packets >=
		    2000);
}

static void syn_xdp(struct fx *f, const char *src, enum hw_verdict v)
{
	uint8_t buf[FR_MAX];
	size_t len = frame_build(buf, &(struct frame_opts){.src = src, .dport = PORT});
	expect_on(f, buf, len, v, false);
}

static void test_syn_rate_limit(void **state)
{
	FX();
	uint16_t port = PORT;
	assert_int_equal(hw_perim_apply_cfg(&f->maps, &port, 1, 10, 3, false), 0);
	f->skel->bss->test_clock_ns = 1000000000ull;
	for (int i = 0; i < 3; i++)
		syn_xdp(f, "10.7.0.1", HW_VERDICT_PASS);
	syn_xdp(f, "10.7.0.1", HW_VERDICT_DROP_RATELIMIT);
	/* Another source has its own full bucket; non-SYN and SYN-ACK are never limited. */
	syn_xdp(f, "10.7.0.2", HW_VERDICT_PASS);
	uint8_t buf[FR_MAX];
	size_t len = frame_build(
	    buf, &(struct frame_opts){.src = "10.7.0.1", .dport = PORT, .tcp_flags = 0x10});
	expect_on(f, buf, len, HW_VERDICT_PASS, false);
	len = frame_build(
	    buf, &(struct frame_opts){.src = "10.7.0.1", .dport = PORT, .tcp_flags = 0x12});
	expect_on(f, buf, len, HW_VERDICT_PASS, false);
	/* An unprotected port is not limited. */
	len = frame_build(buf, &(struct frame_opts){.src = "10.7.0.1", .dport = 22});
	expect_on(f, buf, len, HW_VERDICT_PASS, false);
	/* 10/s: 99 ms refills 990 milli-tokens (not enough), 100 ms one token. */
	f->skel->bss->test_clock_ns += 99000000ull;
	syn_xdp(f, "10.7.0.1", HW_VERDICT_DROP_RATELIMIT);
	f->skel->bss->test_clock_ns += 1000000ull;
	syn_xdp(f, "10.7.0.1", HW_VERDICT_PASS);
	syn_xdp(f, "10.7.0.1", HW_VERDICT_DROP_RATELIMIT);
	/* A long pause refills only up to the burst. */
	f->skel->bss->test_clock_ns += 3600ull * 1000000000ull;
	for (int i = 0; i < 3; i++)
		syn_xdp(f, "10.7.0.1", HW_VERDICT_PASS);
	syn_xdp(f, "10.7.0.1", HW_VERDICT_DROP_RATELIMIT);
	/* IPv6 sources have their own buckets. */
	for (int i = 0; i < 3; i++)
		syn_xdp(f, "fd00::77", HW_VERDICT_PASS);
	syn_xdp(f, "fd00::77", HW_VERDICT_DROP_RATELIMIT);
}

static void test_syn_limit_exemptions(void **state)
{
	FX();
	uint16_t port = PORT;
	assert_int_equal(hw_perim_apply_cfg(&f->maps, &port, 1, 10, 1, false), 0);
	struct hw_perim_rule r[] = {rule("10.6.0.0/16", true)};
	swap(f, r, 1);
	f->skel->bss->test_clock_ns = 1000000000ull;
	/* Allowed sources are exempt. */
	for (int i = 0; i < 5; i++)
		syn_xdp(f, "10.6.0.1", HW_VERDICT_PASS_ALLOWED);
	/* rate 0 disables the limit. */
	assert_int_equal(hw_perim_apply_cfg(&f->maps, &port, 1, 0, 1, false), 0);
	for (int i = 0; i < 5; i++)
		syn_xdp(f, "10.5.0.1", HW_VERDICT_PASS);
}

static void test_atomic_swap(void **state)
{
	FX();
	uint32_t g0, g1, g2;
	uint64_t ver;
	assert_int_equal(hw_perim_ctl_read(&f->maps, &g0, NULL), 0);
	struct hw_perim_rule a[] = {rule("10.1.0.0/16", false)};
	struct hw_perim_rule b[] = {rule("10.2.0.0/16", false)};
	assert_int_equal(hw_perim_swap(&f->maps, a, 1, 41), 0);
	assert_int_equal(hw_perim_ctl_read(&f->maps, &g1, &ver), 0);
	assert_int_not_equal(g0, g1);
	assert_int_equal(ver, 41);
	expect(f, &(struct frame_opts){.src = "10.1.0.1", .dport = PORT}, HW_VERDICT_DROP_DENY);
	expect(f, &(struct frame_opts){.src = "10.2.0.1", .dport = PORT}, HW_VERDICT_PASS);
	assert_int_equal(hw_perim_swap(&f->maps, b, 1, 42), 0);
	assert_int_equal(hw_perim_ctl_read(&f->maps, &g2, &ver), 0);
	assert_int_equal(g2, g0);
	expect(f, &(struct frame_opts){.src = "10.1.0.1", .dport = PORT}, HW_VERDICT_PASS);
	expect(f, &(struct frame_opts){.src = "10.2.0.1", .dport = PORT}, HW_VERDICT_DROP_DENY);

	/* The program uses only the generation active_gen names: filling the inactive slots by
	 * hand changes nothing until the flip, and the flip alone switches. */
	struct hw_perim_rule c[] = {rule("10.3.0.0/16", false)};
	assert_int_equal(hw_perim_swap(&f->maps, c, 1, 43), 0);
	expect(f, &(struct frame_opts){.src = "10.3.0.1", .dport = PORT}, HW_VERDICT_DROP_DENY);
	uint32_t zero = 0;
	struct hw_ruleset_ctl ctl = {.active_gen = g2, .version = 44};
	assert_int_equal(bpf_map_update_elem(f->maps.ruleset_ctl, &zero, &ctl, BPF_ANY), 0);
	expect(f, &(struct frame_opts){.src = "10.3.0.1", .dport = PORT}, HW_VERDICT_PASS);
	expect(f, &(struct frame_opts){.src = "10.2.0.1", .dport = PORT}, HW_VERDICT_DROP_DENY);
}

static void test_stats_bytes(void **state)
{
	FX();
	struct hw_verdict_stat s[HW_VERDICT_COUNT];
	uint8_t buf[FR_MAX];
	size_t len = frame_build(buf, &(struct frame_opts){.src = "10.1.1.1", .dport = PORT});
	stats(f, s);
	for (int v = 0; v < HW_VERDICT_COUNT; v++)
		assert_int_equal(s[v].packets, 0);
	for (int i = 0; i < 10; i++)
		expect_on(f, buf, len, HW_VERDICT_PASS, true);
	stats(f, s);
	assert_int_equal(s[HW_VERDICT_PASS].packets, 20);
	assert_int_equal(s[HW_VERDICT_PASS].bytes, 20 * len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_rules_passes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deny_v4_v6, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allow_beats_deny, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_longest_prefix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deny_scope, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vlan_qinq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv4_options_and_bad_ihl, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6_ext_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fragments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syn_rate_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syn_limit_exemptions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_atomic_swap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats_bytes, setup, teardown),
	};
	libbpf_set_print(silent);
	return cmocka_run_group_tests_name("perimeter_bpf", tests, NULL, NULL);
}
