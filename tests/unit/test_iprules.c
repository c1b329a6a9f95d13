// SPDX-License-Identifier: Apache-2.0
/* IP rules without a server: CIDR parsing and normalization, the sorted-prefix sets,
 * rule snapshots (allow beats deny, perimeter and workspace sets, expiry) and the client IP
 * behind trusted proxies. */
#include "iprules/cidr.h"
#include "iprules/client_ip.h"
#include "iprules/netset.h"
#include "iprules/ruleset.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void norm(const char *in, const char *want)
{
	struct hw_cidr c;
	char out[HW_CIDR_TEXT_MAX];
	if (hw_cidr_parse(in, &c) != 0)
		fail_msg("%s did not parse", in);
	hw_cidr_format(&c, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("%s normalized to %s, expected %s", in, out, want);
}

static void test_cidr_normalize(void **state)
{
	(void)state;
	norm("10.1.2.3/8", "10.0.0.0/8");
	norm("10.1.2.3", "10.1.2.3/32");
	norm("0.0.0.0/0", "0.0.0.0/0");
	norm("255.255.255.255/31", "255.255.255.254/31");
	norm("192.168.1.129/25", "192.168.1.128/25");
	norm("2001:DB8::1", "2001:db8::1/128");
	norm("2001:db8:abcd:1234::ff/33", "2001:db8:8000::/33");
	norm("::/0", "::/0");
	norm("2001:db8::/64", "2001:db8::/64");
	norm("fe80::1:2:3:4/127", "fe80::1:2:3:4/127");
	/* IPv4-mapped blocks inside ::ffff:0:0/96 are IPv4 */
	norm("::ffff:10.1.2.3", "10.1.2.3/32");
	norm("::ffff:10.1.2.3/104", "10.0.0.0/8");
	norm("::ffff:0:0/96", "0.0.0.0/0");
	norm("10.0.0.0/008", "10.0.0.0/8");
}

static void test_cidr_reject(void **state)
{
	static const char *const bad[] = {
	    "",
	    "/",
	    "/8",
	    "10.0.0.0/",
	    "10.0.0.0/33",
	    "10.0.0.0/-1",
	    "10.0.0.0/ 8",
	    " 10.0.0.1",
	    "10.0.0.1 ",
	    "10.0.0",
	    "10.0.0.256",
	    "010.0.0.1",
	    "10.0.0.0/8/8",
	    "10.0.0.0/1000",
	    "2001:db8::/129",
	    "fe80::1%eth0",
	    "[::1]",
	    "::1/+1",
	    "example.com",
	    "1.2.3.4:80",
	    "10.0.0.0/0x8",
	    "2001:db8:::1",
	};
	struct hw_cidr c;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hw_cidr_parse(bad[i], &c) == 0)
			fail_msg("%s parsed", bad[i]);
}

static struct hw_ipaddr ip(const char *s)
{
	struct hw_ipaddr a;
	assert_int_equal(hw_ip_parse(s, &a), 0);
	return a;
}

static void test_ip_parse_mapped(void **state)
{
	(void)state;
	struct hw_ipaddr a = ip("::ffff:192.0.2.1");
	char out[HW_IP_TEXT_MAX];
	assert_int_equal(a.family, 4);
	hw_ip_format(&a, out, sizeof(out));
	assert_string_equal(out, "192.0.2.1");
	a = ip("::192.0.2.1"); /* IPv4-compatible (deprecated) is not mapped: stays IPv6 */
	assert_int_equal(a.family, 6);
	assert_int_not_equal(hw_ip_parse("192.0.2.1/32", &a), 0);
}

static struct hw_netset *set_of(const char *const *cidrs, size_t n)
{
	struct hw_netset_builder b = {0};
	for (size_t i = 0; i < n; i++) {
		struct hw_cidr c;
		assert_int_equal(hw_cidr_parse(cidrs[i], &c), 0);
		assert_int_equal(hw_netset_builder_add(&b, &c), 0);
	}
	struct hw_netset *s = hw_netset_build(&b);
	assert_non_null(s);
	return s;
}

static void test_netset_matching(void **state)
{
	static const char *const cidrs[] = {
	    "10.0.0.0/8",    "10.1.0.0/16",   "192.0.2.7", "192.0.2.7/32",	     "0.0.0.0/1",
	    "2001:db8::/32", "2001:db8::/32", "fe80::1",   "::ffff:198.51.100.0/120"};
	struct hw_netset *s = set_of(cidrs, sizeof(cidrs) / sizeof(cidrs[0]));
	struct hw_ipaddr a;
	(void)state;
	/* duplicates collapse; the mapped block counts as IPv4 */
	assert_int_equal(hw_netset_count(s, 4), 5);
	assert_int_equal(hw_netset_count(s, 6), 2);
	assert_true(hw_netset_contains(s, (a = ip("10.200.1.1"), &a)));
	assert_true(hw_netset_contains(s, (a = ip("10.1.255.255"), &a)));
	assert_true(hw_netset_contains(s, (a = ip("192.0.2.7"), &a)));
	assert_false(hw_netset_contains(s, (a = ip("192.0.2.8"), &a)));
	assert_true(hw_netset_contains(s, (a = ip("127.0.0.1"), &a))); /* 0.0.0.0/1 */
	assert_false(hw_netset_contains(s, (a = ip("128.0.0.1"), &a)));
	assert_true(hw_netset_contains(s, (a = ip("198.51.100.77"), &a)));
	assert_true(hw_netset_contains(s, (a = ip("::ffff:198.51.100.77"), &a)));
	assert_true(hw_netset_contains(s, (a = ip("2001:db8:ffff::1"), &a)));
	assert_false(hw_netset_contains(s, (a = ip("2001:db9::1"), &a)));
	assert_true(hw_netset_contains(s, (a = ip("fe80::1"), &a)));
	assert_false(hw_netset_contains(s, (a = ip("fe80::2"), &a)));
	hw_netset_free(s);
	/* an IPv4 address never matches an IPv6 block with the same leading bits */
	static const char *const v6only[] = {"2001:db8::/32"};
	s = set_of(v6only, 1);
	assert_false(hw_netset_contains(s, (a = ip("32.1.13.184"), &a)));
	hw_netset_free(s);
	struct hw_netset_builder empty = {0};
	s = hw_netset_build(&empty);
	assert_non_null(s);
	assert_false(hw_netset_contains(s, (a = ip("1.2.3.4"), &a)));
	hw_netset_free(s);
}

/* Against a linear scan, on random blocks and addresses of both families. */
static void test_netset_random_vs_linear(void **state)
{
	enum { N = 2000, Q = 20000 };
	struct hw_cidr *c = calloc(N, sizeof(*c));
	struct hw_netset_builder b = {0};
	unsigned seed = 12345;
	(void)state;
	assert_non_null(c);
	for (int i = 0; i < N; i++) {
		c[i].family = (rand_r(&seed) & 1) ? 4 : 6;
		unsigned width = c[i].family == 4 ? 32 : 128;
		c[i].prefix = (uint8_t)(width - (unsigned)rand_r(&seed) % 25);
		/* few distinct top bytes so that queries hit */
		c[i].addr[0] = (uint8_t)(rand_r(&seed) % 4);
		for (int k = 1; k < (c[i].family == 4 ? 4 : 16); k++)
			c[i].addr[k] = (uint8_t)(k < 3 ? rand_r(&seed) % 4 : rand_r(&seed));
		char text[HW_CIDR_TEXT_MAX];
		hw_cidr_format(&c[i], text, sizeof(text)); /* host bits still set: normalize */
		assert_int_equal(hw_cidr_parse(text, &c[i]), 0);
		assert_int_equal(hw_netset_builder_add(&b, &c[i]), 0);
	}
	struct hw_netset *s = hw_netset_build(&b);
	assert_non_null(s);
	int hits = 0;
	for (int q = 0; q < Q; q++) {
		struct hw_ipaddr a = {0};
		const struct hw_cidr *base = &c[rand_r(&seed) % N];
		a.family = base->family;
		memcpy(a.addr, base->addr, 16);
		for (int k = 2; k < (a.family == 4 ? 4 : 16); k++)
			if (rand_r(&seed) & 1)
				a.addr[k] = (uint8_t)rand_r(&seed);
		bool want = false;
		for (int i = 0; i < N && !want; i++)
			want = hw_cidr_contains(&c[i], &a);
		hits += want;
		assert_int_equal(hw_netset_contains(s, &a), want);
	}
	assert_true(hits > Q / 10 && hits < Q); /* the test exercised both outcomes */
	hw_netset_free(s);
	free(c);
}

static struct hw_ip_rule rule(const char *ws, const char *cidr, const char *action, bool kernel,
			      int64_t expires_at)
{
	struct hw_ip_rule r;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "ipr_%s", cidr);
	snprintf(r.workspace_id, sizeof(r.workspace_id), "%s", ws ? ws : "");
	snprintf(r.cidr, sizeof(r.cidr), "%s", cidr);
	snprintf(r.action, sizeof(r.action), "%s", action);
	r.kernel = kernel;
	r.expires_at = expires_at;
	return r;
}

static enum hw_ip_verdict perim(const struct hw_ruleset *rs, const char *a)
{
	struct hw_ipaddr x = ip(a);
	return hw_ruleset_perimeter(rs, &x);
}

static enum hw_ip_verdict wsv(const struct hw_ruleset *rs, const char *ws, const char *a)
{
	struct hw_ipaddr x = ip(a);
	return hw_ruleset_workspace(rs, ws, &x);
}

static void test_ruleset_sets(void **state)
{
	(void)state;
	struct hw_ip_rule rules[] = {
	    rule(NULL, "10.0.0.0/8", "deny", true, 0),
	    rule(NULL, "10.1.2.3", "allow", false, 0), /* allow beats deny, any specificity */
	    rule(NULL, "172.16.0.0/12", "allow", true, 0),
	    rule(NULL, "172.16.5.5", "deny", true, 0),	     /* a longer deny does not win */
	    rule(NULL, "192.0.2.0/24", "deny", false, 0),    /* kernel:false still at step 3 */
	    rule("WSA", "198.51.100.0/24", "deny", true, 0), /* perimeter when in kernel */
	    rule("WSA", "203.0.113.0/24", "deny", false, 0), /* step 7 only */
	    rule("WSA", "203.0.113.9", "allow", true, 0),    /* workspace allow: step 7 only */
	    rule("WSA", "10.9.9.9", "allow", true, 0),	     /* never lifts a perimeter deny */
	    rule("WSB", "2001:db8::/32", "deny", false, 0),
	    rule(NULL, "100.64.0.0/10", "deny", true, 1000), /* expired at now = 1000 */
	    rule(NULL, "100.64.0.0/11", "deny", true, 5000),
	};
	struct hw_ban bans[] = {
	    {.id = "ban_1",
	     .cidr = "203.0.113.50/32",
	     .reason = "auth_failures",
	     .expires_at = 2000},
	    {.id = "ban_2", .cidr = "2001:db8:1::7/128", .reason = "manual"},
	    {.id = "ban_3", .cidr = "8.8.8.8/32", .reason = "manual", .expires_at = 999},
	    {.id = "ban_4", .cidr = "172.16.9.9/32", .reason = "manual"},
	};
	struct hw_ruleset_opts o = {.workspace_rules_in_kernel = true};
	struct hw_ruleset *rs = NULL;
	assert_int_equal(
	    hw_ruleset_build(rules, sizeof(rules) / sizeof(rules[0]), bans, 4, &o, 1000, &rs), 0);
	assert_int_equal(perim(rs, "10.5.5.5"), HW_IP_DENIED_RULE);
	assert_int_equal(perim(rs, "10.1.2.3"), HW_IP_ALLOWED);
	assert_int_equal(perim(rs, "172.16.5.5"), HW_IP_ALLOWED);
	assert_int_equal(perim(rs, "172.16.9.9"), HW_IP_ALLOWED); /* a global allow lifts a ban */
	assert_int_equal(perim(rs, "192.0.2.1"), HW_IP_DENIED_RULE);
	assert_int_equal(perim(rs, "198.51.100.1"), HW_IP_DENIED_RULE);
	assert_int_equal(perim(rs, "203.0.113.1"), HW_IP_ALLOWED);
	assert_int_equal(perim(rs, "203.0.113.50"), HW_IP_DENIED_BAN);
	assert_int_equal(perim(rs, "2001:db8:1::7"), HW_IP_DENIED_BAN);
	assert_int_equal(perim(rs, "8.8.8.8"), HW_IP_ALLOWED);	  /* expired ban */
	assert_int_equal(perim(rs, "100.96.0.1"), HW_IP_ALLOWED); /* expired rule */
	assert_int_equal(perim(rs, "100.64.0.1"), HW_IP_DENIED_RULE);
	assert_int_equal(perim(rs, "10.9.9.9"), HW_IP_DENIED_RULE);
	assert_int_equal(rs->next_expiry, 2000);
	/* workspace set: global rules plus the workspace's own */
	assert_int_equal(wsv(rs, "WSA", "203.0.113.1"), HW_IP_DENIED_RULE);
	assert_int_equal(wsv(rs, "WSA", "203.0.113.9"), HW_IP_ALLOWED);
	assert_int_equal(wsv(rs, "WSB", "203.0.113.1"), HW_IP_ALLOWED);
	assert_int_equal(wsv(rs, "WSB", "2001:db8::1"), HW_IP_DENIED_RULE);
	assert_int_equal(wsv(rs, "WSA", "2001:db8::1"), HW_IP_ALLOWED);
	assert_int_equal(wsv(rs, "WSC", "10.1.1.1"), HW_IP_DENIED_RULE); /* global deny */
	assert_int_equal(wsv(rs, "WSC", "10.1.2.3"), HW_IP_ALLOWED);
	/* counts for the kernel: global kernel rules, workspace kernel denies, bans */
	assert_int_equal(rs->kernel_allow[0], 1);
	assert_int_equal(rs->kernel_deny[0], 4);
	assert_int_equal(rs->bans_active, 3);
	assert_int_equal(rs->autobans_active, 1);
	hw_ruleset_free(rs);

	/* workspace_rules_in_kernel: false keeps workspace rules at step 7 */
	o.workspace_rules_in_kernel = false;
	assert_int_equal(
	    hw_ruleset_build(rules, sizeof(rules) / sizeof(rules[0]), bans, 4, &o, 3000, &rs), 0);
	assert_int_equal(perim(rs, "198.51.100.1"), HW_IP_ALLOWED);
	assert_int_equal(wsv(rs, "WSA", "198.51.100.1"), HW_IP_DENIED_RULE);
	assert_int_equal(perim(rs, "203.0.113.50"), HW_IP_ALLOWED); /* ban expired at 2000 */
	assert_int_equal(rs->next_expiry, 5000);
	hw_ruleset_free(rs);
	assert_int_equal(hw_ruleset_perimeter(NULL, &(struct hw_ipaddr){.family = 4}),
			 HW_IP_ALLOWED);
}

static void test_rule_in_kernel(void **state)
{
	(void)state;
	struct hw_ip_rule g = rule(NULL, "10.0.0.0/8", "allow", true, 0);
	struct hw_ip_rule wd = rule("W", "10.0.0.0/8", "deny", true, 0);
	struct hw_ip_rule wa = rule("W", "10.0.0.0/8", "allow", true, 0);
	struct hw_ip_rule nk = rule(NULL, "10.0.0.0/8", "deny", false, 0);
	assert_true(hw_ip_rule_in_kernel(&g, true, true));
	assert_false(hw_ip_rule_in_kernel(&g, false, true));
	assert_true(hw_ip_rule_in_kernel(&wd, true, true));
	assert_false(hw_ip_rule_in_kernel(&wd, true, false));
	assert_false(hw_ip_rule_in_kernel(&wa, true, true));
	assert_false(hw_ip_rule_in_kernel(&nk, true, true));
}

static void xff(const char *peer, const char *header, const char *want)
{
	static const char *const trusted[] = {"10.0.0.0/8", "2001:db8::/32"};
	struct hw_netset *t = set_of(trusted, 2);
	struct hw_ipaddr p = ip(peer), out;
	char text[HW_IP_TEXT_MAX];
	hw_client_ip_resolve(&p, header, t, &out);
	hw_ip_format(&out, text, sizeof(text));
	hw_netset_free(t);
	if (strcmp(text, want) != 0)
		fail_msg("peer %s, X-Forwarded-For %s: got %s, expected %s", peer,
			 header ? header : "(none)", text, want);
}

static void test_client_ip(void **state)
{
	(void)state;
	xff("10.0.0.1", NULL, "10.0.0.1");
	xff("10.0.0.1", "", "10.0.0.1");
	xff("10.0.0.1", "203.0.113.5", "203.0.113.5");
	xff("10.0.0.1", "198.51.100.1, 203.0.113.5", "203.0.113.5");
	xff("10.0.0.1", "198.51.100.1, 203.0.113.5, 10.2.3.4", "203.0.113.5");
	xff("10.0.0.1", " 203.0.113.5 ,10.2.3.4 ,\t10.9.9.9", "203.0.113.5");
	xff("10.0.0.1", "10.7.7.7, 10.2.3.4", "10.7.7.7"); /* all trusted: the leftmost */
	xff("10.0.0.1", "::ffff:203.0.113.5", "203.0.113.5");
	xff("10.0.0.1", "2001:db8::5, 2001:db9::1", "2001:db9::1");
	xff("::ffff:10.0.0.1", "203.0.113.5", "203.0.113.5"); /* a mapped peer is IPv4 too */
	xff("2001:db8::1", "203.0.113.5", "203.0.113.5");
	/* malformed: the peer stays */
	xff("10.0.0.1", "203.0.113.5,", "10.0.0.1");
	xff("10.0.0.1", ",203.0.113.5", "10.0.0.1");
	xff("10.0.0.1", "unknown", "10.0.0.1");
	xff("10.0.0.1", "203.0.113.5:443", "10.0.0.1");
	xff("10.0.0.1", "evil, 203.0.113.5", "10.0.0.1");
	xff("10.0.0.1", "203.0.113.5 10.2.3.4", "10.0.0.1");
	/* an untrusted peer's header is never read */
	xff("192.0.2.1", "203.0.113.5", "192.0.2.1");
	xff("192.0.2.1", "10.0.0.1", "192.0.2.1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cidr_normalize),	    cmocka_unit_test(test_cidr_reject),
	    cmocka_unit_test(test_ip_parse_mapped),	    cmocka_unit_test(test_netset_matching),
	    cmocka_unit_test(test_netset_random_vs_linear), cmocka_unit_test(test_ruleset_sets),
	    cmocka_unit_test(test_rule_in_kernel),	    cmocka_unit_test(test_client_ip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
